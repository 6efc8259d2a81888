/* SPDX-License-Identifier: Apache-2.0 */
/* Renewal: RFC 9773 renewal information (the unauthenticated GET and its
 * suggested window), "replaces" in newOrder, the same-name-set link for
 * clients that send no "replaces", and profiles
 * (draft-ietf-acme-profiles) of newOrder. */
#include "acme/dcv.h"
#include "acme/life.h"
#include "acme/srv_int.h"

/* Why a window is in the past, with the page that says so. */
enum ari_why { ARI_NORMAL, ARI_REVOKED, ARI_REPLACED, ARI_DCV };

static const char *const why_name[] = {"", "revoked", "replaced", "dcv"};

/* ---- names and profiles ------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *
srv_name_set(const struct acme_ident *ids, size_t n)
{
	const char **v = calloc(n ? n : 1, sizeof(*v));
	size_t len = 1, i;
	char *s = NULL, *p;

	if (v == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		v[i] = ids[i].value;
		len += strlen(v[i]) + 2;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	s = malloc(len);
	if (s != NULL) {
		p = s;
		*p = '\0';
		for (i = 0; i < n; i++)
			p += sprintf(p, "%s%s", i ? ", " : "", v[i]);
	}
	free(v);
	return s;
}

const struct acme_connector_info *
srv_connector(const struct acme_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->s->n_connectors; i++)
		if (strcmp(ctx->s->connectors[i].name, name) == 0)
			return &ctx->s->connectors[i];
	return NULL;
}

const struct acme_profile_info *
srv_profile(const struct acme_connector_info *ci, const char *name)
{
	if (ci == NULL || ci->n_profiles == 0)
		return NULL;
	if (name == NULL || name[0] == '\0')
		return &ci->profiles[0];
	for (size_t i = 0; i < ci->n_profiles; i++)
		if (strcmp(ci->profiles[i].name, name) == 0)
			return &ci->profiles[i];
	return NULL;
}

/* Whether the JSON array text allows names a profile. */
static int
allowed(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach((json_t *)arr, i, v) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), name) == 0)
			return 1;
	}
	return 0;
}

int
srv_order_profile(struct call *c, char *out, size_t len)
{
	const struct acme_connector_info *ci =
	    srv_connector(c->ctx, c->acct.connector);
	const json_t *want = json_object_get(c->payload, "profile");
	const struct acme_profile_info *pi;
	json_t *arr = NULL;
	char buf[2048];
	int rc = -1;

	if (want != NULL && !json_is_string(want)) {
		srv_fail(c, 400, "malformed", "\"profile\" must be a string");
		return -1;
	}
	if (c->ctx->s->n_connectors == 0 && want == NULL) {
		/* an engine without connector settings (tests, tools) */
		out[0] = '\0';
		return 0;
	}
	if (ci == NULL) {
		/* the account's connector left the configuration */
		srv_fail(c, 403, "unauthorized",
		    "this account's CA connector \"%s\" is no longer "
		    "configured",
		    c->acct.connector);
		return -1;
	}
	pi = srv_profile(ci, json_string_value(want));
	if (pi == NULL) {
		srv_fail(c, 400, "invalidProfile",
		    "profile \"%.64s\" is not offered here (see meta.profiles "
		    "in the directory)",
		    json_string_value(want));
		return -1;
	}
	switch (acme_life_account_profiles(
	    c->ctx->db, c->acct.id, buf, sizeof(buf))) {
	case ACME_ERR:
		srv_server_error(c);
		return -1;
	case ACME_NONE:
		snprintf(out, len, "%s", pi->name);
		return 0;
	case ACME_FOUND:
		break;
	}
	arr = json_loads(buf, 0, NULL);
	if (!json_is_array(arr)) {
		srv_server_error(c);
		goto out;
	}
	if (!allowed(arr, pi->name)) {
		/* no profile asked for: the first one the key allows */
		for (size_t i = 0; want == NULL && i < ci->n_profiles; i++) {
			if (allowed(arr, ci->profiles[i].name)) {
				snprintf(out, len, "%s", ci->profiles[i].name);
				rc = 0;
				goto out;
			}
		}
		srv_fail(c, 403, "unauthorized",
		    "this account's external account binding key may not "
		    "order profile \"%s\"",
		    pi->name);
		goto out;
	}
	snprintf(out, len, "%s", pi->name);
	rc = 0;
out:
	json_decref(arr);
	return rc;
}

