-- src/sql/upgrade/0.6.0--0.7.0.sql: the changes 0.7.0 makes to objects of
-- 0.6.0.  The upgrade script is this file, the files new in 0.7.0 and
-- roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.7.0'" to load this file. \quit

-- roles.sql creates its functions again, with this release's grants.
DROP FUNCTION taskforce._grant_database_role_privileges();
DROP FUNCTION taskforce.setup_roles(name, name, name, name);
