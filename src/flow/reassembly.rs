//! Per-direction TCP reassembly into an exact, in-order byte stream.
//!
//! A [`Reassembler`] turns segments in capture order into stream events:
//! in-order data chunks (each tagged with the packet that carried it), gaps
//! for bytes that will never be seen, and conflicts where a retransmission
//! carried different bytes for a range already seen.
//!
//! Rules, in the order they matter:
//! - Sequence numbers are mapped to 64-bit stream offsets relative to the
//!   next expected byte, so wraparound needs no special case (arithmetic on
//!   `u32` sequence numbers wraps by intent).
//! - First-seen bytes win. A later copy of a range is compared with the
//!   first one; if they differ that is a [`Conflict`] (a classic evasion),
//!   reported with both versions, and the stream keeps the first.
//! - Out-of-order data waits in a bounded buffer. A hole becomes a gap when
//!   the peer has acknowledged bytes past it (the capture lost them) and
//!   they still have not appeared after [`ACKED_HOLE_PATIENCE`] more packets
//!   of the flow (a tap can see an ACK shortly before the data it covers),
//!   when the buffer limit is hit, when the flow table's memory budget
//!   gives it up, or when the flow ends.
//! - Bytes a snaplen cut off are a gap as soon as the stream reaches them.

use super::PacketRef;
use super::recent::RecentBytes;
use std::collections::BTreeMap;

/// Packets of the flow to wait, after the peer acknowledged bytes that the
/// capture does not have, before declaring them lost.
pub(crate) const ACKED_HOLE_PATIENCE: u32 = 8;

/// Delivered bytes kept per direction to compare retransmissions with.
/// Retransmissions of older bytes are counted but not compared.
pub(crate) const RETAINED_BYTES: usize = 4096;

/// How far ahead of the stream a RST's sequence number may be and still
/// end the session when the peer's window is not known (no handshake
/// seen): 1 MiB, more than any unscaled window.
pub(crate) const RST_WINDOW: i64 = 1 << 20;

/// `peer_window` before the peer advertised any (a zero window counts as
/// unknown too: the RST check then falls back to [`RST_WINDOW`]).
const NO_WINDOW: u64 = 0;

/// Slack beyond the peer's advertised window for a RST to count: data the
/// capture has not seen yet may still be in flight.
pub(crate) const RST_SLACK: i64 = 64 << 10;

/// Longest excerpt of each version kept in a [`Conflict`].
pub(crate) const CONFLICT_EXCERPT: usize = 256;

/// Limits on what one direction may buffer out of order.
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    /// Bytes waiting behind a hole.
    pub max_pending_bytes: usize,
    /// Segments waiting behind a hole (bounds the per-segment overhead
    /// against floods of tiny segments).
    pub max_pending_segments: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_pending_bytes: 4 << 20,
            max_pending_segments: 4096,
        }
    }
}

/// Why bytes of the stream were not observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapReason {
    /// The peer acknowledged them: the capture lost them.
    NotCaptured,
    /// Cut off by the capture's snaplen.
    Snaplen,
    /// The out-of-order buffer limit was hit before the hole filled.
    BufferLimit,
    /// The flow table's memory budget for held bytes ran out, and this
    /// flow had held bytes longest.
    MemoryBudget,
    /// The flow ended (FIN, RST, timeout, end of input) with the hole open.
    FlowEnd,
}

/// A byte range two packets disagree about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// Stream offset where the two versions start to be compared.
    pub offset: u64,
    /// Length of the overlapping range.
    pub len: u64,
    /// The version the stream kept (first seen).
    pub kept: PacketRef,
    /// The kept version's bytes of the range, at most `CONFLICT_EXCERPT` (256).
    pub kept_bytes: Vec<u8>,
    /// The later, different version (ignored by the stream).
    pub ignored: PacketRef,
    /// The ignored version's bytes of the range, at most `CONFLICT_EXCERPT` (256).
    pub ignored_bytes: Vec<u8>,
}

