/*-------------------------------------------------------------------------
 * src/lifecycle/machine.c
 *	  The state machine trigger (spec/LIFE_SPEC.md, section 1): every rule
 *	  a transition must pass, in one place, and its audit entry.
 *
 * attach_state_machine (state_machines.sql) creates the BEFORE INSERT OR
 * UPDATE OF <column> row trigger with arguments (machine, column, content
 * column or '').  The machines come from the per-backend cache of
 * machine_cache.c.
 *
 * The transition reason and the system-transition switch are backend
 * variables bound to the transaction (its local id) and to the
 * subtransaction that set them: never settings, so nothing carries over to
 * the next client of a pooled connection, and a rolled-back savepoint
 * takes them back.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "audit/row_image.h"
#include "audit/trigger.h"
#include "context/context.h"
#include "crypto/crypto.h"
#include "lifecycle/machine.h"
#include "rbac/rbac.h"
#include "util/owner.h"

#define TRIGGER_NAME "taskforce_state_machine"

/* What a trigger remembers between calls (fn_extra), per table. */
typedef struct TriggerMemo
{
	Oid			relid;
	int			natts;
	AttrNumber	state_att;
	AttrNumber	content_att;	/* 0: none */
	AttrNumber	tenant_att;		/* the tenant_id column; 0: none */
	bool		content_is_bytea;
	Oid			content_output;	/* output function of a non-bytea content column */
	char	   *label;			/* table.column, for messages */
	char	   *object;			/* schema.table of the attached table, as audit names it */
} TriggerMemo;

/* The reason and the system switch, bound to a transaction and subtransaction. */
static char *reason = NULL;		/* in TopMemoryContext */
static LocalTransactionId reason_lxid = InvalidLocalTransactionId;
static SubTransactionId reason_subxid = InvalidSubTransactionId;
static LocalTransactionId system_lxid = InvalidLocalTransactionId;
static SubTransactionId system_subxid = InvalidSubTransactionId;
static bool subxact_callback_registered = false;

/* Registers the subtransaction callback that takes the switches back. */
static void machine_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									 SubTransactionId parentSubid, void *arg);

static void
register_subxact_callback(void)
{
	if (!subxact_callback_registered)
	{
		RegisterSubXactCallback(machine_subxact_callback, NULL);
		subxact_callback_registered = true;
	}
}

/*
 * A committed subtransaction hands what it set to its parent; an aborted
 * one takes it back.
 */
static void
machine_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		if (reason_subxid == mySubid)
			reason_subxid = parentSubid;
		if (system_subxid == mySubid)
			system_subxid = parentSubid;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		if (reason_subxid == mySubid)
			reason_lxid = InvalidLocalTransactionId;
		if (system_subxid == mySubid)
			system_lxid = InvalidLocalTransactionId;
	}
}

static bool
system_transitions_on(void)
{
	return system_lxid != InvalidLocalTransactionId && system_lxid == MyProc->lxid;
}

static const char *
current_reason(void)
{
	return (reason_lxid != InvalidLocalTransactionId && reason_lxid == MyProc->lxid) ? reason : NULL;
}

/* The attached table: a partition's topmost ancestor, else the table itself. */
static Oid
attached_relid(Relation rel)
{
	if (rel->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(RelationGetRelid(rel));

		if (ancestors != NIL)
			return llast_oid(ancestors);
	}
	return RelationGetRelid(rel);
}

/* The attribute number of a column by name, 0 if there is none. */
static AttrNumber
column_number(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i + 1;
	}
	return 0;
}

/*
 * Returns what the trigger needs to know about the table, remembered in
 * fn_extra while the table's columns stay where they were.
 */
