//! Unit tests of the TLS hello reader.

use super::*;
use std::collections::BTreeMap;

// ---- builders -------------------------------------------------------

fn u16be(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

fn with_len16(data: &[u8]) -> Vec<u8> {
    let mut v = u16be(data.len() as u16).to_vec();
    v.extend_from_slice(data);
    v
}

fn with_len8(data: &[u8]) -> Vec<u8> {
    let mut v = vec![data.len() as u8];
    v.extend_from_slice(data);
    v
}

fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![content_type];
    v.extend_from_slice(&u16be(version));
    v.extend_from_slice(&with_len16(body));
    v
}

/// Splits a handshake stream into records of at most `max` bytes.
fn records(content_type: u8, version: u16, stream: &[u8], max: usize) -> Vec<u8> {
    stream
        .chunks(max)
        .flat_map(|c| record(content_type, version, c))
        .collect()
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut v = vec![msg_type];
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

fn ext(ext_type: u16, data: &[u8]) -> Vec<u8> {
    let mut v = u16be(ext_type).to_vec();
    v.extend_from_slice(&with_len16(data));
    v
}

fn ext_sni(name: &[u8]) -> Vec<u8> {
    let mut entry = vec![0u8];
    entry.extend_from_slice(&with_len16(name));
    ext(0, &with_len16(&entry))
}

fn ext_client_versions(versions: &[u16]) -> Vec<u8> {
    let list: Vec<u8> = versions.iter().flat_map(|v| u16be(*v)).collect();
    ext(43, &with_len8(&list))
}

fn ext_client_key_share(group: u16, key: &[u8]) -> Vec<u8> {
    let mut entry = u16be(group).to_vec();
    entry.extend_from_slice(&with_len16(key));
    ext(51, &with_len16(&entry))
}

fn ext_server_key_share(group: u16, key: &[u8]) -> Vec<u8> {
    let mut entry = u16be(group).to_vec();
    entry.extend_from_slice(&with_len16(key));
    ext(51, &entry)
}

fn client_hello_body(version: u16, ciphers: &[u16], exts: &[Vec<u8>]) -> Vec<u8> {
    let mut v = u16be(version).to_vec();
    v.extend((0..32).map(|i| i as u8)); // random
    v.extend_from_slice(&with_len8(&[0x5a; 32])); // session id
    let cs: Vec<u8> = ciphers.iter().flat_map(|c| u16be(*c)).collect();
    v.extend_from_slice(&with_len16(&cs));
    v.extend_from_slice(&with_len8(&[0])); // null compression
    if !exts.is_empty() {
        v.extend_from_slice(&with_len16(&exts.concat()));
    }
    v
}

fn server_hello_body(version: u16, random: [u8; 32], cipher: u16, exts: &[Vec<u8>]) -> Vec<u8> {
    let mut v = u16be(version).to_vec();
    v.extend_from_slice(&random);
    v.extend_from_slice(&with_len8(&[0x5a; 32]));
    v.extend_from_slice(&u16be(cipher));
    v.push(0);
    if !exts.is_empty() {
        v.extend_from_slice(&with_len16(&exts.concat()));
    }
    v
}

/// A TLS 1.2 ClientHello with SNI, as handshake message bytes.
fn tls12_client_hello(sni: &[u8]) -> Vec<u8> {
    handshake(
        1,
        &client_hello_body(
            0x0303,
            &[0xc02f, 0xc030, 0x009c, 0x002f, 0x00ff],
            &[
                ext_sni(sni),
                ext(10, &with_len16(&[0x00, 0x17, 0x00, 0x18])),
                ext(11, &with_len8(&[0])),
                ext(13, &with_len16(&[0x04, 0x01, 0x05, 0x01])),
                ext(0xff01, &[0]),
            ],
        ),
    )
}

/// A TLS 1.3 ClientHello (GREASE, supported_versions, key_share).
fn tls13_client_hello() -> Vec<u8> {
    handshake(
        1,
        &client_hello_body(
            0x0303,
            &[0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f],
            &[
                ext(0x2a2a, &[]),
                ext_sni(b"imap.example.net"),
                ext(23, &[]),
                ext(10, &with_len16(&[0x2a, 0x2a, 0x00, 0x1d, 0x00, 0x17])),
                ext_client_key_share(0x001d, &[0x42; 32]),
                ext(45, &with_len8(&[1])),
                ext_client_versions(&[0x7a7a, 0x0304, 0x0303, 0x0302]),
                ext(21, &[0; 40]), // padding
            ],
        ),
    )
}

fn tls12_server_hello(cipher: u16) -> Vec<u8> {
    handshake(
        2,
        &server_hello_body(
            0x0303,
            [7; 32],
            cipher,
            &[ext(0xff01, &[0]), ext(11, &with_len8(&[0]))],
        ),
    )
}

fn tls13_server_hello(random: [u8; 32], cipher: u16) -> Vec<u8> {
    handshake(
        2,
        &server_hello_body(
            0x0303,
            random,
            cipher,
            &[
                ext(43, &u16be(0x0304)),
                ext_server_key_share(0x001d, &[9; 32]),
            ],
        ),
    )
}

/// An SSLv2-compatible ClientHello offering TLS 1.0.
fn sslv2_client_hello() -> Vec<u8> {
    let specs = [0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80];
    let challenge = [0x11; 16];
    let mut body = vec![1, 0x03, 0x01];
    body.extend_from_slice(&u16be(specs.len() as u16));
    body.extend_from_slice(&u16be(0));
    body.extend_from_slice(&u16be(challenge.len() as u16));
    body.extend_from_slice(&specs);
    body.extend_from_slice(&challenge);
    let mut v = u16be(0x8000 | body.len() as u16).to_vec();
    v.extend_from_slice(&body);
    v
}

fn feed_all(stream: &[u8]) -> (TlsReader, Vec<TlsEvent>) {
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    reader.feed(stream, &mut out);
    (reader, out)
}

fn feed_bytewise(stream: &[u8]) -> (TlsReader, Vec<TlsEvent>) {
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    for b in stream {
        reader.feed(std::slice::from_ref(b), &mut out);
    }
    (reader, out)
}

/// xorshift64*: deterministic pseudo-random bytes for robustness loops.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---- sniffing -------------------------------------------------------

#[test]
fn sniff_recognises_record_headers() {
    for content_type in 20..=24u8 {
        for minor in 0..=4u8 {
            let header = [content_type, 3, minor, 0x00, 0x30];
            for n in 0..header.len() {
                assert_eq!(sniff(&header[..n]), Sniff::NeedMore, "{header:?}[..{n}]");
            }
            assert_eq!(sniff(&header), Sniff::Tls);
            assert_eq!(
                sniff(&record(content_type, 0x0300 | u16::from(minor), b"x")),
                Sniff::Tls
            );
        }
    }
    let max = record(22, 0x0303, &vec![0; MAX_RECORD_LEN]);
    assert_eq!(sniff(&max[..5]), Sniff::Tls);
}

#[test]
fn sniff_rejects_implausible_headers() {
    for header in [
        [19, 3, 1, 0, 5],
        [25, 3, 1, 0, 5],
        [22, 2, 0, 0, 5],
        [22, 4, 0, 0, 5],
        [22, 3, 5, 0, 5],
        [22, 3, 3, 0x48, 0x01], // 2^14 + 2049
        [22, 3, 3, 0xff, 0xff],
    ] {
        assert_eq!(sniff(&header), Sniff::NotTls, "{header:?}");
    }
    // Decided on the first byte that does not fit.
    assert_eq!(sniff(&[22, 9]), Sniff::NotTls);
    assert_eq!(sniff(&[22, 3, 3, 0x49]), Sniff::NotTls);
    assert_eq!(sniff(&[0]), Sniff::NotTls);
}

#[test]
fn sniff_text_is_not_tls() {
    for text in [
        &b"EHLO x\r\n"[..],
        b"220 ready\r\n",
        b"RSET\r\n",
        b"* OK [CAPABILITY IMAP4rev1] ready\r\n",
        b"+OK POP3 ready\r\n",
        b"a001 LOGIN bob secret\r\n",
        b"\r\n",
        b"E",
        "\u{e9}t\u{e9}\r\n".as_bytes(), // UTF-8 text starting with a high byte
    ] {
        assert_eq!(
            sniff(text),
            Sniff::NotTls,
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
    assert_eq!(sniff(b""), Sniff::NeedMore);
}

#[test]
fn sniff_sslv2_compatible_hello() {
    let hello = sslv2_client_hello();
    for n in 0..5 {
        assert_eq!(sniff(&hello[..n]), Sniff::NeedMore);
    }
    assert_eq!(sniff(&hello), Sniff::Tls);
    // Real SSLv2 (version 0x0002), another message type, too short.
    assert_eq!(sniff(&[0x80, 0x2e, 0x01, 0x00, 0x02]), Sniff::NotTls);
    assert_eq!(sniff(&[0x80, 0x2e, 0x04, 0x03, 0x01]), Sniff::NotTls);
    assert_eq!(sniff(&[0x80, 0x08, 0x01, 0x03, 0x01]), Sniff::NotTls);
}

// ---- hellos ---------------------------------------------------------

#[test]
fn tls12_client_hello_with_sni() {
    let stream = record(22, 0x0301, &tls12_client_hello(b"mail.example.org"));
    let (reader, out) = feed_all(&stream);
    assert_eq!(
        out,
        vec![TlsEvent::ClientHello(TlsHello {
            legacy_version: 0x0303,
            supported_version: None,
            sni: Some("mail.example.org".into()),
            cipher: None,
        })]
    );
    assert!(reader.hello_seen());
    assert_eq!(reader.state(), ReaderState::Reading);
    assert_eq!(reader.records(), 1);
}

#[test]
fn tls13_client_hello_with_supported_versions_and_key_share() {
    let stream = record(22, 0x0301, &tls13_client_hello());
    let (_, out) = feed_all(&stream);
    let [TlsEvent::ClientHello(hello)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(hello.legacy_version, 0x0303);
    assert_eq!(hello.supported_version, Some(0x0304));
    assert_eq!(hello.version(), 0x0304);
    assert_eq!(hello.sni.as_deref(), Some("imap.example.net"));
    assert_eq!(hello.cipher, None);
}

#[test]
fn sslv2_compatible_client_hello() {
    let mut stream = sslv2_client_hello();
    // The client's next flight is in TLS records.
    stream.extend(record(22, 0x0301, &handshake(16, &[0; 130])));
    stream.extend(record(20, 0x0301, &[1]));
    stream.extend(record(22, 0x0301, &[0xab; 48]));
    for (reader, out) in [feed_all(&stream), feed_bytewise(&stream)] {
        assert_eq!(
            out,
            vec![TlsEvent::ClientHello(TlsHello {
                legacy_version: 0x0301,
                ..TlsHello::default()
            })]
        );
        assert_eq!(reader.state(), ReaderState::Reading);
        assert_eq!(reader.records(), 4);
    }
    // Lengths that do not add up: no hello, but no panic either.
    let mut bad = sslv2_client_hello();
    bad[6] ^= 1;
    let (reader, out) = feed_all(&bad);
    assert!(out.is_empty());
    assert_eq!(reader.hello_state(), HelloState::Abandoned);
}

#[test]
fn client_hello_split_across_two_records_fed_one_byte_at_a_time() {
    let hello = tls12_client_hello(b"smtp.example.com");
    let cut = 57; // inside the cipher suites
    let mut stream = record(22, 0x0301, &hello[..cut]);
    stream.extend(record(22, 0x0301, &hello[cut..]));
    stream.extend(record(22, 0x0303, &handshake(16, &[3; 66])));
    let (reader, out) = feed_bytewise(&stream);
    let [TlsEvent::ClientHello(h)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(h.sni.as_deref(), Some("smtp.example.com"));
    assert_eq!(reader.records(), 3);
    // The event comes with the hello's last byte, not before.
    let (_, early) = feed_bytewise(&stream[..5 + cut + 5 + hello.len() - cut - 1]);
    assert!(early.is_empty());
}

#[test]
fn handshake_header_split_and_many_tiny_records() {
    // One-byte records: even the handshake header spans four records.
    let stream = records(22, 0x0303, &tls13_client_hello(), 1);
    let (_, out) = feed_all(&stream);
    assert!(matches!(out.as_slice(), [TlsEvent::ClientHello(h)] if h.version() == 0x0304));
}

#[test]
fn tls12_server_hello_with_cipher_c02f() {
    // ServerHello, Certificate and ServerHelloDone in one record.
    let mut flight = tls12_server_hello(0xc02f);
    flight.extend(handshake(11, &[0; 300]));
    flight.extend(handshake(14, &[]));
    let mut stream = record(22, 0x0303, &flight);
    stream.extend(record(20, 0x0303, &[1]));
    stream.extend(record(22, 0x0303, &[0xee; 40]));
    for (reader, out) in [feed_all(&stream), feed_bytewise(&stream)] {
        assert_eq!(
            out,
            vec![TlsEvent::ServerHello(TlsHello {
                legacy_version: 0x0303,
                supported_version: None,
                sni: None,
                cipher: Some(0xc02f),
            })]
        );
        assert!(reader.hello_seen());
        assert_eq!(reader.records(), 3);
    }
    assert_eq!(
        cipher_name(0xc02f),
        Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
}

#[test]
fn tls13_server_hello_then_encrypted_records() {
    let mut stream = record(22, 0x0303, &tls13_server_hello([3; 32], 0x1302));
    stream.extend(record(20, 0x0303, &[1]));
    for _ in 0..20 {
        stream.extend(record(23, 0x0303, &[0x99; 1000]));
    }
    let (reader, out) = feed_all(&stream);
    assert_eq!(
        out,
        vec![TlsEvent::ServerHello(TlsHello {
            legacy_version: 0x0303,
            supported_version: Some(0x0304),
            sni: None,
            cipher: Some(0x1302),
        })]
    );
    assert_eq!(reader.records(), 22);
    assert_eq!(reader.state(), ReaderState::Reading);
    assert_eq!(cipher_name(0x1302), Some("TLS_AES_256_GCM_SHA384"));
}

#[test]
fn hello_retry_request_is_not_the_server_hello() {
    let mut stream = record(22, 0x0303, &tls13_server_hello(HELLO_RETRY_RANDOM, 0x1301));
    stream.extend(record(20, 0x0303, &[1])); // middlebox compatibility
    stream.extend(record(22, 0x0303, &tls13_server_hello([5; 32], 0x1301)));
    let (reader, out) = feed_bytewise(&stream);
    assert!(reader.hello_retry());
    assert!(matches!(
        out.as_slice(),
        [TlsEvent::ServerHello(h)] if h.cipher == Some(0x1301) && h.version() == 0x0304
    ));
    // A HelloRetryRequest alone establishes nothing.
    let (reader, out) = feed_all(&stream[..stream.len() - 60]);
    assert!(out.is_empty());
    assert!(!reader.hello_seen());
}

#[test]
fn ssl3_and_draft_server_hellos() {
    // SSL 3.0: no extensions at all.
    let mut body = u16be(0x0300).to_vec();
    body.extend_from_slice(&[1; 32]);
    body.push(0);
    body.extend_from_slice(&u16be(0x0005));
    body.push(0);
    let (_, out) = feed_all(&record(22, 0x0300, &handshake(2, &body)));
    assert!(matches!(
        out.as_slice(),
        [TlsEvent::ServerHello(h)] if h.legacy_version == 0x0300 && h.cipher == Some(5)
    ));
    // TLS 1.3 draft 18: version, random, cipher, extensions.
    let mut body = u16be(0x7f12).to_vec();
    body.extend_from_slice(&[1; 32]);
    body.extend_from_slice(&u16be(0x1301));
    body.extend_from_slice(&with_len16(&ext_server_key_share(0x1d, &[1; 32])));
    let (_, out) = feed_all(&record(22, 0x0301, &handshake(2, &body)));
    assert!(matches!(
        out.as_slice(),
        [TlsEvent::ServerHello(h)] if h.legacy_version == 0x7f12 && h.cipher == Some(0x1301)
    ));
    // A legacy version tls-parser refuses is still recorded.
    let body = server_hello_body(0x0304, [1; 32], 0x1301, &[]);
    assert!(tls_parser::parse_tls_handshake_server_hello(&body).is_err());
    let (_, out) = feed_all(&record(22, 0x0303, &handshake(2, &body)));
    assert!(matches!(out.as_slice(), [TlsEvent::ServerHello(h)] if h.legacy_version == 0x0304));
}

#[test]
fn sni_edge_cases() {
    let sni_of = |exts: &[Vec<u8>]| {
        let hs = handshake(1, &client_hello_body(0x0303, &[0x002f], exts));
        match feed_all(&record(22, 0x0301, &hs)).1.as_slice() {
            [TlsEvent::ClientHello(h)] => h.sni.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(sni_of(&[]), None);
    assert_eq!(sni_of(&[ext_sni(b"m\xffx")]).as_deref(), Some("m\u{fffd}x"));
    let long = vec![b'a'; 1000];
    assert_eq!(sni_of(&[ext_sni(&long)]).unwrap().len(), MAX_SNI_BYTES);
    // A non-host_name entry first; the host_name after it counts.
    let mut list = vec![7u8];
    list.extend_from_slice(&with_len16(b"zz"));
    list.push(0);
    list.extend_from_slice(&with_len16(b"host.example"));
    assert_eq!(
        sni_of(&[ext(0, &with_len16(&list))]).as_deref(),
        Some("host.example")
    );
    // An extension tls-parser finds malformed does not hide the SNI.
    assert_eq!(
        sni_of(&[ext(22, &[1]), ext_sni(b"after.example")]).as_deref(),
        Some("after.example")
    );
    // A truncated extension ends the scan without losing the hello.
    let mut hs = client_hello_body(0x0303, &[0x002f], &[]);
    hs.extend_from_slice(&with_len16(&[0x00, 0x00, 0x00, 0x40, 0x00]));
    let (_, out) = feed_all(&record(22, 0x0301, &handshake(1, &hs)));
    assert!(matches!(out.as_slice(), [TlsEvent::ClientHello(h)] if h.sni.is_none()));
}

#[test]
fn supported_versions_choice() {
    assert_eq!(
        highest_offered_version(&with_len8(&[0x0a, 0x0a, 0x03, 0x03])),
        Some(0x0303)
    );
    assert_eq!(
        highest_offered_version(&with_len8(&[0x7f, 0x1c, 0x03, 0x04, 0x03, 0x03])),
        Some(0x0304)
    );
    assert_eq!(
        highest_offered_version(&with_len8(&[0x7f, 0x17])),
        Some(0x7f17)
    );
    assert_eq!(highest_offered_version(&with_len8(&[0xfa, 0xfa])), None);
    assert_eq!(highest_offered_version(&[]), None);
    assert_eq!(highest_offered_version(&[4, 3, 4]), None);
}

// ---- the stream after the hello --------------------------------------

#[test]
fn text_instead_of_tls_is_reported_once() {
    let (reader, out) = feed_all(b"EHLO x\r\n");
    assert_eq!(out, vec![TlsEvent::NotTls]);
    assert_eq!(reader.not_tls_offset(), Some(0));
    assert_eq!(reader.state(), ReaderState::NotTls);
    assert_eq!(reader.hello_state(), HelloState::Abandoned);

    let mut stream = record(22, 0x0301, &tls12_client_hello(b"a.example"));
    stream.extend(record(23, 0x0303, &[0x55; 100]));
    let tls_len = stream.len() as u64;
    stream.extend_from_slice(b"220 ready\r\nRSET\r\n");
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(7) {
        reader.feed(chunk, &mut out);
    }
    reader.feed(b"more text\r\n", &mut out);
    assert!(matches!(
        out.as_slice(),
        [TlsEvent::ClientHello(_), TlsEvent::NotTls]
    ));
    assert_eq!(reader.not_tls_offset(), Some(tls_len));
    assert_eq!(reader.ignored_bytes(), 17 + 11);
    assert_eq!(reader.offset(), tls_len + 17 + 11);
}

#[test]
fn gap_desynchronises() {
    let stream = record(22, 0x0301, &tls12_client_hello(b"gap.example"));
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    reader.feed(&stream[..40], &mut out);
    reader.gap(20);
    reader.feed(&stream[60..], &mut out);
    reader.gap(0);
    assert!(out.is_empty());
    assert_eq!(reader.state(), ReaderState::Desynchronized);
    assert_eq!(reader.hello_state(), HelloState::Abandoned);
    assert_eq!(reader.gap_bytes(), 20);
    assert_eq!(reader.ignored_bytes(), (stream.len() - 60) as u64);
    assert_eq!(reader.offset(), stream.len() as u64);

    // After the hello: the hello stays seen, the reader stops reading.
    let (mut reader, mut out) = feed_all(&stream);
    reader.gap(1000);
    reader.feed(b"garbage that would be NotTls", &mut out);
    assert_eq!(out.len(), 1);
    assert!(reader.hello_seen());
    assert_eq!(reader.state(), ReaderState::Desynchronized);
}

#[test]
fn oversized_hello_is_given_up_but_records_are_skipped() {
    // A "ClientHello" announcing 70000 bytes, spread over 5 records.
    let mut hs = vec![1, 0x01, 0x11, 0x70];
    hs.extend(vec![0; 70000]);
    let mut stream = records(22, 0x0303, &hs, MAX_RECORD_LEN);
    stream.extend(record(23, 0x0303, &[1; 10]));
    stream.extend_from_slice(b"EHLO x\r\n");
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(1000) {
        reader.feed(chunk, &mut out);
        assert!(reader.hs.capacity() <= MAX_HELLO_BYTES);
    }
    assert_eq!(out, vec![TlsEvent::NotTls]);
    assert_eq!(reader.hello_state(), HelloState::Abandoned);
    assert_eq!(reader.records(), 5);

    // The largest message kept is MAX_HELLO_BYTES, header included.
    let padded = |pad: usize| {
        handshake(
            1,
            &client_hello_body(
                0x0303,
                &[0x002f],
                &[ext_sni(b"big.example"), ext(21, &vec![0; pad])],
            ),
        )
    };
    let pad = MAX_HELLO_BYTES - padded(0).len();
    let hs = padded(pad);
    assert_eq!(hs.len(), MAX_HELLO_BYTES);
    let (reader, out) = feed_all(&records(22, 0x0301, &hs, 16384));
    assert!(matches!(
        out.as_slice(),
        [TlsEvent::ClientHello(h)] if h.sni.as_deref() == Some("big.example")
    ));
    assert_eq!(reader.hs.capacity(), 0);
    // One byte more is given up on, as soon as its header is read.
    let hs = padded(pad + 1);
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    reader.feed(&record(22, 0x0301, &hs[..100]), &mut out);
    assert_eq!(reader.hello_state(), HelloState::Abandoned);
    assert!(reader.hs.capacity() < 100);
    reader.feed(&records(22, 0x0301, &hs[100..], 16384), &mut out);
    assert!(out.is_empty());
    assert_eq!(reader.state(), ReaderState::Reading);
}

#[test]
fn first_handshake_message_must_be_a_hello() {
    let (reader, out) = feed_all(&record(22, 0x0303, &handshake(11, &[0; 50])));
    assert!(out.is_empty());
    assert_eq!(reader.hello_state(), HelloState::Abandoned);
    // Encrypted data before any hello.
    let mut stream = record(23, 0x0303, &[1; 50]);
    stream.extend(record(22, 0x0301, &tls12_client_hello(b"late.example")));
    let (reader, out) = feed_all(&stream);
    assert!(out.is_empty());
    assert_eq!(reader.hello_state(), HelloState::Abandoned);
    assert_eq!(reader.state(), ReaderState::Reading);
    // Alerts do not interrupt the search.
    let mut stream = record(21, 0x0303, &[1, 0]);
    stream.extend(record(22, 0x0303, &tls12_server_hello(0x009c)));
    let (_, out) = feed_all(&stream);
    assert!(matches!(out.as_slice(), [TlsEvent::ServerHello(h)] if h.cipher == Some(0x009c)));
    // An empty record is fine.
    let mut stream = record(22, 0x0303, &[]);
    stream.extend(record(22, 0x0303, &tls12_server_hello(0x009d)));
    assert_eq!(feed_all(&stream).1.len(), 1);
}

#[test]
fn cipher_names() {
    assert_eq!(cipher_name(0x1301), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(
        cipher_name(0xc030),
        Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    );
    assert_eq!(cipher_name(0x0005), Some("TLS_RSA_WITH_RC4_128_SHA"));
    assert_eq!(cipher_name(0x0a0a), None);
}

// ---- hostile input ---------------------------------------------------

fn valid_streams() -> Vec<Vec<u8>> {
    vec![
        record(22, 0x0301, &tls12_client_hello(b"mail.example.org")),
        records(22, 0x0301, &tls13_client_hello(), 50),
        record(22, 0x0303, &tls13_server_hello([1; 32], 0x1301)),
        record(22, 0x0303, &tls12_server_hello(0xc02f)),
        sslv2_client_hello(),
    ]
}

#[test]
fn every_prefix_of_a_valid_stream() {
    for stream in valid_streams() {
        for n in 0..stream.len() {
            let (reader, out) = feed_all(&stream[..n]);
            assert!(out.is_empty(), "prefix {n}: {out:?}");
            assert_eq!(reader.state(), ReaderState::Reading);
            assert!(!reader.hello_seen());
        }
        // The prefix in pieces, then a gap for the rest.
        for n in 0..stream.len() {
            let mut reader = TlsReader::new();
            let mut out = Vec::new();
            for piece in stream[..n].chunks(3) {
                reader.feed(piece, &mut out);
            }
            reader.gap((stream.len() - n) as u64);
            assert!(out.is_empty());
        }
        assert_eq!(feed_all(&stream).1.len(), 1);
    }
}

#[test]
fn truncated_bodies_inside_complete_records() {
    // The record and handshake lengths agree, the hello body is cut.
    for msg in [
        tls12_client_hello(b"mail.example.org"),
        tls13_client_hello(),
        tls12_server_hello(0xc02f),
        tls13_server_hello([1; 32], 0x1301),
    ] {
        for n in 0..msg.len() - 4 {
            let cut = handshake(msg[0], &msg[4..4 + n]);
            let (reader, out) = feed_all(&record(22, 0x0303, &cut));
            assert!(out.len() <= 1);
            assert_ne!(reader.hello_state(), HelloState::Waiting);
        }
    }
}

#[test]
fn mutated_hellos_do_not_panic_and_agree_with_tls_parser() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let bodies: Vec<Vec<u8>> = vec![
        tls12_client_hello(b"mail.example.org")[4..].to_vec(),
        tls13_client_hello()[4..].to_vec(),
        tls12_server_hello(0xc02f)[4..].to_vec(),
        tls13_server_hello([1; 32], 0x1301)[4..].to_vec(),
    ];
    for _ in 0..4000 {
        let which = rng.below(bodies.len());
        let mut body = bodies[which].clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(3) {
                0 => {
                    let i = rng.below(body.len());
                    body[i] = rng.next() as u8;
                }
                1 => body.truncate(rng.below(body.len() + 1)),
                _ => {
                    let i = rng.below(body.len() + 1);
                    let n = rng.below(8);
                    let extra = rng.bytes(n);
                    body.splice(i..i, extra);
                }
            }
            if body.is_empty() {
                break;
            }
        }
        let client = which < 2;
        let msg = handshake(if client { 1 } else { 2 }, &body);
        // Through the reader, in random pieces.
        let stream = records(22, 0x0303, &msg, 1 + rng.below(300));
        let mut reader = TlsReader::new();
        let mut out = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(64));
            reader.feed(&rest[..n], &mut out);
            rest = &rest[n..];
        }
        assert!(out.len() <= 1);
        // Against tls-parser, where it has an opinion.
        if client {
            let ours = parse_client_hello(&body);
            let theirs = tls_parser::parse_tls_handshake_client_hello(&body);
            assert_eq!(ours.is_some(), theirs.is_ok(), "{body:02x?}");
            if let (Some(ours), Ok((_, theirs))) = (ours, theirs) {
                assert_eq!(ours.legacy_version, theirs.version.0);
                let ext = theirs.ext.unwrap_or(&[]);
                if let Ok((_, exts)) = tls_parser::parse_tls_client_hello_extensions(ext) {
                    for e in exts {
                        if let tls_parser::TlsExtension::SNI(names) = e {
                            if let Some((_, name)) = names.iter().find(|(t, _)| t.0 == 0) {
                                let name = &name[..name.len().min(MAX_SNI_BYTES)];
                                assert_eq!(
                                    ours.sni.as_deref(),
                                    Some(&*String::from_utf8_lossy(name))
                                );
                            }
                            break;
                        }
                    }
                }
            }
        } else if let Ok((_, theirs)) = tls_parser::parse_tls_handshake_server_hello(&body) {
            let ours = parse_server_hello(&body).unwrap();
            assert_eq!(ours.hello.legacy_version, theirs.version.0);
            assert_eq!(ours.hello.cipher, Some(theirs.cipher.0));
        }
    }
}

#[test]
fn pseudo_random_garbage_does_not_panic() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    for round in 0..3000 {
        let n = rng.below(600);
        let mut stream = rng.bytes(n);
        // Half the time, make it start like a handshake record so the
        // reader goes deeper than the sniffer.
        if round % 2 == 0 && stream.len() > 9 {
            stream[0] = 22;
            stream[1] = 3;
            stream[2] = (rng.next() % 5) as u8;
            stream[3] = 0;
            stream[5] = if round % 4 == 0 { 1 } else { 2 };
            stream[6] = 0;
        }
        if round % 7 == 0 && stream.len() > 5 {
            stream[0] |= 0x80;
            stream[2] = 1;
            stream[3] = 3;
        }
        let _ = sniff(&stream);
        let mut reader = TlsReader::new();
        let mut out = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len());
            reader.feed(&rest[..n], &mut out);
            if rng.below(50) == 0 {
                reader.gap(rng.next() >> 1);
            }
            rest = &rest[n..];
        }
        assert!(out.len() <= 2);
        assert!(reader.hs.capacity() <= MAX_HELLO_BYTES);
        for n in 0..stream.len().min(64) {
            let _ = parse_client_hello(&stream[n..]);
            let _ = parse_server_hello(&stream[n..]);
            let _ = parse_sslv2_client_hello(&stream[n..]);
            let _ = parse_sni(&stream[n..]);
        }
    }
}

#[test]
fn huge_gap_and_offsets_saturate() {
    let mut reader = TlsReader::new();
    reader.gap(u64::MAX);
    reader.gap(u64::MAX);
    reader.feed(b"x", &mut Vec::new());
    assert_eq!(reader.offset(), u64::MAX);
    assert_eq!(reader.gap_bytes(), u64::MAX);
}

// ---- the server's certificate (TLS 1.2 and older) ---------------------

/// A leaf certificate and the CA that signed it, made once with OpenSSL
/// (tests/data/certificate/README.md says how and what OpenSSL reads in
/// them).
const LEAF_DER: &[u8] = include_bytes!("../../tests/data/certificate/leaf.der");
const CA_DER: &[u8] = include_bytes!("../../tests/data/certificate/ca.der");

/// `openssl x509 -fingerprint -sha256` of the leaf.
const LEAF_SHA256: &str = "1a3aec1b81e1f1bd05ef91a93a0d46218b87294b1f158173da127ac09cbb9fbd";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn with_len24(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(data);
    v
}

/// A Certificate handshake message carrying `chain`, leaf first.
fn certificate_message(chain: &[&[u8]]) -> Vec<u8> {
    let list: Vec<u8> = chain.iter().flat_map(|c| with_len24(c)).collect();
    handshake(11, &with_len24(&list))
}

/// A TLS 1.2 server flight: ServerHello, Certificate, ServerKeyExchange,
/// ServerHelloDone, in records of at most `max` bytes.
fn tls12_server_flight(certificate: &[u8], max: usize) -> Vec<u8> {
    let flight = [
        tls12_server_hello(0xc02b),
        certificate.to_vec(),
        handshake(12, &[0x03, 0x00, 0x17, 0x41, 4]),
        handshake(14, &[]),
    ]
    .concat();
    records(22, 0x0303, &flight, max)
}

fn expected_leaf() -> ServerCertificate {
    let mut sha256 = [0; 32];
    for (i, b) in sha256.iter_mut().enumerate() {
        *b = u8::from_str_radix(&LEAF_SHA256[2 * i..2 * i + 2], 16).unwrap();
    }
    ServerCertificate {
        // As `openssl x509 -nameopt RFC2253` prints them.
        subject: Some(r"CN=mail.example.net,O=Example Mail\, Inc.,ST=Berlin,C=DE".into()),
        issuer: Some("CN=Stripwatch Test Root,O=Stripwatch Test CA,C=DE".into()),
        // OpenSSL: notAfter=Dec  2 01:14:22 2036 GMT
        not_after: Some(crate::time::Timestamp::new(2_111_793_262, 0)),
        sha256,
    }
}

fn feed_chunks(stream: &[u8], size: usize) -> (TlsReader, Vec<TlsEvent>) {
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(size) {
        reader.feed(chunk, &mut out);
    }
    (reader, out)
}

#[test]
fn leaf_certificate_of_a_tls12_flight_however_it_is_cut() {
    let expected = expected_leaf();
    assert_eq!(
        expected.not_after.unwrap().to_string(),
        "2036-12-02T01:14:22.000000Z"
    );
    let message = certificate_message(&[LEAF_DER, CA_DER]);
    // One record, and records of 200 bytes: the message spans six.
    for max in [16384, 200] {
        let stream = tls12_server_flight(&message, max);
        for (how, (reader, out)) in [
            ("whole", feed_all(&stream)),
            ("byte by byte", feed_bytewise(&stream)),
            ("7-byte chunks", feed_chunks(&stream, 7)),
        ] {
            let [
                TlsEvent::ServerHello(hello),
                TlsEvent::ServerCertificate(cert),
            ] = out.as_slice()
            else {
                panic!("{how}, records of {max}: {out:?}");
            };
            assert_eq!(hello.cipher, Some(0xc02b));
            assert_eq!(cert, &expected, "{how}, records of {max}");
            assert_eq!(hex(&cert.sha256), LEAF_SHA256);
            assert_eq!(reader.certificate_state(), CertificateState::Seen);
            assert!(!reader.collecting());
            assert_eq!(reader.buffered(), 0, "nothing kept after it");
            assert_eq!(reader.state(), ReaderState::Reading);
        }
    }
}

#[test]
fn leaf_alone_and_ssl3_and_tls10_flights() {
    for version in [0x0300, 0x0301, 0x0302] {
        let hello = handshake(2, &server_hello_body(version, [7; 32], 0x002f, &[]));
        let stream = records(
            22,
            version,
            &[hello, certificate_message(&[LEAF_DER])].concat(),
            16384,
        );
        let (_, out) = feed_bytewise(&stream);
        assert_eq!(
            out.get(1),
            Some(&TlsEvent::ServerCertificate(expected_leaf())),
            "version {version:#06x}"
        );
    }
}

#[test]
fn tls13_server_hello_gives_no_certificate() {
    // The Certificate of TLS 1.3 is encrypted; even one in a cleartext
    // handshake record after the ServerHello is not looked at.
    let flight = [
        tls13_server_hello([3; 32], 0x1301),
        certificate_message(&[LEAF_DER]),
    ]
    .concat();
    let stream = records(22, 0x0303, &flight, 16384);
    let (reader, out) = feed_all(&stream);
    assert!(matches!(out.as_slice(), [TlsEvent::ServerHello(h)] if h.version() == 0x0304));
    assert_eq!(reader.certificate_state(), CertificateState::NotExpected);
    assert!(!reader.collecting());
    // Neither after a ClientHello (a client never sends its own here).
    let (reader, _) = feed_all(&record(22, 0x0301, &tls12_client_hello(b"a")));
    assert_eq!(reader.certificate_state(), CertificateState::NotExpected);
}

#[test]
fn oversized_chain_is_abandoned_without_growth() {
    // A Certificate message one byte over the limit: given up on at its
    // header, never buffered, and the records after it still read.
    let body_len = MAX_CERTIFICATE_BYTES - HANDSHAKE_HEADER_LEN + 1;
    let mut message = vec![11];
    message.extend_from_slice(&(body_len as u32).to_be_bytes()[1..]);
    message.extend(std::iter::repeat_n(0x30, body_len));
    let mut stream = records(22, 0x0303, &tls12_server_hello(0xc02f), 16384);
    stream.extend(records(22, 0x0303, &message, 16384));
    stream.extend(record(20, 0x0303, &[1]));
    let mut reader = TlsReader::new();
    let mut out = Vec::new();
    let mut most = 0;
    for chunk in stream.chunks(7) {
        reader.feed(chunk, &mut out);
        most = most.max(reader.buffered());
    }
    assert!(most <= 200, "the ServerHello at most, then nothing: {most}");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(reader.certificate_state(), CertificateState::Abandoned);
    assert_eq!(reader.state(), ReaderState::Reading);
    assert_eq!(reader.records(), 1 + 5 + 1);

    // A message of exactly the limit is read (the leaf, then padding
    // certificates up to the size).
    let fixed = certificate_message(&[LEAF_DER]).len() + 3;
    let filler = vec![0x30; MAX_CERTIFICATE_BYTES - fixed];
    let message = certificate_message(&[LEAF_DER, &filler]);
    assert_eq!(message.len(), MAX_CERTIFICATE_BYTES);
    let (_, out) = feed_all(&tls12_server_flight(&message, 16384));
    assert_eq!(
        out.get(1),
        Some(&TlsEvent::ServerCertificate(expected_leaf()))
    );
}

#[test]
fn truncated_or_broken_certificate_gives_nothing() {
    let message = certificate_message(&[LEAF_DER, CA_DER]);
    let stream = tls12_server_flight(&message, 16384);
    // The capture ends inside the Certificate: still waiting, no event.
    let cut = stream.len() - 300;
    let (reader, out) = feed_bytewise(&stream[..cut]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(reader.certificate_state(), CertificateState::Waiting);
    // A gap there gives it up.
    let mut reader = reader;
    reader.gap(10);
    assert_eq!(reader.certificate_state(), CertificateState::Abandoned);
    assert_eq!(reader.buffered(), 0);

    // Framing that does not add up: the list longer than the message, the
    // leaf longer than the list, a list shorter than the message, an
    // empty list, an empty leaf.
    let list = with_len24(LEAF_DER);
    let mut long_list = with_len24(&list);
    long_list[2] += 1;
    let mut long_leaf = list.clone();
    long_leaf[2] += 1;
    let broken = [
        long_list,
        with_len24(&long_leaf),
        [with_len24(&list), vec![0]].concat(),
        with_len24(&[]),
        with_len24(&with_len24(&[])),
    ];
    for body in broken {
        let (reader, out) = feed_all(&tls12_server_flight(&handshake(11, &body), 16384));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(reader.certificate_state(), CertificateState::Abandoned);
    }
}

#[test]
fn certificate_must_come_next_in_clear() {
    // An anonymous suite: ServerKeyExchange first. A resumed session: the
    // ChangeCipherSpec first. Application data. All give it up.
    let hello = records(22, 0x0303, &tls12_server_hello(0xc02f), 16384);
    let after = [
        records(22, 0x0303, &handshake(12, &[1, 2, 3]), 16384),
        record(20, 0x0303, &[1]),
        record(23, 0x0303, &[9; 40]),
    ];
    for tail in after {
        let stream = [
            hello.clone(),
            tail,
            record(22, 0x0303, &certificate_message(&[LEAF_DER])),
        ]
        .concat();
        let (reader, out) = feed_all(&stream);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(reader.certificate_state(), CertificateState::Abandoned);
    }
    // A HelloRequest and an alert in between change nothing.
    let stream = [
        hello,
        record(22, 0x0303, &handshake(0, &[])),
        record(21, 0x0303, &[1, 0]),
        record(22, 0x0303, &certificate_message(&[LEAF_DER])),
    ]
    .concat();
    let (_, out) = feed_bytewise(&stream);
    assert_eq!(
        out.get(1),
        Some(&TlsEvent::ServerCertificate(expected_leaf()))
    );
}

#[test]
fn unparsable_leaf_is_reported_by_its_fingerprint_alone() {
    // A leaf x509-parser rejects (the real one cut short, then garbage):
    // its fingerprint, no names.
    for leaf in [&LEAF_DER[..100], b"not a certificate".as_slice()] {
        let (_, out) = feed_all(&tls12_server_flight(&certificate_message(&[leaf]), 16384));
        let Some(TlsEvent::ServerCertificate(cert)) = out.get(1) else {
            panic!("{out:?}");
        };
        use sha2::Digest as _;
        assert_eq!(cert.sha256, <[u8; 32]>::from(sha2::Sha256::digest(leaf)));
        assert_eq!(
            (&cert.subject, &cert.issuer, cert.not_after),
            (&None, &None, None)
        );
    }
}

#[test]
fn rfc4514_value_escapes() {
    let escaped = |v: &str| {
        let mut out = String::new();
        escape_rfc4514_value(v, &mut out);
        out
    };
    // A value cannot pass for another attribute or RDN.
    assert_eq!(escaped("x, CN=bank.example"), r"x\, CN=bank.example");
    assert_eq!(escaped("a+b;c<d>e\"f\\"), r#"a\+b\;c\<d\>e\"f\\"#);
    assert_eq!(escaped("#1 "), r"\#1\ ");
    assert_eq!(escaped(" x#"), r"\ x#");
    assert_eq!(escaped("a\0b"), r"a\00b");
    assert_eq!(escaped("mail.example.net"), "mail.example.net");
}

// ---- real captures (read in place when present) ----------------------

type Ports = (u16, u16);
type Segment = (u32, Vec<u8>);

/// The byte stream of each direction of each TCP connection in a
/// capture (keyed by source and destination port), by a naive in-order
/// concatenation: enough for these clean captures.
fn tcp_streams(path: &str) -> Option<BTreeMap<Ports, Vec<u8>>> {
    let path = std::path::Path::new(path);
    if !path.exists() {
        return None;
    }
    let mut file = crate::capture::CaptureFile::open(path).ok()?;
    let mut segments: BTreeMap<Ports, Vec<Segment>> = BTreeMap::new();
    file.for_each_frame(|frame| {
        if let Ok(seg) = crate::decode::decode(frame.link, frame.data) {
            if !seg.payload.is_empty() {
                segments
                    .entry((seg.src_port, seg.dst_port))
                    .or_default()
                    .push((seg.seq, seg.payload.to_vec()));
            }
        }
        true
    })
    .ok()?;
    let mut streams = BTreeMap::new();
    for (ports, mut segs) in segments {
        let base = segs.iter().map(|s| s.0).min().unwrap();
        segs.sort_by_key(|s| s.0.wrapping_sub(base));
        let mut bytes = Vec::new();
        for (seq, payload) in segs {
            let at = seq.wrapping_sub(base) as usize;
            if at + payload.len() > bytes.len() && at <= bytes.len() {
                bytes.extend_from_slice(&payload[bytes.len() - at..]);
            }
        }
        streams.insert(ports, bytes);
    }
    Some(streams)
}

/// The hello events of a stream, starting at the first line boundary
/// where TLS begins (0 for implicit TLS).
fn hellos(stream: &[u8]) -> Vec<TlsEvent> {
    let start = std::iter::once(0)
        .chain(
            stream
                .windows(2)
                .enumerate()
                .filter(|(_, w)| *w == b"\r\n")
                .map(|(i, _)| i + 2),
        )
        .find(|&i| sniff(&stream[i..]) == Sniff::Tls);
    let Some(start) = start else {
        return Vec::new();
    };
    let (_, out) = feed_all(&stream[start..]);
    out
}

/// Public captures shared with the project (read in place, never
/// copied); the test skips the files that are not there.
const CORPUS: &str = "/work/shared/corpus/public";

struct Case {
    file: &'static str,
    client: u16,
    server: u16,
    sni: Option<&'static str>,
    /// ClientHello version in effect (supported_versions if present).
    client_version: u16,
    /// ServerHello version in effect.
    server_version: u16,
    cipher: u16,
    /// The leaf certificate's SHA-256 (`openssl x509 -fingerprint
    /// -sha256` of what `tshark -e tls.handshake.certificate` shows), for
    /// TLS 1.2 and older when the capture holds the Certificate.
    certificate: Option<&'static str>,
}

#[test]
fn real_captures() {
    let case = |file, (client, server), sni, (client_version, server_version), cipher| Case {
        file,
        client,
        server,
        sni,
        client_version,
        server_version,
        cipher,
        certificate: None,
    };
    let with = |certificate, c: Case| Case {
        certificate: Some(certificate),
        ..c
    };
    let imaps = "ndpi/pcap/imaps.pcap";
    let smtp_starttls = "ndpi/pcap/smtp-starttls.pcap";
    let cases = [
        // Implicit TLS.
        with(
            "cb9ac49961c4ac0f1c1a610be90d69f6e3eb167344660846c7b320276e22b293",
            case(
                imaps,
                (50506, 993),
                Some("mail.ntop.org"),
                (0x0303, 0x0303),
                0xc030,
            ),
        ),
        case(
            imaps,
            (51529, 993),
            Some("imap.asia.secureserver.net"),
            (0x0304, 0x0303),
            0xc030,
        ),
        case(
            "ndpi/pcap/pops.pcapng",
            (55077, 995),
            Some("pop.secureserver.net"),
            (0x0303, 0x0303),
            0xc028,
        ),
        // STARTTLS / STLS.
        with(
            "4f0a1ac1c6e873c8805fe2fc56c7aac77025f1dcbbbf907e768f1ec88c3485db",
            case(smtp_starttls, (57406, 25), None, (0x0301, 0x0301), 0x0005),
        ),
        with(
            "f1fe9ce4b1564275b5ff0de318cf4c570ce2da99df5a8412564ac29c6cf21381",
            case(
                smtp_starttls,
                (7562, 25),
                Some("dovecot.weberlab.de"),
                (0x0303, 0x0303),
                0xc02f,
            ),
        ),
        with(
            "cc002cec2face552f7e74e0857da764f8a171ddd99970a27c55c75c7d0fa38f7",
            case(
                "ndpi/pcap/pop3_stls.pcap",
                (50583, 110),
                Some("pop.lavabit.com"),
                (0x0301, 0x0301),
                0x0005,
            ),
        ),
        case(
            "suricata-verify/smtp-startssl/input.pcap",
            (34634, 25),
            None,
            (0x0304, 0x0304),
            0x1302,
        ),
        with(
            "5f262710f31214ecdb6ffbfe4b45a8d1c7042e7c87c3eae9bc317035dafeb7ac",
            case(
                "zeek/tls/pop3-starttls.pcap",
                (54775, 110),
                None,
                (0x0303, 0x0303),
                0x009f,
            ),
        ),
    ];
    for c in cases {
        let Some(streams) = tcp_streams(&format!("{CORPUS}/{}", c.file)) else {
            eprintln!("skipping {}: not present", c.file);
            continue;
        };
        let what = format!("{} port {}", c.file, c.client);
        let up = hellos(&streams[&(c.client, c.server)]);
        let down = hellos(&streams[&(c.server, c.client)]);
        // The whole stream reads as TLS records: the hello and nothing else.
        let [TlsEvent::ClientHello(ch)] = up.as_slice() else {
            panic!("{what}: {up:?}");
        };
        assert_eq!(ch.sni.as_deref(), c.sni, "{what}");
        assert_eq!(ch.version(), c.client_version, "{what}");
        let (TlsEvent::ServerHello(sh), certificate) = (&down[0], &down[1..]) else {
            panic!("{what}: {down:?}");
        };
        assert_eq!(sh.version(), c.server_version, "{what}");
        assert_eq!(sh.cipher, Some(c.cipher), "{what}");
        match (certificate, c.certificate) {
            ([], None) => {}
            ([TlsEvent::ServerCertificate(cert)], Some(sha256)) => {
                assert_eq!(hex(&cert.sha256), sha256, "{what}");
                assert!(cert.subject.is_some() && cert.issuer.is_some(), "{what}");
            }
            _ => panic!("{what}: {down:?}"),
        }
    }
}
