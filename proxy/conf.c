/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration: a schema table checks every key (unknown keys are errors,
 * keys starting with '#' are comments), then values land in px_conf. */
#include "proxy/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "contrib/log.h"
#include "contrib/secfile.h"

enum kind { K_STR, K_INT, K_BOOL, K_OBJ, K_ARR };

struct key {
	const char *name;
	enum kind kind;
	int required;
	long long min, max; /* K_INT bounds */
};

static const struct key top_keys[] = {
    {"listen", K_STR, 1, 0, 0},
    {"base_url", K_STR, 1, 0, 0},
    {"workers", K_INT, 0, 0, 256},
    {"database", K_STR, 1, 0, 0},
    {"database_sync", K_STR, 0, 0, 0},
    {"log_level", K_STR, 0, 0, 0},
    {"log_format", K_STR, 0, 0, 0},
    {"log_file", K_STR, 0, 0, 0},
    {"tls", K_OBJ, 1, 0, 0},
    {"acme", K_OBJ, 0, 0, 0},
    {"validation", K_OBJ, 0, 0, 0},
    {"connectors", K_ARR, 1, 0, 0},
    {"rate_limits", K_OBJ, 0, 0, 0},
    {"jobs", K_OBJ, 0, 0, 0},
    {"frontend", K_OBJ, 0, 0, 0},
    {"dns_connectors", K_ARR, 0, 0, 0},
    {"dcv", K_OBJ, 0, 0, 0},
    {"admin", K_OBJ, 0, 0, 0},
    {NULL, 0, 0, 0, 0},
};
static const struct key admin_keys[] = {
    {"listen", K_STR, 0, 0, 0},
    {"tls_cert_file", K_STR, 0, 0, 0},
    {"tls_key_file", K_STR, 0, 0, 0},
    {"token_file", K_STR, 0, 0, 0},
    {"public_status_page", K_BOOL, 0, 0, 0},
    {"scm_ready_seconds", K_INT, 0, 2, 86400},
    {"scm_probe_seconds", K_INT, 0, 1, 3600},
    {NULL, 0, 0, 0, 0},
};
static const struct key dcv_keys[] = {
    {"enabled", K_BOOL, 0, 0, 0},
    {"margin_days", K_INT, 0, 0, 365},
    {"poll_seconds", K_INT, 0, 1, 3600},
    {"timeout_minutes", K_INT, 0, 1, 10080},
    {"check_interval_seconds", K_INT, 0, 1, 86400},
    {"domain_cache_seconds", K_INT, 0, 0, 86400},
    {"dns_threads", K_INT, 0, 1, 16},
    {NULL, 0, 0, 0, 0},
};
static const struct key frontend_keys[] = {
    {"max_connections", K_INT, 0, 1, 1000000},
    {"max_connections_per_ip", K_INT, 0, 1, 1000000},
    {"request_timeout_seconds", K_INT, 0, 1, 3600},
    {"idle_timeout_seconds", K_INT, 0, 1, 86400},
    {NULL, 0, 0, 0, 0},
};
/* Every limit: 0 turns it off. */
static const struct key rl_keys[] = {
    {"new_accounts_per_ip_per_hour", K_INT, 0, 0, 1000000},
    {"new_orders_per_account_per_hour", K_INT, 0, 0, 1000000},
    {"new_orders_per_ip_per_hour", K_INT, 0, 0, 1000000},
    {"new_orders_per_domain_per_week", K_INT, 0, 0, 100000000},
    {"failed_validations_per_identifier_per_hour", K_INT, 0, 0, 1000000},
    {"certificates_per_name_set_per_week", K_INT, 0, 0, 1000000},
    {"pending_authorizations_per_account", K_INT, 0, 0, 100000000},
    {NULL, 0, 0, 0, 0},
};
static const struct key jobs_keys[] = {
    {"validation_slots", K_INT, 0, 1, 1024},
    {"ca_slots", K_INT, 0, 1, 1024},
    {"ca_give_up_hours", K_INT, 0, 1, 8760},
    {"approval_wait_hours", K_INT, 0, 1, 8760},
    {"approval_poll_seconds", K_INT, 0, 5, 3600},
    {"sync_interval_minutes", K_INT, 0, 0, 10080},
    {"retention_days", K_INT, 0, 1, 3650},
    {"audit_retention_days", K_INT, 0, 0, 36500},
    {NULL, 0, 0, 0, 0},
};
static const struct key tls_keys[] = {
    {"cert_file", K_STR, 1, 0, 0},
    {"key_file", K_STR, 1, 0, 0},
    {"self_signed", K_BOOL, 0, 0, 0},
    {NULL, 0, 0, 0, 0},
};
static const struct key acme_keys[] = {
    {"terms_of_service", K_STR, 0, 0, 0},
    {"website", K_STR, 0, 0, 0},
    {"caa_identities", K_ARR, 0, 0, 0},
    {"require_eab", K_BOOL, 0, 0, 0},
    {"default_connector", K_STR, 0, 0, 0},
    {"authz_reuse_seconds", K_INT, 0, 0, 398LL * 86400},
    {"order_lifetime_seconds", K_INT, 0, 60, 30LL * 86400},
    {"finalize_wait_seconds", K_INT, 0, 0, 40},
    {"retry_after_seconds", K_INT, 0, 5, 60},
    {"approval_retry_after_seconds", K_INT, 0, 5, 600},
    {"ari_retry_after_seconds", K_INT, 0, 60, 86400},
    {"challenge_types", K_ARR, 0, 0, 0},
    {NULL, 0, 0, 0, 0},
};
static const struct key val_keys[] = {
    {"http01_port", K_INT, 0, 1, 65535},
    {"tlsalpn01_port", K_INT, 0, 1, 65535},
    {"dns_resolver", K_STR, 0, 0, 0},
    {"timeout_seconds", K_INT, 0, 1, 120},
    {"allow_private_addresses", K_BOOL, 0, 0, 0},
    {NULL, 0, 0, 0, 0},
};
static const struct key conn_keys[] = {
    {"name", K_STR, 1, 0, 0},
    {"type", K_STR, 1, 0, 0},
    {"base_url", K_STR, 1, 0, 0},
    {"auth", K_STR, 0, 0, 0},
    {"token_url", K_STR, 0, 0, 0},
    {"client_id", K_STR, 0, 0, 0},
    {"client_secret_file", K_STR, 0, 0, 0},
    {"client_secret_env", K_STR, 0, 0, 0},
    {"login", K_STR, 0, 0, 0},
    {"password_file", K_STR, 0, 0, 0},
    {"password_env", K_STR, 0, 0, 0},
    {"customer_uri", K_STR, 0, 0, 0},
    {"org_id", K_INT, 1, 1, 2147483647},
    {"cert_type", K_INT, 1, 1, 2147483647},
    {"validity_days", K_INT, 0, 1, 3650},
    {"ca_file", K_STR, 0, 0, 0},
    {"external_requester", K_STR, 0, 0, 0},
    {"max_concurrent", K_INT, 0, 1, 256},
    {"renew_via", K_STR, 0, 0, 0},
    {"profiles", K_OBJ, 0, 0, 0},
    {"default_profile", K_STR, 0, 0, 0},
    {NULL, 0, 0, 0, 0},
};
static const struct key profile_keys[] = {
    {"description", K_STR, 0, 0, 0},
    {"cert_type", K_INT, 0, 1, 2147483647},
    {"term", K_INT, 0, 1, 3650},
    {"org_id", K_INT, 0, 1, 2147483647},
    {NULL, 0, 0, 0, 0},
};

