/*
 * keystore.c
 *		The key store: table jwt_pg.keys, its per-backend cache, and the SQL
 *		functions that add keys.
 *
 * Each row contains a kid, an algorithm, a state, the HMAC secret or the
 * private key (PKCS #8 DER), and for asymmetric keys the public JWK.  A
 * backend reads every key that is not retired once, parses it into an
 * OpenSSL key, and keeps it until a trigger on the table reports a change
 * through a relcache invalidation.  Lookups accept pending invalidations
 * first, so a change committed by another session counts from the next
 * statement on.
 *
 * Secrets and private keys never leave this file except as arguments to
 * crypto.c, and no message names anything but a kid and an algorithm.
 */
#include "jwt_pg.h"

#include "access/heapam.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "jwk.h"
#include "keystore.h"

/* Bytes of random data in the kid of a generated HMAC key. */
#define RANDOM_KID_BYTES 16

typedef struct key_cache
{
	bool		valid;
	Oid			relid;
	MemoryContext context;
	stored_key *keys;			/* newest first */
	int			count;
	int			capacity;
} key_cache;

static key_cache cache;
static bool callback_registered = false;
static uint64 invalidations = 0;

/* Counts the key store changes that reached this backend as invalidations. */
static uint64 key_changes = 0;

static void
forget_keys(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cache.relid)
	{
		cache.valid = false;
		key_changes++;
	}
	invalidations++;
}

/* Free every parsed key and wipe the secrets. */
static void
reset_cache(void)
{
	for (int i = 0; i < cache.count; i++)
	{
		stored_key *key = &cache.keys[i];

		if (key->secret != NULL)
			explicit_bzero((void *) key->secret, key->secret_len);
		crypto_prepared_key_free(key->key);
	}
	cache.count = 0;
	cache.capacity = 0;
	cache.keys = NULL;
	cache.valid = false;
	if (cache.context != NULL)
		MemoryContextReset(cache.context);
	else
		cache.context = AllocSetContextCreate(TopMemoryContext, "jwt_pg key cache",
											  ALLOCSET_SMALL_SIZES);
}

static int
newest_first(const void *a, const void *b)
{
	const stored_key *x = a;
	const stored_key *y = b;
	int			c;

	if (x->created_at != y->created_at)
		return x->created_at > y->created_at ? -1 : 1;
	c = memcmp(x->kid, y->kid, Min(x->kid_len, y->kid_len));
	if (c != 0)
		return c;
	return x->kid_len < y->kid_len ? -1 : (x->kid_len > y->kid_len);
}

static int
column(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
		if (strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
			return i;
	elog(ERROR, "column \"%s\" of jwt_pg.keys is missing", name);
	return -1;
}

/* A text datum's UTF-8 bytes, copied into the cache. */
static const char *
cache_utf8(Datum value, size_t *len)
{
	text	   *t = DatumGetTextPP(value);
	const char *utf8 = server_to_utf8(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), len);
	char	   *copy = MemoryContextAlloc(cache.context, *len + 1);

	memcpy(copy, utf8, *len);
	copy[*len] = '\0';
	return copy;
}

/* The public key of a stored JWK, for keys imported without a private part. */
static crypto_key *
public_key_from_stored_jwk(jwt_alg alg, Jsonb *jwk)
{
	StringInfoData buf;
	json_parse_result result;
	json_node  *root;
	jwk_public_key public_key;
	const char *problem = NULL;
	size_t		len;
	const char *json;

	initStringInfo(&buf);
	jsonb_to_compact_json(&buf, jwk);
	json = server_to_utf8(buf.data, buf.len, &len);
	root = parse_json_or_null(json, len, &result);
	if (root == NULL || !jwk_read(root, palloc_allocator(), &public_key, &problem))
		return NULL;
	return crypto_key_from_jwk(alg, &public_key, NULL, &problem);
}

/*
 * Parse one row into the next cache slot.  A row that cannot be used is
 * skipped with a warning, so that one bad row edited in by hand does not
 * stop every other key from working.
 */
