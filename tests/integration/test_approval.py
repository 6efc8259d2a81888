#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Approval workflow against a real bridge and the SCM simulator with
auto-approval off, driven by test_approval.sh: an enrollment waits in
SCM's "Requested" state while the client polls its processing order (with
the longer Retry-After of an order awaiting approval); an administrator's
approval in the simulator's console lets it be collected; a decline turns
the order invalid with SCM's words.  Needs BRIDGE_DIR_URL, BRIDGE_CA,
BRIDGE_DB, HTTP01_PORT, SIM_URL, SIM_DIR, ZONE, APPROVAL_RETRY_AFTER and
OUT."""

import json
import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import (  # noqa: E402
    Checks,
    Client,
    Http01Responder,
    http_request,
    make_csr,
    need,
)

DIR = os.environ["BRIDGE_DIR_URL"]
CA = os.environ["BRIDGE_CA"]
DB = os.environ["BRIDGE_DB"]
HTTP01_PORT = int(os.environ["HTTP01_PORT"])
SIM_URL = os.environ["SIM_URL"]
SIM_CA = os.path.join(os.environ["SIM_DIR"], "root.pem")
ZONE = os.environ.get("ZONE", "example.test")
WAIT_RA = int(os.environ["APPROVAL_RETRY_AFTER"])
OUT = os.environ["OUT"]

CHECKS = Checks()
case = CHECKS.case
S = {}


def sim_control(obj):
    r = http_request("POST", SIM_URL + "/sim/control",
                     json.dumps(obj).encode(),
                     {"Content-Type": "application/json"}, cafile=SIM_CA)
    need(r.status == 200, "sim control %s: %s" % (obj, r.describe()))


def order_row(oid):
    with sqlite3.connect(DB, timeout=10) as db:
        return db.execute("SELECT ifnull(ca_ref, ''), ifnull(ca_status, "
                          "'') FROM orders WHERE oid = ?", (oid,)).fetchone()


def finalize(client, name):
    """An order for name up to finalize; returns (order url, oid)."""
    with Http01Responder(HTTP01_PORT) as resp:
        ourl, o = client.order([name])
        client.authorize(o, responder=resp)
    o = client.poll_order(ourl, ("ready",)).json
    der, _ = make_csr([name])
    r = client.expect(client.finalize(o, der), 200, "finalize")
    need(r.json["status"] == "processing", "finalize: %s" % r.json)
    return ourl, ourl.rsplit("/", 1)[-1]


def wait_requested(oid, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        ref, st = order_row(oid)
        if ref and st == "Requested":
            return ref
        time.sleep(0.5)
    return None


@case("an enrollment awaiting approval keeps the order processing")
def t_wait():
    c = Client(DIR, cafile=CA)
    c.register()
    S["c"] = c
    ourl, oid = finalize(c, "approve." + ZONE)
    ref = wait_requested(oid)
    CHECKS.check(ref is not None, "SCM holds the request as Requested "
                 "(sslId %s) and the order records it" % ref)
    S["ref"] = ref
    # the client polls for a while: the order stays processing, with the
    # longer Retry-After of an order awaiting approval
    polls, ras = 0, set()
    end = time.time() + 12
    while time.time() < end:
        r = c.get(ourl)
        need(r.status == 200, "order: " + r.describe())
        if r.json["status"] != "processing":
            CHECKS.check(False, "the order left processing before the "
                         "approval: %s" % r.json)
            break
        ras.add(r.header("Retry-After"))
        polls += 1
        time.sleep(2)
    CHECKS.check(ras == {str(WAIT_RA)}, "Retry-After while awaiting "
                 "approval: %s (configured %d)" % (sorted(ras), WAIT_RA))
    CHECKS.check(polls >= 5, "the client polled %d times over 12 s" % polls)
    t0 = time.time()
    sim_control({"approve": int(ref)})
    o = c.poll_order(ourl, ("valid", "invalid"), timeout=60, cap=1.0).json
    took = time.time() - t0
    CHECKS.check(o["status"] == "valid", "after the approval the order "
                 "is valid")
    CHECKS.check(took < 20, "collected %.1f s after the approval" % took)
    cert = c.expect(c.download(o["certificate"]), 200, "certificate")
    with open(os.path.join(OUT, "approved.pem"), "w") as f:
        f.write(cert.body.decode())


@case("a declined enrollment turns the order invalid with SCM's reason")
def t_decline():
    c = S["c"]
    ourl, oid = finalize(c, "decline." + ZONE)
    ref = wait_requested(oid)
    need(ref is not None, "the second request is not Requested")
    sim_control({"decline": {"id": int(ref),
                             "message": "not for this department"}})
    o = c.poll_order(ourl, ("valid", "invalid"), timeout=60, cap=1.0).json
    CHECKS.check(o["status"] == "invalid", "after the decline the order "
                 "is invalid")
    detail = o.get("error", {}).get("detail", "")
    CHECKS.check("not for this department" in detail,
                 "the order's error carries SCM's reason: %s" % detail)


def main():
    CHECKS.run_cases()
    return CHECKS.report(os.path.join(OUT, "py-counts.json"), "approval")


if __name__ == "__main__":
    sys.exit(main())
