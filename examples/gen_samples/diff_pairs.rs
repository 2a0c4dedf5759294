//! Pairs of captures of the same sessions taken at two taps, one on each
//! side of a middlebox that rewrites packets in place (for
//! `stripwatch diff`): `diff/NAME.outside.pcap` is the tap between the
//! middlebox and the servers, `diff/NAME.inside.pcap` the tap between the
//! clients and the middlebox, made from the same conversations by a
//! [`Tamper`]. At the inside tap client packets are seen 300 µs earlier and
//! server packets 300 µs later than at the outside tap.
//!
//! (The lab's `samples/lab/*.client.pcap` / `*.server.pcap` pairs are the
//! terminating-proxy case, recorded from real software.)

use super::conversation::{Conversation, Dir};
use super::dialogs::{imap, pop3, smtp};
use super::sample::Sample;
use super::tamper::{Tamper, asa_mask_banner};

/// Clients behind the middlebox.
pub const INSIDE_CLIENT: &str = "192.0.2.30";
/// The address the NAT gives them outside.
pub const NAT_ADDRESS: &str = "198.51.100.7";
/// Added to the client's sequence numbers by the ASA (outside = inside +
/// this).
pub const ASA_ISN_SHIFT: u32 = 0x3c1a_9b07;
/// How much earlier client packets, and later server packets, are seen at
/// the inside tap.
pub const TAP_DELAY_NANOS: i64 = 300_000;

fn delays() -> [i64; 2] {
    [-TAP_DELAY_NANOS, TAP_DELAY_NANOS]
}

/// A pair: the outside capture (as the conversations are) and the inside
/// one (as the middlebox turned them).
fn pair(name: &str, about: &str, sessions: Vec<Conversation>, inside: Tamper) -> Vec<Sample> {
    let mut outside = Sample::new(
        &format!("diff/{name}.outside.pcap"),
        &format!("Outside tap (middlebox ↔ servers) of the `{name}` pair. {about}"),
    );
    let mut near = Sample::new(
        &format!("diff/{name}.inside.pcap"),
        &format!("Inside tap (clients ↔ middlebox) of the `{name}` pair. {about}"),
    )
    .tamper(inside);
    for (i, c) in sessions.into_iter().enumerate() {
        let c = c.starts_at(i as i64, 0);
        outside = outside.conversation(c.clone());
        near = near.conversation(c);
    }
    vec![near, outside]
}

/// Every pair, in README order.
pub fn samples() -> Vec<Sample> {
    let mut out = clean();
    out.extend(asa_nat());
    out.extend(imap_masked());
    out
}

/// Server of the `clean` pair.
pub const CLEAN_SERVER: &str = "203.0.113.60";
/// Server of the `smtp-asa-nat` pair.
pub const ASA_SERVER: &str = "203.0.113.61";
/// Server of the `imap-masked` pair.
pub const IMAP_SERVER: &str = "203.0.113.62";

fn clean() -> Vec<Sample> {
    let mut smtp25 = Conversation::new(
        &format!("{INSIDE_CLIENT}:51001"),
        &format!("{CLEAN_SERVER}:25"),
    );
    smtp::starttls_session(&mut smtp25, 601);
    let mut imap143 = Conversation::new(
        &format!("{INSIDE_CLIENT}:51002"),
        &format!("{CLEAN_SERVER}:143"),
    );
    imap::starttls_session(&mut imap143, 602);
    let mut pop110 = Conversation::new(
        &format!("{INSIDE_CLIENT}:51003"),
        &format!("{CLEAN_SERVER}:110"),
    );
    pop3::stls_session(&mut pop110, 603);
    pair(
        "clean",
        "A middlebox that changes nothing and translates no address: SMTP on 25, IMAP on 143 \
         and POP3 on 110, each upgraded with STARTTLS/STLS to TLS 1.3. Same five-tuples and \
         sequence numbers at both taps; `stripwatch diff` pairs them by five-tuple and finds \
         no change.",
        vec![smtp25, imap143, pop110],
        Tamper {
            delay_nanos: delays(),
            ..Tamper::default()
        },
    )
}

/// Exchange's greeting and EHLO reply (to the NAT address).
pub const EXCHANGE_GREETING: &str = "220 mail.example.org Microsoft ESMTP MAIL Service ready at \
    Fri, 1 Mar 2024 12:00:00 +0000\r\n";
