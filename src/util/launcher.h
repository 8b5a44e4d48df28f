/*-------------------------------------------------------------------------
 * src/util/launcher.h
 *	  A static launcher worker that starts, one database at a time, a
 *	  short-lived dynamic worker per database: the shape shared by the
 *	  event writer (src/auth/writer.c) and the audit sealer
 *	  (src/audit/sealer.c).
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_UTIL_LAUNCHER_H
#define TASKFORCE_UTIL_LAUNCHER_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"

/* One kind of per-database worker and the launcher's round of them. */
typedef struct TfLauncherRound
{
	const char *function;		/* the dynamic worker's entry point */
	const char *type;			/* its bgw_type, e.g. "taskforce event flush" */
	const char *shortage_message;	/* logged once when no slot is free */
	List	   *databases;		/* OIDs left in this round (TopMemoryContext) */
	BackgroundWorkerHandle *worker; /* the worker at work, or NULL */
	bool		shortage_logged;
	char		extra[BGW_EXTRALEN];	/* passed to every worker of the round */
} TfLauncherRound;

extern void tf_launcher_register(const char *function, const char *name, int restart_seconds);
extern bool tf_launcher_database_exists(Oid database_id);
extern List *tf_launcher_keep_existing(List *dbs, void (*dropped) (Oid database_id));
extern void tf_launcher_start_next(TfLauncherRound *round);
extern void tf_launcher_reap(TfLauncherRound *round);
extern bool tf_launcher_idle(const TfLauncherRound *round);

#endif							/* TASKFORCE_UTIL_LAUNCHER_H */
