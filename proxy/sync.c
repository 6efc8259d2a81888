/* SPDX-License-Identifier: Apache-2.0 */
/* SCM report sync (proxy/sync.h). */
#include "proxy/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "acme/csr.h"
#include "contrib/b64url.h"
#include "contrib/clock.h"
#include "contrib/log.h"

/* a first pass looks this far back (longer than any certificate lives) */
#define FIRST_LOOKBACK (400LL * 86400)
/* later passes overlap the last complete one by a day: the report counts
 * whole UTC days, and SCM may date a change a little before we saw it */
#define OVERLAP 86400LL
/* successors to collect in one pass, at most */
#define MAX_COLLECT 64

/* The report queries of a pass: revocations, issuances (a replacement is
 * a new issuance of an existing sslId), requests (approvals, declines) */
static const int date_attrs[] = {2, 5, 4};
#define N_QUERIES (sizeof(date_attrs) / sizeof(date_attrs[0]))

struct px_sync {
	struct acme_db *db;
	struct acme_ca *ca;
	char connector[128];
	px_sync_done_fn *done;
	void *arg;
	struct event_base *base;
	struct event *timer;
	long long now, from;
	size_t query; /* index into date_attrs */
	int rows, changed;
	char error[256];
	long long collect[MAX_COLLECT]; /* predecessor rows to collect */
	char collect_ref[MAX_COLLECT][128];
	size_t n_collect, next_collect;
};

long long
px_sync_add_successor(struct acme_db *db, const struct acme_life_cert *pred,
    const char *chain_pem, const char *source, const char *names, char *err,
    size_t errlen)
{
	struct acme_problem prob = {0};
	struct acme_cert_info info;
	struct acme_life_cert dup;
	unsigned char rnd[16];
	char crt_id[32], ref[128];
	long long id = -1;

	if (acme_cert_info_pem(chain_pem, &info, &prob) != 0) {
		snprintf(err, errlen,
		    "SCM returned a chain that does not "
		    "parse: %s",
		    prob.detail);
		acme_problem_clear(&prob);
		return -1;
	}
	switch (acme_life_cert_by_serial(db, info.serial_hex,
	    info.aki_b64url[0] ? info.aki_b64url : NULL, &dup)) {
	case ACME_FOUND:
		acme_life_cert_clear(&dup);
		return 0;
	case ACME_ERR:
		snprintf(err, errlen, "database error");
		return -1;
	case ACME_NONE:
		break;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "no random bytes");
		return -1;
	}
	b64url_encode(rnd, sizeof(rnd), crt_id);
	if (acme_db_begin(db) != 0) {
		snprintf(err, errlen, "database busy");
		return -1;
	}
	{
		struct acme_cert_new c = {
		    .crt_id = crt_id,
		    .order_id = pred->order_id,
		    .account_id = pred->account_id,
		    .serial_hex = info.serial_hex,
		    .spki_sha256 = info.spki_sha256,
		    .chain_pem = chain_pem,
		    .not_before = info.not_before,
		    .not_after = info.not_after,
		    .connector = pred->connector,
		    .ca_ref = pred->ca_ref,
		    .created = time(NULL),
		    .profile = pred->profile[0] ? pred->profile : NULL,
		    .names = names != NULL ? names : pred->names,
		    .aki = info.aki_b64url[0] ? info.aki_b64url : NULL,
		    .predecessor = pred->id,
		    .source = source,
		};

		id = acme_store_cert_add(db, &c);
	}
	snprintf(ref, sizeof(ref), "serial=%s", pred->serial);
	if (id < 0 || acme_life_cert_replaced(db, pred->id, id) < 0 ||
	    acme_life_cert_scm(db, pred->id, "Replaced",
	        "reissued by SCM with a new serial", time(NULL)) < 0 ||
	    acme_store_audit(db, time(NULL), "certificate.replaced", ref,
	        info.serial_hex) != 1 ||
	    acme_db_commit(db) != 0) {
		acme_db_rollback(db);
		snprintf(err, errlen, "database error");
		return -1;
	}
	return id;
}

static void next_query(struct px_sync *p);

static void
first_query(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	next_query(arg);
}

