/*
 * jwt_pg.c
 *		SQL-callable functions and settings of jwt_pg.
 *
 * Functions taking a secret are declared twice in SQL, with secret text and
 * secret bytea; both are varlena, so one C function serves each pair.
 *
 * NULL arguments: a NULL token, payload or claims gives a NULL result
 * (false from jwt_valid).  A NULL secret, algorithm or subject, and a NULL
 * token for jwt_blacklist, raise 22004.  A NULL option means its default.
 */
#include "jwt_pg.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "keystore.h"
#include "request.h"
#include "state.h"

PG_MODULE_MAGIC;

int			jwt_leeway_seconds = 0;
int			jwt_max_token_bytes = 65536;
int			jwt_max_json_depth = 32;
int			jwt_max_json_members = 1000;
char	   *jwt_default_algorithm = NULL;
int			jwt_refresh_reuse_interval = 0;
int			jwt_max_access_ttl = 86400;

void		_PG_init(void);

static bool
check_default_algorithm(char **newval, void **extra, GucSource source)
{
	jwt_alg		alg;

	if (*newval != NULL && jwt_alg_from_name(*newval, strlen(*newval), &alg))
		return true;
	GUC_check_errdetail("Supported algorithms are HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA; names are case-sensitive.");
	return false;
}

void
_PG_init(void)
{
	DefineCustomIntVariable("jwt_pg.leeway",
							"Clock skew tolerated when checking exp, nbf and iat.",
							"Used when jwt_verify is called without a leeway argument.",
							&jwt_leeway_seconds,
							0, 0, JWT_MAX_LEEWAY_SECONDS,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("jwt_pg.max_token_bytes",
							"Largest token accepted or created, in bytes.",
							"Longer tokens are rejected before any decoding.",
							&jwt_max_token_bytes,
							65536, 256, 16 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("jwt_pg.max_json_depth",
							"Deepest nesting of arrays and objects in a token's header or claims.",
							NULL,
							&jwt_max_json_depth,
							32, 1, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("jwt_pg.max_json_members",
							"Most members that any one object in a token's header or claims may have.",
							NULL,
							&jwt_max_json_members,
							1000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("jwt_pg.default_algorithm",
							   "Algorithm that signs when neither a secret nor an algorithm is given.",
							   "jwt_create and jwt_refresh then sign with the newest active key of this algorithm in the key store.",
							   &jwt_default_algorithm,
							   "HS256",
							   PGC_SUSET, 0,
							   check_default_algorithm, NULL, NULL);

	DefineCustomIntVariable("jwt_pg.refresh_reuse_interval",
							"Time after a rotation in which the rotated refresh token may be presented again.",
							"Within it, jwt_refresh returns the same successor again instead of revoking the session, for clients that refresh twice at once.",
							&jwt_refresh_reuse_interval,
							0, 0, JWT_MAX_REUSE_INTERVAL_SECONDS,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("jwt_pg.max_access_ttl",
							"Longest lifetime of an access token that jwt_create and jwt_refresh sign.",
							"jwt_purge keeps subject revocations this long, so that no token outlives them.",
							&jwt_max_access_ttl,
							86400, 1, JWT_MAX_ACCESS_TTL_LIMIT,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	request_define_settings();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("jwt_pg");
#else
	EmitWarningsOnPlaceholders("jwt_pg");
#endif
}

static const unsigned char *secret_bytes(FunctionCallInfo fcinfo, int argno, size_t *len);

static void
require_argument(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/* The UTF-8 bytes of a text value, converted from the database encoding. */
const char *
text_to_utf8(text *value, size_t *len)
{
	return server_to_utf8(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), len);
}

/*
 * True when bytes look like a public key: PEM, or a JSON object with "kty"
 * (a JWK) or "keys" (a JWK Set).  Public keys are public, so an HMAC keyed
 * with one is a MAC that anyone can compute.
 */
static bool
looks_like_public_key(const char *s, size_t len)
{
	size_t		i = 0;
	json_parse_result result;
	json_node  *root;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	if (len - i >= 10 && crypto_equal(s + i, "-----BEGIN", 10))
		return true;
	if (i == len || s[i] != '{')
		return false;
	root = parse_json_or_null(s + i, len - i, &result);
	return root != NULL &&
		(json_object_get(root, "kty") != NULL || json_object_get(root, "keys") != NULL);
}

/*
 * A secret argument as bytes: a bytea as it is, a text as UTF-8, so that a
 * text secret means the same key in any database and in other libraries.
 * A public key is refused: a JWK Set passed as text, for one, would
 * otherwise become the secret of an HMAC that anyone can forge.
 */
static const unsigned char *
secret_argument(FunctionCallInfo fcinfo, int argno, size_t *len)
{
	const unsigned char *bytes = secret_bytes(fcinfo, argno, len);

	if (looks_like_public_key((const char *) bytes, *len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret is a public key"),
				 errdetail("It is a PEM key, a JWK or a JWK Set; public keys never act as HMAC secrets."),
				 errhint("Pass a JWK Set as jsonb to verify tokens signed with a private key.")));
	return bytes;
}

/* A secret argument's bytes, before any check of what they contain. */
static const unsigned char *
secret_bytes(FunctionCallInfo fcinfo, int argno, size_t *len)
{
	struct varlena *secret;

	require_argument(fcinfo, argno, "secret");
	secret = PG_GETARG_VARLENA_PP(argno);

	/*
	 * NOTE: a call without an expression tree (from C, not SQL) cannot tell
	 * text from bytea, and uses a text secret's bytes unconverted.
	 */
	if (get_fn_expr_argtype(fcinfo->flinfo, argno) == TEXTOID)
		return (const unsigned char *) text_to_utf8((text *) secret, len);
	*len = VARSIZE_ANY_EXHDR(secret);
	return (const unsigned char *) VARDATA_ANY(secret);
}

/*
 * The key of a signing call, from arguments secret_argno (secret) and
 * secret_argno + 1 (algorithm).  With a secret, the algorithm is an HMAC
 * one, HS256 by default.  Without, the key store signs, with the algorithm
 * given or jwt_pg.default_algorithm, and the header's kid, when the caller
 * sets one, chooses the key.
 */
static void
signing_key_argument(FunctionCallInfo fcinfo, int secret_argno, Jsonb *header,
					 signing_key *key)
{
	int			alg_argno = secret_argno + 1;
	const stored_key *stored;
	const char *kid = NULL;
	size_t		kid_len = 0;

	memset(key, 0, sizeof(*key));
	if (!PG_ARGISNULL(secret_argno))
	{
		key->secret = secret_argument(fcinfo, secret_argno, &key->secret_len);
		key->alg = PG_ARGISNULL(alg_argno) ? JWT_ALG_HS256 :
			signing_algorithm_from_text(PG_GETARG_TEXT_PP(alg_argno));
		check_secret_length(key->alg, key->secret_len);
		return;
	}

	if (PG_ARGISNULL(alg_argno))
		(void) jwt_alg_from_name(jwt_default_algorithm, strlen(jwt_default_algorithm), &key->alg);
	else
		key->alg = algorithm_from_text(PG_GETARG_TEXT_PP(alg_argno));

	if (header != NULL && JB_ROOT_IS_OBJECT(header) && !JB_ROOT_IS_SCALAR(header))
	{
		JsonbValue *member = getKeyJsonValueFromContainer(&header->root, "kid", 3, NULL);

		if (member != NULL && member->type == jbvString)
			kid = server_to_utf8(member->val.string.val, member->val.string.len, &kid_len);
		else if (member != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("header member \"kid\" must be a string")));
	}

	stored = keystore_signing_key(key->alg, PG_ARGISNULL(alg_argno), kid, kid_len);
	key->secret = stored->secret;
	key->secret_len = stored->secret_len;
	key->key = stored->key;
	key->kid = stored->kid;
	key->kid_len = stored->kid_len;
}

/* Seconds in an interval, counting a month as 30 days. */
static double
interval_seconds(const Interval *interval)
{
	return (double) interval->time / USECS_PER_SEC +
		(double) interval->day * SECS_PER_DAY +
		(double) interval->month * DAYS_PER_MONTH * SECS_PER_DAY;
}

/*
 * Mark the algorithms of a text[] argument in listed[], or all of them for
 * NULL.  Returns whether the argument was NULL.
 */
static bool
read_algorithm_list(FunctionCallInfo fcinfo, int argno, bool *listed)
{
	ArrayType  *array;
	Datum	   *names;
	bool	   *nulls;
	int			count;

	if (PG_ARGISNULL(argno))
	{
		for (int i = 0; i < JWT_ALG_COUNT; i++)
			listed[i] = true;
		return true;
	}

	array = PG_GETARG_ARRAYTYPE_P(argno);
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &count);
	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithms must not be empty"),
				 errhint("Pass NULL for the default list.")));
	for (int i = 0; i < count; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("algorithms must not contain NULL")));
		listed[algorithm_from_text(DatumGetTextPP(names[i]))] = true;
	}
	return false;
}

