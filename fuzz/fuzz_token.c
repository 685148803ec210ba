/*
 * fuzz_token.c
 *		libFuzzer harness for a whole compact token, as jwt_verify reads it
 *		before and after the signature check: segment split, strict
 *		base64url, header and claims JSON, and the registered claims.
 *
 * The signature is not computed here: the MAC comes from OpenSSL, and every
 * step after it runs on any input anyway.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "claims.h"
#include "codec.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *
decode(arena_block **blocks, const char *src, size_t len, size_t *out_len)
{
	unsigned char *out = arena_alloc(blocks, BASE64URL_DECODED_MAX(len) + 1);
	size_t		bad_offset;

	if (!base64url_decode(src, len, out, out_len, &bad_offset))
		return NULL;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena_block *blocks = NULL;
	codec_allocator allocator = {arena_alloc, &blocks};
	json_limits limits = {32, 1000};
	json_parse_result result;
	jws_segments segments;
	int			segment_count;
	unsigned char *header;
	unsigned char *payload;
	unsigned char *signature;
	size_t		header_len;
	size_t		payload_len;
	size_t		signature_len;
	json_node  *header_root;
	json_node  *claims_root;
	jwt_claims	claims;

	if (!jws_split((const char *) data, size, &segments, &segment_count))
	{
		if (segment_count == 3)
			abort();
		return 0;
	}
	if (segments.signing_input_len != segments.header_len + 1 + segments.payload_len ||
		segments.signing_input_len + 1 + segments.signature_len != size)
		abort();

	header = decode(&blocks, segments.header, segments.header_len, &header_len);
	payload = decode(&blocks, segments.payload, segments.payload_len, &payload_len);
	signature = decode(&blocks, segments.signature, segments.signature_len, &signature_len);
	if (header == NULL || payload == NULL || signature == NULL)
	{
		arena_free(&blocks);
		return 0;
	}

	header_root = json_parse((const char *) header, header_len, &limits, &allocator, &result);
	if (header_root != NULL)
		(void) json_object_get(header_root, "alg");

	claims_root = json_parse((const char *) payload, payload_len, &limits, &allocator, &result);
	if (claims_root != NULL && jwt_claims_read(claims_root, &claims) == CLAIMS_VALID)
	{
		claims_options options;

		/* Check against the signature bytes as audience and issuer. */
		memset(&options, 0, sizeof(options));
		options.now = 1700000000.0;
		options.leeway = 30.0;
		options.audience = (const char *) signature;
		options.audience_len = signature_len;
		options.issuer = (const char *) signature;
		options.issuer_len = signature_len;
		if (jwt_claims_check(&claims, &options) != CLAIMS_VALID &&
			claims.bad_claim == NULL)
			abort();
	}

	arena_free(&blocks);
	return 0;
}
