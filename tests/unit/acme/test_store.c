/* SPDX-License-Identifier: Apache-2.0 */
/* The typed store: every operation, its three outcomes, fault injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/db.h"
#include "acme/store.h"

static struct acme_db *db;

/* Rows of a finished order: account 1 (kid "k1", EAB "e1"), order 1
 * processing with a CSR, authz 1 valid + challenge 1 processing, cert 1. */
static int
setup(void **state)
{
	char err[256] = "";

	(void)state;
	db = acme_db_open(":memory:", 0, err, sizeof(err));
	if (db == NULL)
		return -1;
	if (acme_db_exec(db,
	        "INSERT INTO accounts(id, kid, jwk, thumbprint, status,"
	        " contact, tos_agreed, eab_kid, connector, created) VALUES (1,"
	        " 'k1', '{\"kty\":\"EC\"}', 't1', 'valid',"
	        " '[\"mailto:a@example.com\"]', 1, 'e1', 'conn', 100)",
	        NULL) != 1 ||
	    acme_db_exec(db,
	        "INSERT INTO accounts(id, kid, jwk, thumbprint, status,"
	        " connector, created) VALUES (2, 'k2', '{}', 't2',"
	        " 'deactivated', 'conn', 200)",
	        NULL) != 1 ||
	    acme_db_exec(db,
	        "INSERT INTO orders(id, oid, account_id, status, expires,"
	        " identifiers, csr_pem, connector, ca_ref, enroll_state,"
	        " created, updated) VALUES (1, 'o1', 1, 'processing', 999,"
	        " '[{\"type\":\"dns\",\"value\":\"a.example\"}]', 'CSR',"
	        " 'conn', 'ssl-7', 1, 100, 100)",
	        NULL) != 1 ||
	    acme_db_exec(db,
	        "INSERT INTO authzs(id, aid, account_id, id_type, id_value,"
	        " wildcard, status, expires, created) VALUES (1, 'a1', 1,"
	        " 'dns', 'a.example', 0, 'valid', 999, 100)",
	        NULL) != 1 ||
	    acme_db_exec(db,
	        "INSERT INTO challenges(id, cid, authz_id, type, token, status)"
	        " VALUES (1, 'c1', 1, 'http-01', 'tok', 'processing')",
	        NULL) != 1 ||
	    acme_db_exec(db,
	        "INSERT INTO certificates(id, crt_id, order_id, account_id,"
	        " serial, spki, chain_pem, not_before, not_after, connector,"
	        " ca_ref, status, created) VALUES (1, 'x1', 1, 1, '01', 's',"
	        " 'PEM', 1, 2, 'conn', 'ssl-7', 'valid', 100)",
	        NULL) != 1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	acme_db_close(db);
	return 0;
}

static long long
count(const char *sql)
{
	json_t *r = acme_db_one(db, sql, NULL);
	long long n = acme_row_int(r, "n");

	json_decref(r);
	return n;
}

static void
test_status_words(void **state)
{
	(void)state;
	for (int s = 0; s < ACME_ORDER_UNKNOWN; s++)
		assert_int_equal(
		    acme_order_status_of(acme_order_status_str(s)), s);
	for (int s = 0; s < ACME_CHALL_UNKNOWN; s++)
		assert_int_equal(
		    acme_chall_status_of(acme_chall_status_str(s)), s);
	for (int s = 0; s < ACME_ACCT_UNKNOWN; s++)
		assert_int_equal(
		    acme_acct_status_of(acme_acct_status_str(s)), s);
	assert_string_equal(
	    acme_order_status_str(ACME_ORDER_PROCESSING), "processing");
	assert_int_equal(acme_order_status_of("Valid"), ACME_ORDER_UNKNOWN);
	assert_int_equal(acme_order_status_of(NULL), ACME_ORDER_UNKNOWN);
	assert_int_equal(acme_chall_status_of(""), ACME_CHALL_UNKNOWN);
	assert_int_equal(acme_acct_status_of("revoked"), ACME_ACCT_REVOKED);
	assert_string_equal(acme_acct_status_str(ACME_ACCT_UNKNOWN), "unknown");
}

static void
test_order(void **state)
{
	struct acme_order o;

	(void)state;
	assert_int_equal(acme_store_order(db, 1, &o), ACME_FOUND);
	assert_int_equal(o.id, 1);
	assert_int_equal(o.account_id, 1);
	assert_string_equal(o.oid, "o1");
	assert_int_equal(o.status, ACME_ORDER_PROCESSING);
	assert_int_equal(o.enroll_state, ACME_ENROLL_SENDING);
	assert_string_equal(o.connector, "conn");
	assert_string_equal(o.ca_ref, "ssl-7");
	assert_string_equal(o.csr_pem, "CSR");
	assert_non_null(strstr(o.identifiers, "a.example"));
	acme_order_clear(&o);
	assert_null(o.csr_pem);

	assert_int_equal(acme_store_order(db, 42, &o), ACME_NONE);
	assert_int_equal(o.id, 0);
	assert_null(o.identifiers);
	/* a database error is an error, never "no such order" */
	acme_db_inject_fault(db, "o.cert_id WHERE o.id", 1);
	assert_int_equal(acme_store_order(db, 1, &o), ACME_ERR);
	assert_null(o.identifiers);
	assert_int_equal(acme_store_order(db, 1, &o), ACME_FOUND);
	acme_order_clear(&o);
	/* NULL columns: no CSR before finalize, no CA reference */
	assert_true(acme_db_exec(db,
	                "UPDATE orders SET csr_pem = NULL, ca_ref = NULL,"
	                " status = 'pending', enroll_state = 0",
	                NULL) == 1);
	assert_int_equal(acme_store_order(db, 1, &o), ACME_FOUND);
	assert_null(o.csr_pem);
	assert_string_equal(o.ca_ref, "");
	assert_int_equal(o.status, ACME_ORDER_PENDING);
	assert_int_equal(o.enroll_state, ACME_ENROLL_NONE);
	acme_order_clear(&o);
}

static void
test_chall_target(void **state)
{
	struct acme_chall_target t;

	(void)state;
	assert_int_equal(acme_store_chall_target(db, 1, &t), ACME_FOUND);
	assert_int_equal(t.account_id, 1);
	assert_int_equal(t.status, ACME_CHALL_PROCESSING);
	assert_string_equal(t.type, "http-01");
	assert_string_equal(t.token, "tok");
	assert_string_equal(t.id_type, "dns");
	assert_string_equal(t.id_value, "a.example");
	assert_string_equal(t.jwk, "{\"kty\":\"EC\"}");
	acme_chall_target_clear(&t);
	assert_int_equal(acme_store_chall_target(db, 9, &t), ACME_NONE);
	acme_db_inject_fault(db, "FROM challenges c JOIN", 1);
	assert_int_equal(acme_store_chall_target(db, 1, &t), ACME_ERR);
	assert_null(t.jwk);
}

static void
test_cert_ref(void **state)
{
	struct acme_cert_ref c;

	(void)state;
	assert_int_equal(acme_store_cert_ref(db, 1, &c), ACME_FOUND);
	assert_string_equal(c.ca_ref, "ssl-7");
	assert_string_equal(c.connector, "conn");
	assert_int_equal(acme_store_cert_ref(db, 2, &c), ACME_NONE);
	assert_string_equal(c.ca_ref, "");
	acme_db_inject_fault(db, "FROM certificates WHERE id", 1);
	assert_int_equal(acme_store_cert_ref(db, 1, &c), ACME_ERR);
}

/* What a callback of an each/list operation saw: the first four rows'
 * name and number, and how many rows. */
struct seen {
	int n;
	char kids[4][128];
	long long values[4];
};

static void
note(struct seen *s, const char *name, long long value)
{
	if (s->n < 4) {
		snprintf(s->kids[s->n], sizeof(s->kids[0]), "%s", name);
		s->values[s->n] = value;
	}
	s->n++;
}

static void
see_eab(const struct acme_eab_info *e, void *arg)
{
	note(arg, e->kid, e->accounts * 100 + e->max_accounts);
}

static void
test_eab(void **state)
{
	struct seen s = {0};

	(void)state;
	assert_int_equal(
	    acme_store_eab_add(db, "e1", "hmac1", "conn", "first", 0, 300), 1);
	assert_int_equal(
	    acme_store_eab_add(db, "e2", "hmac2", "conn", NULL, 5, 400), 1);
	/* the same kid twice: refused */
	assert_int_equal(
	    acme_store_eab_add(db, "e2", "x", "conn", NULL, 0, 500), -1);
	assert_int_equal(count("SELECT count(*) AS n FROM audit WHERE event ="
	                       " 'eab.add'"),
	    2);
	assert_int_equal(acme_store_eab_each(db, see_eab, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.kids[0], "e1");
	assert_int_equal(s.values[0], 100); /* account k1, any number */
	assert_string_equal(s.kids[1], "e2");
	assert_int_equal(s.values[1], 5);
	assert_int_equal(acme_store_eab_remove(db, "e2"), 1);
	assert_int_equal(acme_store_eab_remove(db, "e2"), 0);
	acme_db_inject_fault(db, "FROM eab_keys e ORDER", 1);
	assert_int_equal(acme_store_eab_each(db, see_eab, &s), -1);
	acme_db_inject_fault(db, "DELETE FROM eab_keys", 1);
	assert_int_equal(acme_store_eab_remove(db, "e1"), -1);
}

static void
see_account(const struct acme_account *a, void *arg)
{
	note(arg, a->kid, a->status);
}

static void
test_accounts(void **state)
{
	struct acme_account a;
	struct seen s = {0};

	(void)state;
	assert_int_equal(acme_store_account(db, "k1", &a), ACME_FOUND);
	assert_int_equal(a.id, 1);
	assert_int_equal(a.status, ACME_ACCT_VALID);
	assert_int_equal(a.created, 100);
	assert_int_equal(a.tos_agreed, 1);
	assert_string_equal(a.eab_kid, "e1");
	assert_string_equal(a.thumbprint, "t1");
	assert_int_equal(a.orders, 1);
	assert_string_equal(a.contact, "[\"mailto:a@example.com\"]");
	assert_string_equal(a.jwk, "{\"kty\":\"EC\"}");
	acme_account_clear(&a);
	assert_int_equal(acme_store_account(db, "nope", &a), ACME_NONE);
	acme_db_inject_fault(db, "FROM accounts a", 1);
	assert_int_equal(acme_store_account(db, "k1", &a), ACME_ERR);

	assert_int_equal(acme_store_account_each(db, see_account, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.kids[0], "k1");
	assert_string_equal(s.kids[1], "k2");
	assert_int_equal(s.values[1], ACME_ACCT_DEACTIVATED);

	/* by EAB kid: k1 and its valid authorization go, with an audit row;
	 * the deactivated k2 is not touched again */
	assert_int_equal(
	    acme_store_accounts_deactivate(db, 1, "e1", "why", 700), 1);
	assert_int_equal(acme_store_account(db, "k1", &a), ACME_FOUND);
	assert_int_equal(a.status, ACME_ACCT_DEACTIVATED);
	acme_account_clear(&a);
	assert_int_equal(count("SELECT count(*) AS n FROM authzs WHERE status ="
	                       " 'deactivated'"),
	    1);
	assert_int_equal(count("SELECT count(*) AS n FROM audit WHERE event ="
	                       " 'account.deactivated' AND ref = 'k1' AND"
	                       " detail = 'why' AND ts = 700"),
	    1);
	/* again: nothing left to do */
	assert_int_equal(
	    acme_store_accounts_deactivate(db, 1, "e1", "why", 701), 0);
	assert_int_equal(
	    acme_store_accounts_deactivate(db, 0, "k2", "w", 702), 0);
	acme_db_inject_fault(db, "'account.deactivated'", 1);
	assert_int_equal(
	    acme_store_accounts_deactivate(db, 0, "k1", "w", 703), -1);
}

static void
test_jobs(void **state)
{
	struct acme_job j[4];

	(void)state;
	assert_int_equal(acme_job_add(db, "validate", 1, 0, 10), 0);
	assert_int_equal(acme_job_add(db, "enroll", 1, 0, 20), 0);
	assert_int_equal(acme_job_add(db, "revoke", 1, 4, 30), 0);
	/* due by next_run (ms), oldest first, bounded by max */
	assert_int_equal(acme_jobs_due(db, 9999, j, 4), 0);
	assert_int_equal(acme_jobs_due(db, 20000, j, 4), 2);
	assert_string_equal(j[0].kind, "validate");
	assert_string_equal(j[1].kind, "enroll");
	assert_int_equal(j[1].created, 20);
	assert_int_equal(acme_jobs_due(db, 99999, j, 1), 1);
	assert_int_equal(acme_jobs_due(db, 99999, j, 0), 0);
	/* pools */
	assert_int_equal(
	    acme_jobs_due_pool(db, 99999, ACME_POOL_VALIDATE, j, 4), 1);
	assert_string_equal(j[0].kind, "validate");
	assert_int_equal(acme_jobs_due_pool(db, 99999, ACME_POOL_CA, j, 4), 2);
	assert_string_equal(j[1].kind, "revoke");
	assert_int_equal(j[1].arg, 4);
	/* retry: later, one attempt more, audited */
	assert_int_equal(acme_job_retry(db, j[0].id, 500000, "busy", 40), 0);
	assert_int_equal(acme_jobs_due_pool(db, 99999, ACME_POOL_CA, j, 4), 1);
	assert_int_equal(acme_jobs_due_pool(db, 500000, ACME_POOL_CA, j, 4), 2);
	assert_int_equal(j[1].attempts, 1);
	assert_int_equal(count("SELECT count(*) AS n FROM audit WHERE event ="
	                       " 'job.retry' AND detail = 'busy'"),
	    1);
	/* purge: finished and old only */
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE jobs SET state = 'done', updated = 50"
	                     " WHERE kind = 'validate'",
	                     NULL),
	    1);
	assert_int_equal(acme_jobs_purge(db, 50), 0);
	assert_int_equal(acme_jobs_purge(db, 51), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM jobs"), 2);
	/* errors are errors */
	acme_db_inject_fault(db, "FROM jobs WHERE state = 'queued'", 1);
	assert_int_equal(acme_jobs_due(db, 999999, j, 4), -1);
	acme_db_inject_fault(db, "INSERT INTO jobs", 1);
	assert_int_equal(acme_job_add(db, "validate", 1, 0, 10), -1);
	acme_db_inject_fault(db, "UPDATE jobs SET next_run", 1);
	assert_int_equal(acme_job_retry(db, j[0].id, 1, "x", 41), -1);
	assert_int_equal(count("SELECT count(*) AS n FROM audit WHERE event ="
	                       " 'job.retry'"),
	    1);
}

/* The single statements acme/state.c composes. */
static void
test_state_changes(void **state)
{
	struct acme_chall_state ch;
	struct acme_cert_new c = {
	    .crt_id = "x2",
	    .order_id = 1,
	    .account_id = 1,
	    .serial_hex = "02",
	    .spki_sha256 = "s2",
	    .chain_pem = "PEM2",
	    .not_before = 1,
	    .not_after = 2,
	    .connector = "conn",
	    .ca_ref = "ssl-8",
	    .created = 300,
	};
	long long id;

	(void)state;
	assert_int_equal(acme_store_chall_state(db, 1, &ch), ACME_FOUND);
	assert_int_equal(ch.status, ACME_CHALL_PROCESSING);
	assert_int_equal(ch.authz_id, 1);
	assert_int_equal(ch.authz_status, ACME_AUTHZ_VALID);
	assert_int_equal(ch.authz_expires, 999);
	assert_string_equal(ch.id_value, "a.example");
	assert_string_equal(ch.id_type, "dns");
	assert_int_equal(acme_store_chall_state(db, 5, &ch), ACME_NONE);
	acme_db_inject_fault(db, "FROM challenges c JOIN authzs a ON a.id", 1);
	assert_int_equal(acme_store_chall_state(db, 1, &ch), ACME_ERR);

	/* challenge, authorization, orders */
	assert_int_equal(acme_store_chall_valid(db, 1, 400), 1);
	assert_int_equal(count("SELECT validated AS n FROM challenges"), 400);
	assert_int_equal(acme_store_chall_invalid(db, 1, "{}"), 1);
	assert_int_equal(acme_store_authz_invalid(db, 1), 1);
	assert_int_equal(acme_store_authz_valid(db, 1, 5000), 1);
	assert_int_equal(count("SELECT expires AS n FROM authzs"), 5000);
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO order_authzs(order_id, authz_id)"
	                     " VALUES (1, 1)",
	                     NULL),
	    1);
	assert_int_equal(
	    acme_db_exec(db, "UPDATE orders SET status = 'pending'", NULL), 1);
	assert_int_equal(acme_store_orders_ready(db, 1, 410), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM orders WHERE status"
	                       " = 'ready' AND updated = 410"),
	    1);
	assert_int_equal(
	    acme_store_orders_invalidate(db, 1, "{\"e\":1}", 420), 1);
	assert_int_equal(acme_store_orders_invalidate(db, 1, "{}", 421), 0);
	assert_int_equal(
	    acme_db_exec(db, "UPDATE orders SET status = 'processing'", NULL),
	    1);

	/* enrollment and issuance */
	assert_int_equal(acme_store_order_sending(db, 1, 430), 1);
	assert_int_equal(acme_store_order_enrolled(db, 1, "ssl-8", 440), 1);
	assert_int_equal(
	    count("SELECT enroll_state AS n FROM orders WHERE ca_ref ="
	          " 'ssl-8'"),
	    ACME_ENROLL_ENROLLED);
	id = acme_store_cert_add(db, &c);
	assert_true(id > 1);
	assert_int_equal(acme_store_cert_add(db, &c), -1); /* same crt_id */
	assert_int_equal(acme_store_order_issued(db, 1, id, 450), 1);
	assert_int_equal(count("SELECT cert_id AS n FROM orders WHERE status ="
	                       " 'valid'"),
	    id);
	assert_int_equal(acme_store_order_fail(db, 1, "{}", 460), 0);
	assert_int_equal(acme_store_cert_revoked(db, id, 1), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM certificates WHERE"
	                       " status = 'revoked'"),
	    1);
	assert_int_equal(acme_store_cert_revoked(db, id, 0), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM certificates WHERE"
	                       " status = 'revoked'"),
	    0);

	/* jobs and audit */
	assert_int_equal(acme_job_add(db, "enroll", 1, 0, 10), 0);
	id = count("SELECT max(id) AS n FROM jobs");
	assert_int_equal(acme_store_job_attempted(db, id, 11), 1);
	assert_int_equal(acme_store_job_to_collect(db, id, 12), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM jobs WHERE kind ="
	                       " 'collect' AND attempts = 0 AND next_run ="
	                       " 12000"),
	    1);
	assert_int_equal(acme_store_job_finish(db, id, 1, "why", 13), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM jobs WHERE state ="
	                       " 'failed' AND last_error = 'why'"),
	    1);
	assert_int_equal(acme_store_audit(db, 14, "e", "r", NULL), 1);
	acme_db_inject_fault(db, "UPDATE orders SET ca_ref", 1);
	assert_int_equal(acme_store_order_enrolled(db, 1, "x", 1), -1);
}

