//! Writing classic pcap files (the libpcap format): sample captures, and
//! evidence packets exported from an analysis.
//!
//! The writer emits the 24-byte file header on creation and one 16-byte
//! record header plus the captured bytes per frame. Byte order and
//! timestamp resolution (micro- or nanoseconds) are chosen up front; frames
//! longer than the snaplen are cut to it, keeping their wire length.

use super::LinkType;
#[cfg(feature = "live")]
use crate::output_file::IfExists;
use crate::time::Timestamp;
use std::io::{self, Write};

/// Magic number of a microsecond-resolution pcap file.
pub(crate) const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic number of a nanosecond-resolution pcap file.
pub(crate) const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Default snaplen: what tcpdump uses (262144 bytes).
pub(crate) const DEFAULT_SNAPLEN: u32 = 262_144;

/// Timestamp resolution of a pcap file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsResolution {
    /// Microseconds (magic `a1b2c3d4`, the default): nanoseconds past a microsecond are dropped.
    #[default]
    Micros,
    /// Nanoseconds (magic `a1b23c4d`).
    Nanos,
}

/// Byte order of a pcap file's headers (the frames are written as given).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ByteOrder {
    /// Little-endian headers (the default).
    #[default]
    LittleEndian,
    /// Big-endian headers.
    BigEndian,
}

/// How a pcap file is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapOptions {
    /// Link type of every frame (tcpdump.org's LINKTYPE_ number).
    pub link: LinkType,
    /// Longest record; longer frames are cut to it.
    pub snaplen: u32,
    /// Timestamp resolution of the records (and the magic number that says it).
    pub resolution: TsResolution,
    /// Byte order of the file and record headers.
    pub byte_order: ByteOrder,
}

impl PcapOptions {
    /// Little-endian, microseconds, default snaplen.
    pub fn new(link: LinkType) -> Self {
        PcapOptions {
            link,
            snaplen: DEFAULT_SNAPLEN,
            resolution: TsResolution::Micros,
            byte_order: ByteOrder::LittleEndian,
        }
    }

    /// Sets the snaplen (at least 1: the writer refuses 0).
    pub fn snaplen(mut self, snaplen: u32) -> Self {
        self.snaplen = snaplen;
        self
    }

    /// Nanosecond timestamps.
    pub fn nanos(mut self) -> Self {
        self.resolution = TsResolution::Nanos;
        self
    }

    /// Big-endian headers.
    pub fn big_endian(mut self) -> Self {
        self.byte_order = ByteOrder::BigEndian;
        self
    }
}

/// Writes frames to a classic pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    options: PcapOptions,
    frames: u64,
}

impl<W: Write> PcapWriter<W> {
    /// A little-endian, microsecond-resolution file of the given link type.
    pub fn new(out: W, link: LinkType) -> io::Result<Self> {
        Self::with_options(out, PcapOptions::new(link))
    }

    /// Writes the file header and returns the writer.
    pub fn with_options(out: W, options: PcapOptions) -> io::Result<Self> {
        let link = u32::try_from(options.link).map_err(|_| {
            invalid(format!(
                "link type {} cannot be stored in a pcap file",
                options.link
            ))
        })?;
        if options.snaplen == 0 {
            return Err(invalid("snaplen must be at least 1".to_string()));
        }
        let magic = match options.resolution {
            TsResolution::Micros => MAGIC_MICROS,
            TsResolution::Nanos => MAGIC_NANOS,
        };
        let mut writer = PcapWriter {
            out,
            options,
            frames: 0,
        };
        let mut header = [0u8; 24];
        let mut at = Cursor::new(&mut header);
        at.u32(magic, options.byte_order);
        at.u16(2, options.byte_order); // version major
        at.u16(4, options.byte_order); // version minor
        at.u32(0, options.byte_order); // thiszone
        at.u32(0, options.byte_order); // sigfigs
        at.u32(options.snaplen, options.byte_order);
        at.u32(link, options.byte_order);
        writer.out.write_all(&header)?;
        Ok(writer)
    }

    #[cfg(test)]
    pub(crate) fn options(&self) -> &PcapOptions {
        &self.options
    }

