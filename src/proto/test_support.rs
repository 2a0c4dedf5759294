//! Test harness shared by the protocol state-machine tests.
//!
//! A dialog is a script: one entry per TCP segment, `(side, bytes)`. The
//! harness feeds it through a [`MailDialog`] (each entry one `Data` event,
//! packet frame = index + 1, stream offsets tracked per side), whole, in
//! pieces of a few bytes, or with a gap, and returns the [`DialogFacts`].
//!
//! [`summary`] renders the facts compactly so that a table case fits on a
//! line, in the spirit of smoltcp's assembler tests:
//!
//! ```text
//! caps=[starttls auth=PLAIN,LOGIN]; stls=STARTTLS; ans=ok:220 go ahead; ch@5; sh@6
//! ```
//!
//! Every run also checks that the redacted evidence of every credential,
//! and the sensitive command, never shows the credential's secret.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::dialog::MailDialog;
use super::facts::{
    Credential, DialogFacts, Evidence, Outcome, Protocol, SecretKind, StarttlsAnswer,
};
use crate::flow::{GapReason, PacketRef, Side, StreamEvent};
use crate::time::Timestamp;

pub(crate) const C: Side = Side::Client;
pub(crate) const S: Side = Side::Server;

/// One dialog: each entry is one `Data` event (one segment) of one side.
pub(crate) type Script<'a> = [(Side, &'a [u8])];

/// How a script is fed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Feed {
    /// Each entry is cut into `Data` events of this many bytes (all with
    /// the entry's packet); `None` feeds it whole.
    pub chunk: Option<usize>,
    /// `(before, side, len)`: a `Gap` event of `len` bytes on `side`, just
    /// before entry `before` (`before == script.len()`: after the last).
    pub gap: Option<(usize, Side, u64)>,
    /// The protocol the server port suggests.
    pub port_hint: Option<Protocol>,
    /// The streams are seen from their first byte (handshake captured).
    pub from_start: bool,
}

impl Feed {
    pub(crate) fn chunked(n: usize) -> Feed {
        Feed {
            chunk: Some(n),
            ..Feed::default()
        }
    }

    pub(crate) fn gap(before: usize, side: Side, len: u64) -> Feed {
        Feed {
            gap: Some((before, side, len)),
            ..Feed::default()
        }
    }
}

pub(crate) fn packet(frame: u64) -> PacketRef {
    PacketRef {
        input: 0,
        frame,
        ts: Timestamp::ZERO,
    }
}

/// Feeds every entry whole, then finishes the dialog.
pub(crate) fn run(script: &Script<'_>) -> DialogFacts {
    run_with(script, Feed::default())
}

/// Feeds one byte at a time.
pub(crate) fn run_bytewise(script: &Script<'_>) -> DialogFacts {
    run_with(script, Feed::chunked(1))
}

/// Feeds the script as `feed` says, then finishes the dialog.
pub(crate) fn run_with(script: &Script<'_>, feed: Feed) -> DialogFacts {
    let mut dialog = MailDialog::new(feed.port_hint).seen_from_start(feed.from_start);
    let mut offsets = [0u64; 2];
    let gap = |dialog: &mut MailDialog, offsets: &mut [u64; 2], at: usize| {
        if let Some((before, side, len)) = feed.gap {
            if before == at {
                let offset = offsets[side.index()];
                dialog.on_event(
                    side,
                    &StreamEvent::Gap {
                        offset,
                        len,
                        reason: GapReason::NotCaptured,
                    },
                );
                offsets[side.index()] += len;
            }
        }
    };
    for (i, (side, bytes)) in script.iter().enumerate() {
        gap(&mut dialog, &mut offsets, i);
        let packet = packet(i as u64 + 1);
        let size = feed.chunk.unwrap_or(bytes.len()).max(1);
        for piece in bytes.chunks(size) {
            dialog.on_event(
                *side,
                &StreamEvent::Data {
                    offset: offsets[side.index()],
                    bytes: piece,
                    packet,
                    ack: None,
                },
            );
            offsets[side.index()] += piece.len() as u64;
        }
    }
    gap(&mut dialog, &mut offsets, script.len());
    dialog.finish();
    let facts = dialog.facts;
    assert_redacted(&facts, &[]);
    facts
}

