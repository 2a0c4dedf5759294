//! What each line of a session is in its dialog: the greeting, a line of
//! a capability list, the client's STARTTLS and the server's answer to it,
//! a client line sent after STARTTLS before the answer, a server line after
//! the TLS go-ahead, and which command a reply answers. Taken from the
//! line's place in the dialog at its own tap.

use super::collect::SeenSession;
use crate::flow::Side;
use crate::proto::tap::TapKind;
use crate::proto::{Protocol, words};

/// What a line is in its dialog.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Role {
    pub greeting: bool,
    pub capability: bool,
    pub starttls_command: bool,
    /// The server's answer to STARTTLS (accepted or not).
    pub starttls_answer: Option<bool>,
    /// A client line sent after STARTTLS before its answer.
    pub after_starttls: bool,
    /// A server line after the TLS go-ahead.
    pub after_go_ahead: bool,
    /// The client line this server line answers (index into `lines`).
    pub answers: Option<usize>,
}

/// The command word of a client line (IMAP: after the tag), upper case.
pub(crate) fn verb(protocol: Option<Protocol>, line: &[u8]) -> Vec<u8> {
    let (first, rest) = words::split_word(line);
    let word = match protocol {
        Some(Protocol::Imap) => words::split_word(rest).0,
        _ => first,
    };
    word.to_ascii_uppercase()
}

pub(crate) fn is_starttls(verb: &[u8]) -> bool {
    verb == b"STARTTLS" || verb == b"STLS"
}

/// A client line that asks for the upgrade: STARTTLS, STLS, FTP's
/// `AUTH TLS` (or `SSL`, `TLS-C`, `TLS-P`: RFC 4217 section 6).
pub(crate) fn is_upgrade_command(p: Option<Protocol>, line: &[u8]) -> bool {
    let v = verb(p, line);
    match p {
        Some(Protocol::Ftp) => {
            let arg = words::split_word(words::split_word(line).1).0;
            v == b"AUTH"
                && ["TLS", "SSL", "TLS-C", "TLS-P"]
                    .iter()
                    .any(|m| words::is(arg, m))
        }
        // The 8-byte SSLRequest (length 8, code 80877103).
        Some(Protocol::Postgresql) => line == POSTGRES_SSL_REQUEST,
        Some(Protocol::Ldap) => ldap_op(line).is_some_and(|(tag, contents)| {
            tag == 0x77
                && memchr::memmem::find(contents, crate::proto::ldap::STARTTLS_OID).is_some()
        }),
        _ => is_starttls(&v),
    }
}

/// A binary protocol's message named for a sentence (`SSLRequest`,
/// `ExtendedResponse (resultCode 52)`); none for text protocols.
pub(crate) fn message_name(p: Option<Protocol>, message: &[u8]) -> Option<String> {
    match p {
        Some(Protocol::Postgresql) if message == POSTGRES_SSL_REQUEST => Some("SSLRequest".into()),
        Some(Protocol::Ldap) => {
            let (tag, contents) = ldap_op(message)?;
            let name = match tag {
                0x60 => "BindRequest",
                0x61 => "BindResponse",
                0x63 => "SearchRequest",
                0x64 => "SearchResultEntry",
                0x65 => "SearchResultDone",
                0x77 if memchr::memmem::find(contents, crate::proto::ldap::STARTTLS_OID)
                    .is_some() =>
                {
                    return Some("StartTLS ExtendedRequest".into());
                }
                0x77 => "ExtendedRequest",
                0x78 => "ExtendedResponse",
                _ => return None,
            };
            // LDAPResult's first field is the resultCode (RFC 4511 4.1.9).
            let code = matches!(tag, 0x61 | 0x65 | 0x78)
                .then(|| crate::proto::ber::Reader::new(contents, 0).next_element())
                .flatten()
                .and_then(|e| crate::proto::ber::integer(e.contents));
            Some(match code {
                Some(code) => format!("{name} (resultCode {code})"),
                None => name.to_string(),
            })
        }
        _ => None,
    }
}

/// An LDAP message's protocol operation: its tag and contents.
fn ldap_op(message: &[u8]) -> Option<(u8, &[u8])> {
    use crate::proto::ber::Reader;
    let outer = Reader::new(message, 0).next_element()?;
    let mut fields = Reader::inside(&outer);
    fields.next_element()?;
    let op = fields.next_element()?;
    Some((op.tag, op.contents))
}

