#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Build acmebridge (warnings are errors) and run every test with ctest.
#   bash contrib/scripts/test.sh              # build/, plain build
#   bash contrib/scripts/test.sh --sanitize   # build-asan/, ASan + UBSan
#   bash contrib/scripts/test.sh --fuzz       # build-fuzz/, libFuzzer targets
# Extra arguments after the options are passed to ctest (e.g. -R certbot).
set -eu

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# The integration tests mostly wait (on clients, DNS propagation, the
# simulator's pending states), so one more test than cores runs at once.
TEST_JOBS=${TEST_JOBS:-$((JOBS + 1))}

sanitize=0
fuzz=0
if [ "${1:-}" = "--sanitize" ]; then
	sanitize=1
	shift
elif [ "${1:-}" = "--fuzz" ]; then
	fuzz=1
	shift
fi

if [ "$fuzz" = 1 ]; then
	# libFuzzer targets (clang, ASan + UBSan), each for a bounded number
	# of runs over its seed corpus
	BUILD=$SRCDIR/build-fuzz
	CC=clang cmake -S "$SRCDIR" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug \
		-DWERROR=ON -DENABLE_FUZZ=ON
	cmake --build "$BUILD" -j "$JOBS"
	cd "$BUILD"
	exec ctest --output-on-failure -j "$JOBS" -L fuzz "$@"
fi

if [ ! -d "$SRCDIR/tests/integration/node_modules/acme-client" ] &&
	[ -f "$SRCDIR/tests/integration/package-lock.json" ]; then
	echo "test.sh: installing the npm packages of the integration tests"
	(cd "$SRCDIR/tests/integration" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "$sanitize" = 1 ]; then
	BUILD=$SRCDIR/build-asan
	cmake -S "$SRCDIR" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DWERROR=ON \
		-DENABLE_ASAN=ON -DENABLE_UBSAN=ON
	export ASAN_OPTIONS=detect_leaks=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
else
	BUILD=$SRCDIR/build
	cmake -S "$SRCDIR" -B "$BUILD" -DWERROR=ON
fi

cmake --build "$BUILD" -j "$JOBS"
cd "$BUILD"
if [ "$sanitize" = 1 ]; then
	# the package test builds its own (non-sanitized) package: once, in
	# the plain pass, is enough
	ctest --output-on-failure -j "$TEST_JOBS" -LE package "$@"
else
	ctest --output-on-failure -j "$TEST_JOBS" "$@"
fi
