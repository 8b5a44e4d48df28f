/*-------------------------------------------------------------------------
 * src/auth/jwt_parse.c
 *	  Parsing a compact JWS (JWT) into its header fields and claims.
 *
 * No cryptography here, and no backend-only call outside the one encoding
 * check below, so the same file builds into the server and, with
 * -DFRONTEND, into the libFuzzer harness (test/fuzz/jwt_fuzz.c).  Nothing
 * here throws: every failure is a TfJwtStatus.  Only PostgreSQL's JSON
 * lexer can still raise out-of-memory in the server.
 *
 * Each JSON part goes through a scan of our own for what the lexer does not
 * check (UTF-8, nesting depth, escapes the database encoding cannot hold),
 * then a pg_parse_json pass whose callbacks collect the top-level members.
 * In the fuzz harness a validating pass without callbacks comes first, so
 * that nothing the parser allocates is lost when it fails half-way: the
 * frontend has no memory contexts to collect it.
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "common/base64.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "auth/jwt_parse.h"

/* The state of the collecting pass over one JSON object. */
typedef struct MemberReader
{
	JsonLexContext *lex;
	int			depth;			/* 1 directly inside the top-level object */
	TfJsonMember *members;
	int			nmembers;
	int			capacity;
	int			items_capacity; /* of the last member's items */
	int			raw_start;		/* offset of the last member's value */
	bool		duplicate;
} MemberReader;

/* Frees ptr unless it is NULL. */
static void
free_if_set(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

/* Frees an array of members and everything they own. */
static void
free_members(TfJsonMember *members, int nmembers)
{
	int			i;
	int			j;

	for (i = 0; i < nmembers; i++)
	{
		TfJsonMember *m = &members[i];

		for (j = 0; j < m->nitems; j++)
			pfree(m->items[j]);
		free_if_set(m->items);
		free_if_set(m->name);
		free_if_set(m->value);
		free_if_set(m->raw);
	}
	free_if_set(members);
}

/* Returns the member called name, or NULL. */
static TfJsonMember *
find_member(TfJsonMember *members, int nmembers, const char *name)
{
	int			i;

	for (i = 0; i < nmembers; i++)
		if (strcmp(members[i].name, name) == 0)
			return &members[i];
	return NULL;
}

/*
 * Finds the two dots of token.  Returns false unless there are exactly two,
 * every part is non-empty and no byte is whitespace or a control character.
 */
static bool
split_token(const char *token, size_t len, size_t dots[2])
{
	int			ndots = 0;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) token[i];

		if (c <= ' ' || c == 0x7F)
			return false;
		if (c == '.')
		{
			if (ndots == 2)
				return false;
			dots[ndots++] = i;
		}
	}
	return ndots == 2 && dots[0] > 0 && dots[1] > dots[0] + 1 &&
		dots[1] + 1 < len;
}

/*
 * The 6-bit value of each base64url character, -1 for every other byte;
 * filled on first use.
 */
static int8 base64url_values[256];
static bool base64url_values_ready = false;

