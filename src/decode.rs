//! Link, IP and TCP headers, via etherparse's lax slicing so that
//! snaplen-truncated frames still yield whatever headers survived.
//!
//! Link types: Ethernet (802.1Q, 802.1ad, QinQ), Linux cooked SLL and SLL2,
//! raw IP (and the IPv4/IPv6-only variants), BSD NULL and OpenBSD LOOP.
//! IPv4 and IPv6 with extension headers.

use crate::capture::{LinkType, linktype};
use etherparse::checksum::Sum16BitWords;
use etherparse::{EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::IpAddr;

/// TCP flag bits as they appear in byte 13 of the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub(crate) const FIN: u8 = 0x01;
    pub(crate) const SYN: u8 = 0x02;
    pub(crate) const RST: u8 = 0x04;
    pub(crate) const ACK: u8 = 0x10;

    pub(crate) fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub(crate) fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub(crate) fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub(crate) fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// A decoded TCP segment. Borrowed from the frame.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    /// Source address from the IP header: the sender of this segment, client or server.
    pub src: IpAddr,
    /// Destination address from the IP header.
    pub dst: IpAddr,
    /// Source port from the TCP header.
    pub src_port: u16,
    /// Destination port from the TCP header.
    pub dst_port: u16,
    /// Sequence number as on the wire (absolute, not relative to the ISN).
    pub seq: u32,
    /// Acknowledgment number as on the wire; meaningful only with the ACK flag.
    pub ack: u32,
    /// The flag byte (byte 13 of the TCP header).
    pub flags: TcpFlags,
    /// Window field as on the wire, unscaled; 0 when the snaplen cut the header before it.
    pub window: u16,
    /// The payload bytes the capture kept.
    pub payload: &'a [u8],
    /// Payload bytes that were on the wire but not captured (snaplen).
    pub missing: u32,
    /// The window-scale option (RFC 7323), on SYN segments.
    pub window_scale: Option<u8>,
    checksum_input: Option<ChecksumInput<'a>>,
}

#[derive(Clone, Copy, Debug)]
struct ChecksumInput<'a> {
    /// The IPv4 header (empty for IPv6, which has no header checksum).
    ipv4_header: &'a [u8],
    /// TCP header and payload, complete.
    tcp: &'a [u8],
}

/// Checksum verdict for one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChecksumStatus {
    Valid,
    /// Wrong IPv4 header or TCP checksum (usually NIC offload on the
    /// capturing host: the NIC fills it in after the capture point).
    Invalid,
    /// Truncated by snaplen: cannot be checked.
    Unverifiable,
}

impl TcpSegment<'_> {
    /// Computes the IPv4 header and TCP checksums. Touches every payload
    /// byte, so the pipeline calls it only for mail flows.
    pub(crate) fn checksum_status(&self) -> ChecksumStatus {
        let Some(input) = self.checksum_input else {
            return ChecksumStatus::Unverifiable;
        };
        if !input.ipv4_header.is_empty() && fold(ones_sum(input.ipv4_header)) != 0xffff {
            return ChecksumStatus::Invalid;
        }
        let Ok(tcp_len) = u32::try_from(input.tcp.len()) else {
            return ChecksumStatus::Unverifiable;
        };
        // The pseudo-header (RFC 793 3.1, RFC 8200 8.1), summed like the
        // segment: both start at even offsets, so word order agrees.
        let mut pseudo = [0u8; 40];
        let used = match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                pseudo[..4].copy_from_slice(&s.octets());
                pseudo[4..8].copy_from_slice(&d.octets());
                // zero, protocol, TCP length (16 bits for IPv4)
                pseudo[9] = IpNumber::TCP.0;
                pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
                12
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                pseudo[..16].copy_from_slice(&s.octets());
                pseudo[16..32].copy_from_slice(&d.octets());
                pseudo[32..36].copy_from_slice(&tcp_len.to_be_bytes());
                pseudo[39] = IpNumber::TCP.0;
                40
            }
            _ => return ChecksumStatus::Unverifiable,
        };
        let sum = ones_sum(pseudo.get(..used).unwrap_or_default()) + ones_sum(input.tcp);
        if fold(sum) == 0xffff {
            ChecksumStatus::Valid
        } else {
            ChecksumStatus::Invalid
        }
    }
}

