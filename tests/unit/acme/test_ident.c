/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/ident: DNS and IP identifier checks, normalisation,
 * wildcard rules, and newOrder identifier lists with subproblems. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acme/ident.h"

static void
expect_prob(struct acme_problem *p, int status, const char *type,
    const char *detail_part)
{
	assert_non_null(p->type);
	assert_string_equal(p->type, type);
	assert_int_equal(p->status, status);
	if (detail_part != NULL && strstr(p->detail, detail_part) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", p->detail, detail_part);
	acme_problem_clear(p);
}

/* Parse {"type":type,"value":value}; 0 or -1 with the problem left in p. */
static int
parse1(const char *type, const char *value, struct acme_ident *id,
    struct acme_problem *p)
{
	json_t *obj = json_pack("{s:s, s:s}", "type", type, "value", value);
	int rc;

	assert_non_null(obj);
	rc = acme_ident_parse(obj, id, p);
	json_decref(obj);
	return rc;
}

static void
expect_good(const char *type, const char *value, const char *norm, int wildcard,
    const char *base)
{
	struct acme_problem p;
	struct acme_ident id;

	memset(&p, 0, sizeof(p));
	if (parse1(type, value, &id, &p) != 0)
		fail_msg("%s \"%s\" refused: %s", type, value, p.detail);
	assert_null(p.type);
	assert_string_equal(id.type, type);
	assert_string_equal(id.value, norm);
	assert_int_equal(id.wildcard, wildcard);
	assert_string_equal(acme_ident_base(&id), base);
}

static void
expect_bad(const char *type, const char *value, const char *ptype)
{
	struct acme_problem p;
	struct acme_ident id;

	memset(&p, 0, sizeof(p));
	memset(&id, 0x5a, sizeof(id));
	if (parse1(type, value, &id, &p) == 0)
		fail_msg("%s \"%s\" accepted as \"%s\"", type, value, id.value);
	/* out untouched on failure */
	assert_int_equal(id.type[0], 0x5a);
	if (strcmp(ptype, "rejectedIdentifier") == 0 && strlen(value) < 40 &&
	    strstr(p.detail, value) == NULL)
		fail_msg("detail \"%s\" does not name \"%s\"", p.detail, value);
	expect_prob(&p, 400, ptype, NULL);
}

/* Four 62-character labels, each with its dot, then tail. */
static void
four_labels(char *buf, size_t len, const char *tail)
{
	size_t i;

	assert_true(len > 4 * 63 + strlen(tail));
	for (i = 0; i < 4; i++) {
		memset(buf + i * 63, 'a', 62);
		buf[i * 63 + 62] = '.';
	}
	strcpy(buf + 4 * 63, tail);
}

static void
test_dns_good(void **state)
{
	char label63[64], name253[254];

	(void)state;
	expect_good("dns", "example.com", "example.com", 0, "example.com");
	expect_good(
	    "dns", "WWW.Example.COM", "www.example.com", 0, "www.example.com");
	expect_good(
	    "dns", "a-b.c-d.example", "a-b.c-d.example", 0, "a-b.c-d.example");
	expect_good("dns", "xn--bcher-kva.example", "xn--bcher-kva.example", 0,
	    "xn--bcher-kva.example");
	expect_good(
	    "dns", "123.example.com", "123.example.com", 0, "123.example.com");
	expect_good("dns", "host.a1", "host.a1", 0, "host.a1");
	expect_good("dns", "localhost", "localhost", 0, "localhost");
	expect_good("dns", "*.example.com", "*.example.com", 1, "example.com");
	expect_good(
	    "dns", "*.EXAMPLE.co.uk", "*.example.co.uk", 1, "example.co.uk");

	/* the length limits themselves are fine */
	memset(label63, 'a', 63);
	label63[63] = '\0';
	{
		char name[80];

		snprintf(name, sizeof(name), "%s.com", label63);
		expect_good("dns", name, name, 0, name);
	}
	/* 4 x 62 + 4 dots + "b" = 253 */
	four_labels(name253, sizeof(name253), "b");
	assert_int_equal(strlen(name253), 253);
	expect_good("dns", name253, name253, 0, name253);
}

static void
test_dns_bad(void **state)
{
	char label64[80], name254[300];

	(void)state;
	expect_bad("dns", "", "rejectedIdentifier");
	expect_bad("dns", "example.com.", "rejectedIdentifier");
	expect_bad("dns", ".example.com", "rejectedIdentifier");
	expect_bad("dns", "a..example.com", "rejectedIdentifier");
	expect_bad("dns", ".", "rejectedIdentifier");
	expect_bad("dns", "-a.example.com", "rejectedIdentifier");
	expect_bad("dns", "a-.example.com", "rejectedIdentifier");
	expect_bad("dns", "a.example.com-", "rejectedIdentifier");
	expect_bad("dns", "a_b.example.com", "rejectedIdentifier");
	expect_bad("dns", "a b.example.com", "rejectedIdentifier");
	expect_bad("dns", "ex@mple.com", "rejectedIdentifier");
	expect_bad("dns",
	    "b\xc3\xbc"
	    "cher.example",
	    "rejectedIdentifier");
	expect_bad("dns", "1.2.3.4", "rejectedIdentifier");
	expect_bad("dns", "example.123", "rejectedIdentifier");
	expect_bad("dns", "2001:db8::1", "rejectedIdentifier");
	/* wildcard rules */
	expect_bad("dns", "*", "rejectedIdentifier");
	expect_bad("dns", "*.", "rejectedIdentifier");
	expect_bad("dns", "*.com", "rejectedIdentifier");
	expect_bad("dns", "*.*.example.com", "rejectedIdentifier");
	expect_bad("dns", "a.*.example.com", "rejectedIdentifier");
	expect_bad("dns", "*a.example.com", "rejectedIdentifier");
	expect_bad("dns", "a*.example.com", "rejectedIdentifier");
	expect_bad("dns", "**.example.com", "rejectedIdentifier");
	expect_bad("dns", "example.*", "rejectedIdentifier");
	/* lengths */
	memset(label64, 'a', 64);
	snprintf(label64 + 64, 16, ".com");
	expect_bad("dns", label64, "rejectedIdentifier");
	four_labels(name254, sizeof(name254), "bb");
	assert_int_equal(strlen(name254), 254);
	expect_bad("dns", name254, "rejectedIdentifier");
	memset(name254, 'a', 299);
	name254[299] = '\0';
	expect_bad("dns", name254, "rejectedIdentifier");
}

static void
test_ip(void **state)
{
	(void)state;
	expect_good("ip", "192.0.2.1", "192.0.2.1", 0, "192.0.2.1");
	expect_good(
	    "ip", "2001:DB8:0:0:0:0:0:1", "2001:db8::1", 0, "2001:db8::1");
	expect_good("ip", "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", 0,
	    "2001:db8::1:0:0:1");
	expect_good("ip", "2001:0db8:0000:0000:0000:0000:0000:0001",
	    "2001:db8::1", 0, "2001:db8::1");
	/* RFC 5952 §4.2.2: one zero field is not compressed */
	expect_good("ip", "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", 0,
	    "2001:db8:0:1:1:1:1:1");
	expect_good("ip", "::1", "::1", 0, "::1");
	expect_good("ip", "FE80::A", "fe80::a", 0, "fe80::a");

	expect_bad("ip", "", "rejectedIdentifier");
	expect_bad("ip", "192.0.2", "rejectedIdentifier");
	expect_bad("ip", "192.0.2.256", "rejectedIdentifier");
	expect_bad("ip", "192.0.2.01", "rejectedIdentifier");
	expect_bad("ip", "192.0.2.1 ", "rejectedIdentifier");
	expect_bad("ip", "0x7f.0.0.1", "rejectedIdentifier");
	expect_bad("ip", "example.com", "rejectedIdentifier");
	expect_bad("ip", "*.192.0.2.1", "rejectedIdentifier");
	expect_bad("ip", "*", "rejectedIdentifier");
	expect_bad("ip", "2001:db8::1::2", "rejectedIdentifier");
	expect_bad("ip", "fe80::1%eth0", "rejectedIdentifier");
	expect_bad("ip", "[2001:db8::1]", "rejectedIdentifier");
	expect_bad("ip", "2001:db8::/32", "rejectedIdentifier");
}

static void
test_type_and_shape(void **state)
{
	struct acme_problem p;
	struct acme_ident id;
	json_t *obj;

	(void)state;
	memset(&p, 0, sizeof(p));
	expect_bad("email", "a@example.com", "unsupportedIdentifier");
	expect_bad("DNS", "example.com", "unsupportedIdentifier");
	expect_bad("", "example.com", "unsupportedIdentifier");

	obj = json_pack("{s:s}", "type", "dns");
	assert_int_equal(acme_ident_parse(obj, &id, &p), -1);
	expect_prob(&p, 400, "malformed", "value");
	json_decref(obj);
	obj = json_pack("{s:s, s:i}", "type", "dns", "value", 5);
	assert_int_equal(acme_ident_parse(obj, &id, &p), -1);
	expect_prob(&p, 400, "malformed", NULL);
	json_decref(obj);
	obj = json_pack("[s]", "example.com");
	assert_int_equal(acme_ident_parse(obj, &id, &p), -1);
	expect_prob(&p, 400, "malformed", NULL);
	json_decref(obj);
	assert_int_equal(acme_ident_parse(NULL, &id, &p), -1);
	expect_prob(&p, 400, "malformed", NULL);

	/* the bare-value form */
	assert_int_equal(acme_ident_check("dns", "A.Example.ORG", &id, &p), 0);
	assert_string_equal(id.value, "a.example.org");
	assert_int_equal(
	    acme_ident_check("ip", "::FFFF:192.0.2.1", &id, &p), 0);
	assert_string_equal(id.value, "::ffff:192.0.2.1");
	assert_int_equal(acme_ident_check("uri", "x", &id, &p), -1);
	expect_prob(&p, 400, "unsupportedIdentifier", "uri");
}

static json_t *
list_of(const char *const *pairs, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	assert_non_null(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr,
		    json_pack("{s:s, s:s}", "type", pairs[2 * i], "value",
		        pairs[2 * i + 1]));
	return arr;
}

static void
test_list_good_dedup(void **state)
{
	static const char *const in[] = {"dns", "Example.com", "dns",
	    "*.example.com", "ip", "2001:DB8::1", "dns", "example.COM", "ip",
	    "2001:db8:0:0:0:0:0:1", "ip", "192.0.2.7", "dns", "*.Example.com"};
	struct acme_problem p;
	struct acme_ident *ids = NULL;
	size_t n = 0;
	json_t *arr;

	(void)state;
	memset(&p, 0, sizeof(p));
	arr = list_of(in, 7);
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), 0);
	assert_int_equal(n, 4);
	assert_string_equal(ids[0].value, "example.com");
	assert_string_equal(ids[1].value, "*.example.com");
	assert_int_equal(ids[1].wildcard, 1);
	assert_string_equal(ids[2].type, "ip");
	assert_string_equal(ids[2].value, "2001:db8::1");
	assert_string_equal(ids[3].value, "192.0.2.7");
	free(ids);
	json_decref(arr);
}