/*
 * The allowed algorithms for verifying with a secret: the HMAC algorithms
 * in a text[] argument, or all of them for NULL, less those that the secret
 * is too short for.  When none is left, the secret is a bad argument.  This
 * depends on the arguments only, so a token's header can make jwt_valid
 * return false but never raise.
 */
static void
read_algorithms(FunctionCallInfo fcinfo, int argno, size_t key_len,
				verify_options *options)
{
	bool		listed[JWT_ALG_COUNT] = {false};
	bool		any = false;

	(void) read_algorithm_list(fcinfo, argno, listed);

	for (int i = 0; i < JWT_ALG_COUNT; i++)
	{
		if (!listed[i] || jwt_alg_is_hmac((jwt_alg) i))
			continue;
		if (!PG_ARGISNULL(argno))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s tokens cannot be verified with a secret", jwt_alg_name((jwt_alg) i)),
					 errhint("Pass a JWK Set (jsonb) with the public key in place of the secret.")));
		listed[i] = false;
	}

	for (int i = 0; i < JWT_ALG_COUNT; i++)
	{
		options->allowed[i] = listed[i] && key_len >= jwt_alg_mac_len((jwt_alg) i);
		any |= options->allowed[i];
	}
	if (any)
		return;

	/* Name the listed algorithm that needs the shortest secret. */
	for (int i = 0; i < JWT_ALG_COUNT; i++)
		if (listed[i])
			check_secret_length((jwt_alg) i, key_len);
}

