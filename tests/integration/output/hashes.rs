//! `--hashes FILE`: challenge-response material in the crackers' formats,
//! every line in FILE and one format per `FILE.<tool>-<format>`.

use super::support::{analyze, sample, scratch};
use crate::gen_samples::crypto::hex;
use crate::gen_samples::findings_pop3::APOP_TIMESTAMP;
use crate::gen_samples::findings_smtp::{self, CRAM_CHALLENGE, DIGEST};
use crate::gen_samples::mechanisms::{self as mech, b64};
use std::path::Path;
use std::process::Command;

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// The lines the samples must give, computed by the generator.
fn expected() -> [(&'static str, String); 4] {
    let (_, cram_digest) = mech::cram_md5(mech::SMTP_CRAM, CRAM_CHALLENGE);
    let cram = format!(
        "$cram_md5${}${}",
        b64(CRAM_CHALLENGE),
        b64(format!("{} {cram_digest}", mech::SMTP_CRAM.user))
    );
    let digest = format!(
        "$DIGEST-MD5${}${}${}${}${}$00000001$auth${}",
        mech::SMTP_DIGEST.user,
        DIGEST.realm,
        DIGEST.nonce,
        DIGEST.digest_uri,
        DIGEST.cnonce,
        DIGEST.digest(mech::SMTP_DIGEST, "AUTHENTICATE")
    );
    let nt = findings_smtp::ntlm_exchange()[3].clone();
    let ntlm = format!(
        "{}::EXAMPLE:8a1f3c5792e40b6d:{}:{}",
        mech::SMTP_NTLM.user,
        hex(&nt[..16]),
        hex(&nt[16..])
    );
    let apop = format!(
        "{}:{APOP_TIMESTAMP}",
        mech::apop(mech::POP3_APOP, APOP_TIMESTAMP)
    );
    [
        ("hashcat-10200", cram),
        ("john-dmd5", digest),
        ("hashcat-5600", ntlm),
        ("hashcat-20", apop),
    ]
}

#[test]
fn hashes_file_has_one_line_per_challenge_response_login() {
    let dir = scratch("hashes");
    let path = dir.join("hashes.txt");
    let run = analyze(&[
        "--hashes",
        path.to_str().unwrap(),
        &sample("findings/smtp-auth.pcap"),
        &sample("findings/pop3-credentials.pcap"),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("wrote 4 hash lines to"),
        "{}",
        run.stderr
    );
    let all = lines(&path);
    let expected = expected();
    let want: Vec<&str> = expected.iter().map(|(_, l)| &l[..]).collect();
    assert_eq!(all, want, "sessions in order");

    // The shapes, as hashcat and John read them.
    let [cram, digest, ntlm, apop] = &expected;
    let parts: Vec<&str> = cram.1.split('$').collect();
    assert_eq!(parts.len(), 4, "{}", cram.1);
    assert_eq!(parts[1], "cram_md5");
    assert!(digest.1.starts_with("$DIGEST-MD5$erin$submit.example.org$"));
    assert_eq!(digest.1.split('$').count(), 10);
    let fields: Vec<&str> = ntlm.1.split(':').collect();
    assert_eq!(fields[..3], ["heidi", "", "EXAMPLE"]);
    assert_eq!((fields[3].len(), fields[4].len()), (16, 32));
    assert!(fields[5].len() > 32 && fields[5].len() % 2 == 0);
    let (md5, stamp) = apop.1.split_once(':').unwrap();
    assert_eq!(md5.len(), 32);
    assert!(stamp.starts_with('<') && stamp.ends_with('>'));

    // One file per format.
    for (suffix, line) in &expected {
        let file = dir.join(format!("hashes.txt.{suffix}"));
        assert_eq!(
            lines(&file),
            std::slice::from_ref(line),
            "{}",
            file.display()
        );
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");

    // No challenge-response login: an empty file, no per-format file.
    let empty = dir.join("none.txt");
    let run = analyze(&[
        "--hashes",
        empty.to_str().unwrap(),
        &sample("findings/smtp-asa.pcap"),
    ]);
    assert_eq!(run.code, 1);
    assert!(lines(&empty).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Python checks the CRAM-MD5 and APOP lines with the samples' passwords,
/// using nothing but its standard library.
const VERIFY: &str = r#"
import base64, hashlib, hmac, sys
cram, apop, cram_pw, apop_pw = sys.argv[1:5]
_, tag, challenge, response = cram.split("$")
assert tag == "cram_md5", tag
challenge = base64.b64decode(challenge)
user, digest = base64.b64decode(response).decode().split(" ")
want = hmac.new(cram_pw.encode(), challenge, hashlib.md5).hexdigest()
assert digest == want, (digest, want)
digest, stamp = apop.split(":", 1)
want = hashlib.md5((stamp + apop_pw).encode()).hexdigest()
assert digest == want, (digest, want)
print("ok", user)
"#;

#[test]
#[ignore = "needs python3: STRIPWATCH_EXTERNAL_TESTS=1"]
fn cram_md5_and_apop_lines_crack_with_the_known_passwords() {
    crate::common::require_external(&["python3"]);
    let dir = scratch("hashes-python");
    let path = dir.join("h");
    let run = analyze(&[
        "--quiet",
        "--hashes",
        path.to_str().unwrap(),
        &sample("findings/smtp-auth.pcap"),
        &sample("findings/pop3-credentials.pcap"),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let cram = lines(&dir.join("h.hashcat-10200")).remove(0);
    let apop = lines(&dir.join("h.hashcat-20")).remove(0);
    let out = Command::new("python3")
        .args(["-c", VERIFY, &cram, &apop])
        .args([mech::SMTP_CRAM.secret, mech::POP3_APOP.secret])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok dave");
    // And a wrong password does not verify.
    let out = Command::new("python3")
        .args(["-c", VERIFY, &cram, &apop, "pw-wrong", "pw-wrong"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
