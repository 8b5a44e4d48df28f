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
            (admin_role, 'trusted middleware and administrators: may act_as and manage tenants'),
            (auditor_role, 'auditors: read-only access to evidence'),
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
    -- Application: its own tenant's row, its own context.
    EXECUTE format('GRANT SELECT ON taskforce.tenants TO %I, %I', app_role, admin_role);
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
