# shellcheck shell=bash
# shellcheck disable=SC2119,SC2120 # optional function arguments
# SPDX-License-Identifier: Apache-2.0
#
# Shared helpers for the integration tests; see CONTRACT.md for the API.
# Source it:   . "$SRCDIR/tests/integration/lib.sh"
#
# Everything started here (named, sectigo-sim, acmebridge, helper servers
# registered with track_pid) is stopped by an EXIT trap, also on failure.
# On failure the tails of the logs in $T are printed and $T is kept.

set -eu
set -o pipefail

# ---------------------------------------------------------------- settings
: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BUILDDIR:=$SRCDIR/build}"
: "${ACMEBRIDGE_BIN:=$BUILDDIR/acmebridge}"
: "${SIM_BIN:=$BUILDDIR/contrib/sectigo-sim/sectigo-sim}"
: "${WAIT_SECONDS:=20}"
export SRCDIR BUILDDIR ACMEBRIDGE_BIN SIM_BIN

T=$(mktemp -d "${TMPDIR:-/tmp}/acmebridge-it.XXXXXX")
export T
ZONE=example.test
TSIG_NAME=acmebridge-test.
TSIG_SECRET=$(openssl rand -base64 32)
export ZONE TSIG_NAME TSIG_SECRET

_LIB_PIDS=()        # pid list for cleanup (everything but the bridge)
_LIB_PNAMES=()      # matching names, for messages
BRIDGE_PID=""
_LIB_BRIDGE_FAILED=0

# ---------------------------------------------------------------- output
_ts() { date +%H:%M:%S; }
log() { printf '[%s] %s\n' "$(_ts)" "$*" >&2; }
pass() { printf '[%s] PASS: %s\n' "$(_ts)" "$*"; }
fail() {
	printf '[%s] FAIL: %s\n' "$(_ts)" "$*" >&2
	exit 1
}

# tail_log FILE [N]: print the last N (30) lines of FILE to stderr.
tail_log() {
	local f=$1 n=${2:-30}
	if [ -f "$f" ]; then
		printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
		tail -n "$n" "$f" >&2 || true
		printf -- '----- end of %s -----\n' "$f" >&2
	else
		printf -- '----- %s does not exist -----\n' "$f" >&2
	fi
}

# ---------------------------------------------------------------- counted checks
# For scripts that run every check and report at the end instead of stopping
# at the first failure (as fail does).  The counts are CHECK_PASSED and
# CHECK_FAILED; the last line of such a script comes from check_summary.
CHECK_PASSED=0
CHECK_FAILED=0

# check_ok MSG: count a passed check; prints "PASS: MSG".
check_ok() {
	pass "$*"
	CHECK_PASSED=$((CHECK_PASSED + 1))
}

# check_bad MSG: count a failed check and go on; prints "FAIL: MSG" to
# stderr.  Returns 0, so it does not trip set -e.
check_bad() {
	printf '[%s] FAIL: %s\n' "$(_ts)" "$*" >&2
	CHECK_FAILED=$((CHECK_FAILED + 1))
}

# check_add_counts FILE WHAT RC: add the counts of a Python check script,
# the JSON object {"passed": N, "failed": M, ...} in FILE, to CHECK_PASSED
# and CHECK_FAILED; when FILE is missing or empty, check_bad "WHAT did not
# report (exit RC)".  Returns 0.
check_add_counts() {
	if [ -s "$1" ]; then
		CHECK_PASSED=$((CHECK_PASSED + $(jq -r .passed "$1")))
		CHECK_FAILED=$((CHECK_FAILED + $(jq -r .failed "$1")))
	else
		check_bad "$2 did not report (exit $3)"
	fi
}

# check_py SCRIPT OUTDIR: run tests/integration/SCRIPT with $PY (see
# find_python) and OUT=OUTDIR in the environment, then add the counts it
# wrote to OUTDIR/py-counts.json (check_add_counts); a non-zero exit while
# no check has failed counts as a failure too.  Returns 0.
check_py() {
	local rc=0
	OUT=$2 "$PY" "$SRCDIR/tests/integration/$1" || rc=$?
	check_add_counts "$2/py-counts.json" "$1" "$rc"
	if [ "$rc" -ne 0 ] && [ "$CHECK_FAILED" -eq 0 ]; then
		check_bad "$1 exited $rc"
	fi
}

