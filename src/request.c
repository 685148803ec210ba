/*
 * request.c
 *		The current request's claims, and cookies, for row-level security
 *		and PostgREST-style APIs.
 *
 * jwt_claims() returns the claims of a token that jwt_pg verified itself,
 * never claims that a setting states, unless a superuser turns on
 * jwt_pg.trust_request_claims.  The token comes, in this order, from
 * jwt_session_set, from the bearer token in PostgREST's request.headers,
 * or from a cookie in request.cookies.
 *
 * jwt_session_set keeps its token in the setting jwt_pg.session_token,
 * which only superusers may set or read, so that parallel workers, which
 * receive the leader's settings, find the same token and verify it too.
 * Within a transaction, a token verified once is kept parsed, so verifying
 * it again costs the expiry check and the revocation lookups only.
 */
#include "jwt_pg.h"

#include <limits.h>
#include <math.h>

#include "access/xact.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "keystore.h"
#include "request.h"

char	   *jwt_session_token = NULL;
char	   *jwt_cookie_name = NULL;
char	   *jwt_refresh_cookie_name = NULL;
char	   *jwt_role_claim = NULL;
bool		jwt_trust_request_claims = false;

void
request_define_settings(void)
{
	DefineCustomStringVariable("jwt_pg.session_token",
							   "Token that jwt_session_set verified for this session or transaction.",
							   "Set by jwt_session_set; only superusers may set or read it.",
							   &jwt_session_token,
							   "",
							   PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY |
							   GUC_DISALLOW_IN_FILE,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("jwt_pg.cookie_name",
							   "Cookie in request.cookies that holds the access token.",
							   "jwt_claims reads it when no bearer token is in request.headers.",
							   &jwt_cookie_name,
							   "access_token",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("jwt_pg.refresh_cookie_name",
							   "Cookie in request.cookies that holds the refresh token.",
							   "jwt_refresh and jwt_refresh_revoke read it when given a NULL refresh token.",
							   &jwt_refresh_cookie_name,
							   "refresh_token",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("jwt_pg.role_claim",
							   "Claim that jwt_role returns.",
							   NULL,
							   &jwt_role_claim,
							   "role",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("jwt_pg.trust_request_claims",
							 "Whether jwt_claims trusts request.jwt.claims when no token is found.",
							 "Any session can set request.jwt.claims, so leave this off unless only a trusted proxy connects.",
							 &jwt_trust_request_claims,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
}

/*
 * The token verified last in this transaction, parsed, with its signature
 * checked.  The result of the checks that can change (time, revocation) is
 * kept for the statement it was found in: within one statement "now" is
 * the same, and a revocation counts from the next statement on.
 */
typedef struct verified_token
{
	char	   *text;
	size_t		len;
	jws_token	token;
	uint64		key_changes;	/* keystore_changes() when the signature was checked */
	LocalTransactionId transaction;	/* the statement of the result below */
	TimestampTz statement_start;
	CommandId	command;
	bool		valid;
	token_failure failure;
	char	   *detail;
} verified_token;

static verified_token *verified = NULL;

/* Holds verified, under TopTransactionContext; reset for each new token. */
static MemoryContext verified_context = NULL;
static bool callback_registered = false;

/* The transaction's memory goes at its end, and the pointers with it. */
static void
forget_verified(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		verified = NULL;
		verified_context = NULL;
	}
}

static bool
same_statement(const verified_token *entry)
{
	return entry->transaction == MyProc->lxid &&
		entry->statement_start == GetCurrentStatementStartTimestamp() &&
		entry->command == GetCurrentCommandId(false);
}

/* Check time and revocation, and keep the result for this statement. */
static bool
check_for_statement(verified_token *entry, const verify_options *options)
{
	jws_token	work = entry->token;
	bool		valid = token_check_claims(&work, options, token_now()) &&
		token_check_revoked(&work);

	entry->transaction = MyProc->lxid;
	entry->statement_start = GetCurrentStatementStartTimestamp();
	entry->command = GetCurrentCommandId(false);
	entry->valid = valid;
	entry->failure = work.failure;
	entry->detail = work.detail ? MemoryContextStrdup(verified_context, work.detail) : NULL;
	return valid;
}

bool
verify_with_store_defaults(const char *text, size_t len, jws_token *result)
{
	verify_options options;
	MemoryContext old;
	verified_token *entry;

	memset(&options, 0, sizeof(options));
	for (int i = 0; i < JWT_ALG_COUNT; i++)
		options.allowed[i] = true;
	options.leeway = jwt_leeway_seconds;

	/* The same token again in the same statement gets the same result. */
	entry = verified;
	if (entry != NULL && entry->len == len && same_statement(entry) &&
		memcmp(entry->text, text, len) == 0)
	{
		*result = entry->token;
		result->failure = entry->failure;
		result->detail = entry->detail;
		return entry->valid;
	}

	/* A key retired since the signature was checked counts as well. */
	if (entry == NULL || entry->len != len || memcmp(entry->text, text, len) != 0 ||
		entry->key_changes != keystore_changes())
	{
		if (!callback_registered)
		{
			RegisterXactCallback(forget_verified, NULL);
			callback_registered = true;
		}
		verified = NULL;
		if (verified_context == NULL)
			verified_context = AllocSetContextCreate(TopTransactionContext,
													 "jwt_pg verified token",
													 ALLOCSET_SMALL_SIZES);
		else
			MemoryContextReset(verified_context);
		old = MemoryContextSwitchTo(verified_context);
		entry = palloc0(sizeof(verified_token));
		entry->text = pnstrdup(text, len);
		entry->len = len;
		entry->key_changes = keystore_changes();
		if (!token_decode(&entry->token, entry->text, len) ||
			!token_read_header(&entry->token) ||
			!token_check_alg(&entry->token, &options) ||
			!token_check_signature_store(&entry->token) ||
			!token_read_claims(&entry->token))
		{
			MemoryContextSwitchTo(old);
			*result = entry->token;
			return false;
		}
		MemoryContextSwitchTo(old);
		verified = entry;
	}
	check_for_statement(entry, &options);

	*result = entry->token;
	result->failure = entry->failure;
	result->detail = entry->detail;
	return entry->valid;
}

/* Verify a request's token as verify_with_store_defaults does, or raise. */
static const jws_token *
verify_request_token(const char *text, size_t len)
{
	jws_token	token;

	if (!verify_with_store_defaults(text, len, &token))
		token_raise(&token);
	return &verified->token;
}

/* A setting's value, or NULL when it is unset or empty. */
static const char *
setting(const char *name)
{
	const char *value = GetConfigOption(name, true, false);

	return (value != NULL && value[0] != '\0') ? value : NULL;
}

/* Parse a setting that PostgREST fills with a JSON object. */
static json_node *
setting_object(const char *name, const char *value)
{
	json_parse_result result;
	size_t		len;
	const char *utf8 = server_to_utf8(value, strlen(value), &len);
	json_node  *root = parse_json_or_null(utf8, len, &result);

	if (root == NULL || root->kind != JSON_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("setting \"%s\" is not a JSON object", name),
				 errdetail("PostgREST sets it to an object of names and values.")));
	return root;
}

/* The token of an "Authorization: Bearer ..." header, or NULL. */
static const char *
bearer_token(size_t *len)
{
	const char *value = setting("request.headers");
	json_node  *headers;

	if (value == NULL)
		return NULL;
	headers = setting_object("request.headers", value);
	for (const json_node *h = headers->first_child; h; h = h->next)
	{
		const char *text = h->text;
		size_t		n = h->text_len;

		/* Header names are case-insensitive, and so is the scheme. */
		if (h->key_len != 13 || pg_strncasecmp(h->key, "authorization", 13) != 0 ||
			h->kind != JSON_STRING)
			continue;
		if (n < 7 || pg_strncasecmp(text, "bearer ", 7) != 0)
			return NULL;
		text += 7;
		n -= 7;
		while (n > 0 && *text == ' ')
			text++, n--;
		while (n > 0 && text[n - 1] == ' ')
			n--;
		*len = n;
		return n > 0 ? text : NULL;
	}
	return NULL;
}

/* The value of a cookie in PostgREST's request.cookies, or NULL. */
static const char *
request_cookie(const char *name, size_t *len)
{
	const char *value = setting("request.cookies");
	const json_node *cookie;

	if (value == NULL || name == NULL || name[0] == '\0')
		return NULL;
	cookie = json_object_get(setting_object("request.cookies", value), name);
	if (cookie == NULL || cookie->kind != JSON_STRING || cookie->text_len == 0)
		return NULL;
	*len = cookie->text_len;
	return cookie->text;
}

const char *
request_refresh_cookie(size_t *len)
{
	return request_cookie(jwt_refresh_cookie_name, len);
}

/*
 * The current request's verified token, or NULL when there is none.  When
 * jwt_pg.trust_request_claims is on and no token is found, *trusted is
 * set to the claims of request.jwt.claims.
 */
static const jws_token *
request_token(Jsonb **trusted)
{
	const char *text = NULL;
	size_t		len = 0;
	const char *claims;

	*trusted = NULL;
	if (jwt_session_token != NULL && jwt_session_token[0] != '\0')
	{
		text = jwt_session_token;
		len = strlen(text);
	}
	if (text == NULL)
		text = bearer_token(&len);
	if (text == NULL)
		text = request_cookie(jwt_cookie_name, &len);
	if (text != NULL)
		return verify_request_token(text, len);

	claims = jwt_trust_request_claims ? setting("request.jwt.claims") : NULL;
	if (claims != NULL)
		*trusted = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));
	return NULL;
}

/* jwt_session_set(token text, local boolean) RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_session_set);
Datum
jwt_session_set(PG_FUNCTION_ARGS)
{
	bool		local = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);
	text	   *token;
	const jws_token *verified_token;

	if (PG_ARGISNULL(0))
	{
		/* A NULL token ends the request's identity. */
		(void) set_config_option("jwt_pg.session_token", "", PGC_SUSET, PGC_S_SESSION,
								 local ? GUC_ACTION_LOCAL : GUC_ACTION_SET, true, 0, false);
		PG_RETURN_NULL();
	}
	token = PG_GETARG_TEXT_PP(0);
	verified_token = verify_request_token(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token));
	(void) set_config_option("jwt_pg.session_token", text_to_cstring(token), PGC_SUSET,
							 PGC_S_SESSION, local ? GUC_ACTION_LOCAL : GUC_ACTION_SET,
							 true, 0, false);
	PG_RETURN_JSONB_P(json_node_to_jsonb(verified_token->claims_root));
}

