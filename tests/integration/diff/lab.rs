//! The lab: a terminating proxy (`tests/lab/middlebox.py`) between real
//! clients and Postfix or Dovecot, both sides recorded.

use super::*;

/// Per pair: (the line at the inside tap, the other line).
type Lines = &'static [(&'static str, &'static str)];

/// Every pair of a lab scenario: made by the proxy rule, the client on the
/// inside tap (the client-side capture), the same TLS state at both taps.
fn check_lab_pairs(json: &Value, sessions: usize) {
    let pairs = json["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), sessions);
    assert_eq!(json["one_side_only"].as_array().unwrap().len(), 0);
    for p in pairs {
        assert_eq!(p["pairing"]["method"], "proxy", "{}", p["pairing"]);
        let confidence = p["pairing"]["confidence"].as_f64().unwrap();
        assert!(confidence >= 0.8, "{}", p["pairing"]);
        let reasons = p["pairing"]["reasons"].to_string();
        assert!(
            reasons.contains("a new TCP connection on the far side"),
            "{reasons}"
        );
        // From the timing of the lines both taps saw, or (a client that
        // sent nothing the middlebox passed on unchanged) of the first
        // packets.
        assert_eq!(p["client_side"], "inside");
        let from = p["client_side_from"].as_str().unwrap();
        assert!(matches!(from, "line-timing" | "first-packet"), "{from}");
        assert_eq!(p["inside"]["tls"], p["outside"]["tls"], "pair {}", p["id"]);
        assert!(
            p["inside"]["server"]
                .as_str()
                .unwrap()
                .starts_with("192.0.2.1:")
                || p["inside"]["server"]
                    .as_str()
                    .unwrap()
                    .starts_with("[2001:db8:c::1]:")
        );
    }
}

#[test]
fn lab_asa_is_attributed_to_cisco_asa() {
    let (json, code, inside, outside) = lab("smtp-asa");
    assert_eq!(code, 1);
    check_lab_pairs(&json, 6);
    let wants = [
        want(
            "banner-masked",
            S2C,
            Some("220 ******************************"),
            Some("220 mail.lab.example ESMTP Postfix"),
        ),
        want(
            "capability-masked",
            S2C,
            Some("250-XXXXXXXA"),
            Some("250-STARTTLS"),
        ),
    ];
    for p in json["pairs"].as_array().unwrap() {
        check_changes(p, &wants, &inside, &outside);
        assert_eq!(p["changes"][0]["severity"], "low");
        assert_eq!(p["changes"][1]["severity"], "high");
        assert_eq!(p["changes"][1]["capability"], "STARTTLS");
        assert_eq!(p["changes"][1]["mask"], "XXXXXXXA");
        assert_eq!(
            p["attribution"],
            "the path between the taps behaves like Cisco ASA inspect esmtp with mask-banner \
             and no allow-tls (greeting masked with asterisks, STARTTLS turned into XXXXXXXA)"
        );
    }
    assert_eq!(
        verdict(&json),
        [
            "high the path between the taps behaves like Cisco ASA inspect esmtp with mask-banner \
          and no allow-tls (greeting masked with asterisks, STARTTLS turned into XXXXXXXA) in \
          all 6 sessions"
        ]
    );
    let server = &json["servers"][0];
    assert_eq!(server["server"], "198.51.100.25:587");
    assert_eq!(server["reached_as"], serde_json::json!(["192.0.2.1:587"]));
}

#[test]
fn lab_strip_removes_the_capability() {
    for (name, line, sessions, unchanged) in [
        ("smtp-strip", "250-STARTTLS", 6, &[][..]),
        ("pop3-strip", "STLS", 4, &[4][..]),
    ] {
        let (json, code, inside, outside) = lab(name);
        assert_eq!(code, 1, "{name}");
        check_lab_pairs(&json, sessions);
        for p in json["pairs"].as_array().unwrap() {
            if unchanged.contains(&p["id"].as_u64().unwrap()) {
                // openssl s_client -starttls pop3 sends no CAPA: nothing
                // to strip.
                check_changes(p, &[], &inside, &outside);
                continue;
            }
            check_changes(
                p,
                &[want("capability-removed", S2C, None, Some(line))],
                &inside,
                &outside,
            );
        }
        let keyword = if name.starts_with("pop3") {
            "STLS"
        } else {
            "STARTTLS"
        };
        let changed = sessions - unchanged.len();
        let of = if changed == sessions {
            format!("all {sessions}")
        } else {
            format!("{changed} of {sessions}")
        };
        assert_eq!(
            verdict(&json),
            [format!(
                "high the path between the taps removed the {keyword} capability from the \
                 server's capability list in {of} sessions"
            )],
            "{name}"
        );
    }
}

#[test]
fn lab_imap_strip_removes_the_token_from_every_capability_list() {
    let (json, _, inside, outside) = lab("imap-strip");
    check_lab_pairs(&json, 4);
    let greeting_in = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5] Dovecot ready.";
    let greeting_out = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5] Dovecot ready.";
    let caps_in = "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5";
    let caps_out = "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5";
    for p in json["pairs"].as_array().unwrap() {
        check_changes(
            p,
            &[
                want(
                    "capability-removed",
                    S2C,
                    Some(greeting_in),
                    Some(greeting_out),
                ),
                want("capability-removed", S2C, Some(caps_in), Some(caps_out)),
            ],
            &inside,
            &outside,
        );
        for c in p["changes"].as_array().unwrap() {
            assert_eq!(c["capability"], "STARTTLS");
            assert_eq!(c["severity"], "high");
        }
    }
}

