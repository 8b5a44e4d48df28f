/*-------------------------------------------------------------------------
 * src/taskforce.c
 *	  Module entry point: initialises each subsystem.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "compat.h"
#include "audit/sealer.h"
#include "auth/events.h"
#include "auth/lockout.h"
#include "auth/writer.h"
#include "context/context.h"
#include "lifecycle/webhook_sign.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Initialises every subsystem, then reserves the taskforce.* setting names. */
void
_PG_init(void)
{
	tf_context_init();
	tf_lockout_init();
	tf_events_init();
	tf_writer_init();
	tf_sealer_init();
	tf_webhook_init();
	MarkGUCPrefixReserved("taskforce");
}
