//! Table-driven tests of the ManageSieve machine, through the whole dialog
//! driver: each case is a script of segments (Dovecot Pigeonhole's bytes),
//! the one-line summary of the facts it must give (see
//! `test_support::summary`), and the client stream as the secrecy guard
//! masks it (`*` for every secret byte), fed whole and in pieces of 1, 2,
//! 3 and 7 bytes, on port 4190 (the hint) and on no known port.

use crate::proto::facts::{DialogFacts, Protocol};
use crate::proto::secrecy::SecretSpans;
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, client_hello, greeting, run_with, server_hello, summary,
};

/// Dovecot Pigeonhole 0.5's greeting before TLS (plaintext auth disabled:
/// no mechanism until TLS).
const GREETING_TLS: &[u8] = b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\
\"SIEVE\" \"fileinto reject envelope encoded-character vacation subaddress comparator-i;ascii-numeric relational regex imap4flags copy include variables body enotify environment mailbox date index ihave duplicate mime foreverypart extracttext\"\r\n\
\"NOTIFY\" \"mailto\"\r\n\
\"SASL\" \"\"\r\n\
\"STARTTLS\"\r\n\
\"VERSION\" \"1.0\"\r\n\
OK \"Dovecot ready.\"\r\n";

/// The same server allowing plaintext auth.
const GREETING_PLAIN: &[u8] = b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\
\"SIEVE\" \"fileinto reject envelope vacation\"\r\n\
\"NOTIFY\" \"mailto\"\r\n\
\"SASL\" \"PLAIN LOGIN\"\r\n\
\"STARTTLS\"\r\n\
\"VERSION\" \"1.0\"\r\n\
OK \"Dovecot ready.\"\r\n";

/// A server without TLS (or whose STARTTLS line a middlebox removed).
const GREETING_NO_TLS: &[u8] = b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\
\"SIEVE\" \"fileinto reject envelope vacation\"\r\n\
\"SASL\" \"PLAIN LOGIN\"\r\n\
\"VERSION\" \"1.0\"\r\n\
OK \"Dovecot ready.\"\r\n";

/// `"STARTTLS"` overwritten by a middlebox.
const GREETING_MASKED: &[u8] = b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\
\"SASL\" \"PLAIN LOGIN\"\r\n\
\"XXXXXXXX\"\r\n\
\"VERSION\" \"1.0\"\r\n\
OK \"Dovecot ready.\"\r\n";

const STARTTLS_OK: &[u8] = b"OK \"Begin TLS negotiation now.\"\r\n";

/// Every password used here, and the base64 texts that carry them.
const SECRETS: &[&[u8]] = &[
    b"s3cret!",
    b"AGFsaWNlAHMzY3JldCE=",
    b"czNjcmV0IQ==",
    b"AGJvYgBodW50ZXIyLXB3",
    b"hunter2-pw",
];

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