/*
 * The allowed algorithms for verifying with a JWK Set: those listed, or for
 * NULL the asymmetric ones.  HMAC keys from a set are used only when an
 * HS algorithm is listed explicitly.
 */
static void
read_jwks_algorithms(FunctionCallInfo fcinfo, int argno, verify_options *options)
{
	bool		listed[JWT_ALG_COUNT] = {false};
	bool		all = read_algorithm_list(fcinfo, argno, listed);

	for (int i = 0; i < JWT_ALG_COUNT; i++)
		options->allowed[i] = listed[i] && !(all && jwt_alg_is_hmac((jwt_alg) i));
}

/* A JWK Set argument, parsed; raises unless it is an object with "keys". */
static json_node *
jwks_argument(FunctionCallInfo fcinfo, int argno)
{
	Jsonb	   *jwks;
	StringInfoData buf;
	json_parse_result result;
	json_node  *root;
	const json_node *keys;
	size_t		len;
	const char *json;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("jwks must not be NULL")));
	jwks = PG_GETARG_JSONB_P(argno);

	initStringInfo(&buf);
	jsonb_to_compact_json(&buf, jwks);
	json = server_to_utf8(buf.data, buf.len, &len);
	root = parse_json_or_null(json, len, &result);
	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("jwks cannot be read"),
				 errdetail("The JWK Set is not acceptable JSON: %s.", json_error_text(result.error)),
				 errhint("jwt_pg.max_json_depth and jwt_pg.max_json_members apply to JWK Sets too.")));
	keys = json_object_get(root, "keys");
	if (keys == NULL || keys->kind != JSON_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("jwks must be a JWK Set"),
				 errdetail("A JWK Set is a JSON object with a \"keys\" array (RFC 7517 section 5).")));
	return root;
}

