//! What the sessions to one server show together.
//!
//! A capability list without STARTTLS proves nothing by itself (the server
//! may not support it). But a server has one configuration: when another
//! session to the same server and port, anywhere in the run's inputs,
//! offered STARTTLS, its absence was done on the path. The proof is made as
//! soon as both sessions have ended: a session whose list lacks STARTTLS is
//! upgraded on the spot when an offer was seen before, or later, as a late
//! finding, when the offer comes after it.

use super::findings::{EvidenceRecord, Finding, FindingKind, Proof, Severity};
use super::history::MissingOffer;
use super::session::SessionRecord;
use crate::flow::Endpoint;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Sessions kept waiting for another session's offer to prove their
/// stripping. Past it, sessions keep `no-starttls-offered` (counted).
pub(crate) const MAX_PENDING_ABSENCES: usize = 1_000_000;

/// One server's sessions, summed up.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerProfile {
    /// The server's address and port, as its sessions' `server`.
    pub server: Endpoint,
    /// `smtp`, `imap`, `pop3` or `unknown`: the protocol of the first session counted.
    pub protocol: &'static str,
    /// Sessions to it that the `--server` and `--protocol` filters kept (counted before
    /// `--min-severity`).
    pub sessions: u64,
    /// Sessions where a capability list crossed in cleartext.
    pub capability_lists: u64,
    /// Sessions whose list offered STARTTLS/STLS.
    pub offered_starttls: u64,
    /// Sessions that upgraded with STARTTLS (TLS handshake seen).
    pub upgraded: u64,
    /// Sessions in TLS from their first byte (`implicit_tls`).
    pub implicit_tls: u64,
    /// Sessions with `starttls-stripped`, late findings included.
    pub stripped: u64,
    /// Sessions where a password or token crossed in cleartext.
    pub cleartext_logins: u64,
    /// Sessions where challenge-response material crossed in cleartext.
    pub weak_logins: u64,
    /// Sessions per finding kind.
    pub findings: BTreeMap<FindingKind, u64>,
    /// Stripped sessions whose list showed the Cisco ASA's `XXXXXXXA`.
    pub asa_masked: u64,
    /// Stripped sessions by what proves it (`masked-token`, `history`, ...).
    pub stripped_by: BTreeMap<Proof, u64>,
    /// Cleartext credentials by mechanism, in the sessions of each kind of
    /// STARTTLS failure (stripped, refused, tampered, not used, ...).
    pub logins_after: BTreeMap<FindingKind, BTreeMap<String, u64>>,
}

/// A finding made after its session was reported.
#[derive(Clone, Debug, Serialize)]
pub struct LateFinding {
    /// The finding (`kind` `starttls-stripped`); its `session` is the stripped session, not the one
    /// whose offer proved it (that one is named in `summary` and the second evidence).
    #[serde(flatten)]
    pub finding: Finding,
    /// The finding of the same session it supersedes.
    pub replaces: Option<FindingKind>,
    /// The stripped session's client (for the ECS `source` of the late line).
    #[serde(skip)]
    pub client: Endpoint,
    /// The stripped session's server.
    #[serde(skip)]
    pub server: Endpoint,
    /// The stripped session's protocol (`smtp`, `imap`, `pop3` or `unknown`), for `--protocol`.
    #[serde(skip)]
    pub protocol: &'static str,
    /// Severity of the finding it replaces (filters decide whether that
    /// one was reported).
    #[serde(skip)]
    pub replaced_severity: Option<Severity>,
    /// Its session's cleartext logins (by mechanism).
    #[serde(skip)]
    pub logins: Vec<String>,
}

struct Absence {
    session: u64,
    /// First and last seen.
    seen: (crate::time::Timestamp, crate::time::Timestamp),
    evidence: EvidenceRecord,
    protocol: &'static str,
    client: Endpoint,
    server: Endpoint,
    /// Its credentials (mechanism) crossed in cleartext.
    logins: Vec<String>,
    /// Severity of its `no-starttls-offered`.
    replaced: Option<Severity>,
}

#[derive(Default)]
struct ServerState {
    profile: ServerProfile,
    offer: Option<(u64, EvidenceRecord)>,
    absences: Vec<Absence>,
}

/// All servers of the run.
#[derive(Default)]
pub(crate) struct ServerProfiles {
    /// foldhash, seeded at random: one lookup per session, on the thread
    /// that merges the workers' sessions.
    servers: HashMap<Endpoint, ServerState, foldhash::fast::RandomState>,
    pending: usize,
    /// Absences not kept because of [`MAX_PENDING_ABSENCES`].
    pub dropped_absences: u64,
}