/// The Internet checksum's sum (RFC 1071) of `data`, unfolded: 32-bit
/// native-endian chunks into a 64-bit accumulator, so the end-around
/// carries wait for [`fold`]. Word order is native; a sum compared with
/// all ones does not care.
fn ones_sum(data: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        if let Ok(word) = <[u8; 4]>::try_from(c) {
            sum += u64::from(u32::from_ne_bytes(word));
        }
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 4];
    if let Some(dst) = last.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    sum + u64::from(u32::from_ne_bytes(last))
}

/// Folds a [`ones_sum`] to 16 bits with end-around carry.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Where a segment's parts lie within its frame, as byte ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentLayout {
    /// TCP header and payload (only when complete: not snaplen-cut).
    pub tcp: Option<std::ops::Range<usize>>,
    /// The payload bytes the capture kept.
    pub payload: std::ops::Range<usize>,
}

impl TcpSegment<'_> {
    /// The layout of this segment within `frame`, the bytes it was decoded
    /// from.
    pub(crate) fn layout(&self, frame: &[u8]) -> SegmentLayout {
        let range = |part: &[u8]| {
            let start = (part.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
            start..start + part.len()
        };
        SegmentLayout {
            tcp: self.checksum_input.map(|c| range(c.tcp)),
            payload: range(self.payload),
        }
    }
}

/// Recomputes the TCP checksum of a frame whose payload was changed in
/// place. Returns false when the segment cannot be checksummed (cut by
/// snaplen, or not TCP).
pub(crate) fn fix_tcp_checksum(link: LinkType, frame: &mut [u8]) -> bool {
    let (range, src, dst) = match decode(link, frame) {
        Ok(seg) => match seg.layout(frame).tcp {
            Some(range) => (range, seg.src, seg.dst),
            None => return false,
        },
        Err(_) => return false,
    };
    let Some(tcp) = frame.get_mut(range) else {
        return false;
    };
    let Ok(len) = u32::try_from(tcp.len()) else {
        return false;
    };
    if let Some(field) = tcp.get_mut(16..18) {
        field.copy_from_slice(&[0, 0]);
    }
    let pseudo = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Sum16BitWords::new()
            .add_4bytes(s.octets())
            .add_4bytes(d.octets()),
        (IpAddr::V6(s), IpAddr::V6(d)) => Sum16BitWords::new()
            .add_16bytes(s.octets())
            .add_16bytes(d.octets()),
        _ => return false,
    };
    let sum = pseudo
        .add_2bytes([0, IpNumber::TCP.0])
        .add_4bytes(len.to_be_bytes())
        .add_slice(tcp)
        .ones_complement();
    // 0 is sent as 0xffff (RFC 768 style; TCP accepts both). The sum was
    // taken over native-endian words, so its native bytes are the field.
    let sum = if sum == 0 { 0xffff } else { sum };
    match tcp.get_mut(16..18) {
        Some(field) => {
            field.copy_from_slice(&sum.to_ne_bytes());
            true
        }
        None => false,
    }
}

/// What a quick look at a frame's headers tells, without decoding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peek {
    /// A TCP segment between these endpoints.
    Tcp {
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
    },
    /// Anything else (other protocols, IPv6 extension headers, fragments,
    /// short frames, rare link types): ask [`decode`].
    Unsure,
}

