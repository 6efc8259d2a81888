/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/state: the job queue and the job-driven transitions,
 * each checked on the rows it leaves, including all-or-nothing commits. */
#include "tests/unit/acme/acmetest_util.h"

#include "acme/csr.h"
#include "acme/db.h"
#include "acme/state.h"

#define NOW 1700000000LL

static struct acme_db *db;

static int
setup(void **state)
{
	char err[256] = "";

	(void)state;
	db = acme_db_open(":memory:", 0, err, sizeof(err));
	return db != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	acme_db_close(db);
	db = NULL;
	return 0;
}

/* ---- fixtures: rows as the server would have written them ----------- */

static long long
add_account(const char *kid)
{
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO accounts(kid, jwk, thumbprint,"
	                     " status, connector, created) VALUES (?, '{}',"
	                     " ?, 'valid', 'conn-a', ?)",
	                     "ssi", kid, kid, NOW),
	    1);
	return acme_db_last_id(db);
}

static long long
add_order(long long acct, const char *oid, const char *status)
{
	assert_int_equal(
	    acme_db_exec(db,
	        "INSERT INTO orders(oid, account_id, status,"
	        " expires, identifiers, connector, created,"
	        " updated) VALUES (?, ?, ?, ?, '[]', 'conn-a',"
	        " ?, ?)",
	        "sisiii", oid, acct, status, NOW + 86400, NOW, NOW),
	    1);
	return acme_db_last_id(db);
}

static long long
add_authz(long long acct, const char *value, const char *status)
{
	char aid[80];

	snprintf(aid, sizeof(aid), "az-%s-%lld", value, acme_db_last_id(db));
	assert_int_equal(
	    acme_db_exec(db,
	        "INSERT INTO authzs(aid, account_id, id_type,"
	        " id_value, wildcard, status, expires, created)"
	        " VALUES (?, ?, 'dns', ?, 0, ?, ?, ?)",
	        "sissii", aid, acct, value, status, NOW + 86400, NOW),
	    1);
	return acme_db_last_id(db);
}

static void
link_authz(long long order, long long authz)
{
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO order_authzs(order_id, authz_id)"
	                     " VALUES (?, ?)",
	                     "ii", order, authz),
	    1);
}

static long long
add_chall(long long authz, const char *status)
{
	char cid[64];

	snprintf(cid, sizeof(cid), "ch-%lld-%lld", authz, acme_db_last_id(db));
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO challenges(cid, authz_id, type,"
	                     " token, status) VALUES (?, ?, 'http-01', 'tok',"
	                     " ?)",
	                     "sis", cid, authz, status),
	    1);
	return acme_db_last_id(db);
}

static long long
add_cert(long long order, long long acct, const char *status, int reason)
{
	char crt[64];

	snprintf(crt, sizeof(crt), "crt-%lld", order);
	assert_int_equal(
	    acme_db_exec(db,
	        "INSERT INTO certificates(crt_id, order_id,"
	        " account_id, serial, spki, chain_pem,"
	        " not_before, not_after, connector, ca_ref,"
	        " status, revoke_reason, created) VALUES (?, ?,"
	        " ?, '0a', 'spki', 'pem', 0, 1, 'conn-a',"
	        " 'ssl-1', ?, ?, ?)",
	        "siisii", crt, order, acct, status, (long long)reason, NOW),
	    1);
	return acme_db_last_id(db);
}

/* Give an order the CSR (over key and names) and the identifiers that
 * finalize would have stored. */
static void
set_order_csr(
    long long order, EVP_PKEY *key, const char *const *names, size_t n)
{
	struct acme_csr csr = {0};
	struct acme_problem p = {0};
	char *b64 = at_csr_b64(key, names, n, names[0]), *ids_s;
	json_t *ids = json_array();

	assert_int_equal(acme_csr_parse(b64, &csr, &p), 0);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids,
		    json_pack("{s:s, s:s}", "type", "dns", "value", names[i]));
	ids_s = json_dumps(ids, JSON_COMPACT);
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE orders SET csr_pem = ?, identifiers = ?"
	                     " WHERE id = ?",
	                     "ssi", csr.pem, ids_s, order),
	    1);
	free(ids_s);
	json_decref(ids);
	acme_csr_free(&csr);
	free(b64);
}

/* Queue a job and read it back as the runner would. */
static struct acme_job
add_job(const char *kind, long long ref, long long arg, long long now)
{
	struct acme_job j;
	json_t *r;

	memset(&j, 0, sizeof(j));
	assert_int_equal(acme_job_add(db, kind, ref, arg, now), 0);
	r = acme_db_one(
	    db, "SELECT * FROM jobs WHERE id = ?", "i", acme_db_last_id(db));
	assert_non_null(r);
	j.id = acme_row_int(r, "id");
	snprintf(j.kind, sizeof(j.kind), "%s", acme_row_str(r, "kind"));
	j.ref = acme_row_int(r, "ref");
	j.arg = acme_row_int(r, "arg");
	j.attempts = (int)acme_row_int(r, "attempts");
	json_decref(r);
	return j;
}

static json_t *
row(const char *sql, long long id)
{
	json_t *r = acme_db_one(db, sql, "i", id);

	assert_non_null(r);
	return r;
}

static json_t *
job_row(long long id)
{
	return row("SELECT * FROM jobs WHERE id = ?", id);
}

static json_t *
order_row(long long id)
{
	return row("SELECT * FROM orders WHERE id = ?", id);
}

