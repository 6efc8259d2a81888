/* SPDX-License-Identifier: Apache-2.0 */
/* In-memory anti-replay nonces: counter + truncated HMAC, used-bitmap. */
#include "acme/nonce.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "contrib/b64url.h"

/* How many of the most recent nonces stay redeemable. Older ones are
 * refused with badNonce and the client simply fetches a new one. */
#define WINDOW (1u << 20)

struct acme_nonces {
	pthread_mutex_t mu;
	uint64_t next;                  /* counter of the next nonce */
	unsigned char key[32];          /* MAC key, random per process */
	unsigned char used[WINDOW / 8]; /* bit per counter mod WINDOW */
};

struct acme_nonces *
acme_nonces_new(void)
{
	struct acme_nonces *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	if (RAND_bytes(n->key, sizeof(n->key)) != 1 ||
	    RAND_bytes((unsigned char *)&n->next, 4) != 1) {
		free(n);
		return NULL;
	}
	pthread_mutex_init(&n->mu, NULL);
	return n;
}

void
acme_nonces_free(struct acme_nonces *n)
{
	if (n == NULL)
		return;
	pthread_mutex_destroy(&n->mu);
	OPENSSL_cleanse(n->key, sizeof(n->key));
	free(n);
}

static void
mac(const struct acme_nonces *n, const unsigned char ctr[8],
    unsigned char out[8])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), n->key, sizeof(n->key), ctr, 8, md, &mdlen);
	memcpy(out, md, 8);
}

void
acme_nonce_issue(struct acme_nonces *n, char out[ACME_NONCE_LEN + 1])
{
	unsigned char raw[16];
	uint64_t c;

	pthread_mutex_lock(&n->mu);
	c = n->next++;
	n->used[(c % WINDOW) / 8] &= (unsigned char)~(1u << (c % 8));
	pthread_mutex_unlock(&n->mu);
	for (int i = 0; i < 8; i++)
		raw[i] = (unsigned char)(c >> (56 - 8 * i));
	mac(n, raw, raw + 8);
	b64url_encode(raw, sizeof(raw), out);
}

int
acme_nonce_consume(struct acme_nonces *n, const char *nonce)
{
	unsigned char raw[17], want[8];
	uint64_t c = 0;
	int rc = -1;

	if (nonce == NULL || strlen(nonce) != ACME_NONCE_LEN ||
	    b64url_decode(nonce, ACME_NONCE_LEN, raw) != 16)
		return -1;
	mac(n, raw, want);
	if (CRYPTO_memcmp(want, raw + 8, 8) != 0)
		return -1;
	for (int i = 0; i < 8; i++)
		c = (c << 8) | raw[i];
	pthread_mutex_lock(&n->mu);
	if (c < n->next && n->next - c <= WINDOW) {
		unsigned char *b = &n->used[(c % WINDOW) / 8];
		unsigned char bit = (unsigned char)(1u << (c % 8));
		if ((*b & bit) == 0) {
			*b |= bit;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&n->mu);
	return rc;
}
