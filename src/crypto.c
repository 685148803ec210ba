/*
 * crypto.c
 *		Every use of OpenSSL in jwt_pg.
 *
 * HMAC contexts are fetched once per backend and re-keyed for each call,
 * which saves the algorithm lookup that a one-shot HMAC() performs every
 * time.  This file includes no PostgreSQL header, so no error can be
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
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/rand.h>

typedef struct alg_info
{
	const char *name;
	jwk_kty		kty;
	const char *digest;			/* NULL for EdDSA, which hashes itself */
	size_t		mac_len;		/* HMAC output size, else 0 */
	bool		pss;			/* RSASSA-PSS rather than PKCS #1 v1.5 */
	const char *curve;			/* JWK crv for EC and OKP */
	size_t		coordinate_len;	/* bytes of one EC coordinate, or of r and s */
} alg_info;

static const alg_info algorithms[JWT_ALG_COUNT] = {
	[JWT_ALG_HS256] = {"HS256", JWK_KTY_OCT, "SHA256", 32, false, NULL, 0},
	[JWT_ALG_HS384] = {"HS384", JWK_KTY_OCT, "SHA384", 48, false, NULL, 0},
	[JWT_ALG_HS512] = {"HS512", JWK_KTY_OCT, "SHA512", 64, false, NULL, 0},
	[JWT_ALG_RS256] = {"RS256", JWK_KTY_RSA, "SHA256", 0, false, NULL, 0},
	[JWT_ALG_RS384] = {"RS384", JWK_KTY_RSA, "SHA384", 0, false, NULL, 0},
	[JWT_ALG_RS512] = {"RS512", JWK_KTY_RSA, "SHA512", 0, false, NULL, 0},
	[JWT_ALG_PS256] = {"PS256", JWK_KTY_RSA, "SHA256", 0, true, NULL, 0},
	[JWT_ALG_PS384] = {"PS384", JWK_KTY_RSA, "SHA384", 0, true, NULL, 0},
	[JWT_ALG_PS512] = {"PS512", JWK_KTY_RSA, "SHA512", 0, true, NULL, 0},
	[JWT_ALG_ES256] = {"ES256", JWK_KTY_EC, "SHA256", 0, false, "P-256", 32},
	[JWT_ALG_ES384] = {"ES384", JWK_KTY_EC, "SHA384", 0, false, "P-384", 48},
	[JWT_ALG_ES512] = {"ES512", JWK_KTY_EC, "SHA512", 0, false, "P-521", 66},
	[JWT_ALG_EDDSA] = {"EdDSA", JWK_KTY_OKP, NULL, 0, false, "Ed25519", 32},
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

bool
jwt_alg_is_hmac(jwt_alg alg)
{
	return algorithms[alg].kty == JWK_KTY_OCT;
}

jwk_kty
jwt_alg_kty(jwt_alg alg)
{
	return algorithms[alg].kty;
}

const char *
jwt_alg_curve(jwt_alg alg)
{
	return algorithms[alg].curve;
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
	hmac_state *state;

	/* Keys shorter than the hash output are rejected before this point. */
	if (!jwt_alg_is_hmac(alg) || key_len == 0)
		return false;
	state = hmac_state_for(alg);
	if (state == NULL)
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

/* OpenSSL's group name for a JWK curve. */
static const char *
openssl_group(const char *curve)
{
	if (strcmp(curve, "P-256") == 0)
		return "prime256v1";
	if (strcmp(curve, "P-384") == 0)
		return "secp384r1";
	return "secp521r1";
}

/* Build an EVP_PKEY from the JWK members, or return NULL with a reason. */
static EVP_PKEY *
public_key_from_jwk(const alg_info *info, const jwk_public_key *key, const char **problem)
{
	OSSL_PARAM_BLD *builder = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY   *pkey = NULL;
	BIGNUM	   *n = NULL;
	BIGNUM	   *e = NULL;
	unsigned char point[1 + 2 * 66];

	if (key->kty != info->kty)
	{
		*problem = "the key's kty does not fit the algorithm";
		return NULL;
	}

	if (info->kty == JWK_KTY_OKP)
	{
		if (key->crv == NULL || strcmp(key->crv, info->curve) != 0 || key->x_len != 32)
		{
			*problem = "EdDSA needs an Ed25519 key with a 32-byte x";
			return NULL;
		}
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key->x, key->x_len);
		if (pkey == NULL)
			*problem = "the Ed25519 key is invalid";
		return pkey;
	}

	builder = OSSL_PARAM_BLD_new();
	if (builder == NULL)
		return NULL;

	if (info->kty == JWK_KTY_RSA)
	{
		n = BN_bin2bn(key->n, (int) key->n_len, NULL);
		e = BN_bin2bn(key->e, (int) key->e_len, NULL);
		if (n == NULL || e == NULL)
			goto done;
		if (BN_num_bits(n) < RSA_MIN_BITS)
		{
			*problem = "RSA keys need a modulus of at least 2048 bits";
			goto done;
		}
		if (!OSSL_PARAM_BLD_push_BN(builder, "n", n) ||
			!OSSL_PARAM_BLD_push_BN(builder, "e", e))
			goto done;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	}
	else
	{
		size_t		width = info->coordinate_len;

		if (key->crv == NULL || strcmp(key->crv, info->curve) != 0)
		{
			*problem = "the key's crv does not fit the algorithm";
			goto done;
		}
		/*
		 * RFC 7518 section 6.2.1.2 requires full-width coordinates, but
		 * some libraries (PyJWT 2.6, for one) drop leading zero bytes.
		 * The value is the same big-endian integer, so pad it back.
		 */
		if (key->x_len == 0 || key->y_len == 0 || key->x_len > width || key->y_len > width)
		{
			*problem = "the key's x and y do not fit the curve's length";
			goto done;
		}
		memset(point, 0, sizeof(point));
		point[0] = 0x04;
		memcpy(point + 1 + width - key->x_len, key->x, key->x_len);
		memcpy(point + 1 + 2 * width - key->y_len, key->y, key->y_len);
		if (!OSSL_PARAM_BLD_push_utf8_string(builder, "group", openssl_group(key->crv), 0) ||
			!OSSL_PARAM_BLD_push_octet_string(builder, "pub", point, 1 + 2 * width))
			goto done;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}

	params = OSSL_PARAM_BLD_to_param(builder);
	if (ctx == NULL || params == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
	{
		if (*problem == NULL)
			*problem = "OpenSSL rejected the key";
		pkey = NULL;
	}

done:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(builder);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/*
 * Turn a JWS ECDSA signature (R||S) into DER, after checking that both
 * halves lie in [1, n - 1] for the group order n.  Returns the DER length,
 * or 0 with a reason.
 */
static size_t
ecdsa_signature_to_der(const alg_info *info, const unsigned char *signature,
					   size_t signature_len, unsigned char **der, const char **problem)
{
	size_t		width = info->coordinate_len;
	EC_GROUP   *group = NULL;
	ECDSA_SIG  *sig = NULL;
	BIGNUM	   *r = NULL;
	BIGNUM	   *s = NULL;
	int			der_len = 0;

	if (signature_len != 2 * width)
	{
		*problem = "the ECDSA signature does not have the fixed R||S length";
		return 0;
	}

	group = EC_GROUP_new_by_curve_name(OBJ_sn2nid(openssl_group(info->curve)));
	r = BN_bin2bn(signature, (int) width, NULL);
	s = BN_bin2bn(signature + width, (int) width, NULL);
	if (group == NULL || r == NULL || s == NULL)
		goto done;

	if (BN_is_zero(r) || BN_is_zero(s) ||
		BN_cmp(r, EC_GROUP_get0_order(group)) >= 0 ||
		BN_cmp(s, EC_GROUP_get0_order(group)) >= 0)
	{
		*problem = "the ECDSA signature's r or s is out of range";
		goto done;
	}

	sig = ECDSA_SIG_new();
	if (sig == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto done;
	r = s = NULL;				/* owned by sig now */
	der_len = i2d_ECDSA_SIG(sig, der);
	if (der_len < 0)
		der_len = 0;

done:
	ECDSA_SIG_free(sig);
	BN_free(r);
	BN_free(s);
	EC_GROUP_free(group);
	return (size_t) der_len;
}

verify_result
crypto_verify_public(jwt_alg alg, const jwk_public_key *key,
					 const unsigned char *data, size_t len,
					 const unsigned char *signature, size_t signature_len,
					 const char **problem)
{
	const alg_info *info = &algorithms[alg];
	EVP_PKEY   *pkey;
	EVP_MD_CTX *md_ctx = NULL;
	EVP_PKEY_CTX *pkey_ctx = NULL;
	unsigned char *der = NULL;
	verify_result result = VERIFY_FAILED;
	int			rc;

	*problem = NULL;
	pkey = public_key_from_jwk(info, key, problem);
	if (pkey == NULL)
	{
		ERR_clear_error();
		return *problem ? VERIFY_BAD_KEY : VERIFY_FAILED;
	}

	if (info->kty == JWK_KTY_EC)
	{
		size_t		der_len = ecdsa_signature_to_der(info, signature, signature_len,
													 &der, problem);

		if (der_len == 0)
		{
			result = *problem ? VERIFY_BAD_SIGNATURE : VERIFY_FAILED;
			goto done;
		}
		signature = der;
		signature_len = der_len;
	}
	else if (info->kty == JWK_KTY_OKP && signature_len != 64)
	{
		*problem = "an Ed25519 signature has 64 bytes";
		result = VERIFY_BAD_SIGNATURE;
		goto done;
	}

	md_ctx = EVP_MD_CTX_new();
	if (md_ctx == NULL)
		goto done;

	/*
	 * A key that OpenSSL imported but cannot verify with is the key's fault,
	 * not the token's: report it as a bad key, so that the caller skips it.
	 */
	if (EVP_DigestVerifyInit_ex(md_ctx, &pkey_ctx, info->digest, NULL, NULL, pkey, NULL) != 1 ||
		(info->pss &&
		 (EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		  EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, RSA_PSS_SALTLEN_DIGEST) != 1)))
	{
		*problem = "OpenSSL cannot verify with this key";
		result = VERIFY_BAD_KEY;
		goto done;
	}

	rc = EVP_DigestVerify(md_ctx, signature, signature_len, data, len);
	if (rc == 1)
		result = VERIFY_OK;
	else
	{
		*problem = "the signature does not match the header and payload";
		result = VERIFY_BAD_SIGNATURE;
	}

done:
	EVP_MD_CTX_free(md_ctx);
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);

	/* Leave no stale entry for the next OpenSSL user in this backend. */
	ERR_clear_error();
	return result;
}