static void
expect_col(const char *sql, long long id, const char *col, const char *want)
{
	json_t *r = row(sql, id);

	assert_string_equal(acme_row_str(r, col), want);
	json_decref(r);
}

#define ORDER_STATUS(id, want)                                                 \
	expect_col("SELECT status FROM orders WHERE id = ?", id, "status", want)
#define AUTHZ_STATUS(id, want)                                                 \
	expect_col("SELECT status FROM authzs WHERE id = ?", id, "status", want)
#define CHALL_STATUS(id, want)                                                 \
	expect_col(                                                            \
	    "SELECT status FROM challenges WHERE id = ?", id, "status", want)
#define JOB_STATE(id, want)                                                    \
	expect_col("SELECT state FROM jobs WHERE id = ?", id, "state", want)

static long long
audit_count(const char *event, const char *ref)
{
	json_t *r = acme_db_one(db,
	    "SELECT count(*) AS n FROM audit WHERE event = ? AND ref = ?", "ss",
	    event, ref);
	long long n = acme_row_int(r, "n");

	json_decref(r);
	return n;
}

/* Make every UPDATE of the jobs table fail from now on: the last step of
 * each state change, so a failure there must undo all the steps before. */
static void
break_job_updates(void)
{
	/* (DDL changes no rows; SQLite then reports the last DML count) */
	assert_true(acme_db_exec(db,
	                "CREATE TRIGGER break_jobs BEFORE UPDATE ON jobs"
	                " BEGIN SELECT RAISE(ABORT, 'injected failure');"
	                " END",
	                NULL) >= 0);
}

/* ---- the job queue ----------------------------------------------------- */

static void
test_jobs_due(void **state)
{
	struct acme_job out[8];
	struct acme_job v, e, c, r;
	int n;

	(void)state;
	v = add_job("validate", 11, 0, 100); /* next_run 100000 */
	e = add_job("enroll", 12, 0, 50);    /* 50000 */
	c = add_job("collect", 13, 0, 100);  /* 100000 */
	r = add_job("revoke", 14, 5, 200);   /* 200000 */
	(void)r;

	n = acme_jobs_due(db, 49999, out, 8);
	assert_int_equal(n, 0);
	n = acme_jobs_due(db, 99999, out, 8);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].id, e.id);
	assert_string_equal(out[0].kind, "enroll");
	assert_int_equal(out[0].ref, 12);

	/* oldest next_run first, then id */
	n = acme_jobs_due(db, 100000, out, 8);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].id, e.id);
	assert_int_equal(out[1].id, v.id);
	assert_int_equal(out[2].id, c.id);
	/* the limit */
	n = acme_jobs_due(db, 100000, out, 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, e.id);
	assert_int_equal(out[1].id, v.id);
	assert_int_equal(acme_jobs_due(db, 100000, out, 0), 0);

	n = acme_jobs_due(db, 1000000, out, 8);
	assert_int_equal(n, 4);
	assert_string_equal(out[3].kind, "revoke");
	assert_int_equal(out[3].ref, 14);
	assert_int_equal(out[3].arg, 5);
	assert_int_equal(out[3].attempts, 0);

	/* finished jobs are not due */
	assert_int_equal(
	    acme_db_exec(
	        db, "UPDATE jobs SET state = 'done' WHERE id = ?", "i", e.id),
	    1);
	assert_int_equal(
	    acme_db_exec(
	        db, "UPDATE jobs SET state = 'failed' WHERE id = ?", "i", v.id),
	    1);
	n = acme_jobs_due(db, 1000000, out, 8);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].id, c.id);
}

static void
test_job_retry(void **state)
{
	struct acme_job out[4], j;
	json_t *r;

	(void)state;
	j = add_job("enroll", 7, 0, 100);
	assert_int_equal(
	    acme_job_retry(db, j.id, 160000, "SCM said 503", 101), 0);
	r = job_row(j.id);
	assert_int_equal(acme_row_int(r, "next_run"), 160000);
	assert_int_equal(acme_row_int(r, "attempts"), 1);
	assert_string_equal(acme_row_str(r, "last_error"), "SCM said 503");
	assert_int_equal(acme_row_int(r, "updated"), 101);
	assert_string_equal(acme_row_str(r, "state"), "queued");
	json_decref(r);
	/* not due before next_run, due at it */
	assert_int_equal(acme_jobs_due(db, 159999, out, 4), 0);
	assert_int_equal(acme_jobs_due(db, 160000, out, 4), 1);
	assert_int_equal(out[0].attempts, 1);

	assert_int_equal(acme_job_retry(db, j.id, 220000, NULL, 102), 0);
	r = job_row(j.id);
	assert_int_equal(acme_row_int(r, "attempts"), 2);
	assert_int_equal(acme_row_int(r, "next_run"), 220000);
	assert_true(json_is_null(json_object_get(r, "last_error")));
	json_decref(r);
	/* a retry can also bring a job forward */
	assert_int_equal(acme_job_retry(db, j.id, 1000, "now", 103), 0);
	assert_int_equal(acme_jobs_due(db, 1000, out, 4), 1);
}

/* ---- validation results ------------------------------------------------ */

