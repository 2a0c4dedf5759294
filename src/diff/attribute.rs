//! What the path between the taps did, in words.
//!
//! The changes of a session are read as behaviours: the Cisco ASA's
//! `inspect esmtp` signature when they match it (the banner masked with
//! asterisks and `250-STARTTLS` turned into `250-XXXXXXXA`: mask-banner
//! and no allow-tls), otherwise one plain description per kind of change
//! ("removed the STARTTLS capability", "answered STARTTLS with `454 ...`
//! itself", ...). A behaviour has a key, so the same behaviour in several
//! sessions to one server is counted once with the number of sessions.

use super::classify::{Change, ChangeKind, Version};
use super::report::{OneSideRecord, PairRecord, ServerRecord, VerdictRecord};
use crate::analysis::Severity;
use crate::flow::Endpoint;
use crate::proto::{Protocol, words};
use std::collections::BTreeMap;

/// One thing the path did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// Groups the same behaviour across sessions.
    pub key: String,
    /// Completes "the path between the taps ...".
    pub text: String,
    pub severity: Severity,
}

/// The Cisco ASA `inspect esmtp` mask of STARTTLS.
pub(crate) const ASA_MASK: &str = "XXXXXXXA";

/// The start of every verdict sentence.
pub(crate) const SUBJECT: &str = "the path between the taps";

/// A line as quoted in a sentence: escaped, secrets masked, the IMAP tag
/// left out (it differs from session to session), cut to 80 characters.
fn quote(v: Option<&Version>, protocol: Option<Protocol>) -> String {
    let Some(v) = v else {
        return "?".into();
    };
    let bytes = v.evidence.redacted();
    if let Some(name) = super::roles::message_name(protocol, &bytes) {
        return name;
    }
    let shown = match protocol {
        Some(Protocol::Imap) if v.evidence.offset.is_some() && !bytes.starts_with(b"* ") => {
            words::split_word(&bytes).1
        }
        _ => &bytes[..],
    };
    crate::text::escape_truncated(shown, 80)
}

fn asa_masked(c: &Change) -> bool {
    masked_as(c, "STARTTLS", ASA_MASK)
}

/// The ASA also masks CHUNKING (BDAT is not inspected) as `XXXXXXXB`.
fn asa_chunking(c: &Change) -> bool {
    masked_as(c, "CHUNKING", "XXXXXXXB")
}

fn masked_as(c: &Change, capability: &str, mask: &str) -> bool {
    c.kind == ChangeKind::CapabilityMasked
        && c.capability.as_deref() == Some(capability)
        && c.mask
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(mask))
}

/// The behaviours that explain `changes`, most severe first.
pub(crate) fn behaviours(protocol: Option<Protocol>, changes: &[Change]) -> Vec<Behaviour> {
    let mut out: Vec<Behaviour> = Vec::new();
    let mut push = |key: String, text: String, severity: Severity| {
        if !out.iter().any(|b| b.key == key) {
            out.push(Behaviour {
                key,
                text,
                severity,
            });
        }
    };
    let asa = protocol == Some(Protocol::Smtp) && changes.iter().any(asa_masked);
    if asa {
        let (key, text) = asa_signature(changes);
        push(key, text, Severity::High);
    }
    for c in changes {
        if asa && explained_by_asa(c) {
            continue;
        }
        let (key, text) = described(c, protocol);
        // A behaviour is as severe as the worst change of its kind.
        let severity = changes
            .iter()
            .filter(|d| d.kind == c.kind)
            .map(|d| d.severity)
            .max()
            .unwrap_or(c.severity);
        push(key, text, severity);
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.severity));
    out
}