static void
cache_row(HeapTuple tuple, TupleDesc desc, const int *columns)
{
	Datum		values[6];
	bool		nulls[6];
	Datum	   *all_values = palloc(desc->natts * sizeof(Datum));
	bool	   *all_nulls = palloc(desc->natts * sizeof(bool));
	stored_key *key;
	const char *problem = NULL;
	char	   *alg_name;
	char	   *state;

	heap_deform_tuple(tuple, desc, all_values, all_nulls);
	for (int i = 0; i < 6; i++)
	{
		values[i] = all_values[columns[i]];
		nulls[i] = all_nulls[columns[i]];
	}
	/* kid, alg, secret, public_jwk, state, created_at */
	state = TextDatumGetCString(values[4]);
	if (strcmp(state, "retired") == 0)
		return;

	if (cache.count == cache.capacity)
	{
		int			capacity = Max(8, cache.capacity * 2);

		cache.keys = cache.keys == NULL
			? MemoryContextAllocZero(cache.context, capacity * sizeof(stored_key))
			: repalloc(cache.keys, capacity * sizeof(stored_key));
		cache.capacity = capacity;
	}
	key = &cache.keys[cache.count];
	memset(key, 0, sizeof(*key));
	key->kid = cache_utf8(values[0], &key->kid_len);
	alg_name = TextDatumGetCString(values[1]);
	if (!jwt_alg_from_name(alg_name, strlen(alg_name), &key->alg))
	{
		ereport(WARNING,
				(errmsg("key \"%s\" in the key store is skipped", printable_kid(key->kid, key->kid_len)),
				 errdetail("Its algorithm \"%s\" is not supported.", printable_excerpt(alg_name, strlen(alg_name)))));
		return;
	}
	key->active = strcmp(state, "active") == 0;
	key->created_at = DatumGetTimestampTz(values[5]);

	if (jwt_alg_is_hmac(key->alg))
	{
		bytea	   *secret = nulls[2] ? NULL : DatumGetByteaPP(values[2]);
		size_t		len = secret ? VARSIZE_ANY_EXHDR(secret) : 0;

		if (len < jwt_alg_mac_len(key->alg))
			problem = "its secret is missing or shorter than the hash output";
		else
		{
			unsigned char *copy = MemoryContextAlloc(cache.context, len);

			memcpy(copy, VARDATA_ANY(secret), len);
			key->secret = copy;
			key->secret_len = len;
			key->can_sign = true;
		}
		if (secret != NULL && (Pointer) secret != DatumGetPointer(values[2]))
			explicit_bzero(secret, VARSIZE_ANY(secret));
	}
	else
	{
		crypto_key *pair = NULL;

		if (!nulls[2])
		{
			bytea	   *der = DatumGetByteaPP(values[2]);

			pair = crypto_key_from_der((unsigned char *) VARDATA_ANY(der),
									   VARSIZE_ANY_EXHDR(der));
			key->can_sign = true;
			if ((Pointer) der != DatumGetPointer(values[2]))
				explicit_bzero(der, VARSIZE_ANY(der));
			if (pair == NULL)
				problem = "its private key cannot be read";
		}
		else if (!nulls[3])
		{
			pair = public_key_from_stored_jwk(key->alg, DatumGetJsonbP(values[3]));
			if (pair == NULL)
				problem = "its public JWK cannot be read";
		}
		else
			problem = "it has neither a private key nor a public JWK";

		/*
		 * Nothing between here and the slot can raise, so the key cannot
		 * leak: crypto_prepare_key takes it, and reset_cache frees the slot.
		 */
		if (pair != NULL && !crypto_key_fits(key->alg, pair, &problem))
		{
			crypto_key_free(pair);
			pair = NULL;
		}
		if (pair != NULL)
		{
			key->key = crypto_prepare_key(key->alg, pair, key->can_sign);
			if (key->key == NULL)
				problem = "OpenSSL cannot sign or verify with it";
		}
	}

	if (problem != NULL)
	{
		ereport(WARNING,
				(errmsg("key \"%s\" in the key store is skipped", printable_kid(key->kid, key->kid_len)),
				 errdetail("For %s, %s.", jwt_alg_name(key->alg), problem)));
		return;
	}
	cache.count++;
}

