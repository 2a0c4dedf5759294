#!/usr/bin/env python3
"""A degraded link in user space: pumps Ethernet frames between two
interfaces (AF_PACKET, standard library only) and delays, reorders, drops
and duplicates TCP segments that carry data.

    impair.py IF_A IF_B

Run it in a namespace holding both interfaces (no addresses, no
forwarding). The kernel here may lack sch_netem, so this does what
`tc qdisc add dev X root netem delay 4ms reorder ... loss ... duplicate ...`
would, but deterministically: the damage is a schedule counted per
direction on data-bearing TCP segments, so every recording of the degraded
scenario shows the same kinds of damage (the ports and sequence numbers
change). Every frame is delayed by BASE_DELAY; data segment number n
(1-based, per direction) is
  - dropped          when n is in DROP      (the sender retransmits it),
  - duplicated       when n is in DUPLICATE (sent twice, 1 ms apart),
  - held back        when n is in HOLD      (HOLD_DELAY more: later ones overtake it).
Everything else (ARP, NDP, pure ACKs, SYN, FIN) passes with the base delay.
"""
import heapq
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
BASE_DELAY = 0.004
HOLD_DELAY = 0.060
DROP = {3, 9}
DUPLICATE = {5, 12}
HOLD = {7}


def tcp_payload_len(frame):
    """Length of the TCP payload of an Ethernet frame carrying IPv4 or IPv6 (0 otherwise)."""
    if len(frame) < 14:
        return 0
    ethertype = int.from_bytes(frame[12:14], "big")
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 0x0F) * 4
        total = int.from_bytes(ip[2:4], "big")
        tcp = ip[ihl:total]
    elif ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        tcp = ip[40 : 40 + int.from_bytes(ip[4:6], "big")]
    else:
        return 0
    if len(tcp) < 20:
        return 0
    return len(tcp) - (tcp[12] >> 4) * 4


def main():
    names = sys.argv[1:3]
    socks = []
    for name in names:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        socks.append(s)
    peer = {socks[0]: socks[1], socks[1]: socks[0]}
    count = {socks[0]: 0, socks[1]: 0}
    queue = []  # (due, order, out socket, frame)
    order = 0
    print(f"impair: pumping {names[0]} <-> {names[1]}", flush=True)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
        ready, _, _ = select.select(socks, [], [], timeout)
        now = time.monotonic()
        for s in ready:
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue  # our own sends
            delays = [BASE_DELAY]
            if tcp_payload_len(frame) > 0:
                count[s] += 1
                n = count[s]
                if n in DROP:
                    print(f"impair: {addr[0]} data segment {n}: dropped", flush=True)
                    delays = []
                elif n in DUPLICATE:
                    print(f"impair: {addr[0]} data segment {n}: duplicated", flush=True)
                    delays = [BASE_DELAY, BASE_DELAY + 0.001]
                elif n in HOLD:
                    print(f"impair: {addr[0]} data segment {n}: held back", flush=True)
                    delays = [BASE_DELAY + HOLD_DELAY]
            for d in delays:
                order += 1
                heapq.heappush(queue, (now + d, order, peer[s], frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                out.send(frame)
            except OSError as e:
                print(f"impair: send failed: {e}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
