//! What the SMTP samples, the clean ones and the implicit-TLS-port one
//! must show.

use super::{Cred, Ev, Expect, cred, fin, finding, line, masked, secret, session, word_at};
use crate::gen_samples::conversation::Dir::{self, Client as C, Server as S};
use crate::gen_samples::dialogs::smtp::{EHLO, MX, READY_FOR_TLS, STARTTLS};
use crate::gen_samples::findings as fx;
use crate::gen_samples::findings_smtp as fs;
use crate::gen_samples::mechanisms as mech;

/// The first line of a reply.
pub fn first(reply: &str) -> &str {
    reply.lines().next().unwrap()
}

const MAIL: &str = "MAIL FROM:<alice@example.com> SIZE=1500";

pub fn clean_starttls() -> Expect {
    Expect {
        name: "clean-starttls.pcap",
        sessions: vec![
            session("smtp").upgraded(),
            session("smtp").upgraded(),
            session("imap").upgraded(),
            session("pop3").upgraded(),
        ],
        findings: vec![],
    }
}

pub fn clean_implicit_tls() -> Expect {
    let tls = |p| session(p).implicit().starttls(None, false, None, true);
    Expect {
        name: "clean-implicit-tls.pcap",
        sessions: vec![tls("smtp"), tls("imap"), tls("pop3")],
        findings: vec![],
    }
}

pub fn plaintext_on_implicit_ports() -> Expect {
    let f = |s, greeting| {
        finding(
            s,
            "plaintext-on-implicit-tls-port",
            "medium",
            vec![line(S, greeting)],
        )
    };
    Expect {
        name: "plaintext-on-implicit-tls-ports.pcap",
        sessions: vec![
            // The client's ClientHello made it implicit TLS; no ServerHello.
            session("smtp").implicit(),
            session("imap").offered_unused(),
            session("pop3"),
        ],
        findings: vec![
            f(1, fx::SMTP_465_GREETING),
            f(2, fx::IMAP_993_GREETING),
            f(3, fx::POP3_995_GREETING),
        ],
    }
}

pub fn asa() -> Expect {
    Expect {
        name: "smtp-asa.pcap",
        sessions: vec![session("smtp").not_offered()],
        findings: vec![
            finding(
                1,
                "starttls-stripped",
                "high",
                vec![line(S, "250-XXXXXXXA")],
            ),
            finding(
                1,
                "banner-masked",
                "low",
                vec![line(S, &fs::asa_greeting())],
            ),
        ],
    }
}

pub fn stripped_cross_session() -> Expect {
    let list = first(MX.ehlo_reply);
    Expect {
        name: "smtp-stripped-cross-session.pcap",
        sessions: vec![session("smtp").not_offered(), session("smtp").upgraded()],
        findings: vec![finding(
            1,
            "starttls-stripped",
            "high",
            vec![line(S, list), line(S, list).in_session(2)],
        )],
    }
}

pub fn no_starttls() -> Expect {
    let list = first(MX.ehlo_reply);
    Expect {
        name: "smtp-no-starttls.pcap",
        sessions: vec![session("smtp").not_offered(), session("smtp").not_offered()],
        findings: vec![
            finding(1, "no-starttls-offered", "low", vec![line(S, list)]),
            finding(
                2,
                "no-starttls-offered",
                "medium",
                vec![line(S, list), line(C, MAIL)],
            ),
        ],
    }
}

pub fn starttls_not_used() -> Expect {
    Expect {
        name: "smtp-starttls-not-used.pcap",
        sessions: vec![
            session("smtp").offered_unused(),
            session("smtp").offered_unused(),
        ],
        findings: vec![finding(
            1,
            "starttls-not-used",
            "medium",
            vec![line(S, first(MX.ehlo_reply)), line(C, MAIL)],
        )],
    }
}

pub fn starttls_rejected() -> Expect {
    Expect {
        name: "smtp-starttls-rejected.pcap",
        sessions: vec![session("smtp").starttls(Some(true), true, Some(false), false)],
        findings: vec![finding(
            1,
            "starttls-rejected",
            "medium",
            vec![line(C, STARTTLS), line(S, fs::REJECTED)],
        )],
    }
}

pub fn command_tampered() -> Expect {
    Expect {
        name: "smtp-command-tampered.pcap",
        sessions: vec![session("smtp").offered_unused()],
        findings: vec![finding(
            1,
            "starttls-command-tampered",
            "high",
            vec![line(C, fs::OVERWRITTEN), line(S, fs::UNRECOGNIZED)],
        )],
    }
}

pub fn tls_not_established() -> Expect {
    let accepted = || session("smtp").starttls(Some(true), true, Some(true), false);
    let f = |s, evidence| finding(s, "tls-not-established", "high", evidence);
    Expect {
        name: "smtp-tls-not-established.pcap",
        sessions: vec![accepted(), accepted(), accepted()],
        findings: vec![
            // The second EHLO, after the go-ahead.
            f(1, vec![line(S, READY_FOR_TLS), line(C, EHLO)]),
            // The client's last packet of the session (its FIN, which
            // acknowledges the 220) shows it was there after the go-ahead.
            f(2, vec![line(S, READY_FOR_TLS), fin(C)]),
            // No client packet after the 220: the reset closed it.
            f(3, vec![line(S, READY_FOR_TLS)]),
        ],
    }
}

