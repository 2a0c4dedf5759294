//! The flow table: which session a segment belongs to, who is client and
//! server, when a session ends, and the limits that keep memory bounded by
//! the number of concurrent flows and, for the bytes held for reassembly,
//! by one budget across all flows.

use super::budget::{HeldBudget, Hold};
use super::connection::{Flow, FlowState, flush_flow, give_up_held, placeholder_info, update_flow};
use super::deadlines::{Deadlines, Due, Limit};
use super::ordering::CrossOrder;
use super::reassembly::ReassemblyLimits;
use super::{
    CloseKey, ClosePhase, EndReason, Endpoint, FlowKey, OffClock, PacketRef, PerSide, RoleBasis,
    SessionHandler, SessionInfo, off_clock,
};
use crate::decode::{ChecksumStatus, TcpSegment};
use crate::time::Timestamp;
use std::collections::HashMap;

/// A set of TCP ports as a bitmap (one bit per port).
#[derive(Clone)]
pub struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    /// SMTP (25, 587 submission, 465 submissions, 2525), POP3 (110, 995),
    /// IMAP (143, 993).
    pub const MAIL_PORTS: [u16; 8] = [25, 465, 587, 2525, 110, 995, 143, 993];

    /// The other protocols with an in-band TLS upgrade: FTP (21, implicit
    /// 990), PostgreSQL (5432), MySQL (3306), XMPP (5222, 5269), LMTP (24),
    /// LDAP (389, implicit 636; Active Directory's Global Catalog 3268,
    /// implicit 3269), ManageSieve (4190), NNTP (119, implicit 563).
    /// Not XMPP's old implicit-TLS 5223: Apple's push service owns it in
    /// practice, and TLS there says nothing of XMPP (`--port 5223` adds it).
    /// A session on them is reported only when its dialog speaks that
    /// protocol; mail-only traffic never reaches them.
    pub const UPGRADE_PORTS: [u16; 14] = [
        21, 990, 5432, 3306, 5222, 5269, 24, 389, 636, 3268, 3269, 4190, 119, 563,
    ];

    /// No port.
    pub fn empty() -> Self {
        PortSet(Box::new([0; 1024]))
    }

    /// The [`Self::MAIL_PORTS`] and [`Self::UPGRADE_PORTS`] (the default
    /// of [`FlowConfig::ports`]).
    pub fn mail() -> Self {
        let mut set = Self::empty();
        for p in Self::MAIL_PORTS.into_iter().chain(Self::UPGRADE_PORTS) {
            set.insert(p);
        }
        set
    }

    /// Adds `port`.
    pub fn insert(&mut self, port: u16) {
        if let Some(word) = self.0.get_mut(usize::from(port >> 6)) {
            *word |= 1 << (port & 63);
        }
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        self.0
            .get(usize::from(port >> 6))
            .is_some_and(|w| w & (1 << (port & 63)) != 0)
    }
}

/// Flow-table settings.
#[derive(Clone)]
pub struct FlowConfig {
    /// Ports followed: a segment with neither port in the set is skipped (`not_mail_segments`);
    /// without a handshake, the side on one of them is taken as the server.
    pub ports: PortSet,
    /// A session idle this long (capture time) ends with `timeout`.
    pub idle_timeout_secs: i64,
    /// How long an ended session's four-tuple absorbs stray packets
    /// (retransmissions after FIN or RST) before a new session may start
    /// there without a SYN.
    pub closed_linger_secs: i64,
    /// Most concurrent flows; past it the least recently active is evicted.
    pub max_flows: usize,
    /// Out-of-order limits of each direction of each flow.
    pub reassembly: ReassemblyLimits,
    /// Most bytes all flows together may hold for reassembly (out of order,
    /// or waiting for the peer); past it the flows that have held bytes
    /// longest give them up as gaps.
    pub max_buffered_bytes: usize,
    /// Drop segments with a wrong checksum (off by default: offload on the
    /// capturing host makes them common and harmless).
    pub drop_bad_checksums: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            ports: PortSet::mail(),
            idle_timeout_secs: 600,
            closed_linger_secs: 30,
            max_flows: 1_000_000,
            reassembly: ReassemblyLimits::default(),
            max_buffered_bytes: 512 << 20,
            drop_bad_checksums: false,
        }
    }
}

