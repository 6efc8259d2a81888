#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Abuse limits (rate_limits in the configuration), against a real bridge
# with small limits; the ACME side is test_rate_limits.py:
#  - new accounts per client address, new orders per account, pending
#    authorizations per account, new orders per registered domain,
#    failed validations per identifier and certificates per name set are
#    each refused with 429 rateLimited and a Retry-After once exhausted
#  - a refusal takes nothing from the other limits (another account is
#    still served), and validation and CA work keep separate job slots
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python
start_bind
start_sim
start_bridge '.rate_limits = {
	new_accounts_per_ip_per_hour: 6,
	new_orders_per_account_per_hour: 3,
	new_orders_per_ip_per_hour: 1000,
	new_orders_per_domain_per_week: 6,
	failed_validations_per_identifier_per_hour: 2,
	certificates_per_name_set_per_week: 1,
	pending_authorizations_per_account: 4
} | .jobs = {validation_slots: 2, ca_slots: 2}
  | .validation.timeout_seconds = 3'

OUT=$T/rl
mkdir -p "$OUT"
log "running the rate-limit checks (test_rate_limits.py)"
check_py test_rate_limits.py "$OUT"

# a refused order leaves nothing behind: 6 orders for rl-dom.test, not 7
n=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM orders WHERE identifiers LIKE '%rl-dom.test%'")
if [ "$n" = 6 ]; then
	check_ok "exactly 6 orders stored for the registered domain rl-dom.test"
else
	check_bad "expected 6 orders for rl-dom.test in the database, found $n"
fi
n=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM accounts")
if [ "$n" = 6 ]; then
	check_ok "exactly 6 accounts stored (the 7th was refused)"
else
	check_bad "expected 6 accounts in the database, found $n"
fi

check_bridge_alive
check_summary
