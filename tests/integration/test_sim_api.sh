#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration test of contrib/sectigo-sim, the SCM API simulator: drives
# its API with curl and openssl and checks the answers, the certificates it
# issues and its /sim/stats counters.  Exits non-zero on any failure.
set -eu

SIM_BIN=${SIM_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/contrib/sectigo-sim/sectigo-sim}

for tool in curl openssl jq sha256sum named nsupdate python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "test_sim_api: $tool is required" >&2
		exit 1
	fi
done
if [ ! -x "$SIM_BIN" ]; then
	echo "test_sim_api: no simulator at $SIM_BIN (set SIM_BIN)" >&2
	exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/test_sim_api.XXXXXX")
STATE=$TMP/state
SIM_PID=
SIM_LOG=$TMP/sim.log
NAMED_PID=

cleanup() {
	local pid
	for pid in "$SIM_PID" "$NAMED_PID"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() {
	PASS=$((PASS + 1))
	echo "ok - $1"
}
not_ok() {
	FAIL=$((FAIL + 1))
	echo "not ok - $1"
}
# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1: expected '$2', got '$3'"
	fi
}
# check_match NAME REGEX ACTUAL
check_match() {
	if [[ $3 =~ $2 ]]; then
		ok "$1"
	else
		not_ok "$1: '$3' does not match /$2/"
	fi
}

# start_sim [EXTRA ARGS...]
start_sim() {
	rm -f "$STATE/port"
	"$SIM_BIN" --state-dir "$STATE" --listen 127.0.0.1:0 \
	    --pending-polls 2 "$@" 2>>"$SIM_LOG" &
	SIM_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$STATE/port" ] && break
		if ! kill -0 "$SIM_PID" 2>/dev/null; then
			echo "test_sim_api: simulator died:" >&2
			cat "$SIM_LOG" >&2
			exit 1
		fi
		sleep 0.05
	done
	if [ ! -s "$STATE/port" ]; then
		echo "test_sim_api: no $STATE/port after 10 s" >&2
		exit 1
	fi
	PORT=$(cat "$STATE/port")
	BASE=https://localhost:$PORT
}

# Stops the simulator with SIGTERM and checks it exits 0 (LeakSanitizer
# makes a leaking process exit non-zero).
stop_sim() {
	local rc=0
	kill -TERM "$SIM_PID"
	wait "$SIM_PID" || rc=$?
	SIM_PID=
	check "simulator exits 0 on SIGTERM" 0 "$rc"
}

AUTH=(-H "login: admin" -H "password: sim-password" \
    -H "customerUri: acme-test")

# req METHOD PATH [curl args...]: sets STATUS; body in $TMP/body, headers
# in $TMP/hdr.
req() {
	local method=$1 path=$2
	shift 2
	STATUS=$(curl -sS -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' \
	    --cacert "$STATE/root.pem" -X "$method" "$BASE$path" "$@") ||
	    STATUS=curl-failed
}
body() {
	cat "$TMP/body"
}
jbody() {
	jq -r "$1" <"$TMP/body" 2>/dev/null || echo "(not json)"
}
header() {
	# headers are case-insensitive; strip the CR of HTTP line ends
	grep -i "^$1:" "$TMP/hdr" | head -n1 | sed 's/^[^:]*:[[:space:]]*//' |
	    tr -d '\r'
}
# enroll_json SAN CSR_FILE [extra jq filter]
enroll_json() {
	jq -n --arg san "$1" --rawfile csr "$2" \
	    '{orgId:1234, certType:224, term:199, subjAltNames:$san,
	      csr:$csr, comments:"from test_sim_api",
	      externalRequester:"ops@example.test", numberServers:1,
	      serverType:-1} '"${3:-}"
}
fingerprint() {
	openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2
}
# split_pem FILE PREFIX: writes PREFIX1.pem, PREFIX2.pem, ...; prints count
split_pem() {
	awk -v p="$2" '/-----BEGIN CERTIFICATE-----/ { n++ }
	    n { print > (p n ".pem") } END { print n + 0 }' "$1"
}

mkdir -p "$STATE"
start_sim

# --- state dir ---
check "root.pem written" yes "$([ -s "$STATE/root.pem" ] && echo yes)"
check "root CN" "CN = acmebridge Sim Root CA" \
    "$(openssl x509 -noout -subject -nameopt oneline -in "$STATE/root.pem" |
	sed 's/.*\(CN = .*\)/\1/')"
check "chain.pem = intermediate + root" 2 \
    "$(grep -c 'BEGIN CERTIFICATE' "$STATE/chain.pem")"
openssl verify -CAfile "$STATE/root.pem" "$STATE/intermediate.pem" \
    >"$TMP/verify" 2>&1 || true
check "intermediate verifies against root" \
    "$STATE/intermediate.pem: OK" "$(cat "$TMP/verify")"

# --- OAuth2 ---
TOKEN_PATH=/auth/realms/apiclients/protocol/openid-connect/token
req POST "$TOKEN_PATH" -d grant_type=client_credentials \
    -d client_id=acmebridge -d client_secret=sim-secret
check "token: 200" 200 "$STATUS"
check "token: type Bearer" Bearer "$(jbody .token_type)"
check "token: expires_in 300" 300 "$(jbody .expires_in)"
TOKEN=$(jbody .access_token)
check_match "token: non-empty" '^[A-Za-z0-9]{20,}$' "$TOKEN"

req POST "$TOKEN_PATH" -d grant_type=client_credentials \
    -d client_id=acmebridge -d client_secret=wrong
check "bad secret: 401" 401 "$STATUS"
check "bad secret: invalid_client" invalid_client "$(jbody .error)"

req POST "$TOKEN_PATH" -d grant_type=password -d client_id=acmebridge \
    -d client_secret=sim-secret
check "bad grant: 400" 400 "$STATUS"
check "bad grant: unsupported_grant_type" unsupported_grant_type \
    "$(jbody .error)"

req GET /api/organization/v1 -H "Authorization: Bearer $TOKEN"
check "bearer: org list 200" 200 "$STATUS"
check "bearer: org id" 1234 "$(jbody '.[0].id')"
check "bearer: department id" 1235 "$(jbody '.[0].departments[0].id')"

req GET /api/organization/v1 -H "Authorization: Bearer not-a-token"
check "bad bearer: 401" 401 "$STATUS"
check_match "bad bearer: WWW-Authenticate" \
    "^Bearer authorization_uri=\"https://localhost:$PORT$TOKEN_PATH\"\$" \
    "$(header WWW-Authenticate)"

req GET /api/ssl/v1/types -H "login: admin" -H "password: nope" \
    -H "customerUri: acme-test"
check "bad password: 401" 401 "$STATUS"
check "bad password: code -16" -16 "$(jbody .code)"
check "bad password: description" "Unknown user" "$(jbody .description)"

# --- organization and profiles ---
req GET /api/organization/v1/1234 "${AUTH[@]}"
check "org details: SSL enabled" "true SSL" \
    "$(jbody '"\(.sslCertsApiEnabled) \(.certTypes[0])"')"
req GET /api/organization/v1/999 "${AUTH[@]}"
check "unknown org: 404 -1023" "404 -1023" "$STATUS $(jbody .code)"
req GET "/private/api/ssl/v1/types?organizationId=1234" "${AUTH[@]}"
check "types via /private/api: 200" 200 "$STATUS"
check "types: 224 284 226 225" "224 284 226 225" \
    "$(jbody '[.[].id] | join(" ")')"
check "types: terms" "199 199 90,199 365,730" \
    "$(jbody '[.[].terms | join(",")] | join(" ")')"

# --- enroll ---
openssl req -new -newkey rsa:2048 -nodes -keyout "$TMP/a.key" \
    -subj /CN=a.example.test \
    -addext subjectAltName=DNS:a.example.test,DNS:b.example.test \
    -out "$TMP/a.csr" 2>/dev/null
CSR_SHA=$(openssl req -in "$TMP/a.csr" -outform DER | sha256sum |
    cut -d' ' -f1)
ENROLL_CALLS=0

enroll_json "a.example.test,b.example.test" "$TMP/a.csr" >"$TMP/enroll.json"
req POST /api/ssl/v1/enroll "${AUTH[@]}" \
    -H "Content-Type: application/json;charset=UTF-8" \
    --data-binary @"$TMP/enroll.json"
ENROLL_CALLS=$((ENROLL_CALLS + 1))
check "enroll: 200" 200 "$STATUS"
SSL_ID=$(jbody .sslId)
check_match "enroll: sslId" '^[0-9]+$' "$SSL_ID"
check_match "enroll: renewId 20 alnum" '^[A-Za-z0-9]{20}$' \
    "$(jbody .renewId)"

