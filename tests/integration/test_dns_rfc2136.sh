#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "rfc2136" DNS connector (ldns, TSIG) against real servers:
#  - BIND9: two TXT values under one name, a Sectigo-style value full of
#    punctuation byte-exact, exact removal, CNAME, `dns values`, `dns
#    check`, `dns test`; a wrong secret and an unknown key name give
#    messages an operator can act on
#  - Knot: an update ACL that allows TXT at _pki-validation names only;
#    an allowed update works, one outside the ACL is REFUSED and said so
. "$SRCDIR/tests/integration/lib.sh"

start_bind
printf '%s\n' "$TSIG_SECRET" >"$T/tsig.secret"
chmod 600 "$T/tsig.secret"
write_bridge_config "$(printf '.dns_connectors = [{name: "bind", type: "rfc2136",
  server: "127.0.0.1:%s", tsig_name: "%s", tsig_secret_file: "%s",
  zones: ["%s"], ttl: 5, ns_port: %s}]' "$DNS_PORT" "$TSIG_NAME" "$T/tsig.secret" "$ZONE" "$DNS_PORT")"
ab() { "$ACMEBRIDGE_BIN" dns "$1" -c "${CONF:-$T/bridge.json}" "${CONN:-bind}" "${@:2}"; }
txt() { dig +short +norecurse @127.0.0.1 -p "${2:-$DNS_PORT}" "$1" TXT | sort; }

name=_pki-validation.$ZONE
sectigo='F(U_t|L%>8]iU6Yx\CFm;0O8DViEQ/|`'
ab check >"$T/out" 2>&1 && grep -q "zone $ZONE: ok" "$T/out" &&
	check_ok "dns check: SOA authoritative, key accepted" || check_bad "check: $(cat "$T/out")"
ab present "$name" TXT value-one >/dev/null 2>&1 && ab present "$name" TXT "$sectigo" >/dev/null 2>&1 ||
	check_bad "present failed"
want=$(printf '"%s"\n"%s"\n' 'F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`' value-one | sort)
[ "$(txt "$name")" = "$want" ] && check_ok "two TXT values under one name, punctuation intact" ||
	check_bad "BIND9 has [$(txt "$name")]"
ab values "$name" TXT >"$T/out" 2>&1 && [ "$(sort "$T/out")" = "$(printf '%s\nvalue-one\n' "$sectigo" | sort)" ] &&
	check_ok "dns values reads both back byte-exact" || check_bad "values: $(cat "$T/out")"
ab present "$name" TXT value-one >/dev/null 2>&1 && [ "$(txt "$name" | wc -l)" = 2 ] &&
	check_ok "presenting a value twice keeps one copy" || check_bad "after re-present: $(txt "$name")"
ab cleanup "$name" TXT value-one >/dev/null 2>&1 &&
	[ "$(txt "$name")" = '"F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`"' ] &&
	check_ok "cleanup removed exactly one value" || check_bad "after cleanup: $(txt "$name")"
ab cleanup "$name" TXT "$sectigo" >/dev/null 2>&1 && [ -z "$(txt "$name")" ] &&
	check_ok "the last value removed" || check_bad "left: $(txt "$name")"
ab cleanup "$name" TXT "$sectigo" >/dev/null 2>&1 && check_ok "removing a value already gone succeeds" ||
	check_bad "second cleanup failed"
ab present "_cn.$ZONE" CNAME "x.y.sectigo.com" >/dev/null 2>&1 &&
	[ "$(dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "_cn.$ZONE" CNAME)" = "x.y.sectigo.com." ] &&
	ab cleanup "_cn.$ZONE" CNAME "x.y.sectigo.com" >/dev/null 2>&1 &&
	[ -z "$(dig +short +norecurse @127.0.0.1 -p "$DNS_PORT" "_cn.$ZONE" CNAME)" ] &&
	check_ok "CNAME published and removed" || check_bad "CNAME"
ab test "$ZONE" >"$T/out" 2>&1 && grep -q "^propagation: ok" "$T/out" &&
	check_ok "dns test through rfc2136" || check_bad "dns test: $(cat "$T/out")"

