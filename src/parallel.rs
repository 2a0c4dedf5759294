//! The pipeline on several threads, with results identical to one thread.
//!
//! A reader thread reads the inputs, glances at each frame's headers and
//! sends the segments of followed ports, in batches over bounded channels,
//! to the worker that owns their flow (by a stable hash of the four-tuple).
//! Each worker runs its own flow table and protocol analyzers. The calling
//! thread merges what the workers report, round by round, back into the
//! order one thread would have produced:
//!
//! - every batch round also carries the capture clock's ticks (the first
//!   packet of each new second), so idle flows expire in every worker at
//!   the packet where one table would expire them;
//! - sessions get their ids in order of their first packet across all
//!   workers;
//! - ended sessions are handed on in the order one table ends them (see
//!   [`CloseKey`]).
//!
//! One difference remains by design: the flow limit and the memory budget
//! for reassembly are split evenly between workers, so which flow is
//! evicted, or gives up its holes, when a limit is hit can differ, and
//! `stats.peak_flows` is the sum of each worker's peak.

use crate::analysis::{AnalysisOptions, MailSessions, Run, SessionRecord};
use crate::capture::{CaptureFile, InputSpec, LinkType, Reading};
use crate::decode;
use crate::flow::{CaptureClock, ClosePhase, FlowConfig, FlowTable, PacketRef, TableStats};
use crate::pipeline::{Classified, InputSummary};
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::ScopedJoinHandle;

/// Frames per batch round (across all workers).
const BATCH_FRAMES: usize = 8192;
/// Frame bytes per batch round.
const BATCH_BYTES: usize = 2 << 20;
/// Batch rounds that may wait in each channel (memory stays bounded).
const CHANNEL_ROUNDS: usize = 2;
/// Emptied batches that may wait to be reused: every batch in flight
/// (queued, being filled, being worked on) can come back.
const SPARE_BATCHES: usize = CHANNEL_ROUNDS + 2;

/// Where one frame is in a batch's byte arena.
struct FrameMeta {
    packet: PacketRef,
    link: LinkType,
    orig_len: u32,
    start: usize,
    len: usize,
}

/// One worker's share of a batch round. Workers hand emptied batches
/// back to the reader, so their buffers are reused rather than allocated
/// (and page-faulted in) afresh for every round.
#[derive(Default)]
struct Batch {
    frames: Vec<FrameMeta>,
    bytes: Vec<u8>,
    /// Clock ticks of the round: packets where the capture's second
    /// advanced, whatever worker owns them.
    ticks: Vec<PacketRef>,
}

impl Batch {
    /// A batch sized for one worker's usual share of a round.
    fn sized_for(workers: usize) -> Self {
        Batch {
            frames: Vec::with_capacity(BATCH_FRAMES / workers),
            bytes: Vec::with_capacity(BATCH_BYTES / workers + (64 << 10)),
            ticks: Vec::new(),
        }
    }

    /// Empties the batch, keeping its buffers.
    fn clear(&mut self) {
        self.frames.clear();
        self.bytes.clear();
        self.ticks.clear();
    }
}

/// What a worker reports.
enum Report {
    /// A batch round done: sessions opened and ended in it.
    Round {
        opened: Vec<(u64, PacketRef)>,
        ended: Vec<SessionRecord>,
    },
    /// The input is over: some of the sessions still open, ended, in id
    /// order (several of these come, so a million open flows never make a
    /// million records at once).
    Finish { ended: Vec<SessionRecord> },
    /// Nothing more.
    Last { stats: TableStats },
}

/// Runs the inputs on `threads` workers (at least 2) plus a reader thread,
/// handing every ended session to `run` in the order one thread would. A
/// thread that panicked leaves every input marked not fully analyzed.
pub fn run_inputs_parallel(
    inputs: &[InputSpec],
    config: FlowConfig,
    options: AnalysisOptions,
    threads: usize,
    run: &mut Run<'_>,
    progress: &(dyn Fn(usize, u64) + Sync),
) -> (Vec<InputSummary>, TableStats) {
    let threads = threads.max(2);
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let mut worker_config = config.clone();
    worker_config.max_flows = (config.max_flows / threads).max(1);
    worker_config.max_buffered_bytes = config.max_buffered_bytes / threads;
    std::thread::scope(|scope| {
        let mut to_workers = Vec::with_capacity(threads);
        let mut from_workers = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        let (spare_tx, spare_rx) = sync_channel::<Batch>(SPARE_BATCHES * threads);
        for _ in 0..threads {
            let (batch_tx, batch_rx) = sync_channel::<Batch>(CHANNEL_ROUNDS);
            let (report_tx, report_rx) = sync_channel::<Report>(CHANNEL_ROUNDS);
            let table = FlowTable::new(worker_config.clone(), MailSessions::new(&names, options));
            let spare_tx = spare_tx.clone();
            workers.push(scope.spawn(move || worker(table, batch_rx, report_tx, spare_tx)));
            to_workers.push(batch_tx);
            from_workers.push(report_rx);
        }
        drop(spare_tx);
        let ports = config.ports.clone();
        let clock = CaptureClock::new(config.idle_timeout_secs);
        let reader =
            scope.spawn(move || reader(inputs, &ports, clock, to_workers, spare_rx, progress));
        let stats = merge(&from_workers, run);
        let mut failures = Vec::new();
        let summaries = join_thread("reader thread", reader).unwrap_or_else(|failure| {
            failures.push(failure);
            inputs.iter().map(|i| InputSummary::new(&i.name)).collect()
        });
        for (w, handle) in workers.into_iter().enumerate() {
            let name = format!("worker thread {} of {threads}", w + 1);
            failures.extend(join_thread(&name, handle).err());
        }
        (mark_not_analyzed(summaries, &failures), stats)
    })
}

