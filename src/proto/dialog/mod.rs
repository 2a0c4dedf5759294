//! The dialog driver shared by SMTP, IMAP and POP3 (and every protocol
//! that speaks in lines).
//!
//! It frames each direction's bytes as what they are: lines (handed to the
//! protocol's [`LineMachine`]), a literal or chunk counted by length, a
//! dot-terminated body skipped without buffering, or TLS records. The
//! STARTTLS lifecycle is not here: the machine's words and the bytes'
//! nature become [`UpgradeEvent`]s, and [`crate::proto::upgrade`]'s
//! transition function says the next state and what the framing does
//! (hold the client's bytes, release them, expect TLS, skip an injected
//! line). Bytes to read again (held bytes released, a sniff's probe) wait
//! on a stack that the feeding loop empties first, so nothing re-enters
//! the feeder.

use super::facts::{DialogAnomalyKind, DialogFacts, Evidence, Protocol};
use super::ldap::{self, LdapDialog};
use super::lines::{DotTerminator, Line, LineEnding, LineReader};
use super::managesieve::ManageSieveDialog;
use super::mysql::{self, MysqlDialog};
use super::nntp::NntpDialog;
use super::postgres::{self, PgDialog};
use super::secrecy::SecretGuard;
use super::tap::{LineTap, TapKind};
use super::tls::{Sniff, TlsReader, sniff};
use super::upgrade::{UpgradeEvent, UpgradeState};
use super::xmpp::XmppDialog;
use super::{ftp::FtpDialog, imap::ImapDialog, pop3::Pop3Dialog, smtp::SmtpDialog};
use crate::flow::{PacketRef, PerSide, SessionInfo, Side, StreamEvent};

mod detect;
#[cfg(test)]
mod detect_tests;
mod machine;
mod starttls;
#[cfg(test)]
mod upgrade_tests;

use detect::{SmtpCheck, detect, detect_with_hint, is_binary, is_ftp_command, is_nntp_command};
use machine::Requests;
pub(crate) use machine::{Ctx, LineMachine, Literal};

/// Client bytes kept while STARTTLS awaits its answer. A real client sends
/// nothing there (RFC 3207 4.2); anything is evidence, and a few KiB of it
/// is plenty.
pub(crate) const HELD_BYTES: usize = 4096;

/// Steps in a row that may read nothing (each changes how the bytes are
/// read: a sniff deciding, an upgrade releasing held bytes) before the
/// reader is taken as stalled. A handful happen; 64 never legitimately.
const MAX_IDLE_STEPS: u32 = 64;

/// First lines to look at before giving up on recognising the protocol.
const DETECTION_LINES: u32 = 4;

/// How a direction's next bytes are framed.
enum Mode {
    /// TLS or cleartext? The first bytes tell: at the start, and where the
    /// upgrade expects TLS.
    Sniff,
    Lines,
    Literal {
        remaining: u64,
        keep: usize,
        kept: Vec<u8>,
        total: u64,
        /// Stream offset of the literal's first byte, once reached.
        start: Option<u64>,
    },
    DotBody(DotTerminator),
    /// Bytes parked until the upgrade releases them.
    Held,
    /// One line to record as injected and skip, then sniff again.
    SkipLine,
    Tls(Box<TlsReader>),
    /// Nothing more to learn.
    Ignore,
}

struct Direction {
    mode: Mode,
    lines: LineReader,
    /// Bytes waiting for a decision (Sniff, Held).
    held: Vec<u8>,
    held_at: Option<At>,
    gaps: u64,
    /// The packet of the first TLS byte (where the hello starts).
    tls_first: Option<PacketRef>,
    /// The stream offset a sniff last found not TLS: bytes read again from
    /// there are never taken for a record header once more.
    not_tls_at: Option<u64>,
    fin: bool,
}

impl Direction {
    fn new() -> Self {
        Direction {
            mode: Mode::Sniff,
            lines: LineReader::default(),
            held: Vec::new(),
            held_at: None,
            gaps: 0,
            tls_first: None,
            not_tls_at: None,
            fin: false,
        }
    }

    fn in_body(&self) -> bool {
        matches!(self.mode, Mode::DotBody(_))
    }
}

/// Bytes read again before the input goes on: held bytes the upgrade
/// released, or what a sniff kept to decide.
struct Replay {
    side: Side,
    bytes: Vec<u8>,
    used: usize,
    at: At,
    then: AfterReplay,
}

/// What follows a replay.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterReplay {
    Nothing,
    /// Injected commands were read: the client's TLS is expected again.
    ExpectClientTls,
}

enum Machine {
    Undetected {
        /// Text lines seen (binary ones do not count: a bot may send
        /// junk before the greeting, and a port hint is for text).
        lines_seen: u32,
        binary_seen: bool,
    },
    Smtp(SmtpDialog),
    Imap(ImapDialog),
    Pop3(Pop3Dialog),
    Ftp(FtpDialog),
    /// Read as messages, not lines (see [`MailDialog::messages`]).
    Postgres(PgDialog),
    /// Read as packets, not lines.
    Mysql(MysqlDialog),
    /// Read as tags, not lines (see [`MailDialog::messages`]).
    Xmpp(XmppDialog),
    /// Read as BER messages, not lines.
    Ldap(LdapDialog),
    ManageSieve(ManageSieveDialog),
    Nntp(NntpDialog),
    /// Not a mail protocol we know.
    Opaque,
}

