#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# uacme (Debian 12: 1.7.4, C, libcurl-gnutls) against acmebridge.
# uacme has no option for a custom trust anchor and its libcurl reads the
# system bundle, so it runs in a private mount namespace where the bridge's
# certificate is bind-mounted over /etc/ssl/certs/ca-certificates.crt: TLS
# is verified for real, nothing on the host changes.
#  1. new account (EC key), then `newkey` (RFC 8555 keyChange)
#  2. issue with http-01 through uacme's hook contract
#     (method type ident token key_auth), verify the chain
#  3. revoke signed with the certificate key (jwk); simulator shows revoked
#  4. deactivate the account; a later issue with it is refused
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v uacme >/dev/null || fail "uacme not installed"
SYSTEM_BUNDLE=/etc/ssl/certs/ca-certificates.crt

start_bind
start_sim
start_bridge

U=$T/uacme
WEBROOT=$T/webroot
CHALLENGE_DIR=$WEBROOT/.well-known/acme-challenge
mkdir -p "$U/conf" "$CHALLENGE_DIR"
start_http01_server "$WEBROOT"

cat >"$U/hook.sh" <<EOF
#!/bin/sh
# uacme hook: METHOD TYPE IDENT TOKEN KEY_AUTH; non-zero declines the type
[ "\$2" = http-01 ] || exit 1
case "\$1" in
begin) printf '%s' "\$5" >"$CHALLENGE_DIR/\$4" ;;
done | failed) rm -f "$CHALLENGE_DIR/\$4" ;;
*) exit 1 ;;
esac
EOF
chmod +x "$U/hook.sh"

# The bind mount needs a mount namespace: root gets one directly, any other
# user through a user namespace.
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -m); else NS=(unshare -r -m); fi
[ -f "$SYSTEM_BUNDLE" ] || touch "$SYSTEM_BUNDLE" 2>/dev/null ||
	fail "$SYSTEM_BUNDLE missing (install ca-certificates)"
"${NS[@]}" true 2>/dev/null || fail "cannot create a mount namespace (${NS[*]}) for uacme's trust anchor"

# ua ARGS...: run uacme trusting only the bridge certificate.
ua() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	"${NS[@]}" sh -ec 'mount --bind "$1" "$2"; shift 2; exec uacme "$@"' sh \
		"$BRIDGE_CA" "$SYSTEM_BUNDLE" \
		-v -c "$U/conf" -a "$BRIDGE_DIR_URL" -y -o -h "$U/hook.sh" "$@"
}
ua_ok() {
	local what=$1
	shift
	if ! ua "$@" >"$U/out.txt" 2>&1; then
		cat "$U/out.txt" >&2
		fail "uacme $what failed"
	fi
	pass "uacme $what"
}

# ---- TLS is really verified: without the bind mount uacme refuses the
# bridge's certificate (it would retry every 5 s, hence the timeout)
timeout 4 uacme -v -c "$U/conf" -a "$BRIDGE_DIR_URL" -y -t EC new >"$U/out.txt" 2>&1 || true
grep -q 'SSL peer certificate' "$U/out.txt" || {
	cat "$U/out.txt" >&2
	fail "uacme did not refuse the untrusted bridge certificate"
}
rm -rf "$U/conf"
mkdir -p "$U/conf"

# ---- account + key change
ua_ok "new account" -t EC new "uacme@$ZONE"
old_key=$(openssl pkey -in "$U/conf/private/key.pem" -pubout)
ua_ok "newkey (keyChange)" -t EC newkey
new_key=$(openssl pkey -in "$U/conf/private/key.pem" -pubout)
[ "$old_key" != "$new_key" ] || fail "uacme newkey did not change the account key"

# ---- http-01 issuance with the new account key
start=$SECONDS
ua_ok "issue (http-01)" -t EC issue "u1.$ZONE" "u2.$ZONE"
log "http-01 issuance took $((SECONDS - start))s"
verify_chain "$U/conf/u1.$ZONE/cert.pem" "u1.$ZONE" "u2.$ZONE"
[ -z "$(ls -A "$CHALLENGE_DIR")" ] || fail "hook's done method did not remove the challenge files"

# ---- revoke with the certificate key
serial=$(cert_serial "$U/conf/u1.$ZONE/cert.pem")
ua_ok "revoke (certificate key)" revoke "$U/conf/u1.$ZONE/cert.pem" \
	"$U/conf/private/u1.$ZONE/key.pem"
expect_sim_revoked "$serial"

# ---- deactivate; the account is unusable afterwards
ua_ok "deactivate" deactivate
if ua -t EC issue "u3.$ZONE" >"$U/out.txt" 2>&1; then
	fail "issue with a deactivated account succeeded"
fi
grep -q 'unauthorized' "$U/out.txt" || {
	cat "$U/out.txt" >&2
	fail "deactivated account refused, but not with urn:ietf:params:acme:error:unauthorized"
}
pass "deactivated account refused with unauthorized"

pass "uacme client test"
