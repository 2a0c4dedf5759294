//! What a dialog showed on the wire: the facts the protocol state machines
//! record and the analysis layer turns into verdicts. Every fact carries its
//! evidence (side, packet, exact bytes).

use super::secrecy::SecretSpans;
use super::upgrade::UpgradeState;
use crate::flow::{PacketRef, PerSide, Side};

/// Capability lists kept per session (a client may send EHLO forever).
pub(crate) const MAX_CAPABILITY_LISTS: usize = 64;

/// Credentials kept per session.
pub(crate) const MAX_CREDENTIALS: usize = 256;

/// Longest excerpt kept as evidence (a line is cut, never buffered whole).
pub const EVIDENCE_BYTES: usize = 256;

/// Protocol of a session: mail, or another protocol with an in-band TLS
/// upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SMTP, submission included (ports 25, 465, 587, 2525 when the dialog does not tell).
    Smtp,
    /// IMAP (ports 143, 993 when the dialog does not tell).
    Imap,
    /// POP3 (ports 110, 995 when the dialog does not tell).
    Pop3,
    /// FTP's control connection with AUTH TLS (RFC 4217; ports 21, 990 when the dialog does
    /// not tell).
    Ftp,
    /// PostgreSQL's frontend/backend protocol with SSLRequest (port 5432 when the dialog does
    /// not tell).
    Postgresql,
    /// MySQL's and MariaDB's client/server protocol with SSLRequest (port 3306 when the dialog
    /// does not tell).
    Mysql,
    /// XMPP with `<starttls/>` (RFC 6120; ports 5222, 5269, and 5223 in TLS from the first byte,
    /// when the dialog does not tell).
    Xmpp,
    /// LMTP (RFC 2033): SMTP with LHLO, to a final delivery agent (port 24 when the dialog does
    /// not tell).
    Lmtp,
    /// LDAP with the StartTLS extended operation (RFC 4511 4.14, RFC 4513; port 389, and 636
    /// in TLS from the first byte; Active Directory's Global Catalog 3268, and 3269 in TLS;
    /// when the dialog does not tell).
    Ldap,
    /// ManageSieve (RFC 5804) with STARTTLS (port 4190 when the dialog does not tell).
    ManageSieve,
    /// NNTP with STARTTLS (RFC 4642; ports 119, 563 in TLS from the first byte, when the dialog
    /// does not tell).
    Nntp,
}

impl Protocol {
    /// The protocol a well-known port suggests.
    pub(crate) fn from_port(port: u16) -> Option<Protocol> {
        match port {
            25 | 465 | 587 | 2525 => Some(Protocol::Smtp),
            143 | 993 => Some(Protocol::Imap),
            110 | 995 => Some(Protocol::Pop3),
            21 | 990 => Some(Protocol::Ftp),
            5432 => Some(Protocol::Postgresql),
            3306 => Some(Protocol::Mysql),
            5222 | 5269 | 5223 => Some(Protocol::Xmpp),
            24 => Some(Protocol::Lmtp),
            389 | 636 | 3268 | 3269 => Some(Protocol::Ldap),
            4190 => Some(Protocol::ManageSieve),
            119 | 563 => Some(Protocol::Nntp),
            _ => None,
        }
    }

    /// Ports where the protocol runs inside TLS from the first byte
    /// (RFC 8314; FTPS 990, RFC 4217 does not define it but IANA lists it;
    /// XMPP's old-style SSL 5223; LDAPS 636 and the Global Catalog's 3269;
    /// NNTPS 563).
    pub(crate) fn implicit_tls_port(port: u16) -> bool {
        matches!(port, 465 | 993 | 995 | 990 | 5223 | 636 | 3269 | 563)
    }

    /// Every protocol.
    pub(crate) const ALL: [Protocol; 11] = [
        Protocol::Smtp,
        Protocol::Imap,
        Protocol::Pop3,
        Protocol::Ftp,
        Protocol::Postgresql,
        Protocol::Mysql,
        Protocol::Xmpp,
        Protocol::Lmtp,
        Protocol::Ldap,
        Protocol::ManageSieve,
        Protocol::Nntp,
    ];

