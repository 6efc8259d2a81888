#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""RFC 8738 IP identifiers and RFC 8737 tls-alpn-01 end to end (driven by
test_ip_identifiers.sh): an IP order over http-01, a DNS and an IP order
over tls-alpn-01 (answered by a TLS server here), wrong answers that must
fail, and IPv6 canonicalisation.  Needs BRIDGE_DIR_URL, BRIDGE_CA,
HTTP01_PORT, TLSALPN_PORT, ZONE and OUT (directory for certificates and
the counts)."""

import datetime
import hashlib
import ipaddress
import json
import os
import secrets
import socket
import ssl
import sys
import threading
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import (  # noqa: E402
    ERR,
    Checks,
    Client,
    Http01Responder,
    Key,
    make_csr,
    need,
)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509.oid import NameOID, ObjectIdentifier  # noqa: E402

DIR = os.environ["BRIDGE_DIR_URL"]
CA = os.environ["BRIDGE_CA"]
HTTP01_PORT = int(os.environ["HTTP01_PORT"])
TLSALPN_PORT = int(os.environ["TLSALPN_PORT"])
ZONE = os.environ.get("ZONE", "example.test")
OUT = os.environ["OUT"]

ACME_TLS_ALPN = "acme-tls/1"
OID_ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
IP4 = "127.0.0.1"
IP4_REVERSE = "1.0.0.127.in-addr.arpa"

CHECKS = Checks()
bad = CHECKS.bad
case = CHECKS.case


def name(label):
    return "%s-%s.%s" % (label, secrets.token_hex(3), ZONE)


# ----------------------------------------------------------- certificates


def csr_for(dns=(), ips=(), cn=None):
    """CSR (DER) with the given dNSName and iPAddress SANs; returns
    (der, key)."""
    key = Key.generate("ec256")
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    sans = [x509.DNSName(n) for n in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name(attrs))
           .add_extension(x509.SubjectAlternativeName(sans), critical=False)
           .sign(key.priv, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.DER), key


def alpn_cert(san, key_authz, critical=True, digest=None):
    """Self-signed tls-alpn-01 certificate (RFC 8737 §3): one SAN (an
    x509.GeneralName) and the acmeIdentifier extension holding the DER
    OCTET STRING of SHA-256(key_authz) (or of digest when given).
    Returns (cert PEM path, key PEM path)."""
    key = Key.generate("ec256")
    if digest is None:
        digest = hashlib.sha256(key_authz.encode()).digest()
    value = bytes([0x04, len(digest)]) + digest
    now = datetime.datetime.utcnow()
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "acme tls-alpn-01 test")])
    cert = (x509.CertificateBuilder()
            .subject_name(subj)
            .issuer_name(subj)
            .public_key(key.priv.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]),
                           critical=False)
            .add_extension(x509.UnrecognizedExtension(OID_ACME_IDENTIFIER,
                                                      value),
                           critical=critical)
            .sign(key.priv, hashes.SHA256()))
    tag = secrets.token_hex(4)
    cpath = os.path.join(OUT, "alpn-%s.crt" % tag)
    kpath = os.path.join(OUT, "alpn-%s.key" % tag)
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kpath, "w") as f:
        f.write(key.pem())
    return cpath, kpath


# ----------------------------------------------------------- tls-alpn-01


class TlsAlpnResponder:
    """TLS server on 127.0.0.1:port offering only ALPN "acme-tls/1"; the
    certificate is chosen by the SNI the client sends (certs: SNI ->
    (cert path, key path)).  Every handshake is recorded in conns as a
    dict {sni, alpn, error}."""

    def __init__(self, port):
        self.certs = {}
        self.conns = []
        self.lock = threading.Lock()
        cpath, kpath = alpn_cert(x509.DNSName("default.invalid"), "none")
        self.default = self._ctx(cpath, kpath)
        self.default.sni_callback = self._on_sni
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()

    @staticmethod
    def _ctx(cpath, kpath):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols([ACME_TLS_ALPN])
        ctx.load_cert_chain(cpath, kpath)
        return ctx

    def serve(self, sni, cpath, kpath):
        ctx = self._ctx(cpath, kpath)
        with self.lock:
            self.certs[sni.lower()] = ctx

    def seen(self):
        with self.lock:
            return list(self.conns)

    def _on_sni(self, sock, server_name, _ctx):
        # sock is the SSLSocket being handshaken
        rec = sock.acme_rec = {"sni": server_name, "alpn": None,
                               "error": None}
        with self.lock:
            self.conns.append(rec)
            ctx = self.certs.get((server_name or "").lower())
        if ctx is not None:
            sock.context = ctx
        return None

    def _handle(self, conn):
        conn.settimeout(10)
        try:
            tls = self.default.wrap_socket(conn, server_side=True,
                                           do_handshake_on_connect=False)
        except OSError:
            conn.close()
            return
        try:
            tls.do_handshake()
            alpn = tls.selected_alpn_protocol()
            rec = getattr(tls, "acme_rec", None)
            if rec is None:
                # no SNI at all: record that too
                rec = {"sni": None, "alpn": None, "error": None}
                with self.lock:
                    self.conns.append(rec)
            rec["alpn"] = alpn
            # the validator hangs up after the handshake; wait for it
            try:
                tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
        except (OSError, ssl.SSLError) as e:
            with self.lock:
                self.conns.append({"sni": None, "alpn": None,
                                   "error": str(e)})
        finally:
            tls.close()

    def _loop(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,),
                             daemon=True).start()

    def close(self):
        self.stop.set()
        self.th.join(2)
        self.sock.close()


# ----------------------------------------------------------- helpers

A = Client(DIR, CA)
ALPN = None  # TlsAlpnResponder
HTTP = None  # Http01Responder


def get_json(url, what):
    return A.expect(A.get(url), 200, what).json


def one_authz(order):
    az = order.get("authorizations") or []
    need(len(az) == 1, "expected one authorization, got %r" % az)
    return az[0], get_json(az[0], "authz")


def chall_of(authz, ctype):
    ch = [c for c in authz.get("challenges", []) if c.get("type") == ctype]
    need(len(ch) == 1, "authorization has %d %s challenges: %s" % (
        len(ch), ctype, authz))
    return ch[0]


def finish(order_url, csr_der, out_name):
    """Wait for ready, finalize, wait for valid, save the chain PEM."""
    o = A.poll_order(order_url, ("ready", "invalid", "valid"), 60).json
    need(o.get("status") == "ready", "order not ready: %s" % o)
    r = A.finalize(o, csr_der)
    need(r.status == 200, "finalize: %s" % r.describe())
    o = r.json
    if o.get("status") != "valid":
        o = A.poll_order(order_url, ("valid", "invalid"), 90).json
    need(o.get("status") == "valid", "order not valid: %s" % o)
    need(isinstance(o.get("certificate"), str), "no certificate URL: %s" % o)
    c = A.download(o["certificate"])
    need(c.status == 200, "certificate download: %s" % c.describe())
    pem = c.body.decode()
    need("-----BEGIN CERTIFICATE-----" in pem, "not PEM: %r" % pem[:200])
    with open(os.path.join(OUT, out_name), "w") as f:
        f.write(pem)
    return x509.load_pem_x509_certificate(pem.encode())


def leaf_sans(cert):
    ext = cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    return ([str(a) for a in ext.get_values_for_type(x509.IPAddress)],
            ext.get_values_for_type(x509.DNSName))


def answer_alpn(order, sni, san, digest=None):
    """Serve a tls-alpn-01 certificate for sni, answer the challenge and
    wait for the authorization to leave pending.  Returns
    (authz url, authz json, challenge json)."""
    au, a = one_authz(order)
    ch = chall_of(a, "tls-alpn-01")
    ka = A.key_authorization(ch["token"])
    cpath, kpath = alpn_cert(san, ka, digest=digest)
    ALPN.serve(sni, cpath, kpath)
    A.answer(ch["url"])
    a = A.wait_authz(au, 60).json
    return au, a, get_json(ch["url"], "challenge")


def need_sni(sni, alpn=True):
    recs = [c for c in ALPN.seen() if c["sni"] == sni]
    need(recs, "the TLS server never got SNI %r (handshakes: %s)" % (
        sni, ALPN.seen()))
    if alpn:
        need(any(c["alpn"] == ACME_TLS_ALPN for c in recs),
             "no handshake with SNI %r negotiated ALPN %s: %s" % (
                 sni, ACME_TLS_ALPN, recs))


def need_invalid(order_url, au, a, ch, detail_words):
    need(a.get("status") == "invalid",
         "authorization is %r, not invalid: %s" % (a.get("status"), a))
    need(ch.get("status") == "invalid",
         "challenge is %r, not invalid: %s" % (ch.get("status"), ch))
    err = ch.get("error")
    need(isinstance(err, dict), "invalid challenge without error: %s" % ch)
    need(err.get("type") in (ERR + "incorrectResponse", ERR + "unauthorized"),
         "challenge error type %r, expected incorrectResponse or "
         "unauthorized: %s" % (err.get("type"), err))
    det = err.get("detail") or ""
    need(any(w in det for w in detail_words),
         "challenge error detail %r mentions none of %r" % (det, detail_words))
    print("  challenge error: %s" % json.dumps(err), flush=True)
    o = A.poll_order(order_url, ("invalid", "valid", "ready"), 30).json
    need(o.get("status") == "invalid",
         "order is %r, not invalid: %s" % (o.get("status"), o))
    if "error" in o:
        oe = o["error"]
        need(isinstance(oe, dict) and isinstance(oe.get("type"), str) and
             oe["type"].startswith(ERR),
             "order error is not a problem document: %r" % oe)
    # the order is dead: finalize must be refused
    r = A.finalize(o, csr_for(dns=["x." + ZONE])[0])
    need(r.status == 403 and r.problem_type == ERR + "orderNotReady",
         "finalize of an invalid order: expected 403 orderNotReady, got %s"
         % r.describe())


# ----------------------------------------------------------- cases


@case("IPv4 order: identifier kept, authz offers http-01 and tls-alpn-01 "
      "but not dns-01 (RFC 8738 §7); http-01 to the IP itself; certificate "
      "with iPAddress SAN")
def t_ip_http01():
    url, o = A.order([{"type": "ip", "value": IP4}])
    need(o.get("identifiers") == [{"type": "ip", "value": IP4}],
         "order identifiers %r" % o.get("identifiers"))
    au, a = one_authz(o)
    need(a.get("identifier") == {"type": "ip", "value": IP4},
         "authz identifier %r" % a.get("identifier"))
    need(not a.get("wildcard"), "wildcard set on an IP authz: %s" % a)
    types = sorted(c.get("type") for c in a.get("challenges", []))
    need("http-01" in types and "tls-alpn-01" in types,
         "challenges %r lack http-01 or tls-alpn-01" % types)
    need("dns-01" not in types, "dns-01 offered for an IP: %r" % types)
    ch = chall_of(a, "http-01")
    HTTP.tokens[ch["token"]] = A.key_authorization(ch["token"])
    A.answer(ch["url"])
    a = A.wait_authz(au, 60).json
    chj = get_json(ch["url"], "challenge")
    need(a.get("status") == "valid", "authz %s (challenge %s)" % (a, chj))
    need("/.well-known/acme-challenge/" + ch["token"] in HTTP.hits,
         "the http-01 responder was never asked for the token (hits %r)"
         % HTTP.hits)
    need(chj.get("status") == "valid" and chj.get("validated"),
         "challenge %s" % chj)
    der, _ = csr_for(ips=[IP4])
    cert = finish(url, der, "ip-http01.pem")
    ips, dns = leaf_sans(cert)
    need(ips == [IP4] and dns == [],
         "leaf SANs: ip %r dns %r, expected only IP %s" % (ips, dns, IP4))


@case("tls-alpn-01 for a DNS name: SNI is the name, ALPN acme-tls/1, "
      "acmeIdentifier checked; certificate issued")
def t_dns_tlsalpn():
    n = name("alpn")
    url, o = A.order([n])
    au, a, ch = answer_alpn(o, n, x509.DNSName(n))
    need(a.get("status") == "valid", "authz %s (challenge %s)" % (a, ch))
    need(ch.get("status") == "valid", "challenge %s" % ch)
    need_sni(n)
    der, _ = make_csr([n])
    cert = finish(url, der, "alpn-dns.pem")
    with open(os.path.join(OUT, "alpn-dns.names"), "w") as f:
        f.write(n + "\n")
    ips, dns = leaf_sans(cert)
    need(dns == [n] and ips == [], "leaf SANs: dns %r ip %r" % (dns, ips))


@case("tls-alpn-01 for IP 127.0.0.1: SNI %s (RFC 8738 §6), iPAddress "
      "SAN; certificate issued" % IP4_REVERSE)
def t_ip_tlsalpn():
    url, o = A.order([{"type": "ip", "value": IP4}])
    au, a = one_authz(o)
    need(a.get("status") == "pending",
         "a second IP order must validate again (reuse is off): %s" % a)
    au, a, ch = answer_alpn(o, IP4_REVERSE,
                            x509.IPAddress(ipaddress.ip_address(IP4)))
    need(a.get("status") == "valid", "authz %s (challenge %s)" % (a, ch))
    need(ch.get("status") == "valid", "challenge %s" % ch)
    need_sni(IP4_REVERSE)
    need(not any(c["sni"] == IP4 for c in ALPN.seen()),
         "the validator sent the address itself as SNI: %s" % ALPN.seen())
    der, _ = csr_for(ips=[IP4], cn=IP4)
    cert = finish(url, der, "ip-alpn.pem")
    ips, dns = leaf_sans(cert)
    need(ips == [IP4] and dns == [], "leaf SANs: ip %r dns %r" % (ips, dns))


@case("tls-alpn-01 with a wrong SHA-256 in acmeIdentifier -> challenge and "
      "authz invalid (incorrectResponse/unauthorized, detail names the "
      "extension), order invalid")
def t_wrong_digest():
    n = name("badalpn")
    url, o = A.order([n])
    au, a, ch = answer_alpn(o, n, x509.DNSName(n),
                            digest=hashlib.sha256(b"not the key authz")
                            .digest())
    need_sni(n)
    need_invalid(url, au, a, ch, ("acmeIdentifier", "1.3.6.1.5.5.7.1.31"))


@case("tls-alpn-01 for an IP answered with a dNSName SAN \"127.0.0.1\" "
      "-> invalid (the SAN must be an iPAddress)")
def t_ip_dns_san():
    url, o = A.order([{"type": "ip", "value": IP4}])
    au, a, ch = answer_alpn(o, IP4_REVERSE, x509.DNSName(IP4))
    need_sni(IP4_REVERSE)
    need_invalid(url, au, a, ch, ("iPAddress", "subjectAltName"))


@case("IPv6: newOrder \"0:0:0:0:0:0:0:1\" comes back as \"::1\" in the "
      "order and authz, without dns-01")
def t_ipv6_canonical():
    url, o = A.order([{"type": "ip", "value": "0:0:0:0:0:0:0:1"}])
    need(o.get("identifiers") == [{"type": "ip", "value": "::1"}],
         "order identifiers %r" % o.get("identifiers"))
    o2 = get_json(url, "order")
    need(o2.get("identifiers") == [{"type": "ip", "value": "::1"}],
         "order identifiers on POST-as-GET %r" % o2.get("identifiers"))
    au, a = one_authz(o)
    need(a.get("identifier") == {"type": "ip", "value": "::1"},
         "authz identifier %r" % a.get("identifier"))
    types = sorted(c.get("type") for c in a.get("challenges", []))
    need("dns-01" not in types and "http-01" in types,
         "IPv6 authz challenges %r" % types)


@case("IPv6 \"0:0::0:1\" and \"2001:DB8:0:0:0:0:0:1\" are canonicalised "
      "too (\"::1\", \"2001:db8::1\")")
def t_ipv6_canonical_case():
    url, o = A.order([{"type": "ip", "value": "0:0::0:1"},
                      {"type": "ip", "value": "2001:DB8:0:0:0:0:0:1"}])
    got = sorted((i.get("type"), i.get("value"))
                 for i in o.get("identifiers", []))
    need(got == [("ip", "2001:db8::1"), ("ip", "::1")],
         "order identifiers %r" % o.get("identifiers"))


def main():
    global ALPN, HTTP
    try:
        A.register(contact=["mailto:ip@" + ZONE])
        HTTP = Http01Responder(HTTP01_PORT).start()
        ALPN = TlsAlpnResponder(TLSALPN_PORT)
    except Exception as e:  # noqa: BLE001
        bad("setup (account, responders): %s\n%s" % (
            e, traceback.format_exc()))
    else:
        CHECKS.run_cases()
        print("tls-alpn-01 handshakes seen: %s" % json.dumps(ALPN.seen()),
              flush=True)
    finally:
        if HTTP is not None:
            HTTP.close()
        if ALPN is not None:
            ALPN.close()
    return CHECKS.report(os.path.join(OUT, "py-counts.json"),
                         "ip/tls-alpn checks")


if __name__ == "__main__":
    sys.exit(main())
