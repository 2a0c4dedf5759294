"""LDAP StartTLS (RFC 4511, 4513): OpenLDAP slapd 2.5 from Debian (package
installed unconfigured; slapd run from a slapd.conf and an mdb database in
the lab's temp dir as the openldap user), clients ldapsearch with -Z
(try StartTLS), -ZZ (require it) and without, simple bind as
uid=alice,dc=lab,dc=example.

Middlebox modes: pass; refuse (the StartTLS ExtendedRequest answered by
the middlebox with an ExtendedResponse, resultCode unavailable (52); the
server never sees it). No strip: nothing offers StartTLS before it is
asked for unless the root DSE is read.

"""
import os
import subprocess

from . import common
from .common import S, sc, USER, PASSWORD

PROTOCOL = "ldap"
PORT = 389
MODES = ("pass", "refuse")
REFUSAL_IS_NO_OFFER = False
STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
DN = f"uid={USER},dc=lab,dc=example"


def ber(data, i):
    """(tag, value start, value end) of the BER element at i, or None."""
    if i + 2 > len(data):
        return None
    tag, n = data[i], data[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if i + k > len(data):
            return None
        n = int.from_bytes(data[i:i + k], "big")
        i += k
    if i + n > len(data):
        return None
    return tag, i, i + n


def messages(data):
    """[(message id, protocolOp tag, op value bytes)] of an LDAP byte stream."""
    out, i = [], 0
    while True:
        m = ber(data, i)
        if not m or m[0] != 0x30:
            return out
        _, start, end = m
        mid = ber(data, start)
        op = ber(data, mid[2]) if mid else None
        if not op:
            return out
        out.append((int.from_bytes(data[mid[1]:mid[2]], "big"), op[0], data[op[1]:op[2]], data[mid[1]:mid[2]]))
        i = end


class Tamper:
    def __init__(self, mode):
        self.mode = mode
        self.actions = []
        self.buf = b""

    def from_client(self, data):
        self.buf += data
        to_server, to_client = b"", b""
        while True:
            m = ber(self.buf, 0)
            if not m:
                return to_server, to_client, False
            msg, self.buf = self.buf[:m[2]], self.buf[m[2]:]
            (mid, tag, value, raw_id), = messages(msg)
            if tag == 0x77 and STARTTLS_OID in value:
                if self.mode == "refuse":
                    self.actions.append("refused-starttls")
                    body = b"\x0a\x01\x34\x04\x00\x04\x00"  # unavailable, no matchedDN, no message
                    op = b"\x78" + bytes([len(body)]) + body
                    idf = b"\x02" + bytes([len(raw_id)]) + raw_id
                    to_client += b"\x30" + bytes([len(idf) + len(op)]) + idf + op
                    continue
                out, self.buf = to_server + msg + self.buf, b""
                return out, to_client, True
            to_server += msg

    def from_server(self, data):
        # The server's answer to StartTLS is followed by the TLS handshake;
        # nothing to tamper with on this side.
        return data, True


CONF = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {run}/slapd.pid
argsfile {run}/slapd.args
TLSCertificateFile {w}/cert.pem
TLSCertificateKeyFile {run}/key.pem
database mdb
maxsize 10485760
suffix "dc=lab,dc=example"
rootdn "cn=admin,dc=lab,dc=example"
directory {db}
access to attrs=userPassword by self read by anonymous auth by * none
access to * by * read
"""
LDIF = f"""dn: dc=lab,dc=example
objectClass: dcObject
objectClass: organization
o: lab
dc: lab

dn: {DN}
objectClass: inetOrgPerson
uid: {USER}
cn: Alice
sn: Lab
mail: alice@lab.example
userPassword: {PASSWORD}
"""


def start(env, w, ns_srv):
    run, db = os.path.join(w, "ldap-run"), os.path.join(w, "ldap-db")
    for d in (run, db):
        os.makedirs(d, mode=0o750, exist_ok=True)
        subprocess.run(["chown", "openldap:openldap", d], check=True)
    subprocess.run(["install", "-o", "openldap", "-g", "openldap", "-m", "600", os.path.join(w, "key.pem"),
                    os.path.join(run, "key.pem")], check=True)
    conf = os.path.join(w, "slapd.conf")
    with open(conf, "w") as fh:
        fh.write(CONF.format(w=w, run=run, db=db))
    subprocess.run(["runuser", "-u", "openldap", "--", "slapadd", "-f", conf], input=LDIF.encode(),
                   check=True, capture_output=True, cwd=w)
    p = subprocess.Popen(["ip", "netns", "exec", ns_srv, "slapd", "-d", "0", "-f", conf, "-u", "openldap",
                          "-g", "openldap", "-h", f"ldap://{env['LAB_SRV4']}:{PORT}/"],
                         stdout=open(os.path.join(w, "slapd.log"), "w"), stderr=subprocess.STDOUT, cwd=w)
    return [p], [(env["LAB_SRV4"], PORT)]


def ldapsearch(*opts):
    return ["ldapsearch", "-x", "-H", "ldap://{host}:{port}", *opts, "-D", DN, "-w", PASSWORD,
            "-b", "dc=lab,dc=example", "-o", "nettimeout=10", f"(uid={USER})", "mail"]


ENV = {"LDAPTLS_REQCERT": "never"}  # the lab certificate is self-signed
CLIENTS = ("ldapsearch -Z", "ldapsearch -ZZ", "ldapsearch (no -Z)")


def scenarios():
    def tampered(mode):
        refused = mode == "refuse"
        return [
            S(CLIENTS[0], ldapsearch("-Z"), mode, starttls=True, tls=not refused, env=ENV,
              creds=[("LDAP-SIMPLE", DN)] if refused else [], data=refused),
            S(CLIENTS[1], ldapsearch("-ZZ"), mode, starttls=True, tls=not refused, env=ENV, ok=not refused),
        ]
    return [
        sc("ldap-clean-starttls", PROTOCOL, PORT, tampered("pass"), about="slapd with StartTLS"),
        sc("ldap-cleartext-bind", PROTOCOL, PORT, [
            S(CLIENTS[2], ldapsearch(), env=ENV, creds=[("LDAP-SIMPLE", DN)], data=True),
        ], about="simple bind in cleartext"),
        sc("ldap-refuse", PROTOCOL, PORT, tampered("refuse"), server_side=True,
           about="StartTLS answered unavailable (52) by the middlebox"),
    ]


def lifecycle(sc_, sess, side):
    mode = sess["mode"]
    client_side = side == "client"
    requested = sess["starttls"] and (client_side or mode != "refuse")
    accepted = None if not requested else not (client_side and mode == "refuse")
    return None, requested, accepted


def observe(path):
    out = []
    for st in common.streams(path):
        cli, srv, tls, hello = common.split_at_tls(st["chunks"])
        f = {"client": st["client"], "server": st["server"], "tls_established": tls,
             "starttls_offered": None, "starttls_requested": False, "starttls_accepted": None, "creds": []}
        ids = set()
        for mid, tag, value, _ in messages(cli):
            if tag == 0x77 and STARTTLS_OID in value:
                f["starttls_requested"] = True
                ids.add(mid)
            elif tag == 0x60:  # BindRequest: version, name, authentication
                v = ber(value, 0)
                name = ber(value, v[2])
                auth = ber(value, name[2])
                if auth and auth[0] == 0x80 and auth[2] > auth[1]:
                    f["creds"].append(("LDAP-SIMPLE", value[name[1]:name[2]].decode()))
        for mid, tag, value, _ in messages(srv):
            if tag == 0x78 and mid in ids:
                code = ber(value, 0)
                f["starttls_accepted"] = value[code[1]:code[2]] == b"\x00"
        out.append(f)
    return out


def extra_claims(sc_, side, sess, o):
    return []
