//! Samples for the transport layer: reassembly perturbations, framings,
//! file formats and damaged or split inputs. Everything lives under
//! `samples/transport/`.

use super::conversation::{Conversation, Dir};
use super::dialogs::{imap, pop3, smtp};
use super::formats::{Format, NgInterface, NgSection};
use super::packet::Link;
use super::sample::Sample;

/// Addresses from the documentation ranges (RFC 5737, RFC 3849).
pub const CLIENT: &str = "192.0.2.10";
pub const SMTP_SERVER: &str = "198.51.100.25:25";
pub const SUBMISSION_SERVER: &str = "198.51.100.25:587";
pub const IMAP_SERVER: &str = "198.51.100.143:143";
pub const POP3_SERVER: &str = "198.51.100.110:110";

fn client(port: u16) -> String {
    format!("{CLIENT}:{port}")
}

/// A complete STARTTLS-upgraded SMTP session.
pub fn smtp_starttls(port: u16, seed: u64) -> Conversation {
    let mut c = Conversation::new(&client(port), SMTP_SERVER);
    smtp::starttls_session(&mut c, seed);
    c
}

/// A plain relay session carrying one message (MSS 536, so the message
/// takes three segments).
pub fn smtp_relay(port: u16) -> Conversation {
    let mut c = Conversation::new(&client(port), SMTP_SERVER).mss(536);
    smtp::relay_session(&mut c);
    c
}

