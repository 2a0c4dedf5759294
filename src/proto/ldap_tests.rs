//! Table-driven tests of the LDAP machine, through the whole dialog
//! driver: each case is a script of segments and the one-line summary of
//! the facts it must give (see `test_support::summary`), fed whole and in
//! pieces of 1, 2, 3 and 7 bytes; no secret in any redacted evidence, and
//! the secret spans exactly the client bytes BER framing marks (a
//! BindRequest's authentication choice to its end).

use super::*;
use crate::proto::facts::{DialogFacts, Protocol};
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, assert_same_when_chunked, client_hello, run, run_with,
    server_hello, summary,
};

const SECRETS: &[&[u8]] = &[b"s3cret!", b"c2VjcmV0", b"pencil"];

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        // Long form, 4 bytes, as Active Directory writes it.
        out.push(0x84);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(contents);
    out
}

fn int(v: u8) -> Vec<u8> {
    tlv(0x02, &[v])
}

fn msg(id: u8, op: &[u8]) -> Vec<u8> {
    tlv(0x30, &[int(id), op.to_vec()].concat())
}

fn bind_simple(id: u8, dn: &str, password: &[u8]) -> Vec<u8> {
    let op = [int(3), tlv(0x04, dn.as_bytes()), tlv(0x80, password)].concat();
    msg(id, &tlv(0x60, &op))
}

fn bind_sasl(id: u8, mechanism: &str, creds: Option<&[u8]>) -> Vec<u8> {
    let mut sasl = tlv(0x04, mechanism.as_bytes());
    if let Some(c) = creds {
        sasl.extend_from_slice(&tlv(0x04, c));
    }
    let op = [int(3), tlv(0x04, b""), tlv(0xa3, &sasl)].concat();
    msg(id, &tlv(0x60, &op))
}

fn result(code: u8) -> Vec<u8> {
    [tlv(0x0a, &[code]), tlv(0x04, b""), tlv(0x04, b"")].concat()
}

fn bind_response(id: u8, code: u8, creds: Option<&[u8]>) -> Vec<u8> {
    let mut op = result(code);
    if let Some(c) = creds {
        op.extend_from_slice(&tlv(0x87, c));
    }
    msg(id, &tlv(0x61, &op))
}

fn starttls(id: u8) -> Vec<u8> {
    msg(id, &tlv(0x77, &tlv(0x80, STARTTLS_OID)))
}

fn extended_response(id: u8, code: u8, name: Option<&[u8]>) -> Vec<u8> {
    let mut op = result(code);
    if let Some(n) = name {
        op.extend_from_slice(&tlv(0x8a, n));
    }
    msg(id, &tlv(0x78, &op))
}

/// A baseObject search of the root DSE for `attrs`.
fn root_search(id: u8) -> Vec<u8> {
    let op = [
        tlv(0x04, b""),
        tlv(0x0a, &[0]),
        tlv(0x0a, &[0]),
        int(0),
        int(0),
        tlv(0x01, &[0]),
        tlv(0x87, b"objectClass"),
        tlv(0x30, &tlv(0x04, b"supportedExtension")),
    ]
    .concat();
    msg(id, &tlv(0x63, &op))
}

fn entry(id: u8, dn: &str, attrs: &[(&str, &[&[u8]])]) -> Vec<u8> {
    let list: Vec<u8> = attrs
        .iter()
        .flat_map(|(name, values)| {
            let vals: Vec<u8> = values.iter().flat_map(|v| tlv(0x04, v)).collect();
            tlv(
                0x30,
                &[tlv(0x04, name.as_bytes()), tlv(0x31, &vals)].concat(),
            )
        })
        .collect();
    let op = [tlv(0x04, dn.as_bytes()), tlv(0x30, &list)].concat();
    msg(id, &tlv(0x64, &op))
}

fn search_done(id: u8) -> Vec<u8> {
    msg(id, &tlv(0x65, &result(0)))
}

/// A BER header's size and length, read here on its own.
fn hdr(b: &[u8]) -> (usize, usize) {
    if b[1] < 0x80 {
        (2, b[1] as usize)
    } else {
        let n = (b[1] & 0x7f) as usize;
        let len = b[2..2 + n].iter().fold(0usize, |v, x| v << 8 | *x as usize);
        (2 + n, len)
    }
}