/* Retention drops what no one can use any more, and nothing else. */
static void
test_purge(void **state)
{
	(void)state;
	/* order 1 has a certificate: kept; an invalid old order and an
	 * expired unused authorization go */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO orders(id, oid, account_id, status,"
	                     " expires, identifiers, connector, created,"
	                     " updated) VALUES (2, 'o2', 1, 'invalid', 50,"
	                     " '[]', 'conn', 10, 10)",
	                     NULL),
	    1);
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO authzs(id, aid, account_id, id_type,"
	                     " id_value, wildcard, status, expires, created)"
	                     " VALUES (2, 'a2', 1, 'dns', 'b.example', 0,"
	                     " 'pending', 20, 10)",
	                     NULL),
	    1);
	acme_store_audit(db, 5, "old", "r", "");
	assert_int_equal(acme_store_purge(db, 15, 0), 1);   /* the order */
	assert_int_equal(acme_store_purge(db, 1000, 0), 2); /* the authzs */
	assert_int_equal(count("SELECT count(*) AS n FROM orders"), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM authzs"), 0);
	assert_int_equal(count("SELECT count(*) AS n FROM challenges"), 0);
	assert_int_equal(count("SELECT count(*) AS n FROM audit"), 1);
	assert_int_equal(acme_store_purge(db, 1000, 6), 0);
	assert_int_equal(count("SELECT count(*) AS n FROM audit"), 0);
	acme_db_inject_fault(db, "DELETE FROM orders WHERE id IN", 1);
	assert_int_equal(acme_store_purge(db, 1000, 0), -1);
}

