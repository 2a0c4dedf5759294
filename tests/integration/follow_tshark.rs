//! stripwatch's TCP reassembly against Wireshark's: for every TCP session
//! of every capture under `samples/`, the client and server streams must
//! equal what `tshark -q -z follow,tcp,raw,N` prints (byte-identical without
//! gaps, identical between gaps otherwise). See `common/compare.rs` for the
//! exact rules and `common/follow.rs` for how tshark represents gaps.
//!
//! Needs tshark: ignored unless run with `STRIPWATCH_EXTERNAL_TESTS=1`.
//! `STRIPWATCH_FOLLOW_DIR=DIR` compares the captures under DIR instead of
//! `samples/`; `STRIPWATCH_FOLLOW_REPORT=1` prints a table of every session
//! and does not fail on differences (`scripts/compare-follow.sh DIR`).

use crate::common;
use crate::common::compare::{
    Row, Verdict, compare_capture, format_table, summarize, summarize_by_file,
};
use crate::common::follow::{Chunk, capture_files, stripwatch_sessions, tshark_streams};
use crate::common::pcapgen::{ACK, Conn, FIN, PSH, PcapWriter, RST, SYN};
use std::path::{Path, PathBuf};

/// Names of captures that are damaged on purpose.
const DAMAGED: [&str; 4] = ["truncated", "corrupt", "broken", "damaged"];

/// Compares one capture; a file stripwatch cannot read to its end is
/// skipped when its name says it is damaged on purpose, a failure otherwise.
fn compare_file(path: &Path, name: &str) -> Vec<Row> {
    let (ours, error) = stripwatch_sessions(path);
    if let Some(error) = error {
        let lower = name.to_lowercase();
        let damaged = DAMAGED.iter().any(|d| lower.contains(d));
        eprintln!(
            "{} {name}: stripwatch cannot read it to its end: {error}",
            if damaged {
                "skipping damaged capture"
            } else {
                "UNREADABLE"
            }
        );
        if damaged {
            return Vec::new();
        }
        return vec![Row {
            file: name.to_string(),
            stream: None,
            session: None,
            client: "-".into(),
            server: "-".into(),
            dirs: None,
            verdict: Verdict::Different { offset: 0 },
            notes: vec![format!("stripwatch cannot read the file: {error}")],
        }];
    }
    compare_capture(name, &ours, &tshark_streams(path))
}

fn compare_dir(dir: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for path in capture_files(dir) {
        let name = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        rows.extend(compare_file(&path, &name));
    }
    rows
}

