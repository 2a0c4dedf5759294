//! The indexed pairing against the quadratic one it replaced, kept here as
//! the oracle, over generated session sets: reused five-tuples, equal
//! timestamps, NAT, proxies, clock skew, sessions at one tap only, and
//! crowds of more than [`MAX_CANDIDATES`] sessions within the window.

use super::*;
use crate::diff::collect::SeenLine;
use crate::flow::{PacketRef, PerSide, Side};
use crate::proto::Protocol;
use crate::proto::tap::TapItem;
use std::net::{IpAddr, Ipv4Addr};

/// The pairing as it was before the indexes: every inside session against
/// every outside session of its five-tuple and, sorted by distance, every
/// one starting within the window. Quadratic; the oracle.
fn reference(inside: &[SeenSession], outside: &[SeenSession], window: f64) -> PairingResult {
    let sig_in: Vec<Vec<(usize, u64)>> = inside.iter().map(signature).collect();
    let sig_out: Vec<Vec<(usize, u64)>> = outside.iter().map(signature).collect();
    let mut by_tuple: HashMap<(Endpoint, Endpoint), Vec<usize>> = HashMap::new();
    for (i, s) in outside.iter().enumerate() {
        by_tuple.entry((s.client, s.server)).or_default().push(i);
    }
    let mut order: Vec<usize> = (0..outside.len()).collect();
    order.sort_by_key(|&i| outside.get(i).map(|s| s.first.ts));
    let starts: Vec<f64> = order
        .iter()
        .filter_map(|&i| outside.get(i))
        .map(|s| s.first.ts.as_secs_f64())
        .collect();
    let mut candidates = Vec::new();
    for (ii, a) in inside.iter().enumerate() {
        let Some(sa) = sig_in.get(ii) else { continue };
        // The same five-tuple, whatever the time when the sequence numbers
        // agree too (the taps' clocks may differ).
        for &oi in by_tuple.get(&(a.client, a.server)).into_iter().flatten() {
            let Some(b) = outside.get(oi) else { continue };
            let dt = seconds_between(a.first.ts, b.first.ts);
            let same_isns = isn_shift(a, b) == Some(PerSide::both(0));
            if dt.abs() <= window || same_isns {
                candidates.push(Candidate {
                    inside: ii,
                    outside: oi,
                    method: Method::FiveTuple,
                    score: 3.0 + f64::from(u8::from(same_isns)) + closeness(dt),
                    dt,
                });
            }
        }
        let t = a.first.ts.as_secs_f64();
        let lo = starts.partition_point(|s| *s < t - window);
        let hi = starts.partition_point(|s| *s <= t + window);
        let mut near: Vec<usize> = order.get(lo..hi).unwrap_or_default().to_vec();
        near.sort_by(|x, y| {
            let d = |i: &usize| {
                outside
                    .get(*i)
                    .map_or(f64::MAX, |s| seconds_between(a.first.ts, s.first.ts).abs())
            };
            d(x).total_cmp(&d(y))
        });
        near.truncate(MAX_CANDIDATES);
        for oi in near {
            let (Some(b), Some(sb)) = (outside.get(oi), sig_out.get(oi)) else {
                continue;
            };
            if let Some(c) = candidate(ii, a, sa, oi, b, sb) {
                candidates.push(c);
            }
        }
    }
    candidates.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then(x.dt.abs().total_cmp(&y.dt.abs()))
            .then(x.inside.cmp(&y.inside))
            .then(x.outside.cmp(&y.outside))
    });
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

/// xorshift64*: the same sets on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

fn endpoint(ip: [u8; 4], port: u16) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::from(ip)),
        port,
    }
}

fn at(nanos: i64) -> Timestamp {
    Timestamp::new(
        1_700_000_000 + nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000) as u32,
    )
}

fn line(side: Side, hash: u64) -> SeenLine {
    SeenLine {
        item: TapItem {
            side,
            kind: TapKind::Line,
            packet: None,
            offset: 0,
            bytes: Vec::new(),
            len: 10,
            hash,
        },
        secret_from: None,
    }
}

fn shape(side: Side, offset: u64, len: u32) -> Shape {
    Shape { side, offset, len }
}

/// A session at one tap.
fn seen(client: Endpoint, server: Endpoint, start: i64, isns: PerSide<Option<u32>>) -> SeenSession {
    SeenSession {
        id: 0,
        client,
        server,
        first: PacketRef {
            input: 0,
            frame: 1,
            ts: at(start),
        },
        last: PacketRef {
            input: 0,
            frame: 9,
            ts: at(start + 20_000_000),
        },
        syn_seen: true,
        stream_start: isns,
        protocol: Protocol::from_port(server.port),
        implicit_tls: false,
        lines: Vec::new(),
        dropped_lines: 0,
        gaps: PerSide::default(),
        client_hello: None,
        server_hello: None,
        tls_sent: PerSide::default(),
        shape: Vec::new(),
        upgrade: Default::default(),
        handshake: Some(Handshake {
            syn: at(start),
            syn_ack: Some(at(start + 1_000_000)),
        }),
    }
}

