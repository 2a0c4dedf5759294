//! The history as a timeline per server (`stripwatch history`): when
//! STARTTLS stopped or started being offered and to which sensors, banner,
//! capability and certificate changes, and what two sensors saw differently
//! at the same time (a stripped path, a certificate swapped: interception).

use super::store::StoredRow;
use super::{SAME_TIME_MICROS, micros};
use crate::flow::Endpoint;
use crate::time::Timestamp;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Every server in the history, in address order.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// One entry per server and protocol.
    pub(crate) servers: Vec<ServerTimeline>,
}

impl Timeline {
    /// Writes it as tables: per server, what each sensor saw, then the changes in time order.
    pub fn write_table(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        crate::report::timeline::write_table(self, out)
    }

    /// Writes it as one self-contained HTML page (inline style, no script it did not bring, no
    /// request to any host).
    pub fn write_html(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        crate::report::timeline::write_html(self, out)
    }

    /// Writes it as one JSON document (`pretty`: indented).
    pub fn write_json(&self, out: &mut dyn std::io::Write, pretty: bool) -> std::io::Result<()> {
        crate::report::timeline::write_json(self, out, pretty)
    }
}

/// One server's history.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ServerTimeline {
    /// The server's address and port.
    #[serde(serialize_with = "as_text")]
    pub server: Endpoint,
    /// `smtp`, `imap` or `pop3`.
    pub protocol: String,
    /// What each sensor saw, in sensor order.
    pub sensors: Vec<SensorView>,
    /// The changes, in time order.
    pub events: Vec<TimelineEvent>,
}

/// What one sensor saw of one server.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SensorView {
    /// The sensor's name.
    pub sensor: String,
    /// Sessions it saw.
    pub sessions: u64,
    /// Its first session's first packet.
    #[serde(serialize_with = "crate::analysis::record::rfc3339")]
    pub first_seen: Timestamp,
    /// Its last session's last packet.
    #[serde(serialize_with = "crate::analysis::record::rfc3339")]
    pub last_seen: Timestamp,
    /// Sessions by what they showed of STARTTLS (`offered`, `absent`, ...).
    pub starttls: BTreeMap<&'static str, u64>,
    /// The last greeting seen, escaped.
    pub banner: String,
}

/// A change, or a disagreement between sensors.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct TimelineEvent {
    /// When it was first seen.
    #[serde(serialize_with = "crate::analysis::record::rfc3339")]
    pub at: Timestamp,
    /// What it is.
    pub kind: EventKind,
    /// The sensors it concerns (for a disagreement: the one that saw it right first).
    pub sensors: Vec<String>,
    /// In words, with the counts and times.
    pub detail: String,
}

/// The kinds of timeline events (their JSON names are part of the interface).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum EventKind {
    /// A sensor saw STARTTLS offered, then no longer.
    StarttlsStopped,
    /// A sensor saw no STARTTLS, then an offer.
    StarttlsStarted,
    /// A sensor saw STARTTLS offered and missing over the same period.
    StarttlsIntermittent,
    /// One sensor saw the offer while another saw it missing at the same time: the path to the
    /// second strips it.
    StrippedPath,
    /// The greeting changed.
    BannerChanged,
    /// The capability set changed.
    CapabilitiesChanged,
    /// The certificate changed (renewal, or interception: look at the issuer).
    CertificateChanged,
    /// Two sensors saw different certificates at the same time: a sign of interception.
    CertificateDiffers,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventKind::StarttlsStopped => "starttls-stopped",
            EventKind::StarttlsStarted => "starttls-started",
            EventKind::StarttlsIntermittent => "starttls-intermittent",
            EventKind::StrippedPath => "stripped-path",
            EventKind::BannerChanged => "banner-changed",
            EventKind::CapabilitiesChanged => "capabilities-changed",
            EventKind::CertificateChanged => "certificate-changed",
            EventKind::CertificateDiffers => "certificate-differs",
        })
    }
}

fn as_text<S: Serializer>(e: &Endpoint, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

/// A span of sessions: count, first and last seen (microseconds).
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    sessions: u64,
    first: i64,
    last: i64,
}

impl Span {
    fn add(&mut self, row: &StoredRow) {
        let (first, last) = (micros(row.tally.first_seen), micros(row.tally.last_seen));
        if self.sessions == 0 {
            (self.first, self.last) = (first, last);
        } else {
            self.first = self.first.min(first);
            self.last = self.last.max(last);
        }
        self.sessions = self.sessions.saturating_add(row.tally.sessions);
    }

    fn overlaps(&self, other: &Span) -> bool {
        self.sessions > 0
            && other.sessions > 0
            && self.first <= other.last.saturating_add(SAME_TIME_MICROS)
            && other.first <= self.last.saturating_add(SAME_TIME_MICROS)
    }

