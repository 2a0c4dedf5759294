//! Which client bytes are secret, decided from the bytes alone.
//!
//! Masking must not depend on a credential parser having understood the
//! exchange: a password in a login the parser gave up on (past its caps,
//! after a lost prompt, in a mechanism it does not know, in a line longer
//! than the line limit) is still a password. The [`SecretGuard`] sits in
//! the dialog driver, sees every cleartext line before the protocol
//! machine does, and marks as secret:
//!
//! - everything after the visible words of a command that starts an
//!   authentication exchange (SMTP/POP3 `AUTH mech`, IMAP `LOGIN` and
//!   `AUTHENTICATE mech`, POP3 `USER`, `PASS`, `APOP`);
//! - every client byte from there to the server's final answer (SASL
//!   responses, cancellations, IMAP literals and command continuations),
//!   across any number of attempts;
//! - every client line the protocol does not know as a command (a base64
//!   line after the exchange was refused or cancelled, a password typed at
//!   the wrong prompt), and the rest of a secret line cut at the line limit.
//!
//! What it marks lands in [`SecretSpans`], the session's stream ranges to
//! mask in every output and evidence packet.

use super::facts::Protocol;
use super::words::{is, split_word};
use crate::flow::{PerSide, Side};

mod xml;
pub(crate) use xml::local_name;

/// Secret ranges kept per side before they are merged. Past it a new range
/// joins the last one, masking the bytes between them too: a cap may limit
/// what is reported, never what is masked.
pub(crate) const MAX_SECRET_SPANS: usize = 256;

/// Secret words remembered per session to find server echoes of them, and
/// the lengths considered (shorter ones are too common in ordinary text;
/// longer ones are cut by the line limit anyway).
const MAX_ECHOES: usize = 32;
const MIN_ECHO: usize = 6;
const MAX_ECHO: usize = 512;

/// Longest IMAP tag remembered for the exchange it opened (RFC 3501 tags
/// are short; a longer one is compared by its prefix).
const MAX_TAG: usize = 64;

/// A protocol's command words, as far as secrecy goes.
struct Vocabulary {
    /// Commands begin with a tag (IMAP).
    tagged: bool,
    /// Commands that start an authentication exchange, with what of the
    /// line stays visible.
    auth: &'static [(&'static str, Shown)],
    /// Commands that carry nothing secret.
    known: &'static [&'static str],
}

const SMTP: Vocabulary = Vocabulary {
    tagged: false,
    // X-EXPS: Exchange's AUTH between its servers.
    auth: &[("AUTH", Shown::Words(2)), ("X-EXPS", Shown::Words(2))],
    known: &[
        "EHLO",
        "HELO",
        "LHLO",
        "MAIL",
        "RCPT",
        "DATA",
        "BDAT",
        "RSET",
        "NOOP",
        "QUIT",
        "VRFY",
        "EXPN",
        "HELP",
        "STARTTLS",
        "ETRN",
        "TURN",
        "ATRN",
        "XCLIENT",
        "XFORWARD",
        "X-ANONYMOUSTLS",
    ],
};

const IMAP: Vocabulary = Vocabulary {
    tagged: true,
    auth: &[
        ("LOGIN", Shown::WordsThenName(2)),
        ("AUTHENTICATE", Shown::Words(3)),
    ],
    known: &[
        "CAPABILITY",
        "NOOP",
        "LOGOUT",
        "STARTTLS",
        "SELECT",
        "EXAMINE",
        "CREATE",
        "DELETE",
        "RENAME",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "LIST",
        "LSUB",
        "STATUS",
        "APPEND",
        "CHECK",
        "CLOSE",
        "UNSELECT",
        "EXPUNGE",
        "SEARCH",
        "FETCH",
        "STORE",
        "COPY",
        "MOVE",
        "UID",
        "IDLE",
        "ID",
        "ENABLE",
        "NAMESPACE",
        "GETQUOTA",
        "GETQUOTAROOT",
        "SETQUOTA",
        "GETACL",
        "SETACL",
        "DELETEACL",
        "LISTRIGHTS",
        "MYRIGHTS",
        "GETMETADATA",
        "SETMETADATA",
        "COMPRESS",
        "SORT",
        "THREAD",
        "ESEARCH",
        "XLIST",
        "UNAUTHENTICATE",
        "NOTIFY",
        "REPLACE",
        "XAPPLEPUSHSERVICE",
    ],
};

