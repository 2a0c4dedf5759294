//! The report for people: a verdict summary first, then one row per flagged
//! session, then a profile per server, then what the inputs held.

use super::Palette;
use super::summary::verdict;
use crate::analysis::{LateFinding, Reporter, RunEnd, SessionRecord, Severity};
use crate::text::printable;
use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::io::{self, Write};

/// Most session rows kept for the table (the most severe first); the rest
/// are counted. JSON and JSON lines carry every session.
pub(crate) const MAX_ROWS: usize = 2000;

struct Row {
    id: u64,
    worst: Option<Severity>,
    time: String,
    endpoints: String,
    protocol: &'static str,
    starttls: String,
    credentials: String,
    findings: Vec<(Severity, String)>,
}

/// Options of the table.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableOptions {
    /// Also list sessions without findings.
    pub all: bool,
    /// Colours findings by severity, when wanted.
    pub palette: Option<Palette>,
}

/// Collects rows during the run and prints everything at its end.
pub struct TableReport<W: Write> {
    out: W,
    options: TableOptions,
    rows: Vec<Row>,
    /// Sessions without a reported finding that a later session may still
    /// prove stripped (a late finding then makes them a row).
    candidates: std::collections::HashMap<u64, Row>,
    omitted: u64,
    flagged: u64,
}

/// Most candidates kept for late findings.
const MAX_CANDIDATES: usize = 100_000;

impl<W: Write> TableReport<W> {
    /// A table report that writes to `out` when the run finishes.
    pub fn new(out: W, options: TableOptions) -> Self {
        TableReport {
            out,
            options,
            rows: Vec::new(),
            candidates: std::collections::HashMap::new(),
            omitted: 0,
            flagged: 0,
        }
    }

