/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge dcv ...` and `acmebridge dns list`. */
#pragma once
#include "acme/db.h"
#include "proxy/conf.h"

/** argv[0] is the subcommand (list|status|start). */
int cmd_dcv(struct px_conf *conf, struct acme_db *db, int argc, char **argv,
    const char *connector);
/** The records the bridge manages (all: also removed ones). */
int cmd_dns_list(struct px_conf *conf, struct acme_db *db, int all);
