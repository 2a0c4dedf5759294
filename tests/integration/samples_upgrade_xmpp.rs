//! The XMPP sessions of the shared upgrade corpus (read in place, never
//! copied; skipped, and said, when absent): a c2s STARTTLS with
//! `<required/>` and an s2s (dialback) STARTTLS on 5269, each offered,
//! requested, accepted and established, with no credential or finding.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/upgrade")
}

#[test]
fn xmpp_starttls_sessions_of_the_upgrade_corpus() {
    let cases = [
        ("zeek/tls/xmpp-starttls.pcap", "198.128.203.95:56048"),
        (
            "zeek/tls/xmpp-dialback-starttls.pcap",
            "184.73.173.246:1193",
        ),
    ];
    for (file, client) in cases {
        let path = corpus().join(file);
        if !path.exists() {
            eprintln!("skipping {file}: not present under {}", corpus().display());
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
            .args(["analyze", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0..=1)), "{out:?}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let sessions = report["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{file}");
        let s = &sessions[0];
        assert_eq!(s["client"], client, "{file}");
        assert_eq!(s["protocol"], "xmpp", "{file}");
        for key in ["offered", "requested", "accepted", "tls_established"] {
            assert_eq!(s["starttls"][key], true, "{file}: starttls.{key}");
        }
        assert_eq!(s["credentials"], serde_json::json!([]), "{file}");
        assert_eq!(s["findings"], serde_json::json!([]), "{file}");
    }
}
