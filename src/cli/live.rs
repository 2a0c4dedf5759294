//! `stripwatch live`: the file pipeline fed from a network interface
//! (cargo feature `live`).
//!
//! The capture thread ([`stripwatch::capture::live`]) hands packets over in
//! batches; a feeding thread numbers them as frames of one input and hands
//! them to the workers of `analyze`'s pipeline
//! ([`stripwatch::parallel::run_fed`]: `--threads` flow tables, each with
//! its [`MailSessions`]); this thread merges the ended sessions back in
//! order into the same [`Run`] as `analyze`, as soon as each ends, so
//! findings stream out (one line each for a person, or JSON lines).
//!
//! Capture time only advances with packets. When none comes for
//! [`IDLE_TICK`], the wall clock (less [`CLOCK_LAG`], for packets the
//! kernel may still hold) moves the flow tables' clock instead
//! ([`Feed::hand_over`]), so idle sessions time out and are reported while
//! the capture runs.
//!
//! SIGINT or SIGTERM stops the capture; what the kernel holds is still
//! read and analyzed, then every open session ends as `end-of-capture` and
//! the summary is written, as at the end of a file. A second signal ends
//! the process at once.

use crate::cli::{
    EXIT_INPUT_ERROR, FailOn, FilterArgs, FlowArgs, create_output, exit_status, report_write_failed,
};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stripwatch::analysis::{
    AnalysisOptions, Filter, MailSessions, Reporter, Run, SessionRecord, Severity,
};
use stripwatch::capture::live::{self, CaptureEnd, Event, LiveCapture, LiveOptions, Running};
use stripwatch::capture::writer::RotatingPcapWriter;
use stripwatch::capture::{CaptureError, CaptureErrorKind, Frame, LinkType};
use stripwatch::flow::{FlowConfig, PortSet, TableStats};
use stripwatch::output_file::{IfExists, OutputDir};
use stripwatch::parallel::Feed;
use stripwatch::pipeline::InputSummary;
use stripwatch::privileges;
use stripwatch::report::evidence::LiveEvidence;
use stripwatch::report::{HashExport, JsonLines, LineReport, TableOptions, TableReport};
use stripwatch::time::Timestamp;

/// With no packet for this long, the wall clock advances capture time.
pub(crate) const IDLE_TICK: Duration = Duration::from_millis(500);
/// How far behind the wall clock that tick stays: packets stamped earlier
/// may still sit in the kernel's buffer (at most the read timeout).
pub(crate) const CLOCK_LAG: Duration = Duration::from_secs(2);

/// Output formats of `stripwatch live`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LiveFormat {
    /// One line per finding as it is made; the table report at the end.
    Table,
    /// JSON lines, streamed (docs/jsonl.md).
    Jsonl,
}

#[derive(Args, Debug)]
pub(crate) struct LiveArgs {
    /// The interface to capture on (`any`: all of them; --list shows them).
    #[arg(short, long, value_name = "IFACE", required_unless_present = "list")]
    pub interface: Option<String>,

    /// List the interfaces libpcap can capture on, and exit.
    #[arg(long, conflicts_with = "interface")]
    pub list: bool,

    /// A BPF filter (pcap-filter syntax) instead of the default: the mail
    /// ports and --port, with or without an 802.1Q tag.
    #[arg(long, value_name = "EXPR")]
    pub bpf: Option<String>,

