/*-------------------------------------------------------------------------
 * src/rbac/rbac.c
 *	  Permission checks against the current context, with per-backend caches.
 *
 * A user's permission patterns come from the roles granted in
 * taskforce.role_grants plus the roles its credential asserted, and are
 * loaded once per identity into a per-backend cache.  Triggers on the
 * tables they come from send a relcache invalidation for that table;
 * PostgreSQL delivers it at commit and every backend processes it before
 * its next transaction, when our callback bumps a generation and the caches
 * are rebuilt on next use.  They load under a fresh snapshot (see
 * util/owner.c), never the caller's, so what they hold is never older than
 * the last invalidation they accepted.  Grants that expire bound how long
 * an entry stays valid.  Per call, has_permission() remembers its last
 * answer in fn_extra, so a check repeated on every row costs a few
 * comparisons.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "context/context.h"
#include "rbac/pattern.h"
#include "rbac/rbac.h"
#include "util/owner.h"

#define MAX_PERMISSION_LEN 127
/* A backend serving many users through a pool starts over past this many. */
#define MAX_CACHED_SETS 10000

/* The permission patterns one identity holds, as loaded from the tables. */
typedef struct PermissionSet
{
	uint64		hash;			/* hash key: must be first */
	char	   *identity;		/* tenant, user and asserted roles, to rule out collisions */
	int			identity_len;
	int			npatterns;
	char	  **patterns;
	int		   *pattern_lens;
	TimestampTz valid_until;	/* when the first of its grants expires */
} PermissionSet;

typedef struct CatalogEntry
{
	char		permission[MAX_PERMISSION_LEN + 1];
} CatalogEntry;

/* What has_permission(text) remembers between calls in one expression. */
typedef struct CheckMemo
{
	uint64		context_generation;
	uint64		rbac_generation;
	TimestampTz valid_until;
	bool		result;
	int			len;
	char		permission[MAX_PERMISSION_LEN + 1];
} CheckMemo;

static const char *const watched_tables[] = {
	"permissions", "system_roles", "roles", "role_grants", "users"
};
#define NUM_WATCHED lengthof(watched_tables)

static MemoryContext rbac_memory = NULL;
static HTAB *permission_sets = NULL;
static HTAB *catalog = NULL;
static Oid	watched_oids[NUM_WATCHED];
static uint64 rbac_generation = 1;
static uint64 loaded_generation = 0;
static bool callback_registered = false;
/* Set when a parallel query loaded something with its own snapshot: see ensure_caches. */
static LocalTransactionId provisional_lxid = InvalidLocalTransactionId;
static SPIPlanPtr sources_plan = NULL;
static SPIPlanPtr catalog_plan = NULL;

/* Relcache callback: a change to any table we cache from invalidates the caches. */
static void
rbac_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	if (relid == InvalidOid)
	{
		rbac_generation++;
		return;
	}
	for (i = 0; i < (int) NUM_WATCHED; i++)
		if (watched_oids[i] == relid)
		{
			rbac_generation++;
			return;
		}
}

/* Loads the permission catalog into a fresh hash table; run through tf_spi_as_owner. */
static void
load_catalog(void *arg)
{
	HASHCTL		ctl;
	uint64		i;
	int			rc;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAX_PERMISSION_LEN + 1;
	ctl.entrysize = sizeof(CatalogEntry);
	ctl.hcxt = rbac_memory;
	catalog = hash_create("taskforce permission catalog", 64, &ctl,
						  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (catalog_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT permission FROM taskforce.permissions", 0, NULL);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the permission catalog query: %s",
				 SPI_result_code_string(SPI_result));
		catalog_plan = plan;
	}
	rc = SPI_execute_plan(catalog_plan, NULL, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taskforce permission catalog query failed: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		/* NULL when the stored value is (it must not be: see identity.sql) */
		char	   *p = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (p != NULL && strlen(p) <= MAX_PERMISSION_LEN)
			(void) hash_search(catalog, p, HASH_ENTER, NULL);
	}
}

/* Loads through tf_spi_as_owner, remembering a load under a parallel query's snapshot. */
static void
load_as_owner(void (*load) (void *), void *arg)
{
	if (!tf_spi_as_owner(load, arg))
		provisional_lxid = MyProc->lxid;
}

/*
 * Makes the caches current: after any invalidation, drops them and reloads
 * the catalog, re-resolving the tables to watch.  What a parallel query
 * loaded (with its own, possibly older, snapshot) is dropped when its
 * transaction is over.
 */
