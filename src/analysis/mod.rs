//! Session records, findings and the end-of-input pass.
//!
//! [`MailSessions`] is the session handler the pipeline feeds: it gives
//! every session a [`MailDialog`] and turns each ended session into a
//! [`SessionRecord`]. [`analyze`] runs the whole thing over a list of inputs
//! and returns the [`Report`].

pub mod findings;
pub mod profile;
pub mod record;
pub mod session;

pub use findings::{Finding, FindingKind, Severity};
pub use session::SessionRecord;

use crate::capture::InputSpec;
use crate::flow::{
    FlowConfig, SessionHandler, SessionInfo, Side, StreamEvent, StreamSink, TableStats,
};
use crate::pipeline::{InputSummary, Pipeline};
use crate::proto::Protocol;
use crate::proto::dialog::MailDialog;
use record::Locator;
use serde::Serialize;

/// Version of the JSON report's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Choices that change what the report shows.
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

/// Session handler that analyzes mail sessions and keeps their records.
pub struct MailSessions {
    locator: Locator,
    options: AnalysisOptions,
    records: Vec<SessionRecord>,
}

impl MailSessions {
    pub fn new(input_names: &[String], options: AnalysisOptions) -> Self {
        MailSessions {
            locator: Locator::new(input_names),
            options,
            records: Vec::new(),
        }
    }
}

impl SessionHandler for MailSessions {
    type Sink = MailSession;

    fn open(&mut self, info: &SessionInfo) -> MailSession {
        MailSession {
            dialog: MailDialog::new(Protocol::from_port(info.server.port)),
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
        self.records.push(record);
    }
}

/// Everything one run found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub inputs: Vec<InputSummary>,
    pub sessions: Vec<SessionRecord>,
    /// Every finding, by session then kind.
    pub findings: Vec<Finding>,
    pub stats: TableStats,
}

impl Report {
    /// True when every input was read to its end.
    pub fn inputs_complete(&self) -> bool {
        self.inputs.iter().all(InputSummary::complete)
    }

    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Analyzes the inputs in order and returns the report, sessions in id
/// order.
pub fn analyze(inputs: &[InputSpec], config: FlowConfig, options: AnalysisOptions) -> Report {
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let mut pipeline = Pipeline::new(config, MailSessions::new(&names, options));
    for spec in inputs {
        pipeline.read_input(spec);
    }
    let (handler, inputs, stats) = pipeline.finish();
    let locator = handler.locator;
    let mut sessions = handler.records;
    sessions.sort_by_key(|s| s.id);
    profile::prove_stripping_across_sessions(&mut sessions, &locator, options.show_secrets);
    let findings = sessions
        .iter()
        .flat_map(|s| s.findings.iter().cloned())
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        inputs,
        sessions,
        findings,
        stats,
    }
}
