"""The lab's scenarios: which real client talks to which real server
through which middlebox mode, and what the client does, as measured
(see the lab report in the issue). lab.py derives each capture's truth from
these records and checks every claim against the capture with tshark, so a
client or server that starts behaving differently fails the recording.

A session is one client run (one TCP connection):
  client    label for the report
  argv      the command, run in the client namespace ({host}, {port},
            {url_host} = host in URL form, {msg} = a message file)
  stdin     bytes fed to the command (openssl s_client)
  mode      the middlebox mode for this connection (middlebox.py)
  starttls  the client sends STARTTLS/STLS (on the client side of the middlebox)
  tls       a TLS handshake completes (ClientHello and ServerHello)
  hello     the client sent a ClientHello (default: tls)
  creds     [(mechanism, username)] sent in cleartext
  mail      other sensitive commands in cleartext (MAIL, SELECT, STAT, ...)
  caps      a capability list crosses in cleartext (default true)
  implicit  TLS from the first byte
  ok        the client's exit status is 0
A scenario: name, proto, port, server ("tls" or "plain": the second server
without TLS), net ("4", "6" or "lossy": the client behind the degraded
link), server_side (also capture between middlebox and server), sessions.
"""

USER, PASSWORD = "alice", "pw-lab-alice"
FROM, TO = "alice@lab.example", "bob@lab.example"


def S(client, argv, mode="pass", starttls=False, tls=False, creds=(), mail=False, ok=True, **kw):
    return dict(client=client, argv=argv, mode=mode, starttls=starttls, tls=tls,
                creds=[list(c) for c in creds], mail=mail, ok=ok, caps=kw.pop("caps", True),
                implicit=kw.pop("implicit", False), stdin=kw.pop("stdin", None),
                hello=kw.pop("hello", tls), **kw)


def swaks(*opts, auth=None, ipv6=False, body="hello from swaks"):
    argv = ["swaks", "--server", "{host}", "--port", "{port}", "--helo", "client.lab.example",
            "--from", FROM, "--to", TO, "--h-Subject", "lab", "--body", body, "--timeout", "15"]
    if ipv6:
        argv.append("-6")
    if auth:
        argv += ["--auth", auth, "--auth-user", USER, "--auth-password", PASSWORD]
    return argv + list(opts)


def curl(proto, *opts, path="", auth=True):
    argv = ["curl", "-sS", "-k", "--max-time", "15", *opts, f"{proto}://{{url_host}}:{{port}}/{path}"]
    if auth:
        argv += ["-u", f"{USER}:{PASSWORD}"]
    if proto in ("smtp", "smtps"):
        argv += ["--mail-from", FROM, "--mail-rcpt", TO, "-T", "{msg}"]
    return argv


def s_client(proto, *opts):
    return ["openssl", "s_client", "-starttls", proto, "-connect", "{url_host}:{port}",
            "-crlf", "-brief", *opts]


def py(proto, tls, auth=None):
    argv = ["/usr/bin/python3", "{lab}/clients.py", proto, "{host}", "{port}", "--tls", tls]
    return argv + (["--auth", auth] if auth else [])


QUIT = {"smtp": b"QUIT\n", "imap": b"a LOGOUT\n", "pop3": b"QUIT\n"}


def sc(name, proto, port, sessions, server="tls", net="4", server_side=False, about=""):
    return dict(name=name, proto=proto, port=port, server=server, net=net,
                server_side=server_side, sessions=sessions, about=about)


