#!/usr/bin/env python3
"""Python smtplib.LMTP delivering one message.

    lmtp_client.py HOST PORT none|opportunistic

opportunistic: starttls() when the LHLO reply offers it, else deliver in
cleartext. Exit status: 0 delivered, 4 error (a refused STARTTLS raises).
"""
import smtplib
import ssl
import sys

host, port, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = "From: bob@lab.example\r\nTo: alice@lab.example\r\nSubject: lab\r\n\r\nhello from smtplib.LMTP\r\n"
try:
    with smtplib.LMTP(host, port, timeout=15) as s:
        s.ehlo()  # LMTP's ehlo() sends LHLO
        if tls == "opportunistic" and s.has_extn("starttls"):
            s.starttls(context=ctx)
            s.ehlo()
        s.sendmail("bob@lab.example", ["alice@lab.example"], msg)
except (smtplib.SMTPException, OSError) as e:
    print(f"error: {e!r}", file=sys.stderr)
    sys.exit(4)
