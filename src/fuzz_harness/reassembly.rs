//! The reassembler fed random segments (orders, overlaps, gaps, snaplen
//! cuts, FINs), peer ACKs, ticks and a finish, against a model of what it
//! must deliver.
//!
//! Invariants checked on every event and after every call:
//! - data and gaps are contiguous from offset 0: each byte is delivered at
//!   most once, and nothing is skipped without a gap event;
//! - every delivered byte is the first byte seen at its offset (first-seen
//!   wins), and a conflict's kept bytes are the first-seen ones;
//! - the stream never goes past the furthest byte any segment or ACK
//!   pointed at, nor past the FIN;
//! - the FIN comes once, where the stream is, and nothing follows it; it is
//!   the first FIN not behind the stream (a FIN behind the stream is an old
//!   duplicate or spoofed: a receiver ignores it);
//! - the out-of-order buffer stays within its limits, and is empty after
//!   `finish`, which delivers the FIN if one was seen;
//! - the statistics match the events.

use super::input::Input;
use crate::flow::{PacketRef, Reassembler, ReassemblyLimits, Segment, StreamEvent};
use crate::time::Timestamp;
use std::collections::HashMap;

const PAGE: u64 = 4096;

/// Longest excerpt of each version a conflict keeps (`reassembly::CONFLICT_EXCERPT`).
const CONFLICT_EXCERPT: usize = 256;

/// First byte seen at each stream offset (sparse).
#[derive(Default)]
struct FirstSeen {
    pages: HashMap<u64, Box<[u16]>>,
}

impl FirstSeen {
    fn page(&mut self, index: u64) -> &mut [u16] {
        self.pages
            .entry(index)
            .or_insert_with(|| vec![0; PAGE as usize].into_boxed_slice())
    }

    /// Notes `bytes` seen at `off` (a byte already seen keeps its value).
    fn note(&mut self, mut off: u64, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let at = (off % PAGE) as usize;
            let n = bytes.len().min(PAGE as usize - at);
            let page = self.page(off / PAGE);
            for (slot, b) in page[at..at + n].iter_mut().zip(&bytes[..n]) {
                if *slot == 0 {
                    *slot = 1 + u16::from(*b);
                }
            }
            off += n as u64;
            bytes = &bytes[n..];
        }
    }

    /// True when `bytes` are the first seen at `off`.
    fn matches(&self, mut off: u64, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            let at = (off % PAGE) as usize;
            let n = bytes.len().min(PAGE as usize - at);
            let Some(page) = self.pages.get(&(off / PAGE)) else {
                return false;
            };
            let same = page[at..at + n]
                .iter()
                .zip(&bytes[..n])
                .all(|(slot, b)| *slot == 1 + u16::from(*b));
            if !same {
                return false;
            }
            off += n as u64;
            bytes = &bytes[n..];
        }
        true
    }
}

/// What the consumer saw.
#[derive(Default)]
struct Seen {
    pos: u64,
    delivered: u64,
    gap_bytes: u64,
    gaps: u64,
    conflicts: u64,
    fin: Option<u64>,
    /// The stream must not go past this (the accepted FIN).
    fin_limit: Option<u64>,
}

/// Set `FUZZ_TRACE=1` to print every operation and event (when replaying a
/// crash input).
fn tracing() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

fn check_event(seen: &mut Seen, model: &FirstSeen, event: StreamEvent<'_>) {
    if tracing() {
        match &event {
            StreamEvent::Data { offset, bytes, .. } => {
                eprintln!("  -> data {offset}+{}", bytes.len());
            }
            other => eprintln!("  -> {other:?}"),
        }
    }
    match event {
        StreamEvent::Data { offset, bytes, .. } => {
            assert!(seen.fin.is_none(), "data after the FIN");
            assert_eq!(offset, seen.pos, "data not contiguous");
            assert!(!bytes.is_empty(), "empty data event");
            assert!(
                model.matches(offset, bytes),
                "bytes at {offset}+{} are not the first ones seen there",
                bytes.len()
            );
            seen.pos += bytes.len() as u64;
            seen.delivered += bytes.len() as u64;
            if let Some(limit) = seen.fin_limit {
                assert!(seen.pos <= limit, "data past the FIN at {limit}");
            }
        }
        StreamEvent::Gap { offset, len, .. } => {
            assert!(seen.fin.is_none(), "gap after the FIN");
            assert_eq!(offset, seen.pos, "gap not contiguous");
            assert!(len > 0, "empty gap");
            seen.pos += len;
            seen.gap_bytes += len;
            seen.gaps += 1;
            if let Some(limit) = seen.fin_limit {
                assert!(seen.pos <= limit, "gap past the FIN at {limit}");
            }
        }
        StreamEvent::Conflict(c) => {
            seen.conflicts += 1;
            assert!(c.kept_bytes.len() <= CONFLICT_EXCERPT);
            assert!(c.ignored_bytes.len() <= CONFLICT_EXCERPT);
            assert!(
                model.matches(c.offset, &c.kept_bytes),
                "a conflict at {} keeps later bytes",
                c.offset
            );
        }
        StreamEvent::Fin { offset, .. } => {
            assert!(seen.fin.is_none(), "a second FIN");
            assert_eq!(offset, seen.pos, "FIN not where the stream is");
            assert_eq!(Some(offset), seen.fin_limit, "the FIN is the one accepted");
            seen.fin = Some(offset);
        }
    }
}

/// The stream offset of `seq`, as the reassembler maps it: the 32-bit
/// distance from the next expected byte, signed.
fn offset_of(base: u32, next: u64, seq: u32) -> i64 {
    let next_seq = base.wrapping_add(next as u32);
    next as i64 + i64::from(seq.wrapping_sub(next_seq) as i32)
}

