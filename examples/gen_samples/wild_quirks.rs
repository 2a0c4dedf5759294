//! Samples under `samples/wild/quirks/` (issue 19, classes 7-8 and the
//! server and client quirks): evidence that must cite the decisive
//! capability list, a capture that looks like a decrypted TLS export, and
//! what Exchange, Gmail and Dovecot really send. `expected.json` beside
//! them is the truth in `check.py`'s format, written from the same scripts
//! so it cannot drift.
//!
//! Each session talks to its own server (203.0.113.<host>), so no session
//! proves another's stripping; sessions of a file start one second apart.

use super::conversation::{Conversation, Dir};
use super::dialogs::smtp::{EHLO, MX, READY_FOR_TLS, mail_transaction};
use super::findings::CLIENT;
use super::mechanisms::b64;
use super::sample::Sample;
use super::tls;
use super::wild_truth::{File, Session, Truth, expected_json};

const DIR: &str = "wild/quirks";

fn conv(host: u8, port: u16) -> Conversation {
    let client = format!("{CLIENT}:{}", 53000 + u16::from(host));
    Conversation::new(&client, &format!("203.0.113.{host}:{port}"))
}

fn files() -> Vec<File> {
    vec![
        File {
            name: "evidence-decisive-list.pcap",
            about: "Evidence cites the capability list the client had seen when it went on. \
                    Session 1: SMTP, two EHLO replies without STARTTLS, then AUTH LOGIN in \
                    cleartext (no-starttls-offered cites the second reply and the AUTH line). \
                    Session 2: IMAP, STARTTLS in the greeting's code and in a later CAPABILITY \
                    reply, then LOGIN in cleartext (starttls-not-used cites the CAPABILITY \
                    reply and the LOGIN line).",
            sessions: vec![smtp_two_lists(), imap_two_lists()],
        },
        File {
            name: "decrypted-export.pcap",
            about: "STARTTLS accepted, then the client's EHLO, AUTH PLAIN and a message in \
                    cleartext: tls-not-established, as a capture whose TLS was decrypted and \
                    written back as plaintext (Wireshark, Arkime) also looks.",
            sessions: vec![decrypted_export()],
        },
        File {
            name: "exchange.pcap",
            about: "Exchange quirks. Session 1: EHLO offers STARTTLS, X-ANONYMOUSTLS and X-EXPS; \
                    the peer Exchange upgrades with X-ANONYMOUSTLS (no findings). Session 2: \
                    Exchange 2003 behind a Cisco ASA that masked CHUNKING as XXXXXXXB; no \
                    STARTTLS, X-EXPS LOGIN in cleartext, then a message (no-starttls-offered, \
                    not stripped; cleartext-credentials).",
            sessions: vec![exchange_anonymous_tls(), exchange_2003_behind_asa()],
        },
        File {
            name: "modern-clients.pcap",
            about: "Session 1: IMAP with ID before LOGIN (Gmail wording), STARTTLS offered and \
                    unused, then COMPRESS=DEFLATE: the deflated rest (holding bytes that look \
                    like IMAP lines) makes no finding. Session 2: SMTP, `250 STARTTLS` as the \
                    last EHLO line and STARTTLS used. Session 3: SMTP relay without STARTTLS, \
                    SMTPUTF8 addresses and a BDAT chunk (no-starttls-offered, medium).",
            sessions: vec![
                imap_id_compress(),
                smtp_starttls_last_line(),
                smtp_bdat_utf8(),
            ],
        },
    ]
}

/// The samples (registered in `main.rs`).
pub fn samples() -> Vec<Sample> {
    files().iter().map(|f| f.sample(DIR)).collect()
}

/// `expected.json` (registered in `main.rs`'s `render_all`).
pub fn truth_files() -> Vec<(String, Vec<u8>)> {
    expected_json(DIR, &files())
}

const RELAY_GREETING: &str = "220 relay.example.org ESMTP Postfix\r\n";
/// An Exim-style EHLO reply (it echoes the client's name), no STARTTLS.
fn relay_caps(helo: &str) -> String {
    format!(
        "250-relay.example.org Hello {helo} [192.0.2.20]\r\n250-PIPELINING\r\n\
         250-SIZE 10240000\r\n250-AUTH LOGIN PLAIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
    )
}
const AUTH_OK: &str = "235 2.7.0 Authentication successful\r\n";

fn login(c: &mut Conversation, command: &str, user: &str, password: &str) {
    c.client_sends(command);
    c.server_sends("334 VXNlcm5hbWU6\r\n");
    c.client_sends(format!("{}\r\n", b64(user.as_bytes())));
    c.server_sends("334 UGFzc3dvcmQ6\r\n");
    c.client_sends(format!("{}\r\n", b64(password.as_bytes())));
    c.server_sends(AUTH_OK);
}

