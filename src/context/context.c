/*-------------------------------------------------------------------------
 * src/context/context.c
 *	  The caller's identity: how it is carried, established and read.
 *
 * The context travels in the setting taskforce.context, so that SET LOCAL
 * scoping, RESET, DISCARD ALL and parallel workers all behave as they do
 * for any setting.  Its check hook is the gate: in a backend it accepts a
 * value only if this backend has just signed it and armed it for one use,
 * so no SET, set_config, function SET clause or replayed value can produce
 * a context.  A parallel worker accepts the value its leader admitted,
 * restored by PostgreSQL from the leader's state.  The hook
 * decodes the value once into a flat block; the readers only copy from it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "context/context.h"
#include "context/lifetime.h"
#include "context/registry.h"
#include "context/secret.h"
#include "rbac/liveness.h"

#define MAX_ROLES 64
#define MAX_NAME_BYTES 256

/* A decoded context: fixed fields, then varlena values at the given offsets. */
typedef struct TfContext
{
	TimestampTz established_at;
	TimestampTz expires_at;
	TfContextScope scope;
	int32		tenant_off;
	int32		user_off;
	int32		roles_off;
	int32		scopes_off;		/* -1 when the context is not limited by scopes */
	int32		method_off;
	int32		by_off;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} TfContext;

static char *context_setting = NULL;
static int	max_context_ttl = 3600;

/* The decoded form of the current setting value, owned by the GUC machinery. */
static const TfContext *active_context = NULL;

/* Counts assignments of the setting, so caches can tell the context changed. */
static uint64 context_generation = 0;

/* The one value this backend will accept next; set only while establishing. */
static char *armed_value = NULL;

/* Forgets the armed value. */
static void
disarm(void)
{
	if (armed_value != NULL)
	{
		pfree(armed_value);
		armed_value = NULL;
	}
}

/* Appends a varlena to the block at *pos, returning its offset. */
static int32
place_varlena(char *data, Size *pos, const struct varlena *v)
{
	int32		off = (int32) *pos;

	memcpy(data + off, v, VARSIZE(v));
	*pos += MAXALIGN(VARSIZE(v));
	return off;
}

/* Builds a text[] from C strings. */
static ArrayType *
text_array(int n, char **items)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = PointerGetDatum(cstring_to_text(items[i]));
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* Builds the flat block for claims in GUC-owned memory; NULL if out of memory. */
static TfContext *
build_context(const TfContextClaims *claims)
{
	text	   *tenant = cstring_to_text(claims->tenant_id);
	text	   *user = cstring_to_text(claims->user_id);
	text	   *method = cstring_to_text(claims->auth_method);
	text	   *by = cstring_to_text(claims->established_by);
	ArrayType  *roles = text_array(claims->nroles, claims->roles);
	ArrayType  *scopes = claims->nscopes >= 0 ?
		text_array(claims->nscopes, claims->scopes) : NULL;
	Size		size;
	Size		pos = 0;
	TfContext  *ctx;

	size = offsetof(TfContext, data) + MAXALIGN(VARSIZE(tenant)) +
		MAXALIGN(VARSIZE(user)) + MAXALIGN(VARSIZE(roles)) +
		(scopes ? MAXALIGN(VARSIZE(scopes)) : 0) +
		MAXALIGN(VARSIZE(method)) + MAXALIGN(VARSIZE(by));
	ctx = tf_guc_malloc(size);
	if (ctx == NULL)
		return NULL;
	memset(ctx, 0, size);
	ctx->established_at = claims->issued_at;
	ctx->expires_at = claims->expires_at;
	ctx->scope = claims->scope;
	ctx->tenant_off = place_varlena(ctx->data, &pos, (struct varlena *) tenant);
	ctx->user_off = place_varlena(ctx->data, &pos, (struct varlena *) user);
	ctx->roles_off = place_varlena(ctx->data, &pos, (struct varlena *) roles);
	ctx->scopes_off = scopes ? place_varlena(ctx->data, &pos, (struct varlena *) scopes) : -1;
	ctx->method_off = place_varlena(ctx->data, &pos, (struct varlena *) method);
	ctx->by_off = place_varlena(ctx->data, &pos, (struct varlena *) by);
	return ctx;
}