    /// Frames written so far.
    #[cfg(any(test, feature = "live"))]
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes one frame. `data` is what was captured, `orig_len` the frame's
    /// length on the wire (raised to `data.len()` when smaller). Bytes past
    /// the snaplen are not written. Timestamps before 1970 or past 2106 do
    /// not fit the format and are refused.
    pub fn write_frame(&mut self, ts: Timestamp, data: &[u8], orig_len: u32) -> io::Result<()> {
        // Carries nanoseconds >= 1 s into the seconds.
        let ts = Timestamp::new(ts.secs, ts.nanos);
        let secs = u32::try_from(ts.secs).map_err(|_| {
            invalid(format!(
                "timestamp {} s does not fit a pcap record",
                ts.secs
            ))
        })?;
        let frac = match self.options.resolution {
            TsResolution::Micros => ts.nanos / 1000,
            TsResolution::Nanos => ts.nanos,
        };
        let data_len = u32::try_from(data.len())
            .map_err(|_| invalid(format!("frame of {} bytes is too large", data.len())))?;
        let caplen = data_len.min(self.options.snaplen);
        let kept = data.get(..caplen as usize).unwrap_or(data);
        let order = self.options.byte_order;
        let mut header = [0u8; 16];
        let mut at = Cursor::new(&mut header);
        at.u32(secs, order);
        at.u32(frac, order);
        at.u32(caplen, order);
        at.u32(orig_len.max(data_len), order);
        self.out.write_all(&header)?;
        self.out.write_all(kept)?;
        self.frames += 1;
        Ok(())
    }

    /// Flushes what was written to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    #[cfg(test)]
    pub(crate) fn get_ref(&self) -> &W {
        &self.out
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Fills a fixed header buffer front to back.
struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Cursor { buf, at: 0 }
    }

    fn put(&mut self, bytes: &[u8]) {
        let end = self.at.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }

    fn u32(&mut self, v: u32, order: ByteOrder) {
        match order {
            ByteOrder::LittleEndian => self.put(&v.to_le_bytes()),
            ByteOrder::BigEndian => self.put(&v.to_be_bytes()),
        }
    }

    fn u16(&mut self, v: u16, order: ByteOrder) {
        match order {
            ByteOrder::LittleEndian => self.put(&v.to_le_bytes()),
            ByteOrder::BigEndian => self.put(&v.to_be_bytes()),
        }
    }
}

/// Writes frames to `FILE`, and with a size limit goes on in `FILE.1`,
/// `FILE.2`, ... whenever the next frame would take the current file past
/// it (a file holds at least one frame, however large). Each file is a
/// complete pcap with the same options; `stripwatch analyze FILE FILE.*`
/// reads them back in order, sessions continuing from one into the next.
#[cfg(feature = "live")]
pub struct RotatingPcapWriter {
    base: std::path::PathBuf,
    options: PcapOptions,
    if_exists: IfExists,
    /// Bytes at which a file is full; `None`: one file.
    limit: Option<u64>,
    current: PcapWriter<io::BufWriter<std::fs::File>>,
    /// Bytes in the current file (headers included).
    bytes: u64,
    /// Every file written so far, the current one last.
    files: Vec<std::path::PathBuf>,
    /// Frames written, over all files.
    frames: u64,
}

/// Size of the file header and of a record header.
#[cfg(feature = "live")]
const FILE_HEADER: u64 = 24;
#[cfg(feature = "live")]
const RECORD_HEADER: u64 = 16;

#[cfg(feature = "live")]
impl RotatingPcapWriter {
    /// Creates `base` and writes its header. `limit_bytes`: the size at
    /// which to go on in the next file. Every file is created as
    /// [`crate::output_file`] says (new, 0600; one already there is an
    /// error unless `if_exists` replaces it).
    pub fn create(
        base: &std::path::Path,
        options: PcapOptions,
        limit_bytes: Option<u64>,
        if_exists: IfExists,
    ) -> io::Result<Self> {
        let current = Self::open(base, options, if_exists)?;
        Ok(RotatingPcapWriter {
            base: base.to_path_buf(),
            options,
            if_exists,
            limit: limit_bytes.map(|l| l.max(1)),
            current,
            bytes: FILE_HEADER,
            files: vec![base.to_path_buf()],
            frames: 0,
        })
    }

    fn open(
        path: &std::path::Path,
        options: PcapOptions,
        if_exists: IfExists,
    ) -> io::Result<PcapWriter<io::BufWriter<std::fs::File>>> {
        let file = crate::output_file::create(path, if_exists)?;
        PcapWriter::with_options(io::BufWriter::with_capacity(1 << 20, file), options)
    }

