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
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(taskforce_audit_leaf_hash);

static EVP_MD *sha_md = NULL;
static EVP_MD_CTX *sha_ctx = NULL;

static void sha256(const void *data, size_t len, uint8 out[TF_AUDIT_HASH_LEN]);

typedef struct TfAuditValue
{
	const char *side;
	char	   *column;
	char	   *value_text;		/* NULL when erased */
	uint8		commitment[TF_AUDIT_HASH_LEN];	/* from erased, when erased */
} TfAuditValue;

/* appendBinaryStringInfo without a call per field: the encoding appends many small ones */
static inline void
put_bytes(StringInfo buf, const void *x, int len)
{
	if (buf->len + len >= buf->maxlen)
		enlargeStringInfo(buf, len);
	memcpy(buf->data + buf->len, x, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

static inline void
put_u32(StringInfo buf, uint32 n)
{
	uint8		b[4] = {n >> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff};

	put_bytes(buf, b, 4);
}

static inline void
put_field(StringInfo buf, const char *x, int len)
{
	if (x == NULL)
	{
		put_u32(buf, 0xffffffff);
		return;
	}
	put_u32(buf, (uint32) len);
	put_bytes(buf, x, len);
}

static void
put_text(StringInfo buf, const char *x)
{
	put_field(buf, x, x ? strlen(x) : 0);
}

/*
 * logged_at's canonical text.  The entries of a transaction share logged_at,
 * so the last text is kept and returned again (a static buffer).
 */
static TimestampTz last_t;
static char last_text[64];

static const char *
timestamp_text_static(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (last_text[0] != '\0' && t == last_t)
		return last_text;
	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						errmsg("audit timestamp out of range")));
	snprintf(last_text, sizeof(last_text), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year,
			 tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	last_t = t;
	return last_text;
}

char *
tf_audit_timestamp_text(TimestampTz t)
{
	return pstrdup(timestamp_text_static(t));
}

void
tf_audit_commitment(const uint8 salt[TF_AUDIT_SALT_LEN], const char *side,
					const char *column, const char *value_text,
					uint8 out[TF_AUDIT_HASH_LEN])
{
	StringInfoData buf;

	initStringInfo(&buf);
	put_bytes(&buf, salt, TF_AUDIT_SALT_LEN);
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

/* jsonb_out text of one value, as JsonbToCString writes a scalar or container */
static char *
jsonb_value_text(JsonbValue *v)
{
	StringInfoData out;

	switch (v->type)
	{
		case jbvNull:
			return pstrdup("null");
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvString:
			initStringInfo(&out);
			escape_json(&out, pnstrdup(v->val.string.val, v->val.string.len));
			return out.data;
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			{
				Jsonb	   *jb = JsonbValueToJsonb(v);

				return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
			}
	}
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

/* the columns of the encoding, in encoding order; TF_AUDIT_COL_* index this */
static const char *const column_names[TF_AUDIT_NCOLS] = {
	"tenant_id", "logged_at", "txid", "entry_seq", "statement_id", "event_type", "object",
	"row_key", "action", "user_id", "roles", "auth_method", "db_role", "client_addr",
	"application_name", "old_values", "new_values", "erased", "salts"
};

void
tf_audit_resolve_columns(TupleDesc desc, TfAuditColumns *cols)
{
	for (int c = 0; c < TF_AUDIT_NCOLS; c++)
	{
		cols->attno[c] = -1;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped && strcmp(NameStr(att->attname), column_names[c]) == 0)
			{
				cols->attno[c] = i;
				break;
			}
		}
		if (cols->attno[c] < 0)
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
							errmsg("audit entry has no column \"%s\"", column_names[c])));
	}
}

/* one SHA-256 context and digest, fetched once per backend */
static void
sha256_init(void)
{
	if (sha_md == NULL)
	{
		sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
		sha_ctx = EVP_MD_CTX_new();
		if (sha_md == NULL || sha_ctx == NULL)
			ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("sha-256 unavailable")));
	}
}

