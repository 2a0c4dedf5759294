//! Formats, exit statuses, secrets and escaping.

use super::rewriting::smtp_session;
use super::*;

#[test]
fn table_and_json_lines() {
    let (inside, outside) = pair_paths("smtp-asa-nat");
    let (table, code) = run(&[inside.to_str().unwrap(), outside.to_str().unwrap()]);
    assert_eq!(code, 1);
    for text in [
        "stripwatch diff: 2 sessions paired (2 by nat), 0 seen at one tap only; 2 changed on the path (worst: high)",
        "What the path did",
        "203.0.113.61:25 (smtp): the path between the taps behaves like Cisco ASA inspect esmtp with mask-banner and no allow-tls",
        "Pairs changed on the path",
        "Changes",
        "#8 250-XXXXXXXA",
        "#8 250-STARTTLS",
        "Servers",
        "Inputs",
    ] {
        assert!(table.contains(text), "{text}\n{table}");
    }
    assert!(!table.contains('\x1b'), "no colour off a terminal");

    let (lines, _) = run(&[
        inside.to_str().unwrap(),
        outside.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let lines: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "pair", "change", "change", "change", "pair", "change", "change", "change", "server",
            "input", "input", "summary"
        ]
    );
    let change = &lines[2];
    assert_eq!(change["rule"]["name"], "capability-masked");
    assert_eq!(change["event"]["kind"], "alert");
    assert_eq!(change["event"]["dataset"], "stripwatch.diff.change");
    assert_eq!(change["event"]["severity"], 73);
    assert_eq!(change["source"]["ip"], "192.0.2.30");
    assert_eq!(change["destination"]["port"], 25);
    assert_eq!(change["network"]["protocol"], "smtp");
    assert_eq!(change["pair"], 1);
    assert_eq!(change["inside"]["excerpt"], "250-XXXXXXXA");
    assert!(
        change["@timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2024-03-01T12:00:00")
    );
    assert_eq!(lines[0]["event"]["dataset"], "stripwatch.diff.pair");
    assert_eq!(lines[9]["tap"], "inside");
    assert_eq!(lines[10]["tap"], "outside");
    assert_eq!(lines[11]["pairs"], 2);
}

#[test]
fn exit_statuses() {
    let (inside, outside) = pair_paths("smtp-asa-nat");
    let (i, o) = (inside.to_str().unwrap(), outside.to_str().unwrap());
    assert_eq!(run(&[i, o]).1, 1);
    assert_eq!(run(&[i, o, "--fail-on", "critical"]).1, 0);
    assert_eq!(run(&[i, o, "--fail-on", "never"]).1, 0);
    assert_eq!(run(&[i, o, "--fail-on", "low"]).1, 1);
    // An input that cannot be read completely: 2, whatever was found.
    let truncated = repo("samples/transport/smtp-truncated.pcap");
    assert_eq!(run(&[truncated.to_str().unwrap(), o]).1, 2);
    assert_eq!(run(&["/nonexistent/inside.pcap", o]).1, 2);
}

// ----- secrets -----

/// A middlebox that rewrites the client's LOGIN (password included): both
/// versions are changed lines carrying a password.
fn login_rewrite_pair() -> (PathBuf, Vec<PathBuf>) {
    let mut c = Conversation::new("192.0.2.31:52001", "203.0.113.63:143");
    c.handshake();
    c.server_sends(diff_pairs::IMAP_GREETING);
    c.client_sends("a001 LOGIN dave pw-secret-one\r\n");
    c.server_sends("a001 OK Logged in\r\n");
    c.client_sends("a002 LOGOUT\r\n");
    c.server_sends("* BYE Logging out\r\na002 OK Logout completed.\r\n");
    c.close(Dir::Server);
    // The client sent pw-secret-two (inside); the server got pw-secret-one.
    let inside = Sample::new("login.inside.pcap", "")
        .conversation(c.clone())
        .tamper(
            Tamper {
                delay_nanos: [-300_000, 300_000],
                ..Tamper::default()
            }
            .replace(Dir::Client, "pw-secret-one", "pw-secret-two"),
        );
    let outside = Sample::new("login.outside.pcap", "").conversation(c);
    write_samples("login", &[inside, outside])
}

