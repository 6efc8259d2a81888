/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the RFC 8555 server (not for use outside acme/): the request
 * context, one authenticated call, and what the resource files share.
 * acme/server.c is the core (context, responses, representations,
 * request authentication, rate-limit checks, deferred replies, routing);
 * srv_account.c, srv_order.c, srv_authz.c and srv_cert.c hold the
 * handlers of their resources.
 */
#pragma once
#include "acme/acme.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "acme/csr.h"
#include "acme/ident.h"
#include "acme/jws.h"
#include "acme/ratelimit.h"
#include "acme/state.h"
#include "contrib/metrics.h"
#include "contrib/b64url.h"
#include "contrib/log.h"

#define ORDERS_PAGE 50
#define KEY_CACHE 256

struct acme_ctx {
	const struct acme_settings *s;
	struct acme_db *db;
	struct acme_nonces *nonces;
	/* Account keys already imported: OpenSSL 3 key import goes through
	 * its decoder machinery and costs more than the ECDSA verify. The
	 * stored JWK text is compared on every hit, so a key change is seen
	 * at once. */
	struct {
		long long acct_id;
		char *jwk;
		EVP_PKEY *key;
	} keys[KEY_CACHE];
};

/* One authenticated request being handled. */
struct call {
	struct acme_ctx *ctx;
	const struct acme_req *req;
	struct acme_resp *resp;
	struct acme_jws jws;
	json_t *payload; /* parsed payload object, NULL for POST-as-GET */
	struct acme_account acct;  /* signer's account (kid requests) */
	int has_acct;              /* acct is filled */
	EVP_PKEY *key;             /* signer's key */
	char url[1024];            /* the request URL */
	const char *dir_connector; /* /acme/<name>/new-account: its
				      connector, else NULL */
};

/* One limit a request must pass (srv_rate_limited). */
struct rl_check {
	const struct acme_limit *lim;
	char key[300];
	const char *what;
};

char *srv_random_id(void);
int srv_name_set_key(const json_t *ids, char *key, size_t len);
int srv_owns(struct call *c, long long account_id);
int srv_rate_limited(struct call *c, struct rl_check *chk, size_t n);
json_t *srv_account_json(struct acme_ctx *ctx, const struct acme_account *acct);
json_t *srv_authz_json(struct acme_ctx *ctx, const struct acme_authz *az,
    long long now, int *processing);
/** RFC 8555 §7.1.6: the authorization's status at now (expired once past
 * its expiry while pending or valid). */
enum acme_authz_status srv_authz_live(
    const struct acme_authz *az, long long now);
json_t *srv_chall_json(struct acme_ctx *ctx, const struct acme_chall *ch);
enum acme_found srv_load_order(struct acme_ctx *ctx, const char *oid,
    long long id, long long now, struct acme_order *out);
json_t *srv_url_json(struct acme_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void srv_add_link(struct acme_ctx *ctx, struct acme_resp *resp,
    const char *path, const char *rel);
void srv_fail(struct call *c, int status, const char *type, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
void srv_fail_prob(struct call *c, struct acme_problem *p);
void srv_h_account(struct call *c, const char *kid);
void srv_h_authz(struct call *c, const char *aid);
void srv_h_cert(struct call *c, const char *crt_id, int alt);
void srv_h_chall(struct call *c, const char *cid);
void srv_h_finalize(struct call *c, const char *oid);
void srv_h_key_change(struct call *c);
void srv_h_new_account(struct call *c);
void srv_h_new_order(struct call *c);
void srv_h_order(struct call *c, const char *oid);
void srv_h_orders_list(struct call *c, const char *kid, const char *query);
void srv_h_revoke(struct call *c);
void srv_not_found(struct call *c, const char *what);
void srv_reply_order(struct call *c, int status, const struct acme_order *ord);
/** body (owned) as the answer with Location base_url/kind/id; a 500 when
 * body is NULL. @return 0, or -1 after the 500 */
int srv_reply_resource(
    struct call *c, int status, json_t *body, const char *kind, const char *id);
void srv_server_error(struct call *c);
/* renewal and profiles (srv_ari.c) */
char *srv_name_set(const struct acme_ident *ids, size_t n);
const struct acme_connector_info *srv_connector(
    const struct acme_ctx *ctx, const char *name);
const struct acme_profile_info *srv_profile(
    const struct acme_connector_info *ci, const char *name);
/** newOrder's profile (requested, or the default the account may use)
 * into out: 0, or -1 after the reply. */
int srv_order_profile(struct call *c, char *out, size_t len);
int srv_cert_id_parse(const char *s, char *aki, size_t alen, char *serial,
    size_t slen, struct acme_problem *p);
int srv_order_predecessor(struct call *c, const struct acme_ident *ids,
    size_t n, const char *name_set, long long *pred);
void srv_h_renewal_info(struct call *c, const char *cert_id);
void srv_h_renewal_explained(struct call *c, const char *why);
void srv_set_json(struct acme_resp *resp, int status, json_t *body);
void srv_url_of(struct acme_ctx *ctx, char *buf, size_t len, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
