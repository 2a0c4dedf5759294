//! SMTP samples under `samples/findings/` (see [`super::findings`]).

use super::conversation::{Conversation, Dir};
use super::dialogs::smtp::{self, EHLO, MX, READY_FOR_TLS, STARTTLS};
use super::findings::{client, sample, server};
use super::mechanisms::{self as mech, Account, DigestMd5, b64};
use super::sample::Sample;
use super::tls;

/// Servers (203.0.113.<host>) of the SMTP samples.
pub const ASA_HOST: u8 = 10;
pub const CROSS_HOST: u8 = 11;
pub const NO_STARTTLS_HOST: u8 = 12;
pub const NOT_USED_HOST: u8 = 13;
pub const REJECTED_HOST: u8 = 14;
pub const TAMPERED_HOST: u8 = 15;
pub const NOT_ESTABLISHED_HOST: u8 = 16;
pub const INJECTION_HOST: u8 = 17;
pub const HELO_HOST: u8 = 18;
pub const AUTH_HOST: u8 = 19;

/// Session `i` of the sample on `host`, to `port`; client ports are
/// 51000 + 10 * host + i.
pub fn conv(host: u8, i: u16, port: u16) -> Conversation {
    Conversation::new(
        &client(51000 + 10 * u16::from(host) + i),
        &server(host, port),
    )
}

pub const QUIT: &str = "QUIT\r\n";
pub const BYE: &str = "221 2.0.0 Bye\r\n";
pub const REJECTED: &str = "454 4.7.0 TLS not available due to local problem\r\n";
pub const OVERWRITTEN: &str = "XXXXXXXX\r\n";
pub const UNRECOGNIZED: &str = "502 5.5.2 Error: command not recognized\r\n";
pub const TLS_EXPECTED: &str = "503 5.5.1 Error: TLS negotiation expected\r\n";
/// STARTTLS with a command injected behind it in the same segment.
pub const STARTTLS_INJECTED: &str = "STARTTLS\r\nRSET\r\n";
/// A fake EHLO reply injected after the go-ahead.
pub const INJECTED_REPLY: &str = "250-mail.example.org\r\n250 AUTH PLAIN LOGIN\r\n";
pub const LEGACY_GREETING: &str = "220 mail.example.org SMTP ready\r\n";
pub const EHLO_REFUSED_502: &str = UNRECOGNIZED;
pub const EHLO_REFUSED_500: &str =
    "500 5.5.1 Command unrecognized: \"EHLO client.example.com\"\r\n";
pub const HELO: &str = "HELO client.example.com\r\n";
pub const HELO_REPLY: &str = "250 mail.example.org\r\n";
pub const SUBMIT_GREETING: &str = "220 submit.example.org ESMTP Postfix\r\n";
/// A submission server offering AUTH but no STARTTLS.
pub const SUBMIT_EHLO_REPLY: &str = "250-submit.example.org\r\n\
    250-PIPELINING\r\n\
    250-SIZE 52428800\r\n\
    250-AUTH PLAIN LOGIN CRAM-MD5 DIGEST-MD5 NTLM XOAUTH2 OAUTHBEARER SCRAM-SHA-1\r\n\
    250-ENHANCEDSTATUSCODES\r\n\
    250-8BITMIME\r\n\
    250 SMTPUTF8\r\n";
pub const AUTH_OK: &str = "235 2.7.0 Authentication successful\r\n";
pub const AUTH_FAILED: &str = "535 5.7.8 Error: authentication failed: authentication failure\r\n";
pub const TOKEN_REFUSED: &str = "535 5.7.8 Username and Password not accepted\r\n";
pub const CRAM_CHALLENGE: &str = "<4711.1709294400@submit.example.org>";
pub const DIGEST: DigestMd5 = DigestMd5 {
    realm: "submit.example.org",
    nonce: "J3Lw9fQ2Zk8Hn4Tx",
    cnonce: "p8Rk2Vn6Lq1Ws5Yd",
    digest_uri: "smtp/submit.example.org",
};

/// The MX's EHLO reply without its STARTTLS line.
pub fn mx_without_starttls() -> String {
    MX.ehlo_reply.replace("250-STARTTLS\r\n", "")
}

