//! DIGEST-MD5 (RFC 2831) directive lists: `key=value` pairs separated by
//! commas, values either tokens or quoted strings with `\` escapes.

/// Most directives kept from one message (RFC 2831 defines about 15).
const MAX_DIRECTIVES: usize = 64;

/// The directives of a challenge or response, keys in lower case, values
/// unquoted and unescaped, in wire order. `None` when the text does not
/// parse (a key without `=`, an unterminated quoted string, junk after a
/// value, too many directives): nothing is guessed from a broken message.
pub(super) fn parse(msg: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        // Empty list elements are allowed by the `#` rule.
        while msg.get(i).is_some_and(|&b| b == b',' || is_lws(b)) {
            i += 1;
        }
        if i >= msg.len() {
            return Some(out);
        }
        if out.len() >= MAX_DIRECTIVES {
            return None;
        }
        let start = i;
        while msg.get(i).is_some_and(|&b| is_token(b)) {
            i += 1;
        }
        let key = msg.get(start..i).filter(|k| !k.is_empty())?;
        i = skip_lws(msg, i);
        if msg.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_lws(msg, i + 1);
        let mut value = Vec::new();
        if msg.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match msg.get(i) {
                    None => return None,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        value.push(*msg.get(i + 1)?);
                        i += 2;
                    }
                    Some(&b) => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
            i = skip_lws(msg, i);
            if !matches!(msg.get(i), None | Some(b',')) {
                return None;
            }
        } else {
            // A token; be lenient about its characters up to the next comma.
            let start = i;
            while msg.get(i).is_some_and(|&b| b != b',') {
                i += 1;
            }
            let raw = msg.get(start..i)?.trim_ascii();
            if raw.iter().any(|&b| b == b'"' || is_lws(b)) {
                return None;
            }
            value.extend_from_slice(raw);
        }
        out.push((String::from_utf8_lossy(key).to_ascii_lowercase(), value));
    }
}

/// The first value of `key` (lower case) in parsed directives.
pub(super) fn get<'a>(directives: &'a [(String, Vec<u8>)], key: &str) -> Option<&'a [u8]> {
    directives
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

fn skip_lws(msg: &[u8], mut i: usize) -> usize {
    while msg.get(i).is_some_and(|&b| is_lws(b)) {
        i += 1;
    }
    i
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 2616 token characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_graphic()
        && !matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
                | b'{'
                | b'}'
        )
}
