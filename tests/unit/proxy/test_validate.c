/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy/validate.c against real loopback servers on one event_base: a DNS
 * responder (ldns), an evhttp server and a TLS server (bufferevent_openssl).
 */
#include "proxy/validate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TOKEN "good"
/* key authorization of TOKEN; its SHA-256 computed independently */
#define KA "good.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define KA_DIGEST_B64 "nSE2fDdOJHlHRDdIFwj1Wn13o9Zaq5kE5LW8cFV1dEQ"
static const unsigned char ka_digest[32] = {0x9d, 0x21, 0x36, 0x7c, 0x37, 0x4e,
    0x24, 0x79, 0x47, 0x44, 0x37, 0x48, 0x17, 0x08, 0xf5, 0x5a, 0x7d, 0x77,
    0xa3, 0xd6, 0x5a, 0xab, 0x99, 0x04, 0xe4, 0xb5, 0xbc, 0x70, 0x55, 0x75,
    0x74, 0x44};

/* ---- DNS responder: every name under test. has A 127.0.0.1 ---- */

struct dnsd {
	evutil_socket_t fd;
	struct event *ev;
	int port;
	int queries;       /* all queries */
	int other_queries; /* A/AAAA queries for other.test */
};

static int
is_name(const ldns_rdf *name, const char *text)
{
	ldns_rdf *d = NULL;
	int eq;

	if (ldns_str2rdf_dname(&d, text) != LDNS_STATUS_OK)
		return 0;
	eq = ldns_dname_compare(name, d) == 0;
	ldns_rdf_deep_free(d);
	return eq;
}

static void add_rr(ldns_pkt *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_rr(ldns_pkt *p, const char *fmt, ...)
{
	char line[512];
	ldns_rr *rr = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert_int_equal(
	    ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL), LDNS_STATUS_OK);
	assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
}

static void
on_dns(evutil_socket_t fd, short what, void *arg)
{
	struct dnsd *d = arg;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	uint8_t buf[4096], *wire = NULL;
	ldns_pkt *q = NULL, *p;
	const ldns_rr *qrr;
	const ldns_rdf *name;
	size_t len = 0;
	ssize_t got;

	(void)what;
	got = recvfrom(
	    fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	if (got <= 0)
		return;
	d->queries++;
	assert_int_equal(ldns_wire2pkt(&q, buf, (size_t)got), LDNS_STATUS_OK);
	qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	name = ldns_rr_owner(qrr);
	p = ldns_pkt_new();
	assert_non_null(p);
	ldns_pkt_set_id(p, ldns_pkt_id(q));
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rd(p, true);
	ldns_pkt_set_ra(p, true);
	assert_true(
	    ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr)));
	if (is_name(name, "other.test."))
		d->other_queries++;
	if (is_name(name, "nx.test.") || is_name(name, "redir-nx.test.")) {
		ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
	} else if (is_name(name, "servfail.test.") ||
	    is_name(name, "_acme-challenge.servfail.test.")) {
		ldns_pkt_set_rcode(p, LDNS_RCODE_SERVFAIL);
	} else if (ldns_rr_get_type(qrr) == LDNS_RR_TYPE_A &&
	    is_name(name, "metadata.test.")) {
		add_rr(p, "metadata.test. 60 IN A 169.254.169.254");
	} else if (ldns_rr_get_type(qrr) == LDNS_RR_TYPE_A) {
		char *owner = ldns_rdf2str(name);

		assert_non_null(owner);
		add_rr(p, "%s 60 IN A 127.0.0.1", owner);
		free(owner);
	} else if (ldns_rr_get_type(qrr) == LDNS_RR_TYPE_AAAA &&
	    is_name(name, "dual.test.")) {
		/* nothing listens on [::1] there: tried first, then 127.0.0.1 */
		add_rr(p, "dual.test. 60 IN AAAA ::1");
	} else if (ldns_rr_get_type(qrr) == LDNS_RR_TYPE_TXT) {
		if (is_name(name, "_acme-challenge.dns-good.test.")) {
			add_rr(p,
			    "_acme-challenge.dns-good.test. 60 IN TXT "
			    "\"unrelated\"");
			/* split in two character-strings on purpose */
			add_rr(p,
			    "_acme-challenge.dns-good.test. 60 IN TXT "
			    "\"nSE2fDdOJHlHRDdIFwj1\" "
			    "\"Wn13o9Zaq5kE5LW8cFV1dEQ\"");
		} else if (is_name(name, "_acme-challenge.dns-wrong.test.")) {
			add_rr(p,
			    "_acme-challenge.dns-wrong.test. 60 IN TXT "
			    "\"wrong-value\"");
			add_rr(p,
			    "_acme-challenge.dns-wrong.test. 60 IN TXT "
			    "\"another\\010one\"");
		} else if (is_name(name, "_acme-challenge.dns-nul.test.")) {
			/* the digest, a NUL, more: not the digest */
			add_rr(p,
			    "_acme-challenge.dns-nul.test. 60 IN TXT "
			    "\"" KA_DIGEST_B64 "\\000junk\"");
		} else if (is_name(name, "_acme-challenge.dns-many.test.")) {
			for (int i = 0; i < 30; i++)
				add_rr(p,
				    "_acme-challenge.dns-many.test. 60 IN TXT "
				    "\"value-number-%02d\"",
				    i);
		}
	}
	/* other AAAA: NODATA, so everything goes to 127.0.0.1 */
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	sendto(fd, wire, len, 0, (struct sockaddr *)&from, fromlen);
	free(wire);
	ldns_pkt_free(p);
	ldns_pkt_free(q);
}