/// The Cisco ASA `inspect esmtp` behaviour (key, text), with or without
/// mask-banner.
fn asa_signature(changes: &[Change]) -> (String, String) {
    let chunking = if changes.iter().any(asa_chunking) {
        ", CHUNKING into XXXXXXXB"
    } else {
        ""
    };
    if changes.iter().any(|c| c.kind == ChangeKind::BannerMasked) {
        (
            "asa-inspect-esmtp-mask-banner".into(),
            format!(
                "behaves like Cisco ASA inspect esmtp with mask-banner and no allow-tls \
                 (greeting masked with asterisks, STARTTLS turned into XXXXXXXA{chunking})"
            ),
        )
    } else {
        (
            "asa-inspect-esmtp".into(),
            format!(
                "behaves like Cisco ASA inspect esmtp without allow-tls (STARTTLS turned into \
                 XXXXXXXA{chunking}; the greeting was not masked)"
            ),
        )
    }
}

/// The changes the ASA signature already says.
fn explained_by_asa(c: &Change) -> bool {
    match c.kind {
        ChangeKind::CapabilityMasked => asa_masked(c) || asa_chunking(c),
        ChangeKind::BannerMasked => true,
        _ => false,
    }
}

/// One change's behaviour on its own: (key, text).
fn described(c: &Change, protocol: Option<Protocol>) -> (String, String) {
    let q = |v: Option<&Version>| quote(v, protocol);
    let cap = c.capability.clone().unwrap_or_default();
    match c.kind {
        ChangeKind::BannerMasked => (
            "banner-masked".to_string(),
            "masked the server's greeting with asterisks (like Cisco ASA mask-banner)".to_string(),
        ),
        ChangeKind::CapabilityRemoved => (
            format!("capability-removed:{cap}"),
            format!("removed the {cap} capability from the server's capability list"),
        ),
        ChangeKind::CapabilityMasked => {
            let mask = c.mask.clone().unwrap_or_default();
            (
                format!("capability-masked:{cap}:{mask}"),
                format!("masked the {cap} capability as `{mask}`"),
            )
        }
        ChangeKind::CapabilityAdded => (
            format!("capability-added:{cap}"),
            format!("added the capability `{cap}`"),
        ),
        ChangeKind::CommandMasked | ChangeKind::CommandRewritten => {
            let (b, a) = (q(c.before.as_ref()), q(c.after.as_ref()));
            let text = if c.kind == ChangeKind::CommandMasked {
                format!("overwrote the client's `{b}` with `{a}`")
            } else {
                format!("rewrote the client's `{b}` as `{a}`")
            };
            (format!("{}:{b}:{a}", c.kind.name()), text)
        }
        ChangeKind::StarttlsAnsweredByMiddlebox => {
            let (cmd, answer) = (q(c.before.as_ref()), q(c.answer.as_ref()));
            (
                format!("answered:{cmd}:{answer}"),
                format!(
                    "answered the client's {cmd} with `{answer}` itself (the server never saw the command)"
                ),
            )
        }
        ChangeKind::CommandInjected | ChangeKind::ReplyInjected => {
            injected(c, &q(c.after.as_ref()), protocol)
        }
        ChangeKind::CommandDropped => {
            let line = q(c.before.as_ref());
            (
                format!("command-dropped:{line}"),
                format!("dropped the client's `{line}`"),
            )
        }
        ChangeKind::ReplyDropped => {
            let line = q(c.before.as_ref());
            (
                format!("reply-dropped:{line}"),
                format!("dropped the server's `{line}`"),
            )
        }
        ChangeKind::ReplyRewritten => {
            let (b, a) = (q(c.before.as_ref()), q(c.after.as_ref()));
            (
                format!("reply-rewritten:{b}:{a}"),
                format!("rewrote the server's `{b}` as `{a}`"),
            )
        }
        ChangeKind::TlsOneSide => (
            "tls-one-side".to_string(),
            format!(
                "did not let TLS through the same way on both sides (TLS {})",
                c.detail.as_deref().unwrap_or("?")
            ),
        ),
    }
}