/// Table-wide counters. Every limit hit is counted here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    /// Segments on mail ports handed to sessions.
    pub segments: u64,
    /// Sessions the table opened (before filters; a reused four-tuple opens another).
    pub sessions: u64,
    /// Sessions ended by `idle_timeout_secs` of silence (capture time).
    pub timed_out: u64,
    /// Open sessions ended to make room under `max_flows` (the least recently active first).
    pub evicted: u64,
    /// Ended sessions forgotten before their linger time was up, to make
    /// room (a stray packet of theirs later opens a new, one-sided one).
    pub evicted_closed: u64,
    /// Open sessions ended by a new connection (a SYN with another ISN) on their four-tuple.
    pub port_reused: u64,
    /// Most flows alive at once.
    pub peak_flows: u64,
    /// Segments with a wrong IPv4 or TCP checksum (kept unless asked).
    pub bad_checksums: u64,
    /// Of those, dropped because of `--verify-checksums`.
    pub dropped_bad_checksums: u64,
    /// Segments of a session that had already ended (stray retransmissions).
    pub after_close: u64,
    /// Holes declared gaps because the bytes held for reassembly exceeded
    /// `max_buffered_bytes`.
    pub memory_budget_gaps: u64,
    /// Packets of sessions stamped more than the idle timeout off the
    /// capture's clock (their time was not used).
    pub off_clock_packets: u64,
}

struct Slot<S> {
    generation: u32,
    flow: Option<Flow<S>>,
}

/// Sessions of mail ports, by four-tuple.
pub struct FlowTable<H: SessionHandler> {
    config: FlowConfig,
    index: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot<H::Sink>>,
    free: Vec<u32>,
    /// When each held flow is due (idle timeout, or linger after its end).
    deadlines: Deadlines,
    /// What all flows hold for reassembly, and who has held longest.
    budget: HeldBudget,
    live: usize,
    next_id: u64,
    now: Timestamp,
    /// The packet being processed (or the clock tick), for close keys.
    current: (u16, u64),
    /// Closes made while processing `current`.
    close_seq: u32,
    /// Sessions opened (id, first packet), when asked to keep them.
    opened: Option<Vec<(u64, PacketRef)>>,
    /// Sessions still to end at the end of the input (see `finish_step`).
    finishing: Option<Vec<(u64, u32)>>,
    handler: H,
    /// The table's counters so far.
    pub stats: TableStats,
}

impl<H: SessionHandler> FlowTable<H> {
    pub(crate) fn new(config: FlowConfig, handler: H) -> Self {
        FlowTable {
            budget: HeldBudget::new(config.max_buffered_bytes),
            config,
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            deadlines: Deadlines::default(),
            live: 0,
            next_id: 1,
            now: Timestamp::ZERO,
            current: (0, 0),
            close_seq: 0,
            opened: None,
            finishing: None,
            handler,
            stats: TableStats::default(),
        }
    }

    pub(crate) fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// The session handler (ended sessions may wait in it).
    pub fn handler(&self) -> &H {
        &self.handler
    }

