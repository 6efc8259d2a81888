/* SPDX-License-Identifier: Apache-2.0 */
/* acmebridge: ACME server in front of Sectigo Certificate Manager. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/rand.h>

#include "acme/acme.h"
#include "acme/db.h"
#include "acme/jws.h"
#include "contrib/b64url.h"
#include "contrib/evcurl.h"
#include "contrib/log.h"
#include "proxy/conf.h"
#include "proxy/http.h"
#include "proxy/jobs.h"
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
	    "  check-config -c CONFIG        check the configuration and exit\n"
	    "  test-connection -c CONFIG [--connector NAME]\n"
	    "                                check each SCM connector: "
	    "connectivity,\n"
	    "                                authentication, organization "
	    "access, API\n"
	    "  eab add -c CONFIG [--connector NAME] [--note TEXT] "
	    "[--max-accounts N]\n"
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
	    "\n"
	    "options:\n"
	    "  -c, --config FILE   JSON configuration (see "
	    "contrib/dist/acmebridge.example.json)\n"
	    "  --connector NAME    CA connector (default: "
	    "acme.default_connector)\n"
	    "  --note TEXT         free text stored with an EAB key\n"
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
	log_notice("signal %d: shutting down", (int)sig);
	event_base_loopbreak(arg);
}

static int
cmd_serve(struct px_conf *conf)
{
	struct event_base *base = NULL;
	struct event *sint = NULL, *sterm = NULL;
	struct px_commit *commit = NULL;
	struct px_jobs *jobs = NULL;
	struct px_http *http = NULL;
	char err[512] = "";
	int rc = 1;

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
	sint = evsignal_new(base, SIGINT, on_signal, base);
	sterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (sint == NULL || sterm == NULL) {
		snprintf(err, sizeof(err), "cannot install signal handlers");
		goto out;
	}
	event_add(sint, NULL);
	event_add(sterm, NULL);
	log_notice("acmebridge %s listening on %s:%d (%d workers), directory "
	           "%s/directory",
	    ACMEBRIDGE_VERSION, conf->listen_host, conf->listen_port,
	    conf->workers, conf->acme.base_url);
	event_base_dispatch(base);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "acmebridge: %s\n", err);
	if (jobs != NULL)
		px_jobs_set_notify(jobs, NULL, NULL);
	/* what the last turn of the loop changed becomes durable; requests
	 * still waiting for a reply get none (their clients retry) */
	if (commit != NULL)
		px_commit_flush(commit);
	px_http_stop(http);
	px_jobs_free(jobs);
	px_commit_free(commit);
	if (sint != NULL)
		event_free(sint);
	if (sterm != NULL)
		event_free(sterm);
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

/*
 * Deactivate the valid accounts whose kid (by_eab 0) or eab_kid (by_eab 1)
 * is ref, with their pending and valid authorizations (RFC 8555 §7.3.6),
 * and write one audit row each with detail why. Runs in the caller's
 * transaction. @return the number of accounts deactivated, or -1.
 */
static int
deactivate_accounts(
    struct acme_db *db, int by_eab, const char *ref, const char *why)
{
	/* string literals: the statement cache is keyed by their address */
	static const char *const audit[] = {
	    "INSERT INTO audit(ts, event, ref, detail) SELECT ?,"
	    " 'account.deactivated', kid, ? FROM accounts WHERE kid = ? AND"
	    " status = 'valid'",
	    "INSERT INTO audit(ts, event, ref, detail) SELECT ?,"
	    " 'account.deactivated', kid, ? FROM accounts WHERE eab_kid = ?"
	    " AND status = 'valid'",
	};
	static const char *const authzs[] = {
	    "UPDATE authzs SET status = 'deactivated' WHERE status IN"
	    " ('pending', 'valid') AND account_id IN (SELECT id FROM accounts"
	    " WHERE kid = ? AND status = 'valid')",
	    "UPDATE authzs SET status = 'deactivated' WHERE status IN"
	    " ('pending', 'valid') AND account_id IN (SELECT id FROM accounts"
	    " WHERE eab_kid = ? AND status = 'valid')",
	};
	static const char *const accounts[] = {
	    "UPDATE accounts SET status = 'deactivated' WHERE kid = ? AND"
	    " status = 'valid'",
	    "UPDATE accounts SET status = 'deactivated' WHERE eab_kid = ? AND"
	    " status = 'valid'",
	};
	int i = by_eab ? 1 : 0;

	if (acme_db_exec(db, audit[i], "iss", (long long)time(NULL), why, ref) <
	        0 ||
	    acme_db_exec(db, authzs[i], "s", ref) < 0)
		return -1;
	return acme_db_exec(db, accounts[i], "s", ref);
}

