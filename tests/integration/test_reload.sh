#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# SIGHUP reloads the configuration without a restart:
#  1. three orders are processing (the simulator holds certificates for a
#     few seconds) and a keep-alive connection is open when the new
#     configuration lands: a profile added to the connector, EAB required,
#     the orders per account lowered from 2 to 1 an hour, the DNS connector's program changed
#  2. after the SIGHUP: the directory offers the new profile and requires
#     EAB (an account without is refused), the account
#     that ordered before the reload gets 429 on its next order (its
#     counter survived), a DCV run publishes through the new program and
#     not the old one, the orders in flight all end valid with certificates
#     that verify, the keep-alive connection still answers, same PID
#  3. an invalid configuration: the log names the setting, the running
#     configuration still serves (a new order is issued), then the good
#     file is back and a reload takes it
#  4. new tls.cert_file and key_file: new connections get the new
#     certificate (frontend rotation), the process stays
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python
start_bind
start_sim --domain "$ZONE" --dns-resolver "127.0.0.1:$DNS_PORT"
LOGF=$T/json.log
# two DNS connector programs: each notes its calls, then publishes
for h in A B; do
	printf '#!/bin/sh\necho "$*" >>%s\nexec %s "$@"\n' "$T/hook$h.calls" \
		"$SRCDIR/tests/integration/dns/nsupdate-hook.sh" >"$T/hook$h.sh"
	chmod 755 "$T/hook$h.sh"
done
export NSUPDATE_SERVER=127.0.0.1 NSUPDATE_PORT=$DNS_PORT NSUPDATE_KEY=$T/tsig.key
start_bridge "$(printf '.log_format = "json" | .log_file = "%s"
  | .acme.finalize_wait_seconds = 0
  | .rate_limits.new_orders_per_account_per_hour = 2
  | .dcv = {enabled: false, poll_seconds: 1}
  | .dns_connectors = [{name: "bind", type: "exec", program: "%s",
    zones: ["%s"], ttl: 5, ns_port: %s, propagation_timeout_seconds: 10,
    poll_interval_seconds: 1,
    pass_env: ["NSUPDATE_SERVER", "NSUPDATE_PORT", "NSUPDATE_KEY"]}]' \
	"$LOGF" "$T/hookA.sh" "$ZONE" "$DNS_PORT")"
PID0=$BRIDGE_PID
cp "$T/bridge.json" "$T/bridge.json.orig"
AT=$SRCDIR/tests/integration/acmetest.py
at() { # at STATE ARGS...: the test client with account state STATE
	local st=$1
	shift
	"$PY" "$AT" --dir "$BRIDGE_DIR_URL" --ca "$BRIDGE_CA" --state "$T/$st.json" "$@"
}
# reloads: how many good reloads the log shows; reloaded N: at least N
reloads() { jq -r 'select(.event == "config.reload" and .outcome == "ok") | .event' "$LOGF" | wc -l; }
reloaded() { [ "$(reloads)" -ge "$1" ]; }

# ---- 1. work in flight
# one http-01 responder for every client (they run at the same time)
mkdir -p "$T/www"
"$PY" "$AT" http01-server --port "$HTTP01_PORT" --webroot "$T/www" >"$T/http01.log" 2>&1 &
track_pid $! http01-server
wait_port "$HTTP01_PORT"
at main account >/dev/null || fail "account main"
at main order --name "before.$ZONE" --webroot "$T/www" \
	--until valid --cert-out "$T/before.pem" >/dev/null || fail "first order"
# a keep-alive connection opened now, used again after the reload
"$PY" - "$BRIDGE_PORT" "$BRIDGE_CA" "$T/ka.go" "$T/ka.out" <<'EOF' &
import http.client, os, ssl, sys, time
port, ca, go, out = sys.argv[1:5]
c = http.client.HTTPSConnection("127.0.0.1", int(port),
                                context=ssl.create_default_context(cafile=ca))
c.request("GET", "/directory"); r = c.getresponse(); r.read()
s1 = c.sock
with open(out + ".1", "w") as f:
    f.write("%d\n" % r.status)
while not os.path.exists(go):
    time.sleep(0.1)
c.request("GET", "/directory"); r = c.getresponse(); body = r.read()
with open(out, "w") as f:
    f.write("%d %s %d\n" % (r.status, "same" if c.sock is s1 else "new",
                            b"short" in body))
