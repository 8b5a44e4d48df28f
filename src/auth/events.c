/*-------------------------------------------------------------------------
 * src/auth/events.c
 *	  The queue of security events written after the fact, and the
 *	  authentication events that go through it.
 *
 * A failed authentication raises an error, which rolls back its
 * transaction; a successful bearer authentication (JWT, API key) must not
 * write, so that it is cheap and works on a hot standby.  Their events are
 * therefore queued in shared memory (taskforce.event_queue_size slots,
 * shared by every database of the cluster) and written to
 * taskforce.security_events by whoever writes next: every taskforce
 * function that records an event of its own drains the queue first,
 * flush_security_events() drains it on demand, and the event writer
 * (src/auth/writer.c) drains it every taskforce.event_flush_interval.
 * A drained event is removed from the queue only when the transaction that
 * wrote it commits.  A full queue counts the events it had to drop and
 * logs each; the next flush writes an events_lost event with the count.
 * A hot standby cannot write: there, each event goes to the server log.
 * Once the event writer has stopped (the server is shutting down), the
 * events still queued are written to the server log, and so is every event
 * queued (or returned to the queue by a rollback) after that.
 *
 * Successes are recorded for the first use of each credential per
 * taskforce.auth_success_event_interval; the recorded time of the
 * credential's use (users.last_login_at, api_keys.last_used_at) is written
 * with the event, so it has the same granularity.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "auth/events.h"
#include "auth/lockout.h"
#include "context/context.h"
#include "util/owner.h"

#define TF_EVENT_RECORD_MAX 2048	/* bytes of one queued record, NUL included */
#define TF_EVENT_FIELD_MAX 256		/* bytes of one text field of a record */
#define TF_EVENT_DETAILS_MAX 1024	/* bytes of a record's details */
#define TF_LOST_SLOTS 64			/* databases with a count of lost events */
#define APPLY_QUERY "SELECT taskforce._apply_queued_record($1::pg_catalog.jsonb)"

typedef enum TfSlotState
{
	SLOT_FREE = 0,
	SLOT_QUEUED,
	SLOT_CLAIMED				/* written by an open transaction of claimed_by */
} TfSlotState;

typedef struct TfQueuedEvent
{
	TfSlotState state;
	Oid			database_id;
	int			claimed_by;
	SubTransactionId claimed_subid;
	int64		seq;
	TimestampTz queued_at;
	char		record[TF_EVENT_RECORD_MAX];
} TfQueuedEvent;

/* Events a database lost to a full queue, not yet reported. */
typedef struct TfLostCount
{
	Oid			database_id;
	int64		lost;
	int			claimed_by;
	int64		claimed;
} TfLostCount;

typedef struct TfEventQueue
{
	LWLock	   *lock;
	LWLock	   *success_lock;
	int64		next_seq;
	int			used;
	bool		writer_stopped; /* log every event that is (re)queued */
	int			writer_procno;	/* the event writer's PGPROC, or -1 */
	TfLostCount lost[TF_LOST_SLOTS];
	TfQueuedEvent slots[FLEXIBLE_ARRAY_MEMBER];
} TfEventQueue;

/* A credential whose use was recorded, by a 128-bit hash of method and credential. */
typedef struct TfSuccessKey
{
	Oid			database_id;
	uint32		pad;
	uint64		h1;
	uint64		h2;
} TfSuccessKey;

typedef struct TfSuccessEntry
{
	TfSuccessKey key;
	TimestampTz noted_at;
} TfSuccessEntry;

static int	tf_event_queue_size = 1024;
static int	tf_auth_success_event_interval = 3600;	/* seconds */
extern int	tf_lockout_entries;

static TfEventQueue *queue = NULL;
static HTAB *success_table = NULL;

/* This backend's claims in its open transaction. */
static bool have_claims = false;
static SubTransactionId lost_claim_subid = InvalidSubTransactionId;
static bool callbacks_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(taskforce_flush_security_events);
PG_FUNCTION_INFO_V1(taskforce_note_authentication);
PG_FUNCTION_INFO_V1(taskforce_reject_authentication);

