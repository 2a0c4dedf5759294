//! A middlebox that rewrites packets in place (`samples/diff/`, and
//! pairs made here): pairing by five-tuple and by NAT, what it changed.

use super::*;

#[test]
fn untampered_pair_by_five_tuple_shows_no_change() {
    let (inside, outside) = pair_paths("clean");
    let (json, code) = diff_json(&inside, &outside, &[]);
    assert_eq!(code, 0);
    let pairs = json["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3);
    for p in pairs {
        assert_eq!(p["pairing"]["method"], "five-tuple");
        assert_eq!(p["pairing"]["confidence"], 1.0);
        let reasons = p["pairing"]["reasons"].to_string();
        assert!(
            reasons.contains("the same initial sequence numbers at both taps"),
            "{reasons}"
        );
        assert!(
            reasons.contains("first packets 300 µs apart (inside first)"),
            "{reasons}"
        );
        check_changes(p, &[], &inside, &outside);
        assert_eq!(p["tls_both"], true);
        assert_eq!(p["client_side"], "inside");
    }
    let protocols: Vec<&str> = pairs
        .iter()
        .map(|p| p["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["smtp", "imap", "pop3"]);
    assert_eq!(json["summary"]["changes"], 0);
    assert!(json["summary"]["worst"].is_null());
    // Even --fail-on info has nothing to fail on.
    assert_eq!(diff_json(&inside, &outside, &["--fail-on", "info"]).1, 0);
}

#[test]
fn asa_with_nat_is_paired_by_relative_sequence_numbers() {
    let (inside, outside) = pair_paths("smtp-asa-nat");
    let (json, code) = diff_json(&inside, &outside, &[]);
    assert_eq!(code, 1);
    let pairs = json["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    let banner_out = diff_pairs::EXCHANGE_GREETING.trim_end();
    let banner_in =
        "220 ******************************************************************202***2*00*00**0000";
    for (i, p) in pairs.iter().enumerate() {
        assert_eq!(p["pairing"]["method"], "nat", "{}", p["pairing"]);
        assert!(p["pairing"]["confidence"].as_f64().unwrap() >= 0.9);
        let reasons = p["pairing"]["reasons"].to_string();
        let port = 61001 + i;
        assert!(
            reasons.contains(&format!(
                "the client was rewritten: 192.0.2.30:{} at the inside tap is 198.51.100.7:{port} at the outside tap",
                51101 + i
            )),
            "{reasons}"
        );
        assert!(
            reasons.contains(&format!(
                "shifted by +{} (client) and +0 (server)",
                diff_pairs::ASA_ISN_SHIFT
            )),
            "{reasons}"
        );
        assert!(reasons.contains("one handshake, forwarded"), "{reasons}");
        assert_eq!(p["client"], format!("192.0.2.30:{}", 51101 + i));
        assert_eq!(p["server"], "203.0.113.61:25");
        check_changes(
            p,
            &[
                want("banner-masked", S2C, Some(banner_in), Some(banner_out)),
                want(
                    "capability-masked",
                    S2C,
                    Some("250-XXXXXXXA"),
                    Some("250-STARTTLS"),
                ),
                want(
                    "capability-masked",
                    S2C,
                    Some("250-XXXXXXXB"),
                    Some("250-CHUNKING"),
                ),
            ],
            &inside,
            &outside,
        );
        assert_eq!(p["changes"][2]["capability"], "CHUNKING");
        assert_eq!(p["changes"][2]["severity"], "low");
    }
    assert_eq!(
        verdict(&json),
        [
            "high the path between the taps behaves like Cisco ASA inspect esmtp with mask-banner \
          and no allow-tls (greeting masked with asterisks, STARTTLS turned into XXXXXXXA, \
          CHUNKING into XXXXXXXB) in both sessions"
        ]
    );
    // The same pair the other way round: the outside tap is then taken for
    // the client's side from the timing of the lines.
    let (json, _) = diff_json(&outside, &inside, &[]);
    for p in json["pairs"].as_array().unwrap() {
        assert_eq!(p["client_side"], "outside");
        assert_eq!(p["changes"][1]["outside"]["excerpt"], "250-XXXXXXXA");
        assert_eq!(p["changes"][1]["inside"]["excerpt"], "250-STARTTLS");
    }
}

#[test]
fn transparent_imap_mask_is_paired_by_five_tuple() {
    let (inside, outside) = pair_paths("imap-masked");
    let (json, code) = diff_json(&inside, &outside, &[]);
    assert_eq!(code, 1);
    let p = &json["pairs"][0];
    assert_eq!(p["pairing"]["method"], "five-tuple");
    let g = |mask: &str| {
        format!(
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ {mask} AUTH=PLAIN] Dovecot (Debian) ready."
        )
    };
    let c = |mask: &str| {
        format!(
            "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ {mask} AUTH=PLAIN"
        )
    };
    let (gi, go, ci, co) = (g("XXXXXXXX"), g("STARTTLS"), c("XXXXXXXX"), c("STARTTLS"));
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    check_changes(
        p,
        &[
            want("capability-masked", S2C, Some(leak(gi)), Some(leak(go))),
            want("capability-masked", S2C, Some(leak(ci)), Some(leak(co))),
        ],
        &inside,
        &outside,
    );
    assert_eq!(
        p["attribution"],
        "the path between the taps masked the STARTTLS capability as `XXXXXXXX`"
    );
    // The cleartext LOGIN is the same at both taps: not a change, and its
    // password is nowhere in the report.
    let (out, _) = run(&[
        inside.to_str().unwrap(),
        outside.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(!out.contains(diff_pairs::IMAP_PASSWORD));
}

// ----- sessions at one tap only, several files -----

#[test]
fn sessions_seen_at_one_tap_only_are_listed() {
    let (clean_in, _) = pair_paths("clean");
    let (_, asa_out) = pair_paths("smtp-asa-nat");
    let (json, code) = diff_json(&clean_in, &asa_out, &[]);
    assert_eq!(code, 0, "sessions at one tap only are no change");
    assert_eq!(json["pairs"].as_array().unwrap().len(), 0);
    let one: Vec<(String, String)> = json["one_side_only"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["tap"].as_str().unwrap().to_string(),
                o["server"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(one.len(), 5, "{one:?}");
    assert_eq!(one.iter().filter(|(t, _)| t == "inside").count(), 3);
    assert_eq!(one.iter().filter(|(t, _)| t == "outside").count(), 2);
    assert_eq!(json["summary"]["inside_only"], 3);
    assert_eq!(json["summary"]["outside_only"], 2);
    let (table, _) = run(&[clean_in.to_str().unwrap(), asa_out.to_str().unwrap()]);
    assert!(table.contains("Seen at one tap only"), "{table}");
}

#[test]
fn several_files_per_tap() {
    let (clean_in, clean_out) = pair_paths("clean");
    let (imap_in, imap_out) = pair_paths("imap-masked");
    let (out, code) = run(&[
        clean_in.to_str().unwrap(),
        clean_out.to_str().unwrap(),
        "--inside",
        imap_in.to_str().unwrap(),
        "--outside",
        imap_out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["pairs"].as_array().unwrap().len(), 4);
    assert_eq!(json["summary"]["changed_pairs"], 1);
    assert_eq!(json["inputs"]["inside"].as_array().unwrap().len(), 2);
    // Versions name their file when a tap has several.
    let changed = json["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| !p["changes"].as_array().unwrap().is_empty())
        .unwrap();
    assert!(
        changed["changes"][0]["inside"]["file"]
            .as_str()
            .unwrap()
            .ends_with("imap-masked.inside.pcap")
    );
}

pub fn smtp_session(reply: &str) -> Conversation {
    let mut c = Conversation::new("192.0.2.33:52003", "203.0.113.65:25");
    c.handshake();
    c.server_sends("220 mx ESMTP\r\n");
    c.client_sends("EHLO a\r\n");
    c.server_sends(reply);
    c.client_sends("QUIT\r\n");
    c.server_sends("221 bye\r\n");
    c.close(Dir::Client);
    c
}

#[test]
fn removing_the_last_capability_line_is_one_change() {
    // A box that removes `250 STARTTLS`, the reply's last line, must end
    // the reply on the line before: that re-marking is part of the
    // removal, not a change of its own.
    let outside = smtp_session("250-mx\r\n250-8BITMIME\r\n250 STARTTLS\r\n");
    let inside = smtp_session("250-mx\r\n250 8BITMIME\r\n");
    let (dir, paths) = write_samples(
        "last",
        &[
            Sample::new("last.inside.pcap", "").conversation(inside),
            Sample::new("last.outside.pcap", "").conversation(outside),
        ],
    );
    let (json, code) = diff_json(&paths[0], &paths[1], &[]);
    assert_eq!(code, 1);
    let p = &json["pairs"][0];
    assert_eq!(p["pairing"]["method"], "five-tuple");
    check_changes(
        p,
        &[want("capability-removed", S2C, None, Some("250 STARTTLS"))],
        &paths[0],
        &paths[1],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lines_around_lost_bytes_are_not_compared() {
    let reply = "250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
    let outside = smtp_session(reply);
    // The inside tap missed the EHLO reply's segment (the client
    // acknowledged it): a gap, not a removal.
    let mut lossy = smtp_session(reply);
    let segment = lossy
        .wire()
        .iter()
        .position(|p| p.payload.starts_with(b"250-mx"))
        .unwrap();
    lossy.drop_packet(crate::gen_samples::conversation::PacketId(segment));
    let (dir, paths) = write_samples(
        "gap",
        &[
            Sample::new("gap.inside.pcap", "").conversation(lossy),
            Sample::new("gap.outside.pcap", "").conversation(outside),
        ],
    );
    let (json, code) = diff_json(&paths[0], &paths[1], &[]);
    assert_eq!(code, 0);
    let p = &json["pairs"][0];
    check_changes(p, &[], &paths[0], &paths[1]);
    assert_eq!(p["inside"]["gaps"], serde_json::json!([0, 1]));
    let notes = p["not_compared"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0],
        "the server's stream lost 36 bytes at the inside tap: the lines around it were not \
         compared (0 at the inside tap, 3 at the outside tap)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tls_terminated_by_the_middlebox_is_tls_on_one_side_only() {
    // A middlebox that answers STARTTLS itself and speaks TLS with the
    // client, but cleartext with the server.
    let open = |c: &mut Conversation| {
        c.handshake();
        c.server_sends("220 mx ESMTP\r\n");
        c.client_sends("EHLO a\r\n");
        c.server_sends("250-mx\r\n250 STARTTLS\r\n");
    };
    let mut inside = Conversation::new("192.0.2.34:52004", "203.0.113.66:25");
    open(&mut inside);
    inside.client_sends("STARTTLS\r\n");
    inside.server_sends("220 2.0.0 Ready to start TLS\r\n");
    crate::gen_samples::tls::session(&mut inside, "mx.example.org", 7, 1);
    inside.close(Dir::Client);
    let mut outside = Conversation::new("192.0.2.34:52004", "203.0.113.66:25");
    open(&mut outside);
    outside.client_sends("MAIL FROM:<a@example.org>\r\n");
    outside.server_sends("250 2.1.0 Ok\r\n");
    outside.close(Dir::Client);
    let (dir, paths) = write_samples(
        "tls",
        &[
            Sample::new("tls.inside.pcap", "").conversation(inside),
            Sample::new("tls.outside.pcap", "").conversation(outside),
        ],
    );
    let (json, code) = diff_json(&paths[0], &paths[1], &[]);
    assert_eq!(code, 1);
    let p = &json["pairs"][0];
    assert_eq!(p["pairing"]["method"], "five-tuple");
    assert_eq!(p["inside"]["tls"], "established");
    assert_eq!(p["outside"]["tls"], "none");
    let answered = Want {
        answer: Some("220 2.0.0 Ready to start TLS"),
        ..want(
            "starttls-answered-by-middlebox",
            C2S,
            Some("STARTTLS"),
            None,
        )
    };
    check_changes(
        p,
        &[
            answered,
            want(
                "command-injected",
                C2S,
                None,
                Some("MAIL FROM:<a@example.org>"),
            ),
            want("reply-dropped", S2C, None, Some("250 2.1.0 Ok")),
            want("tls-one-side", S2C, Some("TLS ServerHello (TLS 1.3"), None),
        ],
        &paths[0],
        &paths[1],
    );
    let tls = &p["changes"][3];
    assert_eq!(tls["severity"], "high");
    assert_eq!(
        tls["summary"],
        "TLS differs between the taps: established at the inside tap, none at the outside tap"
    );
    assert_eq!(
        p["attribution"],
        "the path between the taps answered the client's STARTTLS with `220 2.0.0 Ready to \
         start TLS` itself (the server never saw the command); did not let TLS through the same \
         way on both sides (TLS established at the inside tap, none at the outside tap); \
         injected the command `MAIL FROM:<a@example.org>`; dropped the server's `250 2.1.0 Ok`"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
