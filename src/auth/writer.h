/*-------------------------------------------------------------------------
 * src/auth/writer.h
 *	  The event writer: a background worker that writes the queued security
 *	  events and failed-password counters of every database.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_AUTH_WRITER_H
#define TASKFORCE_AUTH_WRITER_H

#include "postgres.h"

#include "fmgr.h"

extern void tf_writer_init(void);

/* Background worker entry points, looked up by name. */
extern PGDLLEXPORT void taskforce_event_writer_main(Datum main_arg);
extern PGDLLEXPORT void taskforce_event_flush_main(Datum main_arg);

#endif							/* TASKFORCE_AUTH_WRITER_H */
