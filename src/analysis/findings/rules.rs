//! The findings one session proves by itself, as a table: one rule per
//! [`FindingKind`], with its severity beside the function that finds it and
//! the summary it writes. README's findings table and docs/jsonl.md's list
//! of kinds are tested against [`RULES`].

use super::{
    Finding, FindingKind, Proof, RuleInput, Severity, banner_masked, client_after, is_asa_mask,
    is_mangled, masked_word, shown_bytes,
};
use crate::flow::{EndReason, Side};
use crate::proto::{Evidence, Outcome, Protocol, SecretKind, StarttlsAnswer};
use crate::text;

/// One kind of finding: how bad it is and how a session proves it.
pub(crate) struct Rule {
    pub(crate) kind: FindingKind,
    /// The severity of the finding (the worse one where it varies).
    pub(crate) severity: Severity,
    /// The severity of the milder case, for the rules that have one.
    pub(crate) milder: Option<Severity>,
    /// Adds the findings of this kind that the session proves.
    find: fn(&Rule, &RuleInput<'_>, &mut Vec<Finding>),
}

impl Rule {
    /// The rule's own findings in `input`.
    pub(crate) fn find(&self, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
        (self.find)(self, input, out);
    }

    fn milder(&self) -> Severity {
        self.milder.unwrap_or(self.severity)
    }

    fn finding(
        &self,
        input: &RuleInput<'_>,
        severity: Severity,
        summary: String,
        evidence: &[&Evidence],
    ) -> Finding {
        input.finding(self.kind, severity, summary, evidence)
    }
}

/// Every rule, in the order of [`FindingKind`] (the order of a record's
/// findings).
pub(crate) static RULES: [&Rule; 13] = [
    &STARTTLS_STRIPPED,
    &BANNER_MASKED,
    &NO_STARTTLS_OFFERED,
    &STARTTLS_NOT_USED,
    &STARTTLS_REJECTED,
    &STARTTLS_COMMAND_TAMPERED,
    &TLS_NOT_ESTABLISHED,
    &STARTTLS_INJECTION,
    &CLEARTEXT_CREDENTIALS,
    &WEAK_CREDENTIALS_EXPOSED,
    &PLAINTEXT_ON_IMPLICIT_TLS_PORT,
    &PREAUTH_NO_TLS,
    &HELO_FALLBACK,
];

impl FindingKind {
    /// The rule of this kind.
    pub(crate) fn rule(self) -> &'static Rule {
        match self {
            FindingKind::StarttlsStripped => &STARTTLS_STRIPPED,
            FindingKind::BannerMasked => &BANNER_MASKED,
            FindingKind::NoStarttlsOffered => &NO_STARTTLS_OFFERED,
            FindingKind::StarttlsNotUsed => &STARTTLS_NOT_USED,
            FindingKind::StarttlsRejected => &STARTTLS_REJECTED,
            FindingKind::StarttlsCommandTampered => &STARTTLS_COMMAND_TAMPERED,
            FindingKind::TlsNotEstablished => &TLS_NOT_ESTABLISHED,
            FindingKind::StarttlsInjection => &STARTTLS_INJECTION,
            FindingKind::CleartextCredentials => &CLEARTEXT_CREDENTIALS,
            FindingKind::WeakCredentialsExposed => &WEAK_CREDENTIALS_EXPOSED,
            FindingKind::PlaintextOnImplicitTlsPort => &PLAINTEXT_ON_IMPLICIT_TLS_PORT,
            FindingKind::PreauthNoTls => &PREAUTH_NO_TLS,
            FindingKind::HeloFallback => &HELO_FALLBACK,
        }
    }
}

/// The capability list arrived with STARTTLS masked out. (The cross-session
/// proof of stripping is added by the end-of-input pass, with the same
/// severity.)
static STARTTLS_STRIPPED: Rule = Rule {
    kind: FindingKind::StarttlsStripped,
    severity: Severity::High,
    milder: None,
    find: starttls_stripped,
};