const POP3: Vocabulary = Vocabulary {
    tagged: false,
    auth: &[
        ("USER", Shown::Words(2)),
        ("PASS", Shown::Words(1)),
        ("APOP", Shown::Words(2)),
        ("AUTH", Shown::Words(2)),
    ],
    known: &[
        "CAPA", "STLS", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL",
        "UTF8", "LANG", "XTND",
    ],
};

/// FTP (RFC 959, 2228, 2389, 4217 and the usual extensions). `USER`
/// opens the exchange (its name stays visible), `PASS` and `ACCT` carry
/// the secret, `ADAT` a security mechanism's data, and RFC 2228's
/// protected commands (`MIC`, `CONF`, `ENC`) hide any command, a password
/// among them. `AUTH TLS` carries nothing secret.
const FTP: Vocabulary = Vocabulary {
    tagged: false,
    auth: &[
        ("USER", Shown::Words(2)),
        ("PASS", Shown::Words(1)),
        ("ACCT", Shown::Words(1)),
        ("ADAT", Shown::Words(1)),
        ("MIC", Shown::Words(1)),
        ("CONF", Shown::Words(1)),
        ("ENC", Shown::Words(1)),
    ],
    known: &[
        "ABOR", "ALLO", "APPE", "AUTH", "CCC", "CDUP", "CLNT", "CWD", "DELE", "EPRT", "EPSV",
        "FEAT", "HELP", "HOST", "LANG", "LIST", "MDTM", "MFMT", "MKD", "MLSD", "MLST", "MODE",
        "NLST", "NOOP", "OPTS", "PASV", "PBSZ", "PORT", "PROT", "PWD", "QUIT", "REIN", "REST",
        "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR", "STOU", "STRU",
        "SYST", "TYPE", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD",
    ],
};

/// ManageSieve (RFC 5804 2): `AUTHENTICATE "mech"` opens the exchange
/// (the mechanism stays visible; an initial response after it, quoted or
/// a literal, is secret), and every client string up to the final
/// `OK`/`NO`/`BYE` is a SASL response (not a command: secret whole).
const SIEVE: Vocabulary = Vocabulary {
    tagged: false,
    auth: &[("AUTHENTICATE", Shown::Words(2))],
    known: &[
        "CAPABILITY",
        "STARTTLS",
        "LOGOUT",
        "NOOP",
        "HAVESPACE",
        "PUTSCRIPT",
        "LISTSCRIPTS",
        "SETACTIVE",
        "GETSCRIPT",
        "DELETESCRIPT",
        "RENAMESCRIPT",
        "CHECKSCRIPT",
        "UNAUTHENTICATE",
    ],
};

/// NNTP (RFC 3977, 4642, 4643): `AUTHINFO` opens the exchange (`USER`'s
/// name and `SASL`'s mechanism stay visible; `PASS`'s password, `SASL`'s
/// initial response and every line up to the final answer are secret).
const NNTP: Vocabulary = Vocabulary {
    tagged: false,
    auth: &[("AUTHINFO", Shown::AuthInfo)],
    known: &[
        "ARTICLE",
        "BODY",
        "CAPABILITIES",
        "CHECK",
        "DATE",
        "GROUP",
        "HDR",
        "HEAD",
        "HELP",
        "IHAVE",
        "LAST",
        "LIST",
        "LISTGROUP",
        "MODE",
        "NEWGROUPS",
        "NEWNEWS",
        "NEXT",
        "OVER",
        "POST",
        "QUIT",
        "SLAVE",
        "STARTTLS",
        "STAT",
        "TAKETHIS",
        "XGTITLE",
        "XHDR",
        "XOVER",
        "XPAT",
        "COMPRESS",
    ],
};

