#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# acmebridge survives kill -9 without losing or duplicating work:
#  1. three orders finalized while SCM is slow (sim --pending-seconds 6,
#     finalize_wait_seconds 1) are "processing"; kill -9; restart; the
#     same order URLs become valid, the chains verify, and SCM saw exactly
#     three enrollments and no duplicate CSR
#  2. SCM accepts an enrollment but its reply never arrives
#     (/sim/control hang_enrolls); kill -9; restart; the order becomes valid
#     from that one enrollment (no second one), and the bridge's audit
#     table records "scm.enroll.reconciled"
#  3. kill -9 while an http-01 validation is in flight (slow responder);
#     after the restart the authorization still turns valid and the order
#     completes
# The client is tests/integration/acmetest.py (CLI with a state file).
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python

# check DESCRIPTION COMMAND...: count COMMAND's success as a check
check() {
	local what=$1
	shift
	if "$@"; then
		check_ok "$what"
	else
		check_bad "$what"
	fi
}

STATE=$T/client.json
acme() {
	"$PY" "$SRCDIR/tests/integration/acmetest.py" --state "$STATE" "$@"
}
simstat() { sim_stats | jq -r ".$1"; }
# wait_stat FIELD MIN SECONDS: until /sim/stats FIELD >= MIN
wait_stat() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(simstat "$1")" -ge "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
# certs_for NAME: number of SCM certificates carrying NAME
certs_for() {
	sim_stats | jq --arg n "$1" '[.certificates[] |
		select((.commonName == $n) or
		       ((.subjectAlternativeNames // "") | tostring |
		        contains($n)))] | length'
}
# order_status FILE: .order.status of a JSON line written by acmetest.py
order_status() { jq -r '.order.status // "none"' "$1" 2>/dev/null || echo none; }
suffix() { openssl rand -hex 3; }
# check_chain DESCRIPTION FILE NAME...: verify_chain as a counted check
check_chain() {
	local what=$1
	shift
	if (verify_chain "$@"); then
		check_ok "$what"
	else
		check_bad "$what"
	fi
}
audit_count() {
	sqlite3 "$BRIDGE_DB" "SELECT count(*) FROM audit WHERE event = '$1'"
}

start_bind
start_sim --pending-seconds 6
start_bridge '.acme.finalize_wait_seconds = 1'

acme account --contact "mailto:crash@$ZONE" >"$T/account.json" ||
	fail "account creation failed"

# ------------------------------------------------------------ case 1
log "case 1: three orders processing at SCM, kill -9, restart"
N1=()
for i in 1 2 3; do
	N1+=("crash$i-$(suffix).$ZONE")
	if ! acme order --name "${N1[$((i - 1))]}" --tag "c1o$i" \
		--http01-port "$HTTP01_PORT" --until finalize >"$T/c1o$i.json"; then
		check_bad "case 1: order $i could not be finalized"
		continue
	fi
	st=$(order_status "$T/c1o$i.json")
	check "case 1: order $i finalize answered 200 'processing' (got $st)" \
		[ "$st" = processing ]
done
check "case 1: SCM received the three enrollments before the crash" \
	wait_stat enroll_calls 3 15
kill9_bridge
restart_bridge
for i in 1 2 3; do
	url=$(jq -r .url "$T/c1o$i.json" 2>/dev/null || true)
	if acme poll --tag "c1o$i" --until valid,invalid --timeout 60 \
		--cert-out "$T/c1o$i.pem" >"$T/c1o$i.poll.json"; then
		st=$(order_status "$T/c1o$i.poll.json")
		check "case 1: order $i ($url) is valid after the restart (got $st)" \
			[ "$st" = valid ]
		check_chain "case 1: order $i chain verifies" \
			"$T/c1o$i.pem" "${N1[$((i - 1))]}"
	else
		check_bad "case 1: order $i did not become valid within 60 s after the restart"
	fi
done
s=$(sim_stats)
log "sim stats after case 1: $(jq -c 'del(.certificates)' <<<"$s")"
check "case 1: SCM shows enrollments == 3 (got $(jq .enrollments <<<"$s"))" \
	[ "$(jq .enrollments <<<"$s")" -eq 3 ]
check "case 1: SCM shows enroll_calls == 3 (got $(jq .enroll_calls <<<"$s"))" \
	[ "$(jq .enroll_calls <<<"$s")" -eq 3 ]
check "case 1: no duplicate CSR enrollment (got $(jq .duplicate_csr_enrollments <<<"$s"))" \
	[ "$(jq .duplicate_csr_enrollments <<<"$s")" -eq 0 ]

# ------------------------------------------------------------ case 2
log "case 2: SCM takes the enrollment but never answers, kill -9, restart"
sim_control '{"pending_seconds":0}' >/dev/null
enr0=$(simstat enrollments)
calls0=$(simstat enroll_calls)
sim_control '{"hang_enrolls":1}' >/dev/null || fail "POST /sim/control failed"
N2="hang-$(suffix).$ZONE"
if acme order --name "$N2" --tag c2 --http01-port "$HTTP01_PORT" \
	--until finalize >"$T/c2.json"; then
	st=$(order_status "$T/c2.json")
	check "case 2: finalize answered 'processing' (got $st)" [ "$st" = processing ]
else
	check_bad "case 2: the order could not be finalized"
fi
check "case 2: SCM recorded the enroll call (enroll_calls > $calls0)" \
	wait_stat enroll_calls $((calls0 + 1)) 20
