//! The pipeline on several threads, with results identical to one thread.
//!
//! It runs any [`SessionOutbox`] (a session handler that keeps its ended
//! sessions until they are taken) and hands the ended sessions to a
//! [`Collector`], on this thread alone or on several:
//!
//! The workers read the inputs themselves, in chunks ([`chunks`]): a
//! classic pcap file by ranges read in parallel, anything else by one
//! worker at a time. A chunk's bytes are read once and shared by reference;
//! each worker gets the offsets of the segments of followed ports whose
//! flow it owns (by a stable hash of the four-tuple). Each worker runs its
//! own flow table and session handler over every chunk, in input order.
//! The calling thread merges what the workers report, chunk by chunk
//! (a round), back into the order one thread would have produced:
//!
//! - every chunk also carries the capture clock's ticks (the first
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

mod chunks;

use crate::capture::InputSpec;
use crate::decode;
use crate::flow::{
    CaptureClock, CloseKey, ClosePhase, FlowConfig, FlowTable, PacketRef, SessionHandler,
    TableStats,
};
use crate::pipeline::{FINISH_CHUNK, InputSummary, Pipeline};
use chunks::{Chunks, Job};
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::ScopedJoinHandle;

/// A session handler whose ended sessions wait until they are taken: after
/// frames on one thread, after each batch round on several (one handler per
/// worker, so it and its sinks move to the worker's thread).
pub trait SessionOutbox: SessionHandler<Sink: Send> + Send {
    /// What an ended session becomes.
    type Ended: Ended;
    /// The sessions ended since the last call, in the order they ended.
    fn take_ended(&mut self) -> std::vec::Drain<'_, Self::Ended>;
}

/// An ended session as the merge needs it.
pub trait Ended: Send {
    /// Its id: in its worker's table until [`Ended::renumber`] gives it the
    /// run's.
    fn id(&self) -> u64;
    /// What ended it, to order it among the other workers' sessions.
    fn closed_by(&self) -> CloseKey;
    /// Gives it its id in the run (in order of first packets across
    /// workers), everywhere it carries one.
    fn renumber(&mut self, id: u64);
}

/// Receives the ended sessions in the order one thread ends them.
pub(crate) trait Collector<T> {
    fn session(&mut self, ended: T);
    /// Reading paused a moment (every [`PAUSE_FRAMES`] frames on one
    /// thread, every batch round on several).
    fn pause(&mut self);
}

/// Frames between [`Collector::pause`]s on one thread: a few milliseconds
/// of reading.
pub(crate) const PAUSE_FRAMES: u32 = 4096;

/// Rounds that may wait in each worker's report channel.
const CHANNEL_ROUNDS: usize = 2;

/// What a worker reports.
enum Report<T> {
    /// A batch round done: sessions opened and ended in it.
    Round {
        opened: Vec<(u64, PacketRef)>,
        ended: Vec<T>,
    },
    /// The input is over: some of the sessions still open, ended, in id
    /// order (several of these come, so a million open flows never make a
    /// million records at once).
    Finish { ended: Vec<T> },
    /// Nothing more.
    Last { stats: TableStats },
}

/// The threads a run asked for `requested` gets: never more than the cores
/// this process may run on (`available_parallelism`: its CPU affinity and
/// cgroup quota), and at least 1. Threads past the cores only take turns
/// on them, and each round's merge waits for whichever is not running: 3
/// and 4 threads on 2 cores were 5-35% slower than 2. With this, adding
/// threads never slows a run down, and the default (the cores) is the
/// fastest count. The results are the same with any number.
pub fn usable_threads(requested: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    requested.clamp(1, cores)
}

/// Reads the inputs in order and hands every ended session to `collector`
/// as soon as it is known, on exactly `threads` worker threads (1: on this
/// thread alone; the results are the same; callers give the run no more
/// than [`usable_threads`], tests run counts past them). `new_handler`
/// makes the handler of each worker. `progress` is told the bytes of each
/// input read so far.
pub(crate) fn run_inputs<H: SessionOutbox>(
    inputs: &[InputSpec],
    config: FlowConfig,
    threads: usize,
    new_handler: &dyn Fn() -> H,
    collector: &mut dyn Collector<H::Ended>,
    progress: &(dyn Fn(usize, u64) + Sync),
) -> (Vec<InputSummary>, TableStats) {
    if threads > 1 {
        let threads = (threads, chunks::RANGE_BYTES);
        run_on_threads(inputs, config, threads, new_handler, collector, progress)
    } else {
        run_on_this_thread(inputs, config, new_handler(), collector, progress)
    }
}

