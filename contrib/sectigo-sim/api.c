/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: the SCM endpoints: organizations (reference §6), profiles
 * and the SSL certificate life cycle (§5): enroll, collect, details, list,
 * revoke, renew and replace.  Choices where the reference is silent are
 * marked [INF] (inferred) or [UNK] (unknown upstream, picked here).
 */
#include "contrib/sectigo-sim/internal.h"
#include "contrib/sectigo-sim/ca.h"
#include "contrib/sectigo-sim/store.h"
#include "contrib/sectigo-sim/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>

#define ORG_NAME "Acme Test Org"
#define DEPT_NAME "Acme Test Department"
#define DESC_PARSE "Cannot parse message body"
#define DESC_INTERNAL "Internal error. Please contact Support for details."
#define DESC_NOT_FOUND "Certificate not found."
#define DESC_PENDING "Being processed by Sectigo"

/* how one member of a request body was found */
enum field {
	FIELD_BAD = -1,   /* wrong JSON type: -1002 like a Jackson failure */
	FIELD_ABSENT = 0, /* missing or null */
	FIELD_SET = 1,    /* present with a usable value */
};

/* collect formats (reference §5.5); parts: L leaf, I intermediate, R root */
static const struct collect_format {
	const char *name;  /* value of ?format= or the last path segment */
	const char *parts; /* PEM blocks in order, NULL for PKCS#7 */
	int der;           /* PKCS#7 as DER instead of PEM */
} formats[] = {
    {"x509", "RIL", 0},   /* with chain, root first, leaf last */
    {"pem", "RIL", 0},    /* same order as x509 */
    {"x509CO", "L", 0},   /* certificate only */
    {"pemco", "L", 0},    /* certificate only */
    {"x509R", "LIR", 0},  /* leaf first, root last */
    {"pemia", "LI", 0},   /* leaf, then issuer; no root */
    {"x509IO", "RI", 0},  /* root, then intermediate */
    {"x509IOR", "IR", 0}, /* intermediate, then root */
    {"base64", NULL, 0},  /* PKCS#7, PEM armour (default) */
    {"bin", NULL, 1},     /* PKCS#7, DER */
};

/* Sets o[key] = v, taking v; any failure is remembered in *err. */
static void
put(json_t *o, const char *key, json_t *v, int *err)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*err = 1;
}

static json_t *
date_json(time_t t)
{
	char buf[11];

	sim_format_date(t, buf);
	return json_string(buf);
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out == NULL ? -1 : 0;
}

/* ---- profiles and organizations ---- */

/*
 * Appends one profile unless its id is taken (the main profile's id comes
 * from --cert-type and may collide with a built-in one).
 */
static struct sim_profile *
profile_add(struct sim *sim, long id, const char *name, const char *desc)
{
	struct sim_profile *p;
	size_t i;

	for (i = 0; i < sim->nprofiles; i++)
		if (sim->profiles[i].id == id)
			return NULL;
	if (sim->nprofiles == SIM_MAX_PROFILES)
		return NULL;
	p = &sim->profiles[sim->nprofiles++];
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->name = name;
	p->description = desc;
	return p;
}

static void
profile_terms(struct sim_profile *p, long a, long b)
{
	p->terms[p->nterms++] = a;
	if (b != 0)
		p->terms[p->nterms++] = b;
}

static void
profile_keys(struct sim_profile *p, int rsa)
{
	if (rsa) {
		p->rsa_sizes[0] = "2048";
		p->rsa_sizes[1] = "3072";
		p->rsa_sizes[2] = "4096";
	}
	p->ec_curves[0] = "P-256";
	p->ec_curves[1] = "P-384";
}

void
sim_profiles_init(struct sim *sim)
{
	struct sim_profile *p;

	memset(sim->profiles, 0, sizeof(sim->profiles));
	sim->nprofiles = 0;
	/*
	 * Public SSL profiles offer at most 199 days since SCM 26.1
	 * (lifecycle.md §0, Sectigo KB "199-day validity period"); the main
	 * profile offers exactly that.
	 */
	p = profile_add(sim, sim->conf->cert_type, "InCommon SSL (SHA-2)",
	    "InCommon SSL (SHA-2), simulated OV profile");
	profile_terms(p, 199, 0);
	profile_keys(p, 1);
	/* [INF] ECC profile: the main profile's term, EC keys only */
	p = profile_add(
	    sim, 284, "InCommon ECC", "InCommon ECC, simulated OV profile");
	if (p != NULL) {
		profile_terms(p, 199, 0);
		profile_keys(p, 0);
	}
	/*
	 * [INF] a public profile with two terms, as an administrator may
	 * configure one: a short 90-day term beside the 199-day maximum
	 */
	p = profile_add(sim, 226, "InCommon Multi Domain SSL (SHA-2)",
	    "InCommon Multi Domain SSL (SHA-2), simulated OV profile with "
	    "90 and 199 days");
	if (p != NULL) {
		profile_terms(p, 90, 199);
		profile_keys(p, 1);
	}
	/*
	 * [INF] a private (intranet) profile: not bound by the CA/B Forum
	 * limits, so it keeps 365 and 730 days, and --require-dcv does not
	 * apply to it (no public DCV for a private CA).  The simulator signs
	 * it with the same test CA.
	 */
	p = profile_add(sim, 225, "InCommon Intranet SSL (SHA-2)",
	    "InCommon Intranet SSL (SHA-2), simulated private profile");
	if (p != NULL) {
		profile_terms(p, 365, 730);
		profile_keys(p, 1);
		p->private_ca = 1;
	}
}

static const struct sim_profile *
profile_find(const struct sim *sim, long id)
{
	size_t i;

	for (i = 0; i < sim->nprofiles; i++)
		if (sim->profiles[i].id == id)
			return &sim->profiles[i];
	return NULL;
}

static int
profile_has_term(const struct sim_profile *p, long term)
{
	size_t i;

	for (i = 0; i < p->nterms; i++)
		if (p->terms[i] == term)
			return 1;
	return 0;
}

