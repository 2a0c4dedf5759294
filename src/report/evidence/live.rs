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
//! The files are written by a thread of their own (started by the first
//! flagged session, once privileges are given up): the reporting thread
//! hands it the session's packets (shared with the rings, not copied
//! again) through a bounded queue, [`MAX_QUEUED_JOBS`] jobs and
//! [`MAX_QUEUED_BYTES`] at most. A job that does not fit is not written,
//! and counted ([`EvidenceSummary::not_written`]): neither the capture nor
//! the merge ever waits for the file system. A late finding's rename or
//! new file goes through the same queue, so it is done after the session's
//! first files; one about a session whose files were not written is not
//! written either. The writer is joined at the end ([`LiveEvidence::summary`]).
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
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

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
/// Jobs (a session's files, a late finding's) waiting for the writer
/// thread, at most.
pub(crate) const MAX_QUEUED_JOBS: usize = 8192;
/// Packet bytes (counted as in the rings) waiting for the writer thread,
/// at most.
pub(crate) const MAX_QUEUED_BYTES: usize = 128 << 20;

/// One packet held.
#[derive(Clone)]
pub(super) struct HeldFrame {
    number: u64,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    /// Shared by the ring and the writer's jobs: copied once, when kept.
    data: Arc<[u8]>,
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

/// A session remembered for a late finding: where it is and the files
/// written (or queued to be).
struct Retained {
    capture: CaptureRef,
    kinds: Vec<FindingKind>,
    /// Its files were not written (the queue was full): late findings
    /// about it are not written either.
    unwritten: bool,
}

/// What the writer thread is asked to do, in the order the run reported it.
pub(super) enum Job {
    /// Write the files of `kinds` for session `id` from `frames`.
    Write {
        id: u64,
        capture: Box<CaptureRef>,
        kinds: Vec<FindingKind>,
        frames: Vec<HeldFrame>,
    },
    /// Rename session `id`'s file of `from` to that of `to` (a late finding
    /// replaced a finding).
    Rename {
        id: u64,
        from: FindingKind,
        to: FindingKind,
    },
}

impl Job {
    /// What it holds, counted against [`MAX_QUEUED_BYTES`].
    fn cost(&self) -> usize {
        match self {
            Job::Write { frames, .. } => frames.iter().map(HeldFrame::cost).sum(),
            Job::Rename { .. } => 0,
        }
    }
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    bytes: usize,
    closed: bool,
}

/// The jobs waiting for the writer thread: at most [`MAX_QUEUED_JOBS`] and
/// [`MAX_QUEUED_BYTES`]. A job that does not fit is not queued (the one
/// overflow policy: the reporting thread never waits for the writer).
pub(super) struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
    /// (jobs, bytes) at most.
    limits: (usize, usize),
}

impl Queue {
    fn new() -> Self {
        Queue::with_limits(MAX_QUEUED_JOBS, MAX_QUEUED_BYTES)
    }

    fn with_limits(jobs: usize, bytes: usize) -> Self {
        Queue {
            state: Mutex::new(QueueState::default()),
            ready: Condvar::new(),
            limits: (jobs, bytes),
        }
    }

