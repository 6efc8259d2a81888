#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The HTTPS front end under abuse (test_frontend.py), with small limits:
# too large bodies, slowloris, connections per address, TLS 1.2 suites and
# the self-signed certificate; then the self-signed key file: created 0600
# and never through a symlink.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python

PER_IP=6
REQ_TIMEOUT=4
export PER_IP REQ_TIMEOUT
start_bridge ".frontend = {max_connections: 100,
	max_connections_per_ip: $PER_IP, request_timeout_seconds: $REQ_TIMEOUT}"

OUT=$T/frontend
mkdir -p "$OUT"
log "running the front-end checks (test_frontend.py)"
check_py test_frontend.py "$OUT"
check_bridge_alive

mode=$(stat -c %a "$T/bridge-key.pem")
if [ "$mode" = 600 ]; then
	check_ok "the self-signed key file is 0600"
else
	check_bad "the self-signed key file is $mode, want 600"
fi

# a key_file that is a symlink is refused, its target left alone
jq --arg c "$T/ss2-cert.pem" --arg k "$T/ss2-key.pem" \
	--arg l "127.0.0.1:$(free_port)" \
	'.tls.cert_file = $c | .tls.key_file = $k | .listen = $l' \
	"$T/bridge.json" >"$T/ss2.json"
ln -s "$T/ss2-target" "$T/ss2-key.pem"
rc=0
timeout 20 "$ACMEBRIDGE_BIN" serve -c "$T/ss2.json" >"$T/ss2.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ ! -e "$T/ss2-target" ] &&
	grep -q "tls.key_file" "$T/ss2.log"; then
	check_ok "a symlinked tls.key_file is refused (exit $rc)"
else
	check_bad "symlinked tls.key_file: exit $rc, target $(ls -l "$T/ss2-target" 2>&1); $(tail -3 "$T/ss2.log")"
fi

check_summary
