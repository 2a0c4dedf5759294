//! Which dialogs are mail (issue 19, class 5): every script fed whole and
//! in pieces of 1, 2, 3 and 7 bytes, from the start of the streams (the
//! handshake was captured) or picked up mid-stream, with the server port's
//! hint.

use crate::proto::facts::Protocol;
use crate::proto::test_support::{C, Feed, S, Script, run_with};

const SMTP: Option<Protocol> = Some(Protocol::Smtp);

/// (name, script, from the start, port hint, protocol, not mail because).
type Case<'a> = (
    &'a str,
    &'a Script<'a>,
    bool,
    Option<Protocol>,
    Option<Protocol>,
    Option<&'a str>,
);

const FTP: &str = "a 220 greeting, then a client line";
const BINARY: &str = "binary data";
const TEXT: &str = "text lines";

#[test]
fn what_is_mail() {
    let cases: &[Case<'_>] = &[
        (
            "FTP guesser: 220, USER answered 331",
            &[
                (S, b"220 FTP Service\r\n"),
                (C, b"USER admin\r\n"),
                (S, b"331 Password required for admin.\r\n"),
                (C, b"PASS pw-guess\r\n"),
                (S, b"530 User cannot log in.\r\n"),
            ],
            true,
            None,
            None,
            Some(FTP),
        ),
        (
            "FTP multi-line greeting on an SMTP port, FEAT (FTP's only) answered 211",
            &[
                (S, b"220-Welcome\r\n220 FTP ready\r\n"),
                (C, b"FEAT\r\n"),
                (S, b"211-Features:\r\n UTF8\r\n211 End\r\n"),
            ],
            true,
            SMTP,
            Some(Protocol::Ftp),
            None,
        ),
        (
            "FTP AUTH TLS (FTP's only) answered 234 on an SMTP port",
            &[
                (S, b"220 FTP ready\r\n"),
                (C, b"AUTH TLS\r\n"),
                (S, b"234 AUTH TLS OK.\r\n"),
            ],
            true,
            SMTP,
            Some(Protocol::Ftp),
            None,
        ),
        (
            "FTP guesser on port 21: 220 and USER are FTP's there",
            &[
                (S, b"220 FTP Service\r\n"),
                (C, b"USER admin\r\n"),
                (S, b"331 Password required for admin.\r\n"),
            ],
            true,
            Some(Protocol::Ftp),
            Some(Protocol::Ftp),
            None,
        ),
        (
            "220 and a client line never answered",
            &[(S, b"220 FTP Service\r\n"), (C, b"USER admin\r\n")],
            true,
            SMTP,
            None,
            Some(FTP),
        ),
        (
            "SMTP server rejects a guesser's USER with 500",
            &[
                (S, b"220 mx ESMTP\r\n"),
                (C, b"USER admin\r\n"),
                (S, b"500 5.5.2 Error: command not recognized\r\n"),
            ],
            true,
            SMTP,
            SMTP,
            None,
        ),
        (
            "binary junk to an SMTP server, rejected with 500",
            &[
                (C, b"\x16\x00\x8f\x11\x02\x7f\xfe\r\n"),
                (S, b"220 mx ESMTP Sendmail\r\n"),
                (C, b"\x01\x02junk\r\n"),
                (S, b"500 5.5.1 Command unrecognized\r\n"),
            ],
            true,
            SMTP,
            SMTP,
            None,
        ),
        (
            "SMTP on 2525: EHLO after a multi-line greeting",
            &[
                (S, b"220-mx ESMTP\r\n220 mx\r\n"),
                (C, b"EHLO client\r\n"),
                (S, b"250-mx\r\n250 STARTTLS\r\n"),
            ],
            true,
            SMTP,
            SMTP,
            None,
        ),
        (
            "greeting in several segments",
            &[
                (S, b"22"),
                (S, b"0 mx ES"),
                (S, b"MTP\r\n"),
                (C, b"EHLO c\r\n"),
            ],
            true,
            SMTP,
            SMTP,
            None,
        ),
        (
            "a lone SMTP greeting, the client says nothing",
            &[(S, b"421 4.3.2 busy\r\n")],
            true,
            SMTP,
            SMTP,
            None,
        ),
        (
            "a bot's binary channel on port 25",
            &[
                (S, b"\x00\x10\x01\x01\n\xfe\x01\x26"),
                (C, b"\x00\x10\x01\x41\n\xfe"),
                (S, b"\x00\x10\x01\x02\n\xfe"),
            ],
            true,
            SMTP,
            None,
            Some(BINARY),
        ),
        (
            "binary without a line end, mid-stream on port 25",
            &[(S, b"\x00\x10\x01\x01\xfe"), (C, b"\x00\x10\x01\x41")],
            false,
            SMTP,
            None,
            Some(BINARY),
        ),
        (
            "text that no mail protocol speaks, from the start on port 25",
            &[
                (C, b"GET / HTTP/1.1\r\n"),
                (C, b"Host: example\r\n"),
                (C, b"\r\n"),
                (S, b"HTTP/1.1 200 OK\r\n"),
            ],
            true,
            SMTP,
            None,
            Some(TEXT),
        ),
        (
            "mid-stream inside a message body on port 25: the port says SMTP",
            &[
                (C, b"Subject: hello\r\n"),
                (C, b"\r\n"),
                (C, b"body line\r\n"),
                (C, b"more\r\n"),
            ],
            false,
            SMTP,
            SMTP,
            None,
        ),
        (
            "mid-stream, a reply then body text: the 220 check is for greetings",
            &[
                (S, b"250 2.1.0 Ok\r\n"),
                (C, b"some text\r\n"),
                (S, b"250 2.0.0 Ok: queued\r\n"),
            ],
            false,
            SMTP,
            SMTP,
            None,
        ),
        (
            "a greeting with control bytes is still a greeting",
            &[(S, b"220 \x1b[2Jmx nul\x00 ESMTP\r\n"), (C, b"EHLO c\r\n")],
            true,
            SMTP,
            SMTP,
            None,
        ),
        (
            "IMAP capability line before the greeting line",
            &[
                (
                    S,
                    b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n* OK ready\r\n",
                ),
                (C, b"a1 LOGOUT\r\n"),
            ],
            true,
            None,
            Some(Protocol::Imap),
            None,
        ),
        (
            "IMAP and POP3 greetings stay what they are",
            &[(S, b"* OK IMAP4rev1 ready\r\n"), (C, b"a1 LOGOUT\r\n")],
            true,
            None,
            Some(Protocol::Imap),
            None,
        ),
    ];
    for (name, script, from_start, hint, want, not_mail) in cases {
        for chunk in [None, Some(1), Some(2), Some(3), Some(7)] {
            let feed = Feed {
                chunk,
                from_start: *from_start,
                port_hint: *hint,
                ..Feed::default()
            };
            let facts = run_with(script, feed);
            assert_eq!(facts.protocol, *want, "{name} ({chunk:?})");
            if name.contains("capability line before") {
                assert_eq!(facts.starttls_offered(), Some(true), "{name} ({chunk:?})");
            }
            match (facts.not_mail, not_mail) {
                (Some(seen), Some(want)) => {
                    assert!(seen.starts_with(want), "{name} ({chunk:?}): {seen}");
                    assert!(facts.greeting.is_none() && facts.credentials.is_empty());
                }
                (seen, want) => assert_eq!(seen, *want, "{name} ({chunk:?})"),
            }
        }
    }
}

/// Implicit TLS whose server side the capture picks up after a gap, in
/// the middle of a record: binary bytes, but TLS, never "not mail" (the
/// port names the protocol; found on the lossy bench capture).
#[test]
fn implicit_tls_after_a_server_gap_stays_tls() {
    use crate::proto::test_support::client_hello;
    let hello = client_hello("mail.example.org");
    let script: &Script<'_> = &[
        (C, &hello),
        (S, b"\x8f\x01\xee\x00\x17\x03\x03binary\x00tail"),
    ];
    for chunk in [None, Some(1), Some(3), Some(7)] {
        let feed = Feed {
            chunk,
            from_start: true,
            port_hint: SMTP,
            ..Feed::default()
        };
        let facts = run_with(script, feed);
        assert_eq!(facts.not_mail, None, "({chunk:?})");
        assert!(
            facts.implicit_tls && facts.client_hello.is_some(),
            "({chunk:?})"
        );
    }
}
