//! Hostile traffic: everything stripwatch reads may be written by the
//! attacker it hunts. Each test builds a capture where an attack sits beside
//! a good session (STARTTLS offered, used, TLS established) and asserts a
//! bounded outcome (the run ends; the heap it takes at its peak stays far
//! below the hostile input's size, or the limit that bounds it is counted
//! in the report) and that the good session is still judged right.
//!
//! Heap is measured per thread by a counting global allocator
//! (`adversarial_support::Counting`, the binary's allocator), around the
//! in-process analysis.

use crate::adversarial_support::*;
use crate::gen_samples;
use crate::gen_samples::dialogs::smtp::{EHLO, MX, READY_FOR_TLS, STARTTLS};
use stripwatch::analysis::Report;
use stripwatch::flow::FlowConfig;

/// The peak heap of the analysis of the good session alone (the capture
/// reader's buffers, mostly): what every run needs whatever its input.
fn baseline() -> usize {
    static BASELINE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BASELINE.get_or_init(|| {
        let file = TempFile::new("baseline.pcap", &capture(&[]).pcap());
        let (report, heap) = analyze(&file, FlowConfig::default());
        assert_good(&report);
        heap
    })
}

/// A capture of the good session and `others`.
fn capture(others: &[Conversation]) -> Capture {
    let mut cap = Capture::default();
    cap.conversation(&good_session(0));
    for c in others {
        cap.conversation(c);
    }
    cap
}

// ----- retransmissions that disagree -----

#[test]
fn conflicting_retransmission_keeps_the_first_seen_starttls() {
    // Client side: STARTTLS retransmitted as XXXXXXXX (what a tampering
    // middlebox writes): the first-seen STARTTLS stands.
    let mut a = smtp_greeted("192.0.2.21:40001", 5);
    let cmd = a.client_sends(STARTTLS);
    a.retransmit_with(cmd.first(), "XXXXXXXX\r\n");
    a.server_sends(READY_FOR_TLS);
    gen_samples::tls::session(&mut a, "mail.example.org", 3, 1);
    a.close(Client);
    // Server side: the EHLO reply retransmitted with 250-XXXXXXXA in place
    // of 250-STARTTLS (the Cisco ASA's mask): the first-seen offer stands.
    let mut b = conversation("192.0.2.22:40002", 10);
    b.handshake();
    b.server_sends(MX.greeting);
    b.client_sends(EHLO);
    let reply = b.server_sends(MX.ehlo_reply);
    b.retransmit_with(
        reply.first(),
        MX.ehlo_reply.replace("250-STARTTLS", "250-XXXXXXXA"),
    );
    b.client_sends(STARTTLS);
    b.server_sends(READY_FOR_TLS);
    gen_samples::tls::session(&mut b, "mail.example.org", 4, 1);
    b.close(Client);
    let file = TempFile::new("conflict.pcap", &capture(&[a, b]).pcap());
    let (report, _) = analyze(&file, FlowConfig::default());
    assert_good(&report);

    for (client, side, used, ignored) in [
        ("192.0.2.21:40001", "client", "STARTTLS", "XXXXXXXX"),
        ("192.0.2.22:40002", "server", "250-STARTTLS", "250-XXXXXXXA"),
    ] {
        let s = session(&report, client);
        assert!(s.starttls.requested && s.starttls.tls_established, "{s:#?}");
        assert_eq!(s.starttls.offered, Some(true));
        assert!(s.findings.is_empty(), "{client}: {:?}", kinds(s));
        let [anomaly] = &s.anomalies[..] else {
            panic!("{client}: one anomaly: {:#?}", s.anomalies);
        };
        assert_eq!(anomaly.kind, "conflicting-retransmission");
        assert_eq!(format!("{:?}", anomaly.direction).to_lowercase(), side);
        assert!(anomaly.used.excerpt.contains(used), "{anomaly:#?}");
        assert!(anomaly.ignored.excerpt.contains(ignored), "{anomaly:#?}");
        assert!(anomaly.used.location.packet < anomaly.ignored.location.packet);
    }
    // Both versions reach the JSON report.
    let (status, out, err) = run_binary(&file, &["--format", "json"]);
    assert_eq!(status, 0, "{err}");
    let text = String::from_utf8(out).unwrap();
    for v in ["XXXXXXXX", "XXXXXXXA", "conflicting-retransmission"] {
        assert!(text.contains(v), "{v} in the JSON report");
    }
}

