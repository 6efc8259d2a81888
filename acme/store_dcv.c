/* SPDX-License-Identifier: Apache-2.0 */
/* The store's DCV tables (acme/dcv.h): their statements, rows into
 * structs. Slots from DCV_SLOT0 on, after acme/store.c's table. */
#include "acme/dcv.h"
#include "acme/store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DCV_SLOT0 128

enum dstmt {
	SD_ADD,
	SD_LIVE,
	SD_GET,
	SD_LATEST,
	SD_SET,
	SD_EACH,
	SD_JOB_ADD,
	SD_REC_ADD,
	SD_REC_SET,
	SD_REC_OF,
	SD_REC_GET,
	SD_REC_EACH,
	SD_REC_EACH_LIVE,
	SD_REC_ORPHANS,
	SD_DOM_PUT,
	SD_DOM_COVER,
	SD_DOM_EXPIRING,
	SD_DOM_EACH,
	SD_WAKE_ENROLL,
	SD_COUNT
};

#define DCV_COLS                                                               \
	"id, domain, connector, method, state, outcome_ok, host, point,"       \
	" expires, reason, started_by, created, updated, deadline"
#define REC_COLS                                                               \
	"id, dcv_id, connector, zone, name, type, value, handle, state,"       \
	" last_error, created, updated"
#define DOM_COLS "connector, name, validated, expires, checked"
/* a record is live while the connector may hold it */
#define REC_LIVE "state IN ('presenting', 'present', 'removing')"

static const char *const sql[SD_COUNT] = {
    [SD_ADD] = "INSERT INTO dcv(domain, connector, method, state, started_by,"
               " created, updated) VALUES (?, ?, ?, 'start', ?, ?, ?)",
    [SD_LIVE] = "SELECT id FROM dcv WHERE domain = ? AND connector = ? AND"
                " state NOT IN ('valid', 'failed')",
    [SD_GET] = "SELECT " DCV_COLS " FROM dcv WHERE id = ?",
    [SD_LATEST] = "SELECT " DCV_COLS " FROM dcv WHERE domain = ? AND"
                  " connector = ? ORDER BY id DESC LIMIT 1",
    [SD_SET] = "UPDATE dcv SET state = ?,"
               " outcome_ok = CASE WHEN ? < 0 THEN outcome_ok ELSE ? END,"
               " host = coalesce(?, host), point = coalesce(?, point),"
               " expires = CASE WHEN ? < 0 THEN expires ELSE ? END,"
               " deadline = CASE WHEN ? < 0 THEN deadline ELSE ? END,"
               " reason = coalesce(?, reason), updated = ? WHERE id = ?",
    [SD_EACH] = "SELECT " DCV_COLS " FROM dcv ORDER BY id DESC LIMIT ?",
    [SD_JOB_ADD] = "INSERT INTO jobs(kind, ref, arg, state, next_run, created,"
                   " updated) VALUES (?, ?, 0, 'queued', ?, ?, ?)",
    [SD_REC_ADD] = "INSERT INTO dns_records(dcv_id, connector, zone, name,"
                   " type, value, state, created, updated) VALUES (?, ?, ?,"
                   " ?, ?, ?, 'presenting', ?, ?)",
    [SD_REC_SET] = "UPDATE dns_records SET state = ?, handle = coalesce(?,"
                   " handle), last_error = coalesce(?, last_error),"
                   " updated = ? WHERE id = ?",
    [SD_REC_OF] = "SELECT " REC_COLS " FROM dns_records WHERE dcv_id = ? AND"
                  " " REC_LIVE " ORDER BY id DESC LIMIT 1",
    [SD_REC_GET] = "SELECT " REC_COLS " FROM dns_records WHERE id = ?",
    [SD_REC_EACH] = "SELECT " REC_COLS ", (" REC_LIVE " AND NOT EXISTS"
                    " (SELECT 1 FROM dcv WHERE dcv.id = dcv_id AND"
                    " dcv.state NOT IN ('valid', 'failed'))) FROM"
                    " dns_records ORDER BY id DESC LIMIT ?",
    [SD_REC_EACH_LIVE] = "SELECT " REC_COLS ", NOT EXISTS (SELECT 1 FROM dcv"
                         " WHERE dcv.id = dcv_id AND dcv.state NOT IN"
                         " ('valid', 'failed')) FROM dns_records WHERE"
                         " " REC_LIVE " ORDER BY id DESC LIMIT ?",
    /* live records no live run owns, without a queued clean-up job */
    [SD_REC_ORPHANS] = "INSERT INTO jobs(kind, ref, arg, state, next_run,"
                       " created, updated) SELECT 'dnsclean', r.id, 0,"
                       " 'queued', ?, ?, ? FROM dns_records r WHERE"
                       " r." REC_LIVE " AND NOT EXISTS (SELECT 1 FROM dcv"
                       " WHERE dcv.id = r.dcv_id AND dcv.state NOT IN"
                       " ('valid', 'failed')) AND NOT EXISTS (SELECT 1"
                       " FROM jobs WHERE kind = 'dnsclean' AND ref = r.id"
                       " AND state = 'queued')",
    [SD_DOM_PUT] = "INSERT INTO scm_domains(" DOM_COLS ") VALUES (?, ?, ?,"
                   " ?, ?) ON CONFLICT(connector, name) DO UPDATE SET"
                   " validated = excluded.validated, expires ="
                   " excluded.expires, checked = excluded.checked",
    /* the longest cached domain that is name or a parent of it */
    [SD_DOM_COVER] =
        "SELECT " DOM_COLS " FROM scm_domains WHERE connector"
        " = ? AND (? = name OR substr(?, -(length(name) + 1)) = '.' ||"
        " name) ORDER BY"
        " length(name) DESC LIMIT 1",
    [SD_DOM_EXPIRING] = "SELECT " DOM_COLS " FROM scm_domains d WHERE"
                        " validated = 1 AND expires < ? AND NOT EXISTS"
                        " (SELECT 1 FROM dcv WHERE dcv.domain = d.name AND"
                        " dcv.connector = d.connector AND dcv.state NOT IN"
                        " ('valid', 'failed')) ORDER BY expires LIMIT ?",
    [SD_DOM_EACH] = "SELECT " DOM_COLS " FROM scm_domains ORDER BY name,"
                    " connector",
    [SD_WAKE_ENROLL] = "UPDATE jobs SET next_run = ? WHERE kind = 'enroll'"
                       " AND state = 'queued' AND next_run > ?",
};
_Static_assert(DCV_SLOT0 + SD_COUNT <= ACME_DB_SLOTS, "slots");

