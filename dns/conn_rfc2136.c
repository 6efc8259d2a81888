/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "rfc2136" DNS connector: dynamic updates (RFC 2136) signed with TSIG
 * (RFC 8945), through ldns.
 *
 * present adds exactly one RR (class IN); cleanup deletes exactly that RR
 * (class NONE, RFC 2136 §2.5.4): other values under the name are never
 * touched. The TXT data is built as wire data (length byte + bytes), not
 * parsed from text, so no value can be misread whatever punctuation it
 * holds.
 *
 * Transport: TCP first (an update must not be lost or replayed, and TCP
 * gets the whole answer), UDP when the TCP connection cannot be made.
 * The server is the configured "server" (the zone's primary); finding it
 * from the SOA MNAME is left out on purpose: in companies the MNAME is
 * often a hidden or internal name the bridge should not guess.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "contrib/secfile.h"
#include "dns/connector.h"

struct rconn {
	char *name;
	char *server; /* "ip:port" for messages */
	ldns_rdf *addr;
	uint16_t port;
	char *key_name; /* with the final dot */
	char *key_alg;  /* ldns's name, with the final dot */
	char *secret;   /* base64 */
	int timeout_s;
};

static const char *const rfc2136_keys[] = {"server", "tsig_name",
    "tsig_algorithm", "tsig_secret_file", "tsig_secret_env", NULL};

static const struct {
	const char *conf, *ldns;
} algs[] = {
    {"hmac-sha256", "hmac-sha256."},
    {"hmac-sha1", "hmac-sha1."},
    {"hmac-sha224", "hmac-sha224."},
    {"hmac-sha384", "hmac-sha384."},
    {"hmac-sha512", "hmac-sha512."},
    {"hmac-md5", "hmac-md5.sig-alg.reg.int."},
};

static void
r_destroy(void *impl)
{
	struct rconn *c = impl;

	if (c->secret != NULL) {
		OPENSSL_cleanse(c->secret, strlen(c->secret));
		free(c->secret);
	}
	ldns_rdf_deep_free(c->addr);
	free(c->name);
	free(c->server);
	free(c->key_name);
	free(c->key_alg);
	free(c);
}

/* "ip", "ip:port", "[v6]:port" */
static int
parse_server(struct rconn *c, const char *s)
{
	char host[64];
	const char *colon;
	long port = 53;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || (size_t)(end - s - 1) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(end - s - 1), s + 1);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL; /* bare IPv6 */
		snprintf(host, sizeof(host), "%.*s",
		    (int)(colon ? (size_t)(colon - s) : strlen(s)), s);
	}
	if (colon != NULL) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535)
			return -1;
	}
	c->addr = ldns_rdf_new_frm_str(
	    strchr(host, ':') ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, host);
	c->port = (uint16_t)port;
	if (c->addr == NULL)
		return -1;
	return asprintf(&c->server, "%s:%ld", host, port) < 0 ? -1 : 0;
}

static void *
r_create(const json_t *conf, const char *prefix, int need_secrets,
    int timeout_s, char *err, size_t errlen)
{
	const char *server = json_string_value(json_object_get(conf, "server"));
	const char *kn = json_string_value(json_object_get(conf, "tsig_name"));
	json_t *aj = json_object_get(conf, "tsig_algorithm");
	const char *alg = aj ? json_string_value(aj) : "hmac-sha256";
	struct rconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->timeout_s = timeout_s;
	c->name = strdup(json_string_value(json_object_get(conf, "name")));
	if (server == NULL || parse_server(c, server) != 0) {
		snprintf(err, errlen,
		    "config: %sserver: required: the primary server's "
		    "address, \"ip\" or \"ip:port\"",
		    prefix);
		goto fail;
	}
	if (kn == NULL || kn[0] == '\0' || strlen(kn) > 250) {
		snprintf(err, errlen,
		    "config: %stsig_name: required: the TSIG key's name",
		    prefix);
		goto fail;
	}
	if (asprintf(&c->key_name, "%s%s", kn,
	        kn[strlen(kn) - 1] == '.' ? "" : ".") < 0)
		goto fail;
	for (size_t i = 0; alg != NULL && i < sizeof(algs) / sizeof(algs[0]);
	     i++)
		if (strcasecmp(alg, algs[i].conf) == 0)
			c->key_alg = strdup(algs[i].ldns);
	if (c->key_alg == NULL) {
		snprintf(err, errlen,
		    "config: %stsig_algorithm: one of hmac-sha256 (default), "
		    "hmac-sha1, hmac-sha224, hmac-sha384, hmac-sha512, "
		    "hmac-md5",
		    prefix);
		goto fail;
	}
	if (need_secrets &&
	    secfile_read(
	        conf, "tsig_secret", prefix, &c->secret, err, errlen) != 0)
		goto fail;
	if (c->secret != NULL) {
		unsigned char buf[256];
		int n = EVP_DecodeBlock(buf, (const unsigned char *)c->secret,
		    (int)strlen(c->secret));
		OPENSSL_cleanse(buf, sizeof(buf));
		if (n <= 0 || strlen(c->secret) % 4 != 0) {
			snprintf(err, errlen,
			    "config: %stsig_secret_file/_env: the secret must "
			    "be base64 (as tsig-keygen writes it)",
			    prefix);
			goto fail;
		}
	}
	return c;
fail:
	r_destroy(c);
	return NULL;
}

