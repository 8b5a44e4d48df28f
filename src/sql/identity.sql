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
    CONSTRAINT system_roles_pkey PRIMARY KEY (role_name),
    -- The permission cache (rbac.c) reads these arrays.
    CONSTRAINT system_roles_permissions_no_null
        CHECK (pg_catalog.array_position(permissions, NULL) IS NULL)
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
COMMENT ON COLUMN taskforce.users.last_login_at IS
    'latest recorded login: every password login, the first use of each token or key in taskforce.auth_success_event_interval (default 1 hour); written when queued events are flushed';
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
    CONSTRAINT roles_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
    -- The permission cache (rbac.c) reads these arrays.
    CONSTRAINT roles_permissions_no_null CHECK (pg_catalog.array_position(permissions, NULL) IS NULL)
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
    IF pg_catalog.array_ndims(patterns) > 1 THEN
        RAISE EXCEPTION 'permissions must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(patterns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'permissions must not contain null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH p IN ARRAY patterns LOOP
        IF NOT taskforce.is_permission_pattern(p) THEN
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
    -- The username logs in by password and the email may reset it: changing
    -- either is managing the user's credentials.
    IF update_user.username IS DISTINCT FROM u.username AND update_user.username IS NOT NULL
       OR update_user.email IS DISTINCT FROM u.email AND update_user.email IS NOT NULL THEN
        PERFORM taskforce._check_may_manage_user(tenant, update_user.user_id, false);
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
    PERFORM taskforce._check_may_manage_user(tenant_id, user_id, false);
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
    PERFORM taskforce._check_may_manage_user(tenant, user_id, false);
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