    pub(crate) fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Bytes all flows hold for reassembly now, as the memory budget counts
    /// them.
    #[cfg(test)]
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.budget.total()
    }

    /// Flows currently held (open or lingering after close).
    pub fn len(&self) -> usize {
        self.live
    }

    /// No flow is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Keeps a log of the sessions opened (for a merger that numbers
    /// sessions across several tables).
    pub(crate) fn track_opened(&mut self) {
        self.opened.get_or_insert_with(Vec::new);
    }

    /// Sessions opened since the last call: (id, first packet).
    pub(crate) fn take_opened(&mut self) -> Vec<(u64, PacketRef)> {
        self.opened.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The capture's clock (a [`super::CaptureClock`] over every frame)
    /// reached `packet`'s time: sessions idle past their timeout end now.
    /// The table's only clock: the caller ticks before each packet it
    /// processes, whenever the clock enters a later second.
    pub(crate) fn tick(&mut self, packet: PacketRef) {
        self.set_current(packet);
        self.advance_clock(packet.ts);
    }

    fn set_current(&mut self, packet: PacketRef) {
        let at = (packet.input, packet.frame);
        if at != self.current {
            self.current = at;
            self.close_seq = 0;
        }
    }

    /// Feeds one decoded segment. The caller has checked [`Self::wants`]
    /// and ticked the clock.
    pub(crate) fn process(&mut self, seg: &TcpSegment<'_>, packet: PacketRef, wire_len: u32) {
        self.set_current(packet);
        self.stats.segments += 1;
        let bad_checksum = seg.checksum_status() == ChecksumStatus::Invalid;
        if bad_checksum {
            self.stats.bad_checksums += 1;
            if self.config.drop_bad_checksums {
                self.stats.dropped_bad_checksums += 1;
                return;
            }
        }
        let (src, dst) = Endpoint::of(seg);
        let Some(slot) = self.slot_for(FlowKey::new(src, dst), seg, packet) else {
            return;
        };
        let config = &self.config;
        let handler = &mut self.handler;
        let Some(flow) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.flow.as_mut())
        else {
            return;
        };
        if flow.state == FlowState::Closed {
            self.stats.after_close += 1;
            return;
        }
        if bad_checksum {
            flow.info.checksum_errors += 1;
        }
        flow.last_active = active_time(self.now, packet.ts);
        count_off_clock(&mut flow.info, packet, self.now, config.idle_timeout_secs);
        let ended = update_flow(flow, seg, src, packet, wire_len, config, handler);
        let held = flow.held_bytes();
        let id = flow.info.id;
        self.budget
            .update(slot, &mut flow.hold, held, self.stats.segments);
        if let Some(reason) = ended {
            self.close_slot(slot, reason, ClosePhase::ByPacket, Timestamp::ZERO);
            self.linger(slot, id);
        }
        self.keep_to_budget();
    }

    /// The slot of the segment's connection: its flow, or a new one when
    /// none is tracked or the segment opens a new connection on the
    /// four-tuple (an open one before it ends as reused). `None` when the
    /// index points at an empty slot.
    fn slot_for(&mut self, key: FlowKey, seg: &TcpSegment<'_>, packet: PacketRef) -> Option<u32> {
        let Some(slot) = self.index.get(&key).copied() else {
            return Some(self.create(key, seg, packet));
        };
        let flow = self.flow(slot)?;
        if !opens_new_connection(flow, seg) {
            return Some(slot);
        }
        if flow.state == FlowState::Open {
            self.stats.port_reused += 1;
            self.close_slot(
                slot,
                EndReason::PortReused,
                ClosePhase::ByPacket,
                Timestamp::ZERO,
            );
        }
        self.remove_slot(slot);
        Some(self.create(key, seg, packet))
    }

    /// Over the memory budget: the flows that have held bytes longest give
    /// them up (their holes become gaps) until the total fits. A flow that
    /// thereby reaches both FINs ends, as it would have with its next packet.
    fn keep_to_budget(&mut self) {
        while self.budget.over() {
            let Some(slot) = self.budget.oldest() else {
                return;
            };
            let handler = &mut self.handler;
            let Some(flow) = self
                .slots
                .get_mut(slot as usize)
                .and_then(|s| s.flow.as_mut())
            else {
                return;
            };
            self.stats.memory_budget_gaps += give_up_held(flow, handler);
            let (held, finished, id) = (flow.held_bytes(), flow.finished(), flow.info.id);
            self.budget
                .update(slot, &mut flow.hold, held, self.stats.segments);
            if finished {
                self.close_slot(slot, EndReason::Fin, ClosePhase::ByPacket, Timestamp::ZERO);
                self.linger(slot, id);
            }
            if self.budget.oldest() == Some(slot) {
                // Nothing more to give up here (cannot happen: giving up
                // empties every buffer); stop rather than spin.
                return;
            }
        }
    }

    /// Ends every open session (end of input), in id order.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn finish(&mut self) {
        while !self.finish_step(usize::MAX) {}
    }

    /// Ends up to `max` of the sessions still open at the end of the
    /// input, in id order; true once none is left. Lets the caller take
    /// the ended sessions in between, so a million open flows never make a
    /// million records at once.
    pub(crate) fn finish_step(&mut self, max: usize) -> bool {
        if self.finishing.is_none() {
            let mut open: Vec<(u64, u32)> = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let f = s.flow.as_ref()?;
                    (f.state == FlowState::Open).then_some((f.info.id, i as u32))
                })
                .collect();
            // Largest id first: the closes pop from the end.
            open.sort_unstable_by(|a, b| b.cmp(a));
            self.finishing = Some(open);
            self.current = (u16::MAX, u64::MAX);
            self.close_seq = 0;
        }
        for _ in 0..max {
            let Some((_, slot)) = self.finishing.as_mut().and_then(Vec::pop) else {
                return true;
            };
            self.close_slot(
                slot,
                EndReason::EndOfCapture,
                ClosePhase::AtEnd,
                Timestamp::ZERO,
            );
        }
        self.finishing.as_ref().is_none_or(Vec::is_empty)
    }

    /// Consumes the table, returning its handler.
    pub(crate) fn into_handler(self) -> H {
        self.handler
    }

    fn flow(&self, slot: u32) -> Option<&Flow<H::Sink>> {
        self.slots.get(slot as usize).and_then(|s| s.flow.as_ref())
    }

    fn create(&mut self, key: FlowKey, seg: &TcpSegment<'_>, packet: PacketRef) -> u32 {
        if self.live >= self.config.max_flows {
            self.evict_one();
        }
        let (src, dst) = Endpoint::of(seg);
        let ports = &self.config.ports;
        let (client, server, roles_from, tentative) = if seg.flags.syn() {
            if seg.flags.ack() {
                (dst, src, RoleBasis::Handshake, false)
            } else {
                (src, dst, RoleBasis::Handshake, false)
            }
        } else {
            match (ports.contains(src.port), ports.contains(dst.port)) {
                (false, true) => (src, dst, RoleBasis::MailPort, false),
                (true, false) => (dst, src, RoleBasis::MailPort, false),
                _ if src.port >= dst.port => (src, dst, RoleBasis::Guess, true),
                _ => (dst, src, RoleBasis::Guess, true),
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        self.stats.sessions += 1;
        if let Some(log) = self.opened.as_mut() {
            log.push((id, packet));
        }
        let flow = Flow {
            info: SessionInfo {
                id,
                client,
                server,
                roles_from,
                ..placeholder_info(&key, packet)
            },
            dirs: PerSide::default(),
            client_isn: None,
            roles_tentative: tentative,
            window_scale: PerSide::default(),
            payload_seen: false,
            state: FlowState::Open,
            sink: None,
            order: CrossOrder::default(),
            hold: Hold::default(),
            last_active: active_time(self.now, packet.ts),
        };
        let slot = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    s.generation = s.generation.wrapping_add(1);
                    s.flow = Some(flow);
                }
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    flow: Some(flow),
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, slot);
        self.live += 1;
        self.stats.peak_flows = self.stats.peak_flows.max(self.live as u64);
        let generation = self.slots.get(slot as usize).map_or(0, |s| s.generation);
        let deadline = after_secs(
            active_time(self.now, packet.ts),
            self.config.idle_timeout_secs,
        );
        self.deadlines.push(
            Limit::Idle,
            Due {
                deadline,
                id,
                slot,
                generation,
            },
        );
        slot
    }

    /// Reports the session in `slot` (if open) and marks it closed; the
    /// entry lingers to absorb stray packets.
    fn close_slot(&mut self, slot: u32, reason: EndReason, phase: ClosePhase, deadline: Timestamp) {
        let key = CloseKey {
            input: self.current.0,
            frame: self.current.1,
            phase,
            deadline,
            seq: self.close_seq,
        };
        self.close_seq += 1;
        let handler = &mut self.handler;
        let Some(flow) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.flow.as_mut())
        else {
            return;
        };
        if flow.state == FlowState::Closed {
            return;
        }
        flow.state = FlowState::Closed;
        flow.info.closed_by = key;
        match reason {
            EndReason::Timeout => self.stats.timed_out += 1,
            EndReason::Evicted => self.stats.evicted += 1,
            _ => {}
        }
        flush_flow(flow, handler);
        flow.info.end = reason;
        confirm_off_clock(&mut flow.info, self.now, self.config.idle_timeout_secs);
        if let Some(off) = &flow.info.off_clock {
            self.stats.off_clock_packets += off.packets;
        }
        for (side, dir) in flow.dirs.iter() {
            flow.info.stream_start[side] = dir.start();
            *flow.info.sides[side].stream = dir.stats();
        }
        let sink = match flow.sink.take() {
            Some(sink) => *sink,
            None => handler.open(&flow.info),
        };
        let key = FlowKey::new(flow.info.client, flow.info.server);
        let last = flow.info.last_packet;
        let info = std::mem::replace(&mut flow.info, placeholder_info(&key, last));
        // The reassemblers' buffers are not needed past this point.
        flow.dirs = PerSide::default();
        self.budget.update(slot, &mut flow.hold, 0, 0);
        handler.close(info, sink);
    }

    /// Keeps the ended flow in `slot` for its linger time, not for what
    /// was left of its idle timeout: a busy tap must not hold ten minutes
    /// of ended sessions. (Its idle entry goes stale and is skipped when
    /// due.) Only flows that stay get an entry: one removed at once (timed
    /// out, evicted, reused, end of input) would leave a stale one behind,
    /// a million of them under a flood.
    fn linger(&mut self, slot: u32, id: u64) {
        let Some(s) = self.slots.get(slot as usize) else {
            return;
        };
        let Some(flow) = s.flow.as_ref() else { return };
        let due = Due {
            deadline: after_secs(flow.last_seen(), self.config.closed_linger_secs),
            id,
            slot,
            generation: s.generation,
        };
        self.deadlines.push(Limit::Linger, due);
    }

    fn remove_slot(&mut self, slot: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            if let Some(mut flow) = s.flow.take() {
                self.budget.update(slot, &mut flow.hold, 0, 0);
                self.index
                    .remove(&FlowKey::new(flow.info.client, flow.info.server));
                self.live -= 1;
                self.free.push(slot);
            }
        }
    }

    /// Ends sessions idle past the timeout, and forgets closed ones past
    /// their linger time.
    fn advance_clock(&mut self, ts: Timestamp) {
        if ts <= self.now {
            return;
        }
        let advanced_second = ts.secs > self.now.secs;
        self.now = ts;
        if !advanced_second {
            return;
        }
        while let Some((limit, due)) = self.deadlines.pop_due(self.now) {
            self.expire(limit, due);
        }
    }

    /// A deadline came due: end the flow (or forget an ended one), or
    /// reschedule it when it was active since.
    fn expire(&mut self, limit: Limit, due: Due) {
        let Some(flow) = self.scheduled_flow(limit, due) else {
            return;
        };
        let next = after_secs(flow.last_seen(), self.limit_secs(limit));
        if next.secs > self.now.secs {
            self.deadlines.push(
                limit,
                Due {
                    deadline: next,
                    ..due
                },
            );
            return;
        }
        if limit == Limit::Idle {
            self.close_slot(
                due.slot,
                EndReason::Timeout,
                ClosePhase::ByClock,
                due.deadline,
            );
        }
        self.remove_slot(due.slot);
    }

    /// The flow an entry was scheduled for, if it is still that flow in
    /// that state (an ended flow's idle entry is stale: its linger entry
    /// counts).
    fn scheduled_flow(&self, limit: Limit, due: Due) -> Option<&Flow<H::Sink>> {
        let s = self.slots.get(due.slot as usize)?;
        let flow = s.flow.as_ref()?;
        let state = match limit {
            Limit::Idle => FlowState::Open,
            Limit::Linger => FlowState::Closed,
        };
        (s.generation == due.generation && flow.state == state).then_some(flow)
    }

    fn limit_secs(&self, limit: Limit) -> i64 {
        match limit {
            Limit::Idle => self.config.idle_timeout_secs,
            Limit::Linger => self.config.closed_linger_secs,
        }
    }

    /// Makes room: ends the flow that has been idle longest (to the
    /// nanosecond: a flood of new flows within one second must not push
    /// out a session that was active a moment ago).
    fn evict_one(&mut self) {
        let (idle, linger) = (
            self.config.idle_timeout_secs,
            self.config.closed_linger_secs,
        );
        while let Some((limit, due)) = self.deadlines.pop_oldest(idle, linger) {
            let Some(flow) = self.scheduled_flow(limit, due) else {
                continue;
            };
            let next = after_secs(flow.last_seen(), self.limit_secs(limit));
            if next > due.deadline {
                // Active since this entry was pushed: not the oldest after all.
                self.deadlines.push(
                    limit,
                    Due {
                        deadline: next,
                        ..due
                    },
                );
                continue;
            }
            match limit {
                Limit::Idle => self.close_slot(
                    due.slot,
                    EndReason::Evicted,
                    ClosePhase::ByPacket,
                    Timestamp::ZERO,
                ),
                Limit::Linger => self.stats.evicted_closed += 1,
            }
            self.remove_slot(due.slot);
            return;
        }
    }
}

