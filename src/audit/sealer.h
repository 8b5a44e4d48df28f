/*
 * src/audit/sealer.h: the background sealer, a worker that seals the audit
 * log of every database with taskforce every taskforce.audit_seal_interval.
 */
#ifndef TF_AUDIT_SEALER_H
#define TF_AUDIT_SEALER_H

#include "postgres.h"

#include "access/transam.h"
#include "fmgr.h"

extern void tf_sealer_init(void);

/* Notes that this transaction writes audit entries in this database (once per transaction). */
extern void tf_sealer_note_write(FullTransactionId fxid);

/* Background worker entry points, looked up by name. */
extern PGDLLEXPORT void taskforce_audit_sealer_main(Datum main_arg);
extern PGDLLEXPORT void taskforce_audit_seal_main(Datum main_arg);

#endif
