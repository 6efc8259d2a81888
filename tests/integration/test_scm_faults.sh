#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Resilience at the SCM boundary: the simulator fails 30 % of the API
# calls (503 pages, 500 errors, 429 with Retry-After, enrollments stored
# whose reply is lost) and answers the others 100 ms late, while sixteen
# concurrent clients (the C load generator) place 200 orders. Every order
# must reach valid, each with exactly one SCM enrollment (lost replies are
# found again by their tag, never enrolled twice). (The connector's
# max_concurrent limit itself is tested in tests/unit/sectigo.)
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

LOAD=$(dirname "$ACMEBRIDGE_BIN")/acmeload
[ -x "$LOAD" ] || fail "load generator not found: $LOAD (build it first)"
# the load generator is a client: what it leaves unfreed at exit is not
# what this test is about (in a sanitizer build LeakSanitizer would turn
# its exit status into a failure); the servers keep their leak checks
load() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "$LOAD" "$@"; }
ORDERS=${FAULT_ORDERS:-200}

start_bind
start_sim --fail-rate 0.3 --latency-ms 100 --seed 7 --pending-polls 1
start_bridge '.connectors[0].max_concurrent = 4
  | .rate_limits.new_orders_per_account_per_hour = 0
  | .rate_limits.new_orders_per_ip_per_hour = 0
  | .rate_limits.new_orders_per_domain_per_week = 0
  | .rate_limits.pending_authorizations_per_account = 0
  | .log_level = "info"'

start=$SECONDS
if load "$BRIDGE_DIR_URL" --ca-bundle "$BRIDGE_CA" -c 16 --orders "$ORDERS" \
	--domain-suffix "$ZONE" --http01-port "$HTTP01_PORT" --poll-interval 0.5 -d 0 \
	--poll-timeout 600 --timeout 60 --max-errors 1000 --json "$T/load.json" \
	>"$T/load.out" 2>&1; then
	check_ok "the load generator finished: $(jq -c "{orders_ok, orders_failed}" "$T/load.json" 2>/dev/null) in $((SECONDS - start)) s"
else
	check_bad "the load generator failed: $(tail -5 "$T/load.out")"
fi

faults=$(sim_stats | jq -c '.faults')
total=$(jq '.total' <<<"$faults")
if [ "$total" -ge 20 ] && [ "$(jq '."503"' <<<"$faults")" -gt 0 ] &&
	[ "$(jq '."500"' <<<"$faults")" -gt 0 ] && [ "$(jq '."429"' <<<"$faults")" -gt 0 ] &&
	[ "$(jq '.lost_reply + .lost_reply_502' <<<"$faults")" -gt 0 ]; then
	check_ok "the simulator injected every kind of fault: $faults"
else
	check_bad "too few or missing kinds of faults: $faults"
fi

db() { sqlite3 "$BRIDGE_DB" "$@"; }
valid=$(db "SELECT COUNT(*) FROM orders WHERE status = 'valid'")
other=$(db "SELECT COUNT(*) FROM orders WHERE status <> 'valid'")
if [ "$valid" = "$ORDERS" ] && [ "$other" = 0 ]; then
	check_ok "all $ORDERS orders are valid"
else
	check_bad "$valid valid orders and $other others, want $ORDERS valid"
fi
refs=$(db "SELECT COUNT(DISTINCT ca_ref) FROM orders WHERE ca_ref IS NOT NULL")
enr=$(sim_stats | jq '.enrollments')
if [ "$refs" = "$ORDERS" ] && [ "$enr" = "$ORDERS" ]; then
	check_ok "exactly one SCM enrollment per order ($enr enrollments, $refs distinct sslIds)"
else
	check_bad "$enr SCM enrollments and $refs distinct sslIds for $ORDERS orders"
fi
certs=$(db "SELECT COUNT(*) FROM certificates")
if [ "$certs" = "$ORDERS" ]; then
	check_ok "$certs certificates stored"
else
	check_bad "$certs certificates stored for $ORDERS orders"
fi
retries=$(grep -c "retry in" "$T/bridge.log" || true)
if [ "$retries" -ge 20 ]; then
	check_ok "the bridge retried $retries times"
else
	check_bad "only $retries retries logged under 30 % faults"
fi

check_bridge_alive
check_summary
