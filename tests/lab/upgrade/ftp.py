"""FTP (RFC 4217 AUTH TLS, RFC 2389 FEAT): ProFTPD with mod_tls, clients
curl, lftp and Python's ftplib, through the middlebox.

Middlebox modes: pass; strip (the `AUTH TLS` / `AUTH SSL` lines removed
from the FEAT reply); mask (the same lines rewritten `AUTH XXX`, as a
masking firewall does); refuse (the client's `AUTH TLS`/`AUTH SSL`
answered `534` by the middlebox; the server never sees it); rewrite (the
client's `AUTH TLS`/`AUTH SSL` reaches the server overwritten `XXXX XXX`:
the server answers `500`); cmdinject (`NOOP` after the client's AUTH in
the same segment toward the server); respinject (an extra reply line after
the server's `234`, in its segment).
"""
import os
import re
import subprocess

from . import common
from .common import S, sc, USER, PASSWORD

PROTOCOL = "ftp"
PORT = 21
MODES = ("pass", "strip", "mask", "maskarg", "refuse", "rewrite", "cmdinject", "respinject")
REFUSAL_IS_NO_OFFER = False
REFUSAL = b"534 Request denied for policy reasons (lab middlebox)\r\n"
AUTH_RE = re.compile(rb"^AUTH (TLS|SSL|TLS-C)\s*$", re.I)
FEAT_AUTH_RE = re.compile(rb"^(\s*)AUTH (TLS|SSL)\s*$", re.I)
INJECTED_COMMAND = b"NOOP\r\n"
INJECTED_RESPONSE = b"200 injected by the lab middlebox\r\n"
# For common.check: the request and the go-ahead an injected line follows.
INJECTED = (rb"AUTH (TLS|SSL)", rb"234 ")


# --- middlebox ---------------------------------------------------------------------
class Tamper(common.LineTamper):
    REFUSAL = REFUSAL
    INJECTED_COMMAND = INJECTED_COMMAND
    REFUSED_ACTION = "refused-auth-tls"

    def is_request(self, line):
        return AUTH_RE.match(line.rstrip(b"\r\n"))

    def rewritten(self, line):
        # Same length; the server answers 500, the client may try again.
        return b"XXXX XXX" + line[8:]

    def from_server(self, data):
        self.sbuf += data
        out = b""
        while b"\n" in self.sbuf:
            line, _, self.sbuf = self.sbuf.partition(b"\n")
            line += b"\n"
            m = FEAT_AUTH_RE.match(line.rstrip(b"\r\n"))
            if m and self.mode == "strip":
                self.actions.append("removed-capability")
                continue
            if m and self.mode == "mask":
                line = line.replace(b"AUTH " + m.group(2), b"XXXX XXX")
                self.actions.append("masked-capability")
            if m and self.mode == "maskarg":
                line = line.replace(b"AUTH " + m.group(2), b"AUTH XXX")
                self.actions.append("masked-capability")
            out += line
            if self.pending and re.match(rb"^\d{3} ", line):
                self.pending = False
                if line.startswith(b"234"):
                    if self.mode == "respinject":
                        out += INJECTED_RESPONSE
                        self.actions.append("injected-response")
                    out, self.sbuf = out + self.sbuf, b""
                    return out, True
        return out, False


# --- servers -----------------------------------------------------------------------
CONF = """ServerName "lab ftp"
ServerIdent on "FTP server ready"
ServerType standalone
DefaultServer on
Port 21
DefaultAddress {addr}
SocketBindTight on
UseIPv6 off
User nobody
Group nogroup
PidFile {w}/proftpd-{tag}.pid
ScoreboardFile {w}/proftpd-{tag}.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
TransferLog none
SystemLog {w}/proftpd-{tag}.log
AuthOrder mod_auth_file.c
AuthUserFile {w}/ftpd.passwd
AuthGroupFile {w}/ftpd.group
RequireValidShell off
DefaultRoot ~
ModulePath /usr/lib/proftpd
{tls}
"""
TLS = """LoadModule mod_tls.c
<IfModule mod_tls.c>
TLSEngine on
TLSLog {w}/proftpd-tls.log
TLSProtocol TLSv1.2 TLSv1.3
TLSECCertificateFile {w}/cert.pem
TLSECCertificateKeyFile {w}/ftp-key.pem
TLSRequired off
TLSOptions NoSessionReuseRequired
TLSVerifyClient off
</IfModule>"""


