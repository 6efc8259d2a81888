#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Rate limits of the bridge (driven by test_rate_limits.sh, which starts
the bridge with small limits).  Needs BRIDGE_DIR_URL, BRIDGE_CA,
HTTP01_PORT, ZONE and OUT."""

import os
import secrets
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import (  # noqa: E402
    Checks,
    Client,
    Http01Responder,
    need,
)

DIR = os.environ["BRIDGE_DIR_URL"]
CA = os.environ["BRIDGE_CA"]
HTTP01_PORT = int(os.environ["HTTP01_PORT"])
ZONE = os.environ.get("ZONE", "example.test")
OUT = os.environ["OUT"]

CHECKS = Checks()
case = CHECKS.case


def name(label, parent=None):
    return "%s-%s.%s" % (label, secrets.token_hex(3), parent or ZONE)


def client():
    c = Client(DIR, cafile=CA)
    c.register()
    return c


def limited(r, what):
    need(r.status == 429, "%s: expected 429, got %s" % (what, r.describe()))
    need(r.problem_type == "urn:ietf:params:acme:error:rateLimited",
         "%s: problem type %s" % (what, r.problem_type))
    ra = r.header("Retry-After")
    need(ra is not None and ra.isdigit() and int(ra) > 0,
         "%s: Retry-After %r" % (what, ra))
    return int(ra)


# Accounts are created first: the limit is 6 per address per hour and the
# cases below use 6 accounts.  Each case orders names under a registered
# domain of its own ("acct.test", ...: .test is not in the public suffix
# list, so each of these is a registered domain), except the issuance,
# which needs the test zone.
ACCOUNTS = []


@case("new accounts per client address: the 7th is refused, 429 + Retry-After")
def accounts_per_ip():
    for _ in range(6):
        ACCOUNTS.append(client())
    c = Client(DIR, cafile=CA)
    r = c.new_account()
    ra = limited(r, "7th newAccount")
    need(ra <= 3600, "Retry-After %d beyond the hour" % ra)
    # an existing account is still found (no new account is created)
    again = Client(DIR, cafile=CA, key=ACCOUNTS[0].key)
    r = again.new_account()
    need(r.status == 200, "existing account lookup: %s" % r.describe())


@case("new orders per account: the 4th order within the hour is refused")
def orders_per_account():
    c = ACCOUNTS[0]
    for i in range(3):
        c.order([name("n%d" % i, "acct.test")])
    limited(c.new_order([name("n3", "acct.test")]), "4th newOrder")
    # another account is not affected
    ACCOUNTS[1].order([name("other", "acct.test")])


@case("pending authorizations per account: at most 4 at once")
def pending_authzs():
    c = ACCOUNTS[1]  # holds 1 pending authorization already
    c.order([name("p1", "pend.test"), name("p2", "pend.test")])
    limited(c.new_order([name("p3", "pend.test"), name("p4", "pend.test")]),
            "order that would make 5 pending authorizations")
    # one more fits exactly
    c.order([name("p5", "pend.test")])


@case("new orders per registered domain: 6 a week, the 7th is refused "
      "whichever account asks")
def orders_per_domain():
    c2, c3 = ACCOUNTS[2], ACCOUNTS[3]
    for c in (c2, c2, c2, c3, c3):
        c.order([name("a", "rl-dom.test")])
    # a name deeper in the same registered domain counts too
    c3.order([name("b", "x.rl-dom.test")])
    r = c3.new_order([name("c", "rl-dom.test")])
    limited(r, "7th order for the registered domain rl-dom.test")
    # a different registered domain is still fine for the same account:
    # but c3 has used its 3 orders, so ask with c2's quota gone too ->
    # the per-account refusal names the account, not the domain
    r = c2.new_order([name("d", "elsewhere.test")])
    limited(r, "4th order of the account")
    need("account" in r.json.get("detail", ""),
         "detail should name the account limit: %s" % r.json)


@case("failed validations per identifier: after 2 failures the next "
      "challenge is refused with rateLimited")
def failed_validations():
    c = ACCOUNTS[4]
    target = name("f", "fail.test")  # not in any zone: validation fails
    for i in range(2):
        _, o = c.order([target])
        c.authorize(o, answer=True, wait=False)
        a = c.wait_authz(o["authorizations"][0]).json
        need(a["status"] == "invalid",
             "failure %d: authorization %s" % (i + 1, a["status"]))
    _, o = c.order([target])
    a = c.expect(c.get(o["authorizations"][0]), 200, "authz").json
    ch = [x for x in a["challenges"] if x["type"] == "http-01"][0]
    limited(c.post(ch["url"], {}), "third validation of %s" % target)
    a = c.expect(c.get(o["authorizations"][0]), 200, "authz").json
    need(a["status"] == "pending",
         "the refused challenge must leave the authorization pending: %s"
         % a["status"])


@case("certificates per name set: 1 a week; the same set again is "
      "refused at newOrder, another set is not")
def certs_per_name_set():
    c = ACCOUNTS[5]
    n1, n2 = name("set1"), name("set2")
    with Http01Responder(HTTP01_PORT) as responder:
        c.issue([n1], responder=responder)
    limited(c.new_order([n1]), "second certificate for the same name set")
    c.order([n2, n1])


def main():
    CHECKS.run_cases()
    return CHECKS.report(os.path.join(OUT, "py-counts.json"),
                         "test_rate_limits.py")


if __name__ == "__main__":
    sys.exit(main())
