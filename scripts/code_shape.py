#!/usr/bin/env python3
"""The code's shape, as issue 14 measures it: the longest functions outside
tests and the number of plain `pub` items in src/.

    python3 scripts/code_shape.py            # top 10 and the count
    python3 scripts/code_shape.py --max-fn 120 --max-pub 270   # exit 1 past them

A function's length is from its `fn` line to its closing brace. Test code is
left out: files named *tests.rs or test_support.rs, and `#[cfg(test)]`
modules. `pub` items are lines starting with `pub ` followed by an item
keyword (fn, struct, enum, trait, type, const, static, mod, use, union);
`pub name:` fields are counted apart; `pub(crate)` and `pub(super)` are not
plain `pub`.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
PUB_ITEM = re.compile(
    r"^\s*pub\s+(fn|struct|enum|trait|type|const|static|mod|use|union|unsafe fn|const fn)\b"
)
PUB_FIELD = re.compile(r"^\s*pub\s+\w+\s*:")


def is_test_file(path):
    name = os.path.basename(path)
    return (
        name.endswith("tests.rs")
        or name == "test_support.rs"
        or "/tests/" in path
        or "/fuzz_harness/" in path
    )


def strip_strings(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def scan(path):
    """Yields (kind, name, line, length) for functions and pub items."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    depth = 0
    skip_until_depth = None  # inside a #[cfg(test)] module
    pending_cfg_test = False
    open_fns = []  # (name, start line, depth at which its body opened)
    for n, raw in enumerate(lines, 1):
        line = strip_strings(raw)
        stripped = line.strip()
        if skip_until_depth is None:
            if stripped.startswith("#[cfg(test)]"):
                pending_cfg_test = True
            elif pending_cfg_test and stripped.startswith(("mod ", "pub mod ", "pub(crate) mod ")):
                if "{" in stripped:
                    skip_until_depth = depth
                pending_cfg_test = False
            elif stripped and not stripped.startswith("#"):
                pending_cfg_test = False
            if skip_until_depth is None:
                m = FN.match(line)
                if m:
                    open_fns.append((m.group(6), n, depth))
                if PUB_ITEM.match(line):
                    yield ("pub", stripped[:80], n, 0)
                elif PUB_FIELD.match(line):
                    yield ("field", stripped[:80], n, 0)
        for ch in line:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if skip_until_depth is not None and depth == skip_until_depth:
                    skip_until_depth = None
                while open_fns and depth == open_fns[-1][2]:
                    name, start, _ = open_fns.pop()
                    yield ("fn", name, start, n - start + 1)
        # A declaration without a body (trait method) closes at `;`.
        if open_fns and open_fns[-1][1] == n and stripped.endswith(";") and "{" not in line:
            open_fns.pop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--max-fn", type=int)
    p.add_argument("--max-pub", type=int)
    args = p.parse_args()
    fns, pubs, fields = [], 0, 0
    for base, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in files:
            path = os.path.join(base, name)
            if not name.endswith(".rs") or is_test_file(path):
                continue
            rel = os.path.relpath(path, ROOT)
            for kind, what, line, length in scan(path):
                if kind == "fn":
                    fns.append((length, f"{rel}:{line} {what}"))
                elif kind == "pub":
                    pubs += 1
                else:
                    fields += 1
    fns.sort(reverse=True)
    print(f"longest functions outside tests (of {len(fns)}):")
    for length, where in fns[: args.top]:
        print(f"  {length:4} lines  {where}")
    print(f"plain pub items in src/: {pubs} (and {fields} pub fields)")
    bad = False
    if args.max_fn is not None and fns and fns[0][0] > args.max_fn:
        print(f"FAIL: a function is longer than {args.max_fn} lines")
        bad = True
    if args.max_pub is not None and pubs > args.max_pub:
        print(f"FAIL: more than {args.max_pub} plain pub items")
        bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
