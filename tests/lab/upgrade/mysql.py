"""MySQL protocol: MariaDB 10.11 from Debian (mariadbd from data dirs in
the lab's temp dir; one with TLS, one with --skip-ssl) and the mariadb
command-line client with and without --ssl / --ssl-verify-server-cert.

Middlebox modes: pass; strip (CLIENT_SSL, 0x0800, cleared in the server
greeting's capability flags: the BACKRONYM class).
"""
import os
import struct
import subprocess
import time

from . import common
from .common import S, sc, USER, PASSWORD

PROTOCOL = "mysql"
PORT = 3306
MODES = ("pass", "strip")
REFUSAL_IS_NO_OFFER = False
CLIENT_SSL = 0x0800
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_LENENC_DATA = 0x200000


def greeting_caps_at(payload):
    """Offset of the lower capability flags in a protocol-10 greeting."""
    end = payload.index(b"\0", 1)
    return end + 1 + 4 + 8 + 1


class Tamper:
    def __init__(self, mode):
        self.mode = mode
        self.actions = []
        self.buf = b""

    def from_client(self, data):
        return data, b"", True

    def from_server(self, data):
        self.buf += data
        if len(self.buf) < 4:
            return b"", False
        length = int.from_bytes(self.buf[:3], "little")
        if len(self.buf) < 4 + length:
            return b"", False
        pkt = bytearray(self.buf)
        payload = pkt[4:4 + length]
        if payload[:1] == b"\x0a":
            at = 4 + greeting_caps_at(bytes(payload))
            caps = int.from_bytes(pkt[at:at + 2], "little")
            if caps & CLIENT_SSL:
                pkt[at:at + 2] = (caps & ~CLIENT_SSL).to_bytes(2, "little")
                self.actions.append("cleared-client-ssl")
        self.buf = b""
        return bytes(pkt), True


