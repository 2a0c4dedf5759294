//! Cross-direction ordering: each side's bytes are handed on only after the
//! peer's bytes they acknowledge.
//!
//! A capture can hold a reply before the command it answers: a tap merges
//! two directions whose packets may be timestamped out of causal order, and
//! reordering upstream moves a segment behind later ones. A protocol parser
//! fed in capture order would then match replies to the wrong commands. TCP
//! says the true order: a segment whose ACK covers peer offset `n` was sent
//! after the peer's bytes before `n` arrived. So an event whose `needs`
//! exceeds what was handed on of the peer waits, for at most
//! [`ORDERING_PATIENCE`] packets of the flow (the peer's bytes may be lost,
//! or be a FIN the capture missed) and [`MAX_DEFERRED_BYTES`].

use super::reassembly::{Conflict, GapReason, StreamEvent};
use super::{PacketRef, PerSide, Side};
use std::collections::VecDeque;

/// Packets of the flow an event may wait for the peer bytes it acknowledges.
pub(crate) const ORDERING_PATIENCE: u32 = 8;

/// Bytes that may wait per flow; past it everything waiting is handed on.
pub(crate) const MAX_DEFERRED_BYTES: usize = 1 << 20;

/// An event kept until its turn.
enum Deferred {
    Data {
        offset: u64,
        bytes: Vec<u8>,
        packet: PacketRef,
        ack: Option<u32>,
        needs: Option<u64>,
        since: u32,
    },
    Gap {
        offset: u64,
        len: u64,
        reason: GapReason,
    },
    Conflict(Box<Conflict>),
    Fin {
        offset: u64,
        packet: PacketRef,
    },
}

impl Deferred {
    fn own(event: &StreamEvent<'_>, needs: Option<u64>, now: u32) -> Self {
        match *event {
            StreamEvent::Data {
                offset,
                bytes,
                packet,
                ack,
            } => Deferred::Data {
                offset,
                bytes: bytes.to_vec(),
                packet,
                ack,
                needs,
                since: now,
            },
            StreamEvent::Gap {
                offset,
                len,
                reason,
            } => Deferred::Gap {
                offset,
                len,
                reason,
            },
            StreamEvent::Conflict(c) => Deferred::Conflict(Box::new(c.clone())),
            StreamEvent::Fin { offset, packet } => Deferred::Fin { offset, packet },
        }
    }