-- Refuses to let a context user hand out, or take away, permissions it
-- does not hold itself: every catalog permission the patterns match, and
-- every wildcard (which may match permissions registered later) must be
-- covered by a pattern the user holds and by its credential's scopes.
-- With a subject, the patterns are what that user holds, and the error
-- names the user and those of its patterns the context lacks (see
-- _check_may_manage_user).  Administrators without a context are not
-- limited.
CREATE FUNCTION taskforce._check_no_escalation(patterns text[], subject text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    missing_permissions text[];
    missing_wildcards text[];
    missing_patterns text;
    scopes text[];
BEGIN
    IF taskforce.current_tenant() IS NULL THEN
        RETURN;
    END IF;
    SELECT pg_catalog.array_agg(c.permission ORDER BY c.permission) INTO missing_permissions
      FROM taskforce.permissions AS c
     WHERE taskforce.permission_matches(patterns, c.permission)
       AND NOT taskforce.has_permission(c.permission);
    scopes := (taskforce.current_context()).permission_scopes;
    SELECT pg_catalog.array_agg(DISTINCT w.pattern ORDER BY w.pattern) INTO missing_wildcards
      FROM pg_catalog.unnest(patterns) AS w(pattern)
     WHERE w.pattern ~ '\*'
       AND (NOT EXISTS (SELECT FROM taskforce._permission_sources(taskforce.current_tenant(),
                                                                  taskforce.current_user_id(),
                                                                  taskforce.current_roles()) AS s
                         WHERE taskforce._pattern_covers(s.pattern, w.pattern))
            OR (scopes IS NOT NULL
                AND NOT EXISTS (SELECT FROM pg_catalog.unnest(scopes) AS sc(pattern)
                                 WHERE taskforce._pattern_covers(sc.pattern, w.pattern))));
    IF missing_permissions IS NULL AND missing_wildcards IS NULL THEN
        RETURN;
    END IF;
    IF subject IS NULL THEN
        IF missing_permissions IS NOT NULL THEN
            RAISE EXCEPTION 'cannot hand out permissions you do not hold: %',
                            pg_catalog.array_to_string(missing_permissions, ', ')
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RAISE EXCEPTION 'cannot hand out wildcards you do not hold: %',
                        pg_catalog.array_to_string(missing_wildcards, ', ')
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A wildcard also grants permissions registered later; you must hold a pattern that covers it.';
    END IF;
    -- The subject's patterns that reach past the context, as it holds them.
    SELECT pg_catalog.string_agg(DISTINCT w.pattern, ', ' ORDER BY w.pattern) INTO missing_patterns
      FROM pg_catalog.unnest(patterns) AS w(pattern)
     WHERE w.pattern = ANY (coalesce(missing_wildcards, '{}'))
        OR EXISTS (SELECT FROM pg_catalog.unnest(missing_permissions) AS m(permission)
                    WHERE taskforce.permission_matches(ARRAY[w.pattern], m.permission));
    IF subject = taskforce.current_user_id() THEN
        RAISE EXCEPTION 'the password of user "%" carries permissions this context is limited away from: %',
                        subject, missing_patterns
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Do it from a context without scopes; see "Who may manage whom" in docs/identity.md.';
    END IF;
    RAISE EXCEPTION 'cannot manage user "%", who holds permissions this context does not: %',
                    subject, missing_patterns
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'A context may manage only users whose every permission it holds itself; see "Who may manage whom" in docs/identity.md.';
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_no_escalation(text[], text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_no_escalation(text[], text) IS
    'internal: insufficient_privilege when the context user lacks a permission the patterns cover (held by subject, if named)';

-- The rule of "Who may manage whom" (docs/identity.md), for every function
-- that mints, resets, replaces or takes away a user's credential, changes
-- its status or identity, deletes it or demotes it: a context may act only
-- on users whose every permission it holds itself.  The user's permissions
-- are those of its unexpired role grants and of the roles its live API keys
-- assert, whatever its status (reactivating gives them back).  Acting on
-- its own user is always allowed, except when sets_password (the call sets
-- or unlocks a password, which carries all of the user's grants) and the
-- context holds less than them (it is limited to scopes).  The user's row
-- is locked first, so that a grant committed meanwhile is counted: grant_role
-- locks the same row.  Administrators without a context are not limited.
CREATE FUNCTION taskforce._check_may_manage_user(tenant_id text, user_id text, sets_password boolean)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    patterns text[];
BEGIN
    IF taskforce.current_tenant() IS NULL THEN
        RETURN;
    END IF;
    IF _check_may_manage_user.user_id = taskforce.current_user_id()
       AND _check_may_manage_user.tenant_id = taskforce.current_tenant()
       AND NOT sets_password THEN
        RETURN;
    END IF;
    PERFORM FROM taskforce.users AS u
     WHERE u.tenant_id = _check_may_manage_user.tenant_id AND u.user_id = _check_may_manage_user.user_id
       FOR UPDATE;
    -- What it holds: its unexpired grants, and the roles its live API keys
    -- assert (deactivating or deleting it, or revoking a key, takes those away).
    SELECT coalesce(pg_catalog.array_agg(DISTINCT p.pattern), '{}') INTO patterns
      FROM (SELECT g.role_name FROM taskforce.role_grants AS g
             WHERE g.tenant_id = _check_may_manage_user.tenant_id
               AND g.user_id = _check_may_manage_user.user_id
               AND (g.expires_at IS NULL OR g.expires_at > pg_catalog.statement_timestamp())
            UNION
            SELECT a.role_name FROM taskforce.api_keys AS k
             CROSS JOIN LATERAL pg_catalog.unnest(k.roles) AS a(role_name)
             WHERE k.tenant_id = _check_may_manage_user.tenant_id
               AND k.user_id = _check_may_manage_user.user_id
               AND k.revoked_at IS NULL
               AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.statement_timestamp())) AS held
      CROSS JOIN LATERAL (
            SELECT s.permissions FROM taskforce.system_roles AS s
             WHERE s.role_name = held.role_name
            UNION ALL
            SELECT r.permissions FROM taskforce.roles AS r
             WHERE r.tenant_id = _check_may_manage_user.tenant_id
               AND r.role_name = held.role_name) AS role_def
      CROSS JOIN LATERAL pg_catalog.unnest(role_def.permissions) AS p(pattern);
    PERFORM taskforce._check_no_escalation(patterns, _check_may_manage_user.user_id);
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_may_manage_user(text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_may_manage_user(text, text, boolean) IS
    'internal: insufficient_privilege unless the context may manage the user (holds every permission it holds)';

-- Changing a role's permissions or deleting it demotes every user holding
-- it (by a grant, or through a live API key asserting it): each must be a
-- user the context may manage.
CREATE FUNCTION taskforce._check_may_manage_role_holders(tenant_id text, role_name text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    holder text;
BEGIN
    IF taskforce.current_tenant() IS NULL THEN
        RETURN;
    END IF;
    FOR holder IN
        SELECT g.user_id FROM taskforce.role_grants AS g
         WHERE g.tenant_id = _check_may_manage_role_holders.tenant_id
           AND g.role_name = _check_may_manage_role_holders.role_name
           AND (g.expires_at IS NULL OR g.expires_at > pg_catalog.statement_timestamp())
        UNION
        SELECT k.user_id FROM taskforce.api_keys AS k
         WHERE k.tenant_id = _check_may_manage_role_holders.tenant_id
           AND _check_may_manage_role_holders.role_name = ANY (k.roles)
           AND k.revoked_at IS NULL
           AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.statement_timestamp())
        ORDER BY 1
    LOOP
        PERFORM taskforce._check_may_manage_user(tenant_id, holder, false);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_may_manage_role_holders(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_may_manage_role_holders(text, text) IS
    'internal: insufficient_privilege unless the context may manage every user holding the role';

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
    SELECT * INTO r FROM taskforce.roles AS x
     WHERE x.tenant_id = tenant AND x.role_name = update_role.role_name
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist in tenant "%"', role_name, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    -- What the change takes away counts as much as what it adds: the old
    -- permissions must be held too, and every holder be manageable.
    IF permissions IS NOT NULL THEN
        PERFORM taskforce._check_may_manage_role_holders(tenant, role_name);
        PERFORM taskforce._check_no_escalation(r.permissions);
    END IF;
    UPDATE taskforce.roles AS x
       SET permissions = coalesce(update_role.permissions, x.permissions),
           description = coalesce(update_role.description, x.description),
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.role_name = update_role.role_name
    RETURNING * INTO r;
    PERFORM taskforce._record_security_event(tenant, NULL, 'sql', 'role_updated', 'success', NULL, NULL,
        pg_catalog.jsonb_build_object('role', role_name, 'permissions', r.permissions));
    RETURN r;
END
$$;
COMMENT ON FUNCTION taskforce.update_role(text, text[], text, text) IS
    'changes a custom role''s permissions or description; needs role:manage and, to change permissions in a context, every permission before and after and may manage every holder';

CREATE FUNCTION taskforce.delete_role(role_name text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('role:manage', tenant_id);
    patterns text[];
BEGIN
    IF EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = delete_role.role_name) THEN
        RAISE EXCEPTION 'role "%" is a system role and cannot be deleted', role_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Deleting a role revokes it from every holder: it needs what revoking
    -- needs, for each of them.
    SELECT x.permissions INTO patterns FROM taskforce.roles AS x
     WHERE x.tenant_id = tenant AND x.role_name = delete_role.role_name
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist in tenant "%"', role_name, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM taskforce._check_may_manage_role_holders(tenant, role_name);
    PERFORM taskforce._check_no_escalation(patterns);
    DELETE FROM taskforce.roles AS x
     WHERE x.tenant_id = tenant AND x.role_name = delete_role.role_name;
    DELETE FROM taskforce.role_grants AS g
     WHERE g.tenant_id = tenant AND g.role_name = delete_role.role_name;
    PERFORM taskforce._record_security_event(tenant, NULL, 'sql', 'role_deleted', 'success', NULL, NULL,
        pg_catalog.jsonb_build_object('role', role_name));
END
$$;
COMMENT ON FUNCTION taskforce.delete_role(text, text) IS
    'deletes a custom role and every grant of it; needs role:manage and, in a context, every permission the role grants and may manage every holder';

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
    -- Granting again replaces the grant: one that ends sooner takes the
    -- role away, as revoke_role does, and needs what revoking needs.
    IF EXISTS (SELECT FROM taskforce.role_grants AS x
                WHERE x.tenant_id = tenant AND x.user_id = grant_role.user_id
                  AND x.role_name = grant_role.role_name
                  AND grant_role.expires_at < coalesce(x.expires_at, 'infinity')) THEN
        PERFORM taskforce._check_may_manage_user(tenant, grant_role.user_id, false);
    END IF;
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
    'grants a system or custom role to a user, optionally until expires_at; needs role:manage and, to make a grant end sooner, may manage the user';

CREATE FUNCTION taskforce.revoke_role(user_id text, role_name text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('role:manage', tenant_id);
BEGIN
    -- Taking a role away needs what giving it needs, and demotes the user:
    -- a role manager cannot demote someone who holds more than it does.
    PERFORM taskforce._check_no_escalation(taskforce._role_permissions(tenant, role_name));
    PERFORM taskforce._check_may_manage_user(tenant, revoke_role.user_id, false);
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
    'takes a role away from a user; needs role:manage and, in a context, every permission the role grants and may manage the user';

-- The last step of every authentication: the tenant must be active and the
-- user active; roles the credential asserts count only if they exist.  It
-- writes nothing: the success event (and with it last_login_at and
-- last_used_at) is queued for the credential's first use in
-- taskforce.auth_success_event_interval (every use when credential is
-- null), so authentication works in a read-only transaction and on a hot
-- standby.  Not SECURITY DEFINER and called only by taskforce's SECURITY
-- DEFINER functions, whose pinned search_path it runs under: a SET clause
-- of its own would only add a setting change to every authentication.
CREATE FUNCTION taskforce._complete_authentication(
    tenant_id text,
    user_id text,
    method text,
    asserted_roles text[],
    permission_scopes text[],
    scope text,
    ttl interval,
    client_addr inet,
    details jsonb,
    credential text)
    RETURNS void
    LANGUAGE plpgsql
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
    IF asserted_roles IS NULL OR pg_catalog.cardinality(asserted_roles) = 0 THEN
        known_roles := '{}';
    ELSE
        SELECT coalesce(pg_catalog.array_agg(DISTINCT a.role_name ORDER BY a.role_name), '{}') INTO known_roles
          FROM pg_catalog.unnest(asserted_roles) AS a(role_name)
         WHERE EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = a.role_name)
            OR EXISTS (SELECT FROM taskforce.roles AS r
                        WHERE r.tenant_id = _complete_authentication.tenant_id
                          AND r.role_name = a.role_name);
    END IF;
    PERFORM taskforce._establish_context(tenant_id, user_id, known_roles, method,
                                         scope, ttl, permission_scopes);
    PERFORM taskforce._note_authentication(method, credential, tenant_id, user_id,
                                           client_addr, details);
END
$$;
REVOKE ALL ON FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb, text) IS
    'internal: after a credential verifies, checks tenant and user, establishes the context and queues the login''s event';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.users'::regclass), ('taskforce.roles'), ('taskforce.role_grants')) AS v(t);
