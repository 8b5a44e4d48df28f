/*-------------------------------------------------------------------------
 * src/rbac/pattern.h
 *	  Permissions (resource:action) and the patterns roles grant them by.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_RBAC_PATTERN_H
#define TASKFORCE_RBAC_PATTERN_H

#include "postgres.h"

extern bool tf_is_permission(const char *s, int len);
extern bool tf_is_permission_pattern(const char *s, int len);
extern bool tf_pattern_matches(const char *pattern, int pattern_len,
							   const char *permission, int permission_len);

#endif							/* TASKFORCE_RBAC_PATTERN_H */
