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

#include "context/token.h"

extern void ContextInit(void);
extern void tf_context_establish(TfContextClaims *claims);
extern void tf_context_clear(void);

#endif							/* TASKFORCE_CONTEXT_H */