/// An Exchange greeting as a Cisco ASA's mask-banner leaves it: every
/// character but the digits 2 and 0 replaced by `*`.
pub fn asa_greeting() -> String {
    let text = "mail.example.org Microsoft ESMTP MAIL Service ready at Fri, 1 Mar 2024 \
                12:00:00 +0000";
    let masked: String = text
        .chars()
        .map(|c| if c == '2' || c == '0' { c } else { '*' })
        .collect();
    format!("220 {masked}\r\n")
}

/// Exchange's EHLO reply after an ASA `inspect esmtp` without allow-tls:
/// STARTTLS became `XXXXXXXA`, CHUNKING `XXXXXXXB`.
pub const ASA_EHLO_REPLY: &str = "250-mail.example.org Hello [192.0.2.20]\r\n\
    250-SIZE 37748736\r\n\
    250-PIPELINING\r\n\
    250-DSN\r\n\
    250-ENHANCEDSTATUSCODES\r\n\
    250-XXXXXXXA\r\n\
    250-AUTH NTLM\r\n\
    250-8BITMIME\r\n\
    250-BINARYMIME\r\n\
    250-XXXXXXXB\r\n\
    250 SMTPUTF8\r\n";

/// Handshake, greeting, EHLO and its reply.
fn greet(c: &mut Conversation, greeting: &str, ehlo_reply: &str) {
    c.handshake();
    c.server_sends(greeting);
    c.client_sends(EHLO);
    c.server_sends(ehlo_reply);
}

fn quit(c: &mut Conversation) {
    c.client_sends(QUIT);
    c.server_sends(BYE);
    c.close(Dir::Client);
}

/// One message in cleartext, then QUIT; the server closes.
fn mail_and_quit(c: &mut Conversation) {
    smtp::mail_transaction(c);
    c.close(Dir::Server);
}

