//! Reading one capture file (pcap or pcapng, optionally gzip-compressed, or
//! standard input) with pcap-parser's streaming readers over a bounded buffer.
//!
//! Memory stays at the buffer size whatever the file size: the reader refills
//! its circular buffer and the pipeline never holds a frame past the callback.

use super::{CaptureError, CaptureErrorKind, Frame, LinkType};
use crate::time::Timestamp;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapBlock, PcapBlockOwned, PcapError, create_reader};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Initial reader buffer: large enough for any common frame many times over.
const READ_BUFFER: usize = 1 << 20;
/// The buffer may grow to this for unusually large blocks (pcapng with big
/// options or 256 KiB snaplen jumbo frames). Anything larger is corrupt.
const MAX_RECORD: usize = 16 << 20;

/// pcapng's Section Header Block type (a palindrome: the same in both
/// byte orders) and the byte-order magic that follows its length.
const SECTION_HEADER: &[u8] = &[0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC_LE: &[u8] = &[0x4d, 0x3c, 0x2b, 0x1a];
const BYTE_ORDER_MAGIC_BE: &[u8] = &[0x1a, 0x2b, 0x3c, 0x4d];
/// The smallest pcapng block: type, length and trailing length.
const MIN_BLOCK_LEN: u32 = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ByteOrder {
    Little,
    Big,
}

/// What kind of container a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaptureFormat {
    /// Classic libpcap format (micro- or nanosecond timestamps, either byte order).
    Pcap,
    /// pcapng (sections, interfaces with their own link types and timestamp resolutions).
    PcapNg,
}

/// Per-interface facts from a pcapng Interface Description Block.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second (if_tsresol; default microseconds).
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
}

/// Interfaces a section keeps: far more than any real capture has. Past
/// this, descriptions are counted, not kept (a hostile file could hold
/// millions), and their packets get the link type
/// [`linktype::NOT_KEPT`](crate::capture::linktype::NOT_KEPT): counted as an
/// unknown link type, their frame numbers intact.
pub(crate) const MAX_INTERFACES: usize = 65_536;

/// The interfaces a pcapng section described, in order (see
/// [`MAX_INTERFACES`]).
#[derive(Default)]
struct Interfaces {
    kept: Vec<Interface>,
    described: u64,
}

impl Interfaces {
    fn describe(&mut self, interface: Interface) {
        if self.kept.len() < MAX_INTERFACES {
            self.kept.push(interface);
        }
        self.described += 1;
    }

    /// Interface `id`, if the section described it.
    fn get(&self, id: u32) -> Option<Interface> {
        match self.kept.get(id as usize) {
            Some(i) => Some(*i),
            None if u64::from(id) < self.described => Some(Interface {
                link: crate::capture::linktype::NOT_KEPT,
                units_per_sec: 1_000_000,
                offset_secs: 0,
            }),
            None => None,
        }
    }
}

/// What [`CaptureFile::for_each`] reports.
pub(crate) enum Reading<'a> {
    /// The next frame; returning `false` from the callback stops reading.
    Frame(Frame<'a>),
    /// The frames read so far are all delivered; reading resumes.
    Refill,
}

/// An open capture file, ready to be read frame by frame.
pub struct CaptureFile {
    name: String,
    reader: Box<dyn PcapReaderIterator + Send>,
    gzip: bool,
    format: CaptureFormat,
    /// Legacy pcap: the file's link type and whether timestamps are in ns.
    legacy: Option<(LinkType, bool)>,
    /// pcapng: interfaces of the current section, in order of appearance.
    interfaces: Interfaces,
    frames: u64,
    last_ts: Timestamp,
    /// pcapng only: the current section's byte order (`None` for pcap).
    pcapng_order: Option<ByteOrder>,
    /// No block was read yet (the file's magic is still in the buffer).
    at_start: bool,
}

