"""Truth of the lab's captures, and its check against the bytes.

sessions_truth() turns a scenario's record (what the client did, what the
middlebox did, the endpoints the middlebox saw) into the expected sessions
of one capture (client side: between client and middlebox; server side:
between middlebox and server), in the shape of
shared/corpus/public/expected.json. It never looks at stripwatch.

observe() reads a capture with tshark (streams, their bytes, TLS
handshake messages, TCP analysis) and check() compares what it shows with
every claim of the truth.
"""
import base64
import re
import subprocess

KEYWORD = {"smtp": b"STARTTLS", "imap": b"STARTTLS", "pop3": b"STLS"}
WEAK = {"CRAM-MD5", "APOP"}


def sessions_truth(sc, side, events):
    out = []
    sessions = sc["sessions"]
    for sess, ev in zip(sessions, events):
        out.append(session_truth(sc, side, sess, ev))
    # A capability list without STARTTLS is proven stripped when another
    # session to the same server in the capture offered it.
    offered = any(t["starttls_offered"] is True for t in out)
    for t, sess in zip(out, sessions):
        if "no-starttls-offered" in t["expected_findings"] and sess["mode"] == "strip" and offered:
            t["expected_findings"].remove("no-starttls-offered")
            t["expected_findings"].append("starttls-stripped")
            t["acceptable_findings"].remove("starttls-stripped")
        t["expected_findings"].sort()
        t["acceptable_findings"].sort()
    return out