# --- servers -----------------------------------------------------------------------
def start(env, w, ns_srv):
    procs, listeners = [], []
    subprocess.run(["install", "-o", "mysql", "-g", "mysql", "-m", "600", os.path.join(w, "key.pem"),
                    os.path.join(w, "mysql-key.pem")], check=True)
    for tag, addr, tls in (("tls", env["LAB_SRV4"], True), ("plain", env["LAB_SRV4_PLAIN"], False)):
        data, run = os.path.join(w, f"mysql-{tag}"), os.path.join(w, f"mysql-run-{tag}")
        sock = os.path.join(run, "mysqld.sock")
        for d in (data, run):
            os.makedirs(d, mode=0o755, exist_ok=True)
            subprocess.run(["chown", "mysql:mysql", d], check=True)
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={data}",
                        "--skip-test-db", "--auth-root-authentication-method=socket"],
                       check=True, capture_output=True, cwd=w)
        argv = ["mariadbd", "--no-defaults", "--user=mysql", f"--datadir={data}", f"--socket={sock}",
                f"--port={PORT}", f"--bind-address={addr}", f"--pid-file={run}/mysqld.pid",
                "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                f"--log-error={run}/mariadb.log"]
        argv += [f"--ssl-cert={w}/cert.pem", f"--ssl-key={w}/mysql-key.pem"] if tls else ["--skip-ssl"]
        procs.append(subprocess.Popen(["ip", "netns", "exec", ns_srv, *argv], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, cwd=w))
        for _ in range(150):
            if os.path.exists(sock):
                break
            time.sleep(0.2)
        subprocess.run(["ip", "netns", "exec", ns_srv, "mariadb", "--no-defaults", "-S", sock, "-u", "root", "-e",
                        f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';"], check=True, capture_output=True)
        listeners.append((addr, PORT))
    return procs, listeners


# --- clients -----------------------------------------------------------------------
def mariadb(*opts):
    return ["mariadb", "--no-defaults", "-h", "{host}", "-P", "{port}", "-u", USER, f"-p{PASSWORD}",
            "--connect-timeout=10", *opts, "-N", "-e", "select current_user()"]


CA = "--ssl-ca={work}/cert.pem"
NATIVE = [("MYSQL-mysql_native_password", USER)]
CLIENTS = ("mariadb (no ssl option)", "mariadb --ssl", "mariadb --ssl --ssl-verify-server-cert",
           "mariadb --skip-ssl")


def scenarios():
    return [
        sc("mysql-clean-ssl", PROTOCOL, PORT, [
            S(CLIENTS[0], mariadb(), starttls=True, tls=True),
            S(CLIENTS[1], mariadb("--ssl"), starttls=True, tls=True),
            S(CLIENTS[2], mariadb("--ssl", "--ssl-verify-server-cert", CA), starttls=True, tls=True),
        ], about="MariaDB with TLS (greeting has CLIENT_SSL)"),
        sc("mysql-cleartext-auth", PROTOCOL, PORT, [
            S(CLIENTS[3], mariadb("--skip-ssl"), creds=NATIVE),
        ], about="MariaDB with TLS, client told not to use it"),
        sc("mysql-no-ssl-server", PROTOCOL, PORT, [
            S(CLIENTS[0], mariadb(), creds=NATIVE),
            S(CLIENTS[1], mariadb("--ssl"), creds=NATIVE),
            S(CLIENTS[2], mariadb("--ssl", "--ssl-verify-server-cert", CA), ok=False),
        ], server="plain", about="MariaDB with --skip-ssl"),
        sc("mysql-strip", PROTOCOL, PORT, [
            S(CLIENTS[1] + " (untouched)", mariadb("--ssl"), starttls=True, tls=True),
            S(CLIENTS[0], mariadb(), "strip", creds=NATIVE),
            S(CLIENTS[1], mariadb("--ssl"), "strip", creds=NATIVE),
            S(CLIENTS[2], mariadb("--ssl", "--ssl-verify-server-cert", CA), "strip", ok=False),
        ], server_side=True, about="CLIENT_SSL cleared in the greeting; one untouched session first"),
    ]


# --- truth -------------------------------------------------------------------------
def lifecycle(sc_, sess, side):
    server_tls = sc_["server"] == "tls"
    offered = server_tls and (side == "server" or sess["mode"] != "strip")
    requested = sess["starttls"]
    return offered, requested, (True if requested else None)


def observe(path):
    out = []
    for st in common.streams(path):
        cli, srv, tls, hello = common.split_at_tls(st["chunks"])
        f = {"client": st["client"], "server": st["server"], "tls_established": tls,
             "starttls_offered": None, "starttls_requested": False, "starttls_accepted": None, "creds": []}
        if len(srv) > 4 and srv[4] == 0x0a:
            length = int.from_bytes(srv[:3], "little")
            payload = srv[4:4 + length]
            at = greeting_caps_at(payload)
            f["starttls_offered"] = bool(int.from_bytes(payload[at:at + 2], "little") & CLIENT_SSL)
        if len(cli) > 4:
            length = int.from_bytes(cli[:3], "little")
            p = cli[4:4 + length]
            caps = int.from_bytes(p[:4], "little")
            if length == 32 and caps & CLIENT_SSL:
                f["starttls_requested"] = True
                f["starttls_accepted"] = hello and tls
            elif length > 32:
                end = p.index(b"\0", 32)
                user = p[32:end].decode()
                i = end + 1
                if caps & CLIENT_LENENC_DATA:
                    n, i = p[i], i + 1  # the lab's responses are short (< 251)
                elif caps & CLIENT_SECURE_CONNECTION:
                    n, i = p[i], i + 1
                else:
                    n = p.index(b"\0", i) - i
                auth_len, i = n, i + n + (0 if caps & (CLIENT_LENENC_DATA | CLIENT_SECURE_CONNECTION) else 1)
                if caps & CLIENT_CONNECT_WITH_DB:
                    i = p.index(b"\0", i) + 1
                plugin = p[i:p.index(b"\0", i)].decode() if caps & CLIENT_PLUGIN_AUTH and i < len(p) else ""
                if auth_len:
                    f["creds"].append((f"MYSQL-{plugin}", user))
        out.append(f)
    return out


def extra_claims(sc_, side, sess, o):
    return []
