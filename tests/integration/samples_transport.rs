//! Facts about the transport samples under `samples/transport/`: what the
//! library reassembles from the committed files, checked against what the
//! generator's scripts sent (the truth) and against literal bytes.

use crate::gen_samples::conversation::Dir;
use crate::gen_samples::dialogs::smtp;
use crate::sample_support::{
    EPOCH, Gap, assert_endpoints, assert_exact, assert_single_exact, link_types, report, run,
    samples_dir, scripted,
};
use serde_json::json;
use stripwatch::flow::{EndReason, GapReason, Side};
use stripwatch::time::Timestamp;

#[test]
fn clean_smtp_session() {
    let name = "transport/smtp-clean.pcap";
    let run = assert_single_exact(name, "ETHERNET", 31);
    let s = run.only_session();
    assert_endpoints(s, "192.0.2.10:49152", "198.51.100.25:25");
    let mut client = b"EHLO client.example.com\r\nSTARTTLS\r\n".to_vec();
    client.extend_from_slice(&[0x16, 0x03, 0x01]); // TLS ClientHello record
    assert!(s.client.bytes.starts_with(&client));
    let server = [smtp::MX.greeting, smtp::MX.ehlo_reply, smtp::READY_FOR_TLS].concat();
    assert!(s.server.bytes.starts_with(server.as_bytes()));
    assert!(server.contains("\r\n250-STARTTLS\r\n"));
    assert_eq!(s.server.bytes[server.len()..][..3], [0x16, 0x03, 0x03]);
    assert_eq!(s.info.first_packet.frame, 1);
    assert_eq!(s.info.first_packet.ts, Timestamp::new(EPOCH, 0));

    let (report, json) = report(name);
    assert!(report.inputs_complete());
    assert_eq!(json["inputs"][0]["format"], "pcap");
    assert_eq!(json["inputs"][0]["gzip"], false);
    assert_eq!(json["inputs"][0]["link_types"], json!({"ETHERNET": 31}));
    let session = &json["sessions"][0];
    assert_eq!(session["client"], "192.0.2.10:49152");
    assert_eq!(session["server"], "198.51.100.25:25");
    assert_eq!(session["protocol"], "smtp");
    assert_eq!(session["end"], "fin");
    assert_eq!(session["handshake_seen"], true);
    assert_eq!(session["mid_stream"], false);
    assert_eq!(session["gaps"], 0);
    assert_eq!(session["first_seen"], "2024-03-01T12:00:00.000000Z");
    assert_eq!(session["client_to_server"]["stream_bytes"], 431);
    assert_eq!(session["server_to_client"]["stream_bytes"], 2030);
    assert_eq!(session["anomalies"], json!([]));
    assert_eq!(session["observability"], json!([]));
}

#[test]
fn reordered_segment_is_put_back_in_place() {
    let name = "transport/smtp-reordered.pcap";
    let run = assert_single_exact(name, "ETHERNET", 34);
    let s = run.only_session();
    let message = smtp::message();
    assert!(
        s.client
            .bytes
            .windows(message.len())
            .any(|w| w == message.as_bytes())
    );
    let stats = *s.info.sides[Side::Client].stream;
    assert_eq!(stats.out_of_order_segments, 1);
    assert_eq!(stats.retransmitted_bytes, 0);
    // The second message segment (frame 22) came before the first (23), so
    // data was delivered from frame 23 first, then 22, then 24.
    let frames = &s.client.frames;
    let at = frames.iter().position(|f| *f == 23).unwrap();
    assert_eq!(&frames[at..at + 3], &[23, 22, 24]);
    let (_, json) = report(name);
    assert_eq!(
        json["sessions"][0]["client_to_server"]["out_of_order_segments"],
        1
    );
}

#[test]
fn identical_retransmission_is_counted_not_duplicated() {
    let name = "transport/smtp-retransmit-identical.pcap";
    let run = assert_single_exact(name, "ETHERNET", 35);
    let s = run.only_session();
    let client = &s.info.sides[Side::Client];
    assert_eq!(client.stream.retransmitted_bytes, 536);
    assert_eq!(client.stream.conflicts, 0);
    assert_eq!(client.payload_bytes, 1605 + 536);
    assert_eq!(client.stream.delivered_bytes, 1605);
}

