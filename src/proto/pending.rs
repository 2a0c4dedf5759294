//! The commands a client sent and the server has not answered yet, shared
//! by every protocol's line machine.
//!
//! A client may pipeline any number of commands (SMTP RFC 2920, IMAP tags,
//! POP3 RFC 2449 6.6), so the queue is bounded, with one overflow policy
//! for all protocols: the oldest command is dropped and handed back (a
//! dropped IMAP LOGIN still crossed the wire as a credential), and a
//! [`PIPELINE_OVERFLOW`] dialog anomaly is recorded, since answers may be
//! matched loosely from then on.

use super::facts::{DialogAnomalyKind, DialogFacts, Evidence};
use std::collections::{VecDeque, vec_deque};

/// Commands kept awaiting their answer. Real clients pipeline a few dozen
/// at most; past this the oldest are dropped.
pub(crate) const MAX_PENDING_COMMANDS: usize = 256;

/// The dialog anomaly recorded when a command is dropped for room.
pub(crate) const PIPELINE_OVERFLOW: DialogAnomalyKind = DialogAnomalyKind::PipelineOverflow;

/// Commands awaiting their answer, oldest first, at most
/// [`MAX_PENDING_COMMANDS`] of them.
#[derive(Debug)]
pub(crate) struct PendingCommands<T> {
    commands: VecDeque<T>,
    limit: usize,
}

impl<T> Default for PendingCommands<T> {
    fn default() -> Self {
        PendingCommands {
            commands: VecDeque::new(),
            limit: MAX_PENDING_COMMANDS,
        }
    }
}

impl<T> PendingCommands<T> {
    /// Queues `command`, sent on the client line `line`. When the queue is
    /// full, the oldest command is dropped, an overflow anomaly pointing at
    /// `line` is recorded, and the dropped command is returned for the
    /// caller to settle.
    pub(crate) fn push(
        &mut self,
        command: T,
        line: &Evidence,
        facts: &mut DialogFacts,
    ) -> Option<T> {
        let dropped = if self.commands.len() >= self.limit {
            facts.anomaly(PIPELINE_OVERFLOW, line.clone());
            self.commands.pop_front()
        } else {
            None
        };
        self.commands.push_back(command);
        dropped
    }

    /// The oldest command, answered.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        self.commands.pop_front()
    }

    /// The oldest command.
    pub(crate) fn front(&self) -> Option<&T> {
        self.commands.front()
    }

    /// The command at `at` (0 is the oldest), answered out of order.
    pub(crate) fn remove(&mut self, at: usize) -> Option<T> {
        self.commands.remove(at)
    }

    /// Drops the `n` oldest commands (their answers were lost).
    pub(crate) fn drop_oldest(&mut self, n: usize) {
        self.commands.drain(..n.min(self.commands.len()));
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> vec_deque::Iter<'_, T> {
        self.commands.iter()
    }

    /// Oldest first.
    pub(crate) fn iter_mut(&mut self) -> vec_deque::IterMut<'_, T> {
        self.commands.iter_mut()
    }

    /// Empties the queue (the session ended), oldest first.
    pub(crate) fn take_all(&mut self) -> vec_deque::IntoIter<T> {
        std::mem::take(&mut self.commands).into_iter()
    }

    /// Commands awaiting an answer.
    pub(crate) fn len(&self) -> usize {
        self.commands.len()
    }

    /// True when every command was answered (or none sent).
    pub(crate) fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Side;
    use crate::proto::test_support::packet;

    fn line(text: &str) -> Evidence {
        Evidence::new(Side::Client, packet(1), text.as_bytes())
    }

    /// Pushes each command into a queue of `limit`; returns what was
    /// dropped, what stayed, and the evidence of each overflow anomaly.
    fn run(
        limit: usize,
        commands: &[&'static str],
    ) -> (Vec<&'static str>, Vec<&'static str>, Vec<String>) {
        let mut queue = PendingCommands {
            commands: VecDeque::new(),
            limit,
        };
        let mut facts = DialogFacts::default();
        let dropped = commands
            .iter()
            .filter_map(|c| queue.push(*c, &line(c), &mut facts))
            .collect();
        let kept = queue.take_all().collect();
        let anomalies = facts
            .anomalies
            .iter()
            .map(|a| format!("{} {}", a.kind, String::from_utf8_lossy(&a.evidence.bytes)))
            .collect();
        (dropped, kept, anomalies)
    }

    #[test]
    fn overflow_drops_the_oldest_and_always_notes_it() {
        // Limit, commands pushed, dropped, kept, anomalies.
        type Row = (
            usize,
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
        );
        let table: &[Row] = &[
            (2, &[], &[], &[], &[]),
            (2, &["a", "b"], &[], &["a", "b"], &[]),
            (
                2,
                &["a", "b", "c"],
                &["a"],
                &["b", "c"],
                &["pipeline-overflow c"],
            ),
            (
                2,
                &["a", "b", "c", "d"],
                &["a", "b"],
                &["c", "d"],
                &["pipeline-overflow c", "pipeline-overflow d"],
            ),
            (1, &["a", "b"], &["a"], &["b"], &["pipeline-overflow b"]),
            (0, &["a"], &[], &["a"], &["pipeline-overflow a"]),
        ];
        for &(limit, pushed, dropped, kept, anomalies) in table {
            let (d, k, a) = run(limit, pushed);
            assert_eq!(
                (d.as_slice(), k.as_slice()),
                (dropped, kept),
                "{pushed:?} into {limit}"
            );
            assert_eq!(a, anomalies, "{pushed:?} into {limit}");
        }
    }

    #[test]
    fn answers_out_of_order_and_lost() {
        let mut queue = PendingCommands::default();
        let mut facts = DialogFacts::default();
        for c in ["a", "b", "c", "d"] {
            assert_eq!(queue.push(c, &line(c), &mut facts), None);
        }
        assert_eq!(queue.remove(2), Some("c"));
        assert_eq!(queue.front(), Some(&"a"));
        queue.drop_oldest(1);
        assert_eq!(queue.iter().copied().collect::<Vec<_>>(), ["b", "d"]);
        queue.drop_oldest(5);
        assert!(queue.is_empty());
        assert_eq!(queue.pop_front(), None);
        assert!(facts.anomalies.is_empty());
    }

    #[test]
    fn the_default_bound_is_the_shared_one() {
        let mut queue = PendingCommands::default();
        let mut facts = DialogFacts::default();
        let dropped: Vec<usize> = (0..=MAX_PENDING_COMMANDS)
            .filter_map(|i| queue.push(i, &line("NOOP"), &mut facts))
            .collect();
        assert_eq!(dropped, [0]);
        assert_eq!(queue.len(), MAX_PENDING_COMMANDS);
        assert_eq!(facts.anomalies.len(), 1);
    }
}