    fn severity_cell(&self, severity: Severity, text: String) -> Cell {
        let cell = Cell::new(text);
        match self.options.palette {
            Some(palette) => cell.fg(palette.cell(severity)),
            None => cell,
        }
    }

    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        if self.options.palette.is_some() {
            t.enforce_styling();
        } else {
            t.force_no_tty();
        }
        t
    }

    fn keep_bounded(&mut self) {
        if self.rows.len() > 2 * MAX_ROWS {
            self.rows
                .sort_by(|a, b| b.worst.cmp(&a.worst).then(a.id.cmp(&b.id)));
            self.omitted += (self.rows.len() - MAX_ROWS) as u64;
            self.flagged += self
                .rows
                .iter()
                .skip(MAX_ROWS)
                .filter(|r| r.worst.is_some())
                .count() as u64;
            self.rows.truncate(MAX_ROWS);
        }
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

fn starttls_cell(r: &SessionRecord) -> String {
    if r.implicit_tls {
        return format!(
            "implicit TLS{}",
            if r.starttls.tls_established {
                ""
            } else {
                " (no handshake)"
            }
        );
    }
    let st = &r.starttls;
    format!(
        "offered {} · requested {} · TLS {}",
        yes_no(st.offered),
        if st.requested { "yes" } else { "no" },
        if st.tls_established { "yes" } else { "no" }
    )
}

fn credentials_cell(r: &SessionRecord) -> String {
    r.credentials
        .iter()
        .map(|c| {
            let user = c.username.as_deref().unwrap_or("?");
            let secret = c
                .secret
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            let outcome = format!("{:?}", c.outcome).to_lowercase();
            format!("{} {user}{secret} ({outcome})", c.mechanism)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl<W: Write> Reporter for TableReport<W> {
    fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
        let worst = r.findings.iter().map(|f| f.severity).max();
        let candidate = worst.is_none() && r.stripping.unproven_absence.is_some();
        if worst.is_none() && !self.options.all && !candidate {
            return Ok(());
        }
        let mut findings: Vec<(Severity, String)> = r
            .findings
            .iter()
            .map(|f| (f.severity, f.kind.name().to_string()))
            .collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.0));
        findings.dedup();
        let row = Row {
            id: r.id,
            worst,
            time: r.transport.first_seen.to_string(),
            endpoints: format!("{} → {}", r.client, r.server),
            protocol: r.protocol,
            starttls: starttls_cell(r),
            credentials: credentials_cell(r),
            findings,
        };
        if candidate && !self.options.all {
            if self.candidates.len() < MAX_CANDIDATES {
                self.candidates.insert(r.id, row);
            }
            return Ok(());
        }
        self.rows.push(row);
        self.keep_bounded();
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        let f = &late.finding;
        if let Some(row) = self.candidates.remove(&f.session) {
            self.rows.push(row);
        }
        if let Some(row) = self.rows.iter_mut().find(|r| r.id == f.session) {
            if let Some(replaced) = late.replaces {
                row.findings.retain(|(_, k)| k != replaced.name());
            }
            row.findings.push((f.severity, f.kind.name().to_string()));
            row.findings.sort_by_key(|f| std::cmp::Reverse(f.0));
            row.worst = row.worst.max(Some(f.severity));
        }
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let rows = self.shown_rows();
        self.headline(&rows, end)?;
        self.verdict_section(end)?;
        if !rows.is_empty() {
            self.sessions_table(&rows)?;
        }
        self.servers_table(end)?;
        self.inputs_table(end)?;
        self.flow_notes(end)?;
        self.out.flush()
    }
}

impl<W: Write> TableReport<W> {
    /// The rows to print: the most severe `MAX_ROWS`, in session order; the
    /// rest counted as omitted.
    fn shown_rows(&mut self) -> Vec<Row> {
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|a, b| b.worst.cmp(&a.worst).then(a.id.cmp(&b.id)));
        self.omitted += rows.len().saturating_sub(MAX_ROWS) as u64;
        self.flagged += rows.iter().filter(|r| r.worst.is_some()).count() as u64;
        rows.truncate(MAX_ROWS);
        rows.sort_by_key(|r| r.id);
        rows
    }

    fn headline(&mut self, rows: &[Row], end: &RunEnd<'_>) -> io::Result<()> {
        let worst = rows.iter().filter_map(|r| r.worst).max();
        writeln!(
            self.out,
            "stripwatch: {} sessions in {} input{}, {} with findings{}",
            end.sessions_reported,
            end.inputs.len(),
            if end.inputs.len() == 1 { "" } else { "s" },
            self.flagged,
            worst.map(|w| format!(" (worst: {w})")).unwrap_or_default()
        )
    }

    fn verdict_section(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let sentences = verdict(&end.servers);
        if sentences.is_empty() {
            return Ok(());
        }
        writeln!(self.out, "\nVerdict")?;
        for (severity, text) in &sentences {
            let label = format!("{:<8}", severity.to_string().to_uppercase());
            let label = match self.options.palette {
                Some(palette) => palette.paint(*severity, &label),
                None => label,
            };
            // Built from escaped names: escaping again would double
            // their backslashes.
            writeln!(self.out, "  {label} {}", printable(text))?;
        }
        Ok(())
    }

    fn sessions_table(&mut self, rows: &[Row]) -> io::Result<()> {
        let title = if self.options.all {
            "Sessions"
        } else {
            "Sessions with findings"
        };
        writeln!(self.out, "\n{title}")?;
        let mut t = self.table();
        t.set_header([
            "id",
            "first seen",
            "client → server",
            "proto",
            "STARTTLS",
            "credentials",
            "findings",
        ]);
        for r in rows {
            let findings = r
                .findings
                .iter()
                .map(|(s, k)| format!("{} {k}", s.to_string().to_uppercase()))
                .collect::<Vec<_>>()
                .join("\n");
            t.add_row(vec![
                Cell::new(r.id),
                Cell::new(&r.time),
                Cell::new(&r.endpoints),
                Cell::new(r.protocol),
                Cell::new(&r.starttls),
                Cell::new(&r.credentials),
                self.severity_cell(r.worst.unwrap_or(Severity::Info), findings),
            ]);
        }
        writeln!(self.out, "{t}")?;
        if self.omitted > 0 {
            writeln!(
                self.out,
                "({} more sessions not shown; --format json or jsonl lists every session)",
                self.omitted
            )?;
        }
        Ok(())
    }

    /// One row per server profile, shares of its sessions in percent.
    fn servers_table(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        if end.servers.is_empty() {
            return Ok(());
        }
        writeln!(self.out, "\nServers")?;
        let mut t = self.table();
        t.set_header([
            "server",
            "proto",
            "sessions",
            "offered STARTTLS",
            "upgraded",
            "stripped",
            "cleartext logins",
        ]);
        for p in &end.servers {
            let pct = |n: u64| {
                if p.sessions == 0 {
                    "-".to_string()
                } else {
                    format!("{n} ({:.0}%)", 100.0 * n as f64 / p.sessions as f64)
                }
            };
            t.add_row(vec![
                Cell::new(p.server),
                Cell::new(p.protocol),
                Cell::new(p.sessions),
                Cell::new(pct(p.offered_starttls)),
                Cell::new(pct(p.upgraded)),
                Cell::new(pct(p.stripped)),
                Cell::new(p.cleartext_logins + p.weak_logins),
            ]);
        }
        writeln!(self.out, "{t}")
    }

    fn inputs_table(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        writeln!(self.out, "\nInputs")?;
        let mut t = self.table();
        t.set_header([
            "file",
            "packets",
            "bytes",
            "link types",
            "mail segments",
            "skipped",
            "status",
        ]);
        for i in end.inputs {
            let links: Vec<String> = i
                .link_types
                .iter()
                .map(|(k, v)| format!("{k} ({v})"))
                .collect();
            let skipped = i.undecodable + i.unknown_link_type + i.fragments;
            t.add_row(vec![
                Cell::new(&i.file),
                Cell::new(i.packets),
                Cell::new(i.bytes),
                Cell::new(links.join(", ")),
                Cell::new(i.mail_segments),
                Cell::new(skipped),
                // Already escaped when recorded.
                Cell::new(i.error.as_deref().unwrap_or("ok")),
            ]);
        }
        writeln!(self.out, "{t}")
    }

    /// What the flow table lost or doubted, when it did.
    fn flow_notes(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let s = end.stats;
        if s.bad_checksums + s.evicted + s.evicted_closed + s.timed_out > 0 {
            writeln!(
                self.out,
                "{} segments with wrong checksums (kept{}), {} sessions timed out, {} evicted by the flow limit{}",
                s.bad_checksums,
                if s.dropped_bad_checksums > 0 {
                    format!(
                        "; {} dropped by --verify-checksums",
                        s.dropped_bad_checksums
                    )
                } else {
                    String::new()
                },
                s.timed_out,
                s.evicted,
                if s.evicted_closed > 0 {
                    format!(" ({} ended ones forgotten early)", s.evicted_closed)
                } else {
                    String::new()
                }
            )?;
        }
        if s.memory_budget_gaps > 0 {
            writeln!(
                self.out,
                "{} holes declared gaps by the memory budget for reassembly (--max-buffered-mb)",
                s.memory_budget_gaps
            )?;
        }
        Ok(())
    }
}
