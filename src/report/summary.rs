//! The verdict summary: one sentence per server and kind of finding, in
//! words an analyst can paste into a ticket.

use crate::analysis::{FindingKind, Proof, ServerProfile, Severity};
use crate::flow::Endpoint;
use std::collections::BTreeMap;

/// Severity of a kind as the summary orders it (the most severe a session
/// of that kind can have: its rule's severity).
fn rank(kind: FindingKind) -> Severity {
    kind.rule().severity
}

/// Sentences for every server with findings, most severe first.
pub(crate) fn verdict(servers: &[&ServerProfile]) -> Vec<(Severity, String)> {
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
    let mut text = Words::of_server(p).finding(kind, n);
    if let Some(logins) = p.logins_after.get(&kind).filter(|l| !l.is_empty()) {
        text.push_str(&logins_clause(p.protocol, logins));
    }
    text.push('.');
    text
}

/// What the sentences about one server say again and again.
struct Words<'a> {
    p: &'a ServerProfile,
    /// The server.
    s: Endpoint,
    /// The STARTTLS command's name in its protocol.
    kw: &'static str,
    /// `session` or `sessions`, for the server's session count.
    sessions: &'static str,
}

impl<'a> Words<'a> {
    fn of_server(p: &'a ServerProfile) -> Self {
        Words {
            p,
            s: p.server,
            kw: crate::proto::Protocol::keyword_of(p.protocol),
            sessions: if p.sessions == 1 {
                "session"
            } else {
                "sessions"
            },
        }
    }

    /// `n` of the server's sessions: "the one", "both", "all 5", "2 of 5".
    fn of(&self, n: u64) -> String {
        match (n, self.p.sessions) {
            (1, 1) => "the one".to_string(),
            (2, 2) => "both".to_string(),
            (n, m) if n == m => format!("all {m}"),
            (n, m) => format!("{n} of {m}"),
        }
    }

    /// The sentence (without its end) for `n` sessions with `kind`.
    fn finding(&self, kind: FindingKind, n: u64) -> String {
        use FindingKind::*;
        let (s, kw, of, sessions) = (self.s, self.kw, self.of(n), self.sessions);
        match kind {
            StarttlsStripped => self.stripped(n),
            BannerMasked => format!(
                "the greeting of {s} was masked with asterisks in {of} {sessions} (Cisco ASA mask-banner)"
            ),
            StarttlsCommandTampered => format!(
                "in {of} {sessions} to {s} the client's {kw} arrived overwritten ({}) and was refused: a middlebox rewrote the command",
                // As long as the keyword: XXXX for POP3's STLS.
                "X".repeat(kw.len())
            ),
            StarttlsRejected => format!("{s} refused {kw} in {of} {sessions}"),
            TlsNotEstablished => {
                format!("{s} accepted {kw} in {of} {sessions} but no TLS handshake followed")
            }
            StarttlsInjection => format!(
                "{of} {sessions} to {s} carried cleartext injected around {kw} (command or response injection)"
            ),
            StarttlsNotUsed => {
                format!("{of} {sessions} to {s} did not use the {kw} the server offered")
            }
            NoStarttlsOffered => format!("{s} did not offer {kw} in {of} {sessions}"),
            CleartextCredentials => {
                format!("{of} {sessions} to {s} sent a password or token in cleartext")
            }
            WeakCredentialsExposed => {
                format!("{of} {sessions} to {s} exposed crackable challenge-response logins")
            }
            PlaintextOnImplicitTlsPort => format!(
                "{s} spoke cleartext {} on an implicit-TLS port in {of} {sessions}",
                self.p.protocol.to_uppercase()
            ),
            PreauthNoTls => format!(
                "{s} pre-authenticated {of} cleartext {sessions} (IMAP PREAUTH): STARTTLS was impossible"
            ),
            HeloFallback => format!(
                "{of} {sessions} to {s} fell back from EHLO to HELO, so no STARTTLS was possible"
            ),
        }
    }

    /// Stripping, told apart by its proof: the ASA's mask, another mask, a
    /// mangled word, another session, the history, another sensor, a policy.
    fn stripped(&self, n: u64) -> String {
        let (s, kw, sessions) = (self.s, self.kw, self.sessions);
        let asa = self.p.asa_masked.min(n);
        let mut parts = Vec::new();
        if asa > 0 {
            parts.push(format!(
                "{} {sessions} to {s} had STARTTLS replaced by XXXXXXXA, the signature of a Cisco ASA inspect esmtp policy",
                self.of(asa)
            ));
        }
        let mut told = asa;
        for proof in Proof::ALL {
            let mut count = self.p.stripped_by.get(&proof).copied().unwrap_or(0);
            if proof == Proof::MaskedToken {
                count = count.saturating_sub(asa);
            }
            let count = count.min(n.saturating_sub(told));
            if count > 0 {
                told += count;
                parts.push(format!(
                    "{} {sessions} to {s} had {kw} {}",
                    self.of(count),
                    proof_words(proof)
                ));
            }
        }
        if n > told {
            parts.push(format!(
                "{} {sessions} to {s} had {kw} stripped from the server's capabilities on the path",
                self.of(n - told)
            ));
        }
        parts.join("; ")
    }
}

/// How a stripping was done and what proves it, after "had STARTTLS".
fn proof_words(proof: Proof) -> &'static str {
    match proof {
        Proof::MaskedToken => "replaced by a same-length mask on the path",
        Proof::MangledToken => "mangled on the path into a word one edit from it",
        Proof::SameRun => {
            "stripped from the server's capabilities on the path (another session in the capture offered it)"
        }
        Proof::History => {
            "stripped on the path (the server offered it in earlier sessions: history)"
        }
        Proof::OtherSensor => {
            "stripped on the path to this sensor (another sensor saw it offered at the same time)"
        }
        Proof::Policy => "missing although the policy requires the server to offer it",
    }
}

/// "; 3 then sent AUTH LOGIN in cleartext", or with the list of mechanisms
/// when there were several.
fn logins_clause(protocol: &str, logins: &BTreeMap<String, u64>) -> String {
    let total: u64 = logins.values().sum();
    let list = mechanisms(protocol, logins);
    if logins.len() == 1 {
        let only = list.split(" ×").next().unwrap_or_default();
        format!("; {total} then sent {only} in cleartext")
    } else {
        format!("; {total} then sent credentials in cleartext ({list})")
    }
}

/// `AUTH LOGIN ×2, AUTH PLAIN` / `LOGIN` / `USER/PASS`.
fn mechanisms(protocol: &str, logins: &BTreeMap<String, u64>) -> String {
    let name = |m: &str| match (protocol, m) {
        (_, "IMAP-LOGIN") => "LOGIN".to_string(),
        (_, "USER-PASS") => "USER/PASS".to_string(),
        (_, "APOP") => "APOP".to_string(),
        ("imap", m) => format!("AUTHENTICATE {m}"),
        // Not SASL: the mechanism's own name (PG-MD5, ...).
        ("postgresql" | "mysql", m) => m.to_string(),
        ("xmpp", m) => format!("SASL {m}"),
        ("ldap", "LDAP-SIMPLE") => "simple bind".to_string(),
        ("ldap", m) => format!("SASL bind {m}"),
        ("managesieve", m) => format!("AUTHENTICATE {m}"),
        ("nntp", "AUTHINFO") => "AUTHINFO USER/PASS".to_string(),
        ("nntp", m) => format!("AUTHINFO SASL {m}"),
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
            server: Endpoint {
                ip: [203, 0, 113, 5].into(),
                port: 587,
            },
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
