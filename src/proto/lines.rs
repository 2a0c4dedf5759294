//! The shared line splitter: incremental across any segment boundary,
//! bounded, and honest about how each line ended.
//!
//! SMTP, IMAP and POP3 all end lines with CRLF (RFC 5321 4.1.1.4, RFC 3501
//! 2.2, RFC 1939 3). A bare LF is tolerated (real software sends it) but
//! recorded, since accepting it is what the SMTP smuggling class relies on.

use crate::flow::PacketRef;

/// Longest line kept whole. The RFCs set 512 octets for SMTP command and
/// reply lines (RFC 5321 4.5.3.1.4-5) and 1000 for text lines; IMAP sets
/// none and servers send long CAPABILITY and FETCH lines. 8 KiB keeps every
/// real one; a longer line is cut here and the rest skipped to its end.
pub(crate) const MAX_LINE: usize = 8192;

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineEnding {
    CrLf,
    /// LF without CR.
    BareLf,
    /// No LF within [`MAX_LINE`] bytes: the line was cut there and the rest
    /// of it will be skipped.
    Cut,
}

/// One line, without its terminator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'a> {
    pub bytes: &'a [u8],
    /// The packet that carried the line's first byte.
    pub packet: PacketRef,
    /// Stream offset of the line's first byte.
    pub offset: u64,
    pub ending: LineEnding,
    /// Where its secret part starts, as the dialog driver judged it (a
    /// client line; see [`super::secrecy`]).
    pub secret_from: Option<usize>,
}

/// Assembles lines from a byte stream fed in arbitrary pieces.
#[derive(Default)]
pub(crate) struct LineReader {
    buf: Vec<u8>,
    start: Option<PacketRef>,
    start_offset: u64,
    /// Discarding the rest of a line that was cut.
    skipping: bool,
}

impl LineReader {
    /// Consumes `input` up to and including the next LF (or until a line is
    /// cut). Returns the bytes consumed and the line, if one completed.
    pub(crate) fn push(
        &mut self,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
    ) -> (usize, Option<Line<'_>>) {
        let newline = memchr::memchr(b'\n', input);
        if self.skipping {
            return match newline {
                Some(i) => {
                    self.skipping = false;
                    (i + 1, None)
                }
                None => (input.len(), None),
            };
        }
        if self.start.is_none() {
            // A new line: the previous one (already handed out) is dropped.
            self.buf.clear();
            self.start = Some(packet);
            self.start_offset = offset;
        }
        let room = MAX_LINE - self.buf.len();
        let (take, complete) = match newline {
            Some(i) if i < room + 1 => (i + 1, true),
            _ => (input.len().min(room), false),
        };
        self.buf
            .extend_from_slice(input.get(..take).unwrap_or(input));
        if complete {
            self.buf.pop(); // the LF
            let ending = if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
                LineEnding::CrLf
            } else {
                LineEnding::BareLf
            };
            return (take, Some(self.finish(ending)));
        }
        if self.buf.len() >= MAX_LINE {
            self.skipping = true;
            return (take, Some(self.finish(LineEnding::Cut)));
        }
        (take, None)
    }

    fn finish(&mut self, ending: LineEnding) -> Line<'_> {
        let packet = self.start.take().unwrap_or(PacketRef {
            input: 0,
            frame: 0,
            ts: crate::time::Timestamp::ZERO,
        });
        // The buffer is cleared when the next line starts (see `push`).
        Line {
            bytes: &self.buf,
            packet,
            offset: self.start_offset,
            ending,
            secret_from: None,
        }
    }

    /// Bytes of an unfinished line are dropped (a gap made them useless).
    /// Returns true when a partial line was dropped.
    pub(crate) fn clear(&mut self) -> bool {
        let had = self.start.is_some() && !self.buf.is_empty();
        self.buf.clear();
        self.start = None;
        self.skipping = false;
        had
    }

    /// The bytes of a line that has begun but not ended, and the stream
    /// offset of its first byte.
    pub(crate) fn partial_line(&self) -> Option<(&[u8], u64)> {
        self.start
            .is_some()
            .then_some((self.buf.as_slice(), self.start_offset))
            .filter(|(bytes, _)| !bytes.is_empty())
    }
}

/// A line break followed by a dot: where a dot-terminated body may end.
static LINE_THEN_DOT: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n."));

/// Finds the end of a body terminated by a line holding a lone dot
/// (SMTP DATA, RFC 5321 4.1.1.4; POP3 multi-line responses, RFC 1939 3),
/// without buffering the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DotTerminator {
    state: DotState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DotState {
    /// At the start of a line (the body starts here).
    #[default]
    LineStart,
    /// A line began with a dot.
    Dot,
    /// `.` then CR.
    DotCr,
    /// Inside a line.
    InLine,
}

impl DotTerminator {
    /// Scans `input`; returns the number of bytes up to and including the
    /// terminating line, or `None` when the body goes on past `input`.
    pub(crate) fn scan(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                // Inside a line, only a line that starts with a dot can
                // end the body: jump to the next `\n.` (rare in a body, so
                // one SIMD search covers many lines).
                DotState::InLine => {
                    let rest = input.get(i..).unwrap_or_default();
                    match LINE_THEN_DOT.find(rest) {
                        Some(n) => {
                            i += n + 2;
                            self.state = DotState::Dot;
                        }
                        None => {
                            if rest.last() == Some(&b'\n') {
                                self.state = DotState::LineStart;
                            }
                            return None;
                        }
                    }
                }
                state => {
                    let b = input.get(i).copied().unwrap_or(0);
                    i += 1;
                    self.state = match (state, b) {
                        (DotState::LineStart, b'.') => DotState::Dot,
                        (DotState::Dot, b'\r') => DotState::DotCr,
                        (DotState::Dot | DotState::DotCr, b'\n') => {
                            self.state = DotState::LineStart;
                            return Some(i);
                        }
                        (_, b'\n') => DotState::LineStart,
                        _ => DotState::InLine,
                    };
                }
            }
        }
        None
    }
}

