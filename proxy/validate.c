/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Challenge validators: http-01 over libcurl (evcurl), dns-01 and address
 * lookups over dns/resolve, tls-alpn-01 over bufferevent_openssl. Every step
 * is an event on the caller's loop; nothing blocks.
 */
#include "proxy/validate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme/ident.h"
#include "contrib/b64url.h"
#include "contrib/log.h"
#include "dns/resolve.h"

#define BODY_MAX 8192       /* RFC 8555 §8.3 responses are tiny */
#define REDIRECTS_MAX 10    /* redirects followed per http-01 */
#define DEFAULT_TIMEOUT 30  /* seconds, when the configuration says 0 */
#define DNS_ATTEMPT_MS 2000 /* per DNS attempt, at most */
#define ACME_TLS_ALPN "acme-tls/1"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31" /* RFC 8737 §3 */
#define WELL_KNOWN "/.well-known/acme-challenge/"

enum kind { KIND_HTTP, KIND_DNS, KIND_TLS };

/* One validation in flight. */
struct job {
	struct px_validator *v; /* owner */
	struct job *next;       /* v->jobs */
	enum kind kind;         /* challenge type */
	int is_ip;              /* identifier type "ip" */
	int family;             /* AF_INET/AF_INET6 for ip identifiers */
	unsigned char ip[16];   /* binary address for ip identifiers */
	char *id_value;         /* identifier (canonical text for ip) */
	char *token;            /* challenge token */
	char *key_authz;        /* expected key authorization */
	px_validate_cb *cb;     /* user callback */
	void *arg;              /* its argument */
	struct event *start;    /* zero delay: first step from the loop */
	struct event *deadline; /* whole-validation timeout */
	struct event *kick;     /* zero delay: next HTTP request */
	const char *stage;      /* what we wait for, for the timeout */
	char **addrs;           /* addresses to try (owned), IPv6 first */
	size_t naddrs;          /* entries in addrs */
	size_t addr_i;          /* address being tried */
	/* http-01 */
	CURL *easy;                   /* current transfer (owned) */
	struct curl_slist *conn_to;   /* CURLOPT_CONNECT_TO pinning */
	struct evcurl_buf body;       /* response body, capped */
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's message */
	char *url;                    /* URL being fetched (owned) */
	char *host;                   /* its host, without brackets (owned) */
	int port;                     /* its port */
	int redirects;                /* redirects followed */
	/* tls-alpn-01 */
	evutil_socket_t fd;      /* connecting socket, or -1 */
	struct event *conn_ev;   /* writability of fd while connecting */
	struct bufferevent *bev; /* TLS connection (owns fd once made) */
	char sni[80];            /* server name sent */
};

struct px_validator {
	struct event_base *base;  /* borrowed loop */
	struct evcurl *ec;        /* borrowed libcurl driver */
	struct dns_resolver *res; /* owned resolver */
	SSL_CTX *tls;             /* client context for tls-alpn-01 */
	int http01_port;          /* port of http-01 requests */
	int tlsalpn01_port;       /* port of tls-alpn-01 connections */
	int timeout_seconds;      /* whole validation */
	int allow_private;        /* address policy: private, loopback ok */
	struct job *jobs;         /* in flight */
};

static const char *const kind_name[] = {"http-01", "dns-01", "tls-alpn-01"};

static void http_fetch(struct job *j);
static void tls_connect(struct job *j);

static void
addrs_free(struct job *j)
{
	for (size_t i = 0; i < j->naddrs; i++)
		free(j->addrs[i]);
	free(j->addrs);
	j->addrs = NULL;
	j->naddrs = 0;
	j->addr_i = 0;
}

/* Replace the address list: IPv6 first, then IPv4 (as Let's Encrypt). */
static int
addrs_set(struct job *j, const char *const *vals, size_t n)
{
	size_t k = 0;

	addrs_free(j);
	j->addrs = calloc(n ? n : 1, sizeof(*j->addrs));
	if (j->addrs == NULL)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			int v6 = strchr(vals[i], ':') != NULL;

			if (v6 != (pass == 0))
				continue;
			j->addrs[k] = strdup(vals[i]);
			if (j->addrs[k] == NULL) {
				j->naddrs = k;
				return -1;
			}
			k++;
		}
	}
	j->naddrs = k;
	return 0;
}

static void
tls_close(struct job *j)
{
	if (j->conn_ev != NULL) {
		event_free(j->conn_ev);
		j->conn_ev = NULL;
	}
	if (j->fd >= 0) {
		evutil_closesocket(j->fd);
		j->fd = -1;
	}
	if (j->bev != NULL) {
		bufferevent_free(j->bev);
		j->bev = NULL;
	}
}

