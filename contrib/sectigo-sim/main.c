/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: a simulator of the Sectigo Certificate Manager REST API for
 * acmebridge's tests.  This file parses the command line, sets the
 * simulator up, runs the event loop and tears everything down on SIGTERM.
 */
#include "contrib/sectigo-sim/internal.h"
#include "contrib/sectigo-sim/ca.h"
#include "contrib/sectigo-sim/store.h"
#include "contrib/sectigo-sim/util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

static const char usage_text[] =
    "usage: sectigo-sim --state-dir DIR [--listen 127.0.0.1:PORT]\n"
    "           [--client-id ID --client-secret SECRET]\n"
    "           [--login L --password P] [--customer-uri URI]\n"
    "           [--org-id N] [--cert-type N] [--pending-polls N]\n"
    "           [--pending-seconds S] [--token-lifetime S] [--plain-http]\n"
    "           [--no-db] [--domain NAME[:validated]]... [--require-dcv]\n"
    "           [--dns-resolver HOST:PORT] [--dcv-validity-days N]\n"
    "           [--dcv-check-attempts N] [--approval-required]\n"
    "           [--fail-rate P] [--latency-ms MS] [--seed N]\n"
    "\n"
    "Simulates the Sectigo Certificate Manager (SCM) REST API over HTTPS.\n"
    "\n"
    "  --state-dir DIR      test CA and data: root.pem (trust this),\n"
    "                       chain.pem (intermediate + root),\n"
    "                       intermediate.pem, server.pem, *.key, sim.db;\n"
    "                       DIR/port gets the bound port once listening\n"
    "  --listen HOST:PORT   default 127.0.0.1:0 (0 = any free port)\n"
    "  --client-id ID       OAuth2 client id (default acmebridge)\n"
    "  --client-secret S    OAuth2 client secret (default sim-secret)\n"
    "  --login L            header-auth login (default admin)\n"
    "  --password P         header-auth password (default sim-password)\n"
    "  --customer-uri URI   header-auth customerUri (default acme-test)\n"
    "  --org-id N           organization id (default 1234; its\n"
    "                       department is N+1)\n"
    "  --cert-type N        main profile id (default 224, \"InCommon SSL\n"
    "                       (SHA-2)\"); profile 284 \"InCommon ECC\" too\n"
    "  --pending-polls N    collect answers \"Being processed\" N times\n"
    "                       before issuing (default 2)\n"
    "  --pending-seconds S  and not before S seconds after the order\n"
    "                       (default 0); both must hold\n"
    "  --token-lifetime S   OAuth2 token lifetime (default 300)\n"
    "  --plain-http         serve HTTP instead of HTTPS\n"
    "  --no-db              keep certificates in memory only\n"
    "  --domain NAME[:validated]\n"
    "                       an SCM domain (delegated to the org), DCV\n"
    "                       already done with :validated; repeatable\n"
    "  --require-dcv        refuse enrollments for names whose domain\n"
    "                       has no current DCV (-1010 / -1137)\n"
    "  --dns-resolver H:P   DCV submissions look the record up here\n"
    "                       (without it they never validate)\n"
    "  --dcv-validity-days N  validations last N days (default 198)\n"
    "  --dcv-check-attempts N lookups, a second apart, before a DCV\n"
    "                       order is REJECTED (default 30)\n"
    "  --approval-required  new orders wait in status Requested until\n"
    "                       approved (API approve or control \"approve\")\n"
    "  --fail-rate P        each /api request fails with probability P\n"
    "                       (0..1): 503, 500, 429 or, for enroll, a lost\n"
    "                       reply after the order is stored\n"
    "  --latency-ms MS      delay every /api reply by MS milliseconds\n"
    "  --seed N             seed of the fault generator (default 1)\n"
    "  --help               this text\n"
    "\n"
    "API: /api/... and the same under /private/api/...; token endpoint\n"
    "POST /auth/realms/apiclients/protocol/openid-connect/token.\n"
    "\n"
    "Test-only endpoints (no authentication):\n"
    "  GET  /sim/stats     {\"enroll_calls\",\"enrollments\",\n"
    "                      \"duplicate_csr_enrollments\",\"collect_calls\",\n"
    "                      \"revoke_calls\",\"token_calls\",\"renew_calls\",\n"
    "                      "
    "\"replace_calls\",\"details_calls\",\"list_calls\",\n"
    "                      \"auth_failures\",\"hang_enrolls\",\n"
    "                      \"held_requests\",\"tokens_live\",\n"
    "                      \"certificates\":[{\"sslId\",\"status\",\n"
    "                      \"commonName\",\"comments\",\"csr_sha256\",\n"
    "                      \"renewId\",\"externalRequester\",\n"
    "                      \"serialNumber\",\"subjectAlternativeNames\"}]}\n"
    "                      also approve_calls, decline_calls,\n"
    "                      report_calls and \"faults\":{\"total\",\"503\",\n"
    "                      \"500\",\"429\",\"lost_reply\",\"lost_reply_502\"}\n"
    "  GET  /sim/control   current knobs and injection rules\n"
    "  POST /sim/control   JSON object, any of:\n"
    "    {\"hang_enrolls\":N}     next N enrolls are stored but never\n"
    "                           answered (until the client disconnects)\n"
    "    {\"pending_polls\":N}    default for new orders\n"
    "    {\"pending_seconds\":S}  default for new orders\n"
    "    {\"token_lifetime\":S}   lifetime of new tokens\n"
    "    {\"expire_tokens\":true} invalidate every token now\n"
    "    {\"reset_stats\":true}   zero the counters\n"
    "    {\"clear_failures\":true} drop pending fail_next rules\n"
    "    {\"advance_days\":N}     age validations and certificates N days\n"
    "    {\"auto_approve\":B}     false: new orders wait in Requested\n"
    "    {\"approve\":ID}         approve a Requested order (console)\n"
    "    {\"decline\":{\"id\":ID,\"message\":\"..\"}}  decline one\n"
    "    "
    "{\"console_revoke\":{\"id\":ID|\"serial\":S,\"reason\":\"keyCompromise\"}}"
    "\n"
    "    {\"console_replace\":{\"id\":ID}}  reissue now, new serial\n"
    "    {\"fail_rate\":P} {\"latency_ms\":MS} {\"seed\":N}  fault mode\n"
    "    {\"fail_next\":{\"path_prefix\":\"/api/ssl/v1/enroll\",\n"
    "      \"status\":500,\"code\":-2,\"description\":\"...\",\"count\":1,\n"
    "      \"method\":\"POST\"}}  answer the next matching requests with\n"
    "                           that error (also an array of rules;\n"
    "                           only path_prefix is required)\n";

