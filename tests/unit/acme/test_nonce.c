/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/nonce: single use, forgeries, garbage, the sliding
 * window's exact edge and concurrent use from two threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/nonce.h"
#include "contrib/b64url.h"

/* Must match the window in acme/nonce.c (2^20 most recent nonces). */
#define WINDOW (1u << 20)

static struct acme_nonces *
nonces(void)
{
	struct acme_nonces *n = acme_nonces_new();

	assert_non_null(n);
	return n;
}

static void
test_issue_format(void **state)
{
	struct acme_nonces *n = nonces();
	char a[ACME_NONCE_LEN + 1], b[ACME_NONCE_LEN + 1];
	unsigned char raw[17];

	(void)state;
	memset(a, 'x', sizeof(a));
	acme_nonce_issue(n, a);
	acme_nonce_issue(n, b);
	assert_int_equal(strlen(a), ACME_NONCE_LEN);
	assert_int_equal(b64url_decode(a, ACME_NONCE_LEN, raw), 16);
	assert_string_not_equal(a, b);
	acme_nonces_free(n);
	acme_nonces_free(NULL);
}

static void
test_consume_once(void **state)
{
	struct acme_nonces *n = nonces();
	char a[ACME_NONCE_LEN + 1], b[ACME_NONCE_LEN + 1];

	(void)state;
	acme_nonce_issue(n, a);
	acme_nonce_issue(n, b);
	/* any order, each once */
	assert_int_equal(acme_nonce_consume(n, b), 0);
	assert_int_equal(acme_nonce_consume(n, b), -1);
	assert_int_equal(acme_nonce_consume(n, a), 0);
	assert_int_equal(acme_nonce_consume(n, a), -1);
	assert_int_equal(acme_nonce_consume(n, b), -1);
	acme_nonces_free(n);
}

/* Flip one bit of the decoded nonce and re-encode it canonically, so that
 * only the MAC check can catch it. */
static void
flip_bit(const char *in, int bit, char out[ACME_NONCE_LEN + 1])
{
	unsigned char raw[17];

	assert_int_equal(b64url_decode(in, ACME_NONCE_LEN, raw), 16);
	raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	assert_int_equal(b64url_encode(raw, 16, out), ACME_NONCE_LEN);
}

static void
test_forged(void **state)
{
	struct acme_nonces *n = nonces(), *other = nonces();
	char a[ACME_NONCE_LEN + 1], f[ACME_NONCE_LEN + 1];

	(void)state;
	acme_nonce_issue(n, a);
	/* every single-bit change, in the counter and in the MAC half */
	for (int bit = 0; bit < 128; bit++) {
		flip_bit(a, bit, f);
		assert_string_not_equal(f, a);
		assert_int_equal(acme_nonce_consume(n, f), -1);
	}
	/* the forgeries did not spend the real one */
	assert_int_equal(acme_nonce_consume(n, a), 0);

	/* a nonce of another source (another key) is foreign here */
	acme_nonce_issue(other, f);
	assert_int_equal(acme_nonce_consume(n, f), -1);
	assert_int_equal(acme_nonce_consume(other, f), 0);

	/* a changed character (not just decoded bits) */
	acme_nonce_issue(n, a);
	memcpy(f, a, sizeof(f));
	f[3] = f[3] == 'A' ? 'B' : 'A';
	assert_int_equal(acme_nonce_consume(n, f), -1);
	assert_int_equal(acme_nonce_consume(n, a), 0);
	acme_nonces_free(other);
	acme_nonces_free(n);
}

static void
test_garbage(void **state)
{
	struct acme_nonces *n = nonces();
	char a[ACME_NONCE_LEN + 1], buf[64];

	(void)state;
	acme_nonce_issue(n, a);
	assert_int_equal(acme_nonce_consume(n, NULL), -1);
	assert_int_equal(acme_nonce_consume(n, ""), -1);
	assert_int_equal(acme_nonce_consume(n, "nonce-1"), -1);
	assert_int_equal(acme_nonce_consume(n, "AAAAAAAAAAAAAAAAAAAAAA"), -1);
	/* too long: the nonce plus one character, or with padding */
	snprintf(buf, sizeof(buf), "%sA", a);
	assert_int_equal(acme_nonce_consume(n, buf), -1);
	snprintf(buf, sizeof(buf), "%s==", a);
	assert_int_equal(acme_nonce_consume(n, buf), -1);
	/* too short */
	snprintf(buf, sizeof(buf), "%.21s", a);
	assert_int_equal(acme_nonce_consume(n, buf), -1);
	/* the standard alphabet's '+' and '/' are not base64url */
	snprintf(buf, sizeof(buf), "%s", a);
	buf[5] = '+';
	assert_int_equal(acme_nonce_consume(n, buf), -1);
	buf[5] = '/';
	assert_int_equal(acme_nonce_consume(n, buf), -1);
	/* non-canonical last character (unused low bits set) */
	snprintf(buf, sizeof(buf), "%s", a);
	buf[21] = (char)(buf[21] == 'B' ? 'C' : 'B');
	assert_int_equal(acme_nonce_consume(n, buf), -1);
	/* a NUL inside: only the first part is seen, which is too short */
	snprintf(buf, sizeof(buf), "%s", a);
	buf[10] = '\0';
	assert_int_equal(acme_nonce_consume(n, buf), -1);
	/* none of that spent the real nonce */
	assert_int_equal(acme_nonce_consume(n, a), 0);
	acme_nonces_free(n);
}

