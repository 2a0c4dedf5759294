//! The guard line by line: one row per situation, fed as a dialog would.

use super::*;

/// One step of a dialog: a client line (`c`), a server line (`s`), or a
/// client literal of n bytes (`l`).
enum Step {
    C(&'static str),
    S(&'static str),
    L(u64),
}
use Step::{C, L, S};

/// Feeds `steps` (client lines laid end to end with CRLF) and returns, per
/// client line, the line with its secret part as `*`.
fn run(protocol: Option<Protocol>, steps: &[Step]) -> (Vec<String>, SecretSpans) {
    let mut guard = SecretGuard::default();
    let mut spans = SecretSpans::default();
    let mut offset = 0u64;
    let mut shown = Vec::new();
    for step in steps {
        match step {
            C(line) => {
                let from = guard.client_line(protocol, line.as_bytes(), offset, false, &mut spans);
                let mut bytes = line.as_bytes().to_vec();
                if let Some(from) = from {
                    bytes[from..].fill(b'*');
                }
                shown.push(String::from_utf8(bytes).unwrap());
                offset += line.len() as u64 + 2;
            }
            S(line) => guard.server_line(protocol, line.as_bytes()),
            L(n) => {
                guard.client_literal(protocol, offset, *n, &mut spans);
                shown.push(format!("[literal {n}]"));
                offset += n;
            }
        }
    }
    guard.finish(&mut spans);
    (shown, spans)
}

/// Name, protocol, the dialog, each client line as shown.
type DialogCase = (
    &'static str,
    Option<Protocol>,
    &'static [Step],
    &'static [&'static str],
);
/// Name, ranges added, ranges kept.
type SpanCase = (&'static str, &'static [(u64, u64)], &'static [(u64, u64)]);

const SMTP_P: Option<Protocol> = Some(Protocol::Smtp);
const IMAP_P: Option<Protocol> = Some(Protocol::Imap);
const POP3_P: Option<Protocol> = Some(Protocol::Pop3);

#[rustfmt::skip]
#[test]
fn client_lines_are_judged_by_their_place_in_the_exchange() {
    let cases: &[DialogCase] = &[
        ("smtp commands carry nothing secret", SMTP_P,
            &[C("EHLO x"), S("250 ok"), C("MAIL FROM:<a@b>"), C("RCPT TO:<c@d>"), C("DATA"), C("QUIT")],
            &["EHLO x", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA", "QUIT"]),
        ("smtp auth plain initial response", SMTP_P,
            &[C("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), S("235 ok"), C("MAIL FROM:<a@b>")],
            &["AUTH PLAIN ********************", "MAIL FROM:<a@b>"]),
        ("smtp auth login: every response until the final answer", SMTP_P,
            &[C("AUTH LOGIN"), S("334 VXNlcm5hbWU6"), C("YWxpY2U="), S("334 UGFzc3dvcmQ6"), C("c2VjcmV0"), S("235 ok")],
            &["AUTH LOGIN", "********", "********"]),
        ("smtp: base64 after a refusal is an unknown line", SMTP_P,
            &[C("AUTH LOGIN"), S("535 no"), C("c2VjcmV0"), C("NOOP")],
            &["AUTH LOGIN", "********", "NOOP"]),
        ("smtp: cancelled exchange, then retry", SMTP_P,
            &[C("AUTH LOGIN"), S("334 VXNlcm5hbWU6"), C("*"), S("501 cancelled"), C("AUTH PLAIN"), S("334 "), C("AGEAYg=="), S("535 no")],
            &["AUTH LOGIN", "*", "AUTH PLAIN", "********"]),
        ("smtp: a known word alone inside the exchange is still secret", SMTP_P,
            &[C("AUTH LOGIN"), S("334 VXNlcm5hbWU6"), C("DATA"), S("334 UGFzc3dvcmQ6"), C("QUIT")],
            &["AUTH LOGIN", "****", "****"]),
        ("smtp: a command with arguments ends an unanswered exchange", SMTP_P,
            &[C("AUTH PLAIN AGEAYg=="), C("MAIL FROM:<a@b>")],
            &["AUTH PLAIN ********", "MAIL FROM:<a@b>"]),
        ("smtp: an overwritten STARTTLS is evidence", SMTP_P,
            &[C("XXXXXXXX"), S("500 unknown")],
            &["XXXXXXXX"]),
        ("smtp: unknown verbs are secret whole", SMTP_P,
            &[C("hunter2"), C("X-SECRET token")],
            &["*******", "**************"]),
        ("imap login: after the command word", IMAP_P,
            &[C("a1 LOGIN alice secret"), S("a1 OK done"), C("a2 SELECT INBOX")],
            &["a1 LOGIN alice ******", "a2 SELECT INBOX"]),
        ("imap login with literals: literals and continuations", IMAP_P,
            &[C("a1 LOGIN {5}"), S("+ go"), L(5), C(" {6}"), S("+ go"), L(6), C(""), S("a1 OK"), C("a2 LIST \"\" *")],
            &["a1 LOGIN ***", "[literal 5]", "****", "[literal 6]", "", "a2 LIST \"\" *"]),
        ("imap: only the exchange's own tag closes it", IMAP_P,
            &[C("a1 NOOP"), C("a2 AUTHENTICATE PLAIN"), S("a1 OK noop"), C("AGEAYg=="), S("a2 NO")],
            &["a1 NOOP", "a2 AUTHENTICATE PLAIN", "********"]),
        ("imap: an append literal is no secret", IMAP_P,
            &[C("a3 APPEND INBOX {10}"), S("+ go"), L(10), C(""), S("a3 OK")],
            &["a3 APPEND INBOX {10}", "[literal 10]", ""]),
        ("imap: DONE ends IDLE", IMAP_P,
            &[C("a4 IDLE"), S("+ idling"), C("DONE")],
            &["a4 IDLE", "DONE"]),
        ("pop3 user/pass", POP3_P,
            &[C("USER alice"), S("+OK"), C("PASS my secret"), S("-ERR"), C("STAT")],
            &["USER alice", "PASS *********", "STAT"]),
        ("pop3: PASS without USER", POP3_P,
            &[C("PASS secret"), S("+OK")],
            &["PASS ******"]),
        ("pop3: AUTH alone lists mechanisms", POP3_P,
            &[C("AUTH"), S("+OK"), C("CAPA")],
            &["AUTH", "CAPA"]),
        ("pop3 apop", POP3_P,
            &[C("APOP alice c4c9334bac560ecc979e58001b3e22fb"), S("+OK")],
            &["APOP alice ********************************"]),
        ("unknown protocol: every vocabulary, secret wins", None,
            &[C("USER anonymous"), S("331 need pass"), C("PASS guest@"), S("230 ok"), C("CWD /"), C("EHLO x")],
            &["USER anonymous", "PASS ******", "*****", "EHLO x"]),
    ];
    for (name, protocol, steps, expected) in cases {
        let (shown, _) = run(*protocol, steps);
        assert_eq!(shown, *expected, "{name}");
    }
}

#[test]
fn literal_of_an_open_exchange_is_a_span() {
    let (_, spans) = run(IMAP_P, &[C("a1 LOGIN {5}"), L(5), C(" {6}"), L(6), C("")]);
    let client: Vec<_> = spans.iter().collect();
    // "a1 LOGIN " is 9 bytes; the rest of the stream up to the final CRLF.
    // Touching ranges are one: " {6}" and the literal after it.
    assert_eq!(
        client,
        vec![
            (Side::Client, 9, 12),
            (Side::Client, 14, 23),
            (Side::Client, 25, 31)
        ]
    );
}

#[test]
fn cut_secret_line_masks_its_tail() {
    let mut guard = SecretGuard::default();
    let mut spans = SecretSpans::default();
    let from = guard.client_line(POP3_P, b"PASS aaaa", 0, true, &mut spans);
    assert_eq!(from, Some(5));
    // The reader skipped to the LF; the next line starts at 100.
    guard.server_line(POP3_P, b"-ERR too long");
    guard.client_line(POP3_P, b"STAT", 100, false, &mut spans);
    assert_eq!(
        spans.iter().collect::<Vec<_>>(),
        vec![(Side::Client, 5, 100)]
    );
    // Cut at the end of the session: to the end of the stream.
    let mut guard = SecretGuard::default();
    let mut spans = SecretSpans::default();
    guard.client_line(SMTP_P, b"AUTH PLAIN aaaa", 10, true, &mut spans);
    guard.finish(&mut spans);
    assert_eq!(
        spans.iter().collect::<Vec<_>>(),
        vec![(Side::Client, 21, u64::MAX)]
    );
}

#[rustfmt::skip]
#[test]
fn spans_merge_sort_and_stay_bounded() {
    let cases: &[SpanCase] = &[
        ("disjoint, sorted",        &[(10, 20), (0, 5)],            &[(0, 5), (10, 20)]),
        ("touching merge",          &[(0, 5), (5, 9)],              &[(0, 9)]),
        ("overlap merges",          &[(0, 10), (3, 4), (8, 15)],    &[(0, 15)]),
        ("one covers several",      &[(0, 2), (4, 6), (8, 9), (1, 8)], &[(0, 9)]),
        ("empty ignored",           &[(5, 5), (7, 3)],              &[]),
    ];
    for (name, adds, expected) in cases {
        let mut spans = SecretSpans::default();
        for &(s, e) in *adds {
            spans.add(Side::Client, s, e);
        }
        let got: Vec<(u64, u64)> = spans.iter().map(|(_, s, e)| (s, e)).collect();
        assert_eq!(got, *expected, "{name}");
    }
    // Past the cap, the last ranges join: nothing is ever left unmasked.
    let mut spans = SecretSpans::default();
    for i in 0..1000u64 {
        spans.add(Side::Client, i * 10, i * 10 + 5);
    }
    let got: Vec<(u64, u64)> = spans.iter().map(|(_, s, e)| (s, e)).collect();
    assert_eq!(got.len(), MAX_SECRET_SPANS);
    for i in 0..1000u64 {
        let (s, e) = (i * 10, i * 10 + 5);
        assert!(got.iter().any(|&(a, b)| a <= s && e <= b), "range {s}..{e} lost");
    }
}

#[test]
fn mask_overwrites_exactly_the_secret_bytes() {
    let mut spans = SecretSpans::default();
    spans.add(Side::Client, 5, 8);
    spans.add(Side::Client, 12, 100);
    spans.add(Side::Server, 0, 100);
    let mut bytes = b"0123456789abcdef".to_vec();
    assert!(spans.mask(Side::Client, 2, &mut bytes));
    assert_eq!(&bytes, b"012***6789******");
    let mut bytes = b"xyz".to_vec();
    assert!(!spans.mask(Side::Client, 9, &mut bytes));
}

#[test]
fn conflict_text_masked_line_by_line() {
    let masked = mask_client_text(SMTP_P, b"MAIL FROM:<a@b>\r\nAUTH PLAIN AGEAYg==\r\nc2Vj");
    assert_eq!(
        masked,
        b"MAIL FROM:<a@b>\r\nAUTH PLAIN ********\r\n****".to_vec()
    );
}

#[test]
fn a_server_echo_of_a_secret_is_secret_too() {
    let mut guard = SecretGuard::default();
    let mut spans = SecretSpans::default();
    guard.client_line(POP3_P, b"AUTH PLAIN", 0, false, &mut spans);
    guard.server_line(POP3_P, b"-ERR no");
    guard.client_line(POP3_P, b"AGJvYgBwdw==", 12, false, &mut spans);
    let echo = b"-ERR Unknown command: AGJvYgBwdw==";
    assert_eq!(guard.server_echo(echo, 100, &mut spans), Some(22));
    assert!(spans.iter().any(|s| s == (Side::Server, 122, 134)));
    // Short words, ordinary replies and a secret word inside a longer one
    // are left alone.
    assert_eq!(guard.server_echo(b"+OK ready", 200, &mut spans), None);
    let mut guard = SecretGuard::default();
    guard.client_line(
        POP3_P,
        b"PASS pw pop3 spaces failing 6J",
        0,
        false,
        &mut spans,
    );
    let reply = b"-ERR [AUTH] Authentication failingly refused";
    assert_eq!(guard.server_echo(reply, 0, &mut spans), None);
    let reply = b"-ERR bad password: failing";
    assert_eq!(guard.server_echo(reply, 0, &mut spans), Some(19));
    let mut guard = SecretGuard::default();
    guard.client_line(SMTP_P, b"AUTH PLAIN pw", 0, false, &mut spans);
    assert_eq!(guard.server_echo(b"535 pw wrong", 0, &mut spans), None);
}
