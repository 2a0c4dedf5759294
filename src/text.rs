//! Making captured bytes safe to print.
//!
//! Everything that comes off the wire is attacker-controlled. Before any of it
//! reaches a terminal, a JSON document or a SIEM, it goes through [`escape`]:
//! every byte of a character that [`hidden`] names (controls, format
//! characters, separators, invisible and unassigned code points), backslash
//! and invalid UTF-8 (surrogates included) are written as `\xNN` per byte.
//! What remains is visible text that cannot move a cursor, forge a line,
//! reorder what a reader sees or hide a character from them.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Escapes `bytes` into printable text (see the module docs).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    escape_into(bytes, &mut out);
    out
}

/// Appends the escaped form of `bytes` to `out`.
pub(crate) fn escape_into(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        escape_str_into(chunk.valid(), out);
        // Surrogates (ED A0..ED BF ..) are invalid UTF-8: they land here.
        for &b in chunk.invalid() {
            push_hex(out, b);
        }
    }
}

/// Appends `text` to `out`, its escaped characters as `\xNN` per byte. Runs
/// of characters that need nothing are copied whole; ASCII is judged byte
/// by byte, without decoding or a table lookup (the output hot path).
fn escape_str_into(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        let (len, escaped) = if b.is_ascii() {
            (1, b < 0x20 || b == 0x7F || b == b'\\')
        } else {
            // `at` is on a character boundary: the previous one was whole.
            let c = text
                .get(at..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            (c.len_utf8(), hidden(c))
        };
        if escaped {
            out.push_str(text.get(clean_from..at).unwrap_or_default());
            for &b in bytes.get(at..at + len).unwrap_or_default() {
                push_hex(out, b);
            }
            clean_from = at + len;
        }
        at += len;
    }
    out.push_str(text.get(clean_from..).unwrap_or_default());
}

/// Escapes at most `max` bytes of `bytes`, marking the cut with `...`.
pub(crate) fn escape_truncated(bytes: &[u8], max: usize) -> String {
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
/// again: returned as is when it holds no [`hidden`] character (so
/// escaping twice does not double the backslashes), escaped whole otherwise.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(hidden) {
        std::borrow::Cow::Owned(escape(text.as_bytes()))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Whether `c` must not reach a reader as itself. The Unicode general
/// categories come from `unicode-properties` (the unicode-rs tables, kept
/// in step with each Unicode release); the few invisible characters outside
/// them are listed in [`invisible_letter_or_mark`].
pub fn hidden(c: char) -> bool {
    if c.is_ascii() {
        // C0 controls and DEL.
        return c.is_ascii_control();
    }
    // Frequent visible text answered without the table search: Latin-1
    // and Latin Extended letters (after the soft hyphen), CJK ideographs,
    // Hangul syllables. All assigned, none hidden (the full scan checks).
    if matches!(c, '\u{AE}'..='\u{24F}' | '\u{4E00}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7A3}') {
        return false;
    }
    use GeneralCategory::*;
    matches!(
        c.general_category(),
        // Cc (C1), Cf (bidi and zero-width controls, BOM, tags, soft
        // hyphen, interlinear annotation), Zl, Zp.
        Control | Format | LineSeparator | ParagraphSeparator
        // Zs but U+0020: blanks that look like a space and are not one.
        | SpaceSeparator
        // Cn: unassigned code points and noncharacters. No renderer knows
        // what they are, and a later Unicode may make them format
        // characters (U+2065 already is default-ignorable).
        | Unassigned
        // Cs: `char` cannot hold one; listed for completeness.
        | Surrogate
    ) || is_noncharacter(c)
        || invisible_letter_or_mark(c)
}

/// U+FDD0..U+FDEF and the last two code points of every plane. They are
/// `Cn` too; tested on their own since the policy names them.
fn is_noncharacter(c: char) -> bool {
    let cp = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE
}

/// The default-ignorable code points (Unicode's list of characters that
/// render as nothing) that are letters or marks rather than `Cf`: the
/// combining grapheme joiner, the Hangul fillers, the Khmer inherent
/// vowels and the variation selectors (which can also smuggle data: one
/// byte per selector).
fn invisible_letter_or_mark(c: char) -> bool {
    matches!(
        c,
        '\u{34F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

fn push_hex(out: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.push('\\');
    out.push('x');
    for nibble in [b >> 4, b & 0xF] {
        out.push(char::from(
            DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'?'),
        ));
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