pub fn samples() -> Vec<Sample> {
    let mut out = vec![
        Sample::new(
            "transport/smtp-clean.pcap",
            "In-order SMTP session: greeting, EHLO with a multi-line reply offering STARTTLS, \
             STARTTLS, TLS 1.3 handshake and two encrypted round trips, client closes with FIN.",
        )
        .conversation(smtp_starttls(49152, 1)),
    ];

    let mut c = Conversation::new(&client(49153), SMTP_SERVER).mss(536);
    c.handshake();
    smtp::greet_and_ehlo(&mut c, smtp::RELAY);
    let body = smtp::mail_transaction(&mut c);
    c.reorder(body.nth(0));
    c.close(Dir::Server);
    out.push(
        Sample::new(
            "transport/smtp-reordered.pcap",
            "Plain SMTP relay session (no STARTTLS offered) with a 3-segment message; the \
             first message segment is captured after the second.",
        )
        .conversation(c),
    );

    let mut c = Conversation::new(&client(49154), SMTP_SERVER).mss(536);
    c.handshake();
    smtp::greet_and_ehlo(&mut c, smtp::RELAY);
    let body = smtp::mail_transaction(&mut c);
    c.retransmit(body.nth(1));
    c.close(Dir::Server);
    out.push(
        Sample::new(
            "transport/smtp-retransmit-identical.pcap",
            "Plain SMTP relay session; the second message segment is retransmitted with \
             identical bytes after the third.",
        )
        .conversation(c),
    );

    let mut c = Conversation::new(&client(49155), SMTP_SERVER);
    c.handshake();
    smtp::greet_and_ehlo(&mut c, smtp::MX);
    let starttls = smtp::starttls(&mut c, 4, 1);
    c.retransmit_with(starttls.first(), "XXXXXXXX\r\n");
    c.close(Dir::Client);
    out.push(
        Sample::new(
            "transport/smtp-retransmit-conflict.pcap",
            "SMTP STARTTLS session where the STARTTLS command's segment is retransmitted \
             (after the server's ACK) with different bytes for the same range: \
             `XXXXXXXX\\r\\n`. The first-seen `STARTTLS\\r\\n` is what the stream keeps.",
        )
        .conversation(c),
    );

    let mut c = Conversation::new(&client(49156), SMTP_SERVER).mss(536);
    c.handshake();
    smtp::greet_and_ehlo(&mut c, smtp::RELAY);
    let body = smtp::mail_transaction(&mut c);
    c.drop_packet(body.nth(1));
    c.close(Dir::Server);
    out.push(
        Sample::new(
            "transport/smtp-lost-segment.pcap",
            "Plain SMTP relay session; the second message segment (536 bytes) is missing from \
             the capture although the server acknowledged it: a gap.",
        )
        .conversation(c),
    );

    out.push(
        Sample::new(
            "transport/smtp-vlan.pcap",
            "SMTP STARTTLS session on 802.1Q VLAN 100.",
        )
        .conversation(smtp_starttls(49157, 7))
        .link(Link::Vlan(100)),
    );
    out.push(
        Sample::new(
            "transport/smtp-qinq.pcap",
            "SMTP STARTTLS session double-tagged: 802.1ad S-tag 200 around 802.1Q C-tag 100.",
        )
        .conversation(smtp_starttls(49158, 8))
        .link(Link::QinQ {
            outer: 200,
            inner: 100,
        }),
    );

    let mut c = Conversation::new("[2001:db8:10::10]:49159", "[2001:db8:25::25]:25")
        .mss(1440)
        .with_hop_by_hop();
    smtp::relay_session(&mut c);
    out.push(
        Sample::new(
            "transport/smtp-ipv6-hop-by-hop.pcap",
            "Plain SMTP relay session over IPv6; every packet carries a hop-by-hop options \
             extension header (PadN) before TCP.",
        )
        .conversation(c),
    );

    let mut c = Conversation::new(&client(49160), IMAP_SERVER);
    imap::starttls_session(&mut c, 10);
    out.push(
        Sample::new(
            "transport/imap-sll.pcap",
            "IMAP STARTTLS session (Dovecot) captured with Linux cooked capture v1 \
             (`tcpdump -i any` on the server).",
        )
        .conversation(c)
        .link(Link::LinuxSll),
    );

    let mut c = Conversation::new(&client(49161), POP3_SERVER);
    pop3::stls_session(&mut c, 11);
    out.push(
        Sample::new(
            "transport/pop3-sll2.pcap",
            "POP3 STLS session (Dovecot) captured with Linux cooked capture v2, interface \
             index 2.",
        )
        .conversation(c)
        .link(Link::LinuxSll2 { ifindex: 2 }),
    );

    let mut c = Conversation::new(&client(49162), SUBMISSION_SERVER);
    smtp::starttls_session(&mut c, 12);
    out.push(
        Sample::new(
            "transport/smtp-raw-ip.pcap",
            "SMTP submission (port 587) STARTTLS session with no link layer (raw IP).",
        )
        .conversation(c)
        .link(Link::RawIp),
    );

    let mut v4 = Conversation::new("127.0.0.1:49163", "127.0.0.1:25").mss(536);
    smtp::relay_session(&mut v4);
    let mut v6 = Conversation::new("[::1]:49164", "[::1]:25").starts_at(2, 0);
    smtp::starttls_session(&mut v6, 13);
    out.push(
        Sample::new(
            "transport/smtp-null-loopback.pcap",
            "Two SMTP sessions on a BSD loopback interface (NULL link type, address family in \
             host byte order): a plain relay session over 127.0.0.1, then a STARTTLS session \
             over ::1 (AF_INET6 = 30) two seconds later.",
        )
        .conversation(v4)
        .conversation(v6)
        .link(Link::Null),
    );

    out.push(multi_section());

    let mut c = Conversation::new(&client(49177), SMTP_SERVER).starts_at(0, 250_000_000);
    smtp::starttls_session(&mut c, 25);
    out.push(
        Sample::new(
            "transport/pcapng-tsresol-binary.pcapng",
            "SMTP STARTTLS session in a pcapng file whose interface counts time in binary \
             fractions (if_tsresol 0x94: 2^-20 s units); the first packet is at \
             12:00:00.25 exactly.",
        )
        .format(Format::PcapNg(vec![NgSection {
            interfaces: vec![NgInterface {
                name: "eth0",
                link: Link::Ethernet,
                tsresol: Some(0x94),
            }],
        }]))
        .conversation(c),
    );

    out.push(
        Sample::new(
            "transport/smtp-big-endian.pcap",
            "SMTP STARTTLS session in a big-endian pcap file.",
        )
        .conversation(smtp_starttls(49170, 14))
        .big_endian(),
    );
    out.push(
        Sample::new(
            "transport/smtp-nanosecond.pcap",
            "SMTP STARTTLS session in a nanosecond-resolution pcap file; the first packet is at \
             12:00:00.000000123 and packets are 10000001 ns apart.",
        )
        .conversation({
            let mut c = Conversation::new(&client(49171), SMTP_SERVER)
                .starts_at(0, 123)
                .step_nanos(10_000_001);
            smtp::starttls_session(&mut c, 15);
            c
        })
        .nanos(),
    );
    out.push(
        Sample::new(
            "transport/smtp.pcap.gz",
            "SMTP STARTTLS session in a gzip-compressed pcap file.",
        )
        .conversation(smtp_starttls(49172, 16))
        .gzip(),
    );

    let mut c = Conversation::new(&client(49173), SMTP_SERVER).mss(536);
    c.handshake();
    smtp::greet_and_ehlo(&mut c, smtp::RELAY);
    let from = c.next_id();
    smtp::mail_transaction(&mut c);
    c.close(Dir::Server);
    c.capture_from(from);
    out.push(
        Sample::new(
            "transport/smtp-mid-stream.pcap",
            "Plain SMTP relay session picked up mid-stream: the capture starts at MAIL FROM \
             (no handshake, greeting or EHLO).",
        )
        .conversation(c),
    );

    let mut c = Conversation::new(&client(49174), SMTP_SERVER).mss(536);
    smtp::relay_session(&mut c);
    c.capture_only(Dir::Client);
    out.push(
        Sample::new(
            "transport/smtp-one-sided.pcap",
            "Plain SMTP relay session of which only the client-to-server direction was \
             captured (asymmetric routing); the server closes first.",
        )
        .conversation(c),
    );

    out.push(
        Sample::new(
            "transport/smtp-snaplen-68.pcap",
            "Plain SMTP relay session captured with snaplen 68: 14 bytes of TCP payload survive \
             per segment (Ethernet 14 + IPv4 20 + TCP 20 = 54 header bytes).",
        )
        .conversation(smtp_relay(49175))
        .snaplen(68),
    );

    let mut c = Conversation::new(&client(49176), SMTP_SERVER).isns(0xffff_ff00, 0xffff_fc00);
    smtp::starttls_session(&mut c, 17);
    out.push(
        Sample::new(
            "transport/smtp-seq-wraparound.pcap",
            "SMTP STARTTLS session whose sequence numbers wrap past 2^32 in both directions \
             (client ISN 0xffffff00, server ISN 0xfffffc00).",
        )
        .conversation(c),
    );

    out.extend(damaged_and_split());
    out
}