    /// The files written so far, in order.
    pub(crate) fn files(&self) -> &[std::path::PathBuf] {
        &self.files
    }

    /// Frames written over all files.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes one frame (see [`PcapWriter::write_frame`]), starting the
    /// next file first when this one would grow past the limit.
    pub(crate) fn write_frame(
        &mut self,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let kept = (data.len() as u64).min(u64::from(self.options.snaplen));
        let record = RECORD_HEADER + kept;
        if let Some(limit) = self.limit {
            if self.current.frames() > 0 && self.bytes.saturating_add(record) > limit {
                self.rotate()?;
            }
        }
        self.current.write_frame(ts, data, orig_len)?;
        self.bytes += record;
        self.frames += 1;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.current.flush()?;
        let mut name = self.base.clone().into_os_string();
        name.push(format!(".{}", self.files.len()));
        let path = std::path::PathBuf::from(name);
        self.current = Self::open(&path, self.options, self.if_exists)?;
        self.bytes = FILE_HEADER;
        self.files.push(path);
        Ok(())
    }

    /// Pushes what is buffered to the current file.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.current.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::capture::{CaptureErrorKind, CaptureFile, CaptureFormat};

    #[derive(Debug, PartialEq)]
    struct Read {
        number: u64,
        ts: Timestamp,
        link: LinkType,
        data: Vec<u8>,
        orig_len: u32,
    }

    fn read_back(bytes: Vec<u8>) -> Vec<Read> {
        let mut file =
            CaptureFile::from_reader("mem".into(), Box::new(std::io::Cursor::new(bytes))).unwrap();
        let mut out = Vec::new();
        file.for_each_frame(|f| {
            out.push(Read {
                number: f.number,
                ts: f.ts,
                link: f.link,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
            });
            true
        })
        .unwrap();
        assert_eq!(file.format(), CaptureFormat::Pcap);
        out
    }

    fn frames() -> Vec<(Timestamp, Vec<u8>, u32)> {
        vec![
            (Timestamp::new(1_709_294_400, 0), b"first".to_vec(), 5),
            (
                Timestamp::new(1_709_294_400, 123_456_789),
                vec![0xab; 100],
                100,
            ),
            (Timestamp::new(1_709_294_401, 999_999_999), Vec::new(), 60),
        ]
    }

    fn write_all(options: PcapOptions) -> Vec<u8> {
        let mut w = PcapWriter::with_options(Vec::new(), options).unwrap();
        for (ts, data, len) in frames() {
            w.write_frame(ts, &data, len).unwrap();
        }
        assert_eq!(w.frames(), 3);
        w.into_inner().unwrap()
    }

