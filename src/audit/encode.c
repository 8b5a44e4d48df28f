/*
 * src/audit/encode.c: the canonical encoding of an audit entry
 * (spec/AUDIT_SPEC.md): F(x) = u32be(len) || x, F(NULL) = ff ff ff ff;
 * leaf_hash = SHA-256(0x00 || leaf_data); per-value commitments
 * SHA-256(salt || F(side) || F(column) || F(value_text)).  OpenSSL EVP.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "audit/encode.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(taskforce_audit_leaf_hash);

typedef struct TfAuditValue
{
	const char *side;
	char	   *column;
	char	   *value_text;		/* NULL when erased */
	uint8		commitment[TF_AUDIT_HASH_LEN];	/* from erased, when erased */
} TfAuditValue;

static void
put_u32(StringInfo buf, uint32 n)
{
	uint8		b[4] = {n >> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff};

	appendBinaryStringInfo(buf, (char *) b, 4);
}

static void
put_field(StringInfo buf, const char *x, int len)
{
	if (x == NULL)
	{
		put_u32(buf, 0xffffffff);
		return;
	}
	put_u32(buf, (uint32) len);
	appendBinaryStringInfo(buf, x, len);
}

static void
put_text(StringInfo buf, const char *x)
{
	put_field(buf, x, x ? strlen(x) : 0);
}

static void
sha256(const void *data, size_t len, uint8 out[TF_AUDIT_HASH_LEN])
{
	unsigned int outlen = TF_AUDIT_HASH_LEN;

	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("sha-256 failed")));
}

char *
tf_audit_timestamp_text(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						errmsg("audit timestamp out of range")));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year, tm.tm_mon,
					tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

void
tf_audit_commitment(const uint8 salt[TF_AUDIT_SALT_LEN], const char *side,
					const char *column, const char *value_text,
					uint8 out[TF_AUDIT_HASH_LEN])
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) salt, TF_AUDIT_SALT_LEN);
	put_text(&buf, side);
	put_text(&buf, column);
	put_text(&buf, value_text);
	sha256(buf.data, buf.len, out);
	pfree(buf.data);
}

static int
value_cmp(const void *a, const void *b)
{
	const TfAuditValue *x = a;
	const TfAuditValue *y = b;
	int			c = strcmp(x->side, y->side);

	return c != 0 ? c : strcmp(x->column, y->column);
}

static char *
jsonb_value_text(JsonbValue *v)
{
	Jsonb	   *jb = JsonbValueToJsonb(v);

	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

/* Appends the (side, column) values of a jsonb object to vals. */
static void
collect_values(Jsonb *obj, const char *side, bool erased, TfAuditValue **vals,
			   int *n, int *cap)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *column = NULL;

	if (obj == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(obj))
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("audit values are not a json object")));
	it = JsonbIteratorInit(&obj->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			column = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			TfAuditValue *e;

			if (*n == *cap)
			{
				*cap *= 2;
				*vals = repalloc(*vals, sizeof(TfAuditValue) * *cap);
			}
			e = &(*vals)[(*n)++];
			e->side = side;
			e->column = column;
			e->value_text = NULL;
			if (!erased)
				e->value_text = jsonb_value_text(&v);
			else if (v.type != jbvString || v.val.string.len != 2 * TF_AUDIT_HASH_LEN ||
					 hex_decode(v.val.string.val, v.val.string.len,
								(char *) e->commitment) != TF_AUDIT_HASH_LEN)
				ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
								errmsg("erased commitment of column \"%s\" is not 64 hex digits",
									   column)));
		}
	}
}

static Jsonb *
erased_side(Jsonb *erased, const char *side)
{
	JsonbValue	key;
	JsonbValue *v;

	if (erased == NULL)
		return NULL;
	key.type = jbvString;
	key.val.string.val = (char *) side;
	key.val.string.len = strlen(side);
	v = findJsonbValueFromContainer(&erased->root, JB_FOBJECT, &key);
	if (v == NULL)
		return NULL;
	if (v->type != jbvBinary)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("erased \"%s\" is not a json object", side)));
	return JsonbValueToJsonb(v);
}

