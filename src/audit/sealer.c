/*-------------------------------------------------------------------------
 * src/audit/sealer.c
 *	  The background sealer: seals the audit log of every database that has
 *	  taskforce every taskforce.audit_seal_interval, with the code of
 *	  seal_audit() (tf_audit_seal, seal.c), and keeps the monthly audit_log
 *	  partitions ahead.
 *
 * It has the event writer's shape (src/util/launcher.c): a static worker,
 * "taskforce audit sealer", registered at preload time and started once
 * recovery has finished (never on a hot standby), lists the databases to
 * visit each round and starts, one at a time, a short-lived dynamic worker
 * per database ("taskforce audit seal") that seals there as the extension's
 * owner.  Each worker is its own process and transaction: an error in one
 * database is logged and the round goes on with the next.
 *
 * Which databases: visiting every database every second would start a
 * process per database per second.  So the audit trigger notes, once per
 * transaction, its top-level full xid in a shared-memory slot of its
 * database (written_below = highest such xid + 1), and each seal worker
 * notes the boundary its seal reached (sealed_below: every transaction
 * below it has finished and, if it committed entries, is sealed).  A
 * database is visited when written_below > sealed_below: a transaction
 * still running at a seal keeps its database pending until a later seal
 * passes it.  A database without taskforce, or whose taskforce predates
 * the audit log, has no slot and is never visited in a normal round.
 *
 * A sweep visits every database that accepts connections: at start (the
 * slots are empty after a restart, and entries written before it may be
 * unsealed), then once an hour, when it also creates the coming months'
 * partitions; and every round while more databases wrote entries than
 * there are slots.  In a database without taskforce a sweep's worker only
 * looks up pg_extension and exits.
 *
 * Sealers serialise on the log state's row lock (seal.c): a manual
 * seal_audit() concurrent with the worker is safe, the later one seals what
 * the earlier left.  The worker waits for that lock at most
 * TF_SEAL_LOCK_TIMEOUT, then tries again next round.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "audit/seal.h"
#include "audit/sealer.h"
#include "util/launcher.h"
#include "util/owner.h"

#define TF_SEALER_RESTART_SECONDS 10	/* after the launcher failed */
#define TF_SEALER_DATABASES 256 /* databases tracked in shared memory */
#define TF_SEALER_SWEEP_MS (3600 * 1000L)	/* every database, and partitions */
#define TF_SEAL_CHUNK 100000	/* entries per seal transaction of the worker */
#define TF_SEAL_LOCK_TIMEOUT "5s"	/* a manual seal held longer: next round */
#define TF_PARTITION_LOCK_TIMEOUT "100ms"	/* writers queue behind a waiting CREATE TABLE */

static int	tf_audit_seal_interval = 1000;	/* milliseconds; 0 = off */

/* A database that has written audit entries since the server started. */
typedef struct TfSealerDatabase
{
	Oid			database_id;	/* InvalidOid: a free slot */
	pg_atomic_uint64 written_below; /* highest writing full xid + 1 */
	uint64		sealed_below;	/* boundary of the last seal by a worker */
} TfSealerDatabase;

typedef struct TfSealerShared
{
	LWLock	   *lock;			/* slot assignment and sealed_below */
	bool		overflow;		/* a database found no free slot */
	TfSealerDatabase databases[TF_SEALER_DATABASES];
} TfSealerShared;

static TfSealerShared *shared = NULL;
static TfSealerDatabase *my_slot = NULL;	/* this backend's database's slot */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The launcher's round of seal workers; extra[0] asks them for partitions. */
static TfLauncherRound seal_round = {
	.function = "taskforce_audit_seal_main",
	.type = "taskforce audit seal",
	.shortage_message = "taskforce audit sealer found no free background worker slot; the audit entries wait for the next round",
};

static void
sealer_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(TfSealerShared));
	RequestNamedLWLockTranche("taskforce audit sealer", 1);
}

