//! SASL exchanges (RFC 4422), decoded independently of the protocol that
//! carries them: SMTP `AUTH` with `334` challenges (RFC 4954), IMAP
//! `AUTHENTICATE` with `+` continuations (RFC 3501, SASL-IR RFC 4959), POP3
//! `AUTH` with `+` challenges (RFC 5034). The protocol parsers strip their
//! framing and hand over the base64 text of each message; a
//! [`SaslExchange`] decodes it and builds the [`Credential`] that crossed.
//!
//! Mechanisms and what they yield:
//!
//! | mechanism | username | secret |
//! |---|---|---|
//! | PLAIN | authcid, or the authzid when the authcid is empty (authzid in `extra` when it is another) | password |
//! | LOGIN | first answer / answer to a user prompt | password |
//! | CRAM-MD5 | from the response | hex digest; `challenge` = `<id@host>` |
//! | DIGEST-MD5 | `username=` | `response=`; `challenge` = nonce; realm, cnonce, nc, qop, digest-uri in `extra` |
//! | XOAUTH2 | `user=` | bearer token |
//! | OAUTHBEARER | GS2 `a=` (none: no username) | bearer token; host, port in `extra` |
//! | NTLM, and NTLMSSP inside GSS-SPNEGO/GSSAPI | AUTHENTICATE user (UTF-8) | NT response (hex); `challenge` = server challenge (hex); domain, lm_response, ... in `extra` |
//! | SCRAM-* | `n=` | none (the messages go to `extra`) |
//! | EXTERNAL | the authzid, when one is sent | none |
//! | any other (vendor cookies: XYMPKI, ...) | a `user=`-like field, or a response that is a mail address | token: the responses as sent, one per line |
//! | ANONYMOUS, GSSAPI and KERBEROS_V4 (Kerberos) | no credential | |
//!
//! A credential is reported when a username or a secret crossed: a
//! password or token without a visible username is still one. PLAIN is read
//! as clients send it (missing, extra and trailing NULs; see
//! [`messages::parse_plain`]). LOGIN answers are decoded when they are
//! base64 of text and taken as sent otherwise: servers that prompt in plain
//! text (`+ User Name`, `334 Username:`) get plain answers, which may happen
//! to be valid base64 of binary. A LOGIN answer whose prompt was lost is
//! what its position says (the second is the password).
//!
//! Binary NTLM fields (responses, server challenge) are stored as lowercase
//! hex text, ready for hash export and safe to print.
//!
//! Everything is bounded: base64 text longer than [`MAX_BASE64`] is not
//! decoded, usernames and `extra` values are cut at [`MAX_FIELD`], secrets
//! at [`MAX_SECRET`] (a cut field is named in the `truncated` extra), and at
//! most [`MAX_EVIDENCE`] lines are kept before the verdict. A message of a
//! structured mechanism (CRAM-MD5, DIGEST-MD5, the OAuth ones, NTLM, SCRAM)
//! that does not decode or parse records nothing: nothing is guessed from
//! it.

mod digest;
mod messages;
mod ntlm;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::facts::{Credential, Evidence, Outcome, SecretKind};
use messages::{
    Prompt, PromptForm, could_be_a_name, hex, is_hex, is_text, parse_cram_md5, parse_oauthbearer,
    parse_plain, parse_scram_client_first, parse_xoauth2, read_prompt, visible_username,
};

/// Longest base64 text decoded; a longer message records nothing.
pub(crate) const MAX_BASE64: usize = 22 * 1024;
/// Longest decoded message kept for parsing.
pub(crate) const MAX_DECODED: usize = 16 * 1024;
/// Longest username, challenge or `extra` value kept.
pub(crate) const MAX_FIELD: usize = 1024;
/// Longest secret kept (bearer tokens and NTLMv2 responses can be long).
pub(crate) const MAX_SECRET: usize = 16 * 1024;
/// Evidence lines kept (command, challenges, responses), the verdict aside.
pub(crate) const MAX_EVIDENCE: usize = 32;
/// Longest mechanism name kept (RFC 4422 allows 20 characters).
pub(crate) const MAX_MECHANISM: usize = 40;