req GET "/api/ssl/v1/$SSL_ID" "${AUTH[@]}"
check "details before issue: Applied" Applied "$(jbody .status)"
check "details before issue: no serial" null "$(jbody .serialNumber)"
check "details: SANs" "a.example.test,b.example.test" \
    "$(jbody '.subjectAlternativeNames | join(",")')"
check "details: requestedVia" "Web API" "$(jbody .requestedVia)"
check_match "details: requested date" '^[0-9]{2}/[0-9]{2}/[0-9]{4}$' \
    "$(jbody .requested)"

COLLECTS=0
for i in 1 2; do
	req GET "/api/ssl/v1/collect/$SSL_ID?format=x509R" "${AUTH[@]}"
	COLLECTS=$((COLLECTS + 1))
	check "collect #$i: pending 400" 400 "$STATUS"
	check "collect #$i: code 0" 0 "$(jbody .code)"
	check "collect #$i: description" "Being processed by Sectigo" \
	    "$(jbody .description)"
done

req GET "/api/ssl/v1/collect/$SSL_ID/x509R" "${AUTH[@]}"
COLLECTS=$((COLLECTS + 1))
check "collect #3: issued 200" 200 "$STATUS"
check "collect: content type" "application/octet-stream;charset=UTF-8" \
    "$(header Content-Type)"
check "collect: disposition" 'attachment; filename="a.example.test.cert"' \
    "$(header Content-Disposition)"
cp "$TMP/body" "$TMP/x509R.pem"
check "x509R: 3 certificates" 3 "$(split_pem "$TMP/x509R.pem" "$TMP/r")"
openssl verify -CAfile "$STATE/root.pem" -untrusted "$TMP/r2.pem" \
    "$TMP/r1.pem" >"$TMP/verify" 2>&1 || true
check "x509R: leaf verifies (root + intermediate)" "$TMP/r1.pem: OK" \
    "$(cat "$TMP/verify")"
check "x509R: last is the root" "$(fingerprint "$STATE/root.pem")" \
    "$(fingerprint "$TMP/r3.pem")"
check "leaf: SAN is exactly the requested names" \
    "DNS:a.example.test, DNS:b.example.test" \
    "$(openssl x509 -noout -ext subjectAltName -in "$TMP/r1.pem" |
	tail -n +2 | tr -d ' \n' | sed 's/,/, /g')"
check "leaf: subject CN" "CN = a.example.test" \
    "$(openssl x509 -noout -subject -nameopt oneline -in "$TMP/r1.pem" |
	sed 's/^subject=//')"
check_match "leaf: serverAuth" "TLS Web Server Authentication" \
    "$(openssl x509 -noout -ext extendedKeyUsage -in "$TMP/r1.pem")"
check_match "leaf: not a CA" "CA:FALSE" \
    "$(openssl x509 -noout -ext basicConstraints -in "$TMP/r1.pem")"
check "leaf: public key from the CSR" \
    "$(openssl req -in "$TMP/a.csr" -noout -pubkey)" \
    "$(openssl x509 -in "$TMP/r1.pem" -noout -pubkey)"
LEAF_FP=$(fingerprint "$TMP/r1.pem")

req GET "/api/ssl/v1/collect/$SSL_ID?format=x509" "${AUTH[@]}"
COLLECTS=$((COLLECTS + 1))
check "x509: 3 certificates" 3 "$(split_pem "$TMP/body" "$TMP/x")"
check "x509: root first" "$(fingerprint "$STATE/root.pem")" \
    "$(fingerprint "$TMP/x1.pem")"
check "x509: leaf last" "$LEAF_FP" "$(fingerprint "$TMP/x3.pem")"

req GET "/api/ssl/v1/collect/$SSL_ID/x509CO" "${AUTH[@]}"
COLLECTS=$((COLLECTS + 1))
check "x509CO: leaf only" "1 $LEAF_FP" \
    "$(split_pem "$TMP/body" "$TMP/co") $(fingerprint "$TMP/co1.pem")"

req GET "/api/ssl/v1/collect/$SSL_ID" "${AUTH[@]}"
COLLECTS=$((COLLECTS + 1))
check "default format: PKCS#7 PEM" "-----BEGIN PKCS7-----" \
    "$(head -n1 "$TMP/body")"
check "PKCS#7: 3 certificates" 3 \
    "$(openssl pkcs7 -in "$TMP/body" -print_certs 2>/dev/null |
	grep -c 'BEGIN CERTIFICATE')"

req GET "/api/ssl/v1/collect/$SSL_ID?format=nope" "${AUTH[@]}"
COLLECTS=$((COLLECTS + 1))
check "bad format: 400 -1450" "400 -1450" "$STATUS $(jbody .code)"

req GET "/api/ssl/v1/collect/99999" "${AUTH[@]}"
COLLECTS=$((COLLECTS + 1))
check "unknown sslId: 404 -5101" "404 -5101" "$STATUS $(jbody .code)"

req GET "/api/ssl/v1/$SSL_ID" "${AUTH[@]}"
check "details after issue: Issued" Issued "$(jbody .status)"
SERIAL=$(jbody .serialNumber)
check_match "details: colon hex serial" '^([0-9A-F]{2}:){15}[0-9A-F]{2}$' \
    "$SERIAL"
check "details: serial matches the leaf" \
    "$(openssl x509 -noout -serial -in "$TMP/r1.pem" | cut -d= -f2)" \
    "$(echo "$SERIAL" | tr -d :)"
check "details: key" "RSA 2048 RSA - 2048" \
    "$(jbody '"\(.keyAlgorithm) \(.keySize) \(.keyType)"')"

# --- list ---
req GET "/api/ssl/v1?commonName=a.example.test" "${AUTH[@]}"
check "list by CN: 200" 200 "$STATUS"
check "list by CN: X-Total-Count 1" 1 "$(header X-Total-Count)"
check "list by CN: the certificate" "$SSL_ID $SERIAL" \
    "$(jbody '.[] | "\(.sslId) \(.serialNumber)"')"
req GET "/api/ssl/v1?commonName=nothing.example.test" "${AUTH[@]}"
check "list no match: count 0, []" "0 0" \
    "$(header X-Total-Count) $(jbody length)"
STATUS=$(curl -sS -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -I \
    --cacert "$STATE/root.pem" "$BASE/api/ssl/v1?serialNumber=$SERIAL" \
    "${AUTH[@]}") || STATUS=curl-failed
check "HEAD list: 200 and count 1" "200 1" \
    "$STATUS $(header X-Total-Count)"
req GET "/api/ssl/v1?size=201" "${AUTH[@]}"
check "list size 201: 400 -1601" "400 -1601" "$STATUS $(jbody .code)"

# --- revoke ---
req POST "/api/ssl/v1/revoke/$SSL_ID" "${AUTH[@]}" \
    -H "Content-Type: application/json" \
    -d '{"reasonCode":4,"reason":"superseded by test"}'
check "revoke: 204" 204 "$STATUS"
check "revoke: empty body" 0 "$(wc -c <"$TMP/body" | tr -d ' ')"
req POST "/api/ssl/v1/revoke/$SSL_ID" "${AUTH[@]}" \
    -H "Content-Type: application/json" \
    -d '{"reasonCode":4,"reason":"again"}'
check "revoke again: 400 -159" "400 -159" "$STATUS $(jbody .code)"
req GET "/api/ssl/v1/collect/$SSL_ID/x509" "${AUTH[@]}"
COLLECTS=$((COLLECTS + 1))
check "collect revoked: 400 -110" "400 -110" "$STATUS $(jbody .code)"
req GET "/api/ssl/v1/$SSL_ID" "${AUTH[@]}"
check "details revoked: status, reasonCode" "Revoked 4" \
    "$(jbody '"\(.status) \(.reasonCode)"')"
REVOKES=2

# --- enroll errors ---
# bad_enroll NAME CODE JQ-FILTER [SAN]
bad_enroll() {
	enroll_json "${4:-a.example.test}" "$TMP/a.csr" "$3" >"$TMP/bad.json"
	req POST /api/ssl/v1/enroll "${AUTH[@]}" \
	    -H "Content-Type: application/json" --data-binary @"$TMP/bad.json"
	ENROLL_CALLS=$((ENROLL_CALLS + 1))
	check "$1: 400 $2" "400 $2" "$STATUS $(jbody .code)"
}
bad_enroll "subjAltNames as array" -1002 \
    '| .subjAltNames = ["a.example.test","b.example.test"]'
check "subjAltNames as array: description" "Cannot parse message body" \
    "$(jbody .description)"