/// PostgreSQL speaks no lines: its client messages are judged by their
/// type (see [`SecretGuard::client_message`]). A line read as one (a
/// dialog taken for PostgreSQL that is not) is secret whole.
const NO_LINES: Vocabulary = Vocabulary {
    tagged: false,
    auth: &[],
    known: &[],
};

/// What of a command that starts an exchange stays visible: the words that
/// name it (the tag counts) and the username where the command's syntax
/// makes it plain (it is in the credential record anyway). Everything
/// after is secret; a line with no more than that starts the exchange with
/// nothing secret in it (POP3 `USER name`, `AUTH` alone).
#[derive(Clone, Copy, Debug)]
enum Shown {
    Words(usize),
    /// The words, then one IMAP atom or quoted string (a literal is not
    /// read: it is masked with the rest).
    WordsThenName(usize),
    /// NNTP's `AUTHINFO USER name` and `AUTHINFO SASL mech` show three
    /// words, any other `AUTHINFO` (`PASS`) two.
    AuthInfo,
}

impl Shown {
    fn visible(self, line: &[u8]) -> usize {
        match self {
            Shown::Words(n) => super::words::after_words(line, n).unwrap_or(line.len()),
            Shown::WordsThenName(n) => {
                let Some(at) = super::words::after_words(line, n) else {
                    return line.len();
                };
                at + line.get(at..).map_or(0, name_len)
            }
            Shown::AuthInfo => {
                let sub = split_word(split_word(line).1).0;
                let n = if is(sub, "USER") || is(sub, "SASL") {
                    3
                } else {
                    2
                };
                super::words::after_words(line, n).unwrap_or(line.len())
            }
        }
    }
}

/// Length of the IMAP atom or quoted string `bytes` start with, with the
/// space after it; 0 when it is neither (a literal, or a quote not closed).
fn name_len(bytes: &[u8]) -> usize {
    let end = if bytes.first() == Some(&b'"') {
        let mut escaped = false;
        let close = bytes.iter().enumerate().skip(1).find(|&(_, &b)| {
            let closes = b == b'"' && !escaped;
            escaped = b == b'\\' && !escaped;
            closes
        });
        match close {
            Some((i, _)) => i + 1,
            None => return 0,
        }
    } else if bytes.first() == Some(&b'{') {
        return 0;
    } else {
        bytes
            .iter()
            .position(|b| *b == b' ' || *b == b'\t')
            .unwrap_or(bytes.len())
    };
    match bytes.get(end) {
        Some(b' ' | b'\t') => end + 1,
        Some(_) => 0,
        None => end,
    }
}

/// A command word of `protocol` (the one list of them: the line machines
/// count the others as unparsed).
pub(crate) fn is_command(protocol: Protocol, verb: &[u8]) -> bool {
    let v = vocabulary(protocol);
    v.known.iter().any(|k| is(verb, k)) || v.auth.iter().any(|(k, _)| is(verb, k))
}

fn vocabulary(protocol: Protocol) -> &'static Vocabulary {
    match protocol {
        Protocol::Smtp | Protocol::Lmtp => &SMTP,
        Protocol::Imap => &IMAP,
        Protocol::Pop3 => &POP3,
        Protocol::Ftp => &FTP,
        Protocol::Postgresql => &NO_LINES,
        Protocol::Mysql => &NO_LINES,
        Protocol::Xmpp => &NO_LINES,
        Protocol::Ldap => &NO_LINES,
        Protocol::ManageSieve => &SIEVE,
        Protocol::Nntp => &NNTP,
    }
}

/// What a client line is, for secrecy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineClass {
    /// Starts an authentication exchange; secret after `visible` bytes.
    Auth { visible: usize },
    /// A command that carries nothing secret.
    Known,
    /// Anything else: secret as a whole.
    Unknown,
}

/// Classifies a client line with `protocol`'s vocabulary, or with every
/// protocol's when the dialog's protocol is not known (secret wins).
fn classify(protocol: Option<Protocol>, line: &[u8]) -> LineClass {
    match protocol {
        Some(p) => classify_with(vocabulary(p), line),
        None => {
            let classes = [&SMTP, &IMAP, &POP3].map(|v| classify_with(v, line));
            let auth = classes.iter().find_map(|c| match c {
                LineClass::Auth { visible } => Some(*visible),
                _ => None,
            });
            match auth {
                Some(visible) => LineClass::Auth { visible },
                None if classes.contains(&LineClass::Known) => LineClass::Known,
                None => LineClass::Unknown,
            }
        }
    }
}

