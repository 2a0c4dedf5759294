//! `--threads N` gives the same report as one thread: same sessions, ids,
//! findings (and their cross-session proofs), servers and counters (but
//! the per-worker sum of peak flows), and the same JSON lines in the same
//! order.

use crate::adversarial_support::{Capture, TempFile};
use crate::gen_samples::conversation::{Conversation, Dir};
use crate::gen_samples::dialogs::{imap, pop3, smtp};
use crate::gen_samples::tls;
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

/// The document with the one counter that may differ (the sum of each
/// worker's peak flows) blanked.
fn peak_blanked(json: &str) -> String {
    let at = json.find("\"peak_flows\":").expect("stats.peak_flows") + "\"peak_flows\":".len();
    let end = at + json[at..].find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    format!("{}{}", &json[..at], &json[end..])
}

/// (Counts past the cores get the cores; the library's
/// `any_worker_count_gives_one_threads_report` runs them exactly.)
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

/// The reader's batch round in src/parallel.rs: a round is sent when it
/// holds this many mail frame bytes (or 8192 frames, whichever first).
const BATCH_BYTES: usize = 2 << 20;

/// Mail sessions over 2,000 s of capture, many open at once: a few bulk
/// TLS transfers (jumbo frames: the bytes that make the batch rounds, each
/// transfer spanning several) among 400 short and slow sessions of the
/// three protocols, some abandoned (they time out), and 20 abandoned ones
/// whose four-tuple a new connection reuses 100 s later.
fn many_rounds() -> Capture {
    let mut cap = Capture::default();
    for i in 0..14u32 {
        cap.conversation(&bulk_transfer(i));
    }
    for i in 0..400u32 {
        cap.conversation(&short_session(i));
    }
    for i in 0..20u32 {
        let client = format!("192.0.2.9:{}", 45000 + i);
        let start = i64::from(i) * 90;
        let mut first = Conversation::new(&client, "198.51.100.25:25")
            .isns(100 + i, 200 + i)
            .starts_at(start, 0);
        first.handshake();
        smtp::greet_and_ehlo(&mut first, smtp::MX);
        let mut second = Conversation::new(&client, "198.51.100.25:25")
            .isns(900_000 + i, 800_000 + i)
            .starts_at(start + 100, 0);
        smtp::starttls_session(&mut second, u64::from(i));
        cap.conversation(&first).conversation(&second);
    }
    cap
}

/// STARTTLS, then 1.8 MB of TLS records from the client over 400 s.
fn bulk_transfer(i: u32) -> Conversation {
    let client = format!("192.0.2.200:{}", 50000 + i);
    let mut c = Conversation::new(&client, "198.51.100.25:25")
        .isns(7 + i * 1_000_003, 11 + i * 2_000_029)
        .mss(8960)
        .starts_at(i64::from(i) * 130, 0)
        .step_nanos(1_500_000_000);
    c.handshake();
    smtp::greet_and_ehlo(&mut c, smtp::MX);
    smtp::starttls(&mut c, u64::from(i), 0);
    let mut noise = tls::Noise::new(u64::from(i));
    for _ in 0..112 {
        c.client_sends(tls::application_data(16_000, &mut noise));
    }
    c.close(Dir::Client);
    c
}

/// Session `i`, starting every 5 s: SMTP, IMAP or POP3 with STARTTLS, a
/// plain SMTP relay, or one abandoned after the EHLO; every third is slow
/// (20 s between packets, some ten minutes in all).
fn short_session(i: u32) -> Conversation {
    let client = format!("192.0.2.{}:{}", 1 + i % 7, 40000 + i);
    let server = match i % 5 {
        2 => "198.51.100.25:143",
        3 => "198.51.100.25:110",
        _ => "198.51.100.25:25",
    };
    let step = if i % 3 == 0 {
        20_000_000_000
    } else {
        40_000_000
    };
    let mut c = Conversation::new(&client, server)
        .isns(1000 + i * 7919, 5000 + i * 104_729)
        .starts_at(i64::from(i) * 5, i * 1000)
        .step_nanos(step);
    let seed = u64::from(i);
    match i % 5 {
        0 => smtp::starttls_session(&mut c, seed),
        1 => {
            smtp::relay_session(&mut c);
        }
        2 => imap::starttls_session(&mut c, seed),
        3 => pop3::stls_session(&mut c, seed),
        _ => {
            c.handshake();
            smtp::greet_and_ehlo(&mut c, smtp::MX);
        }
    }
    c
}

#[test]
fn same_json_report_over_many_batch_rounds() {
    let cap = many_rounds();
    let bytes: usize = cap.frames().iter().map(|(_, data, _)| data.len()).sum();
    assert!(bytes > 10 * BATCH_BYTES, "{bytes} bytes: under ten rounds");
    let file = TempFile::new("many-rounds.pcap", &cap.pcap());
    let path = file.path().to_str().unwrap();
    let (text_one, text_three) = (report("1", "json", path), report("3", "json", path));
    // Byte for byte: three threads also write the document in parallel.
    assert_eq!(peak_blanked(&text_one), peak_blanked(&text_three));
    let (one, three) = (without_peak(&text_one), without_peak(&text_three));
    assert_eq!(one, three);
    // The capture exercises what the merge must order across rounds.
    let stats = &one["stats"];
    assert!(stats["timed_out"].as_u64() > Some(10), "{stats}");
    assert_eq!(stats["port_reused"].as_u64(), Some(20), "{stats}");
    assert_eq!(one["sessions"].as_array().map(Vec::len), Some(454));
}

/// `--threads` past the cores gets the cores (more only take turns on
/// them), says so unless `--quiet`, and reports what one thread does.
#[test]
fn threads_past_the_cores_get_the_cores() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args(["analyze", "--format", "json", "--threads", "4096"])
        .arg("samples/findings")
        .output()
        .unwrap();
    let said = String::from_utf8(out.stderr).unwrap();
    let note = format!("stripwatch: --threads 4096: {cores}, the cores this process may run on");
    assert!(said.lines().any(|l| l == note), "{said}");
    let many = without_peak(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(many, without_peak(&report("1", "json", "samples/findings")));
    let exactly = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args([
            "analyze",
            "--format",
            "json",
            "--threads",
            &cores.to_string(),
        ])
        .arg("samples/findings")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8(exactly.stderr)
            .unwrap()
            .contains("--threads")
    );
}
