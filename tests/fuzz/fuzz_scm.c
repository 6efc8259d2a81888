/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: what the bridge reads from SCM's answers: error
 * bodies, collected certificate chains, the tag in comments, serials and
 * dates, details objects and report rows. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sectigo/internal.h"
#include "tests/fuzz/fuzz.h"

/* A details object, a bare report array or {"reports": [...]}. */
static void
cert_parse_any(const char *data, size_t size)
{
	json_t *root = json_loadb(data, size, 0, NULL), *rows, *row;
	struct acme_ca_cert cert;
	size_t i;

	if (root == NULL)
		return;
	if (sectigo_cert_parse(root, &cert) == 0)
		sectigo_cert_clear(&cert);
	rows = json_is_array(root) ? root : json_object_get(root, "reports");
	json_array_foreach(rows, i, row) {
		if (sectigo_cert_parse(row, &cert) == 0)
			sectigo_cert_clear(&cert);
	}
	json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sectigo_err e;
	char *chain = NULL, *s;

	sectigo_parse_err((const char *)data, size, &e);
	(void)sectigo_collect_pending(400, &e, (const char *)data, size);
	if (sectigo_chain_normalize((const char *)data, size, &chain) == 0)
		free(chain);
	s = malloc(size + 1);
	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)sectigo_comment_has_tag(s, "abcDEF-123_x");
		(void)sectigo_parse_date(s);
		{
			char serial[130];

			(void)sectigo_serial_norm(s, serial, sizeof(serial));
		}
		free(s);
	}
	cert_parse_any((const char *)data, size);
	return 0;
}