/// Two sections, five interfaces of four link types and five timestamp
/// resolutions; one session per interface.
fn multi_section() -> Sample {
    let iface = |name, link, tsresol| NgInterface {
        name,
        link,
        tsresol,
    };
    let sections = vec![
        NgSection {
            interfaces: vec![
                iface("eth0", Link::Ethernet, Some(6)),
                iface("tun0", Link::RawIp, Some(9)),
            ],
        },
        NgSection {
            interfaces: vec![
                iface("any", Link::LinuxSll, Some(3)),
                iface("lo0", Link::Null, None),
                iface("en0", Link::Ethernet, Some(7)),
            ],
        },
    ];
    let mut smtp_c = Conversation::new(&client(49165), SMTP_SERVER).on_interface(0, 0);
    smtp::starttls_session(&mut smtp_c, 18);
    let mut imap_c = Conversation::new("203.0.113.5:49166", IMAP_SERVER)
        .on_interface(0, 1)
        .starts_at(0, 5_000_321)
        .step_nanos(10_000_007);
    imap::starttls_session(&mut imap_c, 19);
    let mut pop_c = Conversation::new(&client(49167), POP3_SERVER)
        .on_interface(1, 0)
        .starts_at(10, 0);
    pop3::stls_session(&mut pop_c, 20);
    let mut lo = Conversation::new("127.0.0.1:49168", "127.0.0.1:25")
        .mss(536)
        .on_interface(1, 1)
        .starts_at(10, 2_000_000);
    smtp::relay_session(&mut lo);
    let mut en = Conversation::new(&client(49169), IMAP_SERVER)
        .on_interface(1, 2)
        .starts_at(10, 4_000_000);
    imap::starttls_session(&mut en, 21);
    Sample::new(
        "transport/multi-section.pcapng",
        "pcapng with two sections. Section 0: eth0 (Ethernet, if_tsresol 6) carries an SMTP \
         STARTTLS session, tun0 (raw IP, if_tsresol 9, timestamps with nanoseconds) an IMAP \
         STARTTLS session. Section 1 (10 s later): any (Linux SLL, if_tsresol 3) a POP3 STLS \
         session, lo0 (NULL, no if_tsresol: microseconds) a plain SMTP relay session over \
         127.0.0.1, en0 (Ethernet, if_tsresol 7: 100 ns units) an IMAP STARTTLS session.",
    )
    .format(Format::PcapNg(sections))
    .conversation(smtp_c)
    .conversation(imap_c)
    .conversation(pop_c)
    .conversation(lo)
    .conversation(en)
}

