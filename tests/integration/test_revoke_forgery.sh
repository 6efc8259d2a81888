#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Revocation forgery (the review's finding 1), end to end: a certificate is
# issued through the bridge and the simulator; forged revokeCert requests
# (the victim's serial and key in a DER skeleton, an attacker certificate
# as PEM text in its issuer) are refused, SCM sees no revocation while the
# forgeries are tried, and the owner's own revocation still reaches SCM.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python
start_bind
start_sim
start_bridge

OUT=$T/forgery
mkdir -p "$OUT"
check_py test_revoke_forgery.py "$OUT"

calls=$(sim_stats | jq '.revoke_calls')
revoked=$(sim_stats | jq '[.certificates[] | select(.status == "Revoked")] | length')
if [ "$calls" = 1 ] && [ "$revoked" = 1 ]; then
	check_ok "SCM saw exactly one revocation (the owner's)"
else
	check_bad "SCM saw $calls revoke calls and $revoked revoked certificates, want 1 and 1"
fi
n=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM audit WHERE event = 'certificate.revoke'")
if [ "$n" = 1 ]; then
	check_ok "one certificate.revoke audit row"
else
	check_bad "$n certificate.revoke audit rows, want 1"
fi

check_bridge_alive
check_summary
