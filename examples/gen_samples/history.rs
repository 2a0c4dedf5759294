//! Samples under `samples/history/` for the server history (`analyze
//! --history`, `--sensor`, `stripwatch history`): the same three servers
//! seen in two weeks and from two taps.
//!
//! - `week1.pcap` (2026-11-02 to 11-08): an MX on 25 (STARTTLS, then TLS
//!   1.2 showing its certificate, `tests/data/certificate/leaf.der`), an
//!   IMAP server on 143 and a POP3 server on 110 (STARTTLS/STLS, TLS 1.3),
//!   three sessions each, all upgraded.
//! - `week2.pcap` (2026-11-27, 09:00 to 09:32): three sessions to each, every
//!   capability list without STARTTLS/STLS (removed, nothing masked), the
//!   client then logs in in cleartext (AUTH PLAIN, LOGIN, USER and PASS).
//!   Alone it proves nothing (no-starttls-offered); after week1 in the
//!   same history it is stripping proven by the history.
//! - `outside.pcap`: the same sessions at a second tap, between the
//!   middlebox (a proxy connecting from 198.51.100.40) and the servers,
//!   0.2 s after the client's connection: every server offers STARTTLS and
//!   the proxy uses it, the MX showing its own certificate. With week2 as
//!   another sensor's: the path to the inside tap strips it.
//! - `inside-cert.pcap`: the inside tap at 09:50 the same day, one client
//!   the middlebox lets upgrade: STARTTLS offered, but the TLS 1.2 handshake
//!   shows the middlebox's own certificate (`intercept.der`), while
//!   `outside.pcap` shows the MX's at 09:50: certificate-differs.

use super::conversation::{Conversation, Dir};
use super::dialogs::smtp::{EHLO, READY_FOR_TLS, STARTTLS};
use super::mechanisms::{Account, plain};
use super::sample::Sample;
use super::tls;

/// The MX (port 25), IMAP (143) and POP3 (110) servers.
pub const MX: &str = "203.0.113.70:25";
pub const IMAP: &str = "203.0.113.71:143";
pub const POP3: &str = "203.0.113.72:110";
/// The clients behind the middlebox (the inside tap's side).
pub const CLIENT: &str = "192.0.2.40";
/// The client the middlebox intercepts with its own certificate.
pub const INTERCEPTED_CLIENT: &str = "192.0.2.41";
/// The middlebox's address towards the servers (the outside tap's side).
pub const PROXY: &str = "198.51.100.40";

/// 2026-11-02T09:00:00Z and 2026-11-27T09:00:00Z, as offsets from
/// [`super::conversation::EPOCH`].
pub const WEEK1_START: i64 = 84_315_600;
pub const WEEK2_START: i64 = 86_475_600;
/// Week 1: session `k` to a server starts `k` * 3 days after the start.
pub const WEEK1_STEP: i64 = 3 * 86_400;
/// Week 2: session `k` to a server starts `k` * 15 minutes after the start.
pub const WEEK2_STEP: i64 = 15 * 60;
/// Server `j` (MX, IMAP, POP3) is contacted `j` minutes after the MX.
pub const SERVER_STEP: i64 = 60;
/// The proxy's onward connection starts this long after the client's.
pub const PROXY_DELAY_NANOS: u32 = 200_000_000;
/// When the intercepted session starts (after [`WEEK2_START`]).
pub const INTERCEPTED_AT: i64 = 50 * 60;
/// Sessions per server in week 1, week 2 and outside.
pub const SESSIONS: i64 = 3;

/// The leaf certificate the MX presents, and its CA.
pub const LEAF_DER: &[u8] = include_bytes!("../../tests/data/certificate/leaf.der");
pub const CA_DER: &[u8] = include_bytes!("../../tests/data/certificate/ca.der");
/// The middlebox's own certificate for the MX's name.
pub const INTERCEPT_DER: &[u8] = include_bytes!("../../tests/data/certificate/intercept.der");

/// Who logs in in week 2 (fake passwords).
pub const SMTP_ACCOUNT: Account = Account {
    user: "xavier@example.net",
    secret: "pw-history-smtp-4A",
};
pub const IMAP_ACCOUNT: Account = Account {
    user: "yvonne",
    secret: "pw-history-imap-5B",
};
pub const POP3_ACCOUNT: Account = Account {
    user: "zoe",
    secret: "pw-history-pop3-6C",
};

pub const MX_GREETING: &str = "220 mail.example.net ESMTP Postfix (Debian/GNU)\r\n";
pub const MX_EHLO_REPLY: &str = "250-mail.example.net\r\n\
    250-PIPELINING\r\n\
    250-SIZE 52428800\r\n\
    250-STARTTLS\r\n\
    250-AUTH PLAIN LOGIN\r\n\
    250-ENHANCEDSTATUSCODES\r\n\
    250-8BITMIME\r\n\
    250 SMTPUTF8\r\n";
pub const IMAP_CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS \
    LOGINDISABLED";
