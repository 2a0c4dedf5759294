//! XMPP (RFC 6120) up to TLS: the streams' headers, the server's
//! `<stream:features>` (its `<starttls>`, `<required/>` and SASL
//! mechanisms), the client's `<starttls/>` with its `<proceed/>` or
//! `<failure/>`, and SASL's `<auth>`, `<challenge>`, `<response>`,
//! `<abort/>`, `<success>` and `<failure>`.
//!
//! Not an XML parser: a bounded tag scanner per direction, fed bytes as
//! they come (a tag or a text split anywhere waits for its end), that
//! knows names with or without a prefix, attributes in single or double
//! quotes, the `<?xml ...?>` prolog and whitespace between stanzas. A tag
//! is kept up to [`MAX_TAG`] bytes and an element's text (only where it
//! is read) up to [`MAX_TEXT`]; the rest is counted past. What is secret
//! in the client's bytes is the [`SecretGuard`]'s decision, by the tags
//! alone.

use super::dialog::{Ctx, LineMachine};
use super::facts::{CapabilityItems, CapabilityList, Evidence, Outcome, StarttlsAnswer};
use super::lines::Line;
use super::sasl::{self, SaslExchange};
use super::secrecy::{SecretGuard, local_name};
use super::words::is_stripped_token;
use crate::flow::{PacketRef, PerSide, Side};

/// Longest tag kept, its name and attributes (a stream header is a few
/// hundred bytes; RFC 6120 sets no limit, so past it the tag is counted).
pub(crate) const MAX_TAG: usize = 1024;

/// Longest element text kept: SASL's base64 ([`sasl::MAX_BASE64`]).
pub(crate) const MAX_TEXT: usize = sasl::MAX_BASE64;

/// SASL mechanisms kept from one `<mechanisms>` list.
const MAX_MECHANISMS: usize = 32;

/// RFC 6120's namespaces of STARTTLS (5.4) and SASL (6.4).
const TLS_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-tls";
const SASL_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-sasl";
/// The streams namespace (RFC 6120 4.8.1), of `<stream:error>`.
const STREAMS_NS: &[u8] = b"http://etherx.jabber.org/streams";

/// One direction's scanner.
#[derive(Default)]
struct Scanner {
    /// Inside a tag (after `<`), and the quote open in it.
    in_tag: bool,
    quote: Option<u8>,
    /// The tag's bytes after `<`, up to [`MAX_TAG`].
    tag: Vec<u8>,
    /// The packet and stream offset of the tag's `<`.
    tag_packet: Option<PacketRef>,
    tag_offset: u64,
    /// The element whose text is read: its start tag, as evidence.
    reading: Option<Evidence>,
    text: Vec<u8>,
    /// Lost bytes: nothing is read before the next `<`.
    lost: bool,
}

/// A whole tag.
struct Tag<'a> {
    /// The name as written, with its prefix.
    name: &'a [u8],
    attrs: &'a [u8],
    end: bool,
    /// Self-closing (`<proceed/>`).
    empty: bool,
    evidence: Evidence,
}

impl Tag<'_> {
    fn local(&self) -> &[u8] {
        local_name(self.name)
    }

    fn xmlns(&self) -> Option<&[u8]> {
        attribute(self.attrs, b"xmlns")
    }
}

/// The `<stream:features>` being read.
struct Features {
    evidence: Evidence,
    starttls: bool,
    masked: Option<Evidence>,
    mechanisms: Vec<String>,
    items: CapabilityItems,
    /// Child elements open inside it.
    depth: u32,
    in_starttls: bool,
}

/// The XMPP dialog of one session.
#[derive(Default)]
pub(crate) struct XmppDialog {
    scanners: PerSide<Scanner>,
    features: Option<Features>,
    /// `<starttls/>` awaits its answer.
    asked: bool,
    /// A client element in the TLS namespace whose name a middlebox
    /// overwrote (`<XXXXXXXX xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`).
    overwritten: Option<Evidence>,
    auth: Option<SaslExchange>,
    /// The mechanism of the `<auth>` being read (at most
    /// [`sasl::MAX_MECHANISM`] bytes).
    mechanism: Vec<u8>,
    /// SASL succeeded: later features (a new stream's) decide nothing.
    authenticated: bool,
}

impl LineMachine for XmppDialog {
    /// XMPP is read as tags ([`XmppDialog::feed`]), never as lines.
    fn on_line(&mut self, _side: Side, _line: &Line<'_>, _ctx: &mut Ctx<'_>) {}

