/*
 * crypto.c
 *		Every use of OpenSSL in jwt_pg.
 *
 * HMAC contexts are fetched once per backend and re-keyed for each call,
 * which saves the algorithm lookup that a one-shot HMAC() performs every
 * time.  This file includes no PostgreSQL header, so no error can be
 * raised while an OpenSSL object is half-used.  The only OpenSSL objects
 * that outlive a call are the HMAC contexts and the keys that the
 * crypto_key_* functions hand to their caller, who must free them on every
 * path, an ERROR included (keystore.c uses PG_FINALLY and its cache).
 */
#include "crypto.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/x509.h>
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

/* Push a JWK member as a big-endian unsigned integer parameter. */
static bool
push_bn(OSSL_PARAM_BLD *builder, const char *name, const unsigned char *bytes, size_t len,
		BIGNUM **slot)
{
	*slot = BN_bin2bn(bytes, (int) len, NULL);
	return *slot != NULL && OSSL_PARAM_BLD_push_BN(builder, name, *slot);
}

/* An Ed25519 key from JWK members; a private one must match its x. */
static EVP_PKEY *
ed25519_from_jwk(const alg_info *info, const jwk_public_key *key,
				 const jwk_private_key *private_key, const char **problem)
{
	EVP_PKEY   *pkey;
	unsigned char public_bytes[32];
	size_t		public_len = sizeof(public_bytes);

	if (key->crv == NULL || strcmp(key->crv, info->curve) != 0 || key->x_len != 32)
	{
		*problem = "EdDSA needs an Ed25519 key with a 32-byte x";
		return NULL;
	}
	if (private_key == NULL)
	{
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key->x, key->x_len);
		if (pkey == NULL)
			*problem = "the Ed25519 key is invalid";
		return pkey;
	}

	if (private_key->d_len != 32)
	{
		*problem = "an Ed25519 private key has a 32-byte d";
		return NULL;
	}
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, private_key->d, 32);
	if (pkey == NULL)
	{
		*problem = "the Ed25519 key is invalid";
		return NULL;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, public_bytes, &public_len) != 1 ||
		public_len != 32 || memcmp(public_bytes, key->x, 32) != 0)
	{
		*problem = "the Ed25519 key's d does not match its x";
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/*
 * Build an EVP_PKEY from JWK members, public or (with private_key) a key
 * pair, or return NULL with a reason.
 */
static EVP_PKEY *
key_from_jwk(const alg_info *info, const jwk_public_key *key,
			 const jwk_private_key *private_key, const char **problem)
{
	OSSL_PARAM_BLD *builder = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY   *pkey = NULL;
	BIGNUM	   *numbers[8] = {NULL};
	unsigned char point[1 + 2 * 66];

	if (key->kty != info->kty)
	{
		*problem = "the key's kty does not fit the algorithm";
		return NULL;
	}
	if (info->kty == JWK_KTY_OKP)
		return ed25519_from_jwk(info, key, private_key, problem);

	builder = OSSL_PARAM_BLD_new();
	if (builder == NULL)
		return NULL;

	if (info->kty == JWK_KTY_RSA)
	{
		if (!push_bn(builder, "n", key->n, key->n_len, &numbers[0]) ||
			!push_bn(builder, "e", key->e, key->e_len, &numbers[1]))
			goto done;
		if (BN_num_bits(numbers[0]) < RSA_MIN_BITS)
		{
			*problem = "RSA keys need a modulus of at least 2048 bits";
			goto done;
		}
		if (private_key != NULL)
		{
			/*
			 * RFC 7518 section 6.3.2 lets a JWK omit the CRT values, but
			 * OpenSSL cannot store such a key as PKCS #8.
			 */
			if (!private_key->p || !private_key->q || !private_key->dp ||
				!private_key->dq || !private_key->qi)
			{
				*problem = "an RSA private JWK needs p, q, dp, dq and qi as well as d";
				goto done;
			}
			if (!push_bn(builder, "d", private_key->d, private_key->d_len, &numbers[2]) ||
				((!push_bn(builder, "rsa-factor1", private_key->p, private_key->p_len, &numbers[3]) ||
				  !push_bn(builder, "rsa-factor2", private_key->q, private_key->q_len, &numbers[4]) ||
				  !push_bn(builder, "rsa-exponent1", private_key->dp, private_key->dp_len, &numbers[5]) ||
				  !push_bn(builder, "rsa-exponent2", private_key->dq, private_key->dq_len, &numbers[6]) ||
				  !push_bn(builder, "rsa-coefficient1", private_key->qi, private_key->qi_len, &numbers[7]))))
				goto done;
		}
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
		if (private_key != NULL &&
			!push_bn(builder, "priv", private_key->d, private_key->d_len, &numbers[2]))
			goto done;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}

	params = OSSL_PARAM_BLD_to_param(builder);
	if (ctx == NULL || params == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
		EVP_PKEY_fromdata(ctx, &pkey,
						  private_key ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
						  params) != 1)
	{
		*problem = "OpenSSL rejected the key";
		pkey = NULL;
	}

done:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(builder);
	for (int i = 0; i < 8; i++)
		BN_clear_free(numbers[i]);
	return pkey;
}

/*
 * The order n of the alg's curve, computed once per backend: building the
 * group costs more than the verification that needs it.
 */
static const BIGNUM *
group_order(const alg_info *info)
{
	static BIGNUM *orders[JWT_ALG_COUNT];
	jwt_alg		alg = (jwt_alg) (info - algorithms);
	EC_GROUP   *group;

	if (orders[alg] != NULL)
		return orders[alg];
	group = EC_GROUP_new_by_curve_name(OBJ_sn2nid(openssl_group(info->curve)));
	if (group != NULL)
		orders[alg] = BN_dup(EC_GROUP_get0_order(group));
	EC_GROUP_free(group);
	return orders[alg];
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
	const BIGNUM *order = group_order(info);
	ECDSA_SIG  *sig = NULL;
	BIGNUM	   *r = NULL;
	BIGNUM	   *s = NULL;
	int			der_len = 0;

	if (signature_len != 2 * width)
	{
		*problem = "the ECDSA signature does not have the fixed R||S length";
		return 0;
	}

	r = BN_bin2bn(signature, (int) width, NULL);
	s = BN_bin2bn(signature + width, (int) width, NULL);
	if (order == NULL || r == NULL || s == NULL)
		goto done;

	if (BN_is_zero(r) || BN_is_zero(s) || BN_cmp(r, order) >= 0 || BN_cmp(s, order) >= 0)
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
	return (size_t) der_len;
}

/*
 * Initialize a context to sign or verify with the key: the digest, and for
 * PS* the PSS padding with a salt as long as the digest.
 */
static bool
init_context(const alg_info *info, const EVP_PKEY *key, EVP_MD_CTX *md_ctx, bool sign)
{
	EVP_PKEY_CTX *pkey_ctx = NULL;
	int			rc;

	if (sign)
		rc = EVP_DigestSignInit_ex(md_ctx, &pkey_ctx, info->digest, NULL, NULL,
								   (EVP_PKEY *) key, NULL);
	else
		rc = EVP_DigestVerifyInit_ex(md_ctx, &pkey_ctx, info->digest, NULL, NULL,
									 (EVP_PKEY *) key, NULL);
	return rc == 1 &&
		(!info->pss ||
		 (EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		  EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, RSA_PSS_SALTLEN_DIGEST) == 1));
}