/// What a reassembler tells its consumer.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// In-order bytes starting at `offset`.
    Data {
        /// Stream offset of `bytes[0]`, 0-based from the byte after the SYN (mid-stream: from
        /// where the capture picked the stream up), gap bytes included.
        offset: u64,
        /// Bytes not delivered before (a retransmitted part of the segment is left out).
        bytes: &'a [u8],
        /// The packet that carried them.
        packet: PacketRef,
        /// The acknowledgement number of the segment that carried the
        /// bytes (raw), when it had one: it tells what the sender had
        /// received of the peer's stream.
        ack: Option<u32>,
    },
    /// `len` bytes at `offset` will never be seen.
    Gap {
        /// Stream offset of the first byte never seen.
        offset: u64,
        /// How many bytes are missing (at least 1).
        len: u64,
        /// Why they will never be seen.
        reason: GapReason,
    },
    /// A retransmission disagreed with what the stream holds.
    Conflict(&'a Conflict),
    /// The FIN was reached: every byte before it was delivered or a gap.
    Fin {
        /// Stream offset of the FIN: the stream's length.
        offset: u64,
        /// The packet that carried the FIN.
        packet: PacketRef,
    },
}

/// Counters for one direction, all reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirectionStats {
    /// Segments carrying payload.
    pub segments: u64,
    /// Payload bytes delivered in order.
    pub delivered_bytes: u64,
    /// Payload bytes seen again for ranges already held.
    pub retransmitted_bytes: u64,
    /// Retransmitted bytes too old to compare with what was kept.
    pub unverified_retransmitted_bytes: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order_segments: u64,
    /// Holes declared gaps, whatever their [`GapReason`].
    pub gaps: u64,
    /// Bytes those gaps cover.
    pub gap_bytes: u64,
    /// Retransmissions whose bytes differed from what the stream holds (every one counted; a
    /// session records only the first 16, `MAX_RECORDED_CONFLICTS`).
    pub conflicts: u64,
    /// Times the out-of-order buffer limit forced a gap.
    pub buffer_limit_hits: u64,
    /// Holes given up (declared gaps) to the flow table's memory budget.
    pub budget_gaps: u64,
    /// Payload bytes after the FIN (ignored).
    pub bytes_after_fin: u64,
}

/// One TCP segment as a reassembler sees it.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Sequence number of the first payload byte.
    pub seq: u32,
    /// The payload bytes the capture kept.
    pub payload: &'a [u8],
    /// Bytes that followed `payload` on the wire but were not captured.
    pub missing: u32,
    /// The segment had the FIN flag.
    pub fin: bool,
    /// Where it was captured.
    pub packet: PacketRef,
    /// The segment's acknowledgement number, when the ACK flag was set.
    pub ack: Option<u32>,
}

/// Where a segment's captured bytes lie in the stream.
struct Located<'p> {
    off: u64,
    payload: &'p [u8],
    /// A FIN that can end the stream.
    fin: bool,
    /// Where the segment ends on the wire, snaplen-cut bytes included.
    wire_end: u64,
}

/// Which segment bytes came from.
#[derive(Clone, Copy)]
struct Origin {
    packet: PacketRef,
    ack: Option<u32>,
}

struct Pending {
    data: Vec<u8>,
    packet: PacketRef,
    ack: Option<u32>,
}

/// What a buffered piece costs beyond its bytes, as the memory budget
/// counts it: its map entry (B-tree nodes run between half and fully
/// used, so twice the entry) and its allocation's header.
const PIECE_COST: usize = 2 * std::mem::size_of::<(u64, Pending)>() + 16;