bad_enroll "term 400" -36 '| .term = 400'
bad_enroll "term 365 on a public profile" -36 '| .term = 365'
bad_enroll "unknown certType" -39 '| .certType = 1'
bad_enroll "unknown orgId" -1023 '| .orgId = 77'
bad_enroll "no csr" -7 '| del(.csr)'
bad_enroll "garbage csr" -10 '| .csr = "bm90IGEgY3Ny"'
bad_enroll "RSA for the ECC profile" -11 '| .certType = 284'
req POST /api/ssl/v1/enroll "${AUTH[@]}" -d '{"orgId":'
ENROLL_CALLS=$((ENROLL_CALLS + 1))
check "malformed JSON: 400 -1002" "400 -1002" "$STATUS $(jbody .code)"

# bare base64 CSR, duplicate of the first one
openssl req -in "$TMP/a.csr" -outform DER | openssl base64 >"$TMP/a.b64"
enroll_json "a.example.test" "$TMP/a.b64" >"$TMP/dup.json"
req POST /api/ssl/v1/enroll "${AUTH[@]}" --data-binary @"$TMP/dup.json"
ENROLL_CALLS=$((ENROLL_CALLS + 1))
check "enroll bare base64 CSR: 200" 200 "$STATUS"
DUP_ID=$(jbody .sslId)
check "sslIds increase" yes "$([ "$DUP_ID" -gt "$SSL_ID" ] && echo yes)"

# --- injected failure ---
req POST /sim/control -d '{"fail_next":{"path_prefix":"/api/ssl/v1/enroll",
    "status":500,"code":-2,"description":"Internal error. Please contact Support for details.","count":1}}'
check "control fail_next: 200" 200 "$STATUS"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TMP/c.key" -subj /CN=c.example.test -out "$TMP/c.csr" \
    2>/dev/null
enroll_json "c.example.test" "$TMP/c.csr" >"$TMP/c.json"
req POST /private/api/ssl/v1/enroll "${AUTH[@]}" --data-binary @"$TMP/c.json"
ENROLL_CALLS=$((ENROLL_CALLS + 1))
check "injected: 500 -2" "500 -2" "$STATUS $(jbody .code)"
req POST /private/api/ssl/v1/enroll "${AUTH[@]}" --data-binary @"$TMP/c.json"
ENROLL_CALLS=$((ENROLL_CALLS + 1))
check "after injection: 200" 200 "$STATUS"

# --- held-back enroll reply ---
req POST /sim/control -d '{"hang_enrolls":1}'
check "control hang_enrolls: 200" "200 1" "$STATUS $(jbody .hang_enrolls)"
rc=0
curl -sS -o /dev/null --max-time 2 --cacert "$STATE/root.pem" \
    "${AUTH[@]}" --data-binary @"$TMP/c.json" \
    "$BASE/api/ssl/v1/enroll" 2>/dev/null || rc=$?
ENROLL_CALLS=$((ENROLL_CALLS + 1))
check "held enroll: client times out (curl 28)" 28 "$rc"
held=1
for _ in $(seq 1 50); do
	req GET /sim/stats
	held=$(jbody .held_requests)
	[ "$held" = 0 ] && break
	sleep 0.1
done
check "held enroll: freed after the client left" 0 "$held"

# --- renew by id: a new order with the same names ---
req POST "/api/ssl/v1/renewById/$SSL_ID" "${AUTH[@]}" -d '""'
check "renewById with \"\": 400 -1002" "400 -1002" "$STATUS $(jbody .code)"
req POST "/api/ssl/v1/renewById/$SSL_ID" "${AUTH[@]}" -d '{}'
RENEW_ID=$(jbody .sslId)
check "renewById {}: 200 with a new sslId" "200 yes" \
    "$STATUS $([ "$RENEW_ID" -gt "$DUP_ID" ] 2>/dev/null && echo yes)"
req GET "/api/ssl/v1/$RENEW_ID" "${AUTH[@]}"
check "renewal: same names, Applied" \
    "Applied a.example.test,b.example.test" \
    "$(jbody '"\(.status) \(.subjectAlternativeNames | join(","))"')"

# --- token lifetime ---
req POST /sim/control -d '{"token_lifetime":2}'
req POST "$TOKEN_PATH" -d grant_type=client_credentials \
    -d client_id=acmebridge -d client_secret=sim-secret
SHORT=$(jbody .access_token)
check "short token: expires_in 2" 2 "$(jbody .expires_in)"
req GET /api/ssl/v1/types -H "Authorization: Bearer $SHORT"
check "short token: valid at once" 200 "$STATUS"
sleep 3
req GET /api/ssl/v1/types -H "Authorization: Bearer $SHORT"
check "short token: expired after its lifetime" 401 "$STATUS"
req POST /sim/control -d '{"token_lifetime":300}'

# --- misc routing ---
req GET /api/ssl/v1/enroll "${AUTH[@]}"
check "wrong method: 405" 405 "$STATUS"
req GET /api/nothing/here "${AUTH[@]}"
check "unknown path: 404 JSON" "404 -1" "$STATUS $(jbody .code)"

# --- stats ---
req GET /sim/stats
check "stats: enroll_calls" "$ENROLL_CALLS" "$(jbody .enroll_calls)"
check "stats: enrollments" 4 "$(jbody .enrollments)"
# 1002 repeats the CSR of 1001, the held 1004 the CSR of 1003
check "stats: duplicate_csr_enrollments" 2 \
    "$(jbody .duplicate_csr_enrollments)"
check "stats: collect_calls" "$COLLECTS" "$(jbody .collect_calls)"
check "stats: revoke_calls" "$REVOKES" "$(jbody .revoke_calls)"
check "stats: token_calls" 4 "$(jbody .token_calls)"
check "stats: renew_calls" 2 "$(jbody .renew_calls)"
check "stats: certificates" 5 "$(jbody '.certificates | length')"
check "stats: first certificate" \
    "$SSL_ID Revoked a.example.test from test_sim_api $CSR_SHA" \
    "$(jbody '.certificates[0] |
	"\(.sslId) \(.status) \(.commonName) \(.comments) \(.csr_sha256)"')"

# --- DCV without --dns-resolver: a submission is never checked ---
req POST /sim/control -d '{"add_domain":{"name":"nodns.test"}}'
check "control add_domain: 200" 200 "$STATUS"
req POST /api/dcv/v1/validation/submit/domain/txt "${AUTH[@]}" \
    -H "Content-Type: application/json" -d '{"domain":"nodns.test"}'
check "no resolver: submit 200 SUBMITTED" "200 SUBMITTED" \
    "$STATUS $(jbody .orderStatus)"
sleep 1.5
req POST /api/dcv/v2/validation/status "${AUTH[@]}" \
    -H "Content-Type: application/json" -d '{"domain":"nodns.test"}'
check "no resolver: still SUBMITTED, no check" \
    "NOT_VALIDATED SUBMITTED false" \
    "$(jbody '"\(.status) \(.orderStatus) \(has("lastCheck"))"')"

# --- restart: state survives ---
stop_sim
start_sim
req GET "/api/ssl/v1/$SSL_ID" "${AUTH[@]}"
check "after restart: certificate kept" "Revoked $SERIAL" \
    "$(jbody '"\(.status) \(.serialNumber)"')"
stop_sim