fn smtp_two_lists() -> Session {
    let mut c = conv(101, 587);
    c.handshake();
    c.server_sends(RELAY_GREETING);
    c.client_sends(EHLO);
    c.server_sends(relay_caps("client.example.com"));
    // The client starts over with an address literal, as some do.
    c.client_sends("RSET\r\n");
    c.server_sends("250 2.0.0 Ok\r\n");
    c.client_sends("EHLO [192.0.2.20]\r\n");
    c.server_sends(relay_caps("[192.0.2.20]"));
    login(&mut c, "AUTH LOGIN\r\n", "carol", "pw-two-lists");
    c.client_sends("QUIT\r\n");
    c.server_sends("221 2.0.0 Bye\r\n");
    c.close(Dir::Client);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "smtp",
            starttls: (Some(false), false, None, false),
            credentials: vec![("LOGIN", Some("carol"))],
            findings: vec!["cleartext-credentials", "no-starttls-offered"],
            notes: "no-starttls-offered cites the second EHLO reply (the one before AUTH)",
        },
    }
}

const IMAP_GREETING: &str = "* OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE STARTTLS \
    AUTH=PLAIN] Dovecot ready.\r\n";

fn imap_two_lists() -> Session {
    let mut c = conv(102, 143);
    c.handshake();
    c.server_sends(IMAP_GREETING);
    c.client_sends("a1 CAPABILITY\r\n");
    c.server_sends(
        "* CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE STARTTLS AUTH=PLAIN\r\n\
         a1 OK Pre-login capabilities listed.\r\n",
    );
    c.client_sends("a2 LOGIN dave pw-imap-two-lists\r\n");
    c.server_sends("a2 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
    c.client_sends("a3 LOGOUT\r\n");
    c.server_sends("* BYE Logging out\r\na3 OK Logout completed.\r\n");
    c.close(Dir::Server);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "imap",
            starttls: (Some(true), false, None, false),
            credentials: vec![("IMAP-LOGIN", Some("dave"))],
            findings: vec!["cleartext-credentials", "starttls-not-used"],
            notes: "starttls-not-used cites the CAPABILITY reply (the last offer before LOGIN)",
        },
    }
}

fn decrypted_export() -> Session {
    let mut c = conv(103, 25);
    c.handshake();
    c.server_sends(MX.greeting);
    c.client_sends(EHLO);
    c.server_sends(MX.ehlo_reply);
    c.client_sends("STARTTLS\r\n");
    c.server_sends(READY_FOR_TLS);
    // What was inside TLS, written back as plaintext by the exporter.
    c.client_sends(EHLO);
    c.server_sends("250-mail.example.org\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n");
    let plain = b64(b"\0erin\0pw-decrypted-export");
    c.client_sends(format!("AUTH PLAIN {plain}\r\n"));
    c.server_sends(AUTH_OK);
    mail_transaction(&mut c);
    c.close(Dir::Server);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "smtp",
            starttls: (Some(true), true, Some(true), false),
            credentials: vec![("PLAIN", Some("erin"))],
            findings: vec!["cleartext-credentials", "tls-not-established"],
            notes: "as a decrypted export looks: the finding's message says so",
        },
    }
}

const EXCHANGE_CAPS: &str = "250-mail.example.org Hello [192.0.2.20]\r\n\
    250-SIZE 37748736\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n\
    250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n\
    250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-XEXCH50\r\n250-XRDST\r\n\
    250 XSHADOWREQUEST\r\n";

fn exchange_anonymous_tls() -> Session {
    let mut c = conv(104, 25);
    c.handshake();
    c.server_sends(
        "220 mail.example.org Microsoft ESMTP MAIL Service ready at Fri, 1 Mar 2024 \
         12:00:00 +0000\r\n",
    );
    c.client_sends("EHLO hub.example.org\r\n");
    c.server_sends(EXCHANGE_CAPS);
    c.client_sends("X-ANONYMOUSTLS\r\n");
    c.server_sends("220 2.0.0 SMTP server ready\r\n");
    tls::session(&mut c, "mail.example.org", 1904, 2);
    c.close(Dir::Client);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "smtp",
            starttls: (Some(true), true, Some(true), true),
            credentials: vec![],
            findings: vec![],
            notes: "X-ANONYMOUSTLS is Exchange's STARTTLS between its servers",
        },
    }
}

fn exchange_2003_behind_asa() -> Session {
    let mut c = conv(105, 25);
    c.handshake();
    c.server_sends(
        "220 mail.example.org Microsoft ESMTP MAIL Service, Version: 6.0.3790.4675 ready\r\n",
    );
    c.client_sends(EHLO);
    c.server_sends(
        "250-mail.example.org Hello [192.0.2.20]\r\n250-TURN\r\n250-SIZE\r\n250-ETRN\r\n\
         250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-8bitmime\r\n\
         250-BINARYMIME\r\n250-XXXXXXXB\r\n250-VRFY\r\n250-X-EXPS GSSAPI NTLM LOGIN\r\n\
         250-X-EXPS=LOGIN\r\n250-AUTH GSSAPI NTLM LOGIN\r\n250-AUTH=LOGIN\r\n\
         250-X-LINK2STATE\r\n250-XEXCH50\r\n250 OK\r\n",
    );
    login(&mut c, "X-EXPS LOGIN\r\n", "frank", "pw-exchange-2003");
    mail_transaction(&mut c);
    c.close(Dir::Server);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "smtp",
            starttls: (Some(false), false, None, false),
            credentials: vec![("LOGIN", Some("frank"))],
            findings: vec!["cleartext-credentials", "no-starttls-offered"],
            notes: "XXXXXXXB is the ASA's CHUNKING mask, not STARTTLS's",
        },
    }
}

