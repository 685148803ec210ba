/*
 * token.c
 *		Signing and verifying compact JWS and JWT tokens.
 *
 * Verification is a sequence of steps, each of which either succeeds or
 * records one failure reason with a detail and returns false:
 *
 *	token_decode		size, three segments, strict base64url
 *	token_read_header	header JSON, crit and b64
 *	token_check_alg		alg against the allowed list; "none" never passes
 *	token_check_signature	MAC of exact length, compared in constant time
 *	token_read_claims	claims JSON and registered claim types
 *	token_check_claims	exp, nbf, iat, aud, iss
 *	token_check_revoked	the blacklist and the subject's revocation cutoff
 *
 * The payload is parsed only after its signature has been checked.  Bad
 * arguments (a short secret, an unknown algorithm name) raise 22023 at
 * once; they are the caller's mistake, not the token's.
 */
#include "jwt_pg.h"

#include <math.h>
#include <time.h>

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "jwk.h"
#include "keystore.h"

static const char *const failure_messages[] = {
	[TOKEN_OK] = "token is valid",
	[TOKEN_TOO_LARGE] = "token is too large",
	[TOKEN_MALFORMED] = "malformed token",
	[TOKEN_MALFORMED_HEADER] = "malformed token header",
	[TOKEN_MALFORMED_CLAIMS] = "malformed token claims",
	[TOKEN_ALG_NOT_ALLOWED] = "token algorithm not allowed",
	[TOKEN_INVALID_SIGNATURE] = "invalid token signature",
	[TOKEN_EXPIRED] = "token has expired",
	[TOKEN_NOT_YET_VALID] = "token is not yet valid",
	[TOKEN_ISSUED_IN_FUTURE] = "token was issued in the future",
	[TOKEN_AUDIENCE_MISMATCH] = "token audience mismatch",
	[TOKEN_ISSUER_MISMATCH] = "token issuer mismatch",
	[TOKEN_REVOKED] = "token has been revoked",
	[TOKEN_KEY_NOT_FOUND] = "token key not found",
};

const char *
token_failure_message(token_failure failure)
{
	return failure_messages[failure];
}

void
token_raise(const jws_token *token)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s", token_failure_message(token->failure)),
			 token->detail ? errdetail("%s", token->detail) : 0));
	pg_unreachable();
}

static bool
reject(jws_token *token, token_failure failure, const char *fmt,...)
	pg_attribute_printf(3, 4);

static bool
reject(jws_token *token, token_failure failure, const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	token->failure = failure;
	token->detail = buf.data;
	return false;
}

static const char *printable_prefix(const char *s, size_t len, size_t max);

/*
 * Quote at most 40 bytes of untrusted text for an error detail, with
 * anything but printable ASCII replaced by '?'.
 */
const char *
printable_excerpt(const char *s, size_t len)
{
	return printable_prefix(s, len, 40);
}

/* Like printable_excerpt, for a kid: up to 64 bytes, which fits a thumbprint. */
const char *
printable_kid(const char *s, size_t len)
{
	return printable_prefix(s, len, 64);
}