static void
sealer_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("taskforce audit sealer", sizeof(TfSealerShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(TfSealerShared));
		shared->lock = &(GetNamedLWLockTranche("taskforce audit sealer"))[0].lock;
		for (int i = 0; i < TF_SEALER_DATABASES; i++)
			pg_atomic_init_u64(&shared->databases[i].written_below, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Defines taskforce.audit_seal_interval and, when preloaded, the shared slots and the launcher. */
void
tf_sealer_init(void)
{
	DefineCustomIntVariable("taskforce.audit_seal_interval",
							"How often the audit sealer seals the audit log of every database.",
							"0 turns it off: entries then wait for taskforce.seal_audit().",
							&tf_audit_seal_interval,
							1000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sealer_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sealer_shmem_startup;
	tf_launcher_register("taskforce_audit_sealer_main", "taskforce audit sealer",
						 TF_SEALER_RESTART_SECONDS);
}

/* The slot of a database, or NULL (caller holds the lock). */
static TfSealerDatabase *
find_slot(Oid database_id)
{
	for (int i = 0; i < TF_SEALER_DATABASES; i++)
		if (shared->databases[i].database_id == database_id)
			return &shared->databases[i];
	return NULL;
}

/*
 * Notes that the current transaction (fxid) writes audit entries in this
 * database: one compare-and-swap on the database's slot per transaction.
 * Without preloading there is no sealer and nothing to note.
 */
void
tf_sealer_note_write(FullTransactionId fxid)
{
	uint64		want = U64FromFullTransactionId(fxid) + 1;
	uint64		cur;

	if (shared == NULL)
		return;
	if (my_slot == NULL)
	{
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		my_slot = find_slot(MyDatabaseId);
		if (my_slot == NULL && (my_slot = find_slot(InvalidOid)) != NULL)
		{
			pg_atomic_write_u64(&my_slot->written_below, 0);
			my_slot->sealed_below = 0;
			my_slot->database_id = MyDatabaseId;
		}
		if (my_slot == NULL)
			shared->overflow = true;	/* the sweeps find this database */
		LWLockRelease(shared->lock);
		if (my_slot == NULL)
			return;
	}
	cur = pg_atomic_read_u64(&my_slot->written_below);
	while (cur < want && !pg_atomic_compare_exchange_u64(&my_slot->written_below, &cur, want))
		;
}

/* Records, after its commit, the boundary a worker's seal reached in this database. */
static void
note_sealed(uint64 boundary)
{
	TfSealerDatabase *slot;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot = find_slot(MyDatabaseId);
	if (slot != NULL && slot->sealed_below < boundary)
		slot->sealed_below = boundary;
	LWLockRelease(shared->lock);
}

/* Frees the slot of a database that was dropped (in a transaction). */
static void
forget_if_dropped(Oid database_id)
{
	TfSealerDatabase *slot;

	if (tf_launcher_database_exists(database_id))
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot = find_slot(database_id);
	if (slot != NULL)
		slot->database_id = InvalidOid;
	LWLockRelease(shared->lock);
}

/* Lists, in TopMemoryContext, the databases with entries not yet sealed. */
static List *
pending_databases(void)
{
	List	   *dbs = NIL;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < TF_SEALER_DATABASES; i++)
	{
		TfSealerDatabase *slot = &shared->databases[i];

		if (OidIsValid(slot->database_id) &&
			pg_atomic_read_u64(&slot->written_below) > slot->sealed_below)
			dbs = lappend_oid(dbs, slot->database_id);
	}
	LWLockRelease(shared->lock);
	MemoryContextSwitchTo(old);
	return tf_launcher_keep_existing(dbs, forget_if_dropped);
}

/* Lists, in TopMemoryContext, every database that accepts connections; frees dropped ones' slots. */
static List *
all_databases(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			tracked[TF_SEALER_DATABASES];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn)
			continue;
		old = MemoryContextSwitchTo(TopMemoryContext);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < TF_SEALER_DATABASES; i++)
		tracked[i] = shared->databases[i].database_id;
	LWLockRelease(shared->lock);
	for (int i = 0; i < TF_SEALER_DATABASES; i++)
		if (OidIsValid(tracked[i]))
			forget_if_dropped(tracked[i]);
	CommitTransactionCommand();
	return dbs;
}

