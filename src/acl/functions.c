/*-------------------------------------------------------------------------
 * src/acl/functions.c
 *	  SQL functions of resource ACLs: check_access, the row policies'
 *	  _acl_allows, _acl_decide (explain_access), resource_permissions and
 *	  the listing's _acl_allows_resource.  All decide through tf_acl_decide.
 *
 * Access to a resource whose policy requires audit is recorded as a
 * resource_access security event, once per resource and permission per
 * statement.  The event goes through the event queue (src/auth/events.c),
 * not the caller's transaction: rolling the transaction back after reading
 * does not take the record back.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "acl/acl.h"
#include "auth/events.h"
#include "context/context.h"

/* The identity of the live context, remembered until it or the caches change. */
static uint64 identity_context_generation = 0;
static uint64 identity_acl_generation = 0;
static uint64 identity_epoch = 0;
static const TfAclIdentity *context_identity = NULL;

/* Resources whose access this statement has already recorded. */
typedef struct RecordedEntry
{
	uint64		hash;			/* hash key: must be first */
	char	   *key;			/* tenant NUL resource NUL permission */
	int			key_len;
} RecordedEntry;

static HTAB *recorded = NULL;
static MemoryContext recorded_memory = NULL;
static LocalTransactionId recorded_lxid = InvalidLocalTransactionId;
static TimestampTz recorded_statement = 0;

/*
 * _acl_allows's decisions in one statement, by resource: a protected scan
 * asks about the same few resources over and over (the messages of a
 * conversation), rarely in a row.  Entries are keyed by a 64-bit hash of
 * the resource id and hold a copy of the id, compared on every hit: two
 * ids with one hash share no answer (the second is decided every time).
 */
#define DECIDED_INLINE 22		/* ids this long are kept in the entry itself */

typedef struct DecidedEntry
{
	uint64		hash;
	char		status;			/* simplehash's */
	bool		result;
	uint16		len;
	char		inline_id[DECIDED_INLINE];	/* short ids: no pointer to chase */
	char	   *long_id;		/* longer ones */
} DecidedEntry;

static inline const char *
decided_id(const DecidedEntry *entry)
{
	return entry->len <= DECIDED_INLINE ? entry->inline_id : entry->long_id;
}

#define SH_PREFIX decided
#define SH_ELEMENT_TYPE DecidedEntry
#define SH_KEY_TYPE uint64
#define SH_KEY hash
#define SH_HASH_KEY(tb, key) ((uint32) (key))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* Past this many resources a statement's further decisions are not kept. */
#define MAX_DECIDED 65536

/*
 * What _acl_allows remembers between rows of one statement (in fn_extra).
 * Valid while the context, the caches, the permission, the transaction and
 * the statement are the same: the decision depends on nothing else (grants
 * expire by the transaction's start time).  The previous row's resource is
 * checked first: rows of one resource in a row cost a comparison.
 */
typedef struct AllowsMemo
{
	uint64		context_generation;
	uint64		acl_generation;
	LocalTransactionId lxid;
	TimestampTz statement;
	int			permission;
	MemoryContext memory;		/* the table and its ids, reset when stale */
	decided_hash *decided;
	char	   *tenant_id;		/* the context's tenant, as a C string */
	bool		result;			/* the previous row's */
	int			len;
	char		resource_id[TF_ACL_MAX_ID];
} AllowsMemo;

/* The permission bit of a name, or invalid_parameter_value. */
static int
permission_arg(text *arg)
{
	int			bit = tf_acl_permission_bit(VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg));

	if (bit == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid permission \"%s\"", text_to_cstring(arg)),
				 errhint("Valid values: read, write, delete, reference, share, admin.")));
	return bit;
}

/*
 * The roles of a context that count for ACLs: those its credential asserted,
 * except an API key's.  A token's roles come from an issuer an administrator
 * trusts, act_as's from an administrator; a key's from whoever holds
 * user:manage, checked only against the permissions they carry.  ACL grants
 * and allowed roles take a role's name as its identity, so a key's roles
 * count for permissions only; the user's role grants count in any case.
 */
