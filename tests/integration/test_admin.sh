#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The admin listener ("admin" in the configuration):
#  1. /metrics needs the bearer token (401 without it and with a wrong
#     one); /healthz and /readyz answer without it
#  2. an issuance by lego (its domain validated by the bridge through
#     SCM DCV and an nsupdate DNS connector) moves the counters: newOrder
#     answered 201, SCM enroll and DCV calls ok, DNS present ok, DCV runs
#     valid, group-commit batches, orders in state valid, and a second
#     order refused by a rate limit counts; the exposition
#     parses (declared families, no duplicate series,
#     cumulative buckets, _count equal to the request counter)
#  3. the status page shows the issued certificate's serial and an SVG,
#     and a database string holding <script> comes out escaped
#  4. /readyz: ready, then 503 naming the SCM check once the simulator is
#     gone, ready again once it is back
#  5. restarted with HTTPS and public_status_page: the page answers
#     without the token (/metrics still needs it), the timeline draws
#     the certificates by expiry day, and a headless Chromium screenshot
#     of the page is a real, non-blank image
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v lego >/dev/null || fail "lego not installed"
HELPER=$SRCDIR/tests/integration/test_admin.py
ADMIN_PORT=$(free_port)
ADMIN=http://127.0.0.1:$ADMIN_PORT
TOKEN=$(openssl rand -hex 24)
printf '%s\n' "$TOKEN" >"$T/admin-token"
chmod 600 "$T/admin-token"
READY_S=5 # scm_ready_seconds

start_bind
# SCM asks for domain control validation, which the bridge does through a
# DNS connector (nsupdate into the test BIND): DNS and DCV metrics move too
SIM_ARGS=(--require-dcv --domain "$ZONE" --dns-resolver "127.0.0.1:$DNS_PORT"
	--dcv-check-attempts 15)
start_sim "${SIM_ARGS[@]}"
export NSUPDATE_SERVER=127.0.0.1 NSUPDATE_PORT=$DNS_PORT NSUPDATE_KEY=$T/tsig.key
DCV_CONF=$(printf '.dcv = {enabled: true, poll_seconds: 1, margin_days: 30,
    check_interval_seconds: 3600, domain_cache_seconds: 0}
  | .dns_connectors = [{name: "bind", type: "exec", program: "%s",
    zones: ["%s"], ttl: 5, ns_port: %s, propagation_timeout_seconds: 6,
    poll_interval_seconds: 1,
    pass_env: ["NSUPDATE_SERVER", "NSUPDATE_PORT", "NSUPDATE_KEY"]}]' \
	"$SRCDIR/tests/integration/dns/nsupdate-hook.sh" "$ZONE" "$DNS_PORT")
write_bridge_config "$DCV_CONF"
# bad_admin SETTING JQ_FILTER: check-config fails with one line naming
# admin.SETTING
bad_admin() {
	jq "$2" "$T/bridge.json" >"$T/bad.json"
	if "$ACMEBRIDGE_BIN" check-config -c "$T/bad.json" >"$T/bad.out" 2>&1; then
		check_bad "check-config accepted a bad admin.$1"
	elif [ "$(wc -l <"$T/bad.out")" = 1 ] && grep -q "config: admin\.$1: " "$T/bad.out"; then
		check_ok "bad admin.$1: $(cat "$T/bad.out")"
	else
		check_bad "bad admin.$1: $(cat "$T/bad.out")"
	fi
}
printf 'short\n' >"$T/short-token"
chmod 600 "$T/short-token"
cp "$T/admin-token" "$T/open-token"
chmod 644 "$T/open-token"
bad_admin listen '.admin = {listen: "nowhere"}'
bad_admin scm_probe_seconds '.admin = {scm_ready_seconds: 30, scm_probe_seconds: 30}'
bad_admin scm_ready_seconds '.admin = {scm_ready_seconds: 0}'
bad_admin token_file ".admin = {token_file: \"$T/open-token\"}"
bad_admin token_file ".admin = {token_file: \"$T/short-token\"}"
bad_admin tls_key_file ".admin = {tls_cert_file: \"$BRIDGE_CA\"}"
bad_admin tokenfile '.admin = {tokenfile: "x"}'
grep -q "$TOKEN" "$T/bad.out" "$T/bridge.log" 2>/dev/null &&
	check_bad "the admin token shows up in a message"

