#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# lego (Debian 12: 4.9.1) against acmebridge with external account binding
# required (.acme.require_eab=true):
#  1. the directory says externalAccountRequired (lego then refuses to
#     register without EAB); registering with a wrong MAC key is refused
#  2. with a key from `acmebridge eab add`: http-01, tls-alpn-01 and dns-01
#     (rfc2136 provider, wildcard) certificates, each chain verified
#  3. `lego revoke` (account key) of the http-01 certificate: the simulator
#     shows it revoked, and revoking again is refused
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v lego >/dev/null || fail "lego not installed"

start_bind
start_sim
start_bridge '.acme.require_eab = true'

L=$T/lego
mkdir -p "$L"
EMAIL=lego@$ZONE

lego_cmd() {
	local path=$1
	shift
	LEGO_CA_CERTIFICATES=$BRIDGE_CA lego --server "$BRIDGE_DIR_URL" \
		--path "$path" --accept-tos --email "$EMAIL" "$@"
}
# lego_ok DESCRIPTION ARGS...: run lego with the EAB account, fail on error.
lego_ok() {
	local what=$1
	shift
	if ! lego_cmd "$L/main" --eab --kid="$KID" --hmac="$HMAC" "$@" >"$L/out.txt" 2>&1; then
		cat "$L/out.txt" >&2
		fail "lego $what failed"
	fi
	pass "lego $what"
}

# ---- EAB is required
curl -fsS --cacert "$BRIDGE_CA" "$BRIDGE_DIR_URL" >"$L/directory.json"
[ "$(jq '.meta.externalAccountRequired' "$L/directory.json")" = true ] ||
	fail "directory meta.externalAccountRequired is not true: $(cat "$L/directory.json")"
pass "directory announces externalAccountRequired"

# lego reads meta.externalAccountRequired and refuses before sending
if lego_cmd "$L/noeab" -d "noeab.$ZONE" --http --http.port "127.0.0.1:$HTTP01_PORT" \
	run >"$L/out.txt" 2>&1; then
	fail "lego registered without EAB although the bridge requires it"
fi
grep -q 'External Account Binding' "$L/out.txt" || {
	cat "$L/out.txt" >&2
	fail "lego without EAB failed for another reason than the required EAB"
}
pass "lego without EAB refused (directory requires EAB)"

"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" --note lego-test >"$L/eab.json" ||
	fail "acmebridge eab add failed"
KID=$(jq -er '.kid' "$L/eab.json") || fail "eab add: no kid in $(cat "$L/eab.json")"
HMAC=$(jq -er '.hmac_key' "$L/eab.json") || fail "eab add: no hmac_key in $(cat "$L/eab.json")"

# a wrong MAC key (same length, valid base64url) must be refused
BAD_HMAC=$(openssl rand 32 | basenc --base64url | tr -d '=\n')
if lego_cmd "$L/badmac" --eab --kid="$KID" --hmac="$BAD_HMAC" -d "badmac.$ZONE" \
	--http --http.port "127.0.0.1:$HTTP01_PORT" run >"$L/out.txt" 2>&1; then
	fail "account with a wrong EAB MAC key was accepted"
fi
grep -q 'urn:ietf:params:acme:error:' "$L/out.txt" || {
	cat "$L/out.txt" >&2
	fail "registration with a wrong EAB MAC key failed without an ACME problem from the server"
}
pass "registration with a wrong EAB MAC key refused: $(grep -o 'urn:ietf:params:acme:error:[A-Za-z]*' "$L/out.txt" | head -n 1)"

# ---- http-01
start=$SECONDS
lego_ok "http-01" -d "www.$ZONE" --http --http.port "127.0.0.1:$HTTP01_PORT" run
log "http-01 issuance took $((SECONDS - start))s"
verify_chain "$L/main/certificates/www.$ZONE.crt" "www.$ZONE"

# ---- tls-alpn-01
start=$SECONDS
lego_ok "tls-alpn-01" -d "alpn.$ZONE" --tls --tls.port "127.0.0.1:$TLSALPN_PORT" run
log "tls-alpn-01 issuance took $((SECONDS - start))s"
verify_chain "$L/main/certificates/alpn.$ZONE.crt" "alpn.$ZONE"

# ---- dns-01 via RFC 2136, wildcard
export RFC2136_NAMESERVER=127.0.0.1:$DNS_PORT
export RFC2136_TSIG_KEY=$TSIG_NAME
export RFC2136_TSIG_SECRET=$TSIG_SECRET
export RFC2136_TSIG_ALGORITHM=hmac-sha256.
export RFC2136_PROPAGATION_TIMEOUT=30
export RFC2136_POLLING_INTERVAL=1
export RFC2136_TTL=5
export RFC2136_SEQUENCE_INTERVAL=1
start=$SECONDS
lego_ok "dns-01 (wildcard)" -d "*.$ZONE" -d "dns.$ZONE" --dns rfc2136 \
	--dns.resolvers "127.0.0.1:$DNS_PORT" --dns.disable-cp run
log "dns-01 issuance took $((SECONDS - start))s"
verify_chain "$L/main/certificates/_.$ZONE.crt" "*.$ZONE" "dns.$ZONE"

# ---- revocation (account key)
serial=$(cert_serial "$L/main/certificates/www.$ZONE.crt")
lego_ok "revoke" -d "www.$ZONE" revoke --keep --reason 4
expect_sim_revoked "$serial"
if lego_cmd "$L/main" --eab --kid="$KID" --hmac="$HMAC" -d "www.$ZONE" \
	revoke --keep >"$L/out.txt" 2>&1; then
	fail "second revocation of the same certificate succeeded"
fi
grep -q 'alreadyRevoked' "$L/out.txt" || {
	cat "$L/out.txt" >&2
	fail "second revocation refused, but not with urn:ietf:params:acme:error:alreadyRevoked"
}
pass "second revocation refused with alreadyRevoked"

pass "lego client test"