static void
test_list_limits(void **state)
{
	struct acme_problem p;
	struct acme_ident *ids = NULL;
	size_t n = 0, i;
	char name[32];
	json_t *arr;

	(void)state;
	memset(&p, 0, sizeof(p));
	arr = json_array();
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	expect_prob(&p, 400, "malformed", "empty");
	assert_null(ids);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "h%zu.example.com", i);
		json_array_append_new(
		    arr, json_pack("{s:s, s:s}", "type", "dns", "value", name));
	}
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), 0);
	assert_int_equal(n, 100);
	assert_string_equal(ids[99].value, "h99.example.com");
	free(ids);
	ids = NULL;
	json_array_append_new(arr,
	    json_pack("{s:s, s:s}", "type", "dns", "value",
	        "one-too-many.example.com"));
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	expect_prob(&p, 400, "rejectedIdentifier", "100");
	assert_null(ids);
	json_decref(arr);

	arr = json_pack("{s:s}", "type", "dns");
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	expect_prob(&p, 400, "malformed", "array");
	json_decref(arr);
	assert_int_equal(acme_idents_parse(NULL, 1, &ids, &n, &p), -1);
	expect_prob(&p, 400, "malformed", "array");

	/* an entry that is no identifier object at all */
	arr = json_pack("[{s:s, s:s}, s]", "type", "dns", "value",
	    "example.com", "example.org");
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	expect_prob(&p, 400, "malformed", "identifiers[1]");
	json_decref(arr);
}

