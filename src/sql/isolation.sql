-- src/sql/isolation.sql: tenant row-level security on any table.
--
-- A table is under isolation when it has all four pieces, on its tenant
-- column: row-level security enabled and forced, the policy
-- taskforce_tenant_isolation, the column default taskforce.current_tenant(),
-- and the trigger taskforce_tenant_immutable.  Its partitions and
-- inheritance children get the same pieces, so that querying them directly
-- is no way around the policy.

-- The trigger that keeps a row's tenant from changing.
CREATE FUNCTION taskforce._tenant_immutable() RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_tenant_immutable';
COMMENT ON FUNCTION taskforce._tenant_immutable() IS
    'trigger: refuses updates that change a row''s tenant';

-- Returns the tenant column of a table under isolation, or null.  A
-- partition reports its parent's column (PostgreSQL clones the parent's
-- trigger into it).
CREATE FUNCTION taskforce._isolation_column(tbl regclass) RETURNS name
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT convert_from(substring(t.tgargs FROM 1 FOR position('\x00'::bytea IN t.tgargs) - 1),
                        'UTF8')::name
      FROM pg_catalog.pg_trigger AS t
     WHERE t.tgrelid = tbl AND t.tgname = 'taskforce_tenant_immutable'
$$;
COMMENT ON FUNCTION taskforce._isolation_column(regclass) IS
    'internal: the tenant column of a table under isolation, or null';

-- Returns whether a collation is nondeterministic (false for none or unknown).
CREATE FUNCTION taskforce._is_nondeterministic(coll oid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_collation AS c
                    WHERE c.oid = coll AND NOT c.collisdeterministic)
$$;
COMMENT ON FUNCTION taskforce._is_nondeterministic(oid) IS
    'internal: whether a collation is nondeterministic';

-- Raises unless tbl is a table with a text or varchar column tenant_column
-- whose collation is deterministic.  Under a nondeterministic collation
-- distinct strings can compare equal (one that ignores punctuation makes
-- 'ac-me' = 'acme'), and the policy would hand one tenant another's rows.
CREATE FUNCTION taskforce._check_tenant_column(tbl regclass, tenant_column name)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    kind "char";
    column_type regtype;
    column_collation oid;
BEGIN
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT a.atttypid, a.attcollation INTO column_type, column_collation FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table "%" does not exist', tenant_column, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF column_type NOT IN ('text'::regtype, 'character varying'::regtype) THEN
        RAISE EXCEPTION 'tenant column "%" of table "%" has type %', tenant_column, tbl, column_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'A tenant column must be of type text or varchar.';
    END IF;
    IF taskforce._is_nondeterministic(column_collation) THEN
        RAISE EXCEPTION 'tenant column "%" of table "%" has the nondeterministic collation %',
                        tenant_column, tbl, column_collation::regcollation
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Under a nondeterministic collation distinct tenant ids can compare equal, '
                           'so one tenant could read and change another''s rows.',
                  HINT = 'Give the column a deterministic collation, for example ALTER TABLE ... '
                         'ALTER COLUMN ... TYPE text COLLATE "C".';
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce._check_tenant_column(regclass, name) IS
    'internal: raises unless the table has a text or varchar tenant column with a deterministic collation';

-- Returns whether tbl has the tenant isolation policy.
CREATE FUNCTION taskforce._has_tenant_policy(tbl regclass) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_policy AS p
                    WHERE p.polrelid = tbl AND p.polname = 'taskforce_tenant_isolation')
$$;
COMMENT ON FUNCTION taskforce._has_tenant_policy(regclass) IS
    'internal: whether the table has the tenant isolation policy';

-- Adds whatever isolation pieces tbl and its children lack; returns whether
-- it changed anything.  The ALTER TABLE comes last, after the policy and
-- the trigger, so that the table is never left half isolated.
CREATE FUNCTION taskforce._isolate(tbl regclass, tenant_column name) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed boolean := false;
    needs_rls boolean;
    needs_default boolean;
    child regclass;
