/*-------------------------------------------------------------------------
 * src/auth/lockout.c
 *	  Failed-password counters and lockout, in shared memory.
 *
 * authenticate_password counts an attempt before it checks the password
 * (_password_attempt_begin), in a shared-memory table of
 * taskforce.lockout_entries (tenant, user) entries updated under an
 * LWLock: nothing a caller can exhaust, cancel or roll back.  A success
 * resets the count (_password_attempt_end); an attempt that never reaches
 * its end (cancelled, timed out, terminated) stays counted as failed, and
 * its transaction's end queues a failure event for it.  The account locks
 * when a failed attempt brings the count to the policy's
 * max_failed_attempts, or, for attempts that were cancelled, when the
 * next attempt begins.
 *
 * An entry is loaded from taskforce.user_credentials, as committed now,
 * when it is missing, and written back lazily: flush_security_events
 * (which every taskforce write runs, and the event writer every
 * taskforce.event_flush_interval) persists the entries that changed.  A
 * persisted entry that is not locked may be evicted to make room.  A
 * change an administrator makes to a credentials row (unlock, new
 * password, delete) drops the entry when the change commits (trigger
 * reset_lockout_state), so the table's values count again.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "auth/events.h"
#include "auth/lockout.h"
#include "util/owner.h"

#define TF_TENANT_ID_MAX 64		/* tenants_tenant_id_format: at most 63 bytes */
#define TF_USER_ID_MAX 264		/* users_user_id_format: at most 256 bytes */

typedef struct TfLockoutKey
{
	Oid			database_id;
	char		tenant_id[TF_TENANT_ID_MAX];
	char		user_id[TF_USER_ID_MAX];
} TfLockoutKey;

typedef struct TfLockoutEntry
{
	TfLockoutKey key;
	int32		failures;		/* attempts counted since the last success or lock */
	TimestampTz locked_until;	/* 0 when not locked */
	bool		dirty;			/* differs from what was last persisted */
	uint32		version;		/* bumped on every change */
} TfLockoutEntry;

/* An attempt of this transaction that has not reported its outcome yet. */
typedef struct TfPendingAttempt
{
	char	   *tenant_id;
	char	   *user_id;
	char	   *interrupted_record;	/* the failure event, should it never end */
	char	   *lockout_record; /* the lockout it caused, to queue after its failure event */
	bool		reported;
} TfPendingAttempt;

typedef enum TfChangeKind
{
	CHANGE_RESET,				/* drop the entry: its row changed */
	CHANGE_PERSISTED			/* the entry's version was written to the row */
} TfChangeKind;

/* A change to apply to the shared table when this transaction commits. */
typedef struct TfPendingChange
{
	TfChangeKind kind;
	TfLockoutKey key;
	uint32		version;
	SubTransactionId subid;
} TfPendingChange;

int			tf_lockout_entries = 10000;

static LWLock *lockout_lock = NULL;
static HTAB *lockout_table = NULL;
static List *pending_attempts = NIL;	/* in TopMemoryContext */
static List *pending_changes = NIL; /* in TopMemoryContext */
static bool persisting = false;
static bool callbacks_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(taskforce_password_attempt_begin);
PG_FUNCTION_INFO_V1(taskforce_password_attempt_end);
PG_FUNCTION_INFO_V1(taskforce_password_locked_until);
PG_FUNCTION_INFO_V1(taskforce_password_state_changed);

static void
lockout_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(hash_estimate_size(tf_lockout_entries, sizeof(TfLockoutEntry)));
	RequestNamedLWLockTranche("taskforce lockout", 1);
}