    fn words(&self) -> String {
        let (first, last) = (
            super::from_micros(self.first),
            super::from_micros(self.last),
        );
        let n = self.sessions;
        let s = if n == 1 { "" } else { "s" };
        if self.first == self.last {
            format!("{n} session{s} at {first}")
        } else {
            format!("{n} session{s} from {first} to {last}")
        }
    }
}

/// What one sensor saw of one server, by span.
#[derive(Default)]
struct SensorSpans {
    all: Span,
    offered: Span,
    missing: Span,
    by_starttls: BTreeMap<&'static str, u64>,
    /// By hash: the span and the last text.
    banners: BTreeMap<String, (Span, String)>,
    capabilities: BTreeMap<String, (Span, String)>,
    certificates: BTreeMap<String, (Span, String)>,
    last_banner: (i64, String),
}

impl SensorSpans {
    fn add(&mut self, row: &StoredRow) {
        self.all.add(row);
        let st = row.key.starttls;
        if st == super::StarttlsSeen::Offered {
            self.offered.add(row);
        } else if st.is_missing() {
            self.missing.add(row);
        }
        *self.by_starttls.entry(st.name()).or_default() += row.tally.sessions;
        let last = micros(row.tally.last_seen);
        let note = |map: &mut BTreeMap<String, (Span, String)>, hash: &str, text: &str| {
            if !hash.is_empty() {
                let entry = map.entry(hash.to_string()).or_default();
                entry.0.add(row);
                if entry.0.last == last {
                    entry.1 = text.to_string();
                }
            }
        };
        note(&mut self.banners, &row.key.banner_sha256, &row.tally.banner);
        note(
            &mut self.capabilities,
            &row.key.capabilities_sha256,
            &row.tally.capabilities,
        );
        let cert = format!(
            "subject {}, issuer {}, SHA-256 {}",
            row.tally.certificate_subject, row.tally.certificate_issuer, row.key.certificate_sha256
        );
        note(&mut self.certificates, &row.key.certificate_sha256, &cert);
        if !row.tally.banner.is_empty() && last >= self.last_banner.0 {
            self.last_banner = (last, row.tally.banner.to_string());
        }
    }
}

/// The timeline of `rows` (as [`super::Store::rows`] returns them).
pub(crate) fn build(rows: &[StoredRow]) -> Timeline {
    let mut servers: BTreeMap<(Endpoint, String), BTreeMap<String, SensorSpans>> = BTreeMap::new();
    for row in rows {
        servers
            .entry((row.key.server, row.key.protocol.to_string()))
            .or_default()
            .entry(row.sensor.clone())
            .or_default()
            .add(row);
    }
    Timeline {
        servers: servers
            .into_iter()
            .map(|((server, protocol), sensors)| server_timeline(server, protocol, &sensors))
            .collect(),
    }
}

fn server_timeline(
    server: Endpoint,
    protocol: String,
    sensors: &BTreeMap<String, SensorSpans>,
) -> ServerTimeline {
    let mut events = Vec::new();
    for (name, spans) in sensors {
        starttls_changes(name, spans, &mut events);
        changes(
            name,
            &spans.banners,
            EventKind::BannerChanged,
            "greeting",
            &mut events,
        );
        changes(
            name,
            &spans.capabilities,
            EventKind::CapabilitiesChanged,
            "capabilities",
            &mut events,
        );
        changes(
            name,
            &spans.certificates,
            EventKind::CertificateChanged,
            "certificate",
            &mut events,
        );
    }
    disagreements(sensors, &mut events);
    events.sort_by_key(|e| (e.at, e.kind));
    ServerTimeline {
        server,
        protocol,
        sensors: sensors
            .iter()
            .map(|(name, s)| SensorView {
                sensor: name.clone(),
                sessions: s.all.sessions,
                first_seen: super::from_micros(s.all.first),
                last_seen: super::from_micros(s.all.last),
                starttls: s.by_starttls.clone(),
                banner: s.last_banner.1.clone(),
            })
            .collect(),
        events,
    }
}

fn event(at: i64, kind: EventKind, sensors: &[&str], detail: String) -> TimelineEvent {
    TimelineEvent {
        at: super::from_micros(at),
        kind,
        sensors: sensors.iter().map(|s| s.to_string()).collect(),
        detail,
    }
}

/// STARTTLS offered, then missing (or the reverse, or both at once).
fn starttls_changes(name: &str, s: &SensorSpans, out: &mut Vec<TimelineEvent>) {
    let (offered, missing) = (&s.offered, &s.missing);
    if offered.sessions == 0 || missing.sessions == 0 {
        return;
    }
    let (at, kind, detail) = if missing.first > offered.last {
        (
            missing.first,
            EventKind::StarttlsStopped,
            format!(
                "offered in {}; missing in {}",
                offered.words(),
                missing.words()
            ),
        )
    } else if offered.first > missing.last {
        (
            offered.first,
            EventKind::StarttlsStarted,
            format!(
                "missing in {}; offered in {}",
                missing.words(),
                offered.words()
            ),
        )
    } else {
        (
            offered.first.max(missing.first),
            EventKind::StarttlsIntermittent,
            format!(
                "offered in {} and missing in {}",
                offered.words(),
                missing.words()
            ),
        )
    };
    out.push(event(at, kind, &[name], detail));
}