static void
sha256(const void *data, size_t len, uint8 out[TF_AUDIT_HASH_LEN])
{
	unsigned int outlen = TF_AUDIT_HASH_LEN;

	sha256_init();
	if (EVP_DigestInit_ex(sha_ctx, sha_md, NULL) != 1 ||
		EVP_DigestUpdate(sha_ctx, data, len) != 1 ||
		EVP_DigestFinal_ex(sha_ctx, out, &outlen) != 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("sha-256 failed")));
}

#define COL_NULL(c) (isnull[cols->attno[c]])
#define COL(c) (values[cols->attno[c]])

static void
put_text_datum(StringInfo buf, Datum d, bool isnull)
{
	if (isnull)
		put_u32(buf, 0xffffffff);
	else
	{
		text	   *t = DatumGetTextPP(d);

		put_field(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
}

static void
put_int(StringInfo buf, Datum d, bool isnull, bool is_int8)
{
	char		num[MAXINT8LEN + 1];

	if (isnull)
	{
		put_u32(buf, 0xffffffff);
		return;
	}
	if (is_int8)
		pg_lltoa(DatumGetInt64(d), num);
	else
		pg_ltoa(DatumGetInt32(d), num);
	put_text(buf, num);
}

static Jsonb *
jsonb_col(Datum d, bool isnull)
{
	return isnull ? NULL : DatumGetJsonbP(d);
}

void
tf_audit_leaf_from_datums(const TfAuditColumns *cols, const Datum *values, const bool *isnull,
						  uint8 leaf_hash[TF_AUDIT_HASH_LEN])
{
	StringInfoData buf;
	bytea	   *salts;
	Jsonb	   *erased;
	TfAuditValue *vals;
	int			n = 0,
				cap = 16;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, 0x00);
	put_text(&buf, "taskforce.audit.v1");
	put_text_datum(&buf, COL(TF_AUDIT_COL_TENANT_ID), COL_NULL(TF_AUDIT_COL_TENANT_ID));
	put_text(&buf, COL_NULL(TF_AUDIT_COL_LOGGED_AT) ? NULL
			 : timestamp_text_static(DatumGetTimestampTz(COL(TF_AUDIT_COL_LOGGED_AT))));
	put_int(&buf, COL(TF_AUDIT_COL_TXID), COL_NULL(TF_AUDIT_COL_TXID), true);
	put_int(&buf, COL(TF_AUDIT_COL_ENTRY_SEQ), COL_NULL(TF_AUDIT_COL_ENTRY_SEQ), false);
	put_int(&buf, COL(TF_AUDIT_COL_STATEMENT_ID), COL_NULL(TF_AUDIT_COL_STATEMENT_ID), false);
	for (int c = TF_AUDIT_COL_EVENT_TYPE; c <= TF_AUDIT_COL_USER_ID; c++)
		put_text_datum(&buf, COL(c), COL_NULL(c));
	if (COL_NULL(TF_AUDIT_COL_ROLES))
		put_u32(&buf, 0xffffffff);
	else
	{
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		deconstruct_array(DatumGetArrayTypeP(COL(TF_AUDIT_COL_ROLES)), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &nelems);
		put_u32(&buf, (uint32) nelems);
		for (int i = 0; i < nelems; i++)
			put_text_datum(&buf, elems[i], nulls[i]);
	}
	put_text_datum(&buf, COL(TF_AUDIT_COL_AUTH_METHOD), COL_NULL(TF_AUDIT_COL_AUTH_METHOD));
	put_text_datum(&buf, COL(TF_AUDIT_COL_DB_ROLE), COL_NULL(TF_AUDIT_COL_DB_ROLE));
	put_text(&buf, COL_NULL(TF_AUDIT_COL_CLIENT_ADDR) ? NULL
			 : DatumGetCString(DirectFunctionCall1(inet_out, COL(TF_AUDIT_COL_CLIENT_ADDR))));
	put_text_datum(&buf, COL(TF_AUDIT_COL_APPLICATION_NAME), COL_NULL(TF_AUDIT_COL_APPLICATION_NAME));

	vals = palloc(sizeof(TfAuditValue) * cap);
	erased = jsonb_col(COL(TF_AUDIT_COL_ERASED), COL_NULL(TF_AUDIT_COL_ERASED));
	collect_values(jsonb_col(COL(TF_AUDIT_COL_OLD_VALUES), COL_NULL(TF_AUDIT_COL_OLD_VALUES)),
				   "old", false, &vals, &n, &cap);
	collect_values(jsonb_col(COL(TF_AUDIT_COL_NEW_VALUES), COL_NULL(TF_AUDIT_COL_NEW_VALUES)),
				   "new", false, &vals, &n, &cap);
	collect_values(erased_side(erased, "old"), "old", true, &vals, &n, &cap);
	collect_values(erased_side(erased, "new"), "new", true, &vals, &n, &cap);
	if (n > 1)
		qsort(vals, n, sizeof(TfAuditValue), value_cmp);

	salts = COL_NULL(TF_AUDIT_COL_SALTS) ? NULL : DatumGetByteaPP(COL(TF_AUDIT_COL_SALTS));
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
		put_bytes(&buf, vals[i].commitment, TF_AUDIT_HASH_LEN);
	}
	sha256(buf.data, buf.len, leaf_hash);
	pfree(buf.data);
}

