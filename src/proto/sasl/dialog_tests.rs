//! SASL as captures from the wild carry it (issue 19, classes 1-4), and
//! NTLM and GSSAPI, through the SMTP, IMAP and POP3 dialogs: every case is
//! a script fed through the dialog driver whole and in pieces of 1, 2, 3
//! and 7 bytes (gaps included), with the one-line summary of the facts it
//! must give (see `test_support::summary`), and no secret of it may show
//! in redacted evidence.

use crate::flow::Side;
use crate::proto::test_support::{
    C, Feed, S, Script, assert_redacted, check_table, run_with, summary,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

type Case<'a> = (&'a str, &'a Script<'a>, &'a str);

/// Runs `cases` (each fed whole and in pieces) and checks that none of
/// `secrets` (wire forms included) shows in redacted evidence.
fn check(cases: &[Case<'_>], secrets: &[&[u8]]) {
    check_table(cases);
    for (_, script, _) in cases {
        assert_redacted(&run_with(script, Feed::default()), secrets);
    }
}

/// Runs a case with a gap of `len` bytes on `side` before entry `before`,
/// whole and in pieces: the facts are `want` every time.
fn check_gap(name: &str, script: &Script<'_>, gap: (usize, Side, u64), want: &str) {
    for chunk in [None, Some(1), Some(2), Some(3), Some(7)] {
        let feed = Feed {
            chunk,
            gap: Some(gap),
            ..Feed::default()
        };
        let facts = run_with(script, feed);
        assert_eq!(summary(&facts), want, "case {name:?}, pieces of {chunk:?}");
    }
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn line(text: &str) -> Vec<u8> {
    format!("{text}\r\n").into_bytes()
}

// ---- SMTP, IMAP, POP3 framing ------------------------------------------------

const SMTP_G: &[u8] = b"220 mx.example.org ESMTP\r\n";
const IMAP_G: &[u8] = b"* OK IMAP4rev1 ready\r\n";
const POP3_G: &[u8] = b"+OK POP3 ready\r\n";

// ---- class 1: PLAIN with an empty authcid ----------------------------------

/// `bob NUL NUL pw-bob`: authzid, empty authcid, password.
const BOB_AUTHZID: &str = "Ym9iAABwdy1ib2I=";

#[test]
fn plain_empty_authcid_in_every_protocol() {
    let smtp_ir = line(&format!("AUTH PLAIN {BOB_AUTHZID}"));
    let imap_ir = line(&format!("a1 AUTHENTICATE PLAIN {BOB_AUTHZID}"));
    let bob = line(BOB_AUTHZID);
    let cases: &[Case<'_>] = &[
        (
            "SMTP, initial response, 235",
            &[(S, SMTP_G), (C, &smtp_ir), (S, b"235 2.7.0 ok\r\n")],
            "cred=PLAIN:bob:pw-bob:pw:ok; sens=AUTH PLAIN ****************",
        ),
        (
            "SMTP, `=` then the response after 334",
            &[
                (S, SMTP_G),
                (C, b"AUTH PLAIN =\r\n"),
                (S, b"334 \r\n"),
                (C, &bob),
                (S, b"235 2.7.0 ok\r\n"),
            ],
            "cred=PLAIN:bob:pw-bob:pw:ok; sens=AUTH PLAIN *",
        ),
        (
            "IMAP, SASL-IR, OK",
            &[(S, IMAP_G), (C, &imap_ir), (S, b"a1 OK done\r\n")],
            "cred=PLAIN:bob:pw-bob:pw:ok; sens=a1 AUTHENTICATE PLAIN ****************",
        ),
        (
            "IMAP, continuation",
            &[
                (S, IMAP_G),
                (C, b"a1 AUTHENTICATE PLAIN\r\n"),
                (S, b"+ \r\n"),
                (C, &bob),
                (S, b"a1 OK done\r\n"),
            ],
            "cred=PLAIN:bob:pw-bob:pw:ok; sens=a1 AUTHENTICATE PLAIN",
        ),
        (
            "POP3, continuation, refused",
            &[
                (S, POP3_G),
                (C, b"AUTH PLAIN\r\n"),
                (S, b"+ \r\n"),
                (C, &bob),
                (S, b"-ERR [AUTH] no\r\n"),
            ],
            "cred=PLAIN:bob:pw-bob:pw:fail; sens=AUTH PLAIN",
        ),
    ];
    check(cases, &[b"pw-bob", BOB_AUTHZID.as_bytes()]);
}

// ---- class 2: unknown mechanisms carrying a token ------------------------

#[test]
fn unknown_mechanism_token_in_every_protocol() {
    let cases: &[Case<'_>] = &[
        (
            "SMTP AUTH X-FOO with a token, 235",
            &[
                (S, SMTP_G),
                (C, b"AUTH x-foo dG9rLTE=\r\n"),
                (S, b"235 ok\r\n"),
            ],
            "cred=X-FOO:-:dG9rLTE=:token:ok; sens=AUTH x-foo ********",
        ),
        (
            "IMAP AUTHENTICATE XYMPKI, two cookies, OK",
            &[
                (S, IMAP_G),
                (C, b"a1 AUTHENTICATE XYMPKI\r\n"),
                (S, b"+ \r\n"),
                (C, b"V=1.0&P=tok-Zq8d0ck&F=1\r\n"),
                (S, b"+ \r\n"),
                (C, b"tok-AFxCa9s7w\r\n"),
                (S, b"a1 OK AUTHENTICATE completed\r\n"),
            ],
            "cred=XYMPKI:-:V=1.0&P=tok-Zq8d0ck&F=1\\x0Atok-AFxCa9s7w:token:ok; \
             sens=a1 AUTHENTICATE XYMPKI",
        ),
        (
            "POP3 AUTH X-COOKIE with the user in it, -ERR",
            &[
                (S, POP3_G),
                (C, b"AUTH X-COOKIE\r\n"),
                (S, b"+ \r\n"),
                (C, b"user=carol@example.org&c=tok-7\r\n"),
                (S, b"-ERR no\r\n"),
            ],
            "cred=X-COOKIE:carol@example.org:user=carol@example.org&c=tok-7:token:fail; \
             sens=AUTH X-COOKIE",
        ),
        (
            "SMTP AUTH EXTERNAL: no secret",
            &[(S, SMTP_G), (C, b"AUTH EXTERNAL =\r\n"), (S, b"235 ok\r\n")],
            "sens=AUTH EXTERNAL *",
        ),
        (
            "IMAP AUTHENTICATE ANONYMOUS: no credential",
            &[
                (S, IMAP_G),
                (C, b"a1 AUTHENTICATE ANONYMOUS\r\n"),
                (S, b"+ \r\n"),
                (C, b"dHJhY2U=\r\n"),
                (S, b"a1 OK\r\n"),
            ],
            "sens=a1 AUTHENTICATE ANONYMOUS",
        ),
        (
            "unknown mechanism refused before any data: nothing",
            &[
                (S, SMTP_G),
                (C, b"AUTH X-FOO\r\n"),
                (S, b"504 5.5.4 unrecognized\r\n"),
            ],
            "sens=AUTH X-FOO",
        ),
    ];
    check(
        cases,
        &[b"dG9rLTE=", b"tok-Zq8d0ck", b"tok-AFxCa9s7w", b"tok-7"],
    );
}

// ---- class 3: LOGIN answered in plain text ---------------------------------

#[test]
fn login_in_plain_text_in_every_protocol() {
    let cases: &[Case<'_>] = &[
        (
            "IMAP `+ User Name` / `+ Password`, answers valid base64 of binary",
            &[
                (S, IMAP_G),
                (C, b"a1 AUTHENTICATE LOGIN\r\n"),
                (S, b"+ User Name\r\n"),
                (C, b"jdoe\r\n"),
                (S, b"+ Password\r\n"),
                (C, b"Secret12\r\n"),
                (S, b"a1 OK LOGIN completed\r\n"),
            ],
            "cred=LOGIN:jdoe:Secret12:pw:ok; sens=a1 AUTHENTICATE LOGIN",
        ),
        (
            "SMTP `334 Username:` / `334 Password:`, plain answers",
            &[
                (S, SMTP_G),
                (C, b"AUTH LOGIN\r\n"),
                (S, b"334 Username:\r\n"),
                (C, b"root\r\n"),
                (S, b"334 Password:\r\n"),
                (C, b"toor\r\n"),
                (S, b"535 5.7.8 no\r\n"),
            ],
            "cred=LOGIN:root:toor:pw:fail; sens=AUTH LOGIN",
        ),
        (
            "POP3 plain prompts, base64 answers: decoded",
            &[
                (S, POP3_G),
                (C, b"AUTH LOGIN\r\n"),
                (S, b"+ Username:\r\n"),
                (C, b"YWxpY2U=\r\n"),
                (S, b"+ Password:\r\n"),
                (C, b"cHctYWxpY2U=\r\n"),
                (S, b"+OK\r\n"),
            ],
            "cred=LOGIN:alice:pw-alice:pw:ok; sens=AUTH LOGIN",
        ),
    ];
    check(cases, &[b"Secret12", b"toor", b"pw-alice", b"cHctYWxpY2U="]);
}

// ---- class 4: a password after a lost prompt -------------------------------

#[test]
fn login_password_after_a_lost_prompt() {
    // `334 UGFzc3dvcmQ6\r\n` (18 bytes) / `+ UGFzc3dvcmQ6\r\n` (16) fell
    // into a gap: the client's next line is the password all the same.
    let want = "cred=LOGIN:alice:secret:pw:ok; sens=AUTH LOGIN";
    let smtp: &Script<'_> = &[
        (S, SMTP_G),
        (C, b"AUTH LOGIN\r\n"),
        (S, b"334 VXNlcm5hbWU6\r\n"),
        (C, b"YWxpY2U=\r\n"),
        (C, b"c2VjcmV0\r\n"),
        (S, b"235 2.7.0 ok\r\n"),
    ];
    check_gap("SMTP", smtp, (4, S, 18), want);
    let pop3: &Script<'_> = &[
        (S, POP3_G),
        (C, b"AUTH LOGIN\r\n"),
        (S, b"+ VXNlcm5hbWU6\r\n"),
        (C, b"YWxpY2U=\r\n"),
        (C, b"c2VjcmV0\r\n"),
        (S, b"+OK\r\n"),
    ];
    check_gap("POP3", pop3, (4, S, 16), want);
    let imap: &Script<'_> = &[
        (S, IMAP_G),
        (C, b"a1 AUTHENTICATE LOGIN\r\n"),
        (S, b"+ VXNlcm5hbWU6\r\n"),
        (C, b"YWxpY2U=\r\n"),
        (C, b"c2VjcmV0\r\n"),
        (S, b"a1 OK\r\n"),
    ];
    check_gap(
        "IMAP",
        imap,
        (4, S, 16),
        "cred=LOGIN:alice:secret:pw:ok; sens=a1 AUTHENTICATE LOGIN",
    );
    // The gap shows only later (the prompt was not captured at all, the
    // client's ACK not yet read): the position still decides.
    let cases: &[Case<'_>] = &[
        ("SMTP, prompt missing", smtp, want),
        ("POP3, prompt missing", pop3, want),
    ];
    check(cases, &[b"c2VjcmV0", b"secret"]);
    // The verdict, not a prompt, fell into the gap: the next line is a
    // command again (replies are matched in order, so the 454 settles
    // the AUTH: a lost reply shifts them, as anywhere in SMTP).
    let lost_verdict: &Script<'_> = &[
        (S, SMTP_G),
        (C, b"AUTH LOGIN\r\n"),
        (S, b"334 VXNlcm5hbWU6\r\n"),
        (C, b"YWxpY2U=\r\n"),
        (S, b"334 UGFzc3dvcmQ6\r\n"),
        (C, b"c2VjcmV0\r\n"),
        (C, b"STARTTLS\r\n"),
        (S, b"454 no tls\r\n"),
    ];
    check_gap(
        "SMTP, verdict lost",
        lost_verdict,
        (6, S, 14),
        "stls=STARTTLS; cred=LOGIN:alice:secret:pw:fail; sens=AUTH LOGIN",
    );
}