static ArrayType *
acl_roles(const TfContextView *view)
{
	static ArrayType *none = NULL;
	const char *method = VARDATA_ANY(view->auth_method);
	int			len = VARSIZE_ANY_EXHDR(view->auth_method);

	if (len != (int) strlen("api_key") || memcmp(method, "api_key", len) != 0)
		return view->roles;
	if (none == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		none = construct_empty_array(TEXTOID);
		MemoryContextSwitchTo(old);
	}
	return none;
}

/* The live context's identity, or NULL without one. */
static const TfAclIdentity *
live_identity(uint64 acl_generation)
{
	TfContextView view;

	if (!tf_context_view(&view))
		return NULL;
	if (context_identity == NULL || identity_context_generation != view.generation ||
		identity_acl_generation != acl_generation || identity_epoch != tf_acl_identity_epoch() ||
		context_identity->valid_until <= GetCurrentTransactionStartTimestamp())
	{
		context_identity = NULL;
		context_identity = tf_acl_identity(view.tenant_id, view.user_id, acl_roles(&view));
		identity_context_generation = view.generation;
		identity_acl_generation = acl_generation;
		identity_epoch = tf_acl_identity_epoch();
	}
	return context_identity;
}

static const char *
live_tenant(void)
{
	TfContextView view;

	return tf_context_view(&view) ? text_to_cstring(view.tenant_id) : NULL;
}

/* True the first time this statement asks about (resource, permission). */
static bool
first_in_statement(const TfAclResource *res, int permission)
{
	StringInfoData key;
	uint64		hash;
	bool		found;
	RecordedEntry *entry;

	if (recorded == NULL || recorded_lxid != MyProc->lxid ||
		recorded_statement != GetCurrentStatementStartTimestamp())
	{
		HASHCTL		ctl;

		if (recorded_memory == NULL)
			recorded_memory = AllocSetContextCreate(TopMemoryContext, "taskforce acl recorded",
													ALLOCSET_SMALL_SIZES);
		MemoryContextReset(recorded_memory);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(RecordedEntry);
		ctl.hcxt = recorded_memory;
		recorded = hash_create("taskforce acl recorded", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		recorded_lxid = MyProc->lxid;
		recorded_statement = GetCurrentStatementStartTimestamp();
	}
	initStringInfo(&key);
	appendStringInfo(&key, "%s%c%s%c%d", res->tenant_id, '\0', res->resource_id, '\0', permission);
	hash = hash_bytes_extended((const unsigned char *) key.data, key.len, 0);
	entry = hash_search(recorded, &hash, HASH_ENTER, &found);
	if (!found)
	{
		entry->key = MemoryContextAlloc(recorded_memory, key.len);
		memcpy(entry->key, key.data, key.len);
		entry->key_len = key.len;
	}
	/* Another key with the same hash is recorded every time, never skipped. */
	else if (entry->key_len != key.len || memcmp(entry->key, key.data, key.len) != 0)
		found = false;
	pfree(key.data);
	return !found;
}

/* Records an access the resource's policy requires to be audited. */
static void
record_access(const TfAclResource *res, int permission, const TfAclDecision *d)
{
	TfEventOrigin origin;
	TfContextView view;
	StringInfoData details;
	const char *method = "sql";
	char	   *user_id = NULL;
	char	   *tenant_id = res->tenant_id;

	if (d->policy == NULL || !d->policy->requires_audit || !first_in_statement(res, permission))
		return;
	if (tf_context_view_unchecked(&view))
	{
		method = text_to_cstring(view.auth_method);
		user_id = text_to_cstring(view.user_id);
		tenant_id = text_to_cstring(view.tenant_id);
	}
	initStringInfo(&details);
	appendStringInfoChar(&details, '{');
	tf_json_field(&details, "resource_id", res->resource_id, true);
	tf_json_field(&details, "resource_type", res->resource_type, false);
	tf_json_field(&details, "resource_tenant", res->tenant_id, false);
	tf_json_field(&details, "permission", tf_acl_permission_name(permission), false);
	tf_json_field(&details, "rule", tf_acl_rule_name(d->rule), false);
	tf_json_field(&details, "policy_id", d->policy->policy_id, false);
	appendStringInfoChar(&details, '}');
	tf_event_origin(&origin, NULL);
	tf_events_record_outside(tf_event_record(&origin, method, "resource_access",
											 d->allowed ? "success" : "failure",
											 tenant_id, user_id,
											 d->allowed ? NULL : tf_acl_rule_name(d->rule),
											 details.data));
}

/* The context's decision on a resource, recording it if its policy says so. */
static TfAclDecision
decide_for_context(const TfAclResource *res, int permission, uint64 generation,
				   bool record_denial)
{
	const TfAclIdentity *who = live_identity(generation);
	TfAclDecision d;

	d = tf_acl_decide(who, res, tf_acl_policies(res->tenant_id), permission,
					  GetCurrentTransactionStartTimestamp());
	if (d.allowed || record_denial)
		record_access(res, permission, &d);
	return d;
}

static void
require_id(text *resource_id)
{
	if (VARSIZE_ANY_EXHDR(resource_id) >= TF_ACL_MAX_ID)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("resource \"%.64s...\" has no ACL", text_to_cstring(resource_id))));
}