pub fn injection() -> Expect {
    let injected = first(fs::INJECTED_REPLY);
    let f = |s, evidence| finding(s, "starttls-injection", "high", evidence);
    Expect {
        name: "smtp-injection.pcap",
        sessions: vec![
            session("smtp").upgraded(),
            session("smtp").upgraded(),
            session("smtp").upgraded(),
        ],
        findings: vec![
            f(1, vec![line(C, "STARTTLS"), line(C, "RSET")]),
            f(2, vec![line(S, READY_FOR_TLS), line(S, injected)]),
            f(3, vec![line(S, READY_FOR_TLS), line(S, injected)]),
        ],
    }
}

pub fn helo_fallback() -> Expect {
    let (r502, r500) = (fs::EHLO_REFUSED_502, fs::EHLO_REFUSED_500);
    Expect {
        name: "smtp-helo-fallback.pcap",
        sessions: vec![session("smtp").not_offered(), session("smtp").not_offered()],
        findings: vec![
            finding(
                1,
                "no-starttls-offered",
                "medium",
                vec![line(S, r502), line(C, MAIL)],
            ),
            finding(
                1,
                "helo-fallback",
                "medium",
                vec![line(S, r502), line(C, fs::HELO)],
            ),
            finding(2, "no-starttls-offered", "low", vec![line(S, r500)]),
            finding(
                2,
                "helo-fallback",
                "medium",
                vec![line(S, r500), line(C, fs::HELO)],
            ),
        ],
    }
}

/// The evidence of an AUTH exchange: the command (its initial response,
/// after `command_words` words, masked), the challenges as sent, the
/// responses masked whole, the verdict.
pub fn sasl_evidence(lines: &[(Dir, String)], command_words: usize) -> Vec<Ev> {
    lines
        .iter()
        .enumerate()
        .map(|(i, (dir, text))| match (dir, i) {
            (C, 0) if text.split(' ').count() > command_words => {
                masked(C, text, word_at(text, command_words))
            }
            (C, 0) => line(C, text),
            (C, _) => secret(C, text),
            (S, _) => line(S, text),
        })
        .collect()
}

/// The credential each AUTH session of `smtp-auth.pcap` yields.
pub fn auth_credentials() -> Vec<Cred> {
    let [_, _, _, nt] = fs::ntlm_exchange();
    let hex: String = nt.iter().map(|b| format!("{b:02x}")).collect();
    let pw = |a: mech::Account| Some(a.secret);
    let cram = mech::cram_md5(mech::SMTP_CRAM, fs::CRAM_CHALLENGE).1;
    let digest = fs::DIGEST.digest(mech::SMTP_DIGEST, "AUTHENTICATE");
    let c = |m, a: mech::Account, outcome, kind, s: Option<&str>| cred(m, a.user, outcome, kind, s);
    vec![
        c(
            "PLAIN",
            mech::SMTP_PLAIN,
            "success",
            "password",
            pw(mech::SMTP_PLAIN),
        ),
        c(
            "LOGIN",
            mech::SMTP_LOGIN,
            "failure",
            "password",
            pw(mech::SMTP_LOGIN),
        ),
        c(
            "LOGIN",
            mech::SMTP_LOGIN_IR,
            "success",
            "password",
            pw(mech::SMTP_LOGIN_IR),
        ),
        c(
            "CRAM-MD5",
            mech::SMTP_CRAM,
            "success",
            "challenge-response",
            Some(&cram),
        ),
        c(
            "DIGEST-MD5",
            mech::SMTP_DIGEST,
            "success",
            "challenge-response",
            Some(&digest),
        ),
        c(
            "XOAUTH2",
            mech::SMTP_XOAUTH2,
            "failure",
            "token",
            pw(mech::SMTP_XOAUTH2),
        ),
        c(
            "OAUTHBEARER",
            mech::SMTP_OAUTHBEARER,
            "success",
            "token",
            pw(mech::SMTP_OAUTHBEARER),
        ),
        c(
            "NTLM",
            mech::SMTP_NTLM,
            "success",
            "challenge-response",
            Some(&hex),
        ),
        c("SCRAM-SHA-1", mech::SMTP_SCRAM1, "success", "none", None),
    ]
}

pub fn auth() -> Expect {
    let mut sessions = Vec::new();
    let mut findings = Vec::new();
    let creds = auth_credentials();
    for (i, ((mechanism, lines), c)) in fs::auth_dialogs().into_iter().zip(creds).enumerate() {
        let id = i as u64 + 1;
        assert_eq!(mechanism, c.mechanism);
        let evidence = sasl_evidence(&lines, 2);
        findings.push(finding(
            id,
            "no-starttls-offered",
            "medium",
            vec![line(S, first(fs::SUBMIT_EHLO_REPLY)), evidence[0].clone()],
        ));
        let accepted = c.outcome == "success";
        let verdict = match c.secret_kind {
            "password" | "token" => Some((
                "cleartext-credentials",
                if accepted { "critical" } else { "high" },
            )),
            "challenge-response" => Some(("weak-credentials-exposed", "high")),
            _ => None,
        };
        if let Some((kind, severity)) = verdict {
            findings.push(finding(id, kind, severity, evidence));
        }
        sessions.push(session("smtp").not_offered().cred(c));
    }
    Expect {
        name: "smtp-auth.pcap",
        sessions,
        findings,
    }
}

pub fn all() -> Vec<Expect> {
    vec![
        clean_starttls(),
        clean_implicit_tls(),
        plaintext_on_implicit_ports(),
        asa(),
        stripped_cross_session(),
        no_starttls(),
        starttls_not_used(),
        starttls_rejected(),
        command_tampered(),
        tls_not_established(),
        injection(),
        helo_fallback(),
        auth(),
    ]
}