fn classify_with(vocabulary: &Vocabulary, line: &[u8]) -> LineClass {
    let (first, rest) = split_word(line);
    let (verb, args) = if vocabulary.tagged {
        // IDLE ends with an untagged DONE (RFC 2177).
        if is(first, "DONE") && rest.is_empty() {
            return LineClass::Known;
        }
        split_word(rest)
    } else {
        (first, rest)
    };
    if let Some((_, shown)) = vocabulary.auth.iter().find(|(k, _)| is(verb, k)) {
        return LineClass::Auth {
            visible: shown.visible(line),
        };
    }
    // A command a middlebox overwrote with one repeated character
    // (`XXXXXXXX` for STARTTLS) is evidence, not a secret.
    let overwritten = (args.is_empty()
        && [4, 8].contains(&verb.len())
        && super::words::is_overwritten_command(verb, verb.len()))
        || super::words::is_overwritten_phrase(line, "AUTH TLS");
    if overwritten || vocabulary.known.iter().any(|k| is(verb, k)) {
        LineClass::Known
    } else {
        LineClass::Unknown
    }
}

/// Where an authentication exchange stands, as the bytes show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Exchange {
    #[default]
    Closed,
    /// A command started one; the server has not given its final answer.
    /// For IMAP, the tag that answer carries.
    Open { tag: Option<Vec<u8>> },
}

/// Decides, line by line, which client bytes are secret (see the module
/// documentation).
#[derive(Debug, Default)]
pub(crate) struct SecretGuard {
    exchange: Exchange,
    /// The last client line was secret and cut at the line limit: the rest
    /// of it, up to the next line, is secret too (from this offset).
    cut_tail: Option<u64>,
    /// IMAP: the next client line continues a command after its literal,
    /// and is secret when that command was.
    continues_secret: Option<bool>,
    /// The last client line's verdict (for the continuation after a literal).
    last_secret: bool,
    /// Words of recent secrets, to find them again where a server echoes
    /// them (Dovecot's POP3 `-ERR Unknown command: ...`).
    echoes: std::collections::VecDeque<Vec<u8>>,
    /// XMPP: the client's secret elements, by their tags.
    xml: xml::XmlSecrets,
}

impl SecretGuard {
    /// A complete client line at stream `offset`, `cut` when it was cut at
    /// the line limit: where its secret part starts (`None`: nothing in it
    /// is secret). Secret ranges are added to `spans`.
    pub(crate) fn client_line(
        &mut self,
        protocol: Option<Protocol>,
        line: &[u8],
        offset: u64,
        cut: bool,
        spans: &mut SecretSpans,
    ) -> Option<usize> {
        if let Some(from) = self.cut_tail.take() {
            spans.add(Side::Client, from, offset);
        }
        let secret_from = self.judge(protocol, line);
        self.last_secret = secret_from.is_some();
        if let Some(from) = secret_from {
            let end = offset + line.len() as u64;
            spans.add(Side::Client, offset + from as u64, end);
            if cut {
                self.cut_tail = Some(end);
            }
            self.remember(line.get(from..).unwrap_or_default());
        }
        secret_from
    }

    /// Keeps the words of a secret part that are long enough to be told
    /// apart from ordinary text (bounded: the oldest go first).
    fn remember(&mut self, secret: &[u8]) {
        let words = secret.split(|b| matches!(b, b' ' | b'\t' | b'\r'));
        for word in words.filter(|w| (MIN_ECHO..=MAX_ECHO).contains(&w.len())) {
            if self.echoes.iter().any(|e| e == word) {
                continue;
            }
            if self.echoes.len() >= MAX_ECHOES {
                self.echoes.pop_front();
            }
            self.echoes.push_back(word.to_vec());
        }
    }

