-- src/sql/upgrade/0.5.0--0.6.0.sql: the changes 0.6.0 makes to objects of
-- 0.5.0.  The upgrade script is this file, the files new in 0.6.0 and
-- roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.6.0'" to load this file. \quit

-- roles.sql creates its functions again, with this release's grants.
DROP FUNCTION taskforce._grant_database_role_privileges();
DROP FUNCTION taskforce.setup_roles(name, name, name, name);

-- offboard_tenant removes the tenant's projects and teams too (before the
-- users they refer to).
-- Deletes (or counts, in a dry run) a deleted tenant's rows.  Application
-- tables go first, those referenced by other application tables after the
-- tables that reference them; then taskforce's tables, resource ACLs, projects and teams
-- (0.6.0) and credentials before the users they belong to.  The deletes run with the function owner's
-- rights (row-level security does not hide the rows from it), so the
-- tables' own triggers and rules would too: unless the session is a
-- superuser's, a table that has any (other than isolation's own trigger,
-- told by its function, not its name) is refused.
CREATE OR REPLACE FUNCTION taskforce.offboard_tenant(tenant_id text, dry_run boolean DEFAULT true)
    RETURNS TABLE (table_name regclass, rows bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t taskforce.tenants;
    tables regclass[];
    columns name[];
    pending regclass[];
    ready regclass[];
    i integer;
    n bigint;
    superuser_session boolean := (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r
                                   WHERE r.rolname = session_user);
BEGIN
    IF tenant_id IS NULL OR dry_run IS NULL THEN
        RAISE EXCEPTION 'tenant_id and dry_run must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    t := taskforce._lock_tenant(tenant_id);
    IF t.status <> 'deleted' THEN
        RAISE EXCEPTION 'tenant "%" is %', tenant_id, t.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only a deleted tenant''s rows can be offboarded.',
                  HINT = 'Delete the tenant first with taskforce.delete_tenant().';
    END IF;

    -- Lock every isolated table against new triggers and rules (CREATE
    -- TRIGGER and CREATE RULE conflict with ROW EXCLUSIVE), then check.
    FOR table_name IN SELECT x.table_name FROM taskforce._isolated_tables(false) AS x ORDER BY 1 LOOP
        IF NOT dry_run THEN
            EXECUTE format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', table_name);
        END IF;
        IF NOT dry_run AND NOT superuser_session AND (
               EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                        WHERE g.tgrelid = table_name AND NOT g.tgisinternal
                          AND g.tgfoid NOT IN ('taskforce._tenant_immutable'::pg_catalog.regproc,
                                               'taskforce._audit_trigger'::pg_catalog.regproc)
                          AND g.tgenabled <> 'D')
            OR EXISTS (SELECT FROM pg_catalog.pg_rewrite AS w
                        WHERE w.ev_class = table_name AND w.ev_type = '4')) THEN
            RAISE EXCEPTION 'table "%" has triggers or rules that would run with the rights of taskforce''s owner', table_name
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A superuser must run the offboarding of this tenant.';
        END IF;
    END LOOP;

    -- Referencing tables before the tables they reference; a cycle is
    -- taken as it is (its foreign keys decide).
    SELECT array_agg(x.table_name ORDER BY x.table_name::text) INTO pending
      FROM taskforce._isolated_tables(true) AS x;
    pending := coalesce(pending, '{}');
    tables := '{}';
    WHILE cardinality(pending) > 0 LOOP
        SELECT array_agg(p ORDER BY p::text) INTO ready
          FROM unnest(pending) AS p
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                            WHERE k.contype = 'f' AND k.confrelid = p AND k.conrelid <> p
                              AND k.conrelid = ANY (pending));
        ready := coalesce(ready, pending);
        tables := tables || ready;
        SELECT coalesce(array_agg(p ORDER BY p::text), '{}') INTO pending
          FROM unnest(pending) AS p WHERE p <> ALL (ready);
    END LOOP;
    SELECT array_agg(x.tenant_column ORDER BY o.n) INTO columns
      FROM unnest(tables) WITH ORDINALITY AS o(tbl, n)
      JOIN taskforce._isolated_tables(true) AS x ON x.table_name = o.tbl;

    FOR i IN 1 .. cardinality(tables) LOOP
        table_name := tables[i];
        IF dry_run THEN
            EXECUTE format('SELECT count(*) FROM %s WHERE %I = $1', table_name, columns[i])
                INTO rows USING tenant_id;
        ELSE
            EXECUTE format('DELETE FROM %s WHERE %I = $1', table_name, columns[i]) USING tenant_id;
            GET DIAGNOSTICS rows = ROW_COUNT;
        END IF;
        RETURN NEXT;
    END LOOP;

    FOR table_name IN SELECT unnest(ARRAY[
            'taskforce.retention_runs', 'taskforce.resource_grants', 'taskforce.resource_acls',
            'taskforce.session_participants', 'taskforce.resource_policies',
            'taskforce.project_members', 'taskforce.projects', 'taskforce.team_members', 'taskforce.teams',
            'taskforce.api_keys', 'taskforce.user_credentials', 'taskforce.role_grants',
            'taskforce.users', 'taskforce.roles', 'taskforce.password_policies']::regclass[]) LOOP
        IF dry_run THEN
            EXECUTE format('SELECT count(*) FROM %s AS x WHERE x.tenant_id = $1', table_name)
                INTO rows USING tenant_id;
        ELSE
            EXECUTE format('DELETE FROM %s AS x WHERE x.tenant_id = $1', table_name) USING tenant_id;
            GET DIAGNOSTICS rows = ROW_COUNT;
        END IF;
        RETURN NEXT;
    END LOOP;
    -- Keys of the tenant's own issuers, then the issuers.
    table_name := 'taskforce.jwt_keys';
    IF dry_run THEN
        SELECT count(*) INTO rows FROM taskforce.jwt_keys AS k
         WHERE k.issuer IN (SELECT s.issuer FROM taskforce.jwt_issuers AS s
                             WHERE s.tenant_id = offboard_tenant.tenant_id);
    ELSE
        DELETE FROM taskforce.jwt_keys AS k
         WHERE k.issuer IN (SELECT s.issuer FROM taskforce.jwt_issuers AS s
                             WHERE s.tenant_id = offboard_tenant.tenant_id);
        GET DIAGNOSTICS rows = ROW_COUNT;
    END IF;
    RETURN NEXT;
    table_name := 'taskforce.jwt_issuers';
    IF dry_run THEN
        SELECT count(*) INTO rows FROM taskforce.jwt_issuers AS s
         WHERE s.tenant_id = offboard_tenant.tenant_id;
    ELSE
        DELETE FROM taskforce.jwt_issuers AS s WHERE s.tenant_id = offboard_tenant.tenant_id;
        GET DIAGNOSTICS rows = ROW_COUNT;
    END IF;
    RETURN NEXT;
END
$$;

-- Access to resources whose policy requires audit is a security event (acl.sql).
ALTER TABLE taskforce.security_events
    DROP CONSTRAINT security_events_event_known,
    ADD CONSTRAINT security_events_event_known CHECK (event IN (
        'authentication', 'lockout',
        'api_key_created', 'api_key_revoked', 'api_key_rotated',
        'role_granted', 'role_revoked', 'role_created', 'role_updated', 'role_deleted',
        'user_created', 'user_updated', 'user_deactivated', 'user_reactivated',
        'user_deleted', 'user_unlocked', 'password_changed', 'password_policy_changed',
        'events_lost', 'resource_access'));

-- The event triggers of isolation and of protect_table (acl_protect.sql)
-- find new children with one function.
-- The tables the current DDL command made partitions or inheritance
-- children (CREATE TABLE ... PARTITION OF / INHERITS, ALTER TABLE ... ATTACH
-- PARTITION / INHERIT), with their parents; for ddl_command_end triggers,
-- which run as whoever runs the DDL (so it is not revoked from PUBLIC).
CREATE FUNCTION taskforce._new_children()
    RETURNS TABLE (child regclass, parent regclass)
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    AS $$
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
$$;
COMMENT ON FUNCTION taskforce._new_children() IS
    'internal: the tables the current DDL command made partitions or children, with their parents (event triggers)';

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
        SELECT n.child, n.parent FROM taskforce._new_children() AS n
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
-- src/sql/projects.sql: teams, projects and their members (seed 003), the
-- groups that resource ACLs (acl.sql) and cost reports refer to.  All
-- tables are tenant-isolated and audited; project membership is direct
-- (project_members), through the project's team (team_members; not for a
-- private project) or as its owner.  Row security shows an application
-- role only the projects its visibility lets it see (see docs/projects.md).

