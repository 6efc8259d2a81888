#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The acmebridge command line:
#  - check-config: the test configuration is accepted; every broken variant
#    exits 1 with exactly one stderr line that names the setting (JSON path)
#  - --help / --version / usage errors (exit 2)
#  - test-connection against sectigo-sim: four "ok" lines; a wrong org_id,
#    a wrong secret or a closed port make the matching line FAIL (exit 1);
#    header authentication works too; --json prints one document; serve
#    logs the same checks at start
#  - eab add | list | remove, and their rows in the audit table
#  - eab add --max-accounts: the key binds that many accounts, no more;
#    eab remove --deactivate-accounts: the accounts it bound get 401;
#    newAccount reflects the externalAccountBinding (RFC 8555 §7.3.4)
#  - account list | show | deactivate
#  - files: the database (and -wal) is created 0600, a missing database
#    directory 0700; serve, check-config and the database commands refuse
#    a database, -wal or secret file (client secret, password, TLS key)
#    that group or others may open, with one line naming the file and the
#    chmod that fixes it
#  - serve refuses a bad configuration and a listen port already in use
#  - no secret (client secret, password, EAB HMAC key in list) ever appears
#    in any output
# Unlike most tests, a failed check does not stop the script: every check
# runs and the last line is "N passed, M failed".
# SC2015: "A && check_ok || check_bad" is meant (check_ok never fails);
# SC2016: $names in single quotes are jq variables.
# shellcheck disable=SC2015,SC2016
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 (CLI) is not installed"

OUT=$T/out
CONF=$T/conf
mkdir -p "$OUT" "$CONF"

# show NAME: stdout and stderr of run NAME, for failure messages.
show() {
	printf 'exit %s; stdout: [%s]; stderr: [%s]' "$RC" \
		"$(head -c 1500 "$OUT/$1.out")" "$(head -c 1500 "$OUT/$1.err")"
}

# run NAME ARGS...: run acmebridge ARGS (environment additions from the
# array CLI_ENV), stdout in $OUT/NAME.out, stderr in $OUT/NAME.err, exit
# status in RC. A hang counts as exit 124.
CLI_ENV=()
run() {
	local name=$1
	shift
	RC=0
	env "${CLI_ENV[@]}" timeout "${RUN_TIMEOUT:-60}" "$ACMEBRIDGE_BIN" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null || RC=$?
}

# expect_rc NAME WANT: run NAME exited WANT.
expect_rc() {
	if [ "$RC" -eq "$2" ]; then
		check_ok "$1: exit $2"
		return 0
	fi
	check_bad "$1: expected exit $2, $(show "$1")"
	return 1
}

# check_rc NAME WANT: expect_rc for use as a statement (a failure is
# counted, set -e is not tripped).
check_rc() {
	expect_rc "$@" || true
}

# _re STRING: STRING as an extended regular expression matching itself.
_re() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# expect_one_line NAME SETTING: stderr of run NAME is exactly one line
# (newline-terminated) naming SETTING as a whole JSON path, stdout is empty.
expect_one_line() {
	local f=$OUT/$1.err n re
	n=$(wc -l <"$f")
	re=$(_re "$2")
	if [ "$n" -ne 1 ] || [ "$(wc -c <"$f")" -ne "$(head -n 1 "$f" | wc -c)" ]; then
		check_bad "$1: stderr is not exactly one line ($n lines): $(show "$1")"
		return 0
	fi
	if ! grep -qE "(^|[ \"'])$re([:,/ \"']|\$)" "$f"; then
		check_bad "$1: the error does not name \"$2\": $(show "$1")"
		return 0
	fi
	if [ -s "$OUT/$1.out" ]; then
		check_bad "$1: unexpected stdout: $(show "$1")"
		return 0
	fi
	check_ok "$1: one line naming $2: $(cat "$f")"
}
# (always returns 0: the failure is counted; so "expect_rc && expect_one_line"
# does not trip set -e)

# mkconf NAME JQ_FILTER [JQ_ARGS...]: $CONF/NAME.json = the test
# configuration ($T/bridge.json) edited by JQ_FILTER.
mkconf() {
	local name=$1 filter=$2
	shift 2
	jq "$@" "$filter" "$T/bridge.json" >"$CONF/$name.json" ||
		fail "mkconf $name: jq filter failed: $filter"
}

# conf_error NAME SETTING JQ_FILTER [JQ_ARGS...]: check-config on the
# edited configuration exits 1 with one line naming SETTING.
conf_error() {
	local name=$1 setting=$2
	shift 2
	mkconf "$name" "$@"
	run "$name" check-config -c "$CONF/$name.json"
	expect_rc "$name" 1 && expect_one_line "$name" "$setting"
	return 0
}

# tc_field NAME CHECK: second column of the line of CHECK (connectivity,
# authentication, organization, api) in test-connection run NAME; "MISSING"
# or "DUPLICATE" when not exactly one such line.
tc_field() {
	local n
	n=$(grep -c "^$2 " "$OUT/$1.out" || true)
	case $n in
	0) echo MISSING ;;
	1) awk -v c="$2" '$1 == c { print $2 }' "$OUT/$1.out" ;;
	*) echo DUPLICATE ;;
	esac
}

