#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Sectigo domain control validation end to end. The simulator runs with
# --require-dcv: it refuses to enroll names of a domain without a current
# validation, and looks DCV records up with real DNS queries at BIND9.
#  1. certbot orders two names of example.test, which SCM holds but has
#     never validated: the bridge runs the DCV (TXT _pki-validation through
#     the exec connector into BIND9, propagation, SCM finds it), the
#     certificate is issued, the record is gone from BIND9 afterwards
#  2. the simulator's clock moves past the validation; wildcard + base and
#     a concurrent lego order under the domain share one new DCV run
#  3. the scheduler re-validates the domain once its validation comes
#     within dcv.margin_days, with no order waiting
#  4. failures reach certbot: a record that never reaches one of the
#     servers (the message names it; the record is removed anyway), and
#     an order under a domain SCM does not hold
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v certbot >/dev/null || fail "certbot not installed"
command -v lego >/dev/null || fail "lego not installed"
start_bind
start_sim --require-dcv --domain "$ZONE" --domain other.test \
	--dns-resolver "127.0.0.1:$DNS_PORT" --dcv-check-attempts 15
hook=$SRCDIR/tests/integration/dns/nsupdate-hook.sh
export NSUPDATE_SERVER=127.0.0.1 NSUPDATE_PORT=$DNS_PORT NSUPDATE_KEY=$T/tsig.key
# other.test is served by the hook too, but BIND has no such zone: its
# record never appears anywhere
start_bridge "$(printf '.dcv = {enabled: true, poll_seconds: 1, margin_days: 30,
    check_interval_seconds: 3600, domain_cache_seconds: 0}
  | .dns_connectors = [{name: "bind", type: "exec", program: "%s",
    zones: ["%s", "other.test"], ttl: 5, ns_port: %s,
    propagation_timeout_seconds: 6, poll_interval_seconds: 1,
    pass_env: ["NSUPDATE_SERVER", "NSUPDATE_PORT", "NSUPDATE_KEY",
               "HOOK_NOOP"]}]' \
	"$hook" "$ZONE" "$DNS_PORT")"
ab() { "$ACMEBRIDGE_BIN" "$@" -c "$T/bridge.json"; }
txt() { dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "$1" TXT; }
dcv_status() { sim_stats | jq -r --arg d "$1" '.dcv.domains[] | select(.name == $d) | .status'; }

CB=$T/certbot
cb() {
	REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot --server "$BRIDGE_DIR_URL" \
		--config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
		--non-interactive --max-log-backups 0 "$@"
}
cb register --register-unsafely-without-email --agree-tos >"$T/cb.out" 2>&1 ||
	fail "certbot register: $(cat "$T/cb.out")"

# The problem an order failed with: certbot writes the order object
# (with its "error") to its log.
# ---- 1. first order: DCV on demand
[ "$(dcv_status "$ZONE")" = NOT_VALIDATED ] || fail "sim: $ZONE should start unvalidated"
start=$SECONDS
if cb certonly --standalone --preferred-challenges http-01 \
	--http-01-port "$HTTP01_PORT" --http-01-address 127.0.0.1 \
	--cert-name one -d "www.$ZONE" -d "api.$ZONE" >"$T/cb.out" 2>&1; then
	check_ok "certbot: certificate for names of an unvalidated domain ($((SECONDS - start)) s)"
else
	check_bad "certbot failed: $(tail -5 "$T/cb.out")"
	tail_log "$T/bridge.log" 40
fi
verify_chain "$CB/config/live/one/fullchain.pem" "www.$ZONE" "api.$ZONE" &&
	check_ok "the chain verifies against the test root"
[ "$(dcv_status "$ZONE")" = VALIDATED ] && check_ok "SCM holds a validation of $ZONE" ||
	check_bad "sim DCV status: $(dcv_status "$ZONE")"