/* Verify with a context that init_context prepared. */
static verify_result
verify_with_context(const alg_info *info, EVP_MD_CTX *md_ctx,
					const unsigned char *data, size_t len,
					const unsigned char *signature, size_t signature_len,
					const char **problem)
{
	unsigned char *der = NULL;
	verify_result result;

	if (info->kty == JWK_KTY_EC)
	{
		size_t		der_len = ecdsa_signature_to_der(info, signature, signature_len,
													 &der, problem);

		if (der_len == 0)
			return *problem ? VERIFY_BAD_SIGNATURE : VERIFY_FAILED;
		signature = der;
		signature_len = der_len;
	}
	else if (info->kty == JWK_KTY_OKP && signature_len != 64)
	{
		*problem = "an Ed25519 signature has 64 bytes";
		return VERIFY_BAD_SIGNATURE;
	}

	if (EVP_DigestVerify(md_ctx, signature, signature_len, data, len) == 1)
		result = VERIFY_OK;
	else
	{
		*problem = "the signature does not match the header and payload";
		result = VERIFY_BAD_SIGNATURE;
	}
	OPENSSL_free(der);
	return result;
}

/* Verify with a parsed key, initializing a context for this one call. */
static verify_result
verify_with_key(jwt_alg alg, const crypto_key *key,
				  const unsigned char *data, size_t len,
				  const unsigned char *signature, size_t signature_len,
				  const char **problem)
{
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	verify_result result = VERIFY_FAILED;

	*problem = NULL;

	/*
	 * A key that OpenSSL imported but cannot verify with is the key's fault,
	 * not the token's: report it as a bad key, so that the caller skips it.
	 */
	if (md_ctx != NULL && !init_context(&algorithms[alg], key, md_ctx, false))
	{
		*problem = "OpenSSL cannot verify with this key";
		result = VERIFY_BAD_KEY;
	}
	else if (md_ctx != NULL)
		result = verify_with_context(&algorithms[alg], md_ctx, data, len,
									 signature, signature_len, problem);
	EVP_MD_CTX_free(md_ctx);

	/* Leave no stale entry for the next OpenSSL user in this backend. */
	ERR_clear_error();
	return result;
}

