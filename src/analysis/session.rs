//! The session record: what the report says about one session, built from
//! its transport facts and its dialog.

use super::findings::{EvidenceRecord, Finding, FindingKind, RuleInput, session_findings};
use super::record::{
    AnomalyRecord, ConflictSecrets, Locator, Observability, TransportRecord, conflict_anomalies,
    conflict_secret_spans, transport_observability,
};
use crate::flow::{EndReason, PerSide, SessionInfo, Side};
use crate::proto::secrecy::SecretSpans;
use crate::proto::{
    DialogFacts, Evidence, Outcome, Protocol, SecretKind, ServerCertificate, StarttlsAnswer,
    TlsHello, tls_version_name,
};
use crate::text;
use serde::{Serialize, Serializer};

/// The STARTTLS lifecycle of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StarttlsRecord {
    /// True if a cleartext capability list had STARTTLS/STLS, false if lists
    /// crossed and none had it, null if none crossed.
    pub offered: Option<bool>,
    /// The client sent STARTTLS/STLS.
    pub requested: bool,
    /// The server's answer; null when not requested or not seen.
    pub accepted: Option<bool>,
    /// ClientHello and ServerHello both seen.
    pub tls_established: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct HelloRecord {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
}

impl HelloRecord {
    fn build(hello: &TlsHello) -> Self {
        HelloRecord {
            version: tls_version_name(hello.version()),
            sni: hello.sni.as_deref().map(|s| text::escape(s.as_bytes())),
            cipher: hello
                .cipher
                .map(|c| match crate::proto::tls::cipher_name(c) {
                    Some(name) => name.to_string(),
                    None => format!("0x{c:04x}"),
                }),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_hello: Option<HelloRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hello: Option<HelloRecord>,
    /// The server's leaf certificate, when the handshake showed it (TLS 1.2
    /// or older).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server_certificate: Option<CertificateRecord>,
}

/// The server's leaf certificate as reported: names escaped, the
/// fingerprint in lowercase hex.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CertificateRecord {
    /// x509-parser's rendering (`C=DE, O=Example, CN=host`); null when the
    /// DER could not be parsed.
    pub subject: Option<String>,
    /// Same form as `subject`.
    pub issuer: Option<String>,
    /// notAfter (RFC 3339), when parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// SHA-256 of the leaf's DER, 64 lowercase hex digits.
    pub sha256: String,
}

impl CertificateRecord {
    fn build(certificate: &ServerCertificate) -> Self {
        let name = |n: &Option<String>| n.as_deref().map(|n| text::escape(n.as_bytes()));
        CertificateRecord {
            subject: name(&certificate.subject),
            issuer: name(&certificate.issuer),
            not_after: certificate.not_after.map(|t| t.to_string()),
            sha256: certificate
                .sha256
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    }
}

/// A credential as reported: the username shown, the secret masked unless
/// revealed.
#[derive(Clone, Debug, Serialize)]
pub struct CredentialRecord {
    pub mechanism: String,
    pub username: Option<String>,
    pub cleartext: bool,
    pub outcome: Outcome,
    pub secret_kind: SecretKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// Placeholder for a masked secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Line-level oddities of the dialog, per side.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DialogStats {
    pub bare_lf_lines: PerSide<u64>,
    pub long_lines: PerSide<u64>,
    pub unparsed_lines: PerSide<u64>,
}

/// A dialog anomaly with its evidence.
#[derive(Clone, Debug, Serialize)]
pub struct DialogAnomalyRecord {
    pub kind: crate::proto::DialogAnomalyKind,
    pub evidence: EvidenceRecord,
}

/// What the cross-session proof of stripping needs.
#[derive(Clone, Debug, Default)]
pub struct StrippingFacts {
    /// The first capability list with STARTTLS (this session offered it).
    pub offer: Option<EvidenceRecord>,
    /// This session's list lacked STARTTLS with no mask on it: another
    /// session to the same server that offered it would prove stripping.
    pub unproven_absence: Option<EvidenceRecord>,
}

/// What the server said in cleartext, for its history (not written with
/// the session: the `server_observation` lines carry it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerSaid {
    /// The greeting line as it crossed (at most `EVIDENCE_BYTES`; escaped when written).
    pub banner: Option<Vec<u8>>,
    /// The decisive capability list's items as they crossed, in the order sent (escaped when
    /// written).
    pub capabilities: crate::proto::facts::CapabilityItems,
}

impl ServerSaid {
    fn build(facts: &DialogFacts) -> Self {
        ServerSaid {
            banner: facts.greeting.as_ref().map(|g| g.bytes.clone()),
            capabilities: facts
                .decisive_capabilities()
                .map(|c| c.items.clone())
                .unwrap_or_default(),
        }
    }
}

/// Where a session's packets are, to write them out again (evidence
/// export): its four-tuple, first and last packet, where each side's
/// stream starts in sequence space, and which stream bytes are secret.
#[derive(Clone, Debug)]
pub struct CaptureRef {
    pub client: crate::flow::Endpoint,
    pub server: crate::flow::Endpoint,
    pub first: crate::flow::PacketRef,
    pub last: crate::flow::PacketRef,
    pub stream_start: PerSide<Option<u32>>,
    pub secret_spans: SecretSpans,
}

/// The report's entry for one session.
#[derive(Clone, Debug, Serialize)]
pub struct SessionRecord {
    /// Unique in the run, 1-based, in the order sessions started (first packet); the `session` of
    /// its findings.
    pub id: u64,
    /// `smtp`, `imap` or `pop3` as the dialog showed it, else as the server's port suggests;
    /// `unknown` for a dialog that is not mail, whatever the port.
    pub protocol: &'static str,
    /// The side that opened the connection (see `roles_from` for how it was told).
    pub client: crate::flow::Endpoint,
    /// The side the SYN went to (without a handshake: the mail port, or the first speaker).
    pub server: crate::flow::Endpoint,
    /// The session was TLS from its first bytes, with no STARTTLS before (RFC 8314; any port).
    pub implicit_tls: bool,
    /// The STARTTLS lifecycle: offered, requested, accepted, TLS established.
    pub starttls: StarttlsRecord,
    /// The TLS hellos seen (version, SNI, cipher); `None` when neither hello was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsRecord>,
    /// One per authentication attempt, in the order each was settled, at most 256
    /// (`MAX_CREDENTIALS`): the rest are counted in `credentials_not_listed`.
    pub credentials: Vec<CredentialRecord>,
    /// Credentials that crossed past the per-session cap: counted, not
    /// listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub credentials_not_listed: u64,
    /// Finding kinds, in order; the full findings are in the report's list.
    #[serde(serialize_with = "finding_kinds")]
    pub findings: Vec<Finding>,
    /// What the capture could not show (gaps, mid-stream pickup, one side missing, ...).
    pub observability: Vec<Observability>,
    /// Transport facts: first and last packet, per-direction counters, how the session ended
    /// (flattened into the record's JSON).
    #[serde(flatten)]
    pub transport: TransportRecord,
    /// Lines ended by LF alone, over-long lines and lines the parser did not understand, per side.
    pub dialog: DialogStats,
    /// Transport anomalies (conflicting retransmissions, both versions).
    pub anomalies: Vec<AnomalyRecord>,
    /// Odd things in the dialog that make no finding by themselves.
    pub dialog_anomalies: Vec<DialogAnomalyRecord>,
    /// The capability lists the cross-session proof of stripping needs (not written).
    #[serde(skip)]
    pub stripping: StrippingFacts,
    /// Where the session's packets are, for the evidence export (not written).
    #[serde(skip)]
    pub capture: CaptureRef,
    /// What the server said in cleartext, for its history (not written).
    #[serde(skip)]
    pub(crate) server_said: ServerSaid,
    /// Crackable lines of its challenge-response credentials.
    #[serde(skip)]
    pub hashes: Vec<super::hashes::HashLine>,
    /// What ended it, to order records from several threads.
    #[serde(skip)]
    pub closed_by: crate::flow::CloseKey,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn finding_kinds<S: Serializer>(findings: &[Finding], s: S) -> Result<S::Ok, S::Error> {
    let mut kinds: Vec<FindingKind> = findings.iter().map(|f| f.kind).collect();
    kinds.dedup();
    s.collect_seq(kinds)
}

impl SessionRecord {
    /// Builds the record of an ended session.
    pub(crate) fn build(
        info: &SessionInfo,
        facts: &DialogFacts,
        locator: &Locator,
        show_secrets: bool,
    ) -> Self {
        let protocol = reported_protocol(info, facts);
        let starttls = StarttlsRecord::build(facts);
        let input = RuleInput {
            info,
            facts,
            protocol,
            locator,
            show_secrets,
        };
        let mut findings = session_findings(&input);
        findings.sort_by_key(|f| f.kind);
        let mut observability = transport_observability(info);
        observability.extend(dialog_observability(info, facts, protocol));
        let secret_spans = session_secret_spans(info, facts);
        let conflict_secrets = ConflictSecrets {
            spans: &secret_spans,
            protocol: facts.protocol,
            show_secrets,
        };
        let anomalies = conflict_anomalies(info, locator, &conflict_secrets);
        let evidence = |e: &Evidence| EvidenceRecord::build(e, locator, show_secrets);
        SessionRecord {
            id: info.id,
            protocol: protocol.map_or("unknown", Protocol::name),
            client: info.client,
            server: info.server,
            implicit_tls: facts.implicit_tls,
            starttls,
            tls: TlsRecord::build(facts),
            credentials: credential_records(facts, show_secrets),
            credentials_not_listed: facts.credentials_not_listed,
            findings,
            observability,
            transport: TransportRecord::build(info, locator),
            dialog: DialogStats::build(facts),
            anomalies,
            dialog_anomalies: facts
                .anomalies
                .iter()
                .map(|a| DialogAnomalyRecord {
                    kind: a.kind,
                    evidence: evidence(&a.evidence),
                })
                .collect(),
            stripping: StrippingFacts::build(facts, starttls, evidence),
            server_said: ServerSaid::build(facts),
            capture: CaptureRef {
                client: info.client,
                server: info.server,
                first: info.first_packet,
                last: info.last_packet,
                stream_start: info.stream_start,
                secret_spans,
            },
            hashes: facts
                .credentials
                .iter()
                .filter(|c| c.cleartext)
                .filter_map(super::hashes::hash_line)
                .collect(),
            closed_by: info.closed_by,
        }
    }
}

/// The protocol the report names. The port says it only when the dialog
/// did not rule mail out (no payload, TLS from the start, lines not
/// understood).
fn reported_protocol(info: &SessionInfo, facts: &DialogFacts) -> Option<Protocol> {
    match facts.not_mail {
        Some(_) => None,
        None => facts
            .protocol
            .or_else(|| Protocol::from_port(info.server.port)),
    }
}

impl StarttlsRecord {
    fn build(facts: &DialogFacts) -> Self {
        StarttlsRecord {
            offered: facts.starttls_offered(),
            requested: facts.starttls_command.is_some(),
            accepted: facts
                .starttls_answer
                .as_ref()
                .map(|(a, _)| *a == StarttlsAnswer::Accepted),
            tls_established: facts.tls_established(),
        }
    }
}

impl TlsRecord {
    /// The hellos seen, if any was.
    fn build(facts: &DialogFacts) -> Option<Self> {
        let hello = |h: &Option<(_, TlsHello)>| h.as_ref().map(|(_, h)| HelloRecord::build(h));
        (facts.client_hello.is_some() || facts.server_hello.is_some()).then(|| TlsRecord {
            client_hello: hello(&facts.client_hello),
            server_hello: hello(&facts.server_hello),
            server_certificate: facts
                .server_certificate
                .as_ref()
                .map(|(_, c)| CertificateRecord::build(c)),
        })
    }
}

/// The credentials as reported: usernames escaped, secrets masked unless
/// `show_secrets`.
fn credential_records(facts: &DialogFacts, show_secrets: bool) -> Vec<CredentialRecord> {
    facts
        .credentials
        .iter()
        .map(|c| CredentialRecord {
            mechanism: c.mechanism.clone(),
            username: c.username.as_deref().map(text::escape),
            cleartext: c.cleartext,
            outcome: c.outcome,
            secret_kind: c.secret_kind,
            secret: (c.secret_kind != SecretKind::None).then(|| {
                if show_secrets {
                    text::escape(&c.secret)
                } else {
                    REDACTED.to_string()
                }
            }),
            cancelled: c.cancelled,
        })
        .collect()
}

/// Every stream span that may hold a secret: the dialog's, those in
/// conflicting retransmissions, and the client bytes never read.
fn session_secret_spans(info: &SessionInfo, facts: &DialogFacts) -> SecretSpans {
    let mut spans = facts.all_secret_spans();
    conflict_secret_spans(info, facts.protocol, &mut spans);
    // Client bytes past what the stream delivered (after its FIN, out
    // of the window) were never read: nothing says they are no secret.
    let client = &info.sides[Side::Client].stream;
    spans.add(
        Side::Client,
        client.delivered_bytes + client.gap_bytes,
        u64::MAX,
    );
    spans
}

impl DialogStats {
    fn build(facts: &DialogFacts) -> Self {
        DialogStats {
            bare_lf_lines: facts.bare_lf_lines,
            long_lines: facts.long_lines,
            unparsed_lines: facts.unparsed_lines,
        }
    }
}

impl StrippingFacts {
    fn build(
        facts: &DialogFacts,
        starttls: StarttlsRecord,
        evidence: impl Fn(&Evidence) -> EvidenceRecord,
    ) -> Self {
        let masked = facts.capabilities.iter().any(|c| c.masked_token.is_some());
        StrippingFacts {
            offer: facts
                .capabilities
                .iter()
                .find(|c| c.starttls)
                .map(|c| evidence(&c.evidence)),
            unproven_absence: (starttls.offered == Some(false) && !masked)
                .then(|| facts.decisive_capabilities())
                .flatten()
                .map(|c| evidence(&c.evidence)),
        }
    }
}

/// What the dialog could not show.
fn dialog_observability(
    info: &SessionInfo,
    f: &DialogFacts,
    protocol: Option<Protocol>,
) -> Vec<Observability> {
    let mut out = Vec::new();
    let note = |kind: &'static str, side: Option<Side>, detail: String| Observability {
        kind,
        side,
        detail,
    };
    let payload = info.sides.iter().any(|(_, s)| s.payload_bytes > 0);
    if payload && f.protocol.is_none() && !f.implicit_tls {
        let seen = f.not_mail.map_or(String::new(), |s| format!(" ({s})"));
        out.push(note(
            "protocol-not-recognised",
            None,
            format!("no SMTP, IMAP or POP3 greeting or command was recognised{seen}"),
        ));
    }
    let cleartext_dialog = f.greeting.is_some() || f.sensitive_command.is_some();
    if cleartext_dialog && f.capabilities.is_empty() && !f.implicit_tls {
        let kw = protocol.map_or("STARTTLS", Protocol::starttls_keyword);
        out.push(note(
            "capabilities-not-seen",
            None,
            format!("no capability list crossed in cleartext, so whether the server offers {kw} is not visible"),
        ));
    }
    if f.credentials_not_listed > 0 {
        out.push(note(
            "credentials-not-listed",
            Some(Side::Client),
            format!(
                "{} more authentication attempts crossed than the {} listed (their bytes are masked all the same)",
                f.credentials_not_listed,
                f.credentials.len()
            ),
        ));
    }
    if f.starttls_command.is_some() && f.starttls_answer.is_none() {
        out.push(note(
            "starttls-answer-not-seen",
            Some(Side::Server),
            "the client requested TLS but the server's answer is not in the capture".into(),
        ));
    }
    if capture_ends_at_go_ahead(info, f) {
        out.push(note(
            "tls-not-observed",
            None,
            "the server accepted STARTTLS but the capture ends before the client's next bytes"
                .into(),
        ));
    }
    if f.client_hello.is_some() != f.server_hello.is_some() {
        let missing = if f.client_hello.is_none() {
            Side::Client
        } else {
            Side::Server
        };
        out.push(note(
            "tls-handshake-incomplete",
            Some(missing),
            format!("the TLS {} hello is not in the capture", missing.name()),
        ));
    }
    out
}

/// The server accepted STARTTLS, and the capture ends (the session neither
/// closed nor heard from the client again) before the client's next bytes
/// could show TLS or cleartext.
fn capture_ends_at_go_ahead(info: &SessionInfo, f: &DialogFacts) -> bool {
    let Some((StarttlsAnswer::Accepted, answer)) = &f.starttls_answer else {
        return false;
    };
    let closed = matches!(info.end, EndReason::Fin | EndReason::Rst);
    let client_after = info.client_last_packet.is_some_and(|p| p > answer.packet);
    f.client_hello.is_none() && f.cleartext_after_go_ahead.is_none() && !closed && !client_after
}
