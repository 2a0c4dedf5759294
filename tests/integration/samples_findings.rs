//! Facts about the findings samples under `samples/findings/`: for each
//! sample, every session's STARTTLS lifecycle, implicit TLS and credentials,
//! and the exact list of findings (kind, severity, session, evidence packets
//! and excerpts), as the samples truly are; plus coverage of every finding
//! kind and credential mechanism, and that no secret reaches any output
//! unless `--show-secrets` asks for it.
//!
//! The expectations live in `findings_support` (one module per protocol);
//! evidence frame numbers come from the generator's scripts.

use crate::findings_support::secrets::{forms, secrets};
use crate::findings_support::{KINDS, all, check, imap, pop3, quirks, smtp};
use crate::gen_samples::{self, mechanisms as mech};
use std::collections::BTreeSet;
use std::process::Command;

// ----- clean sessions and implicit TLS -----

#[test]
fn clean_starttls_sessions_have_no_findings() {
    check(&smtp::clean_starttls());
}

#[test]
fn clean_implicit_tls_sessions_have_no_findings() {
    check(&smtp::clean_implicit_tls());
}

#[test]
fn plaintext_on_implicit_tls_ports() {
    check(&smtp::plaintext_on_implicit_ports());
}

// ----- SMTP -----

#[test]
fn smtp_asa_masks_banner_and_starttls() {
    check(&smtp::asa());
}

#[test]
fn smtp_starttls_stripped_proven_by_another_session() {
    check(&smtp::stripped_cross_session());
}

#[test]
fn smtp_no_starttls_offered_low_and_medium() {
    check(&smtp::no_starttls());
}

#[test]
fn smtp_starttls_not_used_and_quit_only() {
    check(&smtp::starttls_not_used());
}

#[test]
fn smtp_starttls_rejected() {
    check(&smtp::starttls_rejected());
}

#[test]
fn smtp_starttls_command_tampered() {
    check(&smtp::command_tampered());
}

#[test]
fn smtp_tls_not_established() {
    check(&smtp::tls_not_established());
}

#[test]
fn smtp_command_and_response_injection() {
    check(&smtp::injection());
}

#[test]
fn smtp_helo_fallback() {
    check(&smtp::helo_fallback());
}

#[test]
fn smtp_auth_mechanisms() {
    check(&smtp::auth());
}

// ----- IMAP -----

#[test]
fn imap_masked_starttls_and_login() {
    check(&imap::masked_caps());
}

#[test]
fn imap_starttls_not_used_and_logout_only() {
    check(&imap::starttls_not_used());
}

#[test]
fn imap_login_quoted_and_literals() {
    check(&imap::login_forms());
}

#[test]
fn imap_authenticate_plain_scram_gssapi() {
    check(&imap::sasl());
}

#[test]
fn imap_preauth() {
    check(&imap::preauth());
}

#[test]
fn imap_starttls_rejected() {
    check(&imap::starttls_rejected());
}

#[test]
fn imap_starttls_command_tampered() {
    check(&imap::command_tampered());
}

#[test]
fn imap_response_injection() {
    check(&imap::response_injection());
}

// ----- POP3 -----

#[test]
fn pop3_masked_stls_and_user_pass() {
    check(&pop3::masked_capa());
}

#[test]
fn pop3_stls_not_used_and_quit_only() {
    check(&pop3::starttls_not_used());
}

#[test]
fn pop3_apop_auth_plain_and_refused_user_pass() {
    check(&pop3::credentials());
}

#[test]
fn pop3_stls_rejected() {
    check(&pop3::starttls_rejected());
}

#[test]
fn pop3_stls_command_tampered() {
    check(&pop3::command_tampered());
}

// ----- samples/wild/quirks: evidence cites the decisive list -----

#[test]
fn quirks_evidence_cites_the_list_before_the_login() {
    check(&quirks::decisive_list());
}

#[test]
fn quirks_decrypted_export_is_tls_not_established() {
    check(&quirks::decrypted_export());
}

#[test]
fn quirks_exchange_anonymous_tls_x_exps_and_asa_chunking_mask() {
    check(&quirks::exchange());
}

#[test]
fn quirks_id_compress_starttls_last_bdat_smtputf8() {
    check(&quirks::modern_clients());
}

// ----- coverage -----

