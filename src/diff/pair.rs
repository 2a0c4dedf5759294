//! Pairing the sessions of two taps: which session at the outside tap is
//! which session at the inside tap, how that was decided, and how sure it
//! is.
//!
//! Three rules, tried in this order of strength:
//!
//! - **five-tuple**: the same client and server address and port at both
//!   taps, first seen within the window, or at any time when the initial
//!   sequence numbers agree too (the taps' clocks may differ); the nearest
//!   in time wins, for reused ports. Nothing rewrote the addresses.
//! - **nat**: addresses or ports differ, but the first data segments have
//!   the same relative sequence numbers and lengths in both directions (a
//!   NAT and the ASA's sequence-number randomization change absolute
//!   numbers, never relative ones), the sessions start within a few
//!   seconds, and the far side's SYN is not a new connection.
//! - **proxy**: a terminating proxy opens a new TCP connection on the far
//!   side: paired by the server port (or the same server address), the
//!   time between the two first packets, the far side's SYN coming after
//!   the near side's handshake was answered, and how many lines the two
//!   dialogs share.
//!
//! Candidates are scored and taken greedily, best first; each session is
//! paired at most once. Confidence is a number in [0, 1] with the reasons
//! behind it.
//!
//! In O(n log n): the outside sessions are indexed by five-tuple (and
//! initial sequence numbers) and sorted by first packet; each inside
//! session meets the [`MAX_CANDIDATES`] nearest in time of each index,
//! found by walking outwards from its own time. A five-tuple candidate that
//! is the best of both its sessions is sure to be taken first, so those
//! sessions skip the NAT and proxy comparisons. The pairs are the ones the
//! quadratic version made (`pair_tests.rs` keeps it as the oracle), except
//! past the caps: a five-tuple at the other tap more than
//! [`MAX_CANDIDATES`] times within the window, or with the same sequence
//! numbers, meets only the nearest of them.

use super::collect::{Handshake, SeenSession, Shape};
use super::{Tap, human_duration, seconds_between};
use crate::flow::{Endpoint, PerSide, Side};
use crate::proto::tap::TapKind;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::HashMap;

/// How a pair was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    FiveTuple,
    Nat,
    Proxy,
}

impl Method {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::FiveTuple => "five-tuple",
            Method::Nat => "nat",
            Method::Proxy => "proxy",
        }
    }
}

/// Two sessions, one per tap, taken for the same mail session.
#[derive(Clone, Debug)]
pub(crate) struct Pairing {
    /// Index into the inside tap's sessions.
    pub inside: usize,
    /// Index into the outside tap's sessions.
    pub outside: usize,
    pub method: Method,
    pub confidence: f64,
    pub reasons: Vec<String>,
}

/// Pairs and the sessions left alone.
#[derive(Debug, Default)]
pub(crate) struct PairingResult {
    pub pairs: Vec<Pairing>,
    pub inside_only: Vec<usize>,
    pub outside_only: Vec<usize>,
}

/// Most candidates considered per inside session (the nearest in time).
const MAX_CANDIDATES: usize = 64;
/// NAT pairs start within this many seconds of each other.
const NAT_WINDOW: f64 = 5.0;
/// Least share of first data segments that must agree for NAT.
const NAT_SHAPE: f64 = 0.75;
/// Least score of a proxy pair.
const PROXY_MIN_SCORE: f64 = 0.55;
/// Least share of identical lines of a proxy pair: a middlebox changes a
/// few lines of a dialog, not most of them.
const PROXY_MIN_SIMILARITY: f64 = 0.5;

/// What relates the far side's connection to the near side's handshake.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Connection {
    /// The later SYN came after the earlier session's SYN-ACK: the first
    /// connection was answered locally; the second is a new one.
    New {
        after_syn_ack: f64,
    },
    /// The later SYN came between the earlier SYN and its SYN-ACK: one
    /// handshake, forwarded.
    Forwarded,
    Unknown,
}

fn connection(a: &SeenSession, b: &SeenSession) -> Connection {
    let (Some(ha), Some(hb)) = (a.handshake, b.handshake) else {
        return Connection::Unknown;
    };
    let (early, late): (Handshake, Handshake) = if ha.syn <= hb.syn { (ha, hb) } else { (hb, ha) };
    match early.syn_ack {
        Some(ack) if late.syn >= ack => Connection::New {
            after_syn_ack: seconds_between(ack, late.syn),
        },
        Some(_) => Connection::Forwarded,
        None => Connection::Unknown,
    }
}

