//! Output files (`--hashes`, `--write-evidence`): created new, never
//! through a link, 0600 (directories 0700) whatever the umask; an existing
//! one is an error naming it (exit status 2) unless `--force`; a failed
//! output is exit status 2 whatever `--fail-on` says.

use super::support::{Run, analyze, sample, scratch};
use crate::common::{require_external, require_root};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_stripwatch");

/// The sample with challenge-response logins (hash lines) and findings.
fn auth() -> String {
    sample("findings/smtp-auth.pcap")
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `sh -c 'umask MASK; exec stripwatch analyze ARGS'`.
fn analyze_with_umask(umask: &str, args: &[&str]) -> Run {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" analyze \"$@\""))
        .arg(BIN)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn outputs_are_private_whatever_the_umask() {
    for umask in ["022", "000"] {
        let dir = scratch(&format!("modes-{umask}"));
        let hashes = dir.join("h.txt");
        let one = dir.join("e.pcap");
        let per_finding = dir.join("per-finding/");
        let auth = auth();
        for evidence in [&one, &per_finding] {
            let mut args = vec!["--quiet", "--write-evidence", p(evidence)];
            if evidence == &one {
                args.extend(["--hashes", p(&hashes)]);
            }
            args.push(&auth);
            let run = analyze_with_umask(umask, &args);
            assert_eq!(run.code, 1, "umask {umask}: {}", run.stderr);
        }
        let mut files = vec![hashes.clone(), one.clone()];
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.to_str().unwrap().contains("h.txt.") {
                files.push(path);
            }
        }
        for entry in std::fs::read_dir(&per_finding).unwrap() {
            files.push(entry.unwrap().path());
        }
        // h.txt and four per-format files, e.pcap, one pcap per finding.
        assert!(files.len() > 10, "{files:?}");
        for f in &files {
            assert_eq!(mode(f), 0o600, "umask {umask}: {}", f.display());
        }
        assert_eq!(mode(&per_finding), 0o700, "umask {umask}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn an_existing_output_is_an_error_unless_forced() {
    let dir = scratch("existing");
    let hashes = dir.join("h.txt");
    let evidence = dir.join("e.pcap");
    let auth = auth();
    for (option, path) in [("--hashes", &hashes), ("--write-evidence", &evidence)] {
        std::fs::write(path, b"precious").unwrap();
        for fail_on in ["high", "never"] {
            let run = analyze(&["--quiet", "--fail-on", fail_on, option, p(path), &auth]);
            assert_eq!(run.code, 2, "{option} --fail-on {fail_on}: {}", run.stderr);
            assert!(
                run.stderr.contains(p(path)) && run.stderr.contains("already exists"),
                "{}",
                run.stderr
            );
            assert!(run.stdout.is_empty(), "no analysis when an output fails");
            assert_eq!(std::fs::read(path).unwrap(), b"precious");
        }
        let run = analyze(&["--quiet", "--force", option, p(path), &auth]);
        assert_eq!(run.code, 1, "{option} --force: {}", run.stderr);
        let written = std::fs::read(path).unwrap();
        assert_ne!(written, b"precious");
        assert_eq!(mode(path), 0o600);
    }
    assert!(
        String::from_utf8(std::fs::read(&hashes).unwrap())
            .unwrap()
            .contains("$cram_md5$")
    );
    // Per-finding files already there: named, status 2 even with
    // --fail-on never; --force replaces them.
    let per_finding = dir.join("ev/");
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> = vec!["--quiet".into(), "--fail-on".into(), "never".into()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend([
            "--write-evidence".into(),
            p(&per_finding).into(),
            auth.clone(),
        ]);
        a
    };
    assert_eq!(analyze(&args(&[])).code, 0);
    let again = analyze(&args(&[]));
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("session-000001-") && again.stderr.contains("already exists"),
        "{}",
        again.stderr
    );
    assert_eq!(analyze(&args(&["--force"])).code, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn force_at_a_symlink_replaces_the_link_not_its_target() {
    let dir = scratch("force-link");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"victim").unwrap();
    let auth = auth();
    for option in ["--hashes", "--write-evidence"] {
        let link = dir.join(format!("link{option}"));
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let run = analyze(&["--quiet", option, p(&link), &auth]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(p(&link)), "{}", run.stderr);
        let run = analyze(&["--quiet", "--force", option, p(&link), &auth]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim", "{option}");
        let now = std::fs::symlink_metadata(&link).unwrap();
        assert!(now.is_file(), "{option}: the link itself was replaced");
        assert_eq!(mode(&link), 0o600);
    }
    // A link at the evidence directory is refused, not followed.
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = dir.join("evidence-dir");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let run = analyze(&[
        "--quiet",
        "--write-evidence",
        &format!("{}/", p(&link)),
        &auth,
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_evidence_directory_others_can_write_is_refused() {
    let dir = scratch("shared-evidence");
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    let auth = auth();
    for (mode_bits, code) in [(0o777, 2), (0o770, 2), (0o755, 1), (0o700, 1), (0o1777, 1)] {
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(mode_bits)).unwrap();
        let run = analyze(&["--quiet", "--force", "--write-evidence", p(&shared), &auth]);
        assert_eq!(run.code, code, "mode {mode_bits:o}: {}", run.stderr);
        if code == 2 {
            assert!(
                run.stderr.contains(p(&shared)) && run.stderr.contains("writable by other users"),
                "{}",
                run.stderr
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_output_is_status_two_whatever_fail_on() {
    let auth = auth();
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for format in ["table", "json", "jsonl"] {
        let out = Command::new(BIN)
            .args([
                "analyze",
                "--quiet",
                "--fail-on",
                "never",
                "--format",
                format,
                &auth,
            ])
            .stdout(full.try_clone().unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--format {format}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{stderr}");
    }
    // An evidence path that cannot be created (its parent is a file).
    let dir = scratch("unwritable");
    let file = dir.join("file");
    std::fs::write(&file, b"").unwrap();
    for target in [file.join("e.pcap"), file.join("ev/")] {
        let run = analyze(&[
            "--quiet",
            "--fail-on",
            "never",
            "--write-evidence",
            p(&target),
            &auth,
        ]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(p(&file)), "{}", run.stderr);
    }
    // The same with the diff: its report on a full disk.
    let out = Command::new(BIN)
        .args(["diff", "--quiet", "--fail-on", "never", &auth, &auth])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// As root in CI: another user (nobody) plants links in a shared sticky
/// directory where root then writes its outputs.
#[test]
#[ignore = "needs root + setpriv: STRIPWATCH_EXTERNAL_TESTS=1"]
fn links_planted_by_another_user_are_not_followed() {
    require_external(&["setpriv"]);
    require_root("another user plants the links");
    let dir = scratch("planted");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, b"root's file").unwrap();
    let victim_mode = mode(&victim);
    let victim_dir = dir.join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    let as_nobody = |target: &Path, link: &Path| {
        let status = Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "ln",
                "-s",
            ])
            .args([target, link])
            .status()
            .unwrap();
        assert!(status.success(), "nobody plants {}", link.display());
        assert_eq!(std::fs::symlink_metadata(link).unwrap().uid(), 65534);
    };
    let planted = [
        ("--hashes", shared.join("h.txt"), &victim),
        ("--write-evidence", shared.join("e.pcap"), &victim),
        (
            "--hashes",
            shared.join("dangling"),
            &dir.join("created-by-root"),
        ),
    ];
    let auth = auth();
    for (option, link, target) in &planted {
        as_nobody(target, link);
        for extra in [&[][..], &["--fail-on", "never"][..]] {
            let mut args = vec!["--quiet", option, p(link), &auth];
            args.extend_from_slice(extra);
            let run = analyze(&args);
            assert_eq!(run.code, 2, "{option} {}: {}", link.display(), run.stderr);
            assert!(run.stderr.contains(p(link)), "{}", run.stderr);
        }
    }
    let dir_link = shared.join("ev");
    as_nobody(&victim_dir, &dir_link);
    let run = analyze(&[
        "--quiet",
        "--write-evidence",
        &format!("{}/", p(&dir_link)),
        &auth,
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), b"root's file");
    assert_eq!(mode(&victim), victim_mode, "mode untouched");
    assert!(!dir.join("created-by-root").exists());
    assert_eq!(std::fs::read_dir(&victim_dir).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--output FILE` (analyze and diff, every format): the bytes standard
/// output would have had, in a new 0600 file (with --show-secrets the
/// report holds secrets); an existing file or a planted link is refused
/// before the run (status 2, named), --force replaces it.
#[test]
fn the_report_goes_to_an_output_file_like_every_output() {
    let dir = scratch("report-output");
    let auth = auth();
    let diff_pair = [
        sample("diff/smtp-asa-nat.inside.pcap"),
        sample("diff/smtp-asa-nat.outside.pcap"),
    ];
    for format in ["table", "json", "jsonl", "html"] {
        for command in ["analyze", "diff"] {
            let inputs: Vec<&str> = match command {
                "analyze" => vec![&auth],
                _ => diff_pair.iter().map(String::as_str).collect(),
            };
            let file = dir.join(format!("{command}.{format}"));
            let run = |extra: &[&str]| {
                let out = Command::new(BIN)
                    .arg(command)
                    .args(["--quiet", "--format", format, "--fail-on", "never"])
                    .args(extra)
                    .args(&inputs)
                    .output()
                    .unwrap();
                (out.status.code().unwrap(), out.stdout, out.stderr)
            };
            let (code, to_stdout, _) = run(&[]);
            assert_eq!(code, 0, "{command} {format}");
            let (code, stdout, stderr) = run(&["--output", p(&file)]);
            assert_eq!(
                code,
                0,
                "{command} {format}: {}",
                String::from_utf8_lossy(&stderr)
            );
            assert!(stdout.is_empty(), "{command} {format}: nothing on stdout");
            assert_eq!(
                std::fs::read(&file).unwrap(),
                to_stdout,
                "{command} {format}"
            );
            assert_eq!(mode(&file), 0o600, "{command} {format}");
            // Taken: refused before the run, named; --force replaces it.
            std::fs::write(&file, b"precious").unwrap();
            let (code, _, stderr) = run(&["-o", p(&file)]);
            let stderr = String::from_utf8_lossy(&stderr);
            assert_eq!(code, 2, "{command} {format}: {stderr}");
            assert!(
                stderr.contains(p(&file)) && stderr.contains("already exists"),
                "{stderr}"
            );
            assert_eq!(std::fs::read(&file).unwrap(), b"precious");
            let (code, _, _) = run(&["-o", p(&file), "--force"]);
            assert_eq!(code, 0);
            assert_eq!(std::fs::read(&file).unwrap(), to_stdout);
            // A link planted where the report goes is never followed.
            let target = dir.join(format!("{command}.{format}.target"));
            std::fs::write(&target, b"precious").unwrap();
            let link = dir.join(format!("{command}.{format}.link"));
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let (code, _, _) = run(&["-o", p(&link)]);
            assert_eq!(code, 2, "{command} {format}: a link is refused");
            assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