/* Read every key that is not retired, unless the cache is still valid. */
static void
load_keys(void)
{
	Relation	rel;
	TableScanDesc scan;
	Snapshot	snapshot;
	HeapTuple	tuple;
	int			columns[6];
	static const char *const names[6] = {"kid", "alg", "secret", "public_jwk", "state", "created_at"};
	MemoryContext scratch;
	MemoryContext old;
	uint64		before;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_keys, (Datum) 0);
		callback_registered = true;
	}

	/* A change committed by another session counts from now on. */
	AcceptInvalidationMessages();
	if (cache.valid)
		return;

	reset_cache();
	cache.relid = state_relation("keys");
	rel = table_open(cache.relid, AccessShareLock);
	before = invalidations;

	/*
	 * The latest snapshot sees every commit whose invalidation was processed
	 * above; a later commit sends an invalidation that resets the cache.
	 * In a parallel operation the snapshot is the query's: a worker, which
	 * ends with the query, keeps what it read, and the leader does not.
	 */
	snapshot = state_snapshot();
	for (int i = 0; i < 6; i++)
		columns[i] = column(RelationGetDescr(rel), names[i]);

	scratch = AllocSetContextCreate(CurrentMemoryContext, "jwt_pg key loading",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	scan = table_beginscan(rel, snapshot, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
		cache_row(tuple, RelationGetDescr(rel), columns);
	table_endscan(scan);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);

	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	if (cache.count > 1)
		qsort(cache.keys, cache.count, sizeof(stored_key), newest_first);
	cache.valid = (before == invalidations) && (IsParallelWorker() || !IsInParallelMode());
}

uint64
keystore_changes(void)
{
	load_keys();
	return key_changes;
}

const stored_key *
keystore_find(const char *kid, size_t kid_len)
{
	load_keys();
	for (int i = 0; i < cache.count; i++)
	{
		const stored_key *key = &cache.keys[i];

		if (key->kid_len == kid_len && memcmp(key->kid, kid, kid_len) == 0)
			return key;
	}
	return NULL;
}

size_t
keystore_keys_for(jwt_alg alg, const stored_key **keys, size_t max)
{
	size_t		count = 0;

	load_keys();
	for (int i = 0; i < cache.count; i++)
	{
		if (cache.keys[i].alg != alg)
			continue;
		if (count < max)
			keys[count] = &cache.keys[i];
		count++;
	}
	return count;
}

/*
 * Raise unless the current user has EXECUTE on
 * jwt_pg.sign_with_stored_keys().  The function is found without a name
 * lookup, which would require USAGE on schema jwt_pg.
 */
static void
check_signing_privilege(void)
{
	Oid			namespace_id = get_namespace_oid(JWT_STATE_SCHEMA, true);
	Oid			function = InvalidOid;
	AclResult	result = ACLCHECK_NO_PRIV;

	if (OidIsValid(namespace_id))
		function = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
								   CStringGetDatum("sign_with_stored_keys"),
								   PointerGetDatum(buildoidvector(NULL, 0)),
								   ObjectIdGetDatum(namespace_id));
	if (OidIsValid(function))
#if PG_VERSION_NUM >= 160000
		result = object_aclcheck(ProcedureRelationId, function, GetUserId(), ACL_EXECUTE);
#else
		result = pg_proc_aclcheck(function, GetUserId(), ACL_EXECUTE);
