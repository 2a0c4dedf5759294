//! IMAP samples under `samples/findings/` (see [`super::findings`]).

use super::conversation::{Conversation, Dir};
use super::dialogs::imap;
use super::findings::{client, sample, server};
use super::mechanisms::{self as mech, b64};
use super::sample::Sample;
use super::tls;

/// Servers (203.0.113.<host>) of the IMAP samples.
pub const MASKED_HOST: u8 = 20;
pub const NOT_USED_HOST: u8 = 21;
pub const LOGIN_FORMS_HOST: u8 = 22;
pub const SASL_HOST: u8 = 23;
pub const PREAUTH_HOST: u8 = 24;
pub const REJECTED_HOST: u8 = 25;
pub const TAMPERED_HOST: u8 = 26;
pub const INJECTION_HOST: u8 = 27;

/// Session `i` of the sample on `host` (port 143); client ports are
/// 51000 + 10 * host + i.
pub fn conv(host: u8, i: u16) -> Conversation {
    Conversation::new(
        &client(51000 + 10 * u16::from(host) + i),
        &server(host, 143),
    )
}

/// Dovecot's pre-login capabilities without LOGINDISABLED (cleartext
/// logins allowed).
pub const CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS \
    AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256 AUTH=GSSAPI";
/// The same with STARTTLS masked on the path.
pub const MASKED_CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ XXXXXXXX \
    AUTH=PLAIN AUTH=LOGIN";
/// Dovecot's post-login capabilities (never STARTTLS).
pub const POST_LOGIN_CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
    SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
    CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC \
    ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY \
    PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE";
pub const PRE_LOGIN_OK: &str =
    "OK Pre-login capabilities listed, post-login capabilities have more.";
pub const LOGIN_FAILED: &str = "a001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n";
pub const REJECTED: &str = "a001 NO [UNAVAILABLE] TLS initialization failed.\r\n";
pub const OVERWRITTEN: &str = "a002 XXXXXXXX\r\n";
pub const UNKNOWN_COMMAND: &str = "a002 BAD Error in IMAP command XXXXXXXX: Unknown command.\r\n";
pub const LITERAL_GO_AHEAD: &str = "+ OK\r\n";
pub const INJECTED: &str = "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n";

pub fn greeting(caps: &str) -> String {
    format!("* OK [CAPABILITY {caps}] Dovecot (Debian) ready.\r\n")
}

pub fn preauth_greeting() -> String {
    format!("* PREAUTH [CAPABILITY {POST_LOGIN_CAPS}] Logged in as rachel\r\n")
}

/// The tagged OK of a successful LOGIN or AUTHENTICATE.
pub fn logged_in(tag: &str) -> String {
    format!("{tag} OK [CAPABILITY {POST_LOGIN_CAPS}] Logged in\r\n")
}

/// An IMAP quoted string (RFC 3501 9: `\` escapes `"` and `\`).
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn capability(c: &mut Conversation, tag: &str, caps: &str) {
    c.client_sends(format!("{tag} CAPABILITY\r\n"));
    c.server_sends(format!("* CAPABILITY {caps}\r\n{tag} {PRE_LOGIN_OK}\r\n"));
}

fn select(c: &mut Conversation, tag: &str) {
    c.client_sends(format!("{tag} SELECT INBOX\r\n"));
    c.server_sends(format!(
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n\
         * 2 EXISTS\r\n\
         * 0 RECENT\r\n\
         * OK [UIDVALIDITY 1709294400] UIDs valid\r\n\
         * OK [UIDNEXT 3] Predicted next UID\r\n\
         {tag} OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"
    ));
}

/// LOGOUT; the server says BYE and closes.
fn logout(c: &mut Conversation, tag: &str) {
    c.client_sends(format!("{tag} LOGOUT\r\n"));
    c.server_sends(format!(
        "* BYE Logging out\r\n{tag} OK Logout completed (0.001 + 0.000 secs).\r\n"
    ));
    c.close(Dir::Server);
}

/// Handshake and a Dovecot greeting with `caps`.
fn greet(c: &mut Conversation, caps: &str) {
    c.handshake();
    c.server_sends(greeting(caps));
}

