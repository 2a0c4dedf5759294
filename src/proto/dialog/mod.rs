//! The dialog driver shared by SMTP, IMAP and POP3.
//!
//! It routes each direction's bytes to what they are: lines (handed to the
//! protocol's [`LineMachine`]), a literal or chunk counted by length, a
//! dot-terminated body skipped without buffering, or TLS records. It also
//! runs the STARTTLS lifecycle that the three protocols share:
//!
//! ```text
//!  Cleartext --client STARTTLS--> Requested --answer OK--> GoAhead --ClientHello--> Handshake --ServerHello--> Tls
//!      ^                              |                       |
//!      +---------answer refused-------+                       +--cleartext or close--> NotEstablished
//! ```
//!
//! Client bytes after STARTTLS are held until the server answers: if it
//! accepts, they were sent before the go-ahead and are command injection;
//! if it refuses, they are ordinary commands. Server bytes after the
//! go-ahead that are not TLS, sent before any further client byte, are
//! response injection.

use super::facts::{DialogAnomalyKind, DialogFacts, Evidence, Protocol};
use super::lines::{DotTerminator, Line, LineEnding, LineReader};
use super::secrecy::SecretGuard;
use super::tap::{LineTap, TapKind};
use super::tls::{Sniff, TlsReader, sniff};
use super::{imap::ImapDialog, pop3::Pop3Dialog, smtp::SmtpDialog};
use crate::flow::{PacketRef, SessionInfo, Side, StreamEvent};

mod detect;
#[cfg(test)]
mod detect_tests;
mod machine;
mod starttls;

pub use detect::detect;
use detect::{SmtpCheck, is_binary};
use machine::Requests;
pub use machine::{Ctx, LineMachine, Literal};

/// Client bytes kept while STARTTLS awaits its answer. A real client sends
/// nothing there (RFC 3207 4.2); anything is evidence, and a few KiB of it
/// is plenty.
pub const HELD_BYTES: usize = 4096;

/// First lines to look at before giving up on recognising the protocol.
const DETECTION_LINES: u32 = 4;

/// What a direction's next bytes are.
enum Mode {
    /// Nothing seen yet: the first bytes tell TLS from cleartext.
    Start,
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
    /// Client bytes after STARTTLS, held until the server answers.
    Hold,
    /// After the go-ahead: TLS expected.
    ExpectTls,
    /// A line injected where TLS was expected: skip it, then expect TLS.
    InjectedLine,
    Tls(Box<TlsReader>),
    /// Nothing more to learn.
    Ignore,
}

struct Direction {
    mode: Mode,
    lines: LineReader,
    /// Bytes waiting for a decision (Start, ExpectTls, Hold).
    held: Vec<u8>,
    held_at: Option<At>,
    gaps: u64,
    /// Bytes seen since the STARTTLS go-ahead.
    spoke_since_go_ahead: bool,
    /// The next complete line is the client's cleartext after a go-ahead.
    note_next_line: bool,
    /// The packet of the first TLS byte (where the hello starts).
    tls_first: Option<PacketRef>,
    fin: bool,
}

impl Direction {
    fn new() -> Self {
        Direction {
            mode: Mode::Start,
            lines: LineReader::default(),
            held: Vec::new(),
            held_at: None,
            gaps: 0,
            spoke_since_go_ahead: false,
            note_next_line: false,
            tls_first: None,
            fin: false,
        }
    }
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
    /// Not a mail protocol we know.
    Opaque,
}

