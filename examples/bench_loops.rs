//! Baseline loops for the benchmark (scripts/bench.py): what reading a
//! capture costs with nothing else, and the floor of any analyzer
//! (reading, decoding every packet's headers, one flow-table lookup per
//! TCP packet). Run beside `stripwatch analyze` on the same file.
//!
//! Usage: bench_loops read|decode FILE

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use stripwatch::capture::CaptureFile;
use stripwatch::decode;
use stripwatch::flow::{Endpoint, FlowKey};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
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
                let key = FlowKey::new(
                    Endpoint {
                        ip: seg.src,
                        port: seg.src_port,
                    },
                    Endpoint {
                        ip: seg.dst,
                        port: seg.dst_port,
                    },
                );
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
