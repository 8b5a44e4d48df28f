/*
 * src/audit/row_image.c: the old and new row images of an audited change,
 * byte for byte what to_jsonb(row) returns.
 *
 * to_jsonb(row) copies the tuple into a composite datum and, for every
 * column of every row, looks its type up again and calls its output
 * function through a fresh lookup; that was the largest cost of writing an
 * entry.  Here the columns' conversions are resolved once per table (until
 * its relcache entry is invalidated): text-like, integer, boolean and
 * date/time columns are converted the way to_jsonb converts them, and any
 * other type through to_jsonb of the single value.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "audit/row_image.h"

typedef enum ColumnKind
{
	COLUMN_DROPPED,
	COLUMN_STRING,				/* text, varchar, name: the value itself */
	COLUMN_INTEGER,				/* int2, int4, int8: a number */
	COLUMN_BOOL,
	COLUMN_DATETIME,			/* date, timestamp, timestamptz: ISO 8601 text */
	COLUMN_OTHER				/* to_jsonb(value) */
} ColumnKind;

typedef struct ColumnImage
{
	ColumnKind	kind;
	Oid			type;
	char	   *name;
	int			namelen;
	FmgrInfo	to_jsonb;		/* COLUMN_OTHER */
} ColumnImage;

typedef struct TableImage
{
	Oid			relid;			/* hash key */
	bool		valid;
	int			natts;
	ColumnImage *columns;
} TableImage;

static HTAB *tables = NULL;
static MemoryContext images_cxt = NULL;

static void
invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	TableImage *t;

	if (tables == NULL)
		return;
	hash_seq_init(&seq, tables);
	while ((t = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || t->relid == relid)
			t->valid = false;
}

static ColumnKind
column_kind(Oid type)
{
	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
			return COLUMN_STRING;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return COLUMN_INTEGER;
		case BOOLOID:
			return COLUMN_BOOL;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return COLUMN_DATETIME;
		default:
			return COLUMN_OTHER;
	}
}

static TableImage *
table_image(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	TableImage *t;
	ColumnImage *columns;
	bool		found;
	MemoryContext old;

	if (tables == NULL)
	{
		HASHCTL		ctl;

		images_cxt = AllocSetContextCreate(TopMemoryContext, "taskforce audit row images",
										   ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TableImage);
		ctl.hcxt = images_cxt;
		tables = hash_create("taskforce audit row images", 16, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(invalidate, (Datum) 0);
	}
	t = hash_search(tables, &relid, HASH_ENTER, &found);
	if (!found)
	{
		t->columns = NULL;
		t->natts = 0;
		t->valid = false;
	}
	else if (t->valid && t->natts == desc->natts)
		return t;
	if (t->columns != NULL)
	{
		for (int i = 0; i < t->natts; i++)
			pfree(t->columns[i].name);
		pfree(t->columns);		/* the FmgrInfos' fn_expr stay in images_cxt: small */
	}
	/* nothing half-built survives an error below: natts and columns are set together */
	t->columns = NULL;
	t->natts = 0;
	t->valid = false;
	old = MemoryContextSwitchTo(images_cxt);
	columns = palloc0(sizeof(ColumnImage) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ColumnImage *c = &columns[i];

		c->name = pstrdup(NameStr(att->attname));
		c->namelen = strlen(c->name);
		c->type = att->atttypid;
		c->kind = att->attisdropped ? COLUMN_DROPPED : column_kind(att->atttypid);
		if (c->kind == COLUMN_OTHER)
		{
			fmgr_info_cxt(F_TO_JSONB, &c->to_jsonb, images_cxt);
			c->to_jsonb.fn_expr = (Node *)
				makeFuncExpr(F_TO_JSONB, JSONBOID,
							 list_make1(makeNullConst(att->atttypid, att->atttypmod, att->attcollation)),
							 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		}
	}
	MemoryContextSwitchTo(old);
	t->columns = columns;
	t->natts = desc->natts;
	t->valid = true;
	return t;
}

/* The jsonb value of one non-null column, as to_jsonb converts it. */
static void
column_value(ColumnImage *c, Datum value, JsonbValue *v)
{
	switch (c->kind)
	{
		case COLUMN_STRING:
			{
				text	   *s = DatumGetTextPP(value);

				v->type = jbvString;
				v->val.string.len = VARSIZE_ANY_EXHDR(s);
				v->val.string.val = VARDATA_ANY(s);
				break;
			}
		case COLUMN_INTEGER:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(c->type == INT2OID ? DatumGetInt16(value) :
											  c->type == INT4OID ? DatumGetInt32(value) :
											  DatumGetInt64(value));
			break;
		case COLUMN_BOOL:
			v->type = jbvBool;
			v->val.boolean = DatumGetBool(value);
			break;
		case COLUMN_DATETIME:
			v->type = jbvString;
			v->val.string.val = JsonEncodeDateTime(NULL, value, c->type, NULL);
			v->val.string.len = strlen(v->val.string.val);
			break;
		default:
			{
				Jsonb	   *jb = DatumGetJsonbP(FunctionCall1(&c->to_jsonb, value));

				if (!JsonbExtractScalar(&jb->root, v))
				{
					v->type = jbvBinary;
					v->val.binary.data = &jb->root;
					v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
				}
				break;
			}
	}
}

Jsonb *
tf_audit_row_image(Relation rel, HeapTuple tuple)
{
	TableImage *t = table_image(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	JsonbParseState *state = NULL;
	JsonbValue *res;

	heap_deform_tuple(tuple, desc, values, nulls);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < t->natts; i++)
	{
		ColumnImage *c = &t->columns[i];
		JsonbValue	k;
		JsonbValue	v;

		if (c->kind == COLUMN_DROPPED)
			continue;
		k.type = jbvString;
		k.val.string.val = c->name;
		k.val.string.len = c->namelen;
		pushJsonbValue(&state, WJB_KEY, &k);
		if (nulls[i])
			v.type = jbvNull;
		else
			column_value(c, values[i], &v);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}