impl LineReader {
    /// Feeds `input`, calling `on_line` for each complete line, and returns
    /// the bytes consumed. Stops after a line when `on_line` returns false
    /// (the caller then switches mode for the rest).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
        mut on_line: impl FnMut(&Line<'_>) -> bool,
    ) -> usize {
        let mut used = 0;
        while used < input.len() {
            let (n, line) = self.push(
                input.get(used..).unwrap_or_default(),
                packet,
                offset + used as u64,
            );
            used += n;
            if let Some(line) = line {
                let keep_going = on_line(&line);
                if !keep_going {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        used
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn pkt(frame: u64) -> PacketRef {
        PacketRef {
            input: 0,
            frame,
            ts: Timestamp::ZERO,
        }
    }

    fn lines_of(chunks: &[&[u8]]) -> Vec<(String, LineEnding, u64)> {
        let mut r = LineReader::default();
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let used = r.feed(chunk, pkt(i as u64 + 1), 0, |l| {
                out.push((
                    String::from_utf8_lossy(l.bytes).into_owned(),
                    l.ending,
                    l.packet.frame,
                ));
                true
            });
            assert_eq!(used, chunk.len());
        }
        out
    }

    #[test]
    fn splits() {
        use LineEnding::*;
        assert_eq!(
            lines_of(&[b"a\r\nb\r\n"]),
            [("a".into(), CrLf, 1), ("b".into(), CrLf, 1)]
        );
        assert_eq!(
            lines_of(&[b"a\nb\r\n"]),
            [("a".into(), BareLf, 1), ("b".into(), CrLf, 1)]
        );
        assert_eq!(
            lines_of(&[b"25", b"0 o", b"k\r", b"\n"]),
            [("250 ok".into(), CrLf, 1)]
        );
        assert_eq!(
            lines_of(&[b"x", b"\r\ny\r\n"]),
            [("x".into(), CrLf, 1), ("y".into(), CrLf, 2)]
        );
        assert_eq!(lines_of(&[b"no end"]), []);
    }

    #[test]
    fn one_byte_at_a_time() {
        let text = b"220 mx ESMTP\r\nEHLO a\nQUIT\r\n";
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        let got: Vec<String> = lines_of(&chunks).into_iter().map(|l| l.0).collect();
        assert_eq!(got, ["220 mx ESMTP", "EHLO a", "QUIT"]);
    }

    #[test]
    fn long_line_is_cut_then_skipped() {
        let mut long = vec![b'A'; MAX_LINE * 3];
        long.extend_from_slice(b"\r\nnext\r\n");
        let got = lines_of(&[&long]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), MAX_LINE);
        assert_eq!(got[0].1, LineEnding::Cut);
        assert_eq!(got[1].0, "next");
    }

    #[test]
    fn dot_terminator() {
        let cases: &[(&[&[u8]], Option<usize>)] = &[
            (&[b".\r\n"], Some(3)),
            (&[b"body\r\n.\r\nQUIT\r\n"], Some(9)),
            (&[b"body\r\n..stuffed\r\n.\r\n"], Some(20)),
            (&[b"a.\r\n"], None),
            (&[b"body\n.\n"], Some(7)),
            (&[b"a\r\nb.\r\n.\r\n"], Some(10)),
            (&[b"..\r\n.x\r\n.\r\n"], Some(11)),
            (&[b"a\r\n.\rx\r\n.\r\n"], Some(11)),
            (&[b"a\r\n", b".\r\n"], Some(6)),
            (&[b"a\r", b"\n", b".", b"\r", b"\n"], Some(6)),
            (&[b"a\r\n.", b"x\r\n"], None),
        ];
        for (chunks, want) in cases {
            let mut t = DotTerminator::default();
            let mut total = 0;
            let mut got = None;
            for c in *chunks {
                if let Some(n) = t.scan(c) {
                    got = Some(total + n);
                    break;
                }
                total += c.len();
            }
            assert_eq!(got, *want, "{chunks:?}");
        }
        // Fed byte by byte, the scan agrees with a plain line-by-line
        // reading: the end is after the first line that is a lone dot.
        let bodies: &[&[u8]] = &[
            b"x\r\n.y\r\n..\r\n.\r\n",
            b".\n",
            b"a.\n.\r.\r\n\n.\n",
            b"\r\n\r\n.\r\nafter",
            b"no end\r\n.x",
        ];
        for body in bodies {
            let reference = {
                let mut at = 0;
                let mut end = None;
                for line in body.split_inclusive(|b| *b == b'\n') {
                    at += line.len();
                    if line.ends_with(b"\n") && matches!(line, b".\n" | b".\r\n") {
                        end = Some(at);
                        break;
                    }
                }
                end
            };
            let mut t = DotTerminator::default();
            let bytewise = (0..body.len()).find_map(|i| t.scan(&body[i..i + 1]).map(|n| i + n));
            assert_eq!(bytewise, reference, "{body:?}");
            assert_eq!(DotTerminator::default().scan(body), reference, "{body:?}");
        }
        // Split across chunks at every position.
        let body = b"x\r\n.y\r\n.\r\n";
        for cut in 0..body.len() {
            let mut t = DotTerminator::default();
            let end = t
                .scan(&body[..cut])
                .or_else(|| t.scan(&body[cut..]).map(|n| n + cut));
            assert_eq!(end, Some(body.len()), "cut at {cut}");
        }
    }
}
