/*-------------------------------------------------------------------------
 * src/rbac/pattern.c
 *	  Permissions (resource:action) and the patterns roles grant them by.
 *
 * A permission is resource:action, each part a lower-case identifier of at
 * most 63 bytes.  A pattern is a permission, resource:*, *:action, *:* or
 * the lone * that matches everything.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "rbac/pattern.h"

#define MAX_PART_LEN 63

/* True if s[0..len) is a lower-case identifier: [a-z][a-z0-9_]*. */
static bool
is_identifier(const char *s, int len)
{
	int			i;

	if (len < 1 || len > MAX_PART_LEN || s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* True if part is an identifier, or "*" when wildcards are allowed. */
static bool
is_part(const char *s, int len, bool allow_wildcard)
{
	if (allow_wildcard && len == 1 && s[0] == '*')
		return true;
	return is_identifier(s, len);
}

/* Finds the colon separating resource from action; -1 if there is none. */
static int
colon_at(const char *s, int len)
{
	const char *colon = memchr(s, ':', len);

	return colon == NULL ? -1 : (int) (colon - s);
}

/* True if s[0..len) is a permission: resource:action without wildcards. */
bool
tf_is_permission(const char *s, int len)
{
	int			c = colon_at(s, len);

	return c > 0 && is_part(s, c, false) && is_part(s + c + 1, len - c - 1, false);
}

/* True if s[0..len) is a permission pattern. */
bool
tf_is_permission_pattern(const char *s, int len)
{
	int			c;

	if (len == 1 && s[0] == '*')
		return true;
	c = colon_at(s, len);
	return c > 0 && is_part(s, c, true) && is_part(s + c + 1, len - c - 1, true);
}

/* True if one part of a pattern matches the same part of a permission. */
static inline bool
part_matches(const char *p, int plen, const char *s, int slen)
{
	return (plen == 1 && p[0] == '*') || (plen == slen && memcmp(p, s, plen) == 0);
}

/* True if pattern grants permission; both are assumed well-formed. */
bool
tf_pattern_matches(const char *pattern, int pattern_len,
				   const char *permission, int permission_len)
{
	int			pc;
	int			c;

	if (pattern_len == 1 && pattern[0] == '*')
		return true;
	pc = colon_at(pattern, pattern_len);
	c = colon_at(permission, permission_len);
	if (pc < 0 || c < 0)
		return false;
	return part_matches(pattern, pc, permission, c) &&
		part_matches(pattern + pc + 1, pattern_len - pc - 1,
					 permission + c + 1, permission_len - c - 1);
}