static const char *
kind_name(enum kind k)
{
	static const char *const n[] = {
	    "a string", "an integer", "true or false", "an object", "an array"};
	return n[k];
}

static int
kind_ok(const json_t *v, enum kind k)
{
	switch (k) {
	case K_STR:
		return json_is_string(v);
	case K_INT:
		return json_is_integer(v);
	case K_BOOL:
		return json_is_boolean(v);
	case K_OBJ:
		return json_is_object(v);
	case K_ARR:
		return json_is_array(v);
	}
	return 0;
}

/* Check obj against the table; prefix names the object in messages. */
static int
check(const json_t *obj, const struct key *keys, const char *prefix, char *err,
    size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		const struct key *d = keys;
		if (k[0] == '#')
			continue;
		while (d->name != NULL && strcmp(d->name, k) != 0)
			d++;
		if (d->name == NULL) {
			snprintf(err, errlen, "config: %s%s: unknown setting",
			    prefix, k);
			return -1;
		}
		if (!kind_ok(v, d->kind)) {
			snprintf(err, errlen, "config: %s%s: must be %s",
			    prefix, k, kind_name(d->kind));
			return -1;
		}
		if (d->kind == K_INT && (d->min != 0 || d->max != 0) &&
		    (json_integer_value(v) < d->min ||
		        json_integer_value(v) > d->max)) {
			snprintf(err, errlen,
			    "config: %s%s: must be between %lld and %lld",
			    prefix, k, d->min, d->max);
			return -1;
		}
		if (d->kind == K_STR && json_string_length(v) == 0 &&
		    d->required) {
			snprintf(err, errlen, "config: %s%s: must not be empty",
			    prefix, k);
			return -1;
		}
	}
	for (const struct key *d = keys; d->name != NULL; d++) {
		if (d->required && json_object_get(obj, d->name) == NULL) {
			snprintf(err, errlen,
			    "config: %s%s: required setting "
			    "is missing",
			    prefix, d->name);
			return -1;
		}
	}
	return 0;
}

