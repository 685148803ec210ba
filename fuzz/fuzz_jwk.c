/*
 * fuzz_jwk.c
 *		libFuzzer harness for reading JSON Web Keys and choosing keys from a
 *		JWK Set, as jwt_verify does with a set passed as an argument.
 *
 * Beyond memory safety, it checks that a chosen key fits the algorithm it
 * was chosen for, and that a key read as RSA, EC or OKP has its members.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "codec.h"
#include "jwk.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_key(const json_node *node, const codec_allocator *allocator)
{
	jwk_public_key key;
	const char *problem = NULL;

	if (!jwk_read(node, allocator, &key, &problem))
	{
		if (problem == NULL)
			abort();
		return;
	}
	if ((key.kty == JWK_KTY_RSA && (key.n == NULL || key.e == NULL)) ||
		(key.kty == JWK_KTY_EC && (key.crv == NULL || key.x == NULL || key.y == NULL)) ||
		(key.kty == JWK_KTY_OKP && (key.crv == NULL || key.x == NULL)) ||
		(key.kty == JWK_KTY_OCT && key.x == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena_block *blocks = NULL;
	codec_allocator allocator = {arena_alloc, &blocks};
	json_limits limits = {32, 1000};
	json_parse_result result;
	json_node  *root = json_parse((const char *) data, size, &limits, &allocator, &result);

	if (root == NULL)
	{
		arena_free(&blocks);
		return 0;
	}

	check_key(root, &allocator);
	for (int alg = 0; alg < JWT_ALG_COUNT; alg++)
	{
		const json_node *candidates[16];
		bool		keys_member;
		bool		truncated;
		size_t		count = jwk_set_candidates(root, (jwt_alg) alg, "k", 1,
											   candidates, 16, &keys_member, &truncated);

		if (count > 16 || (count > 0 && !keys_member) || (truncated && count != 16))
			abort();
		for (size_t i = 0; i < count; i++)
			check_key(candidates[i], &allocator);
	}

	arena_free(&blocks);
	return 0;
}
