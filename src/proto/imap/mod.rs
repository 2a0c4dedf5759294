//! IMAP (RFC 3501, RFC 9051) with STARTTLS (RFC 2595), AUTHENTICATE with
//! SASL-IR (RFC 4959) and LITERAL+ (RFC 7888).
//!
//! Commands are tagged, so answers are matched by tag, not by order; a tag
//! reused for every command (`.`) matches the oldest pending one. Literals
//! are counted by the driver: the client's are kept (bounded) when they
//! carry a LOGIN argument, the server's (message bodies) are skipped
//! unread. A command or response goes on after its literal on the next
//! line, which starts with a space or `)` or is empty (RFC 3501 9); a line
//! of any other shape starts something new, so a continuation lost in a
//! gap cannot swallow the next command.

pub(crate) mod syntax;

use super::dialog::{Ctx, LineMachine, Literal};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, DialogAnomalyKind, Evidence, Outcome, SecretKind,
    StarttlsAnswer,
};
use super::lines::{Line, LineEnding};
use super::pending::PendingCommands;
use super::sasl::SaslExchange;
use super::words::{is, is_overwritten_command, is_stripped_token, split_word, trim};
use crate::flow::Side;
use syntax::{Arg, LiteralMarker, astrings, literal_at_end, response_code, tokens};

/// Longest tag kept for matching (RFC 3501 sets no limit; real ones are
/// a few characters).
const MAX_TAG: usize = 64;

/// Bytes of a client literal handed over when it carries a LOGIN argument.
pub(crate) const LITERAL_KEEP: usize = syntax::MAX_ARG;

/// Lines of one LOGIN command kept as evidence.
const MAX_COMMAND_LINES: usize = 8;

/// SASL mechanisms kept per capability list.
const MAX_MECHANISMS: usize = 32;

/// Capability lists kept per session (the first ones are those that
/// matter; a server repeating CAPABILITY forever must not grow the facts).
const MAX_CAPABILITY_LISTS: usize = 64;

/// Credentials kept per session (a brute-force session may try thousands);
/// past this, each is counted as an anomaly instead.
#[cfg(test)]
pub(crate) const MAX_CREDENTIALS: usize = 256;

/// Capabilities of the length of STARTTLS that are real (never masks).
const KNOWN_8: &[&str] = &[
    "STARTTLS", "CHILDREN", "UNSELECT", "LITERAL+", "LITERAL-", "METADATA", "CATENATE", "LANGUAGE",
    "OBJECTID", "SAVEDATE", "ANNOTATE",
];

#[derive(Debug)]
enum Command {
    Starttls,
    /// `XXXXXXXX` where STARTTLS was, after STARTTLS was offered.
    Overwritten(Evidence),
    Login(Box<Login>),
    Authenticate,
    /// COMPRESS (RFC 4978): once accepted, both streams are deflated.
    Compress,
    Other,
}

#[derive(Debug)]
struct Pending {
    tag: Vec<u8>,
    command: Command,
}

/// A LOGIN command being read, then awaiting its answer.
#[derive(Debug)]
struct Login {
    /// Username, then password, as they arrive (atom, quoted, literal).
    args: Vec<Vec<u8>>,
    /// The command's lines, the password part of each marked secret.
    evidence: Vec<Evidence>,
    /// A malformed argument or a gap: the arguments cannot be trusted.
    broken: bool,
}

impl Login {
    /// Reads the arguments on one line of the command from `from`; returns
    /// the line's evidence with the password, and all after it, secret.
    fn read_line(&mut self, bytes: &[u8], from: usize, evidence: Evidence) -> Evidence {
        if self.broken {
            return evidence.secret_from(from);
        }
        let secret_at = match astrings(bytes, from) {
            Ok(args) => {
                let mut secret_at = None;
                for arg in args {
                    // A literal argument arrives through `on_literal`.
                    if let Arg::Value { at, bytes } = arg {
                        if self.args.len() == 1 {
                            secret_at = Some(at);
                        }
                        if self.args.len() < 2 {
                            self.args.push(bytes);
                        }
                    }
                }
                secret_at
            }
            Err(at) => {
                self.broken = true;
                Some(at)
            }
        };
        match secret_at {
            Some(at) => evidence.secret_from(at),
            None => evidence,
        }
    }

