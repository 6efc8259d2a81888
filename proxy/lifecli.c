/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge inventory|sync|reissue|revoke` (proxy/lifecli.h). */
#include "proxy/lifecli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/acme.h"
#include "acme/csr.h"
#include "acme/life.h"
#include "contrib/b64url.h"
#include "contrib/evcurl.h"
#include "proxy/sync.h"
#include "sectigo/sectigo.h"

static struct acme_db *
open_db(const struct px_conf *conf)
{
	char err[512];
	struct acme_db *db =
	    acme_db_open(conf->database, conf->db_sync_full, err, sizeof(err));

	if (db == NULL)
		fprintf(stderr, "acmebridge: %s\n", err);
	return db;
}

/* ---- inventory ----------------------------------------------------- */

struct inv {
	const struct px_life_opts *o;
	int export_all;
	json_t *arr; /* --json */
	int n;
};

static const char *
day(long long t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
	return buf;
}

/* One CSV field, quoted when it holds a separator, quote or line end. */
static void
csv_field(const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n") != NULL) {
		putchar('"');
		for (; *s != '\0'; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static json_t *
row_json(const struct acme_inv_row *r, int with_chain)
{
	const struct acme_life_cert *c = r->c;
	char nb[32], na[32];
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "serial", c->serial, "names", c->names ? c->names : "",
	    "not_before", acme_time_str(c->not_before, nb, sizeof(nb)),
	    "not_after", acme_time_str(c->not_after, na, sizeof(na)), "status",
	    r->status, "ssl_id", c->ca_ref, "account", r->account, "order",
	    r->order, "connector", c->connector, "profile", c->profile,
	    "predecessor", r->predecessor_serial, "successor",
	    r->successor_serial);

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "scm_status", json_string(c->scm_status));
	json_object_set_new(o, "source", json_string(c->source));
	json_object_set_new(o, "issuer_key_id", json_string(c->aki));
	if (c->scm_reason[0] != '\0')
		json_object_set_new(
		    o, "scm_reason", json_string(c->scm_reason));
	if (with_chain && c->chain_pem != NULL)
		json_object_set_new(o, "chain_pem", json_string(c->chain_pem));
	return o;
}

static void
inv_row(const struct acme_inv_row *r, void *arg)
{
	struct inv *st = arg;
	const struct acme_life_cert *c = r->c;
	char nb[32], na[32];

	st->n++;
	if (st->o->json) {
		json_t *o = row_json(r, 0);
		if (o != NULL)
			json_array_append_new(st->arr, o);
		return;
	}
	if (st->o->csv) {
		csv_field(c->serial, 0);
		csv_field(c->names ? c->names : "", 0);
		csv_field(acme_time_str(c->not_before, nb, sizeof(nb)), 0);
		csv_field(acme_time_str(c->not_after, na, sizeof(na)), 0);
		csv_field(r->status, 0);
		csv_field(c->ca_ref, 0);
		csv_field(r->account, 0);
		csv_field(r->order, 0);
		csv_field(c->connector, 0);
		csv_field(c->profile, 0);
		csv_field(r->predecessor_serial, 0);
		csv_field(r->successor_serial, 0);
		csv_field(c->scm_status, 0);
		csv_field(c->source, 1);
		return;
	}
	printf("%-34s %-9s %-10s %-10s %-8s %-10s %-12s %s\n", c->serial,
	    r->status, day(c->not_before, nb, sizeof(nb)),
	    day(c->not_after, na, sizeof(na)), c->ca_ref, c->connector,
	    c->profile[0] ? c->profile : "-", c->names ? c->names : "");
	if (r->predecessor_serial[0] != '\0')
		printf("%-34s renews %s\n", "", r->predecessor_serial);
}

static int
inv_filter(const struct px_life_opts *o, struct acme_inv_filter *f)
{
	static const char *const statuses[] = {
	    "valid", "revoked", "revoking", "expired", "replaced", NULL};

	memset(f, 0, sizeof(*f));
	f->connector = o->connector;
	f->account = o->account;
	f->name = o->name;
	f->profile = o->profile;
	f->status = o->status;
	f->now = time(NULL);
	f->limit = o->limit;
	if (o->expiring_days > 0)
		f->expiring_before = f->now + o->expiring_days * 86400;
	if (o->status != NULL) {
		size_t i = 0;
		while (statuses[i] != NULL && strcmp(statuses[i], o->status))
			i++;
		if (statuses[i] == NULL) {
			fprintf(stderr,
			    "acmebridge: --status: must be valid, revoked, "
			    "revoking, expired or replaced\n");
			return -1;
		}
	}
	return 0;
}

/* A serial as an operator types it (colons, upper case, leading zeros)
 * into the stored form. */
static int
norm_serial(const char *in, char *out, size_t len)
{
	size_t j = 0;

	for (; *in != '\0'; in++) {
		char ch = *in;
		if (ch == ':' || ch == ' ')
			continue;
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return -1;
		if (j == 0 && ch == '0')
			continue;
		if (j + 2 > len)
			return -1;
		out[j++] = ch;
	}
	if (j == 0)
		return -1;
	out[j] = '\0';
	/* stored serials are whole bytes */
	if (j % 2 == 1) {
		if (j + 2 > len)
			return -1;
		memmove(out + 1, out, j + 1);
		out[0] = '0';
	}
	return 0;
}

int
px_cmd_inventory(
    struct px_conf *conf, int argc, char **argv, const struct px_life_opts *o)
{
	struct inv st = {o, 0, NULL, 0};
	struct acme_inv_filter f;
	struct acme_db *db;
	char serial[80];
	int rc = 1, n;

	if (argc < 1 ||
	    (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "show") != 0 &&
	        strcmp(argv[0], "export") != 0)) {
		fprintf(stderr,
		    "usage: acmebridge inventory list|export -c "
		    "CONFIG [filters] [--json|--csv]\n"
		    "       acmebridge inventory show -c CONFIG "
		    "SERIAL\n");
		return 2;
	}
	if (inv_filter(o, &f) != 0)
		return 2;
	if (strcmp(argv[0], "show") == 0) {
		if (argc != 2 || norm_serial(argv[1], serial, sizeof(serial))) {
			fprintf(stderr,
			    "acmebridge: inventory show: give one "
			    "serial in hex\n");
			return 2;
		}
		f.serial = serial;
	}
	db = open_db(conf);
	if (db == NULL)
		return 1;
	if (strcmp(argv[0], "export") == 0 && !o->json && !o->csv)
		((struct px_life_opts *)o)->csv =
		    1; /* export: CSV by default */
	if (strcmp(argv[0], "show") == 0)
		((struct px_life_opts *)o)->json = 1;
	if (o->json)
		st.arr = json_array();
	if (o->csv)
		printf("serial,names,not_before,not_after,status,ssl_id,"
		       "account,order,connector,profile,predecessor,"
		       "successor,scm_status,source\n");
	else if (!o->json)
		printf("%-34s %-9s %-10s %-10s %-8s %-10s %-12s %s\n", "SERIAL",
		    "STATUS", "FROM", "UNTIL", "SSLID", "CONNECTOR", "PROFILE",
		    "NAMES");
	n = acme_life_inventory(db, &f, inv_row, &st);
	if (n < 0) {
		fprintf(stderr, "acmebridge: inventory: database error\n");
		goto out;
	}
	if (strcmp(argv[0], "show") == 0) {
		if (n == 0) {
			fprintf(stderr,
			    "acmebridge: no certificate with serial %s\n",
			    serial);
			goto out;
		}
		json_dumpf(json_array_get(st.arr, 0), stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (o->json) {
		json_dumpf(st.arr, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	rc = 0;
out:
	json_decref(st.arr);
	acme_db_close(db);
	return rc;
}

/* ---- the CA from the command line ------------------------------------ */

struct cli_ca {
	struct event_base *base;
	struct evcurl *ec;
	struct acme_ca *ca;
};

static int
cli_ca_open(struct px_conf *conf, const char *name, struct cli_ca *c)
{
	const struct px_connector *pc = px_conf_connector(conf, name);
	struct sectigo_conf sc;

	memset(c, 0, sizeof(*c));
	if (pc == NULL) {
		fprintf(stderr, "acmebridge: no connector named \"%s\" in %s\n",
		    name, conf->path);
		return -1;
	}
	c->base = event_base_new();
	c->ec = c->base != NULL ? evcurl_new(c->base) : NULL;
	if (c->ec == NULL)
		return -1;
	px_connector_sectigo(pc, 30, &sc);
	c->ca = sectigo_ca_new(&sc, c->base, c->ec);
	return c->ca != NULL ? 0 : -1;
}

static void
cli_ca_close(struct cli_ca *c)
{
	if (c->ca != NULL)
		c->ca->ops->free(c->ca);
	evcurl_free(c->ec);
	if (c->base != NULL)
		event_base_free(c->base);
}

/* One CA call's outcome, copied out of its callback. */
struct outcome {
	struct event_base *base;
	int done;
	enum acme_ca_status status;
	char *chain;
	char error[512];
};

static void
on_outcome(void *arg, const struct acme_ca_result *res)
{
	struct outcome *o = arg;

	o->done = 1;
	o->status = res->status;
	free(o->chain);
	o->chain = res->chain_pem ? strdup(res->chain_pem) : NULL;
	snprintf(
	    o->error, sizeof(o->error), "%s", res->error ? res->error : "");
	event_base_loopbreak(o->base);
}

/* ---- sync ----------------------------------------------------------- */

struct sync_wait {
	struct event_base *base;
	int failed;
};

static void
sync_done(void *arg, const struct px_sync_result *r)
{
	struct sync_wait *w = arg;

	if (r->error != NULL) {
		printf("  failed: %s\n", r->error);
		w->failed = 1;
	} else {
		printf("  %d report rows, %d changes\n", r->rows, r->changed);
	}
	event_base_loopbreak(w->base);
}

int
px_cmd_sync(struct px_conf *conf, const struct px_life_opts *o)
{
	struct acme_db *db = open_db(conf);
	int failures = 0;

	if (db == NULL)
		return 1;
	if (o->connector != NULL &&
	    px_conf_connector(conf, o->connector) == NULL) {
		fprintf(stderr,
		    "acmebridge: --connector: no connector named "
		    "\"%s\"\n",
		    o->connector);
		acme_db_close(db);
		return 2;
	}
	for (size_t i = 0; i < conf->n_connectors; i++) {
		const char *name = conf->connectors[i].name;
		struct sync_wait w = {0};
		struct cli_ca c;

		if (o->connector != NULL && strcmp(o->connector, name) != 0)
			continue;
		printf("connector %s\n", name);
		if (cli_ca_open(conf, name, &c) != 0) {
			cli_ca_close(&c);
			failures++;
			continue;
		}
		w.base = c.base;
		if (px_sync_start(c.base, db, c.ca, name, sync_done, &w) ==
		    NULL) {
			printf("  failed: the sync could not start\n");
			w.failed = 1;
		} else {
			event_base_dispatch(c.base);
		}
		failures += w.failed;
		cli_ca_close(&c);
	}
	acme_db_close(db);
	return failures == 0 ? 0 : 1;
}

/* ---- reissue ---------------------------------------------------------- */

/* The CSR file: PEM, its names (sorted set) and CN. */
static int
read_csr(const char *path, struct acme_csr *csr, char **pem_out)
{
	struct acme_problem p = {0};
	BIO *bio = BIO_new_file(path, "r");
	X509_REQ *req =
	    bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	char *b64 = NULL;
	int len, rc = -1;

	if (req == NULL) {
		fprintf(stderr,
		    "acmebridge: --csr: %s: not a PEM certificate request\n",
		    path);
		goto out;
	}
	len = i2d_X509_REQ(req, &der);
	if (len <= 0 || (b64 = b64url_encode_alloc(der, (size_t)len)) == NULL)
		goto out;
	if (acme_csr_parse(b64, csr, &p) != 0) {
		fprintf(stderr, "acmebridge: --csr: %s\n", p.detail);
		acme_problem_clear(&p);
		goto out;
	}
	*pem_out = strdup(csr->pem);
	rc = *pem_out != NULL ? 0 : -1;
out:
	OPENSSL_free(der);
	free(b64);
	X509_REQ_free(req);
	BIO_free(bio);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
px_cmd_reissue(
    struct px_conf *conf, int argc, char **argv, const struct px_life_opts *o)
{
	struct acme_csr csr = {0};
	struct acme_life_cert lc = {0};
	struct acme_db *db = NULL;
	struct cli_ca c = {0};
	struct outcome out = {0};
	const char **names = NULL;
	const char *reason =
	    o->reason != NULL ? o->reason : "reissued by the operator";
	char serial[80], *pem = NULL, *set = NULL, err[256];
	long long deadline, id;
	size_t len = 1;
	int rc = 1;

	if (argc != 1 || o->csr_file == NULL ||
	    norm_serial(argv[0], serial, sizeof(serial)) != 0) {
		fprintf(stderr,
		    "usage: acmebridge reissue -c CONFIG SERIAL "
		    "--csr FILE [--reason TEXT] [--out FILE]\n");
		return 2;
	}
	if (strlen(reason) < 1 || strlen(reason) > 512) {
		fprintf(stderr, "acmebridge: --reason: 1 to 512 characters\n");
		return 2;
	}
	if (read_csr(o->csr_file, &csr, &pem) != 0)
		return 2;
	db = open_db(conf);
	if (db == NULL)
		goto done;
	switch (acme_life_cert_by_serial(db, serial, NULL, &lc)) {
	case ACME_ERR:
		fprintf(stderr, "acmebridge: database error\n");
		goto done;
	case ACME_NONE:
		fprintf(stderr, "acmebridge: no certificate with serial %s\n",
		    serial);
		goto done;
	case ACME_FOUND:
		break;
	}
	if (lc.status != ACME_CERT_VALID) {
		fprintf(stderr,
		    "acmebridge: serial %s is revoked: SCM does not reissue "
		    "revoked certificates; order a new one\n",
		    serial);
		goto done;
	}
	names = calloc(csr.n_names + 1, sizeof(*names));
	if (names == NULL)
		goto done;
	for (size_t i = 0; i < csr.n_names; i++) {
		names[i] = csr.names[i].value;
		len += strlen(names[i]) + 2;
	}
	if (cli_ca_open(conf, lc.connector, &c) != 0 ||
	    c.ca->ops->replace == NULL)
		goto done;
	{
		struct acme_ca_enroll e = {
		    .tag = "",
		    .csr_pem = pem,
		    .names = names,
		    .n_names = csr.n_names,
		    .cn = csr.cn,
		};

		out.base = c.base;
		if (c.ca->ops->replace(
		        c.ca, lc.ca_ref, &e, reason, on_outcome, &out) != 0) {
			fprintf(stderr,
			    "acmebridge: the SCM call could not "
			    "start\n");
			goto done;
		}
		event_base_dispatch(c.base);
	}
	if (out.status != ACME_CA_OK) {
		fprintf(stderr, "acmebridge: SCM refused the reissue: %s\n",
		    out.error);
		goto done;
	}
	acme_store_audit(
	    db, time(NULL), "certificate.reissue", lc.serial, reason);
	printf("SCM accepted the reissue of sslId %s (serial %s)\n", lc.ca_ref,
	    lc.serial);
	fflush(stdout);
	/* the replacement shares the sslId: collect until another serial
	 * comes back */
	qsort(names, csr.n_names, sizeof(*names), cmp_str);
	set = calloc(1, len);
	for (size_t i = 0; set != NULL && i < csr.n_names; i++)
		sprintf(set + strlen(set), "%s%s", i ? ", " : "", names[i]);
	deadline = time(NULL) + (o->wait_seconds > 0 ? o->wait_seconds : 120);
	for (;;) {
		struct acme_cert_info info;
		struct acme_problem p = {0};

		out.done = 0;
		if (c.ca->ops->collect(c.ca, lc.ca_ref, on_outcome, &out) != 0)
			goto done;
		event_base_dispatch(c.base);
		if (out.status == ACME_CA_OK && out.chain != NULL &&
		    acme_cert_info_pem(out.chain, &info, &p) == 0 &&
		    strcmp(info.serial_hex, lc.serial) != 0)
			break;
		acme_problem_clear(&p);
		if (out.status == ACME_CA_FAILED) {
			fprintf(stderr, "acmebridge: collect: %s\n", out.error);
			goto done;
		}
		if (time(NULL) >= deadline) {
			printf("the new certificate is not issued yet; the "
			       "server's SCM sync (or `acmebridge sync`) "
			       "stores it when it is\n");
			rc = 0;
			goto done;
		}
		sleep(2);
	}
	id = px_sync_add_successor(
	    db, &lc, out.chain, "reissue", set, err, sizeof(err));
	if (id < 0) {
		fprintf(stderr, "acmebridge: %s\n", err);
		goto done;
	}
	{
		struct acme_cert_info info;
		struct acme_problem p = {0};

		if (acme_cert_info_pem(out.chain, &info, &p) == 0)
			printf("new serial %s replaces %s\n", info.serial_hex,
			    lc.serial);
		acme_problem_clear(&p);
	}
	if (o->out_file != NULL) {
		FILE *f = fopen(o->out_file, "w");
		if (f == NULL || fputs(out.chain, f) < 0) {
			fprintf(stderr, "acmebridge: --out: %s: %s\n",
			    o->out_file, strerror(errno));
			if (f != NULL)
				fclose(f);
			goto done;
		}
		fclose(f);
	} else {
		fputs(out.chain, stdout);
	}
	rc = 0;
done:
	free(out.chain);
	free(set);
	free(names);
	free(pem);
	acme_csr_free(&csr);
	acme_life_cert_clear(&lc);
	cli_ca_close(&c);
	if (db != NULL)
		acme_db_close(db);
	return rc;
}

/* ---- revoke ------------------------------------------------------------ */

static int
reason_code(const char *s)
{
	static const struct {
		const char *name;
		int code;
	} r[] = {{"unspecified", 0}, {"keyCompromise", 1},
	    {"affiliationChanged", 3}, {"superseded", 4},
	    {"cessationOfOperation", 5}};

	if (s == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (strcasecmp(s, r[i].name) == 0 ||
		    (s[0] == (char)('0' + r[i].code) && s[1] == '\0'))
			return r[i].code;
	return -1;
}

int
px_cmd_revoke(
    struct px_conf *conf, int argc, char **argv, const struct px_life_opts *o)
{
	struct acme_life_cert lc = {0};
	struct acme_db *db;
	char serial[80];
	long long job = -1, deadline;
	int reason = reason_code(o->reason), changed, rc = 1;

	if (argc != 1 || norm_serial(argv[0], serial, sizeof(serial)) != 0) {
		fprintf(stderr,
		    "usage: acmebridge revoke -c CONFIG SERIAL "
		    "[--reason R]\n");
		return 2;
	}
	if (reason < 0) {
		fprintf(stderr,
		    "acmebridge: --reason: one of unspecified, keyCompromise, "
		    "affiliationChanged, superseded, cessationOfOperation (or "
		    "0, 1, 3, 4, 5)\n");
		return 2;
	}
	db = open_db(conf);
	if (db == NULL)
		return 1;
	if (acme_life_cert_by_serial(db, serial, NULL, &lc) != ACME_FOUND) {
		fprintf(stderr, "acmebridge: no certificate with serial %s\n",
		    serial);
		goto out;
	}
	if (acme_db_begin(db) != 0)
		goto out;
	changed = acme_store_cert_revoking(db, lc.id, reason);
	if (changed == 1)
		job = acme_store_job_add_id(
		    db, "revoke", lc.id, reason, (long long)time(NULL));
	if (changed < 0 || (changed == 1 && job < 0) ||
	    (changed == 1 &&
	        acme_store_audit(db, (long long)time(NULL),
	            "certificate.revoke.operator", lc.crt_id,
	            lc.serial) != 1) ||
	    acme_db_commit(db) != 0) {
		acme_db_rollback(db);
		fprintf(stderr, "acmebridge: database error\n");
		goto out;
	}
	if (changed == 0) {
		if (acme_store_job_queued_for(db, "revoke", lc.id, &job) !=
		    ACME_FOUND) {
			fprintf(stderr,
			    "acmebridge: serial %s is already "
			    "revoked\n",
			    serial);
			goto out;
		}
	}
	printf("revocation of serial %s queued (job %lld); the running "
	       "server sends it to SCM\n",
	    serial, job);
	fflush(stdout);
	deadline = time(NULL) + (o->wait_seconds > 0 ? o->wait_seconds : 120);
	while (time(NULL) < deadline) {
		struct acme_job_state js;

		if (acme_store_job_state(db, job, &js) == ACME_FOUND &&
		    js.state != ACME_JOB_QUEUED) {
			if (js.state == ACME_JOB_DONE) {
				printf("revoked in SCM\n");
				rc = 0;
			} else {
				fprintf(stderr,
				    "acmebridge: SCM refused the revocation: "
				    "%s\n",
				    js.last_error);
			}
			goto out;
		}
		usleep(250000);
	}
	printf("not confirmed within %d seconds: is `acmebridge serve` "
	       "running? The job stays queued.\n",
	    o->wait_seconds > 0 ? o->wait_seconds : 120);
	rc = 3;
out:
	acme_life_cert_clear(&lc);
	acme_db_close(db);
	return rc;
}
