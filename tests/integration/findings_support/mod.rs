//! Expected findings of the samples under `samples/findings/`, and the
//! check that compares them with the library's report.
//!
//! An expectation names, per session, the STARTTLS lifecycle, implicit TLS
//! and the credentials; and, for the sample, every finding with its kind,
//! severity, session and evidence. Evidence is given as the line it must
//! show (masked where a secret is); its frame number and timestamp are found
//! in the generator's script: the first frame of that session and side, at
//! or after the previous piece of evidence, that carries the line.

pub mod imap;
pub mod pop3;
pub mod quirks;
pub mod secrets;
pub mod smtp;

use crate::gen_samples::{self, conversation::Dir, sample::Sample};
use crate::sample_support::sample as sample_path;
use serde_json::{Value, json};
use stripwatch::analysis::{self, AnalysisOptions};
use stripwatch::capture::resolve_inputs;
use stripwatch::flow::FlowConfig;
use stripwatch::proto::EVIDENCE_BYTES;
use stripwatch::text::escape;

/// Finding kinds in the order a session's findings are sorted.
pub const KINDS: [&str; 13] = [
    "starttls-stripped",
    "banner-masked",
    "no-starttls-offered",
    "starttls-not-used",
    "starttls-rejected",
    "starttls-command-tampered",
    "tls-not-established",
    "starttls-injection",
    "cleartext-credentials",
    "weak-credentials-exposed",
    "plaintext-on-implicit-tls-port",
    "preauth-no-tls",
    "helo-fallback",
];

/// How to find the frame of a piece of evidence.
#[derive(Clone, Debug)]
pub enum Find {
    /// A frame whose payload has this line (CRLF-terminated, at the start of
    /// the payload or after an LF).
    Line(Vec<u8>),
    /// A frame whose payload contains these bytes.
    Within(Vec<u8>),
    /// The side's FIN.
    Fin,
}

/// One expected piece of evidence.
#[derive(Clone, Debug)]
pub struct Ev {
    /// Session id (1-based) the evidence is in; 0: the finding's own.
    pub session: u64,
    pub side: Dir,
    pub find: Find,
    pub excerpt: String,
}

impl Ev {
    /// The evidence lies in another session.
    pub fn in_session(mut self, id: u64) -> Ev {
        self.session = id;
        self
    }
}

/// Bytes as evidence keeps them: cut at EVIDENCE_BYTES, `*` from `from` on.
fn excerpt(text: &str, from: Option<usize>) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes.truncate(EVIDENCE_BYTES);
    if let Some(from) = from {
        for b in bytes.iter_mut().skip(from) {
            *b = b'*';
        }
    }
    escape(&bytes)
}

/// A line shown as it is (`text` without CRLF).
pub fn line(side: Dir, text: &str) -> Ev {
    let text = text.trim_end_matches("\r\n");
    Ev {
        session: 0,
        side,
        find: Find::Line(text.as_bytes().to_vec()),
        excerpt: excerpt(text, None),
    }
}

/// A line whose bytes from `from` on are a secret, shown as `*`.
pub fn masked(side: Dir, text: &str, from: usize) -> Ev {
    let text = text.trim_end_matches("\r\n");
    Ev {
        excerpt: excerpt(text, Some(from)),
        ..line(side, text)
    }
}

/// A line that is a secret as a whole (a SASL response).
pub fn secret(side: Dir, text: &str) -> Ev {
    masked(side, text, 0)
}

/// A line found by other bytes of its frame (e.g. after a literal).
pub fn within(side: Dir, bytes: &str, text: &str) -> Ev {
    Ev {
        session: 0,
        side,
        find: Find::Within(bytes.as_bytes().to_vec()),
        excerpt: excerpt(text, None),
    }
}

/// The side's FIN packet, with no bytes.
pub fn fin(side: Dir) -> Ev {
    Ev {
        session: 0,
        side,
        find: Find::Fin,
        excerpt: String::new(),
    }
}

/// Offset of the `n`-th (0-based) space-separated word of `text`.
pub fn word_at(text: &str, n: usize) -> usize {
    let mut at = 0;
    for (i, w) in text.split(' ').enumerate() {
        if i == n {
            return at;
        }
        at += w.len() + 1;
    }
    panic!("{text:?} has no word {n}")
}

/// An expected finding.
#[derive(Clone, Debug)]
pub struct F {
    pub session: u64,
    pub kind: &'static str,
    pub severity: &'static str,
    pub evidence: Vec<Ev>,
}

pub fn finding(session: u64, kind: &'static str, severity: &'static str, evidence: Vec<Ev>) -> F {
    assert!(KINDS.contains(&kind), "no kind {kind}");
    F {
        session,
        kind,
        severity,
        evidence,
    }
}

