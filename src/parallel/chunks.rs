//! The chunks the workers share, and who reads them.
//!
//! A chunk is a stretch of one input read once: its bytes, each worker's
//! mail frames in it as offsets into those bytes (never copied again), the
//! clock ticks of its frames and the input's counters for it. Chunks are
//! handed to every worker by reference ([`Arc`]), in input order, and go
//! back to a pool of spare buffers when the last worker is done with them.
//!
//! There is no reader thread: whichever worker has nothing to do reads.
//!
//! - A classic pcap file (regular, not compressed) is cut into ranges of
//!   [`RANGE_BYTES`]. Any worker reads and peeks any range, in parallel
//!   with the others: it finds the range's first record by a chain of
//!   plausible record headers ([`first_record`]). The ranges are then
//!   confirmed in order: a range counts only if it starts exactly where
//!   the previous one's last record ended; otherwise it is read again from
//!   there. So every frame is the frame one sequential reader sees, with
//!   its number, whatever the cut. A record the fast reader cannot vouch
//!   for (longer than [`FAST_MAX_CAPLEN`], cut by the end of the file, a
//!   read error) hands the rest of the file to the sequential reader,
//!   which reports it exactly as it always has. Once every range of a
//!   file is being read, the next input's ranges are read too when it is
//!   such a file (its turn to be confirmed comes after the last range of
//!   this one, so sessions go on from one file to the next as before).
//! - A pcapng file (regular, not compressed) is read by ranges the same
//!   way once its first section's header and interface descriptions are
//!   read ([`NgSection`]): a range's first block is guessed by a chain of
//!   plausible blocks (4-aligned, the same length at both ends, a packet
//!   block's interface described and its captured length within), every
//!   block is parsed as the sequential reader parses it, and a block that
//!   changes the interfaces (a section header, an interface description)
//!   or a Simple Packet Block stops the fast reader there, as a record it
//!   cannot vouch for does: the sequential reader reads the rest (given
//!   the section's start again, and the last frame's time).
//! - Anything else (gzip, standard input, pipes) is read by one worker at
//!   a time with [`CaptureFile`], frames copied once into the chunk.
//!
//! The capture clock is run over every frame's time in order when a chunk
//! is confirmed, so its ticks are those of one thread.

use crate::capture::{
    CaptureError, CaptureFile, Frame, InputSpec, LinkType, NgBlock, NgSection, Reading,
    open_regular, pcap_record_frame,
};
use crate::flow::{CaptureClock, PacketRef, PortSet};
use crate::pipeline::{Classified, InputSummary};
use crate::time::Timestamp;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Bytes of a pcap file per range read at once.
pub(crate) const RANGE_BYTES: u64 = 1 << 20;
/// The longest record the fast reader takes (a 256 KiB snaplen); a longer
/// one goes to the sequential reader.
const FAST_MAX_CAPLEN: u32 = 256 << 10;
/// Read past a range's end for its last record: most need far less.
const TAIL_BYTES: usize = 64 << 10;
/// Record headers in a row that must be plausible for a range's guessed
/// first record (fewer when the file or the bytes at hand end first).
const CHAIN: usize = 8;
/// The longest pcapng block the fast reader takes: a [`FAST_MAX_CAPLEN`]
/// packet and its block's header, trailer and options.
const FAST_MAX_BLOCK: usize = FAST_MAX_CAPLEN as usize + 4096;
/// The most of a pcapng file's start read for its first section header
/// and interface descriptions: a longer run goes to the sequential reader.
const NG_PREFIX_BYTES: u64 = 1 << 20;
/// pcapng's Enhanced Packet Block type.
const NG_EPB: u32 = 6;
/// Frames and bytes of a chunk the sequential reader makes.
const SEQ_FRAMES: usize = 8192;
const SEQ_BYTES: usize = 2 << 20;

/// Where one mail frame is in its chunk.
pub(super) struct Meta {
    /// Its place among the chunk's frames (its number is `base + 1 + index`).
    pub index: u32,
    pub start: u32,
    pub len: u32,
    pub orig_len: u32,
    pub link: LinkType,
    pub ts: Timestamp,
}

/// A stretch of an input, shared by every worker.
pub(super) struct Chunk {
    pub input: u16,
    /// Frames of the input before this chunk's first.
    pub base: u64,
    pub bytes: Vec<u8>,
    /// Per worker, its mail frames in order.
    pub shards: Vec<Vec<Meta>>,
    /// Clock ticks of the chunk's frames, whatever worker owns them.
    pub ticks: Vec<PacketRef>,
}

impl Chunk {
    /// Frame `m` of the chunk: its packet reference and bytes.
    pub(super) fn frame(&self, m: &Meta) -> (PacketRef, Option<&[u8]>) {
        let packet = PacketRef {
            input: self.input,
            frame: self.base + 1 + u64::from(m.index),
            ts: m.ts,
        };
        let start = m.start as usize;
        (packet, self.bytes.get(start..start + m.len as usize))
    }
}

