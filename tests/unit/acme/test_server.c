/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for acme/server: RFC 8555 requests built and signed here (ES256
 * JWS, CSRs, certificates made with OpenSSL) against an in-memory store,
 * with the job results that proxy/ would deliver applied via acme/state. */
#include "tests/unit/acme/acmetest_util.h"

#include "acme/acme.h"
#include "acme/nonce.h"
#include "acme/dcv.h"
#include "acme/life.h"
#include "acme/state.h"
#include "contrib/b64url.h"

#define BASE "https://acme.test"
#define NOW0 1700000000LL
#define LIFETIME (7 * 86400LL)
#define REUSE (30 * 86400LL)
#define JOSE "application/jose+json"

/* Keys made once: two accounts, a replacement account key, the
 * certificate key, and a stranger. */
static EVP_PKEY *k_a, *k_b, *k_new, *k_cert, *k_other;

/* The engine under test, fresh for every test. */
static struct {
	struct acme_settings s;
	json_t *caa;
	struct acme_db *db;
	struct acme_nonces *nonces;
	struct acme_ctx *ctx;
	long long now;
} T;

static int
group_setup(void **state)
{
	(void)state;
	k_a = at_key_p256();
	k_b = at_key_p256();
	k_new = at_key_p256();
	k_cert = at_key_p256();
	k_other = at_key_p256();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(k_a);
	EVP_PKEY_free(k_b);
	EVP_PKEY_free(k_new);
	EVP_PKEY_free(k_cert);
	EVP_PKEY_free(k_other);
	return 0;
}

static int
setup(void **state)
{
	char err[256] = "";

	(void)state;
	memset(&T, 0, sizeof(T));
	T.s.base_url = BASE;
	T.s.default_connector = "default-conn";
	T.s.authz_reuse = REUSE;
	T.s.order_lifetime = LIFETIME;
	T.s.finalize_wait = 10;
	T.s.retry_after = 3;
	T.s.chall_types =
	    ACME_CHALL_HTTP01 | ACME_CHALL_DNS01 | ACME_CHALL_TLSALPN01;
	T.s.max_body = 65536;
	T.db = acme_db_open(":memory:", 0, err, sizeof(err));
	T.nonces = acme_nonces_new();
	if (T.db == NULL || T.nonces == NULL)
		return -1;
	T.ctx = acme_ctx_new(&T.s, T.db, T.nonces);
	T.now = NOW0;
	return T.ctx != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	acme_ctx_free(T.ctx);
	acme_nonces_free(T.nonces);
	acme_db_close(T.db);
	json_decref(T.caa);
	return 0;
}

/* ---- requests -------------------------------------------------------- */

static void
handle(const char *method, const char *path, const char *ctype,
    const char *body, struct acme_resp *resp)
{
	struct acme_req req = {
	    .method = method,
	    .path = path,
	    .content_type = ctype,
	    .body = body,
	    .body_len = body != NULL ? strlen(body) : 0,
	    .now = T.now,
	};

	acme_handle(T.ctx, &req, resp);
}

/* The path of a URL this server handed out. */
static const char *
rel(const char *url)
{
	assert_non_null(url);
	assert_memory_equal(url, BASE, strlen(BASE));
	return url + strlen(BASE);
}

/*
 * POST a JWS signed by key with kid (the account URL; NULL: embed the jwk).
 * url NULL: BASE + path without its query; nonce NULL: a fresh one.
 * payload NULL: POST-as-GET.
 */
static void
post_full(EVP_PKEY *key, const char *kid, const char *path, const char *url,
    const char *nonce, const char *payload, struct acme_resp *resp)
{
	char u[1024], n[ACME_NONCE_LEN + 1];
	const char *q = strchr(path, '?');
	char *body;

	if (url == NULL) {
		snprintf(u, sizeof(u), "%s%.*s", BASE,
		    (int)(q != NULL ? (size_t)(q - path) : strlen(path)), path);
		url = u;
	}
	if (nonce == NULL) {
		acme_nonce_issue(T.nonces, n);
		nonce = n;
	}
	body = at_jws(key, kid, nonce, url, payload);
	handle("POST", path, JOSE, body, resp);
	free(body);
}

static void
post(EVP_PKEY *key, const char *kid, const char *path, const char *payload,
    struct acme_resp *resp)
{
	post_full(key, kid, path, NULL, NULL, payload, resp);
}

static void
dump(const char *what, const struct acme_resp *r)
{
	char *s = r->json != NULL ? json_dumps(r->json, JSON_COMPACT) : NULL;

	print_error("%s: status %d body %s\n", what, r->status,
	    s != NULL ? s : "(none)");
	free(s);
}

/* The checks below report the caller's line. */
#define expect_status(r, status) expect_status_at(r, status, __LINE__)
#define expect_prob(r, status, type) expect_prob_at(r, status, type, __LINE__)

static void
expect_status_at(const struct acme_resp *r, int status, int line)
{
	if (r->status != status) {
		dump("unexpected response", r);
		fail_msg(
		    "line %d: status %d, want %d", line, r->status, status);
	}
}

/* r is the problem document type (short name) with that status. */
static void
expect_prob_at(
    const struct acme_resp *r, int status, const char *type, int line)
{
	char urn[128];
	const char *t;

	expect_status_at(r, status, line);
	if (r->json == NULL || r->ctype == NULL ||
	    strcmp(r->ctype, "application/problem+json") != 0)
		fail_msg("line %d: not a problem document", line);
	t = json_string_value(json_object_get(r->json, "type"));
	snprintf(urn, sizeof(urn), "urn:ietf:params:acme:error:%s", type);
	if (t == NULL || strcmp(t, urn) != 0) {
		dump("unexpected problem", r);
		fail_msg("line %d: problem %s, want %s", line,
		    t != NULL ? t : "(none)", urn);
	}
	assert_int_equal(
	    json_integer_value(json_object_get(r->json, "status")), status);
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		fail_msg("no string member \"%s\"", key);
	return s;
}

static const char *
detail(const struct acme_resp *r)
{
	return jstr(r->json, "detail");
}

/* Does resp carry a Link header with this rel, and (when want is not
 * NULL) this target? */
static int
has_link(const struct acme_resp *r, const char *relname, const char *want)
{
	char tail[64], full[700];

	snprintf(tail, sizeof(tail), ";rel=\"%s\"", relname);
	for (int i = 0; i < r->nlinks; i++) {
		size_t n = strlen(r->links[i]), tn = strlen(tail);
		if (n < tn || strcmp(r->links[i] + n - tn, tail) != 0)
			continue;
		if (want == NULL)
			return 1;
		snprintf(full, sizeof(full), "<%s>%s", want, tail);
		if (strcmp(r->links[i], full) == 0)
			return 1;
	}
	return 0;
}

/* Target of the Link with rel relname into out. */
static void
link_target(
    const struct acme_resp *r, const char *relname, char *out, size_t len)
{
	char tail[64];

	snprintf(tail, sizeof(tail), ">;rel=\"%s\"", relname);
	for (int i = 0; i < r->nlinks; i++) {
		const char *end = strstr(r->links[i], tail);
		if (r->links[i][0] == '<' && end != NULL) {
			snprintf(out, len, "%.*s", (int)(end - r->links[i] - 1),
			    r->links[i] + 1);
			return;
		}
	}
	fail_msg("no Link rel=\"%s\"", relname);
}

/* ---- database reads -------------------------------------------------- */

static long long
db_count(const char *sql, const char *fmt, long long id)
{
	json_t *r = fmt != NULL ? acme_db_one(T.db, sql, fmt, id)
	                        : acme_db_one(T.db, sql, NULL);
	long long n;

	assert_non_null(r);
	n = acme_row_int(r, "n");
	json_decref(r);
	return n;
}

/* The row of table with column col = the last path segment of url. */
static json_t *
row_by_url(const char *sql, const char *url)
{
	const char *id = strrchr(url, '/');
	json_t *r;

	assert_non_null(id);
	r = acme_db_one(T.db, sql, "s", id + 1);
	assert_non_null(r);
	return r;
}

static json_t *
order_row(const char *order_url)
{
	return row_by_url("SELECT * FROM orders WHERE oid = ?", order_url);
}

static json_t *
account_row(const char *kid)
{
	return row_by_url("SELECT * FROM accounts WHERE kid = ?", kid);
}

static const char *
time_str(long long t, char *buf)
{
	return acme_time_str(t, buf, 32);
}

/* ---- protocol steps -------------------------------------------------- */

static void
new_account(EVP_PKEY *key, char kid[512])
{
	struct acme_resp r;

	post(key, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":"
	    "[\"mailto:admin@example.com\"]}",
	    &r);
	expect_status(&r, 201);
	assert_memory_equal(r.location, BASE "/acct/", strlen(BASE "/acct/"));
	snprintf(kid, 512, "%s", r.location);
	acme_resp_clear(&r);
}

/* newOrder payload for DNS names. */
static char *
order_payload(const char *const *names, size_t n)
{
	json_t *ids = json_array(), *o;
	char *s;

	assert_non_null(ids);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids,
		    json_pack("{s:s, s:s}", "type", "dns", "value", names[i]));
	o = json_pack("{s:o}", "identifiers", ids);
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	json_decref(o);
	return s;
}

/* newOrder for names; the response stays in r (201 checked). */
static void
new_order(EVP_PKEY *key, const char *kid, const char *const *names, size_t n,
    struct acme_resp *r)
{
	char *pl = order_payload(names, n);

	post(key, kid, "/new-order", pl, r);
	free(pl);
	expect_status(r, 201);
	assert_memory_equal(
	    r->location, BASE "/order/", strlen(BASE "/order/"));
}

/* The challenge object of type in the authorization at authz_url; copies
 * its URL into out. @return 1 found, 0 not offered. */
static int
find_chall(EVP_PKEY *key, const char *kid, const char *authz_url,
    const char *type, char *out, size_t len)
{
	struct acme_resp r;
	json_t *ch;
	size_t i;
	int found = 0;

	post(key, kid, rel(authz_url), NULL, &r);
	expect_status(&r, 200);
	json_array_foreach(json_object_get(r.json, "challenges"), i, ch) {
		if (strcmp(jstr(ch, "type"), type) == 0) {
			snprintf(out, len, "%s", jstr(ch, "url"));
			found = 1;
		}
	}
	acme_resp_clear(&r);
	return found;
}

/* POST {} to the challenge: the client says "ready". */
static void
respond_chall(
    EVP_PKEY *key, const char *kid, const char *chall_url, struct acme_resp *r)
{
	post(key, kid, rel(chall_url), "{}", r);
	expect_status(r, 200);
}

/* Run the due jobs of a kind, as proxy/'s runner would fetch them. */
static int
due_jobs(const char *kind, struct acme_job *out, int max)
{
	struct acme_job all[64];
	int n = acme_jobs_due(T.db, T.now * 1000, all, 64), k = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n && k < max; i++)
		if (strcmp(all[i].kind, kind) == 0)
			out[k++] = all[i];
	return k;
}

/* Deliver a validation outcome to every queued validate job. */
static int
run_validations(const struct acme_problem *prob)
{
	struct acme_job jobs[16];
	int n = due_jobs("validate", jobs, 16);

	for (int i = 0; i < n; i++)
		assert_int_equal(
		    acme_state_chall_done(T.db, &jobs[i], prob, REUSE, T.now),
		    0);
	return n;
}

/* Answer the given challenge type of every authorization of the order in
 * r (a newOrder/order response) and validate them all: the order is then
 * ready. */
static void
validate_order(EVP_PKEY *key, const char *kid, const struct acme_resp *ord,
    const char *type)
{
	json_t *azs = json_object_get(ord->json, "authorizations"), *az;
	char url[600];
	size_t i;

	json_array_foreach(azs, i, az) {
		struct acme_resp r;

		assert_true(find_chall(
		    key, kid, json_string_value(az), type, url, sizeof(url)));
		respond_chall(key, kid, url, &r);
		acme_resp_clear(&r);
	}
	assert_int_equal(run_validations(NULL), (int)json_array_size(azs));
}

/* finalize with a CSR over names made with k_cert. */
static void
finalize(EVP_PKEY *key, const char *kid, const char *order_url,
    const char *const *names, size_t n, struct acme_resp *r)
{
	char *csr = at_csr_b64(k_cert, names, n, names[0]), path[600];
	json_t *pl = json_pack("{s:s}", "csr", csr);
	char *pls = json_dumps(pl, JSON_COMPACT);

	snprintf(path, sizeof(path), "%s/finalize", rel(order_url));
	post(key, kid, path, pls, r);
	free(csr);
	free(pls);
	json_decref(pl);
}

/* What the job runner does after finalize: enroll at the CA, collect the
 * certificate (a self-signed one over the CSR's key and names). Returns
 * the PEM chain (caller frees). */
static char *
run_enrollment(const char *const *names, size_t n, long serial)
{
	struct acme_job job;
	char *pem = at_cert_pem(
	    k_cert, names, n, serial, T.now - 60, T.now + 90 * 86400);

	assert_int_equal(due_jobs("enroll", &job, 1), 1);
	assert_int_equal(
	    acme_state_enroll_sending(T.db, job.ref, &job, T.now), 0);
	assert_int_equal(
	    acme_state_enrolled(T.db, &job, "ssl-77", 0, T.now), 0);
	assert_int_equal(due_jobs("collect", &job, 1), 1);
	assert_int_equal(acme_state_issued(T.db, &job, pem, T.now), 0);
	return pem;
}

/* An account (kid) with a valid order for names; returns the chain and
 * writes the order URL. */
