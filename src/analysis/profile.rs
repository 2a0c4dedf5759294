//! What sessions to one server show together: the end-of-input pass.
//!
//! A capability list without STARTTLS proves nothing by itself (the server
//! may not support it). But a server has one configuration: when another
//! session to the same server and port, anywhere in the run's inputs,
//! offered STARTTLS, its absence here was done on the path. That proof
//! needs the whole input, so it runs after the last packet.

use super::findings::{EvidenceRecord, Finding, FindingKind, Severity};
use super::record::Locator;
use super::session::SessionRecord;
use crate::flow::Endpoint;
use crate::proto::Evidence;
use std::collections::HashMap;

/// Replaces `no-starttls-offered` with `starttls-stripped` where another
/// session to the same server offered STARTTLS. Sessions must be in id
/// order; the first offering session is cited.
pub fn prove_stripping_across_sessions(
    sessions: &mut [SessionRecord],
    locator: &Locator,
    show_secrets: bool,
) {
    let mut offers: HashMap<Endpoint, (u64, Evidence)> = HashMap::new();
    for s in sessions.iter() {
        if let Some(offer) = &s.stripping.offer {
            offers
                .entry(s.server_key)
                .or_insert_with(|| (s.id, offer.clone()));
        }
    }
    for s in sessions.iter_mut() {
        let Some(absence) = &s.stripping.unproven_absence else {
            continue;
        };
        let Some((other_id, offer)) = offers.get(&s.server_key) else {
            continue;
        };
        let keyword = match s.protocol {
            "pop3" => "STLS",
            _ => "STARTTLS",
        };
        let finding = Finding {
            kind: FindingKind::StarttlsStripped,
            severity: Severity::High,
            session: s.id,
            summary: format!(
                "the capability list from {} reached this capture without {keyword}, \
                 but session {other_id} to the same server offered it: it was removed on the path",
                s.server
            ),
            evidence: vec![
                EvidenceRecord::build(absence, locator, show_secrets),
                EvidenceRecord::build(offer, locator, show_secrets),
            ],
        };
        s.findings
            .retain(|f| f.kind != FindingKind::NoStarttlsOffered);
        s.findings.push(finding);
        s.findings.sort_by_key(|f| f.kind);
    }
}
