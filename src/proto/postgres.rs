//! PostgreSQL's frontend/backend protocol (version 3), its startup phase:
//! SSLRequest and GSSENCRequest with their one-byte answers, the
//! StartupMessage, the server's Authentication requests and the client's
//! password, MD5 and SASL messages, up to AuthenticationOk or an
//! ErrorResponse.
//!
//! The framing is bounded and `Incomplete`-aware: bytes are fed as they
//! come, a message's header and its first [`MAX_KEPT`] bytes are kept, the
//! rest is counted past. A length that no server accepts (a startup
//! packet over [`MAX_STARTUP_PACKET`], a message over [`MAX_MESSAGE`])
//! means the stream is not PostgreSQL or was lost: the side is read no
//! further (the client's bytes are then all masked by the driver).
//!
//! Every client `p` message (PasswordMessage, SASLInitialResponse,
//! SASLResponse, GSSResponse) is secret whole to the
//! [`SecretGuard`], by its type alone, before anything reads it.

use super::dialog::{Ctx, LineMachine};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, Evidence, Outcome, SecretKind, StarttlsAnswer,
};
use super::lines::Line;
use super::secrecy::SecretGuard;
use crate::flow::{PacketRef, PerSide, Side};

/// The server's limit on a startup packet (`MAX_STARTUP_PACKET_LENGTH`
/// in PostgreSQL's `pqcomm.h`).
pub(crate) const MAX_STARTUP_PACKET: u32 = 10_000;

/// Longest message read: PostgreSQL's own limit on any message is 1 GiB
/// (`PQ_LARGE_MESSAGE_LIMIT`); past it the stream is not PostgreSQL.
pub(crate) const MAX_MESSAGE: u32 = 0x3fff_ffff;

/// Bytes kept of a message's body: libpq rejects authentication requests
/// over 2000 bytes, and nothing read here is longer.
pub(crate) const MAX_KEPT: usize = 2000;

/// Startup request codes (protocol.sgml, "Message Formats").
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
/// Protocol 3.0 and 3.2 (major 3 in the high 16 bits).
const PROTOCOL_3: u32 = 3 << 16;

/// Whether the first 8 bytes a client sent are a PostgreSQL startup
/// packet: a length of 8 up to [`MAX_STARTUP_PACKET`] and a request code
/// or protocol version 3.x.
pub(crate) fn is_startup(first: &[u8]) -> bool {
    let (Some(len), Some(code)) = (be32(first, 0), be32(first, 4)) else {
        return false;
    };
    let known = matches!(code, SSL_REQUEST | GSSENC_REQUEST) && len == 8
        || code == CANCEL_REQUEST && (12..=264).contains(&len)
        || code >> 16 == 3 && (code & 0xffff) <= 2 && len > 8;
    (8..=MAX_STARTUP_PACKET).contains(&len) && known
}

/// The first byte of what may be a startup packet (its length's high
/// byte is 0): the driver waits for 8 bytes to tell.
pub(crate) fn may_be_startup(first: &[u8]) -> bool {
    first.first() == Some(&0)
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// One direction's framing.
#[derive(Default)]
struct Framer {
    /// The header and the first body bytes of the message being read.
    buf: Vec<u8>,
    /// Body bytes still to count past once [`MAX_KEPT`] are kept.
    skip: u64,
    /// Where the message began.
    start: Option<(PacketRef, u64)>,
    /// Past the startup phase: messages carry a type byte.
    typed: bool,
    /// The framing failed: nothing more is read.
    lost: bool,
}

/// A whole message (its body cut at [`MAX_KEPT`]).
struct Message<'a> {
    /// The type byte; `None` for a startup packet.
    kind: Option<u8>,
    /// For a startup packet, its code and what follows.
    body: &'a [u8],
    packet: PacketRef,
}

/// What the server was asked for and has not answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asked {
    Nothing,
    Ssl,
    Gss,
}

/// The PostgreSQL dialog of one session.
pub(crate) struct PgDialog {
    framers: PerSide<Framer>,
    asked: Asked,
    /// The StartupMessage's user.
    user: Option<Vec<u8>>,
    /// The last Authentication request's code, and the MD5 salt.
    auth: Option<u32>,
    salt: Option<[u8; 4]>,
    /// The credential waiting for the server's verdict.
    login: Option<Credential>,
    /// Authentication is over (AuthenticationOk): nothing more to learn.
    done: bool,
}

