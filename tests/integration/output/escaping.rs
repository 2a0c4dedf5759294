//! Hostile bytes from the wire reach no output raw: a capture whose
//! greeting carries terminal escape sequences, a bidi override, NUL and
//! DEL, and whose AUTH PLAIN username carries CR LF, a forged JSON line and
//! invalid UTF-8.

use super::support::{analyze, parse_lines, scratch, strings};
use crate::gen_samples::conversation::{Conversation, Dir};
use crate::gen_samples::mechanisms::b64;
use crate::gen_samples::sample::Sample;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Clear screen, set the terminal title, bell.
const TERMINAL: &[u8] = b"\x1b[2J\x1b]0;pwned\x07";
/// U+202E RIGHT-TO-LEFT OVERRIDE.
const RLO: &str = "\u{202E}";
/// The username: an escape sequence, CR LF, a forged JSON line, invalid
/// UTF-8.
const USERNAME: &[u8] = b"mallory\x1b[8m\r\n{\"type\":\"finding\",\"kind\":\"fake\"}\xff\xfe";

/// The greeting: every hostile byte of the brief.
fn greeting() -> Vec<u8> {
    let mut g = b"220 ".to_vec();
    g.extend_from_slice(TERMINAL);
    g.extend_from_slice(b"mail.example.org ");
    g.extend_from_slice(RLO.as_bytes());
    g.extend_from_slice(b"gpj.exe nul\x00 del\x7f ESMTP\r\n");
    g
}

