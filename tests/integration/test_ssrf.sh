#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The validators' address policy (validation.allow_private_addresses),
# end to end; the ACME side is test_ssrf.py with acmetest.py:
#  - with the setting false (the default): newOrder refuses IP identifiers
#    127.0.0.1, 169.254.169.254, ::ffff:127.0.0.1, 10.0.0.5, fd00::1
#    (rejectedIdentifier); http-01 and tls-alpn-01 for names that point at
#    127.0.0.1 (the zone's "*"), at 169.254.169.254 (added with nsupdate)
#    or at a CNAME to it end invalid with "refused by policy", and the
#    local responders never see a connection
#  - with the setting true: loopback validates, link-local stays refused
#    (also as a redirect target), and a wrong http-01 body is reported by
#    its length, never echoed
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python

start_bind
start_sim
start_bridge '.validation.allow_private_addresses = false'

META_NAME=meta-$(openssl rand -hex 3).$ZONE
META_CNAME=cname-$(openssl rand -hex 3).$ZONE
export META_NAME META_CNAME
nsupdate_zone "update add $META_NAME. 60 A 169.254.169.254
update add $META_CNAME. 60 CNAME $META_NAME."
if dig +short @127.0.0.1 -p "$DNS_PORT" "$META_CNAME" A | grep -qx 169.254.169.254; then
	check_ok "nsupdate: $META_CNAME -> $META_NAME -> 169.254.169.254"
else
	check_bad "nsupdate: $META_CNAME does not resolve to 169.254.169.254"
fi

log "checks with validation.allow_private_addresses false"
mkdir -p "$T/off"
PHASE=off check_py test_ssrf.py "$T/off"
if grep -q 'refused by the address policy' "$T/bridge.log"; then
	check_ok "the bridge logs the refused addresses for the operator"
else
	check_bad "no 'refused by the address policy' line in the bridge log"
fi

log "checks with validation.allow_private_addresses true"
jq '.validation.allow_private_addresses = true' "$T/bridge.json" >"$T/bridge.json.new"
mv "$T/bridge.json.new" "$T/bridge.json"
restart_bridge
mkdir -p "$T/on"
PHASE=on check_py test_ssrf.py "$T/on"

check_bridge_alive

check_summary
