/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for contrib/b64url: RFC 4648 §10 vectors in the URL alphabet,
 * and the strictness rules (no padding, no other alphabet, canonical bits). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "contrib/b64url.h"

static const struct {
	const char *plain;
	const char *enc;
} vectors[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
};

static void
test_rfc4648_encode(void **state)
{
	char out[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = strlen(vectors[i].plain);
		assert_int_equal(b64url_enc_len(n), strlen(vectors[i].enc));
		assert_int_equal(b64url_encode(vectors[i].plain, n, out),
		    strlen(vectors[i].enc));
		assert_string_equal(out, vectors[i].enc);
	}
}

static void
test_rfc4648_decode(void **state)
{
	unsigned char out[32];
	size_t i;
	long n;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		memset(out, 0xaa, sizeof(out));
		n = b64url_decode(vectors[i].enc, strlen(vectors[i].enc), out);
		assert_int_equal(n, (long)strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, (size_t)n);
	}
}

static void
test_url_alphabet(void **state)
{
	static const unsigned char bin[] = {0xfb, 0xff, 0xbf};
	unsigned char out[8];
	char enc[8];

	(void)state;
	/* the bytes that give '+' and '/' in standard base64 */
	b64url_encode(bin, sizeof(bin), enc);
	assert_string_equal(enc, "-_-_");
	assert_int_equal(b64url_decode("-_-_", 4, out), 3);
	assert_memory_equal(out, bin, 3);
	b64url_encode(bin, 2, enc);
	assert_string_equal(enc, "-_8");
	/* the standard alphabet is refused */
	assert_int_equal(b64url_decode("+/+/", 4, out), -1);
	assert_int_equal(b64url_decode("+_-_", 4, out), -1);
	assert_int_equal(b64url_decode("-_-/", 4, out), -1);
}

static void
test_padding_refused(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(b64url_decode("Zg==", 4, out), -1);
	assert_int_equal(b64url_decode("Zm8=", 4, out), -1);
	assert_int_equal(b64url_decode("Zg=", 3, out), -1);
	assert_int_equal(b64url_decode("Zm9vYg==", 8, out), -1);
}

static void
test_bad_chars_refused(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(b64url_decode("Zm9 v", 5, out), -1);
	assert_int_equal(b64url_decode("Zm9v\n", 5, out), -1);
	assert_int_equal(b64url_decode("Zm.v", 4, out), -1);
	/* an embedded NUL inside the given length */
	assert_int_equal(b64url_decode("Zm\0v", 4, out), -1);
	/* non-ASCII */
	assert_int_equal(b64url_decode("Zm\xc3\xa9", 4, out), -1);
}

static void
test_non_canonical_refused(void **state)
{
	unsigned char out[16];

	(void)state;
	/* "f" is "Zg"; "Zh".."Zv" carry the same byte with nonzero spare
	 * bits and must not decode (RFC 4648 §3.5) */
	assert_int_equal(b64url_decode("Zg", 2, out), 1);
	assert_int_equal(b64url_decode("Zh", 2, out), -1);
	assert_int_equal(b64url_decode("Zv", 2, out), -1);
	/* "fo" is "Zm8"; "Zm9" sets a spare bit */
	assert_int_equal(b64url_decode("Zm8", 3, out), 2);
	assert_int_equal(b64url_decode("Zm9", 3, out), -1);
	/* one trailing character holds only 6 bits */
	assert_int_equal(b64url_decode("Z", 1, out), -1);
	assert_int_equal(b64url_decode("Zm9vY", 5, out), -1);
}

static void
test_roundtrip_all_lengths(void **state)
{
	unsigned char bin[70], back[80];
	size_t n, i, blen = 0;
	unsigned char *dec;
	char *enc;

	(void)state;
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof(bin); n++) {
		enc = b64url_encode_alloc(bin, n);
		assert_non_null(enc);
		assert_int_equal(strlen(enc), b64url_enc_len(n));
		assert_null(strchr(enc, '='));
		assert_int_equal(
		    b64url_decode(enc, strlen(enc), back), (long)n);
		assert_memory_equal(back, bin, n);
		dec = b64url_decode_alloc(enc, strlen(enc), &blen);
		assert_non_null(dec);
		assert_int_equal(blen, n);
		assert_memory_equal(dec, bin, n);
		free(dec);
		free(enc);
	}
	assert_null(b64url_decode_alloc("Zg==", 4, &blen));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4648_encode),
	    cmocka_unit_test(test_rfc4648_decode),
	    cmocka_unit_test(test_url_alphabet),
	    cmocka_unit_test(test_padding_refused),
	    cmocka_unit_test(test_bad_chars_refused),
	    cmocka_unit_test(test_non_canonical_refused),
	    cmocka_unit_test(test_roundtrip_all_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