static double
leeway_argument(FunctionCallInfo fcinfo, int argno)
{
	double		seconds;

	if (PG_ARGISNULL(argno))
		return jwt_leeway_seconds;

	seconds = interval_seconds(PG_GETARG_INTERVAL_P(argno));
	if (seconds < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("leeway must not be negative")));
	if (seconds > JWT_MAX_LEEWAY_SECONDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("leeway must be at most 5 minutes"),
				 errdetail("A longer leeway would let expired tokens pass.")));
	return seconds;
}

static void
optional_text(FunctionCallInfo fcinfo, int argno, const char **value, size_t *len)
{
	*value = NULL;
	*len = 0;
	if (!PG_ARGISNULL(argno))
		*value = text_to_utf8(PG_GETARG_TEXT_PP(argno), len);
}

/*
 * The key a verifying call checks signatures with: a secret (text or bytea)
 * or a JWK Set (jsonb), with the algorithms allowed for it.
 */
typedef struct signature_key
{
	const unsigned char *secret;	/* NULL for a JWK Set or the key store */
	size_t		secret_len;
	json_node  *jwks;			/* NULL unless a JWK Set is given */
} signature_key;

/*
 * Read arguments 1 (secret or jwks) and 2 (algorithms).  A NULL secret
 * means the key store, whose keys carry their algorithm: any listed
 * algorithm, or any at all, is allowed.
 */
static void
read_signature_key(FunctionCallInfo fcinfo, bool with_jwks, signature_key *key,
				   verify_options *options)
{
	memset(key, 0, sizeof(*key));
	if (with_jwks)
	{
		key->jwks = jwks_argument(fcinfo, 1);
		read_jwks_algorithms(fcinfo, 2, options);
	}
	else if (PG_ARGISNULL(1))
		(void) read_algorithm_list(fcinfo, 2, options->allowed);
	else
	{
		key->secret = secret_argument(fcinfo, 1, &key->secret_len);
		read_algorithms(fcinfo, 2, key->secret_len, options);
	}
}

/* Decode a JWS and check its header, algorithm and signature. */
static bool
verify_signature(text *token_text, const signature_key *key,
				 const verify_options *options, jws_token *token)
{
	if (!token_decode(token, VARDATA_ANY(token_text), VARSIZE_ANY_EXHDR(token_text)) ||
		!token_read_header(token) ||
		!token_check_alg(token, options))
		return false;
	if (key->jwks != NULL)
		return token_check_signature_jwks(token, key->jwks);
	if (key->secret == NULL)
		return token_check_signature_store(token);
	return token_check_signature(token, key->secret, key->secret_len);
}

/*
 * Verify a JWT with the arguments of jwt_verify and jwt_valid:
 * (token, secret or jwks, algorithms, audience, issuer, leeway).  Bad
 * arguments raise; a bad token returns false with the reason in *token.
 */
static bool
verify_jwt_arguments(FunctionCallInfo fcinfo, bool with_jwks, jws_token *token)
{
	signature_key key;
	verify_options options;

	/*
	 * The key store with every option at its default, as a policy calls it
	 * for each row: the same token gets its result from the cache.
	 */
	if (!with_jwks && PG_ARGISNULL(1) && PG_ARGISNULL(2) && PG_ARGISNULL(3) &&
		PG_ARGISNULL(4) && PG_ARGISNULL(5))
	{
		text	   *token_text = PG_GETARG_TEXT_PP(0);

		return verify_with_store_defaults(VARDATA_ANY(token_text),
										  VARSIZE_ANY_EXHDR(token_text), token);
	}

	memset(&options, 0, sizeof(options));
	read_signature_key(fcinfo, with_jwks, &key, &options);
	optional_text(fcinfo, 3, &options.audience, &options.audience_len);
	optional_text(fcinfo, 4, &options.issuer, &options.issuer_len);
	options.leeway = leeway_argument(fcinfo, 5);

	return verify_signature(PG_GETARG_TEXT_PP(0), &key, &options, token) &&
		token_read_claims(token) &&
		token_check_claims(token, &options, token_now()) &&
		token_check_revoked(token);
}