static void
http_close(struct job *j)
{
	if (j->easy != NULL) {
		evcurl_cancel(j->v->ec, j->easy); /* no-op once done */
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	curl_slist_free_all(j->conn_to);
	j->conn_to = NULL;
	evcurl_buf_reset(&j->body);
}

static void
job_free(struct job *j)
{
	dns_lookup_cancel(j->v->res, j);
	http_close(j);
	tls_close(j);
	if (j->start != NULL)
		event_free(j->start);
	if (j->deadline != NULL)
		event_free(j->deadline);
	if (j->kick != NULL)
		event_free(j->kick);
	addrs_free(j);
	free(j->url);
	free(j->host);
	free(j->id_value);
	free(j->token);
	free(j->key_authz);
	free(j);
}

/*
 * Finish: detach and free everything first, since the callback may free
 * the validator.
 */
static void
job_done(struct job *j, const struct acme_problem *prob)
{
	struct job **pp;
	px_validate_cb *cb = j->cb;
	void *arg = j->arg;

	if (prob == NULL)
		log_event(LOG_LVL_INFO, "validate.valid",
		    (struct log_kv[]){LOG_S("type", kind_name[j->kind]),
		        LOG_S("identifier", j->id_value), LOG_END},
		    "validate: %s %s: valid", kind_name[j->kind], j->id_value);
	else
		log_event(LOG_LVL_INFO, "validate.invalid",
		    (struct log_kv[]){LOG_S("type", kind_name[j->kind]),
		        LOG_S("identifier", j->id_value),
		        LOG_S("problem", prob->type), LOG_END},
		    "validate: %s %s: %s: %s", kind_name[j->kind], j->id_value,
		    prob->type, prob->detail);
	for (pp = &j->v->jobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	job_free(j);
	cb(arg, prob);
}

static void job_fail(struct job *j, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
job_fail(struct job *j, const char *type, const char *fmt, ...)
{
	struct acme_problem p;
	va_list ap;

	memset(&p, 0, sizeof(p));
	p.type = type;
	p.status = strcmp(type, "unauthorized") == 0 ? 403 : 400;
	va_start(ap, fmt);
	vsnprintf(p.detail, sizeof(p.detail), fmt, ap);
	va_end(ap);
	job_done(j, &p);
	acme_problem_clear(&p);
}

/* Printable, bounded copy of untrusted bytes for a problem detail. */
static void
printable(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t o = 0;

	for (size_t i = 0; i < srclen && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (o + 4 >= dstlen && i + 1 < srclen) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	dst[o] = '\0';
}

/* base64url(SHA-256(s)) into out (44 bytes), or the raw digest. */
static int
digest(const char *s, unsigned char md[32], char *out)
{
	unsigned int len = 0;

	if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1 ||
	    len != 32) {
		log_crypto_err("validate: sha-256");
		return -1;
	}
	if (out != NULL)
		b64url_encode(md, 32, out);
	return 0;
}

/* Per-address connect timeout: a dead address leaves time for the next. */
static long
connect_timeout_ms(const struct px_validator *v)
{
	return (long)v->timeout_seconds * 1000L / 3;
}

static int
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

static const char *
rc_text(int rc)
{
	switch (rc) {
	case -ETIMEDOUT:
		return "timeout";
	case -ECONNREFUSED:
		return "connection refused";
	case -EIO:
		return "SERVFAIL, REFUSED or malformed answer";
	default:
		return strerror(-rc);
	}
}

/* ---- timers ---- */

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	job_fail(j, "connection",
	    "%s validation of %s timed out after %d s (%s)", kind_name[j->kind],
	    j->id_value, j->v->timeout_seconds, j->stage);
}

/* ---- dns-01 (RFC 8555 §8.4) ---- */

static void
on_txt(void *arg, int rc, const char *const *vals, const size_t *lens, size_t n)
{
	struct job *j = arg;
	unsigned char md[32];
	char want[48], found[300], one[80];
	size_t off = 0;

	if (rc < 0) {
		job_fail(j, "dns",
		    "DNS problem: TXT lookup of _acme-challenge.%s: %s",
		    j->id_value, rc_text(rc));
		return;
	}
	if (digest(j->key_authz, md, want) < 0) {
		job_fail(j, "serverInternal", "cannot compute digest");
		return;
	}
	/* TXT data is bytes: "<digest>\0junk" must not pass for the digest */
	for (size_t i = 0; i < n; i++) {
		if (lens[i] == strlen(want) &&
		    memcmp(vals[i], want, lens[i]) == 0) {
			job_done(j, NULL);
			return;
		}
	}
	if (n == 0) {
		job_fail(j, "unauthorized",
		    "no TXT record found at _acme-challenge.%s", j->id_value);
		return;
	}
	found[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w;

		printable(one, sizeof(one), vals[i], lens[i]);
		w = snprintf(found + off, sizeof(found) - off, "%s\"%s\"",
		    i ? ", " : "", one);
		if (w < 0 || (size_t)w >= sizeof(found) - off) {
			/* cut, and say so */
			memcpy(found + sizeof(found) - 4, "...", 4);
			break;
		}
		off += (size_t)w;
	}
	job_fail(j, "incorrectResponse",
	    "expected TXT \"%s\" at _acme-challenge.%s, found [%s]", want,
	    j->id_value, found);
}

static void
dns01_start(struct job *j)
{
	char name[300];

	snprintf(name, sizeof(name), "_acme-challenge.%s", j->id_value);
	j->stage = "TXT lookup";
	if (dns_lookup_txt(j->v->res, name, on_txt, j) < 0)
		job_fail(
		    j, "dns", "DNS problem: cannot look up TXT of %s", name);
}

/* ---- address lookup shared by http-01 and tls-alpn-01 ---- */

/*
 * The address policy, applied to every address before it is dialled: the
 * A/AAAA answers of every lookup (CNAMEs are followed by the resolver, so
 * these are the ends of the chains), IP identifiers and redirect targets.
 * Refused addresses are dropped; with none left nothing is contacted, and
 * the problem says no more than that (no port scanning through errors).
 */
static void
on_addrs(
    void *arg, int rc, const char *const *vals, const size_t *lens, size_t n)
{
	struct job *j = arg;
	const char *host = j->host != NULL ? j->host : j->id_value;
	const char **ok = NULL;
	size_t k = 0;

	(void)lens;
	if (rc < 0) {
		job_fail(j, "dns", "DNS problem: A/AAAA lookup of %s: %s",
		    j->host != NULL ? j->host : j->id_value, rc_text(rc));
		return;
	}
	if (n == 0) {
		job_fail(j, "dns",
		    "DNS problem: no A/AAAA records found for %s",
		    j->host != NULL ? j->host : j->id_value);
		return;
	}
	ok = calloc(n, sizeof(*ok));
	if (ok == NULL) {
		job_fail(j, "serverInternal", "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (acme_addr_text_allowed(vals[i], j->v->allow_private))
			ok[k++] = vals[i];
		else
			log_notice("validate: %s %s: address %s of %s refused "
			           "by the address policy",
			    kind_name[j->kind], j->id_value, vals[i], host);
	}
	if (k == 0) {
		free(ok);
		if (is_ip_literal(host))
			job_fail(j, "connection",
			    "connection to %s refused by policy: not a "
			    "globally routable unicast address",
			    host);
		else
			job_fail(j, "connection",
			    "connection to %s refused by policy: it has no "
			    "globally routable unicast address",
			    host);
		return;
	}
	rc = addrs_set(j, ok, k);
	free(ok);
	if (rc < 0) {
		job_fail(j, "serverInternal", "out of memory");
		return;
	}
	if (j->kind == KIND_HTTP)
		http_fetch(j);
	else
		tls_connect(j);
}

/* Resolve name (or take it as it is when it is an address), then go on. */
static void
resolve_then(struct job *j, const char *name)
{
	if (is_ip_literal(name)) {
		const char *one[1] = {name};
		size_t len = strlen(name);

		on_addrs(j, 0, one, &len, 1);
		return;
	}
	j->stage = "A/AAAA lookup";
	if (dns_lookup_addr(j->v->res, name, on_addrs, j) < 0)
		job_fail(j, "dns", "DNS problem: cannot look up %s", name);
}

/* ---- http-01 (RFC 8555 §8.3) ---- */

/* Keep only the body of a 200 response; others are read and dropped. */
static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	long status = 0;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return size * nmemb;
	return evcurl_buf_write(ptr, size, nmemb, &j->body);
}

static int
port_allowed(const struct px_validator *v, int port)
{
	return port == 80 || port == 443 || port == v->http01_port ||
	    port == v->tlsalpn01_port;
}

/* Follow a redirect: check it, then resolve its host like the first. */
static void
http_redirect(struct job *j, const char *location)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *url = NULL;
	char shown[200];
	size_t hl;
	int same;

	printable(shown, sizeof(shown), location, strlen(location));
	if (++j->redirects > REDIRECTS_MAX) {
		job_fail(j, "connection",
		    "too many redirects (more than %d), last to %s",
		    REDIRECTS_MAX, shown);
		goto out;
	}
	u = curl_url();
	if (u == NULL ||
	    curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	        CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		job_fail(j, "connection", "invalid redirect target %s", shown);
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0) {
		job_fail(j, "connection",
		    "redirect to %s: only http and https are allowed", shown);
		goto out;
	}
	if (!port_allowed(j->v, atoi(port))) {
		job_fail(j, "connection",
		    "redirect to %s: port %s is not allowed", shown, port);
		goto out;
	}
	hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	/* checked here for a clear message; on_addrs would refuse it too */
	if (is_ip_literal(host) &&
	    !acme_addr_text_allowed(host, j->v->allow_private)) {
		job_fail(j, "connection",
		    "redirect to %s refused by policy: not a globally routable "
		    "unicast address",
		    shown);
		goto out;
	}
	same = strcasecmp(host, j->host) == 0;
	free(j->url);
	free(j->host);
	j->url = strdup(url);
	j->host = strdup(host);
	j->port = atoi(port);
	if (j->url == NULL || j->host == NULL) {
		job_fail(j, "serverInternal", "out of memory");
		goto out;
	}
	if (same) {
		j->addr_i = 0;
		http_fetch(j);
	} else {
		/* another name: through our resolver too, never libcurl's */
		resolve_then(j, j->host);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
}

static void
on_http_done(CURL *easy, CURLcode code, void *arg)
{
	struct job *j = arg;
	long status = 0;
	char *location = NULL;
	curl_off_t connected = 0;
	size_t len;

	(void)easy;
	curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME_T, &connected);
	/* could not connect (refused, unreachable, connect timeout): the
	 * next address, if there is one */
	if ((code == CURLE_COULDNT_CONNECT ||
	        (code == CURLE_OPERATION_TIMEDOUT && connected == 0)) &&
	    j->addr_i + 1 < j->naddrs) {
		j->addr_i++;
		http_fetch(j);
		return;
	}
	switch (code) {
	case CURLE_OK:
		break;
	case CURLE_WRITE_ERROR:
		job_fail(j, "incorrectResponse",
		    "response from %s is larger than %d bytes", j->url,
		    BODY_MAX);
		return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		job_fail(j, "tls", "fetching %s: %s", j->url,
		    j->errbuf[0] ? j->errbuf : curl_easy_strerror(code));
		return;
	default:
		job_fail(j, "connection", "fetching %s (%s): %s", j->url,
		    j->addrs[j->addr_i],
		    j->errbuf[0] ? j->errbuf : curl_easy_strerror(code));
		return;
	}
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 301 || status == 302 || status == 303 || status == 307 ||
	    status == 308) {
		curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_URL, &location);
		if (location == NULL) {
			job_fail(j, "unauthorized",
			    "redirect from %s without a Location", j->url);
			return;
		}
		/* location belongs to the handle, which the next fetch
		 * replaces: redirect works on a copy */
		location = strdup(location);
		if (location == NULL) {
			job_fail(j, "serverInternal", "out of memory");
			return;
		}
		http_redirect(j, location);
		free(location);
		return;
	}
	if (status != 200) {
		job_fail(j, "unauthorized",
		    "invalid response from %s: HTTP %ld", j->url, status);
		return;
	}
	/* RFC 8555 §8.3: trailing whitespace is ignored */
	len = j->body.len;
	while (len > 0 &&
	    (j->body.data[len - 1] == ' ' || j->body.data[len - 1] == '\t' ||
	        j->body.data[len - 1] == '\r' || j->body.data[len - 1] == '\n'))
		len--;
	if (len == strlen(j->key_authz) &&
	    memcmp(j->body.data, j->key_authz, len) == 0) {
		job_done(j, NULL);
		return;
	}
	/* never echo the body: the address may be one the client cannot
	 * reach itself */
	job_fail(j, "incorrectResponse",
	    "expected \"%s\" at %s, found a different response of %zu bytes",
	    j->key_authz, j->url, j->body.len);
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: a safety net behind CURLOPT_CONNECT_TO. Only
 * the address our resolver gave may be dialled; were libcurl ever to resolve
 * a name itself, the connection fails instead of going elsewhere.
 */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct job *j = arg;
	unsigned char want[16];
	const void *got = NULL;
	size_t len = 0;
	curl_socket_t s;

	if (purpose == CURLSOCKTYPE_IPCXN && a->family == AF_INET &&
	    inet_pton(AF_INET, j->addrs[j->addr_i], want) == 1) {
		got = &((const struct sockaddr_in *)&a->addr)->sin_addr;
		len = 4;
	} else if (purpose == CURLSOCKTYPE_IPCXN && a->family == AF_INET6 &&
	    inet_pton(AF_INET6, j->addrs[j->addr_i], want) == 1) {
		got = &((const struct sockaddr_in6 *)&a->addr)->sin6_addr;
		len = 16;
	}
	if (got == NULL || memcmp(got, want, len) != 0) {
		log_warn("validate: %s: refusing a connection not to %s",
		    j->url, j->addrs[j->addr_i]);
		return CURL_SOCKET_BAD;
	}
	s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	return s < 0 ? CURL_SOCKET_BAD : s;
}

