//! Building hostile captures beside a good session, running the analyzer
//! on them (in-process with the heap measured, or as the binary), and what
//! a good session's record must say.

pub mod damage;

use crate::gen_samples;
use etherparse::PacketBuilder;
pub use gen_samples::conversation::{Conversation, Dir};
use gen_samples::formats::{self, Frame, NgInterface, NgSection};
use gen_samples::packet::{self, Link};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use stripwatch::analysis::{
    self, AnalysisOptions, Filter, LateFinding, Report, Reporter, Run, RunEnd, SessionRecord,
};
use stripwatch::capture::InputSpec;
use stripwatch::capture::writer::{PcapOptions, PcapWriter};
use stripwatch::flow::{FlowConfig, TableStats};
use stripwatch::time::Timestamp;

// ----- heap accounting -----

/// The system allocator, counting the live heap bytes of each thread and
/// their peak (tests run on several threads at once).
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `f` and returns its result with the most heap this thread held at
/// once during it, above what it held before.
pub fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}

pub const MB: usize = 1 << 20;

/// Runs `f`, failing when it takes more than two minutes (generous: debug
/// builds on a loaded two-core machine; the runs take seconds).
pub fn timed<T>(f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < std::time::Duration::from_secs(120), "took {took:?}");
    out
}

// ----- captures -----

/// The server every session talks to, and its clients.
pub const SERVER: &str = "198.51.100.25:25";
pub const GOOD_CLIENT: &str = "192.0.2.10:40000";

/// Frames of a capture, merged in time order.
#[derive(Default)]
pub struct Capture {
    frames: Vec<(Timestamp, Vec<u8>, u32)>,
}

impl Capture {
    /// Every captured packet of `c` (Ethernet).
    pub fn conversation(&mut self, c: &Conversation) -> &mut Self {
        for captured in c.captured() {
            let data = packet::frame(Link::Ethernet, c, &captured);
            let len = data.len() as u32;
            self.frames.push((captured.ts, data, len));
        }
        self
    }

    /// One frame as captured (`data` may be shorter than `orig_len`).
    pub fn frame(&mut self, ts: Timestamp, data: Vec<u8>, orig_len: u32) -> &mut Self {
        self.frames.push((ts, data, orig_len));
        self
    }

    pub fn frames(&self) -> &[(Timestamp, Vec<u8>, u32)] {
        &self.frames
    }

    fn sorted(&self) -> Vec<&(Timestamp, Vec<u8>, u32)> {
        let mut frames: Vec<_> = self.frames.iter().collect();
        frames.sort_by_key(|f| f.0);
        frames
    }

    /// A classic pcap, frames in time order.
    pub fn pcap(&self) -> Vec<u8> {
        let mut w = PcapWriter::with_options(Vec::new(), PcapOptions::new(1)).unwrap();
        for (ts, data, len) in self.sorted() {
            w.write_frame(*ts, data, *len).unwrap();
        }
        w.into_inner().unwrap()
    }

    /// A pcapng with one Ethernet interface (µs), frames in time order.
    pub fn pcapng(&self) -> Vec<u8> {
        let frames: Vec<Frame> = self
            .sorted()
            .into_iter()
            .map(|(ts, data, _)| Frame {
                ts: *ts,
                section: 0,
                interface: 0,
                data: data.clone(),
            })
            .collect();
        let section = NgSection {
            interfaces: vec![NgInterface {
                name: "eth0",
                link: Link::Ethernet,
                tsresol: None,
            }],
        };
        formats::pcapng(&frames, &[section], None)
    }
}

/// A file under the temporary directory, removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(name: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "stripwatch-adversarial-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The whole analysis in-process, as `stripwatch analyze` runs it, with
/// the heap it took at its peak.
pub fn analyze(file: &TempFile, config: FlowConfig) -> (Report, usize) {
    let spec = InputSpec {
        path: file.path().to_path_buf(),
        name: file.path().display().to_string(),
        stream: false,
    };
    peak_heap(|| analysis::analyze(&[spec], config, AnalysisOptions::default()))
}

/// A reporter that keeps the records of one client and counts the others.
struct Keep {
    client: &'static str,
    kept: Vec<SessionRecord>,
    count: u64,
}

impl Reporter for Keep {
    fn session(&mut self, record: &SessionRecord) -> std::io::Result<()> {
        self.count += 1;
        if record.client.to_string() == self.client {
            self.kept.push(record.clone());
        }
        Ok(())
    }

