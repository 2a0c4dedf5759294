//! Capture file formats: classic pcap (through the library's `PcapWriter`),
//! pcapng (written here: section header, interface description and
//! enhanced packet blocks) and gzip.

use super::packet::Link;
use std::io::Write;
use stripwatch::capture::writer::{PcapOptions, PcapWriter};
use stripwatch::time::Timestamp;

/// One frame of a sample, ready to be written.
#[derive(Clone, Debug)]
pub struct Frame {
    pub ts: Timestamp,
    /// pcapng section and interface (0 for pcap).
    pub section: usize,
    pub interface: usize,
    pub data: Vec<u8>,
}

/// The container a sample is written in.
#[derive(Clone, Debug)]
pub enum Format {
    /// Classic pcap with the sample's link type.
    Pcap { big_endian: bool, nanos: bool },
    /// pcapng with these sections; each conversation names its section and
    /// interface.
    PcapNg(Vec<NgSection>),
}

impl Format {
    pub fn pcap() -> Format {
        Format::Pcap {
            big_endian: false,
            nanos: false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Format::Pcap { big_endian, nanos } => format!(
                "pcap ({}, {})",
                if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                },
                if *nanos { "ns" } else { "µs" }
            ),
            Format::PcapNg(sections) => {
                let ifaces: Vec<String> = sections
                    .iter()
                    .enumerate()
                    .flat_map(|(s, sec)| {
                        sec.interfaces.iter().enumerate().map(move |(i, iface)| {
                            format!("{s}.{i}: {} {}", iface.link.describe(), iface.resolution())
                        })
                    })
                    .collect();
                format!(
                    "pcapng, {} section(s); interfaces {}",
                    sections.len(),
                    ifaces.join("; ")
                )
            }
        }
    }
}

/// A pcapng section: its interfaces, in order of their ids.
#[derive(Clone, Debug)]
pub struct NgSection {
    pub interfaces: Vec<NgInterface>,
}

/// A pcapng interface.
#[derive(Clone, Debug)]
pub struct NgInterface {
    pub name: &'static str,
    pub link: Link,
    /// The if_tsresol option byte; `None` leaves it out (microseconds).
    pub tsresol: Option<u8>,
}

impl NgInterface {
    /// Timestamp units per second.
    pub fn units_per_sec(&self) -> u64 {
        match self.tsresol {
            None => 1_000_000,
            Some(r) if r & 0x80 != 0 => 1u64 << (r & 0x7f),
            Some(r) => 10u64.pow(u32::from(r)),
        }
    }

    fn resolution(&self) -> String {
        match self.tsresol {
            None => "(µs, no if_tsresol)".into(),
            Some(r) if r & 0x80 != 0 => format!("(2^-{} s)", r & 0x7f),
            Some(r) => format!("(10^-{r} s)"),
        }
    }
}

/// A classic pcap file of `frames`, all of link type `link`.
pub fn pcap(
    frames: &[Frame],
    link: Link,
    big_endian: bool,
    nanos: bool,
    snaplen: Option<u32>,
) -> Vec<u8> {
    let mut options = PcapOptions::new(link.linktype());
    if big_endian {
        options = options.big_endian();
    }
    if nanos {
        options = options.nanos();
    }
    if let Some(n) = snaplen {
        options = options.snaplen(n);
    }
    let mut writer = PcapWriter::with_options(Vec::new(), options).expect("pcap header");
    for f in frames {
        writer
            .write_frame(f.ts, &f.data, f.data.len() as u32)
            .expect("pcap record");
    }
    writer.into_inner().expect("in memory")
}

/// A pcapng file: for each section, its header and interfaces, then its
/// frames (in the order given).
pub fn pcapng(frames: &[Frame], sections: &[NgSection], snaplen: Option<u32>) -> Vec<u8> {
    let snaplen = snaplen.unwrap_or(262_144);
    let mut out = Vec::new();
    for (s, section) in sections.iter().enumerate() {
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        option(&mut shb, 4, b"stripwatch gen_samples"); // shb_userappl
        end_of_options(&mut shb);
        block(&mut out, 0x0a0d_0d0a, &shb);
        for iface in &section.interfaces {
            let mut idb = Vec::new();
            idb.extend_from_slice(&(iface.link.linktype() as u16).to_le_bytes());
            idb.extend_from_slice(&0u16.to_le_bytes());
            idb.extend_from_slice(&snaplen.to_le_bytes());
            option(&mut idb, 2, iface.name.as_bytes()); // if_name
            if let Some(r) = iface.tsresol {
                option(&mut idb, 9, &[r]); // if_tsresol
            }
            end_of_options(&mut idb);
            block(&mut out, 1, &idb);
        }
        for f in frames.iter().filter(|f| f.section == s) {
            let iface = &section.interfaces[f.interface];
            let units = iface.units_per_sec();
            let count = f.ts.secs as u64 * units
                + (u128::from(f.ts.nanos) * u128::from(units) / 1_000_000_000) as u64;
            let caplen = (f.data.len() as u32).min(snaplen);
            let mut epb = Vec::new();
            epb.extend_from_slice(&(f.interface as u32).to_le_bytes());
            epb.extend_from_slice(&((count >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(count as u32).to_le_bytes());
            epb.extend_from_slice(&caplen.to_le_bytes());
            epb.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
            epb.extend_from_slice(&f.data[..caplen as usize]);
            pad4(&mut epb);
            block(&mut out, 6, &epb);
        }
    }
    out
}

/// gzip with a fixed header (no name, mtime 0), so output is reproducible.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory")
}

fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let total = (12 + body.len()) as u32;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&total.to_le_bytes());
}

fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    pad4(out);
}

fn end_of_options(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0, 0, 0]);
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}