/// An expected credential.
#[derive(Clone, Debug)]
pub struct Cred {
    pub mechanism: &'static str,
    pub username: String,
    pub outcome: &'static str,
    pub secret_kind: &'static str,
    /// The secret as `--show-secrets` prints it (escaped); None when none
    /// crossed.
    pub secret: Option<String>,
}

pub fn cred(
    mechanism: &'static str,
    username: &str,
    outcome: &'static str,
    secret_kind: &'static str,
    secret: Option<&str>,
) -> Cred {
    Cred {
        mechanism,
        username: username.to_string(),
        outcome,
        secret_kind,
        secret: secret.map(|s| escape(s.as_bytes())),
    }
}

/// An expected session record.
#[derive(Clone, Debug)]
pub struct S {
    pub protocol: &'static str,
    pub implicit_tls: bool,
    /// offered, requested, accepted, tls_established.
    pub starttls: (Option<bool>, bool, Option<bool>, bool),
    pub credentials: Vec<Cred>,
}

pub fn session(protocol: &'static str) -> S {
    S {
        protocol,
        implicit_tls: false,
        starttls: (None, false, None, false),
        credentials: Vec::new(),
    }
}

impl S {
    pub fn starttls(mut self, offered: Option<bool>, req: bool, acc: Option<bool>, tls: bool) -> S {
        self.starttls = (offered, req, acc, tls);
        self
    }

    /// STARTTLS offered by the server, never requested.
    pub fn offered_unused(self) -> S {
        self.starttls(Some(true), false, None, false)
    }

    /// A capability list without STARTTLS, nothing requested.
    pub fn not_offered(self) -> S {
        self.starttls(Some(false), false, None, false)
    }

    /// Offered, requested, accepted and TLS established.
    pub fn upgraded(self) -> S {
        self.starttls(Some(true), true, Some(true), true)
    }

    pub fn implicit(mut self) -> S {
        self.implicit_tls = true;
        self
    }

    pub fn cred(mut self, c: Cred) -> S {
        self.credentials.push(c);
        self
    }
}

/// What one sample must show.
pub struct Expect {
    pub name: &'static str,
    pub sessions: Vec<S>,
    pub findings: Vec<F>,
}

/// A sample's path under the samples directory: `findings/` unless the
/// name has a directory of its own (`wild/quirks/...`).
fn sample_name(name: &str) -> String {
    if name.contains('/') {
        name.to_string()
    } else {
        format!("findings/{name}")
    }
}

/// The generator's sample (the script: truth for frames and addresses).
pub fn scripted(name: &str) -> Sample {
    gen_samples::find(&sample_name(name))
}

/// The library's JSON report over one findings sample.
pub fn report(name: &str, show_secrets: bool) -> Value {
    let resolved = resolve_inputs(&[sample_path(&sample_name(name))]);
    assert!(resolved.skipped.is_empty() && resolved.failed.is_empty());
    let inputs = resolved.inputs;
    let options = AnalysisOptions { show_secrets };
    serde_json::to_value(analysis::analyze(&inputs, FlowConfig::default(), options)).unwrap()
}

/// Frame number (1-based) and timestamp of the evidence in session
/// `session` (1-based), searched from frame `from` on.
fn locate(sample: &Sample, session: u64, ev: &Ev, from: u64) -> (u64, String) {
    let conv = (session - 1) as usize;
    for (i, (ci, p)) in sample.placed().iter().enumerate() {
        let frame = i as u64 + 1;
        if *ci != conv || p.packet.from != ev.side || frame < from {
            continue;
        }
        let payload = &p.packet.payload;
        let hit = match &ev.find {
            Find::Fin => p.packet.fin,
            Find::Within(bytes) => payload.windows(bytes.len()).any(|w| w == &bytes[..]),
            Find::Line(text) => {
                let mut want = text.clone();
                want.extend_from_slice(b"\r\n");
                payload
                    .windows(want.len())
                    .enumerate()
                    .any(|(at, w)| w == &want[..] && (at == 0 || payload[at - 1] == b'\n'))
            }
        };
        if hit {
            return (frame, p.ts.to_string());
        }
    }
    panic!(
        "{}: session {session}: no {:?} frame from {from} with {:?}",
        sample.name, ev.side, ev.find
    )
}

/// A finding as compared: (session, kind, severity, evidence as
/// (direction, packet, timestamp, excerpt)).
type Row = (u64, String, String, Vec<(String, u64, String, String)>);

