#!/usr/bin/env python3
"""Python ftplib used the way applications commonly use it.

    ftp_client.py HOST PORT none|opportunistic|required

none: FTP(), login() in cleartext. opportunistic: FTP_TLS(), FEAT, auth()
only when FEAT lists AUTH TLS, else login(secure=False) in cleartext
(FTP_TLS.login() alone would send AUTH TLS whatever FEAT says). required:
FTP_TLS().auth() unconditionally (raises on a refusal). Then PWD and QUIT.
Exit status: 0 done, 3 stopped because TLS was unavailable, 4 other error.
"""
import ftplib
import ssl
import sys

host, port, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed
try:
    if tls == "none":
        ftp = ftplib.FTP()
    else:
        ftp = ftplib.FTP_TLS(context=ctx)
    ftp.connect(host, port, timeout=15)
    if tls == "opportunistic":
        feat = ftp.sendcmd("FEAT")
        if any(ln.strip().upper() == "AUTH TLS" for ln in feat.splitlines()):
            ftp.auth()
    elif tls == "required":
        try:
            ftp.auth()
        except ftplib.error_perm as e:
            print(f"AUTH TLS refused: {e}", file=sys.stderr)
            ftp.close()
            sys.exit(3)
    # FTP_TLS.login() sends AUTH TLS itself unless told secure=False: an
    # application that wants TLS only when offered has to pass it.
    if tls == "none":
        ftp.login("alice", "pw-lab-alice")
    else:
        ftp.login("alice", "pw-lab-alice", secure=(tls == "required"))
    print(ftp.pwd())
    ftp.quit()
except (ftplib.all_errors) as e:
    print(f"error: {e!r}", file=sys.stderr)
    sys.exit(4)
