/* SPDX-License-Identifier: Apache-2.0 */
/* acmebridge: ACME server in front of Sectigo Certificate Manager. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/rand.h>

#include "acme/acme.h"
#include "acme/db.h"
#include "acme/jws.h"
#include "acme/store.h"
#include "contrib/b64url.h"
#include "contrib/evcurl.h"
#include "contrib/log.h"
#include "proxy/admin.h"
#include "proxy/conf.h"
#include "proxy/dcvcli.h"
#include "proxy/dnscli.h"
#include "proxy/http.h"
#include "proxy/jobs.h"
#include "proxy/notify.h"
#include "proxy/startcheck.h"
#include "proxy/lifecli.h"
#include "proxy/reload.h"
#include "acme/life.h"
#include "sectigo/sectigo.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: acmebridge COMMAND -c CONFIG [options]\n"
	    "\n"
	    "An ACME (RFC 8555) server that issues certificates through\n"
	    "Sectigo Certificate Manager.\n"
	    "\n"
	    "commands:\n"
	    "  serve -c CONFIG               run the server in the foreground\n"
	    "                                (SIGHUP: reload CONFIG, reopen "
	    "log_file)\n"
	    "  check-config -c CONFIG        check the configuration and exit\n"
	    "  test-connection -c CONFIG [--connector NAME] [--json]\n"
	    "                                check each SCM connector: "
	    "connectivity,\n"
	    "                                authentication, organization "
	    "access, and\n"
	    "                                each profile's cert type and "
	    "term (api)\n"
	    "  eab add -c CONFIG [--connector NAME] [--note TEXT] "
	    "[--max-accounts N]\n"
	    "                [--preauthorize PATTERN]...\n"
	    "                                create an External Account "
	    "Binding key;\n"
	    "                                prints {\"kid\",\"hmac_key\","
	    "\"connector\"}\n"
	    "  eab list -c CONFIG            list EAB keys (without their "
	    "secrets)\n"
	    "  eab remove -c CONFIG KID [--deactivate-accounts]\n"
	    "                                delete an EAB key; its accounts "
	    "keep working\n"
	    "                                unless --deactivate-accounts\n"
	    "  account list -c CONFIG        list ACME accounts\n"
	    "  account show -c CONFIG ID|URL print one account as JSON\n"
	    "  account deactivate -c CONFIG ID|URL\n"
	    "                                deactivate an account for good "
	    "(RFC 8555 §7.3.6)\n"
	    "  dns check -c CONFIG CONNECTOR can the DNS connector change "
	    "each of its zones?\n"
	    "  dns present|cleanup -c CONFIG CONNECTOR NAME TXT|CNAME VALUE\n"
	    "                                add or remove exactly one "
	    "record value\n"
	    "                                (cleanup: HANDLE after VALUE, "
	    "the record id present printed)\n"
	    "  dns values -c CONFIG CONNECTOR NAME TXT|CNAME\n"
	    "                                the values the provider holds "
	    "(if it can list)\n"
	    "  dns test -c CONFIG CONNECTOR ZONE\n"
	    "                                publish a test TXT, wait for "
	    "every authoritative\n"
	    "                                server, remove it (one line a "
	    "step)\n"
	    "  dns list -c CONFIG [all]      the records the bridge "
	    "published and still\n"
	    "                                holds (all: also removed "
	    "ones); orphans flagged\n"
	    "  inventory list|export -c CONFIG [--connector NAME] "
	    "[--account KID]\n"
	    "                [--name NAME] [--status S] [--profile P] "
	    "[--expiring DAYS]\n"
	    "                [--limit N] [--json|--csv]\n"
	    "                                the certificates issued, by "
	    "serial (export:\n"
	    "                                CSV unless --json); S: valid, "
	    "revoked, revoking,\n"
	    "                                expired, replaced\n"
	    "  inventory show -c CONFIG SERIAL  one certificate as JSON\n"
	    "  sync -c CONFIG [--connector NAME]\n"
	    "                                read SCM's SSL report now: "
	    "revocations,\n"
	    "                                replacements, approvals made in "
	    "SCM\n"
	    "  reissue -c CONFIG SERIAL --csr FILE [--reason TEXT] [--out "
	    "FILE]\n"
	    "                                SCM replace: same sslId, new "
	    "serial (kept in\n"
	    "                                the inventory as the successor)\n"
	    "  revoke -c CONFIG SERIAL [--reason R] [--wait SECONDS]\n"
	    "                                revoke through the running "
	    "server's job queue;\n"
	    "                                R: unspecified, keyCompromise, "
	    "affiliationChanged,\n"
	    "                                superseded, "
	    "cessationOfOperation\n"
	    "  backup -c CONFIG FILE         copy the database into a new "
	    "FILE while the\n"
	    "                                server runs (SQLite online "
	    "backup)\n"
	    "  db check -c CONFIG            integrity, schema version, "
	    "orphaned rows\n"
	    "  dcv list -c CONFIG            SCM domains and Sectigo DCV "
	    "runs\n"
	    "  dcv status -c CONFIG DOMAIN [--connector NAME]\n"
	    "  dcv start -c CONFIG DOMAIN [--connector NAME]\n"
	    "                                validate DOMAIN now (the "
	    "running server does it)\n"
	    "\n"
	    "options:\n"
	    "  -c, --config FILE   JSON configuration (see "
	    "contrib/dist/acmebridge.example.json)\n"
	    "  --connector NAME    CA connector (default: "
	    "acme.default_connector)\n"
	    "  --json              JSON output (test-connection: one "
	    "document; inventory)\n"
	    "  --note TEXT         free text stored with an EAB key\n"
	    "  --preauthorize PATTERN eab add: the key's accounts may order "
	    "names matching\n"
	    "                      PATTERN (host name, *.zone, IP address; "
	    "repeatable)\n"
	    "                      without challenges; other names are "
	    "refused\n"
	    "  --profiles A,B      eab add: the ACME profiles the key's "
	    "accounts may order\n"
	    "                      (default: all of its connector's)\n"
	    "  --max-accounts N    eab add: accounts the key may bind "
	    "(default: any number)\n"
	    "  --deactivate-accounts eab remove: deactivate the accounts "
	    "the key bound\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       print the version\n"
	    "\n"
	    "The database, its -wal file and the secret files must be "
	    "private to their\n"
	    "owner (chmod 600): acmebridge refuses to run otherwise.\n");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_event(LOG_LVL_NOTICE, "server.stop",
	    (struct log_kv[]){LOG_I("signal", sig), LOG_END},
	    "signal %d: shutting down", (int)sig);
	event_base_loopbreak(arg);
}

static int
cmd_serve(struct px_conf *conf)
{
	struct event_base *base = NULL;
	struct event *sint = NULL, *sterm = NULL, *shup = NULL;
	struct px_commit *commit = NULL;
	struct px_jobs *jobs = NULL;
	struct px_http *http = NULL;
	struct px_startcheck *check = NULL;
	struct px_reload *reload = NULL;
	struct px_admin *admin = NULL;
	char err[512] = "";
	int rc = 1;

	/* a SIGHUP before the loop takes it must not end the process */
	signal(SIGHUP, SIG_IGN);
	if (conf->log_file != NULL &&
	    (rc = log_set_file(conf->log_file)) != 0) {
		fprintf(stderr,
		    "acmebridge: config: log_file: cannot open %s: "
		    "%s\n",
		    conf->log_file, strerror(-rc));
		return 1;
	}
	rc = 1;
	log_set_json(conf->log_json);
	if (conf->tls_self_signed &&
	    px_tls_self_signed(conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "acmebridge: %s\n", err);
		return 1;
	}
	/* one table for every worker and the job runner; 64k busy keys at
	 * most (a few MiB), then new keys are refused */
	conf->acme.rl = acme_rl_new(65536);
	/* signer keys the workers check signatures with: 4096 accounts
	 * active at once fit, others are checked on the serving thread */
	conf->acme.keys = acme_keycache_new(4096);
	base = conf->acme.rl != NULL && conf->acme.keys != NULL
	    ? event_base_new()
	    : NULL;
	if (base == NULL) {
		fprintf(stderr, "acmebridge: cannot create the event loop\n");
		acme_rl_free(conf->acme.rl);
		conf->acme.rl = NULL;
		acme_keycache_free(conf->acme.keys);
		conf->acme.keys = NULL;
		return 1;
	}
	commit = px_commit_new(base, conf, err, sizeof(err));
	if (commit == NULL)
		goto out;
	jobs = px_jobs_new(base, conf, commit, err, sizeof(err));
	if (jobs == NULL)
		goto out;
	px_commit_set_kick(commit, px_jobs_kick_cb, jobs);
	http = px_http_start(conf, commit, err, sizeof(err));
	if (http == NULL)
		goto out;
	px_jobs_set_notify(jobs, px_http_notify, http);
	if (conf->admin.enabled) {
		admin = px_admin_start(base, conf, err, sizeof(err));
		if (admin == NULL)
			goto out;
	}
	sint = evsignal_new(base, SIGINT, on_signal, base);
	sterm = evsignal_new(base, SIGTERM, on_signal, base);
	/* SIGHUP: reopen the log file, reload the configuration */
	reload = px_reload_new(conf, jobs, http);
	shup = reload != NULL
	    ? evsignal_new(base, SIGHUP, px_reload_on_signal, reload)
	    : NULL;
	if (sint == NULL || sterm == NULL || shup == NULL) {
		snprintf(err, sizeof(err), "cannot install signal handlers");
		goto out;
	}
	event_add(sint, NULL);
	event_add(sterm, NULL);
	event_add(shup, NULL);
	log_event(LOG_LVL_NOTICE, "server.start",
	    (struct log_kv[]){LOG_S("version", ACMEBRIDGE_VERSION),
	        LOG_S("listen", conf->listen_host),
	        LOG_I("port", conf->listen_port),
	        LOG_I("workers", conf->workers), LOG_I("pid", getpid()),
	        LOG_END},
	    "acmebridge %s listening on %s:%d (%d workers), directory "
	    "%s/directory",
	    ACMEBRIDGE_VERSION, conf->listen_host, conf->listen_port,
	    conf->workers, conf->acme.base_url);
	px_notify_watchdog_start(base);
	px_notify_ready(
	    "serving on %s:%d", conf->listen_host, conf->listen_port);
	/* test-connection in the background: logged, never fatal */
	check = px_startcheck_start(base, conf);
	event_base_dispatch(base);
	rc = 0;
