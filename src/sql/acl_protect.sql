-- src/sql/acl_protect.sql: protect_table(), row policies that show and
-- change a row of a user table only as its resource's ACL allows.

-- Putting a table's rows under their resources' ACLs.  The state is the
-- row policies themselves (dumped and restored with the table); the view
-- finds the resource column through the select policy's dependency on it.
CREATE VIEW taskforce.protected_tables AS
    SELECT p.polrelid::regclass AS table_name, a.attname AS resource_column
      FROM pg_catalog.pg_policy AS p
      JOIN pg_catalog.pg_depend AS d
        ON d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid = p.oid
       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE p.polname = 'taskforce_acl_select';
COMMENT ON VIEW taskforce.protected_tables IS
    'tables whose rows are shown and changed only as their resources'' ACLs allow (protect_table)';
-- protect_table(), unprotect_table() and the event trigger below run as
-- whoever owns the table or runs the DDL, and read this view: everyone may
-- (it shows only what pg_policy shows everyone).
GRANT SELECT ON taskforce.protected_tables TO PUBLIC;

-- Adds the row policies to tbl and its partitions and children (a query
-- naming a partition must not skip them).
CREATE FUNCTION taskforce._protect(tbl regclass, resource_column name) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    child regclass;
BEGIN
    -- Restrictive: a row must pass both the tenant policy and its ACL.
    EXECUTE format('CREATE POLICY taskforce_acl_select ON %s AS RESTRICTIVE FOR SELECT '
                   'USING (taskforce._acl_allows(%I, ''read''))', tbl, resource_column);
    EXECUTE format('CREATE POLICY taskforce_acl_insert ON %s AS RESTRICTIVE FOR INSERT '
                   'WITH CHECK (taskforce._acl_allows(%I, ''write''))', tbl, resource_column);
    EXECUTE format('CREATE POLICY taskforce_acl_update ON %s AS RESTRICTIVE FOR UPDATE '
                   'USING (taskforce._acl_allows(%I, ''write'')) '
                   'WITH CHECK (taskforce._acl_allows(%I, ''write''))', tbl, resource_column, resource_column);
    EXECUTE format('CREATE POLICY taskforce_acl_delete ON %s AS RESTRICTIVE FOR DELETE '
                   'USING (taskforce._acl_allows(%I, ''delete''))', tbl, resource_column);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', tbl);
    FOR child IN SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i
                  WHERE i.inhparent = tbl ORDER BY i.inhrelid LOOP
        PERFORM taskforce._protect(child, resource_column);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._protect(regclass, name) IS
    'internal: adds protect_table''s row policies to a table and its children';

-- Tables that become partitions or inheritance children of a protected
-- table get its row policies too, as isolation.sql's event trigger gives
-- them the tenant policy: a query naming the new partition must not skip
-- the ACL.  A restore is left alone: pg_restore attaches tables before the
-- parents' policies exist, then restores each child's own.
CREATE FUNCTION taskforce._protect_new_children() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    joined record;
    resource_column name;
BEGIN
    FOR joined IN
        SELECT n.child, n.parent FROM taskforce._new_children() AS n
    LOOP
        SELECT p.resource_column INTO resource_column
          FROM taskforce.protected_tables AS p WHERE p.table_name = joined.parent;
        CONTINUE WHEN NOT FOUND;
        -- Foreign tables cannot have row-level security.
        CONTINUE WHEN (SELECT c.relkind FROM pg_catalog.pg_class AS c
                        WHERE c.oid = joined.child) NOT IN ('r', 'p');
        CONTINUE WHEN EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = joined.child);
        PERFORM taskforce._protect(joined.child, resource_column);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce._protect_new_children() IS
    'event trigger: adds protect_table''s row policies to tables as they become partitions or children of protected tables';
CREATE EVENT TRIGGER taskforce_protect_new_children ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION taskforce._protect_new_children();

CREATE FUNCTION taskforce.protect_table(tbl regclass, resource_column name DEFAULT 'resource_id')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    column_type regtype;
BEGIN
    IF tbl IS NULL OR resource_column IS NULL THEN
        RAISE EXCEPTION 'tbl and resource_column must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.atttypid INTO column_type FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attname = resource_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table "%" does not exist', resource_column, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF column_type NOT IN ('text'::regtype, 'character varying'::regtype) THEN
        RAISE EXCEPTION 'resource column "%" of table "%" has type %', resource_column, tbl, column_type
            USING ERRCODE = 'datatype_mismatch', HINT = 'A resource column must be of type text or varchar.';
    END IF;
    IF NOT taskforce._has_tenant_policy(tbl) THEN
        RAISE EXCEPTION 'table "%" is not under tenant isolation', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call taskforce.enable_tenant_isolation() on it first: ACL policies narrow the tenant policy.';
    END IF;
    IF EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = tbl) THEN
        RAISE EXCEPTION 'table "%" is already protected', tbl USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM taskforce._protect(tbl, resource_column);
END
$$;
COMMENT ON FUNCTION taskforce.protect_table(regclass, name) IS
    'adds row policies showing and changing a row only as its resource''s ACL allows (select: read; insert and update: write; delete: delete), on the table and its partitions; it must be under tenant isolation';

CREATE FUNCTION taskforce.unprotect_table(tbl regclass)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'tbl must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = tbl) THEN
        RAISE EXCEPTION 'table "%" is not protected', tbl USING ERRCODE = 'undefined_object';
    END IF;
    FOR t IN WITH RECURSIVE tree(relid) AS (
                 SELECT tbl::oid
                 UNION ALL
                 SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i JOIN tree ON i.inhparent = tree.relid)
             SELECT tree.relid::regclass FROM tree
              WHERE EXISTS (SELECT FROM taskforce.protected_tables AS p WHERE p.table_name = tree.relid) LOOP
        EXECUTE format('DROP POLICY taskforce_acl_select ON %s', t);
        EXECUTE format('DROP POLICY taskforce_acl_insert ON %s', t);
        EXECUTE format('DROP POLICY taskforce_acl_update ON %s', t);
        EXECUTE format('DROP POLICY taskforce_acl_delete ON %s', t);
    END LOOP;
END
$$;
COMMENT ON FUNCTION taskforce.unprotect_table(regclass) IS
    'removes protect_table''s row policies from the table and its partitions (tenant isolation stays)';