static void
ensure_caches(void)
{
	uint64		generation = rbac_generation;
	Oid			schema;
	HASHCTL		ctl;
	int			i;

	if (provisional_lxid != InvalidLocalTransactionId && provisional_lxid != MyProc->lxid)
	{
		provisional_lxid = InvalidLocalTransactionId;
		generation = ++rbac_generation;
	}
	if (loaded_generation == generation && catalog != NULL)
		return;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(rbac_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (rbac_memory == NULL)
		rbac_memory = AllocSetContextCreate(CacheMemoryContext, "taskforce rbac cache",
											ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(rbac_memory);
	permission_sets = NULL;
	catalog = NULL;

	schema = get_namespace_oid("taskforce", false);
	for (i = 0; i < (int) NUM_WATCHED; i++)
		watched_oids[i] = get_relname_relid(watched_tables[i], schema);
	if (!OidIsValid(watched_oids[0]))
		elog(ERROR, "taskforce.permissions is missing");

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(PermissionSet);
	ctl.hcxt = rbac_memory;
	permission_sets = hash_create("taskforce permission sets", 256, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	load_as_owner(load_catalog, NULL);

	/* An invalidation that arrived while loading makes the next call reload. */
	loaded_generation = generation;
}

/* Serialises an identity: tenant, user and asserted roles, NUL-separated. */
static void
identity_key(StringInfo key, const text *tenant, const text *user, ArrayType *roles)
{
	appendBinaryStringInfo(key, VARDATA_ANY(tenant), VARSIZE_ANY_EXHDR(tenant));
	appendStringInfoChar(key, '\0');
	appendBinaryStringInfo(key, VARDATA_ANY(user), VARSIZE_ANY_EXHDR(user));
	appendStringInfoChar(key, '\0');
	if (roles != NULL)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;

		deconstruct_array(roles, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (i = 0; i < n; i++)
		{
			text	   *r;

			if (nulls[i])
				continue;
			r = DatumGetTextPP(elems[i]);

			appendBinaryStringInfo(key, VARDATA_ANY(r), VARSIZE_ANY_EXHDR(r));
			appendStringInfoChar(key, '\0');
		}
	}
}

/* What load_permission_set needs, passed through tf_spi_as_owner. */
typedef struct SetLoad
{
	PermissionSet *set;
	const text *tenant;
	const text *user;
	ArrayType  *roles;
} SetLoad;

/* Fills a set with the patterns the identity holds now. */
static void
load_permission_set(void *arg)
{
	SetLoad    *load = (SetLoad *) arg;
	PermissionSet *set = load->set;
	Datum		args[3];
	char		nulls[3] = {' ', ' ', load->roles == NULL ? 'n' : ' '};
	MemoryContext old;
	uint64		i;

	int			rc;

	args[0] = PointerGetDatum(load->tenant);
	args[1] = PointerGetDatum(load->user);
	args[2] = PointerGetDatum(load->roles);

	/*
	 * One plan for the life of the backend: _permission_sources is inlined
	 * into it, and the plan cache replans if that function or a table
	 * changes.
	 */
	if (sources_plan == NULL)
	{
		Oid			types[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT pattern, expires_at"
									   " FROM taskforce._permission_sources($1, $2, $3)",
									   3, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the permission query: %s",
				 SPI_result_code_string(SPI_result));
		sources_plan = plan;
	}
	rc = SPI_execute_plan(sources_plan, args, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taskforce permission query failed: %s", SPI_result_code_string(rc));

	old = MemoryContextSwitchTo(rbac_memory);
	set->npatterns = 0;
	set->patterns = palloc(sizeof(char *) * Max(SPI_processed, 1));
	set->pattern_lens = palloc(sizeof(int) * Max(SPI_processed, 1));
	set->valid_until = DT_NOEND;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *pattern = SPI_getvalue(tuple, desc, 1);
		bool		isnull;
		Datum		expires;

		/* A NULL element of a role's permissions grants nothing. */
		if (pattern == NULL)
			continue;
		set->patterns[set->npatterns] = pattern;
		set->pattern_lens[set->npatterns] = strlen(pattern);
		set->npatterns++;
		expires = SPI_getbinval(tuple, desc, 2, &isnull);
		if (!isnull && DatumGetTimestampTz(expires) < set->valid_until)
			set->valid_until = DatumGetTimestampTz(expires);
	}
	MemoryContextSwitchTo(old);
}

/* Returns the cached permission set of an identity, loading it on a miss. */
static PermissionSet *
permission_set(const text *tenant, const text *user, ArrayType *roles)
{
	StringInfoData key;
	uint64		hash;
	PermissionSet *set;
	bool		found;
	SetLoad		load;

	if (hash_get_num_entries(permission_sets) >= MAX_CACHED_SETS)
	{
		rbac_generation++;
		ensure_caches();
	}
	initStringInfo(&key);
	identity_key(&key, tenant, user, roles);
	hash = hash_bytes_extended((const unsigned char *) key.data, key.len, 0);

	set = hash_search(permission_sets, &hash, HASH_ENTER, &found);
	if (found && set->identity_len == key.len &&
		memcmp(set->identity, key.data, key.len) == 0 &&
		set->valid_until > GetCurrentStatementStartTimestamp())
	{
		pfree(key.data);
		return set;
	}

	/* Keep the entry well-formed even if loading fails part way. */
	set->identity = MemoryContextAlloc(rbac_memory, key.len);
	memcpy(set->identity, key.data, key.len);
	set->identity_len = -1;
	set->npatterns = 0;
	set->valid_until = DT_NOBEGIN;
	load.set = set;
	load.tenant = tenant;
	load.user = user;
	load.roles = roles;
	load_as_owner(load_permission_set, &load);
	set->identity_len = key.len;
	pfree(key.data);
	return set;
}

/* Raises invalid_parameter_value unless permission is in the catalog. */
static void
validate_permission(const char *permission, int len)
{
	char		buf[MAX_PERMISSION_LEN + 1];

	if (!tf_is_permission(permission, len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid permission \"%.*s\"", Min(len, 200), permission),
				 errhint("A permission is resource:action, for example agent:execute; patterns are not checked, only granted.")));
	memcpy(buf, permission, len);
	buf[len] = '\0';
	if (hash_search(catalog, buf, HASH_FIND, NULL) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown permission \"%s\"", buf),
				 errhint("Register it with taskforce.register_permission().")));
}

