//! Which mail protocol a session speaks, from its first lines.

use crate::flow::Side;
use crate::proto::facts::Protocol;

/// Recognises the protocol from a session's first line: the server's
/// greeting (SMTP `220`, IMAP `* OK`/`* PREAUTH`/`* BYE`, POP3 `+OK`), or
/// the client's first command when the greeting is missing.
pub fn detect(side: Side, line: &[u8]) -> Option<Protocol> {
    let upper: Vec<u8> = line.iter().take(16).map(u8::to_ascii_uppercase).collect();
    let starts = |p: &[u8]| upper.starts_with(p);
    match side {
        Side::Server => {
            if starts(b"* OK") || starts(b"* PREAUTH") || starts(b"* BYE") {
                Some(Protocol::Imap)
            } else if starts(b"+OK") || starts(b"-ERR") {
                Some(Protocol::Pop3)
            } else if upper.len() >= 3
                && upper.iter().take(3).all(u8::is_ascii_digit)
                && matches!(upper.get(3), None | Some(b' ' | b'-'))
                && matches!(upper.first(), Some(b'2' | b'4' | b'5'))
            {
                Some(Protocol::Smtp)
            } else {
                None
            }
        }
        Side::Client => {
            let word: Vec<u8> = upper
                .split(|b| *b == b' ')
                .next()
                .unwrap_or_default()
                .to_vec();
            match word.as_slice() {
                b"EHLO" | b"HELO" | b"LHLO" | b"MAIL" | b"RCPT" | b"DATA" | b"BDAT"
                | b"STARTTLS" => Some(Protocol::Smtp),
                b"USER" | b"PASS" | b"APOP" | b"CAPA" | b"STLS" | b"STAT" | b"RETR" | b"UIDL"
                | b"TOP" => Some(Protocol::Pop3),
                _ => {
                    // IMAP: a tag, then a command.
                    let mut parts = upper.split(|b| *b == b' ');
                    let tag = parts.next().unwrap_or_default();
                    let command = parts.next().unwrap_or_default();
                    let is_imap_command = matches!(
                        command,
                        b"CAPABILITY"
                            | b"LOGIN"
                            | b"AUTHENTICATE"
                            | b"STARTTLS"
                            | b"SELECT"
                            | b"EXAMINE"
                            | b"LIST"
                            | b"LSUB"
                            | b"NOOP"
                            | b"LOGOUT"
                            | b"ID"
                            | b"FETCH"
                            | b"UID"
                            | b"STATUS"
                            | b"ENABLE"
                    );
                    (!tag.is_empty() && is_imap_command).then_some(Protocol::Imap)
                }
            }
        }
    }
}
