//! The diff's report: every pair with how it was paired and what changed
//! on the path (both versions of each changed line, with their packets),
//! the sessions seen at one tap only, and a summary per server of what the
//! path did. Everything from the wire is escaped, secrets masked unless
//! revealed.

use super::align::{Op, align};
use super::attribute::{self, Behaviour};
use super::classify::{self, Change, ChangeKind, PairView, Version};
use super::collect::{SeenSession, TapCapture, TlsState};
use super::pair::{Method, pair_sessions};
use super::{DiffOptions, Tap, seconds_between};
use crate::analysis::Severity;
use crate::analysis::record::rfc3339;
use crate::flow::{Endpoint, PacketRef, PerSide, Side, TableStats};
use crate::pipeline::InputSummary;
use crate::proto::Protocol;
use crate::proto::tap::TapKind;
use crate::text;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Version of the diff report's layout.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// One version of a changed line: which tap, the line, its packet.
#[derive(Clone, Debug, Serialize)]
pub struct VersionRecord {
    pub tap: Tap,
    pub excerpt: String,
    pub file: String,
    pub packet: u64,
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: Timestamp,
}

/// A change as reported.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeRecord {
    pub kind: ChangeKind,
    pub severity: Severity,
    /// `client-to-server` (a command) or `server-to-client` (a reply).
    pub direction: &'static str,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// The line at the inside tap (null: not there).
    pub inside: Option<VersionRecord>,
    /// The line at the outside tap (null: not there).
    pub outside: Option<VersionRecord>,
    /// The middlebox's own answer (starttls-answered-by-middlebox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<VersionRecord>,
}

/// One tap's session of a pair.
#[derive(Clone, Debug, Serialize)]
pub struct SideRecord {
    /// The session's id at its tap (as `analyze` would number it).
    pub session: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: Timestamp,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: Timestamp,
    pub file: String,
    pub implicit_tls: bool,
    pub tls: TlsState,
    /// Lines each side sent before TLS.
    pub lines: PerSide<usize>,
    /// Lines not kept (limits).
    #[serde(skip_serializing_if = "is_zero")]
    pub lines_not_kept: u64,
    /// Gaps in the client's and the server's stream.
    pub gaps: PerSide<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How a pair was made.
#[derive(Clone, Debug, Serialize)]
pub struct PairingRecord {
    pub method: Method,
    pub confidence: f64,
    pub reasons: Vec<String>,
}

/// One session seen at both taps.
#[derive(Clone, Debug, Serialize)]
pub struct PairRecord {
    pub id: u64,
    pub protocol: &'static str,
    /// The client as the tap nearer to it saw it.
    pub client: Endpoint,
    /// The server as the tap nearer to it saw it.
    pub server: Endpoint,
    /// The tap nearer the client, and how that was told.
    pub client_side: Tap,
    pub client_side_from: &'static str,
    pub pairing: PairingRecord,
    pub inside: SideRecord,
    pub outside: SideRecord,
    /// TLS established at both taps (nothing after it is compared).
    pub tls_both: bool,
    /// Lines compared (both directions) and of them identical.
    pub lines_compared: usize,
    pub lines_identical: usize,
    pub changes: Vec<ChangeRecord>,
    /// Stretches around lost bytes that were not compared.
    pub not_compared: Vec<String>,
    /// What the path did to this session, in words.
    pub attribution: String,
    #[serde(skip)]
    pub behaviours: Vec<Behaviour>,
    #[serde(skip)]
    pub server_key: (Endpoint, &'static str),
    #[serde(skip)]
    pub near_server: Endpoint,
}

impl PairRecord {
    pub(crate) fn worst(&self) -> Option<Severity> {
        self.changes.iter().map(|c| c.severity).max()
    }
}

/// A session seen at one tap only.
#[derive(Clone, Debug, Serialize)]
pub struct OneSideRecord {
    pub tap: Tap,
    pub session: u64,
    pub protocol: &'static str,
    pub client: Endpoint,
    pub server: Endpoint,
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: Timestamp,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: Timestamp,
    pub file: String,
    pub tls: TlsState,
    #[serde(skip)]
    pub server_key: (Endpoint, &'static str),
}

/// One sentence of a server's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct VerdictRecord {
    pub severity: Severity,
    pub sessions: u64,
    pub text: String,
}

/// What the path did to the sessions of one server.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRecord {
    /// The server as the tap nearer to it saw it.
    pub server: Endpoint,
    pub protocol: &'static str,
    /// How the clients' side reached it, when other (a proxy or NAT).
    pub reached_as: Vec<Endpoint>,
    pub pairs: u64,
    pub changed: u64,
    pub one_side_only: u64,
    pub methods: BTreeMap<Method, u64>,
    pub changes: BTreeMap<ChangeKind, u64>,
    pub verdict: Vec<VerdictRecord>,
}

/// Counts over the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SummaryRecord {
    pub pairs: u64,
    pub by_method: BTreeMap<Method, u64>,
    pub changed_pairs: u64,
    pub changes: u64,
    pub worst: Option<Severity>,
    pub inside_only: u64,
    pub outside_only: u64,
    /// Sessions per tap, and sessions not kept (limits).
    pub sessions: BTreeMap<Tap, u64>,
    pub sessions_not_kept: BTreeMap<Tap, u64>,
}

