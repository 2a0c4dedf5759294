#!/usr/bin/env bash
# Runs one fuzz target for a while:
#
#     fuzz/run.sh TARGET [SECONDS] [libFuzzer options...]
#
# Stable Rust: no sanitizer by default (the crate has no unsafe code; the
# fuzzer finds panics, hangs and memory blow-ups). SANITIZER=address runs
# with AddressSanitizer, which needs nightly flags: RUSTC_BOOTSTRAP=1 is
# set for it. Debug assertions and overflow checks are on.
#
# The committed seeds are read from fuzz/corpus/TARGET; what the fuzzer
# finds goes to fuzz/work/TARGET (not committed), crashes to
# fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer options...]}
secs=${2:-600}
shift $(( $# < 2 ? $# : 2 ))
sanitizer=${SANITIZER:-none}
if [ "$sanitizer" != none ]; then
    export RUSTC_BOOTSTRAP=1
fi
case "$target" in
    capture|pipeline|flows) max_len=32768 ;;
    *) max_len=8192 ;;
esac
mkdir -p "fuzz/work/$target" "fuzz/corpus/$target"
exec cargo fuzz run --sanitizer "$sanitizer" --debug-assertions "$target" \
    "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 "$@"
