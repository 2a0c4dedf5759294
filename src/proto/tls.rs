//! TLS recognition in a reassembled TCP byte stream, one direction at a time.
//!
//! Used after an accepted STARTTLS/STLS and from the first byte on the
//! implicit-TLS ports (465/993/995). It records what the handshake shows in
//! clear: the ClientHello (version, supported_versions, SNI) and the
//! ServerHello (version, supported_versions, chosen cipher suite).
//!
//! The record layer and the handshake framing are read by hand, incrementally:
//! bytes may arrive one at a time, a record or a handshake message may span
//! any number of segments, and a hello may span several records. The hello
//! bodies are parsed by hand too, with a bounds-checked cursor; `tls-parser`
//! serves for the IANA cipher-suite names and as the reference the tests
//! compare against. (Its ServerHello parser rejects any legacy version
//! outside 0x0300..=0x0303, its extension-list parser silently drops every
//! extension after one it finds malformed, and it has no SSLv2-compatible
//! ClientHello: a passive recorder must report what crossed, not give up.)
//!
//! Memory is bounded whatever the peer sends: a 5-byte header buffer, and at
//! most [`MAX_HELLO_BYTES`] of handshake bytes until the direction's hello
//! was parsed or given up on. After that, records are skipped by length.

use super::facts::TlsHello;

/// Largest record body a peer may send (TLS 1.2 ciphertext: 2^14 + 2048).
pub(crate) const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Largest handshake message (header included) buffered to find the hello.
/// A longer first message is given up on; its records are still skipped.
pub(crate) const MAX_HELLO_BYTES: usize = 64 * 1024;

/// SNI bytes kept (a DNS name has at most 253 characters).
pub(crate) const MAX_SNI_BYTES: usize = 255;

const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// SSLv2 ClientHello body before its variable parts: msg_type, version,
/// cipher_spec_length, session_id_length, challenge_length.
const SSLV2_FIXED_LEN: usize = 9;

/// The ServerHello random that marks a TLS 1.3 HelloRetryRequest
/// (SHA-256 of "HelloRetryRequest", RFC 8446 section 4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What the first bytes of a stream look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sniff {
    Tls,
    NotTls,
    /// Every byte so far fits; more are needed to decide.
    NeedMore,
}

/// Does a stream that starts with `bytes` look like TLS?
///
/// Looks at a record header (content type 20..=24, version major 3, minor
/// 0..=4, length at most 2^14 + 2048) or an SSLv2-compatible ClientHello
/// (high bit of the first byte set, a length of at least the fixed part,
/// message type 1, version major 3). Decides on the first byte that does not
/// fit, or on the fifth byte.
pub(crate) fn sniff(bytes: &[u8]) -> Sniff {
    match bytes.first() {
        None => Sniff::NeedMore,
        Some(&b) if b & 0x80 != 0 => sniff_sslv2(bytes),
        Some(_) => sniff_record(bytes),
    }
}

/// A TLS record header (or a prefix of one).
fn sniff_record(bytes: &[u8]) -> Sniff {
    if let Some(&content_type) = bytes.first() {
        if !(20..=24).contains(&content_type) {
            return Sniff::NotTls;
        }
    }
    if let Some(&major) = bytes.get(1) {
        if major != 3 {
            return Sniff::NotTls;
        }
    }
    if let Some(&minor) = bytes.get(2) {
        if minor > 4 {
            return Sniff::NotTls;
        }
    }
    if let Some(&hi) = bytes.get(3) {
        if usize::from(hi) << 8 > MAX_RECORD_LEN {
            return Sniff::NotTls;
        }
    }
    match bytes.get(3..RECORD_HEADER_LEN) {
        Some(&[hi, lo]) if usize::from(u16::from_be_bytes([hi, lo])) <= MAX_RECORD_LEN => {
            Sniff::Tls
        }
        Some(_) => Sniff::NotTls,
        None => Sniff::NeedMore,
    }
}

