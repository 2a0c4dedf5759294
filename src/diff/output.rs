//! The diff's report in the formats of `analyze`: a table for people (what
//! the path did per server, then the changed pairs, every change with both
//! versions, the sessions seen at one tap only, the inputs), one JSON
//! document, or JSON lines with `type` and ECS-style fields. Every string
//! from the wire was escaped when the records were built.

use super::Tap;
use super::report::{ChangeRecord, DiffReport, PairRecord, SummaryRecord, VersionRecord};
use crate::analysis::Severity;
use crate::flow::Endpoint;
use crate::report::Palette;
use crate::report::jsonl::ecs_severity;
use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::io::{self, Write};

/// Output formats (those of `analyze`: a table, one JSON document, JSON
/// lines, one HTML page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    /// Tables for people: what the path did per server, the changed pairs (all with
    /// [`TableLook::all`]; at most 2000, `MAX_ROWS`) and their changes, the sessions seen at one
    /// tap only, the servers, the inputs.
    Table,
    /// One JSON document with every pair, indented when [`TableLook::pretty`].
    Json,
    /// JSON lines, each with a `type` and ECS-style fields.
    Jsonl,
    /// One HTML page.
    Html,
}

/// Most pairs listed in the table (JSON and JSON lines carry all).
pub(crate) const MAX_ROWS: usize = 2000;

/// How the table looks.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableLook {
    /// Also list pairs without changes.
    pub all: bool,
    /// Colours by severity, when wanted.
    pub palette: Option<Palette>,
    /// Indent the JSON document.
    pub pretty: bool,
}

/// Writes the report in `format`.
pub fn write_report(
    report: &DiffReport,
    format: DiffFormat,
    look: TableLook,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        DiffFormat::Table => table(report, look, out),
        DiffFormat::Json => {
            if look.pretty {
                serde_json::to_writer_pretty(&mut *out, report)?;
            } else {
                serde_json::to_writer(&mut *out, report)?;
            }
            writeln!(out)?;
            out.flush()
        }
        DiffFormat::Jsonl => lines(report, out),
        DiffFormat::Html => super::html::write(report, out),
    }
}

fn upper(s: Severity) -> String {
    s.to_string().to_uppercase()
}

fn new_table(look: TableLook) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if look.palette.is_some() {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

fn severity_cell(look: TableLook, severity: Severity, text: String) -> Cell {
    let cell = Cell::new(text);
    match look.palette {
        Some(palette) => cell.fg(palette.cell(severity)),
        None => cell,
    }
}

fn version_cell(v: Option<&VersionRecord>) -> String {
    v.map_or_else(
        || "—".to_string(),
        |v| format!("#{} {}", v.packet, v.excerpt),
    )
}

fn pair_cell(p: &PairRecord, tap: Tap) -> String {
    let s = if tap == Tap::Inside {
        &p.inside
    } else {
        &p.outside
    };
    let near = if p.client_side == tap {
        " (client side)"
    } else {
        ""
    };
    format!("{} → {}{near}", s.client, s.server)
}

fn table(r: &DiffReport, look: TableLook, out: &mut dyn Write) -> io::Result<()> {
    headline(r, out)?;
    what_the_path_did(r, look, out)?;
    let mut shown: Vec<&PairRecord> = r
        .pairs
        .iter()
        .filter(|p| look.all || !p.changes.is_empty())
        .collect();
    let omitted = shown.len().saturating_sub(MAX_ROWS);
    shown.truncate(MAX_ROWS);
    if !shown.is_empty() {
        pairs_table(&shown, omitted, look, out)?;
        changes_table(&shown, look, out)?;
    }
    one_side_only_table(r, look, out)?;
    servers_table(r, look, out)?;
    inputs_table(r, look, out)?;
    out.flush()
}

/// The first line: how many pairs, how they were paired, what changed.
pub(super) fn headline(r: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    let s = &r.summary;
    let methods: Vec<String> = s
        .by_method
        .iter()
        .map(|(m, n)| format!("{n} by {}", m.name()))
        .collect();
    writeln!(
        out,
        "stripwatch diff: {} session{} paired{}, {} seen at one tap only; {} changed on the path{}",
        s.pairs,
        if s.pairs == 1 { "" } else { "s" },
        if methods.is_empty() {
            String::new()
        } else {
            format!(" ({})", methods.join(", "))
        },
        s.inside_only + s.outside_only,
        s.changed_pairs,
        s.worst
            .map(|w| format!(" (worst: {w})"))
            .unwrap_or_default()
    )
}

/// One verdict line per server and behaviour.
fn what_the_path_did(r: &DiffReport, look: TableLook, out: &mut dyn Write) -> io::Result<()> {
    if r.servers.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nWhat the path did")?;
    for srv in &r.servers {
        let via = if srv.reached_as.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = srv.reached_as.iter().map(Endpoint::to_string).collect();
            format!(", reached as {}", names.join(", "))
        };
        for v in &srv.verdict {
            let label = format!("{:<8}", upper(v.severity));
            let label = match look.palette {
                Some(palette) => palette.paint(v.severity, &label),
                None => label,
            };
            writeln!(
                out,
                "  {label} {} ({}{via}): {}",
                srv.server, srv.protocol, v.text
            )?;
        }
    }
    Ok(())
}