/// How a generated session crosses the middlebox.
#[derive(Clone, Copy)]
enum Path {
    Untouched,
    Nat,
    Proxy,
    /// The outside tap's clock is 100 s ahead: pairs by sequence numbers.
    Skewed,
    InsideOnly,
    OutsideOnly,
}

/// Two taps' sessions: `n` conversations, their start times spread over
/// `spread` ms on a grid of `grid` ms (a coarse grid makes ties), clients
/// from a pool of `clients` endpoints (a small pool reuses five-tuples).
fn taps(
    rng: &mut Rng,
    n: usize,
    spread: i64,
    grid: i64,
    clients: u16,
) -> (Vec<SeenSession>, Vec<SeenSession>) {
    let servers = [
        endpoint([203, 0, 113, 1], 25),
        endpoint([203, 0, 113, 2], 143),
        endpoint([203, 0, 113, 3], 25),
    ];
    let paths = [
        Path::Untouched,
        Path::Untouched,
        Path::Nat,
        Path::Proxy,
        Path::Skewed,
        Path::InsideOnly,
        Path::OutsideOnly,
    ];
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for k in 0..n {
        let ms = 1_000_000;
        let start = (rng.below((spread / grid).max(1) as u64) as i64) * grid * ms;
        let client = endpoint(
            [10, 0, 0, 1 + rng.below(3) as u8],
            40_000 + rng.below(u64::from(clients)) as u16,
        );
        let server = rng.pick(&servers);
        let random = rng.next() as u32;
        let isns = PerSide::new(
            Some(rng.pick(&[1, 2, 3, random])),
            rng.pick(&[Some(7), None, Some(random ^ 1)]),
        );
        let mut a = seen(client, server, start, isns);
        a.id = k as u64;
        // A dialog from a few shared lines, a shape from a few patterns.
        for _ in 0..rng.below(6) {
            let side = rng.pick(&[Side::Client, Side::Server]);
            a.lines.push(line(side, rng.below(8)));
        }
        let len = rng.pick(&[10, 20, 30]);
        a.shape = match rng.below(4) {
            0 => Vec::new(),
            _ => (0..1 + rng.below(4))
                .map(|i| shape(Side::Server, i * 100, len))
                .collect(),
        };
        if rng.below(5) == 0 {
            a.handshake = None;
        }
        if rng.below(7) == 0 {
            a.protocol = None;
        }
        let mut b = a.clone();
        let delay = rng.pick(&[0, 300_000, -300_000, 2_000_000]);
        b.first.ts = at(start + delay);
        b.handshake = a.handshake.map(|_| Handshake {
            syn: at(start + delay),
            syn_ack: Some(at(start + delay + 1_000_000)),
        });
        match rng.pick(&paths) {
            Path::Untouched => {}
            Path::Nat => {
                b.client = endpoint([198, 51, 100, 7], client.port + 1000);
                b.stream_start.client = isns.client.map(|x| x.wrapping_add(0x3c1a_9b07));
                if rng.below(3) == 0 {
                    b.shape.pop();
                }
            }
            Path::Proxy => {
                b.client = endpoint([198, 51, 100, 9], client.port + 2000);
                b.stream_start = PerSide::new(Some(rng.next() as u32), Some(rng.next() as u32));
                let later = start + rng.pick(&[3, 50, 900]) * ms;
                b.first.ts = at(later);
                b.handshake = Some(Handshake {
                    syn: at(later),
                    syn_ack: Some(at(later + ms)),
                });
                if rng.below(2) == 0 {
                    b.lines.push(line(Side::Server, 99));
                }
            }
            Path::Skewed => b.first.ts = at(start + 100_000 * ms),
            Path::InsideOnly => {
                inside.push(a);
                continue;
            }
            Path::OutsideOnly => {
                outside.push(b);
                continue;
            }
        }
        inside.push(a);
        outside.push(b);
    }
    // Neither tap lists its sessions in the other's order.
    for i in (1..outside.len()).rev() {
        outside.swap(i, rng.below(i as u64 + 1) as usize);
    }
    (inside, outside)
}