verify_result
crypto_verify_public(jwt_alg alg, const jwk_public_key *key,
					 const unsigned char *data, size_t len,
					 const unsigned char *signature, size_t signature_len,
					 const char **problem)
{
	EVP_PKEY   *pkey;
	verify_result result;

	*problem = NULL;
	pkey = key_from_jwk(&algorithms[alg], key, NULL, problem);
	if (pkey == NULL)
	{
		ERR_clear_error();
		return *problem ? VERIFY_BAD_KEY : VERIFY_FAILED;
	}
	result = verify_with_key(alg, pkey, data, len, signature, signature_len, problem);
	EVP_PKEY_free(pkey);
	return result;
}

crypto_key *
crypto_key_generate(jwt_alg alg)
{
	const alg_info *info = &algorithms[alg];
	EVP_PKEY   *pkey = NULL;

	switch (info->kty)
	{
		case JWK_KTY_RSA:
			pkey = EVP_RSA_gen(RSA_MIN_BITS);
			break;
		case JWK_KTY_EC:
			pkey = EVP_EC_gen(openssl_group(info->curve));
			break;
		case JWK_KTY_OKP:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			break;
		case JWK_KTY_OCT:
			break;
	}
	ERR_clear_error();
	return pkey;
}

/* True when text (not NUL-terminated) contains word. */
static bool
contains(const char *text, size_t len, const char *word)
{
	size_t		word_len = strlen(word);

	for (size_t i = 0; i + word_len <= len; i++)
		if (memcmp(text + i, word, word_len) == 0)
			return true;
	return false;
}

crypto_key *
crypto_key_from_pem(const char *pem, size_t len, bool *is_private, const char **problem)
{
	EVP_PKEY   *pkey = NULL;
	OSSL_DECODER_CTX *decoder;
	const unsigned char *data = (const unsigned char *) pem;
	size_t		remaining = len;

	*problem = NULL;
	*is_private = false;

	/* Try a private key first, then a public one. */
	for (int pass = 0; pass < 2 && pkey == NULL; pass++)
	{
		int			selection = pass == 0 ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;

		decoder = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, selection,
												NULL, NULL);
		if (decoder == NULL)
			break;
		data = (const unsigned char *) pem;
		remaining = len;
		if (OSSL_DECODER_from_data(decoder, &data, &remaining) != 1)
			pkey = NULL;
		else
			*is_private = (pass == 0);
		OSSL_DECODER_CTX_free(decoder);
	}
	if (pkey == NULL)
		*problem = contains(pem, len, "ENCRYPTED")
			? "encrypted PEM keys are not supported; decrypt the key first"
			: "it is not a PEM private key (PKCS #8 or PKCS #1) or public key (SPKI or PKCS #1)";
	ERR_clear_error();
	return pkey;
}

crypto_key *
crypto_key_from_jwk(jwt_alg alg, const jwk_public_key *key,
					const jwk_private_key *private_key, const char **problem)
{
	EVP_PKEY   *pkey;
	EVP_PKEY_CTX *check;

	*problem = NULL;
	if (private_key != NULL && private_key->d == NULL)
		private_key = NULL;
	pkey = key_from_jwk(&algorithms[alg], key, private_key, problem);

	/* A key pair must be one: the public members must match d. */
	if (pkey != NULL && private_key != NULL && algorithms[alg].kty == JWK_KTY_EC)
	{
		check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (check == NULL || EVP_PKEY_pairwise_check(check) != 1)
		{
			*problem = "the EC key's d does not match its x and y";
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		EVP_PKEY_CTX_free(check);
	}
	if (pkey == NULL && *problem == NULL)
		*problem = "OpenSSL rejected the key";
	ERR_clear_error();
	return pkey;
}

crypto_key *
crypto_key_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY   *pkey = d2i_AutoPrivateKey(NULL, &p, (long) len);

	ERR_clear_error();
	return pkey;
}

