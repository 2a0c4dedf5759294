//! A run: ended sessions come in, in the order they end; the cross-session
//! proof and the per-server profiles are kept up to date; reporters get
//! every session and finding as soon as it is known.

use super::findings::{Finding, Severity};
use super::history::{History, HistoryError, Observation, ObservationKey, Observations};
use super::policy::Policy;
use super::profile::{LateFinding, ServerProfile, ServerProfiles};
use super::session::SessionRecord;
use crate::flow::{Endpoint, TableStats};
use crate::parallel::Collector;
use crate::pipeline::InputSummary;
use crate::proto::facts::Protocol;
use std::io;
use std::net::IpAddr;

/// Receives a run's results as they are made.
pub trait Reporter {
    /// A session ended (its findings are final, but for late ones).
    fn session(&mut self, record: &SessionRecord) -> io::Result<()>;
    /// The same, for the run's last reporter, which may keep the record
    /// without copying it (a reporter that keeps every record, for a
    /// document written at the end, saves a copy of each).
    fn session_owned(&mut self, record: SessionRecord) -> io::Result<()> {
        self.session(&record)
    }
    /// A finding about a session reported earlier (the cross-session proof
    /// of stripping, made when a later session showed the offer).
    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()>;
    /// The run is over.
    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()>;
    /// Reading paused a moment (every few thousand packets, every batch
    /// round): make what was written so far visible to whoever reads it.
    fn pause(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Whether this reporter writes the run's observations of its servers
    /// ([`RunEnd`]'s `server_observation` lines): a run none of whose
    /// reporters does, and without a history store, does not make them.
    fn wants_observations(&self) -> bool {
        false
    }
}

/// What a run ends with.
pub struct RunEnd<'a> {
    /// One summary per input, in reading order.
    pub inputs: &'a [InputSummary],
    /// The flow table's counters for the whole run (before filters).
    pub stats: &'a TableStats,
    /// The profiles of the servers the filter keeps that had a reported session, ordered by
    /// `server` as text.
    pub servers: Vec<&'a ServerProfile>,
    /// Sessions seen (before filters) and reported (after).
    pub sessions_seen: u64,
    /// Of those, the ones the `--server` and `--protocol` filter kept (handed to the reporters).
    pub sessions_reported: u64,
    /// What the sessions showed of their servers (before `--min-severity`, after the server and
    /// protocol filter), in key order: the `server_observation` lines.
    pub(crate) observations: Vec<(&'a ObservationKey, &'a Observation)>,
    /// The sensor that made the observations (`--sensor`), when the run has one.
    pub(crate) sensor: Option<&'a str>,
}

/// Which sessions and findings are reported.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Findings below this are dropped.
    pub min_severity: Option<Severity>,
    /// Only sessions to this server (address, and port when given).
    pub server: Option<(IpAddr, Option<u16>)>,
    /// Only sessions of this protocol.
    pub protocol: Option<Protocol>,
}

impl Filter {
    fn keeps_server(&self, server: Endpoint, protocol: &str) -> bool {
        if self.protocol.is_some_and(|p| p.name() != protocol) {
            return false;
        }
        self.server
            .is_none_or(|(ip, port)| server.ip == ip && port.is_none_or(|want| want == server.port))
    }

    fn keeps_finding(&self, finding: &Finding) -> bool {
        self.min_severity.is_none_or(|min| finding.severity >= min)
    }
}

/// The state of a run between its first and last session.
pub struct Run<'r> {
    profiles: ServerProfiles,
    observations: Observations,
    /// Whether sessions are tallied in `observations` (a reporter or the
    /// history store reads them).
    observing: bool,
    history: Option<History>,
    policy: Option<Policy>,
    reporters: Vec<&'r mut dyn Reporter>,
    filter: Filter,
    worst: Option<Severity>,
    seen: u64,
    reported: u64,
    error: Option<io::Error>,
}

/// The run takes the sessions of the pipeline, on one thread or several.
impl Collector<SessionRecord> for Run<'_> {
    fn session(&mut self, record: SessionRecord) {
        Run::session(self, record);
    }

    fn pause(&mut self) {
        Run::pause(self);
    }
}

impl<'r> Run<'r> {
    /// A run that hands what `filter` keeps to `reporters`, in their order.
    pub fn new(filter: Filter, reporters: Vec<&'r mut dyn Reporter>) -> Self {
        Run {
            profiles: ServerProfiles::default(),
            observations: Observations::new(),
            observing: reporters.iter().any(|r| r.wants_observations()),
            history: None,
            policy: None,
            reporters,
            filter,
            worst: None,
            seen: 0,
            reported: 0,
            error: None,
        }
    }

    /// The same run with a sensor's history: its sessions are proven against the offers it holds
    /// and tallied for it (see [`Run::end_history`]).
    pub fn with_history(mut self, history: History) -> Self {
        self.observing |= history.has_store();
        self.history = Some(history);
        self
    }

    /// The same run with a policy (see `policy.example.toml`): a session that breaks a rule gets
    /// the finding it deserves, the policy as its proof.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Ends the history's part of the run, before [`Run::finish`]: reads the store's offers again
    /// (other sensors may have written since the run began) to prove the absences still waiting,
    /// reported as late findings, then adds the run's observations to the store. Returns false
    /// when the sensor had added the very same observations before (the same capture analysed
    /// again): they are not counted twice.
    pub fn end_history(&mut self) -> Result<bool, HistoryError> {
        let Some(history) = self.history.as_mut().filter(|h| h.has_store()) else {
            return Ok(true);
        };
        history.reload()?;
        let late = self.profiles.prove_pending(|m| history.finding(m));
        let added = history.commit(&self.observations)?;
        self.report_late(late);
        Ok(added)
    }

