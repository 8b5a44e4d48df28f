-- src/sql/upgrade/0.3.0--0.4.0.sql: the changes 0.4.0 makes to objects of
-- 0.3.0.  The upgrade script is this file, the files new in 0.4.0 and
-- roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.4.0'" to load this file. \quit

-- roles.sql creates its functions again, with this release's grants.
DROP FUNCTION taskforce._grant_database_role_privileges();
DROP FUNCTION taskforce.setup_roles(name, name, name, name);
-- src/sql/deleted_tenants.sql: a deleted tenant refuses every write (new in
-- 0.4.0).  One BEFORE INSERT OR UPDATE trigger on each of taskforce's tenant
-- tables is the place every write path meets, the management functions and
-- any later one alike.  Deletes stay allowed (offboard_tenant removes the
-- rows), and so do the bookkeeping columns the event writer and lockout
-- keep (last login and use, failed-password counters), named as the
-- trigger's arguments: the writer must not fail forever on a record of a
-- tenant deleted since.  A restore is let through too: pg_dump's script sets
-- row_security = off, and only a superuser can write these tables directly,
-- so a deleted tenant's rows not yet offboarded restore as they were.

-- Raises object_not_in_prerequisite_state when the row belongs to a deleted
-- tenant, unless the update changes only the columns named as arguments.
-- The tenant row is read FOR SHARE: a write racing delete_tenant (which
-- locks that row FOR UPDATE) waits for it and then sees the deletion.
CREATE FUNCTION taskforce._refuse_deleted_tenant_write()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    new_row jsonb := pg_catalog.to_jsonb(NEW);
    bookkeeping text[] := coalesce(TG_ARGV, '{}');
    tenant text;
    tenant_status text;
BEGIN
    IF pg_catalog.current_setting('row_security') = 'off'
       AND (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = session_user) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND new_row - bookkeeping = pg_catalog.to_jsonb(OLD) - bookkeeping THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'jwt_keys' THEN
        SELECT i.tenant_id INTO tenant FROM taskforce.jwt_issuers AS i
         WHERE i.issuer = new_row->>'issuer';
    ELSE
        tenant := new_row->>'tenant_id';
    END IF;
    IF tenant IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT t.status INTO tenant_status FROM taskforce.tenants AS t
     WHERE t.tenant_id = tenant FOR SHARE;
    IF tenant_status = 'deleted' THEN
        RAISE EXCEPTION 'tenant "%" is deleted', tenant
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A deleted tenant refuses every write; its rows can only be removed.',
                  HINT = 'Remove its rows with taskforce.offboard_tenant().';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION taskforce._refuse_deleted_tenant_write() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._refuse_deleted_tenant_write() IS
    'internal: trigger refusing inserts and updates of a deleted tenant''s rows (bookkeeping columns excepted)';

CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.users
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('last_login_at');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.roles
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.role_grants
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
-- rotated_to: the foreign key sets it to null when offboarding removes the
-- key a revoked key was rotated to.
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.api_keys
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('last_used_at', 'rotated_to');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.password_policies
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.user_credentials
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('failed_attempts', 'locked_until');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.jwt_issuers
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.jwt_keys
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.users IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.roles IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.role_grants IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.api_keys IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.password_policies IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.user_credentials IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.jwt_issuers IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.jwt_keys IS
    'refuses inserts and updates of a deleted tenant''s rows';
