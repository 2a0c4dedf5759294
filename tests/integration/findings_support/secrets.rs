//! The secrets of the findings samples, for tests that look for leaks in
//! every output.

use super::all;
use crate::gen_samples::{self, findings_imap, findings_smtp, mechanisms as mech};

/// The secrets as they crossed or as the report would name them: passwords
/// and tokens, the challenge responses (digests, NTLM response), and the
/// base64 text of every client SASL message that carries one.
pub fn secrets() -> Vec<String> {
    let mut out: Vec<String> = mech::SECRETS.iter().map(|s| s.to_string()).collect();
    for e in all() {
        for c in e.sessions.iter().flat_map(|s| &s.credentials) {
            out.extend(c.secret.clone());
        }
    }
    let dialogs = findings_smtp::auth_dialogs()
        .into_iter()
        .chain(findings_imap::sasl_dialogs());
    for (_, lines) in dialogs {
        for (i, (dir, text)) in lines.iter().enumerate() {
            if *dir != gen_samples::conversation::Dir::Client || text.is_empty() {
                continue;
            }
            let base64 = if i == 0 {
                text.rsplit(' ').next()
            } else {
                Some(&text[..])
            };
            // `AUTH CRAM-MD5`, `a001 AUTHENTICATE GSSAPI`: no initial response.
            if let Some(b) = base64.filter(|b| b.len() > 12) {
                out.push(b.to_string());
            }
        }
    }
    out.push(mech::plain(mech::POP3_PLAIN));
    out.sort();
    out.dedup();
    out
}

/// A secret in the forms an output could show it: raw, escaped
/// (`stripwatch::text::escape`) and inside a JSON string.
pub fn forms(secret: &str) -> Vec<String> {
    let escaped = stripwatch::text::escape(secret.as_bytes());
    let json = |s: &str| {
        serde_json::to_string(s)
            .unwrap()
            .trim_matches('"')
            .to_string()
    };
    let mut v = vec![secret.to_string(), json(secret), json(&escaped), escaped];
    v.sort();
    v.dedup();
    v
}
