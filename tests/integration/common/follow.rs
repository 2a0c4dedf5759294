//! Reassembled TCP streams of a capture, two ways: from stripwatch's own
//! pipeline, and from `tshark -q -z follow,tcp,raw,N`.
//!
//! # What tshark 4.0 prints for `follow,tcp,raw`
//!
//! Established by experiment with tshark 4.0.17 (the synthetic captures of
//! `tests/integration/follow_tshark.rs` pin each point down); consistent with how
//! `follow_tcp_tap_listener` / `check_follow_fragments` in Wireshark's
//! `epan/dissectors/packet-tcp.c` work:
//!
//! - One block per `-z follow,...` argument, printed in *reverse* order of
//!   the arguments; each names its stream (`Filter: tcp.stream eq N`).
//!   A stream with no packets prints `Node 0: :0` / `Node 1: :0`.
//! - `Node 0` is the source of the first packet of the stream that tshark
//!   saw (SYN or not), `Node 1` its destination. IPv6 is `[addr]:port`.
//! - Then one line per chunk, in the order tshark released them: the chunk's
//!   bytes as lowercase hex, prefixed by a tab when node 1 sent them.
//!   A chunk is one packet's bytes, or the new part of them (consecutive
//!   packets are never merged).
//! - Per direction, tshark starts at the sequence number of the first
//!   packet it sees from that side (+1 for a SYN) and keeps a "next
//!   expected" number. A segment at it is printed; the new part of a
//!   segment that overlaps what was printed is printed (first-seen bytes
//!   win, a conflicting retransmission is silently ignored); a segment
//!   entirely before it is dropped.
//! - A segment ahead of it (out of order) is held back and printed when the
//!   hole before it fills. If the *other* side acknowledges past the start
//!   of the earliest held segment, tshark gives up on the hole: it prints a
//!   marker chunk, the ASCII text `[N bytes missing in capture file]`
//!   followed by a NUL byte (hex-encoded like data), then the held data.
//!   That marker is the only gap representation.
//! - Held data whose hole is never acknowledged is never printed: the
//!   stream just ends before the hole (tshark "stops at the hole").
//! - Bytes cut off by the snaplen are skipped silently: tshark advances by
//!   the TCP segment length from the IP header, prints only the captured
//!   bytes, and prints no marker.
//! - If a hole was given up on (marker printed) and its bytes turn up later,
//!   they are before "next expected" and dropped.
//! - FIN and RST end nothing: tshark does not count the FIN's sequence
//!   number, so bytes sent at or after it are printed as stream data
//!   (stripwatch drops bytes past the FIN), and packets after a RST still
//!   belong to the stream (stripwatch ends the session at the RST).
//! - A held out-of-order segment loses against a later segment that arrives
//!   in order and overlaps it: the in-order one is printed whole and the
//!   held one only for its part beyond (stripwatch keeps the first-seen
//!   bytes and reports a conflict).
//! - A new SYN with another ISN on a closed four-tuple is a new stream
//!   (port reuse), as in stripwatch. A retransmitted SYN with the *same*
//!   ISN after a RST stays in the same stream (stripwatch starts a new
//!   session for it).
//! - Mid-stream, tshark starts each direction at its first segment, even
//!   when the peer had already acknowledged past it; stripwatch starts a
//!   direction at the peer's acknowledgement number when that comes first
//!   and cuts the bytes before it.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use stripwatch::capture::InputSpec;
use stripwatch::flow::{
    Endpoint, FlowConfig, GapReason, PortSet, SessionHandler, SessionInfo, Side, StreamEvent,
    StreamSink,
};
use stripwatch::pipeline::Pipeline;

/// Contiguous bytes of one direction, at their stream offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// A gap event of stripwatch's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub offset: u64,
    pub len: u64,
    pub reason: GapReason,
}

