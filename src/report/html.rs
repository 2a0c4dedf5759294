//! One self-contained HTML page for people who must show a finding: the
//! verdict sentences, a timeline per server (sessions over capture time,
//! coloured by how their upgrade went, findings marked), findings by
//! severity, the clients left in cleartext after a failed upgrade, every
//! flagged session with its evidence lines, and what the inputs held.
//!
//! The page asks no host for anything: its CSS, its few lines of script
//! and its SVG charts are inline, and a Content-Security-Policy allows
//! exactly that style and that script (by their SHA-256) and nothing else.
//! Its templates are compiled (maud) and escape every value; the strings
//! of records were escaped for control characters when they were built
//! (see [`crate::text`]) and their secrets masked unless revealed.
//!
//! The page stays a few megabytes whatever the run: listed sessions,
//! charts and tables are capped (the constants below), the rest counted.

use super::summary::verdict;
use crate::analysis::findings::EvidenceRecord;
use crate::analysis::{
    Finding, FindingKind, LateFinding, Report, ReportBuilder, Reporter, RunEnd, SessionRecord,
    Severity,
};
use crate::flow::Endpoint;
use crate::time::Timestamp;
use base64::Engine as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};
use std::net::IpAddr;

/// Servers drawn with a timeline (those with the worst findings first);
/// the others are in the server table.
pub(crate) const MAX_TIMELINE_SERVERS: usize = 30;
/// Time slots of a timeline: sessions are counted per slot.
pub(crate) const TIMELINE_SLOTS: usize = 60;
/// Rows of the server table, of the exposed clients and of the inputs.
pub(crate) const MAX_TABLE_ROWS: usize = 500;
/// Verdict sentences shown (the most severe first).
pub(crate) const MAX_SENTENCES: usize = 200;
/// Bytes of HTML spent on flagged sessions (the most severe first); the
/// sessions past it are counted, not listed.
pub(crate) const MAX_SESSION_LIST_BYTES: usize = 4 << 20;
/// Evidence lines shown per session.
pub(crate) const MAX_EVIDENCE_LINES: usize = 16;
/// Characters of one evidence excerpt shown.
pub(crate) const MAX_EXCERPT_CHARS: usize = 240;

const CSS: &str = include_str!("html.css");

/// Opens every `<details>` before printing, and on the button's click.
const SCRIPT: &str = "(function(){function all(o){document.querySelectorAll('details').forEach(function(d){d.open=o;});}\
window.addEventListener('beforeprint',function(){all(true);});\
var b=document.getElementById('expand');if(b){b.addEventListener('click',function(){all(!b.dataset.open);b.dataset.open=b.dataset.open?'':'1';});}})();";

/// How a session's upgrade went, as the timeline colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Stripped,
    Failed,
    NotUsed,
    NoStarttls,
    Unknown,
    Tls,
    ImplicitTls,
}

const OUTCOMES: [Outcome; 7] = [
    Outcome::Stripped,
    Outcome::Failed,
    Outcome::NotUsed,
    Outcome::NoStarttls,
    Outcome::Unknown,
    Outcome::Tls,
    Outcome::ImplicitTls,
];

impl Outcome {
    fn of(s: &SessionRecord) -> Self {
        if s.findings
            .iter()
            .any(|f| f.kind == FindingKind::StarttlsStripped)
        {
            Outcome::Stripped
        } else if s.implicit_tls {
            Outcome::ImplicitTls
        } else if s.starttls.tls_established {
            Outcome::Tls
        } else if s.starttls.requested {
            Outcome::Failed
        } else {
            match s.starttls.offered {
                Some(true) => Outcome::NotUsed,
                Some(false) => Outcome::NoStarttls,
                None => Outcome::Unknown,
            }
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Stripped => "stripped (proven)",
            Outcome::Failed => "upgrade refused or failed",
            Outcome::NotUsed => "offered, not used",
            Outcome::NoStarttls => "no STARTTLS offered",
            Outcome::Unknown => "capabilities not seen",
            Outcome::Tls => "TLS (STARTTLS)",
            Outcome::ImplicitTls => "implicit TLS",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Outcome::Stripped => "o-stripped",
            Outcome::Failed => "o-failed",
            Outcome::NotUsed => "o-notused",
            Outcome::NoStarttls => "o-none",
            Outcome::Unknown => "o-unknown",
            Outcome::Tls => "o-tls",
            Outcome::ImplicitTls => "o-implicit",
        }
    }