/*
 * Admits the leader's value while a parallel worker starts.  PostgreSQL
 * restores the worker's settings in name order, so taskforce.context comes
 * before taskforce.context_secret, and the leader may have reloaded a
 * rotated secret since it verified its context: the worker cannot verify
 * the MAC, and need not, because the leader's check hook admitted this
 * value.  What it does check: the value comes from the leader's session
 * state (source PGC_S_SESSION, which no per-role or per-database setting
 * has) and is bound to the leader's pid.  PostgreSQL's error context for
 * a setting it restores prints the value, so errors raised here carry none.
 */
static bool
check_leader_context(const char *value, void **extra, GucSource source)
{
	ErrorContextCallback *saved_context = error_context_stack;
	MemoryContext scratch;
	MemoryContext saved;
	TfContextClaims claims;
	bool		valid;
	TfContext  *ctx = NULL;

	error_context_stack = NULL;
	scratch = AllocSetContextCreate(CurrentMemoryContext, "taskforce context check",
									ALLOCSET_SMALL_SIZES);
	saved = MemoryContextSwitchTo(scratch);
	valid = source == PGC_S_SESSION &&
		MyProc != NULL && MyProc->lockGroupLeader != NULL &&
		MyProc->lockGroupLeader != MyProc &&
		tf_token_decode(value, &claims) &&
		claims.backend_pid == MyProc->lockGroupLeader->pid;
	if (valid)
		ctx = build_context(&claims);
	MemoryContextSwitchTo(saved);
	MemoryContextDelete(scratch);

	if (!valid)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("parallel worker refused the taskforce.context of its leader")));
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	error_context_stack = saved_context;
	*extra = ctx;
	return true;
}

/*
 * Admits a new value for taskforce.context.  The empty value (no context)
 * is always allowed; anything else must be the value this backend armed,
 * or, while a parallel worker starts, its leader's value.  No message
 * shows the value.
 */
static bool
check_context(char **newval, void **extra, GucSource source)
{
	const char *value = *newval;
	const uint8 *key;
	size_t		key_len;
	MemoryContext scratch;
	MemoryContext saved;
	TfContextClaims claims;
	bool		valid;
	bool		armed_here;
	TfContext  *ctx = NULL;

	if (value == NULL || value[0] == '\0')
		return true;

	if (InitializingParallelWorker)
		return check_leader_context(value, extra, source);

	armed_here = armed_value != NULL && strcmp(armed_value, value) == 0;
	disarm();
	if (!armed_here)
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("taskforce.context cannot be set directly");
		GUC_check_errhint("Only taskforce establishes a context, after verifying the caller: authenticate with taskforce.authenticate_jwt(), authenticate_api_key() or authenticate_password(), or, from trusted middleware, call taskforce.act_as().");
		return false;
	}

	if (!tf_secret_get(&key, &key_len))
	{
		GUC_check_errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
		GUC_check_errmsg("taskforce has no secret to verify the context with");
		GUC_check_errhint("Add taskforce to shared_preload_libraries, or set taskforce.context_secret.");
		return false;
	}

	scratch = AllocSetContextCreate(CurrentMemoryContext, "taskforce context check",
									ALLOCSET_SMALL_SIZES);
	saved = MemoryContextSwitchTo(scratch);
	valid = tf_token_verify(value, key, key_len, &claims) &&
		claims.backend_pid == MyProcPid &&
		claims.backend_start == MyStartTimestamp;
	if (valid)
		ctx = build_context(&claims);
	MemoryContextSwitchTo(saved);
	MemoryContextDelete(scratch);

	if (!valid)
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("taskforce.context value is not valid for this session");
		return false;
	}
	if (ctx == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	*extra = ctx;
	return true;
}

