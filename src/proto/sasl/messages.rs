//! Parsers of the text mechanisms' messages (PLAIN, LOGIN prompts,
//! CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM) and small byte helpers. Each
//! takes one decoded message and returns what it carries, or `None` when
//! the message does not have the mechanism's shape.

use std::fmt::Write as _;

/// What a LOGIN server prompt asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Prompt {
    #[default]
    Unknown,
    User,
    Pass,
}

/// What a PLAIN message carries.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Plain<'a> {
    /// The authcid, or the authzid when the authcid is empty; `None` when
    /// neither was sent.
    pub username: Option<&'a [u8]>,
    /// The authzid when it is not the username.
    pub authzid: Option<&'a [u8]>,
    pub password: &'a [u8],
}

/// PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`, read as clients
/// really send it. The last field is the password and the fields before it
/// are identities: the username is the last non-empty one (the authcid, or
/// the authzid when the authcid is empty), the authzid the first when it
/// is another. A missing authzid field (`authcid NUL passwd`), a message
/// without NUL (a password alone), extra NULs and a trailing NUL (a C
/// string's terminator) are read the same way: a password that crossed is
/// never dropped for its framing. Without any identity the password must
/// be text: binary junk is no password anyone typed.
pub(super) fn parse_plain(msg: &[u8]) -> Option<Plain<'_>> {
    let mut fields: Vec<&[u8]> = msg.split(|&b| b == 0).collect();
    while fields.len() > 3 && fields.last().is_some_and(|f| f.is_empty()) {
        fields.pop();
    }
    let (&password, identities) = fields.split_last()?;
    let named = |i: &usize| identities.get(*i).is_some_and(|f| !f.is_empty());
    let first = (0..identities.len()).find(named);
    let last = (0..identities.len()).rev().find(named);
    if last.is_none() && (password.is_empty() || !is_text(password)) {
        return None;
    }
    Some(Plain {
        username: last.and_then(|i| identities.get(i).copied()),
        authzid: first
            .filter(|&i| Some(i) != last)
            .and_then(|i| identities.get(i).copied()),
        password,
    })
}

/// Text a person could read: UTF-8 without control characters. A decoded
/// name that is not is no name, whatever base64 made of it.
pub(super) fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| !s.chars().any(char::is_control))
}

/// A value that could name an account: it has a letter or a digit (`====`
/// or `***` names no one).
pub(super) fn could_be_a_name(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes)
        .chars()
        .any(char::is_alphanumeric)
}

/// How a LOGIN server writes its prompts, and so how its client answers:
/// in base64 as the RFC drafts say, or in plain text (`+ User Name`,
/// `334 Username:`), as some old servers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PromptForm {
    Base64,
    Plain,
}

/// What a LOGIN prompt asks for, from its decoded text, or from the raw
/// text when it was not base64 (or decoded to nothing recognisable); and
/// how it was written (`None`: an empty prompt says nothing). A prompt is
/// base64 when it decodes to a prompt or to text; plain text that happens
/// to be base64 (`Password`) decodes to neither.
pub(super) fn read_prompt(decoded: Option<&[u8]>, raw: &[u8]) -> (Prompt, Option<PromptForm>) {
    let raw = raw.trim_ascii();
    if raw.is_empty() || raw == b"=" {
        return (Prompt::Unknown, None);
    }
    let from_decoded = decoded.map_or(Prompt::Unknown, prompt_kind);
    // Some servers end their prompts with a NUL (`User Name\0`).
    let readable = |mut d: &[u8]| {
        while let [rest @ .., 0] = d {
            d = rest;
        }
        is_text(d)
    };
    if from_decoded != Prompt::Unknown || decoded.is_some_and(readable) {
        return (from_decoded, Some(PromptForm::Base64));
    }
    (
        prompt_kind(raw.get(..64).unwrap_or(raw)),
        Some(PromptForm::Plain),
    )
}

fn prompt_kind(text: &[u8]) -> Prompt {
    let text = text.get(..256).unwrap_or(text).to_ascii_lowercase();
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    let user = has(b"user") || has(b"name") || has(b"login");
    let pass = has(b"pass");
    match (user, pass) {
        (true, false) => Prompt::User,
        (false, true) => Prompt::Pass,
        _ => Prompt::Unknown,
    }
}

/// CRAM-MD5 (RFC 2195): `user SP digest`, digest 32 hex digits.
pub(super) fn parse_cram_md5(msg: &[u8]) -> Option<(&[u8], &[u8])> {
    let msg = msg.trim_ascii();
    let space = msg.iter().rposition(|&b| b == b' ')?;
    let user = msg.get(..space)?.trim_ascii_end();
    let digest = msg.get(space + 1..)?;
    if user.is_empty() || !is_hex(digest, 32) {
        return None;
    }
    Some((user, digest))
}

/// XOAUTH2: `user=U ^A auth=Bearer T ^A ^A`; the user is required.
pub(super) fn parse_xoauth2(msg: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let mut user = None;
    let mut token = None;
    for kv in msg.split(|&b| b == 0x01) {
        let Some((key, value)) = split_once(kv, b'=') else {
            continue;
        };
        if key.eq_ignore_ascii_case(b"user") && user.is_none() {
            user = Some(value);
        } else if key.eq_ignore_ascii_case(b"auth") && token.is_none() {
            token = bearer_token(value);
        }
    }
    Some((user.filter(|u| !u.is_empty())?, token))
}