/// Both taps' inputs.
#[derive(Clone, Debug, Serialize)]
pub struct TapInputs {
    pub inside: Vec<InputSummary>,
    pub outside: Vec<InputSummary>,
}

/// The whole diff.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub schema_version: u32,
    pub summary: SummaryRecord,
    pub servers: Vec<ServerRecord>,
    pub pairs: Vec<PairRecord>,
    pub one_side_only: Vec<OneSideRecord>,
    pub inputs: TapInputs,
    pub stats: BTreeMap<Tap, TableStats>,
}

impl DiffReport {
    /// True when every input of both taps was read to its end.
    pub fn inputs_complete(&self) -> bool {
        self.inputs
            .inside
            .iter()
            .chain(&self.inputs.outside)
            .all(InputSummary::complete)
    }

    /// The most severe change.
    pub fn worst(&self) -> Option<Severity> {
        self.summary.worst
    }
}

/// Turns packet references of either tap into files and frame numbers.
struct Locator {
    names: [Vec<String>; 2],
}

impl Locator {
    fn file(&self, tap: Tap, packet: PacketRef) -> String {
        let [a, b] = &self.names;
        let names = if tap == Tap::Inside { a } else { b };
        names
            .get(usize::from(packet.input))
            .map_or_else(String::new, |n| text::escape(n.as_bytes()))
    }

    fn version(&self, v: &Version, show_secrets: bool) -> VersionRecord {
        let bytes = if show_secrets {
            v.evidence.bytes.clone()
        } else {
            v.evidence.redacted()
        };
        VersionRecord {
            tap: v.tap,
            excerpt: text::escape(&bytes),
            file: self.file(v.tap, v.evidence.packet),
            packet: v.evidence.packet.frame,
            timestamp: v.evidence.packet.ts,
        }
    }

