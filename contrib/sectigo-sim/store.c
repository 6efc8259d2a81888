/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: the certificate table.  The array in memory is the truth;
 * SQLite (one JSON document per record) only makes it survive a restart.
 */
#include "contrib/sectigo-sim/store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* sslIds start here, like a tenant that already has some orders */
#define FIRST_ID 1001

struct sim_store {
	sqlite3 *db;             /* NULL for a memory-only store */
	sqlite3_stmt *put;       /* INSERT OR REPLACE of one record */
	struct sim_cert **certs; /* records in increasing sslId order */
	size_t n;                /* records in use */
	size_t cap;              /* allocated slots */
	long next_id;            /* sslId of the next record */
};

const char *
sim_status_name(enum sim_status st)
{
	switch (st) {
	case SIM_ST_APPLIED:
		return "Applied";
	case SIM_ST_ISSUED:
		return "Issued";
	case SIM_ST_REVOKED:
		return "Revoked";
	case SIM_ST_REQUESTED:
		return "Requested";
	case SIM_ST_APPROVED:
		return "Approved";
	case SIM_ST_DECLINED:
		return "Declined";
	}
	return "Invalid";
}

int
sim_cert_expired(const struct sim_cert *c, time_t now)
{
	return c->status == SIM_ST_ISSUED && c->expires != 0 &&
	    c->expires <= now;
}

const char *
sim_cert_status(const struct sim_cert *c, time_t now)
{
	/* [INF] SCM's "Expired" status, derived rather than stored */
	if (sim_cert_expired(c, now))
		return "Expired";
	return sim_status_name(c->status);
}

static int
status_parse(const char *s, enum sim_status *out)
{
	static const enum sim_status all[] = {SIM_ST_APPLIED, SIM_ST_ISSUED,
	    SIM_ST_REVOKED, SIM_ST_REQUESTED, SIM_ST_APPROVED, SIM_ST_DECLINED};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, sim_status_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

struct sim_cert *
sim_cert_new(void)
{
	struct sim_cert *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->sans = json_array();
	c->custom_fields = json_array();
	c->extra = json_object();
	c->replaced_serials = json_array();
	if (c->sans == NULL || c->custom_fields == NULL || c->extra == NULL ||
	    c->replaced_serials == NULL) {
		sim_cert_free(c);
		return NULL;
	}
	return c;
}

void
sim_cert_free(struct sim_cert *c)
{
	if (c == NULL)
		return;
	free(c->common_name);
	json_decref(c->sans);
	free(c->csr_pem);
	free(c->comments);
	free(c->external_requester);
	free(c->requester);
	json_decref(c->custom_fields);
	json_decref(c->extra);
	free(c->cert_pem);
	free(c->serial);
	free(c->revoke_reason);
	free(c->approver);
	free(c->approve_message);
	free(c->decline_message);
	json_decref(c->replaced_serials);
	free(c);
}

static json_t *
cert_to_json(const struct sim_cert *c)
{
	json_t *o, *more;

	o = json_pack("{s:I, s:s, s:I, s:I, s:I, s:s?, s:O, s:s, s:s,"
	              " s:s, s:i, s:s, s:s?, s:s?, s:s?, s:O, s:O, s:s,"
	              " s:I, s:i, s:I, s:s?, s:s?, s:I, s:I, s:I, s:i,"
	              " s:s?, s:I, s:O, s:b, s:I, s:I}",
	    "id", (json_int_t)c->id, "renew_id", c->renew_id, "org_id",
	    (json_int_t)c->org_id, "cert_type", (json_int_t)c->cert_type,
	    "term", (json_int_t)c->term, "common_name", c->common_name, "sans",
	    c->sans, "csr_pem", c->csr_pem, "csr_sha256", c->csr_sha256,
	    "key_alg", c->key_alg, "key_size", c->key_size, "key_param",
	    c->key_param, "comments", c->comments, "external_requester",
	    c->external_requester, "requester", c->requester, "custom_fields",
	    c->custom_fields, "extra", c->extra, "status",
	    sim_status_name(c->status), "requested", (json_int_t)c->requested,
	    "pending_left", c->pending_left, "ready_at",
	    (json_int_t)c->ready_at, "cert_pem", c->cert_pem, "serial",
	    c->serial, "issued", (json_int_t)c->issued, "expires",
	    (json_int_t)c->expires, "revoked", (json_int_t)c->revoked,
	    "reason_code", c->reason_code, "revoke_reason", c->revoke_reason,
	    "replaced", (json_int_t)c->replaced, "replaced_serials",
	    c->replaced_serials, "renewed", c->renewed, "renewed_date",
	    (json_int_t)c->renewed_date, "renewed_from",
	    (json_int_t)c->renewed_from);
	/* the approval workflow's fields, added later: a second pack */
	more = json_pack("{s:I, s:s?, s:s?, s:I, s:s?, s:I}", "approved",
	    (json_int_t)c->approved, "approver", c->approver, "approve_message",
	    c->approve_message, "declined", (json_int_t)c->declined,
	    "decline_message", c->decline_message, "downloaded",
	    (json_int_t)c->downloaded);
	if (o != NULL && (more == NULL || json_object_update(o, more) != 0)) {
		json_decref(o);
		o = NULL;
	}
	json_decref(more);
	return o;
}

/* Copies an optional string member; a wrong type counts as absent. */
static int
dup_str(const json_t *o, const char *key, char **out)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out == NULL ? -1 : 0;
}

