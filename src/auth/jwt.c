/*-------------------------------------------------------------------------
 * src/auth/jwt.c
 *	  Verifying and minting JWTs with the keys stored in taskforce.jwt_keys.
 *
 * The token is parsed by jwt_parse.c, its signature checked with the key
 * its kid names (which must be bound to the token's alg, so an RSA key
 * never verifies an HMAC token), then its registered claims against the
 * issuer's configuration.  Keys and issuers are cached per backend and
 * reloaded after a relcache invalidation of their tables (see rbac.c); the
 * tables are readable only by administrators, so loading runs as their
 * owner.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "auth/jwt_parse.h"
#include "crypto/crypto.h"
#include "util/owner.h"

typedef struct JwtIssuer
{
	char	   *issuer;
	int			naudiences;
	char	  **audiences;
	int			nalgorithms;
	char	  **algorithms;
	int			leeway_seconds;
	char	   *tenant_claim;	/* NULL when the issuer has a fixed tenant */
	char	   *tenant_id;		/* NULL when the tenant comes from a claim */
	char	   *user_claim;
	char	   *roles_claim;
	char	   *username_claim;
	char	   *email_claim;
	bool		trust_token_roles;
	bool		provision_users;
} JwtIssuer;

typedef struct JwtKey
{
	char	   *kid;
	char	   *issuer;
	char	   *algorithm;
	bytea	   *secret;			/* HS* keys */
	char	   *public_key;		/* RS256 and ES256 keys, PEM */
	TimestampTz not_before;
	TimestampTz not_after;		/* DT_NOEND when open-ended */
} JwtKey;

/* A token whose signature and registered claims have verified. */
typedef struct VerifiedJwt
{
	TfJwt		jwt;
	const JwtKey *key;
	const JwtIssuer *issuer;
	TimestampTz expires_at;
} VerifiedJwt;

static MemoryContext jwt_memory = NULL;
static List *issuers = NIL;
static List *keys = NIL;
static Oid	keys_oid = InvalidOid;
static Oid	issuers_oid = InvalidOid;
static bool cache_valid = false;
static bool callback_registered = false;

/* Relcache callback: a change to the key or issuer table drops the cache. */
static void
jwt_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == keys_oid || relid == issuers_oid)
		cache_valid = false;
}

/* Returns column n of the current SPI row as a C string in jwt_memory, or NULL. */
static char *
column_string(HeapTuple tuple, TupleDesc desc, int n)
{
	char	   *value = SPI_getvalue(tuple, desc, n);

	return value == NULL ? NULL : MemoryContextStrdup(jwt_memory, value);
}

/* Returns a text[] column as an array of C strings in jwt_memory. */
static char **
column_strings(HeapTuple tuple, TupleDesc desc, int n, int *count)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, n, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;
	int			i;

	*count = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, count);
	out = MemoryContextAlloc(jwt_memory, sizeof(char *) * Max(*count, 1));
	for (i = 0; i < *count; i++)
		out[i] = MemoryContextStrdup(jwt_memory, TextDatumGetCString(elems[i]));
	return out;
}

static bool
column_bool(HeapTuple tuple, TupleDesc desc, int n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, n, &isnull);

	return !isnull && DatumGetBool(d);
}

static TimestampTz
column_timestamp(HeapTuple tuple, TupleDesc desc, int n, TimestampTz if_null)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, n, &isnull);

	return isnull ? if_null : DatumGetTimestampTz(d);
}

/* Appends to a cached list; SPI calls switch memory contexts, so say which. */
static void
remember(List **list, void *item)
{
	MemoryContext old = MemoryContextSwitchTo(jwt_memory);

	*list = lappend(*list, item);
	MemoryContextSwitchTo(old);
}