/* True if any text pattern in the array matches permission. */
static bool
array_matches(ArrayType *patterns, const char *permission, int len)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (ARR_ELEMTYPE(patterns) != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("permission patterns must be a text array")));
	deconstruct_array(patterns, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		text	   *p;

		if (nulls[i])
			continue;
		p = DatumGetTextPP(elems[i]);
		if (tf_pattern_matches(VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p), permission, len))
			return true;
	}
	return false;
}

/*
 * Decides whether the identity holds permission, within scopes when they
 * are given.  *valid_until says how long the answer stands.
 */
static bool
check_permission(const text *tenant, const text *user, ArrayType *roles,
				 ArrayType *scopes, const char *permission, int len,
				 TimestampTz *valid_until)
{
	PermissionSet *set;
	int			i;

	ensure_caches();
	validate_permission(permission, len);
	set = permission_set(tenant, user, roles);
	*valid_until = set->valid_until;
	for (i = 0; i < set->npatterns; i++)
		if (tf_pattern_matches(set->patterns[i], set->pattern_lens[i], permission, len))
			return scopes == NULL || array_matches(scopes, permission, len);
	return false;
}

/* Checks permission against the live context; false when there is none. */
static bool
context_has_permission(const char *permission, int len, TfContextView *view,
					   TimestampTz *valid_until)
{
	if (!tf_context_view(view))
	{
		ensure_caches();
		validate_permission(permission, len);
		*valid_until = DT_NOEND;
		return false;
	}
	return check_permission(view->tenant_id, view->user_id, view->roles, view->scopes,
							permission, len, valid_until);
}

/*
 * Whether the live context holds permission (has_permission's answer for C
 * callers); *have_context says whether there is a context at all.
 */
bool
tf_rbac_context_has_permission(const char *permission, int len, bool *have_context)
{
	TfContextView view;
	TimestampTz valid_until;
	bool		result = context_has_permission(permission, len, &view, &valid_until);

	*have_context = tf_context_view(&view);
	return result;
}

PG_FUNCTION_INFO_V1(taskforce_has_permission);
PG_FUNCTION_INFO_V1(taskforce_has_permission_for);
PG_FUNCTION_INFO_V1(taskforce_require_permission);
PG_FUNCTION_INFO_V1(taskforce_permission_matches);
PG_FUNCTION_INFO_V1(taskforce_is_permission_pattern);
PG_FUNCTION_INFO_V1(taskforce_caller_is_administrator);
PG_FUNCTION_INFO_V1(taskforce_invalidate_caches);