#endif
	if (result != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to sign with the key store"),
				 errdetail("Signing without a secret uses the stored keys, which role \"%s\" may not use.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("GRANT EXECUTE ON FUNCTION jwt_pg.sign_with_stored_keys() TO the role, or call from a SECURITY DEFINER function.")));
}

const stored_key *
keystore_signing_key(jwt_alg alg, bool defaulted, const char *kid, size_t kid_len)
{
	const stored_key *key = NULL;

	check_signing_privilege();
	if (kid != NULL)
	{
		key = keystore_find(kid, kid_len);
		if (key == NULL || key->alg != alg || !key->active || !key->can_sign)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no active %s key \"%s\" in the key store",
							jwt_alg_name(alg), printable_kid(kid, kid_len)),
					 key == NULL ? errdetail("No key that is not retired has this kid.") :
					 key->alg != alg ? errdetail("The key is for %s.", jwt_alg_name(key->alg)) :
					 !key->can_sign ? errdetail("Only the key's public part is stored.") :
					 errdetail("The key is verify_only.")));
		return key;
	}

	load_keys();
	for (int i = 0; i < cache.count && key == NULL; i++)
		if (cache.keys[i].alg == alg && cache.keys[i].active && cache.keys[i].can_sign)
			key = &cache.keys[i];
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no active %s key in the key store", jwt_alg_name(alg)),
				 defaulted ? errdetail("No algorithm was given, so jwt_pg.default_algorithm (%s) applies.",
									   jwt_alg_name(alg)) : 0,
				 jwt_alg_is_hmac(alg)
				 ? errhint("Create one with jwt_key_generate('%s'), pass a secret, or name the algorithm of a stored key.",
						   jwt_alg_name(alg))
				 : errhint("Create one with jwt_key_generate('%s'), or name the algorithm of a stored key.",
						   jwt_alg_name(alg))));
	return key;
}

/*
 * jwt_pg.table_changed() and jwt_pg.keys_changed(): a statement trigger
 * that reports a change of the table to every backend through a relcache
 * invalidation, so that what they cache of it (parsed keys, or that the
 * table is empty) is read again.
 */
PG_FUNCTION_INFO_V1(jwt_table_changed);
Datum
jwt_table_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "jwt_table_changed must be called as a trigger");
	CacheInvalidateRelcache(trigger->tg_relation);
	return PointerGetDatum(NULL);
}

/* The name that version 0.1.0 gives the same trigger function. */
PG_FUNCTION_INFO_V1(jwt_keys_changed);
Datum
jwt_keys_changed(PG_FUNCTION_ARGS)
{
	return jwt_table_changed(fcinfo);
}

/* What a new key row holds, in the database's memory. */
typedef struct new_key
{
	jwt_alg		alg;
	const char *kid;			/* UTF-8, NULL for the default */
	size_t		kid_len;
	bytea	   *secret;			/* HMAC secret or PKCS #8 DER, or NULL */
	jwk_public_key public_key;	/* asymmetric keys only */
	bool		active;
} new_key;

/* A problem from crypto.c or jwk.c as a sentence for errdetail. */
static char *
as_sentence(const char *problem)
{
	char	   *s = psprintf("%s.", problem);

	s[0] = pg_toupper((unsigned char) s[0]);
	return s;
}

static void *
palloc_fn(void *arg, size_t size)
{
	return palloc(size);
}

static bytea *
bytes_to_bytea(const unsigned char *bytes, size_t len)
{
	return DatumGetByteaPP(bytea_datum(bytes, len));
}

static void
append_member(StringInfo out, const char *name, const unsigned char *bytes, size_t len)
{
	char	   *encoded = palloc(BASE64URL_ENCODED_LEN(len) + 1);
	size_t		n = base64url_encode(bytes, len, encoded);

	encoded[n] = '\0';
	appendStringInfo(out, ",\"%s\":\"%s\"", name, encoded);
}

/*
 * Append the members that define a public key, in the lexicographic order
 * of RFC 7638 section 3.2, without braces: crv, e, kty, n, x, y.
 */
