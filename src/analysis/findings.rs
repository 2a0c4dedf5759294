//! Findings: what a session's dialog facts prove, with the evidence.
//!
//! The rules are those of the project's finding list: each finding is
//! backed by the exact lines or packets that show it, and a finding that
//! rests on the absence of something is made only where the capture could
//! have shown it.

mod rules;

use rules::RULES;

use super::record::{Locator, PacketLocation};
use crate::flow::{SessionInfo, Side};
use crate::proto::{Credential, DialogFacts, Evidence, Protocol, SecretKind};
use crate::text;
use serde::Serialize;
use std::fmt;

/// How bad a finding is. Ordered: `Info < Low < ... < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The lowest level (ECS 0); no finding kind has it today.
    Info,
    /// Proves no attack by itself: `banner-masked`, `no-starttls-offered` with no login or mail
    /// after it.
    Low,
    /// A downgrade with no proof of an attacker: STARTTLS not used or rejected, `helo-fallback`,
    /// cleartext on an implicit-TLS port, `no-starttls-offered` before a login or mail.
    Medium,
    /// An attack on the path is shown (stripping, tampering, injection, no TLS after the
    /// go-ahead), or a session exposed secrets or PREAUTH access without TLS.
    High,
    /// A password or token crossed without TLS and the server accepted it.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

/// The kinds of findings (their JSON names are part of the interface).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The capability list lacks STARTTLS and the capture proves it was removed: a masked token
    /// (`XXXXXXXA`, Cisco ASA) in its place, or another session to the same server offered it.
    StarttlsStripped,
    /// The server's greeting is mostly asterisks (a Cisco ASA `mask-banner` policy).
    BannerMasked,
    /// A cleartext capability list without STARTTLS, with nothing proving it was stripped.
    NoStarttlsOffered,
    /// STARTTLS was offered, never requested, and the client went on in cleartext.
    StarttlsNotUsed,
    /// The client requested STARTTLS and the server refused it.
    StarttlsRejected,
    /// The client's STARTTLS reached the server masked (`XXXXXXXX`).
    StarttlsCommandTampered,
    /// The server accepted STARTTLS but no TLS handshake followed.
    TlsNotEstablished,
    /// Cleartext after STARTTLS before its answer (command injection) or after the go-ahead before
    /// TLS (response injection).
    StarttlsInjection,
    /// A password or token (or the data of a mechanism we cannot parse) crossed without TLS.
    CleartextCredentials,
    /// Challenge-response material (CRAM-MD5, DIGEST-MD5, APOP, NTLM) crossed without TLS:
    /// crackable offline.
    WeakCredentialsExposed,
    /// Cleartext on an implicit-TLS port (465, 993, 995, 990 for FTP).
    PlaintextOnImplicitTlsPort,
    /// An IMAP `* PREAUTH` greeting on a cleartext connection.
    PreauthNoTls,
    /// EHLO was refused and the client fell back to HELO, where STARTTLS cannot be offered.
    HeloFallback,
}

impl FindingKind {
    /// The kind's kebab-case name, as written in `kind`, `rule.name` and evidence file names.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::StarttlsStripped => "starttls-stripped",
            FindingKind::BannerMasked => "banner-masked",
            FindingKind::NoStarttlsOffered => "no-starttls-offered",
            FindingKind::StarttlsNotUsed => "starttls-not-used",
            FindingKind::StarttlsRejected => "starttls-rejected",
            FindingKind::StarttlsCommandTampered => "starttls-command-tampered",
            FindingKind::TlsNotEstablished => "tls-not-established",
            FindingKind::StarttlsInjection => "starttls-injection",
            FindingKind::CleartextCredentials => "cleartext-credentials",
            FindingKind::WeakCredentialsExposed => "weak-credentials-exposed",
            FindingKind::PlaintextOnImplicitTlsPort => "plaintext-on-implicit-tls-port",
            FindingKind::PreauthNoTls => "preauth-no-tls",
            FindingKind::HeloFallback => "helo-fallback",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What proves a finding that rests on more than the session's own bytes:
/// every `starttls-stripped` has one, and so has any finding a policy
/// demanded. Its JSON name is part of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// The word stood in the list, masked with one repeated character (the Cisco ASA's
    /// `XXXXXXXA`).
    MaskedToken,
    /// The word stood in the list, one edit away from the keyword (`STARTTLX`, `STLX`).
    MangledToken,
    /// Another session to the same server in this run offered it.
    SameRun,
    /// The server offered it in sessions this sensor saw before (`--history`).
    History,
    /// Another sensor saw the server offer it (`--history` shared by sensors).
    OtherSensor,
    /// The policy (`--policy`) says the server must.
    Policy,
}

