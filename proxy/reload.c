/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SIGHUP: reopen the log file, then reload the configuration while
 * serving.
 *
 * Who reads struct px_conf, from which thread (the design rests on it):
 *  - worker threads (proxy/http.c): frontend.*, acme.keys, and the TLS
 *    context built from tls.* (their own pointer, swapped atomically);
 *  - the serving thread: everything else. The engine (acme_ctx) borrows
 *    &conf->acme and reads it per request; the job runner, the DCV engine
 *    and the report sync read conf->* (slots, timings, dcv.*, conf->dns)
 *    through the same pointer whenever they run; SCM backends copy what
 *    they need when created; the DNS registry's connectors are handed to
 *    the dnsq worker threads by pointer for each call.
 *
 * So the reload runs on the serving thread (an evsignal callback on its
 * loop, between two batches) and:
 *  1. loads and checks the whole file into a new px_conf (secrets too),
 *     builds the new TLS context and checks that log_file opens; any
 *     error leaves everything as it was, with one line naming the setting;
 *  2. lets the job runner make backends for new and changed connectors
 *     (px_jobs_reconfigure: the only other step that can fail; nothing is
 *     changed before it succeeds);
 *  3. then, with no way to fail, writes the run-time settings into the
 *     live px_conf field by field (never the fields the workers read),
 *     moves the new file's owned objects (parsed JSON, connector arrays,
 *     DNS registry) into it and swaps the TLS context for new connections.
 *
 * Retired, not freed: what the old configuration owned (its parsed JSON,
 * whose strings much still points at, its connector arrays, its DNS
 * registry that DCV runs and dnsq threads may be using), SCM backends that
 * were replaced (their calls in flight finish on them) and old TLS
 * contexts stay allocated until shutdown. Reloads are rare and each costs
 * one configuration's memory; tracking every borrower to free them
 * earlier is not worth its bugs.
 *
 * Restart-only settings (listen, workers, database, database_sync,
 * base_url, frontend.*, validation.*, dcv.dns_threads) keep their old
 * values with a warning naming each. The rate-limit table (acme.rl) and
 * the key cache stay: counters survive, only the limits change.
 */
#include "proxy/reload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contrib/clock.h"
#include "contrib/log.h"
#include "proxy/notify.h"

struct retired {
	struct px_conf *conf; /* only its owned objects are set */
	struct retired *next;
};

struct px_reload {
	struct px_conf *conf; /* the live configuration (main's) */
	struct px_jobs *jobs;
	struct px_http *http;
	struct retired *retired; /* what earlier reloads replaced */
	int n;                   /* reloads done */
};

struct px_reload *
px_reload_new(struct px_conf *conf, struct px_jobs *jobs, struct px_http *http)
{
	struct px_reload *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->conf = conf;
	r->jobs = jobs;
	r->http = http;
	return r;
}

void
px_reload_free(struct px_reload *r)
{
	if (r == NULL)
		return;
	while (r->retired != NULL) {
		struct retired *x = r->retired;
		r->retired = x->next;
		px_conf_free(x->conf);
		free(x->conf);
		free(x);
	}
	free(r);
}

static int
streq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Warn about each restart-only setting that changed; the new file's
 * value is simply not used. @return how many */