impl ServerProfiles {
    /// Takes an ended session, before any filter: proves its stripping
    /// from an earlier offer (in place), or the stripping of earlier
    /// sessions from its offer (returned as late findings).
    pub(crate) fn prove(&mut self, record: &mut SessionRecord) -> Vec<LateFinding> {
        let state = self.servers.entry(record.server).or_default();
        let mut late = Vec::new();
        if let Some(absence) = record.stripping.unproven_absence.clone() {
            if let Some((offered_in, offer)) = &state.offer {
                let finding = stripped_finding(
                    record.id,
                    &record.server,
                    record.protocol,
                    *offered_in,
                    absence,
                    offer.clone(),
                );
                record
                    .findings
                    .retain(|f| f.kind != FindingKind::NoStarttlsOffered);
                record.findings.push(finding);
                record.findings.sort_by_key(|f| f.kind);
            } else if self.pending < MAX_PENDING_ABSENCES {
                self.pending += 1;
                state.absences.push(Absence {
                    session: record.id,
                    seen: (record.transport.first_seen, record.transport.last_seen),
                    evidence: absence,
                    protocol: record.protocol,
                    client: record.client,
                    server: record.server,
                    logins: cleartext_mechanisms(record),
                    replaced: record
                        .findings
                        .iter()
                        .find(|f| f.kind == FindingKind::NoStarttlsOffered)
                        .map(|f| f.severity),
                });
            } else {
                self.dropped_absences += 1;
            }
        }
        if let (Some(offer), None) = (&record.stripping.offer, &state.offer) {
            state.offer = Some((record.id, offer.clone()));
            for absence in std::mem::take(&mut state.absences) {
                self.pending -= 1;
                let finding = stripped_finding(
                    absence.session,
                    &absence.server,
                    absence.protocol,
                    record.id,
                    absence.evidence,
                    offer.clone(),
                );
                late.push(LateFinding {
                    finding,
                    replaces: Some(FindingKind::NoStarttlsOffered),
                    replaced_severity: absence.replaced,
                    logins: absence.logins,
                    client: absence.client,
                    server: absence.server,
                    protocol: absence.protocol,
                });
            }
        }
        late
    }

    /// Whether a session to `server` offered STARTTLS in this run.
    pub(crate) fn has_offer(&self, server: Endpoint) -> bool {
        self.servers.get(&server).is_some_and(|s| s.offer.is_some())
    }