static void
test_list_one_bad(void **state)
{
	static const char *const in[] = {
	    "dns", "good.example.com", "dns", "bad_name.example.com"};
	struct acme_problem p;
	struct acme_ident *ids = NULL;
	size_t n = 0;
	json_t *arr;

	(void)state;
	memset(&p, 0, sizeof(p));
	arr = list_of(in, 2);
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	assert_null(ids);
	assert_null(p.subproblems);
	expect_prob(&p, 400, "rejectedIdentifier", "bad_name.example.com");
	json_decref(arr);
}

static void
test_list_subproblems(void **state)
{
	static const char *const in[] = {"dns", "ok.example.com", "dns",
	    "bad_one.example.com", "ip", "300.1.1.1", "dns", "*.com"};
	static const char *const mixed[] = {
	    "dns", "-x.example.com", "uri", "https://example.com/"};
	struct acme_problem p;
	struct acme_ident *ids = NULL;
	size_t n = 0;
	json_t *arr, *sub, *doc;

	(void)state;
	memset(&p, 0, sizeof(p));
	arr = list_of(in, 4);
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	assert_null(ids);
	assert_true(json_is_array(p.subproblems));
	assert_int_equal(json_array_size(p.subproblems), 3);
	sub = json_array_get(p.subproblems, 0);
	assert_string_equal(json_string_value(json_object_get(sub, "type")),
	    "urn:ietf:params:acme:error:rejectedIdentifier");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(sub, "identifier"), "value")),
	    "bad_one.example.com");
	sub = json_array_get(p.subproblems, 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(sub, "identifier"), "type")),
	    "ip");
	assert_non_null(strstr(
	    json_string_value(json_object_get(sub, "detail")), "300.1.1.1"));
	sub = json_array_get(p.subproblems, 2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(sub, "identifier"), "value")),
	    "*.com");
	/* the document carries them */
	doc = acme_problem_json(&p);
	assert_int_equal(
	    json_array_size(json_object_get(doc, "subproblems")), 3);
	json_decref(doc);
	expect_prob(&p, 400, "rejectedIdentifier", "3 identifiers");
	json_decref(arr);

	/* different kinds of refusal: the top-level type is malformed */
	arr = list_of(mixed, 2);
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	assert_int_equal(json_array_size(p.subproblems), 2);
	sub = json_array_get(p.subproblems, 1);
	assert_string_equal(json_string_value(json_object_get(sub, "type")),
	    "urn:ietf:params:acme:error:unsupportedIdentifier");
	expect_prob(&p, 400, "malformed", "2 identifiers");
	json_decref(arr);
}