    /// The protocol named `name` (as [`Self::name`] writes it).
    pub(crate) fn from_name(name: &str) -> Option<Protocol> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The upgrade keyword of the protocol named `name` (as a record writes
    /// it; `STARTTLS` for `unknown`).
    pub(crate) fn keyword_of(name: &str) -> &'static str {
        Self::from_name(name).map_or("STARTTLS", Protocol::starttls_keyword)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Ftp => "ftp",
            Protocol::Postgresql => "postgresql",
            Protocol::Mysql => "mysql",
            Protocol::Xmpp => "xmpp",
            Protocol::Lmtp => "lmtp",
            Protocol::Ldap => "ldap",
            Protocol::ManageSieve => "managesieve",
            Protocol::Nntp => "nntp",
        }
    }

    /// The STARTTLS keyword of the protocol (POP3 calls it STLS, FTP
    /// AUTH TLS, PostgreSQL SSLRequest, MySQL the CLIENT_SSL flag, XMPP `<starttls/>`, LDAP
    /// StartTLS, the extended operation).
    pub(crate) fn starttls_keyword(self) -> &'static str {
        match self {
            Protocol::Pop3 => "STLS",
            Protocol::Smtp | Protocol::Imap | Protocol::Lmtp => "STARTTLS",
            Protocol::Ftp => "AUTH TLS",
            Protocol::Postgresql => "SSLRequest",
            Protocol::Mysql => "CLIENT_SSL",
            Protocol::Xmpp => "<starttls/>",
            Protocol::Ldap => "StartTLS",
            Protocol::ManageSieve | Protocol::Nntp => "STARTTLS",
        }
    }
}

/// Exact bytes at a place in a stream: the proof behind a fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Evidence {
    pub side: Side,
    /// The packet that carried the first byte.
    pub packet: PacketRef,
    /// The bytes (a line without its terminator, cut at [`EVIDENCE_BYTES`]).
    pub bytes: Vec<u8>,
    /// From this offset on, `bytes` are a secret (password, token,
    /// challenge response) that outputs mask unless asked to reveal.
    pub secret_from: Option<usize>,
    /// Stream offset of the first byte, when the evidence is a line.
    pub offset: Option<u64>,
    /// The whole line's length (`bytes` may be cut).
    pub line_len: usize,
}

impl Evidence {
    pub(crate) fn new(side: Side, packet: PacketRef, bytes: &[u8]) -> Self {
        Evidence {
            side,
            packet,
            bytes: bytes.get(..EVIDENCE_BYTES).unwrap_or(bytes).to_vec(),
            secret_from: None,
            offset: None,
            line_len: bytes.len(),
        }
    }

    /// Evidence for a whole line, with its place in the stream and the
    /// secret part the driver found in it.
    pub(crate) fn from_line(side: Side, line: &super::lines::Line<'_>) -> Self {
        let mut e = Evidence::new(side, line.packet, line.bytes);
        e.offset = Some(line.offset);
        match line.secret_from {
            Some(at) => e.secret_from(at),
            None => e,
        }
    }

    /// The stream range of the secret part, when known: where the bytes
    /// to mask in the packets are.
    pub(crate) fn secret_span(&self) -> Option<(Side, u64, u64)> {
        let from = self.secret_from? as u64;
        let start = self.offset?;
        let end = start + self.line_len as u64;
        (start + from < end).then_some((self.side, start + from, end))
    }

    /// Marks everything from `offset` on as secret (a part already marked
    /// stays so).
    pub(crate) fn secret_from(mut self, offset: usize) -> Self {
        let offset = offset.min(self.bytes.len());
        self.secret_from = Some(self.secret_from.map_or(offset, |at| at.min(offset)));
        self
    }

    /// The bytes with the secret part overwritten by `*` (same length).
    pub(crate) fn redacted(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        if let Some(from) = self.secret_from {
            for b in bytes.iter_mut().skip(from) {
                *b = b'*';
            }
        }
        bytes
    }
}