/// The pipeline on the calling thread alone.
fn run_on_this_thread<H: SessionOutbox>(
    inputs: &[InputSpec],
    config: FlowConfig,
    handler: H,
    collector: &mut dyn Collector<H::Ended>,
    progress: &(dyn Fn(usize, u64) + Sync),
) -> (Vec<InputSummary>, TableStats) {
    let mut pipeline = Pipeline::new(config, handler);
    let mut frames = 0u32;
    for (index, spec) in inputs.iter().enumerate() {
        pipeline.read_input_with(spec, &mut |handler: &mut H, bytes| {
            for ended in handler.take_ended() {
                collector.session(ended);
            }
            progress(index, bytes);
            frames = frames.wrapping_add(1);
            if frames % PAUSE_FRAMES == 0 {
                collector.pause();
            }
        });
    }
    let (mut handler, inputs, stats) = pipeline.finish_with(&mut |handler: &mut H| {
        for ended in handler.take_ended() {
            collector.session(ended);
        }
    });
    for ended in handler.take_ended() {
        collector.session(ended);
    }
    (inputs, stats)
}

/// Runs the inputs on `threads` workers (at least 2), which also read,
/// handing every ended session to `collector` in the order one thread
/// would. A thread that panicked leaves every input marked not fully
/// analyzed.
fn run_on_threads<H: SessionOutbox>(
    inputs: &[InputSpec],
    config: FlowConfig,
    (threads, range_bytes): (usize, u64),
    new_handler: &dyn Fn() -> H,
    collector: &mut dyn Collector<H::Ended>,
    progress: &(dyn Fn(usize, u64) + Sync),
) -> (Vec<InputSummary>, TableStats) {
    let threads = threads.max(2);
    let mut worker_config = config.clone();
    worker_config.max_flows = (config.max_flows / threads).max(1);
    worker_config.max_buffered_bytes = config.max_buffered_bytes / threads;
    let clock = CaptureClock::new(config.idle_timeout_secs);
    let chunks = Chunks::new(
        inputs,
        &config.ports,
        clock,
        (threads, range_bytes),
        progress,
    );
    let (stats, failures) = std::thread::scope(|scope| {
        let mut from_workers = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for w in 0..threads {
            let (report_tx, report_rx) = sync_channel::<Report<H::Ended>>(CHANNEL_ROUNDS);
            let table = FlowTable::new(worker_config.clone(), new_handler());
            let chunks = &chunks;
            workers.push(scope.spawn(move || worker(w, table, chunks, report_tx)));
            from_workers.push(report_rx);
        }
        let stats = merge(&from_workers, collector);
        let mut failures = Vec::new();
        for (w, handle) in workers.into_iter().enumerate() {
            let name = format!("worker thread {} of {threads}", w + 1);
            failures.extend(join_thread(&name, handle).err());
        }
        (stats, failures)
    });
    (mark_not_analyzed(chunks.into_summaries(), &failures), stats)
}

/// Frames handed over to [`run_fed`]'s workers from a thread of its own.
#[cfg(feature = "live")]
pub struct Feed<'c, 'a>(chunks::Feeder<'c, 'a>);

#[cfg(feature = "live")]
impl Feed<'_, '_> {
    /// Hands these frames (the next of the input, numbered on from 1 in
    /// order) to the workers now; then, with `idle`, moves capture time to
    /// it without a packet (idle sessions end as at a packet of that time,
    /// in a later second than the capture's clock). Returns the flows the
    /// workers hold open.
    pub fn hand_over<'f>(
        &mut self,
        frames: impl IntoIterator<Item = crate::capture::Frame<'f>>,
        idle: Option<(u64, crate::time::Timestamp)>,
    ) -> usize {
        for frame in frames {
            self.0.frame(&frame);
        }
        self.0.flush();
        if let Some((next_frame, ts)) = idle {
            self.0.advance_clock(next_frame, ts);
        }
        self.0.open_flows()
    }
}

/// Hands a run's sessions to a function (`None`: a pause).
#[cfg(feature = "live")]
struct ToFn<'f, T>(&'f mut dyn FnMut(Option<T>));

#[cfg(feature = "live")]
impl<T> Collector<T> for ToFn<'_, T> {
    fn session(&mut self, ended: T) {
        (self.0)(Some(ended));
    }

    fn pause(&mut self) {
        (self.0)(None);
    }
}