BEGIN
    PERFORM taskforce._check_tenant_column(tbl, tenant_column);
    IF NOT taskforce._has_tenant_policy(tbl) THEN
        EXECUTE format('CREATE POLICY taskforce_tenant_isolation ON %s AS PERMISSIVE FOR ALL '
                       'USING (%I = taskforce.current_tenant()) '
                       'WITH CHECK (%I = taskforce.current_tenant())', tbl, tenant_column, tenant_column);
        changed := true;
    END IF;
    IF taskforce._isolation_column(tbl) IS NULL THEN
        EXECUTE format('CREATE TRIGGER taskforce_tenant_immutable BEFORE UPDATE ON %s '
                       'FOR EACH ROW WHEN (OLD.%I IS DISTINCT FROM NEW.%I) '
                       'EXECUTE FUNCTION taskforce._tenant_immutable(%L)',
                       tbl, tenant_column, tenant_column, tenant_column);
        changed := true;
    END IF;
    SELECT NOT (c.relrowsecurity AND c.relforcerowsecurity) INTO needs_rls
      FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    needs_default := NOT taskforce._has_tenant_default(tbl, tenant_column);
    IF needs_rls OR needs_default THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY, '
                       'ALTER COLUMN %I SET DEFAULT taskforce.current_tenant()', tbl, tenant_column);
        changed := true;
    END IF;
    FOR child IN SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i
                  WHERE i.inhparent = tbl ORDER BY i.inhrelid LOOP
        changed := taskforce._isolate(child, tenant_column) OR changed;
    END LOOP;
    RETURN changed;
END
$$;
COMMENT ON FUNCTION taskforce._isolate(regclass, name) IS
    'internal: adds the missing isolation pieces to a table and its children';

-- Returns whether the tenant column defaults to taskforce.current_tenant().
CREATE FUNCTION taskforce._has_tenant_default(tbl regclass, tenant_column name) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (
        SELECT FROM pg_catalog.pg_attrdef AS d
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
         WHERE d.adrelid = tbl AND a.attname = tenant_column
           AND pg_catalog.pg_get_expr(d.adbin, d.adrelid) = 'taskforce.current_tenant()')
$$;
COMMENT ON FUNCTION taskforce._has_tenant_default(regclass, name) IS
    'internal: whether the tenant column defaults to the current tenant';

CREATE FUNCTION taskforce.enable_tenant_isolation(tbl regclass, tenant_column name DEFAULT 'tenant_id')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    current_column name;
BEGIN
    PERFORM taskforce._check_tenant_column(tbl, tenant_column);
    current_column := taskforce._isolation_column(tbl);
    IF current_column <> tenant_column THEN
        RAISE EXCEPTION 'table "%" is already under tenant isolation on column "%"', tbl, current_column
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call taskforce.disable_tenant_isolation() first.';
    END IF;
    IF NOT taskforce._isolate(tbl, tenant_column) THEN
        RAISE NOTICE 'table "%" is already under tenant isolation', tbl;
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce.enable_tenant_isolation(regclass, name) IS
    'puts a table, its partitions and its children under tenant row-level security keyed on the given column';

-- Removes the isolation pieces from tbl and its children.
CREATE FUNCTION taskforce._unisolate(tbl regclass, tenant_column name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    child regclass;
BEGIN
    -- A partition's trigger is a clone: it goes with its parent's.
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                WHERE t.tgrelid = tbl AND t.tgname = 'taskforce_tenant_immutable'
                  AND t.tgparentid = 0) THEN
        EXECUTE format('DROP TRIGGER taskforce_tenant_immutable ON %s', tbl);
    END IF;
    IF taskforce._has_tenant_policy(tbl) THEN
        EXECUTE format('DROP POLICY taskforce_tenant_isolation ON %s', tbl);
    END IF;
    IF taskforce._has_tenant_default(tbl, tenant_column) THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', tbl, tenant_column);
    END IF;
    -- Leave row-level security on if the table has policies of its own.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy AS p WHERE p.polrelid = tbl) THEN
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY', tbl);
    END IF;
    FOR child IN SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i
                  WHERE i.inhparent = tbl ORDER BY i.inhrelid LOOP
        PERFORM taskforce._unisolate(child, tenant_column);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._unisolate(regclass, name) IS
    'internal: removes the isolation pieces from a table and its children';

CREATE FUNCTION taskforce.disable_tenant_isolation(tbl regclass)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant_column name := taskforce._isolation_column(tbl);
    parent regclass;
