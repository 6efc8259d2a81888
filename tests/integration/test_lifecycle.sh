#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Certificate lifecycle through the bridge and the SCM simulator: profiles
# (meta.profiles, invalidProfile, the term SCM is asked for, EAB keys
# limited to some profiles), a second connector with its own directory,
# RFC 9773 renewal information and "replaces", the same-name-set renewal
# link, the inventory (list/show/export, filters), operator revocation
# through the job queue reaching SCM and the ARI window, and a revocation
# and a replacement made in SCM's console reaching the inventory and the
# window through the report sync.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python
start_bind
start_sim
# two profiles on the main connector (the short one on the simulator's
# second certificate type with its shortest term), a second connector
SHORT_TYPE=226
SHORT_TERM=90
export SHORT_TERM
start_bridge "
  .connectors[0].validity_days = 199
| .connectors[0].profiles = {
    default: {description: \"OV, 199 days\"},
    short: {description: \"90 days\", cert_type: $SHORT_TYPE, term: $SHORT_TERM}
  }
| .connectors += [.connectors[0] | .name = \"other\"
    | .profiles = {\"other-default\": {description: \"the other connector\"}}
    | .default_profile = \"other-default\"]
| .jobs = {sync_interval_minutes: 0}"

eab() {
	"$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" "$@" | jq -r '.kid + ":" + .hmac_key'
}
EAB_SHORT=$(eab --profiles short)
EAB_OTHER=$(eab --connector other)
export EAB_SHORT EAB_OTHER
if "$ACMEBRIDGE_BIN" eab add -c "$T/bridge.json" --profiles nosuch >/dev/null 2>"$T/err"; then
	check_bad "eab add --profiles nosuch was accepted"
elif grep -q nosuch "$T/err"; then
	check_ok "eab add --profiles with an unknown profile is refused, naming it"
else
	check_bad "eab add --profiles nosuch: $(cat "$T/err")"
fi

OUT=$T/lifecycle
mkdir -p "$OUT"
check_py test_lifecycle.py "$OUT"
acct_conn=$(sqlite3 "$BRIDGE_DB" "SELECT connector FROM accounts WHERE eab_kid = '${EAB_OTHER%%:*}'")
if [ "$acct_conn" = other ]; then
	check_ok "the account created through /acme/other/directory belongs to connector other"
else
	check_bad "the other connector's account: connector '$acct_conn'"
fi

db() { sqlite3 "$BRIDGE_DB" "$@"; }
serial() { jq -r ".$1" "$OUT/serials.json"; }
A=$(serial a_pem)
B=$(serial b_pem)
C=$(serial c_pem)
FREE=$(serial free_pem)

# ---- renewal links in the store
link=$(db "SELECT p.serial FROM certificates c JOIN certificates p ON p.id = c.predecessor WHERE c.serial = '$B'")
succ=$(db "SELECT s.serial FROM certificates c JOIN certificates s ON s.id = c.replaced_by WHERE c.serial = '$A'")
if [ "$link" = "$A" ] && [ "$succ" = "$B" ]; then
	check_ok "the replacement's predecessor is the replaced certificate, and it names its successor"
else
	check_bad "links of $A/$B: predecessor '$link', successor '$succ'"
fi
link=$(db "SELECT p.serial FROM certificates c JOIN certificates p ON p.id = c.predecessor WHERE c.serial = '$C'")
if [ "$link" = "$B" ]; then
	check_ok "a renewal without replaces is linked to the account's certificate for the same names"
else
	check_bad "renewal without replaces: predecessor '$link', want $B"
fi

# ---- inventory
inv() { "$ACMEBRIDGE_BIN" inventory "$@" -c "$T/bridge.json"; }
n=$(inv list --json | jq 'length')
rows=$(db "SELECT COUNT(*) FROM certificates")
if [ "$n" = "$rows" ] && [ "$n" -ge 5 ]; then
	check_ok "inventory list --json: every certificate ($n)"
else
	check_bad "inventory list --json: $n rows, the store has $rows"
fi
got=$(inv list --json --name "renew.$ZONE" | jq -r '[.[].serial] | sort | join(" ")')
want=$(printf '%s\n' "$A" "$B" "$C" | sort | paste -sd' ')
if [ "$got" = "$want" ]; then
	check_ok "inventory --name: the three certificates of renew.$ZONE"
else
	check_bad "inventory --name: '$got', want '$want'"
fi
got=$(inv list --json --status replaced | jq -r '[.[].serial] | sort | join(" ")')
want=$(printf '%s\n' "$A" "$B" | sort | paste -sd' ')
if [ "$got" = "$want" ]; then
	check_ok "inventory --status replaced: the two renewed certificates"
else
	check_bad "inventory --status replaced: '$got', want '$want'"
fi
got=$(inv list --json --profile short | jq -r '.[].profile' | sort -u)
if [ "$got" = "short" ]; then
	check_ok "inventory --profile short: only that profile's certificates"
else
	check_bad "inventory --profile short: profiles '$got'"
fi
got=$(inv list --json --expiring 30 | jq 'length')
if [ "$got" = 0 ]; then
	check_ok "inventory --expiring 30: none of the fresh certificates"
else
	check_bad "inventory --expiring 30: $got certificates"
fi
acct=$(cat "$OUT/account_kid")
got=$(inv list --json --account "$acct" | jq 'length')
if [ "$got" -ge 5 ] && [ "$got" -le "$rows" ]; then
	check_ok "inventory --account: $got certificates of the test account"
else
	check_bad "inventory --account $acct: $got"
fi
show=$(inv show "$(echo "$B" | tr a-f A-F | sed 's/../&:/g; s/:$//')")
if [ "$(jq -r .serial <<<"$show")" = "$B" ] &&
	[ "$(jq -r .predecessor <<<"$show")" = "$A" ] &&
	[ "$(jq -r .successor <<<"$show")" = "$C" ] &&
	[ "$(jq -r .ssl_id <<<"$show")" != "" ] &&
	[ "$(jq -r .connector <<<"$show")" = sectigo ]; then
	check_ok "inventory show (serial typed with colons, upper case): serial, links, sslId, connector"
else
	check_bad "inventory show $B: $show"
fi
csv=$(inv export)
if [ "$(head -1 <<<"$csv")" = "serial,names,not_before,not_after,status,ssl_id,account,order,connector,profile,predecessor,successor,scm_status,source" ] &&
	[ "$(tail -n +2 <<<"$csv" | wc -l)" = "$rows" ] &&
	grep -q "^$B,renew.$ZONE," <<<"$csv"; then
	check_ok "inventory export: CSV with a header and a row per certificate"
else
	check_bad "inventory export: $(head -3 <<<"$csv")"
fi
if inv list --status bogus >/dev/null 2>"$T/err" || ! grep -q -- "--status" "$T/err"; then
	check_bad "inventory --status bogus was not refused by name"
else
	check_ok "inventory --status bogus: refused, naming the option"
fi
inv list >"$OUT/inventory.txt"
if grep -q "^SERIAL " "$OUT/inventory.txt" && grep -q "renews $A" "$OUT/inventory.txt"; then
	check_ok "inventory list: a table with the renewal links"
else
	check_bad "inventory list table: $(head -3 "$OUT/inventory.txt")"
fi

# ---- operator revocation through the job queue
out=$("$ACMEBRIDGE_BIN" revoke "$FREE" --reason superseded -c "$T/bridge.json" 2>&1)
if grep -q "revoked in SCM" <<<"$out" && [ "$(sim_cert_status "$FREE")" = Revoked ]; then
	check_ok "acmebridge revoke: the running server revoked it in SCM"
else
	check_bad "acmebridge revoke: $out (SCM: $(sim_cert_status "$FREE"))"
fi
cid=$(jq -r .free_pem "$OUT/certids.json")
r=$(curl -fsS --cacert "$BRIDGE_CA" "$BRIDGE_URL/renewal-info/$cid")
end=$(jq -r .suggestedWindow.end <<<"$r")
url=$(jq -r .explanationURL <<<"$r")
if [ "$(date -d "$end" +%s)" -lt "$(date +%s)" ] && [[ $url == */renewal-explained/revoked ]] &&
	curl -fsS --cacert "$BRIDGE_CA" "$url" | grep -q revoked; then
	check_ok "ARI after revocation: a window in the past with an explanation page"
else
	check_bad "ARI after revocation: $r"
fi
if "$ACMEBRIDGE_BIN" revoke "$FREE" -c "$T/bridge.json" >/dev/null 2>&1; then
	check_bad "revoking a revoked certificate again succeeded"
else
	check_ok "revoking a revoked certificate again is refused"
fi

# ---- what SCM does on its own reaches the bridge through the report sync
ssl_of() { db "SELECT ca_ref FROM certificates WHERE serial = '$1'"; }
SHORT=$(db "SELECT serial FROM certificates WHERE profile = 'short' AND order_id IN (SELECT id FROM orders WHERE identifiers LIKE '%short.$ZONE%') ORDER BY id LIMIT 1")
sim_control "{\"console_revoke\":{\"id\":$(ssl_of "$C"),\"reason\":\"keyCompromise\"}}" >/dev/null ||
	check_bad "console_revoke refused"
sim_control "{\"console_replace\":{\"id\":$(ssl_of "$SHORT"),\"reason\":\"console test\"}}" >/dev/null ||
	check_bad "console_replace refused"
out=$("$ACMEBRIDGE_BIN" sync -c "$T/bridge.json" 2>>"$T/sync.log")
if grep -q "report rows" <<<"$out"; then
	check_ok "acmebridge sync: $(tr '\n' ' ' <<<"$out")"
else
	check_bad "acmebridge sync: $out"
fi
st=$(inv show "$C" | jq -r '.status + " " + .scm_status')
if [ "$st" = "revoked Revoked" ]; then
	check_ok "a revocation made in SCM's console reaches the inventory"
else
	check_bad "after the console revocation the inventory says '$st'"
fi
r=$(curl -fsS --cacert "$BRIDGE_CA" "$BRIDGE_URL/renewal-info/$(jq -r .c_pem "$OUT/certids.json")")
if [ "$(date -d "$(jq -r .suggestedWindow.end <<<"$r")" +%s)" -lt "$(date +%s)" ] &&
	[[ $(jq -r .explanationURL <<<"$r") == */revoked ]]; then
	check_ok "... and the RFC 9773 window: in the past, explained"
else
	check_bad "ARI after the console revocation: $r"
fi
new=$(inv list --json --status valid --profile short | jq -r --arg p "$SHORT" '.[] | select(.predecessor == $p) | .serial + " " + .source + " " + .ssl_id')
old=$(inv show "$SHORT" | jq -r '.status + " " + .scm_status')
if [ -n "$new" ] && [ "$(cut -d' ' -f2 <<<"$new")" = scm ] &&
	[ "$(cut -d' ' -f3 <<<"$new")" = "$(ssl_of "$SHORT")" ] && [ "$old" = "replaced Replaced" ]; then
	check_ok "a replacement made in SCM's console: the new serial is stored as the successor (same sslId), the old one replaced"
else
	check_bad "console replacement: successor '$new', old '$old'"
fi
out=$("$ACMEBRIDGE_BIN" sync -c "$T/bridge.json" 2>>"$T/sync.log")
n=$(db "SELECT COUNT(*) FROM certificates WHERE source = 'scm'")
if [ "$n" = 1 ]; then
	check_ok "a second sync changes nothing ($(tr '\n' ' ' <<<"$out"))"
else
	check_bad "after a second sync: $n certificates from SCM, want 1"
fi

# ---- the server's own sync: every jobs.sync_interval_minutes, the first
# pass right after start-up when the last one is older than that
jq '.jobs.sync_interval_minutes = 1' "$T/bridge.json" >"$T/b2.json" && mv "$T/b2.json" "$T/bridge.json"
db "UPDATE sync_state SET last_run = last_run - 3600"
sim_control "{\"console_revoke\":{\"id\":$(ssl_of "$A"),\"reason\":\"superseded\"}}" >/dev/null ||
	check_bad "console_revoke of $A refused"
restart_bridge
st=""
for _ in $(seq 1 80); do
	st=$(inv show "$A" 2>/dev/null | jq -r .scm_status)
	[ "$st" = Revoked ] && break
	sleep 0.5
done
if [ "$st" = Revoked ] && grep -q "sync sectigo: .* report rows" "$T/bridge.log"; then
	check_ok "the running server's scheduled sync brought a console revocation in"
else
	check_bad "scheduled sync: $A is '$st' in SCM's eyes"
fi

# ---- reissue through SCM replace
REN=$(jq -r .b_pem "$OUT/serials.json")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/re.key" \
	-subj "/CN=renew.$ZONE" -addext "subjectAltName=DNS:renew.$ZONE" -out "$T/re.csr" 2>/dev/null
if "$ACMEBRIDGE_BIN" reissue "$REN" --csr "$T/re.csr" --reason "key rotation" \
	--out "$T/re.pem" -c "$T/bridge.json" >"$T/re.out" 2>&1 &&
	verify_chain "$T/re.pem" "renew.$ZONE" >/dev/null; then
	nsr=$(openssl x509 -in "$T/re.pem" -noout -serial | sed 's/^serial=//' | tr A-F a-f | sed 's/^\(00\)*//')
	row=$(inv show "$nsr" | jq -r '.source + " " + .predecessor + " " + .ssl_id')
	if [ "$row" = "reissue $REN $(ssl_of "$REN")" ] &&
		cmp -s <(openssl x509 -in "$T/re.pem" -noout -pubkey) <(openssl pkey -in "$T/re.key" -pubout); then
		check_ok "acmebridge reissue: a new serial for the CSR's key, same sslId, stored as the successor"
	else
		check_bad "reissue: inventory row '$row' for $nsr"
	fi
else
	check_bad "acmebridge reissue failed: $(cat "$T/re.out")"
fi
if "$ACMEBRIDGE_BIN" reissue "$REN" --csr /nonexistent -c "$T/bridge.json" >/dev/null 2>&1; then
	check_bad "reissue with a missing CSR file succeeded"
else
	check_ok "reissue with a missing CSR file is refused"
fi

check_bridge_alive
check_summary
