#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "cloudflare" DNS connector against a stand-in
# (tests/integration/dns/cloudflare_standin.py) written from Cloudflare's
# API v4 documentation: Cloudflare itself cannot be reached from the test
# machines, so this shows the connector follows the documented JSON, not
# that Cloudflare behaves as documented.
. "$SRCDIR/tests/integration/lib.sh"

start_bind
find_python
TOKEN=$(openssl rand -hex 20)
"$PY" "$SRCDIR/tests/integration/dns/cloudflare_standin.py" "$T/cf.port" "$TOKEN" "$ZONE" \
	2>"$T/cf.log" &
track_pid $! cf-standin
wait_for "cloudflare stand-in" "$T/cf.log" "$!" test -s "$T/cf.port"
CF=http://127.0.0.1:$(cat "$T/cf.port")
printf '%s\n' "$TOKEN" >"$T/cf.token"
chmod 600 "$T/cf.token"
write_bridge_config "$(printf '.dns_connectors = [{name: "cf", type: "cloudflare",
  api_url: "%s/client/v4", api_token_file: "%s", zones: ["%s"]}]' "$CF" "$T/cf.token" "$ZONE")"
ab() { "$ACMEBRIDGE_BIN" dns "$1" -c "${CONF:-$T/bridge.json}" cf "${@:2}"; }
recs() { curl -fsS "$CF/standin/records"; }
name=_pki-validation.$ZONE
sectigo='F(U_t|L%>8]iU6Yx\CFm;0O8DViEQ/|`'

ab check >"$T/out" 2>&1 && grep -q "zone $ZONE: ok" "$T/out" &&
	check_ok "dns check: the zone id is found by name" || check_bad "check: $(cat "$T/out")"
ab present "$name" TXT "$sectigo" >"$T/out" 2>&1 && grep -q "^present: ok handle=[0-9a-f]\{32\}$" "$T/out" &&
	check_ok "create returns the record id as the handle" || check_bad "present: $(cat "$T/out")"
handle=$(sed -n 's/^present: ok handle=//p' "$T/out")
[ "$(recs | jq -r '.[0].content')" = '"F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`"' ] &&
	check_ok "TXT content sent quoted, backslash escaped" || check_bad "stored: $(recs)"
ab present "$name" TXT "$sectigo" >"$T/out" 2>&1 && grep -q "handle=$handle" "$T/out" &&
	[ "$(recs | jq length)" = 1 ] && check_ok "presenting again finds the record: one record" ||
	check_bad "idempotent present: $(cat "$T/out") $(recs)"
ab present "$name" TXT second >/dev/null 2>&1 && [ "$(recs | jq length)" = 2 ] &&
	check_ok "a second value under the name is a second record" || check_bad "two values: $(recs)"
ab values "$name" TXT >"$T/out" 2>&1 && [ "$(sort "$T/out")" = "$(printf '%s\nsecond\n' "$sectigo" | sort)" ] &&
	check_ok "dns values reads both back unquoted" || check_bad "values: $(cat "$T/out")"
mark=$(wc -l <"$T/cf.log")
ab cleanup "$name" TXT "$sectigo" >/dev/null 2>&1 && [ "$(recs | jq -r '.[0].content')" = '"second"' ] &&
	tail -n +"$((mark + 1))" "$T/cf.log" | grep -q "GET /client/v4/zones/[0-9a-f]*/dns_records?type=TXT&name=[^ ]*&content=" &&
	check_ok "cleanup without a handle finds (by content) and removes exactly that record" || check_bad "cleanup: $(recs)"
ab present "$name" TXT third >"$T/out" 2>&1 && handle=$(sed -n 's/^present: ok handle=//p' "$T/out")
mark=$(wc -l <"$T/cf.log")
ab cleanup "$name" TXT third "$handle" >/dev/null 2>&1 && [ "$(recs | jq -r '.[].content')" = '"second"' ] &&
	tail -n +"$((mark + 1))" "$T/cf.log" >"$T/cf.part" && grep -q "DELETE /client/v4/zones/[0-9a-f]*/dns_records/$handle " "$T/cf.part" &&
	! grep -q "dns_records?" "$T/cf.part" &&
	check_ok "cleanup with present's handle deletes by record id, no lookup" || check_bad "cleanup by handle: $(recs) $(cat "$T/cf.part")"
ab cleanup "$name" TXT second >/dev/null 2>&1 && [ "$(recs | jq length)" = 0 ] &&
	check_ok "all removed" || check_bad "left: $(recs)"
ab cleanup "$name" TXT second >/dev/null 2>&1 && check_ok "removing a record already gone succeeds" ||
	check_bad "cleanup of a gone record failed"
curl -fsS -d '{"status": 429, "retry_after": 300, "count": 1}' "$CF/standin/switch" >/dev/null
ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "failed (temporary).*rate limited (HTTP 429), pausing 300 s" "$T/out" &&
	check_ok "429 with retry-after: a temporary failure with the pause" || check_bad "429: $(cat "$T/out")"
curl -fsS -d '{"status": 429, "retry_after": 7, "count": 1, "after": 2}' "$CF/standin/switch" >/dev/null
ab present "$name" TXT y >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "failed (temporary).*create record: rate limited (HTTP 429), pausing 7 s" "$T/out" &&
	check_ok "429 on the create after the lookups passed: temporary, with the pause" || check_bad "429 on create: $(cat "$T/out")"
# every request takes 0.8 s: present's three (zone, record lookup, create)
# would each fit in 2 s, together they do not
curl -fsS -d '{"delay": 0.8}' "$CF/standin/switch" >/dev/null
jq '.dns_connectors[0].timeout_seconds = 2' "$T/bridge.json" >"$T/slow.json"
start=$(date +%s%N)
CONF=$T/slow.json ab present "$name" TXT slow >"$T/out" 2>&1 && rc=0 || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
curl -fsS -d '{"delay": 0}' "$CF/standin/switch" >/dev/null
[ "$rc" -ne 0 ] && grep -q "failed (temporary).*no answer" "$T/out" && [ "$ms" -lt 2900 ] &&
	check_ok "timeout_seconds bounds the whole call, not each request (${ms} ms)" ||
	check_bad "slow provider: rc $rc after $ms ms: $(cat "$T/out")"
printf 'wrongtoken\n' >"$T/wrong.token"
chmod 600 "$T/wrong.token"
jq --arg p "$T/wrong.token" '.dns_connectors[0].api_token_file = $p' "$T/bridge.json" >"$T/wrong.json"
CONF=$T/wrong.json ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "present: failed: .*credentials refused (HTTP 403)" "$T/out" &&
	check_ok "a wrong token is a permanent failure" || check_bad "wrong token: $(cat "$T/out")"
check_summary