/// Each case on port 4190 and on no port, whole and in pieces: the
/// summary, the protocol, the masked client stream, no password in any
/// redacted evidence.
fn check(cases: &[Case<'_>]) {
    for (name, script, want, masked) in cases {
        let facts = on_port(script, Some(Protocol::ManageSieve), None);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_eq!(facts.protocol, Some(Protocol::ManageSieve), "case {name:?}");
        assert_eq!(
            masked_client(script, &facts.secret_spans),
            *masked,
            "case {name:?}"
        );
        assert_redacted(&facts, SECRETS);
        for hint in [Some(Protocol::ManageSieve), None] {
            for n in [1, 2, 3, 7] {
                let chunked = on_port(script, hint, Some(n));
                assert_eq!(
                    format!("{chunked:?}"),
                    format!("{facts:?}"),
                    "case {name:?} in pieces of {n}, hint {hint:?}"
                );
            }
        }
    }
}

#[test]
fn upgrades() {
    let ch = client_hello("sieve.example.org");
    let sh = server_hello(0xc02f);
    let cases: &[Case<'_>] = &[
        (
            "offered, STARTTLS accepted, TLS (sieve-connect)",
            &[
                (S, GREETING_TLS),
                (C, b"STARTTLS\r\n"),
                (S, STARTTLS_OK),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls]; stls=STARTTLS; ans=ok:OK \"Begin TLS negotiation now.\"; ch@4; sh@5",
            "STARTTLS\r\n",
        ),
        (
            "CAPABILITY first, then STARTTLS",
            &[
                (S, GREETING_PLAIN),
                (C, b"CAPABILITY\r\n"),
                (S, GREETING_PLAIN),
                (C, b"STARTTLS\r\n"),
                (S, STARTTLS_OK),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls auth=PLAIN,LOGIN][starttls auth=PLAIN,LOGIN]; stls=STARTTLS; \
             ans=ok:OK \"Begin TLS negotiation now.\"; ch@6; sh@7",
            "CAPABILITY\r\nSTARTTLS\r\n",
        ),
        (
            "refused with NO",
            &[
                (S, GREETING_PLAIN),
                (C, b"STARTTLS\r\n"),
                (S, b"NO \"TLS support isn't enabled.\"\r\n"),
                (C, b"LOGOUT\r\n"),
                (S, b"OK \"Logout completed.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; stls=STARTTLS; ans=no:NO \"TLS support isn't enabled.\"",
            "STARTTLS\r\nLOGOUT\r\n",
        ),
        (
            "not offered: the STARTTLS line is missing",
            &[
                (S, GREETING_NO_TLS),
                (C, b"LOGOUT\r\n"),
                (S, b"OK \"Logout completed.\"\r\n"),
            ],
            "caps=[auth=PLAIN,LOGIN]",
            "LOGOUT\r\n",
        ),
        (
            "masked \"XXXXXXXX\" in the list",
            &[(S, GREETING_MASKED), (C, b"LOGOUT\r\n"), (S, b"OK\r\n")],
            "caps=[mask=\"XXXXXXXX\" auth=PLAIN,LOGIN]",
            "LOGOUT\r\n",
        ),
        (
            "mangled \"STARTTLX\" in the list",
            &[
                (
                    S,
                    b"\"IMPLEMENTATION\" \"Cyrus timsieved v2.4\"\r\n\"STARTTLX\"\r\nOK\r\n",
                ),
                (C, b"LOGOUT\r\n"),
            ],
            "caps=[mask=\"STARTTLX\"]",
            "LOGOUT\r\n",
        ),
        (
            "overwritten STARTTLS command refused",
            &[
                (S, GREETING_PLAIN),
                (C, b"XXXXXXXX\r\n"),
                (S, b"NO \"Unknown command.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; tamper=XXXXXXXX/NO \"Unknown command.\"",
            "XXXXXXXX\r\n",
        ),
        (
            "a command pipelined after STARTTLS is injection",
            &[
                (S, GREETING_PLAIN),
                (C, b"STARTTLS\r\nCAPABILITY\r\n"),
                (S, STARTTLS_OK),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; stls=STARTTLS; ans=ok:OK \"Begin TLS negotiation now.\"; \
             cinj=CAPABILITY; ch@4; sh@5",
            "STARTTLS\r\nCAPABILITY\r\n",
        ),
    ];
    check(cases);
}

#[test]
fn credentials() {
    let cases: &[Case<'_>] = &[
        (
            "PLAIN with an initial response, quoted (Roundcube without TLS)",
            &[
                (S, GREETING_PLAIN),
                (C, b"AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHMzY3JldCE=\"\r\n"),
                (S, b"OK \"Logged in.\"\r\n"),
                (C, b"LISTSCRIPTS\r\n"),
                (S, b"\"roundcube\" ACTIVE\r\nOK \"Listscripts completed.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; cred=PLAIN:alice:s3cret!:pw:ok; \
             sens=AUTHENTICATE \"PLAIN\" **********************",
            "AUTHENTICATE \"PLAIN\" **********************\r\nLISTSCRIPTS\r\n",
        ),
        (
            "PLAIN with the initial response in a literal",
            &[
                (S, GREETING_PLAIN),
                (C, b"AUTHENTICATE \"PLAIN\" {20+}\r\nAGFsaWNlAHMzY3JldCE=\r\n"),
                (S, b"OK \"Logged in.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; cred=PLAIN:alice:s3cret!:pw:ok; \
             sens=AUTHENTICATE \"PLAIN\" *****",
            "AUTHENTICATE \"PLAIN\" *****\r\n********************\r\n",
        ),
        (
            "PLAIN without initial response: an empty challenge, a quoted response",
            &[
                (S, GREETING_PLAIN),
                (C, b"AUTHENTICATE \"PLAIN\"\r\n"),
                (S, b"\"\"\r\n"),
                (C, b"\"AGJvYgBodW50ZXIyLXB3\"\r\n"),
                (S, b"NO \"Authentication failed.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; cred=PLAIN:bob:hunter2-pw:pw:fail; \
             sens=AUTHENTICATE \"PLAIN\"",
            "AUTHENTICATE \"PLAIN\"\r\n**********************\r\n",
        ),
        (
            "LOGIN: challenges and responses as strings, one response a literal",
            &[
                (S, GREETING_PLAIN),
                (C, b"AUTHENTICATE \"LOGIN\"\r\n"),
                (S, b"\"VXNlcm5hbWU6\"\r\n"),
                (C, b"\"YWxpY2U=\"\r\n"),
                (S, b"{12}\r\nUGFzc3dvcmQ6\r\n"),
                (C, b"{12+}\r\nczNjcmV0IQ==\r\n"),
                (S, b"OK \"Logged in.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; cred=LOGIN:alice:s3cret!:pw:ok; \
             sens=AUTHENTICATE \"LOGIN\"",
            "AUTHENTICATE \"LOGIN\"\r\n**********\r\n*****\r\n************\r\n",
        ),
        (
            "cancelled with \"*\"",
            &[
                (S, GREETING_PLAIN),
                (C, b"AUTHENTICATE \"LOGIN\"\r\n"),
                (S, b"\"VXNlcm5hbWU6\"\r\n"),
                (C, b"\"*\"\r\n"),
                (S, b"NO \"Authentication aborted by client.\"\r\n"),
                (C, b"LOGOUT\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; sens=AUTHENTICATE \"LOGIN\"",
            "AUTHENTICATE \"LOGIN\"\r\n***\r\nLOGOUT\r\n",
        ),
        (
            "STARTTLS refused, then PLAIN in the clear",
            &[
                (S, GREETING_PLAIN),
                (C, b"STARTTLS\r\n"),
                (S, b"NO \"TLS support isn't enabled.\"\r\n"),
                (C, b"AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHMzY3JldCE=\"\r\n"),
                (S, b"OK \"Logged in.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; stls=STARTTLS; ans=no:NO \"TLS support isn't enabled.\"; \
             cred=PLAIN:alice:s3cret!:pw:ok; sens=AUTHENTICATE \"PLAIN\" **********************",
            "STARTTLS\r\nAUTHENTICATE \"PLAIN\" **********************\r\n",
        ),
        (
            "a PUTSCRIPT literal is skipped, not secret",
            &[
                (S, GREETING_PLAIN),
                (C, b"AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHMzY3JldCE=\"\r\n"),
                (S, b"OK \"Logged in.\"\r\n"),
                (C, b"PUTSCRIPT \"vacation\" {28+}\r\nrequire \"fileinto\";\r\nkeep;\r\n\r\n"),
                (S, b"OK \"PUTSCRIPT completed.\"\r\n"),
                (C, b"GETSCRIPT \"vacation\"\r\n"),
                (S, b"{28}\r\nrequire \"fileinto\";\r\nkeep;\r\n\r\nOK \"Getscript completed.\"\r\n"),
            ],
            "caps=[starttls auth=PLAIN,LOGIN]; cred=PLAIN:alice:s3cret!:pw:ok; \
             sens=AUTHENTICATE \"PLAIN\" **********************",
            "AUTHENTICATE \"PLAIN\" **********************\r\n\
             PUTSCRIPT \"vacation\" {28+}\r\nrequire \"fileinto\";\r\nkeep;\r\n\r\n\
             GETSCRIPT \"vacation\"\r\n",
        ),
    ];
    check(cases);
}

/// The guard alone: a response the machine cannot read (an unknown
/// mechanism, a string it does not parse, a literal without its marker's
/// exchange) is secret by its place in the exchange.
#[test]
fn guard_alone() {
    let script: &Script<'_> = &[
        (S, GREETING_PLAIN),
        (C, b"AUTHENTICATE \"X-UNKNOWN\" \"hunter2-pw\r\n"),
        (S, b"\"c2VydmVy\"\r\n"),
        (C, b"hunter2-pw\r\n"),
        (C, b"{10+}\r\nhunter2-pw\r\n"),
        (S, b"NO \"Authentication failed.\"\r\n"),
        (C, b"LOGOUT\r\n"),
    ];
    let facts = on_port(script, Some(Protocol::ManageSieve), None);
    assert_redacted(&facts, SECRETS);
    assert_eq!(
        masked_client(script, &facts.secret_spans),
        "AUTHENTICATE \"X-UNKNOWN\" ***********\r\n**********\r\n*****\r\n**********\r\nLOGOUT\r\n"
    );
}

#[test]
fn greeting_and_detection() {
    let script: &Script<'_> = &[(S, GREETING_TLS), (C, b"LOGOUT\r\n")];
    for hint in [Some(Protocol::ManageSieve), None, Some(Protocol::Smtp)] {
        let facts = on_port(script, hint, None);
        assert_eq!(facts.protocol, Some(Protocol::ManageSieve), "{hint:?}");
        assert_eq!(greeting(&facts).as_deref(), Some("OK \"Dovecot ready.\""));
    }
    // The greeting lost: the client's command says it on port 4190, and a
    // command only ManageSieve has says it anywhere.
    let script: &Script<'_> = &[(C, b"CAPABILITY\r\n"), (S, GREETING_PLAIN)];
    let facts = on_port(script, Some(Protocol::ManageSieve), None);
    assert_eq!(facts.protocol, Some(Protocol::ManageSieve));
    assert_eq!(summary(&facts), "caps=[starttls auth=PLAIN,LOGIN]");
    let script: &Script<'_> = &[(C, b"LISTSCRIPTS\r\n"), (S, b"OK\r\n")];
    assert_eq!(
        on_port(script, None, None).protocol,
        Some(Protocol::ManageSieve)
    );
    // Strings that are no capability response (a LISTSCRIPTS answer whose
    // command was not captured) are no list.
    let script: &Script<'_> = &[(S, b"\"vacation\" ACTIVE\r\n\"spam\"\r\nOK\r\n")];
    let facts = on_port(script, Some(Protocol::ManageSieve), None);
    assert_eq!(facts.protocol, Some(Protocol::ManageSieve));
    assert_eq!(summary(&facts), "");
    // SMTP and IMAP stay theirs.
    let smtp: &Script<'_> = &[(S, b"220 mx ESMTP\r\n"), (C, b"EHLO x\r\n")];
    assert_eq!(on_port(smtp, None, None).protocol, Some(Protocol::Smtp));
    let imap: &Script<'_> = &[(S, b"* OK ready\r\n"), (C, b"a AUTHENTICATE PLAIN\r\n")];
    assert_eq!(on_port(imap, None, None).protocol, Some(Protocol::Imap));
}

/// A gap in the server's greeting: the block proves nothing; a huge
/// literal is counted, never buffered.
#[test]
fn gaps_and_bounds() {
    let script: &Script<'_> = &[
        (S, b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n"),
        (S, b"\"VERSION\" \"1.0\"\r\nOK \"Dovecot ready.\"\r\n"),
        (C, b"PUTSCRIPT \"big\" {9999999999999999999+}\r\nabc\r\n"),
    ];
    let feed = Feed {
        port_hint: Some(Protocol::ManageSieve),
        gap: Some((1, S, 20)),
        ..Feed::default()
    };
    let facts = run_with(script, feed);
    assert_eq!(
        summary(&facts),
        "sens=PUTSCRIPT \"big\" {9999999999999999999+}"
    );
    let facts = on_port(script, Some(Protocol::ManageSieve), Some(1));
    assert_eq!(
        summary(&facts),
        "caps=[]; sens=PUTSCRIPT \"big\" {9999999999999999999+}"
    );
}
