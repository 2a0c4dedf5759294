"""LMTP (RFC 2033) with STARTTLS: Dovecot 2.3's LMTP server (dovecot-lmtpd)
on port 24 with TLS, clients swaks --protocol LMTP and Python's
smtplib.LMTP. LMTP carries no AUTH here (Dovecot offers none): what crosses
in cleartext after a lost upgrade is the mail itself.

Middlebox modes: pass; strip (`250-STARTTLS` removed from the LHLO reply);
refuse (the client's STARTTLS answered `454` by the middlebox); rewrite
(the client's STARTTLS reaches the server overwritten `XXXXXXXX`);
cmdinject (`RSET` after STARTTLS in the same segment toward the server);
respinject (an extra `250` line after the server's `220`, in its segment).
"""
import os
import re
import subprocess

from . import common
from .common import S, sc, USER, PASSWORD

PROTOCOL = "lmtp"
PORT = 24
MODES = ("pass", "strip", "refuse", "rewrite", "cmdinject", "respinject")
REFUSAL_IS_NO_OFFER = False
REFUSAL = b"454 4.7.0 TLS not available due to local problem\r\n"
INJECTED_COMMAND = b"RSET\r\n"
INJECTED_RESPONSE = b"250 injected by the lab middlebox\r\n"
INJECTED = (rb"STARTTLS", rb"220 ")  # for common.check


class Tamper(common.LineTamper):
    REFUSAL = REFUSAL
    INJECTED_COMMAND = INJECTED_COMMAND

    def from_server(self, data):
        self.sbuf += data
        lines = []
        while b"\n" in self.sbuf:
            line, _, self.sbuf = self.sbuf.partition(b"\n")
            lines.append(line + b"\n")
        out = []
        for line in lines:
            if self.mode == "strip" and re.match(rb"^250[- ]STARTTLS\r?\n", line, re.I):
                self.actions.append("removed-capability")
                if line[3:4] == b" " and out:
                    out[-1] = out[-1][:3] + b" " + out[-1][4:]
                continue
            out.append(line)
            if self.pending and re.match(rb"^\d{3} ", line):
                self.pending = False
                if line.startswith(b"220"):
                    if self.mode == "respinject":
                        out.append(INJECTED_RESPONSE)
                        self.actions.append("injected-response")
                    rest, self.sbuf = self.sbuf, b""
                    return b"".join(out) + rest, True
        return b"".join(out), False


CONF = """instance_name = lab-lmtp
base_dir = {w}/lmtp-run
state_dir = {w}/lmtp-state
log_path = {w}/dovecot-lmtp.log
protocols = lmtp
listen = {addr}
ssl = yes
ssl_cert = <{w}/cert.pem
ssl_key = <{w}/key.pem
auth_username_format = %Ln
postmaster_address = postmaster@lab.example
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {w}/dovecot-users
}}
userdb {{
  driver = passwd-file
  args = {w}/dovecot-users
}}
mail_location = maildir:~/Maildir
service lmtp {{
  inet_listener lmtp {{
    port = {port}
  }}
}}
"""


def users(w):
    home = os.path.join(w, "home", USER)
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(home, "Maildir", d), exist_ok=True)
    subprocess.run(["chown", "-R", "65534:65534", os.path.join(w, "home")], check=True)
    with open(os.path.join(w, "dovecot-users"), "w") as fh:
        fh.write(f"{USER}:{{PLAIN}}{PASSWORD}:65534:65534::{home}::\n")
    os.chmod(os.path.join(w, "dovecot-users"), 0o644)


def start(env, w, ns_srv):
    users(w)
    for d in ("lmtp-run", "lmtp-state"):
        os.makedirs(os.path.join(w, d), exist_ok=True)
    conf = os.path.join(w, "dovecot-lmtp.conf")
    with open(conf, "w") as fh:
        fh.write(CONF.format(w=w, addr=env["LAB_SRV4"], port=PORT))
    subprocess.run(["ip", "netns", "exec", ns_srv, "dovecot", "-c", conf], check=True)
    return [], [(env["LAB_SRV4"], PORT)]


def stop(env, w, ns_srv):
    subprocess.run(["ip", "netns", "exec", ns_srv, "dovecot", "-c", os.path.join(w, "dovecot-lmtp.conf"), "stop"],
                   capture_output=True)


def swaks(*opts):
    return ["swaks", "--protocol", "LMTP", "--server", "{host}", "--port", "{port}",
            "--helo", "client.lab.example", "--from", "bob@lab.example", "--to", "alice@lab.example",
            "--h-Subject", "lab", "--body", "hello over lmtp", "--timeout", "15", *opts]


def py(tls):
    return ["/usr/bin/python3", "{lab}/upgrade/lmtp_client.py", "{host}", "{port}", tls]


