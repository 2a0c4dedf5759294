//! Credentials as they cross the wire: SASL messages (PLAIN, LOGIN,
//! CRAM-MD5, DIGEST-MD5, XOAUTH2, OAUTHBEARER, NTLM, SCRAM, GSSAPI) and
//! APOP digests, with real digests so a cracker finds the password. Every
//! secret is fake, unique and easy to grep for (`pw-...`, `tok-...`).

use super::crypto::{hex, hmac_md5, md4, md5};
use super::tls::Noise;
use base64::Engine as _;

/// Standard base64 with padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A username and the secret the client knows (a password or token).
#[derive(Clone, Copy, Debug)]
pub struct Account {
    pub user: &'static str,
    pub secret: &'static str,
}

const fn account(user: &'static str, secret: &'static str) -> Account {
    Account { user, secret }
}

// SMTP submission (findings/smtp-auth.pcap).
pub const SMTP_PLAIN: Account = account("alice@example.com", "pw-smtp-plain-7Q");
pub const SMTP_LOGIN: Account = account("bob@example.com", "pw-smtp-login-3K");
pub const SMTP_LOGIN_IR: Account = account("carol@example.com", "pw-smtp-login-ir-8M");
pub const SMTP_CRAM: Account = account("dave", "pw-smtp-cram-2T");
pub const SMTP_DIGEST: Account = account("erin", "pw-smtp-digest-5V");
pub const SMTP_XOAUTH2: Account = account("frank@example.com", "tok-smtp-xoauth2-3Z");
pub const SMTP_OAUTHBEARER: Account = account("grace@example.com", "tok-smtp-oauthbearer-6W");
pub const SMTP_NTLM: Account = account("heidi", "pw-smtp-ntlm-9P");
pub const SMTP_SCRAM1: Account = account("ivan", "pw-smtp-scram1-4H");
// IMAP.
pub const IMAP_MASKED: Account = account("judy", "pw-imap-masked-1B");
pub const IMAP_ATOM: Account = account("kim", "pw-imap-atom-2C");
/// Sent as a quoted string with `\"` and `\\` escapes.
pub const IMAP_QUOTED: Account = account("lena@example.org", "pw \"imap\" quoted\\5D");
/// Both sent as synchronizing literals.
pub const IMAP_LITERAL: Account = account("mike-literal", "pw-imap-literal-6D");
/// The password sent as a LITERAL+ (non-synchronizing) literal.
pub const IMAP_LITERAL_PLUS: Account = account("nina", "pw-imap-literal+7E");
pub const IMAP_PLAIN: Account = account("olivia", "pw-imap-plain-8F");
pub const IMAP_SCRAM256: Account = account("peggy", "pw-imap-scram256-8N");
/// Kerberos: neither the principal nor a password is visible on the wire.
pub const IMAP_GSSAPI: Account = account("quinn@EXAMPLE.ORG", "");
// POP3.
pub const POP3_MASKED: Account = account("sybil", "pw-pop3-masked-2P");
pub const POP3_USER_PASS: Account = account("trent", "pw pop3 with spaces 4R");
pub const POP3_APOP: Account = account("uma", "pw-pop3-apop-3S");
pub const POP3_PLAIN: Account = account("victor", "pw-pop3-plain-5G");
pub const POP3_USER_PASS_FAIL: Account = account("walter", "pw pop3 spaces fail 6J");

/// Every secret a sample carries, for tests that look for leaks.
pub const SECRETS: &[&str] = &[
    SMTP_PLAIN.secret,
    SMTP_LOGIN.secret,
    SMTP_LOGIN_IR.secret,
    SMTP_CRAM.secret,
    SMTP_DIGEST.secret,
    SMTP_XOAUTH2.secret,
    SMTP_OAUTHBEARER.secret,
    SMTP_NTLM.secret,
    SMTP_SCRAM1.secret,
    IMAP_MASKED.secret,
    IMAP_ATOM.secret,
    IMAP_QUOTED.secret,
    IMAP_LITERAL.secret,
    IMAP_LITERAL_PLUS.secret,
    IMAP_PLAIN.secret,
    IMAP_SCRAM256.secret,
    POP3_MASKED.secret,
    POP3_USER_PASS.secret,
    POP3_APOP.secret,
    POP3_PLAIN.secret,
    POP3_USER_PASS_FAIL.secret,
    super::history::SMTP_ACCOUNT.secret,
    super::history::IMAP_ACCOUNT.secret,
    super::history::POP3_ACCOUNT.secret,
];