static const char *
str(const json_t *obj, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, k));
	return s != NULL ? s : def;
}

static long long
num(const json_t *obj, const char *k, long long def)
{
	json_t *v = json_object_get(obj, k);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* An ACME profile name: what a URL, a JSON key and a log line carry
 * without quoting. */
static int
profile_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		        *s == '-'))
			return 0;
	return 1;
}

/* "profiles": {"name": {cert_type, term, org_id, description}} with the
 * connector's values as defaults; the default profile goes first. */
static int
load_profiles(const json_t *c, const char *prefix, struct px_connector *pc,
    char *err, size_t errlen)
{
	const json_t *obj = json_object_get(c, "profiles");
	const char *def = str(c, "default_profile", NULL), *k;
	size_t n = obj != NULL ? json_object_size(obj) : 0, i = 0;
	json_t *v;

	if (obj != NULL && n == 0) {
		snprintf(err, errlen,
		    "config: %sprofiles: name at least one profile or leave "
		    "the setting out",
		    prefix);
		return -1;
	}
	pc->profiles = calloc(n > 0 ? n : 1, sizeof(*pc->profiles));
	pc->sc_profiles = calloc(n > 0 ? n : 1, sizeof(*pc->sc_profiles));
	if (pc->profiles == NULL || pc->sc_profiles == NULL) {
		snprintf(err, errlen, "config: out of memory");
		return -1;
	}
	if (obj == NULL) {
		if (def != NULL && strcmp(def, "default") != 0) {
			snprintf(err, errlen,
			    "config: %sdefault_profile: no profile named "
			    "\"%s\" (without \"profiles\" there is one, "
			    "\"default\")",
			    prefix, def);
			return -1;
		}
		pc->profiles[0] = (struct px_profile){"default",
		    "the connector's certificate type and term", pc->cert_type,
		    pc->validity_days, pc->org_id};
		i = 1;
	}
	json_object_foreach((json_t *)obj, k, v) {
		struct px_profile *p = &pc->profiles[i];
		char pp[160];

		snprintf(pp, sizeof(pp), "%sprofiles.%s.", prefix, k);
		if (!profile_name_ok(k)) {
			snprintf(err, errlen,
			    "config: %sprofiles: \"%.64s\": a profile name is "
			    "1 to 64 of A-Z a-z 0-9 . _ -",
			    prefix, k);
			return -1;
		}
		if (!json_is_object(v)) {
			snprintf(
			    err, errlen, "config: %s: must be an object", pp);
			return -1;
		}
		if (check(v, profile_keys, pp, err, errlen) != 0)
			return -1;
		p->name = k;
		p->description = str(v, "description", k);
		p->cert_type = (int)num(v, "cert_type", pc->cert_type);
		p->term = (int)num(v, "term", pc->validity_days);
		p->org_id = (long)num(v, "org_id", pc->org_id);
		i++;
	}
	pc->n_profiles = i;
	if (def == NULL)
		def = pc->profiles[0].name;
	for (i = 0; i < pc->n_profiles; i++) {
		if (strcmp(pc->profiles[i].name, def) == 0) {
			struct px_profile t = pc->profiles[0];
			pc->profiles[0] = pc->profiles[i];
			pc->profiles[i] = t;
			break;
		}
	}
	if (i == pc->n_profiles) {
		snprintf(err, errlen,
		    "config: %sdefault_profile: no profile named \"%s\"",
		    prefix, def);
		return -1;
	}
	for (i = 0; i < pc->n_profiles; i++) {
		const struct px_profile *p = &pc->profiles[i];
		pc->sc_profiles[i] = (struct sectigo_profile){
		    p->name, p->cert_type, p->term, p->org_id};
		if (p->term > 199)
			log_warn("config: %sprofiles.%s: a term of %d days is "
			         "over the 199 days SCM allows for public SSL "
			         "profiles (test-connection shows whether SCM "
			         "offers it)",
			    prefix, p->name, p->term);
	}
	return 0;
}

