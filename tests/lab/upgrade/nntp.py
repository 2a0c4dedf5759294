"""NNTP (RFC 3977, RFC 4642 STARTTLS, RFC 4643 AUTHINFO): INN 2.7's
nnrpd (Debian inn2) run standalone (`nnrpd -D -f`) in the server
namespace from an inn.conf in the temp dir (INNCONF: paths, TLS,
readers.conf with `ckpasswd -f`, Cyrus SASL's sasldb for AUTHINFO SASL
PLAIN through SASL_CONF_PATH), clients Python 3.11's nntplib and a raw
client (nntp_client.py).

Middlebox modes: pass; strip (the `STARTTLS` line removed from the
CAPABILITIES list); mask (rewritten `XXXXXXXX`); refuse (the client's
STARTTLS answered `580` by the middlebox; the server never sees it);
rewrite (the client's STARTTLS reaches the server overwritten `XXXXXXXX`);
cmdinject (`DATE` after STARTTLS in the same segment toward the server);
respinject (an extra `200` line after the server's `382`, in its segment).
"""
import base64
import os
import re
import socket
import subprocess

from . import common
from .common import S, sc, USER, PASSWORD

PROTOCOL = "nntp"
PORT = 119
MODES = ("pass", "strip", "mask", "refuse", "rewrite", "cmdinject", "respinject")
REFUSAL_IS_NO_OFFER = False
REFUSAL = b"580 Can not initiate TLS negotiation (lab middlebox)\r\n"
NNRPD = "/usr/lib/news/bin/nnrpd"
INJECTED_COMMAND = b"DATE\r\n"
INJECTED_RESPONSE = b"200 injected by the lab middlebox\r\n"
INJECTED = (rb"STARTTLS", rb"382 ")  # for common.check


class Tamper(common.LineTamper):
    REFUSAL = REFUSAL
    INJECTED_COMMAND = INJECTED_COMMAND

    def __init__(self, mode):
        super().__init__(mode)
        self.in_caps = False

    def from_server(self, data):
        self.sbuf += data
        out = b""
        while b"\n" in self.sbuf:
            line, _, self.sbuf = self.sbuf.partition(b"\n")
            line += b"\n"
            if self.in_caps:
                if line.rstrip(b"\r\n") == b".":
                    self.in_caps = False
                elif line.strip().upper() == b"STARTTLS" and self.mode == "strip":
                    self.actions.append("removed-capability")
                    continue
                elif line.strip().upper() == b"STARTTLS" and self.mode == "mask":
                    line = line.replace(line.strip(), b"XXXXXXXX")
                    self.actions.append("masked-capability")
            elif line.startswith(b"101"):
                self.in_caps = True
            elif self.pending and re.match(rb"^\d{3}", line):
                self.pending = False
                if line.startswith(b"382"):
                    if self.mode == "respinject":
                        line += INJECTED_RESPONSE
                        self.actions.append("injected-response")
                    out, self.sbuf = out + line + self.sbuf, b""
                    return out, True
            out += line
        return out, False


# --- servers -----------------------------------------------------------------------
def inn_conf(w, tag, tls):
    """/etc/news/inn.conf (the package's) with the lab's paths and TLS."""
    news = os.path.join(w, "news")
    over = {"domain": "lab.example", "pathhost": "lab.example", "server": "lab.example",
            "readerswhenstopped": "true", "pathetc": f"{news}/etc", "pathdb": f"{news}/db",
            "pathrun": f"{news}/run-{tag}", "pathlog": f"{news}/log", "pathspool": f"{news}/spool",
            "pathoverview": f"{news}/overview", "pathtmp": f"{news}/tmp", "patharticles": f"{news}/articles",
            "pathincoming": f"{news}/incoming", "pathoutgoing": f"{news}/outgoing",
            "patharchive": f"{news}/archive", "pathhttp": f"{news}/http"}
    if tls:
        over.update(tlscertfile=f"{news}/cert.pem", tlskeyfile=f"{news}/key.pem")
    out, seen = [], set()
    with open("/etc/news/inn.conf") as fh:
        for ln in fh:
            m = re.match(r"^([a-z0-9]+):", ln)
            if m and m.group(1).startswith("tls"):
                continue
            if m and m.group(1) in over:
                seen.add(m.group(1))
                ln = f"{m.group(1)}: {over[m.group(1)]}\n"
            out.append(ln)
    out += [f"{k}: {v}\n" for k, v in over.items() if k not in seen]
    path = os.path.join(news, f"inn-{tag}.conf")
    with open(path, "w") as fh:
        fh.writelines(out)
    return path