static const char *
printable_prefix(const char *s, size_t len, size_t max)
{
	size_t		n = Min(len, max);
	char	   *out = palloc(n + 4);

	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		out[i] = (c >= 0x20 && c < 0x7F) ? (char) c : '?';
	}
	if (n < len)
	{
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

/* A timestamptz as a NumericDate: seconds since 1970, with a fraction. */
static double
numeric_date(TimestampTz value)
{
	return (double) value / USECS_PER_SEC +
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/* Current time as a NumericDate: the start of the current statement. */
double
token_now(void)
{
	return numeric_date(GetCurrentStatementStartTimestamp());
}

/* Format a NumericDate as UTC text for error details. */
static const char *
format_numeric_date(double value)
{
	time_t		seconds = (time_t) floor(value);
	struct tm	tm;
	char		buf[64];

	if (gmtime_r(&seconds, &tm) == NULL ||
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		return psprintf("%.0f", value);
	return pstrdup(buf);
}

static const char *const segment_names[] = {"header", "payload", "signature"};

static bool
decode_segment(jws_token *token, int index, const char *src, size_t len,
			   unsigned char **out, size_t *out_len)
{
	size_t		bad_offset = 0;

	*out = palloc(BASE64URL_DECODED_MAX(len) + 1);
	if (!base64url_decode(src, len, *out, out_len, &bad_offset))
		return reject(token, TOKEN_MALFORMED,
					  "The %s segment is not valid unpadded base64url (at character %zu).",
					  segment_names[index], bad_offset + 1);
	(*out)[*out_len] = '\0';
	return true;
}

/* Check the size, split the three segments and decode each one. */
bool
token_decode(jws_token *token, const char *text, size_t len)
{
	jws_segments segments;
	int			segment_count;
	unsigned char *header;
	unsigned char *payload;

	memset(token, 0, sizeof(*token));
	token->text = text;
	token->len = len;

	if (len > (size_t) jwt_max_token_bytes)
		return reject(token, TOKEN_TOO_LARGE,
					  "The token has %zu bytes, more than jwt_pg.max_token_bytes (%d).",
					  len, jwt_max_token_bytes);

	if (!jws_split(text, len, &segments, &segment_count))
		return reject(token, TOKEN_MALFORMED,
					  "A compact JWS has 3 segments separated by dots; this token has %d.",
					  segment_count);

	if (!decode_segment(token, 0, segments.header, segments.header_len,
						&header, &token->header_json_len) ||
		!decode_segment(token, 1, segments.payload, segments.payload_len,
						&payload, &token->payload_len) ||
		!decode_segment(token, 2, segments.signature, segments.signature_len,
						&token->signature, &token->signature_len))
		return false;

	token->header_json = (char *) header;
	token->payload = (char *) payload;
	token->signing_input_len = segments.signing_input_len;
	return true;
}

/* Record why a header or claims text is not acceptable JSON. */
static bool
reject_json(jws_token *token, token_failure failure, const char *part,
			const json_parse_result *result)
{
	if (result->error == JSON_ERR_TOO_DEEP)
		return reject(token, TOKEN_TOO_LARGE,
					  "Nesting in the %s is deeper than jwt_pg.max_json_depth (%d).",
					  part, jwt_max_json_depth);
	if (result->error == JSON_ERR_TOO_MANY_MEMBERS)
		return reject(token, TOKEN_TOO_LARGE,
					  "An object in the %s has more members than jwt_pg.max_json_members (%d).",
					  part, jwt_max_json_members);
	if (result->error == JSON_ERR_DUPLICATE_KEY)
		return reject(token, failure,
					  "The member \"%s\" appears more than once in the %s.",
					  printable_excerpt(result->key, result->key_len), part);
	return reject(token, failure, "Invalid JSON in the %s: %s at byte %zu.",
				  part, json_error_text(result->error), result->offset + 1);
}

/*
 * Parse the header and check the members that change how a token must be
 * read.  jwt_pg implements no critical extensions, so any crit fails, and
 * b64 (RFC 7797) is refused because it changes what the signature covers.
 */
bool
token_read_header(jws_token *token)
{
	json_parse_result result;
	const json_node *alg;

	token->header = parse_json_or_null(token->header_json, token->header_json_len, &result);
	if (token->header == NULL)
		return reject_json(token, TOKEN_MALFORMED_HEADER, "header", &result);
	if (token->header->kind != JSON_OBJECT)
		return reject(token, TOKEN_MALFORMED_HEADER, "The header is not a JSON object.");

	alg = json_object_get(token->header, "alg");
	if (alg == NULL)
		return reject(token, TOKEN_MALFORMED_HEADER, "The header has no \"alg\" member.");
	if (alg->kind != JSON_STRING)
		return reject(token, TOKEN_MALFORMED_HEADER, "The header member \"alg\" is not a string.");
	if (json_object_get(token->header, "crit") != NULL)
		return reject(token, TOKEN_MALFORMED_HEADER,
					  "The header lists critical extensions in \"crit\", and jwt_pg implements none.");
	if (json_object_get(token->header, "b64") != NULL)
		return reject(token, TOKEN_MALFORMED_HEADER,
					  "The header sets \"b64\" (RFC 7797), which jwt_pg does not support.");
	return true;
}

static const char *
allowed_list(const verify_options *options)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < JWT_ALG_COUNT; i++)
	{
		if (!options->allowed[i])
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, jwt_alg_name((jwt_alg) i));
	}
	return buf.data;
}

bool
token_check_alg(jws_token *token, const verify_options *options)
{
	const json_node *alg = json_object_get(token->header, "alg");

	if (!jwt_alg_from_name(alg->text, alg->text_len, &token->alg) ||
		!options->allowed[token->alg])
		return reject(token, TOKEN_ALG_NOT_ALLOWED,
					  "The header's \"alg\" is \"%s\"; allowed: %s.",
					  printable_excerpt(alg->text, alg->text_len),
					  allowed_list(options));
	return true;
}

