#!/usr/bin/env bash
# Builds the Debian package (cargo-deb) and checks it as an operator would
# meet it: installs it with dpkg -i into this machine, then
#   - /usr/bin/stripwatch --version names the version, the commit, live;
#   - systemd-analyze verify accepts the installed unit;
#   - bash -n accepts the bash completion (zsh -n and fish -n the others
#     when those shells are installed);
#   - man -l renders every page, and the pages name their options;
#   - the system user exists, unprivileged, without a login shell;
#   - the unit and the code agree: the unit's ExecStart, run as its User
#     with exactly its AmbientCapabilities, CapabilityBoundingSet and
#     NoNewPrivileges (setpriv), captures on lo and gives every capability
#     up (CapPrm/CapEff 0 in /proc), then stops cleanly on SIGTERM.
#
# Needs root, cargo-deb (cargo install --locked cargo-deb), dpkg,
# systemd-analyze (systemd), man (man-db, groff-base), setpriv
# (util-linux) and libpcap-dev; .ci/run installs them and runs this, and
# so does the ignored test package::deb_installs_and_checks.
#
# The build goes to $CARGO_TARGET_DIR (default target/package: not the
# target/ that a running `cargo test` holds locked).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "check_package.sh: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i, setpriv)"
for tool in cargo-deb dpkg systemd-analyze man setpriv; do
    command -v "$tool" >/dev/null || fail "needs $tool (see the comment at the top)"
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/package}"
release="$CARGO_TARGET_DIR/release"