-- src/sql/offboarding.sql: removing a deleted tenant's rows (new in 0.4.0).
-- offboard_tenant() deletes them from every table under tenant isolation
-- and from taskforce's own tenant tables, in one transaction, or lists what
-- it would delete.  It keeps the tenant's row (status deleted: the id is
-- not handed out again) and its security events (the record of who did
-- what, kept as the operator's retention decides); docs/operations.md.

-- The tables under isolation outside taskforce, each with its tenant
-- column: every isolated table (partitions and inheritance children
-- included) for the trigger check, roots_only for the tables to delete from
-- (a DELETE on the root reaches its partitions and children).  A table is
-- isolated if it has isolation's trigger, told by its function and its one
-- argument (the column), not only by its name, which a table's owner can
-- give any trigger.
CREATE FUNCTION taskforce._isolated_tables(roots_only boolean)
    RETURNS TABLE (table_name regclass, tenant_column name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH isolated AS (
        SELECT g.tgrelid AS relid,
               pg_catalog.convert_from(substring(g.tgargs FROM 1
                   FOR position('\x00'::bytea IN g.tgargs) - 1), 'UTF8')::name AS tenant_column
          FROM pg_catalog.pg_trigger AS g
         WHERE g.tgname = 'taskforce_tenant_immutable' AND g.tgnargs = 1
           AND g.tgfoid = 'taskforce._tenant_immutable'::pg_catalog.regproc
    )
    SELECT i.relid::pg_catalog.regclass, i.tenant_column
      FROM isolated AS i
      JOIN pg_catalog.pg_class AS c ON c.oid = i.relid
     WHERE c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                        JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
                       WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                         AND d.objid = c.oid AND d.deptype = 'e' AND e.extname = 'taskforce')
       AND NOT (roots_only AND EXISTS (
               SELECT FROM pg_catalog.pg_inherits AS h
                 JOIN isolated AS p ON p.relid = h.inhparent
                WHERE h.inhrelid = c.oid))
$$;
REVOKE ALL ON FUNCTION taskforce._isolated_tables(boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._isolated_tables(boolean) IS
    'internal: the tables under tenant isolation outside taskforce, with their tenant column';

-- Deletes (or counts, in a dry run) a deleted tenant's rows.  Application
-- tables go first, those referenced by other application tables after the
-- tables that reference them; then taskforce's tables, credentials before
-- the users they belong to.  The deletes run with the function owner's
-- rights (row-level security does not hide the rows from it), so the
-- tables' own triggers and rules would too: unless the session is a
-- superuser's, a table that has any (other than isolation's own trigger,
-- told by its function, not its name) is refused.
CREATE FUNCTION taskforce.offboard_tenant(tenant_id text, dry_run boolean DEFAULT true)
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
                          AND g.tgfoid <> 'taskforce._tenant_immutable'::pg_catalog.regproc
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
REVOKE ALL ON FUNCTION taskforce.offboard_tenant(text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.offboard_tenant(text, boolean) IS
    'removes a deleted tenant''s rows from every isolated table and taskforce''s tenant tables, or with dry_run (the default) counts them; for administrators';
-- src/sql/live_contexts.sql: who is connected (new in 0.4.0).  Each
-- backend publishes its current context in shared memory when it changes
-- (src/context/registry.c); these views read it, filtered by caller:
-- administrators see every backend's, a context holding user:manage sees
-- its own tenant's, anyone else nothing.  Never the signed value.

CREATE FUNCTION taskforce._live_context_slots(
    OUT backend_pid integer,
    OUT tenant_id text,
    OUT user_id text,
    OUT auth_method text,
    OUT scope text,
    OUT established_at timestamptz,
    OUT expires_at timestamptz)
    RETURNS SETOF record
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_live_context_slots';
REVOKE ALL ON FUNCTION taskforce._live_context_slots() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._live_context_slots() IS
    'internal: every backend''s unexpired context from shared memory, unfiltered';

-- The live contexts the calling role may see.
CREATE FUNCTION taskforce._visible_live_contexts(
    OUT backend_pid integer,
    OUT tenant_id text,
    OUT user_id text,
    OUT auth_method text,
    OUT scope text,
    OUT established_at timestamptz,
    OUT expires_at timestamptz)
    RETURNS SETOF record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    administrator boolean := taskforce._caller_is_administrator();
    tenant text;
BEGIN
    IF NOT administrator THEN
        tenant := taskforce.current_tenant();
        IF tenant IS NULL OR NOT taskforce.has_permission('user:manage') THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT s.backend_pid, s.tenant_id, s.user_id, s.auth_method, s.scope,
                        s.established_at, s.expires_at
                   FROM taskforce._live_context_slots() AS s
                  WHERE administrator OR s.tenant_id = tenant
                  ORDER BY s.backend_pid;
END
$$;
REVOKE ALL ON FUNCTION taskforce._visible_live_contexts() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._visible_live_contexts() IS
    'internal: the live contexts the calling role may see (administrators all, a user:manage context its tenant''s)';

CREATE VIEW taskforce.live_contexts AS
    SELECT c.backend_pid, c.tenant_id, c.user_id, c.auth_method, c.scope,
           c.established_at, c.expires_at
      FROM taskforce._visible_live_contexts() AS c;
COMMENT ON VIEW taskforce.live_contexts IS
    'the unexpired context of every backend: all for administrators, its own tenant''s for a context holding user:manage';
COMMENT ON COLUMN taskforce.live_contexts.backend_pid IS 'the backend''s process id (pg_stat_activity.pid)';
COMMENT ON COLUMN taskforce.live_contexts.tenant_id IS 'the tenant of the context';
COMMENT ON COLUMN taskforce.live_contexts.user_id IS 'the user of the context';
COMMENT ON COLUMN taskforce.live_contexts.auth_method IS 'how it was established: act_as, jwt, api_key or password';
COMMENT ON COLUMN taskforce.live_contexts.scope IS 'transaction or session';
COMMENT ON COLUMN taskforce.live_contexts.established_at IS 'when the context was established';
COMMENT ON COLUMN taskforce.live_contexts.expires_at IS 'when the context expires';

CREATE VIEW taskforce.live_context_counts AS
    SELECT c.tenant_id, count(*) AS contexts
      FROM taskforce._visible_live_contexts() AS c
     GROUP BY c.tenant_id;
COMMENT ON VIEW taskforce.live_context_counts IS
    'a gauge: the number of unexpired contexts per tenant, with the visibility of live_contexts';
COMMENT ON COLUMN taskforce.live_context_counts.tenant_id IS 'the tenant';
COMMENT ON COLUMN taskforce.live_context_counts.contexts IS 'backends holding an unexpired context of the tenant';
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