def tampered_smtp(mode):
    """The same six SMTP clients against one tampering mode (submission, 587)."""
    stripped = mode in ("asa", "strip")
    refused = mode in ("rewrite", "refuse")
    sessions = [
        S("swaks --tls --auth PLAIN", swaks("--tls", auth="PLAIN"), mode,
          starttls=not stripped, ok=False),
        S("swaks --tls-optional --auth PLAIN", swaks("--tls-optional", auth="PLAIN"), mode,
          starttls=not stripped, creds=[("PLAIN", USER)], mail=True),
        S("curl --ssl (smtp)", curl("smtp", "--ssl"), mode,
          starttls=not stripped, creds=[("CRAM-MD5", USER)], mail=True),
        S("curl --ssl-reqd (smtp)", curl("smtp", "--ssl-reqd"), mode,
          starttls=not stripped, ok=False),
        S("python smtplib, STARTTLS if offered, login()", py("smtp", "opportunistic", "login"), mode,
          starttls=not stripped, creds=[] if refused else [("CRAM-MD5", USER)], mail=not refused,
          ok=not refused),
        S("openssl s_client -starttls smtp", s_client("smtp"), mode, starttls=True,
          tls=not refused, stdin=QUIT["smtp"], ok=not refused),
    ]
    return sessions


def tampered_imap(mode):
    stripped = mode == "strip"
    refused = mode in ("rewrite", "refuse")
    return [
        S("curl --ssl (imap)", curl("imap", "--ssl", path="INBOX;UID=1"), mode,
          starttls=not stripped, creds=[("CRAM-MD5", USER)], mail=True),
        S("curl --ssl-reqd (imap)", curl("imap", "--ssl-reqd", path="INBOX;UID=1"), mode,
          starttls=not stripped, ok=False),
        S("python imaplib, STARTTLS if offered, login()", py("imap", "opportunistic"), mode,
          starttls=not stripped, creds=[] if refused else [("IMAP-LOGIN", USER)], mail=not refused,
          ok=not refused),
        S("openssl s_client -starttls imap", s_client("imap"), mode, starttls=True,
          tls=not refused, stdin=QUIT["imap"], ok=not refused),
    ]


def tampered_pop3(mode):
    stripped = mode == "strip"
    refused = mode in ("rewrite", "refuse")
    return [
        S("curl --ssl (pop3)", curl("pop3", "--ssl", path="1"), mode,
          starttls=not stripped, creds=[("CRAM-MD5", USER)], mail=True),
        S("curl --ssl-reqd (pop3)", curl("pop3", "--ssl-reqd", path="1"), mode,
          starttls=not stripped, ok=False),
        S("python poplib, STLS if offered, USER/PASS", py("pop3", "opportunistic", "user"), mode,
          starttls=not stripped, creds=[] if refused else [("USER-PASS", USER)], mail=not refused,
          ok=not refused),
        # Refused, openssl sends its ClientHello anyway; the middlebox kept
        # STLS from the server, so there the hello is the client's first
        # payload: implicit TLS, as the server side sees it.
        S("openssl s_client -starttls pop3", s_client("pop3"), mode, starttls=True,
          tls=not refused, stdin=QUIT["pop3"], ok=not refused, caps=False,
          implicit_at_server=mode == "refuse"),
    ]


def injection(clients):
    """Each client under command injection, then under response injection.
    Client entries: (label, argv, {mode: session keywords})."""
    out = []
    for mode in ("cmdinject", "respinject"):
        for label, argv, kw in clients:
            kw = dict(dict(starttls=True, tls=True), **kw.get(mode, {}), **kw.get("all", {}))
            out.append(S(f"{label} [{mode}]", argv, mode, **kw))
    return out


# Dovecot answers OK to a STARTTLS followed by pipelined input, then feeds
# that input to OpenSSL as the start of the handshake, which fails
# ("SSL_accept() syscall failed"): it drops the connection at the
# ClientHello. No TLS, the client fails.
DOVECOT_INJECTED = {"cmdinject": dict(tls=False, hello=True, ok=False)}
# curl (since the CVE-2021-22947 fix) refuses bytes after the go-ahead:
# "Weird server reply", no ClientHello.
CURL_INJECTED = {"respinject": dict(tls=False, ok=False)}

LONG_BODY = "\n".join(f"line {i:03d} of a message long enough to span several segments" for i in range(48))