/// An SSLv2-compatible ClientHello header: 2-byte length with the high bit
/// set, message type 1, version 3.x.
fn sniff_sslv2(bytes: &[u8]) -> Sniff {
    if let Some(len) = sslv2_length(bytes) {
        if len < SSLV2_FIXED_LEN {
            return Sniff::NotTls;
        }
    }
    if let Some(&msg_type) = bytes.get(2) {
        if msg_type != HANDSHAKE_CLIENT_HELLO {
            return Sniff::NotTls;
        }
    }
    if let Some(&major) = bytes.get(3) {
        if major != 3 {
            return Sniff::NotTls;
        }
    }
    if bytes.len() >= RECORD_HEADER_LEN {
        Sniff::Tls
    } else {
        Sniff::NeedMore
    }
}

fn sslv2_length(bytes: &[u8]) -> Option<usize> {
    match bytes.get(..2) {
        Some(&[hi, lo]) => Some(usize::from(u16::from_be_bytes([hi & 0x7f, lo]))),
        _ => None,
    }
}

/// The IANA name of a cipher suite, from tls-parser's table.
pub(crate) fn cipher_name(id: u16) -> Option<&'static str> {
    tls_parser::TlsCipherSuite::from_id(id).map(|suite| suite.name)
}

/// What a [`TlsReader`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TlsEvent {
    ClientHello(TlsHello),
    ServerHello(TlsHello),
    /// The stream stopped looking like TLS records (or never did). Reported
    /// once; see [`TlsReader::not_tls_offset`] for where.
    NotTls,
}

/// How far the reader got with its direction's hello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HelloState {
    /// Still looking for it.
    Waiting,
    /// Parsed and reported.
    Seen,
    /// Given up on: too long, malformed, not the first handshake message,
    /// encrypted traffic or a gap came first.
    Abandoned,
}

/// Whether the reader still interprets its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) enum ReaderState {
    /// Following records.
    Reading,
    /// Bytes that are not a TLS record were seen; nothing more is read.
    NotTls,
    /// A gap broke the stream; nothing more is read (no resynchronisation).
    Desynchronized,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Collecting a record header (`hdr_len` bytes so far).
    Header,
    /// Inside a record body.
    Body {
        content_type: u8,
        remaining: usize,
    },
    /// Inside an SSLv2-compatible ClientHello body (buffered in `hs`).
    Sslv2 {
        remaining: usize,
    },
    NotTls,
    Desync,
}

/// Reads one direction's TLS records incrementally and reports its hello.
///
/// Buffers at most what the first handshake message needs (bounded by
/// [`MAX_HELLO_BYTES`]); after the hello was seen or given up on, it only
/// skips records by their length, checking each header.
#[derive(Clone, Debug)]
pub(crate) struct TlsReader {
    stage: Stage,
    hdr: [u8; RECORD_HEADER_LEN],
    hdr_len: usize,
    /// Record headers accepted so far.
    records: u64,
    hello: HelloState,
    /// Handshake bytes buffered while looking for the hello.
    hs: Vec<u8>,
    /// A TLS 1.3 HelloRetryRequest went by (the real ServerHello follows).
    hello_retry: bool,
    /// Stream offset of the next byte (gaps included).
    offset: u64,
    /// Stream offset of the current record header.
    record_start: u64,
    not_tls_at: Option<u64>,
    gap_bytes: u64,
    ignored_bytes: u64,
}

impl Default for TlsReader {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsReader {
    pub(crate) fn new() -> Self {
        TlsReader {
            stage: Stage::Header,
            hdr: [0; RECORD_HEADER_LEN],
            hdr_len: 0,
            records: 0,
            hello: HelloState::Waiting,
            hs: Vec::new(),
            hello_retry: false,
            offset: 0,
            record_start: 0,
            not_tls_at: None,
            gap_bytes: 0,
            ignored_bytes: 0,
        }
    }

