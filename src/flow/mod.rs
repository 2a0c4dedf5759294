//! TCP sessions: the flow table, per-direction reassembly, timeouts and
//! limits.
//!
//! The flow table turns decoded segments into sessions. Each session gets a
//! [`StreamSink`] (from a [`SessionHandler`]) that is fed both directions as
//! in-order byte slices plus explicit gap events; protocol parsers sit
//! behind that interface and never see packets.

mod budget;
mod clock;
mod connection;
mod deadlines;
mod ordering;
mod reassembly;
mod recent;
mod side;
mod table;

pub(crate) use clock::{CaptureClock, off_clock};
pub use reassembly::{
    Conflict, DirectionStats, GapReason, Reassembler, ReassemblyLimits, Segment, StreamEvent,
};
pub use side::{PerSide, Side};
pub use table::{FlowConfig, FlowTable, PortSet, TableStats};

use crate::decode::TcpSegment;
use crate::time::Timestamp;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// Consumer of one session's streams (a protocol analyzer).
pub trait StreamSink {
    /// One event of `side`'s stream, in stream order: in-order bytes, a gap, a conflict or the FIN.
    fn on_event(&mut self, side: Side, event: StreamEvent<'_>);
}

/// Creates a sink per session and receives each session when it ends.
pub trait SessionHandler {
    /// The analyzer each session gets.
    type Sink: StreamSink;
    /// Called before the first event of a session (roles are final).
    fn open(&mut self, info: &SessionInfo) -> Self::Sink;
    /// Called once when the session ends, with everything it saw.
    fn close(&mut self, info: SessionInfo, sink: Self::Sink);
}

/// Where a packet is: which input, which frame, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketRef {
    /// Index of the input file in processing order.
    pub input: u16,
    /// 1-based frame number within that file.
    pub frame: u64,
    /// The frame's capture time, as the file stamped it (never corrected by the capture clock).
    pub ts: Timestamp,
}

/// An IP address and port. Displays as `ip:port`, IPv6 as `[addr]:port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The address, IPv4 or IPv6.
    pub ip: IpAddr,
    /// The TCP port.
    pub port: u16,
}

impl Endpoint {
    /// A segment's (source, destination).
    pub fn of(seg: &TcpSegment<'_>) -> (Endpoint, Endpoint) {
        (
            Endpoint {
                ip: seg.src,
                port: seg.src_port,
            },
            Endpoint {
                ip: seg.dst,
                port: seg.dst_port,
            },
        )
    }
}

/// `0.0.0.0:0`, for a record not filled in yet.
impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The four-tuple of a connection, in a canonical order (both directions
/// map to the same key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The lesser endpoint (by address, then port).
    pub lo: Endpoint,
    /// The greater endpoint.
    pub hi: Endpoint,
}

impl FlowKey {
    /// The key of the connection between `a` and `b`, given in either order.
    pub fn new(a: Endpoint, b: Endpoint) -> Self {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }

    /// A hash that is the same in every run and on every machine, for
    /// sharding flows across workers.
    pub(crate) fn shard_hash(&self) -> u64 {
        // FNV-1a over the canonical bytes: stable and cheap.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for ep in [self.lo, self.hi] {
            match ep.ip {
                IpAddr::V4(ip) => eat(&ip.octets()),
                IpAddr::V6(ip) => eat(&ip.octets()),
            }
            eat(&ep.port.to_be_bytes());
        }
        h
    }
}

/// How the client and server roles were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleBasis {
    /// From the SYN or SYN-ACK.
    Handshake,
    /// The side on a mail port is the server.
    MailPort,
    /// The side that spoke first is the server (all three protocols greet
    /// first).
    FirstSpeaker,
    /// Nothing told: the lower port is taken as the server.
    Guess,
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// Both sides sent FIN and everything before was delivered.
    Fin,
    /// A RST from either side within the sender's window (one far outside it is counted in
    /// `ignored_rsts` and ends nothing).
    Rst,
    /// Idle for longer than the idle timeout.
    Timeout,
    /// Still open when the input ended.
    EndOfCapture,
    /// Pushed out of a full flow table.
    Evicted,
    /// A new connection (SYN with another ISN) reused the four-tuple.
    PortReused,
}

