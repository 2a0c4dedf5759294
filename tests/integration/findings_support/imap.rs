//! What the IMAP samples must show.

use super::smtp::sasl_evidence;
use super::{Expect, cred, finding, line, masked, session, within, word_at};
use crate::gen_samples::conversation::Dir::{Client as C, Server as S};
use crate::gen_samples::dialogs::imap::{READY_FOR_TLS, STARTTLS};
use crate::gen_samples::findings_imap as fi;
use crate::gen_samples::mechanisms as mech;

/// `tag LOGIN user password` with the password masked.
fn login_line(tag: &str, user: &str, password: &str) -> super::Ev {
    let text = format!("{tag} LOGIN {user} {password}");
    masked(C, &text, word_at(&text, 3))
}

pub fn masked_caps() -> Expect {
    let a = mech::IMAP_MASKED;
    Expect {
        name: "imap-masked.pcap",
        sessions: vec![session("imap").not_offered().cred(cred(
            "IMAP-LOGIN",
            a.user,
            "success",
            "password",
            Some(a.secret),
        ))],
        findings: vec![
            // The first list with the mask: the greeting's code.
            finding(
                1,
                "starttls-stripped",
                "high",
                vec![line(S, &fi::greeting(fi::MASKED_CAPS))],
            ),
            finding(
                1,
                "cleartext-credentials",
                "critical",
                vec![
                    login_line("a002", a.user, a.secret),
                    line(S, &fi::logged_in("a002")),
                ],
            ),
        ],
    }
}

pub fn starttls_not_used() -> Expect {
    let a = mech::IMAP_ATOM;
    let greeting = fi::greeting(fi::CAPS);
    Expect {
        name: "imap-starttls-not-used.pcap",
        sessions: vec![
            session("imap").offered_unused().cred(cred(
                "IMAP-LOGIN",
                a.user,
                "success",
                "password",
                Some(a.secret),
            )),
            session("imap").offered_unused(),
        ],
        findings: vec![
            finding(
                1,
                "starttls-not-used",
                "medium",
                vec![line(S, &greeting), login_line("a001", a.user, a.secret)],
            ),
            finding(
                1,
                "cleartext-credentials",
                "critical",
                vec![
                    login_line("a001", a.user, a.secret),
                    line(S, &fi::logged_in("a001")),
                ],
            ),
        ],
    }
}

pub fn login_forms() -> Expect {
    let greeting = fi::greeting(fi::CAPS);
    let (q, lit, plus) = (
        mech::IMAP_QUOTED,
        mech::IMAP_LITERAL,
        mech::IMAP_LITERAL_PLUS,
    );
    let quoted = login_line("a001", &fi::quoted(q.user), &fi::quoted(q.secret));
    let literal = format!("a001 LOGIN {{{}}}", lit.user.len());
    let literal_rest = format!("{} {{{}}}", lit.user, lit.secret.len());
    let plus_line = format!("a001 LOGIN {} {{{}+}}", plus.user, plus.secret.len());
    let not_used = |s, command| {
        finding(
            s,
            "starttls-not-used",
            "medium",
            vec![line(S, &greeting), command],
        )
    };
    Expect {
        name: "imap-login-forms.pcap",
        sessions: vec![
            session("imap").offered_unused().cred(cred(
                "IMAP-LOGIN",
                q.user,
                "failure",
                "password",
                Some(q.secret),
            )),
            session("imap").offered_unused().cred(cred(
                "IMAP-LOGIN",
                lit.user,
                "success",
                "password",
                Some(lit.secret),
            )),
            session("imap").offered_unused().cred(cred(
                "IMAP-LOGIN",
                plus.user,
                "success",
                "password",
                Some(plus.secret),
            )),
        ],
        findings: vec![
            not_used(1, quoted.clone()),
            finding(
                1,
                "cleartext-credentials",
                "high",
                vec![quoted, line(S, fi::LOGIN_FAILED)],
            ),
            // A literal after LOGIN is read by no one but the exchange: masked,
            // like the command's continuation.
            not_used(2, masked(C, &literal, word_at(&literal, 2))),
            // The command's lines: the first, and the one after the
            // username literal (the password literal is in no line).
            finding(
                2,
                "cleartext-credentials",
                "critical",
                vec![
                    masked(C, &literal, word_at(&literal, 2)),
                    within(
                        C,
                        &literal_rest,
                        &"*".repeat(format!(" {{{}}}", lit.secret.len()).len()),
                    ),
                    line(S, &fi::logged_in("a001")),
                ],
            ),
            not_used(3, masked(C, &plus_line, word_at(&plus_line, 3))),
            finding(
                3,
                "cleartext-credentials",
                "critical",
                vec![
                    masked(C, &plus_line, word_at(&plus_line, 3)),
                    line(S, &fi::logged_in("a001")),
                ],
            ),
        ],
    }
}

