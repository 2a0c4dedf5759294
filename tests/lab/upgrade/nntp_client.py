#!/usr/bin/env python3
"""NNTP clients of the upgrade lab (RFC 3977, 4642 STARTTLS, 4643 AUTHINFO).

    nntp_client.py HOST PORT KIND

KIND:
  nntplib-none          Python 3.11 nntplib: NNTP(), login() (AUTHINFO USER/PASS) in cleartext
  nntplib-opportunistic nntplib: starttls() only when CAPABILITIES lists STARTTLS, then login()
  nntplib-starttls      nntplib: starttls() unconditionally (raises on a refusal), then login()
  raw-none              raw socket: CAPABILITIES, AUTHINFO USER/PASS, LIST ACTIVE, QUIT
  raw-opportunistic     raw socket: STARTTLS when CAPABILITIES lists it, then the same
  sasl-opportunistic    raw socket: STARTTLS when offered, AUTHINFO SASL PLAIN (initial response)

Exit status: 0 done, 3 STARTTLS refused (stopped), 4 other error.
"""
import base64
import socket
import ssl
import sys
import warnings

host, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
USER, PASSWORD = "alice", "pw-lab-alice"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed


def with_nntplib(tls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import nntplib
    try:
        # NNTP() reads the greeting and sends CAPABILITIES.
        s = nntplib.NNTP(host, port, usenetrc=False, timeout=15)
        offered = "STARTTLS" in s.getcapabilities()
        if tls == "starttls" or (tls == "opportunistic" and offered):
            try:
                s.starttls(ctx)
            except nntplib.NNTPError as e:
                print(f"STARTTLS refused: {e}", file=sys.stderr)
                s.quit()
                return 3
        s.login(USER, PASSWORD, usenetrc=False)
        s.list()
        s.quit()
        return 0
    except (nntplib.NNTPError, OSError, EOFError) as e:
        print(f"error: {e!r}", file=sys.stderr)
        return 4


class Raw:
    def __init__(self):
        self.sock = socket.create_connection((host, port), timeout=15)
        self.f = self.sock.makefile("rb")

    def line(self):
        ln = self.f.readline()
        if not ln:
            raise EOFError("connection closed")
        return ln.rstrip(b"\r\n")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def block(self):
        out = []
        while True:
            ln = self.line()
            if ln == b".":
                return out
            out.append(ln[1:] if ln.startswith(b"..") else ln)

    def capabilities(self):
        if not self.cmd("CAPABILITIES").startswith(b"101"):
            return []
        return [ln.upper() for ln in self.block()]


def raw(tls, sasl):
    try:
        c = Raw()
        c.line()  # greeting
        caps = c.capabilities()
        if tls == "opportunistic" and b"STARTTLS" in caps:
            answer = c.cmd("STARTTLS")
            if not answer.startswith(b"382"):
                print(f"STARTTLS refused: {answer!r}", file=sys.stderr)
                c.cmd("QUIT")
                return 3
            c.sock = ctx.wrap_socket(c.sock, server_hostname="lab.example")
            c.f = c.sock.makefile("rb")
            caps = c.capabilities()
        if sasl:
            token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
            answer = c.cmd(f"AUTHINFO SASL PLAIN {token}")
        else:
            answer = c.cmd(f"AUTHINFO USER {USER}")
            if answer.startswith(b"381"):
                answer = c.cmd(f"AUTHINFO PASS {PASSWORD}")
        if not answer.startswith(b"281"):
            print(f"authentication failed: {answer!r}", file=sys.stderr)
            return 4
        if c.cmd("LIST ACTIVE").startswith(b"215"):
            c.block()
        c.cmd("QUIT")
        return 0
    except (OSError, EOFError) as e:
        print(f"error: {e!r}", file=sys.stderr)
        return 4


lib, _, tls = kind.partition("-")
sys.exit(with_nntplib(tls) if lib == "nntplib" else raw(tls, lib == "sasl"))
