/* SPDX-License-Identifier: Apache-2.0 */
/* ACME identifiers: DNS names (RFC 1035/1123 host names, RFC 8555 §7.1.3
 * wildcards, IDNA2008 A-labels) and IP addresses (RFC 8738), checked and
 * normalised; the address policy of newOrder and the validators. */
#include "acme/ident.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <idn2.h>

#define MAX_IDENTS 100
#define MAX_NAME 253
#define MAX_LABEL 63

static int
is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/*
 * RFC 5890 §2.3.2.1, RFC 5891 §5.4: an "xn--" label must be an A-label,
 * i.e. valid Punycode of a valid IDNA2008 U-label that encodes back to the
 * same label. libidn2 decodes it and checks the code points; the round trip
 * catches non-canonical encodings (case, NFC, TR46 mappings). label is
 * lower-case and len <= 63.
 */
static int
alabel_ok(const char *label, size_t len)
{
	const int flags = IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL;
	char a[64];
	char *u = NULL;
	uint8_t *back = NULL;
	int ok = 0;

	memcpy(a, label, len);
	a[len] = '\0';
	if (idn2_to_unicode_8z8z(a, &u, flags) != IDN2_OK)
		goto out;
	if (idn2_lookup_u8((const uint8_t *)u, &back, flags) != IDN2_OK)
		goto out;
	ok = strcmp((const char *)back, a) == 0;
out:
	idn2_free(back);
	idn2_free(u);
	return ok;
}

/* Checks a lower-cased name without wildcard; NULL or why it is bad. */
static const char *
dns_bad(const char *name, int *labels)
{
	const char *p = name, *label;
	size_t len;
	int all_digits;

	*labels = 0;
	for (;;) {
		label = p;
		all_digits = 1;
		while (*p != '\0' && *p != '.') {
			if (*p == '*')
				return "a wildcard is allowed only as the "
				       "whole "
				       "leftmost label \"*.\"";
			if (!is_ldh(*p))
				return "it has characters outside a-z, 0-9 and "
				       "'-'";
			if (*p < '0' || *p > '9')
				all_digits = 0;
			p++;
		}
		len = (size_t)(p - label);
		if (len == 0)
			return *p == '\0' && *labels > 0
			    ? "it has a trailing dot"
			    : "it has an empty label";
		if (len > MAX_LABEL)
			return "a label is longer than 63 characters";
		if (label[0] == '-' || label[len - 1] == '-')
			return "a label starts or ends with '-'";
		if (len >= 4 && memcmp(label, "xn--", 4) == 0 &&
		    !alabel_ok(label, len))
			return "an \"xn--\" label is not a valid IDNA2008 "
			       "A-label (it must decode to Unicode and encode "
			       "back to itself)";
		(*labels)++;
		if (*p == '\0')
			break;
		p++; /* the dot */
	}
	if (all_digits)
		return "its top-level label is all-numeric";
	return NULL;
}