static json_t *
str_array(const char *const *v)
{
	json_t *a;
	size_t i;

	a = json_array();
	if (a == NULL)
		return NULL;
	for (i = 0; v[i] != NULL; i++) {
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
profile_json(const struct sim_profile *p)
{
	json_t *o, *terms, *kt;
	size_t i;
	int err = 0;

	o = json_object();
	terms = json_array();
	kt = json_object();
	if (o == NULL || terms == NULL || kt == NULL) {
		err = 1;
		goto out;
	}
	for (i = 0; i < p->nterms; i++)
		if (json_array_append_new(terms, json_integer(p->terms[i])))
			err = 1;
	/* keyTypes: algorithm -> sizes or curves as strings (§5.1) */
	if (p->rsa_sizes[0] != NULL)
		put(kt, "RSA", str_array(p->rsa_sizes), &err);
	if (p->ec_curves[0] != NULL)
		put(kt, "EC", str_array(p->ec_curves), &err);
	put(o, "id", json_integer(p->id), &err);
	put(o, "name", json_string(p->name), &err);
	put(o, "description", json_string(p->description), &err);
	put(o, "terms", terms, &err);
	terms = NULL;
	put(o, "keyTypes", kt, &err);
	kt = NULL;
	put(o, "useSecondaryOrgName", json_false(), &err);
out:
	json_decref(terms);
	json_decref(kt);
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
org_known(const struct sim *sim, long id)
{
	return id == sim->conf->org_id || id == sim->conf->org_id + 1;
}

int
sim_org_known(const struct sim *sim, long id)
{
	return org_known(sim, id);
}

const char *
sim_org_name(const struct sim *sim, long id)
{
	return id == sim->conf->org_id ? ORG_NAME : DEPT_NAME;
}

const struct sim_profile *
sim_profile_find(const struct sim *sim, long id)
{
	return profile_find(sim, id);
}

static json_t *
departments_json(const struct sim *sim)
{
	return json_pack("[{s:I, s:s, s:s}]", "id",
	    (json_int_t)sim->conf->org_id + 1, "name", DEPT_NAME, "parentName",
	    ORG_NAME);
}

void
sim_api_org_list(struct sim_req *r)
{
	sim_reply_json(r, 200,
	    json_pack("[{s:I, s:s, s:o}]", "id",
	        (json_int_t)r->sim->conf->org_id, "name", ORG_NAME,
	        "departments", departments_json(r->sim)));
}

void
sim_api_org_get(struct sim_req *r)
{
	const struct sim *sim = r->sim;
	json_t *o;
	long id;
	int dept;

	if (sim_parse_long(r->seg[3], 1, INT32_MAX, &id) != 0 ||
	    !org_known(sim, id)) {
		/* [INF] status 404 per OAS NotFoundErrorResponse */
		sim_reply_error(
		    r, 404, -1023, "Organization '%s' not found.", r->seg[3]);
		return;
	}
	dept = id != sim->conf->org_id;
	o = json_pack("{s:I, s:s, s:[s], s:o, s:s, s:s, s:s, s:s, s:s, s:s,"
	              " s:b, s:b}",
	    "id", (json_int_t)id, "name", dept ? DEPT_NAME : ORG_NAME,
	    "certTypes", "SSL", "departments",
	    dept ? json_array() : departments_json(sim), "contactEmails",
	    "pki@example.test", "address1", "1 Test Street", "city",
	    "Testville", "stateOrProvince", "TS", "postalCode", "00000",
	    "country", "US", "sslCertsApiEnabled", 1, "clientCertsApiEnabled",
	    0);
	if (o != NULL && dept &&
	    (json_object_set_new(
	         o, "parentId", json_integer(sim->conf->org_id)) != 0 ||
	        json_object_set_new(o, "parentName", json_string(ORG_NAME)) !=
	            0)) {
		json_decref(o);
		o = NULL;
	}
	sim_reply_json(r, 200, o);
}

void
sim_api_types(struct sim_req *r)
{
	const struct sim *sim = r->sim;
	const char *q = sim_req_query(r, "organizationId");
	json_t *a;
	size_t i;
	long id;

	if (q != NULL) {
		if (sim_parse_long(q, 1, INT32_MAX, &id) != 0) {
			sim_reply_error(r, 400, -1601,
			    "Field 'organizationId' has invalid value.");
			return;
		}
		if (!org_known(sim, id)) {
			/* [UNK] status and code for an unknown org here */
			sim_reply_error(
			    r, 400, -1023, "Organization '%ld' not found.", id);
			return;
		}
	}
	a = json_array();
	for (i = 0; a != NULL && i < sim->nprofiles; i++) {
		if (json_array_append_new(a, profile_json(&sim->profiles[i]))) {
			json_decref(a);
			a = NULL;
		}
	}
	sim_reply_json(r, 200, a);
}

void
sim_api_custom_fields(struct sim_req *r)
{
	/* no custom fields, so none is mandatory (-62 never happens) */
	sim_reply_json(r, 200, json_array());
}

/* ---- request body fields ---- */

/*
 * SCM is a Java service on Jackson: a JSON array or object where it wants a
 * string fails the whole body ("-1002 Cannot parse message body", seen for
 * subjAltNames as an array, reference §4.2).  [INF] As with Jackson's
 * defaults, a numeric string is taken for an int; a string field wants a
 * string here (Jackson would also coerce a number; nobody sends one).
 */
static enum field
field_str(const json_t *o, const char *key, const char **out)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return FIELD_ABSENT;
	if (!json_is_string(v))
		return FIELD_BAD;
	*out = json_string_value(v);
	return FIELD_SET;
}

static enum field
field_long(const json_t *o, const char *key, long *out)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return FIELD_ABSENT;
	if (json_is_integer(v)) {
		*out = (long)json_integer_value(v);
		return FIELD_SET;
	}
	if (json_is_string(v) &&
	    sim_parse_long(json_string_value(v), INT32_MIN, INT32_MAX, out) ==
	        0)
		return FIELD_SET;
	return FIELD_BAD;
}

/* customFields: array of {name: string, value: string|null} (§5.3) */
static enum field
field_custom(const json_t *o, const json_t **out)
{
	const json_t *v = json_object_get(o, "customFields"), *e;
	size_t i;

	if (v == NULL || json_is_null(v))
		return FIELD_ABSENT;
	if (!json_is_array(v))
		return FIELD_BAD;
	for (i = 0; i < json_array_size(v); i++) {
		e = json_array_get(v, i);
		if (!json_is_object(e) ||
		    !json_is_string(json_object_get(e, "name")))
			return FIELD_BAD;
		if (json_object_get(e, "value") != NULL &&
		    !json_is_string(json_object_get(e, "value")) &&
		    !json_is_null(json_object_get(e, "value")))
			return FIELD_BAD;
	}
	*out = v;
	return FIELD_SET;
}

/* ---- names ---- */

enum name_kind {
	NAME_DNS,     /* a host name, maybe with a leading "*." */
	NAME_IP,      /* an IPv4 or IPv6 literal */
	NAME_BAD_DNS, /* neither, and not IP-shaped */
	NAME_BAD_IP,  /* IP-shaped but not a valid address */
};

static int
dns_name_ok(const char *s)
{
	size_t label = 0;
	const char *p = s;

	if (strlen(s) == 0 || strlen(s) > 253)
		return 0;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
		if (label == 0 && *p == '-')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && p[-1] != '-';
}

static enum name_kind
classify_name(const char *s)
{
	unsigned char buf[16];
	const char *p;

	if (strchr(s, ':') != NULL)
		return inet_pton(AF_INET6, s, buf) == 1 ? NAME_IP : NAME_BAD_IP;
	for (p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			break;
	if (*p == '\0' && strchr(s, '.') != NULL)
		return inet_pton(AF_INET, s, buf) == 1 ? NAME_IP : NAME_BAD_IP;
	return dns_name_ok(s) ? NAME_DNS : NAME_BAD_DNS;
}

/*
 * Appends one SAN entry after checking it; duplicates (ignoring case) are
 * dropped.  Replies with the error and returns -1 on a bad name.
 * [UNK] which codes SCM uses for a malformed name: -732 "Invalid domain
 * name." and -62 "Invalid IP address {0}" from the documented table.
 */
static int
add_name(struct sim_req *r, json_t *list, const char *name)
{
	size_t i;

	switch (classify_name(name)) {
	case NAME_DNS:
	case NAME_IP:
		break;
	case NAME_BAD_IP:
		sim_reply_error(r, 400, -62, "Invalid IP address %s", name);
		return -1;
	case NAME_BAD_DNS:
		sim_reply_error(r, 400, -732, "Invalid domain name.");
		return -1;
	}
	for (i = 0; i < json_array_size(list); i++)
		if (strcasecmp(
		        json_string_value(json_array_get(list, i)), name) == 0)
			return 0;
	if (json_array_size(list) >= SIM_MAX_SANS) {
		sim_reply_error(
		    r, 400, -1601, "Field 'subjAltNames' has invalid value.");
		return -1;
	}
	if (json_array_append_new(list, json_string(name)) != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		return -1;
	}
	return 0;
}

/* Splits enroll's comma-separated subjAltNames into list (§5.3). */
static int
add_names_csv(struct sim_req *r, json_t *list, const char *csv)
{
	char *copy, *tok, *save = NULL, *end;
	int rc = 0;

	copy = strdup(csv);
	if (copy == NULL) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*tok != '\0')
			rc = add_name(r, list, tok);
	}
	free(copy);
	return rc;
}

/* ---- CSR ---- */

static int
in_list(const char *const *list, const char *v)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], v) == 0)
			return 1;
	return 0;
}

/*
 * Parses the CSR and checks its key against the profile.  Replies with the
 * error and returns -1 on failure; on success csr is filled.
 * [INF] a key type the profile lacks (RSA for the ECC profile, EdDSA...)
 * is -11 "unsupported algorithm"; a size or curve it lacks is -13.
 */
static int
check_csr(struct sim_req *r, const struct sim_profile *p, const char *text,
    struct sim_csr *csr)
{
	const char *const *allowed = NULL;