static void
finish(struct px_sync *p)
{
	struct acme_sync_state st;
	struct px_sync_result r = {
	    p->rows, p->changed, p->error[0] ? p->error : NULL};

	if (acme_life_sync_get(p->db, p->connector, &st) == ACME_ERR)
		memset(&st, 0, sizeof(st));
	st.last_run = p->now;
	if (p->error[0] == '\0') {
		st.last_ok = p->now;
		st.last_error[0] = '\0';
	} else {
		snprintf(st.last_error, sizeof(st.last_error), "%s", p->error);
	}
	st.rows = p->rows;
	if (acme_life_sync_put(p->db, p->connector, &st) != 1)
		log_event(LOG_LVL_ERR, "sync.state_error",
		    (struct log_kv[]){
		        LOG_S("connector", p->connector), LOG_END},
		    "sync %s: the sync state could not be stored",
		    p->connector);
	p->done(p->arg, &r);
	px_sync_abandon(p);
}

static void collect_next(struct px_sync *p);

static void
collected(void *arg, const struct acme_ca_result *res)
{
	struct px_sync *p = arg;
	struct acme_life_cert pred;
	size_t i = p->next_collect - 1;
	char err[256];
	long long id;

	if (res->status != ACME_CA_OK) {
		/* a reissue SCM has not finished: the next pass sees it */
		log_event(LOG_LVL_INFO, "sync.pending",
		    (struct log_kv[]){
		        LOG_S("connector", p->connector), LOG_END},
		    "sync %s: sslId %s: the new certificate is not "
		    "collectable yet: %s",
		    p->connector, p->collect_ref[i],
		    res->error ? res->error : "pending");
		collect_next(p);
		return;
	}
	if (acme_life_cert(p->db, p->collect[i], &pred) != ACME_FOUND) {
		collect_next(p);
		return;
	}
	id = px_sync_add_successor(
	    p->db, &pred, res->chain_pem, "scm", NULL, err, sizeof(err));
	if (id < 0)
		log_event(LOG_LVL_WARN, "sync.error",
		    (struct log_kv[]){
		        LOG_S("connector", p->connector), LOG_END},
		    "sync %s: sslId %s: %s", p->connector, pred.ca_ref, err);
	else if (id > 0) {
		log_event(LOG_LVL_NOTICE, "sync.reissued",
		    (struct log_kv[]){
		        LOG_S("connector", p->connector), LOG_END},
		    "sync %s: sslId %s was reissued in SCM: serial %s "
		    "is replaced, its successor is stored",
		    p->connector, pred.ca_ref, pred.serial);
		p->changed++;
	}
	acme_life_cert_clear(&pred);
	collect_next(p);
}

static void
collect_next(struct px_sync *p)
{
	while (p->next_collect < p->n_collect) {
		size_t i = p->next_collect++;

		if (p->ca->ops->collect(
		        p->ca, p->collect_ref[i], collected, p) == 0)
			return;
	}
	finish(p);
}

/* Queue pred's enrollment for collection (once per pass). */
static void
want_collect(struct px_sync *p, const struct acme_life_cert *pred)
{
	for (size_t i = 0; i < p->n_collect; i++)
		if (p->collect[i] == pred->id)
			return;
	if (p->n_collect == MAX_COLLECT)
		return; /* the next pass takes the rest */
	p->collect[p->n_collect] = pred->id;
	snprintf(p->collect_ref[p->n_collect], sizeof(p->collect_ref[0]), "%s",
	    pred->ca_ref);
	p->n_collect++;
}

/* A serial as the CA port gives it (hex, no leading zeros) in the form
 * the store keeps: whole bytes, no leading zero byte. */
static void
serial_norm(const char *in, char *out, size_t len)
{
	size_t n;

	while (*in == '0')
		in++;
	n = strlen(in);
	snprintf(out, len, "%s%s", n % 2 ? "0" : "", in);
}