    /// Bytes kept of each packet.
    #[arg(long, default_value_t = 262_144, value_name = "N",
          value_parser = clap::value_parser!(u32).range(64..=262_144))]
    pub snaplen: u32,

    /// Put the interface in promiscuous mode (a SPAN port or a tap with
    /// other hosts' traffic).
    #[arg(long)]
    pub promisc: bool,

    /// The kernel buffer for packets not read yet: a bigger one rides out
    /// longer bursts without drops.
    #[arg(long, default_value_t = 32 << 20, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(65_536..=i32::MAX as i64))]
    pub buffer_size: u32,

    /// Keep every captured packet in a pcap FILE.
    #[arg(long, value_name = "FILE")]
    pub write_pcap: Option<PathBuf>,

    /// Replace output files that already exist (by default an existing
    /// file is an error).
    #[arg(long)]
    pub force: bool,

    /// With --write-pcap: go on in FILE.1, FILE.2, ... whenever the file
    /// would grow past N megabytes (10^6 bytes).
    #[arg(long, value_name = "N", requires = "write_pcap",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_mb: Option<u64>,

    /// Write the packets of every flagged session to DIR as each finding
    /// is made (`session-<id>-<finding>.pcap`, as `analyze
    /// --write-evidence DIR` names them), secrets masked unless
    /// --show-secrets. Packets are kept for this in bounded rings per flow
    /// (the most recent 4096 packets or 8 MiB of a flow, 256 MiB in all,
    /// the oldest dropped first).
    #[arg(long, value_name = "DIR")]
    pub write_evidence: Option<PathBuf>,

    /// Seconds between statistics on standard error (0: none).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub stats_interval: u64,

    /// Started as root: the user to become once the interface and the
    /// output files are open (default: nobody), with no capabilities left.
    /// Files created later (--rotate-mb, --hashes) are this user's.
    #[arg(long, short = 'Z', value_name = "NAME")]
    pub user: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LiveFormat::Table)]
    pub format: LiveFormat,

    /// Table: the report at the end also lists sessions without findings.
    #[arg(long)]
    pub all: bool,

    /// Show passwords, tokens and challenge responses (masked by default).
    #[arg(long)]
    pub show_secrets: bool,

    /// At the end, write CRAM-MD5, APOP and NTLM material in hashcat's
    /// formats and DIGEST-MD5 in John the Ripper's to FILE (and
    /// FILE.<tool>-<format>).
    #[arg(long, value_name = "FILE")]
    pub hashes: Option<PathBuf>,

    /// Exit with status 1 when a finding at or above this severity is reported.
    #[arg(long, value_enum, default_value_t = FailOn::High, value_name = "SEVERITY")]
    pub fail_on: FailOn,

    #[command(flatten)]
    pub history: crate::cli::HistoryOptions,

    /// Rules for given servers (TOML; see policy.example.toml), as for
    /// analyze.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    #[command(flatten)]
    pub filter: FilterArgs,

    /// No statistics or notes on standard error (errors still go there).
    #[arg(long, short)]
    pub quiet: bool,

    /// Worker threads analyzing the packets, beside the capture thread
    /// (default 1: everything else on one thread; never more than the
    /// cores). With N > 1 the packets go through the pipeline `analyze
    /// --threads N` runs; the findings are the same.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,

    #[command(flatten)]
    pub flow: FlowArgs,
}

impl LiveArgs {
    /// The mail ports, the other upgrade protocols' and --port.
    pub(crate) fn ports(&self) -> Vec<u16> {
        let mut ports = PortSet::MAIL_PORTS.to_vec();
        ports.extend(PortSet::UPGRADE_PORTS);
        ports.extend(&self.flow.ports);
        ports
    }

    pub(crate) fn flow_config(&self) -> FlowConfig {
        self.flow.flow_config()
    }

    /// The BPF filter in force.
    pub(crate) fn bpf_filter(&self) -> String {
        self.bpf
            .clone()
            .unwrap_or_else(|| live::default_filter(&self.ports()))
    }

    fn filter(&self) -> Filter {
        self.filter.filter()
    }

    /// Notes are escaped whole, like `analyze`'s: they name files and
    /// interfaces.
    fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("stripwatch: {}", stripwatch::text::escape(text.as_bytes()));
        }
    }
}

