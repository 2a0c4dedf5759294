//! What servers showed across runs and sensors (`--history`): the proof of
//! a stripping that no session of the capture shows.
//!
//! Every session to a mail server is an observation: the server, the
//! sensor that saw it, whether STARTTLS was offered, masked, mangled or
//! absent, the banner and capability set, the TLS version and certificate.
//! A run tallies them ([`Observations`]), proves sessions against what the
//! store knew when the run began ([`OfferIndex`]), and adds its tallies to
//! the store at the end ([`store::Store::commit`]): every row is keyed by
//! what was seen, so adding is one upsert per row, safe with many writers.

mod observe;
pub(crate) mod store;
pub(crate) mod timeline;

pub(crate) use observe::{Observation, ObservationKey, Observations, StarttlsSeen};
pub use store::HistoryError;
pub(crate) use store::Store;
pub use timeline::Timeline;

use super::findings::{EvidenceRecord, Finding, FindingKind, Proof};
use super::session::SessionRecord;
use crate::flow::Endpoint;
use crate::proto::Protocol;
use crate::text;
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::HashMap;

/// How close another sensor's offers must be to a session for its absence
/// to be "at the same time": a server's configuration does not change
/// back and forth within the hour.
pub(crate) const SAME_TIME_MICROS: i64 = 3_600 * 1_000_000;

/// The history behind a `history` or `other-sensor` proof: the sessions in
/// which the server offered STARTTLS before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct HistoryProof {
    /// The sensors that saw the offers, in name order.
    pub sensors: Vec<String>,
    /// Sessions with the offer.
    pub sessions: u64,
    /// The first of them.
    #[serde(serialize_with = "crate::analysis::record::rfc3339")]
    pub first_seen: Timestamp,
    /// The last of them.
    #[serde(serialize_with = "crate::analysis::record::rfc3339")]
    pub last_seen: Timestamp,
}

/// Longest sensor name (`--sensor`).
pub(crate) const MAX_SENSOR_NAME: usize = 64;

/// Offers of STARTTLS one sensor saw from one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SensorOffers {
    pub sensor: String,
    pub sessions: u64,
    /// Microseconds since the epoch.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// The offers in the store, by server and protocol, as the run began.
#[derive(Default)]
pub(crate) struct OfferIndex {
    offers: HashMap<(Endpoint, String), Vec<SensorOffers>>,
}

impl OfferIndex {
    /// An index of `offers` (one per server, protocol and sensor).
    pub(crate) fn new(offers: Vec<(Endpoint, String, SensorOffers)>) -> Self {
        let mut index = OfferIndex::default();
        for (server, protocol, o) in offers {
            index.offers.entry((server, protocol)).or_default().push(o);
        }
        for list in index.offers.values_mut() {
            list.sort_by(|a, b| a.sensor.cmp(&b.sensor));
        }
        index
    }

    /// What proves a missing offer from `server` seen by `sensor` between `start` and `end`
    /// (microseconds): another sensor's offers at the same time most (the path to this sensor
    /// strips), then this sensor's own history, then any other sensor's.
    pub(crate) fn proof_for(
        &self,
        server: Endpoint,
        protocol: &str,
        sensor: &str,
        (start, end): (i64, i64),
    ) -> Option<(Proof, HistoryProof)> {
        let offers = self.offers.get(&(server, protocol.to_string()))?;
        let near = |o: &&SensorOffers| {
            o.first_seen <= end.saturating_add(SAME_TIME_MICROS)
                && o.last_seen >= start.saturating_sub(SAME_TIME_MICROS)
        };
        let others: Vec<&SensorOffers> = offers.iter().filter(|o| o.sensor != sensor).collect();
        let own: Vec<&SensorOffers> = offers.iter().filter(|o| o.sensor == sensor).collect();
        let same_time: Vec<&SensorOffers> = others.iter().copied().filter(near).collect();
        if !same_time.is_empty() {
            Some((Proof::OtherSensor, summed(&same_time)))
        } else if !own.is_empty() {
            Some((Proof::History, summed(&own)))
        } else if !others.is_empty() {
            Some((Proof::History, summed(&others)))
        } else {
            None
        }
    }
}

/// A missing offer waiting for its proof.
pub(crate) struct MissingOffer<'a> {
    pub session: u64,
    pub server: Endpoint,
    pub protocol: &'a str,
    /// First and last seen.
    pub seen: (Timestamp, Timestamp),
    /// The capability list without the offer.
    pub absence: EvidenceRecord,
}

/// The history's side of a run: the sensor, the offers known when it began
/// and the store the run's observations go to.
pub struct History {
    sensor: String,
    store: Option<Store>,
    index: OfferIndex,
}

impl History {
    /// The history at `location` (none: observations are only reported, for `server_observation`
    /// lines), for the sensor `sensor` (by default the host's name); the offers it holds are read
    /// now. `location` is a `postgres://` or `postgresql://` URL, or the path of an SQLite file
    /// (created readable by its owner only when missing; never through a symbolic link).
    pub fn open(location: Option<&str>, sensor: Option<String>) -> Result<History, HistoryError> {
        let sensor = sensor.unwrap_or_else(default_sensor);
        // The name is written in every output: printable, short, no backslash.
        if sensor.is_empty()
            || sensor.len() > MAX_SENSOR_NAME
            || text::escape(sensor.as_bytes()) != sensor
        {
            return Err(HistoryError::sensor(&sensor));
        }
        let mut store = location.map(|l| Store::open(l, true)).transpose()?;
        let index = match &mut store {
            Some(store) => OfferIndex::new(store.offers()?),
            None => OfferIndex::default(),
        };
        Ok(History {
            sensor,
            store,
            index,
        })
    }

