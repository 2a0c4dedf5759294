#!/usr/bin/env python3
"""Runs the upgrade lab's scenarios (called by record-upgrade.sh once the
namespaces are up): starts each protocol's real servers (module.start),
records every scenario through upmiddlebox.py, derives the truth from what
each scenario did (upgrade/common.py + the module's lifecycle) and checks
it against the capture read with tshark (module.observe). Writes
OUT/expected-upgrade.json. Any disagreement fails the recording.
"""
import argparse
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab  # noqa: E402  (capture, client and wait helpers of the mail lab)
from upgrade import common  # noqa: E402

LAB = os.path.dirname(os.path.abspath(__file__))
E = os.environ
PROTOCOLS = ("ftp", "postgresql", "mysql", "xmpp", "lmtp", "managesieve", "ldap", "nntp")


def wait_port(ns, host, port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
                            "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5).close()",
                            host, str(port)], capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {host} port {port}")


def run_client(ns, sess, host, port):
    subst = {"host": host, "port": str(port), "lab": LAB, "work": E["LAB_WORK"]}
    argv = [a.format(**subst) for a in sess["argv"]]
    env = [f"{k}={v}" for k, v in sess["env"].items()]
    started = time.monotonic()
    try:
        p = subprocess.run(["ip", "netns", "exec", ns, "env", *env, *argv], input=sess["stdin"] or b"",
                           capture_output=True, timeout=40)
        rc, out = p.returncode, (p.stdout + p.stderr).decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", ((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace")
    return {"argv": argv, "rc": rc, "seconds": round(time.monotonic() - started, 2), "output": out[-600:]}


def run_scenario(sc, work, out_dir):
    ns = E["LAB_NS_CLI"]
    listen, upstream = (E["LAB_MB4"], E["LAB_SRV4"]) if sc["server"] == "tls" else (E["LAB_MB4_PLAIN"], E["LAB_SRV4_PLAIN"])
    port, name = sc["port"], sc["name"]
    files = {"client": f"{name}.client.pcap"}
    if sc["server_side"]:
        files["server"] = f"{name}.server.pcap"
    caps = {side: lab.start_capture(E["LAB_NS_MB"], "m0" if side == "client" else "m1", port,
                                    os.path.join(work, f)) for side, f in files.items()}
    events_path = os.path.join(work, f"{name}.events")
    mb = subprocess.Popen(
        ["ip", "netns", "exec", E["LAB_NS_MB"], "/usr/bin/python3", os.path.join(LAB, "upmiddlebox.py"),
         "--proto", sc["proto"], "--listen", f"{listen}:{port}", "--upstream", f"{upstream}:{port}",
         "--modes", ",".join(s["mode"] for s in sc["sessions"]), "--events", events_path],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = mb.stderr.readline().decode(errors="replace")
    if "ready" not in line:
        raise RuntimeError(f"middlebox did not start: {line}")
    runs = []
    try:
        for i, sess in enumerate(sc["sessions"]):
            runs.append(run_client(ns, sess, listen, port))
            lab.wait_events(events_path, i + 1)
        time.sleep(0.5)
    finally:
        lab.stop(mb)
        for p in caps.values():
            lab.stop(p, signal.SIGINT)
    events = sorted(lab.wait_events(events_path, len(sc["sessions"])), key=lambda e: e["conn"])
    for f in files.values():
        shutil.copyfile(os.path.join(work, f), os.path.join(out_dir, f))
    return files, runs, events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--only")
    args = ap.parse_args()
    work = E["LAB_WORK"]
    only = set(args.only.split(",")) if args.only else None
    entries, problems, behaviour, procs = [], [], [], []
    # Every protocol's scenarios, in order (the truth files keep it).
    order = [s["name"] for p in PROTOCOLS for s in importlib.import_module(f"upgrade.{p}").scenarios()]
    try:
        for proto in args.protocols.split(","):
            module = importlib.import_module(f"upgrade.{proto}")
            todo = [s for s in module.scenarios() if not only or s["name"] in only]
            if not todo:
                continue
            started, listeners = module.start(E, work, E["LAB_NS_SRV"])
            procs += started
            for host, port in listeners:
                wait_port(E["LAB_NS_SRV"], host, port)
            for sc in todo:
                print(f"lab: {sc['name']} ({len(sc['sessions'])} sessions)", flush=True)
                files, runs, events = run_scenario(sc, work, args.out)
                for side, f in files.items():
                    sessions = common.sessions_truth(module, sc, side, events)
                    got = module.observe(os.path.join(args.out, f))
                    problems += [f"{f}: {p}" for p in common.check(module, sc, side, sessions, got, runs)]
                    # A scenario's own truth_file (one stripwatch is known to
                    # disagree with, waiting for the lead) wins over the module's.
                    entries.append({"truth_file": sc.get("truth_file") or getattr(module, "TRUTH_FILE",
                                                                                  "expected-upgrade.json"),
                                    "file": f, "scenario": sc["name"], "side": side, "about": sc["about"],
                                    "sessions": sessions,
                                    "truth_source": "tests/lab/record-upgrade.sh: scenario record "
                                                    f"(tests/lab/upgrade/{proto}.py) and the middlebox's "
                                                    "endpoints; every claim checked against the capture with tshark"})
                for sess, run in zip(sc["sessions"], runs):
                    behaviour.append(f"{sc['name']:<24} {sess['mode']:<7} {sess['client']:<44} exit {run['rc']}"
                                     f"  {run['output'][-160:]!r}")
                    if (run["rc"] == 0) != sess["ok"]:
                        problems.append(f"{sc['name']}: {sess['client']}: exit status {run['rc']}, expected "
                                        f"{'0' if sess['ok'] else 'non-zero'}; output: {run['output'][-300:]!r}")
            if hasattr(module, "stop"):
                module.stop(E, work, E["LAB_NS_SRV"])
    finally:
        for p in procs:
            lab.stop(p)
    # Protocols stripwatch does not parse yet (their parsers are being
    # merged) keep their truth apart: TRUTH_FILE in the module.
    rank = {n: i for i, n in enumerate(order)}
    for truth_file in sorted({e["truth_file"] for e in entries}):
        mine = [{k: v for k, v in e.items() if k != "truth_file"} for e in entries if e["truth_file"] == truth_file]
        expected_path = os.path.join(args.out, truth_file)
        if os.path.exists(expected_path):
            # Keep the other scenarios' entries, in the scenarios' order.
            with open(expected_path) as fh:
                kept = {e["file"]: e for e in json.load(fh)}
            kept.update({e["file"]: e for e in mine})
            mine = sorted(kept.values(), key=lambda e: (rank.get(e.get("scenario"), 1 << 30), e["file"]))
        with open(expected_path, "w") as fh:
            json.dump(mine, fh, indent=1)
            fh.write("\n")
    print("\n".join(behaviour))
    if problems:
        print(f"lab: {len(problems)} claim(s) not shown by the captures:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"lab: {len(entries)} captures recorded, every claim checked with tshark; truth in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
