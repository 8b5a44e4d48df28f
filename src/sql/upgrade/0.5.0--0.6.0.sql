-- src/sql/upgrade/0.5.0--0.6.0.sql: the changes 0.6.0 makes to objects of
-- 0.5.0.  The upgrade script is this file, the files new in 0.6.0 and
-- roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.6.0'" to load this file. \quit

-- roles.sql creates its functions again, with this release's grants.
DROP FUNCTION taskforce._grant_database_role_privileges();
DROP FUNCTION taskforce.setup_roles(name, name, name, name);

-- Access to resources whose policy requires audit is a security event (acl.sql).
ALTER TABLE taskforce.security_events
    DROP CONSTRAINT security_events_event_known,
    ADD CONSTRAINT security_events_event_known CHECK (event IN (
        'authentication', 'lockout',
        'api_key_created', 'api_key_revoked', 'api_key_rotated',
        'role_granted', 'role_revoked', 'role_created', 'role_updated', 'role_deleted',
        'user_created', 'user_updated', 'user_deactivated', 'user_reactivated',
        'user_deleted', 'user_unlocked', 'password_changed', 'password_policy_changed',
        'events_lost', 'resource_access'));
