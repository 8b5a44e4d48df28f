/*-------------------------------------------------------------------------
 * src/lifecycle/config_hash.c
 *	  taskforce.config_hash(jsonb): SHA-256 of a canonical encoding of a
 *	  definition, equal for definitions that jsonb holds equal.
 *
 * jsonb already does most of the canonicalisation: whitespace is gone,
 * object keys are stored sorted (by length, then bytes) and a duplicate key
 * keeps its last value.  What is left is the numbers: jsonb keeps a
 * numeric's display scale, so 1, 1.0 and 1.00 are stored differently though
 * jsonb equality (numeric_cmp) holds them equal.  Each number is encoded by
 * numeric_normalize(), the output PostgreSQL itself uses for jsonb GIN keys,
 * which drops insignificant trailing zeros.
 *
 * The encoding is injective: every token starts with a tag byte, strings
 * and numbers carry a 4-byte big-endian length, containers their end tags.
 *
 *	 '{' ... '}'	 object; each member is 'k' + key, then its value
 *	 '[' ... ']'	 array, elements in order
 *	 '"' + string	 string
 *	 '#' + digits	 number (normalised)
 *	 't' 'f' 'n'	 true, false, null
 *
 * A top-level scalar is encoded as the bare scalar.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "crypto/crypto.h"

PG_FUNCTION_INFO_V1(taskforce_config_hash);

/* Appends tag, a 4-byte big-endian length and the bytes. */
static void
append_sized(StringInfo buf, char tag, const char *data, int len)
{
	uint32		n = (uint32) len;
	char		bytes[4];

	bytes[0] = (char) (n >> 24);
	bytes[1] = (char) (n >> 16);
	bytes[2] = (char) (n >> 8);
	bytes[3] = (char) n;
	appendStringInfoChar(buf, tag);
	appendBinaryStringInfo(buf, bytes, 4);
	appendBinaryStringInfo(buf, data, len);
}

/* Appends the canonical encoding of one scalar. */
static void
append_scalar(StringInfo buf, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoChar(buf, 'n');
			break;
		case jbvBool:
			appendStringInfoChar(buf, v->val.boolean ? 't' : 'f');
			break;
		case jbvString:
			append_sized(buf, '"', v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				char	   *digits = numeric_normalize(v->val.numeric);

				append_sized(buf, '#', digits, (int) strlen(digits));
				pfree(digits);
				break;
			}
		default:
			elog(ERROR, "unexpected jsonb scalar type %d", (int) v->type);
	}
}

/*
 * Appends the canonical encoding of the jsonb: the walk follows jsonb's
 * stored order, which is deterministic for equal values.
 */
static void
encode_jsonb(StringInfo buf, Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken token;
	/* Top-level scalars arrive wrapped in a one-element "raw scalar" array. */
	bool		raw_scalar = JB_ROOT_IS_SCALAR(jb);

	while ((token = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		CHECK_FOR_INTERRUPTS();
		switch (token)
		{
			case WJB_BEGIN_OBJECT:
				appendStringInfoChar(buf, '{');
				break;
			case WJB_END_OBJECT:
				appendStringInfoChar(buf, '}');
				break;
			case WJB_BEGIN_ARRAY:
				if (!raw_scalar)
					appendStringInfoChar(buf, '[');
				break;
			case WJB_END_ARRAY:
				if (!raw_scalar)
					appendStringInfoChar(buf, ']');
				break;
			case WJB_KEY:
				append_sized(buf, 'k', v.val.string.val, v.val.string.len);
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				append_scalar(buf, &v);
				break;
			default:
				elog(ERROR, "unexpected jsonb iterator token %d", (int) token);
		}
	}
}

/*
 * taskforce.config_hash(definition jsonb) RETURNS bytea: SHA-256 of the
 * canonical encoding, so that key order, whitespace, duplicate keys and
 * the scale of numbers do not change it.
 */
Datum
taskforce_config_hash(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	StringInfoData buf;
	bytea	   *result;

	initStringInfo(&buf);
	encode_jsonb(&buf, jb);

	result = (bytea *) palloc(VARHDRSZ + TF_SHA256_LEN);
	SET_VARSIZE(result, VARHDRSZ + TF_SHA256_LEN);
	if (!tf_sha256((const uint8 *) buf.data, buf.len, (uint8 *) VARDATA(result)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a SHA-256 digest")));
	pfree(buf.data);
	PG_RETURN_BYTEA_P(result);
}