static int
load_connector(const json_t *c, size_t i, struct px_connector *pc,
    int need_secrets, char *err, size_t errlen)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "connectors[%zu].", i);
	if (!json_is_object(c)) {
		snprintf(err, errlen,
		    "config: connectors[%zu]: must be an "
		    "object",
		    i);
		return -1;
	}
	if (check(c, conn_keys, prefix, err, errlen) != 0)
		return -1;
	pc->name = str(c, "name", "");
	pc->type = str(c, "type", "");
	pc->base_url = str(c, "base_url", "");
	pc->auth = str(c, "auth", "oauth2");
	pc->token_url = str(c, "token_url",
	    "https://auth.sso.sectigo.com/auth/realms/apiclients/protocol/"
	    "openid-connect/token");
	pc->client_id = str(c, "client_id", NULL);
	pc->login = str(c, "login", NULL);
	pc->customer_uri = str(c, "customer_uri", NULL);
	pc->ca_file = str(c, "ca_file", NULL);
	pc->external_requester = str(c, "external_requester", NULL);
	pc->org_id = (long)num(c, "org_id", 0);
	pc->cert_type = (int)num(c, "cert_type", 0);
	pc->validity_days = (int)num(c, "validity_days", 365);
	pc->max_concurrent = (int)num(c, "max_concurrent", 8);
	if (strcmp(str(c, "renew_via", "enroll"), "renewById") == 0)
		pc->renew_by_id = 1;
	else if (strcmp(str(c, "renew_via", "enroll"), "enroll") != 0) {
		snprintf(err, errlen,
		    "config: %srenew_via: must be \"enroll\" or "
		    "\"renewById\"",
		    prefix);
		return -1;
	}
	if (load_profiles(c, prefix, pc, err, errlen) != 0)
		return -1;
	if (strcmp(pc->type, "sectigo") != 0) {
		snprintf(err, errlen,
		    "config: %stype: unknown connector type \"%s\" (known: "
		    "sectigo)",
		    prefix, pc->type);
		return -1;
	}
	/* the client secret travels to this URL: TLS only */
	if (strncmp(pc->base_url, "https://", 8) != 0) {
		snprintf(err, errlen,
		    "config: %sbase_url: must be an https URL", prefix);
		return -1;
	}
	if (strcmp(pc->auth, "oauth2") == 0) {
		if (pc->client_id == NULL) {
			snprintf(err, errlen,
			    "config: %sclient_id: required with auth oauth2",
			    prefix);
			return -1;
		}
		if (need_secrets &&
		    secfile_read(c, "client_secret", prefix, &pc->client_secret,
		        err, errlen) != 0)
			return -1;
	} else if (strcmp(pc->auth, "header") == 0) {
		if (pc->login == NULL || pc->customer_uri == NULL) {
			snprintf(err, errlen,
			    "config: %s%s: required with auth header", prefix,
			    pc->login == NULL ? "login" : "customer_uri");
			return -1;
		}
		if (need_secrets &&
		    secfile_read(
		        c, "password", prefix, &pc->password, err, errlen) != 0)
			return -1;
	} else {
		snprintf(err, errlen,
		    "config: %sauth: must be \"oauth2\" or \"header\"", prefix);
		return -1;
	}
	return 0;
}

static int parse_hostport(const char *s, char *host, size_t hlen, int *port);