/* GET j->url, connecting to j->addrs[j->addr_i]. */
static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct px_validator *v = j->v;
	char pin[400];
	CURL *e;
	int ok = 1;

	(void)fd;
	(void)what;
	http_close(j);
	j->errbuf[0] = '\0';
	j->body.max = BODY_MAX;
	e = curl_easy_init();
	if (e == NULL)
		goto fail;
	j->easy = e;
	if (!is_ip_literal(j->host)) {
		/* connect to the address our resolver gave, so libcurl
		 * never resolves the name itself */
		snprintf(pin, sizeof(pin), "%s:%d:%s%s%s:%d", j->host, j->port,
		    strchr(j->addrs[j->addr_i], ':') ? "[" : "",
		    j->addrs[j->addr_i],
		    strchr(j->addrs[j->addr_i], ':') ? "]" : "", j->port);
		j->conn_to = curl_slist_append(NULL, pin);
		if (j->conn_to == NULL)
			goto fail;
		ok &= curl_easy_setopt(e, CURLOPT_CONNECT_TO, j->conn_to) ==
		    CURLE_OK;
	}
	ok &= curl_easy_setopt(e, CURLOPT_URL, j->url) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ==
	    CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_NOPROXY, "*") == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	          (long)CURL_HTTP_VERSION_1_1) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	          connect_timeout_ms(v)) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	          (long)v->timeout_seconds * 1000L) == CURLE_OK;
	/* the content proves control, not the certificate (a redirect to
	 * https usually meets a certificate for another name) */
	ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_USERAGENT,
	          "acmebridge-validator/" ACMEBRIDGE_VERSION) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, j) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) ==
	    CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j) == CURLE_OK;
	if (!ok || evcurl_add(v->ec, e, on_http_done, j) < 0)
		goto fail;
	return;