	if (text == NULL || *text == '\0') {
		sim_reply_error(r, 400, -7, "CSR is required but missing.");
		return -1;
	}
	switch (sim_csr_parse(text, csr)) {
	case 0:
		break;
	case SIM_CSR_EDECODE:
		sim_reply_error(r, 400, -10, "Error while decoding CSR.");
		return -1;
	case SIM_CSR_ESIG:
		sim_reply_error(r, 400, -138, "Invalid CSR.");
		return -1;
	default:
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		return -1;
	}
	if (strcmp(csr->key_alg, "RSA") == 0)
		allowed = p->rsa_sizes;
	else if (strcmp(csr->key_alg, "EC") == 0)
		allowed = p->ec_curves;
	if (allowed == NULL || allowed[0] == NULL) {
		sim_reply_error(
		    r, 400, -11, "The CSR uses an unsupported algorithm!");
		goto fail;
	}
	if (!in_list(allowed, csr->key_param)) {
		sim_reply_error(
		    r, 400, -13, "The CSR uses an unsupported key size!");
		goto fail;
	}
	return 0;
fail:
	sim_csr_clear(csr);
	return -1;
}

/* Moves the CSR into the record (takes csr->pem). */
static void
take_csr(struct sim_cert *c, struct sim_csr *csr)
{
	free(c->csr_pem);
	c->csr_pem = csr->pem;
	csr->pem = NULL;
	memcpy(c->csr_sha256, csr->sha256, sizeof(c->csr_sha256));
	snprintf(c->key_alg, sizeof(c->key_alg), "%s", csr->key_alg);
	snprintf(c->key_param, sizeof(c->key_param), "%s", csr->key_param);
	c->key_size = csr->key_bits;
}

/* Puts a new or replaced order back into the pending state. */
static void
start_pending(const struct sim *sim, struct sim_cert *c)
{
	c->status = SIM_ST_APPLIED;
	c->pending_left = sim->pending_polls;
	c->ready_at = time(NULL) + sim->pending_seconds;
}

/*
 * A new order (enroll, renew): Requested while approval is required
 * (--approval-required, control "auto_approve": false), else approved at
 * once (the admin holds autoApproveCertificates, lifecycle.md §5) and
 * pending.
 */
static void
start_order(const struct sim *sim, struct sim_cert *c)
{
	if (!sim->auto_approve) {
		c->status = SIM_ST_REQUESTED;
		return;
	}
	c->approved = c->requested;
	start_pending(sim, c);
}

int
sim_cert_advance(struct sim *sim, struct sim_cert *c, int collect)
{
	struct sim_leaf leaf;
	char *serial;

	/*
	 * [INF] Approved -> Applied: an approved order reads "Approved"
	 * until a collect call (or its pending rule being already met) hands
	 * it to the CA; then the usual pending rule applies.
	 */
	if (c->status == SIM_ST_APPROVED) {
		if (!collect &&
		    (c->pending_left > 0 || time(NULL) < c->ready_at))
			return 0;
		c->status = SIM_ST_APPLIED;
		(void)sim_store_save(sim->store, c);
	}
	if (c->status != SIM_ST_APPLIED)
		return 0;
	if (c->pending_left > 0) {
		/* only collect spends the budget: "being processed" N times */
		if (collect) {
			c->pending_left--;
			(void)sim_store_save(sim->store, c);
		}
		return 0;
	}
	if (time(NULL) < c->ready_at)
		return 0;
	if (sim->wrong_certs > 0) {
		/* control "wrong_certs": a certificate that is not what the
		 * enrollment asked for (one more name), as an SCM
		 * administrator's edit or a mixed-up sslId would give the
		 * bridge; it must refuse to hand it out */
		json_t *more = json_copy(c->sans);
		int rc;

		sim->wrong_certs--;
		if (more == NULL ||
		    json_array_append_new(
		        more, json_string("added-by-sim.test")))
			rc = -1;
		else
			rc = sim_ca_issue(sim->ca, c->csr_pem, c->common_name,
			    more, c->term, &leaf);
		json_decref(more);
		if (rc != 0)
			return -1;
	} else if (sim_ca_issue(sim->ca, c->csr_pem, c->common_name, c->sans,
	               c->term, &leaf) != 0) {
		return -1;
	}
	serial = strdup(leaf.serial);
	if (serial == NULL) {
		free(leaf.pem);
		return -1;
	}
	free(c->cert_pem);
	free(c->serial);
	c->cert_pem = leaf.pem;
	c->serial = serial;
	c->issued = time(NULL);
	c->expires = leaf.not_after;
	c->downloaded = 0;
	c->status = SIM_ST_ISSUED;
	(void)sim_store_save(sim->store, c);
	return 0;
}

/* ---- enroll ---- */

void
sim_api_enroll(struct sim_req *r)
{
	struct sim *sim = r->sim;
	json_t *body = NULL, *sans = NULL;
	const json_t *custom = NULL;
	struct sim_csr csr;
	struct sim_cert *c = NULL;
	const struct sim_profile *p;
	const char *san_csv = NULL, *csr_text = NULL, *comments = NULL;
	const char *ext_req = NULL, *dcv_mode = NULL, *dcv_email = NULL;
	const char *cn;
	long org_id = 0, cert_type = 0, term = 0, nservers = 0, stype = 0;
	enum field f_org, f_type, f_term, f_ns, f_st;
	int dup;

	memset(&csr, 0, sizeof(csr));
	/*
	 * "hang_enrolls": the order is processed and stored as usual; only
	 * the reply never leaves, as if the network ate it.
	 */
	if (sim->hang_enrolls > 0) {
		sim->hang_enrolls--;
		r->hang = 1;
	}
	body = sim_req_json(r);
	if (body == NULL || !json_is_object(body))
		goto parse_error;
	f_org = field_long(body, "orgId", &org_id);
	f_type = field_long(body, "certType", &cert_type);
	f_term = field_long(body, "term", &term);
	f_ns = field_long(body, "numberServers", &nservers);
	f_st = field_long(body, "serverType", &stype);
	if (f_org == FIELD_BAD || f_type == FIELD_BAD || f_term == FIELD_BAD ||
	    f_ns == FIELD_BAD || f_st == FIELD_BAD ||
	    field_str(body, "subjAltNames", &san_csv) == FIELD_BAD ||
	    field_str(body, "csr", &csr_text) == FIELD_BAD ||
	    field_str(body, "comments", &comments) == FIELD_BAD ||
	    field_str(body, "externalRequester", &ext_req) == FIELD_BAD ||
	    field_str(body, "dcvMode", &dcv_mode) == FIELD_BAD ||
	    field_str(body, "dcvEmail", &dcv_email) == FIELD_BAD ||
	    field_custom(body, &custom) == FIELD_BAD)
		goto parse_error;

	/* [INF] missing or non-positive orgId: -639; unknown one: -1023 */
	if (f_org != FIELD_SET || org_id <= 0) {
		sim_reply_error(r, 400, -639, "Supplied orgid invalid..");
		goto out;
	}
	if (!org_known(sim, org_id)) {
		sim_reply_error(
		    r, 400, -1023, "Organization '%ld' not found.", org_id);
		goto out;
	}
	p = f_type == FIELD_SET ? profile_find(sim, cert_type) : NULL;
	if (p == NULL) {
		sim_reply_error(
		    r, 400, -39, "The certificate profile id is invalid!");
		goto out;
	}
	/* [INF] a missing term is treated like a wrong one */
	if (f_term != FIELD_SET || !profile_has_term(p, term)) {
		sim_reply_error(r, 400, -36,
		    "The validity period (term) is invalid for this "
		    "certificate profile.");
		goto out;
	}
	/* OAS length limits: comments 0..1024, externalRequester 0..512 */
	if (comments != NULL && strlen(comments) > 1024) {
		sim_reply_error(
		    r, 400, -1601, "Field 'comments' has invalid value.");
		goto out;
	}
	if (ext_req != NULL && strlen(ext_req) > 512) {
		sim_reply_error(r, 400, -1601,
		    "Field 'externalRequester' has invalid value.");
		goto out;
	}
	if (check_csr(r, p, csr_text, &csr) != 0)
		goto out;

	/*
	 * SANs come from subjAltNames only, the CSR's own SANs are ignored
	 * (reference §5.3).  [INF] Without subjAltNames the CSR's CN is the
	 * only SAN, as SCM always lists the CN among the names.
	 */
	sans = json_array();
	if (sans == NULL) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		goto out;
	}
	if (san_csv != NULL && add_names_csv(r, sans, san_csv) != 0)
		goto out;
	if (json_array_size(sans) == 0 && csr.cn != NULL &&
	    add_name(r, sans, csr.cn) != 0)
		goto out;
	if (json_array_size(sans) == 0) {
		/* [UNK] neither a CN nor subjAltNames */
		sim_reply_error(
		    r, 400, -7, "subjAltNames is required but missing.");
		goto out;
	}
	if (!p->private_ca && sim_dcv_check_names(r, sans) != 0)
		goto out;
	cn = csr.cn != NULL ? csr.cn
	                    : json_string_value(json_array_get(sans, 0));

	c = sim_cert_new();
	if (c == NULL || sim_random_alnum(c->renew_id, 20) != 0 ||
	    dup_opt(cn, &c->common_name) != 0 ||
	    dup_opt(comments, &c->comments) != 0 ||
	    dup_opt(ext_req, &c->external_requester) != 0 ||
	    dup_opt(r->principal, &c->requester) != 0)
		goto internal;
	c->org_id = org_id;
	c->cert_type = p->id;
	c->term = term;
	json_decref(c->sans);
	c->sans = sans;
	sans = NULL;
	if (custom != NULL) {
		json_decref(c->custom_fields);
		c->custom_fields = json_deep_copy(custom);
		if (c->custom_fields == NULL)
			goto internal;
	}
	/* kept for /sim/stats and the record; SCM ignores them today */
	if ((f_ns == FIELD_SET &&
	        json_object_set_new(
	            c->extra, "numberServers", json_integer(nservers)) != 0) ||
	    (f_st == FIELD_SET &&
	        json_object_set_new(
	            c->extra, "serverType", json_integer(stype)) != 0) ||
	    (dcv_mode != NULL &&
	        json_object_set_new(
	            c->extra, "dcvMode", json_string(dcv_mode)) != 0) ||
	    (dcv_email != NULL &&
	        json_object_set_new(
	            c->extra, "dcvEmail", json_string(dcv_email)) != 0))
		goto internal;
	take_csr(c, &csr);
	c->requested = time(NULL);
	start_order(sim, c);

	dup = sim_store_has_csr(sim->store, c->csr_sha256);
	if (sim_store_add(sim->store, c) != 0) {
		c = NULL;
		goto internal;
	}
	sim->enrollments++;
	if (dup)
		sim->duplicate_csr++;
	/* with no pending rule configured the order is issued right away */
	if (sim_cert_advance(sim, c, 0) != 0)
		fprintf(
		    stderr, "sectigo-sim: sslId=%ld: signing failed\n", c->id);
	snprintf(r->note, sizeof(r->note), "sslId=%ld%s", c->id,
	    dup ? " duplicate-csr" : "");
	/* reference §5.3: 200, not 201 */
	sim_reply_json(r, 200,
	    json_pack("{s:I, s:s}", "sslId", (json_int_t)c->id, "renewId",
	        c->renew_id));
	c = NULL;
	goto out;