/* New objects, created pending, and finalize's guard. */
static void
test_new_objects(void **state)
{
	struct acme_account_new a = {
	    .kid = "k3",
	    .jwk = "{}",
	    .thumbprint = "t3",
	    .connector = "conn",
	    .created = 500,
	};
	struct acme_account got;
	long long acct, order, authz, chall;

	(void)state;
	acct = acme_store_account_add(db, &a);
	assert_true(acct > 2);
	assert_int_equal(acme_store_account_add(db, &a), -1); /* same kid */
	assert_int_equal(acme_store_account(db, "k3", &got), ACME_FOUND);
	assert_int_equal(got.status, ACME_ACCT_VALID);
	assert_string_equal(got.contact, "[]");
	assert_string_equal(got.eab_kid, "");
	acme_account_clear(&got);
	order = acme_store_order_add(db, "o3", acct, 900, "[]", "conn", 500);
	authz = acme_store_authz_add(
	    db, "a3", acct, "dns", "c.example", 1, 900, 500);
	chall = acme_store_chall_add(db, "c3", authz, "dns-01", "tok3");
	assert_true(order > 1 && authz > 1 && chall > 1);
	assert_int_equal(acme_store_order_authz_link(db, order, authz), 1);
	assert_int_equal(acme_store_order_authz_link(db, order, authz), 0);
	assert_int_equal(count("SELECT count(*) AS n FROM authzs WHERE"
	                       " status = 'pending' AND wildcard = 1"),
	    1);
	assert_int_equal(count("SELECT count(*) AS n FROM challenges WHERE"
	                       " status = 'pending' AND type = 'dns-01'"),
	    1);
	/* finalize: only a ready, unexpired order, once */
	assert_int_equal(acme_store_order_finalize(db, order, "CSR3", 600), 0);
	assert_int_equal(acme_store_chall_valid(db, chall, 600), 1);
	assert_int_equal(acme_store_authz_valid(db, authz, 950), 1);
	assert_int_equal(acme_store_orders_ready(db, authz, 600), 1);
	assert_int_equal(acme_store_order_finalize(db, order, "CSR3", 901), 0);
	assert_int_equal(acme_store_order_finalize(db, order, "CSR3", 600), 1);
	assert_int_equal(acme_store_order_finalize(db, order, "CSR3", 601), 0);
	assert_int_equal(count("SELECT count(*) AS n FROM orders WHERE status"
	                       " = 'processing' AND csr_pem = 'CSR3'"),
	    1);
	/* scratch-only helpers */
	assert_int_equal(acme_job_add(db, "validate", chall, 0, 1), 0);
	assert_int_equal(acme_store_jobs_finish_all(db, 2), 1);
	assert_int_equal(acme_store_unsynced(db), 0);
	acme_db_inject_fault(db, "INSERT INTO orders(oid", 1);
	assert_int_equal(
	    acme_store_order_add(db, "o4", acct, 900, "[]", "conn", 500), -1);
}