impl Machine {
    fn get(&mut self) -> Option<&mut dyn LineMachine> {
        match self {
            Machine::Smtp(m) => Some(m),
            Machine::Imap(m) => Some(m),
            Machine::Pop3(m) => Some(m),
            Machine::Ftp(m) => Some(m),
            Machine::Postgres(m) => Some(m),
            Machine::Mysql(m) => Some(m),
            Machine::Xmpp(m) => Some(m),
            Machine::Ldap(m) => Some(m),
            Machine::ManageSieve(m) => Some(m),
            Machine::Nntp(m) => Some(m),
            Machine::Undetected { .. } | Machine::Opaque => None,
        }
    }
}

/// Where a chunk of a stream starts: the packet that carried its first
/// byte, and its stream offset.
#[derive(Clone, Copy, Debug)]
struct At {
    packet: PacketRef,
    offset: u64,
}

/// One session's mail dialog: feed it stream events, then read its facts.
pub(crate) struct MailDialog {
    pub facts: DialogFacts,
    machine: Machine,
    /// The protocol the server port suggests, when the dialog does not say.
    port_hint: Option<Protocol>,
    /// Both streams are seen from their first byte (not picked up
    /// mid-stream): the first lines must then say the protocol themselves,
    /// and the port hint does not count (unless a gap came first).
    from_start: bool,
    /// Whether a `220` greeting really began SMTP.
    smtp_check: SmtpCheck,
    dirs: PerSide<Direction>,
    requests: Requests,
    /// Where the STARTTLS upgrade is.
    upgrade: UpgradeState,
    /// Bytes to read again, the next on top.
    replays: Vec<Replay>,
    /// Which client bytes are secret, whatever the machine understood.
    secrets: SecretGuard,
    /// What was read, line by line, when asked for (`stripwatch diff`).
    tap: Option<Box<LineTap>>,
}

impl MailDialog {
    pub(crate) fn new(port_hint: Option<Protocol>) -> Self {
        MailDialog {
            facts: DialogFacts::default(),
            machine: Machine::Undetected {
                lines_seen: 0,
                binary_seen: false,
            },
            port_hint,
            from_start: false,
            smtp_check: SmtpCheck::Settled,
            dirs: PerSide::new(Direction::new(), Direction::new()),
            requests: Requests::default(),
            upgrade: UpgradeState::Start,
            replays: Vec::new(),
            secrets: SecretGuard::default(),
            tap: None,
        }
    }

    /// The dialog of a session: the server port hints at the protocol, and
    /// when the handshake was captured the streams are seen from their
    /// first byte, so their first lines must say the protocol themselves.
    pub(crate) fn for_session(info: &SessionInfo) -> Self {
        MailDialog {
            from_start: info.syn_seen || info.syn_ack_seen,
            ..MailDialog::new(Protocol::from_port(info.server.port))
        }
    }

    /// Whether the streams are seen from their first byte (see
    /// [`Self::for_session`]).
    #[cfg(test)]
    pub(crate) fn seen_from_start(mut self, yes: bool) -> Self {
        self.from_start = yes;
        self
    }

    /// Records every line read (and where literals, TLS and gaps are) in
    /// `tap`; see [`super::tap`].
    pub(crate) fn with_tap(mut self, tap: LineTap) -> Self {
        self.tap = Some(Box::new(tap));
        self
    }

    /// The record, when tapped.
    #[cfg(test)]
    pub(crate) fn tap(&self) -> Option<&LineTap> {
        self.tap.as_deref()
    }

    /// Takes the record out (the dialog goes on untapped).
    pub(crate) fn take_tap(&mut self) -> Option<LineTap> {
        self.tap.take().map(|t| *t)
    }

    /// One event of the session's reassembled streams.
    pub(crate) fn on_event(&mut self, side: Side, event: &StreamEvent<'_>) {
        match *event {
            StreamEvent::Data {
                bytes,
                packet,
                offset,
                ..
            } => self.feed(side, bytes, At { packet, offset }),
            StreamEvent::Gap { len, offset, .. } => {
                if let Some(tap) = self.tap.as_deref_mut() {
                    tap.marker(side, TapKind::Gap { len }, None, offset);
                }
                self.gap(side, offset, len)
            }
            StreamEvent::Fin { .. } => self.dirs[side].fin = true,
            StreamEvent::Conflict(_) => {}
        }
    }