    /// Reads the next in-order bytes of the stream; events go to `out`.
    pub(crate) fn feed(&mut self, bytes: &[u8], out: &mut Vec<TlsEvent>) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.stage {
                Stage::NotTls | Stage::Desync => {
                    self.ignored_bytes = self.ignored_bytes.saturating_add(len64(rest));
                    self.offset = self.offset.saturating_add(len64(rest));
                    return;
                }
                Stage::Header => rest = self.read_header(rest, out),
                Stage::Body {
                    content_type,
                    remaining,
                } => {
                    let (chunk, tail) = split(rest, remaining);
                    let left = remaining.saturating_sub(chunk.len());
                    self.offset = self.offset.saturating_add(len64(chunk));
                    self.stage = if left == 0 {
                        Stage::Header
                    } else {
                        Stage::Body {
                            content_type,
                            remaining: left,
                        }
                    };
                    self.record_bytes(content_type, chunk, out);
                    rest = tail;
                }
                Stage::Sslv2 { remaining } => {
                    let (chunk, tail) = split(rest, remaining);
                    let left = remaining.saturating_sub(chunk.len());
                    self.offset = self.offset.saturating_add(len64(chunk));
                    self.hs.extend_from_slice(chunk);
                    if left == 0 {
                        self.stage = Stage::Header;
                        match parse_sslv2_client_hello(&self.hs) {
                            Some(hello) => {
                                self.hello = HelloState::Seen;
                                out.push(TlsEvent::ClientHello(hello));
                            }
                            None => self.hello = HelloState::Abandoned,
                        }
                        self.hs = Vec::new();
                    } else {
                        self.stage = Stage::Sslv2 { remaining: left };
                    }
                    rest = tail;
                }
            }
        }
    }

    /// A gap of `len` bytes in the stream. Resynchronisation is not
    /// attempted: the reader stops interpreting, counts the gap, and only
    /// reports (through [`TlsReader::state`]) that it is desynchronised.
    /// A hello still being collected is given up on.
    pub(crate) fn gap(&mut self, len: u64) {
        if len == 0 {
            return;
        }
        self.offset = self.offset.saturating_add(len);
        self.gap_bytes = self.gap_bytes.saturating_add(len);
        if !matches!(self.stage, Stage::NotTls) {
            self.stage = Stage::Desync;
        }
        if self.hello == HelloState::Waiting {
            self.hello = HelloState::Abandoned;
        }
        self.hs = Vec::new();
    }

    /// This direction's hello (ClientHello or ServerHello) was reported.
    #[cfg(test)]
    pub(crate) fn hello_seen(&self) -> bool {
        self.hello == HelloState::Seen
    }

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn hello_state(&self) -> HelloState {
        self.hello
    }

    /// A TLS 1.3 HelloRetryRequest went by in this direction.
    #[cfg(test)]
    pub(crate) fn hello_retry(&self) -> bool {
        self.hello_retry
    }

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn state(&self) -> ReaderState {
        match self.stage {
            Stage::NotTls => ReaderState::NotTls,
            Stage::Desync => ReaderState::Desynchronized,
            Stage::Header | Stage::Body { .. } | Stage::Sslv2 { .. } => ReaderState::Reading,
        }
    }

    /// Stream offset (from the first byte fed) where the bytes that are not
    /// a TLS record begin, once [`TlsEvent::NotTls`] was reported.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn not_tls_offset(&self) -> Option<u64> {
        self.not_tls_at
    }

    /// Record headers accepted (an SSLv2 ClientHello counts as one).
    #[cfg(test)]
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Bytes reported missing through [`TlsReader::gap`].
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn gap_bytes(&self) -> u64 {
        self.gap_bytes
    }

    /// Bytes fed after the reader stopped interpreting (including the
    /// header bytes that did not look like TLS).
    #[cfg(test)]
    pub(crate) fn ignored_bytes(&self) -> u64 {
        self.ignored_bytes
    }

    /// Stream bytes seen so far, gaps included.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Collects header bytes and, once they decide, starts the record.
    fn read_header<'a>(&mut self, rest: &'a [u8], out: &mut Vec<TlsEvent>) -> &'a [u8] {
        if self.hdr_len == 0 {
            self.record_start = self.offset;
        }
        let (take, tail) = split(rest, RECORD_HEADER_LEN.saturating_sub(self.hdr_len));
        for &b in take {
            if let Some(slot) = self.hdr.get_mut(self.hdr_len) {
                *slot = b;
                self.hdr_len += 1;
            }
        }
        self.offset = self.offset.saturating_add(len64(take));
        let seen = self.hdr.get(..self.hdr_len).unwrap_or(&[]);
        let verdict = if self.records == 0 {
            sniff(seen)
        } else {
            sniff_record(seen)
        };
        match verdict {
            Sniff::NeedMore => {}
            Sniff::NotTls => {
                self.ignored_bytes = self.ignored_bytes.saturating_add(len64(seen));
                self.not_tls_at = Some(self.record_start);
                self.stage = Stage::NotTls;
                self.hdr_len = 0;
                if self.hello == HelloState::Waiting {
                    self.hello = HelloState::Abandoned;
                }
                self.hs = Vec::new();
                out.push(TlsEvent::NotTls);
            }
            Sniff::Tls => self.start_record(),
        }
        tail
    }

    /// A complete, plausible header is in `hdr`.
    fn start_record(&mut self) {
        self.records = self.records.saturating_add(1);
        self.hdr_len = 0;
        let [first, second, third, fourth, fifth] = self.hdr;
        if first & 0x80 != 0 {
            // SSLv2-compatible ClientHello: 2-byte length, then the body,
            // whose first three bytes are already in `hdr`.
            let len = sslv2_length(&[first, second]).unwrap_or(0);
            self.hs = Vec::with_capacity(len);
            self.hs.extend_from_slice(&[third, fourth, fifth]);
            let remaining = len.saturating_sub(3);
            if remaining == 0 {
                // Cannot happen (sniff wants the fixed part), but stay sane.
                self.hello = HelloState::Abandoned;
                self.hs = Vec::new();
                self.stage = Stage::Header;
            } else {
                self.stage = Stage::Sslv2 { remaining };
            }
        } else {
            let len = usize::from(u16::from_be_bytes([fourth, fifth]));
            self.stage = if len == 0 {
                Stage::Header
            } else {
                Stage::Body {
                    content_type: first,
                    remaining: len,
                }
            };
        }
    }

    /// Body bytes of a record of `content_type`.
    fn record_bytes(&mut self, content_type: u8, chunk: &[u8], out: &mut Vec<TlsEvent>) {
        if self.hello != HelloState::Waiting {
            return;
        }
        match content_type {
            CONTENT_HANDSHAKE => self.handshake_bytes(chunk, out),
            // Encrypted traffic before the hello: nothing more in clear.
            // (TLS 1.3 middlebox compatibility sends a CCS right after a
            // HelloRetryRequest; the ServerHello still follows in clear.)
            CONTENT_CHANGE_CIPHER_SPEC if self.hello_retry => {}
            CONTENT_CHANGE_CIPHER_SPEC | CONTENT_APPLICATION_DATA => self.abandon(),
            // Alerts and heartbeats do not interrupt the handshake stream.
            _ => {}
        }
    }

    /// Handshake-protocol bytes: framed into messages until the hello.
    fn handshake_bytes(&mut self, mut data: &[u8], out: &mut Vec<TlsEvent>) {
        while !data.is_empty() && self.hello == HelloState::Waiting {
            let want = match handshake_total(&self.hs) {
                Some(total) => total.saturating_sub(self.hs.len()),
                None => HANDSHAKE_HEADER_LEN.saturating_sub(self.hs.len()),
            };
            let (take, tail) = split(data, want.max(1));
            data = tail;
            let had_header = self.hs.len() >= HANDSHAKE_HEADER_LEN;
            self.hs.extend_from_slice(take);
            let Some(total) = handshake_total(&self.hs) else {
                continue;
            };
            if total > MAX_HELLO_BYTES {
                self.abandon();
                return;
            }
            if !had_header {
                self.hs.reserve_exact(total.saturating_sub(self.hs.len()));
            }
            if self.hs.len() >= total {
                self.handshake_message(out);
                self.hs.clear();
            }
        }
    }

    /// A complete handshake message is in `hs`.
    fn handshake_message(&mut self, out: &mut Vec<TlsEvent>) {
        let (msg_type, body) = match self.hs.split_first() {
            Some((&t, rest)) => (t, rest.get(3..).unwrap_or(&[])),
            None => return,
        };
        match msg_type {
            HANDSHAKE_CLIENT_HELLO => match parse_client_hello(body) {
                Some(hello) => {
                    self.hello = HelloState::Seen;
                    self.hs = Vec::new();
                    out.push(TlsEvent::ClientHello(hello));
                }
                None => self.abandon(),
            },
            HANDSHAKE_SERVER_HELLO => match parse_server_hello(body) {
                Some(ServerHello {
                    retry_request: true,
                    ..
                }) => self.hello_retry = true,
                Some(ServerHello { hello, .. }) => {
                    self.hello = HelloState::Seen;
                    self.hs = Vec::new();
                    out.push(TlsEvent::ServerHello(hello));
                }
                None => self.abandon(),
            },
            // The first handshake message of a direction is its hello.
            _ => self.abandon(),
        }
    }

    fn abandon(&mut self) {
        self.hello = HelloState::Abandoned;
        self.hs = Vec::new();
    }
}

