-- src/sql/roles.sql: the database roles an installation needs, made on request.

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
            (app_role, 'application: subject to tenant isolation, establishes context only with credentials'),
            (admin_role, 'trusted middleware and administrators: may act_as, manage tenants, users, roles and token keys'),
            (auditor_role, 'auditors: read-only access to evidence and security events'),
            (bi_role, 'BI tools: read-only access to reporting views')) AS v(name, purpose)
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
        role_name := r.name;
        purpose := r.purpose;
        created := is_new;
        RETURN NEXT;
    END LOOP;

    EXECUTE format('GRANT USAGE ON SCHEMA taskforce TO %I, %I, %I, %I',
                   app_role, admin_role, auditor_role, bi_role);
    -- Application: its own tenant's rows (tenant isolation filters them),
    -- the permission catalog and the system roles.
    EXECUTE format('GRANT SELECT ON taskforce.tenants, taskforce.users, taskforce.roles,
        taskforce.role_grants, taskforce.password_policies, taskforce.permissions,
        taskforce.system_roles TO %I, %I', app_role, admin_role);
    -- Security events: administrators and auditors.
    EXECUTE format('GRANT SELECT ON taskforce.security_events TO %I, %I', admin_role, auditor_role);
    -- Token issuers and keys: administrators only.
    EXECUTE format('GRANT SELECT ON taskforce.jwt_issuers, taskforce.jwt_keys TO %I', admin_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION
        taskforce.register_permission(text, text),
        taskforce.unregister_permission(text),
        taskforce.has_permission(text, text, text),
        taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean),
        taskforce.drop_jwt_issuer(text),
        taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz),
        taskforce.retire_jwt_key(text, timestamptz),
        taskforce.mint_jwt(jsonb, text, interval) TO %I', admin_role);
    -- Middleware and administrators: establish contexts, manage tenants.
    EXECUTE format('GRANT EXECUTE ON FUNCTION
        taskforce.act_as(text, text, text[], text, interval),
        taskforce.create_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
        taskforce.update_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
        taskforce.suspend_tenant(text, text),
        taskforce.reactivate_tenant(text),
        taskforce.delete_tenant(text, text),
        taskforce.list_tenants(text) TO %I', admin_role);
END
$$;
COMMENT ON FUNCTION taskforce.setup_roles(name, name, name, name) IS
    'creates (if missing) the application, admin, auditor and BI group roles and grants their privileges';
