#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "powerdns" DNS connector against a real PowerDNS Authoritative (4.7
# on Debian 12: REPLACE/DELETE only, so the connector reads, merges and
# writes) with its SQLite backend and HTTP API, started here on loopback.
. "$SRCDIR/tests/integration/lib.sh"

command -v pdns_server >/dev/null || fail "pdns_server not installed (bash contrib/scripts/install-deps.sh)"
schema=/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
[ -f "$schema" ] || fail "pdns-backend-sqlite3 not installed"
start_bind # the bridge's own test configuration wants a resolver
P=$T/pdns
mkdir -p "$P"
PDNS_PORT=$(free_port)
API_PORT=$(free_port)
API_KEY=$(openssl rand -hex 16)
sqlite3 "$P/pdns.db" <"$schema"
cat >"$P/pdns.conf" <<EOF2
launch=gsqlite3
gsqlite3-database=$P/pdns.db
local-address=127.0.0.1
local-port=$PDNS_PORT
api=yes
api-key=$API_KEY
webserver=yes
webserver-address=127.0.0.1
webserver-port=$API_PORT
webserver-allow-from=127.0.0.1
socket-dir=$P
daemon=no
guardian=no
disable-syslog=yes
loglevel=4
EOF2
pdnsutil --config-dir="$P" create-zone "$ZONE" "ns.$ZONE" >"$P/create.log" 2>&1 ||
	{ cat "$P/create.log"; fail "pdnsutil create-zone"; }
pdns_server --config-dir="$P" >"$P/pdns.log" 2>&1 &
track_pid $! pdns_server
wait_for "PowerDNS API on $API_PORT" "$P/pdns.log" "$!" \
	curl -fsS -H "X-API-Key: $API_KEY" "http://127.0.0.1:$API_PORT/api/v1/servers/localhost"
printf '%s\n' "$API_KEY" >"$T/pdns.key"
chmod 600 "$T/pdns.key"
write_bridge_config "$(printf '.dns_connectors = [{name: "pdns", type: "powerdns",
  api_url: "http://127.0.0.1:%s", api_key_file: "%s", zones: ["%s"], ttl: 5,
  check_servers: ["127.0.0.1:%s"]}]' "$API_PORT" "$T/pdns.key" "$ZONE" "$PDNS_PORT")"
ab() { "$ACMEBRIDGE_BIN" dns "$1" -c "${CONF:-$T/bridge.json}" pdns "${@:2}"; }
txt() { dig +short +norecurse @127.0.0.1 -p "$PDNS_PORT" "$1" TXT | sort; }

name=_pki-validation.$ZONE
sectigo='F(U_t|L%>8]iU6Yx\CFm;0O8DViEQ/|`'
ab check >"$T/out" 2>&1 && grep -q "zone $ZONE: ok" "$T/out" &&
	check_ok "dns check: the API has the zone" || check_bad "check: $(cat "$T/out")"
ab present "$name" TXT value-one >/dev/null 2>&1 && ab present "$name" TXT "$sectigo" >/dev/null 2>&1 ||
	check_bad "present failed"
want=$(printf '"%s"\n"%s"\n' 'F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`' value-one | sort)
[ "$(txt "$name")" = "$want" ] && check_ok "two TXT values under one name (read, merge, REPLACE), punctuation intact" ||
	check_bad "PowerDNS serves [$(txt "$name")]"
ab values "$name" TXT >"$T/out" 2>&1 && [ "$(sort "$T/out")" = "$(printf '%s\nvalue-one\n' "$sectigo" | sort)" ] &&
	check_ok "dns values reads both back byte-exact" || check_bad "values: $(cat "$T/out")"
ab present "$name" TXT value-one >/dev/null 2>&1 && [ "$(txt "$name" | wc -l)" = 2 ] &&
	check_ok "presenting a value twice keeps one copy" || check_bad "after re-present: $(txt "$name")"
ab cleanup "$name" TXT value-one >/dev/null 2>&1 &&
	[ "$(txt "$name")" = '"F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`"' ] &&
	check_ok "cleanup removed exactly one value" || check_bad "after cleanup: $(txt "$name")"