static TriggerMemo *
trigger_memo(FunctionCallInfo fcinfo, Relation rel, const char *column, const char *content_column)
{
	TriggerMemo *memo = (TriggerMemo *) fcinfo->flinfo->fn_extra;
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old;
	Oid			root;
	char	   *root_name;

	if (memo != NULL && memo->relid == RelationGetRelid(rel) && memo->natts == desc->natts &&
		strcmp(NameStr(TupleDescAttr(desc, memo->state_att - 1)->attname), column) == 0 &&
		!TupleDescAttr(desc, memo->state_att - 1)->attisdropped)
		return memo;

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (memo == NULL)
		memo = fcinfo->flinfo->fn_extra = palloc0(sizeof(TriggerMemo));
	memo->relid = InvalidOid;
	memo->natts = desc->natts;
	memo->state_att = column_number(desc, column);
	if (memo->state_att == 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
						errmsg("table \"%s\" has no state column \"%s\"", RelationGetRelationName(rel), column),
						errhint("Detach the state machine and attach it again to the renamed column.")));
	if (getBaseType(TupleDescAttr(desc, memo->state_att - 1)->atttypid) != TEXTOID &&
		getBaseType(TupleDescAttr(desc, memo->state_att - 1)->atttypid) != VARCHAROID)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("state column \"%s\" of table \"%s\" is not text", column,
							   RelationGetRelationName(rel))));
	memo->content_att = 0;
	if (content_column[0] != '\0')
	{
		Oid			type;
		bool		varlena;

		memo->content_att = column_number(desc, content_column);
		if (memo->content_att == 0)
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
							errmsg("table \"%s\" has no content column \"%s\"",
								   RelationGetRelationName(rel), content_column)));
		type = TupleDescAttr(desc, memo->content_att - 1)->atttypid;
		memo->content_is_bytea = (getBaseType(type) == BYTEAOID);
		getTypeOutputInfo(type, &memo->content_output, &varlena);
	}
	memo->tenant_att = column_number(desc, "tenant_id");
	root = attached_relid(rel);
	root_name = get_rel_name(root);
	memo->label = psprintf("%s.%s", root_name, column);
	memo->object = quote_qualified_identifier(get_namespace_name(get_rel_namespace(root)), root_name);
	memo->relid = RelationGetRelid(rel);
	MemoryContextSwitchTo(old);
	return memo;
}

/* A state column's value as a C string, NULL for null. */
static char *
state_value(HeapTuple tuple, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, att, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Whether the state column holds the same value in both tuples. */
static bool
same_state(HeapTuple a, HeapTuple b, TupleDesc desc, AttrNumber att)
{
	bool		anull;
	bool		bnull;
	Datum		ad = heap_getattr(a, att, desc, &anull);
	Datum		bd = heap_getattr(b, att, desc, &bnull);
	text	   *at;
	text	   *bt;

	if (anull || bnull)
		return anull && bnull;
	at = DatumGetTextPP(ad);
	bt = DatumGetTextPP(bd);
	return VARSIZE_ANY_EXHDR(at) == VARSIZE_ANY_EXHDR(bt) &&
		memcmp(VARDATA_ANY(at), VARDATA_ANY(bt), VARSIZE_ANY_EXHDR(at)) == 0;
}

/* The row's tenant: its tenant_id column, else the context's; NULL if neither. */
static char *
row_tenant(HeapTuple tuple, TupleDesc desc, TriggerMemo *memo)
{
	TfContextView ctx;

	if (memo->tenant_att > 0)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, memo->tenant_att, desc, &isnull);
		Oid			out;
		bool		varlena;

		if (isnull)
			return NULL;
		getTypeOutputInfo(TupleDescAttr(desc, memo->tenant_att - 1)->atttypid, &out, &varlena);
		return OidOutputFunctionCall(out, d);
	}
	if (tf_context_view(&ctx) && ctx.tenant_id != NULL)
		return text_to_cstring(ctx.tenant_id);
	return NULL;
}

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
}

static void
push_string(JsonbParseState **state, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * The resource id of a row: jsonb text of {primary key column: value}
 * without tenant_id, taken from the row image.
 */
static char *
resource_id(Relation rel, Jsonb *image)
{
	Bitmapset  *pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	JsonbParseState *state = NULL;
	Jsonb	   *jb;
	int			i = -1;

	if (pk == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
						errmsg("table \"%s\" has no primary key", RelationGetRelationName(rel))));
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	while ((i = bms_next_member(pk, i)) >= 0)
	{
		AttrNumber	att = i + FirstLowInvalidHeapAttributeNumber;
		const char *name = NameStr(TupleDescAttr(RelationGetDescr(rel), att - 1)->attname);
		JsonbValue	k;
		JsonbValue *v;

		if (strcmp(name, "tenant_id") == 0)
			continue;
		k.type = jbvString;
		k.val.string.val = (char *) name;
		k.val.string.len = strlen(name);
		v = findJsonbValueFromContainer(&image->root, JB_FOBJECT, &k);
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, v);
	}
	jb = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