/* Runs a query over one of our tables; its text names no operator or function. */
static void
run_table_query(const char *sql)
{
	int			rc = SPI_execute(sql, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taskforce key query failed: %s", SPI_result_code_string(rc));
}

static void
load_issuers(void)
{
	uint64		i;

	run_table_query("SELECT issuer, audiences, algorithms, leeway_seconds, tenant_claim,"
					" tenant_id, user_claim, roles_claim, username_claim, email_claim,"
					" trust_token_roles, provision_users FROM taskforce.jwt_issuers");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		JwtIssuer  *iss = MemoryContextAllocZero(jwt_memory, sizeof(JwtIssuer));
		bool		isnull;

		iss->issuer = column_string(t, d, 1);
		iss->audiences = column_strings(t, d, 2, &iss->naudiences);
		iss->algorithms = column_strings(t, d, 3, &iss->nalgorithms);
		iss->leeway_seconds = DatumGetInt32(SPI_getbinval(t, d, 4, &isnull));
		iss->tenant_claim = column_string(t, d, 5);
		iss->tenant_id = column_string(t, d, 6);
		iss->user_claim = column_string(t, d, 7);
		iss->roles_claim = column_string(t, d, 8);
		iss->username_claim = column_string(t, d, 9);
		iss->email_claim = column_string(t, d, 10);
		iss->trust_token_roles = column_bool(t, d, 11);
		iss->provision_users = column_bool(t, d, 12);
		remember(&issuers, iss);
	}
}

static void
load_keys(void)
{
	uint64		i;

	run_table_query("SELECT kid, issuer, algorithm, secret, public_key, not_before, not_after"
					" FROM taskforce.jwt_keys");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		JwtKey	   *key = MemoryContextAllocZero(jwt_memory, sizeof(JwtKey));
		bool		isnull;
		Datum		secret = SPI_getbinval(t, d, 4, &isnull);

		key->kid = column_string(t, d, 1);
		key->issuer = column_string(t, d, 2);
		key->algorithm = column_string(t, d, 3);
		if (!isnull)
		{
			bytea	   *b = DatumGetByteaPP(secret);

			key->secret = MemoryContextAlloc(jwt_memory, VARSIZE_ANY(b));
			SET_VARSIZE(key->secret, VARSIZE_ANY_EXHDR(b) + VARHDRSZ);
			memcpy(VARDATA(key->secret), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
		}
		key->public_key = column_string(t, d, 5);
		key->not_before = column_timestamp(t, d, 6, DT_NOBEGIN);
		key->not_after = column_timestamp(t, d, 7, DT_NOEND);
		remember(&keys, key);
	}
}

/* Loads the issuers and then the keys; run through tf_spi_as_owner. */
static void
load_issuers_and_keys(void *arg)
{
	load_issuers();
	load_keys();
}

/*
 * Loads issuers and keys unless the cache is current.  The tables are
 * closed to ordinary roles, so the queries run as the tables' owner.
 */
