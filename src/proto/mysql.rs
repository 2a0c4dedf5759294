//! MySQL's and MariaDB's client/server protocol, its connection phase:
//! the server's greeting (protocol 10: version, capability flags, the
//! scramble, the default auth plugin), the client's SSLRequest or
//! HandshakeResponse, AuthSwitchRequest and auth-more-data, up to OK or
//! ERR.
//!
//! Packets are a 3-byte little-endian length and a sequence byte, then the
//! payload. The framing is bounded and `Incomplete`-aware: a packet's
//! header and its first [`MAX_KEPT`] bytes are kept, the rest is counted
//! past; a gap abandons the side (the client's rest masked).
//!
//! Which client bytes are secret is judged by the packet's sequence number
//! and fixed layout alone ([`mysql_client_secret`]), before anything
//! parses it.

use super::dialog::{Ctx, LineMachine};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, Evidence, Outcome, SecretKind, StarttlsAnswer,
};
use super::lines::Line;
use super::secrecy::{MysqlSecret, mysql_client_secret};
use crate::flow::{PacketRef, PerSide, Side};

/// Bytes kept of a packet's payload: a greeting and a HandshakeResponse41
/// without its connection attributes fit (a user name of 32 characters, a
/// database name of 64, both utf8mb3, an auth response of at most 255
/// bytes with a 1-byte length, a plugin name of 64): under 1 KiB. Longer
/// payloads (up to the 2^24 − 1 of the 3-byte length) are counted past.
pub(crate) const MAX_KEPT: usize = 1024;

/// The shortest protocol-10 greeting: 0x0a, a 1-byte version and its NUL,
/// the thread id (4), the scramble's first 8 bytes, a filler, the low
/// capability flags (2).
const MIN_GREETING: u32 = 18;

/// Capability flags (MySQL's `CLIENT_*`).
const CLIENT_CONNECT_WITH_DB: u32 = 0x0008;
const CLIENT_COMPRESS: u32 = 0x0020;
const CLIENT_PROTOCOL_41: u32 = 0x0200;
const CLIENT_SSL: u32 = 0x0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x0020_0000;

/// An SSLRequest is the handshake response's fixed 32 bytes alone.
const SSL_REQUEST_LEN: usize = 32;

/// Packet types of the connection phase (first payload byte).
const OK: u8 = 0x00;
const AUTH_MORE_DATA: u8 = 0x01;
const GREETING_V10: u8 = 0x0a;
const AUTH_SWITCH: u8 = 0xfe;
const ERR: u8 = 0xff;

/// Longest auth plugin name kept (MySQL's `NAME_CHAR_LEN`).
const MAX_PLUGIN_NAME: usize = 64;

fn header(first: &[u8]) -> Option<(u32, u8, u8)> {
    let (&[a, b, c, seq], rest) = first.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes([a, b, c, 0]), seq, *rest.first()?))
}

/// Whether a server's first bytes are a MySQL protocol-10 greeting:
/// sequence 0, a plausible length, 0x0a and a version starting with a
/// digit (MariaDB's `5.5.5-10...` too).
pub(crate) fn is_greeting(first: &[u8]) -> bool {
    let Some((len, seq, kind)) = header(first) else {
        return false;
    };
    let digit = first.get(5).is_some_and(u8::is_ascii_digit);
    seq == 0 && kind == GREETING_V10 && digit && (MIN_GREETING..=MAX_KEPT as u32).contains(&len)
}

/// Whether a server's first bytes are an ERR packet in place of the
/// greeting (host not allowed, too many connections): MySQL only where
/// the port says so.
pub(crate) fn is_error_first(first: &[u8]) -> bool {
    let Some((len, seq, kind)) = header(first) else {
        return false;
    };
    seq == 0 && kind == ERR && (3..=MAX_KEPT as u32).contains(&len)
}

/// The server's first bytes may begin a MySQL packet (a length under
/// 64 KiB, then sequence 0): the driver waits for more to tell.
pub(crate) fn may_be_packet(first: &[u8]) -> bool {
    first.len() < 6 && first.get(2).is_none_or(|b| *b == 0) && first.get(3).is_none_or(|b| *b == 0)
}

