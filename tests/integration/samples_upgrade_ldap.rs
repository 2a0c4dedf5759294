//! LDAP over the upgrade corpus's real captures, read in place (never
//! copied here): a capture that is not present is skipped with a printed
//! reason. Per capture: the session is `ldap`, with StartTLS requested,
//! accepted and established, or the bind the corpus's truth lists (simple,
//! SASL SCRAM-SHA-512, SASL NTLM); no secret in the report without
//! `--show-secrets`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/upgrade")
}

/// The report's text and JSON, or `None` (said) when the capture is absent.
fn report(file: &str, show: bool) -> Option<(String, Value)> {
    let path = corpus().join(file);
    if !path.exists() {
        eprintln!("skipping {file}: not present under {}", corpus().display());
        return None;
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stripwatch"));
    cmd.args(["analyze", "--format", "json"]);
    if show {
        cmd.arg("--show-secrets");
    }
    let out = cmd.arg(&path).output().unwrap();
    assert!(matches!(out.status.code(), Some(0..=1)), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let json = serde_json::from_str(&text).unwrap();
    Some((text, json))
}

/// `offered/requested/accepted/tls creds findings` of one session.
fn shape(s: &Value) -> String {
    let t = &s["starttls"];
    let list = |key: &str, f: &dyn Fn(&Value) -> String| -> String {
        let items: Vec<String> = s[key].as_array().unwrap().iter().map(f).collect();
        items.join(",")
    };
    let creds = list("credentials", &|c| {
        format!(
            "{}:{}:{}",
            c["mechanism"].as_str().unwrap(),
            c["username"].as_str().unwrap(),
            c["outcome"].as_str().unwrap()
        )
    });
    let findings = list("findings", &|f| f.as_str().unwrap().to_string());
    format!(
        "{}/{}/{}/{} {creds} {findings}",
        t["offered"], t["requested"], t["accepted"], t["tls_established"],
    )
}

#[test]
fn ldap_sessions_of_the_upgrade_corpus() {
    let cases: &[(&str, &str)] = &[
        ("zeek/ldap/ldap-starttls.pcap", "null/true/true/true  "),
        (
            "suricata-verify/ldap-starttls/input.pcap",
            "null/true/true/true  ",
        ),
        (
            "zeek/ldap/ldap-who-am-i.pcap",
            "null/false/null/false LDAP-SIMPLE:cn=admin,dc=example,dc=com:success cleartext-credentials",
        ),
        (
            "zeek/ldap/sasl-scram-sha-512.pcap",
            "null/false/null/false SCRAM-SHA-512:sasladmin@slapd.ldap:success ",
        ),
        (
            "zeek/ldap/sasl-ntlm.pcap",
            "null/false/null/false NTLM:sasladmin@slapd.ldap:success weak-credentials-exposed",
        ),
    ];
    for (file, want) in cases {
        let Some((text, json)) = report(file, false) else {
            continue;
        };
        let sessions = json["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{file}");
        assert_eq!(sessions[0]["protocol"], "ldap", "{file}");
        assert_eq!(shape(&sessions[0]), *want, "{file}");
        // The password and NTLM response shown with --show-secrets never
        // show without it.
        // (The path names the capture, and zeek's password is `zeek`.)
        let text = text.replace(&*corpus().join(file).to_string_lossy(), "");
        let (_, shown) = report(file, true).unwrap();
        for s in shown["sessions"].as_array().unwrap() {
            for c in s["credentials"].as_array().unwrap() {
                if let Some(secret) = c["secret"].as_str().filter(|x| !x.is_empty()) {
                    assert!(!text.contains(secret), "{file}: {secret} shown");
                }
            }
        }
    }
}

/// Active Directory's Global Catalog speaks LDAP on 3268 (StartTLS) and
/// 3269 (TLS): a simple bind in cleartext there is found, the password
/// masked; a session on 3269 that is not TLS is plaintext on an
/// implicit-TLS port.
#[test]
fn global_catalog_ports_are_ldap() {
    use crate::adversarial_support::{Capture, TempFile};
    use crate::gen_samples::conversation::Conversation;
    // BindRequest (messageID 1, version 3, simple): DN then password.
    let dn = b"cn=alice,dc=example,dc=org";
    let password = b"pw-gc-secret";
    let bind_body = [
        &[0x02, 0x01, 0x03, 0x04, dn.len() as u8][..],
        dn,
        &[0x80, password.len() as u8],
        password,
    ]
    .concat();
    let message = [
        &[0x02, 0x01, 0x01, 0x60, bind_body.len() as u8][..],
        &bind_body,
    ]
    .concat();
    let bind = [&[0x30, message.len() as u8][..], &message].concat();
    // BindResponse: success.
    let ok = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    let mut cap = Capture::default();
    for (port, client) in [(3268, "192.0.2.10:40001"), (3269, "192.0.2.10:40002")] {
        let mut c = Conversation::new(client, &format!("198.51.100.5:{port}"));
        c.handshake();
        c.client_sends(&bind);
        c.server_sends(ok);
        c.close(crate::gen_samples::conversation::Dir::Client);
        cap.conversation(&c);
    }
    let file = TempFile::new("global-catalog.pcap", &cap.pcap());
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args(["analyze", "--format", "json"])
        .arg(file.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("pw-gc-secret"), "the password leaked");
    let json: Value = serde_json::from_str(&text).unwrap();
    let sessions = json["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{text}");
    for s in sessions {
        assert_eq!(s["protocol"], "ldap", "{s}");
        let creds = s["credentials"].as_array().unwrap();
        assert_eq!(creds.len(), 1, "{s}");
        assert_eq!(creds[0]["mechanism"], "LDAP-SIMPLE", "{s}");
    }
    let kinds = |s: &Value| -> Vec<String> {
        s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    assert!(kinds(&sessions[0]).contains(&"cleartext-credentials".to_string()));
    assert!(
        kinds(&sessions[1]).contains(&"plaintext-on-implicit-tls-port".to_string()),
        "{}",
        sessions[1]
    );
}
