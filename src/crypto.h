/*
 * crypto.h
 *		Every use of OpenSSL in jwt_pg.
 *
 * These functions never raise a PostgreSQL error.  They return false or a
 * failure code, and the caller reports.  No OpenSSL object is live across a call that can raise,
 * so an ERROR can never leak one.
 */
#ifndef JWT_PG_CRYPTO_H
#define JWT_PG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/* JWS algorithms (RFC 7518 section 3.1, RFC 8037) that jwt_pg implements. */
typedef enum jwt_alg
{
	JWT_ALG_HS256,
	JWT_ALG_HS384,
	JWT_ALG_HS512,
	JWT_ALG_RS256,
	JWT_ALG_RS384,
	JWT_ALG_RS512,
	JWT_ALG_PS256,
	JWT_ALG_PS384,
	JWT_ALG_PS512,
	JWT_ALG_ES256,
	JWT_ALG_ES384,
	JWT_ALG_ES512,
	JWT_ALG_EDDSA
} jwt_alg;

#define JWT_ALG_COUNT 13

/* Kinds of key, as the JWK "kty" member names them (RFC 7518 section 6). */
typedef enum jwk_kty
{
	JWK_KTY_OCT,
	JWK_KTY_RSA,
	JWK_KTY_EC,
	JWK_KTY_OKP
} jwk_kty;

/*
 * A public key (or an HMAC secret) taken from a JWK: the decoded bytes of
 * its members, pointing into memory that the caller owns.
 */
typedef struct jwk_public_key
{
	jwk_kty		kty;
	const char *crv;			/* NUL-terminated curve name, EC and OKP */
	const unsigned char *n;		/* RSA modulus, big-endian */
	size_t		n_len;
	const unsigned char *e;		/* RSA public exponent */
	size_t		e_len;
	const unsigned char *x;		/* EC or OKP x coordinate, or the oct "k" */
	size_t		x_len;
	const unsigned char *y;		/* EC y coordinate */
	size_t		y_len;
} jwk_public_key;

typedef enum verify_result
{
	VERIFY_OK,
	VERIFY_BAD_SIGNATURE,		/* well-formed key, signature does not match */
	VERIFY_BAD_KEY,				/* the key does not fit the algorithm */
	VERIFY_FAILED				/* OpenSSL failed for another reason */
} verify_result;

/* Smallest RSA modulus accepted, in bits. */
#define RSA_MIN_BITS 2048

/* Largest MAC or digest that any algorithm produces, in bytes. */
#define JWT_MAX_MAC_LEN 64
#define SHA256_LEN 32

/* Look an algorithm up by its exact, case-sensitive JOSE name. */
extern bool jwt_alg_from_name(const char *name, size_t len, jwt_alg *alg);
extern const char *jwt_alg_name(jwt_alg alg);

/* True for HS256, HS384 and HS512. */
extern bool jwt_alg_is_hmac(jwt_alg alg);

/* The kind of key that the algorithm takes. */
extern jwk_kty jwt_alg_kty(jwt_alg alg);

/* The JWK crv of an ES or EdDSA algorithm, else NULL. */
extern const char *jwt_alg_curve(jwt_alg alg);

/*
 * HMAC output size in bytes, which RFC 7518 section 3.2 also sets as the
 * minimum key size; 0 for the other algorithms.
 */
extern size_t jwt_alg_mac_len(jwt_alg alg);

/*
 * Verify an RS, PS, ES or EdDSA signature with a public key from a JWK.
 * ECDSA signatures are the fixed-width R||S of RFC 7518 section 3.4, with
 * 1 <= r, s < n checked first.  *problem explains VERIFY_BAD_KEY and
 * VERIFY_BAD_SIGNATURE.  No OpenSSL object outlives the call.
 */
extern verify_result crypto_verify_public(jwt_alg alg, const jwk_public_key *key,
										  const unsigned char *data, size_t len,
										  const unsigned char *signature,
										  size_t signature_len, const char **problem);

/*
 * Private members of a JWK (RFC 7518 sections 6.2.2, 6.3.2; RFC 8037):
 * d for every kty, and the RSA CRT values when present.
 */