/// An injected command or reply; one right after the STARTTLS exchange is
/// the injection attack itself.
fn injected(c: &Change, line: &str, protocol: Option<Protocol>) -> (String, String) {
    let keyword = protocol.map_or("STARTTLS", Protocol::starttls_keyword);
    match (c.kind == ChangeKind::CommandInjected, c.around_starttls) {
        (true, true) => (
            format!("command-injected-after-starttls:{line}"),
            format!("injected `{line}` after the client's {keyword} (command injection)"),
        ),
        (true, false) => (
            format!("command-injected:{line}"),
            format!("injected the command `{line}`"),
        ),
        (false, true) => (
            format!("reply-injected-after-go-ahead:{line}"),
            format!("injected `{line}` after the server's TLS go-ahead (response injection)"),
        ),
        (false, false) => (
            format!("reply-injected:{line}"),
            format!("injected the reply `{line}`"),
        ),
    }
}

/// One sentence for a session: "the path between the taps ...".
pub(crate) fn sentence(behaviours: &[Behaviour]) -> String {
    if behaviours.is_empty() {
        return format!("{SUBJECT} changed nothing that crossed in cleartext");
    }
    let parts: Vec<&str> = behaviours.iter().map(|b| b.text.as_str()).collect();
    format!("{SUBJECT} {}", parts.join("; "))
}

/// The per-server summaries, most severe first.
pub(crate) fn servers(pairs: &[PairRecord], one_side: &[OneSideRecord]) -> Vec<ServerRecord> {
    let mut by: BTreeMap<(Endpoint, &'static str), ServerRecord> = BTreeMap::new();
    let mut behaviours: BTreeMap<(Endpoint, &'static str), Vec<(Behaviour, u64)>> = BTreeMap::new();
    let entry = |by: &mut BTreeMap<(Endpoint, &'static str), ServerRecord>,
                 key: (Endpoint, &'static str)| {
        by.entry(key).or_insert_with(|| ServerRecord {
            server: key.0,
            protocol: key.1,
            reached_as: Vec::new(),
            pairs: 0,
            changed: 0,
            one_side_only: 0,
            methods: BTreeMap::new(),
            changes: BTreeMap::new(),
            verdict: Vec::new(),
        });
    };
    for p in pairs {
        entry(&mut by, p.server_key);
        if let Some(r) = by.get_mut(&p.server_key) {
            r.pairs += 1;
            r.changed += u64::from(!p.changes.is_empty());
            *r.methods.entry(p.pairing.method).or_default() += 1;
            for c in &p.changes {
                *r.changes.entry(c.kind).or_default() += 1;
            }
            let near = p.near_server;
            if near != r.server && !r.reached_as.contains(&near) {
                r.reached_as.push(near);
            }
        }
        let list = behaviours.entry(p.server_key).or_default();
        for b in &p.behaviours {
            match list.iter_mut().find(|(x, _)| x.key == b.key) {
                Some((x, n)) => {
                    *n += 1;
                    x.severity = x.severity.max(b.severity);
                }
                None => list.push((b.clone(), 1)),
            }
        }
    }
    for o in one_side {
        entry(&mut by, o.server_key);
        if let Some(r) = by.get_mut(&o.server_key) {
            r.one_side_only += 1;
        }
    }
    for (key, r) in by.iter_mut() {
        let m = r.pairs;
        let of = |n: u64| match (n, m) {
            (1, 1) => "in the one session".to_string(),
            (2, 2) => "in both sessions".to_string(),
            (n, m) if n == m => format!("in all {m} sessions"),
            (n, m) => format!("in {n} of {m} sessions"),
        };
        for (b, n) in behaviours.remove(key).unwrap_or_default() {
            r.verdict.push(VerdictRecord {
                severity: b.severity,
                sessions: n,
                text: format!("{SUBJECT} {} {}", b.text, of(n)),
            });
        }
        r.verdict.sort_by_key(|v| std::cmp::Reverse(v.severity));
        if r.verdict.is_empty() && m > 0 {
            r.verdict.push(VerdictRecord {
                severity: Severity::Info,
                sessions: m,
                text: format!(
                    "{SUBJECT} changed nothing that crossed in cleartext {}",
                    of(m)
                ),
            });
        }
    }
    let mut out: Vec<ServerRecord> = by.into_values().collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.verdict.iter().map(|v| v.severity).max()));
    out
}