#[test]
fn changed_lines_with_a_password_are_masked() {
    let (dir, paths) = login_rewrite_pair();
    let (inside, outside) = (&paths[0], &paths[1]);
    let (i, o) = (inside.to_str().unwrap(), outside.to_str().unwrap());
    for format in ["table", "json", "jsonl"] {
        let (out, code) = run(&[i, o, "--format", format]);
        assert_eq!(code, 0, "a medium change");
        assert!(out.contains("command-rewritten"), "{out}");
        assert!(
            !out.contains("pw-secret"),
            "--format {format} shows a password:\n{out}"
        );
    }
    let (json, _) = diff_json(inside, outside, &[]);
    let c = &json["pairs"][0]["changes"][0];
    assert_eq!(c["kind"], "command-rewritten");
    assert_eq!(c["severity"], "medium");
    assert_eq!(c["inside"]["excerpt"], "a001 LOGIN dave *************");
    assert_eq!(c["outside"]["excerpt"], "a001 LOGIN dave *************");
    let (json, _) = diff_json(inside, outside, &["--show-secrets"]);
    let c = &json["pairs"][0]["changes"][0];
    assert_eq!(c["inside"]["excerpt"], "a001 LOGIN dave pw-secret-two");
    assert_eq!(c["outside"]["excerpt"], "a001 LOGIN dave pw-secret-one");
    // The summary and the attribution never show it.
    assert!(!c["summary"].as_str().unwrap().contains("pw-secret"));
    assert!(
        !json["pairs"][0]["attribution"]
            .as_str()
            .unwrap()
            .contains("pw-secret")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wire_text_is_escaped() {
    let c = smtp_session("250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
    let inside = Sample::new("esc.inside.pcap", "")
        .conversation(c.clone())
        .tamper(Tamper::default().replace(Dir::Server, "220 mx ESMTP", "220 \x1b[2J\x7fESM"));
    let outside = Sample::new("esc.outside.pcap", "").conversation(c);
    let (dir, paths) = write_samples("escape", &[inside, outside]);
    let (i, o) = (paths[0].to_str().unwrap(), paths[1].to_str().unwrap());
    for format in ["table", "json", "jsonl"] {
        let (out, _) = run(&[i, o, "--format", format]);
        assert!(!out.contains('\x1b') && !out.contains('\u{7f}'), "{format}");
        // In JSON the backslash of the escape is itself escaped.
        let shown = if format == "table" {
            "220 \\x1B[2J\\x7FESM"
        } else {
            "220 \\\\x1B[2J\\\\x7FESM"
        };
        assert!(out.contains(shown), "{format}: {out}");
    }
    let (json, _) = diff_json(&paths[0], &paths[1], &[]);
    let c = &json["pairs"][0]["changes"][0];
    assert_eq!(c["kind"], "reply-rewritten");
    assert_eq!(c["inside"]["excerpt"], "220 \\x1B[2J\\x7FESM");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn readme_examples_are_real_output() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let block = readme
        .split("```\n")
        .find(|b| b.starts_with("$ stripwatch diff "))
        .expect("the diff table example");
    let (command, table) = block.split_once('\n').unwrap();
    let args: Vec<&str> = command
        .strip_prefix("$ stripwatch diff ")
        .unwrap()
        .split(' ')
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .arg("diff")
        .args(&args)
        .current_dir(repo(""))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        table.trim_end()
    );

    let example = readme
        .split("```jsonc\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("the JSON line example");
    let example: Value = serde_json::from_str(example).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args([
            "diff",
            "samples/diff/smtp-asa-nat.inside.pcap",
            "samples/diff/smtp-asa-nat.outside.pcap",
            "--format",
            "jsonl",
        ])
        .current_dir(repo(""))
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.contains(&example), "not a real line:\n{example}");
}

/// Characters a reader would not see as themselves: C1, Cf (Arabic
/// letter mark, zero-width space, RLO, isolate, BOM, tag), Zl, Zp, Zs,
/// a noncharacter, a variation selector.
const HIDDEN: &[char] = &[
    '\u{85}',
    '\u{61C}',
    '\u{200B}',
    '\u{202E}',
    '\u{2066}',
    '\u{FEFF}',
    '\u{E0041}',
    '\u{2028}',
    '\u{2029}',
    '\u{A0}',
    '\u{FDD0}',
    '\u{FE0F}',
];

fn assert_visible(what: &str, text: &str) {
    for c in text.chars() {
        assert!(
            !HIDDEN.contains(&c) && (c == '\n' || !stripwatch::text::hidden(c)),
            "{what}: raw U+{:04X} in\n{text}",
            u32::from(c)
        );
    }
}

#[test]
fn hidden_unicode_is_escaped() {
    let laced: String = HIDDEN.iter().flat_map(|c| [*c, 'x']).collect();
    let shown: String = HIDDEN
        .iter()
        .flat_map(|c| {
            let mut buf = [0u8; 4];
            let mut s: String = c
                .encode_utf8(&mut buf)
                .bytes()
                .map(|b| format!("\\x{b:02X}"))
                .collect();
            s.push('x');
            [s]
        })
        .collect();
    let c = smtp_session(&format!(
        "250-mx\r\n250-STARTTLS {laced}\r\n250 8BITMIME\r\n"
    ));
    // The inside tap sees the capability masked and a banner of hidden
    // characters; its file name holds some too.
    let inside = Sample::new("esc\u{202E}\u{2028}\u{200B}.inside.pcap", "")
        .conversation(c.clone())
        .tamper(
            Tamper::default()
                .replace(Dir::Server, "STARTTLS", "XXXXXXXA")
                .replace(Dir::Server, "220 mx ESMTP", "220 \u{61C}\u{200B}ESM"),
        );
    let outside = Sample::new("esc-unicode.outside.pcap", "").conversation(c);
    let (dir, paths) = write_samples("unicode", &[inside, outside]);
    let (i, o) = (paths[0].to_str().unwrap(), paths[1].to_str().unwrap());
    for format in ["table", "json", "jsonl"] {
        let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
            .args(["diff", i, o, "--format", format])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_visible(format, &stdout);
        assert_visible(format, &String::from_utf8_lossy(&out.stderr));
        let texts = if format == "table" {
            stdout
        } else {
            // Decoded, the strings hold the escapes themselves.
            let values: Vec<Value> = stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let mut texts = Vec::new();
            for v in &values {
                for_each_string(v, &mut |s| {
                    assert_visible(format, s);
                    texts.push(s.to_string());
                });
            }
            texts.join("\n")
        };
        for want in [
            format!("250-XXXXXXXA {shown}"),
            format!("250-STARTTLS {shown}"),
            "220 \\xD8\\x9C\\xE2\\x80\\x8BESM".to_string(),
            "esc\\xE2\\x80\\xAE\\xE2\\x80\\xA8\\xE2\\x80\\x8B.inside.pcap".to_string(),
        ] {
            assert!(texts.contains(&want), "{format}: {want} not in\n{texts}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn for_each_string(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| for_each_string(x, f)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            f(k);
            for_each_string(x, f);
        }),
        _ => {}
    }
}
