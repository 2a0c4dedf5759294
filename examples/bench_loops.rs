//! Baseline loops for the benchmark (scripts/bench.py): what reading a
//! capture costs with nothing else, and the floor of any analyzer
//! (reading, decoding every packet's headers, one flow-table lookup per
//! TCP packet). Run beside `stripwatch analyze` on the same file.
//!
//! Usage: bench_loops read|decode FILE
//!        bench_loops peek FILE [THREADS]   (the analysis's own reading:
//!        chunks read by THREADS threads (1), every frame peeked at)
//!        bench_loops synflood N FILE   (N SYN-only flows to port 25, for
//!        measuring memory per concurrent flow)
//!        bench_loops difftaps N INSIDE OUTSIDE   (N SMTP sessions per tap
//!        seen at two taps, for `stripwatch diff`)

#[path = "bench_loops/difftaps.rs"]
mod difftaps;

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use stripwatch::capture::CaptureFile;
use stripwatch::decode;
use stripwatch::flow::{Endpoint, FlowKey};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("synflood") {
        return synflood(&args);
    }
    if args.get(1).map(String::as_str) == Some("difftaps") {
        return difftaps::main(&args);
    }
    if args.get(1).map(String::as_str) == Some("peek") {
        return peek(&args);
    }
    let (Some(mode), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: bench_loops read|decode FILE");
        return ExitCode::from(2);
    };
    let mut file = match CaptureFile::open(Path::new(path)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (mut packets, mut bytes, mut tcp) = (0u64, 0u64, 0u64);
    let mut flows: HashMap<FlowKey, u64, foldhash::fast::RandomState> = HashMap::default();
    let decode_too = mode == "decode";
    let result = file.for_each_frame(|frame| {
        packets += 1;
        bytes += frame.data.len() as u64;
        if decode_too {
            if let Ok(seg) = decode::decode(frame.link, frame.data) {
                tcp += 1;
                let key = {
                    let (src, dst) = Endpoint::of(&seg);
                    FlowKey::new(src, dst)
                };
                *flows.entry(key).or_default() += seg.payload.len() as u64;
            }
        }
        true
    });
    if let Err(e) = result {
        eprintln!("{e}");
    }
    println!(
        "packets={packets} bytes={bytes} tcp={tcp} flows={}",
        flows.len()
    );
    ExitCode::SUCCESS
}

/// The analysis's reading and peeking, without the analysis.
fn peek(args: &[String]) -> ExitCode {
    let Some(path) = args.get(2) else {
        eprintln!("usage: bench_loops peek FILE [THREADS]");
        return ExitCode::from(2);
    };
    let threads = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
    let input = stripwatch::capture::InputSpec {
        path: path.into(),
        name: path.clone(),
        stream: false,
    };
    let (packets, mail) = stripwatch::parallel::read_and_peek(&input, threads);
    println!("packets={packets} mail={mail}");
    ExitCode::SUCCESS
}

/// Writes N SYN packets, each opening its own flow, all in one second (so
/// none times out): the flow table holds N idle flows at the end.
fn synflood(args: &[String]) -> ExitCode {
    use stripwatch::capture::writer::PcapWriter;
    use stripwatch::time::Timestamp;
    let (Some(n), Some(path)) = (args.get(2).and_then(|n| n.parse::<u32>().ok()), args.get(3))
    else {
        eprintln!("usage: bench_loops synflood N FILE");
        return ExitCode::from(2);
    };
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut w = PcapWriter::new(file, 1).expect("pcap header");
    let mut frame = Vec::with_capacity(64);
    for i in 0..n {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let port = 1024 + (i % 60000) as u16;
        frame.clear();
        etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(src, [198, 51, 100, 1], 64)
            .tcp(port, 25, i.wrapping_mul(2_654_435_761), 64240)
            .syn()
            .write(&mut frame, &[])
            .expect("frame");
        let ts = Timestamp::new(1_700_000_000, i % 1_000_000_000);
        w.write_frame(ts, &frame, frame.len() as u32)
            .expect("write");
    }
    w.flush().expect("flush");
    ExitCode::SUCCESS
}
