/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rate limits: a thread-safe table of GCRA (generic cell rate algorithm)
 * buckets keyed by strings such as "orders/acct/12" or "orders/domain/
 * example.com". A limit allows `count` events per `period` seconds with a
 * burst of `count`; each bucket is one timestamp (its theoretical arrival
 * time), so memory stays bounded by the table size however many keys
 * an attacker invents (full tables evict buckets that are back to idle,
 * then refuse new keys: failing closed).
 *
 * Counts live in memory: a restart starts every bucket afresh. That is
 * the usual trade (Boulder keeps its counters in Redis, not in its
 * database); the limits are for abuse, not for billing.
 */
#pragma once
#include <stddef.h>

/** count events per period seconds; count 0 means no limit. */
struct acme_limit {
	long long count;
	long long period;
};

struct acme_ratelimiter;

/** A table for at most capacity keys; NULL on allocation failure. */
struct acme_ratelimiter *acme_rl_new(size_t capacity);
void acme_rl_free(struct acme_ratelimiter *rl);

/**
 * Take cost events from key's bucket if the limit allows them.
 * @param now_ms a clock in milliseconds (monotonic or wall: only
 *        differences matter)
 * @return 0 when allowed (and taken), otherwise the seconds after which
 *         the same request would be allowed (>= 1); nothing is taken.
 */
long long acme_rl_take(struct acme_ratelimiter *rl, const char *key,
    const struct acme_limit *lim, long long now_ms, int cost);

/** As acme_rl_take but only tells, takes nothing. */
long long acme_rl_peek(struct acme_ratelimiter *rl, const char *key,
    const struct acme_limit *lim, long long now_ms, int cost);

/**
 * The registered domain (public suffix + one label) of a DNS name, lower
 * case, into buf; for names that are themselves a public suffix, or when
 * the list does not know the TLD, the last two labels (or the name).
 * @return buf
 */
const char *acme_registered_domain(const char *name, char *buf, size_t len);

/** The key under which failed validations of one identifier by one
 * account are counted (by the job runner) and checked (by challenge
 * requests). */
const char *acme_failed_validation_key(
    long long account_id, const char *id_value, char *buf, size_t len);
