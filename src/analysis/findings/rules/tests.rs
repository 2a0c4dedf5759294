//! One row per case of each rule: the facts of a session, and exactly the
//! findings (kind, severity, summary, evidence packets) they prove. Then
//! the rule table against README.md and docs/jsonl.md.

use super::super::{RuleInput, session_findings};
use super::*;
use crate::analysis::record::Locator;
use crate::flow::{CloseKey, Endpoint, PacketRef, RoleBasis, SessionInfo};
use crate::proto::{CapabilityList, Credential, DialogFacts};
use crate::time::Timestamp;
use std::collections::BTreeSet;

const SERVER: &str = "203.0.113.10";

/// A session as a rule sees it.
struct Case {
    protocol: Protocol,
    port: u16,
    end: EndReason,
    /// Frame of the client's last packet.
    client_last: Option<u64>,
    facts: DialogFacts,
}

impl Case {
    fn smtp(facts: DialogFacts) -> Self {
        Case {
            protocol: Protocol::Smtp,
            port: 25,
            end: EndReason::EndOfCapture,
            client_last: None,
            facts,
        }
    }

    /// (kind, severity, summary, evidence frames) of every finding.
    fn findings(self) -> Vec<(FindingKind, Severity, String, Vec<u64>)> {
        let info = session_info(self.port, self.end, self.client_last.map(packet));
        let facts = DialogFacts {
            protocol: Some(self.protocol),
            ..self.facts
        };
        let input = RuleInput {
            info: &info,
            facts: &facts,
            protocol: Some(self.protocol),
            locator: &Locator::new(&["t.pcap".to_string()]),
            show_secrets: false,
        };
        session_findings(&input)
            .into_iter()
            .map(|f| {
                let frames = f.evidence.iter().map(|e| e.location.packet).collect();
                (f.kind, f.severity, f.summary, frames)
            })
            .collect()
    }
}

fn packet(frame: u64) -> PacketRef {
    PacketRef {
        input: 0,
        frame,
        ts: Timestamp::new(1_700_000_000 + i64::try_from(frame).unwrap_or(0), 0),
    }
}

fn session_info(port: u16, end: EndReason, client_last: Option<PacketRef>) -> SessionInfo {
    let endpoint = |ip: &str, port| Endpoint {
        ip: ip.parse().unwrap(),
        port,
    };
    SessionInfo {
        id: 7,
        client: endpoint("192.0.2.20", 51100),
        server: endpoint(SERVER, port),
        roles_from: RoleBasis::Handshake,
        first_packet: packet(1),
        last_packet: packet(99),
        syn_seen: true,
        syn_ack_seen: true,
        mid_stream: false,
        sides: Default::default(),
        end,
        conflicts: Vec::new(),
        checksum_errors: 0,
        stream_start: Default::default(),
        ignored_rsts: 0,
        out_of_range_timestamps: 0,
        client_last_packet: client_last,
        closed_by: CloseKey::default(),
        off_clock: None,
    }
}

fn client(frame: u64, line: &[u8]) -> Evidence {
    Evidence::new(Side::Client, packet(frame), line)
}

fn server(frame: u64, line: &[u8]) -> Evidence {
    Evidence::new(Side::Server, packet(frame), line)
}

fn capabilities(frame: u64, line: &[u8], starttls: bool, masked: bool) -> CapabilityList {
    CapabilityList {
        evidence: server(frame, line),
        starttls,
        masked_token: masked.then(|| server(frame, line)),
        auth_mechanisms: Vec::new(),
        login_disabled: false,
        refused: false,
        items: Default::default(),
    }
}

fn credential(
    mechanism: &str,
    user: Option<&[u8]>,
    kind: SecretKind,
    outcome: Outcome,
) -> Credential {
    Credential {
        username: user.map(<[u8]>::to_vec),
        secret_kind: kind,
        secret: b"hunter2".to_vec(),
        outcome,
        evidence: vec![client(9, b"AUTH PLAIN")],
        ..Credential::new(mechanism)
    }
}

/// The TLS go-ahead: STARTTLS at frame 5, accepted at frame 6.
fn accepted() -> DialogFacts {
    DialogFacts {
        starttls_command: Some(client(5, b"STARTTLS")),
        starttls_answer: Some((
            StarttlsAnswer::Accepted,
            server(6, b"220 2.0.0 Ready to start TLS"),
        )),
        ..DialogFacts::default()
    }
}

type Expected = &'static [(FindingKind, Severity, &'static str, &'static [u64])];

