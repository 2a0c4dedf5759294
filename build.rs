//! Build script: the version line of `stripwatch --version`, with the git
//! commit the binary was built from and whether the cargo feature `live`
//! is built in.
//!
//! The commit is `git rev-parse --short HEAD` when the sources are a git
//! checkout and git runs, `STRIPWATCH_GIT_COMMIT` when that is set (a
//! build from a source tarball that knows its commit), and `unknown`
//! otherwise: the build never fails for want of git.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=STRIPWATCH_GIT_COMMIT");
    let commit = std::env::var("STRIPWATCH_GIT_COMMIT")
        .ok()
        .filter(|c| is_commit(c))
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    let live = if std::env::var_os("CARGO_FEATURE_LIVE").is_some() {
        "yes"
    } else {
        "no"
    };
    println!(
        "cargo:rustc-env=STRIPWATCH_VERSION_LINE={} (commit {commit}, live capture: {live})",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
    );
}

/// A short or full hexadecimal commit name (what is printed is only ever
/// that).
fn is_commit(text: &str) -> bool {
    (4..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `git rev-parse --short HEAD`, and the files whose change moves HEAD
/// (watched, so a new commit gives a new version line).
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short", "HEAD"]).filter(|c| is_commit(c))?;
    // HEAD itself (a checkout of another branch), the branch it points to
    // (a new commit) and packed-refs (where `git gc` moves it). Only files
    // that exist are watched: a missing one would rerun this every build.
    let git_dir = git(&["rev-parse", "--git-dir"]).map(PathBuf::from);
    let common_dir = git(&["rev-parse", "--git-common-dir"]).map(PathBuf::from);
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let mut watched = Vec::new();
    if let Some(dir) = &git_dir {
        watched.push(dir.join("HEAD"));
    }
    if let Some(dir) = common_dir.as_ref().or(git_dir.as_ref()) {
        if let Some(branch) = &branch {
            watched.push(dir.join(branch));
        }
        watched.push(dir.join("packed-refs"));
    }
    for path in watched.iter().filter(|p| Path::new(p).is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(commit)
}

/// A git command's output in the package's directory, trimmed; None when
/// git is missing or fails (not a checkout).
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string())
}
