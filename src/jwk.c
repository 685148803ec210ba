/*
 * jwk.c
 *		JSON Web Keys (RFC 7517): reading public keys and choosing one from a
 *		JWK Set for a token.
 *
 * A key is chosen by what the verifier allows, never by what the token
 * requests.  The token's kid only narrows the set, and the key's kty and
 * alg must fit the algorithm that the verifier accepted.  This file must not
 * include postgres.h, so that fuzzing harnesses can link it alone.
 */
#include "jwk.h"

#include <string.h>

static bool
decode_member(const json_node *jwk, const char *name, const codec_allocator *allocator,
			  const unsigned char **out, size_t *out_len)
{
	const json_node *member = json_object_get(jwk, name);
	unsigned char *buf;
	size_t		bad_offset;

	if (member == NULL || member->kind != JSON_STRING || member->text_len == 0)
		return false;
	buf = allocator->alloc(allocator->arg, BASE64URL_DECODED_MAX(member->text_len) + 1);
	if (!base64url_decode(member->text, member->text_len, buf, out_len, &bad_offset))
		return false;
	*out = buf;
	return true;
}

static const char *
copy_string(const json_node *node, const codec_allocator *allocator)
{
	char	   *copy;

	if (node == NULL || node->kind != JSON_STRING || memchr(node->text, '\0', node->text_len))
		return NULL;
	copy = allocator->alloc(allocator->arg, node->text_len + 1);
	memcpy(copy, node->text, node->text_len);
	copy[node->text_len] = '\0';
	return copy;
}

bool
jwk_read(const json_node *jwk, const codec_allocator *allocator,
		 jwk_public_key *key, const char **problem)
{
	const json_node *kty;

	memset(key, 0, sizeof(*key));
	if (jwk == NULL || jwk->kind != JSON_OBJECT)
	{
		*problem = "the key is not a JSON object";
		return false;
	}

	kty = json_object_get(jwk, "kty");
	if (json_string_equals(kty, "RSA"))
	{
		key->kty = JWK_KTY_RSA;
		if (!decode_member(jwk, "n", allocator, &key->n, &key->n_len) ||
			!decode_member(jwk, "e", allocator, &key->e, &key->e_len))
		{
			*problem = "an RSA key needs base64url members n and e";
			return false;
		}
		return true;
	}
	if (json_string_equals(kty, "EC"))
	{
		key->kty = JWK_KTY_EC;
		key->crv = copy_string(json_object_get(jwk, "crv"), allocator);
		if (key->crv == NULL ||
			!decode_member(jwk, "x", allocator, &key->x, &key->x_len) ||
			!decode_member(jwk, "y", allocator, &key->y, &key->y_len))
		{
			*problem = "an EC key needs members crv, and base64url x and y";
			return false;
		}
		return true;
	}
	if (json_string_equals(kty, "OKP"))
	{
		key->kty = JWK_KTY_OKP;
		key->crv = copy_string(json_object_get(jwk, "crv"), allocator);
		if (key->crv == NULL || !decode_member(jwk, "x", allocator, &key->x, &key->x_len))
		{
			*problem = "an OKP key needs members crv and base64url x";
			return false;
		}
		return true;
	}
	if (json_string_equals(kty, "oct"))
	{
		key->kty = JWK_KTY_OCT;
		if (!decode_member(jwk, "k", allocator, &key->x, &key->x_len))
		{
			*problem = "an oct key needs a base64url member k";
			return false;
		}
		return true;
	}

	*problem = "the key's kty is missing or not RSA, EC, OKP or oct";
	return false;
}

bool
jwk_read_private(const json_node *jwk, const codec_allocator *allocator,
				 jwk_private_key *key, const char **problem)
{
	static const char *const names[] = {"d", "p", "q", "dp", "dq", "qi"};
	const unsigned char **values[] = {&key->d, &key->p, &key->q, &key->dp, &key->dq, &key->qi};
	size_t	   *lengths[] = {&key->d_len, &key->p_len, &key->q_len, &key->dp_len,
		&key->dq_len, &key->qi_len};

	memset(key, 0, sizeof(*key));
	for (int i = 0; i < 6; i++)
	{
		if (json_object_get(jwk, names[i]) == NULL)
			continue;
		if (!decode_member(jwk, names[i], allocator, values[i], lengths[i]))
		{
			*problem = "a private member of the key is not base64url";
			return false;
		}
	}
	return true;
}

static bool
kty_fits(const json_node *jwk, jwt_alg alg)
{
	static const char *const names[] = {
		[JWK_KTY_OCT] = "oct",
		[JWK_KTY_RSA] = "RSA",
		[JWK_KTY_EC] = "EC",
		[JWK_KTY_OKP] = "OKP",
	};

	return json_string_equals(json_object_get(jwk, "kty"), names[jwt_alg_kty(alg)]);
}

/* RFC 7517 section 4.3: a key with key_ops must list "verify" to verify. */
static bool
key_ops_allow_verify(const json_node *key_ops)
{
	if (key_ops == NULL)
		return true;
	if (key_ops->kind != JSON_ARRAY)
		return false;
	for (const json_node *op = key_ops->first_child; op; op = op->next)
		if (json_string_equals(op, "verify"))
			return true;
	return false;
}

size_t
jwk_set_candidates(const json_node *set, jwt_alg alg, const char *kid, size_t kid_len,
				   const json_node **candidates, size_t max, bool *keys_member,
				   bool *truncated)
{
	const json_node *keys = json_object_get(set, "keys");
	size_t		count = 0;

	*truncated = false;
	*keys_member = (keys != NULL && keys->kind == JSON_ARRAY);
	if (!*keys_member)
		return 0;

	for (const json_node *jwk = keys->first_child; jwk; jwk = jwk->next)
	{
		const json_node *key_alg;
		const json_node *key_kid;
		const json_node *use;
		const char *curve;

		if (jwk->kind != JSON_OBJECT || !kty_fits(jwk, alg))
			continue;

		key_kid = json_object_get(jwk, "kid");
		if (kid != NULL &&
			(key_kid == NULL || key_kid->kind != JSON_STRING ||
			 key_kid->text_len != kid_len || memcmp(key_kid->text, kid, kid_len) != 0))
			continue;

		key_alg = json_object_get(jwk, "alg");
		if (key_alg != NULL && !json_string_equals(key_alg, jwt_alg_name(alg)))
			continue;

		/* Keys published for other uses do not verify signatures. */
		use = json_object_get(jwk, "use");
		if (use != NULL && !json_string_equals(use, "sig"))
			continue;
		if (!key_ops_allow_verify(json_object_get(jwk, "key_ops")))
			continue;

		/* Skip keys of another curve before they take a candidate's place. */
		curve = jwt_alg_curve(alg);
		if (curve != NULL && !json_string_equals(json_object_get(jwk, "crv"), curve))
			continue;

		if (count == max)
		{
			*truncated = true;
			break;
		}
		candidates[count++] = jwk;
	}
	return count;
}
