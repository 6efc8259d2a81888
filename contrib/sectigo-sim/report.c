/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: the SSL certificates report, POST /api/report/v1/ssl-
 * certificates (DOC25.5 "SSL certificates report", OAS
 * SslCertificatesReportRequest / SSLReportResponse, lifecycle.md §0): the
 * filtered certificate table in one answer, the call a client uses to
 * learn what changed in SCM (revocations, expiries, replacements,
 * approvals and declines).
 *
 * Choices where the sources are silent:
 * - The envelope is the documented one, {"statusCode":0,"reports":[...]},
 *   with the documented Content-Disposition; the rows carry the documented
 *   member names and dates as in the documentation's example
 *   ("2025-05-21T12:34:24.371Z", not the MM/dd/yyyy of the details).
 * - One row per sslId with its current certificate; a row leaves out the
 *   dates that do not apply (as the example does) and shows "" for the
 *   serial of a certificate not issued yet (as the example does).
 * - [INF] certificateStatus 1 (Requested) matches orders awaiting approval
 *   only; 2 (Issued) issued certificates not yet expired; 3 (Revoked);
 *   4 (Expired) issued certificates past their expiry; 0 all.
 * - [INF] certificateDateAttribute also takes 1 (download date: the first
 *   collect), as the documentation's own example request sends 1 and its
 *   answer holds a row whose "downloaded" date lies in the window.
 * - [INF] from/to are YYYY-MM-DD; an ISO date-time (what real clients send,
 *   "2020-06-02T00:00:00.000Z") is accepted and only its date counts.  The
 *   window is inclusive and whole UTC days.  Either bound may be left out.
 *   from after to, or a malformed date: 400 -1601.  from/to without
 *   certificateDateAttribute: 400 -7.
 * - [INF] an unknown organization id: 400 -1023; a value outside a
 *   documented enum: 400 -1601; a member of the wrong JSON type: -1002.
 * - [INF] commonName and externalRequester are SQL LIKE patterns (% and _),
 *   commonName without regard to case, externalRequester with (documented
 *   as case sensitive).
 * - [INF] serialNumberFormat "HEXWithLeadingZeros": upper-case hex of all
 *   serial bytes, no colons; otherwise the same with leading zeros
 *   stripped.
 * - Every order comes through the API, so certificateRequestSource 2 (Web
 *   API) matches all of them and the other sources none.
 * - Simulator extension: "replacedSerialNumbers", the serials the sslId
 *   carried before (same format as serialNumber).
 */
#include "contrib/sectigo-sim/internal.h"
#include "contrib/sectigo-sim/ca.h"
#include "contrib/sectigo-sim/store.h"
#include "contrib/sectigo-sim/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DESC_PARSE "Cannot parse message body"
#define DESC_INTERNAL "Internal error. Please contact Support for details."

/* most organization ids in one request */
#define MAX_ORGS 64

/** The parsed request. */
struct report_req {
	long orgs[MAX_ORGS]; /* organizationIds, norgs entries */
	size_t norgs;        /* 0: any organization */
	long status;         /* certificateStatus 0..4 */
	long date_attr;      /* certificateDateAttribute, 0 when absent */
	long source;         /* certificateRequestSource, -1 when absent */
	long from_day;       /* first UTC day (days since the epoch) */
	long to_day;         /* last UTC day */
	int has_from;        /* from given */
	int has_to;          /* to given */
	const char *cn;      /* commonName LIKE pattern, or NULL */
	const char *ext_req; /* externalRequester LIKE pattern, or NULL */
	int leading_zeros;   /* serialNumberFormat HEXWithLeadingZeros */
};

/* An int member: a JSON integer or a numeric string (Jackson-like). */
static int
member_long(const json_t *o, const char *key, long *out, int *present)
{
	const json_t *v = json_object_get(o, key);

	*present = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	*present = 1;
	if (json_is_integer(v)) {
		*out = (long)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) &&
	    sim_parse_long(json_string_value(v), INT32_MIN, INT32_MAX, out) ==
	        0)
		return 0;
	return -1;
}

/* A string member; -1 for another type. */
static int
member_str(const json_t *o, const char *key, const char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/*
 * "YYYY-MM-DD", optionally followed by "T..." (an ISO date-time whose time
 * is ignored), as days since the epoch.  @return 0, or -1
 */
static int
parse_day(const char *s, long *day)
{
	struct tm tm;
	int y, m, d, n = 0;
	time_t t;

	if (strlen(s) < 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 ||
	    n != 10 || (s[10] != '\0' && s[10] != 'T'))
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	/* timegm normalises 02-30 to 03-02: a changed field means invalid */
	if (t == (time_t)-1 || tm.tm_year != y - 1900 || tm.tm_mon != m - 1 ||
	    tm.tm_mday != d)
		return -1;
	*day = (long)(t / 86400);
	return 0;
}

static int
in_list(long v, const long *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == v)
			return 1;
	return 0;
}

