/*-------------------------------------------------------------------------
 * src/auth/bearer.c
 *	  authenticate_jwt's per-request path, in C.
 *
 * A web request authenticates with its bearer token on every request, so
 * the common case (a token that verifies, naming an active user of an
 * active tenant, from an issuer that neither provisions users nor trusts
 * the token's roles) runs here without SQL: the token is verified (or
 * found among the tokens this backend verified before), the tenant's and
 * the user's status are read through their primary-key indexes under the
 * statement's snapshot, the context is established, and the token's first
 * use in taskforce.auth_success_event_interval is queued as an event.
 * Nothing is written, so it works on a hot standby.  Every other case (a
 * failure, whose reason must be recorded; a user to provision; roles to
 * check) goes to the PL/pgSQL taskforce._authenticate_jwt, which handles
 * them all, so the two paths cannot disagree on an outcome.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "auth/bearer.h"
#include "auth/events.h"

PG_FUNCTION_INFO_V1(taskforce_authenticate_jwt);

/* In src/context/context.c: _establish_context's C function. */
extern Datum taskforce_establish_context(PG_FUNCTION_ARGS);

/*
 * Returns the status column of the row of taskforce.<table> whose primary
 * key (index) has the given text values, read under the active snapshot;
 * NULL when there is no such row.
 */
static char *
status_by_key(Oid namespace, const char *table, const char *index,
			  const char *const *columns, const char *const *values, int nkeys)
{
	Oid			relid = get_relname_relid(table, namespace);
	Oid			indexid = get_relname_relid(index, namespace);
	Relation	rel;
	Relation	irel;
	SysScanDesc scan;
	ScanKeyData keys[2];
	HeapTuple	tuple;
	AttrNumber	status_attnum;
	char	   *status = NULL;
	int			i;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		return NULL;
	status_attnum = get_attnum(relid, "status");
	if (status_attnum == InvalidAttrNumber)
		return NULL;

	rel = table_open(relid, AccessShareLock);
	irel = index_open(indexid, AccessShareLock);
	for (i = 0; i < nkeys; i++)
	{
		/* heap attribute numbers; systable_beginscan maps them to the index's */
		ScanKeyEntryInitialize(&keys[i], 0, get_attnum(relid, columns[i]),
							   BTEqualStrategyNumber, InvalidOid,
							   irel->rd_indcollation[i], F_TEXTEQ,
							   CStringGetTextDatum(values[i]));
	}
	scan = systable_beginscan(rel, indexid, true,
							  ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot(),
							  nkeys, keys);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, status_attnum, RelationGetDescr(rel), &isnull);

		if (!isnull)
			status = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	index_close(irel, AccessShareLock);
	table_close(rel, AccessShareLock);
	return status;
}

/* Tells whether the tenant and the user are both active. */
static bool
identity_active(const TfJwtIdentity *id)
{
	Oid			namespace = get_namespace_oid("taskforce", true);
	const char *tenant_columns[1] = {"tenant_id"};
	const char *user_columns[2] = {"tenant_id", "user_id"};
	const char *values[2] = {id->tenant_id, id->user_id};
	char	   *status;

	if (!OidIsValid(namespace))
		return false;
	status = status_by_key(namespace, "tenants", "tenants_pkey", tenant_columns, values, 1);
	if (status == NULL || strcmp(status, "active") != 0)
		return false;
	status = status_by_key(namespace, "users", "users_pkey", user_columns, values, 2);
	return status != NULL && strcmp(status, "active") == 0;
}