CLIENTS = ("swaks --protocol LMTP --tls", "swaks --protocol LMTP --tls-optional",
           "python smtplib.LMTP, STARTTLS if offered")


def scenarios():
    def tampered(mode):
        stripped, refused = mode == "strip", mode in ("refuse", "rewrite")
        return [
            S(CLIENTS[0], swaks("--tls"), mode, starttls=not stripped, tls=mode == "pass", ok=mode == "pass"),
            S(CLIENTS[1], swaks("--tls-optional"), mode, starttls=not stripped, tls=mode == "pass",
              data=mode != "pass"),
            S(CLIENTS[2], py("opportunistic"), mode, starttls=not stripped, tls=mode == "pass",
              data=stripped, ok=not refused),
        ]
    return [
        sc("lmtp-clean-starttls", PROTOCOL, PORT, tampered("pass"), about="Dovecot LMTP with STARTTLS"),
        sc("lmtp-cleartext", PROTOCOL, PORT, [
            S("swaks --protocol LMTP (no TLS)", swaks(), data=True),
            S("python smtplib.LMTP, no TLS", py("none"), data=True),
        ], about="Dovecot LMTP with STARTTLS offered; clients deliver in cleartext"),
        sc("lmtp-strip", PROTOCOL, PORT,
           [S(CLIENTS[1] + " (untouched)", swaks("--tls-optional"), starttls=True, tls=True)] + tampered("strip"),
           server_side=True, about="250-STARTTLS removed from the LHLO reply; one untouched session first"),
        sc("lmtp-refuse", PROTOCOL, PORT, tampered("refuse"), server_side=True,
           about="STARTTLS answered 454 by the middlebox"),
        sc("lmtp-rewrite", PROTOCOL, PORT, tampered("rewrite"), server_side=True,
           about="the client's STARTTLS reaches Dovecot overwritten XXXXXXXX"),
        sc("lmtp-injection", PROTOCOL, PORT, [
            S(f"{label} [{mode}]", argv, mode, starttls=True, **dict(dict(tls=True), **INJECTED_KW.get((label, mode), {})))
            for mode in ("cmdinject", "respinject")
            for label, argv in ((CLIENTS[0], swaks("--tls")), (CLIENTS[2], py("opportunistic")))],
           server_side=True, about="command injection (STARTTLS\\r\\nRSET) and response injection after 220"),
    ]


# Measured around an accepted STARTTLS (samples/lab/README.md): Dovecot's
# LMTP answers 220 to STARTTLS with RSET pipelined, then drops the
# connection at the ClientHello (as its IMAP and POP3 do in the mail lab):
# no TLS, both clients fail. swaks takes the injected 250 for its post-TLS
# LHLO reply: every later reply is one behind, the delivery fails (exit 25);
# smtplib drops the buffered line.
INJECTED_KW = {(CLIENTS[0], "cmdinject"): dict(tls=False, hello=True, ok=False),
               (CLIENTS[2], "cmdinject"): dict(tls=False, hello=True, ok=False),
               (CLIENTS[0], "respinject"): dict(ok=False)}


def lifecycle(sc_, sess, side):
    mode = sess["mode"]
    client_side = side == "client"
    offered = not (client_side and mode == "strip")
    requested = sess["starttls"] and (client_side or mode not in ("refuse", "rewrite"))
    accepted = None if not requested else not (client_side and mode in ("refuse", "rewrite"))
    return offered, requested, accepted


def observe(path):
    out = []
    for st in common.streams(path):
        cli, srv, tls, hello = common.split_at_tls(st["chunks"])
        c = [ln.rstrip(b"\r") for ln in cli.split(b"\n") if ln.strip()]
        s = [ln.rstrip(b"\r") for ln in srv.split(b"\n") if ln.strip()]
        f = {"client": st["client"], "server": st["server"], "tls_established": tls, "creds": []}
        f["starttls_offered"] = any(ln[4:].upper() == b"STARTTLS" for ln in s if ln[:3] == b"250") \
            if any(ln.startswith(b"250-") for ln in s) else None
        f["starttls_requested"] = any(ln.upper() == b"STARTTLS" for ln in c)
        f["starttls_accepted"] = None
        if f["starttls_requested"]:
            f["starttls_accepted"] = any(ln.startswith(b"220 ") for ln in s[1:])
        f["mail"] = any(ln.upper().startswith(b"MAIL FROM") for ln in c)
        f["rewritten"] = any(ln == b"XXXXXXXX" for ln in c)
        f["chunks"] = st["chunks"]
        out.append(f)
    return out


def extra_claims(sc_, side, sess, o):
    if sess["data"] and not o["mail"]:
        yield "no MAIL FROM in cleartext in the capture"
    if side == "server" and sess["mode"] == "rewrite" and sess["starttls"] and not o["rewritten"]:
        yield "no XXXXXXXX command in the capture"