/* Returns the 6-bit value of a base64url character, or -1. */
static inline int
base64url_value(char c)
{
	if (!base64url_values_ready)
	{
		static const char alphabet[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		int			i;

		memset(base64url_values, -1, sizeof(base64url_values));
		for (i = 0; i < 64; i++)
			base64url_values[(unsigned char) alphabet[i]] = (int8) i;
		base64url_values_ready = true;
	}
	return base64url_values[(unsigned char) c];
}

/*
 * Decodes one part, unpadded base64url in its one canonical form (only the
 * base64url alphabet, no length that leaves a lone character, zero bits
 * where the last character extends past the data), into a palloc'd,
 * NUL-terminated buffer.
 */
static TfJwtStatus
decode_part(const char *src, size_t len, char **out, size_t *out_len)
{
	char	   *padded;
	size_t		i;
	int			last;
	char	   *decoded;
	int			decoded_len;

	if (len == 0 || len % 4 == 1)
		return TF_JWT_BAD_BASE64;

	/* Check and translate to the standard alphabet, padded, for pg_b64_decode. */
	padded = palloc(len + 3);
	for (i = 0; i < len; i++)
	{
		char		c = src[i];

		if (base64url_value(c) < 0)
		{
			pfree(padded);
			return TF_JWT_BAD_BASE64;
		}
		padded[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	last = base64url_value(src[len - 1]);
	if ((len % 4 == 2 && (last & 0x0F) != 0) || (len % 4 == 3 && (last & 0x03) != 0))
	{
		pfree(padded);
		return TF_JWT_BAD_BASE64;
	}
	while (i % 4 != 0)
		padded[i++] = '=';

	decoded = palloc(pg_b64_dec_len((int) i) + 1);
	decoded_len = pg_b64_decode(padded, (int) i, decoded, pg_b64_dec_len((int) i));
	pfree(padded);
	if (decoded_len <= 0)
	{
		pfree(decoded);
		return TF_JWT_BAD_BASE64;
	}
	decoded[decoded_len] = '\0';
	*out = decoded;
	*out_len = decoded_len;
	return TF_JWT_OK;
}

/* Returns true if the database encoding is UTF-8 (always, in the frontend). */
static bool
database_is_utf8(void)
{
#ifdef FRONTEND
	return true;
#else
	return GetDatabaseEncoding() == PG_UTF8;
#endif
}

/*
 * Checks that s is UTF-8 with no NUL, overlong form, surrogate or code
 * point past U+10FFFF; with ascii_only, that it is plain ASCII.
 */
static bool
valid_utf8(const char *s, int len, bool ascii_only)
{
	int			i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			n;
		uint32		cp;
		int			k;

		if (c == 0 || (c >= 0x80 && ascii_only))
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
		{
			n = 1;
			cp = c & 0x1F;
		}
		else if ((c & 0xF0) == 0xE0)
		{
			n = 2;
			cp = c & 0x0F;
		}
		else if ((c & 0xF8) == 0xF0)
		{
			n = 3;
			cp = c & 0x07;
		}
		else
			return false;
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++)
		{
			unsigned char cc = (unsigned char) s[i + k];

			if ((cc & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
			(n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
			(cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

/* Returns false if s starts with four hex digits denoting a non-ASCII code. */
static bool
escape_is_ascii(const char *s, int len)
{
	int			value = 0;
	int			i;

	if (len < 4)
		return true;			/* malformed: the lexer rejects it */
	for (i = 0; i < 4; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
			value = value * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			value = value * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			value = value * 16 + (c - 'A' + 10);
		else
			return true;		/* malformed: the lexer rejects it */
	}
	return value < 0x80;
}

/*
 * Checks what pg_parse_json does not, before it runs: that objects and
 * arrays nest no deeper than TF_JWT_MAX_DEPTH (the server's lexer would
 * otherwise throw at max_stack_depth), and, with ascii_only, that no \u
 * escape leaves ASCII (the server's lexer converts those to the database
 * encoding and throws if it cannot).
 */
static TfJwtStatus
scan_json(const char *s, int len, bool ascii_only)
{
	int			depth = 0;
	bool		in_string = false;
	int			i;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '"')
				in_string = false;
			else if (c == '\\' && ++i < len && s[i] == 'u' && ascii_only &&
					 !escape_is_ascii(s + i + 1, len - i - 1))
				return TF_JWT_BAD_ENCODING;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
		{
			if (++depth > TF_JWT_MAX_DEPTH)
				return TF_JWT_BAD_JSON;
		}
		else if ((c == '}' || c == ']') && --depth < 0)
			return TF_JWT_BAD_JSON;
	}
	return TF_JWT_OK;
}

/* Frees a lexer made by makeJsonLexContextCstringLen. */
static void
free_lexer(JsonLexContext *lex)
{
	if (lex->strval != NULL)
	{
		pfree(lex->strval->data);
		pfree(lex->strval);
	}
	pfree(lex);
}

/* Returns true if the first non-space character of s opens an object. */
static bool
starts_object(const char *s, int len)
{
	int			i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i < len && s[i] == '{';
}

#ifdef FRONTEND
/* Returns true if s is one valid JSON value. */
static bool
is_valid_json(char *s, int len)
{
	JsonLexContext *lex;
	JsonParseErrorType result;

	/* need_escapes, so that bad \u escapes fail here and not in the next pass */
	lex = makeJsonLexContextCstringLen(s, len, PG_UTF8, true);
	result = pg_parse_json(lex, &nullSemAction);
	free_lexer(lex);
	return result == JSON_SUCCESS;
}
#endif

/* Maps the first token of a value to its kind. */
static TfJsonKind
kind_of_token(JsonTokenType type)
{
	switch (type)
	{
		case JSON_TOKEN_STRING:
			return TF_JSON_STRING;
		case JSON_TOKEN_NUMBER:
			return TF_JSON_NUMBER;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			return TF_JSON_BOOL;
		case JSON_TOKEN_OBJECT_START:
			return TF_JSON_OBJECT;
		case JSON_TOKEN_ARRAY_START:
			return TF_JSON_ARRAY;
		default:
			return TF_JSON_NULL;
	}
}

/* Returns the member being read: the last one. */
static TfJsonMember *
last_member(MemberReader *r)
{
	return &r->members[r->nmembers - 1];
}

/* Enters an object or array; one inside an array member makes it not all strings. */
static void
on_container_start(void *state)
{
	MemberReader *r = state;

	if (r->depth == 2 && r->nmembers > 0)
		last_member(r)->all_strings = false;
	r->depth++;
}

/* Leaves an object or array. */
static void
on_container_end(void *state)
{
	MemberReader *r = state;

	r->depth--;
}

/* Starts a member: at the top level, appends it, noting a duplicate name. */
static void
on_field_start(void *state, char *fname, bool isnull)
{
	MemberReader *r = state;
	TfJsonMember *m;

	if (r->depth != 1)
		return;
	if (find_member(r->members, r->nmembers, fname) != NULL)
		r->duplicate = true;
	if (r->nmembers == r->capacity)
	{
		r->capacity = r->capacity == 0 ? 8 : r->capacity * 2;
		r->members = r->members == NULL ?
			palloc(sizeof(TfJsonMember) * r->capacity) :
			repalloc(r->members, sizeof(TfJsonMember) * r->capacity);
	}
	m = &r->members[r->nmembers++];
	memset(m, 0, sizeof(*m));
	m->name = fname;
	m->kind = kind_of_token(r->lex->token_type);
	m->all_strings = m->kind == TF_JSON_ARRAY;
	r->items_capacity = 0;
	r->raw_start = r->lex->token_start - r->lex->input;
}

/* Ends a member: at the top level, keeps its raw text; elsewhere frees the name. */
static void
on_field_end(void *state, char *fname, bool isnull)
{
	MemberReader *r = state;
	TfJsonMember *m;
	int			i;

	if (r->depth != 1)
	{
		pfree(fname);
		return;
	}
	m = last_member(r);
	m->raw_len = (r->lex->prev_token_terminator - r->lex->input) - r->raw_start;
	m->raw = palloc(m->raw_len + 1);
	memcpy(m->raw, r->lex->input + r->raw_start, m->raw_len);
	m->raw[m->raw_len] = '\0';
	if (!m->all_strings && m->items != NULL)
	{
		for (i = 0; i < m->nitems; i++)
			pfree(m->items[i]);
		pfree(m->items);
		m->items = NULL;
		m->nitems = 0;
	}
}

/* Appends a string element to the last member's items. */
static void
append_item(MemberReader *r, char *item)
{
	TfJsonMember *m = last_member(r);

	if (m->nitems == r->items_capacity)
	{
		r->items_capacity = r->items_capacity == 0 ? 8 : r->items_capacity * 2;
		m->items = m->items == NULL ?
			palloc(sizeof(char *) * r->items_capacity) :
			repalloc(m->items, sizeof(char *) * r->items_capacity);
	}
	m->items[m->nitems++] = item;
}

/* Keeps a scalar that is a top-level value or an element of an array member. */
static void
on_scalar(void *state, char *token, JsonTokenType type)
{
	MemberReader *r = state;
	TfJsonMember *m = r->nmembers > 0 ? last_member(r) : NULL;

	if (m != NULL && r->depth == 1 && type != JSON_TOKEN_NULL)
	{
		m->value = token;
		return;
	}
	if (m != NULL && r->depth == 2 && m->kind == TF_JSON_ARRAY)
	{
		if (type == JSON_TOKEN_STRING && m->all_strings)
		{
			append_item(r, token);
			return;
		}
		m->all_strings = false;
	}
	pfree(token);
}

/*
 * Reads the top-level members of the JSON object in s.  *members is set
 * (possibly partly filled) whatever the result; the caller frees it.
 */
static TfJwtStatus
read_object(char *s, int len, TfJsonMember **members, int *nmembers)
{
	MemberReader r;
	JsonSemAction sem;
	JsonParseErrorType result;
	TfJwtStatus status;
	bool		ascii_only = !database_is_utf8();

	*members = NULL;
	*nmembers = 0;
	if (!valid_utf8(s, len, ascii_only))
		return TF_JWT_BAD_ENCODING;
	status = scan_json(s, len, ascii_only);
	if (status != TF_JWT_OK)
		return status;
	if (!starts_object(s, len))
		return TF_JWT_BAD_JSON;
#ifdef FRONTEND
	/*
	 * Without memory contexts, what the parser allocated before failing half
	 * way would leak, so the fuzz harness validates in a pass of its own.
	 * The server parses once, its memory context collecting any leftovers.
	 */
	if (!is_valid_json(s, len))
		return TF_JWT_BAD_JSON;
#endif

	memset(&r, 0, sizeof(r));
	memset(&sem, 0, sizeof(sem));
	r.lex = makeJsonLexContextCstringLen(s, len, PG_UTF8, true);
	sem.semstate = &r;
	sem.object_start = on_container_start;
	sem.object_end = on_container_end;
	sem.array_start = on_container_start;
	sem.array_end = on_container_end;
	sem.object_field_start = on_field_start;
	sem.object_field_end = on_field_end;
	sem.scalar = on_scalar;
	result = pg_parse_json(r.lex, &sem);
	free_lexer(r.lex);

	*members = r.members;
	*nmembers = r.nmembers;
	if (result != JSON_SUCCESS)
		return TF_JWT_BAD_JSON;
	return r.duplicate ? TF_JWT_DUPLICATE_MEMBER : TF_JWT_OK;
}

/* Returns true if member is absent or a string. */
static bool
absent_or_string(const TfJsonMember *member)
{
	return member == NULL || member->kind == TF_JSON_STRING;
}

/* True for the media types of a JWT: JWT (RFC 7519) and at+jwt (RFC 9068). */
static bool
is_jwt_type(const char *typ)
{
	return pg_strcasecmp(typ, "JWT") == 0 ||
		pg_strcasecmp(typ, "at+jwt") == 0 ||
		pg_strcasecmp(typ, "application/at+jwt") == 0;
}

/* Parses the header and copies alg, kid and typ into out. */
static TfJwtStatus
read_header(char *s, int len, TfJwt *out)
{
	TfJsonMember *members;
	int			nmembers;
	TfJsonMember *alg;
	TfJsonMember *kid;
	TfJsonMember *typ;
	TfJwtStatus status;

	status = read_object(s, len, &members, &nmembers);
	if (status == TF_JWT_OK)
	{
		alg = find_member(members, nmembers, "alg");
		kid = find_member(members, nmembers, "kid");
		typ = find_member(members, nmembers, "typ");
		if (alg == NULL || alg->kind != TF_JSON_STRING || alg->value[0] == '\0' ||
			!absent_or_string(kid) || !absent_or_string(typ) ||
			(typ != NULL && !is_jwt_type(typ->value)) ||
			find_member(members, nmembers, "crit") != NULL)
			status = TF_JWT_BAD_HEADER;
	}
	if (status == TF_JWT_OK)
	{
		out->alg = pstrdup(alg->value);
		out->kid = kid != NULL ? pstrdup(kid->value) : NULL;
		out->typ = typ != NULL ? pstrdup(typ->value) : NULL;
	}
	free_members(members, nmembers);
	return status;
}

/* Does the work of tf_jwt_parse; on failure, out may be partly filled. */
static TfJwtStatus
parse_token(const char *token, size_t len, TfJwt *out)
{
	size_t		dots[2];
	char	   *header;
	size_t		header_len;
	size_t		payload_len;
	TfJwtStatus status;

	if (len > TF_JWT_MAX_LEN)
		return TF_JWT_TOO_LONG;
	if (!split_token(token, len, dots))
		return TF_JWT_MALFORMED;

	status = decode_part(token, dots[0], &header, &header_len);
	if (status != TF_JWT_OK)
		return status;
	status = decode_part(token + dots[0] + 1, dots[1] - dots[0] - 1,
						 &out->payload_json, &payload_len);
	if (status == TF_JWT_OK)
		status = decode_part(token + dots[1] + 1, len - dots[1] - 1,
							 (char **) &out->signature, &out->signature_len);
	if (status == TF_JWT_OK)
		status = read_header(header, (int) header_len, out);
	pfree(header);
	if (status != TF_JWT_OK)
		return status;

	status = read_object(out->payload_json, (int) payload_len,
						 &out->claims, &out->nclaims);
	if (status != TF_JWT_OK)
		return status;
	out->signing_input = token;
	out->signing_input_len = dots[1];
	return TF_JWT_OK;
}

/*
 * Parses token (len bytes, not necessarily NUL-terminated) into *out,
 * verifying nothing.  On failure *out is left empty.
 */
TfJwtStatus
tf_jwt_parse(const char *token, size_t len, TfJwt *out)
{
	TfJwtStatus status;

	memset(out, 0, sizeof(*out));
	status = parse_token(token, len, out);
	if (status != TF_JWT_OK)
		tf_jwt_free(out);
	return status;
}

/* Frees everything a parsed token owns and empties it. */
void
tf_jwt_free(TfJwt *jwt)
{
	free_if_set(jwt->alg);
	free_if_set(jwt->kid);
	free_if_set(jwt->typ);
	free_members(jwt->claims, jwt->nclaims);
	free_if_set(jwt->payload_json);
	free_if_set(jwt->signature);
	memset(jwt, 0, sizeof(*jwt));
}

/* Returns a lower-case message describing status. */
const char *
tf_jwt_status_message(TfJwtStatus status)
{
	switch (status)
	{
		case TF_JWT_OK:
			return "token is well-formed";
		case TF_JWT_TOO_LONG:
			return "token is longer than " CppAsString2(TF_JWT_MAX_LEN) " bytes";
		case TF_JWT_MALFORMED:
			return "token is not three base64url parts separated by dots";
		case TF_JWT_BAD_BASE64:
			return "token part is not valid unpadded base64url";
		case TF_JWT_BAD_JSON:
			return "token header or payload is not a JSON object nested at most "
				CppAsString2(TF_JWT_MAX_DEPTH) " levels deep";
		case TF_JWT_BAD_ENCODING:
			return "token header or payload is not valid UTF-8 or cannot be "
				"represented in the database encoding";
		case TF_JWT_DUPLICATE_MEMBER:
			return "token header or payload has a duplicate member name";
		case TF_JWT_BAD_HEADER:
			return "token header lacks a string alg, or has a typ other than JWT or at+jwt, "
				"a kid that is not a string, or crit";
	}
	return "token status is unknown";
}

/* Returns the payload member called name, or NULL. */
const TfJsonMember *
tf_jwt_claim(const TfJwt *jwt, const char *name)
{
	return find_member(jwt->claims, jwt->nclaims, name);
}
