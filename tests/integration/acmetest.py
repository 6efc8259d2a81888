#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Small RFC 8555 client for the integration tests: a library (Key, Client,
Http01Responder, make_csr; Checks and need() for counted checks) and a CLI whose subcommands keep their state in a
JSON file so that a shell script can kill and restart the server between
steps.  Standard library plus python3-cryptography only.

CLI (global options before the subcommand):
  acmetest.py --dir URL --ca FILE --state FILE account [--key-type T]
      [--contact mailto:..] [--eab-kid KID --eab-key B64URL]
  acmetest.py ... order --name N [--name N ...] [--challenge http-01]
      [--http01-port P | --webroot DIR] [--until order|authz|valid|finalize]
      [--no-wait] [--tag NAME]                  prints the order as JSON
  acmetest.py ... poll --tag NAME [--until valid] [--timeout S]
      [--cert-out FILE]                         polls the saved order URL
  acmetest.py ... finalize --tag NAME [--until finalize|valid]
      [--cert-out FILE]        waits for ready, finalizes with a new key
  acmetest.py http01-server --port P --webroot DIR [--delay S]
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import socketserver
import ssl
import sys
import threading
import time
import traceback
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)
from cryptography.x509.oid import NameOID

ERR = "urn:ietf:params:acme:error:"


def b64u(data):
    """base64url without padding of bytes (or a str, UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(s):
    s = s.strip()
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


class AcmeError(Exception):
    """A request answered with an unexpected status or problem."""

    def __init__(self, msg, resp=None):
        super().__init__(msg)
        self.resp = resp


# --------------------------------------------------------------- checks


class CheckFailed(Exception):
    """Raised by need(): the check in progress failed; the message says
    why."""


def need(cond, msg):
    """Fail the check in progress (raise CheckFailed(msg)) unless cond."""
    if not cond:
        raise CheckFailed(msg)


def ts():
    """The time of day for PASS/FAIL lines (HH:MM:SS)."""
    return time.strftime("%H:%M:%S")


class Checks:
    """Counted checks of a test script.  ok() and bad() print a PASS or
    FAIL line on stdout and count it; check() is either, by a condition;
    case() is a decorator that registers a function as one named check
    (it passes unless it raises; CheckFailed from need() or any other
    exception fails it) and run_cases() runs the registered cases in
    order; report() writes the counts for the driving shell script (see
    check_add_counts in lib.sh) and prints the summary line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.cases = []

    def ok(self, msg):
        self.passed += 1
        print("[%s] PASS: %s" % (ts(), msg), flush=True)

    def bad(self, msg):
        self.failed += 1
        self.failures.append(msg)
        print("[%s] FAIL: %s" % (ts(), msg), flush=True)

    def check(self, cond, msg):
        """ok(msg) when cond is true, else bad(msg); returns cond."""
        if cond:
            self.ok(msg)
        else:
            self.bad(msg)
        return cond

    def case(self, title):
        """Decorator: run the function as the check named title."""

        def wrap(fn):
            def run():
                try:
                    fn()
                except CheckFailed as e:
                    self.bad("%s: %s" % (title, e))
                except Exception as e:  # noqa: BLE001 - any error fails it
                    self.bad("%s: %s: %s\n%s" % (
                        title, type(e).__name__, e, traceback.format_exc()))
                else:
                    self.ok(title)

            run.__name__ = fn.__name__
            self.cases.append(run)
            return run

        return wrap

    def run_cases(self):
        """Run the cases registered with case(), in order."""
        for fn in self.cases:
            fn()

    def report(self, path, label):
        """Write {"passed", "failed", "failures"} as JSON to path, print
        "label: N passed, M failed"; returns the exit status (1 when a
        check failed)."""
        with open(path, "w") as f:
            json.dump({"passed": self.passed, "failed": self.failed,
                       "failures": self.failures}, f)
        print("%s: %d passed, %d failed" % (label, self.passed, self.failed))
        return 0 if self.failed == 0 else 1


# --------------------------------------------------------------- keys