/// One direction's framing.
#[derive(Default)]
struct Framer {
    /// The header and the first payload bytes of the packet being read.
    buf: Vec<u8>,
    /// Payload bytes still to count past once [`MAX_KEPT`] are kept.
    skip: u64,
    /// Where the packet began.
    start: Option<(PacketRef, u64)>,
    /// A client packet whose secret part is not placed yet.
    judging: bool,
    /// The framing failed: nothing more is read.
    lost: bool,
}

impl Framer {
    /// Places the secret part of the client packet being read in
    /// `spans`, once its first bytes tell (or `last`: nothing more of it
    /// will be seen).
    fn judge(&mut self, last: bool, ctx: &mut Ctx<'_>) {
        let Some((_, start)) = self.start.filter(|_| self.judging) else {
            return;
        };
        let Some((&[a, b, c, seq], _)) = self.buf.split_first_chunk::<4>() else {
            return;
        };
        let len = u32::from_le_bytes([a, b, c, 0]);
        let head = self.buf.get(4..).unwrap_or_default();
        let len = u64::from(len);
        let more = !last && (head.len() as u64) < len && head.len() < MAX_KEPT;
        let from = match mysql_client_secret(seq, head, len, more) {
            MysqlSecret::NeedMore => return,
            MysqlSecret::Nothing => None,
            MysqlSecret::From(at) => Some(at),
        };
        self.judging = false;
        if let Some(at) = from.filter(|at| *at < len) {
            let body = start + 4;
            let spans = &mut ctx.facts.secret_spans;
            spans.add(Side::Client, body + at, body + len);
        }
    }
}

/// A whole packet (its payload cut at [`MAX_KEPT`]).
struct Packet<'a> {
    seq: u8,
    payload: &'a [u8],
    len: u32,
    packet: PacketRef,
}

/// The MySQL dialog of one session.
#[derive(Default)]
pub(crate) struct MysqlDialog {
    framers: PerSide<Framer>,
    /// The server's first packet was read.
    greeted: bool,
    server_caps: u32,
    /// The greeting's (or the last AuthSwitchRequest's) scramble.
    scramble: Vec<u8>,
    /// The greeting's default auth plugin.
    server_plugin: Option<String>,
    client_caps: u32,
    /// An SSLRequest awaits the client's TLS (or the server's ERR).
    asked: bool,
    /// A HandshakeResponse was read.
    responded: bool,
    user: Option<Vec<u8>>,
    /// The plugin an AuthSwitchRequest asked for, awaiting its response.
    switched: Option<String>,
    /// The credential waiting for the server's verdict.
    login: Option<Credential>,
    /// Authentication is over (OK or ERR): nothing more to learn.
    done: bool,
}

impl LineMachine for MysqlDialog {
    /// MySQL is read as packets ([`MysqlDialog::feed`]), never as lines.
    fn on_line(&mut self, _side: Side, _line: &Line<'_>, _ctx: &mut Ctx<'_>) {}

    fn on_gap(&mut self, side: Side, _len: u64, ctx: &mut Ctx<'_>) {
        // Where the next packet starts is lost.
        let framer = &mut self.framers[side];
        framer.judge(true, ctx);
        framer.lost = true;
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.framers.client.judge(true, ctx);
        if let Some(login) = self.login.take() {
            ctx.facts.add_credential(login);
        }
    }
}

impl MysqlDialog {
    /// Reads `input` of `side` (starting at stream `offset`, carried by
    /// `packet`) up to the end of a packet that changes how the driver
    /// frames the sides (an SSLRequest); returns how many bytes were used.
    pub(crate) fn feed(
        &mut self,
        side: Side,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
        ctx: &mut Ctx<'_>,
    ) -> usize {
        ctx.frame_messages(side, input, offset, |rest, at, ctx| {
            (!self.framers[side].lost).then(|| self.step(side, rest, packet, at, ctx))
        })
    }

