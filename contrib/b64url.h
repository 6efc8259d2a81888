/* SPDX-License-Identifier: Apache-2.0 */
/* base64url without padding (RFC 4648 §5, RFC 7515 §2). */
#pragma once
#include <stddef.h>

/** Encoded length (without NUL) of n bytes. */
size_t b64url_enc_len(size_t n);
/**
 * Encode n bytes into out (b64url_enc_len(n) + 1 bytes), NUL-terminated.
 * @return the encoded length.
 */
size_t b64url_encode(const void *in, size_t n, char *out);
/** Encode into a malloc'd string; caller frees. NULL on allocation failure. */
char *b64url_encode_alloc(const void *in, size_t n);
/**
 * Decode strict unpadded base64url (padding '=', whitespace and the
 * standard alphabet's '+' and '/' are refused).
 * @param out buffer of at least len*3/4+1 bytes
 * @return decoded length, or -1 on bad input.
 */
long b64url_decode(const char *in, size_t len, unsigned char *out);
/** Decode into a malloc'd buffer; *outlen set. NULL on bad input or OOM. */
unsigned char *b64url_decode_alloc(const char *in, size_t len, size_t *outlen);