/// Share of the first data segments with the same side, relative offset
/// and length.
fn shape_match(a: &[Shape], b: &[Shape]) -> (usize, usize) {
    let n = a.len().max(b.len());
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    (same, n)
}

/// A dialog's lines as sorted (side, hash) keys, for counting the lines
/// two dialogs share.
fn signature(s: &SeenSession) -> Vec<(usize, u64)> {
    let mut keys: Vec<(usize, u64)> = s
        .lines
        .iter()
        .filter(|l| matches!(l.item.kind, TapKind::Line | TapKind::AfterGoAhead))
        .map(|l| (l.item.side.index(), l.item.hash))
        .collect();
    keys.sort_unstable();
    keys
}

/// Lines the two dialogs share (as a multiset), and the longer dialog's
/// count.
fn shared(a: &[(usize, u64)], b: &[(usize, u64)]) -> (usize, usize) {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (n, a.len().max(b.len()))
}

fn shared_lines(a: &SeenSession, b: &SeenSession) -> (usize, usize) {
    shared(&signature(a), &signature(b))
}

fn ratio((n, d): (usize, usize)) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

/// Closeness in time: 1 at the same instant, 0.5 a tenth of a second
/// apart.
fn closeness(dt: f64) -> f64 {
    1.0 / (1.0 + dt.abs() / 0.1)
}

struct Candidate {
    inside: usize,
    outside: usize,
    method: Method,
    score: f64,
    dt: f64,
}

/// Pairs the sessions of the two taps.
pub(crate) fn pair_sessions(
    inside: &[SeenSession],
    outside: &[SeenSession],
    window: f64,
) -> PairingResult {
    let index = OutsideIndex::new(outside);
    let mut candidates = Vec::new();
    for (ii, a) in inside.iter().enumerate() {
        five_tuple_candidates(ii, a, &index, window, &mut candidates);
    }
    let (sure_in, sure_out) = sure_pairs(&candidates, inside.len(), outside.len());
    let sig_out: Vec<Vec<(usize, u64)>> = outside.iter().map(signature).collect();
    for (ii, a) in inside.iter().enumerate() {
        if sure_in.get(ii).copied().unwrap_or(true) {
            continue;
        }
        let sa = signature(a);
        for oi in index.near(a, window) {
            // Taken by a sure pair before this candidate could be reached.
            if sure_out.get(oi).copied().unwrap_or(true) {
                continue;
            }
            let (Some(b), Some(sb)) = (outside.get(oi), sig_out.get(oi)) else {
                continue;
            };
            if let Some(c) = candidate(ii, a, &sa, oi, b, sb) {
                candidates.push(c);
            }
        }
    }
    take_best_first(candidates, inside, outside)
}

/// A client and a server endpoint.
type Tuple = (Endpoint, Endpoint);

/// The outside tap's sessions in order of their first packets (then of
/// their index), and by five-tuple in that order.
struct OutsideIndex<'s> {
    sessions: &'s [SeenSession],
    by_time: Vec<usize>,
    /// The first packets' times of `by_time`, in seconds.
    starts: Vec<f64>,
    by_tuple: HashMap<Tuple, Vec<usize>>,
    /// Sessions with both initial sequence numbers, by five-tuple and
    /// those numbers.
    by_isns: HashMap<(Tuple, PerSide<u32>), Vec<usize>>,
}

/// Both sides' initial sequence numbers, when both are known.
fn isns(s: &SeenSession) -> Option<PerSide<u32>> {
    Some(PerSide::new(s.stream_start.client?, s.stream_start.server?))
}

impl<'s> OutsideIndex<'s> {
    fn new(sessions: &'s [SeenSession]) -> Self {
        let mut by_time: Vec<usize> = (0..sessions.len()).collect();
        by_time.sort_by_key(|&i| (sessions.get(i).map(|s| s.first.ts), i));
        let mut index = OutsideIndex {
            sessions,
            starts: Vec::with_capacity(by_time.len()),
            by_tuple: HashMap::new(),
            by_isns: HashMap::new(),
            by_time: Vec::new(),
        };
        for &i in &by_time {
            let Some(s) = sessions.get(i) else { continue };
            index.starts.push(s.first.ts.as_secs_f64());
            let tuple = (s.client, s.server);
            index.by_tuple.entry(tuple).or_default().push(i);
            if let Some(numbers) = isns(s) {
                index.by_isns.entry((tuple, numbers)).or_default().push(i);
            }
        }
        index.by_time = by_time;
        index
    }