    /// True when `side` sent FIN.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn fin(&self, side: Side) -> bool {
        self.dirs[side].fin
    }

    /// The session ended.
    pub(crate) fn finish(&mut self) {
        // A request never answered in this capture: what the client sent
        // after it is still worth reading.
        self.upgrade_event(UpgradeEvent::End, None);
        self.drain_replays();
        self.settle_protocol();
        let mut ctx = Ctx {
            facts: &mut self.facts,
            requests: &mut self.requests,
            in_body: PerSide::both(false),
            tap: None,
        };
        if let Some(m) = self.machine.get() {
            m.finish(&mut ctx);
        }
        self.requests = Requests::default();
        self.judge_partial_line();
        self.secrets.finish(&mut self.facts.secret_spans);
        self.facts.upgrade = self.upgrade;
    }

    fn gap(&mut self, side: Side, offset: u64, len: u64) {
        if side == Side::Client {
            self.judge_partial_line();
            self.secrets
                .client_break(offset, &mut self.facts.secret_spans);
        }
        let dir = &mut self.dirs[side];
        dir.gaps += 1;
        // A partial line is dropped. What follows the gap is not skipped:
        // segments mostly start at a line boundary, and the machines cope
        // with the odd fragment.
        dir.lines.clear();
        match &mut dir.mode {
            Mode::Literal { remaining, .. } if *remaining > len => *remaining -= len,
            Mode::Literal { .. } => dir.mode = Mode::Lines,
            Mode::Tls(reader) => reader.gap(len),
            _ => {}
        }
        self.with_machine(|m, ctx| m.on_gap(side, len, ctx));
        self.apply_requests();
        self.drain_replays();
    }

    /// The session ended: a `220` greeting the client never answered with
    /// SMTP is not SMTP, and a dialog that never said its protocol is not
    /// mail when it showed binary, or when its start was seen.
    fn settle_protocol(&mut self) {
        if self.smtp_check.finish() == SmtpCheck::Refuted {
            not_mail(&mut self.machine, &mut self.facts, NOT_SMTP);
        }
        self.smtp_check = SmtpCheck::Settled;
        let Machine::Undetected {
            lines_seen,
            binary_seen,
        } = self.machine
        else {
            return;
        };
        // A TLS session (implicit TLS) is binary by nature: what a gap left
        // of a record on the other side says nothing against it.
        let f = &self.facts;
        if f.implicit_tls || f.client_hello.is_some() || f.server_hello.is_some() {
            return;
        }
        let gaps = self.dirs.iter().any(|(_, d)| d.gaps > 0);
        let binary = binary_seen
            || self.dirs.iter().any(|(_, d)| {
                d.lines
                    .partial_line()
                    .is_some_and(|(bytes, _)| is_binary(bytes))
            });
        if binary {
            not_mail(&mut self.machine, &mut self.facts, BINARY);
        } else if lines_seen > 0 && self.from_start && !gaps {
            not_mail(&mut self.machine, &mut self.facts, UNKNOWN_TEXT);
        }
    }

    /// A client line that will never end (a gap, or the end of the session)
    /// is judged as it stands: its bytes are in the packets all the same.
    fn judge_partial_line(&mut self) {
        let MailDialog {
            facts,
            dirs,
            secrets,
            ..
        } = self;
        let Some((bytes, offset)) = dirs.client.lines.partial_line() else {
            return;
        };
        secrets.client_line(
            facts.protocol,
            bytes,
            offset,
            false,
            &mut facts.secret_spans,
        );
    }

    /// Client bytes that no line will show the guard: a literal's (secret
    /// while an exchange is open), and cleartext after the TLS stream lost
    /// its way (unread, so nothing says it holds no password).
    fn guard_unread_client_bytes(&mut self, input: &[u8], at: At) {
        let spans = &mut self.facts.secret_spans;
        match &self.dirs.client.mode {
            Mode::Literal {
                start: None, total, ..
            } => {
                self.secrets
                    .client_literal(self.facts.protocol, at.offset, *total, spans);
            }
            Mode::Ignore
                if self.facts.client_hello.is_none() || self.facts.server_hello.is_none() =>
            {
                spans.add(Side::Client, at.offset, at.offset + input.len() as u64);
            }
            _ => {}
        }
    }

    /// Which sides are inside a dot-terminated body.
    fn in_body(&self) -> PerSide<bool> {
        PerSide::new(self.dirs.client.in_body(), self.dirs.server.in_body())
    }

    /// Runs `f` on the protocol machine with a fresh context.
    fn with_machine(&mut self, f: impl FnOnce(&mut dyn LineMachine, &mut Ctx<'_>)) {
        let in_body = self.in_body();
        if let Some(m) = self.machine.get() {
            let mut ctx = Ctx {
                facts: &mut self.facts,
                requests: &mut self.requests,
                in_body,
                tap: None,
            };
            f(m, &mut ctx);
        }
    }

    /// Feeds `bytes` of `side`, reading what the upgrade released (or a
    /// sniff kept) before the rest: those bytes came first.
    fn feed(&mut self, side: Side, bytes: &[u8], at: At) {
        let (mut rest, mut at) = (bytes, at);
        let mut idle = 0;
        loop {
            self.drain_replays();
            if rest.is_empty() {
                return;
            }
            let used = self.step_and_apply(side, rest, at);
            idle = if used == 0 { idle + 1 } else { 0 };
            if idle > MAX_IDLE_STEPS {
                self.stall(side, rest, at);
                return;
            }
            rest = rest.get(used..).unwrap_or_default();
            at.offset += used as u64;
        }
    }

    /// A reader that keeps reading nothing is a fault of these machines:
    /// the side is read no further, told as an anomaly, instead of a hang
    /// on hostile bytes. Debug builds (tests, fuzzing) stop on it.
    fn stall(&mut self, side: Side, input: &[u8], at: At) {
        debug_assert!(false, "dialog reading stalled on the {side:?} side");
        self.replays.retain(|r| r.side != side);
        self.dirs[side].mode = Mode::Ignore;
        // Where, not what: bytes no machine understood may hold a secret
        // (or a server's echo of one).
        let mut evidence = Evidence::new(side, at.packet, &[]);
        evidence.offset = Some(at.offset);
        evidence.line_len = input.len();
        if side == Side::Client {
            let end = at.offset + input.len() as u64;
            self.facts.secret_spans.add(side, at.offset, end);
        }
        self.facts
            .anomaly(DialogAnomalyKind::ReadingStalled, evidence);
    }

    /// Reads every pending replay, the latest first.
    fn drain_replays(&mut self) {
        let mut idle = 0;
        while let Some(mut replay) = self.replays.pop() {
            let depth = self.replays.len();
            let input = replay.bytes.get(replay.used..).unwrap_or_default();
            if input.is_empty() {
                if replay.then == AfterReplay::ExpectClientTls {
                    let client = &mut self.dirs.client;
                    client.lines.clear();
                    client.mode = Mode::Sniff;
                }
                continue;
            }
            let used = self.step_and_apply(replay.side, input, replay.at);
            idle = if used == 0 { idle + 1 } else { 0 };
            if idle > MAX_IDLE_STEPS {
                self.stall(replay.side, input, replay.at);
                continue;
            }
            replay.used += used;
            replay.at.offset += used as u64;
            // What this step released goes first, then the rest of this.
            self.replays.insert(depth, replay);
        }
    }

    /// One step, then what the machine asked for.
    fn step_and_apply(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let used = self.step(side, input, at).min(input.len());
        self.apply_requests();
        used
    }

    /// Processes a prefix of `input` in the current mode; returns its length.
    fn step(&mut self, side: Side, input: &[u8], at: At) -> usize {
        if side == Side::Client {
            self.guard_unread_client_bytes(input, at);
        }
        let messages = self.reads_messages();
        match &mut self.dirs[side].mode {
            Mode::Ignore => input.len(),
            Mode::SkipLine => self.skip_injected_line(side, input, at),
            Mode::Sniff => self.sniff(side, input, at),
            Mode::Held => self.hold(side, input, at),
            Mode::Tls(reader) => {
                let mut events = Vec::new();
                reader.feed(input, &mut events);
                for event in events {
                    self.on_tls(side, event, at.packet);
                }
                input.len()
            }
            Mode::DotBody(term) => match term.scan(input) {
                Some(end) => {
                    self.dirs[side].mode = Mode::Lines;
                    self.with_machine(|m, ctx| m.on_body_end(side, ctx));
                    end
                }
                None => input.len(),
            },
            Mode::Literal { .. } => self.literal(side, input, at),
            Mode::Lines if messages => self.messages(side, input, at),
            Mode::Lines => self.lines(side, input, at),
        }
    }

    /// A server line where TLS was expected, before the client spoke: it is
    /// recorded as response injection and skipped, and TLS still expected.
    fn skip_injected_line(&mut self, side: Side, input: &[u8], at: At) -> usize {
        if self.reads_messages() {
            return self.skip_injected_bytes(side, input, at);
        }
        let dir = &mut self.dirs[side];
        let (used, line) = dir.lines.push(input, at.packet, at.offset);
        let Some(line) = line else {
            return used;
        };
        let evidence = Evidence::from_line(side, &line);
        let tapped = self
            .tap
            .is_some()
            .then(|| (line.bytes.to_vec(), line.ending, line.packet));
        dir.mode = Mode::Sniff;
        if let (Some(tap), Some((bytes, ending, packet))) = (self.tap.as_deref_mut(), tapped) {
            let line = Line {
                bytes: &bytes,
                packet,
                offset: evidence.offset.unwrap_or(at.offset),
                ending,
                secret_from: None,
            };
            tap.line(side, &line, TapKind::AfterGoAhead);
        }
        self.facts.response_injection.get_or_insert(evidence);
        used
    }

    /// A protocol read as messages, not lines (PostgreSQL, MySQL, XMPP's
    /// tags, LDAP).
    fn reads_messages(&self) -> bool {
        matches!(
            self.machine,
            Machine::Postgres(_) | Machine::Mysql(_) | Machine::Xmpp(_) | Machine::Ldap(_)
        )
    }

    /// Server bytes where TLS was expected in a protocol without lines
    /// (XMPP's `<proceed/><message>...</message>` then the ServerHello):
    /// they end where a TLS handshake record begins, in this input or a
    /// later one. Recorded as response injection; TLS is still expected.
    fn skip_injected_bytes(&mut self, side: Side, input: &[u8], at: At) -> usize {
        // A handshake record's header, as sniffing will take it, where no
        // sniff has already said otherwise (held bytes come back alone).
        let not_tls_at = self.dirs[side].not_tls_at;
        let tls_at = |i: usize| {
            input.get(i) == Some(&0x16)
                && not_tls_at != Some(at.offset + i as u64)
                && input.get(i..).is_some_and(|r| sniff(r) != Sniff::NotTls)
        };
        let end = (0..input.len()).find(|&i| tls_at(i)).unwrap_or(input.len());
        if end == 0 {
            // A sniff that finds it not TLS marks it (`not_tls_at`): read
            // again, it is injected bytes up to the next header.
            self.dirs[side].mode = Mode::Sniff;
            return self.sniff(side, input, at);
        }
        let bytes = input.get(..end).unwrap_or(input);
        // One run of injected bytes, whatever its segmentation, is one piece
        // of evidence.
        if let Some(e) = self.facts.response_injection.as_mut().filter(|e| {
            e.side == side && e.offset.map(|o| o + e.line_len as u64) == Some(at.offset)
        }) {
            let room = crate::proto::EVIDENCE_BYTES
                .saturating_sub(e.bytes.len())
                .min(bytes.len());
            e.bytes
                .extend_from_slice(bytes.get(..room).unwrap_or_default());
            e.line_len += bytes.len();
            return end;
        }
        let mut evidence = Evidence::new(side, at.packet, bytes);
        evidence.offset = Some(at.offset);
        if let Some(tap) = self.tap.as_deref_mut() {
            let line = Line {
                bytes,
                packet: at.packet,
                offset: at.offset,
                ending: LineEnding::Cut,
                secret_from: None,
            };
            tap.line(side, &line, TapKind::AfterGoAhead);
        }
        self.facts.response_injection.get_or_insert(evidence);
        end
    }

    /// Parks bytes until the upgrade releases them (at most [`HELD_BYTES`]).
    fn hold(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let dir = &mut self.dirs[side];
        let room = HELD_BYTES.saturating_sub(dir.held.len()).min(input.len());
        dir.held
            .extend_from_slice(input.get(..room).unwrap_or_default());
        dir.held_at.get_or_insert(at);
        if room < input.len() && side == Side::Client {
            // Past the hold, bytes are never read: nothing says they are
            // not a password.
            let end = at.offset + input.len() as u64;
            let spans = &mut self.facts.secret_spans;
            spans.add(side, at.offset + room as u64, end);
        }
        self.mysql_tls_after_request();
        input.len()
    }

    /// MySQL's server does not answer an SSLRequest: the client's TLS
    /// hello following it is the upgrade's acceptance.
    fn mysql_tls_after_request(&mut self) {
        let client = &self.dirs.client;
        let waiting = matches!(self.machine, Machine::Mysql(_))
            && self.upgrade == UpgradeState::Requested
            && self.requests.starttls.is_none();
        if let (true, Some(at)) = (waiting, client.held_at) {
            if sniff(&client.held) == Sniff::Tls {
                let text = b"TLS ClientHello after SSLRequest";
                let evidence = Evidence::new(Side::Client, at.packet, text);
                self.requests.starttls = Some(machine::StarttlsEvent::Answered(
                    super::facts::StarttlsAnswer::Accepted,
                    evidence,
                ));
            }
        }
    }

    /// A server's first bytes are MySQL's: a greeting anywhere, an ERR
    /// packet in its place on MySQL's port.
    fn is_mysql_start(&self, probe: &[u8]) -> bool {
        matches!(self.machine, Machine::Undetected { .. })
            && (mysql::is_greeting(probe)
                || self.port_hint == Some(Protocol::Mysql) && mysql::is_error_first(probe))
    }

    /// Counts a literal's (or chunk's) bytes, keeping its first ones, and
    /// hands it to the machine once it has passed.
    fn literal(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let Mode::Literal {
            remaining,
            keep,
            kept,
            total,
            start,
        } = &mut self.dirs[side].mode
        else {
            return 0;
        };
        // The literal's place for the tap: where its first byte is.
        let begins = start.is_none().then_some(*total);
        let offset = *start.get_or_insert(at.offset);
        let take = usize::try_from(*remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let room = keep.saturating_sub(kept.len()).min(take);
        kept.extend_from_slice(input.get(..room).unwrap_or_default());
        *remaining -= take as u64;
        let passed = (*remaining == 0).then(|| (std::mem::take(kept), *total));
        if let (Some(tap), Some(total)) = (self.tap.as_deref_mut(), begins) {
            tap.marker(side, TapKind::Literal { total }, Some(at.packet), offset);
        }
        if let Some((kept, total)) = passed {
            self.dirs[side].mode = Mode::Lines;
            let literal = Literal {
                bytes: &kept,
                total,
                offset,
            };
            self.with_machine(|m, ctx| m.on_literal(side, literal, ctx));
        }
        take
    }

    /// Feeds a binary protocol's messages until one of them changes a
    /// mode (PostgreSQL: its machine frames them, the guard judges each
    /// client message by its type; XMPP: its tags, the guard judges the
    /// client's by their names).
    fn messages(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let MailDialog {
            facts,
            machine,
            requests,
            secrets,
            tap,
            ..
        } = self;
        let mut ctx = Ctx {
            facts,
            requests,
            in_body: PerSide::both(false),
            tap: tap.as_deref_mut(),
        };
        match machine {
            Machine::Postgres(pg) => pg.feed(side, input, at.packet, at.offset, secrets, &mut ctx),
            Machine::Mysql(my) => my.feed(side, input, at.packet, at.offset, &mut ctx),
            Machine::Xmpp(x) => x.feed(side, input, at.packet, at.offset, secrets, &mut ctx),
            Machine::Ldap(l) => l.feed(side, input, at.packet, at.offset, &mut ctx),
            _ => input.len(),
        }
    }

    /// Feeds lines until one of them changes a mode.
    fn lines(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let gaps = PerSide::new(self.dirs.client.gaps, self.dirs.server.gaps);
        let in_body = self.in_body();
        // The first client line after an upgrade that did not happen is its
        // evidence (whatever the segmentation).
        let note = side == Side::Client && self.upgrade == UpgradeState::NotEstablished;
        let recognition = Recognition {
            port_hint: self.port_hint,
            from_start: self.from_start && gaps == PerSide::both(0),
        };
        let MailDialog {
            facts,
            machine,
            smtp_check,
            dirs,
            requests,
            secrets,
            tap,
            ..
        } = self;
        dirs[side].lines.feed(input, at.packet, at.offset, |line| {
            // Secrecy is judged before anything records the line.
            let line = &judge_line(secrets, facts, side, line);
            if let Some(tap) = tap.as_deref_mut() {
                tap.line(side, line, TapKind::Line);
            }
            if note {
                let evidence = Evidence::from_line(side, line);
                facts.cleartext_after_go_ahead.get_or_insert(evidence);
            }
            match line.ending {
                LineEnding::BareLf => facts.bare_lf_lines[side] += 1,
                LineEnding::Cut => facts.long_lines[side] += 1,
                LineEnding::CrLf => {}
            }
            recognition.track(machine, facts, smtp_check, side, line.bytes);
            recognition.smtp_or_lmtp(facts, side, line.bytes);
            let mut ctx = Ctx {
                facts,
                requests,
                in_body,
                tap: None,
            };
            if let Some(m) = machine.get() {
                m.on_line(side, line, &mut ctx);
            }
            // Stop at a line that changes how this side's bytes are read.
            requests.modes.iter().all(|(_, m)| m.is_none()) && requests.starttls.is_none()
        })
    }

    /// Where TLS may start (a side's first bytes, or after a go-ahead): is
    /// it TLS or cleartext? The bytes are framed as what they are, and the
    /// upgrade told.
    fn sniff(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let dir = &mut self.dirs[side];
        let mut held = std::mem::take(&mut dir.held);
        let first = *dir.held_at.get_or_insert(at);
        let already = held.len();
        let head = input.get(..8).unwrap_or(input);
        // Usually nothing is held: the probe is the input's first bytes, on
        // the stack.
        let mut stack = [0u8; 8];
        let probe: &[u8] = if already == 0 {
            let probe = stack.get_mut(..head.len()).unwrap_or_default();
            probe.copy_from_slice(head);
            probe
        } else {
            held.extend_from_slice(head);
            &held
        };
        let verdict = sniff(probe);
        // A client's first bytes may be a PostgreSQL startup packet: its
        // first 8 bytes tell.
        let first_client = side == Side::Client
            && matches!(self.machine, Machine::Undetected { .. })
            && postgres::may_be_startup(probe);
        // A server's first bytes may be a MySQL packet: 6 bytes tell.
        let first_server = side == Side::Server
            && matches!(self.machine, Machine::Undetected { .. })
            && mysql::may_be_packet(probe);
        // Either side's first bytes may open an XMPP stream.
        let xmpp = if matches!(self.machine, Machine::Undetected { .. }) && verdict != Sniff::Tls {
            detect::xmpp_start(probe, self.port_hint)
        } else {
            Some(false)
        };
        // Either side's first bytes may be an LDAPMessage.
        let ldap = if matches!(self.machine, Machine::Undetected { .. }) && verdict != Sniff::Tls {
            ldap::message_start(probe)
        } else {
            Some(false)
        };
        let wait = verdict == Sniff::NeedMore
            || first_client
            || first_server
            || xmpp.is_none()
            || ldap.is_none();
        if wait && probe.len() < 8 && input.len() < 8 {
            dir.held = probe.to_vec();
            return input.len();
        }
        if first_client && verdict != Sniff::Tls && postgres::is_startup(probe) {
            self.machine = Machine::Postgres(PgDialog::default());
            self.facts.protocol = Some(Protocol::Postgresql);
        } else if xmpp == Some(true) {
            self.machine = Machine::Xmpp(XmppDialog::default());
            self.facts.protocol = Some(Protocol::Xmpp);
        } else if ldap == Some(true) {
            self.machine = Machine::Ldap(LdapDialog::default());
            self.facts.protocol = Some(Protocol::Ldap);
        }
        if side == Side::Server && verdict != Sniff::Tls && self.is_mysql_start(probe) {
            self.machine = Machine::Mysql(MysqlDialog::default());
            self.facts.protocol = Some(Protocol::Mysql);
        }
        let dir = &mut self.dirs[side];
        held.truncate(already);
        dir.held_at = None;
        let tls = verdict == Sniff::Tls;
        if !tls {
            dir.not_tls_at = Some(first.offset);
        }
        if tls {
            dir.mode = Mode::Tls(Box::default());
            dir.tls_first = Some(first.packet);
            if let Some(tap) = self.tap.as_deref_mut() {
                tap.marker(side, TapKind::Tls, Some(first.packet), first.offset);
            }
        } else {
            dir.mode = Mode::Lines;
        }
        let event = match (side, tls) {
            (Side::Client, true) => UpgradeEvent::ClientTls,
            (Side::Client, false) => UpgradeEvent::ClientCleartext,
            (Side::Server, true) => UpgradeEvent::ServerTls,
            (Side::Server, false) => UpgradeEvent::ServerCleartext,
        };
        self.upgrade_event(event, Some(first.packet));
        // Read what was kept again, then go on with this input in the new
        // mode.
        if !held.is_empty() {
            self.replay(side, held, first, AfterReplay::Nothing);
        }
        0
    }

    /// Queues `bytes` to be read before any further input.
    fn replay(&mut self, side: Side, bytes: Vec<u8>, at: At, then: AfterReplay) {
        self.replays.push(Replay {
            side,
            bytes,
            used: 0,
            at,
            then,
        });
    }
}

/// What recognises a dialog's protocol from its first lines.
#[derive(Clone, Copy)]
struct Recognition {
    /// The protocol the server port suggests.
    port_hint: Option<Protocol>,
    /// Both streams are seen from their first byte, with no gap yet: the
    /// first lines must say the protocol themselves.
    from_start: bool,
}

impl Recognition {
    /// LMTP is SMTP's machine with LHLO for EHLO (RFC 2033 4.1): the
    /// client's hello says which, else the port (LMTP's 24).
    fn smtp_or_lmtp(self, facts: &mut DialogFacts, side: Side, line: &[u8]) {
        if !matches!(facts.protocol, Some(Protocol::Smtp | Protocol::Lmtp)) {
            return;
        }
        let verb = line.split(|b| *b == b' ').next().unwrap_or_default();
        let said = |k: &str| side == Side::Client && verb.eq_ignore_ascii_case(k.as_bytes());
        if said("LHLO") {
            facts.protocol = Some(Protocol::Lmtp);
        } else if said("EHLO") || said("HELO") {
            facts.protocol = Some(Protocol::Smtp);
        } else if self.port_hint == Some(Protocol::Lmtp) && facts.greeting.is_none() {
            // The greeting (before any hello): the port says.
            facts.protocol = Some(Protocol::Lmtp);
        }
    }

    /// Looks at one line: until the protocol is known, whether it says
    /// which; after, whether a `220` greeting really began SMTP.
    fn track(
        self,
        machine: &mut Machine,
        facts: &mut DialogFacts,
        smtp_check: &mut SmtpCheck,
        side: Side,
        line: &[u8],
    ) {
        let Machine::Undetected {
            lines_seen,
            binary_seen,
        } = machine
        else {
            // Nothing SMTP of the client's yet (from the start, the check
            // awaits its first line).
            let smtp_unheard = *smtp_check == SmtpCheck::AwaitClient
                || (matches!(machine, Machine::Smtp(_))
                    && facts.capabilities.is_empty()
                    && facts.starttls_command.is_none()
                    && facts.sensitive_command.is_none());
            if smtp_unheard && side == Side::Client && is_ftp_command(line) {
                // The `220` greeting was FTP's: the client says so.
                *smtp_check = SmtpCheck::Settled;
                *machine = Machine::Ftp(FtpDialog::greeted());
                facts.protocol = Some(Protocol::Ftp);
                return;
            }
            if smtp_unheard && side == Side::Client && is_nntp_command(line) {
                // The `200` greeting was NNTP's: the client says so.
                *smtp_check = SmtpCheck::Settled;
                *machine = Machine::Nntp(NntpDialog::greeted());
                facts.protocol = Some(Protocol::Nntp);
                return;
            }
            let ftp_unheard = matches!(machine, Machine::Ftp(_))
                && facts.capabilities.is_empty()
                && facts.starttls_command.is_none()
                && facts.sensitive_command.is_none();
            if ftp_unheard && side == Side::Client && detect(side, line) == Some(Protocol::Smtp) {
                // A `220` on an FTP port, then EHLO: SMTP after all.
                *machine = Machine::Smtp(SmtpDialog::default());
                facts.protocol = Some(Protocol::Smtp);
                return;
            }
            *smtp_check = smtp_check.step(side, line);
            if *smtp_check == SmtpCheck::Refuted {
                *smtp_check = SmtpCheck::Settled;
                not_mail(machine, facts, NOT_SMTP);
            }
            return;
        };
        if is_binary(line) {
            *binary_seen = true;
        } else {
            *lines_seen += 1;
        }
        let enough = *lines_seen >= DETECTION_LINES;
        let hint = (enough && !self.from_start)
            .then_some(self.port_hint)
            .flatten();
        let detected = detect_with_hint(side, line, self.port_hint);
        match detected.or(hint) {
            Some(Protocol::Smtp | Protocol::Lmtp) => {
                *machine = Machine::Smtp(SmtpDialog::default())
            }
            Some(Protocol::Imap) => *machine = Machine::Imap(ImapDialog::default()),
            Some(Protocol::Pop3) => *machine = Machine::Pop3(Pop3Dialog::default()),
            Some(Protocol::Ftp) => *machine = Machine::Ftp(FtpDialog::default()),
            Some(Protocol::ManageSieve) => {
                *machine = Machine::ManageSieve(ManageSieveDialog::default())
            }
            Some(Protocol::Nntp) => *machine = Machine::Nntp(NntpDialog::default()),
            // Binary is no mail dialog, whatever the port.
            Some(Protocol::Postgresql | Protocol::Mysql | Protocol::Xmpp | Protocol::Ldap)
            | None
                if enough =>
            {
                not_mail(machine, facts, UNKNOWN_TEXT)
            }
            Some(Protocol::Postgresql | Protocol::Mysql | Protocol::Xmpp | Protocol::Ldap)
            | None => {}
        }
        if detected == Some(Protocol::Smtp) && side == Side::Server && self.from_start {
            *smtp_check = SmtpCheck::AwaitClient;
        }
        if let Some(p) = protocol_of(machine) {
            facts.protocol = Some(p);
        }
    }
}

/// The line as the protocol machine and the tap get it, with its secret
/// part judged (and recorded) by the guard: a client line's by its place in
/// the exchange, a server line's where it echoes a secret the client sent.
fn judge_line<'a>(
    secrets: &mut SecretGuard,
    facts: &mut DialogFacts,
    side: Side,
    line: &Line<'a>,
) -> Line<'a> {
    match side {
        Side::Client => {
            let cut = line.ending == LineEnding::Cut;
            let secret_from = secrets.client_line(
                facts.protocol,
                line.bytes,
                line.offset,
                cut,
                &mut facts.secret_spans,
            );
            Line {
                secret_from,
                ..*line
            }
        }
        Side::Server => {
            secrets.server_line(facts.protocol, line.bytes);
            let secret_from = secrets.server_echo(line.bytes, line.offset, &mut facts.secret_spans);
            Line {
                secret_from,
                ..*line
            }
        }
    }
}