/// Each text after the first one a sensor saw is a change.
fn changes(
    name: &str,
    seen: &BTreeMap<String, (Span, String)>,
    kind: EventKind,
    what: &str,
    out: &mut Vec<TimelineEvent>,
) {
    let mut by_time: Vec<&(Span, String)> = seen.values().collect();
    by_time.sort_by_key(|(span, _)| span.first);
    for pair in by_time.windows(2) {
        if let [(before, old), (after, new)] = pair {
            out.push(event(
                after.first,
                kind,
                &[name],
                format!(
                    "{what} `{new}` in {}; before, `{old}` in {}",
                    after.words(),
                    before.words()
                ),
            ));
        }
    }
}

/// What two sensors saw differently at the same time.
fn disagreements(sensors: &BTreeMap<String, SensorSpans>, out: &mut Vec<TimelineEvent>) {
    for (a, sa) in sensors {
        for (b, sb) in sensors {
            if a == b {
                continue;
            }
            if sa.offered.overlaps(&sb.missing) {
                out.push(event(
                    sb.missing.first.max(sa.offered.first),
                    EventKind::StrippedPath,
                    &[a, b],
                    format!(
                        "offered to sensor {a} in {}, while sensor {b} saw it missing in {}: stripped on the path to {b}",
                        sa.offered.words(),
                        sb.missing.words()
                    ),
                ));
            }
            if a < b {
                certificate_differs(a, sa, b, sb, out);
            }
        }
    }
}

fn certificate_differs(
    a: &str,
    sa: &SensorSpans,
    b: &str,
    sb: &SensorSpans,
    out: &mut Vec<TimelineEvent>,
) {
    let mut seen = BTreeSet::new();
    for (ha, (span_a, text_a)) in &sa.certificates {
        for (hb, (span_b, text_b)) in &sb.certificates {
            if ha != hb && span_a.overlaps(span_b) && seen.insert((ha, hb)) {
                out.push(event(
                    span_a.first.max(span_b.first),
                    EventKind::CertificateDiffers,
                    &[a, b],
                    format!(
                        "sensor {a} saw {text_a} in {}, while sensor {b} saw {text_b} in {}: \
                         one of the paths presents another certificate, a sign of interception",
                        span_a.words(),
                        span_b.words()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::{Observation, ObservationKey, StarttlsSeen};
    use super::*;

    fn row(sensor: &str, starttls: StarttlsSeen, cert: &str, first: i64, last: i64) -> StoredRow {
        StoredRow {
            sensor: sensor.into(),
            key: ObservationKey {
                server: Endpoint {
                    ip: "192.0.2.25".parse().unwrap(),
                    port: 25,
                },
                protocol: "smtp".into(),
                starttls,
                banner_sha256: "b".into(),
                capabilities_sha256: "".into(),
                tls_version: "".into(),
                certificate_sha256: cert.into(),
            },
            tally: Observation {
                sessions: 2,
                first_seen: Timestamp::new(first, 0),
                last_seen: Timestamp::new(last, 0),
                banner: "mx ESMTP".into(),
                capabilities: "".into(),
                certificate_subject: format!("CN={cert}").into(),
                certificate_issuer: "CN=ca".into(),
            },
        }
    }

    fn kinds(t: &Timeline) -> Vec<(EventKind, Vec<String>)> {
        t.servers[0]
            .events
            .iter()
            .map(|e| (e.kind, e.sensors.clone()))
            .collect()
    }

    #[test]
    fn stopping_at_one_sensor_while_another_sees_the_offer_is_a_stripped_path() {
        let rows = [
            row("inside", StarttlsSeen::Offered, "", 1_000, 2_000),
            row("inside", StarttlsSeen::Absent, "", 10_000, 20_000),
            row("outside", StarttlsSeen::Offered, "", 1_000, 20_000),
        ];
        let t = build(&rows);
        assert_eq!(
            kinds(&t),
            vec![
                (EventKind::StarttlsStopped, vec!["inside".into()]),
                (
                    EventKind::StrippedPath,
                    vec!["outside".into(), "inside".into()]
                ),
            ]
        );
        assert_eq!(t.servers[0].sensors[0].starttls["absent"], 2);
    }

    #[test]
    fn a_different_certificate_at_the_same_time_is_reported_once() {
        let rows = [
            row("a", StarttlsSeen::Offered, "c1", 1_000, 2_000),
            row("b", StarttlsSeen::Offered, "c2", 1_500, 2_500),
            row("b", StarttlsSeen::Offered, "c3", 900_000, 900_100),
        ];
        let t = build(&rows);
        assert_eq!(
            kinds(&t),
            vec![
                (EventKind::CertificateDiffers, vec!["a".into(), "b".into()]),
                (EventKind::CertificateChanged, vec!["b".into()]),
            ]
        );
    }
}