    /// Frames one piece: returns the bytes used and whether to stop.
    fn step(
        &mut self,
        side: Side,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
        ctx: &mut Ctx<'_>,
    ) -> (usize, bool) {
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
        let mut used = 0;
        // The header first, byte by byte up to its end.
        while framer.buf.len() < 4 {
            let Some(&b) = input.get(used) else {
                return (used, false);
            };
            framer.buf.push(b);
            used += 1;
            if framer.buf.len() == 4 && side == Side::Client {
                framer.judging = true;
            }
        }
        let Some((&[a, b, c, _], _)) = framer.buf.split_first_chunk::<4>() else {
            return (used, false);
        };
        let len = u64::from(u32::from_le_bytes([a, b, c, 0]));
        let have = (framer.buf.len() - 4) as u64;
        let room = (MAX_KEPT as u64).saturating_sub(have).min(len - have);
        let rest = input.get(used..).unwrap_or_default();
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(rest.len());
        framer
            .buf
            .extend_from_slice(rest.get(..take).unwrap_or_default());
        used += take;
        let have = (framer.buf.len() - 4) as u64;
        framer.judge(false, ctx);
        if have == len {
            return (used, self.complete(side, packet, ctx));
        }
        if have as usize >= MAX_KEPT {
            framer.skip = len - have;
        }
        (used, false)
    }

    /// The packet in the framer is whole: read it, reset the framer.
    fn complete(&mut self, side: Side, last: PacketRef, ctx: &mut Ctx<'_>) -> bool {
        let framer = &mut self.framers[side];
        framer.judge(true, ctx);
        let buf = std::mem::take(&mut framer.buf);
        let (packet, start) = framer.start.take().unwrap_or((last, 0));
        let Some((&[a, b, c, seq], payload)) = buf.split_first_chunk::<4>() else {
            return false;
        };
        let wire = u32::from_le_bytes([a, b, c, 0]) as usize + 4;
        ctx.tap_message(side, &buf, wire, packet, start);
        let p = Packet {
            seq,
            payload,
            len: u32::from_le_bytes([a, b, c, 0]),
            packet,
        };
        match side {
            Side::Client => self.client_packet(&p, ctx),
            Side::Server => {
                self.server_packet(&p, ctx);
                false
            }
        }
    }

    /// A client packet; true when it asked for TLS.
    fn client_packet(&mut self, p: &Packet<'_>, ctx: &mut Ctx<'_>) -> bool {
        if self.done || p.seq == 0 {
            return false;
        }
        if !self.responded {
            let caps = le32(p.payload, 0).unwrap_or(0);
            if p.len as usize == SSL_REQUEST_LEN && caps & CLIENT_SSL != 0 {
                self.asked = true;
                self.client_caps = caps;
                ctx.starttls_requested(Evidence::new(Side::Client, p.packet, b"SSLRequest"));
                return true;
            }
            self.handshake_response(p, ctx);
            return false;
        }
        // AuthSwitchResponse, or more auth data (a public key request, an
        // encrypted or clear password).
        let mut text = b"auth data ".to_vec();
        let shown = text.len();
        text.extend_from_slice(p.payload);
        let evidence = Evidence::new(Side::Client, p.packet, &text).secret_from(shown);
        if let Some(plugin) = self.switched.take() {
            let cred = self.credential(&plugin, p.payload, evidence);
            self.replace_login(cred, ctx);
        } else if let Some(login) = self.login.as_mut() {
            if login.evidence.len() < 8 {
                login.evidence.push(evidence);
            }
        }
        false
    }

