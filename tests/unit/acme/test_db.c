/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/db: opening and migrating a real file, refusing a
 * newer schema, every binding type, NULLs, transactions and audit rows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "acme/db.h"

struct fixture {
	char dir[64];
	char path[128];
};

/* A fresh temporary directory per test, holding the database file (and
 * the -wal / -shm files SQLite makes next to it). */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/acme-test-db.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/acme.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	DIR *d = opendir(f->dir);
	char p[400];

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct acme_db *
open_ok(const char *path, int sync_full)
{
	char err[256] = "";
	struct acme_db *db = acme_db_open(path, sync_full, err, sizeof(err));

	if (db == NULL)
		fail_msg("acme_db_open(%s): %s", path, err);
	return db;
}

static long long
user_version(struct acme_db *db)
{
	json_t *r = acme_db_one(db, "PRAGMA user_version", NULL);
	long long v;

	assert_non_null(r);
	v = acme_row_int(r, "user_version");
	json_decref(r);
	return v;
}

/* user_version read with SQLite directly, not through the code under
 * test. */
static int
raw_user_version(const char *path)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int v;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *h = NULL;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

static long long
count(struct acme_db *db, const char *sql)
{
	json_t *r = acme_db_one(db, sql, NULL);
	long long n;

	assert_non_null(r);
	n = acme_row_int(r, "n");
	json_decref(r);
	return n;
}

static void
insert_account(struct acme_db *db, const char *kid, long long now)
{
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO accounts(kid, jwk, thumbprint,"
	                     " status, connector, created) VALUES (?, '{}',"
	                     " ?, 'valid', 'conn', ?)",
	                     "ssi", kid, kid, now),
	    1);
}

/* ---- open and migrate ------------------------------------------------ */

static void
test_open_migrates(void **state)
{
	struct fixture *f = *state;
	struct acme_db *db = open_ok(f->path, 1);
	json_t *rows, *r;
	const char *want[] = {"accounts", "audit", "authzs", "certificates",
	    "challenges", "dcv", "dns_records", "eab_keys", "jobs",
	    "order_authzs", "orders", "scm_domains", "sync_state"};

	assert_true(user_version(db) >= 1);
	rows = acme_db_all(db,
	    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY"
	    " name",
	    NULL);
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 13);
	for (size_t i = 0; i < 13; i++)
		assert_string_equal(
		    acme_row_str(json_array_get(rows, i), "name"), want[i]);
	json_decref(rows);

	r = acme_db_one(db, "PRAGMA journal_mode", NULL);
	assert_string_equal(acme_row_str(r, "journal_mode"), "wal");
	json_decref(r);
	r = acme_db_one(db, "PRAGMA synchronous", NULL);
	assert_int_equal(acme_row_int(r, "synchronous"), 2); /* FULL */
	json_decref(r);
	r = acme_db_one(db, "PRAGMA foreign_keys", NULL);
	assert_int_equal(acme_row_int(r, "foreign_keys"), 1);
	json_decref(r);
	acme_db_close(db);
	/* the version is in the file, not only in the connection */
	assert_true(raw_user_version(f->path) >= 1);
}

static void
test_reopen_idempotent(void **state)
{
	struct fixture *f = *state;
	struct acme_db *db = open_ok(f->path, 1);
	long long v = user_version(db);
	json_t *r;

	insert_account(db, "kid-1", 1000);
	acme_db_audit(db, 1000, "account.new", "kid-1", "");
	acme_db_close(db);

	db = open_ok(f->path, 0);
	assert_int_equal(user_version(db), v);
	r = acme_db_one(db, "PRAGMA synchronous", NULL);
	assert_int_equal(acme_row_int(r, "synchronous"), 1); /* NORMAL */
	json_decref(r);
	/* data kept, nothing re-created (a second CREATE TABLE would fail) */
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 1);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM audit"), 1);
	acme_db_close(db);

	db = open_ok(f->path, 1);
	assert_int_equal(user_version(db), v);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 1);
	acme_db_close(db);
}

