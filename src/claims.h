/*
 * claims.h
 *		Registered JWT claims (RFC 7519 section 4.1): types and checks.
 *
 * Like codec.h, this has no backend dependencies.
 */
#ifndef JWT_PG_CLAIMS_H
#define JWT_PG_CLAIMS_H

#include "codec.h"

/*
 * NumericDate values outside the years 1 to 9999 are rejected as malformed:
 * they cannot be real times, and PostgreSQL timestamps hold all of these.
 */
#define NUMERIC_DATE_MIN (-62135596800.0)
#define NUMERIC_DATE_MAX 253402300799.0

typedef enum claims_status
{
	CLAIMS_VALID,
	CLAIMS_MALFORMED,
	CLAIMS_EXPIRED,
	CLAIMS_NOT_YET_VALID,
	CLAIMS_ISSUED_IN_FUTURE,
	CLAIMS_AUDIENCE_MISMATCH,
	CLAIMS_ISSUER_MISMATCH
} claims_status;

typedef struct jwt_claims
{
	bool		has_exp;
	bool		has_nbf;
	bool		has_iat;
	double		exp;
	double		nbf;
	double		iat;
	const json_node *sub;		/* string, or NULL when absent */
	const json_node *jti;		/* string, or NULL when absent */
	const json_node *iss;		/* any kind, or NULL when absent */
	const json_node *aud;		/* any kind, or NULL when absent */
	bool		iss_valid;		/* iss is absent or a string */
	bool		aud_valid;		/* aud is absent, a string or strings */

	/* Set when a function returns something other than CLAIMS_VALID. */
	const char *bad_claim;		/* name of the claim, or NULL */
	const char *problem;		/* what is wrong with it */
} jwt_claims;

typedef struct claims_options
{
	double		now;			/* seconds since 1970-01-01 UTC */
	double		leeway;			/* seconds of clock skew to tolerate */
	const char *audience;		/* expected audience, or NULL */
	size_t		audience_len;
	const char *issuer;			/* expected issuer, or NULL */
	size_t		issuer_len;
} claims_options;

/*
 * Read the registered claims of a payload and check their types: exp, nbf
 * and iat are NumericDates, sub and jti strings.  Returns CLAIMS_VALID or
 * CLAIMS_MALFORMED.
 */
extern claims_status jwt_claims_read(const json_node *payload, jwt_claims *claims);

/*
 * Check claims read by jwt_claims_read in this order: exp, nbf, iat, aud,
 * iss.  An audience or issuer of the wrong type is a mismatch when one is
 * expected, and malformed otherwise.
 */
extern claims_status jwt_claims_check(jwt_claims *claims, const claims_options *options);

/* Parse a NumericDate from a JSON number node. */
extern bool numeric_date_parse(const json_node *node, double *value);

#endif							/* JWT_PG_CLAIMS_H */