SCENARIOS = [
    # --- SMTP ---------------------------------------------------------------
    sc("smtp-clean-starttls", "smtp", 25, [
        S("swaks --tls", swaks("--tls"), starttls=True, tls=True),
        S("curl --ssl-reqd (smtp)", curl("smtp", "--ssl-reqd", auth=False), starttls=True, tls=True),
        S("python smtplib, starttls()", py("smtp", "required"), starttls=True, tls=True),
        S("openssl s_client -starttls smtp", s_client("smtp"), starttls=True, tls=True, stdin=QUIT["smtp"]),
    ], about="STARTTLS on 25, no tampering: nothing to report"),
    sc("smtp-submission-starttls", "smtp", 587, [
        S("swaks --tls --auth PLAIN", swaks("--tls", auth="PLAIN"), starttls=True, tls=True),
        S("swaks --tls --auth LOGIN", swaks("--tls", auth="LOGIN"), starttls=True, tls=True),
        S("curl --ssl-reqd (smtp)", curl("smtp", "--ssl-reqd"), starttls=True, tls=True),
        S("python smtplib, starttls(), login()", py("smtp", "required", "login"), starttls=True, tls=True),
    ], about="submission with STARTTLS and SASL inside TLS"),
    sc("smtp-implicit-tls", "smtp", 465, [
        S("swaks --tls-on-connect --auth PLAIN", swaks("--tls-on-connect", auth="PLAIN"), tls=True, implicit=True, caps=False),
        S("curl smtps://", curl("smtps"), tls=True, implicit=True, caps=False),
        S("python smtplib.SMTP_SSL, login()", py("smtp", "implicit", "login"), tls=True, implicit=True, caps=False),
    ], about="implicit TLS on 465"),
    sc("smtp-cleartext-auth", "smtp", 587, [
        S("swaks --auth PLAIN", swaks(auth="PLAIN"), creds=[("PLAIN", USER)], mail=True),
        S("swaks --auth LOGIN", swaks(auth="LOGIN"), creds=[("LOGIN", USER)], mail=True),
        S("swaks --auth CRAM-MD5", swaks(auth="CRAM-MD5"), creds=[("CRAM-MD5", USER)], mail=True),
        S("curl (no --ssl, smtp)", curl("smtp"), creds=[("CRAM-MD5", USER)], mail=True),
    ], about="STARTTLS offered, clients authenticate in cleartext"),
    sc("smtp-no-starttls-server", "smtp", 587, [
        S("swaks --tls --auth PLAIN", swaks("--tls", auth="PLAIN"), ok=False),
        S("swaks --tls-optional --auth PLAIN", swaks("--tls-optional", auth="PLAIN"), creds=[("PLAIN", USER)], mail=True),
        S("curl --ssl (smtp)", curl("smtp", "--ssl"), creds=[("CRAM-MD5", USER)], mail=True),
        S("curl --ssl-reqd (smtp)", curl("smtp", "--ssl-reqd"), ok=False),
    ], server="plain", about="a Postfix listener without TLS"),
    sc("smtp-asa", "smtp", 587, tampered_smtp("asa"), server_side=True,
       about="Cisco ASA inspect esmtp: banner masked, STARTTLS -> XXXXXXXA"),
    sc("smtp-strip", "smtp", 587, tampered_smtp("strip"), server_side=True,
       about="250-STARTTLS line removed from the EHLO reply"),
    sc("smtp-rewrite", "smtp", 587, tampered_smtp("rewrite"), server_side=True,
       about="the client's STARTTLS reaches Postfix as XXXXXXXX"),
    sc("smtp-refuse", "smtp", 587, tampered_smtp("refuse"), server_side=True,
       about="the middlebox answers STARTTLS with 454 itself"),
    sc("smtp-injection", "smtp", 25, injection([
        # swaks takes the injected lines for its post-TLS EHLO reply (the
        # CVE-2011-0411 class): every later reply is one behind, so it fails.
        ("swaks --tls", swaks("--tls"), {"respinject": dict(ok=False)}),
        ("curl --ssl-reqd (smtp)", curl("smtp", "--ssl-reqd", auth=False), CURL_INJECTED),
        ("python smtplib, starttls()", py("smtp", "required"), {}),
        ("openssl s_client -starttls smtp", s_client("smtp"), {"all": dict(stdin=QUIT["smtp"])}),
    ]), server_side=True, about="command injection (STARTTLS\\r\\nRSET) and response injection after 220"),
    sc("smtp-mixed", "smtp", 25, [
        S("swaks --tls-optional", swaks("--tls-optional"), "pass", starttls=True, tls=True),
        S("swaks --tls-optional", swaks("--tls-optional"), "strip", mail=True),
        S("swaks --tls-optional", swaks("--tls-optional"), "pass", starttls=True, tls=True),
        S("swaks --tls-optional", swaks("--tls-optional"), "strip", mail=True),
    ], server_side=True, about="four sessions to one MX, the 2nd and 4th stripped"),
    sc("smtp-ipv6", "smtp", 25, [
        S("swaks -6 --tls-optional", swaks("--tls-optional", ipv6=True), "pass", starttls=True, tls=True),
        S("swaks -6 --tls-optional", swaks("--tls-optional", ipv6=True), "strip", mail=True),
        S("curl --ssl-reqd (smtp, IPv6)", curl("smtp", "--ssl-reqd", auth=False), "pass", starttls=True, tls=True),
    ], net="6", server_side=True, about="IPv6; the second session stripped"),
    sc("smtp-degraded-link", "smtp", 587, [
        S("swaks --auth PLAIN (long body)", swaks(auth="PLAIN", body=LONG_BODY), creds=[("PLAIN", USER)], mail=True),
        S("swaks --tls --auth PLAIN (long body)", swaks("--tls", auth="PLAIN", body=LONG_BODY), starttls=True, tls=True),
    ], net="lossy", about="client behind a link with delay, reordering, loss and duplication"),
    # --- IMAP ---------------------------------------------------------------
    sc("imap-clean-starttls", "imap", 143, [
        S("curl --ssl-reqd (imap)", curl("imap", "--ssl-reqd", path="INBOX;UID=1"), starttls=True, tls=True),
        S("python imaplib, starttls(), login()", py("imap", "required"), starttls=True, tls=True),
        S("openssl s_client -starttls imap", s_client("imap"), starttls=True, tls=True, stdin=QUIT["imap"]),
    ], about="STARTTLS on 143"),
    sc("imap-implicit-tls", "imap", 993, [
        S("curl imaps://", curl("imaps", path="INBOX;UID=1"), tls=True, implicit=True, caps=False),
        S("python imaplib.IMAP4_SSL, login()", py("imap", "implicit"), tls=True, implicit=True, caps=False),
    ], about="implicit TLS on 993"),
    sc("imap-cleartext-auth", "imap", 143, [
        S("python imaplib login() without TLS", py("imap", "none"), creds=[("IMAP-LOGIN", USER)], mail=True),
        S("python imaplib AUTHENTICATE PLAIN without TLS", py("imap", "none", "plain"), creds=[("PLAIN", USER)], mail=True),
        S("curl (no --ssl, imap)", curl("imap", path="INBOX;UID=1"), creds=[("CRAM-MD5", USER)], mail=True),
    ], about="STARTTLS offered, clients log in in cleartext"),
    sc("imap-no-starttls-server", "imap", 143, [
        S("curl --ssl (imap)", curl("imap", "--ssl", path="INBOX;UID=1"), creds=[("CRAM-MD5", USER)], mail=True),
        S("curl --ssl-reqd (imap)", curl("imap", "--ssl-reqd", path="INBOX;UID=1"), ok=False),
        S("python imaplib, STARTTLS if offered, login()", py("imap", "opportunistic"), creds=[("IMAP-LOGIN", USER)], mail=True),
        S("python imaplib, starttls() required", py("imap", "required"), ok=False),
    ], server="plain", about="a Dovecot without TLS"),
    sc("imap-strip", "imap", 143, tampered_imap("strip"), server_side=True,
       about="STARTTLS token removed from the capability lists"),
    sc("imap-rewrite", "imap", 143, tampered_imap("rewrite"), server_side=True,
       about="the client's STARTTLS reaches Dovecot as XXXXXXXX"),
    sc("imap-refuse", "imap", 143, tampered_imap("refuse"), server_side=True,
       about="the middlebox answers STARTTLS with NO itself"),
    sc("imap-injection", "imap", 143, injection([
        ("curl --ssl-reqd (imap)", curl("imap", "--ssl-reqd", path="INBOX;UID=1"),
         dict(DOVECOT_INJECTED, **CURL_INJECTED)),
        ("python imaplib, starttls()", py("imap", "required"), DOVECOT_INJECTED),
        ("openssl s_client -starttls imap", s_client("imap"), dict(DOVECOT_INJECTED, all=dict(stdin=QUIT["imap"]))),
    ]), server_side=True, about="command and response injection around STARTTLS"),
    # --- POP3 ---------------------------------------------------------------
    sc("pop3-clean-stls", "pop3", 110, [
        S("curl --ssl-reqd (pop3)", curl("pop3", "--ssl-reqd", path="1"), starttls=True, tls=True),
        S("python poplib, stls(), USER/PASS", py("pop3", "required", "user"), starttls=True, tls=True),
        S("openssl s_client -starttls pop3", s_client("pop3"), starttls=True, tls=True, stdin=QUIT["pop3"], caps=False),
    ], about="STLS on 110"),
    sc("pop3-implicit-tls", "pop3", 995, [
        S("curl pop3s://", curl("pop3s", path="1"), tls=True, implicit=True, caps=False),
        S("python poplib.POP3_SSL, USER/PASS", py("pop3", "implicit", "user"), tls=True, implicit=True, caps=False),
    ], about="implicit TLS on 995"),
    sc("pop3-cleartext-auth", "pop3", 110, [
        S("python poplib USER/PASS without TLS", py("pop3", "none", "user"), creds=[("USER-PASS", USER)], mail=True, caps=False),
        S("python poplib APOP without TLS", py("pop3", "none", "apop"), creds=[("APOP", USER)], mail=True, caps=False),
        S("curl (no --ssl, pop3)", curl("pop3", path="1"), creds=[("CRAM-MD5", USER)], mail=True),
    ], about="STLS offered (when asked), clients log in in cleartext"),
    sc("pop3-no-stls-server", "pop3", 110, [
        S("curl --ssl (pop3)", curl("pop3", "--ssl", path="1"), creds=[("CRAM-MD5", USER)], mail=True),
        S("curl --ssl-reqd (pop3)", curl("pop3", "--ssl-reqd", path="1"), ok=False),
        S("python poplib, STLS if offered, USER/PASS", py("pop3", "opportunistic", "user"), creds=[("USER-PASS", USER)], mail=True),
        S("python poplib, stls() required", py("pop3", "required", "user"), ok=False),
    ], server="plain", about="a Dovecot without TLS"),
    sc("pop3-strip", "pop3", 110, tampered_pop3("strip"), server_side=True,
       about="STLS line removed from the CAPA reply"),
    sc("pop3-rewrite", "pop3", 110, tampered_pop3("rewrite"), server_side=True,
       about="the client's STLS reaches Dovecot as XXXX"),
    sc("pop3-refuse", "pop3", 110, tampered_pop3("refuse"), server_side=True,
       about="the middlebox answers STLS with -ERR itself"),
    sc("pop3-injection", "pop3", 110, injection([
        ("curl --ssl-reqd (pop3)", curl("pop3", "--ssl-reqd", path="1"), dict(DOVECOT_INJECTED, **CURL_INJECTED)),
        ("python poplib, stls()", py("pop3", "required", "user"), DOVECOT_INJECTED),
        ("openssl s_client -starttls pop3", s_client("pop3"),
         dict(DOVECOT_INJECTED, all=dict(stdin=QUIT["pop3"], caps=False))),
    ]), server_side=True, about="command and response injection around STLS"),
]