enum {
	OPT_STATE_DIR = 256,
	OPT_LISTEN,
	OPT_CLIENT_ID,
	OPT_CLIENT_SECRET,
	OPT_LOGIN,
	OPT_PASSWORD,
	OPT_CUSTOMER_URI,
	OPT_ORG_ID,
	OPT_CERT_TYPE,
	OPT_PENDING_POLLS,
	OPT_PENDING_SECONDS,
	OPT_TOKEN_LIFETIME,
	OPT_PLAIN_HTTP,
	OPT_NO_DB,
	OPT_DOMAIN,
	OPT_REQUIRE_DCV,
	OPT_DNS_RESOLVER,
	OPT_DCV_VALIDITY,
	OPT_DCV_ATTEMPTS,
	OPT_APPROVAL,
	OPT_FAIL_RATE,
	OPT_LATENCY,
	OPT_SEED,
	OPT_HELP,
};

static const struct option long_options[] = {
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"client-secret", required_argument, NULL, OPT_CLIENT_SECRET},
    {"login", required_argument, NULL, OPT_LOGIN},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"customer-uri", required_argument, NULL, OPT_CUSTOMER_URI},
    {"org-id", required_argument, NULL, OPT_ORG_ID},
    {"cert-type", required_argument, NULL, OPT_CERT_TYPE},
    {"pending-polls", required_argument, NULL, OPT_PENDING_POLLS},
    {"pending-seconds", required_argument, NULL, OPT_PENDING_SECONDS},
    {"token-lifetime", required_argument, NULL, OPT_TOKEN_LIFETIME},
    {"plain-http", no_argument, NULL, OPT_PLAIN_HTTP},
    {"no-db", no_argument, NULL, OPT_NO_DB},
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {"require-dcv", no_argument, NULL, OPT_REQUIRE_DCV},
    {"dns-resolver", required_argument, NULL, OPT_DNS_RESOLVER},
    {"dcv-validity-days", required_argument, NULL, OPT_DCV_VALIDITY},
    {"dcv-check-attempts", required_argument, NULL, OPT_DCV_ATTEMPTS},
    {"approval-required", no_argument, NULL, OPT_APPROVAL},
    {"fail-rate", required_argument, NULL, OPT_FAIL_RATE},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void
secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void
conf_free(struct sim_conf *c)
{
	free(c->state_dir);
	free(c->listen_host);
	free(c->client_id);
	secret_free(c->client_secret);
	free(c->login);
	secret_free(c->password);
	free(c->customer_uri);
	free(c->dns_resolver);
	for (size_t i = 0; i < c->n_domains; i++)
		free(c->domains[i]);
	free(c->domains);
	memset(c, 0, sizeof(*c));
}

/* Replaces *slot with a copy of value. */
static int
set_str(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return -1;
	secret_free(*slot);
	*slot = copy;
	return 0;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT"/"PORT" (host 127.0.0.1) */
static int
parse_listen(struct sim_conf *c, const char *arg)
{
	const char *colon, *host = arg;
	size_t hlen;
	long port;

	if (arg[0] == '[') {
		colon = strstr(arg, "]:");
		if (colon == NULL)
			return -1;
		host = arg + 1;
		hlen = (size_t)(colon - host);
		colon++;
	} else {
		colon = strrchr(arg, ':');
		if (colon == NULL) {
			colon = arg - 1;
			hlen = 0;
		} else {
			hlen = (size_t)(colon - arg);
		}
	}
	if (sim_parse_long(colon + 1, 0, 65535, &port) != 0)
		return -1;
	free(c->listen_host);
	c->listen_host = hlen > 0 ? strndup(host, hlen) : strdup("127.0.0.1");
	if (c->listen_host == NULL)
		return -1;
	c->listen_port = (unsigned)port;
	return 0;
}

static int
parse_int_opt(const char *name, const char *arg, long min, long max, long *out)
{
	if (sim_parse_long(arg, min, max, out) != 0) {
		fprintf(stderr,
		    "sectigo-sim: --%s: want an integer in "
		    "%ld..%ld\n",
		    name, min, max);
		return -1;
	}
	return 0;
}

/* @return 0 to run, 1 to exit successfully (--help), -1 on error */
static int
parse_args(int argc, char **argv, struct sim_conf *c)
{
	long v;
	int ch, rc = 0;

	if (set_str(&c->listen_host, "127.0.0.1") != 0 ||
	    set_str(&c->client_id, "acmebridge") != 0 ||
	    set_str(&c->client_secret, "sim-secret") != 0 ||
	    set_str(&c->login, "admin") != 0 ||
	    set_str(&c->password, "sim-password") != 0 ||
	    set_str(&c->customer_uri, "acme-test") != 0)
		return -1;
	c->listen_port = 0;
	c->org_id = 1234;
	c->cert_type = 224;
	c->pending_polls = 2;
	c->pending_seconds = 0;
	c->token_lifetime = 300;
	c->dcv_validity_days = 198;
	c->dcv_check_attempts = 30;
	c->seed = 1;

	while (rc == 0 &&
	    (ch = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_STATE_DIR:
			rc = set_str(&c->state_dir, optarg);
			break;
		case OPT_LISTEN:
			rc = parse_listen(c, optarg);
			if (rc != 0)
				fprintf(stderr,
				    "sectigo-sim: --listen: want "
				    "HOST:PORT\n");
			break;
		case OPT_CLIENT_ID:
			rc = set_str(&c->client_id, optarg);
			break;
		case OPT_CLIENT_SECRET:
			rc = set_str(&c->client_secret, optarg);
			break;
		case OPT_LOGIN:
			rc = set_str(&c->login, optarg);
			break;
		case OPT_PASSWORD:
			rc = set_str(&c->password, optarg);
			break;
		case OPT_CUSTOMER_URI:
			rc = set_str(&c->customer_uri, optarg);
			break;
		case OPT_ORG_ID:
			/* its department, org_id + 1, must fit an int32 too */
			rc = parse_int_opt(
			    "org-id", optarg, 1, INT_MAX - 1, &c->org_id);
			break;
		case OPT_CERT_TYPE:
			rc = parse_int_opt(
			    "cert-type", optarg, 1, INT_MAX, &c->cert_type);
			break;
		case OPT_PENDING_POLLS:
			rc = parse_int_opt(
			    "pending-polls", optarg, 0, 1000000, &v);
			c->pending_polls = (int)v;
			break;
		case OPT_PENDING_SECONDS:
			rc = parse_int_opt(
			    "pending-seconds", optarg, 0, 100000000, &v);
			c->pending_seconds = (int)v;
			break;
		case OPT_TOKEN_LIFETIME:
			rc = parse_int_opt(
			    "token-lifetime", optarg, 1, 100000000, &v);
			c->token_lifetime = (int)v;
			break;
		case OPT_PLAIN_HTTP:
			c->plain_http = 1;
			break;
		case OPT_NO_DB:
			c->no_db = 1;
			break;
		case OPT_DOMAIN: {
			char **d = realloc(c->domains,
			    (c->n_domains + 1) * sizeof(*c->domains));
			if (d == NULL ||
			    (d[c->n_domains] = strdup(optarg)) == NULL) {
				rc = -1;
				if (d != NULL)
					c->domains = d;
				break;
			}
			c->domains = d;
			c->n_domains++;
			break;
		}
		case OPT_REQUIRE_DCV:
			c->require_dcv = 1;
			break;
		case OPT_DNS_RESOLVER:
			rc = set_str(&c->dns_resolver, optarg);
			break;
		case OPT_DCV_VALIDITY:
			rc = parse_int_opt(
			    "dcv-validity-days", optarg, 1, 3650, &v);
			c->dcv_validity_days = (int)v;
			break;
		case OPT_DCV_ATTEMPTS:
			rc = parse_int_opt(
			    "dcv-check-attempts", optarg, 1, 3600, &v);
			c->dcv_check_attempts = (int)v;
			break;
		case OPT_APPROVAL:
			c->approval_required = 1;
			break;
		case OPT_FAIL_RATE: {
			char *end;

			errno = 0;
			c->fail_rate = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(c->fail_rate >= 0.0 && c->fail_rate <= 1.0)) {
				fprintf(stderr,
				    "sectigo-sim: --fail-rate: want a "
				    "number in 0..1\n");
				rc = -1;
			}
			break;
		}
		case OPT_LATENCY:
			rc = parse_int_opt("latency-ms", optarg, 0, 600000, &v);
			c->latency_ms = (int)v;
			break;
		case OPT_SEED:
			rc = parse_int_opt("seed", optarg, 0, LONG_MAX, &v);
			c->seed = (unsigned long long)v;
			break;
		case OPT_HELP:
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			rc = -1;
			break;
		}
	}
	if (rc != 0)
		return -1;
	if (optind != argc) {
		fprintf(stderr, "sectigo-sim: unexpected argument %s\n",
		    argv[optind]);
		return -1;
	}
	if (c->state_dir == NULL) {
		fprintf(stderr, "sectigo-sim: --state-dir is required\n");
		return -1;
	}
	if (*c->client_id == '\0' || *c->client_secret == '\0' ||
	    *c->login == '\0' || *c->password == '\0') {
		fprintf(stderr, "sectigo-sim: credentials must not be empty\n");
		return -1;
	}
	return 0;
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
	struct sim *sim = arg;

	(void)events;
	fprintf(stderr, "sectigo-sim: signal %d, shutting down\n", (int)sig);
	event_base_loopexit(sim->base, NULL);
}