/* Reject an HMAC secret shorter than the hash output (RFC 7518 3.2). */
void
check_secret_length(jwt_alg alg, size_t key_len)
{
	size_t		needed = jwt_alg_mac_len(alg);

	if (key_len < needed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret is too short for %s", jwt_alg_name(alg)),
				 errdetail("%s requires a secret of at least %zu bytes; this one has %zu.",
						   jwt_alg_name(alg), needed, key_len),
				 errhint("Use a random secret at least as long as the hash output.")));
}

static void
compute_mac(jwt_alg alg, const unsigned char *key, size_t key_len,
			const char *data, size_t len, unsigned char *mac, size_t *mac_len)
{
	if (!crypto_hmac(alg, key, key_len, (const unsigned char *) data, len, mac, mac_len))
		elog(ERROR, "could not compute %s with OpenSSL", jwt_alg_name(alg));
}

bool
token_check_signature(jws_token *token, const unsigned char *key, size_t key_len)
{
	unsigned char mac[JWT_MAX_MAC_LEN];
	size_t		mac_len = 0;
	size_t		expected = jwt_alg_mac_len(token->alg);

	check_secret_length(token->alg, key_len);

	if (token->signature_len != expected)
		return reject(token, TOKEN_INVALID_SIGNATURE,
					  "The signature has %zu bytes; %s signatures have %zu.",
					  token->signature_len, jwt_alg_name(token->alg), expected);

	compute_mac(token->alg, key, key_len, token->text, token->signing_input_len,
				mac, &mac_len);
	if (!crypto_equal(mac, token->signature, expected))
		return reject(token, TOKEN_INVALID_SIGNATURE,
					  "The signature does not match the header and payload.");
	return true;
}

bool
token_read_claims(jws_token *token)
{
	json_parse_result result;

	token->claims_root = parse_json_or_null(token->payload, token->payload_len, &result);
	if (token->claims_root == NULL)
		return reject_json(token, TOKEN_MALFORMED_CLAIMS, "claims", &result);

	if (jwt_claims_read(token->claims_root, &token->claims) != CLAIMS_VALID)
	{
		if (token->claims.bad_claim == NULL)
			return reject(token, TOKEN_MALFORMED_CLAIMS, "The claims are not a JSON object.");
		return reject(token, TOKEN_MALFORMED_CLAIMS, "The claim \"%s\" %s.",
					  token->claims.bad_claim, token->claims.problem);
	}
	return true;
}

bool
token_check_claims(jws_token *token, const verify_options *options, double now)
{
	claims_options checks;
	jwt_claims *claims = &token->claims;

	checks.now = now;
	checks.leeway = options->leeway;
	checks.audience = options->audience;
	checks.audience_len = options->audience_len;
	checks.issuer = options->issuer;
	checks.issuer_len = options->issuer_len;

	switch (jwt_claims_check(claims, &checks))
	{
		case CLAIMS_VALID:
			return true;
		case CLAIMS_MALFORMED:
			return reject(token, TOKEN_MALFORMED_CLAIMS, "The claim \"%s\" %s.",
						  claims->bad_claim, claims->problem);
		case CLAIMS_EXPIRED:
			return reject(token, TOKEN_EXPIRED, "The token expired at %s.",
						  format_numeric_date(claims->exp));
		case CLAIMS_NOT_YET_VALID:
			return reject(token, TOKEN_NOT_YET_VALID, "The token is valid from %s.",
						  format_numeric_date(claims->nbf));
		case CLAIMS_ISSUED_IN_FUTURE:
			return reject(token, TOKEN_ISSUED_IN_FUTURE,
						  "The token was issued at %s, which is later than now.",
						  format_numeric_date(claims->iat));
		case CLAIMS_AUDIENCE_MISMATCH:
			return reject(token, TOKEN_AUDIENCE_MISMATCH, "The claim \"aud\" %s.",
						  claims->problem);
		case CLAIMS_ISSUER_MISMATCH:
			return reject(token, TOKEN_ISSUER_MISMATCH, "The claim \"iss\" %s.",
						  claims->problem);
	}
	return true;
}