// ----- floods of lines -----

#[test]
fn hundred_thousand_capability_lines() {
    let mut c = conversation("192.0.2.31:40001", 5);
    c.handshake();
    c.server_sends(MX.greeting);
    c.client_sends(EHLO);
    let mut reply = String::from("250-mail.example.org\r\n");
    for i in 0..100_000 {
        reply.push_str(&format!("250-X-EXTENSION-{i:06}-{}\r\n", "P".repeat(40)));
    }
    reply.push_str("250 STARTTLS\r\n");
    let size = reply.len();
    c.server_sends(&reply);
    c.client_sends(STARTTLS);
    c.server_sends(READY_FOR_TLS);
    gen_samples::tls::session(&mut c, "mail.example.org", 5, 1);
    c.close(Client);
    let file = TempFile::new("capabilities.pcap", &capture(&[c]).pcap());
    let (report, heap) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    let s = session(&report, "192.0.2.31:40001");
    assert_eq!(s.starttls.offered, Some(true), "STARTTLS after 100k lines");
    assert!(s.starttls.tls_established);
    assert!(
        heap < baseline() + MB / 2,
        "peak heap {heap} for a {size}-byte reply"
    );
}

#[test]
fn hundred_thousand_pipelined_commands() {
    pipelined_commands(100_000);
}

/// The full size; `cargo test --release --test integration
/// full_size_ -- --ignored` (tens of seconds in a debug build).
#[test]
#[ignore = "full size (1M commands): run in release with --ignored"]
fn full_size_million_pipelined_commands() {
    pipelined_commands(1_000_000);
}

