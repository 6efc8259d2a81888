/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sectigo-sim: test-only endpoints, without authentication:
 * GET /sim/stats (counters and the certificate table) and
 * GET|POST /sim/control (pending rules, held-back enroll replies, injected
 * errors, token expiry).
 */
#include "contrib/sectigo-sim/internal.h"
#include "contrib/sectigo-sim/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DESC_INTERNAL "Internal error. Please contact Support for details."
/* upper bound for the integer knobs, to keep arithmetic far from overflow */
#define KNOB_MAX 100000000

static json_t *
cert_summary(const struct sim_cert *c)
{
	json_t *o, *old, *e;
	size_t i;

	old = json_array();
	json_array_foreach(c->replaced_serials, i, e)
		json_array_append(old, json_object_get(e, "serialNumber"));
	o = json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s?, s:O,"
	              " s:o}",
	    "sslId", (json_int_t)c->id, "status",
	    sim_cert_status(c, time(NULL)), "commonName", c->common_name,
	    "comments", c->comments, "csr_sha256", c->csr_sha256, "renewId",
	    c->renew_id, "externalRequester", c->external_requester,
	    "serialNumber", c->serial, "subjectAlternativeNames", c->sans,
	    "replacedSerialNumbers", old);
	return o;
}

/* The "faults" object of /sim/stats: injected faults by kind. */
static json_t *
faults_json(const struct sim *sim)
{
	unsigned long total = 0;

	for (int i = 1; i < SIM_FAULT_MAX; i++)
		total += sim->faults[i];
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "total",
	    (json_int_t)total, "503", (json_int_t)sim->faults[SIM_FAULT_503],
	    "500", (json_int_t)sim->faults[SIM_FAULT_500], "429",
	    (json_int_t)sim->faults[SIM_FAULT_429], "lost_reply",
	    (json_int_t)sim->faults[SIM_FAULT_LOST], "lost_reply_502",
	    (json_int_t)sim->lost_502);
}

void
sim_ctl_stats(struct sim_req *r)
{
	struct sim *sim = r->sim;
	struct sim_cert *c;
	struct sim_hung *h;
	json_t *o, *certs;
	size_t i, held = 0;

	TAILQ_FOREACH(h, &sim->hung, entry)
		held++;
	certs = json_array();
	for (i = 0; certs != NULL && i < sim_store_count(sim->store); i++) {
		c = sim_store_at(sim->store, i);
		/* same view as the API: issue what is due */
		(void)sim_cert_advance(sim, c, 0);
		if (json_array_append_new(certs, cert_summary(c)) != 0) {
			json_decref(certs);
			certs = NULL;
		}
	}
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	              " s:I, s:i, s:I, s:I, s:o, s:o}",
	    "enroll_calls", (json_int_t)sim->count[SIM_CNT_ENROLL],
	    "enrollments", (json_int_t)sim->enrollments,
	    "duplicate_csr_enrollments", (json_int_t)sim->duplicate_csr,
	    "collect_calls", (json_int_t)sim->count[SIM_CNT_COLLECT],
	    "revoke_calls", (json_int_t)sim->count[SIM_CNT_REVOKE],
	    "token_calls", (json_int_t)sim->count[SIM_CNT_TOKEN], "renew_calls",
	    (json_int_t)sim->count[SIM_CNT_RENEW], "replace_calls",
	    (json_int_t)sim->count[SIM_CNT_REPLACE], "details_calls",
	    (json_int_t)sim->count[SIM_CNT_DETAILS], "list_calls",
	    (json_int_t)sim->count[SIM_CNT_LIST], "auth_failures",
	    (json_int_t)sim->count[SIM_CNT_AUTH_FAIL], "hang_enrolls",
	    sim->hang_enrolls, "held_requests", (json_int_t)held, "tokens_live",
	    (json_int_t)sim_tokens_live(sim), "certificates", certs, "dcv",
	    sim_dcv_stats(sim));
	if (o != NULL &&
	    (json_object_set_new(o, "approve_calls",
	         json_integer((json_int_t)sim->count[SIM_CNT_APPROVE])) != 0 ||
	        json_object_set_new(o, "decline_calls",
	            json_integer((json_int_t)sim->count[SIM_CNT_DECLINE])) !=
	            0 ||
	        json_object_set_new(o, "report_calls",
	            json_integer((json_int_t)sim->count[SIM_CNT_REPORT])) !=
	            0 ||
	        json_object_set_new(o, "faults", faults_json(sim)) != 0)) {
		json_decref(o);
		o = NULL;
	}
	sim_reply_json(r, 200, o);
}

