//! One tap's sessions, kept for comparison: the flow table runs over the
//! tap's inputs with a handler that gives every session a tapped
//! [`MailDialog`] and keeps, when the session ends, its lines (with the
//! packet behind each, secrets marked), the shape of its first data
//! segments, its TLS hellos and its handshake times.
//!
//! Memory is bounded: lines, not bodies (the dialog skips DATA bodies,
//! POP3 message bodies and literals), at most [`MAX_LINES`] lines of at
//! most [`EVIDENCE_BYTES`] bytes per session, at most [`MAX_SESSIONS`]
//! sessions and [`MAX_TOTAL_LINES`] lines per tap; beyond them sessions are
//! counted, or keep only their first [`SHORT_LINES`] lines.

use super::Tap;
use crate::capture::{CaptureFile, Frame, InputSpec};
use crate::decode;
use crate::flow::{
    Endpoint, FlowConfig, PacketRef, PerSide, SessionHandler, SessionInfo, Side, StreamEvent,
    StreamSink, TableStats,
};
use crate::pipeline::{InputSummary, Pipeline};
use crate::proto::dialog::MailDialog;
use crate::proto::secrecy::SecretSpans;
use crate::proto::tap::{LineTap, TapItem, TapKind};
use crate::proto::{EVIDENCE_BYTES, Evidence, Protocol};
use crate::time::Timestamp;
use std::collections::HashMap;

/// Lines kept per session (a mail dialog before TLS has a few dozen).
pub(crate) const MAX_LINES: usize = 1024;
/// Lines a session keeps once the tap's budget is spent.
pub(crate) const SHORT_LINES: usize = 64;
/// Lines kept per tap, all sessions together.
pub(crate) const MAX_TOTAL_LINES: usize = 2_000_000;
/// Sessions kept per tap; more are counted.
pub(crate) const MAX_SESSIONS: usize = 200_000;
/// Data segments remembered per session for pairing across NAT.
pub(crate) const SHAPE_SEGMENTS: usize = 24;
/// Handshakes remembered per tap.
const MAX_HANDSHAKES: usize = 500_000;

/// One data segment as the stream delivered it: who sent it, where in the
/// stream, how long. Two taps on one TCP connection see the same shapes,
/// whatever NAT did to addresses and initial sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub side: Side,
    pub offset: u64,
    pub len: u32,
}

/// A line as one tap saw it.
#[derive(Clone, Debug)]
pub(crate) struct SeenLine {
    pub item: TapItem,
    /// From this byte on the line is a secret (password, token, response).
    pub secret_from: Option<usize>,
}

impl SeenLine {
    pub(crate) fn side(&self) -> Side {
        self.item.side
    }

    /// The line as evidence (for its masked form).
    pub(crate) fn evidence(&self) -> Evidence {
        let packet = self.item.packet.unwrap_or(PacketRef {
            input: 0,
            frame: 0,
            ts: Timestamp::ZERO,
        });
        let mut e = Evidence::new(self.item.side, packet, &self.item.bytes);
        e.line_len = self.item.len;
        e.offset = Some(self.item.offset);
        match self.secret_from {
            Some(at) => e.secret_from(at),
            None => e,
        }
    }
}

/// The handshake times of a connection at one tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handshake {
    pub syn: Timestamp,
    pub syn_ack: Option<Timestamp>,
}

/// One session as one tap saw it.
#[derive(Clone, Debug)]
pub(crate) struct SeenSession {
    /// The session's id in its tap's own order.
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first: PacketRef,
    pub last: PacketRef,
    pub syn_seen: bool,
    /// Sequence number of stream offset 0 per side.
    pub stream_start: PerSide<Option<u32>>,
    pub protocol: Option<Protocol>,
    pub implicit_tls: bool,
    /// Both directions' lines and markers, in the order the dialog read them.
    pub lines: Vec<SeenLine>,
    /// Lines not kept (limits).
    pub dropped_lines: u64,
    pub gaps: PerSide<u64>,
    pub client_hello: Option<Evidence>,
    pub server_hello: Option<Evidence>,
    /// Each side sent TLS records (a hello or not).
    pub tls_sent: PerSide<bool>,
    pub shape: Vec<Shape>,
    pub handshake: Option<Handshake>,
    /// What the dialog concluded about the upgrade.
    pub upgrade: super::upgrade::UpgradeSeen,
}

