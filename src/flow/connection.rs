//! One tracked TCP connection: its roles, handshake, the two directions'
//! reassemblers and the cross-direction ordering that hands their bytes to
//! the session's analyzer. The flow table owns many and decides when they
//! begin and end.

use super::budget::Hold;
use super::ordering::CrossOrder;
use super::reassembly::{Conflict, Reassembler, Segment, StreamEvent};
use super::{
    CloseKey, EndReason, Endpoint, FlowKey, MAX_RECORDED_CONFLICTS, PacketRef, PerSide, RoleBasis,
    SessionInfo, Side,
};
use super::{FlowConfig, SessionHandler, StreamSink};
use crate::decode::TcpSegment;
use crate::time::Timestamp;

/// Whether the flow still feeds its session.
#[derive(PartialEq, Eq)]
pub(super) enum FlowState {
    Open,
    /// Ended and reported; the entry only absorbs stray packets.
    Closed,
}

/// One entry of the flow table: a TCP connection on a mail port.
pub(super) struct Flow<S> {
    /// Its four-tuple is `FlowKey::new(info.client, info.server)` (kept
    /// there, not twice: a million idle flows count every byte).
    pub(super) info: SessionInfo,
    /// The reassembler of each side's bytes.
    pub(super) dirs: PerSide<Reassembler>,
    pub(super) client_isn: Option<u32>,
    /// Roles still a guess: the first side to send payload is the server.
    pub(super) roles_tentative: bool,
    /// Window-scale options of the SYN (client) and SYN-ACK (server), as
    /// sent (`None`: the segment carried none, or was not seen).
    pub(super) window_scale: PerSide<Option<u8>>,
    /// Some payload was seen (decides `mid_stream`).
    pub(super) payload_seen: bool,
    pub(super) state: FlowState,
    /// The session's analyzer, made on its first event (boxed: an idle
    /// flow should not carry its room).
    pub(super) sink: Option<Box<S>>,
    /// Hands each side's bytes on after the peer bytes they acknowledge.
    pub(super) order: CrossOrder,
    /// What the table's memory budget last counted for this flow.
    pub(super) hold: Hold,
    /// When its last packet was active: that packet's stamp, but never
    /// behind the capture's clock (see [`super::clock`]).
    pub(super) last_active: Timestamp,
}

impl<S> Flow<S> {
    /// When the flow last saw a packet, by the capture's clock (a closed
    /// flow keeps its last one: its linger counts from there).
    pub(super) fn last_seen(&self) -> Timestamp {
        self.last_active
    }

    /// Memory the flow holds back: out-of-order pieces of both directions
    /// and events waiting for the peer.
    pub(super) fn held_bytes(&self) -> usize {
        self.dirs.client.held_bytes() + self.dirs.server.held_bytes() + self.order.held_bytes()
    }

    /// The flow reached both FINs with everything before them delivered.
    pub(super) fn finished(&self) -> bool {
        self.dirs.iter().all(|(_, dir)| dir.finished())
    }
}

/// Applies one segment to its flow; returns how the session ended, if it did.
pub(super) fn update_flow<H: SessionHandler>(
    flow: &mut Flow<H::Sink>,
    seg: &TcpSegment<'_>,
    src: Endpoint,
    packet: PacketRef,
    wire_len: u32,
    config: &FlowConfig,
    handler: &mut H,
) -> Option<EndReason> {
    let side = sending_side(flow, seg, src);
    count_packet(&mut flow.info, side, packet, wire_len, seg);
    track_windows(flow, seg, side);
    let flags = seg.flags;
    let plausible_rst = !flags.rst() || flow.dirs[side].plausible_rst(seg.seq);
    let seq = track_handshake(flow, seg);
    if !flow.payload_seen && (!seg.payload.is_empty() || seg.missing > 0) {
        // Payload before any handshake packet: the capture began mid-stream.
        flow.payload_seen = true;
        flow.info.mid_stream = !flow.info.syn_seen && !flow.info.syn_ack_seen;
    }
    if flags.ack() {
        let peer = &mut flow.dirs[side.other()];
        if !peer.has_start() && !flags.syn() {
            // Picked up mid-stream: the ACK tells where the peer is.
            peer.set_start(seg.ack);
        }
        peer.peer_ack(seg.ack);
    }
    let segment = Segment {
        seq,
        payload: seg.payload,
        missing: seg.missing,
        fin: flags.fin(),
        packet,
        ack: flags.ack().then_some(seg.ack),
    };
    reassemble(flow, side, segment, config, handler);
    if flags.rst() {
        // A RST far outside the sender's window (a blind injection) is
        // ignored by the endpoints, and here too.
        if plausible_rst {
            return Some(EndReason::Rst);
        }
        flow.info.ignored_rsts += 1;
    }
    if flow.finished() {
        return Some(EndReason::Fin);
    }
    None
}

