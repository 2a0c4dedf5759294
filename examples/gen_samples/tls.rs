//! Synthetic TLS 1.3 records for what follows a STARTTLS: a well-formed
//! ClientHello (with SNI), a ServerHello, change_cipher_spec and
//! application_data records whose "ciphertext" is deterministic noise.

use super::conversation::{Conversation, Dir};

/// Deterministic noise (splitmix64).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn u16be(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

fn u24be(v: usize) -> [u8; 3] {
    let b = (v as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&u16be(body.len()));
    out.extend_from_slice(body);
}

fn record(content_type: u8, legacy_version: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, legacy_version[0], legacy_version[1]];
    out.extend_from_slice(&u16be(body.len()));
    out.extend_from_slice(body);
    out
}

fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&u24be(body.len()));
    out.extend_from_slice(body);
    out
}

/// A TLS 1.3 ClientHello record for `server_name`.
pub fn client_hello(server_name: &str, noise: &mut Noise) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend(noise.bytes(32)); // random
    body.push(32);
    body.extend(noise.bytes(32)); // legacy session id
    let suites: [u16; 9] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
    ];
    body.extend_from_slice(&u16be(suites.len() * 2));
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression
    let mut ext = Vec::new();
    let name = server_name.as_bytes();
    let mut sni = Vec::new();
    sni.extend_from_slice(&u16be(name.len() + 3));
    sni.push(0); // host_name
    sni.extend_from_slice(&u16be(name.len()));
    sni.extend_from_slice(name);
    extension(&mut ext, 0, &sni);
    extension(&mut ext, 10, &[0, 4, 0x00, 0x1d, 0x00, 0x17]); // x25519, secp256r1
    extension(&mut ext, 13, &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]);
    extension(&mut ext, 43, &[4, 3, 4, 3, 3]); // TLS 1.3, 1.2
    extension(&mut ext, 45, &[1, 1]); // psk_dhe_ke
    let mut share = Vec::new();
    share.extend_from_slice(&u16be(36));
    share.extend_from_slice(&[0x00, 0x1d, 0, 32]);
    share.extend(noise.bytes(32));
    extension(&mut ext, 51, &share);
    body.extend_from_slice(&u16be(ext.len()));
    body.extend(ext);
    record(0x16, [3, 1], &handshake(1, &body))
}

/// ServerHello, change_cipher_spec, then the encrypted rest of the server's
/// flight (EncryptedExtensions, Certificate, CertificateVerify, Finished).
pub fn server_flight(noise: &mut Noise) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend(noise.bytes(32));
    body.push(32);
    body.extend(noise.bytes(32));
    body.extend_from_slice(&[0x13, 0x01, 0]); // TLS_AES_128_GCM_SHA256, null
    let mut ext = Vec::new();
    extension(&mut ext, 43, &[3, 4]);
    let mut share = vec![0x00, 0x1d, 0, 32];
    share.extend(noise.bytes(32));
    extension(&mut ext, 51, &share);
    body.extend_from_slice(&u16be(ext.len()));
    body.extend(ext);
    let mut out = record(0x16, [3, 3], &handshake(2, &body));
    out.extend(change_cipher_spec());
    out.extend(application_data(1123, noise));
    out.extend(application_data(286, noise));
    out.extend(application_data(74, noise));
    out
}

/// The client's change_cipher_spec and encrypted Finished.
pub fn client_finished(noise: &mut Noise) -> Vec<u8> {
    let mut out = change_cipher_spec();
    out.extend(application_data(74, noise));
    out
}

pub fn change_cipher_spec() -> Vec<u8> {
    record(0x14, [3, 3], &[1])
}

/// One application_data record of `len` bytes of ciphertext.
pub fn application_data(len: usize, noise: &mut Noise) -> Vec<u8> {
    record(0x17, [3, 3], &noise.bytes(len))
}

/// A TLS handshake after STARTTLS, then `exchanges` encrypted
/// request/response pairs (the mail protocol, now invisible).
pub fn session(c: &mut Conversation, server_name: &str, seed: u64, exchanges: usize) {
    let mut noise = Noise::new(seed);
    c.client_sends(client_hello(server_name, &mut noise));
    c.server_sends(server_flight(&mut noise));
    c.client_sends(client_finished(&mut noise));
    for i in 0..exchanges {
        c.sends(Dir::Client, &application_data(40 + 17 * i, &mut noise));
        c.sends(Dir::Server, &application_data(60 + 23 * i, &mut noise));
    }
}

/// A TLS 1.2 ServerHello (ECDHE-ECDSA-AES128-GCM-SHA256, no extensions),
/// the server's Certificate (`chain`, leaf first, real DER), a
/// ServerKeyExchange with a P-256 point of noise and ServerHelloDone, in
/// one record: the certificate is in clear (RFC 5246 7.4.2).
pub fn tls12_server_flight(chain: &[&[u8]], noise: &mut Noise) -> Vec<u8> {
    let mut hello = vec![3, 3];
    hello.extend(noise.bytes(32));
    hello.push(32);
    hello.extend(noise.bytes(32));
    hello.extend_from_slice(&[0xc0, 0x2b, 0]);
    let mut list = Vec::new();
    for der in chain {
        list.extend_from_slice(&u24be(der.len()));
        list.extend_from_slice(der);
    }
    let mut certificate = u24be(list.len()).to_vec();
    certificate.extend(list);
    // named_curve secp256r1, a 65-byte point, then an ECDSA signature.
    let mut key_exchange = vec![3, 0x00, 0x17, 65, 4];
    key_exchange.extend(noise.bytes(64));
    key_exchange.extend_from_slice(&[0x04, 0x03, 0, 71]);
    key_exchange.extend(noise.bytes(71));
    let flight = [
        handshake(2, &hello),
        handshake(11, &certificate),
        handshake(12, &key_exchange),
        handshake(14, &[]),
    ]
    .concat();
    record(0x16, [3, 3], &flight)
}

/// The TLS 1.2 client's ClientKeyExchange, change_cipher_spec and
/// encrypted Finished.
pub fn tls12_client_finish(noise: &mut Noise) -> Vec<u8> {
    let mut point = vec![65, 4];
    point.extend(noise.bytes(64));
    let mut out = record(0x16, [3, 3], &handshake(16, &point));
    out.extend(change_cipher_spec());
    out.extend(record(0x16, [3, 3], &noise.bytes(40)));
    out
}

/// A TLS 1.2 handshake after STARTTLS in which the server shows `chain`,
/// then `exchanges` encrypted request/response pairs.
pub fn tls12_session(
    c: &mut Conversation,
    server_name: &str,
    chain: &[&[u8]],
    seed: u64,
    exchanges: usize,
) {
    let mut noise = Noise::new(seed);
    c.client_sends(client_hello(server_name, &mut noise));
    c.server_sends(tls12_server_flight(chain, &mut noise));
    c.client_sends(tls12_client_finish(&mut noise));
    let mut server_finish = change_cipher_spec();
    server_finish.extend(record(0x16, [3, 3], &noise.bytes(40)));
    c.server_sends(server_finish);
    for i in 0..exchanges {
        c.sends(Dir::Client, &application_data(40 + 17 * i, &mut noise));
        c.sends(Dir::Server, &application_data(60 + 23 * i, &mut noise));
    }
}
