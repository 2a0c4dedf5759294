#!/usr/bin/env python3
"""The lab's middlebox: a terminating TCP proxy for SMTP, IMAP and POP3
that passes bytes through or tampers with STARTTLS (standard library only).

    middlebox.py --proto smtp|imap|pop3 --listen HOST:PORT --upstream HOST:PORT
                 --modes MODE[,MODE...] [--events FILE]

It accepts the client's connection and opens its own to the server. The
N-th connection gets the N-th mode (the last one repeats). Modes:

  pass        forward bytes unchanged, as they come
  asa         Cisco ASA `inspect esmtp`: the greeting masked with asterisks
              (length, `2` and `0` kept: `220 ****2***0***`), `250-STARTTLS`
              in the EHLO reply turned into `250-XXXXXXXA` (SMTP only)
  strip       the capability removed: SMTP `250-STARTTLS` line, IMAP
              `STARTTLS` token, POP3 `STLS` line
  rewrite     the client's STARTTLS/STLS overwritten with X of the same length
  refuse      the client's STARTTLS answered by the middlebox itself (SMTP
              `454`, IMAP `NO`, POP3 `-ERR`); the server never sees it
  cmdinject   a command after STARTTLS in the same segment toward the server
              (SMTP `STARTTLS\\r\\nRSET\\r\\n`)
  respinject  an extra line after the server's go-ahead, in its segment

After a STARTTLS that the server accepted, both directions are relayed raw
(the TLS handshake passes untouched). One JSON line per connection goes to
--events (default stdout) when it ends: mode, endpoints on both sides, and
what was done to it ("actions").
"""
import argparse
import json
import re
import socket
import sys
import threading

REFUSAL = {
    "smtp": b"454 4.7.0 TLS not available due to local problem\r\n",
    "imap": b"%s NO STARTTLS is not available\r\n",
    "pop3": b"-ERR TLS not available\r\n",
}
INJECTED_COMMAND = {"smtp": b"RSET\r\n", "imap": b"x NOOP\r\n", "pop3": b"NOOP\r\n"}
INJECTED_RESPONSE = {
    "smtp": b"250-mail.example.org\r\n250 AUTH PLAIN LOGIN\r\n",
    "imap": b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n",
    "pop3": b"+OK injected\r\n",
}
MODES = ("pass", "asa", "strip", "rewrite", "refuse", "cmdinject", "respinject")