typedef struct jwk_private_key
{
	const unsigned char *d;
	size_t		d_len;
	const unsigned char *p;
	size_t		p_len;
	const unsigned char *q;
	size_t		q_len;
	const unsigned char *dp;
	size_t		dp_len;
	const unsigned char *dq;
	size_t		dq_len;
	const unsigned char *qi;
	size_t		qi_len;
} jwk_private_key;

/*
 * A parsed RSA, EC or Ed25519 key, private or public: an OpenSSL EVP_PKEY.
 * The functions below that return one give it to the caller, who frees it
 * with crypto_key_free.
 */
typedef struct evp_pkey_st crypto_key;

/* Where a key's bytes are written: memory that the caller's allocator owns. */
typedef void *(*crypto_alloc_fn) (void *arg, size_t size);

/* Make a new key pair for the algorithm (RSA keys have 2048 bits). */
extern crypto_key *crypto_key_generate(jwt_alg alg);

/*
 * Read a PEM key: PKCS #8 (possibly unencrypted only), SPKI or PKCS #1.
 * Sets *is_private.  NULL with *problem set when it cannot be read.
 */
extern crypto_key *crypto_key_from_pem(const char *pem, size_t len, bool *is_private,
									   const char **problem);

/* Build a key from JWK members; with private members NULL, a public key. */
extern crypto_key *crypto_key_from_jwk(jwt_alg alg, const jwk_public_key *key,
									   const jwk_private_key *private_key,
									   const char **problem);

/* Read a private key stored as PKCS #8 DER. */
extern crypto_key *crypto_key_from_der(const unsigned char *der, size_t len);

/* Check that a key fits the algorithm: kind, curve, RSA size. */
extern bool crypto_key_fits(jwt_alg alg, const crypto_key *key, const char **problem);

/* The private key as PKCS #8 DER, in memory from alloc. */
extern bool crypto_key_to_der(const crypto_key *key, crypto_alloc_fn alloc, void *arg,
							  unsigned char **der, size_t *len);

/*
 * The public members of a key as a JWK has them (EC coordinates at full
 * width), in memory from alloc.
 */
extern bool crypto_key_public(jwt_alg alg, const crypto_key *key, crypto_alloc_fn alloc,
							  void *arg, jwk_public_key *out);

extern void crypto_key_free(crypto_key *key);

/*
 * A key ready to sign and verify many times, as the key store keeps them.
 * crypto_prepare_key takes ownership of the key, and frees it when it
 * fails; it signs only when is_private.
 */
typedef struct crypto_prepared_key crypto_prepared_key;

extern crypto_prepared_key *crypto_prepare_key(jwt_alg alg, crypto_key *key, bool is_private);
extern void crypto_prepared_key_free(crypto_prepared_key *prepared);
extern bool crypto_prepared_can_sign(const crypto_prepared_key *prepared);

/* Bytes of a signature with this key: 2 * coordinate for ES, 64 for EdDSA. */
extern size_t crypto_signature_len(const crypto_prepared_key *prepared);

/*
 * Sign data with a private key, writing crypto_signature_len bytes (ECDSA
 * as R||S).  Returns false when OpenSSL fails.
 */
extern bool crypto_sign(const crypto_prepared_key *prepared,
						const unsigned char *data, size_t len,
						unsigned char *signature, size_t *signature_len);

/* Verify with a prepared key, as crypto_verify_public does with a JWK. */
extern verify_result crypto_verify_prepared(const crypto_prepared_key *prepared,
											const unsigned char *data, size_t len,
											const unsigned char *signature,
											size_t signature_len, const char **problem);


extern bool crypto_hmac(jwt_alg alg, const unsigned char *key, size_t key_len,
						const unsigned char *data, size_t len,
						unsigned char *mac, size_t *mac_len);
extern bool crypto_sha256(const unsigned char *data, size_t len,
						  unsigned char digest[SHA256_LEN]);

/* Bytes from OpenSSL's CSPRNG. */
extern bool crypto_random_bytes(unsigned char *buf, size_t len);

/* Compare in time that depends only on len. */
extern bool crypto_equal(const void *a, const void *b, size_t len);

#endif							/* JWT_PG_CRYPTO_H */
