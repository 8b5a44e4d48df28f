-- src/sql/tenancy.sql: tenants and tenant row-level security on any table.

CREATE TABLE taskforce.tenants (
    tenant_id     text        NOT NULL,
    name          text        NOT NULL,
    plan          text        NOT NULL,
    status        text        NOT NULL DEFAULT 'active',
    status_reason text,
    settings      jsonb       NOT NULL DEFAULT '{}',
    limits        jsonb       NOT NULL,
    features      text[]      NOT NULL,
    metadata      jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT tenants_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT tenants_tenant_id_format
        CHECK (tenant_id ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT tenants_name_present CHECK (btrim(name) <> ''),
    CONSTRAINT tenants_plan_known CHECK (plan IN ('basic', 'professional', 'enterprise')),
    CONSTRAINT tenants_status_known CHECK (status IN ('active', 'suspended', 'deleted')),
    CONSTRAINT tenants_settings_object CHECK (jsonb_typeof(settings) = 'object'),
    CONSTRAINT tenants_limits_object CHECK (jsonb_typeof(limits) = 'object'),
    CONSTRAINT tenants_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON TABLE taskforce.tenants IS
    'tenants: the organisations whose rows taskforce keeps apart';
SELECT pg_catalog.pg_extension_config_dump('taskforce.tenants', '');

-- Default limits and features of each plan (seed 002's plan table, with the
-- session and retention limits of seed 001).
CREATE FUNCTION taskforce.plan_defaults(
    plan text, OUT limits jsonb, OUT features text[])
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT d.limits, d.features
      FROM (VALUES
        ('basic',
         '{"max_agents": 5, "max_workflows": 10, "max_concurrent_sessions": 5,
           "storage_gb": 1, "api_rate_limit_per_hour": 1000,
           "data_retention_days": 30}'::jsonb,
         ARRAY['core_agents', 'basic_workflows']),
        ('professional',
         '{"max_agents": 20, "max_workflows": 50, "max_concurrent_sessions": 20,
           "storage_gb": 10, "api_rate_limit_per_hour": 5000,
           "data_retention_days": 90}'::jsonb,
         ARRAY['core_agents', 'advanced_workflows', 'analytics', 'rag']),
        ('enterprise',
         '{"max_agents": 100, "max_workflows": 500, "max_concurrent_sessions": 50,
           "storage_gb": 100, "api_rate_limit_per_hour": 50000,
           "data_retention_days": 365}'::jsonb,
         ARRAY['all_agents', 'custom_workflows', 'advanced_analytics', 'rag',
               'long_term_memory', 'approval_workflows', 'custom_integrations'])
      ) AS d(plan, limits, features)
     WHERE d.plan = plan_defaults.plan
$$;
COMMENT ON FUNCTION taskforce.plan_defaults(text) IS
    'default limits and features of a plan (basic, professional, enterprise)';

-- Raises invalid_parameter_value unless the arguments describe a valid tenant.
CREATE FUNCTION taskforce._validate_tenant_fields(
    plan text, settings jsonb, limits jsonb, features text[], metadata jsonb)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    bad_key text;
BEGIN
    IF plan IS NULL OR plan NOT IN ('basic', 'professional', 'enterprise') THEN
        RAISE EXCEPTION 'unknown plan "%"', plan
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Plans are basic, professional and enterprise.';
    END IF;
    IF settings IS NULL OR jsonb_typeof(settings) <> 'object' THEN
        RAISE EXCEPTION 'settings must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF metadata IS NULL OR jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF limits IS NULL OR jsonb_typeof(limits) <> 'object' THEN
        RAISE EXCEPTION 'limits must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO bad_key FROM jsonb_object_keys(limits) AS k
     WHERE k NOT IN (SELECT jsonb_object_keys(d.limits)
                       FROM taskforce.plan_defaults('enterprise') AS d)
     ORDER BY k LIMIT 1;
    IF bad_key IS NOT NULL THEN
        RAISE EXCEPTION 'unknown limit "%"', bad_key
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Limits are max_agents, max_workflows, max_concurrent_sessions, storage_gb, api_rate_limit_per_hour and data_retention_days.';
    END IF;
    SELECT e.key INTO bad_key FROM jsonb_each(limits) AS e
     WHERE CASE WHEN jsonb_typeof(e.value) <> 'number' THEN true
                ELSE e.value::numeric < 0 OR e.value::numeric <> trunc(e.value::numeric) END
     ORDER BY e.key LIMIT 1;
    IF bad_key IS NOT NULL THEN
        RAISE EXCEPTION 'limit "%" must be a non-negative integer', bad_key
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF features IS NULL OR array_position(features, NULL) IS NOT NULL
       OR EXISTS (SELECT FROM unnest(features) AS f WHERE f !~ '^[a-z][a-z0-9_]{0,62}$') THEN
        RAISE EXCEPTION 'features must be lower-case identifiers'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ARRAY[''rag'', ''approval_workflows''].';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce._validate_tenant_fields(text, jsonb, jsonb, text[], jsonb) IS
    'internal: raises invalid_parameter_value unless the fields describe a valid tenant';