/* ---- certID (RFC 9773 §4.1) ---------------------------------------- */

/*
 * "<base64url AKI keyIdentifier>.<base64url serial DER content>" into the
 * forms the store keeps: the AKI re-encoded, the serial as lower-case
 * hex without leading zero bytes (so "AIdlQyE" and "h2VDIQ" name the
 * same certificate: serials compare as unsigned integers).
 */
int
srv_cert_id_parse(const char *s, char *aki, size_t alen, char *serial,
    size_t slen, struct acme_problem *p)
{
	const char *dot = strchr(s, '.');
	unsigned char kb[64], sb[64];
	long kn, sn, i = 0;

	if (dot == NULL || strchr(dot + 1, '.') != NULL || dot == s ||
	    dot[1] == '\0' || (size_t)(dot - s) > 80 || strlen(dot + 1) > 80) {
		acme_problem_set(p, 400, "malformed",
		    "a certID is two base64url parts joined by \".\"");
		return -1;
	}
	kn = b64url_decode(s, (size_t)(dot - s), kb);
	sn = b64url_decode(dot + 1, strlen(dot + 1), sb);
	if (kn <= 0 || sn <= 0) {
		acme_problem_set(p, 400, "malformed",
		    "a certID part is not unpadded base64url");
		return -1;
	}
	if ((size_t)b64url_enc_len((size_t)kn) + 1 > alen) {
		acme_problem_set(p, 400, "malformed", "certID too long");
		return -1;
	}
	b64url_encode(kb, (size_t)kn, aki);
	if (sb[0] & 0x80) {
		/* a DER INTEGER with the high bit set is negative: no
		 * certificate has such a serial */
		acme_problem_set(p, 400, "malformed",
		    "the certID serial is negative (a serial with its high "
		    "bit set needs a leading zero byte)");
		return -1;
	}
	while (i < sn - 1 && sb[i] == 0)
		i++;
	if ((size_t)(sn - i) * 2 + 1 > slen) {
		acme_problem_set(p, 400, "malformed", "certID too long");
		return -1;
	}
	for (long j = i; j < sn; j++)
		snprintf(serial + 2 * (j - i), 3, "%02x", sb[j]);
	return 0;
}

/* ---- the suggested window ------------------------------------------ */

/* The earliest end of a current SCM validation among the certificate's
 * names (0: none known). */
static long long
dcv_ends(struct acme_ctx *ctx, const struct acme_life_cert *lc)
{
	long long first = 0;
	char *names, *save = NULL, *n;

	if (lc->names == NULL || (names = strdup(lc->names)) == NULL)
		return 0;
	for (n = strtok_r(names, ", ", &save); n != NULL;
	     n = strtok_r(NULL, ", ", &save)) {
		struct acme_scm_domain d;
		const char *name = strncmp(n, "*.", 2) == 0 ? n + 2 : n;

		if (acme_scmdom_covering(ctx->db, lc->connector, name, &d) ==
		        ACME_FOUND &&
		    d.validated && d.expires > 0 &&
		    (first == 0 || d.expires < first))
			first = d.expires;
	}
	free(names);
	return first;
}

/*
 * Boulder's rule: renew a third of the validity before the end (half
 * for validities under ten days), give or take 1 % of the validity; a
 * window that has already passed when the certificate should not be
 * relied on (revoked, replaced in SCM, a name's validation ends first).
 */