static Size
queue_size(void)
{
	return add_size(offsetof(TfEventQueue, slots),
					mul_size(sizeof(TfQueuedEvent), tf_event_queue_size));
}

/* Requests the queue and the table of recently recorded credentials. */
static void
events_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(queue_size());
	RequestAddinShmemSpace(hash_estimate_size(tf_lockout_entries, sizeof(TfSuccessEntry)));
	RequestNamedLWLockTranche("taskforce events", 2);
}

/* Creates (or attaches to) the queue and the table. */
static void
events_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	queue = ShmemInitStruct("taskforce event queue", queue_size(), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche("taskforce events");

		memset(queue, 0, queue_size());
		queue->lock = &locks[0].lock;
		queue->success_lock = &locks[1].lock;
		queue->next_seq = 1;
		queue->writer_procno = -1;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(TfSuccessKey);
	info.entrysize = sizeof(TfSuccessEntry);
	success_table = ShmemInitHash("taskforce recorded credentials",
								  tf_lockout_entries, tf_lockout_entries,
								  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

/* Tells whether the queue exists (taskforce was preloaded). */
bool
tf_events_available(void)
{
	return queue != NULL && success_table != NULL;
}

/* Raises object_not_in_prerequisite_state unless taskforce was preloaded. */
void
tf_events_require(void)
{
	if (!tf_events_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("taskforce must be loaded through shared_preload_libraries to count failed passwords"),
				 errhint("Add taskforce to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* Returns the calling backend's client address, or NULL. */
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

/* Fills origin for an event of this backend; client_addr NULL means the backend's own. */
void
tf_event_origin(TfEventOrigin *origin, const char *client_addr)
{
	TfContextView view;
	char	   *session_role = GetUserNameFromId(GetSessionUserId(), true);

	origin->db_role = session_role != NULL ? session_role : pstrdup("unknown");
	/* Unchecked: a context that may no longer act must not stop the recording. */
	origin->actor = tf_context_view_unchecked(&view) && view.user_id != NULL ?
		text_to_cstring(view.user_id) : origin->db_role;
	origin->client_addr = client_addr != NULL ? pstrdup(client_addr) : caller_client_addr();
}

/* Appends "name": value (a JSON string, or null), cut to limit bytes. */
static void
json_field_limited(StringInfo buf, const char *name, const char *value, bool first, int limit)
{
	if (!first)
		appendStringInfoChar(buf, ',');
	escape_json(buf, name);
	appendStringInfoChar(buf, ':');
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
	{
		int			len = strlen(value);

		if (len > limit)
		{
			char	   *cut = pnstrdup(value, pg_mbcliplen(value, len, limit));

			escape_json(buf, cut);
			pfree(cut);
		}
		else
			escape_json(buf, value);
	}
}

/* Appends "name": value as a JSON string, or null. */
void
tf_json_field(StringInfo buf, const char *name, const char *value, bool first)
{
	json_field_limited(buf, name, value, first, TF_EVENT_FIELD_MAX);
}

/* Appends "name": an ISO 8601 UTC time, or null for 0. */
void
tf_json_timestamp(StringInfo buf, const char *name, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		text[64];

	if (ts == 0 || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
	{
		tf_json_field(buf, name, NULL, false);
		return;
	}
	snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int) fsec);
	tf_json_field(buf, name, text, false);
}

/* Builds one record; details_json is the text of a JSON object or NULL. */
static char *
build_record(const TfEventOrigin *origin, const char *method, const char *event,
			 const char *outcome, const char *tenant_id, const char *user_id,
			 const char *reason, const char *details_json, int limit)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	tf_json_field(&buf, "record", "event", true);
	tf_json_timestamp(&buf, "occurred_at", GetCurrentTimestamp());
	json_field_limited(&buf, "tenant_id", tenant_id, false, limit);
	json_field_limited(&buf, "user_id", user_id, false, limit);
	json_field_limited(&buf, "actor", origin->actor, false, limit);
	json_field_limited(&buf, "method", method, false, limit);
	json_field_limited(&buf, "event", event, false, limit);
	json_field_limited(&buf, "outcome", outcome, false, limit);
	json_field_limited(&buf, "reason", reason, false, limit);
	json_field_limited(&buf, "client_addr", origin->client_addr, false, limit);
	json_field_limited(&buf, "db_role", origin->db_role, false, limit);
	appendStringInfoString(&buf, ",\"details\":");
	if (details_json == NULL)
		appendStringInfoString(&buf, "{}");
	else if (strlen(details_json) > TF_EVENT_DETAILS_MAX || details_json[0] != '{')
		appendStringInfoString(&buf, "{\"details_truncated\":true}");
	else
		appendStringInfoString(&buf, details_json);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Returns the text of an event record that fits a queue slot. */
char *
tf_event_record(const TfEventOrigin *origin, const char *method, const char *event,
				const char *outcome, const char *tenant_id, const char *user_id,
				const char *reason, const char *details_json)
{
	char	   *record = build_record(origin, method, event, outcome, tenant_id,
									  user_id, reason, details_json, TF_EVENT_FIELD_MAX);

	/* Escaping can blow a record up; then keep less of each field. */
	if (strlen(record) >= TF_EVENT_RECORD_MAX)
		record = build_record(origin, method, event, outcome, tenant_id, user_id,
							  reason, "{\"details_truncated\":true}", 48);
	return record;
}

/* Logs an event that stays queued while the event writer is stopped (at shutdown). */
static void
log_at_shutdown(Oid database_id, const char *record)
{
	ereport(LOG,
			(errhidestmt(true),
			 errmsg("taskforce security event still queued at shutdown of the event writer"),
			 errdetail("Database OID %u. The event was: %s", database_id, record)));
}

/*
 * Counts an event the full queue had to drop (it is logged too).  Caller
 * holds the queue lock.  With no counter free, the log is the only trace.
 */
static void
count_lost(Oid database_id)
{
	int			i;
	int			free_slot = -1;

	for (i = 0; i < TF_LOST_SLOTS; i++)
	{
		if (queue->lost[i].database_id == database_id)
		{
			queue->lost[i].lost++;
			return;
		}
		if (free_slot < 0 && queue->lost[i].lost == 0 && queue->lost[i].claimed_by == 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return;
	queue->lost[free_slot].database_id = database_id;
	queue->lost[free_slot].lost = 1;
}

/*
 * Queues a record for this database.  On a hot standby, or without the
 * queue, or when it is full, the record goes to the server log instead
 * (and a full queue counts it as lost).  Never throws for lack of room;
 * safe in transaction-abort callbacks.
 */
void
tf_events_enqueue(const char *record)
{
	int			i;
	bool		queued = false;
	bool		stopped;
	int			writer;

	if (!tf_events_available())
	{
		ereport(LOG,
				(errhidestmt(true),
				 errmsg("taskforce security event not recorded: taskforce is not in shared_preload_libraries"),
				 errdetail("The event was: %s", record)));
		return;
	}
	if (RecoveryInProgress())
	{
		ereport(LOG,
				(errhidestmt(true),
				 errmsg("taskforce security event on a hot standby, which cannot record it"),
				 errdetail("The event was: %s", record)));
		return;
	}

	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (queue->used < tf_event_queue_size)
	{
		for (i = 0; i < tf_event_queue_size; i++)
		{
			TfQueuedEvent *slot = &queue->slots[i];

			if (slot->state != SLOT_FREE)
				continue;
			slot->state = SLOT_QUEUED;
			slot->database_id = MyDatabaseId;
			slot->claimed_by = 0;
			slot->seq = queue->next_seq++;
			slot->queued_at = GetCurrentTimestamp();
			strlcpy(slot->record, record, TF_EVENT_RECORD_MAX);
			queue->used++;
			queued = true;
			break;
		}
	}
	if (!queued)
		count_lost(MyDatabaseId);
	stopped = queue->writer_stopped;
	/* half full: wake the event writer before its interval runs out */
	writer = queue->used * 2 >= tf_event_queue_size ? queue->writer_procno : -1;
	LWLockRelease(queue->lock);

	if (writer >= 0)
		SetLatch(&GetPGProcByNumber(writer)->procLatch);

	if (queued && stopped)
		log_at_shutdown(MyDatabaseId, record);
	if (!queued)
		ereport(LOG,
				(errhidestmt(true),
				 errmsg("taskforce security event queue is full; the event is lost from taskforce.security_events"),
				 errdetail("The event was: %s", record),
				 errhint("Raise taskforce.event_queue_size, or call taskforce.flush_security_events() more often.")));
}

/* Ends this backend's claims: commit frees the slots, abort returns them to the queue. */
static void
settle_claims(bool committed, SubTransactionId subid)
{
	int			i;
	List	   *returned = NIL;
	ListCell   *lc;

	if (!have_claims || queue == NULL)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (i = 0; i < tf_event_queue_size; i++)
	{
		TfQueuedEvent *slot = &queue->slots[i];

		if (slot->state != SLOT_CLAIMED || slot->claimed_by != MyProcPid)
			continue;
		if (subid != InvalidSubTransactionId && slot->claimed_subid != subid)
			continue;
		if (committed)
		{
			slot->state = SLOT_FREE;
			queue->used--;
		}
		else
		{
			slot->state = SLOT_QUEUED;
			if (queue->writer_stopped)
				returned = lappend(returned, pstrdup(slot->record));
		}
		slot->claimed_by = 0;
	}
	if (subid == InvalidSubTransactionId || lost_claim_subid == subid)
	{
		for (i = 0; i < TF_LOST_SLOTS; i++)
		{
			TfLostCount *c = &queue->lost[i];

			if (c->claimed_by != MyProcPid)
				continue;
			if (committed)
				c->lost -= c->claimed;
			c->claimed = 0;
			c->claimed_by = 0;
		}
		lost_claim_subid = InvalidSubTransactionId;
	}
	LWLockRelease(queue->lock);
	if (subid == InvalidSubTransactionId)
		have_claims = false;
	/* back in the queue after the writer logged it: log it now */
	foreach(lc, returned)
		log_at_shutdown(MyDatabaseId, (const char *) lfirst(lc));
	list_free_deep(returned);
}

/* Moves the claims of a committed subtransaction to its parent. */
static void
reparent_claims(SubTransactionId subid, SubTransactionId parent)
{
	int			i;

	if (!have_claims || queue == NULL)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (i = 0; i < tf_event_queue_size; i++)
	{
		TfQueuedEvent *slot = &queue->slots[i];

		if (slot->state == SLOT_CLAIMED && slot->claimed_by == MyProcPid &&
			slot->claimed_subid == subid)
			slot->claimed_subid = parent;
	}
	LWLockRelease(queue->lock);
	if (lost_claim_subid == subid)
		lost_claim_subid = parent;
}

static void
events_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (have_claims)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that wrote queued security events")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			settle_claims(true, InvalidSubTransactionId);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			settle_claims(false, InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
events_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		settle_claims(false, mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		reparent_claims(mySubid, parentSubid);
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(events_xact_callback, NULL);
	RegisterSubXactCallback(events_subxact_callback, NULL);
	callbacks_registered = true;
}

typedef struct ClaimedRecord
{
	int64		seq;
	char	   *record;
} ClaimedRecord;

static int
claimed_cmp(const void *a, const void *b)
{
	int64		x = ((const ClaimedRecord *) a)->seq;
	int64		y = ((const ClaimedRecord *) b)->seq;

	return (x > y) - (x < y);
}

/* Writes one record in the current transaction, through _apply_queued_record. */
void
tf_events_apply(const char *record)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			ret;

	values[0] = CStringGetTextDatum(record);
	ret = SPI_execute_with_args(APPLY_QUERY, 1, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "writing a queued security event returned %d", ret);
}

/*
 * Writes this database's queued events, oldest first, if the oldest has
 * waited at least max_age (NULL: whatever their age), and persists the
 * failed-password counters that changed; returns how many records it
 * wrote.  A read-only transaction or a standby writes nothing and returns
 * 0.  The caller runs it as the extension's owner with a pinned
 * search_path (flush_security_events is SECURITY DEFINER; the event
 * writer switches to the owner).
 */
int64
tf_events_flush(const Interval *max_age)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz oldest = 0;
	ClaimedRecord *claimed = NULL;
	int			nclaimed = 0;
	int64		lost = 0;
	int64		written = 0;
	int			i;
	bool		take;

	if (!tf_events_available() || RecoveryInProgress() || XactReadOnly)
		return 0;
	register_callbacks();

	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (i = 0; i < tf_event_queue_size; i++)
	{
		TfQueuedEvent *slot = &queue->slots[i];

		if (slot->state == SLOT_QUEUED && slot->database_id == MyDatabaseId &&
			(oldest == 0 || slot->queued_at < oldest))
			oldest = slot->queued_at;
	}
	take = oldest != 0;
	if (take && max_age != NULL)
	{
		TimestampTz due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																  TimestampTzGetDatum(oldest),
																  IntervalPGetDatum((Interval *) max_age)));

		take = due <= now;
	}
	/* An overflow is written at once, whatever max_age says. */
	for (i = 0; i < TF_LOST_SLOTS; i++)
		if (queue->lost[i].lost > 0 && queue->lost[i].claimed_by == 0 &&
			queue->lost[i].database_id == MyDatabaseId)
			take = true;
	if (take)
	{
		claimed = palloc(sizeof(ClaimedRecord) * Max(queue->used, 1));
		for (i = 0; i < tf_event_queue_size; i++)
		{
			TfQueuedEvent *slot = &queue->slots[i];

			if (slot->state != SLOT_QUEUED || slot->database_id != MyDatabaseId)
				continue;
			slot->state = SLOT_CLAIMED;
			slot->claimed_by = MyProcPid;
			slot->claimed_subid = GetCurrentSubTransactionId();
			claimed[nclaimed].seq = slot->seq;
			claimed[nclaimed].record = pstrdup(slot->record);
			nclaimed++;
		}
		for (i = 0; i < TF_LOST_SLOTS; i++)
		{
			TfLostCount *c = &queue->lost[i];

			if (c->lost > 0 && c->claimed_by == 0 && c->database_id == MyDatabaseId)
			{
				c->claimed_by = MyProcPid;
				c->claimed = c->lost;
				lost += c->lost;
				lost_claim_subid = GetCurrentSubTransactionId();
			}
		}
		if (nclaimed > 0 || lost > 0)
			have_claims = true;
	}
	LWLockRelease(queue->lock);

	if (nclaimed > 0 || lost > 0)
	{
		qsort(claimed, nclaimed, sizeof(ClaimedRecord), claimed_cmp);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		for (i = 0; i < nclaimed; i++)
			tf_events_apply(claimed[i].record);
		written += nclaimed;
		if (lost > 0)
		{
			TfEventOrigin origin;
			char	   *details = psprintf("{\"lost\":%lld,\"event_queue_size\":%d}",
										   (long long) lost, tf_event_queue_size);

			tf_event_origin(&origin, NULL);
			tf_events_apply(tf_event_record(&origin, "sql", "events_lost", "failure",
											NULL, NULL, "the security event queue was full",
											details));
			written++;
		}
		SPI_finish();
	}
	written += tf_lockout_persist();
	return written;
}

/*
 * taskforce.flush_security_events(max_age interval): tf_events_flush for
 * SQL callers.
 */
Datum
taskforce_flush_security_events(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(tf_events_flush(PG_ARGISNULL(0) ? NULL : PG_GETARG_INTERVAL_P(0)));
}

/* Adds to dbs (a list of OIDs) the databases that have queued events or an unreported overflow. */
List *
tf_events_pending_databases(List *dbs)
{
	int			i;

	if (!tf_events_available())
		return dbs;
	LWLockAcquire(queue->lock, LW_SHARED);
	for (i = 0; i < tf_event_queue_size; i++)
		if (queue->slots[i].state == SLOT_QUEUED)
			dbs = list_append_unique_oid(dbs, queue->slots[i].database_id);
	for (i = 0; i < TF_LOST_SLOTS; i++)
		if (queue->lost[i].lost > 0 && queue->lost[i].claimed_by == 0)
			dbs = list_append_unique_oid(dbs, queue->lost[i].database_id);
	LWLockRelease(queue->lock);
	return dbs;
}

/*
 * Logs, then drops, the queued events of a database where they can never be
 * written (it was dropped, or taskforce is no longer installed in it).
 */
void
tf_events_discard_database(Oid database_id, const char *why)
{
	List	   *records = NIL;
	ListCell   *lc;
	int64		lost = 0;
	int			i;

	if (!tf_events_available())
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (i = 0; i < tf_event_queue_size; i++)
	{
		TfQueuedEvent *slot = &queue->slots[i];

		if (slot->state != SLOT_QUEUED || slot->database_id != database_id)
			continue;
		records = lappend(records, pstrdup(slot->record));
		slot->state = SLOT_FREE;
		queue->used--;
	}
	for (i = 0; i < TF_LOST_SLOTS; i++)
	{
		TfLostCount *c = &queue->lost[i];

		if (c->database_id == database_id && c->claimed_by == 0 && c->lost > 0)
		{
			lost += c->lost;
			c->lost = 0;
		}
	}
	LWLockRelease(queue->lock);

	foreach(lc, records)
		ereport(LOG,
				(errhidestmt(true),
				 errmsg("taskforce security event not written: %s", why),
				 errdetail("Database OID %u. The event was: %s", database_id,
						   (const char *) lfirst(lc))));
	if (lost > 0)
		ereport(LOG,
				(errhidestmt(true),
				 errmsg("taskforce security events lost to a full queue not recorded: %s", why),
				 errdetail("Database OID %u lost %lld events.", database_id, (long long) lost)));
	list_free_deep(records);
}

/*
 * The event writer has stopped (the server is shutting down): logs every
 * queued event, and from now on every event that is queued or returned to
 * the queue.  The events stay queued as well, so that if the server goes on
 * (the writer was only terminated), they still reach the table.
 */
void
tf_events_writer_stopping(void)
{
	List	   *records = NIL;
	List	   *databases = NIL;
	TfLostCount lost[TF_LOST_SLOTS];
	ListCell   *lc;
	ListCell   *dc;
	int			i;

	if (!tf_events_available())
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->writer_stopped = true;
	queue->writer_procno = -1;
	for (i = 0; i < tf_event_queue_size; i++)
	{
		TfQueuedEvent *slot = &queue->slots[i];

		if (slot->state != SLOT_QUEUED)
			continue;
		records = lappend(records, pstrdup(slot->record));
		databases = lappend_oid(databases, slot->database_id);
	}
	memcpy(lost, queue->lost, sizeof(lost));
	LWLockRelease(queue->lock);

	forboth(lc, records, dc, databases)
		log_at_shutdown(lfirst_oid(dc), (const char *) lfirst(lc));
	for (i = 0; i < TF_LOST_SLOTS; i++)
		if (lost[i].lost > 0)
			ereport(LOG,
					(errhidestmt(true),
					 errmsg("taskforce security events lost to a full queue, not yet recorded at shutdown of the event writer"),
					 errdetail("Database OID %u lost %lld events.", lost[i].database_id,
							   (long long) lost[i].lost)));
	list_free_deep(records);
	list_free(databases);
}

/*
 * The event writer runs (again): queued events wait for it, unlogged, and
 * a queue half full sets its latch.
 */
void
tf_events_writer_started(void)
{
	if (!tf_events_available())
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->writer_stopped = false;
	queue->writer_procno = MyProc->pgprocno;
	LWLockRelease(queue->lock);
}

/* Tells whether the queue is at least half full, which calls for writing it early. */
bool
tf_events_queue_half_full(void)
{
	bool		half;

	if (!tf_events_available())
		return false;
	LWLockAcquire(queue->lock, LW_SHARED);
	half = queue->used * 2 >= tf_event_queue_size;
	LWLockRelease(queue->lock);
	return half;
}

/* Fills the hash of a credential used with a method. */
static void
success_key(TfSuccessKey *key, const char *method, const char *credential)
{
	uint64		seed = hash_bytes_extended((const unsigned char *) method, strlen(method), 0);
	int			len = strlen(credential);

	memset(key, 0, sizeof(*key));
	key->database_id = MyDatabaseId;
	key->h1 = hash_bytes_extended((const unsigned char *) credential, len, seed);
	key->h2 = hash_bytes_extended((const unsigned char *) credential, len,
								  seed ^ UINT64CONST(0x9E3779B97F4A7C15));
}

/* Drops entries older than the interval; returns how many. Caller holds success_lock exclusively. */
static int
sweep_success_table(TimestampTz cutoff)
{
	HASH_SEQ_STATUS status;
	TfSuccessEntry *entry;
	int			removed = 0;

	hash_seq_init(&status, success_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->noted_at < cutoff)
		{
			hash_search(success_table, &entry->key, HASH_REMOVE, NULL);
			removed++;
		}
	}
	return removed;
}

/*
 * Tells whether a use of the credential is the first in the interval, and
 * marks it used.  A NULL credential, or an interval of 0, makes every use
 * the first.  When the table is full of recent uses, the use counts as
 * first (recorded rather than forgotten).
 */
static bool
first_use_in_interval(const char *method, const char *credential)
{
	TfSuccessKey key;
	TfSuccessEntry *entry;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz cutoff;
	bool		found;

	if (credential == NULL || tf_auth_success_event_interval <= 0)
		return true;
	cutoff = now - (TimestampTz) tf_auth_success_event_interval * USECS_PER_SEC;
	success_key(&key, method, credential);

	LWLockAcquire(queue->success_lock, LW_SHARED);
	entry = hash_search(success_table, &key, HASH_FIND, NULL);
	found = entry != NULL && entry->noted_at > cutoff;
	LWLockRelease(queue->success_lock);
	if (found)
		return false;

	LWLockAcquire(queue->success_lock, LW_EXCLUSIVE);
	entry = hash_search(success_table, &key, HASH_ENTER_NULL, &found);
	if (entry == NULL && sweep_success_table(cutoff) > 0)
		entry = hash_search(success_table, &key, HASH_ENTER_NULL, &found);
	if (entry != NULL && found && entry->noted_at > cutoff)
	{
		/* another backend noted it meanwhile */
		LWLockRelease(queue->success_lock);
		return false;
	}
	if (entry != NULL)
		entry->noted_at = now;
	LWLockRelease(queue->success_lock);
	return true;
}

static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static char *
output_arg(FunctionCallInfo fcinfo, int n, PGFunction output)
{
	return PG_ARGISNULL(n) ? NULL :
		DatumGetCString(DirectFunctionCall1(output, PG_GETARG_DATUM(n)));
}

/* Writes a record through SPI, for tf_spi_as_owner. */
static void
apply_record(void *record)
{
	tf_events_apply((const char *) record);
}

/*
 * Records a successful authentication if it is the credential's first use
 * in taskforce.auth_success_event_interval (always when credential is
 * NULL), through the queue, so the caller's transaction writes nothing.
 * Returns whether it recorded it.  Without the queue (taskforce not
 * preloaded) it writes the event at once, as the extension's owner, or in
 * a read-only transaction logs it.  client_addr NULL means the
 * backend's own; details_json is the text of a JSON object, or NULL.
 */
bool
tf_note_authentication(const char *method, const char *credential,
					   const char *tenant_id, const char *user_id,
					   const char *client_addr, const char *details_json)
{
	TfEventOrigin origin;
	char	   *record;

	if (tf_events_available() && !first_use_in_interval(method, credential))
		return false;

	tf_event_origin(&origin, client_addr);
	record = tf_event_record(&origin, method, "authentication", "success",
							 tenant_id, user_id, NULL, details_json);
	tf_events_record_outside(record);
	return true;
}

/*
 * Records an event so that the caller's transaction neither writes nor
 * can take it back: through the queue.  Without the queue (taskforce not
 * preloaded) it writes the event at once, as the extension's owner, or in
 * a read-only transaction logs it.
 */
void
tf_events_record_outside(const char *record)
{
	if (tf_events_available() || RecoveryInProgress() || XactReadOnly)
		tf_events_enqueue(record);	/* without the queue: to the server log */
	else
		tf_spi_as_owner(apply_record, (void *) record);
}

/*
 * taskforce._note_authentication(method, credential, tenant_id, user_id,
 * client_addr, details): tf_note_authentication for SQL callers.
 */
Datum
taskforce_note_authentication(PG_FUNCTION_ARGS)
{
	char	   *method = text_arg(fcinfo, 0);

	if (method == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("authentication method must not be null")));
	PG_RETURN_BOOL(tf_note_authentication(method, text_arg(fcinfo, 1), text_arg(fcinfo, 2),
										  text_arg(fcinfo, 3), output_arg(fcinfo, 4, inet_out),
										  output_arg(fcinfo, 5, jsonb_out)));
}

