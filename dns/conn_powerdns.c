/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "powerdns" DNS connector: the PowerDNS Authoritative HTTP API
 * (X-API-Key).
 *
 * PowerDNS 4.x changes whole RRsets only (REPLACE or DELETE). To add or
 * remove one value the connector reads the zone, merges, and writes the
 * RRset back, under the registry's lock for (zone, name, type): safe
 * within one bridge. Two bridges (or another tool) changing the same
 * name at the same moment could still lose a value between the read and
 * the write; PowerDNS 5's per-record "extend"/"prune" change types close
 * that gap and are the way to go once Debian ships it.
 *
 * Records the connector did not write (several strings, a disabled one,
 * anything it cannot parse) are written back as PowerDNS gave them.
 * One call, reading and writing, is bounded by the connector's timeout.
 *
 * TXT contents travel in zone-file presentation: quoted, '"' and '\'
 * escaped (dns_txt_quote), then JSON-encoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "contrib/secfile.h"
#include "dns/connector.h"
#include "dns/httpc.h"

struct pconn {
	char *name;
	char *api_url;   /* without the final '/' */
	char *server_id; /* "localhost" */
	char *ca_file;
	char *key_hdr; /* "X-API-Key: ..." (secret) */
	int timeout_s;
};

static const char *const pdns_keys[] = {
    "api_url", "server_id", "api_key_file", "api_key_env", "ca_file", NULL};

static void
p_destroy(void *impl)
{
	struct pconn *c = impl;

	if (c->key_hdr != NULL) {
		OPENSSL_cleanse(c->key_hdr, strlen(c->key_hdr));
		free(c->key_hdr);
	}
	free(c->name);
	free(c->api_url);
	free(c->server_id);
	free(c->ca_file);
	free(c);
}

static void *
p_create(const json_t *conf, const char *prefix, int need_secrets,
    int timeout_s, char *err, size_t errlen)
{
	const char *url = json_string_value(json_object_get(conf, "api_url"));
	const char *sid = json_string_value(json_object_get(conf, "server_id"));
	const char *ca = json_string_value(json_object_get(conf, "ca_file"));
	struct pconn *c = calloc(1, sizeof(*c));
	size_t n;

	if (c == NULL)
		return NULL;
	c->timeout_s = timeout_s;
	c->name = strdup(json_string_value(json_object_get(conf, "name")));
	if (!dns_http_url_ok(url)) {
		snprintf(err, errlen,
		    "config: %sapi_url: required: https://host:port of the "
		    "PowerDNS API (http:// only to 127.0.0.1 or localhost)",
		    prefix);
		goto fail;
	}
	if (sid != NULL && (sid[0] == '\0' || strpbrk(sid, "/?#%") != NULL)) {
		snprintf(err, errlen,
		    "config: %sserver_id: a plain name such "
		    "as localhost",
		    prefix);
		goto fail;
	}
	c->api_url = strdup(url);
	n = strlen(c->api_url);
	while (n > 0 && c->api_url[n - 1] == '/')
		c->api_url[--n] = '\0';
	c->server_id = strdup(sid ? sid : "localhost");
	c->ca_file = ca ? strdup(ca) : NULL;
	if (need_secrets &&
	    dns_http_secret_header(conf, "api_key", prefix,
	        "X-API-Key: ", &c->key_hdr, err, errlen) != 0)
		goto fail;
	return c;
fail:
	p_destroy(c);
	return NULL;
}

static int
call(struct pconn *c, const char *method, const char *zone, const char *body,
    long long deadline_ms, struct dns_http_resp *resp)
{
	const char *hdrs[] = {c->key_hdr ? c->key_hdr : "X-API-Key:", NULL};
	char url[1024];
	char *z = curl_easy_escape(NULL, zone, 0);
	struct dns_http req = {
	    .method = method,
	    .url = url,
	    .body = body,
	    .headers = hdrs,
	    .ca_file = c->ca_file,
	    .timeout_s = c->timeout_s,
	    .deadline_ms = deadline_ms,
	};

	if (z == NULL) {
		memset(resp, 0, sizeof(*resp));
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return -1;
	}
	/* zone ids are the name with its final dot in every PowerDNS 4 */
	snprintf(url, sizeof(url), "%s/api/v1/servers/%s/zones/%s.", c->api_url,
	    c->server_id, z);
	curl_free(z);
	return dns_http_do(&req, resp);
}

