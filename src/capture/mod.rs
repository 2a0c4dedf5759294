//! Capture input: frames out of pcap, pcapng and gzip-compressed files or
//! standard input, in the order the pipeline must see them.
//!
//! A frame borrows the reader's bounded buffer, so the reader drives the
//! pipeline through a callback ([`CaptureFile::for_each_frame`]) rather than
//! handing out frames that would outlive the next refill.

mod file;
mod inputs;
pub mod linktype;
#[cfg(feature = "live")]
pub mod live;
mod opening;
pub mod writer;

pub use file::CaptureFile;
pub(crate) use file::pcap_record_frame;
pub(crate) use file::{CaptureFormat, Reading};
pub(crate) use file::{NgBlock, NgSection};
pub(crate) use inputs::open_regular;
pub use inputs::{InputSpec, resolve_inputs};

use crate::time::Timestamp;
use serde::Serialize;
use std::fmt;

/// A link-layer header type, as numbered by tcpdump.org's LINKTYPE_ registry.
pub type LinkType = i32;

/// libpcap's counters of a live capture, from its start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LiveCounters {
    /// Packets received (on Linux: those that passed the filter, dropped
    /// ones included).
    pub received: u64,
    /// Dropped because the kernel buffer was full (the reader fell behind).
    pub dropped: u64,
    /// Dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// One captured frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based frame number within its file (what Wireshark shows).
    pub number: u64,
    /// Capture time from the record, UTC (pcapng: the interface's resolution and offset applied; a
    /// Simple Packet Block has none and repeats the previous frame's).
    pub ts: Timestamp,
    /// The file's link type (pcap), or that of the frame's interface (pcapng).
    pub link: LinkType,
    /// The captured bytes (possibly fewer than `orig_len`: snaplen).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
}

/// Why a capture file could not be read (completely).
#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The file could not be opened or read from.
    Io(std::io::Error),
    /// Neither a pcap nor a pcapng header.
    NotACapture,
    /// The file ends in the middle of a packet record.
    Truncated,
    /// A record header or block cannot be parsed.
    Corrupt(String),
    /// A record claims more bytes than any real frame has.
    RecordTooLarge(u64),
}

/// A capture error, naming the file and the packet at which reading stopped.
#[derive(Debug)]
pub struct CaptureError {
    /// The input's path as displayed (`<stdin>` for `-`), not escaped.
    pub file: String,
    /// The frame number that could not be read (one past the last good one);
    /// `None` when the file header itself failed.
    pub packet: Option<u64>,
    /// Why reading stopped (or never started).
    pub kind: CaptureErrorKind,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(n) = self.packet {
            write!(f, ": packet {n}")?;
        }
        match &self.kind {
            CaptureErrorKind::Io(e) => write!(f, ": {e}"),
            CaptureErrorKind::NotACapture => {
                write!(f, ": not a pcap or pcapng capture (unknown file header)")
            }
            CaptureErrorKind::Truncated => write!(
                f,
                ": the file ends in the middle of this packet (truncated capture); \
                 the packets before it were analyzed"
            ),
            CaptureErrorKind::Corrupt(what) => write!(
                f,
                ": corrupt capture ({what}); reading stopped here, the packets before it were analyzed"
            ),
            CaptureErrorKind::RecordTooLarge(n) => write!(
                f,
                ": record claims {n} bytes, more than any frame (corrupt capture); \
                 reading stopped here, the packets before it were analyzed"
            ),
        }
    }
}

impl std::error::Error for CaptureError {}