/* The Oid of taskforce.<name>(types), InvalidOid if it does not exist. */
static Oid
taskforce_function(const char *name, int nargs, Oid *types)
{
	return LookupFuncName(list_make2(makeString("taskforce"), makeString(pstrdup(name))),
						  nargs, types, true);
}

/*
 * The content hash of a row: its content column (bytea as is, otherwise
 * SHA-256 of its text output), else taskforce.config_hash of the row image
 * without the state column.  NULL when the content column is null.
 */
static bytea *
content_hash(HeapTuple tuple, TupleDesc desc, TriggerMemo *memo, Jsonb *image)
{
	if (memo->content_att > 0)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, memo->content_att, desc, &isnull);
		char	   *s;
		bytea	   *out;

		if (isnull)
			return NULL;
		if (memo->content_is_bytea)
			return DatumGetByteaPCopy(d);
		s = OidOutputFunctionCall(memo->content_output, d);
		out = palloc(VARHDRSZ + TF_SHA256_LEN);
		SET_VARSIZE(out, VARHDRSZ + TF_SHA256_LEN);
		if (!tf_sha256((const uint8 *) s, strlen(s), (uint8 *) VARDATA(out)))
			ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("sha-256 failed")));
		return out;
	}
	else
	{
		Oid			types[1] = {JSONBOID};
		Oid			fn = taskforce_function("config_hash", 1, types);
		const char *column = NameStr(TupleDescAttr(desc, memo->state_att - 1)->attname);
		Datum		without;

		if (!OidIsValid(fn))
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
							errmsg("function taskforce.config_hash(jsonb) does not exist")));
		without = DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(image),
									  CStringGetTextDatum(column));
		return DatumGetByteaPCopy(OidFunctionCall1(fn, without));
	}
}

/* Calls a boolean taskforce function by name (text/bytea arguments, NULL allowed); NULL result: false. */
static bool
call_boolean(const char *name, int nargs, Oid *types, Datum *values, bool *nulls)
{
	Oid			fn = taskforce_function(name, nargs, types);
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fc, 5);
	Datum		result;

	Assert(nargs <= 5);
	if (!OidIsValid(fn))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("function taskforce.%s does not exist", name),
						errhint("Approval workflows (approvals.sql) define it.")));
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fc, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fc->args[i].value = values[i];
		fc->args[i].isnull = nulls[i];
	}
	if (flinfo.fn_strict)
		for (int i = 0; i < nargs; i++)
			if (nulls[i])
				return false;
	result = FunctionCallInvoke(fc);
	return !fc->isnull && DatumGetBool(result);
}

/*
 * Refuses a transition that needs an approved request when the row's
 * tenant has an enabled workflow for the request type and no approved
 * request binds this row's current content.
 */
static void
check_approval(Relation rel, HeapTuple tuple, TriggerMemo *memo, Transition *t, Jsonb *image)
{
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *tenant = row_tenant(tuple, desc, memo);
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID};
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	bytea	   *hash;

	if (tenant == NULL)
		return;					/* no tenant, no workflow: the permission decides */
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(t->approval);
	if (!call_boolean("_workflow_exists", 2, types, values, nulls))
		return;
	hash = content_hash(tuple, desc, memo, image);
	values[2] = CStringGetTextDatum(memo->object);
	values[3] = CStringGetTextDatum(resource_id(rel, image));
	values[4] = PointerGetDatum(hash);
	nulls[4] = (hash == NULL);
	if (!call_boolean("_approval_satisfied", 5, types, values, nulls))
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("transition of %s from \"%s\" to \"%s\" requires an approved \"%s\" request for this content",
							   memo->label, t->from, t->to, t->approval),
						errhint("Request approval with taskforce.request_approval(); an approval binds the content it was given for.")));
}

/* Refuses a transition whose permission the caller does not hold. */
static void
check_permission(TriggerMemo *memo, Transition *t)
{
	bool		have_context;

	if (tf_rbac_context_has_permission(t->permission, strlen(t->permission), &have_context))
		return;
	if (!have_context && tf_rbac_caller_is_administrator())
		return;
	ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					errmsg("transition of %s from \"%s\" to \"%s\" requires permission \"%s\"",
						   memo->label, t->from, t->to, t->permission),
					have_context ? 0 : errdetail("There is no authenticated context.")));
}