    /// The sessions starting within `window` of `a`, the nearest
    /// [`MAX_CANDIDATES`] of them, for the NAT and proxy rules.
    fn near(&self, a: &SeenSession, window: f64) -> Vec<usize> {
        let t = a.first.ts.as_secs_f64();
        let lo = self.starts.partition_point(|s| *s < t - window);
        let hi = self.starts.partition_point(|s| *s <= t + window);
        let within = self.by_time.get(lo..hi).unwrap_or_default();
        nearest(self.sessions, within, a.first.ts, f64::INFINITY, |_| true)
    }
}

/// The five-tuple rule's candidates of inside session `a`: the same
/// five-tuple, first seen within the window, or at any time with the same
/// initial sequence numbers.
fn five_tuple_candidates(
    ii: usize,
    a: &SeenSession,
    index: &OutsideIndex,
    window: f64,
    out: &mut Vec<Candidate>,
) {
    let tuple = (a.client, a.server);
    let mut push = |oi: usize, same_isns: bool| {
        let Some(b) = index.sessions.get(oi) else {
            return;
        };
        let dt = seconds_between(a.first.ts, b.first.ts);
        out.push(Candidate {
            inside: ii,
            outside: oi,
            method: Method::FiveTuple,
            score: 3.0 + f64::from(u8::from(same_isns)) + closeness(dt),
            dt,
        });
    };
    let same: &[usize] = isns(a)
        .and_then(|numbers| index.by_isns.get(&(tuple, numbers)))
        .map_or(&[], Vec::as_slice);
    let t = a.first.ts;
    for oi in nearest(index.sessions, same, t, f64::INFINITY, |_| true) {
        push(oi, true);
    }
    // More than the cap with the same numbers: the others would rank
    // below them all (and skipping them below would cost a pass each).
    if same.len() > MAX_CANDIDATES {
        return;
    }
    let all = index.by_tuple.get(&tuple).map_or(&[][..], Vec::as_slice);
    let mine = isns(a);
    let other_isns = |oi: usize| mine.is_none() || index.sessions.get(oi).and_then(isns) != mine;
    for oi in nearest(index.sessions, all, t, window, other_isns) {
        push(oi, false);
    }
}

/// The [`MAX_CANDIDATES`] sessions of `sorted` (sorted by first packet,
/// then index) nearest in time to `t` and at most `bound` seconds from it,
/// skipping those `keep` refuses. Nearest first; equally near ones in
/// their order in `sorted` (as a stable sort by distance would give).
fn nearest(
    sessions: &[SeenSession],
    sorted: &[usize],
    t: Timestamp,
    bound: f64,
    keep: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let distance = |i: usize| {
        sessions
            .get(i)
            .map_or(f64::MAX, |s| seconds_between(t, s.first.ts).abs())
    };
    let split = sorted.partition_point(|&i| sessions.get(i).is_some_and(|s| s.first.ts < t));
    let (before, after) = sorted.split_at_checked(split).unwrap_or_default();
    let mut earlier = Earlier {
        sorted: before,
        run: 0..0,
        rest: before.len(),
        distance,
    };
    let mut later = after.iter().map(|&i| (distance(i), i));
    let (mut e, mut l) = (earlier.next(), later.next());
    let mut found = Vec::new();
    while found.len() < MAX_CANDIDATES {
        let take_earlier = match (e, l) {
            (Some((de, _)), Some((dl, _))) => de.total_cmp(&dl).is_le(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_earlier {
            std::mem::replace(&mut e, earlier.next())
        } else {
            std::mem::replace(&mut l, later.next())
        };
        let Some((d, i)) = next else { break };
        // A NaN bound takes nothing, as `dt.abs() <= window` did.
        if d.partial_cmp(&bound).is_none_or(|o| o.is_gt()) {
            break;
        }
        if keep(i) {
            found.push(i);
        }
    }
    found
}

/// The sessions of a sorted slice that started before an instant, nearest
/// first: walked backwards, except that equally near ones come in slice
/// order.
struct Earlier<'a, F> {
    sorted: &'a [usize],
    /// Positions of equally near sessions being handed out.
    run: std::ops::Range<usize>,
    /// Positions below this one are not handed out yet.
    rest: usize,
    distance: F,
}

impl<F: Fn(usize) -> f64> Iterator for Earlier<'_, F> {
    type Item = (f64, usize);

    fn next(&mut self) -> Option<(f64, usize)> {
        if self.run.is_empty() {
            let last = self.rest.checked_sub(1)?;
            let d = (self.distance)(*self.sorted.get(last)?);
            // Distances fall along the slice: the run is a suffix of it,
            // most often of one session.
            let before = self.sorted.get(..last).unwrap_or_default();
            let tied = |i: &usize| (self.distance)(*i).total_cmp(&d).is_eq();
            let first = if before.last().is_some_and(tied) {
                before.partition_point(|&i| (self.distance)(i).total_cmp(&d).is_gt())
            } else {
                last
            };
            self.run = first..self.rest;
            self.rest = first;
        }
        let at = self.run.next()?;
        let i = *self.sorted.get(at)?;
        Some(((self.distance)(i), i))
    }
}