    /// Proves the absences still waiting with `prove` (the history, at the end of the run), as
    /// late findings.
    pub(crate) fn prove_pending(
        &mut self,
        prove: impl Fn(MissingOffer<'_>) -> Option<Finding>,
    ) -> Vec<LateFinding> {
        let mut late = Vec::new();
        for state in self.servers.values_mut() {
            let mut kept = Vec::new();
            for absence in std::mem::take(&mut state.absences) {
                let missing = MissingOffer {
                    session: absence.session,
                    server: absence.server,
                    protocol: absence.protocol,
                    seen: absence.seen,
                    absence: absence.evidence.clone(),
                };
                match prove(missing) {
                    Some(finding) => {
                        self.pending -= 1;
                        late.push(LateFinding {
                            finding,
                            replaces: Some(FindingKind::NoStarttlsOffered),
                            replaced_severity: absence.replaced,
                            logins: absence.logins,
                            client: absence.client,
                            server: absence.server,
                            protocol: absence.protocol,
                        });
                    }
                    None => kept.push(absence),
                }
            }
            state.absences = kept;
        }
        late.sort_by_key(|l| l.finding.session);
        late
    }

    /// Counts a reported session (after filters) in its server's profile.
    pub(crate) fn count(&mut self, record: &SessionRecord) {
        count(
            &mut self.servers.entry(record.server).or_default().profile,
            record,
        );
    }

    /// Counts a reported late finding; `replaced_counted` when the finding
    /// it replaces had been reported (and so counted) with its session.
    pub(crate) fn count_late(&mut self, late: &LateFinding, replaced_counted: bool) {
        let p = &mut self.servers.entry(late.server).or_default().profile;
        p.stripped += 1;
        if let Some(proof) = late.finding.proof {
            *p.stripped_by.entry(proof).or_default() += 1;
        }
        if replaced_counted {
            dec(&mut p.findings, FindingKind::NoStarttlsOffered);
        }
        *p.findings.entry(FindingKind::StarttlsStripped).or_default() += 1;
        // Its logins now follow a stripping, not a missing offer.
        if let Some(before) = p.logins_after.get_mut(&FindingKind::NoStarttlsOffered) {
            for m in &late.logins {
                if let Some(n) = before.get_mut(m) {
                    *n = n.saturating_sub(1);
                }
            }
            before.retain(|_, n| *n > 0);
        }
        p.logins_after.retain(|_, m| !m.is_empty());
        if !late.logins.is_empty() {
            let after = p
                .logins_after
                .entry(FindingKind::StarttlsStripped)
                .or_default();
            for m in &late.logins {
                *after.entry(m.clone()).or_default() += 1;
            }
        }
    }

    /// The profiles with their server, in the order of the servers as
    /// written.
    pub(crate) fn profiles(&self) -> Vec<(Endpoint, &ServerProfile)> {
        let mut out: Vec<(Endpoint, &ServerProfile)> = self
            .servers
            .iter()
            .map(|(server, s)| (*server, &s.profile))
            .filter(|(_, p)| p.sessions > 0)
            .collect();
        // As written (`[v6]:port` after `v4:port`, ports as text).
        out.sort_by_cached_key(|(_, p)| p.server.to_string());
        out
    }
}

fn count(p: &mut ServerProfile, r: &SessionRecord) {
    if p.sessions == 0 {
        p.server = r.server;
        p.protocol = r.protocol;
    }
    p.sessions += 1;
    let st = &r.starttls;
    p.capability_lists += u64::from(st.offered.is_some());
    p.offered_starttls += u64::from(st.offered == Some(true));
    p.upgraded += u64::from(st.requested && st.tls_established);
    p.implicit_tls += u64::from(r.implicit_tls);
    let mut kinds: Vec<FindingKind> = r.findings.iter().map(|f| f.kind).collect();
    kinds.dedup();
    for k in &kinds {
        *p.findings.entry(*k).or_default() += 1;
    }
    p.stripped += u64::from(kinds.contains(&FindingKind::StarttlsStripped));
    p.cleartext_logins += u64::from(kinds.contains(&FindingKind::CleartextCredentials));
    p.weak_logins += u64::from(kinds.contains(&FindingKind::WeakCredentialsExposed));
    let asa = r
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::StarttlsStripped && f.summary.contains("Cisco ASA"));
    p.asa_masked += u64::from(asa);
    if let Some(proof) = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::StarttlsStripped)
        .and_then(|f| f.proof)
    {
        *p.stripped_by.entry(proof).or_default() += 1;
    }
    let logins = cleartext_mechanisms(r);
    if !logins.is_empty() {
        for k in kinds.iter().filter(|k| is_downgrade(**k)) {
            let after = p.logins_after.entry(*k).or_default();
            for m in &logins {
                *after.entry(m.clone()).or_default() += 1;
            }
        }
    }
}

/// Kinds after which a cleartext login is the consequence worth naming.
fn is_downgrade(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::StarttlsStripped
            | FindingKind::StarttlsNotUsed
            | FindingKind::StarttlsRejected
            | FindingKind::StarttlsCommandTampered
            | FindingKind::TlsNotEstablished
            | FindingKind::NoStarttlsOffered
            | FindingKind::HeloFallback
            | FindingKind::PlaintextOnImplicitTlsPort
    )
}

fn cleartext_mechanisms(r: &SessionRecord) -> Vec<String> {
    r.credentials
        .iter()
        .filter(|c| c.cleartext && c.secret.is_some())
        .map(|c| c.mechanism.clone())
        .collect()
}

fn dec(map: &mut BTreeMap<FindingKind, u64>, kind: FindingKind) {
    if let Some(n) = map.get_mut(&kind) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&kind);
        }
    }
}

fn stripped_finding(
    session: u64,
    server: &Endpoint,
    protocol: &str,
    offered_in: u64,
    absence: EvidenceRecord,
    offer: EvidenceRecord,
) -> Finding {
    let keyword = crate::proto::Protocol::keyword_of(protocol);
    Finding::new(
        FindingKind::StarttlsStripped,
        FindingKind::StarttlsStripped.rule().severity,
        session,
        format!(
            "the capability list from {server} reached this capture without {keyword}, \
             but session {offered_in} to the same server offered it: it was removed on the path"
        ),
        vec![absence, offer],
    )
    .proven_by(Proof::SameRun)
}
