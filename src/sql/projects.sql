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
