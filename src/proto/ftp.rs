//! FTP's control connection (RFC 959) with FEAT (RFC 2389) and AUTH TLS
//! (RFC 2228, RFC 4217).
//!
//! Replies are matched to commands in order; a multi-line reply runs from
//! `NNN-` to the line that starts with the same code and a space (RFC 959
//! 4.2), whatever the lines between say. 1xx replies are preliminary: the
//! command waits for its final reply. The upgrade is `AUTH TLS` (or the
//! legacy `AUTH SSL`, `AUTH TLS-C`, `AUTH TLS-P`) answered `234`; the offer,
//! when the client asked, is an `AUTH TLS` or `AUTH SSL` line of the FEAT
//! reply.

use super::dialog::{Ctx, LineMachine};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, Evidence, Outcome, Protocol, SecretKind,
    StarttlsAnswer,
};
use super::lines::Line;
use super::pending::PendingCommands;
use super::words::{
    after_words, is, is_mangled_token, is_masked_token, is_overwritten_phrase, parse_u64,
    split_word, trim,
};
use crate::flow::Side;

/// The AUTH arguments that ask for TLS (RFC 4217 names TLS; SSL, TLS-C and
/// TLS-P are the draft's names that servers still accept).
const TLS_MECHANISMS: &[&str] = &["TLS", "SSL", "TLS-C", "TLS-P"];

/// The offer and request as a phrase (a middlebox masks it whole).
const AUTH_TLS: &str = "AUTH TLS";

/// Users whose password is by convention an e-mail address, not a secret
/// (RFC 1635).
const ANONYMOUS_USERS: &[&str] = &["anonymous", "ftp"];

#[derive(Debug)]
enum Command {
    Feat,
    AuthTls,
    /// `XXXX XXX` where AUTH TLS was, after it was offered (or nothing
    /// said it was not).
    Overwritten(Evidence),
    User,
    Pass,
    Other,
}

/// A reply being read (its first line seen).
struct Reply {
    code: u16,
    first: Evidence,
    /// AUTH TLS or AUTH SSL among the lines (a FEAT reply's features).
    starttls: bool,
    /// A feature line that stands where AUTH TLS was, masked or mangled.
    masked: Option<Evidence>,
    /// The feature lines, for the server's history.
    items: CapabilityItems,
}

/// The FTP dialog of one control connection.
#[derive(Default)]
pub(crate) struct FtpDialog {
    greeted: bool,
    /// Commands awaiting their final reply (RFC 959 allows no pipelining,
    /// but clients do it, and replies keep their order).
    pending: PendingCommands<Command>,
    reply: Option<Reply>,
    /// The USER command's name and line, waiting for PASS.
    user: Option<(Vec<u8>, Evidence)>,
    /// A USER/PASS credential waiting for the reply to PASS.
    login: Option<Credential>,
}

impl FtpDialog {
    /// The dialog of a connection whose greeting another machine already
    /// read (a `220` taken for SMTP until the client spoke FTP).
    pub(crate) fn greeted() -> Self {
        FtpDialog {
            greeted: true,
            ..FtpDialog::default()
        }
    }
}

impl LineMachine for FtpDialog {
    fn on_line(&mut self, side: Side, line: &Line<'_>, ctx: &mut Ctx<'_>) {
        let evidence = Evidence::from_line(side, line);
        match side {
            Side::Client => self.client_line(line.bytes, evidence, ctx),
            Side::Server => self.server_line(line.bytes, evidence, ctx),
        }
    }