class Key:
    """An account (or certificate) key with its JWK and JWS algorithm."""

    TYPES = ("ec256", "ec384", "rsa", "rsa2048", "ed25519")

    def __init__(self, priv):
        self.priv = priv
        if isinstance(priv, ec.EllipticCurvePrivateKey):
            self.size = (priv.curve.key_size + 7) // 8
            if priv.curve.name == "secp256r1":
                self.alg, self.crv, self.md = "ES256", "P-256", hashes.SHA256()
            elif priv.curve.name == "secp384r1":
                self.alg, self.crv, self.md = "ES384", "P-384", hashes.SHA384()
            else:
                raise ValueError("unsupported curve " + priv.curve.name)
        elif isinstance(priv, rsa.RSAPrivateKey):
            self.alg, self.md = "RS256", hashes.SHA256()
        elif isinstance(priv, ed25519.Ed25519PrivateKey):
            self.alg, self.md = "EdDSA", None
        else:
            raise ValueError("unsupported key type")

    @classmethod
    def generate(cls, kind="ec256"):
        if kind == "ec256":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if kind == "ec384":
            return cls(ec.generate_private_key(ec.SECP384R1()))
        if kind in ("rsa", "rsa2048"):
            return cls(rsa.generate_private_key(65537, 2048))
        if kind == "ed25519":
            return cls(ed25519.Ed25519PrivateKey.generate())
        raise ValueError("unknown key type " + kind)

    @classmethod
    def from_pem(cls, pem):
        if isinstance(pem, str):
            pem = pem.encode()
        return cls(serialization.load_pem_private_key(pem, None))

    def pem(self):
        return self.priv.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def jwk(self):
        pub = self.priv.public_key()
        if self.alg in ("ES256", "ES384"):
            nums = pub.public_numbers()
            return {
                "crv": self.crv,
                "kty": "EC",
                "x": b64u(nums.x.to_bytes(self.size, "big")),
                "y": b64u(nums.y.to_bytes(self.size, "big")),
            }
        if self.alg == "RS256":
            nums = pub.public_numbers()
            n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
            e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
            return {"e": b64u(e), "kty": "RSA", "n": b64u(n)}
        raw = pub.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"crv": "Ed25519", "kty": "OKP", "x": b64u(raw)}

    def thumbprint(self):
        """RFC 7638 thumbprint, base64url."""
        return b64u(hashlib.sha256(jdump(self.jwk()).encode()).digest())

    def sign(self, data):
        """JWS signature bytes over data for this key's algorithm."""
        if self.alg in ("ES256", "ES384"):
            der = self.priv.sign(data, ec.ECDSA(self.md))
            r, s = decode_dss_signature(der)
            return r.to_bytes(self.size, "big") + s.to_bytes(self.size, "big")
        if self.alg == "RS256":
            return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.priv.sign(data)


def make_csr(names, key=None, cn=None):
    """CSR (DER bytes) for DNS names; the key is generated when None.
    Returns (der, key)."""
    if key is None:
        key = Key.generate("ec256")
    b = x509.CertificateSigningRequestBuilder()
    first = cn if cn is not None else (names[0] if names else None)
    if first:
        b = b.subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)])
        )
    else:
        b = b.subject_name(x509.Name([]))
    if names:
        b = b.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
            critical=False,
        )
    md = None if key.alg == "EdDSA" else hashes.SHA256()
    csr = b.sign(key.priv, md)
    return csr.public_bytes(serialization.Encoding.DER), key


# --------------------------------------------------------------- HTTP


class Response:
    """status, reason, headers (case-insensitive get), body bytes."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self._json = None
        self._json_done = False

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    @property
    def json(self):
        if not self._json_done:
            self._json_done = True
            try:
                self._json = json.loads(self.body.decode())
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    @property
    def ctype(self):
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def problem_type(self):
        j = self.json
        if isinstance(j, dict) and isinstance(j.get("type"), str):
            return j["type"]
        return None

    def describe(self):
        body = self.body.decode(errors="replace")
        if len(body) > 1500:
            body = body[:1500] + "..."
        hdrs = "; ".join("%s: %s" % kv for kv in self.headers.items())
        return "HTTP %d [%s] %s" % (self.status, hdrs, body)


def http_request(method, url, body=None, headers=None, cafile=None,
                 timeout=30):
    """One HTTP(S) request; returns a Response.  body: bytes or None."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        conn = http.client.HTTPSConnection(
            u.hostname, u.port or 443, timeout=timeout, context=ctx
        )
    else:
        conn = http.client.HTTPConnection(
            u.hostname, u.port or 80, timeout=timeout
        )
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.headers, data)
    finally:
        conn.close()


# --------------------------------------------------------------- client