    fn keep(&mut self, evidence: &Evidence) {
        if self.evidence.len() < MAX_COMMAND_LINES && !evidence.bytes.is_empty() {
            self.evidence.push(evidence.clone());
        }
    }

    /// The credential, once the server answered (or the session ended).
    fn settle(self, outcome: Outcome, answer: Option<Evidence>) -> Option<Credential> {
        if self.broken {
            return None;
        }
        let mut args = self.args.into_iter();
        let (user, password) = (args.next()?, args.next()?);
        if user.is_empty() {
            return None;
        }
        let mut cred = Credential::new("IMAP-LOGIN");
        cred.username = Some(user);
        cred.secret_kind = SecretKind::Password;
        cred.secret = password;
        cred.cleartext = true;
        cred.outcome = outcome;
        cred.evidence = self.evidence;
        cred.evidence.extend(answer);
        Some(cred)
    }
}

/// An AUTHENTICATE exchange awaiting its tagged answer.
#[derive(Debug)]
struct Auth {
    tag: Vec<u8>,
    exchange: SaslExchange,
}

/// A client command that goes on after a literal.
#[derive(Debug)]
struct Continued {
    tag: Vec<u8>,
    /// The command is the LOGIN being read.
    login: bool,
    /// The literal announced and not yet passed.
    literal: Option<Awaited>,
}

#[derive(Clone, Copy, Debug)]
struct Awaited {
    /// `{n}`: the client waits for the server's `+` before sending it.
    sync: bool,
    go_ahead: bool,
}

/// The IMAP dialog of one session.
#[derive(Default)]
pub(crate) struct ImapDialog {
    greeted: bool,
    /// A LOGIN or AUTHENTICATE succeeded: capability lists from now on are
    /// post-login ones, which never carry STARTTLS (RFC 3501 6.2.1).
    logged_in: bool,
    /// Commands awaiting their answer, LOGINs with their arguments. One
    /// dropped for room is never answered: a LOGIN is settled as unknown.
    pending: PendingCommands<Pending>,
    auth: Option<Auth>,
    continued: Option<Continued>,
    /// The server's response goes on after a literal.
    server_continues: bool,
}

impl LineMachine for ImapDialog {
    fn on_line(&mut self, side: Side, line: &Line<'_>, ctx: &mut Ctx<'_>) {
        let evidence = Evidence::from_line(side, line);
        // A line cut at the length limit does not end where it seems to:
        // no literal is announced by it.
        let literal = match line.ending {
            LineEnding::Cut => None,
            LineEnding::CrLf | LineEnding::BareLf => literal_at_end(line.bytes),
        };
        match side {
            Side::Client => self.client_line(line.bytes, literal, evidence, ctx),
            Side::Server => self.server_line(line.bytes, literal, evidence, ctx),
        }
    }

    fn on_literal(&mut self, side: Side, literal: Literal<'_>, ctx: &mut Ctx<'_>) {
        // A LOGIN password in a literal: its bytes are secret.
        if side == Side::Client && self.client_literal(literal.bytes, literal.total) {
            let span = (side, literal.offset, literal.offset + literal.total);
            ctx.facts.add_secret_span(span);
        }
        // A server literal (a message body) was skipped; its response goes
        // on on the next line (`server_continues`).
    }

