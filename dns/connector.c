/* SPDX-License-Identifier: Apache-2.0 */
/* The DNS connector registry: types, configured instances, the zone map,
 * request budgets and the per-name locks (see dns/connector.h). */
#include "dns/connector.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "contrib/clock.h"
#include "contrib/log.h"
#include "contrib/metrics.h"

extern const struct dns_connector_ops dns_conn_exec;
extern const struct dns_connector_ops dns_conn_rfc2136;
extern const struct dns_connector_ops dns_conn_powerdns;
extern const struct dns_connector_ops dns_conn_httpreq;
extern const struct dns_connector_ops dns_conn_cloudflare;

static const struct dns_connector_ops *const types[] = {
    &dns_conn_exec,
    &dns_conn_rfc2136,
    &dns_conn_powerdns,
    &dns_conn_httpreq,
    &dns_conn_cloudflare,
    NULL,
};

const struct dns_connector_ops *const *
dns_connector_types(void)
{
	return types;
}

struct dns_budget {
	pthread_mutex_t mu;
	double tokens;
	long long last_ms;
	long long blocked_until_ms; /* a 429's Retry-After */
};

struct dns_registry {
	struct dns_connector *conns;
	size_t n;
	struct dns_zone *zones;
	size_t nz;
};

/* Calls for one (zone, name, type) run one at a time. A hashed set of
 * mutexes: two names sharing a slot only wait for each other. Within one
 * process; two bridges on one zone need a server that adds and removes
 * single values (every built-in connector does, except PowerDNS 4.7's
 * REPLACE, see dns/conn_powerdns.c). */
#define NAME_LOCKS 64
static pthread_mutex_t name_locks[NAME_LOCKS] = {
    [0 ... NAME_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER};

const char *
dns_rr_str(enum dns_rr t)
{
	return t == DNS_RR_CNAME ? "CNAME" : "TXT";
}

int
dns_rr_of(const char *s)
{
	if (s != NULL && strcasecmp(s, "TXT") == 0)
		return DNS_RR_TXT;
	if (s != NULL && strcasecmp(s, "CNAME") == 0)
		return DNS_RR_CNAME;
	return -1;
}

void
dns_values_free(char **vals, size_t n)
{
	for (size_t i = 0; vals != NULL && i < n; i++)
		free(vals[i]);
	free(vals);
}

void
dns_fail(struct dns_outcome *o, enum dns_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
	va_end(ap);
	o->rc = rc;
}

int
dns_name_ok(const char *s)
{
	size_t len = 0, label = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++, len++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!(islower(ch) || isdigit(ch) || ch == '-' || ch == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && len <= 253;
}

int
dns_txt_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
			return 0;
	return n > 0 && n <= 255;
}

char *
dns_txt_quote(const char *v, char *out, size_t outlen)
{
	size_t j = 0;

	if (outlen < 3) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	out[j++] = '"';
	for (; *v != '\0' && j + 3 < outlen; v++) {
		if (*v == '"' || *v == '\\')
			out[j++] = '\\';
		out[j++] = *v;
	}
	out[j++] = '"';
	out[j] = '\0';
	return out;
}

int
dns_txt_unquote(const char *in, char *out, size_t outlen)
{
	size_t j = 0;
	int quoted = 0, any = 0;

	for (const char *p = in; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"') {
			quoted = !quoted;
			any = 1;
			continue;
		}
		if (!quoted && (ch == ' ' || ch == '\t'))
			continue; /* between strings */
		if (ch == '\\') {
			if (isdigit((unsigned char)p[1]) &&
			    isdigit((unsigned char)p[2]) &&
			    isdigit((unsigned char)p[3])) {
				int v = (p[1] - '0') * 100 + (p[2] - '0') * 10 +
				    (p[3] - '0');
				if (v > 255)
					return -1;
				ch = (unsigned char)v;
				p += 3;
			} else if (p[1] != '\0') {
				ch = (unsigned char)*++p;
			} else {
				return -1;
			}
		}
		if (j + 1 >= outlen)
			return -1;
		out[j++] = (char)ch;
		any = 1;
	}
	if (quoted || !any)
		return -1;
	out[j] = '\0';
	return 0;
}

