//! JSON lines for SIEMs: one object per line, written (and flushed) as
//! soon as it is known. Each line has a `type` (`session`, `finding`,
//! `input`, `server`, `summary`) and, beside stripwatch's own fields,
//! ECS-style fields a SIEM takes without mapping (`@timestamp`,
//! `event.kind`, `source.ip`, `destination.port`, `rule.name`, ...).
//! The schema is documented in docs/jsonl.md.
//!
//! Lines are serialized straight from the records (no intermediate JSON
//! tree): a capture with a million sessions writes a million lines.

use crate::analysis::history::{Observation, StarttlsSeen};
use crate::analysis::{
    Finding, LateFinding, Reporter, RunEnd, SCHEMA_VERSION, ServerProfile, SessionRecord, Severity,
};
use crate::flow::{Endpoint, TableStats};
use crate::pipeline::InputSummary;
use serde::Serialize;
use std::io::{self, Write};

/// ECS event.severity for each level (Elastic's risk-score bands).
pub(crate) fn ecs_severity(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
        Severity::Critical => 99,
    }
}

/// Writes JSON lines to `out`.
pub struct JsonLines<W: Write> {
    out: W,
    /// Flush after every line (live capture: a line must not wait for
    /// the next packet), rather than when reading pauses.
    flush_each_line: bool,
    /// The line being made: serde_json writes a buffer faster than the
    /// many small writes of a line through `out` (often a `dyn Write`).
    /// A line is one record's, so this is bounded by a record's limits.
    text: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    /// Lines flushed one by one.
    pub fn new(out: W) -> Self {
        JsonLines {
            out,
            flush_each_line: true,
            text: Vec::new(),
        }
    }

    /// Lines flushed when reading pauses (every few thousand packets of a
    /// file: milliseconds), not each with a write of its own: a million
    /// sessions are not a million system calls.
    pub fn batched(out: W) -> Self {
        JsonLines {
            out,
            flush_each_line: false,
            text: Vec::new(),
        }
    }

    fn line(&mut self, value: &impl Serialize) -> io::Result<()> {
        self.text.clear();
        serde_json::to_writer(&mut self.text, value)?;
        self.text.push(b'\n');
        self.out.write_all(&self.text)?;
        if self.flush_each_line {
            self.out.flush()?;
        }
        Ok(())
    }
}

/// ECS `source` / `destination`.
#[derive(Serialize)]
struct EcsEndpoint {
    ip: std::net::IpAddr,
    port: u16,
}

fn endpoint(e: &Endpoint) -> EcsEndpoint {
    EcsEndpoint {
        ip: e.ip,
        port: e.port,
    }
}

#[derive(Serialize)]
struct Network<'a> {
    transport: &'static str,
    protocol: &'a str,
}

/// ECS `event` of a session line.
#[derive(Serialize)]
struct SessionEvent {
    kind: &'static str,
    category: [&'static str; 1],
    #[serde(rename = "type")]
    kind_of: [&'static str; 1],
    dataset: &'static str,
    start: String,
    end: String,
    severity: Option<u8>,
}

/// ECS `event` of a finding line.
#[derive(Serialize)]
struct FindingEvent {
    kind: &'static str,
    category: [&'static str; 2],
    dataset: &'static str,
    severity: u8,
}

/// ECS `event` of the input, server and summary lines.
#[derive(Serialize)]
struct MetricEvent {
    kind: &'static str,
    dataset: &'static str,
}

impl MetricEvent {
    fn new(dataset: &'static str) -> Self {
        MetricEvent {
            kind: "metric",
            dataset,
        }
    }
}

#[derive(Serialize)]
struct Rule {
    name: &'static str,
}

#[derive(Serialize)]
struct SessionLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    #[serde(rename = "@timestamp")]
    timestamp: String,
    event: SessionEvent,
    source: EcsEndpoint,
    destination: EcsEndpoint,
    network: Network<'a>,
    #[serde(flatten)]
    record: &'a SessionRecord,
}

#[derive(Serialize)]
struct FindingLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    #[serde(rename = "@timestamp")]
    timestamp: Option<String>,
    event: FindingEvent,
    rule: Rule,
    message: &'a str,
    source: EcsEndpoint,
    destination: EcsEndpoint,
    network: Network<'a>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    late: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<&'static str>,
    #[serde(flatten)]
    finding: &'a Finding,
}

#[derive(Serialize)]
struct InputLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    event: MetricEvent,
    #[serde(flatten)]
    input: &'a InputSummary,
}

