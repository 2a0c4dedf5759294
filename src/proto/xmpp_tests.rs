//! Table-driven tests of the XMPP machine, through the whole dialog
//! driver: each case is a script of segments and the one-line summary of
//! the facts it must give (see `test_support::summary`), fed whole and in
//! pieces of 1, 2, 3 and 7 bytes; no password in any redacted evidence,
//! and exactly the attributes and content of every client `<auth>` and
//! `<response>` in the secret spans.

use super::*;
use crate::proto::facts::Protocol;
use crate::proto::secrecy::SecretSpans;
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, assert_same_when_chunked, client_hello, run, run_with,
    server_hello, summary,
};

const SECRETS: &[&[u8]] = &[b"s3cret!", b"AGFsaWNlAHMzY3JldCE=", b"czNjcmV0IQ=="];

const C_STREAM: &[u8] = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
    xmlns='jabber:client' to='example.net' version='1.0'>";
const S_STREAM: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' id='42' from='example.net' version='1.0'>";
const FEATURES_TLS: &[u8] = b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
    <required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
    <mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const FEATURES_PLAIN: &[u8] =
    b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
    <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const STARTTLS: &[u8] = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const PROCEED: &[u8] = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const AUTH_PLAIN: &[u8] =
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHMzY3JldCE=</auth>";
const SUCCESS: &[u8] = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";

/// The client's secret ranges as the guard must mark them: for each
/// `auth`, `response`, `password` or `digest` start tag, from the end of
/// its name to the `<` of its closing tag (or past `/>`).
fn secret_elements(script: &Script<'_>) -> Vec<(u64, u64)> {
    let client: Vec<u8> = script
        .iter()
        .filter(|(side, _)| *side == C)
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(lt) = client[at..].iter().position(|b| *b == b'<') {
        let start = at + lt + 1;
        let name_end = start
            + client[start..]
                .iter()
                .position(|b| b.is_ascii_whitespace() || b"/>".contains(b))
                .unwrap();
        let local = local_name(&client[start..name_end]).to_vec();
        at = name_end;
        if ![&b"auth"[..], b"response", b"password", b"digest"].contains(&local.as_slice()) {
            continue;
        }
        let gt = name_end + client[name_end..].iter().position(|b| *b == b'>').unwrap();
        let end = if client[gt - 1] == b'/' {
            gt + 1
        } else {
            let closing = [b"</", &local[..]].concat();
            let mut from = gt;
            loop {
                let lt = from + client[from..].iter().position(|b| *b == b'<').unwrap();
                let name: Vec<u8> = client[lt..]
                    .iter()
                    .take_while(|b| !b" >".contains(b))
                    .copied()
                    .collect();
                if name.ends_with(&local) && name.starts_with(b"</") || name == closing {
                    break lt;
                }
                from = lt + 1;
            }
        };
        out.push((name_end as u64, end as u64));
        at = end;
    }
    out
}

fn client_spans(spans: &SecretSpans) -> Vec<(u64, u64)> {
    spans
        .iter()
        .filter(|(side, _, _)| *side == C)
        .map(|(_, s, e)| (s, e))
        .collect()
}

