/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "httpreq" DNS connector: lego's HTTP request convention, for an
 * operator's own small service in front of whatever DNS they run.
 *
 *   POST <endpoint>/present  {"fqdn": "<name>.", "value": "...", "type": "TXT"}
 *   POST <endpoint>/cleanup  (the same body)
 *
 * Any 2xx is done. "type" is our addition (Sectigo's DCV uses CNAME too);
 * a lego-style service that ignores it still handles TXT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "contrib/secfile.h"
#include "dns/connector.h"
#include "dns/httpc.h"

struct hconn {
	char *name;
	char *endpoint; /* without the final '/' */
	char *userpwd;  /* "user:password" (secret) or NULL */
	char *ca_file;
	int timeout_s;
};

static const char *const httpreq_keys[] = {
    "endpoint", "username", "password_file", "password_env", "ca_file", NULL};

static void
h_destroy(void *impl)
{
	struct hconn *c = impl;

	if (c->userpwd != NULL) {
		OPENSSL_cleanse(c->userpwd, strlen(c->userpwd));
		free(c->userpwd);
	}
	free(c->name);
	free(c->endpoint);
	free(c->ca_file);
	free(c);
}

static void *
h_create(const json_t *conf, const char *prefix, int need_secrets,
    int timeout_s, char *err, size_t errlen)
{
	const char *ep = json_string_value(json_object_get(conf, "endpoint"));
	const char *user = json_string_value(json_object_get(conf, "username"));
	const char *ca = json_string_value(json_object_get(conf, "ca_file"));
	struct hconn *c = calloc(1, sizeof(*c));
	char *pw = NULL;
	size_t n;

	if (c == NULL)
		return NULL;
	c->timeout_s = timeout_s;
	c->name = strdup(json_string_value(json_object_get(conf, "name")));
	if (!dns_http_url_ok(ep)) {
		snprintf(err, errlen,
		    "config: %sendpoint: required: an https:// URL (http:// "
		    "only to 127.0.0.1 or localhost)",
		    prefix);
		goto fail;
	}
	c->endpoint = strdup(ep);
	n = strlen(c->endpoint);
	while (n > 0 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	c->ca_file = ca ? strdup(ca) : NULL;
	if (user != NULL && need_secrets) {
		if (strchr(user, ':') != NULL) {
			snprintf(err, errlen,
			    "config: %susername: no ':' "
			    "allowed",
			    prefix);
			goto fail;
		}
		if (secfile_read(conf, "password", prefix, &pw, err, errlen) !=
		    0)
			goto fail;
		if (asprintf(&c->userpwd, "%s:%s", user, pw) < 0)
			c->userpwd = NULL;
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
	}
	return c;
fail:
	h_destroy(c);
	return NULL;
}

static void
post(struct hconn *c, const char *verb, const struct dns_record *r,
    struct dns_outcome *o)
{
	char url[1200], fqdn[300], what[400];
	json_t *b = NULL;
	char *body = NULL;
	struct dns_http_resp resp;
	struct dns_http req = {
	    .method = "POST",
	    .url = url,
	    .userpwd = c->userpwd,
	    .ca_file = c->ca_file,
	    .timeout_s = c->timeout_s,
	};

	snprintf(url, sizeof(url), "%s/%s", c->endpoint, verb);
	snprintf(fqdn, sizeof(fqdn), "%s.", r->name);
	snprintf(
	    what, sizeof(what), "%s %s %s", verb, r->name, dns_rr_str(r->type));
	b = json_pack("{s:s, s:s, s:s}", "fqdn", fqdn, "value", r->value,
	    "type", dns_rr_str(r->type));
	body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (body == NULL) {
		dns_fail(
		    o, DNS_TEMP, "dns connector %s: out of memory", c->name);
		return;
	}
	req.body = body;
	dns_http_do(&req, &resp);
	dns_http_outcome(c->name, what, &resp, o);
	dns_http_resp_free(&resp);
	free(body);
}

static void
h_present(void *impl, const struct dns_record *r, struct dns_outcome *o)
{
	post(impl, "present", r, o);
}

static void
h_cleanup(void *impl, const struct dns_record *r, const char *handle,
    struct dns_outcome *o)
{
	(void)handle;
	post(impl, "cleanup", r, o);
}

/* The convention has no way to ask for nothing: a GET of the endpoint
 * only shows that a server answers there (any status below 500). */
static void
h_check(void *impl, const char *zone, struct dns_outcome *o)
{
	struct hconn *c = impl;
	struct dns_http_resp resp;
	struct dns_http req = {
	    .method = "GET",
	    .url = c->endpoint,
	    .userpwd = c->userpwd,
	    .ca_file = c->ca_file,
	    .timeout_s = c->timeout_s,
	};

	(void)zone;
	if (dns_http_do(&req, &resp) != 0 || resp.status >= 500)
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: %s does not answer "
		    "(%s%ld)",
		    c->name, c->endpoint, resp.error, resp.status);
	else
		o->rc = DNS_OK;
	dns_http_resp_free(&resp);
}

const struct dns_connector_ops dns_conn_httpreq = {
    .type = "httpreq",
    .keys = httpreq_keys,
    .create = h_create,
    .destroy = h_destroy,
    .present = h_present,
    .cleanup = h_cleanup,
    .list = NULL,
    .check = h_check,
};