/* Makes the decoded value the active context. */
static void
assign_context(const char *newval, void *extra)
{
	const TfContext *ctx = (const TfContext *) extra;

	active_context = ctx;
	context_generation++;
	if (ctx == NULL)
		tf_registry_clear();
	else
		tf_registry_publish((const text *) (ctx->data + ctx->tenant_off),
							(const text *) (ctx->data + ctx->user_off),
							(const text *) (ctx->data + ctx->method_off),
							ctx->scope, ctx->established_at, ctx->expires_at);
}

/* Defines the settings of the context subsystem. */
void
tf_context_init(void)
{
	tf_secret_init();
	tf_lifetime_init();
	tf_registry_init();

	DefineCustomStringVariable(TF_CONTEXT_SETTING,
							   "Signed identity of the current request (set by taskforce only).",
							   "Established by taskforce.act_as() or an authentication function; cannot be set directly.",
							   &context_setting,
							   "",
							   PGC_USERSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE |
							   GUC_DISALLOW_IN_FILE,
							   check_context, assign_context, NULL);

	DefineCustomIntVariable("taskforce.max_context_ttl",
							"Longest lifetime of an established context.",
							"Also the lifetime of a context established without an explicit ttl.",
							&max_context_ttl,
							3600, 1, 7 * 24 * 3600,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/*
 * Signs claims for this backend and installs them as the current context,
 * for the transaction or the session as claims->scope says.  The caller
 * has verified the credential and filled in identity, method and expiry.
 */
void
tf_context_establish(TfContextClaims *claims)
{
	const uint8 *key;
	size_t		key_len;
	char	   *value;

	if (!tf_secret_get(&key, &key_len))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("taskforce must be loaded through shared_preload_libraries to establish a context"),
				 errhint("Add taskforce to shared_preload_libraries in postgresql.conf and restart the server, or set taskforce.context_secret.")));

	if (claims->scope == TF_SCOPE_TRANSACTION && !IsTransactionBlock())
		ereport(WARNING,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("a transaction-scoped context ends with the current statement outside a transaction block"),
				 errhint("Establish the context after BEGIN, or pass scope => 'session'.")));
	tf_lifetime_check_establish(claims->scope);

	claims->backend_pid = MyProcPid;
	claims->backend_start = MyStartTimestamp;
	claims->established_by = GetUserNameFromId(GetSessionUserId(), false);
	value = tf_token_sign(claims, key, key_len);

	armed_value = MemoryContextStrdup(TopMemoryContext, value);
	PG_TRY();
	{
		(void) set_config_option(TF_CONTEXT_SETTING, value, PGC_USERSET, PGC_S_SESSION,
								 claims->scope == TF_SCOPE_SESSION ? GUC_ACTION_SET : GUC_ACTION_LOCAL,
								 true, ERROR, false);
	}
	PG_FINALLY();
	{
		disarm();
	}
	PG_END_TRY();
	pfree(value);
}

/* Removes any context, transaction- or session-scoped. */
void
tf_context_clear(void)
{
	(void) set_config_option(TF_CONTEXT_SETTING, "", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, ERROR, false);
}

/*
 * Returns the active context, or NULL if there is none or it has expired.
 * Raises invalid_authorization_specification when its tenant or user may
 * no longer act (see rbac/liveness.c).
 */
static inline const TfContext *
live_context(void)
{
	const TfContext *ctx = active_context;

	if (ctx != NULL && ctx->expires_at > GetCurrentStatementStartTimestamp())
	{
		tf_liveness_require(context_generation,
							(const text *) (ctx->data + ctx->tenant_off),
							(const text *) (ctx->data + ctx->user_off),
							(const text *) (ctx->data + ctx->method_off));
		return ctx;
	}
	return NULL;
}

/*
 * Sets *scope to the scope of the active context, expired or not, and
 * returns true; returns false when there is none.
 */
bool
tf_context_active_scope(TfContextScope *scope)
{
	if (active_context == NULL)
		return false;
	*scope = active_context->scope;
	return true;
}

