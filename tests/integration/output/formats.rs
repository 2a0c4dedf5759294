//! Each format over the samples: the table's sections and verdict
//! sentences, the JSON document's layout, the JSON lines' types and ECS
//! fields, and how a late finding (cross-session proof of stripping) shows
//! in each.

use super::support::{json, jsonl, of_type, s, sample, session_kinds, table};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Where `needle` starts in `text` (panics when absent).
fn at(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
}

#[test]
fn table_has_verdict_sessions_servers_and_inputs() {
    let (asa, auth) = (
        sample("findings/smtp-asa.pcap"),
        sample("findings/smtp-auth.pcap"),
    );
    let out = table(&[&asa, &auth]);
    assert!(
        out.starts_with(
            "stripwatch: 10 sessions in 2 inputs, 10 with findings (worst: critical)\n"
        ),
        "{out}"
    );
    // The sections, in order.
    let sections = [
        "\nVerdict\n",
        "\nSessions with findings\n",
        "\nServers\n",
        "\nInputs\n",
    ];
    let starts: Vec<usize> = sections.iter().map(|t| at(&out, t)).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{out}");
    let verdict = &out[starts[0]..starts[1]];
    // One sentence per server and kind, most severe first.
    let expected = [
        "  CRITICAL 5 of 9 sessions to 203.0.113.19:587 sent a password or token in cleartext.",
        "  HIGH     the one session to 203.0.113.10:25 had STARTTLS replaced by XXXXXXXA, the \
         signature of a Cisco ASA inspect esmtp policy.",
        "  HIGH     3 of 9 sessions to 203.0.113.19:587 exposed crackable challenge-response logins.",
        "  MEDIUM   203.0.113.19:587 did not offer STARTTLS in all 9 sessions; 8 then sent \
         credentials in cleartext (AUTH CRAM-MD5, AUTH DIGEST-MD5, AUTH LOGIN ×2, AUTH NTLM, \
         AUTH OAUTHBEARER, AUTH PLAIN, AUTH XOAUTH2).",
        "  LOW      the greeting of 203.0.113.10:25 was masked with asterisks in the one session \
         (Cisco ASA mask-banner).",
    ];
    let lines: Vec<&str> = verdict.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(lines, expected, "{verdict}");

    let sessions = &out[starts[1]..starts[2]];
    for needle in [
        "192.0.2.20:51100 → 203.0.113.10:25",
        "HIGH starttls-stripped",
        "LOW banner-masked",
        "PLAIN alice@example.com <redacted> (success)",
        "CRITICAL cleartext-credentials",
        "CRAM-MD5 dave <redacted> (success)",
        "SCRAM-SHA-1 ivan (success)",
        "offered no · requested no · TLS no",
    ] {
        at(sessions, needle);
    }
    // Ten rows, by id.
    for id in 1..=10 {
        at(sessions, &format!("│ {id:<2} ┆ 2024-03-01T12:00:"));
    }
    let servers = &out[starts[2]..starts[3]];
    at(servers, "203.0.113.10:25  ┆ smtp  ┆ 1        ┆ 0 (0%)");
    at(servers, "1 (100%)");
    at(servers, "203.0.113.19:587 ┆ smtp  ┆ 9 ");
    let inputs = &out[starts[3]..];
    for (file, packets) in [(&asa, 33), (&auth, 220)] {
        let row = inputs
            .lines()
            .find(|l| l.contains(file.as_str()))
            .unwrap_or_else(|| panic!("no row for {file}:\n{inputs}"));
        assert!(row.contains(&format!("┆ {packets} ")), "{row}");
        assert!(row.contains("ETHERNET"), "{row}");
        assert!(row.trim_end().ends_with("ok     │"), "{row}");
    }
}

