#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Profiles, per-connector directories, RFC 9773 renewal information and
renewal linkage against a real bridge and the SCM simulator, driven by
test_lifecycle.sh (no Debian client speaks ARI or profiles).  Needs
BRIDGE_DIR_URL, BRIDGE_URL, BRIDGE_CA, HTTP01_PORT, ZONE and OUT; writes
the serials it issued to OUT/serials.json for the shell part."""

import datetime
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import (  # noqa: E402
    Checks,
    Client,
    Http01Responder,
    b64u,
    http_request,
    make_csr,
    need,
)
from cryptography import x509  # noqa: E402

DIR = os.environ["BRIDGE_DIR_URL"]
BASE = os.environ["BRIDGE_URL"]
CA = os.environ["BRIDGE_CA"]
HTTP01_PORT = int(os.environ["HTTP01_PORT"])
ZONE = os.environ.get("ZONE", "example.test")
OUT = os.environ["OUT"]

CHECKS = Checks()
case = CHECKS.case
S = {}


def leaf(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def validity(cert):
    """(not before, not after) as aware datetimes on any cryptography."""
    utc = datetime.timezone.utc
    return (cert.not_valid_before.replace(tzinfo=utc),
            cert.not_valid_after.replace(tzinfo=utc))


def cert_id(pem, sign_byte=True, pad=0):
    """RFC 9773 certID; sign_byte False leaves out the DER sign byte of a
    serial whose high bit is set (what some clients send), pad adds
    leading zero bytes."""
    c = leaf(pem)
    aki = c.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier).value.key_identifier
    n = c.serial_number
    ln = (n.bit_length() + (8 if sign_byte else 7)) // 8
    serial = b"\0" * pad + n.to_bytes(ln, "big")
    return b64u(aki) + "." + b64u(serial)


def ari(client, cid):
    return http_request("GET", client.directory["renewalInfo"] + "/" + cid,
                        cafile=CA)


def issue(client, names, extra=None, responder=None):
    """newOrder (with extra payload fields), authorize, finalize; returns
    (order json, chain pem)."""
    r = client.expect(client.new_order(names, extra), 201, "newOrder")
    ourl, o = r.header("Location"), r.json
    client.authorize(o, responder=responder)
    o = client.poll_order(ourl, ("ready", "invalid")).json
    need(o["status"] == "ready", "order not ready: %s" % o)
    der, _ = make_csr(names)
    o = client.expect(client.finalize(o, der), 200, "finalize").json
    if o["status"] != "valid":
        o = client.poll_order(ourl, ("valid", "invalid"), 90).json
    need(o["status"] == "valid", "order not valid: %s" % o)
    c = client.expect(client.download(o["certificate"]), 200, "cert")
    return o, c.body.decode()


@case("directory: renewalInfo, meta.profiles, per-connector directories")
def t_directory():
    c = Client(DIR, cafile=CA)
    d = c.directory
    CHECKS.check(d.get("renewalInfo", "").endswith("/renewal-info"),
                 "the directory advertises renewalInfo")
    prof = d.get("meta", {}).get("profiles", {})
    CHECKS.check(sorted(prof) == ["default", "short"],
                 "meta.profiles lists the connector's profiles: %s" % prof)
    r = http_request("GET", BASE + "/acme/sectigo/directory", cafile=CA)
    CHECKS.check(r.status == 200 and r.json.get("meta", {}).get("profiles")
                 == prof, "/acme/sectigo/directory has the same profiles")
    r = http_request("GET", BASE + "/acme/other/directory", cafile=CA)
    CHECKS.check(r.status == 200 and
                 list(r.json["meta"]["profiles"]) == ["other-default"] and
                 r.json["newAccount"].endswith("/acme/other/new-account"),
                 "the second connector's directory: its own profile and "
                 "newAccount")
    r = http_request("GET", BASE + "/acme/nosuch/directory", cafile=CA)
    CHECKS.check(r.status == 404, "an unknown connector's directory is 404")


@case("profiles: default, requested, unknown (invalidProfile)")
def t_profiles():
    c = Client(DIR, cafile=CA)
    c.register()
    S["client"] = c
    r = c.new_order(["prof." + ZONE])
    CHECKS.check(r.status == 201 and r.json.get("profile") == "default",
                 "no profile asked: the order carries the default")
    r = c.new_order(["prof." + ZONE], {"profile": "short"})
    CHECKS.check(r.status == 201 and r.json.get("profile") == "short",
                 "profile short asked: reflected in the order")
    r2 = c.get(r.header("Location"))
    CHECKS.check(r2.json.get("profile") == "short",
                 "the profile stays in the order object")
    r = c.new_order(["prof." + ZONE], {"profile": "nosuch"})
    CHECKS.check(r.status == 400 and r.problem_type ==
                 "urn:ietf:params:acme:error:invalidProfile",
                 "an unknown profile: 400 invalidProfile (%s)" % r.describe())
    r = c.new_order(["prof." + ZONE], {"profile": 7})
    CHECKS.check(r.status == 400 and r.problem_type.endswith(":malformed"),
                 "a profile that is not a string: malformed")


@case("a certificate under profile short has the short term")
def t_short_term():
    c = S["client"]
    with Http01Responder(HTTP01_PORT) as resp:
        o, pem = issue(c, ["short." + ZONE], {"profile": "short"}, resp)
    cert = leaf(pem)
    nb, na = validity(cert)
    days = (na - nb).days
    CHECKS.check(o.get("profile") == "short",
                 "the valid order still says profile short")
    CHECKS.check(days <= int(os.environ.get("SHORT_TERM", "90")) + 1,
                 "the certificate lives %d days (the short profile's "
                 "term)" % days)


@case("renewal information (RFC 9773)")
def t_ari():
    c = S["client"]
    names = ["renew." + ZONE]
    with Http01Responder(HTTP01_PORT) as resp:
        _, pem = issue(c, names, None, resp)
    S["a_pem"] = pem
    cert = leaf(pem)
    r = ari(c, cert_id(pem))
    CHECKS.check(r.status == 200, "GET renewalInfo: 200 (%s)" % r.describe())
    w = r.json.get("suggestedWindow", {})
    start = datetime.datetime.fromisoformat(w["start"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(w["end"].replace("Z", "+00:00"))
    nb, na = validity(cert)
    ideal = na - (na - nb) / 3
    CHECKS.check(nb < start < end < na, "the window lies within the "
                 "validity: %s .. %s" % (start, end))
    CHECKS.check(abs((start + (end - start) / 2) - ideal) <
                 datetime.timedelta(hours=2),
                 "the window is centred a third of the validity before "
                 "the end")
    ra = int(r.header("Retry-After", "0"))
    CHECKS.check(19440 <= ra <= 23760, "Retry-After about 6 h: %d" % ra)
    # both DER forms of a serial with the high bit set, and zero padding
    alt = ari(c, cert_id(pem, sign_byte=False))
    pad = ari(c, cert_id(pem, pad=2))
    high = cert_id(pem, sign_byte=False) != cert_id(pem)
    CHECKS.check(alt.status == 200 and pad.status == 200 and
                 alt.json == r.json == pad.json,
                 "the serial compares as an unsigned integer: %s and "
                 "zero-padded (%d, %d)" % (
                     "without its sign byte" if high else
                     "(high bit clear: one DER form)",
                     alt.status, pad.status))
    aki, serial = cert_id(pem).split(".")
    r = ari(c, "AAECAwQFBgcICQoLDA0ODxAREhM." + serial)
    CHECKS.check(r.status == 404, "an unknown issuer key id: 404")
    r = ari(c, aki + ".AQID")
    CHECKS.check(r.status == 404, "an unknown serial: 404")
    r = ari(c, aki + "=." + serial)
    CHECKS.check(r.status == 400 and r.problem_type.endswith(":malformed"),
                 "padding in a certID: 400 malformed")
    r = ari(c, aki)
    CHECKS.check(r.status == 400, "a certID without its serial: 400")
    r = http_request("POST", c.directory["renewalInfo"] + "/" +
                     cert_id(pem), body=b"{}", cafile=CA,
                     headers={"Content-Type": "application/jose+json"})
    CHECKS.check(r.status == 405, "renewalInfo answers GET only (%d)"
                 % r.status)


@case("replaces (RFC 9773 §5): reflected, checked, alreadyReplaced")
def t_replaces():
    c = S["client"]
    pem = S["a_pem"]
    cid = cert_id(pem)
    names = ["renew." + ZONE]
    other = Client(DIR, cafile=CA)
    other.register()
    r = other.new_order(names, {"replaces": cid})
    CHECKS.check(r.status == 400 and r.problem_type.endswith(":malformed"),
                 "another account's certificate: malformed, not "
                 "unauthorized (%s)" % r.describe())
    r = c.new_order(["unrelated." + ZONE], {"replaces": cid})
    CHECKS.check(r.status == 400 and r.problem_type.endswith(":malformed"),
                 "no shared identifier: malformed")
    r = c.new_order(names, {"replaces": "not-a-cert-id"})
    CHECKS.check(r.status == 400 and r.problem_type.endswith(":malformed"),
                 "a bad certID: malformed")
    r = c.new_order(names, {"replaces": cid.split(".")[0] + ".AQID"})
    CHECKS.check(r.status == 400 and r.problem_type.endswith(":malformed"),
                 "an unknown certificate: malformed (not 404/500)")
    with Http01Responder(HTTP01_PORT) as resp:
        r = c.expect(c.new_order(names, {"replaces": cid}), 201, "newOrder")
        CHECKS.check(r.json.get("replaces") == cid,
                     "the order reflects replaces")
        ourl, o = r.header("Location"), r.json
        r2 = c.new_order(names, {"replaces": cid})
        CHECKS.check(r2.status == 409 and r2.problem_type ==
                     "urn:ietf:params:acme:error:alreadyReplaced",
                     "a second order replacing it: 409 alreadyReplaced")
        c.authorize(o, responder=resp)
        o = c.poll_order(ourl, ("ready",)).json
        der, _ = make_csr(names)
        o = c.expect(c.finalize(o, der), 200, "finalize").json
        if o["status"] != "valid":
            o = c.poll_order(ourl, ("valid", "invalid"), 90).json
        CHECKS.check(o["status"] == "valid" and o.get("replaces") == cid,
                     "the replacement is valid and still says replaces")
        b_pem = c.expect(c.download(o["certificate"]), 200, "cert")
        S["b_pem"] = b_pem.body.decode()
    r = c.new_order(names, {"replaces": cid})
    CHECKS.check(r.status == 409 and r.problem_type.endswith(
        ":alreadyReplaced"), "after the renewal: still alreadyReplaced")


@case("renewal without replaces: linked by account and name set")
def t_linkage():
    c = S["client"]
    with Http01Responder(HTTP01_PORT) as resp:
        o, pem = issue(c, ["renew." + ZONE], None, resp)
    CHECKS.check("replaces" not in o, "the order has no replaces field")
    S["c_pem"] = pem


@case("a replacement order that fails frees the certificate")
def t_freed():
    c = S["client"]
    names = ["free." + ZONE]
    with Http01Responder(HTTP01_PORT) as resp:
        _, pem = issue(c, names, None, resp)
    cid = cert_id(pem)
    r = c.expect(c.new_order(names, {"replaces": cid}), 201, "newOrder")
    # the replacing order turns invalid: its authorization is deactivated
    au = r.json["authorizations"][0]
    c.expect(c.post(au, {"status": "deactivated"}), 200, "deactivate")
    r = c.new_order(names, {"replaces": cid})
    CHECKS.check(r.status == 201,
                 "after the replacing order failed, another may replace "
                 "it (%s)" % r.describe())
    S["free_pem"] = pem


@case("EAB keys: limited to a profile, bound to their connector")
def t_eab():
    kid, key = os.environ["EAB_SHORT"].split(":")
    c = Client(DIR, cafile=CA)
    c.register(eab_kid=kid, eab_key=key)
    r = c.new_order(["eab." + ZONE])
    CHECKS.check(r.status == 201 and r.json.get("profile") == "short",
                 "no profile asked: the one profile the key allows")
    r = c.new_order(["eab." + ZONE], {"profile": "default"})
    CHECKS.check(r.status == 403 and r.problem_type.endswith(
        ":unauthorized"), "a profile the key does not allow: 403 "
                 "unauthorized (%s)" % r.status)
    kid, key = os.environ["EAB_OTHER"].split(":")
    c = Client(BASE + "/acme/sectigo/directory", cafile=CA)
    c.dir_url = BASE + "/acme/sectigo/directory"
    r = c.post(BASE + "/acme/sectigo/new-account", {
        "termsOfServiceAgreed": True,
        "externalAccountBinding": c.eab(
            kid, key, url=BASE + "/acme/sectigo/new-account")},
        use_jwk=True)
    CHECKS.check(r.status == 403 and "/acme/other/directory" in
                 (r.json or {}).get("detail", ""),
                 "another connector's EAB key through this directory: "
                 "403 naming the right directory")
    c = Client(BASE + "/acme/other/directory", cafile=CA)
    c.register(eab_kid=kid, eab_key=key)
    r = c.new_order(["other." + ZONE])
    CHECKS.check(r.status == 201 and r.json.get("profile") ==
                 "other-default", "through its own directory the key "
                 "binds; orders get that connector's profile")
    S["other_kid"] = c.kid


def serial_hex(pem):
    n = leaf(pem).serial_number
    return "%x" % n if len("%x" % n) % 2 == 0 else "0%x" % n


def main():
    CHECKS.run_cases()
    with open(os.path.join(OUT, "serials.json"), "w") as f:
        json.dump({k: serial_hex(v) for k, v in S.items()
                   if k.endswith("_pem")}, f)
        f.write("\n")
    with open(os.path.join(OUT, "certids.json"), "w") as f:
        json.dump({k: cert_id(v) for k, v in S.items()
                   if k.endswith("_pem")}, f)
        f.write("\n")
    with open(os.path.join(OUT, "account_kid"), "w") as f:
        f.write(S["client"].kid.rsplit("/", 1)[-1] + "\n")
    return CHECKS.report(os.path.join(OUT, "py-counts.json"), "lifecycle")


if __name__ == "__main__":
    sys.exit(main())
