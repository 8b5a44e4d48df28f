/*
 * src/audit/trigger.h: what the audit trigger's code offers other
 * subsystems that write audit entries (the state machine trigger).
 */
#ifndef TF_AUDIT_TRIGGER_H
#define TF_AUDIT_TRIGGER_H

#include "postgres.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/* schema.table as audit entries name a table. */
extern char *tf_audit_object_name(Relation rel);

/* jsonb_out text of {primary key column: value} of a row image (to_jsonb(row)). */
extern char *tf_audit_row_key_text(Relation rel, Jsonb *image);

/*
 * Writes one entry that is not a table change, attributed from the
 * context; values in new_values; tenant NULL: the context's.
 */
extern void tf_audit_write_entry(const char *event_type, const char *object, const char *row_key,
								 const char *action, const char *tenant, Jsonb *new_values);

#endif							/* TF_AUDIT_TRIGGER_H */