#[test]
fn table_names_the_failure_of_each_kind_of_sample() {
    let out = table(&[&sample("findings")]);
    for sentence in [
        "the one session to 203.0.113.10:25 had STARTTLS replaced by XXXXXXXA, the signature \
         of a Cisco ASA inspect esmtp policy.",
        "1 of 2 sessions to 203.0.113.11:25 had STARTTLS stripped from the server's \
         capabilities on the path (another session in the capture offered it).",
        "in the one session to 203.0.113.15:25 the client's STARTTLS arrived overwritten \
         (XXXXXXXX) and was refused: a middlebox rewrote the command.",
        "203.0.113.16:25 accepted STARTTLS in all 3 sessions but no TLS handshake followed.",
        "the one session to 203.0.113.30:110 had STLS replaced by a same-length mask on the \
         path; 1 then sent USER/PASS in cleartext.",
        "203.0.113.24:143 pre-authenticated 1 of 2 cleartext sessions (IMAP PREAUTH): \
         STARTTLS was impossible.",
        "203.0.113.3:995 spoke cleartext POP3 on an implicit-TLS port in the one session.",
    ] {
        at(&out, sentence);
    }
    // Clean servers make no sentence.
    let verdict = &out[at(&out, "\nVerdict\n")..at(&out, "\nSessions with findings\n")];
    assert!(!verdict.contains("203.0.113.1:"), "{verdict}");
    assert!(!verdict.contains("203.0.113.2:"), "{verdict}");
}

#[test]
fn table_all_also_lists_clean_sessions() {
    let clean = sample("findings/clean-starttls.pcap");
    let out = table(&[&clean]);
    assert!(out.starts_with("stripwatch: 4 sessions in 1 input, 0 with findings\n"));
    assert!(!out.contains("Verdict"), "{out}");
    assert!(!out.contains("Sessions"), "{out}");
    assert!(!out.contains("192.0.2.20:50101"), "{out}");
    at(&out, "\nServers\n");
    at(&out, "\nInputs\n");

    let all = table(&["--all", &clean]);
    let sessions = &all[at(&all, "\nSessions\n")..at(&all, "\nServers\n")];
    for (port, server) in [(50101, 25), (50102, 587), (50103, 143), (50104, 110)] {
        at(
            sessions,
            &format!("192.0.2.20:{port} → 203.0.113.1:{server}"),
        );
    }
    at(sessions, "offered yes · requested yes · TLS yes");

    // With findings too: `--all` adds the clean session 2 of this sample.
    let mixed = sample("findings/smtp-starttls-not-used.pcap");
    let flagged = table(&[&mixed]);
    assert!(flagged.contains("192.0.2.20:51130") && !flagged.contains("192.0.2.20:51131"));
    let all = table(&["--all", &mixed]);
    at(&all, "\nSessions\n");
    at(&all, "192.0.2.20:51131 → 203.0.113.13:25");
}

fn u64_of(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a number in {v}"))
}