pub const POP3_CAPA_REPLY: &str = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n\
    AUTH-RESP-CODE\r\nSTLS\r\nSASL PLAIN\r\n.\r\n";

/// What the middlebox leaves of the MX's EHLO reply: no STARTTLS line.
pub fn stripped_ehlo_reply() -> String {
    MX_EHLO_REPLY.replace("250-STARTTLS\r\n", "")
}

/// What it leaves of IMAP's capabilities: no STARTTLS, no LOGINDISABLED.
pub fn stripped_imap_caps() -> String {
    IMAP_CAPS
        .replace(" STARTTLS", "")
        .replace(" LOGINDISABLED", "")
}

/// What it leaves of POP3's CAPA reply: no STLS line.
pub fn stripped_capa_reply() -> String {
    POP3_CAPA_REPLY.replace("STLS\r\n", "")
}

fn imap_greeting(caps: &str) -> String {
    format!("* OK [CAPABILITY {caps}] Dovecot (Debian) ready.\r\n")
}

fn imap_capability_reply(caps: &str) -> String {
    format!(
        "* CAPABILITY {caps}\r\n\
         a001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
    )
}

/// SMTP: greeting, EHLO, STARTTLS, TLS 1.2 showing `chain`.
fn smtp_upgraded(c: &mut Conversation, chain: &[&[u8]], seed: u64) {
    c.handshake();
    c.server_sends(MX_GREETING);
    c.client_sends(EHLO);
    c.server_sends(MX_EHLO_REPLY);
    c.client_sends(STARTTLS);
    c.server_sends(READY_FOR_TLS);
    tls::tls12_session(c, "mail.example.net", chain, seed, 2);
    c.close(Dir::Client);
}

/// IMAP: greeting, CAPABILITY, STARTTLS, TLS 1.3.
fn imap_upgraded(c: &mut Conversation, seed: u64) {
    c.handshake();
    c.server_sends(imap_greeting(IMAP_CAPS));
    c.client_sends("a001 CAPABILITY\r\n");
    c.server_sends(imap_capability_reply(IMAP_CAPS));
    c.client_sends("a002 STARTTLS\r\n");
    c.server_sends("a002 OK Begin TLS negotiation now.\r\n");
    tls::session(c, "imap.example.net", seed, 2);
    c.close(Dir::Client);
}

/// POP3: greeting, CAPA, STLS, TLS 1.3.
fn pop3_upgraded(c: &mut Conversation, seed: u64) {
    c.handshake();
    c.server_sends("+OK Dovecot (Debian) ready.\r\n");
    c.client_sends("CAPA\r\n");
    c.server_sends(POP3_CAPA_REPLY);
    c.client_sends("STLS\r\n");
    c.server_sends("+OK Begin TLS negotiation now.\r\n");
    tls::session(c, "pop.example.net", seed, 1);
    c.close(Dir::Client);
}

/// SMTP without STARTTLS: AUTH PLAIN in cleartext, then QUIT.
fn smtp_stripped(c: &mut Conversation) {
    c.handshake();
    c.server_sends(MX_GREETING);
    c.client_sends(EHLO);
    c.server_sends(stripped_ehlo_reply());
    c.client_sends(format!("AUTH PLAIN {}\r\n", plain(SMTP_ACCOUNT)));
    c.server_sends("235 2.7.0 Authentication successful\r\n");
    c.client_sends("QUIT\r\n");
    c.server_sends("221 2.0.0 Bye\r\n");
    c.close(Dir::Client);
}

/// IMAP without STARTTLS: LOGIN in cleartext, then LOGOUT.
fn imap_stripped(c: &mut Conversation) {
    let caps = stripped_imap_caps();
    c.handshake();
    c.server_sends(imap_greeting(&caps));
    c.client_sends("a001 CAPABILITY\r\n");
    c.server_sends(imap_capability_reply(&caps));
    c.client_sends(format!(
        "a002 LOGIN {} {}\r\n",
        IMAP_ACCOUNT.user, IMAP_ACCOUNT.secret
    ));
    c.server_sends("a002 OK Logged in\r\n");
    c.client_sends("a003 LOGOUT\r\n");
    c.server_sends("* BYE Logging out\r\na003 OK Logout completed.\r\n");
    c.close(Dir::Server);
}

/// POP3 without STLS: USER and PASS in cleartext, then QUIT.
fn pop3_stripped(c: &mut Conversation) {
    c.handshake();
    c.server_sends("+OK Dovecot (Debian) ready.\r\n");
    c.client_sends("CAPA\r\n");
    c.server_sends(stripped_capa_reply());
    c.client_sends(format!("USER {}\r\n", POP3_ACCOUNT.user));
    c.server_sends("+OK\r\n");
    c.client_sends(format!("PASS {}\r\n", POP3_ACCOUNT.secret));
    c.server_sends("+OK Logged in.\r\n");
    c.client_sends("QUIT\r\n");
    c.server_sends("+OK Logging out.\r\n");
    c.close(Dir::Client);
}