impl SeenSession {
    /// Both TLS hellos crossed.
    pub(crate) fn tls_state(&self) -> TlsState {
        let client = self.client_hello.is_some() || self.tls_sent.client;
        let server = self.server_hello.is_some() || self.tls_sent.server;
        match (client, server) {
            (true, true) => TlsState::Established,
            (true, false) => TlsState::ClientHelloOnly,
            (false, true) => TlsState::ServerHelloOnly,
            (false, false) => TlsState::None,
        }
    }
}

/// How far TLS got in a session at one tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsState {
    Established,
    ClientHelloOnly,
    ServerHelloOnly,
    None,
}

impl TlsState {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TlsState::Established => "established",
            TlsState::ClientHelloOnly => "client-hello-only",
            TlsState::ServerHelloOnly => "server-hello-only",
            TlsState::None => "none",
        }
    }
}

/// Everything one tap showed.
pub(crate) struct TapCapture {
    pub tap: Tap,
    pub sessions: Vec<SeenSession>,
    pub inputs: Vec<InputSummary>,
    pub stats: TableStats,
    /// Input names in processing order (packet references index them).
    pub names: Vec<String>,
    /// Sessions past [`MAX_SESSIONS`], counted only.
    pub sessions_not_kept: u64,
}

/// The analyzer of one session: the tapped dialog and the segment shapes.
pub(crate) struct CollectSink {
    dialog: MailDialog,
    shape: Vec<Shape>,
}

impl StreamSink for CollectSink {
    fn on_event(&mut self, side: Side, event: StreamEvent<'_>) {
        if let StreamEvent::Data { offset, bytes, .. } = &event {
            if self.shape.len() < SHAPE_SEGMENTS {
                self.shape.push(Shape {
                    side,
                    offset: *offset,
                    len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
                });
            }
        }
        self.dialog.on_event(side, &event);
    }
}

/// The session handler of a tap.
#[derive(Default)]
pub(crate) struct Collector {
    sessions: Vec<SeenSession>,
    lines_kept: usize,
    not_kept: u64,
}

impl SessionHandler for Collector {
    type Sink = CollectSink;

    fn open(&mut self, info: &SessionInfo) -> CollectSink {
        let room = if self.lines_kept < MAX_TOTAL_LINES {
            MAX_LINES
        } else {
            SHORT_LINES
        };
        CollectSink {
            dialog: MailDialog::for_session(info).with_tap(LineTap::new(room, EVIDENCE_BYTES)),
            shape: Vec::new(),
        }
    }

    fn close(&mut self, info: SessionInfo, mut sink: CollectSink) {
        if self.sessions.len() >= MAX_SESSIONS {
            self.not_kept += 1;
            return;
        }
        sink.dialog.finish();
        let tap = sink.dialog.take_tap();
        let dropped = tap.as_ref().map_or(0, LineTap::dropped);
        let items = tap.map(LineTap::into_items).unwrap_or_default();
        let facts = &sink.dialog.facts;
        let protocol = facts
            .protocol
            .or_else(|| Protocol::from_port(info.server.port));
        let spans = facts.all_secret_spans();
        let mut tls_sent = PerSide::both(false);
        let mut lines: Vec<SeenLine> = Vec::with_capacity(items.len());
        for mut item in items {
            if tls_sent[item.side] && matches!(item.kind, TapKind::Line | TapKind::AfterGoAhead) {
                continue;
            }
            if tls_record(&item) {
                item.kind = TapKind::Tls;
            }
            if item.kind == TapKind::Tls {
                tls_sent[item.side] = true;
            }
            let secret_from = secret_in(&item, &spans, protocol);
            lines.push(SeenLine { item, secret_from });
        }
        self.lines_kept += lines.len();
        self.sessions.push(SeenSession {
            id: info.id,
            client: info.client,
            server: info.server,
            first: info.first_packet,
            last: info.last_packet,
            syn_seen: info.syn_seen,
            stream_start: info.stream_start,
            protocol,
            implicit_tls: facts.implicit_tls,
            lines,
            dropped_lines: dropped,
            gaps: PerSide::new(info.sides.client.stream.gaps, info.sides.server.stream.gaps),
            client_hello: facts.client_hello.as_ref().map(|(e, _)| e.clone()),
            server_hello: facts.server_hello.as_ref().map(|(e, _)| e.clone()),
            tls_sent,
            shape: sink.shape,
            handshake: None,
            upgrade: super::upgrade::UpgradeSeen::of(facts),
        });
    }
}

/// A "line" that is the start of a TLS record: a client that sends its
/// ClientHello although STARTTLS was refused (the dialog reads it as
/// lines). What follows it on that side is TLS, not lines.
fn tls_record(item: &TapItem) -> bool {
    item.kind == TapKind::Line
        && item.bytes.len() >= 5
        && crate::proto::tls::sniff(&item.bytes) == crate::proto::tls::Sniff::Tls
}