static void
test_chall_done_valid(void **state)
{
	long long acct = add_account("a1");
	long long o1 = add_order(acct, "o1", "pending");
	long long o2 = add_order(acct, "o2", "pending"); /* only authz A */
	long long o3 = add_order(acct, "o3", "invalid"); /* dead already */
	long long az_a = add_authz(acct, "a.example", "pending");
	long long az_b = add_authz(acct, "b.example", "pending");
	long long ch_a = add_chall(az_a, "processing");
	long long ch_b = add_chall(az_b, "processing");
	struct acme_job ja, jb;
	json_t *r;

	(void)state;
	link_authz(o1, az_a);
	link_authz(o1, az_b);
	link_authz(o2, az_a);
	link_authz(o3, az_a);
	ja = add_job("validate", ch_a, 0, NOW);
	jb = add_job("validate", ch_b, 0, NOW);

	assert_int_equal(
	    acme_state_chall_done(db, &ja, NULL, 1000, NOW + 5), 0);
	r = row("SELECT * FROM challenges WHERE id = ?", ch_a);
	assert_string_equal(acme_row_str(r, "status"), "valid");
	assert_int_equal(acme_row_int(r, "validated"), NOW + 5);
	json_decref(r);
	r = row("SELECT * FROM authzs WHERE id = ?", az_a);
	assert_string_equal(acme_row_str(r, "status"), "valid");
	assert_int_equal(acme_row_int(r, "expires"), NOW + 5 + 1000);
	json_decref(r);
	/* o2 had only A: ready; o1 waits for B; o3 stays invalid */
	ORDER_STATUS(o2, "ready");
	ORDER_STATUS(o1, "pending");
	ORDER_STATUS(o3, "invalid");
	r = order_row(o2);
	assert_int_equal(acme_row_int(r, "updated"), NOW + 5);
	json_decref(r);
	JOB_STATE(ja.id, "done");
	JOB_STATE(jb.id, "queued");
	assert_int_equal(audit_count("challenge.valid", "a.example"), 1);

	assert_int_equal(
	    acme_state_chall_done(db, &jb, NULL, 1000, NOW + 6), 0);
	AUTHZ_STATUS(az_b, "valid");
	ORDER_STATUS(o1, "ready");
	ORDER_STATUS(o3, "invalid");
	JOB_STATE(jb.id, "done");

	/* delivering the same result twice changes nothing more */
	assert_int_equal(
	    acme_state_chall_done(db, &ja, NULL, 5000, NOW + 9), 0);
	r = row("SELECT * FROM authzs WHERE id = ?", az_a);
	assert_int_equal(acme_row_int(r, "expires"), NOW + 5 + 1000);
	json_decref(r);
	assert_int_equal(audit_count("challenge.valid", "a.example"), 1);
}

static void
test_chall_done_nothing_to_do(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "pending");
	long long az = add_authz(acct, "a.example", "pending");
	long long ch = add_chall(az, "pending");
	struct acme_job j, gone;

	(void)state;
	link_authz(o, az);
	j = add_job("validate", ch, 0, NOW);
	gone = add_job("validate", 99999, 0, NOW);

	/* the challenge is not processing: only the job closes */
	assert_int_equal(acme_state_chall_done(db, &j, NULL, 1000, NOW), 0);
	CHALL_STATUS(ch, "pending");
	AUTHZ_STATUS(az, "pending");
	ORDER_STATUS(o, "pending");
	JOB_STATE(j.id, "done");
	/* the challenge vanished */
	assert_int_equal(acme_state_chall_done(db, &gone, NULL, 1000, NOW), 0);
	JOB_STATE(gone.id, "done");
	/* the authorization is no longer pending (deactivated meanwhile) */
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE challenges SET status = 'processing'"
	                     " WHERE id = ?",
	                     "i", ch),
	    1);
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE authzs SET status = 'deactivated' WHERE"
	                     " id = ?",
	                     "i", az),
	    1);
	j = add_job("validate", ch, 0, NOW);
	assert_int_equal(acme_state_chall_done(db, &j, NULL, 1000, NOW), 0);
	AUTHZ_STATUS(az, "deactivated");
	ORDER_STATUS(o, "pending");
	JOB_STATE(j.id, "done");
}

static void
test_chall_done_invalid(void **state)
{
	long long acct = add_account("a1");
	long long o1 = add_order(acct, "o1", "pending");
	long long o2 = add_order(acct, "o2", "ready");
	long long o3 = add_order(acct, "o3", "valid");
	long long az = add_authz(acct, "bad.example", "pending");
	long long ch = add_chall(az, "processing");
	struct acme_problem prob = {0};
	struct acme_job j;
	json_t *r, *err, *sub;

	(void)state;
	link_authz(o1, az);
	link_authz(o2, az);
	link_authz(o3, az);
	j = add_job("validate", ch, 0, NOW);
	acme_problem_set(&prob, 400, "dns", "no TXT record at %s",
	    "_acme-challenge.bad.example");
	assert_int_equal(
	    acme_state_chall_done(db, &j, &prob, 1000, NOW + 1), 0);

	r = row("SELECT * FROM challenges WHERE id = ?", ch);
	assert_string_equal(acme_row_str(r, "status"), "invalid");
	err = json_loads(acme_row_str(r, "error"), 0, NULL);
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "type")),
	    "urn:ietf:params:acme:error:dns");
	assert_string_equal(json_string_value(json_object_get(err, "detail")),
	    "no TXT record at _acme-challenge.bad.example");
	json_decref(err);
	json_decref(r);
	AUTHZ_STATUS(az, "invalid");
	ORDER_STATUS(o1, "invalid");
	ORDER_STATUS(o2, "invalid");
	ORDER_STATUS(o3, "valid"); /* finished orders keep their state */

	r = order_row(o2);
	assert_int_equal(acme_row_int(r, "updated"), NOW + 1);
	err = json_loads(acme_row_str(r, "error"), 0, NULL);
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "type")),
	    "urn:ietf:params:acme:error:unauthorized");
	assert_int_equal(
	    json_integer_value(json_object_get(err, "status")), 403);
	sub = json_array_get(json_object_get(err, "subproblems"), 0);
	assert_non_null(sub);
	assert_string_equal(json_string_value(json_object_get(sub, "type")),
	    "urn:ietf:params:acme:error:dns");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(sub, "identifier"), "value")),
	    "bad.example");
	json_decref(err);
	json_decref(r);
	r = order_row(o3);
	assert_true(json_is_null(json_object_get(r, "error")));
	json_decref(r);
	JOB_STATE(j.id, "done");
	assert_int_equal(audit_count("challenge.invalid", "bad.example"), 1);
	acme_problem_clear(&prob);
}

