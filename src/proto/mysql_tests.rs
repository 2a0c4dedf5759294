//! Table-driven tests of the MySQL machine, through the whole dialog
//! driver: each case is a script of segments and the one-line summary of
//! the facts it must give (see `test_support::summary`), fed whole and in
//! pieces of 1, 2, 3 and 7 bytes; no secret in any redacted evidence, and
//! the secret spans exactly the client bytes the framing marks (the
//! handshake response after the user name, every later connection-phase
//! packet whole, COM_CHANGE_USER after its command byte).

use super::*;
use crate::proto::facts::{DialogFacts, Protocol};
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, assert_same_when_chunked, client_hello, run, run_with,
    server_hello, summary,
};

/// The client's 20-byte native-password response, and its hex.
const RESPONSE: &[u8] = b"RESPONSE-0123456789!";
const RESPONSE_HEX: &[u8] = b"524553504f4e53452d3031323334353637383921";
const SECRETS: &[&[u8]] = &[RESPONSE, RESPONSE_HEX, b"s3cret!", b"SHA2-SCRAMBLE"];

/// The greeting's 20-byte scramble, as 8 + 12 bytes.
const SCRAMBLE: &[u8] = b"abcdefghijklmnopqrst";
const SCRAMBLE_HEX: &str = "6162636465666768696a6b6c6d6e6f7071727374";

const BASE: u32 = 0x0000_f7ff & !CLIENT_SSL; // 5.1: no CLIENT_SSL
const MODERN: u32 =
    0x000f_f7ff | CLIENT_SSL | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;

fn pkt(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(payload);
    out
}

fn greeting(version: &str, caps: u32, plugin: Option<&str>) -> Vec<u8> {
    let mut g = vec![GREETING_V10];
    g.extend_from_slice(version.as_bytes());
    g.push(0);
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(&SCRAMBLE[..8]);
    g.push(0);
    g.extend_from_slice(&(caps as u16).to_le_bytes());
    g.push(0x21);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(&SCRAMBLE[8..]);
    g.push(0);
    if let Some(p) = plugin {
        g.extend_from_slice(p.as_bytes());
        g.push(0);
    }
    pkt(0, &g)
}

fn fixed(caps: u32) -> Vec<u8> {
    let mut r = caps.to_le_bytes().to_vec();
    r.extend_from_slice(&0x0100_0000u32.to_le_bytes());
    r.push(0x21);
    r.extend_from_slice(&[0; 23]);
    r
}

fn ssl_request(caps: u32) -> Vec<u8> {
    pkt(1, &fixed(caps | CLIENT_SSL))
}

/// HandshakeResponse41 (sequence 1, or 2 after an SSLRequest).
fn response(
    seq: u8,
    caps: u32,
    user: &str,
    auth: &[u8],
    db: Option<&str>,
    plugin: Option<&str>,
) -> Vec<u8> {
    let mut caps = caps & !(CLIENT_SSL | CLIENT_CONNECT_WITH_DB | CLIENT_COMPRESS);
    if plugin.is_none() {
        caps &= !CLIENT_PLUGIN_AUTH;
    }
    if db.is_some() {
        caps |= CLIENT_CONNECT_WITH_DB;
    }
    let mut r = fixed(caps);
    r.extend_from_slice(user.as_bytes());
    r.push(0);
    if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 || caps & CLIENT_SECURE_CONNECTION != 0 {
        r.push(auth.len() as u8);
        r.extend_from_slice(auth);
    } else {
        r.extend_from_slice(auth);
        r.push(0);
    }
    if let Some(db) = db {
        r.extend_from_slice(db.as_bytes());
        r.push(0);
    }
    if let Some(p) = plugin {
        r.extend_from_slice(p.as_bytes());
        r.push(0);
    }
    pkt(seq, &r)
}

fn ok(seq: u8) -> Vec<u8> {
    pkt(seq, &[0, 0, 0, 2, 0, 0, 0])
}

fn err(seq: u8, code: u16, message: &str) -> Vec<u8> {
    let mut e = vec![ERR];
    e.extend_from_slice(&code.to_le_bytes());
    e.extend_from_slice(b"#28000");
    e.extend_from_slice(message.as_bytes());
    pkt(seq, &e)
}