/* "admin": the metrics, health and status listener. */
static int
load_admin(const json_t *a, int need_secrets, struct px_conf *conf, char *err,
    size_t errlen)
{
	const char *tok;

	if (a == NULL)
		return 0;
	if (check(a, admin_keys, "admin.", err, errlen) != 0)
		return -1;
	conf->admin.enabled = 1;
	if (parse_hostport(str(a, "listen", "127.0.0.1:9180"), conf->admin.host,
	        sizeof(conf->admin.host), &conf->admin.port) != 0 ||
	    conf->admin.host[0] == '\0') {
		snprintf(err, errlen,
		    "config: admin.listen: must be address:port (e.g. "
		    "127.0.0.1:9180)");
		return -1;
	}
	conf->admin.tls_cert = str(a, "tls_cert_file", NULL);
	conf->admin.tls_key = str(a, "tls_key_file", NULL);
	if ((conf->admin.tls_cert == NULL) != (conf->admin.tls_key == NULL)) {
		snprintf(err, errlen,
		    "config: admin.%s: required with admin.%s",
		    conf->admin.tls_cert == NULL ? "tls_cert_file"
		                                 : "tls_key_file",
		    conf->admin.tls_cert == NULL ? "tls_key_file"
		                                 : "tls_cert_file");
		return -1;
	}
	if (need_secrets && conf->admin.tls_key != NULL &&
	    secfile_check("config: admin.tls_key_file:", conf->admin.tls_key,
	        -1, err, errlen) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen,
			    "config: admin.tls_key_file: %s does not exist",
			    conf->admin.tls_key);
		return -1;
	}
	tok = str(a, "token_file", NULL);
	if (tok != NULL && need_secrets) {
		if (secfile_read(a, "token", "admin.", &conf->admin.token, err,
		        errlen) != 0)
			return -1;
		/* guessable tokens defeat the point */
		if (strlen(conf->admin.token) < 16 ||
		    strpbrk(conf->admin.token, "\r\n") != NULL) {
			snprintf(err, errlen,
			    "config: admin.token_file: %s must hold one line "
			    "of "
			    "at least 16 characters",
			    tok);
			return -1;
		}
	}
	conf->admin.public_status =
	    json_is_true(json_object_get(a, "public_status_page"));
	conf->admin.scm_ready_seconds = (int)num(a, "scm_ready_seconds", 300);
	conf->admin.scm_probe_seconds = (int)num(a, "scm_probe_seconds", 60);
	if (conf->admin.scm_probe_seconds >= conf->admin.scm_ready_seconds) {
		snprintf(err, errlen,
		    "config: admin.scm_probe_seconds: must be less than "
		    "admin.scm_ready_seconds (%d), or an idle bridge is "
		    "never ready",
		    conf->admin.scm_ready_seconds);
		return -1;
	}
	return 0;
}

static int
parse_hostport(const char *s, char *host, size_t hlen, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (colon == NULL || colon == s)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 0 || p > 65535)
		return -1;
	if (s[0] == '[' && colon[-1] == ']')
		snprintf(host, hlen, "%.*s", (int)(colon - s - 2), s + 1);
	else
		snprintf(host, hlen, "%.*s", (int)(colon - s), s);
	*port = (int)p;
	return 0;
}

/* Defaults: generous for one busy team, tight enough that a runaway
 * client or a flood from one address is stopped within the hour. */
static void
load_rate_limits(const json_t *rl, struct acme_rate_limits *lim)
{
	lim->accounts_per_ip = (struct acme_limit){
	    num(rl, "new_accounts_per_ip_per_hour", 50), 3600};
	lim->orders_per_account = (struct acme_limit){
	    num(rl, "new_orders_per_account_per_hour", 300), 3600};
	lim->orders_per_ip = (struct acme_limit){
	    num(rl, "new_orders_per_ip_per_hour", 1000), 3600};
	lim->orders_per_domain = (struct acme_limit){
	    num(rl, "new_orders_per_domain_per_week", 10000), 7 * 86400};
	lim->failed_validations = (struct acme_limit){
	    num(rl, "failed_validations_per_identifier_per_hour", 10), 3600};
	lim->certs_per_name_set = (struct acme_limit){
	    num(rl, "certificates_per_name_set_per_week", 20), 7 * 86400};
	lim->pending_authzs =
	    num(rl, "pending_authorizations_per_account", 1000);
}

