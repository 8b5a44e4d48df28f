-- src/sql/upgrade/0.1.0--0.2.0.sql: the changes 0.2.0 makes to objects of
-- 0.1.0.  The upgrade script is this file followed by the files new in
-- 0.2.0 and roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.2.0'" to load this file. \quit

-- A context may be limited by permission scopes (API keys).
DROP FUNCTION taskforce._establish_context(text, text, text[], text, text, interval);
CREATE FUNCTION taskforce._establish_context(
    tenant_id text, user_id text, roles text[], auth_method text,
    scope text, ttl interval, permission_scopes text[] DEFAULT NULL) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'taskforce_establish_context';
REVOKE ALL ON FUNCTION taskforce._establish_context(text, text, text[], text, text, interval, text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._establish_context(text, text, text[], text, text, interval, text[]) IS
    'internal: installs a verified identity as the current context';

DROP FUNCTION taskforce.current_context();
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

-- The isolation report leaves out taskforce's own tables.
CREATE OR REPLACE FUNCTION taskforce.isolation_report(tenant_column name DEFAULT 'tenant_id')
    RETURNS TABLE (table_name regclass, column_name name, problem text, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH tables AS (
        SELECT c.oid AS relid, c.relrowsecurity, c.relforcerowsecurity,
               taskforce._isolation_column(c.oid) AS isolated_on
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
           -- taskforce's own tables are not the caller's to fix: the ones
           -- with a tenant_id that are not isolated are global on purpose.
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                            JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
                           WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                             AND d.objid = c.oid AND d.deptype = 'e'
                             AND e.extname = 'taskforce')
    ),
    findings AS (
        SELECT t.relid, tenant_column AS col, 'not isolated' AS problem,
               'Call taskforce.enable_tenant_isolation() on it.' AS detail
          FROM tables AS t
         WHERE t.isolated_on IS NULL
           AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                        WHERE a.attrelid = t.relid AND a.attname = tenant_column
                          AND a.attnum > 0 AND NOT a.attisdropped)
        UNION ALL
        SELECT t.relid, t.isolated_on, 'isolation incomplete',
               concat_ws(' ',
                   CASE WHEN NOT t.relrowsecurity THEN 'Row-level security is disabled.' END,
                   CASE WHEN NOT t.relforcerowsecurity THEN 'Row-level security is not forced.' END,
                   CASE WHEN NOT taskforce._has_tenant_policy(t.relid)
                        THEN 'The tenant policy is missing.' END,
                   'Call taskforce.enable_tenant_isolation() on it.')
          FROM tables AS t
         WHERE t.isolated_on IS NOT NULL
           AND (NOT t.relrowsecurity OR NOT t.relforcerowsecurity
                OR NOT taskforce._has_tenant_policy(t.relid))
        UNION ALL
        SELECT t.relid, t.isolated_on, 'foreign key does not include tenant column',
               format('Constraint %I references %s.', k.conname, k.confrelid::regclass)
          FROM tables AS t
          JOIN pg_catalog.pg_constraint AS k ON k.conrelid = t.relid AND k.contype = 'f'
         WHERE t.isolated_on IS NOT NULL
           AND taskforce._isolation_column(k.confrelid) IS NOT NULL
           AND NOT (SELECT a.attnum FROM pg_catalog.pg_attribute AS a
                     WHERE a.attrelid = t.relid AND a.attname = t.isolated_on) = ANY (k.conkey)
        UNION ALL
        SELECT t.relid, t.isolated_on, 'index does not lead with tenant column',
               format('Index %s.', i.indexrelid::regclass)
          FROM tables AS t
          JOIN pg_catalog.pg_index AS i ON i.indrelid = t.relid
         WHERE t.isolated_on IS NOT NULL
           AND i.indkey[0] IS DISTINCT FROM
               (SELECT a.attnum FROM pg_catalog.pg_attribute AS a
                 WHERE a.attrelid = t.relid AND a.attname = t.isolated_on)
    )
    SELECT f.relid::regclass, f.col, f.problem, f.detail
      FROM findings AS f
     ORDER BY f.relid::regclass::text, f.problem, f.detail
$$;
COMMENT ON FUNCTION taskforce.isolation_report(name) IS
    'tables with a tenant column but no isolation, and isolated tables whose indexes, or foreign keys to other isolated tables, leave the tenant column out';

-- roles.sql defines setup_roles again, granting the new objects.
DROP FUNCTION taskforce.setup_roles(name, name, name, name);
-- src/sql/identity.sql: users, the permission catalog, system and custom
-- roles, and role grants.

-- The permission catalog: resource:action strings.  The system ones are
-- seed 001's list; a deployment may register more.
CREATE TABLE taskforce.permissions (
    permission  text    NOT NULL,
    description text    NOT NULL,
    is_system   boolean NOT NULL DEFAULT false,
    CONSTRAINT permissions_pkey PRIMARY KEY (permission),
    CONSTRAINT permissions_format
        CHECK (permission ~ '^[a-z][a-z0-9_]{0,62}:[a-z][a-z0-9_]{0,62}$')
);
COMMENT ON TABLE taskforce.permissions IS
    'the permission catalog: every resource:action a role may grant';
INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('agent:create',   'create agents', true),
    ('agent:read',     'read agents', true),
    ('agent:update',   'update agents', true),
    ('agent:delete',   'delete agents', true),
    ('agent:execute',  'execute agents', true),
    ('session:create', 'create sessions', true),
    ('session:read',   'read sessions', true),
    ('session:delete', 'delete sessions', true),
    ('tool:execute',   'execute tools', true),
    ('tool:read',      'read tools', true),
    ('memory:read',    'read memory', true),
    ('memory:write',   'write memory', true),
    ('memory:delete',  'delete memory', true),
    ('tenant:manage',  'manage the tenant', true),
    ('user:manage',    'manage users', true),
    ('role:manage',    'manage roles and role grants', true),
    ('policy:manage',  'manage policies', true),
    ('audit:read',     'read the audit trail', true),
    ('system:config',  'change system configuration', true),
    ('system:metrics', 'read system metrics', true);
SELECT pg_catalog.pg_extension_config_dump('taskforce.permissions', 'WHERE NOT is_system');

-- The five system roles, exactly seed 001 Appendix A.  Not editable.
CREATE TABLE taskforce.system_roles (
    role_name   text   NOT NULL,
    description text   NOT NULL,
    permissions text[] NOT NULL,
    CONSTRAINT system_roles_pkey PRIMARY KEY (role_name)
);
COMMENT ON TABLE taskforce.system_roles IS
    'the five built-in roles and the permission patterns each grants (seed 001 Appendix A)';
INSERT INTO taskforce.system_roles (role_name, description, permissions) VALUES
    ('admin', 'full tenant administration', ARRAY['*']),
    ('agent_designer', 'create and manage agents',
     ARRAY['agent:create', 'agent:read', 'agent:update', 'agent:delete',
           'session:read', 'tool:read']),
    ('operator', 'execute agents and manage sessions',
     ARRAY['agent:read', 'agent:execute', 'session:create', 'session:read',
           'session:delete', 'tool:execute', 'tool:read', 'memory:read',
           'memory:write']),
    ('auditor', 'compliance and audit access',
     ARRAY['agent:read', 'session:read', 'tool:read', 'memory:read', 'audit:read']),
    ('viewer', 'basic read-only access',
     ARRAY['agent:read', 'session:read', 'tool:read']);