/// Per-side counters of a session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SideStats {
    /// Segments this side sent while the session was open, empty ACKs included (not those dropped
    /// for a bad checksum).
    pub packets: u64,
    /// Frame bytes on the wire.
    pub wire_bytes: u64,
    /// TCP payload bytes the capture kept.
    pub payload_bytes: u64,
    /// TCP payload bytes cut off by snaplen.
    pub truncated_bytes: u64,
    /// The reassembler's counters, filled in when the session ends (boxed:
    /// a live flow does not need the room).
    pub stream: Box<DirectionStats>,
}

/// Most conflicts recorded per session (all are counted).
pub(crate) const MAX_RECORDED_CONFLICTS: usize = 16;

/// Everything the transport layer knows about a session.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// 1-based, in order of the session's first packet.
    pub id: u64,
    /// The side taken as the one that opened the connection (`roles_from` says on what ground).
    pub client: Endpoint,
    /// The side the SYN went to, or the one on a mail port, or the first speaker (`roles_from`).
    pub server: Endpoint,
    /// How client and server were told apart.
    pub roles_from: RoleBasis,
    /// The packet that opened the session.
    pub first_packet: PacketRef,
    /// The session's last packet from either side, up to its end (stray packets after it excluded).
    pub last_packet: PacketRef,
    /// The client's SYN (without ACK) was captured.
    pub syn_seen: bool,
    /// The server's SYN-ACK was captured.
    pub syn_ack_seen: bool,
    /// Payload bytes of the session crossed before the capture began
    /// (neither SYN nor SYN-ACK seen).
    pub mid_stream: bool,
    /// Per-side counters (`client`: what the client sent).
    pub sides: PerSide<SideStats>,
    /// What ended the session.
    pub end: EndReason,
    /// Conflicting retransmissions, by the side that sent them (the first
    /// [`MAX_RECORDED_CONFLICTS`]; all are counted in the side's stats).
    pub conflicts: Vec<(Side, Conflict)>,
    /// Segments of the session with a wrong IPv4 or TCP checksum that were kept (with
    /// `drop_bad_checksums` they never reach the session and this stays 0).
    pub checksum_errors: u64,
    /// Sequence number of stream offset 0 per side, when known (to find
    /// bytes of the stream in the packets again).
    pub stream_start: PerSide<Option<u32>>,
    /// RSTs ignored because their sequence number was far outside the
    /// sender's window (a blind injection).
    pub ignored_rsts: u64,
    /// Packets whose time RFC 3339 cannot write (outside years 0000 to
    /// 9999): the report shows them clamped.
    pub out_of_range_timestamps: u64,
    /// The client's last packet (payload or not): whether the client was
    /// still there after something the server said.
    pub client_last_packet: Option<PacketRef>,
    /// What ended the session, as a sort key (see [`CloseKey`]).
    pub closed_by: CloseKey,
    /// Packets stamped far off the capture's clock (boxed: rare).
    pub off_clock: Option<Box<OffClock>>,
}

/// Packets of a session stamped more than the idle timeout off the
/// capture's clock: their time neither ended nor split the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffClock {
    /// The first of them.
    pub packet: PacketRef,
    /// How far off it was, in seconds (positive: ahead of the clock).
    pub off_secs: i64,
    /// How many.
    pub packets: u64,
}

/// When a session ended, as a sort key that orders the closes of several
/// flow tables (threads) exactly as one table would make them: by the
/// packet whose arrival ended it (input, frame), then by [`ClosePhase`],
/// then expiries by deadline (and session id, compared by whoever knows the
/// final ids), then the order of making (`seq`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseKey {
    /// Index of the input whose packet (or clock tick) was being processed when the close was
    /// made; `u16::MAX` at the end of the input.
    pub input: u16,
    /// That packet's 1-based frame number (a tick carries the next frame's); `u64::MAX` at the end.
    pub frame: u64,
    /// What made the close.
    pub phase: ClosePhase,
    /// For an idle timeout, the deadline that expired; otherwise zero.
    pub deadline: Timestamp,
    /// 0-based order of the closes made at that packet, in the order the table made them.
    pub seq: u32,
}

/// What made a close, in the order one table makes them at a packet (the
/// order of the variants is the sort order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClosePhase {
    /// The clock (idle timeout) as the packet's time arrives: before the
    /// packet's own effect. Several at one packet go by deadline, then id.
    #[default]
    ByClock,
    /// The packet itself (FIN, RST, port reuse, eviction for room): all in
    /// the packet's own table, in the order they were made.
    ByPacket,
    /// The end of the input: last, by id.
    AtEnd,
}