fn starttls_stripped(rule: &Rule, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
    let f = input.facts;
    if f.starttls_offered() != Some(false) {
        return;
    }
    let Some(line) = f.capabilities.iter().find_map(|c| c.masked_token.as_ref()) else {
        return;
    };
    let word = masked_word(&line.bytes, input.keyword());
    let (who, proof) = if input.protocol == Some(Protocol::Smtp) && is_asa_mask(&line.bytes) {
        (
            "the signature of a Cisco ASA inspect esmtp policy without allow-tls",
            Proof::MaskedToken,
        )
    } else if is_mangled(word, input.keyword()) {
        (
            "a word one edit from it, mangled by a middlebox",
            Proof::MangledToken,
        )
    } else {
        ("a same-length mask left by a middlebox", Proof::MaskedToken)
    };
    let finding = rule.finding(
        input,
        rule.severity,
        format!(
            "the capability list from {} reached this capture with {} replaced by `{}`, {who}",
            input.server(),
            input.keyword(),
            text::escape(word),
        ),
        &[line],
    );
    out.push(finding.proven_by(proof));
}

static BANNER_MASKED: Rule = Rule {
    kind: FindingKind::BannerMasked,
    severity: Severity::Low,
    milder: None,
    find: |rule, input, out| {
        let Some(greeting) = &input.facts.greeting else {
            return;
        };
        if banner_masked(&greeting.bytes) {
            out.push(rule.finding(
                input,
                rule.severity,
                format!(
                    "the greeting of {} is masked with asterisks, as a Cisco ASA mask-banner policy does",
                    input.server()
                ),
                &[greeting],
            ));
        }
    },
};

/// Medium when authentication or mail followed in cleartext, else low.
static NO_STARTTLS_OFFERED: Rule = Rule {
    kind: FindingKind::NoStarttlsOffered,
    severity: Severity::Medium,
    milder: Some(Severity::Low),
    find: no_starttls_offered,
};

fn no_starttls_offered(rule: &Rule, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
    let f = input.facts;
    let masked = f.capabilities.iter().any(|c| c.masked_token.is_some());
    if f.starttls_offered() != Some(false) || masked {
        return;
    }
    let Some(list) = f.decisive_capabilities() else {
        return;
    };
    let sensitive = f.sensitive_command.is_some() || !f.credentials.is_empty();
    let (severity, follows) = if sensitive {
        (
            rule.severity,
            "; authentication or mail followed in cleartext",
        )
    } else {
        (rule.milder(), "")
    };
    let mut evidence = vec![&list.evidence];
    evidence.extend(f.sensitive_command.as_ref());
    out.push(rule.finding(
        input,
        severity,
        format!(
            "{} did not offer {}{follows}",
            input.server(),
            input.keyword()
        ),
        &evidence,
    ));
}

/// Offered, never requested, and a sensitive command went in cleartext (a
/// tampered STARTTLS is that finding instead).
static STARTTLS_NOT_USED: Rule = Rule {
    kind: FindingKind::StarttlsNotUsed,
    severity: Severity::Medium,
    milder: None,
    find: starttls_not_used,
};

fn starttls_not_used(rule: &Rule, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
    let f = input.facts;
    let unused = f.starttls_offered() == Some(true)
        && f.starttls_command.is_none()
        && !f.implicit_tls
        && f.tampered_command.is_none();
    let Some(command) = f.sensitive_command.as_ref().filter(|_| unused) else {
        return;
    };
    let mut evidence: Vec<&Evidence> = f
        .decisive_offer()
        .map(|c| &c.evidence)
        .into_iter()
        .collect();
    evidence.push(command);
    out.push(rule.finding(
        input,
        rule.severity,
        format!(
            "{} offered {} but the client went on in cleartext",
            input.server(),
            input.keyword()
        ),
        &evidence,
    ));
}

static STARTTLS_REJECTED: Rule = Rule {
    kind: FindingKind::StarttlsRejected,
    severity: Severity::Medium,
    milder: None,
    find: |rule, input, out| {
        let f = input.facts;
        if let (Some(command), Some(reply)) = (&f.starttls_command, &f.starttls_refusal) {
            out.push(rule.finding(
                input,
                rule.severity,
                format!(
                    "{} refused {}: `{}`",
                    input.server(),
                    input.keyword(),
                    text::escape(&reply.bytes)
                ),
                &[command, reply],
            ));
        }
    },
};