pub fn samples() -> Vec<Sample> {
    let mut out = Vec::new();

    let mut c = conv(MASKED_HOST, 0);
    greet(&mut c, MASKED_CAPS);
    capability(&mut c, "a001", MASKED_CAPS);
    let a = mech::IMAP_MASKED;
    c.client_sends(format!("a002 LOGIN {} {}\r\n", a.user, a.secret));
    c.server_sends(logged_in("a002"));
    select(&mut c, "a003");
    logout(&mut c, "a004");
    out.push(sample(
        "imap-masked.pcap",
        "IMAP capabilities (greeting code and CAPABILITY response) with STARTTLS masked as \
         `XXXXXXXX` (starttls-stripped, high); the client logs in with LOGIN in cleartext \
         and the server accepts (cleartext-credentials, critical).",
        vec![c],
    ));

    let mut login = conv(NOT_USED_HOST, 0);
    greet(&mut login, CAPS);
    let a = mech::IMAP_ATOM;
    login.client_sends(format!("a001 LOGIN {} {}\r\n", a.user, a.secret));
    login.server_sends(logged_in("a001"));
    select(&mut login, "a002");
    logout(&mut login, "a003");
    let mut quits = conv(NOT_USED_HOST, 1);
    greet(&mut quits, CAPS);
    capability(&mut quits, "a001", CAPS);
    logout(&mut quits, "a002");
    out.push(sample(
        "imap-starttls-not-used.pcap",
        "Two sessions to a server offering STARTTLS. Session 1: LOGIN with atoms in \
         cleartext, accepted, then SELECT (starttls-not-used, medium; cleartext-credentials, \
         critical). Session 2: CAPABILITY and LOGOUT only (no findings).",
        vec![login, quits],
    ));

    out.push(login_forms());
    out.push(sasl());

    let mut pre = conv(PREAUTH_HOST, 0);
    pre.handshake();
    pre.server_sends(preauth_greeting());
    select(&mut pre, "a001");
    logout(&mut pre, "a002");
    let mut other = Conversation::new("192.0.2.21:51241", &server(PREAUTH_HOST, 143));
    imap::starttls_session(&mut other, 2401);
    out.push(sample(
        "imap-preauth.pcap",
        "Session 1: the server greets `* PREAUTH` (with post-login capabilities, which never \
         carry STARTTLS) on 143 in cleartext and the client selects INBOX \
         (preauth-no-tls, high; nothing else). Session 2: another client of the same server \
         gets an ordinary greeting offering STARTTLS and uses it (no findings).",
        vec![pre, other],
    ));

    let mut c = conv(REJECTED_HOST, 0);
    greet(&mut c, CAPS);
    c.client_sends(imap::STARTTLS.replace("a002", "a001"));
    c.server_sends(REJECTED);
    logout(&mut c, "a002");
    out.push(sample(
        "imap-starttls-rejected.pcap",
        "STARTTLS answered `NO` (starttls-rejected, medium); the client logs out.",
        vec![c],
    ));

    let mut c = conv(TAMPERED_HOST, 0);
    greet(&mut c, CAPS);
    capability(&mut c, "a001", CAPS);
    c.client_sends(OVERWRITTEN);
    c.server_sends(UNKNOWN_COMMAND);
    logout(&mut c, "a003");
    out.push(sample(
        "imap-command-tampered.pcap",
        "STARTTLS offered; the client's `a002 STARTTLS` reaches the server as \
         `a002 XXXXXXXX` and is answered BAD (starttls-command-tampered, high).",
        vec![c],
    ));

    let mut c = conv(INJECTION_HOST, 0);
    greet(&mut c, CAPS);
    c.client_sends(imap::STARTTLS);
    c.server_sends(format!("{}{INJECTED}", imap::READY_FOR_TLS));
    tls::session(&mut c, "imap.example.org", 2701, 1);
    c.close(Dir::Client);
    out.push(sample(
        "imap-response-injection.pcap",
        "An untagged `* CAPABILITY IMAP4rev1 AUTH=PLAIN` in the same segment as the STARTTLS \
         go-ahead, before the TLS handshake (starttls-injection, high); TLS is then \
         established.",
        vec![c],
    ));
    out
}