/* The request path's account operations. */
static void
test_proto_accounts(void **state)
{
	struct acme_account a;
	struct acme_eab e;
	long long bound;

	(void)state;
	assert_int_equal(acme_store_account_auth(db, "k1", &a), ACME_FOUND);
	assert_int_equal(a.id, 1);
	assert_int_equal(a.status, ACME_ACCT_VALID);
	assert_int_equal(a.orders, 0); /* not counted on this path */
	assert_string_equal(a.jwk, "{\"kty\":\"EC\"}");
	acme_account_clear(&a);
	assert_int_equal(acme_store_account_auth(db, "nope", &a), ACME_NONE);
	assert_int_equal(acme_store_account_by_id(db, 2, &a), ACME_FOUND);
	assert_int_equal(a.status, ACME_ACCT_DEACTIVATED);
	acme_account_clear(&a);
	assert_int_equal(acme_store_account_by_thumb(db, "t1", &a), ACME_FOUND);
	assert_string_equal(a.kid, "k1");
	acme_account_clear(&a);
	assert_int_equal(acme_store_account_by_thumb(db, "tx", &a), ACME_NONE);
	acme_db_inject_fault(db, "FROM accounts a WHERE a.thumbprint", 1);
	assert_int_equal(acme_store_account_by_thumb(db, "t1", &a), ACME_ERR);
	acme_db_inject_fault(db, "FROM accounts a WHERE a.kid", 1);
	assert_int_equal(acme_store_account_auth(db, "k1", &a), ACME_ERR);

	assert_int_equal(acme_store_account_contact(db, 1, "[]"), 1);
	assert_int_equal(
	    acme_store_account_key(db, 1, "{\"kty\":\"OKP\"}", "t9"), 1);
	/* a thumbprint is one account's: the second taker fails */
	assert_int_equal(acme_store_account_key(db, 2, "{}", "t9"), -1);
	assert_int_equal(acme_store_account_by_thumb(db, "t9", &a), ACME_FOUND);
	assert_string_equal(a.contact, "[]");
	acme_account_clear(&a);
	assert_int_equal(acme_store_account_deactivate(db, 1), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM authzs WHERE status ="
	                       " 'deactivated'"),
	    1);

	assert_int_equal(acme_store_eab_get(db, "e1", &e), ACME_NONE);
	assert_int_equal(
	    acme_store_eab_add(db, "e1", "aGk", "conn", "", 3, 1), 1);
	assert_int_equal(acme_store_eab_get(db, "e1", &e), ACME_FOUND);
	assert_string_equal(e.hmac_key, "aGk");
	assert_int_equal(e.max_accounts, 3);
	bound = acme_store_eab_bound(db, "e1");
	assert_int_equal(bound, 1); /* account 1 carries eab_kid e1 */
	acme_db_inject_fault(db, "FROM eab_keys WHERE kid", 1);
	assert_int_equal(acme_store_eab_get(db, "e1", &e), ACME_ERR);
	acme_db_inject_fault(db, "FROM accounts WHERE eab_kid", 1);
	assert_int_equal(acme_store_eab_bound(db, "e1"), -1);
}

static void
collect_oid(long long id, const char *oid, void *arg)
{
	(void)id;
	(void)oid;
	(*(int *)arg)++;
}

static void
collect_aid(const char *aid, void *arg)
{
	assert_string_equal(aid, "a1");
	(*(int *)arg)++;
}

static void
count_chall(const struct acme_chall *ch, void *arg)
{
	assert_string_equal(ch->cid, "c1");
	assert_int_equal(ch->status, ACME_CHALL_PROCESSING);
	(*(int *)arg)++;
}

/* Orders, authorizations, challenges, certificates as the handlers read
 * and change them. */
