//! SMTP (RFC 5321) with STARTTLS (RFC 3207), AUTH (RFC 4954), PIPELINING
//! (RFC 2920) and CHUNKING (RFC 3030).
//!
//! Commands are queued as they are sent and replies matched to them in
//! order, so pipelined groups are read right. DATA bodies and BDAT chunks
//! are skipped by the driver without being buffered.

use super::dialog::{Ctx, LineMachine, Literal};
use super::facts::{
    CapabilityItems, CapabilityList, DialogAnomalyKind, Evidence, Outcome, StarttlsAnswer,
};
use super::lines::Line;
use super::pending::PendingCommands;
use super::sasl::SaslExchange;
use super::words::{is, is_overwritten_command, is_stripped_token, parse_u64, split_word, trim};
use crate::flow::Side;

/// EHLO keywords of the length of STARTTLS that are real (never masks).
const KNOWN_8: &[&str] = &[
    "STARTTLS",
    "SMTPUTF8",
    "8BITMIME",
    "CHUNKING",
    "XFORWARD",
    "DELIVERBY",
];

/// Exchange's STARTTLS between its own servers: the client sends it, the
/// server answers 220 and TLS follows, exactly as after STARTTLS (its
/// offer in EHLO is not STARTTLS: a middlebox masking STARTTLS leaves it).
const ANONYMOUS_TLS: &str = "X-ANONYMOUSTLS";

/// What a Cisco ASA leaves of CHUNKING: a mask, but not of STARTTLS.
const ASA_CHUNKING_MASK: &str = "XXXXXXXB";

#[derive(Debug)]
enum Command {
    Ehlo,
    Helo,
    Starttls,
    /// `XXXXXXXX` where STARTTLS was, after STARTTLS was offered.
    Overwritten(Evidence),
    Auth,
    Data,
    /// The body after a 354: its reply is the message's verdict.
    DataBody,
    Other,
}

/// A multi-line reply being read.
struct Reply {
    code: u16,
    first: Evidence,
    /// Capability facts, when this replies to EHLO.
    starttls: bool,
    masked: Option<Evidence>,
    auth: Vec<String>,
    /// The keyword lines, for the server's history.
    items: CapabilityItems,
    lines: u32,
}

/// The SMTP dialog of one session.
#[derive(Default)]
pub(crate) struct SmtpDialog {
    greeted: bool,
    /// Commands awaiting their reply; a client may pipeline many (RFC 2920).
    pending: PendingCommands<Command>,
    reply: Option<Reply>,
    auth: Option<SaslExchange>,
    /// The last EHLO was refused (for the HELO fallback).
    ehlo_refused: Option<Evidence>,
    /// The 354 came: the client is sending a body whose reply is next.
    in_data_body: bool,
    /// The last DATA line: the body after it is queued for its reply as if
    /// it were a command sent there.
    data_line: Option<Evidence>,
}

impl LineMachine for SmtpDialog {
    fn on_line(&mut self, side: Side, line: &Line<'_>, ctx: &mut Ctx<'_>) {
        let evidence = Evidence::from_line(side, line);
        match side {
            Side::Client => self.client_line(line.bytes, evidence, ctx),
            Side::Server => self.server_line(line.bytes, evidence, ctx),
        }
    }

    fn on_literal(&mut self, _side: Side, _literal: Literal<'_>, _ctx: &mut Ctx<'_>) {
        // A BDAT chunk passed; its reply is already queued.
    }

    fn on_gap(&mut self, side: Side, _len: u64, _ctx: &mut Ctx<'_>) {
        if side == Side::Server {
            // A reply cut by a gap is incomplete: its end is lost, so what
            // follows is a new reply, not more of it.
            self.reply = None;
            if let Some(auth) = self.auth.as_mut() {
                auth.on_server_gap();
            }
        }
    }

    fn on_body_end(&mut self, side: Side, ctx: &mut Ctx<'_>) {
        // A client body only follows a DATA line.
        if let (Side::Client, Some(data)) = (side, self.data_line.take()) {
            self.in_data_body = false;
            self.push(Command::DataBody, &data, ctx);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(auth) = self.auth.take() {
            if let Some(cred) = auth.finish(Outcome::Unknown, None) {
                ctx.facts.add_credential(cred);
            }
        }
    }
}

impl SmtpDialog {
    /// Queues a command for its reply; one dropped for room needs none.
    fn push(&mut self, command: Command, line: &Evidence, ctx: &mut Ctx<'_>) {
        self.pending.push(command, line, ctx.facts);
    }