# check_summary [LABEL]: print "LABEL: N passed, M failed" (LABEL defaults
# to the script's file name; an empty LABEL prints just "N passed,
# M failed"); returns non-zero when a check failed, so that it can be the
# script's last command.
check_summary() {
	local label=${1-$(basename "$0")}
	printf '%s%d passed, %d failed\n' "${label:+$label: }" \
		"$CHECK_PASSED" "$CHECK_FAILED"
	[ "$CHECK_FAILED" -eq 0 ]
}

# ---------------------------------------------------------------- python
# find_python: set PY to a python3 that can import cryptography (Debian's
# /usr/bin/python3 first, then the first python3 on PATH) and export
# PYTHONDONTWRITEBYTECODE=1; fail when there is none.
find_python() {
	local p
	export PYTHONDONTWRITEBYTECODE=1
	PY=python3
	for p in /usr/bin/python3 python3; do
		if "$p" -c 'import cryptography' 2>/dev/null; then
			PY=$p
			break
		fi
	done
	"$PY" -c 'import cryptography' 2>/dev/null ||
		fail "python3-cryptography is not installed"
}

# ---------------------------------------------------------------- processes
# free_port: print a TCP port that is free on 127.0.0.1 right now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# track_pid PID NAME: stop PID in the cleanup trap.
track_pid() {
	_LIB_PIDS+=("$1")
	_LIB_PNAMES+=("${2:-pid $1}")
}

_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# _stop_pid PID: SIGTERM, wait up to $WAIT_SECONDS, then SIGKILL.
# Returns 0 when it stopped after SIGTERM, 1 when it needed SIGKILL.
_stop_pid() {
	local pid=$1 i
	_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
		_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 1
}

# wait_for DESCRIPTION LOGFILE PID COMMAND...: run COMMAND until it succeeds,
# at most $WAIT_SECONDS; fail (with the log tail) if PID dies or time is up.
wait_for() {
	local what=$1 logf=$2 pid=$3 i
	shift 3
	for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if [ -n "$pid" ] && ! _alive "$pid"; then
			tail_log "$logf"
			fail "$what: process $pid exited (log: $logf)"
		fi
		sleep 0.1
	done
	tail_log "$logf"
	fail "$what: not ready after ${WAIT_SECONDS}s (log: $logf)"
}

# wait_port PORT [PID] [LOG]: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
	wait_for "port $1" "${3:-/dev/null}" "${2:-}" \
		python3 -c 'import socket,sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"
}

# _sanitizer_check LOG NAME: fail-mark when a sanitizer reported in LOG.
_sanitizer_check() {
	if [ -f "$1" ] && grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$1"; then
		printf '[%s] FAIL: %s: sanitizer report in %s\n' "$(_ts)" "$2" "$1" >&2
		grep -E -A 30 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$1" | head -n 80 >&2 || true
		return 1
	fi
	return 0
}

