/* SPDX-License-Identifier: Apache-2.0 */
/* SIGHUP: reopen the log file and reload the configuration without
 * dropping a connection or a job (the design is in proxy/reload.c). */
#pragma once
#include <event2/event.h>

#include "proxy/conf.h"
#include "proxy/http.h"
#include "proxy/jobs.h"

struct px_reload;

/**
 * The reloader of the running server's configuration conf (which it
 * changes in place, on the serving thread). Everything is borrowed.
 * NULL when out of memory.
 */
struct px_reload *px_reload_new(
    struct px_conf *conf, struct px_jobs *jobs, struct px_http *http);
/** Reopen the log file, then read conf->path again and apply what can
 * change while serving; one log line says what happened. Serving thread
 * (an evsignal callback on its loop). @return 0, or -1: the old
 * configuration stays in force. */
int px_reload_run(struct px_reload *r);
/** An event callback (SIGHUP) with a struct px_reload as its argument. */
void px_reload_on_signal(evutil_socket_t sig, short what, void *arg);
/** Free the configurations retired by reloads; call after the job runner
 * and the front end are freed (they may point into them). */
void px_reload_free(struct px_reload *r);