fail:
	job_fail(
	    j, "serverInternal", "cannot start HTTP request to %s", j->url);
}

/*
 * Schedule the next request. Always from a fresh loop iteration: this runs
 * inside evcurl's completion callback (retry, redirect), where adding a
 * transfer is not safe.
 */
static void
http_fetch(struct job *j)
{
	struct timeval now = {0, 0};

	j->stage = "HTTP request";
	if (evtimer_add(j->kick, &now) < 0)
		job_fail(j, "serverInternal", "cannot schedule HTTP request");
}

static void
http01_start(struct job *j)
{
	char url[600];
	int v6 = j->is_ip && j->family == AF_INET6;

	snprintf(url, sizeof(url), "http://%s%s%s:%d" WELL_KNOWN "%s",
	    v6 ? "[" : "", j->id_value, v6 ? "]" : "", j->v->http01_port,
	    j->token);
	j->url = strdup(url);
	j->host = strdup(j->id_value);
	j->port = j->v->http01_port;
	if (j->url == NULL || j->host == NULL) {
		job_fail(j, "serverInternal", "out of memory");
		return;
	}
	resolve_then(j, j->host);
}

/* ---- tls-alpn-01 (RFC 8737, RFC 8738 §6) ---- */

/* Check the handshake result; fills what went wrong into p. */
static void
tls_check(struct job *j, SSL *ssl, struct acme_problem *p)
{
	const unsigned char *alpn = NULL, *der;
	unsigned int alpn_len = 0;
	X509 *crt = NULL;
	GENERAL_NAMES *sans = NULL;
	ASN1_OBJECT *oid = NULL;
	ASN1_OCTET_STRING *inner = NULL;
	const GENERAL_NAME *gn;
	X509_EXTENSION *ext;
	const ASN1_OCTET_STRING *data;
	unsigned char md[32];
	char want[48], got[48], shown[120];
	int idx, crit = 0;
	long len;

	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len != strlen(ACME_TLS_ALPN) ||
	    memcmp(alpn, ACME_TLS_ALPN, alpn_len) != 0) {
		printable(shown, sizeof(shown), (const char *)alpn, alpn_len);
		acme_problem_set(p, 400, "tls",
		    "%s:%d did not negotiate ALPN \"" ACME_TLS_ALPN
		    "\" (got \"%s\")",
		    j->addrs[j->addr_i], j->v->tlsalpn01_port, shown);
		goto out;
	}
	crt = SSL_get1_peer_certificate(ssl);
	if (crt == NULL) {
		acme_problem_set(p, 400, "tls", "no certificate from %s:%d",
		    j->addrs[j->addr_i], j->v->tlsalpn01_port);
		goto out;
	}
	/* RFC 8737 §3: exactly one subjectAltName, the identifier */
	sans = X509_get_ext_d2i(crt, NID_subject_alt_name, &crit, NULL);
	if (sans == NULL || sk_GENERAL_NAME_num(sans) != 1) {
		acme_problem_set(p, 403, "unauthorized",
		    "certificate for %s must have exactly one subjectAltName, "
		    "found %d",
		    j->id_value, sans == NULL ? 0 : sk_GENERAL_NAME_num(sans));
		goto out;
	}
	gn = sk_GENERAL_NAME_value(sans, 0);
	if (j->is_ip) {
		const ASN1_OCTET_STRING *a =
		    gn->type == GEN_IPADD ? gn->d.iPAddress : NULL;
		int alen = j->family == AF_INET ? 4 : 16;

		if (a == NULL || ASN1_STRING_length(a) != alen ||
		    memcmp(ASN1_STRING_get0_data(a), j->ip, (size_t)alen) !=
		        0) {
			acme_problem_set(p, 403, "unauthorized",
			    "certificate subjectAltName is not iPAddress %s",
			    j->id_value);
			goto out;
		}
	} else {
		const ASN1_IA5STRING *d =
		    gn->type == GEN_DNS ? gn->d.dNSName : NULL;
		size_t want_len = strlen(j->id_value);

		if (d == NULL || (size_t)ASN1_STRING_length(d) != want_len ||
		    strncasecmp((const char *)ASN1_STRING_get0_data(d),
		        j->id_value, want_len) != 0) {
			if (d != NULL)
				printable(shown, sizeof(shown),
				    (const char *)ASN1_STRING_get0_data(d),
				    (size_t)ASN1_STRING_length(d));
			else
				snprintf(shown, sizeof(shown), "(type %d)",
				    gn->type);
			acme_problem_set(p, 403, "unauthorized",
			    "certificate subjectAltName is \"%s\", not "
			    "dNSName %s",
			    shown, j->id_value);
			goto out;
		}
	}
	/* RFC 8737 §3: critical acmeIdentifier = OCTET STRING (SHA-256) */
	oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	if (oid == NULL) {
		log_crypto_err("validate: OBJ_txt2obj");
		acme_problem_set(p, 500, "serverInternal", "OBJ_txt2obj");
		goto out;
	}
	idx = X509_get_ext_by_OBJ(crt, oid, -1);
	if (idx < 0) {
		acme_problem_set(p, 400, "incorrectResponse",
		    "certificate for %s has no acmeIdentifier extension",
		    j->id_value);
		goto out;
	}
	if (X509_get_ext_by_OBJ(crt, oid, idx) >= 0) {
		acme_problem_set(p, 400, "incorrectResponse",
		    "certificate for %s has more than one acmeIdentifier "
		    "extension",
		    j->id_value);
		goto out;
	}
	ext = X509_get_ext(crt, idx);
	if (!X509_EXTENSION_get_critical(ext)) {
		acme_problem_set(p, 400, "incorrectResponse",
		    "acmeIdentifier extension of the certificate for %s is "
		    "not critical",
		    j->id_value);
		goto out;
	}
	data = X509_EXTENSION_get_data(ext);
	der = ASN1_STRING_get0_data(data);
	len = ASN1_STRING_length(data);
	inner = d2i_ASN1_OCTET_STRING(NULL, &der, len);
	if (inner == NULL || der != ASN1_STRING_get0_data(data) + len ||
	    ASN1_STRING_length(inner) != 32) {
		ERR_clear_error();
		acme_problem_set(p, 400, "incorrectResponse",
		    "acmeIdentifier extension of the certificate for %s is not "
		    "an OCTET STRING of 32 bytes",
		    j->id_value);
		goto out;
	}
	if (digest(j->key_authz, md, want) < 0) {
		acme_problem_set(p, 500, "serverInternal", "digest");
		goto out;
	}
	if (CRYPTO_memcmp(ASN1_STRING_get0_data(inner), md, 32) != 0) {
		b64url_encode(ASN1_STRING_get0_data(inner), 32, got);
		acme_problem_set(p, 400, "incorrectResponse",
		    "acmeIdentifier of the certificate for %s is %s "
		    "(base64url), expected %s",
		    j->id_value, got, want);
		goto out;
	}
