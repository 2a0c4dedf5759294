//! The reads pcap-parser makes while it opens a capture, made safe for a
//! pipe from a capture still running (`tcpdump -w - | stripwatch ...`).
//!
//! pcap-parser 0.17 reads twice before it returns a reader: once to
//! recognise the format, then once more to fill its buffer. On a pipe the
//! second read waits for the writer's next packets, and the packets that
//! already arrived (a whole session, perhaps) are held back until then.
//! [`OpeningReads`] makes the first read return at least the file header
//! (waiting for it if it arrives in pieces) and the second return nothing;
//! every later read (the reader's refills) goes straight through.

use std::io::{self, Read};

/// A classic pcap file header's length.
const PCAP_HEADER: usize = 24;
/// pcapng section header block: type, length, byte-order magic.
const SECTION_HEADER: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC_LE: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];

pub(crate) struct OpeningReads<R> {
    inner: R,
    reads: u8,
}

impl<R: Read> OpeningReads<R> {
    pub(crate) fn new(inner: R) -> Self {
        OpeningReads { inner, reads: 0 }
    }

    /// Reads into `buf` until it holds the file header (or the input
    /// ends): 24 bytes for pcap, the section header block for pcapng.
    fn read_header(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            let need = header_len(buf.get(..filled).unwrap_or_default()).min(buf.len());
            if filled >= need {
                return Ok(filled);
            }
            let Some(space) = buf.get_mut(filled..) else {
                return Ok(filled);
            };
            match self.inner.read(space) {
                Ok(0) => return Ok(filled),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled == 0 => return Err(e),
                Err(_) => return Ok(filled),
            }
        }
    }
}

/// How many bytes the header starting `data` takes, as far as `data`
/// tells (at least a pcap header's 24).
fn header_len(data: &[u8]) -> usize {
    if data.get(..4) != Some(&SECTION_HEADER[..]) {
        return PCAP_HEADER;
    }
    let (Some(len), Some(magic)) = (data.get(4..8), data.get(8..12)) else {
        return PCAP_HEADER;
    };
    let len = <[u8; 4]>::try_from(len).unwrap_or_default();
    let len = if magic == BYTE_ORDER_MAGIC_LE {
        u32::from_le_bytes(len)
    } else {
        u32::from_be_bytes(len)
    };
    usize::try_from(len).unwrap_or(usize::MAX).max(PCAP_HEADER)
}

impl<R: Read> Read for OpeningReads<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads = self.reads.saturating_add(1);
        match self.reads {
            1 => self.read_header(buf),
            // pcap-parser's second opening read: what arrived is enough.
            2 => Ok(0),
            _ => self.inner.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out its bytes in the given pieces, one per read.
    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut piece) = self.0.pop_front() else {
                return Ok(0);
            };
            let n = piece.len().min(buf.len());
            buf[..n].copy_from_slice(&piece[..n]);
            if n < piece.len() {
                self.0.push_front(piece.split_off(n));
            }
            Ok(n)
        }
    }

    fn reads(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut r = OpeningReads::new(Pieces(pieces.iter().map(|p| p.to_vec()).collect()));
        let mut out = Vec::new();
        for _ in 0..4 {
            let mut buf = [0u8; 64];
            let n = r.read(&mut buf).unwrap();
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn first_read_waits_for_the_header_second_returns_nothing() {
        let pcap = [0xd4u8; 24];
        // (pieces, what reads 1 to 4 return)
        let cases: &[(&[&[u8]], [usize; 4])] = &[
            (&[&pcap, b"frame"], [24, 0, 5, 0]),
            (&[&pcap[..10], &pcap[10..], b"frame"], [24, 0, 5, 0]),
            (&[b"abc"], [3, 0, 0, 0]),
            (&[&[pcap.as_slice(), b"more"].concat()], [28, 0, 0, 0]),
        ];
        for (pieces, want) in cases {
            let got: Vec<usize> = reads(pieces).iter().map(Vec::len).collect();
            assert_eq!(got, want, "{pieces:?}");
        }
        // pcapng: the whole section header block (here 32 bytes), little
        // and big endian.
        let mut le = vec![0x0a, 0x0d, 0x0d, 0x0a, 32, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        le.resize(32, 0);
        let mut be = vec![0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 32, 0x1a, 0x2b, 0x3c, 0x4d];
        be.resize(32, 0);
        for shb in [le, be] {
            let got = reads(&[&shb[..26], &shb[26..], b"epb"]);
            assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [32, 0, 3, 0]);
        }
    }
}
