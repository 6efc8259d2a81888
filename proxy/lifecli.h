/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge inventory|sync|reissue|revoke`: the certificate lifecycle
 * from the command line. */
#pragma once
#include "proxy/conf.h"

/** Options of the lifecycle commands (borrowed strings, NULL = unset). */
struct px_life_opts {
	const char *connector;
	const char *account;
	const char *name;
	const char *status;
	const char *profile;
	long long expiring_days; /* 0: any */
	int json, csv;
	int limit;
	const char *csr_file;
	const char *reason;
	const char *out_file;
	int wait_seconds; /* reissue/revoke: how long to wait, default 120 */
};

/** argv[0] is list|show|export. */
int px_cmd_inventory(
    struct px_conf *conf, int argc, char **argv, const struct px_life_opts *o);
/** One SCM report sync pass per connector (or --connector), now. */
int px_cmd_sync(struct px_conf *conf, const struct px_life_opts *o);
/** argv[0] is the serial: SCM replace with --csr, --reason. */
int px_cmd_reissue(
    struct px_conf *conf, int argc, char **argv, const struct px_life_opts *o);
/** argv[0] is the serial: revocation with --reason. */
int px_cmd_revoke(
    struct px_conf *conf, int argc, char **argv, const struct px_life_opts *o);