_lib_cleanup() {
	local rc=$? i bad=0
	set +e
	trap - EXIT INT TERM
	if [ -n "$BRIDGE_PID" ] && ! _alive "$BRIDGE_PID"; then
		wait "$BRIDGE_PID" 2>/dev/null
		printf '[%s] FAIL: acmebridge (pid %s) died during the test, exit status %s (log: %s)\n' \
			"$(_ts)" "$BRIDGE_PID" "$?" "$T/bridge.log" >&2
		bad=1
	elif _alive "$BRIDGE_PID"; then
		if ! _stop_pid "$BRIDGE_PID"; then
			printf '[%s] FAIL: acmebridge did not stop within %ss of SIGTERM\n' "$(_ts)" "$WAIT_SECONDS" >&2
			bad=1
		else
			wait "$BRIDGE_PID" 2>/dev/null
			i=$?
			if [ "$i" -ne 0 ]; then
				printf '[%s] FAIL: acmebridge exited %s after SIGTERM (log: %s)\n' "$(_ts)" "$i" "$T/bridge.log" >&2
				bad=1
			fi
		fi
	fi
	for ((i = ${#_LIB_PIDS[@]} - 1; i >= 0; i--)); do
		_stop_pid "${_LIB_PIDS[$i]}" || log "${_LIB_PNAMES[$i]} needed SIGKILL"
		wait "${_LIB_PIDS[$i]}" 2>/dev/null
	done
	_sanitizer_check "$T/bridge.log" acmebridge || bad=1
	_sanitizer_check "$T/sim.log" sectigo-sim || bad=1
	[ "$_LIB_BRIDGE_FAILED" = 0 ] || bad=1
	if [ "$rc" -eq 0 ] && [ "$bad" -ne 0 ]; then
		rc=1
	fi
	if [ "$rc" -ne 0 ]; then
		for f in "$T/bridge.log" "$T/sim.log" "$T/named/named.log"; do
			[ -f "$f" ] && tail_log "$f"
		done
		printf '[%s] test failed (exit %s); files kept in %s\n' "$(_ts)" "$rc" "$T" >&2
	elif [ "${KEEP:-0}" = 1 ]; then
		log "KEEP=1: files kept in $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- BIND
# start_bind: authoritative named for $ZONE on 127.0.0.1:$DNS_PORT, dynamic
# updates allowed with TSIG key $TSIG_NAME / $TSIG_SECRET (hmac-sha256).
start_bind() {
	local dir=$T/named tpl=$SRCDIR/tests/integration/bind
	command -v named >/dev/null || fail "named not installed (bash contrib/scripts/install-deps.sh)"
	mkdir -p "$dir"
	DNS_PORT=$(free_port)
	export DNS_PORT
	sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$DNS_PORT|g" -e "s|@ZONE@|$ZONE|g" \
		-e "s|@TSIG_NAME@|$TSIG_NAME|g" -e "s|@TSIG_SECRET@|$TSIG_SECRET|g" \
		-e "s|@TRANSFER@|${BIND_TRANSFER:-none}|g" \
		"$tpl/named.conf.in" >"$dir/named.conf"
	sed -e "s|@ZONE@|$ZONE|g" "$tpl/zone.in" >"$dir/$ZONE.zone"
	cat >"$T/tsig.key" <<-EOF
		key "$TSIG_NAME" {
			algorithm hmac-sha256;
			secret "$TSIG_SECRET";
		};
	EOF
	named-checkconf "$dir/named.conf" >"$dir/named.log" 2>&1 ||
		{ tail_log "$dir/named.log"; fail "named-checkconf failed"; }
	# -g: foreground, log to stderr. As root, -u root keeps named from
	# switching to the bind user (which could not write $T); as another
	# user named does not switch at all.
	local user=()
	[ "$(id -u)" -ne 0 ] || user=(-u root)
	named -g -4 "${user[@]}" -c "$dir/named.conf" >>"$dir/named.log" 2>&1 &
	DNS_PID=$!
	track_pid "$DNS_PID" named
	export DNS_PID
	wait_for "named on 127.0.0.1:$DNS_PORT" "$dir/named.log" "$DNS_PID" \
		_bind_ready
	log "named ready on 127.0.0.1:$DNS_PORT (zone $ZONE, log $dir/named.log)"
}

_bind_ready() {
	dig +short +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" "$ZONE" SOA | grep -q .
}

# nsupdate_zone COMMANDS: send a dynamic update (TSIG-signed), e.g.
#   nsupdate_zone "update add _acme-challenge.www.$ZONE. 5 TXT \"tok\""
nsupdate_zone() {
	printf 'server 127.0.0.1 %s\nzone %s\n%s\nsend\n' "$DNS_PORT" "$ZONE" "$*" |
		nsupdate -k "$T/tsig.key"
}

# ---------------------------------------------------------------- simulator
# start_sim [ARGS...]: sectigo-sim on 127.0.0.1 (port chosen by the sim).
start_sim() {
	SIM_DIR=$T/sim
	mkdir -p "$SIM_DIR"
	[ -x "$SIM_BIN" ] || fail "simulator binary not found: $SIM_BIN (build it first)"
	rm -f "$SIM_DIR/port"
	"$SIM_BIN" --state-dir "$SIM_DIR" --listen 127.0.0.1:0 "$@" >>"$T/sim.log" 2>&1 &
	SIM_PID=$!
	track_pid "$SIM_PID" sectigo-sim
	wait_for "sectigo-sim port file" "$T/sim.log" "$SIM_PID" test -s "$SIM_DIR/port"
	SIM_PORT=$(tr -dc '0-9' <"$SIM_DIR/port")
	SIM_URL=https://127.0.0.1:$SIM_PORT
	export SIM_PID SIM_PORT SIM_DIR SIM_URL
	wait_for "sectigo-sim at $SIM_URL" "$T/sim.log" "$SIM_PID" sim_stats
	log "sectigo-sim ready at $SIM_URL (log $T/sim.log)"
}

# sim_control JSON: POST JSON to the simulator's /sim/control (its answer
# on stdout).
sim_control() {
	curl -fsS --max-time 5 --cacert "$SIM_DIR/root.pem" \
		-H 'Content-Type: application/json' -d "$1" "$SIM_URL/sim/control"
}

# sim_stats: GET /sim/stats (JSON on stdout).
sim_stats() {
	curl -fsS --max-time 5 --cacert "$SIM_DIR/root.pem" "$SIM_URL/sim/stats"
}

# ---------------------------------------------------------------- bridge
# _bridge_config: the default test configuration (JSON on stdout).
_bridge_config() {
	jq -n \
		--arg listen "127.0.0.1:$BRIDGE_PORT" \
		--arg base "https://127.0.0.1:$BRIDGE_PORT" \
		--arg db "$BRIDGE_DB" \
		--arg cert "$BRIDGE_CA" \
		--arg key "$T/bridge-key.pem" \
		--argjson http01 "$HTTP01_PORT" \
		--argjson alpn "$TLSALPN_PORT" \
		--arg resolver "127.0.0.1:$DNS_PORT" \
		--arg sim "$SIM_URL" \
		--arg secret "$T/secret" \
		--arg simca "$SIM_DIR/root.pem" \
		'{
		  listen: $listen,
		  base_url: $base,
		  workers: 2,
		  database: $db,
		  log_level: "debug",
		  tls: {cert_file: $cert, key_file: $key, self_signed: true},
		  acme: {
		    terms_of_service: ($base + "/terms"),
		    website: $base,
		    caa_identities: ["sectigo.com"],
		    require_eab: false,
		    default_connector: "sectigo",
		    authz_reuse_seconds: 0,
		    order_lifetime_seconds: 604800,
		    finalize_wait_seconds: 15,
		    retry_after_seconds: 5,
		    challenge_types: ["http-01", "dns-01", "tls-alpn-01"]
		  },
		  rate_limits: {
		    new_accounts_per_ip_per_hour: 0,
		    failed_validations_per_identifier_per_hour: 0,
		    certificates_per_name_set_per_week: 0
		  },
		  validation: {
		    http01_port: $http01,
		    tlsalpn01_port: $alpn,
		    dns_resolver: $resolver,
		    timeout_seconds: 5,
		    allow_private_addresses: true
		  },
		  connectors: [{
		    name: "sectigo",
		    type: "sectigo",
		    base_url: $sim,
		    auth: "oauth2",
		    token_url: ($sim + "/auth/realms/apiclients/protocol/openid-connect/token"),
		    client_id: "acmebridge",
		    client_secret_file: $secret,
		    customer_uri: "acme-test",
		    org_id: 1234,
		    cert_type: 224,
		    validity_days: 199,
		    ca_file: $simca
		  }]
		}'
}

# start_bridge [JQ_FILTER]: write $T/bridge.json (default test config edited
# by JQ_FILTER), start the bridge and wait for its directory.  Starts named
# and the simulator first when they are not running yet.
start_bridge() {
	write_bridge_config "${1:-.}"
	_bridge_launch
}

# write_bridge_config [JQ_FILTER]: the test configuration in $T/bridge.json
# (for CLI commands), starting BIND9 and the simulator if not yet running.
write_bridge_config() {
	local filter=${1:-.}
	[ -x "$ACMEBRIDGE_BIN" ] || fail "acmebridge binary not found: $ACMEBRIDGE_BIN (build it first)"
	[ -n "${DNS_PORT:-}" ] || start_bind
	[ -n "${SIM_URL:-}" ] || start_sim
	: "${BRIDGE_PORT:=$(free_port)}"
	: "${HTTP01_PORT:=$(free_port)}"
	: "${TLSALPN_PORT:=$(free_port)}"
	BRIDGE_DB=$T/bridge.db
	BRIDGE_CA=$T/bridge-cert.pem
	BRIDGE_URL=https://127.0.0.1:$BRIDGE_PORT
	BRIDGE_DIR_URL=$BRIDGE_URL/directory
	export BRIDGE_PORT BRIDGE_DB BRIDGE_CA BRIDGE_URL BRIDGE_DIR_URL HTTP01_PORT TLSALPN_PORT
	printf 'sim-secret\n' >"$T/secret"
	chmod 600 "$T/secret"
	_bridge_config | jq "$filter" >"$T/bridge.json" ||
		fail "start_bridge: jq filter failed: $filter"
}

_bridge_launch() {
	printf '===== %s acmebridge serve -c %s\n' "$(date -Is)" "$T/bridge.json" >>"$T/bridge.log"
	"$ACMEBRIDGE_BIN" serve -c "$T/bridge.json" >>"$T/bridge.log" 2>&1 &
	BRIDGE_PID=$!
	export BRIDGE_PID
	wait_for "acmebridge certificate $BRIDGE_CA" "$T/bridge.log" "$BRIDGE_PID" \
		test -s "$BRIDGE_CA"
	wait_for "acmebridge directory $BRIDGE_DIR_URL" "$T/bridge.log" "$BRIDGE_PID" \
		_bridge_ready
	log "acmebridge ready at $BRIDGE_DIR_URL (pid $BRIDGE_PID, log $T/bridge.log)"
}

_bridge_ready() {
	curl -fsS --max-time 2 --cacert "$BRIDGE_CA" "$BRIDGE_DIR_URL" | jq -e .newNonce
}

# check_bridge_alive: counted check that the bridge still runs and serves
# its directory.
check_bridge_alive() {
	if _alive "$BRIDGE_PID" && _bridge_ready >/dev/null 2>&1; then
		check_ok "the bridge still serves its directory"
	else
		check_bad "the bridge died or stopped answering"
	fi
}

# kill9_bridge: SIGKILL the bridge (crash simulation).
kill9_bridge() {
	[ -n "$BRIDGE_PID" ] || fail "kill9_bridge: bridge not started"
	kill -KILL "$BRIDGE_PID" 2>/dev/null || true
	wait "$BRIDGE_PID" 2>/dev/null || true
	log "acmebridge (pid $BRIDGE_PID) killed with SIGKILL"
	BRIDGE_PID=""
}

# restart_bridge: stop the bridge (SIGTERM, must exit 0) if it runs, start it
# again with the same $T/bridge.json and database.
restart_bridge() {
	local rc
	[ -f "$T/bridge.json" ] || fail "restart_bridge: start_bridge was not called"
	if _alive "$BRIDGE_PID"; then
		_stop_pid "$BRIDGE_PID" || {
			_LIB_BRIDGE_FAILED=1
			fail "acmebridge did not stop within ${WAIT_SECONDS}s of SIGTERM"
		}
		rc=0
		wait "$BRIDGE_PID" 2>/dev/null || rc=$?
		if [ "$rc" -ne 0 ]; then
			_sanitizer_check "$T/bridge.log" acmebridge || true
			fail "acmebridge exited $rc after SIGTERM (log: $T/bridge.log)"
		fi
	fi
	BRIDGE_PID=""
	_bridge_launch
}

# ---------------------------------------------------------------- checks
# verify_chain FILE [NAME...]: the first certificate in FILE verifies against
# $SIM_DIR/root.pem (the other certificates in FILE are untrusted
# intermediates) and its subjectAltName carries every NAME as DNS name.
verify_chain() {
	local file=$1 d n sans out
	shift
	[ -s "$file" ] || fail "verify_chain: $file is missing or empty"
	d=$(mktemp -d "$T/verify.XXXXXX")
	awk -v d="$d" '
		/-----BEGIN CERTIFICATE-----/ { n++; f = d "/c" n ".pem" }
		f { print > f }
		/-----END CERTIFICATE-----/ { f = "" }' "$file"
	[ -s "$d/c1.pem" ] || fail "verify_chain: no certificate in $file"
	: >"$d/untrusted.pem"
	for n in "$d"/c*.pem; do
		[ "$n" = "$d/c1.pem" ] || cat "$n" >>"$d/untrusted.pem"
	done
	if ! out=$(openssl verify -purpose sslserver -CAfile "$SIM_DIR/root.pem" \
		-untrusted "$d/untrusted.pem" "$d/c1.pem" 2>&1); then
		openssl x509 -in "$d/c1.pem" -noout -subject -issuer >&2 || true
		fail "verify_chain: $file does not verify against $SIM_DIR/root.pem: $out"
	fi
	sans=$(openssl x509 -in "$d/c1.pem" -noout -ext subjectAltName 2>/dev/null |
		tail -n +2 | tr -d ' ' | tr ',' '\n')
	# a here-string, not a pipe: grep -q stops at the first match, and
	# with pipefail the writer's SIGPIPE would fail the check
	for n in "$@"; do
		grep -qxF "DNS:$n" <<<"$sans" ||
			fail "verify_chain: $file: name $n not in subjectAltName ($(printf '%s' "$sans" | tr '\n' ' '))"
	done
	pass "verify_chain $(basename "$file"): chain ok${*:+, names: $*}"
}

# cert_serial FILE: serial of the first certificate in FILE (upper-case hex).
cert_serial() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'a-f' 'A-F'
}

# _norm_serial SERIAL: upper-case hex without ':' and leading zeros.
_norm_serial() {
	printf '%s' "$1" | tr -d ':' | tr 'a-f' 'A-F' | sed 's/^0*//'
}

# sim_cert_status SERIAL: status ("Issued", "Revoked", ...) of the
# certificate with SERIAL in the simulator's /sim/stats, empty if unknown.
sim_cert_status() {
	sim_stats | jq -r --arg s "$(_norm_serial "$1")" '
		[.. | objects | select(has("status"))
		 | select(any(to_entries[] | select(.key | test("serial"; "i"))
		              | .value | strings | ascii_upcase | gsub(":"; "")
		              | sub("^0+"; ""); . == $s))
		 | .status] | first // empty'
}

# expect_sim_revoked SERIAL: the simulator shows the certificate Revoked
# (polled for up to $WAIT_SECONDS).
expect_sim_revoked() {
	local st="" i
	for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
		st=$(sim_cert_status "$1") || st=""
		if [ "$st" = Revoked ]; then
			pass "certificate $1 is Revoked at the simulator"
			return 0
		fi
		sleep 0.25
	done
	fail "certificate $1 not Revoked at the simulator (status: ${st:-not found}); /sim/stats: $(sim_stats 2>&1 | head -c 2000)"
}

# ---------------------------------------------------------------- helpers
# start_http01_server DIR: serve DIR over plain HTTP on 127.0.0.1:$HTTP01_PORT
# (for clients that write http-01 files into a web root).
start_http01_server() {
	local dir=$1 pid
	mkdir -p "$dir"
	python3 -m http.server --bind 127.0.0.1 --directory "$dir" "$HTTP01_PORT" \
		>>"$T/http01.log" 2>&1 &
	pid=$!
	track_pid "$pid" "http01 server"
	wait_port "$HTTP01_PORT" "$pid" "$T/http01.log"
	HTTP01_SERVER_PID=$pid
	export HTTP01_SERVER_PID
}
