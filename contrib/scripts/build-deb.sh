#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Build the Debian package from this source tree and check it with lintian.
#   bash contrib/scripts/build-deb.sh [OUTDIR]     (default: the current directory)
# The tree (git ls-files, or the tree without build directories when it is
# not a git checkout) is copied to a temporary directory, contrib/dist/debian
# becomes debian/, dpkg-buildpackage -us -uc -b builds it, lintian must find
# no error (warnings are printed), and the .deb lands in OUTDIR. Needs
# debhelper, dpkg-dev, fakeroot, lintian, jq and the build dependencies
# (contrib/scripts/install-deps.sh).
set -eu
set -o pipefail

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUTDIR=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

for tool in dpkg-buildpackage dh fakeroot lintian jq; do
	command -v "$tool" >/dev/null || {
		echo "build-deb.sh: $tool is missing (bash contrib/scripts/install-deps.sh)" >&2
		exit 1
	}
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/acmebridge-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
version=$(sed -n '1s/^acmebridge (\([^)]*\)).*/\1/p' "$SRCDIR/contrib/dist/debian/changelog")
[ -n "$version" ] || { echo "build-deb.sh: no version in debian/changelog" >&2; exit 1; }
SRC=$WORK/acmebridge-$version
mkdir -p "$SRC"
if git -C "$SRCDIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked files as they are in the work tree (uncommitted edits too)
	(cd "$SRCDIR" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' |
		tar --null -T - -cf -) | tar -xf - -C "$SRC"
else
	tar -C "$SRCDIR" --exclude='./build*' --exclude='./.git' \
		--exclude='./tests/integration/node_modules' -cf - . | tar -xf - -C "$SRC"
fi
rm -rf "$SRC/debian"
cp -r "$SRCDIR/contrib/dist/debian" "$SRC/debian"
chmod +x "$SRC/debian/rules"

echo "build-deb.sh: building acmebridge $version in $SRC"
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck parallel=$JOBS ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 || {
	tail -n 60 "$WORK/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed" >&2
	exit 1
}
deb=$(ls "$WORK"/acmebridge_"$version"_*.deb)
changes=$(ls "$WORK"/acmebridge_"$version"_*.changes)

# lintian: errors fail the build, warnings are shown
lintian --tag-display-limit 0 --display-info "$changes" >"$WORK/lintian.out" 2>&1 || true
cat "$WORK/lintian.out"
if grep -q '^E: ' "$WORK/lintian.out"; then
	echo "build-deb.sh: lintian found errors" >&2
	exit 1
fi
cp "$deb" "$OUTDIR/"
echo "build-deb.sh: $OUTDIR/$(basename "$deb") ($(grep -c '^W: ' "$WORK/lintian.out" || true) lintian warnings)"
