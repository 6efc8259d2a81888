#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Install everything that building acmebridge and running its tests needs on
# Debian 12 (bookworm). Idempotent and non-interactive; run as root:
#   sudo bash contrib/scripts/install-deps.sh
set -eu

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (sudo bash $0)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
	# build
	build-essential cmake pkg-config
	libevent-dev libcurl4-openssl-dev libjansson-dev libssl-dev
	libsqlite3-dev libldns-dev libcmocka-dev libidn2-dev libpsl-dev
	libsystemd-dev
	# packaging (contrib/scripts/build-deb.sh, test_package.sh) and the
	# man page checks; systemd for systemd-analyze (test_dist.sh)
	debhelper fakeroot lintian debootstrap mandoc systemd systemd-container man-db
	# fuzzing (libFuzzer ships with clang)
	clang
	# test infrastructure
	bind9 bind9-utils bind9-dnsutils knot knot-dnsutils sqlite3 curl jq openssl procps
	pdns-server pdns-backend-sqlite3
	ca-certificates python3 python3-cryptography clang-format
	# ACME clients the integration tests drive
	certbot python3-certbot-dns-rfc2136 lego dehydrated uacme acme-tiny pebble
	# test_admin takes a screenshot of the status page (headless)
	chromium
)
# Node.js: Debian's nodejs + npm unless a Node.js with npm is already
# installed (some images ship a nodejs package that bundles npm and
# conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

apt-get update -q
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

# the services of bind9, knot and pdns-server are not needed: the tests
# start their own servers on loopback ports.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now named.service knot.service pdns.service \
		>/dev/null 2>&1 || true
fi

# npm packages of the integration tests (acme-client), pinned by the lock file.
cd "$SRCDIR/tests/integration"
if [ -f package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
else
	npm install --no-audit --no-fund --loglevel=error
fi

echo "install-deps.sh: done"
