/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTPS front-end: one evhttp per worker thread on a shared
 * SO_REUSEPORT port, TLS through bufferevent_openssl. */
#pragma once
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
/** Stop the workers and free everything. */
void px_http_stop(struct px_http *h);
/** Create a self-signed certificate and key for base_url's host when the
 * files do not exist yet. 0 or -1 + err. */
int px_tls_self_signed(const struct px_conf *conf, char *err, size_t errlen);
