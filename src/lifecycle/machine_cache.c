/*-------------------------------------------------------------------------
 * src/lifecycle/machine_cache.c
 *	  The per-backend cache of state machine definitions.
 *
 * Machines are loaded from state_machines and state_machine_transitions
 * (as the extension owner) on first use and dropped whenever a relcache
 * invalidation arrives for those tables (state_machines.sql puts triggers
 * on them that send one at commit), so a changed machine is seen by every
 * session's next transaction, as the permission cache does
 * (src/rbac/rbac.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "lifecycle/machine.h"
#include "util/owner.h"

static const char *const watched_tables[] = {"state_machines", "state_machine_transitions"};
#define NUM_WATCHED lengthof(watched_tables)

static MemoryContext machine_memory = NULL;
static HTAB *machines = NULL;
static Oid	watched_oids[NUM_WATCHED];
static uint64 machine_generation = 1;
static uint64 loaded_generation = 0;
static bool callback_registered = false;
/* A load under a parallel query's snapshot is kept for its transaction only. */
static LocalTransactionId provisional_lxid = InvalidLocalTransactionId;
static SPIPlanPtr machine_plan = NULL;
static SPIPlanPtr transitions_plan = NULL;

/* Relcache callback: a change to a table we load from drops the cache. */
static void
machine_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid)
	{
		machine_generation++;
		return;
	}
	for (int i = 0; i < (int) NUM_WATCHED; i++)
		if (watched_oids[i] == relid)
		{
			machine_generation++;
			return;
		}
}

/* Makes the cache current: after an invalidation, starts it over. */
static void
ensure_cache(void)
{
	uint64		generation = machine_generation;
	Oid			schema;
	HASHCTL		ctl;

	if (provisional_lxid != InvalidLocalTransactionId && provisional_lxid != MyProc->lxid)
	{
		provisional_lxid = InvalidLocalTransactionId;
		generation = ++machine_generation;
	}
	if (loaded_generation == generation && machines != NULL)
		return;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(machine_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (machine_memory == NULL)
		machine_memory = AllocSetContextCreate(CacheMemoryContext, "taskforce state machines",
											   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(machine_memory);
	machines = NULL;

	schema = get_namespace_oid("taskforce", false);
	for (int i = 0; i < (int) NUM_WATCHED; i++)
		watched_oids[i] = get_relname_relid(watched_tables[i], schema);
	if (!OidIsValid(watched_oids[0]))
		elog(ERROR, "taskforce.state_machines is missing");

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAX_MACHINE_LEN + 1;
	ctl.entrysize = sizeof(Machine);
	ctl.hcxt = machine_memory;
	machines = hash_create("taskforce state machines", 16, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	loaded_generation = generation;
}

/* Copies a text[] of SPI's result into machine_memory. */
static int
copy_text_array(Datum d, char ***out)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			kept = 0;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*out = MemoryContextAlloc(machine_memory, sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			(*out)[kept++] = MemoryContextStrdup(machine_memory, TextDatumGetCString(elems[i]));
	return kept;
}

static char *
copy_value(HeapTuple tuple, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tuple, desc, col);

	return v ? MemoryContextStrdup(machine_memory, v) : NULL;
}

/* Fills a machine from the tables; run through tf_spi_as_owner. */
static void
load_machine(void *arg)
{
	Machine    *m = (Machine *) arg;
	Datum		args[1];
	bool		isnull;
	int			rc;

	args[0] = CStringGetTextDatum(m->name);
	if (machine_plan == NULL)
	{
		Oid			types[1] = {TEXTOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT initial_states, terminal_states"
									   " FROM taskforce.state_machines WHERE machine = $1",
									   1, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the state machine query: %s",
				 SPI_result_code_string(SPI_result));
		machine_plan = plan;
	}
	if (transitions_plan == NULL)
	{
		Oid			types[1] = {TEXTOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT from_state, to_state, required_permission, approval_type"
									   " FROM taskforce.state_machine_transitions WHERE machine = $1"
									   " ORDER BY from_state COLLATE \"C\", to_state COLLATE \"C\"",
									   1, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the state machine query: %s",
				 SPI_result_code_string(SPI_result));
		transitions_plan = plan;
	}
	rc = SPI_execute_plan(machine_plan, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "state machine query failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return;					/* not loaded: the caller reports it */
	m->ninitial = copy_text_array(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
								  &m->initial);
	m->nterminal = copy_text_array(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull),
								   &m->terminal);

	rc = SPI_execute_plan(transitions_plan, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "state machine query failed: %s", SPI_result_code_string(rc));
	m->transitions = MemoryContextAlloc(machine_memory, sizeof(Transition) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Transition *t = &m->transitions[i];

		t->from = copy_value(tuple, desc, 1);
		t->to = copy_value(tuple, desc, 2);
		t->permission = copy_value(tuple, desc, 3);
		t->approval = copy_value(tuple, desc, 4);
	}
	m->ntransitions = (int) SPI_processed;
	m->loaded = true;
}

/* Returns the cached machine, loading it on a miss; an error if it does not exist. */
Machine *
tf_machine_get(const char *name)
{
	char		key[MAX_MACHINE_LEN + 1];
	Machine    *m;
	bool		found;

	ensure_cache();
	if (strlen(name) > MAX_MACHINE_LEN)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("state machine \"%s\" does not exist", name)));
	memset(key, 0, sizeof(key));
	strlcpy(key, name, sizeof(key));
	m = hash_search(machines, key, HASH_ENTER, &found);
	if (found && m->loaded)
		return m;
	m->loaded = false;
	m->ninitial = m->nterminal = m->ntransitions = 0;
	if (!tf_spi_as_owner(load_machine, m))
		provisional_lxid = MyProc->lxid;
	if (!m->loaded)
	{
		(void) hash_search(machines, key, HASH_REMOVE, NULL);
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("state machine \"%s\" does not exist", name),
						errhint("The trigger of this table names a machine that was dropped; "
								"detach it with taskforce.detach_state_machine().")));
	}
	return m;
}

bool
tf_machine_in_list(char **list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

char *
tf_machine_join_list(char **list, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", list[i]);
	return buf.data;
}

/* The transition from -> to, or NULL. */
Transition *
tf_machine_find_transition(Machine *m, const char *from, const char *to)
{
	for (int i = 0; i < m->ntransitions; i++)
		if (strcmp(m->transitions[i].from, from) == 0 && strcmp(m->transitions[i].to, to) == 0)
			return &m->transitions[i];
	return NULL;
}

/* The hint of an illegal transition out of state from. */
char *
tf_machine_next_states_hint(Machine *m, const char *from)
{
	StringInfoData buf;
	int			n = 0;

	if (tf_machine_in_list(m->terminal, m->nterminal, from))
		return psprintf("\"%s\" is a terminal state", from);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "allowed next states: ");
	for (int i = 0; i < m->ntransitions; i++)
		if (strcmp(m->transitions[i].from, from) == 0)
			appendStringInfo(&buf, "%s%s", n++ > 0 ? ", " : "", m->transitions[i].to);
	if (n > 0)
		return buf.data;
	if (tf_machine_in_list(m->initial, m->ninitial, from))
		return psprintf("\"%s\" has no outgoing transition", from);
	return psprintf("\"%s\" is not a state of machine \"%s\"", from, m->name);
}