/// Checks that no credential secret (nor any of `needles`, e.g. the base64
/// text that carried it) shows in the redacted evidence of any credential
/// or of the sensitive command.
pub(crate) fn assert_redacted(facts: &DialogFacts, needles: &[&[u8]]) {
    let mut evidence: Vec<&Evidence> = facts.sensitive_command.iter().collect();
    for cred in &facts.credentials {
        evidence.extend(&cred.evidence);
    }
    let mut secrets: Vec<&[u8]> = needles.to_vec();
    secrets.extend(
        facts
            .credentials
            .iter()
            .map(|c| c.secret.as_slice())
            .filter(|s| !s.is_empty()),
    );
    for e in evidence {
        let shown = e.redacted();
        for secret in &secrets {
            assert!(
                !contains(&shown, secret),
                "secret {:?} shows in redacted evidence {:?}",
                String::from_utf8_lossy(secret),
                String::from_utf8_lossy(&shown),
            );
        }
    }
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Evidence bytes as text (escaped: CR, LF and binary become `\xNN`).
pub(crate) fn text(e: &Evidence) -> String {
    crate::text::escape(&e.bytes)
}

/// Redacted evidence bytes as text (the secret part as `*`).
pub(crate) fn redacted(e: &Evidence) -> String {
    crate::text::escape(&e.redacted())
}

/// The facts in one line: every field that is set, in a fixed order,
/// separated by `; ` (an empty dialog gives an empty string). The greeting
/// and the protocol are left out (see [`greeting`]).
///
/// - `caps=[starttls mask=<line> auth=A,B refused]` one `[...]` per list
/// - `helo=<refusal>/<helo>`
/// - `stls=<command>`, `ans=ok:<reply>` or `ans=no:<reply>`
/// - `tamper=<command>/<reply>`
/// - `cinj=<bytes>`, `rinj=<line>`, `clear=<line>` (redacted), `implicit`
/// - `ch@<frame>`, `sh@<frame>`
/// - `cred=<MECH>:<user>:<secret>:<kind>:<outcome>[:cancelled][:ch=<challenge>]`
/// - `sens=<redacted line>`
/// - `anom=<kind>` per anomaly
/// - `bare=<client>/<server>`, `long=...`, `unparsed=...` when not zero
pub(crate) fn summary(f: &DialogFacts) -> String {
    let mut out: Vec<String> = Vec::new();
    if !f.capabilities.is_empty() {
        let lists: Vec<String> = f
            .capabilities
            .iter()
            .map(|c| {
                let mut parts = Vec::new();
                if c.starttls {
                    parts.push("starttls".to_string());
                }
                if let Some(m) = &c.masked_token {
                    parts.push(format!("mask={}", text(m)));
                }
                if !c.auth_mechanisms.is_empty() {
                    parts.push(format!("auth={}", c.auth_mechanisms.join(",")));
                }
                if c.login_disabled {
                    parts.push("logindisabled".into());
                }
                if c.refused {
                    parts.push("refused".into());
                }
                format!("[{}]", parts.join(" "))
            })
            .collect();
        out.push(format!("caps={}", lists.concat()));
    }
    if let Some((refusal, helo)) = &f.helo_fallback {
        out.push(format!("helo={}/{}", text(refusal), text(helo)));
    }
    if let Some(c) = &f.starttls_command {
        out.push(format!("stls={}", text(c)));
    }
    if let Some((answer, reply)) = &f.starttls_answer {
        let a = match answer {
            StarttlsAnswer::Accepted => "ok",
            StarttlsAnswer::Rejected => "no",
        };
        out.push(format!("ans={a}:{}", text(reply)));
    }
    if let Some((command, reply)) = &f.tampered_command {
        let reply = reply.as_ref().map(text).unwrap_or_default();
        out.push(format!("tamper={}/{reply}", text(command)));
    }
    if let Some(e) = &f.command_injection {
        out.push(format!("cinj={}", redacted(e)));
    }
    if let Some(e) = &f.response_injection {
        out.push(format!("rinj={}", text(e)));
    }
    if let Some(e) = &f.cleartext_after_go_ahead {
        out.push(format!("clear={}", redacted(e)));
    }
    if f.implicit_tls {
        out.push("implicit".into());
    }
    if let Some((e, _)) = &f.client_hello {
        out.push(format!("ch@{}", e.packet.frame));
    }
    if let Some((e, _)) = &f.server_hello {
        out.push(format!("sh@{}", e.packet.frame));
    }
    for c in &f.credentials {
        out.push(format!("cred={}", credential(c)));
    }
    if let Some(e) = &f.sensitive_command {
        out.push(format!("sens={}", redacted(e)));
    }
    for a in &f.anomalies {
        out.push(format!("anom={}", a.kind));
    }
    for (name, [client, server]) in [
        ("bare", f.bare_lf_lines.into_array()),
        ("long", f.long_lines.into_array()),
        ("unparsed", f.unparsed_lines.into_array()),
    ] {
        if client != 0 || server != 0 {
            out.push(format!("{name}={client}/{server}"));
        }
    }
    out.join("; ")
}

/// `MECH:user:secret:kind:outcome[:cancelled][:ch=challenge]`.
pub(crate) fn credential(c: &Credential) -> String {
    let user = c
        .username
        .as_deref()
        .map_or_else(|| "-".to_string(), crate::text::escape);
    let kind = match c.secret_kind {
        SecretKind::Password => "pw",
        SecretKind::Token => "token",
        SecretKind::ChallengeResponse => "cr",
        SecretKind::None => "none",
    };
    let outcome = match c.outcome {
        Outcome::Success => "ok",
        Outcome::Failure => "fail",
        Outcome::Unknown => "unknown",
    };
    let mut s = format!(
        "{}:{user}:{}:{kind}:{outcome}",
        c.mechanism,
        crate::text::escape(&c.secret)
    );
    if c.cancelled {
        s.push_str(":cancelled");
    }
    if let Some(ch) = &c.challenge {
        s.push_str(&format!(":ch={}", crate::text::escape(ch)));
    }
    s
}

/// The greeting's first line, as text.
pub(crate) fn greeting(f: &DialogFacts) -> Option<String> {
    f.greeting.as_ref().map(text)
}

/// Runs a table of `(name, script, expected summary)` cases, each script
/// fed whole.
pub(crate) fn check_table_whole(cases: &[(&str, &Script<'_>, &str)]) {
    for (name, script, want) in cases {
        assert_eq!(summary(&run(script)), *want, "case {name:?}");
    }
}

/// Runs a table of `(name, script, expected summary)` cases, and checks
/// that each gives the same facts fed whole and in pieces of 1, 2, 3 and 7
/// bytes.
pub(crate) fn check_table(cases: &[(&str, &Script<'_>, &str)]) {
    for (name, script, want) in cases {
        let facts = run(script);
        assert_eq!(summary(&facts), *want, "case {name:?}");
        assert_same_when_chunked(name, script);
    }
}

/// The facts do not depend on how the segments were cut.
pub(crate) fn assert_same_when_chunked(name: &str, script: &Script<'_>) {
    let whole = run(script);
    for n in [1, 2, 3, 7] {
        let chunked = run_with(script, Feed::chunked(n));
        assert_eq!(
            summary(&chunked),
            summary(&whole),
            "case {name:?}: facts differ when fed in pieces of {n}"
        );
        assert_eq!(
            format!("{chunked:?}"),
            format!("{whole:?}"),
            "case {name:?}: facts differ when fed in pieces of {n}"
        );
    }
}

// ---- TLS hellos (built as in tls.rs's tests) ------------------------------

fn with_len16(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u16).to_be_bytes().to_vec();
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
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&with_len16(body));
    v
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut v = vec![msg_type];
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

fn ext(ext_type: u16, data: &[u8]) -> Vec<u8> {
    let mut v = ext_type.to_be_bytes().to_vec();
    v.extend_from_slice(&with_len16(data));
    v
}

/// A TLS 1.2 ClientHello record (record version 0x0301, as clients send
/// it: the bytes start `16 03 01`) with SNI `sni`.
pub(crate) fn client_hello(sni: &str) -> Vec<u8> {
    let mut entry = vec![0u8];
    entry.extend_from_slice(&with_len16(sni.as_bytes()));
    let exts = [
        ext(0, &with_len16(&entry)),
        ext(10, &with_len16(&[0x00, 0x17])),
        ext(0xff01, &[0]),
    ]
    .concat();
    let mut body = 0x0303u16.to_be_bytes().to_vec();
    body.extend((0..32).map(|i| i as u8)); // random
    body.extend_from_slice(&with_len8(&[0x5a; 32])); // session id
    body.extend_from_slice(&with_len16(&[0xc0, 0x2f, 0x00, 0x9c])); // ciphers
    body.extend_from_slice(&with_len8(&[0])); // null compression
    body.extend_from_slice(&with_len16(&exts));
    record(22, 0x0301, &handshake(1, &body))
}

/// A TLS 1.2 ServerHello record choosing `cipher`.
pub(crate) fn server_hello(cipher: u16) -> Vec<u8> {
    let mut body = 0x0303u16.to_be_bytes().to_vec();
    body.extend_from_slice(&[7; 32]); // random
    body.extend_from_slice(&with_len8(&[0x5a; 32])); // session id
    body.extend_from_slice(&cipher.to_be_bytes());
    body.push(0); // compression
    body.extend_from_slice(&with_len16(&ext(0xff01, &[0])));
    record(22, 0x0303, &handshake(2, &body))
}

#[test]
fn hellos_are_read_by_the_tls_reader() {
    let ch = client_hello("mx.example.org");
    assert_eq!(&ch[..3], &[0x16, 0x03, 0x01]);
    let sh = server_hello(0xc02f);
    let facts = run(&[(C, &ch), (S, &sh)]);
    let (_, hello) = facts.client_hello.as_ref().unwrap();
    assert_eq!(hello.sni.as_deref(), Some("mx.example.org"));
    assert_eq!(hello.legacy_version, 0x0303);
    let (_, hello) = facts.server_hello.as_ref().unwrap();
    assert_eq!(hello.cipher, Some(0xc02f));
    assert!(facts.implicit_tls);
    assert_eq!(summary(&facts), "implicit; ch@1; sh@2");
}

#[test]
fn harness_gaps_and_chunks() {
    let script: &Script<'_> = &[
        (S, b"220 mx\r\n"),
        (C, b"EHLO a\r\nMAIL FR"),
        (C, b"OM:<a@b>\r\n"),
    ];
    assert_eq!(summary(&run(script)), "sens=MAIL FROM:<a@b>");
    // A gap before entry 2 drops the partial `MAIL FR`; the tail after it
    // is an unknown command.
    assert_eq!(
        summary(&run_with(script, Feed::gap(2, C, 5))),
        "unparsed=1/0"
    );
    // A gap after the last entry changes nothing.
    assert_eq!(
        summary(&run_with(script, Feed::gap(3, C, 5))),
        "sens=MAIL FROM:<a@b>"
    );
    // Pieces keep the entry's packet.
    let facts = run_bytewise(script);
    assert_eq!(facts.greeting.as_ref().unwrap().packet.frame, 1);
    assert_eq!(facts.sensitive_command.as_ref().unwrap().packet.frame, 2);
    assert_eq!(summary(&DialogFacts::default()), "");
}
