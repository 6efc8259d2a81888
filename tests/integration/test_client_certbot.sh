#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# certbot (Debian 12: 2.1) against acmebridge:
#  1. register, http-01 (standalone server) for two names, verify the chain
#  2. dns-01 through --dns-rfc2136 (TSIG update of the test BIND) for the
#     apex and a wildcard, verify the chain
#  3. revoke the first with the account key, the second with the
#     certificate key; the simulator shows both revoked; revoking again is
#     refused with alreadyRevoked
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v certbot >/dev/null || fail "certbot not installed"

start_bind
start_sim
start_bridge

CB=$T/certbot
mkdir -p "$CB"
cb() {
	REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot \
		--server "$BRIDGE_DIR_URL" \
		--config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
		--non-interactive --max-log-backups 0 "$@"
}
# cb_ok DESCRIPTION ARGS...: run certbot, fail with its log on error.
cb_ok() {
	local what=$1
	shift
	if ! cb "$@" >"$CB/out.txt" 2>&1; then
		cat "$CB/out.txt" >&2
		tail_log "$CB/logs/letsencrypt.log" 60
		fail "certbot $what failed"
	fi
	pass "certbot $what"
}

# ---- account
cb_ok register register --register-unsafely-without-email --agree-tos

# ---- http-01, standalone server on 127.0.0.1:$HTTP01_PORT
start=$SECONDS
cb_ok "http-01 (www, app)" certonly --standalone --preferred-challenges http-01 \
	--http-01-port "$HTTP01_PORT" --http-01-address 127.0.0.1 \
	--cert-name http -d "www.$ZONE" -d "app.$ZONE"
log "http-01 issuance took $((SECONDS - start))s"
verify_chain "$CB/config/live/http/fullchain.pem" "www.$ZONE" "app.$ZONE"
cmp -s <(openssl x509 -in "$CB/config/live/http/cert.pem" -noout -pubkey) \
	<(openssl pkey -in "$CB/config/live/http/privkey.pem" -pubout) ||
	fail "certificate does not match certbot's private key"

# ---- dns-01 via RFC 2136 (apex + wildcard share _acme-challenge.$ZONE)
cat >"$CB/rfc2136.ini" <<EOF
dns_rfc2136_server = 127.0.0.1
dns_rfc2136_port = $DNS_PORT
dns_rfc2136_name = $TSIG_NAME
dns_rfc2136_secret = $TSIG_SECRET
dns_rfc2136_algorithm = HMAC-SHA256
EOF
chmod 600 "$CB/rfc2136.ini"
start=$SECONDS
cb_ok "dns-01 (apex + wildcard)" certonly --dns-rfc2136 \
	--dns-rfc2136-credentials "$CB/rfc2136.ini" \
	--dns-rfc2136-propagation-seconds 1 \
	--key-type ecdsa --cert-name wild -d "$ZONE" -d "*.$ZONE"
log "dns-01 issuance took $((SECONDS - start))s"
verify_chain "$CB/config/live/wild/fullchain.pem" "$ZONE" "*.$ZONE"
# certbot's cleanup removed the TXT records again
[ -z "$(dig +short @127.0.0.1 -p "$DNS_PORT" "_acme-challenge.$ZONE" TXT)" ] ||
	fail "certbot left _acme-challenge.$ZONE TXT records behind"

[ "$(sim_stats | jq '.enrollments')" = 2 ] ||
	fail "expected 2 SCM enrollments, sim stats: $(sim_stats)"
pass "two certificates, two SCM enrollments"

# ---- revocation
http_serial=$(cert_serial "$CB/config/live/http/cert.pem")
wild_serial=$(cert_serial "$CB/config/live/wild/cert.pem")
cb_ok "revoke (account key)" revoke --no-delete-after-revoke --reason keycompromise \
	--cert-path "$CB/config/live/http/cert.pem"
cb_ok "revoke (certificate key)" revoke --no-delete-after-revoke \
	--cert-path "$CB/config/live/wild/cert.pem" \
	--key-path "$CB/config/live/wild/privkey.pem"
expect_sim_revoked "$http_serial"
expect_sim_revoked "$wild_serial"

if cb revoke --no-delete-after-revoke \
	--cert-path "$CB/config/live/http/cert.pem" >"$CB/out.txt" 2>&1; then
	fail "second revocation of the same certificate succeeded"
fi
grep -q 'alreadyRevoked' "$CB/out.txt" "$CB/logs/letsencrypt.log" ||
	{
		cat "$CB/out.txt" >&2
		fail "second revocation refused, but not with urn:ietf:params:acme:error:alreadyRevoked"
	}
pass "second revocation refused with alreadyRevoked"

pass "certbot client test"
