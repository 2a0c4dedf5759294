#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the committed
samples and a few hand-written dialogs. Run from anywhere:

    python3 fuzz/make_seeds.py

The seeds are small on purpose; the fuzzer grows its own corpus under
fuzz/work/ (not committed). The input formats are described in
fuzz/harness/*.rs.
"""
import base64
import gzip
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "samples")
CORPUS = os.path.join(HERE, "corpus")


def sample(path):
    with open(os.path.join(SAMPLES, path), "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return data


def pcap_records(data):
    """(link type, [(header, frame)]) of a little- or big-endian pcap."""
    magic = data[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(order + "I", data[20:24])[0]
    out, at = [], 24
    while at + 16 <= len(data):
        caplen = struct.unpack(order + "I", data[at + 8:at + 12])[0]
        out.append((data[at:at + 16], data[at + 16:at + 16 + caplen]))
        at += 16 + caplen
    return link, out


def pcap_head(data, n):
    """The file header and the first n records."""
    _, records = pcap_records(data)
    return data[:24] + b"".join(h + f for h, f in records[:n])


def pcapng_head(data, n):
    """The first n blocks of a little-endian pcapng."""
    out, at = b"", 0
    for _ in range(n):
        if at + 8 > len(data):
            break
        length = struct.unpack("<I", data[at + 4:at + 8])[0]
        out += data[at:at + length]
        at += length
    return out


def tcp_payloads(frame, link):
    """(src port, dst port, payload) of an IPv4 TCP frame, or None."""
    off = {1: 14, 113: 16, 276: 20, 101: 0, 0: 4}.get(link)
    if off is None:
        return None
    if link == 1:
        ethertype = struct.unpack(">H", frame[12:14])[0]
        while ethertype in (0x8100, 0x88A8):
            ethertype = struct.unpack(">H", frame[off + 2:off + 4])[0]
            off += 4
    ip = frame[off:]
    if len(ip) < 20:
        return None
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            return None
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
    elif ip[0] >> 4 == 6:
        if ip[6] != 6:
            return None
        tcp = ip[40:]
    else:
        return None
    sport, dport = struct.unpack(">HH", tcp[:4])
    doff = (tcp[12] >> 4) * 4
    return sport, dport, tcp[doff:]


MAIL_PORTS = {25, 465, 587, 2525, 110, 995, 143, 993}


def dialog_events(path, session=0, max_events=60):
    """The payloads of one session of a sample, as dialog events."""
    link, records = pcap_records(sample(path))
    flows = []
    events = {}
    for _, frame in records:
        p = tcp_payloads(frame, link)
        if not p or not p[2]:
            continue
        sport, dport, payload = p
        server = dport in MAIL_PORTS
        key = (sport, dport) if server else (dport, sport)
        if key not in events:
            flows.append(key)
            events[key] = []
        events[key].append((1 if not server else 0, payload))
    if session >= len(flows):
        return b""
    out = b""
    for side, payload in events[flows[session]][:max_events]:
        out += event(side, payload)
    return out


def event(side, payload):
    """One data event: op (side, kind) and the length-prefixed bytes."""
    if len(payload) < 256:
        return bytes([side | (0 << 1), len(payload)]) + payload
    return bytes([side | (5 << 1)]) + struct.pack("<H", len(payload)) + payload


def gap(side, n):
    return bytes([side | (6 << 1), n - 1])


def fin(side):
    return bytes([side | (7 << 1)])


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)

    # capture: file heads of every format.
    t = "transport/"
    for name, n in [("smtp-clean.pcap", 4), ("smtp-big-endian.pcap", 3),
                    ("smtp-nanosecond.pcap", 3), ("imap-sll.pcap", 3),
                    ("pop3-sll2.pcap", 3), ("smtp-raw-ip.pcap", 3),
                    ("smtp-null-loopback.pcap", 3), ("smtp-snaplen-68.pcap", 4)]:
        write("capture", name, pcap_head(sample(t + name), n))
    for name in ["multi-section.pcapng", "pcapng-tsresol-binary.pcapng"]:
        write("capture", name, pcapng_head(sample(t + name), 6))
    write("capture", "smtp.pcap.gz", gzip.compress(pcap_head(sample(t + "smtp-clean.pcap"), 3)))
    write("capture", "truncated.pcap", pcap_head(sample(t + "smtp-clean.pcap"), 2)[:-7])

    # pipeline: whole small captures.
    for name in ["transport/smtp-clean.pcap", "transport/smtp.pcap.gz",
                 "transport/smtp-retransmit-conflict.pcap", "transport/smtp-snaplen-68.pcap",
                 "transport/pcapng-tsresol-binary.pcapng", "transport/smtp-mid-stream.pcap",
                 "findings/smtp-asa.pcap", "findings/imap-starttls-rejected.pcap",
                 "findings/imap-command-tampered.pcap", "findings/pop3-command-tampered.pcap",
                 "findings/pop3-masked.pcap", "findings/imap-masked.pcap"]:
        with open(os.path.join(SAMPLES, name), "rb") as f:
            write("pipeline", os.path.basename(name), f.read())

    # decode: one byte picking the link type (index into LINKS), then a frame.
    link_index = {1: 0, 101: 2, 113: 7, 276: 8, 0: 9}
    for name in ["smtp-clean.pcap", "smtp-vlan.pcap", "smtp-qinq.pcap", "smtp-raw-ip.pcap",
                 "imap-sll.pcap", "pop3-sll2.pcap", "smtp-null-loopback.pcap",
                 "smtp-ipv6-hop-by-hop.pcap", "smtp-snaplen-68.pcap"]:
        link, records = pcap_records(sample(t + name))
        for i in (0, 3):
            write("decode", f"{name}.{i}", bytes([link_index[link]]) + records[i][1])

    # dialog: port hint byte, then the events of a sample session.
    f = "findings/"
    hints = {"smtp": 0, "imap": 1, "pop3": 2}
    for name, sessions in [("smtp-auth.pcap", range(9)), ("smtp-injection.pcap", range(3)),
                           ("smtp-asa.pcap", [0]), ("smtp-helo-fallback.pcap", [0]),
                           ("imap-login-forms.pcap", range(3)), ("imap-sasl.pcap", range(2)),
                           ("imap-preauth.pcap", [0]), ("imap-response-injection.pcap", [0]),
                           ("pop3-credentials.pcap", range(4)), ("pop3-masked.pcap", [0])]:
        proto = name.split("-")[0]
        for s in sessions:
            events = dialog_events(f + name, s)
            if events:
                write("dialog", f"{name}.{s}", bytes([hints[proto]]) + events)
    write("dialog", "clean-starttls.0",
          bytes([0]) + dialog_events(t + "smtp-clean.pcap", 0))

    # dialog_*: the prefix picked by the first byte, then events.
    deep = {
        "dialog_smtp": [
            (2, [(1, b"220 2.0.0 Ready\r\n"), (0, b"\x16\x03\x01\x00\x05hello")]),
            (2, [(0, b"RSET\r\n"), (1, b"454 TLS not available\r\n"), (0, b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), (1, b"235 ok\r\n")]),
            (3, [(0, b"EHLO again\r\n"), (1, b"250-fake\r\n250 AUTH PLAIN\r\n")]),
            (4, [(0, b"YWxpY2U=\r\n"), (1, b"334 UGFzc3dvcmQ6\r\n"), (0, b"c2VjcmV0\r\n"), (1, b"235 2.7.0 ok\r\n")]),
            (5, [(0, b"AGFsaWNlAHNlY3JldA==\r\n"), (1, b"535 5.7.8 no\r\n")]),
            (6, [(0, b"Subject: hi\r\n\r\nbody\r\n.\r\n"), (1, b"250 2.0.0 queued\r\n"), (0, b"QUIT\r\n")]),
            (7, [(0, b"x" * 64 + b"BDAT 3 LAST\r\nabc"), (1, b"250 ok\r\n250 ok\r\n")]),
        ],
        "dialog_imap": [
            (2, [(1, b"a2 OK go\r\n"), (0, b"\x16\x03\x01\x00\x05hello")]),
            (3, [(1, b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"), (0, b"a3 LOGIN a b\r\n")]),
            (4, [(0, b"alice {6}\r\n"), (1, b"+ ok\r\n"), (0, b"secret\r\n"), (1, b"a3 OK\r\n")]),
            (5, [(0, b"secret\r\n"), (1, b"a3 NO bad\r\n")]),
            (6, [(0, b"AGFsaWNlAHNlY3JldA==\r\n"), (1, b"a4 OK\r\n")]),
            (7, [(1, b"x" * 100 + b")\r\na6 OK done\r\n"), (0, b"a7 LOGOUT\r\n")]),
        ],
        "dialog_pop3": [
            (2, [(1, b"+OK go\r\n"), (0, b"\x16\x03\x01\x00\x05hello")]),
            (3, [(1, b"-ERR no\r\n"), (0, b"USER a\r\nPASS b\r\n")]),
            (4, [(0, b"PASS secret\r\n"), (1, b"+OK\r\n")]),
            (5, [(0, b"YWxpY2U=\r\n"), (1, b"+ UGFzc3dvcmQ6\r\n"), (0, b"c2VjcmV0\r\n"), (1, b"+OK\r\n")]),
            (6, [(1, b"+OK maildrop\r\n"), (0, b"QUIT\r\n")]),
            (7, [(1, b"From: a\r\n\r\nbody\r\n.\r\n"), (0, b"QUIT\r\n"), (1, b"+OK bye\r\n")]),
        ],
        "dialog_ftp": [
            (3, [(0, b"\x16\x03\x01\x00\x05hello")]),
            (4, [(0, b"PASS s3cret\r\n"), (1, b"230 ok\r\n")]),
            (5, [(1, b"226 done\r\n"), (0, b"XXXX XXX\r\n"), (1, b"500 what\r\n")]),
        ],
        "dialog_postgres": [
            (1, [(0, b"\x00\x00\x00\x25\x00\x03\x00\x00user\x00alice\x00database\x00db\x00\x00")]),
            (3, [(0, b"p\x00\x00\x00\x0bs3cret\x00"), (1, b"R\x00\x00\x00\x08\x00\x00\x00\x00")]),
            (4, [(0, b"p\x00\x00\x00\x28md54e7fabaaf34d780c4a5822d28ee1c83e\x00")]),
        ],
        "dialog_mysql": [
            (1, [(0, b"\x20\x00\x00\x01\x05\xae\xff\x01" + b"\x00" * 28), (0, b"\x16\x03\x01\x00\x05hello")]),
            (3, [(1, b"\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00"), (0, b"\x09\x00\x00\x00\x03SELECT 1")]),
            (4, [(0, b"\x08\x00\x00\x03s3cret!\x00"), (1, b"\x07\x00\x00\x04\xff\x15\x04#28000")]),
        ],
        "dialog_xmpp": [
            (3, [(0, b"\x16\x03\x01\x00\x05hello")]),
            (4, [(0, b"HMzY3JldCE=</auth>"), (1, b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")]),
            (5, [(1, b"cmVhbG09ImEi</challenge>"), (0, b"<response>dXNlcm5hbWU9ImEi</response>"), (1, b"<failure/>")]),
        ],
        "dialog_ldap": [
            (3, [(0, b"\x16\x03\x01\x00\x05hello")]),
            (4, [(1, b"0\x0c\x02\x01\x02a\x07\x0a\x01\x31\x04\x00\x04\x00")]),
            (5, [(0, b"0<\x02\x01\x04`7\x02\x01\x03\x04\x00\xa30\x04\x08CRAM-MD5\x04$tim b913a602c7eda7a495b4e6e7334d3890"), (1, b"0\x0c\x02\x01\x04a\x07\x0a\x01\x00\x04\x00\x04\x00")]),
        ],
        "dialog_managesieve": [
            (3, [(0, b"\x16\x03\x01\x00\x05hello")]),
            (4, [(0, b"AGFsaWNlAHMzY3JldCE=\r\n"), (1, b"OK \"Logged in.\"\r\n")]),
            (5, [(1, b"VXNlcm5hbWU6\r\n"), (0, b"\"YWxpY2U=\"\r\n"), (1, b"NO \"Authentication failed.\"\r\n")]),
        ],
        "dialog_nntp": [
            (3, [(0, b"\x16\x03\x01\x00\x05hello")]),
            (4, [(0, b"AUTHINFO PASS s3cret!\r\n"), (1, b"281 Authentication succeeded\r\n")]),
            (5, [(0, b"AGFsaWNlAHMzY3JldCE=\r\n"), (1, b"481 Authentication failed\r\n")]),
            (6, [(1, b"Subject: x\r\n\r\nbody\r\n.\r\n"), (0, b"QUIT\r\n")]),
        ],
    }
    for target, seeds in deep.items():
        write(target, "empty-prefix", bytes([0]) + event(1, b"220 x\r\n") + event(0, b"EHLO a\r\n"))
        write(target, "caps-only", bytes([1]) + fin(0) + fin(1))
        for i, (pick, evs) in enumerate(seeds):
            body = b"".join(event(side, data) for side, data in evs)
            write(target, f"prefix{pick}-{i}", bytes([pick]) + body)
        write(target, "gap", bytes([1]) + event(1, b"250-") + gap(1, 10) + event(1, b" ok\r\n"))

    # sasl: mechanism byte, initial-response byte (+ text), outcome byte,
    # then messages (op, one-byte length, bytes; op bit 0: base64-encode).
    def msg(op, data):
        return bytes([op, len(data)]) + data

    sasl = {
        "plain-ir": bytes([0, 2, 13]) + b"\0alice\0secret" + bytes([0]),
        "login": bytes([1, 0, 1]) + msg(1, b"Username:") + msg(3, b"alice") + msg(1, b"Password:") + msg(3, b"secret"),
        "cram-md5": bytes([2, 0, 0]) + msg(1, b"<1896.697170952@postoffice.example.net>") + msg(3, b"tim b913a602c7eda7a495b4e6e7334d3890"),
        "digest-md5": bytes([3, 0, 0]) + msg(1, b'realm="example.org",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8') + msg(3, b'charset=utf-8,username="chris",realm="example.org",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/example.org",response=d388dad90d4bbd760a152321f2143af7,qop=auth'),
        "xoauth2": bytes([4, 2, 56]) + b"user=alice@example.com\x01auth=Bearer tok-1234567890\x01\x01" + bytes([1]) + msg(1, b'{"status":"401"}') + msg(2, b""),
        "oauthbearer": bytes([5, 2, 61]) + b"n,a=alice@example.com,\x01host=mail\x01port=993\x01auth=Bearer tok\x01\x01" + bytes([0]),
        "scram": bytes([9, 2, 28]) + b"n,,n=user,r=fyko+d2lbbFgONRv" + bytes([0]) + msg(1, b"r=fyko+d2lbbFgONRv9x,s=QSXCR+Q6sek8bf92,i=4096") + msg(3, b"c=biws,r=fyko+d2lbbFgONRv9x,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
        "external": bytes([11, 2, 5]) + b"alice" + bytes([0]),
        "cancel": bytes([0, 0, 1]) + msg(1, b"") + msg(2, b"*"),
        "other-mech": bytes([0x10, 7]) + b"X-THING" + bytes([1, 3]) + b"abc" + bytes([2]),
    }
    # NTLM: NEGOTIATE, CHALLENGE, AUTHENTICATE (NTLMv2-shaped).
    challenge = (b"NTLMSSP\0" + struct.pack("<I", 2) + struct.pack("<HHI", 0, 0, 56)
                 + struct.pack("<I", 0x628A8215) + b"\x01\x23\x45\x67\x89\xab\xcd\xef" + b"\0" * 8
                 + struct.pack("<HHI", 0, 0, 56) + b"\0" * 8)
    user, dom, nt = "alice".encode("utf-16-le"), "DOM".encode("utf-16-le"), b"\x11" * 40
    base = 64
    auth = (b"NTLMSSP\0" + struct.pack("<I", 3)
            + struct.pack("<HHI", 24, 24, base) + struct.pack("<HHI", len(nt), len(nt), base + 24)
            + struct.pack("<HHI", len(dom), len(dom), base + 24 + len(nt))
            + struct.pack("<HHI", len(user), len(user), base + 24 + len(nt) + len(dom))
            + struct.pack("<HHI", 0, 0, base) + struct.pack("<HHI", 0, 0, base) + struct.pack("<I", 0x628A8215))
    auth = auth + b"\0" * (base - len(auth)) + b"\x22" * 24 + nt + dom + user
    sasl["ntlm"] = (bytes([6, 0, 0]) + msg(3, b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2" + b"\0" * 16)
                    + msg(1, challenge) + bytes([0x83]) + struct.pack("<H", len(auth)) + auth)
    for name, data in sasl.items():
        write("sasl", name, data)

    # tls: the hellos of a sample's handshake, as chunks (op 0x80: two-byte
    # length), and split across chunks.
    link, records = pcap_records(sample("transport/smtp-clean.pcap"))
    hellos = []
    for _, frame in records:
        p = tcp_payloads(frame, link)
        if p and p[2][:1] == b"\x16":
            hellos.append(p[2])
    for i, h in enumerate(hellos[:2]):
        write("tls", f"hello{i}", b"\x80" + struct.pack("<H", len(h)) + h)
        half = len(h) // 2
        write("tls", f"hello{i}-split", bytes([0, 3]) + h[:3] + b"\x80" + struct.pack("<H", half - 3)
              + h[3:half] + b"\x80" + struct.pack("<H", len(h) - half) + h[half:])
    sslv2 = b"\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10" + bytes.fromhex("0000040000050000ff0100000a") + b"\x00\x09" * 4 + b"\x11" * 16
    write("tls", "sslv2", bytes([0, len(sslv2)]) + sslv2)
    write("tls", "gap", bytes([0, 3]) + b"\x16\x03\x01" + bytes([3, 9]))
    # tls: a TLS 1.2 server flight (ServerHello, Certificate with the test
    # leaf and its CA, ServerHelloDone) in 300-byte records, fed in 7-byte
    # chunks then one long one: the certificate path.
    def der(name):
        with open(os.path.join(HERE, "..", "tests", "data", "certificate", name), "rb") as f:
            return f.read()

    def u24(data):
        return struct.pack(">I", len(data))[1:] + data

    def handshake(kind, body):
        return bytes([kind]) + u24(body)

    server_hello = handshake(2, b"\x03\x03" + bytes(range(32)) + b"\x00\xc0\x2f\x00")
    certificate = handshake(11, u24(u24(der("leaf.der")) + u24(der("ca.der"))))
    flight = server_hello + certificate + handshake(14, b"")
    stream = b"".join(b"\x16\x03\x03" + struct.pack(">H", len(flight[i:i + 300])) + flight[i:i + 300]
                      for i in range(0, len(flight), 300))
    head, rest = stream[:70], stream[70:]
    write("tls", "certificate", b"".join(bytes([0, len(head[i:i + 7])]) + head[i:i + 7]
                                         for i in range(0, len(head), 7))
          + b"\x80" + struct.pack("<H", len(rest)) + rest)

    # reassembly: setup byte, ISN, then ops (see fuzz/harness/reassembly.rs).
    def seg(op, delta, length, salt=0, fin=False, ack=None):
        op |= 0x80 if fin else 0
        out = bytes([op]) + struct.pack("<h", delta) + bytes([length, salt])
        return out + (b"\x01" + struct.pack("<I", ack) if ack is not None else b"\x00")
    reasm = {
        "in-order": bytes([0]) + struct.pack("<I", 1000) + seg(0, 0, 10) + seg(0, 0, 20) + seg(0, 0, 5, fin=True),
        "reorder": bytes([0]) + struct.pack("<I", 7) + seg(0, 10, 10) + seg(0, 0, 10) + bytes([7]),
        "conflict": bytes([2]) + struct.pack("<I", 0xfffffff0) + seg(0, 0, 40) + seg(0, -40, 40, salt=9) + bytes([6]),
        "overlap": bytes([0]) + struct.pack("<I", 99) + seg(0, 30, 20) + seg(0, 20, 20, salt=3) + seg(0, 0, 25, salt=4),
        "acked-hole": bytes([0]) + struct.pack("<I", 5) + seg(0, 100, 10) + bytes([4]) + struct.pack("<H", 200) + bytes([6 | 0x78]) * 2,
        "limits": bytes([1]) + struct.pack("<I", 5) + struct.pack("<H", 50) + bytes([2]) + seg(0, 10, 30) + seg(0, 50, 30) + seg(0, 90, 30),
        "fin-hole": bytes([0]) + struct.pack("<I", 5) + seg(0, 10, 10) + seg(0, 5, 0, fin=True) + seg(0, 0, 5),
    }
    for name, data in reasm.items():
        write("reassembly", name, data)

    # flows: setup byte, mode byte, then packets (who, flags, seq adj, ack adj, step,
    # length, payload). who: bits 0-1 client, 2-3 server port, 4 from server.
    def pkt(who, flags, payload=b"", seq=0, ack=0, step=10):
        return bytes([who, flags, seq & 0xff, ack & 0xff, step, len(payload)]) + payload
    smtp = (pkt(0, 0x02) + pkt(0x10, 0x12) + pkt(0, 0x10)
            + pkt(0x10, 0x18, b"220 mx ESMTP\r\n") + pkt(0, 0x18, b"EHLO c\r\n")
            + pkt(0x10, 0x18, b"250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
            + pkt(0, 0x18, b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n") + pkt(0x10, 0x18, b"235 ok\r\n")
            + pkt(0, 0x11) + pkt(0x10, 0x11) + pkt(0, 0x10))
    write("flows", "smtp", bytes([0x03, 3]) + smtp)
    imap = (pkt(0x05, 0x02) + pkt(0x15, 0x12) + pkt(0x05, 0x10)
            + pkt(0x15, 0x18, b"* OK ready\r\n") + pkt(0x05, 0x18, b"a1 LOGIN alice secret\r\n")
            + pkt(0x15, 0x18, b"a1 OK\r\n", step=0xff) + pkt(0x05, 0x18, b"a2 LOGOUT\r\n"))
    write("flows", "imap-timeout", bytes([0x01, 2]) + imap)
    many = b"".join(pkt(i & 3 | (i & 12), 0x02) for i in range(16))
    write("flows", "evict", bytes([0x00, 1]) + smtp[:14] + many + smtp[14:])
    pop = (pkt(0x0a, 0x18, b"+OK hi\r\n") + pkt(0x1a, 0x18, b"USER a\r\n")
           + pkt(0x0a, 0x18, b"+OK\r\n", seq=-3) + pkt(0x1a, 0x04))
    write("flows", "pop3-midstream", bytes([0x30, 3]) + pop)


if __name__ == "__main__":
    main()
