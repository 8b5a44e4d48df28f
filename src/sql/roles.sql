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
        -- Agent catalog (catalog.sql): agents and their versions, read
        -- under tenant isolation; written only through the catalog
        -- functions (create_agent, create_version, submit_version, ...),
        -- which PUBLIC may call and which check the context's permissions.
        IF r.purpose IN ('app', 'admin') THEN
            EXECUTE format('GRANT SELECT ON taskforce.agents, taskforce.agent_versions TO %I', r.role_name);
        END IF;
        -- Events (events.sql): endpoints without their secret column and
        -- the outbox, read under tenant isolation; endpoints are managed by
        -- workflow:manage through functions.  Delivery workers run as the
        -- admin role: they claim and complete deliveries of every tenant.
        -- No role but the owner reads webhook_endpoints.secret.
        IF r.purpose IN ('app', 'admin') THEN
            EXECUTE format('GRANT SELECT (tenant_id, endpoint_id, url, events, enabled, max_attempts,
                retry_backoff, created_at, secret_rotated_at) ON taskforce.webhook_endpoints TO %I', r.role_name);
            EXECUTE format('GRANT SELECT ON taskforce.webhook_deliveries TO %I', r.role_name);
        END IF;
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION
                taskforce.claim_deliveries(text, integer, interval),
                taskforce.complete_delivery(bigint, text, boolean, integer, text),
                taskforce.retry_delivery(bigint),
                taskforce.purge_deliveries(interval) TO %I', r.role_name);
        END IF;
        -- State machines (state_machines.sql): global definitions, read by
        -- every role; defined and dropped by administrators (the functions
        -- check it again).  Attaching needs the TRIGGER privilege on the table.
        EXECUTE format('GRANT SELECT ON taskforce.state_machines, taskforce.state_machine_transitions,
            taskforce.state_machine_attachments, taskforce.state_machine_tables TO %I', r.role_name);
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION
                taskforce.define_state_machine(text, text[], text[], jsonb, text),
                taskforce.drop_state_machine(text) TO %I', r.role_name);
        END IF;
        -- Approvals (approvals.sql, approvals_actions.sql): workflows,
        -- requests and actions read under tenant isolation; written only
        -- through the workflow and request functions.  expire_requests for
        -- a context with workflow:manage (its tenant) or an administrator
        -- (every tenant: the pg_cron job).
        IF r.purpose IN ('app', 'admin') THEN
            EXECUTE format('GRANT SELECT ON taskforce.approval_workflows, taskforce.approval_requests,
                taskforce.approval_actions, taskforce.pending_approvals TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.expire_requests() TO %I', r.role_name);
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
