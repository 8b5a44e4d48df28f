-- src/sql/retention.sql: retention of resources under ACL policies (see docs/acl.md).
-- apply_retention() finds the resources whose policy (acl_policies.sql)
-- has max_retention_days and that are older than that; a dry run lists
-- them, a real run deletes them (their rows in protected tables, then their
-- ACLs and grants) in the caller's transaction and records what it deleted
-- in retention_runs.  Every deletion and every run is an audit entry.

CREATE SEQUENCE taskforce.retention_runs_run_id_seq;
COMMENT ON SEQUENCE taskforce.retention_runs_run_id_seq IS
    'run ids of apply_retention: one per call, shared by the tenants it covered';
SELECT pg_catalog.pg_extension_config_dump('taskforce.retention_runs_run_id_seq', '');

CREATE TABLE taskforce.retention_runs (
    tenant_id         text        NOT NULL,
    run_id            bigint      NOT NULL,
    ran_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ran_by            text        NOT NULL,
    db_role           text        NOT NULL DEFAULT session_user,
    policy_ids        text[]      NOT NULL,
    resources_deleted jsonb       NOT NULL,
    rows_deleted      jsonb       NOT NULL,
    CONSTRAINT retention_runs_pkey PRIMARY KEY (tenant_id, run_id),
    CONSTRAINT retention_runs_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT retention_runs_resources_array CHECK (pg_catalog.jsonb_typeof(resources_deleted) = 'array'),
    CONSTRAINT retention_runs_rows_object CHECK (pg_catalog.jsonb_typeof(rows_deleted) = 'object')
);
REVOKE ALL ON taskforce.retention_runs FROM PUBLIC;
COMMENT ON TABLE taskforce.retention_runs IS
    'one row per tenant and real run of apply_retention that deleted something: which policies applied, which resources went and how many rows of each protected table';
COMMENT ON COLUMN taskforce.retention_runs.run_id IS
    'the call: a run over several tenants has one row per tenant with the same run_id';
COMMENT ON COLUMN taskforce.retention_runs.ran_by IS
    'the user of the context, or else the database role (for example the pg_cron job''s role)';
COMMENT ON COLUMN taskforce.retention_runs.resources_deleted IS
    'JSON array of the ids of the resources deleted';
COMMENT ON COLUMN taskforce.retention_runs.rows_deleted IS
    'JSON object: protected table -> number of this tenant''s rows deleted (every protected table, 0 included)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.retention_runs', '');
SELECT taskforce.enable_tenant_isolation('taskforce.retention_runs');
SELECT taskforce.enable_audit('taskforce.retention_runs');

-- The protected tables to delete from: roots only (a DELETE on the root
-- reaches its partitions and children), each with its resource column and
-- its tenant column (null if tenant isolation was removed since).
CREATE FUNCTION taskforce._retention_tables()
    RETURNS TABLE (table_name regclass, resource_column name, tenant_column name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT p.table_name, p.resource_column, taskforce._isolation_column(p.table_name)
      FROM taskforce.protected_tables AS p
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_inherits AS h
                         JOIN taskforce.protected_tables AS q ON q.table_name = h.inhparent
                        WHERE h.inhrelid = p.table_name)
     ORDER BY p.table_name::text
$$;
REVOKE ALL ON FUNCTION taskforce._retention_tables() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._retention_tables() IS
    'internal: the root protected tables with their resource and tenant columns';

