#!/usr/bin/env bash
# Records the lab's reference captures from real mail software.
#
#   sudo tests/lab/record.sh [OUT_DIR]        (default: samples/lab)
#
# Installs Postfix, Dovecot, swaks, curl, openssl, tcpdump and tshark with
# apt-get, builds three network namespaces (client, middlebox, server; plus a
# second client behind a degraded link), runs Postfix and Dovecot in the
# server namespace from configs written into a temp dir, runs every scenario
# of tests/lab/scenarios.py through tests/lab/middlebox.py, and writes the
# captures and OUT_DIR/expected.json (truth from what each scenario did,
# checked against the captures with tshark). Everything it starts is stopped
# and the namespaces are removed at the end, also on failure.
#
# Environment: LAB_ONLY=NAME[,NAME] records only those scenarios (their
# entries replace theirs in OUT_DIR/expected.json); LAB_KEEP=1 keeps the temp
# dir (configs and logs); LAB_HOLD=FILE keeps the lab up until FILE exists.
set -euo pipefail

LAB_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$LAB_DIR/../.." && pwd)"
OUT="${1:-$REPO/samples/lab}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

if [ "$(id -u)" != 0 ]; then
    echo "record.sh: needs root (network namespaces, Postfix, Dovecot, tcpdump)" >&2
    exit 2
fi

# --- packages ---------------------------------------------------------------
PKGS=(postfix dovecot-imapd dovecot-pop3d swaks curl openssl tcpdump tshark
      iproute2 ethtool python3 libnet-ssleay-perl libio-socket-inet6-perl)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

# --- names and addresses (documentation ranges; no route off the machine) ---
NS_CLI=swl-cli NS_MB=swl-mb NS_SRV=swl-srv NS_CL2=swl-cl2 NS_WAN=swl-wan
ALL_NS=("$NS_CLI" "$NS_MB" "$NS_SRV" "$NS_CL2" "$NS_WAN")
export LAB_CLI4=192.0.2.10 LAB_CLI6=2001:db8:c::10
export LAB_MB4=192.0.2.1 LAB_MB4_PLAIN=192.0.2.2 LAB_MB6=2001:db8:c::1
export LAB_MBS4=198.51.100.1 LAB_MBS6=2001:db8:5::1
export LAB_SRV4=198.51.100.25 LAB_SRV4_PLAIN=198.51.100.26 LAB_SRV6=2001:db8:5::25
export LAB_CL2=203.0.113.10 LAB_MB_WAN=203.0.113.1
export LAB_NS_CLI=$NS_CLI LAB_NS_MB=$NS_MB LAB_NS_SRV=$NS_SRV LAB_NS_CL2=$NS_CL2
export LAB_USER=alice LAB_PASS=pw-lab-alice LAB_HOST=mail.lab.example

W="$(mktemp -d /tmp/stripwatch-lab.XXXXXX)"
chmod 755 "$W"
export LAB_WORK="$W"
PIDS=()

