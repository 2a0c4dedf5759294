//! Challenge-response material as lines password crackers read, for
//! password-strength audits (`--hashes FILE`).
//!
//! - CRAM-MD5: hashcat mode 10200 (John the Ripper reads it too):
//!   `$cram_md5$<base64 challenge>$<base64 "user digest">`.
//! - APOP: MD5(timestamp . password) is hashcat mode 20, md5($salt.$pass):
//!   `<digest>:<timestamp>`.
//! - NTLM: NetNTLMv1 (hashcat 5500) `user::domain:lm:nt:challenge`,
//!   NetNTLMv2 (hashcat 5600) `user::domain:challenge:ntproof:blob`.
//! - PostgreSQL MD5 (`PG-MD5`): hashcat mode 11100,
//!   `$postgres$<user>*<salt as 8 hex>*<32 hex after "md5">`.
//! - MySQL native password (`MYSQL-mysql_native_password`): hashcat mode
//!   11200, `$mysqlna$<scramble as 40 hex>*<response as 40 hex>`.
//! - DIGEST-MD5, which hashcat lacks: John the Ripper's `dmd5` format,
//!   `$DIGEST-MD5$user$realm$nonce$digest-uri$cnonce$nc$qop$response[$authzid]`.
//!
//! A field holding the format's own separator or a non-printable byte
//! cannot be written faithfully; such a credential is left out (counted).

use crate::proto::{Credential, SecretKind};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

/// One crackable line and the tool it is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HashLine {
    /// `hashcat` or `john`.
    pub tool: &'static str,
    /// hashcat's mode number or John's format name.
    pub format: &'static str,
    pub mechanism: String,
    pub line: String,
}

/// The hash line of a challenge-response credential, if it has one and it
/// can be written.
pub(crate) fn hash_line(cred: &Credential) -> Option<HashLine> {
    if cred.secret_kind != SecretKind::ChallengeResponse || cred.cancelled {
        return None;
    }
    let user = cred.username.as_deref()?;
    let (tool, format, line) = match cred.mechanism.as_str() {
        "CRAM-MD5" => cram_md5(cred, user)?,
        "APOP" => apop(cred)?,
        "NTLM" => ntlm(cred, user)?,
        "DIGEST-MD5" => digest_md5(cred, user)?,
        "PG-MD5" => postgres_md5(cred, user)?,
        "MYSQL-mysql_native_password" => mysql_native(cred)?,
        _ => return None,
    };
    Some(HashLine {
        tool,
        format,
        mechanism: cred.mechanism.clone(),
        line,
    })
}

/// A line with its tool and format.
type Formatted = (&'static str, &'static str, String);

/// A field the mechanism's parser kept beside the secret.
fn extra<'c>(cred: &'c Credential, name: &str) -> Option<&'c [u8]> {
    cred.extra
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_slice())
}

/// hashcat 11100: `$postgres$<user>*<salt hex>*<hash hex>` (the user is
/// the MD5's salt too; one holding `*`, `$` or a non-printable byte is left
/// out).
fn postgres_md5(cred: &Credential, user: &[u8]) -> Option<Formatted> {
    let salt = cred.challenge.as_deref()?;
    let hex = |b: &[u8], n: usize| b.len() == n && b.iter().all(u8::is_ascii_hexdigit);
    let printable = user
        .iter()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'*' | b'$'));
    if !hex(salt, 8) || !hex(&cred.secret, 32) || !printable || user.is_empty() {
        return None;
    }
    let text = format!(
        "$postgres${}*{}*{}",
        String::from_utf8_lossy(user),
        String::from_utf8_lossy(salt),
        String::from_utf8_lossy(&cred.secret)
    );
    Some(("hashcat", "11100", text))
}

/// hashcat 11200: `$mysqlna$<scramble hex>*<response hex>` (both 20
/// bytes, the scramble of the greeting or of an AuthSwitchRequest).
fn mysql_native(cred: &Credential) -> Option<Formatted> {
    let scramble = cred.challenge.as_deref()?;
    let hex = |b: &[u8]| b.len() == 40 && b.iter().all(u8::is_ascii_hexdigit);
    if !hex(scramble) || !hex(&cred.secret) {
        return None;
    }
    let text = format!(
        "$mysqlna${}*{}",
        String::from_utf8_lossy(scramble),
        String::from_utf8_lossy(&cred.secret)
    );
    Some(("hashcat", "11200", text))
}