/* One report row: what SCM says of one enrollment. */
static void
apply_row(struct px_sync *p, const struct acme_ca_cert *r)
{
	struct acme_life_cert lc, old;
	const char *st = r->status != NULL ? r->status : "";
	char serial[80];

	p->rows++;
	if (r->ca_ref == NULL || r->ca_ref[0] == '\0')
		return;
	switch (acme_life_cert_by_ref(p->db, p->connector, r->ca_ref, &lc)) {
	case ACME_ERR:
		snprintf(p->error, sizeof(p->error), "database error");
		return;
	case ACME_NONE:
		/* not issued here yet: an order may be waiting for it (an
		 * approval, a decline): its collect job looks now */
		if (acme_life_wake_collect(
		        p->db, p->connector, r->ca_ref, clock_wall_ms()) > 0)
			p->changed++;
		return;
	case ACME_FOUND:
		break;
	}
	serial_norm(r->serial != NULL ? r->serial : "", serial, sizeof(serial));
	if (serial[0] != '\0' && strcmp(serial, lc.serial) != 0) {
		/* an older serial of ours, or a new one SCM issued */
		if (acme_life_cert_by_serial(p->db, serial, NULL, &old) ==
		    ACME_FOUND) {
			acme_life_cert_clear(&old);
		} else if (strcmp(st, "Issued") == 0) {
			want_collect(p, &lc);
		}
		acme_life_cert_clear(&lc);
		return;
	}
	if ((strcmp(st, "Revoked") == 0 || strcmp(st, "Expired") == 0 ||
	        strcmp(st, "Replaced") == 0 || strcmp(st, "Issued") == 0) &&
	    strcmp(st, lc.scm_status) != 0) {
		if (acme_life_cert_scm(
		        p->db, lc.id, st, r->reason, (long long)time(NULL)) < 0)
			snprintf(p->error, sizeof(p->error), "database error");
		else if (strcmp(st, "Issued") != 0) {
			log_event(LOG_LVL_NOTICE, "sync.status",
			    (struct log_kv[]){
			        LOG_S("connector", p->connector), LOG_END},
			    "sync %s: serial %s is %s in SCM", p->connector,
			    lc.serial, st);
			p->changed++;
		}
	}
	acme_life_cert_clear(&lc);
}

static void
reported(void *arg, const struct acme_ca_result *res)
{
	struct px_sync *p = arg;

	if (res->status != ACME_CA_OK) {
		snprintf(p->error, sizeof(p->error), "SCM report: %s",
		    res->error ? res->error : "failed");
		finish(p);
		return;
	}
	for (size_t i = 0; i < res->n_certs; i++)
		apply_row(p, &res->certs[i]);
	p->query++;
	next_query(p);
}

static void
next_query(struct px_sync *p)
{
	struct acme_ca_report_query q;

	if (p->error[0] != '\0' || p->query == N_QUERIES) {
		if (p->error[0] != '\0')
			finish(p);
		else
			collect_next(p);
		return;
	}
	q.status = 0;
	q.date_attr = date_attrs[p->query];
	q.from = p->from;
	q.to = p->now + 86400;
	if (p->ca->ops->report(p->ca, &q, reported, p) != 0) {
		snprintf(p->error, sizeof(p->error),
		    "the SCM report call could not start");
		finish(p);
	}
}

void
px_sync_abandon(struct px_sync *p)
{
	if (p == NULL)
		return;
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}

struct px_sync *
px_sync_start(struct event_base *base, struct acme_db *db, struct acme_ca *ca,
    const char *connector, px_sync_done_fn *done, void *arg)
{
	struct acme_sync_state st;
	struct timeval zero = {0, 0};
	struct px_sync *p;

	if (ca->ops->report == NULL || ca->ops->collect == NULL)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->db = db;
	p->ca = ca;
	p->base = base;
	p->done = done;
	p->arg = arg;
	p->now = time(NULL);
	snprintf(p->connector, sizeof(p->connector), "%s", connector);
	if (acme_life_sync_get(db, connector, &st) == ACME_ERR) {
		free(p);
		return NULL;
	}
	p->from =
	    st.last_ok > 0 ? st.last_ok - OVERLAP : p->now - FIRST_LOOKBACK;
	/* the first call starts from the loop, so done never runs inside
	 * this call */
	p->query = 0;
	p->timer = evtimer_new(p->base, first_query, p);
	if (p->timer == NULL || evtimer_add(p->timer, &zero) != 0) {
		px_sync_abandon(p);
		return NULL;
	}
	return p;
}