[ -z "$(txt "_pki-validation.$ZONE")" ] && check_ok "the DCV record is gone from BIND9" ||
	check_bad "left in BIND9: $(txt "_pki-validation.$ZONE")"
[ "$(sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM dcv WHERE domain = '$ZONE' AND state = 'valid'")" = 1 ] &&
	[ "$(sqlite3 "$BRIDGE_DB" "SELECT state FROM dns_records ORDER BY id DESC LIMIT 1")" = gone ] &&
	check_ok "one valid DCV run, its record journaled as gone" ||
	check_bad "db: $(sqlite3 "$BRIDGE_DB" "SELECT * FROM dcv; SELECT * FROM dns_records")"
grep -q "dcv.valid" <(sqlite3 "$BRIDGE_DB" "SELECT event FROM audit") &&
	check_ok "audit log has dcv.valid" || check_bad "no dcv.valid audit"
ab dcv list >"$T/dcv.out" 2>&1 && grep -q "^$ZONE .*VALIDATED" "$T/dcv.out" &&
	check_ok "dcv list shows the domain validated" || check_bad "dcv list: $(cat "$T/dcv.out")"

# ---- 2. the clock moves past the validation: wildcard + base and a second
# order at once share one new run (the scheduler is off: hourly)
sim_ctl() { curl -fsS --cacert "$SIM_DIR/root.pem" -X POST -d "$1" "$SIM_URL/sim/control" >/dev/null; }
sim_ctl '{"advance_days": 200}'
[ "$(dcv_status "$ZONE")" = EXPIRED ] && check_ok "sim: the validation expired" ||
	check_bad "sim status after 200 days: $(dcv_status "$ZONE")"