    /// A server line at stream `offset`: where a secret the client sent
    /// shows again in it (secret from there on, and added to `spans`).
    pub(crate) fn server_echo(
        &self,
        line: &[u8],
        offset: u64,
        spans: &mut SecretSpans,
    ) -> Option<usize> {
        let at = self
            .echoes
            .iter()
            .filter_map(|word| find_token(line, word))
            .min()?;
        spans.add(Side::Server, offset + at as u64, offset + line.len() as u64);
        Some(at)
    }

    fn judge(&mut self, protocol: Option<Protocol>, line: &[u8]) -> Option<usize> {
        if let Some(secret) = self.continues_secret.take() {
            return secret.then_some(0);
        }
        let class = classify(protocol, line);
        let open = self.exchange != Exchange::Closed;
        match class {
            LineClass::Auth { visible } => {
                self.exchange = Exchange::Open {
                    tag: (protocol == Some(Protocol::Imap)).then(|| tag_of(line)),
                };
                (visible < line.len()).then_some(visible)
            }
            // A known command with arguments ends an exchange whose final
            // answer was not seen: a SASL response is one word, and every
            // IMAP command has a tag and a word.
            LineClass::Known if open && line.contains(&b' ') => {
                self.exchange = Exchange::Closed;
                None
            }
            LineClass::Known if !open => None,
            LineClass::Known | LineClass::Unknown => (!line.is_empty()).then_some(0),
        }
    }

    /// A server line: a final answer closes the exchange.
    pub(crate) fn server_line(&mut self, protocol: Option<Protocol>, line: &[u8]) {
        let Exchange::Open { tag } = &self.exchange else {
            return;
        };
        let closes = match protocol {
            Some(Protocol::Smtp | Protocol::Lmtp) => smtp_final(line),
            Some(Protocol::Imap) => {
                let (first, _) = split_word(line);
                tag.as_deref().is_some_and(|t| prefix(first) == t) || is(first, "*") && bye(line)
            }
            Some(Protocol::Pop3) => line.starts_with(b"+OK") || line.starts_with(b"-ERR"),
            // 331 and 332 ask for more (PASS, ACCT), 334 and 335 for more
            // ADAT; 1xx are preliminary.
            // 381 asks for PASS, 383 carries a challenge.
            Some(Protocol::Ftp | Protocol::Nntp) => {
                smtp_final(line) && matches!(line.first(), Some(b'2' | b'4' | b'5'))
            }
            Some(Protocol::Postgresql | Protocol::Mysql | Protocol::Xmpp | Protocol::Ldap) => false,
            // A challenge is a string; the final answer is a response.
            Some(Protocol::ManageSieve) => {
                let (first, _) = split_word(line);
                ["OK", "NO", "BYE"].iter().any(|k| is(first, k))
            }
            None => !line.starts_with(b"+ ") && line != b"+" && !line.starts_with(b"334"),
        };
        if closes {
            self.exchange = Exchange::Closed;
        }
    }

    /// A client literal (IMAP) or chunk (SMTP BDAT) of `len` bytes at
    /// `offset` passed: secret while an exchange is open. An IMAP command
    /// goes on after its literal, secret or not as it began.
    pub(crate) fn client_literal(
        &mut self,
        protocol: Option<Protocol>,
        offset: u64,
        len: u64,
        spans: &mut SecretSpans,
    ) {
        let secret = self.exchange != Exchange::Closed;
        if secret {
            spans.add(Side::Client, offset, offset.saturating_add(len));
        }
        if protocol == Some(Protocol::Imap) {
            self.continues_secret = Some(secret || self.last_secret);
        }
    }

    /// A PostgreSQL client message of type `kind` whose body is `len`
    /// bytes at stream `offset`: a `p` message (PasswordMessage,
    /// SASLInitialResponse, SASLResponse, GSSResponse) is secret whole, by
    /// its type alone, whatever the exchange showed.
    pub(crate) fn client_message(
        &mut self,
        kind: u8,
        offset: u64,
        len: u64,
        spans: &mut SecretSpans,
    ) {
        if kind == b'p' {
            spans.add(Side::Client, offset, offset.saturating_add(len));
        }
    }