    /// The chart colour (the same as the CSS class's).
    fn rgb(self) -> (u8, u8, u8) {
        match self {
            Outcome::Stripped => (0x8e, 0x24, 0xaa),
            Outcome::Failed => (0xc6, 0x28, 0x28),
            Outcome::NotUsed => (0xf9, 0xa8, 0x25),
            Outcome::NoStarttls => (0xef, 0x6c, 0x00),
            Outcome::Unknown => (0x9e, 0x9e, 0x9e),
            Outcome::Tls => (0x2e, 0x7d, 0x32),
            Outcome::ImplicitTls => (0x15, 0x65, 0xc0),
        }
    }
}

fn severity_rgb(s: Severity) -> (u8, u8, u8) {
    match s {
        Severity::Info => (0x60, 0x7d, 0x8b),
        Severity::Low => (0x00, 0x83, 0x8f),
        Severity::Medium => (0xf5, 0x7f, 0x17),
        Severity::High => (0xd3, 0x2f, 0x2f),
        Severity::Critical => (0x6a, 0x1b, 0x9a),
    }
}

/// Collects the run, writes the page at its end.
pub struct HtmlReport<W: Write> {
    out: W,
    builder: ReportBuilder,
}

impl<W: Write> HtmlReport<W> {
    /// A page written to `out` when the run finishes.
    pub fn new(out: W) -> Self {
        HtmlReport {
            out,
            builder: ReportBuilder::default(),
        }
    }
}

impl<W: Write> Reporter for HtmlReport<W> {
    fn session(&mut self, record: &SessionRecord) -> io::Result<()> {
        self.builder.session(record)
    }

    fn session_owned(&mut self, record: SessionRecord) -> io::Result<()> {
        self.builder.session_owned(record)
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        self.builder.late_finding(late)
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        self.builder.finish(end)?;
        let builder = std::mem::take(&mut self.builder);
        if let Some(report) = builder.into_report() {
            write_html(&report, &mut self.out)?;
        }
        self.out.flush()
    }
}

/// Writes a report as one HTML page.
pub fn write_html(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(report).as_bytes())
}

/// `'sha256-…'` of a CSP source list.
fn csp_hash(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page's policy: nothing but its own style and script.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'none'; \
         base-uri 'none'; form-action 'none'",
        csp_hash(CSS),
        csp_hash(SCRIPT)
    )
}

/// The page as a string.
pub(crate) fn render(report: &Report) -> String {
    let servers = ServerStats::of(report);
    let span = TimeSpan::of(report);
    let meta = html! {
        (report.sessions.len()) " sessions · "
        (report.findings.len()) " findings"
        @if let Some(span) = &span {
            " · capture time " (span.start) " to " (span.end)
        }
    };
    let body = html! {
        (verdict_section(report))
        (timeline_section(report, &servers, span.as_ref()))
        (severity_section(report))
        (exposed_section(report))
        (sessions_section(report))
        (server_table(report, &servers))
        (inputs_section(report))
    };
    page("stripwatch report", meta, body)
}

/// The page around `body`: head, policy, style, header (`title`, the
/// version and `meta`), the expand button and the script.
pub(crate) fn page(title: &str, meta: Markup, body: Markup) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(content_security_policy());
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (title) }
                    p.meta { "stripwatch " (env!("CARGO_PKG_VERSION")) " · " (meta) }
                    button #expand.no-print type="button" { "expand or collapse every session" }
                }
                (body)
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}

pub(crate) fn severity_badge(s: Severity) -> Markup {
    html! { span class={ "sev sev-" (s) } { (s) } }
}

fn outcome_badge(o: Outcome) -> Markup {
    html! { span class={ "out " (o.class()) } { (o.label()) } }
}

