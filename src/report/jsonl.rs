//! JSON lines for SIEMs: one object per line, written (and flushed) as
//! soon as it is known. Each line has a `type` (`session`, `finding`,
//! `input`, `server`, `summary`) and, beside stripwatch's own fields,
//! ECS-style fields a SIEM takes without mapping (`@timestamp`,
//! `event.kind`, `source.ip`, `destination.port`, `rule.name`, ...).
//! The schema is documented in docs/jsonl.md.

use crate::analysis::{
    Finding, LateFinding, Reporter, RunEnd, SCHEMA_VERSION, SessionRecord, Severity,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::{self, Write};

/// ECS event.severity for each level (Elastic's risk-score bands).
pub fn ecs_severity(s: Severity) -> u8 {
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
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> Self {
        JsonLines { out }
    }

    fn line(&mut self, value: &Value) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// `ip:port` / `[v6]:port` as ECS `{ip, port}`.
fn endpoint(text: &str) -> Value {
    match text.rsplit_once(':') {
        Some((host, port)) => json!({
            "ip": host.trim_start_matches('[').trim_end_matches(']'),
            "port": port.parse::<u16>().ok(),
        }),
        None => json!({ "address": text }),
    }
}

/// Merges stripwatch's own fields into an object of ECS fields.
fn merged(mut ecs: Value, ours: &impl Serialize) -> io::Result<Value> {
    let ours = serde_json::to_value(ours)?;
    if let (Some(target), Value::Object(fields)) = (ecs.as_object_mut(), ours) {
        for (k, v) in fields {
            target.entry(k).or_insert(v);
        }
    }
    Ok(ecs)
}

fn finding_line(
    f: &Finding,
    record: Option<&SessionRecord>,
    late: Option<&LateFinding>,
) -> io::Result<Value> {
    let when = f.evidence.first().map(|e| e.location.timestamp.to_string());
    let mut ecs = json!({
        "type": "finding",
        "@timestamp": when,
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "dataset": "stripwatch.finding",
            "severity": ecs_severity(f.severity),
        },
        "rule": { "name": f.kind.name() },
        "message": f.summary,
    });
    if let (Some(r), Some(obj)) = (record, ecs.as_object_mut()) {
        obj.insert("source".into(), endpoint(&r.client));
        obj.insert("destination".into(), endpoint(&r.server));
        obj.insert(
            "network".into(),
            json!({ "transport": "tcp", "protocol": r.protocol }),
        );
    }
    if let (Some(l), Some(obj)) = (late, ecs.as_object_mut()) {
        obj.insert("destination".into(), endpoint(&l.server));
        obj.insert(
            "network".into(),
            json!({ "transport": "tcp", "protocol": l.protocol }),
        );
        obj.insert("late".into(), json!(true));
        obj.insert("replaces".into(), json!(l.replaces.map(|k| k.name())));
    }
    merged(ecs, f)
}

impl<W: Write> Reporter for JsonLines<W> {
    fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
        let worst = r.findings.iter().map(|f| f.severity).max();
        let ecs = json!({
            "type": "session",
            "@timestamp": r.transport.first_seen.to_string(),
            "event": {
                "kind": "event",
                "category": ["network"],
                "type": ["connection"],
                "dataset": "stripwatch.session",
                "start": r.transport.first_seen.to_string(),
                "end": r.transport.last_seen.to_string(),
                "severity": worst.map(ecs_severity),
            },
            "source": endpoint(&r.client),
            "destination": endpoint(&r.server),
            "network": { "transport": "tcp", "protocol": r.protocol },
        });
        let value = merged(ecs, r)?;
        self.line(&value)?;
        for f in &r.findings {
            let value = finding_line(f, Some(r), None)?;
            self.line(&value)?;
        }
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        let value = finding_line(&late.finding, None, Some(late))?;
        self.line(&value)
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for input in end.inputs {
            let value = merged(
                json!({ "type": "input", "event": { "kind": "metric", "dataset": "stripwatch.input" } }),
                input,
            )?;
            self.line(&value)?;
        }
        for server in &end.servers {
            let value = merged(
                json!({
                    "type": "server",
                    "event": { "kind": "metric", "dataset": "stripwatch.server" },
                    "destination": endpoint(&server.server),
                }),
                *server,
            )?;
            self.line(&value)?;
        }
        let value = merged(
            json!({
                "type": "summary",
                "schema_version": SCHEMA_VERSION,
                "event": { "kind": "metric", "dataset": "stripwatch.summary" },
                "sessions_seen": end.sessions_seen,
                "sessions_reported": end.sessions_reported,
            }),
            end.stats,
        )?;
        self.line(&value)
    }
}
