//! A minimal writer of synthetic pcap files (Ethernet, IPv4, TCP with
//! correct checksums) for tests that need exact packet sequences.

use std::net::Ipv4Addr;
use std::path::Path;

pub const SYN: u8 = 0x02;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A pcap being built in memory.
pub struct PcapWriter {
    buf: Vec<u8>,
    frames: u32,
}

fn checksum(chunks: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = chunks.concat();
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    pub fn new() -> Self {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&[0; 8]); // thiszone, sigfigs
        buf.extend_from_slice(&65535u32.to_le_bytes());
        buf.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        PcapWriter { buf, frames: 0 }
    }

    /// Appends one TCP segment; `snap` cuts the frame to that many bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        data: &[u8],
        snap: Option<usize>,
    ) {
        self.frames += 1;
        let mut tcp = Vec::with_capacity(20);
        tcp.extend_from_slice(&src.1.to_be_bytes());
        tcp.extend_from_slice(&dst.1.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        let tcp_len = (tcp.len() + data.len()) as u16;
        let pseudo = [
            src.0.octets().as_slice(),
            &dst.0.octets(),
            &[0, 6],
            &tcp_len.to_be_bytes(),
        ]
        .concat();
        let sum = checksum(&[&pseudo, &tcp, data]);
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(20 + tcp_len).to_be_bytes());
        ip.extend_from_slice(&(self.frames as u16).to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src.0.octets());
        ip.extend_from_slice(&dst.0.octets());
        let sum = checksum(&[&ip]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut frame = vec![
            0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa,
        ];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&tcp);
        frame.extend_from_slice(data);
        let orig = frame.len();
        frame.truncate(snap.unwrap_or(orig));
        let secs = 1_700_000_000 + self.frames;
        for v in [secs, 0, frame.len() as u32, orig as u32] {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.buf.extend_from_slice(&frame);
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.buf).unwrap();
    }
}

/// One TCP connection; offsets are relative to each side's ISN + 1.
pub struct Conn {
    pub client: (Ipv4Addr, u16),
    pub server: (Ipv4Addr, u16),
    pub client_isn: u32,
    pub server_isn: u32,
}

impl Conn {
    pub fn new(client_port: u16, server_port: u16, client_isn: u32, server_isn: u32) -> Self {
        Conn {
            client: (Ipv4Addr::new(10, 0, 0, 1), client_port),
            server: (Ipv4Addr::new(10, 0, 0, 2), server_port),
            client_isn,
            server_isn,
        }
    }

    pub fn handshake(&self, w: &mut PcapWriter) {
        let (c, s) = (self.client_isn, self.server_isn);
        w.tcp(self.client, self.server, c, 0, SYN, &[], None);
        w.tcp(
            self.server,
            self.client,
            s,
            c.wrapping_add(1),
            SYN | ACK,
            &[],
            None,
        );
        w.tcp(
            self.client,
            self.server,
            c.wrapping_add(1),
            s.wrapping_add(1),
            ACK,
            &[],
            None,
        );
    }

    /// Client sends `data` at offset `off`, acknowledging server offset `ack`.
    pub fn c2s(&self, w: &mut PcapWriter, off: u32, ack: u32, flags: u8, data: &[u8]) {
        let seq = self.client_isn.wrapping_add(1).wrapping_add(off);
        let ack = self.server_isn.wrapping_add(1).wrapping_add(ack);
        w.tcp(self.client, self.server, seq, ack, flags, data, None);
    }

    /// Server sends `data` at offset `off`, acknowledging client offset `ack`.
    pub fn s2c(&self, w: &mut PcapWriter, off: u32, ack: u32, flags: u8, data: &[u8]) {
        self.s2c_snap(w, off, ack, flags, data, None);
    }

    pub fn s2c_snap(
        &self,
        w: &mut PcapWriter,
        off: u32,
        ack: u32,
        flags: u8,
        data: &[u8],
        snap: Option<usize>,
    ) {
        let seq = self.server_isn.wrapping_add(1).wrapping_add(off);
        let ack = self.client_isn.wrapping_add(1).wrapping_add(ack);
        w.tcp(self.server, self.client, seq, ack, flags, data, snap);
    }
}
