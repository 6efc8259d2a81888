#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Pre-authorized names per EAB key (as Sectigo's own ACME service does for
# domains validated in SCM): an account bound to a key made with
# `eab add --preauthorize '*.ZONE'` gets authorizations that are valid
# from the start (no challenge is ever fetched or answered, nothing
# listens on the http-01 port), and a name outside the patterns is
# refused with rejectedIdentifier. An account of a key without patterns
# still has to answer challenges.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v certbot >/dev/null || fail "certbot not installed"
start_bridge '.acme.require_eab = true'
"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" --preauthorize "*.$ZONE" \
	--preauthorize "exact.other.test" --note preauth >"$T/eab.json" ||
	fail "eab add --preauthorize failed"
KID=$(jq -r .kid "$T/eab.json")
HMAC=$(jq -r .hmac_key "$T/eab.json")
"$ACMEBRIDGE_BIN" eab list -c "$T/bridge.json" >"$T/list.out"
grep -q "$KID .*\[\"\*\.$ZONE\",\"exact.other.test\"\]" "$T/list.out" &&
	check_ok "eab list shows the patterns" || check_bad "eab list: $(cat "$T/list.out")"
"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" --preauthorize "bad name!" >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" = 2 ] && grep -q "must be a host name" "$T/out" &&
	check_ok "a malformed pattern is refused" || check_bad "bad pattern: rc=$rc $(cat "$T/out")"

cb() {
	REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot --server "$BRIDGE_DIR_URL" \
		--config-dir "$T/cb/config" --work-dir "$T/cb/work" --logs-dir "$T/cb/logs" \
		--non-interactive --max-log-backups 0 "$@"
}
cb register --register-unsafely-without-email --agree-tos --eab-kid="$KID" \
	--eab-hmac-key="$HMAC" >"$T/cb.out" 2>&1 || fail "certbot register: $(cat "$T/cb.out")"
# --http-01-port points at a port nobody serves: a challenge would fail
dead=$(free_port)
if cb certonly --standalone --preferred-challenges http-01 --http-01-port "$dead" \
	--http-01-address 127.0.0.1 --cert-name pre -d "a.$ZONE" -d "b.c.$ZONE" \
	>"$T/cb.out" 2>&1; then
	check_ok "certificate for pre-authorized names"
else
	check_bad "pre-authorized order failed: $(tail -5 "$T/cb.out")"
fi
verify_chain "$T/cb/config/live/pre/fullchain.pem" "a.$ZONE" "b.c.$ZONE" || check_bad "chain"
[ "$(sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM jobs WHERE kind = 'validate'")" = 0 ] &&
	check_ok "no challenge was validated" ||
	check_bad "validate jobs: $(sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM jobs WHERE kind = 'validate'")"
cb certonly --standalone --preferred-challenges http-01 --http-01-port "$dead" \
	--http-01-address 127.0.0.1 --cert-name out -d "www.elsewhere.test" >"$T/cb2.out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "rejectedIdentifier" "$T/cb/logs/letsencrypt.log" &&
	grep -q "not among the names this account's external account binding key may order" "$T/cb/logs/letsencrypt.log" &&
	check_ok "a name outside the patterns: rejectedIdentifier" ||
	check_bad "outside: rc=$rc $(tail -3 "$T/cb2.out")"

# a key without patterns: challenges as usual (the dead port fails it)
"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" >"$T/eab2.json"
cb2() {
	REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot --server "$BRIDGE_DIR_URL" \
		--config-dir "$T/cb2/config" --work-dir "$T/cb2/work" --logs-dir "$T/cb2/logs" \
		--non-interactive --max-log-backups 0 "$@"
}
cb2 register --register-unsafely-without-email --agree-tos --eab-kid="$(jq -r .kid "$T/eab2.json")" \
	--eab-hmac-key="$(jq -r .hmac_key "$T/eab2.json")" >/dev/null 2>&1
cb2 certonly --standalone --preferred-challenges http-01 --http-01-port "$HTTP01_PORT" \
	--http-01-address 127.0.0.1 --cert-name plain -d "plain.$ZONE" >"$T/cb3.out" 2>&1 &&
	[ "$(sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM jobs WHERE kind = 'validate'")" -ge 1 ] &&
	check_ok "an account of a key without patterns answers challenges" ||
	check_bad "plain: $(tail -3 "$T/cb3.out")"
check_summary
