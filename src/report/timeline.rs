//! The history's timeline (`stripwatch history`) as a table, a JSON
//! document or an HTML page. Every text in it was escaped when it was
//! stored.

use crate::analysis::history::Timeline;
use crate::analysis::history::timeline::EventKind;
use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::io::{self, Write};

/// Writes the timeline as tables: per server, what each sensor saw, then
/// the changes in time order.
pub(crate) fn write_table(timeline: &Timeline, out: &mut dyn Write) -> io::Result<()> {
    if timeline.servers.is_empty() {
        return writeln!(out, "The history holds no server yet.");
    }
    for server in &timeline.servers {
        writeln!(out, "{} ({})", server.server, server.protocol)?;
        let mut sensors = Table::new();
        sensors
            .load_style(UTF8_FULL_CONDENSED)
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header([
                "Sensor",
                "Sessions",
                "First seen",
                "Last seen",
                "STARTTLS",
                "Banner",
            ]);
        for s in &server.sensors {
            let starttls = s
                .starttls
                .iter()
                .map(|(what, n)| format!("{what} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            sensors.add_row([
                Cell::new(&s.sensor),
                Cell::new(s.sessions),
                Cell::new(s.first_seen),
                Cell::new(s.last_seen),
                Cell::new(starttls),
                Cell::new(&s.banner),
            ]);
        }
        writeln!(out, "{sensors}")?;
        if server.events.is_empty() {
            writeln!(out, "No change.\n")?;
            continue;
        }
        let mut events = Table::new();
        events
            .load_style(UTF8_FULL_CONDENSED)
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(["Time", "Change", "Sensors", "Detail"]);
        for e in &server.events {
            events.add_row([
                Cell::new(e.at),
                Cell::new(change_words(e.kind)),
                Cell::new(e.sensors.join(", ")),
                Cell::new(&e.detail),
            ]);
        }
        writeln!(out, "{events}\n")?;
    }
    Ok(())
}

/// The change in a few words, for the table.
fn change_words(kind: EventKind) -> &'static str {
    match kind {
        EventKind::StarttlsStopped => "STARTTLS no longer offered",
        EventKind::StarttlsStarted => "STARTTLS offered again",
        EventKind::StarttlsIntermittent => "STARTTLS offered and missing",
        EventKind::StrippedPath => "stripped on one path",
        EventKind::BannerChanged => "banner changed",
        EventKind::CapabilitiesChanged => "capabilities changed",
        EventKind::CertificateChanged => "certificate changed",
        EventKind::CertificateDiffers => "certificate differs between sensors (interception?)",
    }
}

/// Writes the timeline as one JSON document.
pub(crate) fn write_json(timeline: &Timeline, out: &mut dyn Write, pretty: bool) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, timeline)?;
    } else {
        serde_json::to_writer(&mut *out, timeline)?;
    }
    writeln!(out)
}

/// Servers shown on the HTML page (the rest are counted: the JSON has them).
pub(crate) const MAX_HTML_SERVERS: usize = 500;

/// Writes the timeline as one self-contained HTML page (the report's page,
/// style and policy).
pub(crate) fn write_html(timeline: &Timeline, out: &mut dyn Write) -> io::Result<()> {
    use maud::html;
    let servers = &timeline.servers;
    let changes: usize = servers.iter().map(|s| s.events.len()).sum();
    let meta = html! { (servers.len()) " servers · " (changes) " changes" };
    let body = html! {
        @if servers.is_empty() { p { "The history holds no server yet." } }
        @for server in servers.iter().take(MAX_HTML_SERVERS) {
            section {
                h2 { (server.server) " (" (server.protocol) ")" }
                table {
                    thead { tr { th { "sensor" } th.num { "sessions" } th { "first seen" } th { "last seen" } th { "STARTTLS" } th { "banner" } } }
                    tbody {
                        @for s in &server.sensors {
                            tr {
                                td { (s.sensor) } td.num { (s.sessions) }
                                td { (s.first_seen) } td { (s.last_seen) }
                                td { @for (what, n) in &s.starttls { (what) " " (n) " " } }
                                td { code { (s.banner) } }
                            }
                        }
                    }
                }
                @if server.events.is_empty() { p { "No change." } } @else {
                    table {
                        thead { tr { th { "time" } th { "change" } th { "sensors" } th { "detail" } } }
                        tbody {
                            @for e in &server.events {
                                tr { td { (e.at) } td { (change_words(e.kind)) } td { (e.sensors.join(", ")) } td { (e.detail) } }
                            }
                        }
                    }
                }
            }
        }
        @if servers.len() > MAX_HTML_SERVERS {
            p.more { (servers.len() - MAX_HTML_SERVERS) " more servers in `stripwatch history --format json`." }
        }
    };
    out.write_all(super::html::page("stripwatch history", meta, body).as_bytes())
}