/// What showed a dialog is not mail (see [`DialogFacts::not_mail`]).
const BINARY: &str = "binary data";
const NOT_SMTP: &str = "a 220 greeting, then a client line that is no SMTP command and that the server did not reject (FTP greets with 220 too)";
const UNKNOWN_TEXT: &str =
    "text lines that are no SMTP, IMAP, POP3, FTP, ManageSieve or NNTP greeting or command";

/// The dialog is not mail: no machine reads it any more, and what a
/// machine made of its first lines is forgotten (which bytes are secret,
/// and the line counts, stay).
fn not_mail(machine: &mut Machine, facts: &mut DialogFacts, seen: &'static str) {
    *machine = Machine::Opaque;
    *facts = DialogFacts {
        not_mail: Some(seen),
        secret_spans: std::mem::take(&mut facts.secret_spans),
        bare_lf_lines: facts.bare_lf_lines,
        long_lines: facts.long_lines,
        unparsed_lines: facts.unparsed_lines,
        ..DialogFacts::default()
    };
}

fn protocol_of(machine: &Machine) -> Option<Protocol> {
    match machine {
        Machine::Smtp(_) => Some(Protocol::Smtp),
        Machine::Imap(_) => Some(Protocol::Imap),
        Machine::Pop3(_) => Some(Protocol::Pop3),
        Machine::Ftp(_) => Some(Protocol::Ftp),
        Machine::Postgres(_) => Some(Protocol::Postgresql),
        Machine::Mysql(_) => Some(Protocol::Mysql),
        Machine::Xmpp(_) => Some(Protocol::Xmpp),
        Machine::Ldap(_) => Some(Protocol::Ldap),
        Machine::ManageSieve(_) => Some(Protocol::ManageSieve),
        Machine::Nntp(_) => Some(Protocol::Nntp),
        Machine::Undetected { .. } | Machine::Opaque => None,
    }
}
