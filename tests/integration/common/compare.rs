//! Comparing stripwatch's reassembled streams with tshark's
//! `follow,tcp,raw` output, session by session and direction by direction.
//!
//! Rules:
//! - Sessions are matched by their (unordered) pair of endpoints; several
//!   sessions on one four-tuple (port reuse) are paired in order. When the
//!   counts differ even after leaving out sessions/streams without any
//!   payload, the pair is reported as `STREAM-SPLIT` (a difference).
//! - tshark's node 0 is mapped to stripwatch's client or server by endpoint.
//! - Per direction, stripwatch's pieces (runs between gaps) are concatenated
//!   and so are tshark's data chunks (its `[N bytes missing]` markers left
//!   out). Without gaps on either side they must be byte-identical
//!   (`identical`). With gaps they must be identical too, which means every
//!   piece of ours is in tshark's bytes, in order, with nothing between
//!   (`identical-between-gaps`). One tshark behaviour is accepted: when it
//!   stops at a hole nobody acknowledged, its bytes may be a prefix of ours
//!   that ends where one of our gaps starts (noted).
//! - Anything else is `DIFFERENT`, with the first differing stream offset
//!   (ours). When that offset lies in a range where stripwatch reported a
//!   conflicting retransmission, the verdict is `differs-at-conflict`:
//!   conflicting overlaps have no single right answer, so it is reported,
//!   not failed.

use super::follow::{Chunk, Direction, OurSession, TsharkStream};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use stripwatch::flow::Endpoint;

/// How one direction (or a whole session) compares.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Identical,
    IdenticalBetweenGaps,
    /// A session or stream without any payload that has no counterpart
    /// (e.g. tshark counts retransmitted SYNs after a RST as one stream,
    /// stripwatch as one session per SYN). Nothing to compare; reported.
    UnpairedEmpty,
    /// Differs first inside a range stripwatch reported as a conflict.
    DiffersAtConflict {
        offset: u64,
    },
    Different {
        offset: u64,
    },
    /// Sessions and streams could not be paired (port reuse, a stream only
    /// one side has, ...).
    StreamSplit,
}

impl Verdict {
    /// Differences that make the comparison fail.
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Different { .. } | Verdict::StreamSplit)
    }

    pub fn label(&self) -> String {
        match self {
            Verdict::Identical => "identical".into(),
            Verdict::IdenticalBetweenGaps => "identical-between-gaps".into(),
            Verdict::UnpairedEmpty => "unpaired-empty".into(),
            Verdict::DiffersAtConflict { offset } => format!("differs-at-conflict @{offset}"),
            Verdict::Different { offset } => format!("DIFFERENT @{offset}"),
            Verdict::StreamSplit => "STREAM-SPLIT".into(),
        }
    }
}

/// One direction compared.
#[derive(Clone, Debug)]
pub struct DirReport {
    pub ours_bytes: u64,
    pub tshark_bytes: u64,
    pub our_gaps: usize,
    pub tshark_markers: usize,
    pub conflicts: usize,
    pub verdict: Verdict,
    pub notes: Vec<String>,
}

/// One row of the report: a session, a stream, or both.
#[derive(Clone, Debug)]
pub struct Row {
    pub file: String,
    /// tshark's stream index.
    pub stream: Option<u64>,
    /// stripwatch's session id.
    pub session: Option<u64>,
    pub client: String,
    pub server: String,
    /// [client → server, server → client]; `None` when unpaired.
    pub dirs: Option<[DirReport; 2]>,
    pub verdict: Verdict,
    pub notes: Vec<String>,
}

fn pair_key(a: Endpoint, b: Endpoint) -> (Endpoint, Endpoint) {
    if a <= b { (a, b) } else { (b, a) }
}

fn has_payload_ours(s: &OurSession) -> bool {
    s.dirs
        .iter()
        .any(|d| !d.pieces.is_empty() || !d.gaps.is_empty())
}

fn has_payload_tshark(t: &TsharkStream) -> bool {
    t.dirs.iter().any(|d| !d.is_empty())
}