static int
restart_only(const struct px_conf *o, const struct px_conf *n)
{
	const struct {
		const char *name;
		int changed;
	} t[] = {
	    {"listen",
	        !streq(o->listen_host, n->listen_host) ||
	            o->listen_port != n->listen_port},
	    {"workers", o->workers != n->workers},
	    {"database", !streq(o->database, n->database)},
	    {"database_sync", o->db_sync_full != n->db_sync_full},
	    {"base_url", !streq(o->acme.base_url, n->acme.base_url)},
	    {"frontend.max_connections",
	        o->frontend.max_conns != n->frontend.max_conns},
	    {"frontend.max_connections_per_ip",
	        o->frontend.max_conns_per_ip != n->frontend.max_conns_per_ip},
	    {"frontend.request_timeout_seconds",
	        o->frontend.request_timeout != n->frontend.request_timeout},
	    {"frontend.idle_timeout_seconds",
	        o->frontend.idle_timeout != n->frontend.idle_timeout},
	    {"validation.http01_port",
	        o->validation.http01_port != n->validation.http01_port},
	    {"validation.tlsalpn01_port",
	        o->validation.tlsalpn01_port != n->validation.tlsalpn01_port},
	    {"validation.dns_resolver",
	        !streq(o->validation.dns_resolver, n->validation.dns_resolver)},
	    {"validation.timeout_seconds",
	        o->validation.timeout_seconds != n->validation.timeout_seconds},
	    {"validation.allow_private_addresses",
	        o->validation.allow_private_addresses !=
	            n->validation.allow_private_addresses},
	    {"dcv.dns_threads", o->dcv.dns_threads != n->dcv.dns_threads},
	    /* the admin thread reads its settings and the connector list
	     * of the start without locks */
	    {"admin",
	        o->admin.enabled != n->admin.enabled ||
	            strcmp(o->admin.host, n->admin.host) != 0 ||
	            o->admin.port != n->admin.port ||
	            !streq(o->admin.tls_cert, n->admin.tls_cert) ||
	            !streq(o->admin.tls_key, n->admin.tls_key) ||
	            !streq(o->admin.token, n->admin.token) ||
	            o->admin.public_status != n->admin.public_status ||
	            o->admin.scm_ready_seconds != n->admin.scm_ready_seconds ||
	            o->admin.scm_probe_seconds != n->admin.scm_probe_seconds},
	};
	int k = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!t[i].changed)
			continue;
		log_event(LOG_LVL_WARN, "config.restart_needed",
		    (struct log_kv[]){LOG_S("setting", t[i].name), LOG_END},
		    "config reload: %s changed: it takes effect after a "
		    "restart (the old value stays in force)",
		    t[i].name);
		k++;
	}
	return k;
}