class Client:
    """An ACME client bound to one directory and one account key."""

    def __init__(self, dir_url, cafile=None, key=None, kid=None, timeout=60,
                 verbose=False):
        self.dir_url = dir_url
        self.cafile = cafile
        self.key = key or Key.generate("ec256")
        self.kid = kid
        self.timeout = timeout
        self.verbose = verbose
        self.nonce = None
        self._dir = None

    # ---- plumbing

    def log(self, msg):
        if self.verbose:
            print("acmetest: " + msg, file=sys.stderr)

    def request(self, method, url, body=None, headers=None):
        r = http_request(method, url, body, headers, self.cafile, self.timeout)
        n = r.header("Replay-Nonce")
        if n:
            self.nonce = n
        self.log("%s %s -> %d" % (method, url, r.status))
        return r

    @property
    def directory(self):
        if self._dir is None:
            r = self.request("GET", self.dir_url)
            if r.status != 200 or not isinstance(r.json, dict):
                raise AcmeError("directory: " + r.describe(), r)
            self._dir = r.json
        return self._dir

    def url(self, name):
        return self.directory[name]

    def fresh_nonce(self):
        """A nonce from HEAD newNonce (the cached one is not used)."""
        r = self.request("HEAD", self.url("newNonce"))
        n = r.header("Replay-Nonce")
        if not n:
            raise AcmeError("newNonce gave no Replay-Nonce: " + r.describe(), r)
        return n

    def take_nonce(self):
        n = self.nonce
        self.nonce = None
        return n if n else self.fresh_nonce()

    def jws(self, url, payload, key=None, kid=None, use_jwk=False,
            nonce=None, protected=None, alg=None, tamper=False,
            drop=()):
        """Build a flattened JWS dict.  payload: dict, None (POST-as-GET,
        empty payload) or str/bytes (used as is).  protected: extra or
        overriding header fields; drop: header fields to remove."""
        key = key or self.key
        if payload is None:
            pl = ""
        elif isinstance(payload, (bytes, str)):
            pl = b64u(payload)
        else:
            pl = b64u(json.dumps(payload))
        hdr = {"alg": alg or key.alg, "url": url}
        hdr["nonce"] = nonce if nonce is not None else self.take_nonce()
        if use_jwk:
            hdr["jwk"] = key.jwk()
        else:
            hdr["kid"] = kid or self.kid
        if protected:
            hdr.update(protected)
        for d in drop:
            hdr.pop(d, None)
        ph = b64u(json.dumps(hdr))
        sig = key.sign((ph + "." + pl).encode())
        if tamper:
            sig = bytes([sig[0] ^ 0x01]) + sig[1:]
        return {"protected": ph, "payload": pl, "signature": b64u(sig)}

    def post_raw(self, url, body, ctype="application/jose+json",
                 headers=None):
        """POST bytes (or a dict, JSON-encoded) as is."""
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": ctype} if ctype is not None else {}
        h.update(headers or {})
        return self.request("POST", url, body, h)

    def post(self, url, payload, retry_nonce=True, **kw):
        """Signed POST (kid by default); retries once on badNonce."""
        for attempt in (0, 1):
            r = self.post_raw(url, self.jws(url, payload, **kw))
            if (retry_nonce and attempt == 0 and r.status == 400
                    and r.problem_type == ERR + "badNonce"
                    and "nonce" not in kw):
                self.log("badNonce, retrying")
                continue
            return r
        return r

    def get(self, url, **kw):
        """POST-as-GET."""
        return self.post(url, None, **kw)

    @staticmethod
    def expect(r, statuses, what):
        if isinstance(statuses, int):
            statuses = (statuses,)
        if r.status not in statuses:
            raise AcmeError("%s: expected %s, got %s" % (
                what, statuses, r.describe()), r)
        return r

    # ---- account

    def new_account(self, contact=None, tos=True, eab_kid=None, eab_key=None,
                    only_existing=False, extra=None):
        payload = {}
        if tos:
            payload["termsOfServiceAgreed"] = True
        if contact:
            payload["contact"] = list(contact)
        if only_existing:
            payload["onlyReturnExisting"] = True
        if eab_kid:
            payload["externalAccountBinding"] = self.eab(eab_kid, eab_key)
        if extra:
            payload.update(extra)
        url = self.url("newAccount")
        r = self.post(url, payload, use_jwk=True)
        if r.status in (200, 201):
            self.kid = r.header("Location")
        return r

    def eab(self, eab_kid, eab_key, url=None, jwk=None):
        hdr = {"alg": "HS256", "kid": eab_kid,
               "url": url or self.url("newAccount")}
        ph = b64u(json.dumps(hdr))
        pl = b64u(json.dumps(jwk or self.key.jwk()))
        mac = hmac.new(b64u_dec(eab_key), (ph + "." + pl).encode(),
                       hashlib.sha256).digest()
        return {"protected": ph, "payload": pl, "signature": b64u(mac)}

    def register(self, **kw):
        r = self.new_account(**kw)
        self.expect(r, (200, 201), "newAccount")
        if not self.kid:
            raise AcmeError("newAccount without Location: " + r.describe(), r)
        return r

    # ---- orders

    @staticmethod
    def identifiers(names):
        out = []
        for n in names:
            if isinstance(n, dict):
                out.append(n)
            else:
                out.append({"type": "dns", "value": n})
        return out

    def new_order(self, names, extra=None):
        payload = {"identifiers": self.identifiers(names)}
        if extra:
            payload.update(extra)
        return self.post(self.url("newOrder"), payload)

    def order(self, names):
        """newOrder that must succeed; returns (order_url, order_json)."""
        r = self.expect(self.new_order(names), 201, "newOrder")
        loc = r.header("Location")
        if not loc:
            raise AcmeError("newOrder without Location: " + r.describe(), r)
        return loc, r.json

    def key_authorization(self, token):
        return token + "." + self.key.thumbprint()

    def answer(self, chall_url):
        r = self.post(chall_url, {})
        return self.expect(r, (200, 202), "challenge POST")

    def wait_authz(self, authz_url, timeout=60):
        """Poll the authorization until it leaves pending/processing."""
        end = time.time() + timeout
        while True:
            r = self.expect(self.get(authz_url), 200, "authz")
            st = r.json.get("status")
            if st not in ("pending", "processing"):
                return r
            if time.time() > end:
                raise AcmeError("authz still %s after %ds" % (st, timeout), r)
            time.sleep(self.retry_delay(r, 0.25))

    @staticmethod
    def retry_delay(r, default=1.0, cap=5.0):
        ra = r.header("Retry-After")
        try:
            v = float(ra) if ra else default
        except ValueError:
            v = default
        return max(0.1, min(v, cap))

    def poll_order(self, order_url, until=("valid", "invalid"), timeout=60,
                   cap=5.0):
        """POST-as-GET the order until its status is in until (honours
        Retry-After, capped at cap seconds).  Returns the last Response."""
        if isinstance(until, str):
            until = (until,)
        end = time.time() + timeout
        while True:
            try:
                r = self.get(order_url)
            except OSError as e:
                # the server may be restarting
                if time.time() > end:
                    raise AcmeError("order poll: %s" % e)
                self.nonce = None
                time.sleep(0.5)
                continue
            if r.status == 200 and r.json.get("status") in until:
                return r
            if r.status not in (200,) and r.status < 500:
                raise AcmeError("order poll: " + r.describe(), r)
            if time.time() > end:
                raise AcmeError("order not %s after %ds: %s" % (
                    "/".join(until), timeout, r.describe()), r)
            time.sleep(self.retry_delay(r, 1.0, cap))

    def finalize(self, order_json, csr_der):
        return self.post(order_json["finalize"], {"csr": b64u(csr_der)})

    def download(self, cert_url, accept=None):
        """POST-as-GET the certificate; returns the Response."""
        hdr = {"Accept": accept} if accept else None
        body = json.dumps(self.jws(cert_url, None)).encode()
        h = {"Content-Type": "application/jose+json"}
        if hdr:
            h.update(hdr)
        return self.request("POST", cert_url, body, h)

    def authorize(self, order_json, responder=None, webroot=None,
                  chall_type="http-01", answer=True, wait=True):
        """Answer one chall_type challenge of every pending authorization
        (tokens are published in responder or written to webroot).
        Returns the list of authorization URLs."""
        urls = order_json.get("authorizations", [])
        for au in urls:
            a = self.expect(self.get(au), 200, "authz").json
            if a.get("status") != "pending":
                continue
            ch = [c for c in a["challenges"] if c["type"] == chall_type]
            if not ch:
                raise AcmeError("no %s challenge in %s" % (chall_type, a))
            ch = ch[0]
            ka = self.key_authorization(ch["token"])
            if responder is not None:
                responder.tokens[ch["token"]] = ka
            if webroot is not None:
                d = os.path.join(webroot, ".well-known", "acme-challenge")
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, ch["token"]), "w") as f:
                    f.write(ka)
            if answer:
                self.answer(ch["url"])
        if answer and wait:
            for au in urls:
                a = self.wait_authz(au).json
                if a.get("status") != "valid":
                    raise AcmeError("authz %s: %s" % (au, a))
        return urls

    def issue(self, names, responder=None, webroot=None, csr_key=None,
              timeout=60):
        """Whole flow; returns (order_url, final order json, chain PEM)."""
        ourl, o = self.order(names)
        self.authorize(o, responder=responder, webroot=webroot)
        o = self.poll_order(ourl, ("ready", "invalid", "valid"), timeout).json
        if o["status"] != "ready":
            raise AcmeError("order not ready: %s" % o)
        der, _ = make_csr([n for n in names], csr_key)
        r = self.expect(self.finalize(o, der), 200, "finalize")
        o = r.json
        if o.get("status") != "valid":
            o = self.poll_order(ourl, ("valid", "invalid"), timeout).json
        if o.get("status") != "valid":
            raise AcmeError("order not valid: %s" % o)
        c = self.expect(self.download(o["certificate"]), 200, "certificate")
        return ourl, o, c.body.decode()


