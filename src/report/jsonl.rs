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
use crate::parallel::usable_threads;
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
    /// With several threads: the sessions and late findings whose lines
    /// are made by [`LineMakers`], and those threads.
    waiting: Vec<Pending>,
    makers: Option<LineMakers>,
}

impl<W: Write> JsonLines<W> {
    /// Lines flushed one by one.
    pub fn new(out: W) -> Self {
        JsonLines {
            out,
            flush_each_line: true,
            text: Vec::new(),
            waiting: Vec::new(),
            makers: None,
        }
    }

    /// Lines flushed when reading pauses (every few thousand packets of a
    /// file: milliseconds), not each with a write of its own: a million
    /// sessions are not a million system calls. With `threads` > 1 a run's
    /// lines are made off the calling thread (which merges the workers'
    /// sessions: the run's one serial part), a pause's batch while the
    /// previous one is written; the lines and their order are the same.
    pub fn batched(out: W, threads: usize) -> Self {
        // One maker per 8 of the run's threads: at 2 threads the lines are
        // about a tenth of the work, a core's worth at 8 to 10 threads.
        let threads = usable_threads(threads);
        // No thread to be had: the lines are made here, as with one.
        let makers = (threads > 1)
            .then(|| LineMakers::start(threads.div_ceil(8), BATCH_ITEMS))
            .and_then(Result::ok);
        JsonLines {
            out,
            flush_each_line: false,
            text: Vec::new(),
            waiting: Vec::new(),
            makers,
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

    /// Adds `pending` to the batch, handed over once full.
    fn wait(&mut self, pending: Pending) -> io::Result<()> {
        self.waiting.push(pending);
        if self
            .makers
            .as_ref()
            .is_some_and(|m| self.waiting.len() >= m.batch_items)
        {
            self.hand_over(false)?;
        }
        Ok(())
    }

    /// Hands what waits to the line makers; writes the lines of earlier
    /// batches: all of them with `all`, else all but the one just handed
    /// over (it is made while reading goes on, and written at the next
    /// pause).
    fn hand_over(&mut self, all: bool) -> io::Result<()> {
        let Some(makers) = self.makers.as_mut() else {
            return Ok(());
        };
        let sent = !self.waiting.is_empty();
        if sent {
            makers.send(std::mem::take(&mut self.waiting));
        }
        let keep = usize::from(sent && !all);
        while makers.in_flight() > keep {
            self.out.write_all(&makers.receive()?)?;
        }
        Ok(())
    }
}

/// What waits for its lines: a session, or a finding made late.
// Nearly all are sessions: boxing them would allocate once more for each.
#[allow(clippy::large_enum_variant)]
enum Pending {
    Session(SessionRecord),
    Late(LateFinding),
}

impl Pending {
    fn write_lines(&self, text: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Pending::Session(r) => session_lines(r, text),
            Pending::Late(late) => one_line(text, &late_line(late)),
        }
    }
}

/// Sessions (or late findings) per batch at most: what waits in memory
/// for its lines is bounded (two batches in the makers, one filling).
const BATCH_ITEMS: usize = 1024;

/// Threads that make the lines of batches, in order: batch k is made by
/// thread k mod n, and its text comes back on that thread's channel, so
/// reading the channels in turn gives the batches in order.
struct LineMakers {
    /// A batch is handed over when it holds this many (else at a pause).
    batch_items: usize,
    to: Vec<std::sync::mpsc::Sender<Vec<Pending>>>,
    from: Vec<std::sync::mpsc::Receiver<serde_json::Result<Vec<u8>>>>,
    sent: usize,
    received: usize,
}

impl LineMakers {
    /// `makers` threads (at least 1), handed batches of `batch_items`; an
    /// error if a thread could not be started (those started end as the
    /// channels close).
    fn start(makers: usize, batch_items: usize) -> io::Result<Self> {
        let (mut to, mut from) = (Vec::new(), Vec::new());
        for _ in 0..makers.max(1) {
            let (job_tx, job_rx) = std::sync::mpsc::channel::<Vec<Pending>>();
            let (text_tx, text_rx) = std::sync::mpsc::channel();
            let thread = std::thread::Builder::new().name("jsonl lines".into());
            thread.spawn(move || {
                for batch in job_rx {
                    let mut text = Vec::new();
                    let made = batch.iter().try_for_each(|p| p.write_lines(&mut text));
                    // The records are freed here too, off the merging thread.
                    drop(batch);
                    if text_tx.send(made.map(|()| text)).is_err() {
                        break;
                    }
                }
            })?;
            to.push(job_tx);
            from.push(text_rx);
        }
        Ok(LineMakers {
            batch_items: batch_items.max(1),
            to,
            from,
            sent: 0,
            received: 0,
        })
    }

