/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking HTTP for the provider connectors (see dns/httpc.h). */
#include "dns/httpc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "contrib/clock.h"
#include "contrib/secfile.h"

#define RESP_MAX (4 * 1024 * 1024)

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct dns_http_resp *r = arg;
	size_t add = size * n;
	char *nb;

	if (r->len + add > RESP_MAX)
		return 0;
	nb = realloc(r->body, r->len + add + 1);
	if (nb == NULL)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, p, add);
	r->len += add;
	r->body[r->len] = '\0';
	return add;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct dns_http_resp *r = arg;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		long v = strtol(p + 12, NULL, 10);
		if (v > 0 && v < 86400)
			r->retry_after = (int)v;
	}
	return len;
}

int
dns_http_url_ok(const char *url)
{
	static const char *const loopback[] = {
	    "http://127.0.0.1", "http://localhost", "http://[::1]", NULL};

	if (url == NULL)
		return 0;
	if (strncmp(url, "https://", 8) == 0)
		return url[8] != '\0';
	for (const char *const *l = loopback; *l != NULL; l++) {
		const char *p = url + strlen(*l);

		if (strncasecmp(url, *l, strlen(*l)) != 0)
			continue;
		/* the host ends there: only a port, then a path or nothing
		 * ("http://127.0.0.1:80@host" is user info for host) */
		if (*p == ':' && isdigit((unsigned char)p[1]))
			for (p++; isdigit((unsigned char)*p); p++)
				;
		return *p == '\0' || *p == '/';
	}
	return 0;
}

long long
dns_http_deadline(int timeout_s)
{
	return clock_mono_ms() + timeout_s * 1000LL;
}

int
dns_http_do(const struct dns_http *req, struct dns_http_resp *resp)
{
	struct curl_slist *h = NULL;
	CURL *e;
	CURLcode cc;
	char errbuf[CURL_ERROR_SIZE] = "";
	long long limit_ms =
	    req->timeout_s > 0 ? req->timeout_s * 1000LL : 30000;

	memset(resp, 0, sizeof(*resp));
	if (req->deadline_ms > 0) {
		long long left = req->deadline_ms - clock_mono_ms();
		if (left < limit_ms)
			limit_ms = left;
	}
	if (limit_ms <= 0) {
		snprintf(resp->error, sizeof(resp->error),
		    "the call's timeout ran out before this request");
		resp->body = calloc(1, 1);
		return -1;
	}
	if ((e = curl_easy_init()) == NULL) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return -1;
	}
	for (const char *const *p = req->headers; p != NULL && *p != NULL; p++)
		h = curl_slist_append(h, *p);
	if (req->body != NULL)
		h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (req->body != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)limit_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	if (req->userpwd != NULL) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERPWD, req->userpwd);
	}
	if (req->ca_file != NULL && req->ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
	cc = curl_easy_perform(e);
	if (cc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
	else
		snprintf(resp->error, sizeof(resp->error), "%s",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (resp->body == NULL)
		resp->body = calloc(1, 1);
	return cc == CURLE_OK ? 0 : -1;
}

void
dns_http_resp_free(struct dns_http_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
}

enum dns_rc
dns_http_outcome(const char *conn, const char *what,
    const struct dns_http_resp *resp, struct dns_outcome *o)
{
	char excerpt[201];
	size_t j = 0;

	if (resp->status >= 200 && resp->status < 300) {
		o->rc = DNS_OK;
		return DNS_OK;
	}
	for (size_t i = 0; resp->body != NULL && i < resp->len && j < 200; i++)
		excerpt[j++] =
		    isprint((unsigned char)resp->body[i]) ? resp->body[i] : ' ';
	excerpt[j] = '\0';
	if (resp->status == 0) {
		dns_fail(o, DNS_TEMP, "dns connector %s: %s: no answer (%s)",
		    conn, what, resp->error);
	} else if (resp->status == 429) {
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: %s: rate limited (HTTP 429), pausing "
		    "%d s",
		    conn, what, resp->retry_after > 0 ? resp->retry_after : 60);
		o->retry_after = resp->retry_after > 0 ? resp->retry_after : 60;
	} else if (resp->status >= 500) {
		dns_fail(o, DNS_TEMP, "dns connector %s: %s: HTTP %ld %s", conn,
		    what, resp->status, excerpt);
	} else if (resp->status == 401 || resp->status == 403) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s: credentials refused (HTTP %ld): "
		    "check the API key or token and its permissions",
		    conn, what, resp->status);
	} else {
		dns_fail(o, DNS_PERM, "dns connector %s: %s: HTTP %ld %s", conn,
		    what, resp->status, excerpt);
	}
	return o->rc;
}

int
dns_http_secret_header(const json_t *conf, const char *what, const char *prefix,
    const char *name_colon, char **out, char *err, size_t errlen)
{
	char *secret = NULL;
	int rc = -1;

	*out = NULL;
	if (secfile_read(conf, what, prefix, &secret, err, errlen) != 0)
		return -1;
	if (strpbrk(secret, "\r\n") != NULL)
		snprintf(err, errlen, "config: %s%s: one line", prefix, what);
	else if (asprintf(out, "%s%s", name_colon, secret) >= 0)
		rc = 0;
	else
		*out = NULL;
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	return rc;
}
