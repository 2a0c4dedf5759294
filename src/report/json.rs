//! One JSON document: schema version, inputs, sessions (in id order),
//! every finding, server profiles and counters.

use crate::analysis::{LateFinding, Report, ReportBuilder, Reporter, RunEnd, SessionRecord};
use std::io::{self, Write};

/// Collects the run, writes the document at its end.
pub struct JsonDocument<W: Write> {
    out: W,
    builder: ReportBuilder,
    pretty: bool,
}

impl<W: Write> JsonDocument<W> {
    /// `pretty` indents the document (for a person at a terminal; tools
    /// read the compact form faster).
    pub fn new(out: W, pretty: bool) -> Self {
        JsonDocument {
            out,
            builder: ReportBuilder::default(),
            pretty,
        }
    }
}

/// Writes a report as one document.
pub(crate) fn write_report(report: &Report, out: &mut dyn Write, pretty: bool) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, report)?;
    } else {
        serde_json::to_writer(&mut *out, report)?;
    }
    writeln!(out)
}

impl<W: Write> Reporter for JsonDocument<W> {
    fn session(&mut self, record: &SessionRecord) -> io::Result<()> {
        self.builder.session(record)
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        self.builder.late_finding(late)
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        self.builder.finish(end)?;
        let builder = std::mem::take(&mut self.builder);
        if let Some(report) = builder.into_report() {
            write_report(&report, &mut self.out, self.pretty)?;
        }
        self.out.flush()
    }
}
