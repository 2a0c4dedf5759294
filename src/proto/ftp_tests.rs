//! Table-driven tests of the FTP machine, through the whole dialog driver:
//! each case is a script of segments and the one-line summary of the facts
//! it must give (see `test_support::summary`), fed whole and in pieces of
//! 1, 2, 3 and 7 bytes, on port 21 (the hint) and, where an FTP-only
//! command comes first, on no known port.

use super::*;
use crate::proto::facts::{DialogFacts, Protocol};
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, client_hello, greeting, redacted, run_with, server_hello,
    summary,
};

const GREETING: &[u8] = b"220 (vsFTPd 3.0.5)\r\n";
const FEAT_TLS: &[u8] =
    b"211-Features:\r\n AUTH SSL\r\n AUTH TLS\r\n EPRT\r\n PBSZ\r\n PROT\r\n211 End\r\n";
const FEAT_NO_TLS: &[u8] =
    b"211-Features:\r\n EPRT\r\n EPSV\r\n PASV\r\n REST STREAM\r\n211 End\r\n";

/// Every password used here.
const SECRETS: &[&[u8]] = &[b"s3cret!", b"correct horse battery staple", b"guess-2"];

fn on_port(script: &Script<'_>, port_hint: Option<Protocol>, chunk: Option<usize>) -> DialogFacts {
    run_with(
        script,
        Feed {
            port_hint,
            chunk,
            ..Feed::default()
        },
    )
}

fn ftp(script: &Script<'_>) -> DialogFacts {
    on_port(script, Some(Protocol::Ftp), None)
}

/// Each case on port 21, whole and in pieces; the summary and the
/// protocol, and no password in any redacted evidence.
fn check(cases: &[(&str, &Script<'_>, &str)]) {
    for (name, script, want) in cases {
        let facts = ftp(script);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_eq!(facts.protocol, Some(Protocol::Ftp), "case {name:?}");
        assert_redacted(&facts, SECRETS);
        for n in [1, 2, 3, 7] {
            let chunked = on_port(script, Some(Protocol::Ftp), Some(n));
            assert_eq!(
                format!("{chunked:?}"),
                format!("{facts:?}"),
                "case {name:?} in pieces of {n}"
            );
        }
    }
}

#[test]
fn upgrades() {
    let ch = client_hello("ftp.example.org");
    let sh = server_hello(0xc02f);
    let cases: &[(&str, &Script<'_>, &str)] = &[
        (
            "FEAT without AUTH TLS, AUTH TLS accepted, TLS (vsftpd)",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, FEAT_NO_TLS),
                (C, b"AUTH TLS\r\n"),
                (S, b"234 Proceed with negotiation.\r\n"),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[]; stls=AUTH TLS; ans=ok:234 Proceed with negotiation.; ch@6; sh@7",
        ),
        (
            "offered in FEAT, AUTH TLS without FEAT is as good",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, FEAT_TLS),
                (C, b"auth tls\r\n"),
                (S, b"234 AUTH TLS OK.\r\n"),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls]; stls=auth tls; ans=ok:234 AUTH TLS OK.; ch@6; sh@7",
        ),
        (
            "curl: AUTH SSL refused, AUTH TLS accepted",
            &[
                (S, GREETING),
                (C, b"AUTH SSL\r\n"),
                (S, b"504 Security mechanism not implemented\r\n"),
                (C, b"AUTH TLS\r\n"),
                (S, b"234 ok\r\n"),
                (C, &ch),
                (S, &sh),
            ],
            "stls=AUTH SSL; ans=ok:234 ok; ch@6; sh@7",
        ),
        (
            "refused (IIS 534), then USER/PASS in the clear",
            &[
                (S, GREETING),
                (C, b"AUTH TLS\r\n"),
                (
                    S,
                    b"534 Local policy on server does not allow TLS secure connections.\r\n",
                ),
                (C, b"USER alice\r\n"),
                (S, b"331 Password required\r\n"),
                (C, b"PASS s3cret!\r\n"),
                (S, b"230 Logged on\r\n"),
            ],
            "stls=AUTH TLS; ans=no:534 Local policy on server does not allow TLS secure connections.; \
             cred=USER-PASS:alice:s3cret!:pw:ok; sens=USER alice",
        ),
        (
            "a command sent after AUTH TLS, before the answer, is injection",
            &[
                (S, GREETING),
                (C, b"AUTH TLS\r\nUSER mallory\r\n"),
                (S, b"234 go\r\n"),
                (S, b"331 Password please\r\n"),
                (C, &ch),
            ],
            // The 331 answers the injected USER: no response injection.
            "stls=AUTH TLS; ans=ok:234 go; cinj=USER mallory; ch@5; sens=USER mallory",
        ),
    ];
    check(cases);
}