/// Waits for a thread of the pipeline; its panic becomes an error naming
/// it (a lost thread lost sessions: the run must not pass for complete).
fn join_thread<T>(name: &str, handle: ScopedJoinHandle<'_, T>) -> Result<T, String> {
    handle.join().map_err(|payload| {
        let said = panic_message(payload.as_ref());
        format!(
            "the {name} panicked ({})",
            crate::text::escape(said.as_bytes())
        )
    })
}

/// The text a panic was raised with (`panic!` makes a `&str` or a `String`).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    match payload.downcast_ref::<&str>() {
        Some(s) => s,
        None => payload
            .downcast_ref::<String>()
            .map_or("no message", String::as_str),
    }
}

/// Marks every input not fully analyzed when a thread failed: an input
/// error, so the report says so and the exit status is 2.
fn mark_not_analyzed(mut summaries: Vec<InputSummary>, failures: &[String]) -> Vec<InputSummary> {
    if failures.is_empty() {
        return summaries;
    }
    let failure = format!("not fully analyzed: {}", failures.join("; "));
    for s in &mut summaries {
        s.error = Some(match s.error.take() {
            Some(own) => format!("{own}; {failure}"),
            None => format!("{}: {failure}", s.file),
        });
    }
    summaries
}

/// Reads every input, classifies each frame, and sends mail segments to
/// their flow's worker.
fn reader(
    inputs: &[InputSpec],
    ports: &crate::flow::PortSet,
    mut clock: CaptureClock,
    to_workers: Vec<SyncSender<Batch>>,
    spares: Receiver<Batch>,
    progress: &(dyn Fn(usize, u64) + Sync),
) -> Vec<InputSummary> {
    let n = to_workers.len();
    let mut batches: Vec<Batch> = (0..n).map(|_| Batch::sized_for(n)).collect();
    let (mut frames, mut bytes) = (0usize, 0usize);
    let mut summaries = Vec::with_capacity(inputs.len());
    let send_round = |batches: &mut Vec<Batch>| -> bool {
        for (tx, batch) in to_workers.iter().zip(batches.iter_mut()) {
            let next = match spares.try_recv() {
                Ok(spare) => spare,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => Batch::sized_for(n),
            };
            if tx.send(std::mem::replace(batch, next)).is_err() {
                return false;
            }
        }
        true
    };
    for (index, spec) in inputs.iter().enumerate() {
        let input = u16::try_from(index).unwrap_or(u16::MAX);
        let mut summary = InputSummary::new(&spec.name);
        // A pipe (perhaps from a running capture) may wait between reads:
        // what was gathered goes to the workers first, not when a round is
        // full. Files are read in full rounds.
        let pipe = spec.stream;
        match CaptureFile::open_input(spec) {
            Ok(mut file) => {
                let mut read = 0u64;
                let result = file.for_each(|reading| {
                    let frame = match reading {
                        Reading::Frame(frame) => frame,
                        Reading::Refill if pipe && frames > 0 => {
                            (frames, bytes) = (0, 0);
                            return send_round(&mut batches);
                        }
                        Reading::Refill => return true,
                    };
                    read += 16 + frame.data.len() as u64;
                    let packet = PacketRef {
                        input,
                        frame: frame.number,
                        ts: frame.ts,
                    };
                    // The capture's clock: where it enters a new second, one
                    // table would expire idle flows.
                    if let Some(ts) = clock.observe(frame.ts) {
                        for b in batches.iter_mut() {
                            b.ticks.push(PacketRef { ts, ..packet });
                        }
                    }
                    if let Classified::Mail(key) = summary.classify(&frame, ports) {
                        let shard = (key.shard_hash() % n as u64) as usize;
                        if let Some(b) = batches.get_mut(shard) {
                            let start = b.bytes.len();
                            b.bytes.extend_from_slice(frame.data);
                            b.frames.push(FrameMeta {
                                packet,
                                link: frame.link,
                                orig_len: frame.orig_len,
                                start,
                                len: frame.data.len(),
                            });
                            frames += 1;
                            bytes += frame.data.len();
                        }
                    }
                    if frames >= BATCH_FRAMES || bytes >= BATCH_BYTES {
                        (frames, bytes) = (0, 0);
                        progress(index, read);
                        return send_round(&mut batches);
                    }
                    true
                });
                summary.record_end(&file, result.err());
            }
            Err(e) => summary.record_failure(e),
        }
        summary.name_link_types();
        summaries.push(summary);
    }
    send_round(&mut batches);
    summaries
}

