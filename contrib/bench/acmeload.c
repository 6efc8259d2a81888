/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acmeload: a closed-loop RFC 8555 load generator in C.
 *
 * The same flow and the same JSON summary as the Python yardstick the
 * benchmark README names (one account, then per flow, over and over:
 * newOrder, each authorization, its challenge, polls until valid,
 * finalize with a pre-generated CSR, polls until valid, the certificate),
 * at a fraction of its CPU per order, so that two cores can saturate the
 * server under test. One thread drives every flow through libcurl's multi
 * interface (one kept-alive TLS connection per flow); a second thread
 * answers http-01 requests (TOKEN.THUMBPRINT) when --http01-port is given.
 *
 *   acmeload DIRECTORY_URL --ca-bundle CA.pem [-c N] [-d SECONDS]
 *            [--warmup S] [--orders N] [--names-per-order N] [--csrs N]
 *            [--domain-suffix S] [--poll-interval S] [--poll-timeout S]
 *            [--timeout S] [--max-errors N] [--server-pid PID]
 *            [--http01-port P] [--http01-addr A] [--json FILE] [-k]
 *
 * Exit status: 0 if at least one order completed and none failed.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "contrib/b64url.h"

/* ---- options and results ------------------------------------------- */

static struct {
	const char *dir_url, *ca, *suffix, *json, *http01_addr;
	int conc, names, ncsr, max_errors, http01_port, insecure;
	double dur, warmup, poll_interval, poll_timeout, timeout;
	long long orders; /* -1: run for the duration */
	int server_pid;
} opt = {
    .suffix = "example.com",
    .http01_addr = "127.0.0.1",
    .conc = 8,
    .names = 1,
    .ncsr = 64,
    .max_errors = 50,
    .dur = 20,
    .warmup = -1,
    .poll_interval = 0.005,
    .poll_timeout = 30,
    .timeout = 30,
    .orders = -1,
};

enum label {
	L_NEWACCOUNT,
	L_NEWORDER,
	L_AUTHZ,
	L_CHALLENGE,
	L_AUTHZ_POLL,
	L_FINALIZE,
	L_ORDER_POLL,
	L_CERT,
	L_N
};
static const char *const label_name[L_N] = {"newAccount", "newOrder", "authz",
    "challenge", "authz-poll", "finalize", "order-poll", "certificate"};

struct sample {
	double t, lat;
	int label;
};

