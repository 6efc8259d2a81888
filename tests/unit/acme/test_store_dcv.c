/* SPDX-License-Identifier: Apache-2.0 */
/* The store's DCV tables and EAB pre-authorization: every operation, its
 * outcomes, fault injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/dcv.h"
#include "acme/store.h"

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
	return 0;
}

static long long
count(const char *sql)
{
	json_t *r = acme_db_one(db, sql, NULL);
	long long n = json_integer_value(json_object_get(r, "n"));

	json_decref(r);
	return n;
}

static void
test_runs(void **state)
{
	struct acme_dcv d;
	long long id;

	(void)state;
	assert_int_equal(
	    acme_dcv_latest(db, "example.com", "scm", &d), ACME_NONE);
	id = acme_dcv_add(db, "example.com", "scm", "txt", "order", 100);
	assert_true(id > 0);
	/* one live run per domain and connector: nothing added */
	assert_int_equal(
	    acme_dcv_add(db, "example.com", "scm", "txt", "order", 101), 0);
	assert_true(
	    acme_dcv_add(db, "example.com", "other", "txt", "cli", 101) > 0);
	assert_int_equal(count("SELECT count(*) AS n FROM jobs WHERE kind ="
	                       " 'dcv' AND state = 'queued'"),
	    2);
	assert_int_equal(acme_dcv_get(db, id, &d), ACME_FOUND);
	assert_string_equal(d.domain, "example.com");
	assert_int_equal(d.state, ACME_DCV_START);
	assert_string_equal(d.started_by, "order");
	assert_int_equal(
	    acme_dcv_set(db, id, ACME_DCV_PUBLISH, -1,
	        "_pki-validation.example.com", "v\\|;`", -1, 500, NULL, 102),
	    1);
	assert_int_equal(acme_dcv_set(db, id, ACME_DCV_CLEANUP, 0, NULL, NULL,
	                     -1, -1, "SCM said no", 103),
	    1);
	assert_int_equal(acme_dcv_get(db, id, &d), ACME_FOUND);
	assert_int_equal(d.state, ACME_DCV_CLEANUP);
	assert_string_equal(d.host, "_pki-validation.example.com");
	assert_string_equal(d.point, "v\\|;`"); /* kept: NULL keeps */
	assert_int_equal(d.deadline, 500);
	assert_int_equal(d.outcome_ok, 0);
	assert_string_equal(d.reason, "SCM said no");
	assert_int_equal(acme_dcv_set(db, id, ACME_DCV_FAILED, -1, NULL, NULL,
	                     -1, -1, NULL, 104),
	    1);
	/* the run is over: a new one may start */
	assert_true(
	    acme_dcv_add(db, "example.com", "scm", "cname", "order", 105) > id);
	assert_int_equal(
	    acme_dcv_latest(db, "example.com", "scm", &d), ACME_FOUND);
	assert_string_equal(d.method, "cname");
	assert_int_equal(acme_dcv_get(db, 9999, &d), ACME_NONE);
	assert_int_equal(acme_dcv_set(db, 9999, ACME_DCV_VALID, 1, NULL, NULL,
	                     1, -1, NULL, 1),
	    0);
	acme_db_inject_fault(db, "FROM dcv WHERE id", 1);
	assert_int_equal(acme_dcv_get(db, id, &d), ACME_ERR);
	acme_db_inject_fault(db, "INSERT INTO dcv", 1);
	assert_int_equal(
	    acme_dcv_add(db, "x.example", "scm", "txt", "cli", 1), -1);
	assert_int_equal(acme_dcv_state_of("poll"), ACME_DCV_POLL);
	assert_int_equal(acme_dcv_state_of("bogus"), ACME_DCV_UNKNOWN);
}

static void
count_run(const struct acme_dcv *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
}

static void
count_rec(const struct acme_dnsrec *r, int orphan, void *arg)
{
	int *n = arg;

	(void)r;
	n[0]++;
	n[1] += orphan;
}

static void
test_journal(void **state)
{
	struct acme_dnsrec r;
	long long run, rec, rec2;
	int n[2] = {0, 0}, runs = 0;

	(void)state;
	run = acme_dcv_add(db, "example.com", "scm", "txt", "order", 100);
	assert_int_equal(acme_dnsrec_of_dcv(db, run, &r), ACME_NONE);
	rec = acme_dnsrec_add(db, run, "bind", "example.com",
	    "_pki-validation.example.com", "TXT", "v1", 100);
	assert_true(rec > 0);
	assert_int_equal(acme_dnsrec_of_dcv(db, run, &r), ACME_FOUND);
	assert_int_equal(r.state, ACME_REC_PRESENTING);
	assert_int_equal(
	    acme_dnsrec_set(db, rec, ACME_REC_PRESENT, "id-7", NULL, 101), 1);
	assert_int_equal(acme_dnsrec_get(db, rec, &r), ACME_FOUND);
	assert_string_equal(r.handle, "id-7");
	/* the run is live: its record is no orphan, no sweep job */
	assert_int_equal(acme_dnsrec_sweep(db, 102), 0);
	assert_int_equal(acme_dnsrec_each(db, 1, 10, count_rec, n), 1);
	assert_int_equal(n[1], 0);
	/* the run ends with the record still out (a crash): orphan */
	assert_int_equal(acme_dcv_set(db, run, ACME_DCV_FAILED, 0, NULL, NULL,
	                     -1, -1, "x", 103),
	    1);
	assert_int_equal(acme_dnsrec_sweep(db, 104), 1);
	assert_int_equal(acme_dnsrec_sweep(db, 105), 0); /* queued once */
	assert_int_equal(count("SELECT count(*) AS n FROM jobs WHERE kind ="
	                       " 'dnsclean' AND ref = (SELECT max(id) FROM"
	                       " dns_records)"),
	    1);
	n[0] = n[1] = 0;
	assert_int_equal(acme_dnsrec_each(db, 1, 10, count_rec, n), 1);
	assert_int_equal(n[1], 1);
	assert_int_equal(
	    acme_dnsrec_set(db, rec, ACME_REC_GONE, NULL, NULL, 106), 1);
	assert_int_equal(acme_dnsrec_of_dcv(db, run, &r), ACME_NONE);
	n[0] = n[1] = 0;
	assert_int_equal(acme_dnsrec_each(db, 1, 10, count_rec, n), 0);
	assert_int_equal(acme_dnsrec_each(db, 0, 10, count_rec, n), 1);
	rec2 = acme_dnsrec_add(db, run, "bind", "example.com",
	    "_pki-validation.example.com", "TXT", "v2", 107);
	assert_true(rec2 > rec);
	assert_int_equal(acme_dcv_each(db, 10, count_run, &runs), 1);
	assert_int_equal(runs, 1);
	acme_db_inject_fault(db, "INSERT INTO dns_records", 1);
	assert_int_equal(
	    acme_dnsrec_add(db, run, "b", "z", "n", "TXT", "v", 1), -1);
	acme_db_inject_fault(db, "FROM dns_records WHERE id", 1);
	assert_int_equal(acme_dnsrec_get(db, rec, &r), ACME_ERR);
}

