//! The STARTTLS lifecycle the three protocols share (see the diagram in
//! [`super`]): the client's request holds its further bytes, the server's
//! answer releases them (as command injection when it accepted), TLS
//! hellos are recorded, and cleartext where TLS was expected is response
//! injection or a session that never upgraded.

use super::machine::{Request, StarttlsEvent};
use super::{MailDialog, Mode};
use crate::flow::{PacketRef, Side};
use crate::proto::facts::{DialogAnomalyKind, Evidence, Protocol, StarttlsAnswer};
use crate::proto::lines::DotTerminator;
use crate::proto::tls::{Sniff, TlsEvent, sniff};

impl MailDialog {
    /// Non-TLS bytes where TLS was expected. The line they start is
    /// recorded as evidence once it is complete (whatever the segmentation).
    pub(super) fn cleartext_after_go_ahead(&mut self, side: Side) {
        let client_spoke = self.dirs[0].spoke_since_go_ahead;
        match side {
            Side::Server if !client_spoke => {
                // Response injection: the server (or someone in the path)
                // speaks before the client could start TLS. The line is
                // recorded and skipped, and TLS still expected after it.
                self.dir(side).mode = Mode::InjectedLine;
            }
            Side::Server => {
                // The client went on in cleartext (or started TLS and the
                // server did not): the server's cleartext is ordinary again.
                self.dir(side).mode = Mode::Lines;
            }
            Side::Client => {
                let dir = self.dir(side);
                dir.mode = Mode::Lines;
                dir.note_next_line = true;
                if matches!(self.dir(Side::Server).mode, Mode::ExpectTls) {
                    self.dir(Side::Server).mode = Mode::Lines;
                }
            }
        }
    }

    pub(super) fn on_tls(&mut self, side: Side, event: TlsEvent, packet: PacketRef) {
        match event {
            TlsEvent::ClientHello(hello) => {
                let packet = self.dir(side).tls_first.unwrap_or(packet);
                let text = describe_hello("ClientHello", &hello);
                self.facts
                    .client_hello
                    .get_or_insert((Evidence::new(side, packet, text.as_bytes()), hello));
            }
            TlsEvent::ServerHello(hello) => {
                let packet = self.dir(side).tls_first.unwrap_or(packet);
                let text = describe_hello("ServerHello", &hello);
                self.facts
                    .server_hello
                    .get_or_insert((Evidence::new(side, packet, text.as_bytes()), hello));
            }
            TlsEvent::NotTls => {
                self.facts.anomaly(
                    DialogAnomalyKind::TlsStreamDesynchronised,
                    Evidence::new(side, packet, b""),
                );
                self.dir(side).mode = Mode::Ignore;
            }
        }
        if self.facts.client_hello.is_some() && self.facts.server_hello.is_some() {
            // Both hellos seen: the rest is encrypted and of no interest.
            for dir in &mut self.dirs {
                if matches!(dir.mode, Mode::Tls(_)) {
                    dir.mode = Mode::Ignore;
                }
            }
        }
    }

    /// Applies what the machine asked for after a line.
    pub(super) fn apply_requests(&mut self) {
        let requests = std::mem::take(&mut self.requests);
        for (side, request) in [Side::Client, Side::Server].into_iter().zip(requests.modes) {
            let Some(request) = request else { continue };
            let dir = self.dir(side);
            dir.mode = match request {
                Request::Literal { len: 0, .. } => Mode::Lines,
                Request::Literal { len, keep } => Mode::Literal {
                    remaining: len,
                    keep,
                    kept: Vec::new(),
                    total: len,
                    start: None,
                },
                Request::DotBody => Mode::DotBody(DotTerminator::default()),
                Request::Lines => Mode::Lines,
                Request::Opaque => Mode::Ignore,
            };
        }
        match requests.starttls {
            None => {}
            Some(StarttlsEvent::Requested(command)) => {
                self.facts.starttls_command.get_or_insert(command);
                let client = self.dir(Side::Client);
                client.mode = Mode::Hold;
                client.held.clear();
                client.held_at = None;
            }
            Some(StarttlsEvent::Answered(answer, line)) => {
                // The latest answer is the state of the session; the first
                // refusal stays on record (a client may retry).
                if answer == StarttlsAnswer::Rejected {
                    self.facts.starttls_refusal.get_or_insert(line.clone());
                }
                self.facts.starttls_answer = Some((answer, line));
                let client = self.dir(Side::Client);
                let held = std::mem::take(&mut client.held);
                let held_at = client.held_at.take();
                let was_holding = matches!(client.mode, Mode::Hold);
                match answer {
                    StarttlsAnswer::Accepted => {
                        self.go_ahead = true;
                        self.dir(Side::Server).mode = Mode::ExpectTls;
                        self.dir(Side::Client).mode = Mode::ExpectTls;
                        if let (false, Some(at)) = (held.is_empty(), held_at) {
                            let packet = at.packet;
                            if sniff(&held) != Sniff::Tls {
                                // Command injection. The injected lines crossed
                                // in cleartext: parse them like any other
                                // commands (a password in them is a cleartext
                                // credential), then expect TLS again.
                                let first = held.split(|b| *b == b'\n').next().unwrap_or_default();
                                let evidence =
                                    Evidence::new(Side::Client, packet, trim_crlf(first));
                                let evidence = mask_client_line(self.facts.protocol, evidence);
                                self.facts.command_injection.get_or_insert(evidence);
                                self.dir(Side::Client).mode = Mode::Lines;
                                self.feed(Side::Client, &held, at);
                                self.dir(Side::Client).lines.clear();
                                self.dir(Side::Client).mode = Mode::ExpectTls;
                            } else {
                                self.feed(Side::Client, &held, at);
                            }
                        }
                    }
                    StarttlsAnswer::Rejected => {
                        if was_holding {
                            self.dir(Side::Client).mode = Mode::Lines;
                            if let Some(at) = held_at {
                                self.feed(Side::Client, &held, at);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Masks what may be a secret in a client line seen outside the line
/// reader's order (the first injected line, built from the held bytes):
/// as the [`crate::proto::secrecy`] guard would judge it alone.
pub(super) fn mask_client_line(protocol: Option<Protocol>, evidence: Evidence) -> Evidence {
    match crate::proto::secrecy::secret_from_alone(protocol, &evidence.bytes) {
        Some(at) => evidence.secret_from(at),
        None => evidence,
    }
}

fn trim_crlf(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn describe_hello(kind: &str, hello: &super::super::facts::TlsHello) -> String {
    let mut text = format!(
        "TLS {kind} ({}",
        super::super::facts::tls_version_name(hello.version())
    );
    if let Some(sni) = &hello.sni {
        text.push_str(", SNI ");
        text.push_str(sni);
    }
    if let Some(cipher) = hello.cipher {
        match super::super::tls::cipher_name(cipher) {
            Some(name) => text.push_str(&format!(", {name}")),
            None => text.push_str(&format!(", cipher 0x{cipher:04x}")),
        }
    }
    text.push(')');
    text
}
