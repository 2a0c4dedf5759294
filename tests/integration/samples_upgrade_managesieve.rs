//! `samples/upgrade/managesieve.pcap` (generated: `examples/gen_samples/upgrade_managesieve.rs`):
//! each session's protocol, STARTTLS lifecycle, credentials and findings as
//! the sample truly is, and no password (nor the base64 text that carries
//! it) in any output or evidence packet unless `--show-secrets`.

use crate::gen_samples::mechanisms::{b64, plain};
use crate::gen_samples::upgrade_managesieve::{
    LOGIN_REFUSED, PLAIN_LITERAL, PLAIN_STRIPPED, SECRETS,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample() -> PathBuf {
    upgrade_sample("managesieve.pcap")
}

/// A sample under `samples/upgrade/`.
pub(crate) fn upgrade_sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/upgrade")
        .join(name)
}

fn stripwatch(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args(args)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0..=1)), "{out:?}");
    out.stdout
}

fn report(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(extra);
    args.push(path.to_str().unwrap());
    serde_json::from_slice(&stripwatch(&args)).unwrap()
}

/// (offered, requested, accepted, tls), credentials as (mechanism, user,
/// outcome), findings as (kind, severity), per session.
pub(crate) type Truth = (
    Value,
    &'static [(&'static str, &'static str, &'static str)],
    &'static [(&'static str, &'static str)],
);

#[test]
fn managesieve_sessions_as_they_are() {
    let truth: [Truth; 5] = [
        (
            json!({"offered": true, "requested": true, "accepted": true, "tls_established": true}),
            &[],
            &[],
        ),
        (
            json!({"offered": false, "requested": false, "accepted": null, "tls_established": false}),
            &[("PLAIN", "sieve-ann", "success")],
            &[
                ("cleartext-credentials", "critical"),
                ("starttls-stripped", "high"),
            ],
        ),
        (
            json!({"offered": false, "requested": false, "accepted": null, "tls_established": false}),
            &[("PLAIN", "sieve-bob", "success")],
            &[
                ("cleartext-credentials", "critical"),
                ("starttls-stripped", "high"),
            ],
        ),
        (
            json!({"offered": true, "requested": true, "accepted": false, "tls_established": false}),
            &[],
            &[("starttls-rejected", "medium")],
        ),
        (
            json!({"offered": true, "requested": false, "accepted": null, "tls_established": false}),
            &[("LOGIN", "sieve-cid", "failure")],
            &[
                ("cleartext-credentials", "high"),
                ("starttls-not-used", "medium"),
            ],
        ),
    ];
    let r = check_sessions(&sample(), "managesieve", &truth);
    // The masked word is the proof of session 3, the other session's
    // offer the proof of session 2.
    let stripped: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "starttls-stripped")
        .collect();
    assert_eq!(stripped[0]["proof"], "same-run");
    let excerpts = stripped[1]["evidence"].to_string();
    assert!(excerpts.contains("XXXXXXXX"), "{excerpts}");
}

/// Each session of the sample at `path` is of `protocol` and as `truth`
/// says; returns the report.
pub(crate) fn check_sessions(path: &Path, protocol: &str, truth: &[Truth]) -> Value {
    let r = report(path, &[]);
    let sessions = r["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), truth.len());
    for (i, (s, (starttls, creds, findings))) in sessions.iter().zip(truth).enumerate() {
        assert_eq!(s["protocol"], protocol, "session {}", i + 1);
        assert_eq!(s["starttls"], *starttls, "session {}", i + 1);
        let got: Vec<(String, String, String)> = s["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                assert_eq!(c["cleartext"], true);
                assert_eq!(c["secret"], "<redacted>");
                let f = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                (f("mechanism"), f("username"), f("outcome"))
            })
            .collect();
        let want: Vec<(String, String, String)> = creds
            .iter()
            .map(|(m, u, o)| (m.to_string(), u.to_string(), o.to_string()))
            .collect();
        assert_eq!(got, want, "session {}", i + 1);
        let mut got: Vec<(String, String)> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["session"] == i + 1)
            .map(|f| {
                let k = |key: &str| f[key].as_str().unwrap().to_string();
                (k("kind"), k("severity"))
            })
            .collect();
        got.sort();
        let want: Vec<(String, String)> = findings
            .iter()
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect();
        assert_eq!(got, want, "session {}", i + 1);
    }
    r
}

/// Every form a secret crossed the wire in.
fn secret_forms() -> Vec<String> {
    let mut out: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    out.push(plain(PLAIN_STRIPPED));
    out.push(plain(PLAIN_LITERAL));
    out.push(b64(LOGIN_REFUSED.secret));
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn managesieve_secrets_stay_masked() {
    check_masked(&sample(), &secret_forms(), SECRETS);
}

/// No form of a secret in any output or evidence packet of the sample at
/// `path`; `--show-secrets` shows each of `secrets`.
pub(crate) fn check_masked(path: &Path, forms: &[String], secrets: &[&str]) {
    let name = path.file_stem().unwrap().to_string_lossy();
    let dir = std::env::temp_dir().join(format!("stripwatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = path.to_str().unwrap();
    let evidence = dir.join("evidence.pcap");
    let mut outputs = Vec::new();
    for format in ["table", "json", "jsonl"] {
        outputs.push(stripwatch(&["analyze", "--format", format, input]));
    }
    outputs.push(stripwatch(&[
        "analyze",
        "--write-evidence",
        evidence.to_str().unwrap(),
        input,
    ]));
    outputs.push(std::fs::read(&evidence).unwrap());
    for out in &outputs {
        for secret in forms {
            assert!(!contains(out, secret), "{secret} leaked");
        }
    }
    // And --show-secrets shows the passwords.
    let shown = report(path, &["--show-secrets"]).to_string();
    for secret in secrets {
        assert!(shown.contains(secret), "{secret} not shown");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
