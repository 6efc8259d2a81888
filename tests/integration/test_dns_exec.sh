#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "exec" DNS connector against a real BIND9: a hook script calls
# nsupdate. Two values under one name (wildcard + base), a Sectigo-style
# TXT value full of punctuation, exact removal, the timeout and the
# "refused" exit status, each through `acmebridge dns`.
. "$SRCDIR/tests/integration/lib.sh"

start_bind
hook=$SRCDIR/tests/integration/dns/nsupdate-hook.sh
export NSUPDATE_SERVER=127.0.0.1 NSUPDATE_PORT=$DNS_PORT NSUPDATE_KEY=$T/tsig.key
write_bridge_config "$(printf '.dns_connectors = [{name: "hook", type: "exec",
  program: "%s", zones: ["%s"], ttl: 5, timeout_seconds: 3, ns_port: %s,
  pass_env: ["NSUPDATE_SERVER", "NSUPDATE_PORT", "NSUPDATE_KEY",
             "HOOK_SLEEP", "HOOK_REFUSE"]}]' "$hook" "$ZONE" "$DNS_PORT")"
ab() { "$ACMEBRIDGE_BIN" dns "$1" -c "$T/bridge.json" hook "${@:2}"; }
txt() { dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "$1" TXT | sort; }

name=_pki-validation.$ZONE
sectigo='F(U_t|L%>8]iU6Yx\CFm;0O8DViEQ/|`'
"$ACMEBRIDGE_BIN" check-config -c "$T/bridge.json" >/dev/null ||
	check_bad "check-config accepts the exec connector"
ab check >"$T/out" && grep -q "zone $ZONE: ok" "$T/out" &&
	check_ok "dns check: the program is runnable" ||
	check_bad "dns check: $(cat "$T/out")"

ab present "$name" TXT value-one >"$T/out" 2>"$T/err" &&
	ab present "$name" TXT "$sectigo" >>"$T/out" 2>>"$T/err" ||
	check_bad "present: $(cat "$T/out" "$T/err")"
got=$(txt "$name")
want=$(printf '"%s"\n"%s"\n' 'F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`' value-one | sort)
[ "$got" = "$want" ] && check_ok "two TXT values under one name, punctuation intact" ||
	check_bad "TXT at BIND9: got [$got] want [$want]"
grep -q "hook: present $name. TXT zone=$ZONE. ttl=5" "$T/err" &&
	check_ok "the program's output and environment reach the log" ||
	check_bad "program output not logged: $(cat "$T/err")"

ab cleanup "$name" TXT value-one >"$T/out" 2>"$T/err" || check_bad "cleanup failed"
got=$(txt "$name")
[ "$got" = '"F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`"' ] &&
	check_ok "cleanup removed exactly one value" || check_bad "after cleanup: [$got]"
ab cleanup "$name" TXT "$sectigo" >/dev/null 2>&1 || check_bad "second cleanup failed"
[ -z "$(txt "$name")" ] && check_ok "both values gone" || check_bad "left: $(txt "$name")"

ab present "_x.$ZONE" CNAME "target.$ZONE" >/dev/null 2>&1 || check_bad "CNAME present"
[ "$(dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "_x.$ZONE" CNAME)" = "target.$ZONE." ] &&
	check_ok "CNAME published" || check_bad "CNAME not at BIND9"
ab cleanup "_x.$ZONE" CNAME "target.$ZONE" >/dev/null 2>&1 || check_bad "CNAME cleanup"

start=$(date +%s)
HOOK_SLEEP=30 ab present "$name" TXT slow >"$T/out" 2>&1 && rc=0 || rc=$?
took=$(($(date +%s) - start))
[ "$rc" -ne 0 ] && grep -q "did not finish within 3 s (timeout_seconds); killed" "$T/out" &&
	[ "$took" -lt 10 ] && check_ok "a hanging program is killed at timeout_seconds ($took s)" ||
	check_bad "timeout: rc=$rc took=$took $(cat "$T/out")"
HOOK_REFUSE=1 ab present "$name" TXT no >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "present: failed: .*exited with status 2" "$T/out" &&
	grep -q "refusing on purpose" "$T/out" &&
	check_ok "exit 2 is a permanent failure, stderr logged" ||
	check_bad "refuse: $(cat "$T/out")"
ab present "other.invalid" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "in no zone of connector" "$T/out" &&
	check_ok "a name outside the connector's zones is refused" ||
	check_bad "outside zone: $(cat "$T/out")"
ab present "$name" TXT "$(printf 'bad\001')" >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "not publishable" "$T/out" &&
	check_ok "a control character in a TXT value is refused" ||
	check_bad "control char: $(cat "$T/out")"
ab test "$ZONE" >"$T/out" 2>"$T/err" &&
	grep -q "^propagation: ok: 127.0.0.1:$DNS_PORT: has the value (SOA serial" "$T/out" &&
	grep -q "^cleanup: ok" "$T/out" && [ -z "$(txt "_acmebridge-test.$ZONE")" ] &&
	check_ok "dns test: NS found through the resolver, the server has the value, removed" ||
	check_bad "dns test: $(cat "$T/out")"
# name servers asked on the test port; explicit check_servers: one dead
jq --argjson p "$DNS_PORT" '.dns_connectors[0].check_servers = ["127.0.0.1:\($p)", "127.0.0.1:9"]
  | .dns_connectors[0].propagation_timeout_seconds = 3' "$T/bridge.json" >"$T/cs.json"
"$ACMEBRIDGE_BIN" dns test -c "$T/cs.json" hook "$ZONE" >"$T/out" 2>"$T/err" && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "^propagation: failed: 1 of 2 servers without the record" "$T/out" &&
	grep -q "127.0.0.1:9: connection refused\|127.0.0.1:9: no answer" "$T/out" &&
	grep -q "^cleanup: ok" "$T/out" &&
	check_ok "dns test: a server that never answers is named, the record is still removed" ||
	check_bad "dns test with a dead server: rc=$rc $(cat "$T/out")"
jq '.dns_connectors[0].program = "relative/hook"' "$T/bridge.json" >"$T/bad.json"
"$ACMEBRIDGE_BIN" check-config -c "$T/bad.json" >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 1 ] && grep -q "dns_connectors\[0\].program: required: the absolute path" "$T/out" &&
	check_ok "a relative program path is a config error naming the setting" ||
	check_bad "bad program: $(cat "$T/out")"
jq '.dns_connectors[0].tsig_secret = "x"' "$T/bridge.json" >"$T/bad.json"
"$ACMEBRIDGE_BIN" check-config -c "$T/bad.json" >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 1 ] && grep -q "dns_connectors\[0\].tsig_secret: unknown setting for type exec" "$T/out" &&
	check_ok "an unknown key is a config error" || check_bad "unknown key: $(cat "$T/out")"
check_summary
