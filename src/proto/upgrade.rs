//! The in-band upgrade to TLS, one machine for every protocol.
//!
//! SMTP's `STARTTLS`, POP3's `STLS`, IMAP's `STARTTLS` (and every protocol
//! with an in-band upgrade) follow one lifecycle: the client asks, the
//! server answers, and TLS follows or does not. A protocol's line machine
//! only says what its words mean ([`UpgradeEvent::Requested`],
//! [`UpgradeEvent::Accepted`], [`UpgradeEvent::Refused`]); the dialog
//! driver says what the bytes are (TLS or cleartext where TLS may start,
//! both hellos seen, the end). [`transition`] is the whole lifecycle: a
//! pure function from a state and an event to the next state and the one
//! [`UpgradeAction`] the driver must carry out. A pair it does not list is
//! an [`UnlistedTransition`], which the driver records as an anomaly.
//!
//! ```text
//!  Start ─first bytes TLS─> ImplicitTls
//!    │ cleartext
//!    v
//!  Cleartext ─Requested─> Requested ─Accepted─> GoAhead ─client TLS─> Handshake ─hellos─> Tls
//!    ^                       │  │                  │ │                    │
//!    └────────Refused────────┘  │ held cleartext ──┘ └─client cleartext─┐ └─server cleartext─┐
//!                               │ (Injected: command injection)        v                    v
//!                               └─capture ends─> Unanswered ──────> NotEstablished <────────┘
//! ```

use crate::flow::Side;
use std::fmt;

/// Where a session is in its upgrade to TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum UpgradeState {
    /// Neither side's first bytes are read yet.
    #[default]
    Start,
    /// A cleartext dialog with no upgrade pending (none asked for, or one
    /// refused).
    Cleartext,
    /// The client asked for TLS; its further bytes wait for the answer.
    Requested,
    /// The server accepted and the client has sent nothing since: TLS is
    /// expected from both sides, and server cleartext here is injected.
    GoAhead,
    /// The server accepted after the client had already sent commands past
    /// its request (command injection); TLS is still expected.
    Injected,
    /// The client began TLS where the upgrade expected it.
    Handshake,
    /// Both hellos of the upgrade's handshake were seen.
    Tls,
    /// TLS from the first byte, with no upgrade.
    ImplicitTls,
    /// The upgrade was accepted (or went unanswered) and did not happen:
    /// the client went on in cleartext, or the server did after the
    /// client's TLS.
    NotEstablished,
    /// The capture ended before the server answered the request: what the
    /// client sent after it is read as if TLS were expected.
    Unanswered,
}

/// What happened, as the upgrade sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum UpgradeEvent {
    /// The client asked for TLS (`STARTTLS`, `STLS`, or its protocol's
    /// equivalent).
    Requested,
    /// The server accepted the request.
    Accepted,
    /// The server refused it.
    Refused,
    /// The client's bytes, where TLS may start (its first bytes, or its
    /// first after a go-ahead), are a TLS record.
    ClientTls,
    /// ... are cleartext.
    ClientCleartext,
    /// The server's bytes, where TLS may start, are a TLS record.
    ServerTls,
    /// ... are cleartext.
    ServerCleartext,
    /// Client bytes held after the request, released by the acceptance,
    /// are cleartext: they crossed before the go-ahead.
    HeldCleartext,
    /// Both TLS hellos were seen (the driver stops reading TLS there,
    /// whatever the state: the rest is encrypted).
    HellosSeen,
    /// The session ended.
    End,
}

/// What the driver does on a transition, beyond entering the new state.
/// Where TLS may start, a side's bytes are read as what they are (a TLS
/// record or lines) unless the action says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum UpgradeAction {
    /// Nothing more.
    None,
    /// Park the client's further bytes until the answer.
    HoldClient,
    /// The upgrade was refused: the held client bytes are the commands they
    /// look like.
    ReleaseAsCommands,
    /// The go-ahead: both sides' next bytes may start TLS. Client bytes
    /// held since the request crossed before it: TLS is read as TLS, and
    /// cleartext is [`UpgradeEvent::HeldCleartext`].
    ExpectTls,
    /// No answer will come: the held client bytes are read as if TLS were
    /// expected.
    ReleaseExpectingTls,
    /// The held client bytes crossed in cleartext before the go-ahead:
    /// record them as command injection, read them as commands, then
    /// expect TLS again.
    ReplayInjected,
    /// The session is TLS from its first byte.
    ImplicitTls,
    /// As [`Self::ImplicitTls`], after the server's cleartext greeting (a
    /// STARTTLS the capture did not see, or a client meant for a TLS port):
    /// noted as an anomaly.
    ImplicitTlsAfterGreeting,
    /// The server spoke cleartext before the client could start TLS: its
    /// line is recorded as response injection and skipped.
    ResponseInjection,
    /// The client went on in cleartext: its first line is evidence, and the
    /// server's bytes are lines again.
    ClientStayedCleartext,
}