/// hashcat 10200: `$cram_md5$<base64 challenge>$<base64 "user digest">`.
fn cram_md5(cred: &Credential, user: &[u8]) -> Option<Formatted> {
    let challenge = cred.challenge.as_deref()?;
    let mut response = user.to_vec();
    response.push(b' ');
    response.extend_from_slice(&cred.secret);
    let text = format!(
        "$cram_md5${}${}",
        STANDARD.encode(challenge),
        STANDARD.encode(&response)
    );
    Some(("hashcat", "10200", text))
}

/// hashcat 20: `<digest>:<timestamp>`.
fn apop(cred: &Credential) -> Option<Formatted> {
    let stamp = text(cred.challenge.as_deref()?, b":")?;
    let digest = text(&cred.secret, b":")?;
    Some(("hashcat", "20", format!("{digest}:{stamp}")))
}

/// hashcat 5500 (NetNTLMv1) or 5600 (NetNTLMv2).
fn ntlm(cred: &Credential, user: &[u8]) -> Option<Formatted> {
    let sep = b":";
    let (user, domain) = (
        text(user, sep)?,
        text(extra(cred, "domain").unwrap_or_default(), sep)?,
    );
    let challenge = text(cred.challenge.as_deref()?, sep)?;
    let nt = text(&cred.secret, sep)?;
    match extra(cred, "ntlm_version") {
        Some(b"v1") => {
            let lm = text(extra(cred, "lm_response").unwrap_or_default(), sep)?;
            Some((
                "hashcat",
                "5500",
                format!("{user}::{domain}:{lm}:{nt}:{challenge}"),
            ))
        }
        Some(b"v2") => {
            let (proof, blob) = (nt.get(..32)?, nt.get(32..)?);
            Some((
                "hashcat",
                "5600",
                format!("{user}::{domain}:{challenge}:{proof}:{blob}"),
            ))
        }
        _ => None,
    }
}

/// John the Ripper's `dmd5`:
/// `$DIGEST-MD5$user$realm$nonce$digest-uri$cnonce$nc$qop$response[$authzid]`.
fn digest_md5(cred: &Credential, user: &[u8]) -> Option<Formatted> {
    let sep = b"$";
    let field = |name: &str| text(extra(cred, name).unwrap_or_default(), sep);
    let mut out = format!(
        "$DIGEST-MD5${}${}${}${}${}${}${}${}",
        text(user, sep)?,
        field("realm")?,
        text(cred.challenge.as_deref()?, sep)?,
        field("digest-uri")?,
        field("cnonce")?,
        field("nc")?,
        field("qop")?,
        text(&cred.secret, sep)?,
    );
    if let Some(authzid) = extra(cred, "authzid").filter(|a| !a.is_empty()) {
        out.push('$');
        out.push_str(text(authzid, sep)?);
    }
    Some(("john", "dmd5", out))
}

