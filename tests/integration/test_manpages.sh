#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The man pages are the one hand-written source of the reference
# documentation, kept in step with the code by this test: every command,
# subcommand and option `acmebridge --help` prints is in acmebridge(8);
# every key of contrib/dist/acmebridge.example.json and of the schema
# tables (proxy/conf.c, dns/connector.c, dns/conn_*.c) has an ".It Cm PATH"
# entry in acmebridge.json(5). Each one missing is named. Both pages pass
# `mandoc -Tlint -W warning`.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=SCRIPTDIR/lib.sh disable=SC2119
. "$SRCDIR/tests/integration/lib.sh"

MAN8=$SRCDIR/contrib/dist/man/acmebridge.8
MAN5=$SRCDIR/contrib/dist/man/acmebridge.json.5
command -v mandoc >/dev/null || fail "mandoc is missing (apt-get install mandoc)"
[ -x "$ACMEBRIDGE_BIN" ] || fail "acmebridge binary not found: $ACMEBRIDGE_BIN"

for page in "$MAN8" "$MAN5"; do
	if mandoc -Tlint -W warning "$page" >"$T/lint.out" 2>&1; then
		check_ok "mandoc -Tlint: $(basename "$page") clean"
	else
		check_bad "mandoc -Tlint $(basename "$page"): $(cat "$T/lint.out")"
	fi
done

"$ACMEBRIDGE_BIN" --help >"$T/help.txt" || fail "acmebridge --help failed"
python3 - "$T/help.txt" "$MAN8" "$MAN5" "$SRCDIR" >"$T/doc.out" <<'PY' || true
import json, re, sys, glob, os
help_txt, man8, man5, src = sys.argv[1:5]
m8 = open(man8).read().splitlines()
m5 = open(man5).read().splitlines()
missing = []
n = 0

# -- commands and options of --help in acmebridge(8)
section = None
items = [l for l in m8 if l.startswith(".It Cm ")]
for line in open(help_txt):
    if line.startswith("commands:"):
        section = "cmd"; continue
    if line.startswith("options:"):
        section = "opt"; continue
    m = re.match(r"^  ([a-z][a-z-]*)(?: ([a-z|]+))?(?: |$)", line)
    if section == "cmd" and m:
        cmd, subs = m.group(1), m.group(2)
        for sub in (subs.split("|") if subs else [None]):
            n += 1
            pat = r"^\.It Cm %s\b" % re.escape(cmd)
            if sub:
                pat += r".*\b%s\b" % re.escape(sub)
            if not any(re.search(pat, l) for l in items):
                missing.append("acmebridge.8: command '%s'" % (cmd + (" " + sub if sub else "")))
text8 = "\n".join(m8)
for opt in sorted(set(re.findall(r"(?<![\w-])--([a-z][a-z-]+)", open(help_txt).read()))):
    n += 1
    if not re.search(r"\bFl -%s\b" % re.escape(opt), text8):
        missing.append("acmebridge.8: option --%s" % opt)
for short in re.findall(r"^  -([a-zA-Z]),", open(help_txt).read(), re.M):
    n += 1
    if not re.search(r"\bFl %s\b" % short, text8):
        missing.append("acmebridge.8: option -%s" % short)

# -- configuration keys in acmebridge.json(5)
documented = set()
for l in m5:
    if l.startswith(".It Cm "):
        for tok in l[len(".It Cm "):].split():
            if tok not in (",", "Cm", "Ns"):
                documented.add(tok)
keys = {}
def walk(v, path, where):
    if isinstance(v, dict):
        for k, c in v.items():
            if k.startswith("#"):
                continue
            if path.endswith(".profiles"):
                walk(c, path + ".NAME", where)  # the administrator's names
                continue
            p = (path + "." if path else "") + k
            keys.setdefault(p, where)
            walk(c, p, where)
    elif isinstance(v, list):
        for c in v:
            walk(c, path + "[]", where)
walk(json.load(open(os.path.join(src, "contrib/dist/acmebridge.example.json"))),
     "", "the example config")
conf_c = open(os.path.join(src, "proxy/conf.c")).read()
prefix = {"top": "", "rl": "rate_limits.", "val": "validation.",
          "conn": "connectors[].", "profile": "connectors[].profiles.NAME."}
tables = re.findall(r"static const struct key (\w+)_keys\[\] = \{(.*?)\n\};", conf_c, re.S)
if not tables:
    missing.append("proxy/conf.c: no schema table found (did its form change?)")
for t, body in tables:
    for k in re.findall(r'\{"(\w+)", K_', body):
        keys.setdefault(prefix.get(t, t + ".") + k, "proxy/conf.c " + t + "_keys")
for f in sorted(glob.glob(os.path.join(src, "dns/*.c"))):
    s = open(f).read()
    for body in re.findall(r"static const struct ckey \w+\[\] = \{(.*?)\n\};", s, re.S):
        for k in re.findall(r'\{"(\w+)", K_', body):
            keys.setdefault("dns_connectors[]." + k, os.path.relpath(f, src))
    for body in re.findall(r"static const char \*const \w+_keys\[\] = \{(.*?)\};", s, re.S):
        for k in re.findall(r'"(\w+)"', body):
            keys.setdefault("dns_connectors[]." + k, os.path.relpath(f, src))
for k in sorted(keys):
    n += 1
    if k not in documented:
        missing.append("acmebridge.json.5: key %s (from %s)" % (k, keys[k]))
print(json.dumps({"checked": n, "missing": missing}))
PY
[ -s "$T/doc.out" ] || fail "the documentation check did not run"
checked=$(jq -r .checked "$T/doc.out")
nmiss=$(jq -r '.missing | length' "$T/doc.out")
[ "$checked" -gt 100 ] || check_bad "only $checked items found to check: the parsing broke"
if [ "$nmiss" -eq 0 ]; then
	check_ok "all $checked commands, options and configuration keys are documented"
else
	jq -r '.missing[] | "  not documented: " + .' "$T/doc.out" >&2
	check_bad "$nmiss of $checked items are not documented in the man pages"
fi
check_summary
