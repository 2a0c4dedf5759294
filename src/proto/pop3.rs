//! POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595) and AUTH
//! (RFC 5034).
//!
//! Responses are matched to commands in order. Multi-line responses are
//! read line by line only where their content matters (CAPA); message
//! bodies and listings are skipped by the driver to their terminating dot,
//! so a listing line can never pass for a capability.

use super::dialog::{Ctx, LineMachine};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, Evidence, Outcome, SecretKind, StarttlsAnswer,
};
use super::lines::Line;
use super::pending::PendingCommands;
use super::sasl::SaslExchange;
use super::words::{is, is_overwritten_command, is_stripped_token, split_word, trim};
use crate::flow::Side;

/// Real CAPA tags of the length of STLS (never masks).
const KNOWN_4: &[&str] = &["STLS", "USER", "UIDL", "SASL", "IDLE"];

/// Longest APOP timestamp kept from the greeting (RFC 1939 7: a msg-id).
const MAX_TIMESTAMP: usize = 256;

#[derive(Debug)]
enum Command {
    Capa,
    Stls,
    /// `XXXX` where STLS was, after STLS was offered.
    Overwritten(Evidence),
    User,
    Pass,
    Apop,
    Auth,
    /// `AUTH` without arguments: a multi-line list of mechanisms.
    AuthList,
    /// A command whose +OK starts a multi-line response to skip.
    MultiLine,
    Other,
}

/// A CAPA list being read.
struct CapaList {
    list: CapabilityList,
}

/// The POP3 dialog of one session.
#[derive(Default)]
pub(crate) struct Pop3Dialog {
    greeted: bool,
    /// Commands awaiting a response; pipelining (RFC 2449 6.6) is rare.
    pending: PendingCommands<Command>,
    capa: Option<CapaList>,
    /// APOP timestamp from the greeting (`<pid.clock@host>`).
    timestamp: Option<Vec<u8>>,
    /// The USER command's name and evidence, waiting for PASS.
    user: Option<(Vec<u8>, Evidence)>,
    /// A USER/PASS or APOP credential waiting for its response.
    login: Option<Credential>,
    auth: Option<SaslExchange>,
    /// A gap hit the multi-line body the server is sending.
    body_gap: bool,
}

impl LineMachine for Pop3Dialog {
    fn on_line(&mut self, side: Side, line: &Line<'_>, ctx: &mut Ctx<'_>) {
        let evidence = Evidence::from_line(side, line);
        match side {
            Side::Client => self.client_line(line.bytes, evidence, ctx),
            Side::Server => self.server_line(line.bytes, evidence, ctx),
        }
    }