static char *
issue_cert(EVP_PKEY *key, const char *kid, const char *const *names, size_t n,
    long serial, char order_url[512])
{
	struct acme_resp r;
	char *pem;

	new_order(key, kid, names, n, &r);
	snprintf(order_url, 512, "%s", r.location);
	validate_order(key, kid, &r, "http-01");
	acme_resp_clear(&r);
	finalize(key, kid, order_url, names, n, &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	pem = run_enrollment(names, n, serial);
	post(key, kid, rel(order_url), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "valid");
	acme_resp_clear(&r);
	return pem;
}

static char *
revoke_payload(const char *pem, int reason)
{
	char *der = at_cert_der_b64(pem), *s;
	json_t *o = json_pack("{s:s}", "certificate", der);

	if (reason >= 0)
		json_object_set_new(o, "reason", json_integer(reason));
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	json_decref(o);
	free(der);
	return s;
}

/* ---- directory and nonces -------------------------------------------- */

static void
test_directory(void **state)
{
	struct acme_resp r;
	json_t *meta;

	(void)state;
	T.s.tos = "https://acme.test/tos.pdf";
	T.s.website = "https://www.acme.test/";
	T.caa = json_pack("[s]", "sectigo.com");
	T.s.caa = T.caa;
	handle("GET", "/directory", NULL, NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(r.ctype, "application/json");
	assert_string_equal(jstr(r.json, "newNonce"), BASE "/new-nonce");
	assert_string_equal(jstr(r.json, "newAccount"), BASE "/new-account");
	assert_string_equal(jstr(r.json, "newOrder"), BASE "/new-order");
	assert_string_equal(jstr(r.json, "revokeCert"), BASE "/revoke-cert");
	assert_string_equal(jstr(r.json, "keyChange"), BASE "/key-change");
	meta = json_object_get(r.json, "meta");
	assert_true(json_is_object(meta));
	assert_string_equal(jstr(meta, "termsOfService"), T.s.tos);
	assert_string_equal(jstr(meta, "website"), T.s.website);
	assert_true(json_equal(json_object_get(meta, "caaIdentities"), T.caa));
	assert_true(
	    json_is_false(json_object_get(meta, "externalAccountRequired")));
	acme_resp_clear(&r);

	handle("GET", "/", NULL, NULL, &r);
	expect_status(&r, 200);
	assert_true(json_is_object(json_object_get(r.json, "meta")));
	acme_resp_clear(&r);

	/* a bare server: no tos/website/caa members */
	T.s.tos = T.s.website = NULL;
	T.s.caa = NULL;
	T.s.require_eab = 1;
	handle("GET", "/directory", NULL, NULL, &r);
	meta = json_object_get(r.json, "meta");
	assert_null(json_object_get(meta, "termsOfService"));
	assert_null(json_object_get(meta, "website"));
	assert_null(json_object_get(meta, "caaIdentities"));
	assert_true(
	    json_is_true(json_object_get(meta, "externalAccountRequired")));
	acme_resp_clear(&r);

	handle("POST", "/directory", JOSE, "{}", &r);
	expect_prob(&r, 405, "malformed");
	acme_resp_clear(&r);
}

/* RFC 9773 §4.1: malformed certIDs are 400, well-formed ones of no
 * certificate issued here 404, and the resource answers GET only. */
static void
test_renewal_info_input(void **state)
{
	static const char *const bad[] = {
	    "/renewal-info/nodot",
	    "/renewal-info/.AQID",
	    "/renewal-info/AQID.",
	    "/renewal-info/AQ%3D.AQID",
	    "/renewal-info/AQ==.AQID",
	    "/renewal-info/A+Q.AQID",
	    "/renewal-info/AQID.AQ.ID",
	    "/renewal-info/"
	    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	    "QUFBQUFBQUFBQUFBQUFBQUFBQUFB.AQID",
	};
	struct acme_resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		handle("GET", bad[i], NULL, NULL, &r);
		if (r.status != 400 && r.status != 404)
			fail_msg("%s: status %d", bad[i], r.status);
		if (i < 3 || i == 4 || i == 5 || i == 6)
			expect_prob(&r, 400, "malformed");
		acme_resp_clear(&r);
	}
	/* well formed, nothing issued: 404 (unknown issuer) */
	handle("GET", "/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", NULL,
	    NULL, &r);
	expect_status(&r, 404);
	acme_resp_clear(&r);
	handle("POST", "/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
	    JOSE, "{}", &r);
	expect_prob(&r, 405, "malformed");
	acme_resp_clear(&r);
	/* the directory advertises it */
	handle("GET", "/directory", NULL, NULL, &r);
	assert_string_equal(jstr(r.json, "renewalInfo"), BASE "/renewal-info");
	acme_resp_clear(&r);
	/* explanation pages: the three reasons, nothing else */
	handle("GET", "/renewal-explained/revoked", NULL, NULL, &r);
	expect_status(&r, 200);
	assert_non_null(strstr(r.raw, "revoked"));
	acme_resp_clear(&r);
	handle("GET", "/renewal-explained/other", NULL, NULL, &r);
	expect_status(&r, 404);
	acme_resp_clear(&r);
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" into unix seconds: 0, or -1. */
static int
acme_time_parse(const char *s, long long *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	if (end == NULL || *end != '\0')
		return -1;
	*out = (long long)timegm(&tm);
	return 0;
}

/* The RFC 9773 certID of a PEM certificate into buf ("" on failure);
 * with lead, the serial part carries that many extra zero bytes. */
static void
cert_id_of(const char *pem, int lead, char *buf, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	const ASN1_OCTET_STRING *kid = x ? X509_get0_authority_key_id(x) : NULL;
	const ASN1_INTEGER *sn = x ? X509_get0_serialNumber(x) : NULL;
	unsigned char sb[64] = {0};
	char a[128], b[128];
	int n;

	buf[0] = '\0';
	assert_non_null(kid);
	/* DER content octets of the (positive) INTEGER: its magnitude, a
	 * zero byte first when the high bit is set; then lead more zeros */
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
		unsigned char mag[48];
		int m;

		assert_non_null(bn);
		m = BN_bn2bin(bn, mag);
		BN_free(bn);
		assert_true(m > 0 && m + lead + 1 < (int)sizeof(sb));
		n = (mag[0] & 0x80) ? 1 : 0;
		memcpy(sb + lead + n, mag, (size_t)m);
		n += m;
	}
	b64url_encode(
	    ASN1_STRING_get0_data(kid), (size_t)ASN1_STRING_length(kid), a);
	b64url_encode(sb, (size_t)(n + lead), b);
	snprintf(buf, len, "/renewal-info/%s.%s", a, b);
	X509_free(x);
	BIO_free(bio);
}

/* RFC 9773 windows: Boulder's rule for a certificate in good standing, a
 * past window with its explanation when SCM replaced it or a name's DCV
 * ends first, or when it was revoked; both DER forms of the serial. */
static void
test_renewal_info_windows(void **state)
{
	const char *const names[] = {"ari.example.com"};
	char kid[512], order_url[512], path[320], path0[320], *pem;
	struct acme_life_cert lc;
	struct acme_scm_domain d = {0};
	struct acme_resp r;
	json_t *w;
	long long start, end, nb = T.now - 60, na = T.now + 90 * 86400;
	long long ideal = na - (na - nb) / 3;

	(void)state;
	new_account(k_a, kid);
	/* a serial with its high bit set: DER adds a zero byte */
	pem = issue_cert(k_a, kid, names, 1, 0x8123, order_url);
	cert_id_of(pem, 0, path, sizeof(path));
	cert_id_of(pem, 2, path0, sizeof(path0));
	handle("GET", path, NULL, NULL, &r);
	expect_status(&r, 200);
	w = json_object_get(r.json, "suggestedWindow");
	assert_int_equal(acme_time_parse(jstr(w, "start"), &start), 0);
	assert_int_equal(acme_time_parse(jstr(w, "end"), &end), 0);
	assert_true(start < end && start > nb && end < na);
	assert_true(start <= ideal && ideal <= end);
	assert_null(json_object_get(r.json, "explanationURL"));
	assert_true(r.retry_after >= 19440 && r.retry_after <= 23760);
	acme_resp_clear(&r);
	handle("GET", path0, NULL, NULL, &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);

	/* the DCV of the name's SCM domain ends before the window */
	assert_int_equal(
	    acme_life_cert_by_serial(T.db, "8123", NULL, &lc), ACME_FOUND);
	snprintf(d.connector, sizeof(d.connector), "%s", lc.connector);
	snprintf(d.name, sizeof(d.name), "example.com");
	d.validated = 1;
	d.expires = T.now + 86400;
	d.checked = T.now;
	assert_int_equal(acme_scmdom_put(T.db, &d), 1);
	handle("GET", path, NULL, NULL, &r);
	expect_status(&r, 200);
	w = json_object_get(r.json, "suggestedWindow");
	assert_int_equal(acme_time_parse(jstr(w, "end"), &end), 0);
	assert_true(end <= T.now);
	assert_string_equal(
	    jstr(r.json, "explanationURL"), BASE "/renewal-explained/dcv");
	acme_resp_clear(&r);

	/* replaced in SCM */
	assert_int_equal(
	    acme_life_cert_scm(T.db, lc.id, "Replaced", "", T.now), 1);
	handle("GET", path, NULL, NULL, &r);
	assert_string_equal(
	    jstr(r.json, "explanationURL"), BASE "/renewal-explained/replaced");
	acme_resp_clear(&r);

	/* revoked in SCM: the certificate is revoked here too */
	assert_int_equal(
	    acme_life_cert_scm(T.db, lc.id, "Revoked", "", T.now), 1);
	handle("GET", path, NULL, NULL, &r);
	assert_string_equal(
	    jstr(r.json, "explanationURL"), BASE "/renewal-explained/revoked");
	acme_resp_clear(&r);
	acme_life_cert_clear(&lc);
	assert_int_equal(
	    acme_life_cert_by_serial(T.db, "8123", NULL, &lc), ACME_FOUND);
	assert_int_equal(lc.status, ACME_CERT_REVOKED);
	acme_life_cert_clear(&lc);
	free(pem);
}

static void
test_new_nonce_and_routing(void **state)
{
	struct acme_resp r;

	(void)state;
	handle("HEAD", "/new-nonce", NULL, NULL, &r);
	expect_status(&r, 200);
	assert_int_equal(r.no_store, 1);
	assert_true(has_link(&r, "index", BASE "/directory"));
	acme_resp_clear(&r);
	handle("GET", "/new-nonce", NULL, NULL, &r);
	expect_status(&r, 204);
	assert_int_equal(r.no_store, 1);
	acme_resp_clear(&r);
	/* a POST to newNonce is a POST-as-GET, a bare "{}" no JWS */
	handle("POST", "/new-nonce", JOSE, "{}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	handle("POST", "/directory", JOSE, "{}", &r);
	expect_prob(&r, 405, "malformed");
	assert_string_equal(r.allow, "GET, HEAD");
	acme_resp_clear(&r);
	/* resources are POST only (RFC 8555 §6.3) */
	handle("GET", "/new-order", NULL, NULL, &r);
	expect_prob(&r, 405, "malformed");
	acme_resp_clear(&r);
	handle("GET", "/order/abc", NULL, NULL, &r);
	expect_prob(&r, 405, "malformed");
	acme_resp_clear(&r);
	post(k_a, NULL, "/nosuch", "{}", &r);
	expect_prob(&r, 404, "malformed");
	assert_true(has_link(&r, "index", BASE "/directory"));
	acme_resp_clear(&r);

	/* proxy-level problems use the same document */
	{
		struct acme_problem p = {0};
		char tbuf[32];

		memset(&r, 0, sizeof(r));
		acme_problem_set(&p, 429, "rateLimited", "slow down");
		acme_resp_problem(T.ctx, &r, &p);
		expect_prob(&r, 429, "rateLimited");
		assert_string_equal(detail(&r), "slow down");
		assert_true(has_link(&r, "index", BASE "/directory"));
		assert_null(p.type); /* consumed */
		acme_resp_clear(&r);
		assert_string_equal(time_str(0, tbuf), "1970-01-01T00:00:00Z");
		assert_string_equal(
		    time_str(NOW0, tbuf), "2023-11-14T22:13:20Z");
	}
}

/* ---- accounts -------------------------------------------------------- */

static void
test_new_account(void **state)
{
	struct acme_resp r;
	char kid[512], thumb[44], orders[600];
	json_t *row, *jwk;

	(void)state;
	post(k_a, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":"
	    "[\"mailto:admin@example.com\"]}",
	    &r);
	expect_status(&r, 201);
	assert_string_equal(r.ctype, "application/json");
	assert_memory_equal(r.location, BASE "/acct/", strlen(BASE "/acct/"));
	assert_true(strlen(r.location) > strlen(BASE "/acct/"));
	snprintf(kid, sizeof(kid), "%s", r.location);
	assert_string_equal(jstr(r.json, "status"), "valid");
	assert_true(
	    json_is_true(json_object_get(r.json, "termsOfServiceAgreed")));
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(r.json, "contact"), 0)),
	    "mailto:admin@example.com");
	snprintf(orders, sizeof(orders), "%s/orders", kid);
	assert_string_equal(jstr(r.json, "orders"), orders);
	acme_resp_clear(&r);

	row = account_row(kid);
	jwk = acme_jwk_from_pkey(k_a);
	assert_int_equal(acme_jwk_thumbprint(jwk, thumb), 0);
	assert_string_equal(acme_row_str(row, "thumbprint"), thumb);
	assert_string_equal(acme_row_str(row, "status"), "valid");
	assert_string_equal(acme_row_str(row, "connector"), "default-conn");
	assert_int_equal(acme_row_int(row, "tos_agreed"), 1);
	assert_int_equal(acme_row_int(row, "created"), NOW0);
	assert_string_equal(
	    acme_row_str(row, "contact"), "[\"mailto:admin@example.com\"]");
	assert_true(json_is_null(json_object_get(row, "eab_kid")));
	json_decref(row);
	json_decref(jwk);
	assert_int_equal(db_count("SELECT count(*) AS n FROM audit WHERE"
	                          " event = 'account.new'",
	                     NULL, 0),
	    1);

	/* the same key again: the same account, 200 (RFC 8555 §7.3.1) */
	post(k_a, NULL, "/new-account", "{\"termsOfServiceAgreed\":true}", &r);
	expect_status(&r, 200);
	assert_string_equal(r.location, kid);
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-account", "{\"onlyReturnExisting\":true}", &r);
	expect_status(&r, 200);
	assert_string_equal(r.location, kid);
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM accounts", NULL, 0), 1);

	/* POST-as-GET on the account URL */
	post(k_a, kid, rel(kid), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "valid");
	assert_string_equal(r.location, kid);
	acme_resp_clear(&r);

	/* without contact: stored as [] */
	post(k_b, NULL, "/new-account", "{\"termsOfServiceAgreed\":true}", &r);
	expect_status(&r, 201);
	row = account_row(r.location);
	assert_string_equal(acme_row_str(row, "contact"), "[]");
	json_decref(row);
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "contact")), 0);
	acme_resp_clear(&r);
}