/// One direction of a stripwatch session, as its sink saw it.
#[derive(Clone, Debug, Default)]
pub struct Direction {
    /// Runs of delivered bytes, in stream order, separated by gaps.
    pub pieces: Vec<Piece>,
    pub gaps: Vec<Gap>,
    /// (offset, len) of each conflict event.
    pub conflicts: Vec<(u64, u64)>,
    pub fin: Option<u64>,
    /// Offsets of data or gap events that did not continue the stream
    /// where the previous event ended (must never happen).
    pub discontinuities: Vec<u64>,
    next: u64,
}

impl Direction {
    fn event(&mut self, event: StreamEvent<'_>) {
        match event {
            StreamEvent::Data { offset, bytes, .. } => {
                if offset != self.next {
                    self.discontinuities.push(offset);
                }
                match self.pieces.last_mut() {
                    Some(p) if p.offset + p.bytes.len() as u64 == offset => {
                        p.bytes.extend_from_slice(bytes);
                    }
                    _ => self.pieces.push(Piece {
                        offset,
                        bytes: bytes.to_vec(),
                    }),
                }
                self.next = offset + bytes.len() as u64;
            }
            StreamEvent::Gap {
                offset,
                len,
                reason,
            } => {
                if offset != self.next {
                    self.discontinuities.push(offset);
                }
                self.gaps.push(Gap {
                    offset,
                    len,
                    reason,
                });
                self.next = offset + len;
            }
            StreamEvent::Conflict(c) => self.conflicts.push((c.offset, c.len)),
            StreamEvent::Fin { offset, .. } => self.fin = Some(offset),
        }
    }
}

/// One session as stripwatch reassembled it.
#[derive(Clone, Debug)]
pub struct OurSession {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    /// [client → server, server → client]
    pub dirs: [Direction; 2],
}

#[derive(Default)]
struct Collector {
    dirs: [Direction; 2],
}

impl StreamSink for Collector {
    fn on_event(&mut self, side: Side, event: StreamEvent<'_>) {
        self.dirs[side.index()].event(event);
    }
}

#[derive(Default)]
struct Sessions(Vec<OurSession>);

impl SessionHandler for Sessions {
    type Sink = Collector;

    fn open(&mut self, _info: &SessionInfo) -> Collector {
        Collector::default()
    }

    fn close(&mut self, info: SessionInfo, sink: Collector) {
        self.0.push(OurSession {
            id: info.id,
            client: info.client,
            server: info.server,
            dirs: sink.dirs,
        });
    }
}

/// The default flow configuration, following every TCP port.
pub fn all_ports_config() -> FlowConfig {
    let mut ports = PortSet::empty();
    for port in 0..=u16::MAX {
        ports.insert(port);
    }
    FlowConfig {
        ports,
        ..FlowConfig::default()
    }
}

/// Runs stripwatch's pipeline over one capture. Returns the sessions in id
/// order and the read error, if the file could not be read to its end.
pub fn stripwatch_sessions(path: &Path) -> (Vec<OurSession>, Option<String>) {
    let mut pipeline = Pipeline::new(all_ports_config(), Sessions::default());
    pipeline.read_input(&InputSpec {
        path: path.to_path_buf(),
        name: path.display().to_string(),
        stream: false,
    });
    let (sessions, inputs, _) = pipeline.finish();
    let mut sessions = sessions.0;
    sessions.sort_by_key(|s| s.id);
    let error = inputs.into_iter().find_map(|i| i.error);
    (sessions, error)
}

/// One chunk of tshark's follow output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    Data(Vec<u8>),
    /// `[N bytes missing in capture file]` (N as tshark printed it).
    Missing(i64),
}

