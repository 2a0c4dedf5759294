//! `wild/flows/`: flows and roles as captures from the wild show them
//! (issue 19, classes 5 and 6). Flows on a mail port that are not mail (an
//! FTP password guesser whose client port is 2525, a bot's binary channel
//! on 25 and 2525) next to real mail on the same ports; one connection
//! whose packets carry corrupt timestamps (a SYN-ACK 1.5 billion seconds
//! late, packets stamped in 1970). Each file's truth is in
//! `wild/flows/expected.json`, in `check.py`'s format, written from the
//! same table so it cannot drift.

use super::conversation::{Conversation, Dir, PacketId};
use super::dialogs::smtp;
use super::formats;
use super::sample::Sample;
use serde_json::{Value, json};
use stripwatch::time::Timestamp;

const DIR: &str = "wild/flows";

/// A packet's stamp replaced: (conversation, wire packet, new stamp in
/// seconds since the epoch).
pub type Restamp = (usize, usize, i64);

/// One capture of the directory, with its truth.
struct Wild {
    file: &'static str,
    about: &'static str,
    conversations: Vec<Conversation>,
    restamp: Vec<Restamp>,
    /// Sessions the report must hold (flows of no protocol stripwatch
    /// reads are absent: check.py counts any reported as one).
    truth: Vec<Value>,
}

/// A session of the truth: no capability list unless `offered`.
fn truth(c: &Conversation, offered: Option<bool>, tls: bool, findings: &[&str]) -> Value {
    json!({
        "protocol": "smtp",
        "client": c.client.to_string(),
        "server": c.server.to_string(),
        "implicit_tls": false,
        "starttls_offered": offered,
        "starttls_requested": tls,
        "starttls_accepted": if tls { Some(true) } else { None },
        "tls_established": tls,
        "cleartext_credentials": [],
        "expected_findings": findings,
        "acceptable_findings": [],
    })
}

/// The guesser's session: FTP, no FEAT, each USER/PASS a cleartext
/// credential.
fn ftp_truth(c: &Conversation) -> Value {
    json!({
        "protocol": "ftp",
        "client": c.client.to_string(),
        "server": c.server.to_string(),
        "implicit_tls": false,
        "starttls_offered": null,
        "starttls_requested": false,
        "starttls_accepted": null,
        "tls_established": false,
        "cleartext_credentials": [
            {"mechanism": "USER-PASS", "username": "admin"},
            {"mechanism": "USER-PASS", "username": "root"},
        ],
        "expected_findings": ["cleartext-credentials"],
        "acceptable_findings": [],
    })
}

/// An FTP password guesser: `220 FTP Service`, then USER/PASS rounds.
fn ftp_guesser(client: &str, server: &str) -> Conversation {
    let mut c = Conversation::new(client, server);
    c.handshake();
    c.server_sends("220 FTP Service\r\n");
    for (user, pass) in [("admin", "pw-guess-1"), ("root", "pw-guess-2")] {
        c.client_sends(format!("USER {user}\r\n"));
        c.server_sends(format!("331 Password required for {user}.\r\n"));
        c.client_sends(format!("PASS {pass}\r\n"));
        c.server_sends("530 User cannot log in.\r\n");
    }
    c.client_sends("QUIT\r\n");
    c.server_sends("221 Goodbye.\r\n");
    c.close(Dir::Client);
    c
}

/// A bot's binary command channel: length-prefixed frames both ways, the
/// server first, with the odd LF inside.
fn bot_channel(client: &str, server: &str, seed: u8) -> Conversation {
    let frame = |n: u8| -> Vec<u8> {
        let mut f = vec![0x00, 0x10, 0x01, n, 0x0a, 0xfe];
        f.extend((0..10u8).map(|i| i.wrapping_mul(37).wrapping_add(n)));
        f
    };
    let mut c = Conversation::new(client, server);
    c.handshake();
    for i in 0..3 {
        c.server_sends(frame(seed.wrapping_add(i)));
        c.client_sends(frame(seed.wrapping_add(0x40 + i)));
    }
    c.close(Dir::Server);
    c
}

/// A plain relay session to an MX offering STARTTLS that the client uses.
pub fn starttls_session(client: &str, server: &str, seed: u64) -> Conversation {
    let mut c = Conversation::new(client, server);
    smtp::starttls_session(&mut c, seed);
    c
}