fn check(cases: &[(&str, &Script<'_>, &str)]) {
    for (name, script, want) in cases {
        let facts = run(script);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_eq!(facts.protocol, Some(Protocol::Xmpp), "case {name:?}");
        assert_redacted(&facts, SECRETS);
        assert_eq!(
            client_spans(&facts.secret_spans),
            secret_elements(script),
            "case {name:?}: secret spans"
        );
        assert_same_when_chunked(name, script);
    }
}

#[test]
fn upgrade_and_sasl() {
    let ch = client_hello("example.net");
    let sh = server_hello(0xc02f);
    let scram_first = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism=\"SCRAM-SHA-1\">\
        biwsbj1hbGljZSxyPW5vbmNl</auth>";
    let proceed_and_message = [
        PROCEED,
        b"<message to='alice@example.net'><body>pwned</body></message>",
    ]
    .concat();
    let cases: &[(&str, &Script<'_>, &str)] = &[
        (
            "c2s: <starttls><required/> offered, <proceed/>, TLS",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_TLS),
                (C, STARTTLS),
                (S, PROCEED),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls auth=SCRAM-SHA-1,PLAIN]; \
             stls=<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; \
             ans=ok:<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; ch@6; sh@7",
        ),
        (
            "<proceed/> and an injected <message> in one segment, then TLS",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_TLS),
                (C, STARTTLS),
                (S, &proceed_and_message),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls auth=SCRAM-SHA-1,PLAIN]; \
             stls=<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; \
             ans=ok:<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; \
             rinj=<message to='alice@example.net'><body>pwned</body></message>; ch@6; sh@7",
        ),
        (
            "s2s dialback, double quotes, features in the header's segment",
            &[
                (
                    C,
                    b"<?xml version=\"1.0\"?><stream:stream xmlns:stream=\"http://etherx.jabber.org/streams\" \
                      xmlns=\"jabber:server\" xmlns:db=\"jabber:server:dialback\" to=\"b.example\" version=\"1.0\">",
                ),
                (
                    S,
                    b"<?xml version=\"1.0\"?><stream:stream xmlns=\"jabber:server\" version=\"1.0\">\
                      <stream:features><dialback xmlns=\"urn:xmpp:features:dialback\"/>\
                      <starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/></stream:features>",
                ),
                (C, b"<starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>"),
                (S, b"<proceed xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>"),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls]; stls=<starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>; \
             ans=ok:<proceed xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>; ch@5; sh@6",
        ),
        (
            "no <starttls> in the features: PLAIN in the clear, accepted",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_PLAIN),
                (C, AUTH_PLAIN),
                (S, SUCCESS),
                (C, C_STREAM),
                (S, S_STREAM),
                (S, b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"),
            ],
            "caps=[auth=PLAIN]; cred=PLAIN:alice:s3cret!:pw:ok; \
             sens=<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>",
        ),
        (
            "<starttls/> refused with <failure/>, then PLAIN refused",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_TLS),
                (C, STARTTLS),
                (S, b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                (C, AUTH_PLAIN),
                (
                    S,
                    b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>",
                ),
            ],
            "caps=[starttls auth=SCRAM-SHA-1,PLAIN]; \
             stls=<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; \
             ans=no:<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; \
             cred=PLAIN:alice:s3cret!:pw:fail; \
             sens=<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>",
        ),
        (
            "a masked <starttls> element, prefixed features, whitespace keepalives",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (
                    S,
                    b"\n<stream:features> <XXXXXXXX xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
                      <required/></XXXXXXXX></stream:features> ",
                ),
                (C, b" \r\n "),
            ],
            "caps=[mask=<XXXXXXXX xmlns='urn:ietf:params:xml:ns:xmpp-tls'>]",
        ),
        (
            "a mangled <starttlx/>, then an overwritten request refused",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (
                    S,
                    b"<stream:features><starttlx xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
                ),
                (C, b"<XXXXXXXX xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                (S, b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            ],
            "caps=[mask=<starttlx xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>]; \
             tamper=<XXXXXXXX xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>/\
             <failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        ),
        (
            "an overwritten request answered by a stream error (Prosody)",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_TLS),
                (C, b"<XXXXXXXX xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                (
                    S,
                    b"<stream:error><unsupported-stanza-type \
                      xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
                ),
            ],
            "caps=[starttls auth=SCRAM-SHA-1,PLAIN]; \
             tamper=<XXXXXXXX xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>/<stream:error>",
        ),
        (
            "<starttls/> answered by a stream error: refused",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_TLS),
                (C, STARTTLS),
                (
                    S,
                    b"<stream:error><unsupported-stanza-type \
                      xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
                ),
            ],
            "caps=[starttls auth=SCRAM-SHA-1,PLAIN]; \
             stls=<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; ans=no:<stream:error>",
        ),
        (
            "<starttls/> answered by the stream's end: refused",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_TLS),
                (C, STARTTLS),
                (S, b"</stream:stream>"),
            ],
            "caps=[starttls auth=SCRAM-SHA-1,PLAIN]; \
             stls=<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>; ans=no:</stream:stream>",
        ),
        (
            "SCRAM-SHA-1 with a challenge and a response: recorded, no secret",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_PLAIN),
                (C, scram_first),
                (
                    S,
                    b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                      cj1ub25jZXNlcnZlcixzPWMyRnNkQT09LGk9NDA5Ng==</challenge>",
                ),
                (
                    C,
                    b"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                      Yz1iaXdzLHI9bm9uY2VzZXJ2ZXIscD1jek5qY21WMElRPT0=</response>",
                ),
                (S, b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1zaWc=</success>"),
            ],
            "caps=[auth=PLAIN]; cred=SCRAM-SHA-1:alice::none:ok; \
             sens=<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism=\"SCRAM-SHA-1\">",
        ),
        (
            "a prefixed <sasl:auth>, and <abort/>",
            &[
                (C, C_STREAM),
                (S, S_STREAM),
                (S, FEATURES_PLAIN),
                (
                    C,
                    b"<sasl:auth xmlns:sasl='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\
                      AGFsaWNlAHMzY3JldCE=</sasl:auth><abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
                ),
                (
                    S,
                    b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><aborted/></failure>",
                ),
            ],
            "caps=[auth=PLAIN]; cred=PLAIN:alice:s3cret!:pw:fail:cancelled; \
             sens=<sasl:auth xmlns:sasl='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>",
        ),
    ];
    check(cases);
}