/* The error text PowerDNS puts in {"error": ...}, or the raw excerpt. */
static void
pdns_fail(struct pconn *c, const char *what, const char *zone,
    struct dns_http_resp *resp, struct dns_outcome *o)
{
	json_t *j = json_loads(resp->body ? resp->body : "", 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	/* 4.7 answers a zone it lacks with 404 "Not Found" (no JSON);
	 * other versions with 422 {"error": "Could not find domain ..."} */
	if (resp->status == 404 ||
	    (resp->status == 422 && e != NULL && strstr(e, "find") != NULL))
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s: PowerDNS has no zone %s. (HTTP "
		    "%ld): check zones and server_id",
		    c->name, what, zone, resp->status);
	else if (e != NULL && resp->status >= 400 && resp->status < 500 &&
	    resp->status != 401 && resp->status != 403 && resp->status != 429)
		dns_fail(o, DNS_PERM, "dns connector %s: %s: HTTP %ld: %.200s",
		    c->name, what, resp->status, e);
	else
		dns_http_outcome(c->name, what, resp, o);
	json_decref(j);
}

/* The value a record's content stands for (TXT unquoted, CNAME without
 * the final dot); -1 when it is not one we could have written. */
static int
value_of(enum dns_rr type, const json_t *rec, char *v, size_t len)
{
	const char *ct = json_string_value(json_object_get(rec, "content"));
	size_t n;

	if (ct == NULL)
		return -1;
	if (type == DNS_RR_TXT)
		return dns_txt_unquote(ct, v, len);
	if ((n = strlen(ct)) >= len)
		return -1;
	memcpy(v, ct, n + 1);
	if (n > 1 && v[n - 1] == '.')
		v[n - 1] = '\0';
	return 0;
}

/*
 * The records of (name, type) in the zone: a new array of {content,
 * disabled} as PowerDNS holds them (empty when there is no such RRset),
 * or NULL with o filled. Every record is kept as it is, even one the
 * connector cannot parse or a disabled one: the REPLACE that follows
 * writes them back unchanged.
 */
static json_t *
read_rrset(struct pconn *c, const struct dns_record *r, long long dl, int *ttl,
    struct dns_outcome *o)
{
	struct dns_http_resp resp;
	char fqdn[300];
	json_t *zone, *rrsets, *rs, *rec, *out;
	size_t i, k;

	if (call(c, "GET", r->zone, NULL, dl, &resp) != 0 ||
	    resp.status != 200) {
		pdns_fail(c, "reading the zone", r->zone, &resp, o);
		dns_http_resp_free(&resp);
		return NULL;
	}
	snprintf(fqdn, sizeof(fqdn), "%s.", r->name);
	zone = json_loads(resp.body, 0, NULL);
	dns_http_resp_free(&resp);
	rrsets = json_object_get(zone, "rrsets");
	if (!json_is_array(rrsets) || (out = json_array()) == NULL) {
		json_decref(zone);
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: PowerDNS sent a zone "
		    "without rrsets",
		    c->name);
		return NULL;
	}
	json_array_foreach(rrsets, i, rs) {
		const char *nm = json_string_value(json_object_get(rs, "name"));
		const char *tp = json_string_value(json_object_get(rs, "type"));

		if (nm == NULL || tp == NULL || strcasecmp(nm, fqdn) != 0 ||
		    strcmp(tp, dns_rr_str(r->type)) != 0)
			continue;
		*ttl = (int)json_integer_value(json_object_get(rs, "ttl"));
		json_array_foreach(json_object_get(rs, "records"), k, rec) {
			json_t *ct = json_object_get(rec, "content");
			if (json_is_string(ct))
				json_array_append_new(out,
				    json_pack("{s:O, s:b}", "content", ct,
				        "disabled",
				        json_is_true(
				            json_object_get(rec, "disabled"))));
		}
	}
	json_decref(zone);
	return out;
}

/* Write the RRset: these records (REPLACE), or none (DELETE). Steals
 * recs. */
static void
write_rrset(struct pconn *c, const struct dns_record *r, json_t *recs, int ttl,
    long long dl, const char *what, struct dns_outcome *o)
{
	struct dns_http_resp resp;
	char fqdn[300];
	json_t *rs, *body;
	char *text;

	snprintf(fqdn, sizeof(fqdn), "%s.", r->name);
	if (json_array_size(recs) > 0)
		rs = json_pack("{s:s, s:s, s:i, s:s, s:o}", "name", fqdn,
		    "type", dns_rr_str(r->type), "ttl", ttl, "changetype",
		    "REPLACE", "records", recs);
	else {
		json_decref(recs);
		rs = json_pack("{s:s, s:s, s:s}", "name", fqdn, "type",
		    dns_rr_str(r->type), "changetype", "DELETE");
	}
	body = json_pack("{s:[o]}", "rrsets", rs);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		dns_fail(
		    o, DNS_TEMP, "dns connector %s: out of memory", c->name);
		return;
	}
	if (call(c, "PATCH", r->zone, text, dl, &resp) != 0 ||
	    resp.status < 200 || resp.status >= 300)
		pdns_fail(c, what, r->zone, &resp, o);
	else
		o->rc = DNS_OK;
	dns_http_resp_free(&resp);
	free(text);
}

