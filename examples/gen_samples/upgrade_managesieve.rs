//! ManageSieve (RFC 5804) samples under `samples/upgrade/`: Dovecot
//! Pigeonhole's bytes on port 4190 (`tests/integration/samples_upgrade_managesieve.rs`
//! asserts each session).

use super::conversation::{Conversation, Dir};
use super::findings::{client, server};
use super::mechanisms::{Account, LOGIN_PASS_PROMPT, LOGIN_USER_PROMPT, b64, plain};
use super::sample::Sample;
use super::tls;

/// The server of every session (203.0.113.<host>:4190).
pub const HOST: u8 = 60;

/// The accounts (fake passwords, `pw-...`).
pub const PLAIN_STRIPPED: Account = Account {
    user: "sieve-ann",
    secret: "pw-sieve-stripped-1A",
};
pub const PLAIN_LITERAL: Account = Account {
    user: "sieve-bob",
    secret: "pw-sieve-literal-2B",
};
pub const LOGIN_REFUSED: Account = Account {
    user: "sieve-cid",
    secret: "pw-sieve-login-3C",
};

/// Every secret of the samples, for the tests that look for leaks.
pub const SECRETS: &[&str] = &[
    PLAIN_STRIPPED.secret,
    PLAIN_LITERAL.secret,
    LOGIN_REFUSED.secret,
];

/// The capability lines of Dovecot Pigeonhole 0.5 before TLS, `"STARTTLS"`
/// among them.
const CAPS: &[&str] = &[
    "\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"",
    "\"SIEVE\" \"fileinto reject envelope encoded-character vacation subaddress \
     comparator-i;ascii-numeric relational regex imap4flags copy include variables body \
     enotify environment mailbox date index ihave duplicate mime foreverypart extracttext\"",
    "\"NOTIFY\" \"mailto\"",
    "\"SASL\" \"PLAIN LOGIN\"",
    "\"STARTTLS\"",
    "\"VERSION\" \"1.0\"",
];

/// The greeting: the capability lines with `"STARTTLS"` as `starttls`
/// says (`None`: the line removed), then `OK "Dovecot ready."`.
pub fn greeting(starttls: Option<&str>) -> String {
    let mut out = String::new();
    for line in CAPS {
        if *line == "\"STARTTLS\"" {
            match starttls {
                Some(s) => out.push_str(&format!("\"{s}\"\r\n")),
                None => continue,
            }
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("OK \"Dovecot ready.\"\r\n");
    out
}

pub const STARTTLS_OK: &str = "OK \"Begin TLS negotiation now.\"\r\n";
pub const STARTTLS_NO: &str = "NO \"TLS support isn't enabled.\"\r\n";
pub const LOGGED_IN: &str = "OK \"Logged in.\"\r\n";
pub const AUTH_FAILED: &str = "NO \"Authentication failed.\"\r\n";

/// Session `i` (client port 52000 + i).
fn conv(i: u16) -> Conversation {
    Conversation::new(&client(52000 + i), &server(HOST, 4190))
}

fn logout(c: &mut Conversation) {
    c.client_sends("LOGOUT\r\n");
    c.server_sends("OK \"Logout completed.\"\r\n");
    c.close(Dir::Server);
}

fn listscripts(c: &mut Conversation) {
    c.client_sends("LISTSCRIPTS\r\n");
    c.server_sends("\"vacation\" ACTIVE\r\nOK \"Listscripts completed.\"\r\n");
}

pub fn samples() -> Vec<Sample> {
    let mut sessions = Vec::new();

    // 1: clean STARTTLS.
    let mut c = conv(0);
    c.handshake();
    c.server_sends(greeting(Some("STARTTLS")));
    c.client_sends("STARTTLS\r\n");
    c.server_sends(STARTTLS_OK);
    tls::session(&mut c, "sieve.example.org", 601, 2);
    c.close(Dir::Client);
    sessions.push(c);

    // 2: "STARTTLS" removed; PLAIN with a quoted initial response.
    let mut c = conv(1);
    c.handshake();
    c.server_sends(greeting(None));
    c.client_sends(format!(
        "AUTHENTICATE \"PLAIN\" \"{}\"\r\n",
        plain(PLAIN_STRIPPED)
    ));
    c.server_sends(LOGGED_IN);
    listscripts(&mut c);
    logout(&mut c);
    sessions.push(c);

    // 3: "STARTTLS" masked; PLAIN with the initial response in a literal.
    let mut c = conv(2);
    c.handshake();
    c.server_sends(greeting(Some("XXXXXXXX")));
    let ir = plain(PLAIN_LITERAL);
    c.client_sends(format!(
        "AUTHENTICATE \"PLAIN\" {{{}+}}\r\n{ir}\r\n",
        ir.len()
    ));
    c.server_sends(LOGGED_IN);
    logout(&mut c);
    sessions.push(c);

    // 4: STARTTLS refused; the client logs out.
    let mut c = conv(3);
    c.handshake();
    c.server_sends(greeting(Some("STARTTLS")));
    c.client_sends("STARTTLS\r\n");
    c.server_sends(STARTTLS_NO);
    logout(&mut c);
    sessions.push(c);

    // 5: offered, not used: LOGIN in the clear, refused.
    let mut c = conv(4);
    c.handshake();
    c.server_sends(greeting(Some("STARTTLS")));
    c.client_sends("AUTHENTICATE \"LOGIN\"\r\n");
    c.server_sends(format!("\"{LOGIN_USER_PROMPT}\"\r\n"));
    c.client_sends(format!("\"{}\"\r\n", b64(LOGIN_REFUSED.user)));
    c.server_sends(format!("\"{LOGIN_PASS_PROMPT}\"\r\n"));
    c.client_sends(format!("\"{}\"\r\n", b64(LOGIN_REFUSED.secret)));
    c.server_sends(AUTH_FAILED);
    logout(&mut c);
    sessions.push(c);

    let mut s = Sample::new(
        "upgrade/managesieve.pcap",
        "ManageSieve (RFC 5804) on 4190, Dovecot Pigeonhole's bytes, five sessions to one \
         server. Session 1: STARTTLS offered, accepted, TLS (no findings). Session 2: the \
         `\"STARTTLS\"` line removed, AUTHENTICATE PLAIN with a quoted initial response, \
         accepted (starttls-stripped proven by session 1; cleartext-credentials). Session 3: \
         `\"XXXXXXXX\"` where `\"STARTTLS\"` was, PLAIN's initial response in a literal \
         `{n+}`, accepted (starttls-stripped; cleartext-credentials). Session 4: STARTTLS \
         answered NO (starttls-rejected). Session 5: STARTTLS offered, AUTHENTICATE LOGIN \
         with string challenges and responses in the clear, refused (starttls-not-used; \
         cleartext-credentials).",
    );
    for (i, c) in sessions.into_iter().enumerate() {
        s = s.conversation(c.starts_at(i as i64, 0));
    }
    vec![s]
}