fn verdict_section(report: &Report) -> Markup {
    let profiles: Vec<_> = report.servers.iter().collect();
    let sentences = verdict(&profiles);
    let more = sentences.len().saturating_sub(MAX_SENTENCES);
    html! {
        section #verdict {
            h2 { "Verdict" }
            @if sentences.is_empty() {
                p.ok { "No findings: no session showed stripping, a failed upgrade or cleartext credentials." }
            } @else {
                ul.verdict {
                    @for (severity, text) in sentences.iter().take(MAX_SENTENCES) {
                        li { (severity_badge(*severity)) " " (text) }
                    }
                }
                @if more > 0 { p.more { (more) " more sentences not shown (the JSON report has every finding)." } }
            }
        }
    }
}

/// The capture time the sessions cover.
struct TimeSpan {
    start: Timestamp,
    end: Timestamp,
    /// Seconds from start to end, at least one.
    secs: f64,
}

impl TimeSpan {
    fn of(report: &Report) -> Option<Self> {
        let start = report
            .sessions
            .iter()
            .map(|s| s.transport.first_seen)
            .min()?;
        let end = report
            .sessions
            .iter()
            .map(|s| s.transport.last_seen)
            .max()?;
        let secs = (end.as_secs_f64() - start.as_secs_f64()).max(1.0);
        Some(TimeSpan { start, end, secs })
    }

    /// Seconds since the start.
    fn offset(&self, t: Timestamp) -> f64 {
        (t.as_secs_f64() - self.start.as_secs_f64()).clamp(0.0, self.secs)
    }

    fn slot(&self, t: Timestamp) -> usize {
        let at = self.offset(t) / self.secs * TIMELINE_SLOTS as f64;
        // Saturating float-to-int conversion; the end falls in the last slot.
        (at as usize).min(TIMELINE_SLOTS - 1)
    }
}

/// One server's sessions summed up for ordering and the table.
#[derive(Default)]
struct ServerStat {
    protocol: &'static str,
    sessions: u64,
    flagged: u64,
    worst: Option<Severity>,
    outcomes: [u64; 7],
}

struct ServerStats {
    /// Servers, the worst first.
    order: Vec<(Endpoint, ServerStat)>,
}

impl ServerStats {
    fn of(report: &Report) -> Self {
        let mut by: HashMap<Endpoint, ServerStat> = HashMap::new();
        for s in &report.sessions {
            let stat = by.entry(s.server).or_default();
            stat.protocol = s.protocol;
            stat.sessions += 1;
            let worst = s.findings.iter().map(|f| f.severity).max();
            if worst.is_some() {
                stat.flagged += 1;
            }
            stat.worst = stat.worst.max(worst);
            if let Some(n) = stat.outcomes.get_mut(Outcome::of(s).index()) {
                *n += 1;
            }
        }
        let mut order: Vec<_> = by.into_iter().collect();
        order.sort_by(|(ea, a), (eb, b)| {
            (b.worst, b.flagged, b.sessions)
                .cmp(&(a.worst, a.flagged, a.sessions))
                .then(ea.cmp(eb))
        });
        ServerStats { order }
    }
}

/// Sessions per slot and outcome, and the worst finding per slot.
struct Timeline {
    counts: Vec<[u32; 7]>,
    marks: Vec<Option<Severity>>,
}

fn legend() -> Markup {
    html! {
        ul.legend {
            @for o in OUTCOMES { li { span class={ "swatch " (o.class()) } {} (o.label()) } }
            li { span.mark { "▲" } "a session with a finding (colour: the worst severity)" }
        }
    }
}

