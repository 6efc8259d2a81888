#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Structured logs (log_format "json", log_file):
#  1. a bridge that requires EAB issues a certificate (http-01); every line
#     of its log file is one JSON object with time/level/event, and the
#     events server.start, scm.enroll, scm.collect, challenge.valid and
#     order.issued (with order, account, connector, duration_ms) are there
#  2. neither the SCM client secret nor the EAB HMAC key appears anywhere
#     in the log file or on stderr
#  3. logrotate's way: the file is moved, SIGHUP, a new file is created
#     (0640) and receives the next lines; the moved one gets no more
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python
start_bind
start_sim
LOGF=$T/json.log
start_bridge ".log_format = \"json\" | .log_file = \"$LOGF\"
  | .acme.require_eab = true"
# the client secret the simulator expects (lib.sh writes it)
SECRET=$(cat "$T/secret")
[ -n "$SECRET" ] || fail "no client secret in $T/secret"
wait_for "log file $LOGF" "$T/bridge.log" "$BRIDGE_PID" test -s "$LOGF"

"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" >"$T/eab.json" ||
	fail "acmebridge eab add failed"
KID=$(jq -er .kid "$T/eab.json")
HMAC=$(jq -er .hmac_key "$T/eab.json")

A=(--dir "$BRIDGE_DIR_URL" --ca "$BRIDGE_CA" --state "$T/client.json")
"$PY" "$SRCDIR/tests/integration/acmetest.py" "${A[@]}" account \
	--eab-kid "$KID" --eab-key "$HMAC" >"$T/acct.json" ||
	fail "account with EAB failed"
"$PY" "$SRCDIR/tests/integration/acmetest.py" "${A[@]}" order \
	--name "logs.$ZONE" --http01-port "$HTTP01_PORT" --until valid \
	--cert-out "$T/cert.pem" >"$T/order.json" || fail "order failed"
verify_chain "$T/cert.pem" "logs.$ZONE"
check_ok "certificate issued with log_format json"
OID=$(jq -er '.url | split("/") | last' "$T/order.json")
ACCT=$(jq -er '.kid | split("/") | last' "$T/acct.json")

# the issued event is written after the client saw the order valid (the
# job commits first): wait for it
wait_for "order.issued in $LOGF" "$T/bridge.log" "$BRIDGE_PID" \
	grep -q '"event":"order.issued"' "$LOGF"

# ---- 1. every line parses, with the keys and events asked for
"$PY" - "$LOGF" "$OID" "$ACCT" <<'EOF' >"$T/logcheck.txt" 2>&1 || { cat "$T/logcheck.txt" >&2; check_bad "log file lines"; }
import json, re, sys
path, oid, acct = sys.argv[1:4]
events = {}
with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
        line = raw.decode("utf-8")  # strict: the file is valid UTF-8
        o = json.loads(line)
        assert isinstance(o, dict), n
        for k in ("time", "level", "event", "msg"):
            assert k in o, "line %d lacks %s: %s" % (n, k, line)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                            o["time"]), o["time"]
        assert list(o)[:3] == ["time", "level", "event"], list(o)
        assert list(o)[-1] == "msg", list(o)
        events.setdefault(o["event"], []).append(o)
for e in ("server.start", "scm.token", "scm.enroll", "scm.collect",
          "challenge.valid", "order.enrolled", "order.issued"):
    assert e in events, "no %s event; events: %s" % (e, sorted(events))
iss = [o for o in events["order.issued"] if o.get("order") == oid]
assert iss, "no order.issued for %s: %s" % (oid, events["order.issued"])
o = iss[0]
assert o["account"] == acct, o
assert o["connector"] == "sectigo", o
assert isinstance(o["duration_ms"], int) and o["duration_ms"] >= 0, o
for s in events["scm.enroll"] + events["scm.collect"]:
    assert s["connector"] == "sectigo" and isinstance(s["duration_ms"], int), s
print("%d events of %d kinds" % (sum(map(len, events.values())), len(events)))
EOF
grep -q events "$T/logcheck.txt" && check_ok "every log line is JSON with time/level/event/msg; order.issued has order/account/connector/duration_ms ($(cat "$T/logcheck.txt"))"

# ---- 2. no secret
if grep -qF -- "$SECRET" "$LOGF" "$T/bridge.log"; then
	check_bad "the SCM client secret appears in the log"
else
	check_ok "the SCM client secret is in no log line"
fi
if grep -qF -- "$HMAC" "$LOGF" "$T/bridge.log"; then
	check_bad "the EAB HMAC key appears in the log"
else
	check_ok "the EAB HMAC key is in no log line"
fi
if grep -qi 'authorization: bearer\|access_token' "$LOGF"; then
	check_bad "a bearer token or Authorization header is in the log"
else
	check_ok "no bearer token or Authorization header in the log"
fi

# ---- 3. logrotate: move, SIGHUP, a new file
mv "$LOGF" "$LOGF.1"
kill -HUP "$BRIDGE_PID"
wait_for "a new $LOGF after SIGHUP" "$T/bridge.log" "$BRIDGE_PID" test -e "$LOGF"
n1=$(wc -l <"$LOGF.1")
curl -fsS --cacert "$BRIDGE_CA" "$BRIDGE_DIR_URL" >/dev/null
"$PY" "$SRCDIR/tests/integration/acmetest.py" "${A[@]}" order \
	--name "rotated.$ZONE" --http01-port "$HTTP01_PORT" --until valid \
	--cert-out "$T/cert2.pem" >"$T/order2.json" || fail "second order failed"
wait_for "order.issued in the new $LOGF" "$T/bridge.log" "$BRIDGE_PID" \
	grep -q '"event":"order.issued"' "$LOGF"
check_ok "the new log file receives the next lines ($(wc -l <"$LOGF") lines)"
if [ "$(wc -l <"$LOGF.1")" = "$n1" ]; then
	check_ok "the moved file gets no more lines"
else
	check_bad "the moved file still grows after SIGHUP"
fi
mode=$(stat -c %a "$LOGF")
[ "$mode" = 640 ] && check_ok "the new log file is created 0640" ||
	check_bad "the new log file has mode $mode, not 640"
jq -e . "$LOGF" >/dev/null && check_ok "the new file's lines are JSON" ||
	check_bad "the new file has a line that is not JSON"

check_bridge_alive
check_summary
