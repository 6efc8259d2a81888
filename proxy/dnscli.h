/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge dns ...` subcommands. */
#pragma once
#include "proxy/conf.h"

/** argv[0] is the subcommand; returns the process exit status. */
int cmd_dns(struct px_conf *conf, int argc, char **argv);