impl Proof {
    /// The kebab-case name, as written in `proof`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Proof::MaskedToken => "masked-token",
            Proof::MangledToken => "mangled-token",
            Proof::SameRun => "same-run",
            Proof::History => "history",
            Proof::OtherSensor => "other-sensor",
            Proof::Policy => "policy",
        }
    }

    /// Every proof, in order.
    pub(crate) const ALL: [Proof; 6] = [
        Proof::MaskedToken,
        Proof::MangledToken,
        Proof::SameRun,
        Proof::History,
        Proof::OtherSensor,
        Proof::Policy,
    ];
}

impl fmt::Display for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece of evidence as reported: where, when, and the bytes (escaped,
/// secrets masked unless revealed).
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceRecord {
    pub direction: Side,
    #[serde(flatten)]
    pub location: PacketLocation,
    pub excerpt: String,
}

/// Evidence bytes as they may leave the process.
pub(crate) fn shown_bytes(e: &Evidence, show_secrets: bool) -> Vec<u8> {
    if show_secrets {
        e.bytes.clone()
    } else {
        e.redacted()
    }
}

impl EvidenceRecord {
    pub(crate) fn build(e: &Evidence, locator: &Locator, show_secrets: bool) -> Self {
        let bytes = shown_bytes(e, show_secrets);
        EvidenceRecord {
            direction: e.side,
            location: locator.locate(e.packet),
            excerpt: text::escape(&bytes),
        }
    }
}

/// A finding with its proof.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Which rule made it; the JSON `kind` (and `rule.name` on JSON lines).
    pub kind: FindingKind,
    /// How bad, from the kind's rule (`no-starttls-offered` and `cleartext-credentials` have a
    /// milder case: see [`Severity`]'s variants).
    pub severity: Severity,
    /// The `id` of the session it is about (for a late finding: the stripped session, not the one
    /// whose offer proved it).
    pub session: u64,
    /// One sentence in our own words; server names and usernames in it are escaped.
    pub summary: String,
    /// What proves it beyond the session's own bytes (every `starttls-stripped` has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
    /// The server's history behind a `history` or `other-sensor` proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) history: Option<Box<crate::analysis::history::HistoryProof>>,
    /// The name of the policy rule behind a `policy` proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The lines or packets that prove it, in the order the rule cites them.
    pub evidence: Vec<EvidenceRecord>,
}

impl Finding {
    /// A finding of `kind` about `session`, proven by its evidence alone.
    pub(crate) fn new(
        kind: FindingKind,
        severity: Severity,
        session: u64,
        summary: String,
        evidence: Vec<EvidenceRecord>,
    ) -> Self {
        Finding {
            kind,
            severity,
            session,
            summary,
            proof: None,
            history: None,
            policy: None,
            evidence,
        }
    }

    /// The same finding with its proof named.
    pub(crate) fn proven_by(mut self, proof: Proof) -> Self {
        self.proof = Some(proof);
        self
    }
}

/// What the rules need besides the facts.
pub(crate) struct RuleInput<'a> {
    pub info: &'a SessionInfo,
    pub facts: &'a DialogFacts,
    pub protocol: Option<Protocol>,
    pub locator: &'a Locator,
    pub show_secrets: bool,
}

impl<'a> RuleInput<'a> {
    fn evidence(&self, items: &[&Evidence]) -> Vec<EvidenceRecord> {
        items
            .iter()
            .map(|e| EvidenceRecord::build(e, self.locator, self.show_secrets))
            .collect()
    }

    fn finding(
        &self,
        kind: FindingKind,
        severity: Severity,
        summary: String,
        evidence: &[&Evidence],
    ) -> Finding {
        Finding::new(
            kind,
            severity,
            self.info.id,
            summary,
            self.evidence(evidence),
        )
    }