const POSTGRES_SSL_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The roles of every line of a session.
pub(crate) fn roles(s: &SeenSession) -> Vec<Role> {
    let p = s.protocol;
    let mut out = vec![Role::default(); s.lines.len()];
    let mut last_client: Option<(usize, Vec<u8>)> = None;
    let mut reply_no = 0usize;
    let mut pending: Option<(usize, Vec<u8>)> = None;
    let mut go_ahead = false;
    let mut answered: Vec<(usize, usize)> = Vec::new();
    for (i, l) in s.lines.iter().enumerate() {
        if !matches!(l.item.kind, TapKind::Line | TapKind::AfterGoAhead) {
            continue;
        }
        let bytes = &l.item.bytes;
        let Some(role) = out.get_mut(i) else { continue };
        match l.side() {
            Side::Client => {
                let v = verb(p, bytes);
                role.starttls_command = is_upgrade_command(p, bytes);
                if role.starttls_command {
                    let tag = words::split_word(bytes).0.to_vec();
                    pending = Some((i, tag));
                }
                last_client = Some((i, v));
                reply_no = 0;
            }
            Side::Server => {
                role.answers = last_client.as_ref().map(|(c, _)| *c);
                role.greeting = last_client.is_none();
                role.after_go_ahead = go_ahead || l.item.kind == TapKind::AfterGoAhead;
                let command = last_client.as_ref().map(|(_, v)| v.as_slice());
                role.capability = is_capability(p, bytes, command, reply_no);
                if let Some((c, tag)) = &pending {
                    if let Some(accepted) = final_answer(p, bytes, tag) {
                        role.starttls_answer = Some(accepted);
                        answered.push((*c, i));
                        go_ahead |= accepted;
                        pending = None;
                    }
                }
                reply_no += 1;
            }
        }
    }
    // Client lines sent after a STARTTLS, before its answer was sent (the
    // dialog may read them after the answer: it holds them until then).
    for (c, a) in answered {
        let (Some(cmd), Some(ans)) = (s.lines.get(c), s.lines.get(a)) else {
            continue;
        };
        let (cmd_packet, ans_ts) = (cmd.item.packet, ans.item.packet.map(|p| p.ts));
        for (j, l) in s.lines.iter().enumerate().skip(c + 1) {
            if l.side() != Side::Client || !matches!(l.item.kind, TapKind::Line) {
                continue;
            }
            let same_segment = l.item.packet == cmd_packet;
            let before_answer = matches!((l.item.packet, ans_ts), (Some(p), Some(t)) if p.ts < t);
            if let Some(role) = out.get_mut(j) {
                role.after_starttls |= same_segment || before_answer;
            }
        }
    }
    out
}

/// The line that ends the answer to a STARTTLS, and whether it accepts.
fn final_answer(p: Option<Protocol>, line: &[u8], tag: &[u8]) -> Option<bool> {
    match p {
        Some(Protocol::Imap) => {
            let (first, rest) = words::split_word(line);
            (first == tag).then(|| words::is(words::split_word(rest).0, "OK"))
        }
        Some(Protocol::Pop3) => {
            let w = words::split_word(line).0;
            (words::is(w, "+OK") || words::is(w, "-ERR")).then(|| words::is(w, "+OK"))
        }
        // An ExtendedResponse: resultCode 0 is success (RFC 4511 4.14.2).
        Some(Protocol::Ldap) => {
            let (tag, contents) = ldap_op(line)?;
            let code = crate::proto::ber::Reader::new(contents, 0).next_element()?;
            (tag == 0x78).then(|| crate::proto::ber::integer(code.contents) == Some(0))
        }
        // RFC 4642: 382 goes ahead; 580, 502 and others refuse.
        Some(Protocol::Nntp) => {
            let code_ok = line.len() >= 3 && line.iter().take(3).all(u8::is_ascii_digit);
            (code_ok && line.get(3) != Some(&b'-')).then(|| line.starts_with(b"382"))
        }
        Some(Protocol::ManageSieve) => {
            let w = words::split_word(line).0;
            ["OK", "NO", "BYE"]
                .iter()
                .any(|k| words::is(w, k))
                .then(|| words::is(w, "OK"))
        }
        // RFC 6120 5.4.2.3: `<proceed/>`, or `<failure/>`; a stream error
        // ends the stream instead.
        Some(Protocol::Xmpp) => {
            let name = words::split_word(line).0;
            let name = name.strip_suffix(b"/").unwrap_or(name);
            if words::is(name, "proceed") {
                Some(true)
            } else {
                (words::is(name, "failure") || words::is(name, "stream:error")).then_some(false)
            }
        }
        // The one byte after SSLRequest: `S` (go ahead) or `N`.
        Some(Protocol::Postgresql) => match line {
            b"S" => Some(true),
            b"N" => Some(false),
            _ => None,
        },
        _ => {
            let code_ok = line.len() >= 3 && line.iter().take(3).all(u8::is_ascii_digit);
            (code_ok && line.get(3) != Some(&b'-')).then(|| line.first() == Some(&b'2'))
        }
    }
}

