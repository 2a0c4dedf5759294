//! Table-driven tests of the reassembler, in the spirit of smoltcp's
//! assembler tests: every overlap, hole and wraparound case is one line.
//!
//! A case is a list of operations and the events they must produce,
//! rendered compactly:
//! - `d3:abc`   data "abc" at stream offset 3
//! - `g0+3/not-captured` gap of 3 bytes at offset 0, with its reason
//! - `c2:cd>XY` conflict at offset 2: kept "cd", ignored "XY"
//! - `fin6`     FIN reached at offset 6

use super::*;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Segment at offset (relative to the ISN + 1) with payload.
    Seg(u32, &'static str),
    /// Segment whose last `n` bytes were cut by snaplen.
    Cut(u32, &'static str, u32),
    /// FIN segment at offset, with payload.
    Fin(u32, &'static str),
    /// The peer acknowledges up to offset.
    Ack(u32),
    /// `n` packets of the flow pass.
    Tick(u32),
    /// End of the flow.
    Finish,
    /// The table's memory budget takes what the direction holds.
    GiveUp,
}
use Op::*;

const ISN: u32 = 1000;

fn run_with(isn: u32, limits: ReassemblyLimits, ops: &[Op]) -> (String, DirectionStats) {
    let mut r = Reassembler::default();
    r.set_isn(isn);
    let mut log: Vec<String> = Vec::new();
    let mut out = |ev: StreamEvent<'_>| {
        log.push(match ev {
            StreamEvent::Data { offset, bytes, .. } => {
                format!("d{offset}:{}", String::from_utf8_lossy(bytes))
            }
            StreamEvent::Gap {
                offset,
                len,
                reason,
            } => {
                let reason = serde_json::to_string(&reason).unwrap_or_default();
                format!("g{offset}+{len}/{}", reason.trim_matches('"'))
            }
            StreamEvent::Conflict(c) => format!(
                "c{}:{}>{}",
                c.offset,
                String::from_utf8_lossy(&c.kept_bytes),
                String::from_utf8_lossy(&c.ignored_bytes)
            ),
            StreamEvent::Fin { offset, .. } => format!("fin{offset}"),
        })
    };
    for (i, op) in ops.iter().enumerate() {
        let packet = PacketRef {
            input: 0,
            frame: i as u64 + 1,
            ts: Timestamp::ZERO,
        };
        let seg = |off: u32, data: &'static str, missing: u32, fin: bool| Segment {
            seq: isn.wrapping_add(1).wrapping_add(off),
            payload: data.as_bytes(),
            missing,
            fin,
            packet,
            ack: None,
        };
        match *op {
            Seg(off, data) => r.segment(seg(off, data, 0, false), &limits, &mut out),
            Cut(off, data, n) => r.segment(seg(off, data, n, false), &limits, &mut out),
            Fin(off, data) => r.segment(seg(off, data, 0, true), &limits, &mut out),
            Ack(off) => r.peer_ack(isn.wrapping_add(1).wrapping_add(off)),
            Tick(n) => {
                for _ in 0..n {
                    r.tick(&mut out);
                }
            }
            Finish => r.finish(&mut out),
            GiveUp => {
                r.give_up_holes(&mut out);
                assert_eq!(r.held_bytes(), 0, "nothing held after giving up");
            }
        }
    }
    (log.join(" "), r.stats())
}

fn run(ops: &[Op]) -> String {
    run_with(ISN, ReassemblyLimits::default(), ops).0
}

const PATIENCE: u32 = ACKED_HOLE_PATIENCE + 1;