/// Runs one worker's flow table over its batches.
fn worker(
    mut table: FlowTable<MailSessions>,
    batches: Receiver<Batch>,
    reports: SyncSender<Report>,
    spares: SyncSender<Batch>,
) {
    table.track_opened();
    for mut batch in batches {
        let mut ticks = batch.ticks.iter().peekable();
        for f in &batch.frames {
            // Ticks up to and including this packet come first, as in one
            // table, where a packet's time advances the clock before the
            // packet itself is handled.
            while let Some(t) =
                ticks.next_if(|t| (t.input, t.frame) <= (f.packet.input, f.packet.frame))
            {
                table.tick(*t);
            }
            let Some(data) = batch.bytes.get(f.start..f.start + f.len) else {
                continue;
            };
            if let Ok(segment) = decode::decode(f.link, data) {
                table.process(&segment, f.packet, f.orig_len);
            }
        }
        for t in ticks {
            table.tick(*t);
        }
        batch.clear();
        // A full spare queue means the reader has enough: drop this one.
        let _ = spares.try_send(batch);
        let report = Report::Round {
            opened: table.take_opened(),
            ended: table.handler_mut().take_ended().collect(),
        };
        if reports.send(report).is_err() {
            return;
        }
    }
    loop {
        let done = table.finish_step(crate::pipeline::FINISH_CHUNK);
        let ended: Vec<SessionRecord> = table.handler_mut().take_ended().collect();
        if !ended.is_empty() && reports.send(Report::Finish { ended }).is_err() {
            return;
        }
        if done {
            break;
        }
    }
    let _ = reports.send(Report::Last { stats: table.stats });
}

/// Merges the workers' reports round by round: numbers sessions in order
/// of their first packet and hands ended ones to the run in the order one
/// table would have ended them. At the end of the input, the sessions each
/// worker ends (in id order) are merged by id.
fn merge(from_workers: &[Receiver<Report>], run: &mut Run<'_>) -> TableStats {
    let n = from_workers.len();
    let mut ids = Ids::default();
    let mut stats = TableStats::default();
    // Per worker: records of the end of the input waiting to be merged,
    // and whether it has said its last.
    let mut tail: Vec<VecDeque<SessionRecord>> = (0..n).map(|_| VecDeque::new()).collect();
    let mut last = vec![false; n];
    let mut in_rounds = vec![true; n];
    while in_rounds.iter().any(|r| *r) {
        let mut opened = Vec::new();
        let mut ended = Vec::new();
        for (w, rx) in from_workers.iter().enumerate() {
            if !in_rounds.get(w).copied().unwrap_or(false) {
                continue;
            }
            match rx.recv() {
                Ok(Report::Round {
                    opened: o,
                    ended: e,
                }) => {
                    opened.extend(o.into_iter().map(|(id, p)| ((p.input, p.frame), w, id)));
                    ended.extend(e.into_iter().map(|r| (w, r)));
                }
                Ok(Report::Finish { ended: e }) => {
                    set(&mut in_rounds, w, false);
                    if let Some(q) = tail.get_mut(w) {
                        q.extend(e.into_iter().map(|r| ids.global(w, r)));
                    }
                }
                Ok(Report::Last { stats: s }) => {
                    add_stats(&mut stats, &s);
                    set(&mut in_rounds, w, false);
                    set(&mut last, w, true);
                }
                Err(_) => {
                    set(&mut in_rounds, w, false);
                    set(&mut last, w, true);
                }
            }
        }
        opened.sort_unstable();
        for (_, w, local) in opened {
            ids.open(w, local);
        }
        let mut ended: Vec<SessionRecord> =
            ended.into_iter().map(|(w, r)| ids.global(w, r)).collect();
        ended.sort_by_key(|r| {
            let k = r.closed_by;
            // Clock expiries and end-of-input closes go by id; a packet's
            // own closes (all in its worker) by the order they were made.
            let tie = match k.phase {
                ClosePhase::ByPacket => u64::from(k.seq),
                ClosePhase::ByClock | ClosePhase::AtEnd => r.id,
            };
            (k.input, k.frame, k.phase, k.deadline, tie)
        });
        for record in ended {
            run.session(record);
        }
        run.pause();
    }
    // End of the input: a k-way merge by id of what the workers end.
    loop {
        for (w, rx) in from_workers.iter().enumerate() {
            while tail.get(w).is_some_and(VecDeque::is_empty)
                && !last.get(w).copied().unwrap_or(true)
            {
                match rx.recv() {
                    Ok(Report::Finish { ended }) => {
                        if let Some(q) = tail.get_mut(w) {
                            q.extend(ended.into_iter().map(|r| ids.global(w, r)));
                        }
                    }
                    Ok(Report::Last { stats: s }) => {
                        add_stats(&mut stats, &s);
                        set(&mut last, w, true);
                    }
                    Ok(Report::Round { .. }) | Err(_) => set(&mut last, w, true),
                }
            }
        }
        let next = tail
            .iter()
            .enumerate()
            .filter_map(|(w, q)| q.front().map(|r| (r.id, w)))
            .min();
        let Some((_, w)) = next else { break };
        if let Some(record) = tail.get_mut(w).and_then(VecDeque::pop_front) {
            run.session(record);
        }
    }
    stats
}