EOF
KA_PID=$!
track_pid "$KA_PID" keepalive-client
wait_for "keep-alive client's first answer" /dev/null "$KA_PID" test -s "$T/ka.out.1"
# the simulator holds new certificates for 6 s: the orders are processing
# when the SIGHUP comes
sim_control '{"pending_seconds": 6}' >/dev/null
enr0=$(sim_stats | jq .enroll_calls)
for i in 1 2 3; do
	at "fl$i" account >/dev/null || fail "account fl$i"
	at "fl$i" order --name "flight$i.$ZONE" --webroot "$T/www" \
		--until valid --cert-out "$T/flight$i.pem" >"$T/flight$i.out" 2>&1 &
	track_pid $! "order flight$i"
	eval "FL$i=\$!"
	wait_for "order flight$i enrolled" "$T/flight$i.out" "" \
		sh -c "[ \$(curl -fsS --max-time 5 --cacert '$SIM_DIR/root.pem' '$SIM_URL/sim/stats' | jq .enroll_calls) -ge $((enr0 + i)) ]"
done
n=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM orders WHERE status='processing'")
[ "$n" -ge 1 ] && check_ok "$n orders processing when the configuration changes" ||
	check_bad "no order processing at the reload (status: $(sqlite3 "$BRIDGE_DB" 'SELECT status FROM orders'))"

jq '.connectors[0].profiles = {
      default: {description: "the usual"},
      short: {description: "ninety days", term: 90}}
  | .connectors[0].default_profile = "default"
  | .rate_limits.new_orders_per_account_per_hour = 1
  | .acme.require_eab = true
  | .workers = 3
  | .dns_connectors[0].program = "'"$T/hookB.sh"'"' \
	"$T/bridge.json.orig" >"$T/bridge.json.new"
cp "$T/bridge.json.new" "$T/bridge.json"
kill -HUP "$BRIDGE_PID"
wait_for "config.reload in the log" "$T/bridge.log" "$BRIDGE_PID" \
	reloaded 1
check_ok "reloaded in $(grep '"event":"config.reload"' "$LOGF" | tail -n 1 | jq -r .duration_ms) ms: $(grep '"event":"config.reload"' "$LOGF" | tail -n 1 | jq -r .msg)"

# ---- 2. the new settings act
if grep '"event":"config.restart_needed"' "$LOGF" | grep -q '"setting":"workers"'; then
	check_ok "workers changed: a warning names it as restart-only"
else
	check_bad "no restart_needed warning for workers"
fi
curl -fsS --cacert "$BRIDGE_CA" "$BRIDGE_DIR_URL" >"$T/dir.json"
if jq -e '.meta.profiles.short == "ninety days"' "$T/dir.json" >/dev/null; then
	check_ok "the directory offers the added profile"
else
	check_bad "no profile short in the directory: $(jq -c .meta "$T/dir.json")"
fi
if jq -e '.meta.externalAccountRequired == true' "$T/dir.json" >/dev/null &&
	! at noeab account >"$T/noeab.out" 2>&1 &&
	grep -q externalAccountRequired "$T/noeab.out"; then
	check_ok "acme.require_eab turned on: an account without EAB is refused"
else
	check_bad "require_eab did not take: $(jq -c .meta "$T/dir.json") $(tail -n 2 "$T/noeab.out")"
fi
if at main order --name "over.$ZONE" --until order >"$T/over.out" 2>&1; then
	check_bad "an order over the lowered limit was accepted"
elif grep -q rateLimited "$T/over.out"; then
	check_ok "the lowered limit answers 429: a second order in the hour, allowed at 2 an hour, is refused at 1 (the first one, before the reload, still counts)"
else
	check_bad "the order over the limit failed otherwise: $(tail -n 3 "$T/over.out")"
fi
"$ACMEBRIDGE_BIN" dcv start "$ZONE" -c "$T/bridge.json" >"$T/dcv.out" 2>&1 ||
	fail "dcv start: $(cat "$T/dcv.out")"
wait_for "a DCV record through the new DNS program" "$T/bridge.log" "$BRIDGE_PID" \
	grep -q '^present' "$T/hookB.calls"
if [ -s "$T/hookA.calls" ]; then
	check_bad "the old DNS program was called: $(cat "$T/hookA.calls")"
else
	check_ok "the DNS connector uses the new program, never the old one"
