//! Samples for the analysis layer: for every finding kind and every
//! credential mechanism, sessions that show it (and clean sessions that
//! must show nothing). Everything lives under `samples/findings/`; the
//! protocol-specific ones are in [`super::findings_smtp`],
//! [`super::findings_imap`] and [`super::findings_pop3`].
//!
//! Each sample's sessions run one after the other: session `i` (0-based)
//! starts `i` seconds after the sample's first packet, so its id in a report
//! is `i + 1` and its frames are contiguous. Every sample talks to its own
//! server address (203.0.113.0/24), so no two samples' sessions count as
//! sessions to one server when all samples are analyzed together.

use super::conversation::{Conversation, Dir};
use super::dialogs::{imap, pop3, smtp};
use super::sample::Sample;
use super::{findings_imap, findings_pop3, findings_smtp, tls};

/// The clients of every findings sample.
pub const CLIENT: &str = "192.0.2.20";

pub fn client(port: u16) -> String {
    format!("{CLIENT}:{port}")
}

/// The server of a sample: `203.0.113.<host>:<port>`.
pub fn server(host: u8, port: u16) -> String {
    format!("203.0.113.{host}:{port}")
}

/// Longest session a sample holds (packets 10 ms apart, sessions 1 s apart).
const MAX_PACKETS: usize = 100;

/// A sample holding `sessions` one after the other (see the module docs).
pub fn sample(name: &str, about: &str, sessions: Vec<Conversation>) -> Sample {
    let mut s = Sample::new(&format!("findings/{name}"), about);
    for (i, c) in sessions.into_iter().enumerate() {
        assert!(
            c.captured().len() < MAX_PACKETS,
            "{name}: session {i} too long"
        );
        s = s.conversation(c.starts_at(i as i64, 0));
    }
    s
}

/// Every findings sample, in README order.
pub fn samples() -> Vec<Sample> {
    let mut out = vec![
        clean_starttls(),
        clean_implicit_tls(),
        plaintext_on_implicit_ports(),
    ];
    out.extend(findings_smtp::samples());
    out.extend(findings_imap::samples());
    out.extend(findings_pop3::samples());
    out
}

/// Server of `clean-starttls.pcap` (ports 25, 587, 143, 110).
pub const CLEAN_HOST: u8 = 1;
/// Server of `clean-implicit-tls.pcap` (ports 465, 993, 995).
pub const IMPLICIT_HOST: u8 = 2;
/// Server of `plaintext-on-implicit-tls-ports.pcap` (465, 993, 995).
pub const PLAINTEXT_HOST: u8 = 3;

fn clean_starttls() -> Sample {
    let mut smtp25 = Conversation::new(&client(50101), &server(CLEAN_HOST, 25));
    smtp::starttls_session(&mut smtp25, 101);
    let mut smtp587 = Conversation::new(&client(50102), &server(CLEAN_HOST, 587));
    smtp::starttls_session(&mut smtp587, 102);
    let mut imap143 = Conversation::new(&client(50103), &server(CLEAN_HOST, 143));
    imap::starttls_session(&mut imap143, 103);
    let mut pop110 = Conversation::new(&client(50104), &server(CLEAN_HOST, 110));
    pop3::stls_session(&mut pop110, 104);
    sample(
        "clean-starttls.pcap",
        "No findings. Four sessions upgraded with STARTTLS and a TLS 1.3 handshake: SMTP on \
         25, SMTP submission on 587, IMAP on 143 (Dovecot, LOGINDISABLED), POP3 STLS on 110.",
        vec![smtp25, smtp587, imap143, pop110],
    )
}

/// A session that is TLS from the first byte: ClientHello, the server's
/// flight, two encrypted round trips, FIN from the client.
fn implicit_tls(port: u16, server_port: u16, name: &str, seed: u64) -> Conversation {
    let mut c = Conversation::new(&client(port), &server(IMPLICIT_HOST, server_port));
    c.handshake();
    tls::session(&mut c, name, seed, 2);
    c.close(Dir::Client);
    c
}

fn clean_implicit_tls() -> Sample {
    sample(
        "clean-implicit-tls.pcap",
        "No findings. Three sessions in TLS from the first byte (RFC 8314): SMTP submission \
         on 465, IMAP on 993, POP3 on 995; each a TLS 1.3 handshake and two encrypted round \
         trips.",
        vec![
            implicit_tls(50201, 465, "mail.example.org", 201),
            implicit_tls(50202, 993, "imap.example.org", 202),
            implicit_tls(50203, 995, "pop.example.org", 203),
        ],
    )
}

pub const SMTP_465_GREETING: &str = "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n";
pub const IMAP_993_GREETING: &str = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID \
    ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n";
pub const POP3_995_GREETING: &str = "+OK Dovecot (Debian) ready.\r\n";

fn plaintext_on_implicit_ports() -> Sample {
    // A TLS client on 465 says ClientHello; the server answers in cleartext.
    let mut smtp465 = Conversation::new(&client(50301), &server(PLAINTEXT_HOST, 465));
    smtp465.handshake();
    let mut noise = tls::Noise::new(301);
    smtp465.client_sends(tls::client_hello("mail.example.org", &mut noise));
    smtp465.server_sends(SMTP_465_GREETING);
    smtp465.close(Dir::Client);

    let mut imap993 = Conversation::new(&client(50302), &server(PLAINTEXT_HOST, 993));
    imap993.handshake();
    imap993.server_sends(IMAP_993_GREETING);
    imap993.client_sends("a001 LOGOUT\r\n");
    imap993.server_sends("* BYE Logging out\r\na001 OK Logout completed.\r\n");
    imap993.close(Dir::Server);

    let mut pop995 = Conversation::new(&client(50303), &server(PLAINTEXT_HOST, 995));
    pop995.handshake();
    pop995.server_sends(POP3_995_GREETING);
    pop995.client_sends("QUIT\r\n");
    pop995.server_sends("+OK Logging out.\r\n");
    pop995.close(Dir::Server);

    sample(
        "plaintext-on-implicit-tls-ports.pcap",
        "plaintext-on-implicit-tls-port (medium) in each of three sessions, the evidence \
         being the cleartext greeting. Session 1: a TLS client on 465 sends its ClientHello \
         and the server answers with a cleartext SMTP greeting; the client gives up. \
         Session 2: cleartext IMAP on 993 (greeting with STARTTLS, LOGOUT). Session 3: \
         cleartext POP3 on 995 (greeting, QUIT).",
        vec![smtp465, imap993, pop995],
    )
}
