-- src/sql/context.sql: the caller's identity for the transaction or session.

CREATE FUNCTION taskforce.current_tenant() RETURNS text
    LANGUAGE C STABLE PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'taskforce_current_tenant';
COMMENT ON FUNCTION taskforce.current_tenant() IS
    'tenant of the current context, or null when there is none';

CREATE FUNCTION taskforce.current_user_id() RETURNS text
    LANGUAGE C STABLE PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'taskforce_current_user_id';
COMMENT ON FUNCTION taskforce.current_user_id() IS
    'user of the current context, or null when there is none';

CREATE FUNCTION taskforce.current_roles() RETURNS text[]
    LANGUAGE C STABLE PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'taskforce_current_roles';
COMMENT ON FUNCTION taskforce.current_roles() IS
    'roles asserted by the current context, or null when there is none';

CREATE FUNCTION taskforce.current_context(
    OUT tenant_id text,
    OUT user_id text,
    OUT roles text[],
    OUT auth_method text,
    OUT scope text,
    OUT established_by text,
    OUT established_at timestamptz,
    OUT expires_at timestamptz,
    OUT permission_scopes text[])
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_current_context';
COMMENT ON FUNCTION taskforce.current_context() IS
    'the whole current context as one row, all null when there is none';

CREATE FUNCTION taskforce.clear_context() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'taskforce_clear_context';
COMMENT ON FUNCTION taskforce.clear_context() IS
    'drops the current context, whether transaction- or session-scoped';

-- Establishes a context without checking anything: only the extension's own
-- SECURITY DEFINER functions may call it, after verifying the caller.
-- permission_scopes, when not null, limits the context to those patterns.
CREATE FUNCTION taskforce._establish_context(
    tenant_id text, user_id text, roles text[], auth_method text,
    scope text, ttl interval, permission_scopes text[] DEFAULT NULL) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'taskforce_establish_context';
REVOKE ALL ON FUNCTION taskforce._establish_context(text, text, text[], text, text, interval, text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._establish_context(text, text, text[], text, text, interval, text[]) IS
    'internal: installs a verified identity as the current context';
