#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# kill -9 in the middle of a Sectigo DCV run, at two points:
#  1. while the DNS connector is publishing the record (journal row
#     "presenting", the hook still running)
#  2. while SCM is checking (record published, run in "poll")
# After each restart the run completes, SCM holds the validation, the
# record is gone from BIND9 and the journal shows no live record; then an
# order is issued without another DCV.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

start_bind
start_sim --require-dcv --domain "$ZONE" --dns-resolver "127.0.0.1:$DNS_PORT" \
	--dcv-check-attempts 60
hook=$SRCDIR/tests/integration/dns/nsupdate-hook.sh
export NSUPDATE_SERVER=127.0.0.1 NSUPDATE_PORT=$DNS_PORT NSUPDATE_KEY=$T/tsig.key
export HOOK_SLEEP=3
start_bridge "$(printf '.dcv = {enabled: true, poll_seconds: 1, domain_cache_seconds: 0}
  | .dns_connectors = [{name: "bind", type: "exec", program: "%s",
    zones: ["%s"], ttl: 5, ns_port: %s, poll_interval_seconds: 1,
    pass_env: ["NSUPDATE_SERVER", "NSUPDATE_PORT", "NSUPDATE_KEY", "HOOK_SLEEP"]}]' \
	"$hook" "$ZONE" "$DNS_PORT")"
db() { sqlite3 "$BRIDGE_DB" "$1"; }
txt() { dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "_pki-validation.$ZONE" TXT; }
sim_ctl() { curl -fsS --cacert "$SIM_DIR/root.pem" -X POST -d "$1" "$SIM_URL/sim/control" >/dev/null; }
wait_db() { # wait_db SQL EXPECTED SECONDS
	for _ in $(seq 1 $(($3 * 10))); do
		[ "$(db "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
finished() {
	wait_db "SELECT state FROM dcv ORDER BY id DESC LIMIT 1" valid 40 &&
		check_ok "$1: the run completed after the restart" ||
		check_bad "$1: run: $(db "SELECT id, state, reason FROM dcv")"
	[ -z "$(txt)" ] && check_ok "$1: no record left in BIND9" || check_bad "$1: left: $(txt)"
	[ "$(db "SELECT count(*) FROM dns_records WHERE state IN ('presenting', 'present', 'removing')")" = 0 ] &&
		check_ok "$1: no live record in the journal" ||
		check_bad "$1: journal: $(db "SELECT * FROM dns_records")"
	"$ACMEBRIDGE_BIN" dns list -c "$T/bridge.json" >"$T/list.out" 2>&1
	! grep -q ORPHAN "$T/list.out" && check_ok "$1: dns list shows no orphan" ||
		check_bad "$1: $(cat "$T/list.out")"
}

# ---- 1. crash while publishing
"$ACMEBRIDGE_BIN" dcv start -c "$T/bridge.json" "$ZONE" >"$T/out" 2>&1 ||
	fail "dcv start: $(cat "$T/out")"
wait_db "SELECT state FROM dns_records ORDER BY id DESC LIMIT 1" presenting 20 ||
	fail "the record never reached the connector: $(db "SELECT * FROM dcv")"
kill9_bridge
unset HOOK_SLEEP
restart_bridge
finished "crash while publishing"
# the hook that was running died with the bridge: nothing appears late
sleep 4
[ -z "$(txt)" ] && check_ok "the interrupted hook did not publish after the restart" ||
	check_bad "a record appeared late: $(txt)"

# ---- 2. crash while SCM checks (the simulator looks once a second)
sim_ctl '{"advance_days": 200}'
"$ACMEBRIDGE_BIN" dcv start -c "$T/bridge.json" "$ZONE" >"$T/out" 2>&1 ||
	fail "dcv start: $(cat "$T/out")"
wait_db "SELECT state FROM dcv ORDER BY id DESC LIMIT 1" poll 20 ||
	fail "the run never reached poll: $(db "SELECT id, state, reason FROM dcv")"
kill9_bridge
restart_bridge
finished "crash while polling"
[ "$(db "SELECT count(*) FROM dcv")" = 2 ] && check_ok "two runs in all, none doubled" ||
	check_bad "runs: $(db "SELECT id, state FROM dcv")"

# ---- an order after: issued without another DCV
REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot --server "$BRIDGE_DIR_URL" \
	--config-dir "$T/cb/config" --work-dir "$T/cb/work" --logs-dir "$T/cb/logs" \
	--non-interactive --register-unsafely-without-email --agree-tos certonly \
	--standalone --preferred-challenges http-01 --http-01-port "$HTTP01_PORT" \
	--http-01-address 127.0.0.1 --cert-name after -d "after.$ZONE" >"$T/cb.out" 2>&1 &&
	verify_chain "$T/cb/config/live/after/fullchain.pem" "after.$ZONE" &&
	[ "$(db "SELECT count(*) FROM dcv")" = 2 ] &&
	check_ok "an order is issued on the validation, no third run" ||
	check_bad "order after: $(tail -3 "$T/cb.out") runs=$(db "SELECT count(*) FROM dcv")"
check_summary