/* A failure part-way leaves nothing behind: challenge, authorization,
 * order and job all keep their state. */
static void
test_chall_done_atomic(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "pending");
	long long az = add_authz(acct, "a.example", "pending");
	long long ch = add_chall(az, "processing");
	struct acme_job j;

	(void)state;
	link_authz(o, az);
	j = add_job("validate", ch, 0, NOW);
	break_job_updates();
	assert_int_equal(acme_state_chall_done(db, &j, NULL, 1000, NOW), -1);
	CHALL_STATUS(ch, "processing");
	AUTHZ_STATUS(az, "pending");
	ORDER_STATUS(o, "pending");
	JOB_STATE(j.id, "queued");
	assert_int_equal(audit_count("challenge.valid", "a.example"), 0);
	/* and the connection is not left inside a transaction */
	assert_int_equal(acme_db_begin(db), 0);
	acme_db_rollback(db);
}

/* ---- enrollment ------------------------------------------------------- */

static void
test_enroll_sending(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	struct acme_job j = add_job("enroll", o, 0, NOW);
	json_t *r;

	(void)state;
	assert_int_equal(acme_state_enroll_sending(db, o, &j, NOW + 1), 0);
	r = order_row(o);
	assert_int_equal(acme_row_int(r, "enroll_state"), 1);
	assert_int_equal(acme_row_int(r, "updated"), NOW + 1);
	json_decref(r);
	r = job_row(j.id);
	assert_int_equal(acme_row_int(r, "attempts"), 1);
	assert_string_equal(acme_row_str(r, "state"), "queued");
	json_decref(r);
	/* a resend after a crash counts again */
	assert_int_equal(acme_state_enroll_sending(db, o, &j, NOW + 2), 0);
	r = job_row(j.id);
	assert_int_equal(acme_row_int(r, "attempts"), 2);
	json_decref(r);
}

static void
test_enrolled(void **state)
{
	long long acct = add_account("a1");
	long long o1 = add_order(acct, "o1", "processing");
	long long o2 = add_order(acct, "o2", "processing");
	struct acme_job j1 = add_job("enroll", o1, 0, NOW);
	struct acme_job j2 = add_job("enroll", o2, 0, NOW);
	char ref[64];
	json_t *r;

	(void)state;
	assert_int_equal(
	    acme_job_retry(db, j1.id, NOW * 1000 + 99000, "timeout", NOW), 0);
	assert_int_equal(acme_state_enroll_sending(db, o1, &j1, NOW), 0);
	assert_int_equal(
	    acme_state_enrolled(db, &j1, "ssl-1001", 0, NOW + 10), 0);
	r = order_row(o1);
	assert_string_equal(acme_row_str(r, "ca_ref"), "ssl-1001");
	assert_int_equal(acme_row_int(r, "enroll_state"), 2);
	assert_string_equal(acme_row_str(r, "status"), "processing");
	json_decref(r);
	/* the same job row now collects, from scratch and at once */
	r = job_row(j1.id);
	assert_string_equal(acme_row_str(r, "kind"), "collect");
	assert_string_equal(acme_row_str(r, "state"), "queued");
	assert_int_equal(acme_row_int(r, "attempts"), 0);
	assert_int_equal(acme_row_int(r, "next_run"), (NOW + 10) * 1000);
	assert_true(json_is_null(json_object_get(r, "last_error")));
	json_decref(r);
	snprintf(ref, sizeof(ref), "order=%lld", o1);
	assert_int_equal(audit_count("scm.enroll", ref), 1);
	assert_int_equal(audit_count("scm.enroll.reconciled", ref), 0);

	/* found by reconciliation after a crash: its own audit event */
	assert_int_equal(
	    acme_state_enrolled(db, &j2, "ssl-2002", 1, NOW + 20), 0);
	snprintf(ref, sizeof(ref), "order=%lld", o2);
	assert_int_equal(audit_count("scm.enroll.reconciled", ref), 1);
	assert_int_equal(audit_count("scm.enroll", ref), 0);
	r = acme_db_one(db,
	    "SELECT detail FROM audit WHERE event = 'scm.enroll.reconciled'",
	    NULL);
	assert_string_equal(acme_row_str(r, "detail"), "ssl-2002");
	json_decref(r);
	r = order_row(o2);
	assert_string_equal(acme_row_str(r, "ca_ref"), "ssl-2002");
	json_decref(r);
}

static void
test_enrolled_atomic(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	struct acme_job j = add_job("enroll", o, 0, NOW);
	json_t *r;

	(void)state;
	break_job_updates();
	assert_int_equal(acme_state_enrolled(db, &j, "ssl-9", 0, NOW), -1);
	r = order_row(o);
	assert_true(json_is_null(json_object_get(r, "ca_ref")));
	assert_int_equal(acme_row_int(r, "enroll_state"), 0);
	json_decref(r);
	expect_col(
	    "SELECT kind FROM jobs WHERE id = ?", j.id, "kind", "enroll");
}

