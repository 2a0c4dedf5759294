//! Command-line interface: argument parsing and wiring of the library.

mod diff;
mod generate;
mod history;
#[cfg(feature = "live")]
mod live;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use stripwatch::analysis::{self, AnalysisOptions, Filter, Reporter, Run, Severity};
use stripwatch::capture::resolve_inputs;
use stripwatch::flow::{FlowConfig, PortSet};
use stripwatch::output_file::IfExists;
use stripwatch::proto::facts::Protocol;
use stripwatch::report::evidence::EvidenceTarget;
use stripwatch::report::{
    EvidencePlan, HashExport, HtmlReport, Hue, JsonDocument, JsonLines, Palette, TableOptions,
    TableReport,
};

/// Exit status when a finding at or above `--fail-on` was reported.
pub(crate) const EXIT_FINDINGS: u8 = 1;
/// Exit status when an input or an output failed (wins over 1, whatever
/// `--fail-on` says).
pub(crate) const EXIT_INPUT_ERROR: u8 = 2;

/// The exit statuses, for every command's --help.
const EXIT_STATUS_HELP: &str = "Exit status: 0 nothing at or above --fail-on was found; 1 something was; \
     2 an input could not be read completely or an output could not be written \
     (2 wins over 1 whatever --fail-on says; findings are still reported).";

/// The exit status of `analyze`, `diff` and `live`: 2 when an input or an
/// output failed, whatever `--fail-on` says; otherwise 1 when the worst
/// finding (diff: change) reaches `--fail-on`; otherwise 0.
pub(crate) fn exit_status(failed: bool, worst: Option<Severity>, fail_on: FailOn) -> ExitCode {
    if failed {
        ExitCode::from(EXIT_INPUT_ERROR)
    } else if fail_on.severity().is_some_and(|f| worst >= Some(f)) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether an error writing the report to standard output is a failure:
/// a reader that stopped early (`| head`) is not one, the findings still
/// decide.
pub(crate) fn report_write_failed(e: &std::io::Error) -> bool {
    e.kind() != std::io::ErrorKind::BrokenPipe
}

#[derive(Parser, Debug)]
#[command(
    name = "stripwatch",
    // The version, the git commit and whether `live` is built in (build.rs).
    version = env!("STRIPWATCH_VERSION_LINE"),
    about = "Finds STARTTLS stripping, downgrades and cleartext credentials in SMTP, IMAP and POP3 captures",
    after_help = EXIT_STATUS_HELP
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Analyze capture files (pcap, pcapng, gzip; `-` for standard input; a
    /// directory for every capture under it).
    #[command(after_help = EXIT_STATUS_HELP)]
    Analyze(AnalyzeArgs),
    /// Compare the mail sessions seen at two taps, one on each side of a
    /// firewall or proxy, and report what the path between them changed.
    #[command(after_help = EXIT_STATUS_HELP)]
    Diff(diff::DiffArgs),
    /// Capture live from a network interface and report findings as they
    /// happen (SIGINT or SIGTERM stops and writes the summary).
    #[cfg(feature = "live")]
    #[command(after_help = EXIT_STATUS_HELP)]
    Live(live::LiveArgs),
    /// Print, per server, what a history (`analyze --history`) holds: when
    /// STARTTLS stopped or started being offered and to which sensors,
    /// banner, capability and certificate changes, and what sensors saw
    /// differently at the same time.
    History(history::HistoryArgs),
    /// Print the completion script for a shell (bash, zsh, fish,
    /// powershell) on standard output.
    Completions(generate::CompletionsArgs),
    /// Write the manual pages (stripwatch.1 and one per command) to a
    /// directory.
    Man(generate::ManArgs),
}

/// The severity that makes the exit status 1, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
    Never,
}

impl FailOn {
    pub(crate) fn severity(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }
}

/// The mail protocols, for `--protocol`.
/// Output formats of `analyze` and `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Jsonl,
    /// One self-contained HTML page (inline CSS and SVG, no request to any
    /// host), printable from a browser.
    Html,
}

/// A severity on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProtocolArg {
    Smtp,
    Imap,
    Pop3,
    Ftp,
    Postgresql,
    Mysql,
    Xmpp,
    Lmtp,
    Ldap,
    Managesieve,
    Nntp,
}

