#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The Debian package in a clean Debian 12 root: contrib/scripts/build-deb.sh
# builds it (lintian errors fail), a fresh copy of a cached debootstrap
# minbase installs it with apt-get (the runtime libraries come from the
# mirror), and the result is checked: the acmebridge user and group, the
# conffile, /var/lib/acmebridge (acmebridge:acmebridge 0700), the unit
# (enabled, not started), the man pages, `acmebridge --version`, and
# `check-config` of the shipped configuration: it names the missing SCM
# secret, then passes once the secret file exists, also as the service
# user. Then the root boots under systemd-nspawn: the unit starts with its
# sandbox as Type=notify, serves port 443 as the acmebridge user, the
# watchdog restarts a stopped server, systemctl stop is clean. Last,
# `apt-get purge` removes the data directory and keeps the user, as
# acmebridge(8) says.
#
# Needs root (chroot, mounts) and Debian's mirror: without root it is
# skipped (exit 77, ctest SKIP_RETURN_CODE); without the mirror it fails.
# The minbase is made once (debootstrap, a few minutes) and kept as a
# tarball in ACMEBRIDGE_TEST_CACHE (default /var/cache/acmebridge-tests).
# ctest label "package"; the sanitizer pass leaves it out.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: test_package needs root (chroot, mount); CI runs it as root"
	exit 77
fi
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

