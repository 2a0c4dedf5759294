//! Table-driven tests of the IMAP dialog: each case is a script of client
//! and server packets (and gaps) fed through the [`MailDialog`] driver, and
//! the facts it must leave, rendered compactly:
//! - `greeting <line>` / `preauth <line>`
//! - `caps [starttls] [logindisabled] [masked] [auth=A,B]` per list
//! - `starttls <command>`, `answer <Accepted|Rejected> <line>`
//! - `tampered <command> / <answer>`, `sensitive <command>`
//! - `cred <mechanism> <user>:<secret> <kind> <outcome>` then `  c|s <line>`
//!   per evidence line
//! - `client-hello`, `server-hello`, `injection ...`, `unparsed [c, s]`
//!
//! Evidence is shown redacted, as reports show it: a password never appears
//! in a line, only `*`.

use crate::flow::{PacketRef, PerSide, Side, StreamEvent};
use crate::proto::dialog::MailDialog;
use crate::proto::{DialogAnomalyKind, DialogFacts, Evidence, Protocol, SecretKind};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    /// A client packet.
    C(&'a [u8]),
    /// A server packet.
    S(&'a [u8]),
    /// `n` bytes of a side never captured.
    Gap(Side, u64),
}
use Step::*;

fn pkt(frame: u64) -> PacketRef {
    PacketRef {
        input: 0,
        frame,
        ts: Timestamp::ZERO,
    }
}

/// Feeds the script, each packet cut into events of `chunk` bytes (all
/// carrying the packet's reference), and returns the facts.
fn run_chunked(script: &[Step<'_>], chunk: usize) -> DialogFacts {
    let mut dialog = MailDialog::new(Some(Protocol::Imap));
    let mut offsets = PerSide::both(0u64);
    for (i, step) in script.iter().enumerate() {
        let (side, bytes) = match *step {
            C(bytes) => (Side::Client, bytes),
            S(bytes) => (Side::Server, bytes),
            Gap(side, len) => {
                let offset = offsets[side];
                offsets[side] += len;
                dialog.on_event(
                    side,
                    &StreamEvent::Gap {
                        offset,
                        len,
                        reason: crate::flow::GapReason::NotCaptured,
                    },
                );
                continue;
            }
        };
        for piece in bytes.chunks(chunk.max(1)) {
            let offset = offsets[side];
            offsets[side] += piece.len() as u64;
            dialog.on_event(
                side,
                &StreamEvent::Data {
                    offset,
                    bytes: piece,
                    packet: pkt(i as u64 + 1),
                    ack: None,
                },
            );
        }
    }
    dialog.finish();
    dialog.facts
}

fn run(script: &[Step<'_>]) -> DialogFacts {
    run_chunked(script, usize::MAX)
}

fn text(e: &Evidence) -> String {
    String::from_utf8_lossy(&e.redacted()).into_owned()
}

fn summary(f: &DialogFacts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &f.greeting {
        out.push(format!("greeting {}", text(e)));
    }
    if let Some(e) = &f.preauth {
        out.push(format!("preauth {}", text(e)));
    }
    for c in &f.capabilities {
        let mut s = String::from("caps");
        for (on, name) in [
            (c.starttls, " starttls"),
            (c.login_disabled, " logindisabled"),
            (c.masked_token.is_some(), " masked"),
        ] {
            if on {
                s.push_str(name);
            }
        }
        if !c.auth_mechanisms.is_empty() {
            s.push_str(&format!(" auth={}", c.auth_mechanisms.join(",")));
        }
        out.push(s);
    }
    if let Some(e) = &f.starttls_command {
        out.push(format!("starttls {}", text(e)));
    }
    if let Some((answer, e)) = &f.starttls_answer {
        out.push(format!("answer {answer:?} {}", text(e)));
    }
    if let Some((command, answer)) = &f.tampered_command {
        let answer = answer.as_ref().map(text).unwrap_or_default();
        out.push(format!("tampered {} / {answer}", text(command)));
    }
    if let Some(e) = &f.sensitive_command {
        out.push(format!("sensitive {}", text(e)));
    }
    for c in &f.credentials {
        let user = c.username.as_deref().map(String::from_utf8_lossy);
        out.push(format!(
            "cred {} {}:{} {:?} {:?}{}",
            c.mechanism,
            user.unwrap_or_default(),
            String::from_utf8_lossy(&c.secret),
            c.secret_kind,
            c.outcome,
            if c.cancelled { " cancelled" } else { "" }
        ));
        for e in &c.evidence {
            let side = if e.side == Side::Client { 'c' } else { 's' };
            out.push(format!("  {side} {}", text(e)));
        }
    }
    if f.client_hello.is_some() {
        out.push("client-hello".into());
    }
    if f.server_hello.is_some() {
        out.push("server-hello".into());
    }
    for (name, e) in [
        ("command-injection", &f.command_injection),
        ("response-injection", &f.response_injection),
        ("cleartext-after-go-ahead", &f.cleartext_after_go_ahead),
    ] {
        if let Some(e) = e {
            out.push(format!("{name} {}", text(e)));
        }
    }
    if f.unparsed_lines != PerSide::both(0) {
        out.push(format!("unparsed {:?}", f.unparsed_lines.into_array()));
    }
    out
}

/// Every piece of evidence the facts hold.
fn all_evidence(f: &DialogFacts) -> Vec<&Evidence> {
    let mut all: Vec<&Evidence> = Vec::new();
    all.extend(&f.greeting);
    all.extend(&f.preauth);
    all.extend(f.capabilities.iter().map(|c| &c.evidence));
    all.extend(&f.starttls_command);
    all.extend(f.starttls_answer.iter().map(|(_, e)| e));
    if let Some((command, answer)) = &f.tampered_command {
        all.push(command);
        all.extend(answer);
    }
    all.extend(&f.sensitive_command);
    all.extend(f.credentials.iter().flat_map(|c| &c.evidence));
    all.extend(f.anomalies.iter().map(|a| &a.evidence));
    all
}

/// No redacted evidence shows a password or token that crossed.
fn assert_secrets_masked(f: &DialogFacts, case: &str) {
    for cred in &f.credentials {
        if cred.secret_kind == SecretKind::None || cred.secret.len() < 3 {
            continue;
        }
        for e in all_evidence(f) {
            let shown = e.redacted();
            assert!(
                !shown
                    .windows(cred.secret.len())
                    .any(|w| w == cred.secret.as_slice()),
                "{case}: secret {:?} shown in {:?}",
                String::from_utf8_lossy(&cred.secret),
                String::from_utf8_lossy(&shown)
            );
        }
    }
}

const GREETING_STARTTLS: &[u8] =
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS LOGINDISABLED] ready\r\n";

/// A minimal TLS 1.2 ClientHello record.
fn client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([7u8; 32]); // random
    body.push(0); // session id
    body.extend([0x00, 0x02, 0x00, 0x2f]); // one cipher suite
    body.extend([0x01, 0x00]); // null compression
    record(1, &body)
}

/// A minimal TLS 1.2 ServerHello record.
fn server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([9u8; 32]);
    body.push(0);
    body.extend([0x00, 0x2f, 0x00]);
    record(2, &body)
}

