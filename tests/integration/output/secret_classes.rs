//! Every class of secret the parsers may not understand, one capture each:
//! no secret byte in the table, JSON, JSON lines, stderr, the evidence pcap
//! or `stripwatch diff` without `--show-secrets`; with it, the evidence
//! pcap holds them again.
//!
//! Each secret contains `Sekret` (or its base64 line); the diff's inside tap
//! has the client's `Sekret` rewritten to `Zekret`, so the changed lines it
//! reports carry a secret in both versions.

use super::support::{analyze, bytes, contains, scratch};
use crate::gen_samples::conversation::{Conversation, Dir};
use crate::gen_samples::sample::Sample;
use crate::gen_samples::tamper::Tamper;
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A server that offers STARTTLS (so every session makes a finding and
/// has evidence written) and the client that ignores it.
fn smtp(client_port: u16) -> Conversation {
    let mut c = Conversation::new(&format!("192.0.2.50:{client_port}"), "198.51.100.5:25");
    c.handshake();
    c.server_sends("220 mx ESMTP\r\n");
    c.client_sends("EHLO client\r\n");
    c.server_sends("250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n");
    c
}

fn pop3(client_port: u16) -> Conversation {
    let mut c = Conversation::new(&format!("192.0.2.50:{client_port}"), "198.51.100.5:110");
    c.handshake();
    c.server_sends("+OK ready\r\n");
    c.client_sends("CAPA\r\n");
    c.server_sends("+OK\r\nSTLS\r\nUSER\r\n.\r\n");
    c
}

fn imap(client_port: u16) -> Conversation {
    let mut c = Conversation::new(&format!("192.0.2.50:{client_port}"), "198.51.100.5:143");
    c.handshake();
    c.server_sends("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
    c
}

/// One class: its conversation and the secrets it carries (as they cross
/// the wire: a base64 line is its own needle).
struct Class {
    name: &'static str,
    conversation: Conversation,
    secrets: Vec<Vec<u8>>,
}

const AFTER_FIN: &str = "bytes after the client's FIN";

fn classes() -> Vec<Class> {
    let mut out = Vec::new();
    let mut add = |name, mut c: Conversation, secrets: Vec<Vec<u8>>| {
        c.close(Dir::Client);
        out.push(Class {
            name,
            conversation: c,
            secrets,
        });
    };

    // A retransmission carrying other bytes: both versions are secret.
    let mut c = pop3(40001);
    let pass = c.client_sends("PASS Sekret-conflict-one\r\n");
    c.retransmit_with(pass.first(), "PASS Sekret-conflict-two\r\n");
    c.server_sends("+OK\r\n");
    add(
        "conflicting retransmission",
        c,
        vec![
            b"Sekret-conflict-one".to_vec(),
            b"Sekret-conflict-two".to_vec(),
        ],
    );

    // Password spraying: more attempts than the credential cap.
    let mut c = smtp(40002);
    let mut secrets = Vec::new();
    for i in 0..1000 {
        let password = format!("Sekret-spray-{i:04}");
        let line = b64(format!("\0user{i}\0{password}").as_bytes());
        c.client_sends(format!("AUTH PLAIN {line}\r\n"));
        c.server_sends("535 5.7.8 no\r\n");
        secrets.push(line.into_bytes());
    }
    add("1,000 logins in one session", c, secrets);

    let mut c = pop3(40003);
    c.client_sends("PASS Sekret-no-user\r\n");
    c.server_sends("-ERR who are you\r\n");
    add(
        "POP3 PASS without USER",
        c,
        vec![b"Sekret-no-user".to_vec()],
    );

    let mut c = pop3(40004);
    c.client_sends("USER alice\r\n");
    c.server_sends("+OK\r\n");
    let long = format!("PASS {}Sekret-tail\r\n", "A".repeat(9000));
    c.client_sends(long);
    c.server_sends("-ERR too long\r\n");
    add(
        "the tail of a line over the line limit",
        c,
        vec![b"Sekret-tail".to_vec()],
    );

    let mut c = smtp(40005);
    c.client_sends("AUTH LOGIN\r\n");
    c.server_sends("535 5.7.8 not now\r\n");
    let after_error = b64(b"Sekret-after-error");
    c.client_sends(format!("{after_error}\r\n"));
    c.server_sends("500 5.5.2 what\r\n");
    add(
        "base64 after an error reply",
        c,
        vec![after_error.into_bytes()],
    );

    let mut c = smtp(40006);
    c.client_sends("AUTH LOGIN\r\n");
    c.server_sends("334 VXNlcm5hbWU6\r\n");
    c.client_sends("*\r\n");
    c.server_sends("501 5.0.0 cancelled\r\n");
    let after_cancel = b64(b"Sekret-after-cancel");
    c.client_sends(format!("{after_cancel}\r\n"));
    c.server_sends("500 5.5.2 what\r\n");
    add(
        "base64 after a cancelled AUTH",
        c,
        vec![after_cancel.into_bytes()],
    );

    let mut c = smtp(40007);
    let token = b64(b"Sekret-vendor-cookie");
    c.client_sends(format!("AUTH XYMPKI {token}\r\n"));
    c.server_sends("235 ok\r\n");
    add("a mechanism nobody knows", c, vec![token.into_bytes()]);

    let mut c = imap(40008);
    c.client_sends("a1 LOGIN {5}\r\n");
    c.server_sends("+ go\r\n");
    c.client_sends("alice {18}\r\n");
    c.server_sends("+ go\r\n");
    c.client_sends("Sekret-imap-literal\r\n");
    c.server_sends("a1 NO [AUTHENTICATIONFAILED] no\r\n");
    add(
        "IMAP LOGIN with literals",
        c,
        vec![b"Sekret-imap-literal".to_vec()],
    );

    let mut c = imap(40009);
    c.client_sends("a1 AUTHENTICATE PLAIN\r\n");
    c.server_sends("+ \r\n");
    let lost = b64(b"\0bob\0Sekret-answer-lost");
    c.client_sends(format!("{lost}\r\n"));
    // The tagged answer never comes; the client goes on.
    c.client_sends("a2 SELECT INBOX\r\n");
    add(
        "an exchange whose answer is not in the capture",
        c,
        vec![lost.into_bytes()],
    );

    let mut c = pop3(40010);
    c.client_sends("USER bob\r\n");
    c.server_sends("+OK\r\n");
    c.client_sends("PASS Sekret-no-line-end");
    add(
        "a line the session never ends",
        c,
        vec![b"Sekret-no-line-end".to_vec()],
    );

    let mut c = smtp(40011);
    c.client_sends("STARTTLS\r\n");
    let held = format!(
        "NOOP {}\r\nAUTH PLAIN {}\r\n",
        "x".repeat(5000),
        b64(b"\0u\0Sekret-past-hold")
    );
    c.client_sends(&held);
    c.server_sends("454 4.7.0 no TLS\r\n");
    add(
        "bytes past the STARTTLS hold",
        c,
        vec![b64(b"\0u\0Sekret-past-hold").into_bytes()],
    );
    // A server that echoes what it did not understand (Dovecot's POP3).
    let mut c = pop3(40013);
    c.client_sends("AUTH PLAIN\r\n");
    c.server_sends("+ \r\n");
    c.client_sends("*\r\n");
    c.server_sends("-ERR Authentication aborted\r\n");
    let echoed = b64(b"\0carol\0Sekret-echoed");
    c.client_sends(format!("{echoed}\r\n"));
    c.server_sends(format!("-ERR Unknown command: {echoed}\r\n"));
    add("a server echoing a secret", c, vec![echoed.into_bytes()]);

    // Bytes past the client's FIN: never delivered, never read.
    let mut c = pop3(40012);
    c.fin(Dir::Client);
    c.client_sends("PASS Sekret-after-fin\r\n");
    add(
        "bytes after the client's FIN",
        c,
        vec![b"Sekret-after-fin".to_vec()],
    );
    out
}

/// Writes each class's capture (and its rewritten inside tap) into `dir`.
fn write(dir: &Path, classes: &[Class]) -> Vec<(PathBuf, PathBuf)> {
    classes
        .iter()
        .enumerate()
        .map(|(i, class)| {
            let outside =
                Sample::new(&format!("class{i}.pcap"), "").conversation(class.conversation.clone());
            let inside = Sample::new(&format!("class{i}.inside.pcap"), "")
                .conversation(class.conversation.clone())
                .tamper(Tamper::default().replace(Dir::Client, "Sekret", "Zekret"));
            let paths: Vec<PathBuf> = [outside, inside]
                .iter()
                .map(|s| {
                    let (name, bytes) = s.render().remove(0);
                    let path = dir.join(name);
                    std::fs::write(&path, bytes).unwrap();
                    path
                })
                .collect();
            (paths[0].clone(), paths[1].clone())
        })
        .collect()
}

/// Everything the process wrote for `capture` (and its inside tap): the
/// three formats with stderr, diff in three formats, the evidence pcap.
fn everything(capture: &Path, inside: &Path, dir: &Path, extra: &[&str]) -> (String, Vec<u8>) {
    let mut text = String::new();
    let path = capture.to_str().unwrap();
    for format in ["table", "json", "jsonl"] {
        let mut args = vec!["--format", format];
        args.extend_from_slice(extra);
        args.push(path);
        let run = analyze(&args);
        text.push_str(&run.stdout);
        text.push_str(&run.stderr);
        let mut args = vec!["diff", inside.to_str().unwrap(), path, "--format", format];
        args.extend_from_slice(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let evidence = dir.join(format!(
        "{}{}.evidence.pcap",
        capture.file_stem().unwrap().to_str().unwrap(),
        if extra.is_empty() { "" } else { "-shown" }
    ));
    let mut args = vec!["--quiet", "--format", "jsonl", "--write-evidence"];
    args.push(evidence.to_str().unwrap());
    args.extend_from_slice(extra);
    args.push(path);
    let run = analyze(&args);
    assert!(
        evidence.exists(),
        "{}: no evidence written: {}",
        capture.display(),
        run.stderr
    );
    text.push_str(&run.stderr);
    (text, bytes(&evidence))
}

/// The secret as the diff's inside tap carries it.
fn rewritten(secret: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(secret)
        .replace("Sekret", "Zekret")
        .into_bytes()
}

#[test]
fn no_secret_of_any_class_leaves_the_process() {
    let dir = scratch("secret-classes");
    let classes = classes();
    let paths = write(&dir, &classes);
    for (class, (capture, inside)) in classes.iter().zip(&paths) {
        let (text, pcap) = everything(capture, inside, &dir, &[]);
        for secret in &class.secrets {
            for needle in [secret.clone(), rewritten(secret)] {
                let shown = String::from_utf8_lossy(&needle);
                assert!(
                    !text.contains(shown.as_ref()),
                    "{}: {shown} in the output:\n{text}",
                    class.name
                );
            }
            assert!(
                !contains(&pcap, secret),
                "{}: {} in the evidence pcap",
                class.name,
                String::from_utf8_lossy(secret)
            );
        }
        // Nothing of "Sekret" at all, whatever encoding the needle missed.
        assert!(
            !text.contains("Sekret") && !text.contains("Zekret"),
            "{}:\n{text}",
            class.name
        );
        assert!(!contains(&pcap, b"Sekret"), "{}: evidence pcap", class.name);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_secrets_puts_them_back_in_the_evidence() {
    let dir = scratch("secret-classes-shown");
    let classes = classes();
    let paths = write(&dir, &classes);
    for (class, (capture, inside)) in classes.iter().zip(&paths) {
        let (_, pcap) = everything(capture, inside, &dir, &["--show-secrets"]);
        if class.name == AFTER_FIN {
            // The session ended at the FIN: what came after is not its
            // evidence, shown or not.
            continue;
        }
        for secret in &class.secrets {
            assert!(
                contains(&pcap, secret),
                "{}: {} not in the evidence pcap",
                class.name,
                String::from_utf8_lossy(secret)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_report_says_how_many_attempts_it_did_not_list() {
    let dir = scratch("secret-classes-count");
    let classes = classes();
    let spray = classes
        .iter()
        .position(|c| c.name.starts_with("1,000"))
        .unwrap();
    let paths = write(&dir, &classes);
    let run = analyze(&["--format", "json", paths[spray].0.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let session = &json["sessions"][0];
    let listed = session["credentials"].as_array().unwrap().len() as u64;
    assert_eq!(
        listed + session["credentials_not_listed"].as_u64().unwrap(),
        1000
    );
    let _ = std::fs::remove_dir_all(&dir);
}
