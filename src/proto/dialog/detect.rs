//! Which mail protocol a session speaks, from its first lines.

use crate::flow::Side;
use crate::proto::facts::Protocol;

/// Recognises the protocol from a session's first line: the server's
/// greeting (SMTP `220`, IMAP `* OK`/`* PREAUTH`/`* BYE` or the
/// `* CAPABILITY` line some send before it, POP3 `+OK`), or
/// the client's first command when the greeting is missing.
pub(crate) fn detect(side: Side, line: &[u8]) -> Option<Protocol> {
    let upper: Vec<u8> = line.iter().take(16).map(u8::to_ascii_uppercase).collect();
    let starts = |p: &[u8]| upper.starts_with(p);
    match side {
        Side::Server => {
            // Some servers send their capabilities before the greeting.
            if starts(b"* OK")
                || starts(b"* PREAUTH")
                || starts(b"* BYE")
                || starts(b"* CAPABILITY")
            {
                Some(Protocol::Imap)
            } else if starts(b"+OK") || starts(b"-ERR") {
                Some(Protocol::Pop3)
            } else if is_sieve_capability(line) {
                Some(Protocol::ManageSieve)
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

/// [`detect`], with the server port's hint deciding what FTP and mail
/// share: a `220`-style reply from the server, `USER`, `PASS` or `QUIT`
/// from the client are FTP on an FTP port. A command only FTP has is FTP
/// on any port.
pub(crate) fn detect_with_hint(
    side: Side,
    line: &[u8],
    hint: Option<Protocol>,
) -> Option<Protocol> {
    if side == Side::Client && is_ftp_command(line) {
        return Some(Protocol::Ftp);
    }
    if let Some(p) = detect_sieve(side, line, hint) {
        return Some(p);
    }
    if let Some(p) = detect_nntp(side, line, hint) {
        return Some(p);
    }
    let detected = detect(side, line);
    let shared = match side {
        Side::Server => detected == Some(Protocol::Smtp),
        Side::Client => {
            let verb = line.split(|b| *b == b' ').next().unwrap_or_default();
            ["USER", "PASS", "QUIT", "NOOP"]
                .iter()
                .any(|k| verb.eq_ignore_ascii_case(k.as_bytes()))
        }
    };
    if shared && hint == Some(Protocol::Ftp) {
        Some(Protocol::Ftp)
    } else {
        detected
    }
}

/// A client command only FTP sends (RFC 959, 2228, 2389, 3659, 4217):
/// no SMTP, IMAP or POP3 command has these names, and `AUTH TLS`/`AUTH
/// SSL` name no SASL mechanism.
pub(crate) fn is_ftp_command(line: &[u8]) -> bool {
    let mut words = line.split(|b| *b == b' ');
    let verb = words.next().unwrap_or_default();
    let arg = words.next().unwrap_or_default();
    let is = |k: &str| verb.eq_ignore_ascii_case(k.as_bytes());
    if is("AUTH") {
        return [&b"TLS"[..], b"SSL", b"TLS-C", b"TLS-P"]
            .iter()
            .any(|m| arg.eq_ignore_ascii_case(m));
    }
    [
        "FEAT", "SYST", "PWD", "XPWD", "CWD", "CDUP", "TYPE", "PASV", "EPSV", "PORT", "EPRT",
        "NLST", "STOR", "SIZE", "MDTM", "MLSD", "MLST", "PBSZ", "PROT", "OPTS", "ACCT", "CLNT",
    ]
    .iter()
    .any(|k| is(k))
}

/// True for a line no mail dialog sends: control bytes other than tab
/// (a binary protocol, or a TLS stream read as text). Bytes past ASCII are
/// text (UTF-8, or a Latin-1 banner).
pub(crate) fn is_binary(line: &[u8]) -> bool {
    line.iter()
        .any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f)
}

/// Whether a `220` greeting was SMTP: other protocols greet with a `220`
/// too (FTP). The client's first line decides, or the server's answer to
/// it when the client said something else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum SmtpCheck {
    /// Nothing to check: the protocol came from a command, or is not SMTP.
    #[default]
    Settled,
    /// A `220`-style greeting; the client has not spoken yet.
    AwaitClient,
    /// The client's first line was no SMTP command (a password guesser's
    /// `USER`, a bot's binary); an SMTP server rejects it (4xx/5xx),
    /// another protocol's server goes on (FTP `331`).
    AwaitAnswer,
    /// The dialog is not SMTP.
    Refuted,
}

impl SmtpCheck {
    /// The next state after a line of `side`.
    pub(crate) fn step(self, side: Side, line: &[u8]) -> SmtpCheck {
        match (self, side) {
            (SmtpCheck::AwaitClient, Side::Client) if is_smtp_command(line) => SmtpCheck::Settled,
            (SmtpCheck::AwaitClient, Side::Client) => SmtpCheck::AwaitAnswer,
            (SmtpCheck::AwaitAnswer, Side::Server) => {
                let rejected = line.len() >= 3
                    && matches!(line.first(), Some(b'4' | b'5'))
                    && line.iter().take(3).all(u8::is_ascii_digit);
                if rejected {
                    SmtpCheck::Settled
                } else {
                    SmtpCheck::Refuted
                }
            }
            (state, _) => state,
        }
    }

    /// The session ended: a client line no SMTP server answered says
    /// nothing for SMTP.
    pub(crate) fn finish(self) -> SmtpCheck {
        match self {
            SmtpCheck::AwaitAnswer => SmtpCheck::Refuted,
            state => state,
        }
    }
}

/// An SMTP client command (RFC 5321 and its extensions). FTP's `AUTH TLS`
/// and `AUTH SSL` are not (no SASL mechanism has those names).
fn is_smtp_command(line: &[u8]) -> bool {
    let mut words = line.split(|b| *b == b' ');
    let verb = words.next().unwrap_or_default().to_ascii_uppercase();
    let arg = words.next().unwrap_or_default().to_ascii_uppercase();
    match verb.as_slice() {
        b"AUTH" => !matches!(arg.as_slice(), b"TLS" | b"SSL"),
        b"EHLO" | b"HELO" | b"LHLO" | b"MAIL" | b"RCPT" | b"DATA" | b"BDAT" | b"RSET" | b"NOOP"
        | b"QUIT" | b"VRFY" | b"EXPN" | b"HELP" | b"STARTTLS" | b"ETRN" | b"ATRN" | b"TURN"
        | b"XCLIENT" | b"XFORWARD" | b"X-ANONYMOUSTLS" | b"X-EXPS" | b"XEXCH50"
        | b"X-LINK2STATE" | b"BURL" | b"SEND" | b"SOML" | b"SAML" => true,
        _ => false,
    }
}

/// Whether a side's first bytes open an XMPP stream (RFC 6120 4.2): the
/// XML declaration `<?xml`, or a stream header with the conventional
/// `stream:` prefix; on an XMPP port (`hint`), any tag. `None`: too few
/// bytes yet to tell.
pub(crate) fn xmpp_start(first: &[u8], hint: Option<Protocol>) -> Option<bool> {
    match first.first() {
        None => return None,
        Some(b'<') if hint == Some(Protocol::Xmpp) => return Some(true),
        Some(b'<') => {}
        Some(_) => return Some(false),
    }
    let openings: [&[u8]; 2] = [b"<?xml", b"<stream:"];
    if openings.iter().any(|o| first.starts_with(o)) {
        Some(true)
    } else if openings.iter().any(|o| o.starts_with(first)) {
        None
    } else {
        Some(false)
    }
}

/// A ManageSieve capability line (RFC 5804 1.8): a quoted capability name
/// opens it (`"IMPLEMENTATION" "Dovecot Pigeonhole"`, `"STARTTLS"`). No
/// other protocol's server starts a line with a quoted word.
fn is_sieve_capability(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"\"") else {
        return false;
    };
    let name_len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .count();
    name_len > 0 && rest.get(name_len) == Some(&b'"')
}

/// ManageSieve from a line other than a capability: a command only it has
/// (`PUTSCRIPT`, `AUTHENTICATE "PLAIN"` without IMAP's tag) on any port;
/// on its port (`hint`), any of its commands, and the server's
/// `OK`/`NO`/`BYE`.
fn detect_sieve(side: Side, line: &[u8], hint: Option<Protocol>) -> Option<Protocol> {
    let (verb, args) = crate::proto::words::split_word(line);
    let is = |k: &str| verb.eq_ignore_ascii_case(k.as_bytes());
    let only_sieve = [
        "HAVESPACE",
        "PUTSCRIPT",
        "LISTSCRIPTS",
        "SETACTIVE",
        "GETSCRIPT",
        "DELETESCRIPT",
        "RENAMESCRIPT",
        "CHECKSCRIPT",
    ];
    let shared = [
        "CAPABILITY",
        "STARTTLS",
        "AUTHENTICATE",
        "LOGOUT",
        "NOOP",
        "UNAUTHENTICATE",
    ];
    let said = match side {
        Side::Client => {
            only_sieve.iter().any(|k| is(k))
                || (is("AUTHENTICATE") && matches!(args.first(), Some(b'"' | b'{')))
                || (hint == Some(Protocol::ManageSieve) && shared.iter().any(|k| is(k)))
        }
        Side::Server => {
            hint == Some(Protocol::ManageSieve) && ["OK", "NO", "BYE"].iter().any(|k| is(k))
        }
    };
    said.then_some(Protocol::ManageSieve)
}

/// A client command only NNTP sends (RFC 3977, 4643, 2980): no SMTP,
/// POP3 or FTP command has these names.
pub(crate) fn is_nntp_command(line: &[u8]) -> bool {
    let (verb, args) = crate::proto::words::split_word(line);
    let is = |k: &str| verb.eq_ignore_ascii_case(k.as_bytes());
    if is("MODE") {
        let arg = crate::proto::words::split_word(args).0;
        return [&b"READER"[..], b"STREAM"]
            .iter()
            .any(|m| arg.eq_ignore_ascii_case(m));
    }
    [
        "CAPABILITIES",
        "AUTHINFO",
        "GROUP",
        "LISTGROUP",
        "ARTICLE",
        "XOVER",
        "OVER",
        "NEWNEWS",
        "NEWGROUPS",
        "IHAVE",
        "XHDR",
        "XGTITLE",
        "TAKETHIS",
    ]
    .iter()
    .any(|k| is(k))
}

/// A `200`/`201` greeting that names news (`NNTP`, `NNRP`, `news`): SMTP
/// greets with `220`, and other `200` greetings stay SMTP's until the
/// client speaks NNTP.
fn is_news_greeting(line: &[u8]) -> bool {
    let upper = line.to_ascii_uppercase();
    (upper.starts_with(b"200 ") || upper.starts_with(b"201 "))
        && [&b"NNTP"[..], b"NNRP", b"NEWS"]
            .iter()
            .any(|w| upper.windows(w.len()).any(|x| x == *w))
}

/// NNTP: a command only it has on any port; on its port (`hint`), the
/// server's status lines (`200`/`201` greetings, SMTP-like) and the
/// commands it shares with others.
fn detect_nntp(side: Side, line: &[u8], hint: Option<Protocol>) -> Option<Protocol> {
    let on_port = hint == Some(Protocol::Nntp);
    let said = match side {
        Side::Client => {
            let verb = crate::proto::words::split_word(line).0;
            let shared = [
                "STARTTLS", "QUIT", "LIST", "HEAD", "BODY", "POST", "HELP", "DATE", "STAT", "NEXT",
                "LAST",
            ];
            is_nntp_command(line)
                || (on_port
                    && shared
                        .iter()
                        .any(|k| verb.eq_ignore_ascii_case(k.as_bytes())))
        }
        Side::Server => {
            (on_port && detect(side, line) == Some(Protocol::Smtp)) || is_news_greeting(line)
        }
    };
    said.then_some(Protocol::Nntp)
}
