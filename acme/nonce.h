/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Anti-replay nonces (RFC 8555 §6.5) shared by all worker threads, kept in
 * memory only: a nonce is a counter and its MAC, and a sliding bitmap
 * remembers which of the recent counters have been used.
 */
#pragma once
#include <stddef.h>

#define ACME_NONCE_LEN 22 /* base64url of 16 bytes */

struct acme_nonces;

/** New nonce source with a random key; NULL on failure. */
struct acme_nonces *acme_nonces_new(void);
void acme_nonces_free(struct acme_nonces *n);
/** Write a fresh nonce (ACME_NONCE_LEN chars + NUL) into out. */
void acme_nonce_issue(struct acme_nonces *n, char out[ACME_NONCE_LEN + 1]);
/**
 * Consume a nonce: 0 if it was issued here, is recent and unused (it is
 * used from now on); -1 if unknown, forged, too old or used already.
 */
int acme_nonce_consume(struct acme_nonces *n, const char *nonce);
