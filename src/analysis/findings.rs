//! Findings: what a session's dialog facts prove, with the evidence.
//!
//! The rules are those of the project's finding list: each finding is
//! backed by the exact lines or packets that show it, and a finding that
//! rests on the absence of something is made only where the capture could
//! have shown it.

use super::record::{Locator, PacketLocation};
use crate::flow::{EndReason, SessionInfo, Side};
use crate::proto::{DialogFacts, Evidence, Protocol, SecretKind, StarttlsAnswer};
use crate::text;
use serde::Serialize;
use std::fmt;

/// How bad a finding is. Ordered: `Info < Low < ... < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
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
    StarttlsStripped,
    BannerMasked,
    NoStarttlsOffered,
    StarttlsNotUsed,
    StarttlsRejected,
    StarttlsCommandTampered,
    TlsNotEstablished,
    StarttlsInjection,
    CleartextCredentials,
    WeakCredentialsExposed,
    PlaintextOnImplicitTlsPort,
    PreauthNoTls,
    HeloFallback,
}

impl FindingKind {
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
pub fn shown_bytes(e: &Evidence, show_secrets: bool) -> Vec<u8> {
    if show_secrets {
        e.bytes.clone()
    } else {
        e.redacted()
    }
}

impl EvidenceRecord {
    pub fn build(e: &Evidence, locator: &Locator, show_secrets: bool) -> Self {
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
    pub kind: FindingKind,
    pub severity: Severity,
    pub session: u64,
    pub summary: String,
    pub evidence: Vec<EvidenceRecord>,
}

/// What the rules need besides the facts.
pub struct RuleInput<'a> {
    pub info: &'a SessionInfo,
    pub facts: &'a DialogFacts,
    pub protocol: Option<Protocol>,
    pub locator: &'a Locator,
    pub show_secrets: bool,
}

impl RuleInput<'_> {
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
        Finding {
            kind,
            severity,
            session: self.info.id,
            summary,
            evidence: self.evidence(evidence),
        }
    }

    fn keyword(&self) -> &'static str {
        self.protocol.map_or("STARTTLS", Protocol::starttls_keyword)
    }

    fn server(&self) -> String {
        self.info.server.to_string()
    }
}

/// The Cisco ASA's mask for STARTTLS (`inspect esmtp`, no allow-tls).
pub fn is_asa_mask(token_line: &[u8]) -> bool {
    let text = token_line.get(4..).unwrap_or_default();
    let word = crate::proto::words::split_word(text).0;
    word.eq_ignore_ascii_case(b"XXXXXXXA")
}