out:
	px_notify_stopping();
	px_notify_watchdog_stop();
	if (rc != 0)
		fprintf(stderr, "acmebridge: %s\n", err);
	if (jobs != NULL)
		px_jobs_set_notify(jobs, NULL, NULL);
	/* what the last turn of the loop changed becomes durable; requests
	 * still waiting for a reply get none (their clients retry) */
	if (commit != NULL)
		px_commit_flush(commit);
	px_startcheck_free(check);
	px_admin_stop(admin);
	px_http_stop(http);
	px_jobs_free(jobs);
	px_commit_free(commit);
	/* after everything that may point into a retired configuration */
	px_reload_free(reload);
	if (sint != NULL)
		event_free(sint);
	if (sterm != NULL)
		event_free(sterm);
	if (shup != NULL)
		event_free(shup);
	event_base_free(base);
	acme_rl_free(conf->acme.rl);
	conf->acme.rl = NULL;
	acme_keycache_free(conf->acme.keys);
	conf->acme.keys = NULL;
	return rc;
}

static int
open_db(const struct px_conf *conf, struct acme_db **db)
{
	char err[512];

	*db =
	    acme_db_open(conf->database, conf->db_sync_full, err, sizeof(err));
	if (*db == NULL) {
		fprintf(stderr, "acmebridge: %s\n", err);
		return -1;
	}
	return 0;
}

