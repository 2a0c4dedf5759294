//! Turning an alignment into typed changes.
//!
//! A change is told in the direction the bytes flowed: `before` is the
//! line as its sender's side of the path had it (the client-side tap for
//! commands, the server-side tap for replies), `after` as it came out of
//! the path. A line only before was dropped (or, for a capability, removed)
//! on the path; a line only after was injected; a line in both versions
//! was rewritten (or masked). What a line is (greeting, capability,
//! STARTTLS and its answer, after the go-ahead) comes from its place in
//! the dialog at its tap.

use super::Tap;
use super::align::Op;
use super::collect::SeenSession;
use super::roles::{
    Role, banner_masked, imap_capabilities, is_mask_of, is_upgrade_command, keyword, verb,
};
use crate::analysis::Severity;
use crate::flow::Side;
use crate::proto::tap::TapKind;
use crate::proto::{Evidence, Protocol};
use serde::Serialize;

/// The kinds of change (their JSON names are part of the interface).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    CapabilityRemoved,
    CapabilityMasked,
    CapabilityAdded,
    BannerMasked,
    CommandMasked,
    CommandRewritten,
    CommandInjected,
    CommandDropped,
    ReplyRewritten,
    ReplyInjected,
    ReplyDropped,
    StarttlsAnsweredByMiddlebox,
    TlsOneSide,
}

impl ChangeKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChangeKind::CapabilityRemoved => "capability-removed",
            ChangeKind::CapabilityMasked => "capability-masked",
            ChangeKind::CapabilityAdded => "capability-added",
            ChangeKind::BannerMasked => "banner-masked",
            ChangeKind::CommandMasked => "command-masked",
            ChangeKind::CommandRewritten => "command-rewritten",
            ChangeKind::CommandInjected => "command-injected",
            ChangeKind::CommandDropped => "command-dropped",
            ChangeKind::ReplyRewritten => "reply-rewritten",
            ChangeKind::ReplyInjected => "reply-injected",
            ChangeKind::ReplyDropped => "reply-dropped",
            ChangeKind::StarttlsAnsweredByMiddlebox => "starttls-answered-by-middlebox",
            ChangeKind::TlsOneSide => "tls-one-side",
        }
    }
}

/// One version of a changed line: which tap, and the line as evidence
/// (secret part marked).
#[derive(Clone, Debug)]
pub(crate) struct Version {
    pub tap: Tap,
    pub evidence: Evidence,
}

/// A difference between the taps.
#[derive(Clone, Debug)]
pub(crate) struct Change {
    pub kind: ChangeKind,
    pub severity: Severity,
    /// Who sent the bytes.
    pub direction: Side,
    /// As the sender's side of the path had it.
    pub before: Option<Version>,
    /// As the path delivered it.
    pub after: Option<Version>,
    /// The middlebox's own answer (STARTTLS answered by the middlebox).
    pub answer: Option<Version>,
    /// The capability concerned (capability changes).
    pub capability: Option<String>,
    /// The mask that replaced it (capability-masked).
    pub mask: Option<String>,
    /// A line injected after STARTTLS or after the TLS go-ahead.
    pub around_starttls: bool,
    /// How far TLS got at each tap (tls-one-side), e.g.
    /// `established at the outside tap, none at the inside tap`.
    pub detail: Option<String>,
}

fn severity_for(token: &[u8]) -> Severity {
    // FTP's feature is `AUTH TLS` (or SSL, TLS-C, TLS-P) whole.
    if token == b"STARTTLS" || token == b"STLS" || token.starts_with(b"AUTH ") {
        Severity::High
    } else {
        Severity::Low
    }
}

fn text(bytes: &[u8]) -> String {
    crate::text::escape(bytes)
}

/// Both sessions of a pair with their roles, and which tap is nearer the
/// client.
pub(crate) struct PairView<'a> {
    pub inside: &'a SeenSession,
    pub outside: &'a SeenSession,
    pub roles: [Vec<Role>; 2],
    pub client_side: Tap,
    pub protocol: Option<Protocol>,
}

