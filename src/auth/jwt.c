/*-------------------------------------------------------------------------
 * src/auth/jwt.c
 *	  Verifying and minting JWTs with the keys stored in taskforce.jwt_keys.
 *
 * The token is parsed by jwt_parse.c, its signature checked with the key
 * its kid names (which must be bound to the token's alg, so an RSA key
 * never verifies an HMAC token), then its registered claims against the
 * issuer's configuration.  Keys and issuers are cached per backend and
 * reloaded after a relcache invalidation of their tables (see rbac.c),
 * under a fresh snapshot (see util/owner.c); the tables are readable only
 * by administrators, so loading runs as their owner.  Nothing read from
 * them is trusted to have the shape the constraints give it: a NULL where
 * none belongs makes that issuer or key unusable, never a crash.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "auth/bearer.h"
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
	TfHmacKey  *hmac;			/* the secret, keyed once, on first use */
	char	   *public_key;		/* RS256 and ES256 keys, PEM */
	TimestampTz not_before;
	TimestampTz not_after;		/* DT_NOEND when open-ended */
} JwtKey;

/* The time claims of a token, checked again on every use. */
typedef struct TokenTimes
{
	double		exp;
	bool		has_nbf;
	double		nbf;
	bool		has_iat;
	double		iat;
} TokenTimes;

/*
 * A token that has verified once.  The same bytes always verify the same
 * way under the same keys, so only the times need checking again; the
 * cache of these goes whenever the keys or issuers change.
 */
typedef struct VerifiedToken
{
	uint64		hash;			/* hash key: must be first */
	char	   *token;
	size_t		token_len;
	TfJwt		jwt;			/* a copy without the signature */
	JwtKey	   *key;
	const JwtIssuer *issuer;
	TokenTimes	times;
	Jsonb	   *claims;			/* the payload as jsonb, once verify_jwt needed it */
} VerifiedToken;

/* A token whose signature and registered claims have verified. */
typedef struct VerifiedJwt
{
	TfJwt		jwt;
	JwtKey	   *key;
	const JwtIssuer *issuer;
	TimestampTz expires_at;
	VerifiedToken *cached;
} VerifiedJwt;

/* At most this many verified tokens, or this many bytes, are remembered. */
#define MAX_VERIFIED_TOKENS 512
#define MAX_VERIFIED_BYTES (8 * 1024 * 1024)

static MemoryContext jwt_memory = NULL;
static MemoryContext verified_memory = NULL;
static HTAB *verified_tokens = NULL;
static List *issuers = NIL;
static List *keys = NIL;
static Oid	keys_oid = InvalidOid;
static Oid	issuers_oid = InvalidOid;
static bool cache_valid = false;
static bool callback_registered = false;
/* Set when the cache was loaded with a parallel query's snapshot. */
static LocalTransactionId provisional_lxid = InvalidLocalTransactionId;

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

/*
 * Returns the non-NULL elements of a text[] column as C strings in
 * jwt_memory; none when the column is NULL or not a text array.
 */