/* Replies 400 -1601 for member name; @return -1 */
static int
bad(struct sim_req *r, const char *name)
{
	sim_reply_error(r, 400, -1601, "Field '%s' has invalid value.", name);
	return -1;
}

/*
 * Reads the request body; replies and returns -1 on a bad one.
 */
static int
parse_request(struct sim_req *r, const json_t *body, struct report_req *q)
{
	static const long statuses[] = {0, 1, 2, 3, 4};
	static const long attrs[] = {1, 2, 3, 4, 5};
	static const long sources[] = {0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12};
	const json_t *orgs, *v;
	const char *from = NULL, *to = NULL, *fmt = NULL;
	int p_status, p_attr, p_source;
	size_t i;
	long id;

	memset(q, 0, sizeof(*q));
	q->source = -1;
	if (body == NULL || !json_is_object(body))
		goto parse;
	orgs = json_object_get(body, "organizationIds");
	if (orgs != NULL && !json_is_null(orgs)) {
		if (!json_is_array(orgs) || json_array_size(orgs) > MAX_ORGS)
			goto parse;
		json_array_foreach(orgs, i, v) {
			if (json_is_integer(v))
				id = (long)json_integer_value(v);
			else if (!json_is_string(v) ||
			    sim_parse_long(json_string_value(v), INT32_MIN,
			        INT32_MAX, &id) != 0)
				goto parse;
			q->orgs[q->norgs++] = id;
		}
	}
	if (member_long(body, "certificateStatus", &q->status, &p_status) !=
	        0 ||
	    member_long(body, "certificateDateAttribute", &q->date_attr,
	        &p_attr) != 0 ||
	    member_long(
	        body, "certificateRequestSource", &q->source, &p_source) != 0 ||
	    member_str(body, "from", &from) != 0 ||
	    member_str(body, "to", &to) != 0 ||
	    member_str(body, "commonName", &q->cn) != 0 ||
	    member_str(body, "externalRequester", &q->ext_req) != 0 ||
	    member_str(body, "serialNumberFormat", &fmt) != 0)
		goto parse;
	v = json_object_get(body, "includeIpAddresses");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		goto parse;
	if (!p_status)
		q->status = 0;
	if (!p_attr)
		q->date_attr = 0;
	if (!p_source)
		q->source = -1;

	if (p_status && !in_list(q->status, statuses, 5))
		return bad(r, "certificateStatus");
	if (p_attr && !in_list(q->date_attr, attrs, 5))
		return bad(r, "certificateDateAttribute");
	if (p_source && !in_list(q->source, sources, 11))
		return bad(r, "certificateRequestSource");
	/* OAS: commonName up to 256 characters, none of < > backslash */
	if (q->cn != NULL &&
	    (strlen(q->cn) > 256 || strpbrk(q->cn, "<>\\") != NULL))
		return bad(r, "commonName");
	if (q->ext_req != NULL && strlen(q->ext_req) > 512)
		return bad(r, "externalRequester");
	if (from != NULL && *from != '\0') {
		if (parse_day(from, &q->from_day) != 0)
			return bad(r, "from");
		q->has_from = 1;
	}
	if (to != NULL && *to != '\0') {
		if (parse_day(to, &q->to_day) != 0)
			return bad(r, "to");
		q->has_to = 1;
	}
	if (q->has_from && q->has_to && q->from_day > q->to_day)
		return bad(r, "to");
	if ((q->has_from || q->has_to) && q->date_attr == 0) {
		sim_reply_error(r, 400, -7,
		    "certificateDateAttribute is required but missing.");
		return -1;
	}
	for (i = 0; i < q->norgs; i++) {
		if (!sim_org_known(r->sim, q->orgs[i])) {
			sim_reply_error(r, 400, -1023,
			    "Organization '%ld' not found.", q->orgs[i]);
			return -1;
		}
	}
	q->leading_zeros =
	    fmt != NULL && strcmp(fmt, "HEXWithLeadingZeros") == 0;
	return 0;
parse:
	sim_reply_error(r, 400, -1002, DESC_PARSE);
	return -1;
}

