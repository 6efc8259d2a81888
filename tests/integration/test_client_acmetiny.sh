#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# acme-tiny (Debian 12: 5.0.1, Python urllib; trusts the bridge through
# SSL_CERT_FILE) against acmebridge:
#  1. new RSA account key, CSR for two names (EC key), http-01 with
#     --acme-dir served on $HTTP01_PORT; the chain it prints verifies
#  2. the same account key again with another CSR: the bridge answers the
#     existing account (200, "Already registered") and issues again
# acme-tiny's own pre-check fetches http://NAME/ through the system
# resolver, which does not know the test zone, so --disable-check is used;
# the bridge's validation of the challenge is what the test checks.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v acme-tiny >/dev/null || fail "acme-tiny not installed"

start_bind
start_sim
start_bridge

A=$T/acmetiny
WEBROOT=$T/webroot
CHALLENGE_DIR=$WEBROOT/.well-known/acme-challenge
mkdir -p "$A" "$CHALLENGE_DIR"
start_http01_server "$WEBROOT"

openssl genrsa -out "$A/account.key" 2048 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$A/domain.key"

# tiny RUN CSR: issue with acme-tiny, chain to $A/RUN.crt
tiny() {
	if ! SSL_CERT_FILE=$BRIDGE_CA acme-tiny --account-key "$A/account.key" \
		--csr "$2" --acme-dir "$CHALLENGE_DIR" --disable-check \
		--directory-url "$BRIDGE_DIR_URL" --contact "mailto:tiny@$ZONE" \
		>"$A/$1.crt" 2>"$A/$1.log"; then
		cat "$A/$1.log" >&2
		fail "acme-tiny ($1) failed"
	fi
	pass "acme-tiny ($1) issued"
}

openssl req -new -key "$A/domain.key" -subj "/CN=tiny.$ZONE" \
	-addext "subjectAltName=DNS:tiny.$ZONE,DNS:tiny2.$ZONE" -out "$A/one.csr"
start=$SECONDS
tiny one "$A/one.csr"
log "issuance took $((SECONDS - start))s"
grep -q 'Registered!' "$A/one.log" || fail "first run did not register a new account: $(cat "$A/one.log")"
verify_chain "$A/one.crt" "tiny.$ZONE" "tiny2.$ZONE"
cmp -s <(openssl x509 -in "$A/one.crt" -noout -pubkey) \
	<(openssl pkey -in "$A/domain.key" -pubout) ||
	fail "certificate does not carry the CSR's public key"
[ -z "$(ls -A "$CHALLENGE_DIR")" ] || fail "acme-tiny left challenge files behind"

openssl req -new -key "$A/domain.key" -subj "/CN=tiny3.$ZONE" \
	-addext "subjectAltName=DNS:tiny3.$ZONE" -out "$A/two.csr"
tiny two "$A/two.csr"
grep -q 'Already registered!' "$A/two.log" ||
	fail "second run with the same account key was not answered as an existing account: $(cat "$A/two.log")"
verify_chain "$A/two.crt" "tiny3.$ZONE"

pass "acme-tiny client test"