/// Total length (header included) of the handshake message starting `hs`.
fn handshake_total(hs: &[u8]) -> Option<usize> {
    match hs.get(1..HANDSHAKE_HEADER_LEN) {
        Some(&[a, b, c]) => {
            let len = u32::from_be_bytes([0, a, b, c]);
            Some((len as usize).saturating_add(HANDSHAKE_HEADER_LEN))
        }
        _ => None,
    }
}

fn split(bytes: &[u8], at: usize) -> (&[u8], &[u8]) {
    bytes
        .split_at_checked(at.min(bytes.len()))
        .unwrap_or((bytes, &[]))
}

fn len64(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

/// A bounds-checked reader over a byte slice.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { rest: bytes }
    }

    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        let (head, rest) = self.rest.split_first_chunk::<2>()?;
        self.rest = rest;
        Some(u16::from_be_bytes(*head))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(head)
    }

    /// A vector with a one-byte length.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Iterates (type, data) over an extensions block (the bytes after the
/// two-byte block length), stopping at the first truncated extension.
fn extensions(block: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut cur = Cursor::new(block);
    std::iter::from_fn(move || {
        let ext_type = cur.u16()?;
        let data = cur.vec16()?;
        Some((ext_type, data))
    })
}

/// The optional extensions block at the end of a hello. A block whose
/// declared length runs past the message counts as absent.
fn extensions_block<'a>(cur: &mut Cursor<'a>) -> &'a [u8] {
    if cur.is_empty() {
        return &[];
    }
    cur.vec16().unwrap_or(&[])
}

