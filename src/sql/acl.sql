-- src/sql/acl.sql: resource access control (seed 001 §5.1, §8.2).  Any
-- resource (a conversation, a tool result, a document, a knowledge base, a
-- row of the user's own tables) can have an ACL: owner, sensitivity, scope,
-- default permissions, and grants to users and roles that may expire.  The
-- rules live in one C function (src/acl/decide.c) that every check calls:
-- check_access(), the row policies of protect_table(), accessible_resources()
-- and the grant functions below.  See docs/acl.md.

INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('acl:manage', 'manage every resource ACL of the tenant', true);

-- Sensitivity levels, ordered from least to most restricted.
CREATE FUNCTION taskforce.sensitivity_rank(sensitivity text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE sensitivity WHEN 'public' THEN 1 WHEN 'internal' THEN 2
                            WHEN 'confidential' THEN 3 WHEN 'restricted' THEN 4 END
$$;
COMMENT ON FUNCTION taskforce.sensitivity_rank(text) IS
    'the order of sensitivity levels: public 1, internal 2, confidential 3, restricted 4; null for anything else';

CREATE TABLE taskforce.resource_acls (
    tenant_id           text        NOT NULL,
    resource_id         text        NOT NULL,
    resource_type       text        NOT NULL,
    owner_id            text        NOT NULL,
    sensitivity         text        NOT NULL DEFAULT 'internal',
    scope               text        NOT NULL DEFAULT 'tenant',
    project_id          text,
    session_id          text,
    default_permissions text[]      NOT NULL DEFAULT '{read}',
    metadata            jsonb       NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT resource_acls_pkey PRIMARY KEY (tenant_id, resource_id),
    CONSTRAINT resource_acls_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT resource_acls_project_fkey FOREIGN KEY (tenant_id, project_id)
        REFERENCES taskforce.projects (tenant_id, project_id),
    CONSTRAINT resource_acls_resource_id_format
        CHECK (resource_id ~ '^[^[:space:][:cntrl:]]+$' AND pg_catalog.octet_length(resource_id) <= 256),
    CONSTRAINT resource_acls_type_format CHECK (resource_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT resource_acls_sensitivity_known
        CHECK (sensitivity IN ('public', 'internal', 'confidential', 'restricted')),
    CONSTRAINT resource_acls_scope_known
        CHECK (scope IN ('global', 'tenant', 'project', 'session', 'private')),
    CONSTRAINT resource_acls_project_iff_scope CHECK ((scope = 'project') = (project_id IS NOT NULL)),
    CONSTRAINT resource_acls_session_iff_scope CHECK ((scope = 'session') = (session_id IS NOT NULL)),
    CONSTRAINT resource_acls_default_permissions_known
        CHECK (default_permissions <@ ARRAY['read', 'write', 'delete', 'reference']
               AND pg_catalog.array_position(default_permissions, NULL) IS NULL),
    CONSTRAINT resource_acls_metadata_object CHECK (pg_catalog.jsonb_typeof(metadata) = 'object')
);
-- What "resources I may access" starts from: owned, by scope, by project,
-- by session; global resources by id across tenants.
CREATE INDEX resource_acls_owner ON taskforce.resource_acls (tenant_id, owner_id);
CREATE INDEX resource_acls_scope ON taskforce.resource_acls (tenant_id, scope, sensitivity);
CREATE INDEX resource_acls_project ON taskforce.resource_acls (tenant_id, project_id)
    WHERE project_id IS NOT NULL;
CREATE INDEX resource_acls_session ON taskforce.resource_acls (tenant_id, session_id)
    WHERE session_id IS NOT NULL;
CREATE UNIQUE INDEX resource_acls_global ON taskforce.resource_acls (resource_id)
    WHERE scope = 'global';
CREATE INDEX resource_acls_retention ON taskforce.resource_acls (tenant_id, created_at);
COMMENT ON TABLE taskforce.resource_acls IS
    'the access control list of each resource: owner, sensitivity, scope and default permissions';
COMMENT ON COLUMN taskforce.resource_acls.sensitivity IS
    'public, internal, confidential or restricted (ordered: taskforce.sensitivity_rank)';
COMMENT ON COLUMN taskforce.resource_acls.scope IS
    'who the resource is visible to without a grant: global (every tenant), tenant, project (its members), session (its participants), private (the owner)';
COMMENT ON COLUMN taskforce.resource_acls.default_permissions IS
    'what the scope''s audience may do with a public or internal resource (read, write, delete, reference)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.resource_acls', '');

CREATE TABLE taskforce.resource_grants (
    tenant_id      text        NOT NULL,
    resource_id    text        NOT NULL,
    principal_type text        NOT NULL,
    principal_id   text        NOT NULL,
    permissions    text[]      NOT NULL,
    granted_by     text        NOT NULL,
    granted_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at     timestamptz,
    CONSTRAINT resource_grants_pkey PRIMARY KEY (tenant_id, resource_id, principal_type, principal_id),
    CONSTRAINT resource_grants_resource_fkey FOREIGN KEY (tenant_id, resource_id)
        REFERENCES taskforce.resource_acls (tenant_id, resource_id) ON DELETE CASCADE,
    CONSTRAINT resource_grants_principal_type_known CHECK (principal_type IN ('user', 'role')),
    CONSTRAINT resource_grants_permissions_known
        CHECK (permissions <@ ARRAY['read', 'write', 'delete', 'reference', 'share', 'admin']
               AND pg_catalog.cardinality(permissions) > 0
               AND pg_catalog.array_position(permissions, NULL) IS NULL)
);
CREATE INDEX resource_grants_principal ON taskforce.resource_grants (tenant_id, principal_type, principal_id);
COMMENT ON TABLE taskforce.resource_grants IS
    'permissions on a resource granted to a user or a role, by whom, until when (an expired grant grants nothing)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.resource_grants', '');

CREATE TABLE taskforce.session_participants (
    tenant_id  text        NOT NULL,
    session_id text        NOT NULL,
    user_id    text        NOT NULL,
    added_by   text        NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT session_participants_pkey PRIMARY KEY (tenant_id, session_id, user_id),
    CONSTRAINT session_participants_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE,
    CONSTRAINT session_participants_session_id_format
        CHECK (session_id ~ '^[^[:space:][:cntrl:]]+$' AND pg_catalog.octet_length(session_id) <= 256)
);
CREATE INDEX session_participants_user ON taskforce.session_participants (tenant_id, user_id);
COMMENT ON TABLE taskforce.session_participants IS
    'who takes part in each session: the audience of SESSION-scope resources';
SELECT pg_catalog.pg_extension_config_dump('taskforce.session_participants', '');

CREATE TABLE taskforce.resource_policies (
    tenant_id          text        NOT NULL,
    policy_id          text        NOT NULL,
    name               text        NOT NULL,
    description        text        NOT NULL DEFAULT '',
    scope              text        NOT NULL,
    sensitivity_levels text[]      NOT NULL,
    max_retention_days integer,
    requires_audit     boolean     NOT NULL DEFAULT false,
    allowed_roles      text[],
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT resource_policies_pkey PRIMARY KEY (tenant_id, policy_id),
    CONSTRAINT resource_policies_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT resource_policies_policy_id_format CHECK (policy_id ~ '^[^[:space:][:cntrl:]]{1,128}$'),
    CONSTRAINT resource_policies_scope_known
        CHECK (scope IN ('global', 'tenant', 'project', 'session', 'private')),
    CONSTRAINT resource_policies_levels_known
        CHECK (sensitivity_levels <@ ARRAY['public', 'internal', 'confidential', 'restricted']
               AND pg_catalog.cardinality(sensitivity_levels) > 0
               AND pg_catalog.array_position(sensitivity_levels, NULL) IS NULL),
    CONSTRAINT resource_policies_retention_positive CHECK (max_retention_days > 0),
    CONSTRAINT resource_policies_roles_no_null
        CHECK (pg_catalog.array_position(allowed_roles, NULL) IS NULL)
);
COMMENT ON TABLE taskforce.resource_policies IS
    'retention and access policies per scope and sensitivity (seed 001 §5.3); at most one per scope and level';
COMMENT ON COLUMN taskforce.resource_policies.max_retention_days IS
    'resources older than this many days are deleted by apply_retention(); null: manual deletion only';
COMMENT ON COLUMN taskforce.resource_policies.requires_audit IS
    'every access (once per resource, permission and statement) writes an audit entry';
COMMENT ON COLUMN taskforce.resource_policies.allowed_roles IS
    'only users holding one of these roles may access at all, owners included; null: no restriction';
SELECT pg_catalog.pg_extension_config_dump('taskforce.resource_policies', '');

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.resource_acls'::regclass), ('taskforce.resource_grants'),
               ('taskforce.session_participants'), ('taskforce.resource_policies')) AS v(t);