    fn client_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        // A line answering a 334 challenge is SASL, not a command; so is a
        // line that is no command where the exchange may go on (its 334
        // lost in a gap).
        let continues = |a: &SaslExchange| {
            a.awaiting_response() || (a.may_continue() && !is_known_command(split_word(bytes).0))
        };
        if let Some(auth) = self.auth.as_mut().filter(|a| continues(a)) {
            auth.on_response(trim(bytes), ctx.facts.secret_line(evidence, 0));
            return;
        }
        let (verb, args) = split_word(bytes);
        // `AUTH mech initial-response`: the response is secret.
        let evidence = match auth_initial_response_at(bytes) {
            Some(at) if is_auth(verb) => evidence.secret_from(at),
            _ => evidence,
        };
        let line_evidence = evidence.clone();
        let sensitive =
            is_auth(verb) || ["MAIL", "RCPT", "DATA", "BDAT"].iter().any(|k| is(verb, k));
        if sensitive && ctx.facts.sensitive_command.is_none() {
            ctx.facts.sensitive_command = Some(evidence.clone());
        }
        let command = if is(verb, "EHLO") || is(verb, "LHLO") {
            Command::Ehlo
        } else if is(verb, "HELO") {
            if let Some(refusal) = self.ehlo_refused.take() {
                ctx.facts.helo_fallback.get_or_insert((refusal, evidence));
            }
            Command::Helo
        } else if is(verb, "STARTTLS") || is(verb, ANONYMOUS_TLS) {
            ctx.starttls_requested(evidence);
            Command::Starttls
        } else if is_auth(verb) {
            let (mechanism, initial) = split_word(args);
            let initial = trim(initial);
            let initial = (!initial.is_empty()).then_some(initial);
            if let Some(old) = self.auth.take() {
                if let Some(cred) = old.finish(Outcome::Unknown, None) {
                    ctx.facts.add_credential(cred);
                }
            }
            self.auth = Some(SaslExchange::new(mechanism, initial, evidence));
            Command::Auth
        } else if is(verb, "DATA") {
            // The body follows the 354; a refused DATA sends the client
            // back to commands (see `server_line`).
            ctx.dot_body(Side::Client);
            self.data_line = Some(evidence);
            Command::Data
        } else if is(verb, "BDAT") {
            let (size, _last) = split_word(args);
            if let Some(n) = parse_u64(size) {
                ctx.literal(Side::Client, n, 0);
            }
            Command::Other
        } else if is_overwritten_command(verb, 8)
            && args.is_empty()
            && ctx.facts.starttls_offered() != Some(false)
            && ctx.facts.starttls_command.is_none()
        {
            Command::Overwritten(evidence)
        } else {
            if !is_known_command(verb) {
                bump(&mut ctx.facts.unparsed_lines.client);
            }
            Command::Other
        };
        self.push(command, &line_evidence, ctx);
    }

