/*-------------------------------------------------------------------------
 * src/auth/events.h
 *	  Security events that cannot be written in the caller's transaction.
 *
 * A failed authentication raises an error, which rolls back whatever the
 * caller's transaction wrote; a successful bearer authentication must not
 * write at all (it may run on a hot standby).  Both queue their event in
 * shared memory instead, and whoever writes next to the database drains
 * the queue into taskforce.security_events (flush_security_events), or
 * the event writer does (src/auth/writer.c).
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_AUTH_EVENTS_H
#define TASKFORCE_AUTH_EVENTS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

/* Who and where an event comes from, captured while catalog access works. */
typedef struct TfEventOrigin
{
	char	   *actor;
	char	   *db_role;
	char	   *client_addr;	/* NULL when unknown */
} TfEventOrigin;

extern void tf_events_init(void);
extern bool tf_events_available(void);
extern void tf_events_require(void);
extern void tf_event_origin(TfEventOrigin *origin, const char *client_addr);
extern char *tf_event_record(const TfEventOrigin *origin, const char *method,
							 const char *event, const char *outcome,
							 const char *tenant_id, const char *user_id,
							 const char *reason, const char *details_json);
extern void tf_events_enqueue(const char *record);
extern void tf_events_apply(const char *record);
extern void tf_events_record_outside(const char *record);
extern int64 tf_events_flush(const Interval *max_age);
extern List *tf_events_pending_databases(List *dbs);
extern void tf_events_discard_database(Oid database_id, const char *why);
extern void tf_events_writer_stopping(void);
extern void tf_events_writer_started(void);
extern bool tf_events_queue_half_full(void);
extern bool tf_note_authentication(const char *method, const char *credential,
								   const char *tenant_id, const char *user_id,
								   const char *client_addr, const char *details_json);
extern void tf_json_field(StringInfo buf, const char *name, const char *value, bool first);
extern void tf_json_timestamp(StringInfo buf, const char *name, TimestampTz ts);

#endif							/* TASKFORCE_AUTH_EVENTS_H */