/* Command-line options; they may stand before and after the command. */
struct cli {
	const char *config;
	const char *connector;
	const char *note;
	long long max_accounts;   /* eab add: 0 = any number */
	int deactivate;           /* eab remove --deactivate-accounts */
	json_t *preauth;          /* eab add --preauthorize, or NULL */
	json_t *profiles;         /* eab add --profiles, or NULL */
	struct px_life_opts life; /* inventory, sync, reissue, revoke */
};

/* A --preauthorize pattern: a host name, "*." and a zone, or an IP
 * address; lower-cased into out. */
static int
preauth_ok(const char *in, char *out, size_t len)
{
	unsigned char buf[16];
	const char *name;
	size_t j = 0;

	for (; *in != '\0' && j + 1 < len; in++)
		out[j++] = (char)tolower((unsigned char)*in);
	out[j] = '\0';
	if (inet_pton(AF_INET, out, buf) == 1 ||
	    inet_pton(AF_INET6, out, buf) == 1)
		return 1;
	name = strncmp(out, "*.", 2) == 0 ? out + 2 : out;
	return dns_name_ok(name) && strchr(name, '.') != NULL;
}

static void
print_eab(const struct acme_eab_info *e, void *arg)
{
	char max[24] = "-";

	(void)arg;
	if (e->max_accounts > 0)
		snprintf(max, sizeof(max), "%lld", e->max_accounts);
	printf("%-24s %-16s %-8lld %-6s %-30s %s\n", e->kid, e->connector,
	    e->accounts, max, e->preauth[0] ? e->preauth : "-", e->note);
}