static void
test_account_errors(void **state)
{
	struct acme_resp r;
	char kid[512];

	(void)state;
	post(k_a, NULL, "/new-account", "{\"onlyReturnExisting\":true}", &r);
	expect_prob(&r, 400, "accountDoesNotExist");
	acme_resp_clear(&r);

	T.s.tos = "https://acme.test/tos.pdf";
	post(k_a, NULL, "/new-account", "{\"termsOfServiceAgreed\":false}", &r);
	expect_prob(&r, 403, "userActionRequired");
	assert_true(has_link(&r, "terms-of-service", T.s.tos));
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-account", "{}", &r);
	expect_prob(&r, 403, "userActionRequired");
	acme_resp_clear(&r);

	post(k_a, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":[\"tel:+1555\"]}", &r);
	expect_prob(&r, 400, "unsupportedContact");
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:nobody\"]}",
	    &r);
	expect_prob(&r, 400, "invalidContact");
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":\"mailto:a@b.c\"}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* newAccount needs a payload */
	post(k_a, NULL, "/new-account", NULL, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* the payload must be an object, once */
	post(k_a, NULL, "/new-account", "[1]", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"termsOfServiceAgreed\":true}",
	    &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM accounts", NULL, 0), 0);

	new_account(k_a, kid);
	/* newAccount by kid is refused, other resources by jwk too */
	post(k_a, kid, "/new-account", "{\"termsOfServiceAgreed\":true}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}]}",
	    &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* an unknown kid */
	post(k_a, BASE "/acct/nosuchaccount", "/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}]}",
	    &r);
	expect_prob(&r, 400, "accountDoesNotExist");
	acme_resp_clear(&r);
	/* the account's kid, signed by another key */
	post(k_b, kid, rel(kid), NULL, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* another account's URL */
	{
		char kid_b[512];
		new_account(k_b, kid_b);
		post(k_b, kid_b, rel(kid), NULL, &r);
		expect_prob(&r, 403, "unauthorized");
		acme_resp_clear(&r);
	}
}

static void
test_request_format(void **state)
{
	struct acme_resp r;
	char *body;
	char big[200];

	(void)state;
	body = at_jws(k_a, NULL, "x", BASE "/new-account", "{}");
	handle("POST", "/new-account", "application/json", body, &r);
	expect_prob(&r, 415, "malformed");
	acme_resp_clear(&r);
	handle("POST", "/new-account", NULL, body, &r);
	expect_prob(&r, 415, "malformed");
	acme_resp_clear(&r);
	T.s.max_body = strlen(body) - 1;
	handle("POST", "/new-account", JOSE, body, &r);
	expect_prob(&r, 413, "malformed");
	acme_resp_clear(&r);
	T.s.max_body = 65536;
	free(body);
	handle("POST", "/new-account", JOSE, "not json", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	snprintf(big, sizeof(big), "{\"protected\":\"e30\"}");
	handle("POST", "/new-account", JOSE, big, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* "; charset" and case do not matter */
	post(k_a, NULL, "/new-account", "{}", &r);
	expect_status(&r, 201);
	acme_resp_clear(&r);
	{
		char n[ACME_NONCE_LEN + 1];
		acme_nonce_issue(T.nonces, n);
		body = at_jws(k_a, NULL, n, BASE "/new-account",
		    "{\"onlyReturnExisting\":true}");
		handle("POST", "/new-account",
		    "Application/JOSE+JSON; charset=utf-8", body, &r);
		expect_status(&r, 200);
		acme_resp_clear(&r);
		free(body);
	}
}

static void
test_eab_required_missing(void **state)
{
	struct acme_resp r;

	(void)state;
	T.s.require_eab = 1;
	post(k_a, NULL, "/new-account", "{\"termsOfServiceAgreed\":true}", &r);
	expect_prob(&r, 400, "externalAccountRequired");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM accounts", NULL, 0), 0);
}

static char *
eab_payload(EVP_PKEY *bound_key, const char *eab_kid, const char *url,
    const unsigned char *mac, size_t mac_len)
{
	json_t *pl = json_pack("{s:b, s:o}", "termsOfServiceAgreed", 1,
	    "externalAccountBinding",
	    at_eab(bound_key, eab_kid, url, mac, mac_len));
	char *s = json_dumps(pl, JSON_COMPACT);

	assert_non_null(s);
	json_decref(pl);
	return s;
}

static void
test_eab(void **state)
{
	static const unsigned char mac[32] = "0123456789abcdef0123456789abcde";
	static const unsigned char wrong[32] =
	    "X123456789abcdef0123456789abcde";
	struct acme_resp r;
	char mac_b64[64], *pl, kid[512];
	json_t *row;
	const char *const names[] = {"eab.example.com"};

	(void)state;
	T.s.require_eab = 1;
	b64url_encode(mac, sizeof(mac), mac_b64);
	assert_int_equal(acme_db_exec(T.db,
	                     "INSERT INTO eab_keys(kid, hmac_key, connector,"
	                     " created) VALUES (?, ?, ?, ?)",
	                     "sssi", "eab-1", mac_b64, "conn-eab", NOW0),
	    1);

	/* wrong MAC key */
	pl = eab_payload(
	    k_a, "eab-1", BASE "/new-account", wrong, sizeof(wrong));
	post(k_a, NULL, "/new-account", pl, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	free(pl);
	/* unknown EAB key id */
	pl = eab_payload(k_a, "eab-9", BASE "/new-account", mac, sizeof(mac));
	post(k_a, NULL, "/new-account", pl, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	free(pl);
	/* binds another key than the one signing the request */
	pl = eab_payload(
	    k_other, "eab-1", BASE "/new-account", mac, sizeof(mac));
	post(k_a, NULL, "/new-account", pl, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	free(pl);
	/* for another URL */
	pl = eab_payload(k_a, "eab-1", BASE "/new-order", mac, sizeof(mac));
	post(k_a, NULL, "/new-account", pl, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	free(pl);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM accounts", NULL, 0), 0);

	pl = eab_payload(k_a, "eab-1", BASE "/new-account", mac, sizeof(mac));
	post(k_a, NULL, "/new-account", pl, &r);
	free(pl);
	expect_status(&r, 201);
	snprintf(kid, sizeof(kid), "%s", r.location);
	acme_resp_clear(&r);
	row = account_row(kid);
	assert_string_equal(acme_row_str(row, "connector"), "conn-eab");
	assert_string_equal(acme_row_str(row, "eab_kid"), "eab-1");
	json_decref(row);
	/* the link is accounts.eab_kid (N:1), not eab_keys.account_id */
	row = acme_db_one(
	    T.db, "SELECT * FROM eab_keys WHERE kid = ?", "s", "eab-1");
	assert_true(json_is_null(json_object_get(row, "account_id")));
	json_decref(row);
	row = acme_db_one(
	    T.db, "SELECT detail FROM audit WHERE event = 'account.new'", NULL);
	assert_string_equal(acme_row_str(row, "detail"), "eab-1");
	json_decref(row);

	/* the account's orders go to the EAB key's connector */
	new_order(k_a, kid, names, 1, &r);
	row = order_row(r.location);
	assert_string_equal(acme_row_str(row, "connector"), "conn-eab");
	json_decref(row);
	acme_resp_clear(&r);
}

/* An EAB key "eab-<n>" with the given limit (-1: none); its MAC key
 * (32 bytes) is written to mac. */
static void
add_eab_key(int n, long long max, unsigned char mac[32])
{
	char kid[32], mac_b64[64];

	snprintf(kid, sizeof(kid), "eab-%d", n);
	memset(mac, 'a' + n, 32);
	b64url_encode(mac, 32, mac_b64);
	if (max < 0)
		assert_int_equal(
		    acme_db_exec(T.db,
		        "INSERT INTO eab_keys(kid, hmac_key, connector,"
		        " created) VALUES (?, ?, 'conn-eab', ?)",
		        "ssi", kid, mac_b64, NOW0),
		    1);
	else
		assert_int_equal(
		    acme_db_exec(T.db,
		        "INSERT INTO eab_keys(kid, hmac_key, connector,"
		        " max_accounts, created) VALUES (?, ?, 'conn-eab', ?,"
		        " ?)",
		        "ssii", kid, mac_b64, max, NOW0),
		    1);
}

/* ---- orders ---------------------------------------------------------- */

static void
test_order_flow(void **state)
{
	const char *const names[] = {"www.example.com", "example.com"};
	const char *const www[] = {"www.example.com"};
	struct acme_resp r, fin;
	char kid[512], order_url[512], fin_url[600], chall[600], dns[600],
	    tbuf[32], az_url[2][600], cert_url[600], *pem;
	json_t *row, *ch, *azs, *want;
	long long order_id, chall_id;
	size_t i;

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 2, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	assert_string_equal(jstr(r.json, "status"), "pending");
	assert_string_equal(
	    jstr(r.json, "expires"), time_str(NOW0 + LIFETIME, tbuf));
	snprintf(fin_url, sizeof(fin_url), "%s/finalize", order_url);
	assert_string_equal(jstr(r.json, "finalize"), fin_url);
	want = json_pack("[{s:s, s:s}, {s:s, s:s}]", "type", "dns", "value",
	    "www.example.com", "type", "dns", "value", "example.com");
	assert_true(json_equal(json_object_get(r.json, "identifiers"), want));
	json_decref(want);
	azs = json_object_get(r.json, "authorizations");
	assert_int_equal(json_array_size(azs), 2);
	for (i = 0; i < 2; i++) {
		snprintf(az_url[i], sizeof(az_url[i]), "%s",
		    json_string_value(json_array_get(azs, i)));
		assert_memory_equal(
		    az_url[i], BASE "/authz/", strlen(BASE "/authz/"));
	}
	assert_null(json_object_get(r.json, "certificate"));
	assert_int_equal(r.kick, 0);
	acme_resp_clear(&r);
	row = order_row(order_url);
	order_id = acme_row_int(row, "id");
	assert_string_equal(acme_row_str(row, "status"), "pending");
	assert_string_equal(acme_row_str(row, "connector"), "default-conn");
	assert_int_equal(acme_row_int(row, "expires"), NOW0 + LIFETIME);
	json_decref(row);

	/* the authorization offers the three challenge types */
	post(k_a, kid, rel(az_url[0]), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "pending");
	assert_string_equal(
	    jstr(json_object_get(r.json, "identifier"), "type"), "dns");
	assert_string_equal(
	    jstr(json_object_get(r.json, "identifier"), "value"),
	    "www.example.com");
	assert_null(json_object_get(r.json, "wildcard"));
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "challenges")), 3);
	{
		const char *types[] = {"http-01", "dns-01", "tls-alpn-01"};
		json_array_foreach(
		    json_object_get(r.json, "challenges"), i, ch) {
			assert_string_equal(jstr(ch, "type"), types[i]);
			assert_string_equal(jstr(ch, "status"), "pending");
			assert_int_equal(strlen(jstr(ch, "token")), 43);
			assert_memory_equal(jstr(ch, "url"), BASE "/chall/",
			    strlen(BASE "/chall/"));
		}
	}
	acme_resp_clear(&r);

	/* finalize before the order is ready */
	finalize(k_a, kid, order_url, names, 2, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);

	/* POST {} starts validation: processing, one validate job */
	assert_true(
	    find_chall(k_a, kid, az_url[0], "http-01", chall, sizeof(chall)));
	assert_true(
	    find_chall(k_a, kid, az_url[0], "dns-01", dns, sizeof(dns)));
	respond_chall(k_a, kid, chall, &r);
	assert_string_equal(jstr(r.json, "status"), "processing");
	assert_string_equal(jstr(r.json, "url"), chall);
	assert_true(has_link(&r, "up", az_url[0]));
	assert_int_equal(r.retry_after, 3);
	assert_int_equal(r.kick, 1);
	acme_resp_clear(&r);
	row = row_by_url("SELECT * FROM challenges WHERE cid = ?", chall);
	chall_id = acme_row_int(row, "id");
	assert_string_equal(acme_row_str(row, "status"), "processing");
	json_decref(row);
	row = acme_db_one(T.db, "SELECT * FROM jobs", NULL);
	assert_string_equal(acme_row_str(row, "kind"), "validate");
	assert_int_equal(acme_row_int(row, "ref"), chall_id);
	assert_string_equal(acme_row_str(row, "state"), "queued");
	assert_int_equal(acme_row_int(row, "next_run"), NOW0 * 1000);
	json_decref(row);
	/* a second POST and another challenge of the same authorization
	 * start nothing more */
	respond_chall(k_a, kid, chall, &r);
	assert_string_equal(jstr(r.json, "status"), "processing");
	acme_resp_clear(&r);
	respond_chall(k_a, kid, dns, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	assert_int_equal(r.kick, 0);
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM jobs", NULL, 0), 1);

	/* the authorization shows the challenge processing */
	post(k_a, kid, rel(az_url[0]), NULL, &r);
	assert_int_equal(r.retry_after, 3);
	acme_resp_clear(&r);

	/* validation succeeds: authz valid, order still pending (the other
	 * authorization is not done) */
	assert_int_equal(run_validations(NULL), 1);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " state = 'done'",
	                     NULL, 0),
	    1);
	post(k_a, kid, rel(az_url[0]), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "valid");
	assert_string_equal(
	    jstr(r.json, "expires"), time_str(NOW0 + REUSE, tbuf));
	/* only the challenge that validated it is listed */
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "challenges")), 1);
	ch = json_array_get(json_object_get(r.json, "challenges"), 0);
	assert_string_equal(jstr(ch, "type"), "http-01");
	assert_string_equal(jstr(ch, "status"), "valid");
	assert_string_equal(jstr(ch, "validated"), time_str(NOW0, tbuf));
	acme_resp_clear(&r);
	post(k_a, kid, rel(order_url), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	acme_resp_clear(&r);

	/* the second authorization: now the order is ready, in the same
	 * transaction as the challenge */
	assert_true(
	    find_chall(k_a, kid, az_url[1], "dns-01", chall, sizeof(chall)));
	respond_chall(k_a, kid, chall, &r);
	acme_resp_clear(&r);
	assert_int_equal(run_validations(NULL), 1);
	row = order_row(order_url);
	assert_string_equal(acme_row_str(row, "status"), "ready");
	json_decref(row);
	post(k_a, kid, rel(order_url), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "ready");
	assert_string_equal(r.location, order_url);
	acme_resp_clear(&r);

	/* finalize: CSR names must match; the CSR must be a CSR */
	finalize(k_a, kid, order_url, www, 1, &r);
	expect_prob(&r, 400, "badCSR");
	acme_resp_clear(&r);
	post(k_a, kid, rel(fin_url), "{\"csr\":\"AAAA\"}", &r);
	expect_prob(&r, 400, "badCSR");
	acme_resp_clear(&r);
	post(k_a, kid, rel(fin_url), "{}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	row = order_row(order_url);
	assert_string_equal(acme_row_str(row, "status"), "ready");
	json_decref(row);

	finalize(k_a, kid, order_url, names, 2, &fin);
	expect_status(&fin, 200);
	assert_string_equal(jstr(fin.json, "status"), "processing");
	assert_string_equal(fin.location, order_url);
	assert_int_equal(fin.kick, 1);
	assert_int_equal(fin.retry_after, 3);
	assert_int_equal(fin.wait, ACME_WAIT_ORDER);
	assert_int_equal(fin.wait_id, order_id);
	assert_int_equal(fin.wait_until, NOW0 * 1000 + 10000);
	row = account_row(kid);
	assert_int_equal(fin.wait_acct, acme_row_int(row, "id"));
	json_decref(row);
	row = order_row(order_url);
	assert_string_equal(acme_row_str(row, "status"), "processing");
	assert_memory_equal(acme_row_str(row, "csr_pem"),
	    "-----BEGIN CERTIFICATE REQUEST-----", 35);
	json_decref(row);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll' AND ref = ?",
	                     "i", order_id),
	    1);
	/* still processing: the deferred reply keeps waiting */
	assert_int_equal(acme_wait_poll(T.ctx, &fin, T.now, 0), 0);

	/* a finalize retry is not ready (RFC 8555 §7.4) and does not
	 * enroll twice */
	finalize(k_a, kid, order_url, names, 2, &r);
	expect_prob(&r, 403, "orderNotReady");
	assert_int_equal(r.wait, ACME_WAIT_NONE);
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll' AND ref = ?",
	                     "i", order_id),
	    1);

	/* the CA work: enrolled, then collected */
	pem = run_enrollment(names, 2, 4242);
	row = order_row(order_url);
	assert_string_equal(acme_row_str(row, "status"), "valid");
	assert_string_equal(acme_row_str(row, "ca_ref"), "ssl-77");
	assert_int_equal(acme_row_int(row, "enroll_state"), 2);
	json_decref(row);
	row = acme_db_one(T.db, "SELECT * FROM certificates WHERE order_id = ?",
	    "i", order_id);
	assert_non_null(row);
	assert_string_equal(acme_row_str(row, "serial"), "1092"); /* 4242 */
	assert_string_equal(acme_row_str(row, "status"), "valid");
	assert_string_equal(acme_row_str(row, "chain_pem"), pem);
	snprintf(cert_url, sizeof(cert_url), BASE "/cert/%s",
	    acme_row_str(row, "crt_id"));
	json_decref(row);

	/* now the waiting finalize answers with the valid order */
	assert_int_equal(acme_wait_poll(T.ctx, &fin, T.now, 0), 1);
	expect_status(&fin, 200);
	assert_int_equal(fin.wait, ACME_WAIT_NONE);
	assert_string_equal(jstr(fin.json, "status"), "valid");
	assert_string_equal(jstr(fin.json, "certificate"), cert_url);
	acme_resp_clear(&fin);

	post(k_a, kid, rel(order_url), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "valid");
	assert_string_equal(jstr(r.json, "certificate"), cert_url);
	assert_int_equal(r.retry_after, 0);
	acme_resp_clear(&r);

	/* the chain, by POST-as-GET */
	post(k_a, kid, rel(cert_url), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(r.ctype, "application/pem-certificate-chain");
	assert_null(r.json);
	assert_int_equal(r.raw_len, strlen(pem));
	assert_memory_equal(r.raw, pem, strlen(pem));
	acme_resp_clear(&r);

	/* finalize on the valid order: RFC 8555 §7.4, 403 orderNotReady,
	 * no new job */
	finalize(k_a, kid, order_url, names, 2, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind IN ('enroll', 'collect')",
	                     NULL, 0),
	    1);

	/* the account's orders */
	{
		char orders[600];
		json_t *arr;

		snprintf(orders, sizeof(orders), "%s/orders", kid);
		post(k_a, kid, rel(orders), NULL, &r);
		expect_status(&r, 200);
		arr = json_object_get(r.json, "orders");
		assert_int_equal(json_array_size(arr), 1);
		assert_string_equal(
		    json_string_value(json_array_get(arr, 0)), order_url);
		assert_false(has_link(&r, "next", NULL));
		acme_resp_clear(&r);
	}
	free(pem);
}