/// What a reader gathers from a stretch: frames and counters.
struct Gathered {
    frames: u32,
    times: Vec<Timestamp>,
    shards: Vec<Vec<Meta>>,
    summary: InputSummary,
}

impl Gathered {
    fn new(workers: usize) -> Self {
        Gathered {
            frames: 0,
            times: Vec::new(),
            shards: (0..workers).map(|_| Vec::new()).collect(),
            summary: InputSummary::new(""),
        }
    }

    /// Counts one frame whose bytes start at `start` in the chunk, and
    /// gives it to its flow's worker when it is mail. False when the chunk
    /// cannot hold it (offsets are 32 bits).
    fn frame(&mut self, frame: &Frame<'_>, start: usize, ports: &PortSet) -> bool {
        let (Ok(start), Ok(len)) = (u32::try_from(start), u32::try_from(frame.data.len())) else {
            return false;
        };
        let index = self.frames;
        self.frames += 1;
        self.times.push(frame.ts);
        if let Classified::Mail(key) = self.summary.classify(frame, ports) {
            let n = self.shards.len().max(1) as u64;
            if let Some(shard) = self.shards.get_mut((key.shard_hash() % n) as usize) {
                shard.push(Meta {
                    index,
                    start,
                    len,
                    orig_len: frame.orig_len,
                    link: frame.link,
                    ts: frame.ts,
                });
            }
        }
        true
    }
}

/// A classic pcap file, or a pcapng file, open for reading by ranges.
pub(super) struct FastPcap {
    file: File,
    name: String,
    len: u64,
    big_endian: bool,
    nanos: bool,
    link: LinkType,
    /// The bytes before the first record: pcap's file header, or pcapng's
    /// first section header and interface descriptions (which the
    /// sequential reader is given again when it takes over).
    header: Vec<u8>,
    /// pcapng: that section, whose packet blocks the ranges hold.
    ng: Option<NgSection>,
}

impl FastPcap {
    /// Opens `spec` for the fast reader when it is a regular, uncompressed
    /// classic pcap file; `None` sends it to the sequential reader (which
    /// also reports why it cannot be read, if it cannot).
    pub(super) fn open(spec: &InputSpec) -> Option<Self> {
        if spec.stream || spec.path == std::path::Path::new("-") {
            return None;
        }
        let file = open_regular(&spec.path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut header = [0u8; 24];
        file.read_exact_at(&mut header, 0).ok()?;
        if header.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            return Self::open_ng(spec, file, len);
        }
        let word = |at: usize| -> Option<[u8; 4]> { header.get(at..at + 4)?.try_into().ok() };
        // As pcap-parser reads it (little-endian first).
        let (big_endian, nanos) = match u32::from_le_bytes(word(0)?) {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return None,
        };
        let link = if big_endian {
            i32::from_be_bytes(word(20)?)
        } else {
            i32::from_le_bytes(word(20)?)
        };
        Some(FastPcap {
            file,
            name: spec.path.display().to_string(),
            len,
            big_endian,
            nanos,
            link,
            header: header.to_vec(),
            ng: None,
        })
    }

    /// A pcapng file whose first section's header and interfaces are read.
    fn open_ng(spec: &InputSpec, file: File, len: u64) -> Option<Self> {
        let mut start = vec![0u8; usize::try_from(len.min(NG_PREFIX_BYTES)).ok()?];
        file.read_exact_at(&mut start, 0).ok()?;
        let ng = NgSection::read(&start)?;
        start.truncate(ng.data_start);
        Some(FastPcap {
            file,
            name: spec.path.display().to_string(),
            len,
            big_endian: false,
            nanos: false,
            link: 1,
            header: start,
            ng: Some(ng),
        })
    }

    /// File offset of the first record (or block past the section's start).
    fn data_start(&self) -> u64 {
        self.header.len() as u64
    }
    /// Ranges of `range_bytes` in the file after its header.
    fn ranges(&self, range_bytes: u64) -> u64 {
        self.len
            .saturating_sub(self.data_start())
            .div_ceil(range_bytes)
    }

