//! What the POP3 samples must show.

use super::{Expect, cred, finding, line, masked, secret, session};
use crate::gen_samples::conversation::Dir::{Client as C, Server as S};
use crate::gen_samples::findings_pop3 as fp;
use crate::gen_samples::mechanisms::{self as mech, Account};

/// USER, PASS (password masked) and the verdict.
fn user_pass(a: Account, verdict: &str) -> Vec<super::Ev> {
    vec![
        line(C, &format!("USER {}", a.user)),
        masked(C, &format!("PASS {}", a.secret), 5),
        line(S, verdict),
    ]
}

fn password(a: Account, outcome: &'static str) -> super::Cred {
    cred("USER-PASS", a.user, outcome, "password", Some(a.secret))
}

pub fn masked_capa() -> Expect {
    let a = mech::POP3_MASKED;
    Expect {
        name: "pop3-masked.pcap",
        sessions: vec![session("pop3").not_offered().cred(password(a, "success"))],
        findings: vec![
            finding(1, "starttls-stripped", "high", vec![line(S, "XXXX")]),
            finding(
                1,
                "cleartext-credentials",
                "critical",
                user_pass(a, fp::LOGGED_IN),
            ),
        ],
    }
}

pub fn starttls_not_used() -> Expect {
    let a = mech::POP3_USER_PASS;
    Expect {
        name: "pop3-starttls-not-used.pcap",
        sessions: vec![
            session("pop3")
                .offered_unused()
                .cred(password(a, "success")),
            session("pop3").offered_unused(),
        ],
        findings: vec![
            // The CAPA list is cited by its first line, the `+OK`.
            finding(
                1,
                "starttls-not-used",
                "medium",
                vec![line(S, "+OK"), line(C, &format!("USER {}", a.user))],
            ),
            finding(
                1,
                "cleartext-credentials",
                "critical",
                user_pass(a, fp::LOGGED_IN),
            ),
        ],
    }
}

pub fn credentials() -> Expect {
    let (apop, plain, refused) = (mech::POP3_APOP, mech::POP3_PLAIN, mech::POP3_USER_PASS_FAIL);
    let digest = mech::apop(apop, fp::APOP_TIMESTAMP);
    let apop_line = format!("APOP {} {digest}", apop.user);
    Expect {
        name: "pop3-credentials.pcap",
        sessions: vec![
            session("pop3").cred(cred(
                "APOP",
                apop.user,
                "success",
                "challenge-response",
                Some(&digest),
            )),
            session("pop3").cred(cred(
                "PLAIN",
                plain.user,
                "failure",
                "password",
                Some(plain.secret),
            )),
            session("pop3").cred(password(refused, "failure")),
        ],
        findings: vec![
            finding(
                1,
                "weak-credentials-exposed",
                "high",
                vec![
                    masked(C, &apop_line, apop_line.len() - digest.len()),
                    line(S, fp::LOGGED_IN),
                ],
            ),
            finding(
                2,
                "cleartext-credentials",
                "high",
                vec![
                    line(C, "AUTH PLAIN"),
                    line(S, fp::SASL_GO_AHEAD),
                    secret(C, &mech::plain(plain)),
                    line(S, fp::AUTH_FAILED),
                ],
            ),
            finding(
                3,
                "cleartext-credentials",
                "high",
                user_pass(refused, fp::AUTH_FAILED),
            ),
        ],
    }
}

pub fn starttls_rejected() -> Expect {
    Expect {
        name: "pop3-starttls-rejected.pcap",
        sessions: vec![session("pop3").starttls(Some(true), true, Some(false), false)],
        findings: vec![finding(
            1,
            "starttls-rejected",
            "medium",
            vec![line(C, "STLS"), line(S, fp::REJECTED)],
        )],
    }
}

pub fn command_tampered() -> Expect {
    Expect {
        name: "pop3-command-tampered.pcap",
        sessions: vec![session("pop3").offered_unused()],
        findings: vec![finding(
            1,
            "starttls-command-tampered",
            "high",
            vec![line(C, fp::OVERWRITTEN), line(S, fp::UNKNOWN_COMMAND)],
        )],
    }
}

pub fn all() -> Vec<Expect> {
    vec![
        masked_capa(),
        starttls_not_used(),
        credentials(),
        starttls_rejected(),
        command_tampered(),
    ]
}