/* Fills *view from ctx; returns false when ctx is NULL. */
static bool
fill_view(const TfContext *ctx, TfContextView *view)
{
	view->generation = context_generation;
	if (ctx == NULL)
		return false;
	view->tenant_id = (const text *) (ctx->data + ctx->tenant_off);
	view->user_id = (const text *) (ctx->data + ctx->user_off);
	view->roles = (ArrayType *) (ctx->data + ctx->roles_off);
	view->scopes = ctx->scopes_off >= 0 ? (ArrayType *) (ctx->data + ctx->scopes_off) : NULL;
	view->auth_method = (const text *) (ctx->data + ctx->method_off);
	view->expires_at = ctx->expires_at;
	return true;
}

/*
 * Fills *view with pointers into the live context (valid until the context
 * next changes) and returns true, or returns false when there is none.
 * Raises, as the readers do, when its tenant or user may no longer act.
 */
bool
tf_context_view(TfContextView *view)
{
	return fill_view(live_context(), view);
}

/*
 * Like tf_context_view, but without the liveness check: for attributing an
 * event (a failed login) to whoever holds the context, which must work
 * even when the context may no longer act.
 */
bool
tf_context_view_unchecked(TfContextView *view)
{
	const TfContext *ctx = active_context;

	if (ctx == NULL || ctx->expires_at <= GetCurrentStatementStartTimestamp())
		ctx = NULL;
	return fill_view(ctx, view);
}

/* Returns a palloc'd copy of the varlena stored at off. */
static inline Datum
copy_field(const TfContext *ctx, int32 off)
{
	const struct varlena *v = (const struct varlena *) (ctx->data + off);
	struct varlena *copy = palloc(VARSIZE(v));

	memcpy(copy, v, VARSIZE(v));
	return PointerGetDatum(copy);
}

PG_FUNCTION_INFO_V1(taskforce_current_tenant);
PG_FUNCTION_INFO_V1(taskforce_current_user_id);
PG_FUNCTION_INFO_V1(taskforce_current_roles);
PG_FUNCTION_INFO_V1(taskforce_current_context);
PG_FUNCTION_INFO_V1(taskforce_establish_context);
PG_FUNCTION_INFO_V1(taskforce_clear_context);