static void
ensure_jwt_cache(void)
{
	Oid			schema;

	if (cache_valid)
		return;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(jwt_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (jwt_memory == NULL)
		jwt_memory = AllocSetContextCreate(CacheMemoryContext, "taskforce jwt keys",
										   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(jwt_memory);
	issuers = NIL;
	keys = NIL;

	schema = get_namespace_oid("taskforce", false);
	keys_oid = get_relname_relid("jwt_keys", schema);
	issuers_oid = get_relname_relid("jwt_issuers", schema);
	if (!OidIsValid(keys_oid) || !OidIsValid(issuers_oid))
		elog(ERROR, "taskforce.jwt_keys or taskforce.jwt_issuers is missing");
	cache_valid = true;

	PG_TRY();
	{
		tf_spi_as_owner(keys_oid, load_issuers_and_keys, NULL);
	}
	PG_CATCH();
	{
		cache_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static const JwtKey *
find_key(const char *kid)
{
	ListCell   *lc;

	foreach(lc, keys)
	{
		JwtKey	   *key = lfirst(lc);

		if (strcmp(key->kid, kid) == 0)
			return key;
	}
	return NULL;
}

static const JwtIssuer *
find_issuer(const char *name)
{
	ListCell   *lc;

	foreach(lc, issuers)
	{
		JwtIssuer  *iss = lfirst(lc);

		if (strcmp(iss->issuer, name) == 0)
			return iss;
	}
	return NULL;
}

static bool
contains(char **items, int n, const char *s)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(items[i], s) == 0)
			return true;
	return false;
}

/* The digest an HMAC algorithm uses, or NULL if alg is not HS256/384/512. */
static const char *
hmac_digest(const char *alg)
{
	if (strcmp(alg, "HS256") == 0)
		return "sha256";
	if (strcmp(alg, "HS384") == 0)
		return "sha384";
	if (strcmp(alg, "HS512") == 0)
		return "sha512";
	return NULL;
}

static bool
signature_verifies(const JwtKey *key, const TfJwt *jwt)
{
	const char *digest = hmac_digest(key->algorithm);

	if (digest != NULL)
	{
		uint8		mac[TF_MAX_MAC_LEN];
		size_t		mac_len;

		return key->secret != NULL &&
			tf_hmac(digest, (const uint8 *) VARDATA(key->secret), VARSIZE(key->secret) - VARHDRSZ,
					(const uint8 *) jwt->signing_input, jwt->signing_input_len, mac, &mac_len) &&
			mac_len == jwt->signature_len &&
			tf_equal_constant_time(mac, jwt->signature, mac_len);
	}
	return key->public_key != NULL &&
		tf_verify_signature(key->algorithm, key->public_key,
							(const uint8 *) jwt->signing_input, jwt->signing_input_len,
							jwt->signature, jwt->signature_len);
}

/* Reads a NumericDate claim; false if absent, true with *ok false if not a finite number. */
static bool
numeric_date(const TfJwt *jwt, const char *name, double *out, bool *ok)
{
	const TfJsonMember *m = tf_jwt_claim(jwt, name);
	char	   *end;

	*ok = true;
	if (m == NULL)
		return false;
	*ok = false;
	if (m->kind != TF_JSON_NUMBER)
		return true;
	errno = 0;
	*out = strtod(m->value, &end);
	*ok = errno == 0 && *end == '\0' && isfinite(*out);
	return true;
}

static bool
audience_matches(const TfJsonMember *aud, const JwtIssuer *iss)
{
	int			i;

	if (aud == NULL)
		return false;
	if (aud->kind == TF_JSON_STRING)
		return contains(iss->audiences, iss->naudiences, aud->value);
	if (aud->kind == TF_JSON_ARRAY && aud->all_strings)
		for (i = 0; i < aud->nitems; i++)
			if (contains(iss->audiences, iss->naudiences, aud->items[i]))
				return true;
	return false;
}

/* The end of year 9999, the latest expiry a token may name. */
#define MAX_NUMERIC_DATE 253402300799.0

/* Seconds since the Unix epoch of a timestamp. */
static double
epoch_seconds(TimestampTz t)
{
	return (double) (t - SetEpochTimestamp()) / USECS_PER_SEC;
}

/*
 * Verifies token; returns NULL and fills *out, or returns the reason it
 * failed (lower case, never containing key material).  out->key is set
 * once the kid has named a known key.
 */
static const char *
verify_token(text *token, VerifiedJwt *out)
{
	const char *s = VARDATA_ANY(token);
	size_t		len = VARSIZE_ANY_EXHDR(token);
	TfJwtStatus status;
	const TfJsonMember *iss_claim;
	TimestampTz now_ts = GetCurrentTimestamp();
	double		now = epoch_seconds(now_ts);
	double		exp,
				nbf,
				iat;
	bool		ok;

	memset(out, 0, sizeof(*out));
	status = tf_jwt_parse(s, len, &out->jwt);
	if (status != TF_JWT_OK)
		return psprintf("malformed token: %s", tf_jwt_status_message(status));
	if (strcmp(out->jwt.alg, "none") == 0)
		return "unsigned tokens (alg none) are not accepted";
	if (hmac_digest(out->jwt.alg) == NULL &&
		strcmp(out->jwt.alg, "RS256") != 0 && strcmp(out->jwt.alg, "ES256") != 0)
		return psprintf("unsupported algorithm \"%s\"", out->jwt.alg);
	if (out->jwt.kid == NULL)
		return "token has no kid header";

	ensure_jwt_cache();
	out->key = find_key(out->jwt.kid);
	if (out->key == NULL)
		return psprintf("unknown key id \"%s\"", out->jwt.kid);
	if (strcmp(out->key->algorithm, out->jwt.alg) != 0)
		return psprintf("key \"%s\" is for %s, not %s", out->key->kid,
						out->key->algorithm, out->jwt.alg);
	if (now_ts < out->key->not_before || now_ts >= out->key->not_after)
		return psprintf("key \"%s\" is not valid at this time", out->key->kid);
	if (!signature_verifies(out->key, &out->jwt))
		return "bad signature";

	/* From here on the claims are the issuer's own. */
	iss_claim = tf_jwt_claim(&out->jwt, "iss");
	if (iss_claim == NULL || iss_claim->kind != TF_JSON_STRING ||
		strcmp(iss_claim->value, out->key->issuer) != 0)
		return "wrong issuer";
	out->issuer = find_issuer(out->key->issuer);
	if (out->issuer == NULL)
		return "wrong issuer";
	if (!contains(out->issuer->algorithms, out->issuer->nalgorithms, out->jwt.alg))
		return psprintf("algorithm %s is not allowed for this issuer", out->jwt.alg);
	if (!audience_matches(tf_jwt_claim(&out->jwt, "aud"), out->issuer))
		return "wrong audience";
	if (!numeric_date(&out->jwt, "exp", &exp, &ok))
		return "token has no exp claim";
	if (!ok)
		return "exp claim is not a number";
	if (exp > MAX_NUMERIC_DATE)
		return "exp claim is out of range";
	if (now > exp + out->issuer->leeway_seconds)
		return "token has expired";
	if (numeric_date(&out->jwt, "nbf", &nbf, &ok) &&
		(!ok || now + out->issuer->leeway_seconds < nbf))
		return ok ? "token is not yet valid" : "nbf claim is not a number";
	if (numeric_date(&out->jwt, "iat", &iat, &ok) &&
		(!ok || now + out->issuer->leeway_seconds < iat))
		return ok ? "token was issued in the future" : "iat claim is not a number";
	out->expires_at = SetEpochTimestamp() +
		(TimestampTz) ((exp + out->issuer->leeway_seconds) * USECS_PER_SEC);
	return NULL;
}

/* A string claim's value, or NULL when absent or not a string. */
static char *
string_claim(const TfJwt *jwt, const char *name)
{
	const TfJsonMember *m = name ? tf_jwt_claim(jwt, name) : NULL;

	return m != NULL && m->kind == TF_JSON_STRING ? m->value : NULL;
}

/* A claim holding role names, as a text[]: one string or an array of strings. */
static Datum
roles_claim(const TfJwt *jwt, const char *name, bool *isnull)
{
	const TfJsonMember *m = tf_jwt_claim(jwt, name);
	Datum	   *elems;
	int			i;

	*isnull = false;
	if (m != NULL && m->kind == TF_JSON_STRING)
	{
		elems = palloc(sizeof(Datum));
		elems[0] = CStringGetTextDatum(m->value);
		return PointerGetDatum(construct_array(elems, 1, TEXTOID, -1, false, TYPALIGN_INT));
	}
	if (m == NULL || m->kind != TF_JSON_ARRAY || !m->all_strings)
	{
		*isnull = true;
		return (Datum) 0;
	}
	elems = palloc(sizeof(Datum) * Max(m->nitems, 1));
	for (i = 0; i < m->nitems; i++)
		elems[i] = CStringGetTextDatum(m->items[i]);
	return PointerGetDatum(construct_array(elems, m->nitems, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(taskforce_verify_jwt);
PG_FUNCTION_INFO_V1(taskforce_jwt_identity);
PG_FUNCTION_INFO_V1(taskforce_mint_jwt);
PG_FUNCTION_INFO_V1(taskforce_check_jwt_public_key);

/* verify_jwt(token): the verified claims as jsonb, or invalid_authorization_specification. */
Datum
taskforce_verify_jwt(PG_FUNCTION_ARGS)
{
	VerifiedJwt v;
	const char *failure = verify_token(PG_GETARG_TEXT_PP(0), &v);

	if (failure != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("%s", failure)));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(v.jwt.payload_json)));
}

/*
 * _jwt_identity(token): what authenticate_jwt needs, as one row: whether
 * the token verified and why not, and the identity its issuer's claim
 * mapping gives.  Does not raise for a bad token, so that the caller can
 * record the failure first.
 */
Datum
taskforce_jwt_identity(PG_FUNCTION_ARGS)
{
	VerifiedJwt v;
	const char *failure = verify_token(PG_GETARG_TEXT_PP(0), &v);
	TupleDesc	tupdesc;
	Datum		values[12];
	bool		nulls[12];
	const char *tenant = NULL;
	const char *user = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	memset(nulls, true, sizeof(nulls));

	if (failure == NULL)
	{
		tenant = v.issuer->tenant_id ? v.issuer->tenant_id
			: string_claim(&v.jwt, v.issuer->tenant_claim);
		user = string_claim(&v.jwt, v.issuer->user_claim);
		if (tenant == NULL)
			failure = psprintf("token has no string claim \"%s\" naming the tenant",
							   v.issuer->tenant_claim);
		else if (user == NULL)
			failure = psprintf("token has no string claim \"%s\" naming the user",
							   v.issuer->user_claim);
	}

	values[0] = BoolGetDatum(failure == NULL);
	nulls[0] = false;
	if (failure != NULL)
	{
		values[1] = CStringGetTextDatum(failure);
		nulls[1] = false;
	}
	if (v.key != NULL)
	{
		values[2] = CStringGetTextDatum(v.key->issuer);
		values[3] = CStringGetTextDatum(v.key->kid);
		nulls[2] = nulls[3] = false;
	}
	if (failure == NULL)
	{
		values[4] = CStringGetTextDatum(tenant);
		values[5] = CStringGetTextDatum(user);
		nulls[4] = nulls[5] = false;
		if (v.issuer->trust_token_roles)
			values[6] = roles_claim(&v.jwt, v.issuer->roles_claim, &nulls[6]);
		if (string_claim(&v.jwt, v.issuer->username_claim) != NULL)
		{
			values[7] = CStringGetTextDatum(string_claim(&v.jwt, v.issuer->username_claim));
			nulls[7] = false;
		}
		if (string_claim(&v.jwt, v.issuer->email_claim) != NULL)
		{
			values[8] = CStringGetTextDatum(string_claim(&v.jwt, v.issuer->email_claim));
			nulls[8] = false;
		}
		values[9] = TimestampTzGetDatum(v.expires_at);
		values[10] = BoolGetDatum(v.issuer->provision_users);
		values[11] = BoolGetDatum(v.issuer->trust_token_roles);
		nulls[9] = nulls[10] = nulls[11] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Appends the base64url encoding (unpadded) of data to buf. */
static void
append_base64url(StringInfo buf, const char *data, int len)
{
	int			enc_len = pg_b64_enc_len(len);
	char	   *enc = palloc(enc_len + 1);
	int			n = pg_b64_encode(data, len, enc, enc_len);
	int			i;

	if (n < 0)
		elog(ERROR, "could not base64-encode");
	for (i = 0; i < n && enc[i] != '='; i++)
		appendStringInfoChar(buf, enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i]);
	pfree(enc);
}

/*
 * _mint_jwt(header, payload, secret, algorithm): signs an HS token.  The
 * SQL wrapper builds header and payload and reads the key; this only
 * encodes and signs.
 */
Datum
taskforce_mint_jwt(PG_FUNCTION_ARGS)
{
	char	   *header = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *payload = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bytea	   *secret = PG_GETARG_BYTEA_PP(2);
	char	   *alg = text_to_cstring(PG_GETARG_TEXT_PP(3));
	const char *digest = hmac_digest(alg);
	StringInfoData token;
	uint8		mac[TF_MAX_MAC_LEN];
	size_t		mac_len;

	if (digest == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("only HS256, HS384 and HS512 tokens can be minted")));
	initStringInfo(&token);
	append_base64url(&token, header, strlen(header));
	appendStringInfoChar(&token, '.');
	append_base64url(&token, payload, strlen(payload));
	if (!tf_hmac(digest, (const uint8 *) VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret),
				 (const uint8 *) token.data, token.len, mac, &mac_len))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign the token")));
	appendStringInfoChar(&token, '.');
	append_base64url(&token, (const char *) mac, (int) mac_len);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(token.data, token.len));
}

/* _check_jwt_public_key(algorithm, pem): raises invalid_parameter_value for an unusable key. */
Datum
taskforce_check_jwt_public_key(PG_FUNCTION_ARGS)
{
	char	   *alg = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *pem = text_to_cstring(PG_GETARG_TEXT_PP(1));
	const char *problem = NULL;

	if (!tf_check_public_key(alg, pem, &problem))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unusable %s public key: %s", alg, problem ? problem : "unknown problem")));
	PG_RETURN_VOID();
}