/// A capability list that crossed the wire in cleartext: an SMTP EHLO
/// reply, an IMAP CAPABILITY response or `[CAPABILITY ...]` code, a POP3
/// CAPA reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CapabilityList {
    /// The first line of the list (or the line with the code).
    pub evidence: Evidence,
    /// STARTTLS (STLS in POP3) is among the capabilities.
    pub starttls: bool,
    /// A masked token stands where STARTTLS/STLS would be (the Cisco ASA
    /// writes `XXXXXXXA`): the line that carries it.
    pub masked_token: Option<Evidence>,
    /// SASL mechanisms offered (upper case).
    pub auth_mechanisms: Vec<String>,
    /// IMAP LOGINDISABLED.
    pub login_disabled: bool,
    /// An SMTP 5xx reply to EHLO: counts as a list without STARTTLS.
    pub refused: bool,
    /// The capabilities as they crossed (SMTP and POP3: each keyword line;
    /// IMAP: each token), for the server's history: at most
    /// [`MAX_CAPABILITY_ITEMS`] of at most [`MAX_CAPABILITY_ITEM_BYTES`].
    pub items: CapabilityItems,
}

/// Capability items kept per list (RFC 5321, 3501 and 2449 set no limit;
/// real servers send under 20).
pub(crate) const MAX_CAPABILITY_ITEMS: usize = 64;
/// Bytes kept of one capability item (an EHLO line is at most 512 octets,
/// RFC 5321 4.5.3.1.5; the start says what it is).
pub(crate) const MAX_CAPABILITY_ITEM_BYTES: usize = 128;

/// The items of a capability list as they crossed, in one buffer (a list
/// is kept per session and cloned into its record: two allocations, not
/// one per item).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CapabilityItems {
    bytes: Vec<u8>,
    /// Where each item ends in `bytes`.
    ends: Vec<u16>,
}

impl CapabilityItems {
    /// Adds one item, within [`MAX_CAPABILITY_ITEMS`] and
    /// [`MAX_CAPABILITY_ITEM_BYTES`]; an empty one is no item.
    pub(crate) fn note(&mut self, item: &[u8]) {
        if self.ends.len() < MAX_CAPABILITY_ITEMS && !item.is_empty() {
            let kept = item.get(..MAX_CAPABILITY_ITEM_BYTES).unwrap_or(item);
            self.bytes.extend_from_slice(kept);
            // At most 64 items of 128 bytes: the end fits.
            self.ends
                .push(u16::try_from(self.bytes.len()).unwrap_or(u16::MAX));
        }
    }

    /// The items, in the order sent.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).map(|(from, to)| {
            self.bytes
                .get(usize::from(from)..usize::from(to))
                .unwrap_or_default()
        })
    }
}

/// The server's answer to STARTTLS/STLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StarttlsAnswer {
    /// 220 / tagged OK / +OK: go ahead with TLS.
    Accepted,
    /// 454, 5xx / NO, BAD / -ERR.
    Rejected,
}

/// Facts of a TLS ClientHello or ServerHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsHello {
    /// Record-layer / legacy version, e.g. 0x0303.
    pub legacy_version: u16,
    /// The negotiated or highest offered version from supported_versions
    /// (TLS 1.3), when present.
    pub supported_version: Option<u16>,
    /// Server Name Indication (ClientHello).
    pub sni: Option<String>,
    /// The cipher suite chosen (ServerHello).
    pub cipher: Option<u16>,
}

impl TlsHello {
    /// The version in effect: supported_versions when present, else the
    /// legacy field.
    pub(crate) fn version(&self) -> u16 {
        self.supported_version.unwrap_or(self.legacy_version)
    }
}

/// The server's leaf certificate, as a TLS 1.2 (or older) handshake shows
/// it. The names are x509-parser's rendering (attributes in DER order,
/// `C=DE, O=Example, CN=host`), unescaped: whoever outputs them escapes
/// them. They and the expiry are `None` when x509-parser rejected the DER;
/// the fingerprint is always there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerCertificate {
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// notAfter, when it is a year 0000 to 9999.
    pub not_after: Option<crate::time::Timestamp>,
    /// SHA-256 of the leaf's DER as it crossed.
    pub sha256: [u8; 32],
}