/* IDNA2008 A-labels (RFC 5890 §2.3.2.1): "xn--" labels must decode and
 * encode back to themselves */
static void
test_idna(void **state)
{
	struct acme_problem p;
	struct acme_ident id;

	(void)state;
	expect_good("dns", "XN--BCHER-KVA.example", "xn--bcher-kva.example", 0,
	    "xn--bcher-kva.example");
	expect_good("dns", "*.xn--mnchen-3ya.example",
	    "*.xn--mnchen-3ya.example", 1, "xn--mnchen-3ya.example");
	expect_good(
	    "dns", "www.xn--55qx5d", "www.xn--55qx5d", 0, "www.xn--55qx5d");
	/* not Punycode at all */
	expect_bad("dns", "xn--zz.example", "rejectedIdentifier");
	expect_bad("dns", "xn--abc-.example", "rejectedIdentifier");
	expect_bad("dns", "*.xn--zz.example", "rejectedIdentifier");
	/* Punycode of code points IDNA2008 disallows (U+2764, U+1F4A9) */
	expect_bad("dns", "xn--i-7iq.example", "rejectedIdentifier");
	expect_bad("dns", "www.xn--ls8h.example", "rejectedIdentifier");
	/* decodes, but is not the canonical form: "U+00DC" (upper-case) and
	 * a fullwidth "a" map to other labels */
	expect_bad("dns", "xn--wca.example", "rejectedIdentifier");
	expect_bad("dns", "xn--mi7c.example", "rejectedIdentifier");

	/* the same check for names from a CSR, with a clear detail */
	memset(&p, 0, sizeof(p));
	assert_int_equal(
	    acme_ident_check("dns", "xn--zz.example", &id, &p), -1);
	expect_prob(&p, 400, "rejectedIdentifier", "IDNA2008 A-label");
}

