/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry: relaxed atomics for every counter (a scrape may see
 * one family a few increments ahead of another, never a torn value). */
#include "contrib/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

typedef _Atomic unsigned long long mx_ctr;

/* Latency buckets (seconds), shared by every histogram here. */
static const double bucket_le[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NB (sizeof(bucket_le) / sizeof(bucket_le[0]))

struct hist {
	mx_ctr b[NB + 1]; /* per bucket (not cumulative); the last: +Inf */
	mx_ctr sum_us;    /* microseconds */
};

/* Status codes the front-end sends; the last slot is "other". */
static const int http_codes[] = {
    200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503};
#define NCODES (sizeof(http_codes) / sizeof(http_codes[0]))

static const char *const ep_names[MX_EP_N] = {"directory", "newNonce",
    "newAccount", "newOrder", "order", "authz", "challenge", "finalize",
    "certificate", "revokeCert", "keyChange", "renewalInfo", "account",
    "other"};
static const char *const scm_names[MX_SCM_N] = {"enroll", "find", "collect",
    "revoke", "test", "dcv", "details", "report", "renew", "replace", "token",
    "probe"};
static const char *const outcome_names[MX_OUTCOME_N] = {
    "ok", "http_4xx", "http_5xx", "http_other", "timeout", "error"};
static const char *const dns_op_names[MX_DNS_OP_N] = {
    "present", "cleanup", "list", "check"};
static const char *const dns_rc_names[MX_DNS_RC_N] = {"ok", "temp", "perm"};
static const char *const rl_names[MX_RL_N] = {"new_accounts_per_ip",
    "new_orders_per_account", "new_orders_per_ip", "new_orders_per_domain",
    "failed_validations_per_identifier", "certificates_per_name_set",
    "pending_authorizations_per_account"};

/* One connector: its name is written once, under reg_mu, before n is
 * raised (readers look at slots below n only). */
struct conn {
	char name[64];
	_Atomic long long last_reached, last_success;
	pthread_mutex_t err_mu; /* guards last_error */
	char last_error[256];
	long long last_error_at;
};

struct scm_conn {
	struct conn c;
	mx_ctr calls[MX_SCM_N][MX_OUTCOME_N];
	struct hist lat[MX_SCM_N];
};

struct dns_conn {
	struct conn c;
	mx_ctr ops[MX_DNS_OP_N][MX_DNS_RC_N];
};

static struct {
	mx_ctr http[MX_EP_N][NCODES + 1];
	struct hist http_lat[MX_EP_N];
	pthread_mutex_t reg_mu;
	struct scm_conn scm[MX_CONN_MAX];
	_Atomic size_t n_scm;
	struct dns_conn dns[MX_CONN_MAX];
	_Atomic size_t n_dns;
	mx_ctr rl[MX_RL_N];
	mx_ctr dcv_valid, dcv_failed;
	mx_ctr batches, batches_failed, syncs;
	_Atomic int last_batch_failed;
	_Atomic long long heartbeat;
	long long start_time;
} R = {.reg_mu = PTHREAD_MUTEX_INITIALIZER};

static void
inc(mx_ctr *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static unsigned long long
get(const mx_ctr *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void
observe(struct hist *h, double s)
{
	size_t i = 0;

	if (s < 0)
		s = 0;
	while (i < NB && s > bucket_le[i])
		i++;
	inc(&h->b[i]);
	atomic_fetch_add_explicit(&h->sum_us,
	    (unsigned long long)(s * 1e6 + 0.5), memory_order_relaxed);
}

static long long
now_s(void)
{
	return (long long)time(NULL);
}

/* Process start time, taken when the first code of this file runs. */
__attribute__((constructor)) static void
mx_init(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	R.start_time = ts.tv_sec;
}

enum mx_ep
mx_ep_of_path(const char *p)
{
	static const struct {
		const char *prefix;
		int whole; /* the path is exactly prefix */
		const char *suffix;
		enum mx_ep ep;
	} map[] = {
	    {"/directory", 1, NULL, MX_EP_DIRECTORY},
	    {"/", 1, NULL, MX_EP_DIRECTORY},
	    {"/new-nonce", 1, NULL, MX_EP_NEWNONCE},
	    {"/new-account", 1, NULL, MX_EP_NEWACCOUNT},
	    {"/new-order", 1, NULL, MX_EP_NEWORDER},
	    {"/revoke-cert", 1, NULL, MX_EP_REVOKECERT},
	    {"/key-change", 1, NULL, MX_EP_KEYCHANGE},
	    {"/order/", 0, "/finalize", MX_EP_FINALIZE},
	    {"/order/", 0, NULL, MX_EP_ORDER},
	    {"/authz/", 0, NULL, MX_EP_AUTHZ},
	    {"/chall/", 0, NULL, MX_EP_CHALLENGE},
	    {"/cert/", 0, NULL, MX_EP_CERTIFICATE},
	    {"/acct/", 0, NULL, MX_EP_ACCOUNT},
	    {"/renewal-info/", 0, NULL, MX_EP_RENEWALINFO},
	    {"/acme/", 0, "/new-account", MX_EP_NEWACCOUNT},
	    {"/acme/", 0, "/directory", MX_EP_DIRECTORY},
	};
	size_t n = strcspn(p, "?");

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t pl = strlen(map[i].prefix);

		if (map[i].whole) {
			if (n == pl && strncmp(p, map[i].prefix, n) == 0)
				return map[i].ep;
			continue;
		}
		if (n <= pl || strncmp(p, map[i].prefix, pl) != 0)
			continue;
		if (map[i].suffix != NULL) {
			size_t sl = strlen(map[i].suffix);

			if (n - pl <= sl ||
			    strncmp(p + n - sl, map[i].suffix, sl) != 0)
				continue;
		}
		return map[i].ep;
	}
	return MX_EP_OTHER;
}

void
mx_http(enum mx_ep ep, int status, double seconds)
{
	size_t c = 0;

	if ((unsigned)ep >= MX_EP_N)
		ep = MX_EP_OTHER;
	while (c < NCODES && http_codes[c] != status)
		c++;
	inc(&R.http[ep][c]);
	observe(&R.http_lat[ep], seconds);
}

/* Find or register name among slots (each `size` bytes apart, struct conn
 * first). */
static int
conn_id(void *slots, size_t size, _Atomic size_t *n, const char *name)
{
	size_t i, have = atomic_load(n);

	if (name == NULL)
		return -1;
	for (i = 0; i < have; i++)
		if (strcmp(((struct conn *)((char *)slots + i * size))->name,
		        name) == 0)
			return (int)i;
	pthread_mutex_lock(&R.reg_mu);
	have = atomic_load(n);
	for (i = 0; i < have; i++)
		if (strcmp(((struct conn *)((char *)slots + i * size))->name,
		        name) == 0)
			break;
	if (i == have && have < MX_CONN_MAX) {
		struct conn *c = (struct conn *)((char *)slots + i * size);

		snprintf(c->name, sizeof(c->name), "%s", name);
		pthread_mutex_init(&c->err_mu, NULL);
		atomic_store(n, have + 1);
	}
	pthread_mutex_unlock(&R.reg_mu);
	return i < MX_CONN_MAX ? (int)i : -1;
}

int
mx_scm_id(const char *name)
{
	return conn_id(R.scm, sizeof(R.scm[0]), &R.n_scm, name);
}

int
mx_dns_id(const char *name)
{
	return conn_id(R.dns, sizeof(R.dns[0]), &R.n_dns, name);
}

static void
conn_error(struct conn *c, const char *msg)
{
	pthread_mutex_lock(&c->err_mu);
	snprintf(c->last_error, sizeof(c->last_error), "%s", msg);
	c->last_error_at = now_s();
	pthread_mutex_unlock(&c->err_mu);
}

void
mx_scm_call(int id, enum mx_scm ep, enum mx_outcome o, double seconds)
{
	struct scm_conn *s;

	if (id < 0 || id >= MX_CONN_MAX || (unsigned)ep >= MX_SCM_N ||
	    (unsigned)o >= MX_OUTCOME_N)
		return;
	s = &R.scm[id];
	inc(&s->calls[ep][o]);
	observe(&s->lat[ep], seconds);
	if (o <= MX_HTTP_OTHER)
		atomic_store(&s->c.last_reached, now_s());
	if (o == MX_OK)
		atomic_store(&s->c.last_success, now_s());
}

void
mx_scm_error(int id, const char *msg)
{
	if (id >= 0 && id < MX_CONN_MAX && msg != NULL)
		conn_error(&R.scm[id].c, msg);
}

void
mx_dns_call(int id, enum mx_dns_op op, enum mx_dns_rc rc, const char *msg)
{
	struct dns_conn *d;

	if (id < 0 || id >= MX_CONN_MAX || (unsigned)op >= MX_DNS_OP_N ||
	    (unsigned)rc >= MX_DNS_RC_N)
		return;
	d = &R.dns[id];
	inc(&d->ops[op][rc]);
	atomic_store(&d->c.last_reached, now_s());
	if (rc == MX_DNS_OK)
		atomic_store(&d->c.last_success, now_s());
	else if (msg != NULL)
		conn_error(&d->c, msg);
}

void
mx_ratelimit(enum mx_rl lim)
{
	if ((unsigned)lim < MX_RL_N)
		inc(&R.rl[lim]);
}

void
mx_dcv_run(int valid)
{
	inc(valid ? &R.dcv_valid : &R.dcv_failed);
}

void
mx_commit_batch(int ok)
{
	inc(ok ? &R.batches : &R.batches_failed);
	atomic_store(&R.last_batch_failed, !ok);
}

void
mx_commit_sync(void)
{
	inc(&R.syncs);
}

void
mx_heartbeat(long long now)
{
	atomic_store(&R.heartbeat, now);
}

void
mx_serving_state(long long *heartbeat, int *last_batch_failed)
{
	*heartbeat = atomic_load(&R.heartbeat);
	*last_batch_failed = atomic_load(&R.last_batch_failed);
}

static void
health(struct conn *c, struct mx_conn_health *h)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", c->name);
	h->last_reached = atomic_load(&c->last_reached);
	h->last_success = atomic_load(&c->last_success);
	pthread_mutex_lock(&c->err_mu);
	snprintf(h->last_error, sizeof(h->last_error), "%s", c->last_error);
	h->last_error_at = c->last_error_at;
	pthread_mutex_unlock(&c->err_mu);
}

size_t
mx_scm_health(struct mx_conn_health *out, size_t max)
{
	size_t n = atomic_load(&R.n_scm);

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		health(&R.scm[i].c, &out[i]);
		for (int e = 0; e < MX_SCM_N; e++)
			for (int o = 0; o < MX_OUTCOME_N; o++) {
				/* a probe's 4xx is the expected answer */
				if (o == MX_OK ||
				    (e == MX_SCM_PROBE && o <= MX_HTTP_OTHER))
					out[i].ok += get(&R.scm[i].calls[e][o]);
				else
					out[i].failed +=
					    get(&R.scm[i].calls[e][o]);
			}
	}
	return n;
}