static int
write_port_file(const struct sim *sim)
{
	char *path, buf[16];
	int n, rc;

	path = sim_path(sim->conf->state_dir, "port");
	if (path == NULL)
		return -1;
	n = snprintf(buf, sizeof(buf), "%u\n", sim->port);
	rc = sim_write_file(path, buf, (size_t)n, 0644);
	free(path);
	return rc;
}

static void
remove_port_file(const struct sim_conf *conf)
{
	char *path = sim_path(conf->state_dir, "port");

	if (path != NULL)
		unlink(path);
	free(path);
}

int
main(int argc, char **argv)
{
	struct sim_conf conf;
	struct sim sim;
	struct event *ev_term = NULL, *ev_int = NULL;
	char *db_path = NULL;
	int rc, status = 1;

	memset(&conf, 0, sizeof(conf));
	memset(&sim, 0, sizeof(sim));
	TAILQ_INIT(&sim.tokens);
	TAILQ_INIT(&sim.fail_rules);
	TAILQ_INIT(&sim.hung);
	TAILQ_INIT(&sim.deferred);

	rc = parse_args(argc, argv, &conf);
	if (rc != 0) {
		if (rc < 0)
			fputs(usage_text, stderr);
		status = rc > 0 ? 0 : 2;
		goto out;
	}
	sim.conf = &conf;
	sim.pending_polls = conf.pending_polls;
	sim.pending_seconds = conf.pending_seconds;
	sim.token_lifetime = conf.token_lifetime;
	sim.auto_approve = !conf.approval_required;
	sim.fail_rate = conf.fail_rate;
	sim.latency_ms = conf.latency_ms;
	sim.rng = (uint64_t)conf.seed;
	sim_profiles_init(&sim);
	/* a test must not mistake a stale port file for a live simulator */
	remove_port_file(&conf);
	if (mkdir(conf.state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "sectigo-sim: mkdir %s: %s\n", conf.state_dir,
		    strerror(errno));
		goto out;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		goto out;

	sim.ca = sim_ca_load_or_create(conf.state_dir);
	if (sim.ca == NULL)
		goto out;
	if (!conf.no_db) {
		db_path = sim_path(conf.state_dir, "sim.db");
		if (db_path == NULL)
			goto out;
	}
	sim.store = sim_store_open(db_path);
	if (sim.store == NULL)
		goto out;
	sim.base = event_base_new();
	if (sim.base == NULL) {
		fprintf(stderr, "sectigo-sim: event_base_new failed\n");
		goto out;
	}
	ev_term = evsignal_new(sim.base, SIGTERM, on_signal, &sim);
	ev_int = evsignal_new(sim.base, SIGINT, on_signal, &sim);
	if (ev_term == NULL || ev_int == NULL ||
	    event_add(ev_term, NULL) != 0 || event_add(ev_int, NULL) != 0) {
		fprintf(stderr, "sectigo-sim: cannot install signals\n");
		goto out;
	}
	if (sim_dcv_init(&sim) != 0)
		goto out;
	if (sim_http_start(&sim) != 0)
		goto out;
	if (write_port_file(&sim) != 0)
		goto out;
	fprintf(stderr,
	    "sectigo-sim: listening on %s://%s:%u (%zu certificates "
	    "loaded)\n",
	    conf.plain_http ? "http" : "https", conf.listen_host, sim.port,
	    sim_store_count(sim.store));
	if (event_base_dispatch(sim.base) < 0) {
		fprintf(stderr, "sectigo-sim: event loop failed\n");
		goto out;
	}
	status = 0;
out:
	if (sim.conf != NULL)
		remove_port_file(&conf);
	sim_http_stop(&sim);
	sim_tokens_clear(&sim);
	sim_fail_rules_clear(&sim);
	sim_dcv_free(&sim);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (sim.base != NULL)
		event_base_free(sim.base);
	sim_store_free(sim.store);
	sim_ca_free(sim.ca);
	free(db_path);
	conf_free(&conf);
	libevent_global_shutdown();
	return status;
}
