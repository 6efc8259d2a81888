/* SPDX-License-Identifier: Apache-2.0 */
/* SQLite store: open, migrate, cached statements, rows as JSON. */
#include "acme/db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "contrib/log.h"
#include "contrib/secfile.h"

#define NCACHE 128

struct acme_db {
	sqlite3 *h;
	struct {
		const char *sql; /* string literal: its address is the key */
		sqlite3_stmt *st;
	} cache[NCACHE];
	/* fault injection for tests: the next fail_count statements whose
	 * SQL contains fail_match fail as a database error would */
	char fail_match[128];
	int fail_count;
	int busy_steps; /* lock waits of 200 us before SQLITE_BUSY */
	/* group commit (acme_db_batch_mode): the outer transaction of the
	 * batch, opened by the first statement and closed only by
	 * acme_db_batch_commit; begin/commit inside it are savepoints */
	int batch;
	int outer_open;
	int depth; /* open savepoints */
	int lost;  /* SQLite rolled the batch back on an error */
	/* the store's statements, by their index in its table */
	sqlite3_stmt *slots[ACME_DB_SLOTS];
	void (*opened)(void *arg);
	void *opened_arg;
};

/*
 * Migrations: entry i brings user_version from i to i+1. Never edit a
 * released entry; append a new one.
 */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE accounts ("
    " id INTEGER PRIMARY KEY,"
    " kid TEXT NOT NULL UNIQUE,"        /* URL token of the account */
    " jwk TEXT NOT NULL,"               /* canonical public JWK */
    " thumbprint TEXT NOT NULL UNIQUE," /* RFC 7638 */
    " status TEXT NOT NULL,"            /* valid|deactivated|revoked */
    " contact TEXT NOT NULL DEFAULT '[]',"
    " tos_agreed INTEGER NOT NULL DEFAULT 0,"
    " eab_kid TEXT,"
    " connector TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE eab_keys ("
    " kid TEXT PRIMARY KEY,"
    " hmac_key TEXT NOT NULL," /* base64url */
    " connector TEXT NOT NULL,"
    " note TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL,"
    " account_id INTEGER REFERENCES accounts(id));"
    "CREATE TABLE orders ("
    " id INTEGER PRIMARY KEY,"
    " oid TEXT NOT NULL UNIQUE,"
    " account_id INTEGER NOT NULL REFERENCES accounts(id),"
    " status TEXT NOT NULL," /* pending|ready|processing|valid|invalid */
    " expires INTEGER NOT NULL,"
    " identifiers TEXT NOT NULL," /* JSON array */
    " error TEXT,"                /* problem document */
    " csr_pem TEXT,"
    " connector TEXT NOT NULL,"
    " ca_ref TEXT,"                             /* SCM sslId */
    " enroll_state INTEGER NOT NULL DEFAULT 0," /* 0 none, 1 sending, 2 enrolled */
    " cert_id INTEGER,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE INDEX orders_account ON orders(account_id, id);"
    "CREATE TABLE authzs ("
    " id INTEGER PRIMARY KEY,"
    " aid TEXT NOT NULL UNIQUE,"
    " account_id INTEGER NOT NULL REFERENCES accounts(id),"
    " id_type TEXT NOT NULL,"
    " id_value TEXT NOT NULL," /* without '*.' */
    " wildcard INTEGER NOT NULL,"
    " status TEXT NOT NULL," /* pending|valid|invalid|deactivated|expired|revoked */
    " expires INTEGER NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE INDEX authzs_reuse ON authzs(account_id, id_type, id_value,"
    " wildcard, status);"
    "CREATE TABLE order_authzs ("
    " order_id INTEGER NOT NULL REFERENCES orders(id),"
    " authz_id INTEGER NOT NULL REFERENCES authzs(id),"
    " PRIMARY KEY (order_id, authz_id));"
    "CREATE INDEX order_authzs_authz ON order_authzs(authz_id);"
    "CREATE TABLE challenges ("
    " id INTEGER PRIMARY KEY,"
    " cid TEXT NOT NULL UNIQUE,"
    " authz_id INTEGER NOT NULL REFERENCES authzs(id),"
    " type TEXT NOT NULL,"
    " token TEXT NOT NULL,"
    " status TEXT NOT NULL," /* pending|processing|valid|invalid */
    " validated INTEGER,"
    " error TEXT);"
    "CREATE INDEX challenges_authz ON challenges(authz_id);"
    "CREATE TABLE certificates ("
    " id INTEGER PRIMARY KEY,"
    " crt_id TEXT NOT NULL UNIQUE,"
    " order_id INTEGER NOT NULL REFERENCES orders(id),"
    " account_id INTEGER NOT NULL REFERENCES accounts(id),"
    " serial TEXT NOT NULL,"
    " spki TEXT NOT NULL,"
    " chain_pem TEXT NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " connector TEXT NOT NULL,"
    " ca_ref TEXT NOT NULL,"
    " status TEXT NOT NULL," /* valid|revoking|revoked */
    " revoke_reason INTEGER,"
    " created INTEGER NOT NULL);"
    "CREATE INDEX certificates_serial ON certificates(serial);"
    "CREATE TABLE jobs ("
    " id INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL,"   /* validate|enroll|collect|revoke */
    " ref INTEGER NOT NULL," /* challenge/order/certificate id */
    " arg INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL,"       /* queued|done|failed */
    " next_run INTEGER NOT NULL," /* unix ms */
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE INDEX jobs_due ON jobs(state, next_run);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " ts INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " ref TEXT NOT NULL,"
    " detail TEXT NOT NULL);",
    /* 2: EAB key policy and binding. max_accounts: how many accounts the
     * key may bind, NULL for any number. eab_binding: the JWS the client
     * sent, reflected in the account object (RFC 8555 §7.3.4). The link
     * is accounts.eab_kid (N:1); eab_keys.account_id is no longer set. */
    "ALTER TABLE eab_keys ADD COLUMN max_accounts INTEGER;"
    "ALTER TABLE accounts ADD COLUMN eab_binding TEXT;"
    "CREATE INDEX accounts_eab ON accounts(eab_kid);",
    /* 3: the pending-authorization rate limit counts an account's pending
     * authorizations on every newOrder */
    ("CREATE INDEX authzs_pending ON authzs(account_id, expires)"
     " WHERE status = 'pending';"),
    /* 4: retention runs hourly on the serving thread: with a million
     * orders stored, its scans stalled every request for over a second.
     * These make each purge query an index range. */
    ("CREATE INDEX jobs_finished ON jobs(updated)"
     " WHERE state IN ('done', 'failed');"
     "CREATE INDEX orders_invalid ON orders(updated)"
     " WHERE status = 'invalid';"
     "CREATE INDEX orders_expires ON orders(expires);"
     "CREATE INDEX authzs_expires ON authzs(expires);"
     "CREATE INDEX certificates_order ON certificates(order_id);"),
    /* 5: Sectigo domain control validation: runs, the journal of the DNS
     * records published for them, and SCM's domains as last read */
    ("CREATE TABLE dcv ("
     " id INTEGER PRIMARY KEY,"
     " domain TEXT NOT NULL,"
     " connector TEXT NOT NULL,"
     " method TEXT NOT NULL," /* txt|cname */
     " state TEXT NOT NULL,"  /* acme/dcv.h: start .. valid|failed */
     " outcome_ok INTEGER NOT NULL DEFAULT 0,"
     " host TEXT,"
     " point TEXT,"
     " expires INTEGER NOT NULL DEFAULT 0,"
     " deadline INTEGER NOT NULL DEFAULT 0,"
     " reason TEXT,"
     " started_by TEXT NOT NULL,"
     " created INTEGER NOT NULL,"
     " updated INTEGER NOT NULL);"
     "CREATE UNIQUE INDEX dcv_live ON dcv(domain, connector)"
     " WHERE state NOT IN ('valid', 'failed');"
     "CREATE INDEX dcv_domain ON dcv(domain, connector, id);"
     "CREATE TABLE dns_records ("
     " id INTEGER PRIMARY KEY,"
     " dcv_id INTEGER NOT NULL,"
     " connector TEXT NOT NULL,"
     " zone TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " type TEXT NOT NULL,"
     " value TEXT NOT NULL,"
     " handle TEXT NOT NULL DEFAULT '',"
     " state TEXT NOT NULL," /* presenting|present|removing|gone|kept */
     " last_error TEXT,"
     " created INTEGER NOT NULL,"
     " updated INTEGER NOT NULL);"
     "CREATE INDEX dns_records_live ON dns_records(dcv_id)"
     " WHERE state IN ('presenting', 'present', 'removing');"
     "CREATE TABLE scm_domains ("
     " connector TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " validated INTEGER NOT NULL,"
     " expires INTEGER NOT NULL,"
     " checked INTEGER NOT NULL,"
     " PRIMARY KEY (connector, name));"),
    /* 6: pre-authorized names per EAB key (JSON array of patterns) */
    "ALTER TABLE eab_keys ADD COLUMN preauth TEXT;",
    /* 7: certificate lifecycle. orders: the ACME profile, the certID a
     * client sent in "replaces", the certificate the order renews (from
     * replaces, or the same account's same name set), SCM's last word
     * while processing (e.g. Requested = awaiting approval), the name set
     * (sorted values, ", "-joined). certificates: the inventory fields
     * (profile, names, issuer key id for RFC 9773, predecessor and
     * successor, SCM's status at the last sync, an alternate chain, how
     * it came: acme | reissue | scm). eab_keys.profiles: the profiles a
     * key may order (JSON array), NULL for all. sync_state: the SCM
     * report sync's progress per connector. */
    ("ALTER TABLE orders ADD COLUMN profile TEXT;"
     "ALTER TABLE orders ADD COLUMN replaces TEXT;"
     "ALTER TABLE orders ADD COLUMN predecessor INTEGER;"
     "ALTER TABLE orders ADD COLUMN ca_status TEXT;"
     "ALTER TABLE orders ADD COLUMN name_set TEXT;"
     "ALTER TABLE certificates ADD COLUMN profile TEXT;"
     "ALTER TABLE certificates ADD COLUMN names TEXT;"
     "ALTER TABLE certificates ADD COLUMN aki TEXT;"
     "ALTER TABLE certificates ADD COLUMN predecessor INTEGER;"
     "ALTER TABLE certificates ADD COLUMN replaced_by INTEGER;"
     "ALTER TABLE certificates ADD COLUMN scm_status TEXT;"
     "ALTER TABLE certificates ADD COLUMN scm_checked INTEGER;"
     "ALTER TABLE certificates ADD COLUMN scm_reason TEXT;"
     "ALTER TABLE certificates ADD COLUMN alt_chain_pem TEXT;"
     "ALTER TABLE certificates ADD COLUMN source TEXT NOT NULL DEFAULT"
     " 'acme';"
     "ALTER TABLE eab_keys ADD COLUMN profiles TEXT;"
     "CREATE INDEX certificates_ca_ref ON certificates(connector, ca_ref);"
     "CREATE INDEX certificates_names ON certificates(account_id, names);"
     "CREATE INDEX certificates_expiry ON certificates(not_after);"
     "CREATE INDEX certificates_aki ON certificates(aki);"
     "CREATE INDEX orders_ca_ref ON orders(connector, ca_ref)"
     " WHERE ca_ref IS NOT NULL;"
     "CREATE INDEX orders_predecessor ON orders(predecessor)"
     " WHERE predecessor IS NOT NULL;"
     "CREATE TABLE sync_state ("
     " connector TEXT PRIMARY KEY,"
     " last_run INTEGER NOT NULL DEFAULT 0," /* unix s of the last pass */
     " last_ok INTEGER NOT NULL DEFAULT 0,"  /* of the last complete one */
     " last_error TEXT,"
     " rows INTEGER NOT NULL DEFAULT 0);"),
    /* 8: the admin listener's gauges count orders, authorizations and
     * challenges by state: a narrow covering index makes that a scan of
     * a small index instead of the table (100,000 orders: 64 ms -> 6 ms).
     * Its expiry counts and timeline filter valid certificates by
     * not_after: with the status in the index they never read the
     * table (100,000 certificates in range: 165 ms -> 26 ms). */
    ("CREATE INDEX orders_status ON orders(status);"
     "CREATE INDEX authzs_status ON authzs(status);"
     "CREATE INDEX challenges_status ON challenges(status);"
     "DROP INDEX certificates_expiry;"
     "CREATE INDEX certificates_expiry ON certificates(not_after, status);"),
};

