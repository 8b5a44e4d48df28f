/*
 * src/audit/row_image.h: a row as jsonb, equal to to_jsonb(row).
 */
#ifndef TF_AUDIT_ROW_IMAGE_H
#define TF_AUDIT_ROW_IMAGE_H

#include "postgres.h"
#include "access/htup.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

extern Jsonb *tf_audit_row_image(Relation rel, HeapTuple tuple);

#endif							/* TF_AUDIT_ROW_IMAGE_H */