static void
test_issued(void **state)
{
	const char *const names[] = {"issued.example"};
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	struct acme_job j = add_job("enroll", o, 0, NOW);
	struct acme_problem p = {0};
	struct acme_cert_info info;
	EVP_PKEY *key = at_key_p256();
	char *pem = at_cert_pem(key, names, 1, 0x1234, NOW - 60, NOW + 86400);
	char ref[64];
	json_t *r, *c;

	(void)state;
	set_order_csr(o, key, names, 1);
	assert_int_equal(acme_state_enrolled(db, &j, "ssl-5", 0, NOW), 0);
	assert_int_equal(acme_state_issued(db, &j, pem, NOW + 30), 0);
	assert_int_equal(acme_cert_info_pem(pem, &info, &p), 0);
	c = acme_db_one(
	    db, "SELECT * FROM certificates WHERE order_id = ?", "i", o);
	assert_non_null(c);
	assert_string_equal(acme_row_str(c, "serial"), "1234");
	assert_string_equal(acme_row_str(c, "serial"), info.serial_hex);
	assert_string_equal(acme_row_str(c, "spki"), info.spki_sha256);
	assert_int_equal(acme_row_int(c, "not_before"), NOW - 60);
	assert_int_equal(acme_row_int(c, "not_after"), NOW + 86400);
	assert_string_equal(acme_row_str(c, "chain_pem"), pem);
	assert_string_equal(acme_row_str(c, "connector"), "conn-a");
	assert_string_equal(acme_row_str(c, "ca_ref"), "ssl-5");
	assert_string_equal(acme_row_str(c, "status"), "valid");
	assert_int_equal(acme_row_int(c, "account_id"), acct);
	assert_true(strlen(acme_row_str(c, "crt_id")) >= 16);
	r = order_row(o);
	assert_string_equal(acme_row_str(r, "status"), "valid");
	assert_int_equal(acme_row_int(r, "cert_id"), acme_row_int(c, "id"));
	assert_int_equal(acme_row_int(r, "updated"), NOW + 30);
	json_decref(r);
	json_decref(c);
	JOB_STATE(j.id, "done");
	snprintf(ref, sizeof(ref), "order=%lld", o);
	assert_int_equal(audit_count("certificate.issued", ref), 1);

	/* delivered again (a duplicate collect): no second certificate */
	assert_int_equal(acme_state_issued(db, &j, pem, NOW + 40), 0);
	r = acme_db_one(db, "SELECT count(*) AS n FROM certificates", NULL);
	assert_int_equal(acme_row_int(r, "n"), 1);
	json_decref(r);
	free(pem);
	EVP_PKEY_free(key);
}

static void
test_issued_bad_chain(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	struct acme_job j = add_job("collect", o, 0, NOW);
	json_t *r, *err;

	(void)state;
	assert_int_equal(
	    acme_state_issued(db, &j, "not a certificate", NOW), 0);
	r = order_row(o);
	assert_string_equal(acme_row_str(r, "status"), "invalid");
	err = json_loads(acme_row_str(r, "error"), 0, NULL);
	assert_non_null(err);
	assert_non_null(
	    strstr(json_string_value(json_object_get(err, "detail")),
	        "does not parse"));
	json_decref(err);
	json_decref(r);
	JOB_STATE(j.id, "failed");
	r = acme_db_one(db, "SELECT count(*) AS n FROM certificates", NULL);
	assert_int_equal(acme_row_int(r, "n"), 0);
	json_decref(r);
}

static void
test_issued_atomic(void **state)
{
	const char *const names[] = {"atomic.example"};
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	struct acme_job j = add_job("collect", o, 0, NOW);
	EVP_PKEY *key = at_key_p256();
	char *pem = at_cert_pem(key, names, 1, 7, NOW, NOW + 86400);
	json_t *r;

	(void)state;
	break_job_updates();
	assert_int_equal(acme_state_issued(db, &j, pem, NOW), -1);
	ORDER_STATUS(o, "processing");
	r = acme_db_one(db, "SELECT count(*) AS n FROM certificates", NULL);
	assert_int_equal(acme_row_int(r, "n"), 0);
	json_decref(r);
	r = order_row(o);
	assert_true(json_is_null(json_object_get(r, "cert_id")));
	json_decref(r);
	free(pem);
	EVP_PKEY_free(key);
}

static void
test_order_failed(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	long long done = add_order(acct, "o2", "valid");
	struct acme_job j = add_job("enroll", o, 0, NOW);
	struct acme_job j2 = add_job("collect", done, 0, NOW);
	char ref[64];
	json_t *r, *err;

	(void)state;
	assert_int_equal(acme_state_order_failed(db, &j,
	                     "SCM refused the request: code -105", NOW + 3),
	    0);
	r = order_row(o);
	assert_string_equal(acme_row_str(r, "status"), "invalid");
	assert_int_equal(acme_row_int(r, "updated"), NOW + 3);
	err = json_loads(acme_row_str(r, "error"), 0, NULL);
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "type")),
	    "urn:ietf:params:acme:error:serverInternal");
	assert_string_equal(json_string_value(json_object_get(err, "detail")),
	    "SCM refused the request: code -105");
	assert_int_equal(
	    json_integer_value(json_object_get(err, "status")), 500);
	json_decref(err);
	json_decref(r);
	r = job_row(j.id);
	assert_string_equal(acme_row_str(r, "state"), "failed");
	assert_string_equal(acme_row_str(r, "last_error"),
	    "SCM refused the request: code -105");
	json_decref(r);
	snprintf(ref, sizeof(ref), "order=%lld", o);
	assert_int_equal(audit_count("order.failed", ref), 1);

	/* an order no longer processing keeps its state; the job ends */
	assert_int_equal(acme_state_order_failed(db, &j2, "late", NOW), 0);
	ORDER_STATUS(done, "valid");
	JOB_STATE(j2.id, "failed");
}