# --- domains and DCV, checked against BIND9 ---
# named serves ZONE on a loopback port (the templates the other integration
# tests use); records are added with nsupdate; the simulator asks it.
ZONE=dcv.test
TSIG_NAME=test-sim-api.
TSIG_SECRET=$(openssl rand -base64 32)
start_named() {
	local dir=$TMP/named tpl
	tpl=$(cd "$(dirname "$0")" && pwd)/bind
	mkdir -p "$dir"
	DNS_PORT=$(python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
	sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$DNS_PORT|g" -e "s|@ZONE@|$ZONE|g" \
	    -e "s|@TSIG_NAME@|$TSIG_NAME|g" -e "s|@TSIG_SECRET@|$TSIG_SECRET|g" \
	    -e "s|@TRANSFER@|none|g" "$tpl/named.conf.in" >"$dir/named.conf"
	sed -e "s|@ZONE@|$ZONE|g" "$tpl/zone.in" >"$dir/$ZONE.zone"
	printf 'key "%s" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
	    "$TSIG_NAME" "$TSIG_SECRET" >"$TMP/tsig.key"
	local user=()
	[ "$(id -u)" -ne 0 ] || user=(-u root)
	named -g -4 "${user[@]}" -c "$dir/named.conf" >"$dir/named.log" 2>&1 &
	NAMED_PID=$!
	for _ in $(seq 1 100); do
		dig +short +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" "$ZONE" SOA |
		    grep -q . && return 0
		sleep 0.1
	done
	echo "test_sim_api: named did not start:" >&2
	cat "$dir/named.log" >&2
	exit 1
}
# nsupdate_zone COMMAND...: a TSIG-signed update of ZONE
nsupdate_zone() {
	printf 'server 127.0.0.1 %s\nzone %s\n%s\nsend\n' "$DNS_PORT" "$ZONE" \
	    "$*" | nsupdate -k "$TMP/tsig.key"
}
# txt_escape STRING: every byte as \DDD, so nothing in it is special to
# nsupdate (the TXT points carry quotes, backslashes and semicolons)
txt_escape() {
	python3 -c 'import sys
print("".join("\\%03d" % b for b in sys.argv[1].encode()))' "$1"
}
JSON=(-H "Content-Type: application/json")
# dcv PATH DOMAIN: POST /api/dcv/PATH with {"domain": DOMAIN}
dcv() {
	req POST "/api/dcv/$1" "${AUTH[@]}" "${JSON[@]}" \
	    -d "$(jq -nc --arg d "$2" '{domain: $d}')"
}
# wait_order DOMAIN STATUS ORDER: poll the v2 status for up to 15 s
wait_order() {
	local got=
	for _ in $(seq 1 60); do
		dcv v2/validation/status "$1"
		got="$(jbody '"\(.status) \(.orderStatus)"')"
		[ "$got" = "$2 $3" ] && break
		sleep 0.25
	done
	check "$1: $2 $3" "$2 $3" "$got"
}
# enroll_dcv NAME: enroll a fresh CSR for NAME; sets STATUS and the body
enroll_dcv() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$TMP/d.key" -subj "/CN=$1" -out "$TMP/d.csr" 2>/dev/null
	enroll_json "$1" "$TMP/d.csr" >"$TMP/d.json"
	req POST /api/ssl/v1/enroll "${AUTH[@]}" "${JSON[@]}" \
	    --data-binary @"$TMP/d.json"
}

start_named
start_sim --domain "$ZONE" --domain "pre.$ZONE:validated" --require-dcv \
    --dns-resolver "127.0.0.1:$DNS_PORT" --dcv-check-attempts 3
TODAY=$(date -u +%F)
IN198=$(date -u -d '+198 days' +%F)

# domain API
req POST /sim/control -d "{\"add_domain\":{\"name\":\"cn.$ZONE\"}}"
check "control add_domain: 200" 200 "$STATUS"
req POST /sim/control -d '{"add_domain":{"name":"bad name"}}'
check "control add_domain: bad name 400" 400 "$STATUS"
req GET /api/domain/v1 "${AUTH[@]}"
check "domain list: 3, X-Total-Count" "3 3" \
    "$(jbody length) $(header X-Total-Count)"
req GET "/api/domain/v1?size=1&position=1" "${AUTH[@]}"
check "domain list page: 1 of 3" "1 3 pre.$ZONE" \
    "$(jbody length) $(header X-Total-Count) $(jbody '.[0].name')"
req GET "/api/domain/v1?name=$ZONE&state=active&status=approved" "${AUTH[@]}"
check "domain list by name" "1 $ZONE" "$(jbody length) $(jbody '.[0].name')"
DOM_ID=$(jbody '.[0].id')
req GET "/api/domain/v1?state=inactive" "${AUTH[@]}"
check "domain list: no inactive domain" "0 0" \
    "$(jbody length) $(header X-Total-Count)"
req GET "/api/domain/v1?state=gone" "${AUTH[@]}"
check "domain list: bad state 400 -1601" "400 -1601" "$STATUS $(jbody .code)"
req GET "/api/domain/v1?size=201" "${AUTH[@]}"
check "domain list: size 201 400 -1601" "400 -1601" "$STATUS $(jbody .code)"
req GET "/api/domain/v1/$DOM_ID" "${AUTH[@]}"
check "domain details" "$ZONE ACTIVE ACTIVE NOT_VALIDATED 1234 SSL false" \
    "$(jbody '"\(.name) \(.state) \(.delegationStatus) \(.validationStatus) \(.delegations[0].orgId) \(.delegations[0].certTypes[0]) \(has("dcvExpiration"))"')"
req GET "/api/domain/v1?name=pre.$ZONE" "${AUTH[@]}"
req GET "/api/domain/v1/$(jbody '.[0].id')" "${AUTH[@]}"
check "seeded validated domain" "VALIDATED $TODAY $IN198" \
    "$(jbody '"\(.validationStatus) \(.dcvValidation) \(.dcvExpiration)"')"
NEW_DOMAIN=$(jq -nc '{name:"new.example", description:"d", active:true,
    delegations:[{orgId:1234, certTypes:["SSL"],
      domainCertificateRequestPrivileges:["DOMAIN","SUBDOMAIN"]}]}')
req POST /api/domain/v1 "${AUTH[@]}" "${JSON[@]}" -d "$NEW_DOMAIN"
check "domain create: 201, no body" "201 0" "$STATUS $(body | wc -c)"
NEW_LOC=$(header Location)
check_match "domain create: Location" '/api/domain/v1/[0-9]+$' "$NEW_LOC"
req POST /api/domain/v1 "${AUTH[@]}" "${JSON[@]}" -d "$NEW_DOMAIN"
check "domain create again: -700" "400 -700 Such domain already exists" \
    "$STATUS $(jbody .code) $(jbody .description)"
req POST /api/domain/v1 "${AUTH[@]}" "${JSON[@]}" \
    -d "$(jq -c '.name = "a.b"' <<<"$NEW_DOMAIN")"
check "domain create: short name 400 -1002" "400 -1002" \
    "$STATUS $(jbody .code)"
req POST /api/domain/v1 "${AUTH[@]}" "${JSON[@]}" \
    -d "$(jq -c '.name = "bad_name.example"' <<<"$NEW_DOMAIN")"
check "domain create: bad name 400 -732" "400 -732" "$STATUS $(jbody .code)"
req POST /api/domain/v1 "${AUTH[@]}" "${JSON[@]}" \
    -d "$(jq -c '.name = "x.example" | .delegations = []' <<<"$NEW_DOMAIN")"
check "domain create: no delegation 400 -1002" "400 -1002" \
    "$STATUS $(jbody .code)"
req POST /api/domain/v1 "${AUTH[@]}" "${JSON[@]}" \
    -d "$(jq -c '.name = "x.example" | .delegations[0].orgId = 77' \
	<<<"$NEW_DOMAIN")"
check "domain create: other org 400 -1023" "400 -1023" \
    "$STATUS $(jbody .code)"
check "domain create: absolute Location" "$BASE" "${NEW_LOC%/api/*}"
req DELETE "/${NEW_LOC#*//*/}" "${AUTH[@]}"
check "domain delete: 204" 204 "$STATUS"
req GET "/${NEW_LOC#*//*/}" "${AUTH[@]}"
check "deleted domain: 404" 404 "$STATUS"

# DCV errors
dcv v2/validation/status "www.$ZONE"
check "dcv on a subdomain: -723" "400 -723" "$STATUS $(jbody .code)"
dcv v1/validation/status unknown.example
check "dcv on an unknown domain: -727" "400 -727" "$STATUS $(jbody .code)"
dcv v2/validation/status "$ZONE"
check "dcv status before" "NOT_VALIDATED NOT_INITIATED false" \
    "$(jbody '"\(.status) \(.orderStatus) \(has("validationDate"))"')"

# enrollment needs a current DCV
enroll_dcv "www.$ZONE"
check "require-dcv: not validated -1137" "400 -1137" "$STATUS $(jbody .code)"
enroll_dcv www.elsewhere.example
check "require-dcv: no SCM domain -1010" "400 -1010" "$STATUS $(jbody .code)"
enroll_dcv "*.pre.$ZONE"
check "require-dcv: validated (wildcard) 200" 200 "$STATUS"

# TXT: no start; the submit hands out the value; BIND9 serves it
dcv v2/validation/start/domain/txt "$ZONE"
check "txt start: a message" \
    "200 DNS TXT domain validation method does not require start operation" \
    "$STATUS $(jbody .message)"
dcv v1/validation/submit/domain/txt "$ZONE"
check "txt submit" "200 NOT_VALIDATED SUBMITTED _pki-validation.$ZONE." \
    "$STATUS $(jbody '"\(.status) \(.orderStatus) \(.host)"')"
POINT=$(jq -j .point <"$TMP/body")
check "txt point: 32 characters" 32 "${#POINT}"
check_match "txt point: backslash, |, ;, backquote" '\\.*\|.*;.*`' "$POINT"
nsupdate_zone "update add _pki-validation.$ZONE. 5 TXT \"$(txt_escape "$POINT")\""
check "txt record as published" "$POINT" \
    "$(dig +short @127.0.0.1 -p "$DNS_PORT" "_pki-validation.$ZONE" TXT |
	python3 -c 'import re, sys