#[test]
fn client_bytes_after_starttls_are_held() {
    // Pipelined after <starttls/>: held, then read as injected.
    let script: &Script<'_> = &[
        (C, C_STREAM),
        (S, S_STREAM),
        (S, FEATURES_TLS),
        (C, &[STARTTLS, AUTH_PLAIN].concat()),
        (S, PROCEED),
    ];
    let facts = run(script);
    assert_redacted(&facts, SECRETS);
    assert_eq!(client_spans(&facts.secret_spans), secret_elements(script));
    assert!(facts.command_injection.is_some(), "{}", summary(&facts));
    assert_same_when_chunked("pipelined", script);
}

#[test]
fn the_guard_masks_by_tags_alone() {
    // Content the machine never reads (no <auth> before it, an unknown
    // mechanism, a child element, CDATA) is secret all the same.
    let cases: &[&[u8]] = &[
        b"<response>czNjcmV0IQ==</response>",
        b"<auth mechanism='X-UNKNOWN'><![CDATA[s3cret!]]><child a='>'/>s3cret!</auth><presence/>",
        b"<iq type='set'><query xmlns='jabber:iq:auth'><username>alice</username>\
          <password>s3cret!</password><resource>r</resource></query></iq>",
        b"<auth mechanism='PLAIN'/><response/>",
    ];
    for bytes in cases {
        for n in [1, 2, 3, 7, bytes.len()] {
            let mut guard = SecretGuard::default();
            let mut spans = SecretSpans::default();
            let mut offset = 0;
            for piece in bytes.chunks(n) {
                guard.client_xml(piece, offset, &mut spans);
                offset += piece.len() as u64;
            }
            guard.finish(&mut spans);
            let script: &Script<'_> = &[(C, bytes)];
            let want = secret_elements(script);
            let got = client_spans(&spans);
            let shown = |r: &[(u64, u64)]| {
                r.iter()
                    .map(|(s, e)| {
                        String::from_utf8_lossy(&bytes[*s as usize..*e as usize]).into_owned()
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                shown(&got),
                shown(&want),
                "{:?} in pieces of {n}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

#[test]
fn after_a_gap_the_guard_masks_up_to_the_next_tag() {
    let script: &Script<'_> = &[
        (C, C_STREAM),
        (S, S_STREAM),
        (S, FEATURES_PLAIN),
        (
            C,
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNl",
        ),
        (C, b"AHMzY3JldCE=</auth><presence/>"),
        (S, SUCCESS),
    ];
    let facts = run_with(script, Feed::gap(4, C, 10));
    let second = (C_STREAM.len() + script[3].1.len() + 10) as u64;
    let spans = client_spans(&facts.secret_spans);
    assert!(
        spans.iter().any(|&(s, e)| s <= second && e >= second + 12),
        "{spans:?}"
    );
    // The tags after it are read again.
    assert!(!spans.iter().any(|&(_, e)| e > second + 12), "{spans:?}");
}

#[test]
fn detection() {
    // Either side's first bytes; any tag on an XMPP port; not a stray `<`.
    for (script, hint, want) in [
        (&[(S, S_STREAM)][..], None, Some(Protocol::Xmpp)),
        (
            &[(C, b"<?xml version='1.0'?>".as_slice())][..],
            None,
            Some(Protocol::Xmpp),
        ),
        (
            &[(
                C,
                b"<s:stream xmlns:s='http://etherx.jabber.org/streams'>".as_slice(),
            )][..],
            Some(Protocol::Xmpp),
            Some(Protocol::Xmpp),
        ),
        (&[(C, b"<html>".as_slice())][..], None, None),
    ] {
        let feed = Feed {
            port_hint: hint,
            ..Feed::default()
        };
        let facts = run_with(script, feed);
        assert_eq!(facts.protocol, want, "{script:?}");
        let bytewise = run_with(
            script,
            Feed {
                chunk: Some(1),
                ..feed
            },
        );
        assert_eq!(bytewise.protocol, want, "{script:?} byte by byte");
    }
}

#[test]
fn bounded_tags_and_texts() {
    // A huge attribute, a huge text, an unclosed tag: nothing kept past
    // the limits, nothing lost after them.
    let huge_attr = [
        b"<stream:features a='".as_slice(),
        &vec![b'x'; 100_000],
        b"'>",
    ]
    .concat();
    let huge_text = [
        b"<mechanisms><mechanism>".as_slice(),
        &vec![b'A'; 100_000],
        b"</mechanism>",
    ]
    .concat();
    let script: &Script<'_> = &[
        (C, C_STREAM),
        (S, S_STREAM),
        (S, &huge_attr),
        (S, &huge_text),
        (
            S,
            b"</mechanisms><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
        ),
    ];
    let facts = run(script);
    assert_eq!(facts.capabilities.len(), 1);
    let caps = &facts.capabilities[0];
    assert!(caps.starttls);
    assert!(caps.evidence.bytes.len() <= crate::proto::facts::EVIDENCE_BYTES);
    assert!(caps.auth_mechanisms[0].len() <= crate::proto::sasl::MAX_MECHANISM);
    const { assert!(MAX_TAG < 100_000 && MAX_TEXT < 100_000) };
}