/*
 * The key that identifies a token on the blacklist: its jti, or for a token
 * without one, the SHA-256 of header.payload, so that re-encoding the
 * signature cannot dodge an entry.
 */
void
token_blacklist_key(const jws_token *token, const char **jti, size_t *jti_len,
					unsigned char *hash)
{
	if (token->claims.jti != NULL)
	{
		*jti = token->claims.jti->text;
		*jti_len = token->claims.jti->text_len;
		return;
	}
	*jti = NULL;
	*jti_len = 0;
	if (!crypto_sha256((const unsigned char *) token->text, token->signing_input_len, hash))
		elog(ERROR, "could not compute SHA-256 with OpenSSL");
}

bool
token_check_revoked(jws_token *token)
{
	const char *jti;
	size_t		jti_len;
	unsigned char hash[SHA256_LEN];

	const json_node *sub = token->claims.sub;
	TimestampTz revoked_before;

	token_blacklist_key(token, &jti, &jti_len, hash);
	if (state_blacklist_contains(jti, jti_len, hash))
	{
		if (jti != NULL)
			return reject(token, TOKEN_REVOKED, "The token's jti \"%s\" is on the blacklist.",
						  printable_excerpt(jti, jti_len));
		return reject(token, TOKEN_REVOKED, "The token is on the blacklist.");
	}

	/*
	 * iat is in whole seconds, so a token issued in the second of the
	 * revocation, before or after it, is refused too.
	 */
	if (sub != NULL && state_subject_cutoff(sub->text, sub->text_len, &revoked_before))
	{
		double		cutoff = numeric_date(revoked_before);

		if (!token->claims.has_iat)
			return reject(token, TOKEN_REVOKED,
						  "The tokens of subject \"%s\" issued until %s are revoked, and this one has no \"iat\".",
						  printable_excerpt(sub->text, sub->text_len),
						  format_numeric_date(cutoff));
		if (token->claims.iat < cutoff)
			return reject(token, TOKEN_REVOKED,
						  "The tokens of subject \"%s\" issued until %s are revoked.",
						  printable_excerpt(sub->text, sub->text_len),
						  format_numeric_date(cutoff));
	}
	return true;
}

/* Parse an algorithm argument, raising 22023 for a name jwt_pg lacks. */
jwt_alg
algorithm_from_text(text *name)
{
	jwt_alg		alg;
	const char *s = VARDATA_ANY(name);
	size_t		len = VARSIZE_ANY_EXHDR(name);

	if (len == 4 && memcmp(s, "none", 4) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithm \"none\" is not allowed"),
				 errdetail("Unsigned tokens are never created or accepted.")));
	if (!jwt_alg_from_name(s, len, &alg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported algorithm \"%s\"", printable_excerpt(s, len)),
				 errhint("Supported algorithms are HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA; names are case-sensitive.")));
	return alg;
}

/* Parse the algorithm of a call that signs with a secret: an HMAC one. */
jwt_alg
signing_algorithm_from_text(text *name)
{
	jwt_alg		alg = algorithm_from_text(name);

	if (!jwt_alg_is_hmac(alg))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("signing with %s and a secret is not supported", jwt_alg_name(alg)),
				 errdetail("A secret signs HS256, HS384 and HS512 only."),
				 errhint("Omit the secret to sign with the newest active %s key in the key store.",
						 jwt_alg_name(alg))));
	return alg;
}

/* Tokens name the key with a kid of at most this many bytes. */
static bool
read_kid(jws_token *token, const char **kid, size_t *kid_len)
{
	const json_node *node = json_object_get(token->header, "kid");

	*kid = NULL;
	*kid_len = 0;
	if (node == NULL)
		return true;
	if (node->kind != JSON_STRING || node->text_len > JWT_MAX_KID_LEN)
		return reject(token, TOKEN_MALFORMED_HEADER,
					  "The header member \"kid\" is not a string of at most %d bytes.",
					  JWT_MAX_KID_LEN);
	*kid = node->text;
	*kid_len = node->text_len;
	return true;
}

/* Most keys of a JWK Set tried for one token. */
#define JWKS_MAX_CANDIDATES 16

/*
 * Check the signature against the keys of a JWK Set that fit the token's
 * kid and algorithm.  A key that cannot be used (too short, malformed) is
 * skipped, so a token's header can never make the call raise.  When no key
 * is usable, the token is rejected with "token key not found".
 */