    fn side(&self, tap: Tap, s: &SeenSession) -> SideRecord {
        SideRecord {
            session: s.id,
            client: s.client,
            server: s.server,
            first_seen: s.first.ts,
            last_seen: s.last.ts,
            file: self.file(tap, s.first),
            implicit_tls: s.implicit_tls,
            tls: s.tls_state(),
            lines: PerSide::new(
                super::align::side_lines(s, Side::Client).len(),
                super::align::side_lines(s, Side::Server).len(),
            ),
            lines_not_kept: s.dropped_lines,
            gaps: s.gaps,
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Which tap is nearer the client. Client lines reach the far tap later,
/// server lines earlier: the difference of the two median delays tells it
/// whatever the offset between the taps' clocks. Else the tap that saw the
/// session first; else the inside, assumed.
fn orientation(a: &SeenSession, b: &SeenSession, ops: &PerSide<Vec<Op>>) -> (Tap, &'static str) {
    let delays = |ops: &[Op]| {
        let v: Vec<f64> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Equal(x, y) => {
                    let pa = a.lines.get(*x)?.item.packet?;
                    let pb = b.lines.get(*y)?.item.packet?;
                    Some(seconds_between(pa.ts, pb.ts))
                }
                _ => None,
            })
            .collect();
        median(v)
    };
    if let (Some(dc), Some(ds)) = (delays(&ops.client), delays(&ops.server)) {
        if dc - ds > 1e-9 {
            return (Tap::Inside, "line-timing");
        }
        if ds - dc > 1e-9 {
            return (Tap::Outside, "line-timing");
        }
    }
    match a.first.ts.cmp(&b.first.ts) {
        std::cmp::Ordering::Less => (Tap::Inside, "first-packet"),
        std::cmp::Ordering::Greater => (Tap::Outside, "first-packet"),
        std::cmp::Ordering::Equal => (Tap::Inside, "assumed"),
    }
}

fn protocol_name(p: Option<Protocol>) -> &'static str {
    p.map_or("unknown", Protocol::name)
}

fn quote(v: Option<&Version>) -> String {
    v.map_or_else(
        || "?".to_string(),
        |v| text::escape_truncated(&v.evidence.redacted(), 120),
    )
}

/// One sentence about a change, never showing a secret.
fn summary(c: &Change) -> String {
    let (b, a) = (quote(c.before.as_ref()), quote(c.after.as_ref()));
    let at = |v: &Option<Version>| v.as_ref().map_or("", |v| v.tap.name());
    let (up, down) = (at(&c.before), at(&c.after));
    let cap = c.capability.as_deref().unwrap_or("?");
    match c.kind {
        ChangeKind::CapabilityRemoved => format!(
            "{cap} was removed from the server's capabilities on the path (`{b}` at the {up} tap only)"
        ),
        ChangeKind::CapabilityMasked => format!(
            "{cap} was masked as `{}` on the path: `{b}` at the {up} tap, `{a}` at the {down} tap",
            c.mask.as_deref().unwrap_or("?")
        ),
        ChangeKind::CapabilityAdded => {
            format!("the capability `{cap}` was added on the path (`{a}` at the {down} tap only)")
        }
        ChangeKind::BannerMasked => format!(
            "the greeting was masked with asterisks on the path: `{b}` at the {up} tap, `{a}` at the {down} tap"
        ),
        ChangeKind::CommandMasked => format!(
            "the client's `{b}` ({up} tap) reached the server as `{a}` ({down} tap): overwritten on the path"
        ),
        ChangeKind::CommandRewritten => {
            format!("the client's `{b}` ({up} tap) reached the server as `{a}` ({down} tap)")
        }
        ChangeKind::CommandInjected if c.around_starttls => format!(
            "`{a}` reached the server after STARTTLS ({down} tap) but the client never sent it: command injection on the path"
        ),
        ChangeKind::CommandInjected => {
            format!("`{a}` reached the server ({down} tap) but the client never sent it")
        }
        ChangeKind::CommandDropped => {
            format!("the client's `{b}` ({up} tap) never reached the server")
        }
        ChangeKind::ReplyRewritten => {
            format!("the server's `{b}` ({up} tap) reached the client as `{a}` ({down} tap)")
        }
        ChangeKind::ReplyInjected if c.around_starttls => format!(
            "`{a}` reached the client after the TLS go-ahead ({down} tap) but the server never sent it: response injection on the path"
        ),
        ChangeKind::ReplyInjected => {
            format!("`{a}` reached the client ({down} tap) but the server never sent it")
        }
        ChangeKind::ReplyDropped => {
            format!("the server's `{b}` ({up} tap) never reached the client")
        }
        ChangeKind::StarttlsAnsweredByMiddlebox => format!(
            "the client's `{b}` ({up} tap) never reached the server: the middlebox answered it with `{}`",
            quote(c.answer.as_ref())
        ),
        ChangeKind::TlsOneSide => format!(
            "TLS differs between the taps: {}",
            c.detail.as_deref().unwrap_or("?")
        ),
    }
}