    /// The record header at `at` in `bytes`, in host order.
    fn record_header(&self, bytes: &[u8], at: usize) -> Option<[u32; 4]> {
        let h = bytes.get(at..at.checked_add(16)?)?;
        let mut out = [0u32; 4];
        for (i, v) in out.iter_mut().enumerate() {
            let b: [u8; 4] = h.get(i * 4..i * 4 + 4)?.try_into().ok()?;
            *v = if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            };
        }
        Some(out)
    }

    /// Whether a record may start at `at` (file offset `bytes_at + at`):
    /// up to [`CHAIN`] headers in a row look like records and end within
    /// the file, on its end exactly or past the bytes at hand.
    fn plausible_chain(&self, bytes: &[u8], bytes_at: u64, at: usize) -> bool {
        if let Some(ng) = &self.ng {
            return self.plausible_blocks(ng, bytes, bytes_at, at);
        }
        let frac_limit = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        let mut p = at;
        let mut first_secs = None;
        for link in 0..CHAIN {
            if bytes_at + p as u64 == self.len {
                return link > 0;
            }
            let Some([secs, frac, caplen, origlen]) = self.record_header(bytes, p) else {
                return link >= 2;
            };
            let first = *first_secs.get_or_insert(secs);
            if caplen > FAST_MAX_CAPLEN
                || caplen > origlen
                || frac >= frac_limit
                || secs.abs_diff(first) > 86_400
            {
                return false;
            }
            p += 16 + caplen as usize;
            if bytes_at + p as u64 > self.len {
                return false;
            }
        }
        true
    }

    /// Whether a pcapng block may start at `at` (file offset `bytes_at +
    /// at`, 4-aligned as every block is): up to [`CHAIN`] blocks in a row
    /// have a plausible length, the same length at both ends, and, for
    /// packet blocks, an interface the section described and a captured
    /// length that fits.
    fn plausible_blocks(&self, ng: &NgSection, bytes: &[u8], bytes_at: u64, at: usize) -> bool {
        if (bytes_at + at as u64) % 4 != 0 {
            return false;
        }
        let mut p = at;
        for link in 0..CHAIN {
            if bytes_at + p as u64 == self.len {
                return link > 0;
            }
            let Some(block) = bytes.get(p..).filter(|b| b.len() >= 8) else {
                return link >= 2;
            };
            let Some(len) = ng.block_len(block).filter(|l| *l <= FAST_MAX_BLOCK) else {
                return false;
            };
            if bytes_at + (p + len) as u64 > self.len {
                return false;
            }
            if block.len() < len {
                return link >= 2;
            }
            if ng.word(block, len - 4) != Some(len as u32) {
                return false;
            }
            if ng.word(block, 0) == Some(NG_EPB) {
                let interface = ng.word(block, 8).map_or(u64::MAX, u64::from);
                let caplen = ng.word(block, 20).map_or(usize::MAX, |c| c as usize);
                if interface >= ng.interfaces() || len < 32 || caplen > len - 32 {
                    return false;
                }
            }
            p += len;
        }
        true
    }

    /// Reads `want` bytes (fewer at the file's end) from file offset `at`
    /// into `bytes` after its first `keep` (a reused buffer is not
    /// cleared first: only what it grows by is zeroed).
    fn read_into(&self, bytes: &mut Vec<u8>, keep: usize, at: u64, want: usize) -> bool {
        let old = keep;
        let want = want.min(usize::try_from(self.len.saturating_sub(at)).unwrap_or(usize::MAX));
        bytes.resize(old + want, 0);
        let mut filled = 0;
        while filled < want {
            let Some(space) = bytes.get_mut(old + filled..) else {
                break;
            };
            match self.file.read_at(space, at + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        bytes.truncate(old + filled);
        filled == want
    }

    /// A reader of the rest of the file from offset `at`, after `frames`
    /// frames: the sequential reader, for what the fast one left.
    fn sequential_from(&self, at: u64, frames: u64) -> Result<CaptureFile, CaptureError> {
        let error = |kind| CaptureError {
            file: self.name.clone(),
            packet: Some(frames + 1),
            kind,
        };
        let mut rest = self
            .file
            .try_clone()
            .map_err(|e| error(crate::capture::CaptureErrorKind::Io(e)))?;
        rest.seek(SeekFrom::Start(at))
            .map_err(|e| error(crate::capture::CaptureErrorKind::Io(e)))?;
        let source = std::io::Cursor::new(self.header.clone()).chain(rest);
        let mut file =
            CaptureFile::from_reader(self.name.clone(), Box::new(source)).map_err(error)?;
        file.continue_after(frames);
        Ok(file)
    }
}

/// One range as a worker read it.
struct Parsed {
    range: u64,
    /// File offset of its first record (`u64::MAX`: none was found).
    start: u64,
    /// File offset after its last record: the next range's first record,
    /// or the record the fast reader could not vouch for.
    end: u64,
    /// It stopped at `end` on such a record.
    stopped: bool,
    bytes: Vec<u8>,
    gathered: Gathered,
}

/// Reads range `range` of `pcap` into `bytes`: from its first record
/// (`known`, or the one [`first_record`] guesses) to the first record at or
/// past its end.
fn read_range(
    pcap: &FastPcap,
    range: u64,
    known: Option<u64>,
    chunks: &Chunks<'_>,
    mut bytes: Vec<u8>,
) -> Parsed {
    let (ports, workers) = (chunks.ports, chunks.workers);
    let range_start = pcap.data_start() + range * chunks.range_bytes;
    let range_end = (range_start + chunks.range_bytes).min(pcap.len);
    let from = known.unwrap_or(range_start);
    let mut parsed = Parsed {
        range,
        start: u64::MAX,
        end: from,
        stopped: false,
        bytes: Vec::new(),
        gathered: Gathered::new(workers),
    };
    let span = usize::try_from(range_end.saturating_sub(from)).unwrap_or(0) + TAIL_BYTES;
    pcap.read_into(&mut bytes, 0, from, span);
    let first = match known {
        Some(_) => Some(0),
        None if range == 0 => Some(0),
        None => first_record(pcap, &bytes, from, range_end),
    };
    if let Some(first) = first {
        parsed.start = from + first as u64;
        let (end, stopped) = gather(pcap, &mut bytes, from, first, range_end, ports, &mut parsed);
        (parsed.end, parsed.stopped) = (end, stopped);
    }
    parsed.bytes = bytes;
    parsed
}

/// The first offset in `bytes` (at file offset `at`) before `range_end`
/// where a chain of plausible records starts.
fn first_record(pcap: &FastPcap, bytes: &[u8], at: u64, range_end: u64) -> Option<usize> {
    let before = usize::try_from(range_end.saturating_sub(at)).unwrap_or(0);
    (0..before.min(bytes.len())).find(|&p| pcap.plausible_chain(bytes, at, p))
}

/// Reads the records from `first` while they start before `range_end`;
/// returns the offset after the last and whether it stopped on a record it
/// cannot vouch for.
fn gather(
    pcap: &FastPcap,
    bytes: &mut Vec<u8>,
    at: u64,
    first: usize,
    range_end: u64,
    ports: &PortSet,
    parsed: &mut Parsed,
) -> (u64, bool) {
    if let Some(ng) = &pcap.ng {
        return gather_blocks(pcap, ng, bytes, (at, first, range_end), ports, parsed);
    }
    let mut p = first;
    loop {
        let offset = at + p as u64;
        if offset >= range_end {
            return (offset, false);
        }
        if bytes.len() < p + 16 {
            let keep = bytes.len();
            pcap.read_into(bytes, keep, at + keep as u64, TAIL_BYTES);
        }
        // None: the file ends within a record header (or cannot be read).
        let Some(header) = pcap.record_header(bytes, p) else {
            return (offset, true);
        };
        let caplen = header[2];
        if caplen > FAST_MAX_CAPLEN {
            return (offset, true);
        }
        let end = p + 16 + caplen as usize;
        if bytes.len() < end {
            let keep = bytes.len();
            pcap.read_into(bytes, keep, at + keep as u64, (end - keep).max(TAIL_BYTES));
            if bytes.len() < end {
                return (offset, true);
            }
        }
        let Some(data) = bytes.get(p + 16..end) else {
            return (offset, true);
        };
        let frame = pcap_record_frame(header, data, pcap.link, pcap.nanos, 0);
        if !parsed.gathered.frame(&frame, p + 16, ports) {
            return (offset, true);
        }
        p = end;
    }
}

/// [`gather`] for a pcapng file: its blocks from `first`; a block that
/// changes the section (a section header, an interface description), a
/// Simple Packet Block, a malformed one or one past [`FAST_MAX_BLOCK`]
/// stops it, for the sequential reader to take the rest of the file from
/// there.
fn gather_blocks(
    pcap: &FastPcap,
    ng: &NgSection,
    bytes: &mut Vec<u8>,
    (at, first, range_end): (u64, usize, u64),
    ports: &PortSet,
    parsed: &mut Parsed,
) -> (u64, bool) {
    let mut p = first;
    loop {
        let offset = at + p as u64;
        if offset >= range_end {
            return (offset, false);
        }
        if bytes.len() < p + 8 {
            let keep = bytes.len();
            pcap.read_into(bytes, keep, at + keep as u64, TAIL_BYTES);
        }
        let len = bytes.get(p..).and_then(|b| ng.block_len(b));
        let Some(len) = len.filter(|l| *l <= FAST_MAX_BLOCK) else {
            return (offset, true);
        };
        let end = p + len;
        if bytes.len() < end {
            let keep = bytes.len();
            pcap.read_into(bytes, keep, at + keep as u64, (end - keep).max(TAIL_BYTES));
        }
        let Some(block) = bytes.get(p..end) else {
            return (offset, true);
        };
        match ng.block(block, 0) {
            NgBlock::Frame(frame) => {
                // The frame's bytes are within the chunk's.
                let start = frame.data.as_ptr() as usize - bytes.as_ptr() as usize;
                if !parsed.gathered.frame(&frame, start, ports) {
                    return (offset, true);
                }
            }
            NgBlock::Skip => {}
            NgBlock::Stop => return (offset, true),
        }
        p = end;
    }
}

/// An input read by [`CaptureFile`].
pub(super) struct Sequential {
    file: CaptureFile,
    pipe: bool,
    read: u64,
}

/// Reads the next chunk of a sequential input into `bytes`; the input's
/// end comes with it when it ends (`Some`, with its error if any).
fn read_sequential(
    seq: &mut Sequential,
    ports: &PortSet,
    workers: usize,
    mut bytes: Vec<u8>,
) -> (Gathered, Vec<u8>, u64, Option<Option<CaptureError>>) {
    bytes.clear();
    let mut gathered = Gathered::new(workers);
    let mut base = None;
    let mut paused = false;
    let pipe = seq.pipe;
    let read = &mut seq.read;
    let result = seq.file.for_each(|reading| {
        let frame = match reading {
            Reading::Frame(frame) => frame,
            Reading::Refill if pipe && gathered.frames > 0 => {
                paused = true;
                return false;
            }
            Reading::Refill => return true,
        };
        *read += 16 + frame.data.len() as u64;
        // Frames are numbered from the chunk's first.
        base.get_or_insert(frame.number.saturating_sub(1));
        let start = bytes.len();
        bytes.extend_from_slice(frame.data);
        gathered.frame(&frame, start, ports);
        if gathered.frames as usize >= SEQ_FRAMES || bytes.len() >= SEQ_BYTES {
            paused = true;
            return false;
        }
        true
    });
    let ended = match result {
        Ok(()) if paused => None,
        Ok(()) => Some(None),
        Err(e) => Some(Some(e)),
    };
    (gathered, bytes, base.unwrap_or(0), ended)
}

/// How the current input is read.
enum Mode {
    /// The next input is to be opened.
    Next,
    Fast(Box<FastState>),
    /// `None` while a worker reads it.
    Sequential(Option<Box<Sequential>>),
    /// Frames handed over by another thread ([`Feed`]).
    #[cfg(feature = "live")]
    Fed,
}

struct FastState {
    pcap: Arc<FastPcap>,
    ranges: u64,
    next_claim: u64,
    next_confirm: u64,
    /// Where the next range to confirm must start.
    next_start: u64,
    /// Frames confirmed so far.
    frames: u64,
    /// The time of the last frame confirmed.
    last_ts: Option<Timestamp>,
    parsed: BTreeMap<u64, Parsed>,
}

struct Ready {
    chunk: Arc<Chunk>,
    done: usize,
}

/// What the workers share, under one lock.
struct State<'a> {
    inputs: &'a [InputSpec],
    /// The input being read (its index), and how.
    current: usize,
    mode: Mode,
    /// The next input, when it is a pcap file whose ranges are read while
    /// the current one's last are.
    ahead: Option<Box<FastState>>,
    /// The input a read ahead was last tried for.
    ahead_tried: Option<usize>,
    range_bytes: u64,
    clock: CaptureClock,
    summaries: Vec<InputSummary>,
    /// Confirmed chunks not yet done by every worker; the first is chunk
    /// number `first`.
    ready: VecDeque<Ready>,
    first: u64,
    /// Ranges being read by workers.
    reading: usize,
    finished: bool,
    /// A worker is gone (it panicked): everyone stops.
    failed: bool,
    spares: Vec<Vec<u8>>,
}

