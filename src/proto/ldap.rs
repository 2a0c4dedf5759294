//! LDAP (RFC 4511) up to its StartTLS (RFC 4511 4.14, RFC 4513 3): the
//! client's ExtendedRequest with the StartTLS OID and the server's
//! ExtendedResponse, binds (simple and SASL) with their BindResponses, and
//! the root DSE's `supportedExtension` when a client reads it (the only
//! place LDAP offers StartTLS).
//!
//! Messages are BER (`SEQUENCE { messageID, protocolOp, controls }`, see
//! [`super::ber`]). The framing is bounded and `Incomplete`-aware: a
//! message's first [`MAX_KEPT`] bytes are kept, the rest counted past; a
//! message over [`MAX_MESSAGE`], an indefinite length or a bad header ends
//! the side's reading (an anomaly; the client's rest masked), as does a
//! gap.
//!
//! Which client bytes are secret is judged by BER framing alone
//! ([`ldap_client_secret`]: a BindRequest's authentication choice), before
//! anything parses the message.

use super::ber::{self, BerError, Element, Reader};
use super::dialog::{Ctx, LineMachine};
use super::facts::{
    CapabilityItems, CapabilityList, Credential, DialogAnomalyKind, Evidence, Outcome, SecretKind,
    StarttlsAnswer,
};
use super::lines::Line;
use super::sasl::{self, SaslExchange};
use super::secrecy::{LdapSecret, ldap_client_secret};
use crate::flow::{PacketRef, PerSide, Side};
use base64::Engine as _;

/// Longest LDAP message read: OpenLDAP's default limit on what a bound
/// client may send (`sockbuf_max_incoming_auth`, 4 MiB − 1; anonymous
/// clients get 256 KiB − 1). A longer one ends the side's reading; it is
/// never buffered (only [`MAX_KEPT`] bytes are).
pub(crate) const MAX_MESSAGE: u64 = (1 << 22) - 1;

/// Bytes kept of a message: a bind with a long DN and SASL token, and a
/// root DSE entry (Active Directory's is under 16 KiB), fit.
pub(crate) const MAX_KEPT: usize = 64 * 1024;

/// The StartTLS extended operation (RFC 4511 4.14.1).
pub(crate) const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
/// The notice of disconnection (RFC 4511 4.4.1), unsolicited.
const NOTICE_OF_DISCONNECTION: &[u8] = b"1.3.6.1.4.1.1466.20036";
/// Where the StartTLS OID's last arc starts.
const OID_ARC: &[u8] = b"1.3.6.1.4.1.1466.";

/// Protocol operations (`[APPLICATION n]`).
const BIND_REQUEST: u8 = 0x60;
const BIND_RESPONSE: u8 = 0x61;
const SEARCH_RESULT_ENTRY: u8 = 0x64;
const EXTENDED_REQUEST: u8 = 0x77;
const EXTENDED_RESPONSE: u8 = 0x78;
/// BindRequest's authentication choices, ExtendedRequest's name.
const SIMPLE: u8 = 0x80;
const SASL: u8 = 0xa3;
const REQUEST_NAME: u8 = 0x80;
/// BindResponse's serverSaslCreds.
const SERVER_SASL_CREDS: u8 = 0x87;
/// resultCode saslBindInProgress.
const SASL_BIND_IN_PROGRESS: i64 = 14;

/// Root DSE attributes a middlebox may write a mangled `supportedExtension`
/// next to (RFC 4512 5.1 and the usual operational ones).
const ROOT_DSE_ATTRIBUTES: [&str; 8] = [
    "supportedControl",
    "supportedFeatures",
    "supportedLDAPVersion",
    "supportedSASLMechanisms",
    "namingContexts",
    "subschemaSubentry",
    "altServer",
    "vendorName",
];

