#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small service in lego's HTTP request convention for the tests: POST
/present and /cleanup with {"fqdn", "value", "type"} apply the change to
the test BIND9 with nsupdate. Basic auth is checked. Switches (POST
/switch {"status": N, "retry_after": S, "count": K}) make the next K
requests answer N (429 with Retry-After, or 400).

usage: httpreq_server.py PORTFILE USER PASSWORD NSUPDATE_SERVER NSUPDATE_PORT ZONE KEYFILE
"""
import base64
import http.server
import json
import subprocess
import sys

PORTFILE, USER, PASSWORD, NS, NSPORT, ZONE, KEYFILE = sys.argv[1:8]
SWITCH = {"status": 0, "retry_after": 0, "count": 0}
SEEN = []


def quote(v):
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("httpreq: " + fmt % args + "\n")

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, json.dumps(SEEN).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/switch":
            SWITCH.update(json.loads(body))
            return self.reply(200)
        want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != want:
            return self.reply(401, b"bad credentials")
        if SWITCH["count"] > 0:
            SWITCH["count"] -= 1
            hdrs = [("Retry-After", str(SWITCH["retry_after"]))] if SWITCH["retry_after"] else []
            return self.reply(SWITCH["status"], b"switched on by the test", hdrs)
        try:
            req = json.loads(body)
            fqdn, value, rtype = req["fqdn"], req["value"], req.get("type", "TXT")
        except (ValueError, KeyError):
            return self.reply(400, b"bad body")
        if self.path not in ("/present", "/cleanup") or rtype not in ("TXT", "CNAME"):
            return self.reply(404, b"unknown")
        SEEN.append({"path": self.path, "fqdn": fqdn, "value": value, "type": rtype})
        rdata = quote(value) if rtype == "TXT" else value
        op = "add %s 5 %s %s" % (fqdn, rtype, rdata) if self.path == "/present" \
            else "delete %s %s %s" % (fqdn, rtype, rdata)
        script = f"server {NS} {NSPORT}\nzone {ZONE}\nupdate {op}\nsend\n"
        r = subprocess.run(["nsupdate", "-k", KEYFILE], input=script.encode(),
                           capture_output=True, timeout=10)
        if r.returncode != 0:
            return self.reply(502, r.stderr[:200])
        self.reply(200, b"{}")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