static char *
text_attr(HeapTupleHeader t, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(t, name, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static Jsonb *
jsonb_attr(HeapTupleHeader t, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(t, name, &isnull);

	return isnull ? NULL : DatumGetJsonbP(d);
}

static char *
int_attr(HeapTupleHeader t, const char *name, bool is_int8)
{
	bool		isnull;
	Datum		d = GetAttributeByName(t, name, &isnull);

	if (isnull)
		return NULL;
	return is_int8 ? psprintf(INT64_FORMAT, DatumGetInt64(d))
		: psprintf("%d", DatumGetInt32(d));
}

void
tf_audit_recompute_leaf(HeapTupleHeader entry, uint8 leaf_hash[TF_AUDIT_HASH_LEN])
{
	StringInfoData buf;
	bool		isnull;
	Datum		d;
	bytea	   *salts;
	Jsonb	   *erased;
	TfAuditValue *vals;
	int			n = 0,
				cap = 16;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, 0x00);
	put_text(&buf, "taskforce.audit.v1");
	put_text(&buf, text_attr(entry, "tenant_id"));
	d = GetAttributeByName(entry, "logged_at", &isnull);
	put_text(&buf, isnull ? NULL : tf_audit_timestamp_text(DatumGetTimestampTz(d)));
	put_text(&buf, int_attr(entry, "txid", true));
	put_text(&buf, int_attr(entry, "entry_seq", false));
	put_text(&buf, int_attr(entry, "statement_id", false));
	put_text(&buf, text_attr(entry, "event_type"));
	put_text(&buf, text_attr(entry, "object"));
	put_text(&buf, text_attr(entry, "row_key"));
	put_text(&buf, text_attr(entry, "action"));
	put_text(&buf, text_attr(entry, "user_id"));
	d = GetAttributeByName(entry, "roles", &isnull);
	if (isnull)
		put_u32(&buf, 0xffffffff);
	else
	{
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &nelems);
		put_u32(&buf, (uint32) nelems);
		for (int i = 0; i < nelems; i++)
			put_text(&buf, nulls[i] ? NULL : TextDatumGetCString(elems[i]));
	}
	put_text(&buf, text_attr(entry, "auth_method"));
	put_text(&buf, text_attr(entry, "db_role"));
	d = GetAttributeByName(entry, "client_addr", &isnull);
	put_text(&buf, isnull ? NULL : DatumGetCString(DirectFunctionCall1(inet_out, d)));
	put_text(&buf, text_attr(entry, "application_name"));

	vals = palloc(sizeof(TfAuditValue) * cap);
	erased = jsonb_attr(entry, "erased");
	collect_values(jsonb_attr(entry, "old_values"), "old", false, &vals, &n, &cap);
	collect_values(jsonb_attr(entry, "new_values"), "new", false, &vals, &n, &cap);
	collect_values(erased_side(erased, "old"), "old", true, &vals, &n, &cap);
	collect_values(erased_side(erased, "new"), "new", true, &vals, &n, &cap);
	qsort(vals, n, sizeof(TfAuditValue), value_cmp);

	d = GetAttributeByName(entry, "salts", &isnull);
	salts = isnull ? NULL : DatumGetByteaPP(d);
	if (salts == NULL || VARSIZE_ANY_EXHDR(salts) != (Size) n * TF_AUDIT_SALT_LEN)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("audit entry has %d values but %d salt bytes", n,
							   salts ? (int) VARSIZE_ANY_EXHDR(salts) : 0)));
	put_u32(&buf, (uint32) n);
	for (int i = 0; i < n; i++)
	{
		if (i > 0 && value_cmp(&vals[i - 1], &vals[i]) == 0)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("value %s.%s is both present and erased",
								   vals[i].side, vals[i].column)));
		if (vals[i].value_text != NULL)
			tf_audit_commitment((uint8 *) VARDATA_ANY(salts) + i * TF_AUDIT_SALT_LEN,
								vals[i].side, vals[i].column, vals[i].value_text,
								vals[i].commitment);
		put_text(&buf, vals[i].side);
		put_text(&buf, vals[i].column);
		appendBinaryStringInfo(&buf, (char *) vals[i].commitment, TF_AUDIT_HASH_LEN);
	}
	sha256(buf.data, buf.len, leaf_hash);
	pfree(buf.data);
}

Datum
taskforce_audit_leaf_hash(PG_FUNCTION_ARGS)
{
	bytea	   *out = palloc(VARHDRSZ + TF_AUDIT_HASH_LEN);

	SET_VARSIZE(out, VARHDRSZ + TF_AUDIT_HASH_LEN);
	tf_audit_recompute_leaf(PG_GETARG_HEAPTUPLEHEADER(0), (uint8 *) VARDATA(out));
	PG_RETURN_BYTEA_P(out);
}