// ---- NTLM and GSSAPI in every protocol ---------------------------------------

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// NTLMSSP NEGOTIATE, CHALLENGE (server challenge 0102030405060708,
/// Unicode) and AUTHENTICATE (user `alice`, domain `CORP`, NTLMv2-sized
/// NT response) messages, in base64.
fn ntlm_messages() -> [String; 3] {
    let mut negotiate = b"NTLMSSP\0".to_vec();
    negotiate.extend_from_slice(&1u32.to_le_bytes());
    negotiate.extend_from_slice(&0x0000_8201u32.to_le_bytes());
    negotiate.extend_from_slice(&[0; 16]);
    let mut challenge = b"NTLMSSP\0".to_vec();
    challenge.extend_from_slice(&2u32.to_le_bytes());
    challenge.extend_from_slice(&[0, 0, 0, 0, 48, 0, 0, 0]);
    challenge.extend_from_slice(&0x0000_8201u32.to_le_bytes());
    challenge.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    challenge.extend_from_slice(&[0; 16]);
    let fields: [Vec<u8>; 5] = [
        vec![0x11; 24],
        vec![0x22; 48],
        utf16("CORP"),
        utf16("alice"),
        utf16("WS1"),
    ];
    let header = 72usize;
    let mut authenticate = b"NTLMSSP\0".to_vec();
    authenticate.extend_from_slice(&3u32.to_le_bytes());
    let mut payload = Vec::new();
    for f in &fields {
        let len = f.len() as u16;
        authenticate.extend_from_slice(&len.to_le_bytes());
        authenticate.extend_from_slice(&len.to_le_bytes());
        authenticate.extend_from_slice(&((header + payload.len()) as u32).to_le_bytes());
        payload.extend_from_slice(f);
    }
    authenticate.extend_from_slice(&[0; 8]);
    authenticate.extend_from_slice(&0x0000_8201u32.to_le_bytes());
    authenticate.extend_from_slice(&[6, 1, 0x1d, 0x4f, 0, 0, 0, 15]);
    authenticate.extend_from_slice(&payload);
    [b64(&negotiate), b64(&challenge), b64(&authenticate)]
}

