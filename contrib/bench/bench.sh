#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Benchmark acmebridge (+ the SCM simulator issuing at once, real http-01
# validation through BIND on loopback) against Pebble (Debian's package, Let's
# Encrypt's test server, validation switched off), in one session, with
# closed-loop load generators. Prints orders/s and server CPU per order for
# both; the bridge's figure includes the simulator's CPU, since Pebble signs
# its own certificates.
#
#   contrib/bench/bench.sh [-c CONCURRENCY] [-d SECONDS] [--gen py|c|both]
#                          [--trace SECONDS] [--seed ORDERS]
#                          [--py-generator FILE] [--no-pebble]
#
# Each server runs under the C generator (acmeload, built with the bridge)
# and, given --py-generator FILE (a Python generator with the same options
# and JSON summary), under that one too; then a short extra pass of --trace
# seconds (0: none) under `strace -c -f` counts system calls and fdatasync
# per order; its overhead does not touch the main figures. A markdown
# table of everything ends the output.
#
# --seed N fills the bridge's database with N finished orders first
# (acmebridge-seed), to compare the cost per order at different sizes.
#
# Not a test: numbers on a shared 2-core machine are noisy; compare ratios
# measured in the same run.
set -eu
conc=4 dur=20 pebble=1 seed=0 gens=c trace=5 load=
while [ $# -gt 0 ]; do
	case $1 in
	-c) conc=$2; shift 2 ;;
	-d) dur=$2; shift 2 ;;
	--py-generator) load=$2; gens="py c"; shift 2 ;;
	--no-pebble) pebble=0; shift ;;
	--seed) seed=$2; shift 2 ;;
	--gen) case $2 in py|c) gens=$2 ;; both) gens="py c" ;; *) fail "--gen py|c|both" ;; esac; shift 2 ;;
	--trace) trace=$2; shift 2 ;;
	*) echo "usage: $0 [-c N] [-d SECONDS] [--gen py|c|both] [--trace SECONDS] [--seed ORDERS] [--py-generator FILE] [--no-pebble]" >&2; exit 2 ;;
	esac
done
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../tests/integration/lib.sh
. "$SRCDIR/tests/integration/lib.sh"
cload=$(dirname "$ACMEBRIDGE_BIN")/acmeload
case " $gens " in *" py "*) [ -f "$load" ] || fail "Python generator not found: \"$load\" (use --py-generator FILE)" ;; esac
case " $gens " in *" c "*) [ -x "$cload" ] || fail "C load generator not found: $cload (build it first)" ;; esac

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

start_sim --pending-polls 0
if [ "$seed" -gt 0 ]; then
	seeder=$(dirname "$ACMEBRIDGE_BIN")/acmebridge-seed
	[ -x "$seeder" ] || fail "seeder not found: $seeder (build it first)"
	"$seeder" --database "$T/bridge.db" --orders "$seed" || fail "seeding failed"
fi
start_bridge '.log_level = "notice" | .acme.authz_reuse_seconds = 0 | .database_sync = (env.BENCH_SYNC // "full") | .rate_limits = {new_accounts_per_ip_per_hour: 0, new_orders_per_account_per_hour: 0, new_orders_per_ip_per_hour: 0, new_orders_per_domain_per_week: 0, failed_validations_per_identifier_per_hour: 0, certificates_per_name_set_per_week: 0, pending_authorizations_per_account: 0}'

# Pebble on loopback: a throwaway CA and server certificate, validation
# always passing, no artificial sleeps or nonce rejections, no reuse of
# authorizations. Prints "DIRECTORY_URL CA_FILE PID".
pebble_start() { # dir port
	local d=$1 port=$2 i
	command -v pebble >/dev/null || fail "pebble not installed (apt-get install pebble)"
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 7 -subj "/CN=bench pebble ca" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/key.pem" -out "$d/csr.pem" -subj /CN=localhost 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/csr.pem" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 7 -out "$d/cert.pem" -extfile "$d/ext.cnf" 2>/dev/null
	# the management port is a free port of its own (port + 1 may be taken)
	jq -n --arg l "127.0.0.1:$port" --arg m "127.0.0.1:$(free_port)" --arg c "$d/cert.pem" --arg k "$d/key.pem" \
		'{pebble: {listenAddress: $l, managementListenAddress: $m, certificate: $c, privateKey: $k,
		  httpPort: 5002, tlsPort: 5001, ocspResponderURL: "", externalAccountBindingRequired: false}}' >"$d/pebble.json"
	PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
		setsid pebble -config "$d/pebble.json" >"$d/pebble.log" 2>&1 </dev/null &
	echo $! >"$d/pid"
	for i in $(seq 100); do
		curl -sf --cacert "$d/ca.pem" "https://127.0.0.1:$port/dir" >/dev/null && break
		sleep 0.1
	done
	curl -sf --cacert "$d/ca.pem" "https://127.0.0.1:$port/dir" >/dev/null || fail "pebble did not start: $d/pebble.log"
	echo "https://127.0.0.1:$port/dir $d/ca.pem $(cat "$d/pid")"
}

gen_cmd() { # gen url ca -> the generator's command line
	if [ "$1" = c ]; then
		echo "$cload"
	else
		echo "/usr/bin/python3 $load"
	fi
}