    fn on_gap(&mut self, side: Side, _len: u64, _ctx: &mut Ctx<'_>) {
        let scanner = &mut self.scanners[side];
        *scanner = Scanner {
            lost: true,
            ..Scanner::default()
        };
        if side == Side::Server {
            self.features = None;
            if let Some(auth) = self.auth.as_mut() {
                auth.on_server_gap();
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.end_features(ctx);
        self.settle(Outcome::Unknown, None, ctx);
    }
}

impl XmppDialog {
    /// Reads `input` of `side` (at stream `offset`, carried by `packet`)
    /// up to the end of a tag that changes how the driver frames the
    /// sides (`<starttls/>`, its answer); returns how many bytes were
    /// used. The guard sees every client byte used, once.
    pub(crate) fn feed(
        &mut self,
        side: Side,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
        secrets: &mut SecretGuard,
        ctx: &mut Ctx<'_>,
    ) -> usize {
        let used = self.scan(side, input, packet, offset, ctx);
        if side == Side::Client {
            let seen = input.get(..used).unwrap_or(input);
            secrets.client_xml(seen, offset, &mut ctx.facts.secret_spans);
        }
        used
    }

    fn scan(
        &mut self,
        side: Side,
        input: &[u8],
        packet: PacketRef,
        offset: u64,
        ctx: &mut Ctx<'_>,
    ) -> usize {
        for (i, &b) in input.iter().enumerate() {
            let s = &mut self.scanners[side];
            if !s.in_tag {
                if b == b'<' {
                    s.lost = false;
                    s.in_tag = true;
                    s.quote = None;
                    s.tag.clear();
                    s.tag_packet = Some(packet);
                    s.tag_offset = offset + i as u64;
                } else if s.reading.is_some() && !s.lost && s.text.len() < MAX_TEXT {
                    s.text.push(b);
                }
                continue;
            }
            match (s.quote, b) {
                (Some(q), _) if q == b => s.quote = None,
                (_, b'<') => {
                    // No `<` in a tag: the broken one is dropped.
                    s.tag.clear();
                    s.quote = None;
                    s.tag_packet = Some(packet);
                    s.tag_offset = offset + i as u64;
                    continue;
                }
                (None, b'\'' | b'"') => s.quote = Some(b),
                (None, b'>') => {
                    s.in_tag = false;
                    let raw = std::mem::take(&mut s.tag);
                    let at = s.tag_packet.take().unwrap_or(packet);
                    ctx.tap_message(side, &raw, raw.len(), at, s.tag_offset);
                    if self.on_tag(side, &raw, at, ctx) {
                        return i + 1;
                    }
                    continue;
                }
                _ => {}
            }
            if s.tag.len() < MAX_TAG {
                s.tag.push(b);
            }
        }
        input.len()
    }

    /// A whole tag (`raw`: its bytes between `<` and `>`); true when it
    /// changes the framing.
    fn on_tag(&mut self, side: Side, raw: &[u8], packet: PacketRef, ctx: &mut Ctx<'_>) -> bool {
        let Some(tag) = parse_tag(side, raw, packet) else {
            return false;
        };
        match side {
            Side::Client => self.client_tag(&tag, ctx),
            Side::Server => {
                if self.features.is_some() {
                    self.feature_tag(&tag, ctx);
                    return false;
                }
                self.server_tag(&tag, ctx)
            }
        }
    }

    fn client_tag(&mut self, tag: &Tag<'_>, ctx: &mut Ctx<'_>) -> bool {
        let local = tag.local();
        if tag.end {
            match local {
                b"auth" => self.auth_read(ctx),
                b"response" => self.response_read(),
                _ => {}
            }
            return false;
        }
        let tls_ns = tag.xmlns() == Some(TLS_NS);
        match local {
            b"starttls" if tls_ns || tag.xmlns().is_none() => {
                self.asked = true;
                ctx.starttls_requested(tag.evidence.clone());
                return true;
            }
            _ if tls_ns && is_stripped_token(local, "starttls", &["proceed", "failure"]) => {
                self.overwritten = Some(tag.evidence.clone());
            }
            b"auth" | b"iq" | b"message" | b"presence" => {
                ctx.facts
                    .sensitive_command
                    .get_or_insert_with(|| tag.evidence.clone());
            }
            _ => {}
        }
        match local {
            b"auth" => {
                let mechanism = attribute(tag.attrs, b"mechanism").unwrap_or_default();
                let kept = mechanism.get(..sasl::MAX_MECHANISM).unwrap_or(mechanism);
                self.mechanism = kept.to_vec();
                self.read_text(Side::Client, tag);
                if tag.empty {
                    self.auth_read(ctx);
                }
            }
            b"response" => {
                self.read_text(Side::Client, tag);
                if tag.empty {
                    self.response_read();
                }
            }
            b"abort" => {
                if let Some(auth) = self.auth.as_mut() {
                    auth.on_response(b"*", tag.evidence.clone());
                }
            }
            _ => {}
        }
        false
    }

    /// `<auth mechanism='...'>` was read to its end: a new exchange.
    fn auth_read(&mut self, ctx: &mut Ctx<'_>) {
        let Some((start, text)) = self.take_text(Side::Client) else {
            return;
        };
        self.settle(Outcome::Unknown, None, ctx);
        let mechanism = std::mem::take(&mut self.mechanism);
        let text = text.trim_ascii();
        // No text: no initial response (RFC 6120 6.4.2; `=` is an empty one).
        let initial = (!text.is_empty()).then_some(text);
        let evidence = element_evidence(start, text);
        self.auth = Some(SaslExchange::new(&mechanism, initial, evidence));
    }

    fn response_read(&mut self) {
        let Some((start, text)) = self.take_text(Side::Client) else {
            return;
        };
        let text = text.trim_ascii();
        let evidence = element_evidence(start, text);
        if let Some(auth) = self.auth.as_mut() {
            auth.on_response(text, evidence);
        }
    }

    /// A stream error or the stream's end where the answer to STARTTLS (or
    /// to a command that stands where it was) was due: a refusal.
    fn refused_by_stream(&mut self, tag: &Tag<'_>, ctx: &mut Ctx<'_>) -> bool {
        if let Some(command) = self.overwritten.take() {
            ctx.facts
                .tampered_command
                .get_or_insert((command, Some(tag.evidence.clone())));
            return false;
        }
        if !self.asked {
            return false;
        }
        self.asked = false;
        ctx.starttls_answered(StarttlsAnswer::Rejected, tag.evidence.clone());
        true
    }

    fn server_tag(&mut self, tag: &Tag<'_>, ctx: &mut Ctx<'_>) -> bool {
        let local = tag.local();
        if tag.end {
            if local == b"challenge" {
                self.challenge_read();
            }
            // The stream closed instead of an answer (RFC 6120 4.4).
            if local == b"stream" {
                return self.refused_by_stream(tag, ctx);
            }
            return false;
        }
        let ns = tag.xmlns();
        // A stream error in answer to STARTTLS, or to an overwritten one
        // (RFC 6120 4.9: `<stream:error>`, then the stream closes).
        if tag.name == b"stream:error" || (local == b"error" && ns == Some(STREAMS_NS)) {
            return self.refused_by_stream(tag, ctx);
        }
        match local {
            b"stream" => {
                ctx.facts
                    .greeting
                    .get_or_insert_with(|| tag.evidence.clone());
            }
            b"features" if !self.authenticated => {
                self.features = Some(Features {
                    evidence: tag.evidence.clone(),
                    starttls: false,
                    masked: None,
                    mechanisms: Vec::new(),
                    items: CapabilityItems::default(),
                    depth: 0,
                    in_starttls: false,
                });
                if tag.empty {
                    self.end_features(ctx);
                }
            }
            b"proceed" if self.asked || ns == Some(TLS_NS) => {
                self.asked = false;
                ctx.starttls_answered(StarttlsAnswer::Accepted, tag.evidence.clone());
                return true;
            }
            b"failure" if ns == Some(TLS_NS) || (self.asked && ns != Some(SASL_NS)) => {
                self.asked = false;
                if let Some(command) = self.overwritten.take() {
                    ctx.facts
                        .tampered_command
                        .get_or_insert((command, Some(tag.evidence.clone())));
                    return false;
                }
                ctx.starttls_answered(StarttlsAnswer::Rejected, tag.evidence.clone());
                return true;
            }
            b"failure" => self.settle(Outcome::Failure, Some(tag.evidence.clone()), ctx),
            b"success" => {
                self.authenticated = true;
                self.settle(Outcome::Success, Some(tag.evidence.clone()), ctx);
            }
            b"challenge" => {
                self.read_text(Side::Server, tag);
                if tag.empty {
                    self.challenge_read();
                }
            }
            _ => {}
        }
        false
    }

    fn challenge_read(&mut self) {
        let Some((start, text)) = self.take_text(Side::Server) else {
            return;
        };
        let text = text.trim_ascii();
        let evidence = element_evidence(start, text);
        if let Some(auth) = self.auth.as_mut() {
            auth.on_challenge(text, evidence);
        }
    }

    /// A server tag inside `<stream:features>`.
    fn feature_tag(&mut self, tag: &Tag<'_>, ctx: &mut Ctx<'_>) {
        let local = tag.local();
        let text = if tag.end && local == b"mechanism" {
            self.take_text(Side::Server).map(|(_, t)| t)
        } else {
            None
        };
        let Some(f) = self.features.as_mut() else {
            return;
        };
        if tag.end {
            match (f.depth, local) {
                (0, b"features") => self.end_features(ctx),
                (0, _) => {}
                (_, b"mechanism") => {
                    let name = sasl::canonical_mechanism(&text.unwrap_or_default());
                    if !name.is_empty() && f.mechanisms.len() < MAX_MECHANISMS {
                        f.mechanisms.push(name);
                    }
                    f.depth = f.depth.saturating_sub(1);
                }
                (_, _) => {
                    if local == b"starttls" {
                        f.in_starttls = false;
                    }
                    f.depth = f.depth.saturating_sub(1);
                }
            }
            return;
        }
        if f.depth == 0 {
            f.items.note(tag.name);
            if local == b"starttls" {
                f.starttls = true;
                f.in_starttls = !tag.empty;
            } else if f.masked.is_none()
                && (tag.xmlns() == Some(TLS_NS) || is_stripped_token(local, "starttls", &[]))
            {
                f.masked = Some(tag.evidence.clone());
            }
        } else if f.in_starttls && local == b"required" {
            f.items.note(b"starttls required");
        }
        if !tag.empty {
            f.depth = f.depth.saturating_add(1);
            if local == b"mechanism" {
                self.read_text(Side::Server, tag);
            }
        }
    }

    /// The features ended (or the capture did): they are the session's
    /// capability list.
    fn end_features(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(f) = self.features.take() {
            ctx.facts.add_capabilities(CapabilityList {
                evidence: f.evidence,
                starttls: f.starttls,
                masked_token: f.masked,
                auth_mechanisms: f.mechanisms,
                login_disabled: false,
                refused: false,
                items: f.items,
            });
        }
    }

    /// The SASL exchange ends with `outcome`.
    fn settle(&mut self, outcome: Outcome, verdict: Option<Evidence>, ctx: &mut Ctx<'_>) {
        if let Some(auth) = self.auth.take() {
            if let Some(cred) = auth.finish(outcome, verdict) {
                ctx.facts.add_credential(cred);
            }
        }
    }

    /// The text of the element `tag` opens is read.
    fn read_text(&mut self, side: Side, tag: &Tag<'_>) {
        let s = &mut self.scanners[side];
        s.reading = Some(tag.evidence.clone());
        s.text.clear();
    }

    fn take_text(&mut self, side: Side) -> Option<(Evidence, Vec<u8>)> {
        let s = &mut self.scanners[side];
        let start = s.reading.take()?;
        Some((start, std::mem::take(&mut s.text)))
    }
}

/// Parses a tag's bytes (between `<` and `>`); `None` for the prolog, a
/// comment or a declaration, or an empty tag.
fn parse_tag(side: Side, raw: &[u8], packet: PacketRef) -> Option<Tag<'_>> {
    if matches!(raw.first(), None | Some(b'?' | b'!')) {
        return None;
    }
    let (end, body) = match raw.strip_prefix(b"/") {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let empty = body.last() == Some(&b'/');
    let body = if empty {
        body.get(..body.len() - 1).unwrap_or_default()
    } else {
        body
    };
    let n = name_len(body);
    let mut text = Vec::with_capacity(raw.len() + 2);
    text.push(b'<');
    text.extend_from_slice(raw);
    text.push(b'>');
    Some(Tag {
        name: body.get(..n)?,
        attrs: body.get(n..).unwrap_or_default(),
        end,
        empty,
        evidence: Evidence::new(side, packet, &text),
    })
}

/// The length of the name a tag's bytes start with.
fn name_len(body: &[u8]) -> usize {
    body.iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/')
        .unwrap_or(body.len())
}

/// The value of attribute `key` (its name as written, prefix included)
/// in a tag's attributes, single or double quoted.
fn attribute<'a>(attrs: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_ascii_start();
        let eq = rest.iter().position(|b| *b == b'=')?;
        let name = rest.get(..eq)?.trim_ascii();
        let after = rest.get(eq + 1..)?.trim_ascii_start();
        let quote = *after.first()?;
        if !matches!(quote, b'\'' | b'"') {
            return None;
        }
        let value_and_rest = after.get(1..)?;
        let close = value_and_rest.iter().position(|b| *b == quote)?;
        if name == key {
            return value_and_rest.get(..close);
        }
        rest = value_and_rest.get(close + 1..)?;
    }
}

/// An element's evidence: its start tag, then its text, secret.
fn element_evidence(start: Evidence, text: &[u8]) -> Evidence {
    let shown = start.bytes.len();
    let mut bytes = start.bytes;
    bytes.extend_from_slice(text);
    Evidence::new(start.side, start.packet, &bytes).secret_from(shown)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[path = "xmpp_tests.rs"]
mod tests;