static void
lockout_shmem_startup(void)
{
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lockout_lock = &(GetNamedLWLockTranche("taskforce lockout"))[0].lock;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(TfLockoutKey);
	info.entrysize = sizeof(TfLockoutEntry);
	lockout_table = ShmemInitHash("taskforce lockout", tf_lockout_entries, tf_lockout_entries,
								  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

/* Raises unless the shared table exists. */
static void
require_table(void)
{
	if (lockout_table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("taskforce must be loaded through shared_preload_libraries to count failed passwords"),
				 errhint("Add taskforce to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* Fills the key of a user of this database. */
static void
make_key(TfLockoutKey *key, const char *tenant_id, const char *user_id)
{
	if (tenant_id == NULL || user_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tenant_id and user_id must not be null")));
	if (strlen(tenant_id) >= TF_TENANT_ID_MAX || strlen(user_id) >= TF_USER_ID_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant_id or user_id is too long")));
	memset(key, 0, sizeof(*key));
	key->database_id = MyDatabaseId;
	strlcpy(key->tenant_id, tenant_id, TF_TENANT_ID_MAX);
	strlcpy(key->user_id, user_id, TF_USER_ID_MAX);
}

/*
 * Drops entries that hold nothing the table lacks: persisted and not
 * locked, whatever their count (a user missing from the table is loaded
 * from its row as committed now, see read_stored).  Keeping every entry
 * with a count would let the table fill up with users who failed once,
 * refusing every other user's password.  Caller holds the lock
 * exclusively.
 */
static int
evict_idle(TimestampTz now)
{
	HASH_SEQ_STATUS status;
	TfLockoutEntry *entry;
	int			removed = 0;

	hash_seq_init(&status, lockout_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!entry->dirty && entry->locked_until <= now)
		{
			hash_search(lockout_table, &entry->key, HASH_REMOVE, NULL);
			removed++;
		}
	}
	return removed;
}

/* A user's persisted counters, read by read_stored. */
typedef struct TfStoredCounters
{
	const char *tenant_id;
	const char *user_id;
	bool		found;
	int32		failures;
	TimestampTz locked_until;
} TfStoredCounters;

/*
 * Reads a user's user_credentials counters; run through tf_spi_as_owner,
 * so under a snapshot taken now.  The caller's snapshot (a REPEATABLE
 * READ transaction's) may predate counts persisted since, and an entry
 * evicted after they were persisted must not come back from older ones.
 */
static void
read_stored(void *arg)
{
	TfStoredCounters *stored = (TfStoredCounters *) arg;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	Datum		value;
	bool		isnull;
	int			rc;

	values[0] = CStringGetTextDatum(stored->tenant_id);
	values[1] = CStringGetTextDatum(stored->user_id);
	rc = SPI_execute_with_args("SELECT c.failed_attempts, c.locked_until"
							   " FROM taskforce.user_credentials AS c"
							   " WHERE c.tenant_id = $1 AND c.user_id = $2",
							   2, types, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading password counters returned %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		return;
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	stored->failures = isnull ? 0 : DatumGetInt32(value);
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	stored->locked_until = isnull ? 0 : DatumGetTimestampTz(value);
	stored->found = true;
}

/* Locks the account from now on; returns the lockout event to queue. Caller holds the lock. */
static char *
lock_entry(TfLockoutEntry *entry, int lockout_minutes, const TfEventOrigin *origin)
{
	TimestampTz now = GetCurrentTimestamp();
	StringInfoData details;
	int32		attempts = entry->failures;

	entry->locked_until = now + (TimestampTz) lockout_minutes * USECS_PER_MINUTE;
	entry->failures = 0;
	entry->dirty = true;
	entry->version++;

	initStringInfo(&details);
	appendStringInfo(&details, "{\"failed_attempts\":%d,\"lockout_minutes\":%d",
					 attempts, lockout_minutes);
	tf_json_timestamp(&details, "locked_until", entry->locked_until);
	appendStringInfoChar(&details, '}');
	return tf_event_record(origin, "password", "lockout", "failure",
						   entry->key.tenant_id, entry->key.user_id,
						   "too many failed password attempts", details.data);
}

static void lockout_xact_callback(XactEvent event, void *arg);
static void lockout_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									 SubTransactionId parentSubid, void *arg);

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(lockout_xact_callback, NULL);
	RegisterSubXactCallback(lockout_subxact_callback, NULL);
	callbacks_registered = true;
}

/* Remembers an attempt of this transaction until it reports its outcome. */
static void
add_pending_attempt(const char *tenant_id, const char *user_id, const TfEventOrigin *origin)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	TfPendingAttempt *p = palloc0(sizeof(TfPendingAttempt));

	p->tenant_id = pstrdup(tenant_id);
	p->user_id = pstrdup(user_id);
	p->interrupted_record = tf_event_record(origin, "password", "authentication", "failure",
											tenant_id, user_id,
											"attempt interrupted before its outcome",
											"{\"counted_as_failed\":true}");
	pending_attempts = lappend(pending_attempts, p);
	MemoryContextSwitchTo(old);
}

static TfPendingAttempt *find_pending_attempt(const char *tenant_id, const char *user_id);

/* Marks this transaction's latest unreported attempt for the user as reported. */
void
tf_lockout_attempt_reported(const char *tenant_id, const char *user_id)
{
	TfPendingAttempt *found;

	if (tenant_id == NULL || user_id == NULL)
		return;
	found = find_pending_attempt(tenant_id, user_id);
	if (found == NULL)
		return;
	found->reported = true;
	if (found->lockout_record != NULL)
	{
		tf_events_enqueue(found->lockout_record);
		pfree(found->lockout_record);
		found->lockout_record = NULL;
	}
}

/* Returns this transaction's latest unreported attempt for the key, or NULL. */
static TfPendingAttempt *
find_pending_attempt(const char *tenant_id, const char *user_id)
{
	ListCell   *lc;
	TfPendingAttempt *found = NULL;

	foreach(lc, pending_attempts)
	{
		TfPendingAttempt *p = lfirst(lc);

		if (!p->reported && strcmp(p->tenant_id, tenant_id) == 0 &&
			strcmp(p->user_id, user_id) == 0)
			found = p;
	}
	return found;
}

/* Tells whether this transaction has changed the user's credentials row. */
static bool
reset_pending(const TfLockoutKey *key)
{
	ListCell   *lc;

	foreach(lc, pending_changes)
	{
		TfPendingChange *c = lfirst(lc);

		if (c->kind == CHANGE_RESET && memcmp(&c->key, key, sizeof(TfLockoutKey)) == 0)
			return true;
	}
	return false;
}

/* Queues the failure event of every attempt that never reported, and forgets them. */
static void
settle_attempts(void)
{
	ListCell   *lc;

	foreach(lc, pending_attempts)
	{
		TfPendingAttempt *p = lfirst(lc);

		if (!p->reported)
			tf_events_enqueue(p->interrupted_record);
		if (p->lockout_record != NULL)
		{
			tf_events_enqueue(p->lockout_record);
			pfree(p->lockout_record);
		}
		pfree(p->interrupted_record);
		pfree(p->tenant_id);
		pfree(p->user_id);
		pfree(p);
	}
	list_free(pending_attempts);
	pending_attempts = NIL;
}

/* Applies (at commit) or forgets (at abort) the changes to the shared table. */
static void
settle_changes(bool committed)
{
	ListCell   *lc;

	if (pending_changes == NIL)
		return;
	if (committed && lockout_table != NULL)
	{
		LWLockAcquire(lockout_lock, LW_EXCLUSIVE);
		foreach(lc, pending_changes)
		{
			TfPendingChange *c = lfirst(lc);
			TfLockoutEntry *entry = hash_search(lockout_table, &c->key, HASH_FIND, NULL);

			if (entry == NULL)
				continue;
			if (c->kind == CHANGE_RESET)
				hash_search(lockout_table, &c->key, HASH_REMOVE, NULL);
			else if (entry->version == c->version)
				entry->dirty = false;
		}
		LWLockRelease(lockout_lock);
	}
	list_free_deep(pending_changes);
	pending_changes = NIL;
}

static void
add_pending_change(TfChangeKind kind, const TfLockoutKey *key, uint32 version)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	TfPendingChange *c = palloc(sizeof(TfPendingChange));

	c->kind = kind;
	c->key = *key;
	c->version = version;
	c->subid = GetCurrentSubTransactionId();
	pending_changes = lappend(pending_changes, c);
	MemoryContextSwitchTo(old);
	register_callbacks();
}

static void
lockout_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending_changes != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that changed password credentials")));
			settle_attempts();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			settle_attempts();
			settle_changes(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			settle_attempts();
			settle_changes(false);
			break;
		default:
			break;
	}
}

static void
lockout_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (pending_changes == NIL)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_changes)
		{
			TfPendingChange *c = lfirst(lc);

			if (c->subid == mySubid)
				c->subid = parentSubid;
		}
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending_changes)
		{
			TfPendingChange *c = lfirst(lc);

			if (c->subid == mySubid)
			{
				pending_changes = foreach_delete_current(pending_changes, lc);
				pfree(c);
			}
		}
	}
}

