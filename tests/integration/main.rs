//! The integration tests: one test binary, so the library is linked once
//! (each file under `tests/` used to be a binary of its own). Add a module
//! here, not a file beside `tests/integration/`. A group runs by its
//! module: `cargo test --test integration adversarial::`.
//!
//! # Ignored tests
//!
//! A plain `cargo test` needs nothing but Rust. What it cannot run it lists
//! as ignored, never as passed:
//!
//! - `#[ignore = "needs tshark: STRIPWATCH_EXTERNAL_TESTS=1"]` (or python3,
//!   root + tcpreplay, ...; the reason says what): tests that need more
//!   than Rust. Each starts with [`common::require_external`], so run
//!   without the variable, or with a tool missing, it fails and says what
//!   is missing.
//! - `full_size_*`: the adversarial tests at the issue's full size (a
//!   gigabyte of input, a million commands), for release builds:
//!   `cargo test --release --test integration full_size_ -- --ignored`.
//! - `fuzz_regressions::known_bugs`: inputs of bugs reported and not fixed
//!   yet; it fails until they are.
//!
//! `.ci/run` runs the first kind and skips the other two by name:
//!
//! ```sh
//! STRIPWATCH_EXTERNAL_TESTS=1 cargo test --features live -- --include-ignored \
//!     --skip full_size_ --skip fuzz_regressions::known_bugs
//! ```

mod adversarial;
mod certificates;
mod diff;
mod follow_tshark;
mod fuzz_regressions;
mod history;
mod html;
mod lab;
mod live;
mod output;
mod package;
mod samples_findings;
mod samples_transport;
mod samples_upgrade_ldap;
mod samples_upgrade_managesieve;
mod samples_upgrade_mysql;
mod samples_upgrade_nntp;
mod samples_upgrade_xmpp;
mod samples_wild_flows;
mod threads;

// Support shared by the modules above.
mod adversarial_support;
mod common;
mod findings_support;
mod sample_support;

/// The sample generator (scripted TCP conversations, frames, file formats),
/// included once for every module that builds captures.
#[path = "../../examples/gen_samples/main.rs"]
mod gen_samples;

/// Every allocation of the binary is counted per thread, for the heap
/// budgets of the adversarial tests (`adversarial_support::peak_heap`).
#[global_allocator]
static ALLOCATOR: adversarial_support::Counting = adversarial_support::Counting;