impl From<ProtocolArg> for Protocol {
    fn from(arg: ProtocolArg) -> Protocol {
        match arg {
            ProtocolArg::Smtp => Protocol::Smtp,
            ProtocolArg::Imap => Protocol::Imap,
            ProtocolArg::Pop3 => Protocol::Pop3,
            ProtocolArg::Ftp => Protocol::Ftp,
            ProtocolArg::Postgresql => Protocol::Postgresql,
            ProtocolArg::Mysql => Protocol::Mysql,
            ProtocolArg::Xmpp => Protocol::Xmpp,
            ProtocolArg::Lmtp => Protocol::Lmtp,
            ProtocolArg::Ldap => Protocol::Ldap,
            ProtocolArg::Managesieve => Protocol::ManageSieve,
            ProtocolArg::Nntp => Protocol::Nntp,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct AnalyzeArgs {
    /// Capture files or directories, read in the order of their first packet.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Table: also list sessions without findings.
    #[arg(long)]
    pub all: bool,

    /// Show passwords, tokens and challenge responses (masked by default).
    #[arg(long)]
    pub show_secrets: bool,

    /// Write CRAM-MD5, APOP, NTLM and MySQL native-password material in hashcat's formats and
    /// DIGEST-MD5 in John the Ripper's to FILE (and FILE.<tool>-<format>).
    #[arg(long, value_name = "FILE")]
    pub hashes: Option<PathBuf>,

    /// Write the packets of every flagged session to PATH (a pcap), or one
    /// pcap per finding when PATH is a directory. Secret bytes are masked
    /// unless --show-secrets.
    #[arg(long, value_name = "PATH")]
    pub write_evidence: Option<PathBuf>,

    /// Write the report to FILE instead of standard output (created new,
    /// readable by its owner only: with --show-secrets it holds secrets).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace output files that already exist (by default an existing
    /// file is an error).
    #[arg(long)]
    pub force: bool,

    /// Exit with status 1 when a finding at or above this severity is reported.
    #[arg(long, value_enum, default_value_t = FailOn::High, value_name = "SEVERITY")]
    pub fail_on: FailOn,

    #[command(flatten)]
    pub filter: FilterArgs,

    #[command(flatten)]
    pub history: HistoryOptions,

    /// Rules for given servers (TOML; see policy.example.toml): must offer
    /// STARTTLS, must not receive credentials in cleartext, implicit TLS
    /// only. A session breaking one gets its finding, the policy as proof.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// No progress or notes on standard error (errors still go there).
    #[arg(long, short)]
    pub quiet: bool,

    /// Worker threads (default: all cores; never more than the cores this
    /// process may run on, as more only take turns on them). Results are
    /// the same with any number; 1 runs everything on one thread.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    #[command(flatten)]
    pub flow: FlowArgs,
}

/// The flow table's settings (analyze, live and diff).
#[derive(Args, Debug, Clone)]
pub(crate) struct FlowArgs {
    /// Also follow these TCP ports (repeatable, or comma-separated).
    #[arg(long = "port", value_name = "PORT", value_delimiter = ',')]
    pub ports: Vec<u16>,

    /// Drop segments with a wrong IP or TCP checksum (by default they are
    /// counted and kept: checksum offload on the capturing host makes them
    /// common and harmless).
    #[arg(long)]
    pub verify_checksums: bool,

    /// Seconds of capture time after which an idle session ends.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub idle_timeout: i64,

    /// Most concurrent flows; beyond it the longest idle one is evicted
    /// (diff: per tap).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_flows: usize,

    /// Most MiB all flows together may hold for reassembly (data behind a
    /// hole, or waiting for the peer); beyond it the flows that have held
    /// data longest give their holes up as gaps (diff: per tap).
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_buffered_mb: usize,
}

impl FlowArgs {
    pub(crate) fn flow_config(&self) -> FlowConfig {
        let mut ports = PortSet::mail();
        for p in &self.ports {
            ports.insert(*p);
        }
        FlowConfig {
            ports,
            idle_timeout_secs: self.idle_timeout.max(1),
            max_flows: self.max_flows.max(1),
            max_buffered_bytes: self.max_buffered_mb.saturating_mul(1 << 20),
            drop_bad_checksums: self.verify_checksums,
            ..FlowConfig::default()
        }
    }
}

/// The servers' history (analyze, live).
#[derive(Args, Debug, Clone)]
pub(crate) struct HistoryOptions {
    /// Keep what each server showed (STARTTLS offered or not, banner,
    /// capabilities, TLS, certificate) in PATH, an SQLite file created
    /// readable by its owner only, or in PostgreSQL (postgres://...) shared by
    /// sensors; a session without STARTTLS to a server that offered it before,
    /// or to another sensor at the same time, is proven stripped.
    #[arg(long = "history", value_name = "PATH|URL")]
    pub location: Option<String>,

    /// This vantage point's name in the history and in the
    /// server_observation lines (default: the host's name).
    #[arg(long, value_name = "NAME")]
    pub sensor: Option<String>,
}

impl HistoryOptions {
    /// The history of the run; an error is said on standard error.
    pub(crate) fn open(&self) -> Result<stripwatch::analysis::history::History, ExitCode> {
        stripwatch::analysis::history::History::open(self.location.as_deref(), self.sensor.clone())
            .map_err(|e| {
                error(&e.to_string());
                ExitCode::from(EXIT_INPUT_ERROR)
            })
    }
}

/// Which sessions and findings are reported (analyze, live).
#[derive(Args, Debug, Clone)]
pub(crate) struct FilterArgs {
    /// Report only findings at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub min_severity: Option<SeverityArg>,

    /// Report only sessions to this server: ADDR or ADDR:PORT ([v6]:PORT).
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_server)]
    pub server: Option<(IpAddr, Option<u16>)>,

    /// Report only sessions of this protocol.
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
}

impl FilterArgs {
    pub(crate) fn filter(&self) -> Filter {
        Filter {
            min_severity: self.min_severity.map(Severity::from),
            server: self.server,
            protocol: self.protocol.map(Protocol::from),
        }
    }
}

/// `ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 address.
pub(crate) fn parse_server(text: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("not an address or address:port: {text}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = host
        .parse()
        .map_err(|_| format!("not an IP address: {host}"))?;
    let port = port.parse().map_err(|_| format!("not a port: {port}"))?;
    Ok((ip, Some(port)))
}

impl AnalyzeArgs {
    pub(crate) fn flow_config(&self) -> FlowConfig {
        self.flow.flow_config()
    }

    fn filter(&self) -> Filter {
        self.filter.filter()
    }
}

/// Runs the parsed command line and returns the process exit status.
pub(crate) fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Analyze(args) => run_analyze(&args),
        Command::Diff(args) => diff::run(&args),
        #[cfg(feature = "live")]
        Command::Live(args) => live::run(&args),
        Command::History(args) => history::run(&args),
        Command::Completions(args) => generate::completions(&args),
        Command::Man(args) => generate::man(&args),
    }
}

