//! One JSON document: schema version, inputs, sessions (in id order),
//! every finding, server profiles and counters.

use crate::analysis::{
    Finding, LateFinding, Report, ReportBuilder, Reporter, RunEnd, SessionRecord, flat_findings_of,
};
use crate::parallel::usable_threads;
use serde::Serialize;
use std::io::{self, Write};

/// Collects the run, writes the document at its end.
pub struct JsonDocument<W: Write> {
    out: W,
    builder: ReportBuilder,
    pretty: bool,
    threads: usize,
}

impl<W: Write> JsonDocument<W> {
    /// `pretty` indents the document (for a person at a terminal; tools
    /// read the compact form faster). `threads` may serialize the compact
    /// form's sessions and findings at the end of the run (1: this thread
    /// alone; no more than [`usable_threads`]); the document is the same
    /// byte for byte.
    pub fn new(out: W, pretty: bool, threads: usize) -> Self {
        JsonDocument {
            out,
            builder: ReportBuilder::default(),
            pretty,
            threads: usable_threads(threads),
        }
    }
}

/// Items serialized per round of [`write_array`]: what waits in memory as
/// text is bounded by this, whatever the run's size.
const ROUND_ITEMS: usize = 1024;

/// An array of fewer items than this is serialized on the calling thread
/// (starting threads would cost more than it saves).
const PARALLEL_MIN_ITEMS: usize = 256;

/// The threads to serialize `items` with.
fn threads_for<T>(items: &[T], threads: usize) -> usize {
    if items.len() < PARALLEL_MIN_ITEMS {
        1
    } else {
        threads.max(1)
    }
}

/// Writes a report as one document. Its `findings` are its sessions'
/// (by session, then kind), whatever `report.findings` holds. The compact
/// form is serialized piece by piece into memory, a round of items at a
/// time (serde_json writes a buffer faster than many small writes through
/// `dyn Write`); with more than one of `threads`, the sessions and findings
/// (nearly all of it) in parallel. Each piece is what serde_json writes for
/// it, so the whole is too.
pub(crate) fn write_report(
    mut report: Report,
    out: &mut dyn Write,
    pretty: bool,
    threads: usize,
) -> io::Result<()> {
    if pretty {
        report.findings = flat_findings_of(&report.sessions);
        serde_json::to_writer_pretty(&mut *out, &report)?;
    } else {
        // Every field, in the order `Report` declares (and serializes) them:
        // a new field fails to compile here.
        let Report {
            schema_version,
            inputs,
            sessions,
            findings: _,
            servers,
            stats,
        } = report;
        write!(out, "{{\"schema_version\":{schema_version},\"inputs\":")?;
        serde_json::to_writer(&mut *out, &inputs)?;
        out.write_all(b",\"sessions\":")?;
        // The findings are moved out of each session once it is written.
        let threads_now = threads_for(&sessions, threads);
        let take_findings = |s: SessionRecord| s.findings;
        let findings = write_array(sessions, out, threads_now, ROUND_ITEMS, take_findings)?;
        let findings: Vec<Finding> = findings.into_iter().flatten().collect();
        out.write_all(b",\"findings\":")?;
        let threads_now = threads_for(&findings, threads);
        write_array(findings, out, threads_now, ROUND_ITEMS, drop)?;
        out.write_all(b",\"servers\":")?;
        serde_json::to_writer(&mut *out, &servers)?;
        out.write_all(b",\"stats\":")?;
        serde_json::to_writer(&mut *out, &stats)?;
        out.write_all(b"}")?;
    }
    writeln!(out)
}