/// Whether a side's first bytes begin an LDAPMessage: a SEQUENCE of a
/// plausible definite length, an INTEGER messageID of 1 to 4 bytes, and
/// (when the first 8 bytes reach it) an `[APPLICATION n]` protocolOp. `None`:
/// too few bytes yet to tell.
pub(crate) fn message_start(first: &[u8]) -> Option<bool> {
    match first.first() {
        None => return None,
        Some(0x30) => {}
        Some(_) => return Some(false),
    }
    let h = match ber::header(first) {
        Ok(h) => h,
        Err(BerError::Incomplete) => return None,
        Err(BerError::Invalid) => return Some(false),
    };
    if h.len < 5 || h.len > MAX_MESSAGE {
        return Some(false);
    }
    let rest = first.get(h.size..).unwrap_or_default();
    let (tag, id_len) = match rest {
        [] | [_] => return None,
        [tag, len, ..] => (*tag, *len),
    };
    if tag != 0x02 || !(1..=4).contains(&id_len) {
        return Some(false);
    }
    match rest.get(2 + usize::from(id_len)) {
        // The driver's probe is 8 bytes: what it shows is LDAP's.
        None if first.len() >= 8 => Some(true),
        None => None,
        Some(op) => Some(op & 0xc0 == 0x40 && op & 0x1f <= 25),
    }
}

/// One direction's framing.
#[derive(Default)]
struct Framer {
    /// The message's header and its first bytes (at most [`MAX_KEPT`]).
    buf: Vec<u8>,
    /// The message's whole length, once its header is read.
    total: Option<u64>,
    /// Bytes of it seen so far.
    seen: u64,
    /// Where the message began.
    start: Option<(PacketRef, u64)>,
    /// A client message whose secret part is not placed yet.
    judging: bool,
    /// The framing failed: nothing more is read.
    lost: bool,
}

impl Framer {
    /// Places the secret part of the client message being read, once its
    /// first bytes tell (or `last`: nothing more of it will be seen).
    fn judge(&mut self, last: bool, ctx: &mut Ctx<'_>) {
        let Some((_, start)) = self.start.filter(|_| self.judging) else {
            return;
        };
        let more = !last && self.total.is_some_and(|t| self.seen < t) && self.buf.len() < MAX_KEPT;
        let (from, to) = match ldap_client_secret(&self.buf, more) {
            LdapSecret::NeedMore => return,
            LdapSecret::Nothing => {
                self.judging = false;
                return;
            }
            LdapSecret::Span(from, to) => (from, to),
        };
        self.judging = false;
        if from < to {
            let spans = &mut ctx.facts.secret_spans;
            spans.add(
                Side::Client,
                start.saturating_add(from),
                start.saturating_add(to),
            );
        }
    }
}

/// A bind waiting for its BindResponse.
enum Bind {
    Simple(Credential),
    Sasl(SaslExchange),
}

/// The LDAP dialog of one session.
#[derive(Default)]
pub(crate) struct LdapDialog {
    framers: PerSide<Framer>,
    /// The StartTLS request's messageID, awaiting its response.
    asked: Option<i64>,
    /// The bind in progress and its messageID.
    bind: Option<Bind>,
    /// The SASL mechanism of the bind in progress (a later BindRequest
    /// with the same one continues it).
    mechanism: Vec<u8>,
}

impl LineMachine for LdapDialog {
    /// LDAP is read as messages ([`LdapDialog::feed`]), never as lines.
    fn on_line(&mut self, _side: Side, _line: &Line<'_>, _ctx: &mut Ctx<'_>) {}

    fn on_gap(&mut self, side: Side, _len: u64, ctx: &mut Ctx<'_>) {
        let framer = &mut self.framers[side];
        framer.judge(true, ctx);
        framer.lost = true;
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.framers.client.judge(true, ctx);
        self.settle(Outcome::Unknown, None, ctx);
    }
}