impl PairView<'_> {
    pub(crate) fn session(&self, tap: Tap) -> &SeenSession {
        match tap {
            Tap::Inside => self.inside,
            Tap::Outside => self.outside,
        }
    }

    fn role(&self, tap: Tap, i: usize) -> Role {
        let [a, b] = &self.roles;
        let list = match tap {
            Tap::Inside => a,
            Tap::Outside => b,
        };
        list.get(i).copied().unwrap_or_default()
    }

    fn bytes(&self, tap: Tap, i: usize) -> &[u8] {
        self.session(tap)
            .lines
            .get(i)
            .map_or(&[][..], |l| l.item.bytes.as_slice())
    }

    fn version(&self, tap: Tap, i: usize) -> Option<Version> {
        let l = self.session(tap).lines.get(i)?;
        let mut evidence = l.evidence();
        if let TapKind::Literal { total } = l.item.kind {
            evidence.bytes = format!("[literal of {total} bytes]").into_bytes();
        }
        Some(Version { tap, evidence })
    }

    /// The tap where `side`'s bytes enter the path.
    fn upstream(&self, side: Side) -> Tap {
        match side {
            Side::Client => self.client_side,
            Side::Server => self.client_side.other(),
        }
    }
}

/// A change with the common fields filled in.
pub(crate) fn change(kind: ChangeKind, severity: Severity, direction: Side) -> Change {
    Change {
        kind,
        severity,
        direction,
        before: None,
        after: None,
        answer: None,
        capability: None,
        mask: None,
        around_starttls: false,
        detail: None,
    }
}

/// The typed changes of one direction's alignment.
pub(crate) fn classify(view: &PairView<'_>, side: Side, ops: &[Op]) -> Vec<Change> {
    let up = view.upstream(side);
    let mut out = Vec::new();
    // Ops index (inside, outside); turn them into (before, after).
    let orient = |x: usize, y: usize| if up == Tap::Inside { (x, y) } else { (y, x) };
    for op in ops {
        match op {
            Op::Equal(..) | Op::Lost(..) => {}
            Op::Changed(x, y) => {
                let (b, a) = orient(*x, *y);
                out.extend(changed(view, side, up, b, a));
            }
            Op::OnlyA(i) | Op::OnlyB(i) => {
                let tap = if matches!(op, Op::OnlyA(_)) {
                    Tap::Inside
                } else {
                    Tap::Outside
                };
                out.push(alone(view, side, tap, *i, tap == up));
            }
        }
    }
    out
}

/// One line in both versions, different.
fn changed(view: &PairView<'_>, side: Side, up: Tap, b: usize, a: usize) -> Vec<Change> {
    let down = up.other();
    let (before, after) = mask_alike(view.version(up, b), view.version(down, a));
    let changes = match side {
        Side::Client => vec![command_changed(view, up, b, a)],
        Side::Server => reply_changed(view, up, b, a),
    };
    changes
        .into_iter()
        .map(|mut c| {
            c.before = before.clone();
            c.after = after.clone();
            c
        })
        .collect()
}

/// A client line changed: masked (same length, the verb overwritten) or
/// rewritten; a STARTTLS changed is the worse.
fn command_changed(view: &PairView<'_>, up: Tap, b: usize, a: usize) -> Change {
    let (bb, ab) = (view.bytes(up, b), view.bytes(up.other(), a));
    let p = view.protocol;
    let (vb, va) = (verb(p, bb), verb(p, ab));
    let severity = if is_upgrade_command(p, bb) {
        Severity::High
    } else {
        Severity::Medium
    };
    let kind = if bb.len() == ab.len() && is_mask_of(&va, &vb) {
        ChangeKind::CommandMasked
    } else {
        ChangeKind::CommandRewritten
    };
    change(kind, severity, Side::Client)
}

/// A server line changed: capabilities masked, removed or added; the
/// greeting masked; or else the reply rewritten.
fn reply_changed(view: &PairView<'_>, up: Tap, b: usize, a: usize) -> Vec<Change> {
    let down = up.other();
    let (bb, ab) = (view.bytes(up, b), view.bytes(down, a));
    let p = view.protocol;
    let (rb, ra) = (view.role(up, b), view.role(down, a));
    if rb.capability || ra.capability {
        let out = capabilities_changed(p, bb, ab);
        if !out.is_empty() {
            return out;
        }
    }
    if rb.greeting && banner_masked(p, ab) && !banner_masked(p, bb) {
        return vec![change(
            ChangeKind::BannerMasked,
            Severity::Low,
            Side::Server,
        )];
    }
    let severity = if rb.starttls_answer.is_some() || ra.starttls_answer.is_some() {
        Severity::High
    } else if continuation_only(bb, ab) {
        Severity::Info
    } else {
        Severity::Medium
    };
    vec![change(ChangeKind::ReplyRewritten, severity, Side::Server)]
}