SELECT taskforce.enable_audit(t)
  FROM (VALUES ('taskforce.resource_acls'::regclass), ('taskforce.resource_grants'),
               ('taskforce.session_participants'), ('taskforce.resource_policies')) AS v(t);

-- The decision caches (src/acl/cache.c) load from these tables, the
-- membership tables and the identity tables (whose triggers rbac.sql made):
-- a change to any of them reaches every session by its next transaction.
-- ENABLE ALWAYS, as in rbac.sql.
DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['taskforce.resource_acls', 'taskforce.resource_grants',
                             'taskforce.session_participants', 'taskforce.resource_policies',
                             'taskforce.projects', 'taskforce.project_members',
                             'taskforce.team_members']::regclass[] LOOP
        EXECUTE format('CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches()', t);
        EXECUTE format('CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches()', t);
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER invalidate_caches, '
                       'ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate', t);
    END LOOP;
END
$$;

-- What the decision reads, loaded as the extension owner (src/acl/cache.c).
-- A resource of the caller's tenant, else a global one of another tenant.
CREATE FUNCTION taskforce._acl_resource(tenant_id text, resource_id text)
    RETURNS TABLE (tenant_id text, resource_type text, owner_id text, sensitivity text, scope text,
                   project_id text, session_id text, default_permissions text[])
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    (SELECT a.tenant_id, a.resource_type, a.owner_id, a.sensitivity, a.scope, a.project_id,
            a.session_id, a.default_permissions
       FROM taskforce.resource_acls AS a
      WHERE a.tenant_id = _acl_resource.tenant_id AND a.resource_id = _acl_resource.resource_id
     UNION ALL
     SELECT a.tenant_id, a.resource_type, a.owner_id, a.sensitivity, a.scope, a.project_id,
            a.session_id, a.default_permissions
       FROM taskforce.resource_acls AS a
      WHERE a.resource_id = _acl_resource.resource_id AND a.scope = 'global')
    LIMIT 1