/* jwt_claims() RETURNS jsonb */
PG_FUNCTION_INFO_V1(jwt_request_claims);
Datum
jwt_request_claims(PG_FUNCTION_ARGS)
{
	Jsonb	   *trusted;
	const jws_token *token = request_token(&trusted);

	if (token != NULL)
		PG_RETURN_JSONB_P(json_node_to_jsonb(token->claims_root));
	if (trusted != NULL)
		PG_RETURN_JSONB_P(trusted);
	PG_RETURN_NULL();
}

/* A claim of trusted request.jwt.claims as text, as ->> gives it. */
static Datum
trusted_claim_text(Jsonb *claims, const char *name, bool *isnull)
{
	JsonbValue *value;

	if (!JB_ROOT_IS_OBJECT(claims) || JB_ROOT_IS_SCALAR(claims))
		return (Datum) 0;
	value = getKeyJsonValueFromContainer(&claims->root, name, strlen(name), NULL);
	if (value == NULL || value->type == jbvNull)
		return (Datum) 0;
	*isnull = false;
	if (value->type == jbvString)
		return PointerGetDatum(cstring_to_text_with_len(value->val.string.val,
														value->val.string.len));
	return CStringGetTextDatum(JsonbToCString(NULL, &JsonbValueToJsonb(value)->root,
											  VARSIZE(claims)));
}

