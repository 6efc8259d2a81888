#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers of test_admin.sh (standard library only).

  test_admin.py parse FILE
      check a Prometheus text exposition (0.0.4): every sample belongs to a
      family declared by # HELP and # TYPE, no series twice, histogram
      buckets cumulative with +Inf equal to _count; print the samples as
      JSON {"name{labels}": value}
  test_admin.py value FILE 'name{a="b",...}'
      print one sample's value (0 when absent)
  test_admin.py compare BEFORE AFTER
      the checks that an issuance moved the counters (see below)
  test_admin.py png FILE WIDTH HEIGHT MIN_COLOURS [RRGGBB...]
      a valid PNG of WIDTH x HEIGHT with at least MIN_COLOURS colours,
      among them each RRGGBB given
"""
import json
import re
import struct
import sys
import zlib

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def labels_of(text):
    if not text:
        return ()
    pairs = LABEL.findall(text)
    rebuilt = ",".join('%s="%s"' % p for p in pairs)
    if rebuilt != text.rstrip(","):
        fail("bad label set {%s}" % text)
    return tuple(sorted(pairs))


def parse(path):
    """{(name, labels): value}, families {name: type}; fails on defects."""
    types, helps, samples = {}, set(), {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("# HELP "):
                helps.add(line.split(" ")[2])
                continue
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split(" ", 3)
                if name in types:
                    fail("line %d: family %s declared twice" % (n, name))
                if typ not in ("counter", "gauge", "histogram", "summary",
                               "untyped"):
                    fail("line %d: unknown type %s" % (n, typ))
                types[name] = typ
                continue
            if line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if m is None:
                fail("line %d: not a sample: %r" % (n, line))
            name, labels, value = m.group(1), labels_of(m.group(3)), m.group(4)
            fam = name
            if name not in types:
                for suf in ("_bucket", "_sum", "_count"):
                    if name.endswith(suf) and \
                            types.get(name[:-len(suf)]) == "histogram":
                        fam = name[:-len(suf)]
            if fam not in types:
                fail("line %d: sample %s of no declared family" % (n, name))
            if fam not in helps:
                fail("line %d: family %s has no # HELP" % (n, fam))
            key = (name, labels)
            if key in samples:
                fail("line %d: series %s%s twice" % (n, name, labels))
            try:
                samples[key] = float(value)
            except ValueError:
                fail("line %d: value %r" % (n, value))
    check_histograms(types, samples)
    return types, samples


def check_histograms(types, samples):
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        groups = {}
        for (name, labels), v in samples.items():
            if name != fam + "_bucket":
                continue
            rest = tuple(p for p in labels if p[0] != "le")
            le = dict(labels)["le"]
            groups.setdefault(rest, []).append(
                (float("inf") if le == "+Inf" else float(le), v))
        for rest, buckets in groups.items():
            buckets.sort()
            vals = [v for _, v in buckets]
            if vals != sorted(vals):
                fail("%s%s: buckets not cumulative" % (fam, rest))
            if buckets[-1][0] != float("inf"):
                fail("%s%s: no +Inf bucket" % (fam, rest))
            count = samples.get((fam + "_count", rest))
            if count != buckets[-1][1]:
                fail("%s%s: _count %s != +Inf bucket %s" %
                     (fam, rest, count, buckets[-1][1]))
            if (fam + "_sum", rest) not in samples:
                fail("%s%s: no _sum" % (fam, rest))


def value(samples, series):
    m = SAMPLE.match(series + " 0")
    if m is None:
        fail("bad series %r" % series)
    return samples.get((m.group(1), labels_of(m.group(3))), 0.0)


def compare(before_path, after_path):
    _, b = parse(before_path)
    _, a = parse(after_path)

    def moved(series, what):
        vb, va = value(b, series), value(a, series)
        if not va > vb:
            fail("%s did not increase (%s -> %s): %s" % (what, vb, va, series))
        print("ok %s: %g -> %g" % (what, vb, va))

    moved('acmebridge_http_requests_total{endpoint="newOrder",code="201"}',
          "newOrder requests answered 201")
    moved('acmebridge_http_requests_total{endpoint="finalize",code="200"}',
          "finalize requests answered 200")
    moved('acmebridge_scm_requests_total{connector="sectigo",'
          'endpoint="enroll",outcome="ok"}', "SCM enroll calls ok")
    moved('acmebridge_scm_requests_total{connector="sectigo",'
          'endpoint="collect",outcome="ok"}', "SCM collect calls ok")
    moved('acmebridge_scm_requests_total{connector="sectigo",'
          'endpoint="dcv",outcome="ok"}', "SCM DCV calls ok")
    moved('acmebridge_dns_operations_total{connector="bind",op="present",'
          'outcome="ok"}', "DNS present operations ok")
    moved('acmebridge_dcv_runs_finished_total{outcome="valid"}',
          "DCV runs ended valid")
    moved('acmebridge_ratelimit_refusals_total{limit="new_orders_per_account"}',
          "rate-limit refusals of new orders per account")
    moved('acmebridge_http_requests_total{endpoint="newOrder",code="429"}',
          "newOrder requests answered 429")
    moved('acmebridge_commit_batches_total{result="ok"}',
          "group-commit batches")
    if value(a, 'acmebridge_build_info{version="%s"}' %
             dict(next(l for (n, l) in a if n == "acmebridge_build_info"))
             ["version"]) != 1:
        fail("build_info is not 1")
    # the request counter and the latency histogram count the same thing
    for ep in ("newOrder", "finalize", "order", "directory", "newNonce"):
        total = sum(v for (n, l), v in a.items()
                    if n == "acmebridge_http_requests_total" and
                    dict(l)["endpoint"] == ep)
        cnt = value(a, 'acmebridge_http_request_duration_seconds_count'
                    '{endpoint="%s"}' % ep)
        if total != cnt:
            fail("endpoint %s: requests_total %g != histogram _count %g" %
                 (ep, total, cnt))
    print("ok requests_total equals the histogram _count per endpoint")
    # every label value comes from a fixed set
    eps = {dict(l)["endpoint"] for (n, l) in a
           if n == "acmebridge_http_requests_total"}
    allowed = {"directory", "newNonce", "newAccount", "newOrder", "order",
               "authz", "challenge", "finalize", "certificate", "revokeCert",
               "keyChange", "renewalInfo", "account", "other"}
    if not eps <= allowed:
        fail("unexpected endpoint labels: %s" % (eps - allowed))
    print("ok endpoint labels bounded: %s" % sorted(eps))


def png(path, width, height, min_colours, need=()):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s: not a PNG" % path)
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        crc = struct.unpack(">I", data[pos + 8 + ln:pos + 12 + ln])[0]
        if zlib.crc32(typ + body) & 0xffffffff != crc:
            fail("%s: bad CRC in chunk %s" % (path, typ))
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    w, h, depth, ctype, _, _, interlace = ihdr
    if (w, h) != (width, height):
        fail("%s: %dx%d, expected %dx%d" % (path, w, h, width, height))
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        fail("%s: unexpected format depth %d type %d" % (path, depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 0xff
            elif ft == 2:
                line[x] = (line[x] + b) & 0xff
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xff
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 0xff
        for x in range(0, stride, bpp):
            colours.add(bytes(line[x:x + 3]))
        prev = line
    if len(colours) < min_colours:
        fail("%s: only %d colours (blank page?)" % (path, len(colours)))
    for hexcol in need:
        if bytes.fromhex(hexcol) not in colours:
            fail("%s: no pixel of colour #%s (the page is not drawn?)" %
                 (path, hexcol))
    print("ok %s: %dx%d PNG, %d colours, with #%s" %
          (path, w, h, len(colours), ", #".join(need)))


def main():
    cmd = sys.argv[1]
    if cmd == "parse":
        types, samples = parse(sys.argv[2])
        print("ok %d families, %d samples" % (len(types), len(samples)))
    elif cmd == "value":
        _, samples = parse(sys.argv[2])
        print("%g" % value(samples, sys.argv[3]))
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
    elif cmd == "png":
        png(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
            int(sys.argv[5]), sys.argv[6:])
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
