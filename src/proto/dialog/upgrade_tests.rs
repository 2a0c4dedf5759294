//! The upgrade machine as the driver runs it, end to end: each row is a
//! dialog (SMTP, IMAP or POP3) and the state its upgrade ends in, fed
//! whole, byte by byte and in odd chunks (the state must not depend on the
//! segmentation), with the facts that state implies.

use crate::proto::test_support::{C, Feed, S, Script, client_hello, run_with, server_hello};
use crate::proto::upgrade::UpgradeState;

const SMTP_G: &[u8] = b"220 mx ESMTP\r\n";
const EHLO: &[u8] = b"EHLO c\r\n";
const CAPS: &[u8] = b"250-mx\r\n250 STARTTLS\r\n";

fn check(name: &str, script: &Script<'_>, want: UpgradeState) {
    for feed in [Feed::default(), Feed::chunked(1), Feed::chunked(7)] {
        let facts = run_with(script, feed);
        assert_eq!(facts.upgrade, want, "{name} fed {:?}", feed.chunk);
        let unlisted = facts
            .anomalies
            .iter()
            .filter(|a| a.kind.name() == "upgrade-out-of-order")
            .count();
        assert_eq!(unlisted, 0, "{name}: {:?}", facts.anomalies);
    }
}

#[test]
fn each_dialog_ends_in_its_upgrade_state() {
    use UpgradeState::*;
    let (ch, sh) = (client_hello("mx"), server_hello(0x1301));
    #[rustfmt::skip]
    let rows: &[(&str, &Script<'_>, UpgradeState)] = &[
        ("no upgrade asked", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"QUIT\r\n")], Cleartext),
        ("upgrade completed", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (S, b"220 go\r\n"), (C, &ch), (S, &sh)], Tls),
        ("client hello only", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (S, b"220 go\r\n"), (C, &ch)], Handshake),
        ("refused", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (S, b"454 no\r\n"), (C, b"QUIT\r\n")], Cleartext),
        ("client stays cleartext", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (S, b"220 go\r\n"), (C, b"MAIL FROM:<a@b>\r\n")], NotEstablished),
        ("go-ahead, then nothing", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (S, b"220 go\r\n")], GoAhead),
        ("response injection, then TLS", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (S, b"220 go\r\n250 injected\r\n"), (C, &ch), (S, &sh)], Tls),
        ("command injection", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\nRSET\r\n"), (S, b"220 go\r\n")], Injected),
        ("command injection, then TLS", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\nRSET\r\n"), (S, b"220 go\r\n"), (C, &ch), (S, &sh)], Tls),
        ("never answered", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n")], Unanswered),
        ("never answered, then TLS", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (C, &ch)], Handshake),
        ("refused, then retried", &[(S, SMTP_G), (C, EHLO), (S, CAPS), (C, b"STARTTLS\r\n"), (S, b"454 later\r\n"), (C, b"STARTTLS\r\n"), (S, b"220 go\r\n"), (C, &ch), (S, &sh)], Tls),
        ("TLS after a cleartext greeting", &[(S, SMTP_G), (C, &ch)], ImplicitTls),
        ("IMAP upgrade", &[(S, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"), (C, b"a STARTTLS\r\n"), (S, b"a OK go\r\n"), (C, &ch), (S, &sh)], Tls),
        ("IMAP refusal", &[(S, b"* OK hi\r\n"), (C, b"a STARTTLS\r\n"), (S, b"a NO never\r\n"), (C, b"b LOGOUT\r\n")], Cleartext),
        ("POP3 upgrade", &[(S, b"+OK hi\r\n"), (C, b"STLS\r\n"), (S, b"+OK go\r\n"), (C, &ch), (S, &sh)], Tls),
        ("POP3 cleartext after the go-ahead", &[(S, b"+OK hi\r\n"), (C, b"STLS\r\n"), (S, b"+OK go\r\n"), (C, b"USER bob\r\n")], NotEstablished),
    ];
    for (name, script, want) in rows {
        check(name, script, *want);
    }
}

/// A capability word one edit from the protocol's STARTTLS word is a
/// stripped offer in each protocol (recorded as the masked token that
/// proves it); the real word, and real capabilities, are not.
#[test]
fn mangled_offers_are_recorded_as_stripped_in_each_protocol() {
    #[rustfmt::skip]
    let rows: &[(&str, &Script<'_>, Option<&str>)] = &[
        ("SMTP STARTTLX", &[(S, SMTP_G), (C, EHLO), (S, b"250-mx\r\n250-STARTTLX\r\n250 SIZE 100\r\n")], Some("250-STARTTLX")),
        ("SMTP S7ARTTLS", &[(S, SMTP_G), (C, EHLO), (S, b"250-mx\r\n250 S7ARTTLS\r\n")], Some("250 S7ARTTLS")),
        ("SMTP STARTTLS", &[(S, SMTP_G), (C, EHLO), (S, CAPS)], None),
        ("SMTP real keywords", &[(S, SMTP_G), (C, EHLO), (S, b"250-mx\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 8BITMIME\r\n")], None),
        ("IMAP XTARTTLS", &[(S, b"* OK [CAPABILITY IMAP4rev1 XTARTTLS AUTH=PLAIN] hi\r\n")], Some("* OK [CAPABILITY IMAP4rev1 XTARTTLS AUTH=PLAIN] hi")),
        ("IMAP STARTTLS", &[(S, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n")], None),
        ("POP3 STLX", &[(S, b"+OK hi\r\n"), (C, b"CAPA\r\n"), (S, b"+OK\r\nUSER\r\nSTLX\r\n.\r\n")], Some("STLX")),
        ("POP3 STLS", &[(S, b"+OK hi\r\n"), (C, b"CAPA\r\n"), (S, b"+OK\r\nUSER\r\nSTLS\r\n.\r\n")], None),
    ];
    for (name, script, want) in rows {
        let facts = run_with(script, Feed::default());
        let masked = facts
            .capabilities
            .iter()
            .find_map(|c| c.masked_token.as_ref())
            .map(|e| String::from_utf8_lossy(&e.bytes).into_owned());
        assert_eq!(masked.as_deref(), *want, "{name}");
        if want.is_some() {
            assert_eq!(facts.starttls_offered(), Some(false), "{name}");
        }
    }
}