static const char *const dcv_states[] = {"start", "publish", "propagate",
    "submit", "poll", "cleanup", "valid", "failed"};
static const char *const rec_states[] = {
    "presenting", "present", "removing", "gone", "kept"};

const char *
acme_dcv_state_str(enum acme_dcv_state s)
{
	return s < ACME_DCV_UNKNOWN ? dcv_states[s] : "unknown";
}

enum acme_dcv_state
acme_dcv_state_of(const char *s)
{
	for (int i = 0; i < ACME_DCV_UNKNOWN; i++)
		if (strcmp(dcv_states[i], s) == 0)
			return (enum acme_dcv_state)i;
	return ACME_DCV_UNKNOWN;
}

const char *
acme_rec_state_str(enum acme_rec_state s)
{
	return s < ACME_REC_UNKNOWN ? rec_states[s] : "unknown";
}

static enum acme_rec_state
rec_state_of(const char *s)
{
	for (int i = 0; i < ACME_REC_UNKNOWN; i++)
		if (strcmp(rec_states[i], s) == 0)
			return (enum acme_rec_state)i;
	return ACME_REC_UNKNOWN;
}

static struct acme_cur *
query(
    struct acme_db *db, struct acme_cur *c, enum dstmt st, const char *fmt, ...)
{
	struct acme_cur *r;
	va_list ap;

	va_start(ap, fmt);
	r = acme_db_vquery(db, c, DCV_SLOT0 + (int)st, sql[st], fmt, ap);
	va_end(ap);
	return r;
}