static int
cmd_eab(struct px_conf *conf, int argc, char **argv, const struct cli *cli)
{
	const char *connector = cli->connector, *note = cli->note;
	struct acme_db *db = NULL;
	unsigned char key[32];
	char hmac[64];
	char *kid = NULL;
	json_t *out;
	int rc = 1;

	if (argc < 1) {
		fprintf(stderr, "acmebridge: eab: add, list or remove?\n");
		return 2;
	}
	if (open_db(conf, &db) != 0)
		return 1;
	if (strcmp(argv[0], "add") == 0) {
		if (connector == NULL)
			connector = conf->acme.default_connector;
		if (px_conf_connector(conf, connector) == NULL) {
			fprintf(stderr,
			    "acmebridge: --connector: no connector named "
			    "\"%s\" in %s\n",
			    connector, conf->path);
			goto out;
		}
		for (size_t i = 0; i < json_array_size(cli->profiles); i++) {
			const char *pn =
			    json_string_value(json_array_get(cli->profiles, i));
			if (px_connector_profile(
			        px_conf_connector(conf, connector), pn) ==
			        NULL ||
			    pn[0] == '\0') {
				fprintf(stderr,
				    "acmebridge: --profiles: connector \"%s\" "
				    "has no profile \"%s\"\n",
				    connector, pn);
				goto out;
			}
		}
		/* 256-bit key, unpadded base64url: lego refuses shorter keys
		 * and padded encodings */
		kid = acme_random_token(16);
		/* a kid starting with '-' would read as an option in
		 * "eab remove KID"; draw again (1 time in 64) */
		while (kid != NULL && kid[0] == '-') {
			free(kid);
			kid = acme_random_token(16);
		}
		/* nor may the key start with '-' (base64url 62: the top six
		 * bits of its first byte): "certbot --eab-hmac-key -x..." and
		 * other clients' option parsers take it for an option */
		do {
			if (RAND_bytes(key, sizeof(key)) != 1)
				goto out;
		} while ((key[0] >> 2) == 62);
		if (kid == NULL)
			goto out;
		b64url_encode(key, sizeof(key), hmac);
		OPENSSL_cleanse(key, sizeof(key));
		if (acme_db_begin(db) != 0)
			goto out;
		if (acme_store_eab_add(db, kid, hmac, connector, note,
		        cli->max_accounts, (long long)time(NULL)) != 1) {
			acme_db_rollback(db);
			goto out;
		}
		if (cli->preauth != NULL) {
			char *pj = json_dumps(cli->preauth, JSON_COMPACT);
			int r = pj != NULL && strlen(pj) < 1000
			    ? acme_store_eab_set_preauth(db, kid, pj)
			    : -1;
			free(pj);
			if (r != 1) {
				fprintf(stderr,
				    "acmebridge: --preauthorize: "
				    "too many patterns (1000 bytes "
				    "in all)\n");
				acme_db_rollback(db);
				goto out;
			}
		}
		if (cli->profiles != NULL) {
			char *pj = json_dumps(cli->profiles, JSON_COMPACT);
			int r = pj != NULL
			    ? acme_life_eab_set_profiles(db, kid, pj)
			    : -1;
			free(pj);
			if (r != 1) {
				acme_db_rollback(db);
				goto out;
			}
		}
		if (acme_db_commit(db) != 0)
			goto out;
		out = json_pack("{s:s, s:s, s:s}", "kid", kid, "hmac_key", hmac,
		    "connector", connector);
		OPENSSL_cleanse(hmac, sizeof(hmac));
		if (out == NULL)
			goto out;
		json_dumpf(out, stdout, JSON_COMPACT);
		printf("\n");
		json_decref(out);
		rc = 0;
	} else if (strcmp(argv[0], "list") == 0) {
		printf("%-24s %-16s %-8s %-6s %-30s %s\n", "KID", "CONNECTOR",
		    "ACCOUNTS", "MAX", "PREAUTHORIZED", "NOTE");
		if (acme_store_eab_each(db, print_eab, NULL) != 0)
			goto out;
		rc = 0;
	} else if (strcmp(argv[0], "remove") == 0) {
		char detail[64] = "";
		int n, nacct = 0;
		if (argc < 2) {
			fprintf(
			    stderr, "acmebridge: eab remove: KID missing\n");
			rc = 2;
			goto out;
		}
		/* the key can no longer bind new accounts; those already
		 * bound keep working unless --deactivate-accounts, which cuts
		 * them off in the same transaction (also for a key removed
		 * before) */
		if (acme_db_begin(db) != 0)
			goto out;
		n = acme_store_eab_remove(db, argv[1]);
		if (n >= 0 && cli->deactivate) {
			nacct = acme_store_accounts_deactivate(db, 1, argv[1],
			    "eab remove --deactivate-accounts",
			    (long long)time(NULL));
			if (nacct < 0)
				n = -1;
			snprintf(detail, sizeof(detail),
			    "deactivated %d accounts", nacct);
		}
		if (n <= 0 && nacct <= 0) {
			acme_db_rollback(db);
			fprintf(stderr, "acmebridge: eab remove: %s\n",
			    n == 0 ? "no such key" : "database error");
			goto out;
		}
		acme_db_audit(db, time(NULL), "eab.remove", argv[1], detail);
		if (acme_db_commit(db) != 0)
			goto out;
		if (cli->deactivate)
			printf("removed %s, deactivated %d account(s)\n",
			    argv[1], nacct);
		else
			printf("removed %s\n", argv[1]);
		rc = 0;
	} else {
		fprintf(stderr, "acmebridge: eab: unknown command \"%s\"\n",
		    argv[0]);
		rc = 2;
	}
out:
	free(kid);
	acme_db_close(db);
	return rc;
}

