/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the request handlers' JSON payloads. The first input
 * byte picks a resource; the rest is the payload, signed with a fixed
 * account's key and a fresh nonce so that it gets past the JWS checks to
 * the handler itself (or, with the top bit set, sent as the raw request
 * body, to reach the JWS checks in the engine). One in-memory database for
 * the whole run, with one account and one order made at start.
 */
#include "tests/unit/acme/acmetest_util.h"

#include "acme/acme.h"
#include "acme/nonce.h"
#include "tests/fuzz/fuzz.h"

#define BASE "https://fuzz.test"

static struct acme_settings S;
static struct acme_db *db;
static struct acme_nonces *nonces;
static struct acme_ctx *ctx;
static EVP_PKEY *key;
static char kid[600], order_path[600], finalize_path[600], authz_path[600];

static const char *
rel(const char *url)
{
	return strncmp(url, BASE, strlen(BASE)) == 0 ? url + strlen(BASE) : url;
}

static void
post(const char *path, const char *payload, int use_jwk, int raw,
    struct acme_resp *resp)
{
	char nonce[ACME_NONCE_LEN + 1], url[700];
	char *body = NULL;
	struct acme_req req = {0};

	snprintf(url, sizeof(url), "%s%s", BASE, path);
	acme_nonce_issue(nonces, nonce);
	if (!raw)
		body = at_jws(key, use_jwk ? NULL : kid, nonce, url, payload);
	req.method = "POST";
	req.path = path;
	req.content_type = "application/jose+json";
	req.body = raw ? payload : body;
	req.body_len = strlen(req.body);
	req.now = 1700000000;
	acme_handle(ctx, &req, resp);
	free(body);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	struct acme_resp r;
	json_t *az;

	(void)argc;
	(void)argv;
	S.base_url = BASE;
	S.default_connector = "conn";
	S.authz_reuse = 3600;
	S.order_lifetime = 86400;
	S.retry_after = 3;
	S.chall_types =
	    ACME_CHALL_HTTP01 | ACME_CHALL_DNS01 | ACME_CHALL_TLSALPN01;
	S.max_body = 65536;
	db = acme_db_open(":memory:", 0, err, sizeof(err));
	nonces = acme_nonces_new();
	ctx = db && nonces ? acme_ctx_new(&S, db, nonces) : NULL;
	key = at_key_p256();
	if (ctx == NULL || key == NULL)
		abort();
	post("/new-account", "{\"termsOfServiceAgreed\":true}", 1, 0, &r);
	snprintf(kid, sizeof(kid), "%s", r.location);
	acme_resp_clear(&r);
	post("/new-order",
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"f.example\"}]}", 0,
	    0, &r);
	snprintf(order_path, sizeof(order_path), "%s", rel(r.location));
	snprintf(finalize_path, sizeof(finalize_path), "%s",
	    rel(json_string_value(json_object_get(r.json, "finalize"))
	            ?: "/x"));
	az = json_array_get(json_object_get(r.json, "authorizations"), 0);
	snprintf(authz_path, sizeof(authz_path), "%s",
	    rel(json_string_value(az) ?: "/x"));
	acme_resp_clear(&r);
	if (kid[0] == '\0' || order_path[0] == '\0')
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *paths[] = {"/new-account", "/new-order", rel(kid),
	    "/key-change", "/revoke-cert", finalize_path, authz_path,
	    order_path, "/new-nonce"};
	struct acme_resp r;
	char *payload;
	int which, raw;

	if (size < 1 || size > 65536)
		return 0;
	which = data[0] % (int)(sizeof(paths) / sizeof(paths[0]));
	raw = (data[0] & 0x80) != 0;
	payload = malloc(size);
	if (payload == NULL)
		return 0;
	memcpy(payload, data + 1, size - 1);
	payload[size - 1] = '\0';
	post(paths[which], payload, which == 0, raw, &r);
	acme_resp_clear(&r);
	free(payload);
	return 0;
}
