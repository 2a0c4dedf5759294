//! The upgrade lifecycle as a table, one row per transition (as
//! tls-parser's `tls_states.rs` tests its machine): every listed pair gives
//! its row's step, and every pair the table does not list is an
//! [`UnlistedTransition`].

use super::UpgradeAction as A;
use super::UpgradeEvent as E;
use super::UpgradeState as S;
use super::*;

#[rustfmt::skip]
const ROWS: &[(S, E, S, A)] = &[
    (S::Start,          E::ClientCleartext, S::Cleartext,      A::None),
    (S::Start,          E::ServerCleartext, S::Cleartext,      A::None),
    (S::Start,          E::ClientTls,       S::ImplicitTls,    A::ImplicitTls),
    (S::Start,          E::ServerTls,       S::ImplicitTls,    A::ImplicitTls),
    (S::Start,          E::End,             S::Start,          A::None),

    (S::Cleartext,      E::ClientCleartext, S::Cleartext,      A::None),
    (S::Cleartext,      E::ServerCleartext, S::Cleartext,      A::None),
    (S::Cleartext,      E::ClientTls,       S::ImplicitTls,    A::ImplicitTlsAfterGreeting),
    (S::Cleartext,      E::ServerTls,       S::ImplicitTls,    A::ImplicitTls),
    (S::Cleartext,      E::Requested,       S::Requested,      A::HoldClient),
    (S::Cleartext,      E::Accepted,        S::GoAhead,        A::ExpectTls),
    (S::Cleartext,      E::Refused,         S::Cleartext,      A::None),
    (S::Cleartext,      E::End,             S::Cleartext,      A::None),

    (S::Requested,      E::Accepted,        S::GoAhead,        A::ExpectTls),
    (S::Requested,      E::Refused,         S::Cleartext,      A::ReleaseAsCommands),
    (S::Requested,      E::ServerCleartext, S::Requested,      A::None),
    (S::Requested,      E::End,             S::Unanswered,     A::ReleaseExpectingTls),

    (S::GoAhead,        E::HeldCleartext,   S::Injected,       A::ReplayInjected),
    (S::GoAhead,        E::ClientTls,       S::Handshake,      A::None),
    (S::GoAhead,        E::ClientCleartext, S::NotEstablished, A::ClientStayedCleartext),
    (S::GoAhead,        E::ServerCleartext, S::GoAhead,        A::ResponseInjection),
    (S::GoAhead,        E::ServerTls,       S::GoAhead,        A::None),
    (S::GoAhead,        E::End,             S::GoAhead,        A::None),

    (S::Injected,       E::Requested,       S::Injected,       A::None),
    (S::Injected,       E::ClientTls,       S::Handshake,      A::None),
    (S::Injected,       E::ClientCleartext, S::NotEstablished, A::ClientStayedCleartext),
    (S::Injected,       E::ServerCleartext, S::Injected,       A::None),
    (S::Injected,       E::ServerTls,       S::Injected,       A::None),
    (S::Injected,       E::End,             S::Injected,       A::None),

    (S::Handshake,      E::ServerTls,       S::Handshake,      A::None),
    (S::Handshake,      E::ServerCleartext, S::NotEstablished, A::None),
    (S::Handshake,      E::HellosSeen,      S::Tls,            A::None),
    (S::Handshake,      E::End,             S::Handshake,      A::None),

    (S::Tls,            E::End,             S::Tls,            A::None),

    (S::ImplicitTls,    E::ClientTls,       S::ImplicitTls,    A::ImplicitTls),
    (S::ImplicitTls,    E::ServerTls,       S::ImplicitTls,    A::None),
    (S::ImplicitTls,    E::ClientCleartext, S::ImplicitTls,    A::None),
    (S::ImplicitTls,    E::ServerCleartext, S::ImplicitTls,    A::None),
    (S::ImplicitTls,    E::HellosSeen,      S::ImplicitTls,    A::None),
    (S::ImplicitTls,    E::End,             S::ImplicitTls,    A::None),

    (S::NotEstablished, E::Requested,       S::Requested,      A::HoldClient),
    (S::NotEstablished, E::ServerCleartext, S::NotEstablished, A::None),
    (S::NotEstablished, E::ServerTls,       S::NotEstablished, A::None),
    (S::NotEstablished, E::HellosSeen,      S::NotEstablished, A::None),
    (S::NotEstablished, E::End,             S::NotEstablished, A::None),

    (S::Unanswered,     E::ClientTls,       S::Handshake,      A::None),
    (S::Unanswered,     E::ClientCleartext, S::NotEstablished, A::ClientStayedCleartext),
    (S::Unanswered,     E::End,             S::Unanswered,     A::None),
];

