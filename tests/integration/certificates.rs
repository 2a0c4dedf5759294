//! The server's leaf certificate in the session record (TLS 1.2 and
//! older), over real STARTTLS and implicit-TLS captures of the public
//! corpus, read in place (never copied here): a capture that is not
//! present is skipped with a printed reason.
//!
//! The expected values are what OpenSSL reads in the certificate tshark
//! shows (`tshark -r F -Y tls.handshake.certificate -T fields -e
//! tls.handshake.certificate`, the first DER, through `openssl x509 -inform
//! DER -noout -subject -issuer -enddate -fingerprint -sha256 -nameopt
//! RFC2253`); stripwatch's escaping of the wire's text makes RFC 4514's
//! `\,` read `\x5C,`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/public")
}

/// The JSON report of one capture, or `None` (said) when it is absent.
fn report(file: &str) -> Option<Value> {
    let path = corpus().join(file);
    if !path.exists() {
        eprintln!("skipping {file}: not present under {}", corpus().display());
        return None;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args(["analyze", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0..=1)), "{out:?}");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The session whose client is `client` (ip:port).
fn session<'a>(report: &'a Value, client: &str) -> &'a Value {
    report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client"] == client)
        .unwrap_or_else(|| panic!("no session from {client}"))
}

struct Expected {
    client: &'static str,
    version: &'static str,
    subject: &'static str,
    issuer: &'static str,
    not_after: &'static str,
    sha256: &'static str,
}

#[test]
fn starttls_and_implicit_tls_certificates_match_openssl() {
    let cases = [
        (
            // SMTP STARTTLS, TLS 1.2, a self-signed certificate.
            "ndpi/pcap/smtp-starttls.pcap",
            Expected {
                client: "[2003:de:2016:125:fc36:8317:4e86:cb72]:7562",
                version: "TLS 1.2",
                subject: "CN=jw-vm08-int-dns",
                issuer: "CN=jw-vm08-int-dns",
                // notAfter=Aug 14 09:33:19 2026 GMT
                not_after: "2026-08-14T09:33:19.000000Z",
                sha256: "f1fe9ce4b1564275b5ff0de318cf4c570ce2da99df5a8412564ac29c6cf21381",
            },
        ),
        (
            // SMTP STARTTLS, TLS 1.0, a chain of three.
            "ndpi/pcap/smtp-starttls.pcap",
            Expected {
                client: "10.0.0.1:57406",
                version: "TLS 1.0",
                subject: "CN=mx.google.com,O=Google Inc,L=Mountain View,ST=California,C=US",
                issuer: "CN=Google Internet Authority G2,O=Google Inc,C=US",
                not_after: "2014-09-09T11:32:35.000000Z",
                sha256: "4f0a1ac1c6e873c8805fe2fc56c7aac77025f1dcbbbf907e768f1ec88c3485db",
            },
        ),
        (
            // POP3 STLS; the issuer has a comma in a value.
            "ndpi/pcap/pop3_stls.pcap",
            Expected {
                client: "192.168.20.18:50583",
                version: "TLS 1.0",
                subject: "CN=*.lavabit.com,OU=Domain Control Validated,O=*.lavabit.com",
                issuer: "serialNumber=07969287,CN=Go Daddy Secure Certification Authority,\
                         OU=http://certificates.godaddy.com/repository,\
                         O=GoDaddy.com\\x5C, Inc.,L=Scottsdale,ST=Arizona,C=US",
                not_after: "2017-02-17T04:07:46.000000Z",
                sha256: "cc002cec2face552f7e74e0857da764f8a171ddd99970a27c55c75c7d0fa38f7",
            },
        ),
        (
            // IMAP on 993.
            "ndpi/pcap/imaps.pcap",
            Expected {
                client: "192.168.1.8:50506",
                version: "TLS 1.2",
                subject: "CN=mail.ntop.org",
                issuer: "CN=Let's Encrypt Authority X3,O=Let's Encrypt,C=US",
                not_after: "2020-07-17T00:15:22.000000Z",
                sha256: "cb9ac49961c4ac0f1c1a610be90d69f6e3eb167344660846c7b320276e22b293",
            },
        ),
    ];
    for (file, want) in cases {
        let Some(report) = report(file) else { continue };
        let s = session(&report, want.client);
        let what = format!("{file} {}", want.client);
        assert_eq!(s["tls"]["server_hello"]["version"], want.version, "{what}");
        let cert = &s["tls"]["server_certificate"];
        assert_eq!(cert["subject"], want.subject, "{what}");
        assert_eq!(cert["issuer"], want.issuer, "{what}");
        assert_eq!(cert["not_after"], want.not_after, "{what}");
        assert_eq!(cert["sha256"], want.sha256, "{what}");
        assert!(s["starttls"]["tls_established"].as_bool().unwrap() || s["implicit_tls"] == true);
    }
}

#[test]
fn tls13_sessions_have_no_certificate() {
    // A TLS 1.3 STARTTLS handshake (the certificate is encrypted), and the
    // committed lab captures, all TLS 1.3.
    let mut reports: Vec<Value> = report("suricata-verify/smtp-startssl/input.pcap")
        .into_iter()
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args(["analyze", "--format", "json", "samples/lab"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    reports.push(serde_json::from_slice(&out.stdout).unwrap());
    let mut hellos = 0;
    for report in &reports {
        for s in report["sessions"].as_array().unwrap() {
            if s["tls"]["server_hello"]["version"] == "TLS 1.3" {
                hellos += 1;
                assert!(s["tls"].get("server_certificate").is_none(), "{s}");
            }
        }
    }
    assert!(hellos >= 20, "{hellos} TLS 1.3 sessions");
}
