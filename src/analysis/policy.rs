//! What given servers must do (`--policy FILE`, TOML): offer STARTTLS,
//! never receive credentials in cleartext, speak implicit TLS only. A
//! session that breaks a rule gets the finding it deserves, with the policy
//! as its proof (`proof: policy`, `policy: <rule name>`).
//!
//! ```toml
//! [[servers]]
//! name = "our-mx"
//! addresses = ["192.0.2.0/24", "2001:db8::25"]
//! ports = [25, 587]          # optional: every port
//! protocols = ["smtp"]       # optional: every protocol
//! must_offer_starttls = true
//! no_cleartext_credentials = true
//! implicit_tls_only = false
//! ```

use super::findings::{EvidenceRecord, Finding, FindingKind, Proof, Severity};
use super::session::SessionRecord;
use crate::flow::{Endpoint, Side};
use crate::text;
use ipnet::IpNet;
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// Largest policy file read (a policy is a few rules; a bigger file is a
/// mistake, not a policy).
pub(crate) const MAX_POLICY_BYTES: u64 = 1 << 20;

/// A policy: rules, each for a set of servers.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    rules: Vec<PolicyRule>,
}

/// One rule: the servers it covers and what they must do.
#[derive(Clone, Debug)]
pub(crate) struct PolicyRule {
    name: String,
    networks: Vec<IpNet>,
    ports: Vec<u16>,
    protocols: Vec<String>,
    must_offer_starttls: bool,
    no_cleartext_credentials: bool,
    implicit_tls_only: bool,
}

/// The file's layout.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    servers: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    addresses: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    protocols: Vec<String>,
    #[serde(default)]
    must_offer_starttls: bool,
    #[serde(default)]
    no_cleartext_credentials: bool,
    #[serde(default)]
    implicit_tls_only: bool,
}