#[test]
fn conflicting_retransmission_keeps_the_first_bytes() {
    let name = "transport/smtp-retransmit-conflict.pcap";
    let run = run(name);
    let conv = &scripted(name)[0];
    let s = run.only_session();
    assert_eq!(s.client.bytes, conv.sent(Dir::Client));
    assert_eq!(s.server.bytes, conv.sent(Dir::Server));
    assert!(
        s.client
            .bytes
            .starts_with(b"EHLO client.example.com\r\nSTARTTLS\r\n\x16\x03\x01")
    );
    assert!(!s.client.bytes.windows(8).any(|w| w == b"XXXXXXXX"));
    assert_eq!(s.info.end, EndReason::Fin);
    assert!(s.gaps.is_empty());

    assert_eq!(s.conflicts.len(), 1, "one conflict event");
    assert_eq!(s.info.conflicts.len(), 1, "recorded in the session");
    let (side, c) = &s.info.conflicts[0];
    assert_eq!(*side, Side::Client);
    assert_eq!((c.offset, c.len), (25, 10));
    assert_eq!((c.kept.frame, c.ignored.frame), (10, 12));
    assert_eq!(c.kept_bytes, b"STARTTLS\r\n");
    assert_eq!(c.ignored_bytes, b"XXXXXXXX\r\n");
    assert_eq!(s.conflicts[0], s.info.conflicts[0]);
    assert_eq!(s.info.sides[Side::Client].stream.conflicts, 1);
    assert_eq!(s.info.sides[Side::Client].stream.retransmitted_bytes, 10);

    let (_, json) = report(name);
    let anomaly = &json["sessions"][0]["anomalies"][0];
    assert_eq!(anomaly["kind"], "conflicting-retransmission");
    assert_eq!(anomaly["direction"], "client");
    assert_eq!(anomaly["stream_offset"], 25);
    assert_eq!(anomaly["length"], 10);
    assert_eq!(anomaly["used"]["packet"], 10);
    assert_eq!(anomaly["used"]["excerpt"], "STARTTLS\\x0D\\x0A");
    assert_eq!(anomaly["used"]["timestamp"], "2024-03-01T12:00:00.090000Z");
    assert_eq!(anomaly["ignored"]["packet"], 12);
    assert_eq!(anomaly["ignored"]["excerpt"], "XXXXXXXX\\x0D\\x0A");
    assert_eq!(json["sessions"][0]["client_to_server"]["conflicts"], 1);
}

#[test]
fn lost_segment_acknowledged_by_the_peer_is_a_gap() {
    let name = "transport/smtp-lost-segment.pcap";
    let run = run(name);
    let conv = &scripted(name)[0];
    let s = run.only_session();
    let sent = conv.sent(Dir::Client);
    let message = smtp::message();
    let msg_at = sent
        .windows(message.len())
        .position(|w| w == message.as_bytes())
        .unwrap();
    // The message's second 536-byte segment is missing.
    let (hole, len) = (msg_at + 536, 536);
    assert_eq!(hole, 635);
    assert_eq!(
        s.gaps,
        vec![Gap {
            side: Side::Client,
            offset: hole as u64,
            len: len as u64,
            reason: GapReason::NotCaptured,
        }]
    );
    let expected = [&sent[..hole], &sent[hole + len..]].concat();
    assert_eq!(s.client.bytes, expected);
    assert_eq!(s.client.next, sent.len() as u64);
    assert_eq!(s.server.bytes, conv.sent(Dir::Server));
    assert_eq!(s.client.fin, Some(sent.len() as u64));
    assert_eq!(s.info.end, EndReason::Fin);
    let stats = *s.info.sides[Side::Client].stream;
    assert_eq!((stats.gaps, stats.gap_bytes), (1, 536));

    let (_, json) = report(name);
    let session = &json["sessions"][0];
    assert_eq!(session["gaps"], 1);
    assert_eq!(session["client_to_server"]["gap_bytes"], 536);
    assert_eq!(session["server_to_client"]["gap_bytes"], 0);
    assert_eq!(session["observability"][0]["kind"], "gap");
    assert_eq!(session["observability"][0]["side"], "client");
}

#[test]
fn vlan_802_1q() {
    assert_single_exact("transport/smtp-vlan.pcap", "ETHERNET", 31);
}

#[test]
fn qinq_802_1ad() {
    assert_single_exact("transport/smtp-qinq.pcap", "ETHERNET", 31);
}