/* Lower-case copy without the final dot. */
static char *
canon(const char *s)
{
	size_t n = strlen(s);
	char *c;

	while (n > 0 && s[n - 1] == '.')
		n--;
	c = malloc(n + 1);
	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		c[i] = (char)tolower((unsigned char)s[i]);
	c[n] = '\0';
	return c;
}

/* Whether name is zone or under it, on a label boundary. */
static int
under(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (n < z || strcmp(name + n - z, zone) != 0)
		return 0;
	return n == z || name[n - z - 1] == '.';
}

/* ---- configuration ---- */

enum kind { K_STR, K_INT, K_BOOL, K_ARR };
struct ckey {
	const char *name;
	enum kind kind;
	long long min, max;
};
static const struct ckey common_keys[] = {
    {"name", K_STR, 0, 0},
    {"type", K_STR, 0, 0},
    {"zones", K_ARR, 0, 0},
    {"ttl", K_INT, 1, 86400},
    {"timeout_seconds", K_INT, 1, 600},
    {"propagation_timeout_seconds", K_INT, 1, 3600},
    {"poll_interval_seconds", K_INT, 1, 300},
    {"fixed_wait_seconds", K_INT, 0, 3600},
    {"recursive_only", K_BOOL, 0, 0},
    {"check_servers", K_ARR, 0, 0},
    {"ns_port", K_INT, 1, 65535},
    {"allow_domain_create", K_BOOL, 0, 0},
    {"requests_per_minute", K_INT, 0, 100000},
    {NULL, 0, 0, 0},
};

static int
kind_ok(const json_t *v, enum kind k)
{
	return k == K_STR ? json_is_string(v)
	    : k == K_INT  ? json_is_integer(v)
	    : k == K_BOOL ? json_is_boolean(v)
	                  : json_is_array(v);
}

static int
check_keys(const json_t *c, const char *prefix,
    const struct dns_connector_ops *ops, char *err, size_t errlen)
{
	static const char *const kn[] = {
	    "a string", "an integer", "true or false", "an array"};
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)c, k, v) {
		const struct ckey *ck = NULL;
		int own = 0;

		if (k[0] == '#')
			continue;
		for (const struct ckey *p = common_keys; p->name; p++)
			if (strcmp(p->name, k) == 0)
				ck = p;
		for (const char *const *p = ops ? ops->keys : NULL;
		     p != NULL && *p != NULL; p++)
			if (strcmp(*p, k) == 0)
				own = 1;
		if (ck == NULL && !own) {
			snprintf(err, errlen,
			    "config: %s%s: unknown setting%s%s", prefix, k,
			    ops ? " for type " : "", ops ? ops->type : "");
			return -1;
		}
		if (ck == NULL)
			continue; /* the type checks its own keys */
		if (!kind_ok(v, ck->kind)) {
			snprintf(err, errlen, "config: %s%s: must be %s",
			    prefix, k, kn[ck->kind]);
			return -1;
		}
		if (ck->kind == K_INT &&
		    (json_integer_value(v) < ck->min ||
		        json_integer_value(v) > ck->max)) {
			snprintf(err, errlen,
			    "config: %s%s: must be between %lld and %lld",
			    prefix, k, ck->min, ck->max);
			return -1;
		}
	}
	return 0;
}