/// Compares every session of one capture.
pub fn compare_capture(file: &str, ours: &[OurSession], theirs: &[TsharkStream]) -> Vec<Row> {
    type Group<'a> = (Vec<&'a OurSession>, Vec<&'a TsharkStream>);
    let mut groups: BTreeMap<(Endpoint, Endpoint), Group<'_>> = BTreeMap::new();
    let mut rows = Vec::new();
    for s in ours {
        groups
            .entry(pair_key(s.client, s.server))
            .or_default()
            .0
            .push(s);
    }
    for t in theirs {
        match t.nodes {
            Some([a, b]) => groups.entry(pair_key(a, b)).or_default().1.push(t),
            None => rows.push(Row {
                file: file.to_string(),
                stream: Some(t.index),
                session: None,
                client: "-".into(),
                server: "-".into(),
                dirs: None,
                verdict: Verdict::UnpairedEmpty,
                notes: vec!["tshark stream without packets (nothing to compare)".into()],
            }),
        }
    }
    for (_, (mut o, mut t)) in groups {
        if o.len() != t.len() {
            // Sessions or streams that carried nothing cannot differ; pair
            // the rest.
            let (o_empty, t_empty): (Vec<_>, Vec<_>) = (
                o.iter().filter(|s| !has_payload_ours(s)).copied().collect(),
                t.iter()
                    .filter(|s| !has_payload_tshark(s))
                    .copied()
                    .collect(),
            );
            o.retain(|s| has_payload_ours(s));
            t.retain(|s| has_payload_tshark(s));
            for s in o_empty {
                rows.push(unpaired(
                    file,
                    Some(s),
                    None,
                    "no payload; no tshark stream paired",
                ));
            }
            for s in t_empty {
                rows.push(unpaired(
                    file,
                    None,
                    Some(s),
                    "no payload; no stripwatch session paired",
                ));
            }
        }
        if o.len() == t.len() {
            for (s, t) in o.into_iter().zip(t) {
                rows.push(compare_session(file, s, t));
            }
        } else {
            let note = format!(
                "stripwatch has {} session(s) {:?}, tshark {} stream(s) {:?} on this four-tuple",
                o.len(),
                o.iter().map(|s| s.id).collect::<Vec<_>>(),
                t.len(),
                t.iter().map(|s| s.index).collect::<Vec<_>>()
            );
            for s in &o {
                let mut row = unpaired(file, Some(s), None, &note);
                row.verdict = Verdict::StreamSplit;
                rows.push(row);
            }
            for s in &t {
                let mut row = unpaired(file, None, Some(s), &note);
                row.verdict = Verdict::StreamSplit;
                rows.push(row);
            }
        }
    }
    rows.sort_by_key(|r| (r.stream.unwrap_or(u64::MAX), r.session.unwrap_or(u64::MAX)));
    rows
}

fn unpaired(file: &str, s: Option<&OurSession>, t: Option<&TsharkStream>, note: &str) -> Row {
    let (client, server) = match (s, t.and_then(|t| t.nodes)) {
        (Some(s), _) => (s.client.to_string(), s.server.to_string()),
        (None, Some([a, b])) => (a.to_string(), b.to_string()),
        (None, None) => ("-".into(), "-".into()),
    };
    Row {
        file: file.to_string(),
        stream: t.map(|t| t.index),
        session: s.map(|s| s.id),
        client,
        server,
        dirs: None,
        verdict: Verdict::UnpairedEmpty,
        notes: vec![note.to_string()],
    }
}