int
px_conf_load(const char *path, struct px_conf *conf, int need_secrets,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *tls, *acme, *val, *conns, *v;
	const char *ll, *sync;
	json_t *rl, *jobs, *fe, *dcv;
	size_t i;
	long nproc;

	memset(conf, 0, sizeof(*conf));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		if (je.line < 0) /* not opened: the text names the file */
			snprintf(err, errlen, "config: %s", je.text);
		else
			snprintf(err, errlen, "config: %s:%d: %s", path,
			    je.line, je.text);
		return -1;
	}
	conf->root = root;
	conf->path = path;
	if (!json_is_object(root)) {
		snprintf(
		    err, errlen, "config: %s: must be a JSON object", path);
		goto fail;
	}
	if (check(root, top_keys, "", err, errlen) != 0)
		goto fail;
	tls = json_object_get(root, "tls");
	acme = json_object_get(root, "acme");
	val = json_object_get(root, "validation");
	rl = json_object_get(root, "rate_limits");
	jobs = json_object_get(root, "jobs");
	fe = json_object_get(root, "frontend");
	dcv = json_object_get(root, "dcv");
	if (check(tls, tls_keys, "tls.", err, errlen) != 0 ||
	    (dcv && check(dcv, dcv_keys, "dcv.", err, errlen) != 0) ||
	    (acme && check(acme, acme_keys, "acme.", err, errlen) != 0) ||
	    (val && check(val, val_keys, "validation.", err, errlen) != 0) ||
	    (rl && check(rl, rl_keys, "rate_limits.", err, errlen) != 0) ||
	    (jobs && check(jobs, jobs_keys, "jobs.", err, errlen) != 0) ||
	    (fe && check(fe, frontend_keys, "frontend.", err, errlen) != 0))
		goto fail;
	conf->frontend.max_conns = (int)num(fe, "max_connections", 4096);
	conf->frontend.max_conns_per_ip =
	    (int)num(fe, "max_connections_per_ip", 64);
	conf->frontend.request_timeout =
	    (int)num(fe, "request_timeout_seconds", 30);
	conf->frontend.idle_timeout = (int)num(fe, "idle_timeout_seconds", 60);
	load_rate_limits(rl, &conf->acme.limits);
	conf->validation_slots = (int)num(jobs, "validation_slots", 48);
	conf->ca_slots = (int)num(jobs, "ca_slots", 16);
	conf->ca_give_up_hours = (int)num(jobs, "ca_give_up_hours", 168);
	conf->approval_wait_hours = (int)num(jobs, "approval_wait_hours", 336);
	conf->approval_poll = (int)num(jobs, "approval_poll_seconds", 60);
	conf->sync_interval = (int)num(jobs, "sync_interval_minutes", 60);
	conf->retention_days = (int)num(jobs, "retention_days", 90);
	conf->audit_retention_days = (int)num(jobs, "audit_retention_days", 0);
	conf->dcv.enabled = json_is_true(json_object_get(dcv, "enabled"));
	conf->dcv.margin_days = (int)num(dcv, "margin_days", 30);
	conf->dcv.poll_seconds = (int)num(dcv, "poll_seconds", 10);
	conf->dcv.timeout_minutes = (int)num(dcv, "timeout_minutes", 60);
	conf->dcv.check_interval =
	    (int)num(dcv, "check_interval_seconds", 3600);
	conf->dcv.domain_cache = (int)num(dcv, "domain_cache_seconds", 3600);
	conf->dcv.dns_threads = (int)num(dcv, "dns_threads", 4);

	if (parse_hostport(str(root, "listen", ""), conf->listen_buf,
	        sizeof(conf->listen_buf), &conf->listen_port) != 0) {
		snprintf(err, errlen,
		    "config: listen: must be address:port (e.g. 0.0.0.0:443)");
		goto fail;
	}
	conf->listen_host = conf->listen_buf;
	conf->workers = (int)num(root, "workers", 0);
	if (conf->workers == 0) {
		nproc = sysconf(_SC_NPROCESSORS_ONLN);
		conf->workers = nproc > 0 ? (int)nproc : 1;
	}
	conf->database = str(root, "database", "");
	sync = str(root, "database_sync", "full");
	if (strcmp(sync, "full") != 0 && strcmp(sync, "normal") != 0) {
		snprintf(err, errlen,
		    "config: database_sync: must be \"full\" or \"normal\"");
		goto fail;
	}
	conf->db_sync_full = strcmp(sync, "full") == 0;
	ll = str(root, "log_level", "info");
	if (log_level_parse(ll) < 0) {
		snprintf(err, errlen,
		    "config: log_level: must be err, warn, notice, info or "
		    "debug");
		goto fail;
	}
	conf->log_level = ll;
	conf->log_json = log_format_parse(str(root, "log_format", "text"));
	if (conf->log_json < 0) {
		snprintf(err, errlen,
		    "config: log_format: must be \"text\" or \"json\"");
		goto fail;
	}
	conf->log_file = str(root, "log_file", NULL);
	if (conf->log_file != NULL && conf->log_file[0] != '/') {
		snprintf(
		    err, errlen, "config: log_file: must be an absolute path");
		goto fail;
	}
	conf->tls_cert = str(tls, "cert_file", "");
	conf->tls_key = str(tls, "key_file", "");
	conf->tls_self_signed =
	    json_is_true(json_object_get(tls, "self_signed"));
	/* a missing key is fine here: self_signed creates it (0600), else
	 * loading it fails with its own message */
	if (need_secrets &&
	    secfile_check(
	        "config: tls.key_file:", conf->tls_key, -1, err, errlen) < 0)
		goto fail;

	conf->acme.base_url = str(root, "base_url", "");
	if (strncmp(conf->acme.base_url, "https://", 8) != 0 ||
	    conf->acme.base_url[strlen(conf->acme.base_url) - 1] == '/') {
		snprintf(err, errlen,
		    "config: base_url: must be an https URL without a trailing "
		    "slash");
		goto fail;
	}
	/* every resource URL is base_url + a path in a fixed-size buffer */
	if (strlen(conf->acme.base_url) > 200) {
		snprintf(err, errlen,
		    "config: base_url: longer than 200 characters");
		goto fail;
	}
	conf->acme.tos = str(acme, "terms_of_service", NULL);
	conf->acme.website = str(acme, "website", NULL);
	conf->acme.caa = json_object_get(acme, "caa_identities");
	conf->acme.require_eab =
	    json_is_true(json_object_get(acme, "require_eab"));
	conf->acme.authz_reuse = num(acme, "authz_reuse_seconds", 30 * 86400);
	conf->acme.order_lifetime =
	    num(acme, "order_lifetime_seconds", 7 * 86400);
	conf->acme.finalize_wait = (int)num(acme, "finalize_wait_seconds", 15);
	conf->acme.retry_after = (int)num(acme, "retry_after_seconds", 10);
	conf->acme.approval_retry_after =
	    (int)num(acme, "approval_retry_after_seconds", 300);
	conf->acme.ari_retry_after =
	    (int)num(acme, "ari_retry_after_seconds", 21600);
	conf->acme.max_body = 64 * 1024;
	v = json_object_get(acme, "challenge_types");
	if (v == NULL) {
		conf->acme.chall_types =
		    ACME_CHALL_HTTP01 | ACME_CHALL_DNS01 | ACME_CHALL_TLSALPN01;
	} else {
		json_t *t;
		json_array_foreach(v, i, t) {
			const char *s = json_string_value(t);
			if (s && strcmp(s, "http-01") == 0)
				conf->acme.chall_types |= ACME_CHALL_HTTP01;
			else if (s && strcmp(s, "dns-01") == 0)
				conf->acme.chall_types |= ACME_CHALL_DNS01;
			else if (s && strcmp(s, "tls-alpn-01") == 0)
				conf->acme.chall_types |= ACME_CHALL_TLSALPN01;
			else {
				snprintf(err, errlen,
				    "config: acme.challenge_types[%zu]: must "
				    "be "
				    "http-01, dns-01 or tls-alpn-01",
				    i);
				goto fail;
			}
		}
		if (conf->acme.chall_types == 0) {
			snprintf(err, errlen,
			    "config: acme.challenge_types: must not be empty");
			goto fail;
		}
	}

	conf->validation.http01_port = (int)num(val, "http01_port", 80);
	conf->validation.tlsalpn01_port = (int)num(val, "tlsalpn01_port", 443);
	conf->validation.dns_resolver =
	    str(val, "dns_resolver", "127.0.0.1:53");
	conf->validation.timeout_seconds = (int)num(val, "timeout_seconds", 10);
	/* one policy for IP identifiers and for what the validators dial */
	conf->validation.allow_private_addresses =
	    json_is_true(json_object_get(val, "allow_private_addresses"));
	conf->acme.allow_private_addresses =
	    conf->validation.allow_private_addresses;

	conns = json_object_get(root, "connectors");
	if (json_array_size(conns) == 0) {
		snprintf(err, errlen,
		    "config: connectors: at least one CA connector is needed");
		goto fail;
	}
	conf->connectors =
	    calloc(json_array_size(conns), sizeof(*conf->connectors));
	if (conf->connectors == NULL) {
		snprintf(err, errlen, "config: out of memory");
		goto fail;
	}
	json_array_foreach(conns, i, v) {
		if (load_connector(v, i, &conf->connectors[i], need_secrets,
		        err, errlen) != 0) {
			conf->n_connectors = i + 1;
			goto fail;
		}
		conf->n_connectors = i + 1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(conf->connectors[j].name,
			        conf->connectors[i].name) == 0) {
				snprintf(err, errlen,
				    "config: connectors[%zu].name: \"%s\" is "
				    "used twice",
				    i, conf->connectors[i].name);
				goto fail;
			}
		}
	}
	conf->acme_connectors =
	    calloc(conf->n_connectors, sizeof(*conf->acme_connectors));
	if (conf->acme_connectors == NULL) {
		snprintf(err, errlen, "config: out of memory");
		goto fail;
	}
	for (i = 0; i < conf->n_connectors; i++) {
		struct px_connector *pc = &conf->connectors[i];

		pc->acme_profiles =
		    calloc(pc->n_profiles, sizeof(*pc->acme_profiles));
		if (pc->acme_profiles == NULL) {
			snprintf(err, errlen, "config: out of memory");
			goto fail;
		}
		for (size_t k = 0; k < pc->n_profiles; k++)
			pc->acme_profiles[k] = (struct acme_profile_info){
			    pc->profiles[k].name, pc->profiles[k].description};
		conf->acme_connectors[i] = (struct acme_connector_info){
		    pc->name, pc->acme_profiles, pc->n_profiles};
	}
	conf->acme.connectors = conf->acme_connectors;
	conf->acme.n_connectors = conf->n_connectors;
	conf->acme.default_connector =
	    str(acme, "default_connector", conf->connectors[0].name);
	if (px_conf_connector(conf, conf->acme.default_connector) == NULL) {
		snprintf(err, errlen,
		    "config: acme.default_connector: no connector named \"%s\"",
		    conf->acme.default_connector);
		goto fail;
	}
	if (dns_registry_load(json_object_get(root, "dns_connectors"),
	        need_secrets, &conf->dns, err, errlen) != 0)
		goto fail;
	if (load_admin(json_object_get(root, "admin"), need_secrets, conf, err,
	        errlen) != 0)
		goto fail;
	return 0;
