/*-------------------------------------------------------------------------
 * src/context/registry.h
 *	  Who is connected: each backend's current context, published in shared
 *	  memory (one slot per backend) for the live_contexts view.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_CONTEXT_REGISTRY_H
#define TASKFORCE_CONTEXT_REGISTRY_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "context/token.h"

extern void tf_registry_init(void);
extern void tf_registry_publish(const text *tenant_id, const text *user_id,
								const text *auth_method, TfContextScope scope,
								TimestampTz established_at, TimestampTz expires_at);
extern void tf_registry_clear(void);

#endif							/* TASKFORCE_CONTEXT_REGISTRY_H */