static void
test_future_version_refused(void **state)
{
	struct fixture *f = *state;
	struct acme_db *db = open_ok(f->path, 1);
	long long v = user_version(db);
	char sql[64], err[256] = "", num[32];

	acme_db_close(db);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%lld", v + 1);
	raw_exec(f->path, sql);

	db = acme_db_open(f->path, 1, err, sizeof(err));
	assert_null(db);
	assert_non_null(strstr(err, "newer than this acmebridge"));
	snprintf(num, sizeof(num), "version %lld", v + 1);
	assert_non_null(strstr(err, num));
	/* the refused file is left as it was */
	assert_int_equal(raw_user_version(f->path), v + 1);
}

static void
test_open_bad_path(void **state)
{
	char err[256] = "";
	struct acme_db *db;

	(void)state;
	db = acme_db_open(
	    "/nonexistent-acme-dir/sub/acme.db", 1, err, sizeof(err));
	assert_null(db);
	assert_non_null(strstr(err, "/nonexistent-acme-dir/sub/acme.db"));
}

static void
test_memory_db(void **state)
{
	struct acme_db *db = open_ok(":memory:", 0);

	(void)state;
	assert_true(user_version(db) >= 1);
	insert_account(db, "m", 1);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 1);
	acme_db_close(db);
	acme_db_close(NULL); /* no-op */
}

/* ---- statements and bindings --------------------------------------- */

static void
test_bind_types(void **state)
{
	struct acme_db *db = open_ok(":memory:", 0);
	static const unsigned char blob[] = {0x00, 0xff, 'A', 'B'};
	static const char sel[] =
	    "SELECT ? AS i, ? AS neg, ? AS s, ? AS sn, typeof(?) AS snt,"
	    " length(?) AS bl, hex(?) AS bh, typeof(?) AS bt";
	json_t *r;

	(void)state;
	r = acme_db_one(db, sel, "iisssbbb", LLONG_MAX, (long long)-42,
	    "h\xc3\xa9llo", (const char *)NULL, (const char *)NULL, blob,
	    sizeof(blob), blob, sizeof(blob), blob, sizeof(blob));
	assert_non_null(r);
	assert_true(json_is_integer(json_object_get(r, "i")));
	assert_true(acme_row_int(r, "i") == LLONG_MAX);
	assert_int_equal(acme_row_int(r, "neg"), -42);
	assert_string_equal(acme_row_str(r, "s"), "h\xc3\xa9llo");
	assert_true(json_is_null(json_object_get(r, "sn")));
	assert_string_equal(acme_row_str(r, "sn"), ""); /* accessor default */
	assert_string_equal(acme_row_str(r, "snt"), "null");
	assert_int_equal(acme_row_int(r, "bl"), 4);
	assert_string_equal(acme_row_str(r, "bh"), "00FF4142");
	assert_string_equal(acme_row_str(r, "bt"), "blob");
	json_decref(r);

	/* the cached statement is rebound from scratch: no value leaks from
	 * the previous call */
	r = acme_db_one(db, sel, "iisssbbb", 0LL, 7LL, "", "y",
	    (const char *)NULL, "", (size_t)0, "", (size_t)0, "", (size_t)0);
	assert_non_null(r);
	assert_int_equal(acme_row_int(r, "i"), 0);
	assert_int_equal(acme_row_int(r, "neg"), 7);
	assert_string_equal(acme_row_str(r, "s"), "");
	assert_true(json_is_string(json_object_get(r, "s")));
	assert_string_equal(acme_row_str(r, "sn"), "y");
	assert_string_equal(acme_row_str(r, "snt"), "null");
	assert_int_equal(acme_row_int(r, "bl"), 0);
	json_decref(r);
	acme_db_close(db);
}