/* has_permission(permission): does the current context hold it? */
Datum
taskforce_has_permission(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	const char *permission = VARDATA_ANY(arg);
	int			len = VARSIZE_ANY_EXHDR(arg);
	CheckMemo  *memo = (CheckMemo *) fcinfo->flinfo->fn_extra;
	TfContextView view;
	TimestampTz valid_until;
	bool		result;

	if (memo != NULL && memo->rbac_generation == rbac_generation &&
		memo->len == len && memcmp(memo->permission, permission, len) == 0 &&
		tf_context_view(&view) && memo->context_generation == view.generation &&
		memo->valid_until > GetCurrentStatementStartTimestamp())
		PG_RETURN_BOOL(memo->result);

	result = context_has_permission(permission, len, &view, &valid_until);
	if (len > MAX_PERMISSION_LEN)
		PG_RETURN_BOOL(result);
	if (memo == NULL)
		memo = fcinfo->flinfo->fn_extra =
			MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(CheckMemo));
	memo->context_generation = view.generation;
	memo->rbac_generation = loaded_generation;
	memo->valid_until = valid_until;
	memo->result = result;
	memo->len = len;
	memcpy(memo->permission, permission, len);
	PG_RETURN_BOOL(result);
}

/* has_permission(permission, tenant_id, user_id): for administrators naming a user. */
Datum
taskforce_has_permission_for(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	TimestampTz valid_until;

	PG_RETURN_BOOL(check_permission(PG_GETARG_TEXT_PP(1), PG_GETARG_TEXT_PP(2), NULL, NULL,
									VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg),
									&valid_until));
}

/* require_permission(permission): raises insufficient_privilege unless held. */
Datum
taskforce_require_permission(PG_FUNCTION_ARGS)
{
	text	   *arg;
	const char *permission;
	int			len;
	TfContextView view;
	TimestampTz valid_until;

	/* Not strict: a null permission must not pass silently. */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("permission must not be null")));
	arg = PG_GETARG_TEXT_PP(0);
	permission = VARDATA_ANY(arg);
	len = VARSIZE_ANY_EXHDR(arg);

	if (context_has_permission(permission, len, &view, &valid_until))
		PG_RETURN_VOID();
	if (!tf_context_view(&view))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission \"%.*s\" required", len, permission),
				 errdetail("There is no authenticated context."),
				 errhint("Authenticate first, for example with taskforce.authenticate_jwt().")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission \"%.*s\" required", len, permission),
			 errdetail("User \"%s\" of tenant \"%s\" does not hold it.",
					   text_to_cstring(view.user_id), text_to_cstring(view.tenant_id)),
			 errhint("taskforce.explain_permission() says why.")));
	PG_RETURN_VOID();
}

/* permission_matches(patterns, permission): does any pattern grant it? */
Datum
taskforce_permission_matches(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(1);

	PG_RETURN_BOOL(array_matches(PG_GETARG_ARRAYTYPE_P(0),
								 VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg)));
}

/* is_permission_pattern(text): is it resource:action, resource:*, *:action or *? */
Datum
taskforce_is_permission_pattern(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(tf_is_permission_pattern(VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg)));
}

/*
 * _caller_is_administrator(): may the role that called into taskforce (the
 * session's current role, not a SECURITY DEFINER owner) run act_as?  Such a
 * role can impersonate anyone, so it is an administrator.
 */
bool
tf_rbac_caller_is_administrator(void)
{
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, INTERVALOID};
	List	   *name = list_make2(makeString("taskforce"), makeString("act_as"));
	Oid			act_as = LookupFuncName(name, 5, argtypes, true);

	return OidIsValid(act_as) &&
		tf_proc_aclcheck(act_as, GetOuterUserId(), ACL_EXECUTE) == ACLCHECK_OK;
}

Datum
taskforce_caller_is_administrator(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(tf_rbac_caller_is_administrator());
}

/*
 * Trigger on the tables the caches load from: invalidates them in every
 * session.  A row trigger (BEFORE, so that nothing is queued per row)
 * covers INSERT, UPDATE and DELETE, also when a logical replication
 * subscriber applies them, which fires no statement triggers; a statement
 * trigger covers TRUNCATE.  PostgreSQL sends one invalidation per table
 * and transaction, however many rows fire it.
 */
Datum
taskforce_invalidate_caches(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("taskforce_invalidate_caches must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}
