//! Secrets: masked in every format and in the evidence pcaps unless
//! `--show-secrets`, shown everywhere with it.

use super::support::{analyze, bytes, contains, sample, scratch};
use crate::findings_support::secrets::{forms, secrets};
use crate::gen_samples::mechanisms as mech;
use std::path::{Path, PathBuf};

/// An evidence file and its bytes.
type Evidence = (PathBuf, Vec<u8>);

/// The three formats' outputs over the findings samples, plus the bytes of
/// the evidence written as one file and as a directory.
fn outputs(extra: &[&str], dir: &Path) -> (Vec<(String, String)>, Vec<Evidence>) {
    let findings = sample("findings");
    let mut texts = Vec::new();
    for format in ["table", "json", "jsonl"] {
        let mut args = vec!["--format", format];
        args.extend_from_slice(extra);
        args.push(&findings);
        let run = analyze(&args);
        assert_eq!(run.code, 1, "{}", run.stderr);
        texts.push((format.to_string(), run.stdout));
    }
    let file = dir.join("evidence.pcap");
    let per_finding = dir.join("per-finding");
    std::fs::create_dir_all(&per_finding).unwrap();
    for target in [&file, &per_finding] {
        let mut args = vec!["--quiet", "--format", "jsonl", "--write-evidence"];
        args.push(target.to_str().unwrap());
        args.extend_from_slice(extra);
        args.push(&findings);
        let run = analyze(&args);
        assert_eq!(run.code, 1, "{}", run.stderr);
    }
    let mut pcaps = vec![(file.clone(), bytes(&file))];
    for entry in std::fs::read_dir(&per_finding).unwrap() {
        let path = entry.unwrap().path();
        pcaps.push((path.clone(), bytes(&path)));
    }
    assert!(pcaps.len() > 40, "{} evidence files", pcaps.len());
    (texts, pcaps)
}

/// `prefix` then `secret` replaced by as many `*`, then CR LF.
fn masked_line(prefix: &str, secret: &str) -> Vec<u8> {
    format!("{prefix}{}\r\n", "*".repeat(secret.len())).into_bytes()
}

#[test]
fn no_secret_in_any_format_or_evidence_without_show_secrets() {
    let dir = scratch("secrets-masked");
    let (texts, pcaps) = outputs(&[], &dir);
    let secrets = secrets();
    assert!(secrets.len() > 40, "{}", secrets.len());
    for (format, out) in &texts {
        for secret in &secrets {
            for form in forms(secret) {
                assert!(!out.contains(&form), "--format {format} shows {form:?}");
            }
        }
    }
    // The Kerberos AP-REQ of the GSSAPI session is no password, token or
    // challenge response: stripwatch lists no credential for it (its bytes
    // are masked all the same, as every byte of an exchange).
    let kerberos = mech::gssapi_token(2301, 600);
    assert!(secrets.contains(&kerberos));
    for (path, pcap) in &pcaps {
        for secret in secrets.iter().filter(|s| **s != kerberos) {
            assert!(
                !contains(pcap, secret.as_bytes()),
                "{} holds {secret:?}",
                path.display()
            );
        }
    }
    // The lines are there, the secret bytes are `*` of the same length.
    let all = &pcaps[0].1;
    for line in [
        masked_line("a001 LOGIN kim ", mech::IMAP_ATOM.secret),
        masked_line("a002 LOGIN judy ", mech::IMAP_MASKED.secret),
        masked_line("PASS ", mech::POP3_MASKED.secret),
        masked_line("PASS ", mech::POP3_USER_PASS.secret),
        masked_line("AUTH PLAIN ", &mech::plain(mech::SMTP_PLAIN)),
    ] {
        assert!(contains(all, &line), "{}", String::from_utf8_lossy(&line));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_secrets_reveals_them_in_every_format_and_evidence() {
    let dir = scratch("secrets-shown");
    let (texts, pcaps) = outputs(&["--show-secrets"], &dir);
    let shown = [
        mech::SMTP_PLAIN.secret,
        mech::IMAP_ATOM.secret,
        mech::POP3_MASKED.secret,
        mech::SMTP_XOAUTH2.secret,
    ];
    for (format, out) in &texts {
        for secret in shown {
            assert!(out.contains(secret), "--format {format} lacks {secret}");
        }
    }
    let (_, table) = &texts[0];
    assert!(table.contains("PLAIN alice@example.com pw-smtp-plain-7Q (success)"));
    assert!(table.contains("IMAP-LOGIN kim pw-imap-atom-2C (success)"));
    assert!(!table.contains("<redacted>"), "{table}");
    // The evidence keeps the bytes as captured.
    let all = &pcaps[0].1;
    for line in [
        format!("a001 LOGIN kim {}\r\n", mech::IMAP_ATOM.secret),
        format!("PASS {}\r\n", mech::POP3_MASKED.secret),
        format!("AUTH PLAIN {}\r\n", mech::plain(mech::SMTP_PLAIN)),
    ] {
        assert!(contains(all, line.as_bytes()), "{line:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