/// A TLS version as text ("TLS 1.2").
pub(crate) fn tls_version_name(v: u16) -> String {
    match v {
        0x0200 => "SSL 2.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// How an authentication attempt ended, from the server's reply
/// (235/535, tagged OK/NO, +OK/-ERR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The server's final reply accepted it (SMTP 235, IMAP tagged OK, POP3 `+OK`).
    Success,
    /// Any other final reply (SMTP not 235, IMAP NO or BAD, POP3 `-ERR`), or the client cancelled
    /// the exchange.
    Failure,
    /// No final reply was matched to it: the capture ended first, the client began another
    /// exchange, or its command left a full pipeline queue.
    Unknown,
}

/// What kind of secret crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// A password in clear (PLAIN, LOGIN, IMAP LOGIN, USER/PASS).
    Password,
    /// A bearer token (XOAUTH2, OAUTHBEARER).
    Token,
    /// Challenge-response material: no password, but offline-crackable
    /// (CRAM-MD5, DIGEST-MD5, APOP, NTLM).
    ChallengeResponse,
    /// Nothing secret crossed (SCRAM, GSSAPI, EXTERNAL, a cancelled
    /// exchange, a username without password).
    None,
}

/// Credentials that crossed the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Credential {
    /// IANA SASL name (`PLAIN`, `CRAM-MD5`, ...), `IMAP-LOGIN`,
    /// `USER-PASS` or `APOP`.
    pub mechanism: String,
    /// Raw username bytes (escaped only when printed).
    pub username: Option<Vec<u8>>,
    pub secret_kind: SecretKind,
    /// The secret itself (password, token, or the challenge response).
    pub secret: Vec<u8>,
    /// The server's challenge for challenge-response mechanisms (CRAM-MD5's
    /// `<id@host>`, APOP's greeting timestamp, NTLM's server challenge,
    /// DIGEST-MD5's nonce), for hash export.
    pub challenge: Option<Vec<u8>>,
    /// Mechanism-specific fields needed to export a crackable hash
    /// (e.g. DIGEST-MD5's realm, cnonce, nc, qop, digest-uri; NTLM's
    /// domain), as (name, value) pairs.
    pub extra: Vec<(String, Vec<u8>)>,
    /// Crossed outside TLS.
    pub cleartext: bool,
    pub outcome: Outcome,
    /// The exchange was cancelled by the client (`*`).
    pub cancelled: bool,
    /// The lines that carried it (command, responses) and the server's
    /// verdict.
    pub evidence: Vec<Evidence>,
}

impl Credential {
    pub(crate) fn new(mechanism: &str) -> Self {
        Credential {
            mechanism: mechanism.to_string(),
            username: None,
            secret_kind: SecretKind::None,
            secret: Vec::new(),
            challenge: None,
            extra: Vec::new(),
            cleartext: true,
            outcome: Outcome::Unknown,
            cancelled: false,
            evidence: Vec::new(),
        }
    }
}

/// Odd things seen in the dialog that do not make a finding by themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DialogAnomaly {
    /// What was odd.
    pub kind: DialogAnomalyKind,
    /// Where.
    pub evidence: Evidence,
}

