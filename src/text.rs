//! Making captured bytes safe to print.
//!
//! Everything that comes off the wire is attacker-controlled. Before any of it
//! reaches a terminal, a JSON document or a SIEM, it goes through [`escape`]:
//! control bytes (C0, DEL and the C1 range), backslash, invalid UTF-8 and the
//! Unicode bidi controls are written as `\xNN` per byte. What remains is
//! printable text that cannot move a cursor, forge a line, or reorder what a
//! reader sees.

use std::fmt::Write;

/// Escapes `bytes` into printable text (see the module docs).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    escape_into(bytes, &mut out);
    out
}

/// Appends the escaped form of `bytes` to `out`.
pub fn escape_into(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' || c.is_control() || is_bidi_control(c) {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    push_hex(out, b);
                }
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            push_hex(out, b);
        }
    }
}

/// Escapes at most `max` bytes of `bytes`, marking the cut with `...`.
pub fn escape_truncated(bytes: &[u8], max: usize) -> String {
    match bytes.get(..max) {
        Some(head) if bytes.len() > max => {
            let mut s = escape(head);
            s.push_str("...");
            s
        }
        _ => escape(bytes),
    }
}

/// Text that was escaped when its record was built, made safe to print
/// again: returned as is when it holds no control or bidi character (so
/// escaping twice does not double the backslashes), escaped whole otherwise.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        std::borrow::Cow::Owned(escape(text.as_bytes()))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn push_hex(out: &mut String, b: u8) {
    let _ = write!(out, "\\x{b:02X}");
}

/// Characters that reorder displayed text (the "Trojan Source" class).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&[u8], &str)] = &[
            (b"250-STARTTLS", "250-STARTTLS"),
            (b"a\r\n", "a\\x0D\\x0A"),
            (b"\x1b[2J", "\\x1B[2J"),
            (b"back\\slash", "back\\x5Cslash"),
            (b"\x7f", "\\x7F"),
            (b"caf\xc3\xa9", "caf\u{e9}"),
            (b"bad\xff\xfe", "bad\\xFF\\xFE"),
            (b"\xc2\x85", "\\xC2\\x85"),          // NEL, a C1 control
            (b"\xe2\x80\xae", "\\xE2\\x80\\xAE"), // right-to-left override
            (b"\"quote\"", "\"quote\""),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn printable_leaves_escaped_text_alone() {
        let escaped = escape(b"a\x1b[2J\\b");
        assert_eq!(printable(&escaped), escaped);
        assert_eq!(printable("x\u{202E}y\n"), "x\\xE2\\x80\\xAEy\\x0A");
    }

    #[test]
    fn truncated() {
        assert_eq!(escape_truncated(b"abcdef", 3), "abc...");
        assert_eq!(escape_truncated(b"abc", 3), "abc");
    }
}
