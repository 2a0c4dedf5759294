#!/usr/bin/env python3
"""A small ManageSieve client (RFC 5804) doing the real exchange:
capabilities, STARTTLS when offered (opportunistic) or never (none),
AUTHENTICATE "PLAIN" with an initial response, LISTSCRIPTS, LOGOUT.

    managesieve_client.py HOST PORT none|opportunistic

Exit status: 0 done, 3 STARTTLS refused, 4 other error.
"""
import base64
import socket
import ssl
import sys

host, port, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def response(f):
    """Lines up to and including the OK/NO/BYE line."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        lines.append(line.rstrip(b"\r\n"))
        if line[:2].upper() == b"OK" or line[:2].upper() == b"NO" or line[:3].upper() == b"BYE":
            return lines


try:
    sock = socket.create_connection((host, port), timeout=15)
    f = sock.makefile("rb")
    caps = response(f)
    if tls == "opportunistic" and any(c.upper() == b'"STARTTLS"' for c in caps):
        sock.sendall(b"STARTTLS\r\n")
        answer = response(f)[-1]
        if not answer.upper().startswith(b"OK"):
            print(f"STARTTLS refused: {answer!r}", file=sys.stderr)
            sys.exit(3)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname="lab.example")
        f = sock.makefile("rb")
        response(f)  # capabilities again, inside TLS
    token = base64.b64encode(b"\0alice\0pw-lab-alice").decode()
    sock.sendall(f'AUTHENTICATE "PLAIN" "{token}"\r\n'.encode())
    if not response(f)[-1].upper().startswith(b"OK"):
        sys.exit(4)
    sock.sendall(b"LISTSCRIPTS\r\n")
    response(f)
    sock.sendall(b"LOGOUT\r\n")
    response(f)
except (OSError, EOFError) as e:
    print(f"error: {e!r}", file=sys.stderr)
    sys.exit(4)
