/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acmebridge-seed: fill a bridge database with N finished orders, the rows
 * a real issuance leaves behind, for the benchmark's scaling runs (is the
 * cost per order the same with 10,000 orders stored as with 1,000,000?).
 *
 *   acmebridge-seed --database FILE --orders N [--per-account K]
 *
 * Per order: a valid order with one or two identifiers and its CSR, one
 * valid authorization per identifier with a valid http-01 challenge, the
 * certificate (a fixed chain of realistic size, unique serial and key
 * hash), the finished validate and enroll/collect jobs and five audit
 * records; one account per K orders (default 100). Rows are written in
 * transactions of 10,000 orders with synchronous=OFF: a seeded database
 * is scratch data, never a bridge's real state.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/db.h"

#define PER_TX 10000

/* An EC P-256 leaf and intermediate as PEM, about the size SCM returns. */
static const char CHAIN_LINE[] =
    "MIIB5jCCAYygAwIBAgIUZ2l2ZW4gYnkgdGhlIHNlZWRlciBmb3IgYmVuY2htYXJrczAK\n";

static char *
fake_pem(const char *label, int lines)
{
	size_t cap = (size_t)lines * sizeof(CHAIN_LINE) + 128;
	char *s = malloc(cap), *p = s;

	if (s == NULL)
		return NULL;
	p += sprintf(p, "-----BEGIN %s-----\n", label);
	for (int i = 0; i < lines; i++)
		p += sprintf(p, "%s", CHAIN_LINE);
	sprintf(p, "-----END %s-----\n", label);
	return s;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: acmebridge-seed --database FILE --orders N"
	    " [--per-account K]\n");
	return 2;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
