#!/usr/bin/env python3
"""The upgrade lab's middlebox: a terminating TCP proxy like middlebox.py,
for the protocols of tests/lab/upgrade/ (standard library only).

    upmiddlebox.py --proto ftp|postgresql|mysql --listen HOST:PORT
                   --upstream HOST:PORT --modes MODE[,MODE...] [--events FILE]

The tampering itself lives in the protocol's module (tests/lab/upgrade/
PROTO.py, class Tamper): it sees the bytes of each direction until it says
"raw" (after an accepted upgrade, or when nothing is left to tamper with),
and may answer the client itself. The N-th connection gets the N-th mode
(the last one repeats). One JSON line per connection goes to --events when
it ends: mode, endpoints on both sides, actions.
"""
import argparse
import importlib
import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def endpoint(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_hostport(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class Connection:
    def __init__(self, args, tamper_cls, mode, client, peer):
        self.args, self.mode, self.client, self.peer = args, mode, client, peer
        self.server = socket.create_connection(parse_hostport(args.upstream), timeout=10)
        self.server.settimeout(None)
        self.tamper = tamper_cls(mode)
        self.lock = threading.Lock()  # the tamper object is shared by both pumps
        self.client_lock = threading.Lock()

    def send_client(self, data):
        if data:
            with self.client_lock:
                self.client.sendall(data)

    def pump_c2s(self):
        raw = self.mode == "pass"
        while True:
            data = self.client.recv(65536)
            if not data:
                break
            if raw:
                self.server.sendall(data)
                continue
            with self.lock:
                to_server, to_client, raw = self.tamper.from_client(data)
            self.send_client(to_client)
            if to_server:
                self.server.sendall(to_server)

    def pump_s2c(self):
        raw = self.mode == "pass"
        while True:
            data = self.server.recv(65536)
            if not data:
                break
            if raw:
                self.send_client(data)
                continue
            with self.lock:
                to_client, raw = self.tamper.from_server(data)
            self.send_client(to_client)

    def guard(self, pump):
        peer = self.server if pump == self.pump_c2s else self.client
        try:
            pump()
        except OSError:
            pass
        finally:
            try:
                peer.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def run(self, conn_no):
        local = endpoint(self.server.getsockname())
        threads = [threading.Thread(target=self.guard, args=(f,)) for f in (self.pump_c2s, self.pump_s2c)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.client.close()
        self.server.close()
        record = {"conn": conn_no, "mode": self.mode,
                  "client_side": {"client": endpoint(self.peer), "server": self.args.listen},
                  "server_side": {"client": local, "server": self.args.upstream},
                  "actions": sorted(set(self.tamper.actions))}
        with self.args.events_lock:
            self.args.events.write(json.dumps(record) + "\n")
            self.args.events.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", required=True)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--modes", default="pass")
    ap.add_argument("--events")
    args = ap.parse_args()
    module = importlib.import_module(f"upgrade.{args.proto}")
    modes = args.modes.split(",")
    for m in modes:
        if m not in module.MODES:
            ap.error(f"unknown mode {m} for {args.proto}")
    args.events = open(args.events, "a") if args.events else sys.stdout
    args.events_lock = threading.Lock()
    host, port = parse_hostport(args.listen)
    srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(16)
    print(f"middlebox: ready on {args.listen} -> {args.upstream}, modes {args.modes}", file=sys.stderr, flush=True)
    n = 0
    while True:
        client, peer = srv.accept()
        mode = modes[min(n, len(modes) - 1)]
        n += 1
        try:
            conn = Connection(args, module.Tamper, mode, client, peer)
        except OSError as e:
            print(f"middlebox: upstream {args.upstream}: {e}", file=sys.stderr, flush=True)
            client.close()
            continue
        threading.Thread(target=conn.run, args=(n,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