def start(env, w, ns_srv):
    """Two ProFTPD daemons in the server namespace: with TLS (AUTH TLS in
    FEAT) on LAB_SRV4, without on LAB_SRV4_PLAIN. User alice in an
    AuthUserFile (no system user)."""
    crypt = subprocess.run(["openssl", "passwd", "-6", PASSWORD], capture_output=True, check=True,
                           text=True).stdout.strip()
    home = os.path.join(w, "ftphome")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "hello.txt"), "w") as fh:
        fh.write("hello from the lab\n")
    subprocess.run(["chown", "-R", "65534:65534", home], check=True)
    with open(os.path.join(w, "ftpd.passwd"), "w") as fh:
        fh.write(f"{USER}:{crypt}:65534:65534::{home}:/bin/sh\n")
    with open(os.path.join(w, "ftpd.group"), "w") as fh:
        fh.write("nogroup:x:65534:\n")
    os.chmod(os.path.join(w, "ftpd.passwd"), 0o600)
    subprocess.run(["install", "-m", "600", os.path.join(w, "key.pem"), os.path.join(w, "ftp-key.pem")], check=True)
    procs = []
    for tag, addr, tls in (("tls", env["LAB_SRV4"], TLS.format(w=w)), ("plain", env["LAB_SRV4_PLAIN"], "")):
        conf = os.path.join(w, f"proftpd-{tag}.conf")
        with open(conf, "w") as fh:
            fh.write(CONF.format(addr=addr, w=w, tag=tag, tls=tls))
        procs.append(subprocess.Popen(["ip", "netns", "exec", ns_srv, "proftpd", "-n", "-c", conf],
                                      stdout=open(os.path.join(w, f"proftpd-{tag}.out.log"), "w"),
                                      stderr=subprocess.STDOUT))
    return procs, [(env["LAB_SRV4"], PORT), (env["LAB_SRV4_PLAIN"], PORT)]


# --- clients -----------------------------------------------------------------------
def curl(*opts):
    # -I: login, PWD, MDTM, SIZE of a file; no data connection (the client
    # namespace has no route to the server's PASV address).
    return ["curl", "-sS", "-k", "--max-time", "15", "-I", *opts, "-u", f"{USER}:{PASSWORD}",
            "ftp://{host}:{port}/hello.txt"]


def lftp(*settings):
    script = "; ".join(["set ssl:verify-certificate no", "set net:max-retries 1",
                        "set net:timeout 10", *settings, "quote PWD", "bye"])
    return ["lftp", "-u", f"{USER},{PASSWORD}", "-p", "{port}", "-e", script, "{host}"]


def py(tls):
    return ["/usr/bin/python3", "{lab}/upgrade/ftp_client.py", "{host}", "{port}", tls]


CLIENTS = ("curl --ssl", "curl --ssl-reqd", "lftp (default: ftp:ssl-allow yes)",
           "lftp ftp:ssl-force yes", "python ftplib, AUTH TLS if in FEAT", "python ftplib FTP_TLS.auth()")


