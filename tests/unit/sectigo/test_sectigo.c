/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SCM backend against the real simulator (contrib/sectigo-sim, started
 * as a child process on a loopback port), plus its pure helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "contrib/evcurl.h"
#include "contrib/log.h"
#include "sectigo/internal.h"
#include "sectigo/sectigo.h"

/* ctest sets SIM_BIN; by hand, from the source tree's top */
#define SIM_DEFAULT "build/contrib/sectigo-sim/sectigo-sim"
#define TOKEN_PATH "/auth/realms/apiclients/protocol/openid-connect/token"

/* ---- the simulator ------------------------------------------------------ */

static struct {
	pid_t pid;           /* child */
	char dir[64];        /* state dir */
	char root[128];      /* dir/root.pem */
	char base[64];       /* https://127.0.0.1:PORT */
	char token_url[160]; /* base + TOKEN_PATH */
	int port;            /* listening port */
} sim;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
sim_start(void **state)
{
	const char *bin = getenv("SIM_BIN");
	char portfile[128];
	int i;

	(void)state;
	if (bin == NULL || *bin == '\0')
		bin = SIM_DEFAULT;
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "simulator %s not found\n", bin);
		return -1;
	}
	snprintf(sim.dir, sizeof(sim.dir), "/tmp/sectigo-test-XXXXXX");
	if (mkdtemp(sim.dir) == NULL)
		return -1;
	snprintf(sim.root, sizeof(sim.root), "%s/root.pem", sim.dir);
	snprintf(portfile, sizeof(portfile), "%s/port", sim.dir);
	sim.pid = fork();
	if (sim.pid < 0)
		return -1;
	if (sim.pid == 0) {
		/* do not outlive a test killed by ctest's timeout */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl(bin, bin, "--state-dir", sim.dir, "--listen",
		    "127.0.0.1:0", "--pending-polls", "2", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		FILE *f = fopen(portfile, "r");
		int st;

		if (f != NULL) {
			int n = fscanf(f, "%d", &sim.port);

			fclose(f);
			if (n == 1 && sim.port > 0)
				break;
		}
		if (waitpid(sim.pid, &st, WNOHANG) == sim.pid) {
			fprintf(stderr, "simulator exited early\n");
			sim.pid = 0;
			return -1;
		}
		usleep(50 * 1000);
	}
	if (sim.port <= 0) {
		fprintf(stderr, "simulator did not write %s\n", portfile);
		return -1;
	}
	snprintf(sim.base, sizeof(sim.base), "https://127.0.0.1:%d", sim.port);
	snprintf(
	    sim.token_url, sizeof(sim.token_url), "%s%s", sim.base, TOKEN_PATH);
	return 0;
}

static int
sim_stop(void **state)
{
	(void)state;
	if (sim.pid > 0) {
		kill(sim.pid, SIGTERM);
		waitpid(sim.pid, NULL, 0);
		sim.pid = 0;
	}
	if (sim.dir[0] != '\0')
		nftw(sim.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- event loop plumbing ------------------------------------------------ */

struct ctx {
	struct event_base *base;
	struct evcurl *ec;
	struct acme_ca *ca;
};

/* What a port callback delivered. */
struct box {
	int called;                 /* times the callback ran */
	enum acme_ca_status status; /* result */
	char ref[32];               /* ca_ref */
	char *chain;                /* chain_pem copy */
	char error[512];            /* error */
	long http;                  /* http_status */
	int code;                   /* ca_code */
	struct event_base *base;    /* to break out */
	struct acme_ca **free_ca;   /* free this backend in the callback */
	char ca_status[32];         /* ca_status, "" when NULL */
	int has_ca_status;          /* ca_status was not NULL */
	int retry_after;            /* retry_after */
	struct acme_ca_cert *certs; /* deep copy of certs */
	size_t n_certs;             /* n_certs */
};

static char *
xdup(const char *s)
{
	char *d = strdup(s != NULL ? s : "(null)");

	assert_non_null(d);
	return d;
}

static void
certs_free(struct acme_ca_cert *certs, size_t n)
{
	for (size_t i = 0; certs != NULL && i < n; i++) {
		free((char *)certs[i].ca_ref);
		free((char *)certs[i].status);
		free((char *)certs[i].serial);
		free((char *)certs[i].names);
		free((char *)certs[i].reason);
	}
	free(certs);
}

static int
ctx_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->base = event_base_new();
	c->ec = c->base != NULL ? evcurl_new(c->base) : NULL;
	if (c->ec == NULL)
		return -1;
	*state = c;
	return 0;
}

static int
ctx_teardown(void **state)
{
	struct ctx *c = *state;

	if (c->ca != NULL)
		c->ca->ops->free(c->ca);
	evcurl_free(c->ec);
	event_base_free(c->base);
	free(c);
	return 0;
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Run the loop until *flag becomes non-zero; fails the test after 60 s. */
static void
run_until(struct event_base *base, const int *flag)
{
	struct timeval tv = {60, 0};
	int timed_out = 0;
	struct event *t = evtimer_new(base, on_timeout, &timed_out);

	assert_non_null(t);
	evtimer_add(t, &tv);
	while (*flag == 0 && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	assert_false(timed_out);
}

/* Run the loop for ms milliseconds. */
static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int done = 0;
	struct event *t = evtimer_new(base, on_timeout, &done);

	assert_non_null(t);
	evtimer_add(t, &tv);
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

static void
on_result(void *arg, const struct acme_ca_result *res)
{
	struct box *b = arg;

	b->called++;
	b->status = res->status;
	b->http = res->http_status;
	b->code = res->ca_code;
	snprintf(b->ref, sizeof(b->ref), "%s",
	    res->ca_ref != NULL ? res->ca_ref : "");
	snprintf(b->error, sizeof(b->error), "%s",
	    res->error != NULL ? res->error : "");
	free(b->chain);
	b->chain = res->chain_pem != NULL ? strdup(res->chain_pem) : NULL;
	b->has_ca_status = res->ca_status != NULL;
	snprintf(b->ca_status, sizeof(b->ca_status), "%s",
	    res->ca_status != NULL ? res->ca_status : "");
	b->retry_after = res->retry_after;
	certs_free(b->certs, b->n_certs);
	b->certs = NULL;
	b->n_certs = res->n_certs;
	if (res->n_certs > 0) {
		b->certs = calloc(res->n_certs, sizeof(*b->certs));
		assert_non_null(b->certs);
		for (size_t i = 0; i < res->n_certs; i++) {
			b->certs[i] = res->certs[i];
			b->certs[i].ca_ref = xdup(res->certs[i].ca_ref);
			b->certs[i].status = xdup(res->certs[i].status);
			b->certs[i].serial = xdup(res->certs[i].serial);
			b->certs[i].names = xdup(res->certs[i].names);
			b->certs[i].reason = xdup(res->certs[i].reason);
		}
	}
	if (b->free_ca != NULL && *b->free_ca != NULL) {
		(*b->free_ca)->ops->free(*b->free_ca);
		*b->free_ca = NULL;
	}
}

static void
box_reset(struct box *b)
{
	free(b->chain);
	certs_free(b->certs, b->n_certs);
	memset(b, 0, sizeof(*b));
}

static void
conf_oauth(struct sectigo_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->name = "test";
	c->base_url = sim.base;
	c->auth = "oauth2";
	c->token_url = sim.token_url;
	c->client_id = "acmebridge";
	c->client_secret = "sim-secret";
	c->ca_file = sim.root;
	c->org_id = 1234;
	c->cert_type = 224;
	c->validity_days = 199;
	c->timeout_seconds = 20;
}

static void
conf_header(struct sectigo_conf *c)
{
	conf_oauth(c);
	c->auth = "header";
	c->token_url = NULL;
	c->client_id = NULL;
	c->client_secret = NULL;
	c->login = "admin";
	c->password = "sim-password";
	c->customer_uri = "acme-test";
}

/* ---- helpers: CSR, simulator stats -------------------------------------- */

static EVP_PKEY *csr_key; /* P-256, most tests */
static EVP_PKEY *rsa_key; /* RSA 2048: a body above 1 KiB */

/* A CSR for names (CN = names[0]) with key; caller frees. */
static char *
make_csr_key(const char *const *names, size_t n, EVP_PKEY *key)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subj = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext;
	char san[1024] = "";
	BIO *mem = BIO_new(BIO_s_mem());
	char *out, *data;
	long len;

	assert_non_null(req);
	assert_non_null(subj);
	assert_non_null(exts);
	assert_non_null(mem);
	assert_non_null(key);
	assert_int_equal(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	                     (const unsigned char *)names[0], -1, -1, 0),
	    1);
	assert_int_equal(X509_REQ_set_subject_name(req, subj), 1);
	for (size_t i = 0; i < n; i++) {
		strcat(san, i ? ",DNS:" : "DNS:");
		strcat(san, names[i]);
	}
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	assert_non_null(ext);
	sk_X509_EXTENSION_push(exts, ext);
	assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(mem, req), 1);
	len = BIO_get_mem_data(mem, &data);
	out = strndup(data, (size_t)len);
	assert_non_null(out);
	BIO_free(mem);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return out;
}

/* A P-256 CSR for names; caller frees. */
static char *
make_csr(const char *const *names, size_t n)
{
	if (csr_key == NULL)
		csr_key = EVP_EC_gen("P-256");
	return make_csr_key(names, n, csr_key);
}

