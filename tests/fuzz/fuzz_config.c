/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the configuration loader (schema checks, settings,
 * connectors), on the input written to a file of its own. Secrets are not
 * read (need_secrets = 0), as for the eab commands. */
#include <stdio.h>
#include <unistd.h>

#include "proxy/conf.h"
#include "tests/fuzz/fuzz.h"

static char path[4096];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/acmebridge-fuzz-conf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_conf conf;
	char err[512];
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return 0;
	if (fwrite(data, 1, size, f) != size) {
		fclose(f);
		return 0;
	}
	fclose(f);
	if (px_conf_load(path, &conf, 0, err, sizeof(err)) == 0)
		px_conf_free(&conf);
	return 0;
}
