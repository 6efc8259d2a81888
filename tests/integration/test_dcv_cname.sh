#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# follow_cname: the zone of the SCM domain has _pki-validation CNAMEd to a
# name in another zone, served by another DNS connector (a DCV delegation,
# as with acme-dns-style setups). With follow_cname on, the bridge
# publishes the TXT at the CNAME's target through that connector; SCM's
# lookup follows the CNAME and validates. A CNAME into a zone no connector
# serves fails the DCV with a message saying so.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v certbot >/dev/null || fail "certbot not installed"
start_bind
start_sim --require-dcv --domain "$ZONE" --dns-resolver "127.0.0.1:$DNS_PORT"
nsupdate_zone "update add _pki-validation.$ZONE. 5 CNAME _pki-validation.dcv.$ZONE."
hook=$SRCDIR/tests/integration/dns/nsupdate-hook.sh
export NSUPDATE_SERVER=127.0.0.1 NSUPDATE_PORT=$DNS_PORT NSUPDATE_KEY=$T/tsig.key
# dcv.$ZONE is a name inside the BIND zone: its connector's updates name
# the real zone (NSUPDATE_ZONE) and its propagation check asks BIND
export NSUPDATE_ZONE=$ZONE
start_bridge "$(printf '.dcv = {enabled: true, poll_seconds: 1, domain_cache_seconds: 0}
  | .dns_connectors = [
    {name: "main", type: "exec", program: "%s", ttl: 5, ns_port: %s,
     zones: [{zone: "%s", follow_cname: true}],
     pass_env: ["NSUPDATE_SERVER", "NSUPDATE_PORT", "NSUPDATE_KEY"]},
    {name: "delegated", type: "exec", program: "%s", ttl: 5,
     check_servers: ["127.0.0.1:%s"], zones: ["dcv.%s"],
     pass_env: ["NSUPDATE_SERVER", "NSUPDATE_PORT", "NSUPDATE_KEY", "NSUPDATE_ZONE"]}]' \
	"$hook" "$DNS_PORT" "$ZONE" "$hook" "$DNS_PORT" "$ZONE")"
db() { sqlite3 "$BRIDGE_DB" "$1"; }
cb() {
	REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot --server "$BRIDGE_DIR_URL" \
		--config-dir "$T/cb/config" --work-dir "$T/cb/work" --logs-dir "$T/cb/logs" \
		--non-interactive --register-unsafely-without-email --agree-tos "$@"
}
cb certonly --standalone --preferred-challenges http-01 --http-01-port "$HTTP01_PORT" \
	--http-01-address 127.0.0.1 --cert-name c -d "www.$ZONE" >"$T/cb.out" 2>&1 &&
	verify_chain "$T/cb/config/live/c/fullchain.pem" "www.$ZONE" &&
	check_ok "issued after a DCV through the CNAME" || check_bad "order: $(tail -3 "$T/cb.out")"
[ "$(db "SELECT name || ' ' || connector || ' ' || state FROM dns_records")" = \
	"_pki-validation.dcv.$ZONE delegated gone" ] &&
	check_ok "the TXT went to the CNAME's target through its own connector, then away" ||
	check_bad "journal: $(db "SELECT * FROM dns_records")"
grep -q "_pki-validation.$ZONE is a CNAME to _pki-validation.dcv.$ZONE" "$T/bridge.log" &&
	check_ok "the log says which CNAME was followed" || check_bad "no CNAME log line"

# a CNAME out of the served zones
nsupdate_zone "update delete _pki-validation.$ZONE. CNAME
update add _pki-validation.$ZONE. 5 CNAME _pki-validation.elsewhere.invalid."
curl -fsS --cacert "$SIM_DIR/root.pem" -X POST -d '{"advance_days": 200}' "$SIM_URL/sim/control" >/dev/null
"$ACMEBRIDGE_BIN" dcv start -c "$T/bridge.json" "$ZONE" >/dev/null
for _ in $(seq 1 100); do
	[ "$(db "SELECT state FROM dcv ORDER BY id DESC LIMIT 1")" = failed ] && break
	sleep 0.1
done
db "SELECT reason FROM dcv ORDER BY id DESC LIMIT 1" | grep -q \
	"_pki-validation.$ZONE is a CNAME to _pki-validation.elsewhere.invalid, in no zone a DNS connector serves" &&
	check_ok "a CNAME into a zone no connector serves fails the DCV, saying so" ||
	check_bad "outside: $(db "SELECT state, reason FROM dcv ORDER BY id DESC LIMIT 1")"
check_summary