fn timeline_section(report: &Report, servers: &ServerStats, span: Option<&TimeSpan>) -> Markup {
    let Some(span) = span else {
        return html! { section #timeline { h2 { "Servers over time" } p { "No sessions." } } };
    };
    let shown: Vec<&(Endpoint, ServerStat)> =
        servers.order.iter().take(MAX_TIMELINE_SERVERS).collect();
    let index: HashMap<Endpoint, usize> = shown
        .iter()
        .enumerate()
        .map(|(i, (e, _))| (*e, i))
        .collect();
    let mut lines: Vec<Timeline> = shown
        .iter()
        .map(|_| Timeline {
            counts: vec![[0; 7]; TIMELINE_SLOTS],
            marks: vec![None; TIMELINE_SLOTS],
        })
        .collect();
    for s in &report.sessions {
        let Some(line) = index.get(&s.server).and_then(|i| lines.get_mut(*i)) else {
            continue;
        };
        let slot = span.slot(s.transport.first_seen);
        if let Some(c) = line
            .counts
            .get_mut(slot)
            .and_then(|c| c.get_mut(Outcome::of(s).index()))
        {
            *c = c.saturating_add(1);
        }
        let worst = s.findings.iter().map(|f| f.severity).max();
        if let Some(m) = line.marks.get_mut(slot) {
            *m = (*m).max(worst);
        }
    }
    let hidden = servers.order.len().saturating_sub(shown.len());
    html! {
        section #timeline {
            h2 { "Servers over time" }
            p {
                "Each chart is one server: its sessions by the time of their first packet, in "
                (TIMELINE_SLOTS) " slots of " (duration(span.secs / TIMELINE_SLOTS as f64))
                " from " (span.start) ", coloured by how the upgrade to TLS went."
            }
            (legend())
            @for ((server, stat), line) in shown.iter().zip(&lines) {
                figure.server {
                    figcaption {
                        strong { (server) } " " (stat.protocol.to_uppercase()) " · " (stat.sessions) " sessions"
                        @if let Some(w) = stat.worst { " · worst " (severity_badge(w)) }
                        " · "
                        @for o in OUTCOMES {
                            @let n = stat.outcomes.get(o.index()).copied().unwrap_or(0);
                            @if n > 0 { span class={ "count " (o.class()) } { (o.label()) ": " (n) } " " }
                        }
                    }
                    (PreEscaped(chart(line, span.secs)))
                }
            }
            @if hidden > 0 {
                p.more { (hidden) " more servers are in the server table below, without a chart." }
            }
        }
    }
}