/* Return jwt_verify's result: the claims, or NULL for a NULL token. */
static Datum
jwt_verify_result(FunctionCallInfo fcinfo, bool with_jwks)
{
	jws_token	token;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (!verify_jwt_arguments(fcinfo, with_jwks, &token))
		token_raise(&token);
	PG_RETURN_JSONB_P(json_node_to_jsonb(token.claims_root));
}

/* Return jwt_valid's result: false for any token problem or a NULL token. */
static Datum
jwt_valid_result(FunctionCallInfo fcinfo, bool with_jwks)
{
	jws_token	token;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(verify_jwt_arguments(fcinfo, with_jwks, &token));
}

/* Return jws_verify's result: the payload, or NULL for a NULL token. */
static Datum
jws_verify_result(FunctionCallInfo fcinfo, bool with_jwks)
{
	signature_key key;
	verify_options options;
	jws_token	token;
	bytea	   *payload;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	memset(&options, 0, sizeof(options));
	read_signature_key(fcinfo, with_jwks, &key, &options);
	if (!verify_signature(PG_GETARG_TEXT_PP(0), &key, &options, &token))
		token_raise(&token);

	payload = palloc(VARHDRSZ + token.payload_len);
	SET_VARSIZE(payload, VARHDRSZ + token.payload_len);
	memcpy(VARDATA(payload), token.payload, token.payload_len);
	PG_RETURN_BYTEA_P(payload);
}

/* jwt_verify(token text, jwks jsonb, algorithms text[], audience text, issuer text, leeway interval) */
PG_FUNCTION_INFO_V1(jwt_verify_jwks);
Datum
jwt_verify_jwks(PG_FUNCTION_ARGS)
{
	return jwt_verify_result(fcinfo, true);
}

/* jwt_valid(token text, jwks jsonb, algorithms text[], audience text, issuer text, leeway interval) */
PG_FUNCTION_INFO_V1(jwt_valid_jwks);
Datum
jwt_valid_jwks(PG_FUNCTION_ARGS)
{
	return jwt_valid_result(fcinfo, true);
}

/* jws_verify(token text, jwks jsonb, algorithms text[]) */
PG_FUNCTION_INFO_V1(jws_verify_jwks);
Datum
jws_verify_jwks(PG_FUNCTION_ARGS)
{
	return jws_verify_result(fcinfo, true);
}

/* jwt_create(claims jsonb, secret text|bytea, algorithm text, expires_in interval, header jsonb) */
PG_FUNCTION_INFO_V1(jwt_create);
Datum
jwt_create(PG_FUNCTION_ARGS)
{
	Jsonb	   *header = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	signing_key key;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	signing_key_argument(fcinfo, 1, header, &key);

	PG_RETURN_TEXT_P(cstring_to_text(jwt_sign_claims(PG_GETARG_JSONB_P(0), &key,
													 PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3),
													 header)));
}

/* jwt_verify(token text, secret text|bytea, algorithms text[], audience text, issuer text, leeway interval) */
PG_FUNCTION_INFO_V1(jwt_verify);
Datum
jwt_verify(PG_FUNCTION_ARGS)
{
	return jwt_verify_result(fcinfo, false);
}

/* jwt_valid(token text, secret text|bytea, algorithms text[], audience text, issuer text, leeway interval) */
PG_FUNCTION_INFO_V1(jwt_valid);
Datum
jwt_valid(PG_FUNCTION_ARGS)
{
	return jwt_valid_result(fcinfo, false);
}