/* The account token of ID or of an account URL of this server. */
static const char *
account_id(const struct px_conf *conf, const char *arg)
{
	size_t n = strlen(conf->acme.base_url);

	if (strncmp(arg, conf->acme.base_url, n) == 0 &&
	    strncmp(arg + n, "/acct/", 6) == 0)
		return arg + n + 6;
	return arg;
}

/* acmebridge account show: the account as one JSON object. */
static int
account_show(const struct px_conf *conf, const struct acme_account *a)
{
	char created[32], url[1024];
	json_t *contact, *jwk, *out;

	contact = json_loads(a->contact ? a->contact : "[]", 0, NULL);
	jwk = json_loads(a->jwk ? a->jwk : "", 0, NULL);
	snprintf(url, sizeof(url), "%s/acct/%s", conf->acme.base_url, a->kid);
	out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:s, s:s, s:o,"
	                " s:I}",
	    "id", a->kid, "url", url, "status", acme_acct_status_str(a->status),
	    "created", acme_time_str(a->created, created, sizeof(created)),
	    "contact", contact != NULL ? contact : json_array(),
	    "termsOfServiceAgreed", a->tos_agreed, "eab_kid",
	    a->eab_kid[0] ? json_string(a->eab_kid) : json_null(), "connector",
	    a->connector, "thumbprint", a->thumbprint, "key",
	    jwk != NULL ? jwk : json_null(), "orders", (json_int_t)a->orders);
	if (out == NULL) {
		fprintf(stderr, "acmebridge: account show: out of memory\n");
		return 1;
	}
	json_dumpf(out, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(out);
	return 0;
}

static void
print_account(const struct acme_account *a, void *arg)
{
	char created[32];
	json_t *c = json_loads(a->contact ? a->contact : "[]", 0, NULL);
	char *cs = json_array_size(c) > 0 ? json_dumps(c, JSON_COMPACT) : NULL;

	(void)arg;
	printf("%-24s %-11s %-20s %-24s %s\n", a->kid,
	    acme_acct_status_str(a->status),
	    acme_time_str(a->created, created, sizeof(created)),
	    a->eab_kid[0] != '\0' ? a->eab_kid : "-", cs != NULL ? cs : "-");
	free(cs);
	json_decref(c);
}

/* acmebridge account list|show|deactivate. */
static int
cmd_account(struct px_conf *conf, int argc, char **argv)
{
	struct acme_db *db = NULL;
	struct acme_account acct = {0};
	enum acme_found found;
	const char *id = NULL;
	int rc = 1, n;

	if (argc < 1) {
		fprintf(
		    stderr, "acmebridge: account: list, show or deactivate?\n");
		return 2;
	}
	if (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "show") != 0 &&
	    strcmp(argv[0], "deactivate") != 0) {
		fprintf(stderr, "acmebridge: account: unknown command \"%s\"\n",
		    argv[0]);
		return 2;
	}
	if (strcmp(argv[0], "list") != 0) {
		if (argc < 2) {
			fprintf(stderr, "acmebridge: account %s: ID missing\n",
			    argv[0]);
			return 2;
		}
		id = account_id(conf, argv[1]);
	}
	if (open_db(conf, &db) != 0)
		return 1;
	if (strcmp(argv[0], "list") == 0) {
		printf("%-24s %-11s %-20s %-24s %s\n", "ID", "STATUS",
		    "CREATED", "EAB_KID", "CONTACT");
		if (acme_store_account_each(db, print_account, NULL) == 0)
			rc = 0;
		goto out;
	}
	found = acme_store_account(db, id, &acct);
	if (found != ACME_FOUND) {
		fprintf(stderr, "acmebridge: account %s: %s \"%s\"\n", argv[0],
		    found == ACME_NONE ? "no account"
		                       : "database error reading",
		    id);
		goto out;
	}
	if (strcmp(argv[0], "show") == 0) {
		rc = account_show(conf, &acct);
		goto out;
	}
	if (acct.status != ACME_ACCT_VALID) {
		fprintf(stderr,
		    "acmebridge: account deactivate: account \"%s\" is "
		    "already %s\n",
		    id, acme_acct_status_str(acct.status));
		goto out;
	}
	if (acme_db_begin(db) != 0)
		goto out;
	n = acme_store_accounts_deactivate(
	    db, 0, id, "account deactivate", (long long)time(NULL));
	if (n != 1 || acme_db_commit(db) != 0) {
		acme_db_rollback(db);
		fprintf(stderr, "acmebridge: account deactivate: %s\n",
		    n == 0 ? "the account changed meanwhile, try again"
		           : "database error");
		goto out;
	}
	printf("deactivated %s\n", id);
	rc = 0;