    fn on_gap(&mut self, side: Side, _len: u64, ctx: &mut Ctx<'_>) {
        if side == Side::Server {
            // A CAPA list with a hole proves nothing about what it lacked.
            self.capa = None;
            // A gap in a multi-line body may have taken its terminator.
            self.body_gap |= ctx.in_body(Side::Server);
            if let Some(auth) = self.auth.as_mut() {
                auth.on_server_gap();
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        // A credential whose username is not in the capture is not listed.
        if let Some(login) = self.login.take().filter(|l| l.username.is_some()) {
            ctx.facts.add_credential(login);
        }
        if let Some(auth) = self.auth.take() {
            if let Some(cred) = auth.finish(Outcome::Unknown, None) {
                ctx.facts.add_credential(cred);
            }
        }
    }
}

impl Pop3Dialog {
    fn client_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        // A client waits for the end of a multi-line response before its
        // next command: one arriving after a gap in the body proves the
        // body over (its terminator was lost).
        if self.body_gap && ctx.in_body(Side::Server) {
            ctx.lines(Side::Server);
        }
        self.body_gap = false;
        // While an AUTH exchange waits for the client, its lines are SASL;
        // so is a line that is no command where the exchange may go on (its
        // challenge lost in a gap).
        let continues = |a: &SaslExchange| {
            a.awaiting_response() || (a.may_continue() && !is_known_command(split_word(bytes).0))
        };
        if let Some(auth) = self.auth.as_mut().filter(|a| continues(a)) {
            auth.on_response(trim(bytes), ctx.facts.secret_line(evidence, 0));
            return;
        }
        let (verb, _) = split_word(bytes);
        // The line as recorded anywhere, its secret masked.
        let line_evidence = secret_part(verb, bytes, evidence.clone());
        let sensitive = [
            "USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "TOP", "UIDL", "DELE",
        ];
        if sensitive.iter().any(|k| is(verb, k)) && ctx.facts.sensitive_command.is_none() {
            ctx.facts.sensitive_command = Some(line_evidence.clone());
        }
        let command = self.command(bytes, evidence, ctx);
        // A command dropped for room needs no settling: USER, PASS and
        // APOP keep their credential aside.
        self.pending.push(command, &line_evidence, ctx.facts);
    }

    /// The command on a client line, and what it starts.
    fn command(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) -> Command {
        let (verb, args) = split_word(bytes);
        if is(verb, "CAPA") {
            Command::Capa
        } else if is(verb, "STLS") {
            ctx.starttls_requested(evidence);
            Command::Stls
        } else if is(verb, "USER") {
            self.user = Some((trim(args).to_vec(), evidence));
            Command::User
        } else if is(verb, "PASS") {
            self.pass(bytes, evidence, ctx);
            Command::Pass
        } else if is(verb, "APOP") {
            self.apop(bytes, evidence, ctx);
            Command::Apop
        } else if is(verb, "AUTH") {
            self.auth(bytes, evidence, ctx)
        } else if is(verb, "RETR")
            || is(verb, "TOP")
            || ((is(verb, "LIST") || is(verb, "UIDL")) && trim(args).is_empty())
        {
            Command::MultiLine
        } else if is_overwritten_command(verb, 4)
            && args.is_empty()
            && ctx.facts.starttls_offered() != Some(false)
            && ctx.facts.starttls_command.is_none()
        {
            Command::Overwritten(evidence)
        } else {
            if !is_known_command(verb) {
                ctx.facts.unparsed_lines.client += 1;
            }
            Command::Other
        }
    }

    /// `PASS`: with the USER before it, a credential waiting for its
    /// response.
    fn pass(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        // The password is everything after `PASS `: it may contain
        // spaces (RFC 1939 7).
        let password = bytes.get(5..).unwrap_or_default();
        let mut cred = Credential::new("USER-PASS");
        if let Some((name, user_line)) = self.user.take() {
            cred.username = Some(name);
            cred.evidence.push(user_line);
        }
        cred.secret_kind = SecretKind::Password;
        cred.secret = password.to_vec();
        cred.evidence.push(evidence.secret_from(5));
        self.settle_login(ctx);
        self.login = Some(cred);
    }

    /// `APOP name digest`: a challenge-response against the greeting's
    /// timestamp.
    fn apop(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        let (name, digest) = split_word(split_word(bytes).1);
        let mut cred = Credential::new("APOP");
        cred.username = Some(name.to_vec());
        cred.secret_kind = SecretKind::ChallengeResponse;
        cred.secret = trim(digest).to_vec();
        cred.challenge = self.timestamp.clone();
        let at = bytes.len() - digest.len();
        cred.evidence.push(evidence.secret_from(at));
        self.settle_login(ctx);
        self.login = Some(cred);
    }

    /// `AUTH` alone lists mechanisms; `AUTH mech [initial]` starts a SASL
    /// exchange (an unfinished one before it is kept as it was).
    fn auth(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) -> Command {
        let args = split_word(bytes).1;
        let (mechanism, initial) = split_word(args);
        if mechanism.is_empty() {
            return Command::AuthList;
        }
        let initial = trim(initial);
        let initial = (!initial.is_empty()).then_some(initial);
        let at = bytes.len() - split_word(args).1.len();
        let evidence = if initial.is_some() {
            evidence.secret_from(at)
        } else {
            evidence
        };
        if let Some(old) = self.auth.take() {
            if let Some(cred) = old.finish(Outcome::Unknown, None) {
                ctx.facts.add_credential(cred);
            }
        }
        self.auth = Some(SaslExchange::new(mechanism, initial, evidence));
        Command::Auth
    }

    fn server_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        if self.capa.is_some() {
            self.capa_line(bytes, &evidence, ctx);
            return;
        }
        let (status, _text) = split_word(bytes);
        // `+` alone or `+ text` during AUTH is a challenge.
        if (status == b"+" || bytes == b"+") && self.auth.is_some() {
            if let Some(auth) = self.auth.as_mut() {
                auth.on_challenge(trim(bytes.get(1..).unwrap_or_default()), evidence);
            }
            return;
        }
        let ok = is(status, "+OK");
        if !ok && !is(status, "-ERR") {
            ctx.facts.unparsed_lines.server += 1;
            return;
        }
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
            self.timestamp = apop_timestamp(bytes);
            ctx.facts.greeting.get_or_insert(evidence);
            return;
        }
        self.greeted = true;
        let command = self.pending.pop_front().unwrap_or(Command::Other);
        self.answered(command, ok, evidence, ctx);
    }

    /// Inside a CAPA list: one capability per line, up to the dot.
    fn capa_line(&mut self, bytes: &[u8], evidence: &Evidence, ctx: &mut Ctx<'_>) {
        if bytes == b"." {
            if let Some(done) = self.capa.take() {
                ctx.facts.add_capabilities(done.list);
            }
        } else if let Some(capa) = self.capa.as_mut() {
            read_capability(&mut capa.list, bytes, evidence);
        }
    }

    /// What the `+OK` (`ok`) or `-ERR` response to `command` says.
    fn answered(&mut self, command: Command, ok: bool, evidence: Evidence, ctx: &mut Ctx<'_>) {
        let outcome = if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        match command {
            Command::Capa if ok => {
                self.capa = Some(CapaList {
                    list: CapabilityList {
                        evidence,
                        starttls: false,
                        masked_token: None,
                        auth_mechanisms: Vec::new(),
                        login_disabled: false,
                        refused: false,
                        items: CapabilityItems::default(),
                    },
                });
            }
            Command::Stls => {
                let answer = if ok {
                    StarttlsAnswer::Accepted
                } else {
                    StarttlsAnswer::Rejected
                };
                ctx.starttls_answered(answer, evidence);
            }
            Command::Overwritten(command) => {
                if !ok {
                    ctx.facts
                        .tampered_command
                        .get_or_insert((command, Some(evidence)));
                }
            }
            Command::Pass | Command::Apop => {
                if let Some(mut login) = self.login.take() {
                    login.outcome = outcome;
                    login.evidence.push(evidence);
                    if login.username.is_some() {
                        ctx.facts.add_credential(login);
                    }
                }
            }
            Command::Auth => {
                if let Some(auth) = self.auth.take() {
                    if let Some(cred) = auth.finish(outcome, Some(evidence)) {
                        ctx.facts.add_credential(cred);
                    }
                }
            }
            Command::MultiLine | Command::AuthList if ok => ctx.dot_body(Side::Server),
            Command::User
            | Command::Capa
            | Command::MultiLine
            | Command::AuthList
            | Command::Other => {}
        }
    }

    /// A new USER/PASS or APOP attempt: the previous one, never answered
    /// in this capture, is kept with an unknown outcome.
    fn settle_login(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(login) = self.login.take() {
            if login.username.is_some() {
                ctx.facts.add_credential(login);
            }
        }
    }
}