/// The conversation of session `k` to server `j` (0 MX, 1 IMAP, 2 POP3)
/// from `client` (port `base` + 10 * j + k), starting at `secs`, `nanos`.
fn conv(client: &str, base: u16, j: usize, k: i64, secs: i64, nanos: u32) -> Conversation {
    let server = [MX, IMAP, POP3][j];
    let port = base + 10 * j as u16 + k as u16;
    Conversation::new(&format!("{client}:{port}"), server).starts_at(secs, nanos)
}

fn week1() -> Sample {
    let mut s = Sample::new(
        "history/week1.pcap",
        "History, week 1 (2026-11-02 to 11-08, a session every 3 days to each server): an MX \
         on 25 (STARTTLS, then TLS 1.2 showing its certificate, CN=mail.example.net from \
         Stripwatch Test Root), IMAP on 143 and POP3 on 110 (STARTTLS/STLS, TLS 1.3); three \
         sessions each, all offered and upgraded. No findings.",
    );
    for k in 0..SESSIONS {
        for j in 0..3 {
            let at = WEEK1_START + k * WEEK1_STEP + j as i64 * SERVER_STEP;
            let mut c = conv(CLIENT, 52000, j, k, at, 0);
            let seed = 700 + 10 * j as u64 + k as u64;
            match j {
                0 => smtp_upgraded(&mut c, &[LEAF_DER, CA_DER], seed),
                1 => imap_upgraded(&mut c, seed),
                _ => pop3_upgraded(&mut c, seed),
            }
            s = s.conversation(c);
        }
    }
    s
}

fn week2() -> Sample {
    let mut s = Sample::new(
        "history/week2.pcap",
        "History, week 2 at the inside tap (2026-11-27 09:00 to 09:32, a session every 15 \
         minutes to each server): the same three servers, every capability list without \
         STARTTLS/STLS (IMAP's LOGINDISABLED gone too; nothing masked), and the client logs \
         in in cleartext (AUTH PLAIN, LOGIN, USER and PASS). Alone: no-starttls-offered; after \
         week1.pcap in one --history: starttls-stripped (proof history); with outside.pcap \
         as another sensor's: proof other-sensor.",
    );
    for k in 0..SESSIONS {
        for j in 0..3 {
            let at = WEEK2_START + k * WEEK2_STEP + j as i64 * SERVER_STEP;
            let mut c = conv(CLIENT, 52100, j, k, at, 0);
            match j {
                0 => smtp_stripped(&mut c),
                1 => imap_stripped(&mut c),
                _ => pop3_stripped(&mut c),
            }
            s = s.conversation(c);
        }
    }
    s
}

fn outside() -> Sample {
    let mut s = Sample::new(
        "history/outside.pcap",
        "History, the outside tap (middlebox to servers) at the time of week2.pcap: the \
         middlebox's proxy (198.51.100.40) connects 0.2 s after each client; every server \
         offers STARTTLS/STLS and the proxy uses it, the MX showing its own certificate \
         (TLS 1.2); a fourth MX session at 09:50 is the onward connection of the intercepted \
         one in inside-cert.pcap. No findings.",
    );
    for k in 0..SESSIONS {
        for j in 0..3 {
            let at = WEEK2_START + k * WEEK2_STEP + j as i64 * SERVER_STEP;
            let mut c = conv(PROXY, 53000, j, k, at, PROXY_DELAY_NANOS);
            let seed = 800 + 10 * j as u64 + k as u64;
            match j {
                0 => smtp_upgraded(&mut c, &[LEAF_DER, CA_DER], seed),
                1 => imap_upgraded(&mut c, seed),
                _ => pop3_upgraded(&mut c, seed),
            }
            s = s.conversation(c);
        }
    }
    let mut c = conv(
        PROXY,
        53000,
        0,
        SESSIONS,
        WEEK2_START + INTERCEPTED_AT,
        PROXY_DELAY_NANOS,
    );
    smtp_upgraded(&mut c, &[LEAF_DER, CA_DER], 850);
    s.conversation(c)
}

fn inside_cert() -> Sample {
    let mut c = conv(
        INTERCEPTED_CLIENT,
        52200,
        0,
        0,
        WEEK2_START + INTERCEPTED_AT,
        0,
    );
    smtp_upgraded(&mut c, &[INTERCEPT_DER], 900);
    Sample::new(
        "history/inside-cert.pcap",
        "History, the inside tap at 2026-11-27 09:50: one client (192.0.2.41) the middlebox \
         lets upgrade to the MX, STARTTLS offered, but the TLS 1.2 handshake shows the \
         middlebox's self-signed certificate (O=Inspection Appliance) where outside.pcap \
         shows the MX's at the same time: certificate-differs in `stripwatch history`.",
    )
    .conversation(c)
}

/// Every history sample, in README order.
pub fn samples() -> Vec<Sample> {
    vec![week1(), week2(), outside(), inside_cert()]
}
