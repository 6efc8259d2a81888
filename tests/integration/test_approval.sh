#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# SCM approval workflow: the simulator holds every enrollment in
# "Requested" until an administrator decides (auto-approval off). The
# client polls its processing order meanwhile; the approval lets the
# bridge collect the certificate, a decline fails the order with SCM's
# reason. Then an order waits longer than jobs.approval_wait_hours allows
# (the simulator's clock is not involved: a one-hour limit and an aged job)
# and fails with a message naming the setting.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python
start_bind
start_sim --approval-required
APPROVAL_RETRY_AFTER=20
export APPROVAL_RETRY_AFTER SIM_DIR
start_bridge ".acme.approval_retry_after_seconds = $APPROVAL_RETRY_AFTER
  | .jobs = {approval_poll_seconds: 5, approval_wait_hours: 1}"

OUT=$T/approval
mkdir -p "$OUT"
check_py test_approval.py "$OUT"
verify_chain "$OUT/approved.pem" "approve.$ZONE" >/dev/null &&
	check_ok "the approved certificate verifies against the test root"

n=$(sim_stats | jq '.enrollments')
if [ "$n" = 2 ]; then
	check_ok "two orders, two SCM enrollments (polling never enrolled again)"
else
	check_bad "$n SCM enrollments for two orders"
fi

# ---- nobody approves in time: a collect job older than the limit
T=$T SRCDIR=$SRCDIR "$PY" - <<'EOF' || check_bad "the third order did not reach processing"
import os, sys
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests/integration"))
from acmetest import Client, Http01Responder, make_csr
c = Client(os.environ["BRIDGE_DIR_URL"], cafile=os.environ["BRIDGE_CA"])
c.register()
name = "late." + os.environ.get("ZONE", "example.test")
with Http01Responder(int(os.environ["HTTP01_PORT"])) as r:
    ourl, o = c.order([name])
    c.authorize(o, responder=r)
o = c.poll_order(ourl, ("ready",)).json
der, _ = make_csr([name])
c.expect(c.finalize(o, der), 200, "finalize")
open(os.path.join(os.environ["T"], "late.url"), "w").write(ourl)
EOF
oid=$(sed 's|.*/||' "$T/late.url")
for _ in $(seq 1 60); do
	[ "$(sqlite3 "$BRIDGE_DB" "SELECT ca_status FROM orders WHERE oid = '$oid'")" = Requested ] && break
	sleep 0.5
done
# age the collect job by two hours, then wake it
sqlite3 "$BRIDGE_DB" "UPDATE jobs SET created = created - 7200, next_run = 0 WHERE kind = 'collect' AND ref = (SELECT id FROM orders WHERE oid = '$oid') AND state = 'queued'"
st=""
for _ in $(seq 1 60); do
	st=$(sqlite3 "$BRIDGE_DB" "SELECT status || ' ' || ifnull(json_extract(error, '$.detail'), '') FROM orders WHERE oid = '$oid'")
	case $st in invalid*) break ;; esac
	sleep 0.5
done
if [[ $st == invalid*approval_wait_hours* ]]; then
	check_ok "an approval that never comes fails the order after jobs.approval_wait_hours, naming the setting"
else
	check_bad "unapproved order after the limit: '$st'"
fi

check_bridge_alive
check_summary