    fn late_finding(&mut self, _late: &LateFinding) -> std::io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _end: &RunEnd<'_>) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a streaming run kept: the records of one client, how many sessions
/// there were, the table's counters, and the peak heap of the run.
pub struct Streamed {
    pub kept: Vec<SessionRecord>,
    pub sessions: u64,
    pub stats: TableStats,
    pub heap: usize,
}

/// The analysis as `--format jsonl` runs it (sessions handed on as they
/// end, nothing kept but the records of `client`): the heap measured is the
/// pipeline's own, not the report's.
pub fn analyze_streaming(file: &TempFile, config: FlowConfig, client: &'static str) -> Streamed {
    let spec = InputSpec {
        path: file.path().to_path_buf(),
        name: file.path().display().to_string(),
        stream: false,
    };
    let mut keep = Keep {
        client,
        kept: Vec::new(),
        count: 0,
    };
    let (stats, heap) = peak_heap(|| {
        let mut run = Run::new(Filter::default(), vec![&mut keep]);
        let (summaries, stats) = analysis::run_inputs(
            &[spec],
            config,
            AnalysisOptions::default(),
            1,
            &mut run,
            &|_, _| {},
        );
        let _ = run.finish(&summaries, &stats);
        stats
    });
    Streamed {
        kept: keep.kept,
        sessions: keep.count,
        stats,
        heap,
    }
}

/// `stripwatch analyze ARGS FILE`: exit status, standard output and error.
pub fn run_binary(file: &TempFile, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .arg("analyze")
        .args(args)
        .arg(file.path())
        .output()
        .unwrap();
    let status = out.status.code().unwrap_or(-1);
    (
        status,
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ----- sessions -----

/// A conversation from `client` to [`SERVER`] whose first packet is `secs`
/// seconds into the capture.
pub fn conversation(client: &str, secs: i64) -> Conversation {
    Conversation::new(client, SERVER).starts_at(secs, 0)
}

/// The next sequence number of `side` once everything scripted was sent.
pub fn next_seq(c: &Conversation, side: Dir) -> u32 {
    let fin = c
        .wire()
        .iter()
        .filter(|p| p.from == side && (p.fin || p.syn))
        .count();
    c.isn(side)
        .wrapping_add(c.sent(side).len() as u32)
        .wrapping_add(fin as u32)
}

/// The time of the last packet `c` puts in the capture.
pub fn last_ts(c: &Conversation) -> Timestamp {
    c.captured().last().map_or(c.start(), |p| p.ts)
}

/// An Ethernet frame of one TCP segment (flags: 0x01 FIN, 0x02 SYN,
/// 0x04 RST, 0x08 PSH; ACK when `ack` is given).
pub fn tcp_frame(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: Option<u32>,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        panic!("IPv4 only");
    };
    let mut tcp = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(s.octets(), d.octets(), 64)
        .tcp(src.port(), dst.port(), seq, 502);
    if flags & 0x01 != 0 {
        tcp = tcp.fin();
    }
    if flags & 0x02 != 0 {
        tcp = tcp.syn();
    }
    if flags & 0x04 != 0 {
        tcp = tcp.rst();
    }
    if flags & 0x08 != 0 {
        tcp = tcp.psh();
    }
    if let Some(ack) = ack {
        tcp = tcp.ack(ack);
    }
    let mut out = Vec::with_capacity(tcp.size(payload.len()));
    tcp.write(&mut out, payload).unwrap();
    out
}

/// `t` plus `nanos`.
pub fn after(t: Timestamp, nanos: u64) -> Timestamp {
    gen_samples::conversation::add_nanos(t, nanos)
}

/// A good session: STARTTLS offered, asked for, accepted, and a TLS
/// handshake after it.
pub fn good_session(secs: i64) -> Conversation {
    let mut c = conversation(GOOD_CLIENT, secs);
    gen_samples::dialogs::smtp::starttls_session(&mut c, 7);
    c
}

/// The record of the session of `client`.
pub fn session<'a>(report: &'a Report, client: &str) -> &'a SessionRecord {
    let found: Vec<&SessionRecord> = report
        .sessions
        .iter()
        .filter(|s| s.client.to_string() == client)
        .collect();
    assert_eq!(found.len(), 1, "one session of {client}: {found:#?}");
    found[0]
}

/// The kinds of a record's findings.
pub fn kinds(record: &SessionRecord) -> Vec<&'static str> {
    record.findings.iter().map(|f| f.kind.name()).collect()
}

/// The good session is reported whole and right: SMTP, STARTTLS offered,
/// asked for, accepted and followed by TLS, no finding, no gap.
pub fn assert_good(report: &Report) {
    assert_good_record(session(report, GOOD_CLIENT));
}

/// [`assert_good`] on the record itself.
pub fn assert_good_record(s: &SessionRecord) {
    assert_eq!(s.protocol, "smtp");
    assert_eq!(s.starttls.offered, Some(true), "{s:#?}");
    assert!(s.starttls.requested);
    assert_eq!(s.starttls.accepted, Some(true));
    assert!(s.starttls.tls_established, "{s:#?}");
    assert!(s.findings.is_empty(), "{:?}", kinds(s));
    assert!(s.credentials.is_empty());
    assert_eq!(s.transport.gaps, 0);
    assert!(s.anomalies.is_empty());
}

/// SMTP up to the EHLO reply, from `client`, `secs` into the capture.
pub fn smtp_greeted(client: &str, secs: i64) -> Conversation {
    let mut c = conversation(client, secs);
    c.handshake();
    gen_samples::dialogs::smtp::greet_and_ehlo(&mut c, gen_samples::dialogs::smtp::MX);
    c
}

pub use Dir::{Client, Server};

// ----- output safety -----

/// Characters that reorder displayed text.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Panics unless `bytes` is UTF-8 text whose only control is the newline,
/// without bidi controls.
pub fn assert_printable(what: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    for (at, c) in text.char_indices() {
        assert!(
            c == '\n' || !(c.is_control() || is_bidi(c)),
            "{what}: raw {c:?} at byte {at}: {:?}",
            String::from_utf8_lossy(&bytes[at.saturating_sub(60)..(at + 20).min(bytes.len())])
        );
    }
}