parse_error:
	sim_reply_error(r, 400, -1002, DESC_PARSE);
	goto out;
internal:
	sim_reply_error(r, 500, -2, DESC_INTERNAL);
out:
	sim_cert_free(c);
	sim_csr_clear(&csr);
	json_decref(sans);
	json_decref(body);
}

/* ---- collect ---- */

static const struct collect_format *
format_find(const char *name)
{
	size_t i;

	/* [INF] SCM's spelling is mixed case; any case is accepted here */
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcasecmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

/* Looks up the sslId in path segment i; replies 404 when unknown. */
static struct sim_cert *
cert_from_seg(struct sim_req *r, size_t i)
{
	struct sim_cert *c = NULL;
	long id;

	if (sim_parse_long(r->seg[i], 1, INT32_MAX, &id) == 0)
		c = sim_store_get(r->sim->store, id);
	if (c == NULL) {
		/* [INF] 404 with -5101 for every unknown sslId */
		sim_reply_error(r, 404, -5101, DESC_NOT_FOUND);
		return NULL;
	}
	snprintf(r->note, sizeof(r->note), "sslId=%ld", id);
	return c;
}

static void
content_disposition(struct sim_req *r, const struct sim_cert *c)
{
	char name[80], hdr[128];
	const char *cn = c->common_name;
	size_t i;

	if (cn == NULL || *cn == '\0') {
		snprintf(name, sizeof(name), "%ld", c->id);
	} else {
		/* keep the header well-formed: "*" and quotes become "_" */
		for (i = 0; cn[i] != '\0' && i < sizeof(name) - 1; i++)
			name[i] = isalnum((unsigned char)cn[i]) ||
			        cn[i] == '.' || cn[i] == '-'
			    ? cn[i]
			    : '_';
		name[i] = '\0';
	}
	snprintf(hdr, sizeof(hdr), "attachment; filename=\"%s.cert\"", name);
	sim_set_header(r, "Content-Disposition", hdr);
}

void
sim_api_collect(struct sim_req *r)
{
	struct sim *sim = r->sim;
	const struct collect_format *f;
	struct sim_cert *c;
	const char *name, *pem;
	unsigned char *p7 = NULL;
	size_t len = 0, i;

	/* api/ssl/vN/collect/{sslId}[/{format}], or ?format= (§5.5) */
	c = cert_from_seg(r, 4);
	if (c == NULL)
		return;
	name = r->nseg == 6 ? r->seg[5] : sim_req_query(r, "format");
	if (name == NULL || *name == '\0')
		name = "base64";
	f = format_find(name);
	if (f == NULL) {
		sim_reply_error(r, 400, -1450,
		    "Unsupported certificate format specified: %s", name);
		return;
	}
	if (c->status == SIM_ST_REVOKED) {
		sim_reply_error(r, 400, -110,
		    "Certificate has been revoked and cannot be downloaded.");
		return;
	}
	if (c->status == SIM_ST_REQUESTED) {
		/*
		 * [INF] awaiting approval: -183 "not collectable" (a code the
		 * clients already treat as "not yet", reference §5.5), kept
		 * apart from code 0 so that a client can tell a wait for an
		 * administrator from the CA's processing.  It spends no poll.
		 */
		sim_reply_error(
		    r, 400, -183, "Certificate is not collectable.");
		snprintf(
		    r->note, sizeof(r->note), "sslId=%ld requested", c->id);
		return;
	}
	if (c->status == SIM_ST_DECLINED) {
		/*
		 * [UNK] SCM's answer for a declined request; -169 "not
		 * available, please contact administrator" fits a decision an
		 * administrator made, and is no code a client takes for
		 * "pending".
		 */
		sim_reply_error(r, 400, -169,
		    "Certificate is not available, please contact "
		    "administrator.");
		snprintf(r->note, sizeof(r->note), "sslId=%ld declined", c->id);
		return;
	}
	if (sim_cert_advance(sim, c, 1) != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		return;
	}
	if (c->status != SIM_ST_ISSUED) {
		/* the observed pending answer (reference §4.2, §5.5) */
		sim_reply_error(r, 400, 0, DESC_PENDING);
		snprintf(r->note, sizeof(r->note), "sslId=%ld pending", c->id);
		return;
	}
	if (f->parts == NULL) {
		if (sim_ca_pkcs7(sim->ca, c->cert_pem, f->der, &p7, &len) !=
		        0 ||
		    evbuffer_add(r->out, p7, len) != 0) {
			free(p7);
			sim_reply_error(r, 500, -2, DESC_INTERNAL);
			return;
		}
		free(p7);
	} else {
		for (i = 0; f->parts[i] != '\0'; i++) {
			pem = f->parts[i] == 'L' ? c->cert_pem
			    : f->parts[i] == 'I' ? sim_ca_inter_pem(sim->ca)
			                         : sim_ca_root_pem(sim->ca);
			if (evbuffer_add(r->out, pem, strlen(pem)) != 0) {
				sim_reply_error(r, 500, -2, DESC_INTERNAL);
				return;
			}
		}
	}
	r->status = 200;
	sim_set_header(
	    r, "Content-Type", "application/octet-stream;charset=UTF-8");
	content_disposition(r, c);
	if (c->downloaded == 0) {
		/* the report's "downloaded" date: first collect of this cert */
		c->downloaded = time(NULL);
		(void)sim_store_save(sim->store, c);
	}
}

/* ---- details and list ---- */

static void
upper(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)toupper((unsigned char)*s);
}