# --------------------------------------------------------------- http-01


class _Http01Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        srv = self.server
        prefix = "/.well-known/acme-challenge/"
        tok = self.path[len(prefix):] if self.path.startswith(prefix) else None
        val = None
        if tok is not None:
            val = srv.owner.tokens.get(tok)
            if val is None and srv.owner.webroot:
                p = os.path.join(srv.owner.webroot, ".well-known",
                                 "acme-challenge", os.path.basename(tok))
                try:
                    with open(p) as f:
                        val = f.read()
                except OSError:
                    val = None
        srv.owner.hits.append(self.path)
        if srv.owner.hit_log:
            print("hit %s" % self.path, flush=True)
        if srv.owner.delay > 0:
            time.sleep(srv.owner.delay)
        if val is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = val.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if self.server.owner.verbose:
            sys.stderr.write("http01: " + (fmt % args) + "\n")


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Http01Responder:
    """Serves /.well-known/acme-challenge/TOKEN on 127.0.0.1:port from the
    tokens dict (or files under webroot), in a thread."""

    def __init__(self, port, webroot=None, delay=0.0, verbose=False):
        self.port = port
        self.tokens = {}
        self.webroot = webroot
        self.delay = delay
        self.verbose = verbose
        self.hits = []
        self.hit_log = False
        self.srv = _ThreadingServer(("127.0.0.1", port), _Http01Handler)
        self.srv.owner = self
        self.th = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        self.th.start()
        return self

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# --------------------------------------------------------------- CLI