$$;
REVOKE ALL ON FUNCTION taskforce._acl_resource(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_resource(text, text) IS
    'internal: the ACL a check in tenant_id applies to resource_id (the tenant''s own, else a global one)';

-- Everything about one identity the decision needs, as (kind, key, value,
-- expires_at, principal) rows: kind role, project, session, or grant (key
-- the resource, value the permissions as a comma list, principal user:id
-- or role:name).
CREATE FUNCTION taskforce._acl_identity(tenant_id text, user_id text, asserted_roles text[])
    RETURNS TABLE (kind text, key text, value text, expires_at timestamptz, principal text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH roles AS (
        SELECT g.role_name, g.expires_at FROM taskforce.role_grants AS g
         WHERE g.tenant_id = _acl_identity.tenant_id AND g.user_id = _acl_identity.user_id
           AND (g.expires_at IS NULL OR g.expires_at > pg_catalog.transaction_timestamp())
        UNION ALL
        SELECT a, NULL FROM pg_catalog.unnest(asserted_roles) AS a WHERE a IS NOT NULL
    )
    SELECT 'role', r.role_name, NULL, r.expires_at, NULL FROM roles AS r
    UNION ALL
    SELECT 'project', p, NULL, NULL, NULL FROM taskforce._user_projects(tenant_id, user_id) AS p
    UNION ALL
    SELECT 'session', s.session_id, NULL, NULL, NULL FROM taskforce.session_participants AS s
     WHERE s.tenant_id = _acl_identity.tenant_id AND s.user_id = _acl_identity.user_id
    UNION ALL
    SELECT 'grant', g.resource_id, pg_catalog.array_to_string(g.permissions, ','), g.expires_at,
           g.principal_type || ':' || g.principal_id
      FROM taskforce.resource_grants AS g
     WHERE g.tenant_id = _acl_identity.tenant_id
       AND (g.principal_type = 'user' AND g.principal_id = _acl_identity.user_id
            OR g.principal_type = 'role' AND g.principal_id IN (SELECT r.role_name FROM roles AS r))
$$;
REVOKE ALL ON FUNCTION taskforce._acl_identity(text, text, text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_identity(text, text, text[]) IS
    'internal: the roles, projects, sessions and resource grants of an identity, for the ACL cache';

CREATE FUNCTION taskforce._acl_policies(tenant_id text)
    RETURNS TABLE (scope text, sensitivity text, policy_id text, requires_audit boolean, allowed_roles text[])
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT p.scope, l, p.policy_id, p.requires_audit, p.allowed_roles
      FROM taskforce.resource_policies AS p, pg_catalog.unnest(p.sensitivity_levels) AS l
     WHERE p.tenant_id = _acl_policies.tenant_id
$$;
REVOKE ALL ON FUNCTION taskforce._acl_policies(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_policies(text) IS
    'internal: a tenant''s policies, one row per scope and sensitivity level, for the ACL cache';

-- Checks (C, src/acl/functions.c).
CREATE FUNCTION taskforce.check_access(resource_id text, permission text) RETURNS boolean
    LANGUAGE C VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'taskforce_check_access';
COMMENT ON FUNCTION taskforce.check_access(text, text) IS
    'whether the current context may use the resource with the permission (read, write, delete, reference, share, admin); false without a context';

-- The decision with its rule, for the context (tenant_id and user_id null)
-- or for a named user of a tenant (roles from the user's role grants).
CREATE FUNCTION taskforce._acl_decide(resource_id text, permission text, tenant_id text, user_id text)
    RETURNS TABLE (allowed boolean, rule text, detail text)
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_acl_decide';
REVOKE ALL ON FUNCTION taskforce._acl_decide(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_decide(text, text, text, text) IS
    'internal: the ACL decision and its rule, for the context or a named user';

-- The tenant and user a named-user check applies to, after checking the caller may.
CREATE FUNCTION taskforce._acl_named_user(user_id text, tenant_id text)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('acl:manage', tenant_id);
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.users AS u WHERE u.tenant_id = tenant AND u.user_id = _acl_named_user.user_id) THEN
        RAISE EXCEPTION 'user "%" does not exist in tenant "%"', user_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN tenant;
END
$$;
REVOKE ALL ON FUNCTION taskforce._acl_named_user(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_named_user(text, text) IS
    'internal: the tenant of a named-user ACL check (needs acl:manage, or an administrator naming the tenant)';

CREATE FUNCTION taskforce.check_access(resource_id text, permission text, user_id text, tenant_id text DEFAULT NULL)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._acl_named_user(user_id, tenant_id);
BEGIN
    RETURN (SELECT d.allowed FROM taskforce._acl_decide(resource_id, permission, tenant, user_id) AS d);
END
$$;
COMMENT ON FUNCTION taskforce.check_access(text, text, text, text) IS
    'whether the named user (roles from its role grants) may use the resource; needs acl:manage, or an administrator without context naming the tenant';

CREATE FUNCTION taskforce.explain_access(resource_id text, permission text, user_id text DEFAULT NULL,
                                         tenant_id text DEFAULT NULL)
    RETURNS TABLE (allowed boolean, rule text, detail text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF user_id IS NULL AND tenant_id IS NULL THEN
        RETURN QUERY SELECT * FROM taskforce._acl_decide(resource_id, permission, NULL, NULL);
    ELSE
        RETURN QUERY SELECT * FROM taskforce._acl_decide(resource_id, permission,
                                                         taskforce._acl_named_user(user_id, tenant_id), user_id);
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce.explain_access(text, text, text, text) IS
    'the decision of check_access and the rule that made it (no_context, other_tenant, global_scope, policy_roles, owner, grant, needs_grant, scope, not_in_scope, not_default); naming a user needs acl:manage';

CREATE FUNCTION taskforce.resource_permissions(resource_id text) RETURNS text[]
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'taskforce_resource_permissions';
COMMENT ON FUNCTION taskforce.resource_permissions(text) IS
    'the permissions the current context holds on the resource, in the order read, write, delete, reference, share, admin';

-- The row policies' check: false for a resource without an ACL.  Audits
-- like check_access; never raises for an unknown resource.
CREATE FUNCTION taskforce._acl_allows(resource_id text, permission text) RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_acl_allows';
COMMENT ON FUNCTION taskforce._acl_allows(text, text) IS
    'internal: the check of protect_table''s row policies (false for a null or unknown resource)';

-- The same decision for many resources at once (accessible_resources).
CREATE FUNCTION taskforce._acl_allows_resource(tenant_id text, resource_id text, resource_type text,
                                               owner_id text, sensitivity text, scope text,
                                               project_id text, session_id text,
                                               default_permissions text[], permission text)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_acl_allows_resource';
REVOKE ALL ON FUNCTION taskforce._acl_allows_resource(text, text, text, text, text, text, text, text, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_allows_resource(text, text, text, text, text, text, text, text, text[], text) IS
    'internal: the decision for an ACL row already read (accessible_resources)';

-- Raises invalid_parameter_value unless value is one of valid.
CREATE FUNCTION taskforce._acl_check_name(what text, value text, valid text[])
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT value = ANY (valid) THEN
        RAISE EXCEPTION 'invalid % "%"', what, value
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Valid values: %s.', array_to_string(valid, ', '));
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce._acl_check_name(text, text, text[]) IS
    'internal: raises invalid_parameter_value (with the valid values) unless value is one of them';

CREATE FUNCTION taskforce._acl_check_names(what text, values_ text[], valid text[])
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v text;
BEGIN
    IF values_ IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH v IN ARRAY values_ LOOP
        PERFORM taskforce._acl_check_name(what, v, valid);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._acl_check_names(text, text[], text[]) IS
    'internal: _acl_check_name for each element';

-- The tenant a call acts on and the acting user: the context's, or for an
-- administrator without context the tenant named and the resource's owner.
-- Returns the ACL row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._acl_lock(tenant_id text, resource_id text)
    RETURNS taskforce.resource_acls
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a taskforce.resource_acls;
BEGIN
    IF resource_id IS NULL THEN
        RAISE EXCEPTION 'resource_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO a FROM taskforce.resource_acls AS x
     WHERE x.tenant_id = _acl_lock.tenant_id AND x.resource_id = _acl_lock.resource_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'resource "%" has no ACL in tenant "%"', resource_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN a;
END
$$;
REVOKE ALL ON FUNCTION taskforce._acl_lock(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_lock(text, text) IS
    'internal: locks and returns a resource ACL, or raises undefined_object';

-- Raises insufficient_privilege unless the caller may administer the
-- resource: an administrator without context, a holder of acl:manage, or
-- a context holding admin on it (its owner, or an admin grant).
CREATE FUNCTION taskforce._acl_require_admin(resource_id text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF taskforce.current_tenant() IS NULL OR taskforce.has_permission('acl:manage') THEN
        RETURN;
    END IF;
    IF NOT taskforce.check_access(resource_id, 'admin') THEN
        RAISE EXCEPTION 'admin permission on resource "%" required', resource_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The owner, a holder of an admin grant or of acl:manage may change an ACL.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._acl_require_admin(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_require_admin(text) IS
    'internal: raises insufficient_privilege unless the caller may administer the resource';

-- Checks a project or session reference of a scope.
CREATE FUNCTION taskforce._acl_check_scope_target(tenant_id text, scope text, project_id text, session_id text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF (scope = 'project') <> (project_id IS NOT NULL) THEN
        RAISE EXCEPTION 'a project_id is required for scope project and only for it'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (scope = 'session') <> (session_id IS NOT NULL) THEN
        RAISE EXCEPTION 'a session_id is required for scope session and only for it'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF project_id IS NOT NULL AND NOT EXISTS (
            SELECT FROM taskforce.projects AS p
             WHERE p.tenant_id = _acl_check_scope_target.tenant_id
               AND p.project_id = _acl_check_scope_target.project_id) THEN
        RAISE EXCEPTION 'project "%" does not exist in tenant "%"', project_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._acl_check_scope_target(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_check_scope_target(text, text, text, text) IS
    'internal: a project scope names an existing project, a session scope a session';

CREATE FUNCTION taskforce.create_acl(
    resource_id text,
    resource_type text,
    sensitivity text DEFAULT 'internal',
    scope text DEFAULT 'tenant',
    project_id text DEFAULT NULL,
    session_id text DEFAULT NULL,
    default_permissions text[] DEFAULT '{read}',
    metadata jsonb DEFAULT '{}',
    owner_id text DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.resource_acls
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize(NULL, tenant_id);
    context_user text := taskforce.current_user_id();
    owner text := coalesce(owner_id, context_user);
    a taskforce.resource_acls;
BEGIN
    IF resource_id IS NULL OR resource_type IS NULL THEN
        RAISE EXCEPTION 'resource_id and resource_type must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._acl_check_name('sensitivity', sensitivity,
                                      '{public,internal,confidential,restricted}');
    PERFORM taskforce._acl_check_name('scope', scope, '{global,tenant,project,session,private}');
    PERFORM taskforce._acl_check_names('default permission', default_permissions,
                                       '{read,write,delete,reference}');
    IF metadata IS NULL OR jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF owner IS NULL THEN
        RAISE EXCEPTION 'owner_id must be given when there is no context'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A context creates resources it owns; naming another owner is ACL
    -- administration.  Global resources are readable by every tenant:
    -- only an administrator without a context makes them.
    IF context_user IS NOT NULL AND owner <> context_user THEN
        PERFORM taskforce.require_permission('acl:manage');
    END IF;
    IF scope = 'global' AND context_user IS NOT NULL THEN
        RAISE EXCEPTION 'only an administrator without a context may create a global resource'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.users AS u WHERE u.tenant_id = tenant AND u.user_id = owner) THEN
        RAISE EXCEPTION 'user "%" does not exist in tenant "%"', owner, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM taskforce._acl_check_scope_target(tenant, scope, project_id, session_id);
    BEGIN
        INSERT INTO taskforce.resource_acls (tenant_id, resource_id, resource_type, owner_id, sensitivity,
                                             scope, project_id, session_id, default_permissions, metadata)
        VALUES (tenant, resource_id, resource_type, owner, sensitivity, scope, project_id, session_id,
                ARRAY(SELECT DISTINCT p FROM unnest(default_permissions) AS p ORDER BY 1), metadata)
        RETURNING * INTO a;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'resource "%" already has an ACL', resource_id
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Resource ids are unique in a tenant, and global ones across tenants.';
        WHEN check_violation THEN
            RAISE EXCEPTION 'invalid resource: %', SQLERRM
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'resource_id has no spaces (at most 256 bytes); resource_type is lower case, like document or knowledge_base.';
    END;
    RETURN a;
END
$$;
COMMENT ON FUNCTION taskforce.create_acl(text, text, text, text, text, text, text[], jsonb, text, text) IS
    'puts a resource under an ACL owned by the caller (another owner needs acl:manage; global scope an administrator without context)';

CREATE FUNCTION taskforce.update_acl(
    resource_id text,
    sensitivity text DEFAULT NULL,
    scope text DEFAULT NULL,
    project_id text DEFAULT NULL,
    session_id text DEFAULT NULL,
    default_permissions text[] DEFAULT NULL,
    metadata jsonb DEFAULT NULL,
    owner_id text DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.resource_acls
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize(NULL, tenant_id);
    a taskforce.resource_acls := taskforce._acl_lock(tenant, resource_id);
    new_scope text := coalesce(scope, a.scope);
BEGIN
    PERFORM taskforce._acl_require_admin(resource_id);
    IF sensitivity IS NOT NULL THEN
        PERFORM taskforce._acl_check_name('sensitivity', sensitivity,
                                          '{public,internal,confidential,restricted}');
    END IF;
    IF scope IS NOT NULL THEN
        PERFORM taskforce._acl_check_name('scope', scope, '{global,tenant,project,session,private}');
        IF (scope = 'global') <> (a.scope = 'global') AND taskforce.current_tenant() IS NOT NULL THEN
            RAISE EXCEPTION 'only an administrator without a context may make a resource global or not'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    IF default_permissions IS NOT NULL THEN
        PERFORM taskforce._acl_check_names('default permission', default_permissions,
                                           '{read,write,delete,reference}');
    END IF;
    IF metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF owner_id IS NOT NULL AND owner_id <> a.owner_id THEN
        IF NOT EXISTS (SELECT FROM taskforce.users AS u WHERE u.tenant_id = tenant AND u.user_id = owner_id) THEN
            RAISE EXCEPTION 'user "%" does not exist in tenant "%"', owner_id, tenant
                USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
    -- A scope change takes its target from the arguments; keeping the scope
    -- keeps its target unless a new one is given.
    PERFORM taskforce._acl_check_scope_target(
        tenant, new_scope,
        CASE WHEN new_scope = 'project' THEN coalesce(project_id, CASE WHEN scope IS NULL THEN a.project_id END) END,
        CASE WHEN new_scope = 'session' THEN coalesce(session_id, CASE WHEN scope IS NULL THEN a.session_id END) END);
    UPDATE taskforce.resource_acls AS x
       SET sensitivity = coalesce(update_acl.sensitivity, x.sensitivity),
           scope = new_scope,
           project_id = CASE WHEN new_scope = 'project' THEN coalesce(update_acl.project_id, x.project_id) END,
           session_id = CASE WHEN new_scope = 'session' THEN coalesce(update_acl.session_id, x.session_id) END,
           default_permissions = coalesce(ARRAY(SELECT DISTINCT p FROM unnest(update_acl.default_permissions) AS p ORDER BY 1),
                                          x.default_permissions),
           metadata = coalesce(update_acl.metadata, x.metadata),
           owner_id = coalesce(update_acl.owner_id, x.owner_id),
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.resource_id = update_acl.resource_id
    RETURNING * INTO a;
    RETURN a;
END
$$;
COMMENT ON FUNCTION taskforce.update_acl(text, text, text, text, text, text[], jsonb, text, text) IS
    'changes a resource''s sensitivity, scope, default permissions, metadata or owner (null leaves a field as it is); needs admin on the resource';

CREATE FUNCTION taskforce.drop_acl(resource_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize(NULL, tenant_id);
    a taskforce.resource_acls := taskforce._acl_lock(tenant, resource_id);
BEGIN
    PERFORM taskforce._acl_require_admin(resource_id);
    DELETE FROM taskforce.resource_acls AS x
     WHERE x.tenant_id = a.tenant_id AND x.resource_id = a.resource_id;
END
$$;
COMMENT ON FUNCTION taskforce.drop_acl(text, text) IS
    'removes a resource''s ACL and its grants; needs admin on the resource';

-- Grant delegation: the owner and holders of share or admin may grant, never
-- a permission they do not hold, never over a grant they could not have
-- made, and (when their right comes from grants) never beyond the last
-- moment they may still share.
CREATE FUNCTION taskforce.grant_access(
    resource_id text,
    principal_type text,
    principal_id text,
    permissions text[],
    expires_at timestamptz DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.resource_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize(NULL, tenant_id);
    a taskforce.resource_acls := taskforce._acl_lock(tenant, resource_id);
    grantor text := coalesce(taskforce.current_user_id(), session_user);
    unlimited boolean := taskforce.current_tenant() IS NULL OR taskforce.has_permission('acl:manage');
    held text[];
    wanted text[];
    existing taskforce.resource_grants;
    share_until timestamptz;
    g taskforce.resource_grants;
BEGIN
    PERFORM taskforce._acl_check_name('principal type', principal_type, '{user,role}');
    PERFORM taskforce._acl_check_names('permission', permissions,
                                       '{read,write,delete,reference,share,admin}');
    IF principal_id IS NULL THEN
        RAISE EXCEPTION 'principal_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(permissions) = 0 THEN
        RAISE EXCEPTION 'a grant needs at least one permission'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid values: read, write, delete, reference, share, admin. To take a grant away, use revoke_access().';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= pg_catalog.now() THEN
        RAISE EXCEPTION 'expires_at must be in the future' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF principal_type = 'user' AND NOT EXISTS (
            SELECT FROM taskforce.users AS u WHERE u.tenant_id = tenant AND u.user_id = principal_id) THEN
        RAISE EXCEPTION 'user "%" does not exist in tenant "%"', principal_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    IF principal_type = 'role' AND NOT EXISTS (
            SELECT FROM taskforce.system_roles AS s WHERE s.role_name = principal_id
            UNION ALL
            SELECT FROM taskforce.roles AS r WHERE r.tenant_id = tenant AND r.role_name = principal_id) THEN
        RAISE EXCEPTION 'role "%" does not exist in tenant "%"', principal_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    wanted := ARRAY(SELECT DISTINCT p FROM unnest(permissions) AS p ORDER BY 1);
    SELECT * INTO existing FROM taskforce.resource_grants AS x
     WHERE x.tenant_id = tenant AND x.resource_id = a.resource_id
       AND x.principal_type = grant_access.principal_type AND x.principal_id = grant_access.principal_id;
    IF NOT unlimited THEN
        held := taskforce.resource_permissions(a.resource_id);
        IF NOT held && '{share,admin}' THEN
            RAISE EXCEPTION 'share permission on resource "%" required to grant', a.resource_id
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'The owner and holders of share or admin may grant.';
        END IF;
        IF NOT wanted <@ held OR existing.permissions IS NOT NULL AND NOT existing.permissions <@ held THEN
            RAISE EXCEPTION 'cannot grant permissions on resource "%" that you do not hold', a.resource_id
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = format('You hold %s.', array_to_string(held, ', '));
        END IF;
        -- Unless the grantor owns it, its right to share ends with its grants.
        IF a.owner_id <> taskforce.current_user_id() THEN
            share_until := taskforce._acl_share_until(a.tenant_id, a.resource_id);
            IF share_until IS NOT NULL AND (expires_at IS NULL OR expires_at > share_until) THEN
                RAISE EXCEPTION 'a grant cannot outlive your own right to share resource "%"', a.resource_id
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = format('Your right to share ends at %s.', share_until),
                          HINT = 'Give an expires_at no later than that.';
            END IF;
        END IF;
    END IF;
    INSERT INTO taskforce.resource_grants AS x (tenant_id, resource_id, principal_type, principal_id,
                                                permissions, granted_by, expires_at)
    VALUES (tenant, a.resource_id, principal_type, principal_id, wanted, grantor, expires_at)
    ON CONFLICT ON CONSTRAINT resource_grants_pkey DO UPDATE
       SET permissions = EXCLUDED.permissions, granted_by = EXCLUDED.granted_by,
           granted_at = pg_catalog.now(), expires_at = EXCLUDED.expires_at
    RETURNING * INTO g;
    RETURN g;
END
$$;
COMMENT ON FUNCTION taskforce.grant_access(text, text, text, text[], timestamptz, text) IS
    'grants (or replaces the grant of) permissions on a resource to a user or role, optionally until expires_at; the owner and holders of share or admin may, never more than they hold';

-- When the context's right to share a resource ends: the latest expiry of
-- its live grants holding share or admin; null if one never expires.
CREATE FUNCTION taskforce._acl_share_until(tenant_id text, resource_id text)
    RETURNS timestamptz
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN bool_or(i.expires_at IS NULL) THEN NULL ELSE max(i.expires_at) END
      FROM taskforce._acl_identity(tenant_id, taskforce.current_user_id(), taskforce.current_roles()) AS i
     WHERE i.kind = 'grant' AND i.key = _acl_share_until.resource_id
       AND string_to_array(i.value, ',') && '{share,admin}'
       AND (i.expires_at IS NULL OR i.expires_at > pg_catalog.transaction_timestamp())
$$;
REVOKE ALL ON FUNCTION taskforce._acl_share_until(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_share_until(text, text) IS
    'internal: when the context''s right to share a resource through grants ends (null: never)';

CREATE FUNCTION taskforce.revoke_access(
    resource_id text,
    principal_type text,
    principal_id text,
    tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize(NULL, tenant_id);
    a taskforce.resource_acls := taskforce._acl_lock(tenant, resource_id);
    existing taskforce.resource_grants;
    held text[];
BEGIN
    PERFORM taskforce._acl_check_name('principal type', principal_type, '{user,role}');
    SELECT * INTO existing FROM taskforce.resource_grants AS x
     WHERE x.tenant_id = tenant AND x.resource_id = a.resource_id
       AND x.principal_type = revoke_access.principal_type AND x.principal_id = revoke_access.principal_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% "%" holds no grant on resource "%"', principal_type, principal_id, a.resource_id
            USING ERRCODE = 'undefined_object';
    END IF;
    -- Administrators of the resource revoke anything; a holder of share
    -- only what it could have granted.
    IF taskforce.current_tenant() IS NOT NULL AND NOT taskforce.has_permission('acl:manage')
       AND NOT taskforce.check_access(a.resource_id, 'admin') THEN
        held := taskforce.resource_permissions(a.resource_id);
        IF NOT held && '{share}' OR NOT existing.permissions <@ held THEN
            RAISE EXCEPTION 'cannot revoke a grant on resource "%" that you could not have made', a.resource_id
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = format('You hold %s.', array_to_string(held, ', '));
        END IF;
    END IF;
    DELETE FROM taskforce.resource_grants AS x
     WHERE x.tenant_id = existing.tenant_id AND x.resource_id = existing.resource_id
       AND x.principal_type = existing.principal_type AND x.principal_id = existing.principal_id;
END
$$;
COMMENT ON FUNCTION taskforce.revoke_access(text, text, text, text) IS
    'takes a grant away; the owner and admin holders may revoke any, share holders what they could have granted';

CREATE FUNCTION taskforce.add_session_participant(session_id text, user_id text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.session_participants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('session:create', tenant_id);
    s taskforce.session_participants;
BEGIN
    IF session_id IS NULL OR user_id IS NULL THEN
        RAISE EXCEPTION 'session_id and user_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.users AS u WHERE u.tenant_id = tenant AND u.user_id = add_session_participant.user_id) THEN
        RAISE EXCEPTION 'user "%" does not exist in tenant "%"', user_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    BEGIN
        INSERT INTO taskforce.session_participants (tenant_id, session_id, user_id, added_by)
        VALUES (tenant, session_id, user_id, coalesce(taskforce.current_user_id(), session_user))
        RETURNING * INTO s;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'user "%" already takes part in session "%"', user_id, session_id
                USING ERRCODE = 'duplicate_object';
        WHEN check_violation THEN
            RAISE EXCEPTION 'invalid session id "%"', session_id
                USING ERRCODE = 'invalid_parameter_value', HINT = 'A session id has no spaces (at most 256 bytes).';
    END;
    RETURN s;
END
$$;
COMMENT ON FUNCTION taskforce.add_session_participant(text, text, text) IS
    'records that a user takes part in a session (the audience of its SESSION-scope resources); needs session:create';

CREATE FUNCTION taskforce.remove_session_participant(session_id text, user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('session:delete', tenant_id);
BEGIN
    DELETE FROM taskforce.session_participants AS s
     WHERE s.tenant_id = tenant AND s.session_id = remove_session_participant.session_id
       AND s.user_id = remove_session_participant.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" does not take part in session "%"', user_id, session_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce.remove_session_participant(text, text, text) IS
    'removes a user from a session; needs session:delete';

-- "What may I access": candidates found through indexes (owned, granted,
-- by scope, by project, by session, global), each decided by the same C
-- decision as check_access.  Never truncated.
CREATE FUNCTION taskforce.accessible_resources(permission text, of_type text DEFAULT NULL)
    RETURNS TABLE (tenant_id text, resource_id text, resource_type text, owner_id text,
                   sensitivity text, scope text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    me text := taskforce.current_user_id();
BEGIN
    PERFORM taskforce._acl_check_name('permission', permission, '{read,write,delete,reference,share,admin}');
    IF tenant IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH ident AS (
        SELECT i.kind, i.key FROM taskforce._acl_identity(tenant, me, taskforce.current_roles()) AS i
    ), candidates AS (
        SELECT a.* FROM taskforce.resource_acls AS a
         WHERE a.tenant_id = tenant AND a.owner_id = me
        UNION
        SELECT a.* FROM taskforce.resource_acls AS a
         WHERE a.tenant_id = tenant
           AND a.resource_id IN (SELECT i.key FROM ident AS i WHERE i.kind = 'grant')
        UNION
        SELECT a.* FROM taskforce.resource_acls AS a
         WHERE a.tenant_id = tenant AND a.scope IN ('tenant', 'global')
           AND a.sensitivity IN ('public', 'internal')
        UNION
        SELECT a.* FROM taskforce.resource_acls AS a
         WHERE a.tenant_id = tenant
           AND a.project_id IN (SELECT i.key FROM ident AS i WHERE i.kind = 'project')
        UNION
        SELECT a.* FROM taskforce.resource_acls AS a
         WHERE a.tenant_id = tenant
           AND a.session_id IN (SELECT i.key FROM ident AS i WHERE i.kind = 'session')
        UNION
        SELECT a.* FROM taskforce.resource_acls AS a
         WHERE a.scope = 'global' AND a.tenant_id <> tenant
    )
    SELECT c.tenant_id, c.resource_id, c.resource_type, c.owner_id, c.sensitivity, c.scope
      FROM candidates AS c
     WHERE (of_type IS NULL OR c.resource_type = of_type)
       AND taskforce._acl_allows_resource(c.tenant_id, c.resource_id, c.resource_type, c.owner_id,
                                          c.sensitivity, c.scope, c.project_id, c.session_id,
                                          c.default_permissions, accessible_resources.permission);
END
$$;
COMMENT ON FUNCTION taskforce.accessible_resources(text, text) IS
    'every resource the current context may use with the permission (optionally of one type): a plain relation for joins, never truncated';

-- Putting a table's rows under their resources' ACLs.
CREATE TABLE taskforce.protected_table_columns (
    relid           oid  NOT NULL,
    resource_column name NOT NULL,
    CONSTRAINT protected_table_columns_pkey PRIMARY KEY (relid)
);
COMMENT ON TABLE taskforce.protected_table_columns IS
    'internal: the resource column of each table under protect_table (read through protected_tables)';

CREATE VIEW taskforce.protected_tables AS
    SELECT p.relid::regclass AS table_name, p.resource_column
      FROM taskforce.protected_table_columns AS p
     WHERE EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.oid = p.relid);
COMMENT ON VIEW taskforce.protected_tables IS
    'tables whose rows are shown and changed only as their resources'' ACLs allow';

CREATE FUNCTION taskforce.protect_table(tbl regclass, resource_column name DEFAULT 'resource_id')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    column_type regtype;
BEGIN
    IF tbl IS NULL OR resource_column IS NULL THEN
        RAISE EXCEPTION 'tbl and resource_column must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.atttypid INTO column_type FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attname = resource_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table "%" does not exist', resource_column, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF column_type NOT IN ('text'::regtype, 'character varying'::regtype) THEN
        RAISE EXCEPTION 'resource column "%" of table "%" has type %', resource_column, tbl, column_type
            USING ERRCODE = 'datatype_mismatch', HINT = 'A resource column must be of type text or varchar.';
    END IF;
    IF NOT taskforce._has_tenant_policy(tbl) THEN
        RAISE EXCEPTION 'table "%" is not under tenant isolation', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call taskforce.enable_tenant_isolation() on it first: ACL policies narrow the tenant policy.';
    END IF;
    IF EXISTS (SELECT FROM taskforce.protected_table_columns AS p WHERE p.relid = tbl) THEN
        RAISE EXCEPTION 'table "%" is already protected', tbl USING ERRCODE = 'duplicate_object';
    END IF;
    -- Restrictive: a row must pass both the tenant policy and its ACL.
    EXECUTE format('CREATE POLICY taskforce_acl_select ON %s AS RESTRICTIVE FOR SELECT '
                   'USING (taskforce._acl_allows(%I, ''read''))', tbl, resource_column);
    EXECUTE format('CREATE POLICY taskforce_acl_insert ON %s AS RESTRICTIVE FOR INSERT '
                   'WITH CHECK (taskforce._acl_allows(%I, ''write''))', tbl, resource_column);
    EXECUTE format('CREATE POLICY taskforce_acl_update ON %s AS RESTRICTIVE FOR UPDATE '
                   'USING (taskforce._acl_allows(%I, ''write'')) '
                   'WITH CHECK (taskforce._acl_allows(%I, ''write''))', tbl, resource_column, resource_column);
    EXECUTE format('CREATE POLICY taskforce_acl_delete ON %s AS RESTRICTIVE FOR DELETE '
                   'USING (taskforce._acl_allows(%I, ''delete''))', tbl, resource_column);
    INSERT INTO taskforce.protected_table_columns (relid, resource_column) VALUES (tbl, resource_column);
END
$$;
COMMENT ON FUNCTION taskforce.protect_table(regclass, name) IS
    'adds row policies showing and changing a row only as its resource''s ACL allows (read; insert and update: write; delete); the table must be under tenant isolation';

CREATE FUNCTION taskforce.unprotect_table(tbl regclass)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    DELETE FROM taskforce.protected_table_columns AS p WHERE p.relid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not protected', tbl USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP POLICY taskforce_acl_select ON %s', tbl);
    EXECUTE format('DROP POLICY taskforce_acl_insert ON %s', tbl);
    EXECUTE format('DROP POLICY taskforce_acl_update ON %s', tbl);
    EXECUTE format('DROP POLICY taskforce_acl_delete ON %s', tbl);
END
$$;
COMMENT ON FUNCTION taskforce.unprotect_table(regclass) IS
    'removes protect_table''s row policies (tenant isolation stays)';

-- Retention and access policies (seed 001 §5.3).
CREATE FUNCTION taskforce._check_policy_overlap(tenant_id text, policy_id text, scope text, levels text[])
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    other text;
BEGIN
    -- One policy per scope and level: lock the tenant's policies first.
    PERFORM FROM taskforce.resource_policies AS p WHERE p.tenant_id = _check_policy_overlap.tenant_id FOR UPDATE;
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('taskforce.resource_policies'),
                                             pg_catalog.hashtext(tenant_id));
    SELECT p.policy_id INTO other FROM taskforce.resource_policies AS p
     WHERE p.tenant_id = _check_policy_overlap.tenant_id AND p.policy_id <> _check_policy_overlap.policy_id
       AND p.scope = _check_policy_overlap.scope AND p.sensitivity_levels && levels
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'policy "%" already covers scope % at one of these sensitivity levels', other, scope
            USING ERRCODE = 'duplicate_object',
                  HINT = 'At most one policy applies to a scope and sensitivity level.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_policy_overlap(text, text, text, text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_policy_overlap(text, text, text, text[]) IS
    'internal: raises duplicate_object if another policy covers the scope at one of the levels';

CREATE FUNCTION taskforce.create_resource_policy(
    policy_id text,
    name text,
    scope text,
    sensitivity_levels text[],
    max_retention_days integer DEFAULT NULL,
    requires_audit boolean DEFAULT false,
    allowed_roles text[] DEFAULT NULL,
    description text DEFAULT '',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.resource_policies
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('policy:manage', tenant_id);
    p taskforce.resource_policies;
BEGIN
    IF policy_id IS NULL OR name IS NULL OR requires_audit IS NULL OR description IS NULL THEN
        RAISE EXCEPTION 'policy_id, name, requires_audit and description must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._acl_check_name('scope', scope, '{global,tenant,project,session,private}');
    PERFORM taskforce._acl_check_names('sensitivity', sensitivity_levels,
                                       '{public,internal,confidential,restricted}');
    IF cardinality(sensitivity_levels) = 0 THEN
        RAISE EXCEPTION 'a policy covers at least one sensitivity level'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid values: public, internal, confidential, restricted.';
    END IF;
    IF max_retention_days IS NOT NULL AND max_retention_days <= 0 THEN
        RAISE EXCEPTION 'max_retention_days must be positive (null: manual deletion only)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_position(allowed_roles, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'allowed_roles must not contain null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._check_policy_overlap(tenant, policy_id, scope, sensitivity_levels);
    BEGIN
        INSERT INTO taskforce.resource_policies (tenant_id, policy_id, name, description, scope,
                                                 sensitivity_levels, max_retention_days, requires_audit,
                                                 allowed_roles)
        VALUES (tenant, policy_id, name, description, scope,
                ARRAY(SELECT l FROM unnest(sensitivity_levels) AS l
                       GROUP BY l ORDER BY taskforce.sensitivity_rank(l)),
                max_retention_days, requires_audit, allowed_roles)
        RETURNING * INTO p;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'policy "%" already exists', policy_id USING ERRCODE = 'duplicate_object';
        WHEN check_violation THEN
            RAISE EXCEPTION 'invalid policy: %', SQLERRM USING ERRCODE = 'invalid_parameter_value';
    END;
    RETURN p;
END
$$;
COMMENT ON FUNCTION taskforce.create_resource_policy(text, text, text, text[], integer, boolean, text[], text, text) IS
    'adds a retention and access policy for a scope and sensitivity levels; needs policy:manage';

CREATE FUNCTION taskforce.update_resource_policy(
    policy_id text,
    max_retention_days integer DEFAULT NULL,
    requires_audit boolean DEFAULT NULL,
    allowed_roles text[] DEFAULT NULL,
    description text DEFAULT NULL,
    clear_max_retention boolean DEFAULT false,
    clear_allowed_roles boolean DEFAULT false,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.resource_policies
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('policy:manage', tenant_id);
    p taskforce.resource_policies;
BEGIN
    IF max_retention_days IS NOT NULL AND max_retention_days <= 0 THEN
        RAISE EXCEPTION 'max_retention_days must be positive (null: manual deletion only)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_position(allowed_roles, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'allowed_roles must not contain null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE taskforce.resource_policies AS x
       SET max_retention_days = CASE WHEN clear_max_retention THEN NULL
                                     ELSE coalesce(update_resource_policy.max_retention_days, x.max_retention_days) END,
           requires_audit = coalesce(update_resource_policy.requires_audit, x.requires_audit),
           allowed_roles = CASE WHEN clear_allowed_roles THEN NULL
                                ELSE coalesce(update_resource_policy.allowed_roles, x.allowed_roles) END,
           description = coalesce(update_resource_policy.description, x.description),
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.policy_id = update_resource_policy.policy_id
    RETURNING * INTO p;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist in tenant "%"', policy_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN p;
END
$$;
COMMENT ON FUNCTION taskforce.update_resource_policy(text, integer, boolean, text[], text, boolean, boolean, text) IS
    'changes a policy''s retention, audit requirement, allowed roles or description (null leaves a field; clear_* sets it to null); needs policy:manage';

CREATE FUNCTION taskforce.drop_resource_policy(policy_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('policy:manage', tenant_id);
BEGIN
    DELETE FROM taskforce.resource_policies AS x
     WHERE x.tenant_id = tenant AND x.policy_id = drop_resource_policy.policy_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist in tenant "%"', policy_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce.drop_resource_policy(text, text) IS
    'removes a retention and access policy; needs policy:manage';
