-- src/sql/catalog.sql: (issue 11; the shared design is spec/LIFE_SPEC.md).

-- Publishing (and deprecating, archiving) agent versions.  Designers
-- publish; with an agent_publish workflow in place, approval also needs an
-- approved request (approvals.sql).
INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('agent:publish', 'approve, publish, deprecate and archive agent versions', true);
UPDATE taskforce.system_roles
   SET permissions = permissions || ARRAY['agent:publish']
 WHERE role_name = 'agent_designer';


-- Semantic versions (src/lifecycle/semver.c) and definition hashes
-- (src/lifecycle/config_hash.c): plain values, usable on any table.
CREATE FUNCTION taskforce.semver_key(version text) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_semver_key';
COMMENT ON FUNCTION taskforce.semver_key(text) IS
    'a byte string whose order is SemVer 2.0.0 precedence (build metadata ignored); invalid_parameter_value for an invalid version';

CREATE FUNCTION taskforce.semver_compare(a text, b text) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_semver_compare';
COMMENT ON FUNCTION taskforce.semver_compare(text, text) IS
    '-1, 0 or 1 as version a has lower, equal or higher SemVer 2.0.0 precedence than b';

CREATE FUNCTION taskforce.config_hash(definition jsonb) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_config_hash';
COMMENT ON FUNCTION taskforce.config_hash(jsonb) IS
    'SHA-256 of a canonical encoding of the jsonb: equal for definitions jsonb holds equal (key order, whitespace, duplicate keys, number scale)';


-- The agent catalog (seed 001 §4.1): agents and their versions.  Written
-- only through the functions below (SECURITY DEFINER, permission-checked);
-- read under tenant isolation.

-- The search document of an agent: name (weight A), tags (B), description
-- (C), English stemming.  A function because array_to_string is only
-- STABLE in general; for text[] its result depends on nothing but the input.
CREATE FUNCTION taskforce._agent_search_document(name text, tags text[], description text)
    RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.english', coalesce(name, '')), 'A')
        || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.english',
                                    coalesce(pg_catalog.array_to_string(tags, ' '), '')), 'B')
        || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.english', coalesce(description, '')), 'C')
$$;
COMMENT ON FUNCTION taskforce._agent_search_document(text, text[], text) IS
    'internal: the weighted full-text document of an agent (name A, tags B, description C)';