#[test]
fn every_finding_kind_and_mechanism_has_a_sample() {
    let expectations = all();
    let names: BTreeSet<String> = expectations.iter().map(|e| e.name.to_string()).collect();
    let generated: BTreeSet<String> = gen_samples::findings::samples()
        .iter()
        .map(|s| s.name.strip_prefix("findings/").unwrap().to_string())
        .collect();
    assert_eq!(names, generated, "one expectation per findings sample");
    assert_eq!(names.len(), expectations.len(), "no sample expected twice");

    let kinds: BTreeSet<&str> = expectations
        .iter()
        .flat_map(|e| e.findings.iter().map(|f| f.kind))
        .collect();
    assert_eq!(kinds, KINDS.into_iter().collect());
    let severities: BTreeSet<(&str, &str)> = expectations
        .iter()
        .flat_map(|e| e.findings.iter().map(|f| (f.kind, f.severity)))
        .collect();
    for both in [
        ("no-starttls-offered", "low"),
        ("no-starttls-offered", "medium"),
        ("cleartext-credentials", "high"),
        ("cleartext-credentials", "critical"),
    ] {
        assert!(severities.contains(&both), "{both:?}");
    }

    let mechanisms: BTreeSet<&str> = expectations
        .iter()
        .flat_map(|e| e.sessions.iter().flat_map(|s| &s.credentials))
        .map(|c| c.mechanism)
        .collect();
    let want = [
        "APOP",
        "CRAM-MD5",
        "DIGEST-MD5",
        "IMAP-LOGIN",
        "LOGIN",
        "NTLM",
        "OAUTHBEARER",
        "PLAIN",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "USER-PASS",
        "XOAUTH2",
    ];
    assert_eq!(mechanisms, want.into_iter().collect());
    // Every credential has a known username.
    for e in &expectations {
        for c in e.sessions.iter().flat_map(|s| &s.credentials) {
            assert!(!c.username.is_empty(), "{}: {}", e.name, c.mechanism);
        }
    }
}

// ----- secrets -----

/// Every capture the generator writes (transport samples included).
fn all_capture_paths() -> Vec<std::path::PathBuf> {
    gen_samples::render_all()
        .keys()
        .filter(|k| *k != "README.md")
        .map(|k| crate::sample_support::samples_dir().join(k))
        .collect()
}

fn stripwatch(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .arg("analyze")
        .args(args)
        .args(all_capture_paths())
        .output()
        .unwrap();
    // 2: transport/smtp-truncated.pcap is cut short on purpose.
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn no_secret_in_any_output_without_show_secrets() {
    let secrets = secrets();
    assert!(secrets.len() > 40, "{}", secrets.len());
    for format in ["table", "json", "jsonl"] {
        let out = stripwatch(&["--format", format]);
        for secret in &secrets {
            for form in forms(secret) {
                assert!(
                    !out.contains(&form),
                    "--format {format} shows the secret {form:?}"
                );
            }
        }
    }
}

#[test]
fn show_secrets_reveals_every_credential_secret_in_json() {
    let out = stripwatch(&["--format", "json", "--show-secrets"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let shown: BTreeSet<(String, String)> = json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["credentials"].as_array().unwrap())
        .filter_map(|c| {
            let secret = c.get("secret")?.as_str()?.to_string();
            Some((c["username"].as_str()?.to_string(), secret))
        })
        .collect();
    let mut expected = 0;
    for e in all() {
        for c in e.sessions.iter().flat_map(|s| &s.credentials) {
            if let Some(secret) = &c.secret {
                expected += 1;
                assert!(
                    shown.contains(&(c.username.clone(), secret.clone())),
                    "{}: {} secret of {} not shown",
                    e.name,
                    c.mechanism,
                    c.username
                );
            }
        }
    }
    assert_eq!(expected, 19, "credentials with a secret in the samples");
    // The plain passwords and tokens are among them, unescaped where plain.
    for secret in mech::SECRETS {
        let escaped = stripwatch::text::escape(secret.as_bytes());
        let never_on_wire = [
            mech::SMTP_CRAM,
            mech::SMTP_DIGEST,
            mech::SMTP_NTLM,
            mech::SMTP_SCRAM1,
            mech::IMAP_SCRAM256,
            mech::POP3_APOP,
        ];
        if never_on_wire.iter().any(|a| a.secret == *secret) {
            // Never crosses the wire: only its digest or proof does.
            assert!(!out.contains(&escaped), "{secret}");
        } else {
            assert!(shown.iter().any(|(_, s)| *s == escaped), "{secret}");
        }
    }
}