static void
rule_free(struct sim_fail_rule *rule)
{
	if (rule == NULL)
		return;
	free(rule->path_prefix);
	free(rule->method);
	free(rule->description);
	free(rule);
}

void
sim_fail_rules_clear(struct sim *sim)
{
	struct sim_fail_rule *rule;

	while ((rule = TAILQ_FIRST(&sim->fail_rules)) != NULL) {
		TAILQ_REMOVE(&sim->fail_rules, rule, entry);
		rule_free(rule);
	}
}

static json_t *
control_state(struct sim *sim)
{
	struct sim_fail_rule *rule;
	struct sim_hung *h;
	json_t *rules;
	size_t held = 0;

	TAILQ_FOREACH(h, &sim->hung, entry)
		held++;
	rules = json_array();
	TAILQ_FOREACH(rule, &sim->fail_rules, entry) {
		if (rules != NULL &&
		    json_array_append_new(rules,
		        json_pack("{s:s, s:s?, s:i, s:I, s:s, s:i}",
		            "path_prefix", rule->path_prefix, "method",
		            rule->method, "status", rule->status, "code",
		            (json_int_t)rule->code, "description",
		            rule->description, "count", rule->count)) != 0) {
			json_decref(rules);
			rules = NULL;
		}
	}
	return json_pack("{s:i, s:i, s:i, s:i, s:I, s:o, s:b, s:f, s:i}",
	    "hang_enrolls", sim->hang_enrolls, "pending_polls",
	    sim->pending_polls, "pending_seconds", sim->pending_seconds,
	    "token_lifetime", sim->token_lifetime, "held_requests",
	    (json_int_t)held, "fail_rules", rules, "auto_approve",
	    sim->auto_approve, "fail_rate", sim->fail_rate, "latency_ms",
	    sim->latency_ms);
}

/* Reads one "fail_next" rule; writes a message to err on failure. */
static struct sim_fail_rule *
rule_parse(const json_t *o, char *err, size_t errsz)
{
	struct sim_fail_rule *rule = NULL;
	const char *key, *prefix, *method = NULL, *desc = DESC_INTERNAL;
	const json_t *v;
	json_int_t status = 500, code = -2, count = 1;

	if (!json_is_object(o)) {
		snprintf(err, errsz, "fail_next: want an object");
		return NULL;
	}
	json_object_foreach((json_t *)o, key, v) {
		if (strcmp(key, "path_prefix") == 0 ||
		    strcmp(key, "description") == 0 ||
		    strcmp(key, "method") == 0) {
			if (!json_is_string(v))
				goto bad;
		} else if (strcmp(key, "status") == 0 ||
		    strcmp(key, "code") == 0 || strcmp(key, "count") == 0) {
			if (!json_is_integer(v))
				goto bad;
		} else {
			goto bad;
		}
	}
	prefix = json_string_value(json_object_get(o, "path_prefix"));
	if (prefix == NULL || prefix[0] != '/') {
		snprintf(err, errsz,
		    "fail_next: path_prefix must start "
		    "with /");
		return NULL;
	}
	/* rules match the /api form of a path; /private/api is the same */
	if (strncmp(prefix, "/private/api", 12) == 0)
		prefix += 8;
	if (json_object_get(o, "method") != NULL)
		method = json_string_value(json_object_get(o, "method"));
	if (json_object_get(o, "description") != NULL)
		desc = json_string_value(json_object_get(o, "description"));
	if (json_object_get(o, "status") != NULL)
		status = json_integer_value(json_object_get(o, "status"));
	if (json_object_get(o, "code") != NULL)
		code = json_integer_value(json_object_get(o, "code"));
	if (json_object_get(o, "count") != NULL)
		count = json_integer_value(json_object_get(o, "count"));
	if (status < 200 || status > 599 || count < 1 || count > KNOB_MAX ||
	    code < -KNOB_MAX || code > KNOB_MAX) {
		snprintf(err, errsz, "fail_next: status 200..599, count >= 1");
		return NULL;
	}
	rule = calloc(1, sizeof(*rule));
	if (rule == NULL)
		goto nomem;
	rule->path_prefix = strdup(prefix);
	rule->description = strdup(desc);
	if (method != NULL)
		rule->method = strdup(method);
	if (rule->path_prefix == NULL || rule->description == NULL ||
	    (method != NULL && rule->method == NULL))
		goto nomem;
	rule->status = (int)status;
	rule->code = (long)code;
	rule->count = (int)count;
	return rule;
bad:
	snprintf(err, errsz, "fail_next: bad member '%s'", key);
	return NULL;
nomem:
	rule_free(rule);
	snprintf(err, errsz, "out of memory");
	return NULL;
}