/// Writes `items` as a compact JSON array, serialized by up to `threads`
/// threads, `round` items at a time. Each thread then hands each item it
/// wrote to `keep` and frees the rest (freeing a large run's records is
/// parallel too); returns what `keep` kept, in order.
fn write_array<T: Serialize + Send, K: Send>(
    items: Vec<T>,
    out: &mut dyn Write,
    threads: usize,
    round: usize,
    keep: fn(T) -> K,
) -> io::Result<Vec<K>> {
    out.write_all(b"[")?;
    let (round, mut first) = (round.max(1), true);
    let mut kept = Vec::with_capacity(items.len());
    let mut items = items.into_iter();
    loop {
        // Each item is moved once into its thread's part (splitting the
        // vector instead would copy what remains at every round).
        let this_round = items.len().min(round);
        if this_round == 0 {
            break;
        }
        let share = this_round.div_ceil(threads).max(1);
        let mut parts = Vec::new();
        let mut left = this_round;
        while left > 0 {
            let n = share.min(left);
            parts.push(items.by_ref().take(n).collect::<Vec<T>>());
            left -= n;
        }
        let done = if parts.len() == 1 {
            parts
                .into_iter()
                .map(|part| serialize_run(part, keep))
                .collect()
        } else {
            serialize_parts(parts, keep)
        };
        for (text, part_kept) in done {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            out.write_all(&text?)?;
            kept.extend(part_kept);
        }
    }
    out.write_all(b"]")?;
    Ok(kept)
}

/// What a part of an array became: its text, and what was kept of it.
type Serialized<K> = (io::Result<Vec<u8>>, Vec<K>);

/// Each part serialized by a thread of its own, which then keeps what
/// `keep` keeps of it and frees the rest.
fn serialize_parts<T: Serialize + Send, K: Send>(
    parts: Vec<Vec<T>>,
    keep: fn(T) -> K,
) -> Vec<Serialized<K>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || serialize_run(part, keep)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// `items` as compact JSON values separated by commas, and what `keep`
/// keeps of each.
fn serialize_run<T: Serialize, K>(items: Vec<T>, keep: fn(T) -> K) -> Serialized<K> {
    let mut text = Vec::new();
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            text.push(b',');
        }
        if let Err(e) = serde_json::to_writer(&mut text, item) {
            return (Err(e.into()), Vec::new());
        }
    }
    (Ok(text), items.into_iter().map(keep).collect())
}

impl<W: Write> Reporter for JsonDocument<W> {
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
        // write_report takes the findings from the sessions.
        let report = self.builder.build(end, false);
        self.builder = ReportBuilder::default();
        write_report(report, &mut self.out, self.pretty, self.threads)?;
        self.out.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{PARALLEL_MIN_ITEMS, write_array, write_report};
    use crate::analysis::{AnalysisOptions, Report, analyze};
    use crate::flow::FlowConfig;

    /// The committed lab's captures, analyzed as one run.
    fn lab_report() -> Report {
        // As the command line reads a directory.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab");
        let inputs = crate::capture::resolve_inputs(&[dir]).inputs;
        analyze(&inputs, FlowConfig::default(), AnalysisOptions::default())
    }

    /// A whole document, on one thread or several, is serde_json's for the
    /// report, byte for byte.
    #[test]
    fn document_is_serde_jsons() {
        let report = lab_report();
        assert!(report.sessions.len() >= PARALLEL_MIN_ITEMS);
        let mut expected = serde_json::to_vec(&report).unwrap();
        expected.push(b'\n');
        for threads in [1, 2, 5] {
            let mut got = Vec::new();
            write_report(lab_report(), &mut got, false, threads).unwrap();
            assert!(got == expected, "{threads} threads");
            // As JsonDocument hands it over: the findings are the sessions'.
            let mut without_flat = lab_report();
            without_flat.findings.clear();
            let mut got = Vec::new();
            write_report(without_flat, &mut got, false, threads).unwrap();
            assert!(got == expected, "{threads} threads, no flat findings");
        }
    }

    /// An array written by any number of threads, in rounds of any size,
    /// is serde_json's, byte for byte (tests/integration/threads.rs checks
    /// whole documents).
    #[test]
    fn parallel_array_is_serde_jsons() {
        let items: Vec<serde_json::Value> = (0..100)
            .map(|i| serde_json::json!({"id": i, "text": format!("\u{202e}line {i}\n"), "list": [i, null]}))
            .collect();
        for len in [0, 1, 2, 7, 100] {
            let items = &items[..len];
            let expected = serde_json::to_vec(items).unwrap();
            for threads in [1, 2, 3, 8] {
                for round in [1, 3, 64, 8192] {
                    let mut got = Vec::new();
                    let kept = write_array(items.to_vec(), &mut got, threads, round, |v| v);
                    assert_eq!(kept.unwrap(), items, "what is kept, in order");
                    assert!(
                        got == expected,
                        "{len} items, {threads} threads, rounds of {round}"
                    );
                }
            }
        }
    }
}