/// The LOGIN mechanism's prompts, `Username:` and `Password:`.
pub const LOGIN_USER_PROMPT: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASS_PROMPT: &str = "UGFzc3dvcmQ6";

/// PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`, base64.
pub fn plain(a: Account) -> String {
    b64(format!("\0{}\0{}", a.user, a.secret))
}

/// CRAM-MD5 (RFC 2195): the client's `user SP hex(HMAC-MD5(password,
/// challenge))`; returns (base64 response, hex digest).
pub fn cram_md5(a: Account, challenge: &str) -> (String, String) {
    let digest = hex(&hmac_md5(a.secret.as_bytes(), challenge.as_bytes()));
    (b64(format!("{} {digest}", a.user)), digest)
}

/// APOP (RFC 1939 7): hex(MD5(timestamp password)).
pub fn apop(a: Account, timestamp: &str) -> String {
    hex(&md5(format!("{timestamp}{}", a.secret).as_bytes()))
}

/// A DIGEST-MD5 (RFC 2831) exchange with qop=auth and md5-sess.
pub struct DigestMd5 {
    pub realm: &'static str,
    pub nonce: &'static str,
    pub cnonce: &'static str,
    pub digest_uri: &'static str,
}

impl DigestMd5 {
    /// The server's challenge (plain text; base64 it for the wire).
    pub fn challenge(&self) -> String {
        format!(
            "realm=\"{}\",nonce=\"{}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess",
            self.realm, self.nonce
        )
    }

    /// `response=` for `a` (or `rspauth=` with `method` empty).
    pub fn digest(&self, a: Account, method: &str) -> String {
        let mut a1 = md5(format!("{}:{}:{}", a.user, self.realm, a.secret).as_bytes()).to_vec();
        a1.extend_from_slice(format!(":{}:{}", self.nonce, self.cnonce).as_bytes());
        let a2 = format!("{method}:{}", self.digest_uri);
        let kd = format!(
            "{}:{}:00000001:{}:auth:{}",
            hex(&md5(&a1)),
            self.nonce,
            self.cnonce,
            hex(&md5(a2.as_bytes()))
        );
        hex(&md5(kd.as_bytes()))
    }

    /// The client's response (plain text).
    pub fn response(&self, a: Account) -> String {
        format!(
            "charset=utf-8,username=\"{}\",realm=\"{}\",nonce=\"{}\",nc=00000001,cnonce=\"{}\",\
             digest-uri=\"{}\",response={},qop=auth",
            a.user,
            self.realm,
            self.nonce,
            self.cnonce,
            self.digest_uri,
            self.digest(a, "AUTHENTICATE")
        )
    }

    /// The server's `rspauth=` proof (plain text).
    pub fn rspauth(&self, a: Account) -> String {
        format!("rspauth={}", self.digest(a, ""))
    }
}

/// XOAUTH2 (Google): `user=U ^A auth=Bearer T ^A ^A`, base64.
pub fn xoauth2(a: Account) -> String {
    b64(format!(
        "user={}\x01auth=Bearer {}\x01\x01",
        a.user, a.secret
    ))
}

