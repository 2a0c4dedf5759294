//! The driver's side of the STARTTLS upgrade: the machine's requests and
//! the bytes' nature become [`UpgradeEvent`]s, [`transition`] says what
//! follows, and [`MailDialog::carry_out`] does it to the framing. TLS
//! hellos are recorded here too.

use super::machine::{Request, StarttlsEvent};
use super::{AfterReplay, MailDialog, Mode};
use crate::flow::{PacketRef, Side};
use crate::proto::facts::{DialogAnomalyKind, Evidence, Protocol, StarttlsAnswer};
use crate::proto::lines::DotTerminator;
use crate::proto::tls::{Sniff, TlsEvent, sniff};
use crate::proto::upgrade::{UpgradeAction, UpgradeEvent, transition};

impl MailDialog {
    /// Runs the upgrade machine on `event` (seen at `packet`, when there is
    /// one) and carries out its action. An event the lifecycle does not
    /// expect is an anomaly, and changes nothing.
    pub(super) fn upgrade_event(&mut self, event: UpgradeEvent, packet: Option<PacketRef>) {
        match transition(self.upgrade, event) {
            Ok(step) => {
                self.upgrade = step.next;
                self.carry_out(step.action, packet);
            }
            Err(unlisted) => {
                if let Some(packet) = packet {
                    let text = unlisted.to_string();
                    let evidence = Evidence::new(event.side(), packet, text.as_bytes());
                    self.facts
                        .anomaly(DialogAnomalyKind::UpgradeOutOfOrder, evidence);
                }
            }
        }
    }

    fn carry_out(&mut self, action: UpgradeAction, packet: Option<PacketRef>) {
        match action {
            UpgradeAction::None => {}
            UpgradeAction::HoldClient => {
                let client = &mut self.dirs.client;
                client.mode = Mode::Held;
                client.held.clear();
                client.held_at = None;
            }
            UpgradeAction::ReleaseAsCommands => {
                if matches!(self.dirs.client.mode, Mode::Held) {
                    self.dirs.client.mode = Mode::Lines;
                    self.release_held(AfterReplay::Nothing);
                }
            }
            UpgradeAction::ExpectTls => self.expect_tls(packet),
            UpgradeAction::ReleaseExpectingTls => {
                self.dirs.client.mode = Mode::Sniff;
                self.release_held(AfterReplay::Nothing);
            }
            UpgradeAction::ReplayInjected => self.replay_injected(),
            UpgradeAction::ImplicitTls => self.facts.implicit_tls = true,
            UpgradeAction::ImplicitTlsAfterGreeting => {
                self.facts.implicit_tls = true;
                if let Some(packet) = packet {
                    let text = b"TLS record after a cleartext greeting";
                    let e = Evidence::new(Side::Client, packet, text);
                    self.facts
                        .anomaly(DialogAnomalyKind::TlsAfterCleartextGreeting, e);
                }
            }
            UpgradeAction::ResponseInjection => self.dirs.server.mode = Mode::SkipLine,
            UpgradeAction::ClientStayedCleartext => {
                // The server's cleartext is ordinary again.
                if matches!(self.dirs.server.mode, Mode::Sniff) {
                    self.dirs.server.mode = Mode::Lines;
                }
            }
        }
    }

    /// The go-ahead: both sides may start TLS. Client bytes held since the
    /// request were sent before it: TLS is read as such, cleartext is
    /// command injection.
    fn expect_tls(&mut self, packet: Option<PacketRef>) {
        self.dirs.server.mode = Mode::Sniff;
        self.dirs.client.mode = Mode::Sniff;
        let client = &self.dirs.client;
        if client.held.is_empty() || client.held_at.is_none() {
            self.dirs.client.held.clear();
            self.dirs.client.held_at = None;
        } else if sniff(&client.held) == Sniff::Tls {
            self.release_held(AfterReplay::Nothing);
        } else {
            self.upgrade_event(UpgradeEvent::HeldCleartext, packet);
        }
    }

    /// Command injection: the held client lines crossed in cleartext. They
    /// are parsed like any other commands (a password in them is a
    /// cleartext credential), then TLS is expected again.
    fn replay_injected(&mut self) {
        let client = &mut self.dirs.client;
        if let Some(at) = client.held_at {
            let first = client
                .held
                .split(|b| *b == b'\n')
                .next()
                .unwrap_or_default();
            let evidence = Evidence::new(Side::Client, at.packet, trim_crlf(first));
            let evidence = mask_client_line(self.facts.protocol, evidence);
            self.facts.command_injection.get_or_insert(evidence);
        }
        self.dirs.client.mode = Mode::Lines;
        self.release_held(AfterReplay::ExpectClientTls);
    }