pub fn samples() -> Vec<Sample> {
    let mut out = Vec::new();

    let mut c = conv(ASA_HOST, 0, 25);
    greet(&mut c, &asa_greeting(), ASA_EHLO_REPLY);
    mail_and_quit(&mut c);
    out.push(sample(
        "smtp-asa.pcap",
        "A Cisco ASA between client and Exchange: the greeting is masked with asterisks \
         (banner-masked, low) and STARTTLS reads `250-XXXXXXXA` in the EHLO reply \
         (starttls-stripped, high); the client sends a message in cleartext.",
        vec![c],
    ));

    let mut stripped = conv(CROSS_HOST, 0, 25);
    greet(&mut stripped, MX.greeting, &mx_without_starttls());
    mail_and_quit(&mut stripped);
    let mut offered = conv(CROSS_HOST, 1, 25);
    smtp::starttls_session(&mut offered, 1101);
    out.push(sample(
        "smtp-stripped-cross-session.pcap",
        "Two sessions to one MX. Session 1: the EHLO reply lacks its STARTTLS line and a \
         message follows in cleartext (starttls-stripped, high, proven by session 2). \
         Session 2: the same server offers STARTTLS and the client uses it (no findings).",
        vec![stripped, offered],
    ));

    let mut quits = conv(NO_STARTTLS_HOST, 0, 25);
    greet(&mut quits, MX.greeting, &mx_without_starttls());
    quit(&mut quits);
    let mut mails = conv(NO_STARTTLS_HOST, 1, 25);
    greet(&mut mails, MX.greeting, &mx_without_starttls());
    mail_and_quit(&mut mails);
    out.push(sample(
        "smtp-no-starttls.pcap",
        "Two sessions to an MX whose EHLO reply lacks the STARTTLS line, with no session \
         that proves it was removed. Session 1: the client quits (no-starttls-offered, low). \
         Session 2: a message follows in cleartext (no-starttls-offered, medium).",
        vec![quits, mails],
    ));

    let mut mails = conv(NOT_USED_HOST, 0, 25);
    greet(&mut mails, MX.greeting, MX.ehlo_reply);
    mail_and_quit(&mut mails);
    let mut quits = conv(NOT_USED_HOST, 1, 25);
    greet(&mut quits, MX.greeting, MX.ehlo_reply);
    quit(&mut quits);
    out.push(sample(
        "smtp-starttls-not-used.pcap",
        "Two sessions to an MX offering STARTTLS. Session 1: the client ignores it and sends \
         a message in cleartext (starttls-not-used, medium). Session 2: the client just \
         quits (no findings).",
        vec![mails, quits],
    ));

    let mut c = conv(REJECTED_HOST, 0, 25);
    greet(&mut c, MX.greeting, MX.ehlo_reply);
    c.client_sends(STARTTLS);
    c.server_sends(REJECTED);
    mail_and_quit(&mut c);
    out.push(sample(
        "smtp-starttls-rejected.pcap",
        "STARTTLS answered `454 4.7.0 TLS not available due to local problem` \
         (starttls-rejected, medium); the client falls back to cleartext and sends a message.",
        vec![c],
    ));

    let mut c = conv(TAMPERED_HOST, 0, 25);
    greet(&mut c, MX.greeting, MX.ehlo_reply);
    c.client_sends(OVERWRITTEN);
    c.server_sends(UNRECOGNIZED);
    mail_and_quit(&mut c);
    out.push(sample(
        "smtp-command-tampered.pcap",
        "STARTTLS offered; the client's command reaches the server as `XXXXXXXX` and is \
         refused with 502 (starttls-command-tampered, high); a message follows in cleartext.",
        vec![c],
    ));

    out.push(not_established());
    out.push(injection());

    let mut c = conv(HELO_HOST, 0, 25);
    c.handshake();
    c.server_sends(LEGACY_GREETING);
    c.client_sends(EHLO);
    c.server_sends(EHLO_REFUSED_502);
    c.client_sends(HELO);
    c.server_sends(HELO_REPLY);
    mail_and_quit(&mut c);
    let mut q = conv(HELO_HOST, 1, 25);
    q.handshake();
    q.server_sends(LEGACY_GREETING);
    q.client_sends(EHLO);
    q.server_sends(EHLO_REFUSED_500);
    q.client_sends(HELO);
    q.server_sends(HELO_REPLY);
    quit(&mut q);
    out.push(sample(
        "smtp-helo-fallback.pcap",
        "EHLO refused, then HELO (helo-fallback, medium); a refused EHLO is a capability \
         list without STARTTLS (no-starttls-offered). Session 1: 502, HELO, a message \
         (no-starttls-offered medium). Session 2: 500, HELO, QUIT (no-starttls-offered low).",
        vec![c, q],
    ));

    out.push(auth());
    out
}

fn not_established() -> Sample {
    let go_ahead = |c: &mut Conversation| {
        greet(c, MX.greeting, MX.ehlo_reply);
        c.client_sends(STARTTLS);
        c.server_sends(READY_FOR_TLS);
    };
    let mut cleartext = conv(NOT_ESTABLISHED_HOST, 0, 25);
    go_ahead(&mut cleartext);
    cleartext.client_sends(EHLO);
    cleartext.server_sends(TLS_EXPECTED);
    quit(&mut cleartext);
    let mut fin = conv(NOT_ESTABLISHED_HOST, 1, 25);
    go_ahead(&mut fin);
    fin.close(Dir::Client);
    let mut rst = conv(NOT_ESTABLISHED_HOST, 2, 25).piggyback_acks();
    go_ahead(&mut rst);
    rst.rst(Dir::Server);
    sample(
        "smtp-tls-not-established.pcap",
        "STARTTLS accepted with 220, but no TLS follows (tls-not-established, high, in each \
         session). Session 1: the client sends EHLO in cleartext (answered 503), then QUIT. \
         Session 2: the client acknowledges the 220 and closes with FIN. Session 3 (ACKs \
         piggybacked, no pure ACKs): the server resets the connection right after the 220, \
         before any client packet.",
        vec![cleartext, fin, rst],
    )
}

