//! TLS recognition in a reassembled TCP byte stream, one direction at a time.
//!
//! Used after an accepted STARTTLS/STLS and from the first byte on the
//! implicit-TLS ports (465/993/995). It records what the handshake shows in
//! clear: the ClientHello (version, supported_versions, SNI), the
//! ServerHello (version, supported_versions, chosen cipher suite) and, in a
//! handshake of TLS 1.2 or older (where it crosses in clear), the server's
//! leaf certificate: its subject, issuer, expiry and SHA-256 fingerprint.
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
//! was parsed or given up on, then (after a ServerHello of TLS 1.2 or older)
//! at most [`MAX_CERTIFICATE_BYTES`] until the Certificate message was
//! parsed or given up on. After that, records are skipped by length.
//!
//! The certificate itself is parsed by x509-parser. A Certificate message
//! whose framing is broken (lengths that do not add up, an empty list)
//! reports nothing; a leaf whose DER x509-parser rejects is still reported
//! by its fingerprint, with no subject, issuer or expiry: the fingerprint is
//! what two sensors compare, and a parser's limits must not hide it.

use super::facts::{ServerCertificate, TlsHello};

/// Largest record body a peer may send (TLS 1.2 ciphertext: 2^14 + 2048).
pub(crate) const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Largest handshake message (header included) buffered to find the hello.
/// A longer first message is given up on; its records are still skipped.
pub(crate) const MAX_HELLO_BYTES: usize = 64 * 1024;

/// Largest Certificate message (header included) buffered to read the
/// server's leaf certificate. RFC 5246 section 7.4.2 lets a chain take up to
/// 2^24 - 1 bytes; real ones take a few KiB. A longer message is given up
/// on, nothing is reported, and its records are still skipped.
pub(crate) const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// SNI bytes kept (a DNS name has at most 253 characters).
pub(crate) const MAX_SNI_BYTES: usize = 255;

const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

const HANDSHAKE_HELLO_REQUEST: u8 = 0;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const HANDSHAKE_CERTIFICATE: u8 = 11;

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
    /// The server's leaf certificate (TLS 1.2 or older), after its hello.
    ServerCertificate(ServerCertificate),
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

/// How far the reader got with the server's Certificate message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CertificateState {
    /// Not looked for: no ServerHello yet, or one of TLS 1.3 (where the
    /// Certificate is encrypted).
    NotExpected,
    /// A ServerHello of TLS 1.2 or older went by: the next handshake
    /// message should be the Certificate.
    Waiting,
    /// Parsed and reported.
    Seen,
    /// Given up on: too long, malformed, another message came first (an
    /// anonymous suite, a resumed session), encrypted traffic or a gap.
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
    certificate: CertificateState,
    /// Handshake bytes buffered while looking for the hello, then the
    /// Certificate.
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
            certificate: CertificateState::NotExpected,
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
        self.stop_collecting();
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

    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn certificate_state(&self) -> CertificateState {
        self.certificate
    }

    /// Bytes of the handshake message being collected.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn buffered(&self) -> usize {
        self.hs.len()
    }

    /// Whether the handshake may still show something in clear: the hello,
    /// or the server's Certificate after it. When not, the rest of the
    /// stream is of no interest.
    pub(crate) fn collecting(&self) -> bool {
        self.hello == HelloState::Waiting || self.certificate == CertificateState::Waiting
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
                self.stop_collecting();
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
        if !self.collecting() {
            return;
        }
        match content_type {
            CONTENT_HANDSHAKE => self.handshake_bytes(chunk, out),
            // Encrypted traffic before the hello (or the Certificate):
            // nothing more in clear. (TLS 1.3 middlebox compatibility sends
            // a CCS right after a HelloRetryRequest; the ServerHello still
            // follows in clear.)
            CONTENT_CHANGE_CIPHER_SPEC if self.hello_retry && self.hello == HelloState::Waiting => {
            }
            CONTENT_CHANGE_CIPHER_SPEC | CONTENT_APPLICATION_DATA => self.abandon(),
            // Alerts and heartbeats do not interrupt the handshake stream.
            _ => {}
        }
    }

    /// Handshake-protocol bytes: framed into messages until the hello, then
    /// until the Certificate when one is expected.
    fn handshake_bytes(&mut self, mut data: &[u8], out: &mut Vec<TlsEvent>) {
        while !data.is_empty() && self.collecting() {
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
            let limit = if self.hello == HelloState::Waiting {
                MAX_HELLO_BYTES
            } else {
                MAX_CERTIFICATE_BYTES
            };
            if total > limit {
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
        if self.hello != HelloState::Waiting {
            // After a ServerHello of TLS 1.2 or older, the Certificate, if
            // the server sends one, comes next (RFC 5246 section 7.3); a
            // HelloRequest may come at any time and is skipped.
            let certificate = match msg_type {
                HANDSHAKE_HELLO_REQUEST => return,
                HANDSHAKE_CERTIFICATE => parse_certificate(body),
                _ => None,
            };
            match certificate {
                Some(certificate) => {
                    self.certificate = CertificateState::Seen;
                    self.hs = Vec::new();
                    out.push(TlsEvent::ServerCertificate(certificate));
                }
                None => self.abandon(),
            }
            return;
        }
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
                    if certificate_in_clear(hello.version()) {
                        self.certificate = CertificateState::Waiting;
                    }
                    self.hs = Vec::new();
                    out.push(TlsEvent::ServerHello(hello));
                }
                None => self.abandon(),
            },
            // The first handshake message of a direction is its hello.
            _ => self.abandon(),
        }
    }

    /// Gives up on what is being collected: the hello, else the Certificate.
    fn abandon(&mut self) {
        if self.hello == HelloState::Waiting {
            self.hello = HelloState::Abandoned;
        } else if self.certificate == CertificateState::Waiting {
            self.certificate = CertificateState::Abandoned;
        }
        self.hs = Vec::new();
    }

    /// The stream stopped being read: whatever was awaited is given up on.
    fn stop_collecting(&mut self) {
        if self.hello == HelloState::Waiting {
            self.hello = HelloState::Abandoned;
        }
        if self.certificate == CertificateState::Waiting {
            self.certificate = CertificateState::Abandoned;
        }
        self.hs = Vec::new();
    }
}

