/*-------------------------------------------------------------------------
 * src/context/lifetime.c
 *	  Keeps a context's effects from outliving the transaction that bounds
 *	  them.
 *
 * Two PostgreSQL features let something made in a transaction survive it
 * in ways the setting that carries the context does not follow:
 *
 * - PREPARE TRANSACTION commits the transaction's setting changes at once
 *   (as COMMIT would), so a session-level change of taskforce.context (a
 *   session-scoped establish, clear_context(), RESET) would survive a
 *   later ROLLBACK PREPARED while the rest of the transaction is undone.
 *   Such a transaction cannot be prepared.
 * - A WITH HOLD cursor is run to completion at commit and its rows stay on
 *   the server connection; behind a transaction-mode pooler the next client
 *   could fetch them by the cursor's name.  While a transaction-scoped
 *   context is active such a cursor cannot be declared, and a
 *   transaction-scoped context cannot be established while one declared in
 *   the same transaction is open.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
#include "utils/portal.h"

#include "compat.h"
#include "context/context.h"
#include "context/lifetime.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/* Names of the WITH HOLD cursors declared in this transaction (TopTransactionContext). */
static List *held_cursors = NIL;

/* Returns the GUC record of taskforce.context, or NULL before it is defined. */
static struct config_generic *
context_guc(void)
{
	struct config_generic **vars = tf_guc_variables();
	int			n = tf_guc_variable_count();
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(vars[i]->name, TF_CONTEXT_SETTING) == 0)
			return vars[i];
	return NULL;
}

/*
 * True if this transaction made a session-level change of taskforce.context
 * that is still in effect: a SET (not SET LOCAL) entry on the setting's
 * stack.  A change undone by ROLLBACK TO SAVEPOINT has left the stack.
 */
static bool
session_context_changed(void)
{
	struct config_generic *gconf = context_guc();
	GucStack   *stack;

	if (gconf == NULL)
		return false;
	for (stack = gconf->stack; stack != NULL; stack = stack->prev)
		if (stack->state == GUC_SET || stack->state == GUC_SET_LOCAL)
			return true;
	return false;
}

/* Refuses to prepare a transaction that changed the session's context. */
static void
lifetime_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (session_context_changed())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has changed the session's taskforce context"),
						 errdetail("A session-scoped context, clear_context() or RESET of taskforce.context would survive ROLLBACK PREPARED."),
						 errhint("Use a transaction-scoped context in a transaction to be prepared, or change the session's context in a transaction that commits.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			held_cursors = NIL;	/* freed with TopTransactionContext */
			break;
		default:
			break;
	}
}

/* True if a transaction-scoped context is the active one (expired or not). */
static bool
transaction_context_active(void)
{
	TfContextScope scope;

	return tf_context_active_scope(&scope) && scope == TF_SCOPE_TRANSACTION;
}

/*
 * Refuses DECLARE ... WITH HOLD under a transaction-scoped context, and
 * remembers the WITH HOLD cursors declared in this transaction.
 */
static void
lifetime_process_utility(PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	DeclareCursorStmt *declare = NULL;

	if (IsA(pstmt->utilityStmt, DeclareCursorStmt) &&
		(((DeclareCursorStmt *) pstmt->utilityStmt)->options & CURSOR_OPT_HOLD))
	{
		declare = (DeclareCursorStmt *) pstmt->utilityStmt;
		if (transaction_context_active())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot declare a WITH HOLD cursor under a transaction-scoped taskforce context"),
					 errdetail("The cursor's rows would outlive the context on this connection."),
					 errhint("Declare the cursor without WITH HOLD and fetch from it before the transaction ends.")));
	}

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (declare != NULL && IsTransactionState())
	{
		MemoryContext saved = MemoryContextSwitchTo(TopTransactionContext);

		held_cursors = lappend(held_cursors, pstrdup(declare->portalname));
		MemoryContextSwitchTo(saved);
	}
}

/*
 * Refuses to establish a context of the given scope while a WITH HOLD
 * cursor declared in this transaction is open: the cursor's query runs at
 * commit, under the context, and its rows would outlive it.
 */
void
tf_lifetime_check_establish(TfContextScope scope)
{
	ListCell   *lc;

	if (scope != TF_SCOPE_TRANSACTION)
		return;
	foreach(lc, held_cursors)
	{
		Portal		portal = GetPortalByName((const char *) lfirst(lc));

		if (PortalIsValid(portal) &&
			(portal->cursorOptions & CURSOR_OPT_HOLD) &&
			portal->createSubid != InvalidSubTransactionId)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot establish a transaction-scoped taskforce context while WITH HOLD cursor \"%s\" is open",
							portal->name),
					 errdetail("The cursor's rows would outlive the context on this connection."),
					 errhint("Close the cursor first, or declare it without WITH HOLD.")));
	}
}

/* Installs the transaction callback and the utility hook. */
void
tf_lifetime_init(void)
{
	RegisterXactCallback(lifetime_xact_callback, NULL);
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = lifetime_process_utility;
}