    #[test]
    fn micros_little_endian_layout() {
        let bytes = write_all(PcapOptions::new(1));
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[4..8], &[2, 0, 4, 0]);
        assert_eq!(&bytes[16..20], &DEFAULT_SNAPLEN.to_le_bytes());
        assert_eq!(&bytes[20..24], &1u32.to_le_bytes());
        assert_eq!(bytes.len(), 24 + 3 * 16 + 5 + 100);
        let read = read_back(bytes);
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].number, 1);
        assert_eq!(read[0].data, b"first");
        assert_eq!(read[0].link, 1);
        // Microseconds: the nanoseconds below a microsecond are dropped.
        assert_eq!(read[1].ts, Timestamp::new(1_709_294_400, 123_456_000));
        assert_eq!(read[2].ts, Timestamp::new(1_709_294_401, 999_999_000));
        assert_eq!((read[2].data.len(), read[2].orig_len), (0, 60));
    }

    #[test]
    fn nanos_big_endian_round_trip() {
        let bytes = write_all(PcapOptions::new(113).nanos().big_endian());
        assert_eq!(&bytes[..4], &[0xa1, 0xb2, 0x3c, 0x4d]);
        assert_eq!(&bytes[20..24], &113u32.to_be_bytes());
        let read = read_back(bytes);
        let want: Vec<Read> = frames()
            .into_iter()
            .enumerate()
            .map(|(i, (ts, data, orig_len))| Read {
                number: i as u64 + 1,
                ts,
                link: 113,
                data,
                orig_len,
            })
            .collect();
        assert_eq!(read, want);
    }

    #[test]
    fn micros_big_endian_and_nanos_little_endian_magics() {
        let be = write_all(PcapOptions::new(101).big_endian());
        assert_eq!(&be[..4], &[0xa1, 0xb2, 0xc3, 0xd4]);
        assert_eq!(read_back(be)[1].ts.nanos, 123_456_000);
        let ns = write_all(PcapOptions::new(276).nanos());
        assert_eq!(&ns[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        let read = read_back(ns);
        assert_eq!(read[1].ts.nanos, 123_456_789);
        assert_eq!(read[1].link, 276);
    }

    #[test]
    fn snaplen_cuts_and_keeps_wire_length() {
        let mut w = PcapWriter::with_options(Vec::new(), PcapOptions::new(1).snaplen(68)).unwrap();
        let frame: Vec<u8> = (0..200u8).collect();
        w.write_frame(Timestamp::new(10, 0), &frame, 200).unwrap();
        // orig_len below the data length is raised to it.
        w.write_frame(Timestamp::new(11, 0), &frame[..30], 3)
            .unwrap();
        let bytes = w.into_inner().unwrap();
        assert_eq!(&bytes[16..20], &68u32.to_le_bytes());
        let read = read_back(bytes);
        assert_eq!(read[0].data, &frame[..68]);
        assert_eq!(read[0].orig_len, 200);
        assert_eq!(read[1].data, &frame[..30]);
        assert_eq!(read[1].orig_len, 30);
    }

    #[test]
    fn any_link_type_and_no_frames() {
        let w = PcapWriter::new(Vec::new(), 147).unwrap();
        assert_eq!(w.options().link, 147);
        let bytes = w.into_inner().unwrap();
        assert_eq!(bytes.len(), 24);
        assert!(read_back(bytes).is_empty());
    }

    #[test]
    fn refuses_what_the_format_cannot_hold() {
        assert!(PcapWriter::new(Vec::new(), -1).is_err());
        assert!(PcapWriter::with_options(Vec::new(), PcapOptions::new(1).snaplen(0)).is_err());
        let mut w = PcapWriter::new(Vec::new(), 1).unwrap();
        let err = w.write_frame(Timestamp::new(-1, 0), b"x", 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(w.write_frame(Timestamp::new(1 << 33, 0), b"x", 1).is_err());
        assert_eq!(w.frames(), 0);
        assert_eq!(w.get_ref().len(), 24);
    }

    #[test]
    #[cfg(feature = "live")]
    fn rotates_by_size_into_numbered_files() {
        let dir = std::env::temp_dir().join(format!("stripwatch-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("cap.pcap");
        // Room for the header and two 100-byte frames (16 + 100 each).
        let limit = 24 + 2 * 116;
        let mut w =
            RotatingPcapWriter::create(&base, PcapOptions::new(1), Some(limit), IfExists::Fail)
                .unwrap();
        for i in 0..5u8 {
            w.write_frame(Timestamp::new(100 + i64::from(i), 0), &[i; 100], 100)
                .unwrap();
        }
        // A frame larger than the limit still gets a file of its own.
        w.write_frame(Timestamp::new(200, 0), &[9; 400], 400)
            .unwrap();
        w.flush().unwrap();
        assert_eq!(w.frames(), 6);
        let names: Vec<String> = w
            .files()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["cap.pcap", "cap.pcap.1", "cap.pcap.2", "cap.pcap.3"]
        );
        let counts: Vec<usize> = w
            .files()
            .iter()
            .map(|p| read_back(std::fs::read(p).unwrap()).len())
            .collect();
        assert_eq!(counts, [2, 2, 1, 1]);
        assert!(
            w.files()
                .iter()
                .take(3)
                .all(|p| std::fs::metadata(p).unwrap().len() <= limit)
        );
        let last = read_back(std::fs::read(&w.files()[3]).unwrap());
        assert_eq!((last[0].number, last[0].data.len()), (1, 400));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cut_file_reads_up_to_the_damage() {
        let bytes = write_all(PcapOptions::new(1));
        // Cut inside the third record's header.
        let cut = bytes[..24 + 16 + 5 + 16 + 100 + 8].to_vec();
        let mut file =
            CaptureFile::from_reader("cut".into(), Box::new(std::io::Cursor::new(cut))).unwrap();
        let mut seen = 0;
        let err = file
            .for_each_frame(|_| {
                seen += 1;
                true
            })
            .unwrap_err();
        assert_eq!(seen, 2);
        assert_eq!(err.packet, Some(3));
        assert!(matches!(err.kind, CaptureErrorKind::Truncated));
    }
}
