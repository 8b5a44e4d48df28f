-- src/sql/upgrade/0.2.0--0.3.0-roles.sql: 0.1.0 and 0.2.0 did not record
-- the roles setup_roles() made.  Find them by the privileges only it
-- granted (admin: act_as; app: the tenants table without act_as; auditor:
-- the security events without act_as), record them, and grant them what
-- this release adds.  A BI role cannot be told from any role given USAGE
-- on the schema by hand, so it is recorded when setup_roles() next runs.
INSERT INTO taskforce.database_roles (purpose, role_name)
SELECT DISTINCT g.purpose, pr.rolname
  FROM (SELECT 'admin' AS purpose, a.grantee
          FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a
         WHERE p.oid = 'taskforce.act_as(text, text, text[], text, interval)'::regprocedure
        UNION ALL
        SELECT CASE c.oid WHEN 'taskforce.tenants'::regclass THEN 'app' ELSE 'auditor' END, a.grantee
          FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
         WHERE c.oid IN ('taskforce.tenants'::regclass, 'taskforce.security_events'::regclass)
           AND a.privilege_type = 'SELECT') AS g
  JOIN pg_catalog.pg_roles AS pr ON pr.oid = g.grantee
 WHERE NOT pr.rolsuper
   AND (g.purpose = 'admin'
        OR NOT pg_catalog.has_function_privilege(pr.oid,
               'taskforce.act_as(text, text, text[], text, interval)', 'EXECUTE'));
SELECT taskforce._grant_database_role_privileges();