/// Global session ids: given in order of the sessions' first packets.
#[derive(Default)]
struct Ids {
    next: u64,
    /// Per worker: local id -> global id, for sessions not yet ended (one
    /// entry per open flow: kept small for a million of them).
    maps: Vec<HashMap<u64, u64>>,
}

impl Ids {
    fn open(&mut self, worker: usize, local: u64) {
        self.next += 1;
        if self.maps.len() <= worker {
            self.maps.resize_with(worker + 1, HashMap::new);
        }
        if let Some(map) = self.maps.get_mut(worker) {
            map.insert(local, self.next);
        }
    }

    /// The record with its global id.
    fn global(&mut self, worker: usize, mut r: SessionRecord) -> SessionRecord {
        if let Some(id) = self.maps.get_mut(worker).and_then(|m| m.remove(&r.id)) {
            r.id = id;
            for f in &mut r.findings {
                f.session = id;
            }
        }
        r
    }
}

fn set(flags: &mut [bool], w: usize, value: bool) {
    if let Some(f) = flags.get_mut(w) {
        *f = value;
    }
}

fn add_stats(total: &mut TableStats, s: &TableStats) {
    total.segments += s.segments;
    total.sessions += s.sessions;
    total.timed_out += s.timed_out;
    total.evicted += s.evicted;
    total.evicted_closed += s.evicted_closed;
    total.port_reused += s.port_reused;
    total.peak_flows += s.peak_flows;
    total.bad_checksums += s.bad_checksums;
    total.dropped_bad_checksums += s.dropped_bad_checksums;
    total.after_close += s.after_close;
    total.memory_budget_gaps += s.memory_budget_gaps;
    total.off_clock_packets += s.off_clock_packets;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_thread_is_an_error_naming_it() {
        let results = std::thread::scope(|scope| {
            let fine = scope.spawn(|| 7);
            let boom = scope.spawn(|| -> u32 { panic!("boom") });
            let formatted = scope.spawn(|| -> u32 { panic!("lost {} flows", 3) });
            [
                join_thread("reader thread", fine),
                join_thread("worker thread 2 of 3", boom),
                join_thread("worker thread 3 of 3", formatted),
            ]
        });
        assert_eq!(
            results,
            [
                Ok(7),
                Err("the worker thread 2 of 3 panicked (boom)".to_string()),
                Err("the worker thread 3 of 3 panicked (lost 3 flows)".to_string()),
            ]
        );
    }

    #[test]
    fn a_failed_thread_fails_every_input() {
        let mut truncated = InputSummary::new("b.pcap");
        truncated.error = Some("b.pcap: packet 4: truncated".into());
        let summaries = vec![InputSummary::new("a.pcap"), truncated];
        let failures = ["the reader thread panicked (boom)".to_string()];
        let marked = mark_not_analyzed(summaries, &failures);
        let errors: Vec<_> = marked.iter().map(|s| s.error.as_deref()).collect();
        assert_eq!(
            errors,
            [
                Some("a.pcap: not fully analyzed: the reader thread panicked (boom)"),
                Some(
                    "b.pcap: packet 4: truncated; not fully analyzed: \
                     the reader thread panicked (boom)"
                ),
            ]
        );
        // An incomplete input is what makes the exit status 2.
        assert!(marked.iter().all(|s| !s.complete()));
    }

    #[test]
    fn no_failure_leaves_the_inputs_alone() {
        let marked = mark_not_analyzed(vec![InputSummary::new("a.pcap")], &[]);
        assert!(marked.iter().all(InputSummary::complete));
    }
}