#[test]
fn json_document_layout() {
    let doc = json(&[
        &sample("findings"),
        &sample("transport/smtp-truncated.pcap"),
    ]);
    assert_eq!(doc["schema_version"], 1);
    let keys: BTreeSet<&str> = doc.as_object().unwrap().keys().map(|k| &k[..]).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "schema_version",
            "inputs",
            "sessions",
            "findings",
            "servers",
            "stats"
        ])
    );

    let inputs = doc["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 27);
    for input in inputs {
        let file = s(input, "file");
        assert!(u64_of(input, "packets") > 0, "{input}");
        assert!(u64_of(input, "bytes") > 0, "{input}");
        let links = input["link_types"].as_object().unwrap();
        assert_eq!(links["ETHERNET"], input["packets"], "{input}");
        if file.ends_with("smtp-truncated.pcap") {
            assert!(s(input, "error").contains("packet 43"), "{input}");
            assert_eq!(input["error_packet"], 43);
        } else {
            assert!(input.get("error").is_none(), "{input}");
        }
    }
    let asa = inputs
        .iter()
        .find(|i| s(i, "file").ends_with("smtp-asa.pcap"))
        .unwrap();
    assert_eq!(
        (asa["packets"].as_u64(), asa["bytes"].as_u64()),
        (Some(33), Some(3817))
    );

    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 60);
    let ids: Vec<u64> = sessions.iter().map(|x| u64_of(x, "id")).collect();
    assert_eq!(ids, (1..=60).collect::<Vec<_>>(), "sessions in id order");
    for session in sessions {
        for field in [
            "protocol",
            "client",
            "server",
            "first_seen",
            "last_seen",
            "end",
        ] {
            s(session, field);
        }
        for field in ["offered", "requested", "accepted", "tls_established"] {
            assert!(session["starttls"].get(field).is_some(), "{session}");
        }
        assert!(session["credentials"].is_array());
        assert!(session["observability"].is_array());
        assert!(u64_of(&session["client_to_server"], "packets") > 0);
    }

    // Every finding belongs to a session that names its kind, and the
    // sessions name no kind without its finding.
    let findings = doc["findings"].as_array().unwrap();
    let mut by_session: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for f in findings {
        for field in ["kind", "severity", "summary"] {
            s(f, field);
        }
        let evidence = f["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty(), "{f}");
        for e in evidence {
            assert!(["client", "server"].contains(&s(e, "direction")), "{e}");
            assert!(u64_of(e, "packet") > 0);
            s(e, "timestamp");
            s(e, "excerpt");
            // Several inputs: evidence names its file.
            assert!(s(e, "file").ends_with(".pcap"), "{e}");
        }
        by_session
            .entry(u64_of(f, "session"))
            .or_default()
            .insert(s(f, "kind").to_string());
    }
    for session in sessions {
        let kinds: BTreeSet<String> = session_kinds(session).into_iter().collect();
        let listed = by_session
            .remove(&u64_of(session, "id"))
            .unwrap_or_default();
        assert_eq!(kinds, listed, "{session}");
    }
    assert!(by_session.is_empty(), "findings of unknown sessions");

    let servers = doc["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 34);
    let total: u64 = servers.iter().map(|p| u64_of(p, "sessions")).sum();
    assert_eq!(total, 60);
    for p in servers {
        s(p, "server");
        s(p, "protocol");
        assert!(p["findings"].is_object());
    }
    assert_eq!(doc["stats"]["sessions"], 60);
}

/// `event.severity` of each level.
fn ecs_severity(severity: &str) -> u64 {
    match severity {
        "info" => 0,
        "low" => 21,
        "medium" => 47,
        "high" => 73,
        "critical" => 99,
        other => panic!("severity {other}"),
    }
}

/// The ECS fields every session and finding line carries (`source` too
/// unless `without_source`).
fn check_ecs(line: &Value, without_source: bool) {
    let kind = s(line, "type");
    let ts = s(line, "@timestamp");
    assert!(
        ts.starts_with("2024-03-01T12:00:") && ts.ends_with('Z'),
        "{line}"
    );
    let want = if kind == "session" { "event" } else { "alert" };
    assert_eq!(line["event"]["kind"], want, "{line}");
    let ends: &[&str] = if without_source {
        &["destination"]
    } else {
        &["source", "destination"]
    };
    for end in ends {
        let ip = line[end]["ip"]
            .as_str()
            .unwrap_or_else(|| panic!("{end}.ip: {line}"));
        assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{line}");
        assert!(line[end]["port"].as_u64().is_some(), "{end}.port: {line}");
    }
    assert_eq!(line["network"]["transport"], "tcp");
}

#[test]
fn jsonl_every_line_has_a_type_and_ecs_fields() {
    let findings = sample("findings");
    let lines = jsonl(&[&findings]);
    let types: BTreeSet<&str> = lines.iter().map(|l| s(l, "type")).collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "session",
            "finding",
            "input",
            "server",
            "server_observation",
            "summary"
        ])
    );
    // Every mail session is one observation of its server, by this sensor.
    let observations = of_type(&lines, "server_observation");
    let observed: u64 = observations
        .iter()
        .map(|o| o["sessions"].as_u64().unwrap())
        .sum();
    let mail = of_type(&lines, "session")
        .iter()
        .filter(|s| s["protocol"] != "unknown")
        .count();
    assert_eq!(observed, mail as u64);
    for o in &observations {
        assert!(
            o["observer"]["name"]
                .as_str()
                .is_some_and(|n| !n.is_empty()),
            "{o}"
        );
        assert_eq!(
            o["server"],
            format!(
                "{}:{}",
                s(&o["destination"], "ip"),
                o["destination"]["port"]
            )
        );
    }
    let summary = of_type(&lines, "summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(
        lines.last().unwrap()["type"],
        "summary",
        "summary comes last"
    );
    assert_eq!(summary[0]["schema_version"], 1);
    assert_eq!(summary[0]["sessions_seen"], 58);
    assert_eq!(summary[0]["sessions_reported"], 58);
    assert_eq!(of_type(&lines, "input").len(), 26);

    let sessions = of_type(&lines, "session");
    assert_eq!(sessions.len(), 58);
    for line in &sessions {
        check_ecs(line, false);
        for (end, field) in [("source", "client"), ("destination", "server")] {
            let ecs = format!(
                "{}:{}",
                line[end]["ip"].as_str().unwrap(),
                line[end]["port"]
            );
            assert_eq!(ecs, s(line, field), "{line}");
        }
        assert_eq!(line["event"]["start"], line["first_seen"]);
        assert_eq!(line["event"]["end"], line["last_seen"]);
    }
    for line in of_type(&lines, "finding") {
        let late = line.get("late").is_some();
        check_ecs(line, late);
        assert_eq!(line["rule"]["name"], line["kind"], "{line}");
        assert_eq!(
            line["event"]["severity"].as_u64(),
            Some(ecs_severity(s(line, "severity"))),
            "{line}"
        );
        assert_eq!(line["message"], line["summary"]);
        // A finding follows the line of its session.
        let session = line["session"].as_u64().unwrap();
        let here = lines.iter().position(|l| std::ptr::eq(l, line)).unwrap();
        assert!(
            lines[..here]
                .iter()
                .any(|l| l["type"] == "session" && l["id"] == session),
            "{line}"
        );
    }
    for line in of_type(&lines, "server") {
        assert_eq!(line["event"]["kind"], "metric");
        assert!(line["destination"]["port"].as_u64().is_some());
    }

    // The same findings as the document, once late ones replace theirs.
    let doc = json(&[&findings]);
    let mut streamed: BTreeSet<(u64, String)> = BTreeSet::new();
    for line in of_type(&lines, "finding") {
        let session = line["session"].as_u64().unwrap();
        if let Some(replaced) = line["replaces"].as_str() {
            assert!(streamed.remove(&(session, replaced.to_string())), "{line}");
        }
        streamed.insert((session, s(line, "kind").to_string()));
    }
    let documented: BTreeSet<(u64, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["session"].as_u64().unwrap(), s(f, "kind").to_string()))
        .collect();
    assert_eq!(streamed, documented);
}

