/*
 * src/audit/append.h: writes an audit entry straight into its partition of
 * taskforce.audit_log, without the executor.
 */
#ifndef TF_AUDIT_APPEND_H
#define TF_AUDIT_APPEND_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "audit/encode.h"

/*
 * Appends the entry: values and nulls in taskforce.audit_log's column
 * order, logged_at (the partition key) the transaction's start time.
 */
extern void tf_audit_append(Datum *values, bool *nulls, TimestampTz logged_at);

/* Where the encoded columns are in taskforce.audit_log's rows (cached). */
extern const TfAuditColumns *tf_audit_log_columns(void);

#endif							/* TF_AUDIT_APPEND_H */
