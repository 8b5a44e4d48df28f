/*-------------------------------------------------------------------------
 * src/auth/lockout.h
 *	  Failed-password counters and lockout, in shared memory.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_AUTH_LOCKOUT_H
#define TASKFORCE_AUTH_LOCKOUT_H

#include "postgres.h"

#include "nodes/pg_list.h"

extern void tf_lockout_init(void);
extern void tf_lockout_attempt_reported(const char *tenant_id, const char *user_id);
extern int64 tf_lockout_persist(void);
extern List *tf_lockout_pending_databases(List *dbs);
extern void tf_lockout_discard_database(Oid database_id);
extern void tf_lockout_log_unpersisted(void);

#endif							/* TASKFORCE_AUTH_LOCKOUT_H */
