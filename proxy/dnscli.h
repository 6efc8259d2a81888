/* SPDX-License-Identifier: Apache-2.0 */
/* `acmebridge dns ...` subcommands. */
#pragma once
#include "proxy/conf.h"

/** argv[0] is the subcommand; returns the process exit status. */
int cmd_dns(struct px_conf *conf, int argc, char **argv);

struct dns_connector;
struct dns_record;
struct dns_prop_req;
/** The propagation check of record r as connector c is configured. */
void px_dns_prop_req(const struct px_conf *conf, const struct dns_connector *c,
    const struct dns_record *r, struct dns_prop_req *req);