/* Returns the tenant of the current context, or NULL. */
Datum
taskforce_current_tenant(PG_FUNCTION_ARGS)
{
	const TfContext *ctx = live_context();

	if (ctx == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(copy_field(ctx, ctx->tenant_off));
}

/* Returns the user of the current context, or NULL. */
Datum
taskforce_current_user_id(PG_FUNCTION_ARGS)
{
	const TfContext *ctx = live_context();

	if (ctx == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(copy_field(ctx, ctx->user_off));
}

/* Returns the roles of the current context, or NULL. */
Datum
taskforce_current_roles(PG_FUNCTION_ARGS)
{
	const TfContext *ctx = live_context();

	if (ctx == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(copy_field(ctx, ctx->roles_off));
}

/* Returns the whole current context as one row; all NULL when there is none. */
Datum
taskforce_current_context(PG_FUNCTION_ARGS)
{
	const TfContext *ctx = live_context();
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	memset(nulls, ctx == NULL, sizeof(nulls));
	if (ctx != NULL)
	{
		values[0] = copy_field(ctx, ctx->tenant_off);
		values[1] = copy_field(ctx, ctx->user_off);
		values[2] = copy_field(ctx, ctx->roles_off);
		values[3] = copy_field(ctx, ctx->method_off);
		values[4] = CStringGetTextDatum(tf_scope_name(ctx->scope));
		values[5] = copy_field(ctx, ctx->by_off);
		values[6] = TimestampTzGetDatum(ctx->established_at);
		values[7] = TimestampTzGetDatum(ctx->expires_at);
		if (ctx->scopes_off >= 0)
			values[8] = copy_field(ctx, ctx->scopes_off);
		else
			nulls[8] = true;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Returns the text argument n as a C string, rejecting NULL, empty and overlong values. */
static char *
required_name_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	char	   *s;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	s = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (s[0] == '\0' || strlen(s) > MAX_NAME_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 1 and %d bytes long", what, MAX_NAME_BYTES)));
	return s;
}

/*
 * Reads a text[] of names (roles or scopes) into *n and *items, rejecting
 * NULL or empty elements and too many of them; a NULL array gives
 * null_count.
 */
static void
names_arg(FunctionCallInfo fcinfo, int n, const char *what, int null_count,
		  int *count, char ***items)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			i;

	*count = null_count;
	*items = NULL;
	if (PG_ARGISNULL(n))
		return;
	arr = PG_GETARG_ARRAYTYPE_P(n);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &elem_nulls, count);
	if (*count > MAX_ROLES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a context can carry at most %d %s", MAX_ROLES, what)));
	*items = palloc(sizeof(char *) * Max(*count, 1));
	for (i = 0; i < *count; i++)
	{
		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain null", what)));
		(*items)[i] = TextDatumGetCString(elems[i]);
		if ((*items)[i][0] == '\0' || strlen((*items)[i]) > MAX_NAME_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("each element of %s must be between 1 and %d bytes long",
							what, MAX_NAME_BYTES)));
	}
}

/* Parses the scope argument: 'transaction' (the default) or 'session'. */
static TfContextScope
scope_arg(FunctionCallInfo fcinfo, int n)
{
	char	   *scope;

	if (PG_ARGISNULL(n))
		return TF_SCOPE_TRANSACTION;
	scope = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (strcmp(scope, "transaction") == 0)
		return TF_SCOPE_TRANSACTION;
	if (strcmp(scope, "session") == 0)
		return TF_SCOPE_SESSION;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid context scope \"%s\"", scope),
			 errhint("Use 'transaction' or 'session'.")));
	pg_unreachable();
}

/* Turns the ttl argument into an expiry, enforcing taskforce.max_context_ttl. */
static TimestampTz
expiry_arg(FunctionCallInfo fcinfo, int n, TimestampTz now)
{
	TimestampTz longest = now + (TimestampTz) max_context_ttl * USECS_PER_SEC;
	TimestampTz expires_at;

	if (PG_ARGISNULL(n))
		return longest;
	expires_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														 TimestampTzGetDatum(now),
														 PG_GETARG_DATUM(n)));
	if (expires_at <= now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must be positive")));
	if (expires_at > longest)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must not exceed taskforce.max_context_ttl (%d seconds)",
						max_context_ttl)));
	return expires_at;
}

/*
 * _establish_context(tenant_id, user_id, roles, auth_method, scope, ttl,
 * permission_scopes):
 * the SQL entry point to tf_context_establish, executable only by the
 * extension's SECURITY DEFINER functions once they have verified the caller.
 */
Datum
taskforce_establish_context(PG_FUNCTION_ARGS)
{
	TfContextClaims claims;

	memset(&claims, 0, sizeof(claims));
	claims.tenant_id = required_name_arg(fcinfo, 0, "tenant_id");
	claims.user_id = required_name_arg(fcinfo, 1, "user_id");
	names_arg(fcinfo, 2, "roles", 0, &claims.nroles, &claims.roles);
	claims.auth_method = required_name_arg(fcinfo, 3, "auth_method");
	claims.scope = scope_arg(fcinfo, 4);
	claims.issued_at = GetCurrentTimestamp();
	claims.expires_at = expiry_arg(fcinfo, 5, claims.issued_at);
	if (PG_NARGS() > 6)
		names_arg(fcinfo, 6, "permission scopes", -1, &claims.nscopes, &claims.scopes);
	else
		claims.nscopes = -1;
	tf_context_establish(&claims);
	PG_RETURN_VOID();
}

/* clear_context(): drops the current context, whatever its scope. */
Datum
taskforce_clear_context(PG_FUNCTION_ARGS)
{
	tf_context_clear();
	PG_RETURN_VOID();
}