fn login_forms() -> Sample {
    let mut q = conv(LOGIN_FORMS_HOST, 0);
    greet(&mut q, CAPS);
    let a = mech::IMAP_QUOTED;
    q.client_sends(format!(
        "a001 LOGIN {} {}\r\n",
        quoted(a.user),
        quoted(a.secret)
    ));
    q.server_sends(LOGIN_FAILED);
    logout(&mut q, "a002");

    let mut lit = conv(LOGIN_FORMS_HOST, 1);
    greet(&mut lit, CAPS);
    let a = mech::IMAP_LITERAL;
    lit.client_sends(format!("a001 LOGIN {{{}}}\r\n", a.user.len()));
    lit.server_sends(LITERAL_GO_AHEAD);
    lit.client_sends(format!("{} {{{}}}\r\n", a.user, a.secret.len()));
    lit.server_sends(LITERAL_GO_AHEAD);
    lit.client_sends(format!("{}\r\n", a.secret));
    lit.server_sends(logged_in("a001"));
    logout(&mut lit, "a002");

    let mut plus = conv(LOGIN_FORMS_HOST, 2);
    greet(&mut plus, CAPS);
    let a = mech::IMAP_LITERAL_PLUS;
    plus.client_sends(format!(
        "a001 LOGIN {} {{{}+}}\r\n{}\r\n",
        a.user,
        a.secret.len(),
        a.secret
    ));
    plus.server_sends(logged_in("a001"));
    logout(&mut plus, "a002");
    sample(
        "imap-login-forms.pcap",
        "LOGIN arguments in their other forms, each to a server offering STARTTLS \
         (starttls-not-used, medium, in each). Session 1: quoted strings with `\\\"` and \
         `\\\\` escapes, refused with NO (cleartext-credentials, high). Session 2: username \
         and password as synchronizing literals, each after a `+ OK` (critical). Session 3: \
         an atom username and a LITERAL+ password in one segment (critical).",
        vec![q, lit, plus],
    )
}

/// The client's and server's lines of each AUTHENTICATE session (without
/// CRLF), after the greeting and before LOGOUT.
pub fn sasl_dialogs() -> Vec<(&'static str, Vec<(Dir, String)>)> {
    use Dir::{Client as C, Server as S};
    let line = |d: Dir, s: &str| (d, s.trim_end().to_string());
    let scram = &mech::SCRAM_SHA_256;
    vec![
        (
            "PLAIN",
            vec![
                line(
                    C,
                    &format!("a001 AUTHENTICATE PLAIN {}", mech::plain(mech::IMAP_PLAIN)),
                ),
                line(S, &logged_in("a001")),
            ],
        ),
        (
            "SCRAM-SHA-256",
            vec![
                line(
                    C,
                    &format!(
                        "a001 AUTHENTICATE SCRAM-SHA-256 {}",
                        b64(scram.client_first)
                    ),
                ),
                line(S, &format!("+ {}", b64(scram.server_first))),
                line(C, &b64(scram.client_final)),
                line(S, &format!("+ {}", b64(scram.server_final))),
                line(C, ""),
                line(S, &logged_in("a001")),
            ],
        ),
        (
            "GSSAPI",
            vec![
                line(C, "a001 AUTHENTICATE GSSAPI"),
                (S, "+ ".to_string()),
                line(C, &mech::gssapi_token(2301, 600)),
                line(S, &format!("+ {}", mech::gssapi_token(2302, 120))),
                line(C, ""),
                line(
                    S,
                    &format!("+ {}", b64([0x05, 0x04, 0x01, 0xff, 0, 0x0c, 0, 0])),
                ),
                line(C, &b64([0x05, 0x04, 0x00, 0xff, 0, 0x0c, 0, 0])),
                line(S, &logged_in("a001")),
            ],
        ),
    ]
}

fn sasl() -> Sample {
    let mut sessions = Vec::new();
    for (i, (_, lines)) in sasl_dialogs().into_iter().enumerate() {
        let mut c = conv(SASL_HOST, i as u16);
        greet(&mut c, CAPS);
        for (dir, text) in lines {
            c.sends(dir, format!("{text}\r\n").as_bytes());
        }
        logout(&mut c, "a002");
        sessions.push(c);
    }
    sample(
        "imap-sasl.pcap",
        "AUTHENTICATE to a server offering STARTTLS (starttls-not-used, medium, in each). \
         Session 1: PLAIN with a SASL-IR initial response, accepted \
         (cleartext-credentials, critical). Session 2: SCRAM-SHA-256 (credential listed, \
         no secret, no finding). Session 3: GSSAPI (Kerberos): no username or secret \
         visible, so no credential.",
        sessions,
    )
}