impl CaptureFile {
    /// Opens a regular file (`-` is standard input), recognising gzip by
    /// its magic. Anything else (a FIFO, a device) is refused without
    /// waiting on it: see [`Self::open_input`].
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::open_as(path, false)
    }

    /// Opens an input as it was resolved: a stream (a pipe or device named
    /// on the command line) is opened like any file and read as it comes.
    pub(crate) fn open_input(spec: &super::InputSpec) -> Result<Self, CaptureError> {
        Self::open_as(&spec.path, spec.stream)
    }

    fn open_as(path: &Path, stream: bool) -> Result<Self, CaptureError> {
        let name = if path == Path::new("-") {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        let io_err = |e| CaptureError {
            file: name.clone(),
            packet: None,
            kind: CaptureErrorKind::Io(e),
        };
        let raw: Box<dyn Read + Send> = if path == Path::new("-") {
            Box::new(std::io::stdin())
        } else if stream {
            Box::new(std::fs::File::open(path).map_err(io_err)?)
        } else {
            Box::new(super::inputs::open_regular(path).map_err(io_err)?)
        };
        Self::from_reader(name.clone(), raw).map_err(|kind| CaptureError {
            file: name,
            packet: None,
            kind,
        })
    }

    /// Reads a capture from any byte source (gzip-compressed or not).
    pub(crate) fn from_reader(
        name: String,
        raw: Box<dyn Read + Send>,
    ) -> Result<Self, CaptureErrorKind> {
        let mut buffered = BufReader::with_capacity(64 << 10, raw);
        let head = buffered.fill_buf().map_err(CaptureErrorKind::Io)?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let source: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let source = super::opening::OpeningReads::new(source);
        let reader = create_reader(READ_BUFFER, source).map_err(|e| match e {
            PcapError::ReadError => {
                CaptureErrorKind::Io(std::io::Error::other("read error (or corrupt gzip stream)"))
            }
            PcapError::Eof | PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                CaptureErrorKind::Truncated
            }
            _ => CaptureErrorKind::NotACapture,
        })?;
        Ok(CaptureFile {
            name,
            reader,
            gzip,
            format: CaptureFormat::Pcap,
            legacy: None,
            interfaces: Interfaces::default(),
            frames: 0,
            last_ts: Timestamp::ZERO,
            pcapng_order: None,
            at_start: true,
        })
    }

    pub(crate) fn is_gzip(&self) -> bool {
        self.gzip
    }

    pub(crate) fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Frames read so far.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// The frames of this reader come after `frames` others of the same
    /// file (a reader opened at a record past the file's start): they and
    /// its errors are numbered from there.
    pub(crate) fn continue_after(&mut self, frames: u64) {
        self.frames = frames;
    }

    /// The time of the frame before this reader's first (a pcapng Simple
    /// Packet Block repeats it).
    pub(crate) fn continue_at_time(&mut self, ts: Timestamp) {
        self.last_ts = ts;
    }

    /// Calls `on_frame` for every frame until the end of the file, or until
    /// `on_frame` returns `false`. On a truncated or corrupt file the frames
    /// before the damage have been delivered when the error is returned.
    pub fn for_each_frame(
        &mut self,
        mut on_frame: impl FnMut(Frame<'_>) -> bool,
    ) -> Result<(), CaptureError> {
        self.for_each(|event| match event {
            Reading::Frame(frame) => on_frame(frame),
            Reading::Refill => true,
        })
    }

    /// Like [`CaptureFile::for_each_frame`], also telling when the frames
    /// at hand are used up and the next read begins (on a pipe from a
    /// running capture it may wait: what was gathered should go on first).
    pub(crate) fn for_each(
        &mut self,
        mut on: impl FnMut(Reading<'_>) -> bool,
    ) -> Result<(), CaptureError> {
        loop {
            if let Err(kind) = self.check_block_length() {
                return Err(self.error(kind));
            }
            match self.reader.next() {
                Ok((consumed, block)) => {
                    self.at_start = false;
                    let frame = frame_of(
                        block,
                        &mut self.legacy,
                        &mut self.interfaces,
                        &mut self.format,
                        &mut self.last_ts,
                        self.frames + 1,
                    );
                    let keep_going = match frame {
                        Ok(Some(frame)) => {
                            self.frames += 1;
                            on(Reading::Frame(frame))
                        }
                        Ok(None) => true,
                        Err(kind) => {
                            return Err(CaptureError {
                                file: self.name.clone(),
                                packet: Some(self.frames + 1),
                                kind,
                            });
                        }
                    };
                    // No shift per record: refill shifts the unread tail once.
                    self.reader.consume_noshift(consumed);
                    if !keep_going {
                        return Ok(());
                    }
                }
                Err(PcapError::Eof) => return Ok(()),
                Err(PcapError::Incomplete(_)) => {
                    if !on(Reading::Refill) {
                        return Ok(());
                    }
                    if self.reader.refill().is_err() {
                        return Err(self.error(io_kind()));
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    let want = self
                        .reader
                        .data()
                        .len()
                        .saturating_mul(2)
                        .max(READ_BUFFER * 2);
                    if want > MAX_RECORD || !self.reader.grow(want) {
                        let claimed = claimed_record_len(self.reader.data());
                        return Err(self.error(CaptureErrorKind::RecordTooLarge(claimed)));
                    }
                    if self.reader.refill().is_err() {
                        return Err(self.error(io_kind()));
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(self.error(CaptureErrorKind::Truncated));
                }
                Err(PcapError::ReadError) => return Err(self.error(io_kind())),
                Err(e) => {
                    let what = describe(&e);
                    return Err(self.error(CaptureErrorKind::Corrupt(what)));
                }
            }
        }
    }

    /// Timestamp of the first frame, for ordering rotated files; reads only
    /// as far as that frame.
    pub(crate) fn peek_first_timestamp(path: &Path) -> Option<Timestamp> {
        let mut file = CaptureFile::open(path).ok()?;
        let mut first = None;
        let _ = file.for_each_frame(|frame| {
            first = Some(frame.ts);
            false
        });
        first
    }

    /// Rejects a pcapng block shorter than the 12 bytes every block has
    /// (type, length, trailing length; RFC draft-ietf-opsawg-pcapng §3.1)
    /// before pcap-parser sees it: 0.17.0 subtracts 12 from the length of
    /// some blocks unchecked.
    fn check_block_length(&mut self) -> Result<(), CaptureErrorKind> {
        let data = self.reader.data();
        let (Some(kind), Some(len)) = (data.get(..4), data.get(4..8)) else {
            return Ok(());
        };
        if kind == SECTION_HEADER && (self.at_start || self.pcapng_order.is_some()) {
            match data.get(8..12) {
                Some(m) if m == BYTE_ORDER_MAGIC_LE => self.pcapng_order = Some(ByteOrder::Little),
                Some(m) if m == BYTE_ORDER_MAGIC_BE => self.pcapng_order = Some(ByteOrder::Big),
                // Incomplete, or a bad magic pcap-parser will report.
                _ => return Ok(()),
            }
        }
        let Some(order) = self.pcapng_order else {
            return Ok(());
        };
        let len = <[u8; 4]>::try_from(len).map_or(0, |b| match order {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        });
        if len < MIN_BLOCK_LEN {
            return Err(CaptureErrorKind::Corrupt(format!(
                "pcapng block of {len} bytes (every block has at least {MIN_BLOCK_LEN})"
            )));
        }
        Ok(())
    }

    fn error(&self, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            file: self.name.clone(),
            packet: Some(self.frames + 1),
            kind,
        }
    }
}

fn io_kind() -> CaptureErrorKind {
    CaptureErrorKind::Io(std::io::Error::other("read error (or corrupt gzip stream)"))
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::HeaderNotRecognized => "unrecognised block".to_string(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("unparsable record: {}", kind.description())
        }
        other => format!("{other:?}"),
    }
}

/// Best-effort length a corrupt record claims, for the error message.
fn claimed_record_len(data: &[u8]) -> u64 {
    // pcap record header: caplen at offset 8; pcapng block: length at 4.
    // Either reading is only informative.
    let at = |i: usize| {
        data.get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
    };
    at(8).or(at(4)).map_or(0, u64::from)
}

/// Timestamp units per second from pcapng's if_tsresol: 10^n, or 2^n when
/// the high bit is set. (pcap-parser 0.17's own helper rejects every 2^n
/// value.)
fn units_per_sec(tsresol: u8) -> Option<u64> {
    let exponent = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exponent)
    } else {
        1u64.checked_shl(exponent).filter(|_| exponent < 64)
    }
}

