//! `live --write-evidence DIR`: the flagged sessions' packets, written
//! while the capture runs.
//!
//! `analyze` reads its inputs a second time; a live capture cannot be read
//! twice, so the feeding thread keeps the recent packets of every flow
//! ([`LiveEvidence::keep`]) and the session's files are written when its
//! record reaches the reporters, that is when the session ends (live
//! reports a session as it ends): the frames of its four-tuple numbered
//! from its first to its last packet, masked as `analyze` masks them
//! ([`super::mask_secrets`]), into the same files (`session-<id>-<kind>.pcap`,
//! 0600, created new through [`crate::output_file::OutputDir`]).
//!
//! Bounds (packets are hostile input):
//! - per flow, the last [`MAX_FLOW_PACKETS`] packets and at most
//!   [`MAX_FLOW_BYTES`] bytes: older ones are dropped first;
//! - in all, [`MAX_HELD_BYTES`] (captured bytes plus [`FRAME_OVERHEAD`] per
//!   packet): past it, the oldest packet held, whatever its flow, is
//!   dropped (the one overflow policy);
//! - a session whose packets were dropped gets what is left, and is
//!   counted ([`EvidenceSummary::partial_sessions`]).
//!
//! A session's packets are let go once it ended and its files are written;
//! those of a session a later session may still prove stripped (flagged or
//! not) stay while the bounds allow ([`MAX_RETAINED`] sessions remembered), so a
//! late finding is written too (its replaced finding's file renamed, as
//! `analyze` would have named it). Packets of the same four-tuple after a
//! session ended belong to another session (or none) and are never added
//! to its files.

use super::{EvidenceSummary, LiveEvidence, evidence_name, mask_secrets};
use crate::analysis::session::CaptureRef;
use crate::analysis::{FindingKind, LateFinding, Reporter, RunEnd, SessionRecord};
use crate::capture::writer::PcapWriter;
use crate::capture::{Frame, LinkType};
use crate::decode;
use crate::flow::{Endpoint, FlowKey};
use crate::output_file::{IfExists, OutputDir};
use crate::time::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::io::{self, BufWriter};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Packets kept per flow (the most recent).
pub(crate) const MAX_FLOW_PACKETS: usize = 4096;
/// Bytes kept per flow (captured bytes plus the per-packet overhead).
pub(crate) const MAX_FLOW_BYTES: usize = 8 << 20;
/// Bytes kept for all flows together.
pub(crate) const MAX_HELD_BYTES: usize = 256 << 20;
/// What one packet held costs beside its bytes, counted in the bounds.
pub(crate) const FRAME_OVERHEAD: usize = 64;
/// Flagged or candidate sessions remembered for late findings.
pub(crate) const MAX_RETAINED: usize = 10_000;

/// One packet held.
#[derive(Clone)]
pub(super) struct HeldFrame {
    number: u64,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    data: Box<[u8]>,
}

impl HeldFrame {
    fn cost(&self) -> usize {
        self.data.len() + FRAME_OVERHEAD
    }
}

/// The recent packets of one flow, oldest first.
#[derive(Default)]
struct Ring {
    frames: VecDeque<HeldFrame>,
    bytes: usize,
    /// The highest frame number dropped by this flow's bounds.
    lost_upto: u64,
}

/// Every flow's recent packets.
#[derive(Default)]
pub(super) struct Held {
    flows: HashMap<FlowKey, Ring>,
    /// Every packet held, in frame order (entries whose packet was let go
    /// otherwise are skipped, and swept when they outnumber the rest).
    order: VecDeque<(u64, FlowKey)>,
    frames: usize,
    bytes: usize,
    /// The highest frame number dropped by the global bound.
    evicted_upto: u64,
    /// The bounds sizes: (per flow packets, per flow bytes, all bytes).
    limits: (usize, usize, usize),
}

impl Held {
    pub(super) fn new() -> Self {
        Held::with_limits(MAX_FLOW_PACKETS, MAX_FLOW_BYTES, MAX_HELD_BYTES)
    }

    fn with_limits(packets: usize, flow_bytes: usize, all_bytes: usize) -> Self {
        Held {
            limits: (packets, flow_bytes, all_bytes),
            ..Held::default()
        }
    }