static struct {
	struct sample *req;
	size_t nreq, capreq;
	double *ord_t, *ord_lat;
	size_t nord, capord;
	char *errors[5];
	size_t nerr;
	long long connects, nonce_heads, bad_nonce, already_valid, polls_authz,
	    polls_order, not_ready;
} R;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("acmeload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void
add_req(double t, double lat, int label)
{
	if (R.nreq == R.capreq) {
		R.capreq = R.capreq ? R.capreq * 2 : 4096;
		R.req = realloc(R.req, R.capreq * sizeof(*R.req));
		if (R.req == NULL)
			die("out of memory");
	}
	R.req[R.nreq++] = (struct sample){t, lat, label};
}

static void
add_order(double t, double lat)
{
	if (R.nord == R.capord) {
		R.capord = R.capord ? R.capord * 2 : 1024;
		R.ord_t = realloc(R.ord_t, R.capord * sizeof(double));
		R.ord_lat = realloc(R.ord_lat, R.capord * sizeof(double));
		if (R.ord_t == NULL || R.ord_lat == NULL)
			die("out of memory");
	}
	R.ord_t[R.nord] = t;
	R.ord_lat[R.nord++] = lat;
}

/* ---- keys, JWS, CSRs ------------------------------------------------- */

static EVP_PKEY *acct_key;
static char jwk_json[256], thumbprint[44];

static void
make_account_key(void)
{
	unsigned char x[32], y[32], md[32];
	BIGNUM *bx = NULL, *by = NULL;
	char xs[44], ys[44];

	acct_key = EVP_EC_gen("P-256");
	if (acct_key == NULL || !EVP_PKEY_get_bn_param(acct_key, "qx", &bx) ||
	    !EVP_PKEY_get_bn_param(acct_key, "qy", &by) ||
	    BN_bn2binpad(bx, x, 32) != 32 || BN_bn2binpad(by, y, 32) != 32)
		die("cannot make the account key");
	BN_free(bx);
	BN_free(by);
	b64url_encode(x, 32, xs);
	b64url_encode(y, 32, ys);
	/* RFC 7638: the required members in order, no whitespace */
	snprintf(jwk_json, sizeof(jwk_json),
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs,
	    ys);
	SHA256((const unsigned char *)jwk_json, strlen(jwk_json), md);
	b64url_encode(md, 32, thumbprint);
}

/* ES256 over input: the raw r || s the JWS wants. The context is set up
 * once and copied per signature (setting one up costs more than the
 * signature). */
static void
sign(const char *input, char out[88])
{
	static EVP_MD_CTX *tmpl;
	unsigned char der[80], raw[64];
	const unsigned char *p = der;
	size_t len = sizeof(der);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;

	if (tmpl == NULL &&
	    ((tmpl = EVP_MD_CTX_new()) == NULL ||
	        EVP_DigestSignInit(tmpl, NULL, EVP_sha256(), NULL, acct_key) !=
	            1))
		die("cannot set up signing");
	if (md == NULL || EVP_MD_CTX_copy_ex(md, tmpl) != 1 ||
	    EVP_DigestSign(md, der, &len, (const unsigned char *)input,
	        strlen(input)) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		die("signing failed");
	ECDSA_SIG_get0(sig, &r, &s);
	BN_bn2binpad(r, raw, 32);
	BN_bn2binpad(s, raw + 32, 32);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	b64url_encode(raw, 64, out);
}

/* A flattened JWS; caller frees. kid NULL: embed the jwk. */
static char *
jws(const char *url, const char *nonce, const char *kid, const char *payload)
{
	char prot[1024], *p64, *pl64, *input, sig[88], *body;
	size_t n;

	if (kid != NULL)
		snprintf(prot, sizeof(prot),
		    "{\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"%s\","
		    "\"url\":\"%s\"}",
		    kid, nonce, url);
	else
		snprintf(prot, sizeof(prot),
		    "{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"%s\","
		    "\"url\":\"%s\"}",
		    jwk_json, nonce, url);
	p64 = b64url_encode_alloc((const unsigned char *)prot, strlen(prot));
	pl64 = payload ? b64url_encode_alloc(
	                     (const unsigned char *)payload, strlen(payload))
	               : strdup("");
	n = strlen(p64) + strlen(pl64) + 2;
	input = malloc(n);
	if (p64 == NULL || pl64 == NULL || input == NULL)
		die("out of memory");
	snprintf(input, n, "%s.%s", p64, pl64);
	sign(input, sig);
	n += strlen(sig) + 64;
	body = malloc(n);
	if (body == NULL)
		die("out of memory");
	snprintf(body, n,
	    "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
	    p64, pl64, sig);
	free(p64);
	free(pl64);
	free(input);
	return body;
}

struct csr {
	char **names;
	char *payload; /* {"csr":"..."} */
	char *order;   /* {"identifiers":[...]} */
};
static struct csr *csrs;

static void
make_csrs(const char *run_id)
{
	csrs = calloc((size_t)opt.ncsr, sizeof(*csrs));
	if (csrs == NULL)
		die("out of memory");
	for (int i = 0; i < opt.ncsr; i++) {
		EVP_PKEY *k = EVP_EC_gen("P-256");
		X509_REQ *req = X509_REQ_new();
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *ext;
		char san[4096] = "", *b64, ids[8192] = "";
		unsigned char *der = NULL;
		int len;

		csrs[i].names = calloc((size_t)opt.names, sizeof(char *));
		if (k == NULL || req == NULL || exts == NULL ||
		    csrs[i].names == NULL)
			die("cannot make CSRs");
		for (int j = 0; j < opt.names; j++) {
			char name[300];

			snprintf(name, sizeof(name), "o%d-%d.%s.%s", i, j,
			    run_id, opt.suffix);
			csrs[i].names[j] = strdup(name);
			snprintf(san + strlen(san), sizeof(san) - strlen(san),
			    "%sDNS:%s", j ? "," : "", name);
			snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids),
			    "%s{\"type\":\"dns\",\"value\":\"%s\"}",
			    j ? "," : "", name);
		}
		X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
		    MBSTRING_ASC, (const unsigned char *)csrs[i].names[0], -1,
		    -1, 0);
		X509_REQ_set_pubkey(req, k);
		ext =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		sk_X509_EXTENSION_push(exts, ext);
		X509_REQ_add_extensions(req, exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		if (X509_REQ_sign(req, k, EVP_sha256()) <= 0 ||
		    (len = i2d_X509_REQ(req, &der)) <= 0)
			die("cannot sign a CSR");
		b64 = b64url_encode_alloc(der, (size_t)len);
		csrs[i].payload = malloc(strlen(b64) + 16);
		csrs[i].order = malloc(strlen(ids) + 32);
		if (b64 == NULL || csrs[i].payload == NULL ||
		    csrs[i].order == NULL)
			die("out of memory");
		sprintf(csrs[i].payload, "{\"csr\":\"%s\"}", b64);
		sprintf(csrs[i].order, "{\"identifiers\":[%s]}", ids);
		free(b64);
		OPENSSL_free(der);
		X509_REQ_free(req);
		EVP_PKEY_free(k);
	}
}

/* ---- http-01 responder ------------------------------------------------ */