def endpoint(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_hostport(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def asa_mask(line):
    """`220 mail.lab.example ESMTP` -> `220 ***********************`: keeps
    the reply code, CRLF, and every `2` and `0` of the text."""
    body = line.rstrip(b"\r\n")
    masked = bytes(c if c in b"20" else ord("*") for c in body[4:])
    return body[:4] + masked + line[len(body) :]


class Connection:
    def __init__(self, args, mode, client, peer):
        self.proto, self.mode = args.proto, mode
        self.client, self.peer = client, peer
        self.server = socket.create_connection(parse_hostport(args.upstream), timeout=10)
        self.server.settimeout(None)
        self.client_lock = threading.Lock()
        self.actions = []
        self.starttls_tag = None  # set when the client asked for TLS
        self.raw_c2s = self.raw_s2c = mode == "pass"
        self.greeted = False
        self.events = args.events
        self.events_lock = args.events_lock
        self.upstream = args.upstream
        self.listen = args.listen

    def send_client(self, data):
        with self.client_lock:
            self.client.sendall(data)

    # --- client to server ---------------------------------------------------
    def starttls_command(self, line):
        """The tag (b"" for SMTP/POP3) when `line` is the client's STARTTLS."""
        words = line.split()
        if self.proto == "smtp" and len(words) == 1 and words[0].upper() == b"STARTTLS":
            return b""
        if self.proto == "pop3" and len(words) == 1 and words[0].upper() == b"STLS":
            return b""
        if self.proto == "imap" and len(words) == 2 and words[1].upper() == b"STARTTLS":
            return words[0]
        return None

    def c2s_line(self, line):
        """(bytes to send the server for one client line, whether everything
        after it is relayed raw)."""
        tag = self.starttls_command(line)
        if tag is None:
            return line, False
        keyword = b"STLS" if self.proto == "pop3" else b"STARTTLS"
        if self.mode == "refuse":
            answer = REFUSAL[self.proto]
            if self.proto == "imap":
                answer = answer % tag
            self.send_client(answer)
            self.actions.append("refused-starttls")
            # Nothing more to tamper with: what follows goes on as it comes.
            return b"", True
        self.starttls_tag = tag
        if self.mode == "rewrite":
            at = line.upper().rindex(keyword)
            line = line[:at] + b"X" * len(keyword) + line[at + len(keyword) :]
            self.actions.append("rewrote-starttls")
        elif self.mode == "cmdinject":
            line += INJECTED_COMMAND[self.proto]
            self.actions.append("injected-command")
        return line, True

    def pump_c2s(self):
        buf = b""
        while True:
            data = self.client.recv(65536)
            if not data:
                break
            if self.raw_c2s:
                self.server.sendall(data)
                continue
            buf += data
            out = b""
            while b"\n" in buf and not self.raw_c2s:
                line, _, buf = buf.partition(b"\n")
                line, then_raw = self.c2s_line(line + b"\n")
                out += line
                if then_raw:
                    # Whatever follows STARTTLS (a ClientHello) goes on as it comes.
                    self.raw_c2s = True
                    out += buf
                    buf = b""
            if out:
                self.server.sendall(out)

    # --- server to client ---------------------------------------------------
    def is_starttls_answer(self, line):
        if self.starttls_tag is None:
            return False
        if self.proto == "smtp":
            return re.match(rb"^\d{3}( |\r?\n)", line) is not None
        if self.proto == "imap":
            return line.startswith(self.starttls_tag + b" ")
        return line.startswith((b"+OK", b"-ERR"))

    def s2c_lines(self, lines):
        out = []
        for line in lines:
            if not self.greeted and self.mode == "asa" and self.proto == "smtp":
                line = asa_mask(line)
                self.actions.append("masked-banner")
            elif self.mode == "asa" and re.match(rb"^250[- ]STARTTLS\r?\n", line, re.I):
                line = line[:4] + b"XXXXXXXA" + line[12:]
                self.actions.append("masked-capability")
            elif self.mode == "strip":
                line = self.strip(line, out)
                if line is None:
                    continue
            self.greeted = True
            if self.is_starttls_answer(line):
                tag, self.starttls_tag = self.starttls_tag, None
                ok = line.startswith((b"220", tag + b" OK", b"+OK"))
                if ok and self.mode == "respinject":
                    line += INJECTED_RESPONSE[self.proto]
                    self.actions.append("injected-response")
                if ok:
                    self.raw_s2c = True
            out.append(line)
        return b"".join(out)

    def strip(self, line, out):
        if self.proto == "smtp" and re.match(rb"^250[- ]STARTTLS\r?\n", line, re.I):
            self.actions.append("removed-capability")
            if line[3:4] == b" " and out:  # it was the last line: the one before ends the reply
                out[-1] = out[-1][:3] + b" " + out[-1][4:]
            return None
        if self.proto == "pop3" and line.rstrip(b"\r\n").upper() == b"STLS":
            self.actions.append("removed-capability")
            return None
        if self.proto == "imap" and b"CAPABILITY" in line.upper():
            new = re.sub(rb" STARTTLS(?=[ \]\r\n])", b"", line, flags=re.I)
            if new != line:
                self.actions.append("removed-capability")
            return new
        return line

    def pump_s2c(self):
        buf = b""
        while True:
            data = self.server.recv(65536)
            if not data:
                break
            if self.raw_s2c:
                self.send_client(data)
                continue
            buf += data
            lines = []
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                lines.append(line + b"\n")
            out = self.s2c_lines(lines)
            if self.raw_s2c:
                out += buf
                buf = b""
            if out:
                self.send_client(out)

    def run(self, conn_no):
        local = endpoint(self.server.getsockname())
        threads = [threading.Thread(target=self.guard, args=(f,)) for f in (self.pump_c2s, self.pump_s2c)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.client.close()
        self.server.close()
        record = {
            "conn": conn_no,
            "mode": self.mode,
            "client_side": {"client": endpoint(self.peer), "server": self.listen},
            "server_side": {"client": local, "server": self.upstream},
            "actions": sorted(set(self.actions)),
        }
        with self.events_lock:
            self.events.write(json.dumps(record) + "\n")
            self.events.flush()

    def guard(self, pump):
        """Runs a pump; when its side ends (FIN or RST), the other side is
        told: its peer's write side is shut down."""
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", choices=("smtp", "imap", "pop3"), required=True)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--modes", default="pass")
    ap.add_argument("--events")
    args = ap.parse_args()
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}")
    args.events = open(args.events, "a") if args.events else sys.stdout
    args.events_lock = threading.Lock()
    host, port = parse_hostport(args.listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
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
            conn = Connection(args, mode, client, peer)
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