static ldns_resolver *
resolver(struct rconn *c, int tcp, int tsig)
{
	ldns_resolver *res = ldns_resolver_new();
	struct timeval tv = {c->timeout_s, 0};

	if (res == NULL)
		return NULL;
	if (ldns_resolver_push_nameserver(res, c->addr) != LDNS_STATUS_OK) {
		ldns_resolver_deep_free(res);
		return NULL;
	}
	ldns_resolver_set_port(res, c->port);
	ldns_resolver_set_timeout(res, tv);
	ldns_resolver_set_retry(res, 1);
	ldns_resolver_set_retrans(res, 1);
	ldns_resolver_set_recursive(res, false);
	ldns_resolver_set_usevc(res, tcp);
	ldns_resolver_set_fail(res, true);
	if (tsig && c->secret != NULL) {
		ldns_resolver_set_tsig_keyname(res, c->key_name);
		ldns_resolver_set_tsig_algorithm(res, c->key_alg);
		ldns_resolver_set_tsig_keydata(res, c->secret);
	}
	return res;
}

/* Send pkt over TCP, over UDP when TCP cannot connect. */
static ldns_status
send_pkt(struct rconn *c, ldns_pkt *pkt, int tsig, ldns_pkt **answer)
{
	ldns_status st = LDNS_STATUS_ERR;

	*answer = NULL;
	for (int tcp = 1; tcp >= 0; tcp--) {
		ldns_resolver *res = resolver(c, tcp, tsig);

		if (res == NULL)
			return LDNS_STATUS_MEM_ERR;
		st = ldns_resolver_send_pkt(answer, res, pkt);
		ldns_resolver_deep_free(res);
		if (st != LDNS_STATUS_NETWORK_ERR &&
		    st != LDNS_STATUS_SOCKET_ERROR)
			break;
		ldns_pkt_free(*answer);
		*answer = NULL;
	}
	return st;
}

/* Send the (signed) pkt without checking the answer's signature: only
 * to read the RCODE of an answer that failed the check. ldns_send would
 * check it (and needs the key to), ldns_send_buffer with no MAC does not. */
static ldns_status
send_unverified(struct rconn *c, ldns_pkt *pkt, ldns_pkt **answer)
{
	ldns_buffer *qb = ldns_buffer_new(LDNS_MIN_BUFLEN);
	ldns_resolver *res = resolver(c, 1, 0);
	ldns_status st = LDNS_STATUS_MEM_ERR;

	*answer = NULL;
	if (qb != NULL && res != NULL &&
	    ldns_pkt2buffer_wire(qb, pkt) == LDNS_STATUS_OK)
		st = ldns_send_buffer(answer, res, qb, NULL);
	ldns_buffer_free(qb);
	ldns_resolver_deep_free(res);
	return st;
}

/* The RR for r: class IN with the TTL (add) or NONE with TTL 0 (delete
 * this exact RR). */