/// The capabilities of line `bb` (before) and `ab` (after) compared: one
/// that became a mask of itself is masked, others are removed or added.
fn capabilities_changed(p: Option<Protocol>, bb: &[u8], ab: &[u8]) -> Vec<Change> {
    let (removed, added) = match p {
        Some(Protocol::Imap) => (imap_capabilities(bb), imap_capabilities(ab)),
        _ => (vec![keyword(p, bb)], vec![keyword(p, ab)]),
    };
    let mut gone: Vec<Vec<u8>> = removed
        .iter()
        .filter(|t| !added.contains(t))
        .cloned()
        .collect();
    let mut new: Vec<Vec<u8>> = added
        .iter()
        .filter(|t| !removed.contains(t))
        .cloned()
        .collect();
    let side = Side::Server;
    let mut out = Vec::new();
    gone.retain(|token| {
        let Some(at) = new.iter().position(|m| is_mask_of(m, token)) else {
            return true;
        };
        let mask = new.remove(at);
        let mut c = change(ChangeKind::CapabilityMasked, severity_for(token), side);
        c.capability = Some(text(token));
        c.mask = Some(text(&mask));
        out.push(c);
        false
    });
    for token in gone {
        let mut c = change(ChangeKind::CapabilityRemoved, severity_for(&token), side);
        c.capability = Some(text(&token));
        out.push(c);
    }
    for token in new {
        let mut c = change(ChangeKind::CapabilityAdded, Severity::Low, side);
        c.capability = Some(text(&token));
        out.push(c);
    }
    out
}

/// Only the SMTP continuation mark differs (`250-X` / `250 X`): what a box
/// that removes a reply's last line does to the line before.
pub(crate) fn continuation_only(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.len() >= 4
        && a.iter()
            .zip(b)
            .enumerate()
            .all(|(i, (x, y))| x == y || (i == 3 && matches!((x, y), (b'-', b' ') | (b' ', b'-'))))
}

/// The two versions of a changed line, each masked where either carries a
/// secret (a password in one version must not show in the other).
fn mask_alike(b: Option<Version>, a: Option<Version>) -> (Option<Version>, Option<Version>) {
    let from = [&b, &a]
        .iter()
        .filter_map(|v| v.as_ref().and_then(|v| v.evidence.secret_from))
        .min();
    let apply = |v: Option<Version>| {
        v.map(|mut v| {
            if let Some(at) = from {
                v.evidence = v.evidence.secret_from(at);
            }
            v
        })
    };
    (apply(b), apply(a))
}