/* One claim as text: a string as it is, anything else as JSON text. */
static Datum
claim_text(const char *name, bool *isnull)
{
	Jsonb	   *trusted;
	const jws_token *token = request_token(&trusted);
	const json_node *claim;
	StringInfoData buf;

	*isnull = true;
	if (token == NULL)
		return trusted == NULL ? (Datum) 0 : trusted_claim_text(trusted, name, isnull);

	claim = json_object_get(token->claims_root, name);
	if (claim == NULL || claim->kind == JSON_NULL)
		return (Datum) 0;
	*isnull = false;
	if (claim->kind == JSON_STRING)
		return utf8_text_datum(claim->text, claim->text_len);
	initStringInfo(&buf);
	append_json_node(&buf, claim);
	return utf8_text_datum(buf.data, buf.len);
}

/* jwt_claim(name text) RETURNS text */
PG_FUNCTION_INFO_V1(jwt_request_claim);
Datum
jwt_request_claim(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		value;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	value = claim_text(text_to_cstring(PG_GETARG_TEXT_PP(0)), &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(value);
}

/* jwt_role() RETURNS text */
PG_FUNCTION_INFO_V1(jwt_request_role);
Datum
jwt_request_role(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		value = claim_text(jwt_role_claim, &isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(value);
}

/* RFC 6265 section 4.1.1: a cookie name is an RFC 2616 token. */
static bool
is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7F && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

/* RFC 6265 section 4.1.1: cookie-octet, no space, quote, comma, semicolon or backslash. */
static bool
is_cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
		(c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static void
check_cookie_part(const char *what, const char *s, bool (*allowed) (unsigned char),
				  bool empty_ok)
{
	size_t		len = strlen(s);

	if (len == 0 && !empty_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cookie %s must not be empty", what)));
	for (size_t i = 0; i < len; i++)
		if (!allowed((unsigned char) s[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cookie %s contains a character a cookie may not hold", what),
					 errdetail("Byte %zu is 0x%02X; RFC 6265 section 4.1.1 does not allow it there.",
							   i + 1, (unsigned char) s[i]),
					 allowed == is_cookie_octet
					 ? errhint("Encode the value, with base64url for instance.") : 0));
}

/* A path attribute: any printable character but a semicolon. */
static bool
is_path_char(unsigned char c)
{
	return c >= 0x20 && c < 0x7F && c != ';';
}

/*
 * Build a Set-Cookie value from the arguments of jwt_cookie and
 * jwt_set_cookie: (name, value, max_age, path, same_site, secure, http_only).
 */
static char *
build_cookie(FunctionCallInfo fcinfo)
{
	static const char *const same_sites[] = {"Strict", "Lax", "None"};
	const char *same_site = NULL;
	char	   *name;
	char	   *value;
	char	   *path;
	char	   *requested;
	Interval   *max_age;
	double		seconds;
	bool		secure;
	bool		http_only;
	StringInfoData out;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", (const char *[]) {"name", "value", "max_age"}[i])));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	value = text_to_cstring(PG_GETARG_TEXT_PP(1));
	max_age = PG_GETARG_INTERVAL_P(2);

	/* A NULL option means its default, as the SQL declaration gives it. */
	path = PG_ARGISNULL(3) ? "/" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	requested = PG_ARGISNULL(4) ? "Strict" : text_to_cstring(PG_GETARG_TEXT_PP(4));
	secure = PG_ARGISNULL(5) ? true : PG_GETARG_BOOL(5);
	http_only = PG_ARGISNULL(6) ? true : PG_GETARG_BOOL(6);

	check_cookie_part("name", name, is_token_char, false);
	check_cookie_part("value", value, is_cookie_octet, true);
	check_cookie_part("path", path, is_path_char, false);
	for (int i = 0; i < lengthof(same_sites); i++)
		if (pg_strcasecmp(requested, same_sites[i]) == 0)
			same_site = same_sites[i];
	if (same_site == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid same_site \"%s\"", printable_excerpt(requested, strlen(requested))),
				 errhint("Use Strict, Lax or None.")));
	if (strcmp(same_site, "None") == 0 && !secure)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("same_site None requires secure"),
				 errdetail("Browsers drop a SameSite=None cookie that is not Secure.")));

	seconds = (double) max_age->time / USECS_PER_SEC + (double) max_age->day * SECS_PER_DAY +
		(double) max_age->month * DAYS_PER_MONTH * SECS_PER_DAY;
	if (seconds < 0 || seconds > (double) INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_age must be between 0 and %d seconds", INT_MAX),
				 errhint("A max_age of 0 deletes the cookie.")));

	initStringInfo(&out);
	appendStringInfo(&out, "%s=%s; Max-Age=%.0f; Path=%s; SameSite=%s", name, value,
					 floor(seconds), path, same_site);
	if (secure)
		appendStringInfoString(&out, "; Secure");
	if (http_only)
		appendStringInfoString(&out, "; HttpOnly");
	return out.data;
}