static void *
http01_main(void *arg)
{
	int ls = *(int *)arg;

	for (;;) {
		char buf[2048], body[256], out[512];
		const char *pre = "GET /.well-known/acme-challenge/", *tok;
		size_t got = 0;
		ssize_t n;
		int fd = accept(ls, NULL, NULL);

		if (fd < 0)
			continue;
		while (got < sizeof(buf) - 1 &&
		    (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (strstr(buf, "\r\n\r\n") != NULL)
				break;
		}
		buf[got] = '\0';
		if (strncmp(buf, pre, strlen(pre)) == 0) {
			tok = buf + strlen(pre);
			snprintf(body, sizeof(body), "%.*s.%s",
			    (int)strcspn(tok, " \r\n"), tok, thumbprint);
			snprintf(out, sizeof(out),
			    "HTTP/1.1 200 OK\r\nContent-Type: "
			    "application/octet-stream\r\nContent-Length: "
			    "%zu\r\nConnection: close\r\n\r\n%s",
			    strlen(body), body);
		} else {
			snprintf(out, sizeof(out),
			    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
			    "Connection: close\r\n\r\n");
		}
		if (write(fd, out, strlen(out)) < 0)
			perror("acmeload: http-01");
		close(fd);
	}
	return NULL;
}

static void
start_http01(void)
{
	static int ls;
	struct sockaddr_in sa = {0};
	pthread_t th;
	int one = 1;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)opt.http01_port);
	if (ls < 0 || inet_pton(AF_INET, opt.http01_addr, &sa.sin_addr) != 1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(ls, 128) != 0 ||
	    pthread_create(&th, NULL, http01_main, &ls) != 0)
		die("cannot serve http-01 on %s:%d", opt.http01_addr,
		    opt.http01_port);
	pthread_detach(th);
}

/* ---- one flow --------------------------------------------------------- */

enum step {
	S_IDLE,
	S_NONCE,
	S_NEWORDER,
	S_AUTHZ,
	S_CHALL,
	S_AUTHZ_POLL,
	S_FINALIZE,
	S_ORDER_POLL,
	S_CERT,
};

struct buf {
	char *p;
	size_t n;
};

struct flow {
	CURL *h;
	struct curl_slist *hdrs, *pem_hdrs;
	enum step step, after_nonce;
	int busy;
	double wake, t_order, t_req, delay, poll_deadline;
	char nonce[128];
	char location[1024];
	char order_url[1024], finalize[1024], cert[1024];
	char **authz;
	size_t nauthz, cur;
	char chall[1024];
	int csr, label, tries;
	long status;
	struct buf body;
	char *req_body;
};

static json_t *directory;
static char kid[1024];
static double w0, w1;
static long long budget;
static CURLM *multi;

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	char *q = realloc(b->p, b->n + sz * n + 1);

	if (q == NULL)
		return 0;
	memcpy(q + b->n, p, sz * n);
	b->p = q;
	b->n += sz * n;
	b->p[b->n] = '\0';
	return sz * n;
}

static void
header_value(
    const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	if (len > nl + 1 && strncasecmp(line, name, nl) == 0 &&
	    line[nl] == ':') {
		const char *v = line + nl + 1;
		size_t vl = len - nl - 1;

		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		snprintf(out, outlen, "%.*s", (int)vl, v);
	}
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct flow *f = arg;

	header_value(p, sz * n, "Replay-Nonce", f->nonce, sizeof(f->nonce));
	header_value(p, sz * n, "Location", f->location, sizeof(f->location));
	return sz * n;
}

static curl_socket_t
on_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)arg;
	(void)purpose;
	(void)a;
	R.connects++;
	return socket(a->family, a->socktype, a->protocol);
}

