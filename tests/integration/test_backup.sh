#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Backups while serving: `acmebridge backup` copies the database while the
# load generator keeps placing orders; `acmebridge db check` finds the copy
# sound (integrity, schema, no orphaned rows); the restore procedure of the
# README (stop, put the copy in place without -wal/-shm, start) brings back
# a bridge that serves the certificates the copy holds and issues new ones.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

LOAD=$(dirname "$ACMEBRIDGE_BIN")/acmeload
[ -x "$LOAD" ] || fail "load generator not found: $LOAD (build it first)"
# the load generator is a client: what it leaves unfreed at exit is not
# what this test is about (in a sanitizer build LeakSanitizer would turn
# its exit status into a failure); the servers keep their leak checks
load() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "$LOAD" "$@"; }

start_bind
start_sim
start_bridge '.rate_limits.new_orders_per_account_per_hour = 0
  | .rate_limits.new_orders_per_ip_per_hour = 0
  | .rate_limits.new_orders_per_domain_per_week = 0'

load "$BRIDGE_DIR_URL" --ca-bundle "$BRIDGE_CA" -c 4 -d 8 \
	--domain-suffix "$ZONE" --http01-port "$HTTP01_PORT" \
	--json "$T/load.json" >"$T/load.out" 2>&1 &
LOAD_PID=$!
track_pid "$LOAD_PID" acmeload
sleep 4
BK=$T/backup.db
if "$ACMEBRIDGE_BIN" backup -c "$T/bridge.json" "$BK" >"$T/backup.out" 2>&1; then
	check_ok "backup under load: $(cat "$T/backup.out")"
else
	check_bad "backup under load failed: $(cat "$T/backup.out")"
fi
wait "$LOAD_PID" || check_bad "the load generator failed: $(tail -3 "$T/load.out")"

if [ "$(stat -c %a "$BK")" = 600 ] && [ ! -e "$BK-wal" ]; then
	check_ok "the backup is private (0600) and self-contained (no -wal)"
else
	check_bad "backup file mode $(stat -c %a "$BK"), wal $(ls "$BK"-* 2>/dev/null)"
fi
n_bk=$(sqlite3 "$BK" "SELECT COUNT(*) FROM certificates")
n_live=$(sqlite3 "$BRIDGE_DB" "SELECT COUNT(*) FROM certificates")
if [ "$n_bk" -gt 0 ] && [ "$n_bk" -le "$n_live" ]; then
	check_ok "the backup holds $n_bk certificates (the live database $n_live after the load)"
else
	check_bad "backup $n_bk certificates, live $n_live"
fi
if "$ACMEBRIDGE_BIN" backup -c "$T/bridge.json" "$BK" >/dev/null 2>"$T/err"; then
	check_bad "a backup over an existing file succeeded"
else
	check_ok "a backup never overwrites a file: $(cat "$T/err")"
fi

# db check on the copy and on the live database
jq --arg db "$BK" '.database = $db' "$T/bridge.json" >"$T/bk.json"
if "$ACMEBRIDGE_BIN" db check -c "$T/bk.json" >"$T/check.out" 2>&1 &&
	grep -q "^integrity  ok" "$T/check.out" && grep -q "^schema     ok" "$T/check.out" &&
	[ "$(grep -c '^orphans    ok' "$T/check.out")" = 5 ]; then
	check_ok "db check of the backup: $(tr '\n' ';' <"$T/check.out" | cut -c1-200)"
else
	check_bad "db check of the backup: $(cat "$T/check.out")"
fi
# an orphan is reported, and the exit status says so
cp "$BK" "$T/broken.db"
sqlite3 "$T/broken.db" "PRAGMA foreign_keys=OFF; DELETE FROM orders WHERE id = (SELECT order_id FROM certificates LIMIT 1)"
jq --arg db "$T/broken.db" '.database = $db' "$T/bridge.json" >"$T/broken.json"
if "$ACMEBRIDGE_BIN" db check -c "$T/broken.json" >"$T/check2.out" 2>&1; then
	check_bad "db check passed a database with a certificate whose order is gone"
elif grep -q "FAIL.*certificates without their order" "$T/check2.out"; then
	check_ok "db check names the orphaned certificate and exits non-zero"
else
	check_bad "db check on the broken copy: $(cat "$T/check2.out")"
fi

# restore: stop, the copy in place of the database, start
serial=$(sqlite3 "$BK" "SELECT serial FROM certificates ORDER BY id LIMIT 1")
_stop_pid "$BRIDGE_PID" || fail "the bridge did not stop"
wait "$BRIDGE_PID" 2>/dev/null || true
BRIDGE_PID=""
rm -f "$BRIDGE_DB" "$BRIDGE_DB-wal" "$BRIDGE_DB-shm"
cp "$BK" "$BRIDGE_DB"
chmod 600 "$BRIDGE_DB"
_bridge_launch
got=$("$ACMEBRIDGE_BIN" inventory show "$serial" -c "$T/bridge.json" 2>/dev/null | jq -r .serial)
if [ "$got" = "$serial" ]; then
	check_ok "after the restore the bridge holds the backup's certificates"
else
	check_bad "after the restore serial $serial is '$got'"
fi
if load "$BRIDGE_DIR_URL" --ca-bundle "$BRIDGE_CA" -c 1 --orders 2 -d 0 \
	--domain-suffix "$ZONE" --http01-port "$HTTP01_PORT" --json "$T/load2.json" \
	>"$T/load2.out" 2>&1 && [ "$(jq .orders_ok "$T/load2.json")" = 2 ]; then
	check_ok "the restored bridge issues new certificates"
else
	check_bad "after the restore: $(tail -3 "$T/load2.out")"
fi

check_bridge_alive
check_summary
