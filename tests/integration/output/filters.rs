//! Filters: `--min-severity` drops findings below it, `--server` and
//! `--protocol` keep only the matching sessions, in every format.

use super::support::{json, jsonl, of_type, s, sample, session_kinds, table};
use serde_json::Value;
use std::collections::BTreeSet;

fn rank(severity: &str) -> u8 {
    match severity {
        "info" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        other => panic!("severity {other}"),
    }
}

fn findings(doc: &Value) -> &Vec<Value> {
    doc["findings"].as_array().unwrap()
}

fn sessions(doc: &Value) -> &Vec<Value> {
    doc["sessions"].as_array().unwrap()
}

#[test]
fn min_severity_high_drops_medium_and_low_findings() {
    let all = sample("findings");
    let full = json(&[&all]);
    let high = json(&["--min-severity", "high", &all]);
    let kept: BTreeSet<(u64, String)> = findings(&high)
        .iter()
        .map(|f| (f["session"].as_u64().unwrap(), s(f, "kind").to_string()))
        .collect();
    let expected: BTreeSet<(u64, String)> = findings(&full)
        .iter()
        .filter(|f| rank(s(f, "severity")) >= rank("high"))
        .map(|f| (f["session"].as_u64().unwrap(), s(f, "kind").to_string()))
        .collect();
    assert!(
        findings(&full).len() > kept.len(),
        "the samples have lower findings"
    );
    assert_eq!(kept, expected);
    // Sessions are still reported, with only their high findings.
    assert_eq!(sessions(&high).len(), sessions(&full).len());
    for session in sessions(&high) {
        let id = session["id"].as_u64().unwrap();
        let want: Vec<String> = expected
            .iter()
            .filter(|(s, _)| *s == id)
            .map(|(_, k)| k.clone())
            .collect();
        let mut got = session_kinds(session);
        got.sort();
        assert_eq!(got, want, "session {id}");
    }

    let lines = jsonl(&["--min-severity", "high", &all]);
    for f in of_type(&lines, "finding") {
        assert!(rank(s(f, "severity")) >= rank("high"), "{f}");
        assert!(f["event"]["severity"].as_u64().unwrap() >= 73, "{f}");
    }
    assert_eq!(of_type(&lines, "finding").len(), expected.len());

    let out = table(&["--min-severity", "high", &all]);
    let rows =
        &out[out.find("\nSessions with findings\n").unwrap()..out.find("\nServers\n").unwrap()];
    assert!(rows.contains("HIGH starttls-stripped"));
    assert!(rows.contains("CRITICAL cleartext-credentials"));
    for lower in ["MEDIUM ", "LOW "] {
        assert!(!rows.contains(lower), "{lower} in:\n{rows}");
    }

    // `--min-severity critical`: accepted cleartext passwords only.
    let critical = json(&["--min-severity", "critical", &all]);
    let kinds: BTreeSet<&str> = findings(&critical).iter().map(|f| s(f, "kind")).collect();
    assert_eq!(kinds, BTreeSet::from(["cleartext-credentials"]));
}

#[test]
fn min_severity_also_filters_the_verdict() {
    let out = table(&[
        "--min-severity",
        "high",
        &sample("findings/smtp-asa.pcap"),
        &sample("findings/smtp-no-starttls.pcap"),
    ]);
    let verdict = &out[out.find("\nVerdict\n").unwrap()..out.find("\nSessions").unwrap()];
    assert!(
        verdict.contains("HIGH     the one session to 203.0.113.10:25"),
        "{verdict}"
    );
    for lower in ["  MEDIUM ", "  LOW "] {
        assert!(!verdict.contains(lower), "{lower} in:\n{verdict}");
    }
    let doc = json(&[
        "--min-severity",
        "high",
        &sample("findings/smtp-no-starttls.pcap"),
    ]);
    for server in doc["servers"].as_array().unwrap() {
        assert!(
            server["findings"].as_object().unwrap().is_empty(),
            "{server}"
        );
    }
}