/* The address policy against the IANA special-purpose registries. */
static void
test_addr_policy(void **state)
{
	static const struct {
		const char *addr;
		enum acme_addr_class cls;
	} table[] = {
	    {"8.8.8.8", ACME_ADDR_GLOBAL},
	    {"1.1.1.1", ACME_ADDR_GLOBAL},
	    {"100.63.255.255", ACME_ADDR_GLOBAL},
	    {"100.128.0.0", ACME_ADDR_GLOBAL},
	    {"172.15.255.255", ACME_ADDR_GLOBAL},
	    {"172.32.0.0", ACME_ADDR_GLOBAL},
	    {"192.0.1.1", ACME_ADDR_GLOBAL},
	    {"198.17.255.255", ACME_ADDR_GLOBAL},
	    {"198.20.0.0", ACME_ADDR_GLOBAL},
	    {"223.255.255.255", ACME_ADDR_GLOBAL},
	    {"0.0.0.0", ACME_ADDR_NEVER},
	    {"0.1.2.3", ACME_ADDR_NEVER},
	    {"10.0.0.5", ACME_ADDR_INTERNAL},
	    {"100.64.0.1", ACME_ADDR_INTERNAL},
	    {"100.127.255.255", ACME_ADDR_INTERNAL},
	    {"127.0.0.1", ACME_ADDR_INTERNAL},
	    {"127.255.255.254", ACME_ADDR_INTERNAL},
	    {"169.254.169.254", ACME_ADDR_NEVER},
	    {"172.16.0.1", ACME_ADDR_INTERNAL},
	    {"172.31.255.255", ACME_ADDR_INTERNAL},
	    {"192.0.0.9", ACME_ADDR_INTERNAL},
	    {"192.0.2.1", ACME_ADDR_INTERNAL},
	    {"192.88.99.1", ACME_ADDR_INTERNAL},
	    {"192.168.1.1", ACME_ADDR_INTERNAL},
	    {"198.18.0.1", ACME_ADDR_INTERNAL},
	    {"198.19.255.255", ACME_ADDR_INTERNAL},
	    {"198.51.100.7", ACME_ADDR_INTERNAL},
	    {"203.0.113.9", ACME_ADDR_INTERNAL},
	    {"224.0.0.1", ACME_ADDR_NEVER},
	    {"239.255.255.250", ACME_ADDR_NEVER},
	    {"240.0.0.1", ACME_ADDR_NEVER},
	    {"255.255.255.255", ACME_ADDR_NEVER},
	    {"2606:4700:4700::1111", ACME_ADDR_GLOBAL},
	    {"2a00:1450:4001::1", ACME_ADDR_GLOBAL},
	    {"2001:200::1", ACME_ADDR_GLOBAL},
	    {"2001:db7:ffff::1", ACME_ADDR_GLOBAL},
	    {"3ffe::1", ACME_ADDR_GLOBAL},
	    {"::", ACME_ADDR_NEVER},
	    {"::1", ACME_ADDR_INTERNAL},
	    {"::2", ACME_ADDR_INTERNAL},
	    {"::127.0.0.1", ACME_ADDR_INTERNAL},
	    /* IPv4-mapped: judged by the IPv4 address */
	    {"::ffff:127.0.0.1", ACME_ADDR_INTERNAL},
	    {"::ffff:169.254.169.254", ACME_ADDR_NEVER},
	    {"::ffff:10.1.2.3", ACME_ADDR_INTERNAL},
	    {"::ffff:0.0.0.0", ACME_ADDR_NEVER},
	    {"::ffff:8.8.8.8", ACME_ADDR_GLOBAL},
	    /* NAT64 and 6to4: judged by the IPv4 address */
	    {"64:ff9b::a9fe:a9fe", ACME_ADDR_NEVER},
	    {"64:ff9b::7f00:1", ACME_ADDR_INTERNAL},
	    {"64:ff9b::808:808", ACME_ADDR_GLOBAL},
	    {"64:ff9b:1::808:808", ACME_ADDR_INTERNAL},
	    {"2002:7f00:1::1", ACME_ADDR_INTERNAL},
	    {"2002:a9fe:a9fe::1", ACME_ADDR_NEVER},
	    {"2002:808:808::1", ACME_ADDR_GLOBAL},
	    {"100::1", ACME_ADDR_INTERNAL},
	    {"2001::1", ACME_ADDR_INTERNAL},
	    {"2001:1ff:ffff::1", ACME_ADDR_INTERNAL},
	    {"2001:db8::1", ACME_ADDR_INTERNAL},
	    {"3fff::1", ACME_ADDR_INTERNAL},
	    {"3fff:fff::1", ACME_ADDR_INTERNAL},
	    {"5f00::1", ACME_ADDR_INTERNAL},
	    {"fc00::1", ACME_ADDR_INTERNAL},
	    {"fd00:ec2::254", ACME_ADDR_INTERNAL},
	    {"fe80::1", ACME_ADDR_NEVER},
	    {"febf::1", ACME_ADDR_NEVER},
	    {"fec0::1", ACME_ADDR_INTERNAL},
	    {"ff02::1", ACME_ADDR_NEVER},
	};
	unsigned char a[16];

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int v6 = strchr(table[i].addr, ':') != NULL;
		int fam = v6 ? AF_INET6 : AF_INET;
		enum acme_addr_class got;

		assert_int_equal(inet_pton(fam, table[i].addr, a), 1);
		got = acme_addr_classify(fam, a);
		if (got != table[i].cls)
			fail_msg("%s: class %d, want %d", table[i].addr, got,
			    table[i].cls);
		assert_int_equal(acme_addr_allowed(fam, a, 0),
		    table[i].cls == ACME_ADDR_GLOBAL);
		assert_int_equal(acme_addr_allowed(fam, a, 1),
		    table[i].cls != ACME_ADDR_NEVER);
		assert_int_equal(acme_addr_text_allowed(table[i].addr, 0),
		    table[i].cls == ACME_ADDR_GLOBAL);
	}
	assert_int_equal(acme_addr_text_allowed("localhost", 1), 0);
	assert_int_equal(acme_addr_text_allowed(NULL, 1), 0);
	assert_int_equal(acme_addr_classify(AF_UNIX, a), ACME_ADDR_NEVER);
}

