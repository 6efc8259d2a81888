/* SPDX-License-Identifier: Apache-2.0 */
/* Signer keys shared between the front end and the engine. */
#include "acme/keycache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acme/jws.h"

struct slot {
	char *kid;
	char *jwk;
	EVP_PKEY *key;
};

struct acme_keycache {
	pthread_mutex_t mu; /* held for lookups and swaps only */
	size_t n;
	struct slot *slots;
};

static size_t
slot_of(const struct acme_keycache *kc, const char *kid)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *kid != '\0'; kid++)
		h = (h ^ (unsigned char)*kid) * 1099511628211ULL;
	return (size_t)(h % kc->n);
}

struct acme_keycache *
acme_keycache_new(size_t slots)
{
	struct acme_keycache *kc = calloc(1, sizeof(*kc));

	if (kc == NULL || slots == 0)
		goto fail;
	kc->n = slots;
	kc->slots = calloc(slots, sizeof(*kc->slots));
	if (kc->slots == NULL || pthread_mutex_init(&kc->mu, NULL) != 0)
		goto fail;
	return kc;
fail:
	if (kc != NULL)
		free(kc->slots);
	free(kc);
	return NULL;
}

void
acme_keycache_free(struct acme_keycache *kc)
{
	if (kc == NULL)
		return;
	for (size_t i = 0; i < kc->n; i++) {
		free(kc->slots[i].kid);
		free(kc->slots[i].jwk);
		EVP_PKEY_free(kc->slots[i].key);
	}
	pthread_mutex_destroy(&kc->mu);
	free(kc->slots);
	free(kc);
}

void
acme_keycache_put(
    struct acme_keycache *kc, const char *kid, const char *jwk, EVP_PKEY *key)
{
	struct slot old, nw = {0};
	struct slot *s;

	if (kc == NULL || kid == NULL || jwk == NULL || key == NULL)
		return;
	s = &kc->slots[slot_of(kc, kid)];
	pthread_mutex_lock(&kc->mu);
	if (s->kid != NULL && strcmp(s->kid, kid) == 0 &&
	    strcmp(s->jwk, jwk) == 0) {
		pthread_mutex_unlock(&kc->mu);
		return; /* the common case: nothing changed */
	}
	pthread_mutex_unlock(&kc->mu);
	nw.kid = strdup(kid);
	nw.jwk = strdup(jwk);
	if (nw.kid == NULL || nw.jwk == NULL || EVP_PKEY_up_ref(key) != 1) {
		free(nw.kid);
		free(nw.jwk);
		return;
	}
	nw.key = key;
	pthread_mutex_lock(&kc->mu);
	old = *s;
	*s = nw;
	pthread_mutex_unlock(&kc->mu);
	free(old.kid);
	free(old.jwk);
	EVP_PKEY_free(old.key);
}

int
acme_keycache_preverify(struct acme_keycache *kc, const struct acme_jws *jws,
    struct acme_presig *out)
{
	struct acme_problem p = {0};
	struct slot *s;
	EVP_PKEY *key = NULL;
	char *jwk = NULL;

	memset(out, 0, sizeof(*out));
	if (kc == NULL || jws->kid == NULL)
		return 0;
	s = &kc->slots[slot_of(kc, jws->kid)];
	pthread_mutex_lock(&kc->mu);
	if (s->kid != NULL && strcmp(s->kid, jws->kid) == 0 &&
	    EVP_PKEY_up_ref(s->key) == 1) {
		key = s->key;
		jwk = strdup(s->jwk);
	}
	pthread_mutex_unlock(&kc->mu);
	if (key == NULL || jwk == NULL || acme_jws_verify(jws, key, &p) != 0) {
		acme_problem_clear(&p);
		EVP_PKEY_free(key);
		free(jwk);
		return 0;
	}
	out->key = key;
	out->jwk = jwk;
	return 1;
}

void
acme_presig_clear(struct acme_presig *ps)
{
	EVP_PKEY_free(ps->key);
	free(ps->jwk);
	ps->key = NULL;
	ps->jwk = NULL;
}