/* Writes the transition's audit entry. */
static void
audit_transition(Relation rel, HeapTuple tuple, TriggerMemo *memo, const char *machine,
				 const char *column, const char *from, const char *to, Jsonb *image)
{
	JsonbParseState *state = NULL;
	Jsonb	   *values;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_key(&state, "machine");
	push_string(&state, machine);
	push_key(&state, "column");
	push_string(&state, column);
	push_key(&state, "from");
	push_string(&state, from);
	push_key(&state, "to");
	push_string(&state, to);
	push_key(&state, "reason");
	push_string(&state, current_reason());
	values = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	tf_audit_write_entry("transition", memo->object, tf_audit_row_key_text(rel, image),
						 from == NULL ? "create" : "transition",
						 row_tenant(tuple, RelationGetDescr(rel), memo), values);
}

/*
 * Whether this insert loads existing rows rather than creating one: a
 * superuser's COPY, or an INSERT with row_security off, as pg_dump's output
 * runs them, by a superuser's session.  A restore loads taskforce's own tables (whose trigger the
 * extension has already made) with rows in any state; a superuser could
 * disable the trigger anyway.
 */
static bool
loading_rows(void)
{
	/* The session's user, not the current one: taskforce's own SECURITY
	 * DEFINER functions run as a superuser for any caller. */
	if (!superuser_arg(GetSessionUserId()))
		return false;
	return !row_security ||
		(ActivePortal != NULL && ActivePortal->commandTag == CMDTAG_COPY);
}

PG_FUNCTION_INFO_V1(taskforce_state_machine_trigger);

/*
 * The trigger: an insert starts in an initial state; an update of the state
 * column is an allowed transition, its permission held (unless a system
 * transition is in progress) and its approval given; each is audited.
 */
Datum
taskforce_state_machine_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	TriggerMemo *memo;
	HeapTuple	newtup;
	char	   *from = NULL;
	char	   *to;
	Machine    *m;
	Transition *t = NULL;
	Jsonb	   *image;
	const char *machine;
	const char *column;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("taskforce._state_machine_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(td->tg_event) || td->tg_trigger->tgnargs != 3)
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("taskforce._state_machine_trigger() must be a BEFORE INSERT OR UPDATE row trigger made by attach_state_machine")));
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	machine = td->tg_trigger->tgargs[0];
	column = td->tg_trigger->tgargs[1];
	memo = trigger_memo(fcinfo, rel, column, td->tg_trigger->tgargs[2]);

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		newtup = td->tg_newtuple;
		/* The state is unchanged: nothing to check, nothing to record. */
		if (same_state(td->tg_trigtuple, newtup, desc, memo->state_att))
			return PointerGetDatum(newtup);
		from = state_value(td->tg_trigtuple, desc, memo->state_att);
	}
	else
	{
		newtup = td->tg_trigtuple;
		/* Rows loaded as they are: no check, and no 'create' entry. */
		if (loading_rows())
			return PointerGetDatum(newtup);
	}
	to = state_value(newtup, desc, memo->state_att);

	m = tf_machine_get(machine);
	if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		if (to == NULL || !tf_machine_in_list(m->initial, m->ninitial, to))
			ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							to == NULL ? errmsg("new row of %s must start in an initial state, not null", memo->label)
							: errmsg("new row of %s cannot start in state \"%s\"", memo->label, to),
							errhint("initial states: %s", tf_machine_join_list(m->initial, m->ninitial))));
	}
	else
	{
		if (from != NULL && to != NULL)
			t = tf_machine_find_transition(m, from, to);
		if (t == NULL)
		{
			if (from == NULL)
				ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
								errmsg("illegal transition of %s from null to \"%s\"", memo->label, to)));
			ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							to == NULL ? errmsg("illegal transition of %s from \"%s\" to null", memo->label, from)
							: errmsg("illegal transition of %s from \"%s\" to \"%s\"", memo->label, from, to),
							errhint("%s", tf_machine_next_states_hint(m, from))));
		}
		if (t->permission != NULL && !system_transitions_on())
			check_permission(memo, t);
	}

	image = tf_audit_row_image(rel, newtup);
	if (t != NULL && t->approval != NULL)
	{
		/*
		 * The approval functions run SQL, which may accept an invalidation
		 * and drop the cache: keep a copy of the transition.
		 */
		Transition	copy = {from, to, t->permission ? pstrdup(t->permission) : NULL, pstrdup(t->approval)};

		check_approval(rel, newtup, memo, &copy, image);
	}
	audit_transition(rel, newtup, memo, machine, column, from, to, image);
	return PointerGetDatum(newtup);
}

