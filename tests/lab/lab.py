#!/usr/bin/env python3
"""Runs the lab's scenarios (called by record.sh once the namespaces,
Postfix and Dovecot are up) and writes OUT/expected.json.

For each scenario: tcpdump on the middlebox's client-side interface (and
its server-side one when the scenario says so), middlebox.py with one mode
per connection, then each client in turn in the client namespace. The truth
of every session comes from the scenario's record (scenarios.py) and the
endpoints the middlebox saw; truth.py then reads each capture with tshark
and checks that it shows every claim. Any disagreement fails the recording:
real software no longer behaves as recorded.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenarios  # noqa: E402
import truth  # noqa: E402

LAB = os.path.dirname(os.path.abspath(__file__))
E = os.environ


def netns(ns, argv):
    return ["ip", "netns", "exec", ns, *argv]


def start_capture(ns, iface, port, path):
    argv = netns(ns, ["tcpdump", "-i", iface, "-w", path, "-U", "--immediate-mode", "-s", "0",
                      "-n", "-Z", "root", f"tcp port {port}"])
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # tcpdump says "listening on ..." once the capture runs.
    line = p.stderr.readline().decode(errors="replace")
    if "listening" not in line:
        p.kill()
        raise RuntimeError(f"tcpdump on {iface} did not start: {line.strip()}")
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def topology(sc):
    """(client ns, client-side iface, listen host, upstream host) of a scenario."""
    if sc["net"] == "6":
        return E["LAB_NS_CLI"], "m0", E["LAB_MB6"], E["LAB_SRV6"]
    if sc["net"] == "lossy":
        return E["LAB_NS_CL2"], "m2", E["LAB_MB_WAN"], E["LAB_SRV4"]
    if sc["server"] == "plain":
        return E["LAB_NS_CLI"], "m0", E["LAB_MB4_PLAIN"], E["LAB_SRV4_PLAIN"]
    return E["LAB_NS_CLI"], "m0", E["LAB_MB4"], E["LAB_SRV4"]


def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run_client(ns, sess, host, port, work):
    msg = os.path.join(work, "message.eml")
    with open(msg, "w") as fh:
        fh.write("From: alice@lab.example\r\nTo: bob@lab.example\r\nSubject: lab\r\n\r\nhello from curl\r\n")
    subst = {"host": host, "port": str(port), "url_host": f"[{host}]" if ":" in host else host,
             "msg": msg, "lab": LAB}
    argv = [a.format(**subst) for a in sess["argv"]]
    started = time.monotonic()
    try:
        p = subprocess.run(netns(ns, argv), input=sess["stdin"] or b"", capture_output=True, timeout=40)
        rc, out = p.returncode, (p.stdout + p.stderr).decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", ((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace")
    return {"argv": argv, "rc": rc, "seconds": round(time.monotonic() - started, 2),
            "output": out[-600:]}


def wait_events(path, n, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as fh:
                events = [json.loads(line) for line in fh if line.strip()]
            if len(events) >= n:
                return events
        time.sleep(0.05)
    raise RuntimeError(f"the middlebox logged fewer than {n} connections in {path}")


def run_scenario(sc, work, out_dir):
    ns, iface, listen_host, upstream_host = topology(sc)
    port = sc["port"]
    name = sc["name"]
    files = {"client": f"{name}.client.pcap"}
    if sc["server_side"]:
        files["server"] = f"{name}.server.pcap"
    caps = {side: start_capture(E["LAB_NS_MB"], iface if side == "client" else "m1", port,
                                os.path.join(work, f)) for side, f in files.items()}
    events_path = os.path.join(work, f"{name}.events")
    mb = subprocess.Popen(
        netns(E["LAB_NS_MB"], ["/usr/bin/python3", os.path.join(LAB, "middlebox.py"),
                               "--proto", sc["proto"], "--listen", hostport(listen_host, port),
                               "--upstream", hostport(upstream_host, port),
                               "--modes", ",".join(s["mode"] for s in sc["sessions"]),
                               "--events", events_path]),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = mb.stderr.readline().decode(errors="replace")
    if "ready" not in line:
        raise RuntimeError(f"middlebox did not start: {line}")
    runs = []
    try:
        for i, sess in enumerate(sc["sessions"]):
            runs.append(run_client(ns, sess, listen_host, port, work))
            wait_events(events_path, i + 1)
        time.sleep(0.5)  # the last ACKs and FINs reach the capture
    finally:
        stop(mb)
        for p in caps.values():
            stop(p, signal.SIGINT)
    events = sorted(wait_events(events_path, len(sc["sessions"])), key=lambda e: e["conn"])
    for f in files.values():
        shutil.copyfile(os.path.join(work, f), os.path.join(out_dir, f))
    return files, runs, events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only")
    args = ap.parse_args()
    work = E["LAB_WORK"]
    only = set(args.only.split(",")) if args.only else None
    entries, problems, behaviour = [], [], []
    for sc in scenarios.SCENARIOS:
        if only and sc["name"] not in only:
            continue
        print(f"lab: {sc['name']} ({len(sc['sessions'])} sessions)", flush=True)
        files, runs, events = run_scenario(sc, work, args.out)
        for side, f in files.items():
            sessions = truth.sessions_truth(sc, side, events)
            got = truth.observe(os.path.join(args.out, f), sc["proto"], side)
            problems += [f"{f}: {p}" for p in truth.check(sc, side, sessions, got, runs)]
            entries.append({
                "file": f,
                "scenario": sc["name"],
                "side": side,
                "about": sc["about"],
                "sessions": sessions,
                "truth_source": "tests/lab/record.sh: scenario record (tests/lab/scenarios.py) and the "
                                "middlebox's endpoints; every claim checked against the capture with tshark",
            })
        for sess, run in zip(sc["sessions"], runs):
            behaviour.append(f"{sc['name']:<26} {sess['mode']:<10} {sess['client']:<48} exit {run['rc']}")
            if (run["rc"] == 0) != sess["ok"]:
                problems.append(f"{sc['name']}: {sess['client']}: exit status {run['rc']}, expected "
                                f"{'0' if sess['ok'] else 'non-zero'}; output: {run['output'][-300:]!r}")
    expected_path = os.path.join(args.out, "expected.json")
    if only and os.path.exists(expected_path):
        # Keep the other scenarios' entries, in the scenarios' order.
        with open(expected_path) as fh:
            kept = {e["file"]: e for e in json.load(fh)}
        kept.update({e["file"]: e for e in entries})
        rank = {sc["name"]: i for i, sc in enumerate(scenarios.SCENARIOS)}
        entries = sorted(kept.values(), key=lambda e: (rank.get(e.get("scenario"), 1 << 30), e["file"]))
    if not only:
        # The upgrade lab's captures (record-upgrade.sh) share the folder.
        others = set()
        for name in ("expected-upgrade.json", "expected-upgrade-pending.json"):
            if os.path.exists(os.path.join(args.out, name)):
                with open(os.path.join(args.out, name)) as fh:
                    others |= {e["file"] for e in json.load(fh)}
        for stale in os.listdir(args.out):
            if stale.endswith(".pcap") and stale not in {e["file"] for e in entries} | others:
                os.remove(os.path.join(args.out, stale))
    with open(expected_path, "w") as fh:
        json.dump(entries, fh, indent=1)
        fh.write("\n")
    print("\n".join(behaviour))
    if problems:
        print(f"lab: {len(problems)} claim(s) not shown by the captures:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"lab: {len(entries)} captures, every claim checked with tshark; truth in {args.out}/expected.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
