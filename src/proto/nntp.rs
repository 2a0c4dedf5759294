//! NNTP (RFC 3977) with STARTTLS (RFC 4642) and AUTHINFO (RFC 4643).
//!
//! Responses are matched to commands in order. The CAPABILITIES list
//! (`101`, then one capability a line up to the dot) is read; every other
//! multi-line response (articles, listings, overviews) is skipped by the
//! driver to its terminating dot, and so is an article the client sends
//! after `340`/`335`. `STARTTLS` is answered `382` (TLS follows) or
//! refused (`580`, `502`). `AUTHINFO USER` then `AUTHINFO PASS` is the
//! `AUTHINFO` credential (`281` accepted, `481` refused); `AUTHINFO SASL
//! mech [initial]` runs SASL, its challenges `383 base64`, the client's
//! responses bare lines, `281`/`283` success.

use super::dialog::{Ctx, LineMachine};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, Evidence, Outcome, Protocol, SecretKind,
    StarttlsAnswer,
};
use super::lines::Line;
use super::pending::PendingCommands;
use super::sasl::SaslExchange;
use super::words::{
    after_words, is, is_overwritten_command, is_stripped_token, parse_u64, split_word, trim,
};
use crate::flow::Side;

/// Capability labels of STARTTLS's length that are real (never masks).
const KNOWN_8: &[&str] = &["STARTTLS", "AUTHINFO", "NEWNEWS", "OVERVIEW"];

/// SASL mechanisms kept per capability list.
const MAX_MECHANISMS: usize = 32;

/// Commands whose success starts a multi-line response (RFC 3977 3.1.1,
/// and the common extensions): skipped to the dot.
const MULTI_LINE: &[&str] = &[
    "ARTICLE",
    "BODY",
    "HEAD",
    "HELP",
    "LIST",
    "LISTGROUP",
    "NEWGROUPS",
    "NEWNEWS",
    "OVER",
    "XOVER",
    "HDR",
    "XHDR",
    "XPAT",
    "XGTITLE",
];

#[derive(Debug)]
enum Command {
    Capabilities,
    Starttls,
    /// `XXXXXXXX` where STARTTLS was, after it was offered.
    Overwritten(Evidence),
    User,
    Pass,
    Sasl,
    /// POST, IHAVE: `340`/`335` asks for the article.
    Article,
    MultiLine,
    Other,
}

/// The NNTP dialog of one session.
#[derive(Default)]
pub(crate) struct NntpDialog {
    greeted: bool,
    /// Authenticated: capability lists from now on never carry STARTTLS
    /// (RFC 4642 2.2.2) and prove nothing.
    logged_in: bool,
    pending: PendingCommands<Command>,
    /// The CAPABILITIES list being read.
    caps: Option<CapabilityList>,
    /// The AUTHINFO USER name and line, waiting for PASS.
    user: Option<(Vec<u8>, Evidence)>,
    /// An AUTHINFO USER/PASS credential waiting for the answer to PASS.
    login: Option<Credential>,
    auth: Option<SaslExchange>,
    /// A gap hit the multi-line body the server is sending.
    body_gap: bool,
}

impl NntpDialog {
    /// The dialog of a connection whose greeting another machine already
    /// read (a `200` taken for SMTP until the client spoke NNTP).
    pub(crate) fn greeted() -> Self {
        NntpDialog {
            greeted: true,
            ..NntpDialog::default()
        }
    }
}

impl LineMachine for NntpDialog {
    fn on_line(&mut self, side: Side, line: &Line<'_>, ctx: &mut Ctx<'_>) {
        let evidence = Evidence::from_line(side, line);
        match side {
            Side::Client => self.client_line(line.bytes, evidence, ctx),
            Side::Server => self.server_line(line.bytes, evidence, ctx),
        }
    }