static void
dcv_row(const struct acme_cur *c, struct acme_dcv *d)
{
	d->id = acme_cur_int(c, 0);
	COPY(d->domain, c, 1);
	COPY(d->connector, c, 2);
	COPY(d->method, c, 3);
	d->state = acme_dcv_state_of(acme_cur_text(c, 4));
	d->outcome_ok = (int)acme_cur_int(c, 5);
	COPY(d->host, c, 6);
	COPY(d->point, c, 7);
	d->expires = acme_cur_int(c, 8);
	COPY(d->reason, c, 9);
	COPY(d->started_by, c, 10);
	d->created = acme_cur_int(c, 11);
	d->updated = acme_cur_int(c, 12);
	d->deadline = acme_cur_int(c, 13);
}

static void
rec_row(const struct acme_cur *c, struct acme_dnsrec *r)
{
	r->id = acme_cur_int(c, 0);
	r->dcv_id = acme_cur_int(c, 1);
	COPY(r->connector, c, 2);
	COPY(r->zone, c, 3);
	COPY(r->name, c, 4);
	COPY(r->type, c, 5);
	COPY(r->value, c, 6);
	COPY(r->handle, c, 7);
	r->state = rec_state_of(acme_cur_text(c, 8));
	COPY(r->last_error, c, 9);
	r->created = acme_cur_int(c, 10);
	r->updated = acme_cur_int(c, 11);
}

static void
dom_row(const struct acme_cur *c, struct acme_scm_domain *d)
{
	COPY(d->connector, c, 0);
	COPY(d->name, c, 1);
	d->validated = (int)acme_cur_int(c, 2);
	d->expires = acme_cur_int(c, 3);
	d->checked = acme_cur_int(c, 4);
}

/* One row into out through fill; ACME_NONE zeroes out. */
static enum acme_found
one(struct acme_cur *c, void (*fill)(const struct acme_cur *, void *),
    void *out, size_t size)
{
	enum acme_found f;

	memset(out, 0, size);
	f = one_row(c);
	if (f == ACME_FOUND) {
		fill(c, out);
		acme_cur_done(c);
	}
	return f;
}

typedef void fill_fn(const struct acme_cur *, void *);

long long
acme_dcv_add(struct acme_db *db, const char *domain, const char *connector,
    const char *method, const char *started_by, long long now)
{
	struct acme_cur c;
	long long id;
	int rc;

	if (query(db, &c, SD_LIVE, "ss", domain, connector) == NULL)
		return -1;
	rc = acme_cur_next(&c);
	acme_cur_done(&c);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	if (run(query(db, &c, SD_ADD, "ssssii", domain, connector, method,
	        started_by, now, now)) != 1)
		return -1;
	id = acme_db_last_id(db);
	if (run(query(db, &c, SD_JOB_ADD, "siiii", "dcv", id, now * 1000, now,
	        now)) != 1)
		return -1;
	return id;
}

enum acme_found
acme_dcv_get(struct acme_db *db, long long id, struct acme_dcv *out)
{
	struct acme_cur c;

	return one(query(db, &c, SD_GET, "i", id), (fill_fn *)dcv_row, out,
	    sizeof(*out));
}

enum acme_found
acme_dcv_latest(struct acme_db *db, const char *domain, const char *connector,
    struct acme_dcv *out)
{
	struct acme_cur c;

	return one(query(db, &c, SD_LATEST, "ss", domain, connector),
	    (fill_fn *)dcv_row, out, sizeof(*out));
}

int
acme_dcv_set(struct acme_db *db, long long id, enum acme_dcv_state state,
    int outcome_ok, const char *host, const char *point, long long expires,
    long long deadline, const char *reason, long long now)
{
	struct acme_cur c;

	return run(
	    query(db, &c, SD_SET, "siissiiiisii", acme_dcv_state_str(state),
	        (long long)outcome_ok, (long long)outcome_ok, host, point,
	        expires, expires, deadline, deadline, reason, now, id));
}

int
acme_dcv_each(struct acme_db *db, int limit,
    void (*cb)(const struct acme_dcv *d, void *arg), void *arg)
{
	struct acme_cur c;
	struct acme_dcv d;
	int n = 0, rc;

	if (query(db, &c, SD_EACH, "i", (long long)limit) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		memset(&d, 0, sizeof(d));
		dcv_row(&c, &d);
		cb(&d, arg);
		n++;
	}
	acme_cur_done(&c);
	return rc < 0 ? -1 : n;
}

