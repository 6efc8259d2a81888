/* SPDX-License-Identifier: Apache-2.0 */
/* Durable job runner: validation and CA work, resumed from SQLite. */
#include "proxy/jobs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "acme/csr.h"
#include "acme/jws.h"
#include "acme/life.h"
#include "acme/state.h"
#include "acme/store.h"
#include "contrib/clock.h"
#include "contrib/evcurl.h"
#include "contrib/log.h"
#include "proxy/commit.h"
#include "proxy/dcv.h"
#include "proxy/sync.h"
#include "proxy/validate.h"
#include "sectigo/sectigo.h"

/* enroll after a crash or a lost reply: how many searches by tag (and
 * how far apart, seconds) before the order is enrolled anew */
#define RECONCILE_SEARCHES 3
#define RECONCILE_WAIT 10
/* collect: how long an sslId SCM does not know is retried (SCM's list
 * and details may lag behind an enrollment) */
#define NOTFOUND_GRACE (3600)
#define TICK_MS 200
/* the longest wait between two tries of CA work: the attempts of a job
 * add up over its phases (search, enroll, collect), and a flaky SCM that
 * fails one call in three must not park an order for minutes */
#define MAX_BACKOFF_MS 60000
#define PURGE_EVERY 3600         /* seconds between purges */
#define PURGE_AFTER (30 * 86400) /* finished jobs kept this long */

struct backend {
	const char *name;              /* pc->name */
	const struct px_connector *pc; /* its settings (profiles, renew_via):
					  the live configuration's, or a
					  retired one's once removed */
	int removed; /* gone from the configuration: finishes what was
			started (orders, revocations), no more syncs */
	struct acme_ca *ca;
	struct px_jobs *j;
	struct px_sync *sync; /* the report sync pass running, or NULL */
	long long sync_check; /* unix s of the last look at sync_state */
};

struct px_jobs {
	struct event_base *base;
	const struct px_conf *conf;
	struct px_commit *commit;
	struct acme_db *db; /* the serving thread's, in batch mode */
	struct evcurl *ec;
	struct px_validator *val;
	struct backend **backends; /* one per connector ever configured */
	size_t n_backends;
	struct acme_ca **old_cas; /* replaced by a reload; their calls in
				     flight finish; freed with the runner */
	size_t n_old_cas;
	size_t n_due; /* entries in due */
	struct event *tick;
	struct event *wake;
	struct task *tasks;   /* in flight */
	int n_busy[2];        /* in flight per enum acme_job_pool */
	struct acme_job *due; /* room for the due jobs of the larger pool */
	long long last_purge; /* unix time of the last finished-jobs purge */
	struct px_dcv *dcv;   /* Sectigo DCV engine */
	px_jobs_notify_fn *notify; /* state changed: wake parked requests */
	void *notify_arg;
};

/* One job in flight. */
struct task {
	struct px_jobs *j;
	struct acme_job job;
	struct acme_ca_enroll enroll; /* enroll: sent once durable */
	enum acme_job_pool pool;
	struct acme_ca *ca;
	char *csr;    /* enroll: CSR PEM */
	char **names; /* enroll: SAN list */
	size_t n_names;
	char *cn; /* enroll: the CSR's CN (what SCM files it under) or NULL */
	char tag[64];      /* enroll: order oid */
	char ca_ref[128];  /* revoke: the CA's id of the certificate */
	char failkey[300]; /* validate: rate-limit key of its failures */
	int step;          /* enroll: 0 find, 1 submit */
	int cert_type;     /* enroll: the order's profile */
	int term;
	long org_id;
	char renew_ref[128];  /* enroll: renew this sslId (renewById), or "" */
	char connector[128];  /* enroll: the order's connector */
	char chall_type[16];  /* validate: for its log event */
	char ident[256];      /* validate: the identifier's value */
	long long account_id; /* validate: the challenge's account */
	struct task *next;
};

static void
changed(struct px_jobs *j)
{
	if (j->notify != NULL)
		j->notify(j->notify_arg);
}

void
px_jobs_set_notify(struct px_jobs *j, px_jobs_notify_fn *fn, void *arg)
{
	j->notify = fn;
	j->notify_arg = arg;
}

static struct backend *
backend_get(struct px_jobs *j, const char *name)
{
	for (size_t i = 0; i < j->n_backends; i++)
		if (strcmp(j->backends[i]->name, name) == 0)
			return j->backends[i];
	return NULL;
}

static struct acme_ca *
backend_for(struct px_jobs *j, const char *name)
{
	struct backend *b = backend_get(j, name);

	return b != NULL ? b->ca : NULL;
}

static void
task_free(struct task *t)
{
	struct task **pp;

	for (pp = &t->j->tasks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			t->j->n_busy[t->pool]--;
			break;
		}
	}
	for (size_t i = 0; i < t->n_names; i++)
		free(t->names[i]);
	free(t->names);
	free(t->cn);
	free(t->csr);
	free(t);
}

static int
in_flight(struct px_jobs *j, long long id)
{
	for (struct task *t = j->tasks; t != NULL; t = t->next)
		if (t->job.id == id)
			return 1;
	return 0;
}

/*
 * An order's event, keyed by what an operator looks up: the order's
 * URL token, its account's and its connector's names (two point reads on
 * the serving thread; orders end once). duration_ms: since the job was
 * queued (finalize), for events that end the order.
 */