/// Standard alphabet, padding optional, lenient about trailing bits.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// IANA name of a mechanism as on the wire: surrounding whitespace removed,
/// ASCII upper-cased, cut at [`MAX_MECHANISM`] bytes, and escaped
/// ([`crate::text::escape`]) so hostile bytes cannot reach a report.
pub(crate) fn canonical_mechanism(name: &[u8]) -> String {
    let name = name.trim_ascii();
    let name = name.get(..MAX_MECHANISM).unwrap_or(name);
    crate::text::escape(&name.to_ascii_uppercase())
}

/// Decodes one SASL message: `=` or nothing is the empty message; base64
/// with or without padding, surrounding whitespace ignored. `None` when the
/// text is not base64 or is too long.
pub(crate) fn decode_message(text: &[u8]) -> Option<Vec<u8>> {
    let text = text.trim_ascii();
    if text.is_empty() || text == b"=" {
        return Some(Vec::new());
    }
    if text.len() > MAX_BASE64 {
        return None;
    }
    BASE64.decode(text).ok().filter(|d| d.len() <= MAX_DECODED)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mech {
    Plain,
    Login,
    CramMd5,
    DigestMd5,
    XOAuth2,
    OAuthBearer,
    Ntlm,
    Scram,
    /// GSSAPI, GSS-SPNEGO, GS2-KRB5, KERBEROS_V4: only an NTLMSSP message
    /// inside is read (a Kerberos ticket is no reusable secret).
    Gssapi,
    External,
    Anonymous,
    /// Any other mechanism (a vendor's cookie, OTP, ...): whatever the
    /// client sends is a token.
    Other,
}

impl Mech {
    fn from_name(canonical: &str) -> Mech {
        match canonical {
            "PLAIN" => Mech::Plain,
            "LOGIN" => Mech::Login,
            "CRAM-MD5" => Mech::CramMd5,
            "DIGEST-MD5" => Mech::DigestMd5,
            "XOAUTH2" => Mech::XOAuth2,
            "OAUTHBEARER" => Mech::OAuthBearer,
            "NTLM" => Mech::Ntlm,
            "GSSAPI" | "GSS-SPNEGO" | "GS2-KRB5" | "GS2-KRB5-PLUS" | "KERBEROS_V4" => Mech::Gssapi,
            "EXTERNAL" => Mech::External,
            "ANONYMOUS" => Mech::Anonymous,
            s if s.starts_with("SCRAM-") => Mech::Scram,
            _ => Mech::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoginField {
    User,
    Pass,
}

/// Mechanism progress.
#[derive(Debug, Default)]
struct Progress {
    /// The client message that carries the credential has been read.
    parsed: bool,
    /// LOGIN: the prompt of the challenge not yet answered.
    prompt: Prompt,
    /// LOGIN: how the server writes its prompts, once one said.
    prompt_form: Option<PromptForm>,
    /// LOGIN: the username / password answers have been seen.
    login_user: bool,
    login_pass: bool,
    /// NTLM: NegotiateFlags of the server's CHALLENGE.
    ntlm_flags: Option<u32>,
}

/// One SASL exchange, from the client's command to the server's verdict.
#[derive(Debug)]
pub(crate) struct SaslExchange {
    mech: Mech,
    /// Boxed: protocol dialogs hold an exchange inline while idle.
    cred: Box<Credential>,
    cancelled: bool,
    /// Client messages so far, the initial response included.
    responses: u32,
    /// A server challenge has not been answered yet.
    unanswered: bool,
    /// A gap in the server's stream may have taken a challenge.
    challenge_lost: bool,
    progress: Progress,
}

impl SaslExchange {
    /// `mechanism` as on the wire (any case); `initial_response` is the
    /// base64 text of a SASL-IR / RFC 4954 initial response if the command
    /// carried one (may be `b"="` for empty). `evidence` is the command.
    pub(crate) fn new(
        mechanism: &[u8],
        initial_response: Option<&[u8]>,
        evidence: Evidence,
    ) -> Self {
        let name = canonical_mechanism(mechanism);
        let mut exchange = SaslExchange {
            mech: Mech::from_name(&name),
            cred: Box::new(Credential::new(&name)),
            cancelled: false,
            responses: 0,
            unanswered: false,
            challenge_lost: false,
            progress: Progress::default(),
        };
        exchange.push_evidence(evidence);
        if let Some(ir) = initial_response {
            exchange.responses = 1;
            exchange.client_message(ir, true);
        }
        exchange
    }

    /// The canonical mechanism name.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn mechanism(&self) -> &str {
        &self.cred.mechanism
    }

    /// A server challenge: the base64 text after `334 ` / `+ ` (may be
    /// empty).
    pub(crate) fn on_challenge(&mut self, base64_text: &[u8], evidence: Evidence) {
        self.push_evidence(evidence);
        if self.cancelled {
            return;
        }
        self.unanswered = true;
        self.challenge_lost = false;
        let decoded = decode_message(base64_text);
        self.server_message(decoded.as_deref(), base64_text);
    }

    /// A client response line (base64 text; `=` or nothing is an empty
    /// response, `*` cancels).
    pub(crate) fn on_response(&mut self, base64_text: &[u8], evidence: Evidence) {
        self.push_evidence(evidence);
        if self.cancelled {
            return;
        }
        self.unanswered = false;
        self.challenge_lost = false;
        self.responses = self.responses.saturating_add(1);
        if base64_text.trim_ascii() == b"*" {
            self.cancelled = true;
            return;
        }
        self.client_message(base64_text, false);
    }

    /// A gap in the server's stream during the exchange: a challenge may
    /// have fallen into it (the client's acknowledgement shows the bytes
    /// crossed), so the client's next line may answer it.
    pub(crate) fn on_server_gap(&mut self) {
        if !self.cancelled {
            self.challenge_lost = true;
            self.progress.prompt = Prompt::Unknown;
        }
    }

    /// True when a client line that answers no visible challenge may still
    /// belong to the exchange: a challenge was lost in a gap, or LOGIN is
    /// half-way (its username crossed, its password not yet), so the
    /// position says what the line is. The protocol decides, knowing its
    /// commands: a line that is one is not a response.
    pub(crate) fn may_continue(&self) -> bool {
        let login_half_way =
            self.mech == Mech::Login && self.progress.login_user && !self.progress.login_pass;
        !self.cancelled && (self.challenge_lost || login_half_way)
    }

    /// The client cancelled the exchange with `*`.
    #[cfg(test)]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// True while the next client line belongs to the exchange: a server
    /// challenge is unanswered, or the client has sent nothing yet (no
    /// initial response; the client may speak only in SASL until the
    /// verdict, and a lost challenge must not turn its answer into a
    /// command). False once cancelled.
    pub(crate) fn awaiting_response(&self) -> bool {
        !self.cancelled && (self.unanswered || self.responses == 0)
    }

    /// The server's final verdict; returns the credential when a (non-empty)
    /// username or a secret crossed the wire (a password or token without a
    /// visible username is still one). A cancelled exchange is a failure
    /// whatever the server said. `verdict` is the server's final line.
    pub(crate) fn finish(
        mut self,
        outcome: Outcome,
        verdict: Option<Evidence>,
    ) -> Option<Credential> {
        if let Some(v) = verdict {
            self.cred.evidence.push(v);
        }
        self.cred.cancelled = self.cancelled;
        self.cred.outcome = if self.cancelled {
            Outcome::Failure
        } else {
            outcome
        };
        let named = self.cred.username.as_ref().is_some_and(|u| !u.is_empty());
        let secret = self.cred.secret_kind != SecretKind::None && !self.cred.secret.is_empty();
        (named || secret).then_some(*self.cred)
    }

    fn push_evidence(&mut self, evidence: Evidence) {
        if self.cred.evidence.len() < MAX_EVIDENCE {
            self.cred.evidence.push(evidence);
        }
    }

    /// A client message as sent (`raw`, base64 text for most mechanisms).
    fn client_message(&mut self, raw: &[u8], initial: bool) {
        let decoded = decode_message(raw);
        match self.mech {
            Mech::Login => return self.login_answer(raw, decoded.as_deref(), initial),
            Mech::Other => return self.other_response(raw, decoded.as_deref()),
            _ => {}
        }
        let Some(msg) = decoded.as_deref().filter(|m| !m.is_empty()) else {
            return;
        };
        if self.progress.parsed {
            return;
        }
        match self.mech {
            Mech::Plain => self.plain(msg),
            Mech::CramMd5 => self.cram_md5(msg),
            Mech::DigestMd5 => self.digest_md5(msg),
            Mech::XOAuth2 => self.xoauth2(msg),
            Mech::OAuthBearer => self.oauthbearer(msg),
            Mech::Ntlm | Mech::Gssapi => self.ntlm_authenticate(msg),
            Mech::Scram => self.scram_client(msg),
            Mech::External => {
                self.progress.parsed = true;
                self.set_username(msg);
            }
            Mech::Login | Mech::Anonymous | Mech::Other => {}
        }
    }

    /// A decoded server challenge (`None`: it did not decode; `raw` is the
    /// text as sent).
    fn server_message(&mut self, msg: Option<&[u8]>, raw: &[u8]) {
        if self.mech == Mech::Login {
            let (prompt, form) = read_prompt(msg, raw);
            self.progress.prompt = prompt;
            self.progress.prompt_form = form.or(self.progress.prompt_form);
            return;
        }
        let Some(msg) = msg.filter(|m| !m.is_empty()) else {
            return;
        };
        match self.mech {
            Mech::CramMd5 if self.cred.challenge.is_none() => self.set_challenge(msg.trim_ascii()),
            Mech::DigestMd5 if !self.progress.parsed => {
                if let Some(nonce) = digest::parse(msg)
                    .as_deref()
                    .and_then(|d| digest::get(d, "nonce"))
                {
                    self.set_challenge(nonce);
                }
            }
            // The JSON error that precedes a failure.
            Mech::XOAuth2 | Mech::OAuthBearer if self.progress.parsed => {
                self.set_extra("server_error", msg);
            }
            Mech::Ntlm | Mech::Gssapi if !self.progress.parsed => self.ntlm_challenge(msg),
            Mech::Scram => self.scram_server(msg),
            _ => {}
        }
    }

    // ---- PLAIN ----

    fn plain(&mut self, msg: &[u8]) {
        let Some(plain) = parse_plain(msg) else {
            return;
        };
        self.progress.parsed = true;
        if let Some(user) = plain.username {
            self.set_username(user);
        }
        self.set_secret(SecretKind::Password, plain.password);
        if let Some(authzid) = plain.authzid {
            self.set_extra("authzid", authzid);
        }
    }

    // ---- LOGIN ----

    /// Which answer this is: the prompt decides when it says, else the
    /// order (first username, then password); later answers are ignored.
    fn login_answer(&mut self, raw: &[u8], decoded: Option<&[u8]>, initial: bool) {
        let value = self.login_value(raw, decoded);
        let prompt = std::mem::take(&mut self.progress.prompt);
        let (user_seen, pass_seen) = (self.progress.login_user, self.progress.login_pass);
        let field = match (initial, prompt) {
            (true, _) => Some(LoginField::User),
            (false, Prompt::User) if !user_seen => Some(LoginField::User),
            (false, Prompt::Pass) if !pass_seen => Some(LoginField::Pass),
            (false, Prompt::Unknown) if !user_seen => Some(LoginField::User),
            (false, Prompt::Unknown) if !pass_seen => Some(LoginField::Pass),
            _ => None,
        };
        match field {
            Some(LoginField::User) => {
                self.progress.login_user = true;
                if could_be_a_name(value) {
                    self.set_username(value);
                }
            }
            Some(LoginField::Pass) => {
                self.progress.login_pass = true;
                self.set_secret(SecretKind::Password, value);
            }
            None => {}
        }
    }

    /// What a LOGIN answer carries: decoded when it is base64 of text,
    /// else as sent. Plain ASCII that happens to be base64 (`alice123`)
    /// decodes to binary, which no username or typed password is. After
    /// plain-text prompts the answer must also look encoded (padded to a
    /// multiple of 4) to be decoded: a client there usually answers plain.
    fn login_value<'a>(&self, raw: &'a [u8], decoded: Option<&'a [u8]>) -> &'a [u8] {
        let raw = raw.trim_ascii();
        let plain_prompts = self.progress.prompt_form == Some(PromptForm::Plain);
        match decoded {
            Some(d) if is_text(d) && !(plain_prompts && raw.len() % 4 != 0) => d,
            _ => raw,
        }
    }

    // ---- other mechanisms ----

    /// Whatever the client sends in an unknown mechanism is a token (the
    /// responses as sent, one per line), with the username when one is
    /// visible in it.
    fn other_response(&mut self, raw: &[u8], decoded: Option<&[u8]>) {
        let raw = raw.trim_ascii();
        if raw.is_empty() || raw == b"=" || self.cred.secret.len() >= MAX_SECRET {
            return;
        }
        if self.cred.username.is_none() {
            let text = decoded.filter(|d| is_text(d)).unwrap_or(raw);
            if let Some(user) = visible_username(text) {
                self.set_username(user);
            }
        }
        let mut token = std::mem::take(&mut self.cred.secret);
        if !token.is_empty() {
            token.push(b'\n');
        }
        token.extend_from_slice(raw);
        self.set_secret(SecretKind::Token, &token);
    }

    // ---- CRAM-MD5 ----

    fn cram_md5(&mut self, msg: &[u8]) {
        let Some((user, digest)) = parse_cram_md5(msg) else {
            return;
        };
        self.progress.parsed = true;
        self.set_username(user);
        self.set_secret(SecretKind::ChallengeResponse, digest);
    }

    // ---- DIGEST-MD5 ----

    fn digest_md5(&mut self, msg: &[u8]) {
        let Some(d) = digest::parse(msg) else {
            return;
        };
        let Some(user) = digest::get(&d, "username").filter(|u| !u.is_empty()) else {
            return;
        };
        self.progress.parsed = true;
        self.set_username(user);
        // The nonce the response was computed with (the server's, echoed).
        if let Some(nonce) = digest::get(&d, "nonce") {
            self.set_challenge(nonce);
        }
        if let Some(response) = digest::get(&d, "response").filter(|r| is_hex(r, 32)) {
            self.set_secret(SecretKind::ChallengeResponse, response);
        }
        // RFC 2831 2.1.2: a missing realm is the empty string in A1, a
        // missing qop is "auth".
        self.set_extra("realm", digest::get(&d, "realm").unwrap_or_default());
        for key in ["cnonce", "nc", "digest-uri"] {
            if let Some(v) = digest::get(&d, key) {
                self.set_extra(key, v);
            }
        }
        self.set_extra("qop", digest::get(&d, "qop").unwrap_or(b"auth"));
        for key in ["authzid", "charset", "cipher"] {
            if let Some(v) = digest::get(&d, key) {
                self.set_extra(key, v);
            }
        }
    }

    // ---- XOAUTH2, OAUTHBEARER ----

    fn xoauth2(&mut self, msg: &[u8]) {
        let Some((user, token)) = parse_xoauth2(msg) else {
            return;
        };
        self.progress.parsed = true;
        self.set_username(user);
        if let Some(token) = token {
            self.set_secret(SecretKind::Token, token);
        }
    }

    fn oauthbearer(&mut self, msg: &[u8]) {
        let Some(ob) = parse_oauthbearer(msg) else {
            return;
        };
        self.progress.parsed = true;
        if let Some(user) = ob.user.as_deref().filter(|u| !u.is_empty()) {
            self.set_username(user);
        }
        if let Some(token) = ob.token {
            self.set_secret(SecretKind::Token, token);
        }
        if let Some(host) = ob.host {
            self.set_extra("host", host);
        }
        if let Some(port) = ob.port {
            self.set_extra("port", port);
        }
    }

    // ---- NTLM ----

    fn ntlm_challenge(&mut self, msg: &[u8]) {
        if let Some(c) = ntlm::find(msg).and_then(ntlm::parse_challenge) {
            self.set_challenge(&hex(&c.server_challenge));
            self.progress.ntlm_flags = Some(c.flags);
        }
    }

    fn ntlm_authenticate(&mut self, msg: &[u8]) {
        let Some(a) =
            ntlm::find(msg).and_then(|m| ntlm::parse_authenticate(m, self.progress.ntlm_flags))
        else {
            return;
        };
        self.progress.parsed = true;
        // Anonymous NTLM: empty user and responses.
        if a.user.is_empty() {
            return;
        }
        self.set_username(&a.user);
        if !a.nt_response.is_empty() {
            self.set_secret(SecretKind::ChallengeResponse, &hex(&a.nt_response));
        }
        self.set_extra("domain", &a.domain);
        if !a.lm_response.is_empty() {
            self.set_extra("lm_response", &hex(&a.lm_response));
        }
        if !a.workstation.is_empty() {
            self.set_extra("workstation", &a.workstation);
        }
        let version: &[u8] = match a.nt_response.len() {
            0 => b"",
            24 => b"v1",
            n if n > 24 => b"v2",
            _ => b"unknown",
        };
        if !version.is_empty() {
            self.set_extra("ntlm_version", version);
        }
        if let Some(flags) = a.flags.or(self.progress.ntlm_flags) {
            self.set_extra("flags", format!("{flags:08x}").as_bytes());
        }
    }

    // ---- SCRAM ----

    /// client-first gives the username; client-final is kept (with the
    /// server messages it allows an offline dictionary attack).
    fn scram_client(&mut self, msg: &[u8]) {
        if msg.starts_with(b"c=") {
            self.set_extra("client_final", msg);
            return;
        }
        if self.cred.username.is_some() {
            return;
        }
        let Some(first) = parse_scram_client_first(msg) else {
            return;
        };
        self.set_username(&first.username);
        if let Some(authzid) = first.authzid.as_deref().filter(|a| !a.is_empty()) {
            self.set_extra("authzid", authzid);
        }
        self.set_extra("client_first_bare", first.bare);
    }

    fn scram_server(&mut self, msg: &[u8]) {
        if msg.starts_with(b"r=") {
            self.set_extra("server_first", msg);
        } else if let Some(err) = msg.strip_prefix(b"e=") {
            self.set_extra("server_error", err);
        }
    }

    // ---- bounded setters ----

    /// `value` cut at `max`, noting the cut under the `truncated` extra.
    fn capped<'a>(&mut self, field: &str, value: &'a [u8], max: usize) -> &'a [u8] {
        match value.get(..max) {
            Some(head) if value.len() > max => {
                self.mark_truncated(field);
                head
            }
            _ => value,
        }
    }

    fn mark_truncated(&mut self, field: &str) {
        match self.cred.extra.iter_mut().find(|(k, _)| k == "truncated") {
            Some((_, list)) => {
                if !list.split(|&b| b == b',').any(|f| f == field.as_bytes()) {
                    list.push(b',');
                    list.extend_from_slice(field.as_bytes());
                }
            }
            None => self
                .cred
                .extra
                .push(("truncated".to_string(), field.as_bytes().to_vec())),
        }
    }

    fn set_username(&mut self, user: &[u8]) {
        let user = self.capped("username", user, MAX_FIELD);
        self.cred.username = Some(user.to_vec());
    }

    fn set_secret(&mut self, kind: SecretKind, secret: &[u8]) {
        let secret = self.capped("secret", secret, MAX_SECRET);
        self.cred.secret_kind = kind;
        self.cred.secret = secret.to_vec();
    }

    fn set_challenge(&mut self, challenge: &[u8]) {
        let challenge = self.capped("challenge", challenge, MAX_FIELD);
        self.cred.challenge = Some(challenge.to_vec());
    }

    /// Sets an extra field, replacing an earlier value of the same name.
    fn set_extra(&mut self, name: &'static str, value: &[u8]) {
        let value = self.capped(name, value, MAX_FIELD).to_vec();
        match self.cred.extra.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.cred.extra.push((name.to_string(), value)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod dialog_tests;
