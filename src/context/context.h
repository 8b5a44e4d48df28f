/*-------------------------------------------------------------------------
 * src/context/context.h
 *	  The caller's identity for the current transaction or session.
 *
 * Authentication code establishes a context through tf_context_establish;
 * nothing else can, because the setting that carries it accepts only the
 * value this backend has just signed.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_CONTEXT_H
#define TASKFORCE_CONTEXT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/array.h"

#include "context/token.h"

#define TF_CONTEXT_SETTING "taskforce.context"

/* Read-only pointers into the live context; see tf_context_view. */
typedef struct TfContextView
{
	uint64		generation;		/* changes whenever the context is set or cleared */
	const text *tenant_id;
	const text *user_id;
	ArrayType  *roles;
	ArrayType  *scopes;			/* NULL when not limited by permission scopes */
	const text *auth_method;
	TimestampTz expires_at;
} TfContextView;

extern void tf_context_init(void);
extern bool tf_context_view(TfContextView *view);
extern bool tf_context_active_scope(TfContextScope *scope);
extern bool tf_context_view_unchecked(TfContextView *view);
extern void tf_context_establish(TfContextClaims *claims);
extern void tf_context_clear(void);

#endif							/* TASKFORCE_CONTEXT_H */
