/*-------------------------------------------------------------------------
 * src/auth/recorder.h
 *	  Records failed authentications durably, even though the caller's
 *	  transaction is about to abort.
 *
 * A failed authentication raises invalid_authorization_specification,
 * which rolls back everything the caller's transaction wrote.  The event
 * (and, for passwords, the failed-attempt counter behind lockout) is
 * therefore written by a short-lived background worker in a transaction
 * of its own, which commits before the caller raises its error.  When no
 * worker can do it, the event goes to the server log instead.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_RECORDER_H
#define TASKFORCE_RECORDER_H

#include "postgres.h"

/* Entry point of the recording worker; the argument is its DSM handle. */
extern PGDLLEXPORT void taskforce_recorder_main(Datum arg);

#endif							/* TASKFORCE_RECORDER_H */