impl LdapDialog {
    /// Reads `input` of `side` (starting at stream `offset`, carried by
    /// `packet`) up to the end of a message that changes how the driver
    /// frames the sides (a StartTLS request or its answer); returns how
    /// many bytes were used.
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
        framer.start.get_or_insert((packet, offset));
        let mut used = 0;
        // The header first, byte by byte up to its end.
        while framer.total.is_none() {
            let Some(&b) = input.get(used) else {
                return (used, false);
            };
            framer.buf.push(b);
            framer.seen += 1;
            used += 1;
            match ber::header(&framer.buf) {
                Ok(h) if h.tag == 0x30 && h.len <= MAX_MESSAGE => {
                    framer.total = Some(h.total());
                    framer.judging = side == Side::Client;
                }
                Err(BerError::Incomplete) => {}
                Ok(_) | Err(BerError::Invalid) => {
                    framer.lost = true;
                    let mut text = b"unreadable LDAP message header ".to_vec();
                    text.extend_from_slice(hex(&framer.buf).as_bytes());
                    let evidence = Evidence::new(side, packet, &text);
                    ctx.facts
                        .anomaly(DialogAnomalyKind::LdapUnreadableMessage, evidence);
                    if side == Side::Client {
                        let at = framer.start.map_or(offset, |(_, at)| at);
                        let spans = &mut ctx.facts.secret_spans;
                        spans.add(side, at, offset + used as u64);
                    }
                    return (used, false);
                }
            }
        }
        let total = framer.total.unwrap_or(0);
        let want = usize::try_from(total - framer.seen.min(total)).unwrap_or(usize::MAX);
        let take = want.min(input.len() - used);
        let room = MAX_KEPT.saturating_sub(framer.buf.len()).min(take);
        let rest = input.get(used..).unwrap_or_default();
        framer
            .buf
            .extend_from_slice(rest.get(..room).unwrap_or_default());
        framer.seen += take as u64;
        used += take;
        framer.judge(false, ctx);
        if framer.seen >= total {
            return (used, self.complete(side, packet, ctx));
        }
        (used, false)
    }

    /// The message in the framer is whole: read it, reset the framer.
    fn complete(&mut self, side: Side, last: PacketRef, ctx: &mut Ctx<'_>) -> bool {
        let framer = &mut self.framers[side];
        framer.judge(true, ctx);
        let buf = std::mem::take(&mut framer.buf);
        let (packet, start) = framer.start.take().unwrap_or((last, 0));
        let wire = framer
            .total
            .map_or(buf.len(), |t| usize::try_from(t).unwrap_or(usize::MAX));
        *framer = Framer::default();
        ctx.tap_message(side, &buf, wire, packet, start);
        let mut outer = Reader::new(&buf, 0);
        let Some(message) = outer.next_element() else {
            return false;
        };
        let mut fields = Reader::inside(&message);
        let id = fields.next_element().and_then(|e| ber::integer(e.contents));
        let (Some(id), Some(op)) = (id, fields.next_element()) else {
            return false;
        };
        match side {
            Side::Client => self.client_message(id, &op, packet, ctx),
            Side::Server => self.server_message(id, &op, packet, ctx),
        }
    }

    /// A client message; true when it asked for StartTLS.
    fn client_message(
        &mut self,
        id: i64,
        op: &Element<'_>,
        packet: PacketRef,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        match op.tag {
            EXTENDED_REQUEST => {
                let mut fields = Reader::inside(op);
                let name = fields.next_element().filter(|e| e.tag == REQUEST_NAME);
                if name.is_some_and(|n| n.contents == STARTTLS_OID) {
                    self.asked = Some(id);
                    let mut text = b"ExtendedRequest ".to_vec();
                    text.extend_from_slice(STARTTLS_OID);
                    ctx.starttls_requested(Evidence::new(Side::Client, packet, &text));
                    return true;
                }
                false
            }
            BIND_REQUEST => {
                self.bind_request(op, packet, ctx);
                false
            }
            _ => false,
        }
    }

    /// A BindRequest: a simple bind with a password, or a SASL step.
    fn bind_request(&mut self, op: &Element<'_>, packet: PacketRef, ctx: &mut Ctx<'_>) {
        let mut fields = Reader::inside(op);
        let _version = fields.next_element();
        let name = fields
            .next_element()
            .map(|e| e.contents)
            .unwrap_or_default();
        let Some(auth) = fields.next_element() else {
            return;
        };
        let mut text = b"BindRequest name=".to_vec();
        text.extend_from_slice(name);
        match auth.tag {
            SIMPLE => {
                self.settle(Outcome::Unknown, None, ctx);
                if auth.contents.is_empty() {
                    // Anonymous or unauthenticated (RFC 4513 5.1.1, 5.1.2):
                    // no credential.
                    return;
                }
                ctx.facts
                    .sensitive_command
                    .get_or_insert_with(|| Evidence::new(Side::Client, packet, &text));
                text.extend_from_slice(b" simple=");
                let shown = text.len();
                text.extend_from_slice(auth.contents);
                let mut cred = Credential::new("LDAP-SIMPLE");
                cred.username = Some(name.to_vec());
                cred.secret_kind = SecretKind::Password;
                cred.secret = auth.contents.to_vec();
                let evidence = Evidence::new(Side::Client, packet, &text).secret_from(shown);
                cred.evidence.push(evidence);
                self.bind = Some(Bind::Simple(cred));
            }
            SASL => {
                let mut sasl_fields = Reader::inside(&auth);
                let mechanism = sasl_fields
                    .next_element()
                    .map(|e| e.contents)
                    .unwrap_or_default();
                let mechanism = mechanism.get(..sasl::MAX_MECHANISM).unwrap_or(mechanism);
                let creds = sasl_fields.next_element().map(|e| encode(e.contents));
                text.extend_from_slice(b" sasl ");
                text.extend_from_slice(mechanism);
                ctx.facts
                    .sensitive_command
                    .get_or_insert_with(|| Evidence::new(Side::Client, packet, &text));
                text.push(b' ');
                let shown = text.len();
                text.extend_from_slice(creds.as_deref().unwrap_or_default());
                let evidence = Evidence::new(Side::Client, packet, &text).secret_from(shown);
                let same = self.mechanism.eq_ignore_ascii_case(mechanism);
                match self.bind.as_mut() {
                    Some(Bind::Sasl(exchange)) if same && exchange.awaiting_response() => {
                        exchange.on_response(creds.as_deref().unwrap_or_default(), evidence);
                    }
                    _ => {
                        self.settle(Outcome::Unknown, None, ctx);
                        self.mechanism = mechanism.to_vec();
                        let exchange = SaslExchange::new(mechanism, creds.as_deref(), evidence);
                        self.bind = Some(Bind::Sasl(exchange));
                    }
                }
            }
            _ => {
                // Another choice (Microsoft's sicily): secret, not read.
                self.settle(Outcome::Unknown, None, ctx);
            }
        }
    }

    /// The bind in progress ends (`verdict`: the BindResponse).
    fn settle(&mut self, outcome: Outcome, verdict: Option<Evidence>, ctx: &mut Ctx<'_>) {
        let cred = match self.bind.take() {
            Some(Bind::Simple(mut cred)) => {
                cred.outcome = outcome;
                cred.evidence.extend(verdict);
                Some(cred)
            }
            Some(Bind::Sasl(exchange)) => exchange.finish(outcome, verdict),
            None => None,
        };
        self.mechanism.clear();
        if let Some(cred) = cred {
            ctx.facts.add_credential(cred);
        }
    }

    /// A server message; true when it answered StartTLS.
    fn server_message(
        &mut self,
        id: i64,
        op: &Element<'_>,
        packet: PacketRef,
        ctx: &mut Ctx<'_>,
    ) -> bool {
        let mut fields = Reader::inside(op);
        match op.tag {
            EXTENDED_RESPONSE => {
                let Some(asked) = self.asked else {
                    return false;
                };
                // The response to the request, or a notice of
                // disconnection in its place.
                let code = fields.next_element().and_then(|e| ber::integer(e.contents));
                let name = (&mut fields)
                    .skip(2)
                    .find(|e| e.tag == 0x8a)
                    .map(|e| e.contents);
                if id != asked && !(id == 0 && name == Some(NOTICE_OF_DISCONNECTION)) {
                    return false;
                }
                self.asked = None;
                let code = code.unwrap_or(-1);
                let text = format!("ExtendedResponse resultCode {code}");
                let evidence = Evidence::new(Side::Server, packet, text.as_bytes());
                let answer = if code == 0 && id == asked {
                    StarttlsAnswer::Accepted
                } else {
                    StarttlsAnswer::Rejected
                };
                ctx.starttls_answered(answer, evidence);
                true
            }
            BIND_RESPONSE => {
                let code = fields.next_element().and_then(|e| ber::integer(e.contents));
                let code = code.unwrap_or(-1);
                let server_creds = (&mut fields)
                    .skip(2)
                    .find(|e| e.tag == SERVER_SASL_CREDS)
                    .map(|e| encode(e.contents));
                let text = format!("BindResponse resultCode {code}");
                let evidence = Evidence::new(Side::Server, packet, text.as_bytes());
                if code == SASL_BIND_IN_PROGRESS {
                    if let Some(Bind::Sasl(exchange)) = self.bind.as_mut() {
                        exchange
                            .on_challenge(server_creds.as_deref().unwrap_or_default(), evidence);
                    }
                    return false;
                }
                let outcome = if code == 0 {
                    Outcome::Success
                } else {
                    Outcome::Failure
                };
                self.settle(outcome, Some(evidence), ctx);
                false
            }
            SEARCH_RESULT_ENTRY => {
                root_dse(&mut fields, packet, ctx);
                false
            }
            _ => false,
        }
    }
}

