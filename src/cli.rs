//! Command-line interface: argument parsing and wiring of the library.

use crate::analysis;
use crate::capture::resolve_inputs;
use crate::flow::{FlowConfig, PortSet};
use crate::report::{self, Format};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when an input could not be read completely.
pub const EXIT_INPUT_ERROR: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "stripwatch",
    version,
    about = "Finds STARTTLS stripping, downgrades and cleartext credentials in SMTP, IMAP and POP3 captures"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyze capture files (pcap, pcapng, gzip; `-` for standard input; a
    /// directory for every capture in it).
    Analyze(AnalyzeArgs),
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Capture files or directories, read in the order of their first packet.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

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

    /// No progress or notes on standard error (errors still go there).
    #[arg(long, short)]
    pub quiet: bool,

    /// Show passwords, tokens and challenge responses (masked by default).
    #[arg(long)]
    pub show_secrets: bool,

    /// Most concurrent flows; beyond it the longest idle one is evicted.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_flows: usize,
}

impl AnalyzeArgs {
    pub fn flow_config(&self) -> FlowConfig {
        let mut ports = PortSet::mail();
        for p in &self.ports {
            ports.insert(*p);
        }
        FlowConfig {
            ports,
            idle_timeout_secs: self.idle_timeout.max(1),
            max_flows: self.max_flows.max(1),
            drop_bad_checksums: self.verify_checksums,
            ..FlowConfig::default()
        }
    }
}

/// Runs the parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Analyze(args) => run_analyze(&args),
    }
}

fn run_analyze(args: &AnalyzeArgs) -> ExitCode {
    let (inputs, skipped) = match resolve_inputs(&args.paths) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("stripwatch: {e}");
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    for path in skipped.iter().filter(|_| !args.quiet) {
        eprintln!(
            "stripwatch: skipping {}: not a capture file",
            crate::text::escape(path.display().to_string().as_bytes())
        );
    }
    let options = analysis::AnalysisOptions {
        show_secrets: args.show_secrets,
    };
    let report = analysis::analyze(&inputs, args.flow_config(), options);
    for input in &report.inputs {
        if let Some(e) = &input.error {
            eprintln!("stripwatch: {}", crate::text::escape(e.as_bytes()));
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Table => report::write_table(&report, &mut out),
        Format::Json => report::write_json(&report, &mut out),
        Format::Jsonl => report::write_jsonl(&report, &mut out),
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("stripwatch: writing the report: {e}");
            return ExitCode::FAILURE;
        }
    }
    if report.inputs_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INPUT_ERROR)
    }
}
