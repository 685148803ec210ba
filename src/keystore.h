/*
 * keystore.h
 *		The key store: signing and verification keys in table jwt_pg.keys.
 */
#ifndef JWT_PG_KEYSTORE_H
#define JWT_PG_KEYSTORE_H

#include "crypto.h"

/* A key from the store, parsed and cached for the rest of the backend. */
typedef struct stored_key
{
	const char *kid;			/* UTF-8 */
	size_t		kid_len;
	jwt_alg		alg;
	bool		active;			/* state "active", else "verify_only" */
	bool		can_sign;		/* a secret or private key is stored */
	const unsigned char *secret;	/* HMAC secret, else NULL */
	size_t		secret_len;
	crypto_prepared_key *key;	/* RSA, EC or Ed25519 key, else NULL */
	int64		created_at;		/* TimestampTz, to order keys */
} stored_key;

/*
 * A number that changes whenever the key store changes, as this backend
 * learns of it, for caches of verification results.
 */
extern uint64 keystore_changes(void);

/* The stored key with this kid, unless it is retired or absent. */
extern const stored_key *keystore_find(const char *kid, size_t kid_len);

/*
 * Keys of one algorithm, newest first, for a token without kid.  Fills at
 * most max and returns how many there are in all.
 */
extern size_t keystore_keys_for(jwt_alg alg, const stored_key **keys, size_t max);

/*
 * The key that signs for an algorithm: the one named by kid (NULL for the
 * newest active key of the algorithm).  Raises when the current user may
 * not sign with stored keys, or when no such key can sign.  defaulted is
 * true when the algorithm came from jwt_pg.default_algorithm, which the
 * message then names.
 */
extern const stored_key *keystore_signing_key(jwt_alg alg, bool defaulted,
											  const char *kid, size_t kid_len);

#endif							/* JWT_PG_KEYSTORE_H */
