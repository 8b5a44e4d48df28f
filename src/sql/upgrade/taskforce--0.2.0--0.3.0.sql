-- src/sql/upgrade/0.2.0--0.3.0.sql: the changes 0.3.0 makes to objects of
-- 0.2.0.  The upgrade script is this file, the files new in 0.3.0,
-- roles.sql and 0.2.0--0.3.0-roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.3.0'" to load this file. \quit

-- setup_roles() now records the roles it sets up (roles.sql recreates it).
DROP FUNCTION taskforce.setup_roles(name, name, name, name);
-- src/sql/upgrade/0.2.0--0.3.0-escalation.sql: what 0.3.0 changes in 0.2.0's objects for the escalation fixes.

-- Who may manage whom (docs/identity.md): one rule, _check_may_manage_user,
-- called by every function that manages a user's credentials, status,
-- identity, existence or roles.  _check_no_escalation gains a subject and
-- _authorize_self's last argument now says whether the call sets a
-- password, so both are dropped and made again.
DROP FUNCTION taskforce._check_no_escalation(text[]);
DROP FUNCTION taskforce._authorize_self(text, text, text, boolean);

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

CREATE FUNCTION taskforce._authorize_self(
    permission text, tenant_id text, subject text, sets_password boolean)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ctx record := taskforce.current_context();
    tenant text;
BEGIN
    IF ctx.tenant_id IS NOT NULL AND subject = ctx.user_id
       AND (_authorize_self.tenant_id IS NULL OR _authorize_self.tenant_id = ctx.tenant_id)
       AND (sets_password IS NOT TRUE OR ctx.auth_method <> 'api_key')
       AND EXISTS (SELECT FROM taskforce.users AS u
                    WHERE u.tenant_id = ctx.tenant_id AND u.user_id = subject
                      AND u.status = 'active') THEN
        tenant := ctx.tenant_id;
    ELSE
        tenant := taskforce._authorize(permission, _authorize_self.tenant_id);
    END IF;
    IF subject IS NOT NULL AND sets_password IS NOT NULL THEN
        PERFORM taskforce._check_may_manage_user(tenant, subject, sets_password);
    END IF;
    RETURN tenant;