CREATE TABLE taskforce.teams (
    tenant_id   text        NOT NULL,
    team_id     text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    department  text,
    manager_id  text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT teams_pkey PRIMARY KEY (tenant_id, team_id),
    CONSTRAINT teams_name_key UNIQUE (tenant_id, name),
    CONSTRAINT teams_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT teams_manager_fkey FOREIGN KEY (tenant_id, manager_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE SET NULL (manager_id),
    CONSTRAINT teams_team_id_format CHECK (team_id ~ '^[^[:space:][:cntrl:]]{1,128}$'),
    CONSTRAINT teams_name_present CHECK (pg_catalog.btrim(name) <> '')
);
COMMENT ON TABLE taskforce.teams IS 'teams of each tenant (name unique in the tenant)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.teams', '');

CREATE TABLE taskforce.team_members (
    tenant_id text        NOT NULL,
    team_id   text        NOT NULL,
    user_id   text        NOT NULL,
    team_role text        NOT NULL DEFAULT 'member',
    added_by  text        NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT team_members_pkey PRIMARY KEY (tenant_id, team_id, user_id),
    CONSTRAINT team_members_team_fkey FOREIGN KEY (tenant_id, team_id)
        REFERENCES taskforce.teams (tenant_id, team_id) ON DELETE CASCADE,
    CONSTRAINT team_members_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE,
    CONSTRAINT team_members_role_known CHECK (team_role IN ('lead', 'member'))
);
CREATE INDEX team_members_user ON taskforce.team_members (tenant_id, user_id);
COMMENT ON TABLE taskforce.team_members IS 'members of each team, with their role in the team (lead or member)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.team_members', '');

CREATE TABLE taskforce.projects (
    tenant_id               text          NOT NULL,
    project_id              text          NOT NULL,
    name                    text          NOT NULL,
    description             text          NOT NULL DEFAULT '',
    owner_id                text,
    team_id                 text,
    department              text,
    business_unit           text,
    cost_center             text,
    status                  text          NOT NULL DEFAULT 'active',
    priority                text          NOT NULL DEFAULT 'medium',
    security_level          text          NOT NULL DEFAULT 'internal',
    data_classification     text[]        NOT NULL DEFAULT '{}',
    compliance_requirements text[]        NOT NULL DEFAULT '{}',
    visibility              text          NOT NULL DEFAULT 'team',
    budget                  numeric(16,2),
    start_date              date,
    end_date                date,
    created_at              timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    updated_at              timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT projects_pkey PRIMARY KEY (tenant_id, project_id),
    CONSTRAINT projects_name_key UNIQUE (tenant_id, name),
    CONSTRAINT projects_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT projects_owner_fkey FOREIGN KEY (tenant_id, owner_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE SET NULL (owner_id),
    CONSTRAINT projects_team_fkey FOREIGN KEY (tenant_id, team_id)
        REFERENCES taskforce.teams (tenant_id, team_id) ON DELETE SET NULL (team_id),
    CONSTRAINT projects_project_id_format CHECK (project_id ~ '^[^[:space:][:cntrl:]]{1,128}$'),
    CONSTRAINT projects_name_present CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT projects_status_known CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    CONSTRAINT projects_priority_known CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT projects_security_level_known
        CHECK (security_level IN ('public', 'internal', 'confidential', 'restricted')),
    CONSTRAINT projects_visibility_known CHECK (visibility IN ('public', 'team', 'private')),
    CONSTRAINT projects_budget_nonnegative CHECK (budget >= 0),
    CONSTRAINT projects_dates_ordered CHECK (end_date >= start_date),
    CONSTRAINT projects_classification_no_null
        CHECK (pg_catalog.array_position(data_classification, NULL) IS NULL),
    CONSTRAINT projects_compliance_no_null
        CHECK (pg_catalog.array_position(compliance_requirements, NULL) IS NULL)
);
CREATE INDEX projects_team ON taskforce.projects (tenant_id, team_id);
CREATE INDEX projects_owner ON taskforce.projects (tenant_id, owner_id);
COMMENT ON TABLE taskforce.projects IS
    'projects of each tenant with the fields that govern access and cost (seed 003)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.projects', '');

CREATE TABLE taskforce.project_members (
    tenant_id    text        NOT NULL,
    project_id   text        NOT NULL,
    user_id      text        NOT NULL,
    project_role text        NOT NULL DEFAULT 'member',
    added_by     text        NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT project_members_pkey PRIMARY KEY (tenant_id, project_id, user_id),
    CONSTRAINT project_members_project_fkey FOREIGN KEY (tenant_id, project_id)
        REFERENCES taskforce.projects (tenant_id, project_id) ON DELETE CASCADE,
    CONSTRAINT project_members_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE,
    CONSTRAINT project_members_role_known CHECK (project_role IN ('lead', 'member', 'viewer'))
);
CREATE INDEX project_members_user ON taskforce.project_members (tenant_id, user_id);
COMMENT ON TABLE taskforce.project_members IS
    'direct members of each project (members of the project''s team are members too, unless it is private)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.project_members', '');


-- The permissions of this subsystem.  Only admin ('*') holds them among
-- the system roles, which stay exactly seed 001 Appendix A: give them to
-- others with a custom role.
INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('project:create',         'create projects', true),
    ('project:read',           'read projects (for the application''s own checks; rows are shown by visibility)', true),
    ('project:update',         'update projects, and see every project of the tenant', true),
    ('project:delete',         'delete projects', true),
    ('project:manage_members', 'add and remove the direct members of projects', true),
    ('team:create',            'create teams', true),
    ('team:read',              'read teams (for the application''s own checks; every user sees the teams)', true),
    ('team:update',            'update teams', true),
    ('team:delete',            'delete teams', true),
    ('team:manage_members',    'add and remove the members of teams', true);

-- Whether the current context's user sees a project (named by id) through
-- its visibility, read as the owner.  The same rule as the policy
-- projects_visibility below, which spells it out itself: a policy must not
-- call an inlinable SQL function, whose body would be parsed under the
-- caller's search_path.  The policy on project_members uses this one
-- (reading projects under their own policy from there would recurse).
CREATE FUNCTION taskforce._project_visible(tenant_id text, project_id text)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (
        SELECT FROM taskforce.projects AS p
         WHERE p.tenant_id = _project_visible.tenant_id
           AND p.tenant_id = taskforce.current_tenant()
           AND p.project_id = _project_visible.project_id
           AND (p.visibility = 'public'
                OR p.owner_id = taskforce.current_user_id()
                OR EXISTS (SELECT FROM taskforce.project_members AS m
                            WHERE m.tenant_id = p.tenant_id AND m.project_id = p.project_id
                              AND m.user_id = taskforce.current_user_id())
                OR (p.visibility = 'team'
                    AND EXISTS (SELECT FROM taskforce.team_members AS t
                                 WHERE t.tenant_id = p.tenant_id AND t.team_id = p.team_id
                                   AND t.user_id = taskforce.current_user_id()))))
