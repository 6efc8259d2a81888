/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "cloudflare" DNS connector: Cloudflare API v4 with an API token
 * (Zone:Read and DNS:Edit). Records are created one value each, so adding
 * and removing never touches other values under the name; the record id
 * Cloudflare assigns is returned as the handle (the DCV engine journals
 * it) and cleanup deletes by it, or finds the record by type, name and
 * content when the handle is lost.
 *
 * One call (zone lookup, record lookup, change) is bounded by the
 * connector's timeout.
 *
 * Written from Cloudflare's documentation; tested against a stand-in that
 * follows it (tests/integration/dns/cloudflare_standin.py), not against
 * Cloudflare.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "contrib/secfile.h"
#include "dns/connector.h"
#include "dns/httpc.h"

#define CF_DEFAULT_URL "https://api.cloudflare.com/client/v4"

struct cconn {
	char *name;
	char *api_url;
	char *zone_id; /* configured, or NULL (looked up per call) */
	char *ca_file;
	char *auth_hdr; /* "Authorization: Bearer ..." (secret) */
	int timeout_s;
};

static const char *const cf_keys[] = {
    "api_token_file", "api_token_env", "api_url", "zone_id", "ca_file", NULL};

static void
c_destroy(void *impl)
{
	struct cconn *c = impl;

	if (c->auth_hdr != NULL) {
		OPENSSL_cleanse(c->auth_hdr, strlen(c->auth_hdr));
		free(c->auth_hdr);
	}
	free(c->name);
	free(c->api_url);
	free(c->zone_id);
	free(c->ca_file);
	free(c);
}

static void *
c_create(const json_t *conf, const char *prefix, int need_secrets,
    int timeout_s, char *err, size_t errlen)
{
	const char *url = json_string_value(json_object_get(conf, "api_url"));
	const char *zid = json_string_value(json_object_get(conf, "zone_id"));
	const char *ca = json_string_value(json_object_get(conf, "ca_file"));
	struct cconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->timeout_s = timeout_s;
	c->name = strdup(json_string_value(json_object_get(conf, "name")));
	if (url == NULL)
		url = CF_DEFAULT_URL;
	if (!dns_http_url_ok(url)) {
		snprintf(err, errlen,
		    "config: %sapi_url: an https:// URL (http:// only to "
		    "127.0.0.1 or localhost)",
		    prefix);
		goto fail;
	}
	if (zid != NULL &&
	    strspn(zid, "0123456789abcdefABCDEF") != strlen(zid)) {
		snprintf(err, errlen,
		    "config: %szone_id: Cloudflare zone ids "
		    "are hexadecimal",
		    prefix);
		goto fail;
	}
	c->api_url = strdup(url);
	if (strlen(c->api_url) > 0 && c->api_url[strlen(c->api_url) - 1] == '/')
		c->api_url[strlen(c->api_url) - 1] = '\0';
	c->zone_id = zid ? strdup(zid) : NULL;
	c->ca_file = ca ? strdup(ca) : NULL;
	if (need_secrets &&
	    dns_http_secret_header(conf, "api_token", prefix,
	        "Authorization: Bearer ", &c->auth_hdr, err, errlen) != 0)
		goto fail;
	return c;
fail:
	c_destroy(c);
	return NULL;
}