fn pipelined_commands(n: usize) {
    let mut smtp = smtp_greeted("192.0.2.32:40001", 5);
    smtp.client_sends("NOOP\r\n".repeat(n));
    smtp.server_sends("250 2.0.0 Ok\r\n".repeat(n));
    smtp.client_sends("QUIT\r\n");
    smtp.server_sends("221 2.0.0 Bye\r\n");
    smtp.close(Client);
    let mut imap = Conversation::new("192.0.2.33:40001", "198.51.100.26:143").starts_at(6, 0);
    imap.handshake();
    imap.server_sends("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
    let commands: String = (0..n).map(|i| format!("a{i} NOOP\r\n")).collect();
    let size = commands.len();
    imap.client_sends(&commands);
    let answers: String = (0..n).map(|i| format!("a{i} OK done\r\n")).collect();
    imap.server_sends(&answers);
    imap.close(Client);
    let file = TempFile::new("pipelined.pcap", &capture(&[smtp, imap]).pcap());
    let (report, heap) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    for (client, protocol) in [("192.0.2.32:40001", "smtp"), ("192.0.2.33:40001", "imap")] {
        let s = session(&report, client);
        assert_eq!(s.protocol, protocol);
        assert!(
            s.dialog_anomalies.len() <= 64,
            "{:?}",
            s.dialog_anomalies.len()
        );
    }
    assert!(
        heap < baseline() + MB / 2,
        "peak heap {heap} for {size} bytes of commands"
    );
}

#[test]
fn twenty_megabyte_line_without_crlf() {
    // 20 MB: above every buffer of the pipeline (line 8 KiB, out-of-order
    // 4 MiB, cross-direction wait 1 MiB, capture reader 1-16 MiB).
    line_without_crlf(20 << 20);
}

/// The full size; run with `--ignored`.
#[test]
#[ignore = "full size (100 MB line): run in release with --ignored"]
fn full_size_hundred_megabyte_line_without_crlf() {
    line_without_crlf(100 << 20);
}

fn line_without_crlf(size: usize) {
    let mut c = smtp_greeted("192.0.2.34:40001", 5).mss(8960);
    let mut line = b"MAIL FROM:<".to_vec();
    line.resize(size, b'A');
    c.client_sends(&line);
    c.client_sends(">\r\nQUIT\r\n");
    c.server_sends("500 5.5.2 Error: line too long\r\n221 2.0.0 Bye\r\n");
    c.close(Client);
    let file = TempFile::new("long-line.pcap", &capture(&[c]).pcap());
    let (report, heap) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    let s = session(&report, "192.0.2.34:40001");
    assert!(s.dialog.long_lines.client >= 1, "{:?}", s.dialog);
    assert_eq!(s.transport.client_to_server.gaps, 0);
    assert!(
        heap < baseline() + MB / 2,
        "peak heap {heap} for a {size}-byte line"
    );
}

// ----- the transport -----

#[test]
fn out_of_order_flood_that_never_fills_its_hole() {
    let c = smtp_greeted("192.0.2.35:40001", 5);
    let (client, server) = (c.client, c.server);
    let (seq, ack) = (next_seq(&c, Client), next_seq(&c, Server));
    let mut cap = capture(&[]);
    let mut ts = last_ts(&c);
    cap.conversation(&c);
    // 100k segments of 64 bytes, all beyond the one byte never sent.
    let payload = [b'Z'; 64];
    for i in 0..100_000u32 {
        ts = after(ts, 10_000);
        let frame = tcp_frame(client, server, seq + 1 + i * 64, Some(ack), 0, &payload);
        let len = frame.len() as u32;
        cap.frame(ts, frame, len);
    }
    let rst = tcp_frame(client, server, seq + 1 + 100_000 * 64, Some(ack), 0x04, b"");
    let len = rst.len() as u32;
    cap.frame(after(ts, 10_000), rst, len);
    let file = TempFile::new("out-of-order.pcap", &cap.pcap());
    let (report, heap) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    let s = session(&report, "192.0.2.35:40001");
    let dir = &s.transport.client_to_server;
    assert!(
        dir.gaps >= 1 && dir.out_of_order_segments >= 4096,
        "{dir:#?}"
    );
    // The out-of-order limits (4 MiB, 4096 segments) hold.
    assert!(
        heap < baseline() + 5 * MB,
        "peak heap {heap} for 6.4 MB never in order"
    );
}

// ----- one memory budget across all flows -----

/// `flows` clients around the good session, each sending `per_flow` bytes
/// in 1,400-byte segments, round-robin (every flow holds data at once),
/// all behind a one-byte hole that is never filled when `hole`.
fn held_data_flood(flows: u32, per_flow: usize, hole: bool) -> Capture {
    const SEGMENT: usize = 1400;
    let good = good_session(0);
    let rounds = per_flow.div_ceil(SEGMENT);
    // Spread over the good session's life, so it runs while flows give up.
    let (start, end) = (good.start(), last_ts(&good));
    let span = (end.secs - start.secs) as u64 * 1_000_000_000 + u64::from(end.nanos)
        - u64::from(start.nanos);
    let step = (span / (u64::from(flows) * (rounds as u64 + 1))).max(1);
    let server: std::net::SocketAddr = SERVER.parse().unwrap();
    let client = |i: u32| std::net::SocketAddr::from(([10, 9, (i >> 8) as u8, i as u8], 40000));
    let isn = |i: u32| i.wrapping_mul(0x9e37_79b9);
    let mut cap = Capture::default();
    cap.conversation(&good);
    let mut ts = good.start();
    let payload = [b'H'; SEGMENT];
    for i in 0..flows {
        ts = after(ts, step);
        let syn = tcp_frame(client(i), server, isn(i), None, 0x02, b"");
        let len = syn.len() as u32;
        cap.frame(ts, syn, len);
    }
    // Data begins right after the SYN, or one byte later: a hole.
    let first = if hole { 2 } else { 1 };
    for round in 0..rounds {
        for i in 0..flows {
            ts = after(ts, step);
            let seq = isn(i)
                .wrapping_add(first)
                .wrapping_add((round * SEGMENT) as u32);
            let frame = tcp_frame(client(i), server, seq, None, 0, &payload);
            let len = frame.len() as u32;
            cap.frame(ts, frame, len);
        }
    }
    cap
}

/// The analysis with `--max-buffered-mb budget_mb`, as the CLI sets it.
fn with_budget(file: &TempFile, budget_mb: usize) -> (Report, usize) {
    // As `--max-buffered-mb budget_mb` sets it (the binary's unit tests
    // check the flag's mapping).
    let config = FlowConfig {
        max_buffered_bytes: budget_mb * MB,
        ..FlowConfig::default()
    };
    assert_eq!(config.max_buffered_bytes, budget_mb * MB);
    analyze(file, config)
}

/// Thousands of flows each holding data behind a hole: unbounded, they
/// would hold `flows * per_flow` bytes. With the budget the heap stays
/// within the budget (and 1 MiB) of the same flows sent in order, every
/// flow gives its hole up once (it is the oldest holder in turn, then
/// streams in order), each such gap is counted in its session and in the
/// run, and the good session beside them is judged right.
fn flows_holding_data_stay_within_the_budget(flows: u32, per_flow: usize, budget_mb: usize) {
    let in_order = TempFile::new(
        &format!("in-order-{flows}.pcap"),
        &held_data_flood(flows, per_flow, false).pcap(),
    );
    let (report, in_order_heap) = timed(|| with_budget(&in_order, budget_mb));
    assert_good(&report);
    assert_eq!(report.stats.memory_budget_gaps, 0, "{:?}", report.stats);
    drop((report, in_order));

    let holes = TempFile::new(
        &format!("holes-{flows}.pcap"),
        &held_data_flood(flows, per_flow, true).pcap(),
    );
    let (report, heap) = timed(|| with_budget(&holes, budget_mb));
    assert_good(&report);
    // Flows give up in turn until what the rest hold fits the budget.
    let fitting = (budget_mb * MB / per_flow) as u64;
    let given_up = report.stats.memory_budget_gaps;
    assert!(
        given_up >= u64::from(flows).saturating_sub(fitting) && given_up <= u64::from(flows),
        "{:?}",
        report.stats
    );
    let flood: Vec<_> = report
        .sessions
        .iter()
        .filter(|s| s.client.to_string() != GOOD_CLIENT)
        .collect();
    assert_eq!(flood.len(), flows as usize);
    let mut noted = 0;
    for s in &flood {
        let dir = &s.transport.client_to_server;
        assert_eq!((dir.gaps, dir.gap_bytes), (1, 1), "{}: {dir:?}", s.client);
        assert!(dir.stream_bytes >= per_flow as u64, "{}: {dir:?}", s.client);
        let gap = s.observability.iter().find(|o| o.kind == "gap");
        let gap = gap.unwrap_or_else(|| panic!("{}: {:?}", s.client, s.observability));
        if gap
            .detail
            .contains("1 of them given up to the memory budget")
        {
            noted += 1;
        }
    }
    assert_eq!(noted, given_up, "each gap given up is noted in its session");
    let unbounded = flows as usize * per_flow;
    eprintln!("peak heap {heap}, in order {in_order_heap}, budget {budget_mb} MiB");
    assert!(
        heap < in_order_heap + budget_mb * MB + MB,
        "peak heap {heap} with --max-buffered-mb {budget_mb} for {unbounded} bytes behind holes \
         (in order: {in_order_heap})"
    );
}

#[test]
fn thousand_flows_holding_data_stay_within_the_budget() {
    // 33 MB behind holes, 4 MiB of budget.
    flows_holding_data_stay_within_the_budget(1000, 32 << 10, 4);
}

/// The size: 4,000 flows of 256 KiB (1 GiB behind holes) and
/// `--max-buffered-mb 64`; run with `cargo test --release --test
/// integration full_size_ -- --ignored`.
#[test]
#[ignore = "full size (1 GiB capture): run in release with --ignored"]
fn full_size_four_thousand_flows_holding_a_gigabyte_stay_within_the_budget() {
    flows_holding_data_stay_within_the_budget(4000, 256 << 10, 64);
}

/// 100k SYN-only flows around the good session, with `--max-flows 1000`,
/// `per_sec` of them per second of capture time.
fn syn_flood(per_sec: u32) -> Streamed {
    // As `--max-flows 1000` sets it.
    let config = FlowConfig {
        max_flows: 1000,
        ..FlowConfig::default()
    };
    assert_eq!(config.max_flows, 1000);
    const FLOWS: u32 = 100_000;
    let step = 1_000_000_000 / u64::from(per_sec);
    let flood_secs = (u64::from(FLOWS) * step / 1_000_000_000) as i64;
    // The good session in the middle of the flood.
    let good = good_session(flood_secs / 2);
    let server: std::net::SocketAddr = SERVER.parse().unwrap();
    let mut cap = Capture::default();
    let start = stripwatch::time::Timestamp::new(good.start().secs - flood_secs / 2, 0);
    for i in 0..FLOWS {
        let ip = [10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let client = std::net::SocketAddr::from((ip, 50000));
        let ts = after(start, u64::from(i) * step);
        let frame = tcp_frame(client, server, i.wrapping_mul(7919), None, 0x02, b"");
        let len = frame.len() as u32;
        cap.frame(ts, frame, len);
    }
    cap.conversation(&good);
    let file = TempFile::new(&format!("syn-flood-{per_sec}.pcap"), &cap.pcap());
    let run = timed(|| analyze_streaming(&file, config, GOOD_CLIENT));
    assert!(run.stats.evicted >= 99_000, "{:?}", run.stats);
    assert!(run.stats.peak_flows <= 1000, "{:?}", run.stats);
    assert!(
        run.heap < baseline() + 4 * MB,
        "peak heap {} for 100k flows",
        run.heap
    );
    run
}

fn assert_one_good(run: &Streamed) {
    assert_eq!(run.sessions, 100_001, "100k SYN flows and the good session");
    let [good] = &run.kept[..] else {
        let ends: Vec<_> = run.kept.iter().map(|s| (s.id, s.transport.end)).collect();
        panic!(
            "the good session is split in {} records: {ends:?}",
            run.kept.len()
        );
    };
    assert_good_record(good);
}

#[test]
fn syn_flood_evicts_idle_flows_but_not_the_good_session() {
    // 500 new flows a second: each second's flows fit in the table.
    assert_one_good(&syn_flood(500));
}

/// More than `--max-flows` flows start within one second: eviction still
/// picks the longest idle flow to the nanosecond, so the good session,
/// active every 10 ms, is never the one evicted (it was when deadlines
/// counted whole seconds, and came out as a string of mid-stream
/// fragments).
#[test]
fn syn_flood_within_a_second_does_not_evict_an_active_session() {
    assert_one_good(&syn_flood(33_000));
}

/// Ended sessions are forgotten after their linger time (30 s), not after
/// what was left of the idle timeout (600 s): a tap seeing a session a
/// second holds about thirty ended flows, not six hundred.
#[test]
fn ended_sessions_are_forgotten_after_their_linger_time() {
    let mut cap = capture(&[]);
    const SESSIONS: u32 = 2000;
    for i in 0..SESSIONS {
        let client = format!("10.7.{}.{}:40001", i / 250, i % 250 + 1);
        let mut c = smtp_greeted(&client, 10 + i64::from(i));
        c.client_sends("QUIT\r\n");
        c.server_sends("221 2.0.0 Bye\r\n");
        c.close(Client);
        cap.conversation(&c);
    }
    let file = TempFile::new("linger.pcap", &cap.pcap());
    let config = FlowConfig::default();
    assert_eq!(
        (config.closed_linger_secs, config.idle_timeout_secs),
        (30, 600)
    );
    let run = timed(|| analyze_streaming(&file, config, GOOD_CLIENT));
    assert_eq!(run.sessions, u64::from(SESSIONS) + 1, "{:?}", run.stats);
    assert_eq!(run.stats.timed_out, 0, "{:?}", run.stats);
    assert!(run.stats.peak_flows <= 33, "{:?}", run.stats);
    let [good] = &run.kept[..] else {
        panic!("{} records of the good session", run.kept.len());
    };
    assert_good_record(good);
}

#[test]
fn snaplen_truncated_packets() {
    let mut cut = Capture::default();
    let mut c = smtp_greeted("192.0.2.36:40001", 5);
    c.client_sends("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    c.server_sends("235 2.7.0 Authentication successful\r\n");
    c.close(Client);
    cut.conversation(&c);
    let mut cap = capture(&[]);
    // Every frame of the session cut short: some inside the payload, some
    // inside the TCP header, the IP header, the Ethernet header.
    for (i, (ts, data, len)) in cut.frames().iter().enumerate() {
        let keep = [60, 54, 40, 34, 20, 14, 3, 0][i % 8].min(data.len());
        cap.frame(*ts, data[..keep].to_vec(), *len);
    }
    let file = TempFile::new("snaplen.pcap", &cap.pcap());
    let (report, _) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    assert!(report.inputs_complete());
    assert!(report.inputs[0].snaplen_truncated > 0);
    let (status, _, err) = run_binary(&file, &["--format", "json"]);
    assert!(
        matches!(status, 0..=2) && !err.contains("panicked"),
        "{status} {err}"
    );
}

/// A FIN whose sequence number lies behind the stream (here before its
/// start) is ignored: were it taken, it would end the client's stream and
/// drop everything the client sends after it, STARTTLS included; one
/// spoofed packet would blind the analyzer.
#[test]
fn spoofed_fin_behind_the_stream_does_not_end_it() {
    let mut c = smtp_greeted("192.0.2.37:40001", 5);
    let (client, server) = (c.client, c.server);
    let spoof_at = after(last_ts(&c), 5_000_000);
    let ack = next_seq(&c, Server);
    c.client_sends(STARTTLS);
    c.server_sends(READY_FOR_TLS);
    gen_samples::tls::session(&mut c, "mail.example.org", 6, 1);
    c.close(Client);
    let mut cap = capture(&[c]);
    let spoof = tcp_frame(
        client,
        server,
        1000u32.wrapping_sub(5000),
        Some(ack),
        0x01,
        b"",
    );
    let len = spoof.len() as u32;
    cap.frame(spoof_at, spoof, len);
    let file = TempFile::new("spoofed-fin.pcap", &cap.pcap());
    let (report, _) = analyze(&file, FlowConfig::default());
    assert_good(&report);
    let s = session(&report, "192.0.2.37:40001");
    assert!(s.starttls.requested && s.starttls.tls_established, "{s:#?}");
}

// ----- what the dialog claims -----

#[test]
fn imap_literals_claiming_gigabytes() {
    let server = "198.51.100.26:143";
    // The client announces a 4 GiB literal as its LOGIN username.
    let mut a = Conversation::new("192.0.2.41:40001", server).starts_at(5, 0);
    a.handshake();
    a.server_sends("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
    a.client_sends("a1 LOGIN {4294967296}\r\n");
    a.server_sends("+ Ready for literal data\r\n");
    a.client_sends("alice secret\r\na2 LOGOUT\r\n");
    a.server_sends("* BYE\r\na2 OK\r\n");
    a.close(Client);
    // The server announces a 4 GiB message body, then one of 2^64 - 1
    // bytes, then a length that does not fit 64 bits.
    let mut b = Conversation::new("192.0.2.42:40001", server).starts_at(6, 0);
    b.handshake();
    b.server_sends("* OK ready\r\n");
    b.client_sends("a1 LOGIN alice secret\r\n");
    b.server_sends("a1 OK\r\n");
    b.client_sends("a2 FETCH 1 BODY[]\r\n");
    b.server_sends("* 1 FETCH (BODY[] {4294967295}\r\nFrom: x\r\n\r\nshort)\r\na2 OK\r\n");
    b.client_sends("a3 FETCH 2 BODY[]\r\n");
    b.server_sends("* 2 FETCH (BODY[] {18446744073709551615}\r\nx)\r\n");
    b.server_sends("* 3 FETCH (BODY[] {99999999999999999999999999}\r\nx)\r\na3 OK\r\n");
    b.close(Client);
    let file = TempFile::new("literals.pcap", &capture(&[a, b]).pcap());
    let (report, heap) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    for client in ["192.0.2.41:40001", "192.0.2.42:40001"] {
        let s = session(&report, client);
        assert_eq!(s.protocol, "imap");
        assert_eq!(s.transport.end, stripwatch::flow::EndReason::Fin);
    }
    // The credential sent in the clear before the huge literal is reported.
    let b = session(&report, "192.0.2.42:40001");
    assert!(
        kinds(b).contains(&"cleartext-credentials"),
        "{:?}",
        kinds(b)
    );
    assert!(heap < baseline() + MB / 2, "peak heap {heap}");
}

#[test]
fn base64_garbage_in_auth() {
    let mut c = conversation("192.0.2.43:40001", 5);
    c.handshake();
    c.server_sends(gen_samples::dialogs::smtp::RELAY.greeting);
    c.client_sends(EHLO);
    c.server_sends("250-relay.example.org\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n");
    // Not base64 at all, far over every limit.
    c.client_sends(format!("AUTH PLAIN {}\r\n", "!@#$%^&*".repeat(4000)));
    c.server_sends("501 5.5.2 Cannot decode response\r\n");
    // Base64 alphabet, impossible padding and lengths.
    c.client_sends("AUTH PLAIN A===\r\n");
    c.server_sends("501 5.5.2 Cannot decode response\r\n");
    c.client_sends("AUTH PLAIN QUJD=RA==\r\n");
    c.server_sends("501 5.5.2 Cannot decode response\r\n");
    // Valid base64 of binary junk with no PLAIN structure.
    c.client_sends("AUTH PLAIN //79/Pv6+fj39g==\r\n");
    c.server_sends("535 5.7.8 Authentication failed\r\n");
    // LOGIN and CRAM-MD5 with garbage challenges and answers.
    c.client_sends("AUTH LOGIN\r\n");
    c.server_sends("334 %%%%garbage%%%%\r\n");
    c.client_sends(format!("{}\r\n", "=".repeat(3000)));
    c.server_sends("334 \u{1b}[2J\r\n");
    c.client_sends("*\r\n");
    c.server_sends("501 5.7.0 Authentication aborted\r\n");
    c.client_sends("AUTH CRAM-MD5\r\n");
    c.server_sends(format!("334 {}\r\n", "#".repeat(30_000)));
    c.client_sends("not base64 either\r\n");
    c.server_sends("535 5.7.8 Authentication failed\r\n");
    c.client_sends("QUIT\r\n");
    c.close(Client);
    let file = TempFile::new("base64.pcap", &capture(&[c]).pcap());
    let (report, heap) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    let s = session(&report, "192.0.2.43:40001");
    assert_eq!(s.protocol, "smtp");
    // Nothing is guessed from garbage: no credential, so no finding about
    // one.
    assert!(s.credentials.is_empty(), "{:#?}", s.credentials);
    assert!(
        !kinds(s).contains(&"cleartext-credentials"),
        "{:?}",
        kinds(s)
    );
    assert!(heap < baseline() + MB / 2, "peak heap {heap}");
}

// ----- hostile bytes and the outputs -----

#[test]
fn hostile_bytes_in_usernames_and_banners_stay_escaped() {
    use base64::Engine as _;
    let user = "ev\u{1b}[31mil\r\n{\"type\":\"session\",\"forged\":true}\n\u{202e}\u{7f}";
    let mut plain = b"\0".to_vec();
    plain.extend_from_slice(user.as_bytes());
    plain.extend_from_slice(b"\xff\0pw\x1b[2J\n");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&plain);
    let mut smtp = conversation("192.0.2.51:40001", 5);
    smtp.handshake();
    smtp.server_sends(
        b"220 \x1b[2J\x1b]0;pwned\x07mail\x00\x7f \xe2\x80\xae exe.gnp \xff\xfe\rforged\r\n",
    );
    smtp.client_sends("EHLO \u{1b}[31mred\u{1b}[0m\u{85}\r\n");
    smtp.server_sends("250-mail\r\n250 AUTH PLAIN\r\n");
    smtp.client_sends(format!("AUTH PLAIN {b64}\r\n"));
    smtp.server_sends("235 2.7.0 ok\r\n");
    smtp.close(Client);
    let mut pop = Conversation::new("192.0.2.52:40001", "198.51.100.27:110").starts_at(6, 0);
    pop.handshake();
    pop.server_sends(b"+OK \x1b]52;c;Zm9v\x07 hi \xc2\x85 <1.2@h>\r\n");
    pop.client_sends(b"USER a\x1b[2Jb\x00c\x7fd\xe2\x80\xaee\xff\rX\"}\r\n");
    pop.server_sends("+OK\r\n");
    pop.client_sends(b"PASS p\x1b[5m\x00\r\n");
    pop.server_sends("+OK\r\n");
    pop.close(Client);
    let mut imap = Conversation::new("192.0.2.53:40001", "198.51.100.28:143").starts_at(7, 0);
    imap.handshake();
    imap.server_sends(b"* OK \x1b[?1049h\xe2\x81\xa6ready\r\n");
    imap.client_sends(b"a1 LOGIN \"\x1b[2Jbob\xe2\x80\xae\" s\x7fcret\r\n");
    imap.server_sends("a1 OK\r\n");
    imap.close(Client);
    let file = TempFile::new("hostile.pcap", &capture(&[smtp, pop, imap]).pcap());

    for args in [
        &["--format", "json"][..],
        &["--format", "json", "--show-secrets"],
        &["--format", "jsonl"],
        &["--format", "jsonl", "--show-secrets"],
        &["--format", "table", "--all"],
        &["--format", "table", "--all", "--show-secrets"],
    ] {
        let (status, out, err) = run_binary(&file, args);
        assert!(matches!(status, 0..=2), "{args:?}: status {status}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_printable(&format!("{args:?} stderr"), err.as_bytes());
        assert_printable(&format!("{args:?} stdout"), &out);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7f}'));
        match args[1] {
            "json" => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let sessions = v["sessions"].as_array().unwrap();
                assert_eq!(sessions.len(), 4, "{args:?}");
                let smtp = sessions
                    .iter()
                    .find(|s| s["client"] == "192.0.2.51:40001")
                    .unwrap();
                let name = smtp["credentials"][0]["username"].as_str().unwrap();
                assert!(name.starts_with("ev\\x1B[31mil\\x0D\\x0A{"), "{name}");
                assert!(name.contains("\\xE2\\x80\\xAE\\x7F\\xFF"), "{name}");
            }
            "jsonl" => {
                let mut sessions = 0;
                for line in text.lines() {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("{e}: a forged line? {line}"));
                    let kind = v["type"].as_str().unwrap();
                    assert!(
                        [
                            "session",
                            "finding",
                            "input",
                            "server",
                            "summary",
                            "server_observation"
                        ]
                        .contains(&kind),
                        "{line}"
                    );
                    assert!(v.get("forged").is_none(), "forged line: {line}");
                    sessions += usize::from(kind == "session");
                }
                assert_eq!(sessions, 4);
            }
            _ => assert!(text.contains("\\x1B"), "escaped bytes in the table"),
        }
    }
}

// ----- damaged capture files -----

#[test]
fn capture_headers_mutated_at_every_offset() {
    let cap = capture(&[]);
    let mut runs = 0;
    for (kind, original) in [("pcap", cap.pcap()), ("pcapng", cap.pcapng())] {
        for at in damage::header_ranges(&original) {
            let b = original[at];
            let mut values = vec![0x00, 0xff, b ^ 0x01, b ^ 0x80, b.wrapping_add(1)];
            values.retain(|v| *v != b);
            values.dedup();
            for v in values {
                let mut bytes = original.clone();
                bytes[at] = v;
                let what = format!("{kind} byte {at} = {v:#04x}");
                let file = TempFile::new(&format!("mutated-{kind}-{at}-{v}"), &bytes);
                damage::check_in_process(&file, &what);
                if v == 0xff || v == b ^ 0x80 {
                    damage::check_binary(&file, &what);
                }
                runs += 1;
            }
        }
    }
    assert!(runs > 400, "{runs} mutations");
}

/// A pcapng file of 2 million Interface Description Blocks (40 MB) keeps
/// only the first `MAX_INTERFACES` of them (each used to be kept: 48 MB of
/// heap).
#[test]
fn pcapng_interface_flood_is_bounded() {
    let good = capture(&[]).pcapng();
    // The section header and the good session's interface, then 2 million
    // more interfaces, then the good session's packets.
    let shb = u32::from_le_bytes(good[4..8].try_into().unwrap()) as usize;
    let idb = u32::from_le_bytes(good[shb + 4..shb + 8].try_into().unwrap()) as usize;
    let mut flood = good[..shb + idb].to_vec();
    let extra: Vec<u8> = [1u32, 20, 1, 65535, 20]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    for _ in 0..2_000_000 {
        flood.extend_from_slice(&extra);
    }
    flood.extend_from_slice(&good[shb + idb..]);
    let file = TempFile::new("interfaces.pcapng", &flood);
    let (report, heap) = timed(|| analyze(&file, FlowConfig::default()));
    assert_good(&report);
    assert!(
        heap < baseline() + 4 * MB,
        "peak heap {heap} for 40 MB of interfaces"
    );
}
