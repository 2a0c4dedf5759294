//! NNTP (RFC 3977, 4642, 4643) samples under `samples/upgrade/`: INN's
//! bytes on port 119 (`tests/integration/samples_upgrade_nntp.rs` asserts
//! each session).

use super::conversation::{Conversation, Dir};
use super::findings::{client, server};
use super::mechanisms::{Account, plain};
use super::sample::Sample;
use super::tls;

/// The server of every session (203.0.113.<host>:119).
pub const HOST: u8 = 61;

/// The accounts (fake passwords, `pw-...`).
pub const USER_PASS: Account = Account {
    user: "news-dan",
    secret: "pw-nntp-authinfo-4D",
};
pub const SASL_PLAIN: Account = Account {
    user: "news-eve",
    secret: "pw-nntp-sasl-5E",
};

/// Every secret of the samples, for the tests that look for leaks.
pub const SECRETS: &[&str] = &[USER_PASS.secret, SASL_PLAIN.secret];

pub const GREETING: &str =
    "200 news.example.org InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n";

/// INN 2.7's CAPABILITIES reply, with `STARTTLS` as `starttls` says
/// (`None`: the line removed).
pub fn capabilities(starttls: Option<&str>) -> String {
    let mut out = String::from(
        "101 Capability list:\r\nVERSION 2\r\nIMPLEMENTATION INN 2.7.1\r\nAUTHINFO USER\r\n\
         HDR\r\nLIST ACTIVE ACTIVE.TIMES COUNTS DISTRIB.PATS HEADERS NEWSGROUPS OVERVIEW.FMT\r\n\
         NEWNEWS\r\nOVER\r\nPOST\r\nREADER\r\nSASL PLAIN\r\n",
    );
    if let Some(s) = starttls {
        out.push_str(&format!("{s}\r\n"));
    }
    out.push_str(".\r\n");
    out
}

/// Session `i` (client port 53000 + i).
fn conv(i: u16) -> Conversation {
    Conversation::new(&client(53000 + i), &server(HOST, 119))
}

fn greet(c: &mut Conversation, starttls: Option<&str>) {
    c.handshake();
    c.server_sends(GREETING);
    c.client_sends("CAPABILITIES\r\n");
    c.server_sends(capabilities(starttls));
}

fn quit(c: &mut Conversation) {
    c.client_sends("QUIT\r\n");
    c.server_sends("205 Bye!\r\n");
    c.close(Dir::Server);
}

pub fn samples() -> Vec<Sample> {
    let mut sessions = Vec::new();

    // 1: clean STARTTLS.
    let mut c = conv(0);
    greet(&mut c, Some("STARTTLS"));
    c.client_sends("STARTTLS\r\n");
    c.server_sends("382 Begin TLS negotiation now\r\n");
    tls::session(&mut c, "news.example.org", 611, 2);
    c.close(Dir::Client);
    sessions.push(c);

    // 2: STARTTLS removed; AUTHINFO USER/PASS, accepted; an article read.
    let mut c = conv(1);
    greet(&mut c, None);
    c.client_sends(format!("AUTHINFO USER {}\r\n", USER_PASS.user));
    c.server_sends("381 Enter password\r\n");
    c.client_sends(format!("AUTHINFO PASS {}\r\n", USER_PASS.secret));
    c.server_sends("281 Authentication succeeded\r\n");
    c.client_sends("GROUP misc.test\r\n");
    c.server_sends("211 1 1 1 misc.test\r\n");
    c.client_sends("ARTICLE 1\r\n");
    c.server_sends(
        "220 1 <t1@example.org> article\r\nFrom: x@example.org\r\nSubject: test\r\n\r\nhello\r\n.\r\n",
    );
    quit(&mut c);
    sessions.push(c);

    // 3: STARTTLS masked; AUTHINFO SASL PLAIN with an initial response.
    let mut c = conv(2);
    greet(&mut c, Some("XXXXXXXX"));
    c.client_sends(format!("AUTHINFO SASL PLAIN {}\r\n", plain(SASL_PLAIN)));
    c.server_sends("281 Authentication succeeded\r\n");
    quit(&mut c);
    sessions.push(c);

    // 4: STARTTLS refused.
    let mut c = conv(3);
    greet(&mut c, Some("STARTTLS"));
    c.client_sends("STARTTLS\r\n");
    c.server_sends("580 Can not initiate TLS negotiation\r\n");
    quit(&mut c);
    sessions.push(c);

    let mut s = Sample::new(
        "upgrade/nntp.pcap",
        "NNTP (RFC 3977, 4642, 4643) on 119, INN's bytes, four sessions to one server, each \
         greeting and CAPABILITIES. Session 1: STARTTLS offered, answered 382, TLS (no \
         findings). Session 2: the STARTTLS line removed, AUTHINFO USER/PASS accepted, an \
         article read (starttls-stripped proven by session 1; cleartext-credentials). \
         Session 3: `XXXXXXXX` where STARTTLS was, AUTHINFO SASL PLAIN with an initial \
         response, accepted (starttls-stripped; cleartext-credentials). Session 4: STARTTLS \
         answered 580 (starttls-rejected).",
    );
    for (i, c) in sessions.into_iter().enumerate() {
        s = s.conversation(c.starts_at(i as i64, 0));
    }
    vec![s]
}