static json_t *
cert_details_json(const struct sim *sim, const struct sim_cert *c)
{
	const struct sim_profile *p = profile_find(sim, c->cert_type);
	json_t *o, *cd, *old, *e;
	char buf[96], sha1[41], sha256[65];
	size_t i;
	int err = 0;

	o = json_object();
	if (o == NULL)
		return NULL;
	put(o, "commonName", json_string(c->common_name ? c->common_name : ""),
	    &err);
	put(o, "sslId", json_integer(c->id), &err);
	put(o, "id", json_integer(c->id), &err);
	put(o, "orgId", json_integer(c->org_id), &err);
	put(o, "status", json_string(sim_cert_status(c, time(NULL))), &err);
	snprintf(buf, sizeof(buf), "%ld", c->id);
	put(o, "backendCertId", json_string(buf), &err);
	put(o, "vendor", json_string("acmebridge Sim CA"), &err);
	put(o, "certType",
	    p != NULL ? profile_json(p)
	              : json_pack("{s:I}", "id", (json_int_t)c->cert_type),
	    &err);
	put(o, "subType", json_string(""), &err);
	put(o, "validationType", json_string("Organization Validation (OV)"),
	    &err);
	put(o, "term", json_integer(c->term), &err);
	put(o, "owner", json_string(c->requester ? c->requester : ""), &err);
	put(o, "requester", json_string(c->requester ? c->requester : ""),
	    &err);
	put(o, "requestedVia", json_string("Web API"), &err);
	put(o, "externalRequester",
	    json_string(c->external_requester ? c->external_requester : ""),
	    &err);
	put(o, "comments", json_string(c->comments ? c->comments : ""), &err);
	put(o, "requested", date_json(c->requested), &err);
	/* absent while the request waits for approval (reference §5.6) */
	if (c->approved != 0)
		put(o, "approved", date_json(c->approved), &err);
	if (c->declined != 0) {
		put(o, "declined", date_json(c->declined), &err);
		/*
		 * [UNK] where SCM shows the decline message (it mails it to
		 * the requester); "comments" keeps the requester's text (a
		 * client may look for its own tag there), so the message gets
		 * a field of its own
		 */
		if (c->decline_message != NULL)
			put(o, "declineMessage",
			    json_string(c->decline_message), &err);
	}
	put(o, "renewed", json_boolean(c->renewed), &err);
	if (c->renewed)
		put(o, "renewedDate", date_json(c->renewed_date), &err);
	put(o, "subjectAlternativeNames", json_deep_copy(c->sans), &err);
	put(o, "customFields", json_deep_copy(c->custom_fields), &err);
	put(o, "suspendNotifications", json_false(), &err);
	put(o, "autoInstallDetails",
	    json_pack("{s:s}", "state", "Not configured"), &err);
	put(o, "autoRenewDetails", json_pack("{s:s}", "state", "Not scheduled"),
	    &err);
	/* fields that do not apply yet are left out (reference §5.6) */
	if (c->cert_pem != NULL && c->serial != NULL) {
		put(o, "issued", date_json(c->issued), &err);
		put(o, "expires", date_json(c->expires), &err);
		put(o, "serialNumber", json_string(c->serial), &err);
		put(o, "signatureAlg", json_string("SHA256WITHECDSA"), &err);
		put(o, "keyAlgorithm", json_string(c->key_alg), &err);
		put(o, "keySize", json_integer(c->key_size), &err);
		snprintf(buf, sizeof(buf), "%s - %s", c->key_alg, c->key_param);
		put(o, "keyType", json_string(buf), &err);
		cd = json_object();
		put(o, "certificateDetails", cd, &err);
		if (cd != NULL) {
			put(cd, "issuer",
			    json_string(sim_ca_issuer_dn(sim->ca)), &err);
			snprintf(buf, sizeof(buf), "CN=%s",
			    c->common_name ? c->common_name : "");
			put(cd, "subject", json_string(buf), &err);
			if (sim_ca_fingerprints(c->cert_pem, sha1, sha256) ==
			    0) {
				upper(sha1);
				upper(sha256);
				put(cd, "sha1Hash", json_string(sha1), &err);
				put(cd, "sha256Hash", json_string(sha256),
				    &err);
			}
		}
	}
	if (c->status == SIM_ST_REVOKED) {
		put(o, "revoked", date_json(c->revoked), &err);
		put(o, "reasonCode", json_integer(c->reason_code), &err);
	}
	if (c->replaced != 0) {
		put(o, "replaced", date_json(c->replaced), &err);
		/* sim extension: serials this sslId carried before */
		old = json_array();
		for (i = 0;
		     old != NULL && i < json_array_size(c->replaced_serials);
		     i++) {
			e = json_array_get(c->replaced_serials, i);
			if (json_array_append(
			        old, json_object_get(e, "serialNumber")) != 0)
				err = 1;
		}
		put(o, "replacedSerialNumbers", old, &err);
	}
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void
sim_api_details(struct sim_req *r)
{
	struct sim_cert *c;

	c = cert_from_seg(r, 3);
	if (c == NULL)
		return;
	if (sim_cert_advance(r->sim, c, 0) != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		return;
	}
	sim_reply_json(r, 200, cert_details_json(r->sim, c));
}

static int
san_has(const struct sim_cert *c, const char *name)
{
	size_t i;

	for (i = 0; i < json_array_size(c->sans); i++)
		if (strcasecmp(json_string_value(json_array_get(c->sans, i)),
		        name) == 0)
			return 1;
	return 0;
}

static int
serial_eq(const char *a, const char *b)
{
	char *na, *nb;
	int eq = 0;

	na = malloc(strlen(a) + 1);
	nb = malloc(strlen(b) + 1);
	if (na != NULL && nb != NULL) {
		sim_serial_normalize(a, na);
		sim_serial_normalize(b, nb);
		eq = *na != '\0' && strcmp(na, nb) == 0;
	}
	free(na);
	free(nb);
	return eq;
}

/* Query filters of GET /ssl/v1 (§5.7) the simulator understands. */
struct list_filter {
	const char *cn;      /* commonName: exact, any case */
	const char *san;     /* subjectAlternativeName: one SAN equals */
	const char *status;  /* status name, any case */
	const char *ext_req; /* externalRequester: substring, any case */
	const char *serial;  /* serialNumber: colons/case/zeros ignored */
	const char *via;     /* requestedVia: API or "Web API" only */
	long org_id;         /* orgId, 0 = any */
	long type_id;        /* sslTypeId, 0 = any */
};

static int
list_match(const struct list_filter *f, const struct sim_cert *c)
{
	/*
	 * [UNK] SCM's matching rules; exact matches make test assertions
	 * (X-Total-Count 1) meaningful.
	 */
	if (f->cn != NULL &&
	    (c->common_name == NULL || strcasecmp(f->cn, c->common_name) != 0))
		return 0;
	if (f->san != NULL && !san_has(c, f->san))
		return 0;
	if (f->status != NULL &&
	    strcasecmp(f->status, sim_cert_status(c, time(NULL))) != 0)
		return 0;
	if (f->ext_req != NULL &&
	    (c->external_requester == NULL ||
	        strcasestr(c->external_requester, f->ext_req) == NULL))
		return 0;
	if (f->serial != NULL &&
	    (c->serial == NULL || !serial_eq(f->serial, c->serial)))
		return 0;
	/* every order here came in through the API (OAS enum value "API") */
	if (f->via != NULL && strcasecmp(f->via, "API") != 0 &&
	    strcasecmp(f->via, "Web API") != 0)
		return 0;
	if (f->org_id != 0 && f->org_id != c->org_id)
		return 0;
	if (f->type_id != 0 && f->type_id != c->cert_type)
		return 0;
	return 1;
}

int
sim_query_long(
    struct sim_req *r, const char *name, long min, long max, long *out)
{
	const char *q = sim_req_query(r, name);

	if (q == NULL)
		return 0;
	if (sim_parse_long(q, min, max, out) != 0) {
		sim_reply_error(
		    r, 400, -1601, "Field '%s' has invalid value.", name);
		return -1;
	}
	return 0;
}

int
sim_query_page(struct sim_req *r, long *size, long *pos)
{
	/*
	 * [UNK] default page size: 200, the OAS maximum; a larger size is
	 * rejected with -1601 rather than silently capped.
	 */
	*size = SIM_PAGE_MAX;
	*pos = 0;
	if (sim_query_long(r, "size", 0, SIM_PAGE_MAX, size) != 0 ||
	    sim_query_long(r, "position", 0, INT32_MAX, pos) != 0)
		return -1;
	return 0;
}

void
sim_api_list(struct sim_req *r)
{
	struct sim *sim = r->sim;
	struct list_filter f;
	struct sim_cert *c;
	json_t *a, *item;
	long size, pos, total = 0;
	char buf[32];
	size_t i;

	memset(&f, 0, sizeof(f));
	if (sim_query_page(r, &size, &pos) != 0 ||
	    sim_query_long(r, "orgId", 1, INT32_MAX, &f.org_id) != 0 ||
	    sim_query_long(r, "sslTypeId", 1, INT32_MAX, &f.type_id) != 0)
		return;
	f.cn = sim_req_query(r, "commonName");
	f.san = sim_req_query(r, "subjectAlternativeName");
	f.status = sim_req_query(r, "status");
	f.ext_req = sim_req_query(r, "externalRequester");
	f.serial = sim_req_query(r, "serialNumber");
	f.via = sim_req_query(r, "requestedVia");

	a = json_array();
	if (a == NULL) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		return;
	}
	/* in sslId order; [UNK] SCM's default order */
	for (i = 0; i < sim_store_count(sim->store); i++) {
		c = sim_store_at(sim->store, i);
		(void)sim_cert_advance(sim, c, 0);
		if (!list_match(&f, c))
			continue;
		if (total >= pos && total - pos < size) {
			/* SSLIdentity: these four fields only (§5.7) */
			item = json_pack("{s:I, s:s, s:O}", "sslId",
			    (json_int_t)c->id, "commonName",
			    c->common_name ? c->common_name : "",
			    "subjectAlternativeNames", c->sans);
			if (item != NULL && c->serial != NULL &&
			    json_object_set_new(item, "serialNumber",
			        json_string(c->serial)) != 0) {
				json_decref(item);
				item = NULL;
			}
			if (json_array_append_new(a, item) != 0) {
				json_decref(a);
				sim_reply_error(r, 500, -2, DESC_INTERNAL);
				return;
			}
		}
		total++;
	}
	snprintf(buf, sizeof(buf), "%ld", total);
	sim_set_header(r, "X-Total-Count", buf);
	if (r->method == EVHTTP_REQ_HEAD) {
		/* the count form: header only (§5.7) */
		json_decref(a);
		sim_reply_empty(r, 200);
		return;
	}
	sim_reply_json(r, 200, a);
}