#[test]
fn lab_rewrite_masks_the_command() {
    let cases: [(&str, Lines); 3] = [
        ("smtp-rewrite", &[("STARTTLS", "XXXXXXXX"); 6]),
        (
            "imap-rewrite",
            &[
                ("A002 STARTTLS", "A002 XXXXXXXX"),
                ("A002 STARTTLS", "A002 XXXXXXXX"),
                ("PAOL1 STARTTLS", "PAOL1 XXXXXXXX"),
                (". STARTTLS", ". XXXXXXXX"),
            ],
        ),
        ("pop3-rewrite", &[("STLS", "XXXX"); 4]),
    ];
    for (name, lines) in cases {
        let (json, code, inside, outside) = lab(name);
        assert_eq!(code, 1);
        check_lab_pairs(&json, lines.len());
        for (p, (before, after)) in json["pairs"].as_array().unwrap().iter().zip(lines) {
            check_changes(
                p,
                &[want("command-masked", C2S, Some(before), Some(after))],
                &inside,
                &outside,
            );
            assert_eq!(p["changes"][0]["severity"], "high");
        }
        let (kw, mask) = if name.starts_with("pop3") {
            ("STLS", "XXXX")
        } else {
            ("STARTTLS", "XXXXXXXX")
        };
        assert_eq!(
            verdict(&json),
            [format!(
                "high the path between the taps overwrote the client's `{kw}` with `{mask}` in all {} sessions",
                lines.len()
            )]
        );
    }
}

