/* SPDX-License-Identifier: Apache-2.0 */
/* GCRA rate-limit buckets in a bounded, mutex-protected hash table. */
#include "acme/ratelimit.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>
#include <openssl/rand.h>

struct bucket {
	struct bucket *next;
	uint64_t hash;
	long long tat_ms; /* theoretical arrival time of the next event */
	char key[];
};

struct acme_ratelimiter {
	pthread_mutex_t mu;
	struct bucket **slots;
	size_t n_slots; /* power of two */
	size_t n_keys, capacity;
	uint64_t seed; /* random per process: keys chosen by clients must
			  not be able to aim at one chain */
};

struct acme_ratelimiter *
acme_rl_new(size_t capacity)
{
	struct acme_ratelimiter *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->capacity = capacity > 0 ? capacity : 1;
	rl->n_slots = 64;
	while (rl->n_slots < rl->capacity)
		rl->n_slots <<= 1;
	rl->slots = calloc(rl->n_slots, sizeof(*rl->slots));
	if (rl->slots == NULL ||
	    RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1) {
		free(rl->slots);
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->mu, NULL);
	return rl;
}

void
acme_rl_free(struct acme_ratelimiter *rl)
{
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->n_slots; i++) {
		struct bucket *b = rl->slots[i], *next;

		for (; b != NULL; b = next) {
			next = b->next;
			free(b);
		}
	}
	free(rl->slots);
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

static uint64_t
key_hash(uint64_t seed, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	/* final avalanche so that the slot bits depend on every byte */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Drop buckets that are back to idle (their TAT has passed): they hold
 * nothing a fresh bucket would not. */
static void
sweep(struct acme_ratelimiter *rl, long long now_ms)
{
	size_t i;

	for (i = 0; i < rl->n_slots; i++) {
		struct bucket **pp = &rl->slots[i];

		while (*pp != NULL) {
			struct bucket *b = *pp;

			if (b->tat_ms <= now_ms) {
				*pp = b->next;
				free(b);
				rl->n_keys--;
			} else {
				pp = &b->next;
			}
		}
	}
}

/* The bucket of key, created idle when absent; NULL when the table is
 * full of busy buckets (or out of memory). Called with mu held. */
static struct bucket *
lookup(struct acme_ratelimiter *rl, const char *key, long long now_ms)
{
	uint64_t h = key_hash(rl->seed, key);
	size_t slot = (size_t)h & (rl->n_slots - 1);
	struct bucket *b;
	size_t klen;

	for (b = rl->slots[slot]; b != NULL; b = b->next)
		if (b->hash == h && strcmp(b->key, key) == 0)
			return b;
	if (rl->n_keys >= rl->capacity)
		sweep(rl, now_ms);
	if (rl->n_keys >= rl->capacity)
		return NULL;
	klen = strlen(key);
	b = malloc(sizeof(*b) + klen + 1);
	if (b == NULL)
		return NULL;
	memcpy(b->key, key, klen + 1);
	b->hash = h;
	b->tat_ms = now_ms;
	b->next = rl->slots[slot];
	rl->slots[slot] = b;
	rl->n_keys++;
	return b;
}

static long long
gcra(struct acme_ratelimiter *rl, const char *key, const struct acme_limit *lim,
    long long now_ms, int cost, int take)
{
	long long interval, period_ms, tat, new_tat, wait_ms;
	struct bucket *b;

	if (lim == NULL || lim->count <= 0 || lim->period <= 0)
		return 0;
	if (cost < 1)
		cost = 1;
	period_ms = lim->period * 1000;
	interval = period_ms / lim->count;
	if (interval < 1)
		interval = 1;
	pthread_mutex_lock(&rl->mu);
	b = lookup(rl, key, now_ms);
	if (b == NULL) {
		/* a table full of busy keys: refuse rather than forget
		 * somebody's limit */
		pthread_mutex_unlock(&rl->mu);
		return 60;
	}
	tat = b->tat_ms > now_ms ? b->tat_ms : now_ms;
	new_tat = tat + interval * cost;
	wait_ms = new_tat - period_ms - now_ms;
	if (wait_ms <= 0) {
		if (take)
			b->tat_ms = new_tat;
		pthread_mutex_unlock(&rl->mu);
		return 0;
	}
	pthread_mutex_unlock(&rl->mu);
	return (wait_ms + 999) / 1000;
}

long long
acme_rl_take(struct acme_ratelimiter *rl, const char *key,
    const struct acme_limit *lim, long long now_ms, int cost)
{
	return gcra(rl, key, lim, now_ms, cost, 1);
}

long long
acme_rl_peek(struct acme_ratelimiter *rl, const char *key,
    const struct acme_limit *lim, long long now_ms, int cost)
{
	return gcra(rl, key, lim, now_ms, cost, 0);
}

const char *
acme_registered_domain(const char *name, char *buf, size_t len)
{
	const char *rd = NULL, *p;
	char lower[256];
	size_t i, n = strlen(name);

	if (len == 0)
		return buf;
	if (n >= sizeof(lower))
		n = sizeof(lower) - 1;
	for (i = 0; i < n; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[n] = '\0';
	if (strncmp(lower, "*.", 2) == 0)
		memmove(lower, lower + 2, n - 1);
	if (psl_builtin() != NULL)
		rd = psl_registrable_domain(psl_builtin(), lower);
	if (rd == NULL) {
		/* a public suffix itself, or no list: the last two labels */
		rd = lower;
		p = strrchr(lower, '.');
		if (p != NULL) {
			const char *q = p;

			while (q > lower && q[-1] != '.')
				q--;
			rd = q;
		}
	}
	snprintf(buf, len, "%s", rd);
	return buf;
}

const char *
acme_failed_validation_key(
    long long account_id, const char *id_value, char *buf, size_t len)
{
	snprintf(buf, len, "failval/%lld/%s", account_id, id_value);
	return buf;
}