/// The first `len` bytes of a block's data (which carries padding).
fn captured(data: &[u8], len: u32) -> &[u8] {
    data.get(..len as usize).unwrap_or(data)
}

/// Turns one block into a frame, updating per-file state (link types,
/// interfaces, timestamp resolution). Non-packet blocks yield `None`.
fn frame_of<'a>(
    block: PcapBlockOwned<'a>,
    legacy: &mut Option<(LinkType, bool)>,
    interfaces: &mut Interfaces,
    format: &mut CaptureFormat,
    last_ts: &mut Timestamp,
    number: u64,
) -> Result<Option<Frame<'a>>, CaptureErrorKind> {
    match block {
        PcapBlockOwned::LegacyHeader(header) => {
            *format = CaptureFormat::Pcap;
            *legacy = Some((header.network.0, header.is_nanosecond_precision()));
            Ok(None)
        }
        PcapBlockOwned::Legacy(record) => {
            let frame = legacy_frame(&record, *legacy, number);
            *last_ts = frame.ts;
            Ok(Some(frame))
        }
        PcapBlockOwned::NG(block) => {
            *format = CaptureFormat::PcapNg;
            ng_frame(block, interfaces, last_ts, number)
        }
    }
}

/// A classic pcap record's frame as [`CaptureFile`] makes it: `header` is
/// the record's 16 bytes (already in host order: seconds, fraction,
/// captured length, length on the wire) and `data` its captured bytes.
pub(crate) fn pcap_record_frame(
    header: [u32; 4],
    data: &[u8],
    link: LinkType,
    nanos: bool,
    number: u64,
) -> Frame<'_> {
    let [ts_sec, ts_usec, caplen, origlen] = header;
    let record = LegacyPcapBlock {
        ts_sec,
        ts_usec,
        caplen,
        origlen,
        data,
    };
    legacy_frame(&record, Some((link, nanos)), number)
}