out:
	ERR_clear_error(); /* d2i leftovers of a hostile certificate */
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(oid);
	GENERAL_NAMES_free(sans);
	X509_free(crt);
}

static void
on_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct job *j = arg;
	struct acme_problem p;
	char why[256] = "";
	unsigned long e;

	memset(&p, 0, sizeof(p));
	if (what & BEV_EVENT_CONNECTED) {
		tls_check(j, bufferevent_openssl_get_ssl(bev), &p);
		job_done(j, p.type != NULL ? &p : NULL);
		acme_problem_clear(&p);
		return;
	}
	e = bufferevent_get_openssl_error(bev);
	if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "connection closed");
	else
		snprintf(why, sizeof(why), "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	while (bufferevent_get_openssl_error(bev) != 0)
		;
	ERR_clear_error();
	job_fail(j, "tls", "TLS handshake with %s:%d (SNI %s) failed: %s",
	    j->addrs[j->addr_i], j->v->tlsalpn01_port, j->sni, why);
}

/* TCP is up: start TLS on it. */
static void
tls_handshake(struct job *j)
{
	SSL *ssl = SSL_new(j->v->tls);

	j->stage = "TLS handshake";
	if (ssl == NULL || SSL_set_tlsext_host_name(ssl, j->sni) != 1) {
		log_crypto_err("validate: SSL_new");
		SSL_free(ssl);
		job_fail(j, "serverInternal", "cannot set up TLS");
		return;
	}
	j->bev = bufferevent_openssl_socket_new(j->v->base, j->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (j->bev == NULL) {
		SSL_free(ssl);
		job_fail(j, "serverInternal", "cannot set up TLS");
		return;
	}
	j->fd = -1; /* the bufferevent owns it (and ssl) now */
	bufferevent_setcb(j->bev, NULL, NULL, on_tls_event, j);
	bufferevent_enable(j->bev, EV_READ);
}

/* Connection failed: next address, or give up. */
static void
tls_connect_failed(struct job *j, int err)
{
	if (j->addr_i + 1 < j->naddrs) {
		j->addr_i++;
		tls_connect(j);
		return;
	}
	job_fail(j, "connection", "connecting to %s:%d: %s",
	    j->addrs[j->addr_i], j->v->tlsalpn01_port, strerror(err));
}

static void
on_tcp_connected(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	event_free(j->conn_ev);
	j->conn_ev = NULL;
	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		tls_close(j);
		tls_connect_failed(j, err);
		return;
	}
	tls_handshake(j);
}