static void
test_finalize_twice(void **state)
{
	const char *const names[] = {"twice.example.com"};
	struct acme_resp r, r2;
	char kid[512], order_url[512];
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 1, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	validate_order(k_a, kid, &r, "http-01");
	acme_resp_clear(&r);
	finalize(k_a, kid, order_url, names, 1, &r);
	finalize(k_a, kid, order_url, names, 1, &r2);
	expect_status(&r, 200);
	expect_prob(&r2, 403, "orderNotReady");
	assert_string_equal(jstr(r.json, "status"), "processing");
	assert_int_equal(r.wait, ACME_WAIT_ORDER);
	acme_resp_clear(&r);
	acme_resp_clear(&r2);
	row = order_row(order_url);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll' AND ref = ?",
	                     "i", acme_row_int(row, "id")),
	    1);
	assert_int_equal(db_count("SELECT count(*) AS n FROM audit WHERE"
	                          " event = 'order.finalize'",
	                     NULL, 0),
	    1);
	json_decref(row);

	/* a deadline reached while processing: the order as it is */
	finalize(k_a, kid, order_url, names, 1, &r);
	acme_resp_clear(&r);
	{
		struct acme_resp w;
		row = order_row(order_url);
		memset(&w, 0, sizeof(w));
		w.wait = ACME_WAIT_ORDER;
		w.wait_id = acme_row_int(row, "id");
		json_decref(row);
		assert_int_equal(acme_wait_poll(T.ctx, &w, T.now, 0), 0);
		assert_int_equal(acme_wait_poll(T.ctx, &w, T.now, 1), 1);
		expect_status(&w, 200);
		assert_string_equal(jstr(w.json, "status"), "processing");
		assert_int_equal(w.retry_after, 3);
		assert_string_equal(w.location, order_url);
		acme_resp_clear(&w);
	}
}

/* The CA refuses: the waiting finalize answers with the invalid order. */
static void
test_finalize_ca_failure(void **state)
{
	const char *const names[] = {"refused.example.com"};
	struct acme_resp r, fin;
	struct acme_job job;
	char kid[512], order_url[512];
	json_t *err;

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 1, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	validate_order(k_a, kid, &r, "tls-alpn-01");
	acme_resp_clear(&r);
	finalize(k_a, kid, order_url, names, 1, &fin);
	expect_status(&fin, 200);
	assert_int_equal(fin.wait, ACME_WAIT_ORDER);
	assert_int_equal(due_jobs("enroll", &job, 1), 1);
	assert_int_equal(acme_state_order_failed(T.db, &job,
	                     "SCM refused: domain not validated", T.now),
	    0);
	assert_int_equal(acme_wait_poll(T.ctx, &fin, T.now, 0), 1);
	expect_status(&fin, 200);
	assert_string_equal(jstr(fin.json, "status"), "invalid");
	err = json_object_get(fin.json, "error");
	assert_string_equal(
	    jstr(err, "type"), "urn:ietf:params:acme:error:serverInternal");
	assert_non_null(strstr(jstr(err, "detail"), "domain not validated"));
	assert_null(json_object_get(fin.json, "certificate"));
	acme_resp_clear(&fin);
	/* and a finalize retry is refused, without a new enrollment */
	finalize(k_a, kid, order_url, names, 1, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll'",
	                     NULL, 0),
	    1);
}

static void
test_wildcard_and_ip(void **state)
{
	struct acme_resp r, a;
	char kid[512];
	json_t *ch, *ids;
	size_t i;

	(void)state;
	new_account(k_a, kid);
	post(k_a, kid, "/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"*.Example.COM\"}]"
	    "}",
	    &r);
	expect_status(&r, 201);
	/* the order keeps the wildcard name (normalised) */
	ids = json_object_get(r.json, "identifiers");
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(
	    jstr(json_array_get(ids, 0), "value"), "*.example.com");
	post(k_a, kid,
	    rel(json_string_value(
	        json_array_get(json_object_get(r.json, "authorizations"), 0))),
	    NULL, &a);
	expect_status(&a, 200);
	/* the authorization names the base domain, flagged wildcard, and
	 * offers dns-01 only (RFC 8555 §7.1.3, §8.4) */
	assert_string_equal(
	    jstr(json_object_get(a.json, "identifier"), "value"),
	    "example.com");
	assert_true(json_is_true(json_object_get(a.json, "wildcard")));
	assert_int_equal(
	    json_array_size(json_object_get(a.json, "challenges")), 1);
	assert_string_equal(
	    jstr(json_array_get(json_object_get(a.json, "challenges"), 0),
	        "type"),
	    "dns-01");
	acme_resp_clear(&a);
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM authzs WHERE"
	                          " id_value = 'example.com' AND wildcard = 1",
	                     NULL, 0),
	    1);

	/* the wildcard order goes through: dns-01, then a CSR naming
	 * "*.example.com" */
	{
		const char *const wc[] = {"*.example.com"};
		char order_url[512];

		new_order(k_a, kid, wc, 1, &r);
		snprintf(order_url, sizeof(order_url), "%s", r.location);
		/* a new authorization: the one above is pending, not valid */
		assert_string_equal(jstr(r.json, "status"), "pending");
		validate_order(k_a, kid, &r, "dns-01");
		acme_resp_clear(&r);
		finalize(k_a, kid, order_url, wc, 1, &r);
		expect_status(&r, 200);
		assert_string_equal(jstr(r.json, "status"), "processing");
		acme_resp_clear(&r);
	}

	/* the address policy: no IP identifier that is not global unicast */
	post(k_a, kid, "/new-order",
	    "{\"identifiers\":[{\"type\":\"ip\",\"value\":\"192.0.2.1\"}]}",
	    &r);
	expect_prob(&r, 400, "rejectedIdentifier");
	acme_resp_clear(&r);
	/* an IP identifier (RFC 8738): no dns-01 */
	T.s.allow_private_addresses = 1;
	post(k_a, kid, "/new-order",
	    "{\"identifiers\":[{\"type\":\"ip\",\"value\":\"192.0.2.1\"}]}",
	    &r);
	T.s.allow_private_addresses = 0;
	expect_status(&r, 201);
	post(k_a, kid,
	    rel(json_string_value(
	        json_array_get(json_object_get(r.json, "authorizations"), 0))),
	    NULL, &a);
	assert_string_equal(
	    jstr(json_object_get(a.json, "identifier"), "type"), "ip");
	assert_int_equal(
	    json_array_size(json_object_get(a.json, "challenges")), 2);
	json_array_foreach(json_object_get(a.json, "challenges"), i, ch)
		assert_string_not_equal(jstr(ch, "type"), "dns-01");
	acme_resp_clear(&a);
	acme_resp_clear(&r);

	/* without dns-01 a wildcard cannot be validated here */
	T.s.chall_types = ACME_CHALL_HTTP01;
	post(k_a, kid, "/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"*.example.org\"},"
	    "{\"type\":\"dns\",\"value\":\"example.org\"}]}",
	    &r);
	expect_prob(&r, 400, "rejectedIdentifier");
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "subproblems")), 1);
	assert_string_equal(
	    jstr(json_object_get(
	             json_array_get(json_object_get(r.json, "subproblems"), 0),
	             "identifier"),
	        "value"),
	    "*.example.org");
	acme_resp_clear(&r);

	/* bad orders */
	post(k_a, kid, "/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"bad..name\"}]}",
	    &r);
	expect_prob(&r, 400, "rejectedIdentifier");
	acme_resp_clear(&r);
	post(k_a, kid, "/new-order", "{\"identifiers\":[]}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	post(k_a, kid, "/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}],"
	    "\"notAfter\":\"2030-01-01T00:00:00Z\"}",
	    &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	post(k_a, kid, "/new-order", NULL, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* 3 good orders made before the chall_types change, none after */
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM orders", NULL, 0), 3);
}

static void
make_orders(const char *kid, int n)
{
	for (int i = 0; i < n; i++) {
		char name[64];
		const char *names[] = {name};
		struct acme_resp r;

		snprintf(name, sizeof(name), "o%d.example.com", i);
		new_order(k_a, kid, names, 1, &r);
		acme_resp_clear(&r);
	}
}

