/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 8555 §6.7 problem documents. */
#include "acme/problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
acme_problem_clear(struct acme_problem *p)
{
	json_decref(p->subproblems);
	json_decref(p->extra);
	memset(p, 0, sizeof(*p));
}

void
acme_problem_set(
    struct acme_problem *p, int status, const char *type, const char *fmt, ...)
{
	va_list ap;

	acme_problem_clear(p);
	p->type = type;
	p->status = status;
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
}

const char *
acme_problem_urn(const char *type, char *buf, size_t len)
{
	snprintf(buf, len, "urn:ietf:params:acme:error:%s", type);
	return buf;
}

void
acme_problem_add_sub(struct acme_problem *p, const char *type,
    const char *detail, const char *id_type, const char *id_value)
{
	char urn[128], d[sizeof(p->detail)];
	json_t *sub;

	if (p->subproblems == NULL)
		p->subproblems = json_array();
	if (p->subproblems == NULL)
		return;
	snprintf(d, sizeof(d), "%s", detail);
	acme_utf8_trim(d);
	sub = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type",
	    acme_problem_urn(type, urn, sizeof(urn)), "detail", d, "identifier",
	    "type", id_type, "value", id_value);
	if (sub != NULL)
		json_array_append_new(p->subproblems, sub);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void
acme_utf8_trim(char *s)
{
	unsigned char *in = (unsigned char *)s, *out = in;

	/* a "%.200s" or a full buffer can cut a character in two; its
	 * leftover bytes go, the whole characters around them stay */
	while (*in != '\0') {
		size_t n = utf8_seq(in);

		if (n == 0) {
			in++;
			continue;
		}
		memmove(out, in, n);
		out += n;
		in += n;
	}
	*out = '\0';
}

json_t *
acme_problem_json(const struct acme_problem *p)
{
	char urn[128], detail[sizeof(p->detail)];
	json_t *doc;

	acme_problem_urn(
	    p->type ? p->type : "serverInternal", urn, sizeof(urn));
	snprintf(detail, sizeof(detail), "%s", p->detail);
	acme_utf8_trim(detail);
	doc = json_pack("{s:s, s:s, s:i}", "type", urn, "detail", detail,
	    "status", p->status);
	/* a problem always has a body, whatever its detail held */
	if (doc == NULL)
		doc = json_pack("{s:s, s:s, s:i}", "type", urn, "detail",
		    "the request could not be processed", "status", p->status);
	if (doc == NULL)
		return NULL;
	if (p->subproblems != NULL)
		json_object_set(doc, "subproblems", p->subproblems);
	if (p->extra != NULL)
		json_object_update(doc, p->extra);
	return doc;
}