/* SQL LIKE: % any run, _ any one character; icase: without regard to case */
static int
like(const char *p, const char *s, int icase)
{
	for (; *p != '\0'; p++, s++) {
		if (*p == '%') {
			while (p[1] == '%')
				p++;
			if (p[1] == '\0')
				return 1;
			for (; *s != '\0'; s++)
				if (like(p + 1, s, icase))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*p == '_')
			continue;
		if (icase ? tolower((unsigned char)*p) !=
		            tolower((unsigned char)*s)
		          : *p != *s)
			return 0;
	}
	return *s == '\0';
}

/* The date certificateDateAttribute names; 0 when c has none. */
static time_t
attr_date(const struct sim_cert *c, long attr)
{
	switch (attr) {
	case 1:
		return c->downloaded;
	case 2:
		return c->status == SIM_ST_REVOKED ? c->revoked : 0;
	case 3:
		return c->expires;
	case 4:
		return c->requested;
	case 5:
		return c->issued;
	}
	return 0;
}

static int
row_match(const struct report_req *q, const struct sim_cert *c, time_t now)
{
	time_t t;
	long day;

	if (q->norgs > 0 && !in_list(c->org_id, q->orgs, q->norgs))
		return 0;
	switch (q->status) {
	case 1:
		if (c->status != SIM_ST_REQUESTED)
			return 0;
		break;
	case 2:
		if (c->status != SIM_ST_ISSUED || sim_cert_expired(c, now))
			return 0;
		break;
	case 3:
		if (c->status != SIM_ST_REVOKED)
			return 0;
		break;
	case 4:
		if (!sim_cert_expired(c, now))
			return 0;
		break;
	}
	if (q->source >= 0 && q->source != 2)
		return 0;
	if (q->cn != NULL && *q->cn != '\0' &&
	    (c->common_name == NULL || !like(q->cn, c->common_name, 1)))
		return 0;
	if (q->ext_req != NULL && *q->ext_req != '\0' &&
	    (c->external_requester == NULL ||
	        !like(q->ext_req, c->external_requester, 0)))
		return 0;
	if (q->has_from || q->has_to) {
		t = attr_date(c, q->date_attr);
		if (t == 0)
			return 0;
		/* whole UTC days; floor for dates before the epoch */
		day = (long)(t >= 0 ? t / 86400 : -((-t + 86399) / 86400));
		if ((q->has_from && day < q->from_day) ||
		    (q->has_to && day > q->to_day))
			return 0;
	}
	return 1;
}

/* "2025-05-21T12:34:24.000Z", as in the documentation's example */
static json_t *
iso_date(time_t t)
{
	char buf[32];
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.000Z", &tm) == 0)
		return NULL;
	return json_string(buf);
}

/* A colon-hex serial in the report's format (see the file comment). */
static json_t *
serial_json(const char *colon_hex, int leading_zeros)
{
	char buf[128];
	size_t k = 0;

	for (; colon_hex != NULL && *colon_hex != '\0' && k < sizeof(buf) - 1;
	     colon_hex++) {
		if (*colon_hex == ':')
			continue;
		if (!leading_zeros && k == 0 && *colon_hex == '0')
			continue;
		buf[k++] = (char)toupper((unsigned char)*colon_hex);
	}
	buf[k] = '\0';
	return json_string(buf);
}

/* Sets o[key] = v, taking v; any failure is remembered in *err. */
static void
put(json_t *o, const char *key, json_t *v, int *err)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*err = 1;
}

static void
put_date(json_t *o, const char *key, time_t t, int *err)
{
	if (t != 0)
		put(o, key, iso_date(t), err);
}

