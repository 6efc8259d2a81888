/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the job pools of acme/state: validation jobs and CA jobs
 * (enroll, collect, revoke) are picked separately, so that a backlog of
 * one never hides the other. */
#include "tests/unit/acme/acmetest_util.h"

#include "acme/db.h"
#include "acme/state.h"

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

static void
add_job(const char *kind, long long ref, long long next_ms)
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
		add_job("validate", 100 + i, 1000 + i);
	add_job("enroll", 1, 5000);
	add_job("revoke", 2, 6000);
	add_job("collect", 3, 7000);

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_pools_are_separate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