static ldns_rr *
make_rr(const struct dns_record *r, int del)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = ldns_dname_new_frm_str(r->name), *data = NULL;

	if (rr == NULL || owner == NULL)
		goto fail;
	ldns_rr_set_owner(rr, owner);
	owner = NULL;
	ldns_rr_set_class(rr, del ? LDNS_RR_CLASS_NONE : LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, del ? 0 : (uint32_t)r->ttl);
	if (r->type == DNS_RR_TXT) {
		uint8_t buf[256];
		size_t n = strlen(r->value);

		if (n > 255)
			goto fail;
		buf[0] = (uint8_t)n;
		memcpy(buf + 1, r->value, n);
		ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
		data = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, n + 1, buf);
	} else {
		ldns_rr_set_type(rr, LDNS_RR_TYPE_CNAME);
		data = ldns_dname_new_frm_str(r->value);
	}
	if (data == NULL || !ldns_rr_push_rdf(rr, data))
		goto fail;
	return rr;
fail:
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(data);
	ldns_rr_free(rr);
	return NULL;
}

/* An RCODE (and the TSIG error, when the answer carries one) in words an
 * operator can act on. */
static void
rcode_fail(struct rconn *c, const char *what, const char *name, ldns_pkt *ans,
    struct dns_outcome *o)
{
	int rc = ldns_pkt_get_rcode(ans);
	const ldns_rr *tsig = ldns_pkt_tsig(ans);
	/* the TSIG RR's error field (RFC 8945 §4.2), -1 when unsigned */
	int terr = tsig != NULL && ldns_rr_rd_count(tsig) > 5
	    ? (int)ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5))
	    : -1;

	switch (rc) {
	case LDNS_RCODE_REFUSED:
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s refused by %s (REFUSED): the server "
		    "does not let key %s change %s; check its update-policy "
		    "or ACL",
		    c->name, what, c->server, c->key_name, name);
		break;
	case LDNS_RCODE_NOTAUTH:
		if (terr == 0 && ldns_pkt_tsig(ans) != NULL) {
			/* signed with our key, no TSIG error: the key is
			 * fine, the server's policy says no (Knot answers an
			 * ACL denial this way) */
			dns_fail(o, DNS_PERM,
			    "dns connector %s: %s refused by %s (NOTAUTH, key "
			    "accepted): the server does not let key %s change "
			    "%s; check its update-policy or ACL",
			    c->name, what, c->server, c->key_name, name);
			break;
		}
		if (terr == 16 || terr == 17 || terr == 18) {
			dns_fail(o, DNS_PERM,
			    "dns connector %s: %s refused by %s: %s", c->name,
			    what, c->server,
			    terr == 17
			        ? "the server does not know the TSIG key, "
			          "or its ACL does not allow this key for "
			          "this name and type (BADKEY; Knot answers "
			          "an ACL denial so): check tsig_name and "
			          "the update ACL"
			        : terr == 16
			        ? "signature rejected (BADSIG): wrong secret "
			          "or "
			          "tsig_algorithm"
			        : "signature time rejected (BADTIME): the "
			          "clocks "
			          "of the bridge and the server differ");
			break;
		}
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s refused by %s (NOTAUTH): the "
		    "server does not know key %s, rejected its signature "
		    "(wrong secret or tsig_algorithm) or the clocks differ; "
		    "or it is not authoritative for the zone",
		    c->name, what, c->server, c->key_name);
		break;
	case LDNS_RCODE_NOTZONE:
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s: %s is not in the zone %s serves "
		    "(NOTZONE): check zones",
		    c->name, what, name, c->server);
		break;
	case LDNS_RCODE_SERVFAIL:
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: %s: %s answered "
		    "SERVFAIL",
		    c->name, what, c->server);
		break;
	default:
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s: %s answered "
		    "RCODE %d",
		    c->name, what, c->server, rc);
		break;
	}
}

static void
transport_fail(
    struct rconn *c, const char *what, ldns_status st, struct dns_outcome *o)
{
	if (st == LDNS_STATUS_CRYPTO_TSIG_BOGUS ||
	    st == LDNS_STATUS_CRYPTO_TSIG_ERR)
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s: the answer of %s does not carry a "
		    "valid signature by key %s: the server does not know the "
		    "key or rejected our signature (check tsig_name, "
		    "tsig_algorithm and the secret)",
		    c->name, what, c->server, c->key_name);
	else
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: %s: no answer from %s "
		    "(%s)",
		    c->name, what, c->server, ldns_get_errorstr_by_id(st));
}