fn change_record(c: &Change, loc: &Locator, show: bool) -> ChangeRecord {
    let versions = [&c.before, &c.after];
    let pick = |tap: Tap| {
        versions
            .iter()
            .find_map(|v| v.as_ref().filter(|v| v.tap == tap))
            .map(|v| loc.version(v, show))
    };
    ChangeRecord {
        kind: c.kind,
        severity: c.severity,
        direction: match c.direction {
            Side::Client => "client-to-server",
            Side::Server => "server-to-client",
        },
        summary: summary(c),
        capability: c.capability.clone(),
        mask: c.mask.clone(),
        inside: pick(Tap::Inside),
        outside: pick(Tap::Outside),
        answer: c.answer.as_ref().map(|v| loc.version(v, show)),
    }
}

fn change_time(c: &Change) -> Option<PacketRef> {
    [&c.before, &c.after, &c.answer]
        .iter()
        .filter_map(|v| v.as_ref().map(|v| v.evidence.packet))
        .min_by_key(|p| p.ts)
}

/// What was not compared around lost bytes, in words.
fn lost_note(side: Side, taps: [(&SeenSession, &Vec<usize>); 2]) -> String {
    let mut lost = Vec::new();
    let mut lines = Vec::new();
    for (tap, (s, items)) in [Tap::Inside, Tap::Outside].into_iter().zip(taps) {
        let mut n = 0;
        for l in items.iter().filter_map(|&i| s.lines.get(i)) {
            match l.item.kind {
                TapKind::Gap { len } => lost.push(format!("{len} bytes at the {} tap", tap.name())),
                _ => n += 1,
            }
        }
        lines.push(format!("{n} at the {} tap", tap.name()));
    }
    format!(
        "the {}'s stream lost {}: the lines around it were not compared ({})",
        side.name(),
        lost.join(" and "),
        lines.join(", ")
    )
}

/// Compares one pair.
fn compare(
    id: u64,
    pairing: &super::pair::Pairing,
    a: &SeenSession,
    b: &SeenSession,
    loc: &Locator,
    show: bool,
) -> PairRecord {
    let ops = PerSide::new(align(a, b, Side::Client), align(a, b, Side::Server));
    let (client_side, from) = orientation(a, b, &ops);
    let protocol = a.protocol.or(b.protocol);
    let view = PairView {
        inside: a,
        outside: b,
        roles: [super::roles::roles(a), super::roles::roles(b)],
        client_side,
        protocol,
    };
    let mut changes = classify::classify(&view, Side::Client, &ops.client);
    changes.extend(classify::classify(&view, Side::Server, &ops.server));
    changes.extend(classify::tls_change(&view));
    super::upgrade::add_upgrade_changes(&view, &mut changes);
    let mut changes = classify::merge(&view, changes);
    changes.sort_by_key(|c| change_time(c).map(|p| p.ts));
    let mut not_compared = Vec::new();
    let (mut compared, mut identical) = (0, 0);
    for (side, ops) in ops.iter() {
        for op in ops {
            match op {
                Op::Equal(..) => {
                    compared += 1;
                    identical += 1;
                }
                Op::Changed(..) | Op::OnlyA(_) | Op::OnlyB(_) => compared += 1,
                Op::Lost(x, y) => not_compared.push(lost_note(side, [(a, x), (b, y)])),
            }
        }
    }
    let behaviours = attribute::behaviours(protocol, &changes);
    let (near, far) = match client_side {
        Tap::Inside => (a, b),
        Tap::Outside => (b, a),
    };
    PairRecord {
        id,
        protocol: protocol_name(protocol),
        client: near.client,
        server: far.server,
        client_side,
        client_side_from: from,
        pairing: PairingRecord {
            method: pairing.method,
            confidence: pairing.confidence,
            reasons: pairing.reasons.clone(),
        },
        inside: loc.side(Tap::Inside, a),
        outside: loc.side(Tap::Outside, b),
        tls_both: a.tls_state() == TlsState::Established && b.tls_state() == TlsState::Established,
        lines_compared: compared,
        lines_identical: identical,
        changes: changes
            .iter()
            .map(|c| change_record(c, loc, show))
            .collect(),
        not_compared,
        attribution: attribute::sentence(&behaviours),
        behaviours,
        server_key: (far.server, protocol_name(protocol)),
        near_server: near.server,
    }
}

