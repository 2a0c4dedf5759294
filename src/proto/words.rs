//! Small helpers for reading protocol lines: words, case-insensitive
//! keywords, and the masked tokens middleboxes leave.

/// Splits off the first space-separated word; the rest has its leading
/// spaces removed.
pub(crate) fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim_start(line);
    match line.iter().position(|b| *b == b' ' || *b == b'\t') {
        Some(i) => (
            line.get(..i).unwrap_or_default(),
            trim_start(line.get(i + 1..).unwrap_or_default()),
        ),
        None => (line, &[]),
    }
}

pub(crate) fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let bytes = trim_start(bytes);
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or_default()
}

/// Case-insensitive keyword comparison (all three protocols' keywords are
/// case-insensitive).
pub(crate) fn is(word: &[u8], keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword.as_bytes())
}

/// A token where a middlebox masked a keyword of `len` characters: same
/// length, and at least three quarters of it one repeated character
/// (the Cisco ASA writes `XXXXXXXA` for STARTTLS). Real keywords of that
/// length never qualify (UIDL, USER, PIPELINING ...), and `known` ones are
/// excluded outright.
pub(crate) fn is_masked_token(token: &[u8], len: usize, known: &[&str]) -> bool {
    if token.len() != len || len == 0 || known.iter().any(|k| is(token, k)) {
        return false;
    }
    let mut counts = [0usize; 256];
    for b in token {
        if let Some(c) = counts.get_mut(usize::from(*b)) {
            *c += 1;
        }
    }
    let most = counts.iter().max().copied().unwrap_or(0);
    most * 4 >= len * 3
}

/// A capability word a middlebox mangled from `keyword`: not the keyword,
/// not one of the protocol's `known` words, letters and digits only, and
/// one edit away from it (a character replaced, dropped, added, or two
/// swapped: `STARTTLX`, `S7ARTTLS`, `STARTTL`, `XTARTTLS`, `STLX`). No
/// registered SMTP, IMAP or POP3 capability is that close to STARTTLS or
/// STLS.
pub(crate) fn is_mangled_token(token: &[u8], keyword: &str, known: &[&str]) -> bool {
    if is(token, keyword)
        || known.iter().any(|k| is(token, k))
        || !token.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // One edit apart means lengths one apart at most: longer tokens (most
    // of them) are out before any copy.
    if token.len().abs_diff(keyword.len()) > 1 {
        return false;
    }
    let mut upper = [0u8; 64];
    let Some(upper) = upper.get_mut(..token.len()) else {
        return false;
    };
    for (u, t) in upper.iter_mut().zip(token) {
        *u = t.to_ascii_uppercase();
    }
    one_edit_apart(upper, keyword.as_bytes())
}

/// A token that stands where `keyword` was: masked ([`is_masked_token`])
/// or mangled ([`is_mangled_token`]).
pub(crate) fn is_stripped_token(token: &[u8], keyword: &str, known: &[&str]) -> bool {
    is_masked_token(token, keyword.len(), known) || is_mangled_token(token, keyword, known)
}

/// `a` and `b` differ by exactly one edit: a replaced, dropped or added
/// byte, or two adjacent bytes swapped.
fn one_edit_apart(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    match long.len() - short.len() {
        // Replaced, or swapped with the next one.
        0 => {
            let rest = |skip: usize| short.get(prefix + skip..) == long.get(prefix + skip..);
            let swapped = short.get(prefix) == long.get(prefix + 1)
                && short.get(prefix + 1) == long.get(prefix)
                && rest(2);
            prefix < short.len() && (rest(1) || swapped)
        }
        // Dropped from the longer one.
        1 => short.get(prefix..) == long.get(prefix + 1..),
        _ => false,
    }
}

/// A client command line made of one repeated character, of `len`
/// characters (a middlebox overwrote the command: `XXXXXXXX`, `********`).
pub(crate) fn is_overwritten_command(word: &[u8], len: usize) -> bool {
    len > 0 && word.len() == len && word.windows(2).all(|w| w.first() == w.get(1))
}

/// A client line of `phrase`'s shape (same length, spaces where it has
/// them) whose other characters are one repeated character: a middlebox
/// overwrote a command of several words (FTP's `AUTH TLS` as
/// `XXXX XXX`).
pub(crate) fn is_overwritten_phrase(line: &[u8], phrase: &str) -> bool {
    let phrase = phrase.as_bytes();
    let mut filler = None;
    line.len() == phrase.len()
        && phrase.contains(&b' ')
        && line.iter().zip(phrase).all(|(b, p)| match (*b, *p) {
            (b' ', b' ') => true,
            (_, b' ') | (b' ', _) => false,
            (b, _) => *filler.get_or_insert(b) == b,
        })
}