/* ---- HTTP server ---- */

struct httpd {
	struct evhttp *http;
	int port;
	int requests;
	char last_host[128];
	char last_path[256];
};

static void
on_http(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	const char *path = evhttp_request_get_uri(req);
	const char *host = evhttp_find_header(hdrs, "Host");
	const char *tok;
	char loc[256];

	assert_non_null(out);
	h->requests++;
	snprintf(h->last_host, sizeof(h->last_host), "%s", host ? host : "");
	snprintf(h->last_path, sizeof(h->last_path), "%s", path);
	if (strncmp(path, "/.well-known/acme-challenge/", 28) != 0) {
		evhttp_send_reply(req, 404, "Not Found", NULL);
		evbuffer_free(out);
		return;
	}
	tok = path + 28;
	if (strcmp(tok, "good") == 0) {
		evbuffer_add_printf(out, "%s\r\n \n", KA);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(tok, "wrong") == 0) {
		evbuffer_add_printf(out, "not-the-key-authorization\n");
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(tok, "prefix") == 0) {
		evbuffer_add_printf(out, "%s-and-more", KA);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(tok, "big") == 0) {
		for (int i = 0; i < 10000; i++)
			evbuffer_add(out, "a", 1);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strncmp(tok, "redir-", 6) == 0) {
		const char *kind = tok + 6;

		if (strcmp(kind, "bad-port") == 0)
			snprintf(loc, sizeof(loc),
			    "http://good.test:1/.well-known/acme-challenge/"
			    "good");
		else if (strcmp(kind, "same") == 0)
			snprintf(loc, sizeof(loc),
			    "/.well-known/acme-challenge/good");
		else if (strcmp(kind, "other") == 0)
			snprintf(loc, sizeof(loc),
			    "http://other.test:%d/.well-known/"
			    "acme-challenge/good",
			    h->port);
		else if (strcmp(kind, "ip") == 0)
			snprintf(loc, sizeof(loc),
			    "http://127.0.0.1:%d/.well-known/"
			    "acme-challenge/good",
			    h->port);
		else if (strcmp(kind, "metadata") == 0)
			snprintf(loc, sizeof(loc),
			    "http://169.254.169.254:%d/latest/meta-data/",
			    h->port);
		else if (strcmp(kind, "mapped") == 0)
			snprintf(loc, sizeof(loc),
			    "http://[::ffff:169.254.169.254]:%d/latest/"
			    "meta-data/",
			    h->port);
		else if (strcmp(kind, "zero") == 0)
			snprintf(loc, sizeof(loc),
			    "http://0.0.0.0:%d/.well-known/acme-challenge/"
			    "good",
			    h->port);
		else if (strcmp(kind, "nx") == 0)
			snprintf(loc, sizeof(loc),
			    "http://nx.test:%d/.well-known/acme-challenge/"
			    "good",
			    h->port);
		else if (strcmp(kind, "ftp") == 0)
			snprintf(loc, sizeof(loc),
			    "ftp://good.test/.well-known/acme-challenge/"
			    "good");
		else /* redir-loop */
			snprintf(loc, sizeof(loc),
			    "/.well-known/acme-challenge/redir-loop");
		evhttp_add_header(oh, "Location", loc);
		evhttp_send_reply(req, 302, "Found", NULL);
	} else {
		evhttp_send_reply(req, 404, "Not Found", NULL);
	}
	evbuffer_free(out);
}

/* ---- TLS server: certificate chosen by SNI ---- */

enum variant {
	V_GOOD,     /* everything right */
	V_DIGEST,   /* acmeIdentifier of another key authorization */
	V_NONCRIT,  /* acmeIdentifier not critical */
	V_NOEXT,    /* no acmeIdentifier */
	V_RAWEXT,   /* acmeIdentifier not an OCTET STRING */
	V_TWOSAN,   /* two subjectAltNames */
	V_WRONGSAN, /* subjectAltName of another name */
};

struct cert_entry {
	const char *sni; /* server name that selects it */
	const char *san; /* dNSName, or NULL */
	const char *ip;  /* iPAddress text, or NULL */
	enum variant var;
	X509 *crt;
	EVP_PKEY *key;
};

