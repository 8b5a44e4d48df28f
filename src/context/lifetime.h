/*-------------------------------------------------------------------------
 * src/context/lifetime.h
 *	  Keeps a context's effects from outliving the transaction that bounds
 *	  them (PREPARE TRANSACTION, WITH HOLD cursors).
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_CONTEXT_LIFETIME_H
#define TASKFORCE_CONTEXT_LIFETIME_H

#include "postgres.h"

#include "context/token.h"

extern void tf_lifetime_init(void);
extern void tf_lifetime_check_establish(TfContextScope scope);

#endif							/* TASKFORCE_CONTEXT_LIFETIME_H */