static int
run_migrations(sqlite3 *h, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int version = 0, n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	char *msg = NULL;

	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) !=
	        SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
		sqlite3_finalize(st);
		return -1;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > n) {
		snprintf(err, errlen,
		    "database: schema version %d is newer than this acmebridge "
		    "(%d)",
		    version, n);
		return -1;
	}
	for (int v = version; v < n; v++) {
		char sql[64];

		/* each migration and its version bump commit together */
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", v + 1);
		if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, &msg) !=
		        SQLITE_OK ||
		    sqlite3_exec(h, migrations[v], NULL, NULL, &msg) !=
		        SQLITE_OK ||
		    sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(h, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "database: migration %d: %s",
			    v + 1, msg ? msg : sqlite3_errmsg(h));
			sqlite3_free(msg);
			sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

/* Reads through a memory map instead of a pread(2) per page, and a
 * page cache that holds the working set. */
#define PERF_PRAGMAS " PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY;"

/* Busy handler: up to db->busy_steps steps of 200 us (5 s by default;
 * event-loop threads set a much shorter bound, see acme_db_set_busy_ms). */
static int
busy_wait(void *arg, int count)
{
	const struct acme_db *db = arg;
	struct timespec ts = {0, 200 * 1000};

	if (count >= db->busy_steps)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

void
acme_db_set_busy_ms(struct acme_db *db, int ms)
{
	db->busy_steps = ms > 0 ? ms * 5 : 1;
}

/*
 * The database holds the EAB HMAC keys in clear. For a file path (not
 * ":memory:", "" or a "file:" URI): create a missing directory (the last
 * component only) 0700 and a missing database 0600, so that SQLite, which
 * gives -wal and -shm the mode of the database, never makes them readable
 * by others; then refuse any of the three that group or others may open.
 */
static int
private_file(const char *path, char *err, size_t errlen)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char name[4096];
	const char *slash;
	int fd;

	if (path[0] == '\0' || strcmp(path, ":memory:") == 0 ||
	    strncmp(path, "file:", 5) == 0)
		return 0;
	if (strlen(path) + 5 > sizeof(name)) {
		snprintf(
		    err, errlen, "database %.200s...: path too long", path);
		return -1;
	}
	slash = strrchr(path, '/');
	if (slash != NULL && slash != path) {
		snprintf(name, sizeof(name), "%.*s", (int)(slash - path), path);
		if (mkdir(name, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen,
			    "database %s: cannot create the directory %s: %s",
			    path, name, strerror(errno));
			return -1;
		}
	}
	fd = open(
	    path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST) {
		snprintf(err, errlen, "database %s: cannot create: %s", path,
		    strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", path, suffix[i]);
		if (secfile_check("database", name, -1, err, errlen) < 0)
			return -1;
	}
	return 0;
}

struct acme_db *
acme_db_open(const char *path, int sync_full, char *err, size_t errlen)
{
	struct acme_db *db = calloc(1, sizeof(*db));
	char *msg = NULL;
	const char *pragmas;

	if (db == NULL) {
		snprintf(err, errlen, "database: out of memory");
		return NULL;
	}
	if (private_file(path, err, errlen) != 0)
		goto fail;
	if (sqlite3_open_v2(path, &db->h,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path,
		    db->h ? sqlite3_errmsg(db->h) : "cannot open");
		goto fail;
	}
	/* Writers hold the lock for well under a millisecond, so wait in
	 * short steps: SQLite's own busy_timeout sleeps 1, 2, 5 ... 100 ms
	 * and under load turned lock waits into most of the latency. */
	db->busy_steps = 25000;
	sqlite3_busy_handler(db->h, busy_wait, db);
	pragmas = sync_full ? "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
	                      " PRAGMA synchronous=FULL;" PERF_PRAGMAS
	                    : "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
	                      " PRAGMA synchronous=NORMAL;" PERF_PRAGMAS;
	if (sqlite3_exec(db->h, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	if (run_migrations(db->h, err, errlen) != 0)
		goto fail;
	return db;
fail:
	acme_db_close(db);
	return NULL;
}

struct acme_db *
acme_db_open_ro(const char *path, int busy_ms, char *err, size_t errlen)
{
	struct acme_db *db = calloc(1, sizeof(*db));
	char *msg = NULL;

	if (db == NULL) {
		snprintf(err, errlen, "database: out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db->h,
	        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path,
		    db->h ? sqlite3_errmsg(db->h) : "cannot open");
		goto fail;
	}
	acme_db_set_busy_ms(db, busy_ms);
	sqlite3_busy_handler(db->h, busy_wait, db);
	/* the writer set WAL mode; a reader only adds its cache */
	if (sqlite3_exec(db->h, "PRAGMA query_only=ON;" PERF_PRAGMAS, NULL,
	        NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	return db;
fail:
	acme_db_close(db);
	return NULL;
}

int
acme_db_backup(struct acme_db *db, const char *path, char *err, size_t errlen)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	int rc, fd;

	/* a new file, private from the start (it holds the EAB keys) */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "backup %s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	        SQLITE_OK ||
	    (b = sqlite3_backup_init(dst, "main", db->h, "main")) == NULL) {
		snprintf(err, errlen, "backup %s: %s", path,
		    dst ? sqlite3_errmsg(dst) : "cannot open");
		goto fail;
	}
	/* all pages in one step, so in one read transaction: in WAL mode
	 * it sees one snapshot and never blocks the server's writers
	 * (copying in smaller steps would start over after every write of
	 * another connection, and might never end under load) */
	do {
		rc = sqlite3_backup_step(b, -1);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(5);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	if (rc != SQLITE_DONE) {
		snprintf(
		    err, errlen, "backup %s: %s", path, sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_backup_finish(b);
	b = NULL;
	/* a self-contained file: no -wal next to it */
	if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		snprintf(
		    err, errlen, "backup %s: %s", path, sqlite3_errmsg(dst));
		goto fail;
	}
	sqlite3_close(dst);
	return 0;
fail:
	if (b != NULL)
		sqlite3_backup_finish(b);
	sqlite3_close(dst);
	unlink(path);
	return -1;
}

int
acme_db_check(struct acme_db *db,
    void (*line)(void *arg, const char *check, int ok, const char *detail),
    void *arg)
{
	static const struct {
		const char *what, *sql;
	} orphans[] = {
	    {"orders without their account",
	        "SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 "
	        "FROM accounts a WHERE a.id = o.account_id)"},
	    {"order links without their order or authorization",
	        "SELECT COUNT(*) FROM order_authzs x WHERE NOT EXISTS "
	        "(SELECT 1 FROM orders o WHERE o.id = x.order_id) OR NOT "
	        "EXISTS (SELECT 1 FROM authzs a WHERE a.id = x.authz_id)"},
	    {"challenges without their authorization",
	        "SELECT COUNT(*) FROM challenges c WHERE NOT EXISTS (SELECT "
	        "1 FROM authzs a WHERE a.id = c.authz_id)"},
	    {"certificates without their order",
	        "SELECT COUNT(*) FROM certificates c WHERE NOT EXISTS (SELECT "
	        "1 FROM orders o WHERE o.id = c.order_id)"},
	    {"queued jobs whose object is gone",
	        "SELECT COUNT(*) FROM jobs j WHERE j.state = 'queued' AND ("
	        "(j.kind IN ('enroll', 'collect') AND NOT EXISTS (SELECT 1 "
	        "FROM orders o WHERE o.id = j.ref)) OR (j.kind = 'validate' "
	        "AND NOT EXISTS (SELECT 1 FROM challenges c WHERE c.id = "
	        "j.ref)) OR (j.kind = 'revoke' AND NOT EXISTS (SELECT 1 FROM "
	        "certificates c WHERE c.id = j.ref)))"},
	};
	sqlite3_stmt *st = NULL;
	char detail[512];
	int failures = 0, n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	int v;

	/* integrity: SQLite's own check of every page and index */
	if (sqlite3_prepare_v2(
	        db->h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		int ok = r != NULL && strcmp(r, "ok") == 0;
		snprintf(detail, sizeof(detail), "%s", r ? r : "no answer");
		line(arg, "integrity", ok, detail);
		failures += !ok;
	} else {
		line(arg, "integrity", 0, sqlite3_errmsg(db->h));
		failures++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int(st, 0);
		snprintf(detail, sizeof(detail),
		    "version %d, this acmebridge's is %d", v, n);
		line(arg, "schema", v == n, detail);
		failures += v != n;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++) {
		long long c = -1;

		st = NULL;
		if (sqlite3_prepare_v2(db->h, orphans[i].sql, -1, &st, NULL) ==
		        SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			c = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		snprintf(detail, sizeof(detail), "%lld %s", c, orphans[i].what);
		line(arg, "orphans", c == 0,
		    c < 0 ? sqlite3_errmsg(db->h) : detail);
		failures += c != 0;
	}
	return failures;
}

void
acme_db_close(struct acme_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < NCACHE; i++)
		sqlite3_finalize(db->cache[i].st);
	for (int i = 0; i < ACME_DB_SLOTS; i++)
		sqlite3_finalize(db->slots[i]);
	sqlite3_close(db->h);
	free(db);
}

static sqlite3_stmt *
prepare(struct acme_db *db, const char *sql)
{
	size_t slot = ((uintptr_t)sql >> 3) % NCACHE;
	sqlite3_stmt *st = NULL;

	for (size_t i = 0; i < NCACHE; i++) {
		size_t k = (slot + i) % NCACHE;
		if (db->cache[k].sql == sql)
			return db->cache[k].st;
		if (db->cache[k].sql == NULL) {
			if (sqlite3_prepare_v3(db->h, sql, -1,
			        SQLITE_PREPARE_PERSISTENT, &st,
			        NULL) != SQLITE_OK) {
				log_err("db: prepare: %s: %s",
				    sqlite3_errmsg(db->h), sql);
				return NULL;
			}
			db->cache[k].sql = sql;
			db->cache[k].st = st;
			return st;
		}
	}
	/* cache full: callers finalize nothing, so fail loudly */
	log_err("db: statement cache full");
	return NULL;
}

void
acme_db_inject_fault(struct acme_db *db, const char *sql_part, int count)
{
	snprintf(db->fail_match, sizeof(db->fail_match), "%s",
	    sql_part != NULL ? sql_part : "");
	db->fail_count = sql_part != NULL ? count : 0;
}

/* Batch mode: open the batch's transaction (the first statement after a
 * commit does), and tell the owner so that it schedules the commit. */
static int
outer_begin(struct acme_db *db)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, &msg) !=
	    SQLITE_OK) {
		log_err("db: begin: %s", msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	db->outer_open = 1;
	if (db->opened != NULL)
		db->opened(db->opened_arg);
	return 0;
}

void
acme_db_batch_mode(struct acme_db *db, void (*opened)(void *arg), void *arg)
{
	db->batch = 1;
	db->opened = opened;
	db->opened_arg = arg;
}

long long
acme_db_total_changes(struct acme_db *db)
{
	return (long long)sqlite3_total_changes64(db->h);
}

int
acme_db_batch_open(const struct acme_db *db)
{
	return db->outer_open;
}

int
acme_db_batch_commit(struct acme_db *db)
{
	char *msg = NULL;
	int rc = 0;

	if (!db->outer_open)
		return 0;
	db->outer_open = 0;
	db->depth = 0;
	if (db->lost || sqlite3_get_autocommit(db->h)) {
		db->lost = 0;
		log_err("db: a batch was rolled back by an earlier error");
		return -1;
	}
	if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
		log_err("db: commit of a batch: %s",
		    msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		if (!sqlite3_get_autocommit(db->h))
			sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		rc = -1;
	}
	return rc;
}

static sqlite3_stmt *
bind_slot(
    struct acme_db *db, int slot, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *st;
	int i = 1;

	if (db->fail_count > 0 && strstr(sql, db->fail_match) != NULL) {
		db->fail_count--;
		log_err("db: injected fault: %s", sql);
		return NULL;
	}
	if (db->batch && db->outer_open && sqlite3_get_autocommit(db->h)) {
		/* an I/O error or a full disk made SQLite roll the whole
		 * batch back: nothing may run outside it until the owner
		 * commits (and learns that the batch is lost) */
		db->lost = 1;
		return NULL;
	}
	if (db->batch && !db->outer_open && outer_begin(db) != 0)
		return NULL;
	if (slot < 0) {
		st = prepare(db, sql);
	} else {
		st = db->slots[slot];
		if (st == NULL &&
		    sqlite3_prepare_v3(db->h, sql, -1,
		        SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			log_err(
			    "db: prepare: %s: %s", sqlite3_errmsg(db->h), sql);
			st = NULL;
		}
		db->slots[slot] = st;
	}
	if (st == NULL)
		return NULL;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (const char *f = fmt; f != NULL && *f != '\0'; f++, i++) {
		if (*f == 'i') {
			sqlite3_bind_int64(st, i, va_arg(ap, long long));
		} else if (*f == 's') {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				sqlite3_bind_null(st, i);
			else
				sqlite3_bind_text(
				    st, i, s, -1, SQLITE_TRANSIENT);
		} else if (*f == 'b') {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT);
		}
	}
	return st;
}

static sqlite3_stmt *
bind(struct acme_db *db, const char *sql, const char *fmt, va_list ap)
{
	return bind_slot(db, -1, sql, fmt, ap);
}

/* ---- cursors over the store's statement table ------------------------ */

struct acme_cur *
acme_db_vquery(struct acme_db *db, struct acme_cur *cur, int slot,
    const char *sql, const char *fmt, va_list ap)
{
	if (slot < 0 || slot >= ACME_DB_SLOTS)
		return NULL;
	cur->st = bind_slot(db, slot, sql, fmt, ap);
	cur->db = db;
	cur->sql = sql;
	return cur->st != NULL ? cur : NULL;
}

struct acme_cur *
acme_db_query(struct acme_db *db, struct acme_cur *cur, int slot,
    const char *sql, const char *fmt, ...)
{
	struct acme_cur *r;
	va_list ap;

	va_start(ap, fmt);
	r = acme_db_vquery(db, cur, slot, sql, fmt, ap);
	va_end(ap);
	return r;
}

int
acme_cur_next(struct acme_cur *cur)
{
	int rc = sqlite3_step(cur->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_err("db: %s: %s", sqlite3_errmsg(cur->db->h), cur->sql);
	return -1;
}

long long
acme_cur_int(const struct acme_cur *cur, int col)
{
	return sqlite3_column_int64(cur->st, col);
}

const char *
acme_cur_text(const struct acme_cur *cur, int col)
{
	const unsigned char *s = sqlite3_column_text(cur->st, col);

	return s != NULL ? (const char *)s : "";
}

int
acme_cur_is_null(const struct acme_cur *cur, int col)
{
	return sqlite3_column_type(cur->st, col) == SQLITE_NULL;
}

int
acme_cur_done(struct acme_cur *cur)
{
	int changes = sqlite3_changes(cur->db->h);

	sqlite3_reset(cur->st);
	return changes;
}

int
acme_db_exec(struct acme_db *db, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	st = bind(db, sql, fmt, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_err("db: %s: %s", sqlite3_errmsg(db->h), sql);
		return -1;
	}
	return sqlite3_changes(db->h);
}

static json_t *
row_json(sqlite3_stmt *st)
{
	json_t *row = json_object();
	int n = sqlite3_column_count(st);

	if (row == NULL)
		return NULL;
	for (int c = 0; c < n; c++) {
		const char *name = sqlite3_column_name(st, c);
		json_t *v;

		switch (sqlite3_column_type(st, c)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, c));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			v = json_stringn(
			    (const char *)sqlite3_column_text(st, c),
			    (size_t)sqlite3_column_bytes(st, c));
			break;
		}
		json_object_set_new(row, name, v);
	}
	return row;
}

static json_t *
query(struct acme_db *db, const char *sql, int all, int *status,
    const char *fmt, va_list ap)
{
	sqlite3_stmt *st = bind(db, sql, fmt, ap);
	json_t *rows = NULL, *row;
	int rc;

	*status = -1;
	if (st == NULL)
		return NULL;
	if (all && (rows = json_array()) == NULL)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row = row_json(st);
		if (!all) {
			sqlite3_reset(st);
			*status = row != NULL ? 1 : -1;
			return row;
		}
		json_array_append_new(rows, row);
	}
	if (rc != SQLITE_DONE) {
		log_err("db: %s: %s", sqlite3_errmsg(db->h), sql);
		json_decref(rows);
		rows = NULL;
	} else {
		*status = all ? 1 : 0;
	}
out:
	sqlite3_reset(st);
	return rows;
}

int
acme_db_get(
    struct acme_db *db, json_t **row, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int status;

	va_start(ap, fmt);
	*row = query(db, sql, 0, &status, fmt, ap);
	va_end(ap);
	return status;
}

json_t *
acme_db_one(struct acme_db *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	json_t *r;
	int status;

	va_start(ap, fmt);
	r = query(db, sql, 0, &status, fmt, ap);
	va_end(ap);
	return r;
}

json_t *
acme_db_all(struct acme_db *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	json_t *r;
	int status;

	va_start(ap, fmt);
	r = query(db, sql, 1, &status, fmt, ap);
	va_end(ap);
	return r;
}

long long
acme_db_last_id(struct acme_db *db)
{
	return sqlite3_last_insert_rowid(db->h);
}

int
acme_db_begin(struct acme_db *db)
{
	if (!db->batch)
		return acme_db_exec(db, "BEGIN IMMEDIATE", NULL) < 0 ? -1 : 0;
	/* inside a batch: a savepoint, so that this unit of work commits or
	 * rolls back on its own while the batch commits once */
	if (acme_db_exec(db, "SAVEPOINT unit", NULL) < 0)
		return -1;
	db->depth++;
	return 0;
}

int
acme_db_commit(struct acme_db *db)
{
	if (db->batch) {
		if (db->depth == 0)
			return -1;
		if (acme_db_exec(db, "RELEASE unit", NULL) < 0) {
			acme_db_rollback(db);
			return -1;
		}
		db->depth--;
		return 0;
	}
	if (acme_db_exec(db, "COMMIT", NULL) < 0) {
		acme_db_rollback(db);
		return -1;
	}
	return 0;
}

void
acme_db_rollback(struct acme_db *db)
{
	if (db->batch) {
		if (db->depth == 0 || !db->outer_open)
			return;
		acme_db_exec(db, "ROLLBACK TO unit", NULL);
		acme_db_exec(db, "RELEASE unit", NULL);
		db->depth--;
		return;
	}
	if (!sqlite3_get_autocommit(db->h))
		acme_db_exec(db, "ROLLBACK", NULL);
}

void
acme_db_audit(struct acme_db *db, long long now, const char *event,
    const char *ref, const char *detail)
{
	acme_db_exec(db,
	    "INSERT INTO audit(ts, event, ref, detail) VALUES (?, ?, ?, ?)",
	    "isss", now, event, ref, detail ? detail : "");
}
