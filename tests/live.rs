//! `stripwatch live` on real interfaces (see `live_support/capture.rs`).
//! The tests exist only with the cargo feature `live`; without it, one test
//! says loudly that they were not built.

#[cfg(feature = "live")]
mod common;

#[cfg(feature = "live")]
#[path = "live_support/capture.rs"]
mod capture;

#[cfg(not(feature = "live"))]
#[test]
fn live_capture_tests() {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED live capture tests: need the cargo feature `live` (libpcap) and \
         STRIPWATCH_EXTERNAL_TESTS=1; .ci/run runs `cargo test --features live`"
    );
}