/// A transition: the next state and what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// The state after the event.
    pub next: UpgradeState,
    /// What the driver carries out.
    pub action: UpgradeAction,
}

/// An event the lifecycle does not expect in a state (the driver records
/// it as the anomaly `upgrade-out-of-order`, and the state stays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnlistedTransition {
    /// The state the event came in.
    pub state: UpgradeState,
    /// The event.
    pub event: UpgradeEvent,
}

/// The upgrade lifecycle: the step `event` makes from `state`. One row per
/// transition.
#[rustfmt::skip]
pub(crate) fn transition(state: UpgradeState, event: UpgradeEvent) -> Result<Step, UnlistedTransition> {
    use UpgradeAction as A;
    use UpgradeEvent as E;
    use UpgradeState as S;
    let (next, action) = match (state, event) {
        // Everything may end; only an unanswered request has more to read.
        (S::Requested,      E::End)             => (S::Unanswered,     A::ReleaseExpectingTls),
        (state,             E::End)             => (state,             A::None),

        (S::Start,          E::ClientCleartext) => (S::Cleartext,      A::None),
        (S::Start,          E::ServerCleartext) => (S::Cleartext,      A::None),
        (S::Start,          E::ClientTls)       => (S::ImplicitTls,    A::ImplicitTls),
        (S::Start,          E::ServerTls)       => (S::ImplicitTls,    A::ImplicitTls),

        (S::Cleartext,      E::ClientCleartext) => (S::Cleartext,      A::None),
        (S::Cleartext,      E::ServerCleartext) => (S::Cleartext,      A::None),
        (S::Cleartext,      E::ClientTls)       => (S::ImplicitTls,    A::ImplicitTlsAfterGreeting),
        (S::Cleartext,      E::ServerTls)       => (S::ImplicitTls,    A::ImplicitTls),
        (S::Cleartext,      E::Requested)       => (S::Requested,      A::HoldClient),
        // An answer to a request the dialog did not hold (nothing to release).
        (S::Cleartext,      E::Accepted)        => (S::GoAhead,        A::ExpectTls),
        (S::Cleartext,      E::Refused)         => (S::Cleartext,      A::None),

        (S::Requested,      E::Accepted)        => (S::GoAhead,        A::ExpectTls),
        (S::Requested,      E::Refused)         => (S::Cleartext,      A::ReleaseAsCommands),
        // The server's first bytes after the request (a capture that began
        // mid-dialog): the answer is still to come.
        (S::Requested,      E::ServerCleartext) => (S::Requested,      A::None),

        (S::GoAhead,        E::HeldCleartext)   => (S::Injected,       A::ReplayInjected),
        (S::GoAhead,        E::ClientTls)       => (S::Handshake,      A::None),
        (S::GoAhead,        E::ClientCleartext) => (S::NotEstablished, A::ClientStayedCleartext),
        (S::GoAhead,        E::ServerCleartext) => (S::GoAhead,        A::ResponseInjection),
        (S::GoAhead,        E::ServerTls)       => (S::GoAhead,        A::None),

        // The injected commands may ask for TLS again: the client is past
        // its request already.
        (S::Injected,       E::Requested)       => (S::Injected,       A::None),
        (S::Injected,       E::ClientTls)       => (S::Handshake,      A::None),
        (S::Injected,       E::ClientCleartext) => (S::NotEstablished, A::ClientStayedCleartext),
        // The client spoke (its injected commands): the server's cleartext
        // may answer them, and is no injection.
        (S::Injected,       E::ServerCleartext) => (S::Injected,       A::None),
        (S::Injected,       E::ServerTls)       => (S::Injected,       A::None),

        (S::Handshake,      E::ServerTls)       => (S::Handshake,      A::None),
        (S::Handshake,      E::ServerCleartext) => (S::NotEstablished, A::None),
        (S::Handshake,      E::HellosSeen)      => (S::Tls,            A::None),

        (S::ImplicitTls,    E::ClientTls)       => (S::ImplicitTls,    A::ImplicitTls),
        (S::ImplicitTls,    E::ServerTls)       => (S::ImplicitTls,    A::None),
        (S::ImplicitTls,    E::ClientCleartext) => (S::ImplicitTls,    A::None),
        (S::ImplicitTls,    E::ServerCleartext) => (S::ImplicitTls,    A::None),
        (S::ImplicitTls,    E::HellosSeen)      => (S::ImplicitTls,    A::None),

        (S::NotEstablished, E::Requested)       => (S::Requested,      A::HoldClient),
        (S::NotEstablished, E::ServerCleartext) => (S::NotEstablished, A::None),
        (S::NotEstablished, E::ServerTls)       => (S::NotEstablished, A::None),
        (S::NotEstablished, E::HellosSeen)      => (S::NotEstablished, A::None),

        (S::Unanswered,     E::ClientTls)       => (S::Handshake,      A::None),
        (S::Unanswered,     E::ClientCleartext) => (S::NotEstablished, A::ClientStayedCleartext),

        (state, event) => return Err(UnlistedTransition { state, event }),
    };
    Ok(Step { next, action })
}

