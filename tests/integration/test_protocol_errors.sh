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

# Debian's python3 with python3-cryptography, else whatever python3 is first
export PYTHONDONTWRITEBYTECODE=1
PY=python3
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import cryptography' 2>/dev/null; then
		PY=$p
		break
	fi
done
"$PY" -c 'import cryptography' 2>/dev/null ||
	fail "python3-cryptography is not installed"

NPASS=0
NFAIL=0
ok() {
	pass "$*"
	NPASS=$((NPASS + 1))
}
bad() {
	printf '[%s] FAIL: %s\n' "$(_ts)" "$*" >&2
	NFAIL=$((NFAIL + 1))
}
summary() {
	printf '%s: %d passed, %d failed\n' "$(basename "$0")" "$NPASS" "$NFAIL"
	[ "$NFAIL" -eq 0 ]
}

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
	ok "acmebridge eab add -c FILE --note TEXT gave a key ($EAB_KID)"
else
	bad "acmebridge eab add -c FILE --note TEXT failed: $(cat "$T/eab.err")"
	eab_key "$ACMEBRIDGE_BIN" -c "$T/bridge.json" --note protocol-test eab add ||
		bad "acmebridge -c FILE eab add failed too: $(cat "$T/eab.err")"
fi
log "running the protocol checks (test_protocol_errors.py)"
rc=0
OUT=$OUT "$PY" "$SRCDIR/tests/integration/test_protocol_errors.py" || rc=$?
if [ -s "$OUT/py-counts.json" ]; then
	NPASS=$((NPASS + $(jq -r .passed "$OUT/py-counts.json")))
	NFAIL=$((NFAIL + $(jq -r .failed "$OUT/py-counts.json")))
else
	bad "test_protocol_errors.py did not report (exit $rc)"
fi
if [ "$rc" -ne 0 ] && [ "$NFAIL" -eq 0 ]; then
	bad "test_protocol_errors.py exited $rc"
fi

# the positive path's certificate
if [ -s "$OUT/positive.pem" ]; then
	# shellcheck disable=SC2046 # two names, split on purpose
	if (verify_chain "$OUT/positive.pem" $(cat "$OUT/positive.names")); then
		ok "positive path: certificate chain verifies and carries both names"
	else
		bad "positive path: certificate does not verify"
	fi
else
	bad "positive path: no certificate to verify"
fi

# the bridge must still be alive after all this
if _alive "$BRIDGE_PID" && _bridge_ready >/dev/null 2>&1; then
	ok "the bridge still serves its directory"
else
	bad "the bridge died or stopped answering"
fi

summary