/// One direction of a TCP connection.
#[derive(Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0, once known.
    base: Option<u32>,
    /// Next offset to deliver: everything before it was delivered or a gap.
    next: u64,
    /// Out-of-order data, keyed by offset; pieces never overlap and all
    /// start after `next`.
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// Offset of the FIN, once seen.
    fin: Option<Box<(u64, PacketRef)>>,
    fin_delivered: bool,
    /// Highest offset the peer acknowledged.
    /// (0 until the peer acknowledges anything)
    peer_acked: u64,
    /// The peer's latest advertised receive window, scaled.
    /// ([`NO_WINDOW`] until the peer advertises one)
    peer_window: u64,
    /// How far the last advance of `peer_acked` moved it. An advance of
    /// exactly one with no FIN seen is most likely the acknowledgement of
    /// an uncaptured FIN, not of a data byte.
    last_ack_step: u64,
    /// Packets of the flow seen while an acknowledged hole stays open.
    hole_age: u32,
    /// Offset at which the current snaplen cut begins and where it ends.
    snaplen_cut: Option<Box<(u64, u64)>>,
    /// The last delivered bytes (`retained_start` is the offset of the
    /// first) and the packets that delivered them.
    retained: Option<Box<RecentBytes>>,
    /// Counters, allocated with the direction's first payload (an idle
    /// direction has none to count).
    stats: Option<Box<DirectionStats>>,
}