# The binary as cargo-deb would build it (features from
# [package.metadata.deb]), then the man pages and completions it makes,
# where the assets of Cargo.toml expect them.
cargo build --release --features live --bin stripwatch
generated="$release/package"
rm -rf "$generated"
"$release/stripwatch" man "$generated/man" >/dev/null
# Compressed here: cargo-deb compresses man pages, but not those under the
# target directory (it takes them for build products).
gzip -9n "$generated"/man/*.1
mkdir -p "$generated/completions"
"$release/stripwatch" completions bash >"$generated/completions/stripwatch.bash"
"$release/stripwatch" completions zsh >"$generated/completions/_stripwatch"
"$release/stripwatch" completions fish >"$generated/completions/stripwatch.fish"
deb=$(cargo deb --no-build --strip --output "$CARGO_TARGET_DIR/debian/" | tail -n 1)
[ -f "$deb" ] || fail "cargo deb made no package (it said: $deb)"
echo "built $deb"

dpkg -i "$deb" >/dev/null
echo "installed: $(dpkg-query -W -f '${Package} ${Version}' stripwatch)"

# --version, from the installed binary.
version=$(/usr/bin/stripwatch --version)
echo "$version"
expected_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
case "$version" in
"stripwatch $(dpkg-query -W -f '${Version}' stripwatch | sed 's/-[^-]*$//') (commit $expected_commit, live capture: yes)") ;;
*) fail "--version says '$version': expected the package's version, commit $expected_commit and live" ;;
esac

# The unit.
unit=/usr/lib/systemd/system/stripwatch.service
[ -f "$unit" ] || fail "no unit at $unit"
# It exits 0 on a misspelt key, only saying so: any word from it fails.
said=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $said"
[ -z "$said" ] || fail "systemd-analyze verify $unit: $said"
echo "systemd-analyze verify: $unit is valid"

# Completions.
bash_completion=/usr/share/bash-completion/completions/stripwatch
bash -n "$bash_completion"
grep -q 'analyze' "$bash_completion" || fail "the bash completion does not know analyze"
if command -v zsh >/dev/null; then zsh -n /usr/share/zsh/vendor-completions/_stripwatch; fi
if command -v fish >/dev/null; then fish -n /usr/share/fish/vendor_completions.d/stripwatch.fish; fi
echo "completions: bash -n passes"

# Man pages: each renders, and names what it documents.
pages=(stripwatch stripwatch-analyze stripwatch-diff stripwatch-live stripwatch-completions stripwatch-man)
for page in "${pages[@]}"; do
    file=/usr/share/man/man1/$page.1.gz
    [ -f "$file" ] || fail "no man page $file"
    text=$(MANWIDTH=80 man -l "$file" 2>/dev/null)
    grep -q '^NAME' <<<"$text" || fail "man -l $file renders no NAME section"
    grep -q "$page" <<<"$text" || fail "man -l $file does not name $page"
done
MANWIDTH=80 man -l /usr/share/man/man1/stripwatch-analyze.1.gz | grep -q -- '--fail-on' ||
    fail "the analyze man page does not document --fail-on"
MANWIDTH=80 man -l /usr/share/man/man1/stripwatch-live.1.gz | grep -q -- '--interface' ||
    fail "the live man page does not document --interface"
echo "man -l renders ${#pages[@]} pages"

# The system user.
user=$(sed -n 's/^User=//p' "$unit")
entry=$(getent passwd "$user") || fail "no user $user after installing"
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
[ "$uid" != 0 ] && [ "$gid" != 0 ] || fail "user $user has uid $uid, gid $gid"
[ "$shell" = /usr/sbin/nologin ] || fail "user $user has the shell $shell"
echo "user $user: uid $uid, gid $gid, home $home, shell $shell"

# The unit and the code agree: run the unit's ExecStart as systemd would
# (its user, its capabilities, no_new_privs), capturing on lo.
caps_of() { # "CAP_NET_RAW CAP_NET_ADMIN" -> "+net_raw,+net_admin"
    sed -n "s/^$1=//p" "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g'
}
ambient=$(caps_of AmbientCapabilities)
bounding=$(caps_of CapabilityBoundingSet)
[ -n "$ambient" ] && [ "$ambient" = "$bounding" ] ||
    fail "AmbientCapabilities ($ambient) and CapabilityBoundingSet ($bounding) differ"
grep -qx 'NoNewPrivileges=yes' "$unit" || fail "the unit does not set NoNewPrivileges=yes"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
# shellcheck disable=SC1091
STRIPWATCH_OPTIONS=$(. /etc/default/stripwatch && echo "${STRIPWATCH_OPTIONS:-}")
command_line=${exec_start//'${STRIPWATCH_INTERFACE}'/lo}
command_line=${command_line//'$STRIPWATCH_OPTIONS'/$STRIPWATCH_OPTIONS}
read -r -a argv <<<"$command_line"
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
chown "$user:$gid" "$state"
chmod 0700 "$state"
(
    cd "$state"
    exec setpriv --reuid "$uid" --regid "$gid" --init-groups \
        --inh-caps "$ambient" --ambient-caps "$ambient" \
        --bounding-set "-all,$bounding" --no-new-privs "${argv[@]}"
) >"$state/out" 2>"$state/err" &
pid=$!
# Waits for the note that the capture is open and privileges are gone
# (bounded: 300 looks, 0.1 s apart).
for _ in $(seq 300); do
    grep -q 'dropped every capability' "$state/err" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
grep -q 'dropped every capability' "$state/err" || {
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
    fail "the unit's command did not start as $user with $ambient: $(cat "$state/err")"
}
status_file=/proc/$pid/status
for field in CapInh CapPrm CapEff CapBnd CapAmb; do
    value=$(sed -n "s/^$field:[[:space:]]*//p" "$status_file")
    case $field in
    CapBnd) ;; # keeps net_raw,net_admin: emptying it needs CAP_SETPCAP
    *) [ "$value" = 0000000000000000 ] || fail "$field is $value after the start" ;;
    esac
done
[ "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "$status_file")" = 1 ] || fail "no_new_privs is not set"
[ "$(sed -n 's/^Uid:[[:space:]]*//p' "$status_file" | tr -s '\t ' ' ')" = "$uid $uid $uid $uid" ] ||
    fail "not running as $user"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" = 0 ] || fail "the unit's command ended with status $status: $(cat "$state/err")"
grep -q '"type":"summary"\|"type": "summary"' "$state/out" ||
    fail "the unit's command wrote no summary: $(head -c 2000 "$state/out")"
echo "unit and code agree: ${argv[*]} ran as $user with $ambient, gave every capability up, stopped cleanly"
echo "check_package.sh: all checks passed"