/* One update of zone: the update section (may be empty) and prereq. */
static void
update(struct rconn *c, const char *what, const char *zone, const char *name,
    ldns_rr_list *up, ldns_rr_list *pre, struct dns_outcome *o)
{
	ldns_rdf *z = ldns_dname_new_frm_str(zone);
	ldns_pkt *pkt = NULL, *ans = NULL;
	ldns_status st;

	if (z == NULL) {
		dns_fail(o, DNS_PERM, "dns connector %s: bad zone %s", c->name,
		    zone);
		return;
	}
	pkt = ldns_update_pkt_new(z, LDNS_RR_CLASS_IN, pre, up, NULL);
	if (pkt == NULL) {
		dns_fail(
		    o, DNS_TEMP, "dns connector %s: out of memory", c->name);
		return;
	}
	ldns_pkt_set_random_id(pkt);
	/* ldns signs queries it builds itself, not packets handed to it: sign
	 * here; ldns_send then verifies the answer with the same key */
	st = ldns_pkt_tsig_sign(
	    pkt, c->key_name, c->secret, 300, c->key_alg, NULL);
	if (st != LDNS_STATUS_OK) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: cannot sign with key "
		    "%s: %s",
		    c->name, c->key_name, ldns_get_errorstr_by_id(st));
		ldns_pkt_free(pkt);
		return;
	}
	st = send_pkt(c, pkt, 1, &ans);
	if ((st == LDNS_STATUS_CRYPTO_TSIG_BOGUS ||
	        st == LDNS_STATUS_CRYPTO_TSIG_ERR) &&
	    ans == NULL) {
		/* an error answer is often unsigned (BADKEY, BADSIG) or
		 * signed in a way ldns refuses: ask again without checking
		 * the answer, to read its RCODE. Harmless: adding or deleting
		 * one exact RR twice has the effect of doing it once. */
		st = send_unverified(c, pkt, &ans);
		if (st == LDNS_STATUS_OK && ans != NULL &&
		    ldns_pkt_get_rcode(ans) == LDNS_RCODE_NOERROR)
			st = LDNS_STATUS_CRYPTO_TSIG_BOGUS;
	}
	if (ans != NULL && ldns_pkt_get_rcode(ans) != LDNS_RCODE_NOERROR)
		rcode_fail(c, what, name, ans, o);
	else if (st != LDNS_STATUS_OK || ans == NULL)
		transport_fail(c, what, st, o); /* or an unverifiable NOERROR */
	else
		o->rc = DNS_OK;
	ldns_pkt_free(ans);
	ldns_pkt_free(pkt);
}

static void
change(void *impl, const struct dns_record *r, int del, struct dns_outcome *o)
{
	struct rconn *c = impl;
	ldns_rr_list *up = ldns_rr_list_new();
	ldns_rr *rr = make_rr(r, del);

	if (c->secret == NULL) {
		dns_fail(
		    o, DNS_PERM, "dns connector %s: no TSIG secret", c->name);
	} else if (up == NULL || rr == NULL || !ldns_rr_list_push_rr(up, rr)) {
		ldns_rr_free(rr);
		dns_fail(o, DNS_PERM,
		    "dns connector %s: cannot build the %s "
		    "record for %s",
		    c->name, dns_rr_str(r->type), r->name);
	} else {
		update(c, del ? "cleanup" : "present", r->zone, r->name, up,
		    NULL, o);
	}
	ldns_rr_list_deep_free(up);
}

static void
r_present(void *impl, const struct dns_record *r, struct dns_outcome *o)
{
	change(impl, r, 0, o);
}

static void
r_cleanup(void *impl, const struct dns_record *r, const char *handle,
    struct dns_outcome *o)
{
	(void)handle;
	change(impl, r, 1, o);
}

/* A plain query (RD=0) of the server; answer in *ans. */
static int
query(struct rconn *c, const char *name, ldns_rr_type t, ldns_pkt **ans,
    struct dns_outcome *o)
{
	ldns_rdf *qn = ldns_dname_new_frm_str(name);
	ldns_pkt *q;
	ldns_status st;

	*ans = NULL;
	if (qn == NULL)
		return -1;
	q = ldns_pkt_query_new(qn, t, LDNS_RR_CLASS_IN, 0);
	if (q == NULL)
		return -1;
	ldns_pkt_set_random_id(q);
	st = send_pkt(c, q, 0, ans);
	ldns_pkt_free(q);
	if (st != LDNS_STATUS_OK || *ans == NULL) {
		transport_fail(c, "query", st, o);
		ldns_pkt_free(*ans);
		*ans = NULL;
		return -1;
	}
	return 0;
}

