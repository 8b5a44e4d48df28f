/*-------------------------------------------------------------------------
 * src/context/token.c
 *	  Signing and verifying the value that carries a context.
 *
 * A value is "v1.<base64 JSON claims>.<base64 HMAC-SHA256>", the MAC taken
 * over everything before the last dot.  The claims are parsed with
 * PostgreSQL's jsonb input only after the MAC has verified (or, in a
 * parallel worker, for the value its leader verified), so only values this
 * server signed are ever parsed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "context/token.h"
#include "crypto/crypto.h"

#define TOKEN_PREFIX "v1."
#define TOKEN_PREFIX_LEN 3
/* Exact padded base64 length of a MAC (pg_b64_enc_len is only an upper bound). */
#define MAC_BASE64_LEN (((TF_SHA256_LEN + 2) / 3) * 4)

/* Returns the name of a scope as shown to users. */
const char *
tf_scope_name(TfContextScope scope)
{
	return scope == TF_SCOPE_SESSION ? "session" : "transaction";
}

/* Appends src base64-encoded to buf. */
static void
append_base64(StringInfo buf, const char *src, int len)
{
	int			enc_len = pg_b64_enc_len(len);
	int			written;

	enlargeStringInfo(buf, enc_len + 1);
	written = pg_b64_encode(src, len, buf->data + buf->len, enc_len);
	if (written < 0)
		elog(ERROR, "could not base64-encode context value");
	buf->len += written;
	buf->data[buf->len] = '\0';
}

/* Appends ,"name":[...] for an array of strings. */
static void
append_string_array(StringInfo json, const char *name, int n, char **items)
{
	int			i;

	appendStringInfo(json, ",\"%s\":[", name);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(json, ',');
		escape_json(json, items[i]);
	}
	appendStringInfoChar(json, ']');
}

/* Renders the claims as a JSON object. */
static char *
claims_to_json(const TfContextClaims *claims)
{
	StringInfoData json;

	initStringInfo(&json);
	appendStringInfoString(&json, "{\"tenant\":");
	escape_json(&json, claims->tenant_id);
	appendStringInfoString(&json, ",\"user\":");
	escape_json(&json, claims->user_id);
	append_string_array(&json, "roles", claims->nroles, claims->roles);
	if (claims->nscopes >= 0)
		append_string_array(&json, "scopes", claims->nscopes, claims->scopes);
	appendStringInfoString(&json, ",\"method\":");
	escape_json(&json, claims->auth_method);
	appendStringInfoString(&json, ",\"by\":");
	escape_json(&json, claims->established_by);
	appendStringInfo(&json,
					 ",\"scope\":\"%s\",\"iat\":" INT64_FORMAT ",\"exp\":" INT64_FORMAT
					 ",\"pid\":%d,\"start\":" INT64_FORMAT "}",
					 tf_scope_name(claims->scope),
					 (int64) claims->issued_at, (int64) claims->expires_at,
					 claims->backend_pid, (int64) claims->backend_start);
	return json.data;
}

/* Signs the claims; the result is palloc'd in the current memory context. */
char *
tf_token_sign(const TfContextClaims *claims, const uint8 *key, size_t key_len)
{
	char	   *json = claims_to_json(claims);
	StringInfoData value;
	uint8		mac[TF_SHA256_LEN];

	initStringInfo(&value);
	appendStringInfoString(&value, TOKEN_PREFIX);
	append_base64(&value, json, strlen(json));
	if (!tf_hmac_sha256(key, key_len, (uint8 *) value.data, value.len, mac))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign the taskforce context")));
	appendStringInfoChar(&value, '.');
	append_base64(&value, (char *) mac, sizeof(mac));
	pfree(json);
	return value.data;
}

/* Looks up key in the top-level object; true if present with the wanted type. */
static bool
get_field(Jsonb *jb, const char *key, enum jbvType type, JsonbValue *out)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), out);

	return v != NULL && v->type == type;
}

static bool
get_string(Jsonb *jb, const char *key, char **out)
{
	JsonbValue	v;

	if (!get_field(jb, key, jbvString, &v))
		return false;
	*out = pnstrdup(v.val.string.val, v.val.string.len);
	return true;
}

static bool
get_int64(Jsonb *jb, const char *key, int64 *out)
{
	JsonbValue	v;

	if (!get_field(jb, key, jbvNumeric, &v))
		return false;
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8,
											 NumericGetDatum(v.val.numeric)));
	return true;
}