static void
test_orders_paging(void **state)
{
	struct acme_resp r;
	char kid[512], kid_b[512], orders[600], next[600], want[600];
	json_t *arr, *rows;

	(void)state;
	new_account(k_a, kid);
	make_orders(kid, 51);
	snprintf(orders, sizeof(orders), "%s/orders", kid);
	post(k_a, kid, rel(orders), NULL, &r);
	expect_status(&r, 200);
	arr = json_object_get(r.json, "orders");
	assert_int_equal(json_array_size(arr), 50);
	rows = acme_db_all(T.db, "SELECT oid FROM orders ORDER BY id", NULL);
	assert_int_equal(json_array_size(rows), 51);
	for (size_t i = 0; i < 50; i++) {
		snprintf(want, sizeof(want), BASE "/order/%s",
		    acme_row_str(json_array_get(rows, i), "oid"));
		assert_string_equal(
		    json_string_value(json_array_get(arr, i)), want);
	}
	assert_true(has_link(&r, "next", NULL));
	link_target(&r, "next", next, sizeof(next));
	assert_memory_equal(next, orders, strlen(orders));
	assert_non_null(strstr(next, "?cursor="));
	acme_resp_clear(&r);

	/* the second page: signed for the list resource */
	post_full(k_a, kid, rel(next), orders, NULL, NULL, &r);
	expect_status(&r, 200);
	arr = json_object_get(r.json, "orders");
	assert_int_equal(json_array_size(arr), 1);
	snprintf(want, sizeof(want), BASE "/order/%s",
	    acme_row_str(json_array_get(rows, 50), "oid"));
	assert_string_equal(json_string_value(json_array_get(arr, 0)), want);
	assert_false(has_link(&r, "next", NULL));
	acme_resp_clear(&r);
	json_decref(rows);

	/* exactly 50: no next page */
	new_account(k_b, kid_b);
	snprintf(orders, sizeof(orders), "%s/orders", kid_b);
	post(k_b, kid_b, rel(orders), NULL, &r);
	expect_status(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "orders")), 0);
	acme_resp_clear(&r);
	/* and nobody reads another account's list */
	snprintf(orders, sizeof(orders), "%s/orders", kid);
	post(k_b, kid_b, rel(orders), NULL, &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
}

/*
 * RFC 8555 §6.4: the JWS "url" is the URL the request goes to. A client
 * following the orders list's Link rel="next" signs that URL, query
 * included; the server must accept it.
 */
static void
test_orders_next_full_url(void **state)
{
	struct acme_resp r;
	char kid[512], orders[600], next[600];

	(void)state;
	new_account(k_a, kid);
	make_orders(kid, 51);
	snprintf(orders, sizeof(orders), "%s/orders", kid);
	post(k_a, kid, rel(orders), NULL, &r);
	link_target(&r, "next", next, sizeof(next));
	acme_resp_clear(&r);
	post_full(k_a, kid, rel(next), next, NULL, NULL, &r);
	expect_status(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "orders")), 1);
	acme_resp_clear(&r);
}

static void
test_validation_failed(void **state)
{
	const char *const names[] = {"bad.example.com", "ok.example.com"};
	struct acme_resp r;
	struct acme_problem prob = {0};
	char kid[512], order_url[512], az[600], chall[600], other[600];
	json_t *row, *err, *sub;

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 2, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	snprintf(az, sizeof(az), "%s",
	    json_string_value(
	        json_array_get(json_object_get(r.json, "authorizations"), 0)));
	acme_resp_clear(&r);
	assert_true(find_chall(k_a, kid, az, "http-01", chall, sizeof(chall)));
	assert_true(find_chall(k_a, kid, az, "dns-01", other, sizeof(other)));
	respond_chall(k_a, kid, chall, &r);
	acme_resp_clear(&r);

	acme_problem_set(&prob, 403, "incorrectResponse",
	    "http://bad.example.com/.well-known/acme-challenge/x: wrong "
	    "key authorization");
	assert_int_equal(run_validations(&prob), 1);
	acme_problem_clear(&prob);

	/* challenge invalid with its error */
	row = row_by_url("SELECT * FROM challenges WHERE cid = ?", chall);
	assert_string_equal(acme_row_str(row, "status"), "invalid");
	err = json_loads(acme_row_str(row, "error"), 0, NULL);
	assert_non_null(err);
	assert_string_equal(
	    jstr(err, "type"), "urn:ietf:params:acme:error:incorrectResponse");
	json_decref(err);
	json_decref(row);
	post(k_a, kid, rel(chall), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "invalid");
	assert_non_null(strstr(jstr(json_object_get(r.json, "error"), "detail"),
	    "wrong key authorization"));
	acme_resp_clear(&r);

	/* authorization invalid */
	post(k_a, kid, rel(az), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "invalid");
	acme_resp_clear(&r);

	/* order invalid with an error document naming the identifier */
	post(k_a, kid, rel(order_url), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "invalid");
	err = json_object_get(r.json, "error");
	assert_true(json_is_object(err));
	assert_string_equal(
	    jstr(err, "type"), "urn:ietf:params:acme:error:unauthorized");
	assert_int_equal(
	    json_integer_value(json_object_get(err, "status")), 403);
	sub = json_array_get(json_object_get(err, "subproblems"), 0);
	assert_non_null(sub);
	assert_string_equal(
	    jstr(sub, "type"), "urn:ietf:params:acme:error:incorrectResponse");
	assert_string_equal(jstr(json_object_get(sub, "identifier"), "value"),
	    "bad.example.com");
	acme_resp_clear(&r);

	/* nothing restarts on the dead authorization, nothing finalizes */
	respond_chall(k_a, kid, other, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " state = 'queued'",
	                     NULL, 0),
	    0);
	finalize(k_a, kid, order_url, names, 2, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM audit WHERE"
	                          " event = 'challenge.invalid'",
	                     NULL, 0),
	    1);
}

static void
test_bad_nonce(void **state)
{
	const char *pl =
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"n.example\"}]}";
	struct acme_resp r;
	char kid[512], n[ACME_NONCE_LEN + 1], *body;

	(void)state;
	new_account(k_a, kid);
	acme_nonce_issue(T.nonces, n);
	post_full(k_a, kid, "/new-order", NULL, n, pl, &r);
	expect_status(&r, 201);
	acme_resp_clear(&r);
	/* replayed */
	post_full(k_a, kid, "/new-order", NULL, n, pl, &r);
	expect_prob(&r, 400, "badNonce");
	assert_non_null(
	    strstr(detail(&r), "JWS has an invalid anti-replay nonce"));
	assert_true(has_link(&r, "index", BASE "/directory"));
	acme_resp_clear(&r);
	/* made up */
	post_full(
	    k_a, kid, "/new-order", NULL, "AAAAAAAAAAAAAAAAAAAAAA", pl, &r);
	expect_prob(&r, 400, "badNonce");
	acme_resp_clear(&r);
	/* missing */
	body = at_jws(k_a, kid, NULL, BASE "/new-order", pl);
	handle("POST", "/new-order", JOSE, body, &r);
	free(body);
	expect_prob(&r, 400, "badNonce");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM orders", NULL, 0), 1);

	/* a request that fails its signature check does not spend the
	 * nonce: the client can retry with it */
	acme_nonce_issue(T.nonces, n);
	post_full(k_b, kid, "/new-order", NULL, n, pl, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	post_full(k_a, kid, "/new-order", NULL, n, pl, &r);
	expect_status(&r, 201);
	acme_resp_clear(&r);
}

static void
test_url_mismatch(void **state)
{
	const char *pl =
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"u.example\"}]}";
	struct acme_resp r;
	char kid[512];

	(void)state;
	new_account(k_a, kid);
	post_full(k_a, kid, "/new-order", BASE "/new-account", NULL, pl, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	post_full(k_a, kid, "/new-order", "https://evil.test/new-order", NULL,
	    pl, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	post_full(
	    k_a, kid, "/new-order", "http://acme.test/new-order", NULL, pl, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	post_full(
	    k_a, NULL, "/new-account", BASE "/new-account/", NULL, "{}", &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM orders", NULL, 0), 0);
}

static void
test_revoke_by_account(void **state)
{
	const char *const names[] = {"rev.example.com"};
	const char *const stranger[] = {"stranger.example.com"};
	struct acme_resp r;
	struct acme_job job;
	char kid[512], kid_b[512], order_url[512], *pem, *pl, *alien;
	json_t *row;
	long long cert_id;

	(void)state;
	new_account(k_a, kid);
	new_account(k_b, kid_b);
	pem = issue_cert(k_a, kid, names, 1, 1001, order_url);
	row = acme_db_one(T.db, "SELECT id FROM certificates", NULL);
	cert_id = acme_row_int(row, "id");
	json_decref(row);

	/* refused: bad reason, another account, a certificate not ours */
	pl = revoke_payload(pem, 7);
	post(k_a, kid, "/revoke-cert", pl, &r);
	expect_prob(&r, 400, "badRevocationReason");
	acme_resp_clear(&r);
	free(pl);
	pl = revoke_payload(pem, 4);
	post(k_b, kid_b, "/revoke-cert", pl, &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
	/* (revocation finds a certificate by serial and key) */
	alien = at_cert_pem(k_cert, stranger, 1, 1002, T.now, T.now + 86400);
	{
		char *apl = revoke_payload(alien, -1);
		post(k_a, kid, "/revoke-cert", apl, &r);
		expect_prob(&r, 404, "malformed");
		acme_resp_clear(&r);
		free(apl);
	}
	free(alien);
	post(k_a, kid, "/revoke-cert", "{\"certificate\":\"!!\"}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'revoke'",
	                     NULL, 0),
	    0);

	/* by the account: revoked at once, the job carries it to the CA */
	post(k_a, kid, "/revoke-cert", pl, &r);
	expect_status(&r, 200);
	assert_null(r.json);
	assert_int_equal(r.kick, 1);
	assert_int_equal(r.wait, ACME_WAIT_JOB);
	row =
	    acme_db_one(T.db, "SELECT * FROM jobs WHERE kind = 'revoke'", NULL);
	assert_non_null(row);
	assert_int_equal(acme_row_int(row, "ref"), cert_id);
	assert_int_equal(acme_row_int(row, "arg"), 4);
	assert_string_equal(acme_row_str(row, "state"), "queued");
	assert_int_equal(r.wait_id, acme_row_int(row, "id"));
	json_decref(row);
	row = acme_db_one(
	    T.db, "SELECT * FROM certificates WHERE id = ?", "i", cert_id);
	assert_string_equal(acme_row_str(row, "status"), "revoking");
	assert_int_equal(acme_row_int(row, "revoke_reason"), 4);
	json_decref(row);
	assert_int_equal(db_count("SELECT count(*) AS n FROM audit WHERE"
	                          " event = 'certificate.revoke'",
	                     NULL, 0),
	    1);
	/* finding 8: no 200 before SCM confirmed; at the deadline 503 +
	 * Retry-After */
	assert_int_equal(acme_wait_poll(T.ctx, &r, T.now, 0), 0);
	assert_int_equal(acme_wait_poll(T.ctx, &r, T.now, 1), 1);
	expect_prob(&r, 503, "serverInternal");
	assert_true(r.retry_after > 0);
	acme_resp_clear(&r);
	/* the same request again waits for the same job (no second one) */
	post(k_a, kid, "/revoke-cert", pl, &r);
	assert_int_equal(r.wait, ACME_WAIT_JOB);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'revoke'",
	                     NULL, 0),
	    1);
	/* the deferred reply waits for the job, then succeeds */
	assert_int_equal(acme_wait_poll(T.ctx, &r, T.now, 0), 0);
	assert_int_equal(due_jobs("revoke", &job, 1), 1);
	assert_int_equal(acme_state_revoke_done(T.db, &job, 1, NULL, T.now), 0);
	assert_int_equal(acme_wait_poll(T.ctx, &r, T.now, 0), 1);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	row = acme_db_one(
	    T.db, "SELECT * FROM certificates WHERE id = ?", "i", cert_id);
	assert_string_equal(acme_row_str(row, "status"), "revoked");
	json_decref(row);

	/* again: already revoked, no second job */
	post(k_a, kid, "/revoke-cert", pl, &r);
	expect_prob(&r, 400, "alreadyRevoked");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'revoke'",
	                     NULL, 0),
	    1);
	free(pl);
	free(pem);
}

static void
test_revoke_refused_by_ca(void **state)
{
	const char *const names[] = {"refused.example.com"};
	struct acme_resp r;
	struct acme_job job;
	char kid[512], order_url[512], *pem, *pl;
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	pem = issue_cert(k_a, kid, names, 1, 77, order_url);
	pl = revoke_payload(pem, -1);
	post(k_a, kid, "/revoke-cert", pl, &r);
	expect_status(&r, 200);
	assert_int_equal(due_jobs("revoke", &job, 1), 1);
	assert_int_equal(acme_state_revoke_done(T.db, &job, 0,
	                     "SCM: certificate already expired", T.now),
	    0);
	assert_int_equal(acme_wait_poll(T.ctx, &r, T.now, 0), 1);
	expect_prob(&r, 500, "serverInternal");
	assert_non_null(strstr(detail(&r), "certificate already expired"));
	acme_resp_clear(&r);
	row = acme_db_one(T.db, "SELECT status FROM certificates", NULL);
	assert_string_equal(acme_row_str(row, "status"), "valid");
	json_decref(row);
	free(pl);
	free(pem);
}

static void
test_revoke_by_cert_key(void **state)
{
	const char *const names[] = {"key.example.com"};
	struct acme_resp r;
	char kid[512], order_url[512], *pem, *pl;
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	pem = issue_cert(k_a, kid, names, 1, 555, order_url);
	pl = revoke_payload(pem, 1);
	/* a jwk that is not the certificate's key */
	post(k_other, NULL, "/revoke-cert", pl, &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
	/* the certificate's own key, no account */
	post(k_cert, NULL, "/revoke-cert", pl, &r);
	expect_status(&r, 200);
	assert_int_equal(r.wait, ACME_WAIT_JOB);
	acme_resp_clear(&r);
	row = acme_db_one(T.db, "SELECT * FROM certificates", NULL);
	assert_string_equal(acme_row_str(row, "status"), "revoking");
	assert_int_equal(acme_row_int(row, "revoke_reason"), 1);
	json_decref(row);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'revoke' AND arg = 1",
	                     NULL, 0),
	    1);
	/* no account was made for the certificate key */
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM accounts", NULL, 0), 1);
	free(pl);
	free(pem);
}

/* DER TLV builder for the forged certificate below: appends tag, length
 * and content to buf at *off. */
static void
der_put(unsigned char *buf, size_t *off, unsigned char tag,
    const unsigned char *val, size_t len)
{
	buf[(*off)++] = tag;
	if (len < 0x80) {
		buf[(*off)++] = (unsigned char)len;
	} else {
		buf[(*off)++] = 0x82;
		buf[(*off)++] = (unsigned char)(len >> 8);
		buf[(*off)++] = (unsigned char)len;
	}
	if (len > 0)
		memcpy(buf + *off, val, len);
	*off += len;
}

