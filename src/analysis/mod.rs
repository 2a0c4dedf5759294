//! Session records, findings, server profiles and the run that ties them.
//!
//! [`MailSessions`] is the session handler the pipeline feeds: it gives
//! every session a [`MailDialog`] and turns each ended session into a
//! [`SessionRecord`]. A [`Run`] takes the records as they come and hands
//! them to reporters. [`analyze`] does all of it over a list of inputs and
//! returns the whole [`Report`].

pub(crate) mod findings;
pub(crate) mod hashes;
pub mod history;
pub(crate) mod policy;
pub(crate) mod profile;
pub(crate) mod record;
pub(crate) mod run;
pub(crate) mod session;

pub use findings::{Finding, FindingKind, Proof, Severity};
pub use policy::{Policy, PolicyError};
pub use profile::{LateFinding, ServerProfile};
pub use run::{Filter, Reporter, Run, RunEnd};
pub use session::SessionRecord;

use crate::capture::InputSpec;
use crate::flow::{
    CloseKey, FlowConfig, SessionHandler, SessionInfo, Side, StreamEvent, StreamSink, TableStats,
};
use crate::parallel::{self, Ended, SessionOutbox};
use crate::pipeline::InputSummary;
use crate::proto::dialog::MailDialog;
use record::Locator;
use serde::Serialize;
use std::io;

/// Version of the JSON report's layout.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Choices that change what records show.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnalysisOptions {
    /// Show passwords, tokens and challenge responses instead of masking
    /// them.
    pub show_secrets: bool,
}

/// The protocol analyzer of one session.
pub struct MailSession {
    dialog: MailDialog,
}

impl StreamSink for MailSession {
    fn on_event(&mut self, side: Side, event: StreamEvent<'_>) {
        self.dialog.on_event(side, &event);
    }
}

/// Session handler that analyzes mail sessions; ended sessions wait in an
/// outbox until the run takes them.
pub struct MailSessions {
    locator: Locator,
    options: AnalysisOptions,
    outbox: Vec<SessionRecord>,
}

impl MailSessions {
    /// A handler for one run over the inputs `input_names` (in processing order: a packet's
    /// `input` index is a position in it); `options` apply to every record.
    pub fn new(input_names: &[String], options: AnalysisOptions) -> Self {
        MailSessions {
            locator: Locator::new(input_names),
            options,
            outbox: Vec::new(),
        }
    }
}

impl SessionHandler for MailSessions {
    type Sink = MailSession;

    fn open(&mut self, info: &SessionInfo) -> MailSession {
        MailSession {
            dialog: MailDialog::for_session(info),
        }
    }

    fn close(&mut self, info: SessionInfo, mut session: MailSession) {
        session.dialog.finish();
        let record = SessionRecord::build(
            &info,
            &session.dialog.facts,
            &self.locator,
            self.options.show_secrets,
        );
        self.outbox.push(record);
    }
}

impl SessionOutbox for MailSessions {
    type Ended = SessionRecord;

    fn take_ended(&mut self) -> std::vec::Drain<'_, SessionRecord> {
        self.outbox.drain(..)
    }
}

impl Ended for SessionRecord {
    fn id(&self) -> u64 {
        self.id
    }

    fn closed_by(&self) -> CloseKey {
        self.closed_by
    }

    fn renumber(&mut self, id: u64) {
        self.id = id;
        for f in &mut self.findings {
            f.session = id;
        }
    }
}

/// Reads the inputs in order, handing every ended session to `run` as soon
/// as it ends, on `threads` worker threads, no more than
/// [`parallel::usable_threads`] (1: on this thread alone; the results are
/// the same). `progress` is told the bytes of each input read so far.
pub fn run_inputs(
    inputs: &[InputSpec],
    config: FlowConfig,
    options: AnalysisOptions,
    threads: usize,
    run: &mut Run<'_>,
    progress: &(dyn Fn(usize, u64) + Sync),
) -> (Vec<InputSummary>, TableStats) {
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let new_handler = || MailSessions::new(&names, options);
    let threads = parallel::usable_threads(threads);
    parallel::run_inputs(inputs, config, threads, &new_handler, run, progress)
}