/*
 * The window holds exactly the WINDOW most recent nonces: with counters
 * x (used), x+1, x+2 (unused), then x+3 .. x+WINDOW+1 issued, x+1 is
 * WINDOW+1 behind the next counter (too old) and x+2 exactly WINDOW behind
 * (the oldest still redeemable); x+WINDOW reuses x's bitmap slot, which
 * must have been cleared when it was issued.
 */
static void
test_window_edge(void **state)
{
	struct acme_nonces *n = nonces();
	char x[ACME_NONCE_LEN + 1], x1[ACME_NONCE_LEN + 1],
	    x2[ACME_NONCE_LEN + 1], reuse[ACME_NONCE_LEN + 1],
	    last[ACME_NONCE_LEN + 1], tmp[ACME_NONCE_LEN + 1];

	(void)state;
	acme_nonce_issue(n, x);
	assert_int_equal(acme_nonce_consume(n, x), 0);
	acme_nonce_issue(n, x1);
	acme_nonce_issue(n, x2);
	for (unsigned i = 3; i <= WINDOW + 1; i++) {
		char *out = i == WINDOW ? reuse : i == WINDOW + 1 ? last : tmp;
		acme_nonce_issue(n, out);
	}
	assert_int_equal(acme_nonce_consume(n, x1), -1); /* too old */
	assert_int_equal(acme_nonce_consume(n, x2), 0);  /* oldest kept */
	assert_int_equal(acme_nonce_consume(n, x2), -1);
	assert_int_equal(acme_nonce_consume(n, reuse), 0); /* slot reused */
	assert_int_equal(acme_nonce_consume(n, reuse), -1);
	assert_int_equal(acme_nonce_consume(n, x), -1);
	assert_int_equal(acme_nonce_consume(n, last), 0);
	assert_int_equal(acme_nonce_consume(n, tmp), 0); /* x+WINDOW-1 */
	acme_nonces_free(n);
}

/* ---- two threads --------------------------------------------------- */

#define NSHARED 20000
#define NOWN 20000

struct shared {
	struct acme_nonces *n;
	char (*list)[ACME_NONCE_LEN + 1]; /* nonces both threads race for */
	int won;                          /* consumed by this thread */
	int own_fail;                     /* own issue+consume failures */
};

static void *
worker(void *arg)
{
	struct shared *s = arg;
	char own[ACME_NONCE_LEN + 1];

	for (int i = 0; i < NSHARED; i++) {
		if (acme_nonce_consume(s->n, s->list[i]) == 0)
			s->won++;
		/* interleave fresh nonces of its own */
		if (i < NOWN) {
			acme_nonce_issue(s->n, own);
			if (acme_nonce_consume(s->n, own) != 0 ||
			    acme_nonce_consume(s->n, own) != -1)
				s->own_fail++;
		}
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct acme_nonces *n = nonces();
	char(*list)[ACME_NONCE_LEN + 1] = calloc(NSHARED, sizeof(*list));
	struct shared a = {0}, b = {0};
	pthread_t ta, tb;

	(void)state;
	assert_non_null(list);
	for (int i = 0; i < NSHARED; i++)
		acme_nonce_issue(n, list[i]);
	a.n = b.n = n;
	a.list = b.list = list;
	assert_int_equal(pthread_create(&ta, NULL, worker, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, worker, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	/* each shared nonce was redeemed exactly once overall */
	assert_int_equal(a.won + b.won, NSHARED);
	assert_int_equal(a.own_fail, 0);
	assert_int_equal(b.own_fail, 0);
	for (int i = 0; i < NSHARED; i++)
		assert_int_equal(acme_nonce_consume(n, list[i]), -1);
	free(list);
	acme_nonces_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue_format),
	    cmocka_unit_test(test_consume_once),
	    cmocka_unit_test(test_forged),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_window_edge),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