ab cleanup "$name" TXT "$sectigo" >/dev/null 2>&1 && [ -z "$(txt "$name")" ] &&
	[ "$(curl -fsS -H "X-API-Key: $API_KEY" "http://127.0.0.1:$API_PORT/api/v1/servers/localhost/zones/$ZONE." |
		jq --arg n "$name." '[.rrsets[] | select(.name == $n)] | length')" = 0 ] &&
	check_ok "the last value removed the RRset" || check_bad "left: $(txt "$name")"
ab present "_cn.$ZONE" CNAME "x.y.sectigo.com" >/dev/null 2>&1 &&
	[ "$(dig +short +norecurse @127.0.0.1 -p "$PDNS_PORT" "_cn.$ZONE" CNAME)" = "x.y.sectigo.com." ] &&
	ab cleanup "_cn.$ZONE" CNAME "x.y.sectigo.com" >/dev/null 2>&1 &&
	[ -z "$(dig +short +norecurse @127.0.0.1 -p "$PDNS_PORT" "_cn.$ZONE" CNAME)" ] &&
	check_ok "CNAME published and removed" || check_bad "CNAME"
# records the connector did not write (two strings, a disabled one) go back
# unchanged in the REPLACE that adds or removes ours
api() { curl -fsS -H "X-API-Key: $API_KEY" "http://127.0.0.1:$API_PORT/api/v1/servers/localhost/zones/$ZONE." "$@"; }
other=_other.$ZONE
api -X PATCH -d "$(jq -cn --arg n "$other." '{rrsets: [{name: $n, type: "TXT", ttl: 300,
  changetype: "REPLACE", records: [{content: "\"two\" \"strings\"", disabled: false},
  {content: "\"off\"", disabled: true}]}]}')" >/dev/null || check_bad "seeding $other"
rrset() { api | jq -c --arg n "$other." '[.rrsets[] | select(.name == $n) | .records[] | [.content, .disabled]] | sort'; }
seeded=$(rrset)
ab present "$other" TXT ours >/dev/null 2>&1 &&
	[ "$(txt "$other")" = "$(printf '"ours"\n"two" "strings"' | sort)" ] &&
	ab cleanup "$other" TXT ours >/dev/null 2>&1 && [ "$(rrset)" = "$seeded" ] &&
	check_ok "records the connector did not write survive present and cleanup (disabled stays disabled)" ||
	check_bad "foreign records: $(rrset) (was $seeded)"
ab present "$other" TXT off >/dev/null 2>&1 && ab values "$other" TXT >"$T/out" 2>&1 &&
	[ "$(sort "$T/out")" = "$(printf 'off\ntwostrings\n')" ] &&
	check_ok "presenting a value held disabled enables it; values reads multi-string records joined" ||
	check_bad "disabled value: $(rrset) values [$(cat "$T/out")]"
ab test "$ZONE" >"$T/out" 2>&1 && grep -q "^propagation: ok: 127.0.0.1:$PDNS_PORT: has the value" "$T/out" &&
	check_ok "dns test through PowerDNS" || check_bad "dns test: $(cat "$T/out")"

printf 'wrong\n' >"$T/wrong.key"
chmod 600 "$T/wrong.key"
jq --arg k "$T/wrong.key" '.dns_connectors[0].api_key_file = $k' "$T/bridge.json" >"$T/wrong.json"
CONF=$T/wrong.json ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "credentials refused (HTTP 401)" "$T/out" &&
	check_ok "a wrong API key is named" || check_bad "wrong key: $(cat "$T/out")"
jq '.dns_connectors[0].zones = ["nosuch.test"]' "$T/bridge.json" >"$T/wrong.json"
CONF=$T/wrong.json ab present "_pki-validation.nosuch.test" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "PowerDNS has no zone nosuch.test" "$T/out" &&
	check_ok "a zone PowerDNS lacks is named" || check_bad "unknown zone: $(cat "$T/out")"
check_summary
