//! Table-driven tests of the SASL decoder: one table per mechanism with the
//! encodings of the RFC / vendor examples, then cancellation, evidence,
//! bounds and garbage.

use super::messages::unescape_saslname;
use super::*;
use crate::flow::{PacketRef, Side};
use crate::time::Timestamp;
use base64::engine::general_purpose::STANDARD;

/// One server challenge or client response, as base64 text.
#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    C(&'a str),
    R(&'a str),
}
use Step::{C, R};

fn ev(side: Side, frame: u64, bytes: &[u8]) -> Evidence {
    Evidence::new(
        side,
        PacketRef {
            input: 0,
            frame,
            ts: Timestamp::ZERO,
        },
        bytes,
    )
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Runs an exchange and checks the evidence it keeps: the command, every
/// step in order, the verdict.
fn run(mech: &str, ir: Option<&str>, steps: &[Step<'_>], outcome: Outcome) -> Option<Credential> {
    let command = format!("AUTH {mech} {}", ir.unwrap_or(""));
    let mut ex = SaslExchange::new(
        mech.as_bytes(),
        ir.map(str::as_bytes),
        ev(Side::Client, 1, command.as_bytes()),
    );
    let mut expected = vec![command.into_bytes()];
    for (i, step) in steps.iter().enumerate() {
        let frame = i as u64 + 2;
        match *step {
            C(text) => {
                let line = format!("334 {text}");
                ex.on_challenge(text.as_bytes(), ev(Side::Server, frame, line.as_bytes()));
                expected.push(line.into_bytes());
            }
            R(text) => {
                ex.on_response(text.as_bytes(), ev(Side::Client, frame, text.as_bytes()));
                expected.push(text.as_bytes().to_vec());
            }
        }
    }
    let verdict = ev(Side::Server, 999, b"verdict");
    expected.push(b"verdict".to_vec());
    let cred = ex.finish(outcome, Some(verdict))?;
    let kept: Vec<Vec<u8>> = cred.evidence.iter().map(|e| e.bytes.clone()).collect();
    let expected: Vec<Vec<u8>> = expected
        .into_iter()
        .map(|b| b[..b.len().min(crate::proto::EVIDENCE_BYTES)].to_vec())
        .collect();
    assert_eq!(kept, expected, "evidence of {mech}");
    assert!(cred.cleartext);
    Some(cred)
}

/// What a case must yield (`extra` lists pairs that must be present; an
/// empty `user` is no username).
struct Expect<'a> {
    user: &'a str,
    kind: SecretKind,
    secret: &'a [u8],
    challenge: Option<&'a [u8]>,
    extra: &'a [(&'a str, &'a [u8])],
}

type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a [Step<'a>],
    Option<Expect<'a>>,
);

fn check_table(cases: &[Case<'_>]) {
    for (name, mech, ir, steps, expect) in cases {
        let got = run(mech, *ir, steps, Outcome::Success);
        match (expect, got) {
            (None, None) => {}
            (None, Some(c)) => panic!("{name}: expected no credential, got {c:?}"),
            (Some(_), None) => panic!("{name}: expected a credential, got none"),
            (Some(e), Some(c)) => {
                assert_eq!(c.mechanism, canonical_mechanism(mech.as_bytes()), "{name}");
                let user = Some(e.user.as_bytes()).filter(|u| !u.is_empty());
                assert_eq!(c.username.as_deref(), user, "{name}");
                assert_eq!(c.secret_kind, e.kind, "{name}");
                assert_eq!(c.secret, e.secret, "{name}");
                assert_eq!(c.challenge.as_deref(), e.challenge, "{name}");
                for (k, v) in e.extra {
                    let found = c.extra.iter().find(|(ck, _)| ck == k);
                    assert_eq!(
                        found.map(|(_, cv)| cv.as_slice()),
                        Some(*v),
                        "{name}: extra {k} in {:?}",
                        c.extra
                    );
                }
                assert!(!c.cancelled, "{name}");
                assert_eq!(c.outcome, Outcome::Success, "{name}");
            }
        }
    }
}

fn expect<'a>(user: &'a str, kind: SecretKind, secret: &'a [u8]) -> Option<Expect<'a>> {
    Some(Expect {
        user,
        kind,
        secret,
        challenge: None,
        extra: &[],
    })
}

const PW: SecretKind = SecretKind::Password;
const CR: SecretKind = SecretKind::ChallengeResponse;
const TOKEN: SecretKind = SecretKind::Token;
const NONE: SecretKind = SecretKind::None;

#[test]
fn canonical_names() {
    for (wire, canonical) in [
        (&b"plain"[..], "PLAIN"),
        (b"PLAIN", "PLAIN"),
        (b" Login ", "LOGIN"),
        (b"cram-md5", "CRAM-MD5"),
        (b"scram-sha-256", "SCRAM-SHA-256"),
        (b"scram-sha-1-plus", "SCRAM-SHA-1-PLUS"),
        (b"xoauth2", "XOAUTH2"),
        (b"x-foo", "X-FOO"),
        (b"", ""),
        (b"BAD\x1b[31m", "BAD\\x1B[31M"),
    ] {
        assert_eq!(canonical_mechanism(wire), canonical, "{wire:?}");
    }
    let long = canonical_mechanism(&[b'A'; 1000]);
    assert_eq!(long.len(), MAX_MECHANISM);
}

#[test]
fn base64_forms() {
    for (text, decoded) in [
        (&b"AGFsaWNlAHNlY3JldA=="[..], Some(&b"\0alice\0secret"[..])),
        (b"AGFsaWNlAHNlY3JldA", Some(b"\0alice\0secret")),
        (b"  AGFsaWNlAHNlY3JldA==\r\n", Some(b"\0alice\0secret")),
        (b"=", Some(b"")),
        (b"", Some(b"")),
        (b"   ", Some(b"")),
        (b"YQ", Some(b"a")),
        (b"YR", Some(b"a")), // trailing bits allowed
        (b"!!!!", None),
        (b"AGFs aWNl", None),
        (b"A", None),
        (b"Username:", None),
        (b"YQ===", None),
    ] {
        assert_eq!(decode_message(text).as_deref(), decoded, "{text:?}");
    }
    // Valid but too long: not decoded at all.
    let huge = vec![b'A'; MAX_BASE64 + 4];
    assert_eq!(decode_message(&huge), None);
    let max = b64(&vec![7u8; MAX_DECODED]);
    assert_eq!(
        decode_message(max.as_bytes()).map(|d| d.len()),
        Some(MAX_DECODED)
    );
}

#[test]
fn plain() {
    let cases: &[Case<'_>] = &[
        (
            "RFC 4616 tim, initial response",
            "PLAIN",
            Some("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
            &[],
            expect("tim", PW, b"tanstaaftanstaaf"),
        ),
        (
            "alice, initial response",
            "PLAIN",
            Some("AGFsaWNlAHNlY3JldA=="),
            &[],
            expect("alice", PW, b"secret"),
        ),
        (
            "empty 334 then the response",
            "PLAIN",
            None,
            &[C(""), R("AGFsaWNlAHNlY3JldA==")],
            expect("alice", PW, b"secret"),
        ),
        (
            "IMAP-style lower-case name",
            "plain",
            None,
            &[C(""), R("AGFsaWNlAHNlY3JldA==")],
            expect("alice", PW, b"secret"),
        ),
        (
            "RFC 4616 authzid Ursel",
            "PLAIN",
            Some("VXJzZWwAS3VydAB4aXBqM3BsbXE="),
            &[],
            Some(Expect {
                user: "Kurt",
                kind: PW,
                secret: b"xipj3plmq",
                challenge: None,
                extra: &[("authzid", b"Ursel")],
            }),
        ),
        (
            "no padding, whitespace",
            "PLAIN",
            Some("  AGFsaWNlAHNlY3JldA \t"),
            &[],
            expect("alice", PW, b"secret"),
        ),
        (
            "empty initial response, then a real one",
            "PLAIN",
            Some("="),
            &[C(""), R("AGFsaWNlAHNlY3JldA==")],
            expect("alice", PW, b"secret"),
        ),
        (
            "empty password",
            "PLAIN",
            Some("AGFsaWNlAA=="),
            &[],
            expect("alice", PW, b""),
        ),
        (
            "two fields only: authcid NUL passwd",
            "PLAIN",
            Some("YWxpY2UAc2VjcmV0"),
            &[],
            expect("alice", PW, b"secret"),
        ),
        (
            "empty authzid and authcid: the password alone",
            "PLAIN",
            Some("AABwdw=="),
            &[],
            expect("", PW, b"pw"),
        ),
        ("not base64", "PLAIN", Some("!!!!"), &[], None),
        ("empty only", "PLAIN", Some("="), &[C(""), R("")], None),
    ];
    check_table(cases);
}

/// (name, message, username, password, authzid extra).
type PlainForm<'a> = (
    &'a str,
    &'a [u8],
    Option<&'a str>,
    &'a [u8],
    Option<&'a str>,
);

/// Issue 19, class 1: every form of PLAIN a client sends, as initial
/// response and as continuation. A password that crossed is never dropped.
#[test]
fn plain_forms() {
    let forms: &[PlainForm<'_>] = &[
        ("RFC form", b"\0alice\0pw-1", Some("alice"), b"pw-1", None),
        (
            "empty authcid: the authzid is the username",
            b"bob\0\0pw-2",
            Some("bob"),
            b"pw-2",
            None,
        ),
        (
            "authzid and authcid",
            b"admin\0alice\0pw-3",
            Some("alice"),
            b"pw-3",
            Some("admin"),
        ),
        (
            "missing authzid NUL",
            b"alice\0pw-4",
            Some("alice"),
            b"pw-4",
            None,
        ),
        ("no NUL: a password alone", b"pw-5", None, b"pw-5", None),
        (
            "trailing NUL",
            b"\0alice\0pw-6\0",
            Some("alice"),
            b"pw-6",
            None,
        ),
        (
            "trailing NULs after an authzid",
            b"bob\0\0pw-7\0\0",
            Some("bob"),
            b"pw-7",
            None,
        ),
        (
            "extra leading NUL",
            b"\0\0alice\0pw-8",
            Some("alice"),
            b"pw-8",
            None,
        ),
        ("no identity at all", b"\0\0pw-9", None, b"pw-9", None),
        ("empty password", b"\0alice\0", Some("alice"), b"", None),
        (
            "password with spaces",
            b"\0alice\0p w 10",
            Some("alice"),
            b"p w 10",
            None,
        ),
    ];
    for (name, msg, user, password, authzid) in forms {
        let text = b64(msg);
        let initial = run("PLAIN", Some(&text), &[], Outcome::Success);
        let continued = run("PLAIN", None, &[C(""), R(&text)], Outcome::Success);
        let after_empty_ir = run("PLAIN", Some("="), &[C(""), R(&text)], Outcome::Success);
        for (how, got) in [
            ("initial response", initial),
            ("continuation", continued),
            ("`=` then continuation", after_empty_ir),
        ] {
            let c = got.unwrap_or_else(|| panic!("{name}, {how}: no credential"));
            assert_eq!(
                c.username.as_deref(),
                user.map(str::as_bytes),
                "{name}, {how}"
            );
            assert_eq!(c.secret_kind, PW, "{name}, {how}");
            assert_eq!(c.secret, *password, "{name}, {how}");
            let extra = c.extra.iter().find(|(k, _)| k == "authzid");
            assert_eq!(
                extra.map(|(_, v)| v.as_slice()),
                authzid.map(str::as_bytes),
                "{name}"
            );
        }
    }
    // Nothing crossed: no credential.
    for msg in [&b"\0\0"[..], b"\0", b"\0\0\0\0"] {
        assert_eq!(
            run("PLAIN", Some(&b64(msg)), &[], Outcome::Success),
            None,
            "{msg:?}"
        );
    }
    assert_eq!(run("PLAIN", Some("="), &[], Outcome::Failure), None);
    // Binary junk without NUL is no password anyone typed.
    assert_eq!(
        run("PLAIN", Some("//79/Pv6+fj39g=="), &[], Outcome::Failure),
        None
    );
    // Non-UTF-8 names are kept as bytes (escaped when printed).
    let c = run("PLAIN", Some(&b64(b"\0j\xf6rg\0pw")), &[], Outcome::Success).unwrap();
    assert_eq!(c.username.as_deref(), Some(&b"j\xf6rg"[..]));
    assert_eq!(
        crate::text::escape(c.username.as_deref().unwrap()),
        "j\\xF6rg"
    );
    let c = run(
        "PLAIN",
        Some(&b64(b"\xff\xfe\0\0pw")),
        &[],
        Outcome::Success,
    )
    .unwrap();
    assert_eq!(c.username.as_deref(), Some(&b"\xff\xfe"[..]));
}

#[test]
fn login() {
    const USER_P: &str = "VXNlcm5hbWU6"; // "Username:"
    const PASS_P: &str = "UGFzc3dvcmQ6"; // "Password:"
    const ALICE: &str = "YWxpY2U=";
    const SECRET: &str = "c2VjcmV0";
    let cases: &[Case<'_>] = &[
        (
            "no initial response, standard prompts",
            "LOGIN",
            None,
            &[C(USER_P), R(ALICE), C(PASS_P), R(SECRET)],
            expect("alice", PW, b"secret"),
        ),
        (
            "username as initial response",
            "LOGIN",
            Some(ALICE),
            &[C(PASS_P), R(SECRET)],
            expect("alice", PW, b"secret"),
        ),
        (
            "lower-case prompts",
            "login",
            None,
            &[C("dXNlcm5hbWU6"), R(ALICE), C("cGFzc3dvcmQ6"), R(SECRET)],
            expect("alice", PW, b"secret"),
        ),
        (
            "'User Name\\0' / 'Password\\0' prompts",
            "LOGIN",
            None,
            &[
                C("VXNlciBOYW1lAA=="),
                R(ALICE),
                C("UGFzc3dvcmQA"),
                R(SECRET),
            ],
            expect("alice", PW, b"secret"),
        ),
        (
            "non-standard prompts: order decides",
            "LOGIN",
            None,
            &[
                C("V2hvIGFyZSB5b3U/"),
                R(ALICE),
                C("UHJvdmUgaXQ="),
                R(SECRET),
            ],
            expect("alice", PW, b"secret"),
        ),
        (
            "empty prompts: order decides",
            "LOGIN",
            None,
            &[C(""), R(ALICE), C(""), R(SECRET)],
            expect("alice", PW, b"secret"),
        ),
        (
            "prompts sent as plain text",
            "LOGIN",
            None,
            &[C("Username:"), R(ALICE), C("Password:"), R(SECRET)],
            expect("alice", PW, b"secret"),
        ),
        (
            "password asked first: the prompt decides",
            "LOGIN",
            None,
            &[C(PASS_P), R(SECRET), C(USER_P), R(ALICE)],
            expect("alice", PW, b"secret"),
        ),
        (
            "empty password",
            "LOGIN",
            None,
            &[C(USER_P), R(ALICE), C(PASS_P), R("=")],
            expect("alice", PW, b""),
        ),
        (
            "username not base64: taken as sent",
            "LOGIN",
            None,
            &[C(USER_P), R("alice!"), C(PASS_P), R(SECRET)],
            expect("alice!", PW, b"secret"),
        ),
        (
            "password not base64: taken as sent",
            "LOGIN",
            None,
            &[C(USER_P), R(ALICE), C(PASS_P), R("sec ret")],
            expect("alice", PW, b"sec ret"),
        ),
        (
            "extra answers ignored",
            "LOGIN",
            Some(ALICE),
            &[C(PASS_P), R(SECRET), C(""), R("Ym9ndXM=")],
            expect("alice", PW, b"secret"),
        ),
    ];
    check_table(cases);
}

/// Issue 19, class 3: LOGIN answered in plain text. The prompts and the
/// data decide; a decoded answer that is not text is never taken.
#[test]
fn login_plain_text() {
    let cases: &[Case<'_>] = &[
        (
            "IMAP `+ User Name` prompts, plain answers that are valid base64",
            "LOGIN",
            None,
            // `jdoe` and `Secret12` both decode, to binary.
            &[C("User Name"), R("jdoe"), C("Password"), R("Secret12")],
            expect("jdoe", PW, b"Secret12"),
        ),
        (
            "SMTP `334 Username:` prompts, plain answers",
            "LOGIN",
            None,
            &[C("Username:"), R("alice"), C("Password:"), R("pw-alice")],
            expect("alice", PW, b"pw-alice"),
        ),
        (
            "plain prompts, base64 answers (padded): decoded",
            "LOGIN",
            None,
            &[C("Username:"), R("YWxpY2U="), C("Password:"), R("c2VjcmV0")],
            expect("alice", PW, b"secret"),
        ),
        (
            "plain `Password` prompt that is valid base64 is plain",
            "LOGIN",
            Some("YWxpY2U="),
            &[C("Password"), R("abcd")],
            expect("alice", PW, b"abcd"),
        ),
        (
            "no prompt: a plain name that decodes to binary is kept as sent",
            "LOGIN",
            Some("user"),
            &[C(""), R("pass")],
            expect("user", PW, b"pass"),
        ),
        (
            "base64 prompts, answers base64 of text",
            "LOGIN",
            None,
            &[
                C("VXNlcm5hbWU6"),
                R("am9zw6k="),
                C("UGFzc3dvcmQ6"),
                R("cHc="),
            ],
            expect("jos\u{e9}", PW, b"pw"),
        ),
        (
            "base64 prompts, plain answers that decode to binary",
            "LOGIN",
            None,
            &[C("VXNlcm5hbWU6"), R("root"), C("UGFzc3dvcmQ6"), R("toor")],
            expect("root", PW, b"toor"),
        ),
    ];
    check_table(cases);
    // Junk names no one: `====` (not base64) after a junk prompt, then a
    // cancel, leaves nothing.
    let junk = "=".repeat(3000);
    let got = run(
        "LOGIN",
        None,
        &[C("%%garbage%%"), R(&junk), C(""), R("*")],
        Outcome::Failure,
    );
    assert_eq!(got, None);
    assert_eq!(
        run("LOGIN", None, &[C(""), R("////")], Outcome::Failure),
        None
    );
    // Whatever the prompts, a username shown is text or the bytes as sent.
    for answer in ["jdoe", "test", "root", "admin123", "AAAA", "a///"] {
        for prompt in ["VXNlcm5hbWU6", "Username:", ""] {
            let c = run("LOGIN", None, &[C(prompt), R(answer)], Outcome::Failure).unwrap();
            let user = c.username.unwrap();
            assert!(
                messages::is_text(&user) || user == answer.as_bytes(),
                "{answer} after {prompt:?}: {user:?}"
            );
        }
    }
}

/// Issue 19, class 4: the LOGIN answer after a lost prompt is what its
/// position says (the second answer is the password).
#[test]
fn login_lost_prompt() {
    let mut ex = SaslExchange::new(b"LOGIN", None, ev(Side::Client, 1, b"AUTH LOGIN"));
    ex.on_challenge(b"VXNlcm5hbWU6", ev(Side::Server, 2, b"334 VXNlcm5hbWU6"));
    ex.on_response(b"YWxpY2U=", ev(Side::Client, 3, b"YWxpY2U="));
    // Half-way: the password may come without a visible prompt.
    assert!(!ex.awaiting_response());
    assert!(ex.may_continue());
    ex.on_server_gap();
    assert!(ex.may_continue());
    ex.on_response(b"c2VjcmV0", ev(Side::Client, 5, b"c2VjcmV0"));
    assert!(!ex.may_continue());
    let c = ex.finish(Outcome::Success, Some(ev(Side::Server, 6, b"235")));
    let c = c.unwrap();
    assert_eq!(c.username.as_deref(), Some(&b"alice"[..]));
    assert_eq!((c.secret_kind, c.secret.as_slice()), (PW, &b"secret"[..]));

    // A gap mid-exchange in another mechanism: the next line may answer.
    let mut ex = SaslExchange::new(b"CRAM-MD5", None, ev(Side::Client, 1, b"AUTH"));
    ex.on_response(b"", ev(Side::Client, 2, b""));
    assert!(!ex.may_continue());
    ex.on_server_gap();
    assert!(ex.may_continue());
    ex.on_challenge(b"PGE+", ev(Side::Server, 3, b"334 PGE+"));
    assert!(!ex.may_continue() && ex.awaiting_response());
    // Never after a cancel.
    ex.on_response(b"*", ev(Side::Client, 4, b"*"));
    ex.on_server_gap();
    assert!(!ex.may_continue() && !ex.awaiting_response());
}

#[test]
fn cram_md5() {
    const RFC_C: &str = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    const RFC_CHALLENGE: &[u8] = b"<1896.697170952@postoffice.reston.mci.net>";
    let cases: &[Case<'_>] = &[
        (
            "RFC 2195 example",
            "CRAM-MD5",
            None,
            &[
                C(RFC_C),
                R("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"),
            ],
            Some(Expect {
                user: "tim",
                kind: CR,
                secret: b"b913a602c7eda7a495b4e6e7334d3890",
                challenge: Some(RFC_CHALLENGE),
                extra: &[],
            }),
        ),
        (
            "upper-case digest",
            "cram-md5",
            None,
            &[
                C(RFC_C),
                R("dGltIEI5MTNBNjAyQzdFREE3QTQ5NUI0RTZFNzMzNEQzODkw"),
            ],
            Some(Expect {
                user: "tim",
                kind: CR,
                secret: b"B913A602C7EDA7A495B4E6E7334D3890",
                challenge: Some(RFC_CHALLENGE),
                extra: &[],
            }),
        ),
        (
            "username with a space",
            "CRAM-MD5",
            None,
            &[
                C(RFC_C),
                R("dGltIHNtaXRoIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"),
            ],
            Some(Expect {
                user: "tim smith",
                kind: CR,
                secret: b"b913a602c7eda7a495b4e6e7334d3890",
                challenge: Some(RFC_CHALLENGE),
                extra: &[],
            }),
        ),
        (
            "challenge lost",
            "CRAM-MD5",
            None,
            &[R("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")],
            expect("tim", CR, b"b913a602c7eda7a495b4e6e7334d3890"),
        ),
        (
            "short digest",
            "CRAM-MD5",
            None,
            &[C(RFC_C), R("dGltIGI5MTM=")],
            None,
        ),
        (
            "no space",
            "CRAM-MD5",
            None,
            &[
                C(RFC_C),
                R("dGltYjkxM2E2MDJjN2VkYTdhNDk1YjRlNmU3MzM0ZDM4OTA="),
            ],
            None,
        ),
    ];
    check_table(cases);
}

#[test]
fn digest_md5() {
    // RFC 2831 section 4, IMAP example.
    const RFC_C1: &str = "cmVhbG09ImVsd29vZC5pbm5vc29mdC5jb20iLG5vbmNlPSJPQTZNRzl0RVFHbTJoaCIscW9wPSJhdXRoIixhbGdvcml0aG09bWQ1LXNlc3MsY2hhcnNldD11dGYtOA==";
    const RFC_R1: &str = "Y2hhcnNldD11dGYtOCx1c2VybmFtZT0iY2hyaXMiLHJlYWxtPSJlbHdvb2QuaW5ub3NvZnQuY29tIixub25jZT0iT0E2TUc5dEVRR20yaGgiLG5jPTAwMDAwMDAxLGNub25jZT0iT0E2TUhYaDZWcVRyUmsiLGRpZ2VzdC11cmk9ImltYXAvZWx3b29kLmlubm9zb2Z0LmNvbSIscmVzcG9uc2U9ZDM4OGRhZDkwZDRiYmQ3NjBhMTUyMzIxZjIxNDNhZjcscW9wPWF1dGg=";
    const RFC_C2: &str = "cnNwYXV0aD1lYTQwZjYwMzM1YzQyN2I1NTI3Yjg0ZGJhYmNkZmZmZA==";
    const HEXD: &[u8] = b"0123456789abcdef0123456789abcdef";
    let cases: &[Case<'_>] = &[
        (
            "RFC 2831 example",
            "DIGEST-MD5",
            None,
            &[C(RFC_C1), R(RFC_R1), C(RFC_C2), R("")],
            Some(Expect {
                user: "chris",
                kind: CR,
                secret: b"d388dad90d4bbd760a152321f2143af7",
                challenge: Some(b"OA6MG9tEQGm2hh"),
                extra: &[
                    ("realm", b"elwood.innosoft.com"),
                    ("cnonce", b"OA6MHXh6VqTrRk"),
                    ("nc", b"00000001"),
                    ("qop", b"auth"),
                    ("digest-uri", b"imap/elwood.innosoft.com"),
                    ("charset", b"utf-8"),
                ],
            }),
        ),
        (
            "escaped quote in the username",
            "DIGEST-MD5",
            None,
            &[
                C(RFC_C1),
                R(
                    "dXNlcm5hbWU9ImNoXCJyaXMiLHJlYWxtPSJyIixub25jZT0ibiIsY25vbmNlPSJjIixuYz0wMDAwMDAwMSxxb3A9YXV0aCxkaWdlc3QtdXJpPSJzbXRwL3giLHJlc3BvbnNlPTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm",
                ),
            ],
            Some(Expect {
                user: "ch\"ris",
                kind: CR,
                secret: HEXD,
                challenge: Some(b"n"),
                extra: &[("realm", b"r"), ("digest-uri", b"smtp/x")],
            }),
        ),
        (
            "no realm, no qop: RFC defaults",
            "DIGEST-MD5",
            None,
            &[
                C(RFC_C1),
                R(
                    "dXNlcm5hbWU9ImJvYiIsbm9uY2U9ImFiYyIsY25vbmNlPSJ4eXoiLG5jPTAwMDAwMDAxLGRpZ2VzdC11cmk9InBvcC9tYWlsIixyZXNwb25zZT0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==",
                ),
            ],
            Some(Expect {
                user: "bob",
                kind: CR,
                secret: HEXD,
                challenge: Some(b"abc"),
                extra: &[("realm", b""), ("qop", b"auth"), ("cnonce", b"xyz")],
            }),
        ),
        (
            "whitespace and empty list elements",
            "DIGEST-MD5",
            None,
            &[R(
                "LCwgdXNlcm5hbWUgPSAiYm9iIiAsCSByZXNwb25zZSA9IDAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmICwgbm9uY2U9Im4i",
            )],
            Some(Expect {
                user: "bob",
                kind: CR,
                secret: HEXD,
                challenge: Some(b"n"),
                extra: &[],
            }),
        ),
        (
            "unterminated quoted string",
            "DIGEST-MD5",
            None,
            &[C(RFC_C1), R("dXNlcm5hbWU9ImJvYixub25jZT0iYWJjIg==")],
            None,
        ),
        (
            "the challenge alone",
            "DIGEST-MD5",
            None,
            &[C(RFC_C1), R("*")],
            None,
        ),
    ];
    check_table(cases);
}

#[test]
fn digest_directives() {
    let d = digest::parse(br#"a=1, B="x\"y\\z" ,c="",d=tok"#).unwrap();
    assert_eq!(
        d,
        vec![
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), br#"x"y\z"#.to_vec()),
            ("c".to_string(), b"".to_vec()),
            ("d".to_string(), b"tok".to_vec()),
        ]
    );
    for bad in [
        &b"a"[..],
        b"=x",
        b"a=\"x",
        b"a=\"x\\",
        b"a=\"x\"y",
        b"a=x y",
        b"a:b=c",
    ] {
        assert_eq!(digest::parse(bad), None, "{bad:?}");
    }
    assert_eq!(digest::parse(b""), Some(vec![]));
    assert_eq!(digest::parse(b" , ,"), Some(vec![]));
    let many = "a=1,".repeat(100);
    assert_eq!(digest::parse(many.as_bytes()), None);
}

#[test]
fn xoauth2() {
    // Google's XOAUTH2 documentation.
    const IR: &str = "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
    const ERR: &str = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";
    const TOK: &[u8] = b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";
    let cases: &[Case<'_>] = &[
        (
            "initial response",
            "XOAUTH2",
            Some(IR),
            &[],
            expect("someuser@example.com", TOKEN, TOK),
        ),
        (
            "after an empty challenge",
            "XOAUTH2",
            None,
            &[C(""), R(IR)],
            expect("someuser@example.com", TOKEN, TOK),
        ),
        (
            "error challenge, empty response",
            "XOAUTH2",
            Some(IR),
            &[C(ERR), R("")],
            Some(Expect {
                user: "someuser@example.com",
                kind: TOKEN,
                secret: TOK,
                challenge: None,
                extra: &[(
                    "server_error",
                    b"{\"status\":\"401\",\"schemes\":\"bearer mac\",\"scope\":\"https://mail.google.com/\"}\n",
                )],
            }),
        ),
        (
            "empty bearer",
            "XOAUTH2",
            Some("dXNlcj1ib2IBYXV0aD1CZWFyZXIgAQE="),
            &[],
            expect("bob", NONE, b""),
        ),
        (
            "no user",
            "XOAUTH2",
            Some("YXV0aD1CZWFyZXIgeAEB"),
            &[],
            None,
        ),
    ];
    check_table(cases);
    // The failure the error challenge announces.
    let c = run("XOAUTH2", Some(IR), &[C(ERR), R("")], Outcome::Failure).unwrap();
    assert_eq!(c.outcome, Outcome::Failure);
}

#[test]
fn oauthbearer() {
    // RFC 7628 section 4.1 and 4.3.
    const IR: &str = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
    const ERR: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
    const TOK: &[u8] = b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
    let cases: &[Case<'_>] = &[
        (
            "RFC 7628 success",
            "OAUTHBEARER",
            Some(IR),
            &[],
            Some(Expect {
                user: "user@example.com",
                kind: TOKEN,
                secret: TOK,
                challenge: None,
                extra: &[("host", b"server.example.com"), ("port", b"143")],
            }),
        ),
        (
            "RFC 7628 failure: error challenge, ^A response",
            "OAUTHBEARER",
            Some(IR),
            &[C(ERR), R("AQ==")],
            Some(Expect {
                user: "user@example.com",
                kind: TOKEN,
                secret: TOK,
                challenge: None,
                extra: &[(
                    "server_error",
                    br#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#,
                )],
            }),
        ),
        (
            "escaped authzid",
            "OAUTHBEARER",
            Some("bixhPXVzPTJDZXIsAWF1dGg9QmVhcmVyIGFiYwEB"),
            &[],
            expect("us,er", TOKEN, b"abc"),
        ),
        (
            "no authzid: the token crossed, the user is not on the wire",
            "OAUTHBEARER",
            Some("biwsAWF1dGg9QmVhcmVyIGFiYwEB"),
            &[],
            expect("", TOKEN, b"abc"),
        ),
        (
            "bad escape",
            "OAUTHBEARER",
            Some("bixhPXVzPTQxZXIsAWF1dGg9QmVhcmVyIGFiYwEB"),
            &[],
            None,
        ),
        (
            "XOAUTH2 text under OAUTHBEARER",
            "OAUTHBEARER",
            Some(
                "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
            ),
            &[],
            None,
        ),
    ];
    check_table(cases);
}

// ---- NTLM ----

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A CHALLENGE message (48 bytes, no target name or info).
fn ntlm_type2(challenge: [u8; 8], flags: u32) -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&[0, 0, 0, 0, 48, 0, 0, 0]);
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&challenge);
    m.extend_from_slice(&[0; 16]);
    m
}