static void
test_proto_objects(void **state)
{
	struct acme_order o;
	struct acme_authz az;
	struct acme_chall ch;
	struct acme_cert crt;
	struct acme_job_state js;
	long long id;
	int n = 0;

	(void)state;
	assert_int_equal(acme_store_order_by_oid(db, "o1", &o), ACME_FOUND);
	assert_int_equal(o.expires, 999);
	assert_string_equal(o.crt_id, ""); /* cert_id not set */
	assert_null(o.error);
	acme_order_clear(&o);
	assert_int_equal(acme_store_order_by_oid(db, "zz", &o), ACME_NONE);
	assert_int_equal(
	    acme_store_account_orders(db, 1, 0, 10, collect_oid, &n), 1);
	assert_int_equal(acme_store_order_aids(db, 1, collect_aid, &n), 0);
	assert_int_equal(acme_store_order_authz_link(db, 1, 1), 1);
	n = 0;
	assert_int_equal(acme_store_order_aids(db, 1, collect_aid, &n), 1);
	assert_int_equal(n, 1);
	/* authz 1 valid until 999 */
	assert_int_equal(acme_store_order_lapsed(db, 1, 500), 0);
	assert_int_equal(acme_store_order_lapsed(db, 1, 1000), 1);
	assert_int_equal(acme_store_order_unfit(db, 1, 500), 0);
	assert_int_equal(acme_store_order_unfit(db, 1, 1000), 1);
	assert_int_equal(acme_store_pending_authzs(db, 1, 0), 0);
	assert_int_equal(
	    acme_store_authz_reusable(db, 1, "dns", "a.example", 0, 500, &id),
	    ACME_FOUND);
	assert_int_equal(id, 1);
	assert_int_equal(
	    acme_store_authz_reusable(db, 1, "dns", "a.example", 1, 500, &id),
	    ACME_NONE);
	assert_int_equal(acme_store_order_invalidate_ready(db, 1, 5), 0);

	assert_int_equal(acme_store_authz_by_aid(db, "a1", &az), ACME_FOUND);
	assert_int_equal(az.status, ACME_AUTHZ_VALID);
	assert_string_equal(az.id_value, "a.example");
	assert_int_equal(acme_store_authz_by_aid(db, "zz", &az), ACME_NONE);
	n = 0;
	assert_int_equal(acme_store_authz_challs(db, 1, count_chall, &n), 1);
	assert_int_equal(
	    acme_store_chall_by_cid(db, "c1", &ch, &az), ACME_FOUND);
	assert_int_equal(ch.authz_id, az.id);
	assert_int_equal(az.account_id, 1);
	acme_chall_clear(&ch);
	/* another processing challenge of the authz: none may start */
	assert_int_equal(acme_store_chall_start(db, 1, 1, 0), 0);
	assert_int_equal(
	    acme_store_authz_held(db, 1, "dns", "a.example", 500), ACME_FOUND);
	assert_int_equal(
	    acme_store_authz_held(db, 1, "dns", "a.example", 1000), ACME_NONE);
	assert_int_equal(acme_store_authz_deactivate(db, 1, 500), 1);
	assert_int_equal(acme_store_authz_deactivate(db, 1, 500), 0);

	assert_int_equal(acme_store_cert_by_crt_id(db, "x1", &crt), ACME_FOUND);
	assert_int_equal(crt.status, ACME_CERT_VALID);
	assert_string_equal(crt.chain_pem, "PEM");
	acme_cert_clear(&crt);
	assert_int_equal(
	    acme_store_cert_by_key(db, "01", "s", &crt), ACME_FOUND);
	assert_non_null(crt.identifiers);
	acme_cert_clear(&crt);
	assert_int_equal(
	    acme_store_cert_by_key(db, "02", "s", &crt), ACME_NONE);
	assert_int_equal(acme_store_cert_revoking(db, 1, 4), 1);
	assert_int_equal(acme_store_cert_revoking(db, 1, 4), 0);
	id = acme_store_job_add_id(db, "revoke", 1, 4, 10);
	assert_true(id > 0);
	{
		long long q;
		assert_int_equal(
		    acme_store_job_queued_for(db, "revoke", 1, &q), ACME_FOUND);
		assert_int_equal(q, id);
	}
	assert_int_equal(acme_store_job_state(db, id, &js), ACME_FOUND);
	assert_int_equal(js.state, ACME_JOB_QUEUED);
	assert_int_equal(acme_store_job_state(db, 99999, &js), ACME_NONE);

	acme_db_inject_fault(db, "o.cert_id WHERE o.oid", 1);
	assert_int_equal(acme_store_order_by_oid(db, "o1", &o), ACME_ERR);
	acme_db_inject_fault(db, "FROM authzs a WHERE a.aid", 1);
	assert_int_equal(acme_store_authz_by_aid(db, "a1", &az), ACME_ERR);
	acme_db_inject_fault(db, "JOIN authzs a ON a.id = c.authz_id", 1);
	assert_int_equal(acme_store_chall_by_cid(db, "c1", &ch, &az), ACME_ERR);
	acme_db_inject_fault(db, "c.crt_id = ?", 1);
	assert_int_equal(acme_store_cert_by_crt_id(db, "x1", &crt), ACME_ERR);
	acme_db_inject_fault(db, "FROM jobs WHERE id = ?", 1);
	assert_int_equal(acme_store_job_state(db, id, &js), ACME_ERR);
	acme_db_inject_fault(db, "count(*) FROM order_authzs", 1);
	assert_int_equal(acme_store_order_lapsed(db, 1, 5), -1);
}

/* The account operations' other outcomes: no such row, database errors,
 * and what each change leaves in the rows. */