/*
 * taskforce._password_attempt_begin(tenant_id, user_id, stored_failed,
 * stored_locked_until, max_failed_attempts, lockout_minutes): counts an
 * attempt of the user, before its password is checked.  Returns NULL if
 * the attempt may go on, or why it must fail: the account is locked (or
 * locks now, because earlier attempts that never ended reached the limit),
 * or the table is full.  A user without an entry starts from its
 * user_credentials row as committed now; the stored_ arguments (the row
 * as the caller read it) count only when that row is gone.  With a
 * NULL tenant or user (no such user, or no password) it counts nothing but
 * still raises when taskforce was not preloaded, so that the error does
 * not depend on whether the user exists.
 */
Datum
taskforce_password_attempt_begin(PG_FUNCTION_ARGS)
{
	TfLockoutKey key;
	TfLockoutEntry *entry;
	TfEventOrigin origin;
	TimestampTz now = GetCurrentTimestamp();
	char	   *tenant_id = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *user_id = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	int32		stored_failed = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	TimestampTz stored_locked = PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3);
	int32		max_failed = PG_ARGISNULL(4) ? 5 : PG_GETARG_INT32(4);
	int32		lockout_minutes = PG_ARGISNULL(5) ? 15 : PG_GETARG_INT32(5);
	char	   *refusal = NULL;
	char	   *lockout_record = NULL;
	bool		found;

	require_table();
	/* an unknown user: nothing to count, but the same checks ran */
	if (tenant_id == NULL || user_id == NULL)
		PG_RETURN_NULL();
	make_key(&key, tenant_id, user_id);
	tf_event_origin(&origin, NULL);
	register_callbacks();

	/* A user without an entry starts from its row as committed now. */
	LWLockAcquire(lockout_lock, LW_SHARED);
	found = hash_search(lockout_table, &key, HASH_FIND, NULL) != NULL;
	LWLockRelease(lockout_lock);
	if (!found)
	{
		TfStoredCounters stored;

		memset(&stored, 0, sizeof(stored));
		stored.tenant_id = tenant_id;
		stored.user_id = user_id;
		(void) tf_spi_as_owner(read_stored, &stored);
		if (stored.found)
		{
			stored_failed = stored.failures;
			stored_locked = stored.locked_until;
		}
	}

	LWLockAcquire(lockout_lock, LW_EXCLUSIVE);
	entry = hash_search(lockout_table, &key, HASH_ENTER_NULL, &found);
	if (entry == NULL && evict_idle(now) > 0)
		entry = hash_search(lockout_table, &key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
		refusal = "lockout table is full";
	else
	{
		if (!found)
		{
			entry->failures = Max(stored_failed, 0);
			entry->locked_until = stored_locked;
			entry->dirty = false;
			entry->version = 0;
		}
		if (entry->locked_until > now)
			refusal = "account is locked";
		else
		{
			if (entry->locked_until != 0)
			{
				/* the lock has run out: start counting afresh */
				entry->locked_until = 0;
				entry->failures = 0;
			}
			if (entry->failures >= max_failed)
			{
				lockout_record = lock_entry(entry, lockout_minutes, &origin);
				refusal = "account is locked";
			}
			else
			{
				entry->failures++;
				entry->dirty = true;
				entry->version++;
			}
		}
	}
	LWLockRelease(lockout_lock);

	if (entry == NULL)
		ereport(LOG,
				(errhidestmt(true),
				 errmsg("taskforce lockout table is full; refusing a password attempt"),
				 errhint("Raise taskforce.lockout_entries.")));
	if (lockout_record != NULL)
		tf_events_enqueue(lockout_record);
	if (refusal != NULL)
		PG_RETURN_TEXT_P(cstring_to_text(refusal));
	add_pending_attempt(tenant_id, user_id, &origin);
	PG_RETURN_NULL();
}

