-- src/sql/upgrade/0.2.0--0.3.0.sql: the changes 0.3.0 makes to objects of
-- 0.2.0.  The upgrade script is this file, the files new in 0.3.0,
-- roles.sql and 0.2.0--0.3.0-roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.3.0'" to load this file. \quit

-- setup_roles() now records the roles it sets up (roles.sql recreates it).
DROP FUNCTION taskforce.setup_roles(name, name, name, name);
