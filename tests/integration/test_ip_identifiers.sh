#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# RFC 8738 IP identifiers and RFC 8737 tls-alpn-01, end to end through the
# bridge and the SCM simulator (the ACME side is test_ip_identifiers.py with
# tests/integration/acmetest.py):
#  - an order for IP 127.0.0.1 offers http-01 and tls-alpn-01, not dns-01;
#    http-01 is answered on 127.0.0.1:$HTTP01_PORT; the certificate carries
#    "IP Address:127.0.0.1" and verifies
#  - tls-alpn-01 for a DNS name and for 127.0.0.1 (SNI
#    1.0.0.127.in-addr.arpa, iPAddress SAN), answered by a Python TLS server
#    on 127.0.0.1:$TLSALPN_PORT; both certificates verify
#  - a wrong acmeIdentifier digest and a dNSName SAN for an IP make the
#    challenge, authorization and order invalid
#  - IPv6 identifiers come back canonical ("0:0:0:0:0:0:0:1" -> "::1")
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python

# leaf_sans FILE: the subjectAltName line of the first certificate in FILE
leaf_sans() {
	openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
		tail -n +2 | sed 's/^ *//'
}

# check_ip_cert FILE WHAT: chain verifies; SAN has IP Address:127.0.0.1 and
# no DNS name
check_ip_cert() {
	local f=$1 what=$2 sans
	if [ ! -s "$f" ]; then
		check_bad "$what: no certificate to verify"
		return
	fi
	if (verify_chain "$f"); then
		check_ok "$what: certificate chain verifies"
	else
		check_bad "$what: certificate chain does not verify"
	fi
	sans=$(leaf_sans "$f")
	# grep without -q reads all its input: no SIGPIPE upstream (pipefail)
	if printf '%s\n' "$sans" | tr ',' '\n' | sed 's/^ *//' |
		grep -xF 'IP Address:127.0.0.1' >/dev/null; then
		check_ok "$what: subjectAltName has IP Address:127.0.0.1 ($sans)"
	else
		check_bad "$what: subjectAltName lacks IP Address:127.0.0.1: '$sans'"
	fi
	if grep -q 'DNS:' <<<"$sans"; then
		check_bad "$what: subjectAltName has a DNS name: '$sans'"
	else
		check_ok "$what: subjectAltName has no DNS name"
	fi
}

start_bind
start_sim
start_bridge

OUT=$T/ip
mkdir -p "$OUT"
log "running the IP identifier / tls-alpn-01 checks (test_ip_identifiers.py)"
check_py test_ip_identifiers.py "$OUT"

# the issued certificates, checked with openssl
check_ip_cert "$OUT/ip-http01.pem" "IP order via http-01"
check_ip_cert "$OUT/ip-alpn.pem" "IP order via tls-alpn-01"
if [ -s "$OUT/alpn-dns.pem" ] && [ -s "$OUT/alpn-dns.names" ]; then
	if (verify_chain "$OUT/alpn-dns.pem" "$(cat "$OUT/alpn-dns.names")"); then
		check_ok "DNS order via tls-alpn-01: chain verifies and carries the name"
	else
		check_bad "DNS order via tls-alpn-01: certificate does not verify"
	fi
else
	check_bad "DNS order via tls-alpn-01: no certificate to verify"
fi

check_bridge_alive

check_summary