impl Machine {
    fn get(&mut self) -> Option<&mut dyn LineMachine> {
        match self {
            Machine::Smtp(m) => Some(m),
            Machine::Imap(m) => Some(m),
            Machine::Pop3(m) => Some(m),
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
pub struct MailDialog {
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
    dirs: [Direction; 2],
    requests: Requests,
    go_ahead: bool,
    /// Which client bytes are secret, whatever the machine understood.
    secrets: SecretGuard,
    /// What was read, line by line, when asked for (`stripwatch diff`).
    tap: Option<Box<LineTap>>,
}

impl MailDialog {
    pub fn new(port_hint: Option<Protocol>) -> Self {
        MailDialog {
            facts: DialogFacts::default(),
            machine: Machine::Undetected {
                lines_seen: 0,
                binary_seen: false,
            },
            port_hint,
            from_start: false,
            smtp_check: SmtpCheck::Settled,
            dirs: [Direction::new(), Direction::new()],
            requests: Requests::default(),
            go_ahead: false,
            secrets: SecretGuard::default(),
            tap: None,
        }
    }

    /// The dialog of a session: the server port hints at the protocol, and
    /// when the handshake was captured the streams are seen from their
    /// first byte, so their first lines must say the protocol themselves.
    pub fn for_session(info: &SessionInfo) -> Self {
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
    pub fn with_tap(mut self, tap: LineTap) -> Self {
        self.tap = Some(Box::new(tap));
        self
    }

    /// The record, when tapped.
    pub fn tap(&self) -> Option<&LineTap> {
        self.tap.as_deref()
    }

    /// Takes the record out (the dialog goes on untapped).
    pub fn take_tap(&mut self) -> Option<LineTap> {
        self.tap.take().map(|t| *t)
    }

    /// One event of the session's reassembled streams.
    pub fn on_event(&mut self, side: Side, event: &StreamEvent<'_>) {
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
            StreamEvent::Fin { .. } => self.dir(side).fin = true,
            StreamEvent::Conflict(_) => {}
        }
    }

    /// True when `side` sent FIN.
    pub fn fin(&self, side: Side) -> bool {
        self.dirs.get(side.index()).is_some_and(|d| d.fin)
    }

    /// The session ended.
    pub fn finish(&mut self) {
        // A STARTTLS never answered in this capture: what the client sent
        // after it is still worth reading.
        if matches!(self.dir(Side::Client).mode, Mode::Hold) {
            let held = std::mem::take(&mut self.dir(Side::Client).held);
            let at = self.dir(Side::Client).held_at.take();
            self.dir(Side::Client).mode = Mode::ExpectTls;
            if let Some(at) = at {
                self.feed(Side::Client, &held, at);
            }
        }
        self.settle_protocol();
        let (facts, requests) = (&mut self.facts, &mut self.requests);
        let mut ctx = Ctx {
            facts,
            requests,
            gaps: [self.dirs[0].gaps, self.dirs[1].gaps],
            in_body: [false; 2],
        };
        if let Some(m) = self.machine.get() {
            m.finish(&mut ctx);
        }
        self.requests = Requests::default();
        self.judge_partial_line();
        self.secrets.finish(&mut self.facts.secret_spans);
    }

    fn dir(&mut self, side: Side) -> &mut Direction {
        let [client, server] = &mut self.dirs;
        match side {
            Side::Client => client,
            Side::Server => server,
        }
    }

    fn gap(&mut self, side: Side, offset: u64, len: u64) {
        if side == Side::Client {
            self.judge_partial_line();
            self.secrets
                .client_break(offset, &mut self.facts.secret_spans);
        }
        let dir = self.dir(side);
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
        let gaps = self.dirs.iter().any(|d| d.gaps > 0);
        let binary = binary_seen
            || self.dirs.iter().any(|d| {
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
        let Some((bytes, offset)) = dirs[0].lines.partial_line() else {
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
        match &self.dirs[0].mode {
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

    /// Runs `f` on the protocol machine with a fresh context.
    fn with_machine(&mut self, f: impl FnOnce(&mut dyn LineMachine, &mut Ctx<'_>)) {
        let gaps = [self.dirs[0].gaps, self.dirs[1].gaps];
        let in_body = [
            matches!(self.dirs[0].mode, Mode::DotBody(_)),
            matches!(self.dirs[1].mode, Mode::DotBody(_)),
        ];
        if let Some(m) = self.machine.get() {
            let mut ctx = Ctx {
                facts: &mut self.facts,
                requests: &mut self.requests,
                gaps,
                in_body,
            };
            f(m, &mut ctx);
        }
    }

    fn feed(&mut self, side: Side, bytes: &[u8], at: At) {
        let mut rest = bytes;
        let mut at = at;
        while !rest.is_empty() {
            if self.go_ahead {
                self.dir(side).spoke_since_go_ahead = true;
            }
            let used = self.step(side, rest, at).min(rest.len());
            rest = rest.get(used..).unwrap_or_default();
            at.offset += used as u64;
            self.apply_requests();
        }
    }

    /// Processes a prefix of `input` in the current mode; returns its length.
    fn step(&mut self, side: Side, input: &[u8], at: At) -> usize {
        if side == Side::Client {
            self.guard_unread_client_bytes(input, at);
        }
        let packet = at.packet;
        let tapping = self.tap.is_some();
        let dir = self.dir(side);
        match &mut dir.mode {
            Mode::Ignore => input.len(),
            Mode::InjectedLine => {
                let (used, line) = dir.lines.push(input, packet, at.offset);
                if let Some(line) = line {
                    let evidence = Evidence::from_line(side, &line);
                    let tapped = tapping.then(|| (line.bytes.to_vec(), line.ending, line.packet));
                    dir.mode = Mode::ExpectTls;
                    if let (Some(tap), Some((bytes, ending, packet))) =
                        (self.tap.as_deref_mut(), tapped)
                    {
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
                }
                used
            }
            Mode::Start | Mode::ExpectTls => self.decide(side, input, at),
            Mode::Hold => {
                let room = HELD_BYTES.saturating_sub(dir.held.len()).min(input.len());
                dir.held
                    .extend_from_slice(input.get(..room).unwrap_or_default());
                dir.held_at.get_or_insert(at);
                if room < input.len() && side == Side::Client {
                    // Past the hold, bytes are never read: nothing says
                    // they are not a password.
                    let spans = &mut self.facts.secret_spans;
                    spans.add(
                        side,
                        at.offset + room as u64,
                        at.offset + input.len() as u64,
                    );
                }
                input.len()
            }
            Mode::Tls(reader) => {
                let mut events = Vec::new();
                reader.feed(input, &mut events);
                for event in events {
                    self.on_tls(side, event, packet);
                }
                input.len()
            }
            Mode::DotBody(term) => match term.scan(input) {
                Some(end) => {
                    dir.mode = Mode::Lines;
                    self.with_machine(|m, ctx| m.on_body_end(side, ctx));
                    end
                }
                None => input.len(),
            },
            Mode::Literal {
                remaining,
                keep,
                kept,
                total,
                start,
            } => {
                // The literal's place for the tap: where its first byte is.
                let begins = start.is_none().then_some(*total);
                let offset = *start.get_or_insert(at.offset);
                let take = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                let room = keep.saturating_sub(kept.len()).min(take);
                kept.extend_from_slice(input.get(..room).unwrap_or_default());
                *remaining -= take as u64;
                if *remaining == 0 {
                    let (kept, total) = (std::mem::take(kept), *total);
                    dir.mode = Mode::Lines;
                    if let (Some(tap), Some(total)) = (self.tap.as_deref_mut(), begins) {
                        tap.marker(side, TapKind::Literal { total }, Some(packet), offset);
                    }
                    let literal = Literal {
                        bytes: &kept,
                        total,
                        offset,
                    };
                    self.with_machine(|m, ctx| m.on_literal(side, literal, ctx));
                } else if let (Some(tap), Some(total)) = (self.tap.as_deref_mut(), begins) {
                    tap.marker(side, TapKind::Literal { total }, Some(packet), offset);
                }
                take
            }
            Mode::Lines => self.lines(side, input, at),
        }
    }

    /// Feeds lines until one of them changes a mode.
    fn lines(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let MailDialog {
            facts,
            machine,
            port_hint,
            from_start,
            smtp_check,
            dirs,
            requests,
            secrets,
            tap,
            ..
        } = self;
        let gaps = [dirs[0].gaps, dirs[1].gaps];
        let in_body = [
            matches!(dirs[0].mode, Mode::DotBody(_)),
            matches!(dirs[1].mode, Mode::DotBody(_)),
        ];
        let Some(dir) = dirs.get_mut(side.index()) else {
            return input.len();
        };
        let mut note = std::mem::take(&mut dir.note_next_line);
        let used = dir.lines.feed(input, at.packet, at.offset, |line| {
            // Secrecy is judged before anything records the line.
            let line = &judge_line(secrets, facts, side, line);
            if let Some(tap) = tap.as_deref_mut() {
                tap.line(side, line, TapKind::Line);
            }
            if std::mem::take(&mut note) {
                let evidence = Evidence::from_line(side, line);
                facts.cleartext_after_go_ahead.get_or_insert(evidence);
            }
            let slot = side.index().min(1);
            match line.ending {
                LineEnding::BareLf => bump(&mut facts.bare_lf_lines, slot),
                LineEnding::Cut => bump(&mut facts.long_lines, slot),
                LineEnding::CrLf => {}
            }
            let from_start = *from_start && gaps == [0, 0];
            if let Machine::Undetected {
                lines_seen,
                binary_seen,
            } = machine
            {
                if is_binary(line.bytes) {
                    *binary_seen = true;
                } else {
                    *lines_seen += 1;
                }
                let hint = (*lines_seen >= DETECTION_LINES && !from_start)
                    .then_some(*port_hint)
                    .flatten();
                let detected = detect(side, line.bytes);
                match detected.or(hint) {
                    Some(Protocol::Smtp) => *machine = Machine::Smtp(SmtpDialog::default()),
                    Some(Protocol::Imap) => *machine = Machine::Imap(ImapDialog::default()),
                    Some(Protocol::Pop3) => *machine = Machine::Pop3(Pop3Dialog::default()),
                    // Binary is no mail dialog, whatever the port.
                    None if *lines_seen >= DETECTION_LINES => {
                        not_mail(machine, facts, UNKNOWN_TEXT)
                    }
                    None => {}
                }
                if detected == Some(Protocol::Smtp) && side == Side::Server && from_start {
                    *smtp_check = SmtpCheck::AwaitClient;
                }
                if let Some(p) = protocol_of(machine) {
                    facts.protocol = Some(p);
                }
            } else {
                *smtp_check = smtp_check.step(side, line.bytes);
                if *smtp_check == SmtpCheck::Refuted {
                    *smtp_check = SmtpCheck::Settled;
                    not_mail(machine, facts, NOT_SMTP);
                }
            }
            let mut ctx = Ctx {
                facts,
                requests,
                gaps,
                in_body,
            };
            if let Some(m) = machine.get() {
                m.on_line(side, line, &mut ctx);
            }
            // Stop at a line that changes how this side's bytes are read.
            requests.modes.iter().all(Option::is_none) && requests.starttls.is_none()
        });
        // No line completed yet: the next one is still the one to note.
        dir.note_next_line |= note;
        used
    }

    /// Start or after the go-ahead: TLS or cleartext?
    fn decide(&mut self, side: Side, input: &[u8], at: At) -> usize {
        let dir = self.dir(side);
        let mut probe = std::mem::take(&mut dir.held);
        let first = *dir.held_at.get_or_insert(at);
        let already = probe.len();
        probe.extend_from_slice(input.get(..8).unwrap_or(input));
        let verdict = sniff(&probe);
        if verdict == Sniff::NeedMore && probe.len() < 8 && input.len() < 8 {
            dir.held = probe;
            return input.len();
        }
        probe.truncate(already);
        dir.held_at = None;
        let expecting_tls = matches!(dir.mode, Mode::ExpectTls);
        if verdict == Sniff::Tls {
            dir.mode = Mode::Tls(Box::default());
            dir.tls_first = Some(first.packet);
            if let Some(tap) = self.tap.as_deref_mut() {
                tap.marker(side, TapKind::Tls, Some(first.packet), first.offset);
            }
            // Implicit TLS: the client's first payload is a TLS record,
            // whatever the port. After a cleartext greeting it is odd (a
            // STARTTLS the capture did not see, or a client meant for a
            // TLS port): noted, but the definition holds.
            if !expecting_tls && side == Side::Client && self.facts.client_hello.is_none() {
                self.facts.implicit_tls = true;
                if matches!(self.dirs[1].mode, Mode::Lines) {
                    let e =
                        Evidence::new(side, first.packet, b"TLS record after a cleartext greeting");
                    self.facts.anomaly(DialogAnomalyKind::TlsAfterCleartextGreeting, e);
                }
            }
            if !expecting_tls && side == Side::Server && !self.facts.implicit_tls {
                // The server's first bytes are TLS: the client's hello was
                // not captured, but the session is TLS from the start.
                self.facts.implicit_tls = true;
            }
        } else if expecting_tls {
            self.cleartext_after_go_ahead(side);
        } else {
            dir.mode = Mode::Lines;
        }
        // Replay what was held, then go on with this input in the new mode.
        if !probe.is_empty() {
            self.feed(side, &probe, first);
        }
        0
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
const UNKNOWN_TEXT: &str = "text lines that are no SMTP, IMAP or POP3 greeting or command";

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

fn bump(counts: &mut [u64; 2], slot: usize) {
    if let Some(c) = counts.get_mut(slot) {
        *c += 1;
    }
}

fn protocol_of(machine: &Machine) -> Option<Protocol> {
    match machine {
        Machine::Smtp(_) => Some(Protocol::Smtp),
        Machine::Imap(_) => Some(Protocol::Imap),
        Machine::Pop3(_) => Some(Protocol::Pop3),
        Machine::Undetected { .. } | Machine::Opaque => None,
    }
}
