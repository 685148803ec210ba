/*
 * state.c
 *		The extension's tables: the blacklist and refresh tokens.
 *
 * The tables live in schema jwt_pg and are not readable by PUBLIC.  The
 * blacklist lookup in jwt_verify reads the index directly, without SPI and
 * without a privilege check, so that every role allowed to verify a token
 * gets the revocation check.  Everything that writes runs through SPI in
 * functions declared SECURITY DEFINER with a pinned search_path, and every
 * query names its tables with their schema.
 *
 * Raw refresh tokens are never stored, logged or put in a message: the
 * tables hold their SHA-256 only.
 */
#include "jwt_pg.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "utils/reltrigger.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "state.h"

Datum
bytea_datum(const unsigned char *bytes, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), bytes, len);
	return PointerGetDatum(b);
}

/* A text datum in the database encoding from UTF-8 bytes. */
Datum
utf8_text_datum(const char *s, size_t len)
{
	size_t		server_len;
	const char *server = utf8_to_server(s, len, &server_len);

	return PointerGetDatum(cstring_to_text_with_len(server, (int) server_len));
}

Oid
state_relation(const char *name)
{
	Oid			namespace_id = get_namespace_oid(JWT_STATE_SCHEMA, true);
	Oid			relid = InvalidOid;

	if (OidIsValid(namespace_id))
		relid = get_relname_relid(name, namespace_id);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", JWT_STATE_SCHEMA, name),
				 errhint("The jwt_pg extension's tables are missing; reinstall the extension.")));
	return relid;
}

/*
 * A registered snapshot for reading the extension's tables: the latest one,
 * so that a revocation or a key change committed by another session counts
 * at once, also in a repeatable read transaction.  A parallel operation
 * may not take one, so there the active snapshot serves, which the leader
 * shares with its workers.  The caller unregisters it.
 */
Snapshot
state_snapshot(void)
{
	if (!IsInParallelMode())
		return RegisterSnapshot(GetLatestSnapshot());
	return RegisterSnapshot(ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot());
}

/*
 * The blacklist's OIDs, looked up once per backend and forgotten when the
 * relcache reports a change to any of them (DROP EXTENSION, for one).
 */
typedef struct blacklist_relations
{
	bool		valid;
	bool		emptiness_known;	/* known_empty was checked since the last change */
	bool		known_empty;
	Oid			table;
	Oid			jti_index;
	Oid			hash_index;
	AttrNumber	jti_column;
	AttrNumber	hash_column;
} blacklist_relations;

static blacklist_relations blacklist;

/*
 * The OIDs of jwt_pg.subject_cutoffs.  The table is missing from databases
 * where the extension is still at version 0.1.0; there cutoff_lookup finds
 * nothing and looks again at each call, until the update creates it.
 */
typedef struct cutoff_relations
{
	bool		valid;
	bool		emptiness_known;
	bool		known_empty;
	Oid			table;
	Oid			index;
	AttrNumber	subject_column;
	AttrNumber	cutoff_column;
} cutoff_relations;

static cutoff_relations cutoffs;
static bool callback_registered = false;

/* Counts invalidations, so a lookup can tell that one came during it. */
static uint64 invalidations = 0;

static void
forget_relations(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == blacklist.table ||
		relid == blacklist.jti_index || relid == blacklist.hash_index)
		blacklist.valid = false;
	if (relid == InvalidOid || relid == cutoffs.table || relid == cutoffs.index)
		cutoffs.valid = false;
	invalidations++;
}

static void
register_callback(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_relations, (Datum) 0);
		callback_registered = true;
	}
}

