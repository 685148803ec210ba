/*
 * claims.c
 *		Registered JWT claims (RFC 7519 section 4.1): types and checks.
 *
 * A claim of the wrong type is an error, never "no limit": an exp given as
 * a string or as a number that overflows must not make a token immortal.
 * This file must not include postgres.h, so that fuzzing harnesses can
 * link it alone.
 */
#include "claims.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Maximum length of the number text of a NumericDate. */
#define NUMERIC_DATE_MAX_TEXT 512

bool
numeric_date_parse(const json_node *node, double *value)
{
	char		buf[NUMERIC_DATE_MAX_TEXT + 1];
	char	   *end;
	double		v;

	if (node->kind != JSON_NUMBER || node->text_len > NUMERIC_DATE_MAX_TEXT)
		return false;
	memcpy(buf, node->text, node->text_len);
	buf[node->text_len] = '\0';

	/* The codec has already checked the JSON number syntax. */
	v = strtod(buf, &end);
	if (end != buf + node->text_len || !isfinite(v) ||
		v < NUMERIC_DATE_MIN || v > NUMERIC_DATE_MAX)
		return false;
	*value = v;
	return true;
}

static claims_status
malformed(jwt_claims *claims, const char *name, const char *problem)
{
	claims->bad_claim = name;
	claims->problem = problem;
	return CLAIMS_MALFORMED;
}

static claims_status
read_date(jwt_claims *claims, const json_node *node, const char *name,
		  bool *present, double *value)
{
	if (node == NULL)
		return CLAIMS_VALID;
	if (node->kind != JSON_NUMBER)
		return malformed(claims, name, "must be a number");
	if (node->text_len > NUMERIC_DATE_MAX_TEXT)
		return malformed(claims, name, "is written with too many digits");
	if (!numeric_date_parse(node, value))
		return malformed(claims, name, "is not a date between the years 1 and 9999");
	*present = true;
	return CLAIMS_VALID;
}

static bool
audience_type_valid(const json_node *aud)
{
	if (aud->kind == JSON_STRING)
		return true;
	if (aud->kind != JSON_ARRAY)
		return false;
	for (const json_node *item = aud->first_child; item; item = item->next)
		if (item->kind != JSON_STRING)
			return false;
	return true;
}

/* True when a member's name is the NUL-terminated name. */
static bool
member_is(const json_node *member, const char *name, size_t len)
{
	return member->key_len == len && memcmp(member->key, name, len) == 0;
}

claims_status
jwt_claims_read(const json_node *payload, jwt_claims *claims)
{
	const json_node *exp = NULL;
	const json_node *nbf = NULL;
	const json_node *iat = NULL;
	claims_status status;

	memset(claims, 0, sizeof(*claims));
	if (payload == NULL || payload->kind != JSON_OBJECT)
		return malformed(claims, NULL, "the claims are not a JSON object");

	/* One pass over the members: all registered names have three letters. */
	for (const json_node *m = payload->first_child; m; m = m->next)
	{
		if (m->key_len != 3)
			continue;
		if (member_is(m, "exp", 3))
			exp = m;
		else if (member_is(m, "nbf", 3))
			nbf = m;
		else if (member_is(m, "iat", 3))
			iat = m;
		else if (member_is(m, "sub", 3))
			claims->sub = m;
		else if (member_is(m, "jti", 3))
			claims->jti = m;
		else if (member_is(m, "iss", 3))
			claims->iss = m;
		else if (member_is(m, "aud", 3))
			claims->aud = m;
	}

	status = read_date(claims, exp, "exp", &claims->has_exp, &claims->exp);
	if (status == CLAIMS_VALID)
		status = read_date(claims, nbf, "nbf", &claims->has_nbf, &claims->nbf);
	if (status == CLAIMS_VALID)
		status = read_date(claims, iat, "iat", &claims->has_iat, &claims->iat);
	if (status != CLAIMS_VALID)
		return status;

	if (claims->sub && claims->sub->kind != JSON_STRING)
		return malformed(claims, "sub", "must be a string");
	if (claims->jti && claims->jti->kind != JSON_STRING)
		return malformed(claims, "jti", "must be a string");

	claims->iss_valid = (claims->iss == NULL || claims->iss->kind == JSON_STRING);
	claims->aud_valid = (claims->aud == NULL || audience_type_valid(claims->aud));
	return CLAIMS_VALID;
}

static bool
bytes_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

static bool
audience_matches(const json_node *aud, const char *expected, size_t len)
{
	if (aud->kind == JSON_STRING)
		return bytes_equal(aud->text, aud->text_len, expected, len);
	for (const json_node *item = aud->first_child; item; item = item->next)
		if (bytes_equal(item->text, item->text_len, expected, len))
			return true;
	return false;
}

claims_status
jwt_claims_check(jwt_claims *claims, const claims_options *options)
{
	double		now = options->now;
	double		leeway = options->leeway;

	/* RFC 7519 4.1.4: the token must not be accepted on or after exp. */
	if (claims->has_exp && now >= claims->exp + leeway)
	{
		claims->bad_claim = "exp";
		return CLAIMS_EXPIRED;
	}
	if (claims->has_nbf && now + leeway < claims->nbf)
	{
		claims->bad_claim = "nbf";
		return CLAIMS_NOT_YET_VALID;
	}
	if (claims->has_iat && claims->iat > now + leeway)
	{
		claims->bad_claim = "iat";
		return CLAIMS_ISSUED_IN_FUTURE;
	}

	if (options->audience != NULL)
	{
		claims->bad_claim = "aud";
		if (claims->aud == NULL)
		{
			claims->problem = "is missing";
			return CLAIMS_AUDIENCE_MISMATCH;
		}
		if (!claims->aud_valid)
		{
			claims->problem = "is not a string or an array of strings";
			return CLAIMS_AUDIENCE_MISMATCH;
		}
		if (!audience_matches(claims->aud, options->audience, options->audience_len))
		{
			claims->problem = "does not contain the expected audience";
			return CLAIMS_AUDIENCE_MISMATCH;
		}
		claims->bad_claim = NULL;
	}
	else if (!claims->aud_valid)
		return malformed(claims, "aud", "must be a string or an array of strings");

	if (options->issuer != NULL)
	{
		claims->bad_claim = "iss";
		if (claims->iss == NULL)
		{
			claims->problem = "is missing";
			return CLAIMS_ISSUER_MISMATCH;
		}
		if (!claims->iss_valid ||
			!bytes_equal(claims->iss->text, claims->iss->text_len,
						 options->issuer, options->issuer_len))
		{
			claims->problem = "is not the expected issuer";
			return CLAIMS_ISSUER_MISMATCH;
		}
		claims->bad_claim = NULL;
	}
	else if (!claims->iss_valid)
		return malformed(claims, "iss", "must be a string");

	return CLAIMS_VALID;
}