/// Everything one run found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Version of the layout (currently 1): a removed or renamed field changes it.
    pub schema_version: u32,
    /// One summary per input, in reading order (order of their first packet).
    pub inputs: Vec<InputSummary>,
    /// Every reported session, in `id` order, with late findings applied.
    pub sessions: Vec<SessionRecord>,
    /// Every finding, by session then kind.
    pub findings: Vec<Finding>,
    /// Per server: sessions, STARTTLS offered, upgraded, stripped, logins.
    pub servers: Vec<ServerProfile>,
    /// The flow table's counters for the whole run (before filters).
    pub stats: TableStats,
}

impl Report {
    /// True when every input was read to its end.
    pub fn inputs_complete(&self) -> bool {
        self.inputs.iter().all(InputSummary::complete)
    }
}

/// A reporter that keeps everything and builds the [`Report`].
#[derive(Default)]
pub(crate) struct ReportBuilder {
    sessions: Vec<SessionRecord>,
    /// Late findings, put in their sessions at the end, in the order they
    /// came: few, and each session is found then by its id in the sorted
    /// sessions (no index of every session kept for them).
    late: Vec<(Option<FindingKind>, Finding)>,
    report: Option<Report>,
}

impl ReportBuilder {
    /// The report, once the run has finished.
    pub(crate) fn into_report(self) -> Option<Report> {
        self.report
    }

    /// The report of the run that just ended, its sessions in id order with
    /// their late findings. With `flat_findings` its `findings` too: a copy
    /// of every session's findings (a writer that moves them out of the
    /// sessions as it goes asks for none).
    pub(crate) fn build(&mut self, end: &RunEnd<'_>, flat_findings: bool) -> Report {
        let mut sessions = by_id(std::mem::take(&mut self.sessions));
        for (replaces, finding) in std::mem::take(&mut self.late) {
            let Ok(at) = sessions.binary_search_by_key(&finding.session, |s| s.id) else {
                continue;
            };
            if let Some(s) = sessions.get_mut(at) {
                if let Some(replaced) = replaces {
                    s.findings.retain(|f| f.kind != replaced);
                }
                s.findings.push(finding);
                s.findings.sort_by_key(|f| f.kind);
            }
        }
        let findings = match flat_findings {
            true => flat_findings_of(&sessions),
            false => Vec::new(),
        };
        Report {
            schema_version: SCHEMA_VERSION,
            inputs: end.inputs.to_vec(),
            sessions,
            findings,
            servers: end.servers.iter().map(|p| (*p).clone()).collect(),
            stats: *end.stats,
        }
    }
}

/// Every finding of `sessions`, by session then kind: [`Report::findings`].
pub(crate) fn flat_findings_of(sessions: &[SessionRecord]) -> Vec<Finding> {
    sessions
        .iter()
        .flat_map(|s| s.findings.iter().cloned())
        .collect()
}

impl Reporter for ReportBuilder {
    fn session(&mut self, record: &SessionRecord) -> io::Result<()> {
        self.session_owned(record.clone())
    }

    fn session_owned(&mut self, record: SessionRecord) -> io::Result<()> {
        self.sessions.push(record);
        Ok(())
    }

    fn late_finding(&mut self, late: &LateFinding) -> io::Result<()> {
        self.late.push((late.replaces, late.finding.clone()));
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        self.report = Some(self.build(end, true));
        Ok(())
    }
}

/// `sessions` in id order. A record is large: each is swapped into its
/// place along the permutation's cycles ([`sorted_in_place`]), not moved
/// once per comparison as a sort of the records would, and no second
/// vector is needed.
fn by_id(sessions: Vec<SessionRecord>) -> Vec<SessionRecord> {
    sorted_in_place(sessions, |s| s.id)
}