static blacklist_relations *
blacklist_lookup(void)
{
	if (blacklist.valid)
		return &blacklist;

	register_callback();

	/*
	 * The catalog lookups can process invalidations, such as those of a
	 * concurrent DROP and CREATE EXTENSION; look again until none came.
	 */
	for (;;)
	{
		uint64		before = invalidations;

		blacklist.table = state_relation("blacklist");
		blacklist.jti_index = state_relation("blacklist_jti_key");
		blacklist.hash_index = state_relation("blacklist_token_hash_key");
		blacklist.jti_column = get_attnum(blacklist.table, "jti");
		blacklist.hash_column = get_attnum(blacklist.table, "token_hash");
		if (before == invalidations)
			break;
	}
	blacklist.emptiness_known = false;
	blacklist.known_empty = false;
	blacklist.valid = true;
	return &blacklist;
}

/*
 * Whether a table has no row that the snapshot sees, checked once after
 * each change.  Only a table whose statement trigger (named <table>_changed,
 * calling jwt_pg.table_changed) reports every change through a relcache
 * invalidation can be known empty: the invalidation resets what is known.
 * Until the next change, jwt_verify then skips its lookups, which is what
 * most calls find while nothing is revoked.  before is the invalidation
 * count taken before the table was opened.
 */
static void
check_emptiness(Relation rel, Snapshot snapshot, const char *trigger, uint64 before,
				bool *emptiness_known, bool *known_empty)
{
	TriggerDesc *triggers = rel->trigdesc;
	bool		reported = false;
	TupleTableSlot *slot;
	TableScanDesc scan;
	bool		empty;

	for (int i = 0; triggers != NULL && i < triggers->numtriggers; i++)
		reported |= strcmp(triggers->triggers[i].tgname, trigger) == 0;

	/* A parallel leader reads with the query's snapshot, which may be old. */
	if (!reported || (IsInParallelMode() && !IsParallelWorker()))
		return;

	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, snapshot, 0, NULL);
	empty = !table_scan_getnextslot(scan, ForwardScanDirection, slot);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);

	if (before == invalidations)
	{
		*emptiness_known = true;
		*known_empty = empty;
	}
}

/*
 * Look a token up on the blacklist by jti, or by the SHA-256 of its signing
 * input when jti is NULL, with state_snapshot.
 */