static int
knob(const json_t *v, int min, int *out)
{
	json_int_t i;

	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	if (i < min || i > KNOB_MAX)
		return -1;
	*out = (int)i;
	return 0;
}

static void
control_error(struct sim_req *r, const char *msg)
{
	sim_reply_json(r, 400, json_pack("{s:s}", "error", msg));
}

/* RFC 5280 CRLReason names SCM accepts (reference §5.11: 0, 1, 3-5) */
static const struct {
	const char *name;
	int code;
} reasons[] = {
    {"unspecified", 0},
    {"keyCompromise", 1},
    {"affiliationChanged", 3},
    {"superseded", 4},
    {"cessationOfOperation", 5},
};

/* A reason as a name or a number; -1 when it is neither. */
static int
reason_code(const json_t *v)
{
	size_t i;

	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
			if (reasons[i].code == json_integer_value(v))
				return reasons[i].code;
		return -1;
	}
	for (i = 0;
	     json_is_string(v) && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcasecmp(reasons[i].name, json_string_value(v)) == 0)
			return reasons[i].code;
	return -1;
}

/* The record named by {"id": N} or, when allowed, {"serial": "..."}. */
static struct sim_cert *
console_target(struct sim *sim, const json_t *v, int by_serial)
{
	const json_t *id = json_object_get(v, "id");
	const char *serial = json_string_value(json_object_get(v, "serial"));

	if (json_is_integer(id) && serial == NULL)
		return sim_store_get(sim->store, (long)json_integer_value(id));
	if (by_serial && id == NULL && serial != NULL)
		return sim_store_by_serial(sim->store, serial);
	return NULL;
}

/* An optional string member: 0 absent or a string, -1 another type. */
static int
opt_str(const json_t *o, const char *key, const char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > 512)
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* What the console keys of one control request will do. */
struct console_ops {
	struct sim_cert *approve;   /* "approve": N */
	struct sim_cert *decline;   /* "decline": {"id", "message"} */
	const char *decline_msg;    /* its message, or NULL */
	struct sim_cert *revoke;    /* "console_revoke": {...} */
	int revoke_code;            /* its CRLReason code */
	const char *revoke_msg;     /* its "message", or NULL */
	struct sim_cert *replace;   /* "console_replace": {"id"} */
	const char *replace_reason; /* its "reason", or NULL */
};

/*
 * Checks one console key against the current state; fills ops.
 * @return 0 ok, -1 bad (err written), 1 not a console key
 */
static int
console_check(struct sim *sim, const char *key, const json_t *v,
    struct console_ops *ops, char *err, size_t errlen)
{
	struct sim_cert *c;

	if (strcmp(key, "approve") == 0) {
		c = json_is_integer(v)
		    ? sim_store_get(sim->store, (long)json_integer_value(v))
		    : NULL;
		if (c == NULL || c->status != SIM_ST_REQUESTED) {
			snprintf(err, errlen,
			    "approve: want the sslId of a Requested order");
			return -1;
		}
		ops->approve = c;
		return 0;
	}
	if (strcmp(key, "decline") == 0) {
		c = json_is_object(v) ? console_target(sim, v, 0) : NULL;
		if (c == NULL || c->status != SIM_ST_REQUESTED ||
		    opt_str(v, "message", &ops->decline_msg) != 0) {
			snprintf(err, errlen,
			    "decline: want {\"id\": sslId of a Requested "
			    "order, \"message\": text}");
			return -1;
		}
		ops->decline = c;
		return 0;
	}
	if (strcmp(key, "console_revoke") == 0) {
		c = json_is_object(v) ? console_target(sim, v, 1) : NULL;
		if (c != NULL)
			(void)sim_cert_advance(sim, c, 0);
		ops->revoke_code = json_is_object(v)
		    ? reason_code(json_object_get(v, "reason"))
		    : -1;
		if (c == NULL || c->status != SIM_ST_ISSUED ||
		    sim_cert_expired(c, time(NULL)) || ops->revoke_code < 0 ||
		    opt_str(v, "message", &ops->revoke_msg) != 0) {
			snprintf(err, errlen,
			    "console_revoke: want {\"id\" or \"serial\" of "
			    "an issued certificate, \"reason\": "
			    "keyCompromise|...|0..5}");
			return -1;
		}
		ops->revoke = c;
		return 0;
	}
	if (strcmp(key, "console_replace") == 0) {
		c = json_is_object(v) ? console_target(sim, v, 0) : NULL;
		if (c != NULL)
			(void)sim_cert_advance(sim, c, 0);
		if (c == NULL || c->status != SIM_ST_ISSUED ||
		    sim_cert_expired(c, time(NULL)) ||
		    opt_str(v, "reason", &ops->replace_reason) != 0) {
			snprintf(err, errlen,
			    "console_replace: want {\"id\": sslId of an "
			    "issued certificate}");
			return -1;
		}
		ops->replace = c;
		return 0;
	}
	return 1;
}