fn expected_rows(sample: &Sample, findings: &[F]) -> Vec<Row> {
    let mut rows: Vec<(usize, Row)> = findings
        .iter()
        .map(|f| {
            // Each piece is searched from the previous one of its session.
            let mut from = std::collections::HashMap::new();
            let evidence = f
                .evidence
                .iter()
                .map(|ev| {
                    let s = if ev.session == 0 {
                        f.session
                    } else {
                        ev.session
                    };
                    let start = *from.get(&s).unwrap_or(&0);
                    let (frame, ts) = locate(sample, s, ev, start);
                    from.insert(s, frame);
                    let dir = match ev.side {
                        Dir::Client => "client",
                        Dir::Server => "server",
                    };
                    (dir.to_string(), frame, ts, ev.excerpt.clone())
                })
                .collect();
            let order = KINDS.iter().position(|k| *k == f.kind).unwrap();
            let row = (
                f.session,
                f.kind.to_string(),
                f.severity.to_string(),
                evidence,
            );
            (order, row)
        })
        .collect();
    // The report lists findings by session, then kind.
    rows.sort_by_key(|(order, row)| (row.0, *order));
    rows.into_iter().map(|(_, row)| row).collect()
}

fn actual_rows(json: &Value) -> Vec<Row> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let evidence = f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    assert!(e.get("file").is_none(), "one input: no file named");
                    (
                        s(&e["direction"]),
                        e["packet"].as_u64().unwrap(),
                        s(&e["timestamp"]),
                        s(&e["excerpt"]),
                    )
                })
                .collect();
            (
                f["session"].as_u64().unwrap(),
                s(&f["kind"]),
                s(&f["severity"]),
                evidence,
            )
        })
        .collect()
}

/// Compares the sample's report with the expectation: sessions (addresses
/// from the script, protocol, STARTTLS, implicit TLS, credentials with and
/// without `--show-secrets`) and the full list of findings.
pub fn check(e: &Expect) {
    let sample = scripted(e.name);
    let json = report(e.name, false);
    let revealed = report(e.name, true);
    let sessions = json["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), e.sessions.len(), "{}: sessions", e.name);
    assert_eq!(sample.conversations.len(), e.sessions.len());
    for (i, (want, got)) in e.sessions.iter().zip(sessions).enumerate() {
        let id = i as u64 + 1;
        let at = format!("{} session {id}", e.name);
        let conv = &sample.conversations[i];
        assert_eq!(got["id"], id, "{at}");
        assert_eq!(got["client"], conv.client.to_string(), "{at}: client");
        assert_eq!(got["server"], conv.server.to_string(), "{at}: server");
        assert_eq!(got["protocol"], want.protocol, "{at}: protocol");
        assert_eq!(got["implicit_tls"], want.implicit_tls, "{at}: implicit_tls");
        let (offered, requested, accepted, tls) = want.starttls;
        assert_eq!(
            got["starttls"],
            json!({"offered": offered, "requested": requested, "accepted": accepted,
                   "tls_established": tls}),
            "{at}: starttls"
        );
        let creds = |v: &Value, reveal: bool| -> Vec<Value> {
            v["credentials"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if !reveal && c["secret_kind"] != "none" {
                        assert_eq!(c["secret"], "<redacted>", "{at}: masked secret");
                    }
                    if !reveal {
                        c.as_object_mut().unwrap().remove("secret");
                    }
                    c
                })
                .collect()
        };
        let expected: Vec<Value> = want
            .credentials
            .iter()
            .map(|c| {
                json!({"mechanism": c.mechanism, "username": c.username, "cleartext": true,
                       "outcome": c.outcome, "secret_kind": c.secret_kind})
            })
            .collect();
        assert_eq!(creds(got, false), expected, "{at}: credentials");
        let secrets: Vec<Value> = creds(&revealed["sessions"][i], true)
            .iter()
            .map(|c| c.get("secret").cloned().unwrap_or(Value::Null))
            .collect();
        let want_secrets: Vec<Value> = want
            .credentials
            .iter()
            .map(|c| c.secret.clone().map_or(Value::Null, Value::from))
            .collect();
        assert_eq!(secrets, want_secrets, "{at}: secrets with --show-secrets");
        // The session's own list: its finding kinds in order, once each.
        let mut kinds: Vec<usize> = e
            .findings
            .iter()
            .filter(|f| f.session == id)
            .map(|f| KINDS.iter().position(|k| *k == f.kind).unwrap())
            .collect();
        kinds.sort();
        kinds.dedup();
        let kinds: Vec<&str> = kinds.iter().map(|k| KINDS[*k]).collect();
        assert_eq!(got["findings"], json!(kinds), "{at}: finding kinds");
    }
    assert_eq!(
        actual_rows(&json),
        expected_rows(&sample, &e.findings),
        "{}: findings (session, kind, severity, evidence)",
        e.name
    );
    for f in json["findings"].as_array().unwrap() {
        assert!(!f["summary"].as_str().unwrap().is_empty());
    }
}

/// Every expectation, for the coverage and leak tests.
pub fn all() -> Vec<Expect> {
    let mut out = smtp::all();
    out.extend(imap::all());
    out.extend(pop3::all());
    out
}
