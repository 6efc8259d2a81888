#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Revocation forgery (review finding 1) against a real bridge and the SCM
simulator, driven by test_revoke_forgery.sh: a client with no account
submits a DER skeleton that carries the victim's serial number and public
key, with the PEM text of its own certificate hidden in the issuer Name.
It must be refused, SCM must not see a revocation, and the owner's own
revocation must still work.  Needs BRIDGE_DIR_URL, BRIDGE_CA,
HTTP01_PORT, ZONE and OUT."""

import datetime
import os
import secrets
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import (  # noqa: E402
    Checks,
    Client,
    Http01Responder,
    Key,
    b64u,
    need,
)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

DIR = os.environ["BRIDGE_DIR_URL"]
CA = os.environ["BRIDGE_CA"]
HTTP01_PORT = int(os.environ["HTTP01_PORT"])
ZONE = os.environ.get("ZONE", "example.test")
OUT = os.environ["OUT"]

CHECKS = Checks()
case = CHECKS.case
STATE = {}


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + ln + content


def self_signed(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.priv.public_key()).serial_number(4242)
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key.priv, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def forged(victim_pem, attacker):
    v = x509.load_pem_x509_certificate(victim_pem.encode())
    serial = v.serial_number
    sbytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    spki = v.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a8648ce3d040302")))
    issuer = tlv(0x30, b"\n" + self_signed(attacker) + b"\n")
    validity = tlv(0x30, tlv(0x17, b"250101000000Z") +
                   tlv(0x17, b"350101000000Z"))
    tbs = tlv(0x30, tlv(0xA0, tlv(0x02, b"\x02")) + tlv(0x02, sbytes) +
              alg + issuer + validity + tlv(0x30, b"") + spki)
    return tlv(0x30, tbs + alg + tlv(0x03, b"\x00\x01\x02"))


def revoke(client, der, **kw):
    return client.post(client.url("revokeCert"),
                       {"certificate": b64u(der), "reason": 1}, **kw)


def pem_der(pem):
    c = x509.load_pem_x509_certificate(pem.encode())
    return c.public_bytes(serialization.Encoding.DER)


@case("issue the victim's certificate")
def issue():
    owner = Client(DIR, cafile=CA)
    owner.register()
    name = "victim-%s.%s" % (secrets.token_hex(3), ZONE)
    with Http01Responder(HTTP01_PORT) as responder:
        _, _, chain = owner.issue([name], responder=responder)
    STATE.update(owner=owner, chain=chain)


@case("a forged certificate signed with an unrelated key (no account) is "
      "refused")
def forge_no_account():
    need("chain" in STATE, "no victim certificate")
    attacker = Key.generate("ec256")
    c = Client(DIR, cafile=CA, key=attacker)
    r = revoke(c, forged(STATE["chain"], attacker), use_jwk=True)
    need(r.status in (400, 403, 404),
         "forged revokeCert answered %s" % r.describe())
    STATE["forged_status"] = r.status


@case("the same forgery from another account is refused")
def forge_account():
    need("chain" in STATE, "no victim certificate")
    other = Client(DIR, cafile=CA)
    other.register()
    r = revoke(other, forged(STATE["chain"], other.key))
    need(r.status in (400, 403, 404),
         "forged revokeCert answered %s" % r.describe())


@case("the owner's revocation still works (SCM revokes once)")
def owner_revokes():
    need("chain" in STATE, "no victim certificate")
    owner = STATE["owner"]
    r = revoke(owner, pem_der(STATE["chain"]))
    need(r.status == 200, "owner's revokeCert: %s" % r.describe())


def main():
    CHECKS.run_cases()
    return CHECKS.report(os.path.join(OUT, "py-counts.json"),
                         "test_revoke_forgery.py")


if __name__ == "__main__":
    sys.exit(main())