/// Runs the frames `feed` hands over from a thread of its own (a live
/// capture's) through `threads` workers (no more than [`usable_threads`]),
/// as files are run: the same
/// chunks, flow tables and ordered merge, every ended session handed to
/// `collect` as soon as it is known (`None` between rounds). `name` names
/// the one input. Returns what `feed` returned (`None` if its thread
/// failed), the input's summary and the counters.
#[cfg(feature = "live")]
pub fn run_fed<H: SessionOutbox, R: Send>(
    name: &str,
    (config, threads): (FlowConfig, usize),
    new_handler: &dyn Fn() -> H,
    collect: &mut dyn FnMut(Option<H::Ended>),
    feed: impl FnOnce(&mut Feed<'_, '_>) -> R + Send,
) -> (Option<R>, Vec<InputSummary>, TableStats) {
    let threads = usable_threads(threads);
    let mut worker_config = config.clone();
    worker_config.max_flows = (config.max_flows / threads).max(1);
    worker_config.max_buffered_bytes = config.max_buffered_bytes / threads;
    let input = InputSpec {
        path: name.into(),
        name: name.to_string(),
        stream: true,
    };
    let inputs = std::slice::from_ref(&input);
    let clock = CaptureClock::new(config.idle_timeout_secs);
    let chunks = Chunks::new(inputs, &config.ports, clock, (threads, 0), &|_, _| {});
    let (fed, stats, failures) = std::thread::scope(|scope| {
        let chunks = &chunks;
        let mut feeder = Feed(chunks::Feeder::new(chunks));
        let fed = scope.spawn(move || {
            let _guard = Guard(chunks);
            let out = feed(&mut feeder);
            feeder.0.end();
            out
        });
        let mut from_workers = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for w in 0..threads {
            let (report_tx, report_rx) = sync_channel::<Report<H::Ended>>(CHANNEL_ROUNDS);
            let table = FlowTable::new(worker_config.clone(), new_handler());
            workers.push(scope.spawn(move || worker(w, table, chunks, report_tx)));
            from_workers.push(report_rx);
        }
        let stats = merge(&from_workers, &mut ToFn(collect));
        let mut failures = Vec::new();
        let fed = join_thread("capture feeding thread", fed)
            .map_err(|f| failures.push(f))
            .ok();
        for (w, handle) in workers.into_iter().enumerate() {
            let name = format!("worker thread {} of {threads}", w + 1);
            failures.extend(join_thread(&name, handle).err());
        }
        (fed, stats, failures)
    });
    (
        fed,
        mark_not_analyzed(chunks.into_summaries(), &failures),
        stats,
    )
}

/// The reading alone, for the benchmark: `threads` threads read the
/// input in chunks and peek at every frame as the analysis does (on one
/// thread too: the same chunks), then drop the chunks. Returns the frames
/// read and the mail segments among them.
pub fn read_and_peek(input: &InputSpec, threads: usize) -> (u64, u64) {
    let threads = threads.max(1);
    let ports = FlowConfig::default().ports;
    let clock = CaptureClock::new(FlowConfig::default().idle_timeout_secs);
    let inputs = std::slice::from_ref(input);
    let ranges = (threads, chunks::RANGE_BYTES);
    let chunks = Chunks::new(inputs, &ports, clock, ranges, &|_, _| {});
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let chunks = &chunks;
            scope.spawn(move || {
                let _guard = Guard(chunks);
                let mut next = 0;
                loop {
                    match chunks.next_job(next) {
                        Job::Chunk(seq, chunk) => {
                            drop(chunk);
                            chunks.done_with(seq);
                            next = seq + 1;
                        }
                        Job::Done => break,
                        job => chunks.read(job),
                    }
                }
            });
        }
    });
    let summaries = chunks.into_summaries();
    summaries
        .iter()
        .fold((0, 0), |(f, m), s| (f + s.packets, m + s.mail_segments))
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

/// Tells the other workers when this one dies, so none waits for it.
struct Guard<'c, 'a>(&'c Chunks<'a>);

impl Drop for Guard<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail();
        }
    }
}