$$;
REVOKE ALL ON FUNCTION taskforce._project_visible(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._project_visible(text, text) IS
    'internal: whether the context user sees the project by its visibility (public, owner, direct member, team member of a team project)';

-- The projects a user belongs to: directly, through the project's team
-- (unless the project is private), or as its owner.  The ACL cache
-- (src/acl) loads from this function.
CREATE FUNCTION taskforce._user_projects(tenant_id text, user_id text)
    RETURNS SETOF text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT m.project_id FROM taskforce.project_members AS m
     WHERE m.tenant_id = _user_projects.tenant_id AND m.user_id = _user_projects.user_id
    UNION
    SELECT p.project_id FROM taskforce.projects AS p
      JOIN taskforce.team_members AS t ON t.tenant_id = p.tenant_id AND t.team_id = p.team_id
     WHERE p.tenant_id = _user_projects.tenant_id AND t.user_id = _user_projects.user_id
       AND p.visibility <> 'private'
    UNION
    SELECT p.project_id FROM taskforce.projects AS p
     WHERE p.tenant_id = _user_projects.tenant_id AND p.owner_id = _user_projects.user_id
$$;
REVOKE ALL ON FUNCTION taskforce._user_projects(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._user_projects(text, text) IS
    'internal: the projects a user is a member of (directly, through the team unless private, or as owner)';

-- Every member of every project, with how: owner, direct (project_members)
-- or team (a member of the project's team, unless the project is private).
-- security_invoker: a caller sees the members of the projects it sees.
CREATE VIEW taskforce.project_membership WITH (security_invoker = true) AS
    SELECT p.tenant_id, p.project_id, p.owner_id AS user_id, 'owner'::text AS membership,
           NULL::text AS role, NULL::text AS team_id
      FROM taskforce.projects AS p
     WHERE p.owner_id IS NOT NULL
    UNION ALL
    SELECT m.tenant_id, m.project_id, m.user_id, 'direct', m.project_role, NULL
      FROM taskforce.project_members AS m
      JOIN taskforce.projects AS p ON p.tenant_id = m.tenant_id AND p.project_id = m.project_id
    UNION ALL
    SELECT p.tenant_id, p.project_id, t.user_id, 'team', t.team_role, t.team_id
      FROM taskforce.projects AS p
      JOIN taskforce.team_members AS t ON t.tenant_id = p.tenant_id AND t.team_id = p.team_id
     WHERE p.visibility <> 'private';
COMMENT ON VIEW taskforce.project_membership IS
    'members of the projects the caller sees, one row per way of membership: owner, direct (role lead, member or viewer) or team (role lead or member, through team_id)';

-- Raises invalid_parameter_value unless value (when given) is one of
-- allowed, naming them in the hint.
CREATE FUNCTION taskforce._check_choice(what text, value text, allowed text[])
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF value IS NOT NULL AND NOT value = ANY (allowed) THEN
        RAISE EXCEPTION 'invalid % "%"', what, value
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Use one of: %s.', pg_catalog.array_to_string(allowed, ', '));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_choice(text, text, text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_choice(text, text, text[]) IS
    'internal: invalid_parameter_value with the valid values in the hint unless the value is one of them';

-- Raises invalid_parameter_value unless every name in clear is one of the
-- clearable fields, and none is also given a value.
CREATE FUNCTION taskforce._check_clear(clear text[], clearable text[], given text[])
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    f text;
BEGIN
    IF clear IS NULL THEN
        RAISE EXCEPTION 'clear must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass ''{}'' to clear nothing.';
    END IF;
    FOREACH f IN ARRAY clear LOOP
        IF f IS NULL OR NOT f = ANY (clearable) THEN
            RAISE EXCEPTION 'cannot clear "%"', f
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Fields that can be cleared: %s.', pg_catalog.array_to_string(clearable, ', '));
        END IF;
        IF f = ANY (given) THEN
            RAISE EXCEPTION 'field "%" is both given and cleared', f
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_clear(text[], text[], text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_clear(text[], text[], text[]) IS
    'internal: invalid_parameter_value for a field to clear that cannot be, or is also given';

-- Raises undefined_object unless the user exists in the tenant.
CREATE FUNCTION taskforce._require_user(tenant_id text, user_id text)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM taskforce.users AS u
                    WHERE u.tenant_id = _require_user.tenant_id AND u.user_id = _require_user.user_id) THEN
        RAISE EXCEPTION 'user "%" does not exist in tenant "%"', user_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._require_user(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._require_user(text, text) IS
    'internal: undefined_object unless the user exists in the tenant';

-- Returns the team row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_team(tenant_id text, team_id text)
    RETURNS taskforce.teams
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t taskforce.teams;
BEGIN
    IF team_id IS NULL THEN
        RAISE EXCEPTION 'team_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO t FROM taskforce.teams AS x
     WHERE x.tenant_id = _lock_team.tenant_id AND x.team_id = _lock_team.team_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team "%" does not exist in tenant "%"', team_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN t;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_team(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_team(text, text) IS
    'internal: locks and returns a team, or raises undefined_object';

-- Returns the project row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_project(tenant_id text, project_id text)
    RETURNS taskforce.projects
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    p taskforce.projects;
BEGIN
    IF project_id IS NULL THEN
        RAISE EXCEPTION 'project_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO p FROM taskforce.projects AS x
     WHERE x.tenant_id = _lock_project.tenant_id AND x.project_id = _lock_project.project_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'project "%" does not exist in tenant "%"', project_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN p;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_project(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_project(text, text) IS
    'internal: locks and returns a project, or raises undefined_object';

-- Checks the fields of a team before it is written: the name present, the
-- manager a user of the tenant.
CREATE FUNCTION taskforce._check_team_fields(tenant_id text, name text, manager_id text)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name IS NOT NULL AND pg_catalog.btrim(name) = '' THEN
        RAISE EXCEPTION 'a team name must not be blank'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF manager_id IS NOT NULL THEN
        PERFORM taskforce._require_user(tenant_id, manager_id);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_team_fields(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_team_fields(text, text, text) IS
    'internal: invalid_parameter_value or undefined_object for a bad team name or manager';

CREATE FUNCTION taskforce.create_team(
    team_id text,
    name text,
    description text DEFAULT '',
    department text DEFAULT NULL,
    manager_id text DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.teams
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('team:create', tenant_id);
    t taskforce.teams;
BEGIN
    IF create_team.team_id IS NULL OR create_team.name IS NULL THEN
        RAISE EXCEPTION 'team_id and name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF create_team.team_id !~ '^[^[:space:][:cntrl:]]{1,128}$' THEN
        RAISE EXCEPTION 'invalid team_id "%"', create_team.team_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A team_id has 1 to 128 characters and no spaces.';
    END IF;
    PERFORM taskforce._check_team_fields(tenant, create_team.name, create_team.manager_id);
    IF EXISTS (SELECT FROM taskforce.teams AS x
                WHERE x.tenant_id = tenant
                  AND (x.team_id = create_team.team_id OR x.name = create_team.name)) THEN
        RAISE EXCEPTION 'a team with this team_id or name already exists in tenant "%"', tenant
            USING ERRCODE = 'duplicate_object';
    END IF;
    BEGIN
        INSERT INTO taskforce.teams (tenant_id, team_id, name, description, department, manager_id)
        VALUES (tenant, create_team.team_id, create_team.name, coalesce(create_team.description, ''),
                create_team.department, create_team.manager_id)
        RETURNING * INTO t;
    EXCEPTION
        WHEN unique_violation THEN
            -- A concurrent create_team won the race.
            RAISE EXCEPTION 'a team with this team_id or name already exists in tenant "%"', tenant
                USING ERRCODE = 'duplicate_object';
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION '% no longer exists in tenant "%"', format('user "%s"', create_team.manager_id), tenant
                USING ERRCODE = 'undefined_object';
    END;
    RETURN t;
END
$$;
COMMENT ON FUNCTION taskforce.create_team(text, text, text, text, text, text) IS
    'creates a team of the current tenant (name unique in the tenant); needs team:create';

CREATE FUNCTION taskforce.update_team(
    team_id text,
    name text DEFAULT NULL,
    description text DEFAULT NULL,
    department text DEFAULT NULL,
    manager_id text DEFAULT NULL,
    clear text[] DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.teams
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('team:update', tenant_id);
    t taskforce.teams := taskforce._lock_team(tenant, team_id);
BEGIN
    PERFORM taskforce._check_clear(clear, ARRAY['department', 'manager_id'],
        ARRAY[CASE WHEN update_team.department IS NOT NULL THEN 'department' END,
              CASE WHEN update_team.manager_id IS NOT NULL THEN 'manager_id' END]);
    PERFORM taskforce._check_team_fields(tenant, update_team.name, update_team.manager_id);
    IF update_team.name IS NOT NULL
       AND EXISTS (SELECT FROM taskforce.teams AS x
                    WHERE x.tenant_id = tenant AND x.name = update_team.name
                      AND x.team_id <> update_team.team_id) THEN
        RAISE EXCEPTION 'a team named "%" already exists in tenant "%"', update_team.name, tenant
            USING ERRCODE = 'duplicate_object';
    END IF;
    BEGIN
        UPDATE taskforce.teams AS x
           SET name = coalesce(update_team.name, x.name),
               description = coalesce(update_team.description, x.description),
               department = CASE WHEN 'department' = ANY (clear) THEN NULL
                                 ELSE coalesce(update_team.department, x.department) END,
               manager_id = CASE WHEN 'manager_id' = ANY (clear) THEN NULL
                                 ELSE coalesce(update_team.manager_id, x.manager_id) END,
               updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.team_id = update_team.team_id
        RETURNING * INTO t;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'a team named "%" already exists in tenant "%"', update_team.name, tenant
                USING ERRCODE = 'duplicate_object';
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION '% no longer exists in tenant "%"', format('user "%s"', update_team.manager_id), tenant
                USING ERRCODE = 'undefined_object';
    END;
    RETURN t;
END
$$;
COMMENT ON FUNCTION taskforce.update_team(text, text, text, text, text, text[], text) IS
    'changes a team''s name, description, department or manager (nulls leave a field as is; clear names fields to set to null); needs team:update';

CREATE FUNCTION taskforce.delete_team(team_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('team:delete', tenant_id);
BEGIN
    PERFORM taskforce._lock_team(tenant, team_id);
    -- Its members go with it; its projects keep going without a team.
    DELETE FROM taskforce.teams AS x
     WHERE x.tenant_id = tenant AND x.team_id = delete_team.team_id;
END
$$;
COMMENT ON FUNCTION taskforce.delete_team(text, text) IS
    'deletes a team and its memberships; its projects are left without a team; needs team:delete';

CREATE FUNCTION taskforce.add_team_member(
    team_id text,
    user_id text,
    team_role text DEFAULT 'member',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.team_members
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('team:manage_members', tenant_id);
    m taskforce.team_members;
BEGIN
    IF add_team_member.user_id IS NULL OR add_team_member.team_role IS NULL THEN
        RAISE EXCEPTION 'user_id and team_role must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._check_choice('team_role', add_team_member.team_role, ARRAY['lead', 'member']);
    PERFORM taskforce._lock_team(tenant, add_team_member.team_id);
    PERFORM taskforce._require_user(tenant, add_team_member.user_id);
    BEGIN
        INSERT INTO taskforce.team_members AS x (tenant_id, team_id, user_id, team_role, added_by)
        VALUES (tenant, add_team_member.team_id, add_team_member.user_id, add_team_member.team_role,
                coalesce(taskforce.current_user_id(), session_user::text))
        ON CONFLICT ON CONSTRAINT team_members_pkey DO NOTHING
        RETURNING * INTO m;
    EXCEPTION
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION '% no longer exists in tenant "%"', format('user "%s"', add_team_member.user_id), tenant
                USING ERRCODE = 'undefined_object';
    END;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" is already a member of team "%"', add_team_member.user_id, add_team_member.team_id
            USING ERRCODE = 'duplicate_object',
                  HINT = 'To change the role, remove the member and add it again.';
    END IF;
    RETURN m;
END
$$;
COMMENT ON FUNCTION taskforce.add_team_member(text, text, text, text) IS
    'adds a user to a team as lead or member (and so to the team''s projects that are not private); needs team:manage_members';

CREATE FUNCTION taskforce.remove_team_member(team_id text, user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('team:manage_members', tenant_id);
BEGIN
    PERFORM taskforce._lock_team(tenant, remove_team_member.team_id);
    DELETE FROM taskforce.team_members AS x
     WHERE x.tenant_id = tenant AND x.team_id = remove_team_member.team_id
       AND x.user_id = remove_team_member.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" is not a member of team "%"', remove_team_member.user_id, remove_team_member.team_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce.remove_team_member(text, text, text) IS
    'removes a user from a team (and so from the projects it belonged to through the team); needs team:manage_members';

-- Checks the fields of a project before it is written (nulls are not
-- checked: create_project rejects them, update_project keeps the field).
CREATE FUNCTION taskforce._check_project_fields(
    tenant_id text, name text, owner_id text, team_id text, status text, priority text,
    security_level text, visibility text, data_classification text[],
    compliance_requirements text[], budget numeric, start_date date, end_date date)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name IS NOT NULL AND pg_catalog.btrim(name) = '' THEN
        RAISE EXCEPTION 'a project name must not be blank'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM taskforce._check_choice('status', status, ARRAY['active', 'paused', 'completed', 'archived']);
    PERFORM taskforce._check_choice('priority', priority, ARRAY['low', 'medium', 'high', 'critical']);
    PERFORM taskforce._check_choice('security_level', security_level,
                                    ARRAY['public', 'internal', 'confidential', 'restricted']);
    PERFORM taskforce._check_choice('visibility', visibility, ARRAY['public', 'team', 'private']);
    IF pg_catalog.array_position(data_classification, NULL) IS NOT NULL
       OR pg_catalog.array_position(compliance_requirements, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'data_classification and compliance_requirements must not contain null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_ndims(data_classification) > 1 OR pg_catalog.array_ndims(compliance_requirements) > 1 THEN
        RAISE EXCEPTION 'data_classification and compliance_requirements must be one-dimensional arrays'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF budget < 0 THEN
        RAISE EXCEPTION 'budget must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF end_date < start_date THEN
        RAISE EXCEPTION 'end_date % is before start_date %', end_date, start_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF owner_id IS NOT NULL THEN
        PERFORM taskforce._require_user(tenant_id, owner_id);
    END IF;
    IF team_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM taskforce.teams AS t
                        WHERE t.tenant_id = _check_project_fields.tenant_id
                          AND t.team_id = _check_project_fields.team_id) THEN
        RAISE EXCEPTION 'team "%" does not exist in tenant "%"', team_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_project_fields(text, text, text, text, text, text, text, text, text[], text[], numeric, date, date) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_project_fields(text, text, text, text, text, text, text, text, text[], text[], numeric, date, date) IS
    'internal: invalid_parameter_value, null_value_not_allowed or undefined_object for a bad project field';

CREATE FUNCTION taskforce.create_project(
    project_id text,
    name text,
    description text DEFAULT '',
    owner_id text DEFAULT NULL,
    team_id text DEFAULT NULL,
    department text DEFAULT NULL,
    business_unit text DEFAULT NULL,
    cost_center text DEFAULT NULL,
    status text DEFAULT 'active',
    priority text DEFAULT 'medium',
    security_level text DEFAULT 'internal',
    data_classification text[] DEFAULT '{}',
    compliance_requirements text[] DEFAULT '{}',
    visibility text DEFAULT 'team',
    budget numeric DEFAULT NULL,
    start_date date DEFAULT NULL,
    end_date date DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.projects
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('project:create', tenant_id);
    -- The creator owns the project unless another owner is named.
    new_owner text := coalesce(create_project.owner_id, taskforce.current_user_id());
    p taskforce.projects;
BEGIN
    IF create_project.project_id IS NULL OR create_project.name IS NULL
       OR create_project.status IS NULL OR create_project.priority IS NULL
       OR create_project.security_level IS NULL OR create_project.visibility IS NULL
       OR create_project.data_classification IS NULL OR create_project.compliance_requirements IS NULL THEN
        RAISE EXCEPTION 'project_id, name, status, priority, security_level, visibility, data_classification and compliance_requirements must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF create_project.project_id !~ '^[^[:space:][:cntrl:]]{1,128}$' THEN
        RAISE EXCEPTION 'invalid project_id "%"', create_project.project_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A project_id has 1 to 128 characters and no spaces.';
    END IF;
    PERFORM taskforce._check_project_fields(tenant, create_project.name, new_owner, create_project.team_id,
        create_project.status, create_project.priority, create_project.security_level,
        create_project.visibility, create_project.data_classification,
        create_project.compliance_requirements, create_project.budget,
        create_project.start_date, create_project.end_date);
    IF EXISTS (SELECT FROM taskforce.projects AS x
                WHERE x.tenant_id = tenant
                  AND (x.project_id = create_project.project_id OR x.name = create_project.name)) THEN
        RAISE EXCEPTION 'a project with this project_id or name already exists in tenant "%"', tenant
            USING ERRCODE = 'duplicate_object';
    END IF;
    BEGIN
        INSERT INTO taskforce.projects (tenant_id, project_id, name, description, owner_id, team_id,
            department, business_unit, cost_center, status, priority, security_level,
            data_classification, compliance_requirements, visibility, budget, start_date, end_date)
        VALUES (tenant, create_project.project_id, create_project.name,
                coalesce(create_project.description, ''), new_owner, create_project.team_id,
                create_project.department, create_project.business_unit, create_project.cost_center,
                create_project.status, create_project.priority, create_project.security_level,
                create_project.data_classification, create_project.compliance_requirements,
                create_project.visibility, create_project.budget, create_project.start_date,
                create_project.end_date)
        RETURNING * INTO p;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'a project with this project_id or name already exists in tenant "%"', tenant
                USING ERRCODE = 'duplicate_object';
        WHEN numeric_value_out_of_range THEN
            RAISE EXCEPTION 'budget % is out of range', create_project.budget
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A budget has at most 14 digits before the decimal point.';
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION '% no longer exists in tenant "%"', 'the owner or team', tenant
                USING ERRCODE = 'undefined_object';
    END;
    RETURN p;
END
$$;
COMMENT ON FUNCTION taskforce.create_project(text, text, text, text, text, text, text, text, text, text, text, text[], text[], text, numeric, date, date, text) IS
    'creates a project of the current tenant with the seed 003 fields; the owner defaults to the context user; needs project:create';

CREATE FUNCTION taskforce.update_project(
    project_id text,
    name text DEFAULT NULL,
    description text DEFAULT NULL,
    owner_id text DEFAULT NULL,
    team_id text DEFAULT NULL,
    department text DEFAULT NULL,
    business_unit text DEFAULT NULL,
    cost_center text DEFAULT NULL,
    status text DEFAULT NULL,
    priority text DEFAULT NULL,
    security_level text DEFAULT NULL,
    data_classification text[] DEFAULT NULL,
    compliance_requirements text[] DEFAULT NULL,
    visibility text DEFAULT NULL,
    budget numeric DEFAULT NULL,
    start_date date DEFAULT NULL,
    end_date date DEFAULT NULL,
    clear text[] DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.projects
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('project:update', tenant_id);
    p taskforce.projects := taskforce._lock_project(tenant, project_id);
    clearable text[] := ARRAY['owner_id', 'team_id', 'department', 'business_unit', 'cost_center',
                              'budget', 'start_date', 'end_date'];
    given text[] := ARRAY[
        CASE WHEN update_project.owner_id IS NOT NULL THEN 'owner_id' END,
        CASE WHEN update_project.team_id IS NOT NULL THEN 'team_id' END,
        CASE WHEN update_project.department IS NOT NULL THEN 'department' END,
        CASE WHEN update_project.business_unit IS NOT NULL THEN 'business_unit' END,
        CASE WHEN update_project.cost_center IS NOT NULL THEN 'cost_center' END,
        CASE WHEN update_project.budget IS NOT NULL THEN 'budget' END,
        CASE WHEN update_project.start_date IS NOT NULL THEN 'start_date' END,
        CASE WHEN update_project.end_date IS NOT NULL THEN 'end_date' END];
    new_start date;
    new_end date;
BEGIN
    PERFORM taskforce._check_clear(clear, clearable, given);
    -- The owner, the team and the visibility decide who is a member (the
    -- audience of PROJECT-scope resources): changing them is managing members.
    IF update_project.owner_id IS DISTINCT FROM p.owner_id AND update_project.owner_id IS NOT NULL
       OR update_project.team_id IS DISTINCT FROM p.team_id AND update_project.team_id IS NOT NULL
       OR update_project.visibility IS DISTINCT FROM p.visibility AND update_project.visibility IS NOT NULL
       OR clear && ARRAY['owner_id', 'team_id'] THEN
        IF taskforce.current_tenant() IS NOT NULL THEN
            PERFORM taskforce.require_permission('project:manage_members');
        END IF;
    END IF;
    new_start := CASE WHEN 'start_date' = ANY (clear) THEN NULL
                      ELSE coalesce(update_project.start_date, p.start_date) END;
    new_end := CASE WHEN 'end_date' = ANY (clear) THEN NULL
                    ELSE coalesce(update_project.end_date, p.end_date) END;
    PERFORM taskforce._check_project_fields(tenant, update_project.name, update_project.owner_id,
        update_project.team_id, update_project.status, update_project.priority,
        update_project.security_level, update_project.visibility,
        update_project.data_classification, update_project.compliance_requirements,
        update_project.budget, new_start, new_end);
    IF update_project.name IS NOT NULL
       AND EXISTS (SELECT FROM taskforce.projects AS x
                    WHERE x.tenant_id = tenant AND x.name = update_project.name
                      AND x.project_id <> update_project.project_id) THEN
        RAISE EXCEPTION 'a project named "%" already exists in tenant "%"', update_project.name, tenant
            USING ERRCODE = 'duplicate_object';
    END IF;
    BEGIN
        UPDATE taskforce.projects AS x
           SET name = coalesce(update_project.name, x.name),
               description = coalesce(update_project.description, x.description),
               owner_id = CASE WHEN 'owner_id' = ANY (clear) THEN NULL
                               ELSE coalesce(update_project.owner_id, x.owner_id) END,
               team_id = CASE WHEN 'team_id' = ANY (clear) THEN NULL
                              ELSE coalesce(update_project.team_id, x.team_id) END,
               department = CASE WHEN 'department' = ANY (clear) THEN NULL
                                 ELSE coalesce(update_project.department, x.department) END,
               business_unit = CASE WHEN 'business_unit' = ANY (clear) THEN NULL
                                    ELSE coalesce(update_project.business_unit, x.business_unit) END,
               cost_center = CASE WHEN 'cost_center' = ANY (clear) THEN NULL
                                  ELSE coalesce(update_project.cost_center, x.cost_center) END,
               status = coalesce(update_project.status, x.status),
               priority = coalesce(update_project.priority, x.priority),
               security_level = coalesce(update_project.security_level, x.security_level),
               data_classification = coalesce(update_project.data_classification, x.data_classification),
               compliance_requirements = coalesce(update_project.compliance_requirements,
                                                  x.compliance_requirements),
               visibility = coalesce(update_project.visibility, x.visibility),
               budget = CASE WHEN 'budget' = ANY (clear) THEN NULL
                             ELSE coalesce(update_project.budget, x.budget) END,
               start_date = new_start,
               end_date = new_end,
               updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.project_id = update_project.project_id
        RETURNING * INTO p;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'a project named "%" already exists in tenant "%"', update_project.name, tenant
                USING ERRCODE = 'duplicate_object';
        WHEN numeric_value_out_of_range THEN
            RAISE EXCEPTION 'budget % is out of range', update_project.budget
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A budget has at most 14 digits before the decimal point.';
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION '% no longer exists in tenant "%"', 'the owner or team', tenant
                USING ERRCODE = 'undefined_object';
    END;
    RETURN p;
END
$$;
COMMENT ON FUNCTION taskforce.update_project(text, text, text, text, text, text, text, text, text, text, text, text[], text[], text, numeric, date, date, text[], text) IS
    'changes a project''s fields (nulls leave a field as is; clear names fields to set to null; status => ''archived'' archives it); needs project:update, and project:manage_members to change the owner, the team or the visibility';

CREATE FUNCTION taskforce.delete_project(project_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('project:delete', tenant_id);
BEGIN
    PERFORM taskforce._lock_project(tenant, project_id);
    BEGIN
        DELETE FROM taskforce.projects AS x
         WHERE x.tenant_id = tenant AND x.project_id = delete_project.project_id;
    EXCEPTION
        WHEN foreign_key_violation THEN
            RAISE EXCEPTION 'project "%" is still referenced: %', delete_project.project_id, SQLERRM
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Archive it instead with update_project(..., status => ''archived''), or drop what refers to it first.';
    END;
END
$$;
COMMENT ON FUNCTION taskforce.delete_project(text, text) IS
    'deletes a project and its direct memberships (archive with update_project instead to keep it); needs project:delete';

CREATE FUNCTION taskforce.add_project_member(
    project_id text,
    user_id text,
    project_role text DEFAULT 'member',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.project_members
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('project:manage_members', tenant_id);
    m taskforce.project_members;
BEGIN
    IF add_project_member.user_id IS NULL OR add_project_member.project_role IS NULL THEN
        RAISE EXCEPTION 'user_id and project_role must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._check_choice('project_role', add_project_member.project_role,
                                    ARRAY['lead', 'member', 'viewer']);
    PERFORM taskforce._lock_project(tenant, add_project_member.project_id);
    PERFORM taskforce._require_user(tenant, add_project_member.user_id);
    BEGIN
        INSERT INTO taskforce.project_members AS x (tenant_id, project_id, user_id, project_role, added_by)
        VALUES (tenant, add_project_member.project_id, add_project_member.user_id,
                add_project_member.project_role, coalesce(taskforce.current_user_id(), session_user::text))
        ON CONFLICT ON CONSTRAINT project_members_pkey DO NOTHING
        RETURNING * INTO m;
    EXCEPTION
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION '% no longer exists in tenant "%"', format('user "%s"', add_project_member.user_id), tenant
                USING ERRCODE = 'undefined_object';
    END;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" is already a direct member of project "%"',
                        add_project_member.user_id, add_project_member.project_id
            USING ERRCODE = 'duplicate_object',
                  HINT = 'To change the role, remove the member and add it again.';
    END IF;
    RETURN m;
END
$$;
COMMENT ON FUNCTION taskforce.add_project_member(text, text, text, text) IS
    'adds a user to a project directly as lead, member or viewer; needs project:manage_members';

CREATE FUNCTION taskforce.remove_project_member(project_id text, user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('project:manage_members', tenant_id);
BEGIN
    PERFORM taskforce._lock_project(tenant, remove_project_member.project_id);
    DELETE FROM taskforce.project_members AS x
     WHERE x.tenant_id = tenant AND x.project_id = remove_project_member.project_id
       AND x.user_id = remove_project_member.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" is not a direct member of project "%"',
                        remove_project_member.user_id, remove_project_member.project_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'A member through the project''s team leaves it with remove_team_member().';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce.remove_project_member(text, text, text) IS
    'removes a direct member from a project; needs project:manage_members';

-- A deleted tenant refuses every write (deleted_tenants.sql).  The columns
-- named are those a foreign key sets to null when a user or team is
-- deleted, which stays allowed.
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.teams
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('manager_id');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.team_members
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.projects
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('owner_id', 'team_id');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.project_members
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.teams IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.team_members IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.projects IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.project_members IS
    'refuses inserts and updates of a deleted tenant''s rows';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.teams'::regclass), ('taskforce.team_members'),
               ('taskforce.projects'), ('taskforce.project_members')) AS v(t);
SELECT taskforce.enable_audit(t)
  FROM (VALUES ('taskforce.teams'::regclass), ('taskforce.team_members'),
               ('taskforce.projects'), ('taskforce.project_members')) AS v(t);

-- Visibility, composed with tenant isolation (RESTRICTIVE: both must
-- pass): public to the whole tenant; team to the owner, the direct members
-- and the members of the project's team; private to the owner and the
-- direct members.  Holders of project:update see every project of their
-- tenant; the rows of project_members follow their project (a user always
-- sees its own).  Teams and team members are visible to every user of the
-- tenant.  The row-independent checks are scalar subqueries, evaluated once
-- per query.
CREATE POLICY projects_visibility ON taskforce.projects AS RESTRICTIVE FOR SELECT
    USING ((SELECT taskforce.has_permission('project:update'))
           OR visibility = 'public'
           OR owner_id = (SELECT taskforce.current_user_id())
           OR EXISTS (SELECT FROM taskforce.project_members AS m
                       WHERE m.tenant_id = projects.tenant_id AND m.project_id = projects.project_id
                         AND m.user_id = (SELECT taskforce.current_user_id()))
           OR (visibility = 'team'
               AND EXISTS (SELECT FROM taskforce.team_members AS t
                            WHERE t.tenant_id = projects.tenant_id AND t.team_id = projects.team_id
                              AND t.user_id = (SELECT taskforce.current_user_id()))));
CREATE POLICY project_members_visibility ON taskforce.project_members AS RESTRICTIVE FOR SELECT
    USING ((SELECT taskforce.has_permission('project:update'))
           OR user_id = (SELECT taskforce.current_user_id())
           OR taskforce._project_visible(tenant_id, project_id));
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
-- src/sql/acl_protect.sql: protect_table(), row policies that show and
-- change a row of a user table only as its resource's ACL allows.

-- Putting a table's rows under their resources' ACLs.  The state is the
-- row policies themselves (dumped and restored with the table); the view
-- finds the resource column through the select policy's dependency on it.
CREATE VIEW taskforce.protected_tables AS
    SELECT p.polrelid::regclass AS table_name, a.attname AS resource_column
      FROM pg_catalog.pg_policy AS p
      JOIN pg_catalog.pg_depend AS d
        ON d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid = p.oid
       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE p.polname = 'taskforce_acl_select';
COMMENT ON VIEW taskforce.protected_tables IS
    'tables whose rows are shown and changed only as their resources'' ACLs allow (protect_table)';
-- protect_table(), unprotect_table() and the event trigger below run as
-- whoever owns the table or runs the DDL, and read this view: everyone may
-- (it shows only what pg_policy shows everyone).
GRANT SELECT ON taskforce.protected_tables TO PUBLIC;

-- Adds the row policies to tbl and its partitions and children (a query
-- naming a partition must not skip them).
CREATE FUNCTION taskforce._protect(tbl regclass, resource_column name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    child regclass;
BEGIN
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
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', tbl);
    FOR child IN SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i
                  WHERE i.inhparent = tbl ORDER BY i.inhrelid LOOP
        PERFORM taskforce._protect(child, resource_column);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._protect(regclass, name) IS
    'internal: adds protect_table''s row policies to a table and its children';

-- Tables that become partitions or inheritance children of a protected
-- table get its row policies too, as isolation.sql's event trigger gives
-- them the tenant policy: a query naming the new partition must not skip
-- the ACL.  A restore is left alone: pg_restore attaches tables before the
-- parents' policies exist, then restores each child's own.
CREATE FUNCTION taskforce._protect_new_children() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    joined record;
    resource_column name;
BEGIN
    FOR joined IN
        SELECT n.child, n.parent FROM taskforce._new_children() AS n
    LOOP
        SELECT p.resource_column INTO resource_column
          FROM taskforce.protected_tables AS p WHERE p.table_name = joined.parent;
        CONTINUE WHEN NOT FOUND;
        -- Foreign tables cannot have row-level security.
        CONTINUE WHEN (SELECT c.relkind FROM pg_catalog.pg_class AS c
                        WHERE c.oid = joined.child) NOT IN ('r', 'p');
        CONTINUE WHEN EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = joined.child);
        PERFORM taskforce._protect(joined.child, resource_column);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._protect_new_children() IS
    'event trigger: adds protect_table''s row policies to tables as they become partitions or children of protected tables';
CREATE EVENT TRIGGER taskforce_protect_new_children ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION taskforce._protect_new_children();

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
    IF EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = tbl) THEN
        RAISE EXCEPTION 'table "%" is already protected', tbl USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM taskforce._protect(tbl, resource_column);
END
$$;
COMMENT ON FUNCTION taskforce.protect_table(regclass, name) IS
    'adds row policies showing and changing a row only as its resource''s ACL allows (select: read; insert and update: write; delete: delete), on the table and its partitions; it must be under tenant isolation';

CREATE FUNCTION taskforce.unprotect_table(tbl regclass)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'tbl must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = tbl) THEN
        RAISE EXCEPTION 'table "%" is not protected', tbl USING ERRCODE = 'undefined_object';
    END IF;
    FOR t IN WITH RECURSIVE tree(relid) AS (
                 SELECT tbl::oid
                 UNION ALL
                 SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i JOIN tree ON i.inhparent = tree.relid)
             SELECT tree.relid::regclass FROM tree
              WHERE EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = tree.relid) LOOP
        EXECUTE format('DROP POLICY taskforce_acl_select ON %s', t);
        EXECUTE format('DROP POLICY taskforce_acl_insert ON %s', t);
        EXECUTE format('DROP POLICY taskforce_acl_update ON %s', t);
        EXECUTE format('DROP POLICY taskforce_acl_delete ON %s', t);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce.unprotect_table(regclass) IS
    'removes protect_table''s row policies from the table and its partitions (tenant isolation stays)';
-- src/sql/acl_policies.sql: retention and access policies per scope and
-- sensitivity (seed 001 §5.3); the table is in acl.sql (the decision reads
-- it), retention.sql applies the retention.

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

-- Allowed roles: at least one, no null.  They need not be roles defined in
-- taskforce: a trusted issuer's tokens may assert roles of their own.
CREATE FUNCTION taskforce._check_policy_roles(roles text[])
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF array_position(roles, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'allowed_roles must not contain null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(roles) = 0 THEN
        RAISE EXCEPTION 'allowed_roles must name at least one role'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Null allowed_roles means no role restriction.';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce._check_policy_roles(text[]) IS
    'internal: raises unless allowed roles are null or name at least one role and no null';

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
    PERFORM taskforce._check_policy_roles(allowed_roles);
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
    PERFORM taskforce._check_policy_roles(allowed_roles);
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
    IF policy_id IS NULL THEN
        RAISE EXCEPTION 'policy_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
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
-- src/sql/retention.sql: retention of resources under ACL policies (see docs/acl.md).
-- apply_retention() finds the resources whose policy (acl_policies.sql)
-- has max_retention_days and that are older than that; a dry run lists
-- them, a real run deletes them (their rows in protected tables, then their
-- ACLs and grants) in the caller's transaction and records what it deleted
-- in retention_runs.  Every deletion and every run is an audit entry.

CREATE SEQUENCE taskforce.retention_runs_run_id_seq;
COMMENT ON SEQUENCE taskforce.retention_runs_run_id_seq IS
    'run ids of apply_retention: one per call, shared by the tenants it covered';
SELECT pg_catalog.pg_extension_config_dump('taskforce.retention_runs_run_id_seq', '');

CREATE TABLE taskforce.retention_runs (
    tenant_id         text        NOT NULL,
    run_id            bigint      NOT NULL,
    ran_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ran_by            text        NOT NULL,
    db_role           text        NOT NULL DEFAULT session_user,
    policy_ids        text[]      NOT NULL,
    resources_deleted jsonb       NOT NULL,
    rows_deleted      jsonb       NOT NULL,
    CONSTRAINT retention_runs_pkey PRIMARY KEY (tenant_id, run_id),
    CONSTRAINT retention_runs_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT retention_runs_resources_array CHECK (pg_catalog.jsonb_typeof(resources_deleted) = 'array'),
    CONSTRAINT retention_runs_rows_object CHECK (pg_catalog.jsonb_typeof(rows_deleted) = 'object')
);
REVOKE ALL ON taskforce.retention_runs FROM PUBLIC;
COMMENT ON TABLE taskforce.retention_runs IS
    'one row per tenant and real run of apply_retention that deleted something: which policies applied, which resources went and how many rows of each protected table';
COMMENT ON COLUMN taskforce.retention_runs.run_id IS
    'the call: a run over several tenants has one row per tenant with the same run_id';
COMMENT ON COLUMN taskforce.retention_runs.ran_by IS
    'the user of the context, or else the database role (for example the pg_cron job''s role)';
COMMENT ON COLUMN taskforce.retention_runs.resources_deleted IS
    'JSON array of the ids of the resources deleted';
COMMENT ON COLUMN taskforce.retention_runs.rows_deleted IS
    'JSON object: protected table -> number of this tenant''s rows deleted (every protected table, 0 included)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.retention_runs', '');
SELECT taskforce.enable_tenant_isolation('taskforce.retention_runs');
SELECT taskforce.enable_audit('taskforce.retention_runs');

-- The protected tables to delete from: roots only (a DELETE on the root
-- reaches its partitions and children), each with its resource column and
-- its tenant column (null if tenant isolation was removed since).
CREATE FUNCTION taskforce._retention_tables()
    RETURNS TABLE (table_name regclass, resource_column name, tenant_column name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT p.table_name, p.resource_column, taskforce._isolation_column(p.table_name)
      FROM taskforce.protected_tables AS p
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_inherits AS h
                         JOIN taskforce.protected_tables AS q ON q.table_name = h.inhparent
                        WHERE h.inhrelid = p.table_name)
     ORDER BY p.table_name::text
$$;
REVOKE ALL ON FUNCTION taskforce._retention_tables() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._retention_tables() IS
    'internal: the root protected tables with their resource and tenant columns';

-- The work of apply_retention (a plpgsql function cannot have an argument
-- and a result column of the same name, tenant_id).  It runs as the
-- extension owner, whom row-level security does not filter, so it sees
-- and deletes every row of the resources concerned.  The protected tables'
-- own triggers and rules would run with those rights too: as in
-- offboard_tenant(), unless the session is a superuser's, a table that has
-- any (other than isolation's and the audit's, told by their function) is
-- refused.
CREATE FUNCTION taskforce._apply_retention(dry_run boolean, only_tenant text)
    RETURNS TABLE (tenant_id text, resource_id text, resource_type text, scope text,
                   sensitivity text, created_at timestamptz, policy_id text, deleted boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenants text[];
    due taskforce.resource_acls[];
    due_policy text[];
    run bigint;
    t record;
    tbl record;
    counts jsonb;
    n bigint;
    superuser_session boolean := (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r
                                   WHERE r.rolname = session_user);
    -- Global resources govern other tenants' rows: only an administrator's
    -- run (no context) retains them.
    context_tenant text := taskforce.current_tenant();
BEGIN
    IF dry_run IS NULL THEN
        RAISE EXCEPTION 'dry_run must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A context applies its own tenant's policies (policy:manage); an
    -- administrator without one names a tenant, or null for every tenant.
    IF only_tenant IS NULL AND taskforce.current_tenant() IS NULL THEN
        IF NOT taskforce._caller_is_administrator() THEN
            RAISE EXCEPTION 'permission "policy:manage" required'
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Authenticate first, or call as an administrator role.';
        END IF;
    ELSE
        tenants := ARRAY[taskforce._authorize('policy:manage', only_tenant)];
    END IF;

    -- What is due: a resource covered by a policy with a retention, older
    -- than it.  A real run locks the ACL rows first (a concurrent run
    -- waits, then skips what this one deleted); a dry run locks nothing.
    IF dry_run THEN
        SELECT coalesce(array_agg(x.acl ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}'),
               coalesce(array_agg(x.policy_id ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}')
          INTO due, due_policy
          FROM (SELECT a AS acl, p.policy_id
                  FROM taskforce.resource_acls AS a
                  JOIN taskforce.resource_policies AS p
                    ON p.tenant_id = a.tenant_id AND p.scope = a.scope
                   AND a.sensitivity = ANY (p.sensitivity_levels)
                 WHERE p.max_retention_days IS NOT NULL
                   AND a.created_at < pg_catalog.now() - pg_catalog.make_interval(days => p.max_retention_days)
                   AND (tenants IS NULL OR a.tenant_id = ANY (tenants))
                   AND (a.scope <> 'global' OR context_tenant IS NULL)) AS x;
    ELSE
        SELECT coalesce(array_agg(x.acl ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}'),
               coalesce(array_agg(x.policy_id ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}')
          INTO due, due_policy
          FROM (SELECT a AS acl, p.policy_id
                  FROM taskforce.resource_acls AS a
                  JOIN taskforce.resource_policies AS p
                    ON p.tenant_id = a.tenant_id AND p.scope = a.scope
                   AND a.sensitivity = ANY (p.sensitivity_levels)
                 WHERE p.max_retention_days IS NOT NULL
                   AND a.created_at < pg_catalog.now() - pg_catalog.make_interval(days => p.max_retention_days)
                   AND (tenants IS NULL OR a.tenant_id = ANY (tenants))
                   AND (a.scope <> 'global' OR context_tenant IS NULL)
                   FOR UPDATE OF a) AS x;
    END IF;

    IF NOT dry_run AND cardinality(due) > 0 THEN
        -- Lock the protected tables against new triggers and rules (CREATE
        -- TRIGGER and CREATE RULE conflict with ROW EXCLUSIVE), then check.
        FOR tbl IN SELECT * FROM taskforce._retention_tables() LOOP
            EXECUTE format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', tbl.table_name);
            IF tbl.tenant_column IS NULL THEN
                RAISE EXCEPTION 'protected table "%" is not under tenant isolation', tbl.table_name
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = 'Its rows cannot be told apart by tenant, so retention cannot delete one tenant''s rows from it.',
                          HINT = 'Put it under isolation again with taskforce.enable_tenant_isolation(), or call taskforce.unprotect_table().';
            END IF;
            IF NOT superuser_session AND EXISTS (
                   WITH RECURSIVE tree(relid) AS (
                       SELECT tbl.table_name::oid
                       UNION ALL
                       SELECT h.inhrelid FROM pg_catalog.pg_inherits AS h JOIN tree ON h.inhparent = tree.relid)
                   SELECT FROM tree
                    WHERE EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                                   WHERE g.tgrelid = tree.relid AND NOT g.tgisinternal AND g.tgenabled <> 'D'
                                     AND g.tgfoid NOT IN ('taskforce._tenant_immutable'::pg_catalog.regproc,
                                                          'taskforce._audit_trigger'::pg_catalog.regproc))
                       OR EXISTS (SELECT FROM pg_catalog.pg_rewrite AS w
                                   WHERE w.ev_class = tree.relid AND w.ev_type = '4')) THEN
                RAISE EXCEPTION 'protected table "%" has triggers or rules that would run with the rights of taskforce''s owner', tbl.table_name
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'A superuser must run this retention.';
            END IF;
        END LOOP;

        run := pg_catalog.nextval('taskforce.retention_runs_run_id_seq');
        FOR t IN SELECT (due[i]).tenant_id AS tenant,
                        array_agg((due[i]).resource_id ORDER BY (due[i]).resource_id) AS resources,
                        array_agg((due[i]).resource_id) FILTER (WHERE (due[i]).scope = 'global') AS global_resources,
                        array_agg(DISTINCT due_policy[i] ORDER BY due_policy[i]) AS policies
                   FROM generate_subscripts(due, 1) AS i
                  GROUP BY (due[i]).tenant_id ORDER BY (due[i]).tenant_id LOOP
            -- Rows of protected tables first, then the ACLs (their grants
            -- go with them, ON DELETE CASCADE).  A global resource also
            -- governs the rows of other tenants that name it (and no
            -- resource of their own): they go too, but are not counted in
            -- this tenant's run (it must not learn about other tenants).
            counts := '{}';
            FOR tbl IN SELECT * FROM taskforce._retention_tables() LOOP
                EXECUTE format('DELETE FROM %s WHERE %I = $1 AND %I = ANY ($2)',
                               tbl.table_name, tbl.tenant_column, tbl.resource_column)
                    USING t.tenant, t.resources;
                GET DIAGNOSTICS n = ROW_COUNT;
                IF t.global_resources IS NOT NULL THEN
                    EXECUTE format('DELETE FROM %1$s AS x WHERE x.%3$I = ANY ($2) AND x.%2$I <> $1 '
                                   'AND NOT EXISTS (SELECT FROM taskforce.resource_acls AS a '
                                   'WHERE a.tenant_id = x.%2$I AND a.resource_id = x.%3$I)',
                                   tbl.table_name, tbl.tenant_column, tbl.resource_column)
                        USING t.tenant, t.global_resources;
                END IF;
                counts := counts || jsonb_build_object(tbl.table_name::text, n);
            END LOOP;
            DELETE FROM taskforce.resource_acls AS a
             WHERE a.tenant_id = t.tenant AND a.resource_id = ANY (t.resources);
            INSERT INTO taskforce.retention_runs (tenant_id, run_id, ran_by, policy_ids,
                                                  resources_deleted, rows_deleted)
            VALUES (t.tenant, run, coalesce(taskforce.current_user_id(), session_user::text),
                    t.policies, pg_catalog.to_jsonb(t.resources), counts);
        END LOOP;
    END IF;

    RETURN QUERY
        SELECT (due[i]).tenant_id, (due[i]).resource_id, (due[i]).resource_type, (due[i]).scope,
               (due[i]).sensitivity, (due[i]).created_at, due_policy[i], NOT dry_run
          FROM generate_subscripts(due, 1) AS i
         ORDER BY i;
END
$$;
REVOKE ALL ON FUNCTION taskforce._apply_retention(boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._apply_retention(boolean, text) IS
    'internal: the work of apply_retention';

CREATE FUNCTION taskforce.apply_retention(dry_run boolean DEFAULT true, tenant_id text DEFAULT NULL)
    RETURNS TABLE (tenant_id text, resource_id text, resource_type text, scope text,
                   sensitivity text, created_at timestamptz, policy_id text, deleted boolean)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._apply_retention(dry_run, tenant_id)
$$;
REVOKE ALL ON FUNCTION taskforce.apply_retention(boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.apply_retention(boolean, text) IS
    'lists (dry_run, the default) or deletes the resources older than their policy''s max_retention_days, with their rows in protected tables, ACLs and grants, recording a real run in retention_runs; needs policy:manage (a context: its tenant) or an administrator without context (tenant_id, or null for every tenant)';
-- src/sql/roles.sql: the privileges each database role gets, and the
-- function that makes the roles on request.  The roles setup_roles() set up
-- are recorded in database_roles (database_roles.sql), so that ALTER
-- EXTENSION ... UPDATE grants a release's new objects to them: every install
-- and upgrade script ends with this file (an upgrade script drops its two
-- functions first).

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
            -- Who is connected (filtered by caller).
            EXECUTE format('GRANT SELECT ON taskforce.live_contexts, taskforce.live_context_counts TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce._visible_live_contexts() TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.security_events TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('app', 'admin', 'auditor') THEN
            -- Evidence records: read under tenant isolation; written only
            -- by record_evidence(), never changed or deleted.
            EXECUTE format('GRANT SELECT ON taskforce.evidence TO %I', r.role_name);
        END IF;
        -- Audit trail (audit.sql): read through row security only (a
        -- context's tenant with audit:read; auditors all); nobody but the
        -- owner writes it.
        IF r.purpose IN ('app', 'admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.audit_log TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce._is_audit_auditor(name), taskforce._audit_erasing(),
                taskforce.audit_row_history(regclass, jsonb),
                taskforce.audit_changes(timestamptz, timestamptz, text, regclass) TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.audited_tables TO %I', r.role_name);
            -- Audit export (verifier): the sealed trail as JSON lines for
            -- tools/audit-verify.
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.export_audit(bigint, bigint) TO %I', r.role_name);
        END IF;
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.enable_audit(regclass, text[], text[], boolean, text),
                taskforce.disable_audit(regclass),
                taskforce.erase_audit_values(regclass, jsonb, text[], text) TO %I', r.role_name);
        END IF;
        -- Audit Merkle log (audit_log.sql): admins seal; admins and
        -- auditors verify, read proofs, checkpoints and the public key.
        -- App roles get no tree function (positions and proofs span tenants).
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.seal_audit(bigint) TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION
                taskforce.verify_audit(text, text),
                taskforce.audit_inclusion_proof(bigint, bigint),
                taskforce.audit_consistency_proof(bigint, bigint),
                taskforce.audit_position(bigint, integer),
                taskforce.audit_checkpoint(bigint),
                taskforce.audit_public_key() TO %I', r.role_name);
        END IF;
        -- Audit retention (audit_purge.sql): admins purge sealed entries;
        -- admins and auditors read the purge records.
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.purge_audit(timestamptz) TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.audit_purges TO %I', r.role_name);
        END IF;
        -- Projects and teams (projects.sql): read under tenant isolation;
        -- projects and their direct members further by visibility (the
        -- policy on project_members calls _project_visible).  Changed only
        -- through the management functions.
        IF r.purpose IN ('app', 'admin') THEN
            EXECUTE format('GRANT SELECT ON taskforce.teams, taskforce.team_members, taskforce.projects,
                taskforce.project_members, taskforce.project_membership TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce._project_visible(text, text) TO %I', r.role_name);
        END IF;
        -- Resource ACLs (acl*.sql): read under tenant isolation; changed
        -- only through the ACL functions.
        IF r.purpose IN ('app', 'admin') THEN
            EXECUTE format('GRANT SELECT ON taskforce.resource_acls, taskforce.resource_grants,
                taskforce.session_participants, taskforce.resource_policies,
                taskforce.protected_tables TO %I', r.role_name);
        END IF;
        -- Retention (retention.sql): a context with policy:manage applies
        -- its tenant's policies, an administrator every tenant's (the
        -- pg_cron job); the runs are read under tenant isolation.
        IF r.purpose IN ('app', 'admin') THEN
            EXECUTE format('GRANT SELECT ON taskforce.retention_runs TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.apply_retention(boolean, text) TO %I', r.role_name);
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
                taskforce.offboard_tenant(text, boolean),
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