/// The kinds of [`DialogAnomaly`], named in the JSON as
/// [`DialogAnomalyKind::name`] says (docs/jsonl.md lists them all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialogAnomalyKind {
    /// More commands awaited an answer than the pipeline queue holds (see
    /// [`super::pending`]): answers may be matched to the wrong command.
    PipelineOverflow,
    /// An SMTP reply line without a valid reply code.
    SmtpUnparsableReply,
    /// A multi-line SMTP reply whose lines carry different codes.
    SmtpReplyCodeChanges,
    /// Replies and commands fell out of step and were matched again.
    SmtpReplyResynchronised,
    /// An IMAP server line that is no valid response.
    ImapUnparsableResponse,
    /// Credentials past the per-session cap (counted, not listed).
    CredentialsDropped,
    /// A client's TLS record after the server's cleartext greeting.
    TlsAfterCleartextGreeting,
    /// A TLS stream that stopped parsing as TLS records.
    TlsStreamDesynchronised,
    /// An upgrade event the lifecycle does not expect in its state (see
    /// [`super::upgrade::transition`]).
    UpgradeOutOfOrder,
    /// An LDAP message whose BER header cannot be read (a bad tag, an
    /// indefinite length, over [`super::ldap::MAX_MESSAGE`]): that side is
    /// read no further.
    LdapUnreadableMessage,
    /// The dialog's reader stopped moving through a side's bytes (a fault
    /// of stripwatch's machines that the bytes reached, never expected):
    /// that side is read no further rather than looping.
    ReadingStalled,
}

impl DialogAnomalyKind {
    /// Every kind.
    #[cfg(test)]
    pub(crate) const ALL: [DialogAnomalyKind; 11] = [
        DialogAnomalyKind::PipelineOverflow,
        DialogAnomalyKind::SmtpUnparsableReply,
        DialogAnomalyKind::SmtpReplyCodeChanges,
        DialogAnomalyKind::SmtpReplyResynchronised,
        DialogAnomalyKind::ImapUnparsableResponse,
        DialogAnomalyKind::CredentialsDropped,
        DialogAnomalyKind::TlsAfterCleartextGreeting,
        DialogAnomalyKind::TlsStreamDesynchronised,
        DialogAnomalyKind::UpgradeOutOfOrder,
        DialogAnomalyKind::LdapUnreadableMessage,
        DialogAnomalyKind::ReadingStalled,
    ];

    /// Its name in every output (`pipeline-overflow`, ...).
    pub(crate) fn name(self) -> &'static str {
        match self {
            DialogAnomalyKind::PipelineOverflow => "pipeline-overflow",
            DialogAnomalyKind::SmtpUnparsableReply => "smtp-unparsable-reply",
            DialogAnomalyKind::SmtpReplyCodeChanges => "smtp-reply-code-changes",
            DialogAnomalyKind::SmtpReplyResynchronised => "smtp-reply-resynchronised",
            DialogAnomalyKind::ImapUnparsableResponse => "imap-unparsable-response",
            DialogAnomalyKind::CredentialsDropped => "credentials-dropped",
            DialogAnomalyKind::TlsAfterCleartextGreeting => "tls-after-cleartext-greeting",
            DialogAnomalyKind::TlsStreamDesynchronised => "tls-stream-desynchronised",
            DialogAnomalyKind::UpgradeOutOfOrder => "upgrade-out-of-order",
            DialogAnomalyKind::LdapUnreadableMessage => "ldap-unreadable-message",
            DialogAnomalyKind::ReadingStalled => "reading-stalled",
        }
    }
}