/// An OAUTHBEARER client response (RFC 7628 3.1).
pub(super) struct OAuthBearer<'a> {
    pub user: Option<Vec<u8>>,
    pub token: Option<&'a [u8]>,
    pub host: Option<&'a [u8]>,
    pub port: Option<&'a [u8]>,
}

/// `gs2-header ^A kvpairs ^A`, gs2-header = `cb-flag "," [a=saslname] ","`.
pub(super) fn parse_oauthbearer(msg: &[u8]) -> Option<OAuthBearer<'_>> {
    let (flag, rest) = split_once(msg, b',')?;
    if !valid_cb_flag(flag) {
        return None;
    }
    let (authzid, rest) = split_once(rest, b',')?;
    let user = if authzid.is_empty() {
        None
    } else {
        Some(unescape_saslname(authzid.strip_prefix(b"a=")?)?)
    };
    let rest = rest.strip_prefix(b"\x01")?;
    let mut out = OAuthBearer {
        user,
        token: None,
        host: None,
        port: None,
    };
    for kv in rest.split(|&b| b == 0x01) {
        let Some((key, value)) = split_once(kv, b'=') else {
            continue;
        };
        match key {
            b"auth" if out.token.is_none() => out.token = bearer_token(value),
            b"host" if out.host.is_none() => out.host = Some(value),
            b"port" if out.port.is_none() => out.port = Some(value),
            _ => {}
        }
    }
    Some(out)
}

/// A SCRAM client-first message (RFC 5802 7).
pub(super) struct ScramFirst<'a> {
    pub authzid: Option<Vec<u8>>,
    pub username: Vec<u8>,
    /// client-first-message-bare, part of the AuthMessage.
    pub bare: &'a [u8],
}

/// `gs2-header [m=...,] n=saslname,r=nonce[,ext]`.
pub(super) fn parse_scram_client_first(msg: &[u8]) -> Option<ScramFirst<'_>> {
    let (flag, rest) = split_once(msg, b',')?;
    if !valid_cb_flag(flag) {
        return None;
    }
    let (authzid, bare) = split_once(rest, b',')?;
    let authzid = if authzid.is_empty() {
        None
    } else {
        Some(unescape_saslname(authzid.strip_prefix(b"a=")?)?)
    };
    let mut attrs = bare.split(|&b| b == b',');
    let mut first = attrs.next()?;
    if first.starts_with(b"m=") {
        first = attrs.next()?;
    }
    let username = unescape_saslname(first.strip_prefix(b"n=")?)?;
    attrs.next()?.strip_prefix(b"r=")?;
    Some(ScramFirst {
        authzid,
        username,
        bare,
    })
}

/// GS2 channel-binding flag: `n`, `y` or `p=cb-name`.
fn valid_cb_flag(flag: &[u8]) -> bool {
    flag == b"n" || flag == b"y" || (flag.len() > 2 && flag.starts_with(b"p="))
}

/// A GS2/SCRAM saslname: `=2C` is `,`, `=3D` is `=`; any other `=` or a
/// bare `,` makes it invalid.
pub(super) fn unescape_saslname(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'=' => {
                let mut code = [*bytes.next()?, *bytes.next()?];
                code.make_ascii_uppercase();
                match &code {
                    b"2C" => out.push(b','),
                    b"3D" => out.push(b'='),
                    _ => return None,
                }
            }
            b',' => return None,
            _ => out.push(b),
        }
    }
    Some(out)
}

/// The token of an `auth=` value: after `Bearer ` when present, non-empty.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value.get(7..)?,
        _ => value,
    };
    Some(token.trim_ascii()).filter(|t| !t.is_empty())
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = s.iter().position(|&b| b == sep)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

pub(super) fn is_hex(s: &[u8], len: usize) -> bool {
    s.len() == len && s.iter().all(u8::is_ascii_hexdigit)
}

/// Lowercase hex text of binary bytes.
pub(super) fn hex(bytes: &[u8]) -> Vec<u8> {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s.into_bytes()
}

/// The account name visible in an unknown mechanism's message, if any: a
/// `user=`, `username=`, `login=` or `email=` field (fields split at
/// `&`, `,`, `;`, ^A, NUL or whitespace), or a message that is a mail
/// address and nothing else. Nothing else is guessed.
pub(super) fn visible_username(text: &[u8]) -> Option<&[u8]> {
    const KEYS: [&[u8]; 4] = [b"user", b"username", b"login", b"email"];
    let separator = |b: &u8| matches!(b, b'&' | b',' | b';' | 0x01 | 0) || b.is_ascii_whitespace();
    let field = text.split(separator).find_map(|kv| {
        let (key, value) = split_once(kv, b'=')?;
        KEYS.iter()
            .any(|k| key.eq_ignore_ascii_case(k))
            .then_some(value)
    });
    if let Some(value) = field.filter(|v| !v.is_empty()) {
        return Some(value);
    }
    is_mail_address(text).then_some(text)
}

/// `local@domain.tld` of the characters addresses are made of.
fn is_mail_address(text: &[u8]) -> bool {
    let Some((local, domain)) = split_once(text, b'@') else {
        return false;
    };
    let local_ok = |b: &u8| b.is_ascii_alphanumeric() || b"._+-".contains(b);
    let domain_ok = |b: &u8| b.is_ascii_alphanumeric() || b".-".contains(b);
    text.len() <= 256
        && !local.is_empty()
        && local.iter().all(local_ok)
        && domain.contains(&b'.')
        && domain.iter().all(domain_ok)
}
