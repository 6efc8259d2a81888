#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The validators' address policy end to end (driven by test_ssrf.sh).

PHASE=off (validation.allow_private_addresses false, the default):
newOrder refuses IP identifiers that are not global unicast; a DNS name
pointing at 127.0.0.1 (the zone's "*") or at 169.254.169.254 (directly or
through a CNAME) makes the http-01 / tls-alpn-01 challenge invalid with a
"refused by policy" connection problem, and the local responders never see
a connection.

PHASE=on (the setting true): loopback is allowed, link-local is not (also
as a redirect target), and a wrong http-01 body is reported by its length,
never echoed.

Needs BRIDGE_DIR_URL, BRIDGE_CA, HTTP01_PORT, TLSALPN_PORT, ZONE, PHASE,
META_NAME, META_CNAME and OUT (directory for the counts)."""

import http.server
import json
import os
import secrets
import socket
import socketserver
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acmetest import Checks, Client, need  # noqa: E402

DIR = os.environ["BRIDGE_DIR_URL"]
CA = os.environ["BRIDGE_CA"]
HTTP01_PORT = int(os.environ["HTTP01_PORT"])
TLSALPN_PORT = int(os.environ["TLSALPN_PORT"])
ZONE = os.environ.get("ZONE", "example.test")
PHASE = os.environ["PHASE"]
META_NAME = os.environ["META_NAME"]  # A 169.254.169.254
META_CNAME = os.environ["META_CNAME"]  # CNAME to META_NAME
OUT = os.environ["OUT"]

SECRET = "SECRET-METADATA-" + secrets.token_hex(8)
PROBLEM = "urn:ietf:params:acme:error:"

CHECKS = Checks()
bad = CHECKS.bad
case = CHECKS.case
A = Client(DIR, CA)
HTTP = None
TCP = None


def name(label):
    return "%s-%s.%s" % (label, secrets.token_hex(3), ZONE)


# ----------------------------------------------------------- responders


class _Handler(http.server.BaseHTTPRequestHandler):
    """/.well-known/acme-challenge/TOKEN: what srv.owner.plan[TOKEN]
    says: ("body", text) or ("redirect", url)."""

    def do_GET(self):  # noqa: N802 (http.server API)
        owner = self.server.owner
        owner.hits.append(self.path)
        tok = self.path.rsplit("/", 1)[-1]
        what = owner.plan.get(tok)
        if what is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif what[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", what[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            data = what[1].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Responder:
    """http-01 responder on 127.0.0.1:HTTP01_PORT that records every
    request (hits)."""

    def __init__(self, port):
        self.plan = {}
        self.hits = []
        self.srv = _Server(("127.0.0.1", port), _Handler)
        self.srv.owner = self
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class TcpCounter:
    """Accepts on 127.0.0.1:port, counts and closes: a tls-alpn-01
    responder that only tells whether anyone connected."""

    def __init__(self, port):
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = False
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()

    def _loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            c.close()

    def close(self):
        self.stop = True
        self.th.join(2)
        self.sock.close()


# ----------------------------------------------------------- helpers


def expect_rejected(idents, n_sub=0):
    """newOrder with idents must be 400 rejectedIdentifier."""
    r = A.new_order(idents)
    need(r.status == 400 and r.problem_type == PROBLEM + "rejectedIdentifier",
         "newOrder %s: expected 400 rejectedIdentifier, got %s"
         % (json.dumps(idents), r.describe()))
    subs = (r.json or {}).get("subproblems") or []
    need(len(subs) == n_sub, "%d subproblems, expected %d: %s"
         % (len(subs), n_sub, r.describe()))
    print("  problem: %s" % json.dumps(r.json), flush=True)
    return r.json


def challenge_outcome(idents, ctype, plan_body=None):
    """Order idents, answer the ctype challenge of its (single)
    authorization, wait; returns (authz json, challenge json). plan_body:
    what the http-01 responder serves for the token (None: the key
    authorization); a ("redirect", url) tuple serves a redirect."""
    _, o = A.order(idents)
    au = o["authorizations"][0]
    a = A.expect(A.get(au), 200, "authz").json
    ch = [c for c in a["challenges"] if c["type"] == ctype][0]
    ka = A.key_authorization(ch["token"])
    if isinstance(plan_body, tuple):
        HTTP.plan[ch["token"]] = plan_body
    else:
        HTTP.plan[ch["token"]] = ("body",
                                  ka if plan_body is None else plan_body)
    A.answer(ch["url"])
    a = A.wait_authz(au, 60).json
    ch = [c for c in a["challenges"] if c["type"] == ctype][0]
    print("  %s %s: authz %s, challenge error %s" % (
        ctype, json.dumps(idents), a.get("status"),
        json.dumps(ch.get("error"))), flush=True)
    return a, ch


def need_policy_refusal(a, ch):
    need(a.get("status") == "invalid" and ch.get("status") == "invalid",
         "authz %r / challenge %r, expected invalid"
         % (a.get("status"), ch.get("status")))
    err = ch.get("error") or {}
    need(err.get("type") == PROBLEM + "connection",
         "challenge error type %r, expected connection" % err.get("type"))
    need("refused by policy" in (err.get("detail") or ""),
         "challenge error detail %r lacks 'refused by policy'"
         % err.get("detail"))


def no_contact(before_http, before_tcp):
    need(len(HTTP.hits) == before_http,
         "the http-01 responder was contacted: %r"
         % HTTP.hits[before_http:])
    need(TCP.accepted == before_tcp,
         "the tls-alpn-01 port saw %d connections"
         % (TCP.accepted - before_tcp))


# ----------------------------------------------------------- PHASE=off


@case("off: newOrder ip 127.0.0.1 -> rejectedIdentifier")
def off_ip_loopback():
    expect_rejected([{"type": "ip", "value": "127.0.0.1"}])


@case("off: newOrder ip 169.254.169.254 -> rejectedIdentifier")
def off_ip_metadata():
    p = expect_rejected([{"type": "ip", "value": "169.254.169.254"}])
    need("169.254.169.254" in p.get("detail", ""),
         "detail does not name the address: %r" % p)


@case("off: newOrder ip ::ffff:127.0.0.1, 10.0.0.5, fd00::1 -> "
      "rejectedIdentifier with 3 subproblems")
def off_ip_more():
    expect_rejected([{"type": "ip", "value": "::ffff:127.0.0.1"},
                     {"type": "ip", "value": "10.0.0.5"},
                     {"type": "ip", "value": "fd00::1"}], 3)


@case("off: http-01 for a name -> 127.0.0.1 is refused by policy; "
      "the responder is never contacted")
def off_http_loopback():
    h, t = len(HTTP.hits), TCP.accepted
    a, ch = challenge_outcome([name("loop")], "http-01")
    need_policy_refusal(a, ch)
    no_contact(h, t)


@case("off: tls-alpn-01 for a name -> 127.0.0.1 is refused by policy; "
      "nothing connects to the tls-alpn-01 port")
def off_alpn_loopback():
    h, t = len(HTTP.hits), TCP.accepted
    a, ch = challenge_outcome([name("alpn")], "tls-alpn-01")
    need_policy_refusal(a, ch)
    no_contact(h, t)


@case("off: http-01 for a name with A 169.254.169.254 (nsupdate) is "
      "refused by policy")
def off_http_metadata():
    h, t = len(HTTP.hits), TCP.accepted
    a, ch = challenge_outcome([META_NAME], "http-01")
    need_policy_refusal(a, ch)
    need("169.254" not in ch["error"].get("detail", ""),
         "the detail names the refused address: %r" % ch["error"])
    no_contact(h, t)


@case("off: http-01 for a CNAME to that name is refused by policy")
def off_http_metadata_cname():
    h, t = len(HTTP.hits), TCP.accepted
    a, ch = challenge_outcome([META_CNAME], "http-01")
    need_policy_refusal(a, ch)
    no_contact(h, t)


# ----------------------------------------------------------- PHASE=on


@case("on: newOrder ip 127.0.0.1 is accepted")
def on_ip_loopback():
    A.order([{"type": "ip", "value": "127.0.0.1"}])


@case("on: newOrder ip 169.254.169.254 is still rejectedIdentifier")
def on_ip_metadata():
    expect_rejected([{"type": "ip", "value": "169.254.169.254"}])


@case("on: http-01 for a name -> 127.0.0.1 validates")
def on_http_loopback():
    a, ch = challenge_outcome([name("ok")], "http-01")
    need(a.get("status") == "valid", "authz %r" % a.get("status"))


@case("on: a wrong http-01 body is reported by its length, not echoed")
def on_no_echo():
    a, ch = challenge_outcome([name("echo")], "http-01", SECRET)
    need(a.get("status") == "invalid", "authz %r" % a.get("status"))
    err = ch.get("error") or {}
    det = err.get("detail") or ""
    need(err.get("type") == PROBLEM + "incorrectResponse",
         "challenge error type %r" % err.get("type"))
    need("SECRET" not in json.dumps(a), "the body is echoed: %r" % err)
    need("%d bytes" % len(SECRET) in det,
         "detail %r does not give the length %d" % (det, len(SECRET)))


@case("on: a redirect to http://169.254.169.254/ is refused by policy")
def on_redirect_metadata():
    target = "http://169.254.169.254:%d/latest/meta-data/" % HTTP01_PORT
    a, ch = challenge_outcome([name("redir")], "http-01",
                              ("redirect", target))
    need_policy_refusal(a, ch)


@case("on: http-01 for a name with A 169.254.169.254 is still refused")
def on_http_metadata():
    h = len(HTTP.hits)
    a, ch = challenge_outcome([META_NAME], "http-01")
    need_policy_refusal(a, ch)
    need(len(HTTP.hits) == h, "the responder was contacted")


def main():
    global HTTP, TCP
    try:
        A.register(contact=["mailto:ssrf@" + ZONE])
        HTTP = Responder(HTTP01_PORT)
        TCP = TcpCounter(TLSALPN_PORT)
    except Exception as e:  # noqa: BLE001
        bad("setup (account, responders): %s\n%s" % (
            e, traceback.format_exc()))
    else:
        prefix = PHASE + ":"
        CHECKS.cases = [c for c in CHECKS.cases
                        if c.__name__.startswith(PHASE + "_")]
        print("running %d %s checks" % (len(CHECKS.cases), prefix),
              flush=True)
        CHECKS.run_cases()
        time.sleep(0.2)
        print("http-01 responder hits: %s, tls-alpn-01 accepts: %d" % (
            json.dumps(HTTP.hits), TCP.accepted), flush=True)
    finally:
        if HTTP is not None:
            HTTP.close()
        if TCP is not None:
            TCP.close()
    return CHECKS.report(os.path.join(OUT, "py-counts.json"),
                         "ssrf %s checks" % PHASE)


if __name__ == "__main__":
    sys.exit(main())
