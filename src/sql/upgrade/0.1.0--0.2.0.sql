-- src/sql/upgrade/0.1.0--0.2.0.sql: the changes 0.2.0 makes to objects of
-- 0.1.0.  The upgrade script is this file followed by the files new in
-- 0.2.0 and roles.sql (see the Makefile).

-- A context may be limited by permission scopes (API keys).
DROP FUNCTION taskforce._establish_context(text, text, text[], text, text, interval);
CREATE FUNCTION taskforce._establish_context(
    tenant_id text, user_id text, roles text[], auth_method text,
    scope text, ttl interval, permission_scopes text[] DEFAULT NULL) RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'taskforce_establish_context';
REVOKE ALL ON FUNCTION taskforce._establish_context(text, text, text[], text, text, interval, text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._establish_context(text, text, text[], text, text, interval, text[]) IS
    'internal: installs a verified identity as the current context';

DROP FUNCTION taskforce.current_context();
CREATE FUNCTION taskforce.current_context(
    OUT tenant_id text,
    OUT user_id text,
    OUT roles text[],
    OUT auth_method text,
    OUT scope text,
    OUT established_by text,
    OUT established_at timestamptz,
    OUT expires_at timestamptz,
    OUT permission_scopes text[])
    LANGUAGE C STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_current_context';
COMMENT ON FUNCTION taskforce.current_context() IS
    'the whole current context as one row, all null when there is none';

-- The isolation report leaves out taskforce's own tables.
CREATE OR REPLACE FUNCTION taskforce.isolation_report(tenant_column name DEFAULT 'tenant_id')
    RETURNS TABLE (table_name regclass, column_name name, problem text, detail text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH tables AS (
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
    )
    SELECT f.relid::regclass, f.col, f.problem, f.detail
      FROM findings AS f
     ORDER BY f.relid::regclass::text, f.problem, f.detail
$$;
COMMENT ON FUNCTION taskforce.isolation_report(name) IS
    'tables with a tenant column but no isolation, and isolated tables whose indexes, or foreign keys to other isolated tables, leave the tenant column out';

-- roles.sql defines setup_roles again, granting the new objects.
DROP FUNCTION taskforce.setup_roles(name, name, name, name);
