//! The pieces of IMAP syntax the dialog needs (RFC 3501 9, RFC 9051 9):
//! literal markers at the end of a line, astring arguments, and response
//! codes. Everything works on one line's bytes and never panics on them.

use crate::proto::words::{parse_u64, split_word, trim_start};

/// Longest argument value kept (a username or password; longer ones are
/// cut, they are never buffered whole).
pub(crate) const MAX_ARG: usize = 1024;

/// A literal announced at the end of a line: `{n}`, `{n+}` (RFC 7888
/// LITERAL+/LITERAL-), or `~{n}` (RFC 3516 literal8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LiteralMarker {
    /// The byte count announced (not bounded: the driver skips by count).
    pub len: u64,
    /// `{n+}`: the sender does not wait for a `+` go-ahead.
    pub non_sync: bool,
    /// Offset of the marker (`{`, or the `~` before it) in the line.
    pub at: usize,
}

/// The literal marker that ends `line`, if any.
pub(crate) fn literal_at_end(line: &[u8]) -> Option<LiteralMarker> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let body = inner.get(open + 1..)?;
    let (digits, non_sync) = match body.strip_suffix(b"+") {
        Some(digits) => (digits, true),
        None => (body, false),
    };
    let len = parse_u64(digits)?;
    let at = match open.checked_sub(1) {
        Some(tilde) if line.get(tilde) == Some(&b'~') => tilde,
        _ => open,
    };
    Some(LiteralMarker { len, non_sync, at })
}

/// One argument of a command: an atom or a quoted string (its value, cut
/// at [`MAX_ARG`]), or the literal that ends the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Arg {
    Value { at: usize, bytes: Vec<u8> },
    Literal(LiteralMarker),
}

/// The astring arguments of `line` from offset `from` on (RFC 3501
/// `astring`: atom, quoted string with `\"` and `\\` escapes, or literal).
/// `Err(at)` when the argument at `at` is malformed (an unterminated
/// quoted string): nothing from there on can be trusted.
pub(crate) fn astrings(line: &[u8], from: usize) -> Result<Vec<Arg>, usize> {
    let literal = literal_at_end(line);
    let mut out = Vec::new();
    let mut pos = from;
    loop {
        while matches!(line.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        let Some(&first) = line.get(pos) else {
            return Ok(out);
        };
        if let Some(marker) = literal.filter(|m| m.at == pos) {
            out.push(Arg::Literal(marker));
            return Ok(out);
        }
        let (bytes, end) = if first == b'"' {
            quoted(line, pos).ok_or(pos)?
        } else {
            let rest = line.get(pos..).unwrap_or_default();
            let len = rest
                .iter()
                .position(|b| *b == b' ' || *b == b'\t')
                .unwrap_or(rest.len());
            (capped(rest.get(..len).unwrap_or_default()), pos + len)
        };
        out.push(Arg::Value { at: pos, bytes });
        pos = end;
    }
}

/// The quoted string starting at `start` (on its `"`): its value and the
/// offset after the closing quote.
fn quoted(line: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    let mut value = Vec::new();
    let mut pos = start + 1;
    loop {
        match *line.get(pos)? {
            b'"' => return Some((value, pos + 1)),
            b'\\' => {
                let escaped = *line.get(pos + 1)?;
                if value.len() < MAX_ARG {
                    value.push(escaped);
                }
                pos += 2;
            }
            b => {
                if value.len() < MAX_ARG {
                    value.push(b);
                }
                pos += 1;
            }
        }
    }
}

fn capped(bytes: &[u8]) -> Vec<u8> {
    bytes.get(..MAX_ARG).unwrap_or(bytes).to_vec()
}

/// The `[CODE args]` that opens a status response's text: (code, args).
pub(crate) fn response_code(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let inner = trim_start(text).strip_prefix(b"[")?;
    let end = inner.iter().position(|b| *b == b']')?;
    Some(split_word(inner.get(..end)?))
}

/// Space-separated tokens of a capability list.
pub(crate) fn tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|b| *b == b' ' || *b == b'\t')
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A line, and the marker found at its end as (len, non_sync, at).
    type MarkerCase = (&'static [u8], Option<(u64, bool, usize)>);
    /// A line, the offset to read from, and the arguments found.
    type ArgsCase = (&'static [u8], usize, Result<Vec<Arg>, usize>);

    fn value(at: usize, bytes: &[u8]) -> Arg {
        Arg::Value {
            at,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn literal_markers() {
        let cases: &[MarkerCase] = &[
            (b"a LOGIN {5}", Some((5, false, 8))),
            (b"a LOGIN {5+}", Some((5, true, 8))),
            (b" {6}", Some((6, false, 1))),
            (b"{0}", Some((0, false, 0))),
            (b"a APPEND INBOX ~{12}", Some((12, false, 15))),
            (
                b"* 1 FETCH (BODY[] {4294967296}",
                Some((4_294_967_296, false, 18)),
            ),
            (b"a LOGIN {}", None),
            (b"a LOGIN {+}", None),
            (b"a LOGIN {-5}", None),
            (b"a LOGIN {5} ", None),
            (b"{99999999999999999999}", None),
            (b"a LOGIN {5x}", None),
            (b"}", None),
            (b"", None),
        ];
        for (line, want) in cases {
            let got = literal_at_end(line).map(|m| (m.len, m.non_sync, m.at));
            assert_eq!(got, *want, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn astring_arguments() {
        let lit = |len, non_sync, at| Arg::Literal(LiteralMarker { len, non_sync, at });
        let cases: &[ArgsCase] = &[
            (
                b"a LOGIN alice secret",
                8,
                Ok(vec![value(8, b"alice"), value(14, b"secret")]),
            ),
            (
                br#"a LOGIN "al ice" "se\"c\\ret""#,
                8,
                Ok(vec![value(8, b"al ice"), value(17, br#"se"c\ret"#)]),
            ),
            (
                b"a LOGIN alice {6}",
                8,
                Ok(vec![value(8, b"alice"), lit(6, false, 14)]),
            ),
            (b" {6+}", 0, Ok(vec![lit(6, true, 1)])),
            (b"", 0, Ok(vec![])),
            (
                b"a LOGIN  x\ty ",
                8,
                Ok(vec![value(9, b"x"), value(11, b"y")]),
            ),
            (br#"a LOGIN alice "secr"#, 8, Err(14)),
            (br#"a LOGIN "alice\"#, 8, Err(8)),
            (
                b"a LOGIN {5}x y",
                8,
                Ok(vec![value(8, b"{5}x"), value(13, b"y")]),
            ),
        ];
        for (line, from, want) in cases {
            assert_eq!(
                astrings(line, *from),
                *want,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let long = [b'x'; MAX_ARG * 2];
        let Ok(args) = astrings(&long, 0) else {
            panic!("atom");
        };
        assert!(matches!(&args[..], [Arg::Value { bytes, .. }] if bytes.len() == MAX_ARG));
    }

    #[test]
    fn codes() {
        assert_eq!(
            response_code(b"[CAPABILITY IMAP4rev1 STARTTLS] ready"),
            Some((&b"CAPABILITY"[..], &b"IMAP4rev1 STARTTLS"[..]))
        );
        assert_eq!(
            response_code(b" [READ-WRITE] done"),
            Some((&b"READ-WRITE"[..], &b""[..]))
        );
        assert_eq!(response_code(b"[CAPABILITY unterminated"), None);
        assert_eq!(response_code(b"no code"), None);
        let got: Vec<&[u8]> = tokens(b" A  B\tC ").collect();
        assert_eq!(got, [&b"A"[..], b"B", b"C"]);
    }
}