/// Pairs the sessions of the two taps and compares every pair.
pub(crate) fn build_report(a: &TapCapture, b: &TapCapture, options: &DiffOptions) -> DiffReport {
    let loc = Locator {
        names: [a.names.clone(), b.names.clone()],
    };
    let result = pair_sessions(&a.sessions, &b.sessions, options.window_secs);
    let mut pairs = Vec::new();
    for (k, p) in result.pairs.iter().enumerate() {
        if let (Some(sa), Some(sb)) = (a.sessions.get(p.inside), b.sessions.get(p.outside)) {
            pairs.push(compare(k as u64 + 1, p, sa, sb, &loc, options.show_secrets));
        }
    }
    // A one-sided session is filed under the server its tap's paired
    // sessions lead to (a proxy's address stands for its server).
    let mut leads: HashMap<(Tap, Endpoint), Endpoint> = HashMap::new();
    for p in &pairs {
        leads.insert((p.client_side, p.near_server), p.server_key.0);
    }
    let mut one_side = Vec::new();
    for (cap, list) in [(a, &result.inside_only), (b, &result.outside_only)] {
        for &i in list {
            let Some(s) = cap.sessions.get(i) else {
                continue;
            };
            let server = leads.get(&(cap.tap, s.server)).copied().unwrap_or(s.server);
            one_side.push(OneSideRecord {
                tap: cap.tap,
                session: s.id,
                protocol: protocol_name(s.protocol),
                client: s.client,
                server: s.server,
                first_seen: s.first.ts,
                last_seen: s.last.ts,
                file: loc.file(cap.tap, s.first),
                tls: s.tls_state(),
                server_key: (server, protocol_name(s.protocol)),
            });
        }
    }
    one_side.sort_by_key(|o| (o.first_seen, o.tap));
    let servers = attribute::servers(&pairs, &one_side);
    let mut summary = SummaryRecord::default();
    for p in &pairs {
        summary.pairs += 1;
        *summary.by_method.entry(p.pairing.method).or_default() += 1;
        summary.changed_pairs += u64::from(!p.changes.is_empty());
        summary.changes += p.changes.len() as u64;
        summary.worst = summary.worst.max(p.worst());
    }
    summary.inside_only = result.inside_only.len() as u64;
    summary.outside_only = result.outside_only.len() as u64;
    for cap in [a, b] {
        summary.sessions.insert(cap.tap, cap.sessions.len() as u64);
        summary
            .sessions_not_kept
            .insert(cap.tap, cap.sessions_not_kept);
    }
    DiffReport {
        schema_version: SCHEMA_VERSION,
        summary,
        servers,
        pairs,
        one_side_only: one_side,
        inputs: TapInputs {
            inside: a.inputs.clone(),
            outside: b.inputs.clone(),
        },
        stats: BTreeMap::from([(Tap::Inside, a.stats), (Tap::Outside, b.stats)]),
    }
}