    fn server_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        let Some((code, last, text)) = parse_reply_line(bytes) else {
            bump(&mut ctx.facts.unparsed_lines.server);
            ctx.facts
                .anomaly(DialogAnomalyKind::SmtpUnparsableReply, evidence);
            return;
        };
        let reply = self.reply.get_or_insert_with(|| Reply {
            code,
            first: evidence.clone(),
            starttls: false,
            masked: None,
            auth: Vec::new(),
            items: CapabilityItems::default(),
            lines: 0,
        });
        reply.lines += 1;
        if reply.code != code {
            ctx.facts
                .anomaly(DialogAnomalyKind::SmtpReplyCodeChanges, evidence.clone());
        }
        // EHLO keywords are on every line after the first (RFC 5321 4.1.1.1).
        if reply.lines > 1 {
            read_keyword(reply, text, &evidence);
        }
        if !last {
            return;
        }
        let Some(reply) = self.reply.take() else {
            return;
        };
        self.complete(reply, ctx);
    }

    /// A whole reply: the greeting, a step of an AUTH exchange, or the
    /// answer to the oldest pending command.
    fn complete(&mut self, reply: Reply, ctx: &mut Ctx<'_>) {
        if self.reply_ends_body(ctx) {
            return;
        }
        if !self.greeted {
            self.greeted = true;
            let answers_command = matches!(self.pending.front(), Some(Command::Starttls));
            if matches!(reply.code, 220 | 421 | 554) && !answers_command {
                ctx.facts.greeting.get_or_insert(reply.first);
                return;
            }
        }
        // A 334 continues an AUTH exchange; the command stays pending.
        if reply.code == 334 {
            if let Some(auth) = self.auth.as_mut() {
                let challenge = reply.first.bytes.get(3..).map(trim).unwrap_or_default();
                auth.on_challenge(challenge, reply.first.clone());
                return;
            }
        }
        self.resynchronise(reply.code, &reply.first, ctx);
        let command = self.pending.pop_front().unwrap_or(Command::Other);
        self.answered(command, reply, ctx);
    }

    /// A server never replies while the client sends a body: a reply then
    /// proves the body over (its terminator was lost in a gap). True when
    /// the reply ended a body still being read.
    fn reply_ends_body(&mut self, ctx: &mut Ctx<'_>) -> bool {
        if !self.in_data_body {
            return false;
        }
        self.in_data_body = false;
        if ctx.in_body(Side::Client) {
            ctx.lines(Side::Client);
            return true;
        }
        false
    }

    /// Codes that answer one command only put the queue back in step when
    /// a reply was lost (354 only answers DATA, 220 after the greeting only
    /// STARTTLS): the commands before the one they answer are dropped.
    fn resynchronise(&mut self, code: u16, first: &Evidence, ctx: &mut Ctx<'_>) {
        let wanted = |c: &Command| match code {
            354 => matches!(c, Command::Data),
            220 => matches!(c, Command::Starttls),
            _ => true,
        };
        if let Some(at) = self.pending.iter().position(wanted) {
            if at > 0 && at < self.pending.len() {
                ctx.facts
                    .anomaly(DialogAnomalyKind::SmtpReplyResynchronised, first.clone());
                self.pending.drop_oldest(at);
            }
        }
    }

    /// What `reply` to `command` says.
    fn answered(&mut self, command: Command, reply: Reply, ctx: &mut Ctx<'_>) {
        let code = reply.code;
        match command {
            Command::Ehlo => self.ehlo_answered(reply, ctx),
            Command::Helo | Command::Other | Command::DataBody => {}
            Command::Starttls => {
                let answer = if code == 220 {
                    StarttlsAnswer::Accepted
                } else {
                    StarttlsAnswer::Rejected
                };
                ctx.starttls_answered(answer, reply.first);
            }
            Command::Overwritten(command) => {
                if code >= 500 {
                    ctx.facts
                        .tampered_command
                        .get_or_insert((command, Some(reply.first)));
                }
            }
            Command::Auth => {
                if let Some(auth) = self.auth.take() {
                    let outcome = if code == 235 {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    };
                    if let Some(cred) = auth.finish(outcome, Some(reply.first)) {
                        ctx.facts.add_credential(cred);
                    }
                }
            }
            Command::Data => {
                if code == 354 {
                    self.in_data_body = ctx.in_body(Side::Client);
                } else {
                    // No body follows a refused DATA.
                    ctx.lines(Side::Client);
                }
            }
        }
    }

    /// A 250 to EHLO is a capability list; a refused EHLO is a list
    /// without STARTTLS.
    fn ehlo_answered(&mut self, reply: Reply, ctx: &mut Ctx<'_>) {
        if reply.code == 250 {
            ctx.facts.add_capabilities(CapabilityList {
                evidence: reply.first,
                starttls: reply.starttls,
                masked_token: reply.masked,
                auth_mechanisms: reply.auth,
                login_disabled: false,
                refused: false,
                items: reply.items,
            });
        } else if reply.code >= 500 {
            self.ehlo_refused = Some(reply.first.clone());
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
    }
}

/// Reads one EHLO keyword line into the reply's capability facts.
fn read_keyword(reply: &mut Reply, text: &[u8], evidence: &Evidence) {
    reply.items.note(text);
    let (keyword, params) = split_word(text);
    if is(keyword, "STARTTLS") {
        reply.starttls = true;
    } else if is(keyword, "AUTH")
        || keyword.len() > 5 && keyword.get(..5).is_some_and(|k| is(k, "AUTH="))
    {
        // `AUTH PLAIN LOGIN` and the legacy `AUTH=LOGIN`.
        let mut mechanisms: Vec<&[u8]> = params
            .split(|b| *b == b' ')
            .filter(|m| !m.is_empty())
            .collect();
        if let Some(legacy) = keyword.get(5..).filter(|m| !m.is_empty()) {
            mechanisms.push(legacy);
        }
        for m in mechanisms {
            let name = String::from_utf8_lossy(m).to_ascii_uppercase();
            if reply.auth.len() < 32 && !reply.auth.contains(&name) {
                reply.auth.push(name);
            }
        }
    } else if is_stripped_token(keyword, "STARTTLS", KNOWN_8)
        && !is(keyword, ASA_CHUNKING_MASK)
        && reply.masked.is_none()
    {
        reply.masked = Some(evidence.clone());
    }
}

/// `NNN-text` (more lines follow), `NNN text` or `NNN` (last line).
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

/// Offset of the third word of a line (`AUTH PLAIN <here>`), if any.
pub(crate) fn auth_initial_response_at(line: &[u8]) -> Option<usize> {
    let (_, rest) = split_word(line);
    let (_, initial) = split_word(rest);
    (!initial.is_empty()).then(|| line.len() - initial.len())
}

/// `AUTH`, or Exchange's own `X-EXPS` (server-to-server authentication:
/// `X-EXPS GSSAPI`, `X-EXPS NTLM`, the same SASL exchange as AUTH).
fn is_auth(verb: &[u8]) -> bool {
    is(verb, "AUTH") || is(verb, "X-EXPS")
}

fn is_known_command(verb: &[u8]) -> bool {
    super::secrecy::is_command(super::facts::Protocol::Smtp, verb)
}

fn bump(counter: &mut u64) {
    *counter += 1;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "smtp_tests.rs"]
mod tests;
