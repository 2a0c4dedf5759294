#!/usr/bin/env python3
"""slixmpp (Debian's python3-slixmpp 1.8) as an application uses it: log in
as alice@lab.example, wait for the session, disconnect.

    xmpp_client.py HOST PORT [--no-force-starttls] [--plain]

--no-force-starttls: connect(force_starttls=False) (the default, True,
refuses to go on when the server offers no STARTTLS). --plain: the
application allows SASL PLAIN without TLS (feature_mechanisms
unencrypted_plain) and asks for PLAIN only.
Exit status: 0 session started, 3 no session (disconnected, refused), 4 timeout.
"""
import asyncio
import logging
import ssl
import sys

import slixmpp

host, port = sys.argv[1], int(sys.argv[2])
force = "--no-force-starttls" not in sys.argv
plain = "--plain" in sys.argv
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")


class Client(slixmpp.ClientXMPP):
    def __init__(self):
        kw = {"sasl_mech": "PLAIN"} if plain else {}
        super().__init__("alice@lab.example/lab", "pw-lab-alice", **kw)
        self.result = 3
        # The lab's certificate is self-signed.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        if plain:
            self["feature_mechanisms"].unencrypted_plain = True
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("failed_auth", lambda _: self.disconnect())
        self.add_event_handler("disconnected", lambda _: self.done.set_result(True) if not self.done.done() else None)

    async def started(self, _):
        self.result = 0
        self.disconnect()


async def main():
    c = Client()
    c.done = asyncio.get_running_loop().create_future()
    c.connect((host, port), force_starttls=force)
    try:
        await asyncio.wait_for(c.done, 20)
    except asyncio.TimeoutError:
        print("timeout", file=sys.stderr)
        return 4
    return c.result


sys.exit(asyncio.run(main()))