/// Runs `stripwatch live` and returns the exit status (as for `analyze`).
pub(crate) fn run(args: &LiveArgs) -> ExitCode {
    if args.list {
        return list();
    }
    let Some(interface) = args.interface.clone() else {
        eprintln!("stripwatch: live needs an interface (-i IFACE) or --list");
        return ExitCode::from(EXIT_INPUT_ERROR);
    };
    let Opened {
        capture,
        writer,
        mut hashes,
        history,
        policy,
        evidence,
    } = match open(args, &interface) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let link = capture.link();
    args.note(&format!(
        "capturing on {interface} ({}, snaplen {}), filter: {}; Ctrl-C stops",
        stripwatch::capture::linktype::name(link),
        args.snaplen,
        capture.options().filter,
    ));
    let (running, signals) = match start(capture, writer) {
        Ok(started) => started,
        Err(code) => return code,
    };

    let stdout = std::io::stdout();
    let mut lines = LineReport::new(std::io::stdout(), crate::cli::palette());
    let mut main_reporter = main_reporter(args, &stdout);
    let mut reporters: Vec<&mut dyn Reporter> = Vec::new();
    if args.format == LiveFormat::Table {
        reporters.push(&mut lines);
    }
    reporters.push(main_reporter.as_mut());
    if let Some(h) = hashes.as_mut() {
        reporters.push(h);
    }
    let mut evidence_reporter = evidence.as_ref();
    if let Some(e) = evidence_reporter.as_mut() {
        reporters.push(e);
    }
    let mut run = Run::new(args.filter(), reporters).with_history(history);
    if let Some(policy) = policy {
        run = run.with_policy(policy);
    }
    let started = Instant::now();
    let captured = capture_all(
        args,
        &interface,
        link,
        (running, signals),
        started,
        (&mut run, evidence.as_ref()),
    );
    let history_failed = !crate::cli::end_history(&mut run, args.quiet);
    let (worst, error) = run.finish(&captured.summaries, &captured.stats);
    let report_failed = match error.filter(report_write_failed) {
        Some(e) => {
            eprintln!("stripwatch: writing the report: {e}");
            true
        }
        None => false,
    };
    drop(main_reporter);
    let _ = std::io::stdout().flush();

    report_end(args, &captured, started, worst, hashes.as_ref());
    let evidence_failed = evidence.is_some_and(|e| !report_evidence(args, &e));
    let failed = report_failed
        || history_failed
        || evidence_failed
        || captured.end.write_error.is_some()
        || !captured.summaries.iter().all(|i| i.complete());
    exit_status(failed, worst, args.fail_on)
}

/// Opens the capture and the output files, then gives up privileges.
/// What `live` opens before it captures.
struct Opened {
    capture: LiveCapture,
    writer: Option<RotatingPcapWriter>,
    hashes: Option<HashExport>,
    history: stripwatch::analysis::history::History,
    policy: Option<stripwatch::analysis::Policy>,
    evidence: Option<LiveEvidence>,
}

fn open(args: &LiveArgs, interface: &str) -> Result<Opened, ExitCode> {
    let options = LiveOptions {
        interface: interface.to_string(),
        filter: args.bpf_filter(),
        snaplen: args.snaplen,
        promisc: args.promisc,
        buffer_size: args.buffer_size,
    };
    let capture = LiveCapture::open(options).map_err(|e| {
        crate::cli::error(&e.to_string());
        ExitCode::from(EXIT_INPUT_ERROR)
    })?;
    let if_exists = IfExists::from_force(args.force);
    let limit = args.rotate_mb.map(|mb| mb.saturating_mul(1_000_000));
    let writer = create_output("--write-pcap", args.write_pcap.as_deref(), |p| {
        RotatingPcapWriter::create(p, capture.pcap_options(), limit, if_exists)
    })?;
    let hashes = create_output("--hashes", args.hashes.as_deref(), |p| {
        HashExport::create(p, if_exists)
    })?;
    // Opened now, as the user started: its files are created through it later.
    let evidence = create_output("--write-evidence", args.write_evidence.as_deref(), |p| {
        OutputDir::open(p).map(|dir| LiveEvidence::new(dir, if_exists, args.show_secrets))
    })?;
    if let Err(e) = drop_privileges(args) {
        crate::cli::error(&format!(
            "cannot give up privileges ({e}): not capturing with them"
        ));
        return Err(ExitCode::from(EXIT_INPUT_ERROR));
    }
    if let Err(e) = check_later_outputs(args) {
        crate::cli::error(&e.to_string());
        return Err(ExitCode::from(EXIT_INPUT_ERROR));
    }
    // As the user live runs as: the history's file (and its journal) are
    // that user's, in a directory it can write.
    let (history, policy) = crate::cli::open_proofs(&args.history, args.policy.as_deref())?;
    Ok(Opened {
        capture,
        writer,
        hashes,
        history,
        policy,
        evidence,
    })
}