static void
append_required_members(StringInfo out, const jwk_public_key *key)
{
	StringInfoData buf;

	initStringInfo(&buf);
	switch (key->kty)
	{
		case JWK_KTY_RSA:
			append_member(&buf, "e", key->e, key->e_len);
			appendStringInfoString(&buf, ",\"kty\":\"RSA\"");
			append_member(&buf, "n", key->n, key->n_len);
			break;
		case JWK_KTY_EC:
			appendStringInfo(&buf, ",\"crv\":\"%s\",\"kty\":\"EC\"", key->crv);
			append_member(&buf, "x", key->x, key->x_len);
			append_member(&buf, "y", key->y, key->y_len);
			break;
		case JWK_KTY_OKP:
			appendStringInfo(&buf, ",\"crv\":\"%s\",\"kty\":\"OKP\"", key->crv);
			append_member(&buf, "x", key->x, key->x_len);
			break;
		case JWK_KTY_OCT:
			break;
	}
	/* Drop the leading comma. */
	appendStringInfoString(out, buf.data + 1);
}

/* The RFC 7638 thumbprint of a public key: base64url of a SHA-256. */
static char *
thumbprint(const jwk_public_key *key)
{
	StringInfoData json;
	unsigned char digest[SHA256_LEN];
	char	   *encoded = palloc(BASE64URL_ENCODED_LEN(SHA256_LEN) + 1);
	size_t		n;

	initStringInfo(&json);
	appendStringInfoChar(&json, '{');
	append_required_members(&json, key);
	appendStringInfoChar(&json, '}');
	if (!crypto_sha256((const unsigned char *) json.data, json.len, digest))
		elog(ERROR, "could not compute SHA-256 with OpenSSL");
	n = base64url_encode(digest, SHA256_LEN, encoded);
	encoded[n] = '\0';
	return encoded;
}

/* Check a kid given as an argument or in a JWK. */
static void
check_kid(const char *kid, size_t len)
{
	if (len == 0 || len > JWT_MAX_KID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kid must have between 1 and %d bytes", JWT_MAX_KID_LEN),
				 errdetail("This kid has %zu bytes.", len)));
}

/* Insert the key and return its kid, raising when the kid is taken. */
static text *
store_key(new_key *key)
{
	const char *kid = key->kid;
	size_t		kid_len = key->kid_len;
	Oid			types[5] = {TEXTOID, TEXTOID, BYTEAOID, JSONBOID, TEXTOID};
	Datum		values[5];
	char		nulls[6] = "     ";
	int			rc;

	if (kid == NULL)
	{
		/* An HMAC key has no public part to name it by. */
		kid = jwt_alg_is_hmac(key->alg) ? random_base64url(RANDOM_KID_BYTES)
			: thumbprint(&key->public_key);
		kid_len = strlen(kid);
	}
	check_kid(kid, kid_len);

	values[0] = utf8_text_datum(kid, kid_len);
	values[1] = CStringGetTextDatum(jwt_alg_name(key->alg));
	if (key->secret != NULL)
		values[2] = PointerGetDatum(key->secret);
	else
		nulls[2] = 'n';
	if (jwt_alg_is_hmac(key->alg))
		nulls[3] = 'n';
	else
	{
		StringInfoData jwk;
		size_t		server_len;

		initStringInfo(&jwk);
		appendStringInfoString(&jwk, "{\"alg\":");
		append_json_string(&jwk, jwt_alg_name(key->alg), strlen(jwt_alg_name(key->alg)));
		appendStringInfoString(&jwk, ",\"kid\":");
		append_json_string(&jwk, kid, kid_len);
		appendStringInfoString(&jwk, ",\"use\":\"sig\",");
		append_required_members(&jwk, &key->public_key);
		appendStringInfoChar(&jwk, '}');
		values[3] = DirectFunctionCall1(jsonb_in,
										CStringGetDatum(utf8_to_server(jwk.data, jwk.len, &server_len)));
	}
	values[4] = CStringGetTextDatum(key->active ? "active" : "verify_only");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("INSERT INTO jwt_pg.keys (kid, alg, secret, public_jwk, state)"
							   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING",
							   5, types, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("key \"%s\" already exists in the key store", printable_kid(kid, kid_len)),
				 errhint("Pass another kid, or retire the old key and delete its row.")));
	SPI_finish();

	if (key->secret != NULL)
		explicit_bzero(VARDATA_ANY(key->secret), VARSIZE_ANY_EXHDR(key->secret));
	return DatumGetTextPP(values[0]);
}