#[test]
fn ipv6_with_hop_by_hop_header() {
    let run = assert_single_exact("transport/smtp-ipv6-hop-by-hop.pcap", "ETHERNET", 33);
    assert_endpoints(
        run.only_session(),
        "[2001:db8:10::10]:49159",
        "[2001:db8:25::25]:25",
    );
    assert_eq!(run.inputs[0].undecodable, 0);
}

#[test]
fn linux_sll() {
    let run = assert_single_exact("transport/imap-sll.pcap", "LINUX_SLL", 31);
    let s = run.only_session();
    assert_endpoints(s, "192.0.2.10:49160", "198.51.100.143:143");
    assert!(
        s.client
            .bytes
            .starts_with(b"a001 CAPABILITY\r\na002 STARTTLS\r\n")
    );
    assert!(s.server.bytes.starts_with(b"* OK [CAPABILITY IMAP4rev1 "));
}

#[test]
fn linux_sll2() {
    let run = assert_single_exact("transport/pop3-sll2.pcap", "LINUX_SLL2", 27);
    let s = run.only_session();
    assert_endpoints(s, "192.0.2.10:49161", "198.51.100.110:110");
    assert!(s.client.bytes.starts_with(b"CAPA\r\nSTLS\r\n\x16\x03\x01"));
    assert!(
        s.server
            .bytes
            .starts_with(b"+OK Dovecot (Debian) ready.\r\n+OK\r\nCAPA\r\n")
    );
}

#[test]
fn raw_ip() {
    let run = assert_single_exact("transport/smtp-raw-ip.pcap", "RAW", 31);
    assert_endpoints(run.only_session(), "192.0.2.10:49162", "198.51.100.25:587");
}

#[test]
fn null_loopback_ipv4_and_ipv6() {
    let name = "transport/smtp-null-loopback.pcap";
    let run = run(name);
    let convs = scripted(name);
    assert_eq!(run.sessions.len(), 2);
    assert_eq!(link_types(&run), vec![("NULL".to_string(), 65)]);
    for (s, c) in run.sessions.iter().zip(&convs) {
        assert_exact(s, c);
    }
    assert_endpoints(&run.sessions[0], "127.0.0.1:49163", "127.0.0.1:25");
    assert_endpoints(&run.sessions[1], "[::1]:49164", "[::1]:25");
    assert_eq!(
        run.sessions[1].info.first_packet.ts,
        Timestamp::new(EPOCH + 2, 0)
    );
}

#[test]
fn pcapng_two_sections_five_interfaces() {
    let name = "transport/multi-section.pcapng";
    let run = run(name);
    let convs = scripted(name);
    assert_eq!(run.inputs[0].format, "pcapng");
    assert_eq!(
        link_types(&run),
        vec![
            ("ETHERNET".to_string(), 31 + 31),
            ("LINUX_SLL".to_string(), 27),
            ("NULL".to_string(), 34),
            ("RAW".to_string(), 31),
        ]
    );
    assert_eq!(run.sessions.len(), 5, "one session per interface");
    // Sessions are numbered by first packet: SMTP and IMAP in section 0,
    // then POP3, loopback SMTP and IMAP in section 1.
    for (s, c) in run.sessions.iter().zip(&convs) {
        assert_exact(s, c);
        // Each interface's resolution (µs, ns, ms, µs by default, 100 ns)
        // keeps these start times exact.
        assert_eq!(s.info.first_packet.ts, c.start(), "session {}", s.info.id);
    }
    assert_eq!(
        run.sessions[1].info.first_packet.ts,
        Timestamp::new(EPOCH, 5_000_321)
    );
    assert_eq!(
        run.sessions[2].info.first_packet.ts,
        Timestamp::new(EPOCH + 10, 0)
    );
    let (_, json) = report(name);
    assert_eq!(
        json["sessions"][1]["first_seen"],
        "2024-03-01T12:00:00.005000321Z"
    );
    assert_eq!(json["sessions"][2]["protocol"], "pop3");
}

#[test]
fn pcapng_binary_timestamp_resolution_streams() {
    let name = "transport/pcapng-tsresol-binary.pcapng";
    let run = run(name);
    assert_exact(run.only_session(), &scripted(name)[0]);
    assert_eq!(link_types(&run), vec![("ETHERNET".to_string(), 31)]);
}