static void
test_proto_account_outcomes(void **state)
{
	struct acme_account a;
	struct acme_eab e;

	(void)state;
	assert_int_equal(acme_store_account_by_id(db, 1, &a), ACME_FOUND);
	assert_string_equal(a.kid, "k1");
	assert_string_equal(a.thumbprint, "t1");
	assert_string_equal(a.eab_kid, "e1");
	assert_string_equal(a.connector, "conn");
	assert_string_equal(a.contact, "[\"mailto:a@example.com\"]");
	assert_int_equal(a.tos_agreed, 1);
	assert_null(a.eab_binding);
	acme_account_clear(&a);
	assert_int_equal(acme_store_account_by_id(db, 42, &a), ACME_NONE);
	assert_int_equal(a.id, 0);
	assert_null(a.jwk);
	acme_db_inject_fault(db, "FROM accounts a WHERE a.id", 1);
	assert_int_equal(acme_store_account_by_id(db, 1, &a), ACME_ERR);
	assert_null(a.jwk);

	/* contact and key: one row, none for an unknown account, -1 */
	assert_int_equal(
	    acme_store_account_contact(db, 2, "[\"mailto:b@x.example\"]"), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM accounts WHERE id = 2"
	                       " AND contact = '[\"mailto:b@x.example\"]'"),
	    1);
	assert_int_equal(acme_store_account_contact(db, 42, "[]"), 0);
	acme_db_inject_fault(db, "UPDATE accounts SET contact", 1);
	assert_int_equal(acme_store_account_contact(db, 1, "[]"), -1);
	assert_int_equal(count("SELECT count(*) AS n FROM accounts WHERE id = 1"
	                       " AND contact = '[]'"),
	    0);
	assert_int_equal(acme_store_account_key(db, 42, "{}", "t42"), 0);
	acme_db_inject_fault(db, "UPDATE accounts SET jwk", 1);
	assert_int_equal(acme_store_account_key(db, 1, "{}", "t8"), -1);
	assert_int_equal(acme_store_account_by_thumb(db, "t1", &a), ACME_FOUND);
	acme_account_clear(&a);

	/* deactivation takes pending and valid authorizations, not invalid
	 * ones, and nothing of other accounts */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO authzs(id, aid, account_id, id_type,"
	                     " id_value, wildcard, status, expires, created)"
	                     " VALUES (2, 'a2', 1, 'dns', 'b.example', 0,"
	                     " 'pending', 999, 100), (3, 'a3', 1, 'dns',"
	                     " 'c.example', 0, 'invalid', 999, 100), (4, 'a4',"
	                     " 2, 'dns', 'd.example', 0, 'valid', 999, 100)",
	                     NULL),
	    3);
	assert_int_equal(acme_store_account_deactivate(db, 42), 0);
	acme_db_inject_fault(db,
	    "UPDATE accounts SET status = 'deactivated'"
	    " WHERE id",
	    1);
	assert_int_equal(acme_store_account_deactivate(db, 1), -1);
	assert_int_equal(count("SELECT count(*) AS n FROM accounts WHERE"
	                       " status = 'deactivated'"),
	    1); /* only k2, from the setup */
	/* the authorizations' statement fails: -1 too (the caller rolls
	 * back the account's row) */
	acme_db_inject_fault(db, "WHERE account_id = ? AND status IN", 1);
	assert_int_equal(acme_store_account_deactivate(db, 1), -1);
	assert_int_equal(acme_store_account_deactivate(db, 1), 1);
	assert_int_equal(acme_store_account_by_id(db, 1, &a), ACME_FOUND);
	assert_int_equal(a.status, ACME_ACCT_DEACTIVATED);
	acme_account_clear(&a);
	assert_int_equal(count("SELECT count(*) AS n FROM authzs WHERE"
	                       " account_id = 1 AND status = 'deactivated'"),
	    2);
	assert_int_equal(count("SELECT count(*) AS n FROM authzs WHERE id = 3"
	                       " AND status = 'invalid'"),
	    1);
	assert_int_equal(count("SELECT count(*) AS n FROM authzs WHERE id = 4"
	                       " AND status = 'valid'"),
	    1);

	/* EAB key fields; bound counts deactivated accounts too */
	assert_int_equal(
	    acme_store_eab_add(db, "e1", "aGk", "conn2", NULL, 0, 1), 1);
	assert_int_equal(acme_store_eab_get(db, "e1", &e), ACME_FOUND);
	assert_string_equal(e.kid, "e1");
	assert_string_equal(e.connector, "conn2");
	assert_int_equal(e.max_accounts, 0);
	assert_int_equal(acme_store_eab_get(db, "e9", &e), ACME_NONE);
	assert_string_equal(e.hmac_key, "");
	assert_int_equal(acme_store_eab_bound(db, "e1"), 1);
	assert_int_equal(acme_store_eab_bound(db, "e9"), 0);
}

static void
page_order(long long id, const char *oid, void *arg)
{
	note(arg, oid, id);
}

/* The orders list is paged by row id. */
static void
test_proto_account_orders(void **state)
{
	struct seen p = {0};

	(void)state;
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO orders(id, oid, account_id, status,"
	                     " expires, identifiers, connector, created,"
	                     " updated) VALUES (2, 'o2', 1, 'pending', 999,"
	                     " '[]', 'conn', 100, 100), (3, 'o3', 2, 'pending',"
	                     " 999, '[]', 'conn', 100, 100), (4, 'o4', 1,"
	                     " 'pending', 999, '[]', 'conn', 100, 100)",
	                     NULL),
	    3);
	assert_int_equal(
	    acme_store_account_orders(db, 1, 0, 2, page_order, &p), 2);
	assert_int_equal(p.values[0], 1);
	assert_string_equal(p.kids[0], "o1");
	assert_int_equal(p.values[1], 2);
	assert_string_equal(p.kids[1], "o2");
	memset(&p, 0, sizeof(p));
	assert_int_equal(
	    acme_store_account_orders(db, 1, 2, 2, page_order, &p), 1);
	assert_int_equal(p.values[0], 4); /* o3 is account 2's */
	assert_string_equal(p.kids[0], "o4");
	memset(&p, 0, sizeof(p));
	assert_int_equal(
	    acme_store_account_orders(db, 1, 4, 2, page_order, &p), 0);
	assert_int_equal(
	    acme_store_account_orders(db, 42, 0, 2, page_order, &p), 0);
	assert_int_equal(p.n, 0);
	acme_db_inject_fault(db, "FROM orders WHERE account_id = ? AND id", 1);
	assert_int_equal(
	    acme_store_account_orders(db, 1, 0, 2, page_order, &p), -1);
	assert_int_equal(p.n, 0);
}

