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
	char urn[128];
	json_t *sub;

	if (p->subproblems == NULL)
		p->subproblems = json_array();
	if (p->subproblems == NULL)
		return;
	sub = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type",
	    acme_problem_urn(type, urn, sizeof(urn)), "detail", detail,
	    "identifier", "type", id_type, "value", id_value);
	if (sub != NULL)
		json_array_append_new(p->subproblems, sub);
}

json_t *
acme_problem_json(const struct acme_problem *p)
{
	char urn[128];
	json_t *doc;

	doc = json_pack("{s:s, s:s, s:i}", "type",
	    acme_problem_urn(
	        p->type ? p->type : "serverInternal", urn, sizeof(urn)),
	    "detail", p->detail, "status", p->status);
	if (doc == NULL)
		return NULL;
	if (p->subproblems != NULL)
		json_object_set(doc, "subproblems", p->subproblems);
	if (p->extra != NULL)
		json_object_update(doc, p->extra);
	return doc;
}
