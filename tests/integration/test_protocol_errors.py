#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Protocol-level checks of acmebridge (driven by test_protocol_errors.sh):
every refused request answers the right status, problem type, Content-Type
application/problem+json and a Replay-Nonce; plus one full order through
the built-in http-01 responder.  Needs BRIDGE_DIR_URL, BRIDGE_CA,
HTTP01_PORT, ZONE and OUT (directory for the certificate and counts)."""

import json
import os
import secrets
import sys
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import (  # noqa: E402
    ERR,
    Checks,
    Client,
    Http01Responder,
    Key,
    b64u,
    http_request,
    make_csr,
    need,
)

DIR = os.environ["BRIDGE_DIR_URL"]
CA = os.environ["BRIDGE_CA"]
HTTP01_PORT = int(os.environ["HTTP01_PORT"])
ZONE = os.environ.get("ZONE", "example.test")
OUT = os.environ["OUT"]
BASE = DIR.rsplit("/directory", 1)[0]

CHECKS = Checks()
bad = CHECKS.bad
case = CHECKS.case


def expect_problem(r, status, ptype, detail=None, what=""):
    """status, problem type, problem+json Content-Type, Replay-Nonce."""
    d = r.describe()
    need(r.status == status, "%sexpected HTTP %d, got %s" % (what, status, d))
    need(r.ctype == "application/problem+json",
         "%sContent-Type is %r, not application/problem+json: %s" % (
             what, r.header("Content-Type"), d))
    need(bool(r.header("Replay-Nonce")), "%sno Replay-Nonce: %s" % (what, d))
    need(isinstance(r.json, dict), "%sbody is not a JSON object: %s" % (
        what, d))
    types = (ptype,) if isinstance(ptype, str) else ptype
    need(r.problem_type in [ERR + t for t in types],
         "%sexpected type %s, got %r: %s" % (
             what, " or ".join(ERR + t for t in types), r.problem_type, d))
    js = r.json.get("status")
    need(js is None or js == status,
         "%sproblem \"status\" %r differs from HTTP %d" % (what, js, status))
    if detail is not None:
        need(detail in (r.json.get("detail") or ""),
             "%sdetail does not contain %r: %s" % (what, detail, d))
    return r


def expect_ok(r, status, what=""):
    need(r.status == status, "%sexpected HTTP %d, got %s" % (
        what, status, r.describe()))
    need(bool(r.header("Replay-Nonce")), "%sno Replay-Nonce: %s" % (
        what, r.describe()))
    return r


def name(label):
    return "%s-%s.%s" % (label, secrets.token_hex(3), ZONE)


# ----------------------------------------------------------- fixtures

A = Client(DIR, CA)  # main account
B = Client(DIR, CA)  # another account
state = {}


def setup():
    A.register(contact=["mailto:a@" + ZONE])
    B.register()
    url, o = A.order([name("fix")])
    state["a_order_url"] = url
    state["a_order"] = o


# ----------------------------------------------------------- directory


@case("directory: resources and meta (termsOfService, website, "
      "caaIdentities, externalAccountRequired)")
def t_directory():
    r = http_request("GET", DIR, cafile=CA)
    need(r.status == 200, r.describe())
    d = r.json
    for k in ("newNonce", "newAccount", "newOrder", "revokeCert",
              "keyChange"):
        need(isinstance(d.get(k), str) and d[k].startswith(BASE + "/"),
             "directory %s is %r" % (k, d.get(k)))
    m = d.get("meta")
    need(isinstance(m, dict), "no meta: %s" % d)
    need(m.get("termsOfService") == BASE + "/terms",
         "meta.termsOfService %r" % m.get("termsOfService"))
    need(m.get("website") == BASE, "meta.website %r" % m.get("website"))
    need(m.get("caaIdentities") == ["sectigo.com"],
         "meta.caaIdentities %r" % m.get("caaIdentities"))
    need(m.get("externalAccountRequired") is False,
         "meta.externalAccountRequired %r" %
         m.get("externalAccountRequired"))


@case("newNonce: HEAD 200 and GET 204, both with Replay-Nonce and "
      "Cache-Control: no-store")
def t_new_nonce():
    url = A.url("newNonce")
    seen = set()
    for method, want in (("HEAD", 200), ("GET", 204)):
        r = http_request(method, url, cafile=CA)
        need(r.status == want, "%s newNonce: expected %d, got %s" % (
            method, want, r.describe()))
        n = r.header("Replay-Nonce")
        need(bool(n), "%s newNonce: no Replay-Nonce" % method)
        need(n not in seen, "the same nonce twice")
        seen.add(n)
        cc = (r.header("Cache-Control") or "").lower()
        need("no-store" in cc, "%s newNonce: Cache-Control %r" % (method,
                                                                  cc))
        need(len(r.body) == 0, "%s newNonce has a body" % method)


# ----------------------------------------------------------- JWS


@case("bad signature (one byte flipped) -> 400 malformed")
def t_bad_signature():
    url = A.url("newOrder")
    body = A.jws(url, {"identifiers": [{"type": "dns", "value": name("sig")}]},
                 tamper=True)
    expect_problem(A.post_raw(url, body), 400, "malformed")


@case("replayed nonce -> 400 badNonce, detail 'JWS has an invalid "
      "anti-replay nonce'")
def t_replayed_nonce():
    n = A.fresh_nonce()
    expect_ok(A.get(state["a_order_url"], nonce=n), 200, "first use: ")
    r = A.get(state["a_order_url"], nonce=n, retry_nonce=False)
    expect_problem(r, 400, "badNonce", "JWS has an invalid anti-replay nonce")


@case("unknown (forged) nonce -> 400 badNonce")
def t_forged_nonce():
    r = A.get(state["a_order_url"], nonce=b64u(secrets.token_bytes(16)),
              retry_nonce=False)
    expect_problem(r, 400, "badNonce", "JWS has an invalid anti-replay nonce")


@case("missing nonce -> 400 badNonce")
def t_missing_nonce():
    url = state["a_order_url"]
    body = A.jws(url, None, drop=("nonce",))
    expect_problem(A.post_raw(url, body), 400, "badNonce")


@case("a fresh nonce after an error response is accepted")
def t_nonce_after_error():
    # the Replay-Nonce of a problem response must be usable
    url = state["a_order_url"]
    r = A.post_raw(url, "{not json")
    n = r.header("Replay-Nonce")
    need(bool(n), "no Replay-Nonce on the error")
    expect_ok(A.get(url, nonce=n, retry_nonce=False), 200)


@case("JWS url differs from the request URL -> 401 unauthorized")
def t_wrong_url():
    url = A.url("newOrder")
    body = A.jws(A.url("newAccount"),
                 {"identifiers": [{"type": "dns", "value": name("url")}]})
    expect_problem(A.post_raw(url, body), 401, "unauthorized")


@case("account B reads account A's order -> 403 unauthorized")
def t_other_account_order():
    r = B.get(state["a_order_url"])
    expect_problem(r, 403, "unauthorized")


@case("account B reads account A's authorization -> 403 unauthorized")
def t_other_account_authz():
    r = B.get(state["a_order"]["authorizations"][0])
    expect_problem(r, 403, "unauthorized")


@case("account B reads account A's account and orders list -> 403 "
      "unauthorized")
def t_other_account_acct():
    expect_problem(B.get(A.kid), 403, "unauthorized", what="account: ")
    expect_problem(B.get(A.kid + "/orders"), 403, "unauthorized",
                   what="orders: ")


@case("unknown account kid -> 400 accountDoesNotExist")
def t_unknown_kid():
    r = A.get(state["a_order_url"], kid=BASE + "/acct/" + b64u(
        secrets.token_bytes(16)))
    expect_problem(r, 400, "accountDoesNotExist")


@case("body that is not JSON -> 400 malformed")
def t_body_not_json():
    r = A.post_raw(A.url("newOrder"), b"{not json")
    expect_problem(r, 400, "malformed")


@case("JWS in compact serialization -> 400 malformed")
def t_body_compact():
    j = A.jws(A.url("newOrder"), {"identifiers": []})
    compact = "%s.%s.%s" % (j["protected"], j["payload"], j["signature"])
    r = A.post_raw(A.url("newOrder"), compact.encode())
    expect_problem(r, 400, "malformed")


@case("payload that is not JSON -> 400 malformed")
def t_payload_not_json():
    r = A.post(A.url("newOrder"), b"hello, world")
    expect_problem(r, 400, "malformed")


@case("payload that is a JSON array -> 400 malformed")
def t_payload_array():
    r = A.post(A.url("newOrder"), b"[1, 2]")
    expect_problem(r, 400, "malformed")


@case("body over 64 KiB -> 413 malformed")
def t_oversized():
    payload = {"identifiers": [{"type": "dns", "value": name("big")}],
               "padding": "x" * (70 * 1024)}
    r = A.post(A.url("newOrder"), payload)
    expect_problem(r, 413, "malformed")


@case("alg none -> 400 badSignatureAlgorithm with an algorithms list")
def t_alg_none():
    _bad_alg("none")


@case("alg HS256 -> 400 badSignatureAlgorithm with an algorithms list")
def t_alg_hs256():
    _bad_alg("HS256")


@case("alg RS256 on an EC account key -> 400 badSignatureAlgorithm with an "
      "algorithms list")
def t_alg_rs256_ec():
    _bad_alg("RS256")


def _bad_alg(alg):
    url = A.url("newOrder")
    body = A.jws(url, {"identifiers": [{"type": "dns", "value": name("alg")}]},
                 alg=alg)
    if alg == "none":
        # an unsecured JWS (RFC 7515 appendix A.5) has an empty signature
        body["signature"] = ""
    r = expect_problem(A.post_raw(url, body), 400, "badSignatureAlgorithm")
    algs = r.json.get("algorithms")
    need(isinstance(algs, list) and "ES256" in algs and "RS256" in algs,
         "algorithms is %r" % algs)
    if alg in ("none", "HS256"):
        need(alg not in algs, "algorithms lists the refused %s" % alg)


@case("jwk instead of kid on newOrder -> 400 malformed")
def t_jwk_on_new_order():
    r = A.post(A.url("newOrder"),
               {"identifiers": [{"type": "dns", "value": name("jwk")}]},
               use_jwk=True)
    expect_problem(r, 400, "malformed")


@case("both jwk and kid -> 400 malformed")
def t_jwk_and_kid():
    url = A.url("newOrder")
    body = A.jws(url, {"identifiers": [{"type": "dns", "value": name("jk")}]},
                 protected={"jwk": A.key.jwk()})
    expect_problem(A.post_raw(url, body), 400, "malformed")


@case("kid on newAccount -> 400 malformed")
def t_kid_on_new_account():
    r = A.post(A.url("newAccount"), {"termsOfServiceAgreed": True})
    expect_problem(r, 400, "malformed")


@case("Content-Type text/plain -> 415 malformed")
def t_ctype_plain():
    url = state["a_order_url"]
    r = A.post_raw(url, A.jws(url, None), ctype="text/plain")
    expect_problem(r, 415, "malformed")


@case("no Content-Type -> 415 malformed")
def t_ctype_missing():
    url = state["a_order_url"]
    r = A.post_raw(url, A.jws(url, None), ctype=None)
    expect_problem(r, 415, "malformed")


@case("Content-Type 'application/jose+json; charset=utf-8' and "
      "'Application/JOSE+JSON' accepted")
def t_ctype_charset():
    url = state["a_order_url"]
    for ct in ("application/jose+json; charset=utf-8",
               "Application/JOSE+JSON"):
        r = A.post_raw(url, A.jws(url, None), ctype=ct)
        need(r.status == 200, "%r: %s" % (ct, r.describe()))
        need(r.json.get("status") == "pending", "%r: %s" % (
            ct, r.describe()))


# ----------------------------------------------------------- methods, URLs


@case("GET on POST-only resources -> 405 with a problem document")
def t_get_on_post():
    for res in ("newOrder", "newAccount"):
        r = http_request("GET", A.url(res), cafile=CA)
        expect_problem(r, 405, "malformed", what="GET %s: " % res)
    r = http_request("GET", state["a_order_url"], cafile=CA)
    expect_problem(r, 405, "malformed", what="GET order: ")


@case("405 answers carry an Allow header (RFC 9110 §15.5.6)")
def t_405_allow():
    r = http_request("GET", A.url("newOrder"), cafile=CA)
    need(r.status == 405, r.describe())
    allow = (r.header("Allow") or "").upper()
    need("POST" in allow, "GET newOrder: Allow is %r" % r.header("Allow"))
    r = http_request("POST", DIR, b"",
                     {"Content-Type": "application/jose+json"}, cafile=CA)
    expect_problem(r, 405, "malformed", what="POST directory: ")
    allow = (r.header("Allow") or "").upper()
    need("GET" in allow and "HEAD" in allow,
         "POST directory: Allow is %r" % r.header("Allow"))


@case("unknown URL (GET and signed POST) -> 404 with a problem document")
def t_unknown_url():
    url = BASE + "/no-such-resource"
    r = http_request("GET", url, cafile=CA)
    expect_problem(r, 404, "malformed", what="GET: ")
    r = A.post(url, {})
    expect_problem(r, 404, "malformed", what="POST: ")


@case("unknown order id (signed POST-as-GET) -> 404 with a problem document")
def t_unknown_order():
    r = A.get(BASE + "/order/" + b64u(secrets.token_bytes(16)))
    expect_problem(r, 404, "malformed")


# ----------------------------------------------------------- orders


@case("wildcard order: one authorization, wildcard true, no '*.', only "
      "dns-01")
def t_wildcard():
    n = name("wc")
    url, o = A.order(["*." + n])
    need(o.get("identifiers") == [{"type": "dns", "value": "*." + n}],
         "order identifiers %r" % o.get("identifiers"))
    need(len(o["authorizations"]) == 1, "authorizations %r" %
         o["authorizations"])
    a = expect_ok(A.get(o["authorizations"][0]), 200).json
    need(a.get("wildcard") is True, "wildcard is %r" % a.get("wildcard"))
    need(a.get("identifier") == {"type": "dns", "value": n},
         "identifier %r" % a.get("identifier"))
    types = [c["type"] for c in a["challenges"]]
    need(types == ["dns-01"], "challenge types %r" % types)


@case("unsupported identifier type -> 400 unsupportedIdentifier")
def t_unsupported_ident():
    r = A.new_order([{"type": "email", "value": "a@" + ZONE}])
    expect_problem(r, 400, "unsupportedIdentifier")


@case("bad DNS name -> 400 rejectedIdentifier")
def t_bad_dns_name():
    for v in ("bad..name." + ZONE, "under_score." + ZONE, "-lead." + ZONE):
        r = A.new_order([v])
        expect_problem(r, 400, "rejectedIdentifier", what="%s: " % v)


@case("two bad names -> problem with 2 subproblems naming them")
def t_two_bad_names():
    good = name("good")
    bads = ["a..b." + ZONE, "c_d." + ZONE]
    r = A.new_order([bads[0], good, bads[1]])
    expect_problem(r, 400, "rejectedIdentifier")
    subs = r.json.get("subproblems")
    need(isinstance(subs, list) and len(subs) == 2,
         "subproblems %r" % subs)
    got = sorted((s.get("identifier") or {}).get("value", "") for s in subs)
    need(got == sorted(bads), "subproblem identifiers %r" % got)
    for s in subs:
        need(s.get("type") == ERR + "rejectedIdentifier",
             "subproblem type %r" % s.get("type"))


@case("empty identifiers list -> 400 malformed")
def t_no_identifiers():
    expect_problem(A.new_order([]), 400, ("malformed", "rejectedIdentifier"))


@case("notBefore in newOrder -> 400 malformed")
def t_not_before():
    r = A.new_order([name("nb")],
                    extra={"notBefore": "2030-01-01T00:00:00Z"})
    expect_problem(r, 400, "malformed")


@case("finalize before the order is ready -> 403 orderNotReady")
def t_finalize_not_ready():
    o = state["a_order"]
    der, _ = make_csr([o["identifiers"][0]["value"]])
    r = A.finalize(o, der)
    expect_problem(r, 403, "orderNotReady")


@case("deactivated account -> 401 unauthorized on the next request")
def t_deactivated():
    d = Client(DIR, CA)
    d.register()
    r = expect_ok(d.post(d.kid, {"status": "deactivated"}), 200)
    need(r.json.get("status") == "deactivated", r.describe())
    expect_problem(d.new_order([name("deact")]), 401, "unauthorized",
                   what="newOrder: ")
    expect_problem(d.get(d.kid), 401, "unauthorized", what="account: ")


@case("account keys P-384, RSA and Ed25519 register and order")
def t_key_types():
    for kt in ("ec384", "rsa", "ed25519"):
        c = Client(DIR, CA, key=Key.generate(kt))
        r = c.register()
        need(r.status == 201, "%s: %s" % (kt, r.describe()))
        r = c.new_order([name(kt)])
        need(r.status == 201, "%s newOrder: %s" % (kt, r.describe()))
        # the same key again is the same account
        again = Client(DIR, CA, key=c.key)
        r = again.new_account()
        need(r.status == 200 and again.kid == c.kid,
             "%s existing key: %s" % (kt, r.describe()))


@case("bad CSR: an extra name or a missing name -> 400 badCSR")
def t_bad_csr():
    n1, n2 = name("csr1"), name("csr2")
    with Http01Responder(HTTP01_PORT) as resp:
        url, o = A.order([n1, n2])
        A.authorize(o, responder=resp)
    o = A.poll_order(url, ("ready", "invalid"), 30).json
    need(o["status"] == "ready", "order %s" % o)
    der, _ = make_csr([n1, n2, name("extra")])
    expect_problem(A.finalize(o, der), 400, "badCSR", what="extra name: ")
    der, _ = make_csr([n1])
    expect_problem(A.finalize(o, der), 400, "badCSR", what="missing name: ")
    # a CN that is not one of the names
    der, _ = make_csr([n1, n2], cn=name("cn"))
    expect_problem(A.finalize(o, der), 400, "badCSR", what="foreign CN: ")
    r = expect_ok(A.get(url), 200)
    need(r.json["status"] == "ready",
         "the order after refused CSRs is %s" % r.json["status"])
    state["csr_order"] = (url, o, n1, n2)


@case("CSR carrying the account's own key -> 400 badCSR (or malformed, as "
      "Pebble answers)")
def t_csr_account_key():
    # RFC 8555 §11.1; Boulder and Pebble refuse a certificate for the
    # account key
    need("csr_order" in state, "no ready order (previous case failed)")
    url, o, n1, n2 = state["csr_order"]
    der, _ = make_csr([n1, n2], key=A.key)
    expect_problem(A.finalize(o, der), 400, ("badCSR", "malformed"))


# ----------------------------------------------------------- EAB


def _eab():
    kid, key = os.environ.get("EAB_KID"), os.environ.get("EAB_KEY")
    need(kid and key, "no EAB key from 'acmebridge eab add'")
    return kid, key


@case("newAccount with a wrong EAB HMAC key -> 401 unauthorized")
def t_eab_bad_mac():
    kid, key = _eab()
    c = Client(DIR, CA)
    r = c.new_account(eab_kid=kid, eab_key=b64u(secrets.token_bytes(32)))
    expect_problem(r, 401, "unauthorized")


@case("newAccount with an unknown EAB kid -> 401 unauthorized")
def t_eab_unknown_kid():
    kid, key = _eab()
    c = Client(DIR, CA)
    r = c.new_account(eab_kid="no-such-" + kid, eab_key=key)
    expect_problem(r, 401, "unauthorized")


@case("newAccount whose EAB binds another key -> 401 unauthorized")
def t_eab_other_key():
    kid, key = _eab()
    c = Client(DIR, CA)
    other = Key.generate("ec256")
    body = {"termsOfServiceAgreed": True,
            "externalAccountBinding": c.eab(kid, key, jwk=other.jwk())}
    r = c.post(c.url("newAccount"), body, use_jwk=True)
    expect_problem(r, 401, "unauthorized")


@case("newAccount with a valid EAB (HS256, JWK payload with spaces) -> 201")
def t_eab_ok():
    kid, key = _eab()
    c = Client(DIR, CA)
    r = c.new_account(eab_kid=kid, eab_key=key)
    need(r.status == 201, r.describe())
    need(bool(c.kid), "no account URL")
    expect_ok(c.new_order([name("eab")]), 201, "newOrder: ")


# ----------------------------------------------------------- strict client


@case("POST-as-GET to newNonce -> 200 with a Replay-Nonce (as Boulder)")
def t_new_nonce_post_as_get():
    r = A.get(A.url("newNonce"))
    need(r.status in (200, 204), "POST-as-GET newNonce: %s" % r.describe())
    need(bool(r.header("Replay-Nonce")), "no Replay-Nonce: %s" %
         r.describe())
    need("no-store" in (r.header("Cache-Control") or "").lower(),
         "Cache-Control %r" % r.header("Cache-Control"))


@case("POST-as-GET with a non-empty payload ({} on an order, orders list, "
      "authorization) -> 400 malformed")
def t_post_as_get_payload():
    o = state["a_order"]
    expect_problem(A.post(state["a_order_url"], {}), 400, "malformed",
                   what="order: ")
    expect_problem(A.post(A.kid + "/orders", {}), 400, "malformed",
                   what="orders list: ")
    expect_problem(A.post(o["authorizations"][0], {"x": 1}), 400,
                   "malformed", what="authz: ")
    expect_ok(A.get(state["a_order_url"]), 200, "order POST-as-GET: ")


@case("contacts: 'mailto:not an@@address', header fields, two addresses, "
      "11 contacts -> 400 invalidContact; tel: -> 400 unsupportedContact")
def t_contacts():
    c = Client(DIR, CA)
    for bad_contact in (["mailto:not an@@address"],
                        ["mailto:a@" + ZONE + "?subject=x"],
                        ["mailto:a@" + ZONE + ",b@" + ZONE],
                        ["mailto:a\r\nb@" + ZONE],
                        ["mailto:a@localhost"],
                        ["mailto:a%d@%s" % (i, ZONE) for i in range(11)]):
        r = c.new_account(contact=bad_contact)
        expect_problem(r, 400, "invalidContact",
                       what="%r: " % bad_contact[0])
    expect_problem(c.new_account(contact=["tel:+15551234567"]), 400,
                   "unsupportedContact", what="tel: ")
    r = c.new_account(contact=["mailto:ops+acme@" + ZONE])
    need(r.status == 201, "good contact: %s" % r.describe())


def _key_change(c, new_key, payload):
    """keyChange from client c to new_key; payload: the inner payload
    (dict, or str used as is)."""
    url = c.url("keyChange")
    hdr = {"alg": new_key.alg, "jwk": new_key.jwk(), "url": url}
    ph = b64u(json.dumps(hdr))
    pl = b64u(payload if isinstance(payload, str) else json.dumps(payload))
    sig = new_key.sign((ph + "." + pl).encode())
    return c.post(url, {"protected": ph, "payload": pl,
                        "signature": b64u(sig)})


@case("keyChange to another account's key and to the same key -> 409 "
      "malformed (no 'conflict' type) with that account's Location")
def t_key_change_in_use():
    c = Client(DIR, CA)
    c.register()
    inner = {"account": c.kid, "oldKey": c.key.jwk()}
    r = _key_change(c, B.key, inner)
    expect_problem(r, 409, "malformed", what="B's key: ")
    need(r.header("Location") == B.kid, "Location %r, want %r" % (
        r.header("Location"), B.kid))
    r = _key_change(c, c.key, inner)
    expect_problem(r, 409, "malformed", what="same key: ")
    need(r.header("Location") == c.kid, "Location %r, want %r" % (
        r.header("Location"), c.kid))
    # a duplicate member in the inner payload is malformed
    new = Key.generate("ec256")
    dup = '{"account": %s, "oldKey": %s, "account": %s}' % (
        json.dumps(c.kid), json.dumps(c.key.jwk()), json.dumps(c.kid))
    expect_problem(_key_change(c, new, dup), 400, "malformed",
                   what="duplicate inner member: ")
    expect_ok(c.get(c.kid), 200, "the account still answers to its key: ")


@case("problem detail cut inside a UTF-8 character still has a JSON body")
def t_problem_utf8():
    # 'JWS url "%.200s"': the url is cut after 200 bytes
    url = A.url("newOrder")
    pad = 201 - len(url)
    wrong = url + "x" * (pad % 2) + "\u00e9" * 120
    body = A.jws(wrong, {"identifiers": [{"type": "dns",
                                          "value": name("utf")}]})
    expect_problem(A.post_raw(url, body), 401, "unauthorized")


@case("authorization deactivated (RFC 8555 §7.5.2) -> its ready order is "
      "invalid and finalize answers 403 orderNotReady")
def t_deactivated_authz():
    n = name("deact")
    with Http01Responder(HTTP01_PORT) as resp:
        url, o = A.order([n])
        A.authorize(o, responder=resp)
    o = A.poll_order(url, ("ready", "invalid"), 30).json
    need(o["status"] == "ready", "order %s" % o)
    r = expect_ok(A.post(o["authorizations"][0], {"status": "deactivated"}),
                  200, "deactivation: ")
    need(r.json.get("status") == "deactivated", r.describe())
    der, _ = make_csr([n])
    expect_problem(A.finalize(o, der), 403, "orderNotReady")
    st = expect_ok(A.get(url), 200).json["status"]
    need(st == "invalid", "the order after the deactivation is %s" % st)


# ----------------------------------------------------------- positive path


def wait_authz_strict(c, au, timeout=30):
    """Poll an authz; a valid challenge under a non-valid authz fails."""
    end = time.time() + timeout
    while True:
        r = expect_ok(c.get(au), 200)
        a = r.json
        st = a["status"]
        cst = [ch["status"] for ch in a["challenges"]]
        need(not (st != "valid" and "valid" in cst),
             "authz %s with a valid challenge: %s" % (st, a))
        if st == "valid":
            need(cst == ["valid"],
                 "valid authz lists challenges %s" % cst)
            return a
        need(st in ("pending",), "authz went %s: %s" % (st, a))
        need(time.time() < end, "authz still %s after %ds" % (st, timeout))
        time.sleep(0.2)


@case("positive path: two names via http-01, order ready as soon as the "
      "last authz is valid, finalize 200, certificate PEM chain, orders "
      "list")
def t_positive():
    c = Client(DIR, CA)
    acct = c.register(contact=["mailto:pos@" + ZONE])
    need(acct.status == 201, acct.describe())
    need(isinstance(acct.json.get("orders"), str), "account has no orders "
         "URL: %s" % acct.json)
    n1, n2 = name("pos1"), name("pos2")
    with Http01Responder(HTTP01_PORT) as resp:
        url, o = c.order([n1, n2])
        need(o["status"] == "pending", "new order %s" % o["status"])
        auths = o["authorizations"]
        need(len(auths) == 2, "authorizations %r" % auths)
        for i, au in enumerate(auths):
            a = expect_ok(c.get(au), 200).json
            ch = [x for x in a["challenges"] if x["type"] == "http-01"][0]
            need(list(ch.keys())[0] == "type",
                 "challenge object does not start with type: %s" % ch)
            resp.tokens[ch["token"]] = c.key_authorization(ch["token"])
            r = c.answer(ch["url"])
            need(r.json.get("status") in ("pending", "processing", "valid"),
                 "challenge POST answered %s" % r.describe())
            wait_authz_strict(c, au)
            # right after the authz turned valid: never "pending" when all
            # authorizations are valid
            ost = expect_ok(c.get(url), 200).json["status"]
            want = "ready" if i == len(auths) - 1 else "pending"
            need(ost == want, "order is %s right after authz %d/%d turned "
                 "valid (want %s)" % (ost, i + 1, len(auths), want))
        need(len(resp.hits) >= 2, "the responder saw %r" % resp.hits)
    der, _ = make_csr([n1, n2])
    r = c.finalize(o, der)
    need(r.status == 200, "finalize: expected exactly 200, got %s" %
         r.describe())
    need(r.header("Location") == url, "finalize Location %r" %
         r.header("Location"))
    st = r.json.get("status")
    need(st in ("processing", "valid"), "finalize answered %s" % st)
    if st == "processing":
        ra = r.header("Retry-After")
        need(ra is not None and ra.isdigit(),
             "processing without a delta-seconds Retry-After: %r" % ra)
    o = c.poll_order(url, ("valid", "invalid"), 60).json
    need(o["status"] == "valid", "order %s" % o)
    need(isinstance(o.get("certificate"), str), "no certificate URL")
    # RFC 8555 §7.4: a valid order is not ready: 403 orderNotReady
    expect_problem(c.finalize(o, der), 403, "orderNotReady",
                   what="finalize of the valid order: ")
    cr = c.download(o["certificate"])
    need(cr.status == 200, cr.describe())
    need(cr.ctype == "application/pem-certificate-chain",
         "certificate Content-Type %r" % cr.header("Content-Type"))
    need(bool(cr.header("Replay-Nonce")), "certificate without Replay-Nonce")
    pem = cr.body.decode()
    need(pem.startswith("-----BEGIN CERTIFICATE-----"),
         "not a PEM chain: %r" % pem[:80])
    need(pem.count("-----BEGIN CERTIFICATE-----") >= 2,
         "chain has only the leaf")
    with open(os.path.join(OUT, "positive.pem"), "w") as f:
        f.write(pem)
    with open(os.path.join(OUT, "positive.names"), "w") as f:
        f.write("%s %s\n" % (n1, n2))
    # orders list
    lst = expect_ok(c.get(acct.json["orders"]), 200).json
    need(isinstance(lst, dict) and isinstance(lst.get("orders"), list),
         "orders list is %r" % lst)
    need(url in lst["orders"], "order %s not in %r" % (url, lst["orders"]))
    # B's certificate download of c's certificate is refused
    expect_problem(B.download(o["certificate"]), 403, "unauthorized",
                   what="foreign certificate download: ")


def main():
    try:
        setup()
    except Exception as e:  # noqa: BLE001
        bad("setup (accounts and a first order): %s\n%s" % (
            e, traceback.format_exc()))
    else:
        CHECKS.run_cases()
    return CHECKS.report(os.path.join(OUT, "py-counts.json"),
                         "protocol checks")


if __name__ == "__main__":
    sys.exit(main())