BEGIN
    IF tenant_column IS NULL THEN
        RAISE EXCEPTION 'table "%" is not under tenant isolation', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT i.inhparent INTO parent FROM pg_catalog.pg_inherits AS i
     WHERE i.inhrelid = tbl AND taskforce._isolation_column(i.inhparent) IS NOT NULL
     LIMIT 1;
    IF parent IS NOT NULL THEN
        RAISE EXCEPTION 'table "%" inherits tenant isolation from "%"', tbl, parent
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Disable it on the parent table.';
    END IF;
    PERFORM taskforce._unisolate(tbl, tenant_column);
END
$$;
COMMENT ON FUNCTION taskforce.disable_tenant_isolation(regclass) IS
    'removes tenant row-level security from a table, its partitions and its children';

-- The (child, parent) pairs an ALTER TABLE command joined with ATTACH
-- PARTITION or INHERIT (src/tenancy/tenancy.c says why it reads the command).
-- Executable by every role: the event trigger runs as whoever runs the DDL,
-- and a pg_ddl_command can only come from pg_event_trigger_ddl_commands().
CREATE FUNCTION taskforce._inheritance_changes(command pg_ddl_command,
                                               OUT child regclass, OUT parent regclass)
    RETURNS SETOF record
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_inheritance_changes';
COMMENT ON FUNCTION taskforce._inheritance_changes(pg_ddl_command) IS
    'internal: the children an ALTER TABLE command attached (ATTACH PARTITION) or made inherit (INHERIT), with their parents';

-- The tables the current DDL command made partitions or inheritance
-- children (CREATE TABLE ... PARTITION OF / INHERITS, ALTER TABLE ... ATTACH
-- PARTITION / INHERIT), with their parents; for ddl_command_end triggers,
-- which run as whoever runs the DDL (so it is not revoked from PUBLIC).
CREATE FUNCTION taskforce._new_children()
    RETURNS TABLE (child regclass, parent regclass)
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT i.inhrelid::regclass AS child, i.inhparent::regclass AS parent
          FROM pg_catalog.pg_event_trigger_ddl_commands() AS c
          JOIN pg_catalog.pg_inherits AS i ON i.inhrelid = c.objid
         WHERE c.command_tag = 'CREATE TABLE'
           AND c.classid = 'pg_catalog.pg_class'::regclass AND c.object_type = 'table'
        UNION
        SELECT j.child, j.parent
          FROM pg_catalog.pg_event_trigger_ddl_commands() AS c,
               taskforce._inheritance_changes(c.command) AS j
         WHERE c.command_tag = 'ALTER TABLE'
         ORDER BY 1, 2
$$;
COMMENT ON FUNCTION taskforce._new_children() IS
    'internal: the tables the current DDL command made partitions or children, with their parents (event triggers)';

-- Puts tables that become partitions or inheritance children of an isolated
-- table under isolation: created with CREATE TABLE ... PARTITION OF or
-- INHERITS, or joined by ALTER TABLE ... ATTACH PARTITION or INHERIT.  Any
-- other ALTER TABLE is left alone, and so is a restore: pg_restore creates
-- and attaches tables before their parents' triggers exist, then restores
-- each child's own policy.
CREATE FUNCTION taskforce._isolate_new_children() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    joined record;
    parent_column name;
    child_column name;
BEGIN
    FOR joined IN
        SELECT n.child, n.parent FROM taskforce._new_children() AS n
    LOOP
        parent_column := taskforce._isolation_column(joined.parent);
        CONTINUE WHEN parent_column IS NULL;
        -- Foreign tables cannot have row-level security.
        CONTINUE WHEN (SELECT c.relkind FROM pg_catalog.pg_class AS c
                        WHERE c.oid = joined.child) NOT IN ('r', 'p');
        child_column := taskforce._isolation_column(joined.child);
        IF child_column <> parent_column THEN
            RAISE EXCEPTION 'table "%" is under tenant isolation on column "%", its new parent "%" on column "%"',
                            joined.child, child_column, joined.parent, parent_column
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Call taskforce.disable_tenant_isolation() on the child first.';
        END IF;
        PERFORM taskforce._isolate(joined.child, parent_column);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._isolate_new_children() IS
    'event trigger: isolates tables as they become partitions or children of isolated tables';