/*
 * taskforce._password_attempt_end(tenant_id, user_id, succeeded,
 * max_failed_attempts, lockout_minutes): ends an attempt that began.  A
 * success clears the count; a failure locks the account if the count has
 * reached max_failed_attempts (and queues the lockout event).
 */
Datum
taskforce_password_attempt_end(PG_FUNCTION_ARGS)
{
	TfLockoutKey key;
	TfLockoutEntry *entry;
	TfEventOrigin origin;
	char	   *tenant_id = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *user_id = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		succeeded = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	int32		max_failed = PG_ARGISNULL(3) ? 5 : PG_GETARG_INT32(3);
	int32		lockout_minutes = PG_ARGISNULL(4) ? 15 : PG_GETARG_INT32(4);
	char	   *lockout_record = NULL;

	require_table();
	make_key(&key, tenant_id, user_id);
	tf_event_origin(&origin, NULL);

	LWLockAcquire(lockout_lock, LW_EXCLUSIVE);
	entry = hash_search(lockout_table, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		if (succeeded)
		{
			if (entry->failures != 0)
			{
				entry->failures = 0;
				entry->dirty = true;
				entry->version++;
			}
		}
		else if (entry->failures >= max_failed && entry->locked_until == 0)
			lockout_record = lock_entry(entry, lockout_minutes, &origin);
	}
	LWLockRelease(lockout_lock);

	if (lockout_record != NULL)
	{
		/* queued after the attempt's own failure event, or at once */
		TfPendingAttempt *p = find_pending_attempt(tenant_id, user_id);

		if (p != NULL)
			p->lockout_record = MemoryContextStrdup(TopMemoryContext, lockout_record);
		else
			tf_events_enqueue(lockout_record);
	}
	if (succeeded)
		tf_lockout_attempt_reported(tenant_id, user_id);
	PG_RETURN_VOID();
}