bool
crypto_key_fits(jwt_alg alg, const crypto_key *key, const char **problem)
{
	const alg_info *info = &algorithms[alg];
	char		group[32];
	size_t		group_len = 0;

	switch (info->kty)
	{
		case JWK_KTY_RSA:
			if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
				*problem = "the key is not an RSA key";
			else if (EVP_PKEY_get_bits(key) < RSA_MIN_BITS)
				*problem = "RSA keys need a modulus of at least 2048 bits";
			else
				return true;
			return false;
		case JWK_KTY_EC:
			if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
				EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
											   group, sizeof(group), &group_len) != 1 ||
				strcmp(group, openssl_group(info->curve)) != 0)
			{
				*problem = info->coordinate_len == 32 ? "ES256 needs an EC key on curve P-256" :
					info->coordinate_len == 48 ? "ES384 needs an EC key on curve P-384" :
					"ES512 needs an EC key on curve P-521";
				ERR_clear_error();
				return false;
			}
			return true;
		case JWK_KTY_OKP:
			if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
			{
				*problem = "EdDSA needs an Ed25519 key";
				return false;
			}
			return true;
		case JWK_KTY_OCT:
			break;
	}
	*problem = "HMAC algorithms take a secret, not a key pair";
	return false;
}

bool
crypto_key_to_der(const crypto_key *key, crypto_alloc_fn alloc, void *arg,
				  unsigned char **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(key);
	unsigned char *buf = NULL;
	int			n;

	if (info == NULL)
	{
		ERR_clear_error();
		return false;
	}
	n = i2d_PKCS8_PRIV_KEY_INFO(info, &buf);
	PKCS8_PRIV_KEY_INFO_free(info);
	if (n <= 0)
	{
		ERR_clear_error();
		return false;
	}
	*der = alloc(arg, (size_t) n);
	memcpy(*der, buf, (size_t) n);
	*len = (size_t) n;
	OPENSSL_clear_free(buf, (size_t) n);
	return true;
}

/* Copy a BIGNUM parameter out as big-endian bytes. */
static bool
export_bn(const crypto_key *key, const char *name, crypto_alloc_fn alloc, void *arg,
		  const unsigned char **out, size_t *out_len)
{
	BIGNUM	   *bn = NULL;
	unsigned char *buf;
	bool		ok;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
		return false;
	*out_len = (size_t) BN_num_bytes(bn);
	buf = alloc(arg, *out_len + 1);
	ok = BN_bn2bin(bn, buf) == (int) *out_len;
	BN_free(bn);
	*out = buf;
	return ok;
}

bool
crypto_key_public(jwt_alg alg, const crypto_key *key, crypto_alloc_fn alloc, void *arg,
				  jwk_public_key *out)
{
	const alg_info *info = &algorithms[alg];
	unsigned char point[1 + 2 * 66];
	size_t		point_len = 0;
	unsigned char *buf;
	bool		ok = false;

	memset(out, 0, sizeof(*out));
	out->kty = info->kty;
	out->crv = info->curve;
	switch (info->kty)
	{
		case JWK_KTY_RSA:
			ok = export_bn(key, OSSL_PKEY_PARAM_RSA_N, alloc, arg, &out->n, &out->n_len) &&
				export_bn(key, OSSL_PKEY_PARAM_RSA_E, alloc, arg, &out->e, &out->e_len);
			break;
		case JWK_KTY_EC:
			/* The uncompressed point 04 || x || y has full-width coordinates. */
			if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
												point, sizeof(point), &point_len) != 1 ||
				point_len != 1 + 2 * info->coordinate_len || point[0] != 0x04)
				break;
			buf = alloc(arg, 2 * info->coordinate_len);
			memcpy(buf, point + 1, 2 * info->coordinate_len);
			out->x = buf;
			out->x_len = info->coordinate_len;
			out->y = buf + info->coordinate_len;
			out->y_len = info->coordinate_len;
			ok = true;
			break;
		case JWK_KTY_OKP:
			buf = alloc(arg, 32);
			out->x_len = 32;
			ok = EVP_PKEY_get_raw_public_key(key, buf, &out->x_len) == 1 && out->x_len == 32;
			out->x = buf;
			break;
		case JWK_KTY_OCT:
			break;
	}
	ERR_clear_error();
	return ok;
}

void
crypto_key_free(crypto_key *key)
{
	EVP_PKEY_free(key);
}

/*
 * A key with its contexts initialized once.  Each call copies a context,
 * which skips the lookups of digest and signature implementations that
 * initializing one costs in OpenSSL 3.
 */
struct crypto_prepared_key
{
	const alg_info *info;
	EVP_PKEY   *key;
	EVP_MD_CTX *verify;
	EVP_MD_CTX *sign;			/* NULL for a public key */
};

