/* SPDX-License-Identifier: Apache-2.0 */
/* base64url without padding. */
#include "contrib/b64url.h"

#include <stdlib.h>

static const char alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64url_enc_len(size_t n)
{
	return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

size_t
b64url_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v =
		    (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		out[o++] = alpha[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

char *
b64url_encode_alloc(const void *in, size_t n)
{
	char *out = malloc(b64url_enc_len(n) + 1);

	if (out != NULL)
		b64url_encode(in, n, out);
	return out;
}

static int
val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
b64url_decode(const char *in, size_t len, unsigned char *out)
{
	size_t i, o = 0;
	unsigned acc = 0;
	int bits = 0;

	/* a single trailing character carries fewer than 8 bits: invalid */
	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		int v = val(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	/* RFC 4648 §3.5: the unused low bits must be zero (canonical form) */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

unsigned char *
b64url_decode_alloc(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out = malloc(len * 3 / 4 + 1);
	long n;

	if (out == NULL)
		return NULL;
	n = b64url_decode(in, len, out);
	if (n < 0) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)n;
	return out;
}
