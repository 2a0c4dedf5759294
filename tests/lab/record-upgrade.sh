#!/usr/bin/env bash
# Records the upgrade lab (issue 16): FTP, PostgreSQL, MariaDB servers and
# clients from Debian through tests/lab/upmiddlebox.py.
#
#   sudo tests/lab/record-upgrade.sh [OUT_DIR]     (default: samples/lab)
#
# Environment: LAB_PROTOCOLS=ftp,postgresql,mysql,...,nntp (default: all);
# LAB_ONLY=NAME[,NAME] records only those scenarios (their entries replace
# theirs in OUT_DIR/expected-upgrade.json); LAB_KEEP=1 keeps the temp dir.
# Namespaces swu-cli, swu-mb, swu-srv (no default route, no forwarding);
# everything started is stopped and the namespaces removed on exit, also
# on failure. The mail lab (record.sh) is separate and unchanged.
set -euo pipefail

LAB_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$LAB_DIR/../.." && pwd)"
OUT="${1:-$REPO/samples/lab}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
if [ "$(id -u)" != 0 ]; then
    echo "record-upgrade.sh: needs root (network namespaces, servers, tcpdump)" >&2
    exit 2
fi

PKGS=(proftpd-core proftpd-mod-crypto lftp curl postgresql-15 postgresql-client-15
      mariadb-server mariadb-client prosody lua-unbound python3-slixmpp dovecot-lmtpd dovecot-managesieved sieve-connect slapd ldap-utils inn2-inews sasl2-bin swaks openssl tcpdump tshark iproute2 ethtool python3)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    # slapd installed unconfigured: the lab runs it from its own slapd.conf.
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# inn2 (NNTP): its post-installation script runs innconfval, which fails
# without a domain (the container's hostname has none): it gets one from
# an inn.conf of its own (INNCONF, the package's with `domain:` added), not
# /etc/news/inn.conf. It also adds `usenet: root` to /etc/aliases and runs
# newaliases, which fails here (postfix unconfigured): configured again,
# then /etc/aliases is put back as it was. Services never start
# (policy-rc.d); the lab runs nnrpd from its temp dir.
if ! dpkg-query -W -f='${Status}' inn2 2>/dev/null | grep -q "ok installed"; then
    t="$(mktemp -d /tmp/stripwatch-inn2.XXXXXX)"
    { cat /etc/news/inn.conf; echo "domain: lab.example"; } > "$t/inn.conf"
    [ -f /etc/aliases ] && cp -p /etc/aliases "$t/aliases"
    INNCONF="$t/inn.conf" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends inn2 >/dev/null 2>&1 ||
        INNCONF="$t/inn.conf" dpkg --configure inn2 >/dev/null
    [ -f "$t/aliases" ] && ! cmp -s "$t/aliases" /etc/aliases && cp -p "$t/aliases" /etc/aliases
    rm -rf "$t"
fi
export PYTHONDONTWRITEBYTECODE=1

NS_CLI=swu-cli NS_MB=swu-mb NS_SRV=swu-srv
ALL_NS=("$NS_CLI" "$NS_MB" "$NS_SRV")
export LAB_CLI4=192.0.2.10 LAB_MB4=192.0.2.1 LAB_MB4_PLAIN=192.0.2.2
export LAB_MBS4=198.51.100.1 LAB_SRV4=198.51.100.25 LAB_SRV4_PLAIN=198.51.100.26
export LAB_NS_CLI=$NS_CLI LAB_NS_MB=$NS_MB LAB_NS_SRV=$NS_SRV LAB_HOST=lab.example

W="$(mktemp -d /tmp/stripwatch-uplab.XXXXXX)"
chmod 755 "$W"
export LAB_WORK="$W"

cleanup() {
    local rc=$?
    set +e
    # Whatever still runs inside our namespaces was started by us.
    for ns in "${ALL_NS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    done
    sleep 1
    for ns in "${ALL_NS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    if [ $rc -ne 0 ]; then
        echo "record-upgrade.sh: FAILED (exit $rc); logs:" >&2
        for log in "$W"/*.log; do
            [ -f "$log" ] && { echo "== $log" >&2; tail -n 20 "$log" >&2; }
        done
    fi
    if [ "${LAB_KEEP:-0}" = 1 ]; then echo "record-upgrade.sh: kept $W" >&2; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ns in "${ALL_NS[@]}"; do
    if ip netns list | grep -qw "^$ns"; then
        for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns"
    fi
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
veth() { # veth NS_A IF_A NS_B IF_B
    ip link add swutmp0 type veth peer name swutmp1
    ip link set swutmp0 netns "$1"
    ip link set swutmp1 netns "$3"
    ip -n "$1" link set swutmp0 name "$2"
    ip -n "$3" link set swutmp1 name "$4"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}
veth "$NS_CLI" c0 "$NS_MB" m0
veth "$NS_MB" m1 "$NS_SRV" s0
ip -n "$NS_CLI" addr add "$LAB_CLI4/24" dev c0
ip -n "$NS_MB" addr add "$LAB_MB4/24" dev m0
ip -n "$NS_MB" addr add "$LAB_MB4_PLAIN/24" dev m0
ip -n "$NS_MB" addr add "$LAB_MBS4/24" dev m1
ip -n "$NS_SRV" addr add "$LAB_SRV4/24" dev s0
ip -n "$NS_SRV" addr add "$LAB_SRV4_PLAIN/24" dev s0
for ns in "${ALL_NS[@]}"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
done
for pair in "$NS_CLI:c0" "$NS_MB:m0" "$NS_MB:m1" "$NS_SRV:s0"; do
    ip netns exec "${pair%%:*}" ethtool -K "${pair#*:}" tx off tso off gso off gro off >/dev/null
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=$LAB_HOST" -addext "subjectAltName=DNS:$LAB_HOST,IP:$LAB_MB4,IP:$LAB_MB4_PLAIN,IP:$LAB_SRV4" \
    -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
chmod 644 "$W/cert.pem"
chmod 600 "$W/key.pem"

/usr/bin/python3 "$LAB_DIR/upgrade_lab.py" --out "$OUT" --protocols "${LAB_PROTOCOLS:-ftp,postgresql,mysql,xmpp,lmtp,managesieve,ldap,nntp}" \
    ${LAB_ONLY:+--only "$LAB_ONLY"}