# expect_tc NAME RC CONNECTIVITY AUTHENTICATION ORGANIZATION API: the
# test-connection run NAME exited RC and its check lines read as given
# ("-" = do not care about that line).
expect_tc() {
	local name=$1 want=$2 c got i=0 all=""
	local checks=(connectivity authentication organization api)
	shift 2
	expect_rc "$name" "$want" || true
	for c in "${checks[@]}"; do
		i=$((i + 1))
		[ "${!i}" != - ] || continue
		got=$(tc_field "$name" "$c")
		all="$all $c=$got"
		if [ "$got" != "${!i}" ]; then
			check_bad "$name: $c: expected ${!i}, got $got: $(show "$name")"
			return
		fi
	done
	check_ok "$name:$all"
}

# ================================================================ setup
# a permissive umask: the files acmebridge creates must be private anyway
umask 022
start_bridge
BASE=$T/bridge.json
WANT_VERSION=$(sed -n 's/^project(acmebridge VERSION \([0-9.]*\).*/\1/p' \
	"$SRCDIR/CMakeLists.txt")
[ -n "$WANT_VERSION" ] || fail "cannot read the version from CMakeLists.txt"

# ================================================================ help etc.
run help --help
check_rc help 0
for c in serve check-config test-connection "eab add" "eab list" "eab remove" \
	"account list" "account show" "account deactivate" --max-accounts \
	--deactivate-accounts; do
	if grep -qF -- "$c " "$OUT/help.out"; then
		check_ok "--help lists \"$c\""
	else
		check_bad "--help does not list \"$c\": $(show help)"
	fi
done
[ ! -s "$OUT/help.err" ] && check_ok "--help: stderr empty" ||
	check_bad "--help wrote to stderr: $(show help)"

run help_short -h
check_rc help_short 0
cmp -s "$OUT/help.out" "$OUT/help_short.out" && check_ok "-h prints the same as --help" ||
	check_bad "-h differs from --help: $(show help_short)"

for v in --version -V; do
	run "version$v" "$v"
	check_rc "version$v" 0
	if [ "$(cat "$OUT/version$v.out")" = "acmebridge $WANT_VERSION" ]; then
		check_ok "$v prints \"acmebridge $WANT_VERSION\""
	else
		check_bad "$v: expected \"acmebridge $WANT_VERSION\": $(show "version$v")"
	fi
done

run unknown_cmd frobnicate -c "$BASE"
expect_rc unknown_cmd 2 &&
	if grep -qF 'frobnicate' "$OUT/unknown_cmd.err" && [ ! -s "$OUT/unknown_cmd.out" ]; then
		check_ok "unknown command: named on stderr"
	else
		check_bad "unknown command not named on stderr: $(show unknown_cmd)"
	fi

run no_cmd
check_rc no_cmd 2

run unknown_opt check-config -c "$BASE" --frobnicate
check_rc unknown_opt 2

