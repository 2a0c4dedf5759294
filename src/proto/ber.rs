//! A small BER reader for LDAP (RFC 4511 5.1: definite lengths only, one
//! tag byte). It reads headers as bytes come (`Incomplete` until the
//! header is whole) and walks elements inside a kept prefix of a message,
//! telling where an element was cut. It never allocates.

/// Why a header was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BerError {
    /// More bytes are needed.
    Incomplete,
    /// Not BER as LDAP sends it: a multi-byte tag, an indefinite length
    /// (RFC 4511 5.1 forbids it), a length of more than 8 bytes.
    Invalid,
}

/// A tag and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub tag: u8,
    /// Bytes of the tag and length.
    pub size: usize,
    /// Bytes of the contents.
    pub len: u64,
}

impl Header {
    /// The element's whole length (header and contents), saturated.
    pub(crate) fn total(&self) -> u64 {
        self.len.saturating_add(self.size as u64)
    }
}

/// Reads the header at the start of `bytes`.
pub(crate) fn header(bytes: &[u8]) -> Result<Header, BerError> {
    let (&tag, rest) = bytes.split_first().ok_or(BerError::Incomplete)?;
    if tag & 0x1f == 0x1f {
        return Err(BerError::Invalid);
    }
    let (&first, rest) = rest.split_first().ok_or(BerError::Incomplete)?;
    if first < 0x80 {
        return Ok(Header {
            tag,
            size: 2,
            len: u64::from(first),
        });
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 8 {
        return Err(BerError::Invalid);
    }
    let digits = rest.get(..n).ok_or(BerError::Incomplete)?;
    let len = digits.iter().fold(0u64, |v, b| v << 8 | u64::from(*b));
    Ok(Header {
        tag,
        size: 2 + n,
        len,
    })
}

/// One element inside a kept prefix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Element<'a> {
    pub tag: u8,
    /// Offset of its tag from the start of the walked bytes.
    pub at: usize,
    /// Its header's end offset (where the contents start).
    pub body_at: usize,
    /// Its declared end offset (may lie past the kept bytes), saturated.
    pub end: u64,
    /// The contents that are there (all of them unless `cut`).
    pub contents: &'a [u8],
    /// The contents go past the kept bytes.
    pub cut: bool,
}

/// Walks the elements of `bytes` in order (at `base`, for offsets).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
    /// The last header was incomplete, invalid or cut: nothing follows.
    pub stopped: Option<BerError>,
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`, which start at offset `base` of the message.
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
            stopped: None,
        }
    }

    /// A reader of an element's contents.
    pub(crate) fn inside(e: &Element<'a>) -> Self {
        Reader::new(e.contents, e.body_at)
    }

    /// The next element, `None` at the end (or where reading stopped:
    /// see [`Reader::stopped`]).
    pub(crate) fn next_element(&mut self) -> Option<Element<'a>> {
        if self.stopped.is_some() {
            return None;
        }
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return None;
        }
        let h = match header(rest) {
            Ok(h) => h,
            Err(e) => {
                self.stopped = Some(e);
                return None;
            }
        };
        let body = rest.get(h.size..).unwrap_or_default();
        let want = usize::try_from(h.len).unwrap_or(usize::MAX);
        let cut = body.len() < want;
        let contents = body.get(..want).unwrap_or(body);
        let at = self.base + self.pos;
        let e = Element {
            tag: h.tag,
            at,
            body_at: at + h.size,
            end: (at as u64).saturating_add(h.total()),
            contents,
            cut,
        };
        if cut {
            self.stopped = Some(BerError::Incomplete);
        } else {
            self.pos += h.size + contents.len();
        }
        Some(e)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Element<'a>;
    fn next(&mut self) -> Option<Element<'a>> {
        self.next_element()
    }
}

/// An INTEGER or ENUMERATED's value (at most 8 bytes, two's complement).
pub(crate) fn integer(contents: &[u8]) -> Option<i64> {
    if contents.is_empty() || contents.len() > 8 {
        return None;
    }
    let negative = contents.first().is_some_and(|b| b & 0x80 != 0);
    let start: i64 = if negative { -1 } else { 0 };
    Some(contents.iter().fold(start, |v, b| v << 8 | i64::from(*b)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let cases: [(&[u8], Result<Header, BerError>); 9] = [
            (b"", Err(BerError::Incomplete)),
            (b"\x30", Err(BerError::Incomplete)),
            (
                b"\x30\x0c",
                Ok(Header {
                    tag: 0x30,
                    size: 2,
                    len: 12,
                }),
            ),
            (b"\x30\x80", Err(BerError::Invalid)),
            (b"\x1f\x01", Err(BerError::Invalid)),
            (b"\x30\x84\x00\x00", Err(BerError::Incomplete)),
            (
                b"\x30\x84\x00\x00\x01\x00",
                Ok(Header {
                    tag: 0x30,
                    size: 6,
                    len: 256,
                }),
            ),
            (b"\x30\x89", Err(BerError::Invalid)),
            (
                b"\x30\x88\xff\xff\xff\xff\xff\xff\xff\xff",
                Ok(Header {
                    tag: 0x30,
                    size: 10,
                    len: u64::MAX,
                }),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(header(bytes), want, "{bytes:02x?}");
        }
        assert_eq!(
            Header {
                tag: 0,
                size: 10,
                len: u64::MAX
            }
            .total(),
            u64::MAX
        );
    }

    #[test]
    fn reader_walks_and_stops_where_cut() {
        let bytes = b"\x02\x01\x07\x04\x03abc\x80\x05xy";
        let mut r = Reader::new(bytes, 2);
        let a = r.next_element().unwrap();
        assert_eq!(
            (a.tag, a.at, a.body_at, a.end, a.contents, a.cut),
            (2, 2, 4, 5, &b"\x07"[..], false)
        );
        let b = r.next_element().unwrap();
        assert_eq!((b.tag, b.contents, b.end), (4, &b"abc"[..], 10));
        let c = r.next_element().unwrap();
        assert_eq!(
            (c.tag, c.contents, c.cut, c.end),
            (0x80, &b"xy"[..], true, 17)
        );
        assert!(r.next_element().is_none());
        assert_eq!(r.stopped, Some(BerError::Incomplete));
        let mut bad = Reader::new(b"\x04\x80", 0);
        assert!(bad.next_element().is_none());
        assert_eq!(bad.stopped, Some(BerError::Invalid));
    }

    #[test]
    fn integers() {
        assert_eq!(integer(b"\x00"), Some(0));
        assert_eq!(integer(b"\x0e"), Some(14));
        assert_eq!(integer(b"\x01\x00"), Some(256));
        assert_eq!(integer(b"\xff"), Some(-1));
        assert_eq!(integer(b""), None);
        assert_eq!(integer(&[1; 9]), None);
    }
}