#[test]
fn every_row_is_a_transition() {
    for &(state, event, next, action) in ROWS {
        let step = transition(state, event);
        assert_eq!(
            step,
            Ok(Step { next, action }),
            "{state} + {event}: expected {state} → {next} ({action:?})"
        );
    }
}

#[test]
fn every_pair_not_in_the_table_is_unlisted() {
    for state in UpgradeState::ALL {
        for event in UpgradeEvent::ALL {
            if ROWS.iter().any(|r| (r.0, r.1) == (state, event)) {
                continue;
            }
            match transition(state, event) {
                Err(unlisted) => assert_eq!(unlisted, UnlistedTransition { state, event }),
                Ok(step) => panic!("{state} + {event} → {} is not in the table", step.next),
            }
        }
    }
}

#[test]
fn every_state_but_the_start_is_reached_and_the_table_has_no_duplicate() {
    for state in UpgradeState::ALL {
        let reached = ROWS.iter().any(|r| r.2 == state && r.0 != state);
        assert!(state == S::Start || reached, "{state} is never entered");
    }
    for (n, a) in ROWS.iter().enumerate() {
        let twice = ROWS.iter().skip(n + 1).any(|b| (a.0, a.1) == (b.0, b.1));
        assert!(!twice, "{} + {} listed twice", a.0, a.1);
    }
}

#[test]
fn states_and_unlisted_pairs_display_compactly() {
    let step = transition(S::Requested, E::Accepted).unwrap();
    assert_eq!(
        format!("{} → {}", S::Requested, step.next),
        "Requested → GoAhead"
    );
    let unlisted = transition(S::Tls, E::Requested).unwrap_err();
    assert_eq!(unlisted.to_string(), "requested in Tls");
}

/// The transition table as docs/architecture.md shows it: every listed
/// pair, in the order of the states and events.
fn markdown_table() -> String {
    let mut out = String::from("| state | event | next state | action |\n|---|---|---|---|\n");
    for state in UpgradeState::ALL {
        for event in UpgradeEvent::ALL {
            if let Ok(step) = transition(state, event) {
                let action = format!("{:?}", step.action);
                out.push_str(&format!(
                    "| {state} | {event} | {} | {action} |\n",
                    step.next
                ));
            }
        }
    }
    out
}

/// docs/architecture.md's table is the code's (regenerate it with
/// `STRIPWATCH_BLESS=1 cargo test --lib upgrade`).
#[test]
fn architecture_doc_shows_the_transition_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/architecture.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let (start, end) = (
        "<!-- upgrade-table:start -->\n",
        "<!-- upgrade-table:end -->",
    );
    let from = doc.find(start).expect("start marker") + start.len();
    let to = doc.find(end).expect("end marker");
    let table = markdown_table();
    if std::env::var("STRIPWATCH_BLESS").is_ok_and(|v| v == "1") {
        let blessed = format!("{}{table}{}", &doc[..from], &doc[to..]);
        std::fs::write(path, blessed).unwrap();
        return;
    }
    assert_eq!(
        &doc[from..to],
        table,
        "docs/architecture.md is stale: bless it"
    );
}