/// `bytes` as text for a hash line: printable ASCII without `forbidden`.
fn text<'a>(bytes: &'a [u8], forbidden: &[u8]) -> Option<&'a str> {
    let ok = bytes
        .iter()
        .all(|b| (0x20..0x7f).contains(b) && !forbidden.contains(b));
    if ok {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cred(mechanism: &str, user: &[u8], secret: &[u8], challenge: &[u8]) -> Credential {
        let mut c = Credential::new(mechanism);
        c.username = Some(user.to_vec());
        c.secret_kind = SecretKind::ChallengeResponse;
        c.secret = secret.to_vec();
        c.challenge = Some(challenge.to_vec());
        c
    }

    #[test]
    fn cram_md5_rfc2195() {
        let c = cred(
            "CRAM-MD5",
            b"tim",
            b"b913a602c7eda7a495b4e6e7334d3890",
            b"<1896.697170952@postoffice.reston.mci.net>",
        );
        let h = hash_line(&c).unwrap();
        assert_eq!((h.tool, h.format), ("hashcat", "10200"));
        assert_eq!(
            h.line,
            "$cram_md5$PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\
             $dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
    }

    /// hashcat's own example for mode 11100 (module_11100.c's self-test).
    #[test]
    fn postgres_md5_hashcat_example() {
        let c = cred(
            "PG-MD5",
            b"postgres",
            b"4e7fabaaf34d780c4a5822d28ee1c83e",
            b"74402844",
        );
        let h = hash_line(&c).unwrap();
        assert_eq!((h.tool, h.format), ("hashcat", "11100"));
        assert_eq!(
            h.line,
            "$postgres$postgres*74402844*4e7fabaaf34d780c4a5822d28ee1c83e"
        );
        // A user with the format's separator, or a short hash: left out.
        for (user, secret) in [
            (&b"a*b"[..], &b"4e7fabaaf34d780c4a5822d28ee1c83e"[..]),
            (b"postgres", b"4e7fab"),
        ] {
            assert!(hash_line(&cred("PG-MD5", user, secret, b"74402844")).is_none());
        }
    }

    /// hashcat's own example for mode 11200 (module_11200.c's self-test).
    #[test]
    fn mysql_native_hashcat_example() {
        let c = cred(
            "MYSQL-mysql_native_password",
            b"root",
            b"437e93572f18ae44d9e779160c2505271f85821d",
            b"1c24ab8d0ee94d70ab1f2e814d8f0948a14d10b9",
        );
        let h = hash_line(&c).unwrap();
        assert_eq!((h.tool, h.format), ("hashcat", "11200"));
        assert_eq!(
            h.line,
            "$mysqlna$1c24ab8d0ee94d70ab1f2e814d8f0948a14d10b9*437e93572f18ae44d9e779160c2505271f85821d"
        );
        // A short scramble (an old server's 8 bytes): left out.
        let short = cred(
            "MYSQL-mysql_native_password",
            b"root",
            b"437e9357",
            b"1c24ab8d",
        );
        assert!(hash_line(&short).is_none());
    }

    #[test]
    fn apop_rfc1939() {
        let c = cred(
            "APOP",
            b"mrose",
            b"c4c9334bac560ecc979e58001b3e22fb",
            b"<1896.697170952@dbc.mtview.ca.us>",
        );
        assert_eq!(
            hash_line(&c).unwrap().line,
            "c4c9334bac560ecc979e58001b3e22fb:<1896.697170952@dbc.mtview.ca.us>"
        );
    }

    #[test]
    fn ntlm_versions() {
        let mut v2 = cred("NTLM", b"user", &[b'a'; 64], b"0123456789abcdef");
        v2.extra.push(("domain".into(), b"DOM".to_vec()));
        v2.extra.push(("ntlm_version".into(), b"v2".to_vec()));
        let line = hash_line(&v2).unwrap().line;
        assert_eq!(
            line,
            format!(
                "user::DOM:0123456789abcdef:{}:{}",
                "a".repeat(32),
                "a".repeat(32)
            )
        );
        let mut v1 = cred("NTLM", b"user", &[b'b'; 48], b"0123456789abcdef");
        v1.extra.push(("ntlm_version".into(), b"v1".to_vec()));
        v1.extra.push(("lm_response".into(), vec![b'c'; 48]));
        let h = hash_line(&v1).unwrap();
        assert_eq!(h.format, "5500");
        assert!(h.line.starts_with("user:::ccc"));
    }

    #[test]
    fn digest_md5_john() {
        let mut c = cred(
            "DIGEST-MD5",
            b"chris",
            b"d388dad90d4bbd760a152321f2143af7",
            b"OA6MG9tEQGm2hh",
        );
        for (k, v) in [
            ("realm", &b"elwood.innosoft.com"[..]),
            ("digest-uri", b"imap/elwood.innosoft.com"),
            ("cnonce", b"OA6MHXh6VqTrRk"),
            ("nc", b"00000001"),
            ("qop", b"auth"),
        ] {
            c.extra.push((k.into(), v.to_vec()));
        }
        assert_eq!(
            hash_line(&c).unwrap().line,
            "$DIGEST-MD5$chris$elwood.innosoft.com$OA6MG9tEQGm2hh$imap/elwood.innosoft.com\
             $OA6MHXh6VqTrRk$00000001$auth$d388dad90d4bbd760a152321f2143af7"
        );
    }

    #[test]
    fn unwritable_fields_are_left_out() {
        let c = cred("APOP", b"u", b"ab:cd", b"<x@y>");
        assert!(hash_line(&c).is_none());
        let c = cred("NTLM", b"us\ner", &[b'a'; 48], b"00");
        assert!(hash_line(&c).is_none());
        let mut plain = cred("PLAIN", b"u", b"pw", b"");
        plain.secret_kind = SecretKind::Password;
        assert!(hash_line(&plain).is_none());
    }
}
