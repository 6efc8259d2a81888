/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS connectors: publish one record, remove exactly that record, list what
 * is there, check the configuration. Used for Sectigo's domain control
 * validation (TXT "_pki-validation.<domain>" or CNAME "_<hash>.<domain>")
 * and for `acmebridge dns test`.
 *
 * A connector type is one file (dns/conn_<type>.c) exporting a
 * `struct dns_connector_ops`; dns/connector.c keeps the registry of types,
 * the configured instances ("dns_connectors" in the configuration) and the
 * zone map (longest suffix wins; it overrides any SOA discovery, so split
 * horizon setups publish where the operator says).
 *
 * Calls block (network, a child process): they run on a worker thread of
 * dns/dnsq.h, never on an event loop. Every operation is bounded by the
 * connector's timeout.
 *
 * Contract of every implementation:
 * - present() adds the value to the (name, type) RRset; cleanup() removes
 *   that value only. Neither replaces or deletes a whole RRset that holds
 *   other values: two orders (or a wildcard and its base) may publish two
 *   TXT values under one name at once.
 * - present() of a value already there and cleanup() of a value already
 *   gone succeed: calls are retried after crashes.
 * - The caller serializes calls for one (zone, name, type)
 *   (dns_connector_present/cleanup hold a lock), so an implementation that
 *   can only replace an RRset may read, merge and write.
 * - Outcomes: DNS_OK, DNS_TEMP (try again later: network, timeout, 5xx,
 *   429 with retry_after) or DNS_PERM (the configuration or the server's
 *   policy refuses: a retry will not help). msg is one line an operator
 *   can act on; it never holds a secret.
 */
#pragma once
#include <stddef.h>

#include <jansson.h>

enum dns_rr { DNS_RR_CNAME = 5, DNS_RR_TXT = 16 };

/** "TXT" or "CNAME". */
const char *dns_rr_str(enum dns_rr t);
/** DNS_RR_TXT/CNAME from "TXT"/"CNAME" (any case); -1 otherwise. */
int dns_rr_of(const char *s);

enum dns_rc { DNS_OK = 0, DNS_TEMP = 1, DNS_PERM = 2 };

/** What one call did. */
struct dns_outcome {
	enum dns_rc rc;
	int retry_after;  /* s, when the server asked for a pause (429) */
	char handle[160]; /* present(): the provider's record id, if any */
	char msg[512];    /* one line when rc != DNS_OK */
};

/** One record. Names are lower-case, absolute, without the final dot. */
struct dns_record {
	const char *zone;  /* the zone apex the record lives in */
	const char *name;  /* owner name, at or under zone */
	enum dns_rr type;  /* TXT or CNAME */
	const char *value; /* TXT: the string as published (printable
	                      ASCII, at most 255 bytes); CNAME: target name */
	int ttl;           /* seconds */
};

/** One connector type. */
struct dns_connector_ops {
	const char *type; /* "rfc2136", "powerdns", ... */
	/* the type's own configuration keys (NULL-terminated); the common
	 * keys (name, type, zones, ttl, timeouts, ...) are checked by the
	 * registry */
	const char *const *keys;
	/**
	 * Build an instance from its configuration object.
	 * @param prefix names the object in messages, "dns_connectors[0]."
	 * @param need_secrets 0: do not read secret files (listing commands)
	 * @param timeout_s bound of one call
	 * @return the instance, or NULL with one line in err naming the key
	 */
	void *(*create)(const json_t *conf, const char *prefix,
	    int need_secrets, int timeout_s, char *err, size_t errlen);
	void (*destroy)(void *impl);
	void (*present)(
	    void *impl, const struct dns_record *r, struct dns_outcome *o);
	/* handle: what present() returned in o->handle ("" if nothing) */
	void (*cleanup)(void *impl, const struct dns_record *r,
	    const char *handle, struct dns_outcome *o);
	/**
	 * The values of (r->name, r->type) in the connector's source of
	 * truth (r->value ignored). NULL when the type cannot list.
	 * @return number of values (*vals malloc'd array of malloc'd
	 *         strings, free with dns_values_free), or -1 with o filled
	 */
	int (*list)(void *impl, const struct dns_record *r, char ***vals,
	    struct dns_outcome *o);
	/* can the connector reach and change zone? (credentials, zone
	 * exists, permission) */
	void (*check)(void *impl, const char *zone, struct dns_outcome *o);
};