/// A line at one tap only: dropped on the path (`upstream`) or injected.
fn alone(view: &PairView<'_>, side: Side, tap: Tap, i: usize, upstream: bool) -> Change {
    let role = view.role(tap, i);
    let bytes = view.bytes(tap, i);
    let p = view.protocol;
    let smtp_or_pop = !matches!(p, Some(Protocol::Imap));
    let (kind, severity, around) = match (side, upstream) {
        (Side::Server, true) if role.capability && smtp_or_pop => {
            let token = keyword(p, bytes);
            let mut c = change(ChangeKind::CapabilityRemoved, severity_for(&token), side);
            c.capability = Some(text(&token));
            c.before = view.version(tap, i);
            return c;
        }
        (Side::Server, false) if role.capability && smtp_or_pop => {
            let token = keyword(p, bytes);
            let mut c = change(ChangeKind::CapabilityAdded, Severity::Low, side);
            c.capability = Some(text(&token));
            c.after = view.version(tap, i);
            return c;
        }
        (Side::Server, true) => {
            let high = role.starttls_answer.is_some();
            (ChangeKind::ReplyDropped, high, false)
        }
        (Side::Server, false) => (
            ChangeKind::ReplyInjected,
            role.after_go_ahead || role.starttls_answer.is_some(),
            role.after_go_ahead,
        ),
        (Side::Client, true) => (ChangeKind::CommandDropped, role.starttls_command, false),
        (Side::Client, false) => (
            ChangeKind::CommandInjected,
            role.after_starttls || role.starttls_command,
            role.after_starttls,
        ),
    };
    let severity = if severity {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut c = change(kind, severity, side);
    c.around_starttls = around;
    if upstream {
        c.before = view.version(tap, i);
    } else {
        c.after = view.version(tap, i);
    }
    c
}

/// Folds a dropped STARTTLS and the reply injected to answer it into one
/// change; drops continuation-mark rewrites next to a removed capability.
pub(crate) fn merge(view: &PairView<'_>, mut changes: Vec<Change>) -> Vec<Change> {
    let near = view.client_side;
    let mut i = 0;
    while i < changes.len() {
        let dropped_starttls = changes.get(i).and_then(|c| {
            let v = c.before.as_ref()?;
            let idx = line_index(view, v)?;
            (c.kind == ChangeKind::CommandDropped && view.role(near, idx).starttls_command)
                .then_some(idx)
        });
        if let Some(cmd) = dropped_starttls {
            let answer = changes.iter().position(|c| {
                c.kind == ChangeKind::ReplyInjected
                    && c.after
                        .as_ref()
                        .and_then(|v| line_index(view, v))
                        .is_some_and(|a| view.role(near, a).answers == Some(cmd))
            });
            if let Some(at) = answer {
                let reply = changes.remove(at);
                if at < i {
                    i -= 1;
                }
                if let Some(c) = changes.get_mut(i) {
                    c.kind = ChangeKind::StarttlsAnsweredByMiddlebox;
                    c.severity = Severity::High;
                    c.answer = reply.after;
                    c.around_starttls = true;
                }
            }
        }
        i += 1;
    }
    if changes
        .iter()
        .any(|c| c.kind == ChangeKind::CapabilityRemoved)
    {
        changes.retain(|c| {
            let cont = match (&c.before, &c.after) {
                (Some(b), Some(a)) => continuation_only(&b.evidence.bytes, &a.evidence.bytes),
                _ => false,
            };
            !(c.kind == ChangeKind::ReplyRewritten && cont)
        });
    }
    changes
}

/// The index of a version's line in its session.
fn line_index(view: &PairView<'_>, v: &Version) -> Option<usize> {
    let offset = v.evidence.offset?;
    view.session(v.tap)
        .lines
        .iter()
        .position(|l| l.side() == v.evidence.side && l.item.offset == offset)
}

/// TLS as far as each tap saw it, when the two differ.
pub(crate) fn tls_change(view: &PairView<'_>) -> Option<Change> {
    let (a, b) = (view.inside.tls_state(), view.outside.tls_state());
    if a == b {
        return None;
    }
    let version = |tap: Tap| {
        let s = view.session(tap);
        let e = s.server_hello.clone().or_else(|| s.client_hello.clone());
        let e = e.or_else(|| {
            let marker = s.lines.iter().find(|l| l.item.kind == TapKind::Tls)?;
            let mut e = marker.evidence();
            e.bytes = b"TLS record (no hello parsed)".to_vec();
            Some(e)
        })?;
        Some(Version { tap, evidence: e })
    };
    let up = |side: Side| view.upstream(side);
    let missing_server = view.inside.server_hello.is_some() != view.outside.server_hello.is_some();
    let direction = if missing_server {
        Side::Server
    } else {
        Side::Client
    };
    let mut c = change(ChangeKind::TlsOneSide, Severity::High, direction);
    c.before = version(up(direction));
    c.after = version(up(direction).other());
    c.around_starttls = true;
    c.detail = Some(format!(
        "{} at the inside tap, {} at the outside tap",
        a.name(),
        b.name()
    ));
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_mark_only() {
        assert!(continuation_only(b"250-CHUNKING", b"250 CHUNKING"));
        assert!(continuation_only(b"250 CHUNKING", b"250-CHUNKING"));
        assert!(!continuation_only(b"250-CHUNKING", b"250-XXXXXXXB"));
        assert!(!continuation_only(b"250-", b"250-X"));
    }
}