static json_t *
row_json(const struct sim *sim, const struct report_req *q,
    const struct sim_cert *c, time_t now)
{
	const struct sim_profile *p = sim_profile_find(sim, c->cert_type);
	json_t *o, *old, *e;
	char buf[64], sha1[41], sha256[65], *sans;
	size_t i, len = 0;
	int err = 0;

	o = json_object();
	if (o == NULL)
		return NULL;
	put(o, "id", json_integer(c->id), &err);
	put(o, "type", json_string(p != NULL ? p->name : ""), &err);
	put(o, "typeId", json_integer(c->cert_type), &err);
	put(o, "orgId", json_integer(c->org_id), &err);
	put(o, "organizationName", json_string(sim_org_name(sim, c->org_id)),
	    &err);
	put(o, "commonName", json_string(c->common_name ? c->common_name : ""),
	    &err);
	/* subjAltNames: one string, "; "-separated (DOC example) */
	for (i = 0; i < json_array_size(c->sans); i++)
		len +=
		    strlen(json_string_value(json_array_get(c->sans, i))) + 2;
	sans = malloc(len + 1);
	if (sans == NULL) {
		json_decref(o);
		return NULL;
	}
	sans[0] = '\0';
	for (i = 0; i < json_array_size(c->sans); i++) {
		if (i > 0)
			strcat(sans, "; ");
		strcat(sans, json_string_value(json_array_get(c->sans, i)));
	}
	put(o, "subjAltNames", json_string(sans), &err);
	free(sans);
	put(o, "status", json_string(sim_cert_status(c, now)), &err);
	put(o, "requester", json_string(c->requester ? c->requester : ""),
	    &err);
	if (c->approver != NULL)
		put(o, "approver", json_string(c->approver), &err);
	snprintf(buf, sizeof(buf), "%ld", c->id);
	put(o, "backendCertId", json_string(buf), &err);
	put(o, "orderNumber", json_integer(c->id), &err);
	put(o, "requestedVia", json_string("Web API"), &err);
	put(o, "term", json_integer(c->term), &err);
	put(o, "comments", json_string(c->comments ? c->comments : ""), &err);
	if (c->external_requester != NULL)
		put(o, "externalRequester", json_string(c->external_requester),
		    &err);
	put_date(o, "requested", c->requested, &err);
	put_date(o, "approved", c->approved, &err);
	put_date(o, "declined", c->declined, &err);
	put_date(o, "issued", c->issued, &err);
	put_date(o, "downloaded", c->downloaded, &err);
	put_date(o, "expires", c->expires, &err);
	if (c->status == SIM_ST_REVOKED)
		put_date(o, "revoked", c->revoked, &err);
	put_date(o, "replaced", c->replaced, &err);
	put(o, "serialNumber", serial_json(c->serial, q->leading_zeros), &err);
	if (c->cert_pem != NULL) {
		put(o, "issuer", json_string(sim_ca_issuer_dn(sim->ca)), &err);
		put(o, "signatureAlg", json_string("SHA256WITHECDSA"), &err);
		snprintf(buf, sizeof(buf), "%s - %s", c->key_alg, c->key_param);
		put(o, "publicKeyType", json_string(buf), &err);
		if (sim_ca_fingerprints(c->cert_pem, sha1, sha256) == 0) {
			for (i = 0; sha1[i] != '\0'; i++)
				sha1[i] = (char)toupper((unsigned char)sha1[i]);
			put(o, "sha1", json_string(sha1), &err);
		}
	}
	put(o, "customFields", json_deep_copy(c->custom_fields), &err);
	/* simulator extension: the serials this sslId carried before */
	old = json_array();
	json_array_foreach(c->replaced_serials, i, e) {
		if (old != NULL &&
		    json_array_append_new(old,
		        serial_json(json_string_value(
		                        json_object_get(e, "serialNumber")),
		            q->leading_zeros)) != 0)
			err = 1;
	}
	put(o, "replacedSerialNumbers", old, &err);
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void
sim_api_report(struct sim_req *r)
{
	struct sim *sim = r->sim;
	struct report_req q;
	struct sim_cert *c;
	const char *ot = sim_req_query(r, "output_type");
	json_t *body = sim_req_json(r), *rows = NULL;
	time_t now = time(NULL);
	size_t i;

	/* OAS: output_type absent, "direct" or "buffered"; same answer here */
	if (ot != NULL && strcasecmp(ot, "direct") != 0 &&
	    strcasecmp(ot, "buffered") != 0) {
		bad(r, "output_type");
		goto out;
	}
	if (parse_request(r, body, &q) != 0)
		goto out;
	rows = json_array();
	for (i = 0; rows != NULL && i < sim_store_count(sim->store); i++) {
		c = sim_store_at(sim->store, i);
		/* the same view as details: issue what is due */
		(void)sim_cert_advance(sim, c, 0);
		if (!row_match(&q, c, now))
			continue;
		if (json_array_append_new(rows, row_json(sim, &q, c, now)) !=
		    0) {
			json_decref(rows);
			rows = NULL;
		}
	}
	if (rows == NULL) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		goto out;
	}
	snprintf(r->note, sizeof(r->note), "rows=%zu", json_array_size(rows));
	sim_reply_json(
	    r, 200, json_pack("{s:i, s:o}", "statusCode", 0, "reports", rows));
	/* DOC25.5 example answer */
	sim_set_header(r, "Content-Disposition",
	    "attachment; filename=\"rest_api_ssl-certificates.json\"");
out:
	json_decref(body);
}
