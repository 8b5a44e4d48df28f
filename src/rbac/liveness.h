/*-------------------------------------------------------------------------
 * src/rbac/liveness.h
 *	  Whether a context's tenant and user may still act.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_RBAC_LIVENESS_H
#define TASKFORCE_RBAC_LIVENESS_H

#include "postgres.h"

extern void tf_liveness_require(uint64 context_generation, const text *tenant_id,
								const text *user_id, const text *auth_method);

#endif							/* TASKFORCE_RBAC_LIVENESS_H */