#[test]
fn late_finding_replaces_no_starttls_offered() {
    // Session 1 lacks STARTTLS; session 2, later, offers it: the proof is
    // made when session 2 ends, after session 1 was streamed.
    let cross = sample("findings/smtp-stripped-cross-session.pcap");
    let lines = jsonl(&[&cross]);
    let kinds: Vec<(&str, u64)> = lines
        .iter()
        .filter(|l| l["type"] == "session" || l["type"] == "finding")
        .map(|l| {
            (
                s(l, "type"),
                l["id"].as_u64().or(l["session"].as_u64()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("session", 1),
            ("finding", 1),
            ("session", 2),
            ("finding", 1)
        ]
    );
    let first = &lines[0];
    assert_eq!(session_kinds(first), ["no-starttls-offered"]);
    assert_eq!(lines[1]["kind"], "no-starttls-offered");
    assert!(lines[1].get("late").is_none());
    let late = &lines[3];
    assert_eq!(late["kind"], "starttls-stripped");
    assert_eq!(late["rule"]["name"], "starttls-stripped");
    assert_eq!(late["severity"], "high");
    assert_eq!(late["event"]["severity"], 73);
    assert_eq!(late["late"], true);
    assert_eq!(late["replaces"], "no-starttls-offered");
    assert_eq!(late["destination"]["ip"], "203.0.113.11");
    assert_eq!(late["destination"]["port"], 25);
    assert_eq!(late["@timestamp"], "2024-03-01T12:00:00.070000Z");
    // Evidence: session 1's list without STARTTLS, session 2's with it.
    let packets: Vec<u64> = late["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["packet"].as_u64().unwrap())
        .collect();
    assert_eq!(packets, [8, 41]);

    // The document and the table show the final state only.
    let doc = json(&[&cross]);
    assert_eq!(session_kinds(&doc["sessions"][0]), ["starttls-stripped"]);
    assert!(session_kinds(&doc["sessions"][1]).is_empty());
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["kind"], "starttls-stripped");
    assert_eq!(findings[0]["session"], 1);
    assert_eq!(doc["servers"][0]["stripped"], 1);
    let out = table(&[&cross]);
    assert!(out.contains("HIGH starttls-stripped"), "{out}");
    assert!(!out.contains("no-starttls-offered"), "{out}");

    // The offer first, the absence second: proven on the spot, not late.
    let lines = jsonl(&[&sample("transport/smtp-truncated.pcap")]);
    let stripped: Vec<&Value> = of_type(&lines, "finding");
    assert_eq!(stripped.len(), 1);
    assert_eq!(stripped[0]["kind"], "starttls-stripped");
    assert_eq!(stripped[0]["session"], 2);
    assert!(stripped[0].get("late").is_none());
    assert_eq!(stripped[0]["source"]["port"], client_port(&lines, 2));
}

/// The client port of session `id` in JSON lines.
fn client_port(lines: &[Value], id: u64) -> Value {
    of_type(lines, "session")
        .into_iter()
        .find(|l| l["id"] == id)
        .map(|l| l["source"]["port"].clone())
        .unwrap()
}

#[test]
fn late_finding_line_names_the_client() {
    let lines = jsonl(&[&sample("findings/smtp-stripped-cross-session.pcap")]);
    let late = of_type(&lines, "finding")
        .into_iter()
        .find(|l| l["late"] == true)
        .unwrap();
    check_ecs(late, false);
    assert_eq!(late["source"]["ip"], "192.0.2.20");
    assert_eq!(late["source"]["port"], 51110);
}

/// Standard input may be a pipe from a capture still running (`tcpdump -w -
/// | stripwatch analyze --format jsonl -`): a session's line goes out when
/// the session ends, not when the input does (files are flushed in
/// batches instead).
#[test]
fn jsonl_from_standard_input_streams_each_session_when_it_ends() {
    for threads in ["1", "2"] {
        session_line_before_end_of_input(threads);
    }
}

fn session_line_before_end_of_input(threads: &str) {
    use std::io::{BufRead, Write};
    let capture = std::fs::read(sample("findings/smtp-asa.pcap")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args([
            "analyze",
            "--format",
            "jsonl",
            "--quiet",
            "--threads",
            threads,
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&capture).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // Input still open: the session's line must come anyway.
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no line with {threads} threads while the input is open"));
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["type"], "session", "{first}");
    drop(stdin);
    let rest: Vec<String> = rx.iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("\"type\":\"summary\"")),
        "{rest:?}"
    );
    assert_eq!(child.wait().unwrap().code(), Some(1));
}
