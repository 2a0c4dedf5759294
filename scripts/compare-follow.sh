#!/bin/sh
# Compares stripwatch's reassembled TCP streams with tshark's
# `follow,tcp,raw` for every capture under DIR (recursively) and prints a
# per-session table (file, tshark stream, stripwatch session, endpoints,
# bytes each way ours/tshark, gaps, conflicts, verdict) plus per-capture
# totals. Reads DIR only; copies nothing. Needs tshark.
#
# Usage: scripts/compare-follow.sh DIR
# Exit status: 0 even when sessions differ (it is a report); the test run
# without STRIPWATCH_FOLLOW_REPORT fails on differences instead.
set -eu
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
STRIPWATCH_EXTERNAL_TESTS=1 STRIPWATCH_FOLLOW_DIR="$dir" STRIPWATCH_FOLLOW_REPORT=1 \
    exec cargo test --test integration follow_tshark::sessions_match_tshark_follow -- \
    --ignored --nocapture --test-threads=1
