#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpora of tests/fuzz (small, valid inputs of each kind).
Run from anywhere: python3 tests/fuzz/make_seeds.py"""

import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from acmetest import Key, b64u, make_csr  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def cert(key, names):
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    nm = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    return (x509.CertificateBuilder().subject_name(nm).issuer_name(nm)
            .public_key(key.priv.public_key()).serial_number(4242)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]), critical=False)
            .sign(key.priv, hashes.SHA256()))


def jws(key, url, payload, kid=None):
    hdr = {"alg": key.alg, "url": url, "nonce": "AAAAAAAAAAAAAAAAAAAAAA"}
    if kid:
        hdr["kid"] = kid
    else:
        hdr["jwk"] = key.jwk()
    p = b64u(json.dumps(hdr))
    pl = b64u(payload)
    sig = key.sign((p + "." + pl).encode())
    return json.dumps({"protected": p, "payload": pl, "signature": b64u(sig)})


def main():
    k = Key.generate("ec256")
    r = Key.generate("rsa2048") if "rsa2048" in Key.TYPES else k
    put("jws", "new-account", jws(k, "https://fuzz.test/new-account",
                                  '{"termsOfServiceAgreed":true}'))
    put("jws", "kid-get", jws(k, "https://fuzz.test/order/x", "",
                              kid="https://fuzz.test/acct/x"))
    put("jws", "rsa", jws(r, "https://fuzz.test/new-order",
                          '{"identifiers":[]}', kid="https://fuzz.test/acct/y"))
    der, _ = make_csr(["a.example.test", "b.example.test"])
    put("csr", "two-names", der)
    der, _ = make_csr([], cn="a.example.test")
    put("csr", "cn-only", der)
    c = cert(k, ["a.example.test"])
    put("cert", "leaf", c.public_bytes(serialization.Encoding.DER))
    pem = c.public_bytes(serialization.Encoding.PEM)
    put("scm", "chain", pem + pem)
    put("scm", "error", '{"code":-1400,"description":"Being processed"}')
    put("scm", "comment", "acmebridge tag=abcDEF-123_x, other words")
    put("scm", "details", '{"id":54,"status":"Declined","serialNumber":'
        '"00:0A:BC","requested":"05/21/2025","expires":"2026-05-21T11:27:52Z",'
        '"subjectAlternativeNames":["a.test","b.test"],"reasonCode":"4",'
        '"comments":"acmebridge tag=x declined by admin"}')
    put("scm", "report", '{"reports":[{"id":1,"status":"Issued",'
        '"serialNumber":"0012AB","subjAltNames":"a.test; b.test",'
        '"expires":"05/21/2026","revoked":"","approved":"05/20/2026"},'
        '{"id":"2","status":7}]}')
    put("b64url", "short", "aGVsbG8")
    put("b64url", "key", "AQAB")
    with open(os.path.join(HERE, "..", "..", "contrib", "dist",
                           "acmebridge.example.json"), "rb") as f:
        put("config", "example", f.read())
    put("config", "minimal", json.dumps({
        "listen": "127.0.0.1:8443", "base_url": "https://127.0.0.1:8443",
        "database": "/tmp/x.db",
        "tls": {"cert_file": "/tmp/c.pem", "key_file": "/tmp/k.pem"},
        "connectors": [{"name": "s", "type": "sectigo",
                        "base_url": "https://scm.test", "org_id": 1,
                        "cert_type": 2}]}))
    put("handlers", "new-order", b"\x01" + json.dumps(
        {"identifiers": [{"type": "dns", "value": "a.example"},
                         {"type": "ip", "value": "192.0.2.1"}]}).encode())
    put("handlers", "account", b"\x02" + b'{"contact":["mailto:a@b.example"]}')
    put("handlers", "finalize", b"\x05" + json.dumps(
        {"csr": b64u(make_csr(["f.example"])[0])}).encode())
    put("handlers", "revoke", b"\x04" + json.dumps(
        {"certificate": b64u(c.public_bytes(serialization.Encoding.DER)),
         "reason": 1}).encode())
    dns_seeds()
    put("handlers", "raw", b"\x81" + jws(k, "https://fuzz.test/new-order",
                                          "{}").encode())


def dns_seeds():
    import struct
    hdr = lambda an: struct.pack(">HHHHHH", 0, 0x8180, 1, an, 0, 0)
    # the question is replaced by the target; pad where it would be
    txt = b"\x0bhello world" + b"\x03abc"
    rr_txt = (b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(txt)) + txt)
    put("dns", "txt", hdr(1) + rr_txt)
    rr_a = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    put("dns", "a", b"\x01" + hdr(1)[1:] + rr_a)
    cname = b"\x03www\x07example\x00"
    rr_cn = b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, len(cname)) + cname
    put("dns", "cname", hdr(1) + rr_cn)
    put("dns", "nxdomain", struct.pack(">HHHHHH", 0, 0x8183, 1, 0, 0, 0))


if __name__ == "__main__":
    main()
