-- src/sql/acl_manage.sql: creating, changing and dropping resource ACLs,
-- granting and revoking (with delegation limits), session participants,
-- and "what may I access".  The decisions are acl.sql's C functions.

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
    -- A resource joins a session its creator takes part in (acl:manage: any).
    IF session_id IS NOT NULL AND taskforce.current_user_id() IS NOT NULL
       AND NOT taskforce.has_permission('acl:manage')
       AND NOT EXISTS (SELECT FROM taskforce.session_participants AS p
                        WHERE p.tenant_id = _acl_check_scope_target.tenant_id
                          AND p.session_id = _acl_check_scope_target.session_id
                          AND p.user_id = taskforce.current_user_id()) THEN
        RAISE EXCEPTION 'you do not take part in session "%"', session_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Join it first with taskforce.add_session_participant().';
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
    'internal: a project scope names an existing project, a session scope a session the caller takes part in';

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
        -- Handing a resource over is the owner's (or an ACL administrator's):
        -- an admin grant, which may expire, must not become ownership.
        IF taskforce.current_tenant() IS NOT NULL AND taskforce.current_user_id() <> a.owner_id
           AND NOT taskforce.has_permission('acl:manage') THEN
            RAISE EXCEPTION 'only the owner of resource "%" may hand it over', a.resource_id
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'The owner, or a holder of acl:manage, may change owner_id.';
        END IF;
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
    tbl record;
    named boolean;
BEGIN
    PERFORM taskforce._acl_require_admin(resource_id);
    -- A global resource governs other tenants' rows: as for creating one.
    IF a.scope = 'global' AND taskforce.current_tenant() IS NOT NULL THEN
        RAISE EXCEPTION 'only an administrator without a context may drop a global resource'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Rows that still name the resource would be governed by whatever ACL
    -- takes the id next (someone else's): they go first, by their owners.
    FOR tbl IN SELECT * FROM taskforce._retention_tables() LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE %I = $1 AND ($2 OR %I = $3))',
                       tbl.table_name, tbl.resource_column, coalesce(tbl.tenant_column, 'tenant_id'))
            INTO named USING a.resource_id, a.scope = 'global', a.tenant_id;
        IF named THEN
            RAISE EXCEPTION 'rows of table "%" still belong to resource "%"', tbl.table_name, a.resource_id
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Delete them first (deleting needs the delete permission on the resource), or let apply_retention() delete the resource with its rows.';
        END IF;
    END LOOP;
    DELETE FROM taskforce.resource_acls AS x
     WHERE x.tenant_id = a.tenant_id AND x.resource_id = a.resource_id;
END
$$;
COMMENT ON FUNCTION taskforce.drop_acl(text, text) IS
    'removes a resource''s ACL and its grants, once no row of a protected table names it (2BP01 otherwise); needs admin on the resource, and for a global one an administrator without context';

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
      FROM taskforce._acl_identity(tenant_id, taskforce.current_user_id(), taskforce._acl_context_roles()) AS i
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
    IF principal_id IS NULL THEN
        RAISE EXCEPTION 'principal_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
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

-- Taking part in a session opens its SESSION-scope resources, so joining
-- is not free for all: a participant brings others in; a session nobody
-- takes part in yet and no resource belongs to is started by whoever adds
-- the first participant; acl:manage (and an administrator) adds anyone.
CREATE FUNCTION taskforce.add_session_participant(session_id text, user_id text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.session_participants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('session:create', tenant_id);
    me text := taskforce.current_user_id();
    s taskforce.session_participants;
BEGIN
    IF session_id IS NULL OR user_id IS NULL THEN
        RAISE EXCEPTION 'session_id and user_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.users AS u WHERE u.tenant_id = tenant AND u.user_id = add_session_participant.user_id) THEN
        RAISE EXCEPTION 'user "%" does not exist in tenant "%"', user_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    -- Serialise joins of one session, so "nobody takes part yet" stays true until the insert.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('taskforce.session_participants'),
                                             pg_catalog.hashtext(tenant || '/' || session_id));
    IF me IS NOT NULL AND NOT taskforce.has_permission('acl:manage')
       AND NOT EXISTS (SELECT FROM taskforce.session_participants AS p
                        WHERE p.tenant_id = tenant AND p.session_id = add_session_participant.session_id
                          AND p.user_id = me)
       AND (EXISTS (SELECT FROM taskforce.session_participants AS p
                     WHERE p.tenant_id = tenant AND p.session_id = add_session_participant.session_id)
            OR EXISTS (SELECT FROM taskforce.resource_acls AS a
                        WHERE a.tenant_id = tenant AND a.session_id = add_session_participant.session_id)) THEN
        RAISE EXCEPTION 'only a participant of session "%" may add participants', session_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Ask a participant, or a holder of acl:manage.';
    END IF;
    BEGIN
        INSERT INTO taskforce.session_participants (tenant_id, session_id, user_id, added_by)
        VALUES (tenant, session_id, user_id, coalesce(me, session_user))
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
    'records that a user takes part in a session (the audience of its SESSION-scope resources); needs session:create and, unless the session is new, to take part in it (or acl:manage)';