fn injection() -> Sample {
    let mut command = conv(INJECTION_HOST, 0, 25);
    greet(&mut command, MX.greeting, MX.ehlo_reply);
    command.client_sends(STARTTLS_INJECTED);
    command.server_sends(READY_FOR_TLS);
    tls::session(&mut command, "mail.example.org", 1701, 1);
    command.close(Dir::Client);

    let mut together = conv(INJECTION_HOST, 1, 25);
    greet(&mut together, MX.greeting, MX.ehlo_reply);
    together.client_sends(STARTTLS);
    together.server_sends(format!("{READY_FOR_TLS}{INJECTED_REPLY}"));
    tls::session(&mut together, "mail.example.org", 1702, 1);
    together.close(Dir::Client);

    let mut apart = conv(INJECTION_HOST, 2, 25);
    greet(&mut apart, MX.greeting, MX.ehlo_reply);
    apart.client_sends(STARTTLS);
    apart.server_sends(READY_FOR_TLS);
    apart.server_sends(INJECTED_REPLY);
    tls::session(&mut apart, "mail.example.org", 1703, 1);
    apart.close(Dir::Client);
    sample(
        "smtp-injection.pcap",
        "STARTTLS injection (starttls-injection, high, in each session; TLS is then \
         established). Session 1: `STARTTLS\\r\\nRSET\\r\\n` in one client segment (command \
         injection). Session 2: a fake EHLO reply (`250-mail.example.org`, `250 AUTH PLAIN \
         LOGIN`) in the same segment as the 220 go-ahead (response injection). Session 3: \
         the same fake reply in its own segment after the 220, before the ClientHello.",
        vec![command, together, apart],
    )
}

/// The NTLM exchange of [`mech::SMTP_NTLM`]: (NEGOTIATE, CHALLENGE,
/// AUTHENTICATE, NTLMv2 response).
pub fn ntlm_exchange() -> [Vec<u8>; 4] {
    let server_challenge = [0x8a, 0x1f, 0x3c, 0x57, 0x92, 0xe4, 0x0b, 0x6d];
    let client_challenge = [0x5d, 0x21, 0x9b, 0x07, 0xc4, 0x38, 0xae, 0x12];
    // 2024-03-01T12:00:00Z as a FILETIME (100 ns since 1601).
    let filetime = (1_709_294_400u64 + 11_644_473_600) * 10_000_000;
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let info = [
        mech::av_pair(2, &utf16("EXAMPLE")),
        mech::av_pair(1, &utf16("SUBMIT")),
        mech::av_pair(4, &utf16("example.org")),
        mech::av_pair(3, &utf16("submit.example.org")),
        mech::av_pair(7, &filetime.to_le_bytes()),
        mech::av_pair(0, b""),
    ]
    .concat();
    let a = mech::SMTP_NTLM;
    let (lm, nt) = mech::ntlmv2_responses(
        "EXAMPLE",
        a,
        server_challenge,
        client_challenge,
        filetime,
        &info,
    );
    [
        mech::ntlm_negotiate(),
        mech::ntlm_challenge("EXAMPLE", server_challenge, &info),
        mech::ntlm_authenticate("EXAMPLE", a.user, "WS-HEIDI", &lm, &nt),
        nt,
    ]
}