static enum ari_why
ari_window(struct acme_ctx *ctx, const struct acme_life_cert *lc, long long now,
    long long *start, long long *end)
{
	long long validity = lc->not_after - lc->not_before, ideal, lapse;

	if (validity <= 0)
		validity = 1;
	ideal = lc->not_after -
	    (validity < 10 * 86400 ? validity / 2 : validity / 3);
	*start = ideal - validity / 100;
	*end = ideal + validity / 100;
	if (*end <= *start)
		*end = *start + 1;
	if (lc->status != ACME_CERT_VALID ||
	    strcmp(lc->scm_status, "Revoked") == 0 ||
	    strcmp(lc->scm_status, "Declined") == 0)
		goto past_revoked;
	if (strcmp(lc->scm_status, "Replaced") == 0) {
		*start = now - 3600;
		*end = now - 1800;
		return ARI_REPLACED;
	}
	lapse = dcv_ends(ctx, lc);
	if (lapse > 0 && lapse < *start && lapse < lc->not_after) {
		*start = now - 3600;
		*end = now - 1800;
		return ARI_DCV;
	}
	return ARI_NORMAL;
past_revoked:
	*start = now - 3600;
	*end = now - 1800;
	return ARI_REVOKED;
}

/* 6 hours, +-10 %, so that clients of one fleet spread their checks. */
static int
ari_retry_after(const struct acme_ctx *ctx)
{
	int base =
	    ctx->s->ari_retry_after > 0 ? ctx->s->ari_retry_after : 21600;
	unsigned r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	return base - base / 10 + (int)(r % (unsigned)(base / 5 + 1));
}

void
srv_h_renewal_info(struct call *c, const char *cert_id)
{
	struct acme_ctx *ctx = c->ctx;
	struct acme_problem p = {0};
	struct acme_life_cert lc;
	char aki[128], serial[80], ts[32], te[32];
	long long start, end;
	enum ari_why why;
	json_t *body;

	if (srv_cert_id_parse(
	        cert_id, aki, sizeof(aki), serial, sizeof(serial), &p) != 0) {
		srv_fail_prob(c, &p);
		return;
	}
	switch (acme_life_cert_by_serial(ctx->db, serial, aki, &lc)) {
	case ACME_ERR:
		srv_server_error(c);
		return;
	case ACME_NONE:
		switch (acme_life_aki_known(ctx->db, aki)) {
		case ACME_ERR:
			srv_server_error(c);
			return;
		case ACME_NONE:
			srv_fail(c, 404, "malformed",
			    "no certificate issued here has this authority "
			    "key identifier");
			return;
		case ACME_FOUND:
			srv_fail(c, 404, "malformed",
			    "no certificate with this serial was issued here");
			return;
		}
		return;
	case ACME_FOUND:
		break;
	}
	why = ari_window(ctx, &lc, c->req->now, &start, &end);
	body = json_pack("{s:{s:s, s:s}}", "suggestedWindow", "start",
	    acme_time_str(start, ts, sizeof(ts)), "end",
	    acme_time_str(end, te, sizeof(te)));
	if (body != NULL && why != ARI_NORMAL)
		json_object_set_new(body, "explanationURL",
		    srv_url_json(ctx, "/renewal-explained/%s", why_name[why]));
	acme_life_cert_clear(&lc);
	if (body == NULL) {
		srv_server_error(c);
		return;
	}
	srv_set_json(c->resp, 200, body);
	c->resp->retry_after = ari_retry_after(ctx);
}

/* The page an explanationURL points to: plain text for the operator. */
void
srv_h_renewal_explained(struct call *c, const char *why)
{
	static const struct {
		const char *name, *text;
	} pages[] = {
	    {"revoked",
	        "This certificate was revoked (by its subscriber, "
	        "by an operator of this ACME server, or in Sectigo "
	        "Certificate Manager). Renew it now: a revoked "
	        "certificate is refused by clients that check.\n"},
	    {"replaced",
	        "This certificate was replaced in Sectigo "
	        "Certificate Manager: the CA issued another one "
	        "for the same request. Renew now to get a "
	        "certificate of your own key again.\n"},
	    {"dcv",
	        "The domain control validation that covers a name of "
	        "this certificate ends before the usual renewal time. "
	        "Renew now, while the validation still holds, or make "
	        "sure the domain is validated again in Sectigo "
	        "Certificate Manager.\n"},
	};

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		if (strcmp(pages[i].name, why) == 0) {
			c->resp->status = 200;
			c->resp->raw = strdup(pages[i].text);
			c->resp->raw_len =
			    c->resp->raw ? strlen(c->resp->raw) : 0;
			c->resp->ctype = "text/plain; charset=utf-8";
			if (c->resp->raw == NULL)
				srv_server_error(c);
			return;
		}
	}
	srv_not_found(c, "explanation");
}

