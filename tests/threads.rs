//! `--threads N` gives the same report as one thread: same sessions, ids,
//! findings (and their cross-session proofs), servers and counters (but
//! the per-worker sum of peak flows), and the same JSON lines in the same
//! order.

use std::process::Command;

fn report(threads: &str, format: &str, path: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args([
            "analyze",
            "--quiet",
            "--format",
            format,
            "--threads",
            threads,
            path,
        ])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0..=2)), "{path}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn without_peak(json: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    if let Some(stats) = v.get_mut("stats").and_then(|s| s.as_object_mut()) {
        stats.remove("peak_flows");
    }
    v
}

#[test]
fn same_json_report_with_any_thread_count() {
    for path in ["samples/findings", "samples/transport"] {
        let one = without_peak(&report("1", "json", path));
        for threads in ["2", "3", "5"] {
            let many = without_peak(&report(threads, "json", path));
            assert_eq!(one, many, "{path} with {threads} threads");
        }
        assert!(one["sessions"].as_array().is_some_and(|s| s.len() > 20));
    }
}

#[test]
fn same_json_lines_in_the_same_order() {
    let strip = |text: String| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("\"type\":\"summary\""))
            .map(str::to_string)
            .collect()
    };
    let one = strip(report("1", "jsonl", "samples/findings"));
    let two = strip(report("2", "jsonl", "samples/findings"));
    assert_eq!(one, two);
}
