//! Output safety: whatever the input, every rendered report is printable
//! text (no C0 control but the newline, no DEL, no C1 control, no bidi
//! override), the JSON parses, and JSON lines cannot be forged.

use crate::analysis::{self, AnalysisOptions, Filter, Report, ReportBuilder, Reporter, Run};
use crate::capture::InputSpec;
use crate::flow::FlowConfig;
use crate::report::{JsonDocument, JsonLines, TableOptions, TableReport};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Characters that reorder displayed text.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Panics unless `bytes` is UTF-8 text whose only control character is the
/// newline.
pub(crate) fn check_text(what: &str, bytes: &[u8]) {
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) || b == b'\n')
    {
        return;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => panic!("{what}: output is not UTF-8: {e}"),
    };
    for (at, c) in text.char_indices() {
        assert!(
            c == '\n' || !(c.is_control() || is_bidi(c)),
            "{what}: raw {c:?} at byte {at} of the output"
        );
    }
}

/// What one run wrote in every format, beside the report it built.
pub(crate) struct Rendered {
    pub report: Report,
    /// The temporary file the capture was read from.
    pub path: String,
    pub json: Vec<u8>,
    pub jsonl: Vec<u8>,
    pub table: Vec<u8>,
}

/// JSON line types, in the order their lines may come.
const JSONL_TYPES: [&str; 6] = [
    "session",
    "finding",
    "input",
    "server",
    "summary",
    "server_observation",
];

/// Checks every rendering of a run: printable text only, the JSON parses
/// and agrees with the report, each JSON line is one object of a known
/// type (no line forged by a newline in the data), one line per session.
pub(crate) fn check_rendered(r: &Rendered) {
    check_text("json", &r.json);
    let value: serde_json::Value = serde_json::from_slice(&r.json).expect("the JSON output parses");
    let sessions = value
        .get("sessions")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    assert_eq!(sessions, r.report.sessions.len(), "json: sessions");

    check_text("jsonl", &r.jsonl);
    let text = std::str::from_utf8(&r.jsonl).expect("UTF-8");
    let mut counts = [0usize; JSONL_TYPES.len()];
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each JSON line parses");
        let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or("?");
        let i = JSONL_TYPES
            .iter()
            .position(|t| *t == kind)
            .unwrap_or_else(|| panic!("jsonl: unknown line type {kind:?}"));
        counts[i] += 1;
    }
    assert_eq!(
        counts[0],
        r.report.sessions.len(),
        "jsonl: one line per session"
    );
    assert_eq!(
        counts[2],
        r.report.inputs.len(),
        "jsonl: one line per input"
    );
    assert_eq!(counts[4], 1, "jsonl: one summary");
    assert!(text.is_empty() || text.ends_with('\n'));

    check_text("table", &r.table);
    for s in &r.report.sessions {
        for h in &s.hashes {
            check_text("hash line", h.line.as_bytes());
            assert!(h.line.is_ascii() && !h.line.contains('\n'), "hash line");
        }
    }
}

/// Serializes any record to JSON and checks the text.
pub(crate) fn check_json<T: serde::Serialize>(what: &str, value: &T) {
    let json = serde_json::to_vec(value).expect("serializes");
    check_text(what, &json);
    let _: serde_json::Value = serde_json::from_slice(&json).expect("parses");
}

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// Writes `capture` to a temporary file and analyzes it as the CLI does
/// ([`analysis::run_inputs`] on `threads` workers into the JSON (`pretty`
/// or compact), JSON lines and table reporters, every session listed),
/// under the name `fuzz.pcap`.
pub(crate) fn analyze_bytes(
    capture: &[u8],
    config: FlowConfig,
    options: AnalysisOptions,
    threads: usize,
    pretty: bool,
) -> Rendered {
    let dir = if Path::new("/dev/shm").is_dir() {
        Path::new("/dev/shm").to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("stripwatch-fuzz-{}-{n}.pcap", std::process::id()));
    std::fs::write(&path, capture).expect("temporary capture written");
    let spec = InputSpec {
        path: path.clone(),
        name: "fuzz.pcap".to_string(),
        stream: false,
    };
    let (mut json, mut jsonl, mut table) = (Vec::new(), Vec::new(), Vec::new());
    let mut builder = ReportBuilder::default();
    {
        let mut json_doc = JsonDocument::new(&mut json, pretty, threads);
        let mut lines = JsonLines::new(&mut jsonl);
        let options_table = TableOptions {
            all: true,
            palette: None,
        };
        let mut table_report = TableReport::new(&mut table, options_table);
        let reporters: Vec<&mut dyn Reporter> =
            vec![&mut builder, &mut json_doc, &mut lines, &mut table_report];
        let mut run = Run::new(Filter::default(), reporters);
        let (summaries, stats) =
            analysis::run_inputs(&[spec], config, options, threads, &mut run, &|_, _| {});
        // The reporters write to memory: they cannot fail.
        let _ = run.finish(&summaries, &stats);
    }
    let _ = std::fs::remove_file(&path);
    let report = builder.into_report().expect("the run finished");
    Rendered {
        report,
        path: path.display().to_string(),
        json,
        jsonl,
        table,
    }
}

/// Facts every report must satisfy, whatever the input.
pub(crate) fn check_report_facts(rendered: &Rendered) {
    let report = &rendered.report;
    assert_eq!(report.inputs.len(), 1);
    let ids: Vec<u64> = report.sessions.iter().map(|s| s.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "session ids unique and in order");
    assert_eq!(report.stats.sessions, report.sessions.len() as u64);
    let findings: usize = report.sessions.iter().map(|s| s.findings.len()).sum();
    assert_eq!(findings, report.findings.len());
    if let Some(e) = &report.inputs[0].error {
        // Named by the input's name, or by its path when it cannot be
        // opened or its header cannot be read.
        assert!(
            e.starts_with("fuzz.pcap") || e.starts_with(&rendered.path),
            "error names the file: {e}"
        );
    }
}
