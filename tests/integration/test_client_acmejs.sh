#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# npm acme-client (pinned in package.json) against acmebridge, see
# acme_client_test.js: account, order with http-01 served from node on
# $HTTP01_PORT, finalize, download; the account's orders list; keyChange;
# revokeCert signed with the certificate key (jwk) and a refused second
# revocation; account deactivation and 401 unauthorized afterwards.
# Here: the downloaded chain verifies and the simulator shows it revoked.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v node >/dev/null || fail "node not installed"
[ -d "$SRCDIR/tests/integration/node_modules/acme-client" ] ||
	fail "npm package acme-client missing: run (cd tests/integration && npm ci)"

start_bind
start_sim
start_bridge

OUT=$T/acmejs
mkdir -p "$OUT"
start=$SECONDS
if ! NODE_EXTRA_CA_CERTS=$BRIDGE_CA OUT=$OUT ZONE=$ZONE \
	BRIDGE_DIR_URL=$BRIDGE_DIR_URL HTTP01_PORT=$HTTP01_PORT \
	node "$SRCDIR/tests/integration/acme_client_test.js" >"$OUT/out.txt" 2>&1; then
	cat "$OUT/out.txt" >&2
	fail "acme_client_test.js failed"
fi
cat "$OUT/out.txt"
log "acme-client flow took $((SECONDS - start))s"

verify_chain "$OUT/cert.pem" "js.$ZONE" "js2.$ZONE"
expect_sim_revoked "$(cert_serial "$OUT/cert.pem")"

pass "acme-client (npm) test"
