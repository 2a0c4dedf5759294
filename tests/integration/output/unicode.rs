//! Invisible and direction-changing Unicode from the wire, in input file
//! names and in notes reaches no output as itself, and packet times
//! outside years 0000 to 9999 still give valid RFC 3339.

use super::support::{Run, analyze, parse_lines, scratch, strings};
use crate::gen_samples::conversation::{Conversation, Dir};
use crate::gen_samples::formats::{Format, NgInterface, NgSection};
use crate::gen_samples::mechanisms::b64;
use crate::gen_samples::packet::Link;
use crate::gen_samples::sample::Sample;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One or more characters of each escaped class: Cc (C1), Cf (Arabic
/// letter mark, zero-width space and joiner, LRM, RLO, word joiner,
/// invisible plus, isolates, BOM, soft hyphen, Mongolian vowel separator,
/// interlinear annotation, tags), Zl, Zp, Zs, noncharacters, unassigned,
/// variation selectors, Hangul filler.
pub const HIDDEN: &[char] = &[
    '\u{85}',
    '\u{61C}',
    '\u{200B}',
    '\u{200D}',
    '\u{200E}',
    '\u{202E}',
    '\u{2060}',
    '\u{2064}',
    '\u{2066}',
    '\u{2069}',
    '\u{FEFF}',
    '\u{AD}',
    '\u{180E}',
    '\u{FFF9}',
    '\u{FFFB}',
    '\u{E0001}',
    '\u{E0041}',
    '\u{E007F}',
    '\u{2028}',
    '\u{2029}',
    '\u{A0}',
    '\u{3000}',
    '\u{FDD0}',
    '\u{FFFF}',
    '\u{10FFFE}',
    '\u{2065}',
    '\u{FE0F}',
    '\u{E0100}',
    '\u{3164}',
];

/// `text` with each [`HIDDEN`] character between two letters.
fn laced(text: &str) -> String {
    let mut out = text.to_string();
    for c in HIDDEN {
        out.push(*c);
        out.push('x');
    }
    out
}

/// How `laced(text)` must be shown: `\xNN` per byte of each character.
fn laced_escaped(text: &str) -> String {
    let mut out = text.to_string();
    for c in HIDDEN {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push_str(&format!("\\x{b:02X}"));
        }
        out.push('x');
    }
    out
}

/// No character a reader would not see as itself, but the line feed: each
/// of [`HIDDEN`], and any the library's own test names.
fn assert_visible(what: &str, text: &str) {
    for c in HIDDEN {
        assert!(
            !text.contains(*c),
            "{what}: raw U+{:04X} in\n{text}",
            u32::from(*c)
        );
    }
    for c in text.chars() {
        assert!(
            c == '\n' || !stripwatch::text::hidden(c),
            "{what}: raw U+{:04X} in\n{text}",
            u32::from(c)
        );
    }
}

/// Every string of a JSON value, decoded, checked like raw text.
fn assert_json_visible(what: &str, value: &Value) -> String {
    let mut texts = Vec::new();
    strings(value, &mut texts);
    for text in &texts {
        assert!(
            !text.contains('\n'),
            "{what}: a decoded newline in {text:?}"
        );
        assert_visible(what, text);
    }
    texts.join("\n")
}