/// The client's lines and the server's replies of each AUTH session, in
/// order (without CRLF): what `auth()` sends after EHLO, before QUIT.
pub fn auth_dialogs() -> Vec<(&'static str, Vec<(Dir, String)>)> {
    use Dir::{Client as C, Server as S};
    let line = |d: Dir, s: &str| (d, s.trim_end().to_string());
    let login = |a: Account, ir: bool, verdict: &str| {
        let mut v = Vec::new();
        if ir {
            v.push(line(C, &format!("AUTH LOGIN {}", b64(a.user))));
        } else {
            v.push(line(C, "AUTH LOGIN"));
            v.push(line(S, &format!("334 {}", mech::LOGIN_USER_PROMPT)));
            v.push(line(C, &b64(a.user)));
        }
        v.push(line(S, &format!("334 {}", mech::LOGIN_PASS_PROMPT)));
        v.push(line(C, &b64(a.secret)));
        v.push(line(S, verdict));
        v
    };
    let [negotiate, challenge, authenticate, _] = ntlm_exchange();
    let scram = &mech::SCRAM_SHA_1;
    vec![
        (
            "PLAIN",
            vec![
                line(C, &format!("AUTH PLAIN {}", mech::plain(mech::SMTP_PLAIN))),
                line(S, AUTH_OK),
            ],
        ),
        ("LOGIN", login(mech::SMTP_LOGIN, false, AUTH_FAILED)),
        ("LOGIN", login(mech::SMTP_LOGIN_IR, true, AUTH_OK)),
        (
            "CRAM-MD5",
            vec![
                line(C, "AUTH CRAM-MD5"),
                line(S, &format!("334 {}", b64(CRAM_CHALLENGE))),
                line(C, &mech::cram_md5(mech::SMTP_CRAM, CRAM_CHALLENGE).0),
                line(S, AUTH_OK),
            ],
        ),
        (
            "DIGEST-MD5",
            vec![
                line(C, "AUTH DIGEST-MD5"),
                line(S, &format!("334 {}", b64(DIGEST.challenge()))),
                line(C, &b64(DIGEST.response(mech::SMTP_DIGEST))),
                line(
                    S,
                    &format!("334 {}", b64(DIGEST.rspauth(mech::SMTP_DIGEST))),
                ),
                line(C, ""),
                line(S, AUTH_OK),
            ],
        ),
        (
            "XOAUTH2",
            vec![
                line(
                    C,
                    &format!("AUTH XOAUTH2 {}", mech::xoauth2(mech::SMTP_XOAUTH2)),
                ),
                line(S, &format!("334 {}", mech::xoauth2_error())),
                line(C, ""),
                line(S, TOKEN_REFUSED),
            ],
        ),
        (
            "OAUTHBEARER",
            vec![
                line(
                    C,
                    &format!(
                        "AUTH OAUTHBEARER {}",
                        mech::oauthbearer(mech::SMTP_OAUTHBEARER, "submit.example.org", 587)
                    ),
                ),
                line(S, AUTH_OK),
            ],
        ),
        (
            "NTLM",
            vec![
                line(C, &format!("AUTH NTLM {}", b64(negotiate))),
                line(S, &format!("334 {}", b64(challenge))),
                line(C, &b64(authenticate)),
                line(S, AUTH_OK),
            ],
        ),
        (
            "SCRAM-SHA-1",
            vec![
                line(C, &format!("AUTH SCRAM-SHA-1 {}", b64(scram.client_first))),
                line(S, &format!("334 {}", b64(scram.server_first))),
                line(C, &b64(scram.client_final)),
                line(S, &format!("334 {}", b64(scram.server_final))),
                line(C, ""),
                line(S, AUTH_OK),
            ],
        ),
    ]
}

fn auth() -> Sample {
    let mut sessions = Vec::new();
    for (i, (_, lines)) in auth_dialogs().into_iter().enumerate() {
        let mut c = conv(AUTH_HOST, i as u16, 587);
        greet(&mut c, SUBMIT_GREETING, SUBMIT_EHLO_REPLY);
        for (dir, text) in lines {
            c.sends(dir, format!("{text}\r\n").as_bytes());
        }
        quit(&mut c);
        sessions.push(c);
    }
    sample(
        "smtp-auth.pcap",
        "Nine sessions to a submission server (587) offering AUTH but not STARTTLS \
         (no-starttls-offered, medium, in each), one SASL mechanism each, in this order: PLAIN \
         (initial response, accepted), LOGIN (prompts, refused), LOGIN (username as initial \
         response, accepted), CRAM-MD5, DIGEST-MD5 (md5-sess, with rspauth), XOAUTH2 \
         (refused after the JSON error challenge), OAUTHBEARER (accepted), NTLM (NTLMv2, \
         messages of types 1, 2 and 3), SCRAM-SHA-1. Passwords and tokens give \
         cleartext-credentials (critical when accepted, high when refused); CRAM-MD5, \
         DIGEST-MD5 and NTLM give weak-credentials-exposed (high); SCRAM-SHA-1 exposes no \
         secret (credential listed, no finding).",
        sessions,
    )
}