fn catalog() -> Vec<Wild> {
    let mut out = Vec::new();

    let ftp = ftp_guesser("192.0.2.70:2525", "198.51.100.21:21");
    let smtp_2525 = starttls_session("192.0.2.71:40001", "198.51.100.25:2525", 71).starts_at(1, 0);
    out.push(Wild {
        file: "ftp-guesser-client-port-2525.pcap",
        about: "An FTP password guesser whose client port is 2525 (a mail port): `220 FTP Service`, USER/PASS answered 331 and 530; FTP (server port 21), two cleartext credentials. Then a real SMTP server on 2525: STARTTLS, TLS.",
        truth: vec![ftp_truth(&ftp), truth(&smtp_2525, Some(true), true, &[])],
        conversations: vec![ftp, smtp_2525],
        restamp: Vec::new(),
    });

    let bot_25 = bot_channel("192.0.2.72:49152", "198.51.100.26:25", 1);
    let bot_2525 = bot_channel("192.0.2.72:2525", "198.51.100.26:8443", 9).starts_at(1, 0);
    let mut junk = Conversation::new("192.0.2.73:49153", "198.51.100.27:25").starts_at(2, 0);
    junk.handshake();
    junk.server_sends(smtp::RELAY.greeting);
    junk.client_sends(b"\x16\x00\x8f\x11\x02\x7f\xfe\r\n".as_slice());
    junk.server_sends("500 5.5.1 Command unrecognized\r\n");
    junk.client_sends("QUIT\r\n");
    junk.server_sends("221 2.0.0 Bye\r\n");
    junk.close(Dir::Client);
    out.push(Wild {
        file: "bot-binary-channel.pcap",
        about: "A bot's binary command channel to port 25, and one from client port 2525; neither is mail (not in the truth, reported as `unknown`). Then a client sending binary junk to a real SMTP server, which rejects it with 500: SMTP.",
        truth: vec![truth(&junk, None, false, &[])],
        conversations: vec![bot_25, bot_2525, junk],
        restamp: Vec::new(),
    });

    // Two sessions in parallel; the first one's SYN-ACK (wire packet 1) is
    // stamped 1.5e9 s late, its EHLO (packet 4) in 1970.
    let late = starttls_session("192.0.2.74:49154", "198.51.100.28:25", 74);
    let other = starttls_session("192.0.2.75:49155", "198.51.100.28:25", 75).step_nanos(7_000_000);
    out.push(Wild {
        file: "corrupt-timestamps.pcap",
        about: "Two STARTTLS sessions to one MX, in parallel. In the first, the SYN-ACK is stamped 1.5 billion seconds late and the EHLO in 1970: one session each, neither timed out nor split (a `timestamp-off-clock` note on the first).",
        truth: vec![
            truth(&late, Some(true), true, &[]),
            truth(&other, Some(true), true, &[]),
        ],
        conversations: vec![late, other],
        restamp: vec![
            (0, 1, super::conversation::EPOCH + 1_500_000_000),
            (0, 4, 0),
        ],
    });
    out
}

/// The capture's bytes.
fn render(w: &Wild) -> Vec<u8> {
    capture(&w.conversations, &w.restamp)
}

/// A pcap of `conversations` (in time order, as a sample places them) with
/// the stamps of some packets replaced; a packet keeps its place in the
/// file whatever its new stamp.
pub fn capture(conversations: &[Conversation], restamp: &[Restamp]) -> Vec<u8> {
    let mut sample = Sample::new(DIR, "");
    for c in conversations {
        sample = sample.conversation(c.clone());
    }
    let placed = sample.placed();
    let mut frames = sample.frames();
    for (conv, wire, secs) in restamp {
        let at = placed
            .iter()
            .position(|(ci, p)| ci == conv && p.wire == PacketId(*wire) && !p.copy)
            .expect("restamped packet");
        frames[at].ts = Timestamp::new(*secs, frames[at].ts.nanos);
    }
    formats::pcap(&frames, sample.link, false, false, None)
}

/// Every file of `wild/flows/`: the captures, their truth and a README.
pub fn files() -> Vec<(String, Vec<u8>)> {
    let catalog = catalog();
    let mut out: Vec<(String, Vec<u8>)> = catalog
        .iter()
        .map(|w| (format!("{DIR}/{}", w.file), render(w)))
        .collect();
    let expected: Vec<Value> = catalog
        .iter()
        .map(|w| json!({"file": w.file, "sessions": w.truth}))
        .collect();
    let mut truth = serde_json::to_string_pretty(&expected).expect("truth as JSON");
    truth.push('\n');
    out.push((format!("{DIR}/expected.json"), truth.into_bytes()));
    let mut readme = String::from(
        "# Flows and roles from the wild\n\n\
         Generated by `examples/gen_samples/wild_flows.rs` (issue 19, classes 5 and 6); \
         `expected.json` is their truth for `../shared/conformance/check.py`, which counts \
         any session reported as SMTP, IMAP or POP3 that the truth does not hold. \
         Non-mail flows are therefore absent from the truth.\n\n\
         | File | Contents |\n| --- | --- |\n",
    );
    for w in &catalog {
        readme.push_str(&format!("| `{}` | {} |\n", w.file, w.about));
    }
    out.push((format!("{DIR}/README.md"), readme.into_bytes()));
    out
}