#[test]
fn lab_refuse_is_answered_by_the_middlebox() {
    let cases: [(&str, Lines, &str); 3] = [
        (
            "smtp-refuse",
            &[(
                "STARTTLS",
                "454 4.7.0 TLS not available due to local problem",
            ); 6],
            "the client's STARTTLS with `454 4.7.0 TLS not available due to local problem`",
        ),
        (
            "imap-refuse",
            &[
                ("A002 STARTTLS", "A002 NO STARTTLS is not available"),
                ("A002 STARTTLS", "A002 NO STARTTLS is not available"),
                ("FGOH1 STARTTLS", "FGOH1 NO STARTTLS is not available"),
                (". STARTTLS", ". NO STARTTLS is not available"),
            ],
            "the client's STARTTLS with `NO STARTTLS is not available`",
        ),
        (
            "pop3-refuse",
            &[("STLS", "-ERR TLS not available"); 4],
            "the client's STLS with `-ERR TLS not available`",
        ),
    ];
    for (name, lines, text) in cases {
        let (json, code, inside, outside) = lab(name);
        assert_eq!(code, 1);
        check_lab_pairs(&json, lines.len());
        for (p, (cmd, answer)) in json["pairs"].as_array().unwrap().iter().zip(lines) {
            let w = Want {
                answer: Some(answer),
                ..want("starttls-answered-by-middlebox", C2S, Some(cmd), None)
            };
            check_changes(p, &[w], &inside, &outside);
        }
        assert_eq!(
            verdict(&json),
            [format!(
                "high the path between the taps answered {text} itself (the server never saw \
                 the command) in all {} sessions",
                lines.len()
            )]
        );
    }
}

#[test]
fn lab_injection_commands_and_responses() {
    let cases: [(&str, &'static str, &[&'static str]); 3] = [
        (
            "smtp-injection",
            "RSET",
            &["250-mail.example.org", "250 AUTH PLAIN LOGIN"],
        ),
        (
            "imap-injection",
            "x NOOP",
            &["* CAPABILITY IMAP4rev1 AUTH=PLAIN"],
        ),
        ("pop3-injection", "NOOP", &["+OK injected"]),
    ];
    for (name, command, replies) in cases {
        let (json, code, inside, outside) = lab(name);
        assert_eq!(code, 1);
        let pairs = json["pairs"].as_array().unwrap();
        check_lab_pairs(&json, pairs.len());
        let half = pairs.len() / 2;
        for (i, p) in pairs.iter().enumerate() {
            let wants: Vec<Want> = if i < half {
                vec![want("command-injected", C2S, None, Some(command))]
            } else {
                replies
                    .iter()
                    .map(|r| want("reply-injected", S2C, Some(r), None))
                    .collect()
            };
            check_changes(p, &wants, &inside, &outside);
            for c in p["changes"].as_array().unwrap() {
                assert_eq!(c["severity"], "high");
            }
        }
        let sentences = verdict(&json).join("\n");
        let shown = command.trim_start_matches("x ");
        // Each protocol's own word for the request (POP3's STLS).
        let keyword = if name.starts_with("pop3") {
            "STLS"
        } else {
            "STARTTLS"
        };
        assert!(
            sentences.contains(&format!(
                "injected `{shown}` after the client's {keyword} (command injection) in {half} of {} sessions",
                pairs.len()
            )),
            "{sentences}"
        );
        assert!(
            sentences.contains("after the server's TLS go-ahead (response injection)"),
            "{sentences}"
        );
    }
}

#[test]
fn lab_pass_through_sessions_show_no_change() {
    // smtp-mixed and smtp-ipv6 alternate pass and strip; the pass sessions
    // (recorded at both taps) must show nothing, the strip ones the removal.
    for (name, sessions, stripped) in [("smtp-mixed", 4, &[2, 4][..]), ("smtp-ipv6", 3, &[2][..])] {
        let (json, code, inside, outside) = lab(name);
        assert_eq!(code, 1);
        check_lab_pairs(&json, sessions);
        for p in json["pairs"].as_array().unwrap() {
            if stripped.contains(&p["id"].as_u64().unwrap()) {
                check_changes(
                    p,
                    &[want("capability-removed", S2C, None, Some("250-STARTTLS"))],
                    &inside,
                    &outside,
                );
            } else {
                check_changes(p, &[], &inside, &outside);
                assert_eq!(p["tls_both"], true);
                assert_eq!(p["lines_compared"], p["lines_identical"]);
                assert_eq!(
                    p["attribution"],
                    "the path between the taps changed nothing that crossed in cleartext"
                );
            }
        }
    }
    let (json, _, _, _) = lab("smtp-mixed");
    assert_eq!(json["summary"]["changed_pairs"], 2);
}
