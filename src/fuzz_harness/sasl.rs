//! SASL exchanges with random mechanisms, initial responses, challenges and
//! responses (base64 or not), then a verdict; the credential's fields must
//! stay within their bounds.
//!
//! Input: a mechanism byte (one of the known names in random case, or an
//! arbitrary name), an initial-response byte (none, raw text, base64 of
//! bytes, `=`), an outcome byte, then messages: a byte `op` (`op % 4`: raw
//! challenge, base64 challenge, raw response, base64 response; bit 7: a
//! two-byte length) and the message bytes.

use super::input::Input;
use super::output::check_text;
use crate::analysis::hashes::hash_line;
use crate::flow::{PacketRef, Side};
use crate::proto::sasl::{
    MAX_BASE64, MAX_EVIDENCE, MAX_FIELD, MAX_MECHANISM, MAX_SECRET, SaslExchange,
    canonical_mechanism, decode_message,
};
use crate::proto::{Evidence, Outcome, SecretKind};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const MECHANISMS: [&str; 16] = [
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "DIGEST-MD5",
    "XOAUTH2",
    "OAUTHBEARER",
    "NTLM",
    "GSS-SPNEGO",
    "GSSAPI",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "EXTERNAL",
    "ANONYMOUS",
    "GS2-KRB5",
    "X-UNKNOWN",
    "plain",
];

fn evidence(side: Side, n: u64, bytes: &[u8]) -> Evidence {
    let packet = PacketRef {
        input: 0,
        frame: n,
        ts: Timestamp::new(1_700_000_000, 0),
    };
    Evidence::new(side, packet, bytes)
}

/// Message text: raw bytes, or the base64 of the bytes.
fn text(input: &mut Input<'_>, base64: bool, long: bool) -> Vec<u8> {
    let bytes = if long {
        input.chunk16()
    } else {
        input.chunk8()
    };
    if base64 {
        STANDARD.encode(bytes).into_bytes()
    } else {
        bytes.to_vec()
    }
}

/// The SASL fuzz target.
pub(crate) fn sasl(data: &[u8]) {
    let mut input = Input::new(data);
    let m = input.u8();
    let mechanism: Vec<u8> = if m & 0x10 == 0 {
        MECHANISMS[usize::from(m) % MECHANISMS.len()]
            .as_bytes()
            .to_vec()
    } else {
        input.chunk8().to_vec()
    };
    let name = canonical_mechanism(&mechanism);
    check_text("mechanism", name.as_bytes());
    assert!(name.len() <= 4 * MAX_MECHANISM);
    let ir_mode = input.u8();
    let ir = match ir_mode % 4 {
        0 => None,
        1 => Some(text(&mut input, false, ir_mode & 0x80 != 0)),
        2 => Some(text(&mut input, true, ir_mode & 0x80 != 0)),
        _ => Some(b"=".to_vec()),
    };
    let outcome = match input.u8() % 3 {
        0 => Outcome::Success,
        1 => Outcome::Failure,
        _ => Outcome::Unknown,
    };
    let mut n = 1;
    let mut exchange = SaslExchange::new(
        &mechanism,
        ir.as_deref(),
        evidence(Side::Client, n, b"AUTH"),
    );
    while !input.is_empty() {
        n += 1;
        let op = input.u8();
        let long = op & 0x80 != 0;
        let message = text(&mut input, op & 1 == 1, long);
        if let Some(decoded) = decode_message(&message) {
            assert!(message.trim_ascii().len() <= MAX_BASE64);
            assert!(decoded.len() <= MAX_BASE64);
        }
        if op % 4 < 2 {
            exchange.on_challenge(&message, evidence(Side::Server, n, &message));
        } else {
            exchange.on_response(&message, evidence(Side::Client, n, &message));
        }
        let _ = exchange.awaiting_response();
    }
    assert_eq!(exchange.mechanism(), name);
    let verdict = evidence(Side::Server, n + 1, b"235 ok");
    let Some(cred) = exchange.finish(outcome, Some(verdict)) else {
        return;
    };
    let username = cred.username.as_deref().unwrap_or_default();
    assert!(
        !username.is_empty() || (cred.secret_kind != SecretKind::None && !cred.secret.is_empty()),
        "a credential has a username or a secret"
    );
    assert!(
        cred.username.as_ref().is_none_or(|u| !u.is_empty()),
        "no empty username"
    );
    assert!(username.len() <= MAX_FIELD, "username cut at MAX_FIELD");
    assert!(cred.secret.len() <= MAX_SECRET, "secret cut at MAX_SECRET");
    if let Some(c) = &cred.challenge {
        assert!(c.len() <= MAX_FIELD, "challenge cut at MAX_FIELD");
    }
    assert!(cred.extra.len() <= 32, "extra fields bounded");
    for (key, value) in &cred.extra {
        let max = if key == "truncated" { 256 } else { MAX_FIELD };
        assert!(value.len() <= max, "extra {key} cut");
        check_text("extra name", key.as_bytes());
    }
    assert!(cred.evidence.len() <= MAX_EVIDENCE + 1, "evidence bounded");
    check_text("mechanism", cred.mechanism.as_bytes());
    if let Some(h) = hash_line(&cred) {
        let line = h.line.as_bytes();
        assert!(
            line.iter().all(|b| (0x20..0x7f).contains(b)),
            "hash line is printable ASCII: {:?}",
            h.line
        );
        if h.mechanism == "NTLM" {
            assert_eq!(
                h.line.matches(':').count(),
                5,
                "NetNTLM fields: {:?}",
                h.line
            );
        }
    }
}