/// Why a policy could not be read.
#[derive(Debug)]
pub struct PolicyError(String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    /// Reads the policy in `path`.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        use std::io::Read;
        let shown = text::escape(path.as_os_str().as_encoded_bytes());
        let fail = |what: String| PolicyError(format!("policy {shown}: {what}"));
        let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_POLICY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(e.to_string()))?;
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(fail(format!("larger than {MAX_POLICY_BYTES} bytes")));
        }
        let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".into()))?;
        Policy::parse(&text).map_err(|e| fail(e.0))
    }

    /// The policy in `text` (TOML).
    pub(crate) fn parse(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError(e.to_string().trim_end().to_string()))?;
        let rules = file
            .servers
            .into_iter()
            .map(PolicyRule::build)
            .collect::<Result<_, _>>()?;
        Ok(Policy { rules })
    }

    /// Applies every rule that covers the session's server, in the policy's order;
    /// `offer_in_run`: a session of the run offered STARTTLS (that proves a missing offer
    /// better than the policy).
    pub(crate) fn apply(&self, record: &mut SessionRecord, offer_in_run: bool) {
        let (server, protocol) = (record.server, record.protocol);
        for rule in self.rules.iter().filter(|r| r.covers(server, protocol)) {
            rule.apply(record, offer_in_run);
        }
    }

    /// Whether the policy has no rule.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl PolicyRule {
    fn build(f: RuleFile) -> Result<PolicyRule, PolicyError> {
        let fail = |what: String| PolicyError(format!("rule {:?}: {what}", f.name));
        if f.addresses.is_empty() {
            return Err(fail("`addresses` is empty".into()));
        }
        if !(f.must_offer_starttls || f.no_cleartext_credentials || f.implicit_tls_only) {
            return Err(fail(
                "requires nothing (set must_offer_starttls, no_cleartext_credentials or implicit_tls_only)"
                    .into(),
            ));
        }
        let mut networks = Vec::new();
        for a in &f.addresses {
            let net = match a.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => a
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| fail(format!("{a:?} is not an address or CIDR block")))?,
            };
            networks.push(net.trunc());
        }
        for p in &f.protocols {
            if crate::proto::Protocol::from_name(p).is_none() {
                return Err(fail(format!(
                    "unknown protocol {p:?} (smtp, imap, pop3, ftp, postgresql, mysql, xmpp, lmtp, ldap, managesieve or nntp)"
                )));
            }
        }
        Ok(PolicyRule {
            name: f.name.clone(),
            networks,
            ports: f.ports,
            protocols: f.protocols,
            must_offer_starttls: f.must_offer_starttls,
            no_cleartext_credentials: f.no_cleartext_credentials,
            implicit_tls_only: f.implicit_tls_only,
        })
    }

    fn covers(&self, server: Endpoint, protocol: &str) -> bool {
        self.networks.iter().any(|n| n.contains(&server.ip))
            && (self.ports.is_empty() || self.ports.contains(&server.port))
            && (self.protocols.is_empty() || self.protocols.iter().any(|p| p == protocol))
    }

    fn apply(&self, record: &mut SessionRecord, offer_in_run: bool) {
        if self.must_offer_starttls && !offer_in_run {
            self.require_offer(record);
        }
        if self.no_cleartext_credentials {
            self.forbid_cleartext_credentials(record);
        }
        if self.implicit_tls_only {
            self.require_implicit_tls(record);
        }
        record.findings.sort_by_key(|f| f.kind);
    }

    fn shown_name(&self) -> String {
        text::escape(self.name.as_bytes())
    }

    /// A capability list without STARTTLS that nothing else proved
    /// stripped: the policy proves it.
    fn require_offer(&self, record: &mut SessionRecord) {
        let Some(absence) = record.stripping.unproven_absence.take() else {
            return;
        };
        let keyword = crate::proto::Protocol::keyword_of(record.protocol);
        let mut finding = Finding::new(
            FindingKind::StarttlsStripped,
            FindingKind::StarttlsStripped.rule().severity,
            record.id,
            format!(
                "the capability list from {} reached this capture without {keyword}, which policy `{}` \
                 requires of this server: it was removed on the path, or the server breaks the policy",
                record.server,
                self.shown_name()
            ),
            vec![absence],
        )
        .proven_by(Proof::Policy);
        finding.policy = Some(self.name.clone());
        record
            .findings
            .retain(|f| f.kind != FindingKind::NoStarttlsOffered);
        record.findings.push(finding);
    }

    /// Credentials in cleartext to a server that must never receive them:
    /// high at least, the policy named.
    fn forbid_cleartext_credentials(&self, record: &mut SessionRecord) {
        for f in record.findings.iter_mut().filter(|f| {
            matches!(
                f.kind,
                FindingKind::CleartextCredentials | FindingKind::WeakCredentialsExposed
            ) && f.policy.is_none()
        }) {
            f.severity = f.severity.max(Severity::High);
            f.proof = Some(Proof::Policy);
            f.policy = Some(self.name.clone());
            f.summary.push_str(&format!(
                " (policy `{}` forbids credentials in cleartext to this server)",
                self.shown_name()
            ));
        }
    }

    /// A session that did not start in TLS, to a server that must speak
    /// implicit TLS only.
    fn require_implicit_tls(&self, record: &mut SessionRecord) {
        let spoke = record.starttls.offered.is_some()
            || record.starttls.requested
            || !record.credentials.is_empty()
            || record.server_said.banner.is_some();
        if record.implicit_tls || !spoke {
            return;
        }
        let kind = FindingKind::PlaintextOnImplicitTlsPort;
        if let Some(f) = record.findings.iter_mut().find(|f| f.kind == kind) {
            f.proof = Some(Proof::Policy);
            f.policy = Some(self.name.clone());
            return;
        }
        let how = if record.starttls.tls_established {
            "began in cleartext and upgraded with STARTTLS"
        } else {
            "began in cleartext"
        };
        let evidence = EvidenceRecord {
            direction: Side::Server,
            location: record.transport.first_packet.clone(),
            excerpt: record
                .server_said
                .banner
                .as_deref()
                .map(text::escape)
                .unwrap_or_default(),
        };
        let mut finding = Finding::new(
            kind,
            kind.rule().severity,
            record.id,
            format!(
                "policy `{}` requires implicit TLS from {}, but this session {how}",
                self.shown_name(),
                record.server
            ),
            vec![evidence],
        )
        .proven_by(Proof::Policy);
        finding.policy = Some(self.name.clone());
        record.findings.push(finding);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rules_cover_their_networks_ports_and_protocols() {
        let p = Policy::parse(
            r#"
            [[servers]]
            name = "mx"
            addresses = ["192.0.2.0/24", "2001:db8::25"]
            ports = [25]
            protocols = ["smtp"]
            must_offer_starttls = true
            "#,
        )
        .unwrap();
        let rule = &p.rules[0];
        let at = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
        assert!(rule.covers(at("192.0.2.77", 25), "smtp"));
        assert!(rule.covers(at("2001:db8::25", 25), "smtp"));
        assert!(!rule.covers(at("2001:db8::26", 25), "smtp"));
        assert!(!rule.covers(at("192.0.2.77", 587), "smtp"));
        assert!(!rule.covers(at("192.0.2.77", 25), "imap"));
        assert!(!rule.covers(at("198.51.100.1", 25), "smtp"));
    }

    #[test]
    fn mistakes_are_errors_that_say_where() {
        let e = |text: &str| Policy::parse(text).err().unwrap().to_string();
        assert!(
            e("[[servers]]\nname = \"a\"\naddresses = [\"300.1.1.1\"]\nmust_offer_starttls = true")
                .contains("not an address")
        );
        assert!(
            e("[[servers]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]")
                .contains("requires nothing")
        );
        assert!(
            e("[[servers]]\nname = \"a\"\naddresses = []\nimplicit_tls_only = true")
                .contains("empty")
        );
        assert!(
            e("[[servers]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]\nmust_offer_startls = true")
                .contains("unknown field")
        );
        assert!(e("[[servers]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]\nprotocols = [\"gopher\"]\nimplicit_tls_only = true").contains("unknown protocol"));
    }

    #[test]
    fn the_example_in_the_repository_parses() {
        let p = Policy::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policy.example.toml"
        )))
        .unwrap();
        assert!(!p.is_empty());
    }
}