fn same_result(inside: &[SeenSession], outside: &[SeenSession], window: f64) {
    let indexed = format!("{:#?}", pair_sessions(inside, outside, window));
    let quadratic = format!("{:#?}", reference(inside, outside, window));
    assert_eq!(indexed, quadratic, "window {window}");
}

#[test]
fn the_indexed_pairing_makes_the_quadratic_ones_pairs() {
    let mut rng = Rng(0x5eed_d1ff);
    let mut paired = [0usize; 3];
    for round in 0..400 {
        let n = [1, 5, 40, 150][round % 4];
        // A coarse grid in a short spread crowds the window with ties.
        let (spread, grid) = [(2_000, 500), (40_000, 7), (400_000, 1), (10, 10)][(round / 4) % 4];
        let clients = [2, 30, 1000][(round / 16) % 3];
        let (inside, outside) = taps(&mut rng, n, spread, grid, clients);
        for window in [30.0, 5.0, 0.0, f64::INFINITY, f64::NAN] {
            same_result(&inside, &outside, window);
        }
        for p in pair_sessions(&inside, &outside, 30.0).pairs {
            paired[p.method as usize] += 1;
        }
    }
    // Every rule was exercised.
    assert!(paired.iter().all(|&n| n > 100), "{paired:?}");
}

#[test]
fn a_crowd_at_one_instant_is_cut_at_the_same_sessions() {
    // 200 sessions at one of two instants: the nearest 64 are chosen among
    // ties by their order, before and after the inside session alike.
    let mut rng = Rng(7);
    let (mut inside, mut outside) = taps(&mut rng, 200, 2, 1, 1000);
    for s in inside.iter_mut().chain(outside.iter_mut()) {
        s.client.port = s.client.port.wrapping_add(rng.below(2) as u16 * 3000);
    }
    same_result(&inside, &outside, 30.0);
}

#[test]
fn nearest_is_a_stable_sort_by_distance_cut_at_the_cap() {
    let mut rng = Rng(11);
    for _ in 0..300 {
        let n = rng.below(150) as usize;
        let server = endpoint([203, 0, 113, 1], 25);
        let sessions: Vec<SeenSession> = (0..n)
            .map(|i| {
                seen(
                    endpoint([10, 0, 0, 1], i as u16),
                    server,
                    rng.below(20) as i64 * 1_000_000,
                    PerSide::default(),
                )
            })
            .collect();
        let mut sorted: Vec<usize> = (0..n).collect();
        sorted.sort_by_key(|&i| sessions[i].first.ts);
        let t = at(rng.below(22) as i64 * 1_000_000 - 1_000_000);
        let bound = rng.pick(&[f64::INFINITY, 0.004, 0.0]);
        let mut expected: Vec<usize> = sorted.clone();
        expected.sort_by(|x, y| {
            let d = |i: &usize| seconds_between(t, sessions[*i].first.ts).abs();
            d(x).total_cmp(&d(y))
        });
        expected.retain(|&i| seconds_between(t, sessions[i].first.ts).abs() <= bound);
        expected.truncate(MAX_CANDIDATES);
        assert_eq!(nearest(&sessions, &sorted, t, bound, |_| true), expected);
    }
}

#[test]
fn no_nat_or_proxy_score_reaches_a_five_tuple_score() {
    // The highest NAT score: every term at its best (proxy scores stay
    // below 1). Five-tuple scores above it make sure pairs.
    let nat = 2.0 + 0.5 * ratio((24, 24)) + 0.3 * closeness(0.0) + 0.2 * ratio((9, 9));
    assert!(nat <= WEAKER_RULES_BEST);
    let far = 3.0 + closeness(1e300);
    assert!(
        far <= WEAKER_RULES_BEST,
        "such a pair is left to the best-first pass"
    );
}

#[test]
fn many_sessions_on_one_five_tuple_are_paired_nearest_first() {
    // A five-tuple reused 1,000 times within the window (a crafted
    // capture): each inside session considers the 64 nearest, and the
    // pairs are the ones at the same instants.
    let client = endpoint([10, 0, 0, 1], 40_000);
    let server = endpoint([203, 0, 113, 1], 25);
    let inside: Vec<SeenSession> = (0..1000)
        .map(|k| seen(client, server, k * 10_000_000, PerSide::default()))
        .collect();
    let outside: Vec<SeenSession> = (0..1000)
        .rev()
        .map(|k| seen(client, server, k * 10_000_000 + 300_000, PerSide::default()))
        .collect();
    let result = pair_sessions(&inside, &outside, 30.0);
    assert_eq!(result.pairs.len(), 1000);
    for p in &result.pairs {
        assert_eq!(p.outside, 999 - p.inside);
        assert_eq!(p.method, Method::FiveTuple);
    }
}
