/*-------------------------------------------------------------------------
 * src/auth/writer.c
 *	  The event writer: writes the queued security events and the
 *	  failed-password counters of every database, so that they reach their
 *	  tables on a server where nothing else writes.
 *
 * The queue (events.c) and the counters (lockout.c) are in shared memory,
 * shared by every database; a background worker can connect to only one
 * database.  So a static worker, "taskforce event writer", registered at
 * preload time (it takes no dynamic slot, and no caller can take its
 * place), acts as a launcher: every taskforce.event_flush_interval it
 * lists the databases that have something queued and starts, one at a
 * time, a short-lived dynamic worker per database ("taskforce event
 * flush") that runs the code of flush_security_events there as the
 * extension's owner.  A queue half full wakes it early (at most once a
 * second), so that a burst of events is written before it overflows.
 * With no free worker slot it tries again at the next interval (or early
 * wake-up): the events stay queued meanwhile (an overflow is counted and
 * reported as always).
 *
 * The launcher starts when recovery has finished: a hot standby queues
 * nothing (its events go to the server log).  A database that was dropped,
 * or in which taskforce is no longer installed, cannot take its events:
 * they go to the server log and leave the queue.
 *
 * At shutdown the postmaster sends SIGTERM to the launcher before the
 * shutdown checkpoint; it then writes every event still queued, and every
 * counter not yet persisted, to the server log, and from then on every
 * event that is queued or returned to the queue goes to the log as well.
 * A crash or an immediate stop loses what is queued (at most about one
 * interval's worth).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "auth/events.h"
#include "auth/lockout.h"
#include "auth/writer.h"
#include "util/launcher.h"
#include "util/owner.h"

#define TF_WRITER_RESTART_SECONDS 10	/* after the launcher failed */
#define TF_FLUSH_LOCK_TIMEOUT "5s"	/* then the flush gives up until the next interval */
#define TF_EARLY_ROUND_MS 1000		/* least time between rounds for a half-full queue */

static int	tf_event_flush_interval = 10;	/* seconds; 0 = off */

/* The launcher's round of flush workers. */
static TfLauncherRound flush_round = {
	.function = "taskforce_event_flush_main",
	.type = "taskforce event flush",
	.shortage_message = "taskforce event writer found no free background worker slot; the queued security events wait for the next try",
};

/* Defines taskforce.event_flush_interval and, when preloaded, registers the launcher. */
void
tf_writer_init(void)
{
	DefineCustomIntVariable("taskforce.event_flush_interval",
							"How often the event writer writes the queued security events and failed-password counters.",
							"0 turns it off: the events then wait for the next taskforce write or flush_security_events().",
							&tf_event_flush_interval,
							10, 0, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		tf_launcher_register("taskforce_event_writer_main", "taskforce event writer",
							 TF_WRITER_RESTART_SECONDS);
}

/* A dropped database's queued events go to the server log, its counters are forgotten. */
static void
discard_dropped(Oid db)
{
	tf_events_discard_database(db, "its database was dropped");
	tf_lockout_discard_database(db);
}

/* Lists the databases with queued events or unpersisted counters, in TopMemoryContext. */
static List *
pending_databases(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	List	   *dbs = tf_lockout_pending_databases(tf_events_pending_databases(NIL));

	MemoryContextSwitchTo(old);
	return tf_launcher_keep_existing(dbs, discard_dropped);
}

/* Logs what a stopping server would lose, then exits (the postmaster restarts it if the server goes on). */
static void
stop_writer(void)
{
	tf_events_writer_stopping();
	tf_lockout_log_unpersisted();
	proc_exit(1);
}

/* The launcher's main loop. */
void
taskforce_event_writer_main(Datum main_arg)
{
	int			interval = tf_event_flush_interval;
	TimestampTz next_round;
	TimestampTz last_round = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGINT, SIG_IGN);	/* it runs no statement to cancel */
	BackgroundWorkerUnblockSignals();
	/* no database: only the shared catalogs, to tell which databases exist */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	tf_events_writer_started();
	next_round = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), interval * 1000L);

	for (;;)
	{
		long		timeout = -1;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			stop_writer();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (tf_event_flush_interval != interval)
			{
				interval = tf_event_flush_interval;
				next_round = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), interval * 1000L);
			}
		}
		tf_launcher_reap(&flush_round);

		if (interval > 0 && !RecoveryInProgress())
		{
			TimestampTz now = GetCurrentTimestamp();
			bool		due = now >= next_round;

			/* a queue half full is written early, at most once a second */
			if (!due && tf_events_queue_half_full())
				due = now >= TimestampTzPlusMilliseconds(last_round, TF_EARLY_ROUND_MS);
			if (tf_launcher_idle(&flush_round) && due)
			{
				flush_round.databases = pending_databases();
				last_round = now;
				next_round = TimestampTzPlusMilliseconds(now, interval * 1000L);
			}
			if (flush_round.databases != NIL && flush_round.worker == NULL)
				tf_launcher_start_next(&flush_round);
			timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_round);
			if (tf_events_queue_half_full())
				timeout = Min(timeout, TF_EARLY_ROUND_MS);
			timeout = Max(timeout, 1);
		}

		/* a flush worker's exit sets the latch (bgw_notify_pid) */
		rc = WaitLatch(MyLatch,
					   WL_LATCH_SET | WL_POSTMASTER_DEATH | (timeout >= 0 ? WL_TIMEOUT : 0),
					   timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (rc & WL_POSTMASTER_DEATH)
			stop_writer();
	}
}

/* Writes the queue through tf_spi_as_owner. */
static void
flush_all(void *written)
{
	*(int64 *) written = tf_events_flush(NULL);
}

/*
 * A flush worker: connects to the database given as its argument (as the
 * bootstrap superuser, even if it no longer allows connections), and there
 * writes the queued events and counters, as the extension's owner.
 */
void
taskforce_event_flush_main(Datum main_arg)
{
	Oid			database_id = DatumGetObjectId(main_arg);
	int64		written = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(database_id, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	/* a read-only default of the database must not keep the events out */
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* a row locked for long delays this database only, not the next ones */
	SetConfigOption("lock_timeout", TF_FLUSH_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "writing queued taskforce security events");
	if (!OidIsValid(get_extension_oid("taskforce", true)))
	{
		tf_events_discard_database(MyDatabaseId, "taskforce is not installed in its database");
		tf_lockout_discard_database(MyDatabaseId);
	}
	else
		tf_spi_as_owner(flush_all, &written);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	ereport(DEBUG1,
			(errmsg("taskforce event writer wrote %lld records in database %u",
					(long long) written, database_id)));
	proc_exit(0);
}