bool
token_check_signature_jwks(jws_token *token, const json_node *jwks)
{
	const json_node *candidates[JWKS_MAX_CANDIDATES];
	const char *kid;
	size_t		kid_len;
	size_t		count;
	bool		keys_member;
	bool		truncated;
	size_t		keys_tried = 0;
	bool		some_key_usable = false;
	const char *key_problem = NULL;
	const char *signature_problem = NULL;

	if (!read_kid(token, &kid, &kid_len))
		return false;

	count = jwk_set_candidates(jwks, token->alg, kid, kid_len,
							   candidates, JWKS_MAX_CANDIDATES, &keys_member, &truncated);

	for (size_t i = 0; i < count; i++)
	{
		jwk_public_key key;
		const char *problem = NULL;

		if (!jwk_read(candidates[i], palloc_allocator(), &key, &problem))
		{
			key_problem = problem;
			continue;
		}

		if (jwt_alg_is_hmac(token->alg))
		{
			unsigned char mac[JWT_MAX_MAC_LEN];
			size_t		mac_len = 0;
			size_t		expected = jwt_alg_mac_len(token->alg);

			if (key.x_len < expected)
			{
				key_problem = "the oct key is shorter than the hash output";
				continue;
			}
			some_key_usable = true;
			keys_tried++;
			if (token->signature_len != expected)
			{
				signature_problem = "the signature does not have the hash's length";
				continue;
			}
			if (!crypto_hmac(token->alg, key.x, key.x_len, (const unsigned char *) token->text,
							 token->signing_input_len, mac, &mac_len))
				elog(ERROR, "could not compute %s with OpenSSL", jwt_alg_name(token->alg));
			if (crypto_equal(mac, token->signature, expected))
				return true;
			signature_problem = "the signature does not match the header and payload";
			continue;
		}

		switch (crypto_verify_public(token->alg, &key, (const unsigned char *) token->text,
									 token->signing_input_len, token->signature,
									 token->signature_len, &problem))
		{
			case VERIFY_OK:
				return true;
			case VERIFY_BAD_SIGNATURE:
				some_key_usable = true;
				keys_tried++;
				signature_problem = problem;
				break;
			case VERIFY_BAD_KEY:
				key_problem = problem;
				break;
			case VERIFY_FAILED:
				elog(ERROR, "could not verify %s with OpenSSL", jwt_alg_name(token->alg));
		}
	}

	if (some_key_usable && keys_tried == 1 && !truncated)
		return reject(token, TOKEN_INVALID_SIGNATURE, "For the key in the JWK Set, %s.",
					  signature_problem);
	if (some_key_usable && truncated)
		return reject(token, TOKEN_INVALID_SIGNATURE,
					  "None of the %zu %s keys tried matches the signature; only the first %d keys that fit were tried.",
					  keys_tried, jwt_alg_name(token->alg), JWKS_MAX_CANDIDATES);
	if (some_key_usable)
		return reject(token, TOKEN_INVALID_SIGNATURE,
					  "None of the %zu %s keys tried matches the signature.",
					  keys_tried, jwt_alg_name(token->alg));
	if (key_problem != NULL)
		return reject(token, TOKEN_KEY_NOT_FOUND,
					  "The JWK Set has no usable %s key: %s.",
					  jwt_alg_name(token->alg), key_problem);
	if (kid != NULL)
		return reject(token, TOKEN_KEY_NOT_FOUND,
					  "The JWK Set has no %s key with kid \"%s\".",
					  jwt_alg_name(token->alg), printable_kid(kid, kid_len));
	return reject(token, TOKEN_KEY_NOT_FOUND, "The JWK Set has no %s key.",
				  jwt_alg_name(token->alg));
}

/* Check the signature with one key from the store, whose alg fits. */
static bool
check_with_stored_key(jws_token *token, const stored_key *key)
{
	const char *problem = NULL;

	if (key->key == NULL)
		return token_check_signature(token, key->secret, key->secret_len);

	switch (crypto_verify_prepared(key->key, (const unsigned char *) token->text,
								   token->signing_input_len, token->signature,
								   token->signature_len, &problem))
	{
		case VERIFY_OK:
			return true;
		case VERIFY_BAD_SIGNATURE:
			return reject(token, TOKEN_INVALID_SIGNATURE, "For key \"%s\", %s.",
						  printable_kid(key->kid, key->kid_len), problem);
		case VERIFY_BAD_KEY:
		case VERIFY_FAILED:
			break;
	}
	elog(ERROR, "could not verify %s with OpenSSL", jwt_alg_name(token->alg));
	return false;
}

