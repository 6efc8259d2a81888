#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The HTTPS front end under abuse, driven by test_frontend.sh with small
limits (frontend.max_connections_per_ip = PER_IP, request_timeout_seconds
= REQ_TIMEOUT): a body too large gets a problem document the client can
read, a slowloris client is cut off at the request deadline while others
are served, connections over the per-address limit are closed at once,
TLS 1.2 offers only ECDHE with AEAD, and the self-signed leaf is no CA.
Needs BRIDGE_URL, BRIDGE_CA, PER_IP, REQ_TIMEOUT and OUT."""

import os
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import ERR, Checks, need  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID  # noqa: E402

URL = os.environ["BRIDGE_URL"]
CA = os.environ["BRIDGE_CA"]
PER_IP = int(os.environ["PER_IP"])
REQ_TIMEOUT = int(os.environ["REQ_TIMEOUT"])
OUT = os.environ["OUT"]
HOST, PORT = URL[len("https://"):].rsplit(":", 1)
PORT = int(PORT)

CHECKS = Checks()
case = CHECKS.case


def context(tls12=None):
    ctx = ssl.create_default_context(cafile=CA)
    if tls12 is not None:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(tls12)
    return ctx


def connect(ctx=None, timeout=10):
    raw = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        return (ctx or context()).wrap_socket(raw, server_hostname=HOST)
    except BaseException:
        raw.close()
        raise


def read_response(s):
    """(status, {lower-case header: value}, body) of one HTTP/1.1 reply."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        need(chunk, "connection closed before the reply headers (%r)" %
             data[:200])
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        need(chunk, "connection closed in the reply body")
        body += chunk
    return status, hdrs, body[:n]


def get_directory(s):
    s.sendall(("GET /directory HTTP/1.1\r\nHost: %s\r\n\r\n" %
               HOST).encode())
    return read_response(s)


def post_big(size):
    s = connect(timeout=30)
    try:
        s.sendall(("POST /new-account HTTP/1.1\r\nHost: %s\r\n"
                   "Content-Type: application/jose+json\r\n"
                   "Content-Length: %d\r\n\r\n" % (HOST, size)).encode())
        block = b"x" * 65536
        left = size
        while left > 0:
            s.sendall(block[:min(left, len(block))])
            left -= min(left, len(block))
        return read_response(s)
    finally:
        s.close()


@case("a 1 MiB POST gets 413 problem+json (malformed) with a Replay-Nonce")
def big_body():
    st, h, body = post_big(1024 * 1024)
    need(st == 413, "status %d, want 413 (body %r)" % (st, body[:200]))
    need(h.get("content-type") == "application/problem+json",
         "Content-Type %r" % h.get("content-type"))
    need(h.get("replay-nonce"), "no Replay-Nonce")
    need(b'"' + (ERR + "malformed").encode() + b'"' in body,
         "problem type is not malformed: %r" % body[:300])


@case("a 4 MiB POST gets a 413 the client can read")
def huge_body():
    st, h, body = post_big(4 * 1024 * 1024)
    need(st == 413, "status %d, want 413" % st)


@case("a slowloris client is cut off at the request deadline while a "
      "normal client is served")
def slowloris():
    s = connect()
    start = time.monotonic()
    req = b"GET /directory HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    closed_after = None
    served = []

    def normal():
        time.sleep(1)
        c = connect()
        try:
            served.append(get_directory(c)[0])
        finally:
            c.close()

    t = threading.Thread(target=normal)
    t.start()
    try:
        for b in req:
            s.sendall(bytes([b]))
            time.sleep(1)
            if time.monotonic() - start > REQ_TIMEOUT + 10:
                break
    except (OSError, ssl.SSLError):
        closed_after = time.monotonic() - start
    if closed_after is None:
        # the send may still succeed after the close: look for EOF
        s.settimeout(2)
        try:
            if s.recv(100) == b"":
                closed_after = time.monotonic() - start
        except socket.timeout:
            pass  # still open
        except (OSError, ssl.SSLError):
            closed_after = time.monotonic() - start
    s.close()
    t.join()
    need(served == [200], "the normal client got %r" % served)
    need(closed_after is not None,
         "still open after %d s of trickling" % (REQ_TIMEOUT + 10))
    need(REQ_TIMEOUT - 1 <= closed_after <= REQ_TIMEOUT + 4,
         "closed after %.1f s, want about %d s" % (closed_after, REQ_TIMEOUT))


@case("connections over max_connections_per_ip are closed at once; the "
      "directory answers again afterwards")
def per_ip():
    held, refused = [], 0
    try:
        for _ in range(PER_IP + 4):
            try:
                s = connect(timeout=5)
                s.settimeout(5)
                held.append(s)
            except (OSError, ssl.SSLError):
                refused += 1
        # a refused connection may have finished its handshake first:
        # it must not answer a request
        answered = 0
        for s in held:
            try:
                if get_directory(s)[0] == 200:
                    answered += 1
            except (OSError, ssl.SSLError, Exception):  # noqa: BLE001
                refused += 1
        need(answered == PER_IP and refused == 4,
             "%d connections answered, %d refused; want %d and 4" %
             (answered, refused, PER_IP))
    finally:
        for s in held:
            s.close()
    time.sleep(1)
    c = connect()
    try:
        need(get_directory(c)[0] == 200, "directory refused afterwards")
    finally:
        c.close()


def key_is_ec():
    with open(CA, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


@case("TLS 1.2 with a CBC suite is refused, ECDHE with AES-GCM accepted")
def tls12_suites():
    kx = "ECDHE-ECDSA" if key_is_ec() else "ECDHE-RSA"
    try:
        s = connect(context(kx + "-AES128-SHA"))
        s.close()
        need(False, "%s-AES128-SHA was accepted" % kx)
    except ssl.SSLError:
        pass
    s = connect(context(kx + "-AES128-GCM-SHA256"))
    try:
        need(s.version() == "TLSv1.2" and "GCM" in s.cipher()[0],
             "negotiated %s %s" % (s.version(), s.cipher()))
        need(get_directory(s)[0] == 200, "no directory over AES-GCM")
    finally:
        s.close()


@case("the self-signed certificate is a leaf: CA:FALSE, serverAuth")
def leaf():
    with open(CA, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    need(not bc.value.ca, "basicConstraints CA:TRUE")
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    need(ExtendedKeyUsageOID.SERVER_AUTH in eku.value,
         "no serverAuth in extendedKeyUsage")


def main():
    CHECKS.run_cases()
    return CHECKS.report(os.path.join(OUT, "py-counts.json"),
                         "test_frontend.py")


if __name__ == "__main__":
    sys.exit(main())