/// The JSON error a server sends before refusing an XOAUTH2 token.
pub fn xoauth2_error() -> String {
    b64(r#"{"status":"401","schemes":"bearer","scope":"https://mail.example.org/"}"#)
}

/// OAUTHBEARER (RFC 7628): GS2 header with the authzid, host, port, token.
pub fn oauthbearer(a: Account, host: &str, port: u16) -> String {
    b64(format!(
        "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {}\x01\x01",
        a.user, a.secret
    ))
}

/// SCRAM messages (RFC 5802), computed with Python's hashlib:
/// SaltedPassword = PBKDF2(password, salt, 4096), ClientProof = ClientKey
/// XOR HMAC(H(ClientKey), AuthMessage), ServerSignature = HMAC(HMAC(
/// SaltedPassword, "Server Key"), AuthMessage); the same script reproduces
/// the examples of RFC 5802 and RFC 7677.
pub struct Scram {
    pub mechanism: &'static str,
    pub client_first: &'static str,
    pub server_first: &'static str,
    pub client_final: &'static str,
    pub server_final: &'static str,
}

/// SMTP_SCRAM1's exchange (salt `SALT-ivan-1`).
pub const SCRAM_SHA_1: Scram = Scram {
    mechanism: "SCRAM-SHA-1",
    client_first: "n,,n=ivan,r=Wq3NVfZ1k8Yh2Qp7",
    server_first: "r=Wq3NVfZ1k8Yh2Qp7c0ffee5eed4a11f1,s=U0FMVC1pdmFuLTE=,i=4096",
    client_final: "c=biws,r=Wq3NVfZ1k8Yh2Qp7c0ffee5eed4a11f1,p=oRjVrZuBWi2QavYcPYpVX7J4ZPs=",
    server_final: "v=SXk6EXV9WZm82B+YAZIrExckgQU=",
};

/// IMAP_SCRAM256's exchange (salt `SALT-peggy-256`).
pub const SCRAM_SHA_256: Scram = Scram {
    mechanism: "SCRAM-SHA-256",
    client_first: "n,,n=peggy,r=x7Hk2LmPq9Rt4Vw1Zb",
    server_first: "r=x7Hk2LmPq9Rt4Vw1Zbd0g5ta4b1e,s=U0FMVC1wZWdneS0yNTY=,i=4096",
    client_final: "c=biws,r=x7Hk2LmPq9Rt4Vw1Zbd0g5ta4b1e,\
                   p=0kBKpA1Z3KvR29CBotil+9QCLs+7xI21j1813Nw1dh4=",
    server_final: "v=m4aBNVwgy62UyRLO0LlFFJG8ixGjZI47CruxeN0xmT4=",
};

/// Opaque GSSAPI (Kerberos V5, RFC 4752) tokens: an initial context token
/// (OID 1.2.840.113554.1.2.2, AP-REQ with an encrypted ticket and
/// authenticator), or a later token of `len` bytes. Nothing in them names
/// the user in cleartext.
pub fn gssapi_token(seed: u64, len: usize) -> String {
    let mut noise = Noise::new(seed);
    let mut inner = vec![
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ];
    inner.extend_from_slice(&[0x01, 0x00, 0x6e, 0x82]);
    inner.extend_from_slice(&((len - 4) as u16).to_be_bytes());
    inner.extend(noise.bytes(len - 4));
    let mut token = vec![0x60, 0x82];
    token.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    token.extend(inner);
    b64(token)
}

// ----- NTLM (MS-NLMP) -----

const NTLM_FLAGS: u32 = 0x0000_0001 // UNICODE
    | 0x0000_0002 // OEM
    | 0x0000_0004 // REQUEST_TARGET
    | 0x0000_0200 // NTLM
    | 0x0000_8000 // ALWAYS_SIGN
    | 0x0008_0000 // EXTENDED_SESSIONSECURITY
    | 0x0200_0000 // VERSION
    | 0x2000_0000 // 128
    | 0x8000_0000; // 56
const NTLM_CHALLENGE_FLAGS: u32 = NTLM_FLAGS | 0x0001_0000 | 0x0080_0000; // TARGET_TYPE_DOMAIN, TARGET_INFO
/// Windows 10 build 19041, NTLM revision 15.
const NTLM_VERSION: [u8; 8] = [10, 0, 0x61, 0x4a, 0, 0, 0, 15];

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An AV pair of a CHALLENGE's TargetInfo.
pub fn av_pair(id: u16, value: &[u8]) -> Vec<u8> {
    let mut out = id.to_le_bytes().to_vec();
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// Appends security-buffer descriptors for `fields` (laid out in order after
/// a header of `header_len` bytes) to `header`; returns the payload.
fn lay_out(header: &mut Vec<u8>, header_len: usize, fields: &[&[u8]]) -> Vec<u8> {
    let mut payload = Vec::new();
    for f in fields {
        header.extend_from_slice(&(f.len() as u16).to_le_bytes());
        header.extend_from_slice(&(f.len() as u16).to_le_bytes());
        header.extend_from_slice(&((header_len + payload.len()) as u32).to_le_bytes());
        payload.extend_from_slice(f);
    }
    payload
}

/// NEGOTIATE_MESSAGE (type 1), no domain or workstation supplied.
pub fn ntlm_negotiate() -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&NTLM_FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // empty domain and workstation buffers
    m.extend_from_slice(&NTLM_VERSION);
    m
}

/// CHALLENGE_MESSAGE (type 2).
pub fn ntlm_challenge(target: &str, server_challenge: [u8; 8], target_info: &[u8]) -> Vec<u8> {
    let name = utf16(target);
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&2u32.to_le_bytes());
    let mut name_desc = Vec::new();
    let mut info_desc = Vec::new();
    let payload_name = lay_out(&mut name_desc, 56, &[&name]);
    let payload_info = lay_out(&mut info_desc, 56 + name.len(), &[target_info]);
    m.extend(name_desc);
    m.extend_from_slice(&NTLM_CHALLENGE_FLAGS.to_le_bytes());
    m.extend_from_slice(&server_challenge);
    m.extend_from_slice(&[0; 8]);
    m.extend(info_desc);
    m.extend_from_slice(&NTLM_VERSION);
    m.extend(payload_name);
    m.extend(payload_info);
    m
}