/// The side that sent `seg`. While the roles are a guess, the first side
/// to send payload becomes the server (it speaks first in SMTP, IMAP and
/// POP3), and the flow's sides are swapped if the guess was wrong.
fn sending_side<S>(flow: &mut Flow<S>, seg: &TcpSegment<'_>, src: Endpoint) -> Side {
    let side = if src == flow.info.client {
        Side::Client
    } else {
        Side::Server
    };
    if !flow.roles_tentative || (seg.payload.is_empty() && seg.missing == 0) {
        return side;
    }
    flow.roles_tentative = false;
    flow.info.roles_from = RoleBasis::FirstSpeaker;
    if side == Side::Server {
        return side;
    }
    let info = &mut flow.info;
    std::mem::swap(&mut info.client, &mut info.server);
    std::mem::swap(&mut info.sides.client, &mut info.sides.server);
    std::mem::swap(&mut flow.dirs.client, &mut flow.dirs.server);
    Side::Server
}

/// Counts the packet in the session's per-side statistics.
fn count_packet(
    info: &mut SessionInfo,
    side: Side,
    packet: PacketRef,
    wire_len: u32,
    seg: &TcpSegment<'_>,
) {
    info.last_packet = packet;
    if !packet.ts.in_rfc3339_range() {
        info.out_of_range_timestamps += 1;
    }
    let stats = &mut info.sides[side];
    stats.packets += 1;
    stats.wire_bytes += u64::from(wire_len);
    stats.payload_bytes += seg.payload.len() as u64;
    stats.truncated_bytes += u64::from(seg.missing);
    if side == Side::Client {
        info.client_last_packet = Some(packet);
    }
}

/// Records the window-scale offer of a SYN or SYN-ACK, and gives the
/// peer's reassembler the window an ACK advertises.
fn track_windows<S>(flow: &mut Flow<S>, seg: &TcpSegment<'_>, side: Side) {
    let flags = seg.flags;
    if flags.syn() {
        let offerer = if flags.ack() {
            Side::Server
        } else {
            Side::Client
        };
        flow.window_scale[offerer] = seg.window_scale;
    }
    if flags.ack() {
        // A SYN's own window is never scaled (RFC 7323 2.2).
        let shift = if flags.syn() {
            0
        } else {
            window_shift(flow.window_scale, side)
        };
        let window = u64::from(seg.window) << shift;
        flow.dirs[side.other()].set_peer_window(window);
    }
}

/// Learns the initial sequence numbers from a SYN or SYN-ACK; returns the
/// sequence number of the segment's first payload byte.
fn track_handshake<S>(flow: &mut Flow<S>, seg: &TcpSegment<'_>) -> u32 {
    let flags = seg.flags;
    if !flags.syn() {
        return seg.seq;
    }
    if flags.ack() {
        flow.info.syn_ack_seen = true;
        flow.dirs.server.set_isn(seg.seq);
        // The SYN-ACK acknowledges the client's ISN + 1.
        flow.client_isn.get_or_insert(seg.ack.wrapping_sub(1));
        flow.dirs.client.set_start(seg.ack);
    } else {
        flow.info.syn_seen = true;
        flow.client_isn.get_or_insert(seg.seq);
        flow.dirs.client.set_isn(seg.seq);
    }
    // Data on a SYN (TCP Fast Open) starts after the SYN's own number.
    seg.seq.wrapping_add(1)
}

/// Feeds the segment to its side's reassembler, lets both reassemblers
/// hand on what their timers released, and routes every event through the
/// cross-direction ordering to the session.
fn reassemble<H: SessionHandler>(
    flow: &mut Flow<H::Sink>,
    side: Side,
    segment: Segment<'_>,
    config: &FlowConfig,
    handler: &mut H,
) {
    let limits = config.reassembly;
    let seen = PerSide::new(
        flow.info.sides.client.packets > 0,
        flow.info.sides.server.packets > 0,
    );
    let Flow {
        dirs,
        info,
        sink,
        order,
        ..
    } = flow;
    order.tick();
    let mut deliver = |s: Side, ev: StreamEvent<'_>| hand_on(info, sink, handler, s, ev);
    let (this, peer) = dirs.split_mut(side);
    this.segment(segment, &limits, &mut |ev| {
        let needs = needs_of(&ev, peer, seen[side.other()]);
        order.route(side, ev, needs, &mut deliver);
    });
    for s in Side::BOTH {
        let (this, peer) = dirs.split_mut(s);
        this.tick(&mut |ev| {
            let needs = needs_of(&ev, peer, seen[s.other()]);
            order.route(s, ev, needs, &mut deliver);
        });
    }
    order.flush(false, &mut deliver);
}