/// A pcap record, with the file header's link type and precision.
fn legacy_frame<'a>(
    record: &LegacyPcapBlock<'a>,
    legacy: Option<(LinkType, bool)>,
    number: u64,
) -> Frame<'a> {
    let (link, nanos) = legacy.unwrap_or((1, false));
    let frac = if nanos {
        record.ts_usec
    } else {
        record.ts_usec.saturating_mul(1000)
    };
    let len = (record.caplen as usize).min(record.data.len());
    Frame {
        number,
        ts: Timestamp::new(i64::from(record.ts_sec), frac),
        link,
        data: record.data.get(..len).unwrap_or(record.data),
        orig_len: record.origlen,
    }
}

/// A pcapng block: packets become frames, section and interface blocks
/// update the interface list.
fn ng_frame<'a>(
    block: Block<'a>,
    interfaces: &mut Interfaces,
    last_ts: &mut Timestamp,
    number: u64,
) -> Result<Option<Frame<'a>>, CaptureErrorKind> {
    match block {
        Block::SectionHeader(_) => {
            // A new section starts a new interface list.
            *interfaces = Interfaces::default();
            Ok(None)
        }
        Block::InterfaceDescription(idb) => {
            interfaces.describe(Interface {
                link: idb.linktype.0,
                units_per_sec: units_per_sec(idb.if_tsresol).unwrap_or(1_000_000),
                offset_secs: idb.ts_offset(),
            });
            Ok(None)
        }
        Block::EnhancedPacket(epb) => {
            let frame = epb_frame(&epb, interfaces, number)?;
            *last_ts = frame.ts;
            Ok(Some(frame))
        }
        Block::SimplePacket(spb) => {
            // No timestamp of its own: it inherits the last one seen.
            let link = interfaces.get(0).map_or(1, |i| i.link);
            Ok(Some(Frame {
                number,
                ts: *last_ts,
                link,
                data: captured(spb.data, spb.origlen),
                orig_len: spb.origlen,
            }))
        }
        _ => Ok(None),
    }
}

/// An Enhanced Packet Block's frame, with its interface's link type and clock.
fn epb_frame<'a>(
    epb: &pcap_parser::pcapng::EnhancedPacketBlock<'a>,
    interfaces: &Interfaces,
    number: u64,
) -> Result<Frame<'a>, CaptureErrorKind> {
    let iface = interfaces.get(epb.if_id).ok_or_else(|| {
        CaptureErrorKind::Corrupt(format!(
            "packet names interface {} that was never described",
            epb.if_id
        ))
    })?;
    let count = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
    let base = Timestamp::from_units(count, iface.units_per_sec);
    let ts = Timestamp::new(base.secs.saturating_add(iface.offset_secs), base.nanos);
    Ok(Frame {
        number,
        ts,
        link: iface.link,
        data: captured(epb.data, epb.caplen),
        orig_len: epb.origlen,
    })
}

/// A pcapng file's first section as far as its first other block: its
/// byte order and interfaces, for reading its packet blocks by ranges
/// (`parallel::chunks`).
pub(crate) struct NgSection {
    big_endian: bool,
    interfaces: Interfaces,
    /// File offset of the first block that is neither a section header nor
    /// an interface description.
    pub(crate) data_start: usize,
}

