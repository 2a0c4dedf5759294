//! A scripted TCP conversation: what both peers put on the wire, in order,
//! and how the capture saw it (perturbations).
//!
//! Scripting follows the wire: [`Conversation::handshake`], then
//! [`Conversation::client_sends`] / [`Conversation::server_sends`] (cut at
//! the MSS; the peer acknowledges each send with a pure ACK unless
//! [`Conversation::piggyback_acks`] is set), then a FIN or RST teardown.
//! Sequence and acknowledgement numbers follow from the ISNs.
//!
//! Perturbations change only what the capture holds, never the wire: the
//! peers' ACKs still cover a dropped segment, and the truth of each stream
//! ([`Conversation::sent`]) is what the sender sent first.

use std::net::SocketAddr;
use stripwatch::time::Timestamp;

/// Who sends a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Client,
    Server,
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Dir::Client => 0,
            Dir::Server => 1,
        }
    }

    pub fn other(self) -> Dir {
        match self {
            Dir::Client => Dir::Server,
            Dir::Server => Dir::Client,
        }
    }
}

/// One packet of a conversation, by its place on the wire (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PacketId(pub usize);

/// The data segments one send was cut into.
#[derive(Clone, Copy, Debug)]
pub struct Segs {
    first: usize,
    count: usize,
}

impl Segs {
    pub fn first(&self) -> PacketId {
        PacketId(self.first)
    }

    pub fn last(&self) -> PacketId {
        PacketId(self.first + self.count.saturating_sub(1))
    }

    /// The `i`-th segment (0-based) of the send.
    pub fn nth(&self, i: usize) -> PacketId {
        assert!(
            i < self.count,
            "send has {} segments, not {}",
            self.count,
            i + 1
        );
        PacketId(self.first + i)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: a send has at least one segment.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// What the capture does to one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Perturbation {
    /// Captured after the next data segment of the same direction.
    Reorder,
    /// Captured twice: the copy comes after the packet that followed it.
    Retransmit,
    /// Like `Retransmit`, but the copy carries these bytes for the same
    /// sequence range (must be as long as the original payload).
    RetransmitWith(Vec<u8>),
    /// Never captured (the peer's ACKs still cover it: a gap).
    Drop,
}

/// A TCP segment as one peer sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WirePacket {
    pub from: Dir,
    pub seq: u32,
    /// Acknowledgement number when the ACK flag is set.
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub payload: Vec<u8>,
}

/// A packet as the capture holds it.
#[derive(Clone, Debug)]
pub struct Captured {
    pub ts: Timestamp,
    /// Which wire packet this is (a retransmitted copy names its original).
    pub wire: PacketId,
    /// True for the copy made by a retransmission.
    pub copy: bool,
    pub packet: WirePacket,
    pub ip_id: u16,
}

/// A scripted TCP connection between a client and a server.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub client: SocketAddr,
    pub server: SocketAddr,
    isn: [u32; 2],
    /// Next sequence number of each side.
    next: [u32; 2],
    established: bool,
    mss: usize,
    window: [u16; 2],
    auto_ack: bool,
    packets: Vec<WirePacket>,
    sent: [Vec<u8>; 2],
    perturbations: Vec<(PacketId, Perturbation)>,
    capture_from: PacketId,
    only: Option<Dir>,
    start: Timestamp,
    step_nanos: u64,
    /// IPv6 only: put a hop-by-hop options header before TCP.
    pub hop_by_hop: bool,
    /// pcapng only: the section and interface (within it) of the capture.
    pub section: usize,
    pub interface: usize,
}

/// 2024-03-01T12:00:00Z, when every sample's clock starts.
pub const EPOCH: i64 = 1_709_294_400;

impl Conversation {
    /// A conversation between `client` and `server`; ISNs 1000 and 5000,
    /// MSS 1460, starting at [`EPOCH`] with a packet every 10 ms.
    pub fn new(client: &str, server: &str) -> Self {
        let client: SocketAddr = client.parse().expect("client address");
        let server: SocketAddr = server.parse().expect("server address");
        assert_eq!(client.is_ipv4(), server.is_ipv4(), "mixed IP versions");
        Conversation {
            client,
            server,
            isn: [1000, 5000],
            next: [1000, 5000],
            established: false,
            mss: 1460,
            window: [64240, 65160],
            auto_ack: true,
            packets: Vec::new(),
            sent: [Vec::new(), Vec::new()],
            perturbations: Vec::new(),
            capture_from: PacketId(0),
            only: None,
            start: Timestamp::new(EPOCH, 0),
            step_nanos: 10_000_000,
            hop_by_hop: false,
            section: 0,
            interface: 0,
        }
    }