/// The client messages' secret ranges (stream offsets), as the framing
/// rule says: a BindRequest's third element to the BindRequest's end.
fn secret_ranges(script: &Script<'_>) -> Vec<(u64, u64)> {
    let client: Vec<u8> = script
        .iter()
        .filter(|(side, _)| *side == C)
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < client.len() && client[at] == 0x30 {
        let (size, len) = hdr(&client[at..]);
        let end = at + size + len;
        let id = at + size;
        let op = id + 2 + client[id + 1] as usize;
        if client[op] == 0x60 {
            let (op_size, op_len) = hdr(&client[op..]);
            let mut field = op + op_size;
            for _ in 0..2 {
                let (s, l) = hdr(&client[field..]);
                field += s + l;
            }
            out.push((field as u64, (op + op_size + op_len) as u64));
        }
        at = end;
    }
    out
}

fn check(cases: &[(&str, &Script<'_>, &str)]) {
    for (name, script, want) in cases {
        let facts = run(script);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_eq!(facts.protocol, Some(Protocol::Ldap), "case {name:?}");
        assert_redacted(&facts, SECRETS);
        assert_eq!(
            client_spans(&facts),
            secret_ranges(script),
            "case {name:?}: secret spans"
        );
        assert_same_when_chunked(name, script);
    }
}

fn client_spans(facts: &DialogFacts) -> Vec<(u64, u64)> {
    facts
        .secret_spans
        .iter()
        .filter(|(side, _, _)| *side == C)
        .map(|(_, s, e)| (s, e))
        .collect()
}

#[test]
fn dialogs() {
    let ch = client_hello("ldap.example.org");
    let sh = server_hello(0x1301);
    let tls_oid: &[u8] = STARTTLS_OID;
    let dse = |exts: &[&[u8]]| {
        let mechs: &[&[u8]] = &[b"PLAIN", b"scram-sha-1"];
        entry(
            1,
            "",
            &[
                ("supportedSASLMechanisms", mechs),
                ("supportedExtension", exts),
            ],
        )
    };
    let who = bind_simple(1, "cn=admin,dc=example,dc=com", b"s3cret!");
    let scram_first: &[u8] = b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
    let scram_server: &[u8] =
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    let scram_final: &[u8] =
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    let cram_challenge: &[u8] = b"<1896.697170952@postoffice.example.net>";
    let cram_response: &[u8] = b"tim b913a602c7eda7a495b4e6e7334d3890";
    let cases: &[(&str, &Script<'_>, &str)] = &[
        (
            "StartTLS accepted without responseName, TLS",
            &[
                (C, &starttls(1)),
                (S, &extended_response(1, 0, None)),
                (C, &ch),
                (S, &sh),
            ],
            "stls=ExtendedRequest 1.3.6.1.4.1.1466.20037; \
             ans=ok:ExtendedResponse resultCode 0; ch@3; sh@4",
        ),
        (
            "StartTLS accepted with its OID as responseName, the ServerHello in the same segment",
            &[
                (C, &starttls(1)),
                (
                    S,
                    &[extended_response(1, 0, Some(tls_oid)), sh.clone()].concat(),
                ),
                (C, &ch),
            ],
            "stls=ExtendedRequest 1.3.6.1.4.1.1466.20037; \
             ans=ok:ExtendedResponse resultCode 0; ch@3; sh@2",
        ),
        (
            "StartTLS refused (unavailable), then a simple bind in cleartext",
            &[
                (C, &starttls(1)),
                (S, &extended_response(1, 52, None)),
                (C, &bind_simple(2, "cn=admin,dc=example,dc=com", b"s3cret!")),
                (S, &bind_response(2, 0, None)),
            ],
            "stls=ExtendedRequest 1.3.6.1.4.1.1466.20037; \
             ans=no:ExtendedResponse resultCode 52; \
             cred=LDAP-SIMPLE:cn=admin,dc=example,dc=com:s3cret!:pw:ok; \
             sens=BindRequest name=cn=admin,dc=example,dc=com",
        ),
        (
            "a notice of disconnection in place of the answer",
            &[
                (C, &starttls(3)),
                (S, &extended_response(0, 2, Some(b"1.3.6.1.4.1.1466.20036"))),
            ],
            "stls=ExtendedRequest 1.3.6.1.4.1.1466.20037; ans=no:ExtendedResponse resultCode 2",
        ),
        (
            "the root DSE offers StartTLS, the client takes it",
            &[
                (C, &root_search(1)),
                (S, &dse(&[b"1.3.6.1.4.1.4203.1.11.3", tls_oid])),
                (S, &search_done(1)),
                (C, &starttls(2)),
                (S, &extended_response(2, 0, None)),
                (C, &ch),
                (S, &sh),
            ],
            "caps=[starttls auth=PLAIN,SCRAM-SHA-1]; stls=ExtendedRequest 1.3.6.1.4.1.1466.20037; \
             ans=ok:ExtendedResponse resultCode 0; ch@6; sh@7",
        ),
        (
            "the root DSE without StartTLS, a bind in cleartext",
            &[
                (C, &root_search(1)),
                (
                    S,
                    &[dse(&[b"1.3.6.1.4.1.4203.1.11.3"]), search_done(1)].concat(),
                ),
                (C, &who),
                (S, &bind_response(1, 49, None)),
            ],
            "caps=[auth=PLAIN,SCRAM-SHA-1]; \
             cred=LDAP-SIMPLE:cn=admin,dc=example,dc=com:s3cret!:pw:fail; \
             sens=BindRequest name=cn=admin,dc=example,dc=com",
        ),
        (
            "the root DSE with the StartTLS OID's last arc overwritten",
            &[
                (C, &root_search(1)),
                (S, &dse(&[b"1.3.6.1.4.1.1466.XXXXX"])),
            ],
            "caps=[mask=supportedExtension value 1.3.6.1.4.1.1466.XXXXX auth=PLAIN,SCRAM-SHA-1]",
        ),
        (
            "the root DSE with the attribute's name overwritten",
            &[
                (C, &root_search(1)),
                (S, &entry(1, "", &[("XXXXXXXXXXXXXXXXXX", &[tls_oid])])),
            ],
            "caps=[mask=XXXXXXXXXXXXXXXXXX 1.3.6.1.4.1.1466.20037]",
        ),
        (
            "a root DSE read without supportedExtension, an entry with a DN: no offer",
            &[
                (C, &root_search(1)),
                (
                    S,
                    &entry(1, "", &[("namingContexts", &[b"dc=example,dc=com"])]),
                ),
                (
                    S,
                    &entry(
                        2,
                        "dc=example,dc=com",
                        &[("supportedExtension", &[tls_oid])],
                    ),
                ),
            ],
            "",
        ),
        (
            "anonymous and unauthenticated binds are no credential",
            &[
                (C, &bind_simple(1, "", b"")),
                (S, &bind_response(1, 0, None)),
                (C, &bind_simple(2, "cn=nobody", b"")),
                (S, &bind_response(2, 53, None)),
            ],
            "",
        ),
        (
            "SASL PLAIN",
            &[
                (C, &bind_sasl(1, "PLAIN", Some(b"\0tim\0s3cret!"))),
                (S, &bind_response(1, 0, None)),
            ],
            "cred=PLAIN:tim:s3cret!:pw:ok; sens=BindRequest name= sasl PLAIN",
        ),
        (
            "SASL SCRAM-SHA-1 in two steps",
            &[
                (C, &bind_sasl(1, "SCRAM-SHA-1", Some(scram_first))),
                (S, &bind_response(1, 14, Some(scram_server))),
                (C, &bind_sasl(2, "SCRAM-SHA-1", Some(scram_final))),
                (
                    S,
                    &bind_response(2, 0, Some(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")),
                ),
            ],
            "cred=SCRAM-SHA-1:user::none:ok; sens=BindRequest name= sasl SCRAM-SHA-1",
        ),
        (
            "SASL CRAM-MD5: no initial response, the challenge in serverSaslCreds",
            &[
                (C, &bind_sasl(1, "CRAM-MD5", None)),
                (S, &bind_response(1, 14, Some(cram_challenge))),
                (C, &bind_sasl(2, "CRAM-MD5", Some(cram_response))),
                (S, &bind_response(2, 49, None)),
            ],
            "cred=CRAM-MD5:tim:b913a602c7eda7a495b4e6e7334d3890:cr:fail:\
             ch=<1896.697170952@postoffice.example.net>; sens=BindRequest name= sasl CRAM-MD5",
        ),
        (
            "a long (4-byte length) simple bind, never answered",
            &[(C, &bind_simple(5, &"x".repeat(200), b"s3cret!"))],
            &format!(
                "cred=LDAP-SIMPLE:{}:s3cret!:pw:unknown; sens=BindRequest name={}",
                "x".repeat(200),
                "x".repeat(200)
            ),
        ),
    ];
    check(cases);
}

/// A name, a client stream, its secret ranges.
type SpanCase = (&'static str, Vec<u8>, Vec<(u64, u64)>);

/// The guard's ranges where the message is cut or malformed: by framing
/// alone, whatever the parser made of it.
#[test]
fn secret_spans_when_cut_or_malformed() {
    let bind = bind_simple(1, "cn=a", b"s3cret!");
    // 30 17 | 02 01 01 | 60 12 | 02 01 03 | 04 04 cn=a | 80 07 s3cret!
    assert_eq!(bind.len(), 25);
    let search = root_search(1).len() as u64;
    let cases: [SpanCase; 6] = [
        ("whole", bind.clone(), vec![(16, 25)]),
        ("cut in the password", bind[..20].to_vec(), vec![(16, 25)]),
        ("cut in the name", bind[..13].to_vec(), vec![(7, 25)]),
        (
            "cut after the protocolOp's header",
            bind[..7].to_vec(),
            vec![(7, 25)],
        ),
        (
            "cut in the messageID, after a search (3 bytes alone say no protocol)",
            [root_search(1), bind[..3].to_vec()].concat(),
            vec![(search + 2, search + 25)],
        ),
        (
            "an indefinite length: the rest of the stream",
            [&b"\x30\x80\x02\x01\x01\x60\x80"[..], b"\x80\x07s3cret!"].concat(),
            vec![(0, 16)],
        ),
    ];
    for (name, bytes, want) in cases {
        for n in [1, 2, 5, 100] {
            let feed = Feed {
                chunk: Some(n),
                port_hint: Some(Protocol::Ldap),
                ..Feed::default()
            };
            let facts = run_with(&[(C, &bytes)], feed);
            assert_eq!(client_spans(&facts), want, "{name} in pieces of {n}");
        }
    }
    // A gap in the bind: its declared end is still secret, and every
    // client byte after the gap.
    let script: &Script<'_> = &[(C, &bind[..10]), (C, b"more")];
    let facts = run_with(script, Feed::gap(1, C, 4));
    assert_eq!(client_spans(&facts), vec![(7, 25)]);
    // ...and past it.
    let facts = run_with(script, Feed::gap(1, C, 40));
    assert_eq!(client_spans(&facts), vec![(7, 25), (50, 54)]);
}

#[test]
fn client_secret_by_framing() {
    let bind = bind_simple(1, "cn=a", b"s3cret!");
    let sasl = bind_sasl(2, "PLAIN", Some(b"\0u\0pw"));
    let modify = msg(
        3,
        &tlv(
            0x77,
            &[
                tlv(0x80, b"1.3.6.1.4.1.4203.1.11.1"),
                tlv(0x81, b"\x30\x04\x81\x02pw"),
            ]
            .concat(),
        ),
    );
    let add = msg(
        4,
        &tlv(
            0x68,
            &[
                tlv(0x04, b"cn=a"),
                tlv(
                    0x30,
                    &tlv(
                        0x30,
                        &[tlv(0x04, b"userPassword"), tlv(0x31, &tlv(0x04, b"pw"))].concat(),
                    ),
                ),
            ]
            .concat(),
        ),
    );
    let cases: [(&[u8], bool, LdapSecret); 12] = [
        (&add, false, LdapSecret::Span(13, add.len() as u64)),
        (&add[..9], true, LdapSecret::NeedMore),
        (&add[..9], false, LdapSecret::Span(7, add.len() as u64)),
        (&bind, false, LdapSecret::Span(16, 25)),
        (&bind[..12], true, LdapSecret::NeedMore),
        (&bind[..12], false, LdapSecret::Span(7, 25)),
        (&sasl, false, LdapSecret::Span(12, sasl.len() as u64)),
        (&starttls(1), false, LdapSecret::Nothing),
        (&modify, false, LdapSecret::Span(32, modify.len() as u64)),
        (&search_done(1), false, LdapSecret::Nothing),
        (b"\x30\x80", false, LdapSecret::Nothing),
        (&bind_simple(1, "", b""), false, LdapSecret::Span(12, 14)),
    ];
    for (bytes, more, want) in cases {
        assert_eq!(ldap_client_secret(bytes, more), want, "{bytes:02x?}");
    }
}

#[test]
fn detection_and_ports() {
    let cases: [(&[u8], Option<bool>); 11] = [
        (b"", None),
        (b"\x30", None),
        (b"\x30\x0c\x02\x01\x01\x78", Some(true)),
        (b"\x30\x84\x00\x00\x00\x3b\x02", None),
        (b"\x30\x84\x00\x00\x00\x3b\x02\x01", Some(true)),
        (b"\x30\x84\x00\x00\x00\x3b\x02\x01\x07\x63", Some(true)),
        (b"\x30\x05\x02\x01\x01\x42\x00", Some(true)),
        (b"\x30\x0c\x02\x01\x01\x04", Some(false)),
        (b"\x30\x80\x02\x01", Some(false)),
        (b"0 OK hello\r\n", Some(false)),
        (b"\x30\x00\x00\x00\x0a5.5", Some(false)),
    ];
    for (bytes, want) in cases {
        assert_eq!(message_start(bytes), want, "{bytes:02x?}");
    }
    assert_eq!(Protocol::from_port(389), Some(Protocol::Ldap));
    assert!(Protocol::implicit_tls_port(636));
    // Active Directory's Global Catalog: StartTLS on 3268, TLS on 3269.
    assert_eq!(Protocol::from_port(3268), Some(Protocol::Ldap));
    assert!(!Protocol::implicit_tls_port(3268));
    assert_eq!(Protocol::from_port(3269), Some(Protocol::Ldap));
    assert!(Protocol::implicit_tls_port(3269));
    assert!(crate::flow::PortSet::mail().contains(3268));
    assert_eq!(Protocol::from_name("ldap"), Some(Protocol::Ldap));
    // On any port, from the first bytes; a server's mail greeting is not.
    let f = run(&[(C, &starttls(1)), (S, &extended_response(1, 0, None))]);
    assert_eq!(f.protocol, Some(Protocol::Ldap));
    let f = run(&[(S, b"220 mail.example.org ESMTP\r\n"), (C, b"EHLO x\r\n")]);
    assert_eq!(f.protocol, Some(Protocol::Smtp));
}

#[test]
fn oversized_and_unreadable_messages_end_the_side() {
    // A message declared over MAX_MESSAGE: an anomaly, nothing allocated,
    // the client's rest masked.
    let mut big = b"\x30\x84".to_vec();
    big.extend_from_slice(&((MAX_MESSAGE + 1) as u32).to_be_bytes());
    big.extend_from_slice(b"\x02\x01\x01\x60\x00");
    let search = root_search(1);
    let facts = run(&[(C, &search), (C, &big), (C, b"s3cret!")]);
    assert_eq!(summary(&facts), "anom=ldap-unreadable-message");
    let from = search.len() as u64;
    assert_eq!(
        client_spans(&facts),
        vec![(from, from + big.len() as u64 + 7)]
    );
    // A message bigger than what is kept is counted past; the next one is
    // read.
    let huge = entry(1, "cn=x", &[("jpegPhoto", &[&vec![0u8; MAX_KEPT * 2]])]);
    let script: &Script<'_> = &[
        (C, &root_search(1)),
        (S, &huge),
        (C, &starttls(2)),
        (S, &extended_response(2, 0, None)),
    ];
    let facts = run(script);
    assert_eq!(
        summary(&facts),
        "stls=ExtendedRequest 1.3.6.1.4.1.1466.20037; ans=ok:ExtendedResponse resultCode 0"
    );
    assert_same_when_chunked("huge entry", script);
}

#[test]
fn arbitrary_messages_never_panic() {
    let ops: [u8; 8] = [0x60, 0x61, 0x63, 0x64, 0x77, 0x78, 0x42, 0x30];
    for op in ops {
        for body in [
            &b""[..],
            b"\x04",
            b"\x0a\x01",
            b"\x80\x05ab",
            b"\xa3\x02\x04\x00",
            b"\x30\x80",
        ] {
            let m = msg(1, &tlv(op, body));
            for side in [C, S] {
                let _ = run(&[(side, &m), (side, &m)]);
                let _ = run_with(&[(side, &m)], Feed::chunked(1));
            }
        }
    }
    let _: DialogFacts = run(&[(
        C,
        &bind_sasl(1, "X", Some(&vec![b'a'; sasl::MAX_DECODED + 1])),
    )]);
}
