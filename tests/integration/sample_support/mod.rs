//! Running the library over the committed samples and collecting what it
//! reassembled: per session, both streams exactly as delivered, the gaps,
//! the conflicts and the FINs, plus the inputs' summaries.

use crate::gen_samples;
use gen_samples::conversation::{Conversation, Dir};
use std::path::{Path, PathBuf};
use stripwatch::analysis::{self, AnalysisOptions, Report};
use stripwatch::capture::resolve_inputs;
use stripwatch::flow::{
    Conflict, EndReason, FlowConfig, GapReason, RoleBasis, SessionHandler, SessionInfo, Side,
    StreamEvent, StreamSink,
};
use stripwatch::pipeline::{InputSummary, Pipeline};

/// 2024-03-01T12:00:00Z, where every sample's clock starts.
pub const EPOCH: i64 = 1_709_294_400;

/// The samples directory of the repository.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The path of one sample (file or directory).
pub fn sample(name: &str) -> PathBuf {
    samples_dir().join(name)
}

/// A gap as the sink saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub side: Side,
    pub offset: u64,
    pub len: u64,
    pub reason: GapReason,
}

/// Everything one side's stream delivered.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Delivered bytes, in order (gaps leave no trace here).
    pub bytes: Vec<u8>,
    /// The next offset: delivered bytes plus gap lengths.
    pub next: u64,
    /// Frame numbers of the packets that delivered data, in order.
    pub frames: Vec<u64>,
    /// Offset of the FIN, once reached.
    pub fin: Option<u64>,
}

/// One session, collected.
#[derive(Debug)]
pub struct Session {
    pub info: SessionInfo,
    pub client: Stream,
    pub server: Stream,
    pub gaps: Vec<Gap>,
    pub conflicts: Vec<(Side, Conflict)>,
}

impl Session {
    pub fn stream(&self, side: Side) -> &Stream {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
}

/// The sink: checks that offsets are contiguous and keeps everything.
#[derive(Default)]
pub struct Sink {
    client: Stream,
    server: Stream,
    gaps: Vec<Gap>,
    conflicts: Vec<(Side, Conflict)>,
}

impl StreamSink for Sink {
    fn on_event(&mut self, side: Side, event: StreamEvent<'_>) {
        let stream = match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        };
        match event {
            StreamEvent::Data {
                offset,
                bytes,
                packet,
                ..
            } => {
                assert_eq!(offset, stream.next, "{side:?} data not contiguous");
                assert!(stream.fin.is_none(), "{side:?} data after FIN");
                stream.bytes.extend_from_slice(bytes);
                stream.next += bytes.len() as u64;
                stream.frames.push(packet.frame);
            }
            StreamEvent::Gap {
                offset,
                len,
                reason,
            } => {
                assert_eq!(offset, stream.next, "{side:?} gap not contiguous");
                stream.next += len;
                self.gaps.push(Gap {
                    side,
                    offset,
                    len,
                    reason,
                });
            }
            StreamEvent::Conflict(c) => self.conflicts.push((side, c.clone())),
            StreamEvent::Fin { offset, .. } => {
                assert_eq!(offset, stream.next, "{side:?} FIN not at the stream end");
                assert!(stream.fin.is_none(), "{side:?} two FINs");
                stream.fin = Some(offset);
            }
        }
    }
}

/// The session handler: keeps every session in the order they end.
#[derive(Default)]
pub struct Collector {
    pub sessions: Vec<Session>,
}

impl SessionHandler for Collector {
    type Sink = Sink;

    fn open(&mut self, _info: &SessionInfo) -> Sink {
        Sink::default()
    }

    fn close(&mut self, info: SessionInfo, sink: Sink) {
        self.sessions.push(Session {
            info,
            client: sink.client,
            server: sink.server,
            gaps: sink.gaps,
            conflicts: sink.conflicts,
        });
    }
}

/// What a run over one sample produced.
pub struct Run {
    /// Sessions in id order.
    pub sessions: Vec<Session>,
    pub inputs: Vec<InputSummary>,
}

impl Run {
    pub fn only_session(&self) -> &Session {
        assert_eq!(self.sessions.len(), 1, "sessions: {}", self.sessions.len());
        &self.sessions[0]
    }
}

/// Reads a sample (file or directory) through the pipeline with the
/// collecting handler.
pub fn run(name: &str) -> Run {
    let resolved = resolve_inputs(&[sample(name)]);
    assert!(
        resolved.skipped.is_empty(),
        "skipped {:?}",
        resolved.skipped
    );
    assert!(resolved.failed.is_empty(), "failed {:?}", resolved.failed);
    let inputs = resolved.inputs;
    let mut pipeline = Pipeline::new(FlowConfig::default(), Collector::default());
    for spec in &inputs {
        pipeline.read_input(spec);
    }
    let (handler, inputs, _stats) = pipeline.finish();
    let mut sessions = handler.sessions;
    sessions.sort_by_key(|s| s.info.id);
    Run { sessions, inputs }
}

/// The library's own report over a sample, as JSON.
pub fn report(name: &str) -> (Report, serde_json::Value) {
    let inputs = resolve_inputs(&[sample(name)]).inputs;
    let report = analysis::analyze(&inputs, FlowConfig::default(), AnalysisOptions::default());
    let json = serde_json::to_value(&report).unwrap();
    (report, json)
}

/// The conversations the generator scripted for a sample.
pub fn scripted(name: &str) -> Vec<Conversation> {
    gen_samples::find(name).conversations
}

/// Link types of the only input, from the library's summary.
pub fn link_types(run: &Run) -> Vec<(String, u64)> {
    assert_eq!(run.inputs.len(), 1);
    run.inputs[0]
        .link_types
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

pub fn assert_endpoints(s: &Session, client: &str, server: &str) {
    assert_eq!(s.info.client.to_string(), client, "client");
    assert_eq!(s.info.server.to_string(), server, "server");
}

/// Both streams are exactly what was sent, without gaps or conflicts, and
/// the session ended with both FINs after a seen handshake.
pub fn assert_exact(s: &Session, c: &Conversation) {
    assert_eq!(s.client.bytes, c.sent(Dir::Client), "client stream");
    assert_eq!(s.server.bytes, c.sent(Dir::Server), "server stream");
    assert_eq!(s.gaps, Vec::<Gap>::new(), "gaps");
    assert!(s.conflicts.is_empty() && s.info.conflicts.is_empty());
    assert_eq!(s.client.fin, Some(c.sent(Dir::Client).len() as u64));
    assert_eq!(s.server.fin, Some(c.sent(Dir::Server).len() as u64));
    assert_eq!(s.info.end, EndReason::Fin);
    assert!(s.info.syn_seen && s.info.syn_ack_seen && !s.info.mid_stream);
    assert_eq!(s.info.roles_from, RoleBasis::Handshake);
    let addr = |a: std::net::SocketAddr| match a {
        std::net::SocketAddr::V4(_) => a.to_string(),
        std::net::SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    };
    assert_endpoints(s, &addr(c.client), &addr(c.server));
}

/// One session, reassembled exactly, on frames of one link type.
pub fn assert_single_exact(name: &str, link: &str, packets: u64) -> Run {
    let run = run(name);
    let conv = &scripted(name)[0];
    assert_exact(run.only_session(), conv);
    assert_eq!(link_types(&run), vec![(link.to_string(), packets)]);
    let input = &run.inputs[0];
    assert_eq!(input.packets, packets);
    assert_eq!(input.mail_segments, packets, "every frame decodes to TCP");
    assert!(input.error.is_none());
    run
}