/// The colours of stripwatch's severities.
const SEVERITY_PALETTE: Palette = Palette {
    info: Hue::Default,
    low: Hue::Cyan,
    medium: Hue::Yellow,
    high: Hue::Red,
    critical: Hue::Magenta,
};

/// The severity palette when standard output wants colour: a terminal
/// that is not `dumb`, and NO_COLOR unset (<https://no-color.org>). Every
/// command decides here.
pub(crate) fn palette() -> Option<Palette> {
    let wanted = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
    wanted.then_some(SEVERITY_PALETTE)
}

/// Creates the output `option` names (when it does) before the run: a name
/// already taken, or one that cannot be created, is said on standard error
/// and ends the run with status 2.
pub(crate) fn create_output<T, E: std::fmt::Display>(
    option: &str,
    path: Option<&std::path::Path>,
    create: impl FnOnce(&std::path::Path) -> Result<T, E>,
) -> Result<Option<T>, ExitCode> {
    match path.map(create) {
        None => Ok(None),
        Some(Ok(output)) => Ok(Some(output)),
        Some(Err(e)) => {
            error(&format!("{option}: {e}"));
            Err(ExitCode::from(EXIT_INPUT_ERROR))
        }
    }
}

/// Where the report goes: `--output FILE` (created like every output file:
/// new, 0600, never through a link; replaced only with --force), or
/// standard output. Also says whether that is a terminal (colour, indented
/// JSON).
pub(crate) fn report_output(
    path: Option<&std::path::Path>,
    if_exists: IfExists,
) -> Result<(Box<dyn Write>, bool), ExitCode> {
    let file = create_output("--output", path, |p| {
        stripwatch::output_file::create(p, if_exists)
    })?;
    Ok(match file {
        Some(file) => (Box::new(std::io::BufWriter::new(file)), false),
        None => {
            let terminal = std::io::stdout().is_terminal();
            (
                Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                terminal,
            )
        }
    })
}

/// An error on standard error, escaped like every output (paths and
/// messages may carry any bytes).
pub(crate) fn error(text: &str) {
    eprintln!("stripwatch: {}", stripwatch::text::escape(text.as_bytes()));
}

fn note(args: &AnalyzeArgs, text: &str) {
    if !args.quiet {
        eprintln!("stripwatch: {}", stripwatch::text::escape(text.as_bytes()));
    }
}