/* The review's finding 1: a DER skeleton that carries the victim's serial
 * and public key (both public) and, as the content of its issuer Name,
 * the PEM text of a certificate for the attacker's key. The DER walker
 * reads the victim's facts; a PEM reader on the same bytes would read the
 * attacker's certificate. Returns base64url; caller frees. */
static char *
forged_cert_b64(const char *victim_pem, EVP_PKEY *attacker)
{
	const char *const names[] = {"attacker.example.net"};
	static const unsigned char version[] = {0x02, 0x01, 0x02};
	static const unsigned char times[] = "\x17\x0d"
	                                     "250101000000Z"
	                                     "\x17\x0d"
	                                     "350101000000Z";
	static const unsigned char sig[] = {0x00, 0x01, 0x02};
	char *own =
	    at_cert_pem(attacker, names, 1, 4242, T.now - 60, T.now + 86400);
	char *vder_b64 = at_cert_der_b64(victim_pem), *out;
	unsigned char *vder, *tbs, *cert, *serial = NULL, *spki = NULL,
	                                  *alg = NULL;
	const unsigned char *vp;
	size_t vlen, tlen = 0, clen = 0, issuer_len;
	int sl, kl, al;
	X509 *victim;
	char issuer[4096];

	vder = b64url_decode_alloc(vder_b64, strlen(vder_b64), &vlen);
	assert_non_null(vder);
	vp = vder;
	victim = d2i_X509(NULL, &vp, (long)vlen);
	assert_non_null(victim);
	sl = i2d_ASN1_INTEGER(X509_get_serialNumber(victim), &serial);
	kl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(victim), &spki);
	al = i2d_X509_ALGOR(X509_get0_tbs_sigalg(victim), &alg);
	assert_true(sl > 0 && kl > 0 && al > 0);
	issuer_len = (size_t)snprintf(issuer, sizeof(issuer), "\n%s\n", own);
	assert_true(issuer_len < sizeof(issuer));

	tbs = malloc(8192);
	cert = malloc(8192);
	assert_non_null(tbs);
	assert_non_null(cert);
	der_put(tbs, &tlen, 0xa0, version, sizeof(version));
	memcpy(tbs + tlen, serial, (size_t)sl);
	tlen += (size_t)sl;
	memcpy(tbs + tlen, alg, (size_t)al);
	tlen += (size_t)al;
	der_put(tbs, &tlen, 0x30, (const unsigned char *)issuer, issuer_len);
	der_put(tbs, &tlen, 0x30, times, sizeof(times) - 1);
	der_put(tbs, &tlen, 0x30, NULL, 0); /* subject */
	memcpy(tbs + tlen, spki, (size_t)kl);
	tlen += (size_t)kl;

	der_put(cert + 8, &clen, 0x30, tbs, tlen);
	memcpy(cert + 8 + clen, alg, (size_t)al);
	clen += (size_t)al;
	der_put(cert + 8, &clen, 0x03, sig, sizeof(sig));
	{
		size_t olen = 0;
		unsigned char *outer = malloc(clen + 8);

		assert_non_null(outer);
		der_put(outer, &olen, 0x30, cert + 8, clen);
		out = b64url_encode_alloc(outer, olen);
		free(outer);
	}
	assert_non_null(out);
	OPENSSL_free(serial);
	OPENSSL_free(spki);
	OPENSSL_free(alg);
	X509_free(victim);
	free(vder);
	free(vder_b64);
	free(own);
	free(tbs);
	free(cert);
	return out;
}

/* Finding 1: nobody can revoke a certificate with a forged one; the
 * owner's revocation still works afterwards. */
static void
test_revoke_forgery(void **state)
{
	const char *const names[] = {"victim.example.com"};
	struct acme_resp r;
	char kid[512], order_url[512], *pem, *forged, *pl;
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	pem = issue_cert(k_a, kid, names, 1, 9001, order_url);
	forged = forged_cert_b64(pem, k_other);
	pl = NULL;
	{
		json_t *o =
		    json_pack("{s:s, s:i}", "certificate", forged, "reason", 1);

		pl = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	/* no account, the attacker's key in the JWS */
	post(k_other, NULL, "/revoke-cert", pl, &r);
	assert_int_not_equal(r.status, 200);
	expect_prob(&r, 404, "malformed");
	acme_resp_clear(&r);
	/* and signed by an account that does not own the certificate */
	{
		char kid_b[512];

		new_account(k_b, kid_b);
		post(k_b, kid_b, "/revoke-cert", pl, &r);
		assert_int_not_equal(r.status, 200);
		acme_resp_clear(&r);
	}
	row = acme_db_one(T.db, "SELECT status FROM certificates", NULL);
	assert_string_equal(acme_row_str(row, "status"), "valid");
	json_decref(row);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'revoke'",
	                     NULL, 0),
	    0);
	free(pl);
	/* the genuine certificate with trailing bytes is refused too */
	{
		char *b64 = at_cert_der_b64(pem), *jpl;
		size_t dl;
		unsigned char *d = b64url_decode_alloc(b64, strlen(b64), &dl);
		unsigned char *d2 = malloc(dl + 2);
		char *b2;
		json_t *o;

		memcpy(d2, d, dl);
		d2[dl] = 0x05;
		d2[dl + 1] = 0x00;
		b2 = b64url_encode_alloc(d2, dl + 2);
		o = json_pack("{s:s}", "certificate", b2);
		jpl = json_dumps(o, JSON_COMPACT);
		post(k_cert, NULL, "/revoke-cert", jpl, &r);
		assert_int_not_equal(r.status, 200);
		acme_resp_clear(&r);
		json_decref(o);
		free(jpl);
		free(b2);
		free(d2);
		free(d);
		free(b64);
	}
	/* the owner still can */
	pl = revoke_payload(pem, 1);
	post(k_a, kid, "/revoke-cert", pl, &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	row = acme_db_one(T.db, "SELECT status FROM certificates", NULL);
	assert_string_equal(acme_row_str(row, "status"), "revoking");
	json_decref(row);
	free(pl);
	free(forged);
	free(pem);
}

/* RFC 8555 §7.6: an account holding valid authorizations for every name
 * of the certificate may revoke it; reasons SCM cannot carry are
 * refused. */
