/*-------------------------------------------------------------------------
 * src/util/launcher.c
 *	  A static launcher worker and its rounds of short-lived per-database
 *	  workers (src/auth/writer.c, src/audit/sealer.c).
 *
 * A background worker connects to one database only, so work in every
 * database is done by a static worker, registered at preload time (it takes
 * no dynamic slot, and no caller can take its place), that lists the
 * databases to visit and starts a dynamic worker for each, one at a time,
 * in that database.  With no free worker slot the round ends: the caller
 * tries again at its next interval.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/syscache.h"

#include "util/launcher.h"

/* Registers a static launcher; called from _PG_init while preloading. */
void
tf_launcher_register(const char *function, const char *name, int restart_seconds)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* not on a hot standby: a launcher starts once recovery has finished */
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = restart_seconds;
	strlcpy(worker.bgw_library_name, "taskforce", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker.bgw_name, name, BGW_MAXLEN);
	strlcpy(worker.bgw_type, name, BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* Tells whether the database with this OID exists (in a transaction; the shared catalog). */
bool
tf_launcher_database_exists(Oid database_id)
{
	return OidIsValid(database_id) &&
		SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(database_id));
}

/*
 * Removes from dbs, in a transaction of its own, the databases that were
 * dropped, calling dropped() for each so that its caller forgets them.
 */
List *
tf_launcher_keep_existing(List *dbs, void (*dropped) (Oid database_id))
{
	ListCell   *lc;

	if (dbs == NIL)
		return NIL;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	foreach(lc, dbs)
	{
		if (tf_launcher_database_exists(lfirst_oid(lc)))
			continue;
		dropped(lfirst_oid(lc));
		dbs = foreach_delete_current(dbs, lc);
	}
	CommitTransactionCommand();
	return dbs;
}

/*
 * Starts the worker for the next database of the round.  With no free slot,
 * ends the round (logging that once until a start succeeds again).
 */
void
tf_launcher_start_next(TfLauncherRound *round)
{
	BackgroundWorker worker;
	Oid			db = linitial_oid(round->databases);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "taskforce", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, round->function, BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s for database %u", round->type, db);
	strlcpy(worker.bgw_type, round->type, BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(db);
	memcpy(worker.bgw_extra, round->extra, BGW_EXTRALEN);
	/* the worker's exit sets the launcher's latch */
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &round->worker))
	{
		round->worker = NULL;
		list_free(round->databases);
		round->databases = NIL;
		if (!round->shortage_logged)
			ereport(LOG,
					(errmsg("%s", round->shortage_message),
					 errhint("Raise max_worker_processes.")));
		round->shortage_logged = true;
		return;
	}
	round->shortage_logged = false;
	round->databases = list_delete_first(round->databases);
}

/* Forgets the round's worker once it has exited. */
void
tf_launcher_reap(TfLauncherRound *round)
{
	pid_t		pid;

	if (round->worker == NULL)
		return;
	if (GetBackgroundWorkerPid(round->worker, &pid) == BGWH_STOPPED)
	{
		pfree(round->worker);
		round->worker = NULL;
	}
}

/* Tells whether the round is over: no database left, no worker at work. */
bool
tf_launcher_idle(const TfLauncherRound *round)
{
	return round->databases == NIL && round->worker == NULL;
}