cleanup() {
    local rc=$?
    set +e
    if [ -f "$W/postfix/main.cf" ]; then
        ip netns exec "$NS_SRV" postfix -c "$W/postfix" stop >/dev/null 2>&1
    fi
    for conf in "$W/dovecot.conf" "$W/dovecot-plain.conf"; do
        [ -f "$conf" ] && ip netns exec "$NS_SRV" dovecot -c "$conf" stop >/dev/null 2>&1
    done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 0.5
    # Whatever is still running inside our namespaces was started by us.
    for ns in "${ALL_NS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    if [ $rc -ne 0 ]; then
        echo "record.sh: FAILED (exit $rc); logs:" >&2
        for log in "$W"/*.log; do
            [ -f "$log" ] && { echo "== $log" >&2; tail -n 30 "$log" >&2; }
        done
    fi
    if [ "${LAB_KEEP:-0}" = 1 ]; then echo "record.sh: kept $W" >&2; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- namespaces ---------------------------------------------------------------
for ns in "${ALL_NS[@]}"; do
    # Leftovers of an interrupted run of this script.
    if ip netns list | grep -qw "^$ns"; then
        for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns"
    fi
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
veth() { # veth NS_A IF_A NS_B IF_B [MTU]
    ip link add "swltmp0" type veth peer name "swltmp1"
    ip link set swltmp0 netns "$1"
    ip link set swltmp1 netns "$3"
    ip -n "$1" link set swltmp0 name "$2"
    ip -n "$3" link set swltmp1 name "$4"
    if [ -n "${5:-}" ]; then
        ip -n "$1" link set "$2" mtu "$5"
        ip -n "$3" link set "$4" mtu "$5"
    fi
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}
veth "$NS_CLI" c0 "$NS_MB" m0
veth "$NS_MB" m1 "$NS_SRV" s0
veth "$NS_CL2" d0 "$NS_WAN" w0 576
veth "$NS_WAN" w1 "$NS_MB" m2 576
ip -n "$NS_CLI" addr add "$LAB_CLI4/24" dev c0
ip -n "$NS_CLI" addr add "$LAB_CLI6/64" dev c0 nodad
ip -n "$NS_MB" addr add "$LAB_MB4/24" dev m0
ip -n "$NS_MB" addr add "$LAB_MB4_PLAIN/24" dev m0
ip -n "$NS_MB" addr add "$LAB_MB6/64" dev m0 nodad
ip -n "$NS_MB" addr add "$LAB_MBS4/24" dev m1
ip -n "$NS_MB" addr add "$LAB_MBS6/64" dev m1 nodad
ip -n "$NS_MB" addr add "$LAB_MB_WAN/24" dev m2
ip -n "$NS_SRV" addr add "$LAB_SRV4/24" dev s0
ip -n "$NS_SRV" addr add "$LAB_SRV4_PLAIN/24" dev s0
ip -n "$NS_SRV" addr add "$LAB_SRV6/64" dev s0 nodad
ip -n "$NS_CL2" addr add "$LAB_CL2/24" dev d0
ip -n "$NS_WAN" link set w0 promisc on
ip -n "$NS_WAN" link set w1 promisc on
# No forwarding anywhere: the middlebox is a proxy, the WAN a frame pump.
for ns in "${ALL_NS[@]}"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
done
# No offloads: captured segments are what crossed the link, with their
# checksums filled in (the frame pump forwards frames as they are, so a
# checksum left to the NIC would arrive wrong).
for pair in "$NS_CLI:c0" "$NS_MB:m0" "$NS_MB:m1" "$NS_MB:m2" "$NS_SRV:s0" "$NS_CL2:d0"; do
    ip netns exec "${pair%%:*}" ethtool -K "${pair#*:}" tx off tso off gso off gro off >/dev/null
done

# --- certificate, users -------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=$LAB_HOST" -addext "subjectAltName=DNS:$LAB_HOST" \
    -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
chmod 644 "$W/key.pem" "$W/cert.pem"
# A passwd-file passdb/userdb: plaintext password (CRAM-MD5 and APOP need it),
# mail owned by nobody (65534), no system user created.
mkdir -p "$W/home/$LAB_USER/Maildir/new" "$W/home/$LAB_USER/Maildir/cur" "$W/home/$LAB_USER/Maildir/tmp"
printf 'From: bob@lab.example\r\nTo: alice@lab.example\r\nSubject: lab\r\n\r\nhello\r\n' \
    > "$W/home/$LAB_USER/Maildir/cur/1700000000.lab.host:2,S"
chown -R 65534:65534 "$W/home"
echo "$LAB_USER:{PLAIN}$LAB_PASS:65534:65534::$W/home/$LAB_USER::" > "$W/users"
chmod 644 "$W/users"

# --- Postfix --------------------------------------------------------------------
bash "$LAB_DIR/configs.sh" "$W"
ip netns exec "$NS_SRV" postfix -c "$W/postfix" check || { echo "postfix check failed" >&2; exit 1; }
ip netns exec "$NS_SRV" dovecot -c "$W/dovecot.conf"
ip netns exec "$NS_SRV" dovecot -c "$W/dovecot-plain.conf"
ip netns exec "$NS_SRV" postfix -c "$W/postfix" start >/dev/null 2>&1

# Wait for every listener.
wait_port() { # NS HOST PORT
    for _ in $(seq 1 100); do
        if ip netns exec "$1" "$PY" -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5).close()" "$2" "$3" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "record.sh: nothing listens on $2 port $3 in $1" >&2
    return 1
}
for port in 25 587 465 143 993 110 995; do wait_port "$NS_SRV" "$LAB_SRV4" $port; done
for port in 25 587 143 110; do wait_port "$NS_SRV" "$LAB_SRV4_PLAIN" $port; done
for port in 25 143; do wait_port "$NS_SRV" "$LAB_SRV6" $port; done

# --- degraded link: a frame pump with delay, reordering, loss, duplication -----
# (the kernel here may lack sch_netem; tests/lab/impair.py does the same in
# user space, deterministically, so every recording shows the same damage)
ip netns exec "$NS_WAN" "$PY" "$LAB_DIR/impair.py" w0 w1 >"$W/impair.log" 2>&1 &
PIDS+=($!)

# LAB_HOLD=FILE: keep the lab up (for poking at it) until FILE exists.
if [ -n "${LAB_HOLD:-}" ]; then
    echo "record.sh: lab up; holding until $LAB_HOLD exists"
    while [ ! -e "$LAB_HOLD" ]; do sleep 1; done
fi

# --- scenarios -------------------------------------------------------------------
"$PY" "$LAB_DIR/lab.py" --out "$OUT" ${LAB_ONLY:+--only "$LAB_ONLY"}
