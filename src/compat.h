/*-------------------------------------------------------------------------
 * src/compat.h
 *	  The one place that tests PG_VERSION_NUM: shims for PostgreSQL 13-17.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_COMPAT_H
#define TASKFORCE_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 130000 || PG_VERSION_NUM >= 180000
#error "taskforce supports PostgreSQL 13 to 17"
#endif

/* PostgreSQL 15 added shmem_request_hook; earlier versions request in _PG_init. */
#define TF_HAS_SHMEM_REQUEST_HOOK (PG_VERSION_NUM >= 150000)

/* PostgreSQL 15 renamed EmitWarningsOnPlaceholders to MarkGUCPrefixReserved. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * GUC "extra" data must come from guc_malloc on PostgreSQL 16 and later,
 * and from malloc before.
 */
#if PG_VERSION_NUM >= 160000
#define tf_guc_malloc(size) guc_malloc(LOG, (size))
#define tf_guc_free(ptr) guc_free(ptr)
#else
#define tf_guc_malloc(size) malloc(size)
#define tf_guc_free(ptr) free(ptr)
#endif

/* PostgreSQL 16 folded the per-object ACL checks into object_aclcheck. */
#if PG_VERSION_NUM >= 160000
#define tf_proc_aclcheck(proc, role, mode) \
	object_aclcheck(ProcedureRelationId, (proc), (role), (mode))
#else
#define tf_proc_aclcheck(proc, role, mode) pg_proc_aclcheck((proc), (role), (mode))
#endif

#endif							/* TASKFORCE_COMPAT_H */
