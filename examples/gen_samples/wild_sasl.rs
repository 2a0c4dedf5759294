//! Samples under `samples/wild/sasl/` (issue 19, classes 1-4, and NTLM and
//! GSSAPI over SMTP, IMAP and POP3): SASL as real clients and servers send
//! it. `expected.json` beside them is the truth in `check.py`'s format,
//! written from the same scripts so it cannot drift.
//!
//! Each session talks to its own server (203.0.113.<host>, hosts 120-139)
//! from its own client port (54000 + host); sessions of a file start one
//! second apart. No server offers STARTTLS, so every session with a client
//! command after a capability list is `no-starttls-offered` as well.

use super::conversation::{Conversation, Dir};
use super::dialogs::smtp::EHLO;
use super::findings::CLIENT;
use super::findings_smtp::ntlm_exchange;
use super::mechanisms::{b64, gssapi_token};
use super::sample::Sample;
use super::wild_truth::{File, Session, Truth, expected_json};

const DIR: &str = "wild/sasl";

/// One line of a dialog (CRLF added), and whether the capture lost it.
type Line = (Dir, String, Lost);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lost {
    No,
    /// The packet crossed the wire but is not in the capture.
    Yes,
}

/// A scripted dialog and what check.py must find in it.
struct Script {
    protocol: &'static str,
    host: u8,
    port: u16,
    lines: Vec<Line>,
    /// (mechanism, username) of each credential that crossed in cleartext.
    credentials: Vec<(&'static str, Option<&'static str>)>,
    findings: Vec<&'static str>,
    notes: &'static str,
}

impl Script {
    fn conversation(&self) -> Conversation {
        let client = format!("{CLIENT}:{}", 54000 + u16::from(self.host));
        let mut c = Conversation::new(&client, &format!("203.0.113.{}:{}", self.host, self.port));
        c.handshake();
        for (dir, text, lost) in &self.lines {
            let segs = c.sends(*dir, format!("{text}\r\n").as_bytes());
            if *lost == Lost::Yes {
                c.drop_packet(segs.first());
            }
        }
        c.close(Dir::Client);
        c
    }

    /// The session: no server here offers STARTTLS.
    fn session(self) -> Session {
        Session {
            conversation: self.conversation(),
            truth: Truth {
                protocol: self.protocol,
                starttls: (Some(false), false, None, false),
                credentials: self.credentials,
                findings: self.findings,
                notes: self.notes,
            },
        }
    }
}

/// The samples (registered in `main.rs`).
pub fn samples() -> Vec<Sample> {
    files().iter().map(|f| f.sample(DIR)).collect()
}

/// `expected.json` (registered in `main.rs`'s `render_all`).
pub fn truth_files() -> Vec<(String, Vec<u8>)> {
    expected_json(DIR, &files())
}

fn files() -> Vec<File> {
    vec![
        File {
            name: "plain-forms.pcap",
            about: "SASL PLAIN as clients send it, each accepted or refused in cleartext \
                    (cleartext-credentials, no-starttls-offered). Session 1: SMTP, \
                    `authzid NUL NUL password` as initial response (the authzid is the \
                    username), 235. Session 2: IMAP, `authcid NUL password` (no authzid \
                    field) after `+ `. Session 3: POP3, `=` as empty initial response, then \
                    the message with a trailing NUL. Session 4: SMTP, a password alone (no \
                    NUL), refused: a credential without username.",
            sessions: vec![
                plain_empty_authcid(),
                plain_missing_nul(),
                plain_trailing_nul(),
                plain_password_alone(),
            ],
        },
        File {
            name: "unknown-mechanisms.pcap",
            about: "Mechanisms stripwatch has no parser for carry tokens. Session 1: IMAP \
                    AUTHENTICATE XYMPKI (Yahoo), two cookies after `+ `, accepted. Session 2: \
                    SMTP AUTH X-FOO with a token as initial response, 235. Session 3: POP3 AUTH \
                    X-COOKIE whose cookie names the user. Each: cleartext-credentials (token), \
                    no-starttls-offered. Session 4: IMAP AUTHENTICATE ANONYMOUS: no credential, \
                    no-starttls-offered only.",
            sessions: vec![xympki(), x_foo(), x_cookie(), anonymous()],
        },
        File {
            name: "login-plain-text.pcap",
            about: "AUTH LOGIN answered in plain text, not base64 (cleartext-credentials, \
                    no-starttls-offered). Session 1: IMAP `+ User Name` / `+ Password`, the \
                    answers `jdoe` and `Secret12` (valid base64 of binary). Session 2: SMTP \
                    `334 Username:` / `334 Password:`, `root` / `toor`, refused. Session 3: \
                    POP3 plain prompts answered in base64 (decoded).",
            sessions: vec![imap_login_plain(), smtp_login_plain(), pop3_login_b64()],
        },
        File {
            name: "login-lost-prompt.pcap",
            about: "AUTH LOGIN whose password prompt is missing from the capture (the \
                    client's ACK covers it): the client's next line is the password \
                    (cleartext-credentials, no-starttls-offered). Session 1: SMTP, \
                    `334 UGFzc3dvcmQ6` lost. Session 2: IMAP, `+ UGFzc3dvcmQ6` lost. Session 3: \
                    POP3, `+ UGFzc3dvcmQ6` lost.",
            sessions: vec![
                lost_prompt("smtp", 131, 587),
                lost_prompt("imap", 132, 143),
                lost_prompt("pop3", 133, 110),
            ],
        },
        File {
            name: "ntlm-gssapi.pcap",
            about: "NTLM and GSSAPI in every protocol. Sessions 1-3: NTLMv2 over SMTP \
                    (Exchange's `334 NTLM supported`), IMAP and POP3, accepted \
                    (weak-credentials-exposed, no-starttls-offered). Sessions 4-6: GSSAPI \
                    (Kerberos) over SMTP, IMAP and POP3, accepted: no username or reusable \
                    secret visible, no credential (no-starttls-offered).",
            sessions: vec![
                ntlm("smtp", 134, 587),
                ntlm("imap", 135, 143),
                ntlm("pop3", 136, 110),
                gssapi("smtp", 137, 587),
                gssapi("imap", 138, 143),
                gssapi("pop3", 139, 110),
            ],
        },
    ]
}