/* jws_sign(payload bytea, secret text|bytea, algorithm text, header jsonb) */
PG_FUNCTION_INFO_V1(jws_sign);
Datum
jws_sign(PG_FUNCTION_ARGS)
{
	bytea	   *payload;
	Jsonb	   *header = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	signing_key key;
	StringInfoData header_json;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	payload = PG_GETARG_BYTEA_PP(0);
	signing_key_argument(fcinfo, 1, header, &key);

	/* jws_sign writes the caller's header as given: no kid is added. */
	key.kid = NULL;
	initStringInfo(&header_json);
	jws_build_header(&header_json, &key, header, NULL);
	PG_RETURN_TEXT_P(cstring_to_text(jws_sign_compact(header_json.data, header_json.len,
													  VARDATA_ANY(payload),
													  VARSIZE_ANY_EXHDR(payload),
													  &key)));
}

/* jws_verify(token text, secret text|bytea, algorithms text[]) */
PG_FUNCTION_INFO_V1(jws_verify);
Datum
jws_verify(PG_FUNCTION_ARGS)
{
	return jws_verify_result(fcinfo, false);
}

/* Decode a token without checking its signature, raising 28000 if malformed. */
static void
decode_unverified(text *token_text, jws_token *token)
{
	if (!token_decode(token, VARDATA_ANY(token_text), VARSIZE_ANY_EXHDR(token_text)) ||
		!token_read_header(token) ||
		!token_read_claims(token))
		token_raise(token);
}

/* jwt_decode(token text) RETURNS TABLE(header jsonb, payload jsonb) */
PG_FUNCTION_INFO_V1(jwt_decode);
Datum
jwt_decode(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	desc;
		jws_token	token;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "jwt_decode must return a composite type");
		desc = BlessTupleDesc(desc);

		decode_unverified(PG_GETARG_TEXT_PP(0), &token);
		values[0] = JsonbPGetDatum(json_node_to_jsonb(token.header));
		values[1] = JsonbPGetDatum(json_node_to_jsonb(token.claims_root));
		funcctx->user_fctx = heap_form_tuple(desc, values, nulls);
		MemoryContextSwitchTo(old);
	}

	funcctx = SRF_PERCALL_SETUP();
	if (funcctx->call_cntr == 0)
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum((HeapTuple) funcctx->user_fctx));
	SRF_RETURN_DONE(funcctx);
}

/* jwt_is_expired(token text, leeway interval) */
PG_FUNCTION_INFO_V1(jwt_is_expired);
Datum
jwt_is_expired(PG_FUNCTION_ARGS)
{
	jws_token	token;
	double		leeway;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	leeway = leeway_argument(fcinfo, 1);
	decode_unverified(PG_GETARG_TEXT_PP(0), &token);
	PG_RETURN_BOOL(token.claims.has_exp && token_now() >= token.claims.exp + leeway);
}

/*
 * Check claims to store with a refresh token: they must be claims that
 * jwt_create signs, without those that each access token sets for itself.
 */
static void
check_refresh_claims(Jsonb *claims)
{
	static const char *const reserved[] = {"sub", "iat", "exp", "nbf", "jti"};
	jwt_claims	registered;
	const char *json;
	size_t		json_len;
	json_node  *root = claims_for_signing(claims, &registered, &json, &json_len);

	for (int i = 0; i < lengthof(reserved); i++)
	{
		if (json_object_get(root, reserved[i]) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("refresh claims must not contain \"%s\"", reserved[i]),
					 errdetail("Each access token gets its own sub, iat, exp, nbf and jti.")));
	}
}

static void
check_positive_interval(const Interval *interval, const char *name)
{
	if (interval_seconds(interval) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", name)));
}

/* jwt_refresh_generate(subject text, expires_in interval, claims jsonb) */
PG_FUNCTION_INFO_V1(jwt_refresh_generate);
Datum
jwt_refresh_generate(PG_FUNCTION_ARGS)
{
	Interval   *lifetime;
	Jsonb	   *claims;

	require_argument(fcinfo, 0, "subject");
	require_argument(fcinfo, 1, "expires_in");
	lifetime = PG_GETARG_INTERVAL_P(1);
	check_positive_interval(lifetime, "expires_in");

	/* NULL claims mean the default, none. */
	if (PG_ARGISNULL(2))
		claims = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	else
		claims = PG_GETARG_JSONB_P(2);
	check_refresh_claims(claims);

	PG_RETURN_TEXT_P(cstring_to_text(state_refresh_generate(PG_GETARG_TEXT_PP(0),
															lifetime, claims)));
}

/* jwt_refresh_validate(refresh_token text) */
PG_FUNCTION_INFO_V1(jwt_refresh_validate);
Datum
jwt_refresh_validate(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(state_refresh_valid(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token)));
}

