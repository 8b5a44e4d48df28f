/*
 * src/audit/trigger.c: the audit trigger of taskforce.enable_audit
 * (spec/AUDIT_SPEC.md, "The entry table").  AFTER ROW INSERT/UPDATE/DELETE
 * and AFTER STATEMENT TRUNCATE; each call writes one taskforce.audit_log
 * entry, whoever the caller is (app roles have no privilege on audit_log):
 * append.c puts it straight into the partition of its month, the default
 * partition for a month without one.
 *
 * Trigger arguments (set by enable_audit): event_type, changed_only ('t' or
 * 'f'), excluded columns and redacted columns (text[] literals), the tenant
 * column ('' when the table is not under tenant isolation).
 */
#include "postgres.h"

#include <openssl/hmac.h>
#include <openssl/evp.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "audit/encode.h"
#include "audit/sealer.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "context/context.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "port.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "util/owner.h"
#include "audit/append.h"
#include "audit/row_image.h"
#include "audit/trigger.h"

PG_FUNCTION_INFO_V1(taskforce_audit_trigger);
PG_FUNCTION_INFO_V1(taskforce_audit_installing);

/*
 * Whether taskforce's install or upgrade script is running: enable_audit
 * marks the options it writes then as installed (not dumped).
 */
Datum
taskforce_audit_installing(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(creating_extension &&
				   CurrentExtensionObject == get_extension_oid("taskforce", true));
}

#define TF_AUDIT_NATTS 20

/* Backend-local entry_seq of the current top-level transaction. */
static FullTransactionId seq_xid;
static int32 seq_next;

/* The redaction key, read once per transaction. */
static LocalTransactionId key_lxid = InvalidLocalTransactionId;
static bytea *key_cache;

typedef struct AuditOptions
{
	const char *event_type;
	bool		changed_only;
	Datum	   *exclude;
	int			nexclude;
	Datum	   *redact;
	int			nredact;
	const char *tenant_column;
} AuditOptions;

static void
parse_list(const char *literal, Datum **elems, int *n)
{
	ArrayType  *arr;

	if (strcmp(literal, "{}") == 0)
	{
		*elems = NULL;
		*n = 0;
		return;
	}
	arr = DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, (char *) literal, TEXTOID, -1));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, elems, NULL, n);
}

static bool
in_list(Datum *elems, int n, const char *column, int len)
{
	for (int i = 0; i < n; i++)
	{
		text	   *t = DatumGetTextPP(elems[i]);

		if (VARSIZE_ANY_EXHDR(t) == (Size) len && memcmp(VARDATA_ANY(t), column, len) == 0)
			return true;
	}
	return false;
}

static char *
value_text(JsonbValue *v)
{
	Jsonb	   *jb = JsonbValueToJsonb(v);

	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

/* The value of key in a jsonb object, or NULL. */
static JsonbValue *
object_get(Jsonb *obj, const char *key, int len)
{
	JsonbValue	k;

	if (obj == NULL)
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = len;
	return findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
}

static void
put_field(StringInfo buf, const char *x)
{
	uint32		len = x ? strlen(x) : 0xffffffff;
	uint8		b[4] = {len >> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff};

	appendBinaryStringInfo(buf, (char *) b, 4);
	if (x)
		appendBinaryStringInfo(buf, x, strlen(x));
}

/* The redaction key (made on first use), read as the owner once per transaction. */
static bytea *
redaction_key(void)
{
	Oid			owner = tf_extension_owner();
	Oid			saved_user;
	int			saved_sec;
	bytea	   *key;
	bool		isnull;

	if (key_lxid == MyProc->lxid && key_cache != NULL)
		return key_cache;
	if (!OidIsValid(owner))
		elog(ERROR, "the taskforce extension is not installed in this database");
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT taskforce._audit_redaction_key()", false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the audit redaction key");
	key = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || VARSIZE_ANY_EXHDR(key) != 32)
		elog(ERROR, "the audit redaction key is not 32 bytes");
	if (key_cache == NULL)
		key_cache = MemoryContextAlloc(TopMemoryContext, VARHDRSZ + 32);
	SET_VARSIZE(key_cache, VARHDRSZ + 32);
	memcpy(VARDATA(key_cache), VARDATA_ANY(key), 32);
	key_lxid = MyProc->lxid;
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
	return key_cache;
}

