/* SPDX-License-Identifier: Apache-2.0 */
/* Sectigo domain control validation on the job loop (see proxy/dcv.h). */
#include "proxy/dcv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/dcv.h"
#include "contrib/clock.h"
#include "contrib/log.h"
#include "contrib/metrics.h"
#include "dns/connector.h"
#include "dns/dnsq.h"
#include "dns/propagate.h"
#include "dns/resolve.h"
#include "proxy/dnscli.h"

#define DCV_BATCH 64     /* domains re-checked per scheduler pass */
#define DCV_CNAME_HOPS 8 /* follow_cname: CNAMEs followed at most */

struct run;
struct gate;

struct px_dcv {
	struct event_base *base;
	const struct px_conf *conf;
	struct px_commit *commit;
	struct acme_db *db;
	struct dnsq *q;
	px_dcv_backend_fn *backend;
	void *backend_arg;
	struct run *runs;
	struct gate *gates;
	long long last_check;     /* unix s of the last scheduler pass */
	int swept;                /* start-up sweep done */
	int refreshing;           /* scheduler status calls in flight */
	struct dns_resolver *res; /* follow_cname lookups, made on need */
};

/* One "dcv" or "dnsclean" job in flight. */
struct run {
	struct px_dcv *e;
	struct acme_job job;
	struct acme_dcv d;
	struct acme_dnsrec rec; /* the live record, when there is one */
	struct acme_ca *ca;
	const struct dns_zone *z;
	struct dns_prop *prop;
	char follow_name[300]; /* follow_cname: the name looked up now */
	int follow_hops;
	px_dcv_done_fn *done;
	void *arg;
	struct run *next;
};

/* One enroll gate in flight. */
struct gate {
	struct px_dcv *e;
	struct acme_ca *ca;
	char connector[128];
	char **names;
	size_t n, i;
	long long since;
	int waiting;   /* some domain has a run in progress */
	char why[512]; /* the first wait reason */
	px_gate_cb *cb;
	void *arg;
	int busy; /* a CA call is in flight */
	struct gate *next;
};

static long long
now_s(void)
{
	return (long long)time(NULL);
}

/* Lower case, no final dot, no "*." (DCV is per domain). */
static void
canon_name(const char *in, char *out, size_t len)
{
	size_t j = 0;

	if (strncmp(in, "*.", 2) == 0)
		in += 2;
	for (; *in != '\0' && j + 1 < len; in++)
		out[j++] = (char)tolower((unsigned char)*in);
	while (j > 0 && out[j - 1] == '.')
		j--;
	out[j] = '\0';
}

static int
is_ip(const char *s)
{
	return strchr(s, ':') != NULL || strspn(s, "0123456789.") == strlen(s);
}

/* ---- runs ---------------------------------------------------------- */

static void step(struct run *r);