/// Offset just after the first `n` words of `line` (where a secret may
/// start), or `None` when the line has no more than `n` words.
pub(crate) fn after_words(line: &[u8], n: usize) -> Option<usize> {
    let mut rest = line;
    for _ in 0..n {
        rest = split_word(rest).1;
    }
    (!rest.is_empty()).then(|| line.len() - rest.len())
}

/// Decimal number, bounded to u64, no sign.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One edit from STARTTLS or STLS is mangled; the keywords themselves,
    /// real capabilities and words two edits away are not.
    #[test]
    fn mangled() {
        #[rustfmt::skip]
        let cases: &[(&[u8], &str, bool)] = &[
            (b"STARTTLX", "STARTTLS", true),   // replaced
            (b"S7ARTTLS", "STARTTLS", true),
            (b"XTARTTLS", "STARTTLS", true),
            (b"starttlz", "STARTTLS", true),
            (b"STARTTL", "STARTTLS", true),    // dropped
            (b"TARTTLS", "STARTTLS", true),
            (b"STARTTTLS", "STARTTLS", true),  // added
            (b"STRATTLS", "STARTTLS", true),   // swapped
            (b"STLX", "STLS", true),
            (b"SLTS", "STLS", true),
            (b"STL", "STLS", true),
            (b"STARTTLS", "STARTTLS", false),  // the keyword itself
            (b"starttls", "STARTTLS", false),
            (b"STLS", "STLS", false),
            (b"STARTXXX", "STARTTLS", false),  // three edits
            (b"STARTTLS=1", "STARTTLS", false),
            (b"SMTPUTF8", "STARTTLS", false),
            (b"CHUNKING", "STARTTLS", false),
            (b"8BITMIME", "STARTTLS", false),
            (b"SASL", "STLS", false),
            (b"USER", "STLS", false),
            (b"UIDL", "STLS", false),
            (b"TOP", "STLS", false),
            (b"IDLE", "STLS", false),
            (b"STAT", "STLS", false),
            (b"", "STLS", false),
            (b"ST", "STLS", false),
        ];
        for (token, keyword, want) in cases {
            let got = is_mangled_token(token, keyword, &["USER", "UIDL", "SASL", "IDLE"]);
            assert_eq!(
                got,
                *want,
                "{} for {keyword}",
                String::from_utf8_lossy(token)
            );
        }
    }

    #[test]
    fn masked() {
        let cases: &[(&[u8], usize, bool)] = &[
            (b"XXXXXXXA", 8, true),
            (b"XXXXXXXX", 8, true),
            (b"xxxxxxxa", 8, true),
            (b"********", 8, true),
            (b"STARTTLS", 8, false),
            (b"SMTPUTF8", 8, false),
            (b"8BITMIME", 8, false),
            (b"XXXXXAAA", 8, false),
            (b"XXXX", 4, true),
            (b"XXXA", 4, true),
            (b"UIDL", 4, false),
            (b"USER", 4, false),
            (b"XXXXXXXA", 4, false),
        ];
        for (token, len, want) in cases {
            assert_eq!(
                is_masked_token(token, *len, &["STARTTLS", "STLS"]),
                *want,
                "{token:?}"
            );
        }
    }

    #[test]
    fn overwritten() {
        assert!(is_overwritten_command(b"XXXXXXXX", 8));
        assert!(is_overwritten_command(b"********", 8));
        assert!(!is_overwritten_command(b"STARTTLS", 8));
        assert!(!is_overwritten_command(b"XXXXXXX", 8));
        assert!(is_overwritten_command(b"XXXX", 4));
    }

    #[test]
    fn overwritten_phrases() {
        let cases: &[(&[u8], bool)] = &[
            (b"XXXX XXX", true),
            (b"**** ***", true),
            (b"AUTH TLS", false),
            (b"XXXXXXXX", false),
            (b"XXXX XXY", false),
            (b"XXX XXXX", false),
            (b"XXXX XXX ", false),
            (b"", false),
        ];
        for (line, want) in cases {
            assert_eq!(is_overwritten_phrase(line, "AUTH TLS"), *want, "{line:?}");
        }
        // A phrase without a space is a command word (is_overwritten_command).
        assert!(!is_overwritten_phrase(b"XXXX", "STLS"));
    }

    #[test]
    fn words() {
        assert_eq!(
            split_word(b"AUTH PLAIN  abc"),
            (&b"AUTH"[..], &b"PLAIN  abc"[..])
        );
        assert_eq!(split_word(b"QUIT"), (&b"QUIT"[..], &b""[..]));
        assert_eq!(trim(b"  x y \t"), b"x y");
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(parse_u64(b"-1"), None);
    }
}