/// When a packet stamped `ts` was active, by the clock reading `now`: its
/// own stamp (to the nanosecond: eviction goes by it), but never behind the
/// clock. A stamp far ahead counts for its flow alone, and only until the
/// flow's next packet: a lone late stamp keeps one flow from timing out
/// for a while, and a real pause does not end the flows that resumed
/// before the clock believed it.
fn active_time(now: Timestamp, ts: Timestamp) -> Timestamp {
    ts.max(now)
}

/// A session's first stamp ahead of the clock was a real pause, not an
/// outlier, when the clock caught up with it since.
fn confirm_off_clock(info: &mut SessionInfo, now: Timestamp, limit_secs: i64) {
    let caught_up = info
        .off_clock
        .as_ref()
        .is_some_and(|o| o.off_secs > 0 && off_clock(o.packet.ts, now, limit_secs) <= 0);
    if caught_up {
        info.off_clock = None;
    }
}

/// `ts` plus `secs` seconds (the deadline of a flow last seen at `ts`).
fn after_secs(ts: Timestamp, secs: i64) -> Timestamp {
    Timestamp::new(ts.secs.saturating_add(secs), ts.nanos)
}

/// Whether `seg` opens a new connection on the four-tuple of `flow`: any
/// SYN or SYN-ACK after the flow ended; on an open flow, a SYN with another
/// ISN (or on a flow picked up mid-stream that already carried data).
fn opens_new_connection<S>(flow: &Flow<S>, seg: &TcpSegment<'_>) -> bool {
    let is_syn = seg.flags.syn() && !seg.flags.ack();
    let is_syn_ack = seg.flags.syn() && seg.flags.ack();
    match flow.state {
        FlowState::Closed => is_syn || is_syn_ack,
        FlowState::Open => {
            is_syn
                && match flow.client_isn {
                    Some(isn) => isn != seg.seq,
                    None => flow.info.sides.iter().any(|(_, s)| s.payload_bytes > 0),
                }
        }
    }
}

/// Counts a packet stamped far off the capture's clock (the first one
/// kept as the example).
fn count_off_clock(info: &mut SessionInfo, packet: PacketRef, now: Timestamp, idle_secs: i64) {
    let off = off_clock(packet.ts, now, idle_secs);
    if off != 0 && now != Timestamp::ZERO {
        let record = info.off_clock.get_or_insert_with(|| {
            Box::new(OffClock {
                packet,
                off_secs: off,
                packets: 0,
            })
        });
        record.packets += 1;
    }
}

#[cfg(test)]
mod footprint {
    /// An idle flow's fixed footprint: with a million concurrent flows
    /// (a SYN flood, a busy tap) every byte here is a megabyte of RSS.
    /// Growing it should be a decision, not an accident.
    #[test]
    fn idle_flow_stays_small() {
        let flow = std::mem::size_of::<super::Slot<crate::analysis::MailSession>>();
        // 616 until the memory budget (its hold), the capture clock (the
        // activity time) and the clamped-timestamp count: +48 bytes, decided.
        assert!(flow <= 664, "an idle flow grew to {flow} bytes");
    }
}
