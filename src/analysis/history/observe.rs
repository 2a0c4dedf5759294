//! A session as an observation of its server, and a run's tallies of them.

use super::super::findings::{FindingKind, Proof};
use super::super::session::{ServerSaid, SessionRecord};
use crate::flow::Endpoint;
use crate::text;
use crate::time::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::fmt;
use std::sync::Arc;

/// Distinct observations of one server kept per run: a server whose banner
/// changes with every session (a hostile one, or a date in it that the
/// shape did not catch) must not grow the run without bound. Past it, the
/// banner, capabilities and certificate are left out of the key.
pub(crate) const MAX_VARIANTS_PER_SERVER: u32 = 32;
/// Servers whose last greeting and list are remembered with their hashes
/// (a greeting is at most 256 bytes, a list 64 items of 128): past it, a
/// session's are hashed anew.
pub(crate) const MAX_REMEMBERED_SERVERS: usize = 10_000;
/// Distinct observations kept per run (all servers); past it, sessions are
/// counted in `dropped`.
pub(crate) const MAX_OBSERVATIONS: usize = 200_000;
/// Short texts shared between sessions rather than allocated for each
/// (protocol names, TLS versions, the empty text): past it, allocated.
const MAX_SHARED_TEXTS: usize = 64;

/// What a session showed of STARTTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum StarttlsSeen {
    /// A cleartext capability list offered it.
    Offered,
    /// A masked word stood in its place (`XXXXXXXA`).
    Masked,
    /// A word one edit from it stood in its place (`STARTTLX`).
    Mangled,
    /// Capability lists crossed without it.
    Absent,
    /// No capability list crossed in cleartext.
    NotSeen,
    /// TLS from the first byte.
    ImplicitTls,
}

impl StarttlsSeen {
    /// Every value, in order.
    pub(crate) const ALL: [StarttlsSeen; 6] = [
        StarttlsSeen::Offered,
        StarttlsSeen::Masked,
        StarttlsSeen::Mangled,
        StarttlsSeen::Absent,
        StarttlsSeen::NotSeen,
        StarttlsSeen::ImplicitTls,
    ];

    /// The name written in JSON and in the store.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StarttlsSeen::Offered => "offered",
            StarttlsSeen::Masked => "masked",
            StarttlsSeen::Mangled => "mangled",
            StarttlsSeen::Absent => "absent",
            StarttlsSeen::NotSeen => "not-seen",
            StarttlsSeen::ImplicitTls => "implicit-tls",
        }
    }

    /// The value named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The server did not offer STARTTLS where the capture could show it.
    pub(crate) fn is_missing(self) -> bool {
        matches!(
            self,
            StarttlsSeen::Masked | StarttlsSeen::Mangled | StarttlsSeen::Absent
        )
    }
}

impl fmt::Display for StarttlsSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What identifies an observation: the server and what its session showed
/// (texts by the SHA-256 of their shape; empty when not seen).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct ObservationKey {
    /// The server's address and port.
    pub server: Endpoint,
    /// `smtp`, `imap` or `pop3`.
    pub protocol: Arc<str>,
    /// What the session showed of STARTTLS.
    pub starttls: StarttlsSeen,
    /// SHA-256 (hex) of the greeting's shape: digits, day and month names and
    /// APOP timestamps left out, so a date in it is not a change.
    pub banner_sha256: Arc<str>,
    /// SHA-256 (hex) of the capability items, upper-cased and sorted.
    pub capabilities_sha256: Arc<str>,
    /// The TLS version the server chose (`TLS 1.2`), when a handshake was seen.
    pub tls_version: Arc<str>,
    /// SHA-256 (hex) of the server's leaf certificate (TLS 1.2 and older).
    pub certificate_sha256: Arc<str>,
}

/// The sessions of one observation, and the last texts seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Observation {
    /// Sessions counted.
    pub sessions: u64,
    /// The first one's first packet.
    #[serde(serialize_with = "crate::analysis::record::rfc3339")]
    pub first_seen: Timestamp,
    /// The last one's last packet.
    #[serde(serialize_with = "crate::analysis::record::rfc3339")]
    pub last_seen: Timestamp,
    /// The last greeting, escaped.
    pub banner: Arc<str>,
    /// The last capability items, escaped, in the order sent, separated by `, `.
    pub capabilities: Arc<str>,
    /// The last certificate's subject, escaped.
    pub certificate_subject: Arc<str>,
    /// The last certificate's issuer, escaped.
    pub certificate_issuer: Arc<str>,
}

impl Observation {
    /// Adds `other` (a later or earlier tally of the same key).
    pub(crate) fn add(&mut self, other: Observation) {
        self.sessions = self.sessions.saturating_add(other.sessions);
        self.first_seen = self.first_seen.min(other.first_seen);
        if other.last_seen >= self.last_seen {
            self.last_seen = other.last_seen;
            self.banner = other.banner;
            self.capabilities = other.capabilities;
            self.certificate_subject = other.certificate_subject;
            self.certificate_issuer = other.certificate_issuer;
        }
    }
}