/* Can the (new) log file be opened? The switch itself comes later. */
static int
log_file_ok(
    const struct px_conf *o, const struct px_conf *n, char *err, size_t errlen)
{
	int fd;

	if (n->log_file == NULL || streq(o->log_file, n->log_file))
		return 0;
	/* created as contrib/log.c creates it: 0640 whatever the umask */
	fd = open(n->log_file,
	    O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd >= 0)
		(void)fchmod(fd, 0640);
	else if (errno == EEXIST)
		fd = open(n->log_file, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "config: log_file: cannot open %s: %s",
		    n->log_file, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* The run-time settings of n into the live o; n's owned objects move to
 * o, o's old ones to x. Cannot fail. */
static void
apply(struct px_conf *o, struct px_conf *n, struct px_conf *x)
{
	/* retire what the old file owned */
	x->root = o->root;
	x->connectors = o->connectors;
	x->n_connectors = o->n_connectors;
	x->acme_connectors = o->acme_connectors;
	x->dns = o->dns;
	o->root = n->root;
	o->connectors = n->connectors;
	o->n_connectors = n->n_connectors;
	o->acme_connectors = n->acme_connectors;
	o->dns = n->dns;

	o->log_level = n->log_level;
	o->log_json = n->log_json;
	o->log_file = n->log_file;
	o->tls_cert = n->tls_cert;
	o->tls_key = n->tls_key;
	o->tls_self_signed = n->tls_self_signed;

	/* acme: not rl and keys (the same tables go on: counters survive),
	 * nor what is restart-only (base_url, allow_private_addresses,
	 * which goes with validation.*) */
	o->acme.tos = n->acme.tos;
	o->acme.website = n->acme.website;
	o->acme.caa = n->acme.caa;
	o->acme.require_eab = n->acme.require_eab;
	o->acme.default_connector = n->acme.default_connector;
	o->acme.authz_reuse = n->acme.authz_reuse;
	o->acme.order_lifetime = n->acme.order_lifetime;
	o->acme.finalize_wait = n->acme.finalize_wait;
	o->acme.retry_after = n->acme.retry_after;
	o->acme.chall_types = n->acme.chall_types;
	o->acme.max_body = n->acme.max_body;
	o->acme.limits = n->acme.limits;
	o->acme.connectors = n->acme.connectors;
	o->acme.n_connectors = n->acme.n_connectors;
	o->acme.ari_retry_after = n->acme.ari_retry_after;
	o->acme.approval_retry_after = n->acme.approval_retry_after;

	o->validation_slots = n->validation_slots;
	o->ca_slots = n->ca_slots;
	o->ca_give_up_hours = n->ca_give_up_hours;
	o->approval_wait_hours = n->approval_wait_hours;
	o->approval_poll = n->approval_poll;
	o->sync_interval = n->sync_interval;
	o->retention_days = n->retention_days;
	o->audit_retention_days = n->audit_retention_days;

	o->dcv.enabled = n->dcv.enabled;
	o->dcv.margin_days = n->dcv.margin_days;
	o->dcv.poll_seconds = n->dcv.poll_seconds;
	o->dcv.timeout_minutes = n->dcv.timeout_minutes;
	o->dcv.check_interval = n->dcv.check_interval;
	o->dcv.domain_cache = n->dcv.domain_cache;
}

int
px_reload_run(struct px_reload *r)
{
	struct px_conf *o = r->conf, *n = NULL, *x = NULL;
	struct retired *ret = NULL;
	SSL_CTX *ctx = NULL;
	char err[512] = "";
	const char *old_log = o->log_file;
	long long t0 = clock_mono_ms();
	int rc, k;

	rc = log_reopen();
	if (rc != 0)
		log_event(LOG_LVL_ERR, "log.reopen", NULL,
		    "cannot reopen the log file: %s", strerror(-rc));
	n = calloc(1, sizeof(*n));
	x = calloc(1, sizeof(*x));
	ret = calloc(1, sizeof(*ret));
	if (n == NULL || x == NULL || ret == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	/* o->path is main's -c argument: it lives as long as the process */
	if (px_conf_load(o->path, n, 1, err, sizeof(err)) != 0) {
		free(n);
		n = NULL;
		goto fail;
	}
	ctx = px_http_tls_load(n, err, sizeof(err));
	if (ctx == NULL || log_file_ok(o, n, err, sizeof(err)) != 0)
		goto fail;
	k = restart_only(o, n);
	if (px_jobs_reconfigure(r->jobs, n, err, sizeof(err)) != 0)
		goto fail;
	/* nothing fails from here on */
	apply(o, n, x);
	free(n); /* its owned objects are o's now */
	n = NULL;
	ret->conf = x;
	ret->next = r->retired;
	r->retired = ret;
	if (px_http_tls_swap(r->http, ctx) != 0)
		log_event(LOG_LVL_WARN, "config.reload", NULL,
		    "config reload: out of memory: the TLS certificate in use "
		    "stays");
	ctx = NULL;
	log_set_level((enum log_level)log_level_parse(o->log_level));
	log_set_json(o->log_json);
	if (!streq(old_log, o->log_file) &&
	    (rc = log_set_file(o->log_file)) != 0)
		log_event(LOG_LVL_ERR, "config.reload", NULL,
		    "config reload: log_file: cannot open %s: %s (the log "
		    "stays where it was)",
		    o->log_file, strerror(-rc));
	r->n++;
	log_event(LOG_LVL_NOTICE, "config.reload",
	    (struct log_kv[]){LOG_I("duration_ms", clock_mono_ms() - t0),
	        LOG_S("outcome", "ok"), LOG_I("reload", r->n),
	        LOG_I("connectors", (long long)o->n_connectors),
	        LOG_I("restart_needed", k), LOG_END},
	    "configuration reloaded from %s (%zu connectors%s)", o->path,
	    o->n_connectors,
	    k > 0 ? "; some settings need a restart, see above" : "");
	return 0;
fail:
	log_event(LOG_LVL_ERR, "config.reload",
	    (struct log_kv[]){LOG_S("outcome", "error"), LOG_END},
	    "config reload failed: %s (the running configuration stays)", err);
	SSL_CTX_free(ctx);
	if (n != NULL) {
		px_conf_free(n);
		free(n);
	}
	free(x);
	free(ret);
	return -1;
}

void
px_reload_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct px_reload *r = arg;
	int rc;

	(void)sig;
	(void)what;
	/* the service manager shows "reloading" until READY=1 comes back,
	 * also after a failed reload (the old configuration serves on) */
	px_notify_reloading();
	rc = px_reload_run(r);
	px_notify_ready("serving on %s:%d (%s)", r->conf->listen_host,
	    r->conf->listen_port,
	    rc == 0 ? "configuration reloaded"
	            : "reload failed, previous configuration in use");
}
