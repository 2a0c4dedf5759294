//! `stripwatch live` on real interfaces (see `live/capture.rs`). The tests
//! exist only with the cargo feature `live`; without it, one ignored test
//! stands for them and fails when run, so `--include-ignored` cannot pass
//! them by building without the feature.

#[cfg(feature = "live")]
mod capture;

#[cfg(not(feature = "live"))]
#[test]
#[ignore = "needs the cargo feature live (libpcap), root + tcpreplay: STRIPWATCH_EXTERNAL_TESTS=1"]
fn live_capture_tests() {
    panic!(
        "the live capture tests were not built: they need the cargo feature `live` \
         (`STRIPWATCH_EXTERNAL_TESTS=1 cargo test --features live`, as .ci/run runs them)"
    );
}
