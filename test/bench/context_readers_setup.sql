-- test/bench/context_readers_setup.sql: objects for context_readers.sh, run
-- as the bootstrap superuser: the extension, one tenant, an ordinary LOGIN
-- role "bench" (member of taskforce_admin, so it may call act_as) and a
-- timing helper.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION taskforce CASCADE;
SELECT count(*) AS group_roles FROM taskforce.setup_roles();
CREATE ROLE bench LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE taskforce_admin;
SELECT taskforce.create_tenant('t001', 'bench tenant 1') IS NOT NULL AS tenant_created;

\ir bench_time.sql