END
$$;
REVOKE ALL ON FUNCTION taskforce._authorize_self(text, text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._authorize_self(text, text, text, boolean) IS
    'internal: the tenant a call about a user''s credentials acts on; the context''s own user needs no permission; checks who may manage whom';

CREATE OR REPLACE FUNCTION taskforce.update_user(
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

CREATE OR REPLACE FUNCTION taskforce._set_user_status(
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

CREATE OR REPLACE FUNCTION taskforce.delete_user(user_id text, tenant_id text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION taskforce.update_role(
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

CREATE OR REPLACE FUNCTION taskforce.delete_role(role_name text, tenant_id text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION taskforce.revoke_role(user_id text, role_name text, tenant_id text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION taskforce.set_password(user_id text, password text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize_self('user:manage', tenant_id, user_id, true);
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

CREATE OR REPLACE FUNCTION taskforce._create_api_key(
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
    PERFORM taskforce._check_may_manage_user(tenant, u.user_id, false);
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

CREATE OR REPLACE FUNCTION taskforce._list_api_keys(subject text, tenant_id text)
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
                                             subject, NULL);
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

CREATE OR REPLACE FUNCTION taskforce.revoke_api_key(key_id uuid, reason text DEFAULT NULL, tenant_id text DEFAULT NULL)
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
    tenant := taskforce._authorize_self('user:manage', revoke_api_key.tenant_id, owner, false);
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

CREATE OR REPLACE FUNCTION taskforce._rotate_api_key(old_key_id uuid, overlap interval, tenant_id text)
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
    PERFORM taskforce._check_may_manage_user(tenant, u.user_id, false);
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

-- Granting a role again with an earlier expiry takes it away: it needs what
-- revoke_role needs (the user must be one the context may manage).
CREATE OR REPLACE FUNCTION taskforce.grant_role(
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
-- src/sql/upgrade/0.2.0--0.3.0-lockout.sql: what 0.3.0 changes in 0.2.0's objects for the lockout fixes.
-- Failed passwords are counted in shared memory before the password is
-- checked (src/auth/lockout.c) instead of by a background worker;
-- authentication events that cannot be written in the caller's transaction
-- go through a shared-memory queue (src/auth/events.c); bearer-credential
-- authentication writes nothing.  The definitions below are those of
-- src/sql/security_events.sql, passwords.sql, identity.sql, jwt.sql and
-- api_keys.sql.

ALTER TABLE taskforce.security_events DROP CONSTRAINT security_events_event_known;
ALTER TABLE taskforce.security_events ADD CONSTRAINT security_events_event_known CHECK (event IN (
        'authentication', 'lockout',
        'api_key_created', 'api_key_revoked', 'api_key_rotated',
        'role_granted', 'role_revoked', 'role_created', 'role_updated', 'role_deleted',
        'user_created', 'user_updated', 'user_deactivated', 'user_reactivated',
        'user_deleted', 'user_unlocked', 'password_changed', 'password_policy_changed',
        'events_lost'));

DROP FUNCTION taskforce._record_failed_authentication(text, text, text, text, inet, jsonb, text, text);
DROP FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb);

CREATE OR REPLACE FUNCTION taskforce._record_security_event(
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
    -- Whoever writes next carries the queued events along.
    PERFORM taskforce.flush_security_events(interval '0');
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
    'internal: appends a security event in the caller''s transaction, after the queued ones';

COMMENT ON FUNCTION taskforce._reject_authentication(text, text, text, text, inet, jsonb) IS
    'internal: queues a failed authentication, then raises (for passwords, one generic failure whatever the reason)';

CREATE FUNCTION taskforce._apply_queued_record(record jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    at timestamptz := coalesce((record->>'occurred_at')::timestamptz, pg_catalog.clock_timestamp());
BEGIN
    IF record->>'record' = 'password_attempts' THEN
        UPDATE taskforce.user_credentials AS c
           SET failed_attempts = (record->>'failed_attempts')::integer,
               locked_until = (record->>'locked_until')::timestamptz
         WHERE c.tenant_id = record->>'tenant_id' AND c.user_id = record->>'user_id'
           AND (c.failed_attempts, c.locked_until) IS DISTINCT FROM
               ((record->>'failed_attempts')::integer, (record->>'locked_until')::timestamptz);
        RETURN;
    END IF;
    IF record->>'record' IS DISTINCT FROM 'event' THEN
        -- Cannot happen (the C code builds every record); raising would
        -- keep the record, and every later flush, failing forever.
        RAISE WARNING 'taskforce: skipped an unknown queued record: %', record;
        RETURN;
    END IF;
    INSERT INTO taskforce.security_events
        (occurred_at, tenant_id, user_id, actor, method, event, outcome, reason, client_addr,
         db_role, details)
    VALUES (at, record->>'tenant_id', record->>'user_id',
            coalesce(record->>'actor', session_user::text),
            coalesce(record->>'method', 'unknown'), record->>'event', record->>'outcome',
            record->>'reason', (record->>'client_addr')::inet,
            coalesce(record->>'db_role', session_user::text),
            CASE WHEN jsonb_typeof(record->'details') = 'object' THEN record->'details'
                 ELSE '{}'::jsonb END);
    IF record->>'event' = 'authentication' AND record->>'outcome' = 'success' THEN
        UPDATE taskforce.users AS u SET last_login_at = at
         WHERE u.tenant_id = record->>'tenant_id' AND u.user_id = record->>'user_id'
           AND (u.last_login_at IS NULL OR u.last_login_at < at);
        IF record->>'method' = 'api_key' AND record->'details' ? 'key_id' THEN
            UPDATE taskforce.api_keys AS k SET last_used_at = at
             WHERE k.tenant_id = record->>'tenant_id'
               AND k.key_id = (record->'details'->>'key_id')::uuid
               AND (k.last_used_at IS NULL OR k.last_used_at < at);
        END IF;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._apply_queued_record(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._apply_queued_record(jsonb) IS
    'internal: writes one record of the security event queue (an event, or a user''s failed-password counters)';

CREATE FUNCTION taskforce.flush_security_events(max_age interval DEFAULT '10 seconds')
    RETURNS bigint
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'taskforce_flush_security_events';
REVOKE ALL ON FUNCTION taskforce.flush_security_events(interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.flush_security_events(interval) IS
    'writes this database''s queued security events (if the oldest has waited max_age) and failed-password counters; returns the rows written';

CREATE FUNCTION taskforce._note_authentication(
    method text,
    credential text,
    tenant_id text,
    user_id text,
    client_addr inet,
    details jsonb)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_note_authentication';
REVOKE ALL ON FUNCTION taskforce._note_authentication(text, text, text, text, inet, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._note_authentication(text, text, text, text, inet, jsonb) IS
    'internal: queues a success event for the first use of a credential in taskforce.auth_success_event_interval';

COMMENT ON COLUMN taskforce.user_credentials.failed_attempts IS
    'failed passwords since the last success, unlock or lockout, as last persisted from shared memory (src/auth/lockout.c)';
COMMENT ON COLUMN taskforce.user_credentials.locked_until IS
    'no password is accepted before this time, as last persisted from shared memory (src/auth/lockout.c)';

CREATE FUNCTION taskforce._password_attempt_begin(
    tenant_id text, user_id text, stored_failed_attempts integer,
    stored_locked_until timestamptz, max_failed_attempts integer, lockout_minutes integer)
    RETURNS text
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_password_attempt_begin';
REVOKE ALL ON FUNCTION taskforce._password_attempt_begin(text, text, integer, timestamptz, integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_attempt_begin(text, text, integer, timestamptz, integer, integer) IS
    'internal: counts a password attempt before its outcome; null to go on, or why it must fail (locked)';

CREATE FUNCTION taskforce._password_attempt_end(
    tenant_id text, user_id text, succeeded boolean,
    max_failed_attempts integer, lockout_minutes integer)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_password_attempt_end';
REVOKE ALL ON FUNCTION taskforce._password_attempt_end(text, text, boolean, integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_attempt_end(text, text, boolean, integer, integer) IS
    'internal: ends a counted password attempt: a success clears the count, a failure may lock the account';

CREATE FUNCTION taskforce._password_locked_until(
    tenant_id text, user_id text, stored_locked_until timestamptz)
    RETURNS timestamptz
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_password_locked_until';
REVOKE ALL ON FUNCTION taskforce._password_locked_until(text, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_locked_until(text, text, timestamptz) IS
    'internal: until when a user is locked out (null when not), from shared memory or else the stored value';

CREATE FUNCTION taskforce._password_state_changed()
    RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_password_state_changed';
REVOKE ALL ON FUNCTION taskforce._password_state_changed() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_state_changed() IS
    'internal: trigger that makes a committed change to a credentials row (unlock, new password) replace the shared counters';

CREATE TRIGGER reset_lockout_state
    AFTER INSERT OR UPDATE OR DELETE ON taskforce.user_credentials
    FOR EACH ROW EXECUTE FUNCTION taskforce._password_state_changed();

CREATE OR REPLACE FUNCTION taskforce.unlock_user(user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', tenant_id);
    c taskforce.user_credentials;
BEGIN
    PERFORM taskforce._lock_user(tenant, user_id);
    -- Unlocking lets guessing go on: for its own user, a context limited to
    -- scopes must not reopen the way to a password wider than itself.
    PERFORM taskforce._check_may_manage_user(tenant, user_id, true);
    SELECT * INTO c FROM taskforce.user_credentials AS x
     WHERE x.tenant_id = tenant AND x.user_id = unlock_user.user_id
       FOR UPDATE;
    c.locked_until := taskforce._password_locked_until(tenant, unlock_user.user_id, c.locked_until);
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

-- Counted in shared memory before the password is checked; one answer
-- after the same work, whatever the reason.
CREATE OR REPLACE FUNCTION taskforce.authenticate_password(
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
    policy taskforce.password_policies;
    failure text;
    hash text;
    tenant_status text;
    details jsonb := '{}';
BEGIN
    IF tenant_id IS NULL OR username IS NULL OR password IS NULL THEN
        RAISE EXCEPTION 'tenant_id, username and password must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A cancellation (statement_timeout, pg_cancel_backend) can land at
    -- any statement of this block, and the statement it lands in depends on
    -- the user and on the password.  Re-raised from one place, it tells
    -- neither.  (The attempt stays counted; its event is queued when the
    -- transaction ends.)
    BEGIN
        policy := taskforce._password_policy(authenticate_password.tenant_id);
        SELECT * INTO u FROM taskforce.users AS x
         WHERE x.tenant_id = authenticate_password.tenant_id
           AND x.username = authenticate_password.username;
        IF FOUND THEN
            SELECT * INTO c FROM taskforce.user_credentials AS x
             WHERE x.tenant_id = u.tenant_id AND x.user_id = u.user_id;
        END IF;

        -- Counted before the password is looked at (nothing to count without
        -- a password, but the same call, and the same error if not preloaded).
        failure := taskforce._password_attempt_begin(c.tenant_id, c.user_id, c.failed_attempts,
            c.locked_until, policy.max_failed_attempts, policy.lockout_minutes);
        IF c.user_id IS NULL THEN
            failure := CASE WHEN u.user_id IS NULL THEN 'unknown user' ELSE 'user has no password' END;
            IF u.user_id IS NULL THEN
                details := pg_catalog.jsonb_build_object('username', pg_catalog.left(authenticate_password.username, 128));
            END IF;
        END IF;
        -- One bcrypt whatever happens: against the real hash only when the
        -- attempt may succeed, else against a dummy hash of the same cost.
        hash := CASE WHEN failure IS NULL THEN c.password_hash
                     ELSE taskforce._dummy_bcrypt_hash(coalesce(
                         pg_catalog.substr(c.password_hash, 5, 2)::integer, policy.bcrypt_cost)) END;
        IF taskforce._bcrypt(password, hash) IS DISTINCT FROM hash AND failure IS NULL THEN
            failure := 'wrong password';
            details := '{"counts_toward_lockout": true}';
        END IF;
        -- Under an older snapshot a replaced password may still verify.
        IF failure IS NULL
           AND NOT taskforce._credential_is_current('password', u.tenant_id, u.user_id, c.password_hash) THEN
            failure := 'password has changed';
        END IF;
        IF failure IS NULL AND u.status <> 'active' THEN
            failure := 'user is deactivated';
        END IF;
        IF failure IS NULL THEN
            SELECT t.status INTO tenant_status FROM taskforce.tenants AS t
             WHERE t.tenant_id = u.tenant_id;
            IF tenant_status IS DISTINCT FROM 'active' THEN
                failure := 'tenant is ' || coalesce(tenant_status, 'unknown');
            END IF;
        END IF;
        IF c.user_id IS NOT NULL AND failure IS DISTINCT FROM 'account is locked'
           AND failure IS DISTINCT FROM 'lockout table is full' THEN
            PERFORM taskforce._password_attempt_end(u.tenant_id, u.user_id, failure IS NULL,
                policy.max_failed_attempts, policy.lockout_minutes);
        END IF;
        IF failure IS NOT NULL THEN
            PERFORM taskforce._reject_authentication('password', authenticate_password.tenant_id,
                u.user_id, failure, client_addr, details);
        END IF;
    EXCEPTION WHEN query_canceled THEN
        RAISE EXCEPTION USING ERRCODE = 'query_canceled', MESSAGE = SQLERRM;
    END;
    -- Only a right password of an active user gets here.  (Outside the
    -- block, whose subtransaction would hide that a transaction-scoped
    -- context is established outside a transaction block.)
    PERFORM taskforce._complete_authentication(u.tenant_id, u.user_id, 'password', '{}', NULL,
                                               scope, ttl, client_addr, '{}', NULL);
END
$$;
COMMENT ON FUNCTION taskforce.authenticate_password(text, text, text, text, interval, inet) IS
    'checks a user''s password and establishes the context; every failure raises invalid_password "authentication failed" and counts towards lockout';

COMMENT ON COLUMN taskforce.users.last_login_at IS
    'latest recorded login: every password login, the first use of each token or key in taskforce.auth_success_event_interval (default 1 hour); written when queued events are flushed';

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

CREATE FUNCTION taskforce._authenticate_jwt(
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
        CASE WHEN id.trust_token_roles THEN id.roles END, NULL, scope, ttl, client_addr, details,
        token);
END
$$;
REVOKE ALL ON FUNCTION taskforce._authenticate_jwt(text, text, interval, inet) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._authenticate_jwt(text, text, interval, inet) IS
    'internal: authenticate_jwt for the cases its C fast path hands over (failures, provisioning, token roles)';

CREATE OR REPLACE FUNCTION taskforce.authenticate_jwt(
    token text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_authenticate_jwt';
COMMENT ON FUNCTION taskforce.authenticate_jwt(text, text, interval, inet) IS
    'verifies a JWT and establishes the context of its tenant and user; pass the token as a bind parameter';

COMMENT ON COLUMN taskforce.api_keys.last_used_at IS
    'first successful authentication in the latest taskforce.auth_success_event_interval (default 1 hour), written when queued events are flushed';

-- authenticate_api_key and authenticate_password read the credential
-- under the transaction's snapshot, which in a REPEATABLE READ transaction
-- may predate its revocation or replacement: they check it again, under a
-- snapshot taken now (src/auth/current.c), before establishing a context.
CREATE FUNCTION taskforce._credential_is_current(
    method text, tenant_id text, user_id text, credential text)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_credential_is_current';
REVOKE ALL ON FUNCTION taskforce._credential_is_current(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._credential_is_current(text, text, text, text) IS
    'internal: true if an API key (by key_id) or a password (by its hash) that verified is still current, read under a fresh snapshot';

CREATE OR REPLACE FUNCTION taskforce.authenticate_api_key(
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

    -- Under an older snapshot the key may look live after its revocation.
    IF NOT taskforce._credential_is_current('api_key', k.tenant_id, k.user_id, k.key_id::text) THEN
        PERFORM taskforce._reject_authentication('api_key', k.tenant_id, k.user_id,
            'api key is revoked', client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id));
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
    -- Writes nothing: the key's use (last_used_at) is recorded with its
    -- success event, for its first use in taskforce.auth_success_event_interval.
    PERFORM taskforce._complete_authentication(k.tenant_id, k.user_id, 'api_key', k.roles, k.scopes,
        scope, context_ttl, client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id),
        k.key_id::text);
END
$$;
COMMENT ON FUNCTION taskforce.authenticate_api_key(text, text, interval, inet) IS
    'checks an API key and establishes its user''s context with the key''s roles and scopes, never outliving the key';
-- src/sql/upgrade/0.2.0--0.3.0-context.sql: the context fixes of 0.3.0 (prepared
-- transactions, held cursors, parallel workers with an operator secret) are in C
-- only; no SQL object of 0.2.0 changes.
-- src/sql/upgrade/0.2.0--0.3.0-caches.sql: what 0.3.0 changes in 0.2.0's objects for the caches fixes.

-- No NULL elements in the arrays the C caches read.  A NULL pattern,
-- audience or algorithm never meant anything; drop any stored one.
UPDATE taskforce.system_roles SET permissions = pg_catalog.array_remove(permissions, NULL)
 WHERE pg_catalog.array_position(permissions, NULL) IS NOT NULL;
UPDATE taskforce.roles SET permissions = pg_catalog.array_remove(permissions, NULL)
 WHERE pg_catalog.array_position(permissions, NULL) IS NOT NULL;
UPDATE taskforce.jwt_issuers
   SET audiences = pg_catalog.array_remove(audiences, NULL),
       algorithms = pg_catalog.array_remove(algorithms, NULL)
 WHERE pg_catalog.array_position(audiences, NULL) IS NOT NULL
    OR pg_catalog.array_position(algorithms, NULL) IS NOT NULL;
ALTER TABLE taskforce.system_roles ADD CONSTRAINT system_roles_permissions_no_null
    CHECK (pg_catalog.array_position(permissions, NULL) IS NULL);
ALTER TABLE taskforce.roles ADD CONSTRAINT roles_permissions_no_null
    CHECK (pg_catalog.array_position(permissions, NULL) IS NULL);
ALTER TABLE taskforce.jwt_issuers
    ADD CONSTRAINT jwt_issuers_audiences_no_null CHECK (pg_catalog.array_position(audiences, NULL) IS NULL),
    ADD CONSTRAINT jwt_issuers_algorithms_no_null CHECK (pg_catalog.array_position(algorithms, NULL) IS NULL);

CREATE OR REPLACE FUNCTION taskforce._validate_permission_patterns(patterns text[])
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

CREATE OR REPLACE FUNCTION taskforce.configure_jwt_issuer(
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
    IF pg_catalog.array_ndims(audiences) > 1 OR pg_catalog.array_ndims(algorithms) > 1 THEN
        RAISE EXCEPTION 'audiences and algorithms must be one-dimensional arrays'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(audiences, NULL) IS NOT NULL
       OR pg_catalog.array_position(algorithms, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'audiences and algorithms must not contain null'
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

CREATE OR REPLACE FUNCTION taskforce.add_jwt_key(
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
DECLARE
    allowed text[];
BEGIN
    IF kid IS NULL OR issuer IS NULL OR algorithm IS NULL THEN
        RAISE EXCEPTION 'kid, issuer and algorithm must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A key for an algorithm its issuer does not allow would verify no token.
    SELECT i.algorithms INTO allowed FROM taskforce.jwt_issuers AS i
     WHERE i.issuer = add_jwt_key.issuer;
    IF FOUND AND NOT algorithm = ANY (allowed) THEN
        RAISE EXCEPTION 'issuer "%" does not allow algorithm %: it allows %',
                        issuer, algorithm, pg_catalog.array_to_string(allowed, ', ')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add a key for one of those algorithms, or allow this one with taskforce.configure_jwt_issuer().';
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

-- act_as refuses a deactivated user, whose context would stop at once.
CREATE OR REPLACE FUNCTION taskforce.act_as(
    tenant_id text,
    user_id text,
    roles text[] DEFAULT '{}',
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant_status text;
    user_status text;
BEGIN
    IF tenant_id IS NULL THEN
        RAISE EXCEPTION 'tenant_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT t.status INTO tenant_status
      FROM taskforce.tenants AS t WHERE t.tenant_id = act_as.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant_id
            USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    IF tenant_status <> 'active' THEN
        RAISE EXCEPTION 'tenant "%" is %', tenant_id, tenant_status
            USING ERRCODE = 'invalid_authorization_specification',
                  HINT = 'A context can be established only for an active tenant.';
    END IF;
    -- A user need not have a row, but one that has must be active: its
    -- context would stop working at once (see docs/context.md).
    SELECT u.status INTO user_status
      FROM taskforce.users AS u WHERE u.tenant_id = act_as.tenant_id AND u.user_id = act_as.user_id;
    IF user_status <> 'active' THEN
        RAISE EXCEPTION 'user "%" is %', user_id, user_status
            USING ERRCODE = 'invalid_authorization_specification',
                  HINT = 'A context can be established only for an active user.';
    END IF;
    PERFORM taskforce._establish_context(tenant_id, user_id, roles, 'act_as', scope, ttl);
END
$$;
COMMENT ON FUNCTION taskforce.act_as(text, text, text[], text, interval) IS
    'establishes a context for a user of an active tenant (active too, if it has a row in users); for trusted middleware and administrators only';

-- Cache invalidation: row triggers (which a logical replication subscriber
-- fires) and TRUNCATE triggers, ENABLE ALWAYS, in place of 0.2.0's
-- statement triggers; tenants are watched too (context liveness).
COMMENT ON FUNCTION taskforce._invalidate_caches() IS
    'internal: trigger that makes every session drop what it cached from the table';
DROP TRIGGER invalidate_caches ON taskforce.permissions;
DROP TRIGGER invalidate_caches ON taskforce.system_roles;
DROP TRIGGER invalidate_caches ON taskforce.roles;
DROP TRIGGER invalidate_caches ON taskforce.role_grants;
DROP TRIGGER invalidate_caches ON taskforce.users;
DROP TRIGGER invalidate_caches_on_status ON taskforce.users;
DROP TRIGGER invalidate_caches ON taskforce.jwt_issuers;
DROP TRIGGER invalidate_caches ON taskforce.jwt_keys;
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

CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.jwt_issuers FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.jwt_keys FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.jwt_issuers FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.jwt_keys FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
ALTER TABLE taskforce.jwt_issuers
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.jwt_keys
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;

-- src/sql/upgrade/0.2.0--0.3.0-isolation.sql: what 0.3.0 changes in 0.2.0's objects for the isolation fixes.
--
-- Tenant columns with a nondeterministic collation are refused and
-- reported; children joined by ALTER TABLE ... ATTACH PARTITION or INHERIT
-- are isolated; isolation_report() also reports views that bypass
-- row-level security, materialized views and extra permissive policies.
-- Each object below is as src/sql/isolation.sql defines it.

-- Returns whether a collation is nondeterministic (false for none or unknown).
CREATE FUNCTION taskforce._is_nondeterministic(coll oid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_collation AS c
                    WHERE c.oid = coll AND NOT c.collisdeterministic)
$$;
COMMENT ON FUNCTION taskforce._is_nondeterministic(oid) IS
    'internal: whether a collation is nondeterministic';

-- Raises unless tbl is a table with a text or varchar column tenant_column
-- whose collation is deterministic.  Under a nondeterministic collation
-- distinct strings can compare equal (one that ignores punctuation makes
-- 'ac-me' = 'acme'), and the policy would hand one tenant another's rows.
CREATE OR REPLACE FUNCTION taskforce._check_tenant_column(tbl regclass, tenant_column name)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    kind "char";
    column_type regtype;
    column_collation oid;
BEGIN
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT a.atttypid, a.attcollation INTO column_type, column_collation FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table "%" does not exist', tenant_column, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF column_type NOT IN ('text'::regtype, 'character varying'::regtype) THEN
        RAISE EXCEPTION 'tenant column "%" of table "%" has type %', tenant_column, tbl, column_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'A tenant column must be of type text or varchar.';
    END IF;
    IF taskforce._is_nondeterministic(column_collation) THEN
        RAISE EXCEPTION 'tenant column "%" of table "%" has the nondeterministic collation %',
                        tenant_column, tbl, column_collation::regcollation
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Under a nondeterministic collation distinct tenant ids can compare equal, '
                           'so one tenant could read and change another''s rows.',
                  HINT = 'Give the column a deterministic collation, for example ALTER TABLE ... '
                         'ALTER COLUMN ... TYPE text COLLATE "C".';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce._check_tenant_column(regclass, name) IS
    'internal: raises unless the table has a text or varchar tenant column with a deterministic collation';

-- The (child, parent) pairs an ALTER TABLE command joined with ATTACH
-- PARTITION or INHERIT (src/tenancy/tenancy.c says why it reads the command).
-- Executable by every role: the event trigger runs as whoever runs the DDL,
-- and a pg_ddl_command can only come from pg_event_trigger_ddl_commands().
CREATE FUNCTION taskforce._inheritance_changes(command pg_ddl_command,
                                               OUT child regclass, OUT parent regclass)
    RETURNS SETOF record
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_inheritance_changes';
COMMENT ON FUNCTION taskforce._inheritance_changes(pg_ddl_command) IS
    'internal: the children an ALTER TABLE command attached (ATTACH PARTITION) or made inherit (INHERIT), with their parents';

-- Puts tables that become partitions or inheritance children of an isolated
-- table under isolation: created with CREATE TABLE ... PARTITION OF or
-- INHERITS, or joined by ALTER TABLE ... ATTACH PARTITION or INHERIT.  Any
-- other ALTER TABLE is left alone, and so is a restore: pg_restore creates
-- and attaches tables before their parents' triggers exist, then restores
-- each child's own policy.
CREATE OR REPLACE FUNCTION taskforce._isolate_new_children() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    joined record;
    parent_column name;
    child_column name;
BEGIN
    FOR joined IN
        SELECT i.inhrelid::regclass AS child, i.inhparent::regclass AS parent
          FROM pg_catalog.pg_event_trigger_ddl_commands() AS c
          JOIN pg_catalog.pg_inherits AS i ON i.inhrelid = c.objid
         WHERE c.command_tag = 'CREATE TABLE'
           AND c.classid = 'pg_catalog.pg_class'::regclass AND c.object_type = 'table'
        UNION
        SELECT j.child, j.parent
          FROM pg_catalog.pg_event_trigger_ddl_commands() AS c,
               taskforce._inheritance_changes(c.command) AS j
         WHERE c.command_tag = 'ALTER TABLE'
         ORDER BY 1, 2
    LOOP
        parent_column := taskforce._isolation_column(joined.parent);
        CONTINUE WHEN parent_column IS NULL;
        -- Foreign tables cannot have row-level security.
        CONTINUE WHEN (SELECT c.relkind FROM pg_catalog.pg_class AS c
                        WHERE c.oid = joined.child) NOT IN ('r', 'p');
        child_column := taskforce._isolation_column(joined.child);
        IF child_column <> parent_column THEN
            RAISE EXCEPTION 'table "%" is under tenant isolation on column "%", its new parent "%" on column "%"',
                            joined.child, child_column, joined.parent, parent_column
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Call taskforce.disable_tenant_isolation() on the child first.';
        END IF;
        PERFORM taskforce._isolate(joined.child, parent_column);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._isolate_new_children() IS
    'event trigger: isolates tables as they become partitions or children of isolated tables';
-- The trigger now also fires on ALTER TABLE; its tags cannot be altered.
DROP EVENT TRIGGER taskforce_isolate_new_children;
CREATE EVENT TRIGGER taskforce_isolate_new_children ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION taskforce._isolate_new_children();

-- Views and materialized views read the relations their _RETURN rule
-- depends on.  A view without security_invoker reads them as its owner; a
-- materialized view stores what its refresh read.  reach follows views of
-- views: switched says whether the path from the top view went through
-- another view that reads as its own owner (that view is reported itself),
-- or through a materialized view (ditto).
CREATE OR REPLACE FUNCTION taskforce.isolation_report(tenant_column name DEFAULT 'tenant_id')
    RETURNS TABLE (table_name regclass, column_name name, problem text, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH RECURSIVE tables AS (
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
    -- Every isolated table, taskforce's own included: a view or a policy
    -- can expose those as well.
    isolated AS (
        SELECT c.oid AS relid, c.relowner, c.relforcerowsecurity,
               taskforce._isolation_column(c.oid) AS isolated_on
          FROM pg_catalog.pg_class AS c
         WHERE c.relkind IN ('r', 'p')
           AND EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                        WHERE t.tgrelid = c.oid AND t.tgname = 'taskforce_tenant_immutable')
    ),
    views AS (
        SELECT c.oid AS relid, c.relkind, c.relowner,
               coalesce((SELECT o.option_value::boolean
                           FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                          WHERE o.option_name = 'security_invoker'), false) AS invoker
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('v', 'm')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\_temp%'
    ),
    reads AS (
        SELECT DISTINCT r.ev_class AS viewid, d.refobjid AS relid
          FROM pg_catalog.pg_rewrite AS r
          JOIN pg_catalog.pg_depend AS d
            ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> r.ev_class
         WHERE r.rulename = '_RETURN'
    ),
    reach AS (
        SELECT v.relid AS top, r.relid, false AS switched
          FROM views AS v
          JOIN reads AS r ON r.viewid = v.relid
         -- taskforce's own views are checked by its tests, not reported.
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                            JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
                           WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                             AND d.objid = v.relid AND d.deptype = 'e'
                             AND e.extname = 'taskforce')
        UNION
        SELECT reach.top, r.relid, reach.switched OR v.relkind = 'm' OR NOT v.invoker
          FROM reach
          JOIN views AS v ON v.relid = reach.relid
          JOIN reads AS r ON r.viewid = v.relid
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
        SELECT t.relid, t.isolated_on, 'tenant column has a nondeterministic collation',
               format('Collation %s can make distinct tenant ids compare equal. In one transaction, '
                      'call taskforce.disable_tenant_isolation(), give the column a deterministic '
                      'collation such as "C", and call taskforce.enable_tenant_isolation().',
                      a.attcollation::pg_catalog.regcollation)
          FROM tables AS t
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = t.relid AND a.attname = t.isolated_on
         WHERE taskforce._is_nondeterministic(a.attcollation)
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
        UNION ALL
        -- Permissive policies are combined by OR: any besides the tenant
        -- policy lets rows through that the tenant policy would not.
        SELECT i.relid, i.isolated_on, 'permissive policy widens tenant policy',
               format('Policy %I (for %s, to %s) is combined with the tenant policy by OR. '
                      'Make it RESTRICTIVE or drop it.',
                      p.polname,
                      CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                      array_to_string(ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC'
                                                        ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                                              FROM unnest(p.polroles) AS r (oid) ORDER BY 1), ', '))
          FROM isolated AS i
          JOIN pg_catalog.pg_policy AS p ON p.polrelid = i.relid
         WHERE p.polpermissive AND p.polname <> 'taskforce_tenant_isolation'
        UNION ALL
        SELECT DISTINCT v.relid, i.isolated_on, 'view bypasses row-level security',
               format('Reads %s as its owner %I, who %s. Whoever may select from the view sees '
                      'every tenant''s rows. Set security_invoker on the view, or give it an owner '
                      'that row-level security applies to.',
                      i.relid::regclass, o.rolname,
                      CASE WHEN o.rolsuper THEN 'is a superuser'
                           WHEN o.rolbypassrls THEN 'has BYPASSRLS'
                           ELSE 'owns the table, which does not force row-level security' END)
          FROM reach
          JOIN views AS v ON v.relid = reach.top AND v.relkind = 'v' AND NOT v.invoker
          JOIN isolated AS i ON i.relid = reach.relid
          JOIN pg_catalog.pg_roles AS o ON o.oid = v.relowner
         WHERE NOT reach.switched
           AND (o.rolsuper OR o.rolbypassrls
                OR (NOT i.relforcerowsecurity AND pg_catalog.pg_has_role(v.relowner, i.relowner, 'USAGE')))
        UNION ALL
        SELECT DISTINCT v.relid, i.isolated_on, 'materialized view of isolated table',
               format('Reads %s. A materialized view has no row-level security: whoever may select '
                      'from it sees the rows its last refresh read, whichever tenant they belong to. '
                      'Use a view with security_invoker instead.', i.relid::regclass)
          FROM reach
          JOIN views AS v ON v.relid = reach.top AND v.relkind = 'm'
          JOIN isolated AS i ON i.relid = reach.relid
    )
    SELECT f.relid::regclass, f.col, f.problem, f.detail
      FROM findings AS f
     ORDER BY f.relid::regclass::text, f.problem, f.detail
$$;
COMMENT ON FUNCTION taskforce.isolation_report(name) IS
    'tables with a tenant column but no isolation; isolated tables that are incomplete, have a nondeterministic tenant collation, extra permissive policies, or indexes or foreign keys to other isolated tables that leave the tenant column out; views that read isolated tables bypassing row-level security; materialized views of isolated tables';
-- src/sql/roles.sql: the database roles an installation needs, made on
-- request, and the privileges each gets.  The roles setup_roles() set up
-- are recorded, so that ALTER EXTENSION ... UPDATE grants a release's new
-- objects to them: every install and upgrade script ends with this file.

CREATE TABLE taskforce.database_roles (
    purpose   text NOT NULL,
    role_name name NOT NULL,
    CONSTRAINT database_roles_pkey PRIMARY KEY (purpose, role_name),
    CONSTRAINT database_roles_purpose_known CHECK (purpose IN ('app', 'admin', 'auditor', 'bi'))
);
REVOKE ALL ON taskforce.database_roles FROM PUBLIC;
COMMENT ON TABLE taskforce.database_roles IS
    'the database roles setup_roles() set up, by purpose; upgrades grant new objects to them';
SELECT pg_catalog.pg_extension_config_dump('taskforce.database_roles', '');

-- Grants every recorded role the privileges of its purpose in this
-- release.  Idempotent; a recorded role that no longer exists is skipped.
CREATE FUNCTION taskforce._grant_database_role_privileges()
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT d.purpose, d.role_name FROM taskforce.database_roles AS d
              WHERE EXISTS (SELECT FROM pg_catalog.pg_roles AS pr WHERE pr.rolname = d.role_name)
              ORDER BY d.purpose, d.role_name
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA taskforce TO %I', r.role_name);
        IF r.purpose IN ('app', 'admin') THEN
            -- Its own tenant's rows (tenant isolation filters them), the
            -- permission catalog and the system roles.
            EXECUTE format('GRANT SELECT ON taskforce.tenants, taskforce.users, taskforce.roles,
                taskforce.role_grants, taskforce.password_policies, taskforce.permissions,
                taskforce.system_roles TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.security_events TO %I', r.role_name);
        END IF;
        IF r.purpose = 'admin' THEN
            -- Token issuers and keys, the permission catalog, establishing
            -- contexts and managing tenants.
            EXECUTE format('GRANT SELECT ON taskforce.jwt_issuers, taskforce.jwt_keys TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION
                taskforce.register_permission(text, text),
                taskforce.unregister_permission(text),
                taskforce.has_permission(text, text, text),
                taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean),
                taskforce.drop_jwt_issuer(text),
                taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz),
                taskforce.retire_jwt_key(text, timestamptz),
                taskforce.mint_jwt(jsonb, text, interval),
                taskforce.act_as(text, text, text[], text, interval),
                taskforce.create_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
                taskforce.update_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
                taskforce.suspend_tenant(text, text),
                taskforce.reactivate_tenant(text),
                taskforce.delete_tenant(text, text),
                taskforce.list_tenants(text),
                taskforce.flush_security_events(interval) TO %I', r.role_name);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION taskforce._grant_database_role_privileges() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._grant_database_role_privileges() IS
    'internal: grants each role recorded in database_roles the privileges of its purpose';

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
            (app_role, 'app', 'application: subject to tenant isolation, establishes context only with credentials'),
            (admin_role, 'admin', 'trusted middleware and administrators: may act_as, manage tenants, users, roles and token keys'),
            (auditor_role, 'auditor', 'auditors: read-only access to evidence and security events'),
            (bi_role, 'bi', 'BI tools: read-only access to reporting views')) AS v(name, kind, purpose)
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
        INSERT INTO taskforce.database_roles AS d (purpose, role_name) VALUES (r.kind, r.name)
        ON CONFLICT ON CONSTRAINT database_roles_pkey DO NOTHING;
        role_name := r.name;
        purpose := r.purpose;
        created := is_new;
        RETURN NEXT;
    END LOOP;
    PERFORM taskforce._grant_database_role_privileges();
END
$$;
COMMENT ON FUNCTION taskforce.setup_roles(name, name, name, name) IS
    'creates (if missing) the application, admin, auditor and BI group roles, records them and grants their privileges';

-- After an upgrade, the recorded roles get this release's privileges.
SELECT taskforce._grant_database_role_privileges();
-- src/sql/upgrade/0.2.0--0.3.0-roles.sql: 0.1.0 and 0.2.0 did not record
-- the roles setup_roles() made.  Find them by the privileges only it
-- granted (admin: act_as; app: the tenants table without act_as; auditor:
-- the security events without act_as), record them, and grant them what
-- this release adds.  A BI role cannot be told from any role given USAGE
-- on the schema by hand, so it is recorded when setup_roles() next runs.
INSERT INTO taskforce.database_roles (purpose, role_name)
SELECT DISTINCT g.purpose, pr.rolname
  FROM (SELECT 'admin' AS purpose, a.grantee
          FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a
         WHERE p.oid = 'taskforce.act_as(text, text, text[], text, interval)'::regprocedure
        UNION ALL
        SELECT CASE c.oid WHEN 'taskforce.tenants'::regclass THEN 'app' ELSE 'auditor' END, a.grantee
          FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
         WHERE c.oid IN ('taskforce.tenants'::regclass, 'taskforce.security_events'::regclass)
           AND a.privilege_type = 'SELECT') AS g
  JOIN pg_catalog.pg_roles AS pr ON pr.oid = g.grantee
 WHERE NOT pr.rolsuper
   AND (g.purpose = 'admin'
        OR NOT pg_catalog.has_function_privilege(pr.oid,
               'taskforce.act_as(text, text, text[], text, interval)', 'EXECUTE'));
SELECT taskforce._grant_database_role_privileges();