static void
count_dom(const struct acme_scm_domain *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
}

static void
test_domains(void **state)
{
	struct acme_scm_domain d = {0}, got;
	int n = 0;

	(void)state;
	snprintf(d.connector, sizeof(d.connector), "scm");
	snprintf(d.name, sizeof(d.name), "example.com");
	d.validated = 1;
	d.expires = 1000;
	d.checked = 10;
	assert_int_equal(acme_scmdom_put(db, &d), 1);
	snprintf(d.name, sizeof(d.name), "sub.example.com");
	d.expires = 5000;
	assert_int_equal(acme_scmdom_put(db, &d), 1);
	/* the longest cached domain covering the name, on label bounds */
	assert_int_equal(
	    acme_scmdom_covering(db, "scm", "a.sub.example.com", &got),
	    ACME_FOUND);
	assert_string_equal(got.name, "sub.example.com");
	assert_int_equal(
	    acme_scmdom_covering(db, "scm", "www.example.com", &got),
	    ACME_FOUND);
	assert_string_equal(got.name, "example.com");
	assert_int_equal(
	    acme_scmdom_covering(db, "scm", "badexample.com", &got), ACME_NONE);
	assert_int_equal(
	    acme_scmdom_covering(db, "other", "www.example.com", &got),
	    ACME_NONE);
	/* update in place */
	d.validated = 0;
	assert_int_equal(acme_scmdom_put(db, &d), 1);
	assert_int_equal(
	    acme_scmdom_covering(db, "scm", "sub.example.com", &got),
	    ACME_FOUND);
	assert_int_equal(got.validated, 0);
	/* expiring: validated, ending before 2000, no live run */
	assert_int_equal(acme_scmdom_expiring(db, 2000, 10, count_dom, &n), 1);
	acme_dcv_add(db, "example.com", "scm", "txt", "schedule", 1);
	n = 0;
	assert_int_equal(acme_scmdom_expiring(db, 2000, 10, count_dom, &n), 0);
	assert_int_equal(acme_scmdom_each(db, count_dom, &n), 2);
	acme_db_inject_fault(db, "FROM scm_domains WHERE connector", 1);
	assert_int_equal(
	    acme_scmdom_covering(db, "scm", "www.example.com", &got), ACME_ERR);
}

static void
test_wake_and_preauth(void **state)
{
	char pre[256];

	(void)state;
	assert_int_equal(acme_job_add(db, "enroll", 1, 0, 100), 0);
	assert_int_equal(
	    acme_job_retry(db, 1, 999999999999LL, "waiting", 100), 0);
	assert_int_equal(acme_jobs_wake_enroll(db, 5000), 1);
	assert_int_equal(
	    count("SELECT next_run AS n FROM jobs WHERE id = 1"), 5000);
	assert_int_equal(
	    acme_store_eab_add(db, "e1", "aGVsbG8", "scm", "", 0, 1), 1);
	assert_int_equal(acme_db_exec(db,
	                     "INSERT INTO accounts(id, kid, jwk, thumbprint,"
	                     " status, eab_kid, connector, created) VALUES"
	                     " (1, 'k1', '{}', 't1', 'valid', 'e1', 'scm', 1)",
	                     NULL),
	    1);
	assert_int_equal(
	    acme_store_account_preauth(db, 1, pre, sizeof(pre)), ACME_NONE);
	assert_int_equal(
	    acme_store_eab_set_preauth(db, "e1", "[\"*.example.com\"]"), 1);
	assert_int_equal(acme_store_eab_set_preauth(db, "nokey", "[]"), 0);
	assert_int_equal(
	    acme_store_account_preauth(db, 1, pre, sizeof(pre)), ACME_FOUND);
	assert_string_equal(pre, "[\"*.example.com\"]");
	assert_int_equal(
	    acme_store_account_preauth(db, 2, pre, sizeof(pre)), ACME_NONE);
	acme_db_inject_fault(db, "JOIN eab_keys e", 1);
	assert_int_equal(
	    acme_store_account_preauth(db, 1, pre, sizeof(pre)), ACME_ERR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_wake_and_preauth, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
