//! What the generated `samples/wild/` files share: files of scripted
//! sessions, each with what check.py must find in it, rendered as the
//! sample and as the folder's `expected.json` (written from the same
//! scripts, so the truth cannot drift).

use super::conversation::Conversation;
use super::sample::Sample;
use serde_json::{Value, json};

/// What check.py must find in one session.
pub struct Truth {
    pub protocol: &'static str,
    /// offered (None: no list crossed), requested, accepted, established.
    pub starttls: (Option<bool>, bool, Option<bool>, bool),
    /// (mechanism, username) of each credential that crossed in cleartext.
    pub credentials: Vec<(&'static str, Option<&'static str>)>,
    pub findings: Vec<&'static str>,
    pub notes: &'static str,
}

impl Truth {
    fn json(&self, c: &Conversation) -> Value {
        let (offered, requested, accepted, established) = self.starttls;
        let creds: Vec<Value> = self
            .credentials
            .iter()
            .map(|(m, u)| json!({"mechanism": m, "username": u}))
            .collect();
        json!({
            "protocol": self.protocol,
            "client": c.client.to_string(),
            "server": c.server.to_string(),
            "implicit_tls": false,
            "starttls_offered": offered,
            "starttls_requested": requested,
            "starttls_accepted": accepted,
            "tls_established": established,
            "cleartext_credentials": creds,
            "expected_findings": self.findings,
            "acceptable_findings": [],
            "notes": self.notes,
        })
    }
}

/// A scripted session and its truth.
pub struct Session {
    pub conversation: Conversation,
    pub truth: Truth,
}

/// A file of sessions; they start one second apart.
pub struct File {
    pub name: &'static str,
    pub about: &'static str,
    pub sessions: Vec<Session>,
}

impl File {
    /// The capture, under `dir`.
    pub fn sample(&self, dir: &str) -> Sample {
        let mut s = Sample::new(&format!("{dir}/{}", self.name), self.about);
        for (i, session) in self.sessions.iter().enumerate() {
            s = s.conversation(session.conversation.clone().starts_at(i as i64, 0));
        }
        s
    }

    fn truth(&self) -> Value {
        let sessions: Vec<Value> = self
            .sessions
            .iter()
            .map(|s| s.truth.json(&s.conversation))
            .collect();
        json!({"file": self.name, "sessions": sessions})
    }
}

/// `dir/expected.json` for `files`.
pub fn expected_json(dir: &str, files: &[File]) -> Vec<(String, Vec<u8>)> {
    let truth: Vec<Value> = files.iter().map(File::truth).collect();
    let mut text = serde_json::to_string_pretty(&truth).unwrap_or_default();
    text.push('\n');
    vec![(format!("{dir}/expected.json"), text.into_bytes())]
}
