-- src/sql/upgrade/0.6.0--0.7.0.sql: the changes 0.7.0 makes to objects of
-- 0.6.0.  The upgrade script is this file, the files new in 0.7.0 and
-- roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.7.0'" to load this file. \quit

-- roles.sql creates its functions again, with this release's grants.
DROP FUNCTION taskforce._grant_database_role_privileges();
DROP FUNCTION taskforce.setup_roles(name, name, name, name);

-- offboard_tenant removes the tenant's rows of the tables new in 0.7.0 too
-- (webhooks, approvals, agents, environments and releases).
-- Deletes (or counts, in a dry run) a deleted tenant's rows.  Application
-- tables go first, those referenced by other application tables after the
-- tables that reference them; then taskforce's tables: webhooks, approvals,
-- the agent catalog, environments and releases (0.7.0), resource ACLs,
-- projects and teams (0.6.0), and credentials before the users they belong
-- to; each after the tables that refer to it.  The deletes run with the function owner's
-- rights (row-level security does not hide the rows from it), so the
-- tables' own triggers and rules would too: unless the session is a
-- superuser's, a table that has any (other than isolation's, the audit's
-- and the state machines' (0.7.0: it refuses to run on DELETE), told by
-- their function, not their name) is refused.
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
                                               'taskforce._audit_trigger'::pg_catalog.regproc,
                                               'taskforce._state_machine_trigger'::pg_catalog.regproc)
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
            'taskforce.webhook_deliveries', 'taskforce.webhook_endpoints',
            'taskforce.approval_actions', 'taskforce.approval_requests', 'taskforce.approval_workflows',
            'taskforce.agent_versions', 'taskforce.agents',
            'taskforce.releases', 'taskforce.environments',
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
