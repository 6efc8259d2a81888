#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Protocol-level error handling of acmebridge (RFC 8555 §6, §7) with the
# small Python client tests/integration/acmetest.py: every refused request
# must answer the right HTTP status, problem type, Content-Type
# application/problem+json and a Replay-Nonce (the cases are listed in
# test_protocol_errors.py), and one full order through the client's own
# http-01 responder must give a chain that verifies.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python

start_bind
start_sim
start_bridge

OUT=$T/proto
mkdir -p "$OUT"
# an EAB key for the externalAccountBinding cases (EAB is optional here),
# made with the CLI form of CONTRACT.md; if that form fails, the options
# before the command, so that the EAB cases still run
eab_key() {
	local eab
	eab=$("$@" 2>"$T/eab.err") || return 1
	EAB_KID=$(jq -er .kid <<<"$eab") || return 1
	EAB_KEY=$(jq -er .hmac_key <<<"$eab") || return 1
	export EAB_KID EAB_KEY
}
if eab_key "$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" --note protocol-test; then
	check_ok "acmebridge eab add -c FILE --note TEXT gave a key ($EAB_KID)"
else
	check_bad "acmebridge eab add -c FILE --note TEXT failed: $(cat "$T/eab.err")"
	eab_key "$ACMEBRIDGE_BIN" -c "$T/bridge.json" --note protocol-test eab add ||
		check_bad "acmebridge -c FILE eab add failed too: $(cat "$T/eab.err")"
fi
log "running the protocol checks (test_protocol_errors.py)"
check_py test_protocol_errors.py "$OUT"

# the positive path's certificate
if [ -s "$OUT/positive.pem" ]; then
	# shellcheck disable=SC2046 # two names, split on purpose
	if (verify_chain "$OUT/positive.pem" $(cat "$OUT/positive.names")); then
		check_ok "positive path: certificate chain verifies and carries both names"
	else
		check_bad "positive path: certificate does not verify"
	fi
else
	check_bad "positive path: no certificate to verify"
fi

# the bridge must still be alive after all this
check_bridge_alive

check_summary