static struct cert_entry certs[] = {
    {"tls-good.test", "tls-good.test", NULL, V_GOOD, NULL, NULL},
    {"noalpn.test", "noalpn.test", NULL, V_GOOD, NULL, NULL},
    {"digest.test", "digest.test", NULL, V_DIGEST, NULL, NULL},
    {"noncrit.test", "noncrit.test", NULL, V_NONCRIT, NULL, NULL},
    {"noext.test", "noext.test", NULL, V_NOEXT, NULL, NULL},
    {"rawext.test", "rawext.test", NULL, V_RAWEXT, NULL, NULL},
    {"twosan.test", "twosan.test", NULL, V_TWOSAN, NULL, NULL},
    {"wrongsan.test", "other.test", NULL, V_WRONGSAN, NULL, NULL},
    {"1.0.0.127.in-addr.arpa", NULL, "127.0.0.1", V_GOOD, NULL, NULL},
    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
     "ip6.arpa",
        NULL, "::1", V_GOOD, NULL, NULL},
};
#define NCERTS (sizeof(certs) / sizeof(certs[0]))

struct tlsd {
	SSL_CTX *ctx;
	struct evconnlistener *lis;
	struct evconnlistener *lis6; /* [::1], same port, when available */
	int port;
	struct bufferevent *conns[16];
	char last_sni[128];
	int alpn_offered_ok; /* client offered exactly acme-tls/1 */
	int handshakes;
};

static void
add_gn(GENERAL_NAMES *gens, const char *dns, const char *ip)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();

	assert_non_null(gn);
	if (dns != NULL) {
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		assert_non_null(s);
		assert_int_equal(ASN1_STRING_set(s, dns, -1), 1);
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
	} else {
		ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
		unsigned char bin[16];
		int len = strchr(ip, ':') ? 16 : 4;

		assert_non_null(o);
		assert_int_equal(
		    inet_pton(len == 4 ? AF_INET : AF_INET6, ip, bin), 1);
		assert_int_equal(ASN1_OCTET_STRING_set(o, bin, len), 1);
		GENERAL_NAME_set0_value(gn, GEN_IPADD, o);
	}
	assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
}

static void
make_cert(struct cert_entry *c)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	unsigned char der[34];
	ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	X509_EXTENSION *ext;

	assert_non_null(key);
	assert_non_null(x);
	assert_non_null(gens);
	assert_non_null(val);
	assert_non_null(oid);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                     (const unsigned char *)"acme test", -1, -1, 0),
	    1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	add_gn(gens, c->san, c->ip);
	if (c->var == V_TWOSAN)
		add_gn(gens, "extra.test", NULL);
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	                     X509V3_ADD_DEFAULT),
	    1);
	GENERAL_NAMES_free(gens);
	if (c->var != V_NOEXT) {
		/* DER OCTET STRING: tag 4, length 32, digest */
		der[0] = 0x04;
		der[1] = 32;
		memcpy(der + 2, ka_digest, 32);
		if (c->var == V_DIGEST)
			der[2 + 31] ^= 0x01;
		if (c->var == V_RAWEXT)
			assert_int_equal(
			    ASN1_OCTET_STRING_set(val, ka_digest, 32), 1);
		else
			assert_int_equal(
			    ASN1_OCTET_STRING_set(val, der, 34), 1);
		ext = X509_EXTENSION_create_by_OBJ(
		    NULL, oid, c->var != V_NONCRIT, val);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	ASN1_OCTET_STRING_free(val);
	ASN1_OBJECT_free(oid);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	c->crt = x;
	c->key = key;
}

