//! ManageSieve (RFC 5804) with STARTTLS and SASL AUTHENTICATE.
//!
//! The server speaks first: a capability block (one or two strings a
//! line: `"IMPLEMENTATION" "Dovecot Pigeonhole"`, `"SASL" "PLAIN LOGIN"`,
//! `"STARTTLS"`) ended by `OK`, the same block again in answer to
//! `CAPABILITY`. Commands are untagged, so answers (`OK`, `NO`, `BYE`)
//! match them in order. Strings are quoted (at most 1024 octets, RFC 5804
//! 4) or literals `{n}` / `{n+}` that the driver counts; a command goes on
//! after its literal on the next line. `STARTTLS` answered `OK` starts
//! TLS right after the line (RFC 5804 2.2). `AUTHENTICATE "mech"
//! ["initial"]` runs SASL whose server challenges and client responses are
//! bare strings (2.1); `"*"` cancels.

use super::dialog::{Ctx, LineMachine, Literal};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, Evidence, Outcome, Protocol, StarttlsAnswer,
};
use super::imap::syntax::{Arg, LiteralMarker, astrings, literal_at_end};
use super::lines::{Line, LineEnding};
use super::pending::PendingCommands;
use super::sasl::{MAX_BASE64, SaslExchange};
use super::words::{is, is_overwritten_command, is_stripped_token, split_word, trim};
use crate::flow::Side;

/// Bytes of a literal kept when it carries a SASL message (an initial
/// response, a response, a challenge): the SASL decoder's own bound.
const SASL_LITERAL_KEEP: usize = MAX_BASE64;

/// SASL mechanisms kept per capability list.
const MAX_MECHANISMS: usize = 32;

/// Capability names of STARTTLS's length that are real (never masks).
const KNOWN_8: &[&str] = &["STARTTLS", "LANGUAGE"];

#[derive(Debug)]
enum Command {
    Capability,
    Starttls,
    /// `XXXXXXXX` where STARTTLS was, after it was offered.
    Overwritten(Evidence),
    Authenticate,
    Other,
}

/// A capability block being read (its first line seen).
struct Block {
    first: Evidence,
    starttls: bool,
    masked: Option<Evidence>,
    mechanisms: Vec<String>,
    items: CapabilityItems,
    /// An `IMPLEMENTATION` or `SIEVE` line, which every capability
    /// response has (RFC 5804 1.7): without one, the strings were
    /// something else (a LISTSCRIPTS answer whose command was not seen).
    capability: bool,
}

/// What a literal announced by a client line carries.
#[derive(Debug)]
enum ClientLiteral {
    /// `AUTHENTICATE "mech" {n+}`: the initial response; the exchange
    /// starts when it has passed.
    Initial {
        mechanism: Vec<u8>,
        command: Evidence,
    },
    /// A SASL response (`{n+}` on its own line).
    Response(Evidence),
    /// A script or a name: skipped unread.
    Other,
}

/// The ManageSieve dialog of one session.
#[derive(Default)]
pub(crate) struct ManageSieveDialog {
    /// The first response (the greeting's `OK`) was read.
    greeted: bool,
    /// AUTHENTICATE succeeded: capability lists from now on never carry
    /// STARTTLS (RFC 5804 1.8) and prove nothing.
    logged_in: bool,
    /// STARTTLS was answered `OK`: the server re-sends its capabilities
    /// unasked (seen only when TLS did not follow).
    caps_unasked: bool,
    pending: PendingCommands<Command>,
    block: Option<Block>,
    auth: Option<SaslExchange>,
    /// The client's literal being counted, and what it is.
    client_literal: Option<ClientLiteral>,
    /// The client's command goes on after its literal.
    client_continues: bool,
    /// The server's literal being counted is a SASL challenge.
    server_challenge: Option<Evidence>,
    /// The server's response goes on after its literal.
    server_continues: bool,
    /// The server's stream lost bytes since the last response: the
    /// capability block being read may lack lines, and proves nothing.
    server_lossy: bool,
}

impl LineMachine for ManageSieveDialog {
    fn on_line(&mut self, side: Side, line: &Line<'_>, ctx: &mut Ctx<'_>) {
        let evidence = Evidence::from_line(side, line);
        // A line cut at the length limit announces no literal.
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
        match side {
            Side::Client => self.client_literal_passed(literal, ctx),
            Side::Server => {
                if let (Some(evidence), Some(auth)) =
                    (self.server_challenge.take(), self.auth.as_mut())
                {
                    auth.on_challenge(literal.bytes, evidence);
                }
            }
        }
    }