/// The threads `--threads` asks for, no more than the cores (the default),
/// with a note when it asked for more.
fn usable_threads(args: &AnalyzeArgs) -> usize {
    let usable = stripwatch::parallel::usable_threads(args.threads.unwrap_or(usize::MAX));
    if let Some(asked) = args.threads.filter(|&n| n > usable) {
        note(args, &threads_note(asked, usable));
    }
    usable
}

/// What `--threads` gets when it asks for more than the cores.
pub(crate) fn threads_note(asked: usize, usable: usize) -> String {
    format!("--threads {asked}: {usable}, the cores this process may run on")
}

fn run_analyze(args: &AnalyzeArgs) -> ExitCode {
    let resolved = resolve_inputs(&args.paths);
    for (path, why) in &resolved.skipped {
        note(args, &format!("skipping {}: {why}", path.display()));
    }
    for e in &resolved.failed {
        crate::cli::error(&e.to_string());
    }
    let inputs = resolved.inputs;
    let reads_stream = inputs.iter().any(|i| i.stream);
    if args.write_evidence.is_some() && reads_stream {
        eprintln!(
            "stripwatch: --write-evidence needs files it can read twice, not standard input or a pipe"
        );
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    // The history and the policy are read first: a corrupt history or a
    // broken policy stops the run before any output exists.
    let (history, policy) = match open_proofs(&args.history, args.policy.as_deref()) {
        Ok(proofs) => proofs,
        Err(code) => return code,
    };
    // Outputs are created before the run: a name already taken fails now,
    // not after the analysis.
    let if_exists = IfExists::from_force(args.force);
    let evidence_target =
        match create_output("--write-evidence", args.write_evidence.as_deref(), |p| {
            EvidenceTarget::prepare(p, if_exists)
        }) {
            Ok(t) => t,
            Err(code) => return code,
        };
    let mut hashes = match create_output("--hashes", args.hashes.as_deref(), |p| {
        HashExport::create(p, if_exists)
    }) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let options = AnalysisOptions {
        show_secrets: args.show_secrets,
    };
    let (out, terminal) = match report_output(args.output.as_deref(), if_exists) {
        Ok(out) => out,
        Err(code) => return code,
    };
    let threads = usable_threads(args);
    let mut main_reporter: Box<dyn Reporter> = match args.format {
        Format::Table => Box::new(TableReport::new(
            out,
            TableOptions {
                all: args.all,
                palette: palette().filter(|_| terminal),
            },
        )),
        Format::Json => Box::new(JsonDocument::new(out, terminal, threads)),
        // Standard input may be a live pipe (`tcpdump -w - | ...`): every
        // line goes out at once. Files are read fast: lines go out in
        // batches, milliseconds apart.
        Format::Jsonl if reads_stream => Box::new(JsonLines::new(out)),
        Format::Jsonl => Box::new(JsonLines::batched(out, threads)),
        Format::Html => Box::new(HtmlReport::new(out)),
    };
    let mut evidence = EvidencePlan::default();
    let mut reporters: Vec<&mut dyn Reporter> = Vec::new();
    if evidence_target.is_some() {
        reporters.push(&mut evidence);
    }
    if let Some(h) = hashes.as_mut() {
        reporters.push(h);
    }
    // Last: a JSON document or HTML report keeps each record without a copy.
    reporters.push(main_reporter.as_mut());
    let mut run = Run::new(args.filter(), reporters).with_history(history);
    if let Some(policy) = policy {
        run = run.with_policy(policy);
    }
    let progress = Progress::new(args, &inputs);
    let (summaries, stats) = analysis::run_inputs(
        &inputs,
        args.flow_config(),
        options,
        threads,
        &mut run,
        &|i, bytes| progress.update(i, bytes),
    );
    progress.finish();
    for input in &summaries {
        if let Some(e) = &input.error {
            crate::cli::error(&e.to_string());
        }
    }
    let mut failed = !resolved.failed.is_empty() || !summaries.iter().all(|i| i.complete());
    failed |= !end_history(&mut run, args.quiet);
    let (worst, error) = run.finish(&summaries, &stats);
    if let Some(e) = error.filter(report_write_failed) {
        eprintln!("stripwatch: writing the report: {e}");
        failed = true;
    }
    drop(main_reporter);
    if let Some(h) = &hashes {
        for (path, n) in &h.written {
            note(args, &format!("wrote {n} hash lines to {}", path.display()));
        }
    }
    if let Some(target) = evidence_target {
        failed |= !write_evidence(args, &evidence, target, &inputs);
    }
    if let Err(e) = std::io::stdout().flush() {
        failed |= report_write_failed(&e);
    }
    exit_status(failed, worst, args.fail_on)
}

/// Ends the run's history (late proofs, observations added); false when it
/// failed (said on standard error).
pub(crate) fn end_history(run: &mut Run<'_>, quiet: bool) -> bool {
    match run.end_history() {
        Ok(added) => {
            if !added && !quiet {
                eprintln!(
                    "stripwatch: history: this sensor added these very observations before \
                     (the same capture analysed again): they are not counted twice"
                );
            }
            true
        }
        Err(e) => {
            error(&e.to_string());
            false
        }
    }
}

/// The history (`--history`, `--sensor`) and the policy (`--policy`) of a
/// run; an error is said on standard error.
pub(crate) fn open_proofs(
    history: &HistoryOptions,
    policy: Option<&std::path::Path>,
) -> Result<
    (
        stripwatch::analysis::history::History,
        Option<stripwatch::analysis::Policy>,
    ),
    ExitCode,
> {
    let history = history.open()?;
    let policy = match policy.map(stripwatch::analysis::Policy::load) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            error(&e.to_string());
            return Err(ExitCode::from(EXIT_INPUT_ERROR));
        }
    };
    Ok((history, policy))
}