/*
 * Check the signature with the key store.  A kid selects exactly one key,
 * whose own algorithm must be the header's: an unknown kid never falls back
 * to another key.  Without a kid, the keys of the header's algorithm are
 * tried, newest first.
 */
bool
token_check_signature_store(jws_token *token)
{
	const stored_key *keys[JWKS_MAX_CANDIDATES];
	const char *kid;
	size_t		kid_len;
	size_t		count;
	size_t		tried;

	if (!read_kid(token, &kid, &kid_len))
		return false;

	if (kid != NULL)
	{
		const stored_key *key = keystore_find(kid, kid_len);

		if (key == NULL)
			return reject(token, TOKEN_KEY_NOT_FOUND,
						  "The key store has no key with kid \"%s\" that is not retired.",
						  printable_kid(kid, kid_len));
		if (key->alg != token->alg)
			return reject(token, TOKEN_KEY_NOT_FOUND,
						  "The key \"%s\" is for %s, and the header's \"alg\" is %s.",
						  printable_kid(kid, kid_len), jwt_alg_name(key->alg),
						  jwt_alg_name(token->alg));
		return check_with_stored_key(token, key);
	}

	count = keystore_keys_for(token->alg, keys, JWKS_MAX_CANDIDATES);
	if (count == 0)
		return reject(token, TOKEN_KEY_NOT_FOUND, "The key store has no %s key.",
					  jwt_alg_name(token->alg));
	tried = Min(count, JWKS_MAX_CANDIDATES);
	for (size_t i = 0; i < tried; i++)
		if (check_with_stored_key(token, keys[i]))
			return true;
	if (tried == 1)
		return false;
	if (count > tried)
		return reject(token, TOKEN_INVALID_SIGNATURE,
					  "None of the newest %zu %s keys in the key store matches the signature; the token has no kid to choose among all %zu.",
					  tried, jwt_alg_name(token->alg), count);
	return reject(token, TOKEN_INVALID_SIGNATURE,
				  "None of the %zu %s keys in the key store matches the signature.",
				  tried, jwt_alg_name(token->alg));
}

/* Convert a StringInfo's text from the database encoding to UTF-8. */
static const char *
to_utf8(StringInfo text, size_t *len)
{
	return server_to_utf8(text->data, text->len, len);
}

/* Sign header and payload bytes into a compact JWS. */
char *
jws_sign_compact(const char *header_json, size_t header_len,
				 const char *payload, size_t payload_len, const signing_key *key)
{
	size_t		signature_max;
	size_t		total;
	char	   *out;
	size_t		pos;
	unsigned char *signature;
	size_t		signature_len = 0;

	if (key->key != NULL)
		signature_max = crypto_signature_len(key->key);
	else
	{
		check_secret_length(key->alg, key->secret_len);
		signature_max = jwt_alg_mac_len(key->alg);
	}

	total = BASE64URL_ENCODED_LEN(header_len) + 1 + BASE64URL_ENCODED_LEN(payload_len) +
		1 + BASE64URL_ENCODED_LEN(signature_max);
	if (total > (size_t) jwt_max_token_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("token would be too large"),
				 errdetail("The token would have %zu bytes, more than jwt_pg.max_token_bytes (%d).",
						   total, jwt_max_token_bytes),
				 errhint("Sign fewer or shorter claims, or raise jwt_pg.max_token_bytes.")));

	out = palloc(total + 1);
	pos = base64url_encode((const unsigned char *) header_json, header_len, out);
	out[pos++] = '.';
	pos += base64url_encode((const unsigned char *) payload, payload_len, out + pos);

	signature = palloc(Max(signature_max, JWT_MAX_MAC_LEN));
	if (key->key != NULL)
	{
		if (!crypto_sign(key->key, (const unsigned char *) out, pos,
						 signature, &signature_len))
			elog(ERROR, "could not sign with %s with OpenSSL", jwt_alg_name(key->alg));
	}
	else
		compute_mac(key->alg, key->secret, key->secret_len, out, pos, signature,
					&signature_len);
	out[pos++] = '.';
	pos += base64url_encode(signature, signature_len, out + pos);
	out[pos] = '\0';
	return out;
}