static STARTTLS_COMMAND_TAMPERED: Rule = Rule {
    kind: FindingKind::StarttlsCommandTampered,
    severity: Severity::High,
    milder: None,
    find: |rule, input, out| {
        let Some((command, reply)) = &input.facts.tampered_command else {
            return;
        };
        let mut evidence = vec![command];
        evidence.extend(reply.as_ref());
        out.push(rule.finding(
            input,
            rule.severity,
            format!(
                "the client's {} reached the server as `{}` and was refused: a middlebox overwrote the command",
                input.keyword(),
                text::escape(&shown_bytes(command, input.show_secrets))
            ),
            &evidence,
        ));
    },
};

/// Accepted, and no ClientHello: the client went on in cleartext, or was
/// still there and sent nothing, or the connection closed (a command
/// injection explains that close instead).
static TLS_NOT_ESTABLISHED: Rule = Rule {
    kind: FindingKind::TlsNotEstablished,
    severity: Severity::High,
    milder: None,
    find: tls_not_established,
};

fn tls_not_established(rule: &Rule, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
    let f = input.facts;
    let Some((StarttlsAnswer::Accepted, reply)) = &f.starttls_answer else {
        return;
    };
    if f.client_hello.is_some() {
        return;
    }
    let (server, kw) = (input.server(), input.keyword());
    let closed = matches!(input.info.end, EndReason::Fin | EndReason::Rst);
    let ack;
    let (summary, after) = if let Some(cleartext) = &f.cleartext_after_go_ahead {
        (
            format!(
                "{server} accepted {kw} but the client went on in cleartext \
                 (a capture whose TLS was decrypted and written back as plaintext, \
                 such as a Wireshark or Arkime export, looks the same: check where \
                 the capture came from)"
            ),
            Some(cleartext),
        )
    } else if let Some(packet) = client_after(input.info, reply) {
        // The client's TCP stack took the go-ahead and the client sent no
        // ClientHello before the capture ended.
        ack = Evidence::new(Side::Client, packet, b"");
        (
            format!(
                "{server} accepted {kw}; the client acknowledged the go-ahead but sent no TLS handshake"
            ),
            Some(&ack),
        )
    } else if closed && f.command_injection.is_none() {
        (
            format!("{server} accepted {kw} but the connection closed without a TLS handshake"),
            None,
        )
    } else {
        return;
    };
    let mut evidence = vec![reply];
    evidence.extend(after);
    out.push(rule.finding(input, rule.severity, summary, &evidence));
}

/// Command injection (client bytes after STARTTLS, before the answer), then
/// response injection (server bytes after the go-ahead, before TLS).
static STARTTLS_INJECTION: Rule = Rule {
    kind: FindingKind::StarttlsInjection,
    severity: Severity::High,
    milder: None,
    find: starttls_injection,
};

fn starttls_injection(rule: &Rule, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
    let f = input.facts;
    let kw = input.keyword();
    if let Some(injected) = &f.command_injection {
        let mut evidence: Vec<&Evidence> = f.starttls_command.iter().collect();
        evidence.push(injected);
        out.push(rule.finding(
            input,
            rule.severity,
            format!(
                "command injection: the client stream carried `{}` after {kw}, before the server's answer",
                text::escape_truncated(&shown_bytes(injected, input.show_secrets), 64)
            ),
            &evidence,
        ));
    }
    if let Some(injected) = &f.response_injection {
        let mut evidence: Vec<&Evidence> = f.starttls_answer.iter().map(|(_, e)| e).collect();
        evidence.push(injected);
        out.push(rule.finding(
            input,
            rule.severity,
            format!(
                "response injection: the server stream carried `{}` after its {kw} go-ahead, before the TLS handshake",
                text::escape_truncated(&injected.bytes, 64)
            ),
            &evidence,
        ));
    }
}

/// A password or token in cleartext: critical when the server accepted it.
static CLEARTEXT_CREDENTIALS: Rule = Rule {
    kind: FindingKind::CleartextCredentials,
    severity: Severity::Critical,
    milder: Some(Severity::High),
    find: cleartext_credentials,
};