/* ---- "replaces" (RFC 9773 §5) -------------------------------------- */

/* Whether the certificate's name set shares a name with the order's. */
static int
shares_name(const char *names, const struct acme_ident *ids, size_t n)
{
	size_t len;

	if (names == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = names;

		len = strlen(ids[i].value);
		while ((p = strstr(p, ids[i].value)) != NULL) {
			if ((p == names || (p >= names + 2 && p[-2] == ',')) &&
			    (p[len] == '\0' || p[len] == ','))
				return 1;
			p += len;
		}
	}
	return 0;
}

/*
 * The predecessor of a new order: the certificate "replaces" names,
 * checked as RFC 9773 §5 says, or the same account's current
 * certificate for the same name set. Mismatches answer malformed, never
 * unauthorized or a 5xx (lego and acme.sh retry without "replaces" only
 * on alreadyReplaced or malformed). @return 0 (*pred set, 0 for none),
 * or -1 after the reply.
 */
int
srv_order_predecessor(struct call *c, const struct acme_ident *ids, size_t n,
    const char *name_set, long long *pred)
{
	struct acme_ctx *ctx = c->ctx;
	const json_t *rep = json_object_get(c->payload, "replaces");
	struct acme_problem p = {0};
	struct acme_life_cert lc;
	char aki[128], serial[80], oid[64];
	long long id;
	int rc = -1;

	*pred = 0;
	if (rep == NULL) {
		id = acme_life_renewal_of(
		    ctx->db, c->acct.id, name_set, c->req->now);
		if (id < 0) {
			srv_server_error(c);
			return -1;
		}
		*pred = id;
		return 0;
	}
	if (!json_is_string(rep) ||
	    srv_cert_id_parse(json_string_value(rep), aki, sizeof(aki), serial,
	        sizeof(serial), &p) != 0) {
		if (!json_is_string(rep))
			acme_problem_set(&p, 400, "malformed",
			    "\"replaces\" must be a certID string");
		snprintf(p.detail + strlen(p.detail),
		    sizeof(p.detail) - strlen(p.detail), " (in \"replaces\")");
		srv_fail_prob(c, &p);
		return -1;
	}
	switch (acme_life_cert_by_serial(ctx->db, serial, aki, &lc)) {
	case ACME_ERR:
		srv_server_error(c);
		return -1;
	case ACME_NONE:
		srv_fail(c, 400, "malformed",
		    "\"replaces\" names no certificate issued here");
		return -1;
	case ACME_FOUND:
		break;
	}
	if (lc.account_id != c->acct.id) {
		srv_fail(c, 400, "malformed",
		    "\"replaces\" names a certificate of another account");
		goto out;
	}
	if (!shares_name(lc.names, ids, n)) {
		srv_fail(c, 400, "malformed",
		    "\"replaces\" names a certificate that shares no "
		    "identifier with this order");
		goto out;
	}
	switch (acme_life_replacement(
	    ctx->db, lc.id, c->req->now, oid, sizeof(oid))) {
	case ACME_ERR:
		srv_server_error(c);
		goto out;
	case ACME_FOUND:
		srv_fail(c, 409, "alreadyReplaced",
		    "order %s already replaces this certificate", oid);
		goto out;
	case ACME_NONE:
		break;
	}
	if (lc.replaced_by != 0) {
		srv_fail(c, 409, "alreadyReplaced",
		    "this certificate was already renewed");
		goto out;
	}
	*pred = lc.id;
	rc = 0;
out:
	acme_life_cert_clear(&lc);
	return rc;
}