fn packet(n: u64) -> PacketRef {
    PacketRef {
        input: 0,
        frame: n,
        ts: Timestamp::new(1_700_000_000 + n as i64, 0),
    }
}

/// The reassembly fuzz target: the invariants, the FIN's place included
/// (a FIN behind the stream is ignored; nothing past the first FIN at or
/// after the stream's next byte reaches the stream).
pub(crate) fn reassembly(data: &[u8]) {
    run(data);
}

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.u8();
    let isn = input.u32();
    let limits = if setup & 1 == 1 {
        ReassemblyLimits {
            max_pending_bytes: 1 + usize::from(input.u16() % 8192),
            max_pending_segments: 1 + usize::from(input.u8() % 32),
        }
    } else {
        ReassemblyLimits::default()
    };
    let mut r = Reassembler::default();
    let mut base = match (setup >> 1) & 3 {
        0 => {
            r.set_isn(isn);
            Some(isn.wrapping_add(1))
        }
        1 => {
            r.set_start(isn);
            Some(isn)
        }
        _ => None,
    };
    let mut model = FirstSeen::default();
    let mut seen = Seen::default();
    // The furthest offset a segment or an ACK pointed at.
    let mut reach = 0u64;
    let mut frame = 0u64;
    let mut finished = false;
    while !input.is_empty() && !finished {
        frame += 1;
        let op = input.u8();
        match op % 8 {
            0..=3 => {
                let next = r.next_offset();
                let b = base.unwrap_or(isn);
                let seq = match (op >> 3) & 3 {
                    // Near the next expected byte (behind it or ahead).
                    0 | 1 => {
                        let delta = i64::from(input.u16() as i16);
                        b.wrapping_add((next as i64 + delta) as u32)
                    }
                    // A small absolute offset.
                    2 => b.wrapping_add(u32::from(input.u16())),
                    // Anywhere.
                    _ => input.u32(),
                };
                let len = if op & 0x20 != 0 {
                    usize::from(input.u16())
                } else {
                    usize::from(input.u8())
                };
                let salt = input.u8();
                let missing = if op & 0x40 != 0 {
                    u32::from(input.u8())
                } else {
                    0
                };
                let fin = op & 0x80 != 0;
                let ack = input.bool().then(|| input.u32());
                let b = *base.get_or_insert(seq);
                let start = offset_of(b, next, seq);
                let payload: Vec<u8> = (0..len)
                    .map(|i| {
                        let at = (start + i as i64) as u64;
                        salt.wrapping_add((at as u8).wrapping_mul(31))
                    })
                    .collect();
                let cut = usize::try_from((-start).max(0)).unwrap_or(usize::MAX);
                if let Some(kept) = payload.get(cut..) {
                    model.note(start.max(0) as u64, kept);
                }
                let wire_end = start + len as i64 + i64::from(missing);
                if fin && seen.fin_limit.is_none() && wire_end >= next as i64 {
                    // The FIN the stream must end at.
                    seen.fin_limit = Some(wire_end as u64);
                }
                if wire_end > 0 {
                    reach = reach.max(wire_end as u64);
                }
                if tracing() {
                    eprintln!(
                        "segment at {start} len {len} missing {missing} fin {fin} (next {next})"
                    );
                }
                let seg = Segment {
                    seq,
                    payload: &payload,
                    missing,
                    fin,
                    packet: packet(frame),
                    ack,
                };
                r.segment(seg, &limits, &mut |ev| check_event(&mut seen, &model, ev));
                assert!(
                    r.pending_bytes() <= limits.max_pending_bytes,
                    "out-of-order buffer over its limit: {} > {}",
                    r.pending_bytes(),
                    limits.max_pending_bytes
                );
            }
            4 | 5 => {
                let next = r.next_offset();
                let ack = match base {
                    Some(b) if op & 0x10 == 0 => {
                        b.wrapping_add((next + u64::from(input.u16())) as u32)
                    }
                    _ => input.u32(),
                };
                if tracing() {
                    eprintln!("peer ack {ack:#x}");
                }
                r.peer_ack(ack);
                if let Some(b) = base {
                    let at = offset_of(b, next, ack);
                    if at > 0 && r.has_start() {
                        reach = reach.max(at as u64);
                    }
                }
            }
            6 => {
                if tracing() {
                    eprintln!("tick x{}", (op >> 3) + 1);
                }
                for _ in 0..=(op >> 3) {
                    r.tick(&mut |ev| check_event(&mut seen, &model, ev));
                }
            }
            _ => finished = true,
        }
        assert!(
            seen.pos <= reach.max(r.next_offset()),
            "stream at {} went past everything seen ({reach})",
            seen.pos
        );
        assert_eq!(seen.pos, r.next_offset(), "events and next offset agree");
    }
    r.finish(&mut |ev| check_event(&mut seen, &model, ev));
    assert_eq!(r.pending_bytes(), 0, "finish leaves nothing buffered");
    assert!(seen.pos <= reach, "stream went past everything seen");
    if seen.fin_limit.is_some() {
        assert!(r.finished(), "finish delivers the FIN");
        assert_eq!(seen.fin, seen.fin_limit);
    }
    assert_eq!(r.stats().delivered_bytes, seen.delivered);
    assert_eq!(r.stats().gap_bytes, seen.gap_bytes);
    assert_eq!(r.stats().gaps, seen.gaps);
    assert_eq!(r.stats().conflicts, seen.conflicts);
}