for c in check-config serve test-connection "eab list"; do
	n=no_config_${c// /_}
	# shellcheck disable=SC2086 # "eab list" is two words
	run "$n" $c
	expect_rc "$n" 2 && expect_one_line "$n" "-c"
done

run config_missing_file check-config -c "$T/does-not-exist.json"
expect_rc config_missing_file 1 &&
	expect_one_line config_missing_file "$T/does-not-exist.json"

# ================================================================ check-config
run conf_ok check-config -c "$BASE"
expect_rc conf_ok 0 &&
	if [ "$(cat "$OUT/conf_ok.out")" = "config ok" ] && [ ! -s "$OUT/conf_ok.err" ]; then
		check_ok "check-config: \"config ok\""
	else
		check_bad "check-config on the test config: $(show conf_ok)"
	fi

# the example configuration is schema-valid (only its secret file is missing)
run conf_example check-config -c "$SRCDIR/contrib/dist/acmebridge.example.json"
expect_rc conf_example 1 &&
	expect_one_line conf_example connectors[0].client_secret_file

conf_error unknown_top bogus_setting '. + {bogus_setting: 1}'
conf_error unknown_acme acme.retry_after_secs '.acme.retry_after_secs = 10'
conf_error unknown_tls tls.selfsigned '.tls.selfsigned = true'
conf_error unknown_conn 'connectors[0].clientsecret' '.connectors[0].clientsecret = "x"'
conf_error type_workers workers '.workers = "2"'
conf_error type_self_signed tls.self_signed '.tls.self_signed = "yes"'
conf_error type_connectors connectors '.connectors = {}'
conf_error type_org_id 'connectors[0].org_id' '.connectors[0].org_id = "1234"'
conf_error range_retry acme.retry_after_seconds '.acme.retry_after_seconds = 600'
conf_error range_retry_low acme.retry_after_seconds '.acme.retry_after_seconds = 4'
conf_error range_http01 validation.http01_port '.validation.http01_port = 0'
conf_error range_workers workers '.workers = -1'
conf_error missing_database database 'del(.database)'
conf_error missing_listen listen 'del(.listen)'
conf_error missing_cert tls.cert_file 'del(.tls.cert_file)'
conf_error missing_org 'connectors[0].org_id' 'del(.connectors[0].org_id)'
conf_error empty_database database '.database = ""'
conf_error listen_no_port listen '.listen = "127.0.0.1"'
conf_error base_url_slash base_url '.base_url += "/"'
conf_error base_url_http base_url '.base_url |= sub("^https:"; "http:")'
conf_error base_url_long base_url '.base_url += "/" + ("x" * 200)'
conf_error log_level log_level '.log_level = "loud"'
conf_error conn_type 'connectors[0].type' '.connectors[0].type = "digicert"'
conf_error conn_auth 'connectors[0].auth' '.connectors[0].auth = "basic"'
conf_error no_connectors connectors '.connectors = []'
conf_error secret_file_missing 'connectors[0].client_secret_file' \
	'.connectors[0].client_secret_file = $f' --arg f "$T/no-such-secret"
: >"$T/empty-secret"
chmod 600 "$T/empty-secret"
conf_error secret_file_empty 'connectors[0].client_secret_file' \
	'.connectors[0].client_secret_file = $f' --arg f "$T/empty-secret"
conf_error secret_none 'connectors[0].client_secret_file' \
	'del(.connectors[0].client_secret_file)'

ENVNAME=ACMEBRIDGE_IT_SECRET_$$
unset "$ENVNAME"
conf_error secret_env_unset "connectors[0].client_secret_env" \
	'del(.connectors[0].client_secret_file) | .connectors[0].client_secret_env = $e' \
	--arg e "$ENVNAME"
CLI_ENV=("$ENVNAME=sim-secret")
run secret_env_set check-config -c "$CONF/secret_env_unset.json"
CLI_ENV=()
expect_rc secret_env_set 0 &&
	if [ "$(cat "$OUT/secret_env_set.out")" = "config ok" ]; then
		check_ok "client_secret_env set: config ok"
	else
		check_bad "client_secret_env set: $(show secret_env_set)"
	fi
conf_error secret_both "connectors[0].client_secret_file" \
	'.connectors[0].client_secret_env = $e' --arg e "$ENVNAME"
conf_error dup_connector 'connectors[1].name' '.connectors += [.connectors[0]]'
conf_error default_connector acme.default_connector \
	'.acme.default_connector = "nosuch"'
conf_error chall_type 'acme.challenge_types[3]' \
	'.acme.challenge_types += ["http-02"]'
conf_error chall_empty acme.challenge_types '.acme.challenge_types = []'

# header auth without its fields
conf_error header_no_login 'connectors[0].login' \
	'.connectors[0].auth = "header" | .connectors[0].customer_uri = "acme-test"'

# not JSON: the message carries the file and the line of the error (3)
printf '{\n  "listen": "127.0.0.1:1",\n  "workers": 2,,\n}\n' >"$CONF/not_json.json"
run not_json check-config -c "$CONF/not_json.json"
expect_rc not_json 1 && expect_one_line not_json "$CONF/not_json.json:3:"

# a key given twice is refused, not silently last-wins
printf '{\n  "workers": 1,\n  "workers": 2\n}\n' >"$CONF/dup_key.json"
run dup_key check-config -c "$CONF/dup_key.json"
expect_rc dup_key 1 && expect_one_line dup_key "$CONF/dup_key.json:3:"

printf '[1, 2]\n' >"$CONF/not_object.json"
run not_object check-config -c "$CONF/not_object.json"
expect_rc not_object 1 && expect_one_line not_object "$CONF/not_object.json:"

# ================================================================ test-connection
run tc_ok test-connection -c "$BASE"
expect_tc tc_ok 0 ok ok ok ok
n=$(grep -cE '^(connectivity|authentication|organization|api) ' "$OUT/tc_ok.out" || true)
[ "$n" -eq 4 ] && check_ok "test-connection: exactly four check lines" ||
	check_bad "test-connection: $n check lines: $(show tc_ok)"

run tc_connector test-connection -c "$BASE" --connector sectigo
expect_tc tc_connector 0 ok ok ok ok

# serve ran the same checks in the background at start
for _ in $(seq 100); do
	grep -q 'test-connection connector=sectigo: all checks passed' \
		"$T/bridge.log" && break
	sleep 0.1
done
grep -q 'test-connection connector=sectigo: all checks passed' "$T/bridge.log" &&
	grep -q 'test-connection connector=sectigo api: ok: profile "' "$T/bridge.log" &&
	check_ok "serve: test-connection at start logged, all passed" ||
	check_bad "serve: no start-up test-connection lines in $T/bridge.log"

run tc_json test-connection -c "$BASE" --json
if expect_rc tc_json 0; then
	jq -e '.ok == true and (.connectors | length) == 1 and
		.connectors[0].name == "sectigo" and .connectors[0].ok == true and
		(.connectors[0].base_url | startswith("https://")) and
		[.connectors[0].checks[].check] ==
			["connectivity", "authentication", "organization", "api"] and
		all(.connectors[0].checks[]; .ok == true and (.detail | type) == "string")' \
		"$OUT/tc_json.out" >/dev/null &&
		check_ok "test-connection --json: one document, four passed checks" ||
		check_bad "test-connection --json: $(show tc_json)"
fi

run tc_noconn test-connection -c "$BASE" --connector nosuch
expect_rc tc_noconn 1 && expect_one_line tc_noconn '"nosuch"'

mkconf tc_org '.connectors[0].org_id = 999999'
run tc_org test-connection -c "$CONF/tc_org.json"
expect_tc tc_org 1 ok ok FAIL -
run tc_org_json test-connection -c "$CONF/tc_org.json" --json
if expect_rc tc_org_json 1; then
	jq -e '.ok == false and .connectors[0].ok == false and
		([.connectors[0].checks[] | select(.check == "organization")][0].ok == false)' \
		"$OUT/tc_org_json.out" >/dev/null &&
		check_ok "test-connection --json: the failed check and ok false" ||
		check_bad "test-connection --json (wrong org): $(show tc_org_json)"
fi

WRONG_SECRET=wrong-$(openssl rand -hex 12)
printf '%s\n' "$WRONG_SECRET" >"$T/wrong-secret"
chmod 600 "$T/wrong-secret"
mkconf tc_secret '.connectors[0].client_secret_file = $f' --arg f "$T/wrong-secret"
run tc_secret test-connection -c "$CONF/tc_secret.json"
expect_tc tc_secret 1 ok FAIL - -

CLI_ENV=("$ENVNAME=sim-secret")
run tc_env test-connection -c "$CONF/secret_env_unset.json"
expect_tc tc_env 0 ok ok ok ok
CLI_ENV=("$ENVNAME=$WRONG_SECRET")
run tc_env_wrong test-connection -c "$CONF/secret_env_unset.json"
expect_tc tc_env_wrong 1 ok FAIL - -
CLI_ENV=()

CLOSED=$(free_port)
mkconf tc_closed '.connectors[0].base_url = $u | .connectors[0].token_url = ($u + "/auth/realms/apiclients/protocol/openid-connect/token")' \
	--arg u "https://127.0.0.1:$CLOSED"
run tc_closed test-connection -c "$CONF/tc_closed.json"
expect_tc tc_closed 1 FAIL - - -

printf 'sim-password\n' >"$T/sim-password"
printf '%s\n' "$WRONG_SECRET" >"$T/wrong-password"
chmod 600 "$T/sim-password" "$T/wrong-password"
HEADER='.connectors[0] |= (del(.client_secret_file, .client_id, .token_url)
	+ {auth: "header", login: "admin", password_file: $pw,
	   customer_uri: "acme-test"})'
