//! `stripwatch diff INSIDE OUTSIDE`: the command line of the diff (wired
//! into [`crate::cli`] by one variant and one call).

use super::Format;
use crate::cli::{EXIT_INPUT_ERROR, FailOn, FlowArgs, exit_status, report_write_failed};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stripwatch::capture::{InputSpec, resolve_inputs};
use stripwatch::diff::output::{DiffFormat, TableLook, write_report};
use stripwatch::diff::{DiffOptions, diff};

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// Captures from the tap on one side of the middlebox (a file, or a
    /// directory for every capture under it).
    #[arg(value_name = "INSIDE")]
    pub inside: PathBuf,

    /// Captures from the tap on the other side.
    #[arg(value_name = "OUTSIDE")]
    pub outside: PathBuf,

    /// More captures of the inside tap (repeatable).
    #[arg(long = "inside", value_name = "PATH")]
    pub more_inside: Vec<PathBuf>,

    /// More captures of the outside tap (repeatable).
    #[arg(long = "outside", value_name = "PATH")]
    pub more_outside: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Table: also list pairs the path did not change.
    #[arg(long)]
    pub all: bool,

    /// Show passwords, tokens and challenge responses in changed lines
    /// (masked by default).
    #[arg(long)]
    pub show_secrets: bool,

    /// Exit with status 1 when a change at or above this severity is found.
    #[arg(long, value_enum, default_value_t = FailOn::High, value_name = "SEVERITY")]
    pub fail_on: FailOn,

    /// Most seconds between the first packets of two sessions taken for
    /// one (NAT pairs: at most 5).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub window: f64,

    /// No notes on standard error (errors still go there).
    #[arg(long, short)]
    pub quiet: bool,

    /// Write the report to FILE instead of standard output (created new,
    /// readable by its owner only: with --show-secrets it holds secrets).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace an --output file that already exists.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub flow: FlowArgs,
}

impl DiffArgs {
    fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("stripwatch: {}", stripwatch::text::escape(text.as_bytes()));
        }
    }

    /// A tap's inputs, and whether a directory entry could not be read
    /// (said on standard error).
    fn inputs(&self, first: &Path, more: &[PathBuf]) -> (Vec<InputSpec>, bool) {
        let mut paths = vec![first.to_path_buf()];
        paths.extend(more.iter().cloned());
        let resolved = resolve_inputs(&paths);
        for (path, why) in &resolved.skipped {
            self.note(&format!("skipping {}: {why}", path.display()));
        }
        for e in &resolved.failed {
            crate::cli::error(&e.to_string());
        }
        (resolved.inputs, !resolved.failed.is_empty())
    }
}

/// Runs `stripwatch diff` and returns the exit status.
pub(crate) fn run(args: &DiffArgs) -> ExitCode {
    let (inside, inside_failed) = args.inputs(&args.inside, &args.more_inside);
    let (outside, outside_failed) = args.inputs(&args.outside, &args.more_outside);
    let stdin = |v: &[InputSpec]| v.iter().any(|i| i.path == Path::new("-"));
    if stdin(&inside) && stdin(&outside) {
        eprintln!("stripwatch: only one tap can be read from standard input");
        return ExitCode::from(EXIT_INPUT_ERROR);
    }
    // The output is created before the run: a name already taken fails
    // now, not after the analysis.
    let if_exists = stripwatch::output_file::IfExists::from_force(args.force);
    let (mut out, terminal) = match crate::cli::report_output(args.output.as_deref(), if_exists) {
        Ok(out) => out,
        Err(code) => return code,
    };
    let options = DiffOptions {
        show_secrets: args.show_secrets,
        window_secs: if args.window.is_finite() {
            args.window.max(0.0)
        } else {
            DiffOptions::default().window_secs
        },
    };
    let report = diff(&inside, &outside, args.flow.flow_config(), &options);
    for input in report.inputs.inside.iter().chain(&report.inputs.outside) {
        if let Some(e) = &input.error {
            crate::cli::error(&e.to_string());
        }
    }
    let look = TableLook {
        all: args.all,
        palette: crate::cli::palette().filter(|_| terminal),
        pretty: terminal,
    };
    let mut failed = inside_failed || outside_failed || !report.inputs_complete();
    if let Err(e) =
        write_report(&report, diff_format(args.format), look, &mut out).and_then(|()| out.flush())
    {
        if report_write_failed(&e) {
            eprintln!("stripwatch: writing the report: {e}");
            failed = true;
        }
    }
    exit_status(failed, report.worst(), args.fail_on)
}

fn diff_format(format: Format) -> DiffFormat {
    match format {
        Format::Table => DiffFormat::Table,
        Format::Json => DiffFormat::Json,
        Format::Jsonl => DiffFormat::Jsonl,
        Format::Html => DiffFormat::Html,
    }
}
