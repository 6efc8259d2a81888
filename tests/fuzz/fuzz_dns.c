/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the stub resolver's handling of DNS responses (ldns
 * decoding, question check, CNAME chains, TXT and address extraction),
 * end to end over a real UDP socket on loopback. The input is a DNS
 * message; its id and question are replaced by the query's so that it is
 * taken as the answer (header flags, counts and the sections after the
 * question are the input's). The first flag bit picks TXT or A/AAAA.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns/resolve.h"
#include "tests/fuzz/fuzz.h"

static struct event_base *base;
static struct dns_resolver *res;
static int srv = -1;
static char server[64];

static void
done_cb(
    void *arg, int rc, const char *const *vals, const size_t *lens, size_t n)
{
	size_t sum = 0;

	(void)rc;
	for (size_t i = 0; i < n; i++)
		sum += lens[i] + (vals[i][lens[i]] == '\0' ? 0 : 1);
	*(size_t *)arg = sum + 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	(void)argc;
	(void)argv;
	base = event_base_new();
	srv = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (base == NULL || srv < 0 ||
	    bind(srv, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(srv, (struct sockaddr *)&sa, &sl) != 0)
		abort();
	snprintf(server, sizeof(server), "127.0.0.1:%d", ntohs(sa.sin_port));
	return 0;
}

/* Offset just past the question of a query we sent (12-byte header, one
 * QNAME, QTYPE, QCLASS), or 0. */
static size_t
question_end(const unsigned char *q, size_t len)
{
	size_t o = 12;

	while (o < len && q[o] != 0) {
		if (q[o] >= 64)
			return 0;
		o += (size_t)q[o] + 1;
	}
	return o + 5 <= len ? o + 5 : 0;
}

/* Serve one query with the input as the answer; 0 when one was served. */
static int
serve(const uint8_t *data, size_t size)
{
	unsigned char q[1500], a[4096];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	struct pollfd pfd = {.fd = srv, .events = POLLIN};
	ssize_t ql;
	size_t qe, n;

	for (int i = 0; i < 20; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 5) == 1)
			break;
	}
	if (!(pfd.revents & POLLIN))
		return -1;
	ql = recvfrom(srv, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	if (ql < 12 || (qe = question_end(q, (size_t)ql)) == 0)
		return -1;
	memcpy(a, q, 2);                        /* the query's id */
	a[2] = (size > 2 ? data[2] : 0) | 0x80; /* QR */
	a[3] = size > 3 ? data[3] : 0;
	a[4] = 0;
	a[5] = 1; /* one question */
	for (int i = 6; i < 12; i++)
		a[i] = (size_t)i < size ? data[i] : 0;
	memcpy(a + 12, q + 12, qe - 12);
	n = qe;
	if (size > 12) {
		size_t rest = size - 12;

		if (rest > sizeof(a) - n)
			rest = sizeof(a) - n;
		memcpy(a + n, data + 12, rest);
		n += rest;
	}
	(void)sendto(srv, a, n, 0, (struct sockaddr *)&from, fl);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t result = 0;
	int rc;

	if (res == NULL && (res = dns_resolver_new(base, server, 50)) == NULL)
		abort();
	if (size > 0 && (data[0] & 1))
		rc = dns_lookup_addr(res, "a.example", done_cb, &result);
	else
		rc = dns_lookup_txt(
		    res, "_acme-challenge.a.example", done_cb, &result);
	if (rc != 0)
		return 0;
	/* answer every query the lookup sends (A and AAAA, CNAME hops), a
	 * bounded number of times */
	for (int i = 0; i < 10 && result == 0; i++) {
		if (serve(data, size) != 0)
			break;
		for (int k = 0; k < 5 && result == 0; k++)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	if (result == 0) {
		/* dropped as not an answer, or waiting: cancel it */
		dns_resolver_free(res);
		res = NULL;
	}
	return 0;
}