/* Random bytes from OpenSSL's CSPRNG, in base64url; the raw bytes are wiped. */
char *
random_base64url(size_t nbytes)
{
	unsigned char *random = palloc(nbytes);
	char	   *encoded = palloc(BASE64URL_ENCODED_LEN(nbytes) + 1);
	size_t		n;

	if (!crypto_random_bytes(random, nbytes))
		elog(ERROR, "could not generate random bytes with OpenSSL");
	n = base64url_encode(random, nbytes, encoded);
	encoded[n] = '\0';
	explicit_bzero(random, nbytes);
	pfree(random);
	return encoded;
}

/* Parse JSON that jwt_pg itself wrote from jsonb; failure is a bug. */
static json_node *
parse_own_json(const char *json, size_t len, const char *what)
{
	json_parse_result result;
	json_node  *node = parse_json_or_null(json, len, &result);

	if (node == NULL)
	{
		if (result.error == JSON_ERR_TOO_DEEP)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s nest too deeply", what),
					 errdetail("Tokens may nest at most jwt_pg.max_json_depth (%d) levels.",
							   jwt_max_json_depth)));
		if (result.error == JSON_ERR_TOO_MANY_MEMBERS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s have an object with too many members", what),
					 errdetail("Objects in tokens may have at most jwt_pg.max_json_members (%d) members.",
							   jwt_max_json_members)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot be encoded in a token", what),
				 errdetail("The JSON text is rejected: %s.", json_error_text(result.error))));
	}
	return node;
}

/* Whether a header member has this name. */
static bool
member_is(const json_node *member, const char *name)
{
	return member->key_len == strlen(name) && memcmp(member->key, name, member->key_len) == 0;
}

/*
 * Write the JOSE header: alg first, then typ (unless given), then the
 * key's kid, then the caller's members.  The caller may repeat alg and kid
 * with the same values but may not set crit or b64, which change how the
 * token is read.
 */
void
jws_build_header(StringInfo out, const signing_key *key, Jsonb *header,
				 const char *default_typ)
{
	jwt_alg		alg = key->alg;
	json_node  *extra = NULL;

	if (header != NULL)
	{
		StringInfoData buf;
		size_t		len;
		const char *json;

		if (!JB_ROOT_IS_OBJECT(header) || JB_ROOT_IS_SCALAR(header))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("header must be a JSON object")));
		initStringInfo(&buf);
		jsonb_to_compact_json(&buf, header);
		json = to_utf8(&buf, &len);
		extra = parse_own_json(json, len, "header members");
	}

	appendStringInfo(out, "{\"alg\":\"%s\"", jwt_alg_name(alg));
	if (default_typ != NULL && json_object_get(extra, "typ") == NULL)
		appendStringInfo(out, ",\"typ\":\"%s\"", default_typ);
	if (key->kid != NULL)
	{
		appendStringInfoString(out, ",\"kid\":");
		append_json_string(out, key->kid, key->kid_len);
	}

	for (const json_node *m = extra ? extra->first_child : NULL; m; m = m->next)
	{
		if (key->kid != NULL && member_is(m, "kid"))
		{
			if (m->kind != JSON_STRING || m->text_len != key->kid_len ||
				memcmp(m->text, key->kid, key->kid_len) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("header member \"kid\" conflicts with the signing key"),
						 errhint("Omit \"kid\" from the header; the key store sets it.")));
			continue;
		}
		if (member_is(m, "alg"))
		{
			if (!json_string_equals(m, jwt_alg_name(alg)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("header member \"alg\" conflicts with algorithm %s",
								jwt_alg_name(alg)),
						 errhint("Omit \"alg\" from the header; the algorithm argument sets it.")));
			continue;
		}
		if (member_is(m, "crit") || member_is(m, "b64"))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("header member \"%s\" is not supported",
							printable_excerpt(m->key, m->key_len)),
					 errdetail("Verifiers would have to implement the extension it names.")));

		appendStringInfoChar(out, ',');
		append_json_string(out, m->key, m->key_len);
		appendStringInfoChar(out, ':');
		append_json_node(out, m);
	}
	appendStringInfoChar(out, '}');
}

/* Append "name":value for a NumericDate, after a comma when needed. */
static void
append_date_claim(StringInfo out, bool *need_comma, const char *name, double value)
{
	if (*need_comma)
		appendStringInfoChar(out, ',');
	if (value == floor(value))
		appendStringInfo(out, "\"%s\":%.0f", name, value);
	else
		appendStringInfo(out, "\"%s\":%.6f", name, value);
	*need_comma = true;
}

