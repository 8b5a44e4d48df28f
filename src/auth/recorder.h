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

/*
 * Records one failed authentication in taskforce.security_events and
 * returns once it is committed (or, failing that, logged).  method and
 * reason are required; the others may be NULL.  client_addr is the text
 * of an inet (NULL means the calling backend's client address) and
 * details_json the text of a JSON object.  Call it inside a valid
 * transaction, before raising the error; it throws only if the caller is
 * cancelled or terminated while it waits.
 */
extern void tf_record_auth_failure(const char *method, const char *tenant_id,
								   const char *user_id, const char *reason,
								   const char *client_addr,
								   const char *details_json);

/*
 * Records the failure as tf_record_auth_failure does, then raises
 * invalid_authorization_specification with reason as the message.  The
 * reason is a lower-case phrase that never contains a secret.
 */
extern void tf_reject_authentication(const char *method, const char *tenant_id,
									 const char *user_id, const char *reason,
									 const char *client_addr,
									 const char *details_json) pg_attribute_noreturn();

/* Entry point of the recording worker; the argument is its DSM handle. */
extern PGDLLEXPORT void taskforce_recorder_main(Datum arg);

#endif							/* TASKFORCE_RECORDER_H */
