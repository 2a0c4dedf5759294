//! NTLMSSP messages (MS-NLMP 2.2.1) as they cross in SASL NTLM, or wrapped
//! in SPNEGO (GSS-SPNEGO). Only the CHALLENGE (type 2) and AUTHENTICATE
//! (type 3) messages matter: the server challenge, and the responses,
//! domain and user name.
//!
//! Every offset and length comes from the wire: each is checked against the
//! message with checked arithmetic, and a buffer that points outside the
//! message makes the whole message unreadable.

/// `NTLMSSP\0`, the first bytes of every message.
pub(super) const SIGNATURE: &[u8] = b"NTLMSSP\0";
/// NTLMSSP_NEGOTIATE_UNICODE: strings are UTF-16LE, else OEM code page.
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// End of the AUTHENTICATE header up to NegotiateFlags included: a message
/// whose payload starts before this has no flags field (old versions).
const HEADER_WITH_FLAGS: usize = 64;

/// A CHALLENGE message.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Challenge {
    pub server_challenge: [u8; 8],
    pub flags: u32,
}

/// An AUTHENTICATE message. Text fields are converted to UTF-8 when the
/// message is Unicode, kept as raw OEM bytes otherwise.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Authenticate {
    pub lm_response: Vec<u8>,
    pub nt_response: Vec<u8>,
    pub domain: Vec<u8>,
    pub user: Vec<u8>,
    pub workstation: Vec<u8>,
    /// NegotiateFlags of the message itself, when it has the field.
    pub flags: Option<u32>,
}

/// The NTLMSSP message in `blob`: the blob itself, or the part from the
/// signature on when it is wrapped (SPNEGO); offsets inside an NTLMSSP
/// message are relative to its signature, and trailing bytes are harmless.
pub(super) fn find(blob: &[u8]) -> Option<&[u8]> {
    if blob.starts_with(SIGNATURE) {
        return Some(blob);
    }
    let at = blob.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)?;
    blob.get(at..)
}

/// MessageType of an NTLMSSP message.
pub(super) fn message_type(msg: &[u8]) -> Option<u32> {
    if !msg.starts_with(SIGNATURE) {
        return None;
    }
    u32_at(msg, 8)
}

/// Reads a CHALLENGE message: the 8-byte server challenge at offset 24 and
/// the flags at offset 20.
pub(super) fn parse_challenge(msg: &[u8]) -> Option<Challenge> {
    if message_type(msg)? != 2 {
        return None;
    }
    let flags = u32_at(msg, 20)?;
    let server_challenge: [u8; 8] = msg.get(24..32)?.try_into().ok()?;
    Some(Challenge {
        server_challenge,
        flags,
    })
}

/// Reads an AUTHENTICATE message. `challenge_flags` (from the server's
/// CHALLENGE) decide the string encoding when the message carries no flags
/// of its own; without either, a user name that looks like ASCII in
/// UTF-16LE is taken as Unicode.
pub(super) fn parse_authenticate(msg: &[u8], challenge_flags: Option<u32>) -> Option<Authenticate> {
    if message_type(msg)? != 3 {
        return None;
    }
    let lm = SecBuf::at(msg, 12)?;
    let nt = SecBuf::at(msg, 20)?;
    let domain = SecBuf::at(msg, 28)?;
    let user = SecBuf::at(msg, 36)?;
    let workstation = SecBuf::at(msg, 44)?;
    let payload_start = [lm, nt, domain, user, workstation]
        .iter()
        .filter(|b| b.len > 0)
        .map(|b| b.offset)
        .min()
        .unwrap_or(msg.len());
    let flags = if payload_start >= HEADER_WITH_FLAGS {
        u32_at(msg, 60)
    } else {
        None
    };
    let user_raw = user.slice(msg)?;
    let unicode = match flags.or(challenge_flags) {
        Some(f) => f & NEGOTIATE_UNICODE != 0,
        None => looks_utf16(user_raw),
    };
    Some(Authenticate {
        lm_response: lm.slice(msg)?.to_vec(),
        nt_response: nt.slice(msg)?.to_vec(),
        domain: text(domain.slice(msg)?, unicode),
        user: text(user_raw, unicode),
        workstation: text(workstation.slice(msg)?, unicode),
        flags,
    })
}

/// A security buffer: length and offset of a payload field.
#[derive(Clone, Copy)]
struct SecBuf {
    len: usize,
    offset: usize,
}

impl SecBuf {
    /// The descriptor at `at`: Len (u16), MaxLen (u16), Offset (u32).
    fn at(msg: &[u8], at: usize) -> Option<SecBuf> {
        let len = usize::from(u16_at(msg, at)?);
        let offset = usize::try_from(u32_at(msg, at.checked_add(4)?)?).ok()?;
        Some(SecBuf { len, offset })
    }

    /// The bytes it designates; an empty buffer may carry any offset.
    fn slice(self, msg: &[u8]) -> Option<&[u8]> {
        if self.len == 0 {
            return Some(&[]);
        }
        msg.get(self.offset..self.offset.checked_add(self.len)?)
    }
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = msg.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_le_bytes(b))
}

fn u32_at(msg: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = msg.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// A string field as UTF-8 (Unicode: UTF-16LE decoded, bad surrogates
/// replaced by U+FFFD, an odd last byte dropped) or raw OEM bytes.
fn text(bytes: &[u8], unicode: bool) -> Vec<u8> {
    if !unicode {
        return bytes.to_vec();
    }
    let units = bytes
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes);
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>()
        .into_bytes()
}

/// ASCII text in UTF-16LE: even length, every second byte zero.
fn looks_utf16(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.len() % 2 == 0 && bytes.chunks_exact(2).all(|c| c.get(1) == Some(&0))
}