/* ---- revoke ---- */

/*
 * Reads {"reasonCode":N,"reason":"..."} (§5.11).  Replies and returns -1
 * on a bad body.  [UNK] whether reasonCode is required: it is optional
 * here (default 0, unspecified) since older clients send reason only; it
 * may be a number or a numeric string (DOC says Number, OAS a string enum).
 */
static int
revoke_body(struct sim_req *r, json_t *body, int *code, const char **reason)
{
	const json_t *rc;
	long v = 0;

	if (body == NULL || !json_is_object(body)) {
		sim_reply_error(r, 400, -1002, DESC_PARSE);
		return -1;
	}
	if (field_str(body, "reason", reason) == FIELD_BAD) {
		sim_reply_error(r, 400, -1002, DESC_PARSE);
		return -1;
	}
	rc = json_object_get(body, "reasonCode");
	if (rc != NULL && !json_is_null(rc)) {
		if (json_is_integer(rc))
			v = (long)json_integer_value(rc);
		else if (!json_is_string(rc) ||
		    sim_parse_long(json_string_value(rc), 0, 10, &v) != 0)
			v = -1;
		if (v != 0 && v != 1 && v != 3 && v != 4 && v != 5) {
			sim_reply_error(r, 400, -1601,
			    "Field 'reasonCode' has invalid value.");
			return -1;
		}
	}
	if (*reason == NULL || **reason == '\0') {
		sim_reply_error(r, 400, -7, "reason is required but missing.");
		return -1;
	}
	if (strlen(*reason) > 512) {
		sim_reply_error(
		    r, 400, -1601, "Field 'reason' has invalid value.");
		return -1;
	}
	*code = (int)v;
	return 0;
}

int
sim_cert_revoke(
    struct sim *sim, struct sim_cert *c, int code, const char *reason)
{
	char *copy;

	if (sim_cert_advance(sim, c, 0) != 0)
		return SIM_REVOKE_ENOMEM;
	if (c->status == SIM_ST_REVOKED)
		return SIM_REVOKE_ALREADY;
	/* [INF] an expired certificate counts as not issued any more */
	if (c->status != SIM_ST_ISSUED || sim_cert_expired(c, time(NULL)))
		return SIM_REVOKE_NOT_ISSUED;
	copy = strdup(reason);
	if (copy == NULL)
		return SIM_REVOKE_ENOMEM;
	free(c->revoke_reason);
	c->revoke_reason = copy;
	c->reason_code = code;
	c->revoked = time(NULL);
	c->status = SIM_ST_REVOKED;
	(void)sim_store_save(sim->store, c);
	return 0;
}

static void
do_revoke(struct sim_req *r, struct sim_cert *c, int code, const char *reason)
{
	switch (sim_cert_revoke(r->sim, c, code, reason)) {
	case 0:
		/* 204 with an empty body, not "{}" (reference §3, PCM #26) */
		sim_reply_empty(r, 204);
		snprintf(r->note, sizeof(r->note), "sslId=%ld revoked", c->id);
		break;
	case SIM_REVOKE_ALREADY:
		sim_reply_error(
		    r, 400, -159, "Your certificate already revoked");
		break;
	case SIM_REVOKE_NOT_ISSUED:
		sim_reply_error(
		    r, 400, -102, "Only issued certificates could be revoked.");
		break;
	default:
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		break;
	}
}

void
sim_api_revoke(struct sim_req *r)
{
	json_t *body = sim_req_json(r);
	const char *reason = NULL;
	struct sim_cert *c;
	int code = 0;

	/* the body is checked before the id, as a validating framework does */
	if (revoke_body(r, body, &code, &reason) == 0) {
		c = cert_from_seg(r, 4);
		if (c != NULL)
			do_revoke(r, c, code, reason);
	}
	json_decref(body);
}

void
sim_api_revoke_serial(struct sim_req *r)
{
	json_t *body = sim_req_json(r);
	const char *reason = NULL;
	struct sim_cert *c;
	int code = 0;

	if (revoke_body(r, body, &code, &reason) == 0) {
		/* the serial in colon-hex form; colons may be %3A-encoded */
		c = sim_store_by_serial(r->sim->store, r->seg[5]);
		if (c == NULL)
			sim_reply_error(r, 404, -5101, DESC_NOT_FOUND);
		else
			do_revoke(r, c, code, reason);
	}
	json_decref(body);
}

/* ---- renew and replace ---- */

/*
 * Creates the renewal order of old (§5.12): same names, org, profile and
 * term; the new CSR if given, else the old one.  Replies on error and
 * returns NULL.
 */