/* Order lookups and changes of the order handlers, each outcome. */
static void
test_proto_order_outcomes(void **state)
{
	struct acme_order o;
	long long id;
	int n = 0;

	(void)state;
	/* an issued order names its certificate; a failed one its error */
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE orders SET status = 'invalid', cert_id ="
	                     " 1, error = '{\"type\":\"x\"}' WHERE id = 1",
	                     NULL),
	    1);
	assert_int_equal(acme_store_order_by_oid(db, "o1", &o), ACME_FOUND);
	assert_int_equal(o.id, 1);
	assert_int_equal(o.status, ACME_ORDER_INVALID);
	assert_string_equal(o.crt_id, "x1");
	assert_string_equal(o.error, "{\"type\":\"x\"}");
	acme_order_clear(&o);
	assert_null(o.error);
	assert_int_equal(acme_store_order_by_oid(db, "zz", &o), ACME_NONE);
	assert_int_equal(o.id, 0);
	assert_null(o.identifiers);

	/* authorizations of the order */
	assert_int_equal(acme_store_order_aids(db, 42, collect_aid, &n), 0);
	acme_db_inject_fault(db, "SELECT a.aid FROM order_authzs", 1);
	assert_int_equal(acme_store_order_aids(db, 1, collect_aid, &n), -1);
	assert_int_equal(n, 0);
	assert_int_equal(acme_store_order_authz_link(db, 1, 1), 1);
	acme_db_inject_fault(db, "(a.status != 'valid' OR", 1);
	assert_int_equal(acme_store_order_unfit(db, 1, 500), -1);
	/* an invalid authorization is unfit whatever its expiry; lapsed
	 * counts only pending and valid ones */
	assert_int_equal(
	    acme_db_exec(db, "UPDATE authzs SET status = 'invalid'", NULL), 1);
	assert_int_equal(acme_store_order_unfit(db, 1, 500), 1);
	assert_int_equal(acme_store_order_lapsed(db, 1, 1000), 0);
	assert_int_equal(acme_store_order_unfit(db, 42, 500), 0);

	/* pending authorizations: unexpired only, the account's only */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO authzs(id, aid, account_id, id_type,"
	                     " id_value, wildcard, status, expires, created)"
	                     " VALUES (2, 'a2', 1, 'dns', 'b.example', 0,"
	                     " 'pending', 900, 100)",
	                     NULL),
	    1);
	assert_int_equal(acme_store_pending_authzs(db, 1, 500), 1);
	assert_int_equal(acme_store_pending_authzs(db, 1, 900), 0);
	assert_int_equal(acme_store_pending_authzs(db, 2, 500), 0);
	acme_db_inject_fault(db, "status = 'pending' AND expires > ?", 1);
	assert_int_equal(acme_store_pending_authzs(db, 1, 500), -1);

	/* set_ready, then invalidate_ready: ready only */
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE orders SET status = 'pending', updated ="
	                     " 100",
	                     NULL),
	    1);
	assert_int_equal(acme_store_order_invalidate_ready(db, 1, 5), 0);
	assert_int_equal(acme_store_order_set_ready(db, 1), 1);
	assert_int_equal(acme_store_order(db, 1, &o), ACME_FOUND);
	assert_int_equal(o.status, ACME_ORDER_READY);
	acme_order_clear(&o);
	assert_int_equal(acme_store_order_set_ready(db, 42), 0);
	acme_db_inject_fault(db, "SET status = 'ready' WHERE id", 1);
	assert_int_equal(acme_store_order_set_ready(db, 1), -1);
	acme_db_inject_fault(db, "updated = ? WHERE id = ? AND status", 1);
	assert_int_equal(acme_store_order_invalidate_ready(db, 1, 5), -1);
	assert_int_equal(acme_store_order_invalidate_ready(db, 1, 7), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM orders WHERE id = 1"
	                       " AND status = 'invalid' AND updated = 7"),
	    1);
	assert_int_equal(acme_store_order_invalidate_ready(db, 1, 8), 0);

	/* reuse: the account's valid authorization of that exact name and
	 * wildcard flag lasting past min_expires, the newest */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO authzs(id, aid, account_id, id_type,"
	                     " id_value, wildcard, status, expires, created)"
	                     " VALUES (5, 'a5', 1, 'dns', 'e.example', 0,"
	                     " 'valid', 800, 100), (6, 'a6', 1, 'dns',"
	                     " 'e.example', 0, 'valid', 950, 100), (7, 'a7', 2,"
	                     " 'dns', 'e.example', 0, 'valid', 990, 100)",
	                     NULL),
	    3);
	assert_int_equal(
	    acme_store_authz_reusable(db, 1, "dns", "e.example", 0, 500, &id),
	    ACME_FOUND);
	assert_int_equal(id, 6);
	assert_int_equal(
	    acme_store_authz_reusable(db, 1, "dns", "e.example", 0, 950, &id),
	    ACME_NONE);
	assert_int_equal(id, 0);
	assert_int_equal(
	    acme_store_authz_reusable(db, 1, "ip", "e.example", 0, 500, &id),
	    ACME_NONE);
	/* authz 1 is invalid now: not reused */
	assert_int_equal(
	    acme_store_authz_reusable(db, 1, "dns", "a.example", 0, 500, &id),
	    ACME_NONE);
	acme_db_inject_fault(db, "expires > ? ORDER BY expires DESC", 1);
	assert_int_equal(
	    acme_store_authz_reusable(db, 1, "dns", "e.example", 0, 500, &id),
	    ACME_ERR);
	assert_int_equal(id, 0);
}

static void
see_chall(const struct acme_chall *ch, void *arg)
{
	note(arg, ch->cid, ch->status);
}

/* Authorizations and challenges as their handlers read and change them. */
static void
test_proto_authz_outcomes(void **state)
{
	struct acme_authz az;
	struct acme_chall ch;
	struct seen s = {0};

	(void)state;
	assert_int_equal(acme_store_authz_by_aid(db, "a1", &az), ACME_FOUND);
	assert_int_equal(az.id, 1);
	assert_string_equal(az.aid, "a1");
	assert_int_equal(az.account_id, 1);
	assert_string_equal(az.id_type, "dns");
	assert_int_equal(az.wildcard, 0);
	assert_int_equal(az.expires, 999);
	assert_int_equal(az.created, 100);
	assert_int_equal(acme_store_authz_by_aid(db, "zz", &az), ACME_NONE);
	assert_int_equal(az.id, 0);
	assert_string_equal(az.aid, "");

	/* a pending authorization with two pending challenges, linked to a
	 * pending order */
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO authzs(id, aid, account_id, id_type,"
	                     " id_value, wildcard, status, expires, created)"
	                     " VALUES (2, 'a2', 1, 'dns', 'b.example', 1,"
	                     " 'pending', 900, 100)",
	                     NULL),
	    1);
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO challenges(id, cid, authz_id, type,"
	                     " token, status) VALUES (2, 'c2', 2, 'http-01',"
	                     " 't2', 'pending'), (3, 'c3', 2, 'dns-01', 't3',"
	                     " 'pending')",
	                     NULL),
	    2);
	assert_int_equal(
	    acme_db_exec(db, "UPDATE orders SET status = 'pending'", NULL), 1);
	assert_int_equal(acme_store_order_authz_link(db, 1, 2), 1);

	assert_int_equal(acme_store_authz_challs(db, 2, see_chall, &s), 2);
	assert_string_equal(s.kids[0], "c2");
	assert_string_equal(s.kids[1], "c3");
	assert_int_equal(s.values[1], ACME_CHALL_PENDING);
	memset(&s, 0, sizeof(s));
	assert_int_equal(acme_store_authz_challs(db, 42, see_chall, &s), 0);
	acme_db_inject_fault(db, "FROM challenges c WHERE c.authz_id", 1);
	assert_int_equal(acme_store_authz_challs(db, 2, see_chall, &s), -1);
	assert_int_equal(s.n, 0);

	assert_int_equal(
	    acme_store_chall_by_cid(db, "c3", &ch, &az), ACME_FOUND);
	assert_int_equal(ch.id, 3);
	assert_string_equal(ch.type, "dns-01");
	assert_string_equal(ch.token, "t3");
	assert_int_equal(ch.validated, 0);
	assert_null(ch.error);
	assert_string_equal(az.aid, "a2");
	assert_int_equal(az.wildcard, 1);
	assert_int_equal(az.status, ACME_AUTHZ_PENDING);
	acme_chall_clear(&ch);
	assert_int_equal(
	    acme_store_chall_by_cid(db, "zz", &ch, &az), ACME_NONE);
	assert_int_equal(ch.id, 0);
	assert_int_equal(az.id, 0);

	/* start: a pending challenge only, one at a time, only before the
	 * expiry */
	assert_int_equal(acme_store_chall_start(db, 2, 2, 901), 0);
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE challenges SET status = 'invalid' WHERE"
	                     " id = 3",
	                     NULL),
	    1);
	assert_int_equal(acme_store_chall_start(db, 3, 2, 500), 0);
	acme_db_inject_fault(
	    db, "UPDATE challenges SET status = 'processing'", 1);
	assert_int_equal(acme_store_chall_start(db, 2, 2, 500), -1);
	assert_int_equal(acme_store_chall_start(db, 2, 2, 500), 1);
	assert_int_equal(count("SELECT count(*) AS n FROM challenges WHERE id"
	                       " = 2 AND status = 'processing'"),
	    1);
	assert_int_equal(acme_store_chall_start(db, 2, 2, 500), 0);
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE challenges SET status = 'pending' WHERE"
	                     " id = 3",
	                     NULL),
	    1);
	assert_int_equal(acme_store_chall_start(db, 3, 2, 500), 0);

	/* deactivate: not once expired; the order waiting on it turns
	 * invalid; both statements' errors are errors */
	assert_int_equal(acme_store_authz_deactivate(db, 2, 901), 0);
	assert_int_equal(acme_store_authz_deactivate(db, 42, 500), 0);
	acme_db_inject_fault(db,
	    "UPDATE authzs SET status = 'deactivated'"
	    " WHERE id",
	    1);
	assert_int_equal(acme_store_authz_deactivate(db, 2, 500), -1);
	acme_db_inject_fault(db, "'ready') AND id IN (SELECT order_id", 1);
	assert_int_equal(acme_store_authz_deactivate(db, 2, 500), -1);
	assert_int_equal(acme_db_exec(db,
	                     "UPDATE authzs SET status = 'pending' WHERE id ="
	                     " 2",
	                     NULL),
	    1);
	assert_int_equal(acme_store_authz_deactivate(db, 2, 600), 1);
	assert_int_equal(acme_store_authz_by_aid(db, "a2", &az), ACME_FOUND);
	assert_int_equal(az.status, ACME_AUTHZ_DEACTIVATED);
	assert_int_equal(count("SELECT count(*) AS n FROM orders WHERE id = 1"
	                       " AND status = 'invalid' AND updated = 600"),
	    1);

	/* held: valid, unexpired, the account's */
	assert_int_equal(
	    acme_store_authz_held(db, 2, "dns", "a.example", 500), ACME_NONE);
	assert_int_equal(
	    acme_store_authz_held(db, 1, "dns", "b.example", 500), ACME_NONE);
	acme_db_inject_fault(db, "SELECT 1 FROM authzs WHERE account_id", 1);
	assert_int_equal(
	    acme_store_authz_held(db, 1, "dns", "a.example", 500), ACME_ERR);
}

