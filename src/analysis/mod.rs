//! Session records, findings and the end-of-input pass.
//!
//! [`MailSessions`] is the session handler the pipeline feeds: it gives
//! every session a protocol analyzer and turns each ended session into a
//! [`SessionRecord`]. [`analyze`] runs the whole thing over a list of
//! inputs and returns the [`Report`].

pub mod record;

use crate::capture::InputSpec;
use crate::flow::{
    FlowConfig, SessionHandler, SessionInfo, Side, StreamEvent, StreamSink, TableStats,
};
use crate::pipeline::{InputSummary, Pipeline};
use record::{
    AnomalyRecord, Locator, Observability, TransportRecord, conflict_anomalies,
    transport_observability,
};
use serde::Serialize;

/// Version of the JSON report's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Mail protocol of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Smtp,
    Imap,
    Pop3,
    Unknown,
}

impl Protocol {
    /// The protocol a well-known port suggests.
    pub fn from_port(port: u16) -> Protocol {
        match port {
            25 | 465 | 587 | 2525 => Protocol::Smtp,
            143 | 993 => Protocol::Imap,
            110 | 995 => Protocol::Pop3,
            _ => Protocol::Unknown,
        }
    }
}

/// The report's entry for one session.
#[derive(Clone, Debug, Serialize)]
pub struct SessionRecord {
    pub id: u64,
    pub protocol: Protocol,
    pub client: String,
    pub server: String,
    #[serde(flatten)]
    pub transport: TransportRecord,
    pub anomalies: Vec<AnomalyRecord>,
    pub observability: Vec<Observability>,
}

/// The protocol analyzer of one session.
#[derive(Default)]
pub struct MailSession {
    bytes_seen: [u64; 2],
}

impl StreamSink for MailSession {
    fn on_event(&mut self, side: Side, event: StreamEvent<'_>) {
        if let StreamEvent::Data { bytes, .. } = event {
            if let Some(n) = self.bytes_seen.get_mut(side.index()) {
                *n += bytes.len() as u64;
            }
        }
    }
}

/// Session handler that analyzes mail sessions and keeps their records.
pub struct MailSessions {
    locator: Locator,
    records: Vec<SessionRecord>,
}

impl MailSessions {
    pub fn new(input_names: &[String]) -> Self {
        MailSessions {
            locator: Locator::new(input_names),
            records: Vec::new(),
        }
    }
}

impl SessionHandler for MailSessions {
    type Sink = MailSession;

    fn open(&mut self, _info: &SessionInfo) -> MailSession {
        MailSession::default()
    }

    fn close(&mut self, info: SessionInfo, _session: MailSession) {
        self.records.push(SessionRecord {
            id: info.id,
            protocol: Protocol::from_port(info.server.port),
            client: info.client.to_string(),
            server: info.server.to_string(),
            transport: TransportRecord::build(&info, &self.locator),
            anomalies: conflict_anomalies(&info, &self.locator),
            observability: transport_observability(&info),
        });
    }
}

/// Everything one run found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub inputs: Vec<InputSummary>,
    pub sessions: Vec<SessionRecord>,
    pub stats: TableStats,
}

impl Report {
    /// True when every input was read to its end.
    pub fn inputs_complete(&self) -> bool {
        self.inputs.iter().all(InputSummary::complete)
    }
}

/// Analyzes the inputs in order and returns the report, sessions in id
/// order.
pub fn analyze(inputs: &[InputSpec], config: FlowConfig) -> Report {
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let mut pipeline = Pipeline::new(config, MailSessions::new(&names));
    for spec in inputs {
        pipeline.read_input(spec);
    }
    let (handler, inputs, stats) = pipeline.finish();
    let mut sessions = handler.records;
    sessions.sort_by_key(|s| s.id);
    Report {
        schema_version: SCHEMA_VERSION,
        inputs,
        sessions,
        stats,
    }
}