static long
get_int(const json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

static void
copy_fixed(const json_t *o, const char *key, char *buf, size_t size)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(buf, size, "%s", s != NULL ? s : "");
}

/* Replaces one JSON member of c when the saved one has the right type. */
static void
take_json(const json_t *o, const char *key, json_t **slot, int array)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || (array ? !json_is_array(v) : !json_is_object(v)))
		return;
	json_decref(*slot);
	*slot = json_incref(v);
}

static struct sim_cert *
cert_from_json(const json_t *o)
{
	struct sim_cert *c;
	const char *st;

	c = sim_cert_new();
	if (c == NULL)
		return NULL;
	c->id = get_int(o, "id");
	copy_fixed(o, "renew_id", c->renew_id, sizeof(c->renew_id));
	c->org_id = get_int(o, "org_id");
	c->cert_type = get_int(o, "cert_type");
	c->term = get_int(o, "term");
	copy_fixed(o, "csr_sha256", c->csr_sha256, sizeof(c->csr_sha256));
	copy_fixed(o, "key_alg", c->key_alg, sizeof(c->key_alg));
	c->key_size = (int)get_int(o, "key_size");
	copy_fixed(o, "key_param", c->key_param, sizeof(c->key_param));
	c->requested = (time_t)get_int(o, "requested");
	c->pending_left = (int)get_int(o, "pending_left");
	c->ready_at = (time_t)get_int(o, "ready_at");
	c->issued = (time_t)get_int(o, "issued");
	c->expires = (time_t)get_int(o, "expires");
	c->revoked = (time_t)get_int(o, "revoked");
	c->reason_code = (int)get_int(o, "reason_code");
	c->replaced = (time_t)get_int(o, "replaced");
	c->renewed = json_is_true(json_object_get(o, "renewed"));
	c->renewed_date = (time_t)get_int(o, "renewed_date");
	c->renewed_from = get_int(o, "renewed_from");
	c->approved = (time_t)get_int(o, "approved");
	c->declined = (time_t)get_int(o, "declined");
	c->downloaded = (time_t)get_int(o, "downloaded");
	take_json(o, "sans", &c->sans, 1);
	take_json(o, "custom_fields", &c->custom_fields, 1);
	take_json(o, "extra", &c->extra, 0);
	take_json(o, "replaced_serials", &c->replaced_serials, 1);
	if (dup_str(o, "common_name", &c->common_name) != 0 ||
	    dup_str(o, "csr_pem", &c->csr_pem) != 0 ||
	    dup_str(o, "comments", &c->comments) != 0 ||
	    dup_str(o, "external_requester", &c->external_requester) != 0 ||
	    dup_str(o, "requester", &c->requester) != 0 ||
	    dup_str(o, "cert_pem", &c->cert_pem) != 0 ||
	    dup_str(o, "serial", &c->serial) != 0 ||
	    dup_str(o, "revoke_reason", &c->revoke_reason) != 0 ||
	    dup_str(o, "approver", &c->approver) != 0 ||
	    dup_str(o, "approve_message", &c->approve_message) != 0 ||
	    dup_str(o, "decline_message", &c->decline_message) != 0)
		goto fail;
	st = json_string_value(json_object_get(o, "status"));
	if (c->id <= 0 || c->csr_pem == NULL || st == NULL ||
	    status_parse(st, &c->status) != 0)
		goto fail;
	/*
	 * A record saved before the approval workflow existed was approved
	 * when it was requested.
	 */
	if (json_object_get(o, "approved") == NULL &&
	    c->status != SIM_ST_REQUESTED && c->status != SIM_ST_DECLINED)
		c->approved = c->requested;
	/* an issued or revoked record must carry its certificate */
	if ((c->status == SIM_ST_ISSUED || c->status == SIM_ST_REVOKED) &&
	    (c->cert_pem == NULL || c->serial == NULL))
		goto fail;
	return c;
fail:
	sim_cert_free(c);
	return NULL;
}