#[test]
fn offers_and_stripping() {
    let cases: &[(&str, &Script<'_>, &str)] = &[
        (
            "FEAT refused with 500: no way to offer AUTH TLS",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, b"500 'FEAT': command not understood.\r\n"),
            ],
            "caps=[refused]",
        ),
        (
            "FEAT as one line",
            &[(S, GREETING), (C, b"FEAT\r\n"), (S, b"211 no features\r\n")],
            "caps=[]",
        ),
        (
            "a 4xx to FEAT says nothing",
            &[(S, GREETING), (C, b"FEAT\r\n"), (S, b"421 busy\r\n")],
            "",
        ),
        (
            "AUTH TLS masked whole in FEAT",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, b"211-Features:\r\n EPRT\r\n XXXX XXX\r\n211 End\r\n"),
            ],
            "caps=[mask= XXXX XXX]",
        ),
        (
            "AUTH TLS's argument masked in FEAT",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, b"211-Features:\r\n AUTH XXX\r\n211 End\r\n"),
            ],
            "caps=[mask= AUTH XXX]",
        ),
        (
            "AUTH TLS's name masked in FEAT",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, b"211-Features:\r\n XXXX TLS\r\n211 End\r\n"),
            ],
            "caps=[mask= XXXX TLS]",
        ),
        (
            "AUTH TLS mangled in FEAT",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, b"211-Features:\r\n AUTH TLX\r\n211 End\r\n"),
            ],
            "caps=[mask= AUTH TLX]",
        ),
        (
            "AUTH TLS;SSL; as one feature, code repeated on every line",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (
                    S,
                    b"211-Extensions supported:\r\n211-AUTH TLS;SSL;\r\n211 END\r\n",
                ),
            ],
            "caps=[starttls]",
        ),
        (
            "the client's AUTH TLS overwritten, refused",
            &[
                (S, GREETING),
                (C, b"FEAT\r\n"),
                (S, FEAT_TLS),
                (C, b"XXXX XXX\r\n"),
                (S, b"500 Unknown command.\r\n"),
            ],
            "caps=[starttls]; tamper=XXXX XXX/500 Unknown command.",
        ),
        (
            "a preliminary 150 keeps LIST pending; FEAT after login",
            &[
                (S, b"220-Welcome\r\n220 ready\r\n"),
                (C, b"USER ftp\r\n"),
                (S, b"230 Anonymous user logged in\r\n"),
                (C, b"LIST\r\n"),
                (S, b"150 Accepted data connection\r\n"),
                (S, b"226 Options: -a -l\r\n"),
                (C, b"FEAT\r\n"),
                (S, FEAT_TLS),
            ],
            "caps=[starttls]; sens=USER ftp",
        ),
    ];
    check(cases);
}