#[test]
#[ignore = "needs tshark: STRIPWATCH_EXTERNAL_TESTS=1"]
fn sessions_match_tshark_follow() {
    common::require_external(&["tshark"]);
    let dir = std::env::var_os("STRIPWATCH_FOLLOW_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("samples"));
    let report = std::env::var("STRIPWATCH_FOLLOW_REPORT").is_ok_and(|v| v == "1");
    let files = capture_files(&dir);
    assert!(!files.is_empty(), "no captures under {}", dir.display());
    let rows = compare_dir(&dir);
    let failures: Vec<Row> = rows
        .iter()
        .filter(|r| r.verdict.is_failure())
        .cloned()
        .collect();
    if report {
        println!("{}", format_table(&rows));
        println!("per capture:\n{}", summarize_by_file(&rows));
    }
    println!(
        "{} capture(s), {} row(s) under {}: {}",
        files.len(),
        rows.len(),
        dir.display(),
        summarize(&rows)
    );
    if !report {
        assert!(
            failures.is_empty(),
            "stripwatch's streams differ from tshark's:\n{}",
            format_table(&failures)
        );
    }
}

/// A synthetic capture, what the comparison must conclude, and a check of
/// tshark's own output (which pins down its representation).
struct Case {
    name: &'static str,
    pcap: PcapWriter,
    verdict: Verdict,
    /// tshark's server → client chunks, when checked.
    server_chunks: Option<Vec<Chunk>>,
}

fn data(b: &[u8]) -> Chunk {
    Chunk::Data(b.to_vec())
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut case = |name, verdict, server_chunks, build: &dyn Fn(&mut PcapWriter)| {
        let mut pcap = PcapWriter::new();
        build(&mut pcap);
        out.push(Case {
            name,
            pcap,
            verdict,
            server_chunks,
        });
    };
    let c = Conn::new(40000, 25, 1000, 5000);
    case("clean", Verdict::Identical, None, &|w| {
        c.handshake(w);
        c.s2c(w, 0, 0, ACK | PSH, b"220 hi\r\n");
        c.c2s(w, 0, 8, ACK | PSH, b"QUIT\r\n");
        c.s2c(w, 8, 6, ACK | PSH | FIN, b"221 bye\r\n");
        c.c2s(w, 6, 18, ACK | FIN, b"");
        c.s2c(w, 18, 7, ACK, b"");
    });
    // The client acknowledges past a lost server segment: tshark prints a
    // marker chunk; stripwatch closes the hole after its patience.
    let acked_hole = vec![
        data(b"220 hello\r\n"),
        Chunk::Missing(10),
        data(b"250 ok\r\n"),
        data(b"221 bye\r\n"),
    ];
    case(
        "acked-hole",
        Verdict::IdenticalBetweenGaps,
        Some(acked_hole),
        &|w| {
            c.handshake(w);
            c.s2c(w, 0, 0, ACK | PSH, b"220 hello\r\n");
            c.s2c(w, 21, 0, ACK | PSH, b"250 ok\r\n");
            c.c2s(w, 0, 29, ACK | PSH, b"QUIT\r\n");
            c.s2c(w, 29, 6, ACK | PSH, b"221 bye\r\n");
            c.c2s(w, 6, 38, ACK | FIN, b"");
            c.s2c(w, 38, 7, ACK | FIN, b"");
            c.c2s(w, 7, 39, ACK, b"");
        },
    );
    // Nobody acknowledges past the hole: tshark never prints what follows.
    case(
        "unacked-hole-at-end",
        Verdict::IdenticalBetweenGaps,
        Some(vec![data(b"220 hello\r\n")]),
        &|w| {
            c.handshake(w);
            c.s2c(w, 0, 0, ACK | PSH, b"220 hello\r\n");
            c.s2c(w, 21, 0, ACK | PSH, b"250 ok\r\n");
            c.c2s(w, 0, 11, ACK | PSH, b"QUIT\r\n");
        },
    );
    // Reordering, a consistent overlapping retransmission and a conflicting
    // one: both keep the first-seen bytes; chunks are printed per packet as
    // they become in order, with only their new part.
    let ooo = vec![
        data(b"AAAAA"),
        data(b"BBBBB"),
        data(b"CCCCC"),
        data(b"DDDDD"),
        data(b"EE"),
    ];
    case("reorder-overlap", Verdict::Identical, Some(ooo), &|w| {
        c.handshake(w);
        c.s2c(w, 0, 0, ACK | PSH, b"AAAAA");
        c.s2c(w, 10, 0, ACK | PSH, b"CCCCC");
        c.s2c(w, 5, 0, ACK | PSH, b"BBBBB");
        c.s2c(w, 3, 0, ACK | PSH, b"AABBBBBCC");
        c.s2c(w, 15, 0, ACK | PSH, b"DDDDD");
        c.s2c(w, 12, 0, ACK | PSH, b"XXXXXXXXEE");
        c.c2s(w, 0, 22, ACK | PSH, b"x");
    });
    // Bytes cut off by the snaplen: tshark skips them without a marker.
    case(
        "snaplen",
        Verdict::IdenticalBetweenGaps,
        Some(vec![data(b"012345"), data(b"ZZZZ")]),
        &|w| {
            c.handshake(w);
            c.s2c_snap(w, 0, 0, ACK | PSH, b"0123456789abcdef", Some(14 + 40 + 6));
            c.s2c(w, 16, 0, ACK | PSH, b"ZZZZ");
            c.c2s(w, 0, 20, ACK | PSH, b"q");
        },
    );
    // Sequence numbers wrapping around inside the stream.
    let wrap = Conn::new(40001, 143, u32::MAX - 3, u32::MAX - 1);
    case("seq-wraparound", Verdict::Identical, None, &|w| {
        wrap.handshake(w);
        wrap.s2c(w, 0, 0, ACK | PSH, b"* OK ready\r\n");
        wrap.c2s(w, 0, 12, ACK | PSH, b"a1 LOGOUT\r\n");
        wrap.s2c(w, 12, 11, ACK | PSH | FIN, b"* BYE\r\n");
        wrap.c2s(w, 11, 20, ACK | RST, b"");
    });
    // Port reuse: a second connection on the same four-tuple after a FIN
    // exchange is a second stream for both.
    let second = Conn::new(40000, 25, 90000, 70000);
    case("port-reuse", Verdict::Identical, None, &|w| {
        c.handshake(w);
        c.s2c(w, 0, 0, ACK | PSH | FIN, b"hello");
        c.c2s(w, 0, 6, ACK | PSH | FIN, b"bye");
        c.s2c(w, 6, 4, ACK, b"");
        second.handshake(w);
        second.s2c(w, 0, 0, ACK | PSH, b"second");
        second.c2s(w, 0, 6, ACK | PSH, b"again");
    });
    // Picked up mid-stream: no handshake at all.
    case("mid-stream", Verdict::Identical, None, &|w| {
        c.s2c(w, 100, 50, ACK | PSH, b"250 ok\r\n");
        c.c2s(w, 50, 108, ACK | PSH, b"DATA\r\n");
        c.s2c(w, 108, 56, ACK | PSH, b"354 go\r\n");
    });
    // A keep-alive probe: one garbage byte just before the next expected
    // one. Both ignore it (stripwatch reports it as a conflict).
    case("keep-alive", Verdict::Identical, None, &|w| {
        c.handshake(w);
        c.s2c(w, 0, 0, ACK | PSH, b"220 hi\r\n");
        c.c2s(w, 0, 8, ACK, b"");
        c.s2c(w, 7, 0, ACK, b"\0");
        c.c2s(w, 0, 8, ACK, b"");
        c.s2c(w, 8, 0, ACK | PSH, b"more");
    });
    case("data-on-syn-and-rst", Verdict::Identical, None, &|w| {
        let (isn_c, isn_s) = (c.client_isn, c.server_isn);
        w.tcp(c.client, c.server, isn_c, 0, SYN, b"EHLO x\r\n", None);
        w.tcp(c.server, c.client, isn_s, isn_c + 9, SYN | ACK, b"", None);
        c.c2s(w, 8, 0, ACK | PSH, b"QUIT\r\n");
        c.s2c(w, 0, 14, ACK | PSH | RST, b"221 bye\r\n");
    });
    // Mid-stream, and the first captured segment is out of order.
    case("mid-stream-reordered", Verdict::Identical, None, &|w| {
        c.s2c(w, 108, 50, ACK | PSH, b"354 go\r\n");
        c.s2c(w, 100, 50, ACK | PSH, b"250 ok\r\n");
        c.c2s(w, 50, 116, ACK | PSH, b"DATA\r\n");
    });
    // Two holes; the client acknowledges past the first only: tshark
    // prints a marker for it and stops at the second.
    case(
        "acked-and-unacked-holes",
        Verdict::IdenticalBetweenGaps,
        Some(vec![data(b"AAAA"), Chunk::Missing(4), data(b"CCCC")]),
        &|w| {
            c.handshake(w);
            c.s2c(w, 0, 0, ACK | PSH, b"AAAA");
            c.s2c(w, 8, 0, ACK | PSH, b"CCCC");
            c.s2c(w, 16, 0, ACK | PSH, b"EEEE");
            for _ in 0..11 {
                c.c2s(w, 0, 10, ACK, b"");
            }
        },
    );
    // Known divergences, pinned so that a change on either side shows.
    // A hole acknowledged before its data shows up (a tap can see the ACK
    // first): tshark prints its marker at once and then drops the late
    // bytes; stripwatch waits ACKED_HOLE_PATIENCE packets and has them.
    case(
        "ack-before-data",
        Verdict::Different { offset: 4 },
        Some(vec![data(b"AAAA"), Chunk::Missing(4), data(b"CCCC")]),
        &|w| {
            c.handshake(w);
            c.s2c(w, 0, 0, ACK | PSH, b"AAAA");
            c.s2c(w, 8, 0, ACK | PSH, b"CCCC");
            c.c2s(w, 0, 12, ACK, b"");
            c.s2c(w, 4, 0, ACK | PSH, b"BBBB");
        },
    );
    // Bytes after the FIN's sequence number: tshark prints them (it does
    // not count the FIN), stripwatch drops them.
    case(
        "data-after-fin",
        Verdict::Different { offset: 3 },
        Some(vec![data(b"bye"), data(b"junk")]),
        &|w| {
            c.handshake(w);
            c.s2c(w, 0, 0, ACK | PSH | FIN, b"bye");
            c.s2c(w, 3, 0, ACK | PSH, b"junk");
            c.c2s(w, 0, 4, ACK | PSH, b"late");
        },
    );
    // A segment filling a hole disagrees with data held behind it: tshark
    // prints the in-order (later) version, stripwatch keeps the first seen
    // and reports the conflict.
    case(
        "hole-fill-conflicts-with-held-data",
        Verdict::DiffersAtConflict { offset: 8 },
        Some(vec![data(b"AAAA"), data(b"BBBBXXXXDD")]),
        &|w| {
            c.handshake(w);
            c.s2c(w, 0, 0, ACK | PSH, b"AAAA");
            c.s2c(w, 8, 0, ACK | PSH, b"CCCC");
            c.s2c(w, 4, 0, ACK | PSH, b"BBBBXXXXDD");
            c.c2s(w, 0, 14, ACK, b"");
        },
    );
    // Data the client sends after the server's RST: tshark prints it,
    // stripwatch ended the session at the RST.
    case(
        "data-after-rst",
        Verdict::Different { offset: 0 },
        None,
        &|w| {
            c.handshake(w);
            c.s2c(w, 0, 0, ACK | PSH, b"220 hi\r\n");
            c.s2c(w, 8, 0, ACK | RST, b"");
            c.c2s(w, 0, 8, ACK | PSH, b"QUIT\r\n");
        },
    );
    // Mid-stream, the client's ACK (seen first) says where the server's
    // stream starts, and the server's first segment reaches back before
    // it: stripwatch cuts the 5 bytes already acknowledged, tshark starts
    // at the segment.
    case(
        "mid-stream-straddle",
        Verdict::Different { offset: 0 },
        None,
        &|w| {
            c.c2s(w, 50, 100, ACK, b"");
            c.s2c(w, 95, 50, ACK | PSH, b"XXXXX250 ok\r\n");
            c.c2s(w, 50, 108, ACK | PSH, b"DATA\r\n");
        },
    );
    out
}

#[test]
#[ignore = "needs tshark: STRIPWATCH_EXTERNAL_TESTS=1"]
fn synthetic_edge_cases_match_tshark_follow() {
    common::require_external(&["tshark"]);
    let dir = std::env::temp_dir().join(format!("stripwatch-follow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut problems = Vec::new();
    let mut all_rows = Vec::new();
    for case in cases() {
        let path = dir.join(format!("{}.pcap", case.name));
        case.pcap.write(&path);
        if let Some(expected) = &case.server_chunks {
            let streams = tshark_streams(&path);
            // Node 0 is the client in every case with a handshake.
            let got = &streams[0].dirs[1];
            if got != expected {
                problems.push(format!("{}: tshark printed {got:?}", case.name));
            }
        }
        let rows = compare_file(&path, case.name);
        assert!(!rows.is_empty(), "{}: nothing compared", case.name);
        for r in &rows {
            if r.verdict != case.verdict {
                problems.push(format!(
                    "{}: verdict {} (expected {})",
                    case.name,
                    r.verdict.label(),
                    case.verdict.label()
                ));
            }
        }
        all_rows.extend(rows);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    println!("{}", format_table(&all_rows));
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The comparison rules and the output parser themselves (no tshark needed).
#[test]
fn comparison_rules() {
    use crate::common::follow::{Direction, Gap, Piece, parse_follow_output};
    use common::compare::compare_direction;
    use stripwatch::flow::GapReason;

    // Real tshark 4.0 output: two blocks, in reverse order of the -z
    // arguments, a marker chunk and an empty stream.
    let text = "\n===================================================================\n\
        Follow: tcp,raw\nFilter: tcp.stream eq 1\nNode 0: :0\nNode 1: :0\n\
        ===================================================================\n\n\
        ===================================================================\n\
        Follow: tcp,raw\nFilter: tcp.stream eq 0\nNode 0: 10.0.0.1:40000\n\
        Node 1: [2001:db8::2]:25\n\
        \t3232302068656c6c6f0d0a\n\
        \t5b3130206279746573206d697373696e6720696e20636170747572652066696c655d00\n\
        515549540d0a\n\
        ===================================================================\n";
    let streams = parse_follow_output(text);
    assert_eq!(streams.len(), 2);
    assert_eq!((streams[0].index, streams[0].nodes), (1, None));
    let nodes = streams[1].nodes.unwrap();
    assert_eq!(nodes[1].to_string(), "[2001:db8::2]:25");
    assert_eq!(streams[1].dirs[0], vec![data(b"QUIT\r\n")]);
    assert_eq!(
        streams[1].dirs[1],
        vec![data(b"220 hello\r\n"), Chunk::Missing(10)]
    );

    let piece = |offset, bytes: &[u8]| Piece {
        offset,
        bytes: bytes.to_vec(),
    };
    let gap = |offset, len| Gap {
        offset,
        len,
        reason: GapReason::NotCaptured,
    };
    let dir = |pieces: Vec<Piece>, gaps: Vec<Gap>| {
        let mut d = Direction::default();
        d.pieces = pieces;
        d.gaps = gaps;
        d
    };
    let whole = dir(vec![piece(0, b"abcdef")], vec![]);
    let split = dir(vec![piece(0, b"abc"), piece(5, b"def")], vec![gap(3, 2)]);
    let verdict = |d: &Direction, chunks: &[Chunk]| compare_direction(d, chunks).verdict;
    assert_eq!(
        verdict(&whole, &[data(b"abc"), data(b"def")]),
        Verdict::Identical
    );
    assert_eq!(
        verdict(&whole, &[data(b"abcdeX")]),
        Verdict::Different { offset: 5 }
    );
    assert_eq!(
        verdict(&whole, &[data(b"abcdefg")]),
        Verdict::Different { offset: 6 }
    );
    let marked = [data(b"abc"), Chunk::Missing(2), data(b"def")];
    assert_eq!(verdict(&split, &marked), Verdict::IdenticalBetweenGaps);
    // Same bytes, but tshark counts another number of missing bytes.
    let miscounted = [data(b"abc"), Chunk::Missing(3), data(b"def")];
    assert_eq!(
        verdict(&split, &miscounted),
        Verdict::Different { offset: 3 }
    );
    // tshark stops at the hole: accepted; stopping elsewhere is not.
    assert_eq!(
        verdict(&split, &[data(b"abc")]),
        Verdict::IdenticalBetweenGaps
    );
    assert_eq!(
        verdict(&split, &[data(b"ab")]),
        Verdict::Different { offset: 2 }
    );
    // Bytes tshark has where we have a gap.
    assert_eq!(
        verdict(&split, &[data(b"abcXYdef")]),
        Verdict::Different { offset: 5 }
    );
    let mut conflicted = whole.clone();
    conflicted.conflicts.push((2, 2));
    assert_eq!(
        verdict(&conflicted, &[data(b"abXYef")]),
        Verdict::DiffersAtConflict { offset: 2 }
    );
    assert_eq!(
        verdict(&conflicted, &[data(b"abcdeX")]),
        Verdict::Different { offset: 5 }
    );
}