void dns_values_free(char **vals, size_t n);

/** How the DCV of a zone's domains is done. */
enum dns_dcv_method { DNS_DCV_TXT, DNS_DCV_CNAME };

/** A zone served by a connector, with its own settings. */
struct dns_zone {
	char *name; /* apex, lower-case, no final dot */
	struct dns_connector *conn;
	int follow_cname;        /* follow a CNAME at the record's name */
	enum dns_dcv_method dcv; /* Sectigo DCV by TXT or CNAME */
	int keep_cname;          /* leave the DCV CNAME in place */
};

/** A configured connector instance (read-only after loading). */
struct dns_connector {
	char *name;
	const struct dns_connector_ops *ops;
	void *impl;
	int ttl;                 /* record TTL, s (default 60) */
	int timeout_s;           /* one call (default 30) */
	int propagation_timeout; /* s until every server answers (120) */
	int poll_interval;       /* s between checks, backing off (2) */
	int fixed_wait;          /* s: wait this long instead of checking */
	int recursive_only;      /* ask the validation resolver only */
	char **check_servers;    /* explicit "ip[:port]" list, or NULL */
	size_t n_check_servers;
	int ns_port;             /* port of discovered name servers (53) */
	int allow_domain_create; /* DCV may create missing SCM domains */
	int requests_per_minute; /* request budget (0: none) */
	struct dns_budget *budget;
};

struct dns_registry;

/**
 * Load the "dns_connectors" array (NULL or empty: no connector).
 * Every key is checked: unknown keys, wrong types and a zone claimed by
 * two connectors are errors naming the setting.
 * @return 0, or -1 with one line in err
 */
int dns_registry_load(const json_t *arr, int need_secrets,
    struct dns_registry **out, char *err, size_t errlen);
void dns_registry_free(struct dns_registry *reg);
size_t dns_registry_count(const struct dns_registry *reg);
/** Connector i (0 <= i < count). */
struct dns_connector *dns_registry_at(const struct dns_registry *reg, size_t i);
struct dns_connector *dns_registry_find(
    const struct dns_registry *reg, const char *name);
/**
 * The zone that serves fqdn (longest configured suffix on a label
 * boundary; a trailing dot and upper case are ignored), or NULL.
 */
const struct dns_zone *dns_zone_for(
    const struct dns_registry *reg, const char *fqdn);
/** The i-th zone of connector c (0-based), or NULL past the last. */
const struct dns_zone *dns_zone_at(
    const struct dns_registry *reg, const struct dns_connector *c, size_t i);
/** The configured zone named exactly zone, or NULL. */
const struct dns_zone *dns_zone_named(
    const struct dns_registry *reg, const char *zone);
/** Every registered connector type, NULL-terminated (for --help). */
const struct dns_connector_ops *const *dns_connector_types(void);

/**
 * Check r (names under the zone, LDH/underscore labels, printable value),
 * take the request budget and the (zone, name, type) lock, and call the
 * connector. Blocks: call from a dnsq worker or a CLI.
 */
void dns_connector_present(
    struct dns_connector *c, const struct dns_record *r, struct dns_outcome *o);
void dns_connector_cleanup(struct dns_connector *c, const struct dns_record *r,
    const char *handle, struct dns_outcome *o);
/** @return number of values, or -1 with o filled */
int dns_connector_list(struct dns_connector *c, const struct dns_record *r,
    char ***vals, struct dns_outcome *o);
void dns_connector_check(
    struct dns_connector *c, const char *zone, struct dns_outcome *o);

/** Format o->msg (printf) and set o->rc; returns nothing. */
void dns_fail(struct dns_outcome *o, enum dns_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Whether s is a host name we publish under: labels of [a-z0-9_-]. */
int dns_name_ok(const char *s);
/** Whether a TXT value may be published: 1..255 printable ASCII bytes. */
int dns_txt_ok(const char *s);
/**
 * The TXT value in zone-file presentation: wrapped in double quotes,
 * with '"' and '\\' escaped by a backslash. Returns out (size >= 2 *
 * strlen(v) + 3).
 */
char *dns_txt_quote(const char *v, char *out, size_t outlen);
/**
 * The TXT data of a zone-file presentation: one or more quoted strings
 * (concatenated) with \\X and \\DDD escapes, or one unquoted word.
 * @return 0, or -1 when malformed or longer than outlen - 1
 */
int dns_txt_unquote(const char *in, char *out, size_t outlen);