CREATE FUNCTION taskforce.remove_session_participant(session_id text, user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize(NULL, tenant_id);
    me text := taskforce.current_user_id();
BEGIN
    IF session_id IS NULL OR user_id IS NULL THEN
        RAISE EXCEPTION 'session_id and user_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF me IS NOT NULL AND me IS DISTINCT FROM user_id AND NOT taskforce.has_permission('acl:manage') THEN
        RAISE EXCEPTION 'only the participant itself or a holder of acl:manage may remove a participant'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
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
    'removes a user from a session: the user itself, or a holder of acl:manage';

-- "What may I access": candidates found through indexes, each decided by
-- the same C decision as check_access.  Three disjoint branches (no
-- de-duplication): the tenant's public and internal resources of tenant or
-- global scope (candidates for everyone); the tenant's other resources the
-- caller owns, holds a grant on, or whose project or session it belongs to;
-- other tenants' global resources.  Never truncated.
CREATE FUNCTION taskforce.accessible_resources(permission text, of_type text DEFAULT NULL)
    RETURNS TABLE (tenant_id text, resource_id text, resource_type text, owner_id text,
                   sensitivity text, scope text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    me text := taskforce.current_user_id();
    granted text[];
    projects text[];
    sessions text[];
BEGIN
    PERFORM taskforce._acl_check_name('permission', permission, '{read,write,delete,reference,share,admin}');
    IF tenant IS NULL THEN
        RETURN;
    END IF;
    SELECT array_agg(i.key) FILTER (WHERE i.kind = 'grant'),
           array_agg(i.key) FILTER (WHERE i.kind = 'project'),
           array_agg(i.key) FILTER (WHERE i.kind = 'session')
      INTO granted, projects, sessions
      FROM taskforce._acl_identity(tenant, me, taskforce._acl_context_roles()) AS i;
    RETURN QUERY
    SELECT c.tenant_id, c.resource_id, c.resource_type, c.owner_id, c.sensitivity, c.scope
      FROM (SELECT a.* FROM taskforce.resource_acls AS a
             WHERE a.tenant_id = tenant AND a.scope IN ('tenant', 'global')
               AND a.sensitivity IN ('public', 'internal')
            UNION ALL
            SELECT a.* FROM taskforce.resource_acls AS a
             WHERE a.tenant_id = tenant
               AND (a.owner_id = me OR a.resource_id = ANY (granted)
                    OR a.project_id = ANY (projects) OR a.session_id = ANY (sessions))
               AND NOT (a.scope IN ('tenant', 'global') AND a.sensitivity IN ('public', 'internal'))
            UNION ALL
            SELECT a.* FROM taskforce.resource_acls AS a
             WHERE a.scope = 'global' AND a.tenant_id <> tenant) AS c
     WHERE (of_type IS NULL OR c.resource_type = of_type)
       AND taskforce._acl_allows_resource(c.tenant_id, c.resource_id, c.resource_type, c.owner_id,
                                          c.sensitivity, c.scope, c.project_id, c.session_id,
                                          c.default_permissions, accessible_resources.permission);
END
$$;
COMMENT ON FUNCTION taskforce.accessible_resources(text, text) IS
    'every resource the current context may use with the permission (optionally of one type): a plain relation for joins, never truncated';