READERS = """auth "lab" {{
    hosts: "*"
    auth: "ckpasswd -f {news}/etc/nnrp.passwd"
}}
access "lab" {{
    users: "*"
    newsgroups: "*"
    access: R
}}
"""


def as_news(env, argv):
    subprocess.run(["runuser", "-u", "news", "--", "env", *env, *argv], check=True, capture_output=True)


def start(env, w, ns_srv):
    """Two nnrpd daemons in the server namespace: with TLS on LAB_SRV4,
    without a certificate on LAB_SRV4_PLAIN (it still offers STARTTLS); a history and an
    empty tradindexed overview built by INN's own tools, as user news."""
    news = os.path.join(w, "news")
    for d in ("etc", "db", "log", "spool", "overview", "tmp", "articles", "incoming", "outgoing", "archive",
              "http", "run-tls", "run-plain", "sasl"):
        os.makedirs(os.path.join(news, d), exist_ok=True)
    for f in ("active", "newsgroups"):
        subprocess.run(["install", "-m", "644", f"/usr/lib/news/examples/{f}", os.path.join(news, "db", f)], check=True)
    open(os.path.join(news, "db", "active.times"), "w").close()
    for f in ("storage.conf",):
        subprocess.run(["install", "-m", "644", f"/etc/news/{f}", os.path.join(news, "etc", f)], check=True)
    with open(os.path.join(news, "etc", "readers.conf"), "w") as fh:
        fh.write(READERS.format(news=news))
    crypt = subprocess.run(["openssl", "passwd", "-6", PASSWORD], capture_output=True, check=True,
                           text=True).stdout.strip()
    with open(os.path.join(news, "etc", "nnrp.passwd"), "w") as fh:
        fh.write(f"{USER}:{crypt}\n")
    # AUTHINFO SASL: Cyrus SASL's application "INN" configured from here.
    sasl = os.path.join(news, "sasl")
    with open(os.path.join(sasl, "INN.conf"), "w") as fh:
        fh.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {sasl}/sasldb2\nmech_list: PLAIN\n")
    for realm in sorted({socket.gethostname(), "lab.example"}):
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{sasl}/sasldb2", "-a", "INN", "-u", realm, USER],
                       input=PASSWORD.encode(), check=True)
    subprocess.run(["install", "-m", "644", os.path.join(w, "cert.pem"), os.path.join(news, "cert.pem")], check=True)
    subprocess.run(["install", "-m", "600", os.path.join(w, "key.pem"), os.path.join(news, "key.pem")], check=True)
    subprocess.run(["chown", "-R", "news:news", news], check=True)
    for f in ("etc/nnrp.passwd", "sasl/sasldb2"):
        os.chmod(os.path.join(news, f), 0o600)
    confs = {tag: inn_conf(w, tag, tag == "tls") for tag in ("tls", "plain")}
    subprocess.run(["chown", "news:news", *confs.values()], check=True)
    inn = [f"INNCONF={confs['tls']}"]
    as_news(inn, ["sh", "-c", f"cd {news}/db && /usr/lib/news/bin/makehistory 2>/dev/null; "
                              "/usr/lib/news/bin/makedbz -i -o && /usr/lib/news/bin/makehistory -O -x 2>/dev/null; "
                              "test -f ../overview/group.index"])
    procs = []
    for tag, addr in (("tls", env["LAB_SRV4"]), ("plain", env["LAB_SRV4_PLAIN"])):
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns_srv, "env", f"INNCONF={confs[tag]}", f"SASL_CONF_PATH={sasl}",
             NNRPD, "-D", "-f", "-n", "-b", addr, "-p", str(PORT)],
            stdout=open(os.path.join(w, f"nnrpd-{tag}.log"), "w"), stderr=subprocess.STDOUT))
    return procs, [(env["LAB_SRV4"], PORT), (env["LAB_SRV4_PLAIN"], PORT)]