s = sys.stdin.read().strip()[1:-1]
print(re.sub(r"\\(\d{3}|.)", lambda m: chr(int(m[1])) if len(m[1]) == 3
    else m[1], s), end="")')"
wait_order "$ZONE" VALIDATED NOT_INITIATED
check "txt validated: dates" "$TODAY $IN198 TXT" \
    "$(jbody '"\(.validationDate) \(.expirationDate) \(.orderMode)"')"
check_match "txt validated: lastCheck" '^[0-9-]{10}T[0-9:]{8}\.[0-9]{3}Z$' \
    "$(jbody .lastCheck)"
req GET "/api/domain/v1/$DOM_ID" "${AUTH[@]}"
check "domain details after DCV" "VALIDATED DNSTXT_RANDOM_VALUE $IN198" \
    "$(jbody '"\(.validationStatus) \(.validationMethod) \(.dcvExpiration)"')"
enroll_dcv "www.$ZONE"
check "require-dcv: validated 200" 200 "$STATUS"

# CNAME: start, publish, submit
dcv v1/validation/start/domain/cname "cn.$ZONE"
CN_HOST=$(jbody .host)
CN_POINT=$(jbody .point)
check_match "cname start: host" "^_[0-9a-f]{32}\\.cn\\.$ZONE\\.\$" "$CN_HOST"
check_match "cname start: point" \
    '^[0-9a-f]{32}\.[0-9a-f]{32}\.sectigo\.com\.$' "$CN_POINT"
dcv v2/validation/status "cn.$ZONE"
check "cname started: AWAITING_SUBMISSION" \
    "AWAITING_SUBMISSION CNAME $CN_HOST" \
    "$(jbody '"\(.orderStatus) \(.orderMode) \(.host)"')"
nsupdate_zone "update add $CN_HOST 5 CNAME $CN_POINT"
dcv v2/validation/submit/domain/cname "cn.$ZONE"
check "cname submit: SUBMITTED" "200 SUBMITTED" "$STATUS $(jbody .orderStatus)"
wait_order "cn.$ZONE" VALIDATED NOT_INITIATED

# not found: checked 3 times, then REJECTED
req POST /sim/control -d "{\"add_domain\":{\"name\":\"nf.$ZONE\"}}"
dcv v1/validation/submit/domain/txt "nf.$ZONE"
wait_order "nf.$ZONE" NOT_VALIDATED REJECTED

# list, clock, clear, delete
req GET "/api/dcv/v1/validation?dcvStatus=VALIDATED" "${AUTH[@]}"
check "dcv list: validated" "3 3" "$(jbody length) $(header X-Total-Count)"
req GET "/api/dcv/v2/validation?orderStatus=REJECTED&size=5" "${AUTH[@]}"
check "dcv list: rejected" "1 nf.$ZONE TXT" \
    "$(jbody length) $(jbody '.[0] | "\(.domain) \(.dcvOrderMethod)"')"
req GET "/api/dcv/v1/validation?dcvStatus=bogus" "${AUTH[@]}"
check "dcv list: bad status 400 -1601" "400 -1601" "$STATUS $(jbody .code)"
req POST /sim/control -d '{"advance_days":199}'
check "control advance_days: 200" 200 "$STATUS"
dcv v2/validation/status "$ZONE"
check "199 days later: EXPIRED" EXPIRED "$(jbody .status)"
req GET "/api/domain/v1/$DOM_ID" "${AUTH[@]}"
check "199 days later: domain EXPIRED" EXPIRED "$(jbody .validationStatus)"
enroll_dcv "www.$ZONE"
check "require-dcv: expired -1137" "400 -1137" "$STATUS $(jbody .code)"
dcv v1/validation/clear "nf.$ZONE"
check "clear" "200 NOT_VALIDATED NOT_INITIATED" \
    "$STATUS $(jbody '"\(.status) \(.orderStatus)"')"
check "clear: message" \
    "DCV status: NOT_VALIDATED; DCV order status: NOT_INITIATED" \
    "$(jbody .message)"
dcv v1/validation/delete "$ZONE"
check "delete: 200, empty" "200 0" "$STATUS $(body | wc -c)"
dcv v2/validation/status "$ZONE"
check "deleted validation" NOT_VALIDATED "$(jbody .status)"
req GET /sim/stats
check "stats: dcv counters" "1 3 2 1" \
    "$(jbody '.dcv | "\(.starts) \(.submits) \(.validated) \(.rejected)"')"
stop_sim

# --- certificate life cycle: profiles, approval, console, report, faults ---
# A fresh simulator (own state directory), one collect poll before issue.
STATE=$TMP/state2
mkdir -p "$STATE"
start_sim --pending-polls 1 --approval-required --seed 7
# new_csr NAME: a fresh P-256 key and CSR for NAME in $TMP/n.csr
new_csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$TMP/n.key" -subj "/CN=$1" -out "$TMP/n.csr" 2>/dev/null
}
# enroll_new NAME [JQ-FILTER]: enroll a fresh CSR for NAME; sets STATUS,
# NEW_ID (the sslId or "") and the body
enroll_new() {
	new_csr "$1"
	enroll_json "$1" "$TMP/n.csr" "${2:-}" >"$TMP/n.json"
	req POST /api/ssl/v1/enroll "${AUTH[@]}" "${JSON[@]}" \
	    --data-binary @"$TMP/n.json"
	NEW_ID=$(jbody '.sslId // empty')
}
# collect_leaf ID: polls collect (x509CO) up to 10 times; the leaf goes to
# $TMP/leaf.pem; sets STATUS of the last call
collect_leaf() {
	for _ in $(seq 1 10); do
		req GET "/api/ssl/v1/collect/$1/x509CO" "${AUTH[@]}"
		[ "$STATUS" = 200 ] && break
	done
	cp "$TMP/body" "$TMP/leaf.pem"
}
# validity FILE: notAfter - notBefore in seconds
validity() {
	local nb na
	nb=$(openssl x509 -noout -startdate -in "$1" | cut -d= -f2)
	na=$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2)
	echo $(($(date -u -d "$na" +%s) - $(date -u -d "$nb" +%s)))
}
# details ID JQ: GET the details and print the jq expression
details() {
	req GET "/api/ssl/v1/$1" "${AUTH[@]}"
	jbody "$2"
}

TODAY_US=$(date -u +%m/%d/%Y)
# control JSON: POST /sim/control
control() {
	req POST /sim/control -d "$1"
}
# approval NAME ID JSON: POST /api/ssl/v1/NAME/ID with JSON
approval() {
	req POST "/api/ssl/v1/$1/$2" "${AUTH[@]}" "${JSON[@]}" -d "$3"
}

# approval workflow (--approval-required)
req GET /sim/control
check "approval required: auto_approve false" false "$(jbody .auto_approve)"
enroll_new req1.example.test
check "approval: enroll 200" 200 "$STATUS"
REQ1=$NEW_ID
check "approval: details Requested, no approved date" "Requested false" \
    "$(details "$REQ1" '"\(.status) \(has("approved"))"')"
req GET "/api/ssl/v1/collect/$REQ1/x509CO" "${AUTH[@]}"
check "approval: collect while Requested 400 -183" \
    "400 -183 Certificate is not collectable." \
    "$STATUS $(jbody .code) $(jbody .description)"
approval approve "$REQ1" '""'
check "approve with a string body: 400 -1002" "400 -1002" \
    "$STATUS $(jbody .code)"
approval approve "$REQ1" '{"message":""}'
check "approve with an empty message: 400 -1601" "400 -1601" \
    "$STATUS $(jbody .code)"
approval approve 99999 '{"message":"ok"}'
check "approve unknown sslId: 404 -5101" "404 -5101" "$STATUS $(jbody .code)"
approval approve "$REQ1" '{"message":"looks fine"}'
check "approve: 204, empty body" "204 0" "$STATUS $(body | wc -c)"
check "approved: details Approved with the date" "Approved $TODAY_US" \
    "$(details "$REQ1" '"\(.status) \(.approved)"')"
approval approve "$REQ1" '{"message":"again"}'
check "approve again: 400 -1112" \
    "400 -1112 Certificate can't be approved cause it has state = APPROVED" \
    "$STATUS $(jbody .code) $(jbody .description)"
req GET "/api/ssl/v1/collect/$REQ1/x509CO" "${AUTH[@]}"
check "approved: first collect pending (code 0)" "400 0" \
    "$STATUS $(jbody .code)"
