//! MySQL and MariaDB over the upgrade corpus's real captures, read in
//! place (never copied here): a capture that is not present is skipped
//! with a printed reason. Per capture: every session is `mysql`, with the
//! offer (CLIENT_SSL), the SSLRequest and its TLS, and the credentials the
//! corpus's truth lists; no secret in the report without
//! `--show-secrets`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/upgrade/zeek/mysql")
}

/// The report's text and JSON, or `None` (said) when the capture is absent.
fn report(file: &str, show: bool) -> Option<(String, Value)> {
    let path = corpus().join(file);
    if !path.exists() {
        eprintln!("skipping {file}: not present under {}", corpus().display());
        return None;
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stripwatch"));
    cmd.args(["analyze", "--format", "json"]);
    if show {
        cmd.arg("--show-secrets");
    }
    let out = cmd.arg(&path).output().unwrap();
    assert!(matches!(out.status.code(), Some(0..=1)), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let json = serde_json::from_str(&text).unwrap();
    Some((text, json))
}

/// `offered/requested/accepted/tls creds...` of one session.
fn shape(s: &Value) -> String {
    let t = &s["starttls"];
    let creds: Vec<String> = s["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["mechanism"].as_str().unwrap(),
                c["username"].as_str().unwrap()
            )
        })
        .collect();
    format!(
        "{}/{}/{}/{} {}",
        t["offered"],
        t["requested"],
        t["accepted"],
        t["tls_established"],
        creds.join(",")
    )
}

#[test]
fn mysql_sessions_of_the_upgrade_corpus() {
    let native = "MYSQL-mysql_native_password";
    let sha2 = "MYSQL-caching_sha2_password";
    let cases: &[(&str, &[String])] = &[
        (
            "auth.pcap",
            &[
                vec!["null/false/null/false ".to_string(); 3],
                vec!["false/false/null/false ".to_string()],
                vec![format!("false/false/null/false {native}:root_nope"); 4],
                vec!["false/false/null/false ".to_string()],
                vec![format!("false/false/null/false {native}:root"); 4],
            ]
            .concat(),
        ),
        (
            "plain-amazon-rds.pcap",
            &[format!("true/false/null/false {native}:admin")],
        ),
        (
            "tls-13-amazon-rds.pcap",
            &["true/true/true/true ".to_string()],
        ),
        ("encrypted.pcap", &["true/true/true/true ".to_string()]),
        (
            "caching_sha2_password.pcap",
            &vec![format!("true/false/null/false {sha2}:root"); 3],
        ),
    ];
    for (file, want) in cases {
        let Some((text, json)) = report(file, false) else {
            continue;
        };
        let sessions = json["sessions"].as_array().unwrap();
        assert!(sessions.iter().all(|s| s["protocol"] == "mysql"), "{file}");
        let got: Vec<String> = sessions.iter().map(shape).collect();
        assert_eq!(&got, want, "{file}");
        // The scrambles shown with --show-secrets never show without it.
        let (_, shown) = report(file, true).unwrap();
        for s in shown["sessions"].as_array().unwrap() {
            for c in s["credentials"].as_array().unwrap() {
                if let Some(secret) = c["secret"].as_str().filter(|x| !x.is_empty()) {
                    assert!(!text.contains(secret), "{file}: {secret} shown");
                }
            }
        }
    }
}
