//! The verdict summary: one sentence per server and kind of finding, in
//! words an analyst can paste into a ticket.

use crate::analysis::{FindingKind, ServerProfile, Severity};
use std::collections::BTreeMap;

/// Severity of a kind as the summary orders it (the most severe a session
/// of that kind can have: its rule's severity).
fn rank(kind: FindingKind) -> Severity {
    kind.rule().severity
}

/// Sentences for every server with findings, most severe first.
pub fn verdict(servers: &[&ServerProfile]) -> Vec<(Severity, String)> {
    let mut out = Vec::new();
    for p in servers {
        for (kind, n) in &p.findings {
            if *n > 0 {
                out.push((rank(*kind), sentence(p, *kind, *n)));
            }
        }
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.0));
    out
}

fn sentence(p: &ServerProfile, kind: FindingKind, n: u64) -> String {
    use FindingKind::*;
    let (m, s) = (p.sessions, p.server.as_str());
    let kw = if p.protocol == "pop3" {
        "STLS"
    } else {
        "STARTTLS"
    };
    let of = |n: u64| match (n, m) {
        (1, 1) => "the one".to_string(),
        (2, 2) => "both".to_string(),
        (n, m) if n == m => format!("all {m}"),
        (n, m) => format!("{n} of {m}"),
    };
    let sessions = |n: u64| if n == 1 { "session" } else { "sessions" };
    let mut text = match kind {
        StarttlsStripped => {
            let asa = p.asa_masked.min(n);
            let mut parts = Vec::new();
            if asa > 0 {
                parts.push(format!(
                    "{} {} to {s} had STARTTLS replaced by XXXXXXXA, the signature of a Cisco ASA inspect esmtp policy",
                    of(asa),
                    sessions(m)
                ));
            }
            if n > asa {
                parts.push(format!(
                    "{} {} to {s} had {kw} stripped from the server's capabilities on the path",
                    of(n - asa),
                    sessions(m)
                ));
            }
            parts.join("; ")
        }
        BannerMasked => format!(
            "the greeting of {s} was masked with asterisks in {} {} (Cisco ASA mask-banner)",
            of(n),
            sessions(m)
        ),
        StarttlsCommandTampered => format!(
            "in {} {} to {s} the client's {kw} arrived overwritten ({}) and was refused: a middlebox rewrote the command",
            of(n),
            sessions(m),
            // As long as the keyword: XXXX for POP3's STLS.
            "X".repeat(kw.len())
        ),
        StarttlsRejected => format!("{s} refused {kw} in {} {}", of(n), sessions(m)),
        TlsNotEstablished => format!(
            "{s} accepted {kw} in {} {} but no TLS handshake followed",
            of(n),
            sessions(m)
        ),
        StarttlsInjection => format!(
            "{} {} to {s} carried cleartext injected around {kw} (command or response injection)",
            of(n),
            sessions(m)
        ),
        StarttlsNotUsed => format!(
            "{} {} to {s} did not use the {kw} the server offered",
            of(n),
            sessions(m)
        ),
        NoStarttlsOffered => format!("{s} did not offer {kw} in {} {}", of(n), sessions(m)),
        CleartextCredentials => format!(
            "{} {} to {s} sent a password or token in cleartext",
            of(n),
            sessions(m)
        ),
        WeakCredentialsExposed => format!(
            "{} {} to {s} exposed crackable challenge-response logins",
            of(n),
            sessions(m)
        ),
        PlaintextOnImplicitTlsPort => format!(
            "{s} spoke cleartext {} on an implicit-TLS port in {} {}",
            p.protocol.to_uppercase(),
            of(n),
            sessions(m)
        ),
        PreauthNoTls => format!(
            "{s} pre-authenticated {} cleartext {} (IMAP PREAUTH): STARTTLS was impossible",
            of(n),
            sessions(m)
        ),
        HeloFallback => format!(
            "{} {} to {s} fell back from EHLO to HELO, so no STARTTLS was possible",
            of(n),
            sessions(m)
        ),
    };
    if let Some(logins) = p.logins_after.get(&kind).filter(|l| !l.is_empty()) {
        let total: u64 = logins.values().sum();
        let list = mechanisms(p.protocol, logins);
        if logins.len() == 1 {
            let only = list.split(" ×").next().unwrap_or_default();
            text.push_str(&format!("; {total} then sent {only} in cleartext"));
        } else {
            text.push_str(&format!(
                "; {total} then sent credentials in cleartext ({list})"
            ));
        }
    }
    text.push('.');
    text
}

/// `AUTH LOGIN ×2, AUTH PLAIN` / `LOGIN` / `USER/PASS`.
fn mechanisms(protocol: &str, logins: &BTreeMap<String, u64>) -> String {
    let name = |m: &str| match (protocol, m) {
        (_, "IMAP-LOGIN") => "LOGIN".to_string(),
        (_, "USER-PASS") => "USER/PASS".to_string(),
        (_, "APOP") => "APOP".to_string(),
        ("imap", m) => format!("AUTHENTICATE {m}"),
        (_, m) => format!("AUTH {m}"),
    };
    logins
        .iter()
        .map(|(m, n)| {
            if *n > 1 {
                format!("{} ×{n}", name(m))
            } else {
                name(m)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asa_sentence() {
        let mut p = ServerProfile {
            server: "203.0.113.5:587".into(),
            protocol: "smtp",
            sessions: 5,
            asa_masked: 3,
            ..ServerProfile::default()
        };
        p.findings.insert(FindingKind::StarttlsStripped, 3);
        p.logins_after
            .entry(FindingKind::StarttlsStripped)
            .or_default()
            .insert("LOGIN".into(), 2);
        let v = verdict(&[&p]);
        assert_eq!(
            v[0].1,
            "3 of 5 sessions to 203.0.113.5:587 had STARTTLS replaced by XXXXXXXA, the signature \
             of a Cisco ASA inspect esmtp policy; 2 then sent AUTH LOGIN in cleartext."
        );
    }
}