req GET "/api/ssl/v1/collect/$REQ1/x509CO" "${AUTH[@]}"
check "approved: second collect issued" 200 "$STATUS"
check "approved: details Issued" Issued "$(details "$REQ1" .status)"
approval approve "$REQ1" '{"message":"late"}'
check "approve an issued one: -1112 ISSUED" \
    "400 Certificate can't be approved cause it has state = ISSUED" \
    "$STATUS $(jbody .description)"

enroll_new req2.example.test
REQ2=$NEW_ID
approval decline "$REQ2" '{"message":"not our domain"}'
check "decline: 204, empty body" "204 0" "$STATUS $(body | wc -c)"
check "declined: details" \
    "Declined $TODAY_US not our domain false from test_sim_api" \
    "$(details "$REQ2" \
	'"\(.status) \(.declined) \(.declineMessage) \(has("approved")) \(.comments)"')"
req GET "/api/ssl/v1/collect/$REQ2/x509CO" "${AUTH[@]}"
check "declined: collect 400 -169" "400 -169" "$STATUS $(jbody .code)"
approval approve "$REQ2" '{"message":"too late"}'
check "approve a declined one: -1112 DECLINED" \
    "400 Certificate can't be approved cause it has state = DECLINED" \
    "$STATUS $(jbody .description)"
approval decline "$REQ2" '{"message":"again"}'
check "decline again: 400 -1112" "400 -1112" "$STATUS $(jbody .code)"

# the console: approve and decline through /sim/control
enroll_new req3.example.test
REQ3=$NEW_ID
enroll_new req4.example.test
REQ4=$NEW_ID
control "{\"approve\":$REQ3,\"decline\":{\"id\":$REQ4,\"message\":\"no\"}}"
check "control approve + decline: 200" 200 "$STATUS"
check "console approve: Approved" Approved "$(details "$REQ3" .status)"
check "console decline: Declined, message" "Declined no" \
    "$(details "$REQ4" '"\(.status) \(.declineMessage)"')"
control "{\"approve\":$REQ4}"
check "control approve of a declined one: 400" 400 "$STATUS"
req POST "/api/ssl/v1/renewById/$REQ1" "${AUTH[@]}" "${JSON[@]}" -d '{}'
check "renewal under approval: Requested" "200 Requested" \
    "$STATUS $(details "$(jbody .sslId)" .status)"
req GET /sim/stats
check "stats: approve_calls, decline_calls" "7 2" \
    "$(jbody '"\(.approve_calls) \(.decline_calls)"')"

# console revocation and replacement
control '{"auto_approve":true}'
check "control auto_approve: 200 true" "200 true" \
    "$STATUS $(jbody .auto_approve)"
enroll_new cr1.example.test
CR1=$NEW_ID
collect_leaf "$CR1"
control "{\"console_revoke\":{\"id\":$CR1,\"reason\":\"keyCompromise\"}}"
check "console_revoke by id: 200" 200 "$STATUS"
check "console_revoke: details" "Revoked $TODAY_US 1" \
    "$(details "$CR1" '"\(.status) \(.revoked) \(.reasonCode)"')"
req GET "/api/ssl/v1/collect/$CR1/x509CO" "${AUTH[@]}"
check "console_revoke: collect -110" "400 -110" "$STATUS $(jbody .code)"
control "{\"console_revoke\":{\"id\":$CR1,\"reason\":\"keyCompromise\"}}"
check "console_revoke again: 400" 400 "$STATUS"
enroll_new cr2.example.test
CR2=$NEW_ID
collect_leaf "$CR2"
CR2_SERIAL=$(details "$CR2" .serialNumber)
control "{\"console_revoke\":{\"serial\":\"$CR2_SERIAL\",\"reason\":4}}"
check "console_revoke by serial: Revoked 4" "200 Revoked 4" \
    "$STATUS $(details "$CR2" '"\(.status) \(.reasonCode)"')"
control '{"console_revoke":{"id":1,"reason":"bogus"}}'
check "console_revoke bad reason: 400" 400 "$STATUS"

enroll_new cr3.example.test
CR3=$NEW_ID
collect_leaf "$CR3"
CR3_OLD=$(details "$CR3" .serialNumber)
control "{\"console_replace\":{\"id\":$CR3}}"
check "console_replace: 200" 200 "$STATUS"
details "$CR3" . >/dev/null
CR3_NEW=$(jbody .serialNumber)
check "console_replace: Issued, replaced today, old serial listed" \
    "Issued $TODAY_US $CR3_OLD" \
    "$(jbody '"\(.status) \(.replaced) \(.replacedSerialNumbers | join(","))"')"
check "console_replace: a new serial" yes \
    "$([ -n "$CR3_NEW" ] && [ "$CR3_NEW" != "$CR3_OLD" ] && echo yes)"
collect_leaf "$CR3"
check "console_replace: collect gives the new certificate" \
    "$(echo "$CR3_NEW" | tr -d :)" \
    "$(openssl x509 -noout -serial -in "$TMP/leaf.pem" | cut -d= -f2)"
check "console_replace: same names" "cr3.example.test" \
    "$(openssl x509 -noout -ext subjectAltName -in "$TMP/leaf.pem" |
	tail -n +2 | tr -d ' ' | sed 's/DNS://g')"

# replace endpoint: same sslId, new CSR, pending again, new serial
enroll_new rp1.example.test
RP1=$NEW_ID
collect_leaf "$RP1"
RP1_OLD=$(details "$RP1" .serialNumber)
new_csr rp1.example.test
# replace_json REASON [JQ]: the replace body with the CSR in $TMP/n.csr
replace_json() {
	jq -n --rawfile csr "$TMP/n.csr" --arg reason "$1" \
	    '{csr:$csr, reason:$reason, commonName:"rp1.example.test",
	      subjectAlternativeNames:["rp1.example.test","www.rp1.example.test"]}
	    '"${2:-}"
}
req POST "/api/ssl/v1/replace/$RP1" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(replace_json "" '| del(.reason)')"
check "replace without reason: 400 -7" "400 -7" "$STATUS $(jbody .code)"
req POST "/api/ssl/v1/replace/$RP1" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(replace_json "key rotation" \
	'| .subjectAlternativeNames = "rp1.example.test,www.rp1.example.test"')"
check "replace with SANs as a string: 400 -1002" "400 -1002" \
    "$STATUS $(jbody .code)"
req POST "/api/ssl/v1/replace/$RP1" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(replace_json "$(printf 'x%.0s' $(seq 1 513))")"
check "replace with a 513-character reason: 400 -1601" "400 -1601" \
    "$STATUS $(jbody .code)"
req POST "/api/ssl/v1/replace/$RP1" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(replace_json "key rotation")"
check "replace: 204, empty body" "204 0" "$STATUS $(body | wc -c)"
check "replaced: same sslId Applied, no serial, old serial listed" \
    "Applied null $RP1_OLD $TODAY_US" \
    "$(details "$RP1" '"\(.status) \(.serialNumber) \(.replacedSerialNumbers | join(",")) \(.replaced)"')"
req POST "/api/ssl/v1/replace/$RP1" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(replace_json "again")"
check "replace while pending: 400 -130" "400 -130" "$STATUS $(jbody .code)"
req GET "/api/ssl/v1/collect/$RP1/x509CO" "${AUTH[@]}"
check "replaced: collect pending first" "400 0" "$STATUS $(jbody .code)"
collect_leaf "$RP1"
RP1_NEW=$(details "$RP1" .serialNumber)
check "replaced: Issued with a new serial" "Issued yes" \
    "$(details "$RP1" .status) $([ "$RP1_NEW" != "$RP1_OLD" ] && echo yes)"
check "replaced: the leaf has the new key and names" \
    "$(openssl req -in "$TMP/n.csr" -noout -pubkey) rp1.example.test,www.rp1.example.test" \
    "$(openssl x509 -in "$TMP/leaf.pem" -noout -pubkey) $(openssl x509 -noout \
	-ext subjectAltName -in "$TMP/leaf.pem" | tail -n +2 |
	tr -d ' ' | sed 's/DNS://g')"
enroll_new rq.example.test
req POST "/sim/control" -d '{"auto_approve":false}'
enroll_new rq2.example.test
RQ2=$NEW_ID
req POST "/sim/control" -d '{"auto_approve":true}'
new_csr rp1.example.test
req POST "/api/ssl/v1/replace/$RQ2" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(replace_json "x")"
check "replace a Requested order: 400 -130" "400 -130" \
    "$STATUS $(jbody .code)"