impl UpgradeState {
    /// Every state, in lifecycle order.
    #[cfg(test)]
    pub(crate) const ALL: [UpgradeState; 10] = [
        UpgradeState::Start,
        UpgradeState::Cleartext,
        UpgradeState::Requested,
        UpgradeState::GoAhead,
        UpgradeState::Injected,
        UpgradeState::Handshake,
        UpgradeState::Tls,
        UpgradeState::ImplicitTls,
        UpgradeState::NotEstablished,
        UpgradeState::Unanswered,
    ];

    fn name(self) -> &'static str {
        match self {
            UpgradeState::Start => "Start",
            UpgradeState::Cleartext => "Cleartext",
            UpgradeState::Requested => "Requested",
            UpgradeState::GoAhead => "GoAhead",
            UpgradeState::Injected => "Injected",
            UpgradeState::Handshake => "Handshake",
            UpgradeState::Tls => "Tls",
            UpgradeState::ImplicitTls => "ImplicitTls",
            UpgradeState::NotEstablished => "NotEstablished",
            UpgradeState::Unanswered => "Unanswered",
        }
    }
}

impl UpgradeEvent {
    /// The side whose bytes the event is about (the session's end and the
    /// hellos are put on the client's).
    pub(crate) fn side(self) -> Side {
        match self {
            UpgradeEvent::Accepted
            | UpgradeEvent::Refused
            | UpgradeEvent::ServerTls
            | UpgradeEvent::ServerCleartext => Side::Server,
            UpgradeEvent::Requested
            | UpgradeEvent::ClientTls
            | UpgradeEvent::ClientCleartext
            | UpgradeEvent::HeldCleartext
            | UpgradeEvent::HellosSeen
            | UpgradeEvent::End => Side::Client,
        }
    }

    /// Every event.
    #[cfg(test)]
    pub(crate) const ALL: [UpgradeEvent; 10] = [
        UpgradeEvent::Requested,
        UpgradeEvent::Accepted,
        UpgradeEvent::Refused,
        UpgradeEvent::ClientTls,
        UpgradeEvent::ClientCleartext,
        UpgradeEvent::ServerTls,
        UpgradeEvent::ServerCleartext,
        UpgradeEvent::HeldCleartext,
        UpgradeEvent::HellosSeen,
        UpgradeEvent::End,
    ];

    fn name(self) -> &'static str {
        match self {
            UpgradeEvent::Requested => "requested",
            UpgradeEvent::Accepted => "accepted",
            UpgradeEvent::Refused => "refused",
            UpgradeEvent::ClientTls => "client TLS",
            UpgradeEvent::ClientCleartext => "client cleartext",
            UpgradeEvent::ServerTls => "server TLS",
            UpgradeEvent::ServerCleartext => "server cleartext",
            UpgradeEvent::HeldCleartext => "held cleartext",
            UpgradeEvent::HellosSeen => "hellos seen",
            UpgradeEvent::End => "end",
        }
    }
}

impl fmt::Display for UpgradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for UpgradeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for UnlistedTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.event, self.state)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
