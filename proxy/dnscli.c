/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge dns ...`: the DNS connectors by hand. */
#include "proxy/dnscli.h"

#include <stdio.h>
#include <string.h>

#include "dns/connector.h"

static int
usage_dns(void)
{
	fprintf(stderr,
	    "usage: acmebridge dns check -c CONFIG CONNECTOR\n"
	    "       acmebridge dns present|cleanup -c CONFIG CONNECTOR NAME "
	    "TXT|CNAME VALUE\n"
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
	if ((strcmp(sub, "present") == 0 || strcmp(sub, "cleanup") == 0) &&
	    argc == 3) {
		if (record(conf, c, argv, 1, &r) != 0)
			return 1;
		if (sub[0] == 'p')
			dns_connector_present(c, &r, &o);
		else
			dns_connector_cleanup(c, &r, "", &o);
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