# renewById: same names, profile and term; the old CSR or a new one
enroll_new rn.example.test '| .certType = 226 | .term = 90'
RN=$NEW_ID
req POST "/api/ssl/v1/renewById/$RN" "${AUTH[@]}" "${JSON[@]}" -d '{}'
check "renewById of an Applied order: 400 -105" "400 -105" \
    "$STATUS $(jbody .code)"
collect_leaf "$RN"
req POST "/api/ssl/v1/renewById/$RN" "${AUTH[@]}"
check "renewById with an empty body: 400 -1002" "400 -1002" \
    "$STATUS $(jbody .code)"
req POST "/api/ssl/v1/renewById/$RN" "${AUTH[@]}" "${JSON[@]}" -d '{}'
RN2=$(jbody .sslId)
check "renewById {}: 200, a new sslId" "200 yes" \
    "$STATUS $([ "$RN2" -gt "$RN" ] 2>/dev/null && echo yes)"
check "renewal: same names, profile, term; old one renewed" \
    "rn.example.test 226 90 false true" \
    "$(details "$RN2" '"\(.subjectAlternativeNames | join(",")) \(.certType.id) \(.term) \(.renewed)"') $(details "$RN" .renewed)"
collect_leaf "$RN2"
check "renewal with the stored CSR: same key" \
    "$(openssl req -in "$TMP/n.csr" -noout -pubkey)" \
    "$(openssl x509 -in "$TMP/leaf.pem" -noout -pubkey)"
new_csr rn.example.test
req POST "/api/ssl/v1/renewById/$RN" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(jq -n --rawfile csr "$TMP/n.csr" '{csr:$csr}')"
RN3=$(jbody .sslId)
collect_leaf "$RN3"
check "renewal with a new CSR: its key" \
    "$(openssl req -in "$TMP/n.csr" -noout -pubkey)" \
    "$(openssl x509 -in "$TMP/leaf.pem" -noout -pubkey)"

# profiles and terms
enroll_new p90.example.test '| .certType = 226 | .term = 90'
check "profile 226 term 90: 200" 200 "$STATUS"
P90=$NEW_ID
collect_leaf "$NEW_ID"
check "term 90: collected" 200 "$STATUS"
check "term 90: notAfter = notBefore + 90 d - 1 s" $((90 * 86400 - 1)) \
    "$(validity "$TMP/leaf.pem")"
check "term 90: notBefore at 00:00:00 UTC" "00:00:00" \
    "$(date -u -d "$(openssl x509 -noout -startdate -in "$TMP/leaf.pem" |
	cut -d= -f2)" +%T)"
check "term 90: details term and expires" \
    "90 $(date -u -d "$(openssl x509 -noout -enddate -in "$TMP/leaf.pem" |
	cut -d= -f2)" +%m/%d/%Y)" "$(details "$NEW_ID" '"\(.term) \(.expires)"')"
enroll_new p199.example.test
collect_leaf "$NEW_ID"
check "term 199: notAfter = notBefore + 199 d - 1 s" $((199 * 86400 - 1)) \
    "$(validity "$TMP/leaf.pem")"
enroll_new p365.example.test '| .certType = 226 | .term = 365'
check "profile 226 term 365: 400 -36" "400 -36" "$STATUS $(jbody .code)"
enroll_new priv.example.test '| .certType = 225 | .term = 730'
check "private profile 225 term 730: 200" 200 "$STATUS"
PRIV=$NEW_ID
collect_leaf "$NEW_ID"
check "term 730: notAfter = notBefore + 730 d - 1 s" $((730 * 86400 - 1)) \
    "$(validity "$TMP/leaf.pem")"
enroll_new priv2.example.test '| .certType = 225 | .term = 199'
check "private profile 225 term 199: 400 -36" "400 -36" \
    "$STATUS $(jbody .code)"

# --- report API ---
REPORT_CALLS=0
# report JSON [PATH-SUFFIX]: POST the SSL report
report() {
	req POST "/api/report/v1/ssl-certificates${2:-}" "${AUTH[@]}" "${JSON[@]}" \
	    -d "$1"
	REPORT_CALLS=$((REPORT_CALLS + 1))
}
# ids: the report's ids, sorted, space-separated
ids() {
	jbody '[.reports[].id] | sort | map(tostring) | join(" ")'
}
# stat_ids JQ-SELECT: ids of /sim/stats certificates matching the select
stat_ids() {
	curl -sS --cacert "$STATE/root.pem" "$BASE/sim/stats" |
	    jq -r "[.certificates[] | select($1) | .sslId] | sort |
		map(tostring) | join(\" \")"
}
YESTERDAY=$(date -u -d yesterday +%F)
TODAY=$(date -u +%F)
report '""'
check "report: string body 400 -1002" "400 -1002" "$STATUS $(jbody .code)"
report '{"certificateStatus":9}'
check "report: unknown status 400 -1601" "400 -1601" "$STATUS $(jbody .code)"
report '{"certificateDateAttribute":4,"from":"2026-13-01","to":"2026-12-31"}'
check "report: bad date 400 -1601" "400 -1601" "$STATUS $(jbody .code)"
report "{\"certificateDateAttribute\":4,\"from\":\"$TODAY\",\"to\":\"$YESTERDAY\"}"
check "report: from after to 400 -1601" "400 -1601" "$STATUS $(jbody .code)"
report "{\"from\":\"$TODAY\",\"to\":\"$TODAY\"}"
check "report: window without date attribute 400 -7" "400 -7" \
    "$STATUS $(jbody .code)"
report '{"organizationIds":[77]}'
check "report: unknown organization 400 -1023" "400 -1023" \
    "$STATUS $(jbody .code)"
report '{}' '?output_type=sideways'
check "report: bad output_type 400 -1601" "400 -1601" \
    "$STATUS $(jbody .code)"

req POST /private/api/report/v1/ssl-certificates?output_type=buffered \
    "${AUTH[@]}" "${JSON[@]}" -d '{"organizationIds":[],"certificateStatus":0,
      "serialNumberFormat":""}'
REPORT_CALLS=$((REPORT_CALLS + 1))
check "report (private, any): 200 statusCode 0" "200 0" \
    "$STATUS $(jbody .statusCode)"
check "report: Content-Disposition" \
    'attachment; filename="rest_api_ssl-certificates.json"' \
    "$(header Content-Disposition)"
check "report any: every certificate" "$(stat_ids true)" "$(ids)"
report '{"certificateStatus":1}'
check "report Requested: the orders awaiting approval" \
    "$(stat_ids '.status == "Requested"')" "$(ids)"
check_match "report Requested: some" '^[0-9]+( [0-9]+)+$' "$(ids)"
report '{"certificateStatus":3,"organizationIds":[1234]}'
check "report Revoked: the two console revocations" \
    "$(printf '%s\n' "$CR1" "$CR2" | sort | tr '\n' ' ' | sed 's/ $//')" \
    "$(ids)"
report "{\"certificateStatus\":0,\"certificateDateAttribute\":2,
    \"from\":\"${TODAY}T00:00:00.000Z\",\"to\":\"${TODAY}T00:00:00.000Z\"}"
check "report revoked today (ISO date-time bounds)" \
    "$(printf '%s\n' "$CR1" "$CR2" | sort | tr '\n' ' ' | sed 's/ $//')" \
    "$(ids)"
report "{\"certificateDateAttribute\":2,\"from\":\"$YESTERDAY\",
    \"to\":\"$YESTERDAY\"}"
check "report revoked yesterday: none" "" "$(ids)"
report "{\"certificateStatus\":3,\"certificateDateAttribute\":4,
    \"from\":\"$TODAY\"}"
check "report: a row's fields" "Revoked true ${TODAY}T" \
    "$(jbody ".reports[] | select(.id == $CR1) |
	\"\\(.status) \\(.revoked != null) \\(.revoked[0:11])\"")"
report '{"commonName":"CR%"}'
check "report commonName LIKE cr%: 3 rows" \
    "$(printf '%s\n' "$CR1" "$CR2" "$CR3" | sort | tr '\n' ' ' | sed 's/ $//')" \
    "$(ids)"
report '{"commonName":"rp1.example.test"}'
check "report: replaced row" \
    "Issued ${TODAY} rp1.example.test; www.rp1.example.test $(echo "$RP1_NEW" |
	tr -d : | sed 's/^0*//') $(echo "$RP1_OLD" | tr -d : | sed 's/^0*//')" \
    "$(jbody '.reports[0] | "\(.status) \(.replaced[0:10]) \(.subjAltNames) \(.serialNumber) \(.replacedSerialNumbers | join(","))"')"