static void
flow_init(struct flow *f)
{
	f->h = curl_easy_init();
	if (f->h == NULL)
		die("curl_easy_init failed");
	f->hdrs =
	    curl_slist_append(NULL, "Content-Type: application/jose+json");
	f->pem_hdrs = curl_slist_append(
	    curl_slist_append(NULL, "Content-Type: application/jose+json"),
	    "Accept: application/pem-certificate-chain");
	curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->h, CURLOPT_WRITEDATA, &f->body);
	curl_easy_setopt(f->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(f->h, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(f->h, CURLOPT_OPENSOCKETFUNCTION, on_socket);
	curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
	curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->h, CURLOPT_TIMEOUT_MS, (long)(opt.timeout * 1000));
	curl_easy_setopt(f->h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	if (opt.insecure) {
		curl_easy_setopt(f->h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(f->h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(f->h, CURLOPT_CAINFO, opt.ca);
	}
}

static void fail_order(struct flow *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail_order(struct flow *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (R.nerr < 5)
		R.errors[R.nerr] = strdup(msg);
	R.nerr++;
	f->step = S_IDLE;
	f->wake = now() + 0.05;
	f->nonce[0] = '\0';
}

/* Send the request of f's step (a POST; a HEAD for a nonce). */
static void
send_step(struct flow *f)
{
	const char *url = NULL, *payload = NULL;
	struct curl_slist *hdrs = f->hdrs;

	free(f->body.p);
	f->body.p = NULL;
	f->body.n = 0;
	f->location[0] = '\0';
	if (f->nonce[0] == '\0' && f->step != S_NONCE) {
		f->after_nonce = f->step;
		f->step = S_NONCE;
	}
	switch (f->step) {
	case S_NONCE:
		R.nonce_heads++;
		curl_easy_setopt(f->h, CURLOPT_URL,
		    json_string_value(json_object_get(directory, "newNonce")));
		curl_easy_setopt(f->h, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, NULL);
		f->busy = 1;
		curl_multi_add_handle(multi, f->h);
		return;
	case S_NEWORDER:
		url = json_string_value(json_object_get(directory, "newOrder"));
		payload = csrs[f->csr].order;
		f->label = L_NEWORDER;
		break;
	case S_AUTHZ:
	case S_AUTHZ_POLL:
		url = f->authz[f->cur];
		f->label = f->step == S_AUTHZ ? L_AUTHZ : L_AUTHZ_POLL;
		break;
	case S_CHALL:
		url = f->chall;
		payload = "{}";
		f->label = L_CHALLENGE;
		break;
	case S_FINALIZE:
		url = f->finalize;
		payload = csrs[f->csr].payload;
		f->label = L_FINALIZE;
		break;
	case S_ORDER_POLL:
		url = f->order_url;
		f->label = L_ORDER_POLL;
		break;
	case S_CERT:
		url = f->cert;
		f->label = L_CERT;
		hdrs = f->pem_hdrs;
		break;
	default:
		return;
	}
	free(f->req_body);
	f->req_body = jws(url, f->nonce, kid, payload);
	f->nonce[0] = '\0';
	curl_easy_setopt(f->h, CURLOPT_URL, url);
	curl_easy_setopt(f->h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(f->h, CURLOPT_POST, 1L);
	curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, f->req_body);
	curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, hdrs);
	f->t_req = now();
	f->busy = 1;
	curl_multi_add_handle(multi, f->h);
}

static void
start_order(struct flow *f, int idx)
{
	static long long seq;

	if (budget >= 0) {
		if (budget == 0) {
			f->step = S_IDLE;
			f->wake = INFINITY;
			return;
		}
		budget--;
	}
	f->csr = (int)((idx * 7919LL + seq++) % opt.ncsr);
	f->t_order = now();
	f->step = S_NEWORDER;
	f->tries = 0;
	for (size_t i = 0; i < f->nauthz; i++)
		free(f->authz[i]);
	free(f->authz);
	f->authz = NULL;
	f->nauthz = 0;
}

static void
poll_later(struct flow *f, enum step step)
{
	if (f->step != step) {
		f->delay = 0;
		f->poll_deadline = now() + opt.poll_timeout;
	}
	f->step = step;
	f->wake = now() + f->delay;
	f->delay = f->delay == 0 ? opt.poll_interval : fmin(f->delay * 2, 1.0);
}

static void
copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(
	    dst, len, "%s", json_string_value(v) ? json_string_value(v) : "");
}

/* A response arrived for f's step: on to the next. */
static void
step_done(struct flow *f, int idx)
{
	double t = now();
	json_t *o = NULL;
	const char *st;

	if (f->step == S_NONCE) {
		if (f->nonce[0] == '\0') {
			fail_order(f, "newNonce: no Replay-Nonce");
			return;
		}
		f->step = f->after_nonce;
		f->wake = 0;
		return;
	}
	add_req(t, t - f->t_req, f->label);
	if (f->status == 400 && f->body.p != NULL &&
	    strstr(f->body.p, "badNonce") != NULL) {
		R.bad_nonce++;
		if (++f->tries > 10) {
			fail_order(f, "too many badNonce errors");
			return;
		}
		f->wake = 0;
		return; /* same step again with the new nonce */
	}
	if (f->step == S_CERT) {
		if (f->status != 200 || f->body.p == NULL ||
		    strncmp(f->body.p, "-----BEGIN CERTIFICATE-----", 27) !=
		        0) {
			fail_order(f, "certificate: HTTP %ld", f->status);
			return;
		}
		add_order(t, t - f->t_order);
		f->step = S_IDLE;
		f->wake = 0;
		return;
	}
	if (f->step == S_FINALIZE && f->status == 403 && f->body.p != NULL &&
	    strstr(f->body.p, "orderNotReady") != NULL) {
		R.not_ready++;
		return poll_later(f, S_ORDER_POLL);
	}
	o = f->body.p ? json_loads(f->body.p, 0, NULL) : NULL;
	st = json_string_value(json_object_get(o, "status"));
	if (o == NULL || (f->status != 200 && f->status != 201)) {
		fail_order(f, "%s: HTTP %ld %.300s", label_name[f->label],
		    f->status, f->body.p ? f->body.p : "");
		json_decref(o);
		return;
	}
	f->wake = 0;
	switch (f->step) {
	case S_NEWORDER: {
		json_t *az = json_object_get(o, "authorizations");

		copy_str(f->finalize, sizeof(f->finalize),
		    json_object_get(o, "finalize"));
		snprintf(f->order_url, sizeof(f->order_url), "%s", f->location);
		f->nauthz = json_array_size(az);
		f->authz = calloc(f->nauthz + 1, sizeof(char *));
		for (size_t i = 0; i < f->nauthz; i++)
			f->authz[i] =
			    strdup(json_string_value(json_array_get(az, i)));
		f->cur = 0;
		f->step = f->nauthz ? S_AUTHZ : S_FINALIZE;
		break;
	}
	case S_AUTHZ:
		if (st != NULL && strcmp(st, "valid") == 0) {
			R.already_valid++;
			goto next_authz;
		}
		{
			json_t *cs = json_object_get(o, "challenges"), *c;
			size_t i;

			f->chall[0] = '\0';
			json_array_foreach(cs, i, c)
				if (json_is_string(
				        json_object_get(c, "type")) &&
				    strcmp(json_string_value(
				               json_object_get(c, "type")),
				        "http-01") == 0)
					copy_str(f->chall, sizeof(f->chall),
					    json_object_get(c, "url"));
			if (f->chall[0] == '\0') {
				fail_order(f, "authz: no http-01 challenge");
				break;
			}
			f->step = S_CHALL;
		}
		break;
	case S_CHALL:
		if (st != NULL && strcmp(st, "valid") == 0)
			goto next_authz;
		f->step = S_AUTHZ;
		poll_later(f, S_AUTHZ_POLL);
		break;
	case S_AUTHZ_POLL:
		R.polls_authz++;
		if (st != NULL && strcmp(st, "valid") == 0)
			goto next_authz;
		if ((st != NULL && strcmp(st, "invalid") == 0) ||
		    t > f->poll_deadline) {
			fail_order(f, "authz-poll: %s", st ? st : "?");
			break;
		}
		poll_later(f, S_AUTHZ_POLL);
		break;
	next_authz:
		if (++f->cur < f->nauthz)
			f->step = S_AUTHZ;
		else
			f->step = S_FINALIZE;
		break;
	case S_FINALIZE:
	case S_ORDER_POLL:
		if (f->step == S_ORDER_POLL)
			R.polls_order++;
		if (st != NULL && strcmp(st, "valid") == 0) {
			copy_str(f->cert, sizeof(f->cert),
			    json_object_get(o, "certificate"));
			f->step = S_CERT;
		} else if (st != NULL && strcmp(st, "invalid") == 0) {
			fail_order(f, "order invalid: %.300s", f->body.p);
		} else if (f->step == S_ORDER_POLL && t > f->poll_deadline) {
			fail_order(f, "order-poll: still %s", st ? st : "?");
		} else if (f->step == S_ORDER_POLL && st != NULL &&
		    strcmp(st, "ready") == 0) {
			f->step = S_FINALIZE; /* after orderNotReady */
		} else {
			poll_later(f, S_ORDER_POLL);
		}
		break;
	default:
		break;
	}
	(void)idx;
	json_decref(o);
}

/* ---- the run ---------------------------------------------------------- */

static char *
fetch_directory(CURL *h, struct buf *b)
{
	long st = 0;

	curl_easy_setopt(h, CURLOPT_URL, opt.dir_url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	if (opt.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(h, CURLOPT_CAINFO, opt.ca);
	}
	if (curl_easy_perform(h) != CURLE_OK)
		die("GET %s failed", opt.dir_url);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
	if (st != 200)
		die("GET %s: HTTP %ld", opt.dir_url, st);
	return b->p;
}

static void
new_account(struct flow *f)
{
	char *body;
	long st = 0;
	double t0;

	curl_easy_setopt(f->h, CURLOPT_URL,
	    json_string_value(json_object_get(directory, "newNonce")));
	curl_easy_setopt(f->h, CURLOPT_NOBODY, 1L);
	if (curl_easy_perform(f->h) != CURLE_OK || f->nonce[0] == '\0')
		die("newNonce failed");
	R.nonce_heads++;
	t0 = now();
	body = jws(json_string_value(json_object_get(directory, "newAccount")),
	    f->nonce, NULL, "{\"termsOfServiceAgreed\":true}");
	f->nonce[0] = '\0';
	curl_easy_setopt(f->h, CURLOPT_URL,
	    json_string_value(json_object_get(directory, "newAccount")));
	curl_easy_setopt(f->h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, f->hdrs);
	if (curl_easy_perform(f->h) != CURLE_OK)
		die("newAccount failed");
	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &st);
	if ((st != 200 && st != 201) || f->location[0] == '\0')
		die("newAccount: HTTP %ld %.300s", st,
		    f->body.p ? f->body.p : "");
	snprintf(kid, sizeof(kid), "%s", f->location);
	free(body);
	free(f->body.p);
	f->body.p = NULL;
	f->body.n = 0;
	(void)t0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double q)
{
	long i;

	if (n == 0)
		return NAN;
	i = (long)ceil(q * (double)n) - 1;
	return v[i < 0 ? 0 : i];
}

static void
proc_sample(int pid, double *cpu, long *rss, long *hwm)
{
	char path[64], line[512];
	FILE *f;
	unsigned long ut = 0, st = 0;

	*cpu = 0;
	*rss = *hwm = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL) {
			char *p = strrchr(line, ')');

			if (p != NULL &&
			    sscanf(p + 2,
			        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			        "%lu %lu",
			        &ut, &st) == 2)
				*cpu = (double)(ut + st) /
				    (double)sysconf(_SC_CLK_TCK);
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			sscanf(line, "VmRSS: %ld", rss);
			sscanf(line, "VmHWM: %ld", hwm);
		}
		fclose(f);
	}
}