# --- clients -----------------------------------------------------------------------
def py(kind):
    return ["/usr/bin/python3", "{lab}/upgrade/nntp_client.py", "{host}", "{port}", kind]


CLIENTS = {
    "nntplib-opportunistic": "python nntplib, starttls() if in CAPABILITIES",
    "nntplib-starttls": "python nntplib, starttls() always",
    "raw-opportunistic": "raw client, STARTTLS if offered, AUTHINFO USER/PASS",
    "sasl-opportunistic": "raw client, STARTTLS if offered, AUTHINFO SASL PLAIN",
}
AUTHINFO = [("AUTHINFO", USER)]
PLAIN = [("PLAIN", USER)]


def creds_of(kind):
    return PLAIN if kind.startswith("sasl") else AUTHINFO


def tampered(mode):
    stripped, refused = mode in ("strip", "mask"), mode in ("refuse", "rewrite")
    out = []
    for kind, name in CLIENTS.items():
        always = kind == "nntplib-starttls"
        requested = always or not stripped
        falls_back = stripped and not always
        out.append(S(name, py(kind), mode, starttls=requested, tls=mode == "pass" or (always and stripped),
                     creds=creds_of(kind) if falls_back else [], ok=not refused))
    return out


def scenarios():
    return [
        sc("nntp-clean-starttls", PROTOCOL, PORT, tampered("pass"), about="INN 2.7 nnrpd, STARTTLS, untouched"),
        sc("nntp-cleartext-auth", PROTOCOL, PORT, [
            S("python nntplib, no TLS", py("nntplib-none"), creds=AUTHINFO),
            S("raw client, no TLS, AUTHINFO USER/PASS", py("raw-none"), creds=AUTHINFO),
            S("raw client, no TLS, AUTHINFO SASL PLAIN", py("sasl-none"), creds=PLAIN),
        ], about="STARTTLS offered, the clients authenticate in cleartext"),
        # nnrpd built with OpenSSL advertises STARTTLS whether or not a
        # certificate exists (tlscertfile defaults to <pathetc>/cert.pem),
        # and answers it 580: every client asks, is refused and stops.
        sc("nntp-no-tls-server", PROTOCOL, PORT, [
            S(name, py(kind), starttls=True, ok=False) for kind, name in CLIENTS.items()
        ], server="plain", about="nnrpd without a certificate: STARTTLS still advertised, answered "
                                 "580 Error initializing TLS by the server itself"),
        sc("nntp-strip", PROTOCOL, PORT,
           [S(CLIENTS["raw-opportunistic"] + " (untouched)", py("raw-opportunistic"), starttls=True, tls=True)]
           + tampered("strip"), server_side=True,
           about="STARTTLS removed from CAPABILITIES; one untouched session first"),
        sc("nntp-mask", PROTOCOL, PORT, tampered("mask"), server_side=True,
           about="STARTTLS in CAPABILITIES overwritten XXXXXXXX"),
        sc("nntp-refuse", PROTOCOL, PORT, tampered("refuse"), server_side=True,
           about="STARTTLS answered 580 by the middlebox"),
        sc("nntp-rewrite", PROTOCOL, PORT, tampered("rewrite"), server_side=True,
           about="the client's STARTTLS reaches nnrpd overwritten XXXXXXXX"),
        sc("nntp-injection", PROTOCOL, PORT, [
            S(f"{name} [{mode}]", py(kind), mode, starttls=True,
              **dict(dict(tls=True), **INJECTED_KW.get((kind, mode), {})))
            for mode in ("cmdinject", "respinject") for kind, name in CLIENTS.items()],
           server_side=True, about="command injection (STARTTLS\\r\\nDATE) and response injection after 382"),
    ]