static int
cert_cb(SSL *ssl, void *arg)
{
	struct tlsd *t = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	snprintf(t->last_sni, sizeof(t->last_sni), "%s", sni ? sni : "");
	for (size_t i = 0; sni != NULL && i < NCERTS; i++) {
		if (strcmp(certs[i].sni, sni) == 0) {
			SSL_use_certificate(ssl, certs[i].crt);
			SSL_use_PrivateKey(ssl, certs[i].key);
			return 1;
		}
	}
	return 1; /* no certificate: the handshake fails */
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char mine[] = "\x0a"
	                                    "acme-tls/1";
	struct tlsd *t = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	t->alpn_offered_ok =
	    inlen == sizeof(mine) - 1 && memcmp(in, mine, inlen) == 0;
	if (sni != NULL && strcmp(sni, "noalpn.test") == 0)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_select_next_proto((unsigned char **)out, outlen, mine,
	        sizeof(mine) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

static void
tls_forget(struct tlsd *t, struct bufferevent *bev)
{
	for (size_t i = 0; i < 16; i++)
		if (t->conns[i] == bev)
			t->conns[i] = NULL;
	bufferevent_free(bev);
}

static void
on_tls_srv_event(struct bufferevent *bev, short what, void *arg)
{
	struct tlsd *t = arg;

	if (what & BEV_EVENT_CONNECTED) {
		t->handshakes++;
		return;
	}
	tls_forget(t, bev);
}

static void
on_tls_accept(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct tlsd *t = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(t->ctx);

	(void)sa;
	(void)salen;
	assert_non_null(ssl);
	bev = bufferevent_openssl_socket_new(evconnlistener_get_base(lis), fd,
	    ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	for (size_t i = 0; i < 16; i++) {
		if (t->conns[i] == NULL) {
			t->conns[i] = bev;
			break;
		}
	}
	bufferevent_setcb(bev, NULL, NULL, on_tls_srv_event, t);
	bufferevent_enable(bev, EV_READ);
}

/* ---- a TCP server that accepts and never says anything ---- */

struct hangd {
	struct evconnlistener *lis;
	int port;
	evutil_socket_t fds[16];
	int accepted;
};

static void
on_hang_accept(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct hangd *h = arg;

	(void)lis;
	(void)sa;
	(void)salen;
	if (h->accepted < 16)
		h->fds[h->accepted++] = fd;
	else
		close(fd);
}

/* ---- fixture ---- */

struct state {
	struct event_base *base;
	struct evcurl *ec;
	struct dnsd dns;
	struct httpd http;
	struct tlsd tls;
	struct hangd hang;
	int closed_port; /* nothing listens there */
	struct px_validate_conf conf;
	char resolver[64];
};

static int
local_port(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static struct evconnlistener *
listen_on(struct event_base *base, evconnlistener_cb cb, void *arg, int family,
    int port)
{
	struct sockaddr_storage ss;
	int len;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	}
	return evconnlistener_new_bind(base, cb, arg,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&ss, len);
}

static int
group_setup(void **ctx)
{
	(void)ctx;
	for (size_t i = 0; i < NCERTS; i++)
		make_cert(&certs[i]);
	return 0;
}

static int
group_teardown(void **ctx)
{
	(void)ctx;
	for (size_t i = 0; i < NCERTS; i++) {
		X509_free(certs[i].crt);
		EVP_PKEY_free(certs[i].key);
	}
	return 0;
}

static int
setup(void **ctx)
{
	struct state *st = calloc(1, sizeof(*st));
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct evhttp_bound_socket *bound;
	int fd;

	assert_non_null(st);
	st->base = event_base_new();
	assert_non_null(st->base);
	st->ec = evcurl_new(st->base);
	assert_non_null(st->ec);

	/* DNS */
	st->dns.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(st->dns.fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(
	    bind(st->dns.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	st->dns.port = local_port(st->dns.fd);
	st->dns.ev = event_new(
	    st->base, st->dns.fd, EV_READ | EV_PERSIST, on_dns, &st->dns);
	assert_non_null(st->dns.ev);
	event_add(st->dns.ev, NULL);

	/* HTTP */
	st->http.http = evhttp_new(st->base);
	assert_non_null(st->http.http);
	evhttp_set_gencb(st->http.http, on_http, &st->http);
	bound = evhttp_bind_socket_with_handle(st->http.http, "127.0.0.1", 0);
	assert_non_null(bound);
	st->http.port = local_port(evhttp_bound_socket_get_fd(bound));

	/* TLS */
	st->tls.ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(st->tls.ctx);
	SSL_CTX_set_cert_cb(st->tls.ctx, cert_cb, &st->tls);
	SSL_CTX_set_alpn_select_cb(st->tls.ctx, alpn_cb, &st->tls);
	st->tls.lis = listen_on(st->base, on_tls_accept, &st->tls, AF_INET, 0);
	assert_non_null(st->tls.lis);
	st->tls.port = local_port(evconnlistener_get_fd(st->tls.lis));
	st->tls.lis6 = listen_on(
	    st->base, on_tls_accept, &st->tls, AF_INET6, st->tls.port);

	/* hang */
	st->hang.lis =
	    listen_on(st->base, on_hang_accept, &st->hang, AF_INET, 0);
	assert_non_null(st->hang.lis);
	st->hang.port = local_port(evconnlistener_get_fd(st->hang.lis));

	/* a port that was free a moment ago */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sin.sin_port = 0;
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	st->closed_port = local_port(fd);
	close(fd);

	snprintf(
	    st->resolver, sizeof(st->resolver), "127.0.0.1:%d", st->dns.port);
	st->conf.http01_port = st->http.port;
	st->conf.tlsalpn01_port = st->tls.port;
	st->conf.dns_resolver = st->resolver;
	st->conf.timeout_seconds = 5;
	/* everything here listens on loopback */
	st->conf.allow_private_addresses = 1;
	*ctx = st;
	return 0;
}

static int
teardown(void **ctx)
{
	struct state *st = *ctx;

	for (size_t i = 0; i < 16; i++)
		if (st->tls.conns[i] != NULL)
			bufferevent_free(st->tls.conns[i]);
	for (int i = 0; i < st->hang.accepted; i++)
		close(st->hang.fds[i]);
	evconnlistener_free(st->hang.lis);
	evconnlistener_free(st->tls.lis);
	if (st->tls.lis6 != NULL)
		evconnlistener_free(st->tls.lis6);
	SSL_CTX_free(st->tls.ctx);
	evhttp_free(st->http.http);
	event_free(st->dns.ev);
	close(st->dns.fd);
	evcurl_free(st->ec);
	event_base_free(st->base);
	free(st);
	return 0;
}

/* ---- helpers ---- */

struct outcome {
	int calls;
	int called_inside;
	int in_call;
	char type[64]; /* "" on success */
	char detail[512];
	struct px_validator **free_v; /* validator to free from the callback */
};

static void
on_done(void *arg, const struct acme_problem *prob)
{
	struct outcome *o = arg;

	if (o->in_call)
		o->called_inside = 1;
	o->calls++;
	if (prob != NULL) {
		assert_non_null(prob->type);
		snprintf(o->type, sizeof(o->type), "%s", prob->type);
		snprintf(o->detail, sizeof(o->detail), "%s", prob->detail);
	}
	if (o->free_v != NULL) {
		px_validator_free(*o->free_v);
		*o->free_v = NULL;
	}
}

static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
wait_for(struct event_base *base, const struct outcome *o, int max_ms)
{
	for (int waited = 0; o->calls == 0 && waited < max_ms; waited += 10)
		run_for(base, 10);
}

/* Run one validation to its end and return its outcome in *o. */
static void
check(struct state *st, struct px_validator *v, const char *chall,
    const char *id_type, const char *id, const char *token, struct outcome *o)
{
	struct px_validation val = {chall, id_type, id, token, KA};

	memset(o, 0, sizeof(*o));
	o->in_call = 1;
	assert_int_equal(px_validate(v, &val, on_done, o), 0);
	o->in_call = 0;
	wait_for(st->base, o, 8000);
	run_for(st->base, 20); /* a second callback would show up here */
	assert_int_equal(o->calls, 1);
	assert_false(o->called_inside);
}

static struct px_validator *
validator(struct state *st)
{
	struct px_validator *v = px_validator_new(st->base, st->ec, &st->conf);

	assert_non_null(v);
	return v;
}

#define assert_ok(o)                                                           \
	do {                                                                   \
		if ((o)->type[0] != '\0')                                      \
			fail_msg("unexpected problem %s: %s", (o)->type,       \
			    (o)->detail);                                      \
	} while (0)

#define assert_problem(o, t, needle)                                           \
	do {                                                                   \
		assert_string_equal((o)->type, (t));                           \
		if (strstr((o)->detail, (needle)) == NULL)                     \
			fail_msg("detail \"%s\" lacks \"%s\"", (o)->detail,    \
			    (needle));                                         \
	} while (0)

/* ---- tests ---- */

static void
test_new_and_args(void **ctx)
{
	struct state *st = *ctx;
	struct px_validate_conf bad = st->conf;
	struct px_validator *v;
	struct outcome o;
	struct px_validation val = {"http-01", "dns", "good.test", TOKEN, KA};

	bad.dns_resolver = "nonsense";
	assert_null(px_validator_new(st->base, st->ec, &bad));
	bad.dns_resolver = NULL;
	assert_null(px_validator_new(st->base, st->ec, &bad));
	assert_null(px_validator_new(st->base, NULL, &st->conf));
	px_validator_free(NULL);

	v = validator(st);
	memset(&o, 0, sizeof(o));
	val.chall_type = "http-02";
	assert_int_equal(px_validate(v, &val, on_done, &o), -1);
	val.chall_type = "dns-01";
	val.id_type = "ip";
	val.id_value = "127.0.0.1";
	assert_int_equal(px_validate(v, &val, on_done, &o), -1);
	val.chall_type = "http-01";
	val.id_value = "127.0.0.300";
	assert_int_equal(px_validate(v, &val, on_done, &o), -1);
	val.id_type = "email";
	val.id_value = "good.test";
	assert_int_equal(px_validate(v, &val, on_done, &o), -1);
	val.id_type = "dns";
	val.token = "../../etc/passwd";
	assert_int_equal(px_validate(v, &val, on_done, &o), -1);
	val.token = TOKEN;
	val.id_value = "good.test/x?";
	assert_int_equal(px_validate(v, &val, on_done, &o), -1);
	val.id_value = NULL;
	assert_int_equal(px_validate(v, &val, on_done, &o), -1);
	run_for(st->base, 50);
	assert_int_equal(o.calls, 0);
	px_validator_free(v);
}

static void
test_http01(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v = validator(st);
	char host[64];
	struct outcome o;

	check(st, v, "http-01", "dns", "good.test", "good", &o);
	assert_ok(&o);
	assert_int_equal(st->http.requests, 1);
	snprintf(host, sizeof(host), "good.test:%d", st->http.port);
	assert_string_equal(st->http.last_host, host);
	assert_string_equal(
	    st->http.last_path, "/.well-known/acme-challenge/good");

	/* IP identifier: no DNS, the address is the host */
	st->dns.queries = 0;
	check(st, v, "http-01", "ip", "127.0.0.1", "good", &o);
	assert_ok(&o);
	assert_int_equal(st->dns.queries, 0);
	snprintf(host, sizeof(host), "127.0.0.1:%d", st->http.port);
	assert_string_equal(st->http.last_host, host);

	/* AAAA ::1 refuses, A 127.0.0.1 answers */
	st->http.requests = 0;
	check(st, v, "http-01", "dns", "dual.test", "good", &o);
	assert_ok(&o);
	assert_int_equal(st->http.requests, 1);

	/* the body is never echoed, only its length */
	check(st, v, "http-01", "dns", "good.test", "wrong", &o);
	assert_problem(
	    &o, "incorrectResponse", "found a different response of 26 bytes");
	assert_null(strstr(o.detail, "not-the-key"));
	check(st, v, "http-01", "dns", "good.test", "prefix", &o);
	assert_problem(&o, "incorrectResponse", "of 57 bytes");
	assert_null(strstr(o.detail, "-and-more"));
	check(st, v, "http-01", "dns", "good.test", "missing", &o);
	assert_problem(&o, "unauthorized", "HTTP 404");
	check(st, v, "http-01", "dns", "good.test", "big", &o);
	assert_problem(&o, "incorrectResponse", "larger than 8192");
	px_validator_free(v);
}

static void
test_http01_redirects(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v = validator(st);
	struct outcome o;

	st->http.requests = 0;
	check(st, v, "http-01", "dns", "good.test", "redir-same", &o);
	assert_ok(&o);
	assert_int_equal(st->http.requests, 2);

	/* another name is resolved through our resolver */
	check(st, v, "http-01", "dns", "good.test", "redir-other", &o);
	assert_ok(&o);
	assert_true(st->dns.other_queries >= 1);
	assert_true(strncmp(st->http.last_host, "other.test:", 11) == 0);

	check(st, v, "http-01", "dns", "good.test", "redir-ip", &o);
	assert_ok(&o);

	st->http.requests = 0;
	check(st, v, "http-01", "dns", "good.test", "redir-bad-port", &o);
	assert_problem(&o, "connection", "port 1 is not allowed");
	assert_int_equal(st->http.requests, 1); /* not followed */

	check(st, v, "http-01", "dns", "good.test", "redir-ftp", &o);
	assert_problem(&o, "connection", "only http and https");
	check(st, v, "http-01", "dns", "good.test", "redir-nx", &o);
	assert_problem(&o, "dns", "nx.test");

	st->http.requests = 0;
	check(st, v, "http-01", "dns", "good.test", "redir-loop", &o);
	assert_problem(&o, "connection", "too many redirects");
	assert_int_equal(st->http.requests, 11);
	px_validator_free(v);
}

static void
test_http01_failures(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v = validator(st);
	struct outcome o;

	check(st, v, "http-01", "dns", "nx.test", "good", &o);
	assert_problem(&o, "dns", "no A/AAAA records found for nx.test");
	check(st, v, "http-01", "dns", "servfail.test", "good", &o);
	assert_problem(&o, "dns", "servfail.test");
	px_validator_free(v);

	st->conf.http01_port = st->closed_port;
	v = validator(st);
	check(st, v, "http-01", "dns", "good.test", "good", &o);
	assert_problem(&o, "connection", "127.0.0.1");
	px_validator_free(v);
}

static void
test_dns01(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v = validator(st);
	struct outcome o;

	check(st, v, "dns-01", "dns", "dns-good.test", TOKEN, &o);
	assert_ok(&o);
	check(st, v, "dns-01", "dns", "dns-wrong.test", TOKEN, &o);
	assert_problem(&o, "incorrectResponse",
	    "expected TXT \"" KA_DIGEST_B64
	    "\" at _acme-challenge.dns-wrong.test, found [\"wrong-value\", "
	    "\"another?one\"]");
	/* compared by length and bytes, not as C strings */
	check(st, v, "dns-01", "dns", "dns-nul.test", TOKEN, &o);
	assert_problem(
	    &o, "incorrectResponse", "found [\"" KA_DIGEST_B64 "?junk\"]");
	check(st, v, "dns-01", "dns", "dns-many.test", TOKEN, &o);
	assert_problem(&o, "incorrectResponse", "\"value-number-00\", ");
	assert_non_null(strstr(o.detail, "...]"));
	check(st, v, "dns-01", "dns", "dns-none.test", TOKEN, &o);
	assert_problem(&o, "unauthorized",
	    "no TXT record found at _acme-challenge.dns-none.test");
	check(st, v, "dns-01", "dns", "servfail.test", TOKEN, &o);
	assert_problem(&o, "dns", "_acme-challenge.servfail.test");
	px_validator_free(v);
}

static void
test_tlsalpn01(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v = validator(st);
	struct outcome o;

	check(st, v, "tls-alpn-01", "dns", "tls-good.test", TOKEN, &o);
	assert_ok(&o);
	assert_string_equal(st->tls.last_sni, "tls-good.test");
	assert_true(st->tls.alpn_offered_ok);

	/* RFC 8738 §6: reverse name as SNI, iPAddress SAN */
	check(st, v, "tls-alpn-01", "ip", "127.0.0.1", TOKEN, &o);
	assert_ok(&o);
	assert_string_equal(st->tls.last_sni, "1.0.0.127.in-addr.arpa");

	check(st, v, "tls-alpn-01", "dns", "digest.test", TOKEN, &o);
	assert_problem(&o, "incorrectResponse", "expected " KA_DIGEST_B64);
	check(st, v, "tls-alpn-01", "dns", "noalpn.test", TOKEN, &o);
	assert_problem(&o, "tls", "acme-tls/1");
	check(st, v, "tls-alpn-01", "dns", "noncrit.test", TOKEN, &o);
	assert_problem(&o, "incorrectResponse", "not critical");
	check(st, v, "tls-alpn-01", "dns", "noext.test", TOKEN, &o);
	assert_problem(&o, "incorrectResponse", "no acmeIdentifier");
	check(st, v, "tls-alpn-01", "dns", "rawext.test", TOKEN, &o);
	assert_problem(&o, "incorrectResponse", "OCTET STRING");
	check(st, v, "tls-alpn-01", "dns", "twosan.test", TOKEN, &o);
	assert_problem(&o, "unauthorized", "found 2");
	check(st, v, "tls-alpn-01", "dns", "wrongsan.test", TOKEN, &o);
	assert_problem(&o, "unauthorized", "\"other.test\"");
	/* no certificate for this name: the handshake fails */
	check(st, v, "tls-alpn-01", "dns", "unknown.test", TOKEN, &o);
	assert_problem(&o, "tls", "SNI unknown.test");
	check(st, v, "tls-alpn-01", "dns", "nx.test", TOKEN, &o);
	assert_problem(&o, "dns", "nx.test");
	px_validator_free(v);

	/* a plain HTTP server does not speak TLS */
	st->conf.tlsalpn01_port = st->http.port;
	v = validator(st);
	check(st, v, "tls-alpn-01", "dns", "tls-good.test", TOKEN, &o);
	assert_problem(&o, "tls", "handshake");
	px_validator_free(v);

	st->conf.tlsalpn01_port = st->closed_port;
	v = validator(st);
	check(st, v, "tls-alpn-01", "dns", "tls-good.test", TOKEN, &o);
	assert_problem(&o, "connection", "refused");
	px_validator_free(v);
}

static void
test_tlsalpn01_ipv6(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v;
	struct outcome o;

	if (st->tls.lis6 == NULL)
		skip();
	v = validator(st);
	check(st, v, "tls-alpn-01", "ip", "::1", TOKEN, &o);
	assert_ok(&o);
	assert_string_equal(st->tls.last_sni,
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "ip6.arpa");
	/* the SAN of 127.0.0.1's certificate is not ::1 */
	px_validator_free(v);
}

/* Only addresses the policy allows are contacted: IP identifiers, every
 * A/AAAA answer, redirect targets. */
static void
test_address_policy(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v;
	struct outcome o;

	st->conf.allow_private_addresses = 0;
	v = validator(st);
	st->http.requests = 0;
	check(st, v, "http-01", "ip", "127.0.0.1", "good", &o);
	assert_problem(
	    &o, "connection", "connection to 127.0.0.1 refused by policy");
	check(st, v, "http-01", "ip", "169.254.169.254", "good", &o);
	assert_problem(&o, "connection", "refused by policy");
	check(st, v, "http-01", "ip", "::ffff:127.0.0.1", "good", &o);
	assert_problem(&o, "connection", "refused by policy");
	/* a name: looked up, then its address refused */
	st->dns.queries = 0;
	check(st, v, "http-01", "dns", "good.test", "good", &o);
	assert_problem(
	    &o, "connection", "connection to good.test refused by policy");
	assert_true(st->dns.queries >= 1);
	/* dual.test: AAAA ::1 and A 127.0.0.1, both refused */
	check(st, v, "http-01", "dns", "dual.test", "good", &o);
	assert_problem(&o, "connection", "refused by policy");
	check(st, v, "http-01", "dns", "metadata.test", "good", &o);
	assert_problem(&o, "connection", "refused by policy");
	/* nothing in the detail that would tell open ports from closed */
	assert_null(strstr(o.detail, "169.254"));
	assert_int_equal(st->http.requests, 0);

	check(st, v, "tls-alpn-01", "ip", "127.0.0.1", TOKEN, &o);
	assert_problem(&o, "connection", "refused by policy");
	check(st, v, "tls-alpn-01", "dns", "tls-good.test", TOKEN, &o);
	assert_problem(&o, "connection", "refused by policy");
	assert_int_equal(st->tls.handshakes, 0);
	assert_null(st->tls.conns[0]);
	/* dns-01 connects to nothing: unaffected */
	check(st, v, "dns-01", "dns", "dns-good.test", TOKEN, &o);
	assert_ok(&o);
	px_validator_free(v);

	/* private allowed (as in the other tests here): link-local and
	 * "this network" stay refused, also as redirect targets */
	st->conf.allow_private_addresses = 1;
	v = validator(st);
	check(st, v, "http-01", "ip", "169.254.169.254", "good", &o);
	assert_problem(&o, "connection", "refused by policy");
	check(st, v, "http-01", "dns", "metadata.test", "good", &o);
	assert_problem(&o, "connection", "refused by policy");
	st->http.requests = 0;
	check(st, v, "http-01", "dns", "good.test", "redir-metadata", &o);
	assert_problem(&o, "connection", "redirect to http://169.254.169.254");
	assert_problem(&o, "connection", "refused by policy");
	check(st, v, "http-01", "dns", "good.test", "redir-mapped", &o);
	assert_problem(&o, "connection", "refused by policy");
	check(st, v, "http-01", "dns", "good.test", "redir-zero", &o);
	assert_problem(&o, "connection", "refused by policy");
	/* only the first hops were fetched */
	assert_int_equal(st->http.requests, 3);
	px_validator_free(v);
}

static void
test_timeout(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v;
	struct outcome a, b;
	struct px_validation ha = {"http-01", "dns", "good.test", TOKEN, KA};
	struct px_validation tb = {
	    "tls-alpn-01", "dns", "tls-good.test", TOKEN, KA};

	st->conf.http01_port = st->hang.port;
	st->conf.tlsalpn01_port = st->hang.port;
	st->conf.timeout_seconds = 1;
	v = validator(st);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(px_validate(v, &ha, on_done, &a), 0);
	assert_int_equal(px_validate(v, &tb, on_done, &b), 0);
	wait_for(st->base, &a, 4000);
	wait_for(st->base, &b, 4000);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	/* the validator's deadline and curl's own timeout are both 1 s:
	 * under load either may strike first ("timed out after 1 s" or
	 * curl's "Operation timed out after 1003 milliseconds") */
	assert_problem(&a, "connection", "timed out after");
	/* on a loaded machine the deadline may strike before the TLS
	 * handshake has begun: the phase in the detail is not asserted */
	assert_problem(&b, "connection", "timed out after 1 s");
	assert_true(st->hang.accepted >= 1 && st->hang.accepted <= 2);
	px_validator_free(v);
}

static void
test_cancel(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v;
	struct outcome a, b, c, d;
	struct px_validation ha = {"http-01", "dns", "good.test", TOKEN, KA};
	struct px_validation tb = {"tls-alpn-01", "ip", "127.0.0.1", TOKEN, KA};
	struct px_validation dc = {"dns-01", "dns", "dns-good.test", TOKEN, KA};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char blackhole[64];
	int fd;

	/* DNS that never answers keeps the dns-01 lookup pending */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(
	    blackhole, sizeof(blackhole), "127.0.0.1:%d", ntohs(sin.sin_port));

	/* cancelled before it even started */
	v = validator(st);
	memset(&d, 0, sizeof(d));
	assert_int_equal(px_validate(v, &dc, on_done, &d), 0);
	px_validator_free(v);

	/* cancelled with a transfer and a TLS handshake in flight */
	st->conf.http01_port = st->hang.port;
	st->conf.tlsalpn01_port = st->hang.port;
	v = validator(st);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	assert_int_equal(px_validate(v, &ha, on_done, &a), 0);
	assert_int_equal(px_validate(v, &tb, on_done, &b), 0);
	for (int i = 0; i < 200 && st->hang.accepted < 2; i++)
		run_for(st->base, 10);
	assert_int_equal(st->hang.accepted, 2);
	px_validator_free(v);

	/* cancelled with a DNS lookup in flight */
	st->conf.dns_resolver = blackhole;
	v = validator(st);
	assert_int_equal(px_validate(v, &dc, on_done, &c), 0);
	run_for(st->base, 100);
	px_validator_free(v);
	run_for(st->base, 100);
	assert_int_equal(a.calls + b.calls + c.calls + d.calls, 0);
	close(fd);
}

static void
test_free_in_callback(void **ctx)
{
	struct state *st = *ctx;
	struct px_validator *v = validator(st);
	struct outcome a, b;
	struct px_validation good = {
	    "dns-01", "dns", "dns-good.test", TOKEN, KA};
	struct px_validation slow = {"http-01", "dns", "good.test", TOKEN, KA};
	struct px_validate_conf conf = st->conf;
	struct px_validator *v2;

	/* a second validator whose http-01 hangs */
	conf.http01_port = st->hang.port;
	v2 = px_validator_new(st->base, st->ec, &conf);
	assert_non_null(v2);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.free_v = &v;
	assert_int_equal(px_validate(v, &good, on_done, &a), 0);
	assert_int_equal(px_validate(v, &slow, on_done, &b), 0);
	wait_for(st->base, &a, 4000);
	assert_int_equal(a.calls, 1);
	assert_ok(&a);
	assert_null(v);
	run_for(st->base, 50);
	assert_int_equal(b.calls, 0);

	/* and from an http-01 completion, with a transfer of v2 running */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	v = validator(st);
	a.free_v = &v;
	assert_int_equal(px_validate(v2, &slow, on_done, &b), 0);
	assert_int_equal(px_validate(v, &slow, on_done, &a), 0);
	wait_for(st->base, &a, 4000);
	assert_int_equal(a.calls, 1);
	assert_ok(&a);
	assert_null(v);
	assert_int_equal(b.calls, 0);
	px_validator_free(v2);
	run_for(st->base, 50);
	assert_int_equal(b.calls, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_and_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http01, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_http01_redirects, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_http01_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dns01, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tlsalpn01, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_tlsalpn01_ipv6, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_address_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_free_in_callback, setup, teardown),
	};

	int rc;

	/* a peer closing first must not kill the test (the daemon
	 * ignores SIGPIPE the same way) */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	curl_global_cleanup();
	return rc;
}