/* This process's CPU seconds: user, and system in *sys. */
static double
cpu_self(double *sys)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	*sys = (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
	return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: acmeload DIRECTORY_URL (--ca-bundle FILE | -k) [-c N] [-d "
	    "S] [--warmup S]\n"
	    "       [--orders N] [--names-per-order N] [--csrs N] "
	    "[--domain-suffix S]\n"
	    "       [--poll-interval S] [--poll-timeout S] [--timeout S] "
	    "[--max-errors N]\n"
	    "       [--server-pid PID] [--http01-port P] [--http01-addr A] "
	    "[--json FILE]\n");
	exit(2);
}

static void parse_args(int argc, char **argv);

int
main(int argc, char **argv)
{
	struct flow *flows;
	struct buf dirb = {0};
	CURL *h;
	double t_prog = now(), t_acct, t_csr, c0 = 0, c1 = 0, s0c = 0, s1c = 0;
	double y0 = 0, y1 = 0; /* system CPU */
	long s0r = 0, s1r = 0, s1h = 0, dummy;
	int running = 1, sampled0 = 0;
	char run_id[9];
	unsigned char rnd[4];

	parse_args(argc, argv);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	make_account_key();
	h = curl_easy_init();
	directory = json_loads(fetch_directory(h, &dirb), 0, NULL);
	if (directory == NULL)
		die("the directory is not JSON");
	curl_easy_cleanup(h);
	flows = calloc((size_t)opt.conc, sizeof(*flows));
	if (flows == NULL)
		die("out of memory");
	for (int i = 0; i < opt.conc; i++)
		flow_init(&flows[i]);
	t_acct = now();
	new_account(&flows[0]);
	t_acct = now() - t_acct;
	RAND_bytes(rnd, sizeof(rnd));
	snprintf(run_id, sizeof(run_id), "%02x%02x%02x%02x", rnd[0], rnd[1],
	    rnd[2], rnd[3]);
	t_csr = now();
	make_csrs(run_id);
	t_csr = now() - t_csr;
	if (opt.http01_port > 0)
		start_http01();
	multi = curl_multi_init();
	budget = opt.orders;
	w0 = now() + opt.warmup;
	w1 = opt.orders >= 0 && opt.dur <= 0 ? INFINITY : w0 + opt.dur;
	for (int i = 0; i < opt.conc; i++)
		start_order(&flows[i], i);
	while (running) {
		double t = now(), next = t + 0.1;
		int still, msgs, active = 0;
		CURLMsg *m;

		if (!sampled0 && t >= w0) {
			c0 = cpu_self(&y0);
			if (opt.server_pid)
				proc_sample(opt.server_pid, &s0c, &s0r, &dummy);
			sampled0 = 1;
		}
		for (int i = 0; i < opt.conc; i++) {
			struct flow *f = &flows[i];

			if (f->busy) {
				active = 1;
				continue;
			}
			if (f->step == S_IDLE && f->wake <= t) {
				if (t >= w1 || R.nerr >= (size_t)opt.max_errors)
					continue;
				start_order(f, i);
			}
			if (f->step == S_IDLE)
				continue;
			active = 1;
			if (f->wake <= t)
				send_step(f);
			else if (f->wake < next)
				next = f->wake;
		}
		if (!active)
			break;
		curl_multi_perform(multi, &still);
		while ((m = curl_multi_info_read(multi, &msgs)) != NULL) {
			struct flow *f;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(
			    m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			curl_multi_remove_handle(multi, m->easy_handle);
			f->busy = 0;
			if (m->data.result != CURLE_OK) {
				fail_order(f, "%s: %s", label_name[f->label],
				    curl_easy_strerror(m->data.result));
				continue;
			}
			curl_easy_getinfo(
			    f->h, CURLINFO_RESPONSE_CODE, &f->status);
			step_done(f, (int)(f - flows));
			if (f->wake <= now() && f->step != S_IDLE)
				send_step(f);
		}
		{
			int ms = (int)((next - now()) * 1000);

			curl_multi_poll(multi, NULL, 0, ms < 0 ? 0 : ms, NULL);
		}
	}
	{
		double t_end = now();

		if (opt.orders >= 0) {
			double last = w0;

			for (size_t i = 0; i < R.nord; i++)
				if (R.ord_t[i] > last)
					last = R.ord_t[i];
			w1 = last > w0 ? last : w0 + 1e-6;
		} else if (t_end < w1) {
			w1 = t_end;
		}
		c1 = cpu_self(&y1);
		if (!sampled0) {
			c0 = c1;
			y0 = y1;
		}
		if (opt.server_pid)
			proc_sample(opt.server_pid, &s1c, &s1r, &s1h);

		/* ---- summary ---- */
		double win = w1 - w0, *ol, *rl, *byl[L_N];
		size_t no = 0, nr = 0, nb[L_N] = {0};
		json_t *sum, *lat, *by, *ctr, *errs;

		ol = malloc((R.nord + 1) * sizeof(double));
		rl = malloc((R.nreq + 1) * sizeof(double));
		for (int l = 0; l < L_N; l++)
			byl[l] = malloc((R.nreq + 1) * sizeof(double));
		for (size_t i = 0; i < R.nord; i++)
			if (R.ord_t[i] >= w0 && R.ord_t[i] <= w1)
				ol[no++] = R.ord_lat[i];
		for (size_t i = 0; i < R.nreq; i++)
			if (R.req[i].t >= w0 && R.req[i].t <= w1) {
				rl[nr++] = R.req[i].lat;
				byl[R.req[i].label][nb[R.req[i].label]++] =
				    R.req[i].lat;
			}
		qsort(ol, no, sizeof(double), cmp_double);
		qsort(rl, nr, sizeof(double), cmp_double);
		sum = json_object();
		json_object_set_new(sum, "directory", json_string(opt.dir_url));
		json_object_set_new(sum, "concurrency", json_integer(opt.conc));
		json_object_set_new(sum, "procs", json_integer(1));
		json_object_set_new(sum, "key_type", json_string("es256"));
		json_object_set_new(sum, "challenge", json_string("http-01"));
		json_object_set_new(
		    sum, "names_per_order", json_integer(opt.names));
		json_object_set_new(sum, "warmup_s", json_real(opt.warmup));
		json_object_set_new(sum, "window_s", json_real(win));
		json_object_set_new(sum, "orders_ok", json_integer((long)no));
		json_object_set_new(
		    sum, "orders_failed", json_integer((long)R.nerr));
		json_object_set_new(sum, "orders_per_s",
		    json_real(win > 0 ? (double)no / win : 0));
		json_object_set_new(
		    sum, "jws_requests", json_integer((long)nr));
		json_object_set_new(sum, "jws_per_s",
		    json_real(win > 0 ? (double)nr / win : 0));
		json_object_set_new(sum, "jws_per_order",
		    no ? json_real((double)nr / (double)no) : json_null());
		lat = json_pack("{s:f, s:f, s:f, s:f}", "p50",
		    1e3 * pct(ol, no, .5), "p90", 1e3 * pct(ol, no, .9), "p99",
		    1e3 * pct(ol, no, .99), "max", 1e3 * pct(ol, no, 1));
		json_object_set_new(sum, "order_latency_ms", lat);
		lat = json_pack("{s:f, s:f, s:f, s:f}", "p50",
		    1e3 * pct(rl, nr, .5), "p90", 1e3 * pct(rl, nr, .9), "p99",
		    1e3 * pct(rl, nr, .99), "max", 1e3 * pct(rl, nr, 1));
		json_object_set_new(sum, "jws_latency_ms", lat);
		by = json_object();
		for (int l = 0; l < L_N; l++) {
			if (nb[l] == 0)
				continue;
			qsort(byl[l], nb[l], sizeof(double), cmp_double);
			json_object_set_new(by, label_name[l],
			    json_pack("{s:i, s:f, s:f}", "n", (int)nb[l], "p50",
			        1e3 * pct(byl[l], nb[l], .5), "p99",
			        1e3 * pct(byl[l], nb[l], .99)));
		}
		json_object_set_new(sum, "jws_latency_by_type_ms", by);
		ctr = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "connects", R.connects, "reconnects",
		    R.connects > opt.conc ? R.connects - opt.conc : 0LL,
		    "nonce_heads", R.nonce_heads, "bad_nonce", R.bad_nonce,
		    "authz_already_valid", R.already_valid, "polls_authz",
		    R.polls_authz, "polls_order", R.polls_order,
		    "not_ready_retries", R.not_ready);
		json_object_set_new(sum, "counters", ctr);
		json_object_set_new(sum, "client_cpu_s",
		    json_pack("{s:f, s:f}", "user", c1 - c0, "sys", y1 - y0));
		json_object_set_new(sum, "client_cpu_cores",
		    json_real(win > 0 ? (c1 - c0 + y1 - y0) / win : 0));
		json_object_set_new(sum, "client_cpu_ms_per_order",
		    no ? json_real(1e3 * (c1 - c0 + y1 - y0) / (double)no)
		       : json_null());
		json_object_set_new(sum, "setup_s",
		    json_pack("{s:f, s:f, s:f}", "newAccount", t_acct,
		        "csr_generation", t_csr, "total_run", t_end - t_prog));
		errs = json_array();
		for (size_t i = 0; i < R.nerr && i < 5; i++)
			json_array_append_new(errs, json_string(R.errors[i]));
		json_object_set_new(sum, "errors_sample", errs);
		if (opt.server_pid)
			json_object_set_new(sum, "server",
			    json_pack("{s:i, s:f, s:f, s:o, s:f, s:f, s:f}",
			        "pid", opt.server_pid, "cpu_s", s1c - s0c,
			        "cpu_cores", win > 0 ? (s1c - s0c) / win : 0.0,
			        "cpu_ms_per_order",
			        no ? json_real(1e3 * (s1c - s0c) / (double)no)
			           : json_null(),
			        "rss_start_mib", s0r / 1024.0, "rss_end_mib",
			        s1r / 1024.0, "rss_peak_mib", s1h / 1024.0));

		printf("acmeload: %s  concurrency=%d key=es256 "
		       "challenge=http-01 names/order=%d\n",
		    opt.dir_url, opt.conc, opt.names);
		printf("window %.2f s (after %.1f s warm-up): %zu orders OK, "
		       "%zu failed => %.1f orders/s\n",
		    win, opt.warmup, no, R.nerr,
		    win > 0 ? (double)no / win : 0);
		printf("JWS POSTs: %zu => %.1f /s, %.2f per order; newNonce "
		       "HEADs %lld, badNonce %lld, TCP/TLS connects %lld\n",
		    nr, win > 0 ? (double)nr / win : 0,
		    no ? (double)nr / (double)no : 0, R.nonce_heads,
		    R.bad_nonce, R.connects);
		printf("polls: authz %lld, order %lld; authz already valid "
		       "%lld; orderNotReady retries %lld\n",
		    R.polls_authz, R.polls_order, R.already_valid, R.not_ready);
		printf("order latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max "
		       "%.1f\n",
		    1e3 * pct(ol, no, .5), 1e3 * pct(ol, no, .9),
		    1e3 * pct(ol, no, .99), 1e3 * pct(ol, no, 1));
		printf("JWS latency ms:   p50 %.2f  p90 %.2f  p99 %.2f  max "
		       "%.2f\n",
		    1e3 * pct(rl, nr, .5), 1e3 * pct(rl, nr, .9),
		    1e3 * pct(rl, nr, .99), 1e3 * pct(rl, nr, 1));
		for (int l = 0; l < L_N; l++)
			if (nb[l] > 0)
				printf("   %-12s n=%-7zu p50 %.2f  p99 %.2f\n",
				    label_name[l], nb[l],
				    1e3 * pct(byl[l], nb[l], .5),
				    1e3 * pct(byl[l], nb[l], .99));
		printf("client CPU in window: user %.2f s + sys %.2f s = %.2f "
		       "cores; %.3f ms/order\n",
		    c1 - c0, y1 - y0, win > 0 ? (c1 - c0 + y1 - y0) / win : 0,
		    no ? 1e3 * (c1 - c0 + y1 - y0) / (double)no : 0);
		if (opt.server_pid)
			printf("server pid %d CPU in window: %.2f s; %.2f "
			       "ms/order; RSS end %.1f MiB, peak %.1f MiB\n",
			    opt.server_pid, s1c - s0c,
			    no ? 1e3 * (s1c - s0c) / (double)no : 0,
			    s1r / 1024.0, s1h / 1024.0);
		printf("setup: newAccount %.1f ms, %d CSRs in %.2f s; total "
		       "run %.1f s\n",
		    1e3 * t_acct, opt.ncsr, t_csr, t_end - t_prog);
		for (size_t i = 0; i < R.nerr && i < 5; i++)
			printf("error: %s\n", R.errors[i]);
		if (opt.json != NULL &&
		    json_dump_file(sum, opt.json, JSON_INDENT(1)) != 0)
			die("cannot write %s", opt.json);
		return no > 0 && R.nerr == 0 ? 0 : 1;
	}
}

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"concurrency", required_argument, NULL, 'c'},
	    {"duration", required_argument, NULL, 'd'},
	    {"insecure", no_argument, NULL, 'k'},
	    {"warmup", required_argument, NULL, 1},
	    {"ca-bundle", required_argument, NULL, 2},
	    {"orders", required_argument, NULL, 3},
	    {"names-per-order", required_argument, NULL, 4},
	    {"csrs", required_argument, NULL, 5},
	    {"domain-suffix", required_argument, NULL, 6},
	    {"poll-interval", required_argument, NULL, 7},
	    {"poll-timeout", required_argument, NULL, 8},
	    {"timeout", required_argument, NULL, 9},
	    {"max-errors", required_argument, NULL, 10},
	    {"server-pid", required_argument, NULL, 11},
	    {"http01-port", required_argument, NULL, 12},
	    {"http01-addr", required_argument, NULL, 13},
	    {"json", required_argument, NULL, 14},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:d:kh", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			opt.conc = atoi(optarg);
			break;
		case 'd':
			opt.dur = atof(optarg);
			break;
		case 'k':
			opt.insecure = 1;
			break;
		case 1:
			opt.warmup = atof(optarg);
			break;
		case 2:
			opt.ca = optarg;
			break;
		case 3:
			opt.orders = atoll(optarg);
			break;
		case 4:
			opt.names = atoi(optarg);
			break;
		case 5:
			opt.ncsr = atoi(optarg);
			break;
		case 6:
			opt.suffix = optarg;
			break;
		case 7:
			opt.poll_interval = atof(optarg);
			break;
		case 8:
			opt.poll_timeout = atof(optarg);
			break;
		case 9:
			opt.timeout = atof(optarg);
			break;
		case 10:
			opt.max_errors = atoi(optarg);
			break;
		case 11:
			opt.server_pid = atoi(optarg);
			break;
		case 12:
			opt.http01_port = atoi(optarg);
			break;
		case 13:
			opt.http01_addr = optarg;
			break;
		case 14:
			opt.json = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	opt.dir_url = argv[optind];
	if (opt.ca == NULL && !opt.insecure)
		die("give --ca-bundle FILE (or -k)");
	if (opt.conc < 1 || opt.names < 1 || opt.ncsr < 1)
		die("-c, --names-per-order and --csrs must be at least 1");
	if (opt.warmup < 0)
		opt.warmup = opt.orders >= 0 ? 0 : 2;
}
