//! POP3 samples under `samples/findings/` (see [`super::findings`]).

use super::conversation::{Conversation, Dir};
use super::dialogs::pop3::{CAPA, CAPA_REPLY, GREETING, STLS};
use super::findings::{client, sample, server};
use super::mechanisms::{self as mech, Account};
use super::sample::Sample;

/// Servers (203.0.113.<host>) of the POP3 samples.
pub const MASKED_HOST: u8 = 30;
pub const NOT_USED_HOST: u8 = 31;
pub const CREDENTIALS_HOST: u8 = 32;
pub const REJECTED_HOST: u8 = 33;
pub const TAMPERED_HOST: u8 = 34;

/// Session `i` of the sample on `host` (port 110); client ports are
/// 51000 + 10 * host + i.
pub fn conv(host: u8, i: u16) -> Conversation {
    Conversation::new(
        &client(51000 + 10 * u16::from(host) + i),
        &server(host, 110),
    )
}

pub const APOP_TIMESTAMP: &str = "<1896.697170952@pop.example.org>";
pub const LOGGED_IN: &str = "+OK Logged in.\r\n";
pub const USER_OK: &str = "+OK\r\n";
pub const AUTH_FAILED: &str = "-ERR [AUTH] Authentication failed.\r\n";
pub const REJECTED: &str = "-ERR [SYS/TEMP] TLS initialization failed.\r\n";
pub const OVERWRITTEN: &str = "XXXX\r\n";
pub const UNKNOWN_COMMAND: &str = "-ERR Unknown command: XXXX\r\n";
pub const SASL_GO_AHEAD: &str = "+ \r\n";

/// Dovecot's CAPA reply with STLS masked on the path.
pub fn masked_capa_reply() -> String {
    CAPA_REPLY.replace("STLS", "XXXX")
}

pub fn apop_greeting() -> String {
    format!("+OK Dovecot (Debian) ready. {APOP_TIMESTAMP}\r\n")
}

fn greet(c: &mut Conversation, greeting: &str) {
    c.handshake();
    c.server_sends(greeting);
}

fn capa(c: &mut Conversation, reply: &str) {
    c.client_sends(CAPA);
    c.server_sends(reply);
}

/// USER and PASS; returns nothing, the server answers `verdict`.
fn user_pass(c: &mut Conversation, a: Account, verdict: &str) {
    c.client_sends(format!("USER {}\r\n", a.user));
    c.server_sends(USER_OK);
    c.client_sends(format!("PASS {}\r\n", a.secret));
    c.server_sends(verdict);
}

fn stat(c: &mut Conversation) {
    c.client_sends("STAT\r\n");
    c.server_sends("+OK 2 3120\r\n");
}

/// QUIT; the server closes.
fn quit(c: &mut Conversation) {
    c.client_sends("QUIT\r\n");
    c.server_sends("+OK Logging out.\r\n");
    c.close(Dir::Server);
}

pub fn samples() -> Vec<Sample> {
    let mut out = Vec::new();

    let mut c = conv(MASKED_HOST, 0);
    greet(&mut c, GREETING);
    capa(&mut c, &masked_capa_reply());
    user_pass(&mut c, mech::POP3_MASKED, LOGGED_IN);
    stat(&mut c);
    quit(&mut c);
    out.push(sample(
        "pop3-masked.pcap",
        "A CAPA reply whose STLS line reads `XXXX` (starttls-stripped, high); the client logs \
         in with USER/PASS in cleartext and the server accepts (cleartext-credentials, \
         critical).",
        vec![c],
    ));

    let mut login = conv(NOT_USED_HOST, 0);
    greet(&mut login, GREETING);
    capa(&mut login, CAPA_REPLY);
    user_pass(&mut login, mech::POP3_USER_PASS, LOGGED_IN);
    stat(&mut login);
    quit(&mut login);
    let mut quits = conv(NOT_USED_HOST, 1);
    greet(&mut quits, GREETING);
    capa(&mut quits, CAPA_REPLY);
    quit(&mut quits);
    out.push(sample(
        "pop3-starttls-not-used.pcap",
        "Two sessions to a server offering STLS. Session 1: USER/PASS in cleartext (the \
         password contains spaces), accepted (starttls-not-used, medium; \
         cleartext-credentials, critical). Session 2: CAPA and QUIT only (no findings).",
        vec![login, quits],
    ));

    let mut apop = conv(CREDENTIALS_HOST, 0);
    greet(&mut apop, &apop_greeting());
    let a = mech::POP3_APOP;
    apop.client_sends(format!(
        "APOP {} {}\r\n",
        a.user,
        mech::apop(a, APOP_TIMESTAMP)
    ));
    apop.server_sends(LOGGED_IN);
    stat(&mut apop);
    quit(&mut apop);
    let mut plain = conv(CREDENTIALS_HOST, 1);
    greet(&mut plain, GREETING);
    plain.client_sends("AUTH PLAIN\r\n");
    plain.server_sends(SASL_GO_AHEAD);
    plain.client_sends(format!("{}\r\n", mech::plain(mech::POP3_PLAIN)));
    plain.server_sends(AUTH_FAILED);
    quit(&mut plain);
    let mut refused = conv(CREDENTIALS_HOST, 2);
    greet(&mut refused, GREETING);
    user_pass(&mut refused, mech::POP3_USER_PASS_FAIL, AUTH_FAILED);
    quit(&mut refused);
    out.push(sample(
        "pop3-credentials.pcap",
        "Credentials without any capability list (so no STLS verdict). Session 1: APOP with \
         the greeting's timestamp, accepted (weak-credentials-exposed, high). Session 2: AUTH \
         PLAIN with the response after a `+ ` challenge, refused (cleartext-credentials, \
         high). Session 3: USER/PASS (password with spaces), refused \
         (cleartext-credentials, high).",
        vec![apop, plain, refused],
    ));

    let mut c = conv(REJECTED_HOST, 0);
    greet(&mut c, GREETING);
    capa(&mut c, CAPA_REPLY);
    c.client_sends(STLS);
    c.server_sends(REJECTED);
    quit(&mut c);
    out.push(sample(
        "pop3-starttls-rejected.pcap",
        "STLS answered `-ERR` (starttls-rejected, medium); the client quits.",
        vec![c],
    ));

    let mut c = conv(TAMPERED_HOST, 0);
    greet(&mut c, GREETING);
    capa(&mut c, CAPA_REPLY);
    c.client_sends(OVERWRITTEN);
    c.server_sends(UNKNOWN_COMMAND);
    quit(&mut c);
    out.push(sample(
        "pop3-command-tampered.pcap",
        "STLS offered; the client's STLS reaches the server as `XXXX` and is answered `-ERR` \
         (starttls-command-tampered, high); the client quits.",
        vec![c],
    ));
    out
}
