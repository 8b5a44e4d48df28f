-- test/bench/tenant_rls_setup.sql: data for tenant_rls.sh, run as the
-- bootstrap superuser.  Three tables with the same 1,000,000 rows (100
-- tenants t001..t100 x ids 1..10000, a 16-character payload), each with
-- PRIMARY KEY (tenant_id, id):
--   t_plain      no row-level security
--   t_setting    RLS enabled and forced, USING (tenant_id = current_setting('app.tenant'))
--   t_taskforce  taskforce.enable_tenant_isolation()
-- and an ordinary LOGIN role "bench" (not superuser, no BYPASSRLS) that is
-- a member of taskforce_admin, so it may call taskforce.act_as().
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION taskforce CASCADE;
SELECT count(*) AS group_roles FROM taskforce.setup_roles();
CREATE ROLE bench LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE taskforce_admin;

SELECT count(taskforce.create_tenant(format('t%s', lpad(t::text, 3, '0')),
                                     format('bench tenant %s', t)))
  FROM generate_series(1, 100) AS t;

CREATE TABLE t_plain (
    tenant_id text    NOT NULL,
    id        integer NOT NULL,
    payload   text    NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE t_setting (LIKE t_plain INCLUDING ALL);
CREATE TABLE t_taskforce (LIKE t_plain INCLUDING ALL);

INSERT INTO t_plain
SELECT format('t%s', lpad(t::text, 3, '0')), i, left(md5(format('%s/%s', t, i)), 16)
  FROM generate_series(1, 100) AS t, generate_series(1, 10000) AS i;
INSERT INTO t_setting SELECT * FROM t_plain;
INSERT INTO t_taskforce SELECT * FROM t_plain;

ALTER TABLE t_setting ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_setting ON t_setting
    USING (tenant_id = current_setting('app.tenant'));

SELECT taskforce.enable_tenant_isolation('t_taskforce');

GRANT SELECT ON t_plain, t_setting, t_taskforce TO bench;

VACUUM ANALYZE t_plain, t_setting, t_taskforce;
