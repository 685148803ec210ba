/*
 * crypto.c
 *		Every use of OpenSSL in jwt_pg.
 *
 * HMAC contexts are fetched once per backend and re-keyed for each call,
 * which saves the algorithm lookup that a one-shot HMAC() performs every
 * time.  Nothing in this file calls into PostgreSQL, so no error can be
 * raised while an OpenSSL object is half-used, and no call allocates an
 * OpenSSL object that outlives it: an ERROR raised by the caller cannot
 * leak one.  Code that needs per-call objects (EVP_PKEY for asymmetric
 * keys, say) must free them before it raises, or track them with a
 * resource owner.
 */
#include "crypto.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

typedef struct alg_info
{
	const char *name;
	const char *digest;
	size_t		mac_len;
} alg_info;

static const alg_info algorithms[JWT_ALG_COUNT] = {
	[JWT_ALG_HS256] = {"HS256", "SHA256", 32},
	[JWT_ALG_HS384] = {"HS384", "SHA384", 48},
	[JWT_ALG_HS512] = {"HS512", "SHA512", 64},
};

/* Keys longer than this are not remembered between calls. */
#define REMEMBERED_KEY_MAX 256

/*
 * One HMAC context per algorithm.  Each remembers the key it was last
 * initialized with, because re-keying costs two hash blocks and several
 * allocations, and a verifier usually receives the same key on every call.
 */
typedef struct hmac_state
{
	EVP_MAC_CTX *ctx;
	size_t		key_len;		/* 0 when no key is remembered */
	unsigned char key[REMEMBERED_KEY_MAX];
} hmac_state;

static EVP_MAC *hmac_method;
static hmac_state hmac_states[JWT_ALG_COUNT];
static EVP_MD *sha256_method;

bool
jwt_alg_from_name(const char *name, size_t len, jwt_alg *alg)
{
	for (int i = 0; i < JWT_ALG_COUNT; i++)
	{
		if (strlen(algorithms[i].name) == len &&
			memcmp(algorithms[i].name, name, len) == 0)
		{
			*alg = (jwt_alg) i;
			return true;
		}
	}
	return false;
}

const char *
jwt_alg_name(jwt_alg alg)
{
	return algorithms[alg].name;
}

size_t
jwt_alg_mac_len(jwt_alg alg)
{
	return algorithms[alg].mac_len;
}

/* Return the state for the algorithm, with its digest set. */
static hmac_state *
hmac_state_for(jwt_alg alg)
{
	hmac_state *state = &hmac_states[alg];
	OSSL_PARAM	params[2];

	if (state->ctx != NULL)
		return state;

	if (hmac_method == NULL)
	{
		hmac_method = EVP_MAC_fetch(NULL, "HMAC", NULL);
		if (hmac_method == NULL)
			return NULL;
	}

	state->ctx = EVP_MAC_CTX_new(hmac_method);
	if (state->ctx == NULL)
		return NULL;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
												 (char *) algorithms[alg].digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(state->ctx, params))
	{
		EVP_MAC_CTX_free(state->ctx);
		state->ctx = NULL;
		return NULL;
	}
	state->key_len = 0;
	return state;
}

/* Initialize the context with a key, reusing it when it is the same. */
static bool
hmac_init(hmac_state *state, const unsigned char *key, size_t key_len)
{
	if (key_len > 0 && key_len == state->key_len &&
		CRYPTO_memcmp(key, state->key, key_len) == 0)
		return EVP_MAC_init(state->ctx, NULL, 0, NULL) == 1;

	state->key_len = 0;
	if (EVP_MAC_init(state->ctx, key, key_len, NULL) != 1)
		return false;
	if (key_len > 0 && key_len <= REMEMBERED_KEY_MAX)
	{
		memcpy(state->key, key, key_len);
		state->key_len = key_len;
	}
	return true;
}

bool
crypto_hmac(jwt_alg alg, const unsigned char *key, size_t key_len,
			const unsigned char *data, size_t len,
			unsigned char *mac, size_t *mac_len)
{
	hmac_state *state = hmac_state_for(alg);

	/* Keys shorter than the hash output are rejected before this point. */
	if (state == NULL || key_len == 0)
		return false;

	if (!hmac_init(state, key, key_len) ||
		!EVP_MAC_update(state->ctx, data, len) ||
		!EVP_MAC_final(state->ctx, mac, mac_len, JWT_MAX_MAC_LEN))
	{
		state->key_len = 0;
		return false;
	}
	return *mac_len == algorithms[alg].mac_len;
}

bool
crypto_sha256(const unsigned char *data, size_t len, unsigned char digest[SHA256_LEN])
{
	unsigned int digest_len = 0;

	if (sha256_method == NULL)
	{
		sha256_method = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (sha256_method == NULL)
			return false;
	}
	if (!EVP_Digest(data, len, digest, &digest_len, sha256_method, NULL))
		return false;
	return digest_len == SHA256_LEN;
}

bool
crypto_random_bytes(unsigned char *buf, size_t len)
{
	return RAND_bytes(buf, (int) len) == 1;
}

bool
crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