static struct sim_cert *
renew_order(struct sim_req *r, struct sim_cert *old, const char *csr_text)
{
	struct sim *sim = r->sim;
	const struct sim_profile *p;
	struct sim_csr csr;
	struct sim_cert *c = NULL;

	memset(&csr, 0, sizeof(csr));
	if (sim_cert_advance(sim, old, 0) != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		return NULL;
	}
	/*
	 * [INF] only a finished order (Issued, Expired or Revoked) can be
	 * renewed; one still waiting (Requested, Approved, Applied) or
	 * Declined gets -105 with its status
	 */
	if (old->status != SIM_ST_ISSUED && old->status != SIM_ST_REVOKED) {
		sim_reply_error(r, 400, -105,
		    "Error was occurred while renewing cert. Status = %s",
		    sim_cert_status(old, time(NULL)));
		return NULL;
	}
	p = profile_find(sim, old->cert_type);
	if (p == NULL) {
		sim_reply_error(r, 400, -180,
		    "This SSL Certificate Profile doesn't allow renew");
		return NULL;
	}
	if (csr_text != NULL && check_csr(r, p, csr_text, &csr) != 0)
		return NULL;
	/* a renewal is a new request: the names need a current DCV again */
	if (!p->private_ca && sim_dcv_check_names(r, old->sans) != 0) {
		sim_csr_clear(&csr);
		return NULL;
	}
	c = sim_cert_new();
	if (c == NULL || sim_random_alnum(c->renew_id, 20) != 0 ||
	    dup_opt(old->common_name, &c->common_name) != 0 ||
	    dup_opt(old->comments, &c->comments) != 0 ||
	    dup_opt(old->external_requester, &c->external_requester) != 0 ||
	    dup_opt(r->principal, &c->requester) != 0)
		goto internal;
	json_decref(c->sans);
	json_decref(c->custom_fields);
	json_decref(c->extra);
	c->sans = json_deep_copy(old->sans);
	c->custom_fields = json_deep_copy(old->custom_fields);
	c->extra = json_deep_copy(old->extra);
	if (c->sans == NULL || c->custom_fields == NULL || c->extra == NULL)
		goto internal;
	if (csr.pem != NULL) {
		take_csr(c, &csr);
	} else {
		if (dup_opt(old->csr_pem, &c->csr_pem) != 0)
			goto internal;
		memcpy(c->csr_sha256, old->csr_sha256, sizeof(c->csr_sha256));
		memcpy(c->key_alg, old->key_alg, sizeof(c->key_alg));
		memcpy(c->key_param, old->key_param, sizeof(c->key_param));
		c->key_size = old->key_size;
	}
	c->org_id = old->org_id;
	c->cert_type = old->cert_type;
	/*
	 * The same term, unless the profile no longer offers it (a 365-day
	 * order from before SCM 26.1): then "SCM automatically selects the
	 * longest available term" (Sectigo KB, lifecycle.md §0).
	 */
	c->term = old->term;
	if (!profile_has_term(p, c->term)) {
		for (size_t i = 0; i < p->nterms; i++)
			if (i == 0 || p->terms[i] > c->term)
				c->term = p->terms[i];
	}
	c->renewed_from = old->id;
	c->requested = time(NULL);
	/* [INF] a renewal is a new request: it needs approval too */
	start_order(sim, c);
	if (sim_store_add(sim->store, c) != 0) {
		c = NULL;
		goto internal;
	}
	old->renewed = 1;
	old->renewed_date = time(NULL);
	(void)sim_store_save(sim->store, old);
	if (sim_cert_advance(sim, c, 0) != 0)
		fprintf(
		    stderr, "sectigo-sim: sslId=%ld: signing failed\n", c->id);
	snprintf(
	    r->note, sizeof(r->note), "sslId=%ld renewed=%ld", old->id, c->id);
	sim_csr_clear(&csr);
	return c;
internal:
	sim_cert_free(c);
	sim_csr_clear(&csr);
	sim_reply_error(r, 500, -2, DESC_INTERNAL);
	return NULL;
}

void
sim_api_renew_by_id(struct sim_req *r)
{
	json_t *body = sim_req_json(r);
	const char *csr_text = NULL;
	struct sim_cert *old, *c;

	/* the body must be a JSON object; "" gives -1002 (PCM #220) */
	if (body == NULL || !json_is_object(body) ||
	    field_str(body, "csr", &csr_text) == FIELD_BAD) {
		sim_reply_error(r, 400, -1002, DESC_PARSE);
		goto out;
	}
	old = cert_from_seg(r, 4);
	if (old == NULL)
		goto out;
	c = renew_order(r, old, csr_text);
	if (c != NULL)
		sim_reply_json(
		    r, 200, json_pack("{s:I}", "sslId", (json_int_t)c->id));
out:
	json_decref(body);
}

void
sim_api_renew(struct sim_req *r)
{
	json_t *body = NULL;
	const char *csr_text = NULL;
	struct sim_cert *old;

	/* {"csr": optional}; an empty body is taken as {} here [INF] */
	if (r->body_len > 0) {
		body = sim_req_json(r);
		if (body == NULL || !json_is_object(body) ||
		    field_str(body, "csr", &csr_text) == FIELD_BAD) {
			sim_reply_error(r, 400, -1002, DESC_PARSE);
			goto out;
		}
	}
	old = sim_store_by_renew_id(r->sim->store, r->seg[4]);
	if (old == NULL) {
		/* [INF] the documented "(null)" text fits a failed lookup */
		sim_reply_error(
		    r, 400, -123, "SSL Certificate to renew is invalid (null)");
		goto out;
	}
	if (renew_order(r, old, csr_text) != NULL)
		sim_reply_empty(r, 204);
out:
	json_decref(body);
}

/*
 * Records the current certificate of c in its history before a replace:
 * serial, replace time, reason, issue and expiry dates and who replaced it
 * ("api" or "console").
 * @return 0, or -1 when out of memory (c unchanged)
 */
static int
history_add(struct sim_cert *c, time_t now, const char *reason, const char *by)
{
	json_t *entry;

	entry = json_pack("{s:s, s:I, s:s, s:I, s:I, s:s}", "serialNumber",
	    c->serial, "replaced", (json_int_t)now, "reason", reason, "issued",
	    (json_int_t)c->issued, "expires", (json_int_t)c->expires, "by", by);
	/* json_array_append_new() takes entry even when it fails */
	if (entry == NULL ||
	    json_array_append_new(c->replaced_serials, entry) != 0)
		return -1;
	return 0;
}

/* Reads replace's subjectAlternativeNames: an array of strings (§5.13). */
static enum field
field_str_array(const json_t *o, const char *key, const json_t **out)
{
	const json_t *v = json_object_get(o, key);
	size_t i;

	if (v == NULL || json_is_null(v))
		return FIELD_ABSENT;
	if (!json_is_array(v))
		return FIELD_BAD;
	for (i = 0; i < json_array_size(v); i++)
		if (!json_is_string(json_array_get(v, i)))
			return FIELD_BAD;
	*out = v;
	return FIELD_SET;
}

void
sim_api_replace(struct sim_req *r)
{
	struct sim *sim = r->sim;
	json_t *body = sim_req_json(r), *names = NULL;
	const json_t *san_in = NULL;
	const char *csr_text = NULL, *reason = NULL, *cn_in = NULL, *dummy;
	const struct sim_profile *p;
	struct sim_cert *c;
	struct sim_csr csr;
	const char *cn;
	char *cn_copy = NULL;
	size_t i;
	time_t now = time(NULL);

	memset(&csr, 0, sizeof(csr));
	if (body == NULL || !json_is_object(body) ||
	    field_str(body, "csr", &csr_text) == FIELD_BAD ||
	    field_str(body, "reason", &reason) == FIELD_BAD ||
	    field_str(body, "commonName", &cn_in) == FIELD_BAD ||
	    field_str(body, "dcvMode", &dummy) == FIELD_BAD ||
	    field_str(body, "dcvEmail", &dummy) == FIELD_BAD ||
	    field_str_array(body, "subjectAlternativeNames", &san_in) ==
	        FIELD_BAD) {
		/*
		 * a comma string where the array belongs (OAS ReplaceRequest,
		 * unlike enroll's subjAltNames) fails like Jackson: -1002
		 */
		sim_reply_error(r, 400, -1002, DESC_PARSE);
		goto out;
	}
	if (csr_text == NULL || *csr_text == '\0') {
		sim_reply_error(r, 400, -7, "CSR is required but missing.");
		goto out;
	}
	/*
	 * [INF] DOC25.5 has reason as required (1..512): missing or empty
	 * gets -7 like the other required members, too long -1601
	 */
	if (reason == NULL || *reason == '\0') {
		sim_reply_error(r, 400, -7, "reason is required but missing.");
		goto out;
	}
	if (strlen(reason) > 512) {
		sim_reply_error(
		    r, 400, -1601, "Field 'reason' has invalid value.");
		goto out;
	}
	if (cn_in != NULL && (strlen(cn_in) == 0 || strlen(cn_in) > 64)) {
		sim_reply_error(
		    r, 400, -1601, "Field 'commonName' has invalid value.");
		goto out;
	}
	c = cert_from_seg(r, 4);
	if (c == NULL)
		goto out;
	if (sim_cert_advance(sim, c, 0) != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		goto out;
	}
	/* [INF] only an issued (unexpired) certificate can be replaced */
	if (c->status != SIM_ST_ISSUED || sim_cert_expired(c, now)) {
		sim_reply_error(r, 400, -130, "SSL state is not 'ISSUED': %s",
		    sim_cert_status(c, time(NULL)));
		goto out;
	}
	p = profile_find(sim, c->cert_type);
	if (p == NULL) {
		sim_reply_error(
		    r, 400, -39, "The certificate profile id is invalid!");
		goto out;
	}
	if (check_csr(r, p, csr_text, &csr) != 0)
		goto out;
	/* new names if given, else the current ones */
	names = json_array();
	if (names == NULL) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		goto out;
	}
	for (i = 0; i < json_array_size(san_in); i++) {
		const char *s = json_string_value(json_array_get(san_in, i));

		if (*s != '\0' && add_name(r, names, s) != 0)
			goto out;
	}
	if (json_array_size(names) == 0) {
		json_decref(names);
		names = json_deep_copy(c->sans);
	}
	/* new names need a current DCV as on enroll (--require-dcv) */
	if (names != NULL && !p->private_ca &&
	    sim_dcv_check_names(r, names) != 0)
		goto out;
	cn = cn_in != NULL   ? cn_in
	    : csr.cn != NULL ? csr.cn
	                     : json_string_value(json_array_get(names, 0));
	if (names == NULL || dup_opt(cn, &cn_copy) != 0 ||
	    history_add(c, now, reason, "api") != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
		goto out;
	}
	/*
	 * Same sslId, new certificate after the pending rule (KF: "Reissued
	 * certs keep the same ID").  [INF] While it is pending the status is
	 * Applied again; the old serial is kept in replaced_serials and shown
	 * as "replacedSerialNumbers" in the details.
	 */
	free(c->common_name);
	c->common_name = cn_copy;
	cn_copy = NULL;
	json_decref(c->sans);
	c->sans = names;
	names = NULL;
	take_csr(c, &csr);
	free(c->cert_pem);
	free(c->serial);
	c->cert_pem = NULL;
	c->serial = NULL;
	c->issued = 0;
	c->expires = 0;
	c->replaced = now;
	start_pending(sim, c);
	(void)sim_store_save(sim->store, c);
	if (sim_cert_advance(sim, c, 0) != 0)
		fprintf(
		    stderr, "sectigo-sim: sslId=%ld: signing failed\n", c->id);
	snprintf(r->note, sizeof(r->note), "sslId=%ld replaced", c->id);
	sim_reply_empty(r, 204);