def tampered(mode):
    """The six clients against one tampering mode (server with TLS)."""
    stripped = mode in ("strip", "mask", "maskarg")
    refused = mode in ("refuse", "rewrite")
    cleartext = [("USER-PASS", USER)]
    # curl and lftp never look at FEAT for AUTH TLS: they send it anyway.
    return [
        S(CLIENTS[0], curl("--ssl"), mode, starttls=True, tls=not refused, caps=False,
          creds=cleartext if refused else []),
        S(CLIENTS[1], curl("--ssl-reqd"), mode, starttls=True, tls=not refused, caps=False,
          ok=not refused),
        S(CLIENTS[2], lftp(), mode, starttls=True, tls=not refused, creds=cleartext if refused else []),
        S(CLIENTS[3], lftp("set ftp:ssl-force yes"), mode, starttls=True, tls=not refused,
          ok=not refused),
        S(CLIENTS[4], py("opportunistic"), mode, starttls=not stripped, tls=not (stripped or refused),
          creds=cleartext if stripped else [], ok=not refused),
        S(CLIENTS[5], py("required"), mode, starttls=True, tls=not refused, caps=False, ok=not refused),
    ]


def scenarios():
    return [
        sc("ftp-clean-auth-tls", "ftp", PORT, tampered("pass"),
           about="ProFTPD with AUTH TLS, every client untouched"),
        sc("ftp-cleartext-auth", "ftp", PORT, [
            S("curl (no --ssl)", curl(), caps=False, creds=[("USER-PASS", USER)]),
            S("lftp ftp:ssl-allow no", lftp("set ftp:ssl-allow no"), creds=[("USER-PASS", USER)]),
            S("python ftplib FTP, no TLS", py("none"), caps=False, creds=[("USER-PASS", USER)]),
        ], about="ProFTPD with AUTH TLS offered, clients told not to use it"),
        sc("ftp-no-tls-server", "ftp", PORT, [
            S(CLIENTS[0], curl("--ssl"), starttls=True, caps=False, creds=[("USER-PASS", USER)]),
            S(CLIENTS[1], curl("--ssl-reqd"), starttls=True, caps=False, ok=False),
            S(CLIENTS[2], lftp(), starttls=True, creds=[("USER-PASS", USER)]),
            S(CLIENTS[3], lftp("set ftp:ssl-force yes"), starttls=True, ok=False),
            S(CLIENTS[4], py("opportunistic"), creds=[("USER-PASS", USER)]),
            S(CLIENTS[5], py("required"), starttls=True, caps=False, ok=False),
        ], server="plain", about="ProFTPD without mod_tls"),
        sc("ftp-strip", "ftp", PORT, tampered("strip"), server_side=True,
           about="AUTH TLS/AUTH SSL removed from FEAT"),
        sc("ftp-mask", "ftp", PORT, tampered("mask"), server_side=True,
           about="AUTH TLS/AUTH SSL in FEAT overwritten XXXX XXX"),
        sc("ftp-mask-argument", "ftp", PORT, tampered("maskarg"), server_side=True,
           about="AUTH TLS/AUTH SSL in FEAT rewritten AUTH XXX (only the mechanism masked)"),
        sc("ftp-refuse", "ftp", PORT, tampered("refuse"), server_side=True,
           about="AUTH TLS/AUTH SSL answered 534 by the middlebox"),
        sc("ftp-rewrite", "ftp", PORT, tampered("rewrite"), server_side=True,
           about="the client's AUTH TLS/AUTH SSL reaches ProFTPD overwritten XXXX XXX"),
        sc("ftp-injection", "ftp", PORT, injection(), server_side=True,
           about="command injection (AUTH TLS\\r\\nNOOP) and response injection after 234"),
    ]


# Measured around an accepted AUTH TLS (samples/lab/README.md): ProFTPD
# discards the pipelined NOOP (TLS established, every client succeeds);
# curl refuses bytes after the 234 ("Weird server reply", no ClientHello:
# the CVE-2021-22947 fix); lftp and ftplib drop the buffered line, TLS.
INJECTED_KW = {(CLIENTS[1], "respinject"): dict(tls=False, ok=False)}


