/*-------------------------------------------------------------------------
 * src/lifecycle/semver.c
 *	  Semantic versions (SemVer 2.0.0): validation and a sort key whose
 *	  byte order is the specification's precedence.
 *
 * The key lets a plain bytea column (agent_versions.version_key) carry a
 * btree index and a unique constraint that order and compare versions as
 * SemVer says, with no custom operator class:
 *
 *	 major, minor, patch	 8 bytes each, big-endian
 *	 release				 0x01 (sorts after any pre-release)
 *	 pre-release			 0x00, then per identifier
 *							   numeric:		  0x01 + 8 bytes big-endian
 *							   alphanumeric:  0x02 + its ASCII bytes + 0x00
 *							 then 0x00 (a shorter list sorts first)
 *
 * Numeric identifiers sort before alphanumeric ones (0x01 < 0x02), numbers
 * as numbers, other identifiers in ASCII order (an identifier never holds
 * 0x00, so its terminator makes a prefix sort first).  Build metadata is
 * validated and left out: versions that differ only in it have equal keys.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#define SEMVER_HINT "A semantic version is MAJOR.MINOR.PATCH, optionally followed by -PRERELEASE and +BUILD (for example 1.2.3, 1.0.0-rc.1, 1.0.0+build.5): numbers without leading zeros, dot-separated identifiers of [0-9A-Za-z-] that are not empty."

#define SEMVER_MAX_NUMBER INT64CONST(0x7FFFFFFFFFFFFFFF)

PG_FUNCTION_INFO_V1(taskforce_semver_key);
PG_FUNCTION_INFO_V1(taskforce_semver_compare);

/* Raises invalid_parameter_value for version, saying what is wrong. */
static void
semver_invalid(const char *version, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid semantic version \"%s\"", version),
			 errdetail("%s", problem),
			 errhint(SEMVER_HINT)));
}

/* Whether c may appear in a pre-release or build identifier. */
static bool
semver_ident_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		(c >= 'a' && c <= 'z') || c == '-';
}

/* Appends value as 8 bytes, most significant first. */
static void
append_uint64_be(StringInfo buf, uint64 value)
{
	char		bytes[8];
	int			i;

	for (i = 7; i >= 0; i--)
	{
		bytes[i] = (char) (value & 0xFF);
		value >>= 8;
	}
	appendBinaryStringInfo(buf, bytes, 8);
}

/*
 * Parses the decimal number of len digits at p (all digits, checked by the
 * caller); refuses leading zeros and values above 2^63-1.
 */
static uint64
parse_number(const char *version, const char *p, int len, const char *what)
{
	uint64		value = 0;
	int			i;

	if (len > 1 && p[0] == '0')
		semver_invalid(version, psprintf("The %s has a leading zero.", what));
	for (i = 0; i < len; i++)
	{
		uint64		digit = (uint64) (p[i] - '0');

		if (value > ((uint64) SEMVER_MAX_NUMBER - digit) / 10)
			semver_invalid(version,
						   psprintf("The %s is larger than 9223372036854775807.", what));
		value = value * 10 + digit;
	}
	return value;
}

/*
 * Parses one of the three dot-separated core numbers starting at *pos,
 * which must end with the character end ('.' for major and minor, or the
 * end of the core for patch), and advances *pos past it.
 */
static uint64
parse_core_number(const char *version, const char **pos, const char *what,
				  bool last)
{
	const char *start = *pos;
	const char *p = start;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == start)
		semver_invalid(version, psprintf("The %s version is missing or not a number.", what));
	if (last ? (*p != '\0' && *p != '-' && *p != '+') : (*p != '.'))
		semver_invalid(version,
					   last ? "The patch version must be followed by -PRERELEASE, +BUILD or nothing."
					   : psprintf("The %s version must be followed by a dot.", what));
	*pos = p;
	return parse_number(version, start, (int) (p - start),
						psprintf("%s version", what));
}

/*
 * Validates version and returns its sort key (see the file comment) in a
 * new bytea.
 */
static bytea *
semver_make_key(const char *version)
{
	StringInfoData buf;
	const char *p = version;
	bytea	   *result;

	initStringInfo(&buf);
	append_uint64_be(&buf, parse_core_number(version, &p, "major", false));
	p++;
	append_uint64_be(&buf, parse_core_number(version, &p, "minor", false));
	p++;
	append_uint64_be(&buf, parse_core_number(version, &p, "patch", true));

	if (*p == '-')
	{
		appendStringInfoChar(&buf, 0x00);
		p++;
		for (;;)
		{
			const char *start = p;
			bool		numeric = true;

			while (*p != '\0' && *p != '.' && *p != '+')
			{
				if (!semver_ident_char(*p))
					semver_invalid(version,
								   psprintf("The pre-release contains the character \"%c\", which is not allowed.", *p));
				if (*p < '0' || *p > '9')
					numeric = false;
				p++;
			}
			if (p == start)
				semver_invalid(version, "The pre-release has an empty identifier.");
			if (numeric)
			{
				appendStringInfoChar(&buf, 0x01);
				append_uint64_be(&buf, parse_number(version, start, (int) (p - start),
													"numeric pre-release identifier"));
			}
			else
			{
				appendStringInfoChar(&buf, 0x02);
				appendBinaryStringInfo(&buf, start, (int) (p - start));
				appendStringInfoChar(&buf, 0x00);
			}
			if (*p != '.')
				break;
			p++;
		}
		appendStringInfoChar(&buf, 0x00);
	}
	else
		appendStringInfoChar(&buf, 0x01);

	if (*p == '+')
	{
		/* Build metadata: validated, not part of the precedence. */
		p++;
		for (;;)
		{
			const char *start = p;

			while (*p != '\0' && *p != '.')
			{
				if (!semver_ident_char(*p))
					semver_invalid(version,
								   psprintf("The build metadata contains the character \"%c\", which is not allowed.", *p));
				p++;
			}
			if (p == start)
				semver_invalid(version, "The build metadata has an empty identifier.");
			if (*p != '.')
				break;
			p++;
		}
	}
	Assert(*p == '\0');

	result = (bytea *) palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	return result;
}

/*
 * taskforce.semver_key(version text) RETURNS bytea: a byte string whose
 * order is SemVer 2.0.0 precedence; invalid_parameter_value for anything
 * that is not a semantic version.
 */
Datum
taskforce_semver_key(PG_FUNCTION_ARGS)
{
	char	   *version = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BYTEA_P(semver_make_key(version));
}

/*
 * taskforce.semver_compare(a text, b text) RETURNS integer: -1, 0 or 1 as
 * a has lower, equal or higher precedence than b.
 */
Datum
taskforce_semver_compare(PG_FUNCTION_ARGS)
{
	bytea	   *a = semver_make_key(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	bytea	   *b = semver_make_key(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	int			alen = VARSIZE(a) - VARHDRSZ;
	int			blen = VARSIZE(b) - VARHDRSZ;
	int			cmp = memcmp(VARDATA(a), VARDATA(b), Min(alen, blen));

	if (cmp == 0)
		cmp = (alen > blen) - (alen < blen);
	PG_RETURN_INT32(cmp < 0 ? -1 : (cmp > 0 ? 1 : 0));
}
