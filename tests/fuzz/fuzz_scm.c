/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: what the bridge reads from SCM's answers: error
 * bodies, collected certificate chains, the tag in comments. */
#include <string.h>

#include "sectigo/internal.h"
#include "tests/fuzz/fuzz.h"

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
		free(s);
	}
	return 0;
}