struct fetch {
	struct evcurl_buf buf;
	int done;
	CURLcode rc;
};

static void
on_fetch(CURL *easy, CURLcode rc, void *arg)
{
	struct fetch *f = arg;

	(void)easy;
	f->rc = rc;
	f->done = 1;
}

/* A simulator request (GET, or POST when body != NULL) through evcurl;
 * returns the parsed JSON answer (caller decrefs), NULL if not JSON. */
static int sim_auth; /* sim_call sends the header credentials */

static json_t *
sim_call(struct ctx *c, const char *path, const char *body)
{
	struct fetch f = {{NULL, 0, 1 << 22}, 0, CURLE_OK};
	struct curl_slist *h = NULL;
	char url[256];
	CURL *e = curl_easy_init();
	json_t *j;

	assert_non_null(e);
	snprintf(url, sizeof(url), "%s%s", sim.base, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CAINFO, sim.root);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, evcurl_buf_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &f.buf);
	if (sim_auth) {
		h = curl_slist_append(h, "login: admin");
		h = curl_slist_append(h, "password: sim-password");
		h = curl_slist_append(h, "customerUri: acme-test");
	}
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if (h != NULL)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	assert_int_equal(evcurl_add(c->ec, e, on_fetch, &f), 0);
	run_until(c->base, &f.done);
	assert_int_equal(f.rc, CURLE_OK);
	j = f.buf.data != NULL ? json_loads(f.buf.data, 0, NULL) : NULL;
	evcurl_buf_reset(&f.buf);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return j;
}

static long
stat_count(struct ctx *c, const char *key)
{
	json_t *j = sim_call(c, "/sim/stats", NULL);
	json_t *v;
	long n;

	assert_non_null(j);
	v = json_object_get(j, key);
	assert_true(json_is_integer(v));
	n = (long)json_integer_value(v);
	json_decref(j);
	return n;
}

/* The simulator's record of sslId ref (caller decrefs). */
static json_t *
stat_cert(struct ctx *c, const char *ref)
{
	json_t *j = sim_call(c, "/sim/stats", NULL), *certs, *it, *found = NULL;
	size_t i;

	assert_non_null(j);
	certs = json_object_get(j, "certificates");
	assert_true(json_is_array(certs));
	json_array_foreach(certs, i, it) {
		json_t *id = json_object_get(it, "sslId");

		if (json_is_integer(id) && json_integer_value(id) == atol(ref))
			found = json_incref(it);
	}
	json_decref(j);
	assert_non_null(found);
	return found;
}

static const char *
jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "(absent)";
}

static void
unique_names(char *a, char *b, size_t sz)
{
	static unsigned seq;
	unsigned r = (unsigned)getpid() * 7919u + (unsigned)time(NULL) + seq++;

	snprintf(a, sz, "www.t%u.example.com", r);
	snprintf(b, sz, "api.t%u.example.com", r);
}

static struct acme_ca *
new_ca(struct ctx *c, const struct sectigo_conf *conf)
{
	c->ca = sectigo_ca_new(conf, c->base, c->ec);
	assert_non_null(c->ca);
	return c->ca;
}

/* Call a port function and wait for its callback. */
#define CALL(c, b, expr)                                                       \
	do {                                                                   \
		box_reset(b);                                                  \
		assert_int_equal((expr), 0);                                   \
		/* never from inside the call */                               \
		assert_int_equal((b)->called, 0);                              \
		run_until((c)->base, &(b)->called);                            \
		assert_int_equal((b)->called, 1);                              \
	} while (0)

/* ---- chain checks ------------------------------------------------------- */

static STACK_OF(X509) * pem_certs(const char *pem)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *in = BIO_new_mem_buf(pem, -1);
	X509 *x;

	assert_non_null(sk);
	assert_non_null(in);
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	BIO_free(in);
	return sk;
}

static void
check_chain(const char *chain, const char *const *names, size_t n)
{
	STACK_OF(X509) *certs = pem_certs(chain), *untrusted;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	X509 *leaf, *last;
	EVP_PKEY *pk;
	int count = sk_X509_num(certs);

	assert_null(strchr(chain, '\r'));
	assert_true(strlen(chain) > 0 && chain[strlen(chain) - 1] == '\n');
	assert_true(count >= 2); /* leaf + intermediate */
	leaf = sk_X509_value(certs, 0);
	last = sk_X509_value(certs, count - 1);
	/* no self-signed root at the end */
	assert_int_not_equal(X509_check_issued(last, last), X509_V_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		    X509_check_host(leaf, names[i], 0, 0, NULL), 1);
	pk = X509_get0_pubkey(leaf);
	assert_int_equal(EVP_PKEY_eq(pk, csr_key), 1);
	assert_int_equal(X509_STORE_load_file(store, sim.root), 1);
	untrusted = sk_X509_dup(certs);
	assert_non_null(untrusted);
	(void)sk_X509_shift(untrusted);
	assert_int_equal(X509_STORE_CTX_init(vctx, store, leaf, untrusted), 1);
	assert_int_equal(X509_verify_cert(vctx), 1);
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	sk_X509_pop_free(certs, X509_free);
}

/* ---- tests against the simulator ---------------------------------------- */

