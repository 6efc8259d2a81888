#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# dehydrated (Debian 12: 0.7.0, a bash client using curl and openssl)
# against acmebridge with external account binding required. dehydrated's
# EAB payload is the account JWK with spaces after ':' and ',', so the
# bridge must compare it as a key, not as bytes.
#  1. --register --accept-terms with EAB_KID / EAB_HMAC_KEY
#  2. http-01: dehydrated writes the token into WELLKNOWN, served by
#     python3 -m http.server on $HTTP01_PORT; verify the chain
#  3. dns-01 for a wildcard with a hook that adds/removes the TXT record
#     with nsupdate (TSIG); verify the chain
#  4. --revoke (account key): the simulator shows it revoked
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v dehydrated >/dev/null || fail "dehydrated not installed"

start_bind
start_sim
start_bridge '.acme.require_eab = true'

D=$T/dehydrated
WEBROOT=$T/webroot
mkdir -p "$D" "$WEBROOT/.well-known/acme-challenge"
start_http01_server "$WEBROOT"

"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" --note dehydrated-test >"$D/eab.json" ||
	fail "acmebridge eab add failed"
KID=$(jq -er '.kid' "$D/eab.json") || fail "eab add: no kid in $(cat "$D/eab.json")"
HMAC=$(jq -er '.hmac_key' "$D/eab.json") || fail "eab add: no hmac_key in $(cat "$D/eab.json")"

cat >"$D/config" <<EOF
CA="$BRIDGE_DIR_URL"
BASEDIR="$D"
WELLKNOWN="$WEBROOT/.well-known/acme-challenge"
CONTACT_EMAIL="dehydrated@$ZONE"
EAB_KID="$KID"
EAB_HMAC_KEY="$HMAC"
KEY_ALGO=secp384r1
HOOK_CHAIN=no
EOF

# dns-01 hook (given with --hook for the dns-01 run only: dehydrated calls
# deploy_challenge for every challenge type):
#   deploy_challenge/clean_challenge DOMAIN TOKEN_FILE TOKEN_VALUE
cat >"$D/hook.sh" <<EOF
#!/bin/bash
set -eu
update() {
	printf 'server 127.0.0.1 %s\nzone %s\n%s\nsend\n' "$DNS_PORT" "$ZONE" "\$1" |
		nsupdate -k "$T/tsig.key"
}
case "\${1:-}" in
deploy_challenge)
	echo "hook: add _acme-challenge.\$2 TXT \$4" >&2
	update "update add _acme-challenge.\$2. 5 IN TXT \"\$4\"" ;;
clean_challenge)
	echo "hook: delete _acme-challenge.\$2 TXT \$4" >&2
	update "update delete _acme-challenge.\$2. IN TXT \"\$4\"" ;;
*) ;;
esac
EOF
chmod +x "$D/hook.sh"

dh() {
	CURL_CA_BUNDLE=$BRIDGE_CA dehydrated -f "$D/config" "$@"
}
dh_ok() {
	local what=$1
	shift
	if ! dh "$@" >"$D/out.txt" 2>&1; then
		cat "$D/out.txt" >&2
		fail "dehydrated $what failed"
	fi
	pass "dehydrated $what"
}

# ---- account with EAB
dh_ok "register (EAB)" --register --accept-terms
grep -q 'Registering account key' "$D/out.txt" || fail "dehydrated did not register: $(cat "$D/out.txt")"

# ---- http-01
start=$SECONDS
dh_ok "http-01" --cron --challenge http-01 --alias web -d "web.$ZONE" -d "www.$ZONE"
log "http-01 issuance took $((SECONDS - start))s"
verify_chain "$D/certs/web/fullchain.pem" "web.$ZONE" "www.$ZONE"

# ---- dns-01 (wildcard) through the nsupdate hook
start=$SECONDS
dh_ok "dns-01 (wildcard)" --cron --challenge dns-01 --hook "$D/hook.sh" --alias star -d "*.$ZONE"
log "dns-01 issuance took $((SECONDS - start))s"
verify_chain "$D/certs/star/fullchain.pem" "*.$ZONE"
[ -z "$(dig +short @127.0.0.1 -p "$DNS_PORT" "_acme-challenge.$ZONE" TXT)" ] ||
	fail "hook's clean_challenge did not remove the TXT record"

# ---- revocation (account key)
serial=$(cert_serial "$D/certs/web/cert.pem")
dh_ok "revoke" --revoke "$D/certs/web/cert.pem"
expect_sim_revoked "$serial"

pass "dehydrated client test"
