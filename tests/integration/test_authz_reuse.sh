#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Authorization reuse (acme.authz_reuse_seconds): with reuse on,
#  - a second order by the same account for an already validated name is
#    "ready" in the newOrder answer itself, points at the same valid
#    authorization and needs no new validation; it is issued
#  - another account ordering the same name gets its own pending
#    authorization and must validate again
#  - a mixed order (validated name + new name) reuses one authorization
#    and waits for the other
#  - a wildcard order is not satisfied by the plain name's authorization
#  - a deactivated authorization is not reused
# and with reuse off (authz_reuse_seconds 0, after a restart) the same
# account has to validate again.  Client: tests/integration/acmetest.py.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

find_python

# run_py PHASE: run the Python checks of PHASE (reuse | noreuse), add
# their counts
run_py() {
	local rc=0 out=$T/py-$1.json
	rm -f "$out"
	PHASE=$1 OUT=$out ACMETEST_DIR=$SRCDIR/tests/integration "$PY" - <<-'EOF' || rc=$?
		import json, os, sys, traceback
		sys.dont_write_bytecode = True
		sys.path.insert(0, os.environ["ACMETEST_DIR"])
		from acmetest import Checks, Client, Http01Responder, Key, make_csr

		DIR = os.environ["BRIDGE_DIR_URL"]
		CA = os.environ["BRIDGE_CA"]
		PORT = int(os.environ["HTTP01_PORT"])
		T = os.environ["T"]
		ZONE = os.environ.get("ZONE", "example.test")
		PHASE = os.environ["PHASE"]
		CHECKS = Checks()
		check = CHECKS.check

		def load_state():
		    with open(os.path.join(T, "reuse-state.json")) as f:
		        return json.load(f)

		def get(c, url):
		    r = c.get(url)
		    if r.status != 200:
		        raise RuntimeError("POST-as-GET %s: %s" % (url, r.describe()))
		    return r.json

		def validate(c, resp, o):
		    """answer http-01 for every pending authz, wait until valid"""
		    c.authorize(o, responder=resp)

		def issue(c, url, names):
		    o = c.poll_order(url, ("ready", "invalid"), 30).json
		    der, _ = make_csr(names)
		    r = c.finalize(o, der)
		    if r.status != 200:
		        raise RuntimeError("finalize: " + r.describe())
		    o = c.poll_order(url, ("valid", "invalid"), 60).json
		    if o["status"] != "valid":
		        raise RuntimeError("order %s" % o)
		    cr = c.download(o["certificate"])
		    if cr.status != 200:
		        raise RuntimeError("certificate: " + cr.describe())
		    return cr.body.decode()

		def phase_reuse(resp):
		    name = "reuse-%s.%s" % (os.urandom(3).hex(), ZONE)
		    other = "other-%s.%s" % (os.urandom(3).hex(), ZONE)
		    a = Client(DIR, CA)
		    a.register()
		    b = Client(DIR, CA)
		    b.register()

		    # first order: validated the normal way, then issued
		    u1, o1 = a.order([name])
		    check(o1["status"] == "pending",
		          "first order for %s is pending (got %s)" % (name, o1["status"]))
		    validate(a, resp, o1)
		    issue(a, u1, [name])
		    az1 = o1["authorizations"][0]
		    hits = len(resp.hits)

		    # same account, same name: ready at once, same authorization
		    u2, o2 = a.order([name])
		    check(o2["status"] == "ready",
		          "second order by the same account is ready in the newOrder "
		          "answer (got %s)" % o2["status"])
		    check(o2["authorizations"] == [az1],
		          "second order reuses the authorization %s (got %s)"
		          % (az1, o2["authorizations"]))
		    az = get(a, o2["authorizations"][0])
		    check(az["status"] == "valid",
		          "the reused authorization is valid (got %s)" % az["status"])
		    pem = issue(a, u2, [name])
		    with open(os.path.join(T, "reuse.pem"), "w") as f:
		        f.write(pem)
		    with open(os.path.join(T, "reuse.name"), "w") as f:
		        f.write(name)
		    check(len(resp.hits) == hits,
		          "no validation request for the reused authorization "
		          "(%d new)" % (len(resp.hits) - hits))

		    # another account: its own pending authorization
		    u3, o3 = b.order([name])
		    check(o3["status"] == "pending",
		          "another account's order for %s is pending (got %s)"
		          % (name, o3["status"]))
		    check(o3["authorizations"][0] != az1,
		          "another account gets its own authorization")
		    az = get(b, o3["authorizations"][0])
		    check(az["status"] == "pending",
		          "another account's authorization is pending (got %s)"
		          % az["status"])
		    r = a.get(o3["authorizations"][0])
		    check(r.status == 403,
		          "account A cannot read B's authorization (HTTP %d)" % r.status)
		    validate(b, resp, o3)
		    o = b.poll_order(u3, ("ready", "invalid"), 30).json
		    check(o["status"] == "ready",
		          "another account's order is ready after its own validation "
		          "(got %s)" % o["status"])
		    check(len(resp.hits) > hits,
		          "another account's validation reached the responder")

		    # mixed order: one reused, one new
		    u4, o4 = a.order([name, other])
		    check(o4["status"] == "pending",
		          "mixed order (validated + new name) is pending (got %s)"
		          % o4["status"])
		    st = {}
		    for au in o4["authorizations"]:
		        j = get(a, au)
		        st[j["identifier"]["value"]] = (au, j["status"])
		    check(st.get(name) == (az1, "valid"),
		          "mixed order reuses the valid authorization for %s (got %s)"
		          % (name, st.get(name)))
		    check(st.get(other, (None, None))[1] == "pending",
		          "mixed order has a pending authorization for %s (got %s)"
		          % (other, st.get(other)))

		    # wildcard: the plain name's authorization does not count
		    u5, o5 = a.order(["*." + name])
		    check(o5["status"] == "pending",
		          "wildcard order *.%s is pending (got %s)" % (name, o5["status"]))
		    check(az1 not in o5["authorizations"],
		          "wildcard order does not reuse the plain authorization")

		    # a deactivated authorization is not reused
		    r = a.post(az1, {"status": "deactivated"})
		    check(r.status == 200 and r.json.get("status") == "deactivated",
		          "authorization deactivated (%s)" % r.describe()[:200])
		    u6, o6 = a.order([name])
		    check(o6["status"] == "pending" and az1 not in o6["authorizations"],
		          "after deactivation a new order is pending with a new "
		          "authorization (got %s, %s)" % (o6["status"], o6["authorizations"]))

		    # keep account A and a validated name for the no-reuse phase
		    n2 = "again-%s.%s" % (os.urandom(3).hex(), ZONE)
		    u7, o7 = a.order([n2])
		    validate(a, resp, o7)
		    with open(os.path.join(T, "reuse-state.json"), "w") as f:
		        json.dump({"key": a.key.pem(), "kid": a.kid, "name": n2}, f)

		def phase_noreuse(resp):
		    st = load_state()
		    a = Client(DIR, CA, key=Key.from_pem(st["key"]), kid=st["kid"])
		    u, o = a.order([st["name"]])
		    check(o["status"] == "pending",
		          "with authz_reuse_seconds 0 the same account's order for a "
		          "validated name is pending (got %s)" % o["status"])
		    validate(a, resp, o)
		    o = a.poll_order(u, ("ready", "invalid"), 30).json
		    check(o["status"] == "ready",
		          "and ready after validating again (got %s)" % o["status"])

		try:
		    with Http01Responder(PORT) as resp:
		        (phase_reuse if PHASE == "reuse" else phase_noreuse)(resp)
		except Exception as e:
		    CHECKS.bad("%s phase aborted: %s: %s\n%s" % (
		        PHASE, type(e).__name__, e, traceback.format_exc()))
		sys.exit(CHECKS.report(os.environ["OUT"], "%s phase" % PHASE))
	EOF
	check_add_counts "$out" "$1 phase" "$rc"
}

start_bind
start_sim
start_bridge '.acme.authz_reuse_seconds = 86400'

log "phase 1: authz_reuse_seconds = 86400"
run_py reuse
if [ -s "$T/reuse.pem" ]; then
	if (verify_chain "$T/reuse.pem" "$(cat "$T/reuse.name")"); then
		check_ok "certificate from the reused authorization verifies"
	else
		check_bad "certificate from the reused authorization does not verify"
	fi
else
	check_bad "no certificate from the reused authorization"
fi

log "phase 2: authz_reuse_seconds = 0 (restart with the same database)"
if [ -s "$T/reuse-state.json" ]; then
	jq '.acme.authz_reuse_seconds = 0' "$T/bridge.json" >"$T/bridge.json.new" &&
		mv "$T/bridge.json.new" "$T/bridge.json"
	restart_bridge
	run_py noreuse
else
	check_bad "phase 2 skipped: phase 1 left no account behind"
fi

check_summary