seed_order(struct acme_db *db, long long n, long long acct, long long now,
    const char *csr, const char *chain)
{
	char oid[32], ids[200], name[2][64], aid[32], cid[32], crt[32];
	char serial[48], spki[48], ca_ref[24];
	long long order_id, authz_id, cert_id, ts = now - (n % 86400);
	int nid = n % 3 == 0 ? 2 : 1;

	snprintf(oid, sizeof(oid), "seedo%011lld", n);
	snprintf(
	    name[0], sizeof(name[0]), "host%lld.seed%lld.example", n, acct);
	snprintf(
	    name[1], sizeof(name[1]), "www.host%lld.seed%lld.example", n, acct);
	if (nid == 2)
		snprintf(ids, sizeof(ids),
		    "[{\"type\":\"dns\",\"value\":\"%s\"},"
		    "{\"type\":\"dns\",\"value\":\"%s\"}]",
		    name[0], name[1]);
	else
		snprintf(ids, sizeof(ids),
		    "[{\"type\":\"dns\",\"value\":\"%s\"}]", name[0]);
	snprintf(ca_ref, sizeof(ca_ref), "%lld", 1000000 + n);
	if (acme_db_exec(db,
	        "INSERT INTO orders(oid, account_id, status, expires,"
	        " identifiers, csr_pem, connector, ca_ref, enroll_state,"
	        " created, updated) VALUES (?, ?, 'valid', ?, ?, ?, 'sectigo',"
	        " ?, 2, ?, ?)",
	        "siisssii", oid, acct, ts + 7 * 86400, ids, csr, ca_ref, ts,
	        ts) != 1)
		return -1;
	order_id = acme_db_last_id(db);
	for (int i = 0; i < nid; i++) {
		snprintf(aid, sizeof(aid), "seeda%011lld%d", n, i);
		snprintf(cid, sizeof(cid), "seedc%011lld%d", n, i);
		if (acme_db_exec(db,
		        "INSERT INTO authzs(aid, account_id, id_type, id_value,"
		        " wildcard, status, expires, created) VALUES (?, ?,"
		        " 'dns', ?, 0, 'valid', ?, ?)",
		        "sisii", aid, acct, name[i], ts + 30 * 86400, ts) != 1)
			return -1;
		authz_id = acme_db_last_id(db);
		if (acme_db_exec(db,
		        "INSERT INTO order_authzs(order_id, authz_id) VALUES"
		        " (?, ?)",
		        "ii", order_id, authz_id) != 1 ||
		    acme_db_exec(db,
		        "INSERT INTO challenges(cid, authz_id, type, token,"
		        " status, validated) VALUES (?, ?, 'http-01', ?,"
		        " 'valid', ?)",
		        "sisi", cid, authz_id, cid, ts) != 1 ||
		    acme_db_exec(db,
		        "INSERT INTO jobs(kind, ref, arg, state, next_run,"
		        " attempts, created, updated) VALUES ('validate', ?, 0,"
		        " 'done', ?, 1, ?, ?)",
		        "iiii", acme_db_last_id(db), ts * 1000, ts, ts) != 1)
			return -1;
	}
	snprintf(crt, sizeof(crt), "seedx%011lld", n);
	snprintf(serial, sizeof(serial), "5eed%036llx", (unsigned long long)n);
	snprintf(spki, sizeof(spki), "seedspki%035lld", n);
	if (acme_db_exec(db,
	        "INSERT INTO certificates(crt_id, order_id, account_id, serial,"
	        " spki, chain_pem, not_before, not_after, connector, ca_ref,"
	        " status, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sectigo',"
	        " ?, 'valid', ?)",
	        "siisssiisi", crt, order_id, acct, serial, spki, chain, ts,
	        ts + 90 * 86400, ca_ref, ts) != 1)
		return -1;
	cert_id = acme_db_last_id(db);
	if (acme_db_exec(db, "UPDATE orders SET cert_id = ? WHERE id = ?", "ii",
	        cert_id, order_id) != 1 ||
	    acme_db_exec(db,
	        "INSERT INTO jobs(kind, ref, arg, state, next_run, attempts,"
	        " created, updated) VALUES ('collect', ?, 0, 'done', ?, 1, ?,"
	        " ?)",
	        "iiii", order_id, ts * 1000, ts, ts) != 1)
		return -1;
	acme_db_audit(db, ts, "order.new", oid, "");
	acme_db_audit(db, ts, "challenge.valid", oid, "");
	acme_db_audit(db, ts, "order.processing", oid, "");
	acme_db_audit(db, ts, "ca.enrolled", oid, ca_ref);
	acme_db_audit(db, ts, "order.valid", oid, crt);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"database", required_argument, NULL, 'd'},
	    {"orders", required_argument, NULL, 'n'},
	    {"per-account", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	long long orders = -1, per = 100, acct = 0, t0 = now_ms();
	long long now = (long long)time(NULL);
	struct acme_db *db;
	char err[512] = "", *csr, *chain;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			path = optarg;
			break;
		case 'n':
			orders = strtoll(optarg, NULL, 10);
			break;
		case 'k':
			per = strtoll(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (path == NULL || orders < 0 || per < 1 || optind != argc)
		return usage();
	db = acme_db_open(path, 0, err, sizeof(err));
	csr = fake_pem("CERTIFICATE REQUEST", 8);
	chain = fake_pem("CERTIFICATE", 24);
	if (db == NULL || csr == NULL || chain == NULL) {
		fprintf(stderr, "acmebridge-seed: %s\n",
		    err[0] ? err : "out of memory");
		goto out;
	}
	acme_db_exec(db, "PRAGMA synchronous=OFF", NULL);
	for (long long n = 0; n < orders; n++) {
		if (n % PER_TX == 0 && acme_db_begin(db) != 0)
			goto fail;
		if (n % per == 0) {
			char kid[32], thumb[48];

			snprintf(kid, sizeof(kid), "seedk%011lld", n / per);
			snprintf(
			    thumb, sizeof(thumb), "seedthumb%034lld", n / per);
			if (acme_db_exec(db,
			        "INSERT INTO accounts(kid, jwk, thumbprint,"
			        " status, contact, tos_agreed, connector,"
			        " created) VALUES (?, '{\"kty\":\"EC\"}', ?,"
			        " 'valid', '[]', 1, 'sectigo', ?)",
			        "ssi", kid, thumb, now) != 1)
				goto fail;
			acct = acme_db_last_id(db);
		}
		if (seed_order(db, n, acct, now, csr, chain) != 0)
			goto fail;
		if ((n + 1) % PER_TX == 0 || n + 1 == orders) {
			if (acme_db_commit(db) != 0)
				goto fail;
			if ((n + 1) % (PER_TX * 10) == 0)
				fprintf(stderr,
				    "acmebridge-seed: %lld orders\n", n + 1);
		}
	}
	printf("seeded %lld orders (%lld accounts) into %s in %.1f s\n", orders,
	    (orders + per - 1) / per, path, (double)(now_ms() - t0) / 1000.0);
	rc = 0;
	goto out;
fail:
	fprintf(stderr,
	    "acmebridge-seed: a database statement failed (see the"
	    " log line above)\n");
	acme_db_rollback(db);
out:
	free(csr);
	free(chain);
	acme_db_close(db);
	return rc;
}