static void
test_revoke_by_authz_holder(void **state)
{
	const char *const names[] = {"held.example.com", "more.example.com"};
	const char *const first[] = {"held.example.com"};
	const char *const second[] = {"more.example.com"};
	struct acme_resp r;
	char kid[512], kid_b[512], order_url[512], *pem, *pl;
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	new_account(k_b, kid_b);
	pem = issue_cert(k_a, kid, names, 2, 3003, order_url);
	/* reasons SCM cannot carry: refused, never sent as another one */
	for (int reason = 2; reason <= 10; reason++) {
		if (reason == 3 || reason == 4 || reason == 5)
			continue;
		pl = revoke_payload(pem, reason);
		post(k_a, kid, "/revoke-cert", pl, &r);
		expect_prob(&r, 400, "badRevocationReason");
		acme_resp_clear(&r);
		free(pl);
	}
	/* b holds an authorization for one name only: refused */
	new_order(k_b, kid_b, first, 1, &r);
	validate_order(k_b, kid_b, &r, "http-01");
	acme_resp_clear(&r);
	pl = revoke_payload(pem, 5);
	post(k_b, kid_b, "/revoke-cert", pl, &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
	row = acme_db_one(T.db, "SELECT status FROM certificates", NULL);
	assert_string_equal(acme_row_str(row, "status"), "valid");
	json_decref(row);
	/* with the second name validated too, b may revoke */
	new_order(k_b, kid_b, second, 1, &r);
	validate_order(k_b, kid_b, &r, "http-01");
	acme_resp_clear(&r);
	post(k_b, kid_b, "/revoke-cert", pl, &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	row = acme_db_one(
	    T.db, "SELECT status, revoke_reason FROM certificates", NULL);
	assert_string_equal(acme_row_str(row, "status"), "revoking");
	assert_int_equal(acme_row_int(row, "revoke_reason"), 5);
	json_decref(row);
	free(pl);
	free(pem);
}

/* keyChange payload: the inner JWS (jwk = new key, no nonce) over
 * {"account", "oldKey"}; caller frees. */
static char *
key_change_inner(EVP_PKEY *newkey, const char *account, EVP_PKEY *oldkey,
    const char *nonce, const char *url)
{
	json_t *pl = json_pack("{s:s, s:o}", "account", account, "oldKey",
	    acme_jwk_from_pkey(oldkey));
	char *pls = json_dumps(pl, JSON_COMPACT), *inner;

	assert_non_null(pls);
	inner = at_jws(newkey, NULL, nonce, url, pls);
	free(pls);
	json_decref(pl);
	return inner;
}

/* POST through the front end's path: the key cache checks the signature
 * first (as a worker does), the engine gets what it verified. Returns
 * whether the cache verified it. */
static int
post_presigned(EVP_PKEY *key, const char *kid, const char *path,
    const char *payload, struct acme_resp *resp)
{
	char u[1024], n[ACME_NONCE_LEN + 1];
	struct acme_problem p = {0};
	struct acme_presig ps;
	struct acme_jws jws;
	char *body;
	int pre;

	snprintf(u, sizeof(u), "%s%s", BASE, path);
	acme_nonce_issue(T.nonces, n);
	body = at_jws(key, kid, n, u, payload);
	assert_int_equal(acme_jws_parse(body, strlen(body), &jws, &p), 0);
	pre = acme_keycache_preverify(T.s.keys, &jws, &ps);
	acme_jws_free(&jws);
	{
		struct acme_req req = {
		    .method = "POST",
		    .path = path,
		    .content_type = JOSE,
		    .body = body,
		    .body_len = strlen(body),
		    .now = T.now,
		    .presig = pre ? &ps : NULL,
		};
		acme_handle(T.ctx, &req, resp);
	}
	if (pre)
		acme_presig_clear(&ps);
	free(body);
	return pre;
}

/* Signatures checked by the front end: only for a key the engine saw for
 * that account, only a signature that holds, and never once the account
 * has another key. */
static void
test_keycache_presig(void **state)
{
	struct acme_resp r;
	struct acme_presig ps;
	struct acme_problem p = {0};
	struct acme_jws jws;
	char kid[512], path[600], *inner, *body;

	(void)state;
	T.s.keys = acme_keycache_new(64);
	assert_non_null(T.s.keys);
	new_account(k_a, kid);
	snprintf(path, sizeof(path), "%s", rel(kid));
	/* the first request by kid: not known yet, the engine checks */
	assert_int_equal(post_presigned(k_a, kid, path, NULL, &r), 0);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	/* now the front end can check, and the engine accepts */
	assert_int_equal(post_presigned(k_a, kid, path, NULL, &r), 1);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	/* a signature by another key does not pass the cache, and the
	 * engine refuses it itself */
	assert_int_equal(post_presigned(k_b, kid, path, NULL, &r), 0);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* an unknown kid is not in the cache */
	body = at_jws(k_a, BASE "/acct/nope", "n", BASE "/acct/nope", NULL);
	assert_int_equal(acme_jws_parse(body, strlen(body), &jws, &p), 0);
	assert_int_equal(acme_keycache_preverify(T.s.keys, &jws, &ps), 0);
	assert_null(ps.key);
	acme_jws_free(&jws);
	free(body);

	/* key change: the cached (old) key no longer speaks for the
	 * account, even with a presig the front end made with it */
	inner = key_change_inner(k_new, kid, k_a, NULL, BASE "/key-change");
	post(k_a, kid, "/key-change", inner, &r);
	free(inner);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	assert_int_equal(post_presigned(k_a, kid, path, NULL, &r), 1);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* that refusal loaded the account's new key into the cache */
	assert_int_equal(post_presigned(k_new, kid, path, NULL, &r), 1);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	acme_keycache_free(T.s.keys);
	T.s.keys = NULL;
}

static void
test_key_change(void **state)
{
	struct acme_resp r;
	char kid[512], kid_b[512], *inner, canon_new[512], thumb[44];
	json_t *row, *jwk;

	(void)state;
	new_account(k_a, kid);
	new_account(k_b, kid_b);

	/* refused: wrong oldKey, a nonce inside, another url, a key in use */
	inner = key_change_inner(k_new, kid, k_other, NULL, BASE "/key-change");
	post(k_a, kid, "/key-change", inner, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	free(inner);
	inner = key_change_inner(
	    k_new, kid, k_a, "AAAAAAAAAAAAAAAAAAAAAA", BASE "/key-change");
	post(k_a, kid, "/key-change", inner, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	free(inner);
	inner = key_change_inner(k_new, kid, k_a, NULL, BASE "/new-order");
	post(k_a, kid, "/key-change", inner, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	free(inner);
	inner = key_change_inner(k_new, kid_b, k_a, NULL, BASE "/key-change");
	post(k_a, kid, "/key-change", inner, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	free(inner);
	inner = key_change_inner(k_b, kid, k_a, NULL, BASE "/key-change");
	post(k_a, kid, "/key-change", inner, &r);
	/* 409 with the holder's URL; "conflict" is no registered type */
	expect_prob(&r, 409, "malformed");
	assert_string_equal(r.location, kid_b);
	acme_resp_clear(&r);
	free(inner);
	row = account_row(kid);
	jwk = acme_jwk_from_pkey(k_a);
	assert_int_equal(acme_jwk_thumbprint(jwk, thumb), 0);
	assert_string_equal(acme_row_str(row, "thumbprint"), thumb);
	json_decref(jwk);
	json_decref(row);

	/* the rollover */
	inner = key_change_inner(k_new, kid, k_a, NULL, BASE "/key-change");
	post(k_a, kid, "/key-change", inner, &r);
	expect_status(&r, 200);
	assert_string_equal(r.location, kid);
	acme_resp_clear(&r);
	free(inner);
	jwk = acme_jwk_from_pkey(k_new);
	assert_int_equal(acme_jwk_thumbprint(jwk, thumb), 0);
	{
		char *c = acme_jwk_canonical(jwk);
		snprintf(canon_new, sizeof(canon_new), "%s", c);
		free(c);
	}
	json_decref(jwk);
	row = account_row(kid);
	assert_string_equal(acme_row_str(row, "thumbprint"), thumb);
	assert_string_equal(acme_row_str(row, "jwk"), canon_new);
	json_decref(row);
	assert_int_equal(db_count("SELECT count(*) AS n FROM audit WHERE"
	                          " event = 'account.keychange'",
	                     NULL, 0),
	    1);

	/* the old key no longer signs for the account; the new one does */
	post(k_a, kid, rel(kid), NULL, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	post(k_new, kid, rel(kid), NULL, &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	post(k_new, NULL, "/new-account", "{\"onlyReturnExisting\":true}", &r);
	expect_status(&r, 200);
	assert_string_equal(r.location, kid);
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-account", "{\"onlyReturnExisting\":true}", &r);
	expect_prob(&r, 400, "accountDoesNotExist");
	acme_resp_clear(&r);
}

static void
test_deactivate(void **state)
{
	const char *const names[] = {"d.example.com"};
	struct acme_resp r;
	char kid[512], kid_b[512];
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	new_account(k_b, kid_b);
	new_order(k_a, kid, names, 1, &r);
	acme_resp_clear(&r);

	/* the only status a client may set is "deactivated" */
	post(k_a, kid, rel(kid), "{\"status\":\"valid\"}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* contact update */
	post(k_a, kid, rel(kid), "{\"contact\":[\"mailto:new@example.com\"]}",
	    &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	row = account_row(kid);
	assert_string_equal(
	    acme_row_str(row, "contact"), "[\"mailto:new@example.com\"]");
	json_decref(row);
	/* not another account's */
	post(k_b, kid_b, rel(kid), "{\"status\":\"deactivated\"}", &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);

	post(k_a, kid, rel(kid), "{\"status\":\"deactivated\"}", &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "deactivated");
	acme_resp_clear(&r);
	row = account_row(kid);
	assert_string_equal(acme_row_str(row, "status"), "deactivated");
	json_decref(row);
	/* its pending authorizations go with it (RFC 8555 §7.3.6) */
	assert_int_equal(db_count("SELECT count(*) AS n FROM authzs WHERE"
	                          " status = 'deactivated'",
	                     NULL, 0),
	    1);
	assert_int_equal(db_count("SELECT count(*) AS n FROM audit WHERE"
	                          " event = 'account.deactivated'",
	                     NULL, 0),
	    1);

	/* later requests: 401 unauthorized */
	post(k_a, kid, "/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"x.example\"}]}",
	    &r);
	expect_prob(&r, 401, "unauthorized");
	assert_non_null(strstr(detail(&r), "deactivated"));
	acme_resp_clear(&r);
	post(k_a, kid, rel(kid), NULL, &r);
	expect_prob(&r, 401, "unauthorized");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM orders", NULL, 0), 1);
	/* the other account is untouched */
	post(k_b, kid_b, rel(kid_b), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "valid");
	acme_resp_clear(&r);
}

/*
 * RFC 8555 §7.3.6: once deactivated, the server must not accept further
 * requests authorized by the account's key, newAccount included: the
 * client is told, not handed back the account as if it could be used.
 */
static void
test_deactivated_key_new_account(void **state)
{
	struct acme_resp r;
	char kid[512];

	(void)state;
	new_account(k_a, kid);
	post(k_a, kid, rel(kid), "{\"status\":\"deactivated\"}", &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	/* Boulder and Pebble answer 403; this server's other "account is
	 * deactivated" answers are 401: either is fine, the type is not */
	post(k_a, NULL, "/new-account", "{\"termsOfServiceAgreed\":true}", &r);
	expect_prob(&r, r.status == 403 ? 403 : 401, "unauthorized");
	assert_string_equal(r.location, "");
	acme_resp_clear(&r);
	post(k_a, NULL, "/new-account", "{\"onlyReturnExisting\":true}", &r);
	expect_prob(&r, r.status == 403 ? 403 : 401, "unauthorized");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM accounts", NULL, 0), 1);
}

static void
test_authz_reuse(void **state)
{
	const char *const names[] = {"reuse.example.com"};
	struct acme_resp r;
	char kid[512], kid_b[512], az1[600];

	(void)state;
	new_account(k_a, kid);
	new_account(k_b, kid_b);
	new_order(k_a, kid, names, 1, &r);
	snprintf(az1, sizeof(az1), "%s",
	    json_string_value(
	        json_array_get(json_object_get(r.json, "authorizations"), 0)));
	validate_order(k_a, kid, &r, "http-01");
	acme_resp_clear(&r);

	/* a second order for the same name: ready at once, same authz */
	T.now += 3600;
	new_order(k_a, kid, names, 1, &r);
	assert_string_equal(jstr(r.json, "status"), "ready");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(r.json, "authorizations"), 0)),
	    az1);
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM authzs", NULL, 0), 1);
	assert_int_equal(db_count("SELECT count(*) AS n FROM orders WHERE"
	                          " status = 'ready'",
	                     NULL, 0),
	    2);

	/* not across accounts */
	new_order(k_b, kid_b, names, 1, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	acme_resp_clear(&r);
	/* not for the wildcard of the name */
	{
		const char *const wc[] = {"*.reuse.example.com"};
		new_order(k_a, kid, wc, 1, &r);
		assert_string_equal(jstr(r.json, "status"), "pending");
		acme_resp_clear(&r);
	}
	/* not when reuse is off */
	T.s.authz_reuse = 0;
	new_order(k_a, kid, names, 1, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	acme_resp_clear(&r);
	/* not once the authorization expired */
	T.s.authz_reuse = REUSE;
	T.now = NOW0 + REUSE + 1;
	new_order(k_a, kid, names, 1, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	acme_resp_clear(&r);
}

static void
test_order_expiry(void **state)
{
	const char *const names[] = {"exp.example.com"};
	const char *const names2[] = {"exp2.example.com"};
	struct acme_resp r;
	char kid[512], pending_url[512], ready_url[512];
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 1, &r);
	snprintf(pending_url, sizeof(pending_url), "%s", r.location);
	acme_resp_clear(&r);
	new_order(k_a, kid, names2, 1, &r);
	snprintf(ready_url, sizeof(ready_url), "%s", r.location);
	validate_order(k_a, kid, &r, "dns-01");
	acme_resp_clear(&r);

	/* still inside the lifetime */
	T.now = NOW0 + LIFETIME;
	post(k_a, kid, rel(pending_url), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	acme_resp_clear(&r);

	T.now = NOW0 + LIFETIME + 1;
	post(k_a, kid, rel(pending_url), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "invalid");
	/* the client did nothing wrong: no (malformed) error */
	assert_null(json_object_get(r.json, "error"));
	acme_resp_clear(&r);
	/* a read does not write: the status is computed */
	row = order_row(pending_url);
	assert_string_equal(acme_row_str(row, "status"), "pending");
	assert_false(json_is_string(json_object_get(row, "error")));
	json_decref(row);

	/* a ready order expires too, and cannot be finalized */
	finalize(k_a, kid, ready_url, names2, 1, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);
	post(k_a, kid, rel(ready_url), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "invalid");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll'",
	                     NULL, 0),
	    0);
}

static void
test_other_account(void **state)
{
	const char *const names[] = {"mine.example.com"};
	struct acme_resp r;
	char kid[512], kid_b[512], order_url[512], az[600], chall[600],
	    path[600];

	(void)state;
	new_account(k_a, kid);
	new_account(k_b, kid_b);
	new_order(k_a, kid, names, 1, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	snprintf(az, sizeof(az), "%s",
	    json_string_value(
	        json_array_get(json_object_get(r.json, "authorizations"), 0)));
	acme_resp_clear(&r);
	assert_true(find_chall(k_a, kid, az, "http-01", chall, sizeof(chall)));

	post(k_b, kid_b, rel(order_url), NULL, &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
	post(k_b, kid_b, rel(az), NULL, &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
	post(k_b, kid_b, rel(chall), "{}", &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
	snprintf(path, sizeof(path), "%s/finalize", rel(order_url));
	post(k_b, kid_b, path, "{\"csr\":\"AAAA\"}", &r);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM jobs", NULL, 0), 0);
	/* unknown ids */
	post(k_a, kid, "/order/nosuch", NULL, &r);
	expect_prob(&r, 404, "malformed");
	acme_resp_clear(&r);
	post(k_a, kid, "/authz/nosuch", NULL, &r);
	expect_prob(&r, 404, "malformed");
	acme_resp_clear(&r);
	post(k_a, kid, "/chall/nosuch", NULL, &r);
	expect_prob(&r, 404, "malformed");
	acme_resp_clear(&r);
	post(k_a, kid, "/cert/nosuch", NULL, &r);
	expect_prob(&r, 404, "malformed");
	acme_resp_clear(&r);
}

static void
test_authz_deactivate(void **state)
{
	const char *const names[] = {"ad.example.com"};
	struct acme_resp r;
	char kid[512], az[600];

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 1, &r);
	snprintf(az, sizeof(az), "%s",
	    json_string_value(
	        json_array_get(json_object_get(r.json, "authorizations"), 0)));
	acme_resp_clear(&r);
	post(k_a, kid, rel(az), "{\"status\":\"valid\"}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	post(k_a, kid, rel(az), "{\"status\":\"deactivated\"}", &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "deactivated");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM authzs WHERE"
	                          " status = 'deactivated'",
	                     NULL, 0),
	    1);
}

/* An EAB key with a limit binds that many accounts and refuses the next
 * one; without a limit a key binds any number (RFC 8555 sets none). */
static void
test_eab_max_accounts(void **state)
{
	unsigned char mac1[32], mac2[32];
	struct acme_resp r;
	char *pl;

	(void)state;
	T.s.require_eab = 1;
	add_eab_key(1, 1, mac1);
	add_eab_key(2, -1, mac2);

	pl = eab_payload(k_a, "eab-1", BASE "/new-account", mac1, 32);
	post(k_a, NULL, "/new-account", pl, &r);
	free(pl);
	expect_status(&r, 201);
	acme_resp_clear(&r);
	/* the same key again is the same account, not a second binding */
	pl = eab_payload(k_a, "eab-1", BASE "/new-account", mac1, 32);
	post(k_a, NULL, "/new-account", pl, &r);
	free(pl);
	expect_status(&r, 200);
	acme_resp_clear(&r);
	/* a second account key: the limit of 1 is reached */
	pl = eab_payload(k_b, "eab-1", BASE "/new-account", mac1, 32);
	post(k_b, NULL, "/new-account", pl, &r);
	free(pl);
	expect_prob(&r, 403, "unauthorized");
	assert_non_null(strstr(detail(&r), "eab-1"));
	assert_non_null(strstr(detail(&r), "limit"));
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM accounts WHERE"
	                          " eab_kid = 'eab-1'",
	                     NULL, 0),
	    1);
	/* a deactivated account still counts */
	assert_int_equal(
	    acme_db_exec(
	        T.db, "UPDATE accounts SET status = 'deactivated'", NULL),
	    1);
	pl = eab_payload(k_b, "eab-1", BASE "/new-account", mac1, 32);
	post(k_b, NULL, "/new-account", pl, &r);
	free(pl);
	expect_prob(&r, 403, "unauthorized");
	acme_resp_clear(&r);

	/* no limit: two accounts on one key */
	pl = eab_payload(k_b, "eab-2", BASE "/new-account", mac2, 32);
	post(k_b, NULL, "/new-account", pl, &r);
	free(pl);
	expect_status(&r, 201);
	acme_resp_clear(&r);
	pl = eab_payload(k_new, "eab-2", BASE "/new-account", mac2, 32);
	post(k_new, NULL, "/new-account", pl, &r);
	free(pl);
	expect_status(&r, 201);
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM accounts WHERE"
	                          " eab_kid = 'eab-2'",
	                     NULL, 0),
	    2);
}

/* RFC 8555 §7.3.4: the account object returned for a newAccount with a
 * valid binding carries "externalAccountBinding" as the client sent it;
 * later fetches of the account show it too; without EAB there is none. */
static void
test_eab_binding_reflected(void **state)
{
	unsigned char mac[32];
	struct acme_resp r;
	json_t *payload, *sent, *got;
	char *pl, kid[512], kid_b[512];

	(void)state;
	add_eab_key(1, -1, mac);
	pl = eab_payload(k_a, "eab-1", BASE "/new-account", mac, 32);
	payload = json_loads(pl, 0, NULL);
	sent = json_object_get(payload, "externalAccountBinding");
	assert_non_null(sent);
	post(k_a, NULL, "/new-account", pl, &r);
	free(pl);
	expect_status(&r, 201);
	snprintf(kid, sizeof(kid), "%s", r.location);
	got = json_object_get(r.json, "externalAccountBinding");
	assert_non_null(got);
	assert_true(json_equal(got, sent));
	acme_resp_clear(&r);

	post(k_a, kid, rel(kid), NULL, &r);
	expect_status(&r, 200);
	assert_true(json_equal(
	    json_object_get(r.json, "externalAccountBinding"), sent));
	acme_resp_clear(&r);
	json_decref(payload);

	new_account(k_b, kid_b);
	post(k_b, kid_b, rel(kid_b), NULL, &r);
	expect_status(&r, 200);
	assert_null(json_object_get(r.json, "externalAccountBinding"));
	acme_resp_clear(&r);
}

/* ---- RFC 8555 strictness (review 2026-12) ---------------------------- */

/* The URL of the first authorization of the order response r. */
static void
first_authz(const struct acme_resp *r, char out[600])
{
	snprintf(out, 600, "%s",
	    json_string_value(
	        json_array_get(json_object_get(r->json, "authorizations"), 0)));
}

/* §7.5.2: a deactivated authorization takes its ready order with it, in
 * one transaction with an audit record; finalize is then refused. */
static void
test_deactivate_authz_of_ready_order(void **state)
{
	const char *const names[] = {"gone.example.com", "kept.example.com"};
	struct acme_resp r;
	char kid[512], order_url[512], az[600];
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 2, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	first_authz(&r, az);
	validate_order(k_a, kid, &r, "http-01");
	acme_resp_clear(&r);
	post(k_a, kid, rel(order_url), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "ready");
	acme_resp_clear(&r);

	post(k_a, kid, rel(az), "{\"status\":\"deactivated\"}", &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "deactivated");
	acme_resp_clear(&r);
	row = order_row(order_url);
	assert_string_equal(acme_row_str(row, "status"), "invalid");
	json_decref(row);
	assert_int_equal(db_count("SELECT count(*) AS n FROM audit WHERE"
	                          " event = 'authz.deactivated'",
	                     NULL, 0),
	    1);
	finalize(k_a, kid, order_url, names, 2, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll'",
	                     NULL, 0),
	    0);
}

/* finalize re-checks every authorization inside its transaction: one that
 * lost its validity behind the order's back fails the order. */
static void
test_finalize_rechecks_authzs(void **state)
{
	const char *const names[] = {"recheck.example.com"};
	struct acme_resp r;
	char kid[512], order_url[512], az[600];
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 1, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	first_authz(&r, az);
	validate_order(k_a, kid, &r, "http-01");
	acme_resp_clear(&r);
	/* e.g. the account deactivation path: authz only, order untouched */
	assert_int_equal(acme_db_exec(T.db,
	                     "UPDATE authzs SET status = 'deactivated'", NULL),
	    1);
	finalize(k_a, kid, order_url, names, 1, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);
	row = order_row(order_url);
	assert_string_equal(acme_row_str(row, "status"), "invalid");
	json_decref(row);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll'",
	                     NULL, 0),
	    0);
}

/* A ready order that reuses a valid authorization expiring before the
 * order does: once the authorization expired it reads "expired", the
 * order "invalid", and finalize is refused. */
static void
test_finalize_expired_reused_authz(void **state)
{
	const char *const names[] = {"lapse.example.com"};
	struct acme_resp r;
	char kid[512], order_url[512], az[600];

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 1, &r);
	validate_order(k_a, kid, &r, "http-01"); /* valid until NOW0+REUSE */
	acme_resp_clear(&r);
	T.now = NOW0 + REUSE - 2 * 86400;
	new_order(k_a, kid, names, 1, &r);
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	first_authz(&r, az);
	assert_string_equal(jstr(r.json, "status"), "ready");
	acme_resp_clear(&r);

	T.now = NOW0 + REUSE + 1; /* the order lives 5 more days */
	post(k_a, kid, rel(az), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "expired");
	acme_resp_clear(&r);
	post(k_a, kid, rel(order_url), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "invalid");
	acme_resp_clear(&r);
	finalize(k_a, kid, order_url, names, 1, &r);
	expect_prob(&r, 403, "orderNotReady");
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'enroll'",
	                     NULL, 0),
	    0);
	/* an expired authorization cannot be deactivated any more */
	post(k_a, kid, rel(az), "{\"status\":\"deactivated\"}", &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "expired");
	acme_resp_clear(&r);
}

/* §7.1.6: a pending authorization past its expiry reads "expired"; a
 * challenge POST on it is refused with 403 unauthorized, not malformed,
 * and starts nothing. */
static void
test_chall_on_expired_authz(void **state)
{
	const char *const names[] = {"late.example.com"};
	struct acme_resp r;
	char kid[512], az[600], chall[600];

	(void)state;
	new_account(k_a, kid);
	new_order(k_a, kid, names, 1, &r);
	first_authz(&r, az);
	acme_resp_clear(&r);
	assert_true(find_chall(k_a, kid, az, "http-01", chall, sizeof(chall)));
	T.now = NOW0 + LIFETIME + 1;
	post(k_a, kid, rel(az), NULL, &r);
	expect_status(&r, 200);
	assert_string_equal(jstr(r.json, "status"), "expired");
	acme_resp_clear(&r);
	post(k_a, kid, rel(chall), "{}", &r);
	expect_prob(&r, 403, "unauthorized");
	assert_true(has_link(&r, "up", az));
	acme_resp_clear(&r);
	assert_int_equal(db_count("SELECT count(*) AS n FROM jobs WHERE"
	                          " kind = 'validate'",
	                     NULL, 0),
	    0);
	/* reading the challenge still works */
	post(k_a, kid, rel(chall), NULL, &r);
	expect_status(&r, 200);
	acme_resp_clear(&r);
}

/* §6.3: POST-as-GET resources take the empty payload only. */
static void
test_post_as_get_strict(void **state)
{
	const char *const names[] = {"pag.example.com"};
	struct acme_resp r;
	char kid[512], order_url[512], az[600], orders[600], *pem, cert[600];
	json_t *row;

	(void)state;
	new_account(k_a, kid);
	pem = issue_cert(k_a, kid, names, 1, 77, order_url);
	free(pem);
	row = acme_db_one(T.db, "SELECT crt_id FROM certificates", NULL);
	assert_non_null(row);
	snprintf(
	    cert, sizeof(cert), BASE "/cert/%s", acme_row_str(row, "crt_id"));
	json_decref(row);
	snprintf(orders, sizeof(orders), "%s/orders", kid);
	new_order(k_a, kid, (const char *const[]){"pag2.example.com"}, 1, &r);
	first_authz(&r, az);
	acme_resp_clear(&r);

	{
		const char *urls[] = {order_url, orders, cert, az};
		for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
			post(k_a, kid, rel(urls[i]), "{}", &r);
			expect_prob(&r, 400, "malformed");
			acme_resp_clear(&r);
			post(k_a, kid, rel(urls[i]), "{\"x\":1}", &r);
			expect_prob(&r, 400, "malformed");
			acme_resp_clear(&r);
			post(k_a, kid, rel(urls[i]), NULL, &r);
			expect_status(&r, 200);
			acme_resp_clear(&r);
		}
	}
	/* the authorization was not touched by the refused payloads */
	post(k_a, kid, rel(az), NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "pending");
	acme_resp_clear(&r);
}