/* One API call; *res is the parsed body when it says success. */
static int
api(struct cconn *c, long long dl, const char *method, const char *path,
    const char *body, const char *what, json_t **res, struct dns_outcome *o)
{
	const char *hdrs[] = {
	    c->auth_hdr ? c->auth_hdr : "Authorization: Bearer", NULL};
	struct dns_http_resp resp;
	char url[1500];
	struct dns_http req = {
	    .method = method,
	    .url = url,
	    .body = body,
	    .headers = hdrs,
	    .ca_file = c->ca_file,
	    .timeout_s = c->timeout_s,
	    .deadline_ms = dl,
	};
	json_t *j;

	*res = NULL;
	snprintf(url, sizeof(url), "%s%s", c->api_url, path);
	dns_http_do(&req, &resp);
	j = json_loads(resp.body ? resp.body : "", 0, NULL);
	if (resp.status >= 200 && resp.status < 300 &&
	    json_is_true(json_object_get(j, "success"))) {
		*res = j;
		dns_http_resp_free(&resp);
		return 0;
	}
	if (resp.status == 404 && strcmp(method, "DELETE") == 0) {
		json_decref(j);
		dns_http_resp_free(&resp);
		return 1; /* gone already */
	}
	{
		const char *m = json_string_value(json_object_get(
		    json_array_get(json_object_get(j, "errors"), 0),
		    "message"));
		if (m != NULL && resp.status != 429 && resp.status != 401 &&
		    resp.status != 403 && resp.status < 500)
			dns_fail(o, DNS_PERM,
			    "dns connector %s: %s: Cloudflare says: %.200s",
			    c->name, what, m);
		else
			dns_http_outcome(c->name, what, &resp, o);
		if (o->rc == DNS_OK) /* 2xx without success */
			dns_fail(o, DNS_TEMP,
			    "dns connector %s: %s: Cloudflare answered "
			    "without success",
			    c->name, what);
	}
	json_decref(j);
	dns_http_resp_free(&resp);
	return -1;
}

static int
zone_id(struct cconn *c, long long dl, const char *zone, char *out, size_t len,
    struct dns_outcome *o)
{
	char path[400];
	char *z;
	json_t *res;
	const char *id;

	if (c->zone_id != NULL) {
		snprintf(out, len, "%s", c->zone_id);
		return 0;
	}
	z = curl_easy_escape(NULL, zone, 0);
	if (z == NULL)
		return -1;
	snprintf(path, sizeof(path), "/zones?name=%s", z);
	curl_free(z);
	if (api(c, dl, "GET", path, NULL, "zone lookup", &res, o) != 0)
		return -1;
	id = json_string_value(json_object_get(
	    json_array_get(json_object_get(res, "result"), 0), "id"));
	if (id == NULL || strspn(id, "0123456789abcdefABCDEF") != strlen(id) ||
	    strlen(id) >= len) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: Cloudflare has no zone %s for this "
		    "token",
		    c->name, zone);
		json_decref(res);
		return -1;
	}
	snprintf(out, len, "%s", id);
	json_decref(res);
	return 0;
}

static void
content_of(const struct dns_record *r, char *out, size_t len)
{
	if (r->type == DNS_RR_TXT)
		dns_txt_quote(r->value, out, len);
	else
		snprintf(out, len, "%s", r->value);
}

/* The id of the record (type, name, content), "" when none. */
static int
find(struct cconn *c, long long dl, const char *zid, const struct dns_record *r,
    int by_content, json_t **list, struct dns_outcome *o)
{
	char path[1500], content[600];
	char *n = curl_easy_escape(NULL, r->name, 0), *ct;

	content_of(r, content, sizeof(content));
	ct = curl_easy_escape(NULL, content, 0);
	if (n == NULL || ct == NULL) {
		curl_free(n);
		curl_free(ct);
		return -1;
	}
	snprintf(path, sizeof(path),
	    "/zones/%s/dns_records?type=%s&name=%s%s%s&per_page=100", zid,
	    dns_rr_str(r->type), n, by_content ? "&content=" : "",
	    by_content ? ct : "");
	curl_free(n);
	curl_free(ct);
	return api(c, dl, "GET", path, NULL, "record lookup", list, o) == 0
	    ? 0
	    : -1;
}

static void
c_present(void *impl, const struct dns_record *r, struct dns_outcome *o)
{
	struct cconn *c = impl;
	char zid[64], path[200], content[600];
	json_t *res, *b;
	const char *id;
	char *body;
	long long dl = dns_http_deadline(c->timeout_s);

	if (zone_id(c, dl, r->zone, zid, sizeof(zid), o) != 0 ||
	    find(c, dl, zid, r, 1, &res, o) != 0)
		return;
	id = json_string_value(json_object_get(
	    json_array_get(json_object_get(res, "result"), 0), "id"));
	if (id != NULL) {
		/* there already (a retry after a lost answer) */
		snprintf(o->handle, sizeof(o->handle), "%s", id);
		o->rc = DNS_OK;
		json_decref(res);
		return;
	}
	json_decref(res);
	content_of(r, content, sizeof(content));
	b = json_pack("{s:s, s:s, s:s, s:i}", "type", dns_rr_str(r->type),
	    "name", r->name, "content", content, "ttl",
	    r->ttl < 60 ? 60 : r->ttl);
	body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	snprintf(path, sizeof(path), "/zones/%s/dns_records", zid);
	if (body != NULL &&
	    api(c, dl, "POST", path, body, "create record", &res, o) == 0) {
		id = json_string_value(
		    json_object_get(json_object_get(res, "result"), "id"));
		snprintf(o->handle, sizeof(o->handle), "%s", id ? id : "");
		o->rc = DNS_OK;
		json_decref(res);
	}
	free(body);
}