    /// XMPP client bytes at stream `offset`, each seen once and in order:
    /// the attributes and content of `<auth>`, `<response>`,
    /// `<password>` and `<digest>` are secret, by their tags alone (see
    /// [`xml`]).
    pub(crate) fn client_xml(&mut self, bytes: &[u8], offset: u64, spans: &mut SecretSpans) {
        self.xml.feed(bytes, offset, spans);
    }

    /// The client's stream ended (or lost bytes): a cut secret line's tail
    /// runs to `offset`.
    pub(crate) fn client_break(&mut self, offset: u64, spans: &mut SecretSpans) {
        if let Some(from) = self.cut_tail.take() {
            spans.add(Side::Client, from, offset.max(from));
        }
        self.continues_secret = None;
        self.xml.gap();
    }

    /// The session ended: a cut secret line's tail runs to the end.
    pub(crate) fn finish(&mut self, spans: &mut SecretSpans) {
        if let Some(from) = self.cut_tail.take() {
            spans.add(Side::Client, from, u64::MAX);
        }
        self.xml.finish(spans);
    }
}

/// Where a secret starts in a client line seen out of the dialog's order
/// (a conflicting retransmission, an injected line, a tapped line): the
/// line alone decides, as at the start of a session.
pub(crate) fn secret_from_alone(protocol: Option<Protocol>, line: &[u8]) -> Option<usize> {
    SecretGuard::default().judge(protocol, line)
}

/// Masks the secret parts of client text that may hold several lines (an
/// excerpt of a conflicting retransmission): each line as
/// [`secret_from_alone`] says, bytes overwritten by `*`. A line cut by the
/// excerpt's end is judged as it stands.
pub(crate) fn mask_client_text(protocol: Option<Protocol>, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut start = 0;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if let Some(from) = secret_from_alone(protocol, body) {
            if let Some(secret) = out.get_mut(start + from..start + body.len()) {
                secret.fill(b'*');
            }
        }
        start += line.len();
    }
    out
}

/// Where `word` stands in `line` as a whole token (not inside a longer
/// word or base64 string: `fail` of a password is not in `failed`).
fn find_token(line: &[u8], word: &[u8]) -> Option<usize> {
    let token_byte =
        |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(b));
    memchr::memmem::find_iter(line, word).find(|&at| {
        let before = at.checked_sub(1).and_then(|i| line.get(i));
        !token_byte(before) && !token_byte(line.get(at + word.len()))
    })
}

fn tag_of(line: &[u8]) -> Vec<u8> {
    prefix(split_word(line).0).to_vec()
}

fn prefix(tag: &[u8]) -> &[u8] {
    tag.get(..MAX_TAG).unwrap_or(tag)
}

fn bye(line: &[u8]) -> bool {
    let (_, rest) = split_word(line);
    is(split_word(rest).0, "BYE")
}

/// An SMTP reply's last line with a final code (not 334, which goes on).
fn smtp_final(line: &[u8]) -> bool {
    let code = line.get(..3).unwrap_or_default();
    code.len() == 3
        && code.iter().all(u8::is_ascii_digit)
        && code != b"334"
        && matches!(line.get(3), None | Some(b' '))
}

/// A session's secret stream ranges, per side: sorted, merged where they
/// touch, and bounded (see [`MAX_SECRET_SPANS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretSpans {
    sides: PerSide<Vec<(u64, u64)>>,
}