    /// Queues `job`; false (and the job dropped) when it does not fit or
    /// the queue was closed.
    fn push(&self, job: Job) -> bool {
        let cost = job.cost();
        let mut state = lock(&self.state);
        let (max_jobs, max_bytes) = self.limits;
        if state.closed || state.jobs.len() >= max_jobs || state.bytes + cost > max_bytes {
            return false;
        }
        state.bytes += cost;
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// The next job, waiting for one; `None` once closed and empty.
    fn pop(&self) -> Option<Job> {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.jobs.pop_front() {
                state.bytes -= job.cost();
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// No more jobs: the writer ends once it has done those queued.
    fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_all();
    }
}

/// The output directory and what went into it (the writer thread's own).
pub(super) struct Files {
    dir: OutputDir,
    if_exists: IfExists,
    show_secrets: bool,
    summary: EvidenceSummary,
}

impl Files {
    pub(super) fn new(dir: OutputDir, if_exists: IfExists, show_secrets: bool) -> Self {
        Files {
            dir,
            if_exists,
            show_secrets,
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

    /// Does one job; a file that cannot be written is counted, not fatal.
    fn apply(&mut self, job: Job) {
        match job {
            Job::Write {
                id,
                capture,
                kinds,
                frames,
            } => {
                for kind in kinds {
                    let written = self.write(id, kind, &capture, &frames);
                    self.failed(written);
                }
            }
            Job::Rename { id, from, to } => {
                let renamed = self.rename(id, from, to);
                self.failed(renamed);
            }
        }
    }

    /// Same session, same packets: the file of `from` takes the name of `to`.
    fn rename(&mut self, id: u64, from: FindingKind, to: FindingKind) -> io::Result<()> {
        let (from, to) = (evidence_name(id, from), evidence_name(id, to));
        self.dir.rename(&from, &to, self.if_exists)?;
        let path = self.dir.path().to_path_buf();
        self.summary.files.retain(|p| *p != path.join(&from));
        if let Err(at) = self.summary.files.binary_search(&path.join(&to)) {
            self.summary.files.insert(at, path.join(&to));
        }
        Ok(())
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

/// Where the files are: not started yet, with the writer thread, or back
/// from it.
enum Writer {
    Idle(Files),
    Running(JoinHandle<Files>),
    Done(Files),
    /// The writer thread could not start, or panicked: what it wrote is
    /// not known.
    Failed(String),
}

/// The reporting thread's side: the sessions remembered, the queue and the
/// writer thread.
pub(super) struct Sessions {
    retained: HashMap<u64, Retained>,
    retained_order: VecDeque<u64>,
    queue: Arc<Queue>,
    writer: Writer,
    partial_sessions: u64,
    not_written: u64,
}

impl Sessions {
    pub(super) fn new(files: Files) -> Self {
        Sessions::with_queue(files, Queue::new())
    }

    fn with_queue(files: Files, queue: Queue) -> Self {
        Sessions {
            retained: HashMap::new(),
            retained_order: VecDeque::new(),
            queue: Arc::new(queue),
            writer: Writer::Idle(files),
            partial_sessions: 0,
            not_written: 0,
        }
    }

    fn retain(&mut self, id: u64, capture: CaptureRef, kinds: Vec<FindingKind>, unwritten: bool) {
        if self.retained_order.len() >= MAX_RETAINED {
            if let Some(old) = self.retained_order.pop_front() {
                self.retained.remove(&old);
            }
        }
        self.retained_order.push_back(id);
        let kept = Retained {
            capture,
            kinds,
            unwritten,
        };
        self.retained.insert(id, kept);
    }

    /// Hands `job` to the writer thread (started by the first job, once
    /// privileges are given up); false when it did not fit, counted.
    fn send(&mut self, job: Job) -> bool {
        if let Writer::Idle(_) = self.writer {
            let queue = Arc::clone(&self.queue);
            let spawn = |files: Files| {
                std::thread::Builder::new()
                    .name("evidence".into())
                    .spawn(move || {
                        let mut files = files;
                        while let Some(job) = queue.pop() {
                            files.apply(job);
                        }
                        files
                    })
            };
            let idle = std::mem::replace(&mut self.writer, Writer::Failed(String::new()));
            if let Writer::Idle(files) = idle {
                self.writer = match spawn(files) {
                    Ok(handle) => Writer::Running(handle),
                    Err(e) => {
                        // No thread: nothing can be written (an error at the end).
                        self.queue.close();
                        Writer::Failed(format!("the evidence writer thread did not start: {e}"))
                    }
                };
            }
        }
        let queued = self.queue.push(job);
        if !queued {
            self.not_written += 1;
        }
        queued
    }

    /// Closes the queue and waits for the writer to write what it holds.
    fn close(&mut self) {
        self.queue.close();
        let writer = std::mem::replace(&mut self.writer, Writer::Failed(String::new()));
        self.writer = match writer {
            Writer::Running(handle) => handle.join().map_or_else(
                |_| Writer::Failed("the evidence writer thread panicked".into()),
                Writer::Done,
            ),
            Writer::Idle(files) => Writer::Done(files),
            other => other,
        };
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
            sessions: Mutex::new(Sessions::new(Files::new(dir, if_exists, show_secrets))),
        }
    }

    /// Keeps a copy of a captured frame in its flow's ring, before it is
    /// handed to the workers (so a session's packets are all there when
    /// its record comes).
    pub fn keep(&self, frame: &Frame<'_>) {
        lock(&self.held).keep(frame);
    }

    /// What was written: waits for the writer thread to write the files
    /// queued (no file is queued after it).
    pub fn summary(&self) -> EvidenceSummary {
        let mut sessions = lock(&self.sessions);
        sessions.close();
        let mut summary = match &sessions.writer {
            Writer::Done(files) => {
                let s = &files.summary;
                EvidenceSummary {
                    files: s.files.clone(),
                    packets: s.packets,
                    masked_packets: s.masked_packets,
                    skipped_link_type: s.skipped_link_type,
                    failed_files: s.failed_files,
                    first_failure: s.first_failure.clone(),
                    ..EvidenceSummary::default()
                }
            }
            Writer::Failed(e) => EvidenceSummary {
                failed_files: 1,
                first_failure: Some(e.clone()),
                ..EvidenceSummary::default()
            },
            // Closed just now: neither idle nor running.
            Writer::Idle(_) | Writer::Running(_) => EvidenceSummary::default(),
        };
        summary.partial_sessions = sessions.partial_sessions;
        summary.not_written = sessions.not_written;
        summary
    }

    /// Queues the files of `kinds` for session `id`, from the packets held
    /// (shared with the rings, not copied); false when the queue was full.
    fn write_session(
        &self,
        sessions: &mut Sessions,
        id: u64,
        c: &CaptureRef,
        kinds: Vec<FindingKind>,
    ) -> bool {
        let (frames, lost) = lock(&self.held).session(c);
        let job = Job::Write {
            id,
            capture: Box::new(c.clone()),
            kinds,
            frames,
        };
        let queued = sessions.send(job);
        if queued && lost {
            sessions.partial_sessions += 1;
        }
        queued
    }
}

impl Reporter for &LiveEvidence {
    fn session(&mut self, record: &SessionRecord) -> io::Result<()> {
        let c = &record.capture;
        let mut sessions = lock(&self.sessions);
        if record.findings.is_empty() {
            if record.stripping.unproven_absence.is_some() {
                sessions.retain(record.id, c.clone(), Vec::new(), false);
            } else {
                lock(&self.held).release(c);
            }
            return Ok(());
        }
        let mut kinds: Vec<FindingKind> = record.findings.iter().map(|f| f.kind).collect();
        kinds.dedup();
        let queued = self.write_session(&mut sessions, record.id, c, kinds.clone());
        sessions.retain(record.id, c.clone(), kinds, !queued);
        if record.stripping.unproven_absence.is_none() {
            // No later session can prove it stripped: its packets are written for good.
            lock(&self.held).release(c);
        }
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        let id = late.finding.session;
        let kind = late.finding.kind;
        let mut sessions = lock(&self.sessions);
        let Some(s) = sessions.retained.get(&id) else {
            return Ok(());
        };
        if s.kinds.contains(&kind) {
            return Ok(());
        }
        if s.unwritten {
            // Its files were not written: neither is this one.
            sessions.not_written += 1;
            return Ok(());
        }
        let replaced = late.replaces.filter(|r| s.kinds.contains(r));
        let capture = s.capture.clone();
        // Through the same queue as the session's first files: done after them.
        let queued = match replaced {
            Some(old) => sessions.send(Job::Rename {
                id,
                from: old,
                to: kind,
            }),
            None => self.write_session(&mut sessions, id, &capture, vec![kind]),
        };
        if let Some(s) = sessions.retained.get_mut(&id).filter(|_| queued) {
            s.kinds.retain(|k| Some(*k) != replaced);
            s.kinds.push(kind);
        }
        Ok(())
    }

    fn finish(&mut self, _end: &RunEnd<'_>) -> io::Result<()> {
        // The writer writes what is queued, and ends.
        lock(&self.sessions).close();
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
        let kinds = vec![FindingKind::CleartextCredentials];
        let queue = |e: &LiveEvidence| {
            let mut sessions = lock(&e.sessions);
            assert!(e.write_session(&mut sessions, 7, &c, kinds.clone()));
        };
        queue(&evidence);
        // Created new: a second time is a failure, counted, as the name is taken.
        queue(&evidence);
        // The summary waits for the writer thread.
        let s = evidence.summary();
        let path = dir.join("session-000007-cleartext-credentials.pcap");
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(7).any(|w| w == b"hunter2"));
        assert!(bytes.windows(7).any(|w| w == b"*******"));
        assert!(bytes.windows(10).any(|w| w == b"LOGIN user"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!((s.packets, s.masked_packets, s.files.len()), (2, 1, 1));
        assert_eq!(s.failed_files, 1);
        assert!(s.first_failure.unwrap().contains("already exists"));
        // Closed: what comes after is not written, and counted.
        let mut sessions = lock(&evidence.sessions);
        assert!(!evidence.write_session(&mut sessions, 8, &c, kinds.clone()));
        drop(sessions);
        assert_eq!(evidence.summary().not_written, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn write_job(id: u64, frames: usize) -> Job {
        let data: Arc<[u8]> = vec![0u8; 100 - FRAME_OVERHEAD].into();
        let f = HeldFrame {
            number: 1,
            ts: Timestamp::new(0, 0),
            link: 1,
            orig_len: 36,
            data,
        };
        Job::Write {
            id,
            capture: Box::new(capture(1, 1, None)),
            kinds: vec![FindingKind::CleartextCredentials],
            frames: vec![f; frames],
        }
    }

    fn ids(queue: &Queue) -> Vec<u64> {
        queue.close();
        std::iter::from_fn(|| queue.pop())
            .map(|j| match j {
                Job::Write { id, .. } | Job::Rename { id, .. } => id,
            })
            .collect()
    }

    #[test]
    fn a_job_that_does_not_fit_is_dropped_never_waited_for() {
        // Three jobs at most, 1000 bytes at most (a frame costs 100).
        let queue = Queue::with_limits(3, 1000);
        assert!(queue.push(write_job(1, 6)));
        assert!(!queue.push(write_job(2, 5)), "600 + 500 bytes: too many");
        assert!(queue.push(write_job(3, 4)), "600 + 400 bytes fit");
        let rename = Job::Rename {
            id: 4,
            from: FindingKind::NoStarttlsOffered,
            to: FindingKind::StarttlsStripped,
        };
        assert!(queue.push(rename), "a rename holds no bytes");
        assert!(!queue.push(write_job(5, 0)), "three jobs already");
        // Once the writer took one, there is room again.
        assert!(queue.pop().is_some());
        assert!(queue.push(write_job(6, 0)));
        // In the order queued; closed, the queue takes nothing and ends.
        assert_eq!(ids(&queue), [3, 4, 6]);
        assert!(!queue.push(write_job(7, 0)));
        assert!(queue.pop().is_none());
        assert_eq!(lock(&queue.state).bytes, 0);
    }

    #[test]
    fn a_full_queue_counts_the_sessions_and_late_findings_not_written() {
        let dir = std::env::temp_dir().join(format!("sw-live-queue-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = Files::new(OutputDir::open(&dir).unwrap(), IfExists::Fail, false);
        let mut sessions = Sessions::with_queue(files, Queue::with_limits(0, 0));
        assert!(!sessions.send(write_job(1, 1)));
        assert!(!sessions.send(write_job(2, 0)));
        sessions.close();
        assert_eq!(sessions.not_written, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