/* POST-as-GET to newNonce answers like HEAD (Boulder does so too). */
static void
test_new_nonce_post_as_get(void **state)
{
	struct acme_resp r;
	char kid[512];

	(void)state;
	new_account(k_a, kid);
	post(k_a, kid, "/new-nonce", NULL, &r);
	expect_status(&r, 200);
	assert_int_equal(r.no_store, 1);
	assert_null(r.json);
	assert_null(r.allow);
	assert_true(has_link(&r, "index", BASE "/directory"));
	acme_resp_clear(&r);
	post(k_a, kid, "/new-nonce", "{}", &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	/* GET-only and POST-only resources still say which methods work */
	handle("PUT", "/new-nonce", NULL, NULL, &r);
	expect_prob(&r, 405, "malformed");
	assert_string_equal(r.allow, "GET, HEAD, POST");
	acme_resp_clear(&r);
	handle("GET", "/acct/x/orders", NULL, NULL, &r);
	expect_prob(&r, 405, "malformed");
	assert_string_equal(r.allow, "POST");
	acme_resp_clear(&r);
	handle("GET", "/order/x/y", NULL, NULL, &r);
	expect_prob(&r, 404, "malformed");
	acme_resp_clear(&r);
}

/* keyChange: a duplicate key in the inner payload is malformed; the key of
 * another account or the account's own key: 409 malformed with the
 * holder's URL ("conflict" is not in the IANA registry). */
static void
test_key_change_strict(void **state)
{
	struct acme_resp r;
	char kid[512], *inner, *pls;
	json_t *jwk;

	(void)state;
	new_account(k_a, kid);
	jwk = acme_jwk_from_pkey(k_a);
	pls = json_dumps(jwk, JSON_COMPACT);
	json_decref(jwk);
	{
		char raw[2048];
		snprintf(raw, sizeof(raw),
		    "{\"account\":\"%s\",\"oldKey\":%s,\"account\":\"%s\"}",
		    kid, pls, kid);
		inner = at_jws(k_new, NULL, NULL, BASE "/key-change", raw);
	}
	free(pls);
	post(k_a, kid, "/key-change", inner, &r);
	expect_prob(&r, 400, "malformed");
	acme_resp_clear(&r);
	free(inner);

	inner = key_change_inner(k_a, kid, k_a, NULL, BASE "/key-change");
	post(k_a, kid, "/key-change", inner, &r);
	expect_prob(&r, 409, "malformed");
	assert_string_equal(r.location, kid);
	acme_resp_clear(&r);
	free(inner);
}

/* Contacts: one plausible address per mailto:, at most 10. */
static void
test_contacts(void **state)
{
	static const char *const bad[] = {
	    "mailto:not an@@address",
	    "mailto:a@@example.com",
	    "mailto:a@example.com?subject=hi",
	    "mailto:a@example.com,b@example.com",
	    "mailto:a\r\nBcc: x@example.com@example.com",
	    "mailto:a\x01@example.com",
	    "mailto:@example.com",
	    "mailto:a@",
	    "mailto:a@localhost",
	    "mailto:a@-x.example.com",
	    "mailto:a@x_y.example.com",
	    "mailto:a@example.123",
	    "mailto:.a@example.com",
	    "mailto:a..b@example.com",
	    "mailto:a%40b@example.com",
	    "mailto:a@exa mple.com",
	};
	struct acme_resp r;
	char kid[512], body[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *o = json_pack("{s:b, s:[s]}", "termsOfServiceAgreed", 1,
		    "contact", bad[i]);
		char *s = json_dumps(o, JSON_COMPACT);

		post(k_a, NULL, "/new-account", s, &r);
		if (r.status != 400)
			print_error("contact %s\n", bad[i]);
		expect_prob(&r, 400, "invalidContact");
		acme_resp_clear(&r);
		free(s);
		json_decref(o);
	}
	post(k_a, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":[\"tel:+15551234\"]}",
	    &r);
	expect_prob(&r, 400, "unsupportedContact");
	acme_resp_clear(&r);
	snprintf(body, sizeof(body),
	    "{\"termsOfServiceAgreed\":true,"
	    "\"contact\":[");
	for (int i = 0; i < 11; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body),
		    "%s\"mailto:a%d@example.com\"", i ? "," : "", i);
	strcat(body, "]}");
	post(k_a, NULL, "/new-account", body, &r);
	expect_prob(&r, 400, "invalidContact");
	acme_resp_clear(&r);
	assert_int_equal(
	    db_count("SELECT count(*) AS n FROM accounts", NULL, 0), 0);

	post(k_a, NULL, "/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":["
	    "\"mailto:Ops.Team+acme@Sub.Example.com\","
	    "\"MAILTO:x_y-z@xn--bcher-kva.example\"]}",
	    &r);
	expect_status(&r, 201);
	snprintf(kid, sizeof(kid), "%s", r.location);
	acme_resp_clear(&r);
	/* and on update */
	post(k_a, kid, rel(kid), "{\"contact\":[\"mailto:not an@@address\"]}",
	    &r);
	expect_prob(&r, 400, "invalidContact");
	acme_resp_clear(&r);
}

/* A detail cut by "%.200s" in the middle of a UTF-8 character still makes
 * a problem document with a body, of whole characters. */
static void
test_problem_utf8_cut(void **state)
{
	struct acme_resp r;
	char url[600], kid[512];
	struct acme_problem p = {0};
	json_t *doc;

	(void)state;
	new_account(k_a, kid);
	/* "https://acme.test/x" is 19 bytes: 181 more end mid-"é" */
	snprintf(url, sizeof(url), "%s", BASE "/x");
	for (int i = 0; i < 120; i++)
		strcat(url, "\xc3\xa9");
	post_full(k_a, kid, "/new-order", url, NULL, "{}", &r);
	expect_prob(&r, 401, "unauthorized");
	assert_non_null(strstr(detail(&r), "\xc3\xa9\"")); /* cut dropped */
	acme_resp_clear(&r);

	/* straight through the problem layer, including a full buffer */
	memset(p.detail, 'a', sizeof(p.detail) - 2);
	p.detail[sizeof(p.detail) - 2] = '\xe2'; /* first byte of 3 */
	p.detail[sizeof(p.detail) - 1] = '\0';
	p.type = "malformed";
	p.status = 400;
	doc = acme_problem_json(&p);
	assert_non_null(doc);
	assert_int_equal(strlen(jstr(doc, "detail")), sizeof(p.detail) - 2);
	json_decref(doc);
	snprintf(p.detail, sizeof(p.detail), "bad \xff\xfe byte \xed\xa0\x80");
	doc = acme_problem_json(&p);
	assert_non_null(doc);
	assert_string_equal(jstr(doc, "detail"), "bad  byte ");
	json_decref(doc);
	/* a subproblem with a cut detail is kept, not dropped */
	acme_problem_add_sub(&p, "caa", "CAA says \xc3", "dns", "a.example");
	assert_int_equal(json_array_size(p.subproblems), 1);
	assert_string_equal(
	    jstr(json_array_get(p.subproblems, 0), "detail"), "CAA says ");
	acme_problem_clear(&p);
}

/* A base_url too long for the response buffers must not overflow them:
 * the Location is left empty rather than written past its end. */
static void
test_long_base_url(void **state)
{
	static char base[600];
	char url[700];
	struct acme_resp r;

	(void)state;
	snprintf(base, sizeof(base), "https://acme.test/");
	while (strlen(base) < 520)
		strcat(base, "p");
	T.s.base_url = base;
	snprintf(url, sizeof(url), "%s/new-account", base);
	post_full(k_a, NULL, "/new-account", url, NULL,
	    "{\"termsOfServiceAgreed\":true}", &r);
	expect_status(&r, 201);
	assert_true(strlen(r.location) < sizeof(r.location));
	{
		char want[700];
		snprintf(want, sizeof(want), "%s/directory", base);
		assert_true(has_link(&r, "index", want));
	}
	acme_resp_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_new_nonce_and_routing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_account_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_request_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_eab_required_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eab, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order_flow, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_finalize_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_finalize_ca_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_wildcard_and_ip, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_orders_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_orders_next_full_url, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_validation_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_nonce, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_url_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_revoke_by_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_revoke_refused_by_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_revoke_by_cert_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_revoke_forgery, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_revoke_by_authz_holder, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_keycache_presig, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deactivate, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_deactivated_key_new_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_authz_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_other_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_authz_deactivate, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_eab_max_accounts, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_eab_binding_reflected, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_deactivate_authz_of_ready_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_finalize_rechecks_authzs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_finalize_expired_reused_authz, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_chall_on_expired_authz, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_post_as_get_strict, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_new_nonce_post_as_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_key_change_strict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_contacts, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_renewal_info_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_renewal_info_windows, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_problem_utf8_cut, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_long_base_url, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