static char **
column_strings(HeapTuple tuple, TupleDesc desc, int n, int *count)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, n, &isnull);
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;
	int			nelems;
	int			i;

	*count = 0;
	if (isnull)
		return NULL;
	array = DatumGetArrayTypeP(d);
	if (ARR_ELEMTYPE(array) != TEXTOID)
		return NULL;
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	out = MemoryContextAlloc(jwt_memory, sizeof(char *) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
		if (!nulls[i])
			out[(*count)++] = MemoryContextStrdup(jwt_memory, TextDatumGetCString(elems[i]));
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
		if (iss->issuer == NULL)
			continue;
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
		if (key->kid == NULL || key->issuer == NULL || key->algorithm == NULL)
			continue;
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

/* Drops the cached keys, freeing the HMAC contexts OpenSSL allocated. */
static void
forget_keys(void)
{
	ListCell   *lc;

	foreach(lc, keys)
		tf_hmac_key_free(((JwtKey *) lfirst(lc))->hmac);
	MemoryContextReset(jwt_memory);	/* verified_memory is its child */
	verified_memory = NULL;
	verified_tokens = NULL;
	issuers = NIL;
	keys = NIL;
}

/* Starts an empty cache of verified tokens. */
static void
forget_verified_tokens(void)
{
	HASHCTL		ctl;

	if (verified_memory == NULL)
		verified_memory = AllocSetContextCreate(jwt_memory, "taskforce verified tokens",
												ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(verified_memory);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(VerifiedToken);
	ctl.hcxt = verified_memory;
	verified_tokens = hash_create("taskforce verified tokens", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Returns the verified token with exactly these bytes, or NULL. */
static VerifiedToken *
find_verified(const char *token, size_t len, uint64 hash)
{
	VerifiedToken *v = hash_search(verified_tokens, &hash, HASH_FIND, NULL);

	if (v != NULL && v->token_len == len && memcmp(v->token, token, len) == 0)
		return v;
	return NULL;
}

/* Copies a parsed token into the current memory context, leaving out the signature. */
static void
copy_jwt(TfJwt *dst, const TfJwt *src)
{
	int			i;
	int			j;

	*dst = *src;
	dst->alg = pstrdup(src->alg);
	dst->kid = src->kid ? pstrdup(src->kid) : NULL;
	dst->typ = src->typ ? pstrdup(src->typ) : NULL;
	dst->payload_json = pstrdup(src->payload_json);
	dst->signing_input = NULL;
	dst->signing_input_len = 0;
	dst->signature = NULL;
	dst->signature_len = 0;
	dst->claims = palloc(sizeof(TfJsonMember) * Max(src->nclaims, 1));
	for (i = 0; i < src->nclaims; i++)
	{
		const TfJsonMember *m = &src->claims[i];
		TfJsonMember *c = &dst->claims[i];

		*c = *m;
		c->name = pstrdup(m->name);
		c->value = m->value ? pstrdup(m->value) : NULL;
		c->raw = pnstrdup(m->raw, m->raw_len);
		c->items = m->nitems > 0 ? palloc(sizeof(char *) * m->nitems) : NULL;
		for (j = 0; j < m->nitems; j++)
			c->items[j] = pstrdup(m->items[j]);
	}
}

/* Remembers a token that has just verified; returns the entry. */
static VerifiedToken *
remember_verified(const char *token, size_t len, uint64 hash, const VerifiedJwt *v,
				  const TokenTimes *times)
{
	MemoryContext old;
	VerifiedToken *entry;
	bool		found;

	if (hash_get_num_entries(verified_tokens) >= MAX_VERIFIED_TOKENS ||
		MemoryContextMemAllocated(verified_memory, true) > MAX_VERIFIED_BYTES)
		forget_verified_tokens();
	old = MemoryContextSwitchTo(verified_memory);
	entry = hash_search(verified_tokens, &hash, HASH_ENTER, &found);
	entry->token = palloc(len);
	memcpy(entry->token, token, len);
	entry->token_len = len;
	copy_jwt(&entry->jwt, &v->jwt);
	entry->key = v->key;
	entry->issuer = v->issuer;
	entry->times = *times;
	entry->claims = NULL;
	MemoryContextSwitchTo(old);
	return entry;
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

	/* What a parallel query loaded is dropped when its transaction is over. */
	if (provisional_lxid != InvalidLocalTransactionId && provisional_lxid != MyProc->lxid)
	{
		provisional_lxid = InvalidLocalTransactionId;
		cache_valid = false;
	}
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
	forget_keys();

	schema = get_namespace_oid("taskforce", false);
	keys_oid = get_relname_relid("jwt_keys", schema);
	issuers_oid = get_relname_relid("jwt_issuers", schema);
	if (!OidIsValid(keys_oid) || !OidIsValid(issuers_oid))
		elog(ERROR, "taskforce.jwt_keys or taskforce.jwt_issuers is missing");
	cache_valid = true;

	PG_TRY();
	{
		if (!tf_spi_as_owner(load_issuers_and_keys, NULL))
			provisional_lxid = MyProc->lxid;
		forget_verified_tokens();
	}
	PG_CATCH();
	{
		cache_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static JwtKey *
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
signature_verifies(JwtKey *key, const TfJwt *jwt)
{
	const char *digest = hmac_digest(key->algorithm);

	if (digest != NULL)
	{
		uint8		mac[TF_MAX_MAC_LEN];
		size_t		mac_len;

		if (key->secret == NULL)
			return false;
		if (key->hmac == NULL)
			key->hmac = tf_hmac_key_new(digest, (const uint8 *) VARDATA(key->secret),
										VARSIZE(key->secret) - VARHDRSZ);
		return key->hmac != NULL &&
			tf_hmac_keyed(key->hmac, (const uint8 *) jwt->signing_input,
						  jwt->signing_input_len, mac, &mac_len) &&
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
 * Checks what changes with time: the key's validity window and the token's
 * exp, nbf and iat, each with the issuer's leeway.  Sets out->expires_at.
 */
static const char *
check_times(VerifiedJwt *out, const TokenTimes *t, TimestampTz now_ts)
{
	double		now = epoch_seconds(now_ts);
	int			leeway = out->issuer->leeway_seconds;

	if (now_ts < out->key->not_before || now_ts >= out->key->not_after)
		return psprintf("key \"%s\" is not valid at this time", out->key->kid);
	if (now > t->exp + leeway)
		return "token has expired";
	if (t->has_nbf && now + leeway < t->nbf)
		return "token is not yet valid";
	if (t->has_iat && now + leeway < t->iat)
		return "token was issued in the future";
	out->expires_at = SetEpochTimestamp() + (TimestampTz) ((t->exp + leeway) * USECS_PER_SEC);
	return NULL;
}

/*
 * Verifies what never changes for the same bytes: the form, the key, the
 * signature, issuer, audience and the form of the time claims, which it
 * stores in *times.
 */
static const char *
verify_signed_claims(const char *s, size_t len, VerifiedJwt *out, TokenTimes *times,
					 TimestampTz now_ts)
{
	TfJwtStatus status;
	const TfJsonMember *iss_claim;
	bool		ok;

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
	if (!numeric_date(&out->jwt, "exp", &times->exp, &ok))
		return "token has no exp claim";
	if (!ok)
		return "exp claim is not a number";
	if (times->exp > MAX_NUMERIC_DATE)
		return "exp claim is out of range";
	times->has_nbf = numeric_date(&out->jwt, "nbf", &times->nbf, &ok);
	if (!ok)
		return "nbf claim is not a number";
	times->has_iat = numeric_date(&out->jwt, "iat", &times->iat, &ok);
	if (!ok)
		return "iat claim is not a number";
	return NULL;
}

/*
 * Verifies token; returns NULL and fills *out, or returns the reason it
 * failed (lower case, never containing key material).  out->key is set
 * once the kid has named a known key.  A token seen before is found in the
 * cache of verified tokens, and only its times are checked again.
 */
static const char *
verify_token(text *token, VerifiedJwt *out)
{
	const char *s = VARDATA_ANY(token);
	size_t		len = VARSIZE_ANY_EXHDR(token);
	TimestampTz now_ts = GetCurrentTimestamp();
	uint64		hash;
	TokenTimes	times;
	const char *failure;

	memset(out, 0, sizeof(*out));
	ensure_jwt_cache();
	hash = hash_bytes_extended((const unsigned char *) s, len, 0);
	out->cached = find_verified(s, len, hash);
	if (out->cached != NULL)
	{
		out->jwt = out->cached->jwt;
		out->key = out->cached->key;
		out->issuer = out->cached->issuer;
		return check_times(out, &out->cached->times, now_ts);
	}
	failure = verify_signed_claims(s, len, out, &times, now_ts);
	if (failure == NULL)
		failure = check_times(out, &times, now_ts);
	if (failure == NULL)
		out->cached = remember_verified(s, len, hash, out, &times);
	return failure;
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
	const TfJsonMember *m = name ? tf_jwt_claim(jwt, name) : NULL;
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

	Jsonb	   *claims;

	if (failure != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("%s", failure)));
	if (v.cached->claims == NULL)
	{
		Jsonb	   *parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																CStringGetDatum(v.jwt.payload_json)));

		v.cached->claims = MemoryContextAlloc(verified_memory, VARSIZE(parsed));
		memcpy(v.cached->claims, parsed, VARSIZE(parsed));
	}
	claims = palloc(VARSIZE(v.cached->claims));
	memcpy(claims, v.cached->claims, VARSIZE(v.cached->claims));
	PG_RETURN_JSONB_P(claims);
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

/*
 * Verifies token and fills *id for authenticate_jwt's fast path (see
 * src/auth/bearer.c).  Returns false for any failure, without saying why:
 * the caller then takes the path that records the reason.
 */
bool
tf_jwt_verified_identity(text *token, TfJwtIdentity *id)
{
	VerifiedJwt v;

	memset(id, 0, sizeof(*id));
	if (verify_token(token, &v) != NULL)
		return false;
	id->tenant_id = v.issuer->tenant_id ? v.issuer->tenant_id
		: string_claim(&v.jwt, v.issuer->tenant_claim);
	id->user_id = string_claim(&v.jwt, v.issuer->user_claim);
	if (id->tenant_id == NULL || id->user_id == NULL)
		return false;
	id->issuer = v.key->issuer;
	id->kid = v.key->kid;
	id->expires_at = v.expires_at;
	id->provision_users = v.issuer->provision_users;
	id->trust_token_roles = v.issuer->trust_token_roles;
	return true;
}
