//! The diff as one HTML page, in the shell of `analyze`'s page (its
//! policy, style, script and caps): what the path did per server, every
//! changed pair opening to both versions of each changed line with their
//! packets, the servers, the sessions seen at one tap only, the inputs.

use super::report::{ChangeRecord, DiffReport, PairRecord, VersionRecord};
use crate::pipeline::InputSummary;
use crate::report::html::{
    MAX_SENTENCES, MAX_SESSION_LIST_BYTES, MAX_TABLE_ROWS, clip, page, severity_badge,
};
use maud::{Markup, PreEscaped, html};
use std::io::{self, Write};

/// Writes the diff as one HTML page.
pub(crate) fn write(report: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    let mut headline = Vec::new();
    super::output::headline(report, &mut headline)?;
    let headline = String::from_utf8_lossy(&headline).trim().to_string();
    let meta = html! { (headline) };
    let body = html! {
        (path_section(report))
        (pairs_section(report))
        (servers_section(report))
        (one_side_section(report))
        (inputs_section(report))
    };
    out.write_all(page("stripwatch diff", meta, body).as_bytes())?;
    out.flush()
}

fn path_section(r: &DiffReport) -> Markup {
    let sentences: Vec<_> = r
        .servers
        .iter()
        .flat_map(|s| s.verdict.iter().map(move |v| (s, v)))
        .collect();
    let more = sentences.len().saturating_sub(MAX_SENTENCES);
    html! {
        section #verdict {
            h2 { "What the path did" }
            @if sentences.is_empty() {
                p.ok { "The path changed nothing in the sessions both taps saw." }
            } @else {
                ul.verdict {
                    @for (s, v) in sentences.iter().take(MAX_SENTENCES) {
                        li {
                            (severity_badge(v.severity)) " " strong { (s.server) } " (" (s.protocol)
                            @for via in &s.reached_as { ", reached as " (via) }
                            "): " (v.text)
                        }
                    }
                }
                @if more > 0 { p.more { (more) " more sentences not shown (the JSON report has them all)." } }
            }
        }
    }
}

fn version(v: Option<&VersionRecord>) -> Markup {
    html! {
        @if let Some(v) = v {
            @let (shown, cut) = clip(&v.excerpt);
            "#" (v.packet) " " span.more { (v.timestamp) } br;
            code { (shown) }
            @if cut > 0 { span.more { " … " (cut) " more characters" } }
        } @else {
            span.more { "(not there)" }
        }
    }
}

fn change_row(c: &ChangeRecord) -> Markup {
    html! {
        tr {
            td { (severity_badge(c.severity)) }
            td { code { (c.kind.name()) } br; span.more { (c.direction) } }
            td { (c.summary) }
            td.line { (version(c.inside.as_ref())) }
            td.line {
                (version(c.outside.as_ref()))
                @if let Some(a) = &c.answer { br; "middlebox answer: " (version(Some(a))) }
            }
        }
    }
}

fn pair_details(p: &PairRecord) -> Markup {
    let worst = p.changes.iter().map(|c| c.severity).max();
    html! {
        details.session id={ "p" (p.id) } {
            summary {
                @if let Some(w) = worst { (severity_badge(w)) " " }
                "pair " (p.id) " · " (p.inside.first_seen) " · " (p.client) " → " (p.server)
                " " (p.protocol.to_uppercase()) " · " (p.changes.len()) " changes"
            }
            div.body {
                p { (p.attribution) }
                p.more {
                    "Paired by " (p.pairing.method.name()) " (confidence " (format!("{:.2}", p.pairing.confidence)) "); "
                    "inside: session " (p.inside.session) " " (p.inside.client) " → " (p.inside.server) " in " (p.inside.file) "; "
                    "outside: session " (p.outside.session) " " (p.outside.client) " → " (p.outside.server) " in " (p.outside.file)
                    "; the client side is " (p.client_side.name()) "."
                }
                table.evidence {
                    thead { tr { th { "severity" } th { "change" } th { "what" } th { "inside (packet, time, line)" } th { "outside" } } }
                    tbody { @for c in &p.changes { (change_row(c)) } }
                }
            }
        }
    }
}