/// One `tcp.stream` as `follow,tcp,raw` printed it.
#[derive(Clone, Debug)]
pub struct TsharkStream {
    pub index: u64,
    /// Node 0 and node 1 (`None` when the stream had no packets).
    pub nodes: Option<[Endpoint; 2]>,
    /// [node 0 → node 1, node 1 → node 0]
    pub dirs: [Vec<Chunk>; 2],
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
    assert!(
        out.status.success(),
        "tshark {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `tcp.stream` indexes of a capture (including streams tshark only
/// knows from TCP headers quoted inside ICMP errors).
pub fn tshark_stream_ids(path: &Path) -> Vec<u64> {
    let p = path.to_str().unwrap();
    let out = tshark(&["-r", p, "-T", "fields", "-e", "tcp.stream"]);
    let ids: BTreeSet<u64> = out
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    ids.into_iter().collect()
}

/// Every stream of a capture as tshark follows it, in index order.
pub fn tshark_streams(path: &Path) -> Vec<TsharkStream> {
    let p = path.to_str().unwrap();
    let mut streams = Vec::new();
    for batch in tshark_stream_ids(path).chunks(64) {
        let mut args = vec!["-r".to_string(), p.to_string(), "-q".to_string()];
        for id in batch {
            args.push("-z".to_string());
            args.push(format!("follow,tcp,raw,{id}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        streams.extend(parse_follow_output(&tshark(&args)));
    }
    streams.sort_by_key(|s| s.index);
    streams
}

/// Parses the output of one or more `-z follow,tcp,raw,N`.
pub fn parse_follow_output(text: &str) -> Vec<TsharkStream> {
    let mut streams = Vec::new();
    let mut cur: Option<TsharkStream> = None;
    let mut node0: Option<Endpoint> = None;
    for line in text.lines() {
        if line.starts_with("=====") {
            if let Some(s) = cur.take() {
                streams.push(s);
            }
        } else if line.starts_with("Follow: ") {
            assert_eq!(line, "Follow: tcp,raw", "unexpected follow mode");
            cur = Some(TsharkStream {
                index: u64::MAX,
                nodes: None,
                dirs: [Vec::new(), Vec::new()],
            });
        } else if let Some(rest) = line.strip_prefix("Filter: tcp.stream eq ") {
            cur.as_mut().unwrap().index = rest.trim().parse().unwrap();
        } else if let Some(rest) = line.strip_prefix("Node 0: ") {
            node0 = parse_endpoint(rest);
        } else if let Some(rest) = line.strip_prefix("Node 1: ") {
            let s = cur.as_mut().unwrap();
            s.nodes = node0.zip(parse_endpoint(rest)).map(|(a, b)| [a, b]);
        } else if let Some(s) = cur.as_mut() {
            let (node, hex) = match line.strip_prefix('\t') {
                Some(hex) => (1, hex),
                None => (0, line),
            };
            let bytes = decode_hex(hex.trim_end());
            if bytes.is_empty() {
                continue;
            }
            let chunk = match missing_marker(&bytes) {
                Some(n) => Chunk::Missing(n),
                None => Chunk::Data(bytes),
            };
            s.dirs[node].push(chunk);
        }
    }
    assert!(cur.is_none(), "tshark follow output ends inside a block");
    streams
}

/// `ip:port`, `[ipv6]:port`; `None` for tshark's `:0` (no packets).
pub fn parse_endpoint(text: &str) -> Option<Endpoint> {
    let (ip, port) = text.trim().rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip.is_empty() {
        return None;
    }
    Some(Endpoint {
        ip: ip.parse::<IpAddr>().ok()?,
        port: port.parse().ok()?,
    })
}

fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex line from tshark: {hex:?}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The N of tshark's `[N bytes missing in capture file]\0` chunk.
pub fn missing_marker(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes.strip_suffix(b"\0")?).ok()?;
    let n = text
        .strip_prefix('[')?
        .strip_suffix(" bytes missing in capture file]")?;
    n.parse().ok()
}

/// Capture files under `dir`, recursively, sorted: `.pcap`, `.pcapng`,
/// `.cap`, each optionally `.gz`.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if is_capture_name(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn is_capture_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(name);
    [".pcap", ".pcapng", ".cap"]
        .iter()
        .any(|ext| name.ends_with(ext))
}
