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

-- A deleted tenant's ACLs, grants, participants and policies are frozen
-- until offboard_tenant removes them (deleted_tenants.sql).
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.resource_acls
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.resource_grants
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.session_participants
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.resource_policies
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.resource_acls IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.resource_grants IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.session_participants IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.resource_policies IS
    'refuses inserts and updates of a deleted tenant''s rows';

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

-- What the decision reads, loaded as the extension owner (src/acl/cache.c;
-- it reads a resource's ACL row with a query of its own).
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

-- The roles of the context that count for ACLs: those its credential
-- asserted, except an API key's (src/acl/functions.c says why); null
-- without a context.  The user's role grants count in any case.
CREATE FUNCTION taskforce._acl_context_roles() RETURNS text[]
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'taskforce_acl_context_roles';
REVOKE ALL ON FUNCTION taskforce._acl_context_roles() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_context_roles() IS
    'internal: the asserted roles of the context that count for ACL grants and allowed roles (not an API key''s)';

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
-- like check_access; never raises for an unknown resource.  COST 100: more
-- than the tenant policy's tenant_id = current_tenant() (2), so that a scan
-- tests a row's tenant first and checks only its own tenant's rows, and
-- more than a query's cheap leakproof conditions (resource_id = $1), so
-- that rows the query filters out are neither checked nor recorded.
CREATE FUNCTION taskforce._acl_allows(resource_id text, permission text) RETURNS boolean
    LANGUAGE C VOLATILE COST 100
    AS 'MODULE_PATHNAME', 'taskforce_acl_allows';
COMMENT ON FUNCTION taskforce._acl_allows(text, text) IS
    'internal: the check of protect_table''s row policies (false for a null or unknown resource)';

-- The same decision for many resources at once (accessible_resources).
-- COST 100: evaluated after the candidate conditions of its scan (owner,
-- grants, projects, sessions), not on every row the scan reads.
CREATE FUNCTION taskforce._acl_allows_resource(tenant_id text, resource_id text, resource_type text,
                                               owner_id text, sensitivity text, scope text,
                                               project_id text, session_id text,
                                               default_permissions text[], permission text)
    RETURNS boolean
    LANGUAGE C VOLATILE COST 100
    AS 'MODULE_PATHNAME', 'taskforce_acl_allows_resource';
REVOKE ALL ON FUNCTION taskforce._acl_allows_resource(text, text, text, text, text, text, text, text, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._acl_allows_resource(text, text, text, text, text, text, text, text, text[], text) IS
    'internal: the decision for an ACL row already read (accessible_resources)';