    /// Initial sequence numbers (set before the handshake).
    pub fn isns(mut self, client: u32, server: u32) -> Self {
        assert!(self.packets.is_empty(), "ISNs are set before scripting");
        self.isn = [client, server];
        self.next = [client, server];
        self
    }

    pub fn mss(mut self, mss: usize) -> Self {
        assert!(mss > 0);
        self.mss = mss;
        self
    }

    /// The first captured packet's time, as an offset from [`EPOCH`].
    pub fn starts_at(mut self, secs: i64, nanos: u32) -> Self {
        self.start = Timestamp::new(EPOCH + secs, nanos);
        self
    }

    /// Time between captured packets.
    pub fn step_nanos(mut self, nanos: u64) -> Self {
        self.step_nanos = nanos;
        self
    }

    /// IPv6 with a hop-by-hop options extension header on every packet.
    pub fn with_hop_by_hop(mut self) -> Self {
        assert!(self.client.is_ipv6(), "hop-by-hop needs IPv6");
        self.hop_by_hop = true;
        self
    }

    /// Captured on interface `interface` of pcapng section `section`.
    pub fn on_interface(mut self, section: usize, interface: usize) -> Self {
        self.section = section;
        self.interface = interface;
        self
    }

    /// The peer does not send a pure ACK after each send: its next segment
    /// carries the acknowledgement.
    pub fn piggyback_acks(mut self) -> Self {
        self.auto_ack = false;
        self
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The ISN of a side.
    pub fn isn(&self, side: Dir) -> u32 {
        self.isn[side.index()]
    }

    /// Everything `side` sent, in order: the truth the reassembly must find.
    pub fn sent(&self, side: Dir) -> &[u8] {
        &self.sent[side.index()]
    }

    /// Packets on the wire, in order.
    pub fn wire(&self) -> &[WirePacket] {
        &self.packets
    }

    /// The id the next scripted packet will get.
    pub fn next_id(&self) -> PacketId {
        PacketId(self.packets.len())
    }

    // ----- scripting -----

    /// SYN (with MSS), SYN-ACK, ACK.
    pub fn handshake(&mut self) -> &mut Self {
        assert!(!self.established && self.packets.is_empty());
        let [c, s] = self.isn;
        self.push(Dir::Client, c, None, Flag::Syn, Vec::new());
        self.push(
            Dir::Server,
            s,
            Some(c.wrapping_add(1)),
            Flag::Syn,
            Vec::new(),
        );
        self.next = [c.wrapping_add(1), s.wrapping_add(1)];
        self.established = true;
        self.ack(Dir::Client);
        self
    }

    pub fn client_sends(&mut self, bytes: impl AsRef<[u8]>) -> Segs {
        self.sends(Dir::Client, bytes.as_ref())
    }

    pub fn server_sends(&mut self, bytes: impl AsRef<[u8]>) -> Segs {
        self.sends(Dir::Server, bytes.as_ref())
    }

    /// `bytes` from `side`, cut at the MSS (PSH on the last segment); then
    /// the peer's ACK unless ACKs are piggybacked.
    pub fn sends(&mut self, side: Dir, bytes: &[u8]) -> Segs {
        assert!(!bytes.is_empty(), "empty send");
        self.establish();
        let first = self.packets.len();
        let chunks: Vec<&[u8]> = bytes.chunks(self.mss).collect();
        let count = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let flags = if i + 1 == count {
                Flag::Psh
            } else {
                Flag::Plain
            };
            let seq = self.next[side.index()];
            let ack = self.next[side.other().index()];
            self.push(side, seq, Some(ack), flags, chunk.to_vec());
            self.next[side.index()] = seq.wrapping_add(chunk.len() as u32);
        }
        self.sent[side.index()].extend_from_slice(bytes);
        if self.auto_ack {
            self.ack(side.other());
        }
        Segs { first, count }
    }

    /// A pure ACK from `side` for everything the peer sent.
    pub fn ack(&mut self, side: Dir) -> PacketId {
        let id = self.next_id();
        let (seq, ack) = (self.next[side.index()], self.next[side.other().index()]);
        self.push(side, seq, Some(ack), Flag::Plain, Vec::new());
        id
    }

    /// A FIN (with ACK) from `side`.
    pub fn fin(&mut self, side: Dir) -> PacketId {
        self.establish();
        let id = self.next_id();
        let (seq, ack) = (self.next[side.index()], self.next[side.other().index()]);
        self.push(side, seq, Some(ack), Flag::Fin, Vec::new());
        self.next[side.index()] = seq.wrapping_add(1);
        id
    }