size_t
mx_dns_health(struct mx_conn_health *out, size_t max)
{
	size_t n = atomic_load(&R.n_dns);

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		health(&R.dns[i].c, &out[i]);
		for (int op = 0; op < MX_DNS_OP_N; op++)
			for (int rc = 0; rc < MX_DNS_RC_N; rc++) {
				if (rc == MX_DNS_OK)
					out[i].ok += get(&R.dns[i].ops[op][rc]);
				else
					out[i].failed +=
					    get(&R.dns[i].ops[op][rc]);
			}
	}
	return n;
}

/* ---- rendering -------------------------------------------------------- */

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value from the configuration: escape '\\', '"' and newlines as
 * the text format asks. */
void
mx_label_value(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* name_bucket/_sum/_count lines; labels is "" or `a="b",` (with the
 * trailing comma) for the bucket lines. */
static void
hist_lines(FILE *f, const char *name, const char *labels, const struct hist *h)
{
	unsigned long long cum = 0;
	size_t ll = strlen(labels);

	for (size_t i = 0; i <= NB; i++) {
		cum += get(&h->b[i]);
		if (i < NB)
			fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name,
			    labels, bucket_le[i], cum);
		else
			fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name,
			    labels, cum);
	}
	/* _sum and _count carry the same labels without the comma */
	fprintf(f, "%s_sum{%.*s} %.6f\n", name, ll > 0 ? (int)ll - 1 : 0,
	    labels, (double)get(&h->sum_us) / 1e6);
	fprintf(f, "%s_count{%.*s} %llu\n", name, ll > 0 ? (int)ll - 1 : 0,
	    labels, cum);
}