/// One row per shown pair, with its changes by kind.
fn pairs_table(
    shown: &[&PairRecord],
    omitted: usize,
    look: TableLook,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "\n{}",
        if look.all {
            "Pairs"
        } else {
            "Pairs changed on the path"
        }
    )?;
    let mut t = new_table(look);
    t.set_header([
        "pair",
        "proto",
        "inside",
        "outside",
        "paired by",
        "TLS in / out",
        "changes",
    ]);
    for p in shown {
        t.add_row(pair_row(p, look));
    }
    writeln!(out, "{t}")?;
    if omitted > 0 {
        writeln!(
            out,
            "({omitted} more pairs not shown; --format json or jsonl lists every pair)"
        )?;
    }
    Ok(())
}

fn pair_row(p: &PairRecord, look: TableLook) -> Vec<Cell> {
    let changes: Vec<String> = p
        .changes
        .iter()
        .map(|c| format!("{} {}", upper(c.severity), c.kind_name()))
        .collect();
    vec![
        Cell::new(p.id),
        Cell::new(p.protocol),
        Cell::new(pair_cell(p, Tap::Inside)),
        Cell::new(pair_cell(p, Tap::Outside)),
        Cell::new(format!(
            "{} ({:.2})",
            p.pairing.method.name(),
            p.pairing.confidence
        )),
        Cell::new(format!(
            "{} / {}",
            p.inside.tls.name(),
            p.outside.tls.name()
        )),
        severity_cell(
            look,
            p.worst().unwrap_or(Severity::Info),
            if changes.is_empty() {
                "none".to_string()
            } else {
                changes.join("\n")
            },
        ),
    ]
}