CREATE EVENT TRIGGER taskforce_isolate_new_children ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION taskforce._isolate_new_children();

-- Views and materialized views read the relations their _RETURN rule
-- depends on.  A view without security_invoker reads them as its owner; a
-- materialized view stores what its refresh read.  reach follows views of
-- views: switched says whether the path from the top view went through
-- another view that reads as its own owner (that view is reported itself),
-- or through a materialized view (ditto).
CREATE FUNCTION taskforce.isolation_report(tenant_column name DEFAULT 'tenant_id')
    RETURNS TABLE (table_name regclass, column_name name, problem text, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH RECURSIVE tables AS (
        SELECT c.oid AS relid, c.relrowsecurity, c.relforcerowsecurity,
               taskforce._isolation_column(c.oid) AS isolated_on
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
           -- taskforce's own tables are not the caller's to fix: the ones
           -- with a tenant_id that are not isolated are global on purpose.
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                            JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
                           WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                             AND d.objid = c.oid AND d.deptype = 'e'
                             AND e.extname = 'taskforce')
    ),
    -- Every isolated table, taskforce's own included: a view or a policy
    -- can expose those as well.
    isolated AS (
        SELECT c.oid AS relid, c.relowner, c.relforcerowsecurity,
               taskforce._isolation_column(c.oid) AS isolated_on
          FROM pg_catalog.pg_class AS c
         WHERE c.relkind IN ('r', 'p')
           AND EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                        WHERE t.tgrelid = c.oid AND t.tgname = 'taskforce_tenant_immutable')
    ),
    views AS (
        SELECT c.oid AS relid, c.relkind, c.relowner,
               coalesce((SELECT o.option_value::boolean
                           FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                          WHERE o.option_name = 'security_invoker'), false) AS invoker
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('v', 'm')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\_temp%'
    ),
    reads AS (
        SELECT DISTINCT r.ev_class AS viewid, d.refobjid AS relid
          FROM pg_catalog.pg_rewrite AS r
          JOIN pg_catalog.pg_depend AS d
            ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> r.ev_class
         WHERE r.rulename = '_RETURN'
    ),
    reach AS (
        SELECT v.relid AS top, r.relid, false AS switched
          FROM views AS v
          JOIN reads AS r ON r.viewid = v.relid
         -- taskforce's own views are checked by its tests, not reported.
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                            JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
                           WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                             AND d.objid = v.relid AND d.deptype = 'e'
                             AND e.extname = 'taskforce')
        UNION
        SELECT reach.top, r.relid, reach.switched OR v.relkind = 'm' OR NOT v.invoker
          FROM reach
          JOIN views AS v ON v.relid = reach.relid
          JOIN reads AS r ON r.viewid = v.relid
    ),
    findings AS (
        SELECT t.relid, tenant_column AS col, 'not isolated' AS problem,
               'Call taskforce.enable_tenant_isolation() on it.' AS detail
          FROM tables AS t
         WHERE t.isolated_on IS NULL
           AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                        WHERE a.attrelid = t.relid AND a.attname = tenant_column
                          AND a.attnum > 0 AND NOT a.attisdropped)
        UNION ALL
        SELECT t.relid, t.isolated_on, 'isolation incomplete',
               concat_ws(' ',
                   CASE WHEN NOT t.relrowsecurity THEN 'Row-level security is disabled.' END,
                   CASE WHEN NOT t.relforcerowsecurity THEN 'Row-level security is not forced.' END,
                   CASE WHEN NOT taskforce._has_tenant_policy(t.relid)
                        THEN 'The tenant policy is missing.' END,
                   'Call taskforce.enable_tenant_isolation() on it.')
          FROM tables AS t
         WHERE t.isolated_on IS NOT NULL
           AND (NOT t.relrowsecurity OR NOT t.relforcerowsecurity
                OR NOT taskforce._has_tenant_policy(t.relid))
        UNION ALL
        SELECT t.relid, t.isolated_on, 'tenant column has a nondeterministic collation',
               format('Collation %s can make distinct tenant ids compare equal. In one transaction, '
                      'call taskforce.disable_tenant_isolation(), give the column a deterministic '
                      'collation such as "C", and call taskforce.enable_tenant_isolation().',
                      a.attcollation::pg_catalog.regcollation)
          FROM tables AS t
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = t.relid AND a.attname = t.isolated_on
         WHERE taskforce._is_nondeterministic(a.attcollation)
        UNION ALL
        SELECT t.relid, t.isolated_on, 'foreign key does not include tenant column',
               format('Constraint %I references %s.', k.conname, k.confrelid::regclass)
          FROM tables AS t
          JOIN pg_catalog.pg_constraint AS k ON k.conrelid = t.relid AND k.contype = 'f'
         WHERE t.isolated_on IS NOT NULL
           AND taskforce._isolation_column(k.confrelid) IS NOT NULL
           AND NOT (SELECT a.attnum FROM pg_catalog.pg_attribute AS a
                     WHERE a.attrelid = t.relid AND a.attname = t.isolated_on) = ANY (k.conkey)
        UNION ALL
        SELECT t.relid, t.isolated_on, 'index does not lead with tenant column',
               format('Index %s.', i.indexrelid::regclass)
          FROM tables AS t
          JOIN pg_catalog.pg_index AS i ON i.indrelid = t.relid
         WHERE t.isolated_on IS NOT NULL
           AND i.indkey[0] IS DISTINCT FROM
               (SELECT a.attnum FROM pg_catalog.pg_attribute AS a
                 WHERE a.attrelid = t.relid AND a.attname = t.isolated_on)
        UNION ALL
        -- Permissive policies are combined by OR: any besides the tenant
        -- policy lets rows through that the tenant policy would not.
        SELECT i.relid, i.isolated_on, 'permissive policy widens tenant policy',
               format('Policy %I (for %s, to %s) is combined with the tenant policy by OR. '
                      'Make it RESTRICTIVE or drop it.',
                      p.polname,
                      CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                      array_to_string(ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC'
                                                        ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                                              FROM unnest(p.polroles) AS r (oid) ORDER BY 1), ', '))
          FROM isolated AS i
          JOIN pg_catalog.pg_policy AS p ON p.polrelid = i.relid
         WHERE p.polpermissive AND p.polname <> 'taskforce_tenant_isolation'
        UNION ALL
        SELECT DISTINCT v.relid, i.isolated_on, 'view bypasses row-level security',
               format('Reads %s as its owner %I, who %s. Whoever may select from the view sees '
                      'every tenant''s rows. Set security_invoker on the view, or give it an owner '
                      'that row-level security applies to.',
                      i.relid::regclass, o.rolname,
                      CASE WHEN o.rolsuper THEN 'is a superuser'
                           WHEN o.rolbypassrls THEN 'has BYPASSRLS'
                           ELSE 'owns the table, which does not force row-level security' END)
          FROM reach
          JOIN views AS v ON v.relid = reach.top AND v.relkind = 'v' AND NOT v.invoker
          JOIN isolated AS i ON i.relid = reach.relid
          JOIN pg_catalog.pg_roles AS o ON o.oid = v.relowner
         WHERE NOT reach.switched
           AND (o.rolsuper OR o.rolbypassrls
                OR (NOT i.relforcerowsecurity AND pg_catalog.pg_has_role(v.relowner, i.relowner, 'USAGE')))
        UNION ALL
        SELECT DISTINCT v.relid, i.isolated_on, 'materialized view of isolated table',
               format('Reads %s. A materialized view has no row-level security: whoever may select '
                      'from it sees the rows its last refresh read, whichever tenant they belong to. '
                      'Use a view with security_invoker instead.', i.relid::regclass)
          FROM reach
          JOIN views AS v ON v.relid = reach.top AND v.relkind = 'm'
          JOIN isolated AS i ON i.relid = reach.relid
    )
    SELECT f.relid::regclass, f.col, f.problem, f.detail
      FROM findings AS f
     ORDER BY f.relid::regclass::text, f.problem, f.detail
$$;
COMMENT ON FUNCTION taskforce.isolation_report(name) IS
    'tables with a tenant column but no isolation; isolated tables that are incomplete, have a nondeterministic tenant collation, extra permissive policies, or indexes or foreign keys to other isolated tables that leave the tenant column out; views that read isolated tables bypassing row-level security; materialized views of isolated tables';

SELECT taskforce.enable_tenant_isolation('taskforce.tenants');
