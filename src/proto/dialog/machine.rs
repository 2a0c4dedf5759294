//! What a protocol's line machine sees of the dialog driver, and what it
//! may ask of it: [`LineMachine`], called per line, literal and body, and
//! [`Ctx`], through which it records facts and switches the direction's
//! mode (literal, dot body, STARTTLS held).

use super::super::facts::{DialogFacts, Evidence, StarttlsAnswer};
use super::super::lines::Line;
use crate::flow::{PerSide, Side};

/// A protocol's line-level state machine.
pub(crate) trait LineMachine {
    /// A complete line from `side`.
    fn on_line(&mut self, side: Side, line: &Line<'_>, ctx: &mut Ctx<'_>);
    /// The literal (or chunk) announced with [`Ctx::literal`] has passed:
    /// its first bytes (up to the `keep` asked for), its total length and
    /// the stream offset it started at.
    fn on_literal(&mut self, _side: Side, _literal: Literal<'_>, _ctx: &mut Ctx<'_>) {}
    /// The dot-terminated body announced with [`Ctx::dot_body`] ended.
    fn on_body_end(&mut self, _side: Side, _ctx: &mut Ctx<'_>) {}
    /// `len` bytes of `side` were not captured (a partial line was dropped).
    fn on_gap(&mut self, _side: Side, _len: u64, _ctx: &mut Ctx<'_>) {}
    /// The session ended: settle whatever is pending.
    fn finish(&mut self, _ctx: &mut Ctx<'_>) {}
}

/// A literal or chunk that passed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Literal<'a> {
    /// Its first bytes (at most what was asked to keep).
    pub bytes: &'a [u8],
    pub total: u64,
    /// Stream offset of its first byte.
    pub offset: u64,
}

/// What a machine can see and ask of the driver.
pub(crate) struct Ctx<'a> {
    pub facts: &'a mut DialogFacts,
    pub(super) requests: &'a mut Requests,
    pub(super) in_body: PerSide<bool>,
    /// `stripwatch diff`'s record, for machines that read messages rather
    /// than lines (they hand it each message: see [`Ctx::tap_message`]).
    pub(super) tap: Option<&'a mut crate::proto::tap::LineTap>,
}

/// What a machine asked for while handling one line, applied by the
/// driver after it: how a side's next bytes are framed, and the upgrade
/// event its words made (see [`crate::proto::upgrade`]).
#[derive(Default)]
pub(super) struct Requests {
    pub(super) modes: PerSide<Option<Request>>,
    pub(super) starttls: Option<StarttlsEvent>,
}

pub(super) enum Request {
    Literal { len: u64, keep: usize },
    DotBody,
    Lines,
    Opaque,
}

pub(super) enum StarttlsEvent {
    Requested(Evidence),
    Answered(StarttlsAnswer, Evidence),
}

impl Ctx<'_> {
    /// A whole message a message machine read (`kept`, its first bytes;
    /// `len`, its length on the wire), from stream `offset` of `side`: one
    /// item of the diff's record, as a line is for the line machines.
    pub(crate) fn tap_message(
        &mut self,
        side: Side,
        kept: &[u8],
        len: usize,
        packet: crate::flow::PacketRef,
        offset: u64,
    ) {
        if let Some(tap) = self.tap.as_deref_mut() {
            tap.message(side, kept, len, packet, offset);
        }
    }

    /// `len` raw bytes follow on `side` (IMAP literal, BDAT chunk); the first
    /// `keep` of them are handed to [`LineMachine::on_literal`].
    pub(crate) fn literal(&mut self, side: Side, len: u64, keep: usize) {
        self.requests.modes[side] = Some(Request::Literal { len, keep });
    }

    /// A body ended by a lone dot follows on `side` (SMTP DATA, POP3
    /// multi-line responses); it is skipped without buffering.
    pub(crate) fn dot_body(&mut self, side: Side) {
        self.requests.modes[side] = Some(Request::DotBody);
    }

    /// Back to lines on `side` (a body the other side's reply proves over).
    pub(crate) fn lines(&mut self, side: Side) {
        self.requests.modes[side] = Some(Request::Lines);
    }

    /// `side`'s further bytes are not the protocol's (a compressed stream):
    /// they are skipped unread (the client's masked, since nothing says
    /// they hold no password).
    pub(crate) fn opaque(&mut self, side: Side) {
        self.requests.modes[side] = Some(Request::Opaque);
    }

    /// The client asked for TLS: hold its further bytes until the answer.
    pub(crate) fn starttls_requested(&mut self, command: Evidence) {
        self.requests.starttls = Some(StarttlsEvent::Requested(command));
    }

    /// The server answered STARTTLS.
    pub(crate) fn starttls_answered(&mut self, answer: StarttlsAnswer, line: Evidence) {
        self.requests.starttls = Some(StarttlsEvent::Answered(answer, line));
    }

    /// True while `side` is inside a dot-terminated body.
    pub(crate) fn in_body(&self, side: Side) -> bool {
        self.in_body[side]
    }

    /// A message machine's framing loop: `step` frames one piece of the
    /// rest at its stream offset and says the bytes it used and whether to
    /// stop (a mode change), or `None` once the side's framing is lost.
    /// Lost, the side is opaque from there, its client bytes masked:
    /// unread, they may hold anything. Returns the bytes used.
    pub(crate) fn frame_messages(
        &mut self,
        side: Side,
        input: &[u8],
        offset: u64,
        mut step: impl FnMut(&[u8], u64, &mut Ctx<'_>) -> Option<(usize, bool)>,
    ) -> usize {
        let mut used = 0;
        while used < input.len() {
            let rest = input.get(used..).unwrap_or_default();
            let at = offset + used as u64;
            let Some((n, stop)) = step(rest, at, self) else {
                if side == Side::Client {
                    let end = offset + input.len() as u64;
                    self.facts.secret_spans.add(side, at, end);
                }
                self.opaque(side);
                return input.len();
            };
            used += n;
            if stop {
                break;
            }
        }
        used
    }
}