bool
state_blacklist_contains(const char *jti, size_t jti_len, const unsigned char *hash)
{
	blacklist_relations *oids;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	Snapshot	snapshot;
	bool		found;
	uint64		before;

	/* A change committed by another session counts from now on. */
	AcceptInvalidationMessages();
	oids = blacklist_lookup();
	if (oids->known_empty)
		return false;

	before = invalidations;
	rel = table_open(oids->table, AccessShareLock);
	snapshot = state_snapshot();
	if (!oids->emptiness_known)
	{
		check_emptiness(rel, snapshot, "blacklist_changed", before,
						&oids->emptiness_known, &oids->known_empty);
		if (oids->known_empty)
		{
			UnregisterSnapshot(snapshot);
			table_close(rel, AccessShareLock);
			return false;
		}
	}

	/* The jti column has collation "C", which matches ScanKeyInit's. */
	if (jti != NULL)
		ScanKeyInit(&key, oids->jti_column, BTEqualStrategyNumber, F_TEXTEQ,
					utf8_text_datum(jti, jti_len));
	else
		ScanKeyInit(&key, oids->hash_column, BTEqualStrategyNumber, F_BYTEAEQ,
					bytea_datum(hash, SHA256_LEN));

	scan = systable_beginscan(rel, jti ? oids->jti_index : oids->hash_index,
							  true, snapshot, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	return found;
}

/* The subject_cutoffs OIDs, or NULL while the table does not exist. */
static cutoff_relations *
cutoff_lookup(void)
{
	if (cutoffs.valid)
		return &cutoffs;
	register_callback();
	for (;;)
	{
		uint64		before = invalidations;
		Oid			namespace_id = get_namespace_oid(JWT_STATE_SCHEMA, true);

		cutoffs.table = OidIsValid(namespace_id)
			? get_relname_relid("subject_cutoffs", namespace_id) : InvalidOid;
		if (!OidIsValid(cutoffs.table))
			return NULL;
		cutoffs.index = state_relation("subject_cutoffs_pkey");
		cutoffs.subject_column = get_attnum(cutoffs.table, "subject");
		cutoffs.cutoff_column = get_attnum(cutoffs.table, "revoked_before");
		if (before == invalidations)
			break;
	}
	cutoffs.emptiness_known = false;
	cutoffs.known_empty = false;
	cutoffs.valid = true;
	return &cutoffs;
}

/*
 * Look a subject up in jwt_pg.subject_cutoffs, with state_snapshot.
 * Returns whether it has a cutoff, and the cutoff in *revoked_before.
 */
bool
state_subject_cutoff(const char *subject, size_t len, TimestampTz *revoked_before)
{
	cutoff_relations *oids;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	Snapshot	snapshot;
	HeapTuple	tuple;
	bool		found = false;
	uint64		before;

	AcceptInvalidationMessages();
	oids = cutoff_lookup();
	if (oids == NULL || oids->known_empty)
		return false;

	before = invalidations;
	rel = table_open(oids->table, AccessShareLock);
	snapshot = state_snapshot();
	if (!oids->emptiness_known)
	{
		check_emptiness(rel, snapshot, "subject_cutoffs_changed", before,
						&oids->emptiness_known, &oids->known_empty);
		if (oids->known_empty)
		{
			UnregisterSnapshot(snapshot);
			table_close(rel, AccessShareLock);
			return false;
		}
	}
	ScanKeyInit(&key, oids->subject_column, BTEqualStrategyNumber, F_TEXTEQ,
				utf8_text_datum(subject, len));
	scan = systable_beginscan(rel, oids->index, true, snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;

		*revoked_before = DatumGetTimestampTz(heap_getattr(tuple, oids->cutoff_column,
														   RelationGetDescr(rel), &isnull));
		found = !isnull;
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/* Raise on a standby, where the tables are read-only. */
static void
require_primary(const char *function)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("%s cannot run on a standby server", function),
				 errdetail("It writes to the extension's tables, which are read-only during recovery."),
				 errhint("Call it on the primary server.")));
}

/*
 * Raise when the extension's tables are still those of version 0.1.0,
 * which lack the session keys that rotation now needs.
 */
static void
require_updated_tables(void)
{
	if (get_attnum(state_relation("refresh_families"), "successor_key") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("jwt_pg's tables are older than its library"),
				 errdetail("The library was updated, and the extension in this database was not."),
				 errhint("Run ALTER EXTENSION jwt_pg UPDATE.")));
}

static void
spi_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/*
 * A plan kept for the rest of the backend, prepared at its first use, so
 * that a rotation is not parsed and planned again each time.  The plan
 * cache plans it again when the tables change.
 */
static SPIPlanPtr
kept_plan(SPIPlanPtr *slot, const char *query, int nargs, Oid *types)
{
	SPIPlanPtr	plan;

	if (*slot != NULL)
		return *slot;
	plan = SPI_prepare(query, nargs, types);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	*slot = plan;
	return plan;
}