/* Index of r->value among recs, or -1. */
static int
find_value(const struct dns_record *r, const json_t *recs)
{
	const json_t *rec;
	size_t i;

	json_array_foreach(recs, i, rec) {
		char v[300];

		if (value_of(r->type, rec, v, sizeof(v)) == 0 &&
		    (r->type == DNS_RR_TXT ? strcmp(v, r->value) == 0
		                           : strcasecmp(v, r->value) == 0))
			return (int)i;
	}
	return -1;
}

static void
merge(void *impl, const struct dns_record *r, int add, struct dns_outcome *o)
{
	struct pconn *c = impl;
	long long dl = dns_http_deadline(c->timeout_s);
	int ttl = r->ttl, found;
	char what[400], content[600];
	json_t *recs, *rec;

	snprintf(what, sizeof(what), "%s %s %s", add ? "present" : "cleanup",
	    r->name, dns_rr_str(r->type));
	if ((recs = read_rrset(c, r, dl, &ttl, o)) == NULL)
		return;
	found = find_value(r, recs);
	rec = found >= 0 ? json_array_get(recs, (size_t)found) : NULL;
	if (add && rec != NULL &&
	    !json_is_true(json_object_get(rec, "disabled"))) {
		o->rc = DNS_OK; /* already there */
		json_decref(recs);
	} else if (!add && rec == NULL) {
		o->rc = DNS_OK; /* already gone */
		json_decref(recs);
	} else if (add) {
		if (r->type == DNS_RR_CNAME)
			json_array_clear(recs); /* one CNAME: ours replaces */
		else if (rec != NULL)           /* ours, disabled: enable it */
			json_array_remove(recs, (size_t)found);
		if (r->type == DNS_RR_TXT)
			dns_txt_quote(r->value, content, sizeof(content));
		else
			snprintf(content, sizeof(content), "%s.", r->value);
		json_array_append_new(recs,
		    json_pack("{s:s, s:b}", "content", content, "disabled", 0));
		write_rrset(c, r, recs, r->ttl, dl, what, o);
	} else {
		json_array_remove(recs, (size_t)found);
		write_rrset(c, r, recs, ttl > 0 ? ttl : r->ttl, dl, what, o);
	}
}

static void
p_present(void *impl, const struct dns_record *r, struct dns_outcome *o)
{
	merge(impl, r, 1, o);
}

static void
p_cleanup(void *impl, const struct dns_record *r, const char *handle,
    struct dns_outcome *o)
{
	(void)handle;
	merge(impl, r, 0, o);
}

static int
p_list(
    void *impl, const struct dns_record *r, char ***vals, struct dns_outcome *o)
{
	struct pconn *c = impl;
	int ttl = 0, n = 0;
	json_t *recs, *rec;
	size_t i;

	*vals = NULL;
	recs = read_rrset(c, r, dns_http_deadline(c->timeout_s), &ttl, o);
	if (recs == NULL)
		return -1;
	*vals = calloc(json_array_size(recs) + 1, sizeof(char *));
	json_array_foreach(recs, i, rec) {
		char v[300];

		if (*vals != NULL &&
		    !json_is_true(json_object_get(rec, "disabled")) &&
		    value_of(r->type, rec, v, sizeof(v)) == 0 &&
		    ((*vals)[n] = strdup(v)) != NULL)
			n++;
	}
	json_decref(recs);
	if (*vals == NULL) {
		dns_fail(
		    o, DNS_TEMP, "dns connector %s: out of memory", c->name);
		return -1;
	}
	return n;
}

static void
p_check(void *impl, const char *zone, struct dns_outcome *o)
{
	struct pconn *c = impl;
	struct dns_http_resp resp;

	if (call(c, "GET", zone, NULL, dns_http_deadline(c->timeout_s),
	        &resp) != 0 ||
	    resp.status != 200)
		pdns_fail(c, "check", zone, &resp, o);
	else
		o->rc = DNS_OK;
	dns_http_resp_free(&resp);
}

const struct dns_connector_ops dns_conn_powerdns = {
    .type = "powerdns",
    .keys = pdns_keys,
    .create = p_create,
    .destroy = p_destroy,
    .present = p_present,
    .cleanup = p_cleanup,
    .list = p_list,
    .check = p_check,
};