fail:
	px_conf_free(conf);
	return -1;
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void
px_conf_free(struct px_conf *conf)
{
	for (size_t i = 0; i < conf->n_connectors; i++) {
		free_secret(conf->connectors[i].client_secret);
		free_secret(conf->connectors[i].password);
		free(conf->connectors[i].profiles);
		free(conf->connectors[i].sc_profiles);
		free(conf->connectors[i].acme_profiles);
	}
	free(conf->connectors);
	free(conf->acme_connectors);
	free_secret(conf->admin.token);
	dns_registry_free(conf->dns);
	json_decref(conf->root);
	memset(conf, 0, sizeof(*conf));
}

const struct px_profile *
px_connector_profile(const struct px_connector *pc, const char *name)
{
	if (name == NULL || name[0] == '\0')
		return &pc->profiles[0];
	for (size_t i = 0; i < pc->n_profiles; i++)
		if (strcmp(pc->profiles[i].name, name) == 0)
			return &pc->profiles[i];
	return NULL;
}

const struct px_connector *
px_conf_connector(const struct px_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_connectors; i++)
		if (strcmp(conf->connectors[i].name, name) == 0)
			return &conf->connectors[i];
	return NULL;
}

void
px_connector_sectigo(
    const struct px_connector *pc, int timeout_seconds, struct sectigo_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->name = pc->name;
	sc->base_url = pc->base_url;
	sc->auth = pc->auth;
	sc->token_url = pc->token_url;
	sc->client_id = pc->client_id;
	sc->client_secret = pc->client_secret;
	sc->login = pc->login;
	sc->password = pc->password;
	sc->customer_uri = pc->customer_uri;
	sc->ca_file = pc->ca_file;
	sc->external_requester = pc->external_requester;
	sc->org_id = pc->org_id;
	sc->cert_type = pc->cert_type;
	sc->validity_days = pc->validity_days;
	sc->timeout_seconds = timeout_seconds;
	sc->max_concurrent = pc->max_concurrent;
	sc->profiles = pc->sc_profiles;
	sc->n_profiles = pc->n_profiles;
}
