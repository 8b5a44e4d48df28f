/*
 * src/audit/seal.h: one seal of the Merkle log, shared by taskforce.seal_audit()
 * and the background sealer (sealer.c).
 */
#ifndef TF_AUDIT_SEAL_H
#define TF_AUDIT_SEAL_H

#include "postgres.h"

typedef struct TfSealResult
{
	uint64		tree_size;		/* the log's size after the seal */
	int64		sealed;			/* entries the seal added */
	uint64		boundary;		/* every transaction with a lower full xid is sealed or had no entry */
} TfSealResult;

extern void tf_audit_seal(int64 max_entries, TfSealResult *result);

#endif