def session_truth(sc, side, sess, ev):
    mode = sess["mode"]
    server_tls = sc["server"] == "tls"
    ends = ev["client_side"] if side == "client" else ev["server_side"]
    if mode != ev["mode"]:
        raise RuntimeError(f"middlebox connection {ev['conn']} ran {ev['mode']}, not {mode}")
    actions = set(ev["actions"])
    client_side = side == "client"
    caps = sess["caps"] and not sess["implicit"]
    if not caps:
        offered = None
    elif client_side:
        offered = server_tls and mode not in ("asa", "strip")
    else:
        offered = server_tls
    if client_side:
        requested = sess["starttls"]
    else:
        requested = sess["starttls"] and mode not in ("refuse", "rewrite")
    if not requested:
        accepted = None
    elif client_side and mode in ("refuse", "rewrite"):
        accepted = False
    else:
        accepted = server_tls
    creds = [{"mechanism": m, "username": u} for m, u in sess["creds"]]
    sensitive = bool(creds) or sess["mail"]
    tampered = not client_side and mode == "rewrite" and "rewrote-starttls" in actions

    expected, acceptable = set(), set()
    if offered is False:
        if client_side and mode == "asa":
            expected.add("starttls-stripped")
        else:
            expected.add("no-starttls-offered")
            if client_side and mode == "strip":
                acceptable.add("starttls-stripped")
    if client_side and "masked-banner" in actions:
        expected.add("banner-masked")
    if not client_side and mode in ("asa", "strip", "refuse"):
        # True (the client was kept from TLS) but not visible from here.
        acceptable |= {"asa": {"starttls-stripped", "banner-masked"}, "strip": {"starttls-stripped"},
                       "refuse": {"starttls-rejected"}}[mode]
    if tampered:
        expected.add("starttls-command-tampered")
    elif offered and not requested and not sess["implicit"] and sensitive:
        expected.add("starttls-not-used")
    if client_side and "rewrote-starttls" in actions:
        acceptable.add("starttls-command-tampered")
    if requested and accepted is False:
        expected.add("starttls-rejected")
    if accepted and not sess["tls"]:
        # No handshake at all proves it; a ClientHello the server never
        # answered leaves it arguable.
        (acceptable if sess["hello"] else expected).add("tls-not-established")
    injected = {"cmdinject": "injected-command", "respinject": "injected-response"}.get(mode)
    if injected in actions:
        visible = (mode == "cmdinject") != client_side
        (expected if visible else acceptable).add("starttls-injection")
    for c in creds:
        expected.add("weak-credentials-exposed" if c["mechanism"] in WEAK else "cleartext-credentials")

    behaviour = "TLS" if sess["tls"] else "no TLS"
    if creds:
        behaviour += ", credentials in cleartext (" + ", ".join(c["mechanism"] for c in creds) + ")"
    elif sess["mail"]:
        behaviour += ", mail in cleartext"
    return {
        "protocol": sc["proto"],
        "server_port": sc["port"],
        "client": ends["client"],
        "server": ends["server"],
        "implicit_tls": sess["implicit"] or (not client_side and sess.get("implicit_at_server", False)),
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


# --- reading the capture with tshark -------------------------------------------
def tshark(*args):
    p = subprocess.run(["tshark", "-n", *args], capture_output=True, check=True)
    return p.stdout.decode(errors="replace")


def observe(path, proto, side):
    """Per TCP stream: endpoints, ordered chunks [(0 client | 1 server, bytes)],
    TLS handshake types, retransmissions and out-of-order segments."""
    syns = tshark("-r", path, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-e", "tcp.stream")
    streams = sorted({int(s) for s in syns.split()})
    follow = []
    for s in streams:
        follow += ["-z", f"follow,tcp,raw,{s}"]
    text = tshark("-r", path, "-q", *follow) if streams else ""
    result = {}
    for block in text.split("=" * 67):
        m = re.search(r"Filter: tcp.stream eq (\d+)\s+Node 0: (\S+)\s+Node 1: (\S+)\s*\n(.*)", block, re.S)
        if not m:
            continue
        chunks = []
        for line in m.group(4).splitlines():
            if line.strip():
                chunks.append((1 if line.startswith("\t") else 0, bytes.fromhex(line.strip())))
        result[int(m.group(1))] = {"client": m.group(2), "server": m.group(3), "chunks": chunks,
                                   "hs": set(), "retrans": 0, "ooo": 0, "dup": 0}
    hs = tshark("-r", path, "-Y", "tls.handshake.type", "-T", "fields", "-e", "tcp.stream", "-e", "tls.handshake.type")
    for line in hs.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and int(parts[0]) in result:
            result[int(parts[0])]["hs"] |= {int(t) for t in parts[1].split(",") if t}
    flags = tshark("-r", path, "-Y", "tcp.analysis.retransmission || tcp.analysis.out_of_order || "
                   "tcp.analysis.duplicate_ack || tcp.analysis.spurious_retransmission",
                   "-T", "fields", "-e", "tcp.stream", "-e", "tcp.analysis.retransmission",
                   "-e", "tcp.analysis.out_of_order", "-e", "tcp.analysis.duplicate_ack")
    for line in flags.splitlines():
        p = line.split("\t")
        if p[0].isdigit() and int(p[0]) in result:
            r = result[int(p[0])]
            r["retrans"] += bool(p[1:2] and p[1])
            r["ooo"] += bool(p[2:3] and p[2])
            r["dup"] += bool(p[3:4] and p[3])
    return [facts(result[s], proto) for s in sorted(result)]


def is_tls(chunk):
    return len(chunk) > 2 and chunk[0] in (0x14, 0x15, 0x16, 0x17) and chunk[1] == 3


def facts(st, proto):
    """What a stream shows, in the truth's terms."""
    chunks = st["chunks"]
    # The client's first payload is a TLS record, whatever the server sent
    # before it (the definition stripwatch and the public corpus use).
    first_client = next((data for who, data in chunks if who == 0), None)
    implicit = first_client is not None and is_tls(first_client)
    clear = {0: [], 1: []}  # cleartext lines per side, before either side's TLS
    order = []  # (side, line) interleaved
    tls_seen = bool(chunks) and chunks[0][0] == 0 and implicit
    for who, data in chunks:
        if tls_seen or is_tls(data):
            tls_seen = True
            continue
        for line in data.split(b"\n"):
            if line:
                clear[who].append(line.rstrip(b"\r"))
                order.append((who, line.rstrip(b"\r")))
    kw = KEYWORD[proto]
    f = {"client": st["client"], "server": st["server"], "implicit_tls": implicit,
         "tls_established": {1, 2} <= st["hs"], "retrans": st["retrans"], "ooo": st["ooo"], "dup": st["dup"]}
    srv = clear[1]
    if proto == "smtp":
        lists = [ln for ln in srv if ln.startswith(b"250-")]
        f["starttls_offered"] = any(ln[:3] == b"250" and ln[4:].upper() == b"STARTTLS" for ln in srv) if lists else None
    elif proto == "imap":
        lists = [ln for ln in srv if b"CAPABILITY" in ln.upper()]
        f["starttls_offered"] = any(re.search(rb"[ \[]STARTTLS[ \]]|STARTTLS$", ln.upper()) for ln in lists) if lists else None
    else:
        capa = any(ln.upper() == b"CAPA" for ln in clear[0])
        f["starttls_offered"] = (any(ln.upper() == b"STLS" for ln in srv)) if capa else None
    requested, accepted, pending = False, None, None
    for who, ln in order:
        words = ln.split()
        if who == 0 and words and words[-1].upper() == kw and len(words) <= 2:
            requested, pending = True, words[0] if proto == "imap" else b""
        elif who == 1 and pending is not None:
            if proto == "smtp" and re.match(rb"^\d{3}( |$)", ln):
                accepted, pending = ln.startswith(b"220"), None
            elif proto == "imap" and ln.startswith(pending + b" "):
                accepted, pending = ln[len(pending) + 1 :].upper().startswith(b"OK"), None
            elif proto == "pop3" and ln.startswith((b"+OK", b"-ERR")):
                accepted, pending = ln.startswith(b"+OK"), None
    f.update(starttls_requested=requested, starttls_accepted=accepted)
    f["creds"] = credentials(proto, clear[0])
    f["masked_token"] = b"XXXXXXXA" in b"\n".join(srv)
    f["masked_banner"] = bool(srv) and re.fullmatch(rb"220 [*20]+", srv[0]) is not None
    f["rewritten"] = any(set(ln.split()[-1]) == {ord("X")} for ln in clear[0] if ln.split())
    f["chunks"] = chunks
    return f


def b64(text):
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""


def credentials(proto, lines):
    """[(mechanism, username)] in the client's cleartext lines."""
    out = []
    i = 0
    while i < len(lines):
        words = lines[i].split()
        if proto == "imap" and len(words) >= 2:
            words = words[1:]  # drop the tag
        verb = words[0].upper() if words else b""
        if proto == "imap" and verb == b"LOGIN" and len(words) >= 3:
            out.append(("IMAP-LOGIN", words[1].strip(b'"').decode()))
        elif proto == "pop3" and verb == b"USER" and len(words) == 2:
            out.append(("USER-PASS", words[1].decode()))
        elif proto == "pop3" and verb == b"APOP" and len(words) == 3:
            out.append(("APOP", words[1].decode()))
        elif verb in (b"AUTH", b"AUTHENTICATE") and len(words) >= 2:
            mech = words[1].upper().decode()
            first = words[2] if len(words) > 2 else None
            if first is None and i + 1 < len(lines):
                i += 1
                first = lines[i]
            raw = b64(first or b"")
            if mech == "PLAIN":
                user = raw.split(b"\0")[1] if raw.count(b"\0") == 2 else b""
            elif mech == "CRAM-MD5":
                user = raw.rsplit(b" ", 1)[0]
            else:
                user = raw
            out.append((mech, user.decode(errors="replace")))
        i += 1
    return out


def check(sc, side, truths, observed, runs):
    """Every claim of the truth, as the capture shows it (problems found)."""
    problems = []
    if len(truths) != len(observed):
        return [f"{len(observed)} TCP streams in the capture, {len(truths)} sessions in the truth"]
    for n, (t, o, sess) in enumerate(zip(truths, observed, sc["sessions"]), 1):
        where = f"session {n} ({sess['client']})"
        for key in ("client", "server", "implicit_tls", "starttls_offered", "starttls_requested",
                    "starttls_accepted", "tls_established"):
            if t[key] != o[key]:
                problems.append(f"{where}: {key} is {t[key]!r} in the truth, the capture shows {o[key]!r}")
        creds = sorted((c["mechanism"], c["username"]) for c in t["cleartext_credentials"])
        if creds != sorted(o["creds"]):
            problems.append(f"{where}: cleartext credentials {creds} in the truth, the capture shows {sorted(o['creds'])}")
        mode = sess["mode"]
        if side == "client" and mode == "asa" and not (o["masked_token"] and o["masked_banner"]):
            problems.append(f"{where}: no XXXXXXXA capability or masked banner in the capture")
        if side == "server" and mode == "rewrite" and sess["starttls"] and not o["rewritten"]:
            problems.append(f"{where}: no XXXXXXXX command in the capture")
        kw = KEYWORD[sc["proto"]]
        if "starttls-injection" in t["expected_findings"]:
            who = 0 if mode == "cmdinject" else 1
            pattern = kw + rb"\r\n[^\r\n]+\r\n" if who == 0 else rb"(220 |OK |\+OK)[^\r\n]*\r\n[^\r\n]+\r\n"
            if not any(w == who and re.search(pattern, d) for w, d in o["chunks"]):
                problems.append(f"{where}: no segment with the injected line in the capture")
    if sc["net"] == "lossy" and side == "client":
        if not any(o["retrans"] for o in observed) or not any(o["ooo"] or o["dup"] for o in observed):
            problems.append("degraded link: tshark finds no retransmission or no out-of-order/duplicate segment")
    return problems