start_bridge "$DCV_CONF | .rate_limits.new_orders_per_account_per_hour = 1
  | .admin = {listen: \"127.0.0.1:$ADMIN_PORT\",
  token_file: \"$T/admin-token\", scm_ready_seconds: $READY_S,
  scm_probe_seconds: 1}"

# code URL [CURL ARGS...]: the HTTP status of a GET
code() {
	local url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$BRIDGE_CA" "$@" "$url"
}
scrape() {
	curl -fsS --max-time 5 -H "Authorization: Bearer $TOKEN" "$ADMIN/metrics" -o "$1"
}
ready_is() { [ "$(code "$ADMIN/readyz")" = "$1" ]; }

# ---- 1. token, healthz
c=$(code "$ADMIN/metrics")
h=$(curl -s -D - -o /dev/null --max-time 5 "$ADMIN/metrics" | tr -d '\r' | grep -i '^WWW-Authenticate:' || true)
if [ "$c" = 401 ] && [ "${h,,}" != "${h,,/bearer/}" ]; then
	check_ok "/metrics without the token: 401 with $h"
else
	check_bad "/metrics without the token: $c, header '$h'"
fi
c=$(code "$ADMIN/metrics" -H "Authorization: Bearer x$TOKEN")
[ "$c" = 401 ] && check_ok "/metrics with a wrong token: 401" ||
	check_bad "/metrics with a wrong token: $c"
c=$(code "$ADMIN/" -H "Authorization: Bearer wrong")
[ "$c" = 401 ] && check_ok "status page with a wrong token: 401" ||
	check_bad "status page with a wrong token: $c"
c=$(code "$ADMIN/healthz")
[ "$c" = 200 ] && check_ok "/healthz without the token: 200" ||
	check_bad "/healthz: $c"
wait_for "/readyz 200 after the first SCM answer" "$T/bridge.log" "$BRIDGE_PID" ready_is 200
check_ok "/readyz 200 without the token: $(curl -s "$ADMIN/readyz" | tr '\n' ';')"

ctype=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOKEN" "$ADMIN/metrics" | tr -d '\r' | grep -i '^Content-Type:' || true)
case "$ctype" in
*"text/plain; version=0.0.4"*) check_ok "/metrics $ctype" ;;
*) check_bad "/metrics content type '$ctype'" ;;
esac

# ---- 2. counters around an issuance
scrape "$T/m0.txt"
if out=$(python3 "$HELPER" parse "$T/m0.txt" 2>&1); then
	check_ok "exposition before the issuance parses: $out"
else
	check_bad "exposition before the issuance: $out"
fi
L=$T/lego
mkdir -p "$L"
if LEGO_CA_CERTIFICATES=$BRIDGE_CA lego --server "$BRIDGE_DIR_URL" --path "$L" \
	--accept-tos --email "admin@$ZONE" -d "admin.$ZONE" \
	--http --http.port "127.0.0.1:$HTTP01_PORT" run >"$L/out.txt" 2>&1; then
	check_ok "lego issued admin.$ZONE"
else
	cat "$L/out.txt" >&2
	fail "lego failed"
fi
# a second order of the same account within the hour: rate limited
if LEGO_CA_CERTIFICATES=$BRIDGE_CA lego --server "$BRIDGE_DIR_URL" --path "$L" \
	--accept-tos --email "admin@$ZONE" -d "again.$ZONE" \
	--http --http.port "127.0.0.1:$HTTP01_PORT" run >"$L/out2.txt" 2>&1; then
	check_bad "a second order within the hour was not rate limited"
else
	grep -q rateLimited "$L/out2.txt" && check_ok "the second order was refused: rateLimited" ||
		check_bad "the second order failed otherwise: $(tail -3 "$L/out2.txt")"
fi
scrape "$T/m1.txt"
if out=$(python3 "$HELPER" parse "$T/m1.txt" 2>&1); then
	check_ok "exposition after the issuance parses: $out"
else
	check_bad "exposition after the issuance: $out"
