//! One line per finding, written (and flushed) the moment it is known: the
//! human view of a run that does not end by itself (`stripwatch live`).
//!
//! ```text
//! 2024-03-01T12:00:00.090000Z CRITICAL cleartext-credentials imap 192.0.2.20:51200 → 203.0.113.20:143 (session 1): IMAP-LOGIN password for `judy` crossed without TLS, and the server accepted it [packet 10: a002 LOGIN judy *****************]
//! ```
//!
//! Everything from the wire was escaped when its record was built; it goes
//! through [`crate::text::printable`] once more on its way out, so no byte
//! can reach the terminal raw whatever a record holds.

use super::Palette;
use crate::analysis::{Finding, LateFinding, Reporter, RunEnd, SessionRecord};
use crate::flow::Endpoint;
use crate::text::printable;
use std::io::{self, Write};

/// Longest evidence excerpt shown on a line, in characters.
pub(crate) const MAX_EXCERPT_CHARS: usize = 120;

/// Writes one line per finding to `out`; the run's end writes nothing (a
/// summary reporter beside it does).
pub struct LineReport<W: Write> {
    out: W,
    palette: Option<Palette>,
    /// Finding lines written.
    pub lines: u64,
}

impl<W: Write> LineReport<W> {
    /// With a `palette`, the severity in colour.
    pub fn new(out: W, palette: Option<Palette>) -> Self {
        LineReport {
            out,
            palette,
            lines: 0,
        }
    }

    fn line(
        &mut self,
        f: &Finding,
        protocol: &str,
        client: &Endpoint,
        server: &Endpoint,
        late: Option<&LateFinding>,
    ) -> io::Result<()> {
        let text = finding_line(f, protocol, client, server, late, self.palette);
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        self.out.flush()
    }
}

/// The line of one finding (without its newline).
pub(crate) fn finding_line(
    f: &Finding,
    protocol: &str,
    client: &Endpoint,
    server: &Endpoint,
    late: Option<&LateFinding>,
    palette: Option<Palette>,
) -> String {
    let first = f.evidence.first();
    let when = first.map_or_else(|| "-".to_string(), |e| e.location.timestamp.to_string());
    let label = format!("{:<8}", f.severity.to_string().to_uppercase());
    let label = match palette {
        Some(palette) => palette.paint(f.severity, &label),
        None => label,
    };
    let mut text = format!(
        "{when} {label} {} {} {} → {} (session {}",
        f.kind.name(),
        printable(protocol),
        client,
        server,
        f.session
    );
    if let Some(l) = late {
        text.push_str(", proven by a later session");
        if let Some(replaced) = l.replaces {
            text.push_str(", replaces ");
            text.push_str(replaced.name());
        }
    }
    text.push_str("): ");
    text.push_str(&printable(&f.summary));
    if let Some(e) = first {
        text.push_str(&format!(" [packet {}", e.location.packet));
        if let Some(file) = &e.location.file {
            text.push_str(&format!(" of {}", printable(file)));
        }
        text.push_str(": ");
        text.push_str(&excerpt(&printable(&e.excerpt)));
        text.push(']');
    }
    text
}

/// At most [`MAX_EXCERPT_CHARS`] characters, marked `...` when cut.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_EXCERPT_CHARS) {
        Some((at, _)) => format!("{}...", text.get(..at).unwrap_or(text)),
        None => text.to_string(),
    }
}

impl<W: Write> Reporter for LineReport<W> {
    fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
        for f in &r.findings {
            self.line(f, r.protocol, &r.client, &r.server, None)?;
        }
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        self.line(
            &late.finding,
            late.protocol,
            &late.client,
            &late.server,
            Some(late),
        )
    }

    fn finish(&mut self, _end: &RunEnd<'_>) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cut_on_a_character() {
        let long = "é".repeat(MAX_EXCERPT_CHARS + 5);
        let cut = excerpt(&long);
        assert!(cut.ends_with("..."));
        assert_eq!(cut.chars().count(), MAX_EXCERPT_CHARS + 3);
        assert_eq!(excerpt("short"), "short");
    }
}
