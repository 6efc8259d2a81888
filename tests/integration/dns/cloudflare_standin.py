#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for the Cloudflare API v4, written from Cloudflare's public
documentation for the tests (we cannot reach Cloudflare from here): it is
not Cloudflare. It keeps zones and DNS records in memory and answers in
the documented envelope {"success", "errors", "messages", "result"}:
GET /zones?name=, GET/POST /zones/{id}/dns_records (filters type, name,
content), DELETE /zones/{id}/dns_records/{record id}. Bearer token
checked. POST /standin/switch {"status": 429, "retry_after": S, "count": K,
"after": N} makes K API requests answer that status once N more have been
served normally; {"delay": D} makes every API request take D seconds.
GET /standin/records lists what is stored.

usage: cloudflare_standin.py PORTFILE TOKEN ZONE
"""
import http.server
import json
import os
import secrets
import sys
import time
import urllib.parse

PORTFILE, TOKEN, ZONE = sys.argv[1:4]
ZONES = {secrets.token_hex(16): ZONE}
RECORDS = {}
SWITCH = {"status": 0, "retry_after": 0, "count": 0, "after": 0, "delay": 0}


def env(result=None, ok=True, errors=()):
    return {"success": ok, "errors": [{"code": c, "message": m} for c, m in errors],
            "messages": [], "result": result}


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("cf-standin: " + fmt % args + "\n")

    def send(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def gate(self):
        time.sleep(SWITCH["delay"])
        if SWITCH["after"] > 0:
            SWITCH["after"] -= 1
        elif SWITCH["count"] > 0:
            SWITCH["count"] -= 1
            hdrs = [("retry-after", str(SWITCH["retry_after"]))] if SWITCH["retry_after"] else []
            self.send(SWITCH["status"], env(None, False, [(971, "Please wait and consider throttling your request speed")]), hdrs)
            return False
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.send(403, env(None, False, [(10000, "Authentication error")]))
            return False
        return True

    def route(self):
        u = urllib.parse.urlparse(self.path)
        return [p for p in u.path.split("/") if p], urllib.parse.parse_qs(u.query)

    def do_GET(self):
        parts, q = self.route()
        if parts == ["standin", "records"]:
            return self.send(200, list(RECORDS.values()))
        if not self.gate():
            return
        if parts == ["client", "v4", "zones"]:
            name = q.get("name", [None])[0]
            res = [{"id": i, "name": n} for i, n in ZONES.items() if name in (None, n)]
            return self.send(200, env(res))
        if len(parts) == 5 and parts[:3] == ["client", "v4", "zones"] and parts[4] == "dns_records":
            if parts[3] not in ZONES:
                return self.send(404, env(None, False, [(7003, "Could not route to /zones/x, perhaps your object identifier is invalid?")]))
            res = [r for r in RECORDS.values() if r["zone_id"] == parts[3]
                   and all(r.get(k) == q[k][0] for k in ("type", "name", "content") if k in q)]
            return self.send(200, env(res))
        self.send(404, env(None, False, [(7000, "No route for that URI")]))

    def do_POST(self):
        parts, _ = self.route()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if parts == ["standin", "switch"]:
            SWITCH.update(json.loads(body))
            return self.send(200, {})
        if not self.gate():
            return
        if len(parts) == 5 and parts[4] == "dns_records" and parts[3] in ZONES:
            r = json.loads(body)
            if r.get("type") == "TXT" and not (r["content"].startswith('"') and r["content"].endswith('"')):
                return self.send(400, env(None, False, [(9000, "TXT content must be quoted")]))
            rec = {"id": secrets.token_hex(16), "zone_id": parts[3], "zone_name": ZONES[parts[3]],
                   "type": r["type"], "name": r["name"], "content": r["content"], "ttl": r.get("ttl", 1)}
            RECORDS[rec["id"]] = rec
            return self.send(200, env(rec))
        self.send(404, env(None, False, [(7000, "No route for that URI")]))

    def do_DELETE(self):
        parts, _ = self.route()
        if not self.gate():
            return
        if len(parts) == 6 and parts[4] == "dns_records" and parts[5] in RECORDS:
            del RECORDS[parts[5]]
            return self.send(200, env({"id": parts[5]}))
        self.send(404, env(None, False, [(81044, "Record does not exist.")]))


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
