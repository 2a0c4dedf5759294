//! Table-driven tests of the NNTP machine, through the whole dialog driver:
//! each case is a script of segments (INN's bytes), the one-line summary of
//! the facts it must give (see `test_support::summary`), and the client
//! stream as the secrecy guard masks it (`*` for every secret byte), fed
//! whole and in pieces of 1, 2, 3 and 7 bytes, on port 119 (the hint) and,
//! where an NNTP-only command comes first, on no known port.

use crate::proto::facts::{DialogFacts, Protocol};
use crate::proto::secrecy::SecretSpans;
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, client_hello, greeting, run_with, server_hello, summary,
};

const GREETING: &[u8] =
    b"200 news.example.org InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n";

/// INN 2.7's CAPABILITIES before TLS.
const CAPS_TLS: &[u8] = b"101 Capability list:\r\nVERSION 2\r\nIMPLEMENTATION INN 2.7.1\r\n\
AUTHINFO USER\r\nHDR\r\nLIST ACTIVE ACTIVE.TIMES COUNTS DISTRIB.PATS HEADERS NEWSGROUPS \
OVERVIEW.FMT\r\nNEWNEWS\r\nOVER\r\nPOST\r\nREADER\r\nSASL PLAIN\r\nSTARTTLS\r\n.\r\n";

fn caps_without_tls() -> Vec<u8> {
    String::from_utf8_lossy(CAPS_TLS)
        .replace("STARTTLS\r\n", "")
        .into_bytes()
}

fn caps_masked() -> Vec<u8> {
    String::from_utf8_lossy(CAPS_TLS)
        .replace("STARTTLS\r\n", "XXXXXXXX\r\n")
        .into_bytes()
}

/// Every password used here, and the base64 text that carries one.
const SECRETS: &[&[u8]] = &[b"s3cret!", b"AGFsaWNlAHMzY3JldCE=", b"pw with spaces"];

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

/// The client's cleartext stream (up to its TLS hello) with its secret
/// bytes as `*`.
fn masked_client(script: &Script<'_>, spans: &SecretSpans) -> String {
    let mut client: Vec<u8> = script
        .iter()
        .filter(|(side, _)| *side == C)
        .take_while(|(_, b)| b.first() != Some(&0x16))
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    for (side, start, end) in spans.iter() {
        if side == C {
            for b in client.iter_mut().take(end as usize).skip(start as usize) {
                *b = b'*';
            }
        }
    }
    String::from_utf8_lossy(&client).into_owned()
}

type Case<'a> = (&'a str, &'a Script<'a>, &'a str, &'a str);

