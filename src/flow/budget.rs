//! One memory budget for the bytes all flows of a table hold back for
//! reassembly.
//!
//! Each flow may hold out-of-order pieces in both directions and events
//! waiting for the peer's bytes (see `ordering`); every one of those limits
//! is per flow, so a few hundred flows with holes could take gigabytes.
//! The table keeps a running total of what every flow holds (each flow's
//! change is applied after each of its packets: O(1) per segment) and the
//! flows holding anything in order of when they began to hold. Over the
//! budget, the flow that has held bytes longest gives them up first (its
//! holes become gaps), then the next, until the total fits.
//!
//! The set of holders is exact (a flow leaves it when its hold empties),
//! so it never outgrows the flows that hold bytes; the O(log n) insert and
//! remove happen only when a flow starts or stops holding.

use std::collections::BTreeSet;

/// What one flow holds, as the budget counts it (kept in the flow).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Hold {
    /// Bytes held, bookkeeping included.
    bytes: usize,
    /// When the flow began to hold them (the table's segment count).
    since: u64,
}

/// The table's budget for held bytes.
pub(super) struct HeldBudget {
    limit: usize,
    total: usize,
    /// Flows holding bytes: (since, slot), oldest first.
    holders: BTreeSet<(u64, u32)>,
}

impl HeldBudget {
    pub fn new(limit: usize) -> Self {
        HeldBudget {
            limit,
            total: 0,
            holders: BTreeSet::new(),
        }
    }

    /// The flow in `slot` now holds `bytes`; `now` orders flows that begin
    /// to hold (a clock that never goes back).
    pub fn update(&mut self, slot: u32, hold: &mut Hold, bytes: usize, now: u64) {
        match (hold.bytes, bytes) {
            (0, 0) => return,
            (0, _) => {
                hold.since = now;
                self.holders.insert((now, slot));
            }
            (_, 0) => {
                self.holders.remove(&(hold.since, slot));
            }
            _ => {}
        }
        self.total = self.total.saturating_sub(hold.bytes).saturating_add(bytes);
        hold.bytes = bytes;
    }

    /// More is held than the budget allows.
    pub fn over(&self) -> bool {
        self.total > self.limit
    }

    /// The flow that has held bytes longest.
    pub fn oldest(&self) -> Option<u32> {
        self.holders.first().map(|&(_, slot)| slot)
    }

    /// Bytes held by all flows.
    pub fn total(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (slot, bytes) updates in order, at clock 1, 2, 3...; then the slots
    /// in the order the budget gives them up (each released when taken).
    fn give_up_order(limit: usize, updates: &[(u32, usize)]) -> (Vec<u32>, usize) {
        let mut holds = [Hold::default(); 8];
        let mut budget = HeldBudget::new(limit);
        for (now, &(slot, bytes)) in updates.iter().enumerate() {
            let hold = &mut holds[slot as usize];
            budget.update(slot, hold, bytes, now as u64 + 1);
        }
        let mut order = Vec::new();
        while budget.over() {
            let slot = budget.oldest().unwrap();
            order.push(slot);
            budget.update(slot, &mut holds[slot as usize], 0, 0);
        }
        (order, budget.total())
    }

    #[test]
    fn the_flow_holding_longest_gives_up_first() {
        let cases: &[(usize, &[(u32, usize)], &[u32], usize)] = &[
            // (limit, updates, given up in order, total left)
            (100, &[(1, 60), (2, 30)], &[], 90),
            (100, &[(1, 60), (2, 30), (3, 20)], &[1], 50),
            // Growing does not make a flow younger; it was first to hold.
            (100, &[(1, 10), (2, 60), (1, 50)], &[1], 60),
            // A flow whose hold emptied and began again is young again.
            (100, &[(1, 10), (2, 60), (1, 0), (1, 50)], &[2], 50),
            // Until the total fits, the next oldest follows.
            (10, &[(3, 20), (1, 20), (2, 5)], &[3, 1], 5),
            (0, &[(4, 1), (5, 1)], &[4, 5], 0),
            (0, &[(4, 1), (4, 0)], &[], 0),
        ];
        for &(limit, updates, want, left) in cases {
            assert_eq!(
                give_up_order(limit, updates),
                (want.to_vec(), left),
                "{updates:?} under {limit}"
            );
        }
    }

    #[test]
    fn total_is_the_sum_of_the_holds() {
        let mut holds = [Hold::default(); 3];
        let mut budget = HeldBudget::new(usize::MAX);
        let steps = [(0, 100), (1, 50), (0, 70), (2, 5), (1, 0), (0, 0)];
        for (now, (slot, bytes)) in steps.into_iter().enumerate() {
            budget.update(slot, &mut holds[slot as usize], bytes, now as u64);
            let sum: usize = holds.iter().map(|h| h.bytes).sum();
            assert_eq!(budget.total(), sum, "after step {now}");
        }
        assert_eq!(budget.oldest(), Some(2));
        assert_eq!(budget.holders.len(), 1);
    }
}