/* "hmac-sha256:" || hex(HMAC(key, F(tenant) || F(object) || F(column) || F(value_text))). */
static char *
redacted(bytea *key, const char *tenant, const char *object, const char *column,
		 const char *vtext)
{
	StringInfoData buf;
	uint8		mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char		hex[2 * EVP_MAX_MD_SIZE + 1];

	initStringInfo(&buf);
	put_field(&buf, tenant);
	put_field(&buf, object);
	put_field(&buf, column);
	put_field(&buf, vtext);
	if (HMAC(EVP_sha256(), VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
			 (uint8 *) buf.data, buf.len, mac, &maclen) == NULL)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("hmac-sha256 failed")));
	hex[hex_encode((char *) mac, maclen, hex)] = '\0';
	return psprintf("hmac-sha256:%s", hex);
}

/*
 * The stored values of one side: the row image without excluded columns,
 * with redacted columns replaced, and (changed_only) only columns whose
 * value differs from the other image.  Returns NULL for no image.
 */
static Jsonb *
filter_values(Jsonb *image, Jsonb *other, const AuditOptions *opt, bytea *key,
			  const char *tenant, const char *object)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue	k;
	JsonbIteratorToken tok;
	JsonbValue *res;

	if (image == NULL)
		return NULL;
	if (opt->nexclude == 0 && opt->nredact == 0 && !(other != NULL && opt->changed_only))
		return image;			/* nothing to filter */
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&image->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			k = v;
		else if (tok == WJB_VALUE)
		{
			const char *col = k.val.string.val;
			int			len = k.val.string.len;
			char	   *vtext;

			if (in_list(opt->exclude, opt->nexclude, col, len))
				continue;
			vtext = value_text(&v);
			if (other != NULL && opt->changed_only)
			{
				JsonbValue *o = object_get(other, col, len);

				if (o != NULL && strcmp(value_text(o), vtext) == 0)
					continue;
			}
			pushJsonbValue(&state, WJB_KEY, &k);
			if (in_list(opt->redact, opt->nredact, col, len))
			{
				JsonbValue	r;
				char	   *colname = pnstrdup(col, len);

				r.type = jbvString;
				r.val.string.val = redacted(key, tenant, object, colname, vtext);
				r.val.string.len = strlen(r.val.string.val);
				pushJsonbValue(&state, WJB_VALUE, &r);
			}
			else
				pushJsonbValue(&state, WJB_VALUE, &v);
		}
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* jsonb_out text of {primary key column: value} taken from the row image. */
char *
tf_audit_row_key_text(Relation rel, Jsonb *image)
{
	Bitmapset  *pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	JsonbParseState *state = NULL;
	JsonbValue *res;
	Jsonb	   *jb;
	int			i = -1;

	if (pk == NULL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("audited table \"%s\" has no primary key",
							   RelationGetRelationName(rel))));
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	while ((i = bms_next_member(pk, i)) >= 0)
	{
		AttrNumber	att = i + FirstLowInvalidHeapAttributeNumber;
		const char *name = NameStr(TupleDescAttr(RelationGetDescr(rel), att - 1)->attname);
		JsonbValue	k;
		JsonbValue *v = object_get(image, name, strlen(name));

		k.type = jbvString;
		k.val.string.val = (char *) name;
		k.val.string.len = strlen(name);
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	jb = JsonbValueToJsonb(res);
	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

/* Number of (side, column) values of a jsonb object. */
static int
count_values(Jsonb *obj)
{
	return obj == NULL ? 0 : JsonContainerSize(&obj->root);
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Writes one entry: the context's attribution, the transaction's start
 * time, id and next entry_seq, fresh salts and the leaf hash.
 */
static void
insert_entry(const char *event_type, const char *object, const char *row_key,
			 const char *action, const char *tenant, const TfContextView *ctx,
			 Jsonb *old_values, Jsonb *new_values)
{
	FullTransactionId fxid;
	Datum		values[TF_AUDIT_NATTS];
	bool		nulls[TF_AUDIT_NATTS];
	int			nvalues;
	bytea	   *salts;
	bytea	   *leaf;
	TimestampTz logged_at = GetCurrentTransactionStartTimestamp();
	CommandId	cid = ActiveSnapshotSet() ? GetActiveSnapshot()->curcid : GetCurrentCommandId(false);
	const char *appname;

	fxid = GetTopFullTransactionId();
	if (!FullTransactionIdEquals(fxid, seq_xid))
	{
		seq_xid = fxid;
		seq_next = 1;
		tf_sealer_note_write(fxid);	/* the background sealer visits this database */
	}

	memset(nulls, 0, sizeof(nulls));
	values[0] = text_or_null(tenant, &nulls[0]);
	values[1] = TimestampTzGetDatum(logged_at);
	values[2] = Int64GetDatum((int64) U64FromFullTransactionId(fxid));
	values[3] = Int32GetDatum(seq_next);
	values[4] = Int32GetDatum((int32) cid);
	values[5] = CStringGetTextDatum(event_type);
	values[6] = text_or_null(object, &nulls[6]);
	values[7] = text_or_null(row_key, &nulls[7]);
	values[8] = CStringGetTextDatum(action);
	values[9] = text_or_null(ctx && ctx->user_id ? text_to_cstring(ctx->user_id) : NULL, &nulls[9]);
	values[10] = PointerGetDatum(ctx ? ctx->roles : NULL);
	nulls[10] = !(ctx && ctx->roles);
	values[11] = text_or_null(ctx && ctx->auth_method ? text_to_cstring(ctx->auth_method) : NULL,
							  &nulls[11]);
	values[12] = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));
	values[13] = PointerGetDatum(old_values);
	nulls[13] = (old_values == NULL);
	values[14] = PointerGetDatum(new_values);
	nulls[14] = (new_values == NULL);
	nulls[15] = true;
	values[15] = (Datum) 0;
	{
		LOCAL_FCINFO(afc, 0);

		InitFunctionCallInfoData(*afc, NULL, 0, InvalidOid, NULL, NULL);
		values[16] = inet_client_addr(afc);
		nulls[16] = afc->isnull;
	}
	appname = GetConfigOption("application_name", true, false);
	values[17] = text_or_null(appname && appname[0] ? appname : NULL, &nulls[17]);

	nvalues = count_values(old_values) + count_values(new_values);
	salts = palloc(VARHDRSZ + nvalues * TF_AUDIT_SALT_LEN);
	SET_VARSIZE(salts, VARHDRSZ + nvalues * TF_AUDIT_SALT_LEN);
	if (nvalues > 0 && !pg_strong_random(VARDATA(salts), nvalues * TF_AUDIT_SALT_LEN))
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate random salts")));
	values[18] = PointerGetDatum(salts);
	leaf = palloc0(VARHDRSZ + TF_AUDIT_HASH_LEN);
	SET_VARSIZE(leaf, VARHDRSZ + TF_AUDIT_HASH_LEN);
	values[19] = PointerGetDatum(leaf);

	/* The leaf hash by the same code that verifies it. */
	tf_audit_leaf_from_datums(tf_audit_log_columns(), values, nulls, (uint8 *) VARDATA(leaf));

	tf_audit_append(values, nulls, logged_at);
	seq_next++;

}