static int
r_list(
    void *impl, const struct dns_record *r, char ***vals, struct dns_outcome *o)
{
	struct rconn *c = impl;
	ldns_rr_type t =
	    r->type == DNS_RR_CNAME ? LDNS_RR_TYPE_CNAME : LDNS_RR_TYPE_TXT;
	ldns_rdf *owner = ldns_dname_new_frm_str(r->name);
	ldns_rr_list *an;
	ldns_pkt *ans;
	size_t n = 0;

	*vals = NULL;
	if (owner == NULL || query(c, r->name, t, &ans, o) != 0) {
		ldns_rdf_deep_free(owner);
		return -1;
	}
	an = ldns_pkt_answer(ans);
	*vals = calloc(ldns_rr_list_rr_count(an) + 1, sizeof(char *));
	for (size_t i = 0; *vals != NULL && i < ldns_rr_list_rr_count(an);
	     i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		char *s = NULL;

		if (ldns_rr_get_type(rr) != t ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		if (t == LDNS_RR_TYPE_CNAME) {
			s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
			if (s != NULL && strlen(s) > 1 &&
			    s[strlen(s) - 1] == '.')
				s[strlen(s) - 1] = '\0';
		} else {
			size_t len = 0;
			for (size_t k = 0; k < ldns_rr_rd_count(rr); k++)
				len += ldns_rdf_size(ldns_rr_rdf(rr, k)) - 1;
			s = malloc(len + 1);
			len = 0;
			for (size_t k = 0;
			     s != NULL && k < ldns_rr_rd_count(rr); k++) {
				ldns_rdf *f = ldns_rr_rdf(rr, k);
				memcpy(s + len, ldns_rdf_data(f) + 1,
				    ldns_rdf_size(f) - 1);
				len += ldns_rdf_size(f) - 1;
			}
			if (s != NULL)
				s[len] = '\0';
		}
		if (s != NULL)
			(*vals)[n++] = s;
	}
	ldns_rdf_deep_free(owner);
	ldns_pkt_free(ans);
	return *vals == NULL ? -1 : (int)n;
}

/* The zone's SOA at the server (authoritative), then an update with only
 * a prerequisite ("the apex is in use", always true): it changes nothing
 * and proves the key is known and its signature accepted. */
static void
r_check(void *impl, const char *zone, struct dns_outcome *o)
{
	struct rconn *c = impl;
	ldns_rr_list *pre = ldns_rr_list_new();
	/* ldns_pkt_free frees what update() built around it */
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = ldns_dname_new_frm_str(zone);
	ldns_pkt *ans;

	if (query(c, zone, LDNS_RR_TYPE_SOA, &ans, o) != 0)
		goto out;
	if (!ldns_pkt_aa(ans) ||
	    ldns_pkt_get_rcode(ans) != LDNS_RCODE_NOERROR ||
	    ldns_pkt_ancount(ans) == 0) {
		dns_fail(o, DNS_PERM,
		    "dns connector %s: %s is not authoritative for %s (SOA "
		    "answer without AA: wrong server, or split horizon view)",
		    c->name, c->server, zone);
		ldns_pkt_free(ans);
		goto out;
	}
	ldns_pkt_free(ans);
	if (pre == NULL || rr == NULL || owner == NULL) {
		dns_fail(
		    o, DNS_TEMP, "dns connector %s: out of memory", c->name);
		goto out;
	}
	ldns_rr_set_owner(rr, owner);
	owner = NULL;
	ldns_rr_set_class(rr, LDNS_RR_CLASS_ANY);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_ANY);
	ldns_rr_set_ttl(rr, 0);
	ldns_rr_list_push_rr(pre, rr);
	rr = NULL;
	if (c->secret == NULL)
		o->rc = DNS_OK; /* listing commands read no secrets */
	else {
		ldns_rr_list *none = ldns_rr_list_new();
		update(c, "check", zone, zone, none, pre, o);
		ldns_rr_list_free(none);
	}
out:
	ldns_rdf_deep_free(owner);
	ldns_rr_free(rr);
	ldns_rr_list_deep_free(pre);
}

const struct dns_connector_ops dns_conn_rfc2136 = {
    .type = "rfc2136",
    .keys = rfc2136_keys,
    .create = r_create,
    .destroy = r_destroy,
    .present = r_present,
    .cleanup = r_cleanup,
    .list = r_list,
    .check = r_check,
};