    fn on_gap(&mut self, side: Side, _len: u64, _ctx: &mut Ctx<'_>) {
        if side == Side::Server {
            // A reply with a hole proves nothing about what it lacked.
            self.reply = None;
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.settle_login(ctx);
    }
}

impl FtpDialog {
    fn client_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        let (verb, args) = split_word(bytes);
        let sensitive = [
            "USER", "PASS", "ACCT", "LIST", "NLST", "MLSD", "RETR", "STOR", "STOU", "APPE", "CWD",
            "DELE", "RNFR",
        ];
        if sensitive.iter().any(|k| is(verb, k)) && ctx.facts.sensitive_command.is_none() {
            ctx.facts.sensitive_command = Some(evidence.clone());
        }
        let line_evidence = evidence.clone();
        let command = if is(verb, "AUTH") && TLS_MECHANISMS.iter().any(|m| is(trim(args), m)) {
            ctx.starttls_requested(evidence);
            Command::AuthTls
        } else if is(verb, "FEAT") {
            Command::Feat
        } else if is(verb, "USER") {
            self.user = Some((trim(args).to_vec(), evidence));
            Command::User
        } else if is(verb, "PASS") {
            self.pass(bytes, evidence, ctx);
            Command::Pass
        } else if is_overwritten_phrase(trim(bytes), AUTH_TLS)
            && ctx.facts.starttls_offered() != Some(false)
            && ctx.facts.starttls_command.is_none()
        {
            Command::Overwritten(evidence)
        } else {
            if !super::secrecy::is_command(Protocol::Ftp, verb) {
                ctx.facts.unparsed_lines.client += 1;
            }
            Command::Other
        };
        // A command dropped for room needs no settling: PASS keeps its
        // credential aside.
        self.pending.push(command, &line_evidence, ctx.facts);
    }

    /// `PASS`: with the USER before it, a credential waiting for its reply.
    /// The password is the rest of the line, spaces included.
    fn pass(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        let at = after_words(bytes, 1).unwrap_or(bytes.len());
        let password = bytes.get(at..).unwrap_or_default();
        let mut cred = Credential::new("USER-PASS");
        if let Some((name, user_line)) = self.user.take() {
            let anonymous = ANONYMOUS_USERS
                .iter()
                .any(|a| name.eq_ignore_ascii_case(a.as_bytes()));
            cred.secret_kind = if anonymous {
                SecretKind::None
            } else {
                SecretKind::Password
            };
            cred.username = Some(name);
            cred.evidence.push(user_line);
        }
        cred.secret = password.to_vec();
        cred.evidence.push(evidence.secret_from(at));
        self.settle_login(ctx);
        self.login = Some(cred);
    }

    fn server_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        if let Some(reply) = self.reply.as_mut() {
            match parse_reply_line(bytes) {
                Some((code, true, _)) if code == reply.code => {
                    if let Some(reply) = self.reply.take() {
                        self.complete(reply, ctx);
                    }
                }
                // RFC 2389 3.2: a feature line starts with a space; some
                // servers repeat `NNN-` on every line.
                Some((code, false, text)) if code == reply.code => {
                    read_feature(reply, text, &evidence)
                }
                _ => read_feature(reply, bytes, &evidence),
            }
            return;
        }
        let Some((code, last, _)) = parse_reply_line(bytes) else {
            ctx.facts.unparsed_lines.server += 1;
            return;
        };
        let reply = Reply {
            code,
            first: evidence,
            starttls: false,
            masked: None,
            items: CapabilityItems::default(),
        };
        if last {
            self.complete(reply, ctx);
        } else {
            self.reply = Some(reply);
        }
    }

    /// A whole reply: the greeting, a preliminary reply, or the final
    /// reply to the oldest pending command.
    fn complete(&mut self, reply: Reply, ctx: &mut Ctx<'_>) {
        let preliminary = (100..200).contains(&reply.code);
        if !self.greeted && self.pending.is_empty() {
            // 120: ready in a while; the 220 that follows is the greeting.
            if !preliminary {
                self.greeted = true;
                ctx.facts.greeting.get_or_insert(reply.first);
            }
            return;
        }
        self.greeted = true;
        if preliminary {
            return;
        }
        let command = self.pending.pop_front().unwrap_or(Command::Other);
        self.answered(command, reply, ctx);
    }

    /// What the final `reply` to `command` says.
    fn answered(&mut self, command: Command, reply: Reply, ctx: &mut Ctx<'_>) {
        let code = reply.code;
        match command {
            Command::Feat if (200..300).contains(&code) => {
                ctx.facts.add_capabilities(CapabilityList {
                    evidence: reply.first,
                    starttls: reply.starttls,
                    masked_token: reply.masked,
                    auth_mechanisms: Vec::new(),
                    login_disabled: false,
                    refused: false,
                    items: reply.items,
                });
            }
            // RFC 2389 3: a server without FEAT answers 500 or 502, and so
            // has no way to offer AUTH TLS.
            Command::Feat if code >= 500 => {
                ctx.facts.add_capabilities(CapabilityList {
                    evidence: reply.first,
                    starttls: false,
                    masked_token: None,
                    auth_mechanisms: Vec::new(),
                    login_disabled: false,
                    refused: true,
                    items: CapabilityItems::default(),
                });
            }
            Command::AuthTls if code == 234 => {
                ctx.starttls_answered(StarttlsAnswer::Accepted, reply.first);
            }
            Command::AuthTls if code >= 400 => {
                ctx.starttls_answered(StarttlsAnswer::Rejected, reply.first);
            }
            Command::Overwritten(command) if code >= 500 => {
                ctx.facts
                    .tampered_command
                    .get_or_insert((command, Some(reply.first)));
            }
            // Logged in without a password (anonymous on some servers):
            // no PASS follows.
            Command::User if (200..300).contains(&code) => self.user = None,
            Command::Pass => {
                if let Some(mut login) = self.login.take() {
                    login.outcome = match code {
                        200..=299 => Outcome::Success,
                        400..=599 => Outcome::Failure,
                        _ => Outcome::Unknown,
                    };
                    login.evidence.push(reply.first);
                    if login.username.is_some() {
                        ctx.facts.add_credential(login);
                    }
                }
            }
            Command::Feat
            | Command::AuthTls
            | Command::Overwritten(_)
            | Command::User
            | Command::Other => {}
        }
    }

    /// A new USER/PASS attempt (or the end): the previous one, never
    /// answered in this capture, is kept with an unknown outcome.
    fn settle_login(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(login) = self.login.take().filter(|l| l.username.is_some()) {
            ctx.facts.add_credential(login);
        }
    }
}