static void
test_exec_one_all(void **state)
{
	struct acme_db *db = open_ok(":memory:", 0);
	json_t *r, *rows;
	long long id1, id2;

	(void)state;
	insert_account(db, "a1", 10);
	id1 = acme_db_last_id(db);
	insert_account(db, "a2", 20);
	id2 = acme_db_last_id(db);
	assert_true(id2 > id1);

	/* NULL in, NULL out (eab_kid is nullable) */
	r = acme_db_one(db, "SELECT * FROM accounts WHERE id = ?", "i", id1);
	assert_non_null(r);
	assert_string_equal(acme_row_str(r, "kid"), "a1");
	assert_int_equal(acme_row_int(r, "created"), 10);
	assert_true(json_is_null(json_object_get(r, "eab_kid")));
	assert_string_equal(acme_row_str(r, "contact"), "[]"); /* default */
	json_decref(r);
	assert_int_equal(
	    acme_db_exec(db, "UPDATE accounts SET eab_kid = ? WHERE id = ?",
	        "si", "eab-1", id1),
	    1);
	assert_int_equal(
	    acme_db_exec(db, "UPDATE accounts SET eab_kid = ? WHERE id = ?",
	        "si", (const char *)NULL, id1),
	    1);
	r = acme_db_one(
	    db, "SELECT eab_kid FROM accounts WHERE id = ?", "i", id1);
	assert_true(json_is_null(json_object_get(r, "eab_kid")));
	json_decref(r);

	/* rows changed */
	assert_int_equal(
	    acme_db_exec(db, "UPDATE accounts SET status = ? WHERE created > ?",
	        "si", "deactivated", 0LL),
	    2);
	assert_int_equal(
	    acme_db_exec(db, "UPDATE accounts SET status = ? WHERE created > ?",
	        "si", "deactivated", 1000LL),
	    0);

	/* one: no row is NULL; all: no row is an empty array */
	assert_null(acme_db_one(
	    db, "SELECT * FROM accounts WHERE kid = ?", "s", "nope"));
	rows = acme_db_all(
	    db, "SELECT kid FROM accounts WHERE kid = ?", "s", "nope");
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	rows = acme_db_all(db,
	    "SELECT kid, created FROM accounts ORDER BY created DESC", NULL);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(acme_row_str(json_array_get(rows, 0), "kid"), "a2");
	assert_string_equal(acme_row_str(json_array_get(rows, 1), "kid"), "a1");
	json_decref(rows);

	/* errors: -1 / NULL, and the connection stays usable */
	assert_int_equal(
	    acme_db_exec(db, "INSERT INTO nosuch VALUES (1)", NULL), -1);
	assert_null(acme_db_one(db, "SELECT nosuch FROM accounts", NULL));
	assert_null(acme_db_all(db, "SELECT nosuch FROM accounts", NULL));
	/* UNIQUE(kid) */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO accounts(kid, jwk, thumbprint,"
	                     " status, connector, created) VALUES (?, '{}',"
	                     " ?, 'valid', 'conn', ?)",
	                     "ssi", "a1", "other", 1LL),
	    -1);
	/* NOT NULL */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO accounts(kid, jwk, thumbprint,"
	                     " status, connector, created) VALUES (?, '{}',"
	                     " ?, 'valid', 'conn', ?)",
	                     "ssi", "a3", (const char *)NULL, 1LL),
	    -1);
	/* foreign keys are enforced */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO orders(oid, account_id, status,"
	                     " expires, identifiers, connector, created,"
	                     " updated) VALUES ('o', ?, 'pending', 0, '[]',"
	                     " 'c', 0, 0)",
	                     "i", id2 + 100),
	    -1);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 2);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM orders"), 0);
	acme_db_close(db);
}

/* ---- transactions -------------------------------------------------- */