static void
test_lifecycle_oauth(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64], ref[32];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	json_t *rec, *sans;
	char *csr;
	long enrolls;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 2);
	conf_oauth(&conf);
	new_ca(c, &conf);
	en.tag = "order-1-lifecycle";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;

	enrolls = stat_count(c, "enroll_calls");
	CALL(c, &b, c->ca->ops->submit(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_true(atol(b.ref) > 0);
	assert_int_equal(b.http, 200);
	snprintf(ref, sizeof(ref), "%s", b.ref);
	assert_int_equal(stat_count(c, "enroll_calls"), enrolls + 1);
	rec = stat_cert(c, ref);
	assert_string_equal(
	    jstr(rec, "comments"), "acmebridge tag=order-1-lifecycle");
	assert_string_equal(jstr(rec, "commonName"), n0);
	sans = json_object_get(rec, "subjectAlternativeNames");
	assert_int_equal(json_array_size(sans), 2);
	assert_string_equal(json_string_value(json_array_get(sans, 0)), n0);
	assert_string_equal(json_string_value(json_array_get(sans, 1)), n1);
	assert_null(
	    json_string_value(json_object_get(rec, "externalRequester")));
	json_decref(rec);

	/* --pending-polls 2 */
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_PENDING);
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_PENDING);
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_non_null(b.chain);
	check_chain(b.chain, names, 2);

	CALL(c, &b, c->ca->ops->find(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_string_equal(b.ref, ref);
	/* a tag that is a prefix of ours must not match */
	en.tag = "order-1-life";
	CALL(c, &b, c->ca->ops->find(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_NOTFOUND);
	en.tag = "order-2";
	CALL(c, &b, c->ca->ops->find(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_NOTFOUND);

	CALL(c, &b, c->ca->ops->revoke(c->ca, ref, 4, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	rec = stat_cert(c, ref);
	assert_int_equal(strcasecmp(jstr(rec, "status"), "revoked"), 0);
	json_decref(rec);
	/* again (and with a reason SCM does not take): still OK */
	CALL(c, &b, c->ca->ops->revoke(c->ca, ref, 9, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);

	/* a revoked certificate cannot be collected any more */
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_int_equal(b.code, -110);

	box_reset(&b);
	free(csr);
}

static void
test_collect_unknown(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};

	conf_oauth(&conf);
	new_ca(c, &conf);
	/* NOTFOUND, not FAILED: right after an enrollment SCM may not know
	 * the sslId yet; the job runner bounds the retries */
	CALL(c, &b, c->ca->ops->collect(c->ca, "999999", on_result, &b));
	assert_int_equal(b.status, ACME_CA_NOTFOUND);
	assert_non_null(strstr(b.error, "999999"));
	/* bad references never reach SCM, and never call back */
	assert_int_equal(
	    c->ca->ops->collect(c->ca, "12x", on_result, &b), -EINVAL);
	assert_int_equal(
	    c->ca->ops->revoke(c->ca, "", 0, on_result, &b), -EINVAL);
	{
		const char *names[2] = {"a.example.com", "b,c.example.com"};
		struct acme_ca_enroll en = {
		    "has space", "csr", names, 1, NULL, 0, 0, 0, NULL, NULL};

		assert_int_equal(
		    c->ca->ops->submit(c->ca, &en, on_result, &b), -EINVAL);
		assert_int_equal(
		    c->ca->ops->find(c->ca, &en, on_result, &b), -EINVAL);
		en.tag = "ok-tag";
		en.n_names = 2;
		assert_int_equal(
		    c->ca->ops->submit(c->ca, &en, on_result, &b), -EINVAL);
		assert_int_equal(
		    c->ca->ops->revoke(c->ca, "1", 11, on_result, &b), -EINVAL);
	}
	run_for(c->base, 50);
	assert_int_equal(b.called, 1);
	box_reset(&b);
}

static void
test_wrong_secret(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	char *csr;
	long enrolls;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 1);
	conf_oauth(&conf);
	conf.client_secret = "not-the-secret";
	new_ca(c, &conf);
	en.tag = "wrong-secret";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 1;
	enrolls = stat_count(c, "enroll_calls");
	CALL(c, &b, c->ca->ops->submit(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_RETRY);
	assert_non_null(strstr(b.error, "authentication failed"));
	assert_non_null(strstr(b.error, "client_secret"));
	assert_null(strstr(b.error, "not-the-secret"));
	assert_true(b.http == 400 || b.http == 401);
	assert_int_equal(stat_count(c, "enroll_calls"), enrolls);
	box_reset(&b);
	free(csr);
}

static void
test_header_auth(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64], ref[32];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	json_t *rec;
	char *csr;

	unique_names(n0, n1, sizeof(n0));
	if (rsa_key == NULL)
		rsa_key = EVP_RSA_gen(2048);
	csr = make_csr_key(names, 2, rsa_key);
	conf_header(&conf);
	conf.external_requester = "ops@example.com";
	new_ca(c, &conf);
	en.tag = "header-auth";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;
	en.validity_days = 199;
	CALL(c, &b, c->ca->ops->submit(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	snprintf(ref, sizeof(ref), "%s", b.ref);
	rec = stat_cert(c, ref);
	assert_string_equal(jstr(rec, "externalRequester"), "ops@example.com");
	json_decref(rec);
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_PENDING);
	CALL(c, &b, c->ca->ops->find(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_string_equal(b.ref, ref);
	c->ca->ops->free(c->ca);

	/* wrong password: RETRY naming the settings to check */
	conf.password = "wrong-password";
	new_ca(c, &conf);
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_RETRY);
	assert_int_equal(b.http, 401);
	assert_non_null(strstr(b.error, "SCM authentication failed (401"));
	assert_non_null(strstr(b.error, "login/password/customerUri"));
	assert_null(strstr(b.error, "wrong-password"));
	box_reset(&b);
	free(csr);
}

static void
test_bad_cert_type(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	char *csr;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 1);
	conf_oauth(&conf);
	conf.cert_type = 999;
	new_ca(c, &conf);
	en.tag = "bad-type";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 1;
	CALL(c, &b, c->ca->ops->submit(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_int_equal(b.code, -39);
	assert_int_equal(b.http, 400);
	assert_non_null(strstr(b.error, "SCM /api/ssl/v1/enroll refused: -39"));
	box_reset(&b);
	free(csr);
}

static void
test_unreachable(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};

	conf_header(&conf);
	conf.base_url = "https://127.0.0.1:1";
	new_ca(c, &conf);
	CALL(c, &b, c->ca->ops->collect(c->ca, "1", on_result, &b));
	assert_int_equal(b.status, ACME_CA_RETRY);
	assert_int_equal(b.http, 0);
	assert_non_null(strstr(b.error, "failed"));
	box_reset(&b);
}

/* free aborts calls in flight: no callback ever runs */
static void
test_free_in_flight(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b1 = {0}, b2 = {0};

	conf_oauth(&conf);
	new_ca(c, &conf);
	assert_int_equal(c->ca->ops->collect(c->ca, "1", on_result, &b1), 0);
	c->ca->ops->free(c->ca);
	c->ca = NULL;
	run_for(c->base, 300);
	assert_int_equal(b1.called, 0);
	assert_int_equal(evcurl_running(c->ec), 0);

	/* both calls wait for one token; the first callback frees the
	 * backend, so the second must never be called */
	new_ca(c, &conf);
	b1.free_ca = &c->ca;
	b2.free_ca = &c->ca;
	assert_int_equal(
	    c->ca->ops->collect(c->ca, "999998", on_result, &b1), 0);
	assert_int_equal(
	    c->ca->ops->collect(c->ca, "999999", on_result, &b2), 0);
	run_for(c->base, 1500);
	assert_int_equal(b1.called + b2.called, 1);
	assert_null(c->ca);
	assert_int_equal(evcurl_running(c->ec), 0);
	box_reset(&b1);
	box_reset(&b2);
}

/* POST /sim/control with body; the answer must be 200 JSON. */
static void
sim_control(struct ctx *c, const char *body)
{
	json_t *j = sim_call(c, "/sim/control", body);

	assert_non_null(j);
	assert_null(json_object_get(j, "error"));
	json_decref(j);
}

/* One token serves many calls; a rejected token is replaced once; a
 * second 401 is RETRY; a token shorter-lived than the 30 s margin is not
 * cached. */
static void
test_token_handling(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b1 = {0}, b2 = {0};
	long t0, a0;

	conf_oauth(&conf);
	new_ca(c, &conf);
	t0 = stat_count(c, "token_calls");
	a0 = stat_count(c, "auth_failures");
	assert_int_equal(
	    c->ca->ops->collect(c->ca, "999998", on_result, &b1), 0);
	assert_int_equal(
	    c->ca->ops->collect(c->ca, "999999", on_result, &b2), 0);
	run_until(c->base, &b1.called);
	run_until(c->base, &b2.called);
	assert_int_equal(b1.status, ACME_CA_NOTFOUND);
	assert_int_equal(b2.status, ACME_CA_NOTFOUND);
	CALL(c, &b1, c->ca->ops->collect(c->ca, "999999", on_result, &b1));
	assert_int_equal(stat_count(c, "token_calls"), t0 + 1);

	/* the simulator forgets its tokens: 401, new token, same call */
	sim_control(c, "{\"expire_tokens\":true}");
	CALL(c, &b1, c->ca->ops->collect(c->ca, "999999", on_result, &b1));
	assert_int_equal(b1.status, ACME_CA_NOTFOUND);
	assert_int_equal(b1.http, 404);
	assert_int_equal(stat_count(c, "token_calls"), t0 + 2);
	assert_int_equal(stat_count(c, "auth_failures"), a0 + 1);

	/* 401 again after the retry: RETRY naming the credentials */
	sim_control(c,
	    "{\"fail_next\":{\"path_prefix\":"
	    "\"/api/ssl/v1/collect\",\"status\":401,"
	    "\"code\":-16,\"description\":\"Unknown user\","
	    "\"count\":2}}");
	CALL(c, &b1, c->ca->ops->collect(c->ca, "999999", on_result, &b1));
	assert_int_equal(b1.status, ACME_CA_RETRY);
	assert_int_equal(b1.http, 401);
	assert_int_equal(b1.code, -16);
	assert_string_equal(b1.error,
	    "SCM authentication failed (401 code -16 Unknown user): check "
	    "client_id/client_secret");
	assert_int_equal(stat_count(c, "token_calls"), t0 + 3);

	/* expires_in 1: used for the waiting call only */
	sim_control(c, "{\"token_lifetime\":1}");
	sim_control(c, "{\"expire_tokens\":true}");
	CALL(c, &b1, c->ca->ops->collect(c->ca, "999999", on_result, &b1));
	assert_int_equal(b1.status, ACME_CA_NOTFOUND);
	CALL(c, &b1, c->ca->ops->collect(c->ca, "999999", on_result, &b1));
	assert_int_equal(b1.status, ACME_CA_NOTFOUND);
	sim_control(c, "{\"token_lifetime\":300}");
	/* 401 + refetch, then one fetch for the second call */
	assert_int_equal(stat_count(c, "token_calls"), t0 + 5);
	box_reset(&b1);
	box_reset(&b2);
}

/* How SCM errors map onto the port's statuses (injected by the sim). */
static void
test_error_classes(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	static const struct {
		const char *rule;
		enum acme_ca_status st;
		long http;
		const char *text;
	} cases[] = {
	    /* a read is sent three times before a 5xx or 429 is reported */
	    {"\"status\":503,\"code\":-2,\"count\":3", ACME_CA_RETRY, 503,
	        "SCM /api/ssl/v1/collect/999999 server error (503 code -2"},
	    {"\"status\":429,\"code\":-1,\"count\":3", ACME_CA_RETRY, 429,
	        "rate limited"},
	    {"\"status\":400,\"code\":-1400", ACME_CA_PENDING, 400, ""},
	    {"\"status\":400,\"code\":-183", ACME_CA_PENDING, 400, ""},
	    {"\"status\":400,\"code\":-109", ACME_CA_PENDING, 400, ""},
	    {"\"status\":400,\"code\":-124", ACME_CA_NOTFOUND, 400,
	        "SCM has no certificate 999999"},
	    {"\"status\":408,\"code\":-1", ACME_CA_RETRY, 408, "retrying"},
	    {"\"status\":409,\"code\":-1", ACME_CA_RETRY, 409, "retrying"},
	    {"\"status\":425,\"code\":-1", ACME_CA_RETRY, 425, "retrying"},
	    {"\"status\":403,\"code\":-37,\"description\":\"Access "
	     "denied.\"",
	        ACME_CA_FAILED, 403,
	        "SCM /api/ssl/v1/collect/999999 refused: -37 Access denied."},
	};
	char rule[256];

	conf_header(&conf);
	new_ca(c, &conf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(rule, sizeof(rule),
		    "{\"fail_next\":{\"path_prefix\":\"/api/ssl/v1/"
		    "collect\",%s}}",
		    cases[i].rule);
		sim_control(c, rule);
		CALL(
		    c, &b, c->ca->ops->collect(c->ca, "999999", on_result, &b));
		assert_int_equal(b.status, cases[i].st);
		assert_int_equal(b.http, cases[i].http);
		assert_non_null(strstr(b.error, cases[i].text));
	}
	/* one flaky answer to a read is absorbed: sent again at once */
	{
		long n0 = stat_count(c, "collect_calls");

		sim_control(c,
		    "{\"fail_next\":{\"path_prefix\":\"/api/ssl/v1/"
		    "collect\",\"status\":503,\"code\":-2}}");
		CALL(
		    c, &b, c->ca->ops->collect(c->ca, "999999", on_result, &b));
		assert_int_equal(b.status, ACME_CA_NOTFOUND);
		assert_int_equal(stat_count(c, "collect_calls"), n0 + 2);
	}

	sim_control(c,
	    "{\"fail_next\":{\"path_prefix\":\"/api/ssl/v1/"
	    "revoke\",\"status\":400,\"code\":-102,"
	    "\"description\":\"Only issued certificates could "
	    "be revoked.\"}}");
	CALL(c, &b, c->ca->ops->revoke(c->ca, "999999", 1, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_int_equal(b.code, -102);
	assert_string_equal(b.error,
	    "SCM /api/ssl/v1/revoke/999999 refused: -102 Only issued "
	    "certificates could be revoked.");
	box_reset(&b);
}

/* A lost enroll reply (timeout) is RETRY; find recovers the enrollment. */
static void
test_timeout_then_find(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	char *csr;
	long enrolls;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 2);
	conf_header(&conf);
	conf.timeout_seconds = 1;
	new_ca(c, &conf);
	en.tag = "lost-reply";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;
	enrolls = stat_count(c, "enrollments");
	sim_control(c, "{\"hang_enrolls\":1}");
	CALL(c, &b, c->ca->ops->submit(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_RETRY);
	assert_int_equal(b.http, 0);
	assert_non_null(strstr(b.error, "SCM POST /api/ssl/v1/enroll failed"));
	assert_non_null(strstr(b.error, "timed out"));
	assert_int_equal(stat_count(c, "enrollments"), enrolls + 1);
	CALL(c, &b, c->ca->ops->find(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_true(atol(b.ref) > 0);
	box_reset(&b);
	free(csr);
}

/* find pages through the list (X-Total-Count) and looks newest first.
 * 201 enrollments of one name, all waiting for one token. */
static void
test_find_paging(void **state)
{
	struct ctx *c = *state;
	enum { N = 201 };
	struct sectigo_conf conf;
	struct box *b = calloc(N, sizeof(*b)), fb = {0};
	char n0[64], n1[64], tags[N][32];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	long t0, lists, details, best = 0;
	size_t newest = 0;
	char *csr;

	assert_non_null(b);
	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 1);
	conf_oauth(&conf);
	new_ca(c, &conf);
	t0 = stat_count(c, "token_calls");
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 1;
	for (size_t i = 0; i < N; i++) {
		snprintf(tags[i], sizeof(tags[i]), "paging-%zu", i);
		en.tag = tags[i];
		assert_int_equal(
		    c->ca->ops->submit(c->ca, &en, on_result, &b[i]), 0);
	}
	for (size_t i = 0; i < N; i++) {
		run_until(c->base, &b[i].called);
		assert_int_equal(b[i].status, ACME_CA_OK);
		if (atol(b[i].ref) > best) {
			best = atol(b[i].ref);
			newest = i;
		}
	}
	assert_int_equal(stat_count(c, "token_calls"), t0 + 1);
	lists = stat_count(c, "list_calls");
	details = stat_count(c, "details_calls");
	en.tag = tags[newest];
	CALL(c, &fb, c->ca->ops->find(c->ca, &en, on_result, &fb));
	assert_int_equal(fb.status, ACME_CA_OK);
	assert_string_equal(fb.ref, b[newest].ref);
	assert_int_equal(stat_count(c, "list_calls"), lists + 2);
	assert_int_equal(stat_count(c, "details_calls"), details + 1);
	for (size_t i = 0; i < N; i++)
		box_reset(&b[i]);
	box_reset(&fb);
	free(b);
	free(csr);
}

struct lines {
	int n;
	char check[8][32];
	int ok[8];
	char detail[8][512];
	int done;
	int failures;
};

static void
on_line(void *arg, const char *check, int ok, const char *detail)
{
	struct lines *l = arg;

	printf("    %s: %s: %s\n", check, ok ? "ok" : "FAILED", detail);
	if (l->n < 8) {
		snprintf(l->check[l->n], sizeof(l->check[0]), "%s", check);
		l->ok[l->n] = ok;
		snprintf(l->detail[l->n], sizeof(l->detail[0]), "%s", detail);
	}
	l->n++;
}

static void
on_test_done(void *arg, int failures)
{
	struct lines *l = arg;

	l->done++;
	l->failures = failures;
}

static void
run_test_connection(
    struct ctx *c, const struct sectigo_conf *conf, struct lines *l)
{
	memset(l, 0, sizeof(*l));
	new_ca(c, conf);
	assert_int_equal(
	    sectigo_test_connection(c->ca, on_line, on_test_done, l), 0);
	assert_int_equal(l->n, 0);
	run_until(c->base, &l->done);
	assert_int_equal(l->done, 1);
	assert_int_equal(
	    l->n, 3 + (int)(conf->n_profiles ? conf->n_profiles : 1));
	assert_string_equal(l->check[0], "connectivity");
	assert_string_equal(l->check[1], "authentication");
	assert_string_equal(l->check[2], "organization");
	assert_string_equal(l->check[3], "api");
	c->ca->ops->free(c->ca);
	c->ca = NULL;
}

static void
test_connection(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct lines l;

	conf_oauth(&conf);
	run_test_connection(c, &conf, &l);
	for (int i = 0; i < 4; i++)
		assert_true(l.ok[i]);
	assert_int_equal(l.failures, 0);

	conf_header(&conf);
	run_test_connection(c, &conf, &l);
	for (int i = 0; i < 4; i++)
		assert_true(l.ok[i]);
	assert_int_equal(l.failures, 0);

	conf_oauth(&conf);
	conf.org_id = 999;
	run_test_connection(c, &conf, &l);
	assert_true(l.ok[0]);
	assert_true(l.ok[1]);
	assert_false(l.ok[2]);
	assert_non_null(strstr(l.detail[2], "999"));
	assert_true(l.failures >= 1);

	/* a term the profile does not offer */
	conf_oauth(&conf);
	conf.validity_days = 400;
	run_test_connection(c, &conf, &l);
	assert_true(l.ok[2]);
	assert_false(l.ok[3]);
	assert_non_null(strstr(l.detail[3], "400"));
	assert_int_equal(l.failures, 1);

	/* one api line per profile; the connector's defaults fill gaps */
	{
		static const struct sectigo_profile profs[] = {
		    {"default", 0, 0, 0},
		    {"ecc", 284, 199, 1235},
		    {"long", 224, 365, 0},
		    {"gone", 999, 199, 0},
		};

		conf_oauth(&conf);
		conf.profiles = profs;
		conf.n_profiles = 4;
		run_test_connection(c, &conf, &l);
		for (int i = 3; i < 7; i++)
			assert_string_equal(l.check[i], "api");
		assert_true(l.ok[3]);
		assert_non_null(strstr(l.detail[3],
		    "profile \"default\" (certType 224, 199 days): "
		    "offered"));
		assert_true(l.ok[4]);
		assert_non_null(strstr(l.detail[4],
		    "profile \"ecc\" (certType 284, 199 days, organization "
		    "1235): offered"));
		assert_false(l.ok[5]);
		assert_non_null(strstr(l.detail[5],
		    "profile \"long\" (certType 224, 365 days): certType "
		    "224 does not offer a term of 365 days (terms: 199)"));
		assert_false(l.ok[6]);
		assert_non_null(strstr(l.detail[6],
		    "certType 999 is not offered to organization 1234 "
		    "(offered: 224, 284, 226, 225)"));
		assert_int_equal(l.failures, 2);
	}

	/* bad secret: authentication fails, the rest is skipped */
	conf_oauth(&conf);
	conf.client_secret = "nope";
	run_test_connection(c, &conf, &l);
	assert_true(l.ok[0]);
	assert_false(l.ok[1]);
	assert_false(l.ok[2]);
	assert_false(l.ok[3]);
	assert_int_equal(l.failures, 3);
}

/* ---- pure helpers (no simulator) ---------------------------------------- */

static X509 *
mk_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
	X509 *x = X509_new();
	X509_NAME *nm;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(
	    nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(
	    x, issuer != NULL ? X509_get_subject_name(issuer) : nm);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static char *
to_pem(X509 *x)
{
	BIO *m = BIO_new(BIO_s_mem());
	char *d, *s;
	long n;

	assert_int_equal(PEM_write_bio_X509(m, x), 1);
	n = BIO_get_mem_data(m, &d);
	s = strndup(d, (size_t)n);
	BIO_free(m);
	return s;
}

/* The trust store a connector loads once (ca_file, else the system's)
 * trusts what it should and nothing else: the simulator's root passes
 * (test_connection), another CA's root and the system store fail at
 * connectivity, naming the certificate check; so does a ca_file that
 * cannot be read (libcurl then reads it per connection and names it). */
static void
test_tls_trust(void **state)
{
	struct ctx *c = *state;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *other = mk_cert("another test root", k, NULL, NULL);
	char path[] = "/tmp/acmebridge-test-ca.XXXXXX", *pem = to_pem(other);
	struct sectigo_conf conf;
	struct lines l;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
	close(fd);

	conf_oauth(&conf);
	conf.ca_file = path;
	run_test_connection(c, &conf, &l);
	assert_false(l.ok[0]);
	assert_non_null(strstr(l.detail[0], "certificate"));
	assert_int_equal(l.failures, 4);

	conf_oauth(&conf);
	conf.ca_file = NULL; /* the system store: no test root in it */
	run_test_connection(c, &conf, &l);
	assert_false(l.ok[0]);
	assert_non_null(strstr(l.detail[0], "certificate"));

	conf_oauth(&conf);
	conf.ca_file = "/nonexistent/acmebridge-ca.pem";
	run_test_connection(c, &conf, &l);
	assert_false(l.ok[0]);

	unlink(path);
	free(pem);
	X509_free(other);
	EVP_PKEY_free(k);
}

/* CRLF in, LF out; the root at the end is dropped, leaf and intermediate
 * stay in order. */
static void
test_chain_normalize(void **state)
{
	EVP_PKEY *rk = EVP_EC_gen("P-256"), *ik = EVP_EC_gen("P-256"),
	         *lk = EVP_EC_gen("P-256");
	X509 *root, *inter, *leaf;
	char *pr, *pi, *pl, *crlf, *out = NULL, *expect;
	size_t len, n = 0;

	(void)state;
	root = mk_cert("root", rk, NULL, NULL);
	inter = mk_cert("inter", ik, root, rk);
	leaf = mk_cert("leaf", lk, inter, ik);
	pr = to_pem(root);
	pi = to_pem(inter);
	pl = to_pem(leaf);
	len = strlen(pr) + strlen(pi) + strlen(pl);
	crlf = malloc(len * 2 + 1);
	expect = malloc(len + 1);
	assert_non_null(crlf);
	assert_non_null(expect);
	snprintf(expect, len + 1, "%s%s", pl, pi);
	for (const char *p = pl;; p = p == pl ? pi : p == pi ? pr : NULL) {
		if (p == NULL)
			break;
		for (const char *q = p; *q != '\0'; q++) {
			if (*q == '\n')
				crlf[n++] = '\r';
			crlf[n++] = *q;
		}
	}
	crlf[n] = '\0';
	/* no trailing newline after the root: still fine */
	n -= 2;
	crlf[n] = '\0';
	assert_int_equal(sectigo_chain_normalize(crlf, n, &out), 0);
	assert_string_equal(out, expect);
	free(out);

	/* a lone leaf is kept even if self-signed */
	assert_int_equal(sectigo_chain_normalize(pr, strlen(pr), &out), 0);
	assert_string_equal(out, pr);
	free(out);

	/* nothing, or garbage inside a block */
	assert_int_equal(sectigo_chain_normalize("", 0, &out), -EINVAL);
	assert_int_equal(
	    sectigo_chain_normalize("<html>oops</html>", 17, &out), -EINVAL);
	pl[40] = '!';
	pl[41] = '!';
	assert_int_equal(
	    sectigo_chain_normalize(pl, strlen(pl), &out), -EINVAL);

	free(crlf);
	free(expect);
	free(pr);
	free(pi);
	free(pl);
	X509_free(root);
	X509_free(inter);
	X509_free(leaf);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(lk);
}

static void
test_helpers(void **state)
{
	struct sectigo_err e;
	const char *s;
	char *enc;

	(void)state;
	assert_true(sectigo_comment_has_tag("acmebridge tag=abc", "abc"));
	assert_true(sectigo_comment_has_tag("x; acmebridge tag=abc, y", "abc"));
	assert_false(sectigo_comment_has_tag("acmebridge tag=abcd", "abc"));
	assert_false(sectigo_comment_has_tag("acmebridge tag=ab", "abc"));
	assert_false(sectigo_comment_has_tag("tag=abc", "abc"));
	assert_false(sectigo_comment_has_tag(NULL, "abc"));
	assert_false(sectigo_comment_has_tag("acmebridge tag=", ""));

	assert_int_equal(sectigo_revoke_reason(0), 0);
	assert_int_equal(sectigo_revoke_reason(1), 1);
	assert_int_equal(sectigo_revoke_reason(2), 0);
	assert_int_equal(sectigo_revoke_reason(3), 3);
	assert_int_equal(sectigo_revoke_reason(4), 4);
	assert_int_equal(sectigo_revoke_reason(5), 5);
	assert_int_equal(sectigo_revoke_reason(6), 0);
	assert_int_equal(sectigo_revoke_reason(9), 0);

	s = "{\"code\":-16,\"description\":\"Unknown user\"}";
	sectigo_parse_err(s, strlen(s), &e);
	assert_true(e.has_code);
	assert_int_equal(e.code, -16);
	assert_string_equal(e.desc, "Unknown user");
	assert_true(sectigo_collect_pending(400, &e, "", 0) == 0);
	s = "{\"code\":0,\"description\":\"Being processed\"}";
	sectigo_parse_err(s, strlen(s), &e);
	assert_true(e.has_code);
	assert_true(sectigo_collect_pending(400, &e, "", 0));
	assert_false(sectigo_collect_pending(500, &e, "", 0));
	e.code = -1400;
	assert_true(sectigo_collect_pending(400, &e, "", 0));
	e.code = -183;
	assert_true(sectigo_collect_pending(400, &e, "", 0));
	e.code = -109;
	assert_true(sectigo_collect_pending(400, &e, "", 0));
	e.code = -110;
	assert_false(sectigo_collect_pending(400, &e, "", 0));
	sectigo_parse_err("", 0, &e);
	assert_false(e.has_code);
	assert_false(sectigo_collect_pending(400, &e, "", 0));
	assert_true(sectigo_collect_pending(200, &e, " \r\n", 3));
	assert_false(sectigo_collect_pending(200, &e, "-----BEGIN", 10));
	sectigo_parse_err("<html>\nBad Gateway</html>", 25, &e);
	assert_false(e.has_code);
	assert_string_equal(e.desc, "<html> Bad Gateway</html>");

	enc = sectigo_urlencode("a b&c=d+é*.-_~");
	assert_string_equal(enc, "a%20b%26c%3Dd%2B%C3%A9%2A.-_~");
	free(enc);
}

static void
test_conf_checks(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;

	conf_oauth(&conf);
	conf.base_url = "https://127.0.0.1:1/";
	conf.token_url = "https://127.0.0.1:1/token";
	c->ca = sectigo_ca_new(&conf, c->base, c->ec);
	assert_non_null(c->ca);
	c->ca->ops->free(c->ca);
	c->ca = NULL;
	conf.base_url = "http://127.0.0.1:1";
	assert_null(sectigo_ca_new(&conf, c->base, c->ec));
	conf.base_url = "https://127.0.0.1:1/";
	conf.client_secret = "";
	assert_null(sectigo_ca_new(&conf, c->base, c->ec));
	conf.client_secret = "x";
	conf.auth = "basic";
	assert_null(sectigo_ca_new(&conf, c->base, c->ec));
	conf_header(&conf);
	conf.base_url = "https://127.0.0.1:1/";
	c->ca = sectigo_ca_new(&conf, c->base, c->ec);
	assert_non_null(c->ca);
	c->ca->ops->free(c->ca);
	c->ca = NULL;
	conf.password = "a\r\nX-Evil: 1";
	assert_null(sectigo_ca_new(&conf, c->base, c->ec));
	conf.password = "p";
	conf.org_id = 0;
	assert_null(sectigo_ca_new(&conf, c->base, c->ec));
	conf.org_id = 1;
	conf.validity_days = 0;
	assert_null(sectigo_ca_new(&conf, c->base, c->ec));
}

/* ---- lifecycle: details, profiles --------------------------------------- */

/* Collect ref until OK (at most 10 polls); the chain stays in b. */
static void
collect_ok(struct ctx *c, struct box *b, const char *ref)
{
	for (int i = 0; i < 10; i++) {
		CALL(c, b, c->ca->ops->collect(c->ca, ref, on_result, b));
		if (b->status != ACME_CA_PENDING)
			break;
	}
	assert_int_equal(b->status, ACME_CA_OK);
	assert_non_null(b->chain);
}

/* The leaf of a PEM chain (caller frees). */
static X509 *
chain_leaf(const char *chain)
{
	BIO *in = BIO_new_mem_buf(chain, -1);
	X509 *x;

	assert_non_null(in);
	x = PEM_read_bio_X509(in, NULL, NULL, NULL);
	BIO_free(in);
	assert_non_null(x);
	return x;
}

/* The leaf's serial as lower-case hex without leading zeros. */
static void
leaf_serial(X509 *x, char *out, size_t sz)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex;

	assert_non_null(bn);
	hex = BN_bn2hex(bn);
	assert_non_null(hex);
	/* BN_bn2hex writes whole bytes: "0B..." */
	snprintf(out, sz, "%s", hex + strspn(hex, "0"));
	for (char *p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	OPENSSL_free(hex);
	BN_free(bn);
}

static long long
asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (long long)timegm(&tm);
}

/* Enroll names with en's profile fields; the sslId goes to ref. */
static void
enroll(struct ctx *c, struct acme_ca_enroll *en, char *ref, size_t sz)
{
	struct box b = {0};

	CALL(c, &b, c->ca->ops->submit(c->ca, en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	snprintf(ref, sz, "%s", b.ref);
	box_reset(&b);
}

static void
test_details(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64], ref[32], want[160], serial[80];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	long long now = (long long)time(NULL);
	X509 *leaf;
	char *csr;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 2);
	conf_oauth(&conf);
	new_ca(c, &conf);
	en.tag = "details-1";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;
	enroll(c, &en, ref, sizeof(ref));

	/* before issuance: with the CA, no serial, no expiry */
	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_int_equal(b.n_certs, 1);
	assert_string_equal(b.certs[0].ca_ref, ref);
	assert_string_equal(b.certs[0].status, "Applied");
	assert_string_equal(b.certs[0].serial, "");
	snprintf(want, sizeof(want), "%s, %s", n0, n1);
	assert_string_equal(b.certs[0].names, want);
	assert_string_equal(b.certs[0].reason, "");
	/* SCM's dates are days (MM/dd/yyyy): today, 00:00 UTC */
	assert_true(
	    b.certs[0].requested > now - 86400 && b.certs[0].requested <= now);
	assert_int_equal(b.certs[0].requested % 86400, 0);
	assert_int_equal(b.certs[0].expires, 0);
	assert_int_equal(b.certs[0].revoked, 0);

	/* a pending collect says why */
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_PENDING);
	assert_string_equal(b.ca_status, "Applied");
	collect_ok(c, &b, ref);
	leaf = chain_leaf(b.chain);
	leaf_serial(leaf, serial, sizeof(serial));

	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_string_equal(b.certs[0].status, "Issued");
	assert_string_equal(b.certs[0].serial, serial);
	assert_true(b.certs[0].issued > 0);
	assert_true(b.certs[0].expires <= asn1_unix(X509_get0_notAfter(leaf)));
	assert_true(
	    b.certs[0].expires > asn1_unix(X509_get0_notAfter(leaf)) - 86400);
	X509_free(leaf);

	CALL(c, &b, c->ca->ops->revoke(c->ca, ref, 1, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_string_equal(b.certs[0].status, "Revoked");
	assert_true(b.certs[0].revoked > 0);
	assert_string_equal(b.certs[0].reason, "keyCompromise");
	/* collect of a revoked certificate: FAILED, "Revoked" */
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_string_equal(b.ca_status, "Revoked");

	CALL(c, &b, c->ca->ops->details(c->ca, "999999", on_result, &b));
	assert_int_equal(b.status, ACME_CA_NOTFOUND);
	assert_int_equal(b.http, 404);
	assert_int_equal(b.n_certs, 0);
	assert_int_equal(
	    c->ca->ops->details(c->ca, "12ab", on_result, &b), -EINVAL);
	assert_int_equal(c->ca->ops->details(c->ca, "1", NULL, &b), -EINVAL);

	/* an SCM failure of the details call (every try): as the other
	 * calls */
	sim_control(c,
	    "{\"fail_next\":{\"path_prefix\":\"/api/ssl/v1/"
	    "\",\"status\":503,\"code\":-2,\"count\":3}}");
	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_RETRY);
	assert_int_equal(b.http, 503);
	box_reset(&b);
	free(csr);
}

/* The order's profile (cert type, term, department) wins over the
 * connector's defaults; zeros take the defaults. Profile 226 offers 90 and
 * 199 days, 224 and 284 only 199. */
static void
test_enroll_profile(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64], ref[32];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	X509 *leaf;
	json_t *d;
	char *csr, path[64];
	long long life;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 2);
	conf_header(&conf);
	new_ca(c, &conf);
	en.tag = "profile-1";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;
	en.cert_type = 226;
	en.validity_days = 90;
	en.org_id = 1235;
	enroll(c, &en, ref, sizeof(ref));
	snprintf(path, sizeof(path), "/api/ssl/v1/%s", ref);
	sim_auth = 1;
	d = sim_call(c, path, NULL);
	sim_auth = 0;
	assert_int_equal(json_integer_value(json_object_get(d, "orgId")), 1235);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(d, "certType"), "id")),
	    226);
	assert_int_equal(json_integer_value(json_object_get(d, "term")), 90);
	json_decref(d);
	collect_ok(c, &b, ref);
	leaf = chain_leaf(b.chain);
	/* the simulator issues from 00:00:00 of the day to 23:59:59 of the
	 * term's last day: the term counted inclusively */
	life = asn1_unix(X509_get0_notAfter(leaf)) -
	    asn1_unix(X509_get0_notBefore(leaf)) + 1;
	assert_int_equal(life, 90LL * 86400);
	X509_free(leaf);

	/* defaults: the connector's profile (199 days) */
	en.tag = "profile-2";
	en.cert_type = 0;
	en.validity_days = 0;
	en.org_id = 0;
	enroll(c, &en, ref, sizeof(ref));
	collect_ok(c, &b, ref);
	leaf = chain_leaf(b.chain);
	life = asn1_unix(X509_get0_notAfter(leaf)) -
	    asn1_unix(X509_get0_notBefore(leaf)) + 1;
	assert_int_equal(life, 199LL * 86400);
	X509_free(leaf);

	/* a term the profile lacks: SCM refuses (-36) */
	en.tag = "profile-3";
	en.cert_type = 284;
	en.validity_days = 90;
	CALL(c, &b, c->ca->ops->submit(c->ca, &en, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_int_equal(b.code, -36);
	en.org_id = -1;
	assert_int_equal(
	    c->ca->ops->submit(c->ca, &en, on_result, &b), -EINVAL);
	box_reset(&b);
	free(csr);
}

/* renewById makes a new enrollment (stored CSR, or a new one); replace
 * keeps the sslId and issues a new certificate under it. */
static void
test_renew_replace(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64], n2[80], ref[32], ref2[32], s_old[80], s_new[80];
	char want[200], reason[600];
	const char *names[2] = {n0, n1}, *names2[2] = {n0, n2};
	struct acme_ca_enroll en = {0};
	X509 *leaf;
	char *csr, *csr2;

	unique_names(n0, n1, sizeof(n0));
	snprintf(n2, sizeof(n2), "new.%s", n1);
	csr = make_csr(names, 2);
	conf_oauth(&conf);
	new_ca(c, &conf);
	en.tag = "renew-1";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;
	enroll(c, &en, ref, sizeof(ref));

	/* not issued yet: SCM refuses (-105), FAILED */
	CALL(c, &b, c->ca->ops->renew(c->ca, ref, NULL, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_int_equal(b.code, -105);
	collect_ok(c, &b, ref);

	/* the stored CSR */
	CALL(c, &b, c->ca->ops->renew(c->ca, ref, NULL, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_int_equal(b.http, 200);
	assert_true(atol(b.ref) > atol(ref));
	snprintf(ref2, sizeof(ref2), "%s", b.ref);
	collect_ok(c, &b, ref2);
	check_chain(b.chain, names, 2);
	CALL(c, &b, c->ca->ops->details(c->ca, ref2, on_result, &b));
	snprintf(want, sizeof(want), "%s, %s", n0, n1);
	assert_string_equal(b.certs[0].names, want);

	/* a new CSR (another key) */
	if (rsa_key == NULL)
		rsa_key = EVP_RSA_gen(2048);
	csr2 = make_csr_key(names, 2, rsa_key);
	CALL(c, &b, c->ca->ops->renew(c->ca, ref, csr2, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	snprintf(ref2, sizeof(ref2), "%s", b.ref);
	collect_ok(c, &b, ref2);
	leaf = chain_leaf(b.chain);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), rsa_key), 1);
	X509_free(leaf);
	free(csr2);

	CALL(c, &b, c->ca->ops->renew(c->ca, "999999", NULL, on_result, &b));
	assert_int_equal(b.status, ACME_CA_NOTFOUND);
	assert_int_equal(
	    c->ca->ops->renew(c->ca, "x1", NULL, on_result, &b), -EINVAL);
	assert_int_equal(
	    c->ca->ops->renew(c->ca, ref, "", on_result, &b), -EINVAL);

	/* replace: new names and CSR under the same sslId */
	collect_ok(c, &b, ref);
	leaf = chain_leaf(b.chain);
	leaf_serial(leaf, s_old, sizeof(s_old));
	X509_free(leaf);
	csr2 = make_csr(names2, 2);
	en.csr_pem = csr2;
	en.names = names2;
	CALL(c, &b,
	    c->ca->ops->replace(
	        c->ca, ref, &en, "key rotation", on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_int_equal(b.http, 204);
	assert_string_equal(b.ref, ref);
	collect_ok(c, &b, ref);
	check_chain(b.chain, names2, 2);
	leaf = chain_leaf(b.chain);
	leaf_serial(leaf, s_new, sizeof(s_new));
	X509_free(leaf);
	assert_string_not_equal(s_old, s_new);
	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_string_equal(b.certs[0].serial, s_new);
	snprintf(want, sizeof(want), "%s, %s", n0, n2);
	assert_string_equal(b.certs[0].names, want);
	assert_true(b.certs[0].replaced > 0);

	CALL(c, &b,
	    c->ca->ops->replace(c->ca, "999999", &en, "r", on_result, &b));
	assert_int_equal(b.status, ACME_CA_NOTFOUND);
	assert_int_equal(
	    c->ca->ops->replace(c->ca, ref, &en, "", on_result, &b), -EINVAL);
	memset(reason, 'r', 513);
	reason[513] = '\0';
	assert_int_equal(
	    c->ca->ops->replace(c->ca, ref, &en, reason, on_result, &b),
	    -EINVAL);
	reason[512] = '\0';
	assert_int_equal(
	    c->ca->ops->replace(c->ca, "01a", &en, reason, on_result, &b),
	    -EINVAL);
	en.n_names = 0;
	assert_int_equal(
	    c->ca->ops->replace(c->ca, ref, &en, "r", on_result, &b), -EINVAL);
	box_reset(&b);
	free(csr2);
	free(csr);
}

/* An enrollment waiting for an administrator: collect says "Requested";
 * approved, it is collected; declined, collect fails with the message. */
static void
test_approval(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64], ref[32], ctl[160], want[200];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	long details;
	char *csr;
	int i;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 2);
	conf_oauth(&conf);
	new_ca(c, &conf);
	en.tag = "approval-1";
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;
	sim_control(c, "{\"auto_approve\":false}");
	enroll(c, &en, ref, sizeof(ref));

	/* -183 while it waits: PENDING, one details call says why */
	details = stat_count(c, "details_calls");
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_PENDING);
	assert_int_equal(b.code, -183);
	assert_string_equal(b.ca_status, "Requested");
	assert_int_equal(stat_count(c, "details_calls"), details + 1);
	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_string_equal(b.certs[0].status, "Requested");
	assert_int_equal(b.certs[0].approved, 0);
	assert_true(b.certs[0].requested > 0);

	snprintf(ctl, sizeof(ctl), "{\"approve\":%s}", ref);
	sim_control(c, ctl);
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_PENDING);
	assert_true(strcmp(b.ca_status, "Approved") == 0 ||
	    strcmp(b.ca_status, "Applied") == 0);
	collect_ok(c, &b, ref);
	check_chain(b.chain, names, 2);
	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_string_equal(b.certs[0].status, "Issued");
	assert_true(b.certs[0].approved > 0);

	/* declined: FAILED with SCM's status and the administrator's words */
	en.tag = "approval-2";
	enroll(c, &en, ref, sizeof(ref));
	snprintf(ctl, sizeof(ctl),
	    "{\"decline\":{\"id\":%s,\"message\":\"not for this "
	    "organization\"}}",
	    ref);
	sim_control(c, ctl);
	CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_string_equal(b.ca_status, "Declined");
	snprintf(want, sizeof(want),
	    "SCM declined the request %s: not for this organization", ref);
	assert_string_equal(b.error, want);
	CALL(c, &b, c->ca->ops->details(c->ca, ref, on_result, &b));
	assert_string_equal(b.certs[0].status, "Declined");
	assert_string_equal(b.certs[0].reason, "not for this organization");
	assert_true(b.certs[0].declined > 0);

	/* a renewal waits for approval too */
	sim_control(c, "{\"auto_approve\":true}");
	en.tag = "approval-3";
	enroll(c, &en, ref, sizeof(ref));
	collect_ok(c, &b, ref);
	sim_control(c, "{\"auto_approve\":false}");
	CALL(c, &b, c->ca->ops->renew(c->ca, ref, NULL, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	snprintf(ref, sizeof(ref), "%s", b.ref);
	for (i = 0; i < 3; i++) {
		CALL(c, &b, c->ca->ops->collect(c->ca, ref, on_result, &b));
		assert_int_equal(b.status, ACME_CA_PENDING);
		assert_string_equal(b.ca_status, "Requested");
	}
	sim_control(c, "{\"auto_approve\":true}");
	box_reset(&b);
	free(csr);
}

/* The row for sslId ref in a report result, or NULL. */
static const struct acme_ca_cert *
report_row(const struct box *b, const char *ref)
{
	for (size_t i = 0; i < b->n_certs; i++)
		if (strcmp(b->certs[i].ca_ref, ref) == 0)
			return &b->certs[i];
	return NULL;
}

/* The SSL report: every row parsed, filters passed on, whole UTC days. */
static void
test_report(void **state)
{
	struct ctx *c = *state;
	struct sectigo_conf conf;
	struct box b = {0};
	char n0[64], n1[64], ra[32], rb[32], rc[32], serial[80], want[160];
	char ctl[160];
	const char *names[2] = {n0, n1};
	struct acme_ca_enroll en = {0};
	struct acme_ca_report_query q = {0};
	const struct acme_ca_cert *row;
	long long now = (long long)time(NULL);
	long calls;
	X509 *leaf;
	char *csr;

	unique_names(n0, n1, sizeof(n0));
	csr = make_csr(names, 2);
	conf_header(&conf);
	new_ca(c, &conf);
	en.csr_pem = csr;
	en.names = names;
	en.n_names = 2;
	en.tag = "report-a";
	enroll(c, &en, ra, sizeof(ra));
	collect_ok(c, &b, ra);
	leaf = chain_leaf(b.chain);
	leaf_serial(leaf, serial, sizeof(serial));
	X509_free(leaf);
	en.tag = "report-b";
	enroll(c, &en, rb, sizeof(rb));
	collect_ok(c, &b, rb);
	CALL(c, &b, c->ca->ops->revoke(c->ca, rb, 4, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	sim_control(c, "{\"auto_approve\":false}");
	en.tag = "report-c";
	enroll(c, &en, rc, sizeof(rc));
	sim_control(c, "{\"auto_approve\":true}");

	/* everything requested today: all three, in one call */
	calls = stat_count(c, "report_calls");
	q.status = 0;
	q.date_attr = 4;
	q.from = now - 86400;
	q.to = now;
	CALL(c, &b, c->ca->ops->report(c->ca, &q, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_int_equal(stat_count(c, "report_calls"), calls + 1);
	assert_true(b.n_certs >= 3);
	row = report_row(&b, ra);
	assert_non_null(row);
	assert_string_equal(row->status, "Issued");
	/* HEXWithLeadingZeros: normalised all the same */
	assert_string_equal(row->serial, serial);
	snprintf(want, sizeof(want), "%s, %s", n0, n1);
	assert_string_equal(row->names, want);
	assert_true(row->requested > now - 86400 && row->requested <= now + 5);
	assert_true(row->approved > 0);
	assert_true(row->issued > 0);
	assert_true(row->expires > now + 198LL * 86400);
	assert_int_equal(row->revoked, 0);
	row = report_row(&b, rb);
	assert_non_null(row);
	assert_string_equal(row->status, "Revoked");
	assert_true(row->revoked > now - 86400);
	row = report_row(&b, rc);
	assert_non_null(row);
	assert_string_equal(row->status, "Requested");
	assert_string_equal(row->serial, "");
	assert_int_equal(row->approved, 0);

	/* revoked today: b, not a */
	q.status = 3;
	q.date_attr = 2;
	CALL(c, &b, c->ca->ops->report(c->ca, &q, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_non_null(report_row(&b, rb));
	assert_null(report_row(&b, ra));
	for (size_t i = 0; i < b.n_certs; i++)
		assert_string_equal(b.certs[i].status, "Revoked");

	/* waiting for approval, any date: c; declined, it drops out */
	q.status = 1;
	q.date_attr = 0;
	CALL(c, &b, c->ca->ops->report(c->ca, &q, on_result, &b));
	assert_non_null(report_row(&b, rc));
	assert_null(report_row(&b, ra));
	snprintf(ctl, sizeof(ctl),
	    "{\"decline\":{\"id\":%s,\"message\":\"no\"}}", rc);
	sim_control(c, ctl);
	q.status = 0;
	q.date_attr = 4;
	CALL(c, &b, c->ca->ops->report(c->ca, &q, on_result, &b));
	row = report_row(&b, rc);
	assert_non_null(row);
	assert_string_equal(row->status, "Declined");
	assert_true(row->declined > 0);

	/* requested ten days ago: none of ours */
	q.from = now - 10 * 86400;
	q.to = now - 9 * 86400;
	CALL(c, &b, c->ca->ops->report(c->ca, &q, on_result, &b));
	assert_int_equal(b.status, ACME_CA_OK);
	assert_null(report_row(&b, ra));
	assert_null(report_row(&b, rc));

	/* SCM's refusal, and queries that never reach SCM */
	sim_control(c,
	    "{\"fail_next\":{\"path_prefix\":\"/api/report\","
	    "\"status\":400,\"code\":-1601}}");
	CALL(c, &b, c->ca->ops->report(c->ca, &q, on_result, &b));
	assert_int_equal(b.status, ACME_CA_FAILED);
	assert_int_equal(b.code, -1601);
	q.status = 5;
	assert_int_equal(c->ca->ops->report(c->ca, &q, on_result, &b), -EINVAL);
	q.status = 0;
	q.date_attr = 1;
	assert_int_equal(c->ca->ops->report(c->ca, &q, on_result, &b), -EINVAL);
	q.date_attr = 3;
	q.from = now;
	q.to = now - 86400;
	assert_int_equal(c->ca->ops->report(c->ca, &q, on_result, &b), -EINVAL);
	assert_int_equal(
	    c->ca->ops->report(c->ca, NULL, on_result, &b), -EINVAL);
	box_reset(&b);
	free(csr);
}

/* Order in which the concurrency test's callbacks ran. */
static int conc_order[64], conc_done;

static void
on_conc(void *arg, const struct acme_ca_result *res)
{
	struct box *b = arg;

	on_result(arg, res);
	conc_order[conc_done++] = (int)(intptr_t)b->base;
}

/* max_concurrent: never more SCM calls in flight than allowed, the rest
 * in turn; freeing the backend drops the queue without callbacks; a token
 * fetch is not held up by the limit. */
static void
test_concurrency(void **state)
{
	struct ctx *c = *state;
	enum { N = 24, MAX = 3 };
	struct sectigo_conf conf;
	struct box b[N];
	int now, peak, pos[N];
	long t0;

	memset(b, 0, sizeof(b));
	conf_oauth(&conf);
	conf.max_concurrent = MAX;
	new_ca(c, &conf);
	t0 = stat_count(c, "token_calls");
	conc_done = 0;
	for (int i = 0; i < N; i++) {
		/* the box's base is free for the call's number */
		b[i].base = (struct event_base *)(intptr_t)i;
		assert_int_equal(
		    c->ca->ops->details(c->ca, "999999", on_conc, &b[i]), 0);
	}
	sectigo_inflight(c->ca, &now, &peak);
	assert_int_equal(now, 0); /* waiting for the token */
	for (int i = 0; i < N; i++)
		run_until(c->base, &b[i].called);
	for (int i = 0; i < N; i++) {
		assert_int_equal(b[i].called, 1);
		assert_int_equal(b[i].status, ACME_CA_NOTFOUND);
	}
	assert_int_equal(conc_done, N);
	sectigo_inflight(c->ca, &now, &peak);
	assert_int_equal(now, 0);
	assert_int_equal(peak, MAX);
	assert_int_equal(stat_count(c, "token_calls"), t0 + 1);
	/* FIFO: call i starts only after i - MAX + 1 calls have ended */
	for (int k = 0; k < N; k++)
		pos[conc_order[k]] = k;
	for (int i = MAX; i < N; i++)
		assert_true(pos[i] >= i - MAX + 1);
	for (int i = 0; i < N; i++)
		box_reset(&b[i]);

	/* with 150 ms per SCM answer, 12 calls three at a time take four
	 * rounds: the limit holds against a server that would take them all
	 * at once */
	{
		struct timespec ts0, ts1;
		long long ms;

		sim_control(c, "{\"latency_ms\":150}");
		clock_gettime(CLOCK_MONOTONIC, &ts0);
		for (int i = 0; i < 12; i++)
			assert_int_equal(c->ca->ops->details(
			                     c->ca, "999999", on_result, &b[i]),
			    0);
		for (int i = 0; i < 12; i++)
			run_until(c->base, &b[i].called);
		clock_gettime(CLOCK_MONOTONIC, &ts1);
		sim_control(c, "{\"latency_ms\":0}");
		ms = (ts1.tv_sec - ts0.tv_sec) * 1000LL +
		    (ts1.tv_nsec - ts0.tv_nsec) / 1000000;
		assert_true(ms >= 4 * 150 - 20);
		sectigo_inflight(c->ca, &now, &peak);
		assert_int_equal(peak, MAX);
		for (int i = 0; i < 12; i++) {
			assert_int_equal(b[i].status, ACME_CA_NOTFOUND);
			box_reset(&b[i]);
		}
	}

	/* free with calls queued: no callback, nothing left running */
	for (int i = 0; i < 10; i++)
		assert_int_equal(
		    c->ca->ops->details(c->ca, "999999", on_result, &b[i]), 0);
	c->ca->ops->free(c->ca);
	c->ca = NULL;
	run_for(c->base, 300);
	for (int i = 0; i < 10; i++)
		assert_int_equal(b[i].called, 0);
	assert_int_equal(evcurl_running(c->ec), 0);

	/* the first callback frees the backend: the queue goes with it */
	conf.max_concurrent = 1;
	new_ca(c, &conf);
	for (int i = 0; i < 6; i++) {
		b[i].free_ca = &c->ca;
		assert_int_equal(
		    c->ca->ops->details(c->ca, "999999", on_result, &b[i]), 0);
	}
	run_for(c->base, 1000);
	now = 0;
	for (int i = 0; i < 6; i++)
		now += b[i].called;
	assert_int_equal(now, 1);
	assert_null(c->ca);
	assert_int_equal(evcurl_running(c->ec), 0);
	for (int i = 0; i < N; i++)
		box_reset(&b[i]);
}

/* Serial and date normalisation, a report row. */
static void
test_cert_helpers(void **state)
{
	char out[64];
	json_t *row;
	struct acme_ca_cert cert;

	(void)state;
	assert_int_equal(
	    sectigo_serial_norm("00:0A:bC:01", out, sizeof(out)), 0);
	assert_string_equal(out, "abc01");
	assert_int_equal(
	    sectigo_serial_norm("000000000000ABCDEF", out, sizeof(out)), 0);
	assert_string_equal(out, "abcdef");
	assert_int_equal(sectigo_serial_norm("00:00", out, sizeof(out)), 0);
	assert_string_equal(out, "0");
	assert_int_equal(sectigo_serial_norm(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(
	    sectigo_serial_norm("0x12", out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(sectigo_serial_norm("123456", out, 4), -ENOSPC);

	assert_int_equal(sectigo_parse_date("05/21/2026"), 1779321600LL);
	assert_int_equal(sectigo_parse_date("5/1/2026"), 1777593600LL);
	assert_int_equal(sectigo_parse_date("2026-05-21"), 1779321600LL);
	assert_int_equal(
	    sectigo_parse_date("2025-05-21T11:27:52.082Z"), 1747826872LL);
	assert_int_equal(
	    sectigo_parse_date("2025-05-21T13:27:52+02:00"), 1747826872LL);
	assert_int_equal(
	    sectigo_parse_date("2025-05-21 11:27:52"), 1747826872LL);
	assert_int_equal(
	    sectigo_parse_date("05/21/2025 11:27:52"), 1747826872LL);
	assert_int_equal(sectigo_parse_date("02/30/2026"), 0);
	assert_int_equal(sectigo_parse_date("13/01/2026"), 0);
	assert_int_equal(sectigo_parse_date("21.05.2026"), 0);
	assert_int_equal(sectigo_parse_date("2026-05-21x"), 0);
	assert_int_equal(sectigo_parse_date(""), 0);
	assert_int_equal(sectigo_parse_date(NULL), 0);

	row = json_loads("{\"id\":77,\"status\":\"Revoked\","
	                 "\"serialNumber\":\"00AB:CD\",\"expires\":\"05/21/"
	                 "2026\",\"revoked\":\"2026-01-02\",\"reasonCode\":"
	                 "\"4\",\"subjAltNames\":\"a.example; b.example;\","
	                 "\"comments\":\"acmebridge tag=x\"}",
	    0, NULL);
	assert_non_null(row);
	assert_int_equal(sectigo_cert_parse(row, &cert), 0);
	assert_string_equal(cert.ca_ref, "77");
	assert_string_equal(cert.status, "Revoked");
	assert_string_equal(cert.serial, "abcd");
	assert_string_equal(cert.names, "a.example, b.example");
	assert_string_equal(cert.reason, "superseded");
	assert_int_equal(cert.expires, 1779321600LL);
	assert_int_equal(cert.revoked, 1767312000LL);
	assert_int_equal(cert.issued, 0);
	sectigo_cert_clear(&cert);
	json_decref(row);

	/* declined: the comments without our tag are the reason */
	row = json_loads("{\"sslId\":\"78\",\"status\":\"Declined\","
	                 "\"comments\":\"acmebridge tag=o-1 not for this "
	                 "org\",\"commonName\":\"c.example\"}",
	    0, NULL);
	assert_int_equal(sectigo_cert_parse(row, &cert), 0);
	assert_string_equal(cert.ca_ref, "78");
	assert_string_equal(cert.reason, "not for this org");
	assert_string_equal(cert.names, "c.example");
	assert_string_equal(cert.serial, "");
	sectigo_cert_clear(&cert);
	json_decref(row);

	/* report codes in place of words; no id: refused */
	row = json_loads("{\"id\":79,\"status\":7}", 0, NULL);
	assert_int_equal(sectigo_cert_parse(row, &cert), 0);
	assert_string_equal(cert.status, "Requested");
	sectigo_cert_clear(&cert);
	json_decref(row);
	row = json_loads("{\"status\":\"Issued\"}", 0, NULL);
	assert_int_equal(sectigo_cert_parse(row, &cert), -EINVAL);
	json_decref(row);
	assert_int_equal(sectigo_cert_parse(NULL, &cert), -EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)

int
main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_chain_normalize),
	    cmocka_unit_test(test_cert_helpers),
	    T(test_conf_checks),
	};
	const struct CMUnitTest with_sim[] = {
	    T(test_lifecycle_oauth),
	    T(test_collect_unknown),
	    T(test_wrong_secret),
	    T(test_header_auth),
	    T(test_bad_cert_type),
	    T(test_unreachable),
	    T(test_free_in_flight),
	    T(test_connection),
	    T(test_tls_trust),
	    T(test_token_handling),
	    T(test_error_classes),
	    T(test_timeout_then_find),
	    T(test_find_paging),
	    T(test_details),
	    T(test_enroll_profile),
	    T(test_renew_replace),
	    T(test_concurrency),
	    T(test_approval),
	    T(test_report),
	};
	int fails;

	log_set_level(LOG_LVL_INFO);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	fails = cmocka_run_group_tests_name("sectigo_pure", pure, NULL, NULL);
	fails += cmocka_run_group_tests_name(
	    "sectigo_sim", with_sim, sim_start, sim_stop);
	EVP_PKEY_free(csr_key);
	EVP_PKEY_free(rsa_key);
	curl_global_cleanup();
	return fails;
}