PG_FUNCTION_INFO_V1(taskforce_acl_context_roles);

/* _acl_context_roles(): the context's asserted roles that count for ACLs (acl_roles). */
Datum
taskforce_acl_context_roles(PG_FUNCTION_ARGS)
{
	TfContextView view;

	if (!tf_context_view(&view))
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(acl_roles(&view));
}

PG_FUNCTION_INFO_V1(taskforce_check_access);
PG_FUNCTION_INFO_V1(taskforce_acl_allows);
PG_FUNCTION_INFO_V1(taskforce_acl_decide);
PG_FUNCTION_INFO_V1(taskforce_resource_permissions);
PG_FUNCTION_INFO_V1(taskforce_acl_allows_resource);

/* check_access(resource_id, permission): the context's decision; 42704 for no ACL. */
Datum
taskforce_check_access(PG_FUNCTION_ARGS)
{
	text	   *resource_id = PG_GETARG_TEXT_PP(0);
	int			permission = permission_arg(PG_GETARG_TEXT_PP(1));
	uint64		generation = tf_acl_ensure_caches();
	const char *tenant = live_tenant();
	const TfAclResource *res;
	char	   *id;

	if (tenant == NULL)
		PG_RETURN_BOOL(false);
	require_id(resource_id);
	id = text_to_cstring(resource_id);
	res = tf_acl_resource(tenant, id);
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("resource \"%s\" has no ACL in tenant \"%s\"", id, tenant),
				 errhint("Create one with taskforce.create_acl().")));
	PG_RETURN_BOOL(decide_for_context(res, permission, generation, true).allowed);
}

/*
 * _acl_allows(resource_id, permission): the row policies' check.  False
 * for a null or unknown resource; a denied row is not an access, so only
 * allowed ones are recorded.  Each resource is decided once per statement
 * (AllowsMemo), which records nothing first_in_statement would not skip.
 */