    fn on_gap(&mut self, side: Side, _len: u64, ctx: &mut Ctx<'_>) {
        if side == Side::Server {
            // A list with a hole proves nothing about what it lacked.
            self.caps = None;
            self.body_gap |= ctx.in_body(Side::Server);
            if let Some(auth) = self.auth.as_mut() {
                auth.on_server_gap();
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.settle_login(ctx);
        self.settle_auth(Outcome::Unknown, None, ctx);
    }
}

impl NntpDialog {
    fn client_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        // A command after a gap in a multi-line body proves it over.
        if self.body_gap && ctx.in_body(Side::Server) {
            ctx.lines(Side::Server);
        }
        self.body_gap = false;
        let (verb, args) = split_word(bytes);
        // While a SASL exchange waits for the client, its lines are SASL;
        // so is a line that is no command where the exchange may go on.
        let continues = |a: &SaslExchange| {
            a.awaiting_response() || (a.may_continue() && !is_known_command(verb))
        };
        if let Some(auth) = self.auth.as_mut().filter(|a| continues(a)) {
            auth.on_response(trim(bytes), ctx.facts.secret_line(evidence, 0));
            return;
        }
        let line_evidence = secret_part(bytes, evidence.clone());
        let sensitive = [
            "AUTHINFO", "ARTICLE", "BODY", "HEAD", "POST", "IHAVE", "GROUP",
        ];
        if sensitive.iter().any(|k| is(verb, k)) && ctx.facts.sensitive_command.is_none() {
            ctx.facts.sensitive_command = Some(line_evidence.clone());
        }
        let command = if is(verb, "STARTTLS") && args.is_empty() {
            ctx.starttls_requested(evidence);
            Command::Starttls
        } else if is(verb, "CAPABILITIES") {
            Command::Capabilities
        } else if is(verb, "AUTHINFO") {
            self.authinfo(bytes, line_evidence.clone(), ctx)
        } else if is(verb, "POST") || is(verb, "IHAVE") {
            Command::Article
        } else if MULTI_LINE.iter().any(|k| is(verb, k)) {
            Command::MultiLine
        } else if is_overwritten_command(verb, 8)
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
        };
        self.pending.push(command, &line_evidence, ctx.facts);
    }

    /// `AUTHINFO USER name`, `AUTHINFO PASS password` (the rest of the
    /// line, spaces included), `AUTHINFO SASL mech [initial]`.
    fn authinfo(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) -> Command {
        let (sub, rest) = split_word(split_word(bytes).1);
        if is(sub, "USER") {
            self.user = Some((trim(rest).to_vec(), evidence));
            Command::User
        } else if is(sub, "PASS") {
            let at = after_words(bytes, 2).unwrap_or(bytes.len());
            let mut cred = Credential::new("AUTHINFO");
            cred.secret_kind = SecretKind::Password;
            cred.cleartext = true;
            if let Some((name, line)) = self.user.take() {
                cred.username = Some(name);
                cred.evidence.push(line);
            }
            cred.secret = bytes.get(at..).unwrap_or_default().to_vec();
            cred.evidence.push(evidence);
            self.settle_login(ctx);
            self.login = Some(cred);
            Command::Pass
        } else if is(sub, "SASL") {
            let (mechanism, initial) = split_word(rest);
            let initial = trim(initial);
            let initial = (!initial.is_empty()).then_some(initial);
            self.settle_auth(Outcome::Unknown, None, ctx);
            self.auth = Some(SaslExchange::new(mechanism, initial, evidence));
            Command::Sasl
        } else {
            Command::Other
        }
    }

