/*
 * src/audit/encode.h: the canonical encoding of an audit entry, its leaf
 * hash and per-value commitments (spec/AUDIT_SPEC.md, "Canonical encoding").
 */
#ifndef TF_AUDIT_ENCODE_H
#define TF_AUDIT_ENCODE_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"

#define TF_AUDIT_HASH_LEN 32
#define TF_AUDIT_SALT_LEN 16

/* the encoded columns, in encoding order */
typedef enum TfAuditCol
{
	TF_AUDIT_COL_TENANT_ID, TF_AUDIT_COL_LOGGED_AT, TF_AUDIT_COL_TXID, TF_AUDIT_COL_ENTRY_SEQ,
	TF_AUDIT_COL_STATEMENT_ID, TF_AUDIT_COL_EVENT_TYPE, TF_AUDIT_COL_OBJECT, TF_AUDIT_COL_ROW_KEY,
	TF_AUDIT_COL_ACTION, TF_AUDIT_COL_USER_ID, TF_AUDIT_COL_ROLES, TF_AUDIT_COL_AUTH_METHOD,
	TF_AUDIT_COL_DB_ROLE, TF_AUDIT_COL_CLIENT_ADDR, TF_AUDIT_COL_APPLICATION_NAME,
	TF_AUDIT_COL_OLD_VALUES, TF_AUDIT_COL_NEW_VALUES, TF_AUDIT_COL_ERASED, TF_AUDIT_COL_SALTS,
	TF_AUDIT_NCOLS
} TfAuditCol;

/* where each encoded column is in a tuple descriptor (0-based attribute index) */
typedef struct TfAuditColumns
{
	int			attno[TF_AUDIT_NCOLS];
} TfAuditColumns;

/* resolves the columns by name in desc; an error if one is missing */
extern void tf_audit_resolve_columns(TupleDesc desc, TfAuditColumns *cols);

/*
 * The leaf hash of an entry given as deformed values (values/isnull indexed as
 * desc was when cols was resolved).  Allocates in the current memory context.
 */
extern void tf_audit_leaf_from_datums(const TfAuditColumns *cols, const Datum *values,
									  const bool *isnull, uint8 leaf_hash[TF_AUDIT_HASH_LEN]);

/*
 * Recomputes the leaf hash of a stored taskforce.audit_log row: the
 * commitments of present values from their salts, those of erased values
 * taken from "erased".
 */
extern void tf_audit_recompute_leaf(HeapTupleHeader entry, uint8 leaf_hash[TF_AUDIT_HASH_LEN]);

/* logged_at in the canonical text form YYYY-MM-DDTHH:MM:SS.ffffffZ (palloc'd). */
extern char *tf_audit_timestamp_text(TimestampTz t);

/* commitment = SHA-256(salt || F(side) || F(column) || F(value_text)). */
extern void tf_audit_commitment(const uint8 salt[TF_AUDIT_SALT_LEN], const char *side,
								const char *column, const char *value_text,
								uint8 out[TF_AUDIT_HASH_LEN]);

#endif							/* TF_AUDIT_ENCODE_H */