/// Work a worker takes out of the lock.
pub(super) enum Job {
    /// The chunk with this number, to run through its flow table.
    Chunk(u64, Arc<Chunk>),
    Range(Arc<FastPcap>, u64, Vec<u8>),
    Sequential(Box<Sequential>, Vec<u8>),
    Done,
}

/// The shared reading and chunks, for `workers` workers.
pub(super) struct Chunks<'a> {
    state: Mutex<State<'a>>,
    changed: Condvar,
    workers: usize,
    /// Bytes of a pcap file per range ([`RANGE_BYTES`]; tests cut smaller).
    range_bytes: u64,
    /// Per worker, the flows its table holds (after its latest chunk).
    flows: Vec<std::sync::atomic::AtomicUsize>,
    ports: &'a PortSet,
    progress: &'a (dyn Fn(usize, u64) + Sync),
}

impl<'a> Chunks<'a> {
    pub(super) fn new(
        inputs: &'a [InputSpec],
        ports: &'a PortSet,
        clock: CaptureClock,
        (workers, range_bytes): (usize, u64),
        progress: &'a (dyn Fn(usize, u64) + Sync),
    ) -> Self {
        Chunks {
            state: Mutex::new(State {
                inputs,
                current: 0,
                mode: Mode::Next,
                ahead: None,
                ahead_tried: None,
                range_bytes: range_bytes.max(1),
                clock,
                summaries: inputs.iter().map(|i| InputSummary::new(&i.name)).collect(),
                ready: VecDeque::new(),
                first: 0,
                reading: 0,
                finished: false,
                failed: false,
                spares: Vec::new(),
            }),
            changed: Condvar::new(),
            workers,
            range_bytes: range_bytes.max(1),
            flows: (0..workers).map(|_| Default::default()).collect(),
            ports,
            progress,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Chunks (ready, or being read) that may exist at once.
    fn window(&self) -> usize {
        2 * self.workers + 2
    }

    /// The next thing for the worker whose next chunk is `next`: that
    /// chunk, something to read, or the end. Waits when there is neither.
    pub(super) fn next_job(&self, next: u64) -> Job {
        let mut state = self.lock();
        loop {
            if state.failed {
                return Job::Done;
            }
            state.advance(self);
            let ready = state.get(next);
            // Read first while few chunks wait ahead of this worker; but
            // never wait on a pipe with a chunk of it undone (what came
            // must be analyzed and reported before the pipe is read again).
            let ahead = (state.first + state.ready.len() as u64).saturating_sub(next);
            let stream = matches!(&state.mode, Mode::Sequential(Some(s)) if s.pipe);
            if ready.is_none() || (ahead < self.workers as u64 && !stream) {
                if let Some(job) = state.claim(self.window()) {
                    return job;
                }
            }
            if let Some(chunk) = ready {
                return Job::Chunk(next, chunk);
            }
            if state.finished && next >= state.first + state.ready.len() as u64 {
                return Job::Done;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Reads what a job asked for, outside the lock, and hands it in.
    pub(super) fn read(&self, job: Job) {
        match job {
            Job::Range(pcap, range, bytes) => {
                let parsed = read_range(&pcap, range, None, self, bytes);
                let mut state = self.lock();
                state.reading -= 1;
                let state = &mut *state;
                match (&mut state.mode, &mut state.ahead) {
                    (Mode::Fast(fast), _) if Arc::ptr_eq(&fast.pcap, &pcap) => {
                        fast.parsed.insert(range, parsed);
                    }
                    (_, Some(next)) if Arc::ptr_eq(&next.pcap, &pcap) => {
                        next.parsed.insert(range, parsed);
                    }
                    _ => state.spare(parsed.bytes),
                }
                state.advance(self);
            }
            Job::Sequential(mut seq, bytes) => {
                let (gathered, bytes, base, ended) =
                    read_sequential(&mut seq, self.ports, self.workers, bytes);
                let mut state = self.lock();
                let input = state.current;
                (self.progress)(input, seq.read);
                state.push(input, base, bytes, gathered);
                match ended {
                    None => state.mode = Mode::Sequential(Some(seq)),
                    Some(error) => {
                        if let Some(s) = state.summaries.get_mut(input) {
                            s.record_end(&seq.file, error);
                        }
                        state.end_input();
                    }
                }
                state.advance(self);
            }
            Job::Chunk(..) | Job::Done => return,
        }
        self.changed.notify_all();
    }

    /// The worker is done with chunk `seq`.
    pub(super) fn done_with(&self, seq: u64) {
        let mut state = self.lock();
        let i = usize::try_from(seq.saturating_sub(state.first)).unwrap_or(usize::MAX);
        if let Some(r) = state.ready.get_mut(i) {
            r.done += 1;
        }
        let mut freed = false;
        while state.ready.front().is_some_and(|r| r.done >= self.workers) {
            if let Some(r) = state.ready.pop_front() {
                state.first += 1;
                freed = true;
                if let Ok(chunk) = Arc::try_unwrap(r.chunk) {
                    state.spare(chunk.bytes);
                }
            }
        }
        drop(state);
        if freed {
            self.changed.notify_all();
        }
    }

    /// Worker `w`'s table holds `flows` flows.
    pub(super) fn set_flows(&self, w: usize, flows: usize) {
        if let Some(f) = self.flows.get(w) {
            f.store(flows, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A worker is gone: nobody waits for it.
    pub(super) fn fail(&self) {
        self.lock().failed = true;
        self.changed.notify_all();
    }

    /// The inputs' summaries, once every worker is done.
    pub(super) fn into_summaries(self) -> Vec<InputSummary> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        state.summaries
    }
}

impl State<'_> {
    fn get(&self, seq: u64) -> Option<Arc<Chunk>> {
        let i = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        self.ready.get(i).map(|r| Arc::clone(&r.chunk))
    }

    fn spare(&mut self, bytes: Vec<u8>) {
        if self.spares.len() < 16 {
            self.spares.push(bytes);
        }
    }

    /// Something to read, if the window has room.
    fn claim(&mut self, window: usize) -> Option<Job> {
        let held = self.ready.len() + self.reading;
        let ahead = self.ahead.as_ref().map_or(0, |a| a.parsed.len());
        match &mut self.mode {
            Mode::Fast(fast) if fast.next_claim < fast.ranges => {
                if held + fast.parsed.len() + ahead >= window {
                    return None;
                }
                let job = fast.claim(self.spares.pop().unwrap_or_default());
                self.reading += 1;
                Some(job)
            }
            // The current file is all being read: the next one's ranges
            // are read meanwhile (confirmed when its turn comes).
            Mode::Fast(fast) if held + fast.parsed.len() + ahead < window => {
                if self.ahead.is_none() {
                    // One try per input: a pcapng file, say, waits its turn.
                    let next = self.current + 1;
                    if self.ahead_tried == Some(next) {
                        return None;
                    }
                    self.ahead_tried = Some(next);
                    let spec = self.inputs.get(next)?;
                    self.ahead = Some(fast_state(FastPcap::open(spec)?, self.range_bytes));
                }
                let next = self.ahead.as_mut()?;
                if next.next_claim >= next.ranges {
                    return None;
                }
                let job = next.claim(self.spares.pop().unwrap_or_default());
                self.reading += 1;
                Some(job)
            }
            Mode::Sequential(seq) if held < window => {
                let seq = seq.take()?;
                Some(Job::Sequential(seq, self.spares.pop().unwrap_or_default()))
            }
            _ => None,
        }
    }

    /// A confirmed chunk of input `input`, its clock ticks made.
    fn push(&mut self, input: usize, base: u64, bytes: Vec<u8>, gathered: Gathered) {
        let input16 = u16::try_from(input).unwrap_or(u16::MAX);
        let mut ticks = Vec::new();
        for (i, ts) in gathered.times.iter().enumerate() {
            if let Some(ts) = self.clock.observe(*ts) {
                ticks.push(PacketRef {
                    input: input16,
                    frame: base + 1 + i as u64,
                    ts,
                });
            }
        }
        if let Some(s) = self.summaries.get_mut(input) {
            s.absorb(gathered.summary);
        }
        let chunk = Chunk {
            input: input16,
            base,
            bytes,
            shards: gathered.shards,
            ticks,
        };
        self.ready.push_back(Ready {
            chunk: Arc::new(chunk),
            done: 0,
        });
    }

    /// The current input is read to its end.
    fn end_input(&mut self) {
        if let Some(s) = self.summaries.get_mut(self.current) {
            s.name_link_types();
        }
        self.current += 1;
        self.mode = Mode::Next;
    }

    /// Opens inputs and confirms ranges as far as can be done now.
    fn advance(&mut self, chunks: &Chunks<'_>) {
        loop {
            match &mut self.mode {
                Mode::Next => {
                    let Some(spec) = self.inputs.get(self.current) else {
                        self.finished = true;
                        return;
                    };
                    let summary = self.summaries.get_mut(self.current);
                    self.mode = match self.ahead.take() {
                        // Read ahead while the previous file was read.
                        Some(next) => Mode::Fast(next),
                        None => open(spec, summary, chunks.range_bytes),
                    };
                    if matches!(self.mode, Mode::Next) {
                        if let Some(s) = self.summaries.get_mut(self.current) {
                            s.name_link_types();
                        }
                        self.current += 1;
                    }
                }
                Mode::Sequential(_) => return,
                #[cfg(feature = "live")]
                Mode::Fed => return,
                Mode::Fast(fast) => {
                    if fast.next_confirm >= fast.ranges {
                        let ng = fast.pcap.ng.is_some();
                        if let Some(s) = self.summaries.get_mut(self.current) {
                            s.format = if ng { "pcapng" } else { "pcap" };
                        }
                        self.end_input();
                        continue;
                    }
                    let Some(parsed) = fast.parsed.remove(&fast.next_confirm) else {
                        return;
                    };
                    self.confirm(parsed, chunks);
                }
            }
        }
    }

    /// Takes the next range in order (read again from where it must start
    /// if it was guessed wrong).
    fn confirm(&mut self, mut parsed: Parsed, chunks: &Chunks<'_>) {
        let Mode::Fast(fast) = &mut self.mode else {
            return;
        };
        if parsed.start != fast.next_start {
            let bytes = std::mem::take(&mut parsed.bytes);
            parsed = read_range(
                &fast.pcap,
                parsed.range,
                Some(fast.next_start),
                chunks,
                bytes,
            );
        }
        fast.next_confirm += 1;
        fast.next_start = parsed.end;
        fast.last_ts = parsed.gathered.times.last().copied().or(fast.last_ts);
        let last_ts = fast.last_ts;
        let base = fast.frames;
        fast.frames += u64::from(parsed.gathered.frames);
        let (frames, end, stopped) = (fast.frames, parsed.end, parsed.stopped);
        let pcap = Arc::clone(&fast.pcap);
        let input = self.current;
        (chunks.progress)(input, end);
        self.push(input, base, parsed.bytes, parsed.gathered);
        if stopped {
            // The rest of the file is the sequential reader's.
            let recycled: Vec<Vec<u8>> = match &mut self.mode {
                Mode::Fast(fast) => std::mem::take(&mut fast.parsed)
                    .into_values()
                    .map(|p| p.bytes)
                    .collect(),
                _ => Vec::new(),
            };
            for b in recycled {
                self.spare(b);
            }
            self.mode = match pcap.sequential_from(end, frames) {
                Ok(mut file) => {
                    if let Some(ts) = last_ts {
                        file.continue_at_time(ts);
                    }
                    Mode::Sequential(Some(Box::new(Sequential {
                        file,
                        pipe: false,
                        read: end,
                    })))
                }
                Err(e) => {
                    if let Some(s) = self.summaries.get_mut(input) {
                        s.record_failure(e);
                    }
                    self.end_input();
                    Mode::Next
                }
            };
        }
    }
}

/// A pcap file to be read by ranges of `range_bytes`.
fn fast_state(pcap: FastPcap, range_bytes: u64) -> Box<FastState> {
    Box::new(FastState {
        ranges: pcap.ranges(range_bytes),
        next_start: pcap.data_start(),
        pcap: Arc::new(pcap),
        next_claim: 0,
        next_confirm: 0,
        frames: 0,
        last_ts: None,
        parsed: BTreeMap::new(),
    })
}

impl FastState {
    /// The next range to read.
    fn claim(&mut self, bytes: Vec<u8>) -> Job {
        self.next_claim += 1;
        Job::Range(Arc::clone(&self.pcap), self.next_claim - 1, bytes)
    }
}

/// How input `spec` is read (`Next` when it cannot be opened: the
/// failure is in its summary).
fn open(spec: &InputSpec, summary: Option<&mut InputSummary>, range_bytes: u64) -> Mode {
    if let Some(pcap) = FastPcap::open(spec) {
        return Mode::Fast(fast_state(pcap, range_bytes));
    }
    match CaptureFile::open_input(spec) {
        Ok(file) => Mode::Sequential(Some(Box::new(Sequential {
            file,
            pipe: spec.stream,
            read: 0,
        }))),
        Err(e) => {
            if let Some(s) = summary {
                s.record_failure(e);
            }
            Mode::Next
        }
    }
}

/// Frames handed to the workers from another thread (a live capture's):
/// copied once into chunks, in order, as the next frames of the one input.
#[cfg(feature = "live")]
pub(super) struct Feeder<'c, 'a> {
    chunks: &'c Chunks<'a>,
    gathered: Gathered,
    bytes: Vec<u8>,
    base: u64,
}

#[cfg(feature = "live")]
impl<'c, 'a> Feeder<'c, 'a> {
    pub(super) fn new(chunks: &'c Chunks<'a>) -> Self {
        chunks.lock().mode = Mode::Fed;
        Feeder {
            chunks,
            gathered: Gathered::new(chunks.workers),
            bytes: Vec::new(),
            base: 0,
        }
    }

    /// The next frame of the input (numbered from 1, in order, by the
    /// caller); it goes to the workers with the chunk it fills, or at the
    /// next [`Feeder::flush`].
    pub(super) fn frame(&mut self, frame: &Frame<'_>) {
        if self.gathered.frames == 0 {
            self.base = frame.number.saturating_sub(1);
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(frame.data);
        self.gathered.frame(frame, start, self.chunks.ports);
        if self.gathered.frames as usize >= SEQ_FRAMES || self.bytes.len() >= SEQ_BYTES {
            self.flush();
        }
    }

    /// Hands the frames gathered so far to the workers now (waiting while
    /// as many chunks as may exist at once are not done).
    pub(super) fn flush(&mut self) {
        if self.gathered.frames == 0 {
            return;
        }
        let gathered = std::mem::replace(&mut self.gathered, Gathered::new(self.chunks.workers));
        let mut state = self.chunks.lock();
        while state.ready.len() >= self.chunks.window() && !state.failed {
            state = self
                .chunks
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let bytes = std::mem::replace(&mut self.bytes, state.spares.pop().unwrap_or_default());
        self.bytes.clear();
        if state.failed {
            // Nobody would take it.
            state.spare(bytes);
            return;
        }
        state.push(0, self.base, bytes, gathered);
        drop(state);
        self.chunks.changed.notify_all();
    }

    /// Moves capture time to `ts` without a packet, as
    /// `Pipeline::advance_clock` does; `next_frame` is
    /// the number the next frame will carry.
    pub(super) fn advance_clock(&mut self, next_frame: u64, ts: Timestamp) {
        self.flush();
        let mut state = self.chunks.lock();
        let Some(ts) = state.clock.observe(ts) else {
            return;
        };
        let chunk = Chunk {
            input: 0,
            base: next_frame.saturating_sub(1),
            bytes: Vec::new(),
            shards: (0..self.chunks.workers).map(|_| Vec::new()).collect(),
            ticks: vec![PacketRef {
                input: 0,
                frame: next_frame,
                ts,
            }],
        };
        state.ready.push_back(Ready {
            chunk: Arc::new(chunk),
            done: 0,
        });
        drop(state);
        self.chunks.changed.notify_all();
    }

    /// Flows the workers hold open now.
    pub(super) fn open_flows(&self) -> usize {
        self.chunks
            .flows
            .iter()
            .map(|f| f.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    /// The input ends: what is gathered goes to the workers, then the
    /// open sessions end.
    pub(super) fn end(mut self) {
        self.flush();
        let mut state = self.chunks.lock();
        if let Some(s) = state.summaries.get_mut(0) {
            s.format = "live";
        }
        state.end_input();
        state.advance(self.chunks);
        drop(state);
        self.chunks.changed.notify_all();
    }
}