/// The client packets' secret payload ranges (stream offsets), as the
/// framing rule says, computed here from the scripts' own layout.
fn secret_ranges(script: &Script<'_>) -> Vec<(u64, u64)> {
    let client: Vec<u8> = script
        .iter()
        .filter(|(side, _)| *side == C)
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 4 <= client.len() {
        let len = u32::from_le_bytes([client[at], client[at + 1], client[at + 2], 0]) as usize;
        let (seq, body) = (client[at + 3], at + 4);
        let end = body + len;
        if client[at] == 0x16 && client[at + 1] == 0x03 {
            // TLS after an SSLRequest: not framed as MySQL.
            break;
        }
        let from = match seq {
            0 if client.get(body) == Some(&0x11) => Some(body + 1),
            0 => None,
            1 if len <= 32 => None,
            1 => {
                let user = body + 32;
                let nul = client[user..].iter().position(|b| *b == 0).unwrap();
                Some(user + nul + 1)
            }
            _ => Some(body),
        };
        if let Some(from) = from.filter(|f| *f < end) {
            out.push((from as u64, end as u64));
        }
        at = end;
    }
    out
}

fn check(cases: &[(&str, &Script<'_>, &str)]) {
    for (name, script, want) in cases {
        let facts = run(script);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_eq!(facts.protocol, Some(Protocol::Mysql), "case {name:?}");
        assert_redacted(&facts, SECRETS);
        let spans: Vec<(u64, u64)> = facts
            .secret_spans
            .iter()
            .filter(|(side, _, _)| *side == C)
            .map(|(_, s, e)| (s, e))
            .collect();
        assert_eq!(spans, secret_ranges(script), "case {name:?}: secret spans");
        assert_same_when_chunked(name, script);
    }
}

#[test]
fn connection_phase() {
    let ch = client_hello("db.example.org");
    let sh = server_hello(0x1301);
    let old = greeting("5.1.67", BASE, None);
    let modern = greeting("8.0.32", MODERN, Some("caching_sha2_password"));
    let native = |user: &str| response(1, BASE, user, RESPONSE, None, None);
    let sha2 = response(
        1,
        MODERN,
        "root",
        b"SHA2-SCRAMBLE-0123456789abcdefgh",
        Some("test"),
        Some("caching_sha2_password"),
    );
    let expected_native = format!(
        "caps=[]; cred=MYSQL-mysql_native_password:root:{}:cr:ok:ch={SCRAMBLE_HEX}; \
         sens=HandshakeResponse user=root",
        String::from_utf8_lossy(RESPONSE_HEX)
    );
    let cases: &[(&str, &Script<'_>, &str)] = &[
        (
            "5.1 without CLIENT_SSL: a native-password login, OK",
            &[(S, &old), (C, &native("root")), (S, &ok(2))],
            &expected_native,
        ),
        (
            "an empty auth response (using password: NO) is no credential",
            &[
                (S, &old),
                (C, &response(1, BASE, "root", b"", None, None)),
                (S, &err(2, 1045, "Access denied (using password: NO)")),
            ],
            "caps=[]; sens=HandshakeResponse user=root",
        ),
        (
            "CLIENT_SSL offered, SSLRequest, then TLS",
            &[
                (S, &modern),
                (C, &[ssl_request(MODERN), ch.clone()].concat()),
                (S, &sh),
            ],
            "caps=[starttls]; stls=SSLRequest; ans=ok:TLS ClientHello after SSLRequest; ch@2; sh@3",
        ),
        (
            "SSLRequest and TLS in separate segments",
            &[(S, &modern), (C, &ssl_request(MODERN)), (C, &ch), (S, &sh)],
            "caps=[starttls]; stls=SSLRequest; ans=ok:TLS ClientHello after SSLRequest; ch@3; sh@4",
        ),
        (
            "caching_sha2_password in clear: full auth, public key, RSA password",
            &[
                (S, &modern),
                (C, &sha2),
                (S, &pkt(2, &[AUTH_MORE_DATA, 4])),
                (C, &pkt(3, &[2])),
                (S, &pkt(4, &[AUTH_MORE_DATA, b'-', b'-'])),
                (C, &pkt(5, &[0x5a; 256])),
                (S, &ok(6)),
            ],
            "caps=[starttls]; cred=MYSQL-caching_sha2_password:root::none:ok; \
             sens=HandshakeResponse user=root database=test",
        ),
        (
            "AuthSwitchRequest to mysql_clear_password, refused",
            &[
                (S, &modern),
                (
                    C,
                    &response(
                        1,
                        MODERN,
                        "alice",
                        b"SHA2-SCRAMBLE-0123456789abcdefgh",
                        None,
                        Some("caching_sha2_password"),
                    ),
                ),
                (S, &pkt(2, b"\xfemysql_clear_password\0")),
                (C, &pkt(3, b"s3cret!\0")),
                (S, &err(4, 1045, "Access denied for user 'alice'")),
            ],
            "caps=[starttls]; cred=MYSQL-caching_sha2_password:alice::none:unknown; \
             cred=MYSQL-mysql_clear_password:alice:s3cret!:pw:fail; \
             sens=HandshakeResponse user=alice",
        ),
        (
            "an ERR answers the SSLRequest (a server without TLS)",
            &[
                (S, &greeting("5.5.5-10.0.36-MariaDB", BASE, None)),
                (C, &ssl_request(BASE)),
                (S, &err(2, 1043, "Bad handshake")),
            ],
            "caps=[]; stls=SSLRequest; ans=no:ERR 1043 Bad handshake",
        ),
        (
            "COM_CHANGE_USER after OK is masked after its command byte",
            &[
                (S, &old),
                (C, &native("root")),
                (S, &ok(2)),
                (C, &pkt(0, b"\x03SELECT 1")),
                (C, &pkt(0, b"\x11bob\0\x14RESPONSE-0123456789!")),
            ],
            &expected_native,
        ),
    ];
    check(cases);
}

/// An ERR packet in place of the greeting is MySQL on its port only; a
/// greeting is MySQL anywhere.
#[test]
fn detection() {
    let e = pkt(0, b"\xff\x6a\x04Host 'x' is not allowed to connect");
    let on_3306 = Feed {
        port_hint: Some(Protocol::Mysql),
        ..Feed::default()
    };
    let facts = run_with(&[(S, &e)], on_3306);
    assert_eq!(facts.protocol, Some(Protocol::Mysql));
    assert_eq!(summary(&facts), "");
    assert_eq!(run(&[(S, &e)]).protocol, None);
    let g = greeting("8.0.28", MODERN, Some("mysql_native_password"));
    assert_eq!(run(&[(S, &g)]).protocol, Some(Protocol::Mysql));
    for (bytes, want) in [
        (&g[..], true),
        (&g[..6], true),
        (&g[..5], false),
        (b"220 mail.example ESMTP\r\n", false),
        (&[0x4a, 0, 0, 1, 0x0a, b'8'], false),
        (&[0x4a, 0, 0, 0, 0x09, b'8'], false),
    ] {
        assert_eq!(is_greeting(bytes), want, "{bytes:?}");
    }
}

/// A gap in the client's stream loses the framing: what follows is masked.
#[test]
fn a_gap_masks_the_rest() {
    let old = greeting("5.1.67", BASE, None);
    let login = response(1, BASE, "root", RESPONSE, None, None);
    let script: &Script<'_> = &[
        (S, &old),
        (C, &login),
        (S, &ok(2)),
        (C, b"\x03\0\0\0\x03SELECT"),
    ];
    let facts: DialogFacts = run_with(script, Feed::gap(3, C, 5));
    let start = (login.len() + 5) as u64;
    let spans: Vec<_> = facts.secret_spans.iter().collect();
    assert_eq!(spans.last(), Some(&(C, start, start + 11)));
}

/// A handshake response cut by the end of the capture, before its user
/// name ends: everything after the fixed part is masked.
#[test]
fn a_cut_response_masks_past_the_fixed_part() {
    let old = greeting("5.1.67", BASE, None);
    let login = response(1, BASE, "root", RESPONSE, None, None);
    let facts = run(&[(S, &old), (C, &login[..38])]);
    let spans: Vec<_> = facts.secret_spans.iter().collect();
    assert_eq!(spans, vec![(C, 36, login.len() as u64)]);
    assert!(facts.credentials.is_empty());
}

/// The guard's rule, alone.
#[test]
fn client_secret_by_framing() {
    use crate::proto::secrecy::{MysqlSecret as M, mysql_client_secret as f};
    let f41 = fixed(BASE);
    let with_user = [&f41[..], b"root\0xyz"].concat();
    let old = [&[0x85u8, 0x24, 0xff, 0xff, 0][..], b"root\0xyz\0"].concat();
    assert_eq!(f(1, &f41, 32, false), M::Nothing);
    assert_eq!(f(1, &with_user, 40, true), M::From(37));
    assert_eq!(f(1, &with_user[..34], 40, true), M::NeedMore);
    assert_eq!(f(1, &with_user[..34], 40, false), M::From(32));
    assert_eq!(f(1, &old, 14, false), M::From(10));
    assert_eq!(f(1, &[], 40, false), M::From(0));
    assert_eq!(f(2, b"", 20, true), M::From(0));
    assert_eq!(f(0, b"\x03SELECT", 7, false), M::Nothing);
    assert_eq!(f(0, b"\x11bob", 30, true), M::From(1));
    assert_eq!(f(0, b"", 30, true), M::NeedMore);
}

/// With CLIENT_COMPRESS on both sides, packets after OK are compressed:
/// read no further, the client's masked whole.
#[test]
fn compression_after_ok_masks_the_rest() {
    let old = greeting("5.1.67", BASE, None);
    let mut login = response(1, BASE, "root", RESPONSE, None, None);
    login[4] |= CLIENT_COMPRESS as u8;
    let query = b"\x0d\0\0\0\0\0\0\x03SELECT 1";
    let facts = run(&[(S, &old), (C, &login), (S, &ok(2)), (C, query)]);
    let spans: Vec<_> = facts.secret_spans.iter().collect();
    let end = (login.len() + query.len()) as u64;
    assert_eq!(spans, vec![(C, 41, end)]);
}

/// A client that sends its HandshakeResponse in cleartext after its
/// SSLRequest: no acceptance, and the response (sequence 2) masked whole.
#[test]
fn cleartext_after_ssl_request_is_masked_whole() {
    let modern = greeting("8.0.32", MODERN, Some("caching_sha2_password"));
    let login = response(
        2,
        MODERN,
        "root",
        RESPONSE,
        None,
        Some("mysql_native_password"),
    );
    let ssl = ssl_request(MODERN);
    let facts = run(&[(S, &modern), (C, &ssl), (C, &login)]);
    assert!(facts.starttls_answer.is_none());
    assert!(facts.starttls_command.is_some());
    let start = ssl.len() as u64 + 4;
    let spans: Vec<_> = facts.secret_spans.iter().collect();
    assert_eq!(spans, vec![(C, start, start + login.len() as u64 - 4)]);
    assert_redacted(&facts, SECRETS);
}

/// A length-encoded auth response claiming 2^64 − 1 bytes: cut at what
/// the packet holds, no overflow.
#[test]
fn a_huge_lenenc_auth_length_is_cut() {
    let modern = greeting("8.0.32", MODERN, Some("caching_sha2_password"));
    let mut r = fixed(MODERN & !CLIENT_SSL | CLIENT_CONNECT_WITH_DB);
    r.extend_from_slice(b"root\0\xfe\xff\xff\xff\xff\xff\xff\xff\xffSHA2-SCRAMBLE");
    let facts = run(&[(S, &modern), (C, &pkt(1, &r))]);
    assert_eq!(facts.credentials.len(), 1);
    assert_redacted(&facts, SECRETS);
}

/// Arbitrary packets after a greeting (a fixed pseudo-random sequence),
/// whole and in 3-byte pieces: no panic, no overflow, still MySQL.
#[test]
fn arbitrary_packets_do_not_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let g = greeting("8.0.32", MODERN, Some("mysql_native_password"));
    for _ in 0..300 {
        let mut script: Vec<(crate::flow::Side, Vec<u8>)> = vec![(S, g.clone())];
        for _ in 0..(next() % 6) {
            let side = if next() % 2 == 0 { C } else { S };
            let len = (next() % 80) as usize;
            let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let seq = (next() % 4) as u8;
            script.push((side, pkt(seq, &body)));
        }
        let borrowed: Vec<(crate::flow::Side, &[u8])> =
            script.iter().map(|(s, b)| (*s, b.as_slice())).collect();
        let facts = run(&borrowed);
        assert_eq!(facts.protocol, Some(Protocol::Mysql));
        run_with(&borrowed, Feed::chunked(3));
    }
}