/* Run a kept plan and check its result code, as spi_run does. */
static void
spi_run_plan(SPIPlanPtr plan, Datum *values, int expected)
{
	int			rc = SPI_execute_plan(plan, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

/*
 * Run a query that may write, with arguments, and check its result code.
 * nulls is NULL or has 'n' for each NULL argument, as SPI expects.
 */
static int
spi_run(const char *query, int nargs, Oid *types, Datum *values, const char *nulls,
		int expected)
{
	int			rc = SPI_execute_with_args(query, nargs, types, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	return rc;
}

void
state_blacklist_add(const char *jti, size_t jti_len, const unsigned char *hash,
					bool has_exp, double exp, text *reason)
{
	Oid			types[4] = {TEXTOID, BYTEAOID, FLOAT8OID, TEXTOID};
	Datum		values[4];
	char		nulls[5] = "    ";

	require_primary("jwt_blacklist");

	if (jti != NULL)
	{
		values[0] = utf8_text_datum(jti, jti_len);
		nulls[1] = 'n';
	}
	else
	{
		nulls[0] = 'n';
		values[1] = bytea_datum(hash, SHA256_LEN);
	}
	values[2] = Float8GetDatum(exp);
	if (!has_exp)
		nulls[2] = 'n';
	values[3] = PointerGetDatum(reason);
	if (reason == NULL)
		nulls[3] = 'n';

	spi_connect();
	spi_run("INSERT INTO jwt_pg.blacklist (jti, token_hash, expires_at, reason) "
			"VALUES ($1, $2, pg_catalog.to_timestamp($3), $4) "
			"ON CONFLICT DO NOTHING",
			4, types, values, nulls, SPI_OK_INSERT);
	SPI_finish();
}

/* Make a new refresh token: random bytes, base64url, and its SHA-256. */
static char *
new_refresh_token(unsigned char *hash)
{
	char	   *token = random_base64url(REFRESH_TOKEN_BYTES);
	size_t		len = strlen(token);

	if (!crypto_sha256((const unsigned char *) token, len, hash))
		elog(ERROR, "could not compute SHA-256 with OpenSSL");
	return token;
}

char *
state_refresh_generate(text *subject, Interval *lifetime, Jsonb *claims)
{
	unsigned char hash[SHA256_LEN];
	char	   *token = new_refresh_token(hash);
	Oid			types[4] = {TEXTOID, JSONBOID, INTERVALOID, BYTEAOID};
	Datum		values[4];

	require_primary("jwt_refresh_generate");
	values[0] = PointerGetDatum(subject);
	values[1] = PointerGetDatum(claims);
	values[2] = PointerGetDatum(lifetime);
	values[3] = bytea_datum(hash, SHA256_LEN);

	spi_connect();
	spi_run("WITH family AS ("
			"  INSERT INTO jwt_pg.refresh_families (subject, claims, lifetime)"
			"  VALUES ($1, $2, $3) RETURNING family_id, lifetime) "
			"INSERT INTO jwt_pg.refresh_tokens (token_hash, family_id, issued_at, expires_at) "
			"SELECT $4, family_id, pg_catalog.statement_timestamp(),"
			"       pg_catalog.statement_timestamp() OPERATOR(pg_catalog.+) lifetime "
			"FROM family",
			4, types, values, NULL, SPI_OK_INSERT);
	SPI_finish();
	return token;
}

bool
state_refresh_valid(const char *token, size_t len)
{
	unsigned char hash[SHA256_LEN];
	Oid			types[1] = {BYTEAOID};
	Datum		values[1];
	bool		valid;
	bool		isnull;

	if (!crypto_sha256((const unsigned char *) token, len, hash))
		elog(ERROR, "could not compute SHA-256 with OpenSSL");
	values[0] = bytea_datum(hash, SHA256_LEN);

	/* Read-only, as a STABLE function must be, also in parallel workers. */
	spi_connect();
	if (SPI_execute_with_args("SELECT EXISTS (SELECT FROM jwt_pg.refresh_tokens t"
							  "  JOIN jwt_pg.refresh_families f"
							  "    ON f.family_id OPERATOR(pg_catalog.=) t.family_id"
							  "  WHERE t.token_hash OPERATOR(pg_catalog.=) $1 AND t.used_at IS NULL"
							  "    AND t.expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp()"
							  "    AND f.revoked_at IS NULL)",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed for the refresh token lookup");
	valid = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return valid;
}

static void
refresh_reject(const char *message, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s", message),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * The successor of a refresh token: HMAC-SHA256 of the token under its
 * session's successor key, in base64url.  It can be derived again from the
 * token, so that it need not be stored to be handed out twice.
 */
static char *
successor_token(Datum key, const char *token, size_t len, unsigned char *hash)
{
	bytea	   *key_bytes = DatumGetByteaPP(key);
	unsigned char mac[JWT_MAX_MAC_LEN];
	size_t		mac_len = 0;
	char	   *successor = palloc(BASE64URL_ENCODED_LEN(SHA256_LEN) + 1);
	size_t		n;

	if (!crypto_hmac(JWT_ALG_HS256, (const unsigned char *) VARDATA_ANY(key_bytes),
					 VARSIZE_ANY_EXHDR(key_bytes), (const unsigned char *) token, len,
					 mac, &mac_len) || mac_len != SHA256_LEN)
		elog(ERROR, "could not compute HMAC-SHA256 with OpenSSL");
	n = base64url_encode(mac, mac_len, successor);
	successor[n] = '\0';
	explicit_bzero(mac, sizeof(mac));
	if (!crypto_sha256((const unsigned char *) successor, n, hash))
		elog(ERROR, "could not compute SHA-256 with OpenSSL");
	return successor;
}

/* Copy the claims of a RETURNING or SELECT row out of SPI's memory. */
static Jsonb *
claims_from_row(HeapTuple row, TupleDesc desc, int column, MemoryContext caller)
{
	bool		isnull;
	MemoryContext spi = MemoryContextSwitchTo(caller);
	Jsonb	   *claims = DatumGetJsonbPCopy(SPI_getbinval(row, desc, column, &isnull));

	MemoryContextSwitchTo(spi);
	return claims;
}

/*
 * A refresh token that could not be rotated: hand out its successor again
 * when it was rotated within jwt_pg.refresh_reuse_interval and the
 * successor is still unused, else raise why it failed, revoking the
 * session on reuse.
 */
static char *
refresh_failed(Datum hash, const char *token, size_t len, Jsonb **claims,
			   MemoryContext caller)
{
	Oid			types[2] = {BYTEAOID, INT4OID};
	Datum		values[2] = {hash, Int32GetDatum(jwt_refresh_reuse_interval)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	bool		used;
	bool		expired;
	bool		revoked;
	bool		recent;
	char	   *family_id;

	spi_run("SELECT t.used_at IS NOT NULL,"
			"       t.expires_at OPERATOR(pg_catalog.<=) pg_catalog.statement_timestamp(),"
			"       f.revoked_at IS NOT NULL, f.family_id::pg_catalog.text,"
			"       t.used_at OPERATOR(pg_catalog.>) (pg_catalog.statement_timestamp()"
			"         OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $2)),"
			"       f.successor_key,"
			"       f.claims OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('sub', f.subject)"
			"  FROM jwt_pg.refresh_tokens t"
			"  JOIN jwt_pg.refresh_families f ON f.family_id OPERATOR(pg_catalog.=) t.family_id"
			" WHERE t.token_hash OPERATOR(pg_catalog.=) $1",
			2, types, values, NULL, SPI_OK_SELECT);

	if (SPI_processed == 0)
		refresh_reject("unknown refresh token",
					   "No refresh token with this value exists; it may have been purged after it expired.");

	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	used = DatumGetBool(SPI_getbinval(row, desc, 1, &isnull));
	expired = DatumGetBool(SPI_getbinval(row, desc, 2, &isnull));
	revoked = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
	family_id = SPI_getvalue(row, desc, 4);
	recent = jwt_refresh_reuse_interval > 0 && DatumGetBool(SPI_getbinval(row, desc, 5, &isnull)) &&
		!isnull;

	if (revoked)
		refresh_reject("refresh token has been revoked",
					   "The session this refresh token belongs to was revoked.");
	if (used && recent)
	{
		unsigned char successor_hash[SHA256_LEN];
		Datum		key = SPI_getbinval(row, desc, 6, &isnull);
		Oid			successor_types[1] = {BYTEAOID};
		Datum		successor_values[1];
		char	   *successor;

		*claims = claims_from_row(row, desc, 7, caller);
		successor = successor_token(key, token, len, successor_hash);
		successor_values[0] = bytea_datum(successor_hash, SHA256_LEN);
		spi_run("SELECT FROM jwt_pg.refresh_tokens"
				" WHERE token_hash OPERATOR(pg_catalog.=) $1 AND used_at IS NULL"
				"   AND expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp()",
				1, successor_types, successor_values, NULL, SPI_OK_SELECT);
		if (SPI_processed == 1)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);
			char	   *copy = pstrdup(successor);

			MemoryContextSwitchTo(spi);
			return copy;
		}
		/* The successor was rotated in turn: this token is stale. */
	}
	if (used)
	{
		/*
		 * Someone presented a token that was already rotated: either the
		 * client or a thief has a stale copy.  Revoke the whole family in
		 * a transaction of its own, so that the revocation survives the
		 * error that aborts this one.
		 */
		revoke_family_in_own_transaction(family_id, "refresh token reuse");
		refresh_reject("refresh token reuse detected",
					   "This refresh token was already used, so its session has been revoked.");
	}
	if (expired)
		refresh_reject("refresh token has expired", NULL);

	/* The row qualified after all: the rotation lost a race and retried. */
	refresh_reject("refresh token could not be used",
				   "It changed while this call was running; try again.");
	return NULL;
}

/* The two statements of every rotation. */
static SPIPlanPtr rotate_plan = NULL;
static SPIPlanPtr successor_plan = NULL;

/*
 * Rotate a refresh token: mark it used and issue its successor in the same
 * family.  Returns the successor and the claims for the access token.
 */
char *
state_refresh_rotate(const char *token, size_t len, Jsonb **claims)
{
	unsigned char hash[SHA256_LEN];
	unsigned char new_hash[SHA256_LEN];
	char	   *new_token;
	Oid			update_types[1] = {BYTEAOID};
	Datum		update_values[1];
	Oid			insert_types[3] = {BYTEAOID, UUIDOID, INTERVALOID};
	Datum		insert_values[3];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext spi;

	require_primary("jwt_refresh");
	require_updated_tables();
	if (!crypto_sha256((const unsigned char *) token, len, hash))
		elog(ERROR, "could not compute SHA-256 with OpenSSL");
	update_values[0] = bytea_datum(hash, SHA256_LEN);

	spi_connect();

	/*
	 * The UPDATE takes the row lock, so of two sessions presenting the same
	 * token, the second waits, re-reads the row and finds it used.
	 */
	spi_run_plan(kept_plan(&rotate_plan,
						   "UPDATE jwt_pg.refresh_tokens t SET used_at = pg_catalog.statement_timestamp()"
						   "  FROM jwt_pg.refresh_families f"
						   " WHERE t.token_hash OPERATOR(pg_catalog.=) $1 AND t.used_at IS NULL"
						   "   AND t.expires_at OPERATOR(pg_catalog.>) pg_catalog.statement_timestamp()"
						   "   AND f.family_id OPERATOR(pg_catalog.=) t.family_id AND f.revoked_at IS NULL"
						   " RETURNING t.family_id, f.lifetime,"
						   "   f.claims OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('sub', f.subject),"
						   "   f.successor_key",
						   1, update_types),
				 update_values, SPI_OK_UPDATE_RETURNING);

	if (SPI_processed != 1)
	{
		new_token = refresh_failed(update_values[0], token, len, claims, caller);
		SPI_finish();
		return new_token;
	}

	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	insert_values[1] = SPI_getbinval(row, desc, 1, &isnull);
	insert_values[2] = SPI_getbinval(row, desc, 2, &isnull);
	*claims = claims_from_row(row, desc, 3, caller);

	spi = MemoryContextSwitchTo(caller);
	new_token = successor_token(SPI_getbinval(row, desc, 4, &isnull), token, len, new_hash);
	MemoryContextSwitchTo(spi);
	insert_values[0] = bytea_datum(new_hash, SHA256_LEN);

	spi_run_plan(kept_plan(&successor_plan,
						   "INSERT INTO jwt_pg.refresh_tokens (token_hash, family_id, issued_at, expires_at)"
						   " VALUES ($1, $2, pg_catalog.statement_timestamp(),"
						   "         pg_catalog.statement_timestamp() OPERATOR(pg_catalog.+) $3)",
						   3, insert_types),
				 insert_values, SPI_OK_INSERT);
	SPI_finish();
	return new_token;
}

/*
 * Revoke the session of a refresh token, as at logout.  Returns whether
 * this call revoked it: false for an unknown token or a revoked session.
 */
bool
state_refresh_revoke(const char *token, size_t len)
{
	unsigned char hash[SHA256_LEN];
	Oid			types[1] = {BYTEAOID};
	Datum		values[1];
	bool		revoked;

	require_primary("jwt_refresh_revoke");
	if (!crypto_sha256((const unsigned char *) token, len, hash))
		elog(ERROR, "could not compute SHA-256 with OpenSSL");
	values[0] = bytea_datum(hash, SHA256_LEN);

	spi_connect();
	spi_run("UPDATE jwt_pg.refresh_families f"
			"   SET revoked_at = pg_catalog.statement_timestamp(), revoked_reason = 'logout'"
			"  FROM jwt_pg.refresh_tokens t"
			" WHERE t.token_hash OPERATOR(pg_catalog.=) $1"
			"   AND f.family_id OPERATOR(pg_catalog.=) t.family_id AND f.revoked_at IS NULL",
			1, types, values, NULL, SPI_OK_UPDATE);
	revoked = SPI_processed > 0;
	SPI_finish();
	return revoked;
}

/*
 * Delete expired refresh tokens and blacklist entries, subject cutoffs
 * older than jwt_pg.max_access_ttl, then the families left without
 * tokens, and return how many tokens, entries and cutoffs went.  The
 * second statement takes a new snapshot, so it finds tokens that a rotation
 * committed meanwhile, and it skips families locked by a rotation still in
 * progress.  Should one slip through anyway, the foreign key raises an
 * error instead of deleting the new token.
 */
int64
state_purge(void)
{
	int64		removed;
	bool		isnull;

	require_primary("jwt_purge");
	spi_connect();
	spi_run("WITH tokens AS ("
			"  DELETE FROM jwt_pg.refresh_tokens"
			"   WHERE expires_at OPERATOR(pg_catalog.<=) pg_catalog.statement_timestamp()"
			"  RETURNING 1),"
			" entries AS ("
			"  DELETE FROM jwt_pg.blacklist"
			"   WHERE expires_at OPERATOR(pg_catalog.<=) pg_catalog.statement_timestamp()"
			"  RETURNING 1) "
			"SELECT (SELECT pg_catalog.count(*) FROM tokens)"
			"  OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM entries)",
			0, NULL, NULL, NULL, SPI_OK_SELECT);
	removed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* A cutoff older than the longest access-token lifetime stops nothing. */
	if (cutoff_lookup() != NULL)
	{
		Oid			types[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(jwt_max_access_ttl)};

		spi_run("DELETE FROM jwt_pg.subject_cutoffs"
				" WHERE revoked_before OPERATOR(pg_catalog.<) (pg_catalog.statement_timestamp()"
				"   OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $1))",
				1, types, values, NULL, SPI_OK_DELETE);
		removed += SPI_processed;
	}

	spi_run("DELETE FROM jwt_pg.refresh_families"
			" WHERE family_id OPERATOR(pg_catalog.=) ANY (ARRAY("
			"   SELECT f.family_id FROM jwt_pg.refresh_families f"
			"    WHERE NOT EXISTS (SELECT FROM jwt_pg.refresh_tokens t"
			"                       WHERE t.family_id OPERATOR(pg_catalog.=) f.family_id)"
			"      FOR UPDATE SKIP LOCKED))",
			0, NULL, NULL, NULL, SPI_OK_DELETE);
	SPI_finish();
	return removed;
}