/// Runs worker `w`'s flow table over every chunk, reading chunks when
/// there is reading to do.
fn worker<H: SessionOutbox>(
    w: usize,
    mut table: FlowTable<H>,
    chunks: &Chunks<'_>,
    reports: SyncSender<Report<H::Ended>>,
) {
    let _guard = Guard(chunks);
    table.track_opened();
    let mut next = 0u64;
    loop {
        let (seq, chunk) = match chunks.next_job(next) {
            Job::Chunk(seq, chunk) => (seq, chunk),
            Job::Done => break,
            job => {
                chunks.read(job);
                continue;
            }
        };
        let mut ticks = chunk.ticks.iter().peekable();
        for m in chunk.shards.get(w).map_or(&[][..], Vec::as_slice) {
            let (packet, data) = chunk.frame(m);
            // Ticks up to and including this packet come first, as in one
            // table, where a packet's time advances the clock before the
            // packet itself is handled.
            while let Some(t) =
                ticks.next_if(|t| (t.input, t.frame) <= (packet.input, packet.frame))
            {
                table.tick(*t);
            }
            let Some(data) = data else {
                continue;
            };
            if let Ok(segment) = decode::decode(m.link, data) {
                table.process(&segment, packet, m.orig_len);
            }
        }
        for t in ticks {
            table.tick(*t);
        }
        drop(chunk);
        chunks.done_with(seq);
        chunks.set_flows(w, table.len());
        next = seq + 1;
        let report = Report::Round {
            opened: table.take_opened(),
            ended: table.handler_mut().take_ended().collect(),
        };
        if reports.send(report).is_err() {
            chunks.fail();
            return;
        }
    }
    loop {
        let done = table.finish_step(FINISH_CHUNK);
        let ended: Vec<H::Ended> = table.handler_mut().take_ended().collect();
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
/// of their first packet and hands ended ones to the collector in the order
/// one table would have ended them. At the end of the input, the sessions
/// each worker ends (in id order) are merged by id.
fn merge<T: Ended>(
    from_workers: &[Receiver<Report<T>>],
    collector: &mut dyn Collector<T>,
) -> TableStats {
    let n = from_workers.len();
    let mut merge = Merge {
        ids: Ids::default(),
        stats: TableStats::default(),
        tail: (0..n).map(|_| VecDeque::new()).collect(),
        last: vec![false; n],
    };
    let mut in_rounds = vec![true; n];
    while in_rounds.iter().any(|r| *r) {
        merge.round(from_workers, &mut in_rounds, collector);
    }
    merge.end_of_input(from_workers, collector);
    merge.stats
}

/// What the merge keeps between rounds.
struct Merge<T> {
    ids: Ids,
    stats: TableStats,
    /// Per worker: sessions ended at the end of the input, waiting to be
    /// merged by id.
    tail: Vec<VecDeque<T>>,
    /// Per worker: whether it has said its last.
    last: Vec<bool>,
}

impl<T: Ended> Merge<T> {
    /// One batch round: a report from each worker still in rounds, its
    /// sessions numbered, its ended sessions handed on in order.
    fn round(
        &mut self,
        from_workers: &[Receiver<Report<T>>],
        in_rounds: &mut [bool],
        collector: &mut dyn Collector<T>,
    ) {
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
                    set(in_rounds, w, false);
                    self.queue_tail(w, e);
                }
                Ok(Report::Last { stats: s }) => {
                    add_stats(&mut self.stats, &s);
                    set(in_rounds, w, false);
                    set(&mut self.last, w, true);
                }
                Err(_) => {
                    set(in_rounds, w, false);
                    set(&mut self.last, w, true);
                }
            }
        }
        opened.sort_unstable();
        for (_, w, local) in opened {
            self.ids.open(w, local);
        }
        let ids = &mut self.ids;
        let mut ended: Vec<T> = ended.into_iter().map(|(w, r)| ids.global(w, r)).collect();
        ended.sort_by_key(|r| {
            let k = r.closed_by();
            // Clock expiries and end-of-input closes go by id; a packet's
            // own closes (all in its worker) by the order they were made.
            let tie = match k.phase {
                ClosePhase::ByPacket => u64::from(k.seq),
                ClosePhase::ByClock | ClosePhase::AtEnd => r.id(),
            };
            (k.input, k.frame, k.phase, k.deadline, tie)
        });
        for session in ended {
            collector.session(session);
        }
        collector.pause();
    }

    /// End of the input: a k-way merge by id of what the workers end.
    fn end_of_input(
        &mut self,
        from_workers: &[Receiver<Report<T>>],
        collector: &mut dyn Collector<T>,
    ) {
        loop {
            for (w, rx) in from_workers.iter().enumerate() {
                while self.tail.get(w).is_some_and(VecDeque::is_empty)
                    && !self.last.get(w).copied().unwrap_or(true)
                {
                    match rx.recv() {
                        Ok(Report::Finish { ended }) => self.queue_tail(w, ended),
                        Ok(Report::Last { stats: s }) => {
                            add_stats(&mut self.stats, &s);
                            set(&mut self.last, w, true);
                        }
                        Ok(Report::Round { .. }) | Err(_) => set(&mut self.last, w, true),
                    }
                }
            }
            let next = self
                .tail
                .iter()
                .enumerate()
                .filter_map(|(w, q)| q.front().map(|r| (r.id(), w)))
                .min();
            let Some((_, w)) = next else { break };
            if let Some(session) = self.tail.get_mut(w).and_then(VecDeque::pop_front) {
                collector.session(session);
            }
        }
    }

    /// Sessions worker `w` ended at the end of the input, with their
    /// global ids.
    fn queue_tail(&mut self, w: usize, ended: Vec<T>) {
        if let Some(q) = self.tail.get_mut(w) {
            let ids = &mut self.ids;
            q.extend(ended.into_iter().map(|r| ids.global(w, r)));
        }
    }
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

    /// The session with its global id.
    fn global<T: Ended>(&mut self, worker: usize, mut ended: T) -> T {
        if let Some(id) = self
            .maps
            .get_mut(worker)
            .and_then(|m| m.remove(&ended.id()))
        {
            ended.renumber(id);
        }
        ended
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
    use crate::capture::writer::PcapWriter;
    use crate::flow::{EndReason, PerSide, SessionInfo, Side, StreamEvent, StreamSink};
    use crate::time::Timestamp;
    use etherparse::PacketBuilder;

    /// A trivial handler: payload bytes per side of each session.
    #[derive(Default)]
    struct ByteCounts {
        outbox: Vec<Counted>,
    }

    #[derive(Default)]
    struct Counter(PerSide<u64>);

    struct Counted {
        id: u64,
        closed_by: CloseKey,
        client_port: u16,
        end: EndReason,
        bytes: PerSide<u64>,
    }

    impl StreamSink for Counter {
        fn on_event(&mut self, side: Side, event: StreamEvent<'_>) {
            if let StreamEvent::Data { bytes, .. } = event {
                self.0[side] += bytes.len() as u64;
            }
        }
    }

    impl SessionHandler for ByteCounts {
        type Sink = Counter;

        fn open(&mut self, _: &SessionInfo) -> Counter {
            Counter::default()
        }

        fn close(&mut self, info: SessionInfo, sink: Counter) {
            self.outbox.push(Counted {
                id: info.id,
                closed_by: info.closed_by,
                client_port: info.client.port,
                end: info.end,
                bytes: sink.0,
            });
        }
    }

    impl SessionOutbox for ByteCounts {
        type Ended = Counted;

        fn take_ended(&mut self) -> std::vec::Drain<'_, Counted> {
            self.outbox.drain(..)
        }
    }

    impl Ended for Counted {
        fn id(&self) -> u64 {
            self.id
        }

        fn closed_by(&self) -> CloseKey {
            self.closed_by
        }

        fn renumber(&mut self, id: u64) {
            self.id = id;
        }
    }

    /// Keeps what it is given, and counts the pauses.
    #[derive(Default)]
    struct Kept {
        sessions: Vec<Counted>,
        pauses: usize,
    }

    impl Collector<Counted> for Kept {
        fn session(&mut self, ended: Counted) {
            self.sessions.push(ended);
        }

        fn pause(&mut self) {
            self.pauses += 1;
        }
    }

    /// One frame of raw IPv4 between a client and port 25, with these
    /// flags (`S`, `F`, `R`; all but the first SYN acknowledge `ack`).
    fn frame(
        client: u16,
        to_server: bool,
        (seq, ack): (u32, u32),
        flags: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let ips = ([10, 0, (client >> 8) as u8, client as u8], [10, 1, 0, 1]);
        let (src, dst, sport, dport) = if to_server {
            (ips.0, ips.1, client, 25)
        } else {
            (ips.1, ips.0, 25, client)
        };
        let mut tcp = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, seq, 65535);
        if ack != 0 {
            tcp = tcp.ack(ack);
        }
        for flag in flags.chars() {
            tcp = match flag {
                'S' => tcp.syn(),
                'F' => tcp.fin(),
                'R' => tcp.rst(),
                _ => tcp,
            };
        }
        let mut out = Vec::new();
        tcp.write(&mut out, payload).unwrap();
        out
    }

    /// Sessions that overlap in time, each ended in one of four ways (FIN,
    /// RST, idle timeout, still open at the end), with payloads of many
    /// sizes: some 16 frames a session.
    fn many_sessions(sessions: u16) -> Vec<(Timestamp, Vec<u8>)> {
        let mut frames = Vec::new();
        for i in 0..sessions {
            let client = 20000 + i;
            let start = i64::from(i) * 20; // in milliseconds
            let mut at = |n: i64, f: Vec<u8>| {
                let ms = start + n * 7;
                let ts = Timestamp::new(ms / 1000, (ms % 1000) as u32 * 1_000_000);
                frames.push((ts, f));
            };
            // Next sequence numbers of client and server.
            let (mut c, mut s) = (101u32, 501u32);
            at(0, frame(client, true, (100, 0), "S", b""));
            at(1, frame(client, false, (500, c), "S", b""));
            at(2, frame(client, true, (c, s), "", b""));
            for n in 0..12u16 {
                let payload = vec![b'a'; usize::from((i + n) % 37) + 1];
                let when = 3 + i64::from(n);
                if n % 2 == 0 {
                    at(when, frame(client, false, (s, c), "", &payload));
                    s += payload.len() as u32;
                } else {
                    at(when, frame(client, true, (c, s), "", &payload));
                    c += payload.len() as u32;
                }
            }
            match i % 4 {
                0 => {
                    at(15, frame(client, true, (c, s), "F", b""));
                    at(16, frame(client, false, (s, c + 1), "F", b""));
                    at(17, frame(client, true, (c + 1, s + 1), "", b""));
                }
                1 => at(15, frame(client, false, (s, c), "R", b"")),
                // Idle: times out, or ends with the input.
                2 => {}
                // A last word just within the idle timeout.
                _ => at(150, frame(client, true, (c, s), "", b"bye")),
            }
        }
        frames.sort_by_key(|(ts, _)| *ts);
        frames
    }

    /// What a run gives: the sessions, the table's counters, the input's
    /// summary as JSON.
    type Run = (Kept, TableStats, String);

    /// Runs the counting handler on `threads`, pcap files cut in ranges
    /// of `range_bytes`.
    fn run_counting(path: &std::path::Path, threads: usize, range_bytes: u64) -> Run {
        run_counting_files(&[path], threads, range_bytes)
    }

    /// [`run_counting`] over several files, read in this order.
    fn run_counting_files(paths: &[&std::path::Path], threads: usize, range_bytes: u64) -> Run {
        let inputs: Vec<InputSpec> = paths
            .iter()
            .map(|path| InputSpec {
                path: path.to_path_buf(),
                name: path.display().to_string(),
                stream: false,
            })
            .collect();
        let config = FlowConfig {
            idle_timeout_secs: 3,
            ..FlowConfig::default()
        };
        let mut kept = Kept::default();
        let inputs = inputs.as_slice();
        let new = &ByteCounts::default;
        let (summaries, stats) = if threads == 1 {
            run_inputs(inputs, config, 1, new, &mut kept, &|_, _| {})
        } else {
            let threads = (threads, range_bytes);
            run_on_threads(inputs, config, threads, new, &mut kept, &|_, _| {})
        };
        (kept, stats, serde_json::to_string(&summaries).unwrap())
    }

    /// The sessions as compared between runs (the order of making, `seq`,
    /// is each table's own).
    fn seen(kept: &Kept) -> Vec<(u64, u16, EndReason, PerSide<u64>)> {
        let s = &kept.sessions;
        s.iter()
            .map(|s| (s.id, s.client_port, s.end, s.bytes))
            .collect()
    }

    /// Writes `frames` to a new pcap file named after `what`.
    fn write_pcap(what: &str, frames: &[(Timestamp, Vec<u8>)]) -> std::path::PathBuf {
        let name = format!("stripwatch-parallel-{what}-{}.pcap", std::process::id());
        let path = std::env::temp_dir().join(name);
        let file = std::fs::File::create(&path).unwrap();
        let mut pcap = PcapWriter::new(file, crate::capture::linktype::RAW).unwrap();
        for (ts, f) in frames {
            pcap.write_frame(*ts, f, f.len() as u32).unwrap();
        }
        pcap.flush().unwrap();
        path
    }

    #[test]
    fn a_run_gets_no_more_threads_than_cores() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(usable_threads(0), 1);
        assert_eq!(usable_threads(1), 1);
        assert_eq!(usable_threads(cores), cores);
        assert_eq!(usable_threads(cores + 1), cores);
        assert_eq!(usable_threads(usize::MAX), cores);
    }

    #[test]
    fn any_handler_gives_the_same_sessions_on_one_thread_and_three() {
        let frames = many_sessions(3000);
        assert!(frames.len() > 40_000);
        let path = write_pcap("many", &frames);
        let (one, one_stats, one_inputs) = run_counting(&path, 1, 0);
        // Ranges of 16 KiB: some 200 chunks, each a batch round.
        let (three, three_stats, three_inputs) = run_counting(&path, 3, 16 << 10);
        let (two, _, two_inputs) = run_counting(&path, 2, chunks::RANGE_BYTES);
        std::fs::remove_file(&path).unwrap();

        // The same sessions in the same order with the same ids.
        assert_eq!(one.sessions.len(), 3000);
        assert!(seen(&one) == seen(&three), "threads=1 and threads=3 differ");
        assert!(seen(&one) == seen(&two), "threads=1 and threads=2 differ");
        assert_eq!(one_inputs, three_inputs);
        assert_eq!(one_inputs, two_inputs);
        assert!(one_inputs.contains(&format!("\"packets\":{}", frames.len())));
        // Every way to end is there, and ids follow first packets.
        for end in [
            EndReason::Fin,
            EndReason::Rst,
            EndReason::Timeout,
            EndReason::EndOfCapture,
        ] {
            assert!(one.sessions.iter().any(|s| s.end == end), "{end:?}");
        }
        let mut by_id: Vec<_> = one.sessions.iter().map(|s| (s.id, s.client_port)).collect();
        by_id.sort_unstable();
        assert!(by_id.windows(2).all(|w| w[0].1 < w[1].1));
        let first = &one.sessions[0];
        assert_eq!((first.client_port, first.end), (20000, EndReason::Fin));
        assert_eq!(
            first.bytes.into_array(),
            [2 + 4 + 6 + 8 + 10 + 12, 1 + 3 + 5 + 7 + 9 + 11]
        );
        assert_eq!(one_stats.sessions, three_stats.sessions);
        assert!(three.pauses > 150, "batch rounds: {}", three.pauses);
    }

    /// Every record boundary of a small capture, as the first place the
    /// file is cut (and every `cut` bytes after it), on two threads: the
    /// same sessions, ids, counters and summary as one thread. Cuts of one
    /// byte put a range start inside every record too (ranges whose first
    /// record is guessed wrong are read again), and the file cut short in
    /// its last record ends with the same error at the same packet.
    #[test]
    fn a_capture_cut_at_every_record_boundary_gives_the_same_results() {
        let frames = many_sessions(24);
        let path = write_pcap("cuts", &frames);
        let bytes = std::fs::read(&path).unwrap();
        let mut boundaries = vec![24u64];
        for (_, f) in &frames {
            boundaries.push(boundaries.last().unwrap() + 16 + f.len() as u64);
        }
        assert_eq!(*boundaries.last().unwrap(), bytes.len() as u64);
        let truncated = write_pcap("cuts-short", &[]);
        std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
        for file in [&path, &truncated] {
            let (one, one_stats, one_inputs) = run_counting(file, 1, 0);
            assert!(one.sessions.len() == 24 && one_stats.segments > 300);
            let cuts = boundaries
                .iter()
                .map(|b| b - 24)
                .chain([1, 2, 3, 7, 16, 17]);
            for cut in cuts.filter(|c| *c > 0) {
                let (two, two_stats, two_inputs) = run_counting(file, 2, cut);
                assert!(seen(&one) == seen(&two), "cut {cut} bytes: sessions differ");
                assert_eq!(one_stats.segments, two_stats.segments, "cut {cut}");
                assert_eq!(one_inputs, two_inputs, "cut {cut}");
            }
        }
        // The capture in three files (sessions go on from one file to the
        // next), read ahead into the next file while the last ranges of
        // one are read: the same as one thread.
        let third = frames.len() / 3;
        let parts = [
            write_pcap("part1", &frames[..third]),
            write_pcap("part2", &frames[third..2 * third]),
            write_pcap("part3", &frames[2 * third..]),
        ];
        let paths: Vec<&std::path::Path> = parts.iter().map(|p| p.as_path()).collect();
        let (one, _, one_inputs) = run_counting_files(&paths, 1, 0);
        assert_eq!(one.sessions.len(), 24);
        for (threads, cut) in [(2, 1000), (3, 97), (2, 1 << 20)] {
            let (many, _, many_inputs) = run_counting_files(&paths, threads, cut);
            assert!(seen(&one) == seen(&many), "{threads} threads, cut {cut}");
            assert_eq!(one_inputs, many_inputs);
        }
        for p in &parts {
            std::fs::remove_file(p).unwrap();
        }
        let (_, _, short_inputs) = run_counting(&truncated, 2, 100);
        assert!(short_inputs.contains("\"error_packet\":"), "{short_inputs}");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&truncated).unwrap();
    }

    /// One pcapng block: type, length, body padded to 4 bytes, length (little-endian).
    fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let len = (12 + padded) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(8 + padded, 0);
        out.extend_from_slice(&len.to_le_bytes());
        out
    }

    /// An interface of raw IP, in microseconds or (if_tsresol 9) nanoseconds.
    fn ng_interface(nanos: bool) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(crate::capture::linktype::RAW as u16).to_le_bytes());
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&65535u32.to_le_bytes());
        if nanos {
            body.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]);
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        ng_block(1, &body)
    }

    /// How a test pcapng file is laid out past its packets.
    #[derive(Clone, Copy, PartialEq)]
    enum NgLayout {
        /// Two interfaces up front; statistics blocks between packets.
        Plain,
        /// Also an interface described after the first packets, then a
        /// Simple Packet Block, then a new section: the rest goes to the
        /// sequential reader.
        Changing,
    }

    /// `frames` as a pcapng file, alternating between two interfaces (one
    /// in microseconds, one in nanoseconds), and the offsets where its blocks start.
    fn write_pcapng(
        what: &str,
        frames: &[(Timestamp, Vec<u8>)],
        layout: NgLayout,
    ) -> (std::path::PathBuf, Vec<u64>) {
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut out = ng_block(0x0A0D_0D0A, &shb);
        out.extend(ng_interface(false));
        out.extend(ng_interface(true));
        let mut starts = Vec::new();
        let third = frames.len() / 3;
        for (i, (ts, f)) in frames.iter().enumerate() {
            starts.push(out.len() as u64);
            if layout == NgLayout::Changing && i == third {
                out.extend(ng_interface(false));
                starts.push(out.len() as u64);
                out.extend(ng_block(
                    3,
                    &[&(f.len() as u32).to_le_bytes()[..], f].concat(),
                ));
                continue;
            }
            if layout == NgLayout::Changing && i == 2 * third {
                out.extend(ng_block(0x0A0D_0D0A, &shb));
                starts.push(out.len() as u64);
                out.extend(ng_interface(true));
                out.extend(ng_interface(false));
                starts.push(out.len() as u64);
            }
            if i % 5 == 4 {
                out.extend(ng_block(5, &[0u8; 12]));
                starts.push(out.len() as u64);
            }
            let interface = (i % 2) as u32;
            let units = if interface == 0 {
                ts.secs as u64 * 1_000_000 + u64::from(ts.nanos / 1000)
            } else {
                ts.secs as u64 * 1_000_000_000 + u64::from(ts.nanos)
            };
            let mut body = Vec::new();
            for word in [
                interface,
                (units >> 32) as u32,
                units as u32,
                f.len() as u32,
                f.len() as u32,
            ] {
                body.extend_from_slice(&word.to_le_bytes());
            }
            body.extend_from_slice(f);
            out.extend(ng_block(6, &body));
        }
        starts.push(out.len() as u64);
        let name = format!("stripwatch-parallel-{what}-{}.pcapng", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, &out).unwrap();
        (path, starts)
    }

    /// The pcapng form of the test above: every block boundary (and every
    /// 1, 2, 3, 7, 16 and 17 bytes) as the first cut, two threads against
    /// one; the file truncated in its last block; and a file whose
    /// interfaces and sections change after its first packets (read by
    /// ranges up to there, by the sequential reader from there).
    #[test]
    fn a_pcapng_capture_cut_at_every_block_boundary_gives_the_same_results() {
        let frames = many_sessions(24);
        for layout in [NgLayout::Plain, NgLayout::Changing] {
            let what = if layout == NgLayout::Plain {
                "ng-cuts"
            } else {
                "ng-changing"
            };
            let (path, starts) = write_pcapng(what, &frames, layout);
            let bytes = std::fs::read(&path).unwrap();
            let truncated = path.with_extension("short.pcapng");
            std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
            let data_start = starts[0];
            for file in [&path, &truncated] {
                let (one, one_stats, one_inputs) = run_counting(file, 1, 0);
                assert!(one.sessions.len() == 24 && one_stats.segments > 300);
                assert!(one_inputs.contains("\"format\":\"pcapng\""), "{one_inputs}");
                let cuts = starts
                    .iter()
                    .map(|b| b - data_start)
                    .chain([1, 2, 3, 7, 16, 17]);
                for cut in cuts.filter(|c| *c > 0) {
                    let (two, two_stats, two_inputs) = run_counting(file, 2, cut);
                    assert!(
                        seen(&one) == seen(&two),
                        "{what}: cut {cut}: sessions differ"
                    );
                    assert_eq!(one_stats.segments, two_stats.segments, "{what}: cut {cut}");
                    assert_eq!(one_inputs, two_inputs, "{what}: cut {cut}");
                }
            }
            let (_, _, short_inputs) = run_counting(&truncated, 2, 100);
            assert!(short_inputs.contains("\"error_packet\":"), "{short_inputs}");
            std::fs::remove_file(&path).unwrap();
            std::fs::remove_file(&truncated).unwrap();
        }
    }

    /// Many rounds of a pcapng file: one thread against three in 16 KiB ranges.
    #[test]
    fn a_pcapng_file_read_by_ranges_gives_the_same_sessions_over_many_rounds() {
        let frames = many_sessions(3000);
        let (path, _) = write_pcapng("ng-many", &frames, NgLayout::Plain);
        let (one, _, one_inputs) = run_counting(&path, 1, 0);
        let (three, _, three_inputs) = run_counting(&path, 3, 16 << 10);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(one.sessions.len(), 3000);
        assert!(seen(&one) == seen(&three), "threads=1 and threads=3 differ");
        assert_eq!(one_inputs, three_inputs);
        assert!(three.pauses > 150, "batch rounds: {}", three.pauses);
    }

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