    /// HandshakeResponse41 (or 320): the user, the auth response, the
    /// database and the plugin.
    fn handshake_response(&mut self, p: &Packet<'_>, ctx: &mut Ctx<'_>) {
        self.responded = true;
        let body = p.payload;
        let low = u32::from(le16(body, 0).unwrap_or(0));
        let (caps, user_at) = if low & CLIENT_PROTOCOL_41 != 0 {
            (le32(body, 0).unwrap_or(low), SSL_REQUEST_LEN)
        } else {
            (low, 5)
        };
        self.client_caps = caps;
        let user = cstr(body.get(user_at..).unwrap_or_default());
        let mut at = user_at + user.len() + 1;
        let auth: &[u8] = if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            let (n, width) = lenenc(body.get(at..).unwrap_or_default());
            let a = slice(body, at + width, n);
            at = (at + width).saturating_add(n);
            a
        } else if caps & CLIENT_SECURE_CONNECTION != 0 {
            let n = usize::from(body.get(at).copied().unwrap_or(0));
            let a = slice(body, at + 1, n);
            at += 1 + n;
            a
        } else {
            let a = cstr(body.get(at..).unwrap_or_default());
            at += a.len() + 1;
            a
        };
        let mut text = b"HandshakeResponse user=".to_vec();
        text.extend_from_slice(user);
        if caps & CLIENT_CONNECT_WITH_DB != 0 {
            let db = cstr(body.get(at..).unwrap_or_default());
            at = at.saturating_add(db.len() + 1);
            text.extend_from_slice(b" database=");
            text.extend_from_slice(db);
        }
        let named = (caps & CLIENT_PLUGIN_AUTH != 0)
            .then(|| plugin_name(cstr(body.get(at..).unwrap_or_default())))
            .flatten();
        let plugin = named
            .or_else(|| self.server_plugin.clone())
            .unwrap_or_else(|| {
                if caps & CLIENT_SECURE_CONNECTION != 0 {
                    "mysql_native_password".to_string()
                } else {
                    "mysql_old_password".to_string()
                }
            });
        self.user = Some(user.to_vec());
        let sensitive = Evidence::new(Side::Client, p.packet, &text);
        ctx.facts.sensitive_command.get_or_insert(sensitive);
        if auth.is_empty() {
            // "using password: NO": no credential.
            return;
        }
        text.extend_from_slice(b" auth=");
        let shown = text.len();
        text.extend_from_slice(auth);
        let evidence = Evidence::new(Side::Client, p.packet, &text).secret_from(shown);
        let cred = self.credential(&plugin, auth, evidence);
        self.replace_login(cred, ctx);
    }

    /// The credential of `plugin` whose client data is `auth`.
    fn credential(&self, plugin: &str, auth: &[u8], evidence: Evidence) -> Credential {
        let mut cred = Credential::new(&format!("MYSQL-{plugin}"));
        cred.username = self.user.clone();
        match plugin {
            "mysql_native_password" | "mysql_old_password" => {
                cred.secret_kind = SecretKind::ChallengeResponse;
                cred.secret = hex(auth).into_bytes();
                cred.challenge =
                    (!self.scramble.is_empty()).then(|| hex(&self.scramble).into_bytes());
            }
            // The password itself, NUL-terminated (MariaDB's PAM `dialog`
            // sends it so too).
            "mysql_clear_password" | "dialog" => {
                cred.secret_kind = SecretKind::Password;
                cred.secret = cstr(auth).to_vec();
            }
            // caching_sha2_password, sha256_password, ed25519...: recorded.
            _ => {}
        }
        cred.evidence.push(evidence);
        cred
    }

    fn replace_login(&mut self, cred: Credential, ctx: &mut Ctx<'_>) {
        if let Some(old) = self.login.replace(cred) {
            ctx.facts.add_credential(old);
        }
    }

    fn server_packet(&mut self, p: &Packet<'_>, ctx: &mut Ctx<'_>) {
        let first = !std::mem::replace(&mut self.greeted, true);
        match p.payload.first().copied() {
            Some(GREETING_V10) if first => self.greeting(p, ctx),
            _ if first || self.done => {}
            Some(ERR) if self.asked => {
                // A server without TLS read the SSLRequest as a login.
                self.asked = false;
                let text = error_text(p.payload);
                let evidence = Evidence::new(Side::Server, p.packet, &text);
                ctx.starttls_answered(StarttlsAnswer::Rejected, evidence);
            }
            Some(OK) if self.responded => {
                self.verdict(Outcome::Success, p.packet, b"OK", ctx);
                self.done = true;
                if self.client_caps & self.server_caps & CLIENT_COMPRESS != 0 {
                    // Compressed packets from here on: not read.
                    ctx.opaque(Side::Client);
                    ctx.opaque(Side::Server);
                }
            }
            Some(ERR) if self.responded => {
                let text = error_text(p.payload);
                self.verdict(Outcome::Failure, p.packet, &text, ctx);
                self.done = true;
            }
            Some(AUTH_SWITCH) if self.responded => {
                let rest = p.payload.get(1..).unwrap_or_default();
                let name = cstr(rest);
                let plugin = plugin_name(name).unwrap_or_else(|| "mysql_old_password".to_string());
                let data = rest.get(name.len() + 1..).unwrap_or_default();
                self.scramble = data.strip_suffix(b"\0").unwrap_or(data).to_vec();
                if let Some(login) = self.login.as_mut() {
                    let mut text = b"AuthSwitchRequest ".to_vec();
                    text.extend_from_slice(plugin.as_bytes());
                    login
                        .evidence
                        .push(Evidence::new(Side::Server, p.packet, &text));
                }
                self.switched = Some(plugin);
            }
            Some(AUTH_MORE_DATA) | Some(_) | None => {}
        }
    }

    /// The protocol-10 greeting: the version, the capability flags (the
    /// session's offer: CLIENT_SSL), the scramble and the default plugin.
    fn greeting(&mut self, p: &Packet<'_>, ctx: &mut Ctx<'_>) {
        let g = p.payload;
        let version = cstr(g.get(1..).unwrap_or_default());
        let mut at = 1 + version.len() + 1 + 4;
        let part1 = slice(g, at, 8);
        at += 8 + 1;
        let Some(low) = le16(g, at) else {
            return;
        };
        at += 2;
        let high = le16(g, at + 3).unwrap_or(0);
        let data_len = usize::from(g.get(at + 5).copied().unwrap_or(0));
        at += 16;
        self.server_caps = u32::from(low) | u32::from(high) << 16;
        let mut scramble = part1.to_vec();
        if self.server_caps & CLIENT_SECURE_CONNECTION != 0 {
            let n = data_len.saturating_sub(8).max(13);
            let part2 = slice(g, at, n);
            scramble.extend_from_slice(part2.strip_suffix(b"\0").unwrap_or(part2));
            at += n;
        }
        self.scramble = scramble;
        if self.server_caps & CLIENT_PLUGIN_AUTH != 0 {
            self.server_plugin = plugin_name(cstr(g.get(at..).unwrap_or_default()));
        }
        let offered = self.server_caps & CLIENT_SSL != 0;
        let mut text = b"greeting ".to_vec();
        text.extend_from_slice(version);
        text.extend_from_slice(if offered {
            b" (CLIENT_SSL)"
        } else {
            b" (no CLIENT_SSL)"
        });
        ctx.facts.add_capabilities(CapabilityList {
            evidence: Evidence::new(Side::Server, p.packet, &text),
            starttls: offered,
            masked_token: None,
            auth_mechanisms: Vec::new(),
            login_disabled: false,
            refused: false,
            items: CapabilityItems::default(),
        });
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
}