#[derive(Serialize)]
struct ServerLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    event: MetricEvent,
    destination: EcsEndpoint,
    #[serde(flatten)]
    server: &'a ServerProfile,
}

/// ECS `observer`: the sensor.
#[derive(Serialize)]
struct Observer<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct ObservationLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    event: MetricEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    observer: Option<Observer<'a>>,
    destination: EcsEndpoint,
    network: Network<'a>,
    /// The server as text, like the session lines' `server`.
    server: String,
    starttls: StarttlsSeen,
    banner_sha256: &'a str,
    capabilities_sha256: &'a str,
    tls_version: &'a str,
    certificate_sha256: &'a str,
    #[serde(flatten)]
    tally: &'a Observation,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    #[serde(rename = "type")]
    line: &'static str,
    schema_version: u32,
    event: MetricEvent,
    sessions_seen: u64,
    sessions_reported: u64,
    #[serde(flatten)]
    stats: &'a TableStats,
}

fn finding_line<'a>(
    f: &'a Finding,
    client: &'a Endpoint,
    server: &'a Endpoint,
    protocol: &'a str,
    late: Option<&LateFinding>,
) -> FindingLine<'a> {
    FindingLine {
        line: "finding",
        timestamp: f.evidence.first().map(|e| e.location.timestamp.to_string()),
        event: FindingEvent {
            kind: "alert",
            category: ["network", "intrusion_detection"],
            dataset: "stripwatch.finding",
            severity: ecs_severity(f.severity),
        },
        rule: Rule {
            name: f.kind.name(),
        },
        message: &f.summary,
        source: endpoint(client),
        destination: endpoint(server),
        network: Network {
            transport: "tcp",
            protocol,
        },
        late: late.is_some(),
        replaces: late.and_then(|l| l.replaces).map(|k| k.name()),
        finding: f,
    }
}

impl<W: Write> Reporter for JsonLines<W> {
    fn wants_observations(&self) -> bool {
        true
    }

    fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
        let worst = r.findings.iter().map(|f| f.severity).max();
        let line = SessionLine {
            line: "session",
            timestamp: r.transport.first_seen.to_string(),
            event: SessionEvent {
                kind: "event",
                category: ["network"],
                kind_of: ["connection"],
                dataset: "stripwatch.session",
                start: r.transport.first_seen.to_string(),
                end: r.transport.last_seen.to_string(),
                severity: worst.map(ecs_severity),
            },
            source: endpoint(&r.client),
            destination: endpoint(&r.server),
            network: Network {
                transport: "tcp",
                protocol: r.protocol,
            },
            record: r,
        };
        self.line(&line)?;
        for f in &r.findings {
            self.line(&finding_line(f, &r.client, &r.server, r.protocol, None))?;
        }
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        let line = finding_line(
            &late.finding,
            &late.client,
            &late.server,
            late.protocol,
            Some(late),
        );
        self.line(&line)
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for input in end.inputs {
            self.line(&InputLine {
                line: "input",
                event: MetricEvent::new("stripwatch.input"),
                input,
            })?;
        }
        for server in &end.servers {
            self.line(&ServerLine {
                line: "server",
                event: MetricEvent::new("stripwatch.server"),
                destination: endpoint(&server.server),
                server,
            })?;
        }
        for (key, tally) in &end.observations {
            self.line(&ObservationLine {
                line: "server_observation",
                event: MetricEvent::new("stripwatch.server_observation"),
                observer: end.sensor.map(|name| Observer { name }),
                destination: endpoint(&key.server),
                network: Network {
                    transport: "tcp",
                    protocol: &key.protocol,
                },
                server: key.server.to_string(),
                starttls: key.starttls,
                banner_sha256: &key.banner_sha256,
                capabilities_sha256: &key.capabilities_sha256,
                tls_version: &key.tls_version,
                certificate_sha256: &key.certificate_sha256,
                tally,
            })?;
        }
        self.line(&SummaryLine {
            line: "summary",
            schema_version: SCHEMA_VERSION,
            event: MetricEvent::new("stripwatch.summary"),
            sessions_seen: end.sessions_seen,
            sessions_reported: end.sessions_reported,
            stats: end.stats,
        })?;
        self.out.flush()
    }

    fn pause(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