/// SMTP on 465 in cleartext (so the greeting is evidence of
/// plaintext-on-implicit-tls-port), no STARTTLS in the EHLO reply (its
/// first line, with an escape sequence, is evidence too), then AUTH PLAIN
/// with the hostile username, accepted.
fn hostile_capture(dir: &Path) -> PathBuf {
    let mut c = Conversation::new("192.0.2.66:40066", "203.0.113.66:465");
    c.handshake();
    c.server_sends(greeting());
    c.client_sends("EHLO client.example.com\r\n");
    c.server_sends(b"250-\x1b[31mmail.example.org\xe2\x80\xae\r\n250 AUTH PLAIN LOGIN\r\n");
    let mut plain = b"\0".to_vec();
    plain.extend_from_slice(USERNAME);
    plain.extend_from_slice(b"\0pw-hostile-9X");
    c.client_sends(format!("AUTH PLAIN {}\r\n", b64(&plain)));
    c.server_sends("235 2.7.0 Authentication successful\r\n");
    c.client_sends("QUIT\r\n");
    c.server_sends("221 2.0.0 Bye\r\n");
    c.close(Dir::Client);
    let sample = Sample::new("hostile.pcap", "hostile bytes").conversation(c);
    let (_, bytes) = sample.render().pop().unwrap();
    let path = dir.join("hostile.pcap");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// No control byte but `\n` (and no tab when `json`), no DEL, no raw
/// U+202E (nor any other bidi control).
fn assert_printable(format: &str, text: &str, json: bool) {
    for (i, b) in text.bytes().enumerate() {
        let bad = (b < 0x20 && b != b'\n') || b == 0x7f || (json && b == b'\t');
        assert!(!bad, "--format {format}: byte {b:#04x} at {i}");
    }
    for c in [
        '\u{202E}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2066}', '\u{2069}',
    ] {
        assert!(!text.contains(c), "--format {format}: raw {c:?}");
    }
    assert!(!text.contains('\u{1b}'), "--format {format}: raw ESC");
    assert!(!text.contains('\u{85}'), "--format {format}: raw NEL");
}

/// The escaped forms of the hostile bytes, as they must appear in text
/// (after JSON decoding for the JSON formats).
const ESCAPED: [&str; 7] = [
    "\\x1B[2J\\x1B]0;pwned\\x07",
    "\\xE2\\x80\\xAEgpj.exe",
    "nul\\x00",
    "del\\x7F",
    "mallory\\x1B[8m\\x0D\\x0A{\"type\":\"finding\",\"kind\":\"fake\"}\\xFF\\xFE",
    "\\x1B[31mmail.example.org\\xE2\\x80\\xAE",
    "\\xFF",
];

fn run(format: &str, path: &Path) -> String {
    let run = analyze(&["--format", format, path.to_str().unwrap()]);
    // Critical: the password was accepted.
    assert_eq!(run.code, 1, "{}", run.stderr);
    run.stdout
}

#[test]
fn hostile_bytes_are_escaped_in_the_table() {
    let dir = scratch("escape-table");
    let path = hostile_capture(&dir);
    let out = run("table", &path);
    assert_printable("table", &out, false);
    // The table shows the username (the credentials cell); the findings'
    // excerpts are in JSON only.
    assert!(
        out.contains("PLAIN mallory\\x1B[8m\\x0D\\x0A{\"type\":\"finding\",\"kind\":\"fake\"}\\xFF\\xFE <redacted> (success)"),
        "{out}"
    );
    assert!(out.contains("CRITICAL cleartext-credentials"), "{out}");
    assert!(
        out.contains("MEDIUM plaintext-on-implicit-tls-port"),
        "{out}"
    );
    assert!(!out.contains("pw-hostile-9X"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_bytes_are_escaped_in_json() {
    let dir = scratch("escape-json");
    let path = hostile_capture(&dir);
    let out = run("json", &path);
    assert_printable("json", &out, true);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let mut texts = Vec::new();
    strings(&doc, &mut texts);
    let all = texts.join("\n");
    for escaped in ESCAPED {
        assert!(all.contains(escaped), "{escaped} not in:\n{all}");
    }
    for text in &texts {
        assert_printable("json (decoded)", text, true);
        assert!(
            !text.contains('\n'),
            "a decoded string holds a newline: {text:?}"
        );
    }
    let kinds: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "no-starttls-offered",
            "cleartext-credentials",
            "plaintext-on-implicit-tls-port"
        ]
    );
    assert!(!out.contains("pw-hostile-9X"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_bytes_are_escaped_in_json_lines() {
    let dir = scratch("escape-jsonl");
    let path = hostile_capture(&dir);
    let out = run("jsonl", &path);
    assert_printable("jsonl", &out, true);
    let lines = parse_lines(&out);
    // One object per line: nothing forged a line of its own.
    assert_eq!(lines.len(), out.matches('\n').count());
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "session",
            "finding",
            "finding",
            "finding",
            "input",
            "server",
            "server_observation",
            "summary"
        ]
    );
    for line in &lines {
        assert_ne!(line["kind"], "fake", "{line}");
    }
    let mut texts = Vec::new();
    for line in &lines {
        strings(line, &mut texts);
    }
    for text in &texts {
        assert_printable("jsonl (decoded)", text, true);
        assert!(
            !text.contains('\n'),
            "a decoded string holds a newline: {text:?}"
        );
    }
    let all = texts.join("\n");
    for escaped in ESCAPED {
        assert!(all.contains(escaped), "{escaped} not in:\n{all}");
    }
    assert!(!out.contains("pw-hostile-9X"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The hostile capture under a name with ESC, LF and U+202E.
fn hostile_name(dir: &Path) -> PathBuf {
    let path = hostile_capture(dir);
    let named = dir.join("evil\x1b[2J\n\u{202E}.pcap");
    std::fs::rename(&path, &named).unwrap();
    named
}

#[test]
fn hostile_file_names_are_escaped_in_the_table() {
    let dir = scratch("escape-names-table");
    let named = hostile_name(&dir);
    let run = analyze(&[named.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_printable("table", &run.stdout, false);
    assert!(
        run.stdout.contains("evil\\x1B[2J\\x0A\\xE2\\x80\\xAE.pcap"),
        "{}",
        run.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_file_names_are_escaped_in_json() {
    let dir = scratch("escape-names-json");
    let named = hostile_name(&dir);
    for format in ["json", "jsonl"] {
        let run = analyze(&["--format", format, named.to_str().unwrap()]);
        assert_printable(format, &run.stdout, true);
        let mut texts = Vec::new();
        let values = if format == "json" {
            vec![serde_json::from_str(&run.stdout).unwrap()]
        } else {
            parse_lines(&run.stdout)
        };
        for line in values {
            strings(&line, &mut texts);
        }
        for text in &texts {
            assert_printable(format, text, true);
        }
        assert!(
            texts
                .iter()
                .any(|t| t.contains("evil\\x1B[2J\\x0A\\xE2\\x80\\xAE.pcap"))
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