    fn keyword(&self) -> &'static str {
        self.protocol.map_or("STARTTLS", Protocol::starttls_keyword)
    }

    fn server(&self) -> String {
        self.info.server.to_string()
    }

    /// The credentials that crossed outside TLS with a secret of these kinds.
    fn cleartext_credentials<'s>(
        &'s self,
        kinds: &'s [SecretKind],
    ) -> impl Iterator<Item = &'a Credential> + 's {
        self.facts
            .credentials
            .iter()
            .filter(|c| c.cleartext && kinds.contains(&c.secret_kind))
    }
}

/// The Cisco ASA's mask for STARTTLS (`inspect esmtp`, no allow-tls).
pub(crate) fn is_asa_mask(token_line: &[u8]) -> bool {
    let text = token_line.get(4..).unwrap_or_default();
    let word = crate::proto::words::split_word(text).0;
    word.eq_ignore_ascii_case(b"XXXXXXXA")
}

/// Findings that one session proves by itself: every rule of the table, in
/// the order of the kinds. The cross-session proof of stripping is added
/// by the end-of-input pass.
pub(crate) fn session_findings(input: &RuleInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in RULES {
        rule.find(input, &mut out);
    }
    out
}

/// The client's last packet, when it came after `line`'s packet (the
/// client was still there after the server said it).
fn client_after(info: &SessionInfo, line: &Evidence) -> Option<crate::flow::PacketRef> {
    info.client_last_packet.filter(|p| *p > line.packet)
}

/// The masked or mangled word on a capability line, for the summary.
fn masked_word<'a>(line: &'a [u8], keyword: &str) -> &'a [u8] {
    // A keyword of several words (FTP's AUTH TLS) is the whole line.
    if keyword.contains(' ') {
        return crate::proto::words::trim(line);
    }
    line.split(|b| matches!(b, b' ' | b'-' | b'[' | b']' | b'(' | b')'))
        .find(|w| crate::proto::words::is_stripped_token(w, keyword, &["STARTTLS", "STLS"]))
        .unwrap_or(line)
}

/// A word a middlebox mangled (one edit from the keyword) rather than
/// masked with one repeated character.
fn is_mangled(word: &[u8], keyword: &str) -> bool {
    if keyword.contains(' ') {
        return !crate::proto::words::is_masked_token(word, keyword.len(), &[])
            && !crate::proto::words::is_overwritten_phrase(word, keyword);
    }
    crate::proto::words::is_mangled_token(word, keyword, &["STARTTLS", "STLS"])
}

/// More than half of the greeting text's characters are `*` (the ASA's
/// mask-banner keeps lengths and sometimes the digits 2 and 0).
pub(crate) fn banner_masked(greeting: &[u8]) -> bool {
    let text = greeting_text(greeting);
    let chars = text.iter().filter(|b| !b.is_ascii_whitespace()).count();
    let stars = text.iter().filter(|b| **b == b'*').count();
    chars > 0 && stars * 2 > chars
}

/// The greeting without its protocol prefix (`220 `, `* OK `, `+OK `).
fn greeting_text(line: &[u8]) -> &[u8] {
    for prefix in [&b"* OK"[..], b"* PREAUTH", b"+OK"] {
        if line.len() >= prefix.len()
            && line
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        {
            return line.get(prefix.len()..).unwrap_or_default();
        }
    }
    if line
        .get(..3)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    {
        return line.get(4..).unwrap_or_default();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_banners() {
        assert!(banner_masked(b"220 ****2***0***"));
        assert!(banner_masked(b"220 *******************************"));
        assert!(!banner_masked(b"220 mail.example.com ESMTP Postfix"));
        assert!(!banner_masked(b"220 "));
        assert!(!banner_masked(b"* OK [CAPABILITY IMAP4rev1] ready"));
    }

    #[test]
    fn asa_mask() {
        assert!(is_asa_mask(b"250-XXXXXXXA"));
        assert!(is_asa_mask(b"250 xxxxxxxa"));
        assert!(!is_asa_mask(b"250-XXXXXXXX"));
    }
}