    /// An RST (with ACK) from `side`.
    pub fn rst(&mut self, side: Dir) -> PacketId {
        self.establish();
        let id = self.next_id();
        let (seq, ack) = (self.next[side.index()], self.next[side.other().index()]);
        self.push(side, seq, Some(ack), Flag::Rst, Vec::new());
        id
    }

    /// The usual three-packet close: FIN from `first`, FIN-ACK from the
    /// peer, ACK from `first`.
    pub fn close(&mut self, first: Dir) -> &mut Self {
        self.fin(first);
        self.fin(first.other());
        self.ack(first);
        self
    }

    // ----- what the capture does -----

    pub fn perturb(&mut self, id: PacketId, what: Perturbation) -> &mut Self {
        assert!(id.0 < self.packets.len(), "no packet {id:?} yet");
        if let Perturbation::RetransmitWith(bytes) = &what {
            assert_eq!(
                bytes.len(),
                self.packets[id.0].payload.len(),
                "a conflicting retransmission covers the same range"
            );
        }
        self.perturbations.push((id, what));
        self
    }

    pub fn reorder(&mut self, id: PacketId) -> &mut Self {
        self.perturb(id, Perturbation::Reorder)
    }

    pub fn retransmit(&mut self, id: PacketId) -> &mut Self {
        self.perturb(id, Perturbation::Retransmit)
    }

    pub fn retransmit_with(&mut self, id: PacketId, bytes: impl AsRef<[u8]>) -> &mut Self {
        self.perturb(id, Perturbation::RetransmitWith(bytes.as_ref().to_vec()))
    }

    pub fn drop_packet(&mut self, id: PacketId) -> &mut Self {
        self.perturb(id, Perturbation::Drop)
    }

    /// The capture begins at this packet (everything before it, the
    /// handshake included, crossed the wire unseen).
    pub fn capture_from(&mut self, id: PacketId) -> &mut Self {
        self.capture_from = id;
        self
    }

    /// Only packets from `side` were captured (asymmetric routing).
    pub fn capture_only(&mut self, side: Dir) -> &mut Self {
        self.only = Some(side);
        self
    }

    /// The packets as captured, with their timestamps.
    pub fn captured(&self) -> Vec<Captured> {
        // (wire index, replacement payload, is a copy)
        let mut order: Vec<(usize, Option<Vec<u8>>, bool)> =
            (0..self.packets.len()).map(|i| (i, None, false)).collect();
        let mut dropped = vec![false; self.packets.len()];
        for (id, what) in &self.perturbations {
            let pos = order
                .iter()
                .position(|(w, _, copy)| *w == id.0 && !copy)
                .expect("perturbed packet");
            match what {
                Perturbation::Reorder => {
                    let from = self.packets[id.0].from;
                    let next = (pos + 1..order.len()).find(|&j| {
                        let p = &self.packets[order[j].0];
                        p.from == from && !p.payload.is_empty()
                    });
                    let item = order.remove(pos);
                    // `next` shifted down by one with the removal.
                    let at = next.map_or(order.len(), |j| j);
                    order.insert(at, item);
                }
                Perturbation::Retransmit => {
                    order.insert((pos + 2).min(order.len()), (id.0, None, true));
                }
                Perturbation::RetransmitWith(bytes) => {
                    let at = (pos + 2).min(order.len());
                    order.insert(at, (id.0, Some(bytes.clone()), true));
                }
                Perturbation::Drop => dropped[id.0] = true,
            }
        }
        order.retain(|(w, _, copy)| {
            *w >= self.capture_from.0
                && (*copy || !dropped[*w])
                && self.only.is_none_or(|d| d == self.packets[*w].from)
        });
        let mut ts = self.start;
        let bases = [0x1c46u16, 0x7d21u16];
        order
            .into_iter()
            .map(|(w, replacement, copy)| {
                let mut packet = self.packets[w].clone();
                if let Some(bytes) = replacement {
                    packet.payload = bytes;
                }
                let ip_id = bases[packet.from.index()]
                    .wrapping_add(w as u16)
                    .wrapping_add(if copy { 0x4000 } else { 0 });
                let out = Captured {
                    ts,
                    wire: PacketId(w),
                    copy,
                    packet,
                    ip_id,
                };
                ts = add_nanos(ts, self.step_nanos);
                out
            })
            .collect()
    }

    /// Window field of a side's packets: unscaled on the SYN, then in units
    /// of 128 bytes (window scale 7, as the SYN options announce).
    pub fn window(&self, side: Dir, syn: bool) -> u16 {
        let bytes = self.window[side.index()];
        if syn { bytes } else { bytes.div_ceil(128) }
    }