fn record(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut hs = vec![msg_type, 0, 0, body.len() as u8];
    hs.extend_from_slice(body);
    let mut rec = vec![0x16, 0x03, 0x01, 0, hs.len() as u8];
    rec.extend(hs);
    rec
}

/// Checks one case whole, then one byte at a time and in odd pieces: the
/// facts must be identical however the bytes are cut.
fn check(name: &str, script: &[Step<'_>], want: &[&str]) {
    let facts = run(script);
    assert_eq!(summary(&facts), want, "case {name}");
    assert_secrets_masked(&facts, name);
    let whole = format!("{facts:?}");
    for chunk in [1, 2, 3, 7, 64] {
        let cut = format!("{:?}", run_chunked(script, chunk));
        assert_eq!(cut, whole, "case {name}, fed {chunk} bytes at a time");
    }
}

#[test]
fn capabilities_and_starttls() {
    let hello_c = client_hello();
    let hello_s = server_hello();
    let cases: &[(&str, &[Step<'_>], &[&str])] = &[
        (
            "greeting with capabilities",
            &[S(b"* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED AUTH=PLAIN auth=xoauth2] Dovecot ready.\r\n")],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED AUTH=PLAIN auth=xoauth2] Dovecot ready.",
                "caps starttls logindisabled auth=PLAIN,XOAUTH2",
            ],
        ),
        (
            "separate CAPABILITY, then a tagged code",
            &[
                S(b"* OK IMAP4rev1 ready\r\n"),
                C(b"a1 CAPABILITY\r\n"),
                S(b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=LOGIN\r\na1 OK done\r\n"),
                C(b"a2 NOOP\r\n"),
                S(b"a2 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] noop\r\n"),
            ],
            &[
                "greeting * OK IMAP4rev1 ready",
                "caps starttls auth=LOGIN",
                "caps auth=PLAIN",
            ],
        ),
        (
            "lower case STARTTLS accepted, then TLS",
            &[
                S(GREETING_STARTTLS),
                C(b"a1 starttls\r\n"),
                S(b"a1 ok Begin TLS negotiation now\r\n"),
                C(&hello_c),
                S(&hello_s),
                C(b"\x17\x03\x03\x00\x05hello"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS LOGINDISABLED] ready",
                "caps starttls logindisabled",
                "starttls a1 starttls",
                "answer Accepted a1 ok Begin TLS negotiation now",
                "client-hello",
                "server-hello",
            ],
        ),
        (
            "STARTTLS refused, then LOGIN in cleartext",
            &[
                S(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
                C(b"A1 StartTLS\r\n"),
                S(b"A1 NO TLS not available\r\n"),
                C(b"A2 LOGIN bob hunter2\r\n"),
                S(b"A2 OK LOGIN completed\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 STARTTLS] ready",
                "caps starttls",
                "starttls A1 StartTLS",
                "answer Rejected A1 NO TLS not available",
                "sensitive A2 LOGIN bob *******",
                "cred IMAP-LOGIN bob:hunter2 Password Success",
                "  c A2 LOGIN bob *******",
                "  s A2 OK LOGIN completed",
            ],
        ),
        (
            "STARTTLS refused with BAD",
            &[
                S(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
                C(b". STARTTLS\r\n"),
                S(b". BAD unknown\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 STARTTLS] ready",
                "caps starttls",
                "starttls . STARTTLS",
                "answer Rejected . BAD unknown",
            ],
        ),
        (
            "masked STARTTLS",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 CAPABILITY\r\n"),
                S(b"* CAPABILITY IMAP4rev1 XXXXXXXX LOGINDISABLED CHILDREN UNSELECT\r\na1 OK done\r\n"),
            ],
            &["greeting * OK ready", "caps logindisabled masked"],
        ),
        (
            "tampered STARTTLS refused",
            &[
                S(GREETING_STARTTLS),
                C(b"a2 XXXXXXXX\r\n"),
                S(b"a2 BAD Error in IMAP command received by server.\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS LOGINDISABLED] ready",
                "caps starttls logindisabled",
                "tampered a2 XXXXXXXX / a2 BAD Error in IMAP command received by server.",
            ],
        ),
        (
            "overwritten command accepted is no tampering",
            &[
                S(GREETING_STARTTLS),
                C(b"a2 XXXXXXXX\r\n"),
                S(b"a2 OK fine\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS LOGINDISABLED] ready",
                "caps starttls logindisabled",
            ],
        ),
        (
            "overwritten command without STARTTLS offered",
            &[
                S(b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
                C(b"a2 XXXXXXXX\r\n"),
                S(b"a2 BAD unknown\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1] ready",
                "caps",
                "unparsed [1, 0]",
            ],
        ),
        (
            "PREAUTH",
            &[
                S(b"* PREAUTH [CAPABILITY IMAP4rev1] logged in as alice\r\n"),
                C(b"a1 SELECT INBOX\r\n"),
                S(b"* 3 EXISTS\r\na1 OK [READ-WRITE] done\r\n"),
            ],
            &[
                "greeting * PREAUTH [CAPABILITY IMAP4rev1] logged in as alice",
                "preauth * PREAUTH [CAPABILITY IMAP4rev1] logged in as alice",
                "sensitive a1 SELECT INBOX",
            ],
        ),
        (
            "BYE greeting",
            &[S(b"* BYE too many connections\r\n")],
            &["greeting * BYE too many connections"],
        ),
        (
            "post-login capability lists are not STARTTLS offers",
            &[
                S(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"),
                C(b"a1 LOGIN u p4ssw0rd\r\n"),
                S(b"a1 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n"),
                C(b"a2 CAPABILITY\r\n"),
                S(b"* CAPABILITY IMAP4rev1 IDLE MOVE\r\na2 OK done\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready",
                "caps starttls auth=PLAIN",
                "sensitive a1 LOGIN u ********",
                "cred IMAP-LOGIN u:p4ssw0rd Password Success",
                "  c a1 LOGIN u ********",
                "  s a1 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in",
            ],
        ),
    ];
    for (name, script, want) in cases {
        check(name, script, want);
    }
}

#[test]
fn login() {
    let cases: &[(&str, &[Step<'_>], &[&str])] = &[
        (
            "atoms",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN alice secret\r\n"),
                S(b"a1 OK LOGIN completed\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN alice ******",
                "cred IMAP-LOGIN alice:secret Password Success",
                "  c a1 LOGIN alice ******",
                "  s a1 OK LOGIN completed",
            ],
        ),
        (
            "quoted strings with escapes and spaces",
            &[
                S(b"* OK ready\r\n"),
                C(br#"a1 login "al \"ice\"" "p@ss \\ \"word\""
"#),
                S(b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
            ],
            &[
                "greeting * OK ready",
                r#"sensitive a1 login "al \"ice\"" ******************"#,
                r#"cred IMAP-LOGIN al "ice":p@ss \ "word" Password Failure"#,
                r#"  c a1 login "al \"ice\"" ******************"#,
                "  s a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
            ],
        ),
        (
            "synchronizing literals with go-aheads",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN {5}\r\n"),
                S(b"+ Ready for literal data\r\n"),
                C(b"alice {6}\r\n"),
                S(b"+ Ready for literal data\r\n"),
                C(b"secret\r\n"),
                S(b"a1 OK LOGIN completed\r\n"),
                C(b"a2 LOGOUT\r\n"),
                S(b"* BYE\r\na2 OK bye\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN ***",
                "cred IMAP-LOGIN alice:secret Password Success",
                "  c a1 LOGIN ***",
                "  c ****",
                "  s a1 OK LOGIN completed",
            ],
        ),
        (
            "non-synchronizing literals in one packet",
            &[
                S(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
                C(b"a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\na2 SELECT INBOX\r\n"),
                S(b"a1 OK done\r\na2 OK [READ-WRITE] selected\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 LITERAL+] ready",
                "caps",
                "sensitive a1 LOGIN ****",
                "cred IMAP-LOGIN alice:secret Password Success",
                "  c a1 LOGIN ****",
                "  c *****",
                "  s a1 OK done",
            ],
        ),
        (
            "username in a literal, password an atom",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN {5+}\r\nalice secret\r\n"),
                S(b"a1 OK done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN ****",
                "cred IMAP-LOGIN alice:secret Password Success",
                "  c a1 LOGIN ****",
                "  c *******",
                "  s a1 OK done",
            ],
        ),
        (
            "username an atom, password a literal, no answer",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN alice {6}\r\n"),
                S(b"+ go ahead\r\n"),
                C(b"secret\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN alice ***",
                "cred IMAP-LOGIN alice:secret Password Unknown",
                "  c a1 LOGIN alice ***",
            ],
        ),
        (
            "empty literal password",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN alice {0+}\r\n\r\n"),
                S(b"a1 NO empty\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN alice ****",
                "cred IMAP-LOGIN alice: Password Failure",
                "  c a1 LOGIN alice ****",
                "  s a1 NO empty",
            ],
        ),
        (
            "unterminated quote: masked from there, no credential",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN alice \"secret\r\n"),
                S(b"a1 BAD syntax\r\n"),
            ],
            &["greeting * OK ready", "sensitive a1 LOGIN alice *******"],
        ),
        (
            "a refused synchronizing literal is never sent",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN {4294967296}\r\n"),
                S(b"a1 BAD literal too big\r\n"),
                C(b"a2 LOGIN bob hunter2\r\n"),
                S(b"a2 OK done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN ************",
                "cred IMAP-LOGIN bob:hunter2 Password Success",
                "  c a2 LOGIN bob *******",
                "  s a2 OK done",
            ],
        ),
        (
            "a gap inside a literal argument drops the LOGIN",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN {5+}\r\nal"),
                Gap(Side::Client, 3),
                C(b" {6+}\r\nsecret\r\n"),
                S(b"a1 NO failed\r\n"),
                C(b"a2 LOGIN bob hunter2\r\n"),
                S(b"a2 OK done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN ****",
                "cred IMAP-LOGIN bob:hunter2 Password Success",
                "  c a2 LOGIN bob *******",
                "  s a2 OK done",
            ],
        ),
        (
            "pipelined LOGINs, answered in order",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN alice secret\r\na2 LOGIN bob hunter2\r\n"),
                S(b"a1 NO bad\r\na2 OK good\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 LOGIN alice ******",
                "cred IMAP-LOGIN alice:secret Password Failure",
                "  c a1 LOGIN alice ******",
                "  s a1 NO bad",
                "cred IMAP-LOGIN bob:hunter2 Password Success",
                "  c a2 LOGIN bob *******",
                "  s a2 OK good",
            ],
        ),
        (
            "one tag for every command",
            &[
                S(b"* OK ready\r\n"),
                C(b". NOOP\r\n. LOGIN bob hunter2\r\n"),
                S(b". OK noop\r\n. NO [AUTHENTICATIONFAILED] login\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive . LOGIN bob *******",
                "cred IMAP-LOGIN bob:hunter2 Password Failure",
                "  c . LOGIN bob *******",
                "  s . NO [AUTHENTICATIONFAILED] login",
            ],
        ),
        (
            "a gap inside the command line",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LOGIN alice sec"),
                Gap(Side::Client, 3),
                C(b"et\r\n"),
                S(b"a1 OK done\r\n"),
            ],
            &["greeting * OK ready", "unparsed [1, 0]"],
        ),
    ];
    for (name, script, want) in cases {
        check(name, script, want);
    }
}

#[test]
fn authenticate() {
    let cases: &[(&str, &[Step<'_>], &[&str])] = &[
        (
            "PLAIN with SASL-IR",
            &[
                S(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n"),
                C(b"a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
                S(b"a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready",
                "caps auth=PLAIN",
                "sensitive a1 AUTHENTICATE PLAIN ********************",
                "cred PLAIN alice:secret Password Success",
                "  c a1 AUTHENTICATE PLAIN ********************",
                "  s a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in",
            ],
        ),
        (
            "PLAIN after an empty `+ ` continuation",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 authenticate plain\r\n"),
                S(b"+ \r\n"),
                C(b"AGFsaWNlAHNlY3JldA==\r\n"),
                S(b"a1 NO [AUTHENTICATIONFAILED] failed\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 authenticate plain",
                "cred PLAIN alice:secret Password Failure",
                "  c a1 authenticate plain",
                "  s + ",
                "  c ********************",
                "  s a1 NO [AUTHENTICATIONFAILED] failed",
            ],
        ),
        (
            "PLAIN after a bare `+`",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 AUTHENTICATE PLAIN\r\n"),
                S(b"+\r\n"),
                C(b"AGFsaWNlAHNlY3JldA==\r\n"),
                S(b"a1 OK done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 AUTHENTICATE PLAIN",
                "cred PLAIN alice:secret Password Success",
                "  c a1 AUTHENTICATE PLAIN",
                "  s +",
                "  c ********************",
                "  s a1 OK done",
            ],
        ),
        (
            "LOGIN cancelled with `*`",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 AUTHENTICATE LOGIN\r\n"),
                S(b"+ VXNlcm5hbWU6\r\n"),
                C(b"YWxpY2U=\r\n"),
                S(b"+ UGFzc3dvcmQ6\r\n"),
                C(b"*\r\n"),
                S(b"a1 BAD Authentication cancelled\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 AUTHENTICATE LOGIN",
                "cred LOGIN alice: None Failure cancelled",
                "  c a1 AUTHENTICATE LOGIN",
                "  s + VXNlcm5hbWU6",
                "  c ********",
                "  s + UGFzc3dvcmQ6",
                "  c *",
                "  s a1 BAD Authentication cancelled",
            ],
        ),
        (
            "LOGIN answered, then commands are commands again",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 AUTHENTICATE LOGIN\r\n"),
                S(b"+ VXNlcm5hbWU6\r\n"),
                C(b"YWxpY2U=\r\n"),
                S(b"+ UGFzc3dvcmQ6\r\n"),
                C(b"c2VjcmV0\r\n"),
                S(b"a1 OK done\r\n"),
                C(b"a2 IDLE\r\n"),
                S(b"+ idling\r\n"),
                C(b"DONE\r\n"),
                S(b"a2 OK idle done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 AUTHENTICATE LOGIN",
                "cred LOGIN alice:secret Password Success",
                "  c a1 AUTHENTICATE LOGIN",
                "  s + VXNlcm5hbWU6",
                "  c ********",
                "  s + UGFzc3dvcmQ6",
                "  c ********",
                "  s a1 OK done",
            ],
        ),
        (
            "SASL-IR `=` is an empty initial response",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 AUTHENTICATE EXTERNAL =\r\n"),
                S(b"a1 OK done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "sensitive a1 AUTHENTICATE EXTERNAL *",
            ],
        ),
    ];
    for (name, script, want) in cases {
        check(name, script, want);
    }
}

#[test]
fn literals_and_bodies() {
    // A body full of lines that would be facts if they were read.
    let mut body = Vec::new();
    while body.len() < 100_000 {
        body.extend_from_slice(b"* CAPABILITY IMAP4rev1 STARTTLS\r\na9 LOGIN x y\r\n\0\xff");
    }
    let mut fetch = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", body.len()).into_bytes();
    fetch.extend_from_slice(&body);
    fetch.extend_from_slice(
        b" FLAGS (\\Seen))\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na3 OK FETCH done\r\n",
    );
    let mut append = b"a4 APPEND INBOX (\\Seen) {20}\r\n".to_vec();
    append.extend_from_slice(b"a5 LOGIN x yyyyyyy\r\n\r\n");
    let cases: &[(&str, &[Step<'_>], &[&str])] = &[
        (
            "a FETCH body is skipped by length",
            &[
                S(b"* OK ready\r\n"),
                C(b"a3 UID FETCH 7 BODY[]\r\n"),
                S(&fetch),
            ],
            &[
                "greeting * OK ready",
                "caps auth=PLAIN",
                "sensitive a3 UID FETCH 7 BODY[]",
            ],
        ),
        (
            "an APPEND literal is skipped",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 NOOP\r\n"),
                S(b"a1 OK\r\n"),
                C(&append),
                S(b"+ go\r\na4 OK appended\r\n"),
            ],
            &["greeting * OK ready", "sensitive a4 APPEND INBOX (\\Seen) {20}"],
        ),
        (
            "literals inside a response and a mailbox name",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 LIST \"\" *\r\n"),
                S(b"* LIST () \"/\" {5}\r\nINBOX\r\n* 1 FETCH (BODY[1] {3}\r\nabc BODY[2] {2}\r\nxy)\r\na1 OK done\r\n"),
            ],
            &["greeting * OK ready", "sensitive a1 LIST \"\" *"],
        ),
        (
            "a gap inside a server literal",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 FETCH 1 BODY[]\r\n"),
                S(b"* 1 FETCH (BODY[] {100}\r\n0123456789"),
                Gap(Side::Server, 50),
                S(b"0123456789012345678901234567890123456789)\r\na1 OK [CAPABILITY IMAP4rev1 STARTTLS] done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "caps starttls",
                "sensitive a1 FETCH 1 BODY[]",
            ],
        ),
        (
            "a gap past the end of a server literal",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 FETCH 1 BODY[]\r\n"),
                S(b"* 1 FETCH (BODY[] {100}\r\n0123456789"),
                Gap(Side::Server, 100),
                S(b"a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done\r\n"),
            ],
            &[
                "greeting * OK ready",
                "caps starttls",
                "sensitive a1 FETCH 1 BODY[]",
            ],
        ),
    ];
    for (name, script, want) in cases {
        check(name, script, want);
    }
}

/// Hostile input: nothing panics, nothing is allocated by a claim, and a
/// huge literal claim only makes the rest of that side unreadable.
#[test]
fn garbage_does_not_panic() {
    let mut long = vec![b'A'; 20_000];
    long.extend_from_slice(b" {5}\r\nshort\r\n");
    let scripts: &[&[Step<'_>]] = &[
        &[
            S(b"* OK ready\r\n"),
            S(b"\xff\xfe\x00 garbage \x80\r\n"),
            C(b"\xff\xfe LOGIN \xc3\x28 \"\xa0\xa1\r\n"),
            C(b"a1 LOGIN {18446744073709551615}\r\n"),
            C(b"anything at all\r\n"),
        ],
        &[
            S(b"* OK ready\r\n"),
            S(b"* 1 FETCH (BODY[] {18446744073709551615}\r\nabc\r\n"),
            S(b"a1 OK done\r\n"),
        ],
        &[
            S(b"* OK ready\r\n"),
            C(&long),
            S(&long),
            C(b"{\r\n}\r\n{}\r\n{+}\r\n\r\n \r\n)\r\n*\r\n+\r\n"),
            S(b"{\r\n}\r\n*\r\n+\r\n \r\n\r\n+ \r\n* \r\n"),
            C(b"a1 AUTHENTICATE\r\n"),
            C(b"a2 AUTHENTICATE PLAIN !!!notbase64\r\n"),
            S(b"+ !!!\r\na2 NO\r\n"),
            C(b"a3 LOGIN\r\na4 LOGIN onlyuser\r\na5 LOGIN \"\" \"\"\r\n"),
            S(b"a3 BAD\r\na4 BAD\r\na5 NO\r\n"),
        ],
    ];
    for script in scripts {
        for chunk in [1, 5, usize::MAX] {
            let facts = run_chunked(script, chunk);
            assert!(facts.credentials.is_empty(), "{facts:?}");
        }
    }
    // Pseudo-random bytes on both sides, with IMAP-ish pieces mixed in.
    let pieces: &[&[u8]] = &[
        b"* OK ",
        b"a1 ",
        b"LOGIN ",
        b"{3}",
        b"{9+}",
        b"\r\n",
        b"+ ",
        b"\"",
        b"\\",
        b" ",
        b"OK ",
        b"AUTHENTICATE ",
        b"PLAIN ",
        b"[CAPABILITY ",
        b"STARTTLS",
        b"]",
        b"\xff",
        b"\0",
        b"*",
        b"XXXXXXXX",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        let mut steps = Vec::new();
        let mut bufs: Vec<(Side, Vec<u8>)> = Vec::new();
        for _ in 0..12 {
            let mut buf = Vec::new();
            for _ in 0..16 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buf.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let side = if seed & 0x100 == 0 {
                Side::Client
            } else {
                Side::Server
            };
            bufs.push((side, buf));
        }
        steps.push(S(b"* OK ready\r\n"));
        for (side, buf) in &bufs {
            steps.push(match side {
                Side::Client => C(buf),
                Side::Server => S(buf),
            });
        }
        // Random secrets may equal other words of a line (`LOGIN`), so
        // redaction is checked on the tables, where secrets are distinct.
        let facts = run_chunked(&steps, (seed % 9) as usize + 1);
        assert!(facts.credentials.len() <= 12 * 16, "{facts:?}");
    }
}

/// Repetition grows nothing without bound: capability lists, credentials
/// and pending tags are capped.
#[test]
fn bounded() {
    let mut server = b"* OK ready\r\n".to_vec();
    for _ in 0..1000 {
        server.extend_from_slice(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n");
    }
    // A brute force: one LOGIN, one refusal, again and again.
    let attempts: Vec<(Vec<u8>, Vec<u8>)> = (0..300)
        .map(|i| {
            (
                format!("b{i} LOGIN user{i} pass{i}\r\n").into_bytes(),
                format!("b{i} NO [AUTHENTICATIONFAILED] no\r\n").into_bytes(),
            )
        })
        .collect();
    let mut script = vec![S(&server)];
    for (command, answer) in &attempts {
        script.push(C(command));
        script.push(S(answer));
    }
    let facts = run(&script);
    assert_eq!(facts.capabilities.len(), super::MAX_CAPABILITY_LISTS);
    assert_eq!(facts.credentials.len(), super::MAX_CREDENTIALS);
    assert!(
        facts
            .credentials
            .iter()
            .all(|c| c.outcome == crate::proto::Outcome::Failure)
    );
    assert!(
        facts
            .anomalies
            .iter()
            .any(|a| a.kind == DialogAnomalyKind::CredentialsDropped)
    );
    assert_secrets_masked(&facts, "bounded");

    // More pipelined commands than are kept: the oldest one's answer
    // matches nothing, and its LOGIN is settled as unknown when dropped.
    let mut client = b"t0 LOGIN alice secret\r\n".to_vec();
    for i in 1..=crate::proto::pending::MAX_PENDING_COMMANDS {
        client.extend_from_slice(format!("t{i} NOOP\r\n").as_bytes());
    }
    let facts = run(&[S(b"* OK ready\r\n"), C(&client), S(b"t0 OK done\r\n")]);
    assert_eq!(
        summary(&facts),
        [
            "greeting * OK ready",
            "sensitive t0 LOGIN alice ******",
            "cred IMAP-LOGIN alice:secret Password Unknown",
            "  c t0 LOGIN alice ******",
        ]
    );
}

#[test]
fn pipeline_overflow_is_noted_and_a_dropped_login_still_crossed() {
    // 300 pipelined commands, a LOGIN first: it is dropped for room when
    // the 257th comes, and its answer then matches nothing.
    let mut client = b"t0 LOGIN alice secret\r\n".to_vec();
    for i in 1..300 {
        client.extend_from_slice(format!("t{i} NOOP\r\n").as_bytes());
    }
    let facts = run(&[S(b"* OK ready\r\n"), C(&client), S(b"t0 OK done\r\n")]);
    let anomalies: Vec<_> = facts
        .anomalies
        .iter()
        .map(|a| (a.kind.name(), String::from_utf8_lossy(&a.evidence.bytes)))
        .collect();
    // Four of a kind are kept, each at the command that found no room.
    assert_eq!(
        anomalies,
        (256..260)
            .map(|i| ("pipeline-overflow", format!("t{i} NOOP").into()))
            .collect::<Vec<_>>()
    );
    let outcomes: Vec<_> = facts.credentials.iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, [crate::proto::Outcome::Unknown]);
}

/// Which first command is recorded as sensitive, and what counts as
/// unparsed ([client, server]).
/// Client bytes, server bytes, the sensitive command, unparsed lines.
type SensitiveCase = (&'static [u8], &'static [u8], Option<&'static str>, [u64; 2]);

#[test]
fn sensitive_and_unparsed() {
    let cases: &[SensitiveCase] = &[
        (
            b"a NOOP\r\na CAPABILITY\r\na ID NIL\r\na ENABLE UTF8=ACCEPT\r\na LOGOUT\r\n",
            b"",
            None,
            [0, 0],
        ),
        (
            b"a NOOP\r\nb select INBOX\r\n",
            b"",
            Some("b select INBOX"),
            [0, 0],
        ),
        (b"a EXAMINE x\r\n", b"", Some("a EXAMINE x"), [0, 0]),
        (
            b"a STATUS x (MESSAGES)\r\n",
            b"",
            Some("a STATUS x (MESSAGES)"),
            [0, 0],
        ),
        (b"a LIST \"\" *\r\n", b"", Some("a LIST \"\" *"), [0, 0]),
        (
            b"a UID SEARCH ALL\r\na UID FETCH 1 BODY[]\r\n",
            b"",
            Some("a UID FETCH 1 BODY[]"),
            [0, 0],
        ),
        (
            b"a APPEND x {3+}\r\nabc\r\n",
            b"",
            Some("a APPEND x {3+}"),
            [0, 0],
        ),
        (
            b"a FROB x\r\nalone\r\n\r\n DONE\r\nDONE\r\n",
            b"",
            None,
            [4, 0],
        ),
        (
            b"",
            b"\xff\xfe\r\n* \r\nx FOO bar\r\n\r\n* 3 EXISTS\r\n+ go\r\n",
            None,
            [0, 4],
        ),
    ];
    for (client, server, sensitive, unparsed) in cases {
        let facts = run(&[S(b"* OK ready\r\n"), C(client), S(server)]);
        let got = facts.sensitive_command.as_ref().map(text);
        assert_eq!(
            got.as_deref(),
            *sensitive,
            "{}",
            String::from_utf8_lossy(client)
        );
        assert_eq!(
            facts.unparsed_lines.into_array(),
            *unparsed,
            "{}",
            String::from_utf8_lossy(client)
        );
    }
}

// ---- real servers' and clients' quirks (README "Server and client quirks") --

/// Deflate bytes (RFC 1951, as after COMPRESS) that look like IMAP lines.
const DEFLATED_C: &[u8] = b"\x2a\x49\x2d\x2e\x01\x00\r\na9 LOGIN eve pw-in-deflate\r\n\x00\xff";
const DEFLATED_S: &[u8] =
    b"\xca\x48\xcd\xc9\xc9\x07\x00\r\n* BAD garbage\r\na9 OK [CAPABILITY IMAP4rev1] x\r\n";

#[test]
fn server_and_client_quirks() {
    let cases: &[(&str, &[Step<'_>], &[&str])] = &[
        (
            "ID before login (Gmail, QQ and Coremail ask for it)",
            &[
                S(b"* OK Gimap ready for requests from 192.0.2.20\r\n"),
                C(b"a1 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")\r\n"),
                S(b"* ID (\"name\" \"GImap\" \"vendor\" \"Google, Inc.\" \"support-url\" NIL)\r\na1 OK Success\r\n"),
                C(b"a2 CAPABILITY\r\n"),
                S(b"* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER\r\na2 OK Thats all she wrote!\r\n"),
            ],
            &[
                "greeting * OK Gimap ready for requests from 192.0.2.20",
                "caps auth=XOAUTH2,PLAIN,PLAIN-CLIENTTOKEN,OAUTHBEARER",
            ],
        ),
        (
            "COMPRESS=DEFLATE after login: the deflated rest is not read",
            &[
                S(b"* OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] ready\r\n"),
                C(b"a1 LOGIN alice secret\r\n"),
                S(b"a1 OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] Logged in\r\n"),
                C(b"a2 COMPRESS DEFLATE\r\n"),
                S(b"a2 OK DEFLATE active\r\n"),
                C(DEFLATED_C),
                S(DEFLATED_S),
            ],
            &[
                "greeting * OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] ready",
                "caps",
                "sensitive a1 LOGIN alice ******",
                "cred IMAP-LOGIN alice:secret Password Success",
                "  c a1 LOGIN alice ******",
                "  s a1 OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] Logged in",
            ],
        ),
        (
            "COMPRESS refused: lines go on",
            &[
                S(b"* OK ready\r\n"),
                C(b"a1 COMPRESS DEFLATE\r\n"),
                S(b"a1 NO not now\r\n"),
                C(b"a2 STARTTLS\r\n"),
                S(b"a2 BAD no\r\n"),
            ],
            &[
                "greeting * OK ready",
                "starttls a2 STARTTLS",
                "answer Rejected a2 BAD no",
            ],
        ),
    ];
    for (name, script, want) in cases {
        check(name, script, want);
    }
}

/// The client's deflated bytes are masked whole: nothing says they hold no
/// password.
#[test]
fn compressed_client_bytes_are_secret() {
    let script = [
        S(b"* OK ready\r\n"),
        C(b"a1 COMPRESS DEFLATE\r\n"),
        S(b"a1 OK DEFLATE active\r\n"),
        C(DEFLATED_C),
    ];
    let facts = run(&script);
    let start = b"a1 COMPRESS DEFLATE\r\n".len() as u64;
    let end = start + DEFLATED_C.len() as u64;
    let spans: Vec<_> = facts.all_secret_spans().iter().collect();
    assert!(
        spans
            .iter()
            .any(|(side, s, e)| *side == Side::Client && *s <= start && *e >= end),
        "{spans:?}"
    );
}