#[test]
fn cases() {
    #[rustfmt::skip]
    let table: &[(&str, &[Op], &str)] = &[
        ("in order",                 &[Seg(0, "abc"), Seg(3, "def")],                       "d0:abc d3:def"),
        ("reordered pair",           &[Seg(3, "def"), Seg(0, "abc")],                       "d0:abc d3:def"),
        ("three reversed",           &[Seg(6, "g"), Seg(3, "def"), Seg(0, "abc")],          "d0:abc d3:def d6:g"),
        ("exact duplicate",          &[Seg(0, "abc"), Seg(0, "abc")],                       "d0:abc"),
        ("duplicate, other bytes",   &[Seg(0, "abc"), Seg(0, "xyz")],                       "d0:abc c0:abc>xyz"),
        ("duplicate of pending",     &[Seg(3, "def"), Seg(3, "def"), Seg(0, "abc")],        "d0:abc d3:def"),
        ("pending, other bytes",     &[Seg(3, "def"), Seg(3, "DEF"), Seg(0, "abc")],        "c3:def>DEF d0:abc d3:def"),
        ("inside delivered",         &[Seg(0, "abcdef"), Seg(2, "cd")],                     "d0:abcdef"),
        ("inside delivered, differs",&[Seg(0, "abcdef"), Seg(2, "XY")],                     "d0:abcdef c2:cd>XY"),
        ("straddles next",           &[Seg(0, "abc"), Seg(1, "bcde")],                      "d0:abc d3:de"),
        ("straddles next, differs",  &[Seg(0, "abc"), Seg(1, "bXde")],                      "d0:abc c1:bc>bX d3:de"),
        ("front overlap of pending", &[Seg(3, "def"), Seg(1, "bcd"), Seg(0, "a")],          "d0:a d1:bc d3:def"),
        ("tail overlap of pending",  &[Seg(2, "cde"), Seg(3, "dEfg"), Seg(0, "ab")],        "c3:de>dE d0:ab d2:cde d5:fg"),
        ("covers two pending",       &[Seg(2, "c"), Seg(5, "f"), Seg(0, "abcdefg")],        "d0:ab d2:c d3:de d5:f d6:g"),
        ("covers pending, differs",  &[Seg(2, "c"), Seg(0, "abXd")],                        "c2:c>X d0:ab d2:c d3:d"),
        ("fills hole exactly",       &[Seg(0, "ab"), Seg(4, "ef"), Seg(2, "cd")],           "d0:ab d2:cd d4:ef"),
        ("empty segment",            &[Seg(0, ""), Seg(0, "a")],                            "d0:a"),
        ("fin in order",             &[Seg(0, "abc"), Fin(3, "")],                          "d0:abc fin3"),
        ("fin with data",            &[Fin(0, "abc")],                                      "d0:abc fin3"),
        ("fin before its data",      &[Fin(3, ""), Seg(0, "abc")],                          "d0:abc fin3"),
        ("data past fin ignored",    &[Fin(0, "abc"), Seg(3, "x")],                         "d0:abc fin3"),
        ("fin behind stream ignored",&[Seg(0, "abcdef"), Fin(2, ""), Seg(6, "gh")],         "d0:abcdef d6:gh"),
        ("late fin trims buffered",  &[Seg(4, "efgh"), Fin(2, "cd"), Seg(0, "ab")],         "d0:ab d2:cd fin4"),
        ("late fin cuts pending",    &[Seg(3, "defg"), Fin(0, "abcde"), Finish],            "d0:abc d3:de fin5"),
        ("fin caps a snaplen cut",   &[Fin(4, ""), Cut(0, "ab", 6)],                        "d0:ab g2+2/snaplen fin4"),
        ("acked hole, patience",     &[Seg(3, "def"), Ack(6), Tick(PATIENCE)],              "g0+3/not-captured d3:def"),
        ("acked hole filled in time",&[Seg(3, "def"), Ack(6), Tick(3), Seg(0, "abc")],      "d0:abc d3:def"),
        ("acked, nothing buffered",  &[Seg(0, "abc"), Ack(9), Tick(PATIENCE)],              "d0:abc g3+6/not-captured"),
        ("ack within stream",        &[Seg(0, "abc"), Ack(3), Tick(PATIENCE)],              "d0:abc"),
        ("ack of fin is no hole",    &[Fin(0, "abc"), Ack(4), Tick(PATIENCE)],              "d0:abc fin3"),
        ("acked hole before fin",    &[Fin(3, "def"), Ack(7), Tick(PATIENCE)],              "g0+3/not-captured d3:def fin6"),
        ("late data after gap",      &[Seg(3, "def"), Ack(6), Tick(PATIENCE), Seg(0, "abc")], "g0+3/not-captured d3:def"),
        ("finish with hole",         &[Seg(3, "def"), Finish],                              "g0+3/flow-end d3:def"),
        ("finish, acked tail",       &[Seg(0, "abc"), Ack(6), Finish],                      "d0:abc g3+3/not-captured"),
        ("finish, fin unreached",    &[Seg(0, "a"), Fin(3, ""), Finish],                    "d0:a g1+2/flow-end fin3"),
        ("snaplen cut in order",     &[Cut(0, "ab", 3), Seg(5, "x")],                       "d0:ab g2+3/snaplen d5:x"),
        ("snaplen, nothing captured",&[Cut(0, "", 4), Cut(4, "", 4)],                       "g0+4/snaplen g4+4/snaplen"),
        ("retransmit fills cut",     &[Cut(3, "d", 2), Seg(0, "abcdef")],                   "d0:abc d3:d d4:ef"),
    ];
    let mut failures = Vec::new();
    for (name, ops, want) in table {
        let got = run(ops);
        if got != *want {
            failures.push(format!("{name}: want `{want}`, got `{got}`"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn wraparound() {
    #[rustfmt::skip]
    let table: &[(u32, &[Op], &str)] = &[
        // The ISN is just below 2^32: offsets keep counting across the wrap.
        (u32::MAX - 1, &[Seg(0, "ab"), Seg(2, "cd")],                 "d0:ab d2:cd"),
        (u32::MAX - 1, &[Seg(2, "cd"), Seg(0, "ab")],                 "d0:ab d2:cd"),
        (u32::MAX - 3, &[Seg(0, "abcdef"), Seg(2, "cd")],             "d0:abcdef"),
        (u32::MAX - 3, &[Seg(0, "abcdef"), Seg(2, "XY")],             "d0:abcdef c2:cd>XY"),
        (u32::MAX,     &[Seg(1, "b"), Ack(2), Tick(PATIENCE)],        "g0+1/not-captured d1:b"),
    ];
    for (isn, ops, want) in table {
        assert_eq!(
            run_with(*isn, ReassemblyLimits::default(), ops).0,
            *want,
            "isn {isn:#x}"
        );
    }
}

#[test]
fn buffer_limits() {
    let bytes = ReassemblyLimits {
        max_pending_bytes: 4,
        max_pending_segments: 100,
    };
    let segments = ReassemblyLimits {
        max_pending_bytes: 100,
        max_pending_segments: 2,
    };
    #[rustfmt::skip]
    let table: &[(ReassemblyLimits, &[Op], &str)] = &[
        (bytes,    &[Seg(2, "cd"), Seg(5, "fgh")],               "g0+2/buffer-limit d2:cd"),
        (bytes,    &[Seg(2, "cd"), Seg(5, "fghij")],             "g0+2/buffer-limit d2:cd g4+1/buffer-limit d5:fghij"),
        (bytes,    &[Seg(2, "cdef")],                            ""),
        (segments, &[Seg(2, "c"), Seg(4, "e"), Seg(6, "g")],     "g0+2/buffer-limit d2:c"),
    ];
    for (limits, ops, want) in table {
        assert_eq!(run_with(ISN, *limits, ops).0, *want);
    }
}

/// The memory budget gives up every hole of the direction at once; the
/// stream then goes on in order, and a late copy of a given-up hole is an
/// (unverified) retransmission.
#[test]
fn give_up_holes() {
    #[rustfmt::skip]
    let table: &[(&[Op], &str)] = &[
        (&[GiveUp],                                       ""),
        (&[Seg(0, "ab"), GiveUp],                         "d0:ab"),
        (&[Seg(2, "cd"), GiveUp, Seg(4, "ef")],           "g0+2/memory-budget d2:cd d4:ef"),
        (&[Seg(2, "c"), Seg(5, "f"), GiveUp],             "g0+2/memory-budget d2:c g3+2/memory-budget d5:f"),
        (&[Seg(2, "cd"), GiveUp, Seg(0, "ab")],           "g0+2/memory-budget d2:cd"),
        (&[Fin(3, "d"), GiveUp],                          "g0+3/memory-budget d3:d fin4"),
        (&[Cut(2, "c", 2), GiveUp],                       "g0+2/memory-budget d2:c g3+2/snaplen"),
    ];
    for (ops, want) in table {
        let (got, stats) = run_with(ISN, ReassemblyLimits::default(), ops);
        assert_eq!(got, *want, "{ops:?}");
        assert_eq!(
            stats.budget_gaps,
            got.matches("memory-budget").count() as u64
        );
    }
}

#[test]
fn held_bytes_count_pieces_and_their_bookkeeping() {
    let mut r = Reassembler::default();
    r.set_isn(ISN);
    let limits = ReassemblyLimits::default();
    let packet = PacketRef {
        input: 0,
        frame: 1,
        ts: Timestamp::ZERO,
    };
    let mut out = |_: StreamEvent<'_>| {};
    let mut held = Vec::new();
    for (off, data) in [(5, "fgh"), (10, "k"), (0, "abcde")] {
        let seg = Segment {
            seq: ISN + 1 + off,
            payload: data.as_bytes(),
            missing: 0,
            fin: false,
            packet,
            ack: None,
        };
        r.segment(seg, &limits, &mut out);
        held.push(r.held_bytes());
    }
    assert_eq!(held, [3 + PIECE_COST, 4 + 2 * PIECE_COST, 1 + PIECE_COST]);
}

#[test]
fn stats_count_every_byte() {
    let (_, stats) = run_with(
        ISN,
        ReassemblyLimits::default(),
        &[
            Seg(3, "def"),
            Seg(0, "abc"),
            Seg(0, "abc"),
            Seg(1, "bX"),
            Fin(6, "gh"),
            Seg(8, "zz"),
        ],
    );
    assert_eq!(stats.delivered_bytes, 8);
    assert_eq!(stats.retransmitted_bytes, 5);
    assert_eq!(stats.out_of_order_segments, 1);
    assert_eq!(stats.conflicts, 1);
    assert_eq!(stats.bytes_after_fin, 2);
}

#[test]
fn conflict_names_both_packets() {
    let mut r = Reassembler::default();
    r.set_isn(ISN);
    let mut conflicts = Vec::new();
    let pkt = |frame| PacketRef {
        input: 0,
        frame,
        ts: Timestamp::ZERO,
    };
    let limits = ReassemblyLimits::default();
    for (frame, data) in [(7, &b"STARTTLS\r\n"[..]), (9, &b"XXXXXXXX\r\n"[..])] {
        let seg = Segment {
            seq: ISN + 1,
            payload: data,
            missing: 0,
            fin: false,
            packet: pkt(frame),
            ack: None,
        };
        r.segment(seg, &limits, &mut |ev| {
            if let StreamEvent::Conflict(c) = ev {
                conflicts.push(c.clone());
            }
        });
    }
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!((c.kept.frame, c.ignored.frame), (7, 9));
    assert_eq!(c.kept_bytes, b"STARTTLS\r\n");
    assert_eq!(c.ignored_bytes, b"XXXXXXXX\r\n");
}

#[test]
fn retransmission_older_than_retained_is_counted_unverified() {
    let big = "x".repeat(RETAINED_BYTES + 10);
    let mut r = Reassembler::default();
    r.set_isn(ISN);
    let limits = ReassemblyLimits::default();
    let pkt = PacketRef {
        input: 0,
        frame: 1,
        ts: Timestamp::ZERO,
    };
    let mut events = 0;
    let seg = |payload| Segment {
        seq: ISN + 1,
        payload,
        missing: 0,
        fin: false,
        packet: pkt,
        ack: None,
    };
    r.segment(seg(big.as_bytes()), &limits, &mut |_| events += 1);
    r.segment(seg(b"DIFFERENT"), &limits, &mut |_| events += 1);
    assert_eq!(events, 1);
    assert_eq!(r.stats().unverified_retransmitted_bytes, 9);
    assert_eq!(r.stats().conflicts, 0);
}

#[test]
fn pickup_trims_bytes_before_start() {
    let mut r = Reassembler::default();
    r.set_start(5000);
    let limits = ReassemblyLimits::default();
    let pkt = PacketRef {
        input: 0,
        frame: 1,
        ts: Timestamp::ZERO,
    };
    let mut log = Vec::new();
    let seg = Segment {
        seq: 4998,
        payload: b"xyabc",
        missing: 0,
        fin: false,
        packet: pkt,
        ack: None,
    };
    r.segment(seg, &limits, &mut |ev| {
        if let StreamEvent::Data { offset, bytes, .. } = ev {
            log.push((offset, bytes.to_vec()));
        }
    });
    assert_eq!(log, vec![(0, b"abc".to_vec())]);
}
