//! Realistic SMTP, IMAP and POP3 exchanges (Postfix and Dovecot wording),
//! as building blocks for conversations. Each function scripts one step and
//! returns the segments of the client's command, for perturbations.

use super::conversation::{Conversation, Dir, Segs};
use super::tls;

pub mod smtp {
    use super::*;

    /// What a server says before the client's first command.
    #[derive(Clone, Copy, Debug)]
    pub struct Server {
        pub greeting: &'static str,
        pub ehlo_reply: &'static str,
    }

    /// An Internet-facing MX offering STARTTLS.
    pub const MX: Server = Server {
        greeting: "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n",
        ehlo_reply: "250-mail.example.org\r\n\
            250-PIPELINING\r\n\
            250-SIZE 52428800\r\n\
            250-VRFY\r\n\
            250-ETRN\r\n\
            250-STARTTLS\r\n\
            250-ENHANCEDSTATUSCODES\r\n\
            250-8BITMIME\r\n\
            250-DSN\r\n\
            250-SMTPUTF8\r\n\
            250 CHUNKING\r\n",
    };

    /// An internal relay that offers no TLS.
    pub const RELAY: Server = Server {
        greeting: "220 relay.example.org ESMTP Postfix\r\n",
        ehlo_reply: "250-relay.example.org\r\n\
            250-PIPELINING\r\n\
            250-SIZE 10240000\r\n\
            250-ENHANCEDSTATUSCODES\r\n\
            250-8BITMIME\r\n\
            250 SMTPUTF8\r\n",
    };

    pub const EHLO: &str = "EHLO client.example.com\r\n";
    pub const STARTTLS: &str = "STARTTLS\r\n";
    pub const READY_FOR_TLS: &str = "220 2.0.0 Ready to start TLS\r\n";

    /// Greeting from the server, then EHLO and its multi-line reply.
    pub fn greet_and_ehlo(c: &mut Conversation, server: Server) -> Segs {
        c.server_sends(server.greeting);
        let ehlo = c.client_sends(EHLO);
        c.server_sends(server.ehlo_reply);
        ehlo
    }

    /// STARTTLS, the 220 reply, and a TLS session with `exchanges` encrypted
    /// round trips. Returns the STARTTLS command's segments.
    pub fn starttls(c: &mut Conversation, seed: u64, exchanges: usize) -> Segs {
        let cmd = c.client_sends(STARTTLS);
        c.server_sends(READY_FOR_TLS);
        tls::session(c, "mail.example.org", seed, exchanges);
        cmd
    }

    /// A complete session upgraded with STARTTLS, closed by the client.
    pub fn starttls_session(c: &mut Conversation, seed: u64) {
        c.handshake();
        greet_and_ehlo(c, MX);
        starttls(c, seed, 2);
        c.close(Dir::Client);
    }

    /// An RFC 5322 message of a few segments, ending with the DATA
    /// terminator.
    pub fn message() -> String {
        let mut m = String::from(
            "Received: from client.example.com (client.example.com [192.0.2.10])\r\n\
             \tby relay.example.org (Postfix) with ESMTP id 4Tq1Xk3Lm9z2\r\n\
             \tfor <bob@example.org>; Fri,  1 Mar 2024 12:00:00 +0000 (UTC)\r\n\
             From: Alice Example <alice@example.com>\r\n\
             To: Bob Example <bob@example.org>\r\n\
             Subject: Quarterly report\r\n\
             Date: Fri, 1 Mar 2024 12:00:00 +0000\r\n\
             Message-ID: <20240301120000.4711@client.example.com>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\
             \r\n\
             Hi Bob,\r\n\
             \r\n",
        );
        for i in 1..=14 {
            m.push_str(&format!(
                "Line {i:02}: the figures for region {i} are attached to the shared folder.\r\n"
            ));
        }
        m.push_str("\r\nRegards,\r\nAlice\r\n.\r\n");
        m
    }

