/*-------------------------------------------------------------------------
 * src/rbac/rbac.h
 *	  Permission checks for C callers (the state machine trigger).
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_RBAC_H
#define TASKFORCE_RBAC_H

#include "postgres.h"

/*
 * Whether the current context holds permission (has_permission semantics:
 * the permission must be registered); *have_context: whether there is one.
 */
extern bool tf_rbac_context_has_permission(const char *permission, int len, bool *have_context);

/* Whether the calling role (outside SECURITY DEFINER) may run act_as. */
extern bool tf_rbac_caller_is_administrator(void);

#endif							/* TASKFORCE_RBAC_H */