out:
	acme_account_clear(&acct);
	acme_db_close(db);
	return rc;
}

struct tc_state {
	struct event_base *base;
	int failures;
	int pending;
	json_t *checks; /* --json: the current connector's checks */
};

static void
tc_line(void *arg, const char *check, int ok, const char *detail)
{
	struct tc_state *st = arg;

	if (st->checks != NULL) {
		json_array_append_new(st->checks,
		    json_pack("{s:s, s:b, s:s}", "check", check, "ok", ok,
		        "detail", detail));
		return;
	}
	printf("%-15s %s  %s\n", check, ok ? "ok  " : "FAIL", detail);
	fflush(stdout);
}

static void
tc_done(void *arg, int failures)
{
	struct tc_state *st = arg;

	st->failures += failures;
	if (--st->pending == 0)
		event_base_loopbreak(st->base);
}

/* --json: {"connectors": [{"name", "base_url", "checks": [{"check", "ok",
 * "detail"}], "ok"}], "ok"} on stdout, the exit status as without it. */
static int
cmd_test_connection(struct px_conf *conf, const char *only, int json)
{
	struct tc_state st = {0};
	struct evcurl *ec = NULL;
	struct acme_ca **cas = NULL;
	json_t *doc = NULL, *list = NULL;
	int rc = 1;

	st.base = event_base_new();
	ec = st.base ? evcurl_new(st.base) : NULL;
	cas = calloc(conf->n_connectors, sizeof(*cas));
	if (json) {
		list = json_array();
		doc = json_pack("{s:o}", "connectors", list);
	}
	if (ec == NULL || cas == NULL || (json && doc == NULL))
		goto out;
	for (size_t i = 0; i < conf->n_connectors; i++) {
		const struct px_connector *pc = &conf->connectors[i];
		struct sectigo_conf sc;
		int before = st.failures;

		px_connector_sectigo(pc, 15, &sc);
		if (only != NULL && strcmp(only, pc->name) != 0)
			continue;
		if (json) {
			st.checks = json_array();
			if (st.checks == NULL)
				goto out;
		} else {
			printf("connector %s (%s)\n", pc->name, pc->base_url);
		}
		cas[i] = sectigo_ca_new(&sc, st.base, ec);
		if (cas[i] != NULL) {
			/* one connector at a time so the lines stay grouped */
			st.pending = 1;
			if (sectigo_test_connection(
			        cas[i], tc_line, tc_done, &st) == 0)
				event_base_dispatch(st.base);
			else
				tc_line(&st, "configuration", 0,
				    "cannot start the checks");
		} else {
			/* sectigo_ca_new logged why */
			tc_line(&st, "configuration", 0,
			    "the connector's settings were refused (see the "
			    "log)");
		}
		if (st.pending != 0 || cas[i] == NULL)
			st.failures++;
		if (json)
			json_array_append_new(list,
			    json_pack("{s:s, s:s, s:o, s:b}", "name", pc->name,
			        "base_url", pc->base_url, "checks", st.checks,
			        "ok", st.failures == before));
		st.checks = NULL;
	}
	if (only != NULL && px_conf_connector(conf, only) == NULL) {
		fprintf(stderr,
		    "acmebridge: --connector: no connector named "
		    "\"%s\"\n",
		    only);
		goto out;
	}
	rc = st.failures == 0 ? 0 : 1;
	if (json) {
		json_object_set_new(doc, "ok", json_boolean(rc == 0));
		if (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0) {
			rc = 1;
			goto out;
		}
		printf("\n");
	}
out:
	json_decref(doc);
	for (size_t i = 0; cas != NULL && i < conf->n_connectors; i++)
		if (cas[i] != NULL)
			cas[i]->ops->free(cas[i]);
	free(cas);
	evcurl_free(ec);
	if (st.base != NULL)
		event_base_free(st.base);
	return rc;
}