out:
	free(cn_copy);
	json_decref(names);
	sim_csr_clear(&csr);
	json_decref(body);
}

/* ---- approval (reference §5.9, lifecycle.md §5) ---- */

/* The state as SCM's messages spell it ("SSL state is not 'ISSUED'"). */
static void
state_upper(const struct sim_cert *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s", sim_cert_status(c, time(NULL)));
	upper(buf);
}

int
sim_cert_approve(
    struct sim *sim, struct sim_cert *c, const char *who, const char *message)
{
	char *w = NULL, *m = NULL;

	if (c->status != SIM_ST_REQUESTED)
		return -1;
	if (dup_opt(who, &w) != 0 || dup_opt(message, &m) != 0) {
		free(w);
		return -2;
	}
	free(c->approver);
	free(c->approve_message);
	c->approver = w;
	c->approve_message = m;
	c->approved = time(NULL);
	/* Approved, then Applied and Issued under the pending rule */
	c->status = SIM_ST_APPROVED;
	c->pending_left = sim->pending_polls;
	c->ready_at = c->approved + sim->pending_seconds;
	(void)sim_store_save(sim->store, c);
	if (sim_cert_advance(sim, c, 0) != 0)
		fprintf(
		    stderr, "sectigo-sim: sslId=%ld: signing failed\n", c->id);
	return 0;
}

int
sim_cert_decline(struct sim *sim, struct sim_cert *c, const char *message)
{
	char *m = NULL;

	if (c->status != SIM_ST_REQUESTED)
		return -1;
	if (dup_opt(message, &m) != 0)
		return -2;
	free(c->decline_message);
	c->decline_message = m;
	c->declined = time(NULL);
	c->status = SIM_ST_DECLINED;
	(void)sim_store_save(sim->store, c);
	return 0;
}

/*
 * Reads {"message": "1..512 characters"} (OAS ApproveRequest and
 * DeclineRequest).  [INF] The member is optional, as in OAS (no
 * "required" list); an empty or too long one is -1601.  Replies and
 * returns -1 on a bad body.
 */
static int
approval_body(struct sim_req *r, json_t *body, const char **message)
{
	*message = NULL;
	if (body == NULL || !json_is_object(body) ||
	    field_str(body, "message", message) == FIELD_BAD) {
		sim_reply_error(r, 400, -1002, DESC_PARSE);
		return -1;
	}
	if (*message != NULL && (**message == '\0' || strlen(*message) > 512)) {
		sim_reply_error(
		    r, 400, -1601, "Field 'message' has invalid value.");
		return -1;
	}
	return 0;
}

void
sim_api_approve(struct sim_req *r)
{
	json_t *body = sim_req_json(r);
	const char *message;
	struct sim_cert *c;
	char state[32];
	int rc;

	if (approval_body(r, body, &message) != 0)
		goto out;
	c = cert_from_seg(r, 4);
	if (c == NULL)
		goto out;
	rc = sim_cert_approve(r->sim, c, r->principal, message);
	if (rc == -1) {
		state_upper(c, state, sizeof(state));
		sim_reply_error(r, 400, -1112,
		    "Certificate can't be approved cause it has state = %s",
		    state);
	} else if (rc != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
	} else {
		sim_reply_empty(r, 204);
		snprintf(r->note, sizeof(r->note), "sslId=%ld approved", c->id);
	}
out:
	json_decref(body);
}

void
sim_api_decline(struct sim_req *r)
{
	json_t *body = sim_req_json(r);
	const char *message;
	struct sim_cert *c;
	char state[32];
	int rc;

	if (approval_body(r, body, &message) != 0)
		goto out;
	c = cert_from_seg(r, 4);
	if (c == NULL)
		goto out;
	rc = sim_cert_decline(r->sim, c, message);
	if (rc == -1) {
		/*
		 * [UNK] no decline-specific code is documented: the approval
		 * one, -1112, with the verb changed
		 */
		state_upper(c, state, sizeof(state));
		sim_reply_error(r, 400, -1112,
		    "Certificate can't be declined cause it has state = %s",
		    state);
	} else if (rc != 0) {
		sim_reply_error(r, 500, -2, DESC_INTERNAL);
	} else {
		sim_reply_empty(r, 204);
		snprintf(r->note, sizeof(r->note), "sslId=%ld declined", c->id);
	}
out:
	json_decref(body);
}

/* ---- the SCM console (control.c's "console_*" keys) ---- */

int
sim_cert_reissue(struct sim *sim, struct sim_cert *c, const char *reason)
{
	char *old_pem, *old_serial;
	time_t old_issued, old_expires, now = time(NULL);

	if (sim_cert_advance(sim, c, 0) != 0)
		return -2;
	if (c->status != SIM_ST_ISSUED || sim_cert_expired(c, now))
		return -1;
	if (history_add(c, now, reason, "console") != 0)
		return -2;
	/*
	 * [INF] an administrator's replace in the console: SCM reissues at
	 * once, same sslId, names, term and key (the stored CSR), new serial
	 */
	old_pem = c->cert_pem;
	old_serial = c->serial;
	old_issued = c->issued;
	old_expires = c->expires;
	c->cert_pem = NULL;
	c->serial = NULL;
	c->status = SIM_ST_APPLIED;
	c->pending_left = 0;
	c->ready_at = 0;
	if (sim_cert_advance(sim, c, 0) != 0 || c->status != SIM_ST_ISSUED) {
		/* signing failed: put the old certificate back */
		free(c->cert_pem);
		c->cert_pem = old_pem;
		c->serial = old_serial;
		c->issued = old_issued;
		c->expires = old_expires;
		c->status = SIM_ST_ISSUED;
		json_array_remove(c->replaced_serials,
		    json_array_size(c->replaced_serials) - 1);
		(void)sim_store_save(sim->store, c);
		return -2;
	}
	free(old_pem);
	free(old_serial);
	c->replaced = now;
	(void)sim_store_save(sim->store, c);
	return 0;
}