/// Highest score of a NAT candidate (every term at its best); proxy
/// candidates score at most 1.
const WEAKER_RULES_BEST: f64 = 3.0;

/// The order in which candidates are taken: best score first, then the
/// nearest in time, then by index.
fn by_strength(x: &Candidate, y: &Candidate) -> std::cmp::Ordering {
    y.score
        .total_cmp(&x.score)
        .then(x.dt.abs().total_cmp(&y.dt.abs()))
        .then(x.inside.cmp(&y.inside))
        .then(x.outside.cmp(&y.outside))
}

/// Sessions of five-tuple pairs the best-first pass is sure to make: the
/// candidate is the strongest of both its sessions and outranks any NAT or
/// proxy candidate, so nothing taken before it touches either session.
/// Their other candidates can only be skipped: not making them saves the
/// NAT and proxy comparisons of most sessions.
fn sure_pairs(candidates: &[Candidate], inside: usize, outside: usize) -> (Vec<bool>, Vec<bool>) {
    let mut best_in: Vec<Option<&Candidate>> = vec![None; inside];
    let mut best_out: Vec<Option<&Candidate>> = vec![None; outside];
    for c in candidates {
        for best in [best_in.get_mut(c.inside), best_out.get_mut(c.outside)]
            .into_iter()
            .flatten()
        {
            if best.is_none_or(|b| by_strength(c, b).is_lt()) {
                *best = Some(c);
            }
        }
    }
    let mut sure_in = vec![false; inside];
    let mut sure_out = vec![false; outside];
    for c in candidates {
        let best = |list: &[Option<&Candidate>], at: usize| {
            list.get(at)
                .copied()
                .flatten()
                .is_some_and(|b| std::ptr::eq(b, c))
        };
        if c.score > WEAKER_RULES_BEST && best(&best_in, c.inside) && best(&best_out, c.outside) {
            if let (Some(i), Some(o)) = (sure_in.get_mut(c.inside), sure_out.get_mut(c.outside)) {
                *i = true;
                *o = true;
            }
        }
    }
    (sure_in, sure_out)
}

/// Takes the candidates best first, each session at most once.
fn take_best_first(
    mut candidates: Vec<Candidate>,
    inside: &[SeenSession],
    outside: &[SeenSession],
) -> PairingResult {
    candidates.sort_by(by_strength);
    let mut used_in = vec![false; inside.len()];
    let mut used_out = vec![false; outside.len()];
    let mut result = PairingResult::default();
    for c in candidates {
        let (Some(fi), Some(fo)) = (used_in.get_mut(c.inside), used_out.get_mut(c.outside)) else {
            continue;
        };
        if *fi || *fo {
            continue;
        }
        *fi = true;
        *fo = true;
        if let (Some(a), Some(b)) = (inside.get(c.inside), outside.get(c.outside)) {
            let (confidence, reasons) = explain(c.method, a, b);
            result.pairs.push(Pairing {
                inside: c.inside,
                outside: c.outside,
                method: c.method,
                confidence,
                reasons,
            });
        }
    }
    result
        .pairs
        .sort_by_key(|p| (inside.get(p.inside).map(|s| s.first), p.inside));
    result.inside_only = (0..inside.len())
        .filter(|i| !used_in.get(*i).copied().unwrap_or(true))
        .collect();
    result.outside_only = (0..outside.len())
        .filter(|i| !used_out.get(*i).copied().unwrap_or(true))
        .collect();
    result
}