-- Returns the tenant row, locked for update, or raises undefined_object.
CREATE FUNCTION taskforce._lock_tenant(tenant_id text) RETURNS taskforce.tenants
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t taskforce.tenants;
BEGIN
    SELECT * INTO t FROM taskforce.tenants AS x
     WHERE x.tenant_id = _lock_tenant.tenant_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN t;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_tenant(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_tenant(text) IS
    'internal: the tenant row, locked for update, or undefined_object';

CREATE FUNCTION taskforce.create_tenant(
    tenant_id text,
    name text,
    plan text DEFAULT 'basic',
    settings jsonb DEFAULT '{}',
    limits jsonb DEFAULT '{}',
    features text[] DEFAULT NULL,
    metadata jsonb DEFAULT '{}')
    RETURNS taskforce.tenants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    defaults record;
    created taskforce.tenants;
BEGIN
    IF tenant_id IS NULL THEN
        RAISE EXCEPTION 'tenant id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF tenant_id !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
        RAISE EXCEPTION 'invalid tenant id "%"', tenant_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A tenant id is 1 to 63 lower-case letters, digits and inner hyphens, like acme-corp.';
    END IF;
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'tenant name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM taskforce._validate_tenant_fields(plan, settings, limits,
                                              coalesce(features, '{}'), metadata);
    SELECT * INTO defaults FROM taskforce.plan_defaults(plan);

    INSERT INTO taskforce.tenants AS t
        (tenant_id, name, plan, settings, limits, features, metadata)
    VALUES (tenant_id, name, plan, settings, defaults.limits || limits,
            coalesce(features, defaults.features), metadata)
    ON CONFLICT ON CONSTRAINT tenants_pkey DO NOTHING
    RETURNING * INTO created;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" already exists', tenant_id
            USING ERRCODE = 'duplicate_object';
    END IF;
    RETURN created;
END
$$;
REVOKE ALL ON FUNCTION taskforce.create_tenant(text, text, text, jsonb, jsonb, text[], jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.create_tenant(text, text, text, jsonb, jsonb, text[], jsonb) IS
    'creates an active tenant; limits override the plan''s defaults';

CREATE FUNCTION taskforce.update_tenant(
    tenant_id text,
    name text DEFAULT NULL,
    plan text DEFAULT NULL,
    settings jsonb DEFAULT NULL,
    limits jsonb DEFAULT NULL,
    features text[] DEFAULT NULL,
    metadata jsonb DEFAULT NULL)
    RETURNS taskforce.tenants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t taskforce.tenants := taskforce._lock_tenant(tenant_id);
    new_plan text := coalesce(plan, t.plan);
    new_limits jsonb;
    new_features text[];
    updated taskforce.tenants;
BEGIN
    IF t.status = 'deleted' THEN
        RAISE EXCEPTION 'tenant "%" is deleted', tenant_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF name IS NOT NULL AND btrim(name) = '' THEN
        RAISE EXCEPTION 'tenant name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM taskforce._validate_tenant_fields(new_plan, coalesce(settings, t.settings),
                                              coalesce(limits, '{}'),
                                              coalesce(features, t.features),
                                              coalesce(metadata, t.metadata));
    -- A new plan brings its own defaults; limits given here override them.
    IF new_plan <> t.plan THEN
        new_limits := (taskforce.plan_defaults(new_plan)).limits || coalesce(limits, '{}');
        new_features := coalesce(features, (taskforce.plan_defaults(new_plan)).features);
    ELSE
        new_limits := t.limits || coalesce(limits, '{}');
        new_features := coalesce(features, t.features);
    END IF;

    UPDATE taskforce.tenants AS x
       SET name = coalesce(update_tenant.name, x.name),
           plan = new_plan,
           settings = coalesce(update_tenant.settings, x.settings),
           limits = new_limits,
           features = new_features,
           metadata = coalesce(update_tenant.metadata, x.metadata),
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = update_tenant.tenant_id
    RETURNING * INTO updated;
    RETURN updated;