/* Certificates, revocation and its job, each outcome. */
static void
test_proto_cert_outcomes(void **state)
{
	struct acme_cert crt;
	struct acme_job_state js;
	long long id, q;

	(void)state;
	assert_int_equal(acme_store_cert_by_crt_id(db, "x1", &crt), ACME_FOUND);
	assert_int_equal(crt.id, 1);
	assert_int_equal(crt.account_id, 1);
	assert_string_equal(crt.crt_id, "x1");
	assert_null(crt.identifiers);
	acme_cert_clear(&crt);
	assert_int_equal(acme_store_cert_by_crt_id(db, "zz", &crt), ACME_NONE);
	assert_int_equal(crt.id, 0);
	assert_null(crt.chain_pem);
	assert_int_equal(
	    acme_store_cert_by_key(db, "01", "s", &crt), ACME_FOUND);
	assert_string_equal(crt.crt_id, "x1");
	assert_string_equal(
	    crt.identifiers, "[{\"type\":\"dns\",\"value\":\"a.example\"}]");
	acme_cert_clear(&crt);
	assert_int_equal(
	    acme_store_cert_by_key(db, "01", "other", &crt), ACME_NONE);
	acme_db_inject_fault(db, "AND c.spki = ?", 1);
	assert_int_equal(acme_store_cert_by_key(db, "01", "s", &crt), ACME_ERR);
	assert_null(crt.identifiers);

	/* revoking: valid only, with the reason */
	acme_db_inject_fault(db, "SET status = 'revoking'", 1);
	assert_int_equal(acme_store_cert_revoking(db, 1, 4), -1);
	assert_int_equal(acme_store_cert_revoking(db, 42, 4), 0);
	assert_int_equal(acme_store_cert_revoking(db, 1, 5), 1);
	assert_int_equal(count("SELECT revoke_reason AS n FROM certificates"
	                       " WHERE status = 'revoking'"),
	    5);
	assert_int_equal(acme_store_cert_by_crt_id(db, "x1", &crt), ACME_FOUND);
	assert_int_equal(crt.status, ACME_CERT_REVOKING);
	acme_cert_clear(&crt);
	assert_int_equal(acme_store_cert_revoked(db, 1, 1), 1);
	assert_int_equal(acme_store_cert_by_crt_id(db, "x1", &crt), ACME_FOUND);
	assert_int_equal(crt.status, ACME_CERT_REVOKED);
	acme_cert_clear(&crt);

	/* the revoke job: the newest queued one of that kind and ref */
	assert_int_equal(
	    acme_store_job_queued_for(db, "revoke", 1, &q), ACME_NONE);
	assert_int_equal(q, 0);
	id = acme_store_job_add_id(db, "revoke", 1, 5, 10);
	assert_true(id > 0);
	assert_int_equal(acme_store_job_add_id(db, "revoke", 1, 5, 11), id + 1);
	assert_int_equal(count("SELECT count(*) AS n FROM jobs WHERE kind ="
	                       " 'revoke' AND ref = 1 AND arg = 5 AND state ="
	                       " 'queued'"),
	    2);
	assert_int_equal(
	    acme_store_job_queued_for(db, "revoke", 1, &q), ACME_FOUND);
	assert_int_equal(q, id + 1);
	assert_int_equal(
	    acme_store_job_queued_for(db, "enroll", 1, &q), ACME_NONE);
	assert_int_equal(
	    acme_store_job_queued_for(db, "revoke", 2, &q), ACME_NONE);
	acme_db_inject_fault(db, "FROM jobs WHERE kind = ? AND ref", 1);
	assert_int_equal(
	    acme_store_job_queued_for(db, "revoke", 1, &q), ACME_ERR);
	assert_int_equal(q, 0);
	acme_db_inject_fault(db, "INSERT INTO jobs", 1);
	assert_int_equal(acme_store_job_add_id(db, "revoke", 1, 5, 12), -1);

	/* its state for the deferred reply */
	assert_int_equal(acme_store_job_finish(db, id, 0, NULL, 20), 1);
	assert_int_equal(acme_store_job_state(db, id, &js), ACME_FOUND);
	assert_int_equal(js.state, ACME_JOB_DONE);
	assert_string_equal(js.last_error, "");
	assert_int_equal(
	    acme_store_job_finish(db, id + 1, 1, "refused", 21), 1);
	assert_int_equal(acme_store_job_state(db, id + 1, &js), ACME_FOUND);
	assert_int_equal(js.state, ACME_JOB_FAILED);
	assert_string_equal(js.last_error, "refused");
	assert_int_equal(
	    acme_store_job_queued_for(db, "revoke", 1, &q), ACME_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_words),
	    cmocka_unit_test_setup_teardown(test_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chall_target, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cert_ref, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eab, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_state_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_objects, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proto_accounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proto_objects, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proto_account_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proto_account_orders, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proto_order_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proto_authz_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_proto_cert_outcomes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