Datum
taskforce_acl_allows(PG_FUNCTION_ARGS)
{
	text	   *resource_id;
	int			permission;
	AllowsMemo *memo = (AllowsMemo *) fcinfo->flinfo->fn_extra;
	uint64		generation;
	TfContextView view;
	const char *id;
	int			len;
	uint64		hash;
	DecidedEntry *entry;
	bool		found;
	char		id_cstring[TF_ACL_MAX_ID];
	const TfAclResource *res;
	bool		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	resource_id = PG_GETARG_TEXT_PP(0);
	id = VARDATA_ANY(resource_id);
	len = VARSIZE_ANY_EXHDR(resource_id);
	permission = permission_arg(PG_GETARG_TEXT_PP(1));
	generation = tf_acl_ensure_caches();
	if (!tf_context_view(&view) || len >= TF_ACL_MAX_ID)
		PG_RETURN_BOOL(false);

	if (memo == NULL)
	{
		memo = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AllowsMemo));
		memo->memory = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "taskforce acl decided",
											 ALLOCSET_DEFAULT_SIZES);
		memo->len = -1;
		fcinfo->flinfo->fn_extra = memo;
	}
	if (memo->decided == NULL || memo->context_generation != view.generation ||
		memo->acl_generation != generation || memo->permission != permission ||
		memo->lxid != MyProc->lxid || memo->statement != GetCurrentStatementStartTimestamp())
	{
		MemoryContextReset(memo->memory);
		memo->decided = decided_create(memo->memory, 256, NULL);
		memo->tenant_id = MemoryContextStrdup(memo->memory, text_to_cstring(view.tenant_id));
		memo->context_generation = view.generation;
		memo->acl_generation = generation;
		memo->permission = permission;
		memo->lxid = MyProc->lxid;
		memo->statement = GetCurrentStatementStartTimestamp();
		memo->len = -1;
	}
	else if (memo->len == len && memcmp(memo->resource_id, id, len) == 0)
		PG_RETURN_BOOL(memo->result);

	hash = hash_bytes_extended((const unsigned char *) id, len, 0);
	entry = decided_lookup(memo->decided, hash);
	if (entry != NULL && entry->len == len && memcmp(decided_id(entry), id, len) == 0)
		result = entry->result;
	else
	{
		memcpy(id_cstring, id, len);
		id_cstring[len] = '\0';
		res = tf_acl_resource(memo->tenant_id, id_cstring);
		result = res != NULL && decide_for_context(res, permission, generation, false).allowed;
		/* A row is about to be written for the resource: keep its ACL until commit. */
		if (result && permission == TF_ACL_WRITE)
			result = tf_acl_lock_for_write(res->tenant_id, res->resource_id);
		if (entry == NULL && memo->decided->members < MAX_DECIDED)
		{
			entry = decided_insert(memo->decided, hash, &found);
			entry->result = result;
			entry->len = len;
			if (len > DECIDED_INLINE)
				entry->long_id = MemoryContextAlloc(memo->memory, len);
			memcpy((char *) decided_id(entry), id, len);
		}
	}
	memo->result = result;
	memo->len = len;
	memcpy(memo->resource_id, id, len);
	PG_RETURN_BOOL(result);
}

/* A sentence saying why, for explain_access. */
static char *
decision_detail(const TfAclDecision *d, const TfAclIdentity *who, const TfAclResource *res,
				int permission)
{
	const char *perm = tf_acl_permission_name(permission);

	switch (d->rule)
	{
		case TF_RULE_NO_CONTEXT:
			return pstrdup("there is no authenticated context");
		case TF_RULE_OTHER_TENANT:
			return psprintf("the resource belongs to tenant \"%s\" and is not global public or internal data allowing %s",
							res->tenant_id, perm);
		case TF_RULE_GLOBAL_SCOPE:
			return psprintf("global resource of tenant \"%s\" whose default permissions include %s",
							res->tenant_id, perm);
		case TF_RULE_POLICY_ROLES:
			return psprintf("policy \"%s\" admits only holders of its allowed roles", d->policy->policy_id);
		case TF_RULE_OWNER:
			return psprintf("user \"%s\" owns the resource", who->user_id);
		case TF_RULE_GRANT:
			if (d->grant->expires_at == DT_NOEND)
				return psprintf("grant to %s", d->grant->principal);
			return psprintf("grant to %s until %s", d->grant->principal,
							timestamptz_to_str(d->grant->expires_at));
		case TF_RULE_NEEDS_GRANT:
			return pstrdup("confidential and restricted resources need an explicit grant");
		case TF_RULE_SCOPE:
			return psprintf("%s is a default permission of the resource's audience", perm);
		case TF_RULE_NOT_IN_SCOPE:
			return pstrdup("the user is not in the audience of the resource's scope");
		case TF_RULE_NOT_DEFAULT:
			return psprintf("%s is not a default permission of the resource", perm);
	}
	return NULL;
}

/*
 * _acl_decide(resource_id, permission, tenant_id, user_id): the decision
 * and its rule, for the context (tenant and user null) or a named user
 * whose roles are its role grants.  Records nothing: explaining is not
 * accessing.
 */
