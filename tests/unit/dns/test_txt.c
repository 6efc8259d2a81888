/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TXT presentation the HTTP connectors send and read back
 * (dns_txt_quote, dns_txt_unquote), and which API URLs they accept
 * (dns_http_url_ok).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns/connector.h"
#include "dns/httpc.h"

static void
roundtrip(const char *v, const char *want_quoted)
{
	char q[600], back[300];

	dns_txt_quote(v, q, sizeof(q));
	if (want_quoted != NULL)
		assert_string_equal(q, want_quoted);
	assert_int_equal(dns_txt_unquote(q, back, sizeof(back)), 0);
	assert_string_equal(back, v);
}

static void
test_quote_roundtrip(void **state)
{
	char all[96], one[2] = "";

	(void)state;
	roundtrip("plain", "\"plain\"");
	/* a Sectigo DCV value: every quoting hazard but '"' */
	roundtrip("F(U_t|L%>8]iU6Yx\\CFm;0O8DViEQ/|`",
	    "\"F(U_t|L%>8]iU6Yx\\\\CFm;0O8DViEQ/|`\"");
	roundtrip("say \"hi\"", "\"say \\\"hi\\\"\"");
	roundtrip(" lead and trail ", "\" lead and trail \"");
	roundtrip("\\", "\"\\\\\"");
	/* every printable byte, alone and together */
	for (int c = 0x20; c <= 0x7e; c++) {
		all[c - 0x20] = (char)c;
		one[0] = (char)c;
		roundtrip(one, NULL);
	}
	all[0x7f - 0x20] = '\0';
	roundtrip(all, NULL);
}

static void
test_quote_255(void **state)
{
	char v[256], q[600], back[300];

	(void)state;
	memset(v, '\\', 255);
	v[255] = '\0';
	dns_txt_quote(v, q, sizeof(q));
	assert_int_equal(strlen(q), 2 * 255 + 2);
	assert_int_equal(dns_txt_unquote(q, back, sizeof(back)), 0);
	assert_string_equal(back, v);
	/* too small an output: cut, still quoted and terminated */
	dns_txt_quote(v, q, 8);
	assert_true(strlen(q) < 8);
	assert_int_equal(q[0], '"');
	assert_int_equal(q[strlen(q) - 1], '"');
}

static void
test_unquote_forms(void **state)
{
	char out[300];

	(void)state;
	/* several strings of one record are one value */
	assert_int_equal(
	    dns_txt_unquote("\"abc\" \"def\"", out, sizeof(out)), 0);
	assert_string_equal(out, "abcdef");
	assert_int_equal(
	    dns_txt_unquote("\"a\\065\\098\"", out, sizeof(out)), 0);
	assert_string_equal(out, "aAb");
	assert_int_equal(dns_txt_unquote("word", out, sizeof(out)), 0);
	assert_string_equal(out, "word");
	assert_int_equal(dns_txt_unquote("\"\"", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* malformed */
	assert_int_equal(dns_txt_unquote("\"open", out, sizeof(out)), -1);
	assert_int_equal(dns_txt_unquote("\"end\\", out, sizeof(out)), -1);
	assert_int_equal(dns_txt_unquote("\"\\256\"", out, sizeof(out)), -1);
	assert_int_equal(dns_txt_unquote("", out, sizeof(out)), -1);
	assert_int_equal(dns_txt_unquote("\"toolong\"", out, 4), -1);
}

static void
test_url_ok(void **state)
{
	(void)state;
	assert_true(dns_http_url_ok("https://api.cloudflare.com/client/v4"));
	assert_true(dns_http_url_ok("http://127.0.0.1:8081"));
	assert_true(dns_http_url_ok("http://127.0.0.1"));
	assert_true(dns_http_url_ok("http://localhost/api"));
	assert_true(dns_http_url_ok("http://[::1]:8081/"));
	assert_false(dns_http_url_ok(NULL));
	assert_false(dns_http_url_ok("https://"));
	assert_false(dns_http_url_ok("http://pdns.example:8081"));
	/* cleartext only to loopback: not a host that starts like it */
	assert_false(dns_http_url_ok("http://127.0.0.1.example.net/"));
	assert_false(dns_http_url_ok("http://localhost.example.net"));
	assert_false(dns_http_url_ok("http://127.0.0.1@example.net/"));
	assert_false(dns_http_url_ok("http://127.0.0.1:80@example.net/"));
	assert_false(dns_http_url_ok("http://127.0.0.1:@example.net/"));
	assert_false(dns_http_url_ok("ftp://127.0.0.1/"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quote_roundtrip),
	    cmocka_unit_test(test_quote_255),
	    cmocka_unit_test(test_unquote_forms),
	    cmocka_unit_test(test_url_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
