#!/usr/bin/env bash
# Packet rate that `stripwatch live` sustains without drops: replays a
# capture with tcpreplay onto one end of a veth pair in a network namespace
# of its own while stripwatch captures on the other end, at each rate given
# (packets per second in total, or `top` for --topspeed), and reports what
# the senders achieved, what libpcap received and dropped, what stripwatch
# analyzed, the kernel's own backlog drops (before any capture) and the CPU
# seconds stripwatch spent (all its threads, read just before it is
# stopped). Needs
# root, tcpreplay and a release build with the feature:
#
#   cargo build --release --features live
#   sudo scripts/bench_live.sh /tmp/bench/mail-300m.pcap 100000 200000 top
#   sudo SENDERS=2 scripts/bench_live.sh /tmp/bench/mail-300m.pcap 200000 300000
#
# The capture (generate it with ../shared/bench/gen_pcap.py, see its
# README) is replayed whole at every rate, preloaded into memory (-K).
# SENDERS=N replays N copies at once (the first as is, the others with their
# addresses randomized by tcprewrite --seed, so the flows stay distinct),
# each at rate/N: one tcpreplay alone sends at most ~100-230k packets/s on
# this machine. The senders share the machine's cores with stripwatch.
# STRIPWATCH_LIVE_ARGS adds options (e.g. "--buffer-size 8388608").
# Nothing leaves the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

PCAP=${1:-/tmp/bench/mail-300m.pcap}
shift || true
if [ $# -gt 0 ]; then RATES=("$@"); else RATES=(50000 100000 200000 top); fi
BIN=${STRIPWATCH_BIN:-target/release/stripwatch}
SENDERS=${SENDERS:-1}
EXTRA=${STRIPWATCH_LIVE_ARGS:-}
NS=swbench-$$
OUT=$(mktemp -d)
SW_PID=

cleanup() {
    if [ -n "$SW_PID" ]; then kill -INT "$SW_PID" 2>/dev/null || true; wait "$SW_PID" 2>/dev/null || true; fi
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$OUT"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "bench_live.sh: needs root" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench_live.sh: build first: cargo build --release --features live" >&2; exit 1; }
command -v tcpreplay >/dev/null || { echo "bench_live.sh: apt-get install tcpreplay" >&2; exit 1; }

ip netns add "$NS"
ip -n "$NS" link add swsend type veth peer name swcap
ip -n "$NS" link set swsend mtu 9000 up
ip -n "$NS" link set swcap mtu 9000 up
ip -n "$NS" link set lo up

COPIES=("$PCAP")
for i in $(seq 2 "$SENDERS"); do
    tcprewrite --seed="$i" -i "$PCAP" -o "$OUT/copy$i.pcap"
    COPIES+=("$OUT/copy$i.pcap")
done
echo "capture: $PCAP x $SENDERS sender(s); stripwatch: $BIN live -i swcap --format jsonl $EXTRA"
printf '%-10s %12s %12s %12s %12s %10s %10s %12s %8s\n' \
    rate achieved_pps sent received analyzed dropped if_drop backlog_drop cpu_s

softnet_drops() {
    # Second column of /proc/net/softnet_stat (hex), summed over CPUs.
    local sum=0 d
    while read -r _ d _; do sum=$((sum + 16#$d)); done </proc/net/softnet_stat
    echo "$sum"
}

for rate in "${RATES[@]}"; do
    rm -f "$OUT"/replay*.txt
    # shellcheck disable=SC2086
    ip netns exec "$NS" "$BIN" live -i swcap --format jsonl --stats-interval 0 $EXTRA \
        >"$OUT/live.jsonl" 2>"$OUT/live.err" &
    SW_PID=$!
    for _ in $(seq 50); do grep -q "capturing on" "$OUT/live.err" && break; sleep 0.1; done
    before=$(softnet_drops)
    if [ "$rate" = top ]; then speed=(--topspeed); else speed=(--pps="$((rate / SENDERS))"); fi
    senders=()
    for i in "${!COPIES[@]}"; do
        ip netns exec "$NS" tcpreplay -K -i swsend "${speed[@]}" "${COPIES[$i]}" >"$OUT/replay$i.txt" 2>&1 &
        senders+=($!)
    done
    wait "${senders[@]}"
    sleep 1
    # stripwatch's CPU seconds (user + system, every thread) so far.
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$SW_PID/stat" 2>/dev/null || echo -)
    if ! kill -INT "$SW_PID" 2>/dev/null; then
        echo "bench_live.sh: stripwatch ended before the signal:" >&2
        cat "$OUT/live.err" >&2
    fi
    wait "$SW_PID" || true
    SW_PID=
    after=$(softnet_drops)
    python3 - "$OUT" "$rate" "$((after - before))" "$cpu" <<'PY'
import glob, json, re, sys
out, rate, backlog, cpu = sys.argv[1:]
sent, secs = 0, 0.0
for f in glob.glob(f"{out}/replay*.txt"):
    m = re.search(r"Actual: (\d+) packets .* in ([\d.]+) seconds", open(f).read())
    if m:
        sent += int(m.group(1))
        secs = max(secs, float(m.group(2)))
inp = None
for line in open(f"{out}/live.jsonl"):
    o = json.loads(line)
    if o["type"] == "input":
        inp = o
live = (inp or {}).get("live", {})
# Senders start together; the slowest one's sending time spans the run.
pps = f"{sent / secs:.0f}" if secs else "-"
print(f"{rate:<10} {pps:>12} {sent:>12} {live.get('received', '-'):>12} "
      f"{(inp or {}).get('packets', '-'):>12} {live.get('dropped', '-'):>10} "
      f"{live.get('if_dropped', '-'):>10} {backlog:>12} {cpu:>8}")
PY
done
