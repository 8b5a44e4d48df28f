/*
 * src/audit/encode.h: the canonical encoding of an audit entry, its leaf
 * hash and per-value commitments (spec/AUDIT_SPEC.md, "Canonical encoding").
 */
#ifndef TF_AUDIT_ENCODE_H
#define TF_AUDIT_ENCODE_H

#include "postgres.h"
#include "access/htup.h"
#include "datatype/timestamp.h"

#define TF_AUDIT_HASH_LEN 32
#define TF_AUDIT_SALT_LEN 16

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