static int
ival(const json_t *c, const char *k, int def)
{
	json_t *v = json_object_get(c, k);
	return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static int
bval(const json_t *c, const char *k, int def)
{
	json_t *v = json_object_get(c, k);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

/* One "zones" entry: "example.com" or {"zone": "example.com",
 * "follow_cname": false, "dcv_method": "txt", "keep_cname": false}. */
static int
load_zone(const json_t *e, const char *prefix, size_t i,
    struct dns_connector *c, struct dns_zone *z, char *err, size_t errlen)
{
	const char *name = NULL, *k;
	json_t *v;

	memset(z, 0, sizeof(*z));
	z->conn = c;
	z->dcv = DNS_DCV_TXT;
	if (json_is_string(e)) {
		name = json_string_value(e);
	} else if (json_is_object(e)) {
		json_object_foreach((json_t *)e, k, v) {
			if (k[0] == '#')
				continue;
			if (strcmp(k, "zone") == 0 && json_is_string(v)) {
				name = json_string_value(v);
			} else if (strcmp(k, "follow_cname") == 0 &&
			    json_is_boolean(v)) {
				z->follow_cname = json_is_true(v);
			} else if (strcmp(k, "keep_cname") == 0 &&
			    json_is_boolean(v)) {
				z->keep_cname = json_is_true(v);
			} else if (strcmp(k, "dcv_method") == 0 &&
			    json_is_string(v) &&
			    (strcmp(json_string_value(v), "txt") == 0 ||
			        strcmp(json_string_value(v), "cname") == 0)) {
				z->dcv = json_string_value(v)[0] == 'c'
				    ? DNS_DCV_CNAME
				    : DNS_DCV_TXT;
			} else {
				snprintf(err, errlen,
				    "config: %szones[%zu].%s: unknown setting "
				    "or wrong value (zone: string, "
				    "follow_cname/keep_cname: true or false, "
				    "dcv_method: \"txt\" or \"cname\")",
				    prefix, i, k);
				return -1;
			}
		}
	}
	if (name == NULL) {
		snprintf(err, errlen,
		    "config: %szones[%zu]: must be a zone name or an object "
		    "with \"zone\"",
		    prefix, i);
		return -1;
	}
	z->name = canon(name);
	if (z->name == NULL || !dns_name_ok(z->name)) {
		snprintf(err, errlen,
		    "config: %szones[%zu]: \"%s\" is not a DNS name", prefix, i,
		    name);
		return -1;
	}
	return 0;
}

static int
load_one(const json_t *cj, size_t idx, int need_secrets,
    struct dns_connector *c, char *err, size_t errlen)
{
	char prefix[64];
	const char *name, *type;
	json_t *arr;

	snprintf(prefix, sizeof(prefix), "dns_connectors[%zu].", idx);
	if (!json_is_object(cj)) {
		snprintf(err, errlen,
		    "config: dns_connectors[%zu]: must be an "
		    "object",
		    idx);
		return -1;
	}
	name = json_string_value(json_object_get(cj, "name"));
	type = json_string_value(json_object_get(cj, "type"));
	if (name == NULL || *name == '\0') {
		snprintf(err, errlen, "config: %sname: required", prefix);
		return -1;
	}
	if (type == NULL) {
		snprintf(err, errlen, "config: %stype: required", prefix);
		return -1;
	}
	for (const struct dns_connector_ops *const *t = types; *t; t++)
		if (strcmp((*t)->type, type) == 0)
			c->ops = *t;
	if (c->ops == NULL) {
		char known[256] = "";
		for (const struct dns_connector_ops *const *t = types; *t;
		     t++) {
			strncat(known, (*t)->type,
			    sizeof(known) - strlen(known) - 1);
			if (t[1] != NULL)
				strncat(known, ", ",
				    sizeof(known) - strlen(known) - 1);
		}
		snprintf(err, errlen,
		    "config: %stype: unknown connector type \"%s\" (known: %s)",
		    prefix, type, known);
		return -1;
	}
	if (check_keys(cj, prefix, c->ops, err, errlen) != 0)
		return -1;
	c->name = strdup(name);
	c->ttl = ival(cj, "ttl", 60);
	c->timeout_s = ival(cj, "timeout_seconds", 30);
	c->propagation_timeout = ival(cj, "propagation_timeout_seconds", 120);
	c->poll_interval = ival(cj, "poll_interval_seconds", 2);
	c->fixed_wait = ival(cj, "fixed_wait_seconds", 0);
	c->recursive_only = bval(cj, "recursive_only", 0);
	c->ns_port = ival(cj, "ns_port", 53);
	c->allow_domain_create = bval(cj, "allow_domain_create", 0);
	c->requests_per_minute = ival(cj, "requests_per_minute", 120);
	arr = json_object_get(cj, "check_servers");
	if (arr != NULL && json_array_size(arr) > 0) {
		c->check_servers = calloc(json_array_size(arr), sizeof(char *));
		for (size_t i = 0; i < json_array_size(arr); i++) {
			const char *s =
			    json_string_value(json_array_get(arr, i));
			if (s == NULL || *s == '\0') {
				snprintf(err, errlen,
				    "config: %scheck_servers[%zu]: must be "
				    "an address \"ip\" or \"ip:port\"",
				    prefix, i);
				return -1;
			}
			c->check_servers[c->n_check_servers++] = strdup(s);
		}
	}
	c->budget = calloc(1, sizeof(*c->budget));
	if (c->name == NULL || c->budget == NULL) {
		snprintf(err, errlen, "config: out of memory");
		return -1;
	}
	pthread_mutex_init(&c->budget->mu, NULL);
	c->budget->tokens = c->requests_per_minute;
	c->impl =
	    c->ops->create(cj, prefix, need_secrets, c->timeout_s, err, errlen);
	return c->impl != NULL ? 0 : -1;
}

int
dns_registry_load(const json_t *arr, int need_secrets,
    struct dns_registry **out, char *err, size_t errlen)
{
	struct dns_registry *reg = calloc(1, sizeof(*reg));
	size_t n = json_array_size(arr), nz = 0;

	*out = NULL;
	if (reg == NULL)
		return -1;
	if (arr != NULL && !json_is_array(arr)) {
		snprintf(err, errlen,
		    "config: dns_connectors: must be an "
		    "array");
		free(reg);
		return -1;
	}
	reg->conns = calloc(n ? n : 1, sizeof(*reg->conns));
	for (size_t i = 0; i < n; i++)
		nz += json_array_size(
		    json_object_get(json_array_get(arr, i), "zones"));
	reg->zones = calloc(nz ? nz : 1, sizeof(*reg->zones));
	if (reg->conns == NULL || reg->zones == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct dns_connector *c = &reg->conns[i];
		json_t *cj = json_array_get(arr, i), *zs;

		reg->n++;
		if (load_one(cj, i, need_secrets, c, err, errlen) != 0)
			goto fail;
		for (size_t j = 0; j < i; j++)
			if (strcmp(reg->conns[j].name, c->name) == 0) {
				snprintf(err, errlen,
				    "config: dns_connectors[%zu].name: \"%s\" "
				    "is already the name of "
				    "dns_connectors[%zu]",
				    i, c->name, j);
				goto fail;
			}
		zs = json_object_get(cj, "zones");
		if (json_array_size(zs) == 0) {
			snprintf(err, errlen,
			    "config: dns_connectors[%zu].zones: required: "
			    "the zones this connector changes",
			    i);
			goto fail;
		}
		for (size_t j = 0; j < json_array_size(zs); j++) {
			char prefix[64];
			struct dns_zone *z = &reg->zones[reg->nz];

			snprintf(
			    prefix, sizeof(prefix), "dns_connectors[%zu].", i);
			reg->nz++;
			if (load_zone(json_array_get(zs, j), prefix, j, c, z,
			        err, errlen) != 0)
				goto fail;
			for (size_t k = 0; k + 1 < reg->nz; k++)
				if (strcmp(reg->zones[k].name, z->name) == 0) {
					snprintf(err, errlen,
					    "config: %szones[%zu]: zone %s is "
					    "already served by connector "
					    "\"%s\"",
					    prefix, j, z->name,
					    reg->zones[k].conn->name);
					goto fail;
				}
		}
	}
	*out = reg;
	return 0;
fail:
	dns_registry_free(reg);
	return -1;
}

void
dns_registry_free(struct dns_registry *reg)
{
	if (reg == NULL)
		return;
	for (size_t i = 0; i < reg->n; i++) {
		struct dns_connector *c = &reg->conns[i];
		if (c->impl != NULL)
			c->ops->destroy(c->impl);
		for (size_t j = 0; j < c->n_check_servers; j++)
			free(c->check_servers[j]);
		free(c->check_servers);
		if (c->budget != NULL)
			pthread_mutex_destroy(&c->budget->mu);
		free(c->budget);
		free(c->name);
	}
	for (size_t i = 0; i < reg->nz; i++)
		free(reg->zones[i].name);
	free(reg->zones);
	free(reg->conns);
	free(reg);
}

size_t
dns_registry_count(const struct dns_registry *reg)
{
	return reg ? reg->n : 0;
}

struct dns_connector *
dns_registry_at(const struct dns_registry *reg, size_t i)
{
	return reg && i < reg->n ? &reg->conns[i] : NULL;
}

struct dns_connector *
dns_registry_find(const struct dns_registry *reg, const char *name)
{
	for (size_t i = 0; reg != NULL && i < reg->n; i++)
		if (strcmp(reg->conns[i].name, name) == 0)
			return &reg->conns[i];
	return NULL;
}

const struct dns_zone *
dns_zone_for(const struct dns_registry *reg, const char *fqdn)
{
	const struct dns_zone *best = NULL;
	char *name;

	if (reg == NULL || fqdn == NULL || (name = canon(fqdn)) == NULL)
		return NULL;
	for (size_t i = 0; i < reg->nz; i++)
		if (under(name, reg->zones[i].name) &&
		    (best == NULL ||
		        strlen(reg->zones[i].name) > strlen(best->name)))
			best = &reg->zones[i];
	free(name);
	return best;
}

const struct dns_zone *
dns_zone_at(
    const struct dns_registry *reg, const struct dns_connector *c, size_t i)
{
	for (size_t k = 0; reg != NULL && k < reg->nz; k++)
		if (reg->zones[k].conn == c && i-- == 0)
			return &reg->zones[k];
	return NULL;
}

const struct dns_zone *
dns_zone_named(const struct dns_registry *reg, const char *zone)
{
	const struct dns_zone *z = dns_zone_for(reg, zone);
	char *name = canon(zone);
	int same = z != NULL && name != NULL && strcmp(z->name, name) == 0;

	free(name);
	return same ? z : NULL;
}

/* ---- calls ---- */

/* Take one request from the connector's budget (a token bucket refilled
 * at requests_per_minute), or say how long to wait. */
static int
budget_take(struct dns_connector *c, struct dns_outcome *o)
{
	struct dns_budget *b = c->budget;
	long long now = clock_mono_ms();
	int ok = 1;

	pthread_mutex_lock(&b->mu);
	if (now < b->blocked_until_ms) {
		int s = (int)((b->blocked_until_ms - now + 999) / 1000);
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: the provider asked for a pause "
		    "(HTTP 429); %d s left",
		    c->name, s);
		o->retry_after = s;
		ok = 0;
	} else if (c->requests_per_minute > 0) {
		b->tokens += (double)(now - b->last_ms) *
		    c->requests_per_minute / 60000.0;
		if (b->tokens > c->requests_per_minute)
			b->tokens = c->requests_per_minute;
		b->last_ms = now;
		if (b->tokens < 1.0) {
			int s = (int)((1.0 - b->tokens) * 60.0 /
			        c->requests_per_minute +
			    1);
			dns_fail(o, DNS_TEMP,
			    "dns connector %s: request budget spent "
			    "(requests_per_minute %d); next in %d s",
			    c->name, c->requests_per_minute, s);
			o->retry_after = s;
			ok = 0;
		} else {
			b->tokens -= 1.0;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return ok;
}

static void
budget_note(struct dns_connector *c, const struct dns_outcome *o)
{
	if (o->rc != DNS_TEMP || o->retry_after <= 0)
		return;
	pthread_mutex_lock(&c->budget->mu);
	c->budget->blocked_until_ms =
	    clock_mono_ms() + (long long)o->retry_after * 1000;
	pthread_mutex_unlock(&c->budget->mu);
}

static pthread_mutex_t *
name_lock(const struct dns_record *r)
{
	unsigned h = 5381u + (unsigned)r->type;

	for (const char *p = r->name; *p; p++)
		h = h * 33u + (unsigned char)*p;
	return &name_locks[h % NAME_LOCKS];
}

static int
record_ok(struct dns_connector *c, const struct dns_record *r, int want_value,
    struct dns_outcome *o)
{
	memset(o, 0, sizeof(*o));
	if (!dns_name_ok(r->zone) || !dns_name_ok(r->name) ||
	    !under(r->name, r->zone)) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s is not a host name under zone %s",
		    c->name, r->name, r->zone);
		return 0;
	}
	if (r->type != DNS_RR_TXT && r->type != DNS_RR_CNAME) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: only TXT and CNAME "
		    "records are managed",
		    c->name);
		return 0;
	}
	if (want_value &&
	    (r->type == DNS_RR_TXT ? !dns_txt_ok(r->value)
	                           : !dns_name_ok(r->value))) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s value for %s is not publishable "
		    "(TXT: 1..255 printable ASCII bytes; CNAME: a host name)",
		    c->name, dns_rr_str(r->type), r->name);
		return 0;
	}
	return 1;
}