    fn on_gap(&mut self, side: Side, _len: u64, _ctx: &mut Ctx<'_>) {
        // A LOGIN cut by the gap cannot be put back together. What else is
        // pending stays: answers match by tag, and a continuation is only
        // taken for one when it has a continuation's shape.
        if side == Side::Server {
            // A challenge may have fallen into the gap.
            if let Some(auth) = self.auth.as_mut() {
                auth.exchange.on_server_gap();
            }
        }
        if side == Side::Client {
            if let Some(tag) = self
                .continued
                .as_ref()
                .filter(|c| c.login)
                .map(|c| c.tag.clone())
            {
                self.break_login(&tag);
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        for pending in self.pending.take_all() {
            settle_login(pending.command, Outcome::Unknown, None, ctx);
        }
        self.settle_auth(Outcome::Unknown, None, ctx);
    }
}

impl ImapDialog {
    /// Queues a command sent on `line`; a LOGIN dropped for room, whose
    /// answer will not be matched, still crossed.
    fn push(&mut self, tag: Vec<u8>, command: Command, line: &Evidence, ctx: &mut Ctx<'_>) {
        let pending = Pending { tag, command };
        if let Some(dropped) = self.pending.push(pending, line, ctx.facts) {
            settle_login(dropped.command, Outcome::Unknown, None, ctx);
        }
    }

    /// The LOGIN sent last under `tag` (the one being read).
    fn login_mut(&mut self, tag: &[u8]) -> Option<&mut Login> {
        match self.pending.iter_mut().rev().find(|p| p.tag == tag)? {
            Pending {
                command: Command::Login(login),
                ..
            } => Some(login),
            _ => None,
        }
    }

    /// The oldest command pending under `tag`.
    fn take_pending(&mut self, tag: &[u8]) -> Option<Command> {
        let at = self.pending.iter().position(|p| p.tag == tag)?;
        self.pending.remove(at).map(|p| p.command)
    }

    fn client_line(
        &mut self,
        bytes: &[u8],
        literal: Option<LiteralMarker>,
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) {
        // The rest of a command after its literal.
        if let Some(continued) = self.continued.take() {
            if is_continuation(bytes) {
                self.continue_command(continued, bytes, literal, evidence, ctx);
                return;
            }
            // The continuation was lost: this line starts something new.
            self.abandon(&continued);
        }
        if self.answers_challenge(bytes) {
            if let Some(auth) = self.auth.as_mut() {
                let evidence = ctx.facts.secret_line(evidence, 0);
                auth.exchange.on_response(trim(bytes), evidence);
            }
            return;
        }
        let (tag, rest) = split_word(bytes);
        let (word, args) = split_word(rest);
        if tag.is_empty() || word.is_empty() || is_continuation(bytes) {
            // IDLE ends with an untagged DONE (RFC 2177).
            if !is(bytes, "DONE") {
                bump_unparsed(ctx, Side::Client);
            }
            // A literal still follows whatever this line was.
            self.announce_literal(Vec::new(), false, literal, ctx);
            return;
        }
        let tag = tag.get(..MAX_TAG).unwrap_or(tag).to_vec();
        let mut login = is(word, "LOGIN").then(|| Login {
            args: Vec::new(),
            evidence: Vec::new(),
            broken: false,
        });
        let is_login = login.is_some();
        // The secret parts of the line are marked before it is recorded.
        let evidence = if let Some(login) = login.as_mut() {
            let evidence = login.read_line(bytes, bytes.len() - args.len(), evidence);
            login.keep(&evidence);
            evidence
        } else if is(word, "AUTHENTICATE") {
            match initial_response_at(bytes, args) {
                Some(at) => evidence.secret_from(at),
                None => evidence,
            }
        } else {
            evidence
        };
        if is_sensitive(word, args) && ctx.facts.sensitive_command.is_none() {
            ctx.facts.sensitive_command = Some(evidence.clone());
        }
        let line_evidence = evidence.clone();
        let command = match login {
            Some(login) => Command::Login(Box::new(login)),
            None => self.command(&tag, word, args, evidence, ctx),
        };
        self.push(tag.clone(), command, &line_evidence, ctx);
        self.announce_literal(tag, is_login, literal, ctx);
    }

    /// A line answering a `+` challenge is SASL, not a command (base64 has
    /// no spaces; a command always has one).
    fn answers_challenge(&self, bytes: &[u8]) -> bool {
        self.auth.as_ref().is_some_and(|auth| {
            let continues = auth.exchange.awaiting_response() || auth.exchange.may_continue();
            continues && !trim(bytes).contains(&b' ')
        })
    }

    /// The tagged command `word` (not LOGIN), and what it starts.
    fn command(
        &mut self,
        tag: &[u8],
        word: &[u8],
        args: &[u8],
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) -> Command {
        if is(word, "STARTTLS") {
            ctx.starttls_requested(evidence);
            Command::Starttls
        } else if is(word, "AUTHENTICATE") {
            let (mechanism, initial) = split_word(args);
            let initial = trim(initial);
            let initial = (!initial.is_empty()).then_some(initial);
            self.settle_auth(Outcome::Unknown, None, ctx);
            self.auth = Some(Auth {
                tag: tag.to_vec(),
                exchange: SaslExchange::new(mechanism, initial, evidence),
            });
            Command::Authenticate
        } else if is_overwritten_command(word, 8)
            && args.is_empty()
            && ctx.facts.starttls_offered() != Some(false)
            && ctx.facts.starttls_command.is_none()
        {
            Command::Overwritten(evidence)
        } else if is(word, "COMPRESS") {
            Command::Compress
        } else {
            if !is_known_command(word) {
                bump_unparsed(ctx, Side::Client);
            }
            Command::Other
        }
    }

    /// A line that continues a command after its literal.
    fn continue_command(
        &mut self,
        continued: Continued,
        bytes: &[u8],
        literal: Option<LiteralMarker>,
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) {
        if continued.login {
            if let Some(login) = self.login_mut(&continued.tag) {
                let evidence = login.read_line(bytes, 0, evidence);
                login.keep(&evidence);
            }
        }
        self.announce_literal(continued.tag, continued.login, literal, ctx);
    }

    /// A command was cut short: a LOGIN missing arguments is dropped.
    fn abandon(&mut self, continued: &Continued) {
        if continued.login {
            self.break_login(&continued.tag);
        }
    }

    /// The LOGIN under `tag` lost bytes: unless both its arguments are
    /// already in, it yields no credential.
    fn break_login(&mut self, tag: &[u8]) {
        if let Some(login) = self.login_mut(tag).filter(|l| l.args.len() < 2) {
            login.broken = true;
        }
    }

    /// The line ended with a literal marker: the driver counts the bytes
    /// (keeping a LOGIN argument), and the command goes on after them.
    fn announce_literal(
        &mut self,
        tag: Vec<u8>,
        login: bool,
        literal: Option<LiteralMarker>,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(marker) = literal else {
            return;
        };
        let wants_arg = login && self.login_mut(&tag).is_some_and(|l| l.args.len() < 2);
        self.continued = Some(Continued {
            tag,
            login,
            literal: Some(Awaited {
                sync: !marker.non_sync,
                go_ahead: false,
            }),
        });
        if marker.len == 0 {
            // The driver does not report an empty literal.
            self.client_literal(&[], 0);
        } else {
            let keep = if wants_arg { LITERAL_KEEP } else { 0 };
            ctx.literal(Side::Client, marker.len, keep);
        }
    }

    /// A client literal passed; returns true when it was a LOGIN password.
    fn client_literal(&mut self, bytes: &[u8], total: u64) -> bool {
        let Some(continued) = self.continued.as_mut() else {
            return false;
        };
        continued.literal = None;
        if !continued.login {
            return false;
        }
        let tag = continued.tag.clone();
        let mut password = false;
        if let Some(login) = self.login_mut(&tag) {
            password = login.args.len() == 1;
            if login.args.len() < 2 {
                login.args.push(bytes.to_vec());
            }
            if total > bytes.len() as u64 && login.args.len() < 2 {
                // A username longer than what is kept: the rest is unknown.
                login.broken = true;
            }
        }
        password
    }

    fn server_line(
        &mut self,
        bytes: &[u8],
        literal: Option<LiteralMarker>,
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) {
        let first = !self.greeted;
        self.greeted = true;
        // The rest of a response after a literal (a message body).
        if std::mem::take(&mut self.server_continues) && is_continuation(bytes) {
            self.server_literal(literal, ctx);
            return;
        }
        let (tag, rest) = split_word(bytes);
        if tag == b"*" {
            let (word, text) = split_word(rest);
            if first && ["OK", "PREAUTH", "BYE"].iter().any(|k| is(word, k)) {
                ctx.facts.greeting.get_or_insert(evidence.clone());
                if is(word, "PREAUTH") {
                    // Already logged in: the greeting's capabilities are
                    // post-login ones and prove nothing about STARTTLS.
                    self.logged_in = true;
                    ctx.facts.preauth.get_or_insert(evidence.clone());
                }
            }
            if is(word, "CAPABILITY") {
                self.capabilities(text, evidence, ctx);
            } else if is_status(word) {
                if let Some((code, list)) = response_code(text) {
                    if is(code, "CAPABILITY") {
                        self.capabilities(list, evidence, ctx);
                    }
                }
            } else if word.is_empty() {
                bump_unparsed(ctx, Side::Server);
            }
            self.server_literal(literal, ctx);
        } else if bytes.first() == Some(&b'+') {
            self.continuation_request(bytes, evidence);
        } else {
            let (word, text) = split_word(rest);
            let status = ["OK", "NO", "BAD"].iter().any(|k| is(word, k));
            if tag.is_empty() || !status {
                bump_unparsed(ctx, Side::Server);
                ctx.facts
                    .anomaly(DialogAnomalyKind::ImapUnparsableResponse, evidence.clone());
                // Whatever it was, a literal it announces still follows.
                self.server_literal(literal, ctx);
                return;
            }
            self.tagged(tag, is(word, "OK"), text, evidence, ctx);
        }
    }

    /// A server line ended with a literal: skip it by count, never buffered.
    fn server_literal(&mut self, literal: Option<LiteralMarker>, ctx: &mut Ctx<'_>) {
        if let Some(marker) = literal {
            self.server_continues = true;
            ctx.literal(Side::Server, marker.len, 0);
        }
    }

    /// `+ text`: a literal's go-ahead, a SASL challenge, or (IDLE) nothing
    /// of interest.
    fn continuation_request(&mut self, bytes: &[u8], evidence: Evidence) {
        if let Some(awaited) = self
            .continued
            .as_mut()
            .and_then(|c| c.literal.as_mut())
            .filter(|a| a.sync && !a.go_ahead)
        {
            awaited.go_ahead = true;
            return;
        }
        if let Some(auth) = self.auth.as_mut() {
            let text = trim(bytes.get(1..).unwrap_or_default());
            auth.exchange.on_challenge(text, evidence);
        }
    }

    /// `tag OK|NO|BAD [code] text`.
    fn tagged(&mut self, tag: &[u8], ok: bool, text: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        let tag = tag.get(..MAX_TAG).unwrap_or(tag);
        // A synchronizing literal refused before its go-ahead: the client
        // sends no literal and goes on with commands.
        if let Some(continued) = self.continued.as_ref() {
            let refused = continued.literal.is_some_and(|a| a.sync && !a.go_ahead);
            if refused && continued.tag == tag {
                ctx.lines(Side::Client);
                if let Some(continued) = self.continued.take() {
                    self.abandon(&continued);
                }
            }
        }
        let outcome = if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        match self.take_pending(tag) {
            Some(Command::Starttls) => {
                let answer = if ok {
                    StarttlsAnswer::Accepted
                } else {
                    StarttlsAnswer::Rejected
                };
                ctx.starttls_answered(answer, evidence.clone());
            }
            Some(Command::Overwritten(command)) => {
                if !ok {
                    ctx.facts
                        .tampered_command
                        .get_or_insert((command, Some(evidence.clone())));
                }
            }
            Some(command @ Command::Login(_)) => {
                settle_login(command, outcome, Some(evidence.clone()), ctx);
                self.logged_in |= ok;
            }
            Some(Command::Authenticate) => {
                if self.auth.as_ref().is_some_and(|a| a.tag == tag) {
                    self.settle_auth(outcome, Some(evidence.clone()), ctx);
                }
                self.logged_in |= ok;
            }
            Some(Command::Compress) if ok => {
                // The bytes after this line are deflate streams, not
                // IMAP: read as lines they would only make noise.
                ctx.opaque(Side::Server);
                ctx.opaque(Side::Client);
                return;
            }
            Some(Command::Compress | Command::Other) | None => {}
        }
        if let Some((code, list)) = response_code(text) {
            if is(code, "CAPABILITY") {
                self.capabilities(list, evidence, ctx);
            }
        }
    }

    fn settle_auth(&mut self, outcome: Outcome, answer: Option<Evidence>, ctx: &mut Ctx<'_>) {
        if let Some(auth) = self.auth.take() {
            if let Some(cred) = auth.exchange.finish(outcome, answer) {
                push_credential(cred, ctx);
            }
        }
    }

    /// A capability list (`* CAPABILITY` or a `[CAPABILITY]` code).
    fn capabilities(&mut self, list: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        // After login STARTTLS is no longer valid and servers leave it out:
        // such a list says nothing about whether it was offered.
        if self.logged_in || ctx.facts.capabilities.len() >= MAX_CAPABILITY_LISTS {
            return;
        }
        let mut caps = CapabilityList {
            evidence: evidence.clone(),
            starttls: false,
            masked_token: None,
            auth_mechanisms: Vec::new(),
            login_disabled: false,
            refused: false,
            items: CapabilityItems::default(),
        };
        for token in tokens(list) {
            caps.items.note(token);
            if is(token, "STARTTLS") {
                caps.starttls = true;
            } else if is(token, "LOGINDISABLED") {
                caps.login_disabled = true;
            } else if let Some(m) = token
                .get(5..)
                .filter(|_| token.get(..5).is_some_and(|p| is(p, "AUTH=")))
            {
                let name = String::from_utf8_lossy(m).to_ascii_uppercase();
                if !name.is_empty()
                    && caps.auth_mechanisms.len() < MAX_MECHANISMS
                    && !caps.auth_mechanisms.contains(&name)
                {
                    caps.auth_mechanisms.push(name);
                }
            } else if caps.masked_token.is_none() && is_stripped_token(token, "STARTTLS", KNOWN_8) {
                caps.masked_token = Some(evidence.clone());
            }
        }
        ctx.facts.add_capabilities(caps);
    }
}

/// A line that goes on after a literal: empty, or starting with a space or
/// `)` (RFC 3501 9: a literal is followed by SP, `)` or CRLF).
fn is_continuation(bytes: &[u8]) -> bool {
    matches!(bytes.first(), None | Some(b' ' | b'\t' | b')'))
}

/// Offset of the initial response in `tag AUTHENTICATE mech <here>`.
fn initial_response_at(line: &[u8], args: &[u8]) -> Option<usize> {
    let (_, initial) = split_word(args);
    (!initial.is_empty()).then(|| line.len() - initial.len())
}

fn is_status(word: &[u8]) -> bool {
    ["OK", "NO", "BAD", "BYE", "PREAUTH"]
        .iter()
        .any(|k| is(word, k))
}

/// Commands that authenticate or touch mail (NOOP, CAPABILITY, LOGOUT,
/// STARTTLS, ID, ENABLE do not), besides `UID FETCH`.
const SENSITIVE_COMMANDS: &str = "LOGIN AUTHENTICATE SELECT EXAMINE FETCH LIST LSUB STATUS APPEND";

fn is_sensitive(word: &[u8], args: &[u8]) -> bool {
    SENSITIVE_COMMANDS.split(' ').any(|k| is(word, k))
        || is(word, "UID") && is(split_word(args).0, "FETCH")
}

fn is_known_command(word: &[u8]) -> bool {
    crate::proto::secrecy::is_command(crate::proto::facts::Protocol::Imap, word)
}

/// The credential of a LOGIN command (other commands have none).
fn settle_login(command: Command, outcome: Outcome, answer: Option<Evidence>, ctx: &mut Ctx<'_>) {
    if let Command::Login(login) = command {
        if let Some(cred) = login.settle(outcome, answer) {
            push_credential(cred, ctx);
        }
    }
}

fn push_credential(cred: Credential, ctx: &mut Ctx<'_>) {
    ctx.facts.add_credential(cred);
}

fn bump_unparsed(ctx: &mut Ctx<'_>, side: Side) {
    ctx.facts.unparsed_lines[side] += 1;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