#[test]
fn pcapng_binary_timestamp_resolution_times() {
    let run = run("transport/pcapng-tsresol-binary.pcapng");
    let s = run.only_session();
    // 12:00:00.25 is an exact count of 2^-20 s units.
    assert_eq!(s.info.first_packet.ts, Timestamp::new(EPOCH, 250_000_000));
    // Packets are 10 ms apart: 30 steps later, within one 2^-20 s unit.
    let last = s.info.last_packet.ts;
    assert_eq!(last.secs, EPOCH);
    assert!(last.nanos.abs_diff(250_000_000 + 29 * 10_000_000) < 1000);
}

#[test]
fn big_endian_pcap() {
    let run = assert_single_exact("transport/smtp-big-endian.pcap", "ETHERNET", 31);
    let s = run.only_session();
    assert_eq!(s.info.first_packet.ts, Timestamp::new(EPOCH, 0));
    assert_eq!(s.info.last_packet.ts, Timestamp::new(EPOCH, 290_000_000));
}

#[test]
fn nanosecond_pcap() {
    let name = "transport/smtp-nanosecond.pcap";
    let run = assert_single_exact(name, "ETHERNET", 31);
    let s = run.only_session();
    assert_eq!(s.info.first_packet.ts, Timestamp::new(EPOCH, 123));
    // Frame 30 (the server's FIN-ACK) is 29 steps of 10000001 ns later.
    assert_eq!(s.info.last_packet.frame, 30);
    assert_eq!(
        s.info.last_packet.ts,
        Timestamp::new(EPOCH, 123 + 29 * 10_000_001)
    );
    let (_, json) = report(name);
    assert_eq!(
        json["sessions"][0]["first_seen"],
        "2024-03-01T12:00:00.000000123Z"
    );
}

#[test]
fn gzip_compressed_pcap() {
    let name = "transport/smtp.pcap.gz";
    let bytes = std::fs::read(samples_dir().join(name)).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    let run = assert_single_exact(name, "ETHERNET", 31);
    assert!(run.inputs[0].gzip);
    let (_, json) = report(name);
    assert_eq!(json["inputs"][0]["gzip"], true);
}

#[test]
fn mid_stream_pickup() {
    let name = "transport/smtp-mid-stream.pcap";
    let run = run(name);
    let conv = &scripted(name)[0];
    let s = run.only_session();
    assert_endpoints(s, "192.0.2.10:49173", "198.51.100.25:25");
    assert!(s.info.mid_stream);
    assert!(!s.info.syn_seen && !s.info.syn_ack_seen);
    assert_eq!(s.info.roles_from, stripwatch::flow::RoleBasis::MailPort);
    // The capture starts at MAIL FROM: EHLO, the greeting and the EHLO
    // reply crossed the wire unseen.
    let client = &conv.sent(Dir::Client)[smtp::EHLO.len()..];
    let server =
        &conv.sent(Dir::Server)[smtp::RELAY.greeting.len() + smtp::RELAY.ehlo_reply.len()..];
    assert!(client.starts_with(b"MAIL FROM:<alice@example.com>"));
    assert!(server.starts_with(b"250 2.1.0 Ok\r\n"));
    assert_eq!(s.client.bytes, client);
    assert_eq!(s.server.bytes, server);
    assert!(s.gaps.is_empty());
    assert_eq!(s.info.end, EndReason::Fin);
    let (_, json) = report(name);
    let session = &json["sessions"][0];
    assert_eq!(session["mid_stream"], true);
    assert_eq!(session["handshake_seen"], false);
    assert_eq!(session["roles_from"], "mail-port");
    assert_eq!(session["observability"][0]["kind"], "mid-stream");
}

#[test]
fn one_sided_capture() {
    let name = "transport/smtp-one-sided.pcap";
    let run = run(name);
    let conv = &scripted(name)[0];
    let s = run.only_session();
    assert_endpoints(s, "192.0.2.10:49174", "198.51.100.25:25");
    assert_eq!(link_types(&run), vec![("ETHERNET".to_string(), 18)]);
    assert_eq!(s.info.sides[Side::Client].packets, 18);
    assert_eq!(s.info.sides[Side::Server].packets, 0);
    assert!(s.info.syn_seen && !s.info.syn_ack_seen);
    assert_eq!(s.client.bytes, conv.sent(Dir::Client));
    assert_eq!(s.client.fin, Some(conv.sent(Dir::Client).len() as u64));
    // Nothing of the server's 266 bytes was captured; what the client
    // acknowledged becomes gaps.
    assert!(s.server.bytes.is_empty());
    assert!(s.gaps.iter().all(|g| g.side == Side::Server));
    assert!(s.gaps.iter().all(|g| g.reason == GapReason::NotCaptured));
    let server_len = conv.sent(Dir::Server).len() as u64;
    assert_eq!(server_len, 266);
    assert!(s.server.next >= server_len);
    assert_eq!(s.info.end, EndReason::EndOfCapture);
    let (_, json) = report(name);
    let notes = &json["sessions"][0]["observability"];
    assert_eq!(notes[0]["kind"], "one-sided");
    assert_eq!(notes[0]["side"], "server");
}

