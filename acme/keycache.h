/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signer keys shared between the front end and the engine.
 *
 * The engine runs on one serving thread (proxy/commit.h); checking the
 * JWS signature there would make every ECDSA verification wait in line.
 * So the engine records here, per account URL (the JWS "kid"), the key
 * and the JWK text it last authenticated; a worker that sees a request
 * signed by a known kid verifies the signature itself, on its own core,
 * and hands the engine the key and JWK text it used (struct acme_presig).
 * The engine then skips only the signature check, and only when that JWK
 * text is still the account's current key: a key change or an unknown
 * account falls back to the full check. Nothing here is trusted beyond
 * "these exact bytes verify under this key".
 */
#pragma once
#include <stddef.h>

#include <openssl/evp.h>

struct acme_jws;

/** What a worker verified: the request's JWS signature holds under key,
 * which was the key whose JWK text is jwk. Owned by the request. */
struct acme_presig {
	EVP_PKEY *key;
	char *jwk;
};

struct acme_keycache;

/** A cache of at most slots entries (direct-mapped); NULL: no memory. */
struct acme_keycache *acme_keycache_new(size_t slots);
void acme_keycache_free(struct acme_keycache *kc);
/** Remember kid's key and JWK text (replacing what the slot held). */
void acme_keycache_put(
    struct acme_keycache *kc, const char *kid, const char *jwk, EVP_PKEY *key);
/**
 * Front end: if jws is signed by a cached kid and its signature verifies
 * under the cached key, fill out (caller frees with acme_presig_clear) and
 * return 1; else 0 (the engine checks everything itself).
 */
int acme_keycache_preverify(struct acme_keycache *kc,
    const struct acme_jws *jws, struct acme_presig *out);
void acme_presig_clear(struct acme_presig *ps);