/* Count one call that reached the connector (contrib/metrics.h). */
static void
mx_note(struct dns_connector *c, enum mx_dns_op op, const struct dns_outcome *o)
{
	enum mx_dns_rc rc = o->rc == DNS_OK ? MX_DNS_OK
	    : o->rc == DNS_PERM             ? MX_DNS_PERM
	                                    : MX_DNS_TEMP;

	mx_dns_call(mx_dns_id(c->name), op, rc, o->msg);
}

static void
call(struct dns_connector *c, const struct dns_record *r, const char *handle,
    int present, struct dns_outcome *o)
{
	pthread_mutex_t *mu;

	if (!record_ok(c, r, 1, o) || !budget_take(c, o))
		return;
	/* a connector must say it succeeded */
	dns_fail(o, DNS_TEMP, "dns connector %s: no outcome", c->name);
	mu = name_lock(r);
	pthread_mutex_lock(mu);
	if (present)
		c->ops->present(c->impl, r, o);
	else
		c->ops->cleanup(c->impl, r, handle ? handle : "", o);
	pthread_mutex_unlock(mu);
	budget_note(c, o);
	mx_note(c, present ? MX_DNS_PRESENT : MX_DNS_CLEANUP, o);
	/* TXT values are logged: they are public once published */
	log_event(o->rc == DNS_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
	    present ? "dns.present" : "dns.cleanup",
	    (struct log_kv[]){LOG_S("dns_connector", c->name),
	        LOG_S("record", r->name),
	        LOG_S("outcome", o->rc == DNS_OK ? "ok" : "error"), LOG_END},
	    "dns %s %s %s \"%s\" via %s: %s", present ? "present" : "cleanup",
	    r->name, dns_rr_str(r->type), r->value, c->name,
	    o->rc == DNS_OK ? "ok" : o->msg);
}