// ---- building blocks --------------------------------------------------------

fn c(text: impl Into<String>) -> Line {
    (Dir::Client, text.into(), Lost::No)
}

fn s(text: impl Into<String>) -> Line {
    (Dir::Server, text.into(), Lost::No)
}

fn s_lost(text: impl Into<String>) -> Line {
    (Dir::Server, text.into(), Lost::Yes)
}

/// The opening of each protocol up to a capability list without STARTTLS
/// (`mechanisms` as the server lists them).
fn opening(protocol: &str, mechanisms: &str) -> Vec<Line> {
    match protocol {
        "smtp" => vec![
            s("220 submit.example.net ESMTP Exim 4.96"),
            c(EHLO.trim_end()),
            s(format!(
                "250-submit.example.net Hello client.example.com [192.0.2.20]\r\n\
                 250-SIZE 52428800\r\n250-PIPELINING\r\n250-AUTH {mechanisms}\r\n250 HELP"
            )),
        ],
        "imap" => vec![
            s("* OK IMAP4rev1 server ready"),
            c("a1 CAPABILITY"),
            s(format!(
                "* CAPABILITY IMAP4rev1 ID IDLE {}",
                mechanisms
                    .split(' ')
                    .map(|m| format!("AUTH={m}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            s("a1 OK CAPABILITY completed"),
        ],
        _ => vec![
            s("+OK POP3 server ready"),
            c("CAPA"),
            s(format!("+OK\r\nUSER\r\nSASL {mechanisms}\r\n.")),
        ],
    }
}

/// The AUTH command of each protocol (`initial`: its initial response).
fn auth(protocol: &str, mechanism: &str, initial: Option<&str>) -> Line {
    let command = match protocol {
        "imap" => format!("a2 AUTHENTICATE {mechanism}"),
        _ => format!("AUTH {mechanism}"),
    };
    c(match initial {
        Some(ir) => format!("{command} {ir}"),
        None => command,
    })
}

/// A challenge: `334 text` (SMTP) or `+ text`.
fn challenge(protocol: &str, text: &str) -> String {
    match protocol {
        "smtp" => format!("334 {text}"),
        _ => format!("+ {text}"),
    }
}

/// The server's verdict and the client's goodbye.
fn verdict(protocol: &str, accepted: bool) -> Vec<Line> {
    let (verdict, bye, bye_reply) = match (protocol, accepted) {
        ("smtp", true) => ("235 2.7.0 Authentication succeeded", "QUIT", "221 closing"),
        ("smtp", false) => ("535 5.7.8 Authentication failed", "QUIT", "221 closing"),
        ("imap", true) => ("a2 OK AUTHENTICATE completed", "a3 LOGOUT", "a3 OK LOGOUT"),
        ("imap", false) => ("a2 NO AUTHENTICATE failed", "a3 LOGOUT", "a3 OK LOGOUT"),
        (_, true) => ("+OK logged in", "QUIT", "+OK bye"),
        (_, false) => ("-ERR [AUTH] authentication failed", "QUIT", "+OK bye"),
    };
    vec![s(verdict), c(bye), s(bye_reply)]
}

fn session(
    protocol: &'static str,
    (host, port): (u8, u16),
    lines: Vec<Line>,
    credentials: Vec<(&'static str, Option<&'static str>)>,
    findings: Vec<&'static str>,
    notes: &'static str,
) -> Session {
    Script {
        protocol,
        host,
        port,
        lines,
        credentials,
        findings,
        notes,
    }
    .session()
}

const CLEAR: [&str; 2] = ["cleartext-credentials", "no-starttls-offered"];

// ---- class 1: PLAIN forms ---------------------------------------------------

fn plain_empty_authcid() -> Session {
    let mut lines = opening("smtp", "PLAIN LOGIN");
    lines.push(auth(
        "smtp",
        "PLAIN",
        Some(&b64("bob@example.org\0\0pw-bob-1")),
    ));
    lines.extend(verdict("smtp", true));
    session(
        "smtp",
        (120, 587),
        lines,
        vec![("PLAIN", Some("bob@example.org"))],
        CLEAR.to_vec(),
        "PLAIN authzid NUL NUL password: the authzid is the username",
    )
}

fn plain_missing_nul() -> Session {
    let mut lines = opening("imap", "PLAIN");
    lines.push(auth("imap", "PLAIN", None));
    lines.push(s("+ "));
    lines.push(c(b64("alice\0pw-alice-2")));
    lines.extend(verdict("imap", true));
    session(
        "imap",
        (121, 143),
        lines,
        vec![("PLAIN", Some("alice"))],
        CLEAR.to_vec(),
        "PLAIN authcid NUL password (the authzid field missing)",
    )
}

fn plain_trailing_nul() -> Session {
    let mut lines = opening("pop3", "PLAIN");
    lines.push(auth("pop3", "PLAIN", Some("=")));
    lines.push(s("+ "));
    lines.push(c(b64("\0carol\0pw-carol-3\0")));
    lines.extend(verdict("pop3", true));
    session(
        "pop3",
        (122, 110),
        lines,
        vec![("PLAIN", Some("carol"))],
        CLEAR.to_vec(),
        "`=` empty initial response, then PLAIN with a trailing NUL",
    )
}

fn plain_password_alone() -> Session {
    let mut lines = opening("smtp", "PLAIN");
    lines.push(auth("smtp", "PLAIN", Some(&b64("pw-alone-4"))));
    lines.extend(verdict("smtp", false));
    session(
        "smtp",
        (123, 587),
        lines,
        vec![("PLAIN", None)],
        CLEAR.to_vec(),
        "PLAIN without NUL: a password alone, no username visible",
    )
}

// ---- class 2: unknown mechanisms --------------------------------------------

fn xympki() -> Session {
    let mut lines = opening("imap", "XYMPKI PLAIN");
    lines.push(auth("imap", "XYMPKI", None));
    lines.push(s("+ "));
    lines.push(c("V=1.0&P=tok-xympki-cookie-5&F=1&G=0"));
    lines.push(s("+ "));
    lines.push(c("tok-xympki-second-5"));
    lines.extend(verdict("imap", true));
    session(
        "imap",
        (124, 143),
        lines,
        vec![("XYMPKI", None)],
        CLEAR.to_vec(),
        "vendor cookies after AUTHENTICATE XYMPKI: a token, no username visible",
    )
}

fn x_foo() -> Session {
    let mut lines = opening("smtp", "X-FOO PLAIN");
    lines.push(auth("smtp", "x-foo", Some(&b64("tok-x-foo-6"))));
    lines.extend(verdict("smtp", true));
    session(
        "smtp",
        (125, 587),
        lines,
        vec![("X-FOO", None)],
        CLEAR.to_vec(),
        "AUTH x-foo with a token: the mechanism in upper case",
    )
}

fn x_cookie() -> Session {
    let mut lines = opening("pop3", "X-COOKIE");
    lines.push(auth("pop3", "X-COOKIE", None));
    lines.push(s("+ "));
    lines.push(c(b64("user=dave@example.org&c=tok-cookie-7")));
    lines.extend(verdict("pop3", true));
    session(
        "pop3",
        (126, 110),
        lines,
        vec![("X-COOKIE", Some("dave@example.org"))],
        CLEAR.to_vec(),
        "a cookie that names its user",
    )
}

fn anonymous() -> Session {
    let mut lines = opening("imap", "ANONYMOUS");
    lines.push(auth("imap", "ANONYMOUS", None));
    lines.push(s("+ "));
    lines.push(c(b64("trace@example.org")));
    lines.extend(verdict("imap", true));
    session(
        "imap",
        (127, 143),
        lines,
        vec![],
        vec!["no-starttls-offered"],
        "ANONYMOUS carries no secret: no credential",
    )
}

// ---- class 3: LOGIN in plain text -------------------------------------------

fn imap_login_plain() -> Session {
    let mut lines = opening("imap", "LOGIN");
    lines.push(auth("imap", "LOGIN", None));
    lines.extend([s("+ User Name"), c("jdoe"), s("+ Password"), c("Secret12")]);
    lines.extend(verdict("imap", true));
    session(
        "imap",
        (128, 143),
        lines,
        vec![("LOGIN", Some("jdoe"))],
        CLEAR.to_vec(),
        "plain prompts, plain answers that are valid base64 of binary",
    )
}

fn smtp_login_plain() -> Session {
    let mut lines = opening("smtp", "LOGIN");
    lines.push(auth("smtp", "LOGIN", None));
    lines.extend([s("334 Username:"), c("root"), s("334 Password:"), c("toor")]);
    lines.extend(verdict("smtp", false));
    session(
        "smtp",
        (129, 25),
        lines,
        vec![("LOGIN", Some("root"))],
        CLEAR.to_vec(),
        "old IIS-style plain prompts, a brute-force tool's plain answers",
    )
}

fn pop3_login_b64() -> Session {
    let mut lines = opening("pop3", "LOGIN");
    lines.push(auth("pop3", "LOGIN", None));
    lines.extend([
        s("+ Username:"),
        c(b64("erin")),
        s("+ Password:"),
        c(b64("pw-erin-10")),
    ]);
    lines.extend(verdict("pop3", true));
    session(
        "pop3",
        (130, 110),
        lines,
        vec![("LOGIN", Some("erin"))],
        CLEAR.to_vec(),
        "plain prompts, base64 answers",
    )
}

// ---- class 4: a lost prompt -------------------------------------------------

fn lost_prompt(protocol: &'static str, host: u8, port: u16) -> Session {
    let mut lines = opening(protocol, "LOGIN PLAIN");
    lines.push(auth(protocol, "LOGIN", None));
    lines.extend([
        s(challenge(protocol, "VXNlcm5hbWU6")),
        c(b64("frank")),
        s_lost(challenge(protocol, "UGFzc3dvcmQ6")),
        c(b64("pw-frank-11")),
    ]);
    lines.extend(verdict(protocol, true));
    session(
        protocol,
        (host, port),
        lines,
        vec![("LOGIN", Some("frank"))],
        CLEAR.to_vec(),
        "the password prompt is not in the capture; the next line is the password",
    )
}

// ---- NTLM and GSSAPI --------------------------------------------------------

fn ntlm(protocol: &'static str, host: u8, port: u16) -> Session {
    let [negotiate, challenge_msg, authenticate, _] = ntlm_exchange();
    let mut lines = opening(protocol, "NTLM GSSAPI");
    lines.push(auth(protocol, "NTLM", None));
    // Exchange answers a bare AUTH NTLM in plain text.
    let first = if protocol == "smtp" {
        "334 NTLM supported".to_string()
    } else {
        challenge(protocol, "")
    };
    lines.extend([
        s(first),
        c(b64(&negotiate)),
        s(challenge(protocol, &b64(&challenge_msg))),
        c(b64(&authenticate)),
    ]);
    lines.extend(verdict(protocol, true));
    session(
        protocol,
        (host, port),
        lines,
        vec![("NTLM", Some("heidi"))],
        vec!["weak-credentials-exposed", "no-starttls-offered"],
        "NTLMv2: crackable challenge-response",
    )
}

fn gssapi(protocol: &'static str, host: u8, port: u16) -> Session {
    let mut lines = opening(protocol, "GSSAPI NTLM");
    lines.push(auth(protocol, "GSSAPI", None));
    lines.extend([
        s(challenge(protocol, "")),
        c(gssapi_token(u64::from(host), 600)),
        s(challenge(protocol, &gssapi_token(u64::from(host) + 1, 120))),
        c(""),
        s(challenge(
            protocol,
            &b64([0x05, 0x04, 0x01, 0xff, 0, 0x0c, 0, 0]),
        )),
        c(b64([0x05, 0x04, 0x00, 0xff, 0, 0x0c, 0, 0])),
    ]);
    lines.extend(verdict(protocol, true));
    session(
        protocol,
        (host, port),
        lines,
        vec![],
        vec!["no-starttls-offered"],
        "Kerberos: no username or reusable secret visible",
    )
}