/* ---- revocation ------------------------------------------------------ */

static void
test_revoke_done(void **state)
{
	long long acct = add_account("a1");
	long long o1 = add_order(acct, "o1", "valid");
	long long o2 = add_order(acct, "o2", "valid");
	long long c1 = add_cert(o1, acct, "revoked", 4);
	long long c2 = add_cert(o2, acct, "revoked", 1);
	struct acme_job j1 = add_job("revoke", c1, 4, NOW);
	struct acme_job j2 = add_job("revoke", c2, 1, NOW);
	char ref[64];
	json_t *r;

	(void)state;
	/* refused by the CA: the certificate is valid again here */
	assert_int_equal(acme_state_revoke_done(
	                     db, &j1, 0, "SCM: certificate not found", NOW + 1),
	    0);
	r = row("SELECT * FROM certificates WHERE id = ?", c1);
	assert_string_equal(acme_row_str(r, "status"), "valid");
	assert_true(json_is_null(json_object_get(r, "revoke_reason")));
	json_decref(r);
	r = job_row(j1.id);
	assert_string_equal(acme_row_str(r, "state"), "failed");
	assert_string_equal(
	    acme_row_str(r, "last_error"), "SCM: certificate not found");
	json_decref(r);
	snprintf(ref, sizeof(ref), "certificate=%lld", c1);
	assert_int_equal(audit_count("scm.revoke.refused", ref), 1);

	/* accepted: stays revoked */
	assert_int_equal(acme_state_revoke_done(db, &j2, 1, NULL, NOW + 2), 0);
	r = row("SELECT * FROM certificates WHERE id = ?", c2);
	assert_string_equal(acme_row_str(r, "status"), "revoked");
	assert_int_equal(acme_row_int(r, "revoke_reason"), 1);
	json_decref(r);
	JOB_STATE(j2.id, "done");
	snprintf(ref, sizeof(ref), "certificate=%lld", c2);
	assert_int_equal(audit_count("scm.revoke", ref), 1);
}

static void
test_nested_transaction_refused(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	struct acme_job j = add_job("enroll", o, 0, NOW);

	(void)state;
	/* a state change cannot run inside someone else's transaction
	 * (it would commit it): it refuses and touches nothing */
	assert_int_equal(acme_db_begin(db), 0);
	assert_int_equal(acme_state_order_failed(db, &j, "x", NOW), -1);
	acme_db_rollback(db);
	ORDER_STATUS(o, "processing");
	JOB_STATE(j.id, "queued");
}

/* Finished jobs older than the cut-off go; recent ones and queued ones,
 * however old, stay. */
static void
test_jobs_purge(void **state)
{
	struct acme_job old_done = add_job("validate", 1, 0, NOW - 100);
	struct acme_job old_failed = add_job("enroll", 2, 0, NOW - 100);
	struct acme_job old_queued = add_job("collect", 3, 0, NOW - 100);
	struct acme_job new_done = add_job("revoke", 4, 0, NOW);
	json_t *left;

	(void)state;
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE jobs SET state = 'done', updated = ?"
	                     " WHERE id IN (?, ?)",
	                     "iii", NOW - 100, old_done.id, new_done.id),
	    2);
	assert_int_equal(
	    acme_db_exec(db, "UPDATE jobs SET updated = ? WHERE id = ?", "ii",
	        NOW, new_done.id),
	    1);
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE jobs SET state = 'failed', updated = ?"
	                     " WHERE id = ?",
	                     "ii", NOW - 100, old_failed.id),
	    1);
	assert_int_equal(acme_jobs_purge(db, NOW - 50), 2);
	left = acme_db_all(db, "SELECT id FROM jobs ORDER BY id", NULL);
	assert_non_null(left);
	assert_int_equal(json_array_size(left), 2);
	assert_int_equal(
	    acme_row_int(json_array_get(left, 0), "id"), old_queued.id);
	assert_int_equal(
	    acme_row_int(json_array_get(left, 1), "id"), new_done.id);
	json_decref(left);
	assert_int_equal(acme_jobs_purge(db, NOW - 50), 0);
}

/* ---- database errors (review findings 3, 6, 25) --------------------- */

/* A read error while a validation result is stored settles nothing: the
 * challenge stays processing, the job queued (to run again), no order
 * moves. On the old code the read error meant "vanished": job done. */
static void
test_chall_done_read_error(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "pending");
	long long az = add_authz(acct, "x.example", "pending");
	long long ch;
	struct acme_job j;

	(void)state;
	link_authz(o, az);
	ch = add_chall(az, "processing");
	j = add_job("validate", ch, 0, NOW);
	acme_db_inject_fault(db, "FROM challenges c JOIN authzs a", 1);
	assert_int_equal(acme_state_chall_done(db, &j, NULL, 3600, NOW), -1);
	CHALL_STATUS(ch, "processing");
	AUTHZ_STATUS(az, "pending");
	ORDER_STATUS(o, "pending");
	JOB_STATE(j.id, "queued");
	/* once the database answers, the result is stored */
	assert_int_equal(acme_state_chall_done(db, &j, NULL, 3600, NOW), 0);
	CHALL_STATUS(ch, "valid");
	ORDER_STATUS(o, "ready");
}