/// Every change of the shown pairs, with the version at each tap.
fn changes_table(shown: &[&PairRecord], look: TableLook, out: &mut dyn Write) -> io::Result<()> {
    let with_changes: Vec<&&PairRecord> = shown.iter().filter(|p| !p.changes.is_empty()).collect();
    if with_changes.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nChanges (#packet and line at each tap; — not there)")?;
    let mut t = new_table(look);
    t.set_header(["pair", "change", "direction", "inside", "outside"]);
    for p in with_changes {
        for c in &p.changes {
            t.add_row(change_row(p.id, c, look));
        }
    }
    writeln!(out, "{t}")
}

fn change_row(pair: u64, c: &ChangeRecord, look: TableLook) -> Vec<Cell> {
    let mut inside = version_cell(c.inside.as_ref());
    let mut outside = version_cell(c.outside.as_ref());
    if let Some(a) = &c.answer {
        let note = format!("\nanswered by the middlebox: #{} {}", a.packet, a.excerpt);
        if a.tap == Tap::Inside {
            inside.push_str(&note);
        } else {
            outside.push_str(&note);
        }
    }
    vec![
        Cell::new(pair),
        severity_cell(
            look,
            c.severity,
            format!("{} {}", upper(c.severity), c.kind_name()),
        ),
        Cell::new(c.direction.replace("-to-", " → ")),
        Cell::new(inside),
        Cell::new(outside),
    ]
}

fn one_side_only_table(r: &DiffReport, look: TableLook, out: &mut dyn Write) -> io::Result<()> {
    if r.one_side_only.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nSeen at one tap only")?;
    let mut t = new_table(look);
    t.set_header([
        "tap",
        "session",
        "first seen",
        "proto",
        "client → server",
        "TLS",
    ]);
    for o in r.one_side_only.iter().take(MAX_ROWS) {
        t.add_row(vec![
            Cell::new(o.tap.name()),
            Cell::new(o.session),
            Cell::new(o.first_seen.to_string()),
            Cell::new(o.protocol),
            Cell::new(format!("{} → {}", o.client, o.server)),
            Cell::new(o.tls.name()),
        ]);
    }
    writeln!(out, "{t}")
}

fn servers_table(r: &DiffReport, look: TableLook, out: &mut dyn Write) -> io::Result<()> {
    if r.servers.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nServers")?;
    let mut t = new_table(look);
    t.set_header([
        "server",
        "proto",
        "pairs",
        "changed",
        "one tap only",
        "paired by",
        "changes",
    ]);
    for srv in &r.servers {
        let methods: Vec<String> = srv
            .methods
            .iter()
            .map(|(m, n)| format!("{} {n}", m.name()))
            .collect();
        let changes: Vec<String> = srv
            .changes
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        t.add_row(vec![
            Cell::new(srv.server),
            Cell::new(srv.protocol),
            Cell::new(srv.pairs),
            Cell::new(srv.changed),
            Cell::new(srv.one_side_only),
            Cell::new(methods.join("\n")),
            Cell::new(changes.join("\n")),
        ]);
    }
    writeln!(out, "{t}")
}

/// The capture files of each tap; a tap's session count on its first row.
fn inputs_table(r: &DiffReport, look: TableLook, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nInputs")?;
    let mut t = new_table(look);
    t.set_header([
        "tap",
        "file",
        "packets",
        "mail segments",
        "sessions",
        "status",
    ]);
    for (tap, inputs) in [
        (Tap::Inside, &r.inputs.inside),
        (Tap::Outside, &r.inputs.outside),
    ] {
        for (k, i) in inputs.iter().enumerate() {
            let sessions = if k == 0 {
                r.summary
                    .sessions
                    .get(&tap)
                    .map_or_else(String::new, u64::to_string)
            } else {
                String::new()
            };
            t.add_row(vec![
                Cell::new(tap.name()),
                Cell::new(&i.file),
                Cell::new(i.packets),
                Cell::new(i.mail_segments),
                Cell::new(sessions),
                Cell::new(i.error.as_deref().unwrap_or("ok")),
            ]);
        }
    }
    writeln!(out, "{t}")
}

impl super::report::ChangeRecord {
    pub(crate) fn kind_name(&self) -> &'static str {
        self.kind.name()
    }
}

/// ECS `source` / `destination`.
#[derive(Serialize)]
struct EcsEndpoint {
    ip: String,
    port: u16,
}

fn ecs(e: &Endpoint) -> Option<EcsEndpoint> {
    Some(EcsEndpoint {
        ip: e.ip.to_string(),
        port: e.port,
    })
}

#[derive(Serialize)]
struct Network<'a> {
    transport: &'static str,
    protocol: &'a str,
}

#[derive(Serialize)]
struct Event {
    kind: &'static str,
    category: Vec<&'static str>,
    #[serde(rename = "type", skip_serializing_if = "Vec::is_empty")]
    kind_of: Vec<&'static str>,
    dataset: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<u8>,
}

#[derive(Serialize)]
struct Rule {
    name: &'static str,
}

fn line(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct PairLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    #[serde(rename = "@timestamp")]
    timestamp: String,
    event: Event,
    source: Option<EcsEndpoint>,
    destination: Option<EcsEndpoint>,
    network: Network<'a>,
    #[serde(flatten)]
    pair: &'a PairRecord,
}

#[derive(Serialize)]
struct ChangeLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    #[serde(rename = "@timestamp")]
    timestamp: Option<String>,
    event: Event,
    rule: Rule,
    message: &'a str,
    source: Option<EcsEndpoint>,
    destination: Option<EcsEndpoint>,
    network: Network<'a>,
    pair: u64,
    #[serde(flatten)]
    change: &'a ChangeRecord,
}