rows=()
run_load() { # name gen url ca pids...
	local name=$1 gen=$2 url=$3 ca=$4
	shift 4
	local before=() after p i total=0 parts="" out=$T/$name-$gen
	for p in "$@"; do
		before+=("$(cpu_ticks "$p")")
	done
	# shellcheck disable=SC2046
	$(gen_cmd "$gen") "$url" --ca-bundle "$ca" -c "$conc" -d "$dur" \
		--warmup 0 --domain-suffix "$ZONE" --http01-port "$HTTP01_PORT" \
		--server-pid "$1" --json "$out.json" >"$out.out" 2>&1 ||
		{ cat "$out.out"; fail "$name/$gen: load generator failed"; }
	i=0
	for p in "$@"; do
		after=$(cpu_ticks "$p")
		total=$((total + after - before[i]))
		parts="$parts $(basename "$(readlink "/proc/$p/exe")")=$(((after - before[i]) * 1000 / hz))ms"
		i=$((i + 1))
	done
	echo "$name ($gen generator) CPU by process:$parts"
	rows+=("$(python3 - "$out.json" "$total" "$hz" "$name" "$gen" "$(awk '/VmHWM/{print $2}' "/proc/$1/status")" <<-'PY'
	import json, sys
	s = json.load(open(sys.argv[1]))
	ticks, hz, name, gen, hwm = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6] or 0)
	orders = s["orders_ok"]
	cpu = ticks * 1000.0 / hz / orders if orders else float("nan")
	j = s["jws_latency_ms"]
	print("%s %s %.1f %.2f %.2f %.2f %.1f %.3f" % (name, gen, s["orders_per_s"], cpu,
	      j["p50"], j["p99"], hwm / 1024.0, s.get("client_cpu_ms_per_order") or 0))
	PY
	)")
	cat "$out.out"
}

traces=()
trace_pass() { # name url ca pid
	local name=$1 url=$2 ca=$3 pid=$4 gen tpid
	[ "$trace" -gt 0 ] || return 0
	command -v strace >/dev/null || { echo "strace not installed: no system call counts"; return 0; }
	gen=$(case " $gens " in *" c "*) echo c ;; *) echo py ;; esac)
	strace -c -f -p "$pid" -o "$T/$name.strace" 2>/dev/null &
	tpid=$!
	sleep 0.5
	# shellcheck disable=SC2046
	$(gen_cmd "$gen") "$url" --ca-bundle "$ca" -c "$conc" -d "$trace" \
		--warmup 0 --domain-suffix "$ZONE" --http01-port "$HTTP01_PORT" \
		--json "$T/$name-trace.json" >"$T/$name-trace.out" 2>&1 ||
		{ cat "$T/$name-trace.out"; fail "$name: traced run failed"; }
	kill -INT "$tpid" 2>/dev/null || true
	wait "$tpid" 2>/dev/null || true
	traces+=("$(python3 - "$T/$name.strace" "$T/$name-trace.json" "$name" <<-'PY'
	import json, sys
	calls = {}
	for line in open(sys.argv[1]):
	    f = line.split()
	    if len(f) >= 5 and f[-1] not in ("syscall", "total") and f[3].isdigit():
	        calls[f[-1]] = int(f[3])
	orders = json.load(open(sys.argv[2]))["orders_ok"] or 1
	print("%s %.0f %.2f" % (sys.argv[3], sum(calls.values()) / orders,
	      calls.get("fdatasync", 0) / orders + calls.get("fsync", 0) / orders))
	PY
	)")
}

echo "== acmebridge + sectigo-sim (c=$conc, ${dur}s)"
for g in $gens; do
	run_load bridge "$g" "$BRIDGE_DIR_URL" "$BRIDGE_CA" "$BRIDGE_PID" "$SIM_PID"
done
trace_pass bridge "$BRIDGE_DIR_URL" "$BRIDGE_CA" "$BRIDGE_PID"

if [ "$pebble" = 1 ]; then
	echo "== pebble (c=$conc, ${dur}s)"
	for g in $gens; do
		# a fresh Pebble per run: it keeps everything in memory
		read -r purl pca ppid < <(pebble_start "$T/pebble-$g" "$(free_port)")
		track_pid "$ppid" pebble
		run_load pebble "$g" "$purl" "$pca" "$ppid"
		[ "$g" = "${gens##* }" ] && trace_pass pebble "$purl" "$pca" "$ppid"
		kill "$ppid" 2>/dev/null || true
	done
fi

echo
echo "| server | generator | orders/s | server CPU ms/order | vs Pebble | JWS p50 ms | JWS p99 ms | server RSS peak MiB | generator CPU ms/order |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for r in "${rows[@]}"; do
	# shellcheck disable=SC2086
	set -- $r
	ratio=-
	for q in "${rows[@]}"; do
		# shellcheck disable=SC2086
		set -- $q
		[ "$1" = pebble ] && [ "$2" = "$(echo "$r" | cut -d' ' -f2)" ] && ratio=$(echo "$r $4" | awk '{printf "%.2f", $4 / $9}')
	done
	# shellcheck disable=SC2086
	set -- $r
	echo "| $1 | $2 | $3 | $4 | $ratio | $5 | $6 | $7 | $8 |"
done
if [ ${#traces[@]} -gt 0 ]; then
	echo
	echo "| server | system calls per order | fdatasync per order |"
	echo "| --- | --- | --- |"
	for t in "${traces[@]}"; do
		# shellcheck disable=SC2086
		set -- $t
		echo "| $1 | $2 | $3 |"
	done
fi