Datum
taskforce_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	AuditOptions opt;
	const char *action;
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	Jsonb	   *old_img = NULL;
	Jsonb	   *new_img = NULL;
	Jsonb	   *old_values;
	Jsonb	   *new_values;
	char	   *object;
	char	   *row_key = NULL;
	char	   *tenant = NULL;
	TfContextView ctx;
	bool		have_ctx;
	bytea	   *key = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("taskforce._audit_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || td->tg_trigger->tgnargs != 5)
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("taskforce._audit_trigger() must be an AFTER trigger made by enable_audit")));
	rel = td->tg_relation;
	opt.event_type = td->tg_trigger->tgargs[0];
	opt.changed_only = (strcmp(td->tg_trigger->tgargs[1], "t") == 0);
	parse_list(td->tg_trigger->tgargs[2], &opt.exclude, &opt.nexclude);
	parse_list(td->tg_trigger->tgargs[3], &opt.redact, &opt.nredact);
	opt.tenant_column = td->tg_trigger->tgargs[4];

	object = tf_audit_object_name(rel);
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		action = "TRUNCATE";
	else if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("taskforce._audit_trigger() audits rows and TRUNCATE only")));
	else if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		action = "INSERT";
		newtup = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		action = "UPDATE";
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
	{
		action = "DELETE";
		oldtup = td->tg_trigtuple;
	}
	if (oldtup)
		old_img = tf_audit_row_image(rel, oldtup);
	if (newtup)
		new_img = tf_audit_row_image(rel, newtup);
	if (old_img || new_img)
		row_key = tf_audit_row_key_text(rel, new_img ? new_img : old_img);

	have_ctx = tf_context_view(&ctx);
	if (opt.tenant_column[0] != '\0' && (old_img || new_img))
	{
		JsonbValue *t = object_get(new_img ? new_img : old_img, opt.tenant_column,
								   strlen(opt.tenant_column));

		if (t != NULL && t->type == jbvString)
			tenant = pnstrdup(t->val.string.val, t->val.string.len);
		else if (t != NULL && t->type != jbvNull)
			tenant = value_text(t);
	}
	else if (have_ctx && ctx.tenant_id != NULL)
		tenant = text_to_cstring(ctx.tenant_id);

	if (opt.nredact > 0)
		key = redaction_key();
	old_values = filter_values(old_img, new_img, &opt, key, tenant, object);
	new_values = filter_values(new_img, old_img, &opt, key, tenant, object);

	/* Changed-only: an update that changes nothing recorded writes nothing. */
	if (opt.changed_only && old_img && new_img &&
		count_values(old_values) == 0 && count_values(new_values) == 0)
		return PointerGetDatum(NULL);

	insert_entry(opt.event_type, object, row_key, action, tenant, have_ctx ? &ctx : NULL,
				 old_values, new_values);
	return PointerGetDatum(NULL);
}