    fn server_line(&mut self, bytes: &[u8], evidence: Evidence, ctx: &mut Ctx<'_>) {
        if self.caps.is_some() {
            self.capability_line(bytes, &evidence, ctx);
            return;
        }
        let Some((code, text)) = parse_response(bytes) else {
            ctx.facts.unparsed_lines.server += 1;
            return;
        };
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
            ctx.facts.greeting.get_or_insert(evidence);
            return;
        }
        self.greeted = true;
        // A SASL challenge: the command waits for its final answer.
        if code == 383 && matches!(self.pending.front(), Some(Command::Sasl)) {
            if let Some(auth) = self.auth.as_mut() {
                auth.on_challenge(trim(text), evidence);
            }
            return;
        }
        let command = self.pending.pop_front().unwrap_or(Command::Other);
        self.answered(command, code, evidence, ctx);
    }

    /// Inside the CAPABILITIES list: one capability a line, up to the dot.
    fn capability_line(&mut self, bytes: &[u8], evidence: &Evidence, ctx: &mut Ctx<'_>) {
        if bytes == b"." {
            if let Some(list) = self.caps.take().filter(|_| !self.logged_in) {
                ctx.facts.add_capabilities(list);
            }
        } else if let Some(list) = self.caps.as_mut() {
            read_capability(list, bytes, evidence);
        }
    }

    /// What the response `code` to `command` says.
    fn answered(&mut self, command: Command, code: u16, evidence: Evidence, ctx: &mut Ctx<'_>) {
        let outcome = match code {
            200..=299 => Outcome::Success,
            400..=599 => Outcome::Failure,
            _ => Outcome::Unknown,
        };
        match command {
            Command::Capabilities if code == 101 => {
                self.caps = Some(CapabilityList {
                    evidence,
                    starttls: false,
                    masked_token: None,
                    auth_mechanisms: Vec::new(),
                    login_disabled: false,
                    refused: false,
                    items: CapabilityItems::default(),
                });
            }
            Command::Starttls if code == 382 => {
                ctx.starttls_answered(StarttlsAnswer::Accepted, evidence);
            }
            Command::Starttls if code >= 400 => {
                ctx.starttls_answered(StarttlsAnswer::Rejected, evidence);
            }
            Command::Overwritten(command) if code >= 500 => {
                ctx.facts
                    .tampered_command
                    .get_or_insert((command, Some(evidence)));
            }
            // Accepted without a password: no PASS follows.
            Command::User if (200..300).contains(&code) => {
                self.user = None;
                self.logged_in = true;
            }
            Command::Pass => {
                if let Some(mut login) = self.login.take() {
                    login.outcome = outcome;
                    login.evidence.push(evidence);
                    ctx.facts.add_credential(login);
                }
                self.logged_in |= outcome == Outcome::Success;
            }
            Command::Sasl => {
                self.settle_auth(outcome, Some(evidence), ctx);
                self.logged_in |= outcome == Outcome::Success;
            }
            Command::Article if code == 340 || code == 335 => ctx.dot_body(Side::Client),
            Command::MultiLine if (100..300).contains(&code) => ctx.dot_body(Side::Server),
            Command::Capabilities
            | Command::Starttls
            | Command::Overwritten(_)
            | Command::User
            | Command::Article
            | Command::MultiLine
            | Command::Other => {}
        }
    }

    /// A new AUTHINFO PASS (or the end): the previous one, never answered
    /// in this capture, is kept with an unknown outcome.
    fn settle_login(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(login) = self.login.take() {
            ctx.facts.add_credential(login);
        }
    }

    fn settle_auth(&mut self, outcome: Outcome, answer: Option<Evidence>, ctx: &mut Ctx<'_>) {
        if let Some(auth) = self.auth.take() {
            if let Some(cred) = auth.finish(outcome, answer) {
                ctx.facts.add_credential(cred);
            }
        }
    }
}

/// The line as evidence, its secret part marked: AUTHINFO PASS's
/// password, AUTHINFO SASL's initial response.
fn secret_part(line: &[u8], evidence: Evidence) -> Evidence {
    let (verb, rest) = split_word(line);
    if !is(verb, "AUTHINFO") {
        return evidence;
    }
    let (sub, _) = split_word(rest);
    let words = if is(sub, "PASS") {
        2
    } else if is(sub, "SASL") {
        3
    } else {
        return evidence;
    };
    match after_words(line, words) {
        Some(at) => evidence.secret_from(at),
        None => evidence,
    }
}

/// One CAPABILITIES line (RFC 3977 5.2): `STARTTLS`, `AUTHINFO USER SASL`,
/// `SASL PLAIN LOGIN`, or where a middlebox masked or mangled STARTTLS.
fn read_capability(list: &mut CapabilityList, line: &[u8], evidence: &Evidence) {
    list.items.note(line);
    let (label, args) = split_word(line);
    if is(label, "STARTTLS") {
        list.starttls = true;
    } else if is(label, "SASL") {
        for m in args.split(|b| *b == b' ').filter(|m| !m.is_empty()) {
            let name = super::sasl::canonical_mechanism(m);
            if list.auth_mechanisms.len() < MAX_MECHANISMS && !list.auth_mechanisms.contains(&name)
            {
                list.auth_mechanisms.push(name);
            }
        }
    } else if args.is_empty()
        && list.masked_token.is_none()
        && is_stripped_token(label, "STARTTLS", KNOWN_8)
    {
        list.masked_token = Some(evidence.clone());
    }
}

/// `NNN text` or `NNN`: the code and the text.
fn parse_response(line: &[u8]) -> Option<(u16, &[u8])> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = parse_u64(digits).and_then(|c| u16::try_from(c).ok())?;
    match line.get(3) {
        None => Some((code, &[])),
        Some(b' ') => Some((code, line.get(4..).unwrap_or_default())),
        Some(_) => None,
    }
}

/// NNTP commands (RFC 3977, 4642, 4643, 2980 and the common extensions).
fn is_known_command(verb: &[u8]) -> bool {
    super::secrecy::is_command(Protocol::Nntp, verb)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "nntp_tests.rs"]
mod tests;