/* Closing a job whose challenge moved on never validates anything (the
 * fail-open of finding 3 came through the success branch). */
static void
test_job_close(void **state)
{
	long long acct = add_account("a1");
	long long az = add_authz(acct, "y.example", "pending");
	long long ch = add_chall(az, "processing");
	struct acme_job j = add_job("validate", ch, 0, NOW);

	(void)state;
	assert_int_equal(acme_state_job_close(db, &j, "test", NOW), 0);
	CHALL_STATUS(ch, "processing");
	AUTHZ_STATUS(az, "pending");
	JOB_STATE(j.id, "done");
}

/* Failing orders of an invalid challenge is all or nothing (finding 25):
 * a failed order update rolls the whole result back. */
static void
test_chall_done_order_update_error(void **state)
{
	struct acme_problem p = {0};
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "pending");
	long long az = add_authz(acct, "z.example", "pending");
	long long ch;
	struct acme_job j;

	(void)state;
	link_authz(o, az);
	ch = add_chall(az, "processing");
	j = add_job("validate", ch, 0, NOW);
	acme_problem_set(&p, 403, "unauthorized", "wrong answer");
	acme_db_inject_fault(db, "UPDATE orders SET status = 'invalid'", 1);
	assert_int_equal(acme_state_chall_done(db, &j, &p, 3600, NOW), -1);
	CHALL_STATUS(ch, "processing");
	AUTHZ_STATUS(az, "pending");
	ORDER_STATUS(o, "pending");
	JOB_STATE(j.id, "queued");
	acme_problem_clear(&p);
}

/* An expired pending authorization is not validated late, nor given a
 * fresh lifetime (finding 16). */
static void
test_chall_done_expired_authz(void **state)
{
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "pending");
	long long az = add_authz(acct, "late.example", "pending");
	long long ch;
	struct acme_job j;

	(void)state;
	link_authz(o, az);
	ch = add_chall(az, "processing");
	j = add_job("validate", ch, 0, NOW);
	assert_int_equal(
	    acme_state_chall_done(db, &j, NULL, 3600, NOW + 2 * 86400), 0);
	CHALL_STATUS(ch, "invalid");
	AUTHZ_STATUS(az, "pending"); /* readers see it expired */
	ORDER_STATUS(o, "pending");
	JOB_STATE(j.id, "done");
}

/* A read error while a collected certificate is stored keeps the job
 * queued: the certificate is not dropped (finding 6). */
static void
test_issued_read_error(void **state)
{
	const char *const names[] = {"kept.example"};
	long long acct = add_account("a1");
	long long o = add_order(acct, "o1", "processing");
	struct acme_job j = add_job("collect", o, 0, NOW);
	EVP_PKEY *key = at_key_p256();
	char *pem = at_cert_pem(key, names, 1, 0x77, NOW - 60, NOW + 86400);
	json_t *r;

	(void)state;
	set_order_csr(o, key, names, 1);
	acme_db_inject_fault(db, "o.cert_id WHERE o.id = ?", 1);
	assert_int_equal(acme_state_issued(db, &j, pem, NOW), -1);
	JOB_STATE(j.id, "queued");
	ORDER_STATUS(o, "processing");
	r = acme_db_one(db, "SELECT count(*) AS n FROM certificates", NULL);
	assert_int_equal(acme_row_int(r, "n"), 0);
	json_decref(r);
	assert_int_equal(acme_state_issued(db, &j, pem, NOW), 0);
	ORDER_STATUS(o, "valid");
	free(pem);
	EVP_PKEY_free(key);
}

/* Finding 7: a certificate SCM returns for another key or other names
 * fails the order; nothing is stored for download and operators see an
 * audit row. */
static void
test_issued_mismatch(void **state)
{
	const char *const names[] = {"mine.example"};
	const char *const more[] = {"mine.example", "extra.example"};
	const char *const other[] = {"other.example"};
	long long acct = add_account("a1");
	EVP_PKEY *key = at_key_p256(), *stranger = at_key_p256();
	char *wrong_key =
	    at_cert_pem(stranger, names, 1, 1, NOW - 60, NOW + 99);
	char *extra = at_cert_pem(key, more, 2, 2, NOW - 60, NOW + 99);
	char *wrong_name = at_cert_pem(key, other, 1, 3, NOW - 60, NOW + 99);
	char *const pems[] = {wrong_key, extra, wrong_name};
	json_t *r;

	(void)state;
	for (int i = 0; i < 3; i++) {
		char oid[16];
		long long o;
		struct acme_job j;

		snprintf(oid, sizeof(oid), "o%d", i);
		o = add_order(acct, oid, "processing");
		set_order_csr(o, key, names, 1);
		j = add_job("collect", o, 0, NOW);
		assert_int_equal(acme_state_issued(db, &j, pems[i], NOW), 0);
		ORDER_STATUS(o, "invalid");
		JOB_STATE(j.id, "failed");
		assert_int_equal(audit_count("certificate.mismatch", oid), 1);
	}
	r = acme_db_one(db, "SELECT count(*) AS n FROM certificates", NULL);
	assert_int_equal(acme_row_int(r, "n"), 0);
	json_decref(r);
	free(wrong_key);
	free(extra);
	free(wrong_name);
	EVP_PKEY_free(key);
	EVP_PKEY_free(stranger);
}