    /// See [`Reporter::pause`].
    pub(crate) fn pause(&mut self) {
        self.each(|r| r.pause());
    }

    /// An ended session, in the order sessions end: proves stripping across sessions, filters,
    /// counts it in its server's profile and hands it, then any late findings it proved, to every
    /// reporter. After a reporter's error nothing more is reported.
    pub fn session(&mut self, mut record: SessionRecord) {
        self.seen += 1;
        // A same-run offer seen before proves it best (the bytes are in the capture); else the
        // history; else the policy; else a later session of the run may.
        let offer_in_run = self.profiles.has_offer(record.server);
        if let Some(history) = self.history.as_ref().filter(|_| !offer_in_run) {
            history.prove(&mut record);
        }
        if let Some(policy) = &self.policy {
            policy.apply(&mut record, offer_in_run);
        }
        let late = self.profiles.prove(&mut record);
        if self.observing {
            self.observations.observe(&record);
        }
        if self.filter.keeps_server(record.server, record.protocol) {
            record.findings.retain(|f| self.filter.keeps_finding(f));
            self.note(record.findings.iter());
            self.profiles.count(&record);
            self.reported += 1;
            self.each_then_last(record);
        }
        self.report_late(late);
    }

    /// Filters, counts and hands late findings to every reporter.
    fn report_late(&mut self, late: Vec<LateFinding>) {
        for l in late {
            if self.filter.keeps_server(l.server, l.protocol)
                && self.filter.keeps_finding(&l.finding)
            {
                let replaced_counted = l
                    .replaced_severity
                    .is_some_and(|s| self.filter.min_severity.is_none_or(|min| s >= min));
                self.profiles.count_late(&l, replaced_counted);
                self.note(std::iter::once(&l.finding));
                self.each(|r| r.late_finding(&l));
            }
        }
    }

    /// The most severe finding reported so far.
    pub fn worst(&self) -> Option<Severity> {
        self.worst
    }

    /// The first error a reporter met (reporting stopped there), if any:
    /// a run that does not end by itself (a live capture) stops on it.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Ends the run. Returns the most severe finding reported, and the
    /// first error a reporter met, if any (the findings stand either way:
    /// a reader that stops early does not make them go away).
    pub fn finish(
        mut self,
        inputs: &[InputSummary],
        stats: &TableStats,
    ) -> (Option<Severity>, Option<io::Error>) {
        let end = RunEnd {
            inputs,
            stats,
            servers: self
                .profiles
                .profiles()
                .into_iter()
                .filter(|(server, p)| self.filter.keeps_server(*server, p.protocol))
                .map(|(_, p)| p)
                .collect(),
            sessions_seen: self.seen,
            sessions_reported: self.reported,
            observations: self
                .observations
                .sorted()
                .into_iter()
                .filter(|(k, _)| self.filter.keeps_server(k.server, &k.protocol))
                .collect(),
            sensor: self.history.as_ref().map(History::sensor),
        };
        for r in self.reporters.iter_mut() {
            if self.error.is_none() {
                if let Err(e) = r.finish(&end) {
                    self.error = Some(e);
                }
            }
        }
        (self.worst, self.error)
    }

    fn note<'a>(&mut self, findings: impl Iterator<Item = &'a Finding>) {
        for f in findings {
            self.worst = self.worst.max(Some(f.severity));
        }
    }

    /// Hands `record` to every reporter, the last one keeping it.
    fn each_then_last(&mut self, record: SessionRecord) {
        if self.error.is_some() {
            return;
        }
        let Some((last, others)) = self.reporters.split_last_mut() else {
            return;
        };
        let result = others
            .iter_mut()
            .try_for_each(|r| r.session(&record))
            .and_then(|()| last.session_owned(record));
        self.error = result.err();
    }

    fn each(&mut self, mut call: impl FnMut(&mut dyn Reporter) -> io::Result<()>) {
        if self.error.is_some() {
            return;
        }
        for r in self.reporters.iter_mut() {
            if let Err(e) = call(&mut **r) {
                self.error = Some(e);
                return;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keeps_the_protocol_and_server_asked_for() {
        let v4 = Endpoint {
            ip: "192.0.2.1".parse().unwrap(),
            port: 587,
        };
        let v6 = Endpoint {
            ip: "2001:db8::1".parse().unwrap(),
            port: 25,
        };
        let smtp_to_v4 = Filter {
            protocol: Some(Protocol::Smtp),
            server: Some((v4.ip, None)),
            ..Filter::default()
        };
        assert!(smtp_to_v4.keeps_server(v4, "smtp"));
        assert!(!smtp_to_v4.keeps_server(v4, "imap"));
        assert!(!smtp_to_v4.keeps_server(v6, "smtp"));
        let v6_port_25 = Filter {
            server: Some((v6.ip, Some(25))),
            ..Filter::default()
        };
        assert!(v6_port_25.keeps_server(v6, "pop3"));
        assert!(!v6_port_25.keeps_server(Endpoint { port: 587, ..v6 }, "pop3"));
        assert!(Filter::default().keeps_server(v4, "imap"));
    }
}
