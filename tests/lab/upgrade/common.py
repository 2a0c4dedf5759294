"""What the upgrade protocols share: sessions declared by the scenarios,
their truth per vantage point, and reading a capture with tshark.

A session (S()) records what the client did, as measured: `starttls` (it
asked for the upgrade on the client side of the middlebox), `tls` (a TLS
handshake completed), `caps` (it read the server's capability list: FTP
FEAT; PostgreSQL and MySQL show the offer in the answer or greeting, so
the module decides), `creds` [(mechanism, username)] in cleartext, `data`
(other sensitive traffic in cleartext), `ok` (exit status 0). The protocol
module turns that and the middlebox mode into offered/requested/accepted
per side (module.lifecycle); the findings follow the same rules as the
mail lab (tests/lab/truth.py). None of it looks at stripwatch.
"""
import re
import subprocess

USER, PASSWORD = "alice", "pw-lab-alice"

# Challenge-responses crackable offline (issue 16): weak-credentials-exposed.
WEAK = {"PG-MD5", "MYSQL-mysql_native_password"}
# Recorded, not required to be reported as weak (as SCRAM for mail).
SALTED = {"PG-SCRAM-SHA-256", "MYSQL-caching_sha2_password", "SCRAM-SHA-1", "SCRAM-SHA-256"}


def S(client, argv, mode="pass", starttls=False, tls=False, creds=(), data=False, ok=True, **kw):
    return dict(client=client, argv=argv, mode=mode, starttls=starttls, tls=tls,
                creds=[list(c) for c in creds], data=data, ok=ok, caps=kw.pop("caps", True),
                env=kw.pop("env", {}), stdin=kw.pop("stdin", None), hello=kw.pop("hello", tls), **kw)


def sc(name, proto, port, sessions, server="tls", server_side=False, about=""):
    return dict(name=name, proto=proto, port=port, server=server, net="4",
                server_side=server_side, sessions=sessions, about=about)


def sessions_truth(module, sc_, side, events):
    out = [session_truth(module, sc_, side, s, ev) for s, ev in zip(sc_["sessions"], events)]
    offered = any(t["starttls_offered"] is True for t in out)
    for t, sess in zip(out, sc_["sessions"]):
        if "no-starttls-offered" in t["expected_findings"] and sess["mode"] == "strip" and offered:
            t["expected_findings"].remove("no-starttls-offered")
            t["expected_findings"].append("starttls-stripped")
            if "starttls-stripped" in t["acceptable_findings"]:
                t["acceptable_findings"].remove("starttls-stripped")
        t["expected_findings"].sort()
        t["acceptable_findings"].sort()
    return out