/* newOrder holds IP identifiers to the policy (rejectedIdentifier). */
static void
test_list_addr_policy(void **state)
{
	static const char *const in[] = {"ip", "127.0.0.1", "ip",
	    "169.254.169.254", "ip", "::ffff:127.0.0.1", "ip", "8.8.8.8"};
	struct acme_problem p;
	struct acme_ident *ids = NULL;
	size_t n = 0;
	json_t *arr;

	(void)state;
	memset(&p, 0, sizeof(p));
	arr = list_of(in, 1);
	assert_int_equal(acme_idents_parse(arr, 0, &ids, &n, &p), -1);
	assert_null(ids);
	expect_prob(&p, 400, "rejectedIdentifier", "\"127.0.0.1\"");
	json_decref(arr);

	arr = list_of(in, 4);
	assert_int_equal(acme_idents_parse(arr, 0, &ids, &n, &p), -1);
	assert_null(ids);
	assert_int_equal(json_array_size(p.subproblems), 3);
	expect_prob(&p, 400, "rejectedIdentifier", "3 identifiers");
	json_decref(arr);

	/* allowed private: loopback passes, link-local never does */
	arr = list_of(in, 4);
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), -1);
	assert_null(ids);
	expect_prob(&p, 400, "rejectedIdentifier", "\"169.254.169.254\"");
	json_decref(arr);

	arr = list_of(in + 6, 1);
	assert_int_equal(acme_idents_parse(arr, 0, &ids, &n, &p), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0].value, "8.8.8.8");
	free(ids);
	ids = NULL;
	json_decref(arr);

	arr = list_of(in, 1);
	assert_int_equal(acme_idents_parse(arr, 1, &ids, &n, &p), 0);
	assert_string_equal(ids[0].value, "127.0.0.1");
	free(ids);
	json_decref(arr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dns_good),
	    cmocka_unit_test(test_dns_bad),
	    cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_type_and_shape),
	    cmocka_unit_test(test_list_good_dedup),
	    cmocka_unit_test(test_list_limits),
	    cmocka_unit_test(test_list_one_bad),
	    cmocka_unit_test(test_list_subproblems),
	    cmocka_unit_test(test_idna),
	    cmocka_unit_test(test_addr_policy),
	    cmocka_unit_test(test_list_addr_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