/// An AUTHENTICATE message; with `flags` the header has the session key,
/// flags and version fields (72 bytes), without it the old 52-byte header.
fn ntlm_type3(fields: [&[u8]; 5], flags: Option<u32>) -> Vec<u8> {
    let header = if flags.is_some() { 72 } else { 52 };
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut payload = Vec::new();
    for f in fields {
        let len = f.len() as u16;
        let offset = (header + payload.len()) as u32;
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&offset.to_le_bytes());
        payload.extend_from_slice(f);
    }
    if let Some(flags) = flags {
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&((header + payload.len()) as u32).to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&[6, 1, 0x1d, 0x4f, 0, 0, 0, 15]);
    }
    assert_eq!(m.len(), header);
    m.extend_from_slice(&payload);
    m
}

fn hexs(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn ntlm_v1_davenport_pair() {
    // The NTLMv1 example of the davenport NTLM documentation: user "user",
    // domain "DOMAIN", workstation "WORKSTATION", password "SecREt01".
    const T1: &str = "TlRMTVNTUAABAAAABzIAAAYABgArAAAACwALACAAAABXT1JLU1RBVElPTkRPTUFJTg==";
    const T2: &str = "TlRMTVNTUAACAAAADAAMADAAAAABAoEAASNFZ4mrze8AAAAAAAAAAGIAYgA8AAAARABPAE0AQQBJAE4AAgAMAEQATwBNAEEASQBOAAEADABTAEUAUgBWAEUAUgAEABQAZABvAG0AYQBpAG4ALgBjAG8AbQADACIAcwBlAHIAdgBlAHIALgBkAG8AbQBhAGkAbgAuAGMAbwBtAAAAAAA=";
    const T3: &str = "TlRMTVNTUAADAAAAGAAYAGoAAAAYABgAggAAAAwADABAAAAACAAIAEwAAAAWABYAVAAAAAAAAACaAAAAAQKAAEQATwBNAEEASQBOAHUAcwBlAHIAVwBPAFIASwBTAFQAQQBUAEkATwBOAMM3zVy9RPyXgqZnr21CfG3mfCDC0+d8ViWpjBwx6BhHRmspst9GgPOZWPuMITqcxg==";
    let cases: &[Case<'_>] = &[
        (
            "IMAP style: empty challenge, type 1, type 2, type 3",
            "NTLM",
            None,
            &[C(""), R(T1), C(T2), R(T3)],
            Some(Expect {
                user: "user",
                kind: CR,
                secret: b"25a98c1c31e81847466b29b2df4680f39958fb8c213a9cc6",
                challenge: Some(b"0123456789abcdef"),
                extra: &[
                    ("domain", b"DOMAIN"),
                    ("workstation", b"WORKSTATION"),
                    (
                        "lm_response",
                        b"c337cd5cbd44fc9782a667af6d427c6de67c20c2d3e77c56",
                    ),
                    ("ntlm_version", b"v1"),
                    ("flags", b"00800201"),
                ],
            }),
        ),
        (
            "SMTP style: type 1 as initial response",
            "ntlm",
            Some(T1),
            &[C(T2), R(T3)],
            Some(Expect {
                user: "user",
                kind: CR,
                secret: b"25a98c1c31e81847466b29b2df4680f39958fb8c213a9cc6",
                challenge: Some(b"0123456789abcdef"),
                extra: &[("domain", b"DOMAIN")],
            }),
        ),
        (
            "Exchange's '334 NTLM supported' first",
            "NTLM",
            None,
            &[C("NTLM supported"), R(T1), C(T2), R(T3)],
            Some(Expect {
                user: "user",
                kind: CR,
                secret: b"25a98c1c31e81847466b29b2df4680f39958fb8c213a9cc6",
                challenge: Some(b"0123456789abcdef"),
                extra: &[],
            }),
        ),
        (
            "type 2 lost",
            "NTLM",
            Some(T1),
            &[R(T3)],
            expect(
                "user",
                CR,
                b"25a98c1c31e81847466b29b2df4680f39958fb8c213a9cc6",
            ),
        ),
        ("type 1 only", "NTLM", Some(T1), &[C(T2), R("*")], None),
    ];
    check_table(cases);
}

#[test]
fn ntlm_built_messages() {
    // MS-NLMP 4.2.4 (NTLMv2): user "User", domain "Domain", workstation
    // "COMPUTER", server challenge 0123456789abcdef.
    let challenge = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    let proof = hexs("68cd0ab851e51c96aabc927bebef6a1c");
    let mut nt = proof.clone();
    nt.extend_from_slice(&hexs(
        "0101000000000000000000000000000000aaaaaaaaaaaaaaaa00000000",
    ));
    nt.extend_from_slice(&hexs(
        "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000",
    ));
    let lm = hexs("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
    let unicode_flags = 0xe288_8215;
    let t2 = b64(&ntlm_type2(challenge, unicode_flags));
    let t3 = b64(&ntlm_type3(
        [
            &lm,
            &nt,
            &utf16("Domain"),
            &utf16("User"),
            &utf16("COMPUTER"),
        ],
        Some(unicode_flags),
    ));
    let nt_hex = String::from_utf8(hex(&nt)).unwrap();
    let c = run(
        "NTLM",
        None,
        &[C(""), R(""), C(&t2), R(&t3)],
        Outcome::Success,
    )
    .unwrap();
    assert_eq!(c.username.as_deref(), Some(&b"User"[..]));
    assert_eq!(c.secret_kind, CR);
    assert_eq!(c.secret, nt_hex.as_bytes());
    assert!(nt_hex.starts_with("68cd0ab851e51c96aabc927bebef6a1c"));
    assert_eq!(c.challenge.as_deref(), Some(&b"0123456789abcdef"[..]));
    let extra = |k: &str| {
        c.extra
            .iter()
            .find(|(ek, _)| ek == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(extra("domain").unwrap(), b"Domain");
    assert_eq!(extra("workstation").unwrap(), b"COMPUTER");
    assert_eq!(extra("ntlm_version").unwrap(), b"v2");
    assert_eq!(extra("lm_response").unwrap(), hex(&lm));

    // Non-ASCII user in UTF-16LE becomes UTF-8.
    let t3 = b64(&ntlm_type3(
        [&lm, &nt, &utf16("Dömäin"), &utf16("Jürgen"), b""],
        Some(1),
    ));
    let c = run("NTLM", None, &[C(&t2), R(&t3)], Outcome::Failure).unwrap();
    assert_eq!(c.username.as_deref(), Some("Jürgen".as_bytes()));
    assert_eq!(c.outcome, Outcome::Failure);

    // OEM strings, old header without flags, challenge says OEM (0x02).
    let t2_oem = b64(&ntlm_type2(challenge, 0x0000_0202));
    let t3 = b64(&ntlm_type3(
        [&lm[..24], &nt[..24], b"DOM", b"bob\xe9", b"WS"],
        None,
    ));
    let c = run("NTLM", None, &[C(&t2_oem), R(&t3)], Outcome::Success).unwrap();
    assert_eq!(c.username.as_deref(), Some(&b"bob\xe9"[..]));
    let extra = |k: &str| {
        c.extra
            .iter()
            .find(|(ek, _)| ek == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(extra("domain").unwrap(), b"DOM");
    assert_eq!(extra("ntlm_version").unwrap(), b"v1");
    assert_eq!(extra("flags").unwrap(), b"00000202");

    // No flags anywhere: UTF-16LE recognised by its shape.
    let t3 = b64(&ntlm_type3(
        [&lm, &nt, &utf16("D"), &utf16("eve"), b""],
        None,
    ));
    let c = run("NTLM", None, &[R(&t3)], Outcome::Success).unwrap();
    assert_eq!(c.username.as_deref(), Some(&b"eve"[..]));
    let t3 = b64(&ntlm_type3([&lm, &nt, b"D", b"eve", b""], None));
    let c = run("NTLM", None, &[R(&t3)], Outcome::Success).unwrap();
    assert_eq!(c.username.as_deref(), Some(&b"eve"[..]));

    // Anonymous: empty user and responses.
    let t3 = b64(&ntlm_type3([b"", b"", b"", b"", b""], Some(1)));
    assert_eq!(run("NTLM", None, &[C(&t2), R(&t3)], Outcome::Success), None);

    // NTLMSSP inside a SPNEGO token under GSS-SPNEGO.
    let mut spnego = vec![
        0xa1, 0x82, 0x01, 0x00, 0x30, 0x81, 0xfd, 0xa2, 0x81, 0xfa, 0x04, 0x81, 0xf7,
    ];
    spnego.extend_from_slice(&ntlm_type3(
        [&lm, &nt, &utf16("Domain"), &utf16("User"), b""],
        Some(unicode_flags),
    ));
    spnego.extend_from_slice(&[0x30, 0x00]);
    let mut spnego_t2 = vec![0xa1, 0x81, 0x90, 0x04, 0x38];
    spnego_t2.extend_from_slice(&ntlm_type2(challenge, unicode_flags));
    let c = run(
        "GSS-SPNEGO",
        None,
        &[C(""), R("YIIBAA=="), C(&b64(&spnego_t2)), R(&b64(&spnego))],
        Outcome::Success,
    )
    .unwrap();
    assert_eq!(c.mechanism, "GSS-SPNEGO");
    assert_eq!(c.username.as_deref(), Some(&b"User"[..]));
    assert_eq!(c.challenge.as_deref(), Some(&b"0123456789abcdef"[..]));
}

#[test]
fn ntlm_hostile_buffers() {
    let good = ntlm_type3([b"L", b"N", b"D", b"U", b"W"], Some(0));
    let descriptor_offsets = [12usize, 20, 28, 36, 44];
    for &at in &descriptor_offsets {
        for (len, offset) in [
            (0xffffu16, 72u32),
            (1, good.len() as u32),
            (2, good.len() as u32 - 1),
            (1, u32::MAX),
            (0xffff, u32::MAX - 1),
            (8, 0x8000_0000),
        ] {
            let mut m = good.clone();
            m[at..at + 2].copy_from_slice(&len.to_le_bytes());
            m[at + 4..at + 8].copy_from_slice(&offset.to_le_bytes());
            assert_eq!(
                ntlm::parse_authenticate(&m, None),
                None,
                "at {at} len {len} off {offset}"
            );
        }
    }
    // Every truncation of a valid message.
    for cut in 0..good.len() {
        let _ = ntlm::parse_authenticate(&good[..cut], None);
        let _ = ntlm::parse_challenge(&ntlm_type2([1; 8], 1)[..cut.min(48)]);
    }
    assert!(ntlm::parse_authenticate(&good, None).is_some());
    assert_eq!(ntlm::parse_challenge(&good), None);
    assert_eq!(ntlm::parse_challenge(&ntlm_type2([1; 8], 1)[..31]), None);
    assert_eq!(ntlm::find(b"NTLMSSP"), None);
    assert_eq!(ntlm::message_type(b"NTLMSSP\0\x03\0\0"), None);
}

#[test]
fn scram() {
    let cases: &[Case<'_>] = &[
        (
            "RFC 5802 SCRAM-SHA-1",
            "SCRAM-SHA-1",
            None,
            &[
                C(""),
                R("biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM"),
                C("cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng=="),
                R("Yz1iaXdzLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdMM3JmY05IWUpZMVpWdldWczdqLHA9djBYOHYzQnoyVDBDSkdiSlF5RjBYK0hJNFRzPQ=="),
                C("dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9"),
                R(""),
            ],
            Some(Expect {
                user: "user",
                kind: NONE,
                secret: b"",
                challenge: None,
                extra: &[
                    ("client_first_bare", b"n=user,r=fyko+d2lbbFgONRv9qkxdawL"),
                    (
                        "server_first",
                        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                    ),
                    (
                        "client_final",
                        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                    ),
                ],
            }),
        ),
        (
            "RFC 7677 SCRAM-SHA-256 with initial response",
            "scram-sha-256",
            Some("biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8="),
            &[
                C("cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY="),
                R("Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ=="),
                C("dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ=="),
            ],
            expect("user", NONE, b""),
        ),
        (
            "authzid and escapes",
            "SCRAM-SHA-1",
            Some("bixhPWFkbWluLG49dXM9MkNlcj0zRHgscj1hYmM="),
            &[],
            Some(Expect {
                user: "us,er=x",
                kind: NONE,
                secret: b"",
                challenge: None,
                extra: &[("authzid", b"admin")],
            }),
        ),
        (
            "-PLUS with channel binding",
            "SCRAM-SHA-256-PLUS",
            Some("cD10bHMtdW5pcXVlLCxuPWJvYixyPXh5eg=="),
            &[],
            expect("bob", NONE, b""),
        ),
        (
            "server error",
            "SCRAM-SHA-1",
            Some("biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM"),
            &[C("ZT1pbnZhbGlkLXByb29m")],
            Some(Expect {
                user: "user",
                kind: NONE,
                secret: b"",
                challenge: None,
                extra: &[("server_error", b"invalid-proof")],
            }),
        ),
        (
            "bad escape",
            "SCRAM-SHA-1",
            Some("biwsbj11cz1aWmVyLHI9YWJj"),
            &[],
            None,
        ),
        ("no nonce", "SCRAM-SHA-1", Some("biwsbj11c2Vy"), &[], None),
    ];
    check_table(cases);
}

#[test]
fn other_mechanisms() {
    let cases: &[Case<'_>] = &[
        (
            "EXTERNAL with authzid",
            "EXTERNAL",
            Some("YWxpY2VAZXhhbXBsZS5vcmc="),
            &[],
            expect("alice@example.org", NONE, b""),
        ),
        ("EXTERNAL empty", "EXTERNAL", Some("="), &[], None),
        (
            "EXTERNAL after a challenge",
            "EXTERNAL",
            None,
            &[C(""), R("YWxpY2VAZXhhbXBsZS5vcmc=")],
            expect("alice@example.org", NONE, b""),
        ),
        (
            "ANONYMOUS trace: no credential",
            "ANONYMOUS",
            Some("dHJhY2VAZXhhbXBsZS5jb20="),
            &[],
            None,
        ),
        (
            "GSSAPI Kerberos: no user visible",
            "GSSAPI",
            None,
            &[
                C(""),
                R("YIICMgYJKoZIhvcSAQICAQBuggIhMIICHaADAgEFoQMCAQ6iBwMFACAAAACjggE="),
                C(""),
            ],
            None,
        ),
        (
            "unknown mechanism: every response is the token",
            "X-FOO",
            Some("AGFsaWNlAHNlY3JldA=="),
            &[C("YQ=="), R("Yg==")],
            expect("", TOKEN, b"AGFsaWNlAHNlY3JldA==\nYg=="),
        ),
        (
            "Yahoo XYMPKI: two cookies after `+ `, no user visible",
            "XYMPKI",
            None,
            &[C(""), R("V=1.0&P=Zq8d0ck&F=1"), C(""), R("AFxCa9s7w")],
            expect("", TOKEN, b"V=1.0&P=Zq8d0ck&F=1\nAFxCa9s7w"),
        ),
        (
            "vendor cookie with a user field",
            "xympki",
            None,
            &[C(""), R("dj0xJnVzZXI9am9obkB5YWhvby5jb20mYz1hYmM=")],
            Some(Expect {
                user: "john@yahoo.com",
                kind: TOKEN,
                secret: b"dj0xJnVzZXI9am9obkB5YWhvby5jb20mYz1hYmM=",
                challenge: None,
                extra: &[],
            }),
        ),
        (
            "a mail address on its own is the user",
            "X-TOKEN",
            Some("Ym9iQGV4YW1wbGUub3Jn"),
            &[C(""), R("dG9rLTEyMw==")],
            expect(
                "bob@example.org",
                TOKEN,
                b"Ym9iQGV4YW1wbGUub3Jn\ndG9rLTEyMw==",
            ),
        ),
        (
            "unknown mechanism, nothing sent: no credential",
            "X-FOO",
            None,
            &[C(""), R("="), C(""), R("")],
            None,
        ),
        (
            "KERBEROS_V4: a ticket, no reusable secret",
            "KERBEROS_V4",
            None,
            &[C("AAAAAA=="), R("BAYLQVRIRU5BLk1JVC5FRFUAOCAsaxYh")],
            None,
        ),
    ];
    check_table(cases);
    let ex = SaslExchange::new(b"x-foo", None, ev(Side::Client, 1, b"AUTH x-foo"));
    assert_eq!(ex.mechanism(), "X-FOO");
}

#[test]
fn cancel() {
    // LOGIN cancelled at the password prompt: the username crossed.
    let mut ex = SaslExchange::new(b"LOGIN", None, ev(Side::Client, 1, b"AUTH LOGIN"));
    ex.on_challenge(b"VXNlcm5hbWU6", ev(Side::Server, 2, b"334 VXNlcm5hbWU6"));
    ex.on_response(b"YWxpY2U=", ev(Side::Client, 3, b"YWxpY2U="));
    ex.on_challenge(b"UGFzc3dvcmQ6", ev(Side::Server, 4, b"334 UGFzc3dvcmQ6"));
    assert!(ex.awaiting_response());
    ex.on_response(b" * ", ev(Side::Client, 5, b"*"));
    assert!(ex.is_cancelled());
    assert!(!ex.awaiting_response());
    // Ignored after the cancel, but kept as evidence.
    ex.on_challenge(b"UGFzc3dvcmQ6", ev(Side::Server, 6, b"334 UGFzc3dvcmQ6"));
    assert!(!ex.awaiting_response());
    let c = ex
        .finish(
            Outcome::Success,
            Some(ev(Side::Server, 7, b"501 cancelled")),
        )
        .unwrap();
    assert!(c.cancelled);
    assert_eq!(c.outcome, Outcome::Failure);
    assert_eq!(c.username.as_deref(), Some(&b"alice"[..]));
    assert_eq!(c.secret_kind, NONE);
    assert!(c.secret.is_empty());
    let frames: Vec<u64> = c.evidence.iter().map(|e| e.packet.frame).collect();
    assert_eq!(frames, [1, 2, 3, 4, 5, 6, 7]);

    // Cancelled before anything crossed: nothing to list.
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5", "NTLM", "SCRAM-SHA-256"] {
        assert_eq!(
            run(mech, None, &[C(""), R("*")], Outcome::Failure),
            None,
            "{mech}"
        );
    }
    // CRAM-MD5 cancelled after the digest.
    let c = run(
        "CRAM-MD5",
        None,
        &[
            C("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            R("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"),
            C("bW9yZT8="),
            R("*"),
        ],
        Outcome::Unknown,
    )
    .unwrap();
    assert!(c.cancelled);
    assert_eq!(c.outcome, Outcome::Failure);
    assert_eq!(c.secret, b"b913a602c7eda7a495b4e6e7334d3890");
}

#[test]
fn awaiting_response() {
    // No initial response: the client's next line belongs to SASL.
    let mut ex = SaslExchange::new(b"PLAIN", None, ev(Side::Client, 1, b"AUTH PLAIN"));
    assert!(ex.awaiting_response());
    ex.on_challenge(b"", ev(Side::Server, 2, b"334 "));
    assert!(ex.awaiting_response());
    ex.on_response(b"AGFsaWNlAHNlY3JldA==", ev(Side::Client, 3, b"..."));
    assert!(!ex.awaiting_response());
    assert!(!ex.is_cancelled());

    // Initial response: nothing awaited until a challenge.
    let mut ex = SaslExchange::new(b"LOGIN", Some(b"YWxpY2U="), ev(Side::Client, 1, b"AUTH"));
    assert!(!ex.awaiting_response());
    ex.on_challenge(b"UGFzc3dvcmQ6", ev(Side::Server, 2, b"334"));
    assert!(ex.awaiting_response());
    ex.on_response(b"c2VjcmV0", ev(Side::Client, 3, b"..."));
    assert!(!ex.awaiting_response());
    // XOAUTH2-style error challenge reopens it.
    ex.on_challenge(b"e30=", ev(Side::Server, 4, b"334 e30="));
    assert!(ex.awaiting_response());
    ex.on_response(b"", ev(Side::Client, 5, b""));
    assert!(!ex.awaiting_response());
    let c = ex.finish(Outcome::Failure, None).unwrap();
    assert_eq!(c.secret, b"secret");
    assert_eq!(c.evidence.len(), 5);

    // An empty initial response counts as the client's message.
    let ex = SaslExchange::new(b"EXTERNAL", Some(b"="), ev(Side::Client, 1, b"AUTH"));
    assert!(!ex.awaiting_response());
}

#[test]
fn bounds() {
    // Evidence: at most MAX_EVIDENCE lines, then the verdict.
    let mut ex = SaslExchange::new(b"DIGEST-MD5", None, ev(Side::Client, 1, b"AUTH"));
    for i in 0..1000u64 {
        ex.on_challenge(b"", ev(Side::Server, 2 * i + 2, b"334 "));
        ex.on_response(b"dXNlcm5hbWU9ImJvYiI=", ev(Side::Client, 2 * i + 3, b"x"));
    }
    let c = ex
        .finish(Outcome::Success, Some(ev(Side::Server, 5000, b"235")))
        .unwrap();
    assert_eq!(c.evidence.len(), MAX_EVIDENCE + 1);
    assert_eq!(c.evidence.last().unwrap().packet.frame, 5000);
    assert_eq!(c.username.as_deref(), Some(&b"bob"[..]));

    // A long username is cut and the cut is said.
    let mut plain = b"\0".to_vec();
    plain.extend_from_slice(&[b'u'; 3000]);
    plain.extend_from_slice(b"\0pw");
    let c = run("PLAIN", Some(&b64(&plain)), &[], Outcome::Success).unwrap();
    assert_eq!(c.username.as_ref().unwrap().len(), MAX_FIELD);
    assert!(
        c.extra
            .contains(&("truncated".to_string(), b"username".to_vec()))
    );
    assert_eq!(c.secret, b"pw");

    // A long bearer token is kept whole below MAX_SECRET.
    let token = "t".repeat(10_000);
    let xo = format!("user=bob\x01auth=Bearer {token}\x01\x01");
    let c = run("XOAUTH2", Some(&b64(xo.as_bytes())), &[], Outcome::Success).unwrap();
    assert_eq!(c.secret, token.as_bytes());

    // A valid message above the decoding cap records nothing.
    let mut big = b"\0alice\0".to_vec();
    big.extend_from_slice(&vec![b'p'; MAX_DECODED]);
    assert_eq!(run("PLAIN", Some(&b64(&big)), &[], Outcome::Success), None);
}

/// xorshift64*: deterministic "random" bytes for the garbage tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A hostile message: raw junk, base64 of junk, a mutated valid message,
/// control lines, or something huge.
fn hostile(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(9) {
        0 => rng.bytes(64),
        1 => b64(&rng.bytes(300)).into_bytes(),
        2 | 3 => {
            let mut m = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(6) {
                if m.is_empty() {
                    break;
                }
                let at = rng.below(m.len());
                m[at] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                let cut = rng.below(m.len() + 1);
                m.truncate(cut);
            }
            b64(&m).into_bytes()
        }
        4 => b64(&seeds[rng.below(seeds.len())]).into_bytes(),
        5 => [&b"*"[..], b"=", b"", b" ", b"==", b"\0", b"+", b"\xff\xfe"][rng.below(8)].to_vec(),
        6 => {
            let mut m = b64(&rng.bytes(100)).into_bytes();
            m.truncate(rng.below(m.len() + 1));
            m
        }
        7 if rng.below(20) == 0 => {
            let mut m = vec![b'A'; 1 << 20];
            if rng.below(2) == 0 {
                m.extend_from_slice(b"==");
            }
            m
        }
        _ => {
            let len = rng.below(4000);
            (0..len)
                .map(|_| {
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
                        [rng.below(65)]
                })
                .collect()
        }
    }
}

#[test]
fn garbage_never_panics_and_stays_bounded() {
    let lm = [0x11u8; 24];
    let nt = [0x22u8; 60];
    let seeds: Vec<Vec<u8>> = vec![
        ntlm_type2([9; 8], 0xe288_8215),
        ntlm_type2([9; 8], 2),
        ntlm_type3([&lm, &nt, &utf16("D"), &utf16("U"), &utf16("W")], Some(1)),
        ntlm_type3([&lm, &nt, b"D", b"U", b"W"], None),
        b"\0alice\0secret".to_vec(),
        b"alice b913a602c7eda7a495b4e6e7334d3890".to_vec(),
        br#"username="chris",realm="r",nonce="n",cnonce="c",nc=00000001,qop=auth,digest-uri="imap/x",response=d388dad90d4bbd760a152321f2143af7"#.to_vec(),
        br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth""#.to_vec(),
        b"user=bob\x01auth=Bearer abc\x01\x01".to_vec(),
        b"n,a=bob,\x01host=h\x01port=1\x01auth=Bearer abc\x01\x01".to_vec(),
        b"n,,n=us=2Cer,r=abc".to_vec(),
        b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096".to_vec(),
        b"Username:".to_vec(),
        b"Password:".to_vec(),
    ];
    let mechs = [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "DIGEST-MD5",
        "XOAUTH2",
        "OAUTHBEARER",
        "NTLM",
        "GSS-SPNEGO",
        "GSSAPI",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256-PLUS",
        "EXTERNAL",
        "ANONYMOUS",
        "X-\u{1b}[2J",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut found = 0;
    for round in 0..3000 {
        let mech = mechs[round % mechs.len()];
        let ir = (rng.below(3) == 0).then(|| hostile(&mut rng, &seeds));
        let mut ex =
            SaslExchange::new(mech.as_bytes(), ir.as_deref(), ev(Side::Client, 1, b"AUTH"));
        for step in 0..rng.below(8) {
            let msg = hostile(&mut rng, &seeds);
            let e = ev(Side::Client, step as u64 + 2, &msg);
            if rng.below(2) == 0 {
                ex.on_challenge(&msg, e);
            } else {
                ex.on_response(&msg, e);
            }
            let _ = ex.awaiting_response();
        }
        let cancelled = ex.is_cancelled();
        if let Some(c) = ex.finish(Outcome::Unknown, None) {
            found += 1;
            match c.username.as_ref() {
                Some(user) => assert!(!user.is_empty() && user.len() <= MAX_FIELD),
                None => assert!(c.secret_kind != NONE && !c.secret.is_empty()),
            }
            assert!(c.secret.len() <= MAX_SECRET);
            assert!(c.challenge.as_ref().is_none_or(|ch| ch.len() <= MAX_FIELD));
            assert!(c.extra.len() <= 16, "{:?}", c.extra);
            assert!(c.extra.iter().all(|(_, v)| v.len() <= MAX_FIELD));
            assert!(c.evidence.len() <= MAX_EVIDENCE + 1);
            assert_eq!(c.cancelled, cancelled);
            if cancelled {
                assert_eq!(c.outcome, Outcome::Failure);
            }
            assert!(!c.mechanism.contains('\u{1b}'));
        }
    }
    // The mutations leave enough valid messages to reach the setters.
    assert!(found > 100, "only {found} credentials");
}

#[test]
fn garbage_parsers_directly() {
    let mut rng = Rng(42);
    let t3 = ntlm_type3([&[1; 24], &[2; 24], b"D", b"U", b"W"], Some(0));
    for _ in 0..20_000 {
        let junk = rng.bytes(200);
        let _ = digest::parse(&junk);
        let _ = parse_plain(&junk);
        let _ = parse_cram_md5(&junk);
        let _ = parse_xoauth2(&junk);
        let _ = parse_oauthbearer(&junk);
        let _ = parse_scram_client_first(&junk);
        let _ = unescape_saslname(&junk);
        let _ = read_prompt(Some(&junk), &junk);
        let _ = visible_username(&junk);
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend_from_slice(&junk);
        let _ = ntlm::parse_challenge(&m);
        let _ = ntlm::parse_authenticate(&m, Some(1));
        // Random descriptors on a well-formed header.
        let mut m = t3.clone();
        for _ in 0..3 {
            let at = 12 + rng.below(5) * 8;
            let v = rng.next();
            m[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        if let Some(a) = ntlm::parse_authenticate(&m, None) {
            assert!(a.nt_response.len() <= m.len());
        }
    }
}
