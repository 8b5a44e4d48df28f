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
