-- src/sql/rbac.sql: permission checks against the current context.

CREATE FUNCTION taskforce.is_permission_pattern(pattern text) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_is_permission_pattern';
COMMENT ON FUNCTION taskforce.is_permission_pattern(text) IS
    'true if the text is resource:action, resource:*, *:action or *';

CREATE FUNCTION taskforce.permission_matches(patterns text[], permission text) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_permission_matches';
COMMENT ON FUNCTION taskforce.permission_matches(text[], text) IS
    'true if any of the patterns grants the permission';

-- Every pattern an identity holds and where it comes from: the roles granted
-- to the user (unexpired) and the roles its credential asserted.  Nothing
-- for a deactivated user.  The permission cache (rbac.c) loads through it.
-- Neither SECURITY DEFINER nor SET, so that callers can inline it: only the
-- extension's owner may run it, from C with search_path pinned or from
-- SECURITY DEFINER functions that pin it.
CREATE FUNCTION taskforce._permission_sources(tenant_id text, user_id text, asserted_roles text[])
    RETURNS TABLE (role_name text, source text, pattern text, expires_at timestamptz)
    LANGUAGE sql STABLE
    AS $$
    WITH held AS (
        SELECT g.role_name, 'grant' AS source, g.expires_at
          FROM taskforce.role_grants AS g
         WHERE g.tenant_id = _permission_sources.tenant_id
           AND g.user_id = _permission_sources.user_id
           AND (g.expires_at IS NULL OR g.expires_at > pg_catalog.statement_timestamp())
        UNION ALL
        SELECT a.role_name, 'credential', NULL
          FROM pg_catalog.unnest(asserted_roles) AS a(role_name)
    )
    SELECT h.role_name, h.source, p.pattern, h.expires_at
      FROM held AS h
      CROSS JOIN LATERAL (
            SELECT s.permissions FROM taskforce.system_roles AS s
             WHERE s.role_name = h.role_name
            UNION ALL
            SELECT r.permissions FROM taskforce.roles AS r
             WHERE r.tenant_id = _permission_sources.tenant_id
               AND r.role_name = h.role_name) AS role_def
      CROSS JOIN LATERAL pg_catalog.unnest(role_def.permissions) AS p(pattern)
     WHERE NOT EXISTS (
            SELECT FROM taskforce.users AS u
             WHERE u.tenant_id = _permission_sources.tenant_id
               AND u.user_id = _permission_sources.user_id
               AND u.status <> 'active')
     ORDER BY h.source DESC, h.role_name, p.pattern