    fn event(&self) -> StreamEvent<'_> {
        match self {
            Deferred::Data {
                offset,
                bytes,
                packet,
                ack,
                ..
            } => StreamEvent::Data {
                offset: *offset,
                bytes,
                packet: *packet,
                ack: *ack,
            },
            Deferred::Gap {
                offset,
                len,
                reason,
            } => StreamEvent::Gap {
                offset: *offset,
                len: *len,
                reason: *reason,
            },
            Deferred::Conflict(c) => StreamEvent::Conflict(c),
            Deferred::Fin { offset, packet } => StreamEvent::Fin {
                offset: *offset,
                packet: *packet,
            },
        }
    }

    fn packet(&self) -> Option<PacketRef> {
        match self {
            Deferred::Data { packet, .. } | Deferred::Fin { packet, .. } => Some(*packet),
            Deferred::Gap { .. } | Deferred::Conflict(_) => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Deferred::Data { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }

    /// Memory the event takes while it waits, as the flow table's budget
    /// counts it: its queue slot, its heap parts and their allocation
    /// headers.
    fn cost(&self) -> usize {
        const HEADER: usize = 16;
        let heap = match self {
            Deferred::Data { bytes, .. } => bytes.len() + HEADER,
            Deferred::Conflict(c) => {
                std::mem::size_of::<Conflict>()
                    + c.kept_bytes.len()
                    + c.ignored_bytes.len()
                    + 3 * HEADER
            }
            Deferred::Gap { .. } | Deferred::Fin { .. } => 0,
        };
        std::mem::size_of::<Deferred>() + heap
    }
}

/// Per-flow ordering state. Small until something has to wait.
#[derive(Default)]
pub(crate) struct CrossOrder {
    /// Stream offset handed on per side.
    handed: PerSide<u64>,
    /// The side's FIN was handed on: nothing it acknowledges can be missing.
    finished: PerSide<bool>,
    /// Packets of the flow seen: the clock for patience.
    clock: u32,
    /// Events waiting for the peer, while any do (boxed: most flows never
    /// need it, and a million idle flows count every byte).
    waiting: Option<Box<Waiting>>,
}

/// Events held back per side, their payload bytes and the memory they
/// take.
#[derive(Default)]
struct Waiting {
    queues: PerSide<VecDeque<Deferred>>,
    bytes: usize,
    cost: usize,
}

impl CrossOrder {
    /// A packet of the flow went by.
    pub(crate) fn tick(&mut self) {
        self.clock = self.clock.wrapping_add(1);
    }

    /// Memory taken by the events waiting (for the flow table's budget).
    pub(crate) fn held_bytes(&self) -> usize {
        self.waiting.as_ref().map_or(0, |w| w.cost)
    }

    /// Offset of `side`'s stream handed on so far.
    pub(crate) fn handed(&self, side: Side) -> u64 {
        self.handed[side]
    }

    /// Hands `event` of `side` on, or keeps it until the peer bytes it
    /// acknowledges (`needs`, a peer stream offset) were handed on.
    pub(crate) fn route(
        &mut self,
        side: Side,
        event: StreamEvent<'_>,
        needs: Option<u64>,
        out: &mut dyn FnMut(Side, StreamEvent<'_>),
    ) {
        let queued = self.queue_len(side) > 0;
        let ready = match event {
            StreamEvent::Data { .. } => self.ready(side, needs, self.clock),
            _ => true,
        };
        if !queued && ready {
            self.handed_on(side, &event);
            out(side, event);
        } else {
            let deferred = Deferred::own(&event, needs, self.clock);
            let waiting = self.waiting.get_or_insert_with(Box::default);
            waiting.bytes += deferred.len();
            waiting.cost += deferred.cost();
            waiting.queues[side].push_back(deferred);
        }
        let deferred_bytes = self.waiting.as_ref().map_or(0, |w| w.bytes);
        if deferred_bytes > MAX_DEFERRED_BYTES {
            self.flush(true, out);
        } else if self.waiting.is_some() {
            self.flush(false, out);
        }
    }

    /// Hands on what may go; with `force`, everything, in capture order.
    pub(crate) fn flush(&mut self, force: bool, out: &mut dyn FnMut(Side, StreamEvent<'_>)) {
        loop {
            let next = if force {
                self.earliest_front()
            } else {
                Side::BOTH.into_iter().find(|s| self.front_ready(*s))
            };
            let Some(side) = next else { break };
            let Some(waiting) = self.waiting.as_deref_mut() else {
                break;
            };
            let Some(deferred) = waiting.queues[side].pop_front() else {
                break;
            };
            waiting.bytes -= deferred.len();
            waiting.cost -= deferred.cost();
            let event = deferred.event();
            self.handed_on(side, &event);
            out(side, event);
        }
        if self.queue_len(Side::Client) == 0 && self.queue_len(Side::Server) == 0 {
            self.waiting = None;
        }
    }

    fn ready(&self, side: Side, needs: Option<u64>, since: u32) -> bool {
        let peer = side.other();
        match needs {
            None => true,
            Some(n) => {
                self.finished[peer]
                    || self.handed(peer) >= n
                    || self.clock.wrapping_sub(since) >= ORDERING_PATIENCE
            }
        }
    }

    fn front_ready(&self, side: Side) -> bool {
        match self.front(side) {
            Some(Deferred::Data { needs, since, .. }) => self.ready(side, *needs, *since),
            Some(_) => true,
            None => false,
        }
    }

    /// The side whose waiting event came first in the capture.
    fn earliest_front(&self) -> Option<Side> {
        let key = |s: Side| self.front(s).map(|d| d.packet());
        match (key(Side::Client), key(Side::Server)) {
            (None, None) => None,
            (Some(_), None) => Some(Side::Client),
            (None, Some(_)) => Some(Side::Server),
            // Events without a packet (gaps) go first: they precede data.
            (Some(c), Some(s)) => Some(if c <= s { Side::Client } else { Side::Server }),
        }
    }

    fn handed_on(&mut self, side: Side, event: &StreamEvent<'_>) {
        let handed = &mut self.handed[side];
        match *event {
            StreamEvent::Data { offset, bytes, .. } => *handed = offset + bytes.len() as u64,
            StreamEvent::Gap { offset, len, .. } => *handed = offset + len,
            StreamEvent::Fin { .. } => self.finished[side] = true,
            StreamEvent::Conflict(_) => {}
        }
    }

    fn front(&self, side: Side) -> Option<&Deferred> {
        self.waiting.as_deref()?.queues[side].front()
    }

    fn queue_len(&self, side: Side) -> usize {
        self.waiting.as_deref().map_or(0, |w| w.queues[side].len())
    }
}