fn cleartext_credentials(rule: &Rule, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
    let secrets = [SecretKind::Password, SecretKind::Token];
    for cred in input.cleartext_credentials(&secrets) {
        let accepted = cred.outcome == Outcome::Success;
        let what = if cred.secret_kind == SecretKind::Token {
            "token"
        } else {
            "password"
        };
        let (severity, verdict) = if accepted {
            (rule.severity, ", and the server accepted it")
        } else {
            (rule.milder(), "")
        };
        let user = username_phrase(cred.username.as_deref());
        let evidence: Vec<&Evidence> = cred.evidence.iter().collect();
        out.push(rule.finding(
            input,
            severity,
            format!(
                "{} {what}{user} crossed without TLS{verdict}",
                cred.mechanism
            ),
            &evidence,
        ));
    }
}

static WEAK_CREDENTIALS_EXPOSED: Rule = Rule {
    kind: FindingKind::WeakCredentialsExposed,
    severity: Severity::High,
    milder: None,
    find: |rule, input, out| {
        for cred in input.cleartext_credentials(&[SecretKind::ChallengeResponse]) {
            let user = username_phrase(cred.username.as_deref());
            let evidence: Vec<&Evidence> = cred.evidence.iter().collect();
            out.push(rule.finding(
                input,
                rule.severity,
                format!(
                    "{} challenge-response{user} crossed without TLS: the password can be cracked offline",
                    cred.mechanism
                ),
                &evidence,
            ));
        }
    },
};

/// Who a credential was for. A secret may cross without a visible username
/// (PLAIN with no identity, a vendor token).
fn username_phrase(username: Option<&[u8]>) -> String {
    username.map_or_else(
        || " (no username visible)".to_string(),
        |u| format!(" for `{}`", text::escape(u)),
    )
}

/// Cleartext from either side on an implicit-TLS port (a server greeting in
/// cleartext answering a TLS client's hello counts too).
static PLAINTEXT_ON_IMPLICIT_TLS_PORT: Rule = Rule {
    kind: FindingKind::PlaintextOnImplicitTlsPort,
    severity: Severity::Medium,
    milder: None,
    find: plaintext_on_implicit_tls_port,
};

fn plaintext_on_implicit_tls_port(rule: &Rule, input: &RuleInput<'_>, out: &mut Vec<Finding>) {
    let f = input.facts;
    let port = input.info.server.port;
    if !Protocol::implicit_tls_port(port) {
        return;
    }
    let first = f
        .greeting
        .as_ref()
        .or(f.sensitive_command.as_ref())
        .or(f.capabilities.first().map(|c| &c.evidence));
    if let Some(first) = first {
        out.push(rule.finding(
            input,
            rule.severity,
            format!(
                "{} speaks cleartext {} on {port}, a port for implicit TLS (RFC 8314)",
                input.server(),
                input.protocol.map_or("mail", Protocol::name)
            ),
            &[first],
        ));
    }
}

static PREAUTH_NO_TLS: Rule = Rule {
    kind: FindingKind::PreauthNoTls,
    severity: Severity::High,
    milder: None,
    find: |rule, input, out| {
        if let Some(greeting) = &input.facts.preauth {
            out.push(rule.finding(
                input,
                rule.severity,
                format!(
                    "{} greeted with PREAUTH on a cleartext connection: the client is logged in and STARTTLS is no longer possible",
                    input.server()
                ),
                &[greeting],
            ));
        }
    },
};

static HELO_FALLBACK: Rule = Rule {
    kind: FindingKind::HeloFallback,
    severity: Severity::Medium,
    milder: None,
    find: |rule, input, out| {
        if let Some((refusal, helo)) = &input.facts.helo_fallback {
            out.push(rule.finding(
                input,
                rule.severity,
                format!(
                    "{} refused EHLO and the client fell back to HELO: no extensions, so no STARTTLS",
                    input.server()
                ),
                &[refusal, helo],
            ));
        }
    },
};

#[cfg(test)]
mod tests;