$$;
REVOKE ALL ON FUNCTION taskforce._permission_sources(text, text, text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._permission_sources(text, text, text[]) IS
    'internal: the permission patterns an identity holds, by role and source';

CREATE FUNCTION taskforce.has_permission(permission text) RETURNS boolean
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_has_permission';
COMMENT ON FUNCTION taskforce.has_permission(text) IS
    'true if the current context holds the permission; false without a context';

CREATE FUNCTION taskforce.has_permission(permission text, tenant_id text, user_id text)
    RETURNS boolean
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_has_permission_for';
REVOKE ALL ON FUNCTION taskforce.has_permission(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.has_permission(text, text, text) IS
    'true if the named user holds the permission through its role grants; administrators only';

CREATE FUNCTION taskforce.require_permission(permission text) RETURNS void
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_require_permission';
COMMENT ON FUNCTION taskforce.require_permission(text) IS
    'raises insufficient_privilege naming the permission unless the current context holds it';

CREATE FUNCTION taskforce.effective_permissions()
    RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.permission FROM taskforce.permissions AS c
     WHERE taskforce.has_permission(c.permission)
     ORDER BY c.permission
$$;
COMMENT ON FUNCTION taskforce.effective_permissions() IS
    'every catalog permission the current context holds';

CREATE FUNCTION taskforce.effective_roles()
    RETURNS TABLE (role_name text, source text, expires_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT DISTINCT s.role_name, s.source, s.expires_at
      FROM taskforce._permission_sources(taskforce.current_tenant(),
                                         taskforce.current_user_id(),
                                         taskforce.current_roles()) AS s
     ORDER BY s.source DESC, s.role_name
$$;
COMMENT ON FUNCTION taskforce.effective_roles() IS
    'the roles the current context holds: granted to the user (source grant) or asserted by its credential (source credential)';

CREATE FUNCTION taskforce.explain_permission(
    permission text,
    user_id text DEFAULT NULL,
    tenant_id text DEFAULT NULL,
    OUT allowed boolean,
    OUT role_name text,
    OUT source text,
    OUT pattern text,
    OUT reason text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text;
    subject text;
    asserted text[];
    scopes text[];
    user_status text;
    held text;
BEGIN
    IF permission IS NULL THEN
        RAISE EXCEPTION 'permission must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF explain_permission.user_id IS NULL THEN
        tenant := taskforce.current_tenant();
        subject := taskforce.current_user_id();
        asserted := taskforce.current_roles();
        scopes := (taskforce.current_context()).permission_scopes;
    ELSE
        tenant := taskforce._authorize('user:manage', explain_permission.tenant_id);
        subject := explain_permission.user_id;
    END IF;
    -- Rejects a malformed or unknown permission exactly as the checks do.
    PERFORM taskforce.has_permission(permission);

    allowed := false;
    IF tenant IS NULL THEN
        reason := 'there is no authenticated context';
        RETURN;
    END IF;
    SELECT u.status INTO user_status FROM taskforce.users AS u
     WHERE u.tenant_id = tenant AND u.user_id = subject;
    IF user_status = 'deactivated' THEN
        reason := format('user "%s" is deactivated', subject);
        RETURN;
    END IF;

    SELECT s.role_name, s.source, s.pattern INTO role_name, source, pattern
      FROM taskforce._permission_sources(tenant, subject, asserted) AS s
     WHERE taskforce.permission_matches(ARRAY[s.pattern], permission)
     LIMIT 1;
    IF NOT FOUND THEN
        SELECT pg_catalog.string_agg(DISTINCT s.role_name, ', ') INTO held
          FROM taskforce._permission_sources(tenant, subject, asserted) AS s;
        reason := CASE WHEN held IS NULL
                       THEN format('user "%s" holds no role', subject)
                       ELSE format('no role of user "%s" (%s) grants %s', subject, held, permission)
                  END;
        RETURN;
    END IF;
    IF scopes IS NOT NULL AND NOT taskforce.permission_matches(scopes, permission) THEN
        reason := format('role "%s" grants %s through %s, but the credential is limited to scopes %s',
                         role_name, permission, pattern, scopes::text);
        RETURN;
    END IF;
    allowed := true;
    reason := format('role "%s" (%s) grants %s through %s',
                     role_name, CASE source WHEN 'grant' THEN 'granted' ELSE 'asserted by the credential' END,
                     permission, pattern);
END
$$;
COMMENT ON FUNCTION taskforce.explain_permission(text, text, text) IS
    'the access decision and why: which role and pattern grant the permission, or why none does; naming another user needs user:manage';

-- Any change to the tables the caches load from (permission checks,
-- context liveness, JWT keys) invalidates the caches of every session by
-- its next transaction.  Row triggers cover INSERT, UPDATE and DELETE, also
-- as a logical replication subscriber applies them (it fires no statement
-- triggers); a statement trigger covers TRUNCATE.  All are ENABLE ALWAYS,
-- so that they fire under session_replication_role = replica too.
CREATE FUNCTION taskforce._invalidate_caches() RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_invalidate_caches';
REVOKE ALL ON FUNCTION taskforce._invalidate_caches() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._invalidate_caches() IS
    'internal: trigger that makes every session drop what it cached from the table';

CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.permissions FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.system_roles FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.roles FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.role_grants FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
-- On users and tenants only the identity and the status matter: logins
-- update last_login_at, and must not flush every session's cache.
CREATE TRIGGER invalidate_caches BEFORE INSERT OR DELETE
    ON taskforce.users FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_status BEFORE UPDATE
    ON taskforce.users FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.user_id, OLD.status) IS DISTINCT FROM (NEW.tenant_id, NEW.user_id, NEW.status))
    EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR DELETE
    ON taskforce.tenants FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_status BEFORE UPDATE
    ON taskforce.tenants FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.status) IS DISTINCT FROM (NEW.tenant_id, NEW.status))
    EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.permissions FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.system_roles FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.roles FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.role_grants FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.users FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.tenants FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
ALTER TABLE taskforce.permissions
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.system_roles
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.roles
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.role_grants
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.users
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_status,
    ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.tenants
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_status,
    ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;

CREATE FUNCTION taskforce._caller_is_administrator() RETURNS boolean
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_caller_is_administrator';
REVOKE ALL ON FUNCTION taskforce._caller_is_administrator() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._caller_is_administrator() IS
    'internal: true if the calling role (not a SECURITY DEFINER owner) may run act_as';
