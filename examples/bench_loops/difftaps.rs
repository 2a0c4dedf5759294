//! `bench_loops difftaps N INSIDE OUTSIDE [RATE]`: the same SMTP sessions
//! seen at two taps, for timing `stripwatch diff` at scale.
//!
//! Session k (RATE sessions a second, default 100: a 30 s pairing window
//! holds 6,000) is, by k mod 20:
//! - 0..=11 untouched: the same five-tuple and sequence numbers at both
//!   taps (pairs by five-tuple);
//! - 12..=15 behind a NAT: client address and port rewritten, the client's
//!   sequence numbers shifted (pairs by NAT);
//! - 16..=17 through a terminating proxy: a new connection from the
//!   proxy's address 3 ms later, other sequence numbers (pairs by proxy);
//! - 18 at the inside tap only, 19 at the outside tap only.
//!
//! Client packets reach the inside tap 300 µs before the outside one,
//! server packets 300 µs after. The EHLO names differ in length, so the
//! data segments' shapes differ between some sessions and not others.

use std::io::BufWriter;
use std::process::ExitCode;
use stripwatch::capture::writer::PcapWriter;
use stripwatch::time::Timestamp;

const SERVERS: [[u8; 4]; 4] = [
    [203, 0, 113, 25],
    [203, 0, 113, 26],
    [203, 0, 113, 27],
    [203, 0, 113, 28],
];
const NAT_ADDRESS: [u8; 4] = [198, 51, 100, 7];
const PROXY_ADDRESS: [u8; 4] = [198, 51, 100, 9];
const TAP_DELAY_MICROS: i64 = 300;
const PROXY_DELAY_MICROS: i64 = 3_000;
const START_SECS: i64 = 1_700_000_000;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Untouched,
    Nat,
    Proxy,
    InsideOnly,
    OutsideOnly,
}

fn kind(k: u32) -> Kind {
    match k % 20 {
        0..=11 => Kind::Untouched,
        12..=15 => Kind::Nat,
        16..=17 => Kind::Proxy,
        18 => Kind::InsideOnly,
        _ => Kind::OutsideOnly,
    }
}

/// One TCP connection as one tap sees it.
struct Connection {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    isn: [u32; 2],
    /// Microseconds since the start of the capture of the first SYN.
    start: i64,
    /// Added to client packets' times, and subtracted from server ones'.
    skew: i64,
}

/// The packets of a connection, in order.
const STEPS: usize = 11;

