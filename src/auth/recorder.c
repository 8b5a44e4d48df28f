/*-------------------------------------------------------------------------
 * src/auth/recorder.c
 *	  Failed authentications, recorded in an autonomous transaction.
 *
 * record_auth_failure copies the event into a DSM segment and starts a
 * dynamic background worker, which connects to the caller's database as
 * the extension's owner, calls taskforce._record_failed_authentication
 * and commits.  The caller waits for the worker to exit, then reads back
 * from the segment whether it committed.  Whatever goes wrong on the way
 * (no worker slot, a worker that fails) ends in a LOG message carrying the
 * whole event, so a failed authentication is never lost silently and never
 * turns into a different error.
 *
 * The caller waits for the worker, so a lock the caller's transaction holds
 * on taskforce.security_events or on the user's credentials row would be
 * a deadlock no detector can see: the worker therefore waits for a lock
 * for at most RECORDER_LOCK_TIMEOUT, then fails, and the event is logged.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "auth/recorder.h"
#include "context/context.h"
#include "util/owner.h"

#define RECORDER_NAME "taskforce auth recorder"
#define RECORDER_LOCK_TIMEOUT "5s"
#define RECORDER_ERROR_BYTES 256
#define RECORD_QUERY \
	"SELECT taskforce._record_failed_authentication(" \
	"$1, $2, $3, $4, $5::pg_catalog.inet, $6::pg_catalog.jsonb, $7, $8)"

/* The fields of an event, in the order of RECORD_QUERY's parameters. */
typedef enum RecorderField
{
	RF_METHOD,
	RF_TENANT_ID,
	RF_USER_ID,
	RF_REASON,
	RF_CLIENT_ADDR,
	RF_DETAILS,
	RF_DB_ROLE,
	RF_ACTOR,
	RF_COUNT
} RecorderField;

static const char *const field_labels[RF_COUNT] = {
	"method", "tenant_id", "user_id", "reason",
	"client_addr", "details", "db_role", "actor"
};

/* The DSM segment shared by the caller and its worker. */
typedef struct RecorderShared
{
	Oid			database_id;
	Oid			role_id;
	bool		connected;		/* set by the worker once connected */
	bool		committed;		/* set by the worker once the event is committed */
	char		error[RECORDER_ERROR_BYTES];	/* the worker's error, if any */
	int32		offsets[RF_COUNT];	/* into data, or -1 for null */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} RecorderShared;

PG_FUNCTION_INFO_V1(taskforce_reject_authentication);

/*
 * Returns the calling backend's client address as inet_client_addr() gives
 * it, or NULL for a Unix-domain socket or a process with no client.
 */
static char *
caller_client_addr(void)
{
	LOCAL_FCINFO(fcinfo, 0);
	Datum		addr;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	addr = inet_client_addr(fcinfo);
	if (fcinfo->isnull)
		return NULL;
	return DatumGetCString(DirectFunctionCall1(inet_out, addr));
}

/* Tells whether a background worker may connect as the role (PostgreSQL 15 needs LOGIN). */
static bool
role_can_login(Oid role_id)
{
	HeapTuple	tuple;
	bool		can_login;

	tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role_id));
	if (!HeapTupleIsValid(tuple))
		return false;
	can_login = ((Form_pg_authid) GETSTRUCT(tuple))->rolcanlogin;
	ReleaseSysCache(tuple);
	return can_login;
}

/*
 * Chooses the role the worker connects as: the extension's owner, or the
 * bootstrap superuser if the owner cannot log in.  Sets *why and returns
 * InvalidOid when there is none.
 */
static Oid
recording_role(const char **why)
{
	Oid			owner = tf_extension_owner();

	if (!OidIsValid(owner))
	{
		*why = "the taskforce extension is not installed in this database";
		return InvalidOid;
	}
	if (role_can_login(owner))
		return owner;
	if (role_can_login(BOOTSTRAP_SUPERUSERID))
		return BOOTSTRAP_SUPERUSERID;
	*why = "neither the extension's owner nor the bootstrap superuser has LOGIN";
	return InvalidOid;
}

/* Writes the event to the server log, saying why it is not in the table. */
static void
log_unrecorded(const char *const *fields, const char *why)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < RF_COUNT; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "%s ", field_labels[i]);
		if (fields[i] == NULL)
			appendStringInfoString(&buf, "null");
		else
			escape_json(&buf, fields[i]);
	}
	ereport(LOG,
			(errmsg("could not record a failed authentication in taskforce.security_events: %s",
					why),
			 errdetail("The failed authentication was: %s.", buf.data)));
	pfree(buf.data);
}

/*
 * Has a background worker commit the event; returns NULL once it has, or
 * why it has not.  Throws only if the caller is interrupted while waiting,
 * in which case the worker goes on and the segment is released with the
 * caller's resource owner.
 */