static void
run_end(struct run *r)
{
	struct run **pp;

	for (pp = &r->e->runs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	dns_prop_cancel(r->prop);
	if (r->e->res != NULL)
		dns_lookup_cancel(r->e->res, r);
	if (r->done != NULL)
		r->done(r->arg);
	free(r);
}

/* Try the job again in delay seconds (connector or SCM trouble, or
 * waiting on SCM). */
static void
run_retry(struct run *r, int delay, const char *why)
{
	if (delay <= 0) {
		int a = r->job.attempts < 8 ? r->job.attempts : 8;
		delay = 1 << a;
		if (delay > 300)
			delay = 300;
	}
	log_event(LOG_LVL_INFO, "dcv.retry",
	    (struct log_kv[]){LOG_S("connector", r->d.connector),
	        LOG_S("domain", r->d.domain), LOG_END},
	    "dcv job=%lld %s: retry in %d s: %s", r->job.id,
	    r->d.domain[0] ? r->d.domain : "(record)", delay, why);
	acme_job_retry(r->e->db, r->job.id, clock_wall_ms() + delay * 1000LL,
	    why, now_s());
	run_end(r);
}

/* Change the run's state (one transaction with its audit line). */
static int
run_set(struct run *r, enum acme_dcv_state st, int ok, const char *host,
    const char *point, long long expires, long long deadline,
    const char *reason)
{
	struct acme_db *db = r->e->db;
	long long now = now_s();

	if (acme_db_begin(db) != 0)
		return -1;
	if (acme_dcv_set(db, r->d.id, st, ok, host, point, expires, deadline,
	        reason, now) != 1) {
		acme_db_rollback(db);
		return -1;
	}
	if (st == ACME_DCV_VALID || st == ACME_DCV_FAILED) {
		char detail[700];

		snprintf(detail, sizeof(detail), "%s %s%s%s", r->d.domain,
		    r->d.method, reason ? ": " : "", reason ? reason : "");
		if (acme_store_audit(db, now,
		        st == ACME_DCV_VALID ? "dcv.valid" : "dcv.failed",
		        r->d.domain, detail) != 1 ||
		    acme_store_job_finish(db, r->job.id, st == ACME_DCV_FAILED,
		        reason, now) != 1 ||
		    acme_jobs_wake_enroll(db, clock_wall_ms()) < 0) {
			acme_db_rollback(db);
			return -1;
		}
		if (st == ACME_DCV_VALID) {
			struct acme_scm_domain sd = {0};

			snprintf(sd.connector, sizeof(sd.connector), "%s",
			    r->d.connector);
			snprintf(sd.name, sizeof(sd.name), "%s", r->d.domain);
			sd.validated = 1;
			sd.expires = expires;
			sd.checked = now;
			if (acme_scmdom_put(db, &sd) != 1) {
				acme_db_rollback(db);
				return -1;
			}
		}
	}
	if (acme_db_commit(db) != 0)
		return -1;
	r->d.state = st;
	if (ok >= 0)
		r->d.outcome_ok = ok;
	/* the arguments may be the run's own fields */
	if (host != NULL && host != r->d.host)
		snprintf(r->d.host, sizeof(r->d.host), "%s", host);
	if (point != NULL && point != r->d.point)
		snprintf(r->d.point, sizeof(r->d.point), "%s", point);
	if (expires >= 0)
		r->d.expires = expires;
	if (deadline >= 0)
		r->d.deadline = deadline;
	if (reason != NULL && reason != r->d.reason)
		snprintf(r->d.reason, sizeof(r->d.reason), "%s", reason);
	return 0;
}

/* Go to state st and carry on at once; a database failure retries the
 * job (its row still says the old state). */
static void
advance(struct run *r, enum acme_dcv_state st, int ok, const char *host,
    const char *point, long long expires, const char *reason)
{
	if (run_set(r, st, ok, host, point, expires, -1, reason) != 0) {
		run_retry(r, 2, "database error");
		return;
	}
	if (st == ACME_DCV_VALID || st == ACME_DCV_FAILED) {
		log_event(st == ACME_DCV_VALID ? LOG_LVL_NOTICE : LOG_LVL_WARN,
		    st == ACME_DCV_VALID ? "dcv.valid" : "dcv.failed",
		    (struct log_kv[]){LOG_S("connector", r->d.connector),
		        LOG_S("domain", r->d.domain),
		        LOG_S("method", r->d.method),
		        LOG_I("duration_ms",
		            r->d.created > 0 ? (now_s() - r->d.created) * 1000
		                             : 0),
		        LOG_END},
		    "dcv %s (%s): %s%s%s", r->d.domain, r->d.method,
		    acme_dcv_state_str(st), reason ? ": " : "",
		    reason ? reason : "");
		mx_dcv_run(st == ACME_DCV_VALID);
		run_end(r);
		return;
	}
	step(r);
}

/* The run is over: remove its record first (unless there is none). */
static void
conclude(struct run *r, int ok, long long expires, const char *reason)
{
	advance(r, ACME_DCV_CLEANUP, ok, NULL, NULL, expires, reason);
}

static const char *
ca_words(const struct acme_ca_result *res, const char *dflt)
{
	return res->error != NULL ? res->error : dflt;
}

/* A CA call's transient failure retries; a permanent one ends the run
 * (through clean-up when a record may be out). */
static void
ca_trouble(struct run *r, const struct acme_ca_result *res, const char *what)
{
	char why[600];

	snprintf(
	    why, sizeof(why), "%s: %s", what, ca_words(res, "SCM refused"));
	if (res->status == ACME_CA_FAILED || res->status == ACME_CA_NOTFOUND) {
		if (r->d.state >= ACME_DCV_PUBLISH)
			conclude(r, 0, -1, why);
		else
			advance(r, ACME_DCV_FAILED, 0, NULL, NULL, -1, why);
		return;
	}
	run_retry(r, res->retry_after, why);
}

static int
margin_ok(const struct px_dcv *e, int validated, long long expires)
{
	return validated &&
	    expires > now_s() + (long long)e->conf->dcv.margin_days * 86400;
}

static void
on_started(void *arg, const struct acme_ca_result *res)
{
	struct run *r = arg;
	const struct acme_ca_dcv *d = res->dcv;
	char host[300], point[300];
	size_t hl, dl;

	if (res->status != ACME_CA_OK || d == NULL || d->host == NULL ||
	    d->point == NULL) {
		ca_trouble(r, res, "starting DCV");
		return;
	}
	canon_name(d->host, host, sizeof(host));
	snprintf(point, sizeof(point), "%s", d->point);
	if (strcmp(r->d.method, "cname") == 0)
		canon_name(d->point, point, sizeof(point));
	hl = strlen(host);
	dl = strlen(r->d.domain);
	/* SCM's answer is input: the record must sit at or under the domain
	 * being validated and be publishable */
	if (!dns_name_ok(host) ||
	    !(hl > dl && host[hl - dl - 1] == '.' &&
	        strcmp(host + hl - dl, r->d.domain) == 0) ||
	    (strcmp(r->d.method, "cname") == 0 ? !dns_name_ok(point)
	                                       : !dns_txt_ok(point))) {
		advance(r, ACME_DCV_FAILED, 0, NULL, NULL, -1,
		    "SCM returned a DCV record that cannot be published "
		    "(not under the domain, or not a valid value)");
		return;
	}
	if (run_set(r, ACME_DCV_PUBLISH, -1, host, point, -1,
	        now_s() + (long long)r->e->conf->dcv.timeout_minutes * 60,
	        NULL) != 0) {
		run_retry(r, 2, "database error");
		return;
	}
	step(r);
}

static void
on_status_start(void *arg, const struct acme_ca_result *res)
{
	struct run *r = arg;
	const struct acme_ca_dcv *d = res->dcv;

	if (res->status != ACME_CA_OK || d == NULL) {
		ca_trouble(r, res, "reading the DCV status");
		return;
	}
	if (margin_ok(r->e, d->validated, d->expires)) {
		advance(r, ACME_DCV_VALID, 1, NULL, NULL, d->expires,
		    "already validated in SCM");
		return;
	}
	if (r->ca->ops->dcv_start(
	        r->ca, r->d.domain, r->d.method, on_started, r) != 0)
		run_retry(r, 0, "the SCM call could not be started");
}

/* ---- publish / propagate / clean up -------------------------------- */

static void
rec_from_run(struct run *r, struct dns_record *dr)
{
	memset(dr, 0, sizeof(*dr));
	dr->zone = r->rec.zone;
	dr->name = r->rec.name;
	dr->type =
	    dns_rr_of(r->rec.type) == DNS_RR_CNAME ? DNS_RR_CNAME : DNS_RR_TXT;
	dr->value = r->rec.value;
	dr->ttl = r->z != NULL ? r->z->conn->ttl : 60;
}

static void
on_propagated(void *arg, int ok, const char *report)
{
	struct run *r = arg;
	char why[1400];

	r->prop = NULL;
	log_event(LOG_LVL_INFO,
	    ok ? "dcv.propagated" : "dcv.propagation_failed",
	    (struct log_kv[]){LOG_S("connector", r->d.connector),
	        LOG_S("domain", r->d.domain), LOG_END},
	    "dcv %s: propagation %s: %s", r->d.domain,
	    ok ? "complete" : "failed", report);
	if (!ok) {
		snprintf(why, sizeof(why),
		    "the DCV record %s did not reach every authoritative "
		    "server: %s",
		    r->d.host, report);
		conclude(r, 0, -1, why);
		return;
	}
	advance(r,
	    strcmp(r->d.method, "cname") == 0 ? ACME_DCV_SUBMIT : ACME_DCV_POLL,
	    -1, NULL, NULL, -1, NULL);
}

static void
on_presented(void *arg, const struct dns_outcome *o)
{
	struct run *r = arg;
	long long now = now_s();

	if (o->rc == DNS_OK) {
		if (acme_db_begin(r->e->db) != 0 ||
		    acme_dnsrec_set(r->e->db, r->rec.id, ACME_REC_PRESENT,
		        o->handle, NULL, now) != 1 ||
		    acme_dcv_set(r->e->db, r->d.id, ACME_DCV_PROPAGATE, -1,
		        NULL, NULL, -1, -1, NULL, now) != 1 ||
		    acme_db_commit(r->e->db) != 0) {
			acme_db_rollback(r->e->db);
			run_retry(r, 2, "database error");
			return;
		}
		r->d.state = ACME_DCV_PROPAGATE;
		step(r);
		return;
	}
	acme_dnsrec_set(
	    r->e->db, r->rec.id, ACME_REC_PRESENTING, NULL, o->msg, now);
	if (o->rc == DNS_TEMP)
		run_retry(r, o->retry_after, o->msg);
	else
		conclude(r, 0, -1, o->msg);
}

/* The journal row is durable: only now may the connector see it. */
static void
present_now(void *arg, int ok)
{
	struct run *r = arg;
	struct dns_record dr;

	if (!ok) {
		run_retry(r, 2, "database error");
		return;
	}
	rec_from_run(r, &dr);
	if (dnsq_call(r->e->q, DNSQ_PRESENT, r->z->conn, &dr, "", on_presented,
	        r) != 0)
		run_retry(r, 0, "the DNS call could not be queued");
}

/* Journal the record at name in zone z (durable before the connector
 * sees it), then present it. */
static void
journal_and_present(struct run *r, const char *name, const struct dns_zone *z)
{
	long long id;

	r->z = z;
	id = acme_dnsrec_add(r->e->db, r->d.id, z->conn->name, z->name, name,
	    strcmp(r->d.method, "cname") == 0 ? "CNAME" : "TXT", r->d.point,
	    now_s());
	if (id < 0 || acme_dnsrec_get(r->e->db, id, &r->rec) != ACME_FOUND) {
		run_retry(r, 2, "database error");
		return;
	}
	if (px_commit_after(r->e->commit, present_now, r) != 0)
		run_retry(r, 2, "database busy");
}

static void follow_cname(struct run *r, const char *name, int hops);

static void
on_cname(void *arg, const struct dns_answer *a)
{
	struct run *r = arg;
	const struct dns_zone *zt;
	char why[700], target[300];

	if (a->rc < 0) {
		run_retry(r, 0,
		    "looking up a CNAME at the DCV record's name "
		    "failed (validation.dns_resolver)");
		return;
	}
	if (a->n == 0) { /* no CNAME: the record goes where it is */
		zt = dns_zone_for(r->e->conf->dns, r->follow_name);
		journal_and_present(r, r->follow_name, zt);
		return;
	}
	snprintf(target, sizeof(target), "%s", a->vals[0]);
	zt = dns_zone_for(r->e->conf->dns, target);
	if (zt == NULL) {
		snprintf(why, sizeof(why),
		    "%s is a CNAME to %s, in no zone a DNS connector serves "
		    "(follow_cname)",
		    r->follow_name, target);
		advance(r, ACME_DCV_FAILED, 0, NULL, NULL, -1, why);
		return;
	}
	if (r->follow_hops >= DCV_CNAME_HOPS) {
		snprintf(why, sizeof(why), "%s: more than %d CNAMEs to follow",
		    r->d.host, DCV_CNAME_HOPS);
		advance(r, ACME_DCV_FAILED, 0, NULL, NULL, -1, why);
		return;
	}
	log_event(LOG_LVL_INFO, "dcv.cname",
	    (struct log_kv[]){LOG_S("connector", r->d.connector),
	        LOG_S("domain", r->d.domain), LOG_END},
	    "dcv %s: %s is a CNAME to %s (zone %s, connector %s)", r->d.domain,
	    r->follow_name, target, zt->name, zt->conn->name);
	if (zt->follow_cname) {
		follow_cname(r, target, r->follow_hops + 1);
		return;
	}
	journal_and_present(r, target, zt);
}

/* The zone says follow_cname: publish at the end of the CNAME chain
 * (bounded, and only into zones a connector serves). */
static void
follow_cname(struct run *r, const char *name, int hops)
{
	const char *res = r->e->conf->validation.dns_resolver;

	snprintf(r->follow_name, sizeof(r->follow_name), "%s", name);
	r->follow_hops = hops;
	if (r->e->res == NULL && res != NULL)
		r->e->res = dns_resolver_new(r->e->base, res, 2000);
	if (r->e->res == NULL ||
	    dns_query(r->e->res, name, 5 /* CNAME */, 0, on_cname, r) != 0)
		run_retry(r, 0,
		    "cannot look up CNAMEs: no "
		    "validation.dns_resolver");
}

static void
step_publish(struct run *r)
{
	const struct dns_zone *z;
	enum acme_found f;
	char why[600];

	f = acme_dnsrec_of_dcv(r->e->db, r->d.id, &r->rec);
	if (f == ACME_ERR) {
		run_retry(r, 2, "database error");
		return;
	}
	if (f == ACME_FOUND) {
		/* journaled before a crash or a retry: present it again */
		r->z = dns_zone_for(r->e->conf->dns, r->rec.name);
		if (r->z == NULL ||
		    strcmp(r->z->conn->name, r->rec.connector) != 0) {
			snprintf(why, sizeof(why),
			    "DNS connector \"%s\" no longer serves %s",
			    r->rec.connector, r->rec.name);
			conclude(r, 0, -1, why);
			return;
		}
		if (px_commit_after(r->e->commit, present_now, r) != 0)
			run_retry(r, 2, "database busy");
		return;
	}
	z = dns_zone_for(r->e->conf->dns, r->d.host);
	if (z == NULL) {
		snprintf(why, sizeof(why),
		    "no DNS connector serves %s (dns_connectors[].zones)",
		    r->d.host);
		advance(r, ACME_DCV_FAILED, 0, NULL, NULL, -1, why);
		return;
	}
	if (z->follow_cname)
		follow_cname(r, r->d.host, 0);
	else
		journal_and_present(r, r->d.host, z);
}

static void
step_propagate(struct run *r)
{
	struct dns_prop_req req;
	struct dns_record dr;

	if (acme_dnsrec_of_dcv(r->e->db, r->d.id, &r->rec) != ACME_FOUND ||
	    (r->z = dns_zone_for(r->e->conf->dns, r->rec.name)) == NULL) {
		/* the record or its connector is gone: publish again */
		advance(r, ACME_DCV_PUBLISH, -1, NULL, NULL, -1, NULL);
		return;
	}
	rec_from_run(r, &dr);
	px_dns_prop_req(r->e->conf, r->z->conn, &dr, &req);
	r->prop = dns_prop_start(r->e->base, &req, on_propagated, r);
	if (r->prop == NULL)
		conclude(r, 0, -1,
		    "the propagation check could not start (no "
		    "validation.dns_resolver and no check_servers)");
}

static void
finish_run(struct run *r)
{
	advance(r, r->d.outcome_ok ? ACME_DCV_VALID : ACME_DCV_FAILED,
	    r->d.outcome_ok, NULL, NULL, r->d.expires,
	    r->d.reason[0] ? r->d.reason : NULL);
}

static void
on_cleaned(void *arg, const struct dns_outcome *o)
{
	struct run *r = arg;
	long long now = now_s();

	if (o->rc == DNS_TEMP) {
		acme_dnsrec_set(
		    r->e->db, r->rec.id, ACME_REC_REMOVING, NULL, o->msg, now);
		run_retry(r, o->retry_after, o->msg);
		return;
	}
	if (o->rc == DNS_OK) {
		acme_dnsrec_set(
		    r->e->db, r->rec.id, ACME_REC_GONE, NULL, NULL, now);
	} else {
		/* left in the journal as live: `dns list` flags it, the
		 * start-up sweep tries again */
		log_event(LOG_LVL_ERR, "dcv.cleanup_failed",
		    (struct log_kv[]){LOG_S("connector", r->d.connector),
		        LOG_S("domain", r->d.domain), LOG_END},
		    "dcv %s: the record %s could not be removed: %s",
		    r->d.domain, r->rec.name, o->msg);
		acme_dnsrec_set(
		    r->e->db, r->rec.id, ACME_REC_REMOVING, NULL, o->msg, now);
	}
	if (r->job.kind[0] == 'd' && strcmp(r->job.kind, "dnsclean") == 0) {
		acme_store_job_finish(r->e->db, r->job.id, o->rc != DNS_OK,
		    o->rc == DNS_OK ? NULL : o->msg, now);
		run_end(r);
		return;
	}
	finish_run(r);
}

static void
clean_record(struct run *r)
{
	struct dns_record dr;

	r->z = dns_zone_for(r->e->conf->dns, r->rec.name);
	if (r->z == NULL || strcmp(r->z->conn->name, r->rec.connector) != 0) {
		/* its connector was removed from the configuration: the
		 * record stays listed as live for the operator */
		struct dns_outcome o = {.rc = DNS_PERM};
		snprintf(o.msg, sizeof(o.msg),
		    "DNS connector \"%s\" no longer serves %s: remove the "
		    "record by hand",
		    r->rec.connector, r->rec.name);
		on_cleaned(r, &o);
		return;
	}
	acme_dnsrec_set(
	    r->e->db, r->rec.id, ACME_REC_REMOVING, NULL, NULL, now_s());
	rec_from_run(r, &dr);
	if (dnsq_call(r->e->q, DNSQ_CLEANUP, r->z->conn, &dr, r->rec.handle,
	        on_cleaned, r) != 0)
		run_retry(r, 0, "the DNS call could not be queued");
}

static void
step_cleanup(struct run *r)
{
	enum acme_found f = acme_dnsrec_of_dcv(r->e->db, r->d.id, &r->rec);
	const struct dns_zone *z;

	if (f == ACME_ERR) {
		run_retry(r, 2, "database error");
		return;
	}
	if (f == ACME_NONE) {
		finish_run(r);
		return;
	}
	z = dns_zone_for(r->e->conf->dns, r->rec.name);
	if (r->d.outcome_ok && strcmp(r->rec.type, "CNAME") == 0 && z != NULL &&
	    z->keep_cname) {
		acme_dnsrec_set(
		    r->e->db, r->rec.id, ACME_REC_KEPT, NULL, NULL, now_s());
		finish_run(r);
		return;
	}
	clean_record(r);
}

/* ---- submit / poll ------------------------------------------------- */

static void
on_submitted(void *arg, const struct acme_ca_result *res)
{
	struct run *r = arg;

	if (res->status != ACME_CA_OK) {
		ca_trouble(r, res, "submitting the DCV");
		return;
	}
	if (run_set(r, ACME_DCV_POLL, -1, NULL, NULL, -1, -1, NULL) != 0) {
		run_retry(r, 2, "database error");
		return;
	}
	run_retry(r, r->e->conf->dcv.poll_seconds, "SCM is checking");
}

static void
on_polled(void *arg, const struct acme_ca_result *res)
{
	struct run *r = arg;
	const struct acme_ca_dcv *d = res->dcv;
	char why[600];

	if (res->status != ACME_CA_OK || d == NULL) {
		ca_trouble(r, res, "reading the DCV status");
		return;
	}
	/* a renewal is done when the end moved past the margin: until SCM
	 * has checked again it reports the old validation */
	if (margin_ok(r->e, d->validated, d->expires)) {
		conclude(r, 1, d->expires, NULL);
		return;
	}
	if (d->rejected || now_s() > r->d.deadline) {
		snprintf(why, sizeof(why),
		    "SCM did not validate %s%s (DCV status %s, order status "
		    "%s)",
		    r->d.domain,
		    d->rejected ? "" : " within dcv.timeout_minutes",
		    d->status ? d->status : "?",
		    d->order_status ? d->order_status : "?");
		conclude(r, 0, -1, why);
		return;
	}
	snprintf(why, sizeof(why), "SCM is checking (%s, %s)",
	    d->status ? d->status : "?",
	    d->order_status ? d->order_status : "?");
	run_retry(r, r->e->conf->dcv.poll_seconds, why);
}

static void
step(struct run *r)
{
	int rc = 0;

	switch (r->d.state) {
	case ACME_DCV_START:
		rc = r->ca->ops->dcv_status(
		    r->ca, r->d.domain, on_status_start, r);
		break;
	case ACME_DCV_PUBLISH:
		step_publish(r);
		return;
	case ACME_DCV_PROPAGATE:
		step_propagate(r);
		return;
	case ACME_DCV_SUBMIT:
		rc = r->ca->ops->dcv_submit(
		    r->ca, r->d.domain, r->d.method, on_submitted, r);
		break;
	case ACME_DCV_POLL:
		rc = r->ca->ops->dcv_status(r->ca, r->d.domain, on_polled, r);
		break;
	case ACME_DCV_CLEANUP:
		step_cleanup(r);
		return;
	default:
		acme_store_job_finish(
		    r->e->db, r->job.id, 0, "run already ended", now_s());
		run_end(r);
		return;
	}
	if (rc != 0)
		run_retry(r, 0, "the SCM call could not be started");
}

int
px_dcv_job(struct px_dcv *e, const struct acme_job *job, px_dcv_done_fn *done,
    void *arg)
{
	struct run *r = calloc(1, sizeof(*r));
	enum acme_found f;

	if (r == NULL)
		return -1;
	r->e = e;
	r->job = *job;
	r->done = done;
	r->arg = arg;
	r->next = e->runs;
	e->runs = r;
	if (strcmp(job->kind, "dnsclean") == 0) {
		f = acme_dnsrec_get(e->db, job->ref, &r->rec);
		if (f == ACME_ERR) {
			run_retry(r, 2, "database error");
		} else if (f == ACME_NONE || r->rec.state == ACME_REC_GONE ||
		    r->rec.state == ACME_REC_KEPT) {
			acme_store_job_finish(e->db, job->id, 0, NULL, now_s());
			run_end(r);
		} else {
			log_event(LOG_LVL_NOTICE, "dns.cleanup", NULL,
			    "dns: removing %s %s left by an earlier "
			    "run (%s)",
			    r->rec.type, r->rec.name,
			    acme_rec_state_str(r->rec.state));
			clean_record(r);
		}
		return 0;
	}
	f = acme_dcv_get(e->db, job->ref, &r->d);
	if (f == ACME_ERR) {
		run_retry(r, 2, "database error");
		return 0;
	}
	if (f == ACME_NONE) {
		acme_store_job_finish(
		    e->db, job->id, 1, "no such run", now_s());
		run_end(r);
		return 0;
	}
	r->ca = e->backend(e->backend_arg, r->d.connector);
	if (r->ca == NULL || r->ca->ops->dcv_status == NULL) {
		if (r->d.state >= ACME_DCV_PUBLISH &&
		    r->d.state <= ACME_DCV_CLEANUP) {
			r->d.outcome_ok = 0;
			snprintf(r->d.reason, sizeof(r->d.reason),
			    "CA connector \"%s\" is no longer configured",
			    r->d.connector);
			r->d.state = ACME_DCV_CLEANUP;
			step_cleanup(r);
		} else {
			advance(r, ACME_DCV_FAILED, 0, NULL, NULL, -1,
			    "its CA connector is no longer configured");
		}
		return 0;
	}
	step(r);
	return 0;
}

/* ---- the enroll gate ----------------------------------------------- */

static void gate_next(struct gate *g);

static void
gate_end(struct gate *g, enum px_gate v, const char *why)
{
	struct gate **pp;
	px_gate_cb *cb = g->cb;
	void *arg = g->arg;
	char msg[1024];

	/* why may point into g (its first wait reason): copy it first */
	snprintf(msg, sizeof(msg), "%s", why ? why : "");

	for (pp = &g->e->gates; *pp != NULL; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	for (size_t i = 0; i < g->n; i++)
		free(g->names[i]);
	free(g->names);
	free(g);
	if (cb != NULL)
		cb(arg, v, why ? msg : NULL);
}

/* What the covering SCM domain d means for the order. */
static void
gate_decide(struct gate *g, const struct acme_scm_domain *sd)
{
	struct px_dcv *e = g->e;
	const struct dns_zone *z;
	struct acme_dcv last;
	enum acme_found f;
	char why[1024];
	long long id;

	if (margin_ok(e, sd->validated, sd->expires)) {
		g->i++;
		gate_next(g);
		return;
	}
	f = acme_dcv_latest(e->db, sd->name, g->connector, &last);
	if (f == ACME_ERR) {
		gate_end(g, PX_GATE_RETRY, "database error");
		return;
	}
	/* SCM's word (fresh, or cached for dcv.domain_cache_seconds)
	 * decides; a run of ours that ended valid does not outvote it */
	if (f == ACME_FOUND && last.state == ACME_DCV_FAILED &&
	    last.updated >= g->since) {
		snprintf(why, sizeof(why),
		    "domain control validation of %s "
		    "failed: %s",
		    sd->name, last.reason);
		gate_end(g, PX_GATE_FAIL, why);
		return;
	}
	z = dns_zone_for(e->conf->dns, sd->name);
	if (z == NULL) {
		snprintf(why, sizeof(why),
		    "SCM has no current validation of %s and no DNS "
		    "connector serves it (dns_connectors[].zones), so the "
		    "bridge cannot validate it",
		    sd->name);
		gate_end(g, PX_GATE_FAIL, why);
		return;
	}
	if (f != ACME_FOUND || last.state == ACME_DCV_VALID ||
	    last.state == ACME_DCV_FAILED) {
		id = acme_dcv_add(e->db, sd->name, g->connector,
		    z->dcv == DNS_DCV_CNAME ? "cname" : "txt", "order",
		    now_s());
		if (id < 0) {
			gate_end(g, PX_GATE_RETRY, "database error");
			return;
		}
		if (id > 0)
			log_event(LOG_LVL_NOTICE, "dcv.start",
			    (struct log_kv[]){LOG_S("domain", sd->name),
			        LOG_S("reason", "order"), LOG_END},
			    "dcv %s: started for an order (run %lld)", sd->name,
			    id);
	}
	if (!g->waiting)
		snprintf(g->why, sizeof(g->why),
		    "waiting for the domain control validation of %s",
		    sd->name);
	g->waiting = 1;
	g->i++;
	gate_next(g);
}

static void
on_domain_created(void *arg, const struct acme_ca_result *res)
{
	struct gate *g = arg;
	struct acme_scm_domain sd = {0};
	char name[256];

	g->busy = 0;
	if (res->status != ACME_CA_OK) {
		char why[600];
		snprintf(why, sizeof(why),
		    "the domain could not be created in SCM: %s",
		    ca_words(res, "refused"));
		gate_end(g,
		    res->status == ACME_CA_FAILED ? PX_GATE_FAIL
		                                  : PX_GATE_RETRY,
		    why);
		return;
	}
	canon_name(g->names[g->i], name, sizeof(name));
	{
		const struct dns_zone *z = dns_zone_for(g->e->conf->dns, name);
		snprintf(sd.name, sizeof(sd.name), "%s", z ? z->name : name);
	}
	snprintf(sd.connector, sizeof(sd.connector), "%s", g->connector);
	sd.checked = now_s();
	acme_scmdom_put(g->e->db, &sd);
	gate_decide(g, &sd);
}

static void
on_domain_found(void *arg, const struct acme_ca_result *res)
{
	struct gate *g = arg;
	struct acme_scm_domain sd = {0};
	char name[256], why[700];
	const struct dns_zone *z;

	g->busy = 0;
	canon_name(g->names[g->i], name, sizeof(name));
	if (res->status == ACME_CA_NOTFOUND) {
		z = dns_zone_for(g->e->conf->dns, name);
		if (z != NULL && z->conn->allow_domain_create &&
		    g->ca->ops->domain_create != NULL) {
			log_event(LOG_LVL_NOTICE, "dcv.domain_create",
			    (struct log_kv[]){
			        LOG_S("domain", z->name), LOG_END},
			    "dcv: creating domain %s in SCM for %s", z->name,
			    name);
			g->busy = 1;
			if (g->ca->ops->domain_create(
			        g->ca, z->name, on_domain_created, g) != 0) {
				g->busy = 0;
				gate_end(g, PX_GATE_RETRY,
				    "the SCM call could not be started");
			}
			return;
		}
		snprintf(why, sizeof(why),
		    "no SCM domain covers %s: add the domain in SCM and "
		    "delegate it to the organization, or set "
		    "allow_domain_create on the DNS connector of its zone",
		    name);
		gate_end(g, PX_GATE_FAIL, why);
		return;
	}
	if (res->status != ACME_CA_OK || res->dcv == NULL ||
	    res->dcv->domain == NULL) {
		snprintf(why, sizeof(why),
		    "looking up the SCM domain of %s: %s", name,
		    ca_words(res, "SCM refused"));
		gate_end(g,
		    res->status == ACME_CA_FAILED ? PX_GATE_FAIL
		                                  : PX_GATE_RETRY,
		    why);
		return;
	}
	snprintf(sd.connector, sizeof(sd.connector), "%s", g->connector);
	canon_name(res->dcv->domain, sd.name, sizeof(sd.name));
	sd.validated = res->dcv->validated;
	sd.expires = res->dcv->expires;
	sd.checked = now_s();
	if (acme_scmdom_put(g->e->db, &sd) != 1) {
		gate_end(g, PX_GATE_RETRY, "database error");
		return;
	}
	gate_decide(g, &sd);
}

static void
gate_next(struct gate *g)
{
	struct acme_scm_domain sd;
	enum acme_found f;
	char name[256];

	while (g->i < g->n) {
		canon_name(g->names[g->i], name, sizeof(name));
		if (is_ip(name)) {
			g->i++; /* IP addresses: no domain validation */
			continue;
		}
		f = acme_scmdom_covering(g->e->db, g->connector, name, &sd);
		if (f == ACME_ERR) {
			gate_end(g, PX_GATE_RETRY, "database error");
			return;
		}
		if (f == ACME_FOUND &&
		    now_s() - sd.checked < g->e->conf->dcv.domain_cache) {
			gate_decide(g, &sd);
			return;
		}
		g->busy = 1;
		if (g->ca->ops->domain_find(g->ca, name, on_domain_found, g) !=
		    0) {
			g->busy = 0;
			gate_end(g, PX_GATE_RETRY,
			    "the SCM call could not be started");
		}
		return;
	}
	gate_end(g, g->waiting ? PX_GATE_WAIT : PX_GATE_GO,
	    g->waiting ? g->why : NULL);
}

/* Start the walk from the loop, so that the callback never runs inside
 * px_dcv_gate. */
static void
gate_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gate_next(arg);
}

int
px_dcv_gate(struct px_dcv *e, struct acme_ca *ca, const char *connector,
    char *const *names, size_t n, long long since, px_gate_cb *cb, void *arg)
{
	struct gate *g;
	struct timeval tv = {0, 0};

	if (ca->ops->domain_find == NULL || ca->ops->dcv_status == NULL)
		return -1;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -1;
	g->names = calloc(n ? n : 1, sizeof(char *));
	if (g->names == NULL) {
		free(g);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((g->names[g->n++] = strdup(names[i])) == NULL)
			break;
	g->e = e;
	g->ca = ca;
	snprintf(g->connector, sizeof(g->connector), "%s", connector);
	g->since = since;
	g->cb = cb;
	g->arg = arg;
	g->next = e->gates;
	e->gates = g;
	if (event_base_once(e->base, -1, EV_TIMEOUT, gate_kick, g, &tv) != 0) {
		g->cb = NULL;
		gate_end(g, PX_GATE_RETRY, NULL);
		return -1;
	}
	return 0;
}

/* ---- scheduler ----------------------------------------------------- */

struct refresh {
	struct px_dcv *e;
	struct acme_scm_domain sd;
};

static void
start_ahead(struct px_dcv *e, const struct acme_scm_domain *sd)
{
	const struct dns_zone *z = dns_zone_for(e->conf->dns, sd->name);
	long long id;

	if (z == NULL) {
		log_event(LOG_LVL_WARN, "dcv.no_dns",
		    (struct log_kv[]){LOG_S("domain", sd->name), LOG_END},
		    "dcv %s: the validation ends in %lld days and no DNS "
		    "connector serves the domain",
		    sd->name, (sd->expires - now_s()) / 86400);
		return;
	}
	id = acme_dcv_add(e->db, sd->name, sd->connector,
	    z->dcv == DNS_DCV_CNAME ? "cname" : "txt", "schedule", now_s());
	if (id > 0)
		log_event(LOG_LVL_NOTICE, "dcv.start",
		    (struct log_kv[]){LOG_S("domain", sd->name),
		        LOG_S("reason", "schedule"), LOG_END},
		    "dcv %s: validation ends %s; renewing ahead of need "
		    "(run %lld)",
		    sd->name,
		    sd->expires <= now_s() ? "now" : "within dcv.margin_days",
		    id);
}

static void
on_refreshed(void *arg, const struct acme_ca_result *res)
{
	struct refresh *rf = arg;
	struct px_dcv *e = rf->e;

	e->refreshing--;
	if (res->status == ACME_CA_OK && res->dcv != NULL) {
		rf->sd.validated = res->dcv->validated;
		rf->sd.expires = res->dcv->expires;
		rf->sd.checked = now_s();
		acme_scmdom_put(e->db, &rf->sd);
		if (!margin_ok(e, rf->sd.validated, rf->sd.expires))
			start_ahead(e, &rf->sd);
	}
	free(rf);
}

static void
refresh_one(const struct acme_scm_domain *sd, void *arg)
{
	struct px_dcv *e = arg;
	struct acme_ca *ca = e->backend(e->backend_arg, sd->connector);
	struct refresh *rf;

	if (ca == NULL || ca->ops->dcv_status == NULL ||
	    now_s() - sd->checked < e->conf->dcv.domain_cache ||
	    e->refreshing >= DCV_BATCH)
		return;
	rf = calloc(1, sizeof(*rf));
	if (rf == NULL)
		return;
	rf->e = e;
	rf->sd = *sd;
	e->refreshing++;
	if (ca->ops->dcv_status(ca, sd->name, on_refreshed, rf) != 0) {
		e->refreshing--;
		free(rf);
	}
}

static void
expiring_one(const struct acme_scm_domain *sd, void *arg)
{
	start_ahead(arg, sd);
}

void
px_dcv_tick(struct px_dcv *e)
{
	long long now = now_s();

	if (!e->swept) {
		int n = acme_dnsrec_sweep(e->db, now);
		e->swept = n >= 0;
		if (n > 0)
			log_notice("dns: %d record(s) left by an earlier run "
			           "will be removed",
			    n);
	}
	if (!e->conf->dcv.enabled || e->refreshing > 0 ||
	    now - e->last_check < e->conf->dcv.check_interval)
		return;
	e->last_check = now;
	acme_scmdom_expiring(e->db,
	    now + (long long)e->conf->dcv.margin_days * 86400, DCV_BATCH,
	    expiring_one, e);
	acme_scmdom_each(e->db, refresh_one, e);
}

struct px_dcv *
px_dcv_new(struct event_base *base, const struct px_conf *conf,
    struct px_commit *commit, px_dcv_backend_fn *backend, void *backend_arg)
{
	struct px_dcv *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->base = base;
	e->conf = conf;
	e->commit = commit;
	e->db = px_commit_db(commit);
	e->backend = backend;
	e->backend_arg = backend_arg;
	e->q = dnsq_new(
	    base, conf->dcv.dns_threads > 0 ? conf->dcv.dns_threads : 4);
	if (e->q == NULL) {
		free(e);
		return NULL;
	}
	return e;
}

void
px_dcv_free(struct px_dcv *e)
{
	if (e == NULL)
		return;
	/* the workers first: no result can arrive for a freed run */
	dnsq_free(e->q);
	dns_resolver_free(e->res);
	e->res = NULL;
	while (e->runs != NULL) {
		e->runs->done = NULL;
		run_end(e->runs);
	}
	while (e->gates != NULL) {
		e->gates->cb = NULL;
		gate_end(e->gates, PX_GATE_RETRY, NULL);
	}
	free(e);
}