/// Finds a frame's addresses and TCP ports in the common layouts, so that
/// packets of no interest are dropped before a full decode. Agrees with
/// [`decode`] whenever it answers [`Peek::Tcp`].
pub(crate) fn peek(link: LinkType, data: &[u8]) -> Peek {
    let ip = match link {
        linktype::ETHERNET => {
            let mut at = 12;
            let mut ether_type = be16(data, at);
            // 802.1Q, 802.1ad and the old QinQ tag: up to two of them.
            for _ in 0..2 {
                if matches!(ether_type, Some(0x8100 | 0x88a8 | 0x9100)) {
                    at += 4;
                    ether_type = be16(data, at);
                }
            }
            match ether_type {
                Some(0x0800 | 0x86dd) => at + 2,
                _ => return Peek::Unsure,
            }
        }
        linktype::RAW
        | linktype::RAW_BSD_12
        | linktype::RAW_BSD_14
        | linktype::IPV4
        | linktype::IPV6 => 0,
        linktype::LINUX_SLL => 16,
        linktype::LINUX_SLL2 => 20,
        linktype::NULL | linktype::LOOP => 4,
        _ => return Peek::Unsure,
    };
    let Some(header) = data.get(ip..) else {
        return Peek::Unsure;
    };
    let (src, dst, tcp) = match header.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(header.first().copied().unwrap_or(0) & 0x0f) * 4;
            let fragment = be16(header, 6).is_none_or(|f| f & 0x3fff != 0);
            if ihl < 20 || header.get(9) != Some(&6) || fragment {
                return Peek::Unsure;
            }
            let (Some(s), Some(d)) = (be32(header, 12), be32(header, 16)) else {
                return Peek::Unsure;
            };
            (IpAddr::V4(s.into()), IpAddr::V4(d.into()), ihl)
        }
        Some(6) => {
            if header.get(6) != Some(&6) {
                return Peek::Unsure;
            }
            let (Some(s), Some(d)) = (header.get(8..24), header.get(24..40)) else {
                return Peek::Unsure;
            };
            let (Ok(s), Ok(d)) = (<[u8; 16]>::try_from(s), <[u8; 16]>::try_from(d)) else {
                return Peek::Unsure;
            };
            (IpAddr::V6(s.into()), IpAddr::V6(d.into()), 40)
        }
        _ => return Peek::Unsure,
    };
    match (be16(header, tcp), be16(header, tcp + 2)) {
        (Some(src_port), Some(dst_port)) => Peek::Tcp {
            src,
            dst,
            src_port,
            dst_port,
        },
        _ => Peek::Unsure,
    }
}

/// Why a frame yields no TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A link type this decoder does not know.
    UnknownLinkType,
    /// IP, but not TCP (UDP, ICMP, ...).
    NotTcp,
    /// Not IP at all (ARP, LLDP, ...).
    NotIp,
    /// An IP fragment: not reassembled.
    Fragment,
    /// Headers that cannot be decoded (too short, malformed).
    Undecodable,
}

/// Decodes one frame of the given link type down to TCP.
pub fn decode(link: LinkType, data: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    let sliced = match link {
        linktype::ETHERNET => {
            LaxSlicedPacket::from_ethernet(data).map_err(|_| Skip::Undecodable)?
        }
        linktype::RAW
        | linktype::RAW_BSD_12
        | linktype::RAW_BSD_14
        | linktype::IPV4
        | linktype::IPV6 => LaxSlicedPacket::from_ip(data).map_err(|_| Skip::Undecodable)?,
        linktype::LINUX_SLL => {
            // 16-byte header; protocol (an EtherType) in the last two bytes.
            let ether_type = be16(data, 14).ok_or(Skip::Undecodable)?;
            let rest = data.get(16..).ok_or(Skip::Undecodable)?;
            LaxSlicedPacket::from_ether_type(EtherType(ether_type), rest)
        }
        linktype::LINUX_SLL2 => {
            // 20-byte header; protocol first.
            let ether_type = be16(data, 0).ok_or(Skip::Undecodable)?;
            let rest = data.get(20..).ok_or(Skip::Undecodable)?;
            LaxSlicedPacket::from_ether_type(EtherType(ether_type), rest)
        }
        linktype::NULL | linktype::LOOP => {
            // 4-byte address family: host byte order for NULL (either order
            // can appear in a file), network order for LOOP. AF_INET is 2
            // everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the OS.
            let family = data.get(..4).ok_or(Skip::Undecodable)?;
            let value = if family.first().copied().unwrap_or(0) == 0 && family.get(1) == Some(&0) {
                be16(family, 2).map(u32::from)
            } else {
                family.first().map(|b| u32::from(*b))
            };
            match value {
                Some(2 | 10 | 24 | 28 | 30) => {}
                _ => return Err(Skip::NotIp),
            }
            let rest = data.get(4..).ok_or(Skip::Undecodable)?;
            LaxSlicedPacket::from_ip(rest).map_err(|_| Skip::Undecodable)?
        }
        _ => return Err(Skip::UnknownLinkType),
    };
    tcp_of(data, &sliced)
}

/// The part of `whole` that `part` (a sub-slice of it) covers, with
/// `whole`'s lifetime.
fn reborrow<'a>(whole: &'a [u8], part: &[u8]) -> &'a [u8] {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    start
        .checked_add(part.len())
        .and_then(|end| whole.get(start..end))
        .unwrap_or_default()
}