pub fn sasl() -> Expect {
    let greeting = fi::greeting(fi::CAPS);
    let dialogs = fi::sasl_dialogs();
    let evidence: Vec<_> = dialogs.iter().map(|(_, l)| sasl_evidence(l, 3)).collect();
    let (plain, scram) = (mech::IMAP_PLAIN, mech::IMAP_SCRAM256);
    let not_used = |s: u64| {
        let command = evidence[s as usize - 1][0].clone();
        finding(
            s,
            "starttls-not-used",
            "medium",
            vec![line(S, &greeting), command],
        )
    };
    Expect {
        name: "imap-sasl.pcap",
        sessions: vec![
            session("imap").offered_unused().cred(cred(
                "PLAIN",
                plain.user,
                "success",
                "password",
                Some(plain.secret),
            )),
            session("imap").offered_unused().cred(cred(
                "SCRAM-SHA-256",
                scram.user,
                "success",
                "none",
                None,
            )),
            // GSSAPI: nothing names the user, so nothing is listed.
            session("imap").offered_unused(),
        ],
        findings: vec![
            not_used(1),
            finding(1, "cleartext-credentials", "critical", evidence[0].clone()),
            not_used(2),
            not_used(3),
        ],
    }
}

/// A PREAUTH greeting carries post-login capabilities, which never list
/// STARTTLS (RFC 3501 6.2.1): it proves nothing about STARTTLS, so neither
/// no-starttls-offered nor (with session 2 offering it) starttls-stripped.
pub fn preauth() -> Expect {
    Expect {
        name: "imap-preauth.pcap",
        sessions: vec![session("imap"), session("imap").upgraded()],
        findings: vec![finding(
            1,
            "preauth-no-tls",
            "high",
            vec![line(S, &fi::preauth_greeting())],
        )],
    }
}

pub fn starttls_rejected() -> Expect {
    Expect {
        name: "imap-starttls-rejected.pcap",
        sessions: vec![session("imap").starttls(Some(true), true, Some(false), false)],
        findings: vec![finding(
            1,
            "starttls-rejected",
            "medium",
            vec![line(C, "a001 STARTTLS"), line(S, fi::REJECTED)],
        )],
    }
}

pub fn command_tampered() -> Expect {
    Expect {
        name: "imap-command-tampered.pcap",
        sessions: vec![session("imap").offered_unused()],
        findings: vec![finding(
            1,
            "starttls-command-tampered",
            "high",
            vec![line(C, fi::OVERWRITTEN), line(S, fi::UNKNOWN_COMMAND)],
        )],
    }
}

/// The injected line is the server's, and holds no secret: shown whole.
pub fn response_injection() -> Expect {
    Expect {
        name: "imap-response-injection.pcap",
        sessions: vec![session("imap").upgraded()],
        findings: vec![finding(
            1,
            "starttls-injection",
            "high",
            vec![line(S, READY_FOR_TLS), line(S, fi::INJECTED)],
        )],
    }
}

pub fn all() -> Vec<Expect> {
    // `STARTTLS` is a002's in the dialogs module; the samples' own use a001.
    assert!(STARTTLS.starts_with("a002 "));
    vec![
        masked_caps(),
        starttls_not_used(),
        login_forms(),
        sasl(),
        preauth(),
        starttls_rejected(),
        command_tampered(),
        response_injection(),
    ]
}