/// Does a handshake of this version send the server's Certificate in
/// clear? SSL 3.0 to TLS 1.2 do; TLS 1.3 (and its drafts, 0x7fxx) encrypts
/// it.
fn certificate_in_clear(version: u16) -> bool {
    (0x0300..=0x0303).contains(&version)
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

    /// A vector with a three-byte length.
    fn vec24(&mut self) -> Option<&'a [u8]> {
        let (&[a, b, c], rest) = self.rest.split_first_chunk::<3>()?;
        self.rest = rest;
        let n = u32::from_be_bytes([0, a, b, c]);
        self.take(usize::try_from(n).ok()?)
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

/// Parses a Certificate body (after the 4-byte handshake header, TLS 1.2
/// and older: RFC 5246 section 7.4.2): a list of DER certificates, each
/// with a three-byte length, the server's own first. The list must fill the
/// message and the leaf's entry must fit in it; the entries after the leaf
/// are not looked at.
fn parse_certificate(body: &[u8]) -> Option<ServerCertificate> {
    let mut cur = Cursor::new(body);
    let list = cur.vec24()?;
    if !cur.is_empty() {
        return None;
    }
    let leaf = Cursor::new(list).vec24()?;
    if leaf.is_empty() {
        return None;
    }
    Some(leaf_certificate(leaf))
}

/// What a leaf certificate's DER says: its fingerprint always, its names
/// and expiry when x509-parser reads it (see the module's documentation).
fn leaf_certificate(der: &[u8]) -> ServerCertificate {
    use sha2::Digest as _;
    let sha256 = sha2::Sha256::digest(der).into();
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => {
            let not_after = crate::time::Timestamp::new(cert.validity().not_after.timestamp(), 0);
            ServerCertificate {
                subject: Some(rfc4514(cert.subject())),
                issuer: Some(rfc4514(cert.issuer())),
                not_after: not_after.in_rfc3339_range().then_some(not_after),
                sha256,
            }
        }
        Err(_) => ServerCertificate {
            sha256,
            ..ServerCertificate::default()
        },
    }
}

/// A distinguished name as RFC 4514 writes it, which is how `openssl x509
/// -nameopt RFC2253` prints it: the last RDN first, `,` between RDNs and
/// `+` inside one, attribute types by their short name (else the dotted
/// OID), in string values `,+"\\<>;`, NUL, a leading `#` or space and a
/// trailing space escaped by a backslash (section 2.4), so that no value
/// can pass for another attribute. A value that is not a string x509-parser
/// reads (NumericString, PrintableString, UTF8String, IA5String) is written
/// `#` and the hex of its content bytes. Control characters are left as
/// they are: outputs escape them.
fn rfc4514(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut out = String::new();
    for (i, rdn) in name
        .iter_rdn()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            match x509_parser::objects::oid2abbrev(attr.attr_type(), registry) {
                Ok(abbrev) => out.push_str(abbrev),
                Err(_) => out.push_str(&attr.attr_type().to_id_string()),
            }
            out.push('=');
            match attr.as_str() {
                Ok(value) => escape_rfc4514_value(value, &mut out),
                Err(_) => {
                    out.push('#');
                    for b in attr.as_slice() {
                        out.push_str(&format!("{b:02x}"));
                    }
                }
            }
        }
    }
    out
}

/// A string attribute value with RFC 4514 section 2.4's escapes.
fn escape_rfc4514_value(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
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