fn tcp_of<'a>(data: &'a [u8], sliced: &LaxSlicedPacket<'a>) -> Result<TcpSegment<'a>, Skip> {
    let (src, dst, ip_payload, ipv4_header, declared_payload_len) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let header = v4.header();
            let payload = v4.payload();
            let declared = usize::from(header.total_len()).saturating_sub(
                header.slice().len() + v4.extensions().auth.map_or(0, |a| a.slice().len()),
            );
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                payload.clone(),
                reborrow(data, header.slice()),
                declared,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let header = v6.header();
            let payload = v6.payload();
            let declared =
                usize::from(header.payload_length()).saturating_sub(v6.extensions().slice().len());
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                payload.clone(),
                &[][..],
                declared,
            )
        }
        Some(LaxNetSlice::Arp(_)) | None => {
            return Err(if sliced.stop_err.is_some() && sliced.net.is_none() {
                Skip::Undecodable
            } else {
                Skip::NotIp
            });
        }
    };
    if ip_payload.ip_number != IpNumber::TCP {
        return Err(Skip::NotTcp);
    }
    if ip_payload.fragmented {
        return Err(Skip::Fragment);
    }
    // TSO on the capturing host can leave total_len 0; then what was
    // captured is all there is to go by.
    let declared = if declared_payload_len == 0 || !ip_payload.incomplete {
        ip_payload.payload.len()
    } else {
        declared_payload_len.max(ip_payload.payload.len())
    };
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let header_len = tcp.header_slice().len();
            let payload = tcp.payload();
            let missing = declared.saturating_sub(header_len + payload.len());
            Ok(TcpSegment {
                src,
                dst,
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: TcpFlags(tcp.slice().get(13).copied().unwrap_or(0)),
                window: tcp.window_size(),
                payload,
                missing: u32::try_from(missing).unwrap_or(u32::MAX),
                window_scale: if tcp.syn() {
                    window_scale(tcp.options())
                } else {
                    None
                },
                checksum_input: (missing == 0 && !ip_payload.incomplete).then_some(ChecksumInput {
                    ipv4_header,
                    tcp: tcp.slice(),
                }),
            })
        }
        _ => truncated_tcp(src, dst, ip_payload.payload, declared),
    }
}

/// The TCP header itself was cut by snaplen: take the fixed fields that
/// survived (ports, sequence numbers, flags need 14 bytes) so the flow still
/// counts; the whole payload is missing.
fn truncated_tcp(
    src: IpAddr,
    dst: IpAddr,
    bytes: &[u8],
    declared: usize,
) -> Result<TcpSegment<'_>, Skip> {
    let src_port = be16(bytes, 0).ok_or(Skip::Undecodable)?;
    let dst_port = be16(bytes, 2).ok_or(Skip::Undecodable)?;
    let seq = be32(bytes, 4).ok_or(Skip::Undecodable)?;
    let ack = be32(bytes, 8).ok_or(Skip::Undecodable)?;
    let data_offset = usize::from(bytes.get(12).ok_or(Skip::Undecodable)? >> 4) * 4;
    let flags = *bytes.get(13).ok_or(Skip::Undecodable)?;
    if data_offset < 20 {
        return Err(Skip::Undecodable);
    }
    Ok(TcpSegment {
        src,
        dst,
        src_port,
        dst_port,
        seq,
        ack,
        flags: TcpFlags(flags),
        window: be16(bytes, 14).unwrap_or(0),
        payload: &[],
        missing: u32::try_from(declared.saturating_sub(data_offset)).unwrap_or(u32::MAX),
        window_scale: None,
        checksum_input: None,
    })
}