/*
 * Fill the private and public parts of a new key from an OpenSSL key,
 * which is freed on every path.
 */
static void
take_key_pair(new_key *out, crypto_key *pair, bool is_private)
{
	const char *problem = NULL;

	PG_TRY();
	{
		unsigned char *der;
		size_t		der_len;

		if (!crypto_key_fits(out->alg, pair, &problem))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key does not fit algorithm %s", jwt_alg_name(out->alg)),
					 errdetail("%s", as_sentence(problem))));
		if (!crypto_key_public(out->alg, pair, palloc_fn, NULL, &out->public_key))
			elog(ERROR, "could not export the public key with OpenSSL");
		if (is_private)
		{
			if (!crypto_key_to_der(pair, palloc_fn, NULL, &der, &der_len))
				elog(ERROR, "could not encode the private key with OpenSSL");
			out->secret = bytes_to_bytea(der, der_len);
			explicit_bzero(der, der_len);
		}
	}
	PG_FINALLY();
	{
		crypto_key_free(pair);
	}
	PG_END_TRY();
	out->active = is_private;
}

static jwt_alg
algorithm_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("algorithm must not be NULL")));
	return algorithm_from_text(PG_GETARG_TEXT_PP(argno));
}

static void
kid_arg(FunctionCallInfo fcinfo, int argno, new_key *key)
{
	if (PG_ARGISNULL(argno))
		return;
	key->kid = text_to_utf8(PG_GETARG_TEXT_PP(argno), &key->kid_len);
	check_kid(key->kid, key->kid_len);
}

/* jwt_key_generate(algorithm text, kid text) */
PG_FUNCTION_INFO_V1(jwt_key_generate);
Datum
jwt_key_generate(PG_FUNCTION_ARGS)
{
	new_key		key;

	memset(&key, 0, sizeof(key));
	key.alg = algorithm_arg(fcinfo, 0);
	kid_arg(fcinfo, 1, &key);

	if (jwt_alg_is_hmac(key.alg))
	{
		size_t		len = jwt_alg_mac_len(key.alg);

		key.secret = palloc(VARHDRSZ + len);
		SET_VARSIZE(key.secret, VARHDRSZ + len);
		if (!crypto_random_bytes((unsigned char *) VARDATA(key.secret), len))
			elog(ERROR, "could not generate random bytes with OpenSSL");
		key.active = true;
	}
	else
	{
		crypto_key *pair = crypto_key_generate(key.alg);

		if (pair == NULL)
			elog(ERROR, "could not generate a %s key with OpenSSL", jwt_alg_name(key.alg));
		take_key_pair(&key, pair, true);
	}
	PG_RETURN_TEXT_P(store_key(&key));
}

/*
 * Check the members that every imported JWK may carry.  It must be one
 * key, not a set, and its own alg and use, when present, must allow
 * signing with the algorithm.  Without a kid argument, its kid names the key.
 */
static void
check_jwk_members(new_key *key, const json_node *jwk)
{
	const json_node *member;

	if (json_object_get(jwk, "keys") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key is a JWK Set"),
				 errhint("Import the keys of a set one at a time.")));

	member = json_object_get(jwk, "alg");
	if (member != NULL && !json_string_equals(member, jwt_alg_name(key->alg)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key does not fit algorithm %s", jwt_alg_name(key->alg)),
				 errdetail("The JWK's own \"alg\" names another algorithm.")));
	member = json_object_get(jwk, "use");
	if (member != NULL && !json_string_equals(member, "sig"))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key is not for signatures"),
				 errdetail("The JWK's \"use\" is not \"sig\".")));

	member = json_object_get(jwk, "kid");
	if (key->kid == NULL && member != NULL && member->kind == JSON_STRING)
	{
		key->kid = member->text;
		key->kid_len = member->text_len;
	}
}

