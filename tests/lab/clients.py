#!/usr/bin/env python3
"""The lab's Python clients: smtplib, imaplib and poplib used the way
applications commonly use them (standard library only).

    clients.py smtp|imap|pop3 HOST PORT --tls none|opportunistic|required|implicit
               [--auth login|plain|cram-md5|user|apop] [--user U --password P]

--tls opportunistic: STARTTLS only when the capability list offers it (the
usual `if server.has_extn("starttls")` pattern), else go on in cleartext.
--tls required: call starttls()/stls() unconditionally; the library raises
when the capability is missing or the server refuses, and the client stops.
--auth login for SMTP is smtplib's login(), which picks the strongest
mechanism the server offers (CRAM-MD5 before PLAIN and LOGIN).
Exit status: 0 done, 3 stopped because TLS was unavailable, 4 other error.
"""
import argparse
import imaplib
import poplib
import smtplib
import ssl
import sys

TIMEOUT = 15


def context():
    # The lab's certificate is self-signed; these clients do not verify it.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class NoTls(Exception):
    pass


def run_smtp(a):
    if a.tls == "implicit":
        s = smtplib.SMTP_SSL(a.host, a.port, local_hostname="client.lab.example", timeout=TIMEOUT, context=context())
    else:
        s = smtplib.SMTP(a.host, a.port, local_hostname="client.lab.example", timeout=TIMEOUT)
    s.ehlo()
    if a.tls == "required" or (a.tls == "opportunistic" and s.has_extn("starttls")):
        try:
            s.starttls(context=context())
        except (smtplib.SMTPNotSupportedError, smtplib.SMTPResponseException) as e:
            s.quit()
            raise NoTls(e)
        s.ehlo()
    if a.auth:
        s.login(a.user, a.password)
    s.sendmail("alice@lab.example", ["bob@lab.example"], b"Subject: lab\r\n\r\nhello from smtplib\r\n")
    s.quit()


def run_imap(a):
    if a.tls == "implicit":
        m = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=context(), timeout=TIMEOUT)
    else:
        m = imaplib.IMAP4(a.host, a.port, timeout=TIMEOUT)
    if a.tls == "required" or (a.tls == "opportunistic" and "STARTTLS" in m.capabilities):
        try:
            m.starttls(ssl_context=context())
        except imaplib.IMAP4.error as e:
            m.logout()
            raise NoTls(e)
    if a.auth == "plain":
        m.authenticate("PLAIN", lambda _: f"\0{a.user}\0{a.password}".encode())
    else:
        m.login(a.user, a.password)
    m.select("INBOX", readonly=True)
    m.logout()


def run_pop3(a):
    if a.tls == "implicit":
        p = poplib.POP3_SSL(a.host, a.port, timeout=TIMEOUT, context=context())
    else:
        p = poplib.POP3(a.host, a.port, timeout=TIMEOUT)
    if a.tls == "opportunistic":
        if "STLS" in p.capa():
            p.stls(context=context())
    elif a.tls == "required":
        try:
            p.stls(context=context())
        except poplib.error_proto as e:
            p.quit()
            raise NoTls(e)
    if a.auth == "apop":
        p.apop(a.user, a.password)
    else:
        p.user(a.user)
        p.pass_(a.password)
    p.stat()
    p.quit()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("proto", choices=("smtp", "imap", "pop3"))
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--tls", choices=("none", "opportunistic", "required", "implicit"), default="opportunistic")
    ap.add_argument("--auth", choices=("login", "plain", "user", "apop"))
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="pw-lab-alice")
    a = ap.parse_args()
    try:
        {"smtp": run_smtp, "imap": run_imap, "pop3": run_pop3}[a.proto](a)
    except NoTls as e:
        print(f"clients.py: no TLS, stopped: {e}", file=sys.stderr)
        return 3
    except Exception as e:  # noqa: BLE001 - the lab records any failure
        print(f"clients.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