/// The window-scale option's shift (kind 3), as sent: the flow caps it.
fn window_scale(mut options: &[u8]) -> Option<u8> {
    while let Some((&kind, rest)) = options.split_first() {
        match kind {
            0 => return None,
            1 => options = rest,
            _ => {
                let len = usize::from(*rest.first()?);
                if kind == 3 && len == 3 {
                    return rest.get(1).copied();
                }
                options = options.get(len.max(2)..)?;
            }
        }
    }
    None
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    <[u8; 4]>::try_from(b).ok().map(u32::from_be_bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 25, 1000, 65535)
            .ack(7)
            .psh();
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn ethernet_ipv4() {
        let frame = ipv4_tcp(b"EHLO x\r\n");
        let seg = decode(linktype::ETHERNET, &frame).unwrap();
        assert_eq!(seg.src_port, 40000);
        assert_eq!(seg.dst_port, 25);
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.ack, 7);
        assert_eq!(seg.payload, b"EHLO x\r\n");
        assert_eq!(seg.missing, 0);
        assert_eq!(seg.checksum_status(), ChecksumStatus::Valid);
    }

    #[test]
    fn bad_checksum_is_detected_not_dropped() {
        let mut frame = ipv4_tcp(b"EHLO x\r\n");
        let last = frame.len() - 1;
        frame[last] ^= 0xff;
        let seg = decode(linktype::ETHERNET, &frame).unwrap();
        assert_eq!(seg.checksum_status(), ChecksumStatus::Invalid);
    }

    #[test]
    fn snaplen_cut_payload() {
        let frame = ipv4_tcp(b"0123456789");
        let cut = &frame[..frame.len() - 4];
        let seg = decode(linktype::ETHERNET, cut).unwrap();
        assert_eq!(seg.payload, b"012345");
        assert_eq!(seg.missing, 4);
        assert_eq!(seg.checksum_status(), ChecksumStatus::Unverifiable);
    }

    #[test]
    fn snaplen_cut_tcp_header() {
        let frame = ipv4_tcp(b"0123456789");
        // Ethernet 14 + IPv4 20 + 16 bytes of TCP header.
        let seg = decode(linktype::ETHERNET, &frame[..50]).unwrap();
        assert_eq!((seg.src_port, seg.dst_port, seg.seq), (40000, 25, 1000));
        assert_eq!(seg.payload, b"");
        assert_eq!(seg.missing, 10);
    }

    #[test]
    fn null_loopback_and_raw() {
        let frame = ipv4_tcp(b"x");
        let ip = &frame[14..];
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(ip);
        assert_eq!(decode(linktype::NULL, &null).unwrap().payload, b"x");
        let mut null_be = vec![0, 0, 0, 2];
        null_be.extend_from_slice(ip);
        assert_eq!(decode(linktype::NULL, &null_be).unwrap().payload, b"x");
        assert_eq!(decode(linktype::RAW, ip).unwrap().payload, b"x");
    }

    #[test]
    fn checksum_is_fixed_after_masking() {
        let mut frame = ipv4_tcp(b"PASS secret\r\n");
        let seg = decode(linktype::ETHERNET, &frame).unwrap();
        let payload = seg.layout(&frame).payload;
        for b in &mut frame[payload.start + 5..payload.end - 2] {
            *b = b'*';
        }
        assert_eq!(
            decode(linktype::ETHERNET, &frame)
                .unwrap()
                .checksum_status(),
            ChecksumStatus::Invalid
        );
        assert!(fix_tcp_checksum(linktype::ETHERNET, &mut frame));
        let seg = decode(linktype::ETHERNET, &frame).unwrap();
        assert_eq!(seg.payload, b"PASS ******\r\n");
        assert_eq!(seg.checksum_status(), ChecksumStatus::Valid);
        // The field as etherparse (and Wireshark) compute it.
        let tcp = etherparse::TcpSlice::from_slice(&frame[34..]).unwrap();
        let want = tcp
            .calc_checksum_ipv4([10, 0, 0, 1], [10, 0, 0, 2])
            .unwrap();
        assert_eq!(tcp.checksum(), want);
    }

    #[test]
    fn peek_agrees_with_decode() {
        let frame = ipv4_tcp(b"x");
        match peek(linktype::ETHERNET, &frame) {
            Peek::Tcp {
                src_port, dst_port, ..
            } => assert_eq!((src_port, dst_port), (40000, 25)),
            Peek::Unsure => panic!("unsure"),
        }
        // Pseudo-random frames: whenever peek is sure, decode says the same.
        let mut x = 0x9e37_79b9_u32;
        for len in 0..400 {
            let mut data = ipv4_tcp(b"0123456789");
            for b in data.iter_mut().skip(len % 40) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if x % 7 == 0 {
                    *b = x as u8;
                }
            }
            for link in [0, 1, 101, 113, 276] {
                if let Peek::Tcp {
                    src,
                    dst,
                    src_port,
                    dst_port,
                } = peek(link, &data)
                {
                    if let Ok(seg) = decode(link, &data) {
                        assert_eq!(
                            (seg.src, seg.dst, seg.src_port, seg.dst_port),
                            (src, dst, src_port, dst_port)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        for link in [0, 1, 12, 101, 108, 113, 228, 229, 276, 999] {
            for len in 0..80 {
                let data: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
                let _ = decode(link, &data);
            }
        }
    }
}
