/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: authentication.  SCM header auth (login, password,
 * customerUri: reference §2.1) and OAuth2 client credentials with bearer
 * tokens from a Keycloak-shaped token endpoint (reference §2.4).
 */
#include "contrib/sectigo-sim/internal.h"
#include "contrib/sectigo-sim/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TOKEN_PATH "/auth/realms/apiclients/protocol/openid-connect/token"
#define TOKEN_LEN 48
/* bound on live tokens: the oldest is dropped beyond it */
#define TOKEN_MAX 4096

/* Compares a secret without leaking where it differs; NULL never matches. */
static int
secret_eq(const char *given, const char *want)
{
	size_t n;

	if (given == NULL || want == NULL)
		return 0;
	n = strlen(want);
	if (strlen(given) != n)
		return 0;
	return CRYPTO_memcmp(given, want, n) == 0;
}

static void
token_free(struct sim_token *t)
{
	OPENSSL_cleanse(t->value, strlen(t->value));
	free(t->value);
	free(t);
}

size_t
sim_tokens_live(struct sim *sim)
{
	struct sim_token *t, *next;
	time_t now = time(NULL);

	for (t = TAILQ_FIRST(&sim->tokens); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->expires > now)
			continue;
		TAILQ_REMOVE(&sim->tokens, t, entry);
		sim->ntokens--;
		token_free(t);
	}
	return sim->ntokens;
}

void
sim_tokens_clear(struct sim *sim)
{
	struct sim_token *t;

	while ((t = TAILQ_FIRST(&sim->tokens)) != NULL) {
		TAILQ_REMOVE(&sim->tokens, t, entry);
		token_free(t);
	}
	sim->ntokens = 0;
}

static int
token_valid(struct sim *sim, const char *value)
{
	struct sim_token *t;

	(void)sim_tokens_live(sim);
	TAILQ_FOREACH(t, &sim->tokens, entry)
		if (secret_eq(value, t->value))
			return 1;
	return 0;
}

/* Builds the token URL as the client reached us, for WWW-Authenticate. */
void
sim_self_url(const struct sim_req *r, const char *path, char *buf, size_t size)
{
	const char *host = sim_req_header(r, "Host");
	const char *scheme = r->sim->conf->plain_http ? "http" : "https";

	if (host != NULL && *host != '\0' && strpbrk(host, "\"\\ \r\n") == NULL)
		snprintf(buf, size, "%s://%s%s", scheme, host, path);
	else
		snprintf(buf, size, "%s://127.0.0.1:%u%s", scheme, r->sim->port,
		    path);
}

int
sim_auth_check(struct sim_req *r)
{
	const struct sim_conf *conf = r->sim->conf;
	const char *authz, *tok, *login, *password, *cu;
	char url[512], hdr[600];

	authz = sim_req_header(r, "Authorization");
	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
		tok = authz + 7;
		while (*tok == ' ')
			tok++;
		/*
		 * [INF] A customerUri header next to a bearer token is
		 * ignored: the tenant comes with the API key (reference §2.4).
		 */
		if (token_valid(r->sim, tok)) {
			r->principal = conf->client_id;
			return 0;
		}
		sim_self_url(r, TOKEN_PATH, url, sizeof(url));
		/* [UNK] exact syntax: RFC 6750 §3 form, authorization_uri */
		snprintf(
		    hdr, sizeof(hdr), "Bearer authorization_uri=\"%s\"", url);
		sim_set_header(r, "WWW-Authenticate", hdr);
		/*
		 * [UNK] the body: SCM's error shape, so a client can parse
		 * every 401 the same way; "details" is an OAS ErrorResponse
		 * field.
		 */
		sim_reply_json(r, 401,
		    json_pack("{s:i, s:s, s:s}", "code", -16, "description",
		        "Unknown user", "details",
		        "invalid or expired bearer token"));
		snprintf(r->note, sizeof(r->note), "auth=bearer-rejected");
		return -1;
	}
	login = sim_req_header(r, "login");
	password = sim_req_header(r, "password");
	cu = sim_req_header(r, "customerUri");
	/*
	 * [INF] /private/api (client-certificate auth on SCM) is checked like
	 * /api: the simulator does no mTLS, so the password is required.
	 * customerUri is a tenant slug; compared without case.
	 */
	if (secret_eq(login, conf->login) &&
	    secret_eq(password, conf->password) && cu != NULL &&
	    strcasecmp(cu, conf->customer_uri) == 0) {
		r->principal = conf->login;
		return 0;
	}
	/* reference §2.5: verbatim DOC example */
	sim_reply_error(r, 401, -16, "Unknown user");
	return -1;
}

static void
oauth_error(struct sim_req *r, int status, const char *error, const char *desc)
{
	sim_set_header(r, "Cache-Control", "no-store");
	sim_reply_json(r, status,
	    json_pack("{s:s, s:s}", "error", error, "error_description", desc));
	snprintf(r->note, sizeof(r->note), "error=%s", error);
}

