//! `stripwatch history`: the servers' timeline from a history.

use super::{EXIT_INPUT_ERROR, create_output, error, parse_server, report_write_failed};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use stripwatch::output_file::IfExists;

/// Output formats of `history`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum HistoryFormat {
    Table,
    Json,
    /// One self-contained HTML page.
    Html,
}

#[derive(Args, Debug)]
pub(crate) struct HistoryArgs {
    /// The history: an SQLite file written by `analyze --history`, or a
    /// postgres:// URL.
    #[arg(value_name = "PATH|URL")]
    pub location: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,

    /// Only this server: ADDR or ADDR:PORT ([v6]:PORT).
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_server)]
    pub server: Option<(IpAddr, Option<u16>)>,

    /// Write to FILE instead of standard output (created new, 0600).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Prints the timeline; 2 when the history cannot be read or the output written.
pub(crate) fn run(args: &HistoryArgs) -> ExitCode {
    let if_exists = IfExists::from_force(args.force);
    let timeline = match stripwatch::analysis::history::timeline(&args.location, args.server) {
        Ok(t) => t,
        Err(e) => {
            error(&e.to_string());
            return ExitCode::from(EXIT_INPUT_ERROR);
        }
    };
    let file = match create_output("--output", args.output.as_deref(), |p| {
        stripwatch::output_file::create(p, if_exists)
    }) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let terminal = file.is_none() && std::io::stdout().is_terminal();
    let mut out: Box<dyn Write> = match file {
        Some(f) => Box::new(std::io::BufWriter::new(f)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = match args.format {
        HistoryFormat::Table => timeline.write_table(&mut out),
        HistoryFormat::Json => timeline.write_json(&mut out, terminal),
        HistoryFormat::Html => timeline.write_html(&mut out),
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if report_write_failed(&e) => {
            error(&format!("writing the timeline: {e}"));
            ExitCode::from(EXIT_INPUT_ERROR)
        }
        _ => ExitCode::SUCCESS,
    }
}
