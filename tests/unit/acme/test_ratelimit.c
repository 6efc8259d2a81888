/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/ratelimit: burst and refill of a GCRA bucket, the
 * Retry-After it computes, peek versus take, a full table failing closed
 * and registered domains from the public suffix list. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "acme/ratelimit.h"

static void
test_burst_then_refill(void **state)
{
	struct acme_ratelimiter *rl = acme_rl_new(16);
	struct acme_limit lim = {3, 3600}; /* 3 an hour: one per 20 min */
	long long t = 1000000;

	(void)state;
	assert_non_null(rl);
	assert_int_equal(acme_rl_take(rl, "k", &lim, t, 1), 0);
	assert_int_equal(acme_rl_take(rl, "k", &lim, t, 1), 0);
	assert_int_equal(acme_rl_take(rl, "k", &lim, t, 1), 0);
	/* the fourth waits for one interval: 1200 s */
	assert_int_equal(acme_rl_take(rl, "k", &lim, t, 1), 1200);
	/* a refusal takes nothing: still 1200 s, 1 s later 1199 s */
	assert_int_equal(acme_rl_take(rl, "k", &lim, t, 1), 1200);
	assert_int_equal(acme_rl_take(rl, "k", &lim, t + 1000, 1), 1199);
	/* other keys are separate buckets */
	assert_int_equal(acme_rl_take(rl, "other", &lim, t, 1), 0);
	/* after one interval exactly one more is allowed */
	assert_int_equal(acme_rl_take(rl, "k", &lim, t + 1200000, 1), 0);
	assert_true(acme_rl_take(rl, "k", &lim, t + 1200000, 1) > 0);
	acme_rl_free(rl);
}

static void
test_peek_and_cost(void **state)
{
	struct acme_ratelimiter *rl = acme_rl_new(16);
	struct acme_limit lim = {10, 60};
	long long t = 5000;

	(void)state;
	/* peek never takes */
	for (int i = 0; i < 100; i++)
		assert_int_equal(acme_rl_peek(rl, "p", &lim, t, 10), 0);
	/* more than the burst at once is never allowed */
	assert_true(acme_rl_take(rl, "p", &lim, t, 11) > 0);
	assert_int_equal(acme_rl_take(rl, "p", &lim, t, 10), 0);
	assert_int_equal(acme_rl_peek(rl, "p", &lim, t, 1), 6);
	acme_rl_free(rl);
}

static void
test_unlimited(void **state)
{
	struct acme_ratelimiter *rl = acme_rl_new(1);
	struct acme_limit off = {0, 3600};

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(acme_rl_take(rl, "x", &off, 0, 1), 0);
	assert_int_equal(acme_rl_take(rl, "x", NULL, 0, 1), 0);
	acme_rl_free(rl);
}

static void
test_full_table(void **state)
{
	struct acme_ratelimiter *rl = acme_rl_new(4);
	struct acme_limit lim = {1, 60};
	char key[32];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		assert_int_equal(acme_rl_take(rl, key, &lim, 0, 1), 0);
	}
	/* four busy buckets: a fifth key is refused, not forgotten */
	assert_true(acme_rl_take(rl, "key4", &lim, 0, 1) > 0);
	assert_true(acme_rl_take(rl, "key0", &lim, 0, 1) > 0);
	/* once they are idle again they are swept and room is made */
	assert_int_equal(acme_rl_take(rl, "key4", &lim, 61000, 1), 0);
	assert_int_equal(acme_rl_take(rl, "key5", &lim, 61000, 1), 0);
	acme_rl_free(rl);
}

static void
test_registered_domain(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(
	    acme_registered_domain("www.Example.co.uk", buf, sizeof(buf)),
	    "example.co.uk");
	assert_string_equal(
	    acme_registered_domain("a.b.example.test", buf, sizeof(buf)),
	    "example.test");
	assert_string_equal(
	    acme_registered_domain("*.example.com", buf, sizeof(buf)),
	    "example.com");
	assert_string_equal(
	    acme_registered_domain("example.com", buf, sizeof(buf)),
	    "example.com");
	/* a public suffix alone stays as it is */
	assert_string_equal(
	    acme_registered_domain("co.uk", buf, sizeof(buf)), "co.uk");
	assert_string_equal(
	    acme_registered_domain("localhost", buf, sizeof(buf)), "localhost");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_refill),
	    cmocka_unit_test(test_peek_and_cost),
	    cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_full_table),
	    cmocka_unit_test(test_registered_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
