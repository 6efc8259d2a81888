/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acmebridge-seed: fill a bridge database with N finished orders, the rows
 * a real issuance leaves behind, for the benchmark's scaling runs (is the
 * cost per order the same with 10,000 orders stored as with 1,000,000?).
 *
 *   acmebridge-seed --database FILE --orders N [--per-account K]
 *
 * Per order, through the store's own operations: a valid order with one
 * or two identifiers and its CSR, one valid authorization per identifier
 * with a valid http-01 challenge, the certificate (a fixed chain of
 * realistic size, unique serial and key hash), the finished validate and
 * enroll/collect jobs and five audit records; one account per K orders
 * (default 100). Rows are written in
 * transactions of 10,000 orders with synchronous=OFF: a seeded database
 * is scratch data, never a bridge's real state.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/db.h"
#include "acme/store.h"

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

/* One order taken through the states a real issuance goes through, with
 * the store's own operations: created, validated, finalized, enrolled,
 * issued, its jobs done. */
static int
seed_order(struct acme_db *db, long long n, long long acct, long long now,
    const char *csr, const char *chain)
{
	char oid[32], ids[300], name[2][64], aid[32], cid[32], crt[32];
	char serial[48], spki[48], ca_ref[24];
	long long order_id, authz_id = -1, chall_id, cert_id;
	long long ts = now - (n % 86400);
	int nid = n % 3 == 0 ? 2 : 1;
	struct acme_job job = {0};

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
	order_id = acme_store_order_add(
	    db, oid, acct, ts + 7 * 86400, ids, "sectigo", ts);
	if (order_id < 0)
		return -1;
	for (int i = 0; i < nid; i++) {
		snprintf(aid, sizeof(aid), "seeda%011lld%d", n, i);
		snprintf(cid, sizeof(cid), "seedc%011lld%d", n, i);
		authz_id = acme_store_authz_add(
		    db, aid, acct, "dns", name[i], 0, ts + 30 * 86400, ts);
		chall_id = authz_id < 0
		    ? -1
		    : acme_store_chall_add(db, cid, authz_id, "http-01", cid);
		if (chall_id < 0 ||
		    acme_store_order_authz_link(db, order_id, authz_id) != 1 ||
		    acme_job_add(db, "validate", chall_id, 0, ts) != 0 ||
		    acme_store_chall_valid(db, chall_id, ts) != 1 ||
		    acme_store_authz_valid(db, authz_id, ts + 30 * 86400) != 1)
			return -1;
	}
	if (acme_store_orders_ready(db, authz_id, ts) != 1 ||
	    acme_store_order_finalize(db, order_id, csr, ts) != 1 ||
	    acme_job_add(db, "enroll", order_id, 0, ts) != 0)
		return -1;
	job.id = acme_db_last_id(db);
	if (acme_store_order_sending(db, order_id, ts) != 1 ||
	    acme_store_order_enrolled(db, order_id, ca_ref, ts) != 1 ||
	    acme_store_job_to_collect(db, job.id, ts) != 1)
		return -1;
	snprintf(crt, sizeof(crt), "seedx%011lld", n);
	snprintf(serial, sizeof(serial), "5eed%036llx", (unsigned long long)n);
	snprintf(spki, sizeof(spki), "seedspki%035lld", n);
	{
		struct acme_cert_new c = {
		    .crt_id = crt,
		    .order_id = order_id,
		    .account_id = acct,
		    .serial_hex = serial,
		    .spki_sha256 = spki,
		    .chain_pem = chain,
		    .not_before = ts,
		    .not_after = ts + 90 * 86400,
		    .connector = "sectigo",
		    .ca_ref = ca_ref,
		    .created = ts,
		};

		cert_id = acme_store_cert_add(db, &c);
	}
	if (cert_id < 0 ||
	    acme_store_order_issued(db, order_id, cert_id, ts) != 1 ||
	    acme_store_job_finish(db, job.id, 0, NULL, ts) != 1)
		return -1;
	/* the validate jobs: done too */
	if (acme_store_jobs_finish_all(db, ts) < 0)
		return -1;
	if (acme_store_audit(db, ts, "order.new", oid, "") != 1 ||
	    acme_store_audit(db, ts, "challenge.valid", oid, "") != 1 ||
	    acme_store_audit(db, ts, "order.processing", oid, "") != 1 ||
	    acme_store_audit(db, ts, "scm.enroll", oid, ca_ref) != 1 ||
	    acme_store_audit(db, ts, "certificate.issued", oid, crt) != 1)
		return -1;
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
	if (acme_store_unsynced(db) != 0)
		goto fail;
	for (long long n = 0; n < orders; n++) {
		if (n % PER_TX == 0 && acme_db_begin(db) != 0)
			goto fail;
		if (n % per == 0) {
			char kid[32], thumb[48];
			struct acme_account_new a = {
			    .kid = kid,
			    .jwk = "{\"kty\":\"EC\"}",
			    .thumbprint = thumb,
			    .tos_agreed = 1,
			    .connector = "sectigo",
			    .created = now,
			};

			snprintf(kid, sizeof(kid), "seedk%011lld", n / per);
			snprintf(
			    thumb, sizeof(thumb), "seedthumb%034lld", n / per);
			acct = acme_store_account_add(db, &a);
			if (acct < 0)
				goto fail;
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