/// One case of a rule: its name, the session, what it proves.
type Row = (&'static str, fn() -> Case, Expected);

use FindingKind as K;
use Severity as S;

const ROWS: &[Row] = &[
    (
        "an ASA mask in the capability list",
        || {
            Case::smtp(DialogFacts {
                capabilities: vec![capabilities(4, b"250-XXXXXXXA", false, true)],
                ..DialogFacts::default()
            })
        },
        &[(
            K::StarttlsStripped,
            S::High,
            "the capability list from 203.0.113.10:25 reached this capture with STARTTLS replaced by `XXXXXXXA`, the signature of a Cisco ASA inspect esmtp policy without allow-tls",
            &[4],
        )],
    ),
    (
        "a capability word mangled one edit from STARTTLS",
        || {
            Case::smtp(DialogFacts {
                capabilities: vec![capabilities(4, b"250-STARTTLX", false, true)],
                ..DialogFacts::default()
            })
        },
        &[(
            K::StarttlsStripped,
            S::High,
            "the capability list from 203.0.113.10:25 reached this capture with STARTTLS replaced by `STARTTLX`, a word one edit from it, mangled by a middlebox",
            &[4],
        )],
    ),
    (
        "a same-length mask of STLS",
        || Case {
            protocol: Protocol::Pop3,
            port: 110,
            ..Case::smtp(DialogFacts {
                capabilities: vec![capabilities(4, b"XXXX", false, true)],
                ..DialogFacts::default()
            })
        },
        &[(
            K::StarttlsStripped,
            S::High,
            "the capability list from 203.0.113.10:110 reached this capture with STLS replaced by `XXXX`, a same-length mask left by a middlebox",
            &[4],
        )],
    ),
    (
        "a greeting of asterisks",
        || {
            Case::smtp(DialogFacts {
                greeting: Some(server(2, b"220 ****2***0***")),
                ..DialogFacts::default()
            })
        },
        &[(
            K::BannerMasked,
            S::Low,
            "the greeting of 203.0.113.10:25 is masked with asterisks, as a Cisco ASA mask-banner policy does",
            &[2],
        )],
    ),
    (
        "no STARTTLS offered, nothing followed",
        || {
            Case::smtp(DialogFacts {
                capabilities: vec![capabilities(4, b"250-mail.example.com", false, false)],
                ..DialogFacts::default()
            })
        },
        &[(
            K::NoStarttlsOffered,
            S::Low,
            "203.0.113.10:25 did not offer STARTTLS",
            &[4],
        )],
    ),
    (
        "no STARTTLS offered, mail followed",
        || {
            Case::smtp(DialogFacts {
                capabilities: vec![capabilities(4, b"250-mail.example.com", false, false)],
                sensitive_command: Some(client(5, b"MAIL FROM:<a@example.com>")),
                ..DialogFacts::default()
            })
        },
        &[(
            K::NoStarttlsOffered,
            S::Medium,
            "203.0.113.10:25 did not offer STARTTLS; authentication or mail followed in cleartext",
            &[4, 5],
        )],
    ),
    (
        "STARTTLS offered, mail in cleartext",
        || {
            Case::smtp(DialogFacts {
                capabilities: vec![capabilities(4, b"250-STARTTLS", true, false)],
                sensitive_command: Some(client(5, b"MAIL FROM:<a@example.com>")),
                ..DialogFacts::default()
            })
        },
        &[(
            K::StarttlsNotUsed,
            S::Medium,
            "203.0.113.10:25 offered STARTTLS but the client went on in cleartext",
            &[4, 5],
        )],
    ),
    (
        "STARTTLS refused",
        || {
            Case::smtp(DialogFacts {
                starttls_command: Some(client(5, b"STARTTLS")),
                starttls_refusal: Some(server(6, b"454 4.7.0 TLS not available")),
                ..DialogFacts::default()
            })
        },
        &[(
            K::StarttlsRejected,
            S::Medium,
            "203.0.113.10:25 refused STARTTLS: `454 4.7.0 TLS not available`",
            &[5, 6],
        )],
    ),
    (
        "STARTTLS overwritten and refused (not also not-used)",
        || {
            Case::smtp(DialogFacts {
                capabilities: vec![capabilities(4, b"250-STARTTLS", true, false)],
                sensitive_command: Some(client(7, b"MAIL FROM:<a@example.com>")),
                tampered_command: Some((
                    client(5, b"XXXXXXXX"),
                    Some(server(6, b"500 5.5.1 unknown")),
                )),
                ..DialogFacts::default()
            })
        },
        &[(
            K::StarttlsCommandTampered,
            S::High,
            "the client's STARTTLS reached the server as `XXXXXXXX` and was refused: a middlebox overwrote the command",
            &[5, 6],
        )],
    ),
    (
        "go-ahead, then cleartext",
        || {
            Case::smtp(DialogFacts {
                cleartext_after_go_ahead: Some(client(7, b"MAIL FROM:<a@example.com>")),
                ..accepted()
            })
        },
        &[(
            K::TlsNotEstablished,
            S::High,
            "203.0.113.10:25 accepted STARTTLS but the client went on in cleartext (a capture whose TLS was decrypted and written back as plaintext, such as a Wireshark or Arkime export, looks the same: check where the capture came from)",
            &[6, 7],
        )],
    ),
    (
        "go-ahead acknowledged, no handshake",
        || Case {
            client_last: Some(8),
            ..Case::smtp(accepted())
        },
        &[(
            K::TlsNotEstablished,
            S::High,
            "203.0.113.10:25 accepted STARTTLS; the client acknowledged the go-ahead but sent no TLS handshake",
            &[6, 8],
        )],
    ),
    (
        "go-ahead, then FIN",
        || Case {
            end: EndReason::Fin,
            ..Case::smtp(accepted())
        },
        &[(
            K::TlsNotEstablished,
            S::High,
            "203.0.113.10:25 accepted STARTTLS but the connection closed without a TLS handshake",
            &[6],
        )],
    ),
    (
        "go-ahead, capture ends: nothing proven",
        || Case::smtp(accepted()),
        &[],
    ),
    (
        "command and response injection (the close is the injection's)",
        || Case {
            end: EndReason::Fin,
            ..Case::smtp(DialogFacts {
                command_injection: Some(client(5, b"MAIL FROM:<evil@example.com>")),
                response_injection: Some(server(6, b"250 injected")),
                ..accepted()
            })
        },
        &[
            (
                K::StarttlsInjection,
                S::High,
                "command injection: the client stream carried `MAIL FROM:<evil@example.com>` after STARTTLS, before the server's answer",
                &[5, 5],
            ),
            (
                K::StarttlsInjection,
                S::High,
                "response injection: the server stream carried `250 injected` after its STARTTLS go-ahead, before the TLS handshake",
                &[6, 6],
            ),
        ],
    ),
    (
        "passwords and tokens in cleartext; TLS-protected and secretless ones are not",
        || {
            Case::smtp(DialogFacts {
                credentials: vec![
                    credential(
                        "PLAIN",
                        Some(b"jdoe"),
                        SecretKind::Password,
                        Outcome::Success,
                    ),
                    credential("XYMPKI", None, SecretKind::Token, Outcome::Failure),
                    Credential {
                        cleartext: false,
                        ..credential(
                            "LOGIN",
                            Some(b"tls"),
                            SecretKind::Password,
                            Outcome::Success,
                        )
                    },
                    credential(
                        "SCRAM-SHA-256",
                        Some(b"jdoe"),
                        SecretKind::None,
                        Outcome::Success,
                    ),
                ],
                ..DialogFacts::default()
            })
        },
        &[
            (
                K::CleartextCredentials,
                S::Critical,
                "PLAIN password for `jdoe` crossed without TLS, and the server accepted it",
                &[9],
            ),
            (
                K::CleartextCredentials,
                S::High,
                "XYMPKI token (no username visible) crossed without TLS",
                &[9],
            ),
        ],
    ),
    (
        "challenge-response in cleartext",
        || {
            Case::smtp(DialogFacts {
                credentials: vec![credential(
                    "CRAM-MD5",
                    Some(b"jdoe"),
                    SecretKind::ChallengeResponse,
                    Outcome::Unknown,
                )],
                ..DialogFacts::default()
            })
        },
        &[(
            K::WeakCredentialsExposed,
            S::High,
            "CRAM-MD5 challenge-response for `jdoe` crossed without TLS: the password can be cracked offline",
            &[9],
        )],
    ),
    (
        "a cleartext greeting on 465",
        || Case {
            port: 465,
            ..Case::smtp(DialogFacts {
                greeting: Some(server(2, b"220 mail.example.com ESMTP")),
                ..DialogFacts::default()
            })
        },
        &[(
            K::PlaintextOnImplicitTlsPort,
            S::Medium,
            "203.0.113.10:465 speaks cleartext smtp on 465, a port for implicit TLS (RFC 8314)",
            &[2],
        )],
    ),
    (
        "IMAP PREAUTH in cleartext",
        || Case {
            protocol: Protocol::Imap,
            port: 143,
            ..Case::smtp(DialogFacts {
                preauth: Some(server(2, b"* PREAUTH ready")),
                ..DialogFacts::default()
            })
        },
        &[(
            K::PreauthNoTls,
            S::High,
            "203.0.113.10:143 greeted with PREAUTH on a cleartext connection: the client is logged in and STARTTLS is no longer possible",
            &[2],
        )],
    ),
    (
        "EHLO refused, HELO followed",
        || {
            Case::smtp(DialogFacts {
                helo_fallback: Some((
                    server(4, b"502 5.5.2 EHLO not understood"),
                    client(5, b"HELO client.example.com"),
                )),
                ..DialogFacts::default()
            })
        },
        &[(
            K::HeloFallback,
            S::Medium,
            "203.0.113.10:25 refused EHLO and the client fell back to HELO: no extensions, so no STARTTLS",
            &[4, 5],
        )],
    ),
];

#[test]
fn each_row_proves_exactly_its_findings() {
    for (name, case, expected) in ROWS {
        let expected: Vec<_> = expected
            .iter()
            .map(|(k, s, text, frames)| (*k, *s, text.to_string(), frames.to_vec()))
            .collect();
        assert_eq!(case().findings(), expected, "row: {name}");
    }
}

#[test]
fn rows_cover_every_rule_at_each_of_its_severities() {
    let found: BTreeSet<(FindingKind, Severity)> = ROWS
        .iter()
        .flat_map(|(_, _, expected)| expected.iter().map(|(k, s, _, _)| (*k, *s)))
        .collect();
    let declared: BTreeSet<(FindingKind, Severity)> = RULES
        .iter()
        .flat_map(|r| severities(r).map(move |s| (r.kind, s)))
        .collect();
    assert_eq!(found, declared);
}

#[test]
fn table_has_one_rule_per_kind_in_kind_order() {
    for pair in RULES.windows(2) {
        if let [a, b] = pair {
            assert!(a.kind < b.kind, "{} before {}", a.kind, b.kind);
        }
    }
    for rule in RULES {
        assert!(std::ptr::eq(rule.kind.rule(), rule), "{}", rule.kind);
        assert_eq!(
            serde_json::to_value(rule.kind).unwrap(),
            rule.kind.name(),
            "the JSON name is the name"
        );
    }
}

/// The severities a rule gives, mildest first.
fn severities(rule: &Rule) -> impl Iterator<Item = Severity> {
    rule.milder.into_iter().chain([rule.severity])
}

/// Severity names among a text's words.
fn severities_named(text: &str) -> BTreeSet<String> {
    let names = ["info", "low", "medium", "high", "critical"];
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| names.contains(w))
        .map(str::to_string)
        .collect()
}