impl Reassembler {
    /// The stream starts after this initial sequence number (SYN seen).
    pub(crate) fn set_isn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// The stream is picked up at `seq` (no SYN seen).
    pub(crate) fn set_start(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq);
        }
    }

    /// Could a RST with this sequence number come from this direction's
    /// sender? Its sequence number is the sender's next byte: at the
    /// stream's next offset, or ahead of it by what is still in flight. A
    /// RST far outside that (a blind injection) is ignored by the real
    /// endpoints (RFC 5961 3.2), so it does not end the session here either.
    pub(crate) fn plausible_rst(&self, seq: u32) -> bool {
        match self.signed_offset_of(seq) {
            None => true,
            Some(off) => {
                let next = i64::try_from(self.next).unwrap_or(i64::MAX);
                let acked = i64::try_from(self.peer_acked).unwrap_or(i64::MAX);
                let window = match self.peer_window {
                    NO_WINDOW => RST_WINDOW,
                    w => i64::try_from(w)
                        .unwrap_or(i64::MAX)
                        .saturating_add(RST_SLACK),
                };
                let limit = next.max(acked).saturating_add(window);
                (next - 1..=limit).contains(&off)
            }
        }
    }

    /// The peer's receive window (scaled), from its latest segment.
    pub(crate) fn set_peer_window(&mut self, window: u64) {
        self.peer_window = window;
    }

    /// The direction's counters.
    pub(crate) fn stats(&self) -> DirectionStats {
        self.stats.as_deref().copied().unwrap_or_default()
    }

    fn stat(&mut self) -> &mut DirectionStats {
        self.stats.get_or_insert_with(Box::default)
    }

    /// Sequence number of stream offset 0, once known.
    pub(crate) fn start(&self) -> Option<u32> {
        self.base
    }

    pub(crate) fn has_start(&self) -> bool {
        self.base.is_some()
    }

    /// Next offset to be delivered.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn next_offset(&self) -> u64 {
        self.next
    }

    /// True when the FIN was reached and everything before it delivered.
    pub(crate) fn finished(&self) -> bool {
        self.fin_delivered
    }

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Memory held out of order: the buffered bytes and their bookkeeping.
    pub(crate) fn held_bytes(&self) -> usize {
        self.pending_bytes + self.pending.len() * PIECE_COST
    }

    /// Maps a sequence number to a signed stream offset near `next`
    /// (negative: before the start of the stream).
    fn signed_offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let next_seq = base.wrapping_add(self.next as u32);
        let delta = i64::from(seq.wrapping_sub(next_seq) as i32);
        i64::try_from(self.next).ok()?.checked_add(delta)
    }

    /// Maps a sequence number to a stream offset near `next`. `None` when it
    /// lies before the start of the stream.
    fn offset_of(&self, seq: u32) -> Option<u64> {
        u64::try_from(self.signed_offset_of(seq)?).ok()
    }

    /// The stream offset an acknowledgement number of the peer points at,
    /// once this direction's start is known.
    pub(crate) fn ack_offset(&self, ack: u32) -> Option<u64> {
        self.offset_of(ack)
    }

    /// Records the peer's acknowledgement number for this direction.
    pub(crate) fn peer_ack(&mut self, ack: u32) {
        if let Some(off) = self.offset_of(ack) {
            let before = self.peer_acked;
            if off > before {
                self.last_ack_step = off - before;
                self.peer_acked = off;
            }
        }
    }

    /// A segment of this direction.
    pub(crate) fn segment(
        &mut self,
        seg: Segment<'_>,
        limits: &ReassemblyLimits,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let Segment {
            seq,
            payload,
            missing,
            fin,
            packet,
            ack,
        } = seg;
        if self.base.is_none() {
            self.base = Some(seq);
        }
        let Some(signed) = self.signed_offset_of(seq) else {
            return;
        };
        let Some(located) = self.locate(signed, payload, missing, fin) else {
            return;
        };
        let Located {
            off,
            payload,
            fin,
            wire_end,
        } = located;
        if fin && self.fin.is_none() {
            self.fin = Some(Box::new((wire_end, packet)));
            self.cut_at_fin(wire_end);
        }
        if !payload.is_empty() || missing > 0 {
            self.stat().segments += 1;
        }
        if missing > 0 {
            self.note_snaplen_cut(off + payload.len() as u64, wire_end);
        }
        let data = self.clip_at_fin(off, payload);
        let (off, data) = self.skip_delivered(off, data, packet, out);
        if !data.is_empty() {
            self.insert(off, data, Origin { packet, ack }, limits, out);
        }
        self.advance_past_cut(out);
        self.deliver_fin(out);
    }

    /// Where a segment starting at stream offset `signed` lies: bytes
    /// before the start of the stream (a retransmission reaching back past
    /// where a mid-stream pickup began) are cut off, and a FIN behind what
    /// the stream already holds is dropped. `None` when nothing is left.
    fn locate<'p>(
        &self,
        signed: i64,
        payload: &'p [u8],
        missing: u32,
        fin: bool,
    ) -> Option<Located<'p>> {
        let before_start = usize::try_from(signed.min(0).unsigned_abs()).unwrap_or(usize::MAX);
        // Where the segment ends on the wire (snaplen-cut bytes included),
        // which is where its FIN sits. A FIN behind what the stream already
        // holds is stale or forged: a real FIN ends the stream after its
        // last byte, so it cannot cut bytes that were already delivered.
        let seg_end = signed
            .saturating_add(payload.len() as i64)
            .saturating_add(i64::from(missing));
        let fin = fin && u64::try_from(seg_end).is_ok_and(|end| end >= self.next);
        let payload = payload.get(before_start..).unwrap_or_default();
        if before_start > 0 && payload.is_empty() && !fin && seg_end <= 0 {
            return None;
        }
        let off = signed.max(0) as u64;
        let captured_end = off + payload.len() as u64;
        // (Cut-off bytes before the stream start do not count either.)
        let wire_end = u64::try_from(seg_end).unwrap_or(0).max(captured_end);
        Some(Located {
            off,
            payload,
            fin,
            wire_end,
        })
    }

    /// Records the bytes from `captured_end` to `wire_end` that snaplen cut
    /// off, as far as they are ahead of the stream and before its FIN.
    fn note_snaplen_cut(&mut self, captured_end: u64, wire_end: u64) {
        if wire_end <= self.next {
            return;
        }
        let end = self
            .fin
            .as_deref()
            .map_or(wire_end, |&(f, _)| wire_end.min(f));
        let start = captured_end.max(self.next);
        if end > start {
            self.snaplen_cut = Some(Box::new((start, end)));
        }
    }

    /// `data` at `off` without the bytes past the FIN (not part of the
    /// stream; counted).
    fn clip_at_fin<'p>(&mut self, off: u64, data: &'p [u8]) -> &'p [u8] {
        let Some(&(fin_off, _)) = self.fin.as_deref() else {
            return data;
        };
        let end = off + data.len() as u64;
        if end <= fin_off {
            return data;
        }
        let keep = fin_off.saturating_sub(off).min(data.len() as u64) as usize;
        self.stat().bytes_after_fin += (data.len() - keep) as u64;
        data.get(..keep).unwrap_or_default()
    }

    /// The part of `data` (at `off`) before `next` was already delivered
    /// (or is a gap): it is compared with what was retained and counted as
    /// retransmitted. Returns the rest and where it starts.
    fn skip_delivered<'p>(
        &mut self,
        off: u64,
        data: &'p [u8],
        packet: PacketRef,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) -> (u64, &'p [u8]) {
        if off >= self.next || data.is_empty() {
            return (off, data);
        }
        let old = (self.next - off).min(data.len() as u64) as usize;
        let (before, rest) = data.split_at(old);
        self.compare_with_retained(off, before, packet, out);
        self.stat().retransmitted_bytes += old as u64;
        (off + old as u64, rest)
    }

    /// Called once per packet of the flow: closes holes the peer has
    /// acknowledged once they have stayed open long enough.
    pub(crate) fn tick(&mut self, out: &mut dyn FnMut(StreamEvent<'_>)) {
        let limit = self.hole_limit();
        if limit > self.next {
            self.hole_age += 1;
            if self.hole_age > ACKED_HOLE_PATIENCE {
                self.hole_age = 0;
                while self.hole_limit() > self.next {
                    let upto = self
                        .first_pending()
                        .unwrap_or(u64::MAX)
                        .min(self.hole_limit());
                    self.gap_to(upto, GapReason::NotCaptured, out);
                    self.drain(out);
                }
                self.deliver_fin(out);
            }
        } else {
            self.hole_age = 0;
        }
    }

    /// End of the flow: every hole becomes a gap and everything buffered is
    /// delivered.
    pub(crate) fn finish(&mut self, out: &mut dyn FnMut(StreamEvent<'_>)) {
        while let Some(first) = self.first_pending() {
            self.gap_to(first, GapReason::FlowEnd, out);
            self.drain(out);
        }
        let acked = self.hole_limit();
        if acked > self.next {
            self.gap_to(acked, GapReason::NotCaptured, out);
        }
        if let Some(&(fin_off, _)) = self.fin.as_deref() {
            if fin_off > self.next {
                self.gap_to(fin_off, GapReason::FlowEnd, out);
            }
        }
        self.deliver_fin(out);
    }

    /// The flow table's memory budget ran out: every hole becomes a gap
    /// and everything buffered is delivered, as when the buffer limit is
    /// hit. Returns the number of holes given up.
    pub(crate) fn give_up_holes(&mut self, out: &mut dyn FnMut(StreamEvent<'_>)) -> u64 {
        let mut holes = 0;
        while let Some(first) = self.first_pending() {
            holes += 1;
            self.stat().budget_gaps += 1;
            self.gap_to(first, GapReason::MemoryBudget, out);
            self.drain(out);
        }
        self.advance_past_cut(out);
        self.deliver_fin(out);
        holes
    }

    /// Acknowledged bytes the stream has not reached, capped at the FIN
    /// (whose own sequence number the peer also acknowledges).
    fn hole_limit(&self) -> u64 {
        let acked = self.peer_acked;
        match self.fin.as_deref() {
            Some(&(fin_off, _)) => acked.min(fin_off),
            None if self.last_ack_step == 1 => acked - 1,
            None => acked,
        }
    }

    /// A FIN just fixed the stream's end: bytes buffered beyond it, and
    /// a snaplen cut reaching past it, are not part of the stream.
    fn cut_at_fin(&mut self, fin_off: u64) {
        let beyond = self.pending.split_off(&fin_off);
        let mut dropped: u64 = beyond.values().map(|p| p.data.len() as u64).sum();
        // A piece starting before the FIN may still reach past it.
        if let Some((&start, last)) = self.pending.last_key_value() {
            let keep = fin_off.saturating_sub(start);
            let len = last.data.len() as u64;
            if len > keep {
                dropped += len - keep;
                if let Some(last) = self.pending.get_mut(&start) {
                    last.data.truncate(keep as usize);
                }
            }
        }
        self.pending_bytes = self
            .pending_bytes
            .saturating_sub(usize::try_from(dropped).unwrap_or(usize::MAX));
        self.stat().bytes_after_fin += dropped;
        if let Some(cut) = self.snaplen_cut.as_deref_mut() {
            cut.1 = cut.1.min(fin_off);
            if cut.1 <= cut.0 {
                self.snaplen_cut = None;
            }
        }
    }

    fn first_pending(&self) -> Option<u64> {
        self.pending.first_key_value().map(|(k, _)| *k)
    }

    /// Inserts `data` at `off >= next`: the parts not yet held are delivered
    /// (if at `next`) or buffered; the parts already held are compared.
    fn insert(
        &mut self,
        off: u64,
        data: &[u8],
        origin: Origin,
        limits: &ReassemblyLimits,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let end = off + data.len() as u64;
        // Fast path: in order with nothing buffered (the common case).
        if off == self.next && self.pending.is_empty() {
            self.deliver(off, data, origin, out);
            return;
        }
        // Pieces already buffered that overlap [off, end).
        let held: Vec<(u64, u64)> = self
            .pending
            .range(..end)
            .rev()
            .take_while(|(start, p)| **start + p.data.len() as u64 > off)
            .map(|(start, p)| (*start, *start + p.data.len() as u64))
            .collect();
        // Compare the overlaps first, while every held piece is still
        // buffered; then place the new parts (which may drain the held ones).
        let mut new_parts = Vec::with_capacity(held.len() + 1);
        let mut cursor = off;
        for (h_start, h_end) in held.into_iter().rev() {
            if h_start > cursor {
                new_parts.push((cursor, h_start));
            }
            let (c_start, c_end) = (cursor.max(h_start), end.min(h_end));
            if c_start < c_end {
                let theirs = slice(data, off, c_start, c_end);
                self.compare_with_pending(h_start, c_start, theirs, origin.packet, out);
                self.stat().retransmitted_bytes += c_end - c_start;
            }
            cursor = cursor.max(h_end);
        }
        if cursor < end {
            new_parts.push((cursor, end));
        }
        for (from, to) in new_parts {
            self.place(from, slice(data, off, from, to), origin, out);
        }
        self.drain(out);
        self.enforce_limits(limits, out);
    }

    /// New bytes at `off`: delivered directly when the stream is there,
    /// buffered otherwise.
    fn place(
        &mut self,
        off: u64,
        data: &[u8],
        origin: Origin,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if data.is_empty() {
            return;
        }
        if off == self.next {
            self.deliver(off, data, origin, out);
            self.drain(out);
        } else {
            self.stat().out_of_order_segments += 1;
            self.pending_bytes += data.len();
            self.pending.insert(
                off,
                Pending {
                    data: data.to_vec(),
                    packet: origin.packet,
                    ack: origin.ack,
                },
            );
        }
    }

    /// Delivers buffered pieces that the stream has reached.
    fn drain(&mut self, out: &mut dyn FnMut(StreamEvent<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let (off, piece) = entry.remove_entry();
            self.pending_bytes -= piece.data.len();
            let origin = Origin {
                packet: piece.packet,
                ack: piece.ack,
            };
            self.deliver(off, &piece.data, origin, out);
        }
    }

    fn deliver(
        &mut self,
        off: u64,
        data: &[u8],
        origin: Origin,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        debug_assert_eq!(off, self.next);
        self.retain(off, data, origin.packet);
        self.next = off + data.len() as u64;
        self.stat().delivered_bytes += data.len() as u64;
        out(StreamEvent::Data {
            offset: off,
            bytes: data,
            packet: origin.packet,
            ack: origin.ack,
        });
    }

    fn gap_to(&mut self, upto: u64, reason: GapReason, out: &mut dyn FnMut(StreamEvent<'_>)) {
        if upto <= self.next {
            return;
        }
        let len = upto - self.next;
        self.stat().gaps += 1;
        self.stat().gap_bytes += len;
        out(StreamEvent::Gap {
            offset: self.next,
            len,
            reason,
        });
        self.next = upto;
        // What was retained no longer adjoins the stream.
        if let Some(r) = self.retained.as_mut() {
            r.reset(upto);
        }
    }

    /// Bytes a snaplen cut off become a gap once the stream reaches them.
    fn advance_past_cut(&mut self, out: &mut dyn FnMut(StreamEvent<'_>)) {
        if let Some(&(from, to)) = self.snaplen_cut.as_deref() {
            if self.next >= to {
                self.snaplen_cut = None;
            } else if self.next >= from {
                let upto = self.first_pending().map_or(to, |p| p.min(to));
                self.gap_to(upto, GapReason::Snaplen, out);
                self.snaplen_cut = None;
                self.drain(out);
            }
        }
    }

    fn deliver_fin(&mut self, out: &mut dyn FnMut(StreamEvent<'_>)) {
        if let Some(&(fin_off, packet)) = self.fin.as_deref() {
            if !self.fin_delivered && self.next >= fin_off && self.pending.is_empty() {
                self.fin_delivered = true;
                out(StreamEvent::Fin {
                    offset: fin_off,
                    packet,
                });
            }
        }
    }

    fn enforce_limits(&mut self, limits: &ReassemblyLimits, out: &mut dyn FnMut(StreamEvent<'_>)) {
        while self.pending_bytes > limits.max_pending_bytes
            || self.pending.len() > limits.max_pending_segments
        {
            let Some(first) = self.first_pending() else {
                break;
            };
            self.stat().buffer_limit_hits += 1;
            self.gap_to(first, GapReason::BufferLimit, out);
            self.drain(out);
        }
    }

    fn retain(&mut self, off: u64, data: &[u8], packet: PacketRef) {
        self.retained
            .get_or_insert_with(Box::default)
            .push(off, data, packet, RETAINED_BYTES);
    }

    /// A retransmission of bytes already delivered: compare with what is
    /// still retained.
    fn compare_with_retained(
        &mut self,
        off: u64,
        data: &[u8],
        packet: PacketRef,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        // A keep-alive: one byte (often garbage) just before the next
        // expected one (RFC 1122 4.2.3.6). Not a retransmission to compare.
        if data.len() == 1 && off + 1 == self.next {
            return;
        }
        let end = off + data.len() as u64;
        let Some(retained) = self.retained.as_ref() else {
            self.stat().unverified_retransmitted_bytes += data.len() as u64;
            return;
        };
        let (r_start, r_end) = retained.range();
        let (c_start, c_end) = (off.max(r_start), end.min(r_end));
        let compared = c_end.saturating_sub(c_start);
        let ours = retained.bytes(c_start, c_end);
        let kept = retained.packet_at(c_start).unwrap_or(packet);
        self.stat().unverified_retransmitted_bytes += data.len() as u64 - compared;
        if compared == 0 {
            return;
        }
        let theirs = slice(data, off, c_start, c_end);
        if ours != theirs {
            self.report_conflict(c_start, &ours, kept, theirs, packet, out);
        }
    }

    fn compare_with_pending(
        &mut self,
        held_at: u64,
        off: u64,
        data: &[u8],
        packet: PacketRef,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        let Some(held) = self.pending.get(&held_at) else {
            return;
        };
        let from = (off - held_at) as usize;
        let ours = held.data.get(from..from + data.len()).unwrap_or_default();
        if ours != data {
            let (ours, kept) = (ours.to_vec(), held.packet);
            self.report_conflict(off, &ours, kept, data, packet, out);
        }
    }

    fn report_conflict(
        &mut self,
        off: u64,
        ours: &[u8],
        kept: PacketRef,
        theirs: &[u8],
        ignored: PacketRef,
        out: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        self.stat().conflicts += 1;
        let excerpt = |b: &[u8]| b.get(..CONFLICT_EXCERPT).unwrap_or(b).to_vec();
        let conflict = Conflict {
            offset: off,
            len: ours.len() as u64,
            kept,
            kept_bytes: excerpt(ours),
            ignored,
            ignored_bytes: excerpt(theirs),
        };
        out(StreamEvent::Conflict(&conflict));
    }
}

/// The part of `data` (which starts at stream offset `base`) between the
/// offsets `from` and `to`.
fn slice(data: &[u8], base: u64, from: u64, to: u64) -> &[u8] {
    let a = (from - base) as usize;
    let b = (to - base) as usize;
    data.get(a..b).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "reassembly_tests.rs"]
mod tests;
