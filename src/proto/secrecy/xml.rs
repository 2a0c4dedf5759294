//! XMPP's secret elements, by their framing alone.
//!
//! A client's SASL `<auth>` and `<response>` elements (RFC 6120 6.4.2,
//! 6.4.3), and the `<password>` and `<digest>` of the legacy
//! `jabber:iq:auth` (XEP-0078), are secret from the end of their name to
//! the `<` of their closing tag: attributes, content, child elements,
//! CDATA. The scan knows tags, quotes and names (with or without a
//! prefix), nothing of XML's meaning, so a password is masked whether or
//! not the XMPP machine understood the exchange. Bytes after a gap are
//! secret up to the next `<` (the rest of a base64 text has none).

use super::SecretSpans;
use crate::flow::Side;

/// Longest element name remembered (`stream:features` and every name the
/// guard knows are far shorter; a longer one is none of them).
const MAX_NAME: usize = 64;

/// Elements whose attributes and content are secret (local names).
const SECRET_ELEMENTS: [&[u8]; 4] = [b"auth", b"response", b"password", b"digest"];

/// Where the scan stands.
#[derive(Debug, Default)]
enum State {
    /// Text between tags; `secret` is the open secret element's name.
    #[default]
    Text,
    /// After `<`, reading a tag's name (from stream offset `start`).
    Name { name: Vec<u8>, start: u64 },
    /// After a name, up to the tag's `>` (quotes honoured). `opens` is the
    /// secret element this start tag opens; `slash` a `/` just before.
    Attrs {
        quote: Option<u8>,
        opens: Option<Vec<u8>>,
        slash: bool,
    },
    /// The bytes since a gap: secret up to the next `<`.
    Lost,
}

/// The client's scan (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct XmlSecrets {
    state: State,
    /// The secret element whose content this is, until its closing tag.
    inside: Option<Vec<u8>>,
}

/// What a byte is, for the spans.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Byte {
    Secret,
    Clear,
    /// A tag name's byte, judged once the name is whole.
    Pending,
}

impl XmlSecrets {
    /// `bytes` of the client at stream `offset`, in order: their secret
    /// ranges go to `spans`.
    pub(crate) fn feed(&mut self, bytes: &[u8], offset: u64, spans: &mut SecretSpans) {
        let mut run: Option<u64> = None;
        for (i, &b) in bytes.iter().enumerate() {
            let at = offset + i as u64;
            let verdict = self.byte(b, at, spans);
            match (verdict, run) {
                (Byte::Secret, None) => run = Some(at),
                (Byte::Clear | Byte::Pending, Some(start)) => {
                    spans.add(Side::Client, start, at);
                    run = None;
                }
                _ => {}
            }
        }
        if let Some(start) = run {
            spans.add(Side::Client, start, offset + bytes.len() as u64);
        }
    }

    /// The client's stream lost bytes: where the scan stood is unknown.
    pub(crate) fn gap(&mut self) {
        self.state = State::Lost;
        self.inside = None;
    }

    /// The session ended: a name still pending inside a secret element
    /// (its closing tag unproven) is secret to the end.
    pub(crate) fn finish(&mut self, spans: &mut SecretSpans) {
        if let (State::Name { start, .. }, Some(_)) = (&self.state, &self.inside) {
            spans.add(Side::Client, *start, u64::MAX);
        }
    }

    fn byte(&mut self, b: u8, at: u64, spans: &mut SecretSpans) -> Byte {
        let secret_text = if self.inside.is_some() {
            Byte::Secret
        } else {
            Byte::Clear
        };
        match &mut self.state {
            State::Text | State::Lost if b == b'<' => {
                self.state = State::Name {
                    name: Vec::new(),
                    start: at,
                };
                if self.inside.is_some() {
                    Byte::Pending
                } else {
                    Byte::Clear
                }
            }
            State::Lost => Byte::Secret,
            State::Text => secret_text,
            State::Name { name, start } => {
                let ends = b.is_ascii_whitespace() || b == b'>' || (b == b'/' && !name.is_empty());
                if !ends && b != b'<' {
                    if name.len() < MAX_NAME {
                        name.push(b);
                    }
                    return if self.inside.is_some() {
                        Byte::Pending
                    } else {
                        Byte::Clear
                    };
                }
                let (name, start) = (std::mem::take(name), *start);
                self.name_ends(&name, start, at, spans);
                self.byte(b, at, spans)
            }
            State::Attrs { .. } if b == b'<' => {
                // No `<` in a tag (XML forbids it in values): a new tag.
                self.state = State::Text;
                self.byte(b, at, spans)
            }
            State::Attrs {
                quote,
                opens,
                slash,
            } => {
                let secret = opens.is_some() || self.inside.is_some();
                match (*quote, b) {
                    (Some(q), _) if q == b => *quote = None,
                    (Some(_), _) => {}
                    (None, b'\'' | b'"') => *quote = Some(b),
                    (None, b'>') => {
                        if !*slash {
                            if let Some(name) = opens.take() {
                                self.inside = Some(name);
                            }
                        }
                        self.state = State::Text;
                    }
                    (None, _) => {}
                }
                if let State::Attrs { slash, .. } = &mut self.state {
                    *slash = b == b'/';
                }
                if secret { Byte::Secret } else { Byte::Clear }
            }
        }
    }

    /// A tag's name ended at `at` (it began at `start`): a closing tag of
    /// the open secret element ends it, a start tag of a secret element
    /// opens one, any other tag inside one is secret whole.
    fn name_ends(&mut self, name: &[u8], start: u64, at: u64, spans: &mut SecretSpans) {
        let (end_tag, name) = match name.strip_prefix(b"/") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let local = local_name(name);
        let closes = end_tag && self.inside.as_deref() == Some(local);
        if closes {
            self.inside = None;
        } else if self.inside.is_some() {
            spans.add(Side::Client, start, at);
        }
        let opens = (!end_tag && self.inside.is_none() && SECRET_ELEMENTS.contains(&local))
            .then(|| local.to_vec());
        self.state = State::Attrs {
            quote: None,
            opens,
            slash: false,
        };
    }
}

/// An element name without its namespace prefix (`sasl:auth` is `auth`).
pub(crate) fn local_name(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b':').next().unwrap_or(name)
}
