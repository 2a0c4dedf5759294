#!/usr/bin/env bash
# Fuzz smoke run: every fuzz target for SECS seconds (default 30), one after
# the other, from the committed seeds plus whatever fuzz/work holds. Fails
# on the first crash, hang or memory blow-up (the input is kept under
# fuzz/artifacts/TARGET/). Installs cargo-fuzz when missing; when it cannot
# be installed, says so and skips.
#
#     fuzz/smoke.sh [SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz smoke: SKIPPED: cargo-fuzz cannot be installed" >&2
        exit 0
    fi
fi
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^stripwatch-fuzz$')
mkdir -p fuzz/work
# Build every target once, so that each run's time goes to fuzzing.
cargo fuzz build --sanitizer none
for t in $targets; do
    log="fuzz/work/$t.smoke.log"
    if ! fuzz/run.sh "$t" "$secs" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz smoke: $t FAILED (log: $log, input: fuzz/artifacts/$t/)" >&2
        exit 1
    fi
    stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    echo "fuzz smoke: $t ok: ${stats:-no stats}"
done
