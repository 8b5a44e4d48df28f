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
