//! Replays fuzz inputs through the fuzz targets' own harnesses
//! (`fuzz/harness/`, the same code cargo-fuzz runs):
//!
//! - every file under `tests/fuzz_regressions/<target>/`: inputs that once
//!   crashed, hung or broke an invariant, minimized; they must pass now;
//! - every seed under `fuzz/corpus/<target>/`, so the harnesses themselves
//!   are kept working by `cargo test`;
//! - (ignored until fixed) `tests/fuzz_regressions/known-bugs/<target>/`:
//!   inputs of bugs found and reported but not fixed yet. Run them with
//!   `cargo test --test integration fuzz_regressions::known_bugs --
//!   --ignored`; CI skips them (`--skip fuzz_regressions::known_bugs`).

use stripwatch::fuzz_harness as harness;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The files of a directory (none when it does not exist), in name order.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Runs `harness` on every file under `dir`; returns the failures.
fn replay(dir: &Path, harness: harness::Harness) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let inputs = files(dir);
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| harness(&data))) {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {why}", path.display()));
        }
    }
    (inputs.len(), failures)
}

fn replay_all(base: &Path, targets: &[(&str, harness::Harness)]) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, harness) in targets {
        let (n, f) = replay(&base.join(name), *harness);
        count += n;
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "failing inputs:\n{}",
        failures.join("\n")
    );
    count
}

#[test]
fn fixed_fuzz_findings_stay_fixed() {
    replay_all(&root().join("tests/fuzz_regressions"), harness::TARGETS);
}

#[test]
fn fuzz_seeds_pass_their_harnesses() {
    let n = replay_all(&root().join("fuzz/corpus"), harness::TARGETS);
    assert!(n >= harness::TARGETS.len(), "every target has seeds");
}

/// Bugs found by fuzzing, reported, not fixed yet (see each file's target
/// in `fuzz/harness/` for what it shows).
#[test]
#[ignore = "known bugs, reported and not fixed (none at present)"]
fn known_bugs() {
    replay_all(
        &root().join("tests/fuzz_regressions/known-bugs"),
        harness::KNOWN_BUGS,
    );
}