/// A short duration: `45s`, `12m30s`, `3h05m`, `2d04h`.
fn duration(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 10.0 {
        let text = format!("{s:.1}");
        return format!("{}s", text.trim_end_matches(".0"));
    }
    // Saturating float-to-int conversion.
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

const CHART_SIZE: (u32, u32) = (900, 96);

/// A timeline as an SVG element: stacked bars of sessions per slot, a
/// marker above slots with a finding.
fn chart(line: &Timeline, secs: f64) -> String {
    let mut svg = String::new();
    let drawn = draw_chart(&mut svg, line, secs);
    if drawn.is_err() {
        return "<p class=\"more\">The chart could not be drawn.</p>".to_string();
    }
    svg
}

fn draw_chart(
    svg: &mut String,
    line: &Timeline,
    secs: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let rgb = |(r, g, b): (u8, u8, u8)| RGBColor(r, g, b);
    let top = line
        .counts
        .iter()
        .map(|c| c.iter().map(|n| u64::from(*n)).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = secs / TIMELINE_SLOTS as f64;
    let root = SVGBackend::with_string(svg, CHART_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    // Headroom for the markers.
    let y_max = top + top / 4 + 1;
    let mut chart = ChartBuilder::on(&root)
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(44)
        .build_cartesian_2d(0f64..secs, 0u64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_labels(4)
        .x_labels(10)
        .x_label_formatter(&|x| duration(*x))
        .y_label_formatter(&|y| y.to_string())
        .label_style(("sans-serif", 11))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()?;
    let mut bars = Vec::new();
    let mut marks = Vec::new();
    for (i, (counts, mark)) in line.counts.iter().zip(&line.marks).enumerate() {
        let x0 = i as f64 * slot;
        let x1 = x0 + slot * 0.85;
        let mut y = 0u64;
        for o in OUTCOMES {
            let n = u64::from(counts.get(o.index()).copied().unwrap_or(0));
            if n > 0 {
                bars.push(Rectangle::new(
                    [(x0, y), (x1, y + n)],
                    rgb(o.rgb()).filled(),
                ));
                y += n;
            }
        }
        if let Some(severity) = mark {
            marks.push((x0 + slot * 0.425, y, *severity));
        }
    }
    chart.draw_series(bars)?;
    chart.draw_series(marks.into_iter().map(|(x, y, severity)| {
        EmptyElement::at((x, y))
            + TriangleMarker::new((0, -8), 5, rgb(severity_rgb(severity)).filled())
    }))?;
    root.present()?;
    Ok(())
}

/// One kind's findings: how many, on which servers, and the first.
type KindGroup<'a> = (u64, BTreeSet<Endpoint>, &'a Finding);

/// Findings grouped by severity, then kind: sessions and servers.
fn severity_section(report: &Report) -> Markup {
    let mut groups: BTreeMap<(std::cmp::Reverse<Severity>, FindingKind), KindGroup<'_>> =
        BTreeMap::new();
    let server_of: HashMap<u64, Endpoint> =
        report.sessions.iter().map(|s| (s.id, s.server)).collect();
    for f in &report.findings {
        let entry = groups
            .entry((std::cmp::Reverse(f.severity), f.kind))
            .or_insert((0, BTreeSet::new(), f));
        entry.0 += 1;
        if let Some(server) = server_of.get(&f.session) {
            entry.1.insert(*server);
        }
    }
    html! {
        section #findings {
            h2 { "Findings by severity" }
            @if groups.is_empty() {
                p.ok { "No findings." }
            } @else {
                table {
                    thead { tr { th { "severity" } th { "finding" } th.num { "sessions" } th.num { "servers" } th { "for example" } } }
                    tbody {
                        @for ((severity, kind), (n, servers, example)) in &groups {
                            tr {
                                td { (severity_badge(severity.0)) }
                                td { code { (kind) } }
                                td.num { (n) }
                                td.num { (servers.len()) }
                                td { a href={ "#s" (example.session) } { "session " (example.session) } ": " (clip(&example.summary).0) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Failed upgrades after which the client may have gone on in cleartext.
const FALLBACK_KINDS: [FindingKind; 5] = [
    FindingKind::StarttlsStripped,
    FindingKind::StarttlsRejected,
    FindingKind::StarttlsCommandTampered,
    FindingKind::TlsNotEstablished,
    FindingKind::HeloFallback,
];

/// Most usernames or mechanisms named per exposed client row, and the
/// characters shown of each username.
const MAX_NAMES: usize = 3;
const MAX_NAME_CHARS: usize = 64;

#[derive(Default)]
struct Exposure {
    sessions: u64,
    cleartext_logins: u64,
    mechanisms: BTreeSet<String>,
    usernames: BTreeSet<String>,
    more_usernames: bool,
    example: u64,
}

/// Clients that stayed in cleartext after a stripped or refused upgrade.
fn exposed_section(report: &Report) -> Markup {
    let mut rows: BTreeMap<(IpAddr, Endpoint, FindingKind), Exposure> = BTreeMap::new();
    for s in &report.sessions {
        if s.starttls.tls_established || s.implicit_tls {
            continue;
        }
        let Some(kind) = s
            .findings
            .iter()
            .map(|f| f.kind)
            .find(|k| FALLBACK_KINDS.contains(k))
        else {
            continue;
        };
        let e = rows.entry((s.client.ip, s.server, kind)).or_default();
        if e.sessions == 0 {
            e.example = s.id;
        }
        e.sessions += 1;
        for c in s.credentials.iter().filter(|c| c.cleartext) {
            e.cleartext_logins += 1;
            if e.mechanisms.len() < MAX_NAMES {
                e.mechanisms.insert(clip(&c.mechanism).0.to_string());
            }
            if let Some(u) = &c.username {
                // Wire text: as long as a line may be.
                let u = u
                    .get(
                        ..u.char_indices()
                            .nth(MAX_NAME_CHARS)
                            .map_or(u.len(), |(at, _)| at),
                    )
                    .unwrap_or(u);
                if e.usernames.len() < MAX_NAMES {
                    e.usernames.insert(u.to_string());
                } else if !e.usernames.contains(u) {
                    e.more_usernames = true;
                }
            }
        }
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_by(|(ka, a), (kb, b)| {
        (b.cleartext_logins, b.sessions)
            .cmp(&(a.cleartext_logins, a.sessions))
            .then(ka.cmp(kb))
    });
    let more = rows.len().saturating_sub(MAX_TABLE_ROWS);
    html! {
        section #exposed {
            h2 { "Clients left in cleartext" }
            p {
                "Clients whose upgrade to TLS was stripped, refused, tampered with or never completed, "
                "and whose session went on without TLS. Their cleartext logins are what the path exposed."
            }
            @if rows.is_empty() {
                p.ok { "None." }
            } @else {
                table {
                    thead { tr {
                        th { "client" } th { "server" } th { "what happened" } th.num { "sessions" }
                        th.num { "cleartext logins" } th { "mechanisms" } th { "usernames" }
                    } }
                    tbody {
                        @for ((client, server, kind), e) in rows.iter().take(MAX_TABLE_ROWS) {
                            tr class=[(e.cleartext_logins > 0).then_some("exposed")] {
                                td { (client) }
                                td { (server) }
                                td { a href={ "#s" (e.example) } { code { (kind) } } }
                                td.num { (e.sessions) }
                                td.num { (e.cleartext_logins) }
                                td { @for m in &e.mechanisms { code { (m) } " " } }
                                td {
                                    @for u in &e.usernames { code { (u) } " " }
                                    @if e.more_usernames { "…" }
                                }
                            }
                        }
                    }
                }
                @if more > 0 { p.more { (more) " more rows not shown." } }
            }
        }
    }
}

/// `text` cut to [`MAX_EXCERPT_CHARS`] characters, and how many were cut.
pub(crate) fn clip(text: &str) -> (&str, usize) {
    match text.char_indices().nth(MAX_EXCERPT_CHARS) {
        Some((at, _)) => (
            text.get(..at).unwrap_or(text),
            text.get(at..).map_or(0, |rest| rest.chars().count()),
        ),
        None => (text, 0),
    }
}

fn evidence_row(e: &EvidenceRecord) -> Markup {
    let (shown, cut) = clip(&e.excerpt);
    html! {
        tr {
            td.num { (e.location.packet) }
            td.time { (e.location.timestamp) }
            td { @if let Some(file) = &e.location.file { (file) } }
            td { (e.direction.name()) }
            td.line {
                code { (shown) }
                @if cut > 0 { span.more { " … " (cut) " more characters" } }
            }
        }
    }
}

/// One flagged session, expandable to its evidence.
fn session_details(s: &SessionRecord) -> Markup {
    let worst = s.findings.iter().map(|f| f.severity).max();
    let lines = s.findings.iter().flat_map(|f| &f.evidence);
    let total_lines: usize = s.findings.iter().map(|f| f.evidence.len()).sum();
    html! {
        details.session id={ "s" (s.id) } {
            summary {
                @if let Some(w) = worst { (severity_badge(w)) " " }
                "session " (s.id) " · " (s.transport.first_seen) " · "
                (s.client) " → " (s.server) " " (s.protocol.to_uppercase()) " · "
                (outcome_badge(Outcome::of(s)))
                @for f in &s.findings { " " code { (f.kind) } }
            }
            div.body {
                p {
                    "Packets " (s.transport.first_packet.packet) " to " (s.transport.last_packet.packet)
                    @if let Some(file) = &s.transport.first_packet.file { " of " (file) }
                    ", " (s.transport.first_seen) " to " (s.transport.last_seen) "."
                }
                @for f in &s.findings {
                    div.finding {
                        p {
                            (severity_badge(f.severity)) " " code { (f.kind) } " " (f.summary)
                            @if let Some(proof) = f.proof { " " span.proof { "proof: " (proof) } }
                        }
                    }
                }
                @if total_lines > 0 {
                    table.evidence {
                        thead { tr { th.num { "packet" } th { "time" } th { "file" } th { "from" } th { "line (escaped, secrets masked)" } } }
                        tbody {
                            @for e in lines.take(MAX_EVIDENCE_LINES) { (evidence_row(e)) }
                        }
                    }
                    @if total_lines > MAX_EVIDENCE_LINES {
                        p.more { (total_lines - MAX_EVIDENCE_LINES) " more evidence lines in the JSON report." }
                    }
                }
                @if !s.credentials.is_empty() {
                    p { "Credentials: "
                        @for c in &s.credentials {
                            span.cred {
                                code { (c.mechanism) } " "
                                @if let Some(u) = &c.username { code { (u) } " " }
                                @if let Some(secret) = &c.secret { code { (secret) } " " }
                                @if c.cleartext { "(cleartext) " } @else { "(in TLS) " }
                            }
                        }
                    }
                }
                @if !s.observability.is_empty() {
                    ul.gaps {
                        @for o in &s.observability { li { code { (o.kind) } ": " (o.detail) } }
                    }
                }
            }
        }
    }
}

/// Every flagged session, the most severe first, within the byte budget.
fn sessions_section(report: &Report) -> Markup {
    let mut flagged: Vec<(Severity, u64, &SessionRecord)> = report
        .sessions
        .iter()
        .filter_map(|s| {
            s.findings
                .iter()
                .map(|f| f.severity)
                .max()
                .map(|w| (w, s.id, s))
        })
        .collect();
    flagged.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut listed = String::new();
    let mut shown = 0usize;
    for (_, _, s) in &flagged {
        let part = session_details(s).into_string();
        if listed.len() + part.len() > MAX_SESSION_LIST_BYTES {
            break;
        }
        listed.push_str(&part);
        shown += 1;
    }
    let more = flagged.len() - shown;
    html! {
        section #sessions {
            h2 { "Flagged sessions" }
            @if flagged.is_empty() {
                p.ok { "No session has a finding." }
            } @else {
                p { (flagged.len()) " sessions have findings; each opens to its evidence: the lines that show it, with their packet numbers and capture times." }
                (PreEscaped(listed))
                @if more > 0 {
                    p.more { (more) " more flagged sessions are not listed (this page keeps to "
                        (MAX_SESSION_LIST_BYTES >> 20) " MiB of them); the JSON report has every one." }
                }
            }
        }
    }
}

fn server_table(report: &Report, servers: &ServerStats) -> Markup {
    let profiles: HashMap<Endpoint, &crate::analysis::ServerProfile> =
        report.servers.iter().map(|p| (p.server, p)).collect();
    let more = servers.order.len().saturating_sub(MAX_TABLE_ROWS);
    html! {
        section #servers {
            h2 { "Servers" }
            @if servers.order.is_empty() { p { "No sessions." } } @else {
                table {
                    thead { tr {
                        th { "server" } th { "protocol" } th.num { "sessions" } th.num { "flagged" }
                        th.num { "offered STARTTLS" } th.num { "upgraded" } th.num { "implicit TLS" }
                        th.num { "stripped" } th.num { "cleartext logins" } th { "worst" }
                    } }
                    tbody {
                        @for (server, stat) in servers.order.iter().take(MAX_TABLE_ROWS) {
                            @let p = profiles.get(server);
                            tr {
                                td { (server) }
                                td { (stat.protocol) }
                                td.num { (stat.sessions) }
                                td.num { (stat.flagged) }
                                td.num { (p.map_or(0, |p| p.offered_starttls)) }
                                td.num { (p.map_or(0, |p| p.upgraded)) }
                                td.num { (p.map_or(0, |p| p.implicit_tls)) }
                                td.num { (p.map_or(0, |p| p.stripped)) }
                                td.num { (p.map_or(0, |p| p.cleartext_logins + p.weak_logins)) }
                                td { @if let Some(w) = stat.worst { (severity_badge(w)) } }
                            }
                        }
                    }
                }
                @if more > 0 { p.more { (more) " more servers not shown." } }
            }
        }
    }
}

/// Inputs, what was dropped, and what the capture could not show.
fn inputs_section(report: &Report) -> Markup {
    let st = &report.stats;
    let mut gaps: BTreeMap<&'static str, u64> = BTreeMap::new();
    for s in &report.sessions {
        let kinds: BTreeSet<&'static str> = s.observability.iter().map(|o| o.kind).collect();
        for k in kinds {
            *gaps.entry(k).or_default() += 1;
        }
    }
    let more = report.inputs.len().saturating_sub(MAX_TABLE_ROWS);
    let table_rows: [(&str, u64); 10] = [
        ("sessions", st.sessions),
        ("ended by the idle timeout", st.timed_out),
        ("evicted (flow table full)", st.evicted + st.evicted_closed),
        ("holes given up to the memory budget", st.memory_budget_gaps),
        ("segments with a bad checksum", st.bad_checksums),
        (
            "of those dropped (--verify-checksums)",
            st.dropped_bad_checksums,
        ),
        ("segments after their session ended", st.after_close),
        ("packets off the capture clock", st.off_clock_packets),
        ("port reuses", st.port_reused),
        ("most flows at once", st.peak_flows),
    ];
    html! {
        section #inputs {
            h2 { "Inputs, drops and observability gaps" }
            table {
                thead { tr {
                    th { "input" } th { "format" } th.num { "packets" } th.num { "mail segments" }
                    th.num { "not IP / not TCP" } th.num { "fragments" } th.num { "undecodable" }
                    th.num { "truncated by snaplen" } th { "read to the end" }
                } }
                tbody {
                    @for i in report.inputs.iter().take(MAX_TABLE_ROWS) {
                        tr {
                            td { (clip(&crate::text::escape(i.file.as_bytes())).0) }
                            td { (i.format) @if i.gzip { " (gzip)" } }
                            td.num { (i.packets) }
                            td.num { (i.mail_segments) }
                            td.num { (i.not_ip) " / " (i.not_tcp) }
                            td.num { (i.fragments) }
                            td.num { (i.undecodable + i.unknown_link_type) }
                            td.num { (i.snaplen_truncated) }
                            td {
                                @if let Some(e) = &i.error {
                                    span.bad { "no: " (crate::text::escape(e.as_bytes()))
                                        @if let Some(p) = i.error_packet { " (at packet " (p) ")" } }
                                } @else { "yes" }
                            }
                        }
                    }
                }
            }
            @if more > 0 { p.more { (more) " more inputs not shown." } }
            h3 { "The flow table" }
            table.narrow {
                tbody {
                    @for (what, n) in table_rows { tr { td { (what) } td.num { (n) } } }
                }
            }
            h3 { "What the capture could not show" }
            @if gaps.is_empty() {
                p.ok { "Every session was seen whole." }
            } @else {
                table.narrow {
                    thead { tr { th { "gap" } th.num { "sessions" } } }
                    tbody { @for (k, n) in &gaps { tr { td { code { (k) } } td.num { (n) } } } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(2.5), "2.5s");
        assert_eq!(duration(45.0), "45s");
        assert_eq!(duration(750.0), "12m30s");
        assert_eq!(duration(3.0 * 3600.0 + 300.0), "3h05m");
        assert_eq!(duration(2.0 * 86400.0 + 4.0 * 3600.0), "2d04h");
    }

    #[test]
    fn excerpts_are_clipped_on_characters() {
        let long = "é".repeat(MAX_EXCERPT_CHARS + 7);
        let (shown, cut) = clip(&long);
        assert_eq!(shown.chars().count(), MAX_EXCERPT_CHARS);
        assert_eq!(cut, 7);
        assert_eq!(clip("short"), ("short", 0));
    }

    /// The policy names the hashes of exactly what the page brings.
    #[test]
    fn the_policy_hashes_the_inline_style_and_script() {
        let csp = content_security_policy();
        assert!(csp.contains(&csp_hash(CSS)));
        assert!(csp.contains(&csp_hash(SCRIPT)));
        assert!(csp.starts_with("default-src 'none';"));
        // A known vector: SHA-256 of the empty string.
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
    }
}
