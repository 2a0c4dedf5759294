//! What the samples under `samples/wild/quirks/` must show, evidence
//! packets included: the capability list cited is the one the client had
//! seen when it went on (issue 19, class 7).

use super::smtp::{first, sasl_evidence};
use super::{Expect, cred, finding, line, masked, session, word_at};
use crate::gen_samples::conversation::Dir::{self, Client as C, Server as S};
use crate::gen_samples::dialogs::smtp::{EHLO, READY_FOR_TLS};
use crate::gen_samples::mechanisms::b64;

fn login_lines(command: &str, user: &str, password: &str) -> Vec<(Dir, String)> {
    vec![
        (C, command.to_string()),
        (S, "334 VXNlcm5hbWU6".to_string()),
        (C, b64(user.as_bytes())),
        (S, "334 UGFzc3dvcmQ6".to_string()),
        (C, b64(password.as_bytes())),
        (S, "235 2.7.0 Authentication successful".to_string()),
    ]
}

pub fn decisive_list() -> Expect {
    let login = sasl_evidence(&login_lines("AUTH LOGIN", "carol", "pw-two-lists"), 2);
    // Not the first EHLO reply (`Hello client.example.com`): the second.
    let second_list = line(S, "250-relay.example.org Hello [192.0.2.20] [192.0.2.20]");
    let imap_login = "a2 LOGIN dave pw-imap-two-lists";
    let imap_login = masked(C, imap_login, word_at(imap_login, 3));
    // Not the greeting's code: the CAPABILITY reply before LOGIN.
    let imap_offer = line(
        S,
        "* CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE STARTTLS AUTH=PLAIN",
    );
    Expect {
        name: "wild/quirks/evidence-decisive-list.pcap",
        sessions: vec![
            session("smtp").not_offered().cred(cred(
                "LOGIN",
                "carol",
                "success",
                "password",
                Some("pw-two-lists"),
            )),
            session("imap").offered_unused().cred(cred(
                "IMAP-LOGIN",
                "dave",
                "success",
                "password",
                Some("pw-imap-two-lists"),
            )),
        ],
        findings: vec![
            finding(
                1,
                "no-starttls-offered",
                "medium",
                vec![second_list, login[0].clone()],
            ),
            finding(1, "cleartext-credentials", "critical", login),
            finding(
                2,
                "starttls-not-used",
                "medium",
                vec![imap_offer, imap_login.clone()],
            ),
            finding(
                2,
                "cleartext-credentials",
                "critical",
                vec![
                    imap_login,
                    line(S, "a2 OK [CAPABILITY IMAP4rev1 IDLE] Logged in"),
                ],
            ),
        ],
    }
}

pub fn decrypted_export() -> Expect {
    let plain = format!("AUTH PLAIN {}", b64(b"\0erin\0pw-decrypted-export"));
    let auth = vec![
        masked(C, &plain, word_at(&plain, 2)),
        line(S, "235 2.7.0 Authentication successful"),
    ];
    Expect {
        name: "wild/quirks/decrypted-export.pcap",
        sessions: vec![
            session("smtp")
                .starttls(Some(true), true, Some(true), false)
                .cred(cred(
                    "PLAIN",
                    "erin",
                    "success",
                    "password",
                    Some("pw-decrypted-export"),
                )),
        ],
        findings: vec![
            finding(
                1,
                "tls-not-established",
                "high",
                vec![line(S, READY_FOR_TLS), line(C, EHLO)],
            ),
            finding(1, "cleartext-credentials", "critical", auth),
        ],
    }
}

pub fn exchange() -> Expect {
    let login = sasl_evidence(&login_lines("X-EXPS LOGIN", "frank", "pw-exchange-2003"), 2);
    Expect {
        name: "wild/quirks/exchange.pcap",
        sessions: vec![
            session("smtp").upgraded(),
            session("smtp").not_offered().cred(cred(
                "LOGIN",
                "frank",
                "success",
                "password",
                Some("pw-exchange-2003"),
            )),
        ],
        findings: vec![
            finding(
                2,
                "no-starttls-offered",
                "medium",
                vec![
                    line(S, first("250-mail.example.org Hello [192.0.2.20]\r\n")),
                    login[0].clone(),
                ],
            ),
            finding(2, "cleartext-credentials", "critical", login),
        ],
    }
}

pub fn modern_clients() -> Expect {
    let imap_login = "a3 LOGIN grace pw-before-compress";
    let imap_login = masked(C, imap_login, word_at(imap_login, 3));
    let offer = "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN \
        X-GM-EXT-1 STARTTLS COMPRESS=DEFLATE AUTH=PLAIN";
    Expect {
        name: "wild/quirks/modern-clients.pcap",
        sessions: vec![
            session("imap").offered_unused().cred(cred(
                "IMAP-LOGIN",
                "grace",
                "success",
                "password",
                Some("pw-before-compress"),
            )),
            session("smtp").upgraded(),
            session("smtp").not_offered(),
        ],
        findings: vec![
            finding(
                1,
                "starttls-not-used",
                "medium",
                vec![line(S, offer), imap_login.clone()],
            ),
            finding(
                1,
                "cleartext-credentials",
                "critical",
                vec![imap_login, line(S, "a3 OK grace authenticated (Success)")],
            ),
            finding(
                3,
                "no-starttls-offered",
                "medium",
                vec![
                    line(S, "250-relay.example.org"),
                    line(C, "MAIL FROM:<j\u{f6}rg@b\u{fc}ro.example> SMTPUTF8"),
                ],
            ),
        ],
    }
}
