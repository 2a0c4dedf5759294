//! The mail dialog (SMTP, IMAP, POP3 state machines, STARTTLS lifecycle,
//! SASL, TLS detection) fed arbitrary interleaved client and server chunks,
//! gaps and FINs; then its facts turned into a session record, checked for
//! bounds and rendered to JSON.
//!
//! Input: one byte of port hint, then events. Each event starts with a byte
//! `op`: bit 0 is the side (0 client, 1 server); `(op >> 1) % 8` is the
//! kind: 0-4 data with a one-byte length, 5 data with a two-byte length,
//! 6 a gap (one-byte length + 1, or four bytes when bit 7 is set), 7 a FIN.
//!
//! The `dialog_*` targets first play a fixed valid prefix (picked by the
//! first byte) so that the fuzzer starts from deep states: capabilities
//! listed, STARTTLS awaiting its answer, after the go-ahead, inside SASL,
//! inside a literal or a message body.

use super::flows::tcp_frame;
use super::input::Input;
use super::output::check_json;
use crate::analysis::SessionRecord;
use crate::analysis::record::Locator;
use crate::decode;
use crate::flow::{
    EndReason, FlowConfig, FlowTable, GapReason, PacketRef, PerSide, PortSet, SessionHandler,
    SessionInfo, Side, StreamEvent, StreamSink,
};
use crate::proto::dialog::MailDialog;
use crate::proto::{EVIDENCE_BYTES, MAX_CAPABILITY_LISTS, MAX_CREDENTIALS, Protocol};
use crate::time::Timestamp;

/// Feeds events to a dialog, numbering packets and tracking offsets.
struct Driver {
    dialog: MailDialog,
    offsets: PerSide<u64>,
    frame: u64,
    /// Packets and payload bytes per side.
    packets: PerSide<u64>,
    payload: PerSide<u64>,
}

impl Driver {
    fn new(hint: Option<Protocol>) -> Self {
        Driver {
            dialog: MailDialog::new(hint),
            offsets: PerSide::default(),
            frame: 0,
            packets: PerSide::default(),
            payload: PerSide::default(),
        }
    }

    fn packet(&mut self, side: Side) -> PacketRef {
        self.frame += 1;
        let packet = PacketRef {
            input: 0,
            frame: self.frame,
            ts: Timestamp::new(1_700_000_000 + self.frame as i64, 0),
        };
        self.packets[side] += 1;
        packet
    }

    fn data(&mut self, side: Side, bytes: &[u8]) {
        let packet = self.packet(side);
        let offset = self.offsets[side];
        self.offsets[side] += bytes.len() as u64;
        self.payload[side] += bytes.len() as u64;
        let event = StreamEvent::Data {
            offset,
            bytes,
            packet,
            ack: None,
        };
        self.dialog.on_event(side, &event);
    }

    fn gap(&mut self, side: Side, len: u64) {
        let offset = self.offsets[side];
        self.offsets[side] = offset.saturating_add(len);
        let event = StreamEvent::Gap {
            offset,
            len,
            reason: GapReason::NotCaptured,
        };
        self.dialog.on_event(side, &event);
    }

    fn fin(&mut self, side: Side) {
        let packet = self.packet(side);
        let event = StreamEvent::Fin {
            offset: self.offsets[side],
            packet,
        };
        self.dialog.on_event(side, &event);
    }

    /// Plays the fuzz events.
    fn play(&mut self, input: &mut Input<'_>) {
        while !input.is_empty() {
            let op = input.u8();
            let side = if op & 1 == 0 {
                Side::Client
            } else {
                Side::Server
            };
            match (op >> 1) % 8 {
                0..=4 => {
                    let chunk = input.chunk8();
                    self.data(side, chunk);
                }
                5 => {
                    let chunk = input.chunk16();
                    self.data(side, chunk);
                }
                6 => {
                    let len = if op & 0x80 != 0 {
                        u64::from(input.u32())
                    } else {
                        u64::from(input.u8()) + 1
                    };
                    self.gap(side, len);
                }
                _ => self.fin(side),
            }
        }
    }