/* Retention (finding 31): dead orders and unused expired authorizations
 * (with their challenges) go; anything with a certificate, anything
 * recent and anything still in use stays. */
static void
test_state_purge(void **state)
{
	long long acct = add_account("a1");
	long long dead = add_order(acct, "dead", "invalid");
	long long live = add_order(acct, "live", "pending");
	long long issued = add_order(acct, "issued", "valid");
	long long az_dead = add_authz(acct, "dead.example", "invalid");
	long long az_live = add_authz(acct, "live.example", "pending");
	long long ch_dead = add_chall(az_dead, "invalid");
	json_t *r;

	(void)state;
	link_authz(dead, az_dead);
	link_authz(live, az_live);
	add_cert(issued, acct, "valid", 0);
	/* everything is older than the cut-off, except the live order's
	 * expiry (NOW + 86400) */
	assert_int_equal(
	    acme_db_exec(db, "UPDATE authzs SET expires = ? WHERE id = ?", "ii",
	        NOW - 10, az_dead),
	    1);
	assert_int_equal(acme_state_purge(db, NOW + 1, NOW - 1), 2);
	r = acme_db_one(db,
	    "SELECT (SELECT count(*) FROM orders WHERE id = ?) AS d,"
	    " (SELECT count(*) FROM orders WHERE id IN (?, ?)) AS k,"
	    " (SELECT count(*) FROM authzs WHERE id = ?) AS ad,"
	    " (SELECT count(*) FROM authzs WHERE id = ?) AS al,"
	    " (SELECT count(*) FROM challenges WHERE id = ?) AS cd",
	    "iiiiii", dead, live, issued, az_dead, az_live, ch_dead);
	assert_int_equal(acme_row_int(r, "d"), 0);
	assert_int_equal(acme_row_int(r, "k"), 2);
	assert_int_equal(acme_row_int(r, "ad"), 0);
	assert_int_equal(acme_row_int(r, "al"), 1);
	assert_int_equal(acme_row_int(r, "cd"), 0);
	json_decref(r);
	/* nothing more to drop */
	assert_int_equal(acme_state_purge(db, NOW + 1, 0), 0);
}

/* ---- job pools: validation and CA work picked separately ------------ */

static void
queue_job_at(const char *kind, long long ref, long long next_ms)
{
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO jobs(kind, ref, state, next_run,"
	                     " created, updated) VALUES (?, ?, 'queued', ?,"
	                     " 0, 0)",
	                     "sii", kind, ref, next_ms),
	    1);
}

static void
test_pools_are_separate(void **state)
{
	struct acme_job out[8];
	int n;

	(void)state;
	/* a backlog of 20 old validations, then the CA work */
	for (int i = 0; i < 20; i++)
		queue_job_at("validate", 100 + i, 1000 + i);
	queue_job_at("enroll", 1, 5000);
	queue_job_at("revoke", 2, 6000);
	queue_job_at("collect", 3, 7000);

	/* the whole queue, oldest first, would give only validations */
	n = acme_jobs_due(db, 10000, out, 8);
	assert_int_equal(n, 8);
	for (int i = 0; i < n; i++)
		assert_string_equal(out[i].kind, "validate");

	/* the CA pool sees its jobs at once, oldest first */
	n = acme_jobs_due_pool(db, 10000, ACME_POOL_CA, out, 8);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].kind, "enroll");
	assert_string_equal(out[1].kind, "revoke");
	assert_string_equal(out[2].kind, "collect");

	/* the validation pool only validations, bounded by max */
	n = acme_jobs_due_pool(db, 10000, ACME_POOL_VALIDATE, out, 5);
	assert_int_equal(n, 5);
	for (int i = 0; i < n; i++) {
		assert_string_equal(out[i].kind, "validate");
		assert_int_equal(out[i].ref, 100 + i);
	}
	/* not yet due */
	assert_int_equal(acme_jobs_due_pool(db, 4999, ACME_POOL_CA, out, 8), 0);
	assert_int_equal(
	    acme_jobs_due_pool(db, 10000, ACME_POOL_CA, out, 0), 0);
}

/* The tri-state read tells a row, no row and an error apart. */
static void
test_db_get(void **state)
{
	json_t *row = NULL;

	(void)state;
	add_account("a1");
	assert_int_equal(
	    acme_db_get(
	        db, &row, "SELECT kid FROM accounts WHERE kid = ?", "s", "a1"),
	    1);
	assert_string_equal(acme_row_str(row, "kid"), "a1");
	json_decref(row);
	assert_int_equal(
	    acme_db_get(
	        db, &row, "SELECT kid FROM accounts WHERE kid = ?", "s", "zz"),
	    0);
	assert_null(row);
	acme_db_inject_fault(db, "FROM accounts WHERE kid", 1);
	assert_int_equal(
	    acme_db_get(
	        db, &row, "SELECT kid FROM accounts WHERE kid = ?", "s", "a1"),
	    -1);
	assert_null(row);
	/* a broken statement is an error too */
	assert_int_equal(
	    acme_db_get(db, &row, "SELECT nope FROM nowhere", NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_jobs_due, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jobs_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_done_read_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_done_order_update_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_done_expired_authz, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_issued_read_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_db_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_pools_are_separate, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_issued_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_done_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_done_nothing_to_do, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_done_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_done_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_enroll_sending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enrolled, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_enrolled_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_issued, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_issued_bad_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_issued_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoke_done, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_nested_transaction_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