CREATE TABLE taskforce.agents (
    tenant_id       text        NOT NULL,
    agent_id        text        NOT NULL,
    name            text        NOT NULL,
    description     text        NOT NULL DEFAULT '',
    category        text,
    tags            text[]      NOT NULL DEFAULT '{}',
    owner_id        text,
    current_version text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    search          tsvector    NOT NULL
        GENERATED ALWAYS AS (taskforce._agent_search_document(name, tags, description)) STORED,
    CONSTRAINT agents_pkey PRIMARY KEY (tenant_id, agent_id),
    CONSTRAINT agents_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT agents_owner_fkey FOREIGN KEY (tenant_id, owner_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE SET NULL (owner_id),
    CONSTRAINT agents_agent_id_format CHECK (agent_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    CONSTRAINT agents_name_present CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT agents_tags_no_null CHECK (pg_catalog.array_position(tags, NULL) IS NULL)
);
CREATE INDEX agents_search ON taskforce.agents USING gin (search);
CREATE INDEX agents_tags ON taskforce.agents USING gin (tags);
CREATE INDEX agents_category ON taskforce.agents (tenant_id, category);
COMMENT ON TABLE taskforce.agents IS
    'the agent catalog of each tenant: name, description, category, tags, owner and the current (published) version';
COMMENT ON COLUMN taskforce.agents.search IS
    'full-text document: name (weight A), tags (B), description (C), English';
SELECT pg_catalog.pg_extension_config_dump('taskforce.agents', '');

CREATE TABLE taskforce.agent_versions (
    tenant_id     text        NOT NULL,
    agent_id      text        NOT NULL,
    version       text        NOT NULL,
    version_key   bytea       NOT NULL GENERATED ALWAYS AS (taskforce.semver_key(version)) STORED,
    status        text        NOT NULL DEFAULT 'draft',
    definition    jsonb       NOT NULL,
    config_hash   bytea       NOT NULL,
    changelog     text        NOT NULL DEFAULT '',
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    submitted_at  timestamptz,
    approved_by   text,
    approved_at   timestamptz,
    published_at  timestamptz,
    deprecated_at timestamptz,
    archived_at   timestamptz,
    CONSTRAINT agent_versions_pkey PRIMARY KEY (tenant_id, agent_id, version),
    -- Versions equal in precedence (1.0.0+a, 1.0.0+b) cannot both exist.
    CONSTRAINT agent_versions_precedence_key UNIQUE (tenant_id, agent_id, version_key),
    CONSTRAINT agent_versions_agent_fkey FOREIGN KEY (tenant_id, agent_id)
        REFERENCES taskforce.agents (tenant_id, agent_id) ON DELETE CASCADE,
    CONSTRAINT agent_versions_status_known CHECK (status IN ('draft', 'pending_approval', 'approved',
                                                             'published', 'deprecated', 'archived')),
    CONSTRAINT agent_versions_definition_object CHECK (pg_catalog.jsonb_typeof(definition) = 'object')
);
COMMENT ON TABLE taskforce.agent_versions IS
    'versions of each agent: semantic version, definition, its config hash and the lifecycle (machine agent_version)';
COMMENT ON COLUMN taskforce.agent_versions.version_key IS
    'semver_key(version): ORDER BY version_key is SemVer precedence';
COMMENT ON COLUMN taskforce.agent_versions.config_hash IS
    'config_hash(definition), set by a trigger: what an approval request is bound to';
SELECT pg_catalog.pg_extension_config_dump('taskforce.agent_versions', '');

-- Sets config_hash from the definition on every write, so that it cannot
-- disagree with it.  It runs before the state machine's trigger
-- (taskforce_state_machine; triggers fire in name order), which reads it as
-- the content an approval is bound to.
CREATE FUNCTION taskforce._agent_version_config_hash() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    NEW.config_hash := taskforce.config_hash(NEW.definition);
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION taskforce._agent_version_config_hash() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._agent_version_config_hash() IS
    'internal: trigger setting agent_versions.config_hash from the definition';
CREATE TRIGGER agent_versions_config_hash BEFORE INSERT OR UPDATE ON taskforce.agent_versions
    FOR EACH ROW EXECUTE FUNCTION taskforce._agent_version_config_hash();
COMMENT ON TRIGGER agent_versions_config_hash ON taskforce.agent_versions IS
    'sets config_hash from the definition';

-- Refuses a change of what a version is once it has left draft: its
-- definition, its version number or its agent.  Whoever writes (owner and
-- superuser included) gets the same answer.
CREATE FUNCTION taskforce._agent_version_immutable() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF OLD.status <> 'draft'
       AND (NEW.definition IS DISTINCT FROM OLD.definition OR NEW.version IS DISTINCT FROM OLD.version
            OR NEW.agent_id IS DISTINCT FROM OLD.agent_id) THEN
        RAISE EXCEPTION 'version "%" of agent "%" is % and can no longer change', OLD.version, OLD.agent_id, OLD.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The definition, version and agent of a version are fixed once it leaves draft.',
                  HINT = 'Create a new version with taskforce.create_version(), or withdraw a pending one to draft first.';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION taskforce._agent_version_immutable() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._agent_version_immutable() IS
    'internal: trigger refusing (55000) a change of definition, version or agent of a version no longer in draft';
CREATE TRIGGER agent_versions_immutable BEFORE UPDATE ON taskforce.agent_versions
    FOR EACH ROW EXECUTE FUNCTION taskforce._agent_version_immutable();
COMMENT ON TRIGGER agent_versions_immutable ON taskforce.agent_versions IS
    'refuses a change of definition, version or agent once the version has left draft';

CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.agents
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('owner_id');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.agent_versions
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.agents IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.agent_versions IS
    'refuses inserts and updates of a deleted tenant''s rows';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.agents'::regclass), ('taskforce.agent_versions')) AS v(t);
-- The derived columns (the search document, the version's sort key) are
-- left out of the audit entries: they repeat what is there.
SELECT taskforce.enable_audit('taskforce.agents', exclude_columns => '{search}');
SELECT taskforce.enable_audit('taskforce.agent_versions', exclude_columns => '{version_key}');

-- The lifecycle of a version (seed 001 §4.2), enforced by the state-machine
-- engine (state_machines.sql).  Approval needs agent:publish and, when the
-- tenant has an agent_publish workflow, an approved request for exactly
-- the version's config_hash.
SELECT taskforce.define_state_machine(
    'agent_version',
    ARRAY['draft'],
    ARRAY['archived'],
    '[{"from": "draft",            "to": "pending_approval", "permission": "agent:update"},
      {"from": "pending_approval", "to": "draft",            "permission": "agent:update"},
      {"from": "pending_approval", "to": "approved",         "permission": "agent:publish",
       "approval": "agent_publish"},
      {"from": "approved",         "to": "published",        "permission": "agent:publish"},
      {"from": "published",        "to": "deprecated",       "permission": "agent:publish"},
      {"from": "deprecated",       "to": "archived",         "permission": "agent:publish"}]',
    'lifecycle of an agent version: draft, pending_approval, approved, published, deprecated, archived');
SELECT taskforce.attach_state_machine('taskforce.agent_versions', 'status', 'agent_version', 'config_hash');

-- Returns the agent row, locked, or raises undefined_object (also for
-- another tenant's agent: its existence is not told).
CREATE FUNCTION taskforce._lock_agent(tenant_id text, agent_id text)
    RETURNS taskforce.agents
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a taskforce.agents;
BEGIN
    IF agent_id IS NULL THEN
        RAISE EXCEPTION 'agent_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO a FROM taskforce.agents AS x
     WHERE x.tenant_id = _lock_agent.tenant_id AND x.agent_id = _lock_agent.agent_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent "%" does not exist in tenant "%"', agent_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN a;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_agent(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_agent(text, text) IS
    'internal: locks and returns an agent, or raises undefined_object';

-- Returns the version row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_agent_version(tenant_id text, agent_id text, version text)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v taskforce.agent_versions;
BEGIN
    IF agent_id IS NULL OR version IS NULL THEN
        RAISE EXCEPTION 'agent_id and version must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO v FROM taskforce.agent_versions AS x
     WHERE x.tenant_id = _lock_agent_version.tenant_id AND x.agent_id = _lock_agent_version.agent_id
       AND x.version = _lock_agent_version.version
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'version "%" of agent "%" does not exist in tenant "%"', version, agent_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_agent_version(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_agent_version(text, text, text) IS
    'internal: locks and returns an agent version, or raises undefined_object';

-- Checks the fields of an agent before it is written (nulls are not
-- checked: create_agent rejects them, update_agent keeps the field).
CREATE FUNCTION taskforce._check_agent_fields(tenant_id text, name text, tags text[], owner_id text)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name IS NOT NULL AND pg_catalog.btrim(name) = '' THEN
        RAISE EXCEPTION 'an agent name must not be blank'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(tags, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'tags must not contain null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_ndims(tags) > 1 THEN
        RAISE EXCEPTION 'tags must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF owner_id IS NOT NULL THEN
        PERFORM taskforce._require_user(tenant_id, owner_id);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_agent_fields(text, text, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_agent_fields(text, text, text[], text) IS
    'internal: invalid_parameter_value, null_value_not_allowed or undefined_object for a bad agent field';

-- Checks a new version's number and definition.
CREATE FUNCTION taskforce._check_version_fields(version text, definition jsonb)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF version IS NULL OR definition IS NULL THEN
        RAISE EXCEPTION 'version and definition must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce.semver_key(version);
    IF pg_catalog.jsonb_typeof(definition) <> 'object' THEN
        RAISE EXCEPTION 'an agent definition must be a JSON object, not %', pg_catalog.jsonb_typeof(definition)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"tools": ["semantic_search"], "temperature": 0.7}.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_version_fields(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_version_fields(text, jsonb) IS
    'internal: invalid_parameter_value or null_value_not_allowed for a bad version number or definition';

-- Inserts a draft version, turning a clash into duplicate_object.
CREATE FUNCTION taskforce._insert_agent_version(tenant_id text, agent_id text, version text,
                                                definition jsonb, changelog text)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v taskforce.agent_versions;
    clash text;
BEGIN
    PERFORM taskforce._check_version_fields(version, definition);
    SELECT x.version INTO clash FROM taskforce.agent_versions AS x
     WHERE x.tenant_id = _insert_agent_version.tenant_id AND x.agent_id = _insert_agent_version.agent_id
       AND x.version_key = taskforce.semver_key(_insert_agent_version.version);
    IF FOUND AND clash = version THEN
        RAISE EXCEPTION 'version "%" of agent "%" already exists', clash, agent_id
            USING ERRCODE = 'duplicate_object';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'version "%" of agent "%" already exists', clash, agent_id
            USING ERRCODE = 'duplicate_object',
                  DETAIL = format('"%s" has the same precedence as "%s": build metadata does not count.',
                                  version, clash);
    END IF;
    INSERT INTO taskforce.agent_versions AS x (tenant_id, agent_id, version, status, definition,
                                               changelog, created_by)
    VALUES (tenant_id, agent_id, version, 'draft', definition, coalesce(changelog, ''),
            coalesce(taskforce.current_user_id(), session_user::text))
    RETURNING * INTO v;
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION taskforce._insert_agent_version(text, text, text, jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._insert_agent_version(text, text, text, jsonb, text) IS
    'internal: inserts a draft version of a (locked) agent; duplicate_object for a version of equal precedence';

CREATE FUNCTION taskforce.create_agent(
    agent_id text,
    name text,
    description text DEFAULT '',
    category text DEFAULT NULL,
    tags text[] DEFAULT '{}',
    initial_definition jsonb DEFAULT NULL,
    owner_id text DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.agents
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:create', tenant_id);
    -- The creator owns the agent unless another owner is named.
    new_owner text := coalesce(create_agent.owner_id, taskforce.current_user_id());
    max_agents bigint;
    agent_count bigint;
    a taskforce.agents;
BEGIN
    IF create_agent.agent_id IS NULL OR create_agent.name IS NULL OR create_agent.tags IS NULL THEN
        RAISE EXCEPTION 'agent_id, name and tags must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF create_agent.agent_id !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid agent_id "%"', create_agent.agent_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An agent_id has 1 to 128 characters: letters, digits and _ . : - (not first).';
    END IF;
    PERFORM taskforce._check_agent_fields(tenant, create_agent.name, create_agent.tags, new_owner);
    IF create_agent.initial_definition IS NOT NULL THEN
        PERFORM taskforce._check_version_fields('0.1.0', create_agent.initial_definition);
    END IF;
    -- The plan limit: concurrent creations in one tenant take turns, so
    -- that two cannot both see room for one more.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('taskforce.agents'), pg_catalog.hashtext(tenant));
    SELECT (t.limits->>'max_agents')::bigint INTO max_agents FROM taskforce.tenants AS t
     WHERE t.tenant_id = tenant;
    IF max_agents IS NOT NULL THEN
        SELECT count(*) INTO agent_count FROM taskforce.agents AS x WHERE x.tenant_id = tenant;
        IF agent_count >= max_agents THEN
            RAISE EXCEPTION 'plan limit max_agents (%) reached for tenant "%"', max_agents, tenant
                USING ERRCODE = 'program_limit_exceeded',
                      HINT = 'Delete an agent, or raise the limit with taskforce.update_tenant(..., limits => ...).';
        END IF;
    END IF;
    IF EXISTS (SELECT FROM taskforce.agents AS x
                WHERE x.tenant_id = tenant AND x.agent_id = create_agent.agent_id) THEN
        RAISE EXCEPTION 'agent "%" already exists in tenant "%"', create_agent.agent_id, tenant
            USING ERRCODE = 'duplicate_object';
    END IF;
    BEGIN
        INSERT INTO taskforce.agents AS x (tenant_id, agent_id, name, description, category, tags, owner_id)
        VALUES (tenant, create_agent.agent_id, create_agent.name, coalesce(create_agent.description, ''),
                create_agent.category, create_agent.tags, new_owner)
        RETURNING * INTO a;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'agent "%" already exists in tenant "%"', create_agent.agent_id, tenant
                USING ERRCODE = 'duplicate_object';
        WHEN foreign_key_violation THEN
            -- Deleted by a concurrent transaction after the check above.
            RAISE EXCEPTION '% no longer exists in tenant "%"', format('user "%s"', new_owner), tenant
                USING ERRCODE = 'undefined_object';
    END;
    IF create_agent.initial_definition IS NOT NULL THEN
        PERFORM taskforce._insert_agent_version(tenant, create_agent.agent_id, '0.1.0',
                                                create_agent.initial_definition, 'initial version');
    END IF;
    RETURN a;
END
$$;
COMMENT ON FUNCTION taskforce.create_agent(text, text, text, text, text[], jsonb, text, text) IS
    'creates an agent in the catalog (with version 0.1.0 in draft when a definition is given); the owner defaults to the context user; enforces the tenant''s max_agents; needs agent:create';

CREATE FUNCTION taskforce.update_agent(
    agent_id text,
    name text DEFAULT NULL,
    description text DEFAULT NULL,
    category text DEFAULT NULL,
    tags text[] DEFAULT NULL,
    owner_id text DEFAULT NULL,
    clear text[] DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.agents
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:update', tenant_id);
    a taskforce.agents := taskforce._lock_agent(tenant, agent_id);
BEGIN
    PERFORM taskforce._check_clear(clear, ARRAY['category', 'owner_id'],
        ARRAY[CASE WHEN update_agent.category IS NOT NULL THEN 'category' END,
              CASE WHEN update_agent.owner_id IS NOT NULL THEN 'owner_id' END]);
    PERFORM taskforce._check_agent_fields(tenant, update_agent.name, update_agent.tags, update_agent.owner_id);
    BEGIN
        UPDATE taskforce.agents AS x
           SET name = coalesce(update_agent.name, x.name),
               description = coalesce(update_agent.description, x.description),
               category = CASE WHEN 'category' = ANY (clear) THEN NULL
                               ELSE coalesce(update_agent.category, x.category) END,
               tags = coalesce(update_agent.tags, x.tags),
               owner_id = CASE WHEN 'owner_id' = ANY (clear) THEN NULL
                               ELSE coalesce(update_agent.owner_id, x.owner_id) END,
               updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.agent_id = update_agent.agent_id
        RETURNING * INTO a;
    EXCEPTION
        WHEN foreign_key_violation THEN
            RAISE EXCEPTION '% no longer exists in tenant "%"', format('user "%s"', update_agent.owner_id), tenant
                USING ERRCODE = 'undefined_object';
    END;
    RETURN a;
END
$$;
COMMENT ON FUNCTION taskforce.update_agent(text, text, text, text, text[], text, text[], text) IS
    'changes an agent''s name, description, category, tags or owner (nulls leave a field as is; clear names fields to set to null: category, owner_id); needs agent:update';

CREATE FUNCTION taskforce.delete_agent(agent_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:delete', tenant_id);
    published text;
BEGIN
    PERFORM taskforce._lock_agent(tenant, agent_id);
    SELECT x.version INTO published FROM taskforce.agent_versions AS x
     WHERE x.tenant_id = tenant AND x.agent_id = delete_agent.agent_id AND x.status = 'published'
     ORDER BY x.version_key DESC LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'agent "%" has a published version (%)', delete_agent.agent_id, published
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Deprecate its published version with taskforce.deprecate_version() first.';
    END IF;
    DELETE FROM taskforce.agents AS x WHERE x.tenant_id = tenant AND x.agent_id = delete_agent.agent_id;
END
$$;
COMMENT ON FUNCTION taskforce.delete_agent(text, text) IS
    'deletes an agent and its versions unless one is published (dependent_objects_still_exist); needs agent:delete';

CREATE FUNCTION taskforce.create_version(
    agent_id text,
    version text,
    definition jsonb,
    changelog text DEFAULT '',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:update', tenant_id);
BEGIN
    PERFORM taskforce._lock_agent(tenant, create_version.agent_id);
    BEGIN
        RETURN taskforce._insert_agent_version(tenant, create_version.agent_id, create_version.version,
                                               create_version.definition, create_version.changelog);
    EXCEPTION
        WHEN unique_violation THEN
            -- A version of equal precedence committed after the check.
            RAISE EXCEPTION 'version "%" of agent "%" already exists', create_version.version, create_version.agent_id
                USING ERRCODE = 'duplicate_object';
    END;
END
$$;
COMMENT ON FUNCTION taskforce.create_version(text, text, jsonb, text, text) IS
    'adds a draft version (a semantic version not yet used by the agent, build metadata aside) with its definition (a JSON object); needs agent:update';

CREATE FUNCTION taskforce.update_version_definition(
    agent_id text,
    version text,
    definition jsonb,
    changelog text DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:update', tenant_id);
    v taskforce.agent_versions := taskforce._lock_agent_version(tenant, agent_id, version);
BEGIN
    PERFORM taskforce._check_version_fields(v.version, update_version_definition.definition);
    IF v.status <> 'draft' THEN
        RAISE EXCEPTION 'version "%" of agent "%" is % and can no longer change', v.version, v.agent_id, v.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create a new version with taskforce.create_version(), or withdraw a pending one to draft first.';
    END IF;
    UPDATE taskforce.agent_versions AS x
       SET definition = update_version_definition.definition,
           changelog = coalesce(update_version_definition.changelog, x.changelog)
     WHERE x.tenant_id = tenant AND x.agent_id = v.agent_id AND x.version = v.version
    RETURNING * INTO v;
    RETURN v;
END
$$;
COMMENT ON FUNCTION taskforce.update_version_definition(text, text, jsonb, text, text) IS
    'replaces the definition (and optionally the changelog) of a draft version; object_not_in_prerequisite_state once it has left draft; needs agent:update';

-- Raises object_not_in_prerequisite_state when the version already is in
-- the state a step moves it to: the engine sees no transition in an update
-- that leaves the column as it is, but the caller asked for one.
CREATE FUNCTION taskforce._refuse_same_status(v taskforce.agent_versions, target text)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF v.status = target THEN
        RAISE EXCEPTION 'version "%" of agent "%" is already %', v.version, v.agent_id, target
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._refuse_same_status(taskforce.agent_versions, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._refuse_same_status(taskforce.agent_versions, text) IS
    'internal: object_not_in_prerequisite_state when a lifecycle step would leave the version where it is';

-- The lifecycle steps.  Each moves the status column; the state machine's
-- trigger decides whether the move is allowed (55000 with the allowed next
-- states otherwise), checks its permission and, for approval, the approved
-- request, and records the transition in the audit trail.  The internal
-- _approve_version, _publish_version and _withdraw_version do the step
-- without the caller's permission check, for approvals.sql (auto-apply,
-- rejection) under system transitions.

CREATE FUNCTION taskforce.submit_version(agent_id text, version text, tenant_id text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:update', tenant_id);
    a taskforce.agents := taskforce._lock_agent(tenant, agent_id);
    v taskforce.agent_versions := taskforce._lock_agent_version(tenant, agent_id, version);
BEGIN
    PERFORM taskforce._refuse_same_status(v, 'pending_approval');
    UPDATE taskforce.agent_versions AS x
       SET status = 'pending_approval', submitted_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.agent_id = v.agent_id AND x.version = v.version;
    -- With an agent_publish workflow, the request its approvers act on,
    -- bound to this version's config hash.
    IF NOT taskforce._workflow_exists(tenant, 'agent_publish') THEN
        RETURN NULL;
    END IF;
    RETURN taskforce.request_approval(
        'taskforce.agent_versions'::pg_catalog.regclass,
        pg_catalog.jsonb_build_object('tenant_id', tenant, 'agent_id', v.agent_id, 'version', v.version),
        pg_catalog.format('Publish %s v%s', a.name, v.version),
        description => v.changelog,
        payload => pg_catalog.jsonb_build_object('agent_id', v.agent_id, 'version', v.version,
                                                 'changelog', v.changelog));
END
$$;
COMMENT ON FUNCTION taskforce.submit_version(text, text, text) IS
    'moves a draft version to pending_approval; with an enabled agent_publish workflow also opens the approval request and returns its id (else null); needs agent:update';

CREATE FUNCTION taskforce._withdraw_version(tenant_id text, agent_id text, version text)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v taskforce.agent_versions := taskforce._lock_agent_version(tenant_id, agent_id, version);
BEGIN
    PERFORM taskforce._refuse_same_status(v, 'draft');
    UPDATE taskforce.agent_versions AS x
       SET status = 'draft', submitted_at = NULL
     WHERE x.tenant_id = _withdraw_version.tenant_id AND x.agent_id = v.agent_id AND x.version = v.version
    RETURNING * INTO v;
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION taskforce._withdraw_version(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._withdraw_version(text, text, text) IS
    'internal: returns a pending version to draft (withdrawal, or rejection of its request)';

CREATE FUNCTION taskforce.withdraw_version(agent_id text, version text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:update', tenant_id);
BEGIN
    RETURN taskforce._withdraw_version(tenant, agent_id, version);
END
$$;
COMMENT ON FUNCTION taskforce.withdraw_version(text, text, text) IS
    'returns a pending_approval version to draft, so that it can be changed; needs agent:update';

CREATE FUNCTION taskforce._approve_version(tenant_id text, agent_id text, version text)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v taskforce.agent_versions := taskforce._lock_agent_version(tenant_id, agent_id, version);
BEGIN
    PERFORM taskforce._refuse_same_status(v, 'approved');
    UPDATE taskforce.agent_versions AS x
       SET status = 'approved', approved_at = pg_catalog.now(),
           approved_by = coalesce(taskforce.current_user_id(), session_user::text)
     WHERE x.tenant_id = _approve_version.tenant_id AND x.agent_id = v.agent_id AND x.version = v.version
    RETURNING * INTO v;
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION taskforce._approve_version(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approve_version(text, text, text) IS
    'internal: moves a pending version to approved, recording who and when';

CREATE FUNCTION taskforce.approve_version(agent_id text, version text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:publish', tenant_id);
BEGIN
    RETURN taskforce._approve_version(tenant, agent_id, version);
END
$$;
COMMENT ON FUNCTION taskforce.approve_version(text, text, text) IS
    'moves a pending_approval version to approved (with an agent_publish workflow only once a request for exactly its config hash is approved); needs agent:publish';

CREATE FUNCTION taskforce._publish_version(tenant_id text, agent_id text, version text)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    -- The agent row lock serialises publishes of one agent: the second
    -- waits, then sees the first's current version and deprecates it.
    a taskforce.agents := taskforce._lock_agent(tenant_id, agent_id);
    v taskforce.agent_versions := taskforce._lock_agent_version(tenant_id, agent_id, version);
    previous text[];
BEGIN
    PERFORM taskforce._refuse_same_status(v, 'published');
    UPDATE taskforce.agent_versions AS x
       SET status = 'published', published_at = pg_catalog.now()
     WHERE x.tenant_id = _publish_version.tenant_id AND x.agent_id = v.agent_id AND x.version = v.version
    RETURNING * INTO v;
    -- The version it replaces is deprecated by the system, whatever the
    -- caller may do otherwise: publishing implies it.  System transitions
    -- are off again afterwards (for the rest of the transaction, even if a
    -- caller such as approvals' auto-apply had them on: call this last).
    PERFORM taskforce._system_transitions(true);
    WITH d AS (
        UPDATE taskforce.agent_versions AS x
           SET status = 'deprecated', deprecated_at = pg_catalog.now()
         WHERE x.tenant_id = _publish_version.tenant_id AND x.agent_id = v.agent_id
           AND x.status = 'published' AND x.version <> v.version
        RETURNING x.version, x.version_key)
    SELECT pg_catalog.array_agg(d.version ORDER BY d.version_key) INTO previous FROM d;
    PERFORM taskforce._system_transitions(false);
    UPDATE taskforce.agents AS x
       SET current_version = v.version, updated_at = pg_catalog.now()
     WHERE x.tenant_id = _publish_version.tenant_id AND x.agent_id = v.agent_id;
    PERFORM taskforce._emit_event(tenant_id, 'agent_published', pg_catalog.jsonb_build_object(
        'tenant_id', tenant_id, 'agent_id', v.agent_id, 'name', a.name, 'version', v.version,
        'previous_version', a.current_version, 'deprecated_versions', coalesce(previous, '{}'),
        'config_hash', pg_catalog.encode(v.config_hash, 'hex'),
        'published_by', coalesce(taskforce.current_user_id(), session_user::text)));
    RETURN v;
END
$$;
REVOKE ALL ON FUNCTION taskforce._publish_version(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._publish_version(text, text, text) IS
    'internal: publishes an approved version, deprecates the previously published one and emits agent_published';

CREATE FUNCTION taskforce.publish_version(agent_id text, version text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:publish', tenant_id);
BEGIN
    RETURN taskforce._publish_version(tenant, agent_id, version);
END
$$;
COMMENT ON FUNCTION taskforce.publish_version(text, text, text) IS
    'publishes an approved version: it becomes the agent''s current version, the previous one is deprecated, event agent_published is emitted; needs agent:publish';

CREATE FUNCTION taskforce.deprecate_version(agent_id text, version text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:publish', tenant_id);
    a taskforce.agents := taskforce._lock_agent(tenant, agent_id);
    v taskforce.agent_versions := taskforce._lock_agent_version(tenant, agent_id, version);
BEGIN
    PERFORM taskforce._refuse_same_status(v, 'deprecated');
    UPDATE taskforce.agent_versions AS x
       SET status = 'deprecated', deprecated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.agent_id = v.agent_id AND x.version = v.version
    RETURNING * INTO v;
    IF a.current_version = v.version THEN
        UPDATE taskforce.agents AS x
           SET current_version = NULL, updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.agent_id = v.agent_id;
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION taskforce.deprecate_version(text, text, text) IS
    'deprecates a published version (the agent then has no current version until another is published); needs agent:publish';

CREATE FUNCTION taskforce.archive_version(agent_id text, version text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.agent_versions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:publish', tenant_id);
    v taskforce.agent_versions := taskforce._lock_agent_version(tenant, agent_id, version);
BEGIN
    PERFORM taskforce._refuse_same_status(v, 'archived');
    UPDATE taskforce.agent_versions AS x
       SET status = 'archived', archived_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.agent_id = v.agent_id AND x.version = v.version
    RETURNING * INTO v;
    RETURN v;
END
$$;
COMMENT ON FUNCTION taskforce.archive_version(text, text, text) IS
    'archives a deprecated version (a terminal state); needs agent:publish';

-- Listing and search.
CREATE FUNCTION taskforce.list_agents(category text DEFAULT NULL, tags text[] DEFAULT NULL,
                                      tenant_id text DEFAULT NULL)
    RETURNS SETOF taskforce.agents
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:read', tenant_id);
BEGIN
    RETURN QUERY
        SELECT * FROM taskforce.agents AS x
         WHERE x.tenant_id = tenant
           AND (list_agents.category IS NULL OR x.category = list_agents.category)
           AND (list_agents.tags IS NULL OR x.tags && list_agents.tags)
         ORDER BY x.agent_id;
END
$$;
COMMENT ON FUNCTION taskforce.list_agents(text, text[], text) IS
    'the tenant''s agents, optionally of one category and/or with any of the given tags, by agent_id; needs agent:read';

CREATE FUNCTION taskforce.search_agents(query text, lim integer DEFAULT 10, tenant_id text DEFAULT NULL)
    RETURNS TABLE (agent_id text, name text, description text, category text, tags text[],
                   current_version text, rank real)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('agent:read', tenant_id);
    q tsquery;
BEGIN
    IF query IS NULL OR lim IS NULL THEN
        RAISE EXCEPTION 'query and lim must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lim < 1 OR lim > 1000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 1000, not %', lim
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    q := pg_catalog.websearch_to_tsquery('pg_catalog.english', query);
    RETURN QUERY
        SELECT x.agent_id, x.name, x.description, x.category, x.tags, x.current_version,
               pg_catalog.ts_rank_cd(x.search, q) AS rank
          FROM taskforce.agents AS x
         WHERE x.tenant_id = tenant AND x.search @@ q
         ORDER BY 7 DESC, x.agent_id
         LIMIT lim;
END
$$;
COMMENT ON FUNCTION taskforce.search_agents(text, integer, text) IS
    'full-text search of the tenant''s agents (websearch syntax, English) over name, tags and description, best first (ts_rank_cd); needs agent:read';
