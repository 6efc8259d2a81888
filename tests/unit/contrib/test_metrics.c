/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for contrib/metrics: the path-to-endpoint map (attacker paths
 * land in "other"), bounded connector slots, counters from many threads,
 * and the rendered histogram lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contrib/metrics.h"

static void
test_endpoints(void **state)
{
	(void)state;
	assert_int_equal(mx_ep_of_path("/directory"), MX_EP_DIRECTORY);
	assert_int_equal(mx_ep_of_path("/"), MX_EP_DIRECTORY);
	assert_int_equal(mx_ep_of_path("/new-nonce"), MX_EP_NEWNONCE);
	assert_int_equal(mx_ep_of_path("/new-order"), MX_EP_NEWORDER);
	assert_int_equal(mx_ep_of_path("/new-account"), MX_EP_NEWACCOUNT);
	assert_int_equal(
	    mx_ep_of_path("/acme/sectigo/new-account"), MX_EP_NEWACCOUNT);
	assert_int_equal(mx_ep_of_path("/order/abc"), MX_EP_ORDER);
	assert_int_equal(mx_ep_of_path("/order/abc/finalize"), MX_EP_FINALIZE);
	assert_int_equal(mx_ep_of_path("/authz/x"), MX_EP_AUTHZ);
	assert_int_equal(mx_ep_of_path("/chall/x"), MX_EP_CHALLENGE);
	assert_int_equal(mx_ep_of_path("/cert/x"), MX_EP_CERTIFICATE);
	assert_int_equal(mx_ep_of_path("/cert/x/alt"), MX_EP_CERTIFICATE);
	assert_int_equal(mx_ep_of_path("/revoke-cert"), MX_EP_REVOKECERT);
	assert_int_equal(mx_ep_of_path("/key-change"), MX_EP_KEYCHANGE);
	assert_int_equal(mx_ep_of_path("/renewal-info/a.b"), MX_EP_RENEWALINFO);
	assert_int_equal(mx_ep_of_path("/acct/k/orders"), MX_EP_ACCOUNT);
	assert_int_equal(mx_ep_of_path("/directory?x=1"), MX_EP_DIRECTORY);
	/* anything else, however long or odd, is one series */
	assert_int_equal(mx_ep_of_path("/order/"), MX_EP_OTHER);
	assert_int_equal(mx_ep_of_path("/new-order/x"), MX_EP_OTHER);
	assert_int_equal(mx_ep_of_path("/\"}\n{x"), MX_EP_OTHER);
	assert_int_equal(mx_ep_of_path(""), MX_EP_OTHER);
	assert_int_equal(mx_ep_of_path("/-not-found"), MX_EP_OTHER);
}

static void
test_connector_slots(void **state)
{
	char name[32];
	int first;

	(void)state;
	first = mx_scm_id("slot-0");
	assert_true(first >= 0);
	assert_int_equal(mx_scm_id("slot-0"), first);
	for (int i = 1; i < MX_CONN_MAX + 5; i++) {
		snprintf(name, sizeof(name), "slot-%d", i);
		if (first + i < MX_CONN_MAX)
			assert_int_equal(mx_scm_id(name), first + i);
		else
			assert_int_equal(mx_scm_id(name), -1);
	}
	/* a full registry still finds the names it has */
	assert_int_equal(mx_scm_id("slot-0"), first);
	mx_scm_call(-1, MX_SCM_ENROLL, MX_OK, 0.1); /* no-op */
}

static void *
hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++)
		mx_http(MX_EP_NEWORDER, 201, 0.003);
	return NULL;
}

static char *
render(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	mx_render(f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void
test_threads_and_render(void **state)
{
	pthread_t th[4];
	char *text;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	mx_http(MX_EP_NEWORDER, 599, 2.0); /* not a code we send: "other" */
	text = render();
	assert_non_null(strstr(text,
	    "acmebridge_http_requests_total{endpoint=\"newOrder\",code=\"201\"}"
	    " 40000\n"));
	assert_non_null(strstr(text,
	    "acmebridge_http_requests_total{endpoint=\"newOrder\",code="
	    "\"other\"} 1\n"));
	/* 0.003 s is in the first bucket, 2 s in le=2.5 */
	assert_non_null(strstr(text,
	    "acmebridge_http_request_duration_seconds_bucket{endpoint="
	    "\"newOrder\",le=\"0.005\"} 40000\n"));
	assert_non_null(strstr(text,
	    "acmebridge_http_request_duration_seconds_bucket{endpoint="
	    "\"newOrder\",le=\"2.5\"} 40001\n"));
	assert_non_null(strstr(text,
	    "acmebridge_http_request_duration_seconds_count{endpoint="
	    "\"newOrder\"} 40001\n"));
	assert_non_null(strstr(text, "# TYPE acmebridge_build_info gauge\n"));
	free(text);
}

static void
test_scm_health(void **state)
{
	struct mx_conn_health h[MX_CONN_MAX];
	int id = mx_scm_id("slot-0");
	size_t n;

	(void)state;
	assert_true(id >= 0);
	mx_scm_call(id, MX_SCM_ENROLL, MX_OK, 0.2);
	mx_scm_call(id, MX_SCM_COLLECT, MX_TIMEOUT, 30);
	mx_scm_error(id, "GET /api/ssl/v1/collect/1: timeout");
	mx_scm_call(id, MX_SCM_PROBE, MX_HTTP_4XX, 0.01); /* expected */
	n = mx_scm_health(h, MX_CONN_MAX);
	assert_true(n > (size_t)id);
	assert_string_equal(h[id].name, "slot-0");
	assert_int_equal(h[id].ok, 2);
	assert_int_equal(h[id].failed, 1);
	assert_true(h[id].last_reached > 0);
	assert_true(h[id].last_success > 0);
	assert_string_equal(
	    h[id].last_error, "GET /api/ssl/v1/collect/1: timeout");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_connector_slots),
	    cmocka_unit_test(test_threads_and_render),
	    cmocka_unit_test(test_scm_health),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