/// SMTP on 465 in cleartext: the greeting (evidence of
/// plaintext-on-implicit-tls-port), the EHLO name, the capability list and
/// the AUTH PLAIN username (accepted: a critical finding) all carry the
/// hidden characters.
fn unicode_capture(path: &Path) {
    let mut c = Conversation::new("192.0.2.67:40067", "203.0.113.67:465");
    c.handshake();
    c.server_sends(format!("220 {} ESMTP\r\n", laced("mail")));
    c.client_sends(format!("EHLO {}\r\n", laced("client")));
    c.server_sends(format!("250-{}\r\n250 AUTH PLAIN\r\n", laced("mx")));
    let plain = format!("\0{}\0pw-unicode-7Q", laced("alice"));
    c.client_sends(format!("AUTH PLAIN {}\r\n", b64(plain)));
    c.server_sends("235 2.7.0 Authentication successful\r\n");
    c.client_sends("QUIT\r\n");
    c.server_sends("221 2.0.0 Bye\r\n");
    c.close(Dir::Client);
    let sample = Sample::new("unicode.pcap", "hidden characters").conversation(c);
    let (_, bytes) = sample.render().pop().unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn run_format(format: &str, paths: &[&Path]) -> Run {
    let mut args: Vec<&str> = vec!["--format", format];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let run = analyze(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_visible(&format!("--format {format} stderr"), &run.stderr);
    assert_visible(&format!("--format {format}"), &run.stdout);
    run
}

#[test]
fn hidden_characters_are_escaped_in_every_format() {
    let dir = scratch("unicode-formats");
    let path = dir.join("unicode.pcap");
    unicode_capture(&path);
    let table = run_format("table", &[&path]);
    assert!(
        table
            .stdout
            .contains(&format!("PLAIN {} <redacted>", laced_escaped("alice"))),
        "{}",
        table.stdout
    );

    let json = run_format("json", &[&path]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    let all = assert_json_visible("json", &doc);
    let jsonl = run_format("jsonl", &[&path]);
    let mut all_lines = String::new();
    for line in parse_lines(&jsonl.stdout) {
        all_lines.push_str(&assert_json_visible("jsonl", &line));
    }
    for (format, all) in [("json", &all), ("jsonl", &all_lines)] {
        for shown in [
            laced_escaped("220 mail"),
            laced_escaped("alice"),
            laced_escaped("250-mx"),
        ] {
            assert!(all.contains(&shown), "{format}: {shown} not in\n{all}");
        }
        assert!(!all.contains("pw-unicode-7Q"), "{format}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An input name with a control, bidi, separator, zero-width and tag
/// characters.
const HOSTILE_NAME: &str = "evil\u{1b}[2J\u{202E}\u{2028}\u{200B}\u{E0041}\u{85}.pcap";
const HOSTILE_NAME_SHOWN: &str =
    "evil\\x1B[2J\\xE2\\x80\\xAE\\xE2\\x80\\xA8\\xE2\\x80\\x8B\\xF3\\xA0\\x81\\x81\\xC2\\x85.pcap";

/// Two inputs (so evidence names its file), the first with the hostile
/// name, and a directory holding a non-capture under a hostile name (a
/// note on standard error names it).
fn hostile_inputs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let named = dir.join(HOSTILE_NAME);
    unicode_capture(&named);
    let other = dir.join("other.pcap");
    unicode_capture(&other);
    let sub = dir.join("more");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join(HOSTILE_NAME.replace(".pcap", ".txt")),
        "not a capture",
    )
    .unwrap();
    (named, other, sub)
}

#[test]
fn hostile_file_names_are_escaped_everywhere() {
    let dir = scratch("unicode-names");
    let (named, other, sub) = hostile_inputs(&dir);
    for format in ["table", "json", "jsonl"] {
        let run = run_format(format, &[&named, &other, &sub]);
        let shown = if format == "table" {
            run.stdout.clone()
        } else {
            let values = if format == "json" {
                vec![serde_json::from_str(&run.stdout).unwrap()]
            } else {
                parse_lines(&run.stdout)
            };
            values
                .iter()
                .map(|v| assert_json_visible(format, v))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(shown.contains(HOSTILE_NAME_SHOWN), "{format}: {shown}");
        assert!(
            run.stderr
                .contains(&HOSTILE_NAME_SHOWN.replace(".pcap", ".txt")),
            "{format}: {}",
            run.stderr
        );
    }
    // Evidence locations name the file in JSON (the run has two inputs).
    let run = run_format("json", &[&named, &other]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let files: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["evidence"].as_array().unwrap())
        .filter_map(|e| e["file"].as_str())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(HOSTILE_NAME_SHOWN)),
        "{files:?}"
    );
    assert!(
        doc["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["file"].as_str().unwrap().ends_with(HOSTILE_NAME_SHOWN))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// 10000-01-01T00:00:00Z, one second past what RFC 3339 can write.
const YEAR_10000: i64 = 253_402_300_800;

/// A pcapng session (microseconds: 64 bits reach year 586,000) whose
/// packets are dated in year 10000.
fn far_future_capture(path: &Path) {
    let epoch = crate::sample_support::EPOCH;
    let mut c =
        Conversation::new("192.0.2.68:40068", "203.0.113.68:110").starts_at(YEAR_10000 - epoch, 0);
    c.handshake();
    c.server_sends("+OK POP3 ready\r\n");
    c.client_sends("USER carol\r\n");
    c.server_sends("+OK\r\n");
    c.client_sends("PASS pw-future-3K\r\n");
    c.server_sends("+OK logged in\r\n");
    c.client_sends("QUIT\r\n");
    c.server_sends("+OK bye\r\n");
    c.close(Dir::Client);
    let format = Format::PcapNg(vec![NgSection {
        interfaces: vec![NgInterface {
            name: "eth0",
            link: Link::Ethernet,
            tsresol: None,
        }],
    }]);
    let sample = Sample::new("future.pcapng", "year 10000")
        .conversation(c)
        .format(format);
    let (_, bytes) = sample.render().pop().unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffffZ` with 6 or 9 fraction digits.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    matches!(b.len(), 27 | 30)
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..b.len() - 1)
        && b[b.len() - 1] == b'Z'
}

/// Every value of a field named like a timestamp, anywhere in `v`.
fn timestamps<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| timestamps(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                let named = k.contains("timestamp") || k.ends_with("_seen");
                // ECS `event.start`/`event.end` (a session's `end` is its reason).
                let event_time = (k == "start" || k == "end")
                    && x.as_str()
                        .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_digit()));
                if let Some(s) = x.as_str().filter(|_| named || event_time) {
                    out.push(s);
                }
                timestamps(x, out);
            }
        }
        _ => {}
    }
}

#[test]
fn times_past_year_9999_are_clamped_and_noted() {
    let dir = scratch("unicode-future");
    let path = dir.join("future.pcapng");
    far_future_capture(&path);
    let run = analyze(&["--format", "json", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut times = Vec::new();
    timestamps(&doc, &mut times);
    assert!(times.len() >= 3, "{times:?}");
    for t in &times {
        assert!(is_rfc3339(t), "not RFC 3339: {t}");
        assert_eq!(*t, "9999-12-31T23:59:59.999999999Z");
    }
    let session = &doc["sessions"][0];
    let notes: Vec<&str> = session["observability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert!(notes.contains(&"timestamp-out-of-range"), "{notes:?}");

    let run = analyze(&["--format", "jsonl", path.to_str().unwrap()]);
    for line in parse_lines(&run.stdout) {
        let mut times = Vec::new();
        timestamps(&line, &mut times);
        for t in times {
            assert!(is_rfc3339(t), "not RFC 3339: {t} in {line}");
        }
    }
    let run = analyze(&[path.to_str().unwrap()]);
    assert!(
        run.stdout.contains("9999-12-31T23:59:59.999999999Z"),
        "{}",
        run.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}