/// Starts the capture thread and the handling of SIGINT and SIGTERM.
fn start(
    capture: LiveCapture,
    writer: Option<RotatingPcapWriter>,
) -> Result<(Running, Signals), ExitCode> {
    let running = capture.start(writer).map_err(|e| {
        eprintln!("stripwatch: cannot start the capture thread: {e}");
        ExitCode::from(EXIT_INPUT_ERROR)
    })?;
    match Signals::install(running.stopper.clone()) {
        Ok(signals) => Ok((running, signals)),
        Err(e) => {
            running.stopper.stop();
            let _ = running.join();
            eprintln!("stripwatch: cannot handle SIGINT and SIGTERM: {e}");
            Err(ExitCode::from(EXIT_INPUT_ERROR))
        }
    }
}

/// The reporter of `--format` on standard output.
fn main_reporter<'a>(args: &LiveArgs, stdout: &'a std::io::Stdout) -> Box<dyn Reporter + 'a> {
    match args.format {
        LiveFormat::Table => Box::new(TableReport::new(
            std::io::BufWriter::new(stdout.lock()),
            TableOptions {
                all: args.all,
                palette: crate::cli::palette(),
            },
        )),
        LiveFormat::Jsonl => Box::new(JsonLines::new(std::io::BufWriter::new(stdout.lock()))),
    }
}

/// What a capture came to, once it ended and every session was reported.
struct Captured {
    summaries: Vec<InputSummary>,
    stats: TableStats,
    tally: Tally,
    end: CaptureEnd,
    stopper: live::Stopper,
    /// Writing `--write-pcap` failed while capturing (and was said then).
    write_failed: bool,
}