static int
grow(struct sim_store *st)
{
	struct sim_cert **v;
	size_t cap;

	if (st->n < st->cap)
		return 0;
	cap = st->cap == 0 ? 64 : st->cap * 2;
	v = realloc(st->certs, cap * sizeof(*v));
	if (v == NULL)
		return -1;
	st->certs = v;
	st->cap = cap;
	return 0;
}

static int
db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sectigo-sim: sqlite: %s\n",
		    err != NULL ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
db_load(struct sim_store *st)
{
	sqlite3_stmt *q = NULL;
	json_t *o;
	struct sim_cert *c;
	json_error_t jerr;
	int rc = -1, step;

	if (sqlite3_prepare_v2(st->db, "SELECT id, data FROM certs ORDER BY id",
	        -1, &q, NULL) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *data = (const char *)sqlite3_column_text(q, 1);

		o = data != NULL ? json_loads(data, 0, &jerr) : NULL;
		c = o != NULL ? cert_from_json(o) : NULL;
		json_decref(o);
		if (c == NULL || c->id != sqlite3_column_int64(q, 0)) {
			/* keep going: one bad row should not lose the rest */
			fprintf(stderr,
			    "sectigo-sim: sqlite: skipping bad "
			    "record %lld\n",
			    (long long)sqlite3_column_int64(q, 0));
			sim_cert_free(c);
			continue;
		}
		if (grow(st) != 0) {
			sim_cert_free(c);
			goto out;
		}
		st->certs[st->n++] = c;
		if (c->id >= st->next_id)
			st->next_id = c->id + 1;
	}
	if (step != SQLITE_DONE)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "sectigo-sim: sqlite: load: %s\n",
		    sqlite3_errmsg(st->db));
	sqlite3_finalize(q);
	return rc;
}

struct sim_store *
sim_store_open(const char *db_path)
{
	struct sim_store *st;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->next_id = FIRST_ID;
	if (db_path == NULL)
		return st;
	if (sqlite3_open_v2(db_path, &st->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	        NULL) != SQLITE_OK) {
		fprintf(stderr, "sectigo-sim: sqlite: open %s: %s\n", db_path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 2000);
	if (db_exec(st->db,
	        "PRAGMA journal_mode=WAL;"
	        "PRAGMA synchronous=NORMAL;"
	        "CREATE TABLE IF NOT EXISTS certs("
	        " id INTEGER PRIMARY KEY, data TEXT NOT NULL);") != 0)
		goto fail;
	if (sqlite3_prepare_v2(st->db,
	        "INSERT OR REPLACE INTO certs(id, data) VALUES(?, ?)", -1,
	        &st->put, NULL) != SQLITE_OK) {
		fprintf(stderr, "sectigo-sim: sqlite: prepare: %s\n",
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	if (db_load(st) != 0)
		goto fail;
	return st;
fail:
	sim_store_free(st);
	return NULL;
}

void
sim_store_free(struct sim_store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n; i++)
		sim_cert_free(st->certs[i]);
	free(st->certs);
	sqlite3_finalize(st->put);
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st);
}

int
sim_store_save(struct sim_store *st, const struct sim_cert *c)
{
	json_t *o = NULL;
	char *text = NULL;
	int rc = -1;

	if (st->db == NULL)
		return 0;
	o = cert_to_json(c);
	if (o == NULL)
		goto out;
	text = json_dumps(o, JSON_COMPACT);
	if (text == NULL)
		goto out;
	if (sqlite3_bind_int64(st->put, 1, c->id) != SQLITE_OK ||
	    sqlite3_bind_text(st->put, 2, text, -1, SQLITE_STATIC) !=
	        SQLITE_OK ||
	    sqlite3_step(st->put) != SQLITE_DONE)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "sectigo-sim: sqlite: save sslId=%ld: %s\n",
		    c->id, sqlite3_errmsg(st->db));
	/* unbind before text is freed: the statement borrowed it */
	sqlite3_reset(st->put);
	sqlite3_clear_bindings(st->put);
	free(text);
	json_decref(o);
	return rc;
}