static void
test_transactions(void **state)
{
	struct fixture *f = *state;
	struct acme_db *db = open_ok(f->path, 1), *other = open_ok(f->path, 1);

	/* a rolled-back insert is gone */
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "rolled", 1);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 1);
	/* uncommitted: another connection does not see it */
	assert_int_equal(count(other, "SELECT count(*) AS n FROM accounts"), 0);
	/* no nesting: a second BEGIN fails and leaves the first open */
	assert_int_equal(acme_db_begin(db), -1);
	acme_db_rollback(db);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 0);
	assert_null(acme_db_one(
	    db, "SELECT * FROM accounts WHERE kid = ?", "s", "rolled"));

	/* a committed one stays, and the other connection sees it */
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "kept", 2);
	acme_db_audit(db, 2, "account.new", "kept", NULL);
	assert_int_equal(acme_db_commit(db), 0);
	assert_int_equal(count(other, "SELECT count(*) AS n FROM accounts"), 1);
	assert_int_equal(count(other, "SELECT count(*) AS n FROM audit"), 1);

	/* COMMIT outside a transaction fails; ROLLBACK outside is a no-op */
	assert_int_equal(acme_db_commit(db), -1);
	acme_db_rollback(db);
	acme_db_rollback(db);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 1);

	/* a failed statement inside a transaction, then rollback: nothing of
	 * the transaction stays */
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "partial", 3);
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO accounts(kid, jwk, thumbprint,"
	                     " status, connector, created) VALUES (?, '{}',"
	                     " ?, 'valid', 'conn', ?)",
	                     "ssi", "kept", "dup", 3LL),
	    -1);
	acme_db_rollback(db);
	assert_null(acme_db_one(
	    db, "SELECT * FROM accounts WHERE kid = ?", "s", "partial"));
	assert_int_equal(count(other, "SELECT count(*) AS n FROM accounts"), 1);

	/* the store is usable for a new transaction after all that */
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "after", 4);
	assert_int_equal(acme_db_commit(db), 0);
	assert_int_equal(count(other, "SELECT count(*) AS n FROM accounts"), 2);
	acme_db_close(other);
	acme_db_close(db);
}

static int
has_kid(struct acme_db *db, const char *kid)
{
	json_t *row =
	    acme_db_one(db, "SELECT * FROM accounts WHERE kid = ?", "s", kid);
	int found = row != NULL;

	json_decref(row);
	return found;
}

static void
count_open(void *arg)
{
	(*(int *)arg)++;
}

/* Group commit: units of work nest as savepoints in one transaction that
 * only acme_db_batch_commit ends; other connections see nothing before. */