/// One packet: from the client or not, µs after the SYN, TCP flags, payload.
type Step = (bool, i64, &'static str, String);

fn steps(k: u32) -> [Step; STEPS] {
    let server = SERVERS[k as usize % SERVERS.len()][3];
    let name = format!(
        "host-{:x}{}",
        k.wrapping_mul(2_654_435_761),
        ".x".repeat(k as usize % 9)
    );
    let banner = format!("220 mx{server}.example.org ESMTP ready\r\n");
    let ehlo_reply = format!(
        "250-mx{server}.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n\
         250-STARTTLS\r\n250 8BITMIME\r\n"
    );
    [
        (true, 0, "S", String::new()),
        (false, 1_000, "SA", String::new()),
        (true, 2_000, "A", String::new()),
        (false, 5_000, "PA", banner),
        (true, 8_000, "PA", format!("EHLO {name}\r\n")),
        (false, 10_000, "PA", ehlo_reply),
        (true, 12_000, "PA", "QUIT\r\n".into()),
        (false, 14_000, "PA", "221 2.0.0 Bye\r\n".into()),
        (true, 15_000, "FA", String::new()),
        (false, 16_000, "FA", String::new()),
        (true, 17_000, "A", String::new()),
    ]
}

/// The connections of session `k` at the inside and the outside tap.
fn session(k: u32, rate: u32) -> [Option<Connection>; 2] {
    let start = i64::from(k) * 1_000_000 / i64::from(rate.max(1));
    let server = (SERVERS[k as usize % SERVERS.len()], 25);
    let client = (
        [10, (k >> 16) as u8, (k >> 8) as u8, k as u8],
        10_000 + (k % 50_000) as u16,
    );
    let isn = [
        k.wrapping_mul(2_654_435_761),
        k.wrapping_mul(40_503) ^ 0x5eed_0000,
    ];
    let outside = Connection {
        client,
        server,
        isn,
        start,
        skew: 0,
    };
    let inside = Connection {
        client,
        server,
        isn,
        start,
        skew: -TAP_DELAY_MICROS,
    };
    match kind(k) {
        Kind::Untouched => [Some(inside), Some(outside)],
        Kind::Nat => [
            Some(inside),
            Some(Connection {
                client: (NAT_ADDRESS, 20_000 + (k % 40_000) as u16),
                isn: [isn[0].wrapping_add(0x3c1a_9b07), isn[1]],
                ..outside
            }),
        ],
        Kind::Proxy => [
            Some(inside),
            Some(Connection {
                client: (PROXY_ADDRESS, 20_000 + (k % 40_000) as u16),
                isn: [isn[0] ^ 0x00ff_00ff, isn[1] ^ 0xff00_ff00],
                start: start + PROXY_DELAY_MICROS,
                ..outside
            }),
        ],
        Kind::InsideOnly => [Some(inside), None],
        Kind::OutsideOnly => [None, Some(outside)],
    }
}

/// Packet `i` of connection `c` (session `k`) into `out`; returns its
/// time in µs.
fn frame(c: &Connection, k: u32, i: usize, out: &mut Vec<u8>) -> i64 {
    let steps = steps(k);
    let (from_client, at, flags, payload) = &steps[i];
    // Sequence space each side used before this packet (SYN and FIN count one).
    let used = |client: bool| -> u32 {
        let before = steps[..i].iter().filter(|s| s.0 == client);
        before
            .map(|(_, _, f, p)| p.len() as u32 + u32::from(f.contains('S') || f.contains('F')))
            .sum()
    };
    let [client_isn, server_isn] = c.isn;
    let (client_seq, server_seq) = (
        client_isn.wrapping_add(used(true)),
        server_isn.wrapping_add(used(false)),
    );
    let (src, dst, seq, ack) = if *from_client {
        (c.client, c.server, client_seq, server_seq)
    } else {
        (c.server, c.client, server_seq, client_seq)
    };
    out.clear();
    let mut tcp = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src.0, dst.0, 64)
        .tcp(src.1, dst.1, seq, 64240);
    if flags.contains('S') {
        tcp = tcp.syn();
    }
    if flags.contains('A') {
        tcp = tcp.ack(ack);
    }
    if flags.contains('P') {
        tcp = tcp.psh();
    }
    if flags.contains('F') {
        tcp = tcp.fin();
    }
    tcp.write(out, payload.as_bytes()).expect("frame");
    c.start + at + if *from_client { c.skew } else { -c.skew }
}

fn write_tap(path: &str, connections: &[(u32, Connection)]) -> std::io::Result<()> {
    // Every packet of every connection, in time order.
    let mut packets: Vec<(i64, u32, u8)> = Vec::with_capacity(connections.len() * STEPS);
    let mut buf = Vec::with_capacity(256);
    for (n, (k, c)) in connections.iter().enumerate() {
        for i in 0..STEPS {
            packets.push((frame(c, *k, i, &mut buf), n as u32, i as u8));
        }
    }
    packets.sort_unstable();
    let mut w = PcapWriter::new(BufWriter::new(std::fs::File::create(path)?), 1)?;
    for (at, n, i) in packets {
        let (k, c) = &connections[n as usize];
        frame(c, *k, usize::from(i), &mut buf);
        let ts = Timestamp::new(
            START_SECS + at.div_euclid(1_000_000),
            (at.rem_euclid(1_000_000) * 1_000) as u32,
        );
        w.write_frame(ts, &buf, buf.len() as u32)?;
    }
    w.flush()
}

pub fn main(args: &[String]) -> ExitCode {
    let (Some(n), Some(inside), Some(outside)) = (
        args.get(2).and_then(|n| n.parse::<u32>().ok()),
        args.get(3),
        args.get(4),
    ) else {
        eprintln!("usage: bench_loops difftaps N INSIDE OUTSIDE [SESSIONS-PER-SECOND]");
        return ExitCode::from(2);
    };
    let rate = args.get(5).and_then(|r| r.parse().ok()).unwrap_or(100);
    let (mut near, mut far) = (Vec::new(), Vec::new());
    for k in 0..n {
        let [a, b] = session(k, rate);
        near.extend(a.map(|c| (k, c)));
        far.extend(b.map(|c| (k, c)));
    }
    for (path, tap) in [(inside, &near), (outside, &far)] {
        if let Err(e) = write_tap(path, tap) {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