impl SecretSpans {
    /// Marks `[start, end)` of `side`'s stream secret.
    pub(crate) fn add(&mut self, side: Side, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let spans = &mut self.sides[side];
        let at = spans.partition_point(|(s, _)| *s < start);
        spans.insert(at, (start, end));
        // Merge with the neighbours it touches.
        let mut i = at.saturating_sub(1);
        while i + 1 < spans.len() {
            let (Some(&(s0, e0)), Some(&(s1, e1))) = (spans.get(i), spans.get(i + 1)) else {
                break;
            };
            if s1 <= e0 {
                if let Some(first) = spans.get_mut(i) {
                    *first = (s0, e0.max(e1));
                }
                spans.remove(i + 1);
            } else if i > at {
                break;
            } else {
                i += 1;
            }
        }
        if spans.len() > MAX_SECRET_SPANS {
            // Over the cap the two last ranges become one (and the bytes
            // between them secret): masking more, never less.
            if let (Some((_, end)), Some(last)) = (spans.pop(), spans.last_mut()) {
                last.1 = last.1.max(end);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sides.iter().all(|(_, spans)| spans.is_empty())
    }

    /// Every range as (side, start, end), client first, in stream order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Side, u64, u64)> + '_ {
        self.sides
            .iter()
            .flat_map(|(side, spans)| spans.iter().map(move |&(s, e)| (side, s, e)))
    }

    /// The ranges of `side` that overlap `[start, end)`.
    pub(crate) fn overlapping(
        &self,
        side: Side,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = (u64, u64)> + '_ {
        let spans = &self.sides[side];
        let first = spans.partition_point(|(_, e)| *e <= start);
        spans
            .get(first..)
            .unwrap_or_default()
            .iter()
            .take_while(move |(s, _)| *s < end)
            .copied()
    }

    /// Overwrites with `*` the bytes of `bytes` (which start at stream
    /// `offset` of `side`) that are secret; true when any was.
    pub(crate) fn mask(&self, side: Side, offset: u64, bytes: &mut [u8]) -> bool {
        let end = offset + bytes.len() as u64;
        let mut masked = false;
        for (s, e) in self.overlapping(side, offset, end) {
            let from = usize::try_from(s.max(offset) - offset).unwrap_or(usize::MAX);
            let to = usize::try_from(e.min(end) - offset).unwrap_or(usize::MAX);
            if let Some(secret) = bytes.get_mut(from..to) {
                secret.fill(b'*');
                masked = true;
            }
        }
        masked
    }
}

/// What is secret in a MySQL client packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MysqlSecret {
    Nothing,
    /// From this payload offset to the packet's end.
    From(u64),
    /// The first bytes do not tell yet.
    NeedMore,
}

/// What is secret in a MySQL client packet of sequence number `seq` and
/// payload length `len`, from its first payload bytes `head` (`more`:
/// further bytes of it are still to come), by framing alone:
/// - sequence 1 is the handshake response: everything after the user
///   name (the fixed part is 32 bytes with CLIENT_PROTOCOL_41, else 5;
///   without the user name's end, everything after the fixed part); an
///   SSLRequest is the fixed part alone;
/// - sequence 2 and later (AuthSwitchResponse, auth-more-data: public
///   key requests, encrypted or clear passwords) are secret whole;
/// - sequence 0 starts a command: COM_CHANGE_USER (0x11) is secret after
///   its command byte, any other holds no password.
pub(crate) fn mysql_client_secret(seq: u8, head: &[u8], len: u64, more: bool) -> MysqlSecret {
    const COM_CHANGE_USER: u8 = 0x11;
    const CLIENT_PROTOCOL_41: u8 = 0x02;
    let need = |fallback| {
        if more {
            MysqlSecret::NeedMore
        } else {
            fallback
        }
    };
    match seq {
        0 => match head.first() {
            Some(&COM_CHANGE_USER) => MysqlSecret::From(1),
            Some(_) => MysqlSecret::Nothing,
            None if len == 0 => MysqlSecret::Nothing,
            None => need(MysqlSecret::From(0)),
        },
        1 => {
            let Some(&caps_high) = head.get(1) else {
                return need(MysqlSecret::From(0));
            };
            let fixed: u64 = if caps_high & CLIENT_PROTOCOL_41 != 0 {
                32
            } else {
                5
            };
            if len <= fixed {
                return MysqlSecret::Nothing;
            }
            let user = head.get(fixed as usize..).unwrap_or_default();
            match user.iter().position(|b| *b == 0) {
                Some(nul) => MysqlSecret::From(fixed + nul as u64 + 1),
                None => need(MysqlSecret::From(fixed)),
            }
        }
        _ => MysqlSecret::From(0),
    }
}