mkconf tc_header "$HEADER" --arg pw "$T/sim-password"
run tc_header_check check-config -c "$CONF/tc_header.json"
check_rc tc_header_check 0
run tc_header test-connection -c "$CONF/tc_header.json"
expect_tc tc_header 0 ok ok ok ok
mkconf tc_header_bad "$HEADER" --arg pw "$T/wrong-password"
run tc_header_bad test-connection -c "$CONF/tc_header_bad.json"
expect_tc tc_header_bad 1 ok FAIL - -
conf_error header_both_pw 'connectors[0].password_file' \
	"$HEADER"' | .connectors[0].password_env = "X"' --arg pw "$T/sim-password"

# ================================================================ eab
eab_count() {
	sqlite3 "$BRIDGE_DB" 'PRAGMA busy_timeout = 5000;' \
		'SELECT count(*) FROM eab_keys;' | tail -n 1
}
audit_count() {
	sqlite3 "$BRIDGE_DB" 'PRAGMA busy_timeout = 5000;' \
		"SELECT count(*) FROM audit WHERE event = '$1' AND ref = '$2';" |
		tail -n 1
}

run eab_add eab add -c "$BASE" --note "cli test key"
KID=""
KEY=""
if expect_rc eab_add 0; then
	KID=$(jq -r '.kid // empty' "$OUT/eab_add.out" 2>/dev/null || true)
	KEY=$(jq -r '.hmac_key // empty' "$OUT/eab_add.out" 2>/dev/null || true)
	CONN=$(jq -r '.connector // empty' "$OUT/eab_add.out" 2>/dev/null || true)
	KEYS=$(jq -c 'keys' "$OUT/eab_add.out" 2>/dev/null || true)
	[ "$(wc -l <"$OUT/eab_add.out")" -eq 1 ] &&
		[ "$KEYS" = '["connector","hmac_key","kid"]' ] &&
		check_ok "eab add: one JSON object with kid, hmac_key, connector" ||
		check_bad "eab add: output is not {kid,hmac_key,connector}: $(show eab_add)"
	[[ $KID =~ ^[A-Za-z0-9_-]+$ ]] && check_ok "eab add: kid $KID" ||
		check_bad "eab add: bad kid \"$KID\""
	if [[ $KEY =~ ^[A-Za-z0-9_-]{43}$ ]] &&
		[ "$(python3 -c 'import base64,sys
print(len(base64.urlsafe_b64decode(sys.argv[1] + "=")))' "$KEY")" = 32 ]; then
		check_ok "eab add: hmac_key is 43 chars unpadded base64url (256 bit)"
	else
		check_bad "eab add: hmac_key \"$KEY\" is not 256-bit unpadded base64url"
	fi
	[ "$CONN" = sectigo ] && check_ok "eab add: connector sectigo" ||
		check_bad "eab add: connector \"$CONN\", expected sectigo"
fi

run eab_add2 eab add -c "$BASE" --connector sectigo
KID2=""
if expect_rc eab_add2 0; then
	KID2=$(jq -r '.kid // empty' "$OUT/eab_add2.out" 2>/dev/null || true)
	KEY2=$(jq -r '.hmac_key // empty' "$OUT/eab_add2.out" 2>/dev/null || true)
	[ -n "$KID2" ] && [ "$KID2" != "$KID" ] && [ "$KEY2" != "$KEY" ] &&
		check_ok "eab add: a second key has its own kid and hmac_key" ||
		check_bad "eab add: second key repeats kid or hmac_key: $(show eab_add2)"
fi

before=$(eab_count)
run eab_nosuch eab add -c "$BASE" --connector nosuch
expect_rc eab_nosuch 1 && expect_one_line eab_nosuch '--connector'
grep -qF nosuch "$OUT/eab_nosuch.err" && check_ok "eab add --connector nosuch: names nosuch" ||
	check_bad "eab add --connector nosuch: does not name it: $(show eab_nosuch)"
[ "$(eab_count)" = "$before" ] && check_ok "eab add --connector nosuch: no key stored" ||
	check_bad "eab add --connector nosuch: a key was stored anyway"

run eab_list eab list -c "$BASE"
check_rc eab_list 0
if [ -n "$KID" ] && grep -qF -- "$KID" "$OUT/eab_list.out" &&
	grep -qF "cli test key" "$OUT/eab_list.out"; then
	check_ok "eab list shows the kid and the note"
else
	check_bad "eab list does not show kid \"$KID\" and its note: $(show eab_list)"
fi
if [ -n "$KEY" ] && ! grep -qF -- "$KEY" "$OUT/eab_list.out" "$OUT/eab_list.err"; then
	check_ok "eab list does not show the hmac key"
else
	check_bad "eab list shows the hmac key (or there is none): $(show eab_list)"
fi

run eab_remove eab remove -c "$BASE" "$KID"
check_rc eab_remove 0
run eab_list2 eab list -c "$BASE"
check_rc eab_list2 0
if [ -n "$KID" ] && ! grep -qF -- "$KID" "$OUT/eab_list2.out" &&
	grep -qF -- "$KID2" "$OUT/eab_list2.out"; then
	check_ok "eab remove: the key is gone from the list, the other one stays"
else
	check_bad "eab remove: list after remove: $(show eab_list2)"
fi
run eab_remove2 eab remove -c "$BASE" "$KID"
expect_rc eab_remove2 1 && expect_one_line eab_remove2 "eab remove:"
run eab_remove_nokid eab remove -c "$BASE"
check_rc eab_remove_nokid 2
run eab_bogus eab frobnicate -c "$BASE"
check_rc eab_bogus 2

n=$(audit_count eab.add "$KID")
[ "$n" = 1 ] && check_ok "audit: one eab.add row for $KID" ||
	check_bad "audit: $n eab.add rows for $KID"
n=$(audit_count eab.remove "$KID")
[ "$n" = 1 ] && check_ok "audit: one eab.remove row for $KID" ||
	check_bad "audit: $n eab.remove rows for $KID"
n=$(audit_count eab.add "$KID2")
[ "$n" = 1 ] && check_ok "audit: one eab.add row for $KID2" ||
	check_bad "audit: $n eab.add rows for $KID2"
if [ -n "$KEY" ] && sqlite3 "$BRIDGE_DB" 'SELECT * FROM audit;' | grep -qF -- "$KEY"; then
	check_bad "audit: the hmac key is in the audit table"
else
	check_ok "audit: no hmac key in the audit table"
fi

# eab needs no CA secrets: it works where the secret file is missing
run eab_nosecret eab list -c "$CONF/secret_file_missing.json"
check_rc eab_nosecret 0

# ================================================================ eab policy, accounts
find_python
# acct STATE new EAB_KID EAB_KEY: newAccount (a new key, saved in STATE)
# with an external account binding; acct STATE order: newOrder signed by
# the account in STATE. Prints {status, type, detail, location, body, sent}.
cat >"$T/acct.py" <<'PYEOF'
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests/integration"))
from acmetest import Client, Key
state, cmd = sys.argv[1], sys.argv[2]
st = json.load(open(state)) if os.path.exists(state) else {}
key = Key.from_pem(st["key"]) if "key" in st else Key.generate()
c = Client(os.environ["BRIDGE_DIR_URL"], os.environ["BRIDGE_CA"], key=key,
           kid=st.get("kid"))
sent = None
if cmd == "new":
    sent = c.eab(sys.argv[3], sys.argv[4])
    r = c.new_account(contact=["mailto:it@example.com"],
                      extra={"externalAccountBinding": sent})
    with open(state, "w") as f:
        json.dump({"key": key.pem(), "kid": c.kid}, f)
else:
    r = c.new_order(["cli.example.test"])
j = r.json if isinstance(r.json, dict) else {}
print(json.dumps({"status": r.status, "type": j.get("type", ""),
                  "detail": j.get("detail", ""),
                  "location": r.header("Location") or "", "body": j,
                  "sent": sent}))
PYEOF
# acct_run NAME ARGS...: acct ARGS, output in $OUT/NAME.json; ST = status,
# PT = problem type without the ACME prefix, PD = detail.
acct_run() {
	local name=$1
	shift
	"$PY" "$T/acct.py" "$@" >"$OUT/$name.json" 2>"$OUT/$name.err" || true
	ST=$(jq -r '.status // empty' "$OUT/$name.json" 2>/dev/null || true)
	PT=$(jq -r '.type // empty' "$OUT/$name.json" 2>/dev/null || true)
	PT=${PT#urn:ietf:params:acme:error:}
	PD=$(jq -r '.detail // empty' "$OUT/$name.json" 2>/dev/null || true)
}
acct_show() {
	printf 'status %s type %s detail [%s]; %s' "$ST" "$PT" "$PD" \
		"$(head -c 800 "$OUT/$1.err")"
}
# acct_status ID: the account's status in the database.
acct_status() {
	sqlite3 "$BRIDGE_DB" 'PRAGMA busy_timeout = 5000;' \
		"SELECT status FROM accounts WHERE kid = '$1';" | tail -n 1
}

run eab_max_bad eab add -c "$BASE" --max-accounts 0
expect_rc eab_max_bad 2 && expect_one_line eab_max_bad --max-accounts
run eab_max_bad2 eab add -c "$BASE" --max-accounts 1x
check_rc eab_max_bad2 2

run eab_max eab add -c "$BASE" --max-accounts 1 --note "one account"
KIDM=$(jq -r '.kid // empty' "$OUT/eab_max.out" 2>/dev/null || true)
KEYM=$(jq -r '.hmac_key // empty' "$OUT/eab_max.out" 2>/dev/null || true)
expect_rc eab_max 0 || true
run eab_list_max eab list -c "$BASE"
if [ -n "$KIDM" ] &&
	awk -v k="$KIDM" '$1 == k { f = ($3 == "0" && $4 == "1") } END { exit !f }' \
		"$OUT/eab_list_max.out"; then
	check_ok "eab list: $KIDM has 0 accounts of at most 1"
else
	check_bad "eab list: no \"$KIDM 0 1\" row: $(show eab_list_max)"
fi

acct_run m1 "$T/m1.state" new "$KIDM" "$KEYM"
if [ "$ST" = 201 ]; then
	check_ok "eab --max-accounts 1: the first account is created"
else
	check_bad "eab --max-accounts 1: first account: $(acct_show m1)"
fi
if jq -e '.sent != null and .body.externalAccountBinding == .sent' \
	"$OUT/m1.json" >/dev/null 2>&1; then
	check_ok "newAccount reflects the externalAccountBinding it was sent"
else
	check_bad "newAccount does not reflect externalAccountBinding: $(head -c 1500 "$OUT/m1.json")"
fi
M1=$(jq -r '.location // empty' "$OUT/m1.json" 2>/dev/null || true)
M1_ID=${M1##*/}
acct_run m2 "$T/m2.state" new "$KIDM" "$KEYM"
if [ "$ST" = 403 ] && [ "$PT" = unauthorized ] && [[ $PD == *"$KIDM"* ]]; then
	check_ok "eab --max-accounts 1: a second account is refused: $PD"
else
	check_bad "eab --max-accounts 1: second account not refused (403 unauthorized naming the key): $(acct_show m2)"
fi

run eab_multi eab add -c "$BASE" --note "any number"
KIDU=$(jq -r '.kid // empty' "$OUT/eab_multi.out" 2>/dev/null || true)
KEYU=$(jq -r '.hmac_key // empty' "$OUT/eab_multi.out" 2>/dev/null || true)
acct_run u1 "$T/u1.state" new "$KIDU" "$KEYU"
U1=$(jq -r '.location // empty' "$OUT/u1.json" 2>/dev/null || true)
S1=$ST
acct_run u2 "$T/u2.state" new "$KIDU" "$KEYU"
U2=$(jq -r '.location // empty' "$OUT/u2.json" 2>/dev/null || true)
if [ "$S1" = 201 ] && [ "$ST" = 201 ] && [ -n "$U1" ] && [ "$U1" != "$U2" ]; then
	check_ok "eab without a limit: two accounts on one key"
else
	check_bad "eab without a limit: accounts $S1/$ST: $(acct_show u2)"
fi
acct_run u1_order "$T/u1.state" order
[ "$ST" = 201 ] && check_ok "account bound to $KIDU can order" ||
	check_bad "account bound to $KIDU cannot order: $(acct_show u1_order)"

run eab_remove_deact eab remove -c "$BASE" "$KIDU" --deactivate-accounts
check_rc eab_remove_deact 0
for u in u1 u2; do
	acct_run "${u}_after" "$T/$u.state" order
	if [ "$ST" = 401 ] && [ "$PT" = unauthorized ] && [[ $PD == *deactivated* ]]; then
		check_ok "eab remove --deactivate-accounts: $u gets 401 unauthorized \"$PD\""
	else
		check_bad "eab remove --deactivate-accounts: $u not cut off: $(acct_show "${u}_after")"
	fi
done
for u in "$U1" "$U2"; do
	n=$(audit_count account.deactivated "${u##*/}")
	[ "$n" = 1 ] && check_ok "audit: account.deactivated for ${u##*/}" ||
		check_bad "audit: $n account.deactivated rows for ${u##*/}"
done
acct_run m1_order "$T/m1.state" order
[ "$ST" = 201 ] && check_ok "an account of another EAB key keeps working" ||
	check_bad "the account of $KIDM was cut off too: $(acct_show m1_order)"
run eab_remove_plain eab remove -c "$BASE" "$KIDM"
check_rc eab_remove_plain 0
acct_run m1_order2 "$T/m1.state" order
[ "$ST" = 201 ] && check_ok "eab remove without --deactivate-accounts: the account keeps working" ||
	check_bad "eab remove without --deactivate-accounts cut the account off: $(acct_show m1_order2)"

# account list | show | deactivate
run account_list account list -c "$BASE"
check_rc account_list 0
if [ -n "$M1_ID" ] && awk -v k="$M1_ID" -v e="$KIDM" \
	'$1 == k && $2 == "valid" && $4 == e && /mailto:it@example.com/ { f = 1 }
	 END { exit !f }' "$OUT/account_list.out" &&
	grep -qE "^${U1##*/} +deactivated " "$OUT/account_list.out"; then
	check_ok "account list: id, status, eab kid and contact of each account"
else
	check_bad "account list: $M1_ID valid $KIDM / ${U1##*/} deactivated missing: $(show account_list)"
fi
run account_show account show -c "$BASE" -- "$M1_ID"
check_rc account_show 0
if jq -e --arg id "$M1_ID" --arg e "$KIDM" --arg u "$M1" \
	'.id == $id and .url == $u and .status == "valid" and .eab_kid == $e
	 and .contact == ["mailto:it@example.com"]' "$OUT/account_show.out" >/dev/null 2>&1; then
	check_ok "account show ID: the account as JSON"
else
	check_bad "account show: $(show account_show)"
fi
run account_show_url account show -c "$BASE" "$M1"
check_rc account_show_url 0
cmp -s "$OUT/account_show.out" "$OUT/account_show_url.out" &&
	check_ok "account show URL = account show ID" ||
	check_bad "account show URL differs: $(show account_show_url)"
run account_show_none account show -c "$BASE" nosuchaccount
expect_rc account_show_none 1 && expect_one_line account_show_none '"nosuchaccount"'
run account_none account -c "$BASE"
check_rc account_none 2
run account_bogus account frobnicate -c "$BASE"
check_rc account_bogus 2

run account_deact account deactivate -c "$BASE" "$M1"
check_rc account_deact 0
[ "$(acct_status "$M1_ID")" = deactivated ] &&
	check_ok "account deactivate: the account is deactivated" ||
	check_bad "account deactivate: status $(acct_status "$M1_ID")"
acct_run m1_order3 "$T/m1.state" order
if [ "$ST" = 401 ] && [ "$PT" = unauthorized ]; then
	check_ok "account deactivate: the account gets 401 unauthorized \"$PD\""
else
	check_bad "account deactivate: account not cut off: $(acct_show m1_order3)"
fi
n=$(audit_count account.deactivated "$M1_ID")
[ "$n" = 1 ] && check_ok "audit: account.deactivated for $M1_ID" ||
	check_bad "audit: $n account.deactivated rows for $M1_ID"
run account_deact2 account deactivate -c "$BASE" -- "$M1_ID"
expect_rc account_deact2 1 && expect_one_line account_deact2 '"'"$M1_ID"'"'

# ================================================================ file modes
mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }
# the running bridge created its database (and -wal) 0600 whatever the
# umask of the test
for f in "$BRIDGE_DB" "$BRIDGE_DB-wal"; do
	m=$(mode_of "$f")
	[ "$m" = 600 ] && check_ok "$(basename "$f") has mode 600" ||
		check_bad "$(basename "$f") has mode $m, expected 600"
done
m=$(mode_of "$T/bridge-key.pem")
[ "$m" = 600 ] && check_ok "self-signed TLS key has mode 600" ||
	check_bad "self-signed TLS key has mode $m, expected 600"

# mkserve NAME [JQ_FILTER [JQ_ARGS...]]: a config of its own (free port,
# database in $T/NAME/bridge.db, own certificate), edited by JQ_FILTER.
mkserve() {
	local name=$1 filter=${2:-.} port
	shift 2 || shift $#
	port=$(free_port)
	mkconf "$name" '.listen = $l | .base_url = $b | .database = $d
		| .tls.cert_file = $c | .tls.key_file = $k | .log_level = "err"
		| '"$filter" --arg l "127.0.0.1:$port" --arg b "https://127.0.0.1:$port" \
		--arg d "$T/$name/bridge.db" --arg c "$T/$name-cert.pem" \
		--arg k "$T/$name-key.pem" "$@"
}
# a missing database directory is created 0700, the database 0600
mkserve fresh
run fresh_list eab list -c "$CONF/fresh.json"
check_rc fresh_list 0
m=$(mode_of "$T/fresh")
[ "$m" = 700 ] && check_ok "new database directory has mode 700" ||
	check_bad "new database directory has mode $m, expected 700"
m=$(mode_of "$T/fresh/bridge.db")
[ "$m" = 600 ] && check_ok "new database has mode 600" ||
	check_bad "new database has mode $m, expected 600"

# expect_chmod NAME FILE: stderr of run NAME tells to chmod 600 FILE.
expect_chmod() {
	grep -qF "chmod 600 $2" "$OUT/$1.err" &&
		check_ok "$1: says chmod 600 $(basename "$2")" ||
		check_bad "$1: does not say \"chmod 600 $2\": $(show "$1")"
}
# a database readable by others: serve and the database commands refuse it
# (made here when the step above failed, so that these checks still run)
[ -e "$T/fresh/bridge.db" ] || { mkdir -p "$T/fresh" && : >"$T/fresh/bridge.db"; }
chmod 644 "$T/fresh/bridge.db"
RUN_TIMEOUT=15 run open_db_serve serve -c "$CONF/fresh.json"
expect_rc open_db_serve 1 && expect_one_line open_db_serve "$T/fresh/bridge.db" &&
	expect_chmod open_db_serve "$T/fresh/bridge.db"
for c in "eab list" "account list"; do
	n=open_db_${c// /_}
	# shellcheck disable=SC2086 # two words
	run "$n" $c -c "$CONF/fresh.json"
	expect_rc "$n" 1 && expect_one_line "$n" "$T/fresh/bridge.db" &&
		expect_chmod "$n" "$T/fresh/bridge.db"
done
chmod 600 "$T/fresh/bridge.db"
# a -wal file readable by its group
: >"$T/fresh/bridge.db-wal"
chmod 640 "$T/fresh/bridge.db-wal"
RUN_TIMEOUT=15 run open_wal serve -c "$CONF/fresh.json"
expect_rc open_wal 1 && expect_one_line open_wal "$T/fresh/bridge.db-wal" &&
	expect_chmod open_wal "$T/fresh/bridge.db-wal"
rm -f "$T/fresh/bridge.db-wal"

# secret files readable by others: check-config and serve refuse them
cp "$T/secret" "$T/open-secret"
chmod 644 "$T/open-secret"
mkserve open_secret '.connectors[0].client_secret_file = $f' --arg f "$T/open-secret"
run open_secret_check check-config -c "$CONF/open_secret.json"
expect_rc open_secret_check 1 &&
	expect_one_line open_secret_check 'connectors[0].client_secret_file' &&
	expect_chmod open_secret_check "$T/open-secret"
RUN_TIMEOUT=15 run open_secret_serve serve -c "$CONF/open_secret.json"
expect_rc open_secret_serve 1 &&
	expect_one_line open_secret_serve 'connectors[0].client_secret_file' &&
	expect_chmod open_secret_serve "$T/open-secret"
# (the database commands need no CA secret and still work)
run open_secret_eab eab list -c "$CONF/open_secret.json"
check_rc open_secret_eab 0
cp "$T/sim-password" "$T/group-password"
chmod 640 "$T/group-password"
mkconf group_password "$HEADER" --arg pw "$T/group-password"
run group_password check-config -c "$CONF/group_password.json"
expect_rc group_password 1 && expect_one_line group_password 'connectors[0].password_file' &&
	expect_chmod group_password "$T/group-password"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$T/open-key.pem" 2>/dev/null
chmod 644 "$T/open-key.pem"
mkconf open_key '.tls.key_file = $k' --arg k "$T/open-key.pem"
run open_key check-config -c "$CONF/open_key.json"
expect_rc open_key 1 && expect_one_line open_key tls.key_file &&
	expect_chmod open_key "$T/open-key.pem"

# ================================================================ serve
run serve_bad serve -c "$CONF/type_workers.json"
expect_rc serve_bad 1 && expect_one_line serve_bad workers
run serve_bad_secret serve -c "$CONF/secret_file_missing.json"
expect_rc serve_bad_secret 1 &&
	expect_one_line serve_bad_secret 'connectors[0].client_secret_file'

# a port held by a plain (non-SO_REUSEPORT) listener
python3 -c 'import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(3600)' >"$T/holder.port" 2>>"$T/holder.log" &
HOLDER=$!
track_pid "$HOLDER" "port holder"
wait_for "port holder" "$T/holder.log" "$HOLDER" test -s "$T/holder.port"
BUSY=$(tr -dc '0-9' <"$T/holder.port")
mkconf serve_busy '.listen = $l | .base_url = $b | .database = $d
	| .tls.cert_file = $c | .tls.key_file = $k | .log_level = "err"' \
	--arg l "127.0.0.1:$BUSY" --arg b "https://127.0.0.1:$BUSY" \
	--arg d "$T/busy.db" --arg c "$T/busy-cert.pem" --arg k "$T/busy-key.pem"
RC=0
timeout 20 "$ACMEBRIDGE_BIN" serve -c "$CONF/serve_busy.json" \
	>"$OUT/serve_busy.out" 2>"$OUT/serve_busy.err" </dev/null || RC=$?
if [ "$RC" -eq 124 ]; then
	check_bad "serve on busy port $BUSY: still running after 20s: $(show serve_busy)"
elif [ "$RC" -eq 0 ]; then
	check_bad "serve on busy port $BUSY: exit 0: $(show serve_busy)"
elif [ "$RC" -ge 128 ]; then
	check_bad "serve on busy port $BUSY: killed by a signal: $(show serve_busy)"
elif grep -q 'listen' "$OUT/serve_busy.err"; then
	check_ok "serve on busy port: exit $RC, $(grep listen "$OUT/serve_busy.err" | head -n 1)"
else
	check_bad "serve on busy port: message does not name listen: $(show serve_busy)"
fi

# ================================================================ secrets
# the client secret, the header password and the wrong secret never appear
# in anything acmebridge printed, nor in the server's log
for s in sim-secret sim-password "$WRONG_SECRET"; do
	hits=$(grep -rlF -- "$s" "$OUT" "$T/bridge.log" || true)
	[ -z "$hits" ] && check_ok "secret \"$s\" appears in no output" ||
		check_bad "secret \"$s\" appears in: $hits"
done
# (sanitizer builds) no report in any command's stderr
hits=$(grep -lE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
	"$OUT"/*.err || true)
[ -z "$hits" ] && check_ok "no sanitizer report from any command" ||
	check_bad "sanitizer reports in: $hits"

# the bridge kept running through all of this
_alive "$BRIDGE_PID" && check_ok "the running bridge is still alive" ||
	check_bad "the running bridge died"

# EAB keys never start with '-': client option parsers (certbot
# --eab-hmac-key, lego --hmac) would read them as options. 200 keys
# without the rule would all pass by chance 4 times in 100.
bad=0
for _ in $(seq 1 200); do
	"$ACMEBRIDGE_BIN" eab add -c "$BASE" --note dash-check >"$T/eabd.json" 2>/dev/null || bad=1
	jq -e '(.kid | startswith("-") | not) and (.hmac_key | startswith("-") | not)' \
		"$T/eabd.json" >/dev/null || bad=1
done
[ "$bad" = 0 ] && check_ok "200 EAB keys: no kid or MAC key starts with '-'" ||
	check_bad "an EAB kid or key starts with '-': $(cat "$T/eabd.json")"

check_summary ""