PG_FUNCTION_INFO_V1(taskforce_set_transition_reason);

/* set_transition_reason(reason): for the rest of the transaction; null clears it. */
Datum
taskforce_set_transition_reason(PG_FUNCTION_ARGS)
{
	if (reason != NULL)
	{
		pfree(reason);
		reason = NULL;
	}
	reason_lxid = InvalidLocalTransactionId;
	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	register_subxact_callback();
	reason = MemoryContextStrdup(TopMemoryContext, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	reason_lxid = MyProc->lxid;
	reason_subxid = GetCurrentSubTransactionId();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(taskforce_system_transitions);

/* _system_transitions(on): the permission check off (on) or back on, for this transaction. */
Datum
taskforce_system_transitions(PG_FUNCTION_ARGS)
{
	if (!PG_GETARG_BOOL(0))
	{
		system_lxid = InvalidLocalTransactionId;
		PG_RETURN_VOID();
	}
	register_subxact_callback();
	system_lxid = MyProc->lxid;
	system_subxid = GetCurrentSubTransactionId();
	PG_RETURN_VOID();
}

/* The state machine trigger's arguments on a table, or false if it has none. */
static bool
attached_trigger(Relation rel, char **column, char **content_column)
{
	TriggerDesc *trigdesc = rel->trigdesc;

	if (trigdesc == NULL)
		return false;
	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trig = &trigdesc->triggers[i];

		if (strcmp(trig->tgname, TRIGGER_NAME) == 0 && trig->tgnargs == 3)
		{
			*column = pstrdup(trig->tgargs[1]);
			*content_column = pstrdup(trig->tgargs[2]);
			return true;
		}
	}
	return false;
}

/*
 * Whether text can be cast to a key column's (base) type without running
 * anyone's code but the server's: a base type (made by a superuser, with C
 * input functions, so nobody else may add a cast to it) or an array of
 * base types; not a domain, composite or range, whose input checks
 * constraints, nor an enum, whose owner may create a cast from text.
 */
static bool
key_type_is_trusted(Oid type)
{
	char		kind = get_typtype(type);
	Oid			element;

	if (kind != TYPTYPE_BASE)
		return false;
	element = get_element_type(type);
	return !OidIsValid(element) || key_type_is_trusted(element);
}

/* Whether a jsonb object has the key. */
static bool
json_has_key(Jsonb *obj, const char *name)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) name;
	k.val.string.len = strlen(name);
	return findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k) != NULL;
}

/*
 * Appends " AND t.<column> = ($1 ->> '<column>')::<base type>".  The key
 * is cast to the column's base type: a domain's CHECK (or a composite's,
 * a range's) would run code of the table's owner as our caller, who may be
 * a SECURITY DEFINER function.
 */
static void
append_key_condition(StringInfo sql, Relation rel, Form_pg_attribute a)
{
	const char *name = NameStr(a->attname);
	int32		typmod = a->atttypmod;
	Oid			base = getBaseTypeAndTypmod(a->atttypid, &typmod);

	if (!key_type_is_trusted(base))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("key column \"%s\" of table \"%s\" is of type %s, which row keys do not support",
							   name, RelationGetRelationName(rel), format_type_be(a->atttypid)),
						errhint("Key columns are of base types (text, integer, uuid, ...) or domains over them.")));
	appendStringInfo(sql, " AND t.%s = ($1 ->> %s)::%s", quote_identifier(name),
					 quote_literal_cstr(name), format_type_with_typemod(base, typmod));
}

PG_FUNCTION_INFO_V1(taskforce_content_hash);

/*
 * content_hash(tbl, row_key): the content hash of an existing row, by the
 * trigger's rule.  The row is read as the caller (row security applies);
 * row_key names the primary key columns, tenant_id optional.
 */