impl std::fmt::Display for DialogAnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything the dialog showed.
#[derive(Clone, Debug, Default)]
pub(crate) struct DialogFacts {
    pub protocol: Option<Protocol>,
    /// The dialog is not SMTP, IMAP or POP3, and what showed it (binary,
    /// a `220` greeting not followed by SMTP, text none of them speaks): no
    /// port makes it one.
    pub not_mail: Option<&'static str>,
    /// The greeting's first line.
    pub greeting: Option<Evidence>,
    /// IMAP `* PREAUTH` greeting.
    pub preauth: Option<Evidence>,
    /// Capability lists seen in cleartext, in order.
    pub capabilities: Vec<CapabilityList>,
    /// SMTP: EHLO refused (5xx), then HELO: (the refusal, the HELO).
    pub helo_fallback: Option<(Evidence, Evidence)>,
    /// The client's STARTTLS/STLS command.
    pub starttls_command: Option<Evidence>,
    /// The server's (latest) answer to it.
    pub starttls_answer: Option<(StarttlsAnswer, Evidence)>,
    /// The first time the server refused STARTTLS (a client may retry).
    pub starttls_refusal: Option<Evidence>,
    /// A client command of the length of STARTTLS/STLS made of one repeated
    /// character, and the server's refusal of it.
    pub tampered_command: Option<(Evidence, Option<Evidence>)>,
    /// Client bytes after STARTTLS, sent before the server's answer.
    pub command_injection: Option<Evidence>,
    /// Server bytes after its go-ahead, sent before the client's next byte.
    pub response_injection: Option<Evidence>,
    /// Cleartext the client sent after the go-ahead instead of TLS.
    pub cleartext_after_go_ahead: Option<Evidence>,
    /// The session's first client payload is a TLS record (whatever the
    /// port, and whatever the server sent before).
    pub implicit_tls: bool,
    /// Where the STARTTLS upgrade ended (see [`super::upgrade`]).
    pub upgrade: UpgradeState,
    pub client_hello: Option<(Evidence, TlsHello)>,
    pub server_hello: Option<(Evidence, TlsHello)>,
    /// The server's leaf certificate (TLS 1.2 or older), with the packet
    /// that completed its Certificate message.
    pub server_certificate: Option<(Evidence, ServerCertificate)>,
    pub credentials: Vec<Credential>,
    /// Credentials past [`MAX_CREDENTIALS`]: counted, not listed (their
    /// bytes are masked all the same).
    pub credentials_not_listed: u64,
    /// The first cleartext client command that matters (authentication or
    /// mail/mailbox access), before any STARTTLS.
    pub sensitive_command: Option<Evidence>,
    pub anomalies: Vec<DialogAnomaly>,
    /// Lines ended by a bare LF, per side [client, server].
    pub bare_lf_lines: PerSide<u64>,
    /// Lines cut at the line limit, per side.
    pub long_lines: PerSide<u64>,
    /// Bytes the parser could not interpret, per side.
    pub unparsed_lines: PerSide<u64>,
    /// Secret stream ranges: what the [`super::secrecy::SecretGuard`]
    /// marked, and what the protocol machines marked themselves.
    pub secret_spans: SecretSpans,
}

impl DialogFacts {
    /// STARTTLS offered: true if any cleartext list had it, false if lists
    /// crossed and none had it, `None` if no list crossed.
    pub(crate) fn starttls_offered(&self) -> Option<bool> {
        if self.capabilities.is_empty() {
            None
        } else {
            Some(self.capabilities.iter().any(|c| c.starttls))
        }
    }

    /// The capability list that decides the STARTTLS verdict: the last one
    /// that crossed before the first sensitive command (what the client had
    /// seen when it went on in cleartext), else the last one of the session.
    /// Lists after that command (an IMAP server's post-login list) decide
    /// nothing.
    pub(crate) fn decisive_capabilities(&self) -> Option<&CapabilityList> {
        self.last_capabilities_before_sensitive(|_| true)
    }

    /// The last list offering STARTTLS before the first sensitive command,
    /// else the first one offering it.
    pub(crate) fn decisive_offer(&self) -> Option<&CapabilityList> {
        self.last_capabilities_before_sensitive(|c| c.starttls)
            .or_else(|| self.capabilities.iter().find(|c| c.starttls))
    }

    fn last_capabilities_before_sensitive(
        &self,
        wanted: impl Fn(&CapabilityList) -> bool,
    ) -> Option<&CapabilityList> {
        let before = |c: &&CapabilityList| {
            self.sensitive_command
                .as_ref()
                .is_none_or(|s| c.evidence.packet <= s.packet)
        };
        let mut lists = self.capabilities.iter().filter(|c| wanted(c));
        lists.clone().rfind(before).or_else(|| lists.next())
    }

    /// ClientHello and ServerHello both seen.
    pub(crate) fn tls_established(&self) -> bool {
        self.client_hello.is_some() && self.server_hello.is_some()
    }

    /// Records a capability list. Past [`MAX_CAPABILITY_LISTS`] only a list
    /// that changes the STARTTLS verdict is kept (in place of the last).
    pub(crate) fn add_capabilities(&mut self, list: CapabilityList) {
        if self.capabilities.len() < MAX_CAPABILITY_LISTS {
            self.capabilities.push(list);
        } else if list.starttls && self.starttls_offered() != Some(true) {
            if let Some(last) = self.capabilities.last_mut() {
                *last = list;
            }
        }
    }