/*
 * taskforce._password_locked_until(tenant_id, user_id, stored_locked_until):
 * until when the user is locked (NULL when not), from the shared entry,
 * or from the stored value when there is none.
 */
Datum
taskforce_password_locked_until(PG_FUNCTION_ARGS)
{
	TfLockoutKey key;
	TfLockoutEntry *entry;
	TimestampTz locked_until;
	bool		known = false;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	locked_until = PG_ARGISNULL(2) ? 0 : PG_GETARG_TIMESTAMPTZ(2);
	if (lockout_table != NULL)
	{
		make_key(&key, text_to_cstring(PG_GETARG_TEXT_PP(0)),
				 text_to_cstring(PG_GETARG_TEXT_PP(1)));
		LWLockAcquire(lockout_lock, LW_SHARED);
		entry = hash_search(lockout_table, &key, HASH_FIND, NULL);
		/* a change of the row in this transaction replaces the entry */
		if (entry != NULL && !reset_pending(&key))
		{
			locked_until = entry->locked_until;
			known = true;
		}
		LWLockRelease(lockout_lock);
	}
	if (locked_until == 0 || (known && locked_until <= GetCurrentTimestamp()))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(locked_until);
}

/*
 * Trigger reset_lockout_state on taskforce.user_credentials (AFTER INSERT,
 * UPDATE or DELETE, for each row): once the change commits, the user's
 * shared entry is dropped, so the row's values (an unlock, a new
 * password) count.  Writes of the lazy persistence itself are ignored.
 */
Datum
taskforce_password_state_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		tenant_id;
	Datum		user_id;
	TfLockoutKey key;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_password_state_changed must be an AFTER ... FOR EACH ROW trigger")));
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (persisting || lockout_table == NULL)
		return PointerGetDatum(tuple);

	desc = RelationGetDescr(trigdata->tg_relation);
	tenant_id = heap_getattr(trigdata->tg_trigtuple,
							 SPI_fnumber(desc, "tenant_id"), desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);
	user_id = heap_getattr(trigdata->tg_trigtuple,
						   SPI_fnumber(desc, "user_id"), desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);
	make_key(&key, TextDatumGetCString(tenant_id), TextDatumGetCString(user_id));
	add_pending_change(CHANGE_RESET, &key, 0);
	return PointerGetDatum(tuple);
}

/*
 * Writes the counters of this database's changed entries to
 * user_credentials, in the caller's (write) transaction; they count as
 * persisted once it commits.  Returns how many rows it wrote.
 */