/// Rotated, truncated and port-reusing captures.
fn damaged_and_split() -> Vec<Sample> {
    let mut out = Vec::new();

    let relay = smtp_relay(49180);
    let mut pop = Conversation::new(&client(49181), POP3_SERVER).starts_at(0, 600_000_000);
    pop.handshake();
    pop3::stls(&mut pop, 22, 1);
    pop.rst(Dir::Client);
    out.push(
        Sample::new(
            "transport/rotated",
            "A capture rotated into two files (like `tcpdump -C`): a plain SMTP relay session \
             starts in the first file and continues in the second (split after its 30th \
             packet); a POP3 STLS session, aborted by the client with an RST, lies wholly in the \
             second file.",
        )
        .conversation(relay)
        .conversation(pop)
        .rotate(&[("mail-0001.pcap", 0), ("mail-0002.pcap", 30)]),
    );

    let first = smtp_starttls(49182, 23);
    let cut_at = first.captured().len() + 12;
    let second = {
        let mut c = Conversation::new(&client(49183), SMTP_SERVER)
            .mss(536)
            .starts_at(1, 0);
        smtp::relay_session(&mut c);
        c
    };
    out.push(
        Sample::new(
            "transport/smtp-truncated.pcap",
            &format!(
                "Two SMTP sessions; the file ends in the middle of packet {cut_at} (its record \
                 header is complete, half its bytes are missing). The first session (STARTTLS) \
                 ended before the damage; the second (plain relay) is cut short."
            ),
        )
        .conversation(first)
        .conversation(second)
        .cut_in_packet(cut_at),
    );

    let mut one = Conversation::new(&client(49184), SMTP_SERVER).mss(536);
    smtp::relay_session(&mut one);
    let mut two = Conversation::new(&client(49184), SMTP_SERVER)
        .isns(700_000, 900_000)
        .starts_at(3, 0);
    smtp::starttls_session(&mut two, 24);
    out.push(
        Sample::new(
            "transport/smtp-port-reuse.pcap",
            "Two SMTP sessions on the same four-tuple: a plain relay session closed with FIN, \
             then, 3 s later, a new SYN (other ISNs) starting a STARTTLS session.",
        )
        .conversation(one)
        .conversation(two),
    );
    out
}
