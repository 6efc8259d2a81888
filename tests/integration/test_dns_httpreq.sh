#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "httpreq" DNS connector (lego's HTTP request convention) against a
# small service started here (tests/integration/dns/httpreq_server.py)
# that applies each change to the test BIND9 with nsupdate.
. "$SRCDIR/tests/integration/lib.sh"

start_bind
find_python
"$PY" "$SRCDIR/tests/integration/dns/httpreq_server.py" "$T/hr.port" dnsuser s3cret \
	127.0.0.1 "$DNS_PORT" "$ZONE" "$T/tsig.key" 2>"$T/httpreq.log" &
track_pid $! httpreq
wait_for "httpreq service" "$T/httpreq.log" "$!" test -s "$T/hr.port"
HR=http://127.0.0.1:$(cat "$T/hr.port")
printf 's3cret\n' >"$T/hr.pw"
chmod 600 "$T/hr.pw"
write_bridge_config "$(printf '.dns_connectors = [{name: "hr", type: "httpreq",
  endpoint: "%s", username: "dnsuser", password_file: "%s", zones: ["%s"],
  ttl: 5, ns_port: %s}]' "$HR" "$T/hr.pw" "$ZONE" "$DNS_PORT")"
ab() { "$ACMEBRIDGE_BIN" dns "$1" -c "${CONF:-$T/bridge.json}" hr "${@:2}"; }
txt() { dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "$1" TXT | sort; }
name=_pki-validation.$ZONE
sectigo='F(U_t|L%>8]iU6Yx\CFm;0O8DViEQ/|`'

ab check >"$T/out" 2>&1 && check_ok "dns check: the service answers" || check_bad "check: $(cat "$T/out")"
ab present "$name" TXT value-one >/dev/null 2>&1 && ab present "$name" TXT "$sectigo" >/dev/null 2>&1 ||
	check_bad "present failed"
want=$(printf '"%s"\n"%s"\n' 'F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`' value-one | sort)
[ "$(txt "$name")" = "$want" ] && check_ok "two TXT values under one name, punctuation intact" ||
	check_bad "BIND9 has [$(txt "$name")]"
curl -fsS "$HR/" | jq -e --arg v "$sectigo" --arg f "$name." \
	'map(select(.path == "/present" and .fqdn == $f and .value == $v and .type == "TXT")) | length == 1' >/dev/null &&
	check_ok "the service got fqdn with its dot, the raw value and the type" ||
	check_bad "requests seen: $(curl -fsS "$HR/")"
ab cleanup "$name" TXT value-one >/dev/null 2>&1 &&
	[ "$(txt "$name")" = '"F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`"' ] &&
	check_ok "cleanup removed exactly one value" || check_bad "after cleanup: $(txt "$name")"
ab cleanup "$name" TXT "$sectigo" >/dev/null 2>&1 && [ -z "$(txt "$name")" ] &&
	check_ok "the last value removed" || check_bad "left: $(txt "$name")"
ab test "$ZONE" >"$T/out" 2>&1 && grep -q "^propagation: ok" "$T/out" &&
	check_ok "dns test through httpreq" || check_bad "dns test: $(cat "$T/out")"

curl -fsS -d '{"status": 429, "retry_after": 7, "count": 1}' "$HR/switch" >/dev/null
ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "failed (temporary).*rate limited (HTTP 429), pausing 7 s" "$T/out" &&
	check_ok "429 with Retry-After is a temporary failure with its pause" || check_bad "429: $(cat "$T/out")"
curl -fsS -d '{"status": 400, "retry_after": 0, "count": 1}' "$HR/switch" >/dev/null
ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "present: failed: .*HTTP 400 switched on by the test" "$T/out" &&
	check_ok "a 400 is a permanent failure quoting the answer" || check_bad "400: $(cat "$T/out")"
printf 'wrong\n' >"$T/wrong.pw"
chmod 600 "$T/wrong.pw"
jq --arg p "$T/wrong.pw" '.dns_connectors[0].password_file = $p' "$T/bridge.json" >"$T/wrong.json"
CONF=$T/wrong.json ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "credentials refused (HTTP 401)" "$T/out" &&
	check_ok "a wrong password is named" || check_bad "wrong password: $(cat "$T/out")"
check_summary