impl Default for PgDialog {
    fn default() -> Self {
        PgDialog {
            framers: PerSide::new(Framer::default(), Framer::default()),
            asked: Asked::Nothing,
            user: None,
            auth: None,
            salt: None,
            login: None,
            done: false,
        }
    }
}

impl LineMachine for PgDialog {
    /// PostgreSQL is read as messages ([`PgDialog::feed`]), never as lines.
    fn on_line(&mut self, _side: Side, _line: &Line<'_>, _ctx: &mut Ctx<'_>) {}

    fn on_gap(&mut self, side: Side, _len: u64, _ctx: &mut Ctx<'_>) {
        // Where the next message starts is lost.
        self.framers[side].lost = true;
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(login) = self.login.take() {
            ctx.facts.add_credential(login);
        }
    }
}

impl PgDialog {
    /// Reads `input` of `side` (starting at stream `offset`, carried by
    /// `packet`) up to the end of a message that changes how the driver
    /// frames the sides (an upgrade request or answer); returns how many
    /// bytes were used.
    pub(crate) fn feed(
        &mut self,
        side: Side,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
        secrets: &mut SecretGuard,
        ctx: &mut Ctx<'_>,
    ) -> usize {
        ctx.frame_messages(side, input, offset, |rest, at, ctx| {
            (!self.framers[side].lost).then(|| self.step(side, rest, packet, at, secrets, ctx))
        })
    }

    /// Frames one piece: returns the bytes used and whether to stop.
    fn step(
        &mut self,
        side: Side,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
        secrets: &mut SecretGuard,
        ctx: &mut Ctx<'_>,
    ) -> (usize, bool) {
        // The one-byte answer to SSLRequest or GSSENCRequest.
        if side == Side::Server
            && self.asked != Asked::Nothing
            && self.framers.server.buf.is_empty()
        {
            if let Some(&byte) = input.first() {
                if byte != b'E' {
                    ctx.tap_message(side, &[byte], 1, packet, offset);
                    return (1, self.answered(byte, packet, ctx));
                }
                // An error instead (an old server, or a failure): a typed
                // message follows, and the request was refused.
                self.framers.server.typed = true;
                if self.asked == Asked::Ssl {
                    self.refuse_request(b"E (an ErrorResponse to SSLRequest)", packet, ctx);
                }
                self.asked = Asked::Nothing;
            }
        }
        let framer = &mut self.framers[side];
        if framer.skip > 0 {
            let n = usize::try_from(framer.skip)
                .unwrap_or(usize::MAX)
                .min(input.len());
            framer.skip -= n as u64;
            if framer.skip == 0 {
                return (n, self.complete(side, packet, ctx));
            }
            return (n, false);
        }
        framer.start.get_or_insert((packet, offset));
        let header = if framer.typed { 5 } else { 4 };
        let mut used = 0;
        // The header first, byte by byte up to its end.
        while framer.buf.len() < header {
            let Some(&b) = input.get(used) else {
                return (used, false);
            };
            framer.buf.push(b);
            used += 1;
        }
        let len_at = header - 4;
        let Some(len) = be32(&framer.buf, len_at) else {
            return (used, false);
        };
        let limit = if framer.typed {
            MAX_MESSAGE
        } else {
            MAX_STARTUP_PACKET
        };
        if len < 4 || len > limit || (!framer.typed && len < 8) {
            framer.lost = true;
            return (used, false);
        }
        let body_len = u64::from(len - 4);
        let have = (framer.buf.len() - header) as u64;
        if have == 0 && used > 0 && side == Side::Client && framer.typed {
            // The header just completed: the guard judges the body by the
            // message's type, whatever follows.
            let kind = framer.buf.first().copied().unwrap_or(0);
            let body_start = framer.start.map_or(offset, |(_, o)| o) + 5;
            secrets.client_message(kind, body_start, body_len, &mut ctx.facts.secret_spans);
        }
        let wanted = body_len - have;
        let room = (MAX_KEPT as u64).saturating_sub(have).min(wanted);
        let rest = input.get(used..).unwrap_or_default();
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(rest.len());
        framer
            .buf
            .extend_from_slice(rest.get(..take).unwrap_or_default());
        used += take;
        let have = (framer.buf.len() - header) as u64;
        if have == body_len {
            return (used, self.complete(side, packet, ctx));
        }
        if have as usize >= MAX_KEPT {
            framer.skip = body_len - have;
        }
        (used, false)
    }