static void
c_cleanup(void *impl, const struct dns_record *r, const char *handle,
    struct dns_outcome *o)
{
	struct cconn *c = impl;
	char zid[64], path[300], id[160];
	json_t *res = NULL;
	long long dl = dns_http_deadline(c->timeout_s);

	if (zone_id(c, dl, r->zone, zid, sizeof(zid), o) != 0)
		return;
	if (handle != NULL && handle[0] != '\0' &&
	    strspn(handle, "0123456789abcdefABCDEF") == strlen(handle) &&
	    strlen(handle) < sizeof(id)) {
		snprintf(id, sizeof(id), "%s", handle);
	} else {
		const char *f;
		if (find(c, dl, zid, r, 1, &res, o) != 0)
			return;
		f = json_string_value(json_object_get(
		    json_array_get(json_object_get(res, "result"), 0), "id"));
		if (f == NULL) {
			json_decref(res);
			o->rc = DNS_OK; /* nothing to remove */
			return;
		}
		snprintf(id, sizeof(id), "%s", f);
		json_decref(res);
	}
	snprintf(path, sizeof(path), "/zones/%s/dns_records/%s", zid, id);
	switch (api(c, dl, "DELETE", path, NULL, "delete record", &res, o)) {
	case 0:
	case 1:
		o->rc = DNS_OK;
		break;
	default:
		break;
	}
	json_decref(res);
}

static int
c_list(
    void *impl, const struct dns_record *r, char ***vals, struct dns_outcome *o)
{
	struct cconn *c = impl;
	char zid[64];
	json_t *res, *rec;
	size_t i, n = 0;
	long long dl = dns_http_deadline(c->timeout_s);

	*vals = NULL;
	if (zone_id(c, dl, r->zone, zid, sizeof(zid), o) != 0 ||
	    find(c, dl, zid, r, 0, &res, o) != 0)
		return -1;
	*vals = calloc(json_array_size(json_object_get(res, "result")) + 1,
	    sizeof(char *));
	json_array_foreach(json_object_get(res, "result"), i, rec) {
		const char *ct =
		    json_string_value(json_object_get(rec, "content"));
		char v[300];

		if (*vals == NULL || ct == NULL)
			continue;
		if (r->type == DNS_RR_TXT &&
		    dns_txt_unquote(ct, v, sizeof(v)) != 0)
			snprintf(v, sizeof(v), "%s", ct); /* stored unquoted */
		else if (r->type != DNS_RR_TXT)
			snprintf(v, sizeof(v), "%s", ct);
		if (((*vals)[n] = strdup(v)) != NULL)
			n++;
	}
	json_decref(res);
	if (*vals == NULL) {
		dns_fail(
		    o, DNS_TEMP, "dns connector %s: out of memory", c->name);
		return -1;
	}
	return (int)n;
}

static void
c_check(void *impl, const char *zone, struct dns_outcome *o)
{
	struct cconn *c = impl;
	char zid[64];

	if (zone_id(c, dns_http_deadline(c->timeout_s), zone, zid, sizeof(zid),
	        o) == 0)
		o->rc = DNS_OK;
}

const struct dns_connector_ops dns_conn_cloudflare = {
    .type = "cloudflare",
    .keys = cf_keys,
    .create = c_create,
    .destroy = c_destroy,
    .present = c_present,
    .cleanup = c_cleanup,
    .list = c_list,
    .check = c_check,
};