/// How `a` and `b` could be one session other than by five-tuple (NAT or
/// proxy), with its score.
fn candidate(
    ii: usize,
    a: &SeenSession,
    sa: &[(usize, u64)],
    oi: usize,
    b: &SeenSession,
    sb: &[(usize, u64)],
) -> Option<Candidate> {
    if let (Some(pa), Some(pb)) = (a.protocol, b.protocol) {
        if pa != pb {
            return None;
        }
    }
    if a.client == b.client && a.server == b.server {
        // Made above by the five-tuple rule.
        return None;
    }
    let dt = seconds_between(a.first.ts, b.first.ts);
    let close = closeness(dt);
    let make = |method, score| Candidate {
        inside: ii,
        outside: oi,
        method,
        score,
        dt,
    };
    let (same_lines, lines) = shared(sa, sb);
    // A proxy that answers the client itself (a refused upgrade, the client
    // gives up) leaves the far session a part of the near one: every line of
    // the shorter dialog in the longer is as alike as the rule asks, no more.
    let contained = same_lines > 0 && same_lines == sa.len().min(sb.len());
    let similarity =
        ratio((same_lines, lines)).max(if contained { PROXY_MIN_SIMILARITY } else { 0.0 });
    let shape = ratio(shape_match(&a.shape, &b.shape));
    let conn = connection(a, b);
    let same_port = a.server.port == b.server.port;
    if shape >= NAT_SHAPE
        && !a.shape.is_empty()
        && dt.abs() <= NAT_WINDOW
        && !matches!(conn, Connection::New { .. })
    {
        return Some(make(
            Method::Nat,
            2.0 + 0.5 * shape + 0.3 * close + 0.2 * similarity,
        ));
    }
    let new_connection = matches!(conn, Connection::New { .. });
    let score = 0.4 * similarity
        + 0.3 * close
        + if same_port { 0.15 } else { 0.0 }
        + if new_connection { 0.15 } else { 0.0 };
    // Sessions without a line in common (or without lines) are not taken
    // for one on the strength of timing alone.
    (same_lines > 0 && score >= PROXY_MIN_SCORE && similarity >= PROXY_MIN_SIMILARITY)
        .then(|| make(Method::Proxy, score))
}

/// How far each side's sequence numbers moved from `a` to `b`.
fn isn_shift(a: &SeenSession, b: &SeenSession) -> Option<PerSide<i64>> {
    let shift = |side: Side| {
        let (x, y) = (a.stream_start[side]?, b.stream_start[side]?);
        Some(i64::from(y.wrapping_sub(x) as i32))
    };
    Some(PerSide::new(shift(Side::Client)?, shift(Side::Server)?))
}

fn isn_reason(a: &SeenSession, b: &SeenSession) -> Option<(bool, String)> {
    let PerSide {
        client: c,
        server: s,
    } = isn_shift(a, b)?;
    Some(if c == 0 && s == 0 {
        (
            true,
            "the same initial sequence numbers at both taps".to_string(),
        )
    } else {
        (
            false,
            format!(
                "sequence numbers shifted by {c:+} (client) and {s:+} (server) from inside to outside (ISN randomization)"
            ),
        )
    })
}

fn round(x: f64) -> f64 {
    (x.clamp(0.0, 1.0) * 100.0).round() / 100.0
}

/// Confidence and reasons of a pair made by `method`.
fn explain(method: Method, a: &SeenSession, b: &SeenSession) -> (f64, Vec<String>) {
    let dt = seconds_between(a.first.ts, b.first.ts);
    let (shared, lines) = shared_lines(a, b);
    let similarity = ratio((shared, lines));
    let mut reasons = Vec::new();
    let confidence = match method {
        Method::FiveTuple => five_tuple_confidence(a, b, similarity, &mut reasons),
        Method::Nat => nat_confidence(a, b, dt, similarity, &mut reasons),
        Method::Proxy => proxy_confidence(a, b, dt, similarity, &mut reasons),
    };
    reasons.push(if dt == 0.0 {
        "first packets at the same instant".to_string()
    } else {
        format!(
            "first packets {} apart ({} first)",
            human_duration(dt),
            if dt > 0.0 { "inside" } else { "outside" }
        )
    });
    reasons.push(format!(
        "{shared} of {lines} lines of the two dialogs are identical"
    ));
    (round(confidence), reasons)
}