static void
test_batch_mode(void **state)
{
	struct fixture *f = *state;
	struct acme_db *db = open_ok(f->path, 0), *other = open_ok(f->path, 1);
	int opened = 0;

	acme_db_batch_mode(db, count_open, &opened);
	assert_int_equal(acme_db_batch_open(db), 0);
	assert_int_equal(acme_db_batch_commit(db), 0); /* nothing open */

	/* unit 1 commits, unit 2 rolls back, a bare statement joins */
	assert_int_equal(acme_db_begin(db), 0);
	assert_int_equal(opened, 1);
	assert_int_equal(acme_db_batch_open(db), 1);
	insert_account(db, "one", 1);
	assert_int_equal(acme_db_commit(db), 0);
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "two", 2);
	acme_db_rollback(db);
	acme_db_audit(db, 3, "test", "bare", NULL);
	assert_int_equal(opened, 1); /* still the same batch */
	/* a commit without a unit open is refused, the batch stays open */
	assert_int_equal(acme_db_commit(db), -1);
	assert_int_equal(acme_db_batch_open(db), 1);
	assert_int_equal(count(db, "SELECT count(*) AS n FROM accounts"), 1);
	assert_int_equal(count(other, "SELECT count(*) AS n FROM accounts"), 0);
	assert_int_equal(count(other, "SELECT count(*) AS n FROM audit"), 0);

	assert_int_equal(acme_db_batch_commit(db), 0);
	assert_int_equal(acme_db_batch_open(db), 0);
	assert_int_equal(count(other, "SELECT count(*) AS n FROM accounts"), 1);
	assert_true(has_kid(other, "one"));
	assert_false(has_kid(other, "two"));
	assert_int_equal(count(other, "SELECT count(*) AS n FROM audit"), 1);

	/* a failed statement inside a unit rolls back that unit only */
	assert_int_equal(acme_db_begin(db), 0);
	assert_int_equal(opened, 2);
	insert_account(db, "three", 3);
	assert_int_equal(acme_db_commit(db), 0);
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "four", 4);
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO accounts(kid, jwk, thumbprint,"
	                     " status, connector, created) VALUES (?, '{}',"
	                     " ?, 'valid', 'conn', ?)",
	                     "ssi", "one", "dup", 4LL),
	    -1);
	acme_db_rollback(db);
	assert_int_equal(acme_db_batch_commit(db), 0);
	assert_true(has_kid(other, "three"));
	assert_false(has_kid(other, "four"));

	/* a batch SQLite rolled back behind our back is reported lost, and
	 * nothing runs outside it meanwhile */
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "five", 5);
	assert_int_equal(acme_db_commit(db), 0);
	assert_true(acme_db_exec(db, "ROLLBACK", NULL) >= 0);
	assert_int_equal(acme_db_exec(db, "DELETE FROM audit", NULL), -1);
	assert_int_equal(acme_db_batch_commit(db), -1);
	assert_false(has_kid(other, "five"));
	assert_int_equal(count(other, "SELECT count(*) AS n FROM audit"), 1);
	/* and the next batch works */
	assert_int_equal(acme_db_begin(db), 0);
	insert_account(db, "six", 6);
	assert_int_equal(acme_db_commit(db), 0);
	assert_int_equal(acme_db_batch_commit(db), 0);
	assert_true(has_kid(other, "six"));
	acme_db_close(other);
	acme_db_close(db);
}

static void
test_audit(void **state)
{
	struct acme_db *db = open_ok(":memory:", 0);
	json_t *rows, *r;

	(void)state;
	acme_db_audit(db, 1700000000, "order.new", "oid-1", "[\"a\"]");
	acme_db_audit(db, 1700000001, "order.failed", "order=2", NULL);
	/* inside a rolled-back transaction the audit row goes too */
	assert_int_equal(acme_db_begin(db), 0);
	acme_db_audit(db, 1700000002, "ghost", "x", "y");
	acme_db_rollback(db);

	rows = acme_db_all(db, "SELECT * FROM audit ORDER BY id", NULL);
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 2);
	r = json_array_get(rows, 0);
	assert_int_equal(acme_row_int(r, "ts"), 1700000000);
	assert_string_equal(acme_row_str(r, "event"), "order.new");
	assert_string_equal(acme_row_str(r, "ref"), "oid-1");
	assert_string_equal(acme_row_str(r, "detail"), "[\"a\"]");
	r = json_array_get(rows, 1);
	assert_int_equal(acme_row_int(r, "ts"), 1700000001);
	assert_string_equal(acme_row_str(r, "event"), "order.failed");
	assert_string_equal(acme_row_str(r, "ref"), "order=2");
	/* NULL detail is stored as "" (the column is NOT NULL) */
	assert_true(json_is_string(json_object_get(r, "detail")));
	assert_string_equal(acme_row_str(r, "detail"), "");
	json_decref(rows);
	acme_db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_open_migrates, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reopen_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_future_version_refused, setup, teardown),
	    cmocka_unit_test(test_open_bad_path),
	    cmocka_unit_test(test_memory_db),
	    cmocka_unit_test(test_bind_types),
	    cmocka_unit_test(test_exec_one_all),
	    cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	    cmocka_unit_test(test_audit),
	    cmocka_unit_test_setup_teardown(test_batch_mode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