/// Bytes of a deflate stream (noise) around lines an IMAP reader would
/// take for commands and responses.
fn deflated(seed: u64, line: &str) -> Vec<u8> {
    let mut noise = tls::Noise::new(seed);
    let mut bytes = noise.bytes(40);
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(line.as_bytes());
    bytes.extend(noise.bytes(40));
    bytes
}

fn imap_id_compress() -> Session {
    let mut c = conv(106, 143);
    c.handshake();
    c.server_sends("* OK Gimap ready for requests from 192.0.2.20\r\n");
    c.client_sends("a1 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")\r\n");
    c.server_sends(
        "* ID (\"name\" \"GImap\" \"vendor\" \"Google, Inc.\" \"support-url\" NIL)\r\n\
         a1 OK Success\r\n",
    );
    c.client_sends("a2 CAPABILITY\r\n");
    c.server_sends(
        "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 \
         STARTTLS COMPRESS=DEFLATE AUTH=PLAIN\r\na2 OK Thats all she wrote!\r\n",
    );
    c.client_sends("a3 LOGIN grace pw-before-compress\r\n");
    c.server_sends("a3 OK grace authenticated (Success)\r\n");
    c.client_sends("a4 COMPRESS DEFLATE\r\n");
    c.server_sends("a4 OK Success\r\n");
    c.client_sends(deflated(1061, "a9 LOGIN mallory pw-inside-deflate\r\n"));
    c.server_sends(deflated(1062, "* OK [CAPABILITY IMAP4rev1] x\r\na9 OK\r\n"));
    c.close(Dir::Client);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "imap",
            starttls: (Some(true), false, None, false),
            credentials: vec![("IMAP-LOGIN", Some("grace"))],
            findings: vec!["cleartext-credentials", "starttls-not-used"],
            notes: "after COMPRESS the streams are deflated: nothing in them is read",
        },
    }
}

fn smtp_starttls_last_line() -> Session {
    let mut c = conv(107, 25);
    c.handshake();
    c.server_sends("220 mx.example.net ESMTP Exim 4.96 Fri, 01 Mar 2024 12:00:00 +0000\r\n");
    c.client_sends(EHLO);
    c.server_sends(
        "250-mx.example.net Hello client.example.com [192.0.2.20]\r\n250-SIZE 52428800\r\n\
         250-8BITMIME\r\n250-PIPELINING\r\n250-PIPE_CONNECT\r\n250-CHUNKING\r\n\
         250-PRDR\r\n250 STARTTLS\r\n",
    );
    c.client_sends("STARTTLS\r\n");
    c.server_sends("220 TLS go ahead\r\n");
    tls::session(&mut c, "mx.example.net", 1071, 2);
    c.close(Dir::Client);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "smtp",
            starttls: (Some(true), true, Some(true), true),
            credentials: vec![],
            findings: vec![],
            notes: "Exim lists STARTTLS last",
        },
    }
}

fn smtp_bdat_utf8() -> Session {
    let mut c = conv(108, 25);
    c.handshake();
    c.server_sends(RELAY_GREETING);
    c.client_sends(EHLO);
    c.server_sends(
        "250-relay.example.org\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n\
         250 SMTPUTF8\r\n",
    );
    c.client_sends("MAIL FROM:<j\u{f6}rg@b\u{fc}ro.example> SMTPUTF8\r\n");
    c.server_sends("250 2.1.0 Ok\r\n");
    c.client_sends("RCPT TO:<\u{3b1}\u{3bb}\u{3af}\u{3ba}\u{3b7}@example.org>\r\n");
    c.server_sends("250 2.1.5 Ok\r\n");
    let chunk = "Subject: BDAT\r\n\r\nSTARTTLS\r\nAUTH PLAIN AGFsaWNlAHMzY3JldCE=\r\n";
    c.client_sends(format!("BDAT {} LAST\r\n{chunk}", chunk.len()));
    c.server_sends("250 2.0.0 Ok: queued as 4Tq1Xk3Lm9z3\r\n");
    c.client_sends("QUIT\r\n");
    c.server_sends("221 2.0.0 Bye\r\n");
    c.close(Dir::Server);
    Session {
        conversation: c,
        truth: Truth {
            protocol: "smtp",
            starttls: (Some(false), false, None, false),
            credentials: vec![],
            findings: vec!["no-starttls-offered"],
            notes: "the chunk's command-like lines are message bytes",
        },
    }
}
