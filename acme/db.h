/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite store: one file in WAL mode, schema migrations by
 * PRAGMA user_version, cached prepared statements, rows as JSON objects.
 * One struct acme_db per thread (SQLite connections are not shared).
 */
#pragma once
#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

struct acme_db;

/**
 * Open (creating if needed) and migrate the database at path.
 * @param sync_full 1: PRAGMA synchronous=FULL (durable across power loss),
 *        0: NORMAL (durable across process crashes only)
 * @return the handle, or NULL with a message in err.
 */
struct acme_db *acme_db_open(
    const char *path, int sync_full, char *err, size_t errlen);
/**
 * Open an existing database read-only (SQLITE_OPEN_READONLY, query_only),
 * no migrations: a second connection for readers on another thread while
 * the serving thread writes (WAL lets both run at once).
 * @param busy_ms bound of a wait for a lock (a checkpoint, the WAL index)
 * @return the handle, or NULL with a message in err.
 */
struct acme_db *acme_db_open_ro(
    const char *path, int busy_ms, char *err, size_t errlen);
void acme_db_close(struct acme_db *db);
/**
 * Online backup into a new file path (mode 0600, refused if it exists)
 * while others keep writing: SQLite's backup API in steps, then the copy
 * is made self-contained (no -wal). @return 0, or -1 with err (the
 * partial file removed).
 */
int acme_db_backup(
    struct acme_db *db, const char *path, char *err, size_t errlen);
/**
 * `db check`: integrity_check, the schema version, rows whose parent is
 * gone; line() once per check. @return the failed checks.
 */
int acme_db_check(struct acme_db *db,
    void (*line)(void *arg, const char *check, int ok, const char *detail),
    void *arg);
/**
 * Bound the wait for a lock held by another connection (default 5 s).
 * Event-loop threads set a short bound: a wait there stalls every
 * connection of the loop; the request then fails (500) instead.
 */
void acme_db_set_busy_ms(struct acme_db *db, int ms);

/*
 * Binding format for the variadic calls, one letter per '?' in sql:
 *   'i' long long, 's' const char * (NULL binds NULL), 'b' const void *
 *   followed by size_t length (blob).
 */

/** Run a statement; @return rows changed (>= 0) or -1 (logged). */
int acme_db_exec(struct acme_db *db, const char *sql, const char *fmt, ...);
/**
 * First row as a new object (caller decrefs), NULL if none OR error: use
 * only where both mean the same to the caller (a lookup answered 404
 * either way is not such a place: see acme_db_get).
 */
json_t *acme_db_one(struct acme_db *db, const char *sql, const char *fmt, ...);
/**
 * First row into *row (caller decrefs).
 * @return 1 a row, 0 no row (*row NULL), -1 database error (logged, *row
 *         NULL): an error is never "not found" - job code retries,
 *         request handlers answer 500.
 */
int acme_db_get(
    struct acme_db *db, json_t **row, const char *sql, const char *fmt, ...);
/**
 * Tests only: make the next count statements whose SQL contains sql_part
 * fail as a database error would (NULL clears).
 */
void acme_db_inject_fault(struct acme_db *db, const char *sql_part, int count);
/** All rows as a new array of objects (caller decrefs); NULL on error. */
json_t *acme_db_all(struct acme_db *db, const char *sql, const char *fmt, ...);
/** rowid of the last INSERT on this connection. */
long long acme_db_last_id(struct acme_db *db);

/** BEGIN IMMEDIATE / COMMIT / ROLLBACK. 0 or -1. */
int acme_db_begin(struct acme_db *db);
int acme_db_commit(struct acme_db *db);
void acme_db_rollback(struct acme_db *db);

/*
 * Group commit. In batch mode the first statement opens a transaction
 * (BEGIN IMMEDIATE) that stays open across units of work until the owner
 * calls acme_db_batch_commit: one commit, one fsync for all of them.
 * acme_db_begin/commit/rollback then nest as a savepoint per unit, so
 * that a unit that fails rolls back alone. opened(arg) is called each
 * time a batch transaction opens (the owner schedules its commit).
 * Nothing read inside a batch may be shown to anyone before the commit.
 */
void acme_db_batch_mode(
    struct acme_db *db, void (*opened)(void *arg), void *arg);
/** Rows inserted, updated or deleted on this connection so far. */
long long acme_db_total_changes(struct acme_db *db);
/** 1 while a batch transaction is open. */
int acme_db_batch_open(const struct acme_db *db);
/** Commit the open batch (0 if none). -1: it was rolled back, every unit
 * in it is lost (logged). */
int acme_db_batch_commit(struct acme_db *db);

/*
 * Cursors for the typed store (acme/store.c): statements prepared once
 * per connection into a slot that the store's statement table numbers,
 * never keyed by the address of their text. acme_db_query binds fmt as
 * above; the cursor lives in the caller's memory and must be finished
 * with acme_cur_done before the same slot is used again.
 */
#define ACME_DB_SLOTS 256
struct acme_cur {
	struct acme_db *db;
	struct sqlite3_stmt *st;
	const char *sql;
};
/** NULL on a database error (logged; also an injected fault). */
struct acme_cur *acme_db_query(struct acme_db *db, struct acme_cur *cur,
    int slot, const char *sql, const char *fmt, ...);
struct acme_cur *acme_db_vquery(struct acme_db *db, struct acme_cur *cur,
    int slot, const char *sql, const char *fmt, va_list ap);
/** Step: 1 a row, 0 no more rows, -1 error (logged). */
int acme_cur_next(struct acme_cur *cur);
long long acme_cur_int(const struct acme_cur *cur, int col);
/** Column text, "" for NULL (borrowed until the next step). */
const char *acme_cur_text(const struct acme_cur *cur, int col);
int acme_cur_is_null(const struct acme_cur *cur, int col);
/** Reset the statement; @return rows changed by it (writes). */
int acme_cur_done(struct acme_cur *cur);

/** Append to the audit log (inside the caller's transaction if any). */
void acme_db_audit(struct acme_db *db, long long now, const char *event,
    const char *ref, const char *detail);

/* Convenience accessors for row objects. */
static inline long long
acme_row_int(const json_t *row, const char *col)
{
	return json_integer_value(json_object_get(row, col));
}

static inline const char *
acme_row_str(const json_t *row, const char *col)
{
	const char *s = json_string_value(json_object_get(row, col));
	return s != NULL ? s : "";
}