/// NTLMv2 responses: (LMv2 response, NTLMv2 response = NTProofStr + blob).
pub fn ntlmv2_responses(
    domain: &str,
    a: Account,
    server_challenge: [u8; 8],
    client_challenge: [u8; 8],
    filetime: u64,
    target_info: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let nt_hash = md4(&utf16(a.secret));
    let who = utf16(&format!("{}{domain}", a.user.to_uppercase()));
    let ntowf = hmac_md5(&nt_hash, &who);
    let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
    blob.extend_from_slice(&filetime.to_le_bytes());
    blob.extend_from_slice(&client_challenge);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(target_info);
    blob.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(&ntowf, &[&server_challenge[..], &blob].concat());
    let mut nt = proof.to_vec();
    nt.extend(blob);
    let mut lm = hmac_md5(&ntowf, &[server_challenge, client_challenge].concat()).to_vec();
    lm.extend_from_slice(&client_challenge);
    (lm, nt)
}

/// AUTHENTICATE_MESSAGE (type 3) with the given responses, no session key.
pub fn ntlm_authenticate(
    domain: &str,
    user: &str,
    workstation: &str,
    lm: &[u8],
    nt: &[u8],
) -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let (d, u, w) = (utf16(domain), utf16(user), utf16(workstation));
    // Payload order as Windows writes it: domain, user, workstation, LM, NT.
    let mut descs = Vec::new();
    let payload = lay_out(&mut descs, 72, &[&d, &u, &w, lm, nt, &[]]);
    // Descriptor order on the wire: LM, NT, domain, user, workstation, key.
    for i in [3, 4, 0, 1, 2, 5] {
        m.extend_from_slice(&descs[8 * i..8 * i + 8]);
    }
    m.extend_from_slice(&NTLM_FLAGS.to_le_bytes());
    m.extend_from_slice(&NTLM_VERSION);
    m.extend(payload);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_md5_rfc_2831_example() {
        let d = DigestMd5 {
            realm: "elwood.innosoft.com",
            nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk",
            digest_uri: "imap/elwood.innosoft.com",
        };
        let chris = account("chris", "secret");
        assert_eq!(
            d.digest(chris, "AUTHENTICATE"),
            "d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(d.digest(chris, ""), "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn apop_rfc_1939_example() {
        let a = account("mrose", "tanstaaf");
        assert_eq!(
            apop(a, "<1896.697170952@dbc.mtview.ca.us>"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn ntlmv2_ms_nlmp_4_2_4_example() {
        let info = [
            av_pair(2, &utf16("Domain")),
            av_pair(1, &utf16("Server")),
            av_pair(0, b""),
        ]
        .concat();
        let user = account("User", "Password");
        let server = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        let (lm, nt) = ntlmv2_responses("Domain", user, server, [0xaa; 8], 0, &info);
        assert_eq!(hex(&lm), "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
        assert_eq!(hex(&nt[..16]), "68cd0ab851e51c96aabc927bebef6a1c");
        let msg = ntlm_authenticate("Domain", "User", "COMPUTER", &lm, &nt);
        // The NT response descriptor points at the response.
        let len = u16::from_le_bytes([msg[20], msg[21]]) as usize;
        let at = u32::from_le_bytes(msg[24..28].try_into().unwrap()) as usize;
        assert_eq!(&msg[at..at + len], &nt[..]);
    }
}