fn check(cases: &[Case<'_>]) {
    for (name, script, want, masked) in cases {
        let facts = on_port(script, Some(Protocol::Nntp), None);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_eq!(facts.protocol, Some(Protocol::Nntp), "case {name:?}");
        assert_eq!(
            masked_client(script, &facts.secret_spans),
            *masked,
            "case {name:?}"
        );
        assert_redacted(&facts, SECRETS);
        for n in [1, 2, 3, 7] {
            let chunked = on_port(script, Some(Protocol::Nntp), Some(n));
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
    let ch = client_hello("news.example.org");
    let sh = server_hello(0xc02f);
    let no_tls = caps_without_tls();
    let masked = caps_masked();
    let cases: &[Case<'_>] = &[
        (
            "offered, STARTTLS accepted, TLS",
            &[
                (S, GREETING),
                (C, b"CAPABILITIES\r\n"),
                (S, CAPS_TLS),
                (C, b"STARTTLS\r\n"),
                (S, b"382 Begin TLS negotiation now\r\n"),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls auth=PLAIN]; stls=STARTTLS; ans=ok:382 Begin TLS negotiation now; ch@6; sh@7",
            "CAPABILITIES\r\nSTARTTLS\r\n",
        ),
        (
            "refused with 580",
            &[
                (S, GREETING),
                (C, b"STARTTLS\r\n"),
                (S, b"580 Can not initiate TLS negotiation\r\n"),
                (C, b"QUIT\r\n"),
                (S, b"205 Bye!\r\n"),
            ],
            "stls=STARTTLS; ans=no:580 Can not initiate TLS negotiation",
            "STARTTLS\r\nQUIT\r\n",
        ),
        (
            "not offered",
            &[(S, GREETING), (C, b"CAPABILITIES\r\n"), (S, &no_tls)],
            "caps=[auth=PLAIN]",
            "CAPABILITIES\r\n",
        ),
        (
            "masked XXXXXXXX in the list",
            &[(S, GREETING), (C, b"CAPABILITIES\r\n"), (S, &masked)],
            "caps=[mask=XXXXXXXX auth=PLAIN]",
            "CAPABILITIES\r\n",
        ),
        (
            "offered, then an overwritten command refused",
            &[
                (S, GREETING),
                (C, b"CAPABILITIES\r\n"),
                (S, CAPS_TLS),
                (C, b"XXXXXXXX\r\n"),
                (S, b"500 What?\r\n"),
            ],
            "caps=[starttls auth=PLAIN]; tamper=XXXXXXXX/500 What?",
            "CAPABILITIES\r\nXXXXXXXX\r\n",
        ),
    ];
    check(cases);
}

#[test]
fn credentials() {
    let cases: &[Case<'_>] = &[
        (
            "AUTHINFO USER/PASS accepted, then reading",
            &[
                (S, GREETING),
                (C, b"AUTHINFO USER alice\r\n"),
                (S, b"381 Enter password\r\n"),
                (C, b"AUTHINFO PASS s3cret!\r\n"),
                (S, b"281 Authentication succeeded\r\n"),
                (C, b"GROUP misc.test\r\n"),
                (S, b"211 2 1 2 misc.test\r\n"),
                (C, b"ARTICLE 1\r\n"),
                (
                    S,
                    b"220 1 <a@b> article\r\nSubject: x\r\n\r\nAUTHINFO PASS no\r\n.\r\n",
                ),
                (C, b"QUIT\r\n"),
            ],
            "cred=AUTHINFO:alice:s3cret!:pw:ok; sens=AUTHINFO USER alice",
            "AUTHINFO USER alice\r\nAUTHINFO PASS *******\r\nGROUP misc.test\r\nARTICLE 1\r\nQUIT\r\n",
        ),
        (
            "a password with spaces, refused",
            &[
                (S, GREETING),
                (C, b"AUTHINFO USER bob\r\n"),
                (S, b"381 Enter password\r\n"),
                (C, b"AUTHINFO PASS pw with spaces\r\n"),
                (S, b"481 Authentication failed\r\n"),
            ],
            "cred=AUTHINFO:bob:pw with spaces:pw:fail; sens=AUTHINFO USER bob",
            "AUTHINFO USER bob\r\nAUTHINFO PASS **************\r\n",
        ),
        (
            "AUTHINFO SASL PLAIN with an initial response",
            &[
                (S, GREETING),
                (C, b"AUTHINFO SASL PLAIN AGFsaWNlAHMzY3JldCE=\r\n"),
                (S, b"281 Authentication succeeded\r\n"),
            ],
            "cred=PLAIN:alice:s3cret!:pw:ok; sens=AUTHINFO SASL PLAIN ********************",
            "AUTHINFO SASL PLAIN ********************\r\n",
        ),
        (
            "AUTHINFO SASL PLAIN after a 383 challenge",
            &[
                (S, GREETING),
                (C, b"AUTHINFO SASL PLAIN\r\n"),
                (S, b"383 =\r\n"),
                (C, b"AGFsaWNlAHMzY3JldCE=\r\n"),
                (S, b"481 Authentication failed\r\n"),
            ],
            "cred=PLAIN:alice:s3cret!:pw:fail; sens=AUTHINFO SASL PLAIN",
            "AUTHINFO SASL PLAIN\r\n********************\r\n",
        ),
        (
            "POST: the article is skipped",
            &[
                (S, GREETING),
                (C, b"POST\r\n"),
                (S, b"340 Ok, recommended message-ID <x@y>\r\n"),
                (C, b"Subject: t\r\n\r\nAUTHINFO PASS not-a-command\r\n.\r\n"),
                (S, b"240 Article posted\r\n"),
            ],
            "sens=POST",
            "POST\r\nSubject: t\r\n\r\nAUTHINFO PASS not-a-command\r\n.\r\n",
        ),
    ];
    check(cases);
}

#[test]
fn detection() {
    // From the start, a `200` greeting is SMTP's until the client speaks
    // NNTP; on port 119 the greeting says it.
    let script: &Script<'_> = &[(S, GREETING), (C, b"CAPABILITIES\r\n"), (S, CAPS_TLS)];
    for hint in [Some(Protocol::Nntp), None] {
        for from_start in [false, true] {
            let feed = Feed {
                port_hint: hint,
                from_start,
                ..Feed::default()
            };
            let facts = run_with(script, feed);
            assert_eq!(
                facts.protocol,
                Some(Protocol::Nntp),
                "{hint:?} {from_start}"
            );
            assert_eq!(summary(&facts), "caps=[starttls auth=PLAIN]", "{hint:?}");
            let g = greeting(&facts);
            assert!(
                g.as_deref().unwrap_or_default().starts_with("200 news"),
                "{g:?} {hint:?} {from_start}"
            );
        }
    }
    // A `200` that says nothing of news: the client's command says it.
    let script: &Script<'_> = &[(S, b"200 ready\r\n"), (C, b"MODE READER\r\n")];
    for from_start in [false, true] {
        let feed = Feed {
            from_start,
            ..Feed::default()
        };
        assert_eq!(run_with(script, feed).protocol, Some(Protocol::Nntp));
    }
    // SMTP stays SMTP on its port and on NNTP's.
    let smtp: &Script<'_> = &[(S, b"220 mx ESMTP\r\n"), (C, b"EHLO x\r\n")];
    assert_eq!(on_port(smtp, None, None).protocol, Some(Protocol::Smtp));
    assert_eq!(
        on_port(smtp, Some(Protocol::Smtp), None).protocol,
        Some(Protocol::Smtp)
    );
}

/// The guard alone: a password typed where the machine expects nothing
/// is secret while the exchange is open.
#[test]
fn guard_alone() {
    let script: &Script<'_> = &[
        (S, GREETING),
        (C, b"AUTHINFO USER carol\r\n"),
        (S, b"381 Enter password\r\n"),
        (C, b"s3cret!\r\n"),
        (S, b"500 What?\r\n"),
        (C, b"QUIT\r\n"),
    ];
    let facts = on_port(script, Some(Protocol::Nntp), None);
    assert_redacted(&facts, SECRETS);
    assert_eq!(
        masked_client(script, &facts.secret_spans),
        "AUTHINFO USER carol\r\n*******\r\nQUIT\r\n"
    );
}
