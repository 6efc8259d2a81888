#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Propagation: a primary (BIND9, updated through the rfc2136 connector)
# and a secondary (BIND9) whose zone transfer is held back (no NOTIFY,
# hourly refresh). `acmebridge dns test` asks both directly:
#  1. the secondary never gets the record: the check times out and names
#     the lagging server with its old SOA serial; the record is removed
#  2. the secondary catches up while the bridge waits (it is restarted
#     and transfers the zone): the check succeeds only once both have it
. "$SRCDIR/tests/integration/lib.sh"

BIND_TRANSFER=127.0.0.1 start_bind
S=$T/secondary
mkdir -p "$S"
SEC_PORT=$(free_port)
cat >"$S/named.conf" <<EOF2
options {
	directory "$S";
	pid-file "$S/named.pid";
	listen-on port $SEC_PORT { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
zone "$ZONE" {
	type secondary;
	primaries { 127.0.0.1 port $DNS_PORT; };
};
EOF2
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)
start_secondary() {
	named -g -4 "${user[@]}" -c "$S/named.conf" >>"$S/named.log" 2>&1 &
	SEC_PID=$!
	track_pid "$SEC_PID" named-secondary
	wait_for "secondary on $SEC_PORT" "$S/named.log" "$SEC_PID" \
		sh -c "dig +short +norecurse @127.0.0.1 -p $SEC_PORT $ZONE SOA | grep -q ."
}
start_secondary
printf '%s\n' "$TSIG_SECRET" >"$T/tsig.secret"
chmod 600 "$T/tsig.secret"
write_bridge_config "$(printf '.dns_connectors = [{name: "bind", type: "rfc2136",
  server: "127.0.0.1:%s", tsig_name: "%s", tsig_secret_file: "%s", zones: ["%s"],
  ttl: 5, check_servers: ["127.0.0.1:%s", "127.0.0.1:%s"],
  propagation_timeout_seconds: 4, poll_interval_seconds: 1}]' \
	"$DNS_PORT" "$TSIG_NAME" "$T/tsig.secret" "$ZONE" "$DNS_PORT" "$SEC_PORT")"
serial() { dig +short +norecurse @127.0.0.1 -p "$1" "$ZONE" SOA | awk '{print $3}'; }

# ---- 1. the secondary never catches up
old=$(serial "$SEC_PORT")
"$ACMEBRIDGE_BIN" dns test -c "$T/bridge.json" bind "$ZONE" >"$T/out" 2>"$T/err" && rc=0 || rc=$?
[ "$rc" -ne 0 ] &&
	grep -q "^propagation: failed: 1 of 2 servers without the record after 4 s" "$T/out" &&
	grep -q "127.0.0.1:$DNS_PORT: has the value" "$T/out" &&
	grep -q "127.0.0.1:$SEC_PORT: 0 TXT values, not ours yet (SOA serial $old)" "$T/out" &&
	check_ok "the lagging secondary is named with its old serial $old" ||
	check_bad "lagging: rc=$rc $(cat "$T/out")"
grep -q "^cleanup: ok" "$T/out" &&
	[ -z "$(dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "_acmebridge-test.$ZONE" TXT)" ] &&
	check_ok "the record is removed after the timeout" || check_bad "cleanup: $(cat "$T/out")"

# ---- 2. the secondary catches up while the bridge waits
jq '.dns_connectors[0].propagation_timeout_seconds = 30' "$T/bridge.json" >"$T/b2.json"
start=$(date +%s)
"$ACMEBRIDGE_BIN" dns test -c "$T/b2.json" bind "$ZONE" >"$T/out2" 2>"$T/err2" &
test_pid=$!
for _ in $(seq 1 50); do # until the primary has the record
	[ -n "$(dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "_acmebridge-test.$ZONE" TXT)" ] && break
	sleep 0.1
done
sleep 3
kill "$SEC_PID"
wait "$SEC_PID" 2>/dev/null || true
start_secondary # transfers the zone anew at start
wait "$test_pid" && rc=0 || rc=$?
took=$(($(date +%s) - start))
[ "$rc" = 0 ] && grep -q "^propagation: ok: 127.0.0.1:$DNS_PORT: has the value" "$T/out2" &&
	grep -q "127.0.0.1:$SEC_PORT: has the value" "$T/out2" && [ "$took" -ge 3 ] &&
	check_ok "the check waited for the secondary ($took s) and passed once both had it" ||
	check_bad "catch up: rc=$rc took=$took $(cat "$T/out2")"
check_summary