pub const EXCHANGE_EHLO_REPLY: &str = "250-mail.example.org Hello [198.51.100.7]\r\n\
    250-SIZE 37748736\r\n\
    250-PIPELINING\r\n\
    250-DSN\r\n\
    250-ENHANCEDSTATUSCODES\r\n\
    250-STARTTLS\r\n\
    250-AUTH NTLM\r\n\
    250-8BITMIME\r\n\
    250-BINARYMIME\r\n\
    250-CHUNKING\r\n\
    250 SMTPUTF8\r\n";

fn asa_nat() -> Vec<Sample> {
    let exchange = |port: u16| {
        let mut c = Conversation::new(
            &format!("{NAT_ADDRESS}:{port}"),
            &format!("{ASA_SERVER}:25"),
        )
        .isns(0x0bad_f00d, 0x5eed_0001);
        c.handshake();
        c.server_sends(EXCHANGE_GREETING);
        c.client_sends(smtp::EHLO);
        c.server_sends(EXCHANGE_EHLO_REPLY);
        c
    };
    // The client saw no STARTTLS: it sends the message in cleartext.
    let mut mail = exchange(61001);
    smtp::mail_transaction(&mut mail);
    mail.close(Dir::Server);
    // A client that requires TLS gives up.
    let mut quits = exchange(61002);
    quits.client_sends("QUIT\r\n");
    quits.server_sends("221 2.0.0 Service closing transmission channel\r\n");
    quits.close(Dir::Client);
    let inside = Tamper {
        nat: vec![
            (
                format!("{NAT_ADDRESS}:61001"),
                format!("{INSIDE_CLIENT}:51101"),
            ),
            (
                format!("{NAT_ADDRESS}:61002"),
                format!("{INSIDE_CLIENT}:51102"),
            ),
        ],
        isn_shift: [ASA_ISN_SHIFT.wrapping_neg(), 0],
        delay_nanos: delays(),
        ..Tamper::default()
    }
    .replace(
        Dir::Server,
        EXCHANGE_GREETING,
        &asa_mask_banner(EXCHANGE_GREETING),
    )
    .replace(Dir::Server, "250-STARTTLS\r\n", "250-XXXXXXXA\r\n")
    .replace(Dir::Server, "250-CHUNKING\r\n", "250-XXXXXXXB\r\n");
    pair(
        "smtp-asa-nat",
        "A Cisco ASA with `inspect esmtp` (mask-banner, no allow-tls) and NAT between clients \
         and Exchange: outside the greeting is Exchange's and the EHLO reply offers STARTTLS \
         and CHUNKING; inside the greeting is asterisks (every `2` and `0` kept), STARTTLS is \
         `XXXXXXXA` and CHUNKING `XXXXXXXB`, the client 192.0.2.30:5110x is 198.51.100.7:6100x \
         outside and the client's sequence numbers differ by 0x3c1a9b07 (ISN randomization); \
         lengths are kept. Session 1 sends a message in cleartext, session 2 quits.",
        vec![mail, quits],
        inside,
    )
}

/// Dovecot's greeting with STARTTLS and plaintext logins allowed.
pub const IMAP_GREETING: &str = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE \
    IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n";
pub const IMAP_CAPABILITY_REPLY: &str = "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID \
    ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN\r\n\
    a001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n";
/// The password the client sends in cleartext (fake).
pub const IMAP_PASSWORD: &str = "pw-diff-imap";

fn imap_masked() -> Vec<Sample> {
    let mut c = Conversation::new(
        &format!("{INSIDE_CLIENT}:51201"),
        &format!("{IMAP_SERVER}:143"),
    );
    c.handshake();
    c.server_sends(IMAP_GREETING);
    c.client_sends(imap::CAPABILITY);
    c.server_sends(IMAP_CAPABILITY_REPLY);
    c.client_sends(format!("a002 LOGIN carol {IMAP_PASSWORD}\r\n"));
    c.server_sends("a002 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
    c.client_sends("a003 LOGOUT\r\n");
    c.server_sends("* BYE Logging out\r\na003 OK Logout completed.\r\n");
    c.close(Dir::Server);
    let inside = Tamper {
        delay_nanos: delays(),
        ..Tamper::default()
    }
    .replace(Dir::Server, " STARTTLS ", " XXXXXXXX ");
    pair(
        "imap-masked",
        "A transparent middlebox (no NAT, sequence numbers kept) that masks the STARTTLS \
         capability of an IMAP server as `XXXXXXXX` in the greeting and the CAPABILITY \
         response; the client logs in with LOGIN in cleartext (password `pw-diff-imap`).",
        vec![c],
        inside,
    )
}
