#!/usr/bin/env python3
"""Runs two stripwatch binaries over the same inputs and says whether their
outputs are byte-identical: a refactoring's proof that behaviour did not change.

    cargo build --release && cp target/release/stripwatch /tmp/sw-before
    # ... change the code ...
    cargo build --release
    python3 scripts/same_output.py --baseline /tmp/sw-before

Per input it compares `analyze --format json`, `--format jsonl`, the table
with `--all`, and for the two-tap pairs in samples/diff `diff --format json`.
Exit status 1 when any output differs (the first differing line is shown).
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_INPUTS = [
    "samples/findings",
    "samples/transport",
    "samples/lab",
    "samples/wild",
    "../shared/corpus/public",
    "../shared/corpus/upgrade",
    "/tmp/bench/mail-300m.pcap",
    "/tmp/bench/lossy-200m.pcap",
    "/tmp/bench/mixed-1g.pcap",
]
FORMATS = [
    ["--format", "json"],
    ["--format", "jsonl"],
    ["--format", "table", "--all"],
]


def run(binary, args):
    out = subprocess.run(
        [binary] + args,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    return out.returncode, out.stdout, out.stderr


def first_difference(a, b):
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return f"line {n}:\n  - {x[:300]!r}\n  + {y[:300]!r}"
    return f"lengths {len(a)} and {len(b)}"


def diff_pairs():
    pairs = []
    d = os.path.join(ROOT, "samples/diff")
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith(".inside.pcap"):
            stem = name[: -len(".inside.pcap")]
            pairs.append(
                [f"samples/diff/{stem}.inside.pcap", f"samples/diff/{stem}.outside.pcap"]
            )
    return pairs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="the binary before the change")
    p.add_argument(
        "--binary",
        default=os.path.join(ROOT, "target/release/stripwatch"),
        help="the binary after it (default: target/release/stripwatch)",
    )
    p.add_argument("inputs", nargs="*", help="inputs (default: samples, corpora, bench)")
    args = p.parse_args()
    inputs = args.inputs or DEFAULT_INPUTS
    compared = differed = 0
    jobs = []
    for path in inputs:
        if not os.path.exists(os.path.join(ROOT, path)):
            print(f"skipped {path}: not found")
            continue
        for fmt in FORMATS:
            jobs.append(["analyze", "--quiet", "--fail-on", "never"] + fmt + [path])
    for pair in diff_pairs():
        jobs.append(["diff", "--format", "json"] + pair)
    for job in jobs:
        before = run(args.baseline, job)
        after = run(args.binary, job)
        compared += 1
        label = " ".join(job)
        if before[:2] == after[:2]:
            print(f"same  {label} ({len(after[1])} bytes, exit {after[0]})")
            continue
        differed += 1
        why = (
            f"exit {before[0]} vs {after[0]}"
            if before[0] != after[0]
            else first_difference(before[1].decode("utf-8", "replace"), after[1].decode("utf-8", "replace"))
        )
        print(f"DIFF  {label}: {why}")
    print(f"{compared} outputs compared, {differed} differ")
    return 1 if differed else 0


if __name__ == "__main__":
    sys.exit(main())