    /// Ends the dialog and checks what it recorded.
    fn finish(mut self, server_port: u16) {
        self.dialog.finish();
        let facts = &self.dialog.facts;
        assert!(facts.capabilities.len() <= MAX_CAPABILITY_LISTS);
        assert!(facts.credentials.len() <= MAX_CREDENTIALS);
        assert!(facts.anomalies.len() <= 4 * 64, "anomalies bounded");
        for c in &facts.capabilities {
            assert!(c.evidence.bytes.len() <= EVIDENCE_BYTES);
            assert!(c.auth_mechanisms.len() <= 64, "mechanisms bounded");
        }
        for c in &facts.credentials {
            for e in &c.evidence {
                assert!(e.bytes.len() <= EVIDENCE_BYTES);
            }
        }
        let mut info = session_info(server_port);
        for (side, stats) in info.sides.iter_mut() {
            stats.packets = self.packets[side];
            stats.payload_bytes = self.payload[side];
        }
        info.end = if self.dialog.fin(Side::Client) && self.dialog.fin(Side::Server) {
            EndReason::Fin
        } else {
            EndReason::EndOfCapture
        };
        let locator = Locator::new(&["fuzz.pcap".to_string()]);
        for show_secrets in [false, true] {
            let record = SessionRecord::build(&info, facts, &locator, show_secrets);
            check_json("session", &record);
            check_json("findings", &record.findings);
        }
    }
}

/// A session handler that keeps the info of the session it is given.
struct Grab(Option<SessionInfo>);

struct Ignore;

impl StreamSink for Ignore {
    fn on_event(&mut self, _side: Side, _event: StreamEvent<'_>) {}
}

impl SessionHandler for Grab {
    type Sink = Ignore;
    fn open(&mut self, _info: &SessionInfo) -> Ignore {
        Ignore
    }
    fn close(&mut self, info: SessionInfo, _sink: Ignore) {
        self.0 = Some(info);
    }
}

/// The transport facts of a session from 192.0.2.1:40000 to
/// 198.51.100.2:`port` (its SYN seen), as the flow table makes them.
fn session_info(port: u16) -> SessionInfo {
    let frame = tcp_frame(
        ([192, 0, 2, 1], 40000),
        ([198, 51, 100, 2], port),
        1000,
        None,
        0x02,
        b"",
    );
    let segment = decode::decode(1, &frame).expect("a SYN decodes");
    let mut ports = PortSet::mail();
    ports.insert(port);
    let config = FlowConfig {
        ports,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::new(config, Grab(None));
    let packet = PacketRef {
        input: 0,
        frame: 1,
        ts: Timestamp::new(1_700_000_000, 0),
    };
    table.process(&segment, packet, frame.len() as u32);
    table.finish();
    table.into_handler().0.expect("the session ended")
}

fn hint_of(b: u8) -> (Option<Protocol>, u16) {
    match b % 8 {
        0 => (Some(Protocol::Smtp), 25),
        1 => (Some(Protocol::Imap), 143),
        2 => (Some(Protocol::Pop3), 110),
        3 => (Some(Protocol::Smtp), 465),
        4 => (Some(Protocol::Imap), 993),
        5 => (Some(Protocol::Pop3), 995),
        _ => (None, 2526),
    }
}

/// Arbitrary events from the first byte, with a port hint.
pub(crate) fn dialog(data: &[u8]) {
    let mut input = Input::new(data);
    let (hint, port) = hint_of(input.u8());
    let mut driver = Driver::new(hint);
    driver.play(&mut input);
    driver.finish(port);
}

use Side::{Client as C, Server as S};

type Script = &'static [(Side, &'static [u8])];

const SMTP_CAPS: Script = &[
    (S, b"220 mx.example.org ESMTP\r\n"),
    (C, b"EHLO client.example.com\r\n"),
    (
        S,
        b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 8BITMIME\r\n",
    ),
];