/* Non-blocking TCP connect to j->addrs[j->addr_i]. */
static void
tls_connect(struct job *j)
{
	struct timeval tv;
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *a = j->addrs[j->addr_i];
	int err;

	tls_close(j);
	j->stage = "TCP connect";
	memset(&ss, 0, sizeof(ss));
	if (strchr(a, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)j->v->tlsalpn01_port);
		err = inet_pton(AF_INET6, a, &s6->sin6_addr) == 1 ? 0 : EINVAL;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)j->v->tlsalpn01_port);
		err = inet_pton(AF_INET, a, &s4->sin_addr) == 1 ? 0 : EINVAL;
		sl = sizeof(*s4);
	}
	if (err != 0)
		goto fail;
	j->fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->fd < 0) {
		err = errno;
		goto fail;
	}
	if (connect(j->fd, (struct sockaddr *)&ss, sl) == 0) {
		tls_handshake(j);
		return;
	}
	if (errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	j->conn_ev =
	    event_new(j->v->base, j->fd, EV_WRITE, on_tcp_connected, j);
	tv.tv_sec = connect_timeout_ms(j->v) / 1000;
	tv.tv_usec = connect_timeout_ms(j->v) % 1000 * 1000;
	if (j->conn_ev == NULL || event_add(j->conn_ev, &tv) < 0) {
		err = ENOMEM;
		goto fail;
	}
	return;
fail:
	tls_close(j);
	tls_connect_failed(j, err);
}

