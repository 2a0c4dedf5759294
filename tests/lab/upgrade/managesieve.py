"""ManageSieve (RFC 5804): Dovecot 2.3's managesieve (dovecot-managesieved,
Pigeonhole) on port 4190 with STARTTLS, clients sieve-connect and a small
Python client (Debian has no ManageSieve library) that does the real
exchange: capabilities, STARTTLS when offered, AUTHENTICATE "PLAIN",
LISTSCRIPTS, LOGOUT.

Middlebox modes: pass; strip (the `"STARTTLS"` capability line removed);
refuse (the client's STARTTLS answered `NO` by the middlebox); rewrite
(the client's STARTTLS reaches the server overwritten `XXXXXXXX`);
cmdinject (`NOOP` after STARTTLS in the same segment toward the server);
respinject (an extra `OK` line after the server's `OK` to STARTTLS, in its
segment).

"""
import base64
import os
import re
import subprocess

from . import common
from .common import S, sc, USER, PASSWORD
from .lmtp import users

PROTOCOL = "managesieve"
PORT = 4190
MODES = ("pass", "strip", "refuse", "rewrite", "cmdinject", "respinject")
REFUSAL_IS_NO_OFFER = False
REFUSAL = b'NO "TLS not available (lab middlebox)"\r\n'
INJECTED_COMMAND = b"NOOP\r\n"
INJECTED_RESPONSE = b'OK "injected by the lab middlebox"\r\n'
INJECTED = (rb"STARTTLS", rb"OK")  # for common.check


class Tamper(common.LineTamper):
    REFUSAL = REFUSAL
    INJECTED_COMMAND = INJECTED_COMMAND

    def from_server(self, data):
        self.sbuf += data
        out = b""
        while b"\n" in self.sbuf:
            line, _, self.sbuf = self.sbuf.partition(b"\n")
            line += b"\n"
            if self.mode == "strip" and line.strip().upper() == b'"STARTTLS"':
                self.actions.append("removed-capability")
                continue
            out += line
            if self.pending and re.match(rb"^(OK|NO|BYE)", line, re.I):
                self.pending = False
                if line.upper().startswith(b"OK"):
                    if self.mode == "respinject":
                        out += INJECTED_RESPONSE
                        self.actions.append("injected-response")
                    out, self.sbuf = out + self.sbuf, b""
                    return out, True
        return out, False


CONF = """instance_name = lab-sieve
base_dir = {w}/sieve-run
state_dir = {w}/sieve-state
log_path = {w}/dovecot-sieve.log
protocols = sieve
listen = {addr}
ssl = yes
ssl_cert = <{w}/cert.pem
ssl_key = <{w}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {w}/dovecot-users
}}
userdb {{
  driver = passwd-file
  args = {w}/dovecot-users
}}
mail_location = maildir:~/Maildir
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
}}
service managesieve-login {{
  inet_listener sieve {{
    port = {port}
  }}
}}
"""


def start(env, w, ns_srv):
    users(w)
    for d in ("sieve-run", "sieve-state"):
        os.makedirs(os.path.join(w, d), exist_ok=True)
    conf = os.path.join(w, "dovecot-sieve.conf")
    with open(conf, "w") as fh:
        fh.write(CONF.format(w=w, addr=env["LAB_SRV4"], port=PORT))
    subprocess.run(["ip", "netns", "exec", ns_srv, "dovecot", "-c", conf], check=True)
    return [], [(env["LAB_SRV4"], PORT)]


def stop(env, w, ns_srv):
    subprocess.run(["ip", "netns", "exec", ns_srv, "dovecot", "-c", os.path.join(w, "dovecot-sieve.conf"), "stop"],
                   capture_output=True)


def sieve_connect(*opts):
    return ["sieve-connect", "--server", "{host}", "--port", "{port}", "--user", USER, "--passwordfd", "0",
            "--notlsverify", "--authmech", "PLAIN", "--list", *opts]


def py(tls):
    return ["/usr/bin/python3", "{lab}/upgrade/managesieve_client.py", "{host}", "{port}", tls]


CLIENTS = ("sieve-connect (default)", "sieve-connect --noclearauth", "python client, STARTTLS if offered")
PW = (PASSWORD + "\n").encode()


