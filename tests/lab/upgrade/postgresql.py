"""PostgreSQL: two throwaway clusters (PostgreSQL 15 from Debian, run as
the packages' `postgres` user from data dirs in the lab's temp dir; one
with ssl=on and a self-signed certificate, one with ssl=off), psql (libpq)
with sslmode prefer / require / disable, password auth methods password,
md5 and scram-sha-256 (one user each).

Middlebox modes: pass; strip (the middlebox answers `N` to the client's
SSLRequest itself, the server never sees it, then relays the cleartext
startup and authentication both ways).
"""
import os
import struct
import subprocess
import time

from . import common
from .common import S, sc, PASSWORD

PROTOCOL = "postgresql"
PORT = 5432
MODES = ("pass", "strip")
REFUSAL_IS_NO_OFFER = True  # `N` is both the missing offer and the refusal
SSL_REQUEST, GSSENC_REQUEST, PROTOCOL_3 = 80877103, 80877104, 196608
BIN = "/usr/lib/postgresql/15/bin"
# user -> pg_hba method (the password is the lab's throwaway one for all)
USERS = {"alice_pw": "password", "alice_md5": "md5", "alice": "scram-sha-256"}
MECH = {"password": "PG-PASSWORD", "md5": "PG-MD5", "scram-sha-256": "PG-SCRAM-SHA-256"}


class Tamper:
    def __init__(self, mode):
        self.mode = mode
        self.actions = []
        self.buf = b""

    def from_client(self, data):
        self.buf += data
        to_client = b""
        while len(self.buf) >= 8:
            length, code = struct.unpack(">II", self.buf[:8])
            if length == 8 and code in (SSL_REQUEST, GSSENC_REQUEST):
                self.buf = self.buf[8:]
                to_client += b"N"
                self.actions.append("answered-N" if code == SSL_REQUEST else "answered-N-gssenc")
                continue
            break
        if len(self.buf) < 8 and not to_client and len(self.buf) > 0:
            return b"", b"", False  # wait for the first message's header
        out, self.buf = self.buf, b""
        return out, to_client, True

    def from_server(self, data):
        return data, True


# --- servers -----------------------------------------------------------------------
def as_postgres(ns, *argv, **kw):
    return ["ip", "netns", "exec", ns, "runuser", "-u", "postgres", "--", *argv]