/// Marks the secret part of a sensitive command used as evidence.
fn secret_part(verb: &[u8], line: &[u8], evidence: Evidence) -> Evidence {
    if is(verb, "PASS") {
        evidence.secret_from(5)
    } else if is(verb, "APOP") || is(verb, "AUTH") {
        let (_, rest) = split_word(line);
        let (_, tail) = split_word(rest);
        if tail.is_empty() {
            evidence
        } else {
            evidence.secret_from(line.len() - tail.len())
        }
    } else {
        evidence
    }
}

/// One CAPA line (RFC 2449 5): `STLS`, `SASL PLAIN LOGIN`, `USER`, ...
fn read_capability(list: &mut CapabilityList, line: &[u8], evidence: &Evidence) {
    list.items.note(line);
    let (tag, params) = split_word(line);
    if is(tag, "STLS") {
        list.starttls = true;
    } else if is(tag, "SASL") {
        for m in params.split(|b| *b == b' ').filter(|m| !m.is_empty()) {
            let name = String::from_utf8_lossy(m).to_ascii_uppercase();
            if list.auth_mechanisms.len() < 32 && !list.auth_mechanisms.contains(&name) {
                list.auth_mechanisms.push(name);
            }
        }
    } else if params.is_empty()
        && is_stripped_token(tag, "STLS", KNOWN_4)
        && list.masked_token.is_none()
    {
        list.masked_token = Some(evidence.clone());
    }
}

/// The APOP timestamp in a greeting: `<...>` (RFC 1939 7).
fn apop_timestamp(greeting: &[u8]) -> Option<Vec<u8>> {
    let start = greeting.iter().position(|b| *b == b'<')?;
    let len = greeting.get(start..)?.iter().position(|b| *b == b'>')?;
    let stamp = greeting.get(start..=start + len)?;
    (stamp.len() <= MAX_TIMESTAMP && stamp.contains(&b'@')).then(|| stamp.to_vec())
}

/// POP3 commands (RFC 1939, 2449, 2595, 5034, 6856 and XTND).
fn is_known_command(verb: &[u8]) -> bool {
    super::secrecy::is_command(super::facts::Protocol::Pop3, verb)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "pop3_tests.rs"]
mod tests;
