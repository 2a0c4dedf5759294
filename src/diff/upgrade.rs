//! Changes told by what each tap's dialog concluded about the upgrade,
//! for every protocol: the offer (a capability list, a greeting's flag, a
//! stream feature), the request (STARTTLS, `AUTH TLS`, an SSLRequest, the
//! StartTLS extended operation) and the server's answer (`220`, `S`,
//! `<proceed/>`). The line-by-line comparison says more when a protocol's
//! lines have roles ([`roles`](super::roles)); binary protocols (PostgreSQL,
//! MySQL, LDAP) and XML streams have none, and a line protocol's list may
//! be shaped in a way the roles do not know. So each aspect the lines did
//! not already explain is compared here, from the facts of each tap.

use super::Tap;
use super::classify::{Change, ChangeKind, PairView, Version, change};
use crate::analysis::Severity;
use crate::flow::Side;
use crate::proto::facts::{DialogFacts, StarttlsAnswer};
use crate::proto::{Evidence, Protocol};

/// What one tap's dialog concluded about the upgrade.
#[derive(Clone, Debug, Default)]
pub(crate) struct UpgradeSeen {
    /// The last cleartext capability list (or what stands for one): did it
    /// offer the upgrade, and its evidence.
    pub offer: Option<(bool, Evidence)>,
    /// The line that carries a mask where the keyword stood.
    pub masked: Option<Evidence>,
    pub request: Option<Evidence>,
    pub answer: Option<(bool, Evidence)>,
}

impl UpgradeSeen {
    pub(crate) fn of(facts: &DialogFacts) -> Self {
        let list = facts.capabilities.last();
        UpgradeSeen {
            offer: list.map(|l| (l.starttls, l.evidence.clone())),
            masked: list.and_then(|l| l.masked_token.clone()),
            request: facts.starttls_command.clone(),
            answer: facts
                .starttls_answer
                .as_ref()
                .map(|(a, e)| (*a == StarttlsAnswer::Accepted, e.clone())),
        }
    }
}

/// Adds to `found` (the line comparison's changes) what it left out. A
/// server line the path rewrote or dropped in the very packet of an offer
/// the facts tell removed or masked is that change, told by its lines.
pub(crate) fn add_upgrade_changes(view: &PairView<'_>, found: &mut Vec<Change>) {
    let mut new = upgrade_changes(view, found);
    for c in new.iter_mut().filter(|c| {
        matches!(
            c.kind,
            ChangeKind::CapabilityRemoved | ChangeKind::CapabilityMasked
        )
    }) {
        let packet_of = |v: &Option<Version>| v.as_ref().map(|v| (v.tap, v.evidence.packet));
        let (before, after) = (packet_of(&c.before), packet_of(&c.after));
        let same = |l: &Change| {
            matches!(
                l.kind,
                ChangeKind::ReplyRewritten | ChangeKind::ReplyDropped
            ) && (packet_of(&l.before) == before || packet_of(&l.after) == after)
        };
        if let Some(at) = found.iter().position(same) {
            let line = found.remove(at);
            c.before = line.before.or(c.before.take());
            if line.after.is_some() {
                c.after = line.after;
            }
        }
    }
    found.extend(new);
}

/// The changes of `view` that the line comparison (`found`) left out.
fn upgrade_changes(view: &PairView<'_>, found: &[Change]) -> Vec<Change> {
    let has = |kinds: &[ChangeKind]| found.iter().any(|c| kinds.contains(&c.kind));
    let near = view.session(view.client_side);
    let far = view.session(view.client_side.other());
    let (near_tap, far_tap) = (view.client_side, view.client_side.other());
    let version = |tap: Tap, e: &Evidence| Version {
        tap,
        evidence: e.clone(),
    };
    let keyword = view.protocol.map_or("STARTTLS", Protocol::starttls_keyword);
    let mut out = Vec::new();
    // The offer: the server's side had it, the client's side did not.
    if !has(&[ChangeKind::CapabilityRemoved, ChangeKind::CapabilityMasked]) {
        if let (Some((true, before)), Some((false, after))) =
            (&far.upgrade.offer, &near.upgrade.offer)
        {
            let kind = match near.upgrade.masked {
                Some(_) => ChangeKind::CapabilityMasked,
                None => ChangeKind::CapabilityRemoved,
            };
            let mut c = change(kind, Severity::High, Side::Server);
            c.before = Some(version(far_tap, before));
            c.after = Some(version(
                near_tap,
                near.upgrade.masked.as_ref().unwrap_or(after),
            ));
            c.capability = Some(keyword.to_string());
            c.mask = near
                .upgrade
                .masked
                .as_ref()
                .map(|m| crate::text::escape(&m.redacted()));
            out.push(c);
        }
    }
    // The request: sent on the client's side, never reached the server's.
    let command_kinds = [
        ChangeKind::CommandDropped,
        ChangeKind::CommandRewritten,
        ChangeKind::CommandMasked,
        ChangeKind::StarttlsAnsweredByMiddlebox,
    ];
    if let (Some(sent), None) = (&near.upgrade.request, &far.upgrade.request) {
        if !has(&command_kinds) {
            let mut c = match &near.upgrade.answer {
                Some((_, answer)) => {
                    let mut c = change(
                        ChangeKind::StarttlsAnsweredByMiddlebox,
                        Severity::High,
                        Side::Client,
                    );
                    c.answer = Some(version(near_tap, answer));
                    c
                }
                None => change(ChangeKind::CommandDropped, Severity::High, Side::Client),
            };
            c.before = Some(version(near_tap, sent));
            c.around_starttls = true;
            out.push(c);
        }
    }
    // The answer: the server accepted, the client was told otherwise.
    let reply_kinds = [
        ChangeKind::ReplyRewritten,
        ChangeKind::ReplyInjected,
        ChangeKind::ReplyDropped,
    ];
    if let (Some((true, said)), Some((false, heard))) = (&far.upgrade.answer, &near.upgrade.answer)
    {
        if near.upgrade.request.is_some() && far.upgrade.request.is_some() && !has(&reply_kinds) {
            let mut c = change(ChangeKind::ReplyRewritten, Severity::High, Side::Server);
            c.before = Some(version(far_tap, said));
            c.after = Some(version(near_tap, heard));
            c.around_starttls = true;
            out.push(c);
        }
    }
    out
}