static Datum
row_content_hash_or_state(FunctionCallInfo fcinfo, bool want_state)
{
	Oid			relid;
	Jsonb	   *key;
	Relation	rel;
	char	   *column;
	char	   *content_column;
	Bitmapset  *pk;
	StringInfoData sql;
	int			i = -1;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Datum		args[1];
	Oid			types[1] = {JSONBOID};
	int			rc;
	bool		isnull;
	HeapTupleData tuple;
	HeapTupleHeader row;
	TriggerMemo *memo;
	FmgrInfo	dummy;
	LOCAL_FCINFO(fake, 0);
	bytea	   *hash;
	AttrNumber	tenant_att;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("tbl and row_key must not be null")));
	relid = PG_GETARG_OID(0);
	key = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(key) || JB_ROOT_IS_SCALAR(key))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("row_key must be a json object of primary key columns, for example {\"id\": 7}")));
	rel = table_open(relid, AccessShareLock);
	if (!attached_trigger(rel, &column, &content_column))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("table \"%s\" has no state machine", RelationGetRelationName(rel))));
	pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	if (pk == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
						errmsg("table \"%s\" has no primary key", RelationGetRelationName(rel))));

	/*
	 * Every key is a primary key column (or the tenant column); every one
	 * but tenant_id is given.
	 */
	it = JsonbIteratorInit(&key->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_KEY)
		{
			char	   *name = pnstrdup(v.val.string.val, v.val.string.len);
			AttrNumber	att = column_number(RelationGetDescr(rel), name);

			if (att == 0 || (!bms_is_member(att - FirstLowInvalidHeapAttributeNumber, pk) &&
							 strcmp(name, "tenant_id") != 0))
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								errmsg("\"%s\" is not a primary key column of table \"%s\"", name,
									   RelationGetRelationName(rel))));
		}
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT t FROM %s AS t WHERE true",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	while ((i = bms_next_member(pk, i)) >= 0)
	{
		AttrNumber	att = i + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute a = TupleDescAttr(RelationGetDescr(rel), att - 1);

		if (!json_has_key(key, NameStr(a->attname)))
		{
			if (strcmp(NameStr(a->attname), "tenant_id") == 0)
				continue;
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("row_key of table \"%s\" needs its primary key column \"%s\"",
								   RelationGetRelationName(rel), NameStr(a->attname))));
		}
		append_key_condition(&sql, rel, a);
	}
	/* A tenant column outside the primary key narrows the row to the tenant's. */
	tenant_att = column_number(RelationGetDescr(rel), "tenant_id");
	if (tenant_att != 0 && !bms_is_member(tenant_att - FirstLowInvalidHeapAttributeNumber, pk) &&
		json_has_key(key, "tenant_id"))
		append_key_condition(&sql, rel, TupleDescAttr(RelationGetDescr(rel), tenant_att - 1));

	args[0] = JsonbPGetDatum(key);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql.data, 1, types, args, NULL, true, 2);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "content hash query failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("table \"%s\" has no row %s", RelationGetRelationName(rel),
							   JsonbToCString(NULL, &key->root, VARSIZE(key)))));
	if (SPI_processed > 1)
		ereport(ERROR, (errcode(ERRCODE_CARDINALITY_VIOLATION),
						errmsg("row_key %s names rows of several tenants of table \"%s\"",
							   JsonbToCString(NULL, &key->root, VARSIZE(key)), RelationGetRelationName(rel)),
						errhint("Add tenant_id to the row key, or call in a tenant's context.")));
	row = DatumGetHeapTupleHeader(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = relid;
	tuple.t_data = row;

	/* The trigger's own rule, through its memo of the table. */
	memset(&dummy, 0, sizeof(dummy));
	dummy.fn_mcxt = CurrentMemoryContext;
	InitFunctionCallInfoData(*fake, &dummy, 0, InvalidOid, NULL, NULL);
	memo = trigger_memo(fake, rel, column, content_column);
	if (want_state)
	{
		char	   *state = state_value(&tuple, RelationGetDescr(rel), memo->state_att);

		hash = state ? (bytea *) SPI_datumTransfer(CStringGetTextDatum(state), false, -1) : NULL;
	}
	else
	{
		hash = content_hash(&tuple, RelationGetDescr(rel), memo, tf_audit_row_image(rel, &tuple));
		hash = hash ? (bytea *) SPI_datumTransfer(PointerGetDatum(hash), false, -1) : NULL;
	}
	SPI_finish();
	table_close(rel, AccessShareLock);
	if (hash == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(hash);
}

Datum
taskforce_content_hash(PG_FUNCTION_ARGS)
{
	return row_content_hash_or_state(fcinfo, false);
}

PG_FUNCTION_INFO_V1(taskforce_row_state);

/*
 * _row_state(tbl, row_key): the state of an existing row, found as
 * content_hash finds it (approvals.sql: a request is for a transition the
 * row can make).
 */
Datum
taskforce_row_state(PG_FUNCTION_ARGS)
{
	return row_content_hash_or_state(fcinfo, true);
}