Datum
taskforce_acl_decide(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			permission;
	uint64		generation;
	const TfAclIdentity *who;
	const char *tenant;
	const TfAclResource *res;
	TfAclDecision d;
	char	   *id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resource_id and permission must not be null")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_acl_decide must return a row");
	permission = permission_arg(PG_GETARG_TEXT_PP(1));
	generation = tf_acl_ensure_caches();
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		who = live_identity(generation);
		tenant = who ? who->tenant_id : NULL;
	}
	else
	{
		who = tf_acl_identity(PG_GETARG_TEXT_PP(2), PG_GETARG_TEXT_PP(3), NULL);
		tenant = who->tenant_id;
	}
	require_id(PG_GETARG_TEXT_PP(0));
	id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (tenant == NULL)
	{
		d.allowed = false;
		d.rule = TF_RULE_NO_CONTEXT;
		res = NULL;
	}
	else
	{
		res = tf_acl_resource(tenant, id);
		if (res == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("resource \"%s\" has no ACL in tenant \"%s\"", id, tenant)));
		d = tf_acl_decide(who, res, tf_acl_policies(res->tenant_id), permission,
						  GetCurrentTransactionStartTimestamp());
	}
	values[0] = BoolGetDatum(d.allowed);
	values[1] = CStringGetTextDatum(tf_acl_rule_name(d.rule));
	values[2] = CStringGetTextDatum(decision_detail(&d, who, res, permission));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

static Datum
permission_array(int bits)
{
	Datum		elems[TF_ACL_NUM_PERMISSIONS];
	int			n = 0;

	for (int i = 0; i < TF_ACL_NUM_PERMISSIONS; i++)
		if (bits & (1 << i))
			elems[n++] = CStringGetTextDatum(tf_acl_permission_name(1 << i));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* resource_permissions(resource_id): what the context holds; 42704 for no ACL. */
Datum
taskforce_resource_permissions(PG_FUNCTION_ARGS)
{
	text	   *resource_id = PG_GETARG_TEXT_PP(0);
	uint64		generation = tf_acl_ensure_caches();
	const TfAclIdentity *who = live_identity(generation);
	const TfAclResource *res;
	char	   *id;

	if (who == NULL)
		PG_RETURN_DATUM(permission_array(0));
	require_id(resource_id);
	id = text_to_cstring(resource_id);
	res = tf_acl_resource(who->tenant_id, id);
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("resource \"%s\" has no ACL in tenant \"%s\"", id, who->tenant_id)));
	PG_RETURN_DATUM(permission_array(tf_acl_permissions(who, res, tf_acl_policies(res->tenant_id),
														GetCurrentTransactionStartTimestamp())));
}

static char *
text_arg_or_null(FunctionCallInfo fcinfo, int i)
{
	return PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/*
 * _acl_allows_resource(tenant_id, resource_id, resource_type, owner_id,
 * sensitivity, scope, project_id, session_id, default_permissions,
 * permission): the context's decision on an ACL row already read, for
 * accessible_resources().  Listing is not accessing: records nothing.
 */
Datum
taskforce_acl_allows_resource(PG_FUNCTION_ARGS)
{
	TfAclResource res;
	int			permission;
	uint64		generation;
	const TfAclIdentity *who;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;

	for (int i = 0; i < 10; i++)
		if (PG_ARGISNULL(i) && i != 6 && i != 7)
			PG_RETURN_BOOL(false);
	permission = permission_arg(PG_GETARG_TEXT_PP(9));
	generation = tf_acl_ensure_caches();
	who = live_identity(generation);
	if (who == NULL)
		PG_RETURN_BOOL(false);
	res.tenant_id = text_arg_or_null(fcinfo, 0);
	res.resource_id = text_arg_or_null(fcinfo, 1);
	res.resource_type = text_arg_or_null(fcinfo, 2);
	res.owner_id = text_arg_or_null(fcinfo, 3);
	res.sensitivity = tf_acl_parse_sensitivity(text_arg_or_null(fcinfo, 4));
	res.scope = tf_acl_parse_scope(text_arg_or_null(fcinfo, 5));
	res.project_id = text_arg_or_null(fcinfo, 6);
	res.session_id = text_arg_or_null(fcinfo, 7);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(8), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &elem_nulls, &n);
	res.default_permissions = 0;
	for (int i = 0; i < n; i++)
		if (!elem_nulls[i])
			res.default_permissions |= permission_arg(DatumGetTextPP(elems[i]));
	PG_RETURN_BOOL(tf_acl_decide(who, &res, tf_acl_policies(res.tenant_id), permission,
								 GetCurrentTransactionStartTimestamp()).allowed);
}