/* The launcher's main loop. */
void
taskforce_audit_sealer_main(Datum main_arg)
{
	int			interval = tf_audit_seal_interval;
	TimestampTz next_round = 0;
	TimestampTz next_sweep = 0; /* sweep at once: the slots start empty */
	bool		sweeping = false;
	bool		overflow_logged = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGINT, SIG_IGN);	/* it runs no statement to cancel */
	BackgroundWorkerUnblockSignals();
	/* no database: only the shared catalogs, to list the databases */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	for (;;)
	{
		long		timeout = -1;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		/* exit code 1: the postmaster restarts it unless the server is stopping */
		if (ShutdownRequestPending)
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (tf_audit_seal_interval != interval)
			{
				interval = tf_audit_seal_interval;
				next_round = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), interval);
			}
		}
		tf_launcher_reap(&seal_round);

		if (interval > 0 && !RecoveryInProgress())
		{
			TimestampTz now = GetCurrentTimestamp();

			if (tf_launcher_idle(&seal_round) && now >= next_round)
			{
				bool		timed_sweep = now >= next_sweep;

				if (shared->overflow && !overflow_logged)
					ereport(LOG,
							(errmsg("taskforce audit sealer tracks at most %d databases; it now visits every database each round",
									TF_SEALER_DATABASES)));
				overflow_logged = shared->overflow;
				sweeping = timed_sweep || shared->overflow;
				seal_round.extra[0] = timed_sweep ? 1 : 0;
				seal_round.databases = sweeping ? all_databases() : pending_databases();
				if (timed_sweep)
					next_sweep = TimestampTzPlusMilliseconds(now, TF_SEALER_SWEEP_MS);
				next_round = TimestampTzPlusMilliseconds(now, interval);
			}
			if (seal_round.databases != NIL && seal_round.worker == NULL)
			{
				tf_launcher_start_next(&seal_round);
				/* a sweep cut short by a slot shortage is due again */
				if (sweeping && tf_launcher_idle(&seal_round) && seal_round.shortage_logged)
					next_sweep = 0;
			}
			timeout = Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_round), 1);
		}

		/* a seal worker's exit sets the latch (bgw_notify_pid) */
		rc = WaitLatch(MyLatch,
					   WL_LATCH_SET | WL_POSTMASTER_DEATH | (timeout >= 0 ? WL_TIMEOUT : 0),
					   timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (rc & WL_POSTMASTER_DEATH)
			proc_exit(1);
	}
}

/* Tells whether this database has taskforce with its audit log (0.5.0 on). */
static bool
audit_log_installed(void)
{
	Oid			ns;

	if (!OidIsValid(get_extension_oid("taskforce", true)))
		return false;
	ns = get_namespace_oid("taskforce", true);
	return OidIsValid(ns) && OidIsValid(get_relname_relid("audit_log_state", ns));
}

/* One seal of at most TF_SEAL_CHUNK entries, through tf_spi_as_owner. */
static void
seal_chunk(void *result)
{
	tf_audit_seal(TF_SEAL_CHUNK, (TfSealResult *) result);
}

/* Creates the coming months' partitions, through tf_spi_as_owner. */
static void
create_partitions(void *created)
{
	bool		isnull;

	if (SPI_execute("SELECT count(*)::integer FROM taskforce.create_audit_partitions()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "taskforce audit sealer: create_audit_partitions failed");
	*(int *) created = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Runs fn(arg) as the extension's owner in a transaction of its own. */
static void
run_as_owner(const char *activity, void (*fn) (void *), void *arg)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	tf_spi_as_owner(fn, arg);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * A seal worker: connects to the database given as its argument (as the
 * bootstrap superuser) and, if taskforce's audit log is there, seals it as
 * the extension's owner, in transactions of at most TF_SEAL_CHUNK entries,
 * until nothing finished is left; asked to (extra[0]), then creates the
 * coming months' partitions.
 */
void
taskforce_audit_seal_main(Datum main_arg)
{
	Oid			database_id = DatumGetObjectId(main_arg);
	bool		partitions = MyBgworkerEntry->bgw_extra[0] != 0;
	bool		installed;
	TfSealResult result;
	int64		total = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(database_id, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	/* the database's defaults must not stop or break a seal */
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", TF_SEAL_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	installed = audit_log_installed();
	CommitTransactionCommand();
	if (!installed)
	{
		ereport(DEBUG1,
				(errmsg("taskforce audit sealer skips database %u: no taskforce audit log", database_id)));
		proc_exit(0);
	}

	do
	{
		CHECK_FOR_INTERRUPTS();
		run_as_owner("sealing the taskforce audit log", seal_chunk, &result);
		note_sealed(result.boundary);
		total += result.sealed;
	} while (result.sealed >= TF_SEAL_CHUNK);

	if (partitions)
	{
		int			created = 0;

		SetConfigOption("lock_timeout", TF_PARTITION_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
		run_as_owner("creating taskforce audit_log partitions", create_partitions, &created);
		if (created > 0)
			ereport(LOG,
					(errmsg("taskforce audit sealer created %d audit_log partitions in database %u",
							created, database_id)));
	}
	ereport(DEBUG1,
			(errmsg("taskforce audit sealer sealed %lld entries in database %u (tree size %llu)",
					(long long) total, database_id, (unsigned long long) result.tree_size)));
	proc_exit(0);
}
