//! `--policy FILE`: what given servers must do, and the findings a session
//! breaking a rule gets, with the policy as their proof.

use super::support::{analyze, json, sample, scratch};
use serde_json::Value;

fn policy_file(test: &str, text: &str) -> String {
    let path = scratch(test).join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn findings<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

#[test]
fn a_missing_offer_to_a_server_that_must_offer_it_is_stripped_by_policy() {
    let no_starttls = sample("findings/smtp-no-starttls.pcap");
    let without = json(&[&no_starttls]);
    assert!(findings(&without, "starttls-stripped").is_empty());
    assert_eq!(findings(&without, "no-starttls-offered").len(), 2);

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policy.example.toml");
    let with = json(&["--policy", example, &no_starttls]);
    let stripped = findings(&with, "starttls-stripped");
    assert_eq!(stripped.len(), 2);
    for f in &stripped {
        assert_eq!(f["proof"], "policy");
        assert_eq!(f["policy"], "example-mx");
        assert!(
            f["summary"]
                .as_str()
                .unwrap()
                .contains("policy `example-mx`")
        );
    }
    assert!(findings(&with, "no-starttls-offered").is_empty());
}

#[test]
fn stronger_proofs_stay_and_other_servers_are_untouched() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policy.example.toml");
    // The ASA's mask proves it by itself; an earlier session's offer would
    // too (here the offer comes later: the policy is the first proof).
    let asa = json(&["--policy", example, &sample("findings/smtp-asa.pcap")]);
    let stripped = findings(&asa, "starttls-stripped");
    assert_eq!(stripped.len(), 1);
    assert_eq!(stripped[0]["proof"], "masked-token");
    assert!(stripped[0].get("policy").is_none());
    // A server the policy does not name.
    let other = policy_file(
        "policy-other",
        "[[servers]]\nname = \"elsewhere\"\naddresses = [\"192.0.2.0/24\"]\nmust_offer_starttls = true\n",
    );
    let report = json(&[
        "--policy",
        &other,
        &sample("findings/smtp-no-starttls.pcap"),
    ]);
    assert!(findings(&report, "starttls-stripped").is_empty());
}

#[test]
fn cleartext_credentials_to_a_protected_server_are_high_at_least_and_name_the_policy() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policy.example.toml");
    let pop3 = sample("findings/pop3-credentials.pcap");
    let report = json(&["--policy", example, &pop3]);
    let exposed: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "cleartext-credentials" || f["kind"] == "weak-credentials-exposed")
        .collect();
    assert!(!exposed.is_empty());
    for f in exposed {
        assert_eq!(f["proof"], "policy", "{f}");
        assert_eq!(f["policy"], "example-mailboxes");
        assert!(
            matches!(f["severity"].as_str(), Some("high" | "critical")),
            "{f}"
        );
    }
}

#[test]
fn implicit_tls_only_flags_every_session_that_began_in_cleartext() {
    let policy = policy_file(
        "policy-implicit",
        "[[servers]]\nname = \"tls-only\"\naddresses = [\"203.0.113.1\"]\nports = [587]\nimplicit_tls_only = true\n",
    );
    // Four clean STARTTLS sessions to 203.0.113.1 (ports 25, 587, 143, 110).
    let report = json(&["--policy", &policy, &sample("findings/clean-starttls.pcap")]);
    let flagged = findings(&report, "plaintext-on-implicit-tls-port");
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["proof"], "policy");
    assert_eq!(flagged[0]["policy"], "tls-only");
    assert!(
        flagged[0]["summary"]
            .as_str()
            .unwrap()
            .contains("began in cleartext and upgraded with STARTTLS")
    );
    let sessions = report["sessions"].as_array().unwrap();
    let on_587: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["server"] == "203.0.113.1:587")
        .collect();
    assert_eq!(on_587.len(), 1);
    assert_eq!(on_587[0]["findings"][0], "plaintext-on-implicit-tls-port");
    // Implicit TLS itself breaks nothing.
    let implicit = json(&[
        "--policy",
        &policy,
        &sample("findings/clean-implicit-tls.pcap"),
    ]);
    assert!(findings(&implicit, "plaintext-on-implicit-tls-port").is_empty());
}

#[test]
fn a_broken_policy_stops_the_run_with_status_2_and_says_where() {
    let typo = policy_file(
        "policy-typo",
        "[[servers]]\nname = \"mx\"\naddresses = [\"192.0.2.1\"]\nmust_offer_startls = true\n",
    );
    let run = analyze(&["--policy", &typo, &sample("findings/clean-starttls.pcap")]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("unknown field"), "{}", run.stderr);
    assert!(run.stderr.contains("policy.toml"), "{}", run.stderr);
    let missing = analyze(&["--policy", "/nonexistent/policy.toml", &sample("findings")]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("/nonexistent/policy.toml"),
        "{}",
        missing.stderr
    );
}
