//! The upgrade lab (`tests/lab/record-upgrade.sh`): real servers and
//! clients of every upgrade protocol through the tampering proxy, both sides
//! recorded. Each scenario's pairs, its first verdict sentence, and no
//! password of the lab in any output without `--show-secrets`.

use super::*;

/// Scenario, pairs, the server's first verdict sentence (high).
const SCENARIOS: &[(&str, usize, &str)] = &[
    (
        "ftp-strip",
        6,
        "the path between the taps removed the AUTH TLS capability from the server's capability list in 3 of 6 sessions",
    ),
    (
        "ftp-mask",
        6,
        "the path between the taps masked the AUTH TLS capability as `XXXX XXX` in 3 of 6 sessions",
    ),
    (
        "ftp-mask-argument",
        6,
        "the path between the taps masked the AUTH TLS capability as `AUTH XXX` in 3 of 6 sessions",
    ),
    (
        "ftp-refuse",
        6,
        "the path between the taps answered the client's AUTH SSL with `534 Request denied for policy reasons (lab middlebox)` itself (the server never saw the command) in 2 of 6 sessions",
    ),
    (
        "ldap-refuse",
        2,
        "the path between the taps answered the client's StartTLS ExtendedRequest with `ExtendedResponse (resultCode 52)` itself (the server never saw the command) in both sessions",
    ),
    (
        "lmtp-strip",
        4,
        "the path between the taps removed the STARTTLS capability from the server's capability list in 3 of 4 sessions",
    ),
    (
        "lmtp-refuse",
        3,
        "the path between the taps answered the client's STARTTLS with `454 4.7.0 TLS not available due to local problem` itself (the server never saw the command) in all 3 sessions",
    ),
    (
        "managesieve-strip",
        4,
        "the path between the taps removed the STARTTLS capability from the server's capability list in 3 of 4 sessions",
    ),
    (
        "managesieve-refuse",
        3,
        "the path between the taps answered the client's STARTTLS with `NO \"TLS not available (lab middlebox)\"` itself (the server never saw the command) in all 3 sessions",
    ),
    (
        "mysql-strip",
        3,
        "the path between the taps removed the CLIENT_SSL capability from the server's capability list in 2 of 3 sessions",
    ),
    (
        "nntp-strip",
        5,
        "the path between the taps removed the STARTTLS capability from the server's capability list in 4 of 5 sessions",
    ),
    (
        "nntp-mask",
        4,
        "the path between the taps masked the STARTTLS capability as `XXXXXXXX` in all 4 sessions",
    ),
    (
        "nntp-refuse",
        4,
        "the path between the taps answered the client's STARTTLS with `580 Can not initiate TLS negotiation (lab middlebox)` itself (the server never saw the command) in all 4 sessions",
    ),
    (
        "postgresql-strip",
        4,
        "the path between the taps answered the client's SSLRequest with `N` itself (the server never saw the command) in 3 of 4 sessions",
    ),
    (
        "xmpp-strip",
        3,
        "the path between the taps removed the STARTTLS capability from the server's capability list in all 3 sessions",
    ),
    (
        "xmpp-mask",
        3,
        "the path between the taps masked the STARTTLS capability as `XXXXXXXX` in all 3 sessions",
    ),
    (
        "xmpp-refuse",
        3,
        "the path between the taps answered the client's starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\" / with `failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/` itself (the server never saw the command) in all 3 sessions",
    ),
    (
        "ftp-rewrite",
        6,
        "the path between the taps overwrote the client's `AUTH SSL` with `XXXX XXX` in 2 of 6 sessions",
    ),
    (
        "ftp-injection",
        6,
        "the path between the taps injected `NOOP` after the client's AUTH TLS (command injection) in 3 of 6 sessions",
    ),
    (
        "lmtp-rewrite",
        3,
        "the path between the taps overwrote the client's `STARTTLS` with `XXXXXXXX` in all 3 sessions",
    ),
    (
        "lmtp-injection",
        4,
        "the path between the taps injected `RSET` after the client's STARTTLS (command injection) in 2 of 4 sessions",
    ),
    (
        "nntp-rewrite",
        4,
        "the path between the taps overwrote the client's `STARTTLS` with `XXXXXXXX` in all 4 sessions",
    ),
    (
        "nntp-injection",
        8,
        "the path between the taps injected `DATE` after the client's STARTTLS (command injection) in 4 of 8 sessions",
    ),
    (
        "managesieve-rewrite",
        3,
        "the path between the taps overwrote the client's `STARTTLS` with `XXXXXXXX` in all 3 sessions",
    ),
    (
        "managesieve-injection",
        6,
        "the path between the taps injected `NOOP` after the client's STARTTLS (command injection) in 3 of 6 sessions",
    ),
    (
        "xmpp-rewrite",
        3,
        "the path between the taps overwrote the client's `starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\" /` with `XXXXXXXX xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\" /` in all 3 sessions",
    ),
];

#[test]
fn every_upgrade_protocol_has_its_tampering_told_and_attributed() {
    for (name, pairs, sentence) in SCENARIOS {
        let (json, code, _, _) = lab(name);
        assert_eq!(code, 1, "{name}");
        assert_eq!(json["pairs"].as_array().unwrap().len(), *pairs, "{name}");
        let first = verdict(&json).into_iter().next().unwrap();
        assert_eq!(first, format!("high {sentence}"), "{name}");
        // Every change is told at the packet it was seen at, at each tap
        // that saw it.
        for p in json["pairs"].as_array().unwrap() {
            assert_eq!(p["client_side"], "inside", "{name}: {}", p["id"]);
            for c in p["changes"].as_array().unwrap() {
                let told = ["inside", "outside"]
                    .iter()
                    .filter_map(|tap| c[*tap]["packet"].as_u64())
                    .count();
                assert!(told > 0, "{name}: {c}");
            }
        }
    }
}

#[test]
fn no_lab_password_in_any_diff_output_without_show_secrets() {
    for (name, _, _) in SCENARIOS {
        let inside = repo(&format!("samples/lab/{name}.client.pcap"));
        let outside = repo(&format!("samples/lab/{name}.server.pcap"));
        let (i, o) = (inside.to_str().unwrap(), outside.to_str().unwrap());
        for format in ["table", "json", "jsonl"] {
            let (out, _) = run(&["--format", format, i, o]);
            assert!(!out.contains("pw-lab"), "{name} {format}");
        }
    }
}
