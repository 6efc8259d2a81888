#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Demo: build acmebridge and the SCM simulator, start a throw-away BIND
# (zone example.test), the simulator and the bridge (self-signed TLS) on
# loopback ports in a temporary directory, obtain a certificate with certbot
# (http-01, standalone), show it, verify it against the simulator's root and
# stop everything again. Needs the packages of install-deps.sh; no root.
set -eu

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
export SRCDIR BUILDDIR

echo "==> building acmebridge and sectigo-sim in $BUILDDIR"
cmake -S "$SRCDIR" -B "$BUILDDIR" >/dev/null
cmake --build "$BUILDDIR" -j "$JOBS" --target acmebridge sectigo-sim

# shellcheck source=SCRIPTDIR/../../tests/integration/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

echo "==> starting BIND, the SCM simulator and acmebridge (files in $T)"
start_bind
start_sim
start_bridge

NAME=demo.$ZONE
CB=$T/certbot
echo "==> certbot: http-01 for $NAME against $BRIDGE_DIR_URL"
if ! REQUESTS_CA_BUNDLE=$BRIDGE_CA certbot certonly \
	--server "$BRIDGE_DIR_URL" \
	--config-dir "$CB/config" --work-dir "$CB/work" --logs-dir "$CB/logs" \
	--non-interactive --register-unsafely-without-email --agree-tos \
	--standalone --preferred-challenges http-01 \
	--http-01-port "$HTTP01_PORT" --http-01-address 127.0.0.1 \
	--cert-name demo -d "$NAME"; then
	tail_log "$CB/logs/letsencrypt.log" 40
	fail "certbot could not obtain a certificate"
fi

CERT=$CB/config/live/demo/cert.pem
CHAIN=$CB/config/live/demo/chain.pem
echo
echo "==> the certificate ($CERT)"
openssl x509 -in "$CERT" -noout -subject -issuer -ext subjectAltName -dates
echo
echo "==> verification against the simulator's root ($SIM_DIR/root.pem)"
openssl verify -CAfile "$SIM_DIR/root.pem" -untrusted "$CHAIN" "$CERT"
echo
echo "==> SCM simulator statistics"
sim_stats | jq -c 'del(.certificates)? // .'
echo
echo "==> demo done; stopping BIND, the simulator and acmebridge"