static void
check_claims_for_signing(jwt_claims *claims, const json_node *root)
{
	if (jwt_claims_read(root, claims) != CLAIMS_VALID || !claims->aud_valid ||
		!claims->iss_valid)
	{
		const char *name = claims->bad_claim;
		const char *problem = claims->problem;

		if (claims->bad_claim == NULL && !claims->aud_valid)
		{
			name = "aud";
			problem = "must be a string or an array of strings";
		}
		else if (claims->bad_claim == NULL && !claims->iss_valid)
		{
			name = "iss";
			problem = "must be a string";
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid claim \"%s\"", name),
				 errdetail("The claim \"%s\" %s.", name, problem)));
	}
}

/*
 * Write claims as compact UTF-8 JSON and check them as jwt_create does: a
 * JSON object whose registered claims have the right types.
 */
json_node *
claims_for_signing(Jsonb *claims_jsonb, jwt_claims *claims,
				   const char **json, size_t *json_len)
{
	StringInfoData buf;
	json_node  *root;

	if (!JB_ROOT_IS_OBJECT(claims_jsonb) || JB_ROOT_IS_SCALAR(claims_jsonb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claims must be a JSON object")));

	initStringInfo(&buf);
	jsonb_to_compact_json(&buf, claims_jsonb);
	*json = to_utf8(&buf, json_len);
	root = parse_own_json(*json, *json_len, "claims");
	check_claims_for_signing(claims, root);
	return root;
}

/*
 * Refuse an exp further out than jwt_pg.max_access_ttl, which bounds how
 * long jwt_purge must keep a subject's revocation.
 */
void
check_token_lifetime(double exp)
{
	double		now = token_now();

	if (exp > now + jwt_max_access_ttl)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token lifetime exceeds jwt_pg.max_access_ttl"),
				 errdetail("The token would expire at %s, more than %d seconds from now.",
						   format_numeric_date(exp), jwt_max_access_ttl),
				 errhint("Sign a shorter-lived token, or have a superuser raise jwt_pg.max_access_ttl.")));
}

/*
 * Sign claims as a JWT.  Adds iat (now, whole seconds) and a random jti
 * unless present, and exp = iat + expires_in, rounded up to a whole second,
 * when expires_in is given.
 */
char *
jwt_sign_claims(Jsonb *claims_jsonb, const signing_key *key, const Interval *expires_in,
				Jsonb *header)
{
	StringInfoData payload;
	StringInfoData header_json;
	size_t		json_len;
	const char *json_utf8;
	json_node  *root;
	jwt_claims	claims;
	double		iat;
	bool		need_comma;

	root = claims_for_signing(claims_jsonb, &claims, &json_utf8, &json_len);
	if (key->key == NULL)
		check_secret_length(key->alg, key->secret_len);

	if (claims.has_iat)
		iat = claims.iat;
	else
		iat = floor(token_now());

	/* The caller's members without the closing brace, then ours. */
	initStringInfo(&payload);
	appendBinaryStringInfo(&payload, json_utf8, (int) json_len - 1);
	need_comma = (root->count > 0);

	if (!claims.has_iat)
		append_date_claim(&payload, &need_comma, "iat", iat);

	if (expires_in != NULL)
	{
		double		seconds;
		double		exp;

		if (claims.has_exp)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("claims already contain \"exp\""),
					 errhint("Pass either an \"exp\" claim or expires_in, not both.")));
		seconds = (double) expires_in->time / USECS_PER_SEC +
			(double) expires_in->day * SECS_PER_DAY +
			(double) expires_in->month * DAYS_PER_MONTH * SECS_PER_DAY;
		if (seconds <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expires_in must be positive")));
		exp = ceil(iat + seconds);
		if (exp > NUMERIC_DATE_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expires_in is too long"),
					 errdetail("The token would expire after the year 9999.")));
		append_date_claim(&payload, &need_comma, "exp", exp);
		check_token_lifetime(exp);
	}
	else if (claims.has_exp)
		check_token_lifetime(claims.exp);

	if (claims.jti == NULL)
		appendStringInfo(&payload, "%s\"jti\":\"%s\"", need_comma ? "," : "",
						 random_base64url(JWT_JTI_BYTES));
	appendStringInfoChar(&payload, '}');

	initStringInfo(&header_json);
	jws_build_header(&header_json, key, header, "JWT");

	return jws_sign_compact(header_json.data, header_json.len,
							payload.data, payload.len, key);
}
