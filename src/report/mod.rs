//! Writing the report: a table for people, JSON for tools, JSON lines for
//! SIEMs. Every string taken from the wire was escaped when its record was
//! built (see [`crate::text`]).

mod table;

pub use table::write_table;

use crate::analysis::Report;
use serde::Serialize;
use std::io::{self, Write};

/// Output formats of `stripwatch analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
}

/// One pretty-printed JSON document.
pub fn write_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// One JSON object per line, each with a `type`: `input`, `session`, then
/// `summary`.
pub fn write_jsonl(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct Line<'a, T: Serialize> {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(flatten)]
        body: &'a T,
    }
    for input in &report.inputs {
        serde_json::to_writer(
            &mut *out,
            &Line {
                kind: "input",
                body: input,
            },
        )?;
        writeln!(out)?;
    }
    for session in &report.sessions {
        serde_json::to_writer(
            &mut *out,
            &Line {
                kind: "session",
                body: session,
            },
        )?;
        writeln!(out)?;
    }
    serde_json::to_writer(
        &mut *out,
        &Line {
            kind: "summary",
            body: &report.stats,
        },
    )?;
    writeln!(out)
}