/// The other lines: a record under `type`, `event` and the ECS fields it
/// has.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    line: &'static str,
    event: Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    tap: Option<Tap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<EcsEndpoint>,
    #[serde(flatten)]
    body: &'a T,
}

#[derive(Serialize)]
struct SummaryBody<'a> {
    schema_version: u32,
    #[serde(flatten)]
    summary: &'a SummaryRecord,
}

fn metric(dataset: &'static str) -> Event {
    Event {
        kind: "metric",
        category: Vec::new(),
        kind_of: Vec::new(),
        dataset,
        severity: None,
    }
}

/// JSON lines: `pair`, `change`, `one-side-only`, `server`, `input`,
/// `summary`.
fn lines(r: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    for p in &r.pairs {
        pair_line(p, out)?;
        for c in &p.changes {
            change_line(p, c, out)?;
        }
    }
    for o in &r.one_side_only {
        line(
            out,
            &Tagged {
                line: "one-side-only",
                event: Event {
                    kind: "event",
                    category: vec!["network"],
                    kind_of: vec!["connection"],
                    dataset: "stripwatch.diff.one-side-only",
                    severity: None,
                },
                tap: None,
                destination: ecs(&o.server),
                body: o,
            },
        )?;
    }
    for s in &r.servers {
        line(
            out,
            &Tagged {
                line: "server",
                event: metric("stripwatch.diff.server"),
                tap: None,
                destination: ecs(&s.server),
                body: s,
            },
        )?;
    }
    input_lines(r, out)?;
    line(
        out,
        &Tagged {
            line: "summary",
            event: metric("stripwatch.diff.summary"),
            tap: None,
            destination: None,
            body: &SummaryBody {
                schema_version: r.schema_version,
                summary: &r.summary,
            },
        },
    )?;
    out.flush()
}

/// A pair, stamped when the client side's tap first saw it.
fn pair_line(p: &PairRecord, out: &mut dyn Write) -> io::Result<()> {
    let first = if p.client_side == Tap::Inside {
        &p.inside
    } else {
        &p.outside
    };
    line(
        out,
        &PairLine {
            line: "pair",
            timestamp: first.first_seen.to_string(),
            event: Event {
                kind: "event",
                category: vec!["network"],
                kind_of: vec!["connection"],
                dataset: "stripwatch.diff.pair",
                severity: p.worst().map(ecs_severity),
            },
            source: ecs(&p.client),
            destination: ecs(&p.server),
            network: Network {
                transport: "tcp",
                protocol: p.protocol,
            },
            pair: p,
        },
    )
}

/// A change as an alert, stamped with the earlier of its two versions.
fn change_line(p: &PairRecord, c: &ChangeRecord, out: &mut dyn Write) -> io::Result<()> {
    let ts = [&c.inside, &c.outside]
        .iter()
        .filter_map(|v| v.as_ref().map(|v| v.timestamp))
        .min();
    line(
        out,
        &ChangeLine {
            line: "change",
            timestamp: ts.map(|t| t.to_string()),
            event: Event {
                kind: "alert",
                category: vec!["network", "intrusion_detection"],
                kind_of: Vec::new(),
                dataset: "stripwatch.diff.change",
                severity: Some(ecs_severity(c.severity)),
            },
            rule: Rule {
                name: c.kind.name(),
            },
            message: &c.summary,
            source: ecs(&p.client),
            destination: ecs(&p.server),
            network: Network {
                transport: "tcp",
                protocol: p.protocol,
            },
            pair: p.id,
            change: c,
        },
    )
}

fn input_lines(r: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    for (tap, inputs) in [
        (Tap::Inside, &r.inputs.inside),
        (Tap::Outside, &r.inputs.outside),
    ] {
        for i in inputs {
            line(
                out,
                &Tagged {
                    line: "input",
                    event: metric("stripwatch.diff.input"),
                    tap: Some(tap),
                    destination: None,
                    body: i,
                },
            )?;
        }
    }
    Ok(())
}