/* One getopt pass over argv; -1 to go on, else the exit code. */
static int
parse_opts(int argc, char **argv, const char *spec, struct cli *cli)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"connector", required_argument, NULL, 'n'},
	    {"note", required_argument, NULL, 'N'},
	    {"max-accounts", required_argument, NULL, 'M'},
	    {"deactivate-accounts", no_argument, NULL, 'D'},
	    {"preauthorize", required_argument, NULL, 'P'},
	    {"profiles", required_argument, NULL, 'R'},
	    {"account", required_argument, NULL, 'a'},
	    {"name", required_argument, NULL, 'm'},
	    {"status", required_argument, NULL, 's'},
	    {"profile", required_argument, NULL, 'p'},
	    {"expiring", required_argument, NULL, 'e'},
	    {"json", no_argument, NULL, 'j'},
	    {"csv", no_argument, NULL, 'v'},
	    {"limit", required_argument, NULL, 'l'},
	    {"csr", required_argument, NULL, 'q'},
	    {"reason", required_argument, NULL, 'r'},
	    {"out", required_argument, NULL, 'o'},
	    {"wait", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, spec, opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->config = optarg;
			break;
		case 'n':
			cli->connector = optarg;
			break;
		case 'N':
			cli->note = optarg;
			break;
		case 'M': {
			char *end;

			errno = 0;
			cli->max_accounts = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    cli->max_accounts < 1 ||
			    cli->max_accounts > 1000000000) {
				fprintf(stderr,
				    "acmebridge: --max-accounts: must be a "
				    "whole number from 1 to 1000000000\n");
				return 2;
			}
			break;
		}
		case 'P': {
			char pat[256];

			if (!preauth_ok(optarg, pat, sizeof(pat))) {
				fprintf(stderr,
				    "acmebridge: --preauthorize: \"%s\" must "
				    "be "
				    "a host name, *.zone or an IP address\n",
				    optarg);
				return 2;
			}
			if (cli->preauth == NULL)
				cli->preauth = json_array();
			json_array_append_new(cli->preauth, json_string(pat));
			break;
		}
		case 'D':
			cli->deactivate = 1;
			break;
		case 'R': {
			char *list = strdup(optarg), *save = NULL, *p;

			if (cli->profiles == NULL)
				cli->profiles = json_array();
			for (p = list ? strtok_r(list, ",", &save) : NULL;
			     p != NULL; p = strtok_r(NULL, ",", &save))
				json_array_append_new(
				    cli->profiles, json_string(p));
			free(list);
			break;
		}
		case 'a':
			cli->life.account = optarg;
			break;
		case 'm':
			cli->life.name = optarg;
			break;
		case 's':
			cli->life.status = optarg;
			break;
		case 'p':
			cli->life.profile = optarg;
			break;
		case 'j':
			cli->life.json = 1;
			break;
		case 'v':
			cli->life.csv = 1;
			break;
		case 'q':
			cli->life.csr_file = optarg;
			break;
		case 'r':
			cli->life.reason = optarg;
			break;
		case 'o':
			cli->life.out_file = optarg;
			break;
		case 'e':
		case 'l':
		case 'w': {
			char *end;
			long long v;

			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    v < 1 || v > 100000) {
				fprintf(stderr,
				    "acmebridge: --%s: must be a whole number "
				    "from 1 to 100000\n",
				    c == 'e'       ? "expiring"
				        : c == 'l' ? "limit"
				                   : "wait");
				return 2;
			}
			if (c == 'e')
				cli->life.expiring_days = v;
			else if (c == 'l')
				cli->life.limit = (int)v;
			else
				cli->life.wait_seconds = (int)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("acmebridge %s\n", ACMEBRIDGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

static void
check_line(void *arg, const char *check, int ok, const char *detail)
{
	(void)arg;
	printf("%-10s %s  %s\n", check, ok ? "ok  " : "FAIL", detail);
}

/* backup FILE, db check: the database alone, while the server runs. */
static int
cmd_db(struct px_conf *conf, const char *cmd, int argc, char **argv)
{
	struct acme_db *db;
	char err[512];
	int rc = 1;

	if (strcmp(cmd, "backup") == 0
	        ? argc != 1
	        : argc != 1 || strcmp(argv[0], "check")) {
		fprintf(stderr,
		    "usage: acmebridge backup -c CONFIG FILE\n"
		    "       acmebridge db check -c CONFIG\n");
		return 2;
	}
	if (open_db(conf, &db) != 0)
		return 1;
	if (strcmp(cmd, "backup") == 0) {
		if (acme_db_backup(db, argv[0], err, sizeof(err)) != 0)
			fprintf(stderr, "acmebridge: %s\n", err);
		else {
			printf("backup of %s written to %s\n", conf->database,
			    argv[0]);
			rc = 0;
		}
	} else {
		rc = acme_db_check(db, check_line, NULL) == 0 ? 0 : 1;
	}
	acme_db_close(db);
	return rc;
}

/* dns and dcv: those that read the database open it here. */
static int
cmd_db_tool(struct px_conf *conf, const char *cmd, int argc, char **argv,
    const struct cli *cli)
{
	struct acme_db *db;
	int rc;

	if (strcmp(cmd, "dns") == 0 &&
	    (argc < 1 || strcmp(argv[0], "list") != 0))
		return cmd_dns(conf, argc, argv);
	if (strcmp(cmd, "dns") == 0 && argc > 2) {
		fprintf(stderr, "usage: acmebridge dns list -c CONFIG [all]\n");
		return 2;
	}
	if (open_db(conf, &db) != 0)
		return 1;
	if (strcmp(cmd, "dns") == 0)
		rc = cmd_dns_list(
		    conf, db, argc == 2 && strcmp(argv[1], "all") == 0);
	else
		rc = cmd_dcv(conf, db, argc, argv, cli->connector);
	acme_db_close(db);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli cli = {0};
	const char *cmd;
	struct px_conf conf;
	char err[512];
	int rc, need_secrets;

	/* everything acmebridge creates (database, -wal, -shm, the
	 * self-signed key) is for the service user alone */
	umask(077);
	rc = parse_opts(argc, argv, "+c:hV", &cli);
	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	/* options may also follow the command and its words ("eab add -c
	 * FILE"): rescan from the command in permuting mode; optind = 0 makes
	 * glibc start over (argv[0] is then the command) */
	argc -= optind;
	argv += optind;
	optind = 0;
	rc = parse_opts(argc, argv, "c:hV", &cli);
	if (rc >= 0) {
		json_decref(cli.preauth);
		return rc;
	}
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "check-config") != 0 &&
	    strcmp(cmd, "eab") != 0 && strcmp(cmd, "account") != 0 &&
	    strcmp(cmd, "test-connection") != 0 && strcmp(cmd, "dns") != 0 &&
	    strcmp(cmd, "dcv") != 0 && strcmp(cmd, "inventory") != 0 &&
	    strcmp(cmd, "sync") != 0 && strcmp(cmd, "reissue") != 0 &&
	    strcmp(cmd, "revoke") != 0 && strcmp(cmd, "backup") != 0 &&
	    strcmp(cmd, "db") != 0) {
		fprintf(stderr, "acmebridge: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	if (cli.config == NULL) {
		fprintf(stderr, "acmebridge: %s: -c CONFIG is required\n", cmd);
		return 2;
	}
	/* eab and account only need the database */
	need_secrets = strcmp(cmd, "eab") != 0 && strcmp(cmd, "account") != 0 &&
	    strcmp(cmd, "dcv") != 0 && strcmp(cmd, "inventory") != 0 &&
	    strcmp(cmd, "revoke") != 0 && strcmp(cmd, "backup") != 0 &&
	    strcmp(cmd, "db") != 0 &&
	    !(strcmp(cmd, "dns") == 0 && optind < argc &&
	        strcmp(argv[optind], "list") == 0);
	if (px_conf_load(cli.config, &conf, need_secrets, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "acmebridge: %s\n", err);
		return 1;
	}
	log_set_level(log_level_parse(conf.log_level));
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "acmebridge: library initialisation failed\n");
		px_conf_free(&conf);
		return 1;
	}
	if (strcmp(cmd, "check-config") == 0) {
		printf("config ok\n");
		rc = 0;
	} else if (strcmp(cmd, "serve") == 0) {
		rc = cmd_serve(&conf);
	} else if (strcmp(cmd, "test-connection") == 0) {
		rc = cmd_test_connection(&conf, cli.connector, cli.life.json);
	} else if (strcmp(cmd, "account") == 0) {
		rc = cmd_account(&conf, argc - optind, argv + optind);
	} else if (strcmp(cmd, "backup") == 0 || strcmp(cmd, "db") == 0) {
		rc = cmd_db(&conf, cmd, argc - optind, argv + optind);
	} else if (strcmp(cmd, "inventory") == 0) {
		cli.life.connector = cli.connector;
		rc = px_cmd_inventory(
		    &conf, argc - optind, argv + optind, &cli.life);
	} else if (strcmp(cmd, "sync") == 0) {
		cli.life.connector = cli.connector;
		rc = px_cmd_sync(&conf, &cli.life);
	} else if (strcmp(cmd, "reissue") == 0) {
		rc = px_cmd_reissue(
		    &conf, argc - optind, argv + optind, &cli.life);
	} else if (strcmp(cmd, "revoke") == 0) {
		rc = px_cmd_revoke(
		    &conf, argc - optind, argv + optind, &cli.life);
	} else if (strcmp(cmd, "dns") == 0 || strcmp(cmd, "dcv") == 0) {
		rc =
		    cmd_db_tool(&conf, cmd, argc - optind, argv + optind, &cli);
	} else {
		rc = cmd_eab(&conf, argc - optind, argv + optind, &cli);
	}
	px_conf_free(&conf);
	json_decref(cli.preauth);
	json_decref(cli.profiles);
	curl_global_cleanup();
	libevent_global_shutdown();
	return rc;
}