    /// MAIL, RCPT, DATA and the message, then QUIT. Returns the segments of
    /// the message (with its terminator).
    pub fn mail_transaction(c: &mut Conversation) -> Segs {
        c.client_sends("MAIL FROM:<alice@example.com> SIZE=1500\r\n");
        c.server_sends("250 2.1.0 Ok\r\n");
        c.client_sends("RCPT TO:<bob@example.org>\r\n");
        c.server_sends("250 2.1.5 Ok\r\n");
        c.client_sends("DATA\r\n");
        c.server_sends("354 End data with <CR><LF>.<CR><LF>\r\n");
        let body = c.client_sends(message());
        c.server_sends("250 2.0.0 Ok: queued as 4Tq1Xk3Lm9z2\r\n");
        c.client_sends("QUIT\r\n");
        c.server_sends("221 2.0.0 Bye\r\n");
        body
    }

    /// A plain relay session: greeting, EHLO (no STARTTLS offered), one
    /// message, QUIT; the server closes first. Returns the message segments.
    pub fn relay_session(c: &mut Conversation) -> Segs {
        c.handshake();
        greet_and_ehlo(c, RELAY);
        let body = mail_transaction(c);
        c.close(Dir::Server);
        body
    }
}

pub mod imap {
    use super::*;

    pub const GREETING: &str = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE \
        IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot (Debian) ready.\r\n";
    pub const CAPABILITY: &str = "a001 CAPABILITY\r\n";
    pub const CAPABILITY_REPLY: &str = "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE \
        IDLE LITERAL+ STARTTLS LOGINDISABLED\r\n\
        a001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n";
    pub const STARTTLS: &str = "a002 STARTTLS\r\n";
    pub const READY_FOR_TLS: &str = "a002 OK Begin TLS negotiation now.\r\n";

    /// Greeting, CAPABILITY, STARTTLS and a TLS session with `exchanges`
    /// encrypted round trips. Returns the STARTTLS command's segments.
    pub fn starttls(c: &mut Conversation, seed: u64, exchanges: usize) -> Segs {
        c.server_sends(GREETING);
        c.client_sends(CAPABILITY);
        c.server_sends(CAPABILITY_REPLY);
        let cmd = c.client_sends(STARTTLS);
        c.server_sends(READY_FOR_TLS);
        tls::session(c, "imap.example.org", seed, exchanges);
        cmd
    }

    /// A complete STARTTLS session; the client closes.
    pub fn starttls_session(c: &mut Conversation, seed: u64) {
        c.handshake();
        starttls(c, seed, 2);
        c.close(Dir::Client);
    }
}

pub mod pop3 {
    use super::*;

    pub const GREETING: &str = "+OK Dovecot (Debian) ready.\r\n";
    pub const CAPA: &str = "CAPA\r\n";
    pub const CAPA_REPLY: &str = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n\
        AUTH-RESP-CODE\r\nSTLS\r\nSASL PLAIN\r\n.\r\n";
    pub const STLS: &str = "STLS\r\n";
    pub const READY_FOR_TLS: &str = "+OK Begin TLS negotiation now.\r\n";

    /// Greeting, CAPA, STLS and a TLS session with `exchanges` encrypted
    /// round trips. Returns the STLS command's segments.
    pub fn stls(c: &mut Conversation, seed: u64, exchanges: usize) -> Segs {
        c.server_sends(GREETING);
        c.client_sends(CAPA);
        c.server_sends(CAPA_REPLY);
        let cmd = c.client_sends(STLS);
        c.server_sends(READY_FOR_TLS);
        tls::session(c, "pop.example.org", seed, exchanges);
        cmd
    }

    /// A complete STLS session; the client closes.
    pub fn stls_session(c: &mut Conversation, seed: u64) {
        c.handshake();
        stls(c, seed, 1);
        c.close(Dir::Client);
    }
}