#[test]
fn ntlm_in_every_protocol() {
    let [t1, t2, t3] = ntlm_messages();
    let cred = format!(
        "cred=NTLM:alice:{}:cr:ok:ch=0102030405060708",
        "22".repeat(48)
    );
    let smtp: Vec<Vec<u8>> = vec![
        SMTP_G.to_vec(),
        line(&format!("AUTH NTLM {t1}")),
        line(&format!("334 {t2}")),
        line(&t3),
        line("235 2.7.0 Authentication successful"),
    ];
    // Exchange answers a bare `AUTH NTLM` with `334 NTLM supported`.
    let exchange: Vec<Vec<u8>> = vec![
        SMTP_G.to_vec(),
        line("AUTH NTLM"),
        line("334 NTLM supported"),
        line(&t1),
        line(&format!("334 {t2}")),
        line(&t3),
        line("235 2.7.0 Authentication successful"),
    ];
    let imap: Vec<Vec<u8>> = vec![
        IMAP_G.to_vec(),
        line("a1 AUTHENTICATE NTLM"),
        line("+ "),
        line(&t1),
        line(&format!("+ {t2}")),
        line(&t3),
        line("a1 OK NTLM authentication successful"),
    ];
    let pop3: Vec<Vec<u8>> = vec![
        POP3_G.to_vec(),
        line("AUTH NTLM"),
        line("+ "),
        line(&t1),
        line(&format!("+ {t2}")),
        line(&t3),
        line("+OK User successfully authenticated"),
    ];
    let sides = |v: &[Vec<u8>]| -> Vec<(Side, Vec<u8>)> {
        v.iter()
            .enumerate()
            .map(|(i, b)| (if i % 2 == 0 { S } else { C }, b.clone()))
            .collect()
    };
    for (name, script, sens) in [
        ("SMTP", &smtp, format!("AUTH NTLM {}", "*".repeat(t1.len()))),
        (
            "SMTP, Exchange's `334 NTLM supported`",
            &exchange,
            "AUTH NTLM".into(),
        ),
        ("IMAP", &imap, "a1 AUTHENTICATE NTLM".into()),
        ("POP3", &pop3, "AUTH NTLM".into()),
    ] {
        let owned = sides(script);
        let script: Vec<(Side, &[u8])> = owned.iter().map(|(s, b)| (*s, &b[..])).collect();
        let want = format!("{cred}; sens={sens}");
        check_table(&[(name, &script, &want)]);
        assert_redacted(&run_with(&script, Feed::default()), &[t3.as_bytes()]);
    }
}

