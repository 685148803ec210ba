/*
 * crypto.h
 *		Every use of OpenSSL in jwt_pg.
 *
 * These functions never raise a PostgreSQL error; they return false and the
 * caller reports.  No OpenSSL object is live across a call that can raise,
 * so an ERROR can never leak one.
 */
#ifndef JWT_PG_CRYPTO_H
#define JWT_PG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/* JWS algorithms (RFC 7518 section 3.1) that jwt_pg implements. */
typedef enum jwt_alg
{
	JWT_ALG_HS256,
	JWT_ALG_HS384,
	JWT_ALG_HS512
} jwt_alg;

#define JWT_ALG_COUNT 3

/* Largest MAC or digest that any algorithm produces, in bytes. */
#define JWT_MAX_MAC_LEN 64
#define SHA256_LEN 32

/* Look an algorithm up by its exact, case-sensitive JOSE name. */
extern bool jwt_alg_from_name(const char *name, size_t len, jwt_alg *alg);
extern const char *jwt_alg_name(jwt_alg alg);

/*
 * HMAC output size in bytes, which RFC 7518 section 3.2 also sets as the
 * minimum key size.
 */
extern size_t jwt_alg_mac_len(jwt_alg alg);

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