/* RFC 8738 §6: SNI for an IP identifier is its reverse-mapping name. */
static void
reverse_name(const struct job *j, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (j->family == AF_INET) {
		snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", j->ip[3],
		    j->ip[2], j->ip[1], j->ip[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 4 < len; i--) {
		out[o++] = hex[j->ip[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[j->ip[i] >> 4];
		out[o++] = '.';
	}
	snprintf(out + o, len - o, "ip6.arpa");
}

static void
tlsalpn01_start(struct job *j)
{
	if (j->is_ip)
		reverse_name(j, j->sni, sizeof(j->sni));
	else
		snprintf(j->sni, sizeof(j->sni), "%s", j->id_value);
	resolve_then(j, j->id_value);
}

/* ---- entry points ---- */

static void
on_start(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	switch (j->kind) {
	case KIND_HTTP:
		http01_start(j);
		break;
	case KIND_DNS:
		dns01_start(j);
		break;
	case KIND_TLS:
		tlsalpn01_start(j);
		break;
	}
}

struct px_validator *
px_validator_new(struct event_base *base, struct evcurl *ec,
    const struct px_validate_conf *conf)
{
	static const unsigned char alpn[] = "\x0a" ACME_TLS_ALPN;
	struct px_validator *v = NULL;
	int dns_ms;

	if (base == NULL || ec == NULL || conf == NULL ||
	    conf->dns_resolver == NULL || conf->http01_port <= 0 ||
	    conf->http01_port > 65535 || conf->tlsalpn01_port <= 0 ||
	    conf->tlsalpn01_port > 65535)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	v->base = base;
	v->ec = ec;
	v->http01_port = conf->http01_port;
	v->tlsalpn01_port = conf->tlsalpn01_port;
	v->timeout_seconds =
	    conf->timeout_seconds > 0 ? conf->timeout_seconds : DEFAULT_TIMEOUT;
	v->allow_private = conf->allow_private_addresses != 0;
	/* two UDP tries and a TCP try should fit in the whole budget */
	dns_ms = v->timeout_seconds * 1000 / 4;
	if (dns_ms > DNS_ATTEMPT_MS)
		dns_ms = DNS_ATTEMPT_MS;
	v->res = dns_resolver_new(base, conf->dns_resolver, dns_ms);
	if (v->res == NULL)
		goto fail;
	v->tls = SSL_CTX_new(TLS_client_method());
	if (v->tls == NULL ||
	    SSL_CTX_set_min_proto_version(v->tls, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(v->tls, alpn, sizeof(alpn) - 1) != 0) {
		log_crypto_err("validate: SSL_CTX_new");
		goto fail;
	}
	/* RFC 8737 §3: the certificate is self-signed; what counts is
	 * checked by hand in tls_check() */
	SSL_CTX_set_verify(v->tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(v->tls, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(v->tls, SSL_OP_NO_TICKET);
	return v;
fail:
	px_validator_free(v);
	return NULL;
}

void
px_validator_free(struct px_validator *v)
{
	if (v == NULL)
		return;
	while (v->jobs != NULL) {
		struct job *j = v->jobs;

		v->jobs = j->next;
		job_free(j);
	}
	dns_resolver_free(v->res);
	SSL_CTX_free(v->tls);
	free(v);
}

/* Token and names go into URLs: only their expected alphabets. */
static int
chars_ok(const char *s, const char *extra)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		        strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

int
px_validate(struct px_validator *v, const struct px_validation *val,
    px_validate_cb *cb, void *arg)
{
	struct job *j = NULL;
	struct timeval now = {0, 0};
	struct timeval limit;
	char canon[INET6_ADDRSTRLEN];

	if (v == NULL || val == NULL || cb == NULL || val->chall_type == NULL ||
	    val->id_type == NULL || val->id_value == NULL ||
	    val->token == NULL || val->key_authz == NULL ||
	    !chars_ok(val->token, ""))
		return -1;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->v = v;
	j->fd = -1;
	j->cb = cb;
	j->arg = arg;
	j->stage = "start";
	if (strcmp(val->chall_type, "http-01") == 0)
		j->kind = KIND_HTTP;
	else if (strcmp(val->chall_type, "dns-01") == 0)
		j->kind = KIND_DNS;
	else if (strcmp(val->chall_type, "tls-alpn-01") == 0)
		j->kind = KIND_TLS;
	else
		goto fail;
	if (strcmp(val->id_type, "ip") == 0) {
		j->is_ip = 1;
		if (inet_pton(AF_INET, val->id_value, j->ip) == 1)
			j->family = AF_INET;
		else if (inet_pton(AF_INET6, val->id_value, j->ip) == 1)
			j->family = AF_INET6;
		else
			goto fail;
		/* RFC 8738 §7: no dns-01 for IP addresses */
		if (j->kind == KIND_DNS)
			goto fail;
		inet_ntop(j->family, j->ip, canon, sizeof(canon));
		j->id_value = strdup(canon);
	} else if (strcmp(val->id_type, "dns") == 0) {
		if (!chars_ok(val->id_value, ".") ||
		    strlen(val->id_value) > 253)
			goto fail;
		j->id_value = strdup(val->id_value);
	} else {
		goto fail;
	}
	j->token = strdup(val->token);
	j->key_authz = strdup(val->key_authz);
	j->start = evtimer_new(v->base, on_start, j);
	j->deadline = evtimer_new(v->base, on_deadline, j);
	j->kick = evtimer_new(v->base, on_kick, j);
	if (j->id_value == NULL || j->token == NULL || j->key_authz == NULL ||
	    j->start == NULL || j->deadline == NULL || j->kick == NULL)
		goto fail;
	limit.tv_sec = v->timeout_seconds;
	limit.tv_usec = 0;
	/* both timers fire from the loop, so cb never runs in this call */
	if (evtimer_add(j->start, &now) < 0 ||
	    evtimer_add(j->deadline, &limit) < 0)
		goto fail;
	j->next = v->jobs;
	v->jobs = j;
	return 0;
fail:
	job_free(j);
	return -1;
}