/* The bytes of an HMAC secret given as text or as an oct JWK. */
static void
import_secret(new_key *key, const char *utf8, size_t len, json_node *jwk)
{
	const char *problem = NULL;

	if (jwk != NULL)
	{
		jwk_public_key oct;

		if (json_object_get(jwk, "keys") == NULL &&
			(!jwk_read(jwk, palloc_allocator(), &oct, &problem) || oct.kty != JWK_KTY_OCT))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key is not an HMAC key"),
					 errdetail("%s takes a secret, or a JWK of kty \"oct\"; public keys never act as HMAC secrets.",
							   jwt_alg_name(key->alg))));
		check_jwk_members(key, jwk);
		utf8 = (const char *) oct.x;
		len = oct.x_len;
	}
	else if (len >= 10 && crypto_equal(utf8, "-----BEGIN", 10))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key is not an HMAC key"),
				 errdetail("%s takes a secret; a PEM key never acts as an HMAC secret.",
						   jwt_alg_name(key->alg))));

	if (len < jwt_alg_mac_len(key->alg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret is too short for %s", jwt_alg_name(key->alg)),
				 errdetail("%s requires a secret of at least %zu bytes; this one has %zu.",
						   jwt_alg_name(key->alg), jwt_alg_mac_len(key->alg), len)));
	key->secret = bytes_to_bytea((const unsigned char *) utf8, len);
	key->active = true;
}

/* An RSA, EC or Ed25519 key from a JWK, public or private. */
static void
import_jwk(new_key *key, json_node *jwk)
{
	jwk_public_key public_key;
	jwk_private_key private_key;
	const char *problem = NULL;
	crypto_key *pair;

	check_jwk_members(key, jwk);
	if (!jwk_read(jwk, palloc_allocator(), &public_key, &problem) ||
		!jwk_read_private(jwk, palloc_allocator(), &private_key, &problem))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key is not a usable JWK"),
				 errdetail("In the JWK, %s.", problem)));

	pair = crypto_key_from_jwk(key->alg, &public_key,
							   private_key.d ? &private_key : NULL, &problem);
	if (pair == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key does not fit algorithm %s", jwt_alg_name(key->alg)),
				 errdetail("%s", as_sentence(problem))));
	take_key_pair(key, pair, private_key.d != NULL);
}

/* jwt_key_import(key text|jsonb, algorithm text, kid text) */
PG_FUNCTION_INFO_V1(jwt_key_import);
Datum
jwt_key_import(PG_FUNCTION_ARGS)
{
	new_key		key;
	const char *utf8;
	size_t		len;
	size_t		start = 0;
	json_node  *jwk = NULL;

	memset(&key, 0, sizeof(key));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key must not be NULL")));
	key.alg = algorithm_arg(fcinfo, 1);
	kid_arg(fcinfo, 2, &key);
	if (get_fn_expr_argtype(fcinfo->flinfo, 0) == JSONBOID)
	{
		StringInfoData json;

		initStringInfo(&json);
		jsonb_to_compact_json(&json, PG_GETARG_JSONB_P(0));
		utf8 = server_to_utf8(json.data, json.len, &len);
	}
	else
		utf8 = text_to_utf8(PG_GETARG_TEXT_PP(0), &len);

	while (start < len && strchr(" \t\r\n", utf8[start]) != NULL)
		start++;
	if (start < len && utf8[start] == '{')
	{
		json_parse_result result;

		jwk = parse_json_or_null(utf8 + start, len - start, &result);
		if (jwk == NULL || jwk->kind != JSON_OBJECT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key is not a usable JWK"),
					 errdetail("It starts with \"{\" but is not a JSON object.")));
	}

	if (jwt_alg_is_hmac(key.alg))
		import_secret(&key, utf8, len, jwk);
	else if (jwk != NULL)
		import_jwk(&key, jwk);
	else
	{
		bool		is_private = false;
		const char *problem = NULL;
		crypto_key *pair = crypto_key_from_pem(utf8 + start, len - start, &is_private, &problem);

		if (pair == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key cannot be read"),
					 errdetail("%s", as_sentence(problem)),
					 errhint("Pass a PEM key or a JWK as JSON text.")));
		take_key_pair(&key, pair, is_private);
	}
	PG_RETURN_TEXT_P(store_key(&key));
}
