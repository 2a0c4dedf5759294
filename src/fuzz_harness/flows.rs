//! The flow table and everything behind it, fed coherent-looking TCP
//! traffic: a handful of clients and mail servers, SYNs, FINs, RSTs,
//! retransmissions, reordering, jumps in time, snaplen cuts, with tiny
//! limits (flows, idle timeout, reassembly buffers) so that eviction,
//! timeouts, port reuse and buffer limits are reached. The packets are
//! written as a pcap and analyzed like any capture; the report is checked
//! and rendered.
//!
//! Input: a configuration byte, a mode byte (bit 0: also analyze on two
//! worker threads and compare: the output must be the same; bit 1: no
//! tiny flow limit), then packets
//! of at least 6 bytes: endpoint byte (client, server port, direction), TCP
//! flags, sequence and ACK adjustments, a time step, then a one-byte-length
//! payload.

use super::input::Input;
use super::output::{Rendered, analyze_bytes, check_rendered, check_report_facts};
use crate::analysis::AnalysisOptions;
use crate::capture::writer::{PcapOptions, PcapWriter};
use crate::flow::{FlowConfig, ReassemblyLimits};
use crate::time::Timestamp;
use etherparse::PacketBuilder;

const SERVER_PORTS: [u16; 4] = [25, 143, 110, 587];

/// One TCP segment as bytes of an Ethernet frame.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tcp_frame(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: Option<u32>,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut tcp = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src.0, dst.0, 64)
        .tcp(src.1, dst.1, seq, 64240);
    if flags & 0x02 != 0 {
        tcp = tcp.syn();
    }
    if flags & 0x01 != 0 {
        tcp = tcp.fin();
    }
    if flags & 0x04 != 0 {
        tcp = tcp.rst();
    }
    if flags & 0x08 != 0 {
        tcp = tcp.psh();
    }
    if let Some(ack) = ack {
        tcp = tcp.ack(ack);
    }
    let mut out = Vec::with_capacity(tcp.size(payload.len()));
    tcp.write(&mut out, payload).expect("frame built");
    out
}

/// The flows fuzz target.
pub(crate) fn flows(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.u8();
    let mode = input.u8();
    let config = FlowConfig {
        max_flows: if mode & 2 != 0 {
            1_000_000
        } else {
            1 + usize::from(setup & 3)
        },
        idle_timeout_secs: 1 + i64::from((setup >> 2) & 7) * 30,
        reassembly: if setup & 0x20 != 0 {
            ReassemblyLimits {
                max_pending_bytes: 64,
                max_pending_segments: 2,
            }
        } else {
            ReassemblyLimits::default()
        },
        drop_bad_checksums: setup & 0x40 != 0,
        ..FlowConfig::default()
    };
    let options = AnalysisOptions {
        show_secrets: setup & 0x80 != 0,
    };
    let snaplen = if setup & 0x10 != 0 { 80 } else { 65535 };
    let mut writer =
        PcapWriter::with_options(Vec::new(), PcapOptions::new(1).snaplen(snaplen)).expect("pcap");
    // Next sequence number per (client, server port, direction).
    let mut next = [[[0u32; 2]; 4]; 4];
    for (c, row) in next.iter_mut().enumerate() {
        for (s, dirs) in row.iter_mut().enumerate() {
            *dirs = [
                1000 + 100_000 * c as u32 + s as u32,
                5000 + 7_000_000 * s as u32,
            ];
        }
    }
    let mut ts = Timestamp::new(1_700_000_000, 0);
    while !input.is_empty() {
        let who = input.u8();
        let flags = input.u8();
        let seq_adjust = input.u8() as i8;
        let ack_adjust = input.u8() as i8;
        let step = input.u8();
        let payload = input.chunk8();
        let (c, s, from_server) = (
            usize::from(who & 3),
            usize::from((who >> 2) & 3),
            who & 0x10 != 0,
        );
        let client = ([10, 0, 0, 1 + c as u8], 40000 + c as u16);
        let server = ([10, 0, 1, 1], SERVER_PORTS[s]);
        let (src, dst, d) = if from_server {
            (server, client, 1)
        } else {
            (client, server, 0)
        };
        let seq = next[c][s][d].wrapping_add((i32::from(seq_adjust) * 4) as u32);
        let ack = (flags & 0x10 != 0)
            .then(|| next[c][s][1 - d].wrapping_add(i32::from(ack_adjust) as u32));
        if seq_adjust == 0 {
            let len = payload.len() as u32 + u32::from(flags & 0x03 != 0);
            next[c][s][d] = next[c][s][d].wrapping_add(len);
        }
        ts = match step {
            0xff => Timestamp::new(ts.secs + 700, ts.nanos),
            0xfe => Timestamp::new(ts.secs - 1, ts.nanos),
            n => Timestamp::new(ts.secs, ts.nanos + u32::from(n) * 1_000_000),
        };
        let frame = tcp_frame(src, dst, seq, ack, flags, payload);
        writer
            .write_frame(ts, &frame, frame.len() as u32)
            .expect("frame written");
    }
    let capture = writer.into_inner().expect("pcap");
    let max_flows = config.max_flows as u64;
    let rendered = analyze_bytes(&capture, config.clone(), options, 1, false);
    let report = &rendered.report;
    check_report_facts(&rendered);
    assert!(
        report.inputs_complete(),
        "a well-formed capture reads completely"
    );
    assert!(report.stats.peak_flows <= max_flows, "the flow limit holds");
    check_rendered(&rendered);
    if mode & 1 == 1 {
        differential(&capture, config, options, &rendered);
    }
}

/// Two worker threads must report what one thread does. By design they
/// split the flow limit between them, so only runs that never filled half
/// the table are compared, and the table statistics (peak flows) are not.
fn differential(capture: &[u8], config: FlowConfig, options: AnalysisOptions, one: &Rendered) {
    if one.report.stats.peak_flows >= (config.max_flows as u64 / 2).max(1) {
        return;
    }
    let two = analyze_bytes(capture, config, options, 2, false);
    let parse = |r: &Rendered| -> serde_json::Value {
        serde_json::from_slice(&r.json).expect("the JSON output parses")
    };
    let (a, b) = (parse(one), parse(&two));
    for key in [
        "schema_version",
        "inputs",
        "sessions",
        "findings",
        "servers",
    ] {
        assert_eq!(
            a.get(key),
            b.get(key),
            "two worker threads report other {key}"
        );
    }
}