/* Command-line options; they may stand before and after the command. */
struct cli {
	const char *config;
	const char *connector;
	const char *note;
	long long max_accounts; /* eab add: 0 = any number */
	int deactivate;         /* eab remove --deactivate-accounts */
};

static int
cmd_eab(struct px_conf *conf, int argc, char **argv, const struct cli *cli)
{
	const char *connector = cli->connector, *note = cli->note;
	struct acme_db *db = NULL;
	unsigned char key[32];
	char hmac[64];
	char *kid = NULL;
	json_t *rows = NULL, *row, *out;
	size_t i;
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
		/* 256-bit key, unpadded base64url: lego refuses shorter keys
		 * and padded encodings */
		kid = acme_random_token(16);
		/* a kid starting with '-' would read as an option in
		 * "eab remove KID"; draw again (1 time in 64) */
		while (kid != NULL && kid[0] == '-') {
			free(kid);
			kid = acme_random_token(16);
		}
		if (kid == NULL || RAND_bytes(key, sizeof(key)) != 1)
			goto out;
		b64url_encode(key, sizeof(key), hmac);
		OPENSSL_cleanse(key, sizeof(key));
		if (acme_db_begin(db) != 0)
			goto out;
		if (acme_db_exec(db,
		        "INSERT INTO eab_keys(kid, hmac_key, connector, note,"
		        " max_accounts, created) VALUES (?, ?, ?, ?,"
		        " NULLIF(?, 0), ?)",
		        "ssssii", kid, hmac, connector, note ? note : "",
		        cli->max_accounts, (long long)time(NULL)) != 1) {
			acme_db_rollback(db);
			goto out;
		}
		acme_db_audit(db, time(NULL), "eab.add", kid, connector);
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
		rows = acme_db_all(db,
		    "SELECT e.kid, e.connector, e.note, e.created,"
		    " ifnull(e.max_accounts, '-') AS max, (SELECT"
		    " count(*) FROM accounts a WHERE a.eab_kid = e.kid) AS"
		    " accounts FROM eab_keys e ORDER BY e.created",
		    NULL);
		if (rows == NULL)
			goto out;
		printf("%-24s %-16s %-8s %-6s %s\n", "KID", "CONNECTOR",
		    "ACCOUNTS", "MAX", "NOTE");
		json_array_foreach(rows, i, row) {
			char max[24];
			json_t *m = json_object_get(row, "max");

			if (json_is_integer(m))
				snprintf(max, sizeof(max), "%lld",
				    (long long)json_integer_value(m));
			else
				snprintf(max, sizeof(max), "-");
			printf("%-24s %-16s %-8lld %-6s %s\n",
			    acme_row_str(row, "kid"),
			    acme_row_str(row, "connector"),
			    acme_row_int(row, "accounts"), max,
			    acme_row_str(row, "note"));
		}
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
		n = acme_db_exec(
		    db, "DELETE FROM eab_keys WHERE kid = ?", "s", argv[1]);
		if (n >= 0 && cli->deactivate) {
			nacct = deactivate_accounts(
			    db, 1, argv[1], "eab remove --deactivate-accounts");
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
	json_decref(rows);
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
account_show(const struct px_conf *conf, const json_t *row)
{
	char created[32], url[1024];
	json_t *contact, *jwk, *out;
	const char *kid = acme_row_str(row, "kid");

	contact = json_loads(acme_row_str(row, "contact"), 0, NULL);
	jwk = json_loads(acme_row_str(row, "jwk"), 0, NULL);
	snprintf(url, sizeof(url), "%s/acct/%s", conf->acme.base_url, kid);
	out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:O, s:s, s:s, s:o,"
	                " s:I}",
	    "id", kid, "url", url, "status", acme_row_str(row, "status"),
	    "created",
	    acme_time_str(
	        acme_row_int(row, "created"), created, sizeof(created)),
	    "contact", contact != NULL ? contact : json_array(),
	    "termsOfServiceAgreed", (int)acme_row_int(row, "tos_agreed"),
	    "eab_kid", json_object_get(row, "eab_kid"), "connector",
	    acme_row_str(row, "connector"), "thumbprint",
	    acme_row_str(row, "thumbprint"), "key",
	    jwk != NULL ? jwk : json_null(), "orders",
	    (json_int_t)acme_row_int(row, "orders"));
	if (out == NULL) {
		fprintf(stderr, "acmebridge: account show: out of memory\n");
		return 1;
	}
	json_dumpf(out, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(out);
	return 0;
}

/* acmebridge account list|show|deactivate. */
static int
cmd_account(struct px_conf *conf, int argc, char **argv)
{
	struct acme_db *db = NULL;
	json_t *rows = NULL, *row = NULL, *r;
	const char *id = NULL;
	size_t i;
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
		rows = acme_db_all(db,
		    "SELECT kid, status, created, contact, eab_kid FROM"
		    " accounts ORDER BY id",
		    NULL);
		if (rows == NULL)
			goto out;
		printf("%-24s %-11s %-20s %-24s %s\n", "ID", "STATUS",
		    "CREATED", "EAB_KID", "CONTACT");
		json_array_foreach(rows, i, r) {
			char created[32];
			json_t *c =
			    json_loads(acme_row_str(r, "contact"), 0, NULL);
			char *cs = json_array_size(c) > 0
			    ? json_dumps(c, JSON_COMPACT)
			    : NULL;
			const char *eab = acme_row_str(r, "eab_kid");

			printf("%-24s %-11s %-20s %-24s %s\n",
			    acme_row_str(r, "kid"), acme_row_str(r, "status"),
			    acme_time_str(acme_row_int(r, "created"), created,
			        sizeof(created)),
			    eab[0] != '\0' ? eab : "-", cs != NULL ? cs : "-");
			free(cs);
			json_decref(c);
		}
		rc = 0;
		goto out;
	}
	row = acme_db_one(db,
	    "SELECT a.*, (SELECT count(*) FROM orders o WHERE o.account_id ="
	    " a.id) AS orders FROM accounts a WHERE a.kid = ?",
	    "s", id);
	if (row == NULL) {
		fprintf(stderr, "acmebridge: account %s: no account \"%s\"\n",
		    argv[0], id);
		goto out;
	}
	if (strcmp(argv[0], "show") == 0) {
		rc = account_show(conf, row);
		goto out;
	}
	if (strcmp(acme_row_str(row, "status"), "valid") != 0) {
		fprintf(stderr,
		    "acmebridge: account deactivate: account \"%s\" is "
		    "already %s\n",
		    id, acme_row_str(row, "status"));
		goto out;
	}
	if (acme_db_begin(db) != 0)
		goto out;
	n = deactivate_accounts(db, 0, id, "account deactivate");
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
	json_decref(rows);
	json_decref(row);
	acme_db_close(db);
	return rc;
}

struct tc_state {
	struct event_base *base;
	int failures;
	int pending;
};

static void
tc_line(void *arg, const char *check, int ok, const char *detail)
{
	(void)arg;
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

static int
cmd_test_connection(struct px_conf *conf, const char *only)
{
	struct tc_state st = {0};
	struct evcurl *ec = NULL;
	struct acme_ca **cas = NULL;
	int rc = 1;

	st.base = event_base_new();
	ec = st.base ? evcurl_new(st.base) : NULL;
	cas = calloc(conf->n_connectors, sizeof(*cas));
	if (ec == NULL || cas == NULL)
		goto out;
	for (size_t i = 0; i < conf->n_connectors; i++) {
		const struct px_connector *pc = &conf->connectors[i];
		struct sectigo_conf sc;

		px_connector_sectigo(pc, 15, &sc);
		if (only != NULL && strcmp(only, pc->name) != 0)
			continue;
		printf("connector %s (%s)\n", pc->name, pc->base_url);
		cas[i] = sectigo_ca_new(&sc, st.base, ec);
		if (cas[i] == NULL) {
			st.failures++;
			continue;
		}
		/* one connector at a time so the lines stay grouped */
		st.pending = 1;
		if (sectigo_test_connection(cas[i], tc_line, tc_done, &st) !=
		    0) {
			st.failures++;
			continue;
		}
		event_base_dispatch(st.base);
	}
	if (only != NULL && px_conf_connector(conf, only) == NULL) {
		fprintf(stderr,
		    "acmebridge: --connector: no connector named "
		    "\"%s\"\n",
		    only);
		goto out;
	}
	rc = st.failures == 0 ? 0 : 1;
out:
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
		case 'D':
			cli->deactivate = 1;
			break;
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
	if (rc >= 0)
		return rc;
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "check-config") != 0 &&
	    strcmp(cmd, "eab") != 0 && strcmp(cmd, "account") != 0 &&
	    strcmp(cmd, "test-connection") != 0) {
		fprintf(stderr, "acmebridge: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	if (cli.config == NULL) {
		fprintf(stderr, "acmebridge: %s: -c CONFIG is required\n", cmd);
		return 2;
	}
	/* eab and account only need the database */
	need_secrets = strcmp(cmd, "eab") != 0 && strcmp(cmd, "account") != 0;
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
		rc = cmd_test_connection(&conf, cli.connector);
	} else if (strcmp(cmd, "account") == 0) {
		rc = cmd_account(&conf, argc - optind, argv + optind);
	} else {
		rc = cmd_eab(&conf, argc - optind, argv + optind, &cli);
	}
	px_conf_free(&conf);
	curl_global_cleanup();
	libevent_global_shutdown();
	return rc;
}