fn rule_severities(rule: &Rule) -> BTreeSet<String> {
    severities(rule).map(|s| s.to_string()).collect()
}

#[test]
fn readme_findings_table_is_the_rule_table() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    let table = readme
        .split_once("Findings, each with its evidence:")
        .map(|(_, rest)| rest)
        .expect("README has the findings table");
    // (kind, severity cell) of each row, up to the end of the table.
    let rows: Vec<(&str, &str)> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let mut cells = l.split('|').skip(1).map(str::trim);
            let kind = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((kind, cells.next()?))
        })
        .collect();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| *k).collect();
    let expected: Vec<&str> = RULES.iter().map(|r| r.kind.name()).collect();
    assert_eq!(kinds, expected);
    for (rule, (kind, severity)) in RULES.iter().zip(&rows) {
        assert_eq!(severities_named(severity), rule_severities(rule), "{kind}");
    }
}

#[test]
fn jsonl_docs_list_the_kinds_of_the_rule_table() {
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/jsonl.md"));
    let line = doc
        .lines()
        .find(|l| l.starts_with("| `kind` | string | one of"))
        .expect("docs/jsonl.md lists the kinds of a finding");
    let (_, list) = line.split_once("one of").unwrap();
    let (list, _) = list.split_once('(').unwrap();
    let kinds: Vec<&str> = list
        .split(',')
        .map(|k| k.trim().trim_matches('`'))
        .collect();
    let expected: Vec<&str> = RULES.iter().map(|r| r.kind.name()).collect();
    assert_eq!(kinds, expected);
}
