-- src/sql/releases.sql: environments and releases of projects (issue 11,
-- seed 003; the shared design is spec/LIFE_SPEC.md section 6).  A release
-- is a semantic version of a project; it is created as a draft, released
-- into one environment of its project (which then runs it) and may be
-- rolled back (the environment returns to its previous release).  The
-- status follows the state machine `release` (state_machines.sql), whose
-- trigger checks every transition and writes it to the audit trail.  Both
-- tables are tenant-isolated, audited, follow their project's visibility
-- and are written only through the functions below (release:manage).

INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('release:manage', 'create, release and roll back project releases and environments', true);

CREATE TABLE taskforce.environments (
    tenant_id          text        NOT NULL,
    project_id         text        NOT NULL,
    environment_id     text        NOT NULL,
    name               text        NOT NULL,
    url                text,
    status             text        NOT NULL DEFAULT 'active',
    -- Not a foreign key: releases refer to environments, and pg_dump
    -- restores extension tables in foreign key order, which a cycle has
    -- not.  Only release_release and roll_back_release set it.
    current_release_id text,
    deployed_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT environments_pkey PRIMARY KEY (tenant_id, project_id, environment_id),
    CONSTRAINT environments_name_key UNIQUE (tenant_id, project_id, name),
    CONSTRAINT environments_project_fkey FOREIGN KEY (tenant_id, project_id)
        REFERENCES taskforce.projects (tenant_id, project_id),
    CONSTRAINT environments_environment_id_format
        CHECK (environment_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    CONSTRAINT environments_name_present CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT environments_url_format CHECK (url ~ '^https?://[^[:space:][:cntrl:]]+$'),
    CONSTRAINT environments_status_known CHECK (status IN ('active', 'inactive')),
    CONSTRAINT environments_deployed_with_release
        CHECK ((current_release_id IS NULL) = (deployed_at IS NULL))
);
COMMENT ON TABLE taskforce.environments IS
    'deployment environments of each project (development, staging, production...) and the release each runs';
SELECT pg_catalog.pg_extension_config_dump('taskforce.environments', '');

CREATE TABLE taskforce.releases (
    tenant_id      text        NOT NULL,
    project_id     text        NOT NULL,
    release_id     text        NOT NULL,
    version        text        NOT NULL,
    -- SemVer precedence as bytes: ORDER BY version_key is release order,
    -- and versions equal in precedence (1.0.0+a, 1.0.0+b) clash.
    version_key    bytea       NOT NULL GENERATED ALWAYS AS (taskforce.semver_key(version)) STORED,
    name           text        NOT NULL,
    notes          text        NOT NULL DEFAULT '',
    status         text        NOT NULL DEFAULT 'draft',
    environment_id text,
    -- Who did what, kept as given: history outlives the user's account.
    created_by     text,
    released_by    text,
    rolled_back_by text,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    released_at    timestamptz,
    rolled_back_at timestamptz,
    CONSTRAINT releases_pkey PRIMARY KEY (tenant_id, project_id, release_id),
    CONSTRAINT releases_version_key UNIQUE (tenant_id, project_id, version_key),
    CONSTRAINT releases_project_fkey FOREIGN KEY (tenant_id, project_id)
        REFERENCES taskforce.projects (tenant_id, project_id),
    CONSTRAINT releases_environment_fkey FOREIGN KEY (tenant_id, project_id, environment_id)
        REFERENCES taskforce.environments (tenant_id, project_id, environment_id),
    CONSTRAINT releases_release_id_format
        CHECK (release_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    CONSTRAINT releases_name_present CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT releases_status_known CHECK (status IN ('draft', 'released', 'rolled_back')),
    CONSTRAINT releases_released_fields
        CHECK ((status = 'draft') = (released_at IS NULL)
               AND (status = 'draft') = (environment_id IS NULL)),
    CONSTRAINT releases_rolled_back_fields CHECK ((status = 'rolled_back') = (rolled_back_at IS NOT NULL))
);
CREATE INDEX releases_environment ON taskforce.releases (tenant_id, project_id, environment_id, version_key)
    WHERE status = 'released';
COMMENT ON TABLE taskforce.releases IS
    'releases of each project: a semantic version, draft until released into one environment, then possibly rolled back';
COMMENT ON COLUMN taskforce.releases.version_key IS
    'taskforce.semver_key(version): ordering by it orders releases by SemVer precedence';
SELECT pg_catalog.pg_extension_config_dump('taskforce.releases', '');

CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.environments
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.releases
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.environments IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.releases IS
    'refuses inserts and updates of a deleted tenant''s rows';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.environments'::regclass), ('taskforce.releases')) AS v(t);
-- The version's sort key is left out of the audit entries: it repeats the
-- version.
SELECT taskforce.enable_audit('taskforce.environments');
SELECT taskforce.enable_audit('taskforce.releases', exclude_columns => '{version_key}');

-- Rows follow their project's visibility (composed with tenant isolation):
-- holders of project:update see every project's, others those of the
-- projects they see (projects.sql).
CREATE POLICY environments_visibility ON taskforce.environments AS RESTRICTIVE FOR SELECT
    USING ((SELECT taskforce.has_permission('project:update'))
           OR taskforce._project_visible(tenant_id, project_id));
CREATE POLICY releases_visibility ON taskforce.releases AS RESTRICTIVE FOR SELECT
    USING ((SELECT taskforce.has_permission('project:update'))
           OR taskforce._project_visible(tenant_id, project_id));

-- The release machine: a draft is released once; a released release may
-- be rolled back, for good.
SELECT taskforce.define_state_machine('release', ARRAY['draft'], ARRAY['rolled_back'],
    '[{"from": "draft", "to": "released", "permission": "release:manage"},
      {"from": "released", "to": "rolled_back", "permission": "release:manage"}]',
    'project releases: draft -> released -> rolled_back (releases.sql)');
SELECT taskforce.attach_state_machine('taskforce.releases', 'status', 'release');

-- Raises undefined_object unless the project exists in the tenant and the
-- context (if any) sees it: a project hidden by its visibility is as
-- unknown to release management as another tenant's.
CREATE FUNCTION taskforce._require_release_project(tenant_id text, project_id text)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF project_id IS NULL THEN
        RAISE EXCEPTION 'project_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.projects AS p
                    WHERE p.tenant_id = _require_release_project.tenant_id
                      AND p.project_id = _require_release_project.project_id)
       OR taskforce.current_tenant() IS NOT NULL
          AND NOT taskforce.has_permission('project:update')
          AND NOT taskforce._project_visible(tenant_id, project_id) THEN
        RAISE EXCEPTION 'project "%" does not exist in tenant "%"', project_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._require_release_project(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._require_release_project(text, text) IS
    'internal: undefined_object unless the project exists in the tenant and the context sees it';

-- Returns the environment row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_environment(tenant_id text, project_id text, environment_id text)
    RETURNS taskforce.environments
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    e taskforce.environments;
BEGIN
    IF environment_id IS NULL THEN
        RAISE EXCEPTION 'environment_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO e FROM taskforce.environments AS x
     WHERE x.tenant_id = _lock_environment.tenant_id AND x.project_id = _lock_environment.project_id
       AND x.environment_id = _lock_environment.environment_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'environment "%" does not exist in project "%"', environment_id, project_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN e;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_environment(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_environment(text, text, text) IS
    'internal: locks and returns an environment, or raises undefined_object';

-- Returns the release row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_release(tenant_id text, project_id text, release_id text)
    RETURNS taskforce.releases
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r taskforce.releases;
BEGIN
    IF release_id IS NULL THEN
        RAISE EXCEPTION 'release_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO r FROM taskforce.releases AS x
     WHERE x.tenant_id = _lock_release.tenant_id AND x.project_id = _lock_release.project_id
       AND x.release_id = _lock_release.release_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'release "%" does not exist in project "%"', release_id, project_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_release(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_release(text, text, text) IS
    'internal: locks and returns a release, or raises undefined_object';

-- Raises invalid_parameter_value for a bad id (what names it).
CREATE FUNCTION taskforce._check_release_id(what text, value text)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF value !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid % "%"', what, value
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1 to 128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_release_id(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_release_id(text, text) IS
    'internal: invalid_parameter_value unless the value is a valid environment or release id';

-- Raises invalid_parameter_value for a bad environment name or url.
CREATE FUNCTION taskforce._check_environment_fields(name text, url text, status text)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF pg_catalog.btrim(name) = '' THEN
        RAISE EXCEPTION 'name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF url !~ '^https?://[^[:space:][:cntrl:]]+$' THEN
        RAISE EXCEPTION 'invalid url "%"', url
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An environment url starts with http:// or https:// and has no spaces.';
    END IF;
    PERFORM taskforce._check_choice('environment status', status, ARRAY['active', 'inactive']);
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_environment_fields(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_environment_fields(text, text, text) IS
    'internal: invalid_parameter_value for an empty name, a url that is not http(s) or an unknown status';

CREATE FUNCTION taskforce.create_environment(
    project_id text,
    environment_id text,
    name text,
    url text DEFAULT NULL,
    status text DEFAULT 'active',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.environments
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('release:manage', tenant_id);
    e taskforce.environments;
BEGIN
    IF create_environment.environment_id IS NULL OR create_environment.name IS NULL
       OR create_environment.status IS NULL THEN
        RAISE EXCEPTION 'environment_id, name and status must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._require_release_project(tenant, create_environment.project_id);
    PERFORM taskforce._check_release_id('environment_id', create_environment.environment_id);
    PERFORM taskforce._check_environment_fields(create_environment.name, create_environment.url,
                                                create_environment.status);
    BEGIN
        INSERT INTO taskforce.environments (tenant_id, project_id, environment_id, name, url, status)
        VALUES (tenant, create_environment.project_id, create_environment.environment_id,
                create_environment.name, create_environment.url, create_environment.status)
        RETURNING * INTO e;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'an environment with this environment_id or name already exists in project "%"',
                create_environment.project_id
                USING ERRCODE = 'duplicate_object';
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION 'project "%" no longer exists in tenant "%"', create_environment.project_id, tenant
                USING ERRCODE = 'undefined_object';
    END;
    RETURN e;
END
$$;
COMMENT ON FUNCTION taskforce.create_environment(text, text, text, text, text, text) IS
    'creates an environment of a project (status active or inactive; url http(s)); needs release:manage';

CREATE FUNCTION taskforce.update_environment(
    project_id text,
    environment_id text,
    name text DEFAULT NULL,
    url text DEFAULT NULL,
    status text DEFAULT NULL,
    clear text[] DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.environments
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('release:manage', tenant_id);
    e taskforce.environments;
BEGIN
    PERFORM taskforce._require_release_project(tenant, update_environment.project_id);
    e := taskforce._lock_environment(tenant, update_environment.project_id, update_environment.environment_id);
    PERFORM taskforce._check_clear(clear, ARRAY['url'],
        ARRAY[CASE WHEN update_environment.url IS NOT NULL THEN 'url' END]);
    PERFORM taskforce._check_environment_fields(update_environment.name, update_environment.url,
                                                update_environment.status);
    BEGIN
        UPDATE taskforce.environments AS x
           SET name = coalesce(update_environment.name, x.name),
               url = CASE WHEN 'url' = ANY (clear) THEN NULL
                          ELSE coalesce(update_environment.url, x.url) END,
               status = coalesce(update_environment.status, x.status),
               updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.project_id = update_environment.project_id
           AND x.environment_id = update_environment.environment_id
        RETURNING * INTO e;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'an environment named "%" already exists in project "%"',
                update_environment.name, update_environment.project_id
                USING ERRCODE = 'duplicate_object';
    END;
    RETURN e;
END
$$;
COMMENT ON FUNCTION taskforce.update_environment(text, text, text, text, text, text[], text) IS
    'changes an environment''s name, url or status (nulls leave a field as is; clear => ''{url}'' removes the url); needs release:manage';

CREATE FUNCTION taskforce.create_release(
    project_id text,
    release_id text,
    version text,
    name text DEFAULT NULL,
    notes text DEFAULT '',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.releases
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('release:manage', tenant_id);
    r taskforce.releases;
BEGIN
    IF create_release.release_id IS NULL OR create_release.version IS NULL THEN
        RAISE EXCEPTION 'release_id and version must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._require_release_project(tenant, create_release.project_id);
    PERFORM taskforce._check_release_id('release_id', create_release.release_id);
    PERFORM taskforce.semver_key(create_release.version);
    IF pg_catalog.btrim(create_release.name) = '' THEN
        RAISE EXCEPTION 'name must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave it out to name the release after its version.';
    END IF;
    IF EXISTS (SELECT FROM taskforce.releases AS x
                WHERE x.tenant_id = tenant AND x.project_id = create_release.project_id
                  AND x.release_id = create_release.release_id) THEN
        RAISE EXCEPTION 'release "%" already exists in project "%"', create_release.release_id,
            create_release.project_id
            USING ERRCODE = 'duplicate_object';
    END IF;
    SELECT * INTO r FROM taskforce.releases AS x
     WHERE x.tenant_id = tenant AND x.project_id = create_release.project_id
       AND x.version_key = taskforce.semver_key(create_release.version);
    IF FOUND THEN
        RAISE EXCEPTION 'version "%" of project "%" already exists as release "%" (version "%")',
            create_release.version, create_release.project_id, r.release_id, r.version
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Versions that differ only in build metadata have the same precedence.';
    END IF;
    BEGIN
        INSERT INTO taskforce.releases (tenant_id, project_id, release_id, version, name, notes, created_by)
        VALUES (tenant, create_release.project_id, create_release.release_id, create_release.version,
                coalesce(create_release.name, create_release.version),
                coalesce(create_release.notes, ''), taskforce.current_user_id())
        RETURNING * INTO r;
    EXCEPTION
        WHEN unique_violation THEN
            -- A concurrent transaction created it after the checks above.
            RAISE EXCEPTION 'release "%" or version "%" already exists in project "%"',
                create_release.release_id, create_release.version, create_release.project_id
                USING ERRCODE = 'duplicate_object';
        WHEN foreign_key_violation THEN
            RAISE EXCEPTION 'project "%" no longer exists in tenant "%"', create_release.project_id, tenant
                USING ERRCODE = 'undefined_object';
    END;
    RETURN r;
END
$$;
COMMENT ON FUNCTION taskforce.create_release(text, text, text, text, text, text) IS
    'creates a draft release of a project with a semantic version (unique in the project by precedence; the name defaults to the version); needs release:manage';

-- Moves a draft release to released into one environment of its project,
-- which then runs it.  The environment row is locked first (then the
-- release, as roll_back_release does), so releases into one environment
-- happen one after the other.
CREATE FUNCTION taskforce.release_release(
    project_id text,
    release_id text,
    environment_id text,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.releases
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('release:manage', tenant_id);
    e taskforce.environments;
    r taskforce.releases;
    current_release taskforce.releases;
BEGIN
    PERFORM taskforce._require_release_project(tenant, release_release.project_id);
    e := taskforce._lock_environment(tenant, release_release.project_id, release_release.environment_id);
    r := taskforce._lock_release(tenant, release_release.project_id, release_release.release_id);
    IF r.status = 'released' THEN
        RAISE EXCEPTION 'release "%" of project "%" is already released into environment "%"',
            r.release_id, r.project_id, r.environment_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A release is released once; create a new release for another environment.';
    END IF;
    IF e.status <> 'active' THEN
        RAISE EXCEPTION 'environment "%" of project "%" is %', e.environment_id, e.project_id, e.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Activate it first with taskforce.update_environment(..., status => ''active'').';
    END IF;
    -- The state machine decides the transition (rolled_back is terminal).
    UPDATE taskforce.releases AS x
       SET status = 'released', environment_id = e.environment_id,
           released_at = pg_catalog.now(), released_by = taskforce.current_user_id()
     WHERE x.tenant_id = tenant AND x.project_id = r.project_id AND x.release_id = r.release_id
    RETURNING * INTO r;
    SELECT * INTO current_release FROM taskforce.releases AS x
     WHERE x.tenant_id = tenant AND x.project_id = e.project_id AND x.release_id = e.current_release_id;
    IF current_release.version_key >= r.version_key THEN
        RAISE EXCEPTION 'release "%" (version %) is not newer than release "%" (version %), which environment "%" runs',
            r.release_id, r.version, current_release.release_id, current_release.version, e.environment_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Roll back the current release to return to an earlier one.';
    END IF;
    UPDATE taskforce.environments AS x
       SET current_release_id = r.release_id, deployed_at = pg_catalog.now(), updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.project_id = e.project_id AND x.environment_id = e.environment_id;
    PERFORM taskforce._emit_event(tenant, 'release_released', pg_catalog.jsonb_build_object(
        'project_id', r.project_id, 'release_id', r.release_id, 'version', r.version,
        'environment_id', e.environment_id, 'previous_release_id', e.current_release_id,
        'released_by', r.released_by));
    RETURN r;
END
$$;
COMMENT ON FUNCTION taskforce.release_release(text, text, text, text) IS
    'releases a draft release into an active environment of its project (newer than the release it runs, which it replaces); emits release_released; needs release:manage';

-- Moves a released release to rolled_back.  If its environment runs it,
-- the environment returns to its newest release still released (or to
-- none).  The reason goes into the transition's audit entry and the event.
CREATE FUNCTION taskforce.roll_back_release(
    project_id text,
    release_id text,
    reason text DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.releases
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('release:manage', tenant_id);
    target text;
    e taskforce.environments;
    r taskforce.releases;
    previous taskforce.releases;
BEGIN
    PERFORM taskforce._require_release_project(tenant, roll_back_release.project_id);
    IF roll_back_release.release_id IS NULL THEN
        RAISE EXCEPTION 'release_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- The environment first, then the release (release_release's order);
    -- a release's environment is set once, when it is released.
    SELECT x.environment_id INTO target FROM taskforce.releases AS x
     WHERE x.tenant_id = tenant AND x.project_id = roll_back_release.project_id
       AND x.release_id = roll_back_release.release_id;
    IF target IS NOT NULL THEN
        e := taskforce._lock_environment(tenant, roll_back_release.project_id, target);
    END IF;
    r := taskforce._lock_release(tenant, roll_back_release.project_id, roll_back_release.release_id);
    IF r.status = 'rolled_back' THEN
        RAISE EXCEPTION 'release "%" of project "%" is already rolled back', r.release_id, r.project_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM taskforce.set_transition_reason(roll_back_release.reason);
    -- The state machine decides the transition (a draft cannot be rolled back).
    UPDATE taskforce.releases AS x
       SET status = 'rolled_back', rolled_back_at = pg_catalog.now(),
           rolled_back_by = taskforce.current_user_id()
     WHERE x.tenant_id = tenant AND x.project_id = r.project_id AND x.release_id = r.release_id
    RETURNING * INTO r;
    IF e.current_release_id = r.release_id THEN
        SELECT * INTO previous FROM taskforce.releases AS x
         WHERE x.tenant_id = tenant AND x.project_id = e.project_id
           AND x.environment_id = e.environment_id AND x.status = 'released'
         ORDER BY x.version_key DESC
         LIMIT 1;
        UPDATE taskforce.environments AS x
           SET current_release_id = previous.release_id,
               deployed_at = CASE WHEN previous.release_id IS NOT NULL THEN pg_catalog.now() END,
               updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.project_id = e.project_id AND x.environment_id = e.environment_id
        RETURNING * INTO e;
    END IF;
    PERFORM taskforce._emit_event(tenant, 'release_rolled_back', pg_catalog.jsonb_build_object(
        'project_id', r.project_id, 'release_id', r.release_id, 'version', r.version,
        'environment_id', r.environment_id, 'current_release_id', e.current_release_id,
        'reason', roll_back_release.reason, 'rolled_back_by', r.rolled_back_by));
    RETURN r;
END
$$;
COMMENT ON FUNCTION taskforce.roll_back_release(text, text, text, text) IS
    'rolls back a released release (for good); an environment running it returns to its newest release still released, or none; emits release_rolled_back; needs release:manage';

-- The lists read the tables as the caller: tenant isolation and the
-- projects' visibility decide which rows.
CREATE FUNCTION taskforce.list_environments(project_id text DEFAULT NULL)
    RETURNS SETOF taskforce.environments
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce.environments AS e
     WHERE list_environments.project_id IS NULL OR e.project_id = list_environments.project_id
     ORDER BY e.project_id, e.name
$$;
COMMENT ON FUNCTION taskforce.list_environments(text) IS
    'the environments the caller sees (of one project, or of all), by project and name';

CREATE FUNCTION taskforce.list_releases(project_id text DEFAULT NULL, status text DEFAULT NULL,
                                        environment_id text DEFAULT NULL)
    RETURNS SETOF taskforce.releases
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    -- Runs as the caller: _check_choice is not theirs to call.
    IF list_releases.status NOT IN ('draft', 'released', 'rolled_back') THEN
        RAISE EXCEPTION 'invalid release status "%"', list_releases.status
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use one of: draft, released, rolled_back.';
    END IF;
    RETURN QUERY
        SELECT * FROM taskforce.releases AS r
         WHERE (list_releases.project_id IS NULL OR r.project_id = list_releases.project_id)
           AND (list_releases.status IS NULL OR r.status = list_releases.status)
           AND (list_releases.environment_id IS NULL OR r.environment_id = list_releases.environment_id)
         ORDER BY r.project_id, r.version_key DESC;
END
$$;
COMMENT ON FUNCTION taskforce.list_releases(text, text, text) IS
    'the releases the caller sees (filtered by project, status, environment), newest version first (SemVer precedence)';