/// Runs the capture through the pipeline of `analyze --threads N` until
/// it ends (the packets handed to the workers from a thread of their own,
/// the sessions merged back here in order, as soon as each ends), then
/// ends every open session (`end-of-capture`) and records how the capture
/// ended.
fn capture_all(
    args: &LiveArgs,
    interface: &str,
    link: LinkType,
    (running, signals): (Running, Signals),
    started: Instant,
    (run, evidence): (&mut Run<'_>, Option<&LiveEvidence>),
) -> Captured {
    let name = format!("live:{interface}");
    let analysis = AnalysisOptions {
        show_secrets: args.show_secrets,
    };
    let names = [name.clone()];
    let new_handler = || MailSessions::new(&names, analysis);
    let stopper = running.stopper.clone();
    let counted = Mutex::new((Tally::default(), None::<Severity>));
    let count = || counted.lock().unwrap_or_else(PoisonError::into_inner);
    let mut collect = |record: Option<SessionRecord>| match record {
        Some(record) => {
            let findings = record.findings.len() as u64;
            run.session(record);
            let mut c = count();
            c.0.sessions += 1;
            c.0.findings += findings;
            c.1 = run.worst();
        }
        None => {
            if run.error().is_some() && !stopper.is_stopped() {
                // Nobody reads the findings any more (`| head`): stop.
                stopper.stop();
            }
        }
    };
    let feed = |feed: &mut Feed<'_, '_>| {
        let write_failed = feed_events(args, (&running, link, evidence), started, feed, &counted);
        (running, write_failed)
    };
    let threads = stripwatch::parallel::usable_threads(usize::from(args.threads));
    if usize::from(args.threads) > threads {
        args.note(&super::threads_note(usize::from(args.threads), threads));
    }
    let config = (args.flow_config(), threads);
    let (fed, mut summaries, stats) =
        stripwatch::parallel::run_fed(&name, config, &new_handler, &mut collect, feed);
    let tally = count().0;
    let (end, write_failed) = match fed {
        Some((running, write_failed)) => (running.join(), write_failed),
        None => (CaptureEnd::default(), false),
    };
    signals.close();
    if let Some(summary) = summaries.get_mut(0) {
        summary.live = end.stats;
        if let Some(e) = &end.error {
            summary.record_failure(CaptureError {
                file: name.clone(),
                packet: Some(tally.frames + 1),
                kind: CaptureErrorKind::Io(std::io::Error::other(e.clone())),
            });
        }
    }
    if let Some(e) = &end.error {
        let text = format!("the capture on {interface} stopped: {e}");
        eprintln!("stripwatch: {}", stripwatch::text::escape(text.as_bytes()));
    }
    Captured {
        summaries,
        stats,
        tally,
        end,
        stopper,
        write_failed,
    }
}

/// Hands the capture thread's packets to the workers until the thread
/// ends, moving capture time with the wall clock when no packet comes and
/// writing statistics every `--stats-interval`. Counts frames and bytes in
/// `counted`; returns whether writing `--write-pcap` failed on the way.
fn feed_events(
    args: &LiveArgs,
    (running, link, evidence): (&Running, LinkType, Option<&LiveEvidence>),
    started: Instant,
    feed: &mut Feed<'_, '_>,
    counted: &Mutex<(Tally, Option<Severity>)>,
) -> bool {
    let mut next_stats = args.stats_interval;
    let mut write_failed = false;
    let (mut frames, mut bytes) = (0u64, 0u64);
    let mut flows = 0;
    loop {
        match running.events.recv_timeout(IDLE_TICK) {
            Ok(Event::Packets(batch)) => {
                let packets = batch.packets().map(|(ts, data, orig_len)| {
                    frames += 1;
                    bytes += u64::from(orig_len);
                    let frame = Frame {
                        number: frames,
                        ts,
                        link,
                        data,
                        orig_len,
                    };
                    if let Some(e) = evidence {
                        e.keep(&frame);
                    }
                    frame
                });
                flows = feed.hand_over(packets, None);
                let _ = running.recycle.try_send(batch);
            }
            Ok(Event::WriteFailed(e)) => {
                write_failed = true;
                eprintln!(
                    "stripwatch: writing the capture file failed ({e}); the capture goes on without it"
                );
            }
            Err(RecvTimeoutError::Timeout) => {
                // No packet for a while: the wall clock moves capture time.
                let idle = (frames + 1, wall_clock_less(CLOCK_LAG));
                flows = feed.hand_over([], Some(idle));
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let (tally, worst) = {
            let mut c = counted.lock().unwrap_or_else(PoisonError::into_inner);
            (c.0.frames, c.0.bytes) = (frames, bytes);
            *c
        };
        if next_stats > 0 && started.elapsed().as_secs() >= next_stats {
            next_stats += args.stats_interval;
            let counters = running.stats.get();
            args.note(&tally.progress(started.elapsed(), counters, flows, worst));
        }
    }
    write_failed
}

/// The notes at the end: the last statistics, dropped packets, the files
/// written.
fn report_end(
    args: &LiveArgs,
    captured: &Captured,
    started: Instant,
    worst: Option<Severity>,
    hashes: Option<&HashExport>,
) {
    let end = &captured.end;
    args.note(&format!(
        "{} ({})",
        captured
            .tally
            .progress(started.elapsed(), end.stats, 0, worst),
        if captured.stopper.is_stopped() {
            "stopped"
        } else {
            "capture ended"
        }
    ));
    if let Some(counters) = end.stats {
        if counters.dropped + counters.if_dropped > 0 {
            // Missing packets mean missing findings: say so even when quiet.
            eprintln!(
                "stripwatch: warning: {} packets dropped by the kernel and {} by the interface: \
                 sessions may be incomplete (a larger --buffer-size or a narrower --bpf helps)",
                counters.dropped, counters.if_dropped
            );
        }
    }
    if !end.files.is_empty() && end.write_error.is_none() {
        let names: Vec<String> = end.files.iter().map(|p| p.display().to_string()).collect();
        args.note(&format!(
            "wrote {} packets to {}",
            end.frames_written,
            names.join(", ")
        ));
    }
    if let Some(e) = &end.write_error {
        if !captured.write_failed {
            crate::cli::error(&format!("writing the capture file failed: {e}"));
        }
    }
    if let Some(h) = hashes {
        for (path, n) in &h.written {
            args.note(&format!("wrote {n} hash lines to {}", path.display()));
        }
    }
}

/// The note on `--write-evidence` at the end; false when a file could not
/// be written (said here: the capture went on without it).
fn report_evidence(args: &LiveArgs, evidence: &LiveEvidence) -> bool {
    let s = evidence.summary();
    let dir = args.write_evidence.as_deref().unwrap_or(Path::new(""));
    if let Some(e) = &s.first_failure {
        crate::cli::error(&format!(
            "--write-evidence: {} file(s) could not be written; the first: {e}",
            s.failed_files
        ));
    }
    args.note(&format!(
        "wrote {} packets of flagged sessions to {} file(s) under {} ({} with secrets masked)",
        s.packets,
        s.files.len(),
        dir.display(),
        s.masked_packets
    ));
    if s.partial_sessions > 0 {
        eprintln!(
            "stripwatch: warning: {} flagged sessions had packets no longer held (the \
             per-flow and global bounds of --write-evidence): their files lack them",
            s.partial_sessions
        );
    }
    if s.not_written > 0 {
        eprintln!(
            "stripwatch: warning: the evidence of {} flagged sessions or late findings was not \
             written: the writer's queue was full (the capture does not wait for the disk)",
            s.not_written
        );
    }
    s.failed_files == 0
}

/// The user `live` becomes when started as root, unless `--user` says.
const DEFAULT_USER: &str = "nobody";

/// Gives up root or capabilities now that the capture and the first
/// `--write-pcap` file are open, before any thread starts (capabilities
/// are per thread).
fn drop_privileges(args: &LiveArgs) -> Result<(), String> {
    if args.user.is_some() && !privileges::started_as_root() {
        args.note("--user applies only when started as root: ignored");
    }
    let user = args.user.as_deref().unwrap_or(DEFAULT_USER);
    let dropped = privileges::drop_privileges(user)?;
    args.note(&dropped.describe());
    Ok(())
}

/// Rotated files and the hash files are created after the privileges are
/// gone: better to find now than after hours that they cannot be.
fn check_later_outputs(args: &LiveArgs) -> Result<(), String> {
    let evidence_probe = args.write_evidence.as_ref().map(|d| d.join("session.pcap"));
    let later = [
        args.rotate_mb
            .and(args.write_pcap.as_ref().map(|p| ("--rotate-mb", p))),
        args.hashes.as_ref().map(|p| ("--hashes", p)),
        // Its files are created in the directory itself.
        evidence_probe.as_ref().map(|p| ("--write-evidence", p)),
    ];
    for (option, path) in later.into_iter().flatten() {
        if !can_create_in_directory_of(path) {
            return Err(format!(
                "{option} creates files next to {} after the start, as uid {}, \
                 who cannot write in that directory (choose one it can, or another --user)",
                stripwatch::text::escape(path.as_os_str().as_encoded_bytes()),
                nix::unistd::getuid()
            ));
        }
    }
    Ok(())
}

/// The time `lag` ago, as a capture timestamp.
fn wall_clock_less(lag: Duration) -> Timestamp {
    let then = SystemTime::now().checked_sub(lag).unwrap_or(UNIX_EPOCH);
    let since = then.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp::new(
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_nanos(),
    )
}

/// What the run has seen, for the statistics line.
#[derive(Clone, Copy, Default)]
struct Tally {
    frames: u64,
    bytes: u64,
    sessions: u64,
    findings: u64,
}

impl Tally {
    fn progress(
        &self,
        elapsed: Duration,
        counters: Option<stripwatch::capture::LiveCounters>,
        flows: usize,
        worst: Option<Severity>,
    ) -> String {
        let libpcap = counters.map_or_else(
            || "libpcap: no counters".to_string(),
            |c| {
                format!(
                    "libpcap: {} received, {} dropped, {} dropped by the interface",
                    c.received, c.dropped, c.if_dropped
                )
            },
        );
        format!(
            "{:.0} s: {} packets ({:.1} MB); {libpcap}; {flows} flows tracked, {} sessions ended, {} findings{}",
            elapsed.as_secs_f64(),
            self.frames,
            self.bytes as f64 / 1e6,
            self.sessions,
            self.findings,
            worst.map(|w| format!(" (worst: {w})")).unwrap_or_default()
        )
    }
}

/// `stripwatch live --list`.
fn list() -> ExitCode {
    match live::list_interfaces() {
        Ok(interfaces) => {
            let mut out = std::io::stdout().lock();
            for i in interfaces {
                let mut flags = Vec::new();
                if i.up {
                    flags.push("up");
                }
                if i.running {
                    flags.push("running");
                }
                if i.loopback {
                    flags.push("loopback");
                }
                let addresses: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
                let mut line = stripwatch::text::escape(i.name.as_bytes());
                if !flags.is_empty() {
                    line.push_str(&format!(" [{}]", flags.join(", ")));
                }
                if !addresses.is_empty() {
                    line.push_str(&format!(" {}", addresses.join(" ")));
                }
                if let Some(d) = &i.description {
                    line.push_str(&format!(" ({})", stripwatch::text::escape(d.as_bytes())));
                }
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stripwatch: cannot list the interfaces: {e}");
            ExitCode::from(EXIT_INPUT_ERROR)
        }
    }
}

/// SIGINT and SIGTERM stop the capture; a second one ends the process.
struct Signals {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
}

impl Signals {
    fn install(stopper: live::Stopper) -> std::io::Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let flag = stopper.flag();
        // Runs before the iterator's thread sees the signal: only once the
        // first one has set the flag does a second one end the process.
        signal_hook::flag::register_conditional_shutdown(SIGINT, 130, flag.clone())?;
        signal_hook::flag::register_conditional_shutdown(SIGTERM, 143, flag)?;
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    stopper.stop();
                }
            })?;
        Ok(Signals { handle, thread })
    }

    fn close(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

/// Whether the (dropped) process may create files in the directory of
/// `path`, as it will for outputs created after the start.
fn can_create_in_directory_of(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    use nix::unistd::AccessFlags;
    nix::unistd::access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::can_create_in_directory_of;
    use std::path::Path;

    #[test]
    fn outputs_in_the_current_directory_are_checked_there() {
        // A bare file name lives in ".", which a test run may write.
        let cwd_writable = nix::unistd::access(
            ".",
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .is_ok();
        assert_eq!(
            can_create_in_directory_of(Path::new("out.pcap")),
            cwd_writable
        );
        assert!(!can_create_in_directory_of(Path::new(
            "/nonexistent-stripwatch-dir/out.pcap"
        )));
    }
}