static const char *
record_in_worker(const char *const *fields)
{
	const char *why = NULL;
	Oid			role_id;
	Size		size;
	Size		pos = 0;
	dsm_segment *seg;
	RecorderShared *shared;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	int			i;

	if (IsParallelWorker())
		return "called in a parallel worker";
	if (!IsUnderPostmaster)
		return "there are no background workers in single-user mode";
	if (RecoveryInProgress())
		return "the server is in recovery";
	if (!IsTransactionState() || !OidIsValid(MyDatabaseId))
		return "called outside a valid transaction";
	role_id = recording_role(&why);
	if (!OidIsValid(role_id))
		return why;

	size = offsetof(RecorderShared, data);
	for (i = 0; i < RF_COUNT; i++)
		if (fields[i] != NULL)
			size = add_size(size, strlen(fields[i]) + 1);
	seg = dsm_create(size, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (seg == NULL)
		return "no dynamic shared memory segment is free";
	shared = dsm_segment_address(seg);
	memset(shared, 0, offsetof(RecorderShared, data));
	shared->database_id = MyDatabaseId;
	shared->role_id = role_id;
	for (i = 0; i < RF_COUNT; i++)
	{
		if (fields[i] == NULL)
			shared->offsets[i] = -1;
		else
		{
			Size		len = strlen(fields[i]) + 1;

			memcpy(shared->data + pos, fields[i], len);
			shared->offsets[i] = (int32) pos;
			pos += len;
		}
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "taskforce", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "taskforce_recorder_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, RECORDER_NAME " for PID %d", MyProcPid);
	strlcpy(worker.bgw_type, RECORDER_NAME, BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		why = "no background worker slot is free (see max_worker_processes)";
	else
	{
		status = WaitForBackgroundWorkerShutdown(handle);
		pfree(handle);
		pg_read_barrier();
		if (status == BGWH_POSTMASTER_DIED)
			why = "the postmaster died";
		else if (!shared->connected)
			why = "the recording worker did not start or could not connect";
		else if (!shared->committed && shared->error[0] != '\0')
			why = psprintf("the recording worker failed: %s", shared->error);
		else if (!shared->committed)
			why = "the recording worker exited before committing";
	}
	dsm_detach(seg);
	return why;
}

/*
 * Records one failed authentication in taskforce.security_events and
 * returns once it is committed (or, failing that, logged).  method and
 * reason are required; the others may be NULL.  client_addr is the text
 * of an inet (NULL means the calling backend's client address) and
 * details_json the text of a JSON object.  Throws only if the caller is
 * cancelled or terminated while it waits.
 */
static void
record_auth_failure(const char *method, const char *tenant_id,
					   const char *user_id, const char *reason,
					   const char *client_addr, const char *details_json)
{
	const char *fields[RF_COUNT];
	const char *session_role = NULL;
	TfContextView view;
	const char *why;

	if (IsTransactionState())
		session_role = GetUserNameFromId(GetSessionUserId(), true);

	fields[RF_METHOD] = method != NULL ? method : "unknown";
	fields[RF_TENANT_ID] = tenant_id;
	fields[RF_USER_ID] = user_id;
	fields[RF_REASON] = reason != NULL ? reason : "authentication failed";
	fields[RF_CLIENT_ADDR] = client_addr != NULL ? client_addr : caller_client_addr();
	fields[RF_DETAILS] = details_json;
	fields[RF_DB_ROLE] = session_role;
	/* Unchecked: a context that may no longer act must not stop the recording. */
	fields[RF_ACTOR] = tf_context_view_unchecked(&view) && view.user_id != NULL ?
		text_to_cstring(view.user_id) : session_role;

	why = record_in_worker(fields);
	if (why != NULL)
		log_unrecorded(fields, why);
}


/* Runs in the worker: connects, records the event in its own transaction, exits. */
void
taskforce_recorder_main(Datum arg)
{
	dsm_segment *seg;
	RecorderShared *shared;
	Oid			argtypes[RF_COUNT];
	Datum		values[RF_COUNT];
	char		nulls[RF_COUNT];
	int			i;

	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the shared memory of " RECORDER_NAME)));
	shared = dsm_segment_address(seg);

	BackgroundWorkerInitializeConnectionByOid(shared->database_id, shared->role_id, 0);
	shared->connected = true;
	pgstat_report_appname(RECORDER_NAME);
	SetConfigOption("lock_timeout", RECORDER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);

	for (i = 0; i < RF_COUNT; i++)
	{
		argtypes[i] = TEXTOID;
		nulls[i] = shared->offsets[i] < 0 ? 'n' : ' ';
		values[i] = shared->offsets[i] < 0 ? (Datum) 0 :
			CStringGetTextDatum(shared->data + shared->offsets[i]);
	}

	PG_TRY();
	{
		int			ret;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, RECORD_QUERY);
		ret = SPI_execute_with_args(RECORD_QUERY, RF_COUNT, argtypes, values,
									nulls, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "recording the failed authentication returned %d", ret);
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContext saved = MemoryContextSwitchTo(TopMemoryContext);
		ErrorData  *edata = CopyErrorData();

		strlcpy(shared->error, edata->message != NULL ? edata->message : "unknown error",
				RECORDER_ERROR_BYTES);
		MemoryContextSwitchTo(saved);
		PG_RE_THROW();			/* to bgworker's handler: logs, exits with 1 */
	}
	PG_END_TRY();

	pg_write_barrier();
	shared->committed = true;
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/* Returns argument n as a C string, or NULL. */
static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Returns argument n, of a type with the given output function, as a C string, or NULL. */
static char *
output_arg(FunctionCallInfo fcinfo, int n, PGFunction output)
{
	return PG_ARGISNULL(n) ? NULL :
		DatumGetCString(DirectFunctionCall1(output, PG_GETARG_DATUM(n)));
}

/*
 * taskforce._reject_authentication(method, tenant_id, user_id, reason,
 * client_addr, details): records the failure, then raises
 * invalid_authorization_specification with the reason, a lower-case
 * phrase that never contains a secret.
 */
Datum
taskforce_reject_authentication(PG_FUNCTION_ARGS)
{
	char	   *reason;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("authentication method must not be null")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reason must not be null")));
	reason = text_arg(fcinfo, 3);
	record_auth_failure(text_arg(fcinfo, 0), text_arg(fcinfo, 1), text_arg(fcinfo, 2),
						reason, output_arg(fcinfo, 4, inet_out),
						output_arg(fcinfo, 5, jsonb_out));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s", reason)));
	PG_RETURN_VOID();
}
