/*
 * refresh_worker.c
 *		Revoke a refresh-token family in a transaction of its own.
 *
 * When a used refresh token is presented again, jwt_refresh revokes the
 * token's family and raises an error.  The error aborts the caller's
 * transaction, so the revocation cannot be made there.  Instead a dynamic
 * background worker connects to the same database as the same role and
 * commits the revocation.  It reports through a small shared memory segment,
 * and the caller waits for it to exit.
 *
 * The worker only updates non-key columns of jwt_pg.refresh_families.  The
 * caller holds at most FOR KEY SHARE locks on those rows (from the foreign
 * key checks of new refresh tokens), which do not conflict with that update,
 * so the wait cannot deadlock on a lock of the caller's.  lock_timeout
 * bounds the wait on anyone else's.
 */
#include "jwt_pg.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

/* How long and in what steps to wait for a free background worker slot. */
#define SLOT_WAIT_MAX_MS 5000
#define SLOT_WAIT_STEP_MS 20

/* Length of a UUID in its text form, without the terminating NUL. */
#define UUID_TEXT_LEN 36

typedef struct revoke_request
{
	Oid			database_id;
	Oid			user_id;
	char		family_id[UUID_TEXT_LEN + 1];
	char		reason[64];
	/* Set by the worker once its transaction has committed. */
	bool		committed;
	/* The worker's error message when it failed, else empty. */
	char		error[256];
} revoke_request;

PGDLLEXPORT void jwt_pg_revoke_family_main(Datum main_arg);

/*
 * Revoke a family in a background worker's transaction and wait for it.
 * Raises an error when the revocation could not be committed.
 */
void
revoke_family_in_own_transaction(const char *family_id, const char *reason)
{
	dsm_segment *segment;
	revoke_request *request;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	char		error[sizeof(request->error)];
	bool		committed;

	segment = dsm_create(sizeof(revoke_request), 0);
	request = dsm_segment_address(segment);
	memset(request, 0, sizeof(revoke_request));
	request->database_id = MyDatabaseId;
	request->user_id = GetUserId();
	strlcpy(request->family_id, family_id, sizeof(request->family_id));
	strlcpy(request->reason, reason, sizeof(request->reason));

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "jwt_pg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "jwt_pg_revoke_family_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "jwt_pg revocation of a refresh token family");
	snprintf(worker.bgw_type, BGW_MAXLEN, "jwt_pg revocation");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
	worker.bgw_notify_pid = MyProcPid;

	/*
	 * Many sessions that present one stale token at once each start a
	 * worker, and the slots may run out for a moment: wait for one to free
	 * up, for a few seconds at most.
	 */
	for (int waited_ms = 0; !RegisterDynamicBackgroundWorker(&worker, &handle);
		 waited_ms += SLOT_WAIT_STEP_MS)
	{
		if (waited_ms >= SLOT_WAIT_MAX_MS)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not revoke the session of a reused refresh token"),
					 errdetail("No background worker slot became free within %d ms.", SLOT_WAIT_MAX_MS),
					 errhint("Raise max_worker_processes, or lower the number of other background workers.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 SLOT_WAIT_STEP_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	(void) WaitForBackgroundWorkerShutdown(handle);
	pg_memory_barrier();
	committed = request->committed;
	strlcpy(error, request->error, sizeof(error));
	dsm_detach(segment);

	if (!committed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not revoke the session of a reused refresh token"),
				 errdetail("The background worker that revokes it failed: %s",
						   error[0] ? error : "it exited without reporting an error."),
				 errhint("The session is still valid.  Present the token again to retry, or set revoked_at in jwt_pg.refresh_families.")));
}

void
jwt_pg_revoke_family_main(Datum main_arg)
{
	dsm_segment *segment;
	revoke_request *request;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int			rc;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	segment = dsm_attach(DatumGetUInt32(main_arg));
	if (segment == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not attach to the revocation request")));
	request = dsm_segment_address(segment);

	BackgroundWorkerInitializeConnectionByOid(request->database_id, request->user_id, 0);

	/* The queries name every object with its schema; pin the rest. */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "10s", PGC_SUSET, PGC_S_OVERRIDE);

	values[0] = CStringGetTextDatum(request->family_id);
	values[1] = CStringGetTextDatum(request->reason);

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "revoking a refresh token family");

		rc = SPI_execute_with_args("UPDATE jwt_pg.refresh_families"
								   "   SET revoked_at = pg_catalog.statement_timestamp(),"
								   "       revoked_reason = $2"
								   " WHERE family_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
								   "   AND revoked_at IS NULL",
								   2, types, values, NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* Hand the message to the waiting backend, then log it as usual. */
		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		strlcpy(request->error, edata->message ? edata->message : "unknown error",
				sizeof(request->error));
		pg_memory_barrier();
		PG_RE_THROW();
	}
	PG_END_TRY();

	request->committed = true;
	pg_memory_barrier();
	dsm_detach(segment);
	proc_exit(0);
}