fn pairs_section(r: &DiffReport) -> Markup {
    let mut changed: Vec<&PairRecord> = r.pairs.iter().filter(|p| !p.changes.is_empty()).collect();
    changed.sort_by_key(|p| {
        (
            std::cmp::Reverse(p.changes.iter().map(|c| c.severity).max()),
            p.id,
        )
    });
    let mut listed = String::new();
    let mut shown = 0usize;
    for p in &changed {
        let part = pair_details(p).into_string();
        if listed.len() + part.len() > MAX_SESSION_LIST_BYTES {
            break;
        }
        listed.push_str(&part);
        shown += 1;
    }
    let more = changed.len() - shown;
    html! {
        section #sessions {
            h2 { "Pairs changed on the path" }
            @if changed.is_empty() { p.ok { "None." } } @else {
                p { "Each pair opens to both versions of every changed line (escaped, secrets masked), with packet numbers and capture times." }
                (PreEscaped(listed))
                @if more > 0 { p.more { (more) " more changed pairs are not listed; the JSON report has every one." } }
            }
        }
    }
}

fn servers_section(r: &DiffReport) -> Markup {
    let more = r.servers.len().saturating_sub(MAX_TABLE_ROWS);
    html! {
        section #servers {
            h2 { "Servers" }
            @if r.servers.is_empty() { p { "No sessions." } } @else {
                table {
                    thead { tr { th { "server" } th { "protocol" } th.num { "pairs" } th.num { "changed" } th.num { "one tap only" } th { "changes" } } }
                    tbody {
                        @for s in r.servers.iter().take(MAX_TABLE_ROWS) {
                            tr {
                                td { (s.server) }
                                td { (s.protocol) }
                                td.num { (s.pairs) }
                                td.num { (s.changed) }
                                td.num { (s.one_side_only) }
                                td { @for (k, n) in &s.changes { code { (k.name()) } " ×" (n) " " } }
                            }
                        }
                    }
                }
                @if more > 0 { p.more { (more) " more servers not shown." } }
            }
        }
    }
}

fn one_side_section(r: &DiffReport) -> Markup {
    let more = r.one_side_only.len().saturating_sub(MAX_TABLE_ROWS);
    html! {
        section #one-side {
            h2 { "Seen at one tap only" }
            p { (r.summary.inside_only) " sessions inside only, " (r.summary.outside_only) " outside only." }
            @if !r.one_side_only.is_empty() {
                table {
                    thead { tr { th { "tap" } th { "session" } th { "client" } th { "server" } th { "protocol" } th { "first packet" } th { "TLS" } } }
                    tbody {
                        @for o in r.one_side_only.iter().take(MAX_TABLE_ROWS) {
                            tr {
                                td { (o.tap.name()) }
                                td.num { (o.session) }
                                td { (o.client) }
                                td { (o.server) }
                                td { (o.protocol) }
                                td.time { (o.first_seen) }
                                td { (o.tls.name()) }
                            }
                        }
                    }
                }
                @if more > 0 { p.more { (more) " more not shown." } }
            }
        }
    }
}

fn inputs_section(r: &DiffReport) -> Markup {
    let taps = [("inside", &r.inputs.inside), ("outside", &r.inputs.outside)];
    html! {
        section #inputs {
            h2 { "Inputs" }
            table {
                thead { tr { th { "tap" } th { "input" } th { "format" } th.num { "packets" } th.num { "mail segments" } th { "read to the end" } } }
                tbody {
                    @for (tap, inputs) in taps {
                        @for i in inputs.iter().take(MAX_TABLE_ROWS) { (input_row(tap, i)) }
                    }
                }
            }
        }
    }
}

fn input_row(tap: &str, i: &InputSummary) -> Markup {
    html! {
        tr {
            td { (tap) }
            td { (crate::text::escape(i.file.as_bytes())) }
            td { (i.format) @if i.gzip { " (gzip)" } }
            td.num { (i.packets) }
            td.num { (i.mail_segments) }
            td {
                @if let Some(e) = &i.error {
                    span.bad { "no: " (crate::text::escape(e.as_bytes())) }
                } @else { "yes" }
            }
        }
    }
}