/// Where the secret of a line starts: from the dialog's secret spans, or,
/// for a client line that carries credentials the dialog did not mark
/// (say, one it never parsed), after the words that name the command.
fn secret_in(item: &TapItem, spans: &SecretSpans, protocol: Option<Protocol>) -> Option<usize> {
    if !matches!(item.kind, TapKind::Line | TapKind::AfterGoAhead) {
        return None;
    }
    let start = item.offset;
    let end = start + item.len as u64;
    let from_spans = spans
        .overlapping(item.side, start, end)
        .map(|(s, _)| usize::try_from(s.saturating_sub(start)).unwrap_or(0))
        .min();
    if from_spans.is_some() || item.side != Side::Client || framed(protocol) {
        return from_spans;
    }
    // A client line the dialog did not judge (after the go-ahead): judged
    // alone.
    crate::proto::secrecy::secret_from_alone(protocol, &item.bytes)
}

/// Protocols read as messages, whose guard marks every secret by the
/// framing alone (a password message, a bind's credentials, an `<auth>`'s
/// text): what it did not mark is not secret, and a message is no line to
/// judge alone.
fn framed(protocol: Option<Protocol>) -> bool {
    matches!(
        protocol,
        Some(Protocol::Postgresql | Protocol::Mysql | Protocol::Xmpp | Protocol::Ldap)
    )
}

/// SYN and SYN-ACK times per connection, from the frames themselves (the
/// flow table keeps no such times): whether the far side's connection
/// began before or after the near side's was accepted tells a forwarded
/// handshake (NAT) from a new connection (a terminating proxy).
#[derive(Default)]
struct HandshakeLog {
    by_tuple: HashMap<(Endpoint, Endpoint), Vec<Handshake>>,
    count: usize,
}

impl HandshakeLog {
    fn observe(&mut self, frame: &Frame<'_>, ports: &crate::flow::PortSet) {
        let decode::Peek::Tcp {
            src_port, dst_port, ..
        } = decode::peek(frame.link, frame.data)
        else {
            return;
        };
        if !ports.contains(src_port) && !ports.contains(dst_port) {
            return;
        }
        let Ok(seg) = decode::decode(frame.link, frame.data) else {
            return;
        };
        if !seg.flags.syn() {
            return;
        }
        let (src, dst) = Endpoint::of(&seg);
        if seg.flags.ack() {
            if let Some(h) = self
                .by_tuple
                .get_mut(&(dst, src))
                .and_then(|v| v.last_mut())
            {
                h.syn_ack.get_or_insert(frame.ts);
            }
        } else if self.count < MAX_HANDSHAKES {
            let list = self.by_tuple.entry((src, dst)).or_default();
            // A retransmitted SYN keeps the first one's time.
            if list.last().is_none_or(|h| h.syn_ack.is_some()) {
                list.push(Handshake {
                    syn: frame.ts,
                    syn_ack: None,
                });
                self.count += 1;
            }
        }
    }

    /// The handshake of a session: the last SYN at or before its first
    /// packet.
    fn find(&self, s: &SeenSession) -> Option<Handshake> {
        if !s.syn_seen {
            return None;
        }
        self.by_tuple
            .get(&(s.client, s.server))?
            .iter()
            .rev()
            .find(|h| h.syn <= s.first.ts)
            .copied()
    }
}

/// Reads one tap's inputs in order and keeps its sessions.
pub(crate) fn collect(tap: Tap, inputs: &[InputSpec], config: FlowConfig) -> TapCapture {
    let ports = config.ports.clone();
    let mut pipeline = Pipeline::new(config, Collector::default());
    let mut handshakes = HandshakeLog::default();
    for spec in inputs {
        let index = pipeline.begin_input(&spec.name);
        match CaptureFile::open_input(spec) {
            Ok(mut file) => {
                let result = file.for_each_frame(|frame| {
                    pipeline.process_frame(index, &frame);
                    handshakes.observe(&frame, &ports);
                    true
                });
                pipeline.end_input(index, &file, result.err());
            }
            Err(e) => pipeline.fail_input(index, e),
        }
    }
    let (collector, summaries, stats) = pipeline.finish();
    let mut sessions = collector.sessions;
    sessions.sort_by_key(|s| s.id);
    for s in &mut sessions {
        s.handshake = handshakes.find(s);
    }
    TapCapture {
        tap,
        sessions,
        inputs: summaries,
        stats,
        names: inputs.iter().map(|i| i.name.clone()).collect(),
        sessions_not_kept: collector.not_kept,
    }
}
