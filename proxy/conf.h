/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON configuration file: schema-checked, secrets read from files or
 * the environment. */
#pragma once
#include <stddef.h>

#include <jansson.h>

#include "acme/acme.h"
#include "dns/connector.h"
#include "proxy/validate.h"
#include "sectigo/sectigo.h"

/** An ACME profile of a connector (draft-ietf-acme-profiles): what SCM
 * is asked for when an order names it. */
struct px_profile {
	const char *name;        /* the ACME name, [A-Za-z0-9._-]{1,64} */
	const char *description; /* meta.profiles text */
	int cert_type;           /* SCM certType id */
	int term;                /* days */
	long org_id;             /* organization or department */
};

/** One CA connector (strings borrowed from the parsed JSON or owned). */
struct px_connector {
	const char *name;
	const char *type; /* "sectigo" */
	const char *base_url;
	const char *auth; /* "oauth2" | "header" */
	const char *token_url;
	const char *client_id;
	char *client_secret; /* owned, cleansed on free */
	const char *login;
	char *password; /* owned, cleansed on free */
	const char *customer_uri;
	const char *ca_file;
	const char *external_requester;
	long org_id;
	int cert_type;
	int validity_days;
	int max_concurrent; /* SCM calls in flight at once */
	int renew_by_id;    /* renew_via "renewById": renewals with the same
			       names and profile go through SCM renewById */
	/* profiles, the default first after loading; never empty (without a
	 * "profiles" object: one named "default" from cert_type,
	 * validity_days and org_id) */
	struct px_profile *profiles;
	size_t n_profiles;
	struct sectigo_profile *sc_profiles;     /* the same, for sectigo/ */
	struct acme_profile_info *acme_profiles; /* and for acme/ */
};

struct px_conf {
	json_t *root;            /* the parsed file; strings point into it */
	const char *path;        /* config file path */
	const char *listen_host; /* from "listen" */
	char listen_buf[256];
	int listen_port;
	int workers; /* resolved: >= 1 */
	const char *database;
	int db_sync_full;
	const char *log_level;
	int log_json;         /* log_format "json" */
	const char *log_file; /* append-only log file, or NULL: stderr */
	const char *tls_cert;
	const char *tls_key;
	int tls_self_signed;
	struct acme_settings acme; /* acme.rl is created by the caller */
	int validation_slots;      /* validation jobs in flight at most */
	int ca_slots;              /* enroll/collect/revoke jobs in flight */
	int ca_give_up_hours;    /* enroll/collect fail the order only after */
	int approval_wait_hours; /* an enrollment awaiting an SCM
				    administrator's approval waits this long */
	int approval_poll;       /* s between collects while it waits */
	int sync_interval;       /* minutes between SCM report syncs, 0 off */
	int retention_days;      /* dead orders/authorizations kept this long */
	int audit_retention_days; /* 0: the audit log is kept for good */
	struct {
		int max_conns;        /* open connections per process */
		int max_conns_per_ip; /* per client address, all workers */
		int request_timeout;  /* s: handshake + one whole request */
		int idle_timeout;     /* s: idle keep-alive connection */
	} frontend;
	struct px_validate_conf validation;
	struct px_connector *connectors;
	size_t n_connectors;
	struct acme_connector_info *acme_connectors; /* acme.connectors */
	struct dns_registry *dns; /* "dns_connectors" (never NULL) */
	struct {
		int enabled;           /* the "admin" object is present */
		char host[256];        /* listen address */
		int port;              /* listen port */
		const char *tls_cert;  /* HTTPS when set (with tls_key) */
		const char *tls_key;   /* private key file */
		char *token;           /* bearer token (owned, cleansed), or
					  NULL: no token asked */
		int public_status;     /* the status page without the token */
		int scm_ready_seconds; /* readyz: SCM reached this recently */
		int scm_probe_seconds; /* idle this long: probe SCM */
	} admin;
	struct {
		int enabled;         /* Sectigo DCV before enrolling */
		int margin_days;     /* re-validate this long before expiry */
		int poll_seconds;    /* SCM status polls this far apart */
		int timeout_minutes; /* a DCV run gives up after */
		int check_interval;  /* s between scheduler passes */
		int domain_cache;    /* s an SCM domain's status is trusted */
		int dns_threads;     /* connector calls in parallel */
	} dcv;
};

/**
 * Load and check path. On error returns -1 with one line in err naming
 * the setting at fault (e.g. "config: acme.retry_after_seconds: must be
 * between 5 and 60").
 * @param need_secrets 0 to skip reading secret files (eab subcommands)
 */
int px_conf_load(const char *path, struct px_conf *conf, int need_secrets,
    char *err, size_t errlen);
void px_conf_free(struct px_conf *conf);
/** The SCM backend settings of a connector (strings borrowed from pc). */
void px_connector_sectigo(const struct px_connector *pc, int timeout_seconds,
    struct sectigo_conf *sc);
/** A connector's profile by name (NULL or "": the default), or NULL. */
const struct px_profile *px_connector_profile(
    const struct px_connector *pc, const char *name);
/** Connector by name, or NULL. */
const struct px_connector *px_conf_connector(
    const struct px_conf *conf, const char *name);