def scenarios():
    def tampered(mode):
        stripped, refused = mode == "strip", mode in ("refuse", "rewrite")
        return [
            S(CLIENTS[0], sieve_connect(), mode, starttls=not stripped, tls=mode == "pass", stdin=PW,
              creds=[("PLAIN", USER)] if stripped else [], ok=not refused),
            S(CLIENTS[1], sieve_connect("--noclearauth"), mode, starttls=not stripped, tls=mode == "pass",
              stdin=PW, ok=mode == "pass"),
            S(CLIENTS[2], py("opportunistic"), mode, starttls=not stripped, tls=mode == "pass",
              creds=[("PLAIN", USER)] if stripped else [], ok=not refused),
        ]
    return [
        sc("managesieve-clean-starttls", PROTOCOL, PORT, tampered("pass"), about="Dovecot managesieve, STARTTLS"),
        sc("managesieve-cleartext-auth", PROTOCOL, PORT, [
            S("python client, no TLS", py("none"), creds=[("PLAIN", USER)]),
        ], about="STARTTLS offered, the client authenticates in cleartext"),
        sc("managesieve-strip", PROTOCOL, PORT,
           [S(CLIENTS[2] + " (untouched)", py("opportunistic"), starttls=True, tls=True)] + tampered("strip"),
           server_side=True, about='"STARTTLS" removed from the capabilities; one untouched session first'),
        sc("managesieve-refuse", PROTOCOL, PORT, tampered("refuse"), server_side=True,
           about="STARTTLS answered NO by the middlebox"),
        sc("managesieve-rewrite", PROTOCOL, PORT, tampered("rewrite"), server_side=True,
           about="the client's STARTTLS reaches Dovecot overwritten XXXXXXXX"),
        sc("managesieve-injection", PROTOCOL, PORT, [
            S(f"{label} [{mode}]", argv, mode, starttls=True, stdin=stdin,
              **dict(dict(tls=True), **INJECTED_KW.get((label, mode), {})))
            for mode in ("cmdinject", "respinject")
            for label, argv, stdin in ((CLIENTS[0], sieve_connect(), PW), (CLIENTS[1], sieve_connect("--noclearauth"), PW),
                                       (CLIENTS[2], py("opportunistic"), None))],
           server_side=True, about="command injection (STARTTLS\\r\\nNOOP) and response injection after OK"),
    ]


# Measured around an accepted STARTTLS (samples/lab/README.md): Dovecot's
# managesieve answers OK to STARTTLS with NOOP pipelined, then drops the
# connection at the ClientHello (as its IMAP, POP3 and LMTP do): no TLS,
# the clients fail. Under response injection sieve-connect and the Python
# client drop the buffered line: TLS, done.
INJECTED_KW = {(c, "cmdinject"): dict(tls=False, hello=True, ok=False) for c in CLIENTS}


def lifecycle(sc_, sess, side):
    mode = sess["mode"]
    client_side = side == "client"
    offered = not (client_side and mode == "strip")
    requested = sess["starttls"] and (client_side or mode not in ("refuse", "rewrite"))
    accepted = None if not requested else not (client_side and mode in ("refuse", "rewrite"))
    return offered, requested, accepted


def unquote(tok):
    tok = tok.strip()
    return tok[1:-1] if tok.startswith(b'"') and tok.endswith(b'"') else tok


def observe(path):
    out = []
    for st in common.streams(path):
        cli, srv, tls, hello = common.split_at_tls(st["chunks"])
        c = [ln.rstrip(b"\r") for ln in cli.split(b"\n") if ln.strip()]
        s = [ln.rstrip(b"\r") for ln in srv.split(b"\n") if ln.strip()]
        f = {"client": st["client"], "server": st["server"], "tls_established": tls, "creds": []}
        caps = []
        for ln in s:
            if re.match(rb"^(OK|NO|BYE)", ln, re.I):
                break
            caps.append(ln)
        f["starttls_offered"] = any(ln.upper() == b'"STARTTLS"' for ln in caps) if caps else None
        f["starttls_requested"] = any(ln.upper() == b"STARTTLS" for ln in c)
        answers = [ln for ln in s[len(caps) + 1:] if re.match(rb"^(OK|NO|BYE)", ln, re.I)]
        f["starttls_accepted"] = None
        if f["starttls_requested"]:
            f["starttls_accepted"] = bool(answers) and answers[0].upper().startswith(b"OK")
        for i, ln in enumerate(c):
            m = re.match(rb'^AUTHENTICATE\s+"?([A-Za-z0-9-]+)"?\s*(.*)$', ln, re.I)
            if not m:
                continue
            mech, rest = m.group(1).upper().decode(), m.group(2)
            if re.match(rb"^\{\d+\+?\}$", rest) and i + 1 < len(c):
                rest = c[i + 1]
            elif not rest and i + 1 < len(c):
                rest = c[i + 1]
            try:
                raw = base64.b64decode(unquote(rest))
            except ValueError:
                raw = b""
            user = raw.split(b"\0")[1].decode() if mech == "PLAIN" and raw.count(b"\0") == 2 else ""
            f["creds"].append((mech, user))
        f["rewritten"] = any(ln == b"XXXXXXXX" for ln in c)
        f["chunks"] = st["chunks"]
        out.append(f)
    return out


def extra_claims(sc_, side, sess, o):
    if side == "server" and sess["mode"] == "rewrite" and sess["starttls"] and not o["rewritten"]:
        yield "no XXXXXXXX command in the capture"