/* Reads an array of strings; *n is -1 when the member is absent and optional. */
static bool
get_string_array(Jsonb *jb, const char *key, bool optional, int *n, char ***items)
{
	JsonbValue	v;
	JsonbContainer *arr;
	int			i;

	*n = -1;
	*items = NULL;
	if (!getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &v))
		return optional;
	if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
		return false;
	arr = v.val.binary.data;
	*n = JsonContainerSize(arr);
	*items = palloc0(sizeof(char *) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(arr, i);

		if (elem == NULL || elem->type != jbvString)
			return false;
		(*items)[i] = pnstrdup(elem->val.string.val, elem->val.string.len);
	}
	return true;
}

/*
 * Decodes the claims of value into *claims (palloc'd in the current memory
 * context) without checking the MAC: only for a value that this server has
 * already verified (a parallel worker's copy of its leader's context).
 * Returns false for anything malformed.
 */
bool
tf_token_decode(const char *value, TfContextClaims *claims)
{
	const char *last_dot;
	int			payload_b64_len;
	char	   *json;
	int			json_len;
	Jsonb	   *jb;
	char	   *scope;
	int64		pid;

	if (strncmp(value, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
		return false;
	last_dot = strrchr(value, '.');
	if (last_dot == NULL || last_dot <= value + TOKEN_PREFIX_LEN)
		return false;

	payload_b64_len = last_dot - value - TOKEN_PREFIX_LEN;
	json = palloc(pg_b64_dec_len(payload_b64_len) + 1);
	json_len = pg_b64_decode(value + TOKEN_PREFIX_LEN, payload_b64_len,
							 json, pg_b64_dec_len(payload_b64_len));
	if (json_len <= 0)
		return false;
	json[json_len] = '\0';
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	if (!JB_ROOT_IS_OBJECT(jb))
		return false;

	memset(claims, 0, sizeof(*claims));
	if (!get_string(jb, "tenant", &claims->tenant_id) ||
		!get_string(jb, "user", &claims->user_id) ||
		!get_string_array(jb, "roles", false, &claims->nroles, &claims->roles) ||
		!get_string_array(jb, "scopes", true, &claims->nscopes, &claims->scopes) ||
		!get_string(jb, "method", &claims->auth_method) ||
		!get_string(jb, "by", &claims->established_by) ||
		!get_string(jb, "scope", &scope) ||
		!get_int64(jb, "iat", &claims->issued_at) ||
		!get_int64(jb, "exp", &claims->expires_at) ||
		!get_int64(jb, "pid", &pid) ||
		!get_int64(jb, "start", &claims->backend_start))
		return false;
	claims->backend_pid = (int32) pid;
	if (strcmp(scope, "session") == 0)
		claims->scope = TF_SCOPE_SESSION;
	else if (strcmp(scope, "transaction") == 0)
		claims->scope = TF_SCOPE_TRANSACTION;
	else
		return false;
	return true;
}

/*
 * Verifies value's signature and decodes its claims into *claims (palloc'd
 * in the current memory context).  Returns false for anything malformed or
 * not signed with key.  Checks no binding or expiry: that is the caller's
 * policy.
 */
bool
tf_token_verify(const char *value, const uint8 *key, size_t key_len,
				TfContextClaims *claims)
{
	const char *last_dot;
	int			signed_len;
	int			mac_b64_len;
	uint8		expected[TF_SHA256_LEN];
	char		given[TF_SHA256_LEN + 4];

	if (strncmp(value, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
		return false;
	last_dot = strrchr(value, '.');
	if (last_dot == NULL || last_dot < value + TOKEN_PREFIX_LEN)
		return false;
	signed_len = last_dot - value;
	mac_b64_len = strlen(last_dot + 1);
	if (mac_b64_len != MAC_BASE64_LEN)
		return false;
	if (pg_b64_decode(last_dot + 1, mac_b64_len, given, sizeof(given)) != TF_SHA256_LEN)
		return false;
	if (!tf_hmac_sha256(key, key_len, (const uint8 *) value, signed_len, expected))
		return false;
	if (!tf_equal_constant_time(expected, given, TF_SHA256_LEN))
		return false;
	return tf_token_decode(value, claims);
}