    /// The sensor's name.
    pub(crate) fn sensor(&self) -> &str {
        &self.sensor
    }

    /// Whether a store is kept (the finding's proofs can come from it).
    pub(crate) fn has_store(&self) -> bool {
        self.store.is_some()
    }

    /// Proves the stripping of `record` (a capability list without STARTTLS, no mask) from the
    /// history, in place.
    pub(crate) fn prove(&self, record: &mut SessionRecord) -> bool {
        let Some(absence) = record.stripping.unproven_absence.clone() else {
            return false;
        };
        let missing = MissingOffer {
            session: record.id,
            server: record.server,
            protocol: record.protocol,
            seen: (record.transport.first_seen, record.transport.last_seen),
            absence,
        };
        let Some(finding) = self.finding(missing) else {
            return false;
        };
        record
            .findings
            .retain(|f| f.kind != FindingKind::NoStarttlsOffered);
        record.findings.push(finding);
        record.findings.sort_by_key(|f| f.kind);
        record.stripping.unproven_absence = None;
        true
    }

    /// The finding that proves `missing` stripped, if the history does.
    pub(crate) fn finding(&self, missing: MissingOffer<'_>) -> Option<Finding> {
        let seen = (micros(missing.seen.0), micros(missing.seen.1));
        let (proof, history) =
            self.index
                .proof_for(missing.server, missing.protocol, &self.sensor, seen)?;
        Some(history_finding(&missing, &self.sensor, proof, history))
    }

    /// Reads the store's offers again (other sensors may have written since the run began).
    pub(crate) fn reload(&mut self) -> Result<(), HistoryError> {
        if let Some(store) = &mut self.store {
            self.index = OfferIndex::new(store.offers()?);
        }
        Ok(())
    }

    /// Adds the run's observations to the store; false when this sensor added the very same ones
    /// before (nothing is added twice).
    pub(crate) fn commit(&mut self, observations: &Observations) -> Result<bool, HistoryError> {
        match &mut self.store {
            Some(store) => store.commit(&self.sensor, &observations.sorted()),
            None => Ok(true),
        }
    }
}

fn summed(offers: &[&SensorOffers]) -> HistoryProof {
    let mut sensors: Vec<String> = offers.iter().map(|o| o.sensor.clone()).collect();
    sensors.dedup();
    HistoryProof {
        sensors,
        sessions: offers.iter().map(|o| o.sessions).sum(),
        first_seen: from_micros(offers.iter().map(|o| o.first_seen).min().unwrap_or(0)),
        last_seen: from_micros(offers.iter().map(|o| o.last_seen).max().unwrap_or(0)),
    }
}

fn history_finding(
    missing: &MissingOffer<'_>,
    sensor: &str,
    proof: Proof,
    history: HistoryProof,
) -> Finding {
    let keyword = Protocol::keyword_of(missing.protocol);
    let sessions = if history.sessions == 1 {
        "1 session".to_string()
    } else {
        format!("{} sessions", history.sessions)
    };
    let by = history
        .sensors
        .iter()
        .map(|s| text::escape(s.as_bytes()))
        .collect::<Vec<_>>()
        .join(", ");
    let (first, last) = (history.first_seen, history.last_seen);
    let span = if history.sessions == 1 {
        format!("at {last}")
    } else {
        format!("from {first} to {last}")
    };
    let server = missing.server;
    let summary = match proof {
        Proof::OtherSensor => format!(
            "the capability list from {server} reached sensor {me} without {keyword}, but at the same \
             time the server offered it to sensor {by} ({sessions} {span}): it is stripped on the path to {me}",
            me = text::escape(sensor.as_bytes()),
        ),
        _ => format!(
            "the capability list from {server} reached this capture without {keyword}, but the server \
             offered it in {sessions} {span}, seen by sensor {by}: it was removed on the path"
        ),
    };
    let mut finding = Finding::new(
        FindingKind::StarttlsStripped,
        FindingKind::StarttlsStripped.rule().severity,
        missing.session,
        summary,
        vec![missing.absence.clone()],
    )
    .proven_by(proof);
    finding.history = Some(Box::new(history));
    finding
}

/// Microseconds since the epoch (saturating: a hostile capture's times
/// may be anything).
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.secs
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(t.nanos / 1_000))
}

/// The inverse of [`micros`].
pub(crate) fn from_micros(us: i64) -> Timestamp {
    let secs = us.div_euclid(1_000_000);
    let rest = us.rem_euclid(1_000_000);
    // rest is in 0..1_000_000: the product fits u32.
    Timestamp::new(secs, u32::try_from(rest).unwrap_or(0) * 1_000)
}

/// The sensor's name when `--sensor` is not given: the host's name.
fn default_sensor() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy().into_owned();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// The timeline of the history at `location` (it must exist), per server; `server` keeps one
/// server's (address, and port when given).
pub fn timeline(
    location: &str,
    server: Option<(std::net::IpAddr, Option<u16>)>,
) -> Result<Timeline, HistoryError> {
    let mut store = Store::open(location, false)?;
    let mut timeline = timeline::build(&store.rows()?);
    if let Some((ip, port)) = server {
        timeline
            .servers
            .retain(|s| s.server.ip == ip && port.is_none_or(|p| p == s.server.port));
    }
    Ok(timeline)
}
