//! `--write-evidence`: the flagged sessions' packets, secrets masked,
//! checksums fixed; one pcap, or one per (session, finding kind) in a
//! directory. Opened with tshark and capinfos by ignored tests
//! (`STRIPWATCH_EXTERNAL_TESTS=1`).

use super::support::{analyze, bytes, s, sample, scratch, session_kinds, session_packets};
use crate::common::require_external;
use crate::findings_support::secrets::secrets;
use crate::gen_samples::mechanisms as mech;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The report and the evidence of the findings samples (`target` a file,
/// or a directory when it ends with `/`).
fn write_evidence(target: &Path) -> Value {
    let findings = sample("findings");
    let path = target.to_str().unwrap();
    let run = analyze(&["--format", "json", "--write-evidence", path, &findings]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("packets of flagged sessions"),
        "{}",
        run.stderr
    );
    serde_json::from_str(&run.stdout).unwrap()
}

/// The flagged sessions of a report.
fn flagged(doc: &Value) -> Vec<&Value> {
    doc["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| !session_kinds(x).is_empty())
        .collect()
}

/// A four-tuple, the same in both directions.
fn tuple(a: &str, b: &str) -> (String, String) {
    if a < b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// `tshark ARGS`: standard output; fails on any error message.
fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("Running as user") && !l.trim().is_empty())
        .collect();
    assert!(
        out.status.success() && errors.is_empty(),
        "tshark {args:?}: {stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Frames per four-tuple, and each four-tuple's tshark stream index.
fn frames_by_tuple(pcap: &Path) -> BTreeMap<(String, String), (u64, u64)> {
    let text = tshark(&[
        "-r",
        pcap.to_str().unwrap(),
        "-T",
        "fields",
        "-E",
        "separator=,",
        "-e",
        "ip.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "tcp.dstport",
        "-e",
        "tcp.stream",
    ]);
    let mut out: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let key = tuple(&format!("{}:{}", f[0], f[1]), &format!("{}:{}", f[2], f[3]));
        let stream = f[4].parse().unwrap();
        let entry = out.entry(key).or_insert((0, stream));
        entry.0 += 1;
        assert_eq!(entry.1, stream, "one stream per four-tuple");
    }
    out
}

#[test]
fn evidence_directory_has_one_file_per_session_and_kind() {
    let dir = scratch("evidence-names");
    let target = dir.join("per-finding");
    let doc = write_evidence(&PathBuf::from(format!("{}/", target.display())));
    let mut want = BTreeSet::new();
    for session in flagged(&doc) {
        for kind in session_kinds(session) {
            want.insert(format!(
                "session-{:06}-{kind}.pcap",
                session["id"].as_u64().unwrap()
            ));
        }
    }
    let got: BTreeSet<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(got, want);
    // The late finding replaced the early one in the files too.
    let cross = flagged(&doc)
        .into_iter()
        .find(|x| x["client"] == "192.0.2.20:51110")
        .unwrap();
    let id = cross["id"].as_u64().unwrap();
    assert!(got.contains(&format!("session-{id:06}-starttls-stripped.pcap")));
    assert!(!got.contains(&format!("session-{id:06}-no-starttls-offered.pcap")));
    // Every file of a session holds the same packets.
    let mut first_of_session = BTreeMap::new();
    for name in &got {
        let pcap = bytes(&target.join(name));
        assert_eq!(pcap[..4], 0xa1b2_c3d4u32.to_le_bytes(), "{name}");
        assert!(pcap.len() > 24 + 16, "{name} has packets");
        let session = name.split('-').nth(1).unwrap();
        let first = first_of_session
            .entry(session)
            .or_insert_with(|| pcap.clone());
        assert!(*first == pcap, "{name}: not its session's packets");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs tshark: STRIPWATCH_EXTERNAL_TESTS=1"]
fn evidence_file_holds_exactly_the_flagged_sessions() {
    require_external(&["tshark"]);
    let dir = scratch("evidence-file");
    let pcap = dir.join("evidence.pcap");
    let doc = write_evidence(&pcap);
    let frames = frames_by_tuple(&pcap);
    let mut want = BTreeMap::new();
    for session in flagged(&doc) {
        let key = tuple(s(session, "client"), s(session, "server"));
        assert!(want.insert(key, session_packets(session)).is_none());
    }
    let got: BTreeMap<(String, String), u64> =
        frames.iter().map(|(k, (n, _))| (k.clone(), *n)).collect();
    assert_eq!(got, want, "frames per flagged session");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs tshark: STRIPWATCH_EXTERNAL_TESTS=1"]
fn evidence_checksums_are_valid() {
    require_external(&["tshark"]);
    let dir = scratch("evidence-checksums");
    let pcap = dir.join("evidence.pcap");
    write_evidence(&pcap);
    let path = pcap.to_str().unwrap();
    let checked = |filter: &str| {
        tshark(&[
            "-r",
            path,
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            filter,
        ])
        .lines()
        .count()
    };
    assert_eq!(
        checked("tcp.checksum.status==0 || ip.checksum.status==0"),
        0
    );
    let all = tshark(&["-r", path]).lines().count();
    assert!(all > 500, "{all} frames");
    assert_eq!(
        checked("tcp.checksum.status==1"),
        all,
        "every TCP checksum verified good"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs tshark: STRIPWATCH_EXTERNAL_TESTS=1"]
fn evidence_streams_show_stars_for_secrets() {
    require_external(&["tshark"]);
    let dir = scratch("evidence-follow");
    let pcap = dir.join("evidence.pcap");
    let doc = write_evidence(&pcap);
    let frames = frames_by_tuple(&pcap);
    // Every session with a credential, followed as tshark reassembles it.
    let mut follow = Vec::new();
    for session in flagged(&doc) {
        if session["credentials"].as_array().unwrap().is_empty() {
            continue;
        }
        let key = tuple(s(session, "client"), s(session, "server"));
        follow.push(format!("follow,tcp,ascii,{}", frames[&key].1));
    }
    assert!(
        follow.len() >= 15,
        "{} sessions with credentials",
        follow.len()
    );
    let mut args = vec!["-r", pcap.to_str().unwrap(), "-q"];
    for f in &follow {
        args.extend(["-z", f]);
    }
    let text = tshark(&args);
    assert_eq!(text.matches("Follow: tcp,ascii").count(), follow.len());
    for secret in secrets() {
        assert!(!text.contains(&secret), "tshark shows {secret:?}");
    }
    // tshark prints CR LF as `..`: the lines, with stars for the secret.
    for line in [
        format!(
            "a001 LOGIN kim {}",
            "*".repeat(mech::IMAP_ATOM.secret.len())
        ),
        format!("PASS {}", "*".repeat(mech::POP3_MASKED.secret.len())),
        format!(
            "AUTH PLAIN {}",
            "*".repeat(mech::plain(mech::SMTP_PLAIN).len())
        ),
    ] {
        assert!(text.contains(&line), "{line} not in:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs capinfos (tshark): STRIPWATCH_EXTERNAL_TESTS=1"]
fn evidence_directory_files_open_with_their_session_packets() {
    require_external(&["capinfos"]);
    let dir = scratch("evidence-dir");
    let target = dir.join("per-finding");
    std::fs::create_dir_all(&target).unwrap();
    let doc = write_evidence(&target);
    let mut want = BTreeMap::new();
    for session in flagged(&doc) {
        let id = session["id"].as_u64().unwrap();
        for kind in session_kinds(session) {
            let name = format!("session-{id:06}-{kind}.pcap");
            want.insert(name, session_packets(session));
        }
    }
    // capinfos opens every file and counts its packets.
    let mut command = Command::new("capinfos");
    command.args(["-c", "-T", "-r"]).current_dir(&target);
    command.args(want.keys());
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeMap<String, u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, n) = l.split_once('\t').unwrap();
            (name.to_string(), n.trim().parse().unwrap())
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), want.len());
    let _ = std::fs::remove_dir_all(&dir);
}
