/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: strict base64url decoding, and the round trip: what
 * decodes must encode back to exactly the input (one text form each). */
#include <string.h>

#include "contrib/b64url.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *dec;
	size_t n = 0;
	char *enc;

	dec = b64url_decode_alloc((const char *)data, size, &n);
	if (dec == NULL)
		return 0;
	enc = malloc(b64url_enc_len(n) + 1);
	if (enc == NULL) {
		free(dec);
		return 0;
	}
	if (b64url_encode(dec, n, enc) != size || memcmp(enc, data, size) != 0)
		abort(); /* two encodings of the same bytes were accepted */
	free(enc);
	free(dec);
	return 0;
}