/// What the server said, by shape: hashes and the texts (escaped), made
/// once per server until it says something else.
#[derive(Clone, Debug, Default)]
struct Shapes {
    banner_sha256: Arc<str>,
    capabilities_sha256: Arc<str>,
    banner: Arc<str>,
    capabilities: Arc<str>,
}

impl Shapes {
    fn of(said: &ServerSaid) -> Self {
        let empty = || Arc::<str>::from("");
        let capabilities: Vec<String> = said.capabilities.iter().map(text::escape).collect();
        Shapes {
            banner_sha256: said.banner.as_deref().map_or_else(empty, |b| {
                sha256_hex(banner_shape(&text::escape(b)).as_bytes()).into()
            }),
            capabilities_sha256: if capabilities.is_empty() {
                empty()
            } else {
                sha256_hex(capability_set(&capabilities).as_bytes()).into()
            },
            banner: said
                .banner
                .as_deref()
                .map_or_else(empty, |b| text::escape(b).into()),
            capabilities: capabilities.join(", ").into(),
        }
    }
}

/// What a session showed of STARTTLS.
fn starttls_seen(r: &SessionRecord) -> StarttlsSeen {
    let stripped_by = |proof| {
        r.findings
            .iter()
            .any(|f| f.kind == FindingKind::StarttlsStripped && f.proof == Some(proof))
    };
    if r.implicit_tls {
        return StarttlsSeen::ImplicitTls;
    }
    match r.starttls.offered {
        Some(true) => StarttlsSeen::Offered,
        Some(false) if stripped_by(Proof::MangledToken) => StarttlsSeen::Mangled,
        Some(false) if stripped_by(Proof::MaskedToken) => StarttlsSeen::Masked,
        Some(false) => StarttlsSeen::Absent,
        None => StarttlsSeen::NotSeen,
    }
}

/// Texts a run's observations share: short ones by value, certificates by
/// server (most sessions of a server see the same one).
#[derive(Default)]
struct SharedTexts {
    short: Vec<Arc<str>>,
    certificates: Map<Endpoint, [Arc<str>; 3]>,
}

impl SharedTexts {
    fn short(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.short.iter().find(|a| &***a == s) {
            return a.clone();
        }
        let a = Arc::<str>::from(s);
        if self.short.len() < MAX_SHARED_TEXTS {
            self.short.push(a.clone());
        }
        a
    }

    /// SHA-256, subject and issuer of the server's certificate.
    fn certificate(&mut self, server: Endpoint, c: Option<(&str, &str, &str)>) -> [Arc<str>; 3] {
        let Some((sha, subject, issuer)) = c else {
            let empty = self.short("");
            return [empty.clone(), empty.clone(), empty];
        };
        match self.certificates.get(&server) {
            Some(known) if &*known[0] == sha => known.clone(),
            _ => {
                let texts = [sha.into(), subject.into(), issuer.into()];
                if self.certificates.len() < MAX_REMEMBERED_SERVERS {
                    self.certificates.insert(server, texts.clone());
                }
                texts
            }
        }
    }
}

/// The observation a session makes with the server's `shapes`.
fn observation(
    r: &SessionRecord,
    shapes: &Shapes,
    texts: &mut SharedTexts,
) -> (ObservationKey, Observation) {
    let [certificate_sha256, certificate_subject, certificate_issuer] =
        texts.certificate(r.server, certificate_of(r));
    let tls_version = r
        .tls
        .as_ref()
        .and_then(|t| t.server_hello.as_ref())
        .map_or("", |h| h.version.as_str());
    let key = ObservationKey {
        server: r.server,
        protocol: texts.short(r.protocol),
        starttls: starttls_seen(r),
        banner_sha256: shapes.banner_sha256.clone(),
        capabilities_sha256: shapes.capabilities_sha256.clone(),
        tls_version: texts.short(tls_version),
        certificate_sha256,
    };
    let tally = Observation {
        sessions: 1,
        first_seen: r.transport.first_seen,
        last_seen: r.transport.last_seen,
        banner: shapes.banner.clone(),
        capabilities: shapes.capabilities.clone(),
        certificate_subject,
        certificate_issuer,
    };
    (key, tally)
}

/// The server's leaf certificate: SHA-256, subject, issuer.
fn certificate_of(r: &SessionRecord) -> Option<(&str, &str, &str)> {
    let c = r.tls.as_ref()?.server_certificate.as_ref()?;
    Some((
        &c.sha256,
        c.subject.as_deref().unwrap_or_default(),
        c.issuer.as_deref().unwrap_or_default(),
    ))
}