static int
dns_check(const char *value, struct acme_ident *out, struct acme_problem *prob)
{
	char buf[sizeof(out->value)];
	const char *why = NULL, *base;
	size_t len = strlen(value), i;
	int labels = 0, wildcard = 0;

	if (len == 0) {
		acme_problem_set(
		    prob, 400, "rejectedIdentifier", "empty DNS name refused");
		return -1;
	}
	if (len > MAX_NAME) {
		acme_problem_set(prob, 400, "rejectedIdentifier",
		    "DNS name \"%.64s...\" refused: longer than %d characters",
		    value, MAX_NAME);
		return -1;
	}
	for (i = 0; i <= len; i++) {
		char c = value[i];
		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	base = buf;
	if (buf[0] == '*' && buf[1] == '.') {
		wildcard = 1;
		base = buf + 2;
	}
	why = dns_bad(base, &labels);
	/* RFC 8555 §7.1.3 leaves wildcard policy to us: not over a TLD */
	if (why == NULL && wildcard && labels < 2)
		why = "a wildcard over a top-level domain is not allowed";
	if (why != NULL) {
		acme_problem_set(prob, 400, "rejectedIdentifier",
		    "DNS name \"%.260s\" refused: %s", value, why);
		return -1;
	}
	snprintf(out->type, sizeof(out->type), "dns");
	memcpy(out->value, buf, len + 1);
	out->wildcard = wildcard;
	return 0;
}

static int
ip_check(const char *value, struct acme_ident *out, struct acme_problem *prob)
{
	unsigned char addr[16];
	char txt[INET6_ADDRSTRLEN];
	int af;

	af = strchr(value, ':') != NULL ? AF_INET6 : AF_INET;
	/* RFC 8738 §3: textual forms of RFC 1123 §2.1 / RFC 5952 only */
	if (strlen(value) >= sizeof(txt) || inet_pton(af, value, addr) != 1 ||
	    inet_ntop(af, addr, txt, sizeof(txt)) == NULL) {
		acme_problem_set(prob, 400, "rejectedIdentifier",
		    "IP address \"%.64s\" refused: not an IPv4 or IPv6 address",
		    value);
		return -1;
	}
	snprintf(out->type, sizeof(out->type), "ip");
	snprintf(out->value, sizeof(out->value), "%s", txt);
	out->wildcard = 0;
	return 0;
}

int
acme_ident_check(const char *type, const char *value, struct acme_ident *out,
    struct acme_problem *prob)
{
	struct acme_ident tmp;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	if (type == NULL || value == NULL) {
		acme_problem_set(prob, 400, "malformed",
		    "identifier needs a \"type\" and a \"value\"");
		return -1;
	}
	if (strcmp(type, "dns") == 0)
		rc = dns_check(value, &tmp, prob);
	else if (strcmp(type, "ip") == 0)
		rc = ip_check(value, &tmp, prob);
	else {
		acme_problem_set(prob, 400, "unsupportedIdentifier",
		    "identifier type \"%.32s\" is not supported; use \"dns\" "
		    "or \"ip\"",
		    type);
		return -1;
	}
	if (rc == 0)
		*out = tmp;
	return rc;
}

int
acme_ident_parse(
    const json_t *obj, struct acme_ident *out, struct acme_problem *prob)
{
	const json_t *t, *v;

	t = json_object_get(obj, "type");
	v = json_object_get(obj, "value");
	if (!json_is_object(obj) || !json_is_string(t) || !json_is_string(v)) {
		acme_problem_set(prob, 400, "malformed",
		    "identifier must be an object with \"type\" and "
		    "\"value\" strings");
		return -1;
	}
	/* jansson refuses \u0000 by default, so strlen is the length */
	return acme_ident_check(
	    json_string_value(t), json_string_value(v), out, prob);
}

/* The address policy for IP identifiers: nothing is ordered that the
 * validators would refuse to contact. */
static int
ip_policy(
    const struct acme_ident *id, int allow_private, struct acme_problem *prob)
{
	if (strcmp(id->type, "ip") != 0 ||
	    acme_addr_text_allowed(id->value, allow_private))
		return 0;
	acme_problem_set(prob, 400, "rejectedIdentifier",
	    "IP address \"%s\" refused: not a globally routable unicast "
	    "address",
	    id->value);
	return -1;
}

int
acme_idents_parse(const json_t *arr, int allow_private, struct acme_ident **out,
    size_t *n, struct acme_problem *prob)
{
	struct acme_problem sub;
	struct acme_ident *ids = NULL;
	const char *first_type = NULL;
	size_t count, i, j, k = 0, n_bad = 0;
	int same_type = 1, rc = -1;

	memset(&sub, 0, sizeof(sub));
	if (!json_is_array(arr)) {
		acme_problem_set(
		    prob, 400, "malformed", "\"identifiers\" must be an array");
		goto out;
	}
	count = json_array_size(arr);
	if (count == 0) {
		acme_problem_set(prob, 400, "malformed",
		    "\"identifiers\" must not be empty");
		goto out;
	}
	if (count > MAX_IDENTS) {
		acme_problem_set(prob, 400, "rejectedIdentifier",
		    "an order may hold at most %d identifiers, not %zu",
		    MAX_IDENTS, count);
		goto out;
	}
	ids = calloc(count, sizeof(*ids));
	if (ids == NULL) {
		acme_problem_set(prob, 500, "serverInternal", "out of memory");
		goto out;
	}
	acme_problem_clear(prob);
	for (i = 0; i < count; i++) {
		const json_t *obj = json_array_get(arr, i);
		struct acme_ident id;

		if (acme_ident_parse(obj, &id, &sub) != 0 ||
		    ip_policy(&id, allow_private, &sub) != 0) {
			if (strcmp(sub.type, "malformed") == 0) {
				/* no identifier to name: the request is bad */
				acme_problem_set(prob, 400, "malformed",
				    "identifiers[%zu]: %s", i, sub.detail);
				goto out;
			}
			n_bad++;
			if (first_type == NULL)
				first_type = sub.type;
			else if (strcmp(first_type, sub.type) != 0)
				same_type = 0;
			if (n_bad == 1) {
				/* keep the first one's text as the detail */
				acme_problem_set(prob, sub.status, sub.type,
				    "%s", sub.detail);
			}
			acme_problem_add_sub(prob, sub.type, sub.detail,
			    json_string_value(json_object_get(obj, "type")),
			    json_string_value(json_object_get(obj, "value")));
			continue;
		}
		for (j = 0; j < k; j++) {
			if (strcmp(ids[j].type, id.type) == 0 &&
			    strcmp(ids[j].value, id.value) == 0)
				break;
		}
		if (j == k)
			ids[k++] = id;
	}
	if (n_bad == 1) {
		/* one bad identifier: the plain problem says it all */
		json_decref(prob->subproblems);
		prob->subproblems = NULL;
	} else if (n_bad > 1) {
		json_t *subs = json_incref(prob->subproblems);

		/* RFC 8555 §6.7.1: one problem, a subproblem per identifier */
		acme_problem_set(prob, 400,
		    same_type ? first_type : "malformed",
		    "%zu identifiers refused; see subproblems", n_bad);
		prob->subproblems = subs;
	}
	if (n_bad > 0)
		goto out;
	*out = ids;
	*n = k;
	ids = NULL;
	rc = 0;
out:
	acme_problem_clear(&sub);
	free(ids);
	return rc;
}

const char *
acme_ident_base(const struct acme_ident *id)
{
	if (id->wildcard && id->value[0] == '*' && id->value[1] == '.')
		return id->value + 2;
	return id->value;
}

/* ---- address policy ---- */

/* A prefix of an address family's special-purpose registry. */
struct special {
	unsigned char net[16]; /* network, leading bytes */
	unsigned char bits;    /* prefix length */
	unsigned char cls;     /* enum acme_addr_class */
};

/* IANA IPv4 Special-Purpose Address Registry (and 224/4, 240/4 from the
 * address space registry). 192.0.0/24's two global /32s are refused too. */
static const struct special v4_special[] = {
    {{0}, 8, ACME_ADDR_NEVER},                /* "this network" */
    {{10}, 8, ACME_ADDR_INTERNAL},            /* RFC 1918 */
    {{100, 64}, 10, ACME_ADDR_INTERNAL},      /* shared, RFC 6598 */
    {{127}, 8, ACME_ADDR_INTERNAL},           /* loopback */
    {{169, 254}, 16, ACME_ADDR_NEVER},        /* link-local */
    {{172, 16}, 12, ACME_ADDR_INTERNAL},      /* RFC 1918 */
    {{192, 0, 0}, 24, ACME_ADDR_INTERNAL},    /* IETF protocol */
    {{192, 0, 2}, 24, ACME_ADDR_INTERNAL},    /* TEST-NET-1 */
    {{192, 88, 99}, 24, ACME_ADDR_INTERNAL},  /* 6to4 relay anycast */
    {{192, 168}, 16, ACME_ADDR_INTERNAL},     /* RFC 1918 */
    {{198, 18}, 15, ACME_ADDR_INTERNAL},      /* benchmarking */
    {{198, 51, 100}, 24, ACME_ADDR_INTERNAL}, /* TEST-NET-2 */
    {{203, 0, 113}, 24, ACME_ADDR_INTERNAL},  /* TEST-NET-3 */
    {{224}, 4, ACME_ADDR_NEVER},              /* multicast */
    {{240}, 4, ACME_ADDR_NEVER}, /* reserved, and 255.255.255.255 */
};

/* IANA IPv6 Special-Purpose Address Registry, less the prefixes that embed
 * an IPv4 address (handled in acme_addr_classify). Only 2000::/3 is global
 * unicast at all; the 2001::/23 block is refused whole (its few global
 * exceptions are anycast services no ACME client runs on). */
static const struct special v6_special[] = {
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, ACME_ADDR_INTERNAL}, /* NAT64
								       local */
    {{0x20, 0x01, 0x00, 0x00}, 23, ACME_ADDR_INTERNAL}, /* IETF protocol */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, ACME_ADDR_INTERNAL}, /* documentation */
    {{0x3f, 0xff}, 20, ACME_ADDR_INTERNAL},             /* documentation */
    {{0xfc}, 7, ACME_ADDR_INTERNAL},                    /* unique local */
    {{0xfe, 0x80}, 10, ACME_ADDR_NEVER},                /* link-local */
    {{0xff}, 8, ACME_ADDR_NEVER},                       /* multicast */
};