/// What one pcapng block is to the range reader.
pub(crate) enum NgBlock<'a> {
    /// An Enhanced Packet Block's frame.
    Frame(Frame<'a>),
    /// A block that changes nothing (name resolution, statistics, ...).
    Skip,
    /// A block the range reader leaves to the sequential one: a section
    /// header or interface description (they change the interfaces), a
    /// Simple Packet Block (its time is the previous frame's), anything
    /// malformed.
    Stop,
}

impl NgSection {
    /// Parses the blocks at the start of `bytes` (a pcapng file's first
    /// bytes): `None` unless it is pcapng and its leading section headers
    /// and interface descriptions end within `bytes`.
    pub(crate) fn read(bytes: &[u8]) -> Option<Self> {
        if bytes.get(..4)? != SECTION_HEADER {
            return None;
        }
        let mut section = NgSection {
            big_endian: false,
            interfaces: Interfaces::default(),
            data_start: 0,
        };
        loop {
            let at = section.data_start;
            let rest = bytes.get(at..)?;
            let len = section.block_len(rest)?;
            let block = rest.get(..len)?;
            // As pcap-parser's reader: the byte order of the section so far
            // (a section header parses alike in both).
            let parse = if section.big_endian {
                pcap_parser::pcapng::parse_block_be
            } else {
                pcap_parser::pcapng::parse_block_le
            };
            match parse(block) {
                Ok(([], Block::SectionHeader(shb))) => {
                    section.big_endian = shb.big_endian();
                    section.interfaces = Interfaces::default();
                }
                Ok(([], Block::InterfaceDescription(idb))) => {
                    section.interfaces.describe(Interface {
                        link: idb.linktype.0,
                        units_per_sec: units_per_sec(idb.if_tsresol).unwrap_or(1_000_000),
                        offset_secs: idb.ts_offset(),
                    });
                }
                Ok(_) => return Some(section),
                Err(_) => return None,
            }
            section.data_start = at + len;
        }
    }

    /// The length a block at the start of `bytes` claims (at least the 12
    /// bytes every block has, a multiple of 4), if its first 8 bytes are there.
    pub(crate) fn block_len(&self, bytes: &[u8]) -> Option<usize> {
        let word: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
        let len = if self.big_endian && bytes.get(..4) != Some(SECTION_HEADER) {
            u32::from_be_bytes(word)
        } else if bytes.get(..4) == Some(SECTION_HEADER) {
            // A section header's length is in its own byte order.
            match bytes.get(8..12)? {
                m if m == BYTE_ORDER_MAGIC_BE => u32::from_be_bytes(word),
                _ => u32::from_le_bytes(word),
            }
        } else {
            u32::from_le_bytes(word)
        };
        (len >= MIN_BLOCK_LEN && len % 4 == 0).then_some(len as usize)
    }

    /// A 32-bit word of a block in the section's byte order.
    pub(crate) fn word(&self, bytes: &[u8], at: usize) -> Option<u32> {
        let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        })
    }

    /// Interfaces the section described.
    pub(crate) fn interfaces(&self) -> u64 {
        self.interfaces.described
    }

    /// The block that is exactly `block` (its claimed length), as the
    /// sequential reader would take it in this section.
    pub(crate) fn block<'a>(&self, block: &'a [u8], number: u64) -> NgBlock<'a> {
        if block.get(..4) == Some(SECTION_HEADER) {
            return NgBlock::Stop;
        }
        let parse = if self.big_endian {
            pcap_parser::pcapng::parse_block_be
        } else {
            pcap_parser::pcapng::parse_block_le
        };
        match parse(block) {
            Ok((rem, _)) if !rem.is_empty() => NgBlock::Stop,
            Ok((_, Block::EnhancedPacket(epb))) => {
                match epb_frame(&epb, &self.interfaces, number) {
                    Ok(frame) => NgBlock::Frame(frame),
                    Err(_) => NgBlock::Stop,
                }
            }
            Ok((
                _,
                Block::SectionHeader(_) | Block::InterfaceDescription(_) | Block::SimplePacket(_),
            )) => NgBlock::Stop,
            Ok(_) => NgBlock::Skip,
            Err(_) => NgBlock::Stop,
        }
    }
}