report '{"commonName":"cr3.example.test"}'
check "report: console-replaced row" \
    "Issued ${TODAY} $(echo "$CR3_NEW" | tr -d : | sed 's/^0*//') $(echo "$CR3_OLD" | tr -d : | sed 's/^0*//')" \
    "$(jbody '.reports[0] | "\(.status) \(.replaced[0:10]) \(.serialNumber) \(.replacedSerialNumbers | join(","))"')"
report '{"commonName":"rp1.example.test",
    "serialNumberFormat":"HEXWithLeadingZeros"}'
check "report HEXWithLeadingZeros: all 16 bytes" "$(echo "$RP1_NEW" | tr -d :)" \
    "$(jbody '.reports[0].serialNumber')"
report '{"commonName":"req2.example.test"}'
check "report: declined row" "Declined $TODAY false " \
    "$(jbody '.reports[0] | "\(.status) \(.declined[0:10]) \(has("approved")) \(.serialNumber)"')"
report '{"certificateRequestSource":2,"externalRequester":"ops@%"}'
check "report: Web API source, externalRequester LIKE" "$(stat_ids true)" \
    "$(ids)"
report '{"certificateRequestSource":10}'
check "report: ACME source matches nothing" "" "$(ids)"

# the clock: 200 days on, every 90- and 199-day certificate has expired
control '{"advance_days":200}'
check "control advance_days 200: 200" 200 "$STATUS"
check "after 200 days: details Expired" Expired "$(details "$REQ1" .status)"
report '{"certificateStatus":4}'
check "report Expired = stats Expired" "$(stat_ids '.status == "Expired"')" \
    "$(ids)"
check "report Expired: includes the 90- and 199-day ones" "yes yes" \
    "$(jbody "[.reports[].id] | (index($P90) != null), (index($REQ1) != null)" |
	sed 's/true/yes/' | tr '\n' ' ' | sed 's/ $//')"
report '{"certificateStatus":2}'
check "report Issued: the 730-day one only" "$PRIV" "$(ids)"
report "{\"certificateDateAttribute\":4,
    \"from\":\"$(date -u -d '-200 days' +%F)\",
    \"to\":\"$(date -u -d '-200 days' +%F)\"}"
check "report requested 200 days ago: all" "$(stat_ids true)" "$(ids)"
report "{\"certificateDateAttribute\":4,\"from\":\"$TODAY\"}"
check "report requested today: none" "" "$(ids)"
report "{\"certificateDateAttribute\":3,\"from\":\"$TODAY\",
    \"to\":\"$(date -u -d '+600 days' +%F)\"}"
check "report expiring from today: the 730-day one" "$PRIV" "$(ids)"
req POST "/api/ssl/v1/replace/$REQ1" "${AUTH[@]}" "${JSON[@]}" \
    -d "$(replace_json "x")"
check "replace an expired certificate: 400 -130" "400 -130" \
    "$STATUS $(jbody .code)"
req GET /sim/stats
check "stats: report_calls" "$REPORT_CALLS" "$(jbody .report_calls)"

# --- fault mode: random failures, lost enroll replies, latency ---
# burst N PATH: N GETs on one curl (connection reused); the status codes,
# one per line, to $TMP/codes, the headers to $TMP/burst.hdr
burst() {
	local args=() i
	for i in $(seq 1 "$1"); do
		args+=("$BASE$2" -o /dev/null)
	done
	curl -sS --cacert "$STATE/root.pem" "${AUTH[@]}" -D "$TMP/burst.hdr" \
	    -w '%{http_code}\n' "${args[@]}" >"$TMP/codes" || true
}
control '{"fail_rate":0.3,"seed":42,"reset_stats":true}'
check "control fail_rate: 200" "200 0.3" "$STATUS $(jbody .fail_rate)"
burst 200 /api/ssl/v1/types
cp "$TMP/codes" "$TMP/codes.1"
FAILED=$(grep -vc '^200$' "$TMP/codes")
check "fail_rate 0.3: 200 answers" 200 "$(wc -l <"$TMP/codes" | tr -d ' ')"
check_match "fail_rate 0.3: about 30 % of 200 calls fail ($FAILED)" \
    '^([4-7][0-9]|80)$' "$FAILED"
check "fail_rate: only 503, 500 and 429" "" \
    "$(grep -v '^200$' "$TMP/codes" | grep -Ev '^(503|500|429)$' | sort -u)"
check "fail_rate: every 429 carries Retry-After: 1" \
    "$(grep -c '^429$' "$TMP/codes")" \
    "$(grep -ci '^Retry-After: 1' "$TMP/burst.hdr")"
req GET /sim/stats
check "stats: faults by kind add up" \
    "$FAILED $(grep -c '^503$' "$TMP/codes") $(grep -c '^500$' "$TMP/codes") $(grep -c '^429$' "$TMP/codes") 0" \
    "$(jbody '.faults | "\(.total) \(."503") \(."500") \(."429") \(.lost_reply)"')"
control '{"seed":42}'
burst 200 /api/ssl/v1/types
check "fail_rate: the same seed repeats the same answers" \
    "$(md5sum <"$TMP/codes.1")" "$(md5sum <"$TMP/codes")"

# enroll under faults: a lost reply still stores the order, once
control '{"fail_rate":0.5,"seed":5,"reset_stats":true}'
OK_ENROLLS=0
LOST_TAGS=()
for i in $(seq 1 24); do
	new_csr "lost$i.example.test"
	enroll_json "lost$i.example.test" "$TMP/n.csr" \
	    "| .comments = \"tag-lost-$i\"" >"$TMP/n.json"
	code=$(curl -sS -o "$TMP/body" -w '%{http_code}' --cacert \
	    "$STATE/root.pem" "${AUTH[@]}" "${JSON[@]}" \
	    --data-binary @"$TMP/n.json" "$BASE/api/ssl/v1/enroll" \
	    2>/dev/null) || code=none
	case $code in
	200) OK_ENROLLS=$((OK_ENROLLS + 1)) ;;
	000 | none | 502) LOST_TAGS+=("$i") ;;
	esac
done
control '{"fail_rate":0}'
req GET /sim/stats
LOST=$(jbody .faults.lost_reply)
check "enroll faults: some replies lost" yes \
    "$([ "$LOST" -ge 2 ] && echo yes)"
check "enroll faults: lost = closed or 502 answers" "$LOST" \
    "${#LOST_TAGS[@]}"
check "stats: enrollments = 200s + lost replies" \
    "$((OK_ENROLLS + LOST))" "$(jbody .enrollments)"
check "stats: one order per tag" "$((OK_ENROLLS + LOST)) 0" \
    "$(jbody '[.certificates[] | select(.comments // "" | startswith("tag-lost-"))] |
	"\(length) \(group_by(.comments) | map(select(length > 1)) | length)"')"
found=0
for i in "${LOST_TAGS[@]}"; do
	# what a client does: list by CN, then look for its tag in comments
	req GET "/api/ssl/v1?commonName=lost$i.example.test" "${AUTH[@]}"
	id=$(jbody '.[0].sslId // empty')
	[ -n "$id" ] && [ "$(jbody length)" = 1 ] &&
	    [ "$(details "$id" .comments)" = "tag-lost-$i" ] &&
	    found=$((found + 1))
done
check "lost replies: each order found once by its tag" "${#LOST_TAGS[@]}" \
    "$found"

# latency: every /api reply waits, /sim does not
control '{"latency_ms":150}'
slow=0
for _ in 1 2 3; do
	t=$(curl -sS -o /dev/null -w '%{time_total}' --cacert "$STATE/root.pem" \
	    "${AUTH[@]}" "$BASE/api/ssl/v1/types")
	awk -v t="$t" 'BEGIN { exit !(t >= 0.150) }' && slow=$((slow + 1))
done
check "latency_ms 150: each call takes at least 150 ms" 3 "$slow"
t=$(curl -sS -o /dev/null -w '%{time_total}' --cacert "$STATE/root.pem" \
    "$BASE/sim/stats")
check "latency: /sim/stats not delayed" yes \
    "$(awk -v t="$t" 'BEGIN { print (t < 0.150) ? "yes" : "no" }')"
control '{"latency_ms":0}'

stop_sim
start_sim --fail-rate 0.25 --latency-ms 20 --seed 3
req GET /sim/control
check "flags --fail-rate --latency-ms" "0.25 20" \
    "$(jbody '"\(.fail_rate) \(.latency_ms)"')"
stop_sim

if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$SIM_LOG"; then
	not_ok "sanitizer reports in the simulator log"
	grep -E -A20 'Sanitizer|runtime error' "$SIM_LOG" | head -60
else
	ok "no sanitizer reports"
fi

echo "$PASS passed, $FAIL failed"
if [ "$FAIL" -ne 0 ]; then
	echo "--- simulator log ---"
	cat "$SIM_LOG"
	exit 1
fi