void
dns_connector_present(
    struct dns_connector *c, const struct dns_record *r, struct dns_outcome *o)
{
	call(c, r, NULL, 1, o);
}

void
dns_connector_cleanup(struct dns_connector *c, const struct dns_record *r,
    const char *handle, struct dns_outcome *o)
{
	call(c, r, handle, 0, o);
}

int
dns_connector_list(struct dns_connector *c, const struct dns_record *r,
    char ***vals, struct dns_outcome *o)
{
	pthread_mutex_t *mu;
	int n;

	*vals = NULL;
	if (!record_ok(c, r, 0, o))
		return -1;
	if (c->ops->list == NULL) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: type %s cannot list records", c->name,
		    c->ops->type);
		return -1;
	}
	if (!budget_take(c, o))
		return -1;
	mu = name_lock(r);
	pthread_mutex_lock(mu);
	n = c->ops->list(c->impl, r, vals, o);
	pthread_mutex_unlock(mu);
	budget_note(c, o);
	mx_note(c, MX_DNS_LIST, o);
	return n;
}

void
dns_connector_check(
    struct dns_connector *c, const char *zone, struct dns_outcome *o)
{
	memset(o, 0, sizeof(*o));
	if (!budget_take(c, o))
		return;
	dns_fail(o, DNS_TEMP, "dns connector %s: no outcome", c->name);
	c->ops->check(c->impl, zone, o);
	budget_note(c, o);
	mx_note(c, MX_DNS_CHECK, o);
}
