/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge dns ...`: the DNS connectors by hand. */
#include "proxy/dnscli.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "contrib/b64url.h"
#include "dns/connector.h"
#include "dns/propagate.h"

static int
usage_dns(void)
{
	fprintf(stderr,
	    "usage: acmebridge dns check -c CONFIG CONNECTOR\n"
	    "       acmebridge dns test -c CONFIG CONNECTOR ZONE\n"
	    "       acmebridge dns present -c CONFIG CONNECTOR NAME "
	    "TXT|CNAME VALUE\n"
	    "       acmebridge dns cleanup -c CONFIG CONNECTOR NAME "
	    "TXT|CNAME VALUE [HANDLE]\n"
	    "       acmebridge dns values -c CONFIG CONNECTOR NAME "
	    "TXT|CNAME\n");
	return 2;
}

static struct dns_connector *
find(const struct px_conf *conf, const char *name)
{
	struct dns_connector *c = dns_registry_find(conf->dns, name);

	if (c == NULL)
		fprintf(stderr,
		    "acmebridge: dns: no connector named \"%s\" in "
		    "dns_connectors\n",
		    name);
	return c;
}

/* Fill r for NAME TYPE [VALUE]: the zone is the configured one that
 * serves NAME, and it must belong to connector c. */
static int
record(const struct px_conf *conf, struct dns_connector *c, char **argv,
    int with_value, struct dns_record *r)
{
	const struct dns_zone *z = dns_zone_for(conf->dns, argv[0]);
	int t = dns_rr_of(argv[1]);

	if (z == NULL || z->conn != c) {
		fprintf(stderr,
		    "acmebridge: dns: %s is in no zone of connector \"%s\" "
		    "(dns_connectors[].zones)\n",
		    argv[0], c->name);
		return -1;
	}
	if (t < 0) {
		fprintf(stderr,
		    "acmebridge: dns: record type must be TXT or "
		    "CNAME\n");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->zone = z->name;
	r->name = argv[0];
	r->type = (enum dns_rr)t;
	r->value = with_value ? argv[2] : "";
	r->ttl = c->ttl;
	return 0;
}

static int
report(const char *what, const struct dns_outcome *o)
{
	if (o->rc == DNS_OK) {
		printf("%s: ok%s%s\n", what, o->handle[0] ? " handle=" : "",
		    o->handle);
		return 0;
	}
	printf("%s: %s: %s\n", what,
	    o->rc == DNS_TEMP ? "failed (temporary)" : "failed", o->msg);
	return 1;
}

struct prop_wait {
	int done, ok;
	char report[2048];
};

static void
prop_done(void *arg, int ok, const char *report)
{
	struct prop_wait *w = arg;

	w->done = 1;
	w->ok = ok;
	snprintf(w->report, sizeof(w->report), "%s", report);
}

/* Fill req with the connector's propagation settings for r. */
void
px_dns_prop_req(const struct px_conf *conf, const struct dns_connector *c,
    const struct dns_record *r, struct dns_prop_req *req)
{
	memset(req, 0, sizeof(*req));
	req->zone = r->zone;
	req->name = r->name;
	req->type = r->type;
	req->value = r->value;
	req->check_servers = c->check_servers;
	req->n_check_servers = c->n_check_servers;
	req->resolver = conf->validation.dns_resolver;
	req->ns_port = c->ns_port;
	req->recursive_only = c->recursive_only;
	req->fixed_wait = c->fixed_wait;
	req->timeout_s = c->propagation_timeout;
	req->interval_s = c->poll_interval;
}

/* dns test: publish a random TXT under the zone, wait until every server
 * has it, remove it; one line per step. */
static int
dns_test(struct px_conf *conf, struct dns_connector *c, const char *zone)
{
	const struct dns_zone *z = dns_zone_named(conf->dns, zone);
	unsigned char rnd[18];
	char value[32], name[300],
	    handle[sizeof(((struct dns_outcome *)0)->handle)];
	struct dns_record r = {0};
	struct dns_prop_req req;
	struct prop_wait w = {0};
	struct event_base *base;
	struct dns_outcome o;
	struct dns_prop *p;
	int bad = 0;

	if (z == NULL || z->conn != c) {
		fprintf(stderr,
		    "acmebridge: dns test: %s is not a zone of connector "
		    "\"%s\"\n",
		    zone, c->name);
		return 1;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    b64url_encode(rnd, sizeof(rnd), value) == 0)
		return 1;
	snprintf(name, sizeof(name), "_acmebridge-test.%s", z->name);
	r.zone = z->name;
	r.name = name;
	r.type = DNS_RR_TXT;
	r.value = value;
	r.ttl = c->ttl;
	dns_connector_check(c, z->name, &o);
	bad |= report("check", &o);
	dns_connector_present(c, &r, &o);
	if (report("present", &o) != 0)
		return 1;
	base = event_base_new();
	px_dns_prop_req(conf, c, &r, &req);
	p = base ? dns_prop_start(base, &req, prop_done, &w) : NULL;
	if (p == NULL) {
		printf("propagation: failed: cannot start the check (no "
		       "validation.dns_resolver and no check_servers?)\n");
		bad = 1;
	} else {
		while (!w.done)
			event_base_loop(base, EVLOOP_ONCE);
		printf(
		    "propagation: %s: %s\n", w.ok ? "ok" : "failed", w.report);
		bad |= !w.ok;
	}
	if (base != NULL)
		event_base_free(base);
	/* the call clears o before the connector reads the handle: copy */
	snprintf(handle, sizeof(handle), "%s", o.handle);
	dns_connector_cleanup(c, &r, handle, &o);
	bad |= report("cleanup", &o);
	return bad;
}

int
cmd_dns(struct px_conf *conf, int argc, char **argv)
{
	struct dns_outcome o;
	struct dns_connector *c;
	struct dns_record r;
	const char *sub;

	if (argc < 2)
		return usage_dns();
	sub = argv[0];
	if ((c = find(conf, argv[1])) == NULL)
		return 1;
	argv += 2;
	argc -= 2;
	if (strcmp(sub, "check") == 0 && argc == 0) {
		int bad = 0;
		for (size_t i = 0;; i++) {
			const struct dns_zone *z;
			char what[300];

			z = dns_zone_at(conf->dns, c, i);
			if (z == NULL)
				break;
			dns_connector_check(c, z->name, &o);
			snprintf(what, sizeof(what), "zone %s", z->name);
			bad |= report(what, &o);
		}
		return bad;
	}
	if (strcmp(sub, "test") == 0 && argc == 1)
		return dns_test(conf, c, argv[0]);
	/* cleanup's HANDLE: what present printed (a provider's record id);
	 * without it the connector finds the record by its value */
	if ((strcmp(sub, "present") == 0 && argc == 3) ||
	    (strcmp(sub, "cleanup") == 0 && (argc == 3 || argc == 4))) {
		if (record(conf, c, argv, 1, &r) != 0)
			return 1;
		if (sub[0] == 'p')
			dns_connector_present(c, &r, &o);
		else
			dns_connector_cleanup(
			    c, &r, argc == 4 ? argv[3] : "", &o);
		return report(sub, &o);
	}
	if (strcmp(sub, "values") == 0 && argc == 2) {
		char **vals;
		int n;

		if (record(conf, c, argv, 0, &r) != 0)
			return 1;
		n = dns_connector_list(c, &r, &vals, &o);
		if (n < 0)
			return report("values", &o);
		for (int i = 0; i < n; i++)
			printf("%s\n", vals[i]);
		dns_values_free(vals, (size_t)n);
		return 0;
	}
	return usage_dns();
}