/* jwt_cookie(name, value, max_age, path, same_site, secure, http_only) RETURNS text */
PG_FUNCTION_INFO_V1(jwt_cookie);
Datum
jwt_cookie(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(build_cookie(fcinfo)));
}

/*
 * jwt_set_cookie(...) RETURNS void: append the cookie to PostgREST's
 * response.headers, a JSON array of single-member objects, for the rest of
 * the transaction.
 */
PG_FUNCTION_INFO_V1(jwt_set_cookie);
Datum
jwt_set_cookie(PG_FUNCTION_ARGS)
{
	char	   *cookie = build_cookie(fcinfo);
	const char *current = setting("response.headers");
	StringInfoData headers;
	json_parse_result result;
	size_t		len;

	initStringInfo(&headers);
	if (current == NULL)
		appendStringInfoChar(&headers, '[');
	else
	{
		const char *utf8 = server_to_utf8(current, strlen(current), &len);
		json_node  *root = parse_json_or_null(utf8, len, &result);

		if (root == NULL || root->kind != JSON_ARRAY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("setting \"response.headers\" is not a JSON array"),
					 errdetail("PostgREST reads it as an array of objects of one header each.")));
		append_json_node(&headers, root);
		headers.len--;			/* drop the closing bracket */
		if (root->count > 0)
			appendStringInfoChar(&headers, ',');
	}
	appendStringInfoString(&headers, "{\"Set-Cookie\":");
	append_json_string(&headers, cookie, strlen(cookie));
	appendStringInfoString(&headers, "}]");

	(void) set_config_option("response.headers",
							 utf8_to_server(headers.data, headers.len, &len),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	PG_RETURN_VOID();
}