CREATE TABLE taskforce.users (
    tenant_id      text        NOT NULL,
    user_id        text        NOT NULL,
    username       text        NOT NULL,
    email          text,
    kind           text        NOT NULL DEFAULT 'human',
    status         text        NOT NULL DEFAULT 'active',
    attributes     jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_login_at  timestamptz,
    deactivated_at timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT users_username_key UNIQUE (tenant_id, username),
    CONSTRAINT users_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT users_user_id_format
        CHECK (user_id ~ '^[^[:space:][:cntrl:]]+$' AND pg_catalog.octet_length(user_id) <= 256),
    CONSTRAINT users_username_format CHECK (username ~ '^[^[:space:][:cntrl:]]{1,128}$'),
    CONSTRAINT users_email_format CHECK (email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'),
    CONSTRAINT users_kind_known CHECK (kind IN ('human', 'service')),
    CONSTRAINT users_status_known CHECK (status IN ('active', 'deactivated')),
    CONSTRAINT users_attributes_object CHECK (jsonb_typeof(attributes) = 'object')
);
CREATE UNIQUE INDEX users_email_key ON taskforce.users (tenant_id, lower(email));
COMMENT ON TABLE taskforce.users IS
    'users and service accounts of each tenant';
SELECT pg_catalog.pg_extension_config_dump('taskforce.users', '');

CREATE TABLE taskforce.roles (
    tenant_id   text        NOT NULL,
    role_name   text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    permissions text[]      NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT roles_pkey PRIMARY KEY (tenant_id, role_name),
    CONSTRAINT roles_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT roles_name_format CHECK (role_name ~ '^[a-z][a-z0-9_.:-]{0,62}$'),
    CONSTRAINT roles_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON TABLE taskforce.roles IS
    'custom roles of each tenant and the permission patterns each grants';
SELECT pg_catalog.pg_extension_config_dump('taskforce.roles', '');

CREATE TABLE taskforce.role_grants (
    tenant_id  text        NOT NULL,
    user_id    text        NOT NULL,
    role_name  text        NOT NULL,
    granted_by text        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz,
    CONSTRAINT role_grants_pkey PRIMARY KEY (tenant_id, user_id, role_name),
    CONSTRAINT role_grants_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE
);
COMMENT ON TABLE taskforce.role_grants IS
    'roles granted to users, optionally until expires_at';
SELECT pg_catalog.pg_extension_config_dump('taskforce.role_grants', '');

-- Raises invalid_parameter_value unless every pattern is a valid permission
-- pattern: a catalog permission, resource:*, *:action or *.
CREATE FUNCTION taskforce._validate_permission_patterns(patterns text[])
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    p text;
BEGIN
    IF patterns IS NULL THEN
        RAISE EXCEPTION 'permissions must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH p IN ARRAY patterns LOOP
        IF p IS NULL OR NOT taskforce.is_permission_pattern(p) THEN
            RAISE EXCEPTION 'invalid permission pattern "%"', p
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use resource:action, resource:*, *:action or *.';
        END IF;
        IF p !~ '\*' AND NOT EXISTS (SELECT FROM taskforce.permissions AS c WHERE c.permission = p) THEN
            RAISE EXCEPTION 'unknown permission "%"', p
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Register it first with taskforce.register_permission().';
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION taskforce._validate_permission_patterns(text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._validate_permission_patterns(text[]) IS
    'internal: raises invalid_parameter_value for a malformed or unknown permission pattern';

-- Decides which tenant a management call acts on, and whether it may.
-- With a context: the context's tenant, and the context's user must hold
-- the permission (any user will do when permission is null); naming
-- another tenant is refused.  Without one: only an administrator (a role
-- that may run act_as) may call, naming the tenant.
CREATE FUNCTION taskforce._authorize(permission text, tenant_id text)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    context_tenant text := taskforce.current_tenant();
BEGIN
    IF context_tenant IS NOT NULL THEN
        IF tenant_id IS NOT NULL AND tenant_id <> context_tenant THEN
            RAISE EXCEPTION 'the current context belongs to tenant "%", not "%"', context_tenant, tenant_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF permission IS NOT NULL THEN
            PERFORM taskforce.require_permission(permission);
        END IF;
        RETURN context_tenant;
    END IF;
    IF NOT taskforce._caller_is_administrator() THEN
        RAISE EXCEPTION '%', CASE WHEN permission IS NULL
                                  THEN 'an authenticated context is required'
                                  ELSE format('permission "%s" required', permission) END
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Authenticate first, or call as an administrator role.';
    END IF;
    IF tenant_id IS NULL THEN
        RAISE EXCEPTION 'tenant_id must be given when there is no context'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.tenants AS t WHERE t.tenant_id = _authorize.tenant_id) THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN tenant_id;
END
$$;
REVOKE ALL ON FUNCTION taskforce._authorize(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._authorize(text, text) IS
    'internal: the tenant a management call acts on, after checking the caller may';

-- Returns the user row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_user(tenant_id text, user_id text)
    RETURNS taskforce.users
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    u taskforce.users;
BEGIN
    SELECT * INTO u FROM taskforce.users AS x
     WHERE x.tenant_id = _lock_user.tenant_id AND x.user_id = _lock_user.user_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" does not exist in tenant "%"', user_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN u;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_user(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_user(text, text) IS
    'internal: locks and returns a user, or raises undefined_object';

CREATE FUNCTION taskforce.create_user(
    user_id text,
    username text,
    email text DEFAULT NULL,
    attributes jsonb DEFAULT '{}',
    kind text DEFAULT 'human',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.users
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', tenant_id);
    u taskforce.users;
BEGIN
    IF user_id IS NULL OR username IS NULL THEN
        RAISE EXCEPTION 'user_id and username must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF attributes IS NULL OR jsonb_typeof(attributes) <> 'object' THEN
        RAISE EXCEPTION 'attributes must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        INSERT INTO taskforce.users (tenant_id, user_id, username, email, kind, attributes)
        VALUES (tenant, user_id, username, email, kind, attributes)
        RETURNING * INTO u;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'a user with this user_id, username or email already exists in tenant "%"', tenant
                USING ERRCODE = 'duplicate_object';
        WHEN check_violation THEN
            RAISE EXCEPTION 'invalid user: %', SQLERRM
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'user_id and username have no spaces; email looks like name@domain; kind is human or service.';
    END;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'user_created', 'success');
    RETURN u;
END
$$;
COMMENT ON FUNCTION taskforce.create_user(text, text, text, jsonb, text, text) IS
    'creates a user or service account (kind => ''service'') in the current tenant; needs user:manage';

CREATE FUNCTION taskforce.update_user(
    user_id text,
    username text DEFAULT NULL,
    email text DEFAULT NULL,
    attributes jsonb DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.users
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', tenant_id);
    u taskforce.users := taskforce._lock_user(tenant, user_id);
BEGIN
    IF attributes IS NOT NULL AND jsonb_typeof(attributes) <> 'object' THEN
        RAISE EXCEPTION 'attributes must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        UPDATE taskforce.users AS x
           SET username = coalesce(update_user.username, x.username),
               email = coalesce(update_user.email, x.email),
               attributes = coalesce(update_user.attributes, x.attributes),
               updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.user_id = update_user.user_id
        RETURNING * INTO u;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'another user of tenant "%" has this username or email', tenant
                USING ERRCODE = 'duplicate_object';
        WHEN check_violation THEN
            RAISE EXCEPTION 'invalid user: %', SQLERRM
                USING ERRCODE = 'invalid_parameter_value';
    END;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'user_updated', 'success');
    RETURN u;
END
$$;
COMMENT ON FUNCTION taskforce.update_user(text, text, text, jsonb, text) IS
    'changes a user''s username, email or attributes (null leaves a field as it is); needs user:manage';

-- Sets a user's status, recording the event.
CREATE FUNCTION taskforce._set_user_status(
    tenant_id text, user_id text, new_status text, event text, reason text)
    RETURNS taskforce.users
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    u taskforce.users := taskforce._lock_user(tenant_id, user_id);
BEGIN
    IF u.status = new_status THEN
        RAISE EXCEPTION 'user "%" is already %', user_id, new_status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE taskforce.users AS x
       SET status = new_status,
           deactivated_at = CASE WHEN new_status = 'deactivated' THEN pg_catalog.now() END,
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = _set_user_status.tenant_id AND x.user_id = _set_user_status.user_id
    RETURNING * INTO u;
    PERFORM taskforce._record_security_event(tenant_id, user_id, 'sql', event, 'success', reason);
    RETURN u;
END
$$;
REVOKE ALL ON FUNCTION taskforce._set_user_status(text, text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._set_user_status(text, text, text, text, text) IS
    'internal: activates or deactivates a user and records the event';

CREATE FUNCTION taskforce.deactivate_user(
    user_id text, reason text DEFAULT NULL, tenant_id text DEFAULT NULL)
    RETURNS taskforce.users
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT taskforce._set_user_status(
        taskforce._authorize('user:manage', tenant_id), user_id, 'deactivated',
        'user_deactivated', reason)
$$;
COMMENT ON FUNCTION taskforce.deactivate_user(text, text, text) IS
    'deactivates a user: it can no longer authenticate and holds no permission; needs user:manage';

CREATE FUNCTION taskforce.reactivate_user(user_id text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.users
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT taskforce._set_user_status(
        taskforce._authorize('user:manage', tenant_id), user_id, 'active',
        'user_reactivated', NULL)
$$;
COMMENT ON FUNCTION taskforce.reactivate_user(text, text) IS
    'makes a deactivated user active again; needs user:manage';

CREATE FUNCTION taskforce.delete_user(user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', tenant_id);
BEGIN
    PERFORM taskforce._lock_user(tenant, user_id);
    DELETE FROM taskforce.users AS x
     WHERE x.tenant_id = tenant AND x.user_id = delete_user.user_id;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'user_deleted', 'success');
END
$$;
COMMENT ON FUNCTION taskforce.delete_user(text, text) IS
    'deletes a user with its role grants, credentials and API keys; needs user:manage';

CREATE FUNCTION taskforce.register_permission(permission text, description text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF permission IS NULL OR description IS NULL THEN
        RAISE EXCEPTION 'permission and description must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF permission !~ '^[a-z][a-z0-9_]{0,62}:[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid permission "%"', permission
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A permission is resource:action in lower case, for example report:export.';
    END IF;
    INSERT INTO taskforce.permissions (permission, description) VALUES (permission, description);
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'permission "%" already exists', permission
            USING ERRCODE = 'duplicate_object';
END
$$;
REVOKE ALL ON FUNCTION taskforce.register_permission(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.register_permission(text, text) IS
    'adds a resource:action permission to the catalog; administrators only';

CREATE FUNCTION taskforce.unregister_permission(permission text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    p taskforce.permissions;
    used_by text;
BEGIN
    SELECT * INTO p FROM taskforce.permissions AS c
     WHERE c.permission = unregister_permission.permission FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission "%" does not exist', permission
            USING ERRCODE = 'undefined_object';
    END IF;
    IF p.is_system THEN
        RAISE EXCEPTION 'permission "%" is a system permission', permission
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Custom roles are under tenant isolation; this function runs as its
    -- caller, an administrator without a context, so it must look past it.
    SELECT pg_catalog.string_agg(r.tenant_id || '/' || r.role_name, ', ') INTO used_by
      FROM taskforce._roles_naming_permission(permission) AS r;
    IF used_by IS NOT NULL THEN
        RAISE EXCEPTION 'permission "%" is still named by roles: %', permission, used_by
            USING ERRCODE = 'dependent_objects_still_exist';
    END IF;
    DELETE FROM taskforce.permissions AS c WHERE c.permission = unregister_permission.permission;
END
$$;
REVOKE ALL ON FUNCTION taskforce.unregister_permission(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.unregister_permission(text) IS
    'removes a registered permission that no custom role names; administrators only';

CREATE FUNCTION taskforce._roles_naming_permission(permission text)
    RETURNS TABLE (tenant_id text, role_name text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT r.tenant_id, r.role_name FROM taskforce.roles AS r
     WHERE permission = ANY (r.permissions)
$$;
REVOKE ALL ON FUNCTION taskforce._roles_naming_permission(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._roles_naming_permission(text) IS
    'internal: custom roles of any tenant that name a permission';

-- Raises unless role_name is a system role or a custom role of tenant_id;
-- returns the role's permission patterns.
CREATE FUNCTION taskforce._role_permissions(tenant_id text, role_name text)
    RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    patterns text[];
BEGIN
    SELECT s.permissions INTO patterns FROM taskforce.system_roles AS s
     WHERE s.role_name = _role_permissions.role_name;
    IF NOT FOUND THEN
        SELECT r.permissions INTO patterns FROM taskforce.roles AS r
         WHERE r.tenant_id = _role_permissions.tenant_id
           AND r.role_name = _role_permissions.role_name;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'role "%" does not exist in tenant "%"', role_name, tenant_id
                USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
    RETURN patterns;
END
$$;
REVOKE ALL ON FUNCTION taskforce._role_permissions(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._role_permissions(text, text) IS
    'internal: the permission patterns of a system or custom role, or undefined_object';

-- True if the pattern granted covers every permission the pattern wanted
-- could ever match, including permissions registered later.
CREATE FUNCTION taskforce._pattern_covers(granted text, wanted text)
    RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT granted = '*'
        OR (wanted <> '*'
            AND split_part(granted, ':', 1) IN ('*', split_part(wanted, ':', 1))
            AND split_part(granted, ':', 2) IN ('*', split_part(wanted, ':', 2)))
$$;
REVOKE ALL ON FUNCTION taskforce._pattern_covers(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._pattern_covers(text, text) IS
    'internal: true if one permission pattern covers another, whatever permissions are registered later';

-- Refuses to let a context user hand out permissions it does not hold
-- itself: every catalog permission the patterns match, and every wildcard
-- (which may match permissions registered later) must be covered by a
-- pattern the user holds and by its credential's scopes.  Administrators
-- without a context are not limited.
CREATE FUNCTION taskforce._check_no_escalation(patterns text[])
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    missing text;
    scopes text[];
BEGIN
    IF taskforce.current_tenant() IS NULL THEN
        RETURN;
    END IF;
    SELECT pg_catalog.string_agg(c.permission, ', ' ORDER BY c.permission) INTO missing
      FROM taskforce.permissions AS c
     WHERE taskforce.permission_matches(patterns, c.permission)
       AND NOT taskforce.has_permission(c.permission);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'cannot hand out permissions you do not hold: %', missing
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    scopes := (taskforce.current_context()).permission_scopes;
    SELECT pg_catalog.string_agg(w.pattern, ', ' ORDER BY w.pattern) INTO missing
      FROM pg_catalog.unnest(patterns) AS w(pattern)
     WHERE w.pattern ~ '\*'
       AND (NOT EXISTS (SELECT FROM taskforce._permission_sources(taskforce.current_tenant(),
                                                                  taskforce.current_user_id(),
                                                                  taskforce.current_roles()) AS s
                         WHERE taskforce._pattern_covers(s.pattern, w.pattern))
            OR (scopes IS NOT NULL
                AND NOT EXISTS (SELECT FROM pg_catalog.unnest(scopes) AS sc(pattern)
                                 WHERE taskforce._pattern_covers(sc.pattern, w.pattern))));
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'cannot hand out wildcards you do not hold: %', missing
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A wildcard also grants permissions registered later; you must hold a pattern that covers it.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_no_escalation(text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_no_escalation(text[]) IS
    'internal: insufficient_privilege when the context user lacks a permission the patterns cover';

CREATE FUNCTION taskforce.create_role(
    role_name text,
    permissions text[],
    description text DEFAULT '',
    metadata jsonb DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.roles
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('role:manage', tenant_id);
    r taskforce.roles;
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'role_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = create_role.role_name) THEN
        RAISE EXCEPTION 'role "%" is a system role', role_name
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF role_name !~ '^[a-z][a-z0-9_.:-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid role name "%"', role_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A role name starts with a lower-case letter and has at most 63 of a-z, 0-9, _ . : -.';
    END IF;
    IF metadata IS NULL OR jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM taskforce._validate_permission_patterns(permissions);
    PERFORM taskforce._check_no_escalation(permissions);
    BEGIN
        INSERT INTO taskforce.roles (tenant_id, role_name, description, permissions, metadata)
        VALUES (tenant, role_name, coalesce(description, ''), permissions, metadata)
        RETURNING * INTO r;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'role "%" already exists in tenant "%"', role_name, tenant
                USING ERRCODE = 'duplicate_object';
    END;
    PERFORM taskforce._record_security_event(tenant, NULL, 'sql', 'role_created', 'success', NULL, NULL,
        pg_catalog.jsonb_build_object('role', role_name, 'permissions', permissions));
    RETURN r;
END
$$;
COMMENT ON FUNCTION taskforce.create_role(text, text[], text, jsonb, text) IS
    'creates a custom role of the current tenant with permission patterns; needs role:manage';

CREATE FUNCTION taskforce.update_role(
    role_name text,
    permissions text[] DEFAULT NULL,
    description text DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.roles
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('role:manage', tenant_id);
    r taskforce.roles;
BEGIN
    IF EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = update_role.role_name) THEN
        RAISE EXCEPTION 'role "%" is a system role and cannot be changed', role_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF permissions IS NOT NULL THEN
        PERFORM taskforce._validate_permission_patterns(permissions);
        PERFORM taskforce._check_no_escalation(permissions);
    END IF;
    UPDATE taskforce.roles AS x
       SET permissions = coalesce(update_role.permissions, x.permissions),
           description = coalesce(update_role.description, x.description),
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.role_name = update_role.role_name
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist in tenant "%"', role_name, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM taskforce._record_security_event(tenant, NULL, 'sql', 'role_updated', 'success', NULL, NULL,
        pg_catalog.jsonb_build_object('role', role_name, 'permissions', r.permissions));
    RETURN r;
END
$$;
COMMENT ON FUNCTION taskforce.update_role(text, text[], text, text) IS
    'changes a custom role''s permissions or description; needs role:manage';

CREATE FUNCTION taskforce.delete_role(role_name text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('role:manage', tenant_id);
BEGIN
    IF EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = delete_role.role_name) THEN
        RAISE EXCEPTION 'role "%" is a system role and cannot be deleted', role_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM taskforce.roles AS x
     WHERE x.tenant_id = tenant AND x.role_name = delete_role.role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist in tenant "%"', role_name, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    DELETE FROM taskforce.role_grants AS g
     WHERE g.tenant_id = tenant AND g.role_name = delete_role.role_name;
    PERFORM taskforce._record_security_event(tenant, NULL, 'sql', 'role_deleted', 'success', NULL, NULL,
        pg_catalog.jsonb_build_object('role', role_name));
END
$$;
COMMENT ON FUNCTION taskforce.delete_role(text, text) IS
    'deletes a custom role and every grant of it; needs role:manage';

CREATE FUNCTION taskforce.grant_role(
    user_id text,
    role_name text,
    expires_at timestamptz DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.role_grants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('role:manage', tenant_id);
    g taskforce.role_grants;
BEGIN
    IF expires_at IS NOT NULL AND expires_at <= pg_catalog.now() THEN
        RAISE EXCEPTION 'expires_at must be in the future'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM taskforce._lock_user(tenant, user_id);
    PERFORM taskforce._check_no_escalation(taskforce._role_permissions(tenant, role_name));
    INSERT INTO taskforce.role_grants AS x (tenant_id, user_id, role_name, granted_by, expires_at)
    VALUES (tenant, user_id, role_name,
            coalesce(taskforce.current_user_id(), session_user::text), expires_at)
    ON CONFLICT ON CONSTRAINT role_grants_pkey DO UPDATE
       SET granted_by = excluded.granted_by, granted_at = pg_catalog.now(),
           expires_at = excluded.expires_at
    RETURNING * INTO g;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'role_granted', 'success', NULL, NULL,
        pg_catalog.jsonb_build_object('role', role_name, 'expires_at', expires_at));
    RETURN g;
END
$$;
COMMENT ON FUNCTION taskforce.grant_role(text, text, timestamptz, text) IS
    'grants a system or custom role to a user, optionally until expires_at; needs role:manage';

CREATE FUNCTION taskforce.revoke_role(user_id text, role_name text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('role:manage', tenant_id);
BEGIN
    -- Taking a role away needs what giving it needs: a role manager cannot
    -- demote someone who holds more than it does.
    PERFORM taskforce._check_no_escalation(taskforce._role_permissions(tenant, role_name));
    DELETE FROM taskforce.role_grants AS g
     WHERE g.tenant_id = tenant AND g.user_id = revoke_role.user_id
       AND g.role_name = revoke_role.role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" does not hold role "%"', user_id, role_name
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'role_revoked', 'success', NULL, NULL,
        pg_catalog.jsonb_build_object('role', role_name));
END
$$;
COMMENT ON FUNCTION taskforce.revoke_role(text, text, text) IS
    'takes a role away from a user; needs role:manage and, in a context, every permission the role grants';

-- The last step of every authentication: the tenant must be active and the
-- user active; roles the credential asserts count only if they exist.
CREATE FUNCTION taskforce._complete_authentication(
    tenant_id text,
    user_id text,
    method text,
    asserted_roles text[],
    permission_scopes text[],
    scope text,
    ttl interval,
    client_addr inet,
    details jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant_status text;
    user_status text;
    known_roles text[];
BEGIN
    SELECT t.status INTO tenant_status FROM taskforce.tenants AS t
     WHERE t.tenant_id = _complete_authentication.tenant_id;
    IF NOT FOUND OR tenant_status <> 'active' THEN
        PERFORM taskforce._reject_authentication(method, tenant_id, user_id,
            CASE WHEN tenant_status IS NULL THEN 'unknown tenant' ELSE 'tenant is ' || tenant_status END,
            client_addr, details);
    END IF;
    SELECT u.status INTO user_status FROM taskforce.users AS u
     WHERE u.tenant_id = _complete_authentication.tenant_id
       AND u.user_id = _complete_authentication.user_id;
    IF NOT FOUND OR user_status <> 'active' THEN
        PERFORM taskforce._reject_authentication(method, tenant_id, user_id,
            CASE WHEN user_status IS NULL THEN 'unknown user' ELSE 'user is deactivated' END,
            client_addr, details);
    END IF;
    SELECT coalesce(pg_catalog.array_agg(DISTINCT a.role_name ORDER BY a.role_name), '{}') INTO known_roles
      FROM pg_catalog.unnest(coalesce(asserted_roles, '{}')) AS a(role_name)
     WHERE EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = a.role_name)
        OR EXISTS (SELECT FROM taskforce.roles AS r
                    WHERE r.tenant_id = _complete_authentication.tenant_id
                      AND r.role_name = a.role_name);
    UPDATE taskforce.users AS u SET last_login_at = pg_catalog.now()
     WHERE u.tenant_id = _complete_authentication.tenant_id
       AND u.user_id = _complete_authentication.user_id;
    PERFORM taskforce._establish_context(tenant_id, user_id, known_roles, method,
                                         scope, ttl, permission_scopes);
    PERFORM taskforce._record_security_event(tenant_id, user_id, method, 'authentication', 'success',
        NULL, client_addr, details);
END
$$;
REVOKE ALL ON FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb) IS
    'internal: after a credential verifies, checks tenant and user, records the login and establishes the context';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.users'::regclass), ('taskforce.roles'), ('taskforce.role_grants')) AS v(t);
-- src/sql/security_events.sql: the security event log, and failed
-- authentications recorded in a transaction of their own.

CREATE TABLE taskforce.security_events (
    event_id    bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    tenant_id   text,
    user_id     text,
    actor       text,
    method      text        NOT NULL,
    event       text        NOT NULL,
    outcome     text        NOT NULL,
    reason      text,
    client_addr inet,
    db_role     text        NOT NULL DEFAULT session_user,
    details     jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT security_events_pkey PRIMARY KEY (event_id),
    CONSTRAINT security_events_event_known CHECK (event IN (
        'authentication', 'lockout',
        'api_key_created', 'api_key_revoked', 'api_key_rotated',
        'role_granted', 'role_revoked', 'role_created', 'role_updated', 'role_deleted',
        'user_created', 'user_updated', 'user_deactivated', 'user_reactivated',
        'user_deleted', 'user_unlocked', 'password_changed', 'password_policy_changed')),
    CONSTRAINT security_events_outcome_known CHECK (outcome IN ('success', 'failure')),
    CONSTRAINT security_events_details_object CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX security_events_tenant_time
    ON taskforce.security_events (tenant_id, occurred_at);
REVOKE ALL ON taskforce.security_events FROM PUBLIC;
COMMENT ON TABLE taskforce.security_events IS
    'security events: authentications, lockouts and changes to users, roles and api keys';
COMMENT ON COLUMN taskforce.security_events.actor IS
    'who acted: the user of the context, or else the database role';
COMMENT ON COLUMN taskforce.security_events.method IS
    'how the actor authenticated: jwt, api_key, password, act_as or sql';
COMMENT ON COLUMN taskforce.security_events.db_role IS
    'the session role of the connection the event came from';
SELECT pg_catalog.pg_extension_config_dump('taskforce.security_events', '');
-- The identity sequence too, or a restored database would reuse event ids.
SELECT pg_catalog.pg_extension_config_dump('taskforce.security_events_event_id_seq', '');

CREATE FUNCTION taskforce._record_security_event(
    tenant_id text,
    user_id text,
    method text,
    event text,
    outcome text,
    reason text DEFAULT NULL,
    client_addr inet DEFAULT NULL,
    details jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF details IS NOT NULL AND jsonb_typeof(details) <> 'object' THEN
        RAISE EXCEPTION 'details must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO taskforce.security_events
        (tenant_id, user_id, actor, method, event, outcome, reason, client_addr, details)
    VALUES (tenant_id, user_id,
            coalesce(taskforce.current_user_id(), session_user::text),
            method, event, outcome, reason,
            coalesce(client_addr, pg_catalog.inet_client_addr()),
            coalesce(details, '{}'));
END
$$;
REVOKE ALL ON FUNCTION taskforce._record_security_event(text, text, text, text, text, text, inet, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._record_security_event(text, text, text, text, text, text, inet, jsonb) IS
    'internal: appends a security event in the caller''s transaction';

-- Runs in the recording worker (src/auth/recorder.c), in a transaction of
-- its own, so it commits even though the failed authentication aborts the
-- caller's.  The worker passes the caller's client address, session role
-- and actor, which this function cannot see.  A failed password attempt
-- also counts towards the user's lockout; attempts while the user is
-- already locked out do not.  user_credentials and password_policy() are
-- created later in the install script, hence named only in the body.
CREATE FUNCTION taskforce._record_failed_authentication(
    method text,
    tenant_id text,
    user_id text,
    reason text,
    client_addr inet,
    details jsonb,
    db_role text DEFAULT NULL,
    actor text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    event_details jsonb := CASE
        WHEN details IS NULL THEN '{}'::jsonb
        WHEN jsonb_typeof(details) = 'object' THEN details
        ELSE jsonb_build_object('details', details) END;
    event_actor text := coalesce(actor, taskforce.current_user_id(), session_user::text);
    event_role text := coalesce(db_role, session_user::text);
    attempts integer;
    max_attempts integer;
    lockout_minutes integer;
    lock_end timestamptz;
BEGIN
    INSERT INTO taskforce.security_events
        (tenant_id, user_id, actor, method, event, outcome, reason, client_addr,
         db_role, details)
    VALUES (tenant_id, user_id, event_actor, coalesce(method, 'unknown'),
            'authentication', 'failure', reason, client_addr, event_role,
            event_details);

    -- Only a wrong password of an existing user counts: refusals of a locked
    -- or deactivated account do not extend the lock.
    IF method IS DISTINCT FROM 'password' OR tenant_id IS NULL OR user_id IS NULL
       OR NOT coalesce((event_details->>'counts_toward_lockout')::boolean, false) THEN
        RETURN;
    END IF;
    UPDATE taskforce.user_credentials AS c
       SET failed_attempts = c.failed_attempts + 1
     WHERE c.tenant_id = _record_failed_authentication.tenant_id
       AND c.user_id = _record_failed_authentication.user_id
       AND (c.locked_until IS NULL OR c.locked_until <= pg_catalog.clock_timestamp())
    RETURNING c.failed_attempts INTO attempts;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT p.max_failed_attempts, p.lockout_minutes
      INTO max_attempts, lockout_minutes
      FROM taskforce._password_policy(_record_failed_authentication.tenant_id) AS p;
    IF max_attempts IS NULL OR max_attempts <= 0 OR attempts < max_attempts THEN
        RETURN;
    END IF;

    lock_end := pg_catalog.clock_timestamp()
        + pg_catalog.make_interval(mins => coalesce(lockout_minutes, 0));
    UPDATE taskforce.user_credentials AS c
       SET locked_until = lock_end,
           failed_attempts = 0
     WHERE c.tenant_id = _record_failed_authentication.tenant_id
       AND c.user_id = _record_failed_authentication.user_id;
    INSERT INTO taskforce.security_events
        (tenant_id, user_id, actor, method, event, outcome, reason, client_addr,
         db_role, details)
    VALUES (tenant_id, user_id, event_actor, method,
            'lockout', 'failure', 'too many failed password attempts', client_addr,
            event_role,
            jsonb_build_object('failed_attempts', attempts,
                               'lockout_minutes', lockout_minutes,
                               'locked_until', lock_end));
END
$$;
REVOKE ALL ON FUNCTION taskforce._record_failed_authentication(text, text, text, text, inet, jsonb, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._record_failed_authentication(text, text, text, text, inet, jsonb, text, text) IS
    'internal: records a failed authentication and counts failed passwords towards lockout';

-- Callers may leave client_addr null: the C code then uses the calling
-- backend's inet_client_addr(), not the recording worker's.
CREATE FUNCTION taskforce._reject_authentication(
    method text,
    tenant_id text,
    user_id text,
    reason text,
    client_addr inet DEFAULT NULL,
    details jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_reject_authentication';
REVOKE ALL ON FUNCTION taskforce._reject_authentication(text, text, text, text, inet, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._reject_authentication(text, text, text, text, inet, jsonb) IS
    'internal: records a failed authentication durably, then raises invalid_authorization_specification with the reason';
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

-- Any change to the tables the check caches load from invalidates the
-- caches of every session by its next transaction.
CREATE FUNCTION taskforce._invalidate_caches() RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_invalidate_caches';
REVOKE ALL ON FUNCTION taskforce._invalidate_caches() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._invalidate_caches() IS
    'internal: statement trigger that makes every session drop what it cached from the table';

CREATE TRIGGER invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON taskforce.permissions FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON taskforce.system_roles FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON taskforce.roles FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON taskforce.role_grants FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
-- On users only the status matters: logins update last_login_at, and must
-- not flush every session's cache.
CREATE TRIGGER invalidate_caches AFTER INSERT OR DELETE OR TRUNCATE
    ON taskforce.users FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_status AFTER UPDATE OF tenant_id, user_id, status
    ON taskforce.users FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();

CREATE FUNCTION taskforce._caller_is_administrator() RETURNS boolean
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_caller_is_administrator';
REVOKE ALL ON FUNCTION taskforce._caller_is_administrator() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._caller_is_administrator() IS
    'internal: true if the calling role (not a SECURITY DEFINER owner) may run act_as';
-- src/sql/passwords.sql: password policies, bcrypt password hashes,
-- password authentication and lockout after failed attempts.

-- pgcrypto is relocatable, so the schema it lives in is known only when
-- this script runs (PostgreSQL 16 would spell it @extschema:pgcrypto@).
-- The wrappers name that schema explicitly and have SQL-standard bodies,
-- which bind the pgcrypto functions once, here: no search_path and no
-- look-alike function created later can redirect them.
DO $$
DECLARE
    crypto_schema name := (
        SELECT n.nspname
          FROM pg_catalog.pg_extension AS e
          JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
         WHERE e.extname = 'pgcrypto');
BEGIN
    IF crypto_schema IS NULL THEN
        RAISE EXCEPTION 'taskforce requires the pgcrypto extension'
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE pg_catalog.format($f$
        CREATE FUNCTION taskforce._bcrypt(password text, salt text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN %I.crypt(password, salt)$f$, crypto_schema);
    EXECUTE pg_catalog.format($f$
        CREATE FUNCTION taskforce._bcrypt_salt(cost integer) RETURNS text
            LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
            RETURN %I.gen_salt('bf', cost)$f$, crypto_schema);
    EXECUTE pg_catalog.format($f$
        CREATE FUNCTION taskforce._random_bytes(n integer) RETURNS bytea
            LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
            RETURN %I.gen_random_bytes(n)$f$, crypto_schema);
END
$$;
REVOKE ALL ON FUNCTION taskforce._bcrypt(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._bcrypt(text, text) IS
    'internal: pgcrypto crypt(), hashing a password with a bcrypt salt or checking it against a bcrypt hash';
REVOKE ALL ON FUNCTION taskforce._bcrypt_salt(integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._bcrypt_salt(integer) IS
    'internal: pgcrypto gen_salt(''bf'', cost), a fresh random bcrypt salt';
REVOKE ALL ON FUNCTION taskforce._random_bytes(integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._random_bytes(integer) IS
    'internal: pgcrypto gen_random_bytes(), cryptographically strong random bytes (API keys)';

-- One row per tenant that changed the defaults; password_policy() supplies
-- the defaults for the others.  bcrypt uses only the first 72 bytes of a
-- password, hence the ceiling on max_length.
CREATE TABLE taskforce.password_policies (
    tenant_id           text        NOT NULL,
    min_length          integer     NOT NULL DEFAULT 12,
    max_length          integer     NOT NULL DEFAULT 72,
    require_uppercase   boolean     NOT NULL DEFAULT true,
    require_lowercase   boolean     NOT NULL DEFAULT true,
    require_digit       boolean     NOT NULL DEFAULT true,
    require_symbol      boolean     NOT NULL DEFAULT true,
    max_failed_attempts integer     NOT NULL DEFAULT 5,
    lockout_minutes     integer     NOT NULL DEFAULT 15,
    bcrypt_cost         integer     NOT NULL DEFAULT 10,
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT password_policies_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT password_policies_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT password_policies_length_range
        CHECK (min_length BETWEEN 8 AND max_length AND max_length <= 72),
    CONSTRAINT password_policies_attempts_range CHECK (max_failed_attempts BETWEEN 1 AND 100),
    CONSTRAINT password_policies_lockout_range CHECK (lockout_minutes BETWEEN 1 AND 10080),
    CONSTRAINT password_policies_cost_range CHECK (bcrypt_cost BETWEEN 4 AND 15)
);
REVOKE ALL ON taskforce.password_policies FROM PUBLIC;
COMMENT ON TABLE taskforce.password_policies IS
    'password rules, lockout after failed attempts and bcrypt cost of each tenant that changed the defaults';
COMMENT ON COLUMN taskforce.password_policies.min_length IS
    'fewest characters a password may have';
COMMENT ON COLUMN taskforce.password_policies.max_length IS
    'most bytes a password may have; bcrypt ignores any byte past the 72nd';
COMMENT ON COLUMN taskforce.password_policies.max_failed_attempts IS
    'consecutive failed passwords after which the account is locked';
COMMENT ON COLUMN taskforce.password_policies.lockout_minutes IS
    'how long a locked account stays locked';
COMMENT ON COLUMN taskforce.password_policies.bcrypt_cost IS
    'bcrypt work factor (log2 of the rounds) for passwords set from now on';
SELECT pg_catalog.pg_extension_config_dump('taskforce.password_policies', '');

-- The password hash of each user that has one.  No role may read it: only
-- the functions below, running as the extension's owner, do.
CREATE TABLE taskforce.user_credentials (
    tenant_id           text        NOT NULL,
    user_id             text        NOT NULL,
    password_hash       text        NOT NULL,
    password_changed_at timestamptz NOT NULL,
    failed_attempts     integer     NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    CONSTRAINT user_credentials_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT user_credentials_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE,
    CONSTRAINT user_credentials_bcrypt CHECK (password_hash ~ '^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
    CONSTRAINT user_credentials_attempts_range CHECK (failed_attempts >= 0)
);
REVOKE ALL ON taskforce.user_credentials FROM PUBLIC;
COMMENT ON TABLE taskforce.user_credentials IS
    'bcrypt password hashes, failed attempts and lockout of users; readable by no ordinary role';
COMMENT ON COLUMN taskforce.user_credentials.password_hash IS
    'bcrypt hash (pgcrypto crypt with a bf salt), salt and cost included';
COMMENT ON COLUMN taskforce.user_credentials.failed_attempts IS
    'failed passwords since the last success, unlock or lockout';
COMMENT ON COLUMN taskforce.user_credentials.locked_until IS
    'no password is accepted before this time';
SELECT pg_catalog.pg_extension_config_dump('taskforce.user_credentials', '');

-- The built-in policy, as a row for tenant_id.  Keep it in step with the
-- column defaults of password_policies (the regression test compares them).
CREATE FUNCTION taskforce._default_password_policy(tenant_id text)
    RETURNS taskforce.password_policies
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT ROW(tenant_id, 12, 72, true, true, true, true, 5, 15, 10, NULL)::taskforce.password_policies
$$;
REVOKE ALL ON FUNCTION taskforce._default_password_policy(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._default_password_policy(text) IS
    'internal: the built-in password policy as a row for the tenant';

-- The tenant's policy or the built-in one, with no access check.
CREATE FUNCTION taskforce._password_policy(tenant_id text)
    RETURNS taskforce.password_policies
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT coalesce(
        (SELECT p FROM taskforce.password_policies AS p
          WHERE p.tenant_id = _password_policy.tenant_id),
        taskforce._default_password_policy(tenant_id))
$$;
REVOKE ALL ON FUNCTION taskforce._password_policy(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_policy(text) IS
    'internal: the password policy of a tenant, or the built-in one, without access check';

-- Every rule the password breaks, in a fixed order.
CREATE FUNCTION taskforce._password_violations(password text, policy taskforce.password_policies)
    RETURNS SETOF text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT v.violation
      FROM (VALUES
            (1, pg_catalog.char_length(password) < policy.min_length,
             pg_catalog.format('must be at least %s characters', policy.min_length)),
            (2, pg_catalog.octet_length(password) > policy.max_length,
             pg_catalog.format('must be at most %s bytes', policy.max_length)),
            (3, policy.require_uppercase AND password !~ '[[:upper:]]',
             'must contain an uppercase letter'),
            (4, policy.require_lowercase AND password !~ '[[:lower:]]',
             'must contain a lowercase letter'),
            (5, policy.require_digit AND password !~ '[0-9]',
             'must contain a digit'),
            (6, policy.require_symbol AND password !~ '[^[:alnum:][:space:][:cntrl:]]',
             'must contain a symbol')) AS v(n, violated, violation)
     WHERE v.violated
     ORDER BY v.n
$$;
REVOKE ALL ON FUNCTION taskforce._password_violations(text, taskforce.password_policies) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_violations(text, taskforce.password_policies) IS
    'internal: every rule of the policy the password breaks, in a fixed order';

-- Decides which tenant a call about a user acts on, and whether it may.
-- The context's own (active) user acting on itself needs no permission;
-- unless allow_limited, not when its context came from an API key or is
-- limited to permission scopes: such a credential must not be able to
-- mint a stronger one.  Every other caller goes through _authorize.
CREATE FUNCTION taskforce._authorize_self(
    permission text, tenant_id text, subject text, allow_limited boolean)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ctx record := taskforce.current_context();
BEGIN
    IF ctx.tenant_id IS NOT NULL AND subject = ctx.user_id
       AND (_authorize_self.tenant_id IS NULL OR _authorize_self.tenant_id = ctx.tenant_id)
       AND (allow_limited OR (ctx.auth_method <> 'api_key' AND ctx.permission_scopes IS NULL))
       AND EXISTS (SELECT FROM taskforce.users AS u
                    WHERE u.tenant_id = ctx.tenant_id AND u.user_id = subject
                      AND u.status = 'active') THEN
        RETURN ctx.tenant_id;
    END IF;
    RETURN taskforce._authorize(permission, tenant_id);
END
$$;
REVOKE ALL ON FUNCTION taskforce._authorize_self(text, text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._authorize_self(text, text, text, boolean) IS
    'internal: the tenant a call about a user acts on; the context''s own user needs no permission';

CREATE FUNCTION taskforce.password_policy(tenant_id text DEFAULT NULL)
    RETURNS taskforce.password_policies
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._password_policy(taskforce._authorize(NULL, tenant_id))
$$;
COMMENT ON FUNCTION taskforce.password_policy(text) IS
    'the password policy of the current tenant (the built-in one unless changed); administrators without a context name the tenant';

CREATE FUNCTION taskforce.set_password_policy(
    tenant_id text DEFAULT NULL,
    min_length integer DEFAULT NULL,
    max_length integer DEFAULT NULL,
    require_uppercase boolean DEFAULT NULL,
    require_lowercase boolean DEFAULT NULL,
    require_digit boolean DEFAULT NULL,
    require_symbol boolean DEFAULT NULL,
    max_failed_attempts integer DEFAULT NULL,
    lockout_minutes integer DEFAULT NULL,
    bcrypt_cost integer DEFAULT NULL)
    RETURNS taskforce.password_policies
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('policy:manage', tenant_id);
    p taskforce.password_policies;
BEGIN
    -- Start from the current policy, locked so that concurrent changes to
    -- different fields do not undo each other.
    INSERT INTO taskforce.password_policies AS x (tenant_id) VALUES (tenant)
    ON CONFLICT ON CONSTRAINT password_policies_pkey DO NOTHING;
    SELECT * INTO p FROM taskforce.password_policies AS x WHERE x.tenant_id = tenant FOR UPDATE;

    p.min_length := coalesce(set_password_policy.min_length, p.min_length);
    p.max_length := coalesce(set_password_policy.max_length, p.max_length);
    p.require_uppercase := coalesce(set_password_policy.require_uppercase, p.require_uppercase);
    p.require_lowercase := coalesce(set_password_policy.require_lowercase, p.require_lowercase);
    p.require_digit := coalesce(set_password_policy.require_digit, p.require_digit);
    p.require_symbol := coalesce(set_password_policy.require_symbol, p.require_symbol);
    p.max_failed_attempts := coalesce(set_password_policy.max_failed_attempts, p.max_failed_attempts);
    p.lockout_minutes := coalesce(set_password_policy.lockout_minutes, p.lockout_minutes);
    p.bcrypt_cost := coalesce(set_password_policy.bcrypt_cost, p.bcrypt_cost);

    IF p.max_length NOT BETWEEN 8 AND 72 THEN
        RAISE EXCEPTION 'max_length must be between 8 and 72'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'bcrypt uses only the first 72 bytes of a password.';
    END IF;
    IF p.min_length NOT BETWEEN 8 AND p.max_length THEN
        RAISE EXCEPTION 'min_length must be between 8 and max_length (%)', p.max_length
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.max_failed_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_failed_attempts must be between 1 and 100'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.lockout_minutes NOT BETWEEN 1 AND 10080 THEN
        RAISE EXCEPTION 'lockout_minutes must be between 1 and 10080 (one week)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.bcrypt_cost NOT BETWEEN 4 AND 15 THEN
        RAISE EXCEPTION 'bcrypt_cost must be between 4 and 15'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each step doubles the work of hashing and of checking a password; 10 or more is usual.';
    END IF;

    UPDATE taskforce.password_policies AS x
       SET min_length = p.min_length,
           max_length = p.max_length,
           require_uppercase = p.require_uppercase,
           require_lowercase = p.require_lowercase,
           require_digit = p.require_digit,
           require_symbol = p.require_symbol,
           max_failed_attempts = p.max_failed_attempts,
           lockout_minutes = p.lockout_minutes,
           bcrypt_cost = p.bcrypt_cost,
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant
    RETURNING * INTO p;
    PERFORM taskforce._record_security_event(tenant, NULL, 'sql', 'password_policy_changed', 'success',
        NULL, NULL, pg_catalog.to_jsonb(p) - 'tenant_id' - 'updated_at');
    RETURN p;
END
$$;
COMMENT ON FUNCTION taskforce.set_password_policy(text, integer, integer, boolean, boolean, boolean, boolean, integer, integer, integer) IS
    'changes the given fields of the current tenant''s password policy (null keeps a field); needs policy:manage';

CREATE FUNCTION taskforce.password_policy_violations(password text, tenant_id text DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF password IS NULL THEN
        RAISE EXCEPTION 'password must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        SELECT v FROM taskforce._password_violations(
            password, taskforce.password_policy(password_policy_violations.tenant_id)) AS v;
END
$$;
COMMENT ON FUNCTION taskforce.password_policy_violations(text, text) IS
    'every rule of the current tenant''s password policy the password breaks, one row each; none if it complies';

CREATE FUNCTION taskforce.set_password(user_id text, password text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize_self('user:manage', tenant_id, user_id, false);
    policy taskforce.password_policies;
    violations text[];
BEGIN
    IF user_id IS NULL OR password IS NULL THEN
        RAISE EXCEPTION 'user_id and password must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._lock_user(tenant, user_id);
    policy := taskforce._password_policy(tenant);
    SELECT pg_catalog.array_agg(v) INTO violations
      FROM taskforce._password_violations(password, policy) AS v;
    IF violations IS NOT NULL THEN
        RAISE EXCEPTION 'password does not meet the policy'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The password ' || pg_catalog.array_to_string(violations, ', ') || '.';
    END IF;
    INSERT INTO taskforce.user_credentials AS c
        (tenant_id, user_id, password_hash, password_changed_at, failed_attempts, locked_until)
    VALUES (tenant, user_id,
            taskforce._bcrypt(password, taskforce._bcrypt_salt(policy.bcrypt_cost)),
            pg_catalog.now(), 0, NULL)
    ON CONFLICT ON CONSTRAINT user_credentials_pkey DO UPDATE
       SET password_hash = excluded.password_hash,
           password_changed_at = excluded.password_changed_at,
           failed_attempts = 0,
           locked_until = NULL;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'password_changed', 'success',
        NULL, NULL,
        pg_catalog.jsonb_build_object('self_service', user_id IS NOT DISTINCT FROM taskforce.current_user_id()));
END
$$;
COMMENT ON FUNCTION taskforce.set_password(text, text, text) IS
    'sets a user''s password if it meets the tenant''s policy, and clears any lockout; the user itself, or needs user:manage';

CREATE FUNCTION taskforce.unlock_user(user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', tenant_id);
    c taskforce.user_credentials;
BEGIN
    PERFORM taskforce._lock_user(tenant, user_id);
    SELECT * INTO c FROM taskforce.user_credentials AS x
     WHERE x.tenant_id = tenant AND x.user_id = unlock_user.user_id
       FOR UPDATE;
    IF NOT FOUND OR c.locked_until IS NULL OR c.locked_until <= pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'user "%" is not locked', user_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE taskforce.user_credentials AS x
       SET failed_attempts = 0, locked_until = NULL
     WHERE x.tenant_id = tenant AND x.user_id = unlock_user.user_id;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'user_unlocked', 'success',
        NULL, NULL, pg_catalog.jsonb_build_object('locked_until', c.locked_until));
END
$$;
COMMENT ON FUNCTION taskforce.unlock_user(text, text) IS
    'lifts a user''s lockout after failed passwords; needs user:manage';

-- A bcrypt hash of nothing in particular, at the given cost: checking a
-- password against it takes as long as against a real hash of that cost.
CREATE FUNCTION taskforce._dummy_bcrypt_hash(cost integer)
    RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT '$2a$' || pg_catalog.lpad(cost::text, 2, '0')
        || '$taskforcedummysaltxxuAmJ0EhRUbfMC5gEBzFiXo8oxFwLYxSeQ'
$$;
REVOKE ALL ON FUNCTION taskforce._dummy_bcrypt_hash(integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._dummy_bcrypt_hash(integer) IS
    'internal: a fixed bcrypt hash of the given cost, for equal timing when there is no real one';

-- Callers pass credentials as bind parameters, never in the query text.
-- Executable by PUBLIC (the default): it needs no context, only the
-- password.  Failures go through _reject_authentication, which records
-- them in a transaction of their own (and counts wrong passwords towards
-- lockout) before raising, so they survive the caller's rollback.  No
-- row lock is taken before a rejection: the recorder must be able to
-- update the credentials row.
CREATE FUNCTION taskforce.authenticate_password(
    tenant_id text,
    username text,
    password text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    u taskforce.users;
    c taskforce.user_credentials;
BEGIN
    IF tenant_id IS NULL OR username IS NULL OR password IS NULL THEN
        RAISE EXCEPTION 'tenant_id, username and password must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO u FROM taskforce.users AS x
     WHERE x.tenant_id = authenticate_password.tenant_id
       AND x.username = authenticate_password.username;
    IF FOUND THEN
        SELECT * INTO c FROM taskforce.user_credentials AS x
         WHERE x.tenant_id = u.tenant_id AND x.user_id = u.user_id;
    END IF;

    IF c.user_id IS NULL THEN
        -- No such user, or no password: spend the time a real check takes,
        -- so that the answer's timing does not tell whether the user exists.
        PERFORM taskforce._bcrypt(password, taskforce._dummy_bcrypt_hash(
            (taskforce._password_policy(authenticate_password.tenant_id)).bcrypt_cost));
        PERFORM taskforce._reject_authentication('password', authenticate_password.tenant_id,
            u.user_id, 'invalid username or password', client_addr,
            CASE WHEN u.user_id IS NULL
                 THEN pg_catalog.jsonb_build_object('username', authenticate_password.username)
                 ELSE '{"counts_toward_lockout": true}'::jsonb END);
    END IF;
    -- A locked account refuses every password, right or wrong, without
    -- checking it: guessing must not go on during the lockout.
    IF c.locked_until > pg_catalog.clock_timestamp() THEN
        PERFORM taskforce._reject_authentication('password', u.tenant_id, u.user_id,
            'account is locked', client_addr,
            pg_catalog.jsonb_build_object('locked_until', c.locked_until));
    END IF;
    IF u.status <> 'active' THEN
        PERFORM taskforce._reject_authentication('password', u.tenant_id, u.user_id,
            'user is deactivated', client_addr, '{}');
    END IF;
    IF taskforce._bcrypt(password, c.password_hash) IS DISTINCT FROM c.password_hash THEN
        PERFORM taskforce._reject_authentication('password', u.tenant_id, u.user_id,
            'invalid username or password', client_addr, '{"counts_toward_lockout": true}');
    END IF;

    PERFORM taskforce._complete_authentication(u.tenant_id, u.user_id, 'password', '{}', NULL,
                                               scope, ttl, client_addr, '{}');
    -- Only now, after every check has passed, take the row lock.
    UPDATE taskforce.user_credentials AS x
       SET failed_attempts = 0, locked_until = NULL
     WHERE x.tenant_id = u.tenant_id AND x.user_id = u.user_id
       AND (x.failed_attempts <> 0 OR x.locked_until IS NOT NULL);
END
$$;
COMMENT ON FUNCTION taskforce.authenticate_password(text, text, text, text, interval, inet) IS
    'checks a user''s password and establishes the context; failures raise invalid_authorization_specification and count towards lockout';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.password_policies'::regclass), ('taskforce.user_credentials')) AS v(t);
-- src/sql/api_keys.sql: API keys for services and programmatic access,
-- stored as hashes and shown once.

CREATE TABLE taskforce.api_keys (
    tenant_id      text        NOT NULL,
    key_id         uuid        NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id        text        NOT NULL,
    name           text        NOT NULL,
    key_prefix     text        NOT NULL,
    key_hash       bytea       NOT NULL,
    roles          text[]      NOT NULL DEFAULT '{}',
    scopes         text[],
    expires_at     timestamptz,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     text        NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text,
    last_used_at   timestamptz,
    rotated_to     uuid,
    CONSTRAINT api_keys_pkey PRIMARY KEY (tenant_id, key_id),
    CONSTRAINT api_keys_key_hash_key UNIQUE (tenant_id, key_hash),
    CONSTRAINT api_keys_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE,
    CONSTRAINT api_keys_rotated_to_fkey FOREIGN KEY (tenant_id, rotated_to)
        REFERENCES taskforce.api_keys (tenant_id, key_id) ON DELETE SET NULL (rotated_to),
    CONSTRAINT api_keys_name_present CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT api_keys_prefix_format CHECK (key_prefix ~ '^tf_[A-Za-z0-9_-]{5}$'),
    CONSTRAINT api_keys_hash_length CHECK (pg_catalog.octet_length(key_hash) = 32),
    CONSTRAINT api_keys_metadata_object CHECK (pg_catalog.jsonb_typeof(metadata) = 'object'),
    CONSTRAINT api_keys_revoked_reason CHECK (revoked_reason IS NULL OR revoked_at IS NOT NULL)
);
-- Authentication finds a key by its hash alone, before the tenant is known.
CREATE INDEX api_keys_key_hash ON taskforce.api_keys (key_hash);
REVOKE ALL ON taskforce.api_keys FROM PUBLIC;
COMMENT ON TABLE taskforce.api_keys IS
    'API keys of users and service accounts, stored as hashes; list them with taskforce.list_api_keys()';
COMMENT ON COLUMN taskforce.api_keys.key_prefix IS
    'the first 8 characters of the key (tf_ and 5 more), to tell keys apart in listings';
-- A key is 256 random bits, so no dictionary or brute force can reach it:
-- an unsalted fast hash is as strong as bcrypt here, and lets
-- authentication find the key with one index probe.
COMMENT ON COLUMN taskforce.api_keys.key_hash IS
    'SHA-256 of the whole key; the key itself is never stored';
COMMENT ON COLUMN taskforce.api_keys.roles IS
    'roles the key asserts, on top of those granted to its user';
COMMENT ON COLUMN taskforce.api_keys.scopes IS
    'permission patterns the key is limited to, or null for no limit';
COMMENT ON COLUMN taskforce.api_keys.last_used_at IS
    'last successful authentication, to the minute';
COMMENT ON COLUMN taskforce.api_keys.rotated_to IS
    'the key that replaced this one';
SELECT pg_catalog.pg_extension_config_dump('taskforce.api_keys', '');

-- Generates a key for the given fields and stores its hash; returns the
-- key, the only time it is ever available.  The caller has checked the
-- fields and the caller's rights.
CREATE FUNCTION taskforce._insert_api_key(
    tenant_id text,
    user_id text,
    name text,
    roles text[],
    scopes text[],
    key_expires_at timestamptz,
    metadata jsonb)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    -- tf_ and the 32 random bytes in base64url, without padding: 46 characters.
    secret text := 'tf_' || pg_catalog.translate(
        pg_catalog.rtrim(pg_catalog.encode(taskforce._random_bytes(32), 'base64'), '='),
        '+/', '-_');
    k taskforce.api_keys;
BEGIN
    INSERT INTO taskforce.api_keys AS x
        (tenant_id, user_id, name, key_prefix, key_hash, roles, scopes, expires_at,
         metadata, created_by)
    VALUES (_insert_api_key.tenant_id, _insert_api_key.user_id, _insert_api_key.name,
            pg_catalog.left(secret, 8),
            pg_catalog.sha256(pg_catalog.convert_to(secret, 'UTF8')),
            _insert_api_key.roles, _insert_api_key.scopes, key_expires_at,
            _insert_api_key.metadata,
            coalesce(taskforce.current_user_id(), session_user::text))
    RETURNING * INTO k;
    key_id := k.key_id;
    api_key := secret;
    key_prefix := k.key_prefix;
    expires_at := k.expires_at;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION taskforce._insert_api_key(text, text, text, text[], text[], timestamptz, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._insert_api_key(text, text, text, text[], text[], timestamptz, jsonb) IS
    'internal: generates an API key, stores its hash and returns the key once';

-- Refuses roles the tenant does not have, and roles that would give the
-- key permissions the context user does not hold itself.  Roles deleted
-- since a key was made are skipped when skip_missing (rotation): they
-- grant nothing at authentication either.
CREATE FUNCTION taskforce._check_key_roles(tenant_id text, roles text[], skip_missing boolean)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r text;
    patterns text[] := '{}';
BEGIN
    IF roles IS NULL THEN
        RAISE EXCEPTION 'roles must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_ndims(roles) > 1 THEN
        RAISE EXCEPTION 'roles must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH r IN ARRAY roles LOOP
        IF r IS NULL THEN
            RAISE EXCEPTION 'roles must not contain null'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF skip_missing
           AND NOT EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = r)
           AND NOT EXISTS (SELECT FROM taskforce.roles AS x
                            WHERE x.tenant_id = _check_key_roles.tenant_id AND x.role_name = r) THEN
            CONTINUE;
        END IF;
        patterns := patterns || taskforce._role_permissions(tenant_id, r);
    END LOOP;
    PERFORM taskforce._check_no_escalation(patterns);
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_key_roles(text, text[], boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_key_roles(text, text[], boolean) IS
    'internal: refuses unknown roles and roles granting more than the context user holds';

-- create_api_key's body.  PL/pgSQL cannot have an argument and a result
-- column of the same name (expires_at), hence the SQL wrapper below.
-- A context limited to permission scopes may make only keys limited to
-- scopes it holds: a key grants its user's roles as well as its own, so an
-- unlimited key would reach past the creator's scopes.
CREATE FUNCTION taskforce._check_key_scopes(scopes text[])
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF (taskforce.current_context()).permission_scopes IS NULL THEN
        RETURN;
    END IF;
    IF scopes IS NULL THEN
        RAISE EXCEPTION 'a context limited to permission scopes can make only keys limited to scopes'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Pass scopes the current context holds.';
    END IF;
    PERFORM taskforce._check_no_escalation(scopes);
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_key_scopes(text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_key_scopes(text[]) IS
    'internal: insufficient_privilege when a scope-limited context would make a key reaching past its scopes';

CREATE FUNCTION taskforce._create_api_key(
    user_id text,
    name text,
    roles text[],
    scopes text[],
    key_expires_at timestamptz,
    metadata jsonb,
    tenant_id text)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', _create_api_key.tenant_id);
    u taskforce.users;
    key_roles text[];
    n record;
BEGIN
    IF _create_api_key.user_id IS NULL OR _create_api_key.name IS NULL THEN
        RAISE EXCEPTION 'user_id and name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.btrim(_create_api_key.name) = '' THEN
        RAISE EXCEPTION 'name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF _create_api_key.metadata IS NULL OR pg_catalog.jsonb_typeof(_create_api_key.metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF key_expires_at <= pg_catalog.now() THEN
        RAISE EXCEPTION 'expires_at must be in the future'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    u := taskforce._lock_user(tenant, _create_api_key.user_id);
    IF u.status <> 'active' THEN
        RAISE EXCEPTION 'user "%" is %', u.user_id, u.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM taskforce._check_key_roles(tenant, _create_api_key.roles, false);
    SELECT coalesce(pg_catalog.array_agg(DISTINCT r ORDER BY r), '{}') INTO key_roles
      FROM pg_catalog.unnest(_create_api_key.roles) AS r;
    IF _create_api_key.scopes IS NOT NULL THEN
        IF pg_catalog.cardinality(_create_api_key.scopes) = 0 THEN
            RAISE EXCEPTION 'scopes must not be empty'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Pass null for a key that is not limited to scopes.';
        END IF;
        IF pg_catalog.array_ndims(_create_api_key.scopes) > 1 THEN
            RAISE EXCEPTION 'scopes must be a one-dimensional array'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM taskforce._validate_permission_patterns(_create_api_key.scopes);
    END IF;
    PERFORM taskforce._check_key_scopes(_create_api_key.scopes);

    SELECT * INTO n FROM taskforce._insert_api_key(tenant, _create_api_key.user_id, _create_api_key.name,
                                                   key_roles, _create_api_key.scopes,
                                                   key_expires_at, _create_api_key.metadata);
    PERFORM taskforce._record_security_event(tenant, _create_api_key.user_id, 'sql', 'api_key_created',
        'success', NULL, NULL,
        pg_catalog.jsonb_build_object('key_id', n.key_id, 'name', _create_api_key.name,
                                      'roles', key_roles, 'scopes', _create_api_key.scopes));
    key_id := n.key_id;
    api_key := n.api_key;
    key_prefix := n.key_prefix;
    expires_at := n.expires_at;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION taskforce._create_api_key(text, text, text[], text[], timestamptz, jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._create_api_key(text, text, text[], text[], timestamptz, jsonb, text) IS
    'internal: the body of create_api_key';

CREATE FUNCTION taskforce.create_api_key(
    user_id text,
    name text,
    roles text[] DEFAULT '{}',
    scopes text[] DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    metadata jsonb DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._create_api_key(user_id, name, roles, scopes, expires_at, metadata, tenant_id)
$$;
COMMENT ON FUNCTION taskforce.create_api_key(text, text, text[], text[], timestamptz, jsonb, text) IS
    'creates an API key for an active user and returns it, the only time it is shown; needs user:manage';

-- Callers pass the key as a bind parameter, never in the query text.
-- Executable by PUBLIC (the default): the key is the credential.
CREATE FUNCTION taskforce.authenticate_api_key(
    api_key text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k taskforce.api_keys;
    remaining interval;
    longest interval;
    context_ttl interval := ttl;
BEGIN
    IF api_key IS NULL THEN
        RAISE EXCEPTION 'api_key must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF api_key !~ '^tf_[A-Za-z0-9_-]{43}$' THEN
        PERFORM taskforce._reject_authentication('api_key', NULL, NULL, 'malformed api key',
                                                 client_addr, '{}');
    END IF;
    -- key_hash is unique only per tenant, but a key has 256 random bits:
    -- two tenants never hold the same one.
    SELECT * INTO k FROM taskforce.api_keys AS x
     WHERE x.key_hash = pg_catalog.sha256(pg_catalog.convert_to(api_key, 'UTF8'));
    IF NOT FOUND THEN
        PERFORM taskforce._reject_authentication('api_key', NULL, NULL, 'unknown api key',
            client_addr, pg_catalog.jsonb_build_object('key_prefix', pg_catalog.left(api_key, 8)));
    END IF;
    IF k.revoked_at IS NOT NULL THEN
        PERFORM taskforce._reject_authentication('api_key', k.tenant_id, k.user_id,
            'api key is revoked', client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id));
    END IF;
    IF k.expires_at <= pg_catalog.clock_timestamp() THEN
        PERFORM taskforce._reject_authentication('api_key', k.tenant_id, k.user_id,
            'api key has expired', client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id));
    END IF;

    -- The context must not outlive the key.  Without a ttl a context lasts
    -- taskforce.max_context_ttl (1 hour unless configured, as in
    -- src/context/context.c; the setting may not be defined yet if the
    -- library has not been loaded in this session).
    IF k.expires_at IS NOT NULL THEN
        remaining := k.expires_at - pg_catalog.clock_timestamp();
        longest := coalesce(ttl,
            pg_catalog.current_setting('taskforce.max_context_ttl', true)::interval,
            interval '1 hour');
        IF remaining < longest THEN
            context_ttl := remaining;
        END IF;
    END IF;
    PERFORM taskforce._complete_authentication(k.tenant_id, k.user_id, 'api_key', k.roles, k.scopes,
        scope, context_ttl, client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id));
    -- Record use to the minute only: a write (and a row lock) on every
    -- request would serialise the requests of a busy key.
    UPDATE taskforce.api_keys AS x SET last_used_at = pg_catalog.now()
     WHERE x.tenant_id = k.tenant_id AND x.key_id = k.key_id
       AND (x.last_used_at IS NULL OR x.last_used_at < pg_catalog.now() - interval '1 minute');
END
$$;
COMMENT ON FUNCTION taskforce.authenticate_api_key(text, text, interval, inet) IS
    'checks an API key and establishes its user''s context with the key''s roles and scopes, never outliving the key';

-- list_api_keys's body, under another name for the reason given at
-- _create_api_key (user_id).
CREATE FUNCTION taskforce._list_api_keys(subject text, tenant_id text)
    RETURNS TABLE (
        key_id uuid,
        user_id text,
        name text,
        key_prefix text,
        roles text[],
        scopes text[],
        expires_at timestamptz,
        created_at timestamptz,
        created_by text,
        revoked_at timestamptz,
        last_used_at timestamptz,
        status text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize_self('user:manage', _list_api_keys.tenant_id,
                                             subject, true);
BEGIN
    RETURN QUERY
        SELECT k.key_id, k.user_id, k.name, k.key_prefix, k.roles, k.scopes, k.expires_at,
               k.created_at, k.created_by, k.revoked_at, k.last_used_at,
               CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                    WHEN k.expires_at <= pg_catalog.clock_timestamp() THEN 'expired'
                    ELSE 'active' END
          FROM taskforce.api_keys AS k
         WHERE k.tenant_id = tenant
           AND (subject IS NULL OR k.user_id = subject)
         ORDER BY k.user_id, k.created_at, k.key_id;
END
$$;
REVOKE ALL ON FUNCTION taskforce._list_api_keys(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._list_api_keys(text, text) IS
    'internal: the body of list_api_keys';

CREATE FUNCTION taskforce.list_api_keys(user_id text DEFAULT NULL, tenant_id text DEFAULT NULL)
    RETURNS TABLE (
        key_id uuid,
        user_id text,
        name text,
        key_prefix text,
        roles text[],
        scopes text[],
        expires_at timestamptz,
        created_at timestamptz,
        created_by text,
        revoked_at timestamptz,
        last_used_at timestamptz,
        status text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._list_api_keys(user_id, tenant_id)
$$;
COMMENT ON FUNCTION taskforce.list_api_keys(text, text) IS
    'the API keys of a user (or of every user) with their status, never the key or its hash; one''s own need no permission, others'' need user:manage';

CREATE FUNCTION taskforce.revoke_api_key(key_id uuid, reason text DEFAULT NULL, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    owner text;
    tenant text;
    k taskforce.api_keys;
BEGIN
    IF revoke_api_key.key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Whose key it is decides whether user:manage is needed.
    SELECT x.user_id INTO owner FROM taskforce.api_keys AS x
     WHERE x.tenant_id = coalesce(taskforce.current_tenant(), revoke_api_key.tenant_id)
       AND x.key_id = revoke_api_key.key_id;
    tenant := taskforce._authorize_self('user:manage', revoke_api_key.tenant_id, owner, true);
    SELECT * INTO k FROM taskforce.api_keys AS x
     WHERE x.tenant_id = tenant AND x.key_id = revoke_api_key.key_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'api key does not exist in tenant "%"', tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    IF k.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'api key is already revoked'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE taskforce.api_keys AS x
       SET revoked_at = pg_catalog.now(), revoked_reason = revoke_api_key.reason
     WHERE x.tenant_id = tenant AND x.key_id = k.key_id;
    PERFORM taskforce._record_security_event(tenant, k.user_id, 'sql', 'api_key_revoked', 'success',
        revoke_api_key.reason, NULL,
        pg_catalog.jsonb_build_object('key_id', k.key_id, 'name', k.name));
END
$$;
COMMENT ON FUNCTION taskforce.revoke_api_key(uuid, text, text) IS
    'revokes an API key for good; its own user, or needs user:manage';

-- rotate_api_key's body, under another name for the reason given at
-- _create_api_key (key_id).
CREATE FUNCTION taskforce._rotate_api_key(old_key_id uuid, overlap interval, tenant_id text)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', _rotate_api_key.tenant_id);
    k taskforce.api_keys;
    u taskforce.users;
    n record;
BEGIN
    IF old_key_id IS NULL OR overlap IS NULL THEN
        RAISE EXCEPTION 'key_id and overlap must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF overlap < interval '0' THEN
        RAISE EXCEPTION 'overlap must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO k FROM taskforce.api_keys AS x
     WHERE x.tenant_id = tenant AND x.key_id = old_key_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'api key does not exist in tenant "%"', tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    IF k.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'api key is revoked'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF k.expires_at <= pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'api key has expired'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create a new key instead.';
    END IF;
    IF k.rotated_to IS NOT NULL THEN
        RAISE EXCEPTION 'api key has already been rotated'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Rotate the key that replaced it.';
    END IF;
    u := taskforce._lock_user(tenant, k.user_id);
    IF u.status <> 'active' THEN
        RAISE EXCEPTION 'user "%" is %', u.user_id, u.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- The new key must not hand out more than the rotating user holds.
    PERFORM taskforce._check_key_roles(tenant, k.roles, true);
    PERFORM taskforce._check_key_scopes(k.scopes);

    SELECT * INTO n FROM taskforce._insert_api_key(tenant, k.user_id, k.name, k.roles, k.scopes,
                                                   k.expires_at, k.metadata);
    IF overlap = interval '0' THEN
        UPDATE taskforce.api_keys AS x
           SET rotated_to = n.key_id, revoked_at = pg_catalog.now(), revoked_reason = 'rotated'
         WHERE x.tenant_id = tenant AND x.key_id = k.key_id;
    ELSE
        UPDATE taskforce.api_keys AS x
           SET rotated_to = n.key_id,
               expires_at = LEAST(x.expires_at, pg_catalog.now() + overlap)
         WHERE x.tenant_id = tenant AND x.key_id = k.key_id;
    END IF;
    PERFORM taskforce._record_security_event(tenant, k.user_id, 'sql', 'api_key_rotated', 'success',
        NULL, NULL,
        pg_catalog.jsonb_build_object('key_id', k.key_id, 'new_key_id', n.key_id, 'name', k.name,
                                      'overlap', overlap));
    key_id := n.key_id;
    api_key := n.api_key;
    key_prefix := n.key_prefix;
    expires_at := n.expires_at;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION taskforce._rotate_api_key(uuid, interval, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._rotate_api_key(uuid, interval, text) IS
    'internal: the body of rotate_api_key';

CREATE FUNCTION taskforce.rotate_api_key(
    key_id uuid, overlap interval DEFAULT '0', tenant_id text DEFAULT NULL)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._rotate_api_key(key_id, overlap, tenant_id)
$$;
COMMENT ON FUNCTION taskforce.rotate_api_key(uuid, interval, text) IS
    'replaces an API key by a new one with the same user, roles, scopes and expiry; the old one is revoked now or expires after overlap; needs user:manage';

SELECT taskforce.enable_tenant_isolation('taskforce.api_keys');
-- src/sql/jwt.sql: JWT issuers, signing keys, verification and login.

-- How tokens of one issuer are checked and mapped to a tenant and user
-- (seed 001's JWTConfig).
CREATE TABLE taskforce.jwt_issuers (
    issuer            text        NOT NULL,
    audiences         text[]      NOT NULL,
    algorithms        text[]      NOT NULL DEFAULT '{RS256}',
    leeway_seconds    integer     NOT NULL DEFAULT 30,
    tenant_claim      text        DEFAULT 'tenant_id',
    tenant_id         text,
    user_claim        text        NOT NULL DEFAULT 'sub',
    roles_claim       text        NOT NULL DEFAULT 'roles',
    username_claim    text        NOT NULL DEFAULT 'preferred_username',
    email_claim       text        NOT NULL DEFAULT 'email',
    trust_token_roles boolean     NOT NULL DEFAULT false,
    provision_users   boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT jwt_issuers_pkey PRIMARY KEY (issuer),
    CONSTRAINT jwt_issuers_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT jwt_issuers_issuer_present CHECK (issuer <> ''),
    CONSTRAINT jwt_issuers_audiences_present CHECK (pg_catalog.cardinality(audiences) > 0),
    CONSTRAINT jwt_issuers_algorithms_known
        CHECK (pg_catalog.cardinality(algorithms) > 0
               AND algorithms <@ ARRAY['HS256', 'HS384', 'HS512', 'RS256', 'ES256']),
    CONSTRAINT jwt_issuers_leeway_range CHECK (leeway_seconds BETWEEN 0 AND 300),
    CONSTRAINT jwt_issuers_tenant_source CHECK ((tenant_claim IS NULL) <> (tenant_id IS NULL))
);
COMMENT ON TABLE taskforce.jwt_issuers IS
    'identity providers whose tokens authenticate_jwt accepts, and how their claims map to tenant, user and roles';
SELECT pg_catalog.pg_extension_config_dump('taskforce.jwt_issuers', '');
REVOKE ALL ON taskforce.jwt_issuers FROM PUBLIC;

-- Signing keys, each bound to one issuer and one algorithm.  Several keys of
-- an issuer may be valid at once, so that keys can be rotated.
CREATE TABLE taskforce.jwt_keys (
    kid        text        NOT NULL,
    issuer     text        NOT NULL,
    algorithm  text        NOT NULL,
    secret     bytea,
    public_key text,
    not_before timestamptz NOT NULL DEFAULT pg_catalog.now(),
    not_after  timestamptz,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT jwt_keys_pkey PRIMARY KEY (kid),
    CONSTRAINT jwt_keys_issuer_fkey FOREIGN KEY (issuer)
        REFERENCES taskforce.jwt_issuers (issuer) ON DELETE CASCADE,
    CONSTRAINT jwt_keys_kid_present CHECK (kid <> ''),
    CONSTRAINT jwt_keys_algorithm_known
        CHECK (algorithm IN ('HS256', 'HS384', 'HS512', 'RS256', 'ES256')),
    -- RFC 7518 3.2: an HMAC key at least as long as the hash output.
    CONSTRAINT jwt_keys_material CHECK (
        CASE WHEN algorithm LIKE 'HS%'
             THEN public_key IS NULL AND secret IS NOT NULL
                  AND pg_catalog.length(secret) >= pg_catalog.substr(algorithm, 3)::integer / 8
             ELSE secret IS NULL AND public_key IS NOT NULL END),
    CONSTRAINT jwt_keys_window CHECK (not_after IS NULL OR not_after > not_before)
);
COMMENT ON TABLE taskforce.jwt_keys IS
    'JWT verification keys by kid: HMAC secrets or RSA/EC public keys, with validity windows for rotation; administrators only';
SELECT pg_catalog.pg_extension_config_dump('taskforce.jwt_keys', '');
REVOKE ALL ON taskforce.jwt_keys FROM PUBLIC;

CREATE TRIGGER invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON taskforce.jwt_issuers FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON taskforce.jwt_keys FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();

CREATE FUNCTION taskforce.configure_jwt_issuer(
    issuer text,
    audiences text[],
    algorithms text[] DEFAULT '{RS256}',
    leeway_seconds integer DEFAULT 30,
    tenant_claim text DEFAULT 'tenant_id',
    tenant_id text DEFAULT NULL,
    user_claim text DEFAULT 'sub',
    roles_claim text DEFAULT 'roles',
    username_claim text DEFAULT 'preferred_username',
    email_claim text DEFAULT 'email',
    trust_token_roles boolean DEFAULT false,
    provision_users boolean DEFAULT false)
    RETURNS taskforce.jwt_issuers
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    i taskforce.jwt_issuers;
    fixed_tenant text := tenant_id;
    claim text := CASE WHEN tenant_id IS NULL THEN tenant_claim END;
BEGIN
    IF issuer IS NULL OR audiences IS NULL OR algorithms IS NULL THEN
        RAISE EXCEPTION 'issuer, audiences and algorithms must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO taskforce.jwt_issuers AS x (
        issuer, audiences, algorithms, leeway_seconds, tenant_claim, tenant_id,
        user_claim, roles_claim, username_claim, email_claim,
        trust_token_roles, provision_users)
    VALUES (issuer, audiences, algorithms, leeway_seconds, claim, fixed_tenant,
            user_claim, roles_claim, username_claim, email_claim,
            trust_token_roles, provision_users)
    ON CONFLICT ON CONSTRAINT jwt_issuers_pkey DO UPDATE
       SET audiences = excluded.audiences, algorithms = excluded.algorithms,
           leeway_seconds = excluded.leeway_seconds, tenant_claim = excluded.tenant_claim,
           tenant_id = excluded.tenant_id, user_claim = excluded.user_claim,
           roles_claim = excluded.roles_claim, username_claim = excluded.username_claim,
           email_claim = excluded.email_claim, trust_token_roles = excluded.trust_token_roles,
           provision_users = excluded.provision_users, updated_at = pg_catalog.now()
    RETURNING * INTO i;
    RETURN i;
EXCEPTION
    WHEN check_violation OR not_null_violation THEN
        RAISE EXCEPTION 'invalid issuer configuration: %', SQLERRM
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Algorithms are HS256, HS384, HS512, RS256 and ES256; leeway is 0 to 300 seconds; give a tenant claim or a fixed tenant.';
    WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'tenant "%" does not exist', fixed_tenant
            USING ERRCODE = 'undefined_object';
END
$$;
REVOKE ALL ON FUNCTION taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean) IS
    'adds or changes a trusted token issuer: audiences, algorithms, leeway and claim mapping; administrators only';

CREATE FUNCTION taskforce.drop_jwt_issuer(issuer text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    DELETE FROM taskforce.jwt_issuers AS x WHERE x.issuer = drop_jwt_issuer.issuer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'issuer "%" does not exist', issuer
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce.drop_jwt_issuer(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.drop_jwt_issuer(text) IS
    'removes an issuer and its keys; its tokens stop verifying in every session by the next transaction';

CREATE FUNCTION taskforce._check_jwt_public_key(algorithm text, public_key text)
    RETURNS void
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_check_jwt_public_key';
REVOKE ALL ON FUNCTION taskforce._check_jwt_public_key(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_jwt_public_key(text, text) IS
    'internal: invalid_parameter_value unless the PEM key suits the algorithm (RSA >= 2048 bits for RS256, P-256 for ES256)';

CREATE FUNCTION taskforce.add_jwt_key(
    kid text,
    issuer text,
    algorithm text,
    secret bytea DEFAULT NULL,
    public_key text DEFAULT NULL,
    not_before timestamptz DEFAULT pg_catalog.now(),
    not_after timestamptz DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF kid IS NULL OR issuer IS NULL OR algorithm IS NULL THEN
        RAISE EXCEPTION 'kid, issuer and algorithm must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF algorithm IN ('RS256', 'ES256') AND public_key IS NOT NULL THEN
        PERFORM taskforce._check_jwt_public_key(algorithm, public_key);
    END IF;
    INSERT INTO taskforce.jwt_keys (kid, issuer, algorithm, secret, public_key, not_before, not_after)
    VALUES (kid, issuer, algorithm, secret, public_key, coalesce(not_before, pg_catalog.now()), not_after);
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'key "%" already exists', kid
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Key ids must be unique; rotate by adding a key with a new kid.';
    WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'issuer "%" does not exist', issuer
            USING ERRCODE = 'undefined_object',
                  HINT = 'Configure it first with taskforce.configure_jwt_issuer().';
    WHEN check_violation THEN
        RAISE EXCEPTION 'invalid key "%": %', kid, SQLERRM
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'HS keys take a secret at least as long as the hash (32, 48 or 64 bytes); RS256 and ES256 keys take a PEM public key; not_after must follow not_before.';
END
$$;
REVOKE ALL ON FUNCTION taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz) IS
    'stores a verification key for an issuer, bound to one algorithm and valid from not_before until not_after; administrators only';

CREATE FUNCTION taskforce.retire_jwt_key(kid text, not_after timestamptz DEFAULT pg_catalog.now())
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    UPDATE taskforce.jwt_keys AS k SET not_after = greatest(retire_jwt_key.not_after, k.not_before + interval '1 microsecond')
     WHERE k.kid = retire_jwt_key.kid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" does not exist', kid
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce.retire_jwt_key(text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.retire_jwt_key(text, timestamptz) IS
    'ends a key''s validity at not_after (now by default): the last step of a rotation; administrators only';

CREATE FUNCTION taskforce._mint_jwt(header text, payload text, secret bytea, algorithm text)
    RETURNS text
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_mint_jwt';
REVOKE ALL ON FUNCTION taskforce._mint_jwt(text, text, bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._mint_jwt(text, text, bytea, text) IS
    'internal: encodes and HMAC-signs a token';

CREATE FUNCTION taskforce.mint_jwt(claims jsonb, kid text, ttl interval DEFAULT '1 hour')
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k taskforce.jwt_keys;
    now_epoch bigint := pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()));
    payload jsonb;
BEGIN
    IF claims IS NULL OR jsonb_typeof(claims) <> 'object' THEN
        RAISE EXCEPTION 'claims must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO k FROM taskforce.jwt_keys AS x WHERE x.kid = mint_jwt.kid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" does not exist', kid
            USING ERRCODE = 'undefined_object';
    END IF;
    IF k.secret IS NULL THEN
        RAISE EXCEPTION 'key "%" is a % public key and cannot sign', kid, k.algorithm
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'mint_jwt signs with HS256, HS384 or HS512 keys only.';
    END IF;
    payload := jsonb_build_object('iss', k.issuer, 'iat', now_epoch,
                                  'exp', now_epoch + pg_catalog.floor(pg_catalog.date_part('epoch', ttl))::bigint)
               || claims;
    RETURN taskforce._mint_jwt(
        jsonb_build_object('alg', k.algorithm, 'typ', 'JWT', 'kid', k.kid)::text,
        payload::text, k.secret, k.algorithm);
END
$$;
REVOKE ALL ON FUNCTION taskforce.mint_jwt(jsonb, text, interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.mint_jwt(jsonb, text, interval) IS
    'signs a token with an HS key, adding iss, iat and exp unless the claims give them; for development and tests; administrators only';

CREATE FUNCTION taskforce.verify_jwt(token text)
    RETURNS jsonb
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'taskforce_verify_jwt';
COMMENT ON FUNCTION taskforce.verify_jwt(text) IS
    'the claims of a token whose signature, issuer, audience and times verify; invalid_authorization_specification otherwise';

CREATE FUNCTION taskforce._jwt_identity(
    token text,
    OUT verified boolean,
    OUT failure text,
    OUT issuer text,
    OUT kid text,
    OUT tenant_id text,
    OUT user_id text,
    OUT roles text[],
    OUT username text,
    OUT email text,
    OUT expires_at timestamptz,
    OUT provision_users boolean,
    OUT trust_token_roles boolean)
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'taskforce_jwt_identity';
REVOKE ALL ON FUNCTION taskforce._jwt_identity(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._jwt_identity(text) IS
    'internal: verifies a token and maps its claims to tenant, user and roles, returning the failure instead of raising it';

CREATE FUNCTION taskforce.authenticate_jwt(
    token text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id record;
    details jsonb;
    remaining interval;
    provisioned boolean := true;
BEGIN
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    id := taskforce._jwt_identity(token);
    details := jsonb_strip_nulls(jsonb_build_object('issuer', id.issuer, 'kid', id.kid));
    IF NOT id.verified THEN
        PERFORM taskforce._reject_authentication('jwt', id.tenant_id, id.user_id, id.failure,
                                                 client_addr, details);
    END IF;
    IF id.provision_users AND NOT EXISTS (
            SELECT FROM taskforce.users AS u
             WHERE u.tenant_id = id.tenant_id AND u.user_id = id.user_id)
       AND EXISTS (SELECT FROM taskforce.tenants AS t
                    WHERE t.tenant_id = id.tenant_id AND t.status = 'active') THEN
        BEGIN
            INSERT INTO taskforce.users (tenant_id, user_id, username, email)
            VALUES (id.tenant_id, id.user_id, coalesce(id.username, id.user_id), id.email);
            PERFORM taskforce._record_security_event(id.tenant_id, id.user_id, 'jwt', 'user_created',
                'success', 'provisioned from a token', client_addr, details);
        EXCEPTION
            WHEN check_violation OR unique_violation THEN
                -- A concurrent first login may have provisioned the user;
                -- otherwise the claims clash with the rules or another user.
                provisioned := EXISTS (SELECT FROM taskforce.users AS u
                                        WHERE u.tenant_id = id.tenant_id AND u.user_id = id.user_id);
        END;
        IF NOT provisioned THEN
            PERFORM taskforce._reject_authentication('jwt', id.tenant_id, id.user_id,
                'token claims cannot provision a user', client_addr, details);
        END IF;
    END IF;
    -- The context never outlives the token.
    remaining := id.expires_at - pg_catalog.clock_timestamp();
    IF ttl IS NULL OR ttl > remaining THEN
        ttl := least(remaining, pg_catalog.current_setting('taskforce.max_context_ttl')::interval);
    END IF;
    PERFORM taskforce._complete_authentication(id.tenant_id, id.user_id, 'jwt',
        CASE WHEN id.trust_token_roles THEN id.roles END, NULL, scope, ttl, client_addr, details);
END
$$;
COMMENT ON FUNCTION taskforce.authenticate_jwt(text, text, interval, inet) IS
    'verifies a JWT and establishes the context of its tenant and user; pass the token as a bind parameter';
-- src/sql/roles.sql: the database roles an installation needs, made on request.

CREATE FUNCTION taskforce.setup_roles(
    app_role name DEFAULT 'taskforce_app',
    admin_role name DEFAULT 'taskforce_admin',
    auditor_role name DEFAULT 'taskforce_auditor',
    bi_role name DEFAULT 'taskforce_bi')
    RETURNS TABLE (role_name name, purpose text, created boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
    existing pg_catalog.pg_roles;
    is_new boolean;
BEGIN
    IF app_role IS NULL OR admin_role IS NULL OR auditor_role IS NULL OR bi_role IS NULL THEN
        RAISE EXCEPTION 'role names must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(ARRAY[app_role, admin_role, auditor_role, bi_role]) AS x) <> 4 THEN
        RAISE EXCEPTION 'the four role names must be distinct'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT * FROM (VALUES
            (app_role, 'application: subject to tenant isolation, establishes context only with credentials'),
            (admin_role, 'trusted middleware and administrators: may act_as, manage tenants, users, roles and token keys'),
            (auditor_role, 'auditors: read-only access to evidence and security events'),
            (bi_role, 'BI tools: read-only access to reporting views')) AS v(name, purpose)
    LOOP
        SELECT * INTO existing FROM pg_catalog.pg_roles AS pr WHERE pr.rolname = r.name;
        is_new := NOT FOUND;
        IF NOT is_new AND (existing.rolsuper OR existing.rolbypassrls) THEN
            RAISE EXCEPTION 'role "%" bypasses row-level security', r.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'taskforce roles must be subject to tenant isolation; choose another name.';
        END IF;
        IF is_new THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
        END IF;
        role_name := r.name;
        purpose := r.purpose;
        created := is_new;
        RETURN NEXT;
    END LOOP;

    EXECUTE format('GRANT USAGE ON SCHEMA taskforce TO %I, %I, %I, %I',
                   app_role, admin_role, auditor_role, bi_role);
    -- Application: its own tenant's rows (tenant isolation filters them),
    -- the permission catalog and the system roles.
    EXECUTE format('GRANT SELECT ON taskforce.tenants, taskforce.users, taskforce.roles,
        taskforce.role_grants, taskforce.password_policies, taskforce.permissions,
        taskforce.system_roles TO %I, %I', app_role, admin_role);
    -- Security events: administrators and auditors.
    EXECUTE format('GRANT SELECT ON taskforce.security_events TO %I, %I', admin_role, auditor_role);
    -- Token issuers and keys: administrators only.
    EXECUTE format('GRANT SELECT ON taskforce.jwt_issuers, taskforce.jwt_keys TO %I', admin_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION
        taskforce.register_permission(text, text),
        taskforce.unregister_permission(text),
        taskforce.has_permission(text, text, text),
        taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean),
        taskforce.drop_jwt_issuer(text),
        taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz),
        taskforce.retire_jwt_key(text, timestamptz),
        taskforce.mint_jwt(jsonb, text, interval) TO %I', admin_role);
    -- Middleware and administrators: establish contexts, manage tenants.
    EXECUTE format('GRANT EXECUTE ON FUNCTION
        taskforce.act_as(text, text, text[], text, interval),
        taskforce.create_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
        taskforce.update_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
        taskforce.suspend_tenant(text, text),
        taskforce.reactivate_tenant(text),
        taskforce.delete_tenant(text, text),
        taskforce.list_tenants(text) TO %I', admin_role);
END
$$;
COMMENT ON FUNCTION taskforce.setup_roles(name, name, name, name) IS
    'creates (if missing) the application, admin, auditor and BI group roles and grants their privileges';