    pub fn mss_value(&self) -> usize {
        self.mss
    }

    fn establish(&mut self) {
        if !self.established {
            self.next = [self.isn[0].wrapping_add(1), self.isn[1].wrapping_add(1)];
            self.established = true;
        }
    }

    fn push(&mut self, from: Dir, seq: u32, ack: Option<u32>, flags: Flag, payload: Vec<u8>) {
        self.packets.push(WirePacket {
            from,
            seq,
            ack,
            syn: flags == Flag::Syn,
            fin: flags == Flag::Fin,
            rst: flags == Flag::Rst,
            psh: flags == Flag::Psh,
            payload,
        });
    }
}

/// The one flag (besides ACK) a scripted packet carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flag {
    Plain,
    Syn,
    Fin,
    Rst,
    Psh,
}

pub fn add_nanos(ts: Timestamp, nanos: u64) -> Timestamp {
    let total = u64::from(ts.nanos) + nanos;
    Timestamp::new(
        ts.secs + (total / 1_000_000_000) as i64,
        (total % 1_000_000_000) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Handshake, then three client segments and the server's ACK.
    fn three_segments() -> (Conversation, Segs) {
        let mut c = Conversation::new("192.0.2.1:40000", "198.51.100.1:25")
            .isns(u32::MAX - 1, 10)
            .mss(4);
        c.handshake();
        let segs = c.client_sends("aaaabbbbcc");
        (c, segs)
    }

    fn order(c: &Conversation) -> Vec<(usize, bool)> {
        c.captured().iter().map(|p| (p.wire.0, p.copy)).collect()
    }

    #[test]
    fn sequence_numbers_follow_the_isns_and_wrap() {
        let (mut c, segs) = three_segments();
        assert_eq!(
            (segs.first(), segs.last(), segs.len()),
            (PacketId(3), PacketId(5), 3)
        );
        let w = c.wire();
        assert!(w[0].syn && w[0].ack.is_none() && w[0].seq == u32::MAX - 1);
        assert!(w[1].syn && w[1].ack == Some(u32::MAX) && w[1].seq == 10);
        assert_eq!((w[2].seq, w[2].ack), (u32::MAX, Some(11)));
        // Data starts at ISN + 1 and wraps past 2^32.
        let seqs: Vec<u32> = w[3..6].iter().map(|p| p.seq).collect();
        assert_eq!(seqs, [u32::MAX, 3, 7]);
        assert_eq!(w[3..6].iter().filter(|p| p.psh).count(), 1);
        assert!(w[5].psh);
        // The server's ACK covers all ten bytes.
        assert_eq!((w[6].from, w[6].ack), (Dir::Server, Some(9)));
        c.close(Dir::Client);
        let n = c.wire().len();
        assert!(c.wire()[n - 3].fin && c.wire()[n - 2].fin && !c.wire()[n - 1].fin);
        assert_eq!(c.wire()[n - 1].ack, Some(12));
        assert_eq!(c.sent(Dir::Client), b"aaaabbbbcc");
    }

    #[test]
    fn perturbations_change_only_the_capture() {
        let (mut c, segs) = three_segments();
        c.reorder(segs.nth(0));
        assert_eq!(
            order(&c),
            [
                (0, false),
                (1, false),
                (2, false),
                (4, false),
                (3, false),
                (5, false),
                (6, false)
            ]
        );
        let (mut c, segs) = three_segments();
        c.retransmit_with(segs.nth(1), "XXXX")
            .drop_packet(segs.nth(2));
        let captured = c.captured();
        let copy = captured.iter().find(|p| p.copy).unwrap();
        assert_eq!(
            (copy.wire, copy.packet.payload.as_slice()),
            (PacketId(4), &b"XXXX"[..])
        );
        assert_eq!(
            order(&c),
            [
                (0, false),
                (1, false),
                (2, false),
                (3, false),
                (4, false),
                (4, true),
                (6, false)
            ]
        );
        // Timestamps follow capture order, 10 ms apart.
        let ts: Vec<u32> = captured.iter().map(|p| p.ts.nanos).collect();
        assert_eq!(ts, [0, 10, 20, 30, 40, 50, 60].map(|ms| ms * 1_000_000));

        let (mut c, segs) = three_segments();
        c.capture_from(segs.nth(1)).capture_only(Dir::Client);
        assert_eq!(order(&c), [(4, false), (5, false)]);
        assert_eq!(c.captured()[0].ts, c.start());
    }
}
