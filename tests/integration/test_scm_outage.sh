#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# SCM trouble that is not the order's fault (review findings 13, 15): the
# simulator answers enroll with 503, 408 and 409 and collect with 404
# (an sslId it does not know yet) a few times each; the bridge keeps
# retrying with backoff instead of failing the order, and the order ends
# valid with exactly one enrollment in SCM. Then the simulator signs a
# certificate with a name the order does not have: the order fails.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python
start_bind
start_sim
start_bridge

sim_control() {
	curl -fsS --max-time 5 --cacert "$SIM_DIR/root.pem" \
		-H 'Content-Type: application/json' -d "$1" "$SIM_URL/sim/control" >/dev/null
}
STATE=$T/client.json
acme() {
	"$PY" "$SRCDIR/tests/integration/acmetest.py" --state "$STATE" "$@"
}

acme account >/dev/null || fail "account"
enr0=$(sim_stats | jq .enrollments)
# 503 once, 408 once, 409 once on enroll (the first answered with
# 503 never reached SCM's store); then a 404 on the first collect
sim_control '{"fail_next":{"path_prefix":"/api/ssl/v1/enroll","status":503,"code":-2,"description":"Service unavailable","count":1}}'
sim_control '{"fail_next":{"path_prefix":"/api/ssl/v1/enroll","status":408,"code":-1,"description":"Request timeout","count":1}}'
N="outage-$(printf '%04x' $RANDOM).$ZONE"
if acme order --name "$N" --tag o --http01-port "$HTTP01_PORT" --until finalize >"$T/o.json"; then
	check_ok "finalize accepted while SCM refuses for now"
else
	check_bad "the order could not be finalized"
fi
sim_control '{"fail_next":{"path_prefix":"/api/ssl/v1/collect","status":404,"code":-5101,"description":"Certificate not found","count":1}}'
if acme poll --tag o --until valid,invalid --timeout 90 --cert-out "$T/o.pem" >"$T/o.poll.json"; then
	st=$(jq -r '.order.status // .status' "$T/o.poll.json")
	if [ "$st" = valid ]; then
		check_ok "the order is valid after SCM recovered"
	else
		check_bad "the order ended $st"
	fi
else
	check_bad "the order did not end within 90 s"
fi
s=$(sim_stats)
n=$(($(jq .enrollments <<<"$s") - enr0))
if [ "$n" = 1 ]; then
	check_ok "exactly one enrollment in SCM"
else
	check_bad "$n enrollments in SCM, want 1"
fi
retries=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM audit WHERE event = 'job.retry'" 2>/dev/null || echo 0)
log "job.retry audit rows: $retries"
if [ "${retries:-0}" -ge 2 ]; then
	check_ok "the refusals were retried ($retries retries in the audit log)"
else
	check_bad "expected at least 2 retries in the audit log, found ${retries:-0}"
fi

# a certificate that is not the order's (one name more): the order fails,
# nothing is downloadable, an audit row says why (review finding 7)
sim_control '{"wrong_certs":1}'
W="wrong-$(printf '%04x' $RANDOM).$ZONE"
acme order --name "$W" --tag w --http01-port "$HTTP01_PORT" --until finalize >"$T/w.json" ||
	check_bad "the second order could not be finalized"
acme poll --tag w --until valid,invalid --timeout 60 >"$T/w.poll.json" || true
st=$(jq -r '.order.status // .status' "$T/w.poll.json" 2>/dev/null)
if [ "$st" = invalid ]; then
	check_ok "an order whose certificate carries a name too many ends invalid"
else
	check_bad "the order with the wrong certificate ended '$st', want invalid"
fi
n=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM certificates c JOIN orders o ON o.id = c.order_id WHERE o.identifiers LIKE '%$W%'")
if [ "$n" = 0 ]; then
	check_ok "no certificate stored for it"
else
	check_bad "$n certificates stored for the order with the wrong certificate"
fi
n=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM audit WHERE event = 'certificate.mismatch' AND detail LIKE '%added-by-sim.test%'")
if [ "$n" = 1 ]; then
	check_ok "a certificate.mismatch audit row names the extra name"
else
	check_bad "$n certificate.mismatch audit rows naming added-by-sim.test, want 1"
fi

check_bridge_alive
check_summary
