/* SPDX-License-Identifier: Apache-2.0 */
/* acmebridge: ACME server in front of Sectigo Certificate Manager. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/rand.h>

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
	    "  eab add -c CONFIG [--connector NAME] [--note TEXT]\n"
	    "                                create an External Account "
	    "Binding key;\n"
	    "                                prints {\"kid\",\"hmac_key\","
	    "\"connector\"}\n"
	    "  eab list -c CONFIG            list EAB keys (without their "
	    "secrets)\n"
	    "  eab remove -c CONFIG KID      delete an EAB key (bound accounts "
	    "keep working)\n"
	    "\n"
	    "options:\n"
	    "  -c, --config FILE   JSON configuration (see "
	    "contrib/dist/acmebridge.example.json)\n"
	    "  --connector NAME    CA connector (default: "
	    "acme.default_connector)\n"
	    "  --note TEXT         free text stored with an EAB key\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       print the version\n");
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
	base = conf->acme.rl != NULL ? event_base_new() : NULL;
	if (base == NULL) {
		fprintf(stderr, "acmebridge: cannot create the event loop\n");
		acme_rl_free(conf->acme.rl);
		conf->acme.rl = NULL;
		return 1;
	}
	jobs = px_jobs_new(base, conf, err, sizeof(err));
	if (jobs == NULL)
		goto out;
	http = px_http_start(conf, jobs, err, sizeof(err));
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
	px_http_stop(http);
	px_jobs_free(jobs);
	if (sint != NULL)
		event_free(sint);
	if (sterm != NULL)
		event_free(sterm);
	event_base_free(base);
	acme_rl_free(conf->acme.rl);
	conf->acme.rl = NULL;
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

static int
cmd_eab(struct px_conf *conf, int argc, char **argv, const char *connector,
    const char *note)
{
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
		if (kid == NULL || RAND_bytes(key, sizeof(key)) != 1)
			goto out;
		b64url_encode(key, sizeof(key), hmac);
		OPENSSL_cleanse(key, sizeof(key));
		if (acme_db_begin(db) != 0)
			goto out;
		if (acme_db_exec(db,
		        "INSERT INTO eab_keys(kid, hmac_key, connector, note,"
		        " created) VALUES (?, ?, ?, ?, ?)",
		        "ssssi", kid, hmac, connector, note ? note : "",
		        (long long)time(NULL)) != 1) {
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
		    "SELECT e.kid, e.connector, e.note, e.created, (SELECT"
		    " count(*) FROM accounts a WHERE a.eab_kid = e.kid) AS"
		    " accounts FROM eab_keys e ORDER BY e.created",
		    NULL);
		if (rows == NULL)
			goto out;
		printf("%-24s %-16s %-8s %s\n", "KID", "CONNECTOR", "ACCOUNTS",
		    "NOTE");
		json_array_foreach(rows, i, row)
			printf("%-24s %-16s %-8lld %s\n",
			    acme_row_str(row, "kid"),
			    acme_row_str(row, "connector"),
			    acme_row_int(row, "accounts"),
			    acme_row_str(row, "note"));
		rc = 0;
	} else if (strcmp(argv[0], "remove") == 0) {
		int n;
		if (argc < 2) {
			fprintf(
			    stderr, "acmebridge: eab remove: KID missing\n");
			rc = 2;
			goto out;
		}
		/* accounts already bound keep working; the key can no longer
		 * bind new ones */
		if (acme_db_begin(db) != 0)
			goto out;
		n = acme_db_exec(
		    db, "DELETE FROM eab_keys WHERE kid = ?", "s", argv[1]);
		if (n <= 0) {
			acme_db_rollback(db);
			fprintf(stderr, "acmebridge: eab remove: %s\n",
			    n == 0 ? "no such key" : "database error");
			goto out;
		}
		acme_db_audit(db, time(NULL), "eab.remove", argv[1], "");
		if (acme_db_commit(db) != 0)
			goto out;
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

/* Command-line options; they may stand before and after the command. */
struct cli {
	const char *config;
	const char *connector;
	const char *note;
};

/* One getopt pass over argv; -1 to go on, else the exit code. */
static int
parse_opts(int argc, char **argv, const char *spec, struct cli *cli)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"connector", required_argument, NULL, 'n'},
	    {"note", required_argument, NULL, 'N'},
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
	    strcmp(cmd, "eab") != 0 && strcmp(cmd, "test-connection") != 0) {
		fprintf(stderr, "acmebridge: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	if (cli.config == NULL) {
		fprintf(stderr, "acmebridge: %s: -c CONFIG is required\n", cmd);
		return 2;
	}
	need_secrets = strcmp(cmd, "eab") != 0;
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
	} else {
		rc = cmd_eab(&conf, argc - optind, argv + optind, cli.connector,
		    cli.note);
	}
	px_conf_free(&conf);
	curl_global_cleanup();
	libevent_global_shutdown();
	return rc;
}
