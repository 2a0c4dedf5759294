//! Exit statuses: 0 when nothing at or above `--fail-on` was reported, 1
//! when something was, 2 when an input could not be read completely (2
//! wins over 1).

use super::support::{analyze, json, sample};

fn code(args: &[&str]) -> i32 {
    let mut all = vec!["--quiet"];
    all.extend_from_slice(args);
    let run = analyze(&all);
    assert!(
        !run.stdout.is_empty(),
        "a report is written whatever the status"
    );
    run.code
}

#[test]
fn zero_when_nothing_reaches_fail_on() {
    let clean = sample("findings/clean-starttls.pcap");
    let implicit = sample("findings/clean-implicit-tls.pcap");
    assert_eq!(code(&[&clean, &implicit]), 0);
    for level in ["info", "low", "medium", "high", "critical", "never"] {
        assert_eq!(code(&["--fail-on", level, &clean]), 0, "--fail-on {level}");
    }
    // Critical findings, but never fail.
    assert_eq!(code(&["--fail-on", "never", &sample("findings")]), 0);
    for format in ["json", "jsonl"] {
        assert_eq!(
            code(&[
                "--format",
                format,
                "--fail-on",
                "never",
                &sample("findings")
            ]),
            0
        );
    }
}

#[test]
fn one_with_findings_at_or_above_the_default_high() {
    // smtp-asa: high (stripped) and low (banner).
    let asa = sample("findings/smtp-asa.pcap");
    for format in ["table", "json", "jsonl"] {
        assert_eq!(code(&["--format", format, &asa]), 1, "--format {format}");
    }
    assert_eq!(code(&["--fail-on", "high", &asa]), 1);
    assert_eq!(code(&["--fail-on", "critical", &asa]), 0);
    // smtp-auth: critical (accepted passwords).
    assert_eq!(
        code(&["--fail-on", "critical", &sample("findings/smtp-auth.pcap")]),
        1
    );
}

#[test]
fn fail_on_threshold_on_a_sample_with_only_medium_findings() {
    let rejected = sample("findings/smtp-starttls-rejected.pcap");
    let doc = json(&[&rejected]);
    let severities: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["medium"]);
    assert_eq!(code(&[&rejected]), 0, "default --fail-on high");
    assert_eq!(code(&["--fail-on", "critical", &rejected]), 0);
    assert_eq!(code(&["--fail-on", "high", &rejected]), 0);
    assert_eq!(code(&["--fail-on", "medium", &rejected]), 1);
    assert_eq!(code(&["--fail-on", "low", &rejected]), 1);
    assert_eq!(code(&["--fail-on", "info", &rejected]), 1);
    // smtp-no-starttls: one low and one medium finding.
    let no_starttls = sample("findings/smtp-no-starttls.pcap");
    assert_eq!(code(&["--fail-on", "medium", &no_starttls]), 1);
    assert_eq!(code(&["--fail-on", "high", &no_starttls]), 0);
    // Findings dropped by --min-severity do not count.
    assert_eq!(
        code(&["--fail-on", "medium", "--min-severity", "high", &rejected]),
        0
    );
}

#[test]
fn two_for_a_truncated_input_even_with_findings() {
    let truncated = sample("transport/smtp-truncated.pcap");
    // Its second session has a high finding (stripped): 2 wins over 1.
    let doc = json(&[&truncated]);
    assert_eq!(doc["findings"][0]["severity"], "high");
    assert!(doc["inputs"][0]["error"].is_string());
    for format in ["table", "json", "jsonl"] {
        let run = analyze(&["--format", format, &truncated]);
        assert_eq!(run.code, 2, "--format {format}");
        assert!(
            run.stderr.contains("packet 43") && run.stderr.contains("smtp-truncated.pcap"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(code(&["--fail-on", "never", &truncated]), 2);
    assert_eq!(code(&["--fail-on", "critical", &truncated]), 2);
    // With complete inputs beside it, still 2.
    assert_eq!(
        code(&[&sample("findings/clean-starttls.pcap"), &truncated]),
        2
    );
    // The table names the damage in the inputs section.
    let run = analyze(&[&truncated]);
    assert!(
        run.stdout
            .contains("packet 43: the file ends in the middle of this packet")
    );
}

#[test]
fn two_for_an_input_that_cannot_be_opened() {
    let run = analyze(&["/nonexistent/stripwatch-no-such.pcap"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("stripwatch-no-such.pcap"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_with_findings_even_when_the_reader_stops_early() {
    use std::process::{Command, Stdio};
    for format in ["table", "jsonl"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
            .args([
                "analyze",
                "--quiet",
                "--format",
                format,
                &sample("findings"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The reader goes away before the first line.
        drop(child.stdout.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "--format {format}");
    }
}
