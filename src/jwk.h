/*
 * jwk.h
 *		JSON Web Keys (RFC 7517): reading public keys and choosing one from a
 *		JWK Set for a token.
 *
 * No backend dependencies, like codec.h.
 */
#ifndef JWT_PG_JWK_H
#define JWT_PG_JWK_H

#include "codec.h"
#include "crypto.h"

/*
 * Read a JWK object into *key, decoding its members with the allocator.
 * Private members (d, p, q, ...) are ignored.  Returns false with
 * *problem set when a member is missing or invalid.
 */
extern bool jwk_read(const json_node *jwk, const codec_allocator *allocator,
					 jwk_public_key *key, const char **problem);

/*
 * Read the private members of a JWK, when present, into *key: d, and for
 * RSA p, q, dp, dq and qi.  key->d is NULL for a public key.  Returns false
 * with *problem set when a present member is not base64url.
 */
extern bool jwk_read_private(const json_node *jwk, const codec_allocator *allocator,
							 jwk_private_key *key, const char **problem);

/*
 * Find the keys of a JWK Set that may verify a token with this algorithm
 * and kid (NULL when the token has none).  A given kid must match exactly.
 * The key's kty and crv must fit the algorithm, and the key's own "alg",
 * "use" and "key_ops", when present, must allow verifying with it.  Fills
 * candidates (at most max, setting *truncated when more matched) and
 * returns how many.  Sets *keys_member false when the set has no "keys"
 * array.
 */
extern size_t jwk_set_candidates(const json_node *set, jwt_alg alg,
								 const char *kid, size_t kid_len,
								 const json_node **candidates, size_t max,
								 bool *keys_member, bool *truncated);

#endif							/* JWT_PG_JWK_H */