fi
if out=$(python3 "$HELPER" compare "$T/m0.txt" "$T/m1.txt" 2>&1); then
	check_ok "the issuance moved the counters: $(echo "$out" | tr '\n' ';')"
else
	check_bad "counters: $out"
fi
grep -q '^acmebridge_build_info{version="[^"]*"} 1$' "$T/m1.txt" &&
	check_ok "build_info present" || check_bad "no build_info sample"

# ---- 3. status page
SERIAL=$(_norm_serial "$(cert_serial "$L/certificates/admin.$ZONE.crt")")
DB_SERIAL=$(sqlite3 "$BRIDGE_DB" "SELECT serial FROM certificates ORDER BY id DESC LIMIT 1")
now=$(date +%s)
# a failed order whose stored error carries markup, as a hostile SCM or
# client text could
sqlite3 -cmd ".timeout 5000" "$BRIDGE_DB" "INSERT INTO orders(oid, account_id,
  status, expires, identifiers, error, connector, created, updated)
  SELECT 'xss-probe', id, 'invalid', $now, '[{\"type\":\"dns\",\"value\":\"x.$ZONE\"}]',
  '{\"detail\":\"SCM said <script>alert(1)</script> & more\"}', 'sectigo', $now, $now
  FROM accounts LIMIT 1"
curl -fsS -D "$T/status.hdr" -H "Authorization: Bearer $TOKEN" "$ADMIN/" -o "$T/status.html"
if grep -qi "$DB_SERIAL" "$T/status.html" &&
	[ "$(_norm_serial "$DB_SERIAL")" = "$SERIAL" ]; then
	check_ok "the status page lists the issued certificate (serial $DB_SERIAL)"
else
	check_bad "serial $SERIAL / $DB_SERIAL not on the status page"
fi
grep -q '<svg' "$T/status.html" && check_ok "the status page has an SVG timeline" ||
	check_bad "no <svg> on the status page"
if grep -q 'SCM said &lt;script&gt;alert(1)&lt;/script&gt; &amp; more' "$T/status.html" &&
	! grep -qi '<script' "$T/status.html"; then
	check_ok "a stored error with <script> is escaped on the status page"
else
	check_bad "the <script> error is not escaped: $(grep -o '.\{30\}alert(1).\{30\}' "$T/status.html")"
fi
if tr -d '\r' <"$T/status.hdr" | grep -qi "^Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:$"; then
	check_ok "the status page sends its Content-Security-Policy"
else
	check_bad "CSP header missing: $(cat "$T/status.hdr")"
fi

# ---- 4. readiness follows SCM
kill -TERM "$SIM_PID"
wait "$SIM_PID" 2>/dev/null || true
t0=$SECONDS
not_ready() { [ "$(code "$ADMIN/readyz")" = 503 ]; }
wait_for "/readyz 503 without SCM" "$T/bridge.log" "$BRIDGE_PID" not_ready
took=$((SECONDS - t0))
body=$(curl -s "$ADMIN/readyz")
if [ "$took" -le $((READY_S + 4)) ] && grep -q '^fail scm connector=sectigo' <<<"$body"; then
	check_ok "/readyz 503 ${took}s after SCM went away, naming it: $(grep '^fail' <<<"$body")"
else
	check_bad "/readyz 503 after ${took}s: $body"
fi
grep -q '^ok database' <<<"$body" && check_ok "the database check still passes" ||
	check_bad "database check: $body"
"$SIM_BIN" --state-dir "$SIM_DIR" --listen "127.0.0.1:$SIM_PORT" "${SIM_ARGS[@]}" >>"$T/sim.log" 2>&1 &
SIM_PID=$!
track_pid "$SIM_PID" sectigo-sim-2
wait_for "/readyz 200 with SCM back" "$T/bridge.log" "$BRIDGE_PID" ready_is 200
check_ok "/readyz 200 again once SCM answers"

