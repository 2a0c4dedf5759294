//! The TLS record reader fed arbitrary chunks and gaps; the sniffer on
//! every prefix. A ServerHello of TLS 1.2 or older sends it on to the
//! server's Certificate, parsed by x509-parser (the seed `certificate` is a
//! whole flight with a real chain).
//!
//! Input: events, each a byte `op`: `op % 4` is 0-2 for a chunk (one-byte
//! length, or two bytes when bit 7 is set) and 3 for a gap (one-byte length
//! + 1, or four bytes when bit 7 is set).

use super::input::Input;
use crate::proto::tls::{
    CertificateState, HelloState, MAX_CERTIFICATE_BYTES, MAX_HELLO_BYTES, MAX_SNI_BYTES,
    ReaderState, TlsEvent, TlsReader, sniff,
};

/// The TLS fuzz target.
pub(crate) fn tls(data: &[u8]) {
    let _ = sniff(data);
    let mut input = Input::new(data);
    let mut reader = TlsReader::new();
    let mut fed = 0u64;
    let mut gaps = 0u64;
    let (mut client_hellos, mut server_hellos, mut not_tls) = (0, 0, 0);
    let mut certificates = 0;
    let mut events = Vec::new();
    while !input.is_empty() {
        let op = input.u8();
        let long = op & 0x80 != 0;
        if op % 4 == 3 {
            let len = if long {
                u64::from(input.u32())
            } else {
                u64::from(input.u8()) + 1
            };
            reader.gap(len);
            gaps = gaps.saturating_add(len);
            if len > 0 {
                assert_ne!(
                    reader.state(),
                    ReaderState::Reading,
                    "a gap stops the reader"
                );
            }
        } else {
            let chunk = if long {
                input.chunk16()
            } else {
                input.chunk8()
            };
            let _ = sniff(chunk);
            events.clear();
            reader.feed(chunk, &mut events);
            fed += chunk.len() as u64;
            assert!(
                reader.buffered() <= MAX_HELLO_BYTES.max(MAX_CERTIFICATE_BYTES),
                "handshake bytes bounded"
            );
            for event in &events {
                match event {
                    TlsEvent::ClientHello(h) | TlsEvent::ServerHello(h) => {
                        if matches!(event, TlsEvent::ClientHello(_)) {
                            client_hellos += 1;
                        } else {
                            server_hellos += 1;
                        }
                        if let Some(sni) = &h.sni {
                            assert!(sni.len() <= MAX_SNI_BYTES, "SNI cut");
                        }
                        let _ = h.version();
                    }
                    TlsEvent::ServerCertificate(c) => {
                        certificates += 1;
                        assert_eq!(server_hellos, 1, "the certificate follows the ServerHello");
                        assert_eq!(
                            c.subject.is_some(),
                            c.issuer.is_some(),
                            "both names or none"
                        );
                    }
                    TlsEvent::NotTls => not_tls += 1,
                }
            }
        }
        assert_eq!(
            reader.offset(),
            fed.saturating_add(gaps),
            "offset counts bytes and gaps"
        );
    }
    assert!(not_tls <= 1, "NotTls reported once");
    assert!(
        client_hellos + server_hellos <= 1,
        "one hello per direction"
    );
    if client_hellos + server_hellos == 1 {
        assert_eq!(reader.hello_state(), HelloState::Seen);
    }
    assert!(certificates <= 1, "one certificate");
    if certificates == 1 {
        assert_eq!(reader.certificate_state(), CertificateState::Seen);
        assert!(!reader.collecting());
    }
    if client_hellos == 1 {
        assert_eq!(reader.certificate_state(), CertificateState::NotExpected);
    }
    if not_tls == 1 {
        assert_eq!(reader.state(), ReaderState::NotTls);
        assert!(reader.not_tls_offset().is_some());
    }
    assert_eq!(reader.gap_bytes(), gaps);
}
