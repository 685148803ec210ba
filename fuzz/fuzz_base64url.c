/*
 * fuzz_base64url.c
 *		libFuzzer harness for the strict base64url codec.
 *
 * Beyond memory safety, it checks three properties.  A string that decodes
 * re-encodes to itself, so each byte string has one encoding.  A rejected
 * string names an offset inside it.  Any bytes survive an encode and decode
 * round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *decoded = malloc(BASE64URL_DECODED_MAX(size) + 1);
	char	   *encoded = malloc(BASE64URL_ENCODED_LEN(size) + 1);
	size_t		decoded_len = 0;
	size_t		bad_offset = 0;
	size_t		encoded_len;

	if (base64url_decode((const char *) data, size, decoded, &decoded_len, &bad_offset))
	{
		char	   *again = malloc(BASE64URL_ENCODED_LEN(decoded_len) + 1);

		if (base64url_encode(decoded, decoded_len, again) != size ||
			memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	else if (bad_offset >= size)
		abort();

	free(decoded);

	/* The input as bytes: encoded length is exact, and decoding restores it. */
	decoded = malloc(BASE64URL_DECODED_MAX(BASE64URL_ENCODED_LEN(size)) + 1);
	encoded_len = base64url_encode(data, size, encoded);
	if (encoded_len != BASE64URL_ENCODED_LEN(size) ||
		!base64url_decode(encoded, encoded_len, decoded, &decoded_len, &bad_offset) ||
		decoded_len != size || memcmp(decoded, data, size) != 0)
		abort();

	free(decoded);
	free(encoded);
	return 0;
}