fi
for i in 1 2 3; do
	eval "p=\$FL$i"
	if wait "$p"; then
		verify_chain "$T/flight$i.pem" "flight$i.$ZONE"
	else
		check_bad "order flight$i failed: $(tail -n 3 "$T/flight$i.out")"
	fi
done
check_ok "the orders in flight at the reload all ended valid"
touch "$T/ka.go"
wait_for "keep-alive client's second answer" /dev/null "$KA_PID" test -s "$T/ka.out"
if [ "$(cat "$T/ka.out")" = "200 same 1" ]; then
	check_ok "the keep-alive connection opened before the reload still answers (new profile seen)"
else
	check_bad "keep-alive connection after the reload: $(cat "$T/ka.out")"
fi
[ "$BRIDGE_PID" = "$PID0" ] && kill -0 "$BRIDGE_PID" &&
	[ "$(grep -c '"event":"server.start"' "$LOGF")" = 1 ] &&
	check_ok "same process (pid $PID0), started once" ||
	check_bad "the bridge restarted"

# ---- 3. a broken file changes nothing
jq '.rate_limits.new_orders_per_account_per_hour = -5' "$T/bridge.json.new" >"$T/bridge.json"
kill -HUP "$BRIDGE_PID"
wait_for "config reload failed in the log" "$T/bridge.log" "$BRIDGE_PID" \
	grep -q 'config reload failed' "$LOGF"
line=$(grep 'config reload failed' "$LOGF" | tail -n 1)
if printf '%s' "$line" | jq -r .msg | grep -q 'config: rate_limits.new_orders_per_account_per_hour: must be between'; then
	check_ok "the failed reload names the setting: $(printf '%s' "$line" | jq -r .msg)"
else
	check_bad "the failed reload's line does not name the setting: $line"
fi
"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json.new" >"$T/eab.json" || fail "eab add"
at fresh account --eab-kid "$(jq -r .kid "$T/eab.json")" \
	--eab-key "$(jq -r .hmac_key "$T/eab.json")" >/dev/null || fail "account fresh (EAB)"
if at fresh order --name "after.$ZONE" --webroot "$T/www" --until valid \
	--cert-out "$T/after.pem" >"$T/after.out" 2>&1; then
	verify_chain "$T/after.pem" "after.$ZONE"
	check_ok "the running configuration still serves: a new order is issued"
else
	check_bad "new order after the failed reload: $(tail -n 3 "$T/after.out")"
fi
curl -fsS --cacert "$BRIDGE_CA" "$BRIDGE_DIR_URL" | jq -e '.meta.profiles.short' >/dev/null &&
	check_ok "the profile added by the good reload is still offered" ||
	check_bad "the failed reload changed the directory"
cp "$T/bridge.json.new" "$T/bridge.json"
kill -HUP "$BRIDGE_PID"
wait_for "a second good reload" "$T/bridge.log" "$BRIDGE_PID" \
	reloaded 2
check_ok "the restored file reloads ($(reloads) good reloads)"
# ---- 4. the frontend certificate rotates: new connections get the new
# one, a connection opened before keeps working
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/new-key.pem" -out "$T/new-cert.pem" -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ||
	fail "openssl req"
chmod 600 "$T/new-key.pem"
served() {
	openssl s_client -connect "127.0.0.1:$BRIDGE_PORT" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256
}
old_fp=$(served)
jq --arg c "$T/new-cert.pem" --arg k "$T/new-key.pem" \
	'.tls.cert_file = $c | .tls.key_file = $k' "$T/bridge.json.new" >"$T/bridge.json"
kill -HUP "$BRIDGE_PID"
wait_for "a third good reload" "$T/bridge.log" "$BRIDGE_PID" \
	reloaded 3
new_fp=$(openssl x509 -noout -fingerprint -sha256 -in "$T/new-cert.pem")
if [ "$(served)" = "$new_fp" ] && [ "$old_fp" != "$new_fp" ]; then
	check_ok "new connections get the rotated certificate"
else
	check_bad "served after the reload: $(served), want $new_fp (before: $old_fp)"
fi
cat "$T/new-cert.pem" "$BRIDGE_CA" >"$T/both.pem"
BRIDGE_CA=$T/both.pem
jq -e . "$LOGF" >/dev/null && check_ok "every log line is JSON" ||
	check_bad "a log line is not JSON"

check_bridge_alive
check_summary