const SMTP: &[Script] = &[
    &[],
    SMTP_CAPS,
    &[(C, b"STARTTLS\r\n")],
    &[
        (C, b"STARTTLS\r\n"),
        (S, b"220 2.0.0 Ready to start TLS\r\n"),
    ],
    &[(C, b"AUTH LOGIN\r\n"), (S, b"334 VXNlcm5hbWU6\r\n")],
    &[(C, b"AUTH PLAIN\r\n"), (S, b"334 \r\n")],
    &[
        (C, b"MAIL FROM:<a@example.com>\r\n"),
        (S, b"250 2.1.0 Ok\r\n"),
        (C, b"RCPT TO:<b@example.org>\r\n"),
        (S, b"250 2.1.5 Ok\r\n"),
        (C, b"DATA\r\n"),
        (S, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    ],
    &[
        (C, b"MAIL FROM:<a@example.com>\r\n"),
        (S, b"250 2.1.0 Ok\r\n"),
        (C, b"RCPT TO:<b@example.org>\r\n"),
        (S, b"250 2.1.5 Ok\r\n"),
        (C, b"BDAT 64\r\n"),
    ],
];

const IMAP_CAPS: Script = &[
    (
        S,
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
    ),
    (C, b"a1 CAPABILITY\r\n"),
    (
        S,
        b"* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR STARTTLS AUTH=PLAIN AUTH=LOGIN\r\na1 OK done\r\n",
    ),
];

const IMAP: &[Script] = &[
    &[],
    IMAP_CAPS,
    &[(C, b"a2 STARTTLS\r\n")],
    &[
        (C, b"a2 STARTTLS\r\n"),
        (S, b"a2 OK Begin TLS negotiation now\r\n"),
    ],
    &[
        (C, b"a3 LOGIN {5}\r\n"),
        (S, b"+ Ready for literal data\r\n"),
    ],
    &[(C, b"a3 LOGIN {5+}\r\nalice {6+}\r\n")],
    &[(C, b"a4 AUTHENTICATE PLAIN\r\n"), (S, b"+ \r\n")],
    &[
        (C, b"a5 LOGIN alice secret\r\n"),
        (S, b"a5 OK logged in\r\n"),
        (C, b"a6 FETCH 1 BODY[]\r\n"),
        (S, b"* 1 FETCH (BODY[] {100}\r\n"),
    ],
];

const POP3_CAPS: Script = &[
    (S, b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
    (C, b"CAPA\r\n"),
    (
        S,
        b"+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL PLAIN LOGIN\r\nSTLS\r\n.\r\n",
    ),
];

const POP3: &[Script] = &[
    &[],
    POP3_CAPS,
    &[(C, b"STLS\r\n")],
    &[(C, b"STLS\r\n"), (S, b"+OK Begin TLS negotiation\r\n")],
    &[(C, b"USER alice\r\n"), (S, b"+OK\r\n")],
    &[(C, b"AUTH LOGIN\r\n"), (S, b"+ VXNlcm5hbWU6\r\n")],
    &[(C, b"APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n")],
    &[
        (C, b"USER alice\r\nPASS secret\r\n"),
        (S, b"+OK\r\n+OK\r\n"),
        (C, b"RETR 1\r\n"),
        (S, b"+OK 120 octets\r\n"),
    ],
];

/// A fixed prefix (greeting, capabilities, then the script the first byte
/// picks), then arbitrary events.
fn deep(data: &[u8], scripts: &[Script], hint: Protocol, port: u16) {
    let mut input = Input::new(data);
    let pick = usize::from(input.u8());
    let mut driver = Driver::new(if pick & 0x80 != 0 { None } else { Some(hint) });
    let i = pick % scripts.len();
    // 0: no prefix; 1: the capabilities; others: the capabilities, then
    // script `i`.
    let prefix = match i {
        0 => &[][..],
        1 => scripts[1],
        _ => scripts[i],
    };
    for (side, bytes) in scripts[1].iter().filter(|_| i >= 2).chain(prefix) {
        driver.data(*side, bytes);
    }
    driver.play(&mut input);
    driver.finish(port);
}

pub(crate) fn dialog_smtp(data: &[u8]) {
    deep(data, SMTP, Protocol::Smtp, 25);
}

pub(crate) fn dialog_imap(data: &[u8]) {
    deep(data, IMAP, Protocol::Imap, 143);
}

pub(crate) fn dialog_pop3(data: &[u8]) {
    deep(data, POP3, Protocol::Pop3, 110);
}

const FTP_CAPS: Script = &[
    (S, b"220 (vsFTPd 3.0.5)\r\n"),
    (C, b"FEAT\r\n"),
    (
        S,
        b"211-Features:\r\n AUTH TLS\r\n EPRT\r\n PBSZ\r\n211 End\r\n",
    ),
];

const FTP: &[Script] = &[
    &[],
    FTP_CAPS,
    &[(C, b"AUTH TLS\r\n")],
    &[
        (C, b"AUTH TLS\r\n"),
        (S, b"234 Proceed with negotiation.\r\n"),
    ],
    &[(C, b"USER alice\r\n"), (S, b"331 Password required\r\n")],
    &[(C, b"LIST\r\n"), (S, b"150 Here comes the listing\r\n")],
];

pub(crate) fn dialog_ftp(data: &[u8]) {
    deep(data, FTP, Protocol::Ftp, 21);
}

const PG_SSL: Script = &[(C, &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), (S, b"N")];

const PG: &[Script] = &[
    &[],
    PG_SSL,
    &[(
        C,
        b"\x00\x00\x00\x25\x00\x03\x00\x00user\x00alice\x00database\x00db\x00\x00",
    )],
    &[
        (
            C,
            b"\x00\x00\x00\x25\x00\x03\x00\x00user\x00alice\x00database\x00db\x00\x00",
        ),
        (S, b"R\x00\x00\x00\x08\x00\x00\x00\x03"),
    ],
    &[
        (
            C,
            b"\x00\x00\x00\x25\x00\x03\x00\x00user\x00alice\x00database\x00db\x00\x00",
        ),
        (S, b"R\x00\x00\x00\x0c\x00\x00\x00\x05\x74\x40\x28\x44"),
    ],
];

/// PostgreSQL: the startup phase's messages, then arbitrary events.
pub(crate) fn dialog_postgres(data: &[u8]) {
    deep(data, PG, Protocol::Postgresql, 5432);
}

/// A MySQL 8 greeting offering CLIENT_SSL, default caching_sha2_password.
const MY_GREETING: &[u8] = b"\x4a\x00\x00\x00\x0a8.0.32\x00\x08\x00\x00\x00abcdefgh\x00\xff\xff\xff\x02\x00\xff\xdf\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00ijklmnopqrst\x00caching_sha2_password\x00";

/// A HandshakeResponse41 (user root, a 20-byte native-password response).
const MY_LOGIN: &[u8] = b"\x3a\x00\x00\x01\x05\xa6\x0f\x00\x00\x00\x00\x01\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00root\x00\x14RESPONSE-0123456789!";

const MY: &[Script] = &[
    &[],
    &[(S, MY_GREETING)],
    &[
        (S, MY_GREETING),
        (
            C,
            b"\x20\x00\x00\x01\x05\xae\xff\x01\x00\x00\x00\x01\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ),
    ],
    &[(S, MY_GREETING), (C, MY_LOGIN)],
    &[
        (S, MY_GREETING),
        (C, MY_LOGIN),
        (S, b"\x16\x00\x00\x02\xfemysql_clear_password\x00"),
    ],
];

/// MySQL: the connection phase's packets, then arbitrary events.
pub(crate) fn dialog_mysql(data: &[u8]) {
    deep(data, MY, Protocol::Mysql, 3306);
}

const XMPP_CAPS: Script = &[
    (
        C,
        b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
          xmlns='jabber:client' to='example.net' version='1.0'>",
    ),
    (
        S,
        b"<stream:stream xmlns='jabber:client' id='1' version='1.0'><stream:features>\
          <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms \
          xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
          </mechanisms></stream:features>",
    ),
];

const XMPP: &[Script] = &[
    &[],
    XMPP_CAPS,
    &[(C, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")],
    &[
        (C, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        (S, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
    ],
    &[(
        C,
        b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFs",
    )],
    &[
        (
            C,
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>",
        ),
        (S, b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"),
    ],
];

/// XMPP: the stream headers and features, then arbitrary events (the tag
/// scanners and the guard's among them).
pub(crate) fn dialog_xmpp(data: &[u8]) {
    deep(data, XMPP, Protocol::Xmpp, 5222);
}

/// An LDAP StartTLS ExtendedRequest (messageID 1).
const LDAP_STARTTLS: &[u8] = b"0\x1d\x02\x01\x01w\x18\x80\x161.3.6.1.4.1.1466.20037";
/// A CRAM-MD5 SASL bind without credentials (messageID 3).
const LDAP_CRAM: &[u8] = b"0\x16\x02\x01\x03`\x11\x02\x01\x03\x04\x00\xa3\x0a\x04\x08CRAM-MD5";

const LDAP: &[Script] = &[
    &[],
    &[
        (C, b"09\x02\x01\x01c4\x04\x00\x0a\x01\x00\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00\x87\x0bobjectClass0\x14\x04\x12supportedExtension"),
        (S, b"09\x02\x01\x01d4\x04\x00000.\x04\x12supportedExtension1\x18\x04\x161.3.6.1.4.1.1466.20037"),
    ],
    &[(C, LDAP_STARTTLS)],
    &[
        (C, LDAP_STARTTLS),
        (S, b"0\x0c\x02\x01\x01x\x07\x0a\x01\x00\x04\x00\x04\x00"),
    ],
    &[(C, b"0\x1b\x02\x01\x02`\x16\x02\x01\x03\x04\x08cn=admin\x80\x07s3cret!")],
    &[
        (C, LDAP_CRAM),
        (S, b"05\x02\x01\x03a0\x0a\x01\x0e\x04\x00\x04\x00\x87'<1896.697170952@postoffice.example.net>"),
    ],
];

/// LDAP: a root DSE read, StartTLS awaiting its answer and after it, a
/// simple bind, a SASL bind in progress; then arbitrary events (the BER
/// framer and the guard's framing among them).
pub(crate) fn dialog_ldap(data: &[u8]) {
    deep(data, LDAP, Protocol::Ldap, 389);
}

const SIEVE_CAPS: Script = &[(
    S,
    b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SASL\" \"PLAIN LOGIN\"\r\n\
      \"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\nOK \"Dovecot ready.\"\r\n",
)];

const SIEVE: &[Script] = &[
    &[],
    SIEVE_CAPS,
    &[(C, b"STARTTLS\r\n")],
    &[
        (C, b"STARTTLS\r\n"),
        (S, b"OK \"Begin TLS negotiation now.\"\r\n"),
    ],
    &[(C, b"AUTHENTICATE \"PLAIN\" {20+}\r\n")],
    &[(C, b"AUTHENTICATE \"LOGIN\"\r\n"), (S, b"{12}\r\n")],
    &[(C, b"PUTSCRIPT \"s\" {100+}\r\n")],
];

/// ManageSieve: the capability block, then STARTTLS awaiting its answer,
/// after its OK, inside a client literal (an initial response, a script)
/// or a server literal (a challenge); then arbitrary events.
pub(crate) fn dialog_managesieve(data: &[u8]) {
    deep(data, SIEVE, Protocol::ManageSieve, 4190);
}

const NNTP_CAPS: Script = &[
    (
        S,
        b"200 news.example.org InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n",
    ),
    (C, b"CAPABILITIES\r\n"),
    (
        S,
        b"101 Capability list:\r\nVERSION 2\r\nAUTHINFO USER\r\nSASL PLAIN\r\nSTARTTLS\r\n.\r\n",
    ),
];

const NNTP: &[Script] = &[
    &[],
    NNTP_CAPS,
    &[(C, b"STARTTLS\r\n")],
    &[
        (C, b"STARTTLS\r\n"),
        (S, b"382 Begin TLS negotiation now\r\n"),
    ],
    &[
        (C, b"AUTHINFO USER alice\r\n"),
        (S, b"381 Enter password\r\n"),
    ],
    &[(C, b"AUTHINFO SASL PLAIN\r\n"), (S, b"383 =\r\n")],
    &[(C, b"ARTICLE 1\r\n"), (S, b"220 1 <a@b> article\r\n")],
    &[(C, b"POST\r\n"), (S, b"340 send article\r\n")],
];

/// NNTP: the greeting and CAPABILITIES, then STARTTLS awaiting its answer,
/// after its 382, AUTHINFO USER and SASL half-way, an article being read
/// or posted; then arbitrary events.
pub(crate) fn dialog_nntp(data: &[u8]) {
    deep(data, NNTP, Protocol::Nntp, 119);
}