#[test]
fn gssapi_kerberos_in_every_protocol() {
    // A Kerberos AP-REQ token and the server's answer: no username or
    // reusable secret visible, so no credential; the token is masked and
    // the dialog reads commands again after the verdict.
    const TOKEN: &str = "YIICMgYJKoZIhvcSAQICAQBuggIhMIICHaADAgEFoQMCAQ6iBwMFACAAAACjggE=";
    let token = line(TOKEN);
    let cases: &[Case<'_>] = &[
        (
            "SMTP",
            &[
                (S, SMTP_G),
                (C, b"AUTH GSSAPI\r\n"),
                (S, b"334 \r\n"),
                (C, &token),
                (S, b"334 YGkGCSqGSIb3EgECAgIAb1owWKADAgEFoQMCAQ8=\r\n"),
                (C, b"\r\n"),
                (S, b"334 BQQF/wAMAAAAAAAAAAAAAAA=\r\n"),
                (C, b"BQQE/wAMAAAAAAAAAAAAAAA=\r\n"),
                (S, b"235 2.7.0 ok\r\n"),
                (C, b"STARTTLS\r\n"),
                (S, b"454 no tls\r\n"),
            ],
            "stls=STARTTLS; ans=no:454 no tls; sens=AUTH GSSAPI",
        ),
        (
            "IMAP",
            &[
                (S, IMAP_G),
                (C, b"a1 AUTHENTICATE GSSAPI\r\n"),
                (S, b"+ \r\n"),
                (C, &token),
                (S, b"+ YGkGCSqGSIb3EgECAgIAb1owWKADAgEFoQMCAQ8=\r\n"),
                (C, b"\r\n"),
                (S, b"a1 OK GSSAPI done\r\n"),
                (C, b"a2 STARTTLS\r\n"),
                (S, b"a2 NO no tls\r\n"),
            ],
            "stls=a2 STARTTLS; ans=no:a2 NO no tls; sens=a1 AUTHENTICATE GSSAPI",
        ),
        (
            "POP3",
            &[
                (S, POP3_G),
                (C, b"AUTH GSSAPI\r\n"),
                (S, b"+ \r\n"),
                (C, &token),
                (S, b"+ YGkGCSqGSIb3EgECAgIAb1owWKADAgEFoQMCAQ8=\r\n"),
                (C, b"\r\n"),
                (S, b"+OK\r\n"),
                (C, b"STLS\r\n"),
                (S, b"-ERR no tls\r\n"),
            ],
            "stls=STLS; ans=no:-ERR no tls; sens=AUTH GSSAPI",
        ),
    ];
    check(cases, &[TOKEN.as_bytes()]);
    for (name, script, _) in cases {
        let facts = run_with(script, Feed::default());
        let masked = facts.all_secret_spans();
        assert!(!masked.is_empty(), "{name}: the token is masked");
    }
}