/// `ERR <code> <message>` of an ERR packet.
fn error_text(payload: &[u8]) -> Vec<u8> {
    let code = le16(payload, 1).unwrap_or(0);
    let mut message = payload.get(3..).unwrap_or_default();
    // Protocol 4.1 adds `#` and a 5-character SQL state.
    if message.first() == Some(&b'#') {
        message = message.get(6..).unwrap_or_default();
    }
    let mut text = format!("ERR {code} ").into_bytes();
    text.extend_from_slice(message);
    text
}

/// An auth plugin's name as MySQL spells them (letters, digits, `_`, at
/// most [`MAX_PLUGIN_NAME`]); anything else is none.
fn plugin_name(name: &[u8]) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_PLUGIN_NAME
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    valid.then(|| String::from_utf8_lossy(name).into_owned())
}

/// A length-encoded integer: its value (saturated to `usize`) and width.
fn lenenc(bytes: &[u8]) -> (usize, usize) {
    let width = match bytes.first() {
        Some(0xfc) => 2,
        Some(0xfd) => 3,
        Some(0xfe) => 8,
        Some(&b) => return (usize::from(b), 1),
        None => return (0, 0),
    };
    let mut value: u64 = 0;
    for i in (0..width).rev() {
        value = value << 8 | u64::from(bytes.get(1 + i).copied().unwrap_or(0));
    }
    (usize::try_from(value).unwrap_or(usize::MAX), 1 + width)
}

/// Up to `n` bytes of `bytes` from `at` (fewer when cut).
fn slice(bytes: &[u8], at: usize, n: usize) -> &[u8] {
    let rest = bytes.get(at..).unwrap_or_default();
    rest.get(..n).unwrap_or(rest)
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    let (&b, _) = bytes.get(at..)?.split_first_chunk::<2>()?;
    Some(u16::from_le_bytes(b))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let (&b, _) = bytes.get(at..)?.split_first_chunk::<4>()?;
    Some(u32::from_le_bytes(b))
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
#[path = "mysql_tests.rs"]
mod tests;
