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