/// The greeting without what changes from session to session: words with
/// a digit (times, dates, queue and session IDs, numbered host names), day
/// and month names, and `<...>` tokens (POP3's APOP timestamp, RFC 1939 7).
pub(crate) fn banner_shape(banner: &str) -> String {
    const NAMES: [&str; 19] = [
        "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN", "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    banner
        .split_ascii_whitespace()
        .filter(|w| !w.bytes().any(|b| b.is_ascii_digit()))
        .filter(|w| !(w.starts_with('<') && w.ends_with('>')))
        .filter(|w| {
            let letters = w.trim_matches(|c: char| !c.is_ascii_alphabetic());
            !NAMES.contains(&letters.to_ascii_uppercase().as_str())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The capability items as a set: upper-cased, sorted, one per line.
fn capability_set(items: &[String]) -> String {
    let mut set: Vec<String> = items.iter().map(|i| i.to_ascii_uppercase()).collect();
    set.sort();
    set.dedup();
    set.join("\n")
}

/// Lower-case hex of the SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(bytes) {
        for nibble in [b >> 4, b & 15] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// A run's observations, tallied by key.
pub(crate) struct Observations {
    tallies: Map<ObservationKey, Observation>,
    /// Per server, the last thing it said and its shapes (most sessions of
    /// a server see the same greeting and list: hashed once).
    said: Map<Endpoint, (ServerSaid, Shapes)>,
    variants: Map<(Endpoint, &'static str), u32>,
    texts: SharedTexts,
    /// Sessions not tallied because of [`MAX_OBSERVATIONS`].
    pub(crate) dropped: u64,
}

impl Observations {
    pub(crate) fn new() -> Self {
        Observations {
            tallies: Map::default(),
            said: Map::default(),
            variants: Map::default(),
            texts: SharedTexts::default(),
            dropped: 0,
        }
    }

    /// Tallies the session's observation.
    pub(crate) fn observe(&mut self, record: &SessionRecord) {
        if record.protocol == "unknown" {
            return;
        }
        let said = &record.server_said;
        let shapes = match self.said.get(&record.server) {
            Some((last, shapes)) if last == said => shapes.clone(),
            _ => {
                let shapes = Shapes::of(said);
                if self.said.len() < MAX_REMEMBERED_SERVERS {
                    self.said
                        .insert(record.server, (said.clone(), shapes.clone()));
                }
                shapes
            }
        };
        let (mut key, tally) = observation(record, &shapes, &mut self.texts);
        if let Some(t) = self.tallies.get_mut(&key) {
            t.add(tally);
            return;
        }
        let variants = self
            .variants
            .entry((key.server, record.protocol))
            .or_default();
        if *variants >= MAX_VARIANTS_PER_SERVER {
            let empty = self.texts.short("");
            key.banner_sha256 = empty.clone();
            key.capabilities_sha256 = empty.clone();
            key.certificate_sha256 = empty;
        }
        if let Some(t) = self.tallies.get_mut(&key) {
            t.add(tally);
        } else if self.tallies.len() < MAX_OBSERVATIONS {
            *variants += 1;
            self.tallies.insert(key, tally);
        } else {
            self.dropped += 1;
        }
    }

    /// The tallies in key order.
    pub(crate) fn sorted(&self) -> Vec<(&ObservationKey, &Observation)> {
        let mut out: Vec<_> = self.tallies.iter().collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_banner_shape_leaves_out_what_changes_per_session() {
        let a =
            "mail.example.com Microsoft ESMTP MAIL Service ready at Thu, 5 Dec 2026 10:00:01 +0100";
        let b =
            "mail.example.com Microsoft ESMTP MAIL Service ready at Fri, 6 Dec 2026 11:22:33 +0100";
        assert_eq!(banner_shape(a), banner_shape(b));
        assert_eq!(
            banner_shape("+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>"),
            banner_shape("+OK POP3 ready <2001.1@dbc.mtview.ca.us>")
        );
        assert_ne!(
            banner_shape("220 mail.example.com ESMTP Postfix"),
            banner_shape("220 **************************")
        );
        assert_eq!(
            banner_shape("220 mx.google.com ESMTP s4si9696358qcc.63 - gsmtp"),
            banner_shape("220 mx.google.com ESMTP a17si1234567qkb.12 - gsmtp")
        );
        assert_ne!(
            banner_shape("220 mx.example.com ESMTP Postfix"),
            banner_shape("220 mx.example.com ESMTP Exim")
        );
    }

    #[test]
    fn capability_sets_ignore_order_and_case() {
        let a = vec![
            "PIPELINING".to_string(),
            "STARTTLS".into(),
            "SIZE 1000".into(),
        ];
        let b = vec![
            "size 1000".to_string(),
            "STARTTLS".into(),
            "PIPELINING".into(),
        ];
        assert_eq!(capability_set(&a), capability_set(&b));
        assert_ne!(capability_set(&a), capability_set(&a[..2]));
    }

    #[test]
    fn starttls_names_round_trip() {
        for s in StarttlsSeen::ALL {
            assert_eq!(StarttlsSeen::from_name(s.name()), Some(s));
        }
    }
}
