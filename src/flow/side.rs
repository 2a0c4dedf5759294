//! The two sides of a session, and one value per side.

use serde::{Serialize, Serializer};
use std::ops::{Index, IndexMut};

/// The two sides of a session, named by who sends the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The side that opened the connection.
    Client,
    /// The side that accepted it.
    Server,
}

impl Side {
    /// Both sides, client first.
    pub(crate) const BOTH: [Side; 2] = [Side::Client, Side::Server];

    /// 0 for the client, 1 for the server.
    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    /// The peer.
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// `client` or `server`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// One value per side, indexed by [`Side`] (`counts[side]`). Serialized as
/// `[client, server]`, as the arrays it replaces were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PerSide<T> {
    /// The client's value.
    pub client: T,
    /// The server's value.
    pub server: T,
}

impl<T> PerSide<T> {
    /// The client's and the server's values.
    pub(crate) const fn new(client: T, server: T) -> Self {
        PerSide { client, server }
    }

    /// The same value for both sides.
    pub(crate) fn both(value: T) -> Self
    where
        T: Clone,
    {
        PerSide {
            client: value.clone(),
            server: value,
        }
    }

    /// Each side's value through `f`.
    #[cfg(test)]
    pub(crate) fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerSide<U> {
        PerSide {
            client: f(self.client),
            server: f(self.server),
        }
    }

    /// `(side, value)`, client first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Side, &T)> {
        [(Side::Client, &self.client), (Side::Server, &self.server)].into_iter()
    }

    /// Mutable access to each side's value, client first.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (Side, &mut T)> {
        [
            (Side::Client, &mut self.client),
            (Side::Server, &mut self.server),
        ]
        .into_iter()
    }

    /// Both values, `side`'s first and mutable, the other's shared.
    pub(crate) fn split_mut(&mut self, side: Side) -> (&mut T, &T) {
        match side {
            Side::Client => (&mut self.client, &self.server),
            Side::Server => (&mut self.server, &self.client),
        }
    }

    /// `[client, server]`.
    pub(crate) fn into_array(self) -> [T; 2] {
        [self.client, self.server]
    }
}

impl<T> From<[T; 2]> for PerSide<T> {
    fn from([client, server]: [T; 2]) -> Self {
        PerSide { client, server }
    }
}

impl<T> Index<Side> for PerSide<T> {
    type Output = T;
    fn index(&self, side: Side) -> &T {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}

impl<T> IndexMut<Side> for PerSide<T> {
    fn index_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }
}

impl<T: Serialize> Serialize for PerSide<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        [&self.client, &self.server].serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_by_side_and_serializes_as_a_pair() {
        let mut counts = PerSide::new(1u64, 2);
        counts[Side::Server] += 5;
        assert_eq!((counts[Side::Client], counts[Side::Server]), (1, 7));
        assert_eq!(serde_json::to_string(&counts).unwrap(), "[1,7]");
        let (mine, theirs) = counts.split_mut(Side::Client);
        *mine += *theirs;
        assert_eq!(counts.into_array(), [8, 7]);
        assert_eq!(
            PerSide::from([true, false]).map(u8::from),
            PerSide::new(1, 0)
        );
    }
}