#[test]
fn logins() {
    let cases: &[(&str, &Script<'_>, &str)] = &[
        (
            "a password with spaces, refused",
            &[
                (S, GREETING),
                (C, b"USER bob\r\n"),
                (S, b"331 Please specify the password.\r\n"),
                (C, b"PASS correct horse battery staple\r\n"),
                (S, b"530 Login incorrect.\r\n"),
            ],
            "cred=USER-PASS:bob:correct horse battery staple:pw:fail; sens=USER bob",
        ),
        (
            "two guesses on one connection",
            &[
                (S, GREETING),
                (C, b"USER bro\r\n"),
                (S, b"331 Password required for bro.\r\n"),
                (C, b"PASS s3cret!\r\n"),
                (S, b"530 Login incorrect.\r\n"),
                (C, b"USER bro\r\n"),
                (S, b"331 Password required for bro.\r\n"),
                (C, b"PASS guess-2\r\n"),
            ],
            "cred=USER-PASS:bro:s3cret!:pw:fail; cred=USER-PASS:bro:guess-2:pw:unknown; sens=USER bro",
        ),
        (
            "anonymous without PASS is no credential",
            &[
                (S, GREETING),
                (C, b"USER anonymous\r\n"),
                (S, b"230 Login successful.\r\n"),
            ],
            "sens=USER anonymous",
        ),
        (
            "anonymous with an e-mail as password: listed, no secret kind",
            &[
                (S, GREETING),
                (C, b"USER anonymous\r\n"),
                (S, b"331 Please specify the password.\r\n"),
                (C, b"PASS guest@example.org\r\n"),
                (S, b"230 Login successful.\r\n"),
            ],
            "cred=USER-PASS:anonymous:guest@example.org:none:ok; sens=USER anonymous",
        ),
        (
            "vsftpd refuses the cleartext USER: the name leaked, no password",
            &[
                (S, GREETING),
                (C, b"USER carol\r\n"),
                (S, b"530 Non-anonymous sessions must use encryption.\r\n"),
            ],
            "sens=USER carol",
        ),
        (
            "PASS without USER in the capture is not listed, still masked",
            &[(S, GREETING), (C, b"PASS s3cret!\r\n"), (S, b"230 ok\r\n")],
            "sens=PASS *******",
        ),
    ];
    check(cases);
}

/// The password's bytes are in the session's secret spans, whatever the
/// machine made of the exchange: PASS is secret to the guard's FTP
/// vocabulary, and a line after USER that is no command is secret whole.
#[test]
fn passwords_are_masked_by_the_guard() {
    let script: &Script<'_> = &[
        (S, GREETING),
        (C, b"USER dave\r\n"),
        (S, b"331 Password required\r\n"),
        (C, b"hunter2-typo\r\n"),
        (S, b"500 Unknown command.\r\n"),
        (C, b"PASS s3cret!\r\n"),
        (S, b"230 ok\r\n"),
    ];
    let facts = ftp(script);
    let spans: Vec<_> = facts.secret_spans.iter().collect();
    // "USER dave\r\n" is 11 bytes; the typo line 12 + 2; "PASS " 5.
    assert_eq!(spans, vec![(C, 11, 23), (C, 30, 37)]);
    let cred = &facts.credentials[0];
    assert_eq!(redacted(cred.evidence.last().unwrap()), "230 ok");
    assert_eq!(redacted(&cred.evidence[1]), "PASS *******");
}

#[test]
fn recognised_by_content() {
    let script: &Script<'_> = &[
        (S, b"220 FTP Service\r\n"),
        (C, b"FEAT\r\n"),
        (S, FEAT_TLS),
        (C, b"USER eve\r\n"),
        (S, b"331 ok\r\n"),
        (C, b"PASS s3cret!\r\n"),
    ];
    for from_start in [false, true] {
        let feed = Feed {
            from_start,
            ..Feed::default()
        };
        let facts = run_with(script, feed);
        assert_eq!(
            facts.protocol,
            Some(Protocol::Ftp),
            "from start {from_start}"
        );
        assert_eq!(greeting(&facts).as_deref(), Some("220 FTP Service"));
        assert_eq!(
            summary(&facts),
            "caps=[starttls]; cred=USER-PASS:eve:s3cret!:pw:unknown; sens=USER eve"
        );
    }
    // A 220 and USER are FTP's on port 21, SMTP's elsewhere (then proven
    // no SMTP by the 331).
    let guesser: &Script<'_> = &[
        (S, b"220 FTP Service\r\n"),
        (C, b"USER admin\r\n"),
        (S, b"331 Password required for admin.\r\n"),
    ];
    assert_eq!(ftp(guesser).protocol, Some(Protocol::Ftp));
    let elsewhere = run_with(
        guesser,
        Feed {
            from_start: true,
            ..Feed::default()
        },
    );
    assert_eq!(elsewhere.protocol, None);
    // EHLO on port 21 is SMTP.
    let smtp = ftp(&[(S, b"220 mx ESMTP\r\n"), (C, b"EHLO c\r\n")]);
    assert_eq!(smtp.protocol, Some(Protocol::Smtp));
}

#[test]
fn reply_lines() {
    type Parsed<'a> = Option<(u16, bool, &'a [u8])>;
    let cases: &[(&[u8], Parsed<'_>)] = &[
        (b"220 ready", Some((220, true, b"ready"))),
        (b"211-Features:", Some((211, false, b"Features:"))),
        (b"226", Some((226, true, b""))),
        (b" AUTH TLS", None),
        (b"22x ok", None),
        (b"2200 ok", None),
        (b"", None),
    ];
    for (line, want) in cases {
        assert_eq!(parse_reply_line(line), *want, "{line:?}");
    }
}
