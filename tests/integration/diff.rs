//! `stripwatch diff`: the same sessions at two taps, one on each side of
//! a middlebox, compared.
//!
//! - The lab (`samples/lab/*.client.pcap` vs `*.server.pcap`, recorded from
//!   Postfix, Dovecot and real clients through `tests/lab/middlebox.py`, a
//!   terminating proxy): every tampering mode gives exactly its changes
//!   (kind, direction, both versions, the packet of each) and its
//!   attribution; the sessions the middlebox passed through give none. All
//!   pairs are made by the proxy rule.
//! - `samples/diff/` (a middlebox rewriting packets in place, made by
//!   `examples/gen_samples`): pairing by five-tuple (no NAT) and by NAT
//!   (client address and port translated, sequence numbers shifted), the
//!   ASA attribution, no change on the untampered pair.
//! - Sessions seen at one tap only, several files per tap, the formats,
//!   exit statuses and the masking of secrets in changed lines.
//!
//! The packet of each version is checked against the capture itself: it
//! must be the first frame of that session, from that side, whose payload
//! carries the line.

mod lab;
mod output;
mod rewriting;
mod upgrade;

use crate::gen_samples::conversation::{Conversation, Dir};
use crate::gen_samples::diff_pairs;
use crate::gen_samples::sample::Sample;
use crate::gen_samples::tamper::Tamper;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use stripwatch::capture::CaptureFile;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs `stripwatch diff` with `args`; returns stdout and the exit status.
fn run(args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .arg("diff")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// The JSON report of `diff INSIDE OUTSIDE` and the exit status.
fn diff_json(inside: &Path, outside: &Path, extra: &[&str]) -> (Value, i32) {
    let mut args = vec![
        inside.to_str().unwrap(),
        outside.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let (out, code) = run(&args);
    (serde_json::from_str(&out).unwrap(), code)
}

fn lab(name: &str) -> (Value, i32, PathBuf, PathBuf) {
    let inside = repo(&format!("samples/lab/{name}.client.pcap"));
    let outside = repo(&format!("samples/lab/{name}.server.pcap"));
    let (json, code) = diff_json(&inside, &outside, &[]);
    (json, code, inside, outside)
}

/// One version expected: the line at that tap.
type Line = Option<&'static str>;

/// A change expected: kind, direction, the inside line, the outside line,
/// and the middlebox's own answer (at the inside tap).
#[derive(Clone, Copy, Debug)]
struct Want {
    kind: &'static str,
    direction: &'static str,
    inside: Line,
    outside: Line,
    answer: Line,
}

const C2S: &str = "client-to-server";
const S2C: &str = "server-to-client";

fn want(kind: &'static str, direction: &'static str, inside: Line, outside: Line) -> Want {
    Want {
        kind,
        direction,
        inside,
        outside,
        answer: None,
    }
}

fn port_of(endpoint: &str) -> u16 {
    endpoint.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// The first frame of the session whose client port is `client_port`,
/// sent by the client (`from_client`) or the server, whose payload holds
/// `line` at the start of a line.
fn frame_with_line(file: &Path, client_port: u16, from_client: bool, line: &str) -> Option<u64> {
    let mut capture = CaptureFile::open(file).unwrap();
    let mut found = None;
    let line = line.as_bytes();
    capture
        .for_each_frame(|frame| {
            let Ok(seg) = stripwatch::decode::decode(frame.link, frame.data) else {
                return true;
            };
            let port = if from_client {
                seg.src_port
            } else {
                seg.dst_port
            };
            if port != client_port {
                return true;
            }
            let p = seg.payload;
            let hit = (0..p.len()).any(|i| {
                (i == 0 || p[i - 1] == b'\n')
                    && p[i..].starts_with(line)
                    && matches!(p.get(i + line.len()), Some(b'\r' | b'\n'))
            });
            if hit {
                found = Some(frame.number);
                return false;
            }
            true
        })
        .unwrap();
    found
}

/// Checks one version of a change: its excerpt, its tap, and that its
/// packet is the frame that carried the line.
fn check_version(
    v: &Value,
    tap: &str,
    line: &str,
    file: &Path,
    session: &Value,
    from_client: bool,
) {
    assert_eq!(v["tap"], tap, "{v}");
    if line.starts_with("TLS ") {
        // A TLS hello, described: its packet is where the TLS bytes begin.
        assert!(v["excerpt"].as_str().unwrap().starts_with(line), "{v}");
        assert!(v["packet"].as_u64().unwrap() > 0);
        return;
    }
    assert_eq!(v["excerpt"], line, "{v}");
    let port = port_of(session["client"].as_str().unwrap());
    let frame = frame_with_line(file, port, from_client, line)
        .unwrap_or_else(|| panic!("no frame of {} carries {line:?}", file.display()));
    assert_eq!(v["packet"], frame, "{tap} packet of {line:?}");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
}

/// Checks a pair's changes against `wants`, in order.
fn check_changes(pair: &Value, wants: &[Want], inside: &Path, outside: &Path) {
    let changes = pair["changes"].as_array().unwrap();
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    let want_kinds: Vec<&str> = wants.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, want_kinds, "pair {}", pair["id"]);
    for (c, w) in changes.iter().zip(wants) {
        assert_eq!(c["direction"], w.direction, "{c}");
        let from_client = w.direction == C2S;
        match w.inside {
            Some(line) => check_version(
                &c["inside"],
                "inside",
                line,
                inside,
                &pair["inside"],
                from_client,
            ),
            None => assert!(c["inside"].is_null(), "{c}"),
        }
        match w.outside {
            Some(line) => check_version(
                &c["outside"],
                "outside",
                line,
                outside,
                &pair["outside"],
                from_client,
            ),
            None => assert!(c["outside"].is_null(), "{c}"),
        }
        match w.answer {
            Some(line) => {
                check_version(&c["answer"], "inside", line, inside, &pair["inside"], false)
            }
            None => assert!(c.get("answer").is_none(), "{c}"),
        }
        assert!(!c["summary"].as_str().unwrap().is_empty());
    }
}

/// The sentences of the (one) server's verdict.
fn verdict(json: &Value) -> Vec<String> {
    let servers = json["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{servers:?}");
    servers[0]["verdict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v["severity"].as_str().unwrap(),
                v["text"].as_str().unwrap()
            )
        })
        .collect()
}

/// Writes `samples` (one file each) under a fresh temp dir.
fn write_samples(tag: &str, samples: &[Sample]) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("stripwatch-diff-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths = samples
        .iter()
        .map(|s| {
            let (name, bytes) = s.render().remove(0);
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    (dir, paths)
}

/// A pair of `samples/diff/`.
fn pair_paths(name: &str) -> (PathBuf, PathBuf) {
    (
        repo(&format!("samples/diff/{name}.inside.pcap")),
        repo(&format!("samples/diff/{name}.outside.pcap")),
    )
}