def start(env, w, ns_srv):
    procs, listeners = [], []
    for tag, addr, ssl in (("tls", env["LAB_SRV4"], True), ("plain", env["LAB_SRV4_PLAIN"], False)):
        data, sock = os.path.join(w, f"pg-{tag}"), os.path.join(w, f"pgsock-{tag}")
        for d in (sock, data):
            os.makedirs(d, mode=0o700, exist_ok=True)
            subprocess.run(["chown", "postgres:postgres", d], check=True)
        subprocess.run(["runuser", "-u", "postgres", "--", f"{BIN}/initdb", "-D", data, "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True, cwd=w)
        conf = [f"listen_addresses = '{addr}'", f"port = {PORT}", f"unix_socket_directories = '{sock}'",
                "fsync = off", "log_connections = on", f"ssl = {'on' if ssl else 'off'}"]
        if ssl:
            for src, dst in (("cert.pem", "server.crt"), ("key.pem", "server.key")):
                subprocess.run(["install", "-o", "postgres", "-g", "postgres", "-m", "600",
                                os.path.join(w, src), os.path.join(data, dst)], check=True)
            conf += ["ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"]
        with open(os.path.join(data, "postgresql.conf"), "a") as fh:
            fh.write("\n".join(conf) + "\n")
        with open(os.path.join(data, "pg_hba.conf"), "w") as fh:
            fh.write("local all postgres trust\n")
            for user, method in USERS.items():
                fh.write(f"host all {user} all {method}\n")
        log = open(os.path.join(w, f"postgres-{tag}.log"), "w")
        procs.append(subprocess.Popen(as_postgres(ns_srv, f"{BIN}/postgres", "-D", data),
                                      stdout=log, stderr=subprocess.STDOUT, cwd=w))
        for _ in range(100):
            if os.path.exists(os.path.join(sock, f".s.PGSQL.{PORT}")):
                break
            time.sleep(0.1)
        sql = []
        for user, method in USERS.items():
            enc = "md5" if method == "md5" else "scram-sha-256"
            sql.append(f"SET password_encryption = '{enc}'; CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}';")
        subprocess.run(as_postgres(ns_srv, f"{BIN}/psql", "-h", sock, "-U", "postgres", "-d", "postgres",
                                   "-q", "-c", " ".join(sql)), check=True, capture_output=True, cwd=w)
        listeners.append((addr, PORT))
    return procs, listeners


# --- clients -----------------------------------------------------------------------
def psql(user, sslmode):
    return ["psql", f"host={{host}} port={{port}} dbname=postgres user={user} sslmode={sslmode} connect_timeout=10",
            "-X", "-At", "-c", "select current_user"]


def P(label, user, sslmode, mode="pass", tls=False, creds=True, ok=True, server_tls=True):
    """One psql run; `creds`: its password message crosses in cleartext."""
    return S(f"psql sslmode={sslmode}, {USERS[user]} ({user}){label}", psql(user, sslmode), mode,
             starttls=sslmode != "disable", tls=tls, ok=ok, env={"PGPASSWORD": PASSWORD},
             creds=[(MECH[USERS[user]], user)] if creds else [])


def scenarios():
    return [
        sc("postgresql-clean-ssl", PROTOCOL, PORT, [
            P("", "alice", "prefer", tls=True, creds=False),
            P("", "alice_md5", "require", tls=True, creds=False),
            P("", "alice_pw", "prefer", tls=True, creds=False),
        ], about="ssl=on; psql with sslmode prefer and require: SSLRequest, `S`, TLS"),
        sc("postgresql-cleartext-auth", PROTOCOL, PORT, [
            P("", "alice_pw", "disable"),
            P("", "alice_md5", "disable"),
            P("", "alice", "disable"),
        ], about="ssl=on; psql sslmode=disable: no SSLRequest, the password exchange in cleartext"),
        sc("postgresql-no-ssl-server", PROTOCOL, PORT, [
            P("", "alice_pw", "prefer"),
            P("", "alice_md5", "prefer"),
            P("", "alice", "prefer"),
            P("", "alice_pw", "require", creds=False, ok=False),
        ], server="plain", about="ssl=off: the server itself answers `N`"),
        sc("postgresql-strip", PROTOCOL, PORT, [
            P(" (untouched)", "alice", "prefer", tls=True, creds=False),
            P("", "alice_pw", "prefer", mode="strip"),
            P("", "alice_md5", "prefer", mode="strip"),
            P("", "alice", "prefer", mode="strip"),
        ], server_side=True, about="the middlebox answers `N` to SSLRequest; one untouched session first "
                                   "shows the server's `S`"),
        sc("postgresql-strip-require", PROTOCOL, PORT, [
            P("", "alice_pw", "require", mode="strip", creds=False, ok=False),
            P("", "alice", "verify-ca", mode="strip", creds=False, ok=False),
        ], about="the middlebox answers `N`; libpq with sslmode require / verify-ca stops"),
    ]


# --- truth -------------------------------------------------------------------------
def lifecycle(sc_, sess, side):
    server_tls = sc_["server"] == "tls"
    requested = sess["starttls"] and (side == "client" or sess["mode"] != "strip")
    if not requested:
        return None, False, None
    answer = server_tls and (side == "server" or sess["mode"] != "strip")
    return answer, True, answer


def observe(path):
    out = []
    for st in common.streams(path):
        cli, srv, tls, hello = common.split_at_tls(st["chunks"])
        f = {"client": st["client"], "server": st["server"], "tls_established": tls,
             "starttls_offered": None, "starttls_requested": False, "starttls_accepted": None, "creds": []}
        c, s, user = 0, 0, None
        while len(cli) - c >= 8:  # untyped messages: requests and the startup
            length, code = struct.unpack(">II", cli[c:c + 8])
            body = cli[c + 8:c + length]
            c += length
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                answer = srv[s:s + 1]
                s += 1
                if code == SSL_REQUEST:
                    f["starttls_requested"] = True
                    f["starttls_offered"] = f["starttls_accepted"] = answer == b"S"
                continue
            if code == PROTOCOL_3:
                params = body.split(b"\0")
                user = dict(zip(params[0::2], params[1::2])).get(b"user", b"").decode()
            break
        auth = None
        while len(srv) - s >= 5:
            kind, length = srv[s:s + 1], struct.unpack(">I", srv[s + 1:s + 5])[0]
            if kind == b"R" and auth is None:
                code = struct.unpack(">I", srv[s + 5:s + 9])[0]
                auth = {3: "PG-PASSWORD", 5: "PG-MD5", 10: "PG-SCRAM-SHA-256"}.get(code)
            s += 1 + length
        while len(cli) - c >= 5:
            kind, length = cli[c:c + 1], struct.unpack(">I", cli[c + 1:c + 5])[0]
            if kind == b"p" and auth and not f["creds"]:
                f["creds"].append((auth, user))
            c += 1 + length
        out.append(f)
    return out


def extra_claims(sc_, side, sess, o):
    return []