long long
acme_dnsrec_add(struct acme_db *db, long long dcv_id, const char *connector,
    const char *zone, const char *name, const char *type, const char *value,
    long long now)
{
	struct acme_cur c;

	if (run(query(db, &c, SD_REC_ADD, "isssssii", dcv_id, connector, zone,
	        name, type, value, now, now)) != 1)
		return -1;
	return acme_db_last_id(db);
}

int
acme_dnsrec_set(struct acme_db *db, long long id, enum acme_rec_state state,
    const char *handle, const char *error, long long now)
{
	struct acme_cur c;

	return run(query(db, &c, SD_REC_SET, "sssii", acme_rec_state_str(state),
	    handle, error, now, id));
}

enum acme_found
acme_dnsrec_of_dcv(
    struct acme_db *db, long long dcv_id, struct acme_dnsrec *out)
{
	struct acme_cur c;

	return one(query(db, &c, SD_REC_OF, "i", dcv_id), (fill_fn *)rec_row,
	    out, sizeof(*out));
}

enum acme_found
acme_dnsrec_get(struct acme_db *db, long long id, struct acme_dnsrec *out)
{
	struct acme_cur c;

	return one(query(db, &c, SD_REC_GET, "i", id), (fill_fn *)rec_row, out,
	    sizeof(*out));
}

int
acme_dnsrec_each(struct acme_db *db, int live_only, int limit,
    void (*cb)(const struct acme_dnsrec *r, int orphan, void *arg), void *arg)
{
	struct acme_cur c;
	struct acme_dnsrec r;
	int n = 0, rc;

	if (query(db, &c, live_only ? SD_REC_EACH_LIVE : SD_REC_EACH, "i",
	        (long long)limit) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		memset(&r, 0, sizeof(r));
		rec_row(&c, &r);
		cb(&r, (int)acme_cur_int(&c, 12), arg);
		n++;
	}
	acme_cur_done(&c);
	return rc < 0 ? -1 : n;
}

int
acme_dnsrec_sweep(struct acme_db *db, long long now)
{
	struct acme_cur c;

	return run(query(db, &c, SD_REC_ORPHANS, "iii", now * 1000, now, now));
}

int
acme_scmdom_put(struct acme_db *db, const struct acme_scm_domain *d)
{
	struct acme_cur c;

	return run(query(db, &c, SD_DOM_PUT, "ssiii", d->connector, d->name,
	    (long long)d->validated, d->expires, d->checked));
}

enum acme_found
acme_scmdom_covering(struct acme_db *db, const char *connector,
    const char *name, struct acme_scm_domain *out)
{
	struct acme_cur c;

	return one(query(db, &c, SD_DOM_COVER, "sss", connector, name, name),
	    (fill_fn *)dom_row, out, sizeof(*out));
}

static int
dom_list(struct acme_cur *c, void (*cb)(const struct acme_scm_domain *, void *),
    void *arg)
{
	struct acme_scm_domain d;
	int n = 0, rc;

	if (c == NULL)
		return -1;
	while ((rc = acme_cur_next(c)) == 1) {
		memset(&d, 0, sizeof(d));
		dom_row(c, &d);
		cb(&d, arg);
		n++;
	}
	acme_cur_done(c);
	return rc < 0 ? -1 : n;
}

int
acme_scmdom_expiring(struct acme_db *db, long long before, int limit,
    void (*cb)(const struct acme_scm_domain *d, void *arg), void *arg)
{
	struct acme_cur c;

	return dom_list(
	    query(db, &c, SD_DOM_EXPIRING, "ii", before, (long long)limit), cb,
	    arg);
}

int
acme_scmdom_each(struct acme_db *db,
    void (*cb)(const struct acme_scm_domain *d, void *arg), void *arg)
{
	struct acme_cur c;

	return dom_list(query(db, &c, SD_DOM_EACH, ""), cb, arg);
}

int
acme_jobs_wake_enroll(struct acme_db *db, long long now_ms)
{
	struct acme_cur c;

	return run(query(db, &c, SD_WAKE_ENROLL, "ii", now_ms, now_ms));
}