CACHE=${ACMEBRIDGE_TEST_CACHE:-/var/cache/acmebridge-tests}
MIRROR=${ACMEBRIDGE_TEST_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
TARBALL=$CACHE/$SUITE-minbase.tar.gz
R=$T/root
t0=$(date +%s)
phase() { log "$1 after $(($(date +%s) - t0)) s"; }

for tool in debootstrap dpkg-buildpackage dh lintian fakeroot jq curl systemd-nspawn nsenter openssl; do
	command -v "$tool" >/dev/null ||
		fail "$tool is missing: run contrib/scripts/install-deps.sh as root"
done

# unmount whatever is mounted below the root, also on failure; remove the
# root (hundreds of MB) once nothing is mounted there
NSPAWN_PID=""
_pkg_cleanup() {
	local m i
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" 2>/dev/null # a clean poweroff
		for ((i = 0; i < 100; i++)); do
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$NSPAWN_PID" 2>/dev/null
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	for m in $(findmnt -rn -o TARGET | grep "^$R/" | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	if [ -d "$R" ] && ! findmnt -rn -o TARGET | grep -q "^$R/" &&
		[ "${KEEP:-0}" != 1 ]; then
		rm -rf --one-file-system "$R"
	fi
}
trap 'rc=$?; set +e; _pkg_cleanup; (exit $rc); _lib_cleanup' EXIT

in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
}

# ---- the package
bash "$SRCDIR/contrib/scripts/build-deb.sh" "$T/out" >"$T/build-deb.log" 2>&1 || {
	tail_log "$T/build-deb.log" 60
	fail "build-deb.sh failed"
}
deb=$(ls "$T"/out/acmebridge_*.deb)
check_ok "build-deb.sh: $(basename "$deb"), lintian without errors ($(grep -c '^W: ' "$T/build-deb.log" || true) warnings)"
# what it holds, and nothing else (no simulator, tests or benchmark tools)
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort >"$T/files"
cat >"$T/files.expected" <<'LIST'
/etc/acmebridge/acmebridge.json
/lib/systemd/system/acmebridge.service
/usr/lib/sysusers.d/acmebridge.conf
/usr/sbin/acmebridge
/usr/share/doc/acmebridge/changelog.gz
/usr/share/doc/acmebridge/copyright
/usr/share/doc/acmebridge/examples/acmebridge.example.json
/usr/share/man/man5/acmebridge.json.5.gz
/usr/share/man/man8/acmebridge.8.gz
LIST
if diff -u "$T/files.expected" "$T/files" >"$T/files.diff"; then
	check_ok "the package holds the server, unit, sysusers entry, configuration, man pages and docs, nothing else"
else
	check_bad "the package's files differ from the expected: $(cat "$T/files.diff")"
fi
phase "package built"

# ---- the clean root: a cached debootstrap minbase, unpacked afresh
mkdir -p "$CACHE" || fail "cannot create the cache directory $CACHE"
if [ ! -s "$TARBALL" ]; then
	curl -fsS --max-time 20 -o /dev/null "$MIRROR/dists/$SUITE/Release" ||
		fail "Debian's mirror $MIRROR is not reachable: the package test needs it (set ACMEBRIDGE_TEST_MIRROR for another)"
	log "no $TARBALL yet: debootstrap --variant=minbase $SUITE (once)"
	(
		flock 9
		if [ ! -s "$TARBALL" ]; then
			debootstrap --variant=minbase "$SUITE" "$T/bootstrap" "$MIRROR" \
				>"$CACHE/debootstrap.log" 2>&1 || exit 1
			tar -C "$T/bootstrap" --numeric-owner -czf "$TARBALL.tmp" . &&
				mv "$TARBALL.tmp" "$TARBALL"
			rm -rf --one-file-system "$T/bootstrap"
		fi
	) 9>"$CACHE/.lock" || {
		tail_log "$CACHE/debootstrap.log"
		fail "debootstrap of $SUITE from $MIRROR failed"
	}
	phase "debootstrap done, cached in $TARBALL"
fi
mkdir -p "$R"
tar -C "$R" --numeric-owner -xzf "$TARBALL" || fail "cannot unpack $TARBALL"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
# no service starts inside the root (there is no systemd there either)
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod +x "$R/usr/sbin/policy-rc.d"
mount -t proc proc "$R/proc" || fail "cannot mount /proc in $R"
phase "root unpacked"

# ---- install
cp "$deb" "$R/tmp/"
in_root apt-get update -q >"$T/apt.log" 2>&1 ||
	{ tail_log "$T/apt.log"; fail "apt-get update in the root failed (mirror $MIRROR)"; }
if in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >>"$T/apt.log" 2>&1; then
	check_ok "apt-get install ./$(basename "$deb") in a clean $SUITE minbase"
else
	tail_log "$T/apt.log" 40
	fail "apt-get install of the package failed"
fi
phase "installed"

if in_root getent passwd acmebridge >"$T/pw" && in_root getent group acmebridge >/dev/null &&
	[ "$(cut -d: -f7 "$T/pw")" = /usr/sbin/nologin ] &&
	[ "$(cut -d: -f3 "$T/pw")" -lt 1000 ]; then
	check_ok "system user and group acmebridge: $(cat "$T/pw")"
else
	check_bad "user/group acmebridge: $(cat "$T/pw" 2>/dev/null)"
fi
# shellcheck disable=SC2016 # dpkg-query's ${field}, not the shell's
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' acmebridge)
if grep -q '^ /etc/acmebridge/acmebridge.json ' <<<"$conffiles"; then
	check_ok "/etc/acmebridge/acmebridge.json is a conffile"
else
	check_bad "/etc/acmebridge/acmebridge.json is not a conffile: $(in_root dpkg-query -W -f='${Conffiles}' acmebridge)"
fi
st=$(in_root stat -c '%U:%G %a' /var/lib/acmebridge 2>&1 || true)
if [ "$st" = "acmebridge:acmebridge 700" ]; then
	check_ok "/var/lib/acmebridge: $st"
else
	check_bad "/var/lib/acmebridge: $st (expected acmebridge:acmebridge 700)"
fi
st=$(in_root stat -c '%U:%G %a' /etc/acmebridge 2>&1 || true)
if [ "$st" = "root:acmebridge 750" ]; then
	check_ok "/etc/acmebridge: $st"
else
	check_bad "/etc/acmebridge: $st (expected root:acmebridge 750)"
fi
if [ -f "$R/lib/systemd/system/acmebridge.service" ] &&
	grep -q '^ExecStart=/usr/sbin/acmebridge serve -c /etc/acmebridge/acmebridge.json$' \
		"$R/lib/systemd/system/acmebridge.service" &&
	[ -L "$R/etc/systemd/system/multi-user.target.wants/acmebridge.service" ]; then
	check_ok "unit /lib/systemd/system/acmebridge.service installed and enabled"
else
	check_bad "unit: $(ls -l "$R/lib/systemd/system/acmebridge.service" "$R/etc/systemd/system/multi-user.target.wants/" 2>&1)"
fi
if [ -f "$R/usr/share/man/man8/acmebridge.8.gz" ] && [ -f "$R/usr/share/man/man5/acmebridge.json.5.gz" ] &&
	[ -f "$R/usr/share/doc/acmebridge/examples/acmebridge.example.json" ]; then
	check_ok "man pages acmebridge(8), acmebridge.json(5) and the example config installed"
else
	check_bad "man pages or example missing: $(ls "$R/usr/share/man/man8" "$R/usr/share/man/man5" 2>&1 | tr '\n' ' ')"
fi
v=$(in_root /usr/sbin/acmebridge --version 2>&1 || true)
if [ "$v" = "acmebridge $(sed -n '1s/^acmebridge (\([^)]*\)).*/\1/p' "$SRCDIR/contrib/dist/debian/changelog")" ]; then
	check_ok "acmebridge --version: $v"
else
	check_bad "acmebridge --version: $v"
fi

# the shipped configuration: refused without the SCM secret, naming it
CONF=/etc/acmebridge/acmebridge.json
if in_root /usr/sbin/acmebridge check-config -c $CONF >"$T/cc.out" 2>&1; then
	check_bad "check-config passed without the SCM secret"
elif grep -q 'client_secret_file: cannot read /etc/acmebridge/scm-client-secret' "$T/cc.out"; then
	check_ok "before the secret exists check-config says: $(cat "$T/cc.out")"
else
	check_bad "check-config without the secret: $(cat "$T/cc.out")"
fi
# as acmebridge.json(5) tells the administrator to
printf 'scm-client-secret-for-the-test\n' |
	in_root install -m 600 -o acmebridge -g acmebridge /dev/stdin /etc/acmebridge/scm-client-secret
if in_root /usr/sbin/acmebridge check-config -c $CONF >"$T/cc.out" 2>&1 &&
	chroot --userspec=acmebridge:acmebridge "$R" /usr/sbin/acmebridge \
		check-config -c $CONF >>"$T/cc.out" 2>&1; then
	check_ok "check-config of the shipped configuration passes (as root and as acmebridge)"
else
	check_bad "check-config with the secret: $(cat "$T/cc.out")"
fi
# the service user creates the database where the configuration says
if chroot --userspec=acmebridge:acmebridge "$R" /usr/sbin/acmebridge eab list \
	-c $CONF >"$T/eab.out" 2>&1 && [ -f "$R/var/lib/acmebridge/acmebridge.db" ]; then
	check_ok "the service user opens /var/lib/acmebridge/acmebridge.db ($(stat -c %a "$R/var/lib/acmebridge/acmebridge.db"))"
else
	check_bad "eab list as acmebridge: $(cat "$T/eab.out")"
fi

# ---- under systemd 252: the root boots in systemd-nspawn (its own network
# namespace, so port 443 is its own); the unit the package enabled starts
# at boot with its whole sandbox, as Type=notify; the watchdog restarts a
# stopped server; systemctl stop ends it cleanly. A drop-in shortens the
# watchdog for the test.
in_root apt-get install -y -q --no-install-recommends systemd >>"$T/apt.log" 2>&1 ||
	{ tail_log "$T/apt.log"; fail "apt-get install systemd in the root failed"; }
mkdir -p "$R/etc/acmebridge/tls" "$R/etc/systemd/system/acmebridge.service.d"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -keyout "$R/etc/acmebridge/tls/privkey.pem" \
	-out "$R/etc/acmebridge/tls/fullchain.pem" 2>/dev/null || fail "openssl req failed"
in_root chown acmebridge:acmebridge /etc/acmebridge/tls/privkey.pem
chmod 600 "$R/etc/acmebridge/tls/privkey.pem"
# a stopped (SIGSTOP) process cannot act on the watchdog's SIGABRT: the
# SIGKILL after TimeoutAbortSec= ends it (TimeoutStopSec's 30 s otherwise)
printf '[Service]\nWatchdogSec=3s\nRestartSec=1s\nTimeoutAbortSec=2s\n' \
	>"$R/etc/systemd/system/acmebridge.service.d/test.conf"
umount "$R/proc" # nspawn mounts its own
phase "systemd installed in the root"
systemd-nspawn -q -D "$R" -b --register=no --keep-unit --private-network \
	-M acmebridge-test >"$T/nspawn.log" 2>&1 &
NSPAWN_PID=$!
leader() { ps -o pid= --ppid "$NSPAWN_PID" | head -n 1 | tr -d ' '; }
has_leader() { [ -n "$(leader)" ]; }
wait_for "systemd-nspawn boot" "$T/nspawn.log" "$NSPAWN_PID" has_leader
L=$(leader)
ns() { nsenter -t "$L" -a "$@"; }
wait_for "systemd in the container" "$T/nspawn.log" "$NSPAWN_PID" \
	ns systemctl is-active -q multi-user.target
mp=$(ns systemctl show -p MainPID --value acmebridge)
if ns systemctl is-active -q acmebridge && [ "$mp" -gt 0 ]; then
	check_ok "systemd started the enabled unit at boot: $(ns systemctl show -p StatusText --value acmebridge)"
else
	ns journalctl -u acmebridge --no-pager -n 30 >&2 || true
	check_bad "acmebridge.service is $(ns systemctl is-active acmebridge) after boot"
fi
st=$(ns sh -c "stat -c %U /proc/$mp && grep -E '^(CapEff|CapAmb|NoNewPrivs|Seccomp):' /proc/$mp/status" | tr -s '\t\n' '  ')
if [ "$st" = "acmebridge CapEff: 0000000000000400 CapAmb: 0000000000000400 NoNewPrivs: 1 Seccomp: 2 " ]; then
	check_ok "the service runs as acmebridge with only CAP_NET_BIND_SERVICE, no new privileges, a seccomp filter"
else
	check_bad "the service's process: $st"
fi
if ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/443' 2>/dev/null &&
	[ "$(ns stat -c %U /var/lib/acmebridge/acmebridge.db 2>&1)" = acmebridge ]; then
	check_ok "it serves on port 443 and its database is in /var/lib/acmebridge"
else
	check_bad "port 443 or the database: $(ns ls -la /var/lib/acmebridge 2>&1)"
fi
n0=$(ns systemctl show -p NRestarts --value acmebridge)
ns kill -STOP "$mp"
# 3 s to the timeout, 2 s to the SIGKILL, 1 s to the restart: 30 s at most
deadline=$(($(date +%s) + 30))
while [ "$(date +%s)" -lt "$deadline" ]; do
	[ "$(ns systemctl show -p NRestarts --value acmebridge)" -gt "$n0" ] &&
		ns systemctl is-active -q acmebridge &&
		[ "$(ns systemctl show -p MainPID --value acmebridge)" != "$mp" ] &&
		break
	sleep 0.2
done
# the journal into a variable first: with pipefail, grep -q leaving at the
# first match makes journalctl's next write fail (SIGPIPE) and the check
# with it
journal=$(ns journalctl -u acmebridge --no-pager -o cat)
if [[ $journal == *'Watchdog timeout'* ]] &&
	ns systemctl is-active -q acmebridge &&
	[ "$(ns systemctl show -p MainPID --value acmebridge)" != "$mp" ]; then
	check_ok "a stopped server is restarted by the watchdog (WatchdogSec=3s)"
else
	ns journalctl -u acmebridge --no-pager -n 20 >&2 || true
	check_bad "the watchdog did not restart the stopped server (restarts $n0 before, $(ns systemctl show -p NRestarts --value acmebridge) after)"
fi
if ns systemctl stop acmebridge &&
	[ "$(ns systemctl show -p Result --value acmebridge)" = success ]; then
	check_ok "systemctl stop: the server stops cleanly (Result=success)"
else
	check_bad "systemctl stop: Result=$(ns systemctl show -p Result --value acmebridge)"
fi
kill -TERM "$NSPAWN_PID"
wait "$NSPAWN_PID" 2>/dev/null || true
NSPAWN_PID=""
rm -rf "$R/etc/systemd/system/acmebridge.service.d"
mount -t proc proc "$R/proc" || fail "cannot mount /proc in $R"
phase "systemd checks done"

# ---- purge
if in_root apt-get purge -y -q acmebridge >>"$T/apt.log" 2>&1; then
	if [ ! -e "$R/var/lib/acmebridge" ] && [ ! -e "$R/etc/acmebridge/acmebridge.json" ] &&
		[ ! -e "$R/usr/sbin/acmebridge" ] && in_root getent passwd acmebridge >/dev/null; then
		check_ok "apt-get purge: /var/lib/acmebridge and the conffile gone, the user kept"
	else
		check_bad "after purge: $(ls -d "$R/var/lib/acmebridge" "$R/etc/acmebridge/acmebridge.json" 2>&1 | tr '\n' ' ')"
	fi
else
	tail_log "$T/apt.log"
	check_bad "apt-get purge failed"
fi
phase "done"
log "wall time $(($(date +%s) - t0)) s"
check_summary