/// The same four-tuple at both taps; the same ISNs and a similar dialog
/// add to it.
fn five_tuple_confidence(
    a: &SeenSession,
    b: &SeenSession,
    similarity: f64,
    reasons: &mut Vec<String>,
) -> f64 {
    reasons.push(format!(
        "the same addresses and ports at both taps ({} → {})",
        a.client, a.server
    ));
    let mut c: f64 = 0.9;
    if let Some((same, text)) = isn_reason(a, b) {
        if same {
            c += 0.05;
        }
        reasons.push(text);
    }
    if let Connection::New { .. } = connection(a, b) {
        reasons.push("the outside's SYN came after the inside's handshake was answered: a new TCP connection (a transparent proxy)".into());
    }
    if similarity >= 0.5 {
        c += 0.05;
    }
    c
}

/// Addresses rewritten, the segments' shape kept.
fn nat_confidence(
    a: &SeenSession,
    b: &SeenSession,
    dt: f64,
    similarity: f64,
    reasons: &mut Vec<String>,
) -> f64 {
    let (same_segs, segs) = shape_match(&a.shape, &b.shape);
    reasons.push(rewritten("client", a.client, b.client));
    reasons.push(rewritten("server", a.server, b.server));
    if let Some((_, text)) = isn_reason(a, b) {
        reasons.push(text);
    }
    reasons.push(format!(
        "{same_segs} of the first {segs} data segments at the same relative sequence numbers with the same lengths"
    ));
    if connection(a, b) == Connection::Forwarded {
        reasons.push(
            "the later tap's SYN came before the earlier tap's SYN-ACK: one handshake, forwarded"
                .into(),
        );
    }
    0.5 + 0.3 * ratio((same_segs, segs)) + 0.1 * closeness(dt) + 0.1 * similarity
}

/// Two connections (a proxy): the dialog, timing, a new connection and the
/// server tell.
fn proxy_confidence(
    a: &SeenSession,
    b: &SeenSession,
    dt: f64,
    similarity: f64,
    reasons: &mut Vec<String>,
) -> f64 {
    let mut c = 0.3 + 0.3 * similarity + 0.2 * closeness(dt);
    if let Connection::New { after_syn_ack } = connection(a, b) {
        c += 0.1;
        reasons.push(format!(
            "a new TCP connection on the far side: its SYN came {} after the near side's handshake was answered",
            human_duration(after_syn_ack)
        ));
    }
    if a.server == b.server {
        c += 0.1;
        reasons.push(format!("the same server at both taps ({})", a.server));
    } else if a.server.port == b.server.port {
        c += 0.1;
        reasons.push(format!(
            "server port {} at both taps: clients reach the proxy at {}, the proxy reaches the server at {} from {}",
            a.server.port,
            proxy_near(a, b).server,
            proxy_far(a, b).server,
            proxy_far(a, b).client.ip
        ));
    }
    c
}

/// The session that started first (nearest the client of a proxy).
fn proxy_near<'a>(a: &'a SeenSession, b: &'a SeenSession) -> &'a SeenSession {
    if a.first.ts <= b.first.ts { a } else { b }
}

fn proxy_far<'a>(a: &'a SeenSession, b: &'a SeenSession) -> &'a SeenSession {
    if a.first.ts <= b.first.ts { b } else { a }
}

fn rewritten(what: &str, a: Endpoint, b: Endpoint) -> String {
    if a == b {
        format!("the {what} {a} is the same at both taps")
    } else if a.ip == b.ip {
        format!(
            "the {what} port was rewritten: {a} at the {} tap is {b} at the {} tap",
            Tap::Inside.name(),
            Tap::Outside.name()
        )
    } else {
        format!(
            "the {what} was rewritten: {a} at the {} tap is {b} at the {} tap",
            Tap::Inside.name(),
            Tap::Outside.name()
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "pair_tests.rs"]
mod tests;
