/*-------------------------------------------------------------------------
 * test/fuzz/jwt_fuzz.c
 *	  libFuzzer target for the JWT parser (src/auth/jwt_parse.c).
 *
 * Each input is parsed twice: as a token, and, when it holds a newline, as
 * "header JSON\npayload JSON" turned into a token here, so that mutations
 * reach the JSON handling without having to survive base64url first.  On
 * success every field is read, so that ASan sees any bad pointer or
 * length.  Built and run by test/fuzz/run.sh.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/base64.h"

#include "auth/jwt_parse.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Defeats the optimizer: every byte read is folded into it. */
static volatile unsigned int sink;

/* Reads len bytes of s. */
static void
touch(const void *s, size_t len)
{
	const unsigned char *p = s;
	unsigned int h = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		h = h * 31 + p[i];
	sink += h;
}

/* Reads a NUL-terminated string, if any. */
static void
touch_string(const char *s)
{
	if (s != NULL)
		touch(s, strlen(s) + 1);
}

/* Reads every field of a member and checks the invariants the header states. */
static void
touch_member(const TfJwt *jwt, const TfJsonMember *m)
{
	int			i;

	touch_string(m->name);
	touch_string(m->value);
	touch(m->raw, m->raw_len + 1);
	if (m->raw[m->raw_len] != '\0' || (int) strlen(m->raw) != m->raw_len ||
		m->raw_len == 0)
		abort();
	if ((m->value != NULL) != (m->kind == TF_JSON_STRING ||
							   m->kind == TF_JSON_NUMBER ||
							   m->kind == TF_JSON_BOOL))
		abort();
	if (m->kind != TF_JSON_ARRAY && (m->all_strings || m->nitems != 0))
		abort();
	if (!m->all_strings && (m->nitems != 0 || m->items != NULL))
		abort();
	for (i = 0; i < m->nitems; i++)
		touch_string(m->items[i]);
	if (tf_jwt_claim(jwt, m->name) != m)
		abort();
}

/* Parses one token and, if it parses, reads all of it. */
static void
parse_and_touch(const char *token, size_t len)
{
	TfJwt		jwt;
	TfJwtStatus status;
	int			i;

	status = tf_jwt_parse(token, len, &jwt);
	touch_string(tf_jwt_status_message(status));
	if (status != TF_JWT_OK)
	{
		if (jwt.claims != NULL || jwt.payload_json != NULL || jwt.alg != NULL)
			abort();
		return;
	}
	if (jwt.alg == NULL || jwt.signature_len == 0 ||
		jwt.signing_input != token || jwt.signing_input_len >= len ||
		token[jwt.signing_input_len] != '.')
		abort();
	touch_string(jwt.alg);
	touch_string(jwt.kid);
	touch_string(jwt.typ);
	touch_string(jwt.payload_json);
	touch(jwt.signing_input, jwt.signing_input_len);
	touch(jwt.signature, jwt.signature_len);
	for (i = 0; i < jwt.nclaims; i++)
		touch_member(&jwt, &jwt.claims[i]);
	tf_jwt_free(&jwt);
}

/* Appends src, base64url-encoded without padding, at dst; returns its length. */
static size_t
append_base64url(char *dst, const char *src, size_t len)
{
	int			n = pg_b64_encode(src, (int) len, dst, pg_b64_enc_len((int) len));
	int			i;

	if (n < 0)
		abort();
	while (n > 0 && dst[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++)
		dst[i] = dst[i] == '+' ? '-' : dst[i] == '/' ? '_' : dst[i];
	return n;
}

/* Builds "b64(header).b64(payload).c2ln" from "header\npayload" and parses it. */
static void
parse_json_pair(const char *data, size_t size)
{
	const char *newline = memchr(data, '\n', size);
	size_t		header_len;
	char	   *token;
	size_t		len;

	if (newline == NULL)
		return;
	header_len = newline - data;
	token = palloc(pg_b64_enc_len((int) size) + 16);
	len = append_base64url(token, data, header_len);
	token[len++] = '.';
	len += append_base64url(token + len, newline + 1, size - header_len - 1);
	memcpy(token + len, ".c2ln", 5);
	len += 5;
	parse_and_touch(token, len);
	pfree(token);
}

/* The libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan catches any read past the end. */
	char	   *copy = malloc(size > 0 ? size : 1);

	memcpy(copy, data, size);
	parse_and_touch(copy, size);
	parse_json_pair(copy, size);
	free(copy);
	return 0;
}