/// A SearchResultEntry: when it is the root DSE (the empty DN, RFC 4512
/// 5.1) and lists `supportedExtension`, the session's offer.
fn root_dse(fields: &mut Reader<'_>, packet: PacketRef, ctx: &mut Ctx<'_>) {
    let Some(dn) = fields.next_element() else {
        return;
    };
    let Some(attributes) = fields.next_element().filter(|_| dn.contents.is_empty()) else {
        return;
    };
    let mut list = CapabilityList {
        evidence: Evidence::new(Side::Server, packet, b"root DSE"),
        starttls: false,
        masked_token: None,
        auth_mechanisms: Vec::new(),
        login_disabled: false,
        refused: false,
        items: CapabilityItems::default(),
    };
    let mut text = b"root DSE supportedExtension:".to_vec();
    let mut read = false;
    for attribute in Reader::inside(&attributes) {
        let mut parts = Reader::inside(&attribute);
        let (Some(kind), Some(values)) = (parts.next_element(), parts.next_element()) else {
            continue;
        };
        let name = kind.contents;
        let extensions = name.eq_ignore_ascii_case(b"supportedExtension");
        let mangled = !extensions
            && super::words::is_stripped_token(name, "supportedExtension", &ROOT_DSE_ATTRIBUTES);
        let mechanisms = name.eq_ignore_ascii_case(b"supportedSASLMechanisms");
        for value in Reader::inside(&values) {
            let v = value.contents;
            if mechanisms {
                list.auth_mechanisms.push(sasl::canonical_mechanism(v));
            }
            if !(extensions || mangled) {
                continue;
            }
            list.items.note(v);
            text.push(b' ');
            text.extend_from_slice(v);
            if extensions && v == STARTTLS_OID {
                list.starttls = true;
            } else if mangled && v == STARTTLS_OID || extensions && is_mangled_oid(v) {
                let mut shown = b"supportedExtension value ".to_vec();
                if mangled {
                    shown = name.to_vec();
                    shown.push(b' ');
                }
                shown.extend_from_slice(v);
                list.masked_token = Some(Evidence::new(Side::Server, packet, &shown));
            }
        }
        // A set cut short may have held the OID further on.
        read |= (extensions || mangled) && !values.cut;
        if values.cut {
            break;
        }
    }
    if read || list.starttls || list.masked_token.is_some() {
        list.evidence = Evidence::new(Side::Server, packet, &text);
        ctx.facts.add_capabilities(list);
    }
}

/// A value standing where the StartTLS OID was: as long as it, its
/// `1.3.6.1.4.1.1466.` intact and its last arc overwritten (not the
/// notice of disconnection's), or masked whole (`XXXX...`).
fn is_mangled_oid(v: &[u8]) -> bool {
    if v.len() != STARTTLS_OID.len() || v == STARTTLS_OID || v == NOTICE_OF_DISCONNECTION {
        return false;
    }
    v.starts_with(OID_ARC) || super::words::is_masked_token(v, STARTTLS_OID.len(), &[])
}

/// SASL data as the mail path's base64 text (LDAP carries it raw); over
/// [`sasl::MAX_DECODED`] bytes, a text that decodes to nothing, so that
/// nothing is guessed from a cut message.
fn encode(raw: &[u8]) -> Vec<u8> {
    if raw.len() > sasl::MAX_DECODED {
        return b"!".to_vec();
    }
    if raw.is_empty() {
        return b"=".to_vec();
    }
    base64::engine::general_purpose::STANDARD
        .encode(raw)
        .into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "ldap_tests.rs"]
mod tests;