    fn on_gap(&mut self, side: Side, _len: u64, _ctx: &mut Ctx<'_>) {
        match side {
            Side::Server => {
                // A block with a hole proves nothing about what it lacked.
                self.block = None;
                self.server_lossy = true;
                self.server_challenge = None;
                self.server_continues = false;
                if let Some(auth) = self.auth.as_mut() {
                    auth.on_server_gap();
                }
            }
            Side::Client => {
                self.client_literal = None;
                self.client_continues = false;
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.settle_auth(Outcome::Unknown, None, ctx);
    }
}

impl ManageSieveDialog {
    fn client_line(
        &mut self,
        bytes: &[u8],
        literal: Option<LiteralMarker>,
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) {
        // The rest of a command after its literal: empty, or a space and
        // more arguments (RFC 5804 4).
        if std::mem::take(&mut self.client_continues)
            && matches!(bytes.first(), None | Some(b' ' | b'\t'))
        {
            self.announce_client_literal(literal, ClientLiteral::Other, ctx);
            return;
        }
        if self.answers_challenge(bytes) {
            self.response(bytes, literal, evidence, ctx);
            return;
        }
        let (verb, args) = split_word(bytes);
        let sensitive = ["AUTHENTICATE", "PUTSCRIPT", "GETSCRIPT", "LISTSCRIPTS"];
        if sensitive.iter().any(|k| is(verb, k)) && ctx.facts.sensitive_command.is_none() {
            ctx.facts.sensitive_command = Some(evidence.clone());
        }
        let line_evidence = evidence.clone();
        let mut announced = ClientLiteral::Other;
        let command = if is(verb, "STARTTLS") && args.is_empty() {
            ctx.starttls_requested(evidence);
            Command::Starttls
        } else if is(verb, "CAPABILITY") {
            Command::Capability
        } else if is(verb, "AUTHENTICATE") {
            announced = self.authenticate(bytes, evidence, ctx);
            Command::Authenticate
        } else if is_overwritten_command(verb, 8)
            && args.is_empty()
            && ctx.facts.starttls_offered() != Some(false)
            && ctx.facts.starttls_command.is_none()
        {
            Command::Overwritten(evidence)
        } else {
            if !super::secrecy::is_command(Protocol::ManageSieve, verb) {
                ctx.facts.unparsed_lines.client += 1;
            }
            Command::Other
        };
        self.pending.push(command, &line_evidence, ctx.facts);
        self.announce_client_literal(literal, announced, ctx);
    }

    /// `AUTHENTICATE "mech" ["initial" | {n+}]`: the exchange starts (at
    /// once, or when the initial response's literal has passed). Returns
    /// what a literal at the end of the line carries.
    fn authenticate(
        &mut self,
        bytes: &[u8],
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) -> ClientLiteral {
        self.settle_auth(Outcome::Unknown, None, ctx);
        let from = bytes.len() - split_word(bytes).1.len();
        let args = match astrings(bytes, from) {
            Ok(args) => args,
            // An unterminated string: what it holds is secret, and no
            // exchange can be read.
            Err(at) => {
                ctx.facts.secret_line(evidence, at);
                return ClientLiteral::Other;
            }
        };
        let mut args = args.into_iter();
        let Some(Arg::Value {
            bytes: mechanism, ..
        }) = args.next()
        else {
            return ClientLiteral::Other;
        };
        match args.next() {
            Some(Arg::Value { at, bytes: initial }) => {
                let evidence = ctx.facts.secret_line(evidence, at);
                self.auth = Some(SaslExchange::new(&mechanism, Some(&initial), evidence));
                ClientLiteral::Other
            }
            Some(Arg::Literal(marker)) => {
                let command = ctx.facts.secret_line(evidence, marker.at);
                ClientLiteral::Initial { mechanism, command }
            }
            None => {
                self.auth = Some(SaslExchange::new(&mechanism, None, evidence));
                ClientLiteral::Other
            }
        }
    }

    /// A client line while the exchange waits for it is a SASL response:
    /// a string, never a command (a command's verb is an atom).
    fn answers_challenge(&self, bytes: &[u8]) -> bool {
        let string = matches!(bytes.first(), Some(b'"' | b'{'));
        self.auth
            .as_ref()
            .is_some_and(|auth| string && (auth.awaiting_response() || auth.may_continue()))
    }

    /// A SASL response: a quoted string, or a literal.
    fn response(
        &mut self,
        bytes: &[u8],
        literal: Option<LiteralMarker>,
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) {
        let evidence = ctx.facts.secret_line(evidence, 0);
        match literal.filter(|m| m.at == 0) {
            Some(marker) => {
                self.announce_client_literal(Some(marker), ClientLiteral::Response(evidence), ctx)
            }
            None => {
                let value = match astrings(bytes, 0).ok().and_then(|a| a.into_iter().next()) {
                    Some(Arg::Value { bytes, .. }) => bytes,
                    _ => trim(bytes).to_vec(),
                };
                if let Some(auth) = self.auth.as_mut() {
                    auth.on_response(&value, evidence);
                }
            }
        }
    }

    /// The line ended with a literal marker: the driver counts its bytes
    /// (keeping a SASL message's), and the command goes on after them.
    fn announce_client_literal(
        &mut self,
        literal: Option<LiteralMarker>,
        carries: ClientLiteral,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(marker) = literal else {
            return;
        };
        self.client_continues = true;
        let keep = match carries {
            ClientLiteral::Other => 0,
            ClientLiteral::Initial { .. } | ClientLiteral::Response(_) => SASL_LITERAL_KEEP,
        };
        self.client_literal = Some(carries);
        if marker.len == 0 {
            // The driver does not report an empty literal.
            let empty = Literal {
                bytes: &[],
                total: 0,
                offset: 0,
            };
            self.client_literal_passed(empty, ctx);
        } else {
            ctx.literal(Side::Client, marker.len, keep);
        }
    }

    /// A client literal passed: an initial response starts its exchange,
    /// a response goes to it. Its bytes are secret (the guard marks them
    /// too, by the exchange alone).
    fn client_literal_passed(&mut self, literal: Literal<'_>, ctx: &mut Ctx<'_>) {
        let carries = self.client_literal.take();
        let secret = (Side::Client, literal.offset, literal.offset + literal.total);
        match carries {
            Some(ClientLiteral::Initial { mechanism, command }) => {
                ctx.facts.add_secret_span(secret);
                self.auth = Some(SaslExchange::new(&mechanism, Some(literal.bytes), command));
            }
            Some(ClientLiteral::Response(evidence)) => {
                ctx.facts.add_secret_span(secret);
                if let Some(auth) = self.auth.as_mut() {
                    auth.on_response(literal.bytes, evidence);
                }
            }
            Some(ClientLiteral::Other) | None => {}
        }
    }

    fn server_line(
        &mut self,
        bytes: &[u8],
        literal: Option<LiteralMarker>,
        evidence: Evidence,
        ctx: &mut Ctx<'_>,
    ) {
        // The rest of a response after its literal.
        if std::mem::take(&mut self.server_continues)
            && matches!(bytes.first(), None | Some(b' ' | b'\t'))
        {
            self.server_literal(literal, ctx);
            return;
        }
        let (word, _) = split_word(bytes);
        if ["OK", "NO", "BYE"].iter().any(|k| is(word, k)) {
            self.response_line(is(word, "OK"), evidence, ctx);
            return;
        }
        if !matches!(bytes.first(), Some(b'"' | b'{')) {
            ctx.facts.unparsed_lines.server += 1;
            return;
        }
        let challenge =
            self.auth.is_some() && matches!(self.pending.front(), Some(Command::Authenticate));
        if challenge {
            match literal.filter(|m| m.at == 0) {
                Some(marker) => {
                    self.server_challenge = Some(evidence);
                    self.server_continues = true;
                    ctx.literal(Side::Server, marker.len, SASL_LITERAL_KEEP);
                }
                None => {
                    let value = match astrings(bytes, 0).ok().and_then(|a| a.into_iter().next()) {
                        Some(Arg::Value { bytes, .. }) => bytes,
                        _ => trim(bytes).to_vec(),
                    };
                    if let Some(auth) = self.auth.as_mut() {
                        auth.on_challenge(&value, evidence);
                    }
                }
            }
            return;
        }
        let listing = !self.greeted
            || self.caps_unasked
            || matches!(self.pending.front(), Some(Command::Capability));
        if listing && !self.logged_in {
            let block = self.block.get_or_insert_with(|| Block {
                first: evidence.clone(),
                starttls: false,
                masked: None,
                mechanisms: Vec::new(),
                items: CapabilityItems::default(),
                capability: false,
            });
            read_capability(block, bytes, &evidence);
        }
        self.server_literal(literal, ctx);
    }

    /// A literal (a script, a long string) is skipped unread.
    fn server_literal(&mut self, literal: Option<LiteralMarker>, ctx: &mut Ctx<'_>) {
        if let Some(marker) = literal {
            self.server_continues = true;
            ctx.literal(Side::Server, marker.len, 0);
        }
    }

    /// `OK`, `NO` or `BYE`: the greeting's end, or the answer to the
    /// oldest pending command.
    fn response_line(&mut self, ok: bool, evidence: Evidence, ctx: &mut Ctx<'_>) {
        let block = self.block.take().filter(|_| !self.server_lossy);
        self.server_lossy = false;
        if !self.greeted && self.pending.is_empty() {
            self.greeted = true;
            ctx.facts.greeting.get_or_insert(evidence);
            self.list(block, ok, ctx);
            return;
        }
        self.greeted = true;
        let unasked = std::mem::take(&mut self.caps_unasked);
        let outcome = if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        match self.pending.pop_front() {
            Some(Command::Capability) => self.list(block, ok, ctx),
            Some(Command::Starttls) => {
                let answer = if ok {
                    self.caps_unasked = true;
                    StarttlsAnswer::Accepted
                } else {
                    StarttlsAnswer::Rejected
                };
                ctx.starttls_answered(answer, evidence);
            }
            Some(Command::Overwritten(command)) => {
                if !ok {
                    ctx.facts
                        .tampered_command
                        .get_or_insert((command, Some(evidence)));
                }
            }
            Some(Command::Authenticate) => {
                self.settle_auth(outcome, Some(evidence), ctx);
                self.logged_in |= ok;
            }
            Some(Command::Other) | None => {
                if unasked {
                    self.list(block, ok, ctx);
                }
            }
        }
    }

    /// A capability block ended (by `OK`, or by `NO`/`BYE` when the server
    /// refuses service).
    fn list(&mut self, block: Option<Block>, ok: bool, ctx: &mut Ctx<'_>) {
        let Some(block) = block.filter(|b| ok && b.capability && !self.logged_in) else {
            return;
        };
        ctx.facts.add_capabilities(CapabilityList {
            evidence: block.first,
            starttls: block.starttls,
            masked_token: block.masked,
            auth_mechanisms: block.mechanisms,
            login_disabled: false,
            refused: false,
            items: block.items,
        });
    }

    fn settle_auth(&mut self, outcome: Outcome, answer: Option<Evidence>, ctx: &mut Ctx<'_>) {
        if let Some(auth) = self.auth.take() {
            if let Some(cred) = auth.finish(outcome, answer) {
                push_credential(cred, ctx);
            }
        }
    }
}

fn push_credential(cred: Credential, ctx: &mut Ctx<'_>) {
    ctx.facts.add_credential(cred);
}

/// One line of a capability block: a name and an optional value, each a
/// string (`"SASL" "PLAIN LOGIN"`), or where a middlebox masked or
/// mangled `"STARTTLS"` (`"XXXXXXXX"`, `"STARTTLX"`).
fn read_capability(block: &mut Block, line: &[u8], evidence: &Evidence) {
    block.items.note(trim(line));
    let values: Vec<Vec<u8>> = match astrings(line, 0) {
        Ok(args) => args
            .into_iter()
            .filter_map(|a| match a {
                Arg::Value { bytes, .. } => Some(bytes),
                Arg::Literal(_) => None,
            })
            .collect(),
        Err(_) => return,
    };
    let mut values = values.into_iter();
    let name = values.next().unwrap_or_default();
    block.capability |= is(&name, "IMPLEMENTATION") || is(&name, "SIEVE");
    if is(&name, "STARTTLS") {
        block.starttls = true;
    } else if is(&name, "SASL") {
        // Old Dovecot left a space where it removed PLAIN: split on
        // whitespace, drop the empty ones.
        let list = values.next().unwrap_or_default();
        for m in list
            .split(|b| b.is_ascii_whitespace())
            .filter(|m| !m.is_empty())
        {
            let m = super::sasl::canonical_mechanism(m);
            if block.mechanisms.len() < MAX_MECHANISMS && !block.mechanisms.contains(&m) {
                block.mechanisms.push(m);
            }
        }
    } else if block.masked.is_none() && is_stripped_token(&name, "STARTTLS", KNOWN_8) {
        block.masked = Some(evidence.clone());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "managesieve_tests.rs"]
mod tests;
