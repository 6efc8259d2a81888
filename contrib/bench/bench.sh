#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Benchmark acmebridge (+ the SCM simulator issuing at once, real http-01
# validation through BIND on loopback) against Pebble, in one session, with
# the shared closed-loop load generator. Prints orders/s and server CPU per
# order for both; the bridge's figure includes the simulator's CPU, since
# Pebble signs its own certificates.
#
#   contrib/bench/bench.sh [-c CONCURRENCY] [-d SECONDS] [--bench-dir DIR]
#                          [--seed ORDERS] [--no-pebble]
#
# --seed N fills the bridge's database with N finished orders first
# (acmebridge-seed), to compare the cost per order at different sizes.
#
# Not a test: numbers on a shared 2-core machine are noisy; compare ratios
# measured in the same run.
set -eu
conc=4 dur=20 pebble=1 seed=0
benchdir=${BENCH_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/bench}
while [ $# -gt 0 ]; do
	case $1 in
	-c) conc=$2; shift 2 ;;
	-d) dur=$2; shift 2 ;;
	--bench-dir) benchdir=$2; shift 2 ;;
	--no-pebble) pebble=0; shift ;;
	--seed) seed=$2; shift 2 ;;
	*) echo "usage: $0 [-c N] [-d SECONDS] [--bench-dir DIR] [--seed ORDERS] [--no-pebble]" >&2; exit 2 ;;
	esac
done
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../tests/integration/lib.sh
. "$SRCDIR/tests/integration/lib.sh"
load=$benchdir/acme_load.py
[ -f "$load" ] || fail "load generator not found: $load (use --bench-dir)"

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

run_load() { # name url ca pids...
	local name=$1 url=$2 ca=$3
	shift 3
	local before=() sbefore=() after=() p i total=0 parts=""
	for p in "$@"; do
		before+=("$(cpu_ticks "$p")")
		sbefore+=("$(sys_ticks "$p")")
	done
	/usr/bin/python3 "$load" "$url" --ca-bundle "$ca" -c "$conc" -d "$dur" \
		--warmup 0 --domain-suffix "$ZONE" --http01-port "$HTTP01_PORT" \
		--json "$T/$name.json" >"$T/$name.out" 2>&1 ||
		{ cat "$T/$name.out"; fail "$name: load generator failed"; }
	i=0
	for p in "$@"; do
		after=$(cpu_ticks "$p")
		total=$((total + after - before[i]))
		parts="$parts $(basename "$(readlink "/proc/$p/exe")")=$(((after - before[i]) * 1000 / hz))ms(sys $((($(sys_ticks "$p") - sbefore[i]) * 1000 / hz))ms)"
		i=$((i + 1))
	done
	# no warm-up: the window is the whole run, like the CPU ticks
	echo "$name CPU by process:$parts"
	python3 - "$T/$name.json" "$total" "$hz" "$name" <<-'PY'
	import json, sys
	s = json.load(open(sys.argv[1]))
	ticks, hz, name = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
	orders = s["orders_ok"]
	rate = s["orders_per_s"]
	cpu_ms = ticks * 1000.0 / hz
	print("%-10s orders/s %.1f   server CPU %.0f ms over %s orders = %.2f ms/order"
	      % (name, rate, cpu_ms, orders, cpu_ms / orders if orders else float("nan")))
	PY
}

echo "== acmebridge + sectigo-sim (c=$conc, ${dur}s)"
run_load bridge "$BRIDGE_DIR_URL" "$BRIDGE_CA" "$BRIDGE_PID" "$SIM_PID"
cat "$T/bridge.out"

[ "$pebble" = 1 ] || exit 0
echo "== pebble (c=$conc, ${dur}s)"
read -r purl pca ppid < <(bash "$benchdir/pebble-ref.sh" start "$T/pebble" 14000)
track_pid "$ppid" pebble
run_load pebble "$purl" "$pca" "$ppid"
cat "$T/pebble.out"
bash "$benchdir/pebble-ref.sh" stop "$T/pebble"
