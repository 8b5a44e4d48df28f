/*-------------------------------------------------------------------------
 * src/auth/jwt_parse.h
 *	  Parsing a compact JWS (JWT) without verifying it.
 *
 * Include postgres.h (server) or postgres_fe.h (fuzz harness) first.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_AUTH_JWT_PARSE_H
#define TASKFORCE_AUTH_JWT_PARSE_H

/* Longest token accepted, in bytes. */
#define TF_JWT_MAX_LEN 8192
/* Deepest nesting of objects and arrays accepted in the header or payload. */
#define TF_JWT_MAX_DEPTH 32

typedef enum TfJwtStatus
{
	TF_JWT_OK,
	TF_JWT_TOO_LONG,			/* longer than TF_JWT_MAX_LEN */
	TF_JWT_MALFORMED,			/* not three non-empty parts separated by dots,
								 * or contains whitespace or control chars */
	TF_JWT_BAD_BASE64,			/* a part is not unpadded canonical base64url */
	TF_JWT_BAD_JSON,			/* header or payload is not a JSON object, or
								 * nests deeper than TF_JWT_MAX_DEPTH */
	TF_JWT_BAD_ENCODING,		/* header or payload is not UTF-8, or holds
								 * non-ASCII text in a non-UTF-8 database */
	TF_JWT_DUPLICATE_MEMBER,	/* a top-level member name appears twice */
	TF_JWT_BAD_HEADER			/* alg missing or not a non-empty string, typ
								 * present but not JWT or at+jwt, crit present, kid
								 * not a string */
} TfJwtStatus;

typedef enum TfJsonKind
{
	TF_JSON_STRING,
	TF_JSON_NUMBER,
	TF_JSON_BOOL,
	TF_JSON_NULL,
	TF_JSON_ARRAY,
	TF_JSON_OBJECT
} TfJsonKind;

/* One top-level member of a JSON object. */
typedef struct TfJsonMember
{
	char	   *name;			/* de-escaped member name */
	TfJsonKind	kind;
	char	   *value;			/* de-escaped string, or the number, "true" or
								 * "false" as written; NULL for null, arrays
								 * and objects */
	bool		all_strings;	/* an array whose elements are all strings
								 * (true for an empty array) */
	int			nitems;			/* when all_strings: the elements; otherwise */
	char	  **items;			/* 0 and NULL */
	char	   *raw;			/* the value's JSON text, NUL-terminated, for
								 * every kind */
	int			raw_len;
} TfJsonMember;

/*
 * A parsed token.  Strings are NUL-terminated UTF-8 and contain no NUL.
 * Everything is palloc'd except signing_input, which points into the
 * caller's token.
 */
typedef struct TfJwt
{
	char	   *alg;			/* header fields; NULL when absent */
	char	   *kid;
	char	   *typ;
	int			nclaims;		/* top-level members of the payload, in order */
	TfJsonMember *claims;
	char	   *payload_json;	/* the decoded payload text */
	const char *signing_input;	/* "header.payload" inside the caller's token */
	size_t		signing_input_len;
	unsigned char *signature;	/* the decoded third part, never empty */
	size_t		signature_len;
} TfJwt;

extern TfJwtStatus tf_jwt_parse(const char *token, size_t len, TfJwt *out);
extern void tf_jwt_free(TfJwt *jwt);
extern const char *tf_jwt_status_message(TfJwtStatus status);
extern const TfJsonMember *tf_jwt_claim(const TfJwt *jwt, const char *name);

#endif							/* TASKFORCE_AUTH_JWT_PARSE_H */