-- The work of apply_retention (a plpgsql function cannot have an argument
-- and a result column of the same name, tenant_id).  It runs as the
-- extension owner, whom row-level security does not filter, so it sees
-- and deletes every row of the resources concerned.  The protected tables'
-- own triggers and rules would run with those rights too: as in
-- offboard_tenant(), unless the session is a superuser's, a table that has
-- any (other than isolation's and the audit's, told by their function) is
-- refused.
CREATE FUNCTION taskforce._apply_retention(dry_run boolean, only_tenant text)
    RETURNS TABLE (tenant_id text, resource_id text, resource_type text, scope text,
                   sensitivity text, created_at timestamptz, policy_id text, deleted boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenants text[];
    due taskforce.resource_acls[];
    due_policy text[];
    run bigint;
    t record;
    tbl record;
    counts jsonb;
    n bigint;
    superuser_session boolean := (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r
                                   WHERE r.rolname = session_user);
    -- Global resources govern other tenants' rows: only an administrator's
    -- run (no context) retains them.
    context_tenant text := taskforce.current_tenant();
BEGIN
    IF dry_run IS NULL THEN
        RAISE EXCEPTION 'dry_run must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A context applies its own tenant's policies (policy:manage); an
    -- administrator without one names a tenant, or null for every tenant.
    IF only_tenant IS NULL AND taskforce.current_tenant() IS NULL THEN
        IF NOT taskforce._caller_is_administrator() THEN
            RAISE EXCEPTION 'permission "policy:manage" required'
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Authenticate first, or call as an administrator role.';
        END IF;
    ELSE
        tenants := ARRAY[taskforce._authorize('policy:manage', only_tenant)];
    END IF;

    -- What is due: a resource covered by a policy with a retention, older
    -- than it.  A real run locks the ACL rows first (a concurrent run
    -- waits, then skips what this one deleted); a dry run locks nothing.
    IF dry_run THEN
        SELECT coalesce(array_agg(x.acl ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}'),
               coalesce(array_agg(x.policy_id ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}')
          INTO due, due_policy
          FROM (SELECT a AS acl, p.policy_id
                  FROM taskforce.resource_acls AS a
                  JOIN taskforce.resource_policies AS p
                    ON p.tenant_id = a.tenant_id AND p.scope = a.scope
                   AND a.sensitivity = ANY (p.sensitivity_levels)
                 WHERE p.max_retention_days IS NOT NULL
                   AND a.created_at < pg_catalog.now() - pg_catalog.make_interval(days => p.max_retention_days)
                   AND (tenants IS NULL OR a.tenant_id = ANY (tenants))
                   AND (a.scope <> 'global' OR context_tenant IS NULL)) AS x;
    ELSE
        SELECT coalesce(array_agg(x.acl ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}'),
               coalesce(array_agg(x.policy_id ORDER BY (x.acl).tenant_id, (x.acl).created_at, (x.acl).resource_id), '{}')
          INTO due, due_policy
          FROM (SELECT a AS acl, p.policy_id
                  FROM taskforce.resource_acls AS a
                  JOIN taskforce.resource_policies AS p
                    ON p.tenant_id = a.tenant_id AND p.scope = a.scope
                   AND a.sensitivity = ANY (p.sensitivity_levels)
                 WHERE p.max_retention_days IS NOT NULL
                   AND a.created_at < pg_catalog.now() - pg_catalog.make_interval(days => p.max_retention_days)
                   AND (tenants IS NULL OR a.tenant_id = ANY (tenants))
                   AND (a.scope <> 'global' OR context_tenant IS NULL)
                   FOR UPDATE OF a) AS x;
    END IF;

    IF NOT dry_run AND cardinality(due) > 0 THEN
        -- Lock the protected tables against new triggers and rules (CREATE
        -- TRIGGER and CREATE RULE conflict with ROW EXCLUSIVE), then check.
        FOR tbl IN SELECT * FROM taskforce._retention_tables() LOOP
            EXECUTE format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', tbl.table_name);
            IF tbl.tenant_column IS NULL THEN
                RAISE EXCEPTION 'protected table "%" is not under tenant isolation', tbl.table_name
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = 'Its rows cannot be told apart by tenant, so retention cannot delete one tenant''s rows from it.',
                          HINT = 'Put it under isolation again with taskforce.enable_tenant_isolation(), or call taskforce.unprotect_table().';
            END IF;
            IF NOT superuser_session AND EXISTS (
                   WITH RECURSIVE tree(relid) AS (
                       SELECT tbl.table_name::oid
                       UNION ALL
                       SELECT h.inhrelid FROM pg_catalog.pg_inherits AS h JOIN tree ON h.inhparent = tree.relid)
                   SELECT FROM tree
                    WHERE EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                                   WHERE g.tgrelid = tree.relid AND NOT g.tgisinternal AND g.tgenabled <> 'D'
                                     AND g.tgfoid NOT IN ('taskforce._tenant_immutable'::pg_catalog.regproc,
                                                          'taskforce._audit_trigger'::pg_catalog.regproc))
                       OR EXISTS (SELECT FROM pg_catalog.pg_rewrite AS w
                                   WHERE w.ev_class = tree.relid AND w.ev_type = '4')) THEN
                RAISE EXCEPTION 'protected table "%" has triggers or rules that would run with the rights of taskforce''s owner', tbl.table_name
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'A superuser must run this retention.';
            END IF;
        END LOOP;

        run := pg_catalog.nextval('taskforce.retention_runs_run_id_seq');
        FOR t IN SELECT (due[i]).tenant_id AS tenant,
                        array_agg((due[i]).resource_id ORDER BY (due[i]).resource_id) AS resources,
                        array_agg((due[i]).resource_id) FILTER (WHERE (due[i]).scope = 'global') AS global_resources,
                        array_agg(DISTINCT due_policy[i] ORDER BY due_policy[i]) AS policies
                   FROM generate_subscripts(due, 1) AS i
                  GROUP BY (due[i]).tenant_id ORDER BY (due[i]).tenant_id LOOP
            -- Rows of protected tables first, then the ACLs (their grants
            -- go with them, ON DELETE CASCADE).  A global resource also
            -- governs the rows of other tenants that name it (and no
            -- resource of their own): they go too, but are not counted in
            -- this tenant's run (it must not learn about other tenants).
            counts := '{}';
            FOR tbl IN SELECT * FROM taskforce._retention_tables() LOOP
                EXECUTE format('DELETE FROM %s WHERE %I = $1 AND %I = ANY ($2)',
                               tbl.table_name, tbl.tenant_column, tbl.resource_column)
                    USING t.tenant, t.resources;
                GET DIAGNOSTICS n = ROW_COUNT;
                IF t.global_resources IS NOT NULL THEN
                    EXECUTE format('DELETE FROM %1$s AS x WHERE x.%3$I = ANY ($2) AND x.%2$I <> $1 '
                                   'AND NOT EXISTS (SELECT FROM taskforce.resource_acls AS a '
                                   'WHERE a.tenant_id = x.%2$I AND a.resource_id = x.%3$I)',
                                   tbl.table_name, tbl.tenant_column, tbl.resource_column)
                        USING t.tenant, t.global_resources;
                END IF;
                counts := counts || jsonb_build_object(tbl.table_name::text, n);
            END LOOP;
            DELETE FROM taskforce.resource_acls AS a
             WHERE a.tenant_id = t.tenant AND a.resource_id = ANY (t.resources);
            INSERT INTO taskforce.retention_runs (tenant_id, run_id, ran_by, policy_ids,
                                                  resources_deleted, rows_deleted)
            VALUES (t.tenant, run, coalesce(taskforce.current_user_id(), session_user::text),
                    t.policies, pg_catalog.to_jsonb(t.resources), counts);
        END LOOP;
    END IF;

    RETURN QUERY
        SELECT (due[i]).tenant_id, (due[i]).resource_id, (due[i]).resource_type, (due[i]).scope,
               (due[i]).sensitivity, (due[i]).created_at, due_policy[i], NOT dry_run
          FROM generate_subscripts(due, 1) AS i
         ORDER BY i;
END
$$;
REVOKE ALL ON FUNCTION taskforce._apply_retention(boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._apply_retention(boolean, text) IS
    'internal: the work of apply_retention';

CREATE FUNCTION taskforce.apply_retention(dry_run boolean DEFAULT true, tenant_id text DEFAULT NULL)
    RETURNS TABLE (tenant_id text, resource_id text, resource_type text, scope text,
                   sensitivity text, created_at timestamptz, policy_id text, deleted boolean)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._apply_retention(dry_run, tenant_id)
$$;
REVOKE ALL ON FUNCTION taskforce.apply_retention(boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.apply_retention(boolean, text) IS
    'lists (dry_run, the default) or deletes the resources older than their policy''s max_retention_days, with their rows in protected tables, ACLs and grants, recording a real run in retention_runs; needs policy:manage (a context: its tenant) or an administrator without context (tenant_id, or null for every tenant)';
