//! Flows and roles as captures from the wild show them (issue 19, classes
//! 5 and 6): flows on a mail port that are not mail are not reported as
//! mail, and corrupt timestamps neither split a connection nor time it out.

use crate::gen_samples::wild_flows::{Restamp, capture, starttls_session};
use crate::sample_support::{EPOCH, report};
use serde_json::Value;
use stripwatch::analysis::{self, AnalysisOptions};
use stripwatch::capture::InputSpec;
use stripwatch::flow::FlowConfig;

/// The report's session between `client` and `server`.
fn session<'a>(json: &'a Value, client: &str, server: &str) -> &'a Value {
    let all = json["sessions"].as_array().unwrap();
    let found: Vec<&Value> = all
        .iter()
        .filter(|s| s["client"] == client && s["server"] == server)
        .collect();
    assert_eq!(found.len(), 1, "{client} -> {server}: {all:#?}");
    found[0]
}

fn note_kinds(s: &Value) -> Vec<&str> {
    s["observability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect()
}

/// (file, client, server, protocol, what the protocol-not-recognised note
/// names as seen, or `None` for a mail session without that note).
#[test]
fn flows_on_mail_ports_that_are_not_mail_are_unknown() {
    let cases: &[(&str, &str, &str, &str, Option<&str>)] = &[
        // FTP since issue 16: server port 21 says what the 220 and USER are.
        (
            "ftp-guesser-client-port-2525.pcap",
            "192.0.2.70:2525",
            "198.51.100.21:21",
            "ftp",
            None,
        ),
        (
            "ftp-guesser-client-port-2525.pcap",
            "192.0.2.71:40001",
            "198.51.100.25:2525",
            "smtp",
            None,
        ),
        (
            "bot-binary-channel.pcap",
            "192.0.2.72:49152",
            "198.51.100.26:25",
            "unknown",
            Some("binary data"),
        ),
        (
            "bot-binary-channel.pcap",
            "192.0.2.72:2525",
            "198.51.100.26:8443",
            "unknown",
            Some("binary data"),
        ),
        (
            "bot-binary-channel.pcap",
            "192.0.2.73:49153",
            "198.51.100.27:25",
            "smtp",
            None,
        ),
    ];
    for (file, client, server, protocol, seen) in cases {
        let (_, json) = report(&format!("wild/flows/{file}"));
        let s = session(&json, client, server);
        assert_eq!(s["protocol"], *protocol, "{file} {client}");
        let note = s["observability"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == "protocol-not-recognised");
        match seen {
            Some(seen) => {
                let detail = note.unwrap()["detail"].as_str().unwrap();
                assert!(detail.contains(seen), "{file} {client}: {detail}");
                // Not mail: nothing a mail rule says, no credential.
                assert_eq!(s["findings"], serde_json::json!([]), "{file} {client}");
                assert_eq!(s["credentials"], serde_json::json!([]), "{file} {client}");
                assert_eq!(s["starttls"]["offered"], Value::Null, "{file} {client}");
            }
            None => assert!(note.is_none(), "{file} {client}: {s:#}"),
        }
    }
}

/// Wire packet `i` of `n` (one frame each, in order); `usize::MAX - k`
/// counts from the end.
fn wire_index(i: usize, n: usize) -> usize {
    if i > n { n - 1 - (usize::MAX - i) } else { i }
}

/// The same session under corrupt stamps: (what, restamped packets as
/// (wire packet, seconds since the epoch), the wire packet the
/// timestamp-off-clock note names, if any). Wire packets: 0 SYN, 1 SYN-ACK,
/// 2 ACK, 3 greeting, 4 its ACK, 5 EHLO, ...
#[test]
fn corrupt_timestamps_neither_split_nor_time_out() {
    const LATE: i64 = EPOCH + 1_500_000_000;
    const YEAR_AGO: i64 = EPOCH - 365 * 86_400;
    type Case<'a> = (&'a str, &'a [(usize, i64)], Option<u64>);
    // Packet counts and bytes, per direction, must be those of the first.
    let cases: &[Case<'_>] = &[
        ("on time", &[], None),
        // The first packet sets the clock; the next ones, far ahead, wait
        // for it to follow, which it does.
        ("SYN in 1970", &[(0, 0)], None),
        ("SYN-ACK 1.5e9 s late", &[(1, LATE)], Some(1)),
        ("EHLO in 1970", &[(5, 0)], Some(5)),
        ("a packet a year early", &[(8, YEAR_AGO)], Some(8)),
        ("two late stamps in a row", &[(1, LATE), (2, LATE)], Some(1)),
        // The last ACK comes after both FINs: the ended session absorbs it.
        ("the last packet late", &[(usize::MAX, LATE)], None),
        (
            "the second to last late",
            &[(usize::MAX - 1, LATE)],
            Some(u64::MAX - 1),
        ),
        ("SYN-ACK late, ACK early", &[(1, LATE), (2, 0)], Some(1)),
    ];
    let dir = std::env::temp_dir().join(format!("stripwatch-wild-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conv = starttls_session("192.0.2.80:49160", "198.51.100.30:25", 80);
    let packets = conv.captured().len();
    // Counts as the on-time capture gives them (the first case).
    let mut on_time: Option<(Value, Value, Value)> = None;
    for (what, restamps, note_frame) in cases {
        let restamp: Vec<Restamp> = restamps
            .iter()
            .map(|(wire, secs)| (0, wire_index(*wire, packets), *secs))
            .collect();
        let path = dir.join("capture.pcap");
        std::fs::write(&path, capture(std::slice::from_ref(&conv), &restamp)).unwrap();
        let inputs = [InputSpec {
            path: path.clone(),
            name: "capture.pcap".into(),
            stream: false,
        }];
        let report = analysis::analyze(&inputs, FlowConfig::default(), AnalysisOptions::default());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["sessions"].as_array().unwrap().len(),
            1,
            "{what}: {json:#}"
        );
        let s = session(&json, "192.0.2.80:49160", "198.51.100.30:25");
        assert_eq!(s["protocol"], "smtp", "{what}");
        assert_eq!(s["end"], "fin", "{what}");
        assert_eq!(s["starttls"]["tls_established"], true, "{what}");
        let counts = (
            s["client_to_server"].clone(),
            s["server_to_client"].clone(),
            json["stats"]["segments"].clone(),
        );
        assert_eq!(&counts, on_time.get_or_insert(counts.clone()), "{what}");
        assert_eq!(report.stats.timed_out, 0, "{what}");
        let frame = note_frame.map(|f| wire_index(f as usize, packets) as u64 + 1);
        let note = s["observability"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == "timestamp-off-clock");
        match frame {
            Some(frame) => {
                let detail =
                    note.unwrap_or_else(|| panic!("{what}: {:?}", note_kinds(s)))["detail"]
                        .as_str()
                        .unwrap();
                assert!(
                    detail.starts_with(&format!("frame {frame} is stamped ")),
                    "{what}: {detail}"
                );
                assert!(report.stats.off_clock_packets >= 1, "{what}");
            }
            None => assert!(note.is_none(), "{what}: {:?}", note_kinds(s)),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Several threads decide the clock as one does.
#[test]
fn same_report_with_threads() {
    let run = |threads: &str| -> Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stripwatch"))
            .args([
                "analyze",
                "--quiet",
                "--format",
                "json",
                "--threads",
                threads,
                "samples/wild/flows",
            ])
            .output()
            .unwrap();
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["stats"].as_object_mut().unwrap().remove("peak_flows");
        v
    };
    let one = run("1");
    assert_eq!(one["sessions"].as_array().unwrap().len(), 7);
    assert_eq!(one["stats"]["off_clock_packets"], 2);
    assert_eq!(one, run("3"));
}
