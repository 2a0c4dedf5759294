//! The human-readable table.

use crate::analysis::Report;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::io::{self, Write};

/// Sessions, then inputs, as text tables.
pub fn write_table(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut sessions = Table::new();
    sessions
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "id",
            "first seen",
            "client → server",
            "proto",
            "pkts c/s",
            "bytes c/s",
            "gaps",
            "end",
        ]);
    for s in &report.sessions {
        let t = &s.transport;
        let mut end = format!("{:?}", t.end).to_lowercase();
        if t.mid_stream {
            end.push_str(", mid-stream");
        }
        sessions.add_row([
            s.id.to_string(),
            t.first_seen.to_string(),
            format!("{} → {}", s.client, s.server),
            s.protocol.to_string(),
            format!(
                "{}/{}",
                t.client_to_server.packets, t.server_to_client.packets
            ),
            format!(
                "{}/{}",
                t.client_to_server.payload_bytes, t.server_to_client.payload_bytes
            ),
            t.gaps.to_string(),
            end,
        ]);
    }
    writeln!(out, "{} sessions", report.sessions.len())?;
    if !report.sessions.is_empty() {
        writeln!(out, "{sessions}")?;
    }
    let mut inputs = Table::new();
    inputs
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "input",
            "packets",
            "bytes",
            "link types",
            "mail segs",
            "undecodable",
            "status",
        ]);
    for i in &report.inputs {
        let links: Vec<String> = i
            .link_types
            .iter()
            .map(|(k, v)| format!("{k} ({v})"))
            .collect();
        inputs.add_row([
            crate::text::escape(i.file.as_bytes()),
            i.packets.to_string(),
            i.bytes.to_string(),
            links.join(", "),
            i.mail_segments.to_string(),
            (i.undecodable + i.unknown_link_type).to_string(),
            i.error.clone().unwrap_or_else(|| "ok".into()),
        ]);
    }
    writeln!(out, "{inputs}")
}
