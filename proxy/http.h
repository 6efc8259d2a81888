/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTPS front-end: one evhttp per worker thread on a shared
 * SO_REUSEPORT port, TLS through bufferevent_openssl. */
#pragma once
#include <openssl/ssl.h>

#include "proxy/conf.h"
#include "proxy/jobs.h"

struct px_http;

/** Bind, load TLS and start the worker threads, which hand every request
 * to commit's serving thread. NULL + err on failure. */
struct px_http *px_http_start(const struct px_conf *conf,
    struct px_commit *commit, char *err, size_t errlen);
/** px_jobs_notify_fn for the job runner: wake the workers that have
 * parked requests. Safe from any thread. */
void px_http_notify(void *arg);
/** The TLS context of conf's tls.cert_file and tls.key_file (a reload
 * checks them with it). NULL + err naming the setting. */
SSL_CTX *px_http_tls_load(const struct px_conf *conf, char *err, size_t errlen);
/** New connections use ctx from now on (takes ownership; the serving
 * thread); open ones keep theirs. 0, or -1 (out of memory: ctx freed,
 * the old one stays). */
int px_http_tls_swap(struct px_http *h, SSL_CTX *ctx);
/** Stop the workers and free everything. */
void px_http_stop(struct px_http *h);
/** Create a self-signed certificate and key for base_url's host when the
 * files do not exist yet. 0 or -1 + err. */
int px_tls_self_signed(const struct px_conf *conf, char *err, size_t errlen);