check "case 2: the enroll reply is held back by the simulator" \
	[ "$(simstat held_requests)" -ge 1 ]
kill9_bridge
restart_bridge
if acme poll --tag c2 --until valid,invalid --timeout 60 \
	--cert-out "$T/c2.pem" >"$T/c2.poll.json"; then
	st=$(order_status "$T/c2.poll.json")
	check "case 2: the order is valid after the restart (got $st)" [ "$st" = valid ]
	check_chain "case 2: chain verifies" "$T/c2.pem" "$N2"
else
	check_bad "case 2: the order did not become valid within 60 s after the restart"
fi
s=$(sim_stats)
log "sim stats after case 2: $(jq -c 'del(.certificates)' <<<"$s")"
n=$(certs_for "$N2")
check "case 2: SCM holds exactly one certificate for $N2 (got $n)" [ "$n" -eq 1 ]
check "case 2: exactly one new enrollment (got $(($(jq .enrollments <<<"$s") - enr0)))" \
	[ "$(jq .enrollments <<<"$s")" -eq $((enr0 + 1)) ]
check "case 2: no duplicate CSR enrollment (got $(jq .duplicate_csr_enrollments <<<"$s"))" \
	[ "$(jq .duplicate_csr_enrollments <<<"$s")" -eq 0 ]
n=$(audit_count scm.enroll.reconciled 2>&1 || true)
check "case 2: audit table has an scm.enroll.reconciled event (count: $n)" \
	[ "${n:-0}" -ge 1 ] 2>/dev/null

# ------------------------------------------------------------ case 2b
# The same lost reply, with a CSR whose CN is the order's second name: SCM
# files the enrollment under that CN, and reconciliation must look there
# (it once searched by the first identifier and enrolled again).
log "case 2b: lost enroll reply, CSR CN is not the first identifier"
enr0=$(simstat enrollments)
calls0=$(simstat enroll_calls)
sim_control '{"hang_enrolls":1}' >/dev/null || fail "POST /sim/control failed"
N2A="first-$(suffix).$ZONE"
N2B="cn-$(suffix).$ZONE"
if acme order --name "$N2A" --name "$N2B" --cn "$N2B" --tag c2b \
	--http01-port "$HTTP01_PORT" --until finalize >"$T/c2b.json"; then
	st=$(order_status "$T/c2b.json")
	check "case 2b: finalize answered 'processing' (got $st)" [ "$st" = processing ]
else
	check_bad "case 2b: the order could not be finalized"
fi
check "case 2b: SCM recorded the enroll call" \
	wait_stat enroll_calls $((calls0 + 1)) 20
kill9_bridge
restart_bridge
if acme poll --tag c2b --until valid,invalid --timeout 60 \
	--cert-out "$T/c2b.pem" >"$T/c2b.poll.json"; then
	st=$(order_status "$T/c2b.poll.json")
	check "case 2b: the order is valid after the restart (got $st)" [ "$st" = valid ]
else
	check_bad "case 2b: the order did not become valid within 60 s after the restart"
fi
s=$(sim_stats)
check "case 2b: SCM filed the enrollment under the CSR's CN" \
	[ "$(jq --arg n "$N2B" '[.certificates[] | select(.commonName == $n)] | length' <<<"$s")" -eq 1 ]
check "case 2b: exactly one new enrollment (got $(($(jq .enrollments <<<"$s") - enr0)))" \
	[ "$(jq .enrollments <<<"$s")" -eq $((enr0 + 1)) ]

# ------------------------------------------------------------ case 3
log "case 3: kill -9 while an http-01 validation is in flight"
WEBROOT=$T/webroot
mkdir -p "$WEBROOT"
"$PY" "$SRCDIR/tests/integration/acmetest.py" http01-server \
	--port "$HTTP01_PORT" --webroot "$WEBROOT" --delay 3 \
	>"$T/http01-slow.log" 2>&1 &
SLOW_PID=$!
track_pid "$SLOW_PID" "slow http-01 responder"
wait_port "$HTTP01_PORT" "$SLOW_PID" "$T/http01-slow.log"
N3="slow-$(suffix).$ZONE"
if acme order --name "$N3" --tag c3 --webroot "$WEBROOT" --until authz \
	>"$T/c3.json"; then
	cst=$(jq -r '[.authzs[0].challenges[] | select(.type == "http-01")
		| .status][0]' "$T/c3.json")
	check "case 3: the http-01 challenge is processing (got $cst)" \
		[ "$cst" = processing ]
else
	check_bad "case 3: the challenge could not be answered"
fi
hit=0
for ((i = 0; i < 50; i++)); do
	if grep -q '^hit ' "$T/http01-slow.log"; then
		hit=1
		break
	fi
	sleep 0.1
done
check "case 3: the validator reached the responder before the crash" [ "$hit" = 1 ]
kill9_bridge
restart_bridge
if acme finalize --tag c3 --until valid --timeout 60 --cert-out "$T/c3.pem" \
	>"$T/c3.fin.json"; then
	st=$(order_status "$T/c3.fin.json")
	check "case 3: the order completed after the restart (got $st)" [ "$st" = valid ]
	check_chain "case 3: chain verifies" "$T/c3.pem" "$N3"
else
	check_bad "case 3: the order did not complete after the restart"
fi
hits=$(grep -c '^hit ' "$T/http01-slow.log" || true)
check "case 3: the validation was retried after the restart ($hits requests)" \
	[ "$hits" -ge 2 ]

check_summary
