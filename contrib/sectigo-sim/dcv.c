/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulator's domains (/api/domain/v1) and domain control validation
 * (/api/dcv/v1|v2/validation), in memory.
 *
 * Choices where the SCM reference says "unknown" (written down here, the
 * one place that decides them):
 * - A DCV request for a name SCM does not hold answers 400 -727 ("does not
 *   exist"); for a name under a held domain, 400 -723 (not high level).
 * - Order status wire spellings: NOT_INITIATED and SUBMITTED are
 *   documented; "Awaiting submission" and "Rejected" are only display
 *   names, spelled here AWAITING_SUBMISSION (after a CNAME start, until
 *   its submit) and REJECTED.
 * - Submit (TXT, CNAME) starts checks: the record is looked up with a real
 *   DNS query at --dns-resolver (dns_lookup_txt, which follows CNAMEs as a
 *   public resolver would; dns_lookup_cname for the CNAME method: the
 *   record at the host itself), once a second, --dcv-check-attempts times.
 *   TXT data compares byte for byte, a CNAME target without regard to case
 *   or the final dot. Found: VALIDATED, validation date today, expiry
 *   today + --dcv-validity-days (198, Sectigo's reuse period since
 *   2026-03). Never found: NOT_VALIDATED with order status REJECTED (the
 *   domain keeps an earlier, still current validation). Without
 *   --dns-resolver a submission stays SUBMITTED. A new submit, clear or
 *   delete stops the checks in progress.
 * - Lists: "name" (domains) and "domain" (DCV) match the whole name
 *   without regard to case; every domain is ACTIVE and its delegation
 *   approved, so state=inactive and status=requested match nothing; other
 *   values of these filters answer -1601.
 * - Domain create: a name that is not a host name (letters, digits,
 *   hyphens, at least two labels, an optional leading "*.") answers -732;
 *   a delegation to an organization other than ours (or its department)
 *   -1023; a missing or empty delegation list -1002.
 * - The TXT point is 32 random printable characters, punctuation included
 *   (backslash, quote, |, ;, backquote), as in Sectigo's example.
 * - --require-dcv: an enrollment naming a domain whose covering SCM domain
 *   is missing answers -1010 ("not allowed"); one whose domain has no
 *   current validation answers -1137.
 * - Moving the clock ("advance_days" control) ages every stored
 *   validation by that many days: dates move back, so a client on the
 *   real clock sees what it would see that many days later.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "contrib/sectigo-sim/internal.h"
#include "dns/resolve.h"

#define DCV_DOMAINS_MAX 1024

enum dcv_order {
	ORD_NOT_INITIATED,
	ORD_AWAITING, /* CNAME started, not submitted yet */
	ORD_SUBMITTED,
	ORD_REJECTED,
};

struct sim_domain {
	long id;
	char name[256];
	int validated;
	time_t validated_at, expires;
	char method[24];      /* validationMethod, e.g. DNSTXT_RANDOM_VALUE */
	enum dcv_order order; /* DCV order status */
	char mode[8];         /* orderMode: TXT | CNAME */
	char host[300];       /* record name, with the final dot */
	char point[300];      /* TXT value or CNAME target (final dot) */
	int checks_left;
	time_t submitted;  /* last submit, 0 if none */
	time_t last_check; /* last lookup answered, 0 if none */
	time_t next_check; /* next lookup due, 0 if none */
	long backend_id;   /* orderBackendId of the last submit */
	struct event *check_ev;
	struct sim *sim;
};

struct sim_dcv {
	struct sim_domain *d[DCV_DOMAINS_MAX];
	size_t n;
	long next_id;
	struct dns_resolver *res;
	long next_backend_id;
	unsigned long starts, submits, checks, validated, rejected;
};

static const char *
order_str(enum dcv_order o)
{
	return o == ORD_SUBMITTED ? "SUBMITTED"
	    : o == ORD_REJECTED   ? "REJECTED"
	    : o == ORD_AWAITING   ? "AWAITING_SUBMISSION"
	                          : "NOT_INITIATED";
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static struct sim_domain *
find(struct sim *sim, const char *name)
{
	for (size_t i = 0; i < sim->dcv->n; i++)
		if (strcasecmp(sim->dcv->d[i]->name, name) == 0)
			return sim->dcv->d[i];
	return NULL;
}

static struct sim_domain *
find_id(struct sim *sim, long id)
{
	for (size_t i = 0; i < sim->dcv->n; i++)
		if (sim->dcv->d[i]->id == id)
			return sim->dcv->d[i];
	return NULL;
}

/* The held domain that is name or a parent of it. */
static struct sim_domain *
covering(struct sim *sim, const char *name)
{
	const char *p = name;

	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	while (p != NULL && *p != '\0') {
		struct sim_domain *d = find(sim, p);
		if (d != NULL)
			return d;
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static int
current(const struct sim_domain *d)
{
	return d->validated && time(NULL) < d->expires;
}

static const char *
status_str(const struct sim_domain *d)
{
	return current(d)  ? "VALIDATED"
	    : d->validated ? "EXPIRED"
	                   : "NOT_VALIDATED";
}

/* Records a validation made now by method. */
static void
validate_now(struct sim_domain *d, const char *method)
{
	d->validated = 1;
	d->validated_at = time(NULL);
	d->expires =
	    d->validated_at + (time_t)d->sim->conf->dcv_validity_days * 86400;
	snprintf(d->method, sizeof(d->method), "%s", method);
}

static struct sim_domain *
domain_add(struct sim *sim, const char *name, int validated)
{
	struct sim_dcv *v = sim->dcv;
	struct sim_domain *d;

	if (v->n >= DCV_DOMAINS_MAX || strlen(name) < 4 || strlen(name) > 255)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->sim = sim;
	d->id = v->next_id++;
	snprintf(d->name, sizeof(d->name), "%s", name);
	lower(d->name);
	if (validated)
		validate_now(d, "DNSTXT_RANDOM_VALUE");
	v->d[v->n++] = d;
	return d;
}

/* Stops the record checks of d: the timer and a lookup in flight. */
static void
checks_stop(struct sim_domain *d)
{
	if (d->check_ev != NULL)
		evtimer_del(d->check_ev);
	if (d->sim->dcv->res != NULL)
		dns_lookup_cancel(d->sim->dcv->res, d);
	d->next_check = 0;
}

static void
domain_free(struct sim_domain *d)
{
	checks_stop(d);
	if (d->check_ev != NULL)
		event_free(d->check_ev);
	free(d);
}

int
sim_dcv_init(struct sim *sim)
{
	sim->dcv = calloc(1, sizeof(*sim->dcv));
	if (sim->dcv == NULL)
		return -1;
	sim->dcv->next_id = 400;
	sim->dcv->next_backend_id = 100500;
	if (sim->conf->dns_resolver != NULL) {
		sim->dcv->res =
		    dns_resolver_new(sim->base, sim->conf->dns_resolver, 1000);
		if (sim->dcv->res == NULL) {
			fprintf(stderr,
			    "sectigo-sim: --dns-resolver: bad address %s\n",
			    sim->conf->dns_resolver);
			return -1;
		}
	}
	for (size_t i = 0; i < sim->conf->n_domains; i++) {
		char name[260];
		const char *spec = sim->conf->domains[i];
		const char *colon = strchr(spec, ':');
		int validated =
		    colon != NULL && strcmp(colon, ":validated") == 0;

		snprintf(name, sizeof(name), "%.*s",
		    (int)(colon ? (size_t)(colon - spec) : strlen(spec)), spec);
		if (domain_add(sim, name, validated) == NULL) {
			fprintf(stderr, "sectigo-sim: --domain %s: refused\n",
			    spec);
			return -1;
		}
	}
	return 0;
}

void
sim_dcv_free(struct sim *sim)
{
	if (sim->dcv == NULL)
		return;
	for (size_t i = 0; i < sim->dcv->n; i++)
		domain_free(sim->dcv->d[i]);
	dns_resolver_free(sim->dcv->res);
	free(sim->dcv);
	sim->dcv = NULL;
}

/* ---- enrollment check ---- */

int
sim_dcv_check_names(struct sim_req *r, const json_t *names)
{
	size_t i;
	json_t *v;

	if (!r->sim->conf->require_dcv)
		return 0;
	json_array_foreach(names, i, v) {
		const char *n = json_string_value(v);
		struct sim_domain *d;

		if (n == NULL || strspn(n, "0123456789.") == strlen(n) ||
		    strchr(n, ':') != NULL)
			continue; /* IP addresses: no domain validation */
		d = covering(r->sim, n);
		if (d == NULL) {
			sim_reply_error(
			    r, 400, -1010, "Domain '%s' is not allowed.", n);
			return -1;
		}
		if (!current(d)) {
			sim_reply_error(r, 400, -1137,
			    "The domain(s) %s have not been validated under "
			    "the DCV procedure.",
			    d->name);
			return -1;
		}
	}
	return 0;
}

/* ---- the record check ---- */

static void check_soon(struct sim_domain *d);

static void
on_lookup(
    void *arg, int rc, const char *const *vals, const size_t *lens, size_t n)
{
	struct sim_domain *d = arg;
	int cname = strcmp(d->mode, "CNAME") == 0;
	char want[300];
	int found = 0;

	/* a CNAME target comes back lower case without the final dot */
	snprintf(want, sizeof(want), "%s", d->point);
	if (cname) {
		size_t len = strlen(want);
		if (len > 0 && want[len - 1] == '.')
			want[len - 1] = '\0';
		lower(want);
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (lens[i] == strlen(want) &&
		    memcmp(vals[i], want, lens[i]) == 0)
			found = 1;
	d->sim->dcv->checks++;
	d->last_check = time(NULL);
	d->next_check = 0;
	if (found) {
		validate_now(
		    d, cname ? "CNAME_CSR_HASH" : "DNSTXT_RANDOM_VALUE");
		d->order = ORD_NOT_INITIATED;
		d->sim->dcv->validated++;
		fprintf(stderr, "sectigo-sim: dcv %s: validated (%s found)\n",
		    d->name, d->mode);
		return;
	}
	if (--d->checks_left <= 0) {
		d->order = ORD_REJECTED;
		d->sim->dcv->rejected++;
		fprintf(stderr,
		    "sectigo-sim: dcv %s: rejected (%s %s not "
		    "found)\n",
		    d->name, d->mode, d->host);
		return;
	}
	check_soon(d);
}

static void
on_check(evutil_socket_t fd, short what, void *arg)
{
	struct sim_domain *d = arg;
	struct dns_resolver *res = d->sim->dcv->res;
	char host[300];
	size_t n;
	int rc;

	(void)fd;
	(void)what;
	snprintf(host, sizeof(host), "%s", d->host);
	n = strlen(host);
	if (n > 0 && host[n - 1] == '.')
		host[n - 1] = '\0';
	rc = strcmp(d->mode, "CNAME") == 0
	    ? dns_lookup_cname(res, host, on_lookup, d)
	    : dns_lookup_txt(res, host, on_lookup, d);
	if (rc != 0) /* not even asked: counts as a check that failed */
		on_lookup(d, -1, NULL, NULL, 0);
}

static void
check_soon(struct sim_domain *d)
{
	struct timeval tv = {1, 0};

	if (d->check_ev == NULL)
		d->check_ev = evtimer_new(d->sim->base, on_check, d);
	if (d->check_ev != NULL && evtimer_add(d->check_ev, &tv) == 0)
		d->next_check = time(NULL) + 1;
}

/* ---- helpers ---- */

static void
random_hex(char *out, size_t nbytes)
{
	unsigned char b[32];

	RAND_bytes(b, (int)nbytes);
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* 32 printable characters, punctuation included. */
static void
random_point(char *out)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                          "qrstuvwxyz0123456789!#$%&()*+,-./:;<=>?@["
	                          "\\]^_`{|}~\"'";
	unsigned char b[32];

	RAND_bytes(b, sizeof(b));
	for (size_t i = 0; i < 32; i++)
		out[i] = set[b[i] % (sizeof(set) - 1)];
	/* always some of the hard ones: escaping must be right */
	out[3] = '\\';
	out[11] = '|';
	out[17] = ';';
	out[23] = '`';
	out[32] = '\0';
}

/* t (UTC) as a DCV or domain date, 2025-05-21 (buf holds 11 bytes), or
 * with iso as lastCheck/nextCheck carry it, 2025-05-21T11:27:52.000Z
 * (buf holds 25 bytes) */
static char *
utc_str(time_t t, int iso, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (iso)
		strftime(buf, 25, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	else
		strftime(buf, 11, "%Y-%m-%d", &tm);
	return buf;
}

static char *
date_str(time_t t, char *buf)
{
	return utc_str(t, 0, buf);
}

static char *
iso_str(time_t t, char *buf)
{
	return utc_str(t, 1, buf);
}

/* A host name SCM could hold: letters, digits and hyphens in two labels
 * or more, with an optional leading "*.". */
static int
name_ok(const char *n)
{
	size_t label = 0, labels = 0;

	if (strncmp(n, "*.", 2) == 0)
		n += 2;
	for (; *n != '\0'; n++) {
		if (*n == '.') {
			if (label == 0 || n[-1] == '-')
				return 0;
			labels++;
			label = 0;
		} else if (isalnum((unsigned char)*n) ||
		    (*n == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && labels > 0;
}

/* Whether the next item of a list page is on the page; counts it. */
static int
page_take(long *seen, long pos, long size)
{
	long i = (*seen)++;

	return i >= pos && i - pos < size;
}

/* Replies with a list page and its X-Total-Count. */
static void
reply_page(struct sim_req *r, json_t *a, long total)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%ld", total);
	sim_set_header(r, "X-Total-Count", buf);
	sim_reply_json(r, 200, a);
}

/* An optional query filter that must be one of the words in set (any
 * case). @return 0, or -1 after a -1601 reply */
static int
query_word(struct sim_req *r, const char *name, const char *const *set,
    const char **out)
{
	*out = sim_req_query(r, name);
	if (*out == NULL)
		return 0;
	for (; *set != NULL; set++)
		if (strcasecmp(*out, *set) == 0)
			return 0;
	sim_reply_error(r, 400, -1601, "Field '%s' has invalid value.", name);
	return -1;
}

/* The domain named by the request body, or an error reply. */
static struct sim_domain *
body_domain(struct sim_req *r, json_t **body)
{
	const char *name;
	struct sim_domain *d;

	*body = sim_req_json(r);
	name = json_string_value(json_object_get(*body, "domain"));
	if (name == NULL || strlen(name) < 3 || strlen(name) > 255) {
		sim_reply_error(r, 400, -1002, "Cannot parse message body");
		return NULL;
	}
	d = find(r->sim, name);
	if (d != NULL)
		return d;
	if (covering(r->sim, name) != NULL)
		sim_reply_error(r, 400, -723,
		    "%s is not a high-level domain. Only high-level domains "
		    "can be validated.",
		    name);
	else
		sim_reply_error(
		    r, 400, -727, "The domain '%s' does not exist.", name);
	return NULL;
}

/* ---- domain API ---- */

void
sim_api_domain_list(struct sim_req *r)
{
	static const char *const states[] = {"active", "inactive", NULL};
	static const char *const statuses[] = {"requested", "approved", NULL};
	const char *name = sim_req_query(r, "name"), *state, *status;
	long size, pos, org = 0, total = 0;
	json_t *a;

	if (sim_query_page(r, &size, &pos) != 0 ||
	    sim_query_long(r, "orgId", 1, INT32_MAX, &org) != 0 ||
	    query_word(r, "state", states, &state) != 0 ||
	    query_word(r, "status", statuses, &status) != 0)
		return;
	a = json_array();
	for (size_t i = 0; i < r->sim->dcv->n; i++) {
		struct sim_domain *d = r->sim->dcv->d[i];

		if ((name != NULL && strcasecmp(name, d->name) != 0) ||
		    (state != NULL && strcasecmp(state, "active") != 0) ||
		    (status != NULL && strcasecmp(status, "approved") != 0) ||
		    (org != 0 && org != r->sim->conf->org_id))
			continue;
		if (page_take(&total, pos, size))
			json_array_append_new(a,
			    json_pack("{s:I, s:s}", "id", (json_int_t)d->id,
			        "name", d->name));
	}
	reply_page(r, a, total);
}

void
sim_api_domain_get(struct sim_req *r)
{
	struct sim_domain *d = find_id(r->sim, strtol(r->seg[3], NULL, 10));
	char v[16], e[16];
	json_t *o;

	if (d == NULL) {
		sim_reply_error(
		    r, 404, -727, "The domain '%s' does not exist.", r->seg[3]);
		return;
	}
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:[{s:I, s:[s], s:[s,s,s],"
	              " s:s}]}",
	    "id", (json_int_t)d->id, "name", d->name, "delegationStatus",
	    "ACTIVE", "state", "ACTIVE", "validationStatus", status_str(d),
	    "delegations", "orgId", (json_int_t)r->sim->conf->org_id,
	    "certTypes", "SSL", "domainCertificateRequestPrivileges", "DOMAIN",
	    "SUBDOMAIN", "WILDCARD_1ST_LEVEL", "status", "ACTIVE");
	if (o != NULL && d->validated) {
		json_object_set_new(
		    o, "validationMethod", json_string(d->method));
		json_object_set_new(o, "dcvValidation",
		    json_string(date_str(d->validated_at, v)));
		json_object_set_new(
		    o, "dcvExpiration", json_string(date_str(d->expires, e)));
	}
	sim_reply_json(r, 200, o);
}

void
sim_api_domain_create(struct sim_req *r)
{
	json_t *body = sim_req_json(r);
	const char *name = json_string_value(json_object_get(body, "name"));
	json_t *dl = json_object_get(body, "delegations"), *it;
	struct sim_domain *d;
	char loc[512], path[64], nm[260];
	size_t i;

	if (name == NULL || strlen(name) < 4 || strlen(name) > 255 ||
	    !json_is_array(dl) || json_array_size(dl) == 0) {
		sim_reply_error(r, 400, -1002,
		    "Cannot parse message body: name (4..255) and "
		    "delegations (at least one) are required");
		goto out;
	}
	if (!name_ok(name)) {
		sim_reply_error(r, 400, -732, "Invalid domain name.");
		goto out;
	}
	json_array_foreach(dl, i, it) {
		json_t *org = json_object_get(it, "orgId");
		long id = (long)json_integer_value(org);

		if (!json_is_integer(org) ||
		    (id != r->sim->conf->org_id &&
		        id != r->sim->conf->org_id + 1)) {
			sim_reply_error(
			    r, 400, -1023, "Organization '%ld' not found.", id);
			goto out;
		}
	}
	snprintf(nm, sizeof(nm), "%s", name);
	lower(nm);
	if (find(r->sim, nm) != NULL) {
		sim_reply_error(r, 400, -700, "Such domain already exists");
		goto out;
	}
	d = domain_add(r->sim, nm, 0);
	if (d == NULL) {
		sim_reply_error(r, 400, -1002, "Cannot add the domain");
		goto out;
	}
	snprintf(path, sizeof(path), "/api/domain/v1/%ld", d->id);
	sim_self_url(r, path, loc, sizeof(loc));
	sim_set_header(r, "Location", loc);
	sim_reply_empty(r, 201);
out:
	json_decref(body);
}

void
sim_api_domain_delete(struct sim_req *r)
{
	long id = strtol(r->seg[3], NULL, 10);
	struct sim_dcv *v = r->sim->dcv;

	for (size_t i = 0; i < v->n; i++)
		if (v->d[i]->id == id) {
			domain_free(v->d[i]);
			v->d[i] = v->d[--v->n];
			sim_reply_empty(r, 204);
			return;
		}
	sim_reply_error(r, 404, -727, "The domain '%ld' does not exist.", id);
}

/* ---- DCV API ---- */

/* The v2 status object; absent fields are left out. */
static json_t *
status_json(const struct sim_domain *d)
{
	char v[16], e[16], t[32];
	json_t *o = json_pack("{s:s, s:s}", "status", status_str(d),
	    "orderStatus", order_str(d->order));

	if (o == NULL)
		return NULL;
	if (d->validated) {
		json_object_set_new(o, "validationDate",
		    json_string(date_str(d->validated_at, v)));
		json_object_set_new(
		    o, "expirationDate", json_string(date_str(d->expires, e)));
	}
	if (d->mode[0] != '\0') {
		json_object_set_new(o, "orderMode", json_string(d->mode));
		json_object_set_new(o, "host", json_string(d->host));
		json_object_set_new(o, "point", json_string(d->point));
	}
	if (d->submitted != 0) {
		snprintf(t, sizeof(t), "%ld", d->backend_id);
		json_object_set_new(o, "orderBackendId", json_string(t));
		json_object_set_new(
		    o, "submittedDate", json_string(date_str(d->submitted, v)));
	}
	if (d->last_check != 0)
		json_object_set_new(
		    o, "lastCheck", json_string(iso_str(d->last_check, t)));
	if (d->next_check != 0)
		json_object_set_new(
		    o, "nextCheck", json_string(iso_str(d->next_check, t)));
	return o;
}

void
sim_api_dcv_status(struct sim_req *r)
{
	json_t *body;
	struct sim_domain *d = body_domain(r, &body);

	if (d != NULL)
		sim_reply_json(r, 200, status_json(d));
	json_decref(body);
}

void
sim_api_dcv_list(struct sim_req *r)
{
	static const char *const statuses[] = {
	    "VALIDATED", "NOT_VALIDATED", "EXPIRED", NULL};
	static const char *const orders[] = {"NOT_INITIATED",
	    "AWAITING_SUBMISSION", "SUBMITTED", "REJECTED", NULL};
	const char *dom = sim_req_query(r, "domain"), *st, *ord;
	long size, pos, within = -1, total = 0;
	json_t *a;
	char e[16];

	if (sim_query_page(r, &size, &pos) != 0 ||
	    sim_query_long(r, "expiresIn", 0, 36500, &within) != 0 ||
	    query_word(r, "dcvStatus", statuses, &st) != 0 ||
	    query_word(r, "orderStatus", orders, &ord) != 0)
		return;
	a = json_array();
	for (size_t i = 0; i < r->sim->dcv->n; i++) {
		struct sim_domain *d = r->sim->dcv->d[i];
		json_t *o;

		if ((dom != NULL && strcasecmp(dom, d->name) != 0) ||
		    (st != NULL && strcasecmp(st, status_str(d)) != 0) ||
		    (ord != NULL &&
		        strcasecmp(ord, order_str(d->order)) != 0) ||
		    (within >= 0 &&
		        (!current(d) ||
		            d->expires > time(NULL) + within * 86400)))
			continue;
		if (!page_take(&total, pos, size))
			continue;
		o = json_pack("{s:s, s:s, s:s, s:s}", "domain", d->name,
		    "dcvStatus", status_str(d), "dcvOrderStatus",
		    order_str(d->order), "dcvMethod",
		    d->method[0] ? d->method : "DNSTXT_RANDOM_VALUE");
		if (o != NULL && d->mode[0] != '\0')
			json_object_set_new(
			    o, "dcvOrderMethod", json_string(d->mode));
		if (o != NULL && d->validated)
			json_object_set_new(o, "expirationDate",
			    json_string(date_str(d->expires, e)));
		json_array_append_new(a, o);
	}
	reply_page(r, a, total);
}

/* The method is the path's last segment. */
static const char *
method_seg(const struct sim_req *r)
{
	return r->nseg > 0 ? r->seg[r->nseg - 1] : "";
}

void
sim_api_dcv_start(struct sim_req *r)
{
	const char *m = method_seg(r);
	json_t *body;
	struct sim_domain *d;
	char md5[33], sha1[33], sha2[33];

	if (strcmp(m, "txt") == 0) {
		/* TXT needs no start: submit directly */
		json_decref(sim_req_json(r));
		sim_reply_json(r, 200,
		    json_pack("{s:s}", "message",
		        "DNS TXT domain validation method does not require "
		        "start operation"));
		return;
	}
	if (strcmp(m, "cname") != 0) {
		sim_reply_error(r, 400, -1603,
		    "Error while validating the domain: method %s is not "
		    "offered by this simulator",
		    m);
		return;
	}
	d = body_domain(r, &body);
	if (d == NULL)
		goto out;
	random_hex(md5, 16);
	random_hex(sha1, 16);
	random_hex(sha2, 16);
	snprintf(d->mode, sizeof(d->mode), "CNAME");
	snprintf(d->host, sizeof(d->host), "_%s.%s.", md5, d->name);
	snprintf(d->point, sizeof(d->point), "%s.%s.sectigo.com.", sha1, sha2);
	checks_stop(d);
	d->order = ORD_AWAITING;
	r->sim->dcv->starts++;
	sim_reply_json(r, 200,
	    json_pack("{s:s, s:s}", "host", d->host, "point", d->point));
out:
	json_decref(body);
}

void
sim_api_dcv_submit(struct sim_req *r)
{
	const char *m = method_seg(r);
	json_t *body, *o;
	struct sim_domain *d = body_domain(r, &body);
	char bid[24];

	if (d == NULL)
		goto out;
	if (strcmp(m, "txt") == 0) {
		if (strcmp(d->mode, "TXT") != 0 || d->order != ORD_SUBMITTED) {
			snprintf(d->mode, sizeof(d->mode), "TXT");
			snprintf(d->host, sizeof(d->host),
			    "_pki-validation.%s.", d->name);
			random_point(d->point);
		}
	} else if (strcmp(m, "cname") == 0) {
		if (strcmp(d->mode, "CNAME") != 0) {
			sim_reply_error(r, 400, -724,
			    "The request for '%s' cannot be processed since "
			    "it's domain validation status is %s (start the "
			    "CNAME validation first)",
			    d->name, status_str(d));
			goto out;
		}
	} else {
		sim_reply_error(r, 400, -1603,
		    "Error while validating the domain %s: method %s", d->name,
		    m);
		goto out;
	}
	checks_stop(d);
	d->order = ORD_SUBMITTED;
	d->submitted = time(NULL);
	d->backend_id = r->sim->dcv->next_backend_id++;
	r->sim->dcv->submits++;
	if (r->sim->dcv->res != NULL) {
		d->checks_left = r->sim->conf->dcv_check_attempts;
		check_soon(d);
	}
	snprintf(bid, sizeof(bid), "%ld", d->backend_id);
	o = json_pack("{s:s, s:s, s:s, s:s}", "status", status_str(d),
	    "orderStatus", order_str(d->order), "message",
	    "Submitted successfully", "orderBackendId", bid);
	if (o != NULL && strcmp(m, "txt") == 0) {
		json_object_set_new(o, "host", json_string(d->host));
		json_object_set_new(o, "point", json_string(d->point));
	}
	sim_reply_json(r, 200, o);
out:
	json_decref(body);
}

void
sim_api_dcv_clear(struct sim_req *r)
{
	json_t *body;
	struct sim_domain *d = body_domain(r, &body);
	char msg[128];

	if (d != NULL) {
		checks_stop(d);
		d->order = ORD_NOT_INITIATED;
		d->mode[0] = d->host[0] = d->point[0] = '\0';
		d->submitted = d->last_check = 0;
		snprintf(msg, sizeof(msg),
		    "DCV status: %s; DCV order status: NOT_INITIATED",
		    status_str(d));
		sim_reply_json(r, 200,
		    json_pack("{s:s, s:s, s:s}", "status", status_str(d),
		        "orderStatus", "NOT_INITIATED", "message", msg));
	}
	json_decref(body);
}

void
sim_api_dcv_delete(struct sim_req *r)
{
	json_t *body;
	struct sim_domain *d = body_domain(r, &body);

	if (d != NULL) {
		checks_stop(d);
		d->validated = 0;
		d->order = ORD_NOT_INITIATED;
		d->mode[0] = d->method[0] = '\0';
		d->submitted = d->last_check = 0;
		sim_reply_empty(r, 200);
	}
	json_decref(body);
}

/* ---- control and stats ---- */

int
sim_dcv_control(struct sim *sim, const char *key, json_t *v, int apply,
    char *err, size_t errlen)
{
	if (strcmp(key, "advance_days") == 0) {
		json_int_t n = json_integer_value(v);

		if (!json_is_integer(v) || n < 1 || n > 3650) {
			snprintf(err, errlen, "advance_days: 1..3650");
			return -1;
		}
		for (size_t i = 0; apply && i < sim->dcv->n; i++) {
			struct sim_domain *d = sim->dcv->d[i];

			d->validated_at -= (time_t)n * 86400;
			d->expires -= (time_t)n * 86400;
			if (d->submitted != 0)
				d->submitted -= (time_t)n * 86400;
		}
		return 0;
	}
	if (strcmp(key, "dcv_check_attempts") == 0) {
		json_int_t n = json_integer_value(v);

		if (!json_is_integer(v) || n < 1 || n > 3600) {
			snprintf(err, errlen, "dcv_check_attempts: 1..3600");
			return -1;
		}
		if (apply)
			sim->conf->dcv_check_attempts = (int)n;
		return 0;
	}
	if (strcmp(key, "add_domain") == 0) {
		const char *name =
		    json_string_value(json_object_get(v, "name"));
		int val = json_is_true(json_object_get(v, "validated"));
		struct sim_domain *d;

		if (name == NULL || strlen(name) < 4 || strlen(name) > 255 ||
		    !name_ok(name)) {
			snprintf(err, errlen,
			    "add_domain: {\"name\": a domain name, "
			    "\"validated\": bool}");
			return -1;
		}
		if (!apply)
			return 0;
		/* an existing domain: validated now when asked */
		d = find(sim, name);
		if (d != NULL && val)
			validate_now(d, "DNSTXT_RANDOM_VALUE");
		if (d == NULL && domain_add(sim, name, val) == NULL) {
			snprintf(err, errlen, "add_domain: refused");
			return -1;
		}
		return 0;
	}
	return 1; /* not ours */
}

json_t *
sim_dcv_stats(struct sim *sim)
{
	json_t *doms = json_array();

	for (size_t i = 0; i < sim->dcv->n; i++) {
		struct sim_domain *d = sim->dcv->d[i];
		char e[16];
		json_array_append_new(doms,
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", d->name,
		        "status", status_str(d), "orderStatus",
		        order_str(d->order), "expirationDate",
		        d->validated ? date_str(d->expires, e) : "", "mode",
		        d->mode));
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "starts",
	    (json_int_t)sim->dcv->starts, "submits",
	    (json_int_t)sim->dcv->submits, "checks",
	    (json_int_t)sim->dcv->checks, "validated",
	    (json_int_t)sim->dcv->validated, "rejected",
	    (json_int_t)sim->dcv->rejected, "domains", doms);
}