    /// The message in the framer is whole: read it, reset the framer.
    fn complete(&mut self, side: Side, last: PacketRef, ctx: &mut Ctx<'_>) -> bool {
        let framer = &mut self.framers[side];
        let buf = std::mem::take(&mut framer.buf);
        let (packet, start) = framer.start.take().unwrap_or((last, 0));
        let header = if framer.typed { 5 } else { 4 };
        let wire = be32(&buf, header - 4).map_or(buf.len(), |l| l as usize + header - 4);
        ctx.tap_message(side, &buf, wire, packet, start);
        let message = if framer.typed {
            Message {
                kind: buf.first().copied(),
                body: buf.get(5..).unwrap_or_default(),
                packet,
            }
        } else {
            Message {
                kind: None,
                body: buf.get(4..).unwrap_or_default(),
                packet,
            }
        };
        match side {
            Side::Client => self.client_message(&message, ctx),
            Side::Server => {
                self.server_message(&message, ctx);
                false
            }
        }
    }

    /// A client message; true when it asked for an upgrade.
    fn client_message(&mut self, m: &Message<'_>, ctx: &mut Ctx<'_>) -> bool {
        let Some(kind) = m.kind else {
            return self.startup_packet(m, ctx);
        };
        if kind != b'p' || self.done {
            return false;
        }
        let body = m.body;
        let mut text = b"PasswordMessage ".to_vec();
        let shown = text.len();
        text.extend_from_slice(body);
        let evidence = Evidence::new(Side::Client, m.packet, &text).secret_from(shown);
        match self.auth {
            Some(3) => {
                let mut cred = self.credential("PG-PASSWORD", SecretKind::Password);
                cred.secret = cstr(body).to_vec();
                cred.evidence.push(evidence);
                self.replace_login(cred, ctx);
            }
            Some(5) => {
                let mut cred = self.credential("PG-MD5", SecretKind::ChallengeResponse);
                let hash = cstr(body);
                cred.secret = hash.strip_prefix(b"md5").unwrap_or(hash).to_vec();
                cred.challenge = self.salt.map(|s| hex(&s).into_bytes());
                cred.evidence.push(evidence);
                self.replace_login(cred, ctx);
            }
            Some(10) => {
                // SASLInitialResponse: the mechanism's name, then its data.
                let mechanism = sasl_name(cstr(body));
                let mut cred = self.credential(&format!("PG-{mechanism}"), SecretKind::None);
                cred.evidence
                    .push(evidence.secret_from(shown + cstr(body).len()));
                self.replace_login(cred, ctx);
            }
            // SASLResponse, GSSResponse: part of the exchange on record.
            _ => {
                if let Some(login) = self.login.as_mut() {
                    if login.evidence.len() < 8 {
                        login.evidence.push(evidence);
                    }
                }
            }
        }
        false
    }

    /// A startup packet; true for SSLRequest (an upgrade request).
    fn startup_packet(&mut self, m: &Message<'_>, ctx: &mut Ctx<'_>) -> bool {
        let code = be32(m.body, 0).unwrap_or(0);
        match code {
            SSL_REQUEST => {
                self.asked = Asked::Ssl;
                ctx.starttls_requested(Evidence::new(Side::Client, m.packet, b"SSLRequest"));
                true
            }
            GSSENC_REQUEST => {
                self.asked = Asked::Gss;
                false
            }
            CANCEL_REQUEST => false,
            _ if code >> 16 == PROTOCOL_3 >> 16 => {
                self.framers.client.typed = true;
                self.framers.server.typed = true;
                let params = m.body.get(4..).unwrap_or_default();
                let mut text = b"StartupMessage".to_vec();
                let mut words = params.split(|b| *b == 0);
                while let (Some(key), Some(value)) = (words.next(), words.next()) {
                    if key.is_empty() {
                        break;
                    }
                    if key == b"user" {
                        self.user = Some(value.to_vec());
                    }
                    if matches!(key, b"user" | b"database" | b"replication") {
                        text.push(b' ');
                        text.extend_from_slice(key);
                        text.push(b'=');
                        text.extend_from_slice(value);
                    }
                }
                let evidence = Evidence::new(Side::Client, m.packet, &text);
                ctx.facts.sensitive_command.get_or_insert(evidence);
                false
            }
            _ => {
                self.framers.client.lost = true;
                false
            }
        }
    }

