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
    pub(crate) fn new(limit: usize) -> Self {
        HeldBudget {
            limit,
            total: 0,
            holders: BTreeSet::new(),
        }
    }

    /// The flow in `slot` now holds `bytes`; `now` orders flows that begin
    /// to hold (a clock that never goes back).
    pub(crate) fn update(&mut self, slot: u32, hold: &mut Hold, bytes: usize, now: u64) {
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
    pub(crate) fn over(&self) -> bool {
        self.total > self.limit
    }

    /// The flow that has held bytes longest.
    pub(crate) fn oldest(&self) -> Option<u32> {
        self.holders.first().map(|&(_, slot)| slot)
    }

    /// Bytes held by all flows.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
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
        type Updates = [(u32, usize)];
        let cases: &[(usize, &Updates, &[u32], usize)] = &[
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

/// The budget in a real flow table: which flow gives up, what it tells its
/// session, and what stays held.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod table_tests {
    use crate::capture::linktype;
    use crate::decode;
    use crate::flow::{
        FlowConfig, FlowTable, PacketRef, SessionHandler, SessionInfo, Side, StreamEvent,
        StreamSink,
    };
    use crate::time::Timestamp;
    use etherparse::PacketBuilder;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Gaps each session was told of: (session id, gap reason).
    type Log = Rc<RefCell<Vec<(u64, String)>>>;

    struct Recorder(Log);
    struct Sink(u64, Log);

    impl StreamSink for Sink {
        fn on_event(&mut self, _side: Side, event: StreamEvent<'_>) {
            if let StreamEvent::Gap { reason, .. } = event {
                let reason = serde_json::to_string(&reason).unwrap();
                self.1
                    .borrow_mut()
                    .push((self.0, reason.trim_matches('"').into()));
            }
        }
    }

    impl SessionHandler for Recorder {
        type Sink = Sink;
        fn open(&mut self, info: &SessionInfo) -> Sink {
            Sink(info.id, self.0.clone())
        }
        fn close(&mut self, _info: SessionInfo, _sink: Sink) {}
    }

    const PIECE: usize = 1000;
    const ISN: u32 = 5000;

    /// Client `flow` (port 40000 + flow) to port 25: a SYN, or `PIECE`
    /// bytes at stream offset `off`.
    fn send(table: &mut FlowTable<Recorder>, frame: &mut u64, flow: u16, off: Option<u32>) {
        let seq = off.map_or(ISN, |off| ISN + 1 + off);
        let tcp = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000 + flow, 25, seq, 65535);
        let (tcp, payload) = match off {
            None => (tcp.syn(), Vec::new()),
            Some(_) => (tcp, vec![b'x'; PIECE]),
        };
        let mut bytes = Vec::new();
        tcp.write(&mut bytes, &payload).unwrap();
        let seg = decode::decode(linktype::ETHERNET, &bytes).unwrap();
        *frame += 1;
        let packet = PacketRef {
            input: 0,
            frame: *frame,
            ts: Timestamp::new(1, 0),
        };
        table.process(&seg, packet, bytes.len() as u32);
    }

    #[test]
    fn oldest_holder_gives_up_first_and_only_it() {
        let log = Log::default();
        // Room for two pieces with their bookkeeping, not three.
        let config = FlowConfig {
            max_buffered_bytes: 2 * PIECE + 500,
            ..FlowConfig::default()
        };
        let mut table = FlowTable::new(config, Recorder(log.clone()));
        let frame = &mut 0;
        for flow in 1..=4 {
            send(&mut table, frame, flow, None);
        }
        // Flows 1 and 2 hold a piece behind a one-byte hole; flow 3 gets a
        // hole too: flow 1, holding longest, gives up.
        send(&mut table, frame, 1, Some(1));
        send(&mut table, frame, 2, Some(1));
        assert_eq!(log.borrow().len(), 0);
        let two = table.buffered_bytes();
        assert!(two > 2 * PIECE, "bookkeeping counted: {two}");
        send(&mut table, frame, 3, Some(1));
        assert_eq!(*log.borrow(), [(1, "memory-budget".to_string())]);
        assert_eq!(table.buffered_bytes(), two);
        assert_eq!(table.stats.memory_budget_gaps, 1);
        // Flow 1 goes on in order and holds nothing; flow 2 fills its hole
        // (holds nothing), then opens a new one: it is now younger than
        // flow 3, which gives up when flow 4 opens a hole.
        send(&mut table, frame, 1, Some(1 + PIECE as u32));
        send(&mut table, frame, 2, Some(0));
        send(&mut table, frame, 2, Some(2 + 2 * PIECE as u32));
        send(&mut table, frame, 4, Some(1));
        assert_eq!(
            *log.borrow(),
            [(1, "memory-budget".into()), (3, "memory-budget".into())]
        );
        assert_eq!(table.stats.memory_budget_gaps, 2);
        // At the end the holes left are the flow's own business.
        table.finish();
        assert_eq!(table.buffered_bytes(), 0);
        let reasons: Vec<_> = log.borrow().iter().skip(2).cloned().collect();
        assert_eq!(reasons, [(2, "flow-end".into()), (4, "flow-end".into())]);
    }
}
