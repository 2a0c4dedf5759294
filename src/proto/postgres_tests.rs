//! Table-driven tests of the PostgreSQL machine, through the whole dialog
//! driver: each case is a script of segments and the one-line summary of
//! the facts it must give (see `test_support::summary`), fed whole and in
//! pieces of 1, 2, 3 and 7 bytes; no password in any redacted evidence, and
//! every client `p` message body in the secret spans.

use super::*;
use crate::proto::facts::{DialogFacts, Protocol};
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, assert_same_when_chunked, client_hello, run, run_with,
    server_hello, summary,
};

const SSL_REQUEST_BYTES: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const GSSENC_REQUEST_BYTES: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];
const SECRETS: &[&[u8]] = &[b"s3cret!", b"4e7fabaaf34d780c4a5822d28ee1c83e", b"proof="];

fn startup(user: &str) -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    for (k, v) in [
        ("user", user),
        ("database", "db"),
        ("application_name", "psql"),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn auth(code: u32, data: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(data);
    msg(b'R', &body)
}

fn password(text: &[u8]) -> Vec<u8> {
    msg(b'p', &[text, b"\0"].concat())
}

fn error(code: &str, message: &str) -> Vec<u8> {
    let body = format!("SFATAL\0C{code}\0M{message}\0\0");
    msg(b'E', body.as_bytes())
}

/// The body ranges of the client's `p` messages in `script` (stream
/// offsets), as the guard must mark them.
fn password_bodies(script: &Script<'_>) -> Vec<(u64, u64)> {
    let client: Vec<u8> = script
        .iter()
        .filter(|(side, _)| *side == C)
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    let mut out = Vec::new();
    // Skip the untyped startup packets, then walk the typed messages.
    let mut at = 0usize;
    loop {
        let len = u32::from_be_bytes(client[at..at + 4].try_into().unwrap()) as usize;
        let code = u32::from_be_bytes(client[at + 4..at + 8].try_into().unwrap());
        at += len;
        if code >> 16 == 3 || at >= client.len() {
            break;
        }
    }
    while at + 5 <= client.len() {
        let len = u32::from_be_bytes(client[at + 1..at + 5].try_into().unwrap()) as usize;
        if client[at] == b'p' {
            out.push(((at + 5) as u64, (at + 1 + len) as u64));
        }
        at += 1 + len;
    }
    out
}

fn check(cases: &[(&str, &Script<'_>, &str)]) {
    for (name, script, want) in cases {
        let facts = run(script);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_eq!(facts.protocol, Some(Protocol::Postgresql), "case {name:?}");
        assert_redacted(&facts, SECRETS);
        let spans: Vec<(u64, u64)> = facts
            .secret_spans
            .iter()
            .filter(|(side, _, _)| *side == C)
            .map(|(_, s, e)| (s, e))
            .collect();
        assert_eq!(
            spans,
            password_bodies(script),
            "case {name:?}: secret spans"
        );
        assert_same_when_chunked(name, script);
    }
}

#[test]
fn startup_phase() {
    let ch = client_hello("db.example.org");
    let sh = server_hello(0xc02f);
    let alice = startup("alice");
    let md5 = b"md54e7fabaaf34d780c4a5822d28ee1c83e";
    let scram_first = msg(
        b'p',
        &[
            &b"SCRAM-SHA-256\0"[..],
            &19u32.to_be_bytes(),
            b"n,,n=,r=nonce-nonce",
        ]
        .concat(),
    );
    let scram_final = msg(b'p', b"c=biws,r=nonce-nonce-server,p=proof=");
    let cases: &[(&str, &Script<'_>, &str)] = &[
        (
            "S: TLS follows (sslmode=prefer, require)",
            &[(C, SSL_REQUEST_BYTES), (S, b"S"), (C, &ch), (S, &sh)],
            "caps=[starttls]; stls=SSLRequest; ans=ok:S (SSLRequest accepted); ch@3; sh@4",
        ),
        (
            "N, then the password in the clear, accepted",
            &[
                (C, SSL_REQUEST_BYTES),
                (S, b"N"),
                (C, &alice),
                (S, &auth(3, b"")),
                (C, &password(b"s3cret!")),
                (S, &[auth(0, b""), msg(b'Z', b"I")].concat()),
            ],
            "caps=[]; stls=SSLRequest; ans=no:N (SSLRequest refused); \
             cred=PG-PASSWORD:alice:s3cret!:pw:ok; \
             sens=StartupMessage user=alice database=db",
        ),
        (
            "no SSLRequest (sslmode=disable): MD5, refused",
            &[
                (C, &alice),
                (S, &auth(5, &[0x74, 0x40, 0x28, 0x44])),
                (C, &password(md5)),
                (S, &error("28P01", "password authentication failed")),
            ],
            "cred=PG-MD5:alice:4e7fabaaf34d780c4a5822d28ee1c83e:cr:fail:ch=74402844; \
             sens=StartupMessage user=alice database=db",
        ),
        (
            "N, then SCRAM-SHA-256: recorded, nothing secret",
            &[
                (C, SSL_REQUEST_BYTES),
                (S, b"N"),
                (C, &alice),
                (S, &auth(10, b"SCRAM-SHA-256\0\0")),
                (C, &scram_first),
                (S, &auth(11, b"r=nonce-nonce-server,s=c2FsdA==,i=4096")),
                (C, &scram_final),
                (S, &[auth(12, b"v=signature"), auth(0, b"")].concat()),
            ],
            "caps=[]; stls=SSLRequest; ans=no:N (SSLRequest refused); \
             cred=PG-SCRAM-SHA-256:alice::none:ok; \
             sens=StartupMessage user=alice database=db",
        ),
        (
            "GSSENCRequest refused, then SSLRequest accepted",
            &[
                (C, GSSENC_REQUEST_BYTES),
                (S, b"N"),
                (C, SSL_REQUEST_BYTES),
                (S, b"S"),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls]; stls=SSLRequest; ans=ok:S (SSLRequest accepted); ch@5; sh@6",
        ),
        (
            "an ErrorResponse answers SSLRequest (an old server)",
            &[
                (C, SSL_REQUEST_BYTES),
                (S, &error("08P01", "unsupported frontend protocol")),
            ],
            "caps=[]; stls=SSLRequest; ans=no:E (an ErrorResponse to SSLRequest)",
        ),
        (
            "a CancelRequest alone",
            &[(
                C,
                &[0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2],
            )],
            "",
        ),
    ];
    check(cases);
}

/// A StartupMessage sent with SSLRequest, before the `S`: the driver holds
/// it, then reads it as command injection (masked whole, since nothing
/// says it is not secret).
#[test]
fn bytes_after_ssl_request_are_injection() {
    let alice = startup("alice");
    let ch = client_hello("db.example.org");
    let facts = run(&[
        (C, &[SSL_REQUEST_BYTES, &alice].concat()),
        (S, b"S"),
        (C, &ch),
    ]);
    let injected = facts.command_injection.as_ref().unwrap();
    assert!(injected.redacted().iter().all(|b| *b == b'*'));
    assert_eq!(
        facts.upgrade,
        crate::proto::upgrade::UpgradeState::Handshake
    );
}

/// Lengths no server accepts end the reading of that side; the client's
/// further bytes are all masked.
#[test]
fn bad_lengths_abandon_the_side() {
    let alice = startup("alice");
    // A typed message of 2 GiB.
    let huge = [b'p', 0x80, 0, 0, 0, b'x', b'y'];
    let facts = run(&[
        (C, &alice),
        (S, &auth(3, b"")),
        (C, &huge),
        (C, b"s3cret!\0"),
    ]);
    assert!(facts.credentials.is_empty());
    let end = (alice.len() + huge.len() + 8) as u64;
    let spans: Vec<_> = facts.secret_spans.iter().collect();
    assert_eq!(spans.last().map(|s| s.2), Some(end));
    // A startup packet over 10000 bytes is no PostgreSQL (the first 8 bytes
    // decide).
    let long = [0, 0, 0x30, 0x00, 0, 3, 0, 0];
    assert!(!is_startup(&long));
    assert_eq!(run(&[(C, &long)]).protocol, None);
}

/// A gap in the client's stream loses the framing: what follows is masked.
#[test]
fn a_gap_masks_the_rest() {
    let alice = startup("alice");
    let script: &Script<'_> = &[(C, &alice), (S, &auth(3, b"")), (C, &password(b"s3cret!"))];
    let facts: DialogFacts = run_with(script, Feed::gap(2, C, 3));
    assert!(facts.credentials.is_empty());
    let start = (alice.len() + 3) as u64;
    let spans: Vec<_> = facts.secret_spans.iter().collect();
    assert_eq!(
        spans,
        vec![(C, start, start + password(b"s3cret!").len() as u64)]
    );
}

#[test]
fn startup_packets() {
    let cases: &[(&[u8], bool)] = &[
        (SSL_REQUEST_BYTES, true),
        (GSSENC_REQUEST_BYTES, true),
        (&[0, 0, 0, 0x54, 0, 3, 0, 0], true),
        (&[0, 0, 0, 0x54, 0, 3, 0, 2], true),
        (&[0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e], true),
        (&[0, 0, 0, 9, 0x04, 0xd2, 0x16, 0x2f], false),
        (&[0, 0, 0, 8, 0, 3, 0, 0], false),
        (&[0, 0, 0, 0x54, 0, 2, 0, 0], false),
        (&[0, 0, 0, 8, 0x04, 0xd2, 0x16], false),
        (b"EHLO a\r\n", false),
    ];
    for (bytes, want) in cases {
        assert_eq!(is_startup(bytes), *want, "{bytes:?}");
    }
}