/* Hands the call, arguments as given, to taskforce._authenticate_jwt. */
static Datum
authenticate_in_plpgsql(FunctionCallInfo fcinfo)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, INTERVALOID, INETOID};
	List	   *name = list_make2(makeString("taskforce"), makeString("_authenticate_jwt"));
	FmgrInfo	flinfo;
	LOCAL_FCINFO(sub, 4);
	int			i;

	fmgr_info(LookupFuncName(name, 4, argtypes, false), &flinfo);
	InitFunctionCallInfoData(*sub, &flinfo, 4, fcinfo->fncollation, NULL, NULL);
	for (i = 0; i < 4; i++)
	{
		sub->args[i].value = PG_NARGS() > i ? fcinfo->args[i].value : (Datum) 0;
		sub->args[i].isnull = PG_NARGS() > i ? fcinfo->args[i].isnull : true;
	}
	(void) FunctionCallInvoke(sub);
	PG_RETURN_VOID();
}

/*
 * The ttl of the context: never past the token's expiry nor
 * taskforce.max_context_ttl.  Sets *isnull for "the longest allowed".
 */
static Datum
context_ttl(FunctionCallInfo fcinfo, TimestampTz token_expires_at, bool *isnull)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		remaining = token_expires_at - now;
	int			longest_secs = 3600;
	const char *longest_text = GetConfigOption("taskforce.max_context_ttl", true, false);
	Interval   *remaining_iv;

	if (longest_text != NULL)
		(void) parse_int(longest_text, &longest_secs, GUC_UNIT_S, NULL);
	remaining_iv = palloc0(sizeof(Interval));
	remaining_iv->time = remaining;

	*isnull = false;
	if (!PG_ARGISNULL(2) &&
		!DatumGetBool(DirectFunctionCall2(interval_gt, PG_GETARG_DATUM(2),
										  IntervalPGetDatum(remaining_iv))))
		return PG_GETARG_DATUM(2);
	if (token_expires_at == 0 || remaining >= (int64) longest_secs * USECS_PER_SEC)
	{
		*isnull = true;
		return (Datum) 0;
	}
	return IntervalPGetDatum(remaining_iv);
}

/*
 * authenticate_jwt(token, scope, ttl, client_addr): verifies a JWT and
 * establishes the context of its tenant and user, as described at the top
 * of this file.
 */
Datum
taskforce_authenticate_jwt(PG_FUNCTION_ARGS)
{
	TfJwtIdentity id;
	LOCAL_FCINFO(establish, 6);
	StringInfoData details;
	bool		ttl_isnull;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token must not be null")));
	if (!tf_jwt_verified_identity(PG_GETARG_TEXT_PP(0), &id) ||
		id.provision_users || id.trust_token_roles || !identity_active(&id))
		return authenticate_in_plpgsql(fcinfo);

	InitFunctionCallInfoData(*establish, NULL, 6, InvalidOid, NULL, NULL);
	establish->args[0].value = CStringGetTextDatum(id.tenant_id);
	establish->args[0].isnull = false;
	establish->args[1].value = CStringGetTextDatum(id.user_id);
	establish->args[1].isnull = false;
	establish->args[2].value = PointerGetDatum(construct_empty_array(TEXTOID));
	establish->args[2].isnull = false;
	establish->args[3].value = CStringGetTextDatum("jwt");
	establish->args[3].isnull = false;
	establish->args[4].value = PG_GETARG_DATUM(1);
	establish->args[4].isnull = PG_ARGISNULL(1);
	establish->args[5].value = context_ttl(fcinfo, id.expires_at, &ttl_isnull);
	establish->args[5].isnull = ttl_isnull;
	(void) taskforce_establish_context(establish);

	initStringInfo(&details);
	appendStringInfoChar(&details, '{');
	tf_json_field(&details, "issuer", id.issuer, true);
	tf_json_field(&details, "kid", id.kid, false);
	appendStringInfoChar(&details, '}');
	(void) tf_note_authentication("jwt", text_to_cstring(PG_GETARG_TEXT_PP(0)),
								  id.tenant_id, id.user_id,
								  PG_ARGISNULL(3) ? NULL :
								  DatumGetCString(DirectFunctionCall1(inet_out, PG_GETARG_DATUM(3))),
								  details.data);
	PG_RETURN_VOID();
}