/// The second pass of `--write-evidence`; false when it failed (said on
/// standard error).
fn write_evidence(
    args: &AnalyzeArgs,
    evidence: &EvidencePlan,
    target: EvidenceTarget,
    inputs: &[stripwatch::capture::InputSpec],
) -> bool {
    let path = target.path().to_path_buf();
    match evidence.write(target, inputs, args.show_secrets) {
        Ok(s) => {
            note(
                args,
                &format!(
                    "wrote {} packets of flagged sessions to {} file(s) under {} ({} with secrets masked)",
                    s.packets,
                    s.files.len(),
                    path.display(),
                    s.masked_packets
                ),
            );
            true
        }
        Err(e) => {
            crate::cli::error(&format!("writing evidence to {}: {e}", path.display()));
            false
        }
    }
}

/// A progress bar on standard error for large inputs read from a terminal.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Bytes of the inputs before each one.
    before: Vec<u64>,
    last: std::sync::atomic::AtomicU64,
}

/// Inputs smaller than this finish before a bar would help.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

impl Progress {
    fn new(args: &AnalyzeArgs, inputs: &[stripwatch::capture::InputSpec]) -> Self {
        let sizes: Vec<u64> = inputs
            .iter()
            .map(|i| std::fs::metadata(&i.path).map_or(0, |m| m.len()))
            .collect();
        let total: u64 = sizes.iter().sum();
        let mut before = Vec::with_capacity(sizes.len());
        let mut sum = 0;
        for s in &sizes {
            before.push(sum);
            sum += s;
        }
        let show = !args.quiet && std::io::stderr().is_terminal() && total >= PROGRESS_MIN_BYTES;
        let bar = show.then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} [{wide_bar}]",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            before,
            last: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn update(&self, input: usize, bytes: u64) {
        if let Some(bar) = &self.bar {
            let at = self.before.get(input).copied().unwrap_or(0) + bytes;
            let last = self.last.load(std::sync::atomic::Ordering::Relaxed);
            if at.saturating_sub(last) >= 1 << 20 {
                self.last.store(at, std::sync::atomic::Ordering::Relaxed);
                bar.set_position(at.min(bar.length().unwrap_or(at)));
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command};
    use clap::Parser;

    fn flow_config(args: &[&str]) -> stripwatch::flow::FlowConfig {
        let cli = Cli::parse_from([&["stripwatch", "analyze"], args, &["x.pcap"]].concat());
        let Command::Analyze(args) = cli.command else {
            panic!("an analyze command");
        };
        args.flow.flow_config()
    }

    /// The flags set the flow table's limits, and the defaults are the
    /// library's.
    #[test]
    fn flow_flags_set_the_flow_config() {
        let defaults = stripwatch::flow::FlowConfig::default();
        let config = flow_config(&[]);
        assert_eq!(config.max_flows, defaults.max_flows);
        assert_eq!(config.max_buffered_bytes, defaults.max_buffered_bytes);
        assert_eq!(config.idle_timeout_secs, defaults.idle_timeout_secs);
        let config = flow_config(&["--max-buffered-mb", "64", "--max-flows", "1000"]);
        assert_eq!(config.max_buffered_bytes, 64 << 20);
        assert_eq!(config.max_flows, 1000);
        assert!(flow_config(&["--verify-checksums"]).drop_bad_checksums);
    }
}