static void order_event(struct task *t, enum log_level lvl, const char *event,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void
order_event(
    struct task *t, enum log_level lvl, const char *event, const char *fmt, ...)
{
	struct acme_order o = {0};
	struct acme_account a = {0};
	char msg[1024];
	va_list ap;
	int have_o, have_a = 0;

	if ((int)lvl > (int)log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	have_o = acme_store_order(t->j->db, t->job.ref, &o) == ACME_FOUND;
	if (have_o)
		have_a = acme_store_account_by_id(t->j->db, o.account_id, &a) ==
		    ACME_FOUND;
	log_event(lvl, event,
	    (struct log_kv[]){LOG_S("order", have_o ? o.oid : NULL),
	        LOG_S("account", have_a ? a.kid : NULL),
	        LOG_S("connector", have_o ? o.connector : NULL),
	        LOG_I("duration_ms",
	            t->job.created > 0
	                ? clock_wall_ms() - t->job.created * 1000LL
	                : 0),
	        LOG_I("order_id", t->job.ref), LOG_S("job", t->job.kind),
	        LOG_END},
	    "%s", msg);
	acme_order_clear(&o);
	acme_account_clear(&a);
}

/* The order fails for good with why (the client sees it). */
static void
order_failed(struct task *t, const char *why, long long now)
{
	order_event(t, LOG_LVL_WARN, "order.invalid", "order failed: %s", why);
	acme_state_order_failed(t->j->db, &t->job, why, now);
}

/* Back off after a transient failure: 1 s doubling to a minute, or the
 * CA's hint; the order fails with the last error only after
 * jobs.ca_give_up_hours. */
static void
retry_later(struct task *t, const char *error, int hint)
{
	long long delay = 1000LL << (t->job.attempts < 9 ? t->job.attempts : 9);
	long long now = time(NULL);
	long long give_up = (long long)t->j->conf->ca_give_up_hours * 3600;

	if (delay > MAX_BACKOFF_MS)
		delay = MAX_BACKOFF_MS;
	/* spread the retries of many orders hit by one outage: up to a
	 * quarter of the delay either way */
	delay += ((long long)(random() % 501) - 250) * delay / 1000;
	if (hint > 0)
		delay = hint * 1000LL; /* the CA's Retry-After as given */
	/* CA work is retried while SCM is unreachable, pending or refusing
	 * for now, until a deadline counted from finalize (not a number of
	 * attempts: an SCM outage of a day must not fail orders that SCM
	 * would still issue). Revocations are never given up. */
	if (strcmp(t->job.kind, "revoke") != 0 && t->job.created > 0 &&
	    now - t->job.created >= give_up) {
		order_event(t, LOG_LVL_ERR, "order.give_up",
		    "giving up after %lld hours (jobs.ca_give_up_hours)",
		    (now - t->job.created) / 3600);
		order_failed(t, error, now);
		changed(t->j);
		return;
	}
	log_event(LOG_LVL_INFO, "job.retry",
	    (struct log_kv[]){LOG_I("job_id", t->job.id),
	        LOG_S("job", t->job.kind), LOG_I("ref", t->job.ref),
	        LOG_I("delay_ms", delay), LOG_END},
	    "retry in %lld ms: %s", delay, error);
	acme_job_retry(
	    t->j->db, t->job.id, clock_wall_ms() + delay, error, now);
}

/* The database could not be read: nothing is settled, the job runs again
 * in a few seconds (a database error is never "gone", nor "valid"). */
static void
db_retry(struct task *t)
{
	log_err("job=%lld kind=%s ref=%lld: database error, retrying",
	    t->job.id, t->job.kind, t->job.ref);
	acme_job_retry(t->j->db, t->job.id, clock_wall_ms() + 2000,
	    "database error", time(NULL));
}

/* ---- validate ----------------------------------------------------- */

static void
validated(void *arg, const struct acme_problem *prob)
{
	struct task *t = arg;

	if (prob != NULL) {
		log_event(LOG_LVL_INFO, "challenge.invalid",
		    (struct log_kv[]){LOG_I("job_id", t->job.id),
		        LOG_I("challenge_id", t->job.ref),
		        LOG_I("account_id", t->account_id),
		        LOG_S("type", t->chall_type),
		        LOG_S("identifier", t->ident),
		        LOG_S("problem", prob->type), LOG_END},
		    "challenge invalid: %s", prob->detail);
		/* the client's failures count, not ours */
		if (t->j->conf->acme.rl != NULL && t->failkey[0] != '\0' &&
		    strcmp(prob->type, "serverInternal") != 0)
			acme_rl_take(t->j->conf->acme.rl, t->failkey,
			    &t->j->conf->acme.limits.failed_validations,
			    (long long)time(NULL) * 1000, 1);
	} else {
		log_event(LOG_LVL_INFO, "challenge.valid",
		    (struct log_kv[]){LOG_I("job_id", t->job.id),
		        LOG_I("challenge_id", t->job.ref),
		        LOG_I("account_id", t->account_id),
		        LOG_S("type", t->chall_type),
		        LOG_S("identifier", t->ident), LOG_END},
		    "challenge valid");
	}
	if (acme_state_chall_done(t->j->db, &t->job, prob,
	        t->j->conf->acme.authz_reuse > 0 ? t->j->conf->acme.authz_reuse
	                                         : 86400,
	        time(NULL)) != 0) {
		/* rolled back: the job stays queued and validates again */
		log_err(
		    "job=%lld: cannot store the validation result", t->job.id);
		db_retry(t);
	}
	changed(t->j);
	task_free(t);
}

static int
start_validate(struct task *t)
{
	struct acme_problem p = {0};
	struct px_validation v;
	struct acme_chall_target ct;
	enum acme_found found;
	json_t *jwk = NULL;
	char thumb[44];
	char *ka = NULL;
	int rc = -1;

	found = acme_store_chall_target(t->j->db, t->job.ref, &ct);
	if (found == ACME_ERR) {
		db_retry(t);
		goto out;
	}
	if (found == ACME_NONE || ct.status != ACME_CHALL_PROCESSING) {
		/* nothing left to validate: close the job, validate nothing
		 * (review finding 3: this path once reused the success
		 * branch) */
		if (acme_state_job_close(t->j->db, &t->job,
		        "challenge no longer processing", time(NULL)) != 0)
			db_retry(t);
		goto out;
	}
	acme_failed_validation_key(
	    ct.account_id, ct.id_value, t->failkey, sizeof(t->failkey));
	snprintf(t->chall_type, sizeof(t->chall_type), "%s", ct.type);
	snprintf(t->ident, sizeof(t->ident), "%s", ct.id_value);
	t->account_id = ct.account_id;
	jwk = json_loads(ct.jwk, 0, NULL);
	if (jwk != NULL && acme_jwk_thumbprint(jwk, thumb) == 0)
		ka = acme_key_authz(ct.token, thumb);
	if (ka == NULL) {
		/* settle the challenge rather than leave a job that fails
		 * again on every tick */
		acme_problem_set(&p, 500, "serverInternal",
		    "the key authorization could not be computed");
		validated(t, &p);
		acme_problem_clear(&p);
		rc = 0;
		goto out;
	}
	v.chall_type = ct.type;
	v.id_type = ct.id_type;
	v.id_value = ct.id_value;
	v.token = ct.token;
	v.key_authz = ka;
	if (px_validate(t->j->val, &v, validated, t) != 0) {
		acme_problem_set(&p, 500, "serverInternal",
		    "the validation could not be started");
		validated(t, &p);
		acme_problem_clear(&p);
	}
	rc = 0;
out:
	free(ka);
	json_decref(jwk);
	acme_chall_target_clear(&ct);
	return rc;
}

/* ---- enroll / find / collect ---------------------------------------- */

static void enroll_step(struct task *t);

/* An order's CA call failed: for good (the order fails with the CA's
 * words) or for now (retry later). */
static void
order_trouble(
    struct task *t, const struct acme_ca_result *res, const char *refused)
{
	if (res->status == ACME_CA_FAILED) {
		order_failed(t, res->error ? res->error : refused, time(NULL));
		changed(t->j);
		return;
	}
	retry_later(
	    t, res->error ? res->error : "CA not reachable", res->retry_after);
}

static void
enroll_done(void *arg, const struct acme_ca_result *res)
{
	struct task *t = arg;
	long long now = time(NULL);

	switch (res->status) {
	case ACME_CA_OK:
		order_event(t, LOG_LVL_INFO,
		    t->step == 0 ? "order.reconciled" : "order.enrolled",
		    "%s: ca_ref=%s",
		    t->step == 0 ? "reconciled with an earlier enrollment"
		                 : "enrolled",
		    res->ca_ref);
		acme_state_enrolled(
		    t->j->db, &t->job, res->ca_ref, t->step == 0, now);
		changed(t->j);
		px_jobs_kick(t->j);
		break;
	case ACME_CA_NOTFOUND:
		/* SCM's list may lag behind an enrollment it just accepted:
		 * search again a little later before concluding that the
		 * earlier attempt never reached it (attempts counts the first
		 * send too, so this is one or two more searches) */
		if (t->step == 0 && t->job.attempts < RECONCILE_SEARCHES) {
			retry_later(t,
			    "no enrollment found with our tag yet; searching"
			    " again before enrolling",
			    RECONCILE_WAIT);
			break;
		}
		/* the earlier attempt never reached the CA: send it now */
		t->step = 1;
		enroll_step(t);
		return;
	default:
		order_trouble(t, res, "the CA refused the enrollment");
		break;
	}
	task_free(t);
}

/* The sending marker is durable: only now may the CA see the request. */
static void
enroll_send(void *arg, int ok)
{
	struct task *t = arg;

	if (!ok) {
		/* the marker's batch was lost: the job is still due as it
		 * was and starts over from the database */
		task_free(t);
		return;
	}
	if ((t->renew_ref[0] != '\0' ? t->ca->ops->renew(t->ca, t->renew_ref,
	                                   t->csr, enroll_done, t)
	                             : t->ca->ops->submit(t->ca, &t->enroll,
	                                   enroll_done, t)) != 0) {
		retry_later(t, "the CA call could not be started", 0);
		task_free(t);
	}
}

/*
 * The order's profile into the task (cert type, term, organization),
 * and with renew_via renewById, the enrollment to renew: the
 * predecessor's, when the names and the profile did not change. A
 * renewById carries no tag, so a crash between its sending and its reply
 * cannot be reconciled: the order is then enrolled anew (one extra
 * enrollment at worst, never a lost order). @return 0, or -1 when the
 * profile is gone (the order failed).
 */
static int
enroll_profile(struct task *t, const struct acme_order *o)
{
	const struct backend *b = backend_get(t->j, o->connector);
	const struct px_connector *pc = b != NULL ? b->pc : NULL;
	const struct px_profile *pp =
	    pc != NULL ? px_connector_profile(pc, o->profile) : NULL;
	struct acme_life_cert pred;
	char why[400];

	if (pp == NULL) {
		snprintf(why, sizeof(why),
		    "profile \"%s\" of connector \"%s\" is no longer "
		    "configured",
		    o->profile, o->connector);
		order_failed(t, why, time(NULL));
		changed(t->j);
		return -1;
	}
	t->cert_type = pp->cert_type;
	t->term = pp->term;
	t->org_id = pp->org_id;
	t->renew_ref[0] = '\0';
	if (!pc->renew_by_id || o->predecessor == 0 ||
	    o->enroll_state == ACME_ENROLL_SENDING ||
	    t->ca->ops->renew == NULL ||
	    acme_life_cert(t->j->db, o->predecessor, &pred) != ACME_FOUND)
		return 0;
	if (pred.names != NULL && o->name_set != NULL &&
	    strcmp(pred.names, o->name_set) == 0 &&
	    strcmp(pred.profile, pp->name) == 0 &&
	    strcmp(pred.connector, o->connector) == 0)
		snprintf(t->renew_ref, sizeof(t->renew_ref), "%s", pred.ca_ref);
	acme_life_cert_clear(&pred);
	return 0;
}

/* find: an sslId another order of ours holds is not the one sought (a
 * database error answers "not known": the lookup then decides) */
static int
ref_known(void *arg, const char *ca_ref)
{
	struct task *t = arg;

	return acme_life_ref_known(t->j->db, t->connector, ca_ref) ==
	    ACME_FOUND;
}

static void
enroll_step(struct task *t)
{
	t->enroll = (struct acme_ca_enroll){
	    .tag = t->tag,
	    .csr_pem = t->csr,
	    .names = (const char *const *)t->names,
	    .n_names = t->n_names,
	    .cn = t->cn,
	    .validity_days = t->term,
	    .cert_type = t->cert_type,
	    .org_id = t->org_id,
	    .known = ref_known,
	    .known_arg = t,
	};
	if (t->step == 1) {
		/* crash marker first: once it is durable, a restart looks
		 * the enrollment up before it ever sends another one */
		if (acme_state_enroll_sending(
		        t->j->db, t->job.ref, &t->job, time(NULL)) != 0 ||
		    px_commit_after(t->j->commit, enroll_send, t) != 0) {
			retry_later(t, "database busy", 1);
			task_free(t);
		}
		return;
	}
	if (t->ca->ops->find(t->ca, &t->enroll, enroll_done, t) != 0) {
		retry_later(t, "the CA call could not be started", 0);
		task_free(t);
	}
}

/* The DCV gate's verdict on an order never sent to SCM. */
static void
gate_done(void *arg, enum px_gate v, const char *why)
{
	struct task *t = arg;

	switch (v) {
	case PX_GATE_GO:
		enroll_step(t);
		return;
	case PX_GATE_WAIT:
		/* woken early when the run ends (acme_jobs_wake_enroll) */
		log_event(LOG_LVL_INFO, "dcv.wait",
		    (struct log_kv[]){LOG_I("order_id", t->job.ref), LOG_END},
		    "%s", why);
		acme_job_retry(t->j->db, t->job.id,
		    clock_wall_ms() + t->j->conf->dcv.poll_seconds * 1000LL,
		    why, time(NULL));
		break;
	case PX_GATE_FAIL:
		order_failed(t, why, time(NULL));
		changed(t->j);
		break;
	case PX_GATE_RETRY:
		retry_later(t, why ? why : "DCV check failed", 0);
		break;
	}
	task_free(t);
}

static int
start_enroll(struct task *t)
{
	struct acme_order o;
	enum acme_found found;
	json_t *ids, *v;
	size_t i;

	found = acme_store_order(t->j->db, t->job.ref, &o);
	if (found == ACME_ERR) {
		db_retry(t);
		return -1;
	}
	if (found == ACME_NONE || o.status != ACME_ORDER_PROCESSING) {
		/* the order moved on (or is gone): nothing to enroll */
		if (acme_state_job_close(t->j->db, &t->job,
		        "order is not processing", time(NULL)) != 0)
			db_retry(t);
		acme_order_clear(&o);
		changed(t->j);
		return -1;
	}
	t->ca = backend_for(t->j, o.connector);
	if (t->ca == NULL) {
		order_failed(t,
		    "the order's CA connector is no longer configured",
		    time(NULL));
		acme_order_clear(&o);
		changed(t->j);
		return -1;
	}
	if (enroll_profile(t, &o) != 0) {
		acme_order_clear(&o);
		return -1;
	}
	snprintf(t->tag, sizeof(t->tag), "%s", o.oid);
	snprintf(t->connector, sizeof(t->connector), "%s", o.connector);
	t->csr = strdup(o.csr_pem != NULL ? o.csr_pem : "");
	t->cn = acme_csr_pem_cn(t->csr);
	ids = json_loads(o.identifiers, 0, NULL);
	t->names = calloc(json_array_size(ids) + 1, sizeof(char *));
	if (t->csr == NULL || ids == NULL || t->names == NULL) {
		json_decref(ids);
		acme_order_clear(&o);
		return -1;
	}
	json_array_foreach(ids, i, v)
		t->names[t->n_names++] =
		    strdup(json_string_value(json_object_get(v, "value")));
	json_decref(ids);
	/* sending: an earlier attempt may have reached SCM (crash or lost
	 * reply): find it by tag before enrolling again */
	t->step = o.enroll_state == ACME_ENROLL_SENDING ? 0 : 1;
	/* Sectigo DCV first, for orders never sent: the CA refuses names
	 * whose domain has no current validation */
	if (t->j->conf->dcv.enabled && t->step == 1 &&
	    t->ca->ops->domain_find != NULL) {
		int rc = px_dcv_gate(t->j->dcv, t->ca, o.connector, t->names,
		    t->n_names, t->job.created, gate_done, t);
		acme_order_clear(&o);
		if (rc != 0)
			retry_later(t, "the DCV check could not start", 0);
		return rc;
	}
	acme_order_clear(&o);
	enroll_step(t);
	return 0;
}

/*
 * SCM holds the enrollment until an administrator approves it: the order
 * stays processing (its Retry-After grows, see acme.approval_retry_after)
 * for jobs.approval_wait_hours, and is collected every
 * jobs.approval_poll_seconds (the report sync wakes it sooner).
 */
static void
awaiting_approval(struct task *t)
{
	long long now = time(NULL);
	long long wait = (long long)t->j->conf->approval_wait_hours * 3600;
	char why[200];

	if (t->job.created > 0 && now - t->job.created >= wait) {
		snprintf(why, sizeof(why),
		    "no SCM administrator approved the request within %d "
		    "hours (jobs.approval_wait_hours)",
		    t->j->conf->approval_wait_hours);
		order_failed(t, why, now);
		changed(t->j);
		return;
	}
	if (acme_life_order_ca_status(t->j->db, t->job.ref, "Requested") > 0)
		order_event(t, LOG_LVL_INFO, "order.approval_wait",
		    "waiting for an SCM administrator's approval");
	acme_life_job_wait(t->j->db, t->job.id,
	    clock_wall_ms() + t->j->conf->approval_poll * 1000LL,
	    "awaiting approval in SCM", now);
}

static void
collected(void *arg, const struct acme_ca_result *res)
{
	struct task *t = arg;
	long long now = time(NULL);

	switch (res->status) {
	case ACME_CA_OK:
		if (acme_state_issued_alt(t->j->db, &t->job, res->chain_pem,
		        res->alt_chain_pem, now) != 0)
			retry_later(t, "database busy", 1);
		else
			order_event(t, LOG_LVL_INFO, "order.issued",
			    "certificate issued");
		changed(t->j);
		break;
	case ACME_CA_PENDING:
		if (res->ca_status != NULL &&
		    strcmp(res->ca_status, "Requested") == 0) {
			awaiting_approval(t);
			break;
		}
		/* an administrator approved it: look again soon, not after
		 * the backoff the approval wait built up (orders that never
		 * waited write nothing here) */
		if (res->ca_status != NULL &&
		    acme_life_order_approved(
		        t->j->db, t->job.ref, res->ca_status) > 0)
			retry_later(t, "being processed by the CA",
			    res->retry_after > 0 ? res->retry_after : 1);
		else
			retry_later(
			    t, "being processed by the CA", res->retry_after);
		break;
	case ACME_CA_NOTFOUND:
		if (t->job.created > 0 &&
		    now - t->job.created < NOTFOUND_GRACE) {
			retry_later(
			    t, res->error ? res->error : "not found", 0);
			break;
		}
		order_failed(t,
		    res->error ? res->error : "SCM does not know the sslId",
		    now);
		changed(t->j);
		break;
	default:
		order_trouble(t, res, "the CA refused the collection");
		break;
	}
	task_free(t);
}

static int
start_collect(struct task *t)
{
	struct acme_order o;
	enum acme_found found;
	int rc = -1;

	found = acme_store_order(t->j->db, t->job.ref, &o);
	if (found == ACME_ERR) {
		db_retry(t);
		goto out;
	}
	if (found == ACME_NONE || o.status != ACME_ORDER_PROCESSING) {
		if (acme_state_job_close(t->j->db, &t->job,
		        "order is not processing", time(NULL)) != 0)
			db_retry(t);
		changed(t->j);
		goto out;
	}
	t->ca = backend_for(t->j, o.connector);
	if (t->ca == NULL) {
		order_failed(t,
		    "the order's CA connector is no longer configured",
		    time(NULL));
		changed(t->j);
		goto out;
	}
	if (t->ca->ops->collect(t->ca, o.ca_ref, collected, t) != 0) {
		retry_later(t, "the CA call could not be started", 0);
		goto out;
	}
	rc = 0;
out:
	acme_order_clear(&o);
	return rc;
}

static void
revoked(void *arg, const struct acme_ca_result *res)
{
	struct task *t = arg;

	if (res->status == ACME_CA_OK || res->status == ACME_CA_FAILED) {
		acme_state_revoke_done(t->j->db, &t->job,
		    res->status == ACME_CA_OK, res->error ? res->error : "",
		    time(NULL));
		changed(t->j);
	} else {
		retry_later(t, res->error ? res->error : "CA not reachable",
		    res->retry_after);
	}
	task_free(t);
}

static void
revoke_send(void *arg, int ok)
{
	struct task *t = arg;

	if (!ok) {
		task_free(t);
		return;
	}
	if (t->ca->ops->revoke(t->ca, t->ca_ref, (int)t->job.arg, revoked, t) !=
	    0) {
		retry_later(t, "the CA call could not be started", 0);
		task_free(t);
	}
}

static int
start_revoke(struct task *t)
{
	struct acme_cert_ref c;
	enum acme_found found;

	found = acme_store_cert_ref(t->j->db, t->job.ref, &c);
	if (found == ACME_ERR) {
		/* never "revocation failed" on a read error */
		db_retry(t);
		return -1;
	}
	if (found == ACME_NONE) {
		acme_state_revoke_done(t->j->db, &t->job, 0,
		    "the certificate is no longer stored", time(NULL));
		return -1;
	}
	t->ca = backend_for(t->j, c.connector);
	if (t->ca == NULL) {
		acme_state_revoke_done(t->j->db, &t->job, 0,
		    "the certificate's CA connector is no longer configured",
		    time(NULL));
		return -1;
	}
	snprintf(t->ca_ref, sizeof(t->ca_ref), "%s", c.ca_ref);
	/* the request that queued this job may still be in the open batch:
	 * SCM revokes only what the database durably asked for */
	if (px_commit_after(t->j->commit, revoke_send, t) != 0) {
		retry_later(t, "out of memory", 0);
		return -1;
	}
	return 0;
}

/* ---- DCV ------------------------------------------------------------- */

static void
dcv_done(void *arg)
{
	struct task *t = arg;

	changed(t->j);
	px_jobs_kick(t->j);
	task_free(t);
}

static struct acme_ca *
dcv_backend(void *arg, const char *name)
{
	return backend_for(arg, name);
}

/* ---- the loop ------------------------------------------------------- */

static int
start_task(struct task *t)
{
	if (strcmp(t->job.kind, "validate") == 0)
		return start_validate(t);
	if (strcmp(t->job.kind, "enroll") == 0)
		return start_enroll(t);
	if (strcmp(t->job.kind, "collect") == 0)
		return start_collect(t);
	if (strcmp(t->job.kind, "revoke") == 0)
		return start_revoke(t);
	if (strcmp(t->job.kind, "dcv") == 0 ||
	    strcmp(t->job.kind, "dnsclean") == 0)
		return px_dcv_job(t->j->dcv, &t->job, dcv_done, t);
	return -1;
}

/* Start the due jobs of one pool while it has free slots. */
static void
run_pool(struct px_jobs *j, enum acme_job_pool pool, int slots)
{
	struct acme_job *due = j->due;
	int n;

	if (j->n_busy[pool] >= slots)
		return;
	n = acme_jobs_due_pool(j->db, clock_wall_ms(), pool, due, slots);
	for (int i = 0; i < n && j->n_busy[pool] < slots; i++) {
		struct task *t;

		if (in_flight(j, due[i].id))
			continue;
		t = calloc(1, sizeof(*t));
		if (t == NULL)
			return;
		t->j = j;
		t->job = due[i];
		t->pool = pool;
		t->next = j->tasks;
		j->tasks = t;
		j->n_busy[pool]++;
		log_debug("job=%lld kind=%s ref=%lld attempt=%d", t->job.id,
		    t->job.kind, t->job.ref, t->job.attempts);
		if (start_task(t) != 0)
			task_free(t);
	}
}

static void
run_due(struct px_jobs *j)
{
	run_pool(j, ACME_POOL_CA, j->conf->ca_slots);
	run_pool(j, ACME_POOL_VALIDATE, j->conf->validation_slots);
}

/* Finished job rows are kept a while for operators (last_error), then
 * dropped; dead orders and authorizations after jobs.retention_days; the
 * audit table for good unless jobs.audit_retention_days says otherwise. */
static void
purge_jobs(struct px_jobs *j)
{
	long long now = time(NULL);
	int n;

	if (now - j->last_purge < PURGE_EVERY)
		return;
	j->last_purge = now;
	n = acme_jobs_purge(j->db, now - PURGE_AFTER);
	if (n > 0)
		log_event(LOG_LVL_INFO, "jobs.purge",
		    (struct log_kv[]){LOG_I("jobs", n), LOG_END},
		    "jobs: purged %d finished jobs older than %d days", n,
		    PURGE_AFTER / 86400);
	n = acme_state_purge(j->db,
	    now - (long long)j->conf->retention_days * 86400,
	    j->conf->audit_retention_days > 0
	        ? now - (long long)j->conf->audit_retention_days * 86400
	        : 0);
	if (n > 0)
		log_info(
		    "retention: dropped %d orders and authorizations unused"
		    " for %d days (jobs.retention_days)",
		    n, j->conf->retention_days);
}

static void
sync_done(void *arg, const struct px_sync_result *r)
{
	struct backend *b = arg;

	b->sync = NULL;
	if (r->error != NULL)
		log_event(LOG_LVL_WARN, "sync.failed",
		    (struct log_kv[]){LOG_S("connector", b->name), LOG_END},
		    "sync %s: %s (the next pass starts from the last complete "
		    "one)",
		    b->name, r->error);
	else
		log_event(LOG_LVL_INFO, "sync.done",
		    (struct log_kv[]){LOG_S("connector", b->name),
		        LOG_I("rows", r->rows), LOG_I("changes", r->changed),
		        LOG_END},
		    "sync %s: %d report rows, %d changes", b->name, r->rows,
		    r->changed);
	if (r->changed > 0) {
		changed(b->j);
		px_jobs_kick(b->j);
	}
}

/* The SCM report sync, every jobs.sync_interval_minutes per connector;
 * when it last ran is in the database, so a restart keeps the rhythm. */
static void
sync_due(struct px_jobs *j)
{
	long long now = time(NULL);

	if (j->conf->sync_interval <= 0)
		return;
	for (size_t i = 0; i < j->n_backends; i++) {
		struct backend *b = j->backends[i];
		struct acme_sync_state st;

		if (b->removed || b->sync != NULL || now - b->sync_check < 30)
			continue;
		b->sync_check = now;
		if (acme_life_sync_get(j->db, b->name, &st) == ACME_ERR ||
		    now - st.last_run < j->conf->sync_interval * 60LL)
			continue;
		b->j = j;
		b->sync =
		    px_sync_start(j->base, j->db, b->ca, b->name, sync_done, b);
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct px_jobs *j = arg;

	(void)fd;
	(void)what;
	px_dcv_tick(j->dcv);
	sync_due(j);
	run_due(j);
	purge_jobs(j);
}

void
px_jobs_kick(struct px_jobs *j)
{
	event_active(j->wake, EV_READ, 0);
}

void
px_jobs_kick_cb(void *j)
{
	px_jobs_kick(j);
}

struct px_jobs *
px_jobs_new(struct event_base *base, const struct px_conf *conf,
    struct px_commit *commit, char *err, size_t errlen)
{
	struct px_jobs *j = calloc(1, sizeof(*j));
	struct timeval tv = {0, TICK_MS * 1000};

	if (j == NULL) {
		snprintf(err, errlen, "jobs: out of memory");
		return NULL;
	}
	j->base = base;
	j->conf = conf;
	j->commit = commit;
	j->db = px_commit_db(commit);
	j->ec = evcurl_new(base);
	j->val =
	    j->ec ? px_validator_new(base, j->ec, &conf->validation) : NULL;
	j->backends = calloc(conf->n_connectors, sizeof(*j->backends));
	j->n_due = (size_t)(conf->validation_slots > conf->ca_slots
	        ? conf->validation_slots
	        : conf->ca_slots);
	j->due = calloc(j->n_due, sizeof(*j->due));
	if (j->due == NULL) {
		snprintf(err, errlen, "jobs: out of memory");
		goto fail;
	}
	if (j->ec == NULL || j->val == NULL || j->backends == NULL) {
		snprintf(err, errlen,
		    "jobs: cannot start the HTTP client or the validator "
		    "(validation.dns_resolver?)");
		goto fail;
	}
	for (size_t i = 0; i < conf->n_connectors; i++) {
		const struct px_connector *pc = &conf->connectors[i];
		struct sectigo_conf sc;

		px_connector_sectigo(pc, 30, &sc);
		j->backends[i] = calloc(1, sizeof(*j->backends[i]));
		if (j->backends[i] == NULL) {
			snprintf(err, errlen, "jobs: out of memory");
			goto fail;
		}
		j->n_backends = i + 1;
		j->backends[i]->name = pc->name;
		j->backends[i]->pc = pc;
		j->backends[i]->ca = sectigo_ca_new(&sc, base, j->ec);
		if (j->backends[i]->ca == NULL) {
			snprintf(err, errlen,
			    "config: connectors[%zu]: the SCM backend could "
			    "not "
			    "be created (see the log line above)",
			    i);
			goto fail;
		}
	}
	j->dcv = px_dcv_new(base, conf, commit, dcv_backend, j);
	if (j->dcv == NULL) {
		snprintf(err, errlen, "jobs: cannot start the DNS workers");
		goto fail;
	}
	j->tick = event_new(base, -1, EV_PERSIST, on_tick, j);
	j->wake = event_new(base, -1, 0, on_tick, j);
	if (j->tick == NULL || j->wake == NULL) {
		snprintf(err, errlen, "jobs: out of memory");
		goto fail;
	}
	event_add(j->tick, &tv);
	/* resume whatever was queued before the last stop */
	event_active(j->wake, EV_READ, 0);
	return j;
fail:
	px_jobs_free(j);
	return NULL;
}

void
px_jobs_free(struct px_jobs *j)
{
	if (j == NULL)
		return;
	/* backends first: they cancel their calls without callbacks */
	for (size_t i = 0; i < j->n_backends; i++) {
		if (j->backends[i]->ca != NULL)
			j->backends[i]->ca->ops->free(j->backends[i]->ca);
		px_sync_abandon(j->backends[i]->sync);
		free(j->backends[i]);
	}
	for (size_t i = 0; i < j->n_old_cas; i++)
		j->old_cas[i]->ops->free(j->old_cas[i]);
	free(j->old_cas);
	px_validator_free(j->val);
	px_dcv_free(j->dcv);
	while (j->tasks != NULL)
		task_free(j->tasks);
	evcurl_free(j->ec);
	if (j->tick != NULL)
		event_free(j->tick);
	if (j->wake != NULL)
		event_free(j->wake);
	free(j->backends);
	free(j->due);
	free(j);
}

/* The connector's settings as SCM sees them, compared field by field: an
 * unchanged connector keeps its backend (token, connections, slots). */
static int
streq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
same_connector(const struct px_connector *a, const struct px_connector *b)
{
	if (!streq(a->type, b->type) || !streq(a->base_url, b->base_url) ||
	    !streq(a->auth, b->auth) || !streq(a->token_url, b->token_url) ||
	    !streq(a->client_id, b->client_id) ||
	    !streq(a->client_secret, b->client_secret) ||
	    !streq(a->login, b->login) || !streq(a->password, b->password) ||
	    !streq(a->customer_uri, b->customer_uri) ||
	    !streq(a->ca_file, b->ca_file) ||
	    !streq(a->external_requester, b->external_requester) ||
	    a->org_id != b->org_id || a->cert_type != b->cert_type ||
	    a->validity_days != b->validity_days ||
	    a->max_concurrent != b->max_concurrent ||
	    a->n_profiles != b->n_profiles)
		return 0;
	for (size_t i = 0; i < a->n_profiles; i++) {
		const struct px_profile *p = &a->profiles[i],
		                        *q = &b->profiles[i];
		if (!streq(p->name, q->name) || p->cert_type != q->cert_type ||
		    p->term != q->term || p->org_id != q->org_id)
			return 0;
	}
	return 1;
}

int
px_jobs_reconfigure(
    struct px_jobs *j, const struct px_conf *nc, char *err, size_t errlen)
{
	struct acme_ca **fresh = NULL, **old_cas = NULL;
	struct backend **bs = NULL, *b;
	struct acme_job *due = NULL;
	size_t n_due, n_new = 0, n_bs = j->n_backends;
	int rc = -1;

	/* everything that can fail first, with nothing changed yet */
	n_due =
	    (size_t)(nc->validation_slots > nc->ca_slots ? nc->validation_slots
	                                                 : nc->ca_slots);
	if (n_due > j->n_due) {
		due = calloc(n_due, sizeof(*due));
		if (due == NULL)
			goto oom;
	}
	fresh = calloc(nc->n_connectors + 1, sizeof(*fresh));
	bs = calloc(j->n_backends + nc->n_connectors, sizeof(*bs));
	old_cas = calloc(j->n_old_cas + nc->n_connectors + 1, sizeof(*old_cas));
	if (fresh == NULL || bs == NULL || old_cas == NULL)
		goto oom;
	memcpy(bs, j->backends, j->n_backends * sizeof(*bs));
	for (size_t i = 0; i < nc->n_connectors; i++) {
		const struct px_connector *pc = &nc->connectors[i];
		struct sectigo_conf sc;

		b = backend_get(j, pc->name);
		if (b != NULL && same_connector(b->pc, pc))
			continue;
		px_connector_sectigo(pc, 30, &sc);
		fresh[i] = sectigo_ca_new(&sc, j->base, j->ec);
		if (fresh[i] == NULL) {
			snprintf(err, errlen,
			    "config: connectors[%zu]: the SCM backend could "
			    "not "
			    "be created (see the log line above)",
			    i);
			goto out;
		}
		if (b == NULL) {
			bs[n_bs] = calloc(1, sizeof(*bs[n_bs]));
			if (bs[n_bs] == NULL)
				goto oom;
			n_bs++;
		}
	}
	/* nothing fails from here on */
	if (j->n_old_cas > 0)
		memcpy(old_cas, j->old_cas, j->n_old_cas * sizeof(*old_cas));
	free(j->old_cas);
	j->old_cas = old_cas;
	old_cas = NULL;
	for (size_t i = 0; i < j->n_backends; i++)
		j->backends[i]->removed = 1;
	for (size_t i = 0; i < nc->n_connectors; i++) {
		const struct px_connector *pc = &nc->connectors[i];

		b = backend_get(j, pc->name);
		if (b == NULL) {
			b = bs[j->n_backends + n_new++];
			b->ca = fresh[i];
			log_event(LOG_LVL_NOTICE, "config.connector",
			    (struct log_kv[]){LOG_S("connector", pc->name),
			        LOG_S("change", "added"), LOG_END},
			    "config reload: connector %s added", pc->name);
		} else if (fresh[i] != NULL) {
			/* calls in flight finish on the old backend (their
			 * tasks hold it); new calls go to the new one */
			j->old_cas[j->n_old_cas++] = b->ca;
			b->ca = fresh[i];
			log_event(LOG_LVL_NOTICE, "config.connector",
			    (struct log_kv[]){LOG_S("connector", pc->name),
			        LOG_S("change", "changed"), LOG_END},
			    "config reload: connector %s changed", pc->name);
		}
		fresh[i] = NULL;
		b->name = pc->name;
		b->pc = pc;
		b->removed = 0;
		b->j = j;
	}
	for (size_t i = 0; i < j->n_backends; i++)
		if (j->backends[i]->removed)
			log_event(LOG_LVL_NOTICE, "config.connector",
			    (struct log_kv[]){
			        LOG_S("connector", j->backends[i]->name),
			        LOG_S("change", "removed"), LOG_END},
			    "config reload: connector %s removed (what it "
			    "started finishes)",
			    j->backends[i]->name);
	free(j->backends);
	j->backends = bs;
	j->n_backends = n_bs;
	bs = NULL;
	if (due != NULL) {
		free(j->due);
		j->due = due;
		j->n_due = n_due;
		due = NULL;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "jobs: out of memory");
out:
	if (fresh != NULL)
		for (size_t i = 0; i < nc->n_connectors; i++)
			if (fresh[i] != NULL)
				fresh[i]->ops->free(fresh[i]);
	if (bs != NULL)
		for (size_t i = j->n_backends; i < n_bs; i++)
			free(bs[i]);
	free(bs);
	free(fresh);
	free(old_cas);
	free(due);
	return rc;
}