#[test]
fn one_sided_capture_gap_bytes_match_the_stream() {
    let name = "transport/smtp-one-sided.pcap";
    let run = run(name);
    let s = run.only_session();
    let server_len = scripted(name)[0].sent(Dir::Server).len() as u64;
    let total: u64 = s.gaps.iter().map(|g| g.len).sum();
    assert_eq!(total, server_len);
    assert_eq!(s.info.sides[Side::Server].stream.gap_bytes, server_len);
    assert_eq!(s.server.next, server_len);
}

#[test]
fn snaplen_68_keeps_14_payload_bytes_per_segment() {
    let name = "transport/smtp-snaplen-68.pcap";
    let run = run(name);
    let conv = &scripted(name)[0];
    let s = run.only_session();
    let header = std::fs::read(samples_dir().join(name)).unwrap();
    assert_eq!(
        &header[16..20],
        &68u32.to_le_bytes(),
        "snaplen in the file header"
    );
    // Ethernet 14 + IPv4 20 + TCP 20 leave 14 payload bytes per frame.
    let (mut want, mut cut, mut cut_frames) = ([Vec::new(), Vec::new()], [0u64; 2], 0);
    for p in conv.captured() {
        let payload = &p.packet.payload;
        let kept = payload.len().min(14);
        want[p.packet.from.index()].extend_from_slice(&payload[..kept]);
        cut[p.packet.from.index()] += (payload.len() - kept) as u64;
        if payload.len() > 14 {
            cut_frames += 1;
        }
    }
    assert!(s.client.bytes.starts_with(b"EHLO client.ex"));
    assert_eq!(s.client.bytes, want[0]);
    assert_eq!(s.server.bytes, want[1]);
    assert!(s.gaps.iter().all(|g| g.reason == GapReason::Snaplen));
    for (side, i) in [(Side::Client, 0), (Side::Server, 1)] {
        let st = &s.info.sides[side];
        assert_eq!(st.truncated_bytes, cut[i], "{side:?}");
        assert_eq!(st.stream.gap_bytes, cut[i], "{side:?}");
        let dir = [Dir::Client, Dir::Server][i];
        assert_eq!(s.stream(side).next, conv.sent(dir).len() as u64, "{side:?}");
    }
    assert_eq!(s.info.end, EndReason::Fin);
    assert_eq!(run.inputs[0].snaplen_truncated, cut_frames);
    let (_, json) = report(name);
    let session = &json["sessions"][0];
    assert_eq!(
        session["client_to_server"]["snaplen_truncated_bytes"],
        cut[0]
    );
    let kinds: Vec<&str> = session["observability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"snaplen"));
}

#[test]
fn sequence_numbers_wrap_past_2_32() {
    let name = "transport/smtp-seq-wraparound.pcap";
    let conv = &scripted(name)[0];
    for side in [Dir::Client, Dir::Server] {
        let end = u64::from(conv.isn(side)) + 1 + conv.sent(side).len() as u64;
        assert!(end > 1 << 32, "{side:?} wraps");
    }
    let run = assert_single_exact(name, "ETHERNET", 31);
    assert_eq!(run.only_session().info.sides[Side::Client].stream.gaps, 0);
}

#[test]
fn rotated_capture_continues_across_files() {
    let name = "transport/rotated";
    let run = run(name);
    let convs = scripted(name);
    assert_eq!(run.inputs.len(), 2);
    assert!(run.inputs[0].file.ends_with("mail-0001.pcap"));
    assert!(run.inputs[1].file.ends_with("mail-0002.pcap"));
    assert_eq!((run.inputs[0].packets, run.inputs[1].packets), (30, 29));
    assert_eq!(run.sessions.len(), 2);
    assert_exact(&run.sessions[0], &convs[0]);
    // The POP3 session is aborted with an RST: complete streams, no FIN.
    let pop = &run.sessions[1];
    assert_eq!(pop.client.bytes, convs[1].sent(Dir::Client));
    assert_eq!(pop.server.bytes, convs[1].sent(Dir::Server));
    assert!(pop.gaps.is_empty());
    assert_eq!((pop.client.fin, pop.server.fin), (None, None));
    assert_eq!(pop.info.end, EndReason::Rst);
    let smtp_s = &run.sessions[0].info;
    assert_eq!(
        (smtp_s.first_packet.input, smtp_s.first_packet.frame),
        (0, 1)
    );
    assert_eq!(
        smtp_s.last_packet.input, 1,
        "the SMTP session ends in the second file"
    );
    let pop = &run.sessions[1].info;
    assert_eq!((pop.first_packet.input, pop.last_packet.input), (1, 1));
    assert_eq!(pop.server.port, 110);

    let (_, json) = report(name);
    let session = &json["sessions"][0];
    let first = session["first_packet"]["file"].as_str().unwrap();
    let last = session["last_packet"]["file"].as_str().unwrap();
    assert!(first.ends_with("mail-0001.pcap"), "{first}");
    assert!(last.ends_with("mail-0002.pcap"), "{last}");
}

#[test]
fn truncated_file_reports_the_packets_before_the_damage() {
    let name = "transport/smtp-truncated.pcap";
    assert_eq!(gen_cut(name), 43);
    let run = run(name);
    let convs = scripted(name);
    let input = &run.inputs[0];
    assert_eq!(input.packets, 42);
    assert_eq!(input.error_packet, Some(43));
    let error = input.error.as_deref().unwrap();
    assert!(error.contains("smtp-truncated.pcap"), "{error}");
    assert!(error.contains("packet 43"), "{error}");
    assert!(error.contains("truncated"), "{error}");

    assert_eq!(run.sessions.len(), 2);
    assert_exact(&run.sessions[0], &convs[0]);
    // The second session is reported with what came before the damage.
    let s = &run.sessions[1];
    assert_endpoints(s, "192.0.2.10:49183", "198.51.100.25:25");
    assert_eq!(s.info.end, EndReason::EndOfCapture);
    assert_eq!(s.info.last_packet.frame, 42);
    assert!(!s.client.bytes.is_empty() && !s.server.bytes.is_empty());
    assert!(convs[1].sent(Dir::Client).starts_with(&s.client.bytes));
    assert!(convs[1].sent(Dir::Server).starts_with(&s.server.bytes));
    assert!(s.server.bytes.starts_with(smtp::RELAY.greeting.as_bytes()));

    let (report, json) = report(name);
    assert!(!report.inputs_complete());
    assert_eq!(report.sessions.len(), 2);
    assert_eq!(json["inputs"][0]["error_packet"], 43);
    assert_eq!(json["sessions"][0]["end"], "fin");
    assert_eq!(json["sessions"][1]["end"], "end-of-capture");
}

fn gen_cut(name: &str) -> usize {
    crate::gen_samples::find(name).cut_in_packet.unwrap()
}

#[test]
fn port_reuse_starts_a_second_session() {
    let name = "transport/smtp-port-reuse.pcap";
    let run = run(name);
    let convs = scripted(name);
    assert_eq!(run.sessions.len(), 2);
    for (s, c) in run.sessions.iter().zip(&convs) {
        assert_exact(s, c);
        assert_endpoints(s, "192.0.2.10:49184", "198.51.100.25:25");
    }
    let (one, two) = (&run.sessions[0].info, &run.sessions[1].info);
    assert_eq!((one.id, two.id), (1, 2));
    assert_eq!(two.first_packet.ts, Timestamp::new(EPOCH + 3, 0));
    assert!(one.last_packet.frame < two.first_packet.frame);
    assert_eq!(convs[1].isn(Dir::Client), 700_000);
    let (report, _) = report(name);
    assert_eq!(report.stats.sessions, 2);
}

#[test]
fn samples_match_the_generator() {
    let problems = crate::gen_samples::check(&samples_dir());
    assert!(
        problems.is_empty(),
        "samples/ drifted from examples/gen_samples (run `cargo run --example gen_samples -- samples/`):\n{}",
        problems.join("\n")
    );
}

#[test]
fn generator_is_deterministic() {
    assert_eq!(
        crate::gen_samples::render_all(),
        crate::gen_samples::render_all()
    );
}