/*
 * Argument 0 of jwt_refresh and jwt_refresh_revoke: the refresh token, or
 * for NULL the one in the cookie named by jwt_pg.refresh_cookie_name.
 * Returns NULL when there is neither.
 */
static const char *
refresh_token_argument(FunctionCallInfo fcinfo, size_t *len)
{
	text	   *token;

	if (PG_ARGISNULL(0))
		return request_refresh_cookie(len);
	token = PG_GETARG_TEXT_PP(0);
	*len = VARSIZE_ANY_EXHDR(token);
	return VARDATA_ANY(token);
}

/* jwt_refresh(refresh_token text, secret text|bytea, algorithm text, expires_in interval) */
PG_FUNCTION_INFO_V1(jwt_refresh);
Datum
jwt_refresh(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	desc;
		const char *presented;
		size_t		presented_len;
		signing_key key;
		Interval   *expires_in;
		Jsonb	   *claims;
		char	   *refresh_token;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "jwt_refresh must return a composite type");
		desc = BlessTupleDesc(desc);

		/* Check every argument before any state changes. */
		presented = refresh_token_argument(fcinfo, &presented_len);
		if (presented == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("refresh token is missing"),
					 errdetail("The argument is NULL, and request.cookies has no cookie \"%s\".",
							   jwt_refresh_cookie_name)));
		signing_key_argument(fcinfo, 1, NULL, &key);
		require_argument(fcinfo, 3, "expires_in");
		expires_in = PG_GETARG_INTERVAL_P(3);
		check_positive_interval(expires_in, "expires_in");
		check_token_lifetime(token_now() + interval_seconds(expires_in));

		refresh_token = state_refresh_rotate(presented, presented_len, &claims);
		values[0] = CStringGetTextDatum(jwt_sign_claims(claims, &key, expires_in, NULL));
		values[1] = CStringGetTextDatum(refresh_token);
		funcctx->user_fctx = heap_form_tuple(desc, values, nulls);
		MemoryContextSwitchTo(old);
	}

	funcctx = SRF_PERCALL_SETUP();
	if (funcctx->call_cntr == 0)
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum((HeapTuple) funcctx->user_fctx));
	SRF_RETURN_DONE(funcctx);
}

/* jwt_refresh_revoke(refresh_token text) RETURNS boolean */
PG_FUNCTION_INFO_V1(jwt_refresh_revoke);
Datum
jwt_refresh_revoke(PG_FUNCTION_ARGS)
{
	size_t		len;
	const char *token = refresh_token_argument(fcinfo, &len);

	PG_RETURN_BOOL(token != NULL && state_refresh_revoke(token, len));
}

/* jwt_blacklist(token text, reason text) */
PG_FUNCTION_INFO_V1(jwt_blacklist);
Datum
jwt_blacklist(PG_FUNCTION_ARGS)
{
	jws_token	token;
	const char *jti;
	size_t		jti_len;
	unsigned char hash[SHA256_LEN];

	require_argument(fcinfo, 0, "token");
	decode_unverified(PG_GETARG_TEXT_PP(0), &token);
	token_blacklist_key(&token, &jti, &jti_len, hash);
	state_blacklist_add(jti, jti_len, hash, token.claims.has_exp, token.claims.exp,
						PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));
	PG_RETURN_VOID();
}

/* jwt_purge() */
PG_FUNCTION_INFO_V1(jwt_purge);
Datum
jwt_purge(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(state_purge());
}