/// Delivers whatever the reassemblers still hold (end of the session).
pub(super) fn flush_flow<H: SessionHandler>(flow: &mut Flow<H::Sink>, handler: &mut H) {
    let Flow {
        dirs,
        info,
        sink,
        order,
        ..
    } = flow;
    let mut deliver = |s: Side, ev: StreamEvent<'_>| hand_on(info, sink, handler, s, ev);
    for s in Side::BOTH {
        let this = &mut dirs[s];
        // Nothing waits on the peer any more: the session is over.
        this.finish(&mut |ev| order.route(s, ev, None, &mut deliver));
    }
    order.flush(true, &mut deliver);
}

/// The table's memory budget ran out: the flow gives up everything it
/// holds back (each hole becomes a gap, the bytes behind it and every event
/// waiting for the peer are handed on). Returns the holes given up.
pub(super) fn give_up_held<H: SessionHandler>(flow: &mut Flow<H::Sink>, handler: &mut H) -> u64 {
    let Flow {
        dirs,
        info,
        sink,
        order,
        ..
    } = flow;
    let mut deliver = |s: Side, ev: StreamEvent<'_>| hand_on(info, sink, handler, s, ev);
    let mut holes = 0;
    for s in Side::BOTH {
        let this = &mut dirs[s];
        holes += this.give_up_holes(&mut |ev| order.route(s, ev, None, &mut deliver));
    }
    order.flush(true, &mut deliver);
    holes
}

/// Gives one event to the session's sink (opening it on first use) and
/// records conflicts in the session info.
fn hand_on<H: SessionHandler>(
    info: &mut SessionInfo,
    sink: &mut Option<Box<H::Sink>>,
    handler: &mut H,
    side: Side,
    event: StreamEvent<'_>,
) {
    if let StreamEvent::Conflict(c) = &event {
        if info.conflicts.len() < MAX_RECORDED_CONFLICTS {
            info.conflicts.push((side, Conflict::clone(c)));
        }
    }
    let sink = sink.get_or_insert_with(|| Box::new(handler.open(info)));
    sink.on_event(side, event);
}

/// The peer stream offset a data event's segment had acknowledged, when the
/// peer was seen at all (a one-sided capture has nothing to wait for).
fn needs_of(event: &StreamEvent<'_>, peer: &Reassembler, peer_seen: bool) -> Option<u64> {
    match event {
        StreamEvent::Data { ack: Some(ack), .. } if peer_seen => peer.ack_offset(*ack),
        _ => None,
    }
}

/// Largest window-scale shift; a larger offer counts as this (RFC 7323 2.3).
const MAX_WINDOW_SHIFT: u8 = 14;

/// The shift of the window field in `side`'s segments, from the options of
/// the SYN and the SYN-ACK: scaling is in effect only when
/// both carried one (RFC 7323 1.3), and then each side scales by its own.
fn window_shift(offers: PerSide<Option<u8>>, side: Side) -> u8 {
    match (offers.client, offers.server) {
        (Some(_), Some(_)) => offers[side].unwrap_or(0).min(MAX_WINDOW_SHIFT),
        _ => 0,
    }
}

/// A session's facts before any packet counted: what a new flow starts
/// from, and what a closed entry keeps (nothing a report needs).
pub(super) fn placeholder_info(key: &FlowKey, last_packet: PacketRef) -> SessionInfo {
    SessionInfo {
        id: 0,
        client: key.lo,
        server: key.hi,
        roles_from: RoleBasis::Guess,
        first_packet: last_packet,
        last_packet,
        syn_seen: false,
        syn_ack_seen: false,
        mid_stream: false,
        sides: Default::default(),
        end: EndReason::EndOfCapture,
        conflicts: Vec::new(),
        checksum_errors: 0,
        stream_start: PerSide::default(),
        ignored_rsts: 0,
        out_of_range_timestamps: 0,
        client_last_packet: None,
        closed_by: CloseKey::default(),
        off_clock: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_shift_needs_both_offers() {
        // (SYN option, SYN-ACK option, client's shift, server's shift)
        let table: [(Option<u8>, Option<u8>, u8, u8); 7] = [
            (Some(7), Some(8), 7, 8),
            (Some(7), None, 0, 0),
            (None, Some(8), 0, 0),
            (None, None, 0, 0),
            (Some(0), Some(0), 0, 0),
            (Some(0), Some(9), 0, 9),
            (Some(15), Some(255), 14, 14),
        ];
        for (syn, syn_ack, client, server) in table {
            let offers = PerSide::new(syn, syn_ack);
            let got = (
                window_shift(offers, Side::Client),
                window_shift(offers, Side::Server),
            );
            assert_eq!(got, (client, server), "SYN {syn:?}, SYN-ACK {syn_ack:?}");
        }
    }
}
