/* SPDX-License-Identifier: Apache-2.0 */
/* ACME identifiers: DNS names (RFC 1035/1123 host names, RFC 8555 §7.1.3
 * wildcards) and IP addresses (RFC 8738), checked and normalised. */
#include "acme/ident.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDENTS 100
#define MAX_NAME 253
#define MAX_LABEL 63

static int
is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
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

int
acme_idents_parse(const json_t *arr, struct acme_ident **out, size_t *n,
    struct acme_problem *prob)
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

		if (acme_ident_parse(obj, &id, &sub) != 0) {
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
