/*-------------------------------------------------------------------------
 * src/compat.h
 *	  The one place that tests PG_VERSION_NUM.  taskforce is built and
 *	  tested on PostgreSQL 15 only: 16 changed the JSON parser callbacks'
 *	  return type and 17 the lexer constructor, which src/auth/jwt_parse.c
 *	  uses, and 13 and 14 lack APIs the module needs.  The macros below name
 *	  the calls that differ between major versions, so that a port adds its
 *	  shims here and nowhere else.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_COMPAT_H
#define TASKFORCE_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "taskforce is built and tested on PostgreSQL 15 only"
#endif

/* shmem_request_hook exists since PostgreSQL 15. */
#define TF_HAS_SHMEM_REQUEST_HOOK 1

/* GUC "extra" data comes from malloc (guc_malloc from PostgreSQL 16 on). */
#define tf_guc_malloc(size) malloc(size)
#define tf_guc_free(ptr) free(ptr)

/* Function ACL check (object_aclcheck from PostgreSQL 16 on). */
#define tf_proc_aclcheck(proc, role, mode) pg_proc_aclcheck((proc), (role), (mode))

/*
 * The GUC variables as an array and its length (PostgreSQL 16 keeps them in
 * a hash table: use find_option() there).
 */
#define tf_guc_variables() get_guc_variables()
#define tf_guc_variable_count() GetNumConfigOptions()

#endif							/* TASKFORCE_COMPAT_H */
