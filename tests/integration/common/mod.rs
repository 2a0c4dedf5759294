//! Helpers shared by the integration tests.
//!
//! Tests that need more than Rust (tshark, python3, root, ...) are
//! `#[ignore = "needs TOOL: STRIPWATCH_EXTERNAL_TESTS=1"]`: a plain
//! `cargo test` lists them as ignored. Run anyway (`--ignored`,
//! `--include-ignored`), each starts with [`require_external`], which fails
//! the test, saying what is missing, unless `STRIPWATCH_EXTERNAL_TESTS=1`
//! (which `.ci/run` sets after installing the tools) and every tool runs.

pub mod compare;
pub mod follow;
pub mod pcapgen;

use std::process::Command;

/// Environment variable that enables tests needing external tools.
pub const EXTERNAL_TESTS_VAR: &str = "STRIPWATCH_EXTERNAL_TESTS";

/// Fails the calling test unless `STRIPWATCH_EXTERNAL_TESTS=1` and every
/// tool answers `TOOL --version`: an ignored test run by hand or by
/// `--include-ignored` never passes without doing its work.
pub fn require_external(tools: &[&str]) {
    let enabled = std::env::var(EXTERNAL_TESTS_VAR).is_ok_and(|v| v == "1");
    assert!(
        enabled,
        "this test needs {} (and what its #[ignore] reason says): run it with \
         {EXTERNAL_TESTS_VAR}=1 (.ci/run sets it after installing the tools)",
        tools.join(", ")
    );
    for tool in tools {
        require_tool(tool);
    }
}

/// Fails the calling test unless it runs as root (`why` says what for).
pub fn require_root(why: &str) {
    let uid = Command::new("id").arg("-u").output().expect("id -u runs");
    assert!(
        uid.stdout == b"0\n",
        "this test needs root ({why}); .ci/run runs as root"
    );
}

/// Panics with a clear message unless `tool --version` runs successfully.
fn require_tool(tool: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{EXTERNAL_TESTS_VAR}=1 but `{tool} --version` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "{EXTERNAL_TESTS_VAR}=1 but `{tool}` cannot be run ({e}); install it \
             (Debian package: {}) or leave the test ignored",
            debian_package(tool)
        ),
    }
}

/// The Debian package that installs `tool`.
fn debian_package(tool: &str) -> &str {
    match tool {
        "capinfos" => "wireshark-common",
        "setpriv" => "util-linux",
        "setcap" => "libcap2-bin",
        "ip" => "iproute2",
        other => other,
    }
}