/// One line inside a multi-line reply: a FEAT reply's feature (`AUTH TLS`,
/// `AUTH SSL`, `AUTH TLS;SSL;` as some servers write it), or a line where
/// it was masked (`XXXX XXX`) or mangled (`AUTH TLX`).
fn read_feature(reply: &mut Reply, line: &[u8], evidence: &Evidence) {
    let text = trim(line);
    reply.items.note(text);
    let (name, args) = split_word(text);
    let args: Vec<&[u8]> = args
        .split(|b| matches!(b, b' ' | b';' | b','))
        .filter(|a| !a.is_empty())
        .collect();
    if is(name, "AUTH") && args.iter().any(|a| TLS_MECHANISMS.iter().any(|m| is(a, m))) {
        reply.starttls = true;
    } else if reply.masked.is_none() && is_stripped_feature(text, name, &args) {
        reply.masked = Some(evidence.clone());
    }
}

/// A feature that stands where `AUTH TLS` was: the phrase masked with one
/// character (`XXXX XXX`, or as one word `XXXXXXXX`), one of its words
/// masked (`AUTH XXX`, `XXXX TLS`) or one edit away (`AUTH TLX`, `AUHT TLS`).
fn is_stripped_feature(text: &[u8], name: &[u8], args: &[&[u8]]) -> bool {
    let masked = is_overwritten_phrase(text, AUTH_TLS)
        || (args.is_empty() && is_masked_token(text, AUTH_TLS.len(), &[]));
    let mangled = match args {
        [arg] if is(name, "AUTH") => {
            is_mangled_token(arg, "TLS", &["SSL"]) || is_masked_token(arg, 3, &["TLS", "SSL"])
        }
        [arg] if TLS_MECHANISMS.iter().any(|m| is(arg, m)) => {
            is_mangled_token(name, "AUTH", &[]) || is_masked_token(name, 4, &["AUTH"])
        }
        _ => false,
    };
    masked || mangled
}

/// `NNN-text` (more lines follow), `NNN text` or `NNN` (the last line).
fn parse_reply_line(line: &[u8]) -> Option<(u16, bool, &[u8])> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = parse_u64(digits).and_then(|c| u16::try_from(c).ok())?;
    match line.get(3) {
        None => Some((code, true, &[])),
        Some(b'-') => Some((code, false, line.get(4..).unwrap_or_default())),
        Some(b' ') => Some((code, true, line.get(4..).unwrap_or_default())),
        Some(_) => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "ftp_tests.rs"]
mod tests;