/// Compares one stripwatch session with one tshark stream.
pub fn compare_session(file: &str, ours: &OurSession, theirs: &TsharkStream) -> Row {
    let [node0, _] = theirs.nodes.unwrap();
    // tshark's chunks by our side: [client → server, server → client].
    let (client_chunks, server_chunks) = if node0 == ours.client {
        (&theirs.dirs[0], &theirs.dirs[1])
    } else {
        (&theirs.dirs[1], &theirs.dirs[0])
    };
    let dirs = [
        compare_direction(&ours.dirs[0], client_chunks),
        compare_direction(&ours.dirs[1], server_chunks),
    ];
    let verdict = dirs.iter().map(|d| d.verdict.clone()).max().unwrap();
    let mut notes = Vec::new();
    for (name, d) in ["c->s", "s->c"].iter().zip(&dirs) {
        notes.extend(d.notes.iter().map(|n| format!("{name}: {n}")));
    }
    Row {
        file: file.to_string(),
        stream: Some(theirs.index),
        session: Some(ours.id),
        client: ours.client.to_string(),
        server: ours.server.to_string(),
        dirs: Some(dirs),
        verdict,
        notes,
    }
}

/// Compares one direction (see the module's rules).
pub fn compare_direction(ours: &Direction, theirs: &[Chunk]) -> DirReport {
    let our_bytes: Vec<u8> = ours.pieces.iter().flat_map(|p| p.bytes.clone()).collect();
    let mut their_bytes = Vec::new();
    // Where tshark's markers sit, in its concatenated data, and their N.
    let mut markers = Vec::new();
    for c in theirs {
        match c {
            Chunk::Data(b) => their_bytes.extend_from_slice(b),
            Chunk::Missing(n) => markers.push((their_bytes.len(), *n)),
        }
    }
    // Our piece boundaries in the concatenated data: (index, stream offset
    // of the piece starting there, preceded by a gap).
    let mut starts = Vec::new();
    let mut at = 0usize;
    for p in &ours.pieces {
        let after_gap = ours.gaps.iter().any(|g| g.offset + g.len == p.offset);
        starts.push((at, p.offset, after_gap));
        at += p.bytes.len();
    }
    let offset_of = |i: usize| -> u64 {
        match starts.iter().rev().find(|(s, _, _)| *s <= i) {
            Some((s, off, _)) => off + (i - s) as u64,
            None => 0,
        }
    };
    let mut notes = Vec::new();
    let common = our_bytes.len().min(their_bytes.len());
    let first_diff = (0..common)
        .find(|&i| our_bytes[i] != their_bytes[i])
        .or((our_bytes.len() != their_bytes.len()).then_some(common));
    let gaps = !ours.gaps.is_empty() || !markers.is_empty();
    let verdict = match first_diff {
        None if gaps => Verdict::IdenticalBetweenGaps,
        None => Verdict::Identical,
        Some(i)
            if i == their_bytes.len()
                && starts.iter().any(|(s, _, after_gap)| *s == i && *after_gap) =>
        {
            let off = offset_of(i);
            notes.push(format!(
                "tshark stops at our gap before offset {off}: {} byte(s) after it not shown \
                 (tshark never prints data held behind an unacknowledged hole)",
                our_bytes.len() - i
            ));
            Verdict::IdenticalBetweenGaps
        }
        Some(i) => {
            let offset = offset_of(i);
            let in_conflict = ours
                .conflicts
                .iter()
                .any(|(o, l)| offset >= *o && offset < o + l);
            notes.push(format!(
                "first difference at byte {i} of the concatenated data (ours {} B, tshark {} B)",
                our_bytes.len(),
                their_bytes.len()
            ));
            if in_conflict {
                Verdict::DiffersAtConflict { offset }
            } else {
                Verdict::Different { offset }
            }
        }
    };
    // Gap structure: each run of adjacent gaps of ours must have tshark
    // markers for the same number of bytes where the next piece starts,
    // or none at all (snaplen cuts, tshark stopping at a hole). A marker of
    // another size with the bytes around it identical means that one of
    // the two got the stream offsets wrong.
    let mut verdict = verdict;
    let mut runs: Vec<(u64, u64, Vec<String>)> = Vec::new();
    for g in &ours.gaps {
        let reason = format!("{:?}", g.reason);
        match runs.last_mut() {
            Some((start, len, reasons)) if *start + *len == g.offset => {
                *len += g.len;
                reasons.push(reason);
            }
            _ => runs.push((g.offset, g.len, vec![reason])),
        }
    }
    let mut matched_markers = Vec::new();
    for (start, len, reasons) in &runs {
        let pos = starts
            .iter()
            .find(|(_, off, _)| *off == start + len)
            .map(|(s, _, _)| *s);
        let here: Vec<i64> = markers
            .iter()
            .filter(|(p, _)| Some(*p) == pos)
            .map(|(_, n)| *n)
            .collect();
        let what = format!("gap at {start} ({len} B, {})", reasons.join("+"));
        if here.is_empty() {
            notes.push(format!("{what}: no tshark marker"));
            continue;
        }
        matched_markers.extend(pos);
        let total: i64 = here.iter().sum();
        if u64::try_from(total).ok() != Some(*len) {
            notes.push(format!("{what}: tshark says {total} B missing"));
            if verdict < (Verdict::DiffersAtConflict { offset: 0 }) {
                verdict = Verdict::Different { offset: *start };
            }
        }
    }
    for (pos, n) in &markers {
        if !matched_markers.contains(pos) {
            notes.push(format!(
                "tshark marks {n} missing byte(s) before offset {} where stripwatch has no gap",
                offset_of(*pos)
            ));
        }
    }
    if let Some(first) = ours.discontinuities.first() {
        notes.push(format!(
            "{} stripwatch event(s) did not continue the stream, first at offset {first}",
            ours.discontinuities.len()
        ));
        if verdict < (Verdict::DiffersAtConflict { offset: 0 }) {
            verdict = Verdict::Different { offset: *first };
        }
    }
    DirReport {
        ours_bytes: our_bytes.len() as u64,
        tshark_bytes: their_bytes.len() as u64,
        our_gaps: ours.gaps.len(),
        tshark_markers: markers.len(),
        conflicts: ours.conflicts.len(),
        verdict,
        notes,
    }
}

