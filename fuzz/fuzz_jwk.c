/*
 * fuzz_jwk.c
 *		libFuzzer harness for reading JSON Web Keys and choosing keys from a
 *		JWK Set, as jwt_verify does with a set passed as an argument.
 *
 * Beyond memory safety, it checks that a chosen key fits the algorithm it
 * was chosen for, that a key read as RSA, EC or OKP has its members, and
 * that OpenSSL keys built from JWK members or PEM text are freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "codec.h"
#include "jwk.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Build an OpenSSL key from the members, as jwt_key_import does, for each
 * algorithm of the key's kind: it is made whole and fits, or it is refused
 * with a reason.  LeakSanitizer reports a key that is not freed.
 */
static void
check_key_pair(const json_node *node, const codec_allocator *allocator,
			   const jwk_public_key *key)
{
	jwk_private_key private_key;
	const char *problem = NULL;

	if (key->kty == JWK_KTY_OCT ||
		!jwk_read_private(node, allocator, &private_key, &problem))
		return;
	for (int alg = 0; alg < JWT_ALG_COUNT; alg++)
	{
		crypto_key *pair;

		if (jwt_alg_kty((jwt_alg) alg) != key->kty)
			continue;
		problem = NULL;
		pair = crypto_key_from_jwk((jwt_alg) alg, key,
								   private_key.d ? &private_key : NULL, &problem);
		if (pair == NULL && problem == NULL)
			abort();
		if (pair != NULL && !crypto_key_fits((jwt_alg) alg, pair, &problem) &&
			jwt_alg_kty((jwt_alg) alg) != JWK_KTY_RSA)
			abort();
		crypto_key_free(pair);
	}
}

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
	check_key_pair(node, allocator, &key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena_block *blocks = NULL;
	codec_allocator allocator = {arena_alloc, &blocks};
	json_limits limits = {32, 1000};
	json_parse_result result;
	json_node  *root = json_parse((const char *) data, size, &limits, &allocator, &result);
	bool		is_private;
	const char *problem = NULL;

	/*
	 * Text that starts as PEM does is read as jwt_key_import reads it.
	 * OpenSSL's decoders are slow, so other inputs skip them.
	 */
	if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0)
		crypto_key_free(crypto_key_from_pem((const char *) data, size, &is_private, &problem));

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
