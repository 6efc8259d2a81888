#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An "exec" DNS connector program for the tests: lego's convention
# (present|cleanup FQDN VALUE) carried out with nsupdate against the test
# BIND9. Reads NSUPDATE_SERVER, NSUPDATE_PORT and NSUPDATE_KEY (passed
# through the connector's pass_env; NSUPDATE_ZONE overrides the zone the
# update names, for a connector zone that is part of a larger DNS zone).
# HOOK_SLEEP makes it hang (timeout
# test); HOOK_REFUSE makes it exit 2 (refused); HOOK_NOOP makes it claim
# success and publish nothing (a record that never appears).
set -eu
verb=$1 fqdn=$2 value=$3
echo "hook: $verb $fqdn $ACMEBRIDGE_TYPE zone=$ACMEBRIDGE_ZONE ttl=$ACMEBRIDGE_TTL"
[ -z "${HOOK_SLEEP:-}" ] || sleep "$HOOK_SLEEP"
if [ -n "${HOOK_REFUSE:-}" ]; then
	echo "hook: refusing on purpose" >&2
	exit 2
fi
[ -z "${HOOK_NOOP:-}" ] || exit 0
case $ACMEBRIDGE_TYPE in
TXT)
	# zone-file presentation: quote, escape backslash and double quote
	q=$(printf '%s' "$value" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
	rdata="\"$q\""
	;;
CNAME) rdata=$value ;;
*) exit 2 ;;
esac
case $verb in
present) op="update add $fqdn $ACMEBRIDGE_TTL $ACMEBRIDGE_TYPE $rdata" ;;
cleanup) op="update delete $fqdn $ACMEBRIDGE_TYPE $rdata" ;;
*) exit 2 ;;
esac
printf 'server %s %s\nzone %s\n%s\nsend\n' "$NSUPDATE_SERVER" "$NSUPDATE_PORT" \
	"${NSUPDATE_ZONE:-$ACMEBRIDGE_ZONE}" "$op" | nsupdate -k "$NSUPDATE_KEY"