# Measured around an accepted STARTTLS (samples/lab/README.md): nnrpd
# discards the pipelined DATE (no 111 in cleartext, TLS established);
# nntplib and the raw client drop the buffered line: every session gets TLS.
INJECTED_KW = {}


# --- truth -------------------------------------------------------------------------
def lifecycle(sc_, sess, side):
    mode = sess["mode"]
    client_side = side == "client"
    server_tls = sc_["server"] == "tls"
    # nnrpd advertises STARTTLS even without a certificate (nntp-no-tls-server).
    offered = not (client_side and mode in ("strip", "mask"))
    requested = sess["starttls"] and (client_side or mode not in ("refuse", "rewrite"))
    if not requested:
        accepted = None
    elif client_side and mode in ("refuse", "rewrite"):
        accepted = False
    else:
        accepted = server_tls
    return offered, requested, accepted


def observe(path):
    out = []
    for st in common.streams(path):
        cli, srv, tls, hello = common.split_at_tls(st["chunks"])
        c = [ln.rstrip(b"\r") for ln in cli.split(b"\n") if ln.strip()]
        s = [ln.rstrip(b"\r") for ln in srv.split(b"\n") if ln.strip()]
        f = {"client": st["client"], "server": st["server"], "tls_established": tls, "creds": []}
        # The first CAPABILITIES list (101 ... .) decides the offer.
        caps, in_caps, seen = [], False, False
        for ln in s:
            if in_caps:
                if ln == b".":
                    break
                caps.append(ln.strip().upper())
            elif ln.startswith(b"101"):
                in_caps = seen = True
        f["starttls_offered"] = (b"STARTTLS" in caps) if seen else None
        f["masked"] = b"XXXXXXXX" in caps
        f["starttls_requested"] = any(ln.strip().upper() == b"STARTTLS" for ln in c)
        f["starttls_accepted"] = None
        if f["starttls_requested"]:
            f["starttls_accepted"] = any(ln.startswith(b"382") for ln in s)
        f["refusal"] = any(ln.startswith(b"580 Can not initiate TLS negotiation (lab") for ln in s)
        f["rewritten"] = any(ln == b"XXXXXXXX" for ln in c)
        f["chunks"] = st["chunks"]
        for i, ln in enumerate(c):
            w = ln.split()
            if len(w) == 3 and w[0].upper() == b"AUTHINFO" and w[1].upper() == b"USER" \
                    and any(x.upper().startswith(b"AUTHINFO PASS ") for x in c[i + 1:]):
                f["creds"].append(("AUTHINFO", w[2].decode()))
            if len(w) >= 3 and w[0].upper() == b"AUTHINFO" and w[1].upper() == b"SASL":
                raw = base64.b64decode(w[3]) if len(w) > 3 else b""
                user = raw.split(b"\0")[1].decode() if raw.count(b"\0") == 2 else ""
                f["creds"].append((w[2].upper().decode(), user))
        out.append(f)
    return out


def extra_claims(sc_, side, sess, o):
    mode = sess["mode"]
    if side == "client" and mode == "mask" and not o["masked"]:
        yield "no XXXXXXXX capability line in the capture"
    if side == "client" and mode == "refuse" and sess["starttls"] and not o["refusal"]:
        yield "no 580 refusal in the capture"
    if side == "server" and mode in ("refuse", "rewrite") and o["starttls_requested"]:
        yield "the server saw STARTTLS although the middlebox refused or overwrote it"
    if side == "server" and mode == "rewrite" and sess["starttls"] and not o["rewritten"]:
        yield "no XXXXXXXX command in the capture"