def session_truth(module, sc_, side, sess, ev):
    mode = sess["mode"]
    if mode != ev["mode"]:
        raise RuntimeError(f"middlebox connection {ev['conn']} ran {ev['mode']}, not {mode}")
    client_side = side == "client"
    server_tls = sc_["server"] == "tls"
    ends = ev["client_side"] if client_side else ev["server_side"]
    offered, requested, accepted = module.lifecycle(sc_, sess, side)
    creds = [{"mechanism": m, "username": u} for m, u in sess["creds"]]
    sensitive = bool(creds) or sess["data"]
    expected, acceptable = set(), set()
    if offered is False:
        if client_side and mode in ("mask", "maskarg"):
            expected.add("starttls-stripped")
        else:
            expected.add("no-starttls-offered")
            if client_side and mode == "strip":
                acceptable.add("starttls-stripped")
        if requested and accepted is False and module.REFUSAL_IS_NO_OFFER:
            # PostgreSQL's `N`: the answer is the (missing) offer.
            acceptable.add("starttls-rejected")
    if not client_side and mode in ("strip", "mask", "maskarg", "refuse"):
        acceptable.add("starttls-rejected" if mode == "refuse" else "starttls-stripped")
    actions = set(ev["actions"])
    # rewrite: the server saw the upgrade command overwritten with X (as the
    # mail lab's rewrite, tests/lab/truth.py): tampering it can tell.
    tampered = not client_side and mode == "rewrite" and "rewrote-starttls" in actions
    if tampered:
        expected.add("starttls-command-tampered")
    elif offered and not requested and sensitive:
        expected.add("starttls-not-used")
    if offered is None and server_tls and not requested and sensitive:
        acceptable.add("starttls-not-used")  # true, but nothing in the capture shows it
    if client_side and "rewrote-starttls" in actions:
        acceptable.add("starttls-command-tampered")
    injected = {"cmdinject": "injected-command", "respinject": "injected-response"}.get(mode)
    if injected in actions:
        # A command after the upgrade request shows toward the server, a
        # response after the go-ahead toward the client.
        visible = (mode == "cmdinject") != client_side
        (expected if visible else acceptable).add("starttls-injection")
    if requested and accepted is False and not module.REFUSAL_IS_NO_OFFER:
        expected.add("starttls-rejected")
    if accepted and not sess["tls"]:
        (acceptable if sess["hello"] else expected).add("tls-not-established")
    for c in creds:
        if c["mechanism"] in WEAK:
            expected.add("weak-credentials-exposed")
        elif c["mechanism"] in SALTED:
            acceptable.add("weak-credentials-exposed")
        else:
            expected.add("cleartext-credentials")
    behaviour = "TLS" if sess["tls"] else "no TLS"
    if creds:
        behaviour += ", credentials in cleartext (" + ", ".join(c["mechanism"] for c in creds) + ")"
    return {
        "protocol": module.PROTOCOL,
        "server_port": sc_["port"],
        "client": ends["client"],
        "server": ends["server"],
        "implicit_tls": False,
        "starttls_offered": offered,
        "starttls_requested": requested,
        "starttls_accepted": accepted,
        "tls_established": sess["tls"],
        "cleartext_credentials": creds,
        "expected_findings": sorted(expected),
        "acceptable_findings": sorted(acceptable - expected),
        "notes": f"{sess['client']}; middlebox {mode}"
                 f"{' (' + ', '.join(sorted(actions)) + ')' if actions else ''}; {behaviour}",
    }


# --- the middlebox of the line protocols --------------------------------------------
class LineTamper:
    """A middlebox that reads the client's bytes as lines (FTP, LMTP,
    ManageSieve, NNTP): per mode, the upgrade request is refused
    (`refuse`: REFUSAL to the client, the request dropped), overwritten
    (`rewrite`) or followed by INJECTED_COMMAND in its segment
    (`cmdinject`). A subclass sets REFUSAL and INJECTED_COMMAND, may
    override is_request and rewritten, and writes from_server (what it does
    to the server's lines, and where `pending`, the request awaiting its
    answer, ends). Returns (to server, to client, upgrade requested)."""
    REFUSED_ACTION = "refused-starttls"
    REFUSAL = b""
    INJECTED_COMMAND = b""

    def __init__(self, mode):
        self.mode = mode
        self.actions = []
        self.cbuf = self.sbuf = b""
        self.pending = False

    def is_request(self, line):
        return line.strip().upper() == b"STARTTLS"

    def rewritten(self, line):
        return line.upper().replace(b"STARTTLS", b"XXXXXXXX")

    def from_client(self, data):
        self.cbuf += data
        to_server, to_client = b"", b""
        while b"\n" in self.cbuf:
            line, _, self.cbuf = self.cbuf.partition(b"\n")
            line += b"\n"
            if self.is_request(line):
                if self.mode == "refuse":
                    self.actions.append(self.REFUSED_ACTION)
                    to_client += self.REFUSAL
                    continue
                if self.mode == "rewrite":
                    to_server += self.rewritten(line)
                    self.actions.append("rewrote-starttls")
                    continue
                if self.mode == "cmdinject":
                    line += self.INJECTED_COMMAND
                    self.actions.append("injected-command")
                self.pending = True
                # What follows a request the server accepts is a ClientHello.
                out, self.cbuf = to_server + line + self.cbuf, b""
                return out, to_client, True
            to_server += line
        return to_server, to_client, False