/* schema.table as entries name a table (quoted where needed). */
char *
tf_audit_object_name(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

/*
 * Writes an entry that is not a table change (erasure, purge, evidence,
 * transition), attributed from the context like a change; tenant NULL: the
 * context's.
 */
void
tf_audit_write_entry(const char *event_type, const char *object, const char *row_key,
					 const char *action, const char *tenant, Jsonb *new_values)
{
	TfContextView ctx;
	bool		have_ctx = tf_context_view(&ctx);

	insert_entry(event_type, object, row_key, action,
				 tenant ? tenant : (have_ctx && ctx.tenant_id ? text_to_cstring(ctx.tenant_id) : NULL),
				 have_ctx ? &ctx : NULL, NULL, new_values);
}

PG_FUNCTION_INFO_V1(taskforce_audit_write_event);

/*
 * taskforce._audit_write_event(event_type, object, row_key, action,
 * tenant_id, new_values): writes an entry that is not a table change.
 */
Datum
taskforce_audit_write_event(PG_FUNCTION_ARGS)
{
	char	   *args[5];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("an audit event needs an event type and an action")));
	for (int i = 0; i < 5; i++)
		args[i] = PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
	tf_audit_write_entry(args[0], args[1], args[2], args[3], args[4],
						 PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(taskforce_audit_erasing);
PG_FUNCTION_INFO_V1(taskforce_audit_set_erasing);

/*
 * The erasure policies' switch: on only in the (sub)transaction that
 * erase_audit_values turned it on in, until it turns it off.  An error
 * aborts that subtransaction and with it the switch: a caller that catches
 * the error (ROLLBACK TO SAVEPOINT) runs in another subtransaction, where
 * the switch reads off, so the erasure policies never widen its reads.
 */
static LocalTransactionId erasing_lxid = InvalidLocalTransactionId;
static SubTransactionId erasing_subxid = InvalidSubTransactionId;

Datum
taskforce_audit_erasing(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(erasing_lxid != InvalidLocalTransactionId && erasing_lxid == MyProc->lxid &&
				   erasing_subxid == GetCurrentSubTransactionId());
}

Datum
taskforce_audit_set_erasing(PG_FUNCTION_ARGS)
{
	bool		on = PG_GETARG_BOOL(0);

	erasing_lxid = on ? MyProc->lxid : InvalidLocalTransactionId;
	erasing_subxid = on ? GetCurrentSubTransactionId() : InvalidSubTransactionId;
	PG_RETURN_VOID();
}