/// The first host_name of a server_name extension.
fn parse_sni(data: &[u8]) -> Option<String> {
    let mut cur = Cursor::new(data);
    let list = cur.vec16()?;
    let mut entries = Cursor::new(list);
    while !entries.is_empty() {
        let name_type = entries.u8()?;
        let name = entries.vec16()?;
        if name_type == 0 {
            let kept = name.get(..MAX_SNI_BYTES).unwrap_or(name);
            return Some(String::from_utf8_lossy(kept).into_owned());
        }
    }
    None
}

/// The highest version a ClientHello's supported_versions offers (GREASE
/// ignored; 3.x versions rank above experimental ones).
fn highest_offered_version(data: &[u8]) -> Option<u16> {
    let mut cur = Cursor::new(data);
    let list = cur.vec8()?;
    list.chunks_exact(2)
        .filter_map(|pair| match pair {
            &[hi, lo] => Some(u16::from_be_bytes([hi, lo])),
            _ => None,
        })
        .filter(|&v| !is_grease(v))
        .max_by_key(|&v| (v >> 8 == 3, v))
}

/// Parses a ClientHello body (after the 4-byte handshake header).
///
/// The fixed part must be complete; the extensions are read best-effort
/// (a truncated extension ends the scan, keeping what was found).
fn parse_client_hello(body: &[u8]) -> Option<TlsHello> {
    let mut cur = Cursor::new(body);
    let legacy_version = cur.u16()?;
    cur.take(32)?; // random
    let session_id = cur.vec8()?;
    if session_id.len() > 32 {
        return None;
    }
    let ciphers = cur.vec16()?;
    if ciphers.len() % 2 != 0 {
        return None;
    }
    cur.vec8()?; // compression methods
    let mut hello = TlsHello {
        legacy_version,
        ..TlsHello::default()
    };
    for (ext_type, data) in extensions(extensions_block(&mut cur)) {
        match ext_type {
            EXT_SERVER_NAME if hello.sni.is_none() => hello.sni = parse_sni(data),
            EXT_SUPPORTED_VERSIONS if hello.supported_version.is_none() => {
                hello.supported_version = highest_offered_version(data);
            }
            _ => {}
        }
    }
    Some(hello)
}

