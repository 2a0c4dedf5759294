//! When held flows are due: open flows at their idle timeout, ended ones
//! at the end of their linger time.
//!
//! Two lazy min-heaps, one per limit. Within a heap a deadline is the last
//! activity plus the same limit, so each heap is also in order of last
//! activity, and the least recently active flow of the table is the older
//! of the two tops. Entries are lazy: the table checks each popped entry
//! against its slot (generation, state, activity since) and skips or
//! reschedules stale ones.

use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A scheduled check of one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Due {
    pub deadline: Timestamp,
    /// Ties go by session id, not slot, so the order does not depend on
    /// how slots were allocated.
    pub id: u64,
    pub slot: u32,
    pub generation: u32,
}

/// Which limit an entry counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Limit {
    /// An open flow: its idle timeout.
    Idle,
    /// An ended flow absorbing stray packets: its linger time.
    Linger,
}

#[derive(Default)]
pub(super) struct Deadlines {
    idle: BinaryHeap<Reverse<Due>>,
    linger: BinaryHeap<Reverse<Due>>,
}

impl Deadlines {
    pub(crate) fn push(&mut self, limit: Limit, due: Due) {
        match limit {
            Limit::Idle => self.idle.push(Reverse(due)),
            Limit::Linger => self.linger.push(Reverse(due)),
        }
    }

    /// The next entry due by `now` (whole seconds: the clock ticks once a
    /// second of capture time), idle ones first.
    pub(crate) fn pop_due(&mut self, now: Timestamp) -> Option<(Limit, Due)> {
        for (limit, heap) in [
            (Limit::Idle, &mut self.idle),
            (Limit::Linger, &mut self.linger),
        ] {
            if let Some(Reverse(due)) = heap.peek().copied() {
                if due.deadline.secs <= now.secs {
                    heap.pop();
                    return Some((limit, due));
                }
            }
        }
        None
    }

    /// The entry of the least recently active flow (given each heap's
    /// limit in seconds); an ended flow goes first on a tie.
    pub(crate) fn pop_oldest(&mut self, idle_secs: i64, linger_secs: i64) -> Option<(Limit, Due)> {
        let activity = |heap: &BinaryHeap<Reverse<Due>>, secs: i64| {
            heap.peek().map(|Reverse(d)| {
                Timestamp::new(d.deadline.secs.saturating_sub(secs), d.deadline.nanos)
            })
        };
        let limit = match (
            activity(&self.idle, idle_secs),
            activity(&self.linger, linger_secs),
        ) {
            (Some(idle), Some(linger)) if idle < linger => Limit::Idle,
            (_, Some(_)) => Limit::Linger,
            (Some(_), None) => Limit::Idle,
            (None, None) => return None,
        };
        let heap = match limit {
            Limit::Idle => &mut self.idle,
            Limit::Linger => &mut self.linger,
        };
        heap.pop().map(|Reverse(due)| (limit, due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(secs: i64, id: u64) -> Due {
        Due {
            deadline: Timestamp::new(secs, 0),
            id,
            slot: id as u32,
            generation: 0,
        }
    }

    #[test]
    fn pop_due_takes_what_is_due_by_whole_seconds() {
        let mut d = Deadlines::default();
        d.push(Limit::Idle, due(600, 1));
        d.push(Limit::Linger, due(30, 2));
        d.push(Limit::Linger, due(31, 3));
        assert_eq!(d.pop_due(Timestamp::new(29, 999_999_999)), None);
        assert_eq!(
            d.pop_due(Timestamp::new(30, 0)),
            Some((Limit::Linger, due(30, 2)))
        );
        assert_eq!(d.pop_due(Timestamp::new(30, 0)), None);
        assert_eq!(
            d.pop_due(Timestamp::new(600, 0)),
            Some((Limit::Idle, due(600, 1)))
        );
        assert_eq!(
            d.pop_due(Timestamp::new(600, 0)),
            Some((Limit::Linger, due(31, 3)))
        );
        assert_eq!(d.pop_due(Timestamp::new(10_000, 0)), None);
    }

    /// Eviction goes by last activity, whatever the limit: an open flow
    /// idle since 10 s goes before a flow that ended at 20 s, which goes
    /// before an open flow active at 25 s.
    #[test]
    fn pop_oldest_compares_last_activity_across_limits() {
        type Pushed = [(Limit, i64, u64)];
        let cases: &[(&Pushed, &[u64])] = &[
            // (limit, deadline, id) pushed; ids in eviction order.
            (
                &[
                    (Limit::Idle, 610, 1),
                    (Limit::Linger, 50, 2),
                    (Limit::Idle, 625, 3),
                ],
                &[1, 2, 3],
            ),
            (&[(Limit::Linger, 40, 1), (Limit::Idle, 630, 2)], &[1, 2]),
            // Same activity: the ended flow first.
            (&[(Limit::Idle, 620, 1), (Limit::Linger, 50, 2)], &[2, 1]),
            (&[(Limit::Idle, 620, 2), (Limit::Idle, 620, 1)], &[1, 2]),
            (&[], &[]),
        ];
        for (pushed, want) in cases {
            let mut d = Deadlines::default();
            for (limit, secs, id) in *pushed {
                d.push(*limit, due(*secs, *id));
            }
            let got: Vec<u64> = std::iter::from_fn(|| d.pop_oldest(600, 30))
                .map(|(_, due)| due.id)
                .collect();
            assert_eq!(got, *want, "{pushed:?}");
        }
    }
}