    /// The one-byte answer to a request; true when it changes the framing.
    fn answered(&mut self, byte: u8, packet: PacketRef, ctx: &mut Ctx<'_>) -> bool {
        let asked = std::mem::replace(&mut self.asked, Asked::Nothing);
        match (asked, byte) {
            (Asked::Ssl, b'S') => {
                let evidence = Evidence::new(Side::Server, packet, b"S (SSLRequest accepted)");
                self.offer(true, evidence.clone(), ctx);
                ctx.starttls_answered(StarttlsAnswer::Accepted, evidence);
                true
            }
            (Asked::Ssl, _) => {
                let text = format!("{} (SSLRequest refused)", crate::text::escape(&[byte]));
                self.refuse_request(text.as_bytes(), packet, ctx);
                true
            }
            // GSSAPI encryption from here on: nothing more is readable.
            (_, b'G') => {
                ctx.opaque(Side::Client);
                ctx.opaque(Side::Server);
                true
            }
            _ => false,
        }
    }

    fn refuse_request(&mut self, text: &[u8], packet: PacketRef, ctx: &mut Ctx<'_>) {
        self.asked = Asked::Nothing;
        let evidence = Evidence::new(Side::Server, packet, text);
        self.offer(false, evidence.clone(), ctx);
        ctx.starttls_answered(StarttlsAnswer::Rejected, evidence);
    }

    /// The answer to SSLRequest is all PostgreSQL shows of its TLS: it
    /// stands as the session's capability list.
    fn offer(&mut self, starttls: bool, evidence: Evidence, ctx: &mut Ctx<'_>) {
        ctx.facts.add_capabilities(CapabilityList {
            evidence,
            starttls,
            masked_token: None,
            auth_mechanisms: Vec::new(),
            login_disabled: false,
            refused: false,
            items: CapabilityItems::default(),
        });
    }

    fn server_message(&mut self, m: &Message<'_>, ctx: &mut Ctx<'_>) {
        match m.kind {
            Some(b'R') => {
                let code = be32(m.body, 0).unwrap_or(u32::MAX);
                match code {
                    0 => {
                        self.verdict(Outcome::Success, m.packet, b"AuthenticationOk", ctx);
                        self.done = true;
                    }
                    5 => {
                        let salt = m.body.get(4..8).unwrap_or_default();
                        self.salt = salt.try_into().ok();
                    }
                    _ => {}
                }
                self.auth = Some(code);
            }
            Some(b'E') if !self.done => {
                let mut text = b"ErrorResponse".to_vec();
                for field in m.body.split(|b| *b == 0).take(8) {
                    if let (Some(b'C' | b'M'), Some(value)) = (field.first(), field.get(1..)) {
                        text.push(b' ');
                        text.extend_from_slice(value);
                    }
                }
                self.verdict(Outcome::Failure, m.packet, &text, ctx);
            }
            _ => {}
        }
    }

    fn verdict(&mut self, outcome: Outcome, packet: PacketRef, text: &[u8], ctx: &mut Ctx<'_>) {
        if let Some(mut login) = self.login.take() {
            login.outcome = outcome;
            login
                .evidence
                .push(Evidence::new(Side::Server, packet, text));
            ctx.facts.add_credential(login);
        }
    }

    fn credential(&self, mechanism: &str, kind: SecretKind) -> Credential {
        let mut cred = Credential::new(mechanism);
        cred.username = self.user.clone();
        cred.secret_kind = kind;
        cred
    }

    fn replace_login(&mut self, cred: Credential, ctx: &mut Ctx<'_>) {
        if let Some(old) = self.login.replace(cred) {
            ctx.facts.add_credential(old);
        }
    }
}

/// A SASL mechanism's name as RFC 4422 3.1 allows it (at most 20 upper
/// case letters, digits, `-` and `_`); anything else is `SASL`.
fn sasl_name(name: &[u8]) -> String {
    let valid = !name.is_empty()
        && name.len() <= 20
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if valid {
        String::from_utf8_lossy(name).to_ascii_uppercase()
    } else {
        "SASL".to_string()
    }
}

/// The bytes before the first NUL (a C string), or all of them.
fn cstr(bytes: &[u8]) -> &[u8] {
    bytes.split(|b| *b == 0).next().unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "postgres_tests.rs"]
mod tests;