int
sim_store_add(struct sim_store *st, struct sim_cert *c)
{
	if (grow(st) != 0) {
		fprintf(stderr, "sectigo-sim: store: out of memory\n");
		sim_cert_free(c);
		return -1;
	}
	c->id = st->next_id++;
	st->certs[st->n++] = c;
	/* a failed save keeps the record: the test run matters more */
	(void)sim_store_save(st, c);
	return 0;
}

size_t
sim_store_count(const struct sim_store *st)
{
	return st->n;
}

struct sim_cert *
sim_store_at(const struct sim_store *st, size_t i)
{
	return i < st->n ? st->certs[i] : NULL;
}

struct sim_cert *
sim_store_get(const struct sim_store *st, long id)
{
	size_t lo = 0, hi = st->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (st->certs[mid]->id == id)
			return st->certs[mid];
		if (st->certs[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct sim_cert *
sim_store_by_renew_id(const struct sim_store *st, const char *renew_id)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->certs[i]->renew_id, renew_id) == 0)
			return st->certs[i];
	return NULL;
}

void
sim_serial_normalize(const char *in, char *out)
{
	size_t k = 0;

	for (; *in != '\0'; in++) {
		if (!isxdigit((unsigned char)*in))
			continue;
		if (k == 0 && *in == '0')
			continue;
		out[k++] = (char)toupper((unsigned char)*in);
	}
	out[k] = '\0';
}

struct sim_cert *
sim_store_by_serial(const struct sim_store *st, const char *serial)
{
	char *want, *have;
	struct sim_cert *found = NULL;
	size_t i;

	want = malloc(strlen(serial) + 1);
	if (want == NULL)
		return NULL;
	sim_serial_normalize(serial, want);
	for (i = 0; i < st->n && found == NULL && *want != '\0'; i++) {
		if (st->certs[i]->serial == NULL)
			continue;
		have = malloc(strlen(st->certs[i]->serial) + 1);
		if (have == NULL)
			break;
		sim_serial_normalize(st->certs[i]->serial, have);
		if (strcmp(have, want) == 0)
			found = st->certs[i];
		free(have);
	}
	free(want);
	return found;
}

int
sim_store_has_csr(const struct sim_store *st, const char *sha256)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->certs[i]->csr_sha256, sha256) == 0)
			return 1;
	return 0;
}

/* Moves one non-zero date. */
static void
shift(time_t *t, time_t delta)
{
	if (*t != 0)
		*t += delta;
}

void
sim_store_shift_dates(struct sim_store *st, time_t delta)
{
	struct sim_cert *c;
	json_t *e, *v;
	size_t i, j;
	static const char *const keys[] = {"replaced", "issued", "expires"};

	for (i = 0; i < st->n; i++) {
		c = st->certs[i];
		shift(&c->requested, delta);
		shift(&c->approved, delta);
		shift(&c->declined, delta);
		shift(&c->downloaded, delta);
		shift(&c->ready_at, delta);
		shift(&c->issued, delta);
		shift(&c->expires, delta);
		shift(&c->revoked, delta);
		shift(&c->replaced, delta);
		shift(&c->renewed_date, delta);
		json_array_foreach(c->replaced_serials, j, e) {
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]);
			     k++) {
				v = json_object_get(e, keys[k]);
				if (json_is_integer(v) &&
				    json_integer_value(v) != 0)
					json_object_set_new(e, keys[k],
					    json_integer(
					        json_integer_value(v) + delta));
			}
		}
		(void)sim_store_save(st, c);
	}
}