def _load_state(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def _save_state(path, st):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.replace(tmp, path)


def _client(a, st):
    key = Key.from_pem(st["key"]) if "key" in st else None
    return Client(a.dir, a.ca, key=key, kid=st.get("kid"),
                  verbose=a.verbose)


def _save_cert(c, o, path):
    """Download the certificate of order o to path (when both are given)."""
    if path and o.get("certificate"):
        cr = c.expect(c.download(o["certificate"]), 200, "cert")
        with open(path, "wb") as f:
            f.write(cr.body)


def _finalize(a, c, st, ent, o, out):
    """Finalize the ready order o (state entry ent) with a CSR for a new
    key, saved in the state first; the answer goes to out.  With --until
    valid, wait for the order and save the certificate to --cert-out."""
    der, ckey = make_csr(ent["names"], cn=ent.get("cn"))
    ent["csr_key"] = ckey.pem()
    _save_state(a.state, st)
    r = c.finalize(o, der)
    out["finalize_status"] = r.status
    out["order"] = r.json
    if r.status != 200:
        raise AcmeError("finalize: " + r.describe(), r)
    if a.until == "valid":
        o = c.poll_order(ent["url"], ("valid", "invalid"), a.timeout).json
        out["order"] = o
        _save_cert(c, o, a.cert_out)


def cmd_account(a):
    st = _load_state(a.state)
    if "key" not in st:
        st["key"] = Key.generate(a.key_type).pem()
    c = _client(a, st)
    r = c.register(contact=a.contact, eab_kid=a.eab_kid, eab_key=a.eab_key)
    st["kid"] = c.kid
    _save_state(a.state, st)
    print(json.dumps({"kid": c.kid, "status": r.status,
                      "account": r.json}))
    return 0


def cmd_order(a):
    st = _load_state(a.state)
    c = _client(a, st)
    if not c.kid:
        raise AcmeError("no account in %s (run 'account' first)" % a.state)
    ourl, o = c.order(a.name)
    orders = st.setdefault("orders", {})
    ent = {"url": ourl, "names": a.name}
    if a.cn:
        ent["cn"] = a.cn
    orders[a.tag or ourl] = ent
    _save_state(a.state, st)
    out = {"url": ourl, "order": o}
    if a.until == "order":
        print(json.dumps(out))
        return 0
    resp = None
    if a.http01_port:
        resp = Http01Responder(a.http01_port, verbose=a.verbose).start()
    try:
        c.authorize(o, responder=resp, webroot=a.webroot,
                    chall_type=a.challenge, wait=a.until != "authz")
        if a.until == "authz":
            out["order"] = c.expect(c.get(ourl), 200, "order").json
            out["authzs"] = [c.expect(c.get(u), 200, "authz").json
                             for u in o["authorizations"]]
            print(json.dumps(out))
            return 0
        o = c.poll_order(ourl, ("ready", "invalid", "valid"),
                         a.timeout).json
        out["order"] = o
        if a.until == "ready" or o["status"] != "ready":
            print(json.dumps(out))
            return 0
        _finalize(a, c, st, ent, o, out)
    finally:
        if resp is not None:
            resp.close()
    print(json.dumps(out))
    return 0


def cmd_poll(a):
    st = _load_state(a.state)
    c = _client(a, st)
    ent = st.get("orders", {}).get(a.tag)
    url = ent["url"] if ent else a.tag
    r = c.poll_order(url, tuple(a.until.split(",")), a.timeout)
    o = r.json
    _save_cert(c, o, a.cert_out)
    print(json.dumps({"url": url, "order": o}))
    return 0


def cmd_finalize(a):
    st = _load_state(a.state)
    c = _client(a, st)
    ent = st.get("orders", {}).get(a.tag)
    if ent is None:
        raise AcmeError("no order %r in %s" % (a.tag, a.state))
    url = ent["url"]
    o = c.poll_order(url, ("ready", "invalid", "valid", "processing"),
                     a.timeout).json
    out = {"url": url, "order": o}
    if o["status"] != "ready":
        raise AcmeError("order is %s, not ready: %s" % (o["status"], o))
    _finalize(a, c, st, ent, o, out)
    print(json.dumps(out))
    return 0


def cmd_http01_server(a):
    r = Http01Responder(a.port, webroot=a.webroot, delay=a.delay,
                        verbose=a.verbose)
    r.hit_log = True
    print("http01 responder on 127.0.0.1:%d" % a.port, flush=True)
    try:
        r.srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="small ACME test client")
    p.add_argument("--dir", default=os.environ.get("BRIDGE_DIR_URL"),
                   help="directory URL (default $BRIDGE_DIR_URL)")
    p.add_argument("--ca", default=os.environ.get("BRIDGE_CA"),
                   help="CA file for the server (default $BRIDGE_CA)")
    p.add_argument("--state", help="state file (JSON)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("account")
    s.add_argument("--key-type", default="ec256", choices=Key.TYPES)
    s.add_argument("--contact", action="append")
    s.add_argument("--eab-kid")
    s.add_argument("--eab-key")
    s.set_defaults(fn=cmd_account)

    s = sub.add_parser("order")
    s.add_argument("--name", action="append", required=True)
    s.add_argument("--cn", help="CSR common name (default: the first name)")
    s.add_argument("--tag")
    s.add_argument("--challenge", default="http-01")
    s.add_argument("--http01-port", type=int)
    s.add_argument("--webroot")
    s.add_argument("--until", default="valid",
                   choices=("order", "authz", "ready", "finalize", "valid"))
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--cert-out")
    s.set_defaults(fn=cmd_order)

    s = sub.add_parser("poll")
    s.add_argument("--tag", required=True, help="tag or order URL")
    s.add_argument("--until", default="valid,invalid")
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--cert-out")
    s.set_defaults(fn=cmd_poll)

    s = sub.add_parser("finalize")
    s.add_argument("--tag", required=True)
    s.add_argument("--until", default="valid",
                   choices=("finalize", "valid"))
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--cert-out")
    s.set_defaults(fn=cmd_finalize)

    s = sub.add_parser("http01-server")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--webroot", required=True)
    s.add_argument("--delay", type=float, default=0.0)
    s.set_defaults(fn=cmd_http01_server)

    a = p.parse_args(argv)
    if a.cmd != "http01-server" and (not a.dir or not a.state):
        p.error("--dir and --state are needed")
    try:
        return a.fn(a)
    except AcmeError as e:
        print("acmetest: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