END
$$;
REVOKE ALL ON FUNCTION taskforce.update_tenant(text, text, text, jsonb, jsonb, text[], jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.update_tenant(text, text, text, jsonb, jsonb, text[], jsonb) IS
    'changes the given fields of a tenant; null arguments leave fields as they are';

-- Moves a tenant from one status to another, or raises object_not_in_prerequisite_state.
CREATE FUNCTION taskforce._set_tenant_status(
    tenant_id text, from_status text[], to_status text, reason text)
    RETURNS taskforce.tenants
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t taskforce.tenants := taskforce._lock_tenant(tenant_id);
    updated taskforce.tenants;
BEGIN
    IF NOT t.status = ANY (from_status) THEN
        RAISE EXCEPTION 'tenant "%" is %', tenant_id, t.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Only a tenant that is %s can become %s.',
                                  array_to_string(from_status, ' or '), to_status);
    END IF;
    UPDATE taskforce.tenants AS x
       SET status = to_status, status_reason = reason, updated_at = pg_catalog.now()
     WHERE x.tenant_id = _set_tenant_status.tenant_id
    RETURNING * INTO updated;
    RETURN updated;
END
$$;
REVOKE ALL ON FUNCTION taskforce._set_tenant_status(text, text[], text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._set_tenant_status(text, text[], text, text) IS
    'internal: moves a tenant between statuses, refusing illegal transitions';

CREATE FUNCTION taskforce.suspend_tenant(tenant_id text, reason text DEFAULT NULL)
    RETURNS taskforce.tenants
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT taskforce._set_tenant_status(tenant_id, '{active}', 'suspended', reason) $$;
REVOKE ALL ON FUNCTION taskforce.suspend_tenant(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.suspend_tenant(text, text) IS
    'suspends an active tenant: no new context can be established for it';

CREATE FUNCTION taskforce.reactivate_tenant(tenant_id text)
    RETURNS taskforce.tenants
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT taskforce._set_tenant_status(tenant_id, '{suspended}', 'active', NULL) $$;
REVOKE ALL ON FUNCTION taskforce.reactivate_tenant(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.reactivate_tenant(text) IS
    'makes a suspended tenant active again';

CREATE FUNCTION taskforce.delete_tenant(tenant_id text, reason text DEFAULT NULL)
    RETURNS taskforce.tenants
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT taskforce._set_tenant_status(tenant_id, '{active,suspended}', 'deleted', reason) $$;
REVOKE ALL ON FUNCTION taskforce.delete_tenant(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.delete_tenant(text, text) IS
    'marks a tenant deleted, for good: it can no longer be updated or reactivated';

CREATE FUNCTION taskforce.list_tenants(status text DEFAULT NULL)
    RETURNS SETOF taskforce.tenants
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce.tenants AS t
     WHERE list_tenants.status IS NULL OR t.status = list_tenants.status
     ORDER BY t.tenant_id
$$;
REVOKE ALL ON FUNCTION taskforce.list_tenants(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.list_tenants(text) IS
    'every tenant, or those with the given status, for administrators';

CREATE FUNCTION taskforce.act_as(
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
REVOKE ALL ON FUNCTION taskforce.act_as(text, text, text[], text, interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.act_as(text, text, text[], text, interval) IS
    'establishes a context for a user of an active tenant (active too, if it has a row in users); for trusted middleware and administrators only';

-- taskforce.tenants is itself under tenant isolation: see isolation.sql.