/// A plain-text table of rows, with notes under the rows that have any.
pub fn format_table(rows: &[Row]) -> String {
    let header = [
        "file",
        "stream",
        "sess",
        "client",
        "server",
        "c->s ours/tshark",
        "s->c ours/tshark",
        "gaps",
        "confl",
        "verdict",
    ];
    let mut cells: Vec<[String; 10]> = vec![header.map(String::from)];
    let bytes = |d: &DirReport| format!("{}/{}", d.ours_bytes, d.tshark_bytes);
    for r in rows {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let (cs, sc, gaps, confl) = match &r.dirs {
            Some([c, s]) => (
                bytes(c),
                bytes(s),
                format!(
                    "{}+{}/{}+{}",
                    c.our_gaps, s.our_gaps, c.tshark_markers, s.tshark_markers
                ),
                (c.conflicts + s.conflicts).to_string(),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        cells.push([
            r.file.clone(),
            opt(r.stream),
            opt(r.session),
            r.client.clone(),
            r.server.clone(),
            cs,
            sc,
            gaps,
            confl,
            r.verdict.label(),
        ]);
    }
    let mut widths = [0usize; 10];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end()).unwrap();
        if let Some(r) = i.checked_sub(1).and_then(|i| rows.get(i)) {
            for n in &r.notes {
                writeln!(out, "    note: {n}").unwrap();
            }
        }
    }
    out
}

fn kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Identical => "identical",
        Verdict::IdenticalBetweenGaps => "identical-between-gaps",
        Verdict::UnpairedEmpty => "unpaired-empty",
        Verdict::DiffersAtConflict { .. } => "differs-at-conflict",
        Verdict::Different { .. } => "DIFFERENT",
        Verdict::StreamSplit => "STREAM-SPLIT",
    }
}

/// Totals per kind of verdict.
pub fn summarize(rows: &[Row]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(kind(&r.verdict)).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per capture: its totals per kind of verdict.
pub fn summarize_by_file(rows: &[Row]) -> String {
    let mut files: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
    for r in rows {
        files.entry(&r.file).or_default().push(r.clone());
    }
    let width = files.keys().map(|f| f.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (file, rows) in &files {
        writeln!(out, "{file:<width$}  {}", summarize(rows)).unwrap();
    }
    out
}