    /// Records a credential; past [`MAX_CREDENTIALS`] it is counted (and
    /// noted as an anomaly) instead.
    pub(crate) fn add_credential(&mut self, credential: Credential) {
        if self.credentials.len() < MAX_CREDENTIALS {
            self.credentials.push(credential);
        } else {
            self.credentials_not_listed += 1;
            if let Some(last) = credential.evidence.last() {
                self.anomaly(DialogAnomalyKind::CredentialsDropped, last.clone());
            }
        }
    }

    /// Marks a client line as secret from `offset` on, records where its
    /// secret bytes are (for evidence export, whatever credential comes of
    /// it: a Kerberos token is no password, but it is no one's business),
    /// and returns it.
    pub(crate) fn secret_line(&mut self, evidence: Evidence, offset: usize) -> Evidence {
        let evidence = evidence.secret_from(offset);
        if let Some(span) = evidence.secret_span() {
            self.add_secret_span(span);
        }
        evidence
    }

    /// Records a secret's stream range.
    pub(crate) fn add_secret_span(&mut self, (side, start, end): (Side, u64, u64)) {
        self.secret_spans.add(side, start, end);
    }

    /// Every secret's stream range: what was marked, and the secret parts
    /// of evidence lines.
    pub(crate) fn all_secret_spans(&self) -> SecretSpans {
        let mut spans = self.secret_spans.clone();
        let lines = self
            .credentials
            .iter()
            .flat_map(|c| c.evidence.iter())
            .chain(self.sensitive_command.iter())
            .chain(self.command_injection.iter())
            .chain(self.cleartext_after_go_ahead.iter());
        for (side, start, end) in lines.filter_map(Evidence::secret_span) {
            spans.add(side, start, end);
        }
        spans
    }

    /// Records an anomaly, keeping at most a few of each kind.
    pub(crate) fn anomaly(&mut self, kind: DialogAnomalyKind, evidence: Evidence) {
        if self.anomalies.iter().filter(|a| a.kind == kind).count() < 4 {
            self.anomalies.push(DialogAnomaly { kind, evidence });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        CapabilityItems, DialogAnomalyKind, MAX_CAPABILITY_ITEM_BYTES, MAX_CAPABILITY_ITEMS,
    };

    /// Items come back in order, cut at their byte limit, empty ones
    /// skipped, none past the item limit.
    #[test]
    fn capability_items_keep_order_within_limits() {
        let mut items = CapabilityItems::default();
        items.note(b"PIPELINING");
        items.note(b"");
        items.note(&[b'A'; 300]);
        items.note(b"STARTTLS");
        let got: Vec<&[u8]> = items.iter().collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], b"PIPELINING");
        assert_eq!(got[1], &[b'A'; MAX_CAPABILITY_ITEM_BYTES][..]);
        assert_eq!(got[2], b"STARTTLS");
        for _ in 0..100 {
            items.note(&[b'B'; MAX_CAPABILITY_ITEM_BYTES]);
        }
        assert_eq!(items.iter().count(), MAX_CAPABILITY_ITEMS);
        assert_eq!(items.iter().next(), Some(&b"PIPELINING"[..]));
    }

    /// docs/jsonl.md names every dialog anomaly kind, and no other.
    #[test]
    fn docs_list_every_dialog_anomaly_kind() {
        let doc = include_str!("../../docs/jsonl.md");
        let row = doc
            .lines()
            .find(|l| l.starts_with("| `dialog_anomalies`"))
            .expect("docs/jsonl.md has a dialog_anomalies row");
        let named: Vec<&str> = row
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| w.contains('-') && !w.contains(' '))
            .collect();
        let kinds: Vec<&str> = DialogAnomalyKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(named, kinds, "docs/jsonl.md's dialog_anomalies row");
        for kind in DialogAnomalyKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
    }
}