    /// Keeps a copy of `frame` in its flow's ring (not a TCP segment: not kept).
    fn keep(&mut self, frame: &Frame<'_>) {
        let Ok(seg) = decode::decode(frame.link, frame.data) else {
            return;
        };
        let (src, dst) = Endpoint::of(&seg);
        let key = FlowKey::new(src, dst);
        let held = HeldFrame {
            number: frame.number,
            ts: frame.ts,
            link: frame.link,
            orig_len: frame.orig_len,
            data: frame.data.into(),
        };
        let cost = held.cost();
        let (max_packets, max_flow_bytes, max_bytes) = self.limits;
        let ring = self.flows.entry(key).or_default();
        while !ring.frames.is_empty()
            && (ring.frames.len() >= max_packets || ring.bytes + cost > max_flow_bytes)
        {
            if let Some(old) = ring.frames.pop_front() {
                ring.bytes -= old.cost();
                ring.lost_upto = ring.lost_upto.max(old.number);
                self.bytes -= old.cost();
                self.frames -= 1;
            }
        }
        ring.bytes += cost;
        ring.frames.push_back(held);
        self.bytes += cost;
        self.frames += 1;
        self.order.push_back((frame.number, key));
        while self.bytes > max_bytes {
            if !self.evict_oldest() {
                break;
            }
        }
        if self.order.len() > 2 * self.frames + 1024 {
            self.sweep();
        }
    }

    /// Drops the oldest packet held; false when none is.
    fn evict_oldest(&mut self) -> bool {
        while let Some((number, key)) = self.order.pop_front() {
            let Some(ring) = self.flows.get_mut(&key) else {
                continue;
            };
            if ring.frames.front().map(|f| f.number) != Some(number) {
                continue;
            }
            if let Some(old) = ring.frames.pop_front() {
                ring.bytes -= old.cost();
                self.bytes -= old.cost();
                self.frames -= 1;
                self.evicted_upto = self.evicted_upto.max(number);
            }
            if ring.frames.is_empty() {
                self.flows.remove(&key);
            }
            return true;
        }
        false
    }

    /// Forgets the order entries of packets no longer held.
    fn sweep(&mut self) {
        let flows = &self.flows;
        self.order.retain(|(number, key)| {
            flows
                .get(key)
                .is_some_and(|r| r.frames.binary_search_by_key(number, |f| f.number).is_ok())
        });
    }

    /// The packets of session `c` still held, and whether some are missing.
    fn session(&self, c: &CaptureRef) -> (Vec<HeldFrame>, bool) {
        let key = FlowKey::new(c.client, c.server);
        let (first, last) = (c.first.frame, c.last.frame);
        let Some(ring) = self.flows.get(&key) else {
            return (Vec::new(), true);
        };
        let frames: Vec<HeldFrame> = ring
            .frames
            .iter()
            .filter(|f| (first..=last).contains(&f.number))
            .cloned()
            .collect();
        let lost = ring.lost_upto.max(self.evicted_upto) >= first;
        (frames, lost)
    }

    /// Lets go of the packets of session `c` (it ended, and nobody will ask for them).
    fn release(&mut self, c: &CaptureRef) {
        let key = FlowKey::new(c.client, c.server);
        let Some(ring) = self.flows.get_mut(&key) else {
            return;
        };
        let before = ring.bytes;
        let count = ring.frames.len();
        ring.frames
            .retain(|f| f.number < c.first.frame || f.number > c.last.frame);
        ring.bytes = ring.frames.iter().map(HeldFrame::cost).sum();
        self.bytes -= before - ring.bytes;
        self.frames -= count - ring.frames.len();
        if ring.frames.is_empty() {
            self.flows.remove(&key);
        }
    }
}

/// A session remembered for a late finding: where it is and the files written.
struct Retained {
    capture: CaptureRef,
    kinds: Vec<FindingKind>,
}

/// The output directory and what went into it.
pub(super) struct Files {
    dir: OutputDir,
    if_exists: IfExists,
    show_secrets: bool,
    retained: HashMap<u64, Retained>,
    retained_order: VecDeque<u64>,
    pub(super) summary: EvidenceSummary,
}