/*
 * taskforce._reject_authentication(method, tenant_id, user_id, reason,
 * client_addr, details): queues the failure event with its precise reason,
 * then raises.  A password failure raises invalid_password "authentication
 * failed" whatever the reason, so the account's state cannot be probed;
 * other methods raise invalid_authorization_specification with the reason,
 * a lower-case phrase that never contains a secret.
 */
Datum
taskforce_reject_authentication(PG_FUNCTION_ARGS)
{
	char	   *method;
	char	   *tenant_id;
	char	   *user_id;
	char	   *reason;
	TfEventOrigin origin;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("authentication method must not be null")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reason must not be null")));
	method = text_arg(fcinfo, 0);
	tenant_id = text_arg(fcinfo, 1);
	user_id = text_arg(fcinfo, 2);
	reason = text_arg(fcinfo, 3);

	tf_event_origin(&origin, output_arg(fcinfo, 4, inet_out));
	tf_events_enqueue(tf_event_record(&origin, method, "authentication", "failure",
									  tenant_id, user_id, reason,
									  output_arg(fcinfo, 5, jsonb_out)));
	if (strcmp(method, "password") == 0)
	{
		tf_lockout_attempt_reported(tenant_id, user_id);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("authentication failed")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s", reason)));
	PG_RETURN_VOID();
}

/* Defines the settings and, when preloaded, requests the shared memory. */
void
tf_events_init(void)
{
	DefineCustomIntVariable("taskforce.auth_success_event_interval",
							"Records a successful JWT or API-key authentication only for the first use of each credential in this interval.",
							"0 records every use.  users.last_login_at and api_keys.last_used_at have the same granularity.",
							&tf_auth_success_event_interval,
							3600, 0, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	/* A PGC_POSTMASTER setting cannot be defined once the server runs. */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("taskforce.event_queue_size",
							"Security events that can wait in shared memory to be written.",
							"Failed authentications and bearer-credential successes wait here until "
							"the next write drains them into taskforce.security_events.",
							&tf_event_queue_size,
							1024, 16, 1048576,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = events_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = events_shmem_startup;
}