#[test]
fn server_filter_keeps_only_that_server() {
    let all = sample("findings");
    let doc = json(&["--server", "203.0.113.19:587", &all]);
    assert_eq!(sessions(&doc).len(), 9);
    for session in sessions(&doc) {
        assert_eq!(session["server"], "203.0.113.19:587");
    }
    let ids: BTreeSet<u64> = sessions(&doc)
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .collect();
    for f in findings(&doc) {
        assert!(ids.contains(&f["session"].as_u64().unwrap()), "{f}");
    }
    let servers: Vec<&str> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| s(p, "server"))
        .collect();
    assert_eq!(servers, ["203.0.113.19:587"]);

    // An address without a port: every port of it.
    let doc = json(&["--server", "203.0.113.3", &all]);
    let got: BTreeSet<&str> = sessions(&doc).iter().map(|x| s(x, "server")).collect();
    assert_eq!(
        got,
        BTreeSet::from(["203.0.113.3:465", "203.0.113.3:993", "203.0.113.3:995"])
    );
    let doc = json(&["--server", "203.0.113.3:993", &all]);
    assert_eq!(sessions(&doc).len(), 1);
    assert_eq!(sessions(&doc)[0]["server"], "203.0.113.3:993");
    // No such server: nothing reported.
    let doc = json(&["--server", "198.51.100.99:25", &all]);
    assert!(sessions(&doc).is_empty() && findings(&doc).is_empty());

    let lines = jsonl(&["--server", "203.0.113.19:587", &all]);
    for line in lines.iter().filter(|l| l["destination"].is_object()) {
        assert_eq!(line["destination"]["ip"], "203.0.113.19", "{line}");
        assert_eq!(line["destination"]["port"], 587, "{line}");
    }
    let summary = of_type(&lines, "summary")[0];
    assert_eq!(summary["sessions_reported"], 9);
    assert_eq!(summary["sessions_seen"], 58);

    let out = table(&["--server", "203.0.113.10:25", &all]);
    assert!(
        out.starts_with("stripwatch: 1 sessions in 26 inputs, 1 with findings"),
        "{out}"
    );
    assert!(out.contains("192.0.2.20:51100 → 203.0.113.10:25"));
    assert!(!out.contains("203.0.113.19"), "{out}");
}

#[test]
fn protocol_filter_keeps_only_imap() {
    let all = sample("findings");
    let full = json(&[&all]);
    let imap = json(&["--protocol", "imap", &all]);
    let want: Vec<u64> = sessions(&full)
        .iter()
        .filter(|x| x["protocol"] == "imap")
        .map(|x| x["id"].as_u64().unwrap())
        .collect();
    let got: Vec<u64> = sessions(&imap)
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(got.len(), 17);
    let ids: BTreeSet<u64> = got.into_iter().collect();
    for f in findings(&imap) {
        assert!(ids.contains(&f["session"].as_u64().unwrap()), "{f}");
    }
    for p in imap["servers"].as_array().unwrap() {
        assert_eq!(p["protocol"], "imap");
    }

    let lines = jsonl(&["--protocol", "imap", &all]);
    for line in lines.iter().filter(|l| l["network"].is_object()) {
        assert_eq!(line["network"]["protocol"], "imap", "{line}");
    }
    assert_eq!(of_type(&lines, "session").len(), 17);

    let out = table(&["--protocol", "pop3", &all]);
    assert!(out.contains("pop3"), "{out}");
    for other in ["┆ imap ", "┆ smtp "] {
        assert!(!out.contains(other), "{other} in:\n{out}");
    }
}

#[test]
fn late_finding_survives_min_severity_in_table_and_evidence() {
    let cross = sample("findings/smtp-stripped-cross-session.pcap");
    // The document has it.
    let doc = json(&["--min-severity", "high", &cross]);
    assert_eq!(session_kinds(&doc["sessions"][0]), ["starttls-stripped"]);
    // The table should list the session.
    let out = table(&["--min-severity", "high", &cross]);
    assert!(out.contains("1 with findings (worst: high)"), "{out}");
    assert!(out.contains("HIGH starttls-stripped"), "{out}");
    // The evidence should hold its 32 packets (24-byte header, 16 per record).
    let dir = super::support::scratch("late-evidence");
    let pcap = dir.join("e.pcap");
    let run = super::support::analyze(&[
        "--quiet",
        "--min-severity",
        "high",
        "--write-evidence",
        pcap.to_str().unwrap(),
        &cross,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let bytes = std::fs::read(&pcap).unwrap_or_default();
    assert!(bytes.len() > 24 + 32 * 16, "{} bytes", bytes.len());
    let _ = std::fs::remove_dir_all(&dir);
}
