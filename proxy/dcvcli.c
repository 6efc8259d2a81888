/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge dcv ...` and `acmebridge dns list`: what the DCV engine
 * did and holds, from the database (the server may be running). */
#include "proxy/dcvcli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acme/acme.h"
#include "acme/dcv.h"
#include "dns/connector.h"

static int
usage_dcv(void)
{
	fprintf(stderr,
	    "usage: acmebridge dcv list -c CONFIG\n"
	    "       acmebridge dcv status -c CONFIG DOMAIN [--connector NAME]\n"
	    "       acmebridge dcv start -c CONFIG DOMAIN [--connector "
	    "NAME]\n");
	return 2;
}

static const char *
day(long long t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		return "-";
	strftime(buf, len, "%Y-%m-%d", &tm);
	return buf;
}

static void
print_run(const struct acme_dcv *d, void *arg)
{
	char c[32], e[16];

	(void)arg;
	printf("%-6lld %-28s %-12s %-5s %-9s %-10s %-20s %s\n", d->id,
	    d->domain, d->connector, d->method, acme_dcv_state_str(d->state),
	    d->started_by, acme_time_str(d->updated, c, sizeof(c)),
	    d->state == ACME_DCV_VALID ? day(d->expires, e, sizeof(e))
	                               : d->reason);
}

static void
print_domain(const struct acme_scm_domain *d, void *arg)
{
	char e[16], c[32];
	long long left = (d->expires - (long long)time(NULL)) / 86400;

	(void)arg;
	printf("%-28s %-12s %-13s %-10s %-9lld %s\n", d->name, d->connector,
	    d->validated ? "VALIDATED" : "NOT_VALIDATED",
	    day(d->expires, e, sizeof(e)), d->expires > 0 ? left : 0LL,
	    acme_time_str(d->checked, c, sizeof(c)));
}

static void
print_rec(const struct acme_dnsrec *r, int orphan, void *arg)
{
	char c[32];

	(void)arg;
	printf("%-6lld %-40s %-5s %-10s %-12s %-6lld %-20s %s\n", r->id,
	    r->name, r->type, acme_rec_state_str(r->state), r->connector,
	    r->dcv_id, acme_time_str(r->updated, c, sizeof(c)),
	    orphan ? "ORPHAN: its run is over; the next start removes it"
	           : r->last_error);
}

int
cmd_dns_list(struct px_conf *conf, struct acme_db *db, int all)
{
	(void)conf;
	printf("%-6s %-40s %-5s %-10s %-12s %-6s %-20s %s\n", "ID", "NAME",
	    "TYPE", "STATE", "CONNECTOR", "DCV", "UPDATED", "NOTE");
	return acme_dnsrec_each(db, !all, 1000, print_rec, NULL) < 0 ? 1 : 0;
}

int
cmd_dcv(struct px_conf *conf, struct acme_db *db, int argc, char **argv,
    const char *connector)
{
	char domain[256];
	size_t j = 0;

	if (argc < 1)
		return usage_dcv();
	if (strcmp(argv[0], "list") == 0 && argc == 1) {
		printf("%-28s %-12s %-13s %-10s %-9s %s\n", "SCM DOMAIN",
		    "CONNECTOR", "DCV", "EXPIRES", "DAYS LEFT", "CHECKED");
		if (acme_scmdom_each(db, print_domain, NULL) < 0)
			return 1;
		printf("\n%-6s %-28s %-12s %-5s %-9s %-10s %-20s %s\n", "RUN",
		    "DOMAIN", "CONNECTOR", "VIA", "STATE", "BY", "UPDATED",
		    "EXPIRES / REASON");
		return acme_dcv_each(db, 200, print_run, NULL) < 0 ? 1 : 0;
	}
	if (argc != 2 ||
	    (strcmp(argv[0], "status") != 0 && strcmp(argv[0], "start") != 0))
		return usage_dcv();
	for (const char *p = argv[1]; *p && j + 1 < sizeof(domain); p++)
		domain[j++] =
		    (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	while (j > 0 && domain[j - 1] == '.')
		j--;
	domain[j] = '\0';
	if (!dns_name_ok(domain)) {
		fprintf(stderr,
		    "acmebridge: dcv: \"%s\" is not a domain name\n", argv[1]);
		return 2;
	}
	if (connector == NULL)
		connector = conf->acme.default_connector;
	if (px_conf_connector(conf, connector) == NULL) {
		fprintf(stderr, "acmebridge: dcv: no CA connector \"%s\"\n",
		    connector);
		return 2;
	}
	if (strcmp(argv[0], "status") == 0) {
		struct acme_scm_domain sd;
		struct acme_dcv d;
		enum acme_found f;

		f = acme_scmdom_covering(db, connector, domain, &sd);
		if (f == ACME_ERR)
			return 1;
		if (f == ACME_FOUND) {
			char e[16], c[32];
			printf("scm domain: %s %s, expires %s (checked %s)\n",
			    sd.name,
			    sd.validated ? "VALIDATED" : "NOT_VALIDATED",
			    day(sd.expires, e, sizeof(e)),
			    acme_time_str(sd.checked, c, sizeof(c)));
		} else {
			printf("scm domain: not looked up yet\n");
		}
		f = acme_dcv_latest(
		    db, f == ACME_FOUND ? sd.name : domain, connector, &d);
		if (f == ACME_ERR)
			return 1;
		if (f == ACME_NONE) {
			printf("dcv: no run yet\n");
			return 0;
		}
		printf("dcv: run %lld %s via %s, started by %s%s%s\n", d.id,
		    acme_dcv_state_str(d.state), d.method, d.started_by,
		    d.reason[0] ? ": " : "", d.reason);
		if (d.host[0] != '\0')
			printf("record: %s %s \"%s\"\n", d.host,
			    strcmp(d.method, "cname") == 0 ? "CNAME" : "TXT",
			    d.point);
		return 0;
	}
	{
		const struct dns_zone *z = dns_zone_for(conf->dns, domain);
		long long id;

		if (z == NULL) {
			fprintf(stderr,
			    "acmebridge: dcv start: no DNS connector serves "
			    "%s (dns_connectors[].zones)\n",
			    domain);
			return 1;
		}
		id = acme_dcv_add(db, domain, connector,
		    z->dcv == DNS_DCV_CNAME ? "cname" : "txt", "cli",
		    (long long)time(NULL));
		if (id < 0)
			return 1;
		if (id == 0) {
			printf("dcv: a run for %s is already in progress\n",
			    domain);
			return 0;
		}
		printf("dcv: run %lld queued for %s via %s (the server "
		       "carries it out)\n",
		    id, domain, z->dcv == DNS_DCV_CNAME ? "cname" : "txt");
		return 0;
	}
}
