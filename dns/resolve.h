/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asynchronous stub resolver on a libevent event_base: ldns only encodes and
 * decodes packets, libevent does the UDP/TCP I/O, so nothing blocks the loop.
 *
 * Trust: this stub checks the message id, the question and the source of
 * each answer, nothing more; it does not validate DNSSEC and does not look
 * at the AD bit. dns-01 and the addresses http-01/tls-alpn-01 connect to are
 * only as sound as the server it asks, which must be a validating recursive
 * resolver the operator trusts, reached over a path nobody else controls
 * (loopback, or a trusted network).
 */
#pragma once
#include <stddef.h>
#include <event2/event.h>

struct dns_resolver;

/**
 * Resolver that sends recursion-desired queries to one server "ip:port"
 * (IPv4 or [IPv6]:port) over UDP (EDNS0 4096), falls back to TCP on TC,
 * retries UDP once on timeout. NULL on bad address.
 * @param base event loop the lookups run on (borrowed; must outlive r)
 * @param server text address; a missing port means 53 (copied)
 * @param timeout_ms per-attempt timeout (values <= 0 mean 2000)
 * @return new resolver, caller frees with dns_resolver_free(), or NULL
 */
struct dns_resolver *dns_resolver_new(
    struct event_base *base, const char *server, int timeout_ms);
/** Cancel every pending lookup (no callbacks run) and free. NULL: no-op. */
void dns_resolver_free(struct dns_resolver *r);

/**
 * Lookup result.
 * @param rc 0 = answer (n may be 0 for NXDOMAIN/NODATA), <0 = failure
 *        (-ETIMEDOUT, -ECONNREFUSED, -EIO for SERVFAIL/REFUSED/malformed);
 * @param vals borrowed for the callback only, each NUL-terminated. The
 *        callback may free the resolver or start new lookups.
 * @param lens the length of each value: TXT data is bytes and may hold
 *        NULs, so compare it by length and memcmp, never as a C string
 */
typedef void dns_result_cb(
    void *arg, int rc, const char *const *vals, const size_t *lens, size_t n);

/**
 * TXT strings of name (each TXT record's character-strings concatenated),
 * following CNAME chains (max 8, also when the server returns the chain in
 * one answer or only the CNAME). Callback exactly once, never inside the
 * call.
 * @param name domain name, borrowed during the call
 * @return 0 (cb will run), or -1 (cb will not run)
 */
int dns_lookup_txt(
    struct dns_resolver *r, const char *name, dns_result_cb *cb, void *arg);
/**
 * A and AAAA of name (both queried; addresses as text, A first; CNAMEs
 * followed). rc is 0 when either query answered with addresses or both
 * answered; otherwise the first failure.
 * @return 0 (cb will run), or -1 (cb will not run)
 */
int dns_lookup_addr(
    struct dns_resolver *r, const char *name, dns_result_cb *cb, void *arg);
/**
 * The CNAME target of name itself (one hop: the chain is not followed, a
 * CNAME question is answered by the CNAME record), as a lower-case name
 * without the final dot. n is 0 when name owns no CNAME (NODATA) or does
 * not exist. Callback exactly once, never inside the call.
 * @return 0 (cb will run), or -1 (cb will not run)
 */
int dns_lookup_cname(
    struct dns_resolver *r, const char *name, dns_result_cb *cb, void *arg);
/**
 * Cancel every pending lookup started with this arg; their callbacks will
 * not run. Unknown arg: no-op.
 */
void dns_lookup_cancel(struct dns_resolver *r, void *arg);

/** dns_query flags */
#define DNS_Q_NORECURSE                                                        \
	1u /* RD=0 and no CNAME following: ask an
                              authoritative server about exactly name */

/** A dns_query answer; valid during the callback only. */
struct dns_answer {
	int rc;    /* 0: an answer came (see rcode), < 0: -errno as above */
	int rcode; /* the server's RCODE (0 NOERROR, 3 NXDOMAIN, 5 REFUSED,
	              ...), -1 when no answer came */
	int aa;    /* the answer was authoritative */
	const char *const *vals; /* records of the type asked: TXT data,
	                            names (CNAME, NS: lower case, no final
	                            dot), SOA: the serial in decimal, A/AAAA:
	                            addresses */
	const size_t *lens;
	size_t n;
};
typedef void dns_answer_cb(void *arg, const struct dns_answer *a);

/**
 * One question of type (16 TXT, 5 CNAME, 2 NS, 6 SOA, 1 A, 28 AAAA), with
 * the RCODE and AA bit reported. Without DNS_Q_NORECURSE CNAMEs are
 * followed as in dns_lookup_txt. Callback exactly once, never inside the
 * call; dns_lookup_cancel(arg) cancels it.
 * @return 0 (cb will run), or -1 (cb will not run)
 */
int dns_query(struct dns_resolver *r, const char *name, int type,
    unsigned flags, dns_answer_cb *cb, void *arg);