struct ServerHello {
    hello: TlsHello,
    /// A TLS 1.3 HelloRetryRequest (same layout, special random).
    retry_request: bool,
}

/// Parses a ServerHello body (after the 4-byte handshake header): TLS 1.3
/// drafts up to 21 (version 0x7fxx) have neither session id nor
/// compression; SSL 3.0 may end without extensions.
fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut cur = Cursor::new(body);
    let legacy_version = cur.u16()?;
    let random = cur.take(32)?;
    let draft = legacy_version >> 8 == 0x7f;
    if !draft {
        let session_id = cur.vec8()?;
        if session_id.len() > 32 {
            return None;
        }
    }
    let cipher = cur.u16()?;
    if !draft {
        cur.u8()?; // compression method
    }
    let mut hello = TlsHello {
        legacy_version,
        cipher: Some(cipher),
        ..TlsHello::default()
    };
    for (ext_type, data) in extensions(extensions_block(&mut cur)) {
        if ext_type == EXT_SUPPORTED_VERSIONS && hello.supported_version.is_none() {
            if let &[hi, lo] = data {
                hello.supported_version = Some(u16::from_be_bytes([hi, lo]));
            }
        }
    }
    Some(ServerHello {
        hello,
        retry_request: random == HELLO_RETRY_RANDOM,
    })
}

/// Parses an SSLv2-compatible ClientHello body (after the 2-byte length):
/// msg_type, version, three lengths, then exactly that many bytes.
fn parse_sslv2_client_hello(body: &[u8]) -> Option<TlsHello> {
    let mut cur = Cursor::new(body);
    if cur.u8()? != HANDSHAKE_CLIENT_HELLO {
        return None;
    }
    let version = cur.u16()?;
    let cipher_specs = usize::from(cur.u16()?);
    let session_id = usize::from(cur.u16()?);
    let challenge = usize::from(cur.u16()?);
    if cipher_specs % 3 != 0 || cipher_specs + session_id + challenge != cur.rest.len() {
        return None;
    }
    Some(TlsHello {
        legacy_version: version,
        ..TlsHello::default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "tls_tests.rs"]
mod tests;
