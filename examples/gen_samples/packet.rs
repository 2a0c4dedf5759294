//! Turning a captured TCP segment into link-layer frame bytes with
//! etherparse's `PacketBuilder`, for each framing the samples use.

use super::conversation::{Captured, Conversation, Dir};
use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv6Extensions, Ipv6Header, Ipv6RawExtHeader,
    LinuxSllPacketType, PacketBuilder, PacketBuilderStep, TcpOptionElement, VlanId,
};
use std::net::IpAddr;
use stripwatch::capture::LinkType;

/// How frames are framed below IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II.
    Ethernet,
    /// Ethernet with one 802.1Q tag.
    Vlan(u16),
    /// Ethernet with an 802.1ad service tag around an 802.1Q customer tag.
    QinQ { outer: u16, inner: u16 },
    /// Linux cooked capture v1 (`tcpdump -i any`), 16-byte header.
    LinuxSll,
    /// Linux cooked capture v2, 20-byte header with the interface index.
    LinuxSll2 { ifindex: u32 },
    /// No link layer: the frame starts with the IP header.
    RawIp,
    /// BSD loopback: a 4-byte address family in host (little-endian) order.
    Null,
}

impl Link {
    /// The LINKTYPE_ number of the framing.
    pub fn linktype(self) -> LinkType {
        match self {
            Link::Ethernet | Link::Vlan(_) | Link::QinQ { .. } => 1,
            Link::LinuxSll => 113,
            Link::LinuxSll2 { .. } => 276,
            Link::RawIp => 101,
            Link::Null => 0,
        }
    }

    /// A short description for the README.
    pub fn describe(self) -> String {
        match self {
            Link::Ethernet => "Ethernet".into(),
            Link::Vlan(id) => format!("Ethernet, 802.1Q VLAN {id}"),
            Link::QinQ { outer, inner } => {
                format!("Ethernet, QinQ (802.1ad S-tag {outer}, 802.1Q C-tag {inner})")
            }
            Link::LinuxSll => "Linux cooked capture (SLL)".into(),
            Link::LinuxSll2 { .. } => "Linux cooked capture v2 (SLL2)".into(),
            Link::RawIp => "raw IP".into(),
            Link::Null => "BSD NULL loopback".into(),
        }
    }
}

/// A locally administered MAC address derived from an IP address.
fn mac_of(ip: IpAddr) -> [u8; 6] {
    let o = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            [o[1], o[2], o[3]]
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, 0x5e, o[0], o[1], o[2]]
}

/// The frame bytes of one captured packet of `conv`.
pub fn frame(link: Link, conv: &Conversation, captured: &Captured) -> Vec<u8> {
    let packet = &captured.packet;
    let (src, dst) = match packet.from {
        Dir::Client => (conv.client, conv.server),
        Dir::Server => (conv.server, conv.client),
    };
    let ip = ip_headers(src.ip(), dst.ip(), captured.ip_id, conv.hop_by_hop);
    let (src_mac, dst_mac) = (mac_of(src.ip()), mac_of(dst.ip()));
    let step: PacketBuilderStep<IpHeaders> = match link {
        Link::Ethernet => PacketBuilder::ethernet2(src_mac, dst_mac).ip(ip),
        Link::Vlan(id) => PacketBuilder::ethernet2(src_mac, dst_mac)
            .single_vlan(VlanId::try_new(id).expect("VLAN id"))
            .ip(ip),
        Link::QinQ { outer, inner } => PacketBuilder::ethernet2(src_mac, dst_mac)
            .double_vlan(
                VlanId::try_new(outer).expect("VLAN id"),
                VlanId::try_new(inner).expect("VLAN id"),
            )
            .ip(ip),
        Link::LinuxSll => {
            // Captured on the server: the client's packets come in, the
            // server's go out.
            let kind = match packet.from {
                Dir::Client => LinuxSllPacketType::HOST,
                Dir::Server => LinuxSllPacketType::OUTGOING,
            };
            let mut addr = [0u8; 8];
            addr[..6].copy_from_slice(&src_mac);
            PacketBuilder::linux_sll(kind, 6, addr).ip(ip)
        }
        Link::LinuxSll2 { .. } | Link::RawIp | Link::Null => PacketBuilder::ip(ip),
    };
    let mut tcp = step.tcp(
        src.port(),
        dst.port(),
        packet.seq,
        conv.window(packet.from, packet.syn),
    );
    if packet.syn {
        tcp = tcp.syn();
        tcp = tcp
            .options(&[
                TcpOptionElement::MaximumSegmentSize(conv.mss_value() as u16),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
                TcpOptionElement::Noop,
                TcpOptionElement::Noop,
                TcpOptionElement::SelectiveAcknowledgementPermitted,
            ])
            .expect("TCP options");
    }
    if let Some(ack) = packet.ack {
        tcp = tcp.ack(ack);
    }
    if packet.psh {
        tcp = tcp.psh();
    }
    if packet.fin {
        tcp = tcp.fin();
    }
    if packet.rst {
        tcp = tcp.rst();
    }
    let mut ip_frame = Vec::new();
    tcp.write(&mut ip_frame, &packet.payload)
        .expect("packet fits");
    match link {
        Link::LinuxSll2 { ifindex } => {
            let kind: u8 = match packet.from {
                Dir::Client => 0, // to us
                Dir::Server => 4, // outgoing
            };
            let mut out = Vec::with_capacity(20 + ip_frame.len());
            out.extend_from_slice(&ether_type(src.ip()).to_be_bytes());
            out.extend_from_slice(&[0, 0]); // reserved
            out.extend_from_slice(&ifindex.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(kind);
            out.push(6);
            out.extend_from_slice(&src_mac);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&ip_frame);
            out
        }
        Link::Null => {
            // AF_INET is 2 everywhere; AF_INET6 is 30 on macOS.
            let family: u32 = if src.is_ipv4() { 2 } else { 30 };
            let mut out = family.to_le_bytes().to_vec();
            out.extend_from_slice(&ip_frame);
            out
        }
        _ => ip_frame,
    }
}

fn ether_type(ip: IpAddr) -> u16 {
    match ip {
        IpAddr::V4(_) => 0x0800,
        IpAddr::V6(_) => 0x86dd,
    }
}

fn ip_headers(src: IpAddr, dst: IpAddr, id: u16, hop_by_hop: bool) -> IpHeaders {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h =
                Ipv4Header::new(0, 64, IpNumber::TCP, s.octets(), d.octets()).expect("IPv4 header");
            h.identification = id;
            h.dont_fragment = true;
            IpHeaders::Ipv4(h, Default::default())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let header = Ipv6Header {
                traffic_class: 0,
                flow_label: Default::default(),
                payload_length: 0,
                next_header: IpNumber::TCP,
                hop_limit: 64,
                source: s.octets(),
                destination: d.octets(),
            };
            let mut ext = Ipv6Extensions::default();
            if hop_by_hop {
                // One PadN option filling the 8-byte header.
                let options = [1u8, 4, 0, 0, 0, 0];
                ext.hop_by_hop_options =
                    Some(Ipv6RawExtHeader::new_raw(IpNumber::TCP, &options).expect("hop-by-hop"));
            }
            IpHeaders::Ipv6(header, ext)
        }
        _ => panic!("mixed IP versions"),
    }
}