    /// The client's held bytes, read again before any further input.
    fn release_held(&mut self, then: AfterReplay) {
        let client = &mut self.dirs.client;
        let held = std::mem::take(&mut client.held);
        match client.held_at.take() {
            Some(at) => self.replay(Side::Client, held, at, then),
            None if then == AfterReplay::ExpectClientTls => client.mode = Mode::Sniff,
            None => {}
        }
    }

    pub(super) fn on_tls(&mut self, side: Side, event: TlsEvent, packet: PacketRef) {
        let first = self.dirs[side].tls_first.unwrap_or(packet);
        let both_before = self.facts.client_hello.is_some() && self.facts.server_hello.is_some();
        match event {
            TlsEvent::ClientHello(hello) => {
                let text = describe_hello("ClientHello", &hello);
                self.facts
                    .client_hello
                    .get_or_insert((Evidence::new(side, first, text.as_bytes()), hello));
            }
            TlsEvent::ServerHello(hello) => {
                let text = describe_hello("ServerHello", &hello);
                self.facts
                    .server_hello
                    .get_or_insert((Evidence::new(side, first, text.as_bytes()), hello));
            }
            TlsEvent::ServerCertificate(certificate) => {
                let text = describe_certificate(&certificate);
                self.facts
                    .server_certificate
                    .get_or_insert((Evidence::new(side, packet, text.as_bytes()), certificate));
            }
            // Past both hellos, only the search for the server's
            // certificate was still reading: it ends, as a search, without
            // an anomaly (the stream was not looked at there before).
            TlsEvent::NotTls if both_before => {
                self.dirs[side].mode = Mode::Ignore;
                return;
            }
            TlsEvent::NotTls => {
                let evidence = Evidence::new(side, packet, b"");
                self.facts
                    .anomaly(DialogAnomalyKind::TlsStreamDesynchronised, evidence);
                self.dirs[side].mode = Mode::Ignore;
                return;
            }
        }
        if self.facts.client_hello.is_some() && self.facts.server_hello.is_some() {
            // Both hellos seen: the rest is encrypted and of no interest,
            // but for the server's certificate of TLS 1.2 or older.
            for (_, dir) in self.dirs.iter_mut() {
                if matches!(&dir.mode, Mode::Tls(reader) if !reader.collecting()) {
                    dir.mode = Mode::Ignore;
                }
            }
            if !both_before {
                self.upgrade_event(UpgradeEvent::HellosSeen, Some(first));
            }
        }
    }

    /// Applies what the machine asked for after a line: the framing of a
    /// side's next bytes, then the upgrade event its words made.
    pub(super) fn apply_requests(&mut self) {
        let requests = std::mem::take(&mut self.requests);
        for (side, request) in Side::BOTH.into_iter().zip(requests.modes.into_array()) {
            let Some(request) = request else { continue };
            self.dirs[side].mode = match request {
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
                let packet = command.packet;
                self.facts.starttls_command.get_or_insert(command);
                self.upgrade_event(UpgradeEvent::Requested, Some(packet));
            }
            Some(StarttlsEvent::Answered(answer, line)) => {
                // The latest answer is the state of the session; the first
                // refusal stays on record (a client may retry).
                let packet = line.packet;
                let event = match answer {
                    StarttlsAnswer::Accepted => UpgradeEvent::Accepted,
                    StarttlsAnswer::Rejected => {
                        self.facts.starttls_refusal.get_or_insert(line.clone());
                        UpgradeEvent::Refused
                    }
                };
                self.facts.starttls_answer = Some((answer, line));
                self.upgrade_event(event, Some(packet));
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

/// The evidence text of a server certificate: its names (unescaped, as
/// every evidence's bytes) and fingerprint.
fn describe_certificate(certificate: &super::super::facts::ServerCertificate) -> String {
    let name = |n: &Option<String>| n.clone().unwrap_or_else(|| "?".to_string());
    let mut text = format!(
        "TLS Certificate (subject {}, issuer {}, SHA-256 ",
        name(&certificate.subject),
        name(&certificate.issuer)
    );
    for b in certificate.sha256 {
        text.push_str(&format!("{b:02x}"));
    }
    text.push(')');
    text
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