/*
 * Splits "Authorization: Basic base64(id:secret)" (RFC 6749 §2.3.1, which
 * Keycloak also takes) into new strings.
 */
static int
basic_credentials(const char *authz, char **id, char **secret)
{
	const char *b64 = authz + 6;
	unsigned char *dec = NULL;
	char *colon;
	size_t len;
	int n, pad = 0, rc = -1;

	while (*b64 == ' ')
		b64++;
	len = strlen(b64);
	if (len == 0 || len % 4 != 0 || len > 4096)
		return -1;
	if (b64[len - 1] == '=')
		pad++;
	if (len > 1 && b64[len - 2] == '=')
		pad++;
	dec = malloc(len / 4 * 3 + 1);
	if (dec == NULL)
		return -1;
	n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)len);
	if (n < pad)
		goto out;
	n -= pad;
	dec[n] = '\0';
	if (strlen((char *)dec) != (size_t)n)
		goto out;
	colon = strchr((char *)dec, ':');
	if (colon == NULL)
		goto out;
	*colon = '\0';
	*id = evhttp_uridecode((char *)dec, 1, NULL);
	*secret = evhttp_uridecode(colon + 1, 1, NULL);
	if (*id == NULL || *secret == NULL) {
		free(*id);
		free(*secret);
		*id = *secret = NULL;
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(dec, len / 4 * 3 + 1);
	free(dec);
	return rc;
}

void
sim_token_endpoint(struct sim_req *r)
{
	struct sim *sim = r->sim;
	const struct sim_conf *conf = sim->conf;
	struct evkeyvalq form;
	struct sim_token *t = NULL;
	const char *grant, *id, *secret, *authz;
	char *basic_id = NULL, *basic_secret = NULL;

	TAILQ_INIT(&form);
	if (evhttp_parse_query_str(r->body, &form) != 0) {
		oauth_error(r, 400, "invalid_request", "Invalid form body");
		goto out;
	}
	grant = evhttp_find_header(&form, "grant_type");
	id = evhttp_find_header(&form, "client_id");
	secret = evhttp_find_header(&form, "client_secret");
	authz = sim_req_header(r, "Authorization");
	if (authz != NULL && strncasecmp(authz, "Basic ", 6) == 0 &&
	    basic_credentials(authz, &basic_id, &basic_secret) == 0) {
		id = basic_id;
		secret = basic_secret;
	}
	/* [INF] Keycloak's order: grant present, client auth, grant kind */
	if (grant == NULL || *grant == '\0') {
		oauth_error(r, 400, "invalid_request",
		    "Missing form parameter: grant_type");
		goto out;
	}
	if (!secret_eq(id, conf->client_id) ||
	    !secret_eq(secret, conf->client_secret)) {
		oauth_error(r, 401, "invalid_client",
		    "Invalid client or Invalid client credentials");
		goto out;
	}
	if (strcmp(grant, "client_credentials") != 0) {
		oauth_error(
		    r, 400, "unsupported_grant_type", "Unsupported grant_type");
		goto out;
	}
	if (sim_tokens_live(sim) >= TOKEN_MAX) {
		t = TAILQ_FIRST(&sim->tokens);
		TAILQ_REMOVE(&sim->tokens, t, entry);
		sim->ntokens--;
		token_free(t);
	}
	t = calloc(1, sizeof(*t));
	if (t != NULL)
		t->value = malloc(TOKEN_LEN + 1);
	if (t == NULL || t->value == NULL ||
	    sim_random_alnum(t->value, TOKEN_LEN) != 0) {
		if (t != NULL)
			free(t->value);
		free(t);
		sim_reply_error(r, 500, -2,
		    "Internal error. Please contact Support for details.");
		goto out;
	}
	t->expires = time(NULL) + sim->token_lifetime;
	TAILQ_INSERT_TAIL(&sim->tokens, t, entry);
	sim->ntokens++;
	sim_set_header(r, "Cache-Control", "no-store");
	sim_set_header(r, "Pragma", "no-cache");
	/*
	 * [INF] besides access_token/expires_in (documented), the fields a
	 * Keycloak client-credentials answer carries.
	 */
	sim_reply_json(r, 200,
	    json_pack("{s:s, s:i, s:i, s:s, s:i, s:s}", "access_token",
	        t->value, "expires_in", sim->token_lifetime,
	        "refresh_expires_in", 0, "token_type", "Bearer",
	        "not-before-policy", 0, "scope", "profile email"));
out:
	if (basic_secret != NULL)
		OPENSSL_cleanse(basic_secret, strlen(basic_secret));
	free(basic_id);
	free(basic_secret);
	evhttp_clear_headers(&form);
}
