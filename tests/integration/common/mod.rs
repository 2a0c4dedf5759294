//! Helpers shared by the integration tests.
//!
//! Tests that need external tools (tshark) run only when
//! `STRIPWATCH_EXTERNAL_TESTS=1` (which `.ci/run` sets); otherwise they say
//! loudly that they were skipped. When enabled, a missing tool is a failure:
//! CI installs the tools, so their absence there is an error, not a skip.

pub mod compare;
pub mod follow;
pub mod pcapgen;

use std::io::Write as _;
use std::process::Command;

/// Environment variable that enables tests needing external tools.
pub const EXTERNAL_TESTS_VAR: &str = "STRIPWATCH_EXTERNAL_TESTS";

/// True when tests needing tshark should run. Otherwise prints a loud
/// `SKIPPED` line to stderr and returns false. Panics when enabled but
/// tshark cannot be run.
pub fn external_tests_enabled(test_name: &str) -> bool {
    external_tools_enabled(test_name, &["tshark"])
}

/// Like [`external_tests_enabled`] for any set of tools (each must answer
/// `TOOL --version`).
pub fn external_tools_enabled(test_name: &str, tools: &[&str]) -> bool {
    let enabled = std::env::var(EXTERNAL_TESTS_VAR).is_ok_and(|v| v == "1");
    if !enabled {
        // Straight to the stderr handle: unlike eprintln!, this is not
        // swallowed by the test harness's output capture.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test_name}: needs {}; set {EXTERNAL_TESTS_VAR}=1 (.ci/run does)",
            tools.join(", ")
        );
        return false;
    }
    for tool in tools {
        require_tool(tool);
    }
    true
}

/// Panics with a clear message unless `tool --version` runs successfully.
pub fn require_tool(tool: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{EXTERNAL_TESTS_VAR}=1 but `{tool} --version` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "{EXTERNAL_TESTS_VAR}=1 but `{tool}` cannot be run ({e}); install it \
             (Debian: apt-get install tshark) or unset {EXTERNAL_TESTS_VAR}"
        ),
    }
}
