#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Renewal linkage with the Debian clients, which send no "replaces"
# (certbot 2.1 never does, lego 4.9.1 predates it): certbot renew and lego
# renew each place a new order for the same names under the same account;
# the bridge links the new certificate to the old one (predecessor /
# successor in the store and the inventory), enrolls each anew in SCM, and
# the renewed certificate verifies. A renewal by another account is not
# linked. With renew_via renewById, a renewal goes through SCM renewById.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v certbot >/dev/null || fail "certbot not installed"
command -v lego >/dev/null || fail "lego not installed"

start_bind
start_sim
start_bridge

db() { sqlite3 "$BRIDGE_DB" "$@"; }
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f' | sed 's/^\(00\)*//'; }
# linked OLD NEW: NEW's predecessor is OLD and OLD's successor is NEW
linked() {
	[ "$(db "SELECT p.serial FROM certificates c JOIN certificates p ON p.id = c.predecessor WHERE c.serial = '$2'")" = "$1" ] &&
		[ "$(db "SELECT s.serial FROM certificates c JOIN certificates s ON s.id = c.replaced_by WHERE c.serial = '$1'")" = "$2" ]
}

# ---- certbot: certonly, then renew --force-renewal
CB=$T/certbot
mkdir -p "$CB"
cb() {
	REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot --server "$BRIDGE_DIR_URL" \
		--config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
		--non-interactive --max-log-backups 0 "$@" >"$CB/out.txt" 2>&1 || {
		cat "$CB/out.txt" >&2
		fail "certbot $1 failed"
	}
}
cb certonly --register-unsafely-without-email --agree-tos --standalone \
	--preferred-challenges http-01 --http-01-port "$HTTP01_PORT" \
	--http-01-address 127.0.0.1 --cert-name web -d "web.$ZONE" -d "www.web.$ZONE"
first=$(serial_of "$CB/config/live/web/cert.pem")
cb renew --force-renewal --no-random-sleep-on-renew --cert-name web
second=$(serial_of "$CB/config/live/web/cert.pem")
verify_chain "$CB/config/live/web/fullchain.pem" "web.$ZONE" "www.web.$ZONE"
if [ "$first" != "$second" ] && linked "$first" "$second"; then
	check_ok "certbot renew: the renewed certificate is linked to the first"
else
	check_bad "certbot renew: $first -> $second not linked"
fi
st=$("$ACMEBRIDGE_BIN" inventory list --json --name "web.$ZONE" -c "$T/bridge.json" |
	jq -r --arg s "$first" '.[] | select(.serial == $s) | .status + " " + .successor')
if [ "$st" = "replaced $second" ]; then
	check_ok "the inventory shows the first certbot certificate replaced by the second"
else
	check_bad "inventory of $first: '$st'"
fi

# ---- lego: run, then renew --days 400 (always due)
L=$T/lego
lego_cmd() {
	LEGO_CA_CERTIFICATES=$BRIDGE_CA lego --server "$BRIDGE_DIR_URL" --path "$L" \
		--accept-tos --email "lego@$ZONE" -d "api.$ZONE" \
		--http --http.port "127.0.0.1:$HTTP01_PORT" "$@" >"$T/lego.txt" 2>&1 || {
		cat "$T/lego.txt" >&2
		fail "lego $1 failed"
	}
}
lego_cmd run
lfirst=$(serial_of "$L/certificates/api.$ZONE.crt")
lego_cmd renew --days 400 --no-random-sleep
lsecond=$(serial_of "$L/certificates/api.$ZONE.crt")
verify_chain "$L/certificates/api.$ZONE.crt" "api.$ZONE"
if [ "$lfirst" != "$lsecond" ] && linked "$lfirst" "$lsecond"; then
	check_ok "lego renew: the renewed certificate is linked to the first"
else
	check_bad "lego renew: $lfirst -> $lsecond not linked"
fi

# ---- another account ordering the same names is no renewal of ours
L2=$T/lego2
LEGO_CA_CERTIFICATES=$BRIDGE_CA lego --server "$BRIDGE_DIR_URL" --path "$L2" \
	--accept-tos --email "other@$ZONE" -d "api.$ZONE" \
	--http --http.port "127.0.0.1:$HTTP01_PORT" run >"$T/lego2.txt" 2>&1 ||
	fail "lego (second account) failed: $(cat "$T/lego2.txt")"
other=$(serial_of "$L2/certificates/api.$ZONE.crt")
pred=$(db "SELECT ifnull(predecessor, 0) FROM certificates WHERE serial = '$other'")
if [ "$pred" = 0 ]; then
	check_ok "the same names under another account start a new line (no predecessor)"
else
	check_bad "another account's certificate got predecessor $pred"
fi

# ---- each ACME order enrolled once in SCM
n=$(sim_stats | jq '.enrollments')
if [ "$n" = 5 ]; then
	check_ok "five orders, five SCM enrollments"
else
	check_bad "$n SCM enrollments for five orders"
fi

# ---- renew_via renewById: lego renews through SCM's renewById
write_bridge_config '.connectors[0].renew_via = "renewById"'
restart_bridge
e0=$(sim_stats | jq '.enroll_calls')
r0=$(sim_stats | jq '.renew_calls')
lego_cmd renew --days 400 --no-random-sleep
lthird=$(serial_of "$L/certificates/api.$ZONE.crt")
verify_chain "$L/certificates/api.$ZONE.crt" "api.$ZONE"
e1=$(sim_stats | jq '.enroll_calls')
r1=$(sim_stats | jq '.renew_calls')
old_ref=$(db "SELECT ca_ref FROM certificates WHERE serial = '$lsecond'")
new_ref=$(db "SELECT ca_ref FROM certificates WHERE serial = '$lthird'")
if [ "$((r1 - r0))" = 1 ] && [ "$e1" = "$e0" ] && [ -n "$new_ref" ] &&
	[ "$new_ref" != "$old_ref" ] && linked "$lsecond" "$lthird"; then
	check_ok "renew_via renewById: one SCM renewById (sslId $old_ref -> $new_ref), no enroll, linked"
else
	check_bad "renewById: renew calls $r0 -> $r1, enroll calls $e0 -> $e1, sslId $old_ref -> $new_ref"
fi

check_bridge_alive
check_summary