/* The context that each call copies into and resets, one per backend. */
static EVP_MD_CTX *scratch;

crypto_prepared_key *
crypto_prepare_key(jwt_alg alg, crypto_key *key, bool is_private)
{
	crypto_prepared_key *prepared = OPENSSL_zalloc(sizeof(crypto_prepared_key));

	if (prepared == NULL)
	{
		EVP_PKEY_free(key);
		return NULL;
	}
	prepared->info = &algorithms[alg];
	prepared->key = key;
	prepared->verify = EVP_MD_CTX_new();
	if (is_private)
		prepared->sign = EVP_MD_CTX_new();
	if (prepared->verify == NULL ||
		!init_context(prepared->info, key, prepared->verify, false) ||
		(is_private &&
		 (prepared->sign == NULL || !init_context(prepared->info, key, prepared->sign, true))))
	{
		crypto_prepared_key_free(prepared);
		prepared = NULL;
	}
	ERR_clear_error();
	return prepared;
}

void
crypto_prepared_key_free(crypto_prepared_key *prepared)
{
	if (prepared == NULL)
		return;
	EVP_MD_CTX_free(prepared->verify);
	EVP_MD_CTX_free(prepared->sign);
	EVP_PKEY_free(prepared->key);
	OPENSSL_free(prepared);
}

bool
crypto_prepared_can_sign(const crypto_prepared_key *prepared)
{
	return prepared->sign != NULL;
}

size_t
crypto_signature_len(const crypto_prepared_key *prepared)
{
	const alg_info *info = prepared->info;

	switch (info->kty)
	{
		case JWK_KTY_RSA:
			return (size_t) EVP_PKEY_get_size(prepared->key);
		case JWK_KTY_EC:
			return 2 * info->coordinate_len;
		case JWK_KTY_OKP:
			return 64;
		case JWK_KTY_OCT:
			break;
	}
	return info->mac_len;
}

/* Copy a prepared context into the scratch context. */
static EVP_MD_CTX *
copy_context(const EVP_MD_CTX *template)
{
	if (scratch == NULL)
		scratch = EVP_MD_CTX_new();
	if (scratch == NULL || EVP_MD_CTX_copy_ex(scratch, template) != 1)
		return NULL;
	return scratch;
}

/* Turn a DER ECDSA signature into the fixed-width R||S of JWS. */
static bool
ecdsa_der_to_jws(const alg_info *info, const unsigned char *der, size_t der_len,
				 unsigned char *out)
{
	const unsigned char *p = der;
	ECDSA_SIG  *sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
	const BIGNUM *r;
	const BIGNUM *s;
	int			width = (int) info->coordinate_len;
	bool		ok;

	if (sig == NULL)
		return false;
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, out, width) == width && BN_bn2binpad(s, out + width, width) == width;
	ECDSA_SIG_free(sig);
	return ok;
}

bool
crypto_sign(const crypto_prepared_key *prepared, const unsigned char *data, size_t len,
			unsigned char *signature, size_t *signature_len)
{
	const alg_info *info = prepared->info;
	EVP_MD_CTX *md_ctx = prepared->sign ? copy_context(prepared->sign) : NULL;
	unsigned char der[2 * 66 + 16];
	size_t		out_len;
	bool		ok = false;

	if (md_ctx == NULL)
		goto done;
	if (info->kty == JWK_KTY_EC)
	{
		out_len = sizeof(der);
		if (EVP_DigestSign(md_ctx, der, &out_len, data, len) != 1 ||
			!ecdsa_der_to_jws(info, der, out_len, signature))
			goto done;
		*signature_len = 2 * info->coordinate_len;
	}
	else
	{
		out_len = crypto_signature_len(prepared);
		if (EVP_DigestSign(md_ctx, signature, &out_len, data, len) != 1)
			goto done;
		*signature_len = out_len;
	}
	ok = true;

done:
	if (md_ctx != NULL)
		EVP_MD_CTX_reset(md_ctx);
	ERR_clear_error();
	return ok;
}

verify_result
crypto_verify_prepared(const crypto_prepared_key *prepared,
					   const unsigned char *data, size_t len,
					   const unsigned char *signature, size_t signature_len,
					   const char **problem)
{
	EVP_MD_CTX *md_ctx = copy_context(prepared->verify);
	verify_result result = VERIFY_FAILED;

	*problem = NULL;
	if (md_ctx != NULL)
	{
		result = verify_with_context(prepared->info, md_ctx, data, len,
									 signature, signature_len, problem);
		EVP_MD_CTX_reset(md_ctx);
	}
	ERR_clear_error();
	return result;
}