# --- the capture, through tshark ---------------------------------------------------
def tshark(*args):
    p = subprocess.run(["tshark", "-n", *args], capture_output=True, check=True)
    return p.stdout.decode(errors="replace")


def streams(path):
    """Per TCP stream, in order: {client, server, chunks [(0 client | 1 server, bytes)]}."""
    syns = tshark("-r", path, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-e", "tcp.stream")
    ids = sorted({int(s) for s in syns.split()})
    follow = []
    for s in ids:
        follow += ["-z", f"follow,tcp,raw,{s}"]
    text = tshark("-r", path, "-q", *follow) if ids else ""
    result = {}
    for block in text.split("=" * 67):
        m = re.search(r"Filter: tcp.stream eq (\d+)\s+Node 0: (\S+)\s+Node 1: (\S+)\s*\n(.*)", block, re.S)
        if not m:
            continue
        chunks = [(1 if ln.startswith("\t") else 0, bytes.fromhex(ln.strip()))
                  for ln in m.group(4).splitlines() if ln.strip()]
        result[int(m.group(1))] = {"client": m.group(2), "server": m.group(3), "chunks": chunks}
    return [result[s] for s in sorted(result)]


def split_at_tls(chunks, after_client=None, after_server=None):
    """Bytes of each side before TLS: client and server byte strings, and
    whether a ClientHello and a ServerHello were seen. A side's TLS starts
    at the first chunk that is a TLS handshake record."""
    clear = {0: b"", 1: b""}
    hello = {0: False, 1: False}
    in_tls = {0: False, 1: False}
    for who, data in chunks:
        if not in_tls[who]:
            at = tls_start(clear[who], data)
            if at is None:
                clear[who] += data
                continue
            clear[who] += data[:at]
            in_tls[who] = True
            data = data[at:]
        if len(data) > 5 and data[0] == 0x16 and data[5] == (1 if who == 0 else 2):
            hello[who] = True
    return clear[0], clear[1], hello[0] and hello[1], hello[0]


def tls_start(before, data):
    """Offset in `data` where a TLS handshake record starts (at a chunk start
    only: the lab's clients send their ClientHello in its own segment)."""
    if len(data) > 5 and data[0] == 0x16 and data[1] == 3 and data[5] in (1, 2):
        return 0
    return None


def check(module, sc_, side, truths, observed, runs):
    problems = []
    if len(truths) != len(observed):
        return [f"{len(observed)} TCP streams in the capture, {len(truths)} sessions in the truth"]
    for n, (t, o, sess) in enumerate(zip(truths, observed, sc_["sessions"]), 1):
        where = f"session {n} ({sess['client']})"
        for key in ("client", "server", "starttls_offered", "starttls_requested", "starttls_accepted",
                    "tls_established"):
            if t[key] != o[key]:
                problems.append(f"{where}: {key} is {t[key]!r} in the truth, the capture shows {o[key]!r}")
        creds = sorted((c["mechanism"], c["username"]) for c in t["cleartext_credentials"])
        if creds != sorted(o["creds"]):
            problems.append(f"{where}: cleartext credentials {creds} in the truth, the capture shows {sorted(o['creds'])}")
        for claim in module.extra_claims(sc_, side, sess, o):
            problems.append(f"{where}: {claim}")
        if "starttls-injection" in t["expected_findings"]:
            # The module's INJECTED: (the request, the go-ahead) as regexes;
            # the injected line follows in the same segment.
            who = 0 if sess["mode"] == "cmdinject" else 1
            if hasattr(module, "INJECTED_RE"):  # not line-based (XMPP): whole patterns
                pattern = module.INJECTED_RE[who]
            else:
                pattern = rb"(?m)^" + module.INJECTED[who] + rb"[^\r\n]*\r?\n[^\r\n]+\r?\n"
            if not any(w == who and re.search(pattern, d) for w, d in o["chunks"]):
                problems.append(f"{where}: no segment with the injected line in the capture")
    return problems