/// `items` sorted by `key`, each moved along its permutation cycle.
fn sorted_in_place<T>(mut items: Vec<T>, key: impl Fn(&T) -> u64) -> Vec<T> {
    if items.is_sorted_by_key(&key) {
        return items;
    }
    // from[k]: the index of the item that belongs at k.
    let mut from: Vec<usize> = (0..items.len()).collect();
    from.sort_by_key(|&i| items.get(i).map(&key));
    for start in 0..from.len() {
        // Position `at` holds the record that was at `start` (settled
        // positions point at themselves).
        let mut at = start;
        while let Some(&src) = from.get(at).filter(|&&src| src != at) {
            if let Some(slot) = from.get_mut(at) {
                *slot = at;
            }
            if src == start {
                break;
            }
            items.swap(at, src);
            at = src;
        }
    }
    items
}

/// Analyzes the inputs in order and returns the whole report, sessions in
/// id order.
pub fn analyze(inputs: &[InputSpec], config: FlowConfig, options: AnalysisOptions) -> Report {
    let mut builder = ReportBuilder::default();
    let mut run = Run::new(Filter::default(), vec![&mut builder]);
    let (summaries, stats) = run_inputs(inputs, config, options, 1, &mut run, &|_, _| {});
    // The builder does no I/O: finishing cannot fail.
    let _ = run.finish(&summaries, &stats);
    builder.into_report().unwrap_or_else(|| Report {
        schema_version: SCHEMA_VERSION,
        inputs: summaries,
        sessions: Vec::new(),
        findings: Vec::new(),
        servers: Vec::new(),
        stats,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod thread_count_tests {
    use super::*;

    /// The report of `dir`'s captures on exactly `workers`
    /// worker threads, with the one counter that may differ (the sum of
    /// each worker's peak flows) zeroed.
    fn report_on(dir: &str, workers: usize) -> String {
        // As the command line reads a directory.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let inputs = crate::capture::resolve_inputs(&[dir]).inputs;
        let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
        let new_handler = || MailSessions::new(&names, AnalysisOptions::default());
        let mut builder = ReportBuilder::default();
        let mut run = Run::new(Filter::default(), vec![&mut builder]);
        let (summaries, stats) = parallel::run_inputs(
            &inputs,
            FlowConfig::default(),
            workers,
            &new_handler,
            &mut run,
            &|_, _| {},
        );
        let _ = run.finish(&summaries, &stats);
        let mut report = builder.into_report().unwrap();
        report.stats.peak_flows = 0;
        serde_json::to_string(&report).unwrap()
    }

    /// Worker counts past the cores (which `--threads` no longer starts)
    /// still give one thread's report: the merge, not the machine, makes
    /// the order.
    #[test]
    fn any_worker_count_gives_one_threads_report() {
        for dir in ["samples/findings", "samples/transport", "samples/lab"] {
            let one = report_on(dir, 1);
            assert!(one.matches("\"protocol\":").count() > 20, "{dir}");
            for workers in [2, 3, 5] {
                assert!(report_on(dir, workers) == one, "{dir} on {workers} workers");
            }
        }
    }
}

#[cfg(test)]
mod sort_tests {
    /// Every order of a few keys, and pseudo-random ones with repeats,
    /// come out as a stable sort would put them.
    #[test]
    fn sorted_in_place_is_a_stable_sort() {
        let mut x = 0x2545_f491_u32;
        for len in 0..200usize {
            let items: Vec<(u64, usize)> = (0..len)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (u64::from(x % (len as u32 / 2 + 1)), i)
                })
                .collect();
            let mut expected = items.clone();
            expected.sort_by_key(|p| p.0);
            assert_eq!(super::sorted_in_place(items, |p| p.0), expected, "{len}");
        }
    }
}