impl Files {
    pub(super) fn new(dir: OutputDir, if_exists: IfExists, show_secrets: bool) -> Self {
        Files {
            dir,
            if_exists,
            show_secrets,
            retained: HashMap::new(),
            retained_order: VecDeque::new(),
            summary: EvidenceSummary::default(),
        }
    }

    /// Counts a failure to write a file.
    fn failed(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.summary.failed_files += 1;
            self.summary
                .first_failure
                .get_or_insert_with(|| e.to_string());
        }
    }

    fn retain(&mut self, id: u64, capture: CaptureRef, kinds: Vec<FindingKind>) {
        if self.retained_order.len() >= MAX_RETAINED {
            if let Some(old) = self.retained_order.pop_front() {
                self.retained.remove(&old);
            }
        }
        self.retained_order.push_back(id);
        self.retained.insert(id, Retained { capture, kinds });
    }

    /// Writes `frames` (of session `c`) to `session-<id>-<kind>.pcap`, masked.
    fn write(
        &mut self,
        id: u64,
        kind: FindingKind,
        c: &CaptureRef,
        frames: &[HeldFrame],
    ) -> io::Result<()> {
        let name = evidence_name(id, kind);
        let link = frames.first().map_or(1, |f| f.link);
        let file = self.dir.create(&name, self.if_exists)?;
        let mut writer = PcapWriter::new(BufWriter::new(file), link)?;
        for f in frames {
            if f.link != link {
                self.summary.skipped_link_type += 1;
                continue;
            }
            let mut bytes = f.data.to_vec();
            if !self.show_secrets {
                if let Ok(seg) = decode::decode(f.link, &f.data) {
                    if mask_secrets(c, &seg, &f.data, &mut bytes) {
                        decode::fix_tcp_checksum(f.link, &mut bytes);
                        self.summary.masked_packets += 1;
                    }
                }
            }
            writer.write_frame(f.ts, &bytes, f.orig_len)?;
            self.summary.packets += 1;
        }
        writer.flush()?;
        let path = self.dir.path().join(name);
        if let Err(at) = self.summary.files.binary_search(&path) {
            self.summary.files.insert(at, path);
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LiveEvidence {
    /// Evidence written to `dir` (opened before privileges are given up),
    /// secrets masked unless `show_secrets`.
    pub fn new(dir: OutputDir, if_exists: IfExists, show_secrets: bool) -> Self {
        LiveEvidence {
            held: Mutex::new(Held::new()),
            files: Mutex::new(Files::new(dir, if_exists, show_secrets)),
        }
    }

    /// Keeps a copy of a captured frame in its flow's ring, before it is
    /// handed to the workers (so a session's packets are all there when
    /// its record comes).
    pub fn keep(&self, frame: &Frame<'_>) {
        lock(&self.held).keep(frame);
    }

    /// What was written so far.
    pub fn summary(&self) -> EvidenceSummary {
        let files = lock(&self.files);
        let s = &files.summary;
        EvidenceSummary {
            files: s.files.clone(),
            packets: s.packets,
            masked_packets: s.masked_packets,
            skipped_link_type: s.skipped_link_type,
            partial_sessions: s.partial_sessions,
            failed_files: s.failed_files,
            first_failure: s.first_failure.clone(),
        }
    }

    /// Writes the files of `kinds` for session `id` from the packets held.
    /// A file that cannot be written is counted, not fatal: the capture
    /// goes on (and the status at the end says it failed).
    fn write_session(&self, id: u64, c: &CaptureRef, kinds: &[FindingKind]) {
        let (frames, lost) = lock(&self.held).session(c);
        let mut files = lock(&self.files);
        if lost {
            files.summary.partial_sessions += 1;
        }
        for kind in kinds {
            let written = files.write(id, *kind, c, &frames);
            files.failed(written);
        }
    }
}

impl Reporter for &LiveEvidence {
    fn session(&mut self, record: &SessionRecord) -> io::Result<()> {
        let c = &record.capture;
        if record.findings.is_empty() {
            if record.stripping.unproven_absence.is_some() {
                lock(&self.files).retain(record.id, c.clone(), Vec::new());
            } else {
                lock(&self.held).release(c);
            }
            return Ok(());
        }
        let mut kinds: Vec<FindingKind> = record.findings.iter().map(|f| f.kind).collect();
        kinds.dedup();
        self.write_session(record.id, c, &kinds);
        lock(&self.files).retain(record.id, c.clone(), kinds);
        if record.stripping.unproven_absence.is_none() {
            // No later session can prove it stripped: its packets are written for good.
            lock(&self.held).release(c);
        }
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        let id = late.finding.session;
        let kind = late.finding.kind;
        let mut files = lock(&self.files);
        let Some(s) = files.retained.get_mut(&id) else {
            return Ok(());
        };
        if s.kinds.contains(&kind) {
            return Ok(());
        }
        let replaced = late.replaces.filter(|r| s.kinds.contains(r));
        s.kinds.retain(|k| Some(*k) != replaced);
        s.kinds.push(kind);
        let capture = s.capture.clone();
        match replaced {
            // Same session, same packets: the file is renamed.
            Some(old) => {
                let (from, to) = (evidence_name(id, old), evidence_name(id, kind));
                let renamed = files.dir.rename(&from, &to, files.if_exists);
                if renamed.is_ok() {
                    let path = files.dir.path().to_path_buf();
                    files.summary.files.retain(|p| *p != path.join(&from));
                    if let Err(at) = files.summary.files.binary_search(&path.join(&to)) {
                        files.summary.files.insert(at, path.join(&to));
                    }
                }
                files.failed(renamed);
            }
            None => {
                drop(files);
                self.write_session(id, &capture, &[kind]);
            }
        }
        Ok(())
    }

    fn finish(&mut self, _end: &RunEnd<'_>) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{PacketRef, PerSide, Side};
    use crate::proto::secrecy::SecretSpans;
    use etherparse::PacketBuilder;
    use std::net::{IpAddr, Ipv4Addr};

    const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
    const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 143);
    const ISN: u32 = 1000;

    fn endpoint((ip, port): ([u8; 4], u16)) -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(Ipv4Addr::from(ip)),
            port,
        }
    }

    /// A client-to-server segment at stream offset `offset` (`ISN` + 1 is offset 0).
    fn segment(client_port: u16, offset: u32, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(CLIENT.0, SERVER.0, 64)
            .tcp(client_port, SERVER.1, ISN + 1 + offset, 64240)
            .ack(1);
        let mut out = Vec::new();
        b.write(&mut out, payload).expect("frame built");
        out
    }

    fn frame(number: u64, data: &[u8]) -> Frame<'_> {
        Frame {
            number,
            ts: Timestamp::new(1_700_000_000 + number as i64, 0),
            link: 1,
            data,
            orig_len: data.len() as u32,
        }
    }

    fn capture(first: u64, last: u64, secret: Option<(u64, u64)>) -> CaptureRef {
        let at = |frame| PacketRef {
            input: 0,
            frame,
            ts: Timestamp::new(0, 0),
        };
        let mut secret_spans = SecretSpans::default();
        if let Some((s, e)) = secret {
            secret_spans.add(Side::Client, s, e);
        }
        CaptureRef {
            client: endpoint(CLIENT),
            server: endpoint(SERVER),
            first: at(first),
            last: at(last),
            stream_start: PerSide {
                client: Some(ISN + 1),
                server: Some(1),
            },
            secret_spans,
        }
    }

    fn numbers(frames: &[HeldFrame]) -> Vec<u64> {
        frames.iter().map(|f| f.number).collect()
    }

    #[test]
    fn a_session_gets_its_frames_only_and_later_ones_stay_out() {
        let mut held = Held::new();
        let packets: Vec<Vec<u8>> = (0..6).map(|i| segment(CLIENT.1, i * 4, b"abcd")).collect();
        let other = segment(CLIENT.1 + 1, 0, b"other");
        for (i, p) in packets.iter().enumerate() {
            held.keep(&frame(2 * i as u64 + 1, p));
            held.keep(&frame(2 * i as u64 + 2, &other));
        }
        held.keep(&frame(99, b"not a frame"));
        // The session ended at frame 7: frames 9 and 11 of the same
        // four-tuple came after it and are not its packets.
        let (frames, lost) = held.session(&capture(1, 7, None));
        assert_eq!(numbers(&frames), [1, 3, 5, 7]);
        assert!(!lost);
        held.release(&capture(1, 7, None));
        let (frames, _) = held.session(&capture(1, 11, None));
        assert_eq!(numbers(&frames), [9, 11]);
        assert_eq!(held.frames, 8);
        held.release(&capture(9, 11, None));
        assert_eq!(held.flows.len(), 1, "the other flow is still held");
    }

    #[test]
    fn each_flow_keeps_its_most_recent_packets_and_says_what_it_lost() {
        let mut held = Held::with_limits(3, usize::MAX, usize::MAX);
        let p = segment(CLIENT.1, 0, b"x");
        for n in 1..=5 {
            held.keep(&frame(n, &p));
        }
        let (frames, lost) = held.session(&capture(1, 5, None));
        assert_eq!(numbers(&frames), [3, 4, 5]);
        assert!(lost);
        let (_, lost) = held.session(&capture(3, 5, None));
        assert!(!lost);
        // Bytes bound the ring too: two packets' worth.
        let cost = p.len() + FRAME_OVERHEAD;
        let mut held = Held::with_limits(100, 2 * cost, usize::MAX);
        for n in 1..=5 {
            held.keep(&frame(n, &p));
        }
        assert_eq!(numbers(&held.session(&capture(1, 5, None)).0), [4, 5]);
        assert_eq!(held.bytes, 2 * cost);
    }

    #[test]
    fn past_the_global_bound_the_oldest_packet_of_any_flow_goes() {
        let a = segment(CLIENT.1, 0, b"x");
        let b = segment(CLIENT.1 + 1, 0, b"x");
        let cost = a.len() + FRAME_OVERHEAD;
        let mut held = Held::with_limits(100, usize::MAX, 3 * cost);
        held.keep(&frame(1, &a));
        held.keep(&frame(2, &b));
        held.keep(&frame(3, &a));
        held.keep(&frame(4, &b));
        held.keep(&frame(5, &a));
        assert_eq!(held.bytes, 3 * cost);
        assert_eq!(numbers(&held.session(&capture(1, 5, None)).0), [3, 5]);
        assert!(held.session(&capture(1, 5, None)).1);
        assert!(!held.session(&capture(3, 5, None)).1);
        // Released packets leave stale order entries: swept, never grown without bound.
        for n in 6..5000 {
            held.keep(&frame(n, &a));
            held.release(&capture(n, n, None));
        }
        assert!(held.order.len() <= 2 * held.frames + 1024 + 1);
    }

    #[test]
    fn files_are_written_masked_as_analyze_masks_them() {
        let dir = std::env::temp_dir().join(format!("sw-live-evidence-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = OutputDir::open(&dir).unwrap();
        let evidence = LiveEvidence::new(out, IfExists::Fail, false);
        let login = b"a1 LOGIN user hunter2\r\n";
        let packets = [
            segment(CLIENT.1, 0, b"a0 CAPABILITY\r\n"),
            segment(CLIENT.1, 15, login),
        ];
        for (n, p) in packets.iter().enumerate() {
            evidence.keep(&frame(n as u64 + 1, p));
        }
        // "hunter2" is bytes 15 + 14 .. 15 + 21 of the client stream.
        let c = capture(1, 2, Some((29, 36)));
        evidence.write_session(7, &c, &[FindingKind::CleartextCredentials]);
        let path = dir.join("session-000007-cleartext-credentials.pcap");
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(7).any(|w| w == b"hunter2"));
        assert!(bytes.windows(7).any(|w| w == b"*******"));
        assert!(bytes.windows(10).any(|w| w == b"LOGIN user"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let s = evidence.summary();
        assert_eq!((s.packets, s.masked_packets, s.files.len()), (2, 1, 1));
        assert_eq!(s.failed_files, 0);
        // Created new: a second time is a failure, counted, as the name is taken.
        evidence.write_session(7, &c, &[FindingKind::CleartextCredentials]);
        let s = evidence.summary();
        assert_eq!(s.failed_files, 1);
        assert!(s.first_failure.unwrap().contains("already exists"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