static void
deform_and_hash(HeapTupleHeader entry, TupleDesc desc, const TfAuditColumns *cols,
				uint8 leaf_hash[TF_AUDIT_HASH_LEN])
{
	HeapTupleData tuple;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *isnull = palloc(sizeof(bool) * desc->natts);

	tuple.t_len = HeapTupleHeaderGetDatumLength(entry);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = entry;
	heap_deform_tuple(&tuple, desc, values, isnull);
	tf_audit_leaf_from_datums(cols, values, isnull, leaf_hash);
	pfree(values);
	pfree(isnull);
}

/* the columns resolved for the row type last seen, re-resolved when it changes */
static Oid	cached_typid = InvalidOid;
static uint64 cached_tupdesc_id = 0;
static TfAuditColumns cached_cols;

void
tf_audit_recompute_leaf(HeapTupleHeader entry, uint8 leaf_hash[TF_AUDIT_HASH_LEN])
{
	Oid			typid = HeapTupleHeaderGetTypeId(entry);
	int32		typmod = HeapTupleHeaderGetTypMod(entry);
	TupleDesc	desc = lookup_rowtype_tupdesc(typid, typmod);

	if (typmod >= 0)
	{
		/* an anonymous record type: resolved each time, not cached */
		TfAuditColumns cols;

		tf_audit_resolve_columns(desc, &cols);
		deform_and_hash(entry, desc, &cols, leaf_hash);
		ReleaseTupleDesc(desc);
		return;
	}
	else
	{
		TypeCacheEntry *tce = lookup_type_cache(typid, TYPECACHE_TUPDESC);

		if (typid != cached_typid || tce->tupDesc_identifier != cached_tupdesc_id)
		{
			cached_typid = InvalidOid;
			tf_audit_resolve_columns(desc, &cached_cols);
			cached_typid = typid;
			cached_tupdesc_id = tce->tupDesc_identifier;
		}
	}
	deform_and_hash(entry, desc, &cached_cols, leaf_hash);
	ReleaseTupleDesc(desc);
}

Datum
taskforce_audit_leaf_hash(PG_FUNCTION_ARGS)
{
	bytea	   *out = palloc(VARHDRSZ + TF_AUDIT_HASH_LEN);

	SET_VARSIZE(out, VARHDRSZ + TF_AUDIT_HASH_LEN);
	tf_audit_recompute_leaf(PG_GETARG_HEAPTUPLEHEADER(0), (uint8 *) VARDATA(out));
	PG_RETURN_BYTEA_P(out);
}