/// A line of a capability list.
fn is_capability(
    p: Option<Protocol>,
    line: &[u8],
    command: Option<&[u8]>,
    reply_no: usize,
) -> bool {
    match p {
        Some(Protocol::Imap) => !imap_capabilities(line).is_empty(),
        Some(Protocol::Pop3) => command == Some(b"CAPA") && reply_no > 0 && line != b".",
        // RFC 2389: a feature is a line of the multi-line reply that
        // begins with a space.
        Some(Protocol::Ftp) => command == Some(b"FEAT") && line.first() == Some(&b' '),
        Some(Protocol::Nntp) => command == Some(b"CAPABILITIES") && reply_no > 0 && line != b".",
        // The capability block's lines are quoted strings (RFC 5804 1.7).
        Some(Protocol::ManageSieve) => line.first() == Some(&b'"'),
        // A stream feature of the TLS namespace (a tag, without `<>`),
        // not its answers (RFC 6120 5.4.2.3).
        Some(Protocol::Xmpp) => {
            let name = words::split_word(line).0;
            memchr::memmem::find(line, b"urn:ietf:params:xml:ns:xmpp-tls").is_some()
                && !(words::is(name, "proceed") || words::is(name, "failure"))
                && !line.starts_with(b"/")
        }
        _ => matches!(command, Some(b"EHLO" | b"LHLO")) && reply_no > 0 && line.starts_with(b"250"),
    }
}

