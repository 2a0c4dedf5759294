//! `samples/upgrade/nntp.pcap` (generated: `examples/gen_samples/upgrade_nntp.rs`):
//! each session's protocol, STARTTLS lifecycle, credentials and findings as
//! the sample truly is, and no password (nor the base64 text that carries
//! it) in any output or evidence packet unless `--show-secrets`.

use crate::gen_samples::mechanisms::plain;
use crate::gen_samples::upgrade_nntp::{SASL_PLAIN, SECRETS};
use crate::samples_upgrade_managesieve::{Truth, check_masked, check_sessions, upgrade_sample};
use serde_json::json;

#[test]
fn nntp_sessions_as_they_are() {
    let truth: [Truth; 4] = [
        (
            json!({"offered": true, "requested": true, "accepted": true, "tls_established": true}),
            &[],
            &[],
        ),
        (
            json!({"offered": false, "requested": false, "accepted": null, "tls_established": false}),
            &[("AUTHINFO", "news-dan", "success")],
            &[
                ("cleartext-credentials", "critical"),
                ("starttls-stripped", "high"),
            ],
        ),
        (
            json!({"offered": false, "requested": false, "accepted": null, "tls_established": false}),
            &[("PLAIN", "news-eve", "success")],
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
    ];
    let r = check_sessions(&upgrade_sample("nntp.pcap"), "nntp", &truth);
    let proofs: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "starttls-stripped")
        .map(|f| f["proof"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(proofs, ["same-run", "masked-token"]);
}

#[test]
fn nntp_secrets_stay_masked() {
    let mut forms: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    forms.push(plain(SASL_PLAIN));
    check_masked(&upgrade_sample("nntp.pcap"), &forms, SECRETS);
}
