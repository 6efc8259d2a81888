/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve: test-connection once at start, in the background: what the
 * operator would otherwise learn from the first failing order shows up in
 * the log right away.
 */
#include "proxy/startcheck.h"

#include <stdlib.h>

#include "contrib/evcurl.h"
#include "contrib/log.h"
#include "sectigo/sectigo.h"

/* One connector's test. */
struct sc_one {
	const char *name;   /* connector name (in conf) */
	struct acme_ca *ca; /* its own backend, NULL when done */
};

struct px_startcheck {
	struct evcurl *ec;  /* HTTP for these backends only */
	struct sc_one *one; /* one per connector */
	size_t n;           /* entries in one */
};

static void
on_line(void *arg, const char *check, int ok, const char *detail)
{
	struct sc_one *o = arg;

	if (ok)
		log_info("test-connection connector=%s %s: ok: %s", o->name,
		    check, detail);
	else
		log_warn("test-connection connector=%s %s: FAILED: %s", o->name,
		    check, detail);
}

static void
on_done(void *arg, int failures)
{
	struct sc_one *o = arg;

	if (failures == 0)
		log_info(
		    "test-connection connector=%s: all checks passed", o->name);
	else
		log_warn("test-connection connector=%s: %d check%s failed: "
		         "orders through it may fail (run acmebridge "
		         "test-connection)",
		    o->name, failures, failures == 1 ? "" : "s");
	/* freeing the backend from its own callback is allowed */
	o->ca->ops->free(o->ca);
	o->ca = NULL;
}

struct px_startcheck *
px_startcheck_start(struct event_base *base, const struct px_conf *conf)
{
	struct px_startcheck *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		goto fail;
	sc->ec = evcurl_new(base);
	sc->one = calloc(conf->n_connectors + 1, sizeof(*sc->one));
	if (sc->ec == NULL || sc->one == NULL)
		goto fail;
	sc->n = conf->n_connectors;
	for (size_t i = 0; i < conf->n_connectors; i++) {
		const struct px_connector *pc = &conf->connectors[i];
		struct sc_one *o = &sc->one[i];
		struct sectigo_conf c;

		o->name = pc->name;
		px_connector_sectigo(pc, 15, &c);
		o->ca = sectigo_ca_new(&c, base, sc->ec);
		if (o->ca == NULL) {
			log_warn("test-connection connector=%s: cannot start "
			         "the checks",
			    pc->name);
			continue;
		}
		if (sectigo_test_connection(o->ca, on_line, on_done, o) != 0) {
			log_warn("test-connection connector=%s: cannot start "
			         "the checks",
			    pc->name);
			o->ca->ops->free(o->ca);
			o->ca = NULL;
		}
	}
	return sc;
fail:
	log_warn("test-connection at start: out of memory, skipped");
	px_startcheck_free(sc);
	return NULL;
}

void
px_startcheck_free(struct px_startcheck *sc)
{
	if (sc == NULL)
		return;
	for (size_t i = 0; sc->one != NULL && i < sc->n; i++)
		if (sc->one[i].ca != NULL)
			sc->one[i].ca->ops->free(sc->one[i].ca);
	free(sc->one);
	evcurl_free(sc->ec);
	free(sc);
}