static void
conn_label(
    char *buf, size_t len, const char *name, const char *k, const char *v)
{
	/* connector names are checked by the configuration loader; escape
	 * anyway, a name never breaks the exposition */
	size_t j = 0;

	j += (size_t)snprintf(buf + j, len - j, "connector=\"");
	for (; *name != '\0' && j + 3 < len; name++) {
		if (*name == '\\' || *name == '"')
			buf[j++] = '\\';
		buf[j++] = *name == '\n' ? ' ' : *name;
	}
	buf[j] = '\0';
	snprintf(buf + j, len - j, "\",%s%s%s%s", k ? k : "", k ? "=\"" : "",
	    k ? v : "", k ? "\"," : "");
}

void
mx_render(FILE *f)
{
	size_t n_scm = atomic_load(&R.n_scm), n_dns = atomic_load(&R.n_dns);
	char lb[256];

	family(f, "acmebridge_build_info", "gauge",
	    "Version of the running acmebridge (always 1).");
	fprintf(
	    f, "acmebridge_build_info{version=\"%s\"} 1\n", ACMEBRIDGE_VERSION);
	family(f, "acmebridge_process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch in seconds.");
	fprintf(
	    f, "acmebridge_process_start_time_seconds %lld\n", R.start_time);

	family(f, "acmebridge_http_requests_total", "counter",
	    "ACME requests answered, by endpoint and status code.");
	for (int e = 0; e < MX_EP_N; e++)
		for (size_t c = 0; c <= NCODES; c++) {
			unsigned long long v = get(&R.http[e][c]);
			if (v == 0)
				continue;
			if (c < NCODES)
				fprintf(f,
				    "acmebridge_http_requests_total{endpoint="
				    "\"%s\",code=\"%d\"} %llu\n",
				    ep_names[e], http_codes[c], v);
			else
				fprintf(f,
				    "acmebridge_http_requests_total{endpoint="
				    "\"%s\",code=\"other\"} %llu\n",
				    ep_names[e], v);
		}
	family(f, "acmebridge_http_request_duration_seconds", "histogram",
	    "Time from a request's arrival to its answer, by endpoint.");
	for (int e = 0; e < MX_EP_N; e++) {
		snprintf(lb, sizeof(lb), "endpoint=\"%s\",", ep_names[e]);
		hist_lines(f, "acmebridge_http_request_duration_seconds", lb,
		    &R.http_lat[e]);
	}

	family(f, "acmebridge_scm_requests_total", "counter",
	    "HTTP requests to SCM, by connector, endpoint and outcome.");
	for (size_t i = 0; i < n_scm; i++)
		for (int e = 0; e < MX_SCM_N; e++)
			for (int o = 0; o < MX_OUTCOME_N; o++) {
				unsigned long long v =
				    get(&R.scm[i].calls[e][o]);
				if (v == 0)
					continue;
				conn_label(lb, sizeof(lb), R.scm[i].c.name,
				    "endpoint", scm_names[e]);
				fprintf(f,
				    "acmebridge_scm_requests_total{%s"
				    "outcome=\"%s\"} %llu\n",
				    lb, outcome_names[o], v);
			}
	family(f, "acmebridge_scm_request_duration_seconds", "histogram",
	    "Duration of HTTP requests to SCM, by connector and endpoint.");
	for (size_t i = 0; i < n_scm; i++)
		for (int e = 0; e < MX_SCM_N; e++) {
			unsigned long long any = 0;
			for (size_t b = 0; b <= NB; b++)
				any += get(&R.scm[i].lat[e].b[b]);
			if (any == 0)
				continue;
			conn_label(lb, sizeof(lb), R.scm[i].c.name, "endpoint",
			    scm_names[e]);
			hist_lines(f, "acmebridge_scm_request_duration_seconds",
			    lb, &R.scm[i].lat[e]);
		}
	family(f, "acmebridge_scm_last_success_timestamp_seconds", "gauge",
	    "When SCM last answered a request with 2xx (0: never).");
	for (size_t i = 0; i < n_scm; i++) {
		fputs("acmebridge_scm_last_success_timestamp_seconds{"
		      "connector=\"",
		    f);
		mx_label_value(f, R.scm[i].c.name);
		fprintf(f, "\"} %lld\n", atomic_load(&R.scm[i].c.last_success));
	}
	family(f, "acmebridge_scm_last_reached_timestamp_seconds", "gauge",
	    "When SCM last answered at all, any status (0: never).");
	for (size_t i = 0; i < n_scm; i++) {
		fputs("acmebridge_scm_last_reached_timestamp_seconds{"
		      "connector=\"",
		    f);
		mx_label_value(f, R.scm[i].c.name);
		fprintf(f, "\"} %lld\n", atomic_load(&R.scm[i].c.last_reached));
	}

	family(f, "acmebridge_dns_operations_total", "counter",
	    "DNS connector operations, by connector, op and outcome.");
	for (size_t i = 0; i < n_dns; i++)
		for (int op = 0; op < MX_DNS_OP_N; op++)
			for (int rc = 0; rc < MX_DNS_RC_N; rc++) {
				unsigned long long v =
				    get(&R.dns[i].ops[op][rc]);
				if (v == 0)
					continue;
				conn_label(lb, sizeof(lb), R.dns[i].c.name,
				    "op", dns_op_names[op]);
				fprintf(f,
				    "acmebridge_dns_operations_total{%s"
				    "outcome=\"%s\"} %llu\n",
				    lb, dns_rc_names[rc], v);
			}

	family(f, "acmebridge_ratelimit_refusals_total", "counter",
	    "Requests refused by a rate limit, by limit.");
	for (int l = 0; l < MX_RL_N; l++)
		fprintf(f,
		    "acmebridge_ratelimit_refusals_total{limit=\"%s\"} "
		    "%llu\n",
		    rl_names[l], get(&R.rl[l]));

	family(f, "acmebridge_dcv_runs_finished_total", "counter",
	    "Sectigo DCV runs ended since the start, by outcome.");
	fprintf(f,
	    "acmebridge_dcv_runs_finished_total{outcome=\"valid\"} %llu\n"
	    "acmebridge_dcv_runs_finished_total{outcome=\"failed\"} %llu\n",
	    get(&R.dcv_valid), get(&R.dcv_failed));

	family(f, "acmebridge_commit_batches_total", "counter",
	    "Group-commit batches, by result.");
	fprintf(f, "acmebridge_commit_batches_total{result=\"ok\"} %llu\n",
	    get(&R.batches));
	fprintf(f, "acmebridge_commit_batches_total{result=\"failed\"} %llu\n",
	    get(&R.batches_failed));
	family(f, "acmebridge_commit_syncs_total", "counter",
	    "Log syncs (fdatasync) of the group commit.");
	fprintf(f, "acmebridge_commit_syncs_total %llu\n", get(&R.syncs));
	family(f, "acmebridge_serving_heartbeat_timestamp_seconds", "gauge",
	    "When the serving thread's loop last ran its heartbeat timer.");
	fprintf(f, "acmebridge_serving_heartbeat_timestamp_seconds %lld\n",
	    atomic_load(&R.heartbeat));
}
