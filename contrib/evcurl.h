/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl's multi socket interface driven by a libevent event_base. */
#pragma once
#include <stddef.h>

#include <curl/curl.h>
#include <event2/event.h>

struct evcurl;

/**
 * Transfer completion. Runs from the event loop, never from inside
 * evcurl_add(). The easy handle has been removed from the multi handle;
 * the callback owns it again (curl_easy_cleanup it or reuse it).
 */
typedef void evcurl_done_cb(CURL *easy, CURLcode rc, void *arg);

/** New driver on base; caller frees with evcurl_free(). NULL on failure. */
struct evcurl *evcurl_new(struct event_base *base);
/** Abort every transfer (no callbacks run) and free. NULL is a no-op. */
void evcurl_free(struct evcurl *ec);
/**
 * Start a transfer. The easy handle is borrowed until cb runs.
 * @return 0, or -1 (cb will not run).
 */
int evcurl_add(struct evcurl *ec, CURL *easy, evcurl_done_cb *cb, void *arg);
/** Stop a transfer started with evcurl_add; its callback will not run. */
void evcurl_cancel(struct evcurl *ec, CURL *easy);
/** Number of transfers in flight. */
int evcurl_running(const struct evcurl *ec);

/** Bounded response body for CURLOPT_WRITEFUNCTION / CURLOPT_WRITEDATA. */
struct evcurl_buf {
	char *data; /* NUL-terminated, malloc'd; NULL until the first byte */
	size_t len; /* bytes in data, not counting the NUL */
	size_t max; /* larger bodies fail the transfer (CURLE_WRITE_ERROR) */
};

/** CURLOPT_WRITEFUNCTION that appends to a struct evcurl_buf. */
size_t evcurl_buf_write(char *ptr, size_t size, size_t nmemb, void *userdata);
/** Free data and reset; the struct itself is the caller's. */
void evcurl_buf_reset(struct evcurl_buf *b);