/// What is secret in an LDAP client message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LdapSecret {
    Nothing,
    /// These offsets of the message (from its first byte, the SEQUENCE
    /// tag; the end may lie past what was kept).
    Span(u64, u64),
    /// The first bytes do not tell yet.
    NeedMore,
}

/// What is secret in an LDAP client message (RFC 4511 4.2, 4.12) from its
/// first bytes `head` (its header included; `more`: further bytes of it
/// are still to come), by BER framing alone:
/// - a BindRequest (`[APPLICATION 0]`): its authentication choice (simple
///   `[0]`, SASL `[3]`, any other) to the end of the BindRequest; when
///   the version or the name cannot be framed, everything after the
///   BindRequest's header;
/// - an ExtendedRequest (`[APPLICATION 23]`): its requestValue (`[1]`,
///   RFC 3062's password modify carries passwords) to its end;
/// - a ModifyRequest, AddRequest or CompareRequest (`[APPLICATION 6, 8,
///   14]`): everything after the DN to its end (`userPassword`,
///   `unicodePwd` and their hashes are written and compared so; which
///   attribute a value belongs to is not the framing's to say);
/// - anything else holds no password. Where the message's own framing
///   cannot be read, the driver masks the rest of the stream.
pub(crate) fn ldap_client_secret(head: &[u8], more: bool) -> LdapSecret {
    use super::ber::{BerError, Reader, header};
    const BIND_REQUEST: u8 = 0x60;
    const EXTENDED_REQUEST: u8 = 0x77;
    const REQUEST_VALUE: u8 = 0x81;
    const MODIFY_REQUEST: u8 = 0x66;
    const ADD_REQUEST: u8 = 0x68;
    const COMPARE_REQUEST: u8 = 0x6e;
    let need = |fallback| {
        if more { LdapSecret::NeedMore } else { fallback }
    };
    let Ok(outer) = header(head) else {
        return LdapSecret::Nothing;
    };
    let end = outer.total();
    let body = head.get(outer.size..).unwrap_or_default();
    let mut message = Reader::new(body, outer.size);
    // The messageID, then the protocolOp.
    let Some(id) = message.next_element() else {
        let from = outer.size as u64;
        return match message.stopped {
            Some(BerError::Invalid) => LdapSecret::Nothing,
            _ if body.is_empty() && !more && end == from => LdapSecret::Nothing,
            _ => need(LdapSecret::Span(from, end)),
        };
    };
    let Some(op) = message.next_element() else {
        let from = id.end;
        return match message.stopped {
            Some(BerError::Invalid) => LdapSecret::Nothing,
            _ if from >= end => LdapSecret::Nothing,
            _ => need(LdapSecret::Span(from, end)),
        };
    };
    let op_end = op.end.min(end);
    match op.tag {
        // After the version and the name; after the DN.
        BIND_REQUEST | MODIFY_REQUEST | ADD_REQUEST | COMPARE_REQUEST => {
            let shown = if op.tag == BIND_REQUEST { 2 } else { 1 };
            let mut fields = Reader::inside(&op);
            let mut last = None;
            for _ in 0..shown {
                last = fields.next_element().filter(|e| !e.cut);
                if last.is_none() {
                    break;
                }
            }
            match last {
                Some(e) if e.end < op_end => LdapSecret::Span(e.end, op_end),
                Some(_) => LdapSecret::Nothing,
                None if fields.stopped == Some(BerError::Invalid) || !op.cut => {
                    LdapSecret::Span(op.body_at as u64, op_end)
                }
                None => need(LdapSecret::Span(op.body_at as u64, op_end)),
            }
        }
        EXTENDED_REQUEST => {
            let mut fields = Reader::inside(&op);
            while let Some(e) = fields.next_element() {
                if e.tag == REQUEST_VALUE {
                    return LdapSecret::Span(e.at as u64, op_end);
                }
            }
            match fields.stopped {
                Some(BerError::Incomplete) => need(LdapSecret::Nothing),
                _ => LdapSecret::Nothing,
            }
        }
        _ => LdapSecret::Nothing,
    }
}

#[cfg(test)]
mod tests;
