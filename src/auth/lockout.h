/*-------------------------------------------------------------------------
 * src/auth/lockout.h
 *	  Failed-password counters and lockout, in shared memory.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_AUTH_LOCKOUT_H
#define TASKFORCE_AUTH_LOCKOUT_H

#include "postgres.h"

extern void tf_lockout_init(void);
extern void tf_lockout_attempt_reported(const char *tenant_id, const char *user_id);
extern int64 tf_lockout_persist(void);

#endif							/* TASKFORCE_AUTH_LOCKOUT_H */