cat >"$T/rfc2136.ini" <<EOF2
dns_rfc2136_server = 127.0.0.1
dns_rfc2136_port = $DNS_PORT
dns_rfc2136_name = $TSIG_NAME
dns_rfc2136_secret = $TSIG_SECRET
dns_rfc2136_algorithm = HMAC-SHA256
EOF2
chmod 600 "$T/rfc2136.ini"
runs_before=$(sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM dcv")
cb certonly --dns-rfc2136 --dns-rfc2136-credentials "$T/rfc2136.ini" \
	--dns-rfc2136-propagation-seconds 1 --cert-name wild -d "$ZONE" -d "*.$ZONE" \
	>"$T/cb1.out" 2>&1 &
p1=$!
LEGO_CA_CERTIFICATES=$BRIDGE_CA lego --server "$BRIDGE_DIR_URL" --path "$T/lego" \
	--accept-tos --email dcv@example.org -d "mail.$ZONE" \
	--http --http.port "127.0.0.1:$HTTP01_PORT" run >"$T/cb2.out" 2>&1 &
p2=$!
wait $p1 && check_ok "certbot: wildcard + base after the validation expired" ||
	check_bad "wildcard order: $(tail -5 "$T/cb1.out")"
wait $p2 && check_ok "lego: a concurrent order under the same domain" ||
	check_bad "second order: $(tail -5 "$T/cb2.out")"
verify_chain "$CB/config/live/wild/fullchain.pem" "$ZONE" "*.$ZONE" || check_bad "wildcard chain"
verify_chain "$T/lego/certificates/mail.$ZONE.crt" "mail.$ZONE" || check_bad "lego chain"
runs_after=$(sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM dcv")
[ $((runs_after - runs_before)) -eq 1 ] && check_ok "the orders shared one DCV run" ||
	check_bad "DCV runs: $runs_before before, $runs_after after"
[ -z "$(txt "_pki-validation.$ZONE")" ] && check_ok "no DCV record left" ||
	check_bad "left: $(txt "_pki-validation.$ZONE")"
[ "$(sim_stats | jq '.enrollments')" = 3 ] && check_ok "three enrollments, none refused for DCV" ||
	check_bad "sim: $(sim_stats | jq -c '{enrollments, enroll_calls}')"

# ---- 3. the scheduler: 180 days on, the validation ends within the 30-day
# margin; a pass every 2 s renews it with no order waiting
sim_ctl '{"advance_days": 180}'
jq '.dcv.check_interval_seconds = 2' "$T/bridge.json" >"$T/b2.json" && mv "$T/b2.json" "$T/bridge.json"
restart_bridge
ok=0
for _ in $(seq 1 40); do
	n=$(sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM dcv WHERE started_by = 'schedule' AND state = 'valid'")
	[ "$n" -ge 1 ] && { ok=1; break; }
	sleep 0.5
done
[ $ok = 1 ] && check_ok "the scheduler renewed the validation ahead of need" ||
	check_bad "no scheduled run: $(sqlite3 "$BRIDGE_DB" "SELECT id, state, started_by, reason FROM dcv")"
left=$(sim_stats | jq -r --arg d "$ZONE" '.dcv.domains[] | select(.name == $d) | .expirationDate')
[ "$(date -d "$left" +%s)" -gt $(($(date +%s) + 190 * 86400)) ] &&
	check_ok "SCM's validation now ends $left" || check_bad "expiry after renewal: $left"

# ---- 4. failures reach the ACME client
# a record that never appears: the connector says done, no server has it;
# the DCV fails naming the server and what it answered
sim_ctl '{"advance_days": 200}'
jq '.dcv.check_interval_seconds = 3600
  | .dns_connectors[0].propagation_timeout_seconds = 3' "$T/bridge.json" >"$T/b2.json" &&
	mv "$T/b2.json" "$T/bridge.json"
HOOK_NOOP=1 restart_bridge
cb certonly --standalone --preferred-challenges http-01 --http-01-port "$HTTP01_PORT" \
	--http-01-address 127.0.0.1 --cert-name lag -d "lag.$ZONE" >"$T/cb3.out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "domain control validation of $ZONE failed: the DCV record _pki-validation.$ZONE did not reach every authoritative server: .*127.0.0.1:$DNS_PORT: 0 TXT values" "$CB/logs/letsencrypt.log" &&
	check_ok "a record that never appears fails the order, naming the server" ||
	check_bad "never appears: rc=$rc $(grep '"detail"' "$CB/logs/letsencrypt.log" | tail -2)"
[ "$(sqlite3 "$BRIDGE_DB" "SELECT state FROM dns_records ORDER BY id DESC LIMIT 1")" = gone ] &&
	check_ok "its journaled record is removed after the failure too" ||
	check_bad "journal: $(sqlite3 "$BRIDGE_DB" "SELECT * FROM dns_records ORDER BY id DESC LIMIT 1")"
restart_bridge
# SCM does not hold the domain at all
tok=$(curl -fsS --cacert "$SIM_DIR/root.pem" -d "grant_type=client_credentials&client_id=acmebridge&client_secret=sim-secret" \
	"$SIM_URL/auth/realms/apiclients/protocol/openid-connect/token" | jq -r .access_token)
did=$(curl -fsS --cacert "$SIM_DIR/root.pem" -H "Authorization: Bearer $tok" \
	"$SIM_URL/api/domain/v1?name=$ZONE" | jq '.[0].id')
curl -fsS --cacert "$SIM_DIR/root.pem" -H "Authorization: Bearer $tok" -X DELETE \
	"$SIM_URL/api/domain/v1/$did" >/dev/null
cb certonly --standalone --preferred-challenges http-01 --http-01-port "$HTTP01_PORT" \
	--http-01-address 127.0.0.1 --cert-name nodom -d "nodom.$ZONE" >"$T/cb4.out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "no SCM domain covers nodom.$ZONE" "$CB/logs/letsencrypt.log" &&
	check_ok "an order outside SCM's domains fails naming the name" ||
	check_bad "no domain: rc=$rc $(grep -i 'error\|fail' "$T/cb4.out" | head -5)"
check_summary