    fn in_flight(&self) -> usize {
        self.sent - self.received
    }

    fn send(&mut self, batch: Vec<Pending>) {
        let n = self.to.len().max(1);
        if let Some(to) = self.to.get(self.sent % n) {
            // A maker gone (it panicked) shows as an error at `receive`.
            let _ = to.send(batch);
        }
        self.sent += 1;
    }

    /// The lines of the oldest batch not yet received.
    fn receive(&mut self) -> io::Result<Vec<u8>> {
        let n = self.from.len().max(1);
        let text = match self.from.get(self.received % n).map(|from| from.recv()) {
            Some(Ok(made)) => made.map_err(io::Error::from),
            _ => Err(io::Error::other("a thread making JSON lines failed")),
        };
        self.received += 1;
        text
    }
}

/// Appends `value` as one line.
fn one_line(text: &mut Vec<u8>, value: &impl Serialize) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *text, value)?;
    text.push(b'\n');
    Ok(())
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

/// A session's line, then its findings' lines, appended to `text`.
fn session_lines(r: &SessionRecord, text: &mut Vec<u8>) -> serde_json::Result<()> {
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
    one_line(text, &line)?;
    for f in &r.findings {
        one_line(
            text,
            &finding_line(f, &r.client, &r.server, r.protocol, None),
        )?;
    }
    Ok(())
}

fn late_line(late: &LateFinding) -> FindingLine<'_> {
    finding_line(
        &late.finding,
        &late.client,
        &late.server,
        late.protocol,
        Some(late),
    )
}

impl<W: Write> Reporter for JsonLines<W> {
    fn wants_observations(&self) -> bool {
        true
    }

    fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
        if self.makers.is_some() {
            return self.session_owned(r.clone());
        }
        self.text.clear();
        session_lines(r, &mut self.text)?;
        self.out.write_all(&self.text)?;
        if self.flush_each_line {
            self.out.flush()?;
        }
        Ok(())
    }

    fn session_owned(&mut self, record: SessionRecord) -> io::Result<()> {
        if self.makers.is_none() {
            return self.session(&record);
        }
        self.wait(Pending::Session(record))
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        if self.makers.is_some() {
            return self.wait(Pending::Late(late.clone()));
        }
        self.line(&late_line(late))
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        self.hand_over(true)?;
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
        self.hand_over(false)?;
        self.out.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{JsonLines, LineMakers};
    use crate::analysis::{AnalysisOptions, Filter, Run, run_inputs};
    use crate::flow::FlowConfig;

    /// `dir`'s captures through one run whose reporters are JSON lines
    /// made on this thread and JSON lines made by `makers` threads in
    /// batches of `batch` (the first gets each record by reference, the
    /// last owns it). Returns both texts.
    fn both(dir: &str, makers: usize, batch: usize) -> (Vec<u8>, Vec<u8>) {
        // As the command line reads a directory.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let inputs = crate::capture::resolve_inputs(&[dir]).inputs;
        let mut here = JsonLines::new(Vec::new());
        let mut made = JsonLines::new(Vec::new());
        made.flush_each_line = false;
        made.makers = Some(LineMakers::start(makers, batch).unwrap());
        {
            let mut run = Run::new(Filter::default(), vec![&mut here, &mut made]);
            let config = FlowConfig::default();
            let options = AnalysisOptions::default();
            let (inputs, stats) = run_inputs(&inputs, config, options, 1, &mut run, &|_, _| {});
            let (_, error) = run.finish(&inputs, &stats);
            assert!(error.is_none());
        }
        (here.out, made.out)
    }

    /// Lines made by other threads, in batches of any size, are the lines
    /// made here, in the same order (late findings among them).
    #[test]
    fn lines_made_by_other_threads_are_the_same() {
        for (makers, batch) in [(1, 1024), (1, 1), (3, 7), (2, 64)] {
            let (here, made) = both("samples/lab", makers, batch);
            assert!(here.split(|&b| b == b'\n').count() > 500);
            assert!(here == made, "lab: {makers} makers, batches of {batch}");
            let (here, made) = both("samples/findings", makers, batch);
            let late = String::from_utf8_lossy(&here)
                .matches("\"late\":true")
                .count();
            assert!(late > 0);
            assert!(
                here == made,
                "findings: {makers} makers, batches of {batch}"
            );
        }
    }
}
