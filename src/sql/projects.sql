-- src/sql/projects.sql: teams, projects and their members (seed 003), the
-- groups that resource ACLs (acl.sql) and cost reports refer to.  All
-- tables are tenant-isolated and audited; project membership is direct
-- (project_members) or through the project's team (team_members).

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
    'direct members of each project (members of the project''s team are members too)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.project_members', '');

-- The projects a user belongs to: directly, through the project's team,
-- or as its owner.  The ACL cache (src/acl) loads from this function.
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
    UNION
    SELECT p.project_id FROM taskforce.projects AS p
     WHERE p.tenant_id = _user_projects.tenant_id AND p.owner_id = _user_projects.user_id
$$;
REVOKE ALL ON FUNCTION taskforce._user_projects(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._user_projects(text, text) IS
    'internal: the projects a user is a member of (directly, through the team, or as owner)';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.teams'::regclass), ('taskforce.team_members'),
               ('taskforce.projects'), ('taskforce.project_members')) AS v(t);
SELECT taskforce.enable_audit(t)
  FROM (VALUES ('taskforce.teams'::regclass), ('taskforce.team_members'),
               ('taskforce.projects'), ('taskforce.project_members')) AS v(t);