static int
in_prefix(const unsigned char *a, const unsigned char *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, net, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

static enum acme_addr_class
lookup_special(const struct special *t, size_t n, const unsigned char *a,
    enum acme_addr_class otherwise)
{
	for (size_t i = 0; i < n; i++)
		if (in_prefix(a, t[i].net, t[i].bits))
			return (enum acme_addr_class)t[i].cls;
	return otherwise;
}

enum acme_addr_class
acme_addr_classify(int family, const unsigned char *addr)
{
	static const unsigned char zero[16],
	    mapped[12] = {[10] = 0xff, [11] = 0xff};
	static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	static const unsigned char global[1] = {0x20};

	if (family == AF_INET)
		return lookup_special(v4_special,
		    sizeof(v4_special) / sizeof(v4_special[0]), addr,
		    ACME_ADDR_GLOBAL);
	if (family != AF_INET6)
		return ACME_ADDR_NEVER;
	/* ::/128 unspecified (the rest of ::/8 is caught below) */
	if (memcmp(addr, zero, 16) == 0)
		return ACME_ADDR_NEVER;
	/* ::ffff:a.b.c.d reaches a.b.c.d; through NAT64, 64:ff9b::a.b.c.d
	 * does too; 2002:aabb:ccdd::/48 is 6to4 for a.b.c.d */
	if (memcmp(addr, mapped, 12) == 0 || memcmp(addr, nat64, 12) == 0)
		return acme_addr_classify(AF_INET, addr + 12);
	if (addr[0] == 0x20 && addr[1] == 0x02)
		return acme_addr_classify(AF_INET, addr + 2);
	/* outside 2000::/3 (incl. 100::/64, 5f00::/16, the rest of ::/8):
	 * not global unicast */
	if (!in_prefix(addr, global, 3))
		return lookup_special(v6_special,
		    sizeof(v6_special) / sizeof(v6_special[0]), addr,
		    ACME_ADDR_INTERNAL);
	return lookup_special(v6_special,
	    sizeof(v6_special) / sizeof(v6_special[0]), addr, ACME_ADDR_GLOBAL);
}

int
acme_addr_allowed(int family, const unsigned char *addr, int allow_private)
{
	switch (acme_addr_classify(family, addr)) {
	case ACME_ADDR_GLOBAL:
		return 1;
	case ACME_ADDR_INTERNAL:
		return allow_private != 0;
	case ACME_ADDR_NEVER:
		break;
	}
	return 0;
}

int
acme_addr_text_allowed(const char *text, int allow_private)
{
	unsigned char a[16];

	if (text == NULL)
		return 0;
	if (inet_pton(AF_INET, text, a) == 1)
		return acme_addr_allowed(AF_INET, a, allow_private);
	if (inet_pton(AF_INET6, text, a) == 1)
		return acme_addr_allowed(AF_INET6, a, allow_private);
	return 0;
}