/// The capability tokens of an IMAP `* CAPABILITY ...` line or
/// `[CAPABILITY ...]` code, upper case.
pub(crate) fn imap_capabilities(line: &[u8]) -> Vec<Vec<u8>> {
    let upper = line.to_ascii_uppercase();
    let start = [&b"* CAPABILITY "[..], b"[CAPABILITY "]
        .iter()
        .find_map(|k| memchr::memmem::find(&upper, k).map(|at| at + k.len()));
    let Some(start) = start else {
        return Vec::new();
    };
    let rest = upper.get(start..).unwrap_or_default();
    let end = rest.iter().position(|b| *b == b']').unwrap_or(rest.len());
    rest.get(..end)
        .unwrap_or_default()
        .split(|b| *b == b' ')
        .filter(|t| !t.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The keyword of an SMTP (`250-STARTTLS`) or POP3 (`STLS`) capability
/// line; an FTP feature whole (` AUTH TLS`: the argument is the point).
pub(crate) fn keyword(p: Option<Protocol>, line: &[u8]) -> Vec<u8> {
    let text = match p {
        Some(Protocol::Ftp) => return words::trim(line).to_ascii_uppercase(),
        Some(Protocol::ManageSieve) => {
            let word = words::split_word(line).0;
            let bare = word.strip_prefix(b"\"").unwrap_or(word);
            return bare
                .strip_suffix(b"\"")
                .unwrap_or(bare)
                .to_ascii_uppercase();
        }
        Some(Protocol::Pop3 | Protocol::Nntp) => line,
        Some(Protocol::Xmpp) => {
            let name = words::split_word(line).0;
            return name.strip_suffix(b"/").unwrap_or(name).to_ascii_uppercase();
        }
        _ => line.get(4..).unwrap_or_default(),
    };
    words::split_word(text).0.to_ascii_uppercase()
}

pub(crate) fn is_mask_of(mask: &[u8], original: &[u8]) -> bool {
    words::is_masked_token(mask, original.len(), &[])
        || words::is_overwritten_command(mask, original.len())
        || words_masked(mask, original)
}

/// Same words but some masked one by one (FTP's `AUTH XXX` for `AUTH TLS`).
fn words_masked(mask: &[u8], original: &[u8]) -> bool {
    let split = |b: &[u8]| {
        b.split(|c| *c == b' ')
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    let (m, o) = (split(mask), split(original));
    mask != original
        && m.len() == o.len()
        && m.iter()
            .zip(&o)
            .all(|(m, o)| m == o || words::is_masked_token(m, o.len(), &[]))
}

/// A greeting whose text is mostly asterisks (Cisco ASA mask-banner).
pub(crate) fn banner_masked(p: Option<Protocol>, line: &[u8]) -> bool {
    let text = match p {
        Some(Protocol::Imap) => words::split_word(words::split_word(line).1).1,
        Some(Protocol::Pop3) => words::split_word(line).1,
        _ => line.get(4..).unwrap_or_default(),
    };
    let shown: Vec<u8> = text.iter().copied().filter(|b| *b != b' ').collect();
    let stars = shown.iter().filter(|b| **b == b'*').count();
    !shown.is_empty() && stars * 2 >= shown.len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn answers_to_starttls() {
        let smtp = Some(Protocol::Smtp);
        assert_eq!(final_answer(smtp, b"220 2.0.0 Ready", b""), Some(true));
        assert_eq!(final_answer(smtp, b"454 4.7.0 no", b""), Some(false));
        assert_eq!(final_answer(smtp, b"250-not the end", b""), None);
        let imap = Some(Protocol::Imap);
        assert_eq!(final_answer(imap, b"a2 OK go", b"a2"), Some(true));
        assert_eq!(final_answer(imap, b"a2 NO later", b"a2"), Some(false));
        assert_eq!(final_answer(imap, b"* CAPABILITY X", b"a2"), None);
        let pop = Some(Protocol::Pop3);
        assert_eq!(final_answer(pop, b"+OK Begin TLS", b""), Some(true));
        assert_eq!(final_answer(pop, b"-ERR no", b""), Some(false));
    }

    #[test]
    fn capability_lines() {
        let smtp = Some(Protocol::Smtp);
        assert!(is_capability(smtp, b"250-STARTTLS", Some(b"EHLO"), 3));
        assert!(!is_capability(smtp, b"250-mx", Some(b"EHLO"), 0));
        assert!(!is_capability(smtp, b"250 2.1.0 Ok", Some(b"MAIL"), 0));
        let pop = Some(Protocol::Pop3);
        assert!(is_capability(pop, b"STLS", Some(b"CAPA"), 2));
        assert!(!is_capability(pop, b".", Some(b"CAPA"), 9));
        assert!(!is_capability(pop, b"+OK", Some(b"CAPA"), 0));
        assert_eq!(
            imap_capabilities(b"* OK [CAPABILITY IMAP4rev1 StartTLS] ready"),
            [b"IMAP4REV1".to_vec(), b"STARTTLS".to_vec()]
        );
        assert!(imap_capabilities(b"a1 OK done").is_empty());
        assert_eq!(keyword(smtp, b"250-AUTH PLAIN LOGIN"), b"AUTH");
        assert_eq!(keyword(pop, b"SASL PLAIN"), b"SASL");
    }

    #[test]
    fn masks() {
        let smtp = Some(Protocol::Smtp);
        assert!(banner_masked(smtp, b"220 *****2***0****"));
        assert!(!banner_masked(smtp, b"220 mail.example.org ESMTP"));
        assert!(banner_masked(Some(Protocol::Imap), b"* OK ******** *****"));
        assert!(is_mask_of(b"XXXXXXXA", b"STARTTLS"));
        assert!(is_mask_of(b"XXXX", b"STLS"));
        assert!(!is_mask_of(b"SMTPUTF8", b"STARTTLS"));
        assert_eq!(verb(Some(Protocol::Imap), b"a1 starttls"), b"STARTTLS");
        assert_eq!(verb(smtp, b"ehlo x"), b"EHLO");
    }
}