/// Findings that one session proves by itself. The cross-session proof of
/// stripping is added by the end-of-input pass.
pub fn session_findings(input: &RuleInput<'_>) -> Vec<Finding> {
    let f = input.facts;
    let mut out = Vec::new();
    let kw = input.keyword();
    let offered = f.starttls_offered();
    let requested = f.starttls_command.is_some();
    let answer = f.starttls_answer.as_ref();

    // The capability list arrived with STARTTLS masked out.
    let masked = f.capabilities.iter().find_map(|c| c.masked_token.as_ref());
    if offered == Some(false) {
        if let Some(line) = masked {
            let who = if input.protocol == Some(Protocol::Smtp) && is_asa_mask(&line.bytes) {
                "the signature of a Cisco ASA inspect esmtp policy without allow-tls"
            } else {
                "a same-length mask left by a middlebox"
            };
            out.push(input.finding(
                FindingKind::StarttlsStripped,
                Severity::High,
                format!(
                    "the capability list from {} reached this capture with {kw} replaced by `{}`, {who}",
                    input.server(),
                    text::escape(masked_word(&line.bytes, input.protocol)),
                ),
                &[line],
            ));
        } else if let Some(list) = f.decisive_capabilities() {
            let sensitive = f.sensitive_command.is_some() || !f.credentials.is_empty();
            let severity = if sensitive {
                Severity::Medium
            } else {
                Severity::Low
            };
            let follows = if sensitive {
                "; authentication or mail followed in cleartext"
            } else {
                ""
            };
            let mut evidence = vec![&list.evidence];
            evidence.extend(f.sensitive_command.as_ref());
            out.push(input.finding(
                FindingKind::NoStarttlsOffered,
                severity,
                format!("{} did not offer {kw}{follows}", input.server()),
                &evidence,
            ));
        }
    }

    if let Some(greeting) = &f.greeting {
        if banner_masked(&greeting.bytes) {
            out.push(input.finding(
                FindingKind::BannerMasked,
                Severity::Low,
                format!(
                    "the greeting of {} is masked with asterisks, as a Cisco ASA mask-banner policy does",
                    input.server()
                ),
                &[greeting],
            ));
        }
    }

    if let Some((command, reply)) = &f.tampered_command {
        let mut evidence = vec![command];
        evidence.extend(reply.as_ref());
        out.push(input.finding(
            FindingKind::StarttlsCommandTampered,
            Severity::High,
            format!(
                "the client's {kw} reached the server as `{}` and was refused: a middlebox overwrote the command",
                text::escape(&shown_bytes(command, input.show_secrets))
            ),
            &evidence,
        ));
    } else if offered == Some(true) && !requested && !f.implicit_tls {
        if let Some(command) = &f.sensitive_command {
            let list = f.decisive_offer().map(|c| &c.evidence);
            let mut evidence: Vec<&Evidence> = list.into_iter().collect();
            evidence.push(command);
            out.push(input.finding(
                FindingKind::StarttlsNotUsed,
                Severity::Medium,
                format!(
                    "{} offered {kw} but the client went on in cleartext",
                    input.server()
                ),
                &evidence,
            ));
        }
    }

    if let (Some(command), Some(reply)) = (&f.starttls_command, &f.starttls_refusal) {
        out.push(input.finding(
            FindingKind::StarttlsRejected,
            Severity::Medium,
            format!(
                "{} refused {kw}: `{}`",
                input.server(),
                text::escape(&reply.bytes)
            ),
            &[command, reply],
        ));
    }

    if let Some((StarttlsAnswer::Accepted, reply)) = answer {
        if f.client_hello.is_none() {
            let closed = matches!(input.info.end, EndReason::Fin | EndReason::Rst);
            if let Some(cleartext) = &f.cleartext_after_go_ahead {
                out.push(input.finding(
                    FindingKind::TlsNotEstablished,
                    Severity::High,
                    format!(
                        "{} accepted {kw} but the client went on in cleartext \
                         (a capture whose TLS was decrypted and written back as plaintext, \
                         such as a Wireshark or Arkime export, looks the same: check where \
                         the capture came from)",
                        input.server()
                    ),
                    &[reply, cleartext],
                ));
            } else if let Some(ack) = client_after(input.info, reply) {
                // The client's TCP stack took the go-ahead and the client
                // sent no ClientHello before the capture ended.
                let ack = Evidence::new(Side::Client, ack, b"");
                out.push(input.finding(
                    FindingKind::TlsNotEstablished,
                    Severity::High,
                    format!(
                        "{} accepted {kw}; the client acknowledged the go-ahead but sent no TLS handshake",
                        input.server()
                    ),
                    &[reply, &ack],
                ));
            } else if closed && f.command_injection.is_none() {
                out.push(input.finding(
                    FindingKind::TlsNotEstablished,
                    Severity::High,
                    format!(
                        "{} accepted {kw} but the connection closed without a TLS handshake",
                        input.server()
                    ),
                    &[reply],
                ));
            }
        }
    }

    if let Some(injected) = &f.command_injection {
        let mut evidence: Vec<&Evidence> = f.starttls_command.iter().collect();
        evidence.push(injected);
        out.push(input.finding(
            FindingKind::StarttlsInjection,
            Severity::High,
            format!(
                "command injection: the client stream carried `{}` after {kw}, before the server's answer",
                text::escape_truncated(&shown_bytes(injected, input.show_secrets), 64)
            ),
            &evidence,
        ));
    }
    if let Some(injected) = &f.response_injection {
        let mut evidence: Vec<&Evidence> = answer.iter().map(|(_, e)| e).collect();
        evidence.push(injected);
        out.push(input.finding(
            FindingKind::StarttlsInjection,
            Severity::High,
            format!(
                "response injection: the server stream carried `{}` after its {kw} go-ahead, before the TLS handshake",
                text::escape_truncated(&injected.bytes, 64)
            ),
            &evidence,
        ));
    }

    for cred in f.credentials.iter().filter(|c| c.cleartext) {
        // A secret may cross without a visible username (PLAIN with no
        // identity, a vendor token).
        let user = cred.username.as_deref().map_or_else(
            || " (no username visible)".to_string(),
            |u| format!(" for `{}`", text::escape(u)),
        );
        let evidence: Vec<&Evidence> = cred.evidence.iter().collect();
        match cred.secret_kind {
            SecretKind::Password | SecretKind::Token => {
                let accepted = cred.outcome == crate::proto::Outcome::Success;
                let what = if cred.secret_kind == SecretKind::Token { "token" } else { "password" };
                let verdict = if accepted { ", and the server accepted it" } else { "" };
                out.push(input.finding(
                    FindingKind::CleartextCredentials,
                    if accepted { Severity::Critical } else { Severity::High },
                    format!("{} {what}{user} crossed without TLS{verdict}", cred.mechanism),
                    &evidence,
                ));
            }
            SecretKind::ChallengeResponse => out.push(input.finding(
                FindingKind::WeakCredentialsExposed,
                Severity::High,
                format!(
                    "{} challenge-response{user} crossed without TLS: the password can be cracked offline",
                    cred.mechanism
                ),
                &evidence,
            )),
            SecretKind::None => {}
        }
    }

    // Cleartext from either side on an implicit-TLS port (a server greeting
    // in cleartext answering a TLS client's hello counts too).
    let port = input.info.server.port;
    if Protocol::implicit_tls_port(port) {
        if let Some(first) = f
            .greeting
            .as_ref()
            .or(f.sensitive_command.as_ref())
            .or(f.capabilities.first().map(|c| &c.evidence))
        {
            out.push(input.finding(
                FindingKind::PlaintextOnImplicitTlsPort,
                Severity::Medium,
                format!(
                    "{} speaks cleartext {} on {port}, a port for implicit TLS (RFC 8314)",
                    input.server(),
                    input.protocol.map_or("mail", Protocol::name)
                ),
                &[first],
            ));
        }
    }

    if let Some(greeting) = &f.preauth {
        out.push(input.finding(
            FindingKind::PreauthNoTls,
            Severity::High,
            format!(
                "{} greeted with PREAUTH on a cleartext connection: the client is logged in and STARTTLS is no longer possible",
                input.server()
            ),
            &[greeting],
        ));
    }

    if let Some((refusal, helo)) = &f.helo_fallback {
        out.push(input.finding(
            FindingKind::HeloFallback,
            Severity::Medium,
            format!(
                "{} refused EHLO and the client fell back to HELO: no extensions, so no STARTTLS",
                input.server()
            ),
            &[refusal, helo],
        ));
    }
    out
}

/// The client's last packet, when it came after `line`'s packet (the
/// client was still there after the server said it).
fn client_after(info: &SessionInfo, line: &Evidence) -> Option<crate::flow::PacketRef> {
    info.client_last_packet.filter(|p| *p > line.packet)
}

/// The masked word on a capability line, for the summary.
fn masked_word(line: &[u8], protocol: Option<Protocol>) -> &[u8] {
    let keyword_len = match protocol {
        Some(Protocol::Pop3) => 4,
        _ => 8,
    };
    line.split(|b| matches!(b, b' ' | b'-' | b'[' | b']' | b'(' | b')'))
        .find(|w| crate::proto::words::is_masked_token(w, keyword_len, &["STARTTLS", "STLS"]))
        .unwrap_or(line)
}

/// More than half of the greeting text's characters are `*` (the ASA's
/// mask-banner keeps lengths and sometimes the digits 2 and 0).
pub fn banner_masked(greeting: &[u8]) -> bool {
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