def injection():
    """Three clients that require TLS, under command injection, then under
    response injection."""
    out = []
    for mode in ("cmdinject", "respinject"):
        for label, argv, caps in ((CLIENTS[1], curl("--ssl-reqd"), False),
                                  (CLIENTS[3], lftp("set ftp:ssl-force yes"), True),
                                  (CLIENTS[5], py("required"), False)):
            kw = dict(dict(starttls=True, tls=True, caps=caps), **INJECTED_KW.get((label, mode), {}))
            out.append(S(f"{label} [{mode}]", argv, mode, **kw))
    return out


# --- truth -------------------------------------------------------------------------
def lifecycle(sc_, sess, side):
    """(offered, requested, accepted) on one side, from what was done."""
    mode = sess["mode"]
    client_side = side == "client"
    server_tls = sc_["server"] == "tls"
    if not sess["caps"]:
        offered = None
    elif client_side:
        offered = server_tls and mode not in ("strip", "mask", "maskarg")
    else:
        offered = server_tls
    requested = sess["starttls"] and (client_side or mode not in ("refuse", "rewrite"))
    if not requested:
        accepted = None
    elif client_side and mode in ("refuse", "rewrite"):
        accepted = False
    else:
        accepted = server_tls
    return offered, requested, accepted


def lines(data):
    return [ln.rstrip(b"\r") for ln in data.split(b"\n") if ln.strip()]


def observe(path):
    out = []
    for st in common.streams(path):
        cli, srv, tls, hello = common.split_at_tls(st["chunks"])
        c, s = lines(cli), lines(srv)
        f = {"client": st["client"], "server": st["server"], "tls_established": tls, "hello": hello}
        # FEAT's reply: from `211-` to `211 `; a 5xx answer is a list without AUTH TLS.
        offered = None
        if any(ln.upper() == b"FEAT" for ln in c):
            offered = False
            in_feat = False
            for ln in s:
                if ln.startswith(b"211-"):
                    in_feat = True
                elif in_feat and ln.startswith(b"211 "):
                    in_feat = False
                elif in_feat and re.match(rb"^\s*AUTH TLS\s*$", ln, re.I):
                    offered = True
        f["starttls_offered"] = offered
        auths = [ln for ln in c if AUTH_RE.match(ln)]
        f["starttls_requested"] = bool(auths)
        # Replies to AUTH: the server's reply lines with 234 or 4xx/5xx after the
        # greeting; the last AUTH's answer decides.
        answers = [ln for ln in s if re.match(rb"^(234|[45]\d\d) ", ln)]
        f["starttls_accepted"] = None
        if auths:
            f["starttls_accepted"] = any(a.startswith(b"234") for a in answers)
        f["creds"] = []
        for i, ln in enumerate(c):
            w = ln.split(None, 1)
            if w and w[0].upper() == b"USER" and len(w) == 2 and any(x.upper().startswith(b"PASS") for x in c[i + 1:]):
                f["creds"].append(("USER-PASS", w[1].decode()))
        f["masked"] = any(re.match(rb"^\s*(AUTH|XXXX) XXX\s*$", ln) for ln in s)
        f["refusal"] = any(ln.startswith(b"534 Request denied") for ln in s)
        f["rewritten"] = any(ln == b"XXXX XXX" for ln in c)
        f["chunks"] = st["chunks"]
        out.append(f)
    return out


def extra_claims(sc_, side, sess, o):
    mode = sess["mode"]
    if side == "client" and mode in ("mask", "maskarg") and sess["caps"] and not o["masked"]:
        yield "no `XXXX XXX` / `AUTH XXX` feature line in the capture"
    if side == "client" and mode == "refuse" and sess["starttls"] and not o["refusal"]:
        yield "no 534 refusal in the capture"
    if side == "server" and mode in ("refuse", "rewrite") and o["starttls_requested"]:
        yield "the server saw AUTH although the middlebox refused or overwrote it"
    if side == "server" and mode == "rewrite" and sess["starttls"] and not o["rewritten"]:
        yield "no `XXXX XXX` command in the capture"