/* Applies the checked console keys; @return 0, or -1 (err written) */
static int
console_apply(
    struct sim *sim, const struct console_ops *ops, char *err, size_t errlen)
{
	if (ops->approve != NULL &&
	    sim_cert_approve(sim, ops->approve, "console-admin", NULL) != 0)
		goto fail;
	if (ops->decline != NULL &&
	    sim_cert_decline(sim, ops->decline, ops->decline_msg) != 0)
		goto fail;
	if (ops->revoke != NULL &&
	    sim_cert_revoke(sim, ops->revoke, ops->revoke_code,
	        ops->revoke_msg != NULL ? ops->revoke_msg
	                                : "revoked in the SCM console") != 0)
		goto fail;
	if (ops->replace != NULL &&
	    sim_cert_reissue(sim, ops->replace,
	        ops->replace_reason != NULL
	            ? ops->replace_reason
	            : "replaced in the SCM console") != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "console action failed");
	return -1;
}

void
sim_ctl_control(struct sim_req *r)
{
	struct sim *sim = r->sim;
	TAILQ_HEAD(, sim_fail_rule) rules;
	struct sim_fail_rule *rule;
	json_t *body = NULL, *v, *fail;
	const char *key;
	char err[128];
	int hang = -1, polls = -1, secs = -1, life = -1, wrong = -1;
	int expire = 0, reset = 0, clear = 0, approve = -1, cc, latency = -1;
	double rate = -1.0;
	json_int_t seed = -1;
	struct console_ops ops;
	size_t i;

	TAILQ_INIT(&rules);
	memset(&ops, 0, sizeof(ops));
	if (r->method == EVHTTP_REQ_GET)
		goto reply;
	body = sim_req_json(r);
	if (body == NULL || !json_is_object(body)) {
		control_error(r, "body must be a JSON object");
		goto out;
	}
	/* check everything first, so that a bad request changes nothing */
	json_object_foreach(body, key, v) {
		if (strcmp(key, "hang_enrolls") == 0) {
			if (knob(v, 0, &hang) != 0)
				goto bad_value;
		} else if (strcmp(key, "wrong_certs") == 0) {
			if (knob(v, 0, &wrong) != 0)
				goto bad_value;
		} else if (strcmp(key, "pending_polls") == 0) {
			if (knob(v, 0, &polls) != 0)
				goto bad_value;
		} else if (strcmp(key, "pending_seconds") == 0) {
			if (knob(v, 0, &secs) != 0)
				goto bad_value;
		} else if (strcmp(key, "token_lifetime") == 0) {
			if (knob(v, 1, &life) != 0)
				goto bad_value;
		} else if (strcmp(key, "expire_tokens") == 0 ||
		    strcmp(key, "reset_stats") == 0 ||
		    strcmp(key, "clear_failures") == 0) {
			if (!json_is_boolean(v))
				goto bad_value;
		} else if (strcmp(key, "fail_rate") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0.0 ||
			    json_number_value(v) > 1.0)
				goto bad_value;
			rate = json_number_value(v);
		} else if (strcmp(key, "latency_ms") == 0) {
			if (knob(v, 0, &latency) != 0 || latency > 600000)
				goto bad_value;
		} else if (strcmp(key, "seed") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				goto bad_value;
			seed = json_integer_value(v);
		} else if (strcmp(key, "auto_approve") == 0) {
			if (!json_is_boolean(v))
				goto bad_value;
			approve = json_is_true(v);
		} else if ((cc = console_check(
		                sim, key, v, &ops, err, sizeof(err))) != 1) {
			if (cc != 0) {
				control_error(r, err);
				goto out;
			}
		} else if (strcmp(key, "fail_next") != 0) {
			int dc =
			    sim_dcv_control(sim, key, v, 0, err, sizeof(err));
			if (dc == 1)
				snprintf(err, sizeof(err),
				    "unknown control '%s'", key);
			if (dc != 0) {
				control_error(r, err);
				goto out;
			}
		}
	}
	expire = json_is_true(json_object_get(body, "expire_tokens"));
	reset = json_is_true(json_object_get(body, "reset_stats"));
	clear = json_is_true(json_object_get(body, "clear_failures"));
	fail = json_object_get(body, "fail_next");
	if (fail != NULL) {
		/* one rule, or an array of rules */
		for (i = 0;
		     i < (json_is_array(fail) ? json_array_size(fail) : 1);
		     i++) {
			rule = rule_parse(json_is_array(fail)
			        ? json_array_get(fail, i)
			        : fail,
			    err, sizeof(err));
			if (rule == NULL) {
				control_error(r, err);
				goto out;
			}
			TAILQ_INSERT_TAIL(&rules, rule, entry);
		}
	}

	if (hang >= 0)
		sim->hang_enrolls = hang;
	if (wrong >= 0)
		sim->wrong_certs = wrong;
	if (polls >= 0)
		sim->pending_polls = polls;
	if (secs >= 0)
		sim->pending_seconds = secs;
	if (life >= 0)
		sim->token_lifetime = life;
	if (expire)
		sim_tokens_clear(sim);
	if (reset) {
		memset(sim->count, 0, sizeof(sim->count));
		sim->enrollments = 0;
		sim->duplicate_csr = 0;
		memset(sim->faults, 0, sizeof(sim->faults));
		sim->lost_502 = 0;
	}
	if (rate >= 0.0)
		sim->fail_rate = rate;
	if (latency >= 0)
		sim->latency_ms = latency;
	if (seed >= 0)
		sim->rng = (uint64_t)seed;
	if (clear)
		sim_fail_rules_clear(sim);
	if (approve >= 0)
		sim->auto_approve = approve;
	json_object_foreach(body, key, v)
		(void)sim_dcv_control(sim, key, v, 1, err, sizeof(err));
	v = json_object_get(body, "advance_days");
	if (v != NULL)
		/* certificates age with the domains: their dates move back */
		sim_store_shift_dates(
		    sim->store, -(time_t)json_integer_value(v) * 86400);
	if (console_apply(sim, &ops, err, sizeof(err)) != 0) {
		control_error(r, err);
		goto out;
	}
	while ((rule = TAILQ_FIRST(&rules)) != NULL) {
		TAILQ_REMOVE(&rules, rule, entry);
		TAILQ_INSERT_TAIL(&sim->fail_rules, rule, entry);
	}
reply:
	sim_reply_json(r, 200, control_state(sim));
	goto out;
bad_value:
	snprintf(err, sizeof(err), "bad value for '%s'", key);
	control_error(r, err);
out:
	while ((rule = TAILQ_FIRST(&rules)) != NULL) {
		TAILQ_REMOVE(&rules, rule, entry);
		rule_free(rule);
	}
	json_decref(body);
}

int
sim_fail_inject(struct sim_req *r)
{
	struct sim *sim = r->sim;
	struct sim_fail_rule *rule;

	TAILQ_FOREACH(rule, &sim->fail_rules, entry) {
		if (strncmp(r->path, rule->path_prefix,
		        strlen(rule->path_prefix)) != 0)
			continue;
		if (rule->method != NULL &&
		    strcasecmp(rule->method, sim_method_name(r->method)) != 0)
			continue;
		sim_reply_error(
		    r, rule->status, rule->code, "%s", rule->description);
		snprintf(
		    r->note, sizeof(r->note), "injected code=%ld", rule->code);
		if (--rule->count == 0) {
			TAILQ_REMOVE(&sim->fail_rules, rule, entry);
			rule_free(rule);
		}
		return 1;
	}
	return 0;
}