int64
tf_lockout_persist(void)
{
	HASH_SEQ_STATUS status;
	TfLockoutEntry *entry;
	TfLockoutEntry *changed;
	int			nchanged = 0;
	int			capacity = 16;
	volatile int i;

	if (lockout_table == NULL)
		return 0;
	changed = palloc(sizeof(TfLockoutEntry) * capacity);
	LWLockAcquire(lockout_lock, LW_SHARED);
	hash_seq_init(&status, lockout_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!entry->dirty || entry->key.database_id != MyDatabaseId ||
			reset_pending(&entry->key))
			continue;
		if (nchanged == capacity)
		{
			capacity *= 2;
			changed = repalloc(changed, sizeof(TfLockoutEntry) * capacity);
		}
		changed[nchanged++] = *entry;
	}
	LWLockRelease(lockout_lock);
	if (nchanged == 0)
		return 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	persisting = true;
	PG_TRY();
	{
		for (i = 0; i < nchanged; i++)
		{
			StringInfoData record;

			initStringInfo(&record);
			appendStringInfoChar(&record, '{');
			tf_json_field(&record, "record", "password_attempts", true);
			tf_json_field(&record, "tenant_id", changed[i].key.tenant_id, false);
			tf_json_field(&record, "user_id", changed[i].key.user_id, false);
			appendStringInfo(&record, ",\"failed_attempts\":%d", changed[i].failures);
			tf_json_timestamp(&record, "locked_until", changed[i].locked_until);
			appendStringInfoChar(&record, '}');
			tf_events_apply(record.data);
			add_pending_change(CHANGE_PERSISTED, &changed[i].key, changed[i].version);
		}
	}
	PG_FINALLY();
	{
		persisting = false;
	}
	PG_END_TRY();
	SPI_finish();
	return nchanged;
}

/* Adds to dbs (a list of OIDs) the databases with counters not yet persisted. */
List *
tf_lockout_pending_databases(List *dbs)
{
	HASH_SEQ_STATUS status;
	TfLockoutEntry *entry;

	if (lockout_table == NULL)
		return dbs;
	LWLockAcquire(lockout_lock, LW_SHARED);
	hash_seq_init(&status, lockout_table);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->dirty)
			dbs = list_append_unique_oid(dbs, entry->key.database_id);
	LWLockRelease(lockout_lock);
	return dbs;
}

/*
 * Drops the entries of a database whose counters can never be persisted
 * (it was dropped, or taskforce is no longer installed in it), so that
 * they neither wait forever nor count for a later database with its OID.
 */
void
tf_lockout_discard_database(Oid database_id)
{
	HASH_SEQ_STATUS status;
	TfLockoutEntry *entry;

	if (lockout_table == NULL)
		return;
	LWLockAcquire(lockout_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, lockout_table);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->key.database_id == database_id)
			hash_search(lockout_table, &entry->key, HASH_REMOVE, NULL);
	LWLockRelease(lockout_lock);
}

/* Logs the counters not yet persisted, which a stopping server loses. */
void
tf_lockout_log_unpersisted(void)
{
	HASH_SEQ_STATUS status;
	TfLockoutEntry *entry;
	List	   *changed = NIL;
	ListCell   *lc;

	if (lockout_table == NULL)
		return;
	LWLockAcquire(lockout_lock, LW_SHARED);
	hash_seq_init(&status, lockout_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->dirty)
		{
			TfLockoutEntry *copy = palloc(sizeof(TfLockoutEntry));

			*copy = *entry;
			changed = lappend(changed, copy);
		}
	}
	LWLockRelease(lockout_lock);

	foreach(lc, changed)
	{
		TfLockoutEntry *e = lfirst(lc);

		ereport(LOG,
				(errhidestmt(true),
				 errmsg("taskforce failed-password counters not yet persisted at shutdown of the event writer"),
				 errdetail("Database OID %u, tenant \"%s\", user \"%s\": failed_attempts %d, locked until %s.",
						   e->key.database_id, e->key.tenant_id, e->key.user_id, e->failures,
						   e->locked_until == 0 ? "never" : timestamptz_to_str(e->locked_until))));
	}
	list_free_deep(changed);
}

/*
 * When preloaded, defines taskforce.lockout_entries and requests the shared
 * table (a PGC_POSTMASTER setting cannot be defined once the server runs).
 */
void
tf_lockout_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("taskforce.lockout_entries",
							"Users whose failed passwords are counted in shared memory at once.",
							"Also the number of credentials whose last recorded use is remembered.",
							&tf_lockout_entries,
							10000, 100, 10000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = lockout_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = lockout_shmem_startup;
}