openssl rand -base64 32 >"$T/wrong.secret"
chmod 600 "$T/wrong.secret"
jq --arg s "$T/wrong.secret" '.dns_connectors[0].tsig_secret_file = $s' "$T/bridge.json" >"$T/wrong.json"
CONF=$T/wrong.json ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "signature rejected (BADSIG): wrong secret" "$T/out" &&
	check_ok "a wrong secret is named as a rejected signature" || check_bad "wrong secret: $(cat "$T/out")"
jq '.dns_connectors[0].tsig_name = "nosuchkey"' "$T/bridge.json" >"$T/wrong.json"
CONF=$T/wrong.json ab present "$name" TXT x >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "does not know the TSIG key.*BADKEY" "$T/out" &&
	check_ok "an unknown key name is named" || check_bad "unknown key: $(cat "$T/out")"
jq '.dns_connectors[0].tsig_algorithm = "hmac-sha3"' "$T/bridge.json" >"$T/wrong.json"
"$ACMEBRIDGE_BIN" check-config -c "$T/wrong.json" >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" = 1 ] && grep -q "dns_connectors\[0\].tsig_algorithm: one of" "$T/out" &&
	check_ok "an unknown algorithm is a config error" || check_bad "alg: $(cat "$T/out")"

# ---- Knot with a least-privilege update ACL
command -v knotd >/dev/null || fail "knotd not installed (bash contrib/scripts/install-deps.sh)"
KD=$T/knot
mkdir -p "$KD"
KPORT=$(free_port)
cat >"$KD/zone" <<EOF2
\$TTL 5
@ IN SOA ns.$ZONE. hostmaster.$ZONE. 1 60 60 3600 5
@ IN NS ns.$ZONE.
ns IN A 127.0.0.1
EOF2
cat >"$KD/knot.conf" <<EOF2
server:
    listen: 127.0.0.1@$KPORT
    rundir: "$KD"
key:
  - id: $TSIG_NAME
    algorithm: hmac-sha256
    secret: $TSIG_SECRET
acl:
  - id: dcv_only
    key: $TSIG_NAME
    action: update
    update-type: [TXT]
    update-owner: name
    update-owner-match: sub-or-equal
    update-owner-name: [_pki-validation.$ZONE.]
template:
  - id: default
    storage: "$KD"
    zonefile-sync: -1
    journal-content: none
database:
    storage: "$KD"
zone:
  - domain: $ZONE
    file: "$KD/zone"
    acl: dcv_only
EOF2
knotc -c "$KD/knot.conf" conf-check >"$KD/check.log" 2>&1 ||
	{ tail_log "$KD/check.log"; fail "knot.conf rejected"; }
knotd -c "$KD/knot.conf" >"$KD/knotd.log" 2>&1 &
track_pid $! knotd
wait_for "knotd on $KPORT" "$KD/knotd.log" "$!" \
	sh -c "dig +short +norecurse @127.0.0.1 -p $KPORT $ZONE SOA | grep -q ."
jq --argjson p "$KPORT" '.dns_connectors[0].server = "127.0.0.1:\($p)"
  | .dns_connectors[0].ns_port = $p' "$T/bridge.json" >"$T/knot.json"
CONF=$T/knot.json ab present "$name" TXT "$sectigo" >"$T/out" 2>&1 &&
	[ "$(txt "$name" "$KPORT")" = '"F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`"' ] &&
	check_ok "Knot: TXT at _pki-validation allowed by the ACL" || check_bad "knot present: $(cat "$T/out") [$(txt "$name" "$KPORT")]"
CONF=$T/knot.json ab present "www.$ZONE" TXT nope >"$T/out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "ACL does not allow this key for this name and type" "$T/out" &&
	check_ok "Knot: an update outside the ACL is refused, said so" || check_bad "knot outside: $(cat "$T/out")"
CONF=$T/knot.json ab cleanup "$name" TXT "$sectigo" >/dev/null 2>&1 && [ -z "$(txt "$name" "$KPORT")" ] &&
	check_ok "Knot: removed" || check_bad "knot cleanup: $(txt "$name" "$KPORT")"
check_summary