# the database gauges are cached for 10 s: by now the issuance shows
valid_orders() {
	scrape "$T/m2.txt" &&
		[ "$(python3 "$HELPER" value "$T/m2.txt" 'acmebridge_orders{state="valid"}')" -ge 1 ]
}
wait_for "acmebridge_orders{state=valid} >= 1" "$T/bridge.log" "$BRIDGE_PID" valid_orders
b=$(python3 "$HELPER" value "$T/m0.txt" 'acmebridge_orders{state="valid"}')
a=$(python3 "$HELPER" value "$T/m2.txt" 'acmebridge_orders{state="valid"}')
[ "$a" -gt "$b" ] && check_ok "orders in state valid: $b -> $a" ||
	check_bad "orders valid $b -> $a"
python3 "$HELPER" parse "$T/m2.txt" >/dev/null && grep -q '^acmebridge_jobs_queued\|^# TYPE acmebridge_jobs_queued' "$T/m2.txt" &&
	check_ok "database gauges parse ($(grep -c '^acmebridge_\(orders\|authorizations\|challenges\|certificates_expiring\|dcv_runs\)' "$T/m2.txt") samples)" ||
	check_bad "database gauges"

# ---- 5. screenshot of the public status page
if command -v chromium >/dev/null; then
	# HTTPS this time, with the bridge's own certificate and key
	jq --arg c "$BRIDGE_CA" --arg k "$T/bridge-key.pem" '.admin.public_status_page = true
	  | .admin.tls_cert_file = $c | .admin.tls_key_file = $k' "$T/bridge.json" >"$T/b2.json" &&
		mv "$T/b2.json" "$T/bridge.json"
	ADMIN=https://127.0.0.1:$ADMIN_PORT
	# certificates expiring over the next weeks, for the timeline
	now=$(date +%s)
	for d in 2 2 5 12 12 12 20 45 60 61 80 85; do
		echo "INSERT INTO certificates(crt_id, order_id, account_id, serial,
		  spki, chain_pem, not_before, not_after, connector, ca_ref, status,
		  created, names) SELECT 'tl-' || hex(randomblob(8)), id, account_id,
		  hex(randomblob(8)), 'x', 'x', $now, $now + $d * 86400 + 3600,
		  'sectigo', '1', 'valid', $now, 'timeline-$d.$ZONE' FROM orders
		  WHERE status = 'valid' LIMIT 1;"
	done | sqlite3 -cmd ".timeout 5000" "$BRIDGE_DB"
	restart_bridge
	curl -fsS --cacert "$BRIDGE_CA" "$ADMIN/status" -o "$T/status2.html"
	if grep -q '<title>day 2: 2</title>' "$T/status2.html" &&
		grep -q '<title>day 12: 3</title>' "$T/status2.html" &&
		grep -q '<title>day 85: 1</title>' "$T/status2.html"; then
		check_ok "the timeline draws one bar per expiry day with its count"
	else
		check_bad "timeline bars: $(grep -o '<title>day[^<]*' "$T/status2.html" | tr '\n' ' ')"
	fi
	c=$(code "$ADMIN/status")
	[ "$c" = 200 ] && check_ok "public_status_page: the page without a token, over HTTPS" ||
		check_bad "public status page: $c"
	c=$(code "$ADMIN/metrics")
	[ "$c" = 401 ] && check_ok "public_status_page leaves /metrics behind the token" ||
		check_bad "/metrics without token with public_status_page: $c"
	c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ADMIN_PORT/healthz" || true)
	[ "$c" != 200 ] && check_ok "with tls_cert_file no plain HTTP answer (got '$c')" ||
		check_bad "plain HTTP answered on the TLS admin port"
	# the bridge's certificate is self-signed: Chromium is told to accept it.
	# The PNG must hold the timeline's red, orange and green bars (the
	# page, not an error page)
	timeout 40 chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--ignore-certificate-errors \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$T/chrome" --window-size=1280,1024 \
		--screenshot="$T/status.png" "$ADMIN/status" >"$T/chromium.log" 2>&1 || true
	if out=$(python3 "$HELPER" png "$T/status.png" 1280 1024 50 \
		c62828 ef6c00 2e7d32 2>&1); then
		check_ok "screenshot: $out"
	else
		check_bad "screenshot: $out ($(tail -2 "$T/chromium.log"))"
	fi
else
	check_bad "chromium not installed (contrib/scripts/install-deps.sh)"
fi

check_summary
