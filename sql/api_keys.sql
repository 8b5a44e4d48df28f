-- api_keys: creating, authenticating with, listing, revoking and rotating
-- API keys, tried as an ordinary application role.  Generated keys, ids
-- and times are never printed: \gset carries a key into later statements
-- (real clients pass it as a bind parameter).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS key_admin, key_app;
CREATE ROLE key_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE key_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('key-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('key-globex', 'Globex');
RESET client_min_messages;

-- The table holds hashes, and no ordinary role may read it: listing goes
-- through list_api_keys(), which never returns a hash.
SELECT r.role, has_table_privilege(r.role, 'taskforce.api_keys', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE') AS any_privilege
  FROM unnest(ARRAY['taskforce_app', 'taskforce_admin', 'taskforce_auditor', 'taskforce_bi']) AS r(role)
 ORDER BY r.role;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'taskforce.api_keys'::regclass;

-- An administrator (no context) sets up users and creates the first key.
\c - key_admin
SELECT user_id FROM taskforce.create_user('alice', 'alice', tenant_id => 'key-acme');
SELECT user_id FROM taskforce.create_user('olga', 'olga', tenant_id => 'key-acme');
SELECT user_id FROM taskforce.create_user('svc-pipeline', 'svc-pipeline', kind => 'service', tenant_id => 'key-acme');
SELECT user_id FROM taskforce.create_user('svc-other', 'svc-other', kind => 'service', tenant_id => 'key-globex');
SELECT role_name FROM taskforce.grant_role('alice', 'admin', tenant_id => 'key-acme');
SELECT role_name FROM taskforce.grant_role('olga', 'operator', tenant_id => 'key-acme');
SELECT role_name FROM taskforce.create_role('reporter', ARRAY['agent:read', 'session:read'], tenant_id => 'key-acme');

-- The key is tf_ and 43 base64url characters, shown this once.
SELECT key_id AS pipeline_key_id, api_key AS pipeline_key, key_prefix AS pipeline_prefix
  FROM taskforce.create_api_key('svc-pipeline', 'Data Pipeline Service Key',
                                roles => ARRAY['operator'],
                                metadata => '{"purpose": "ETL pipeline agent execution"}',
                                tenant_id => 'key-acme') \gset
SELECT left(:'pipeline_key', 3) AS prefix, length(:'pipeline_key') AS length,
       :'pipeline_key' ~ '^tf_[A-Za-z0-9_-]{43}$' AS base64url,
       :'pipeline_prefix' = left(:'pipeline_key', 8) AS prefix_is_start;
-- Bad arguments, each refused, nothing written.
SELECT taskforce.create_api_key('nobody', 'k', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', roles => ARRAY['superhero'], tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', roles => ARRAY['viewer', NULL], tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', roles => NULL, tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', scopes => ARRAY['agent:fly'], tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', scopes => ARRAY['not a pattern'], tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', scopes => '{}', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', expires_at => now() - interval '1 day', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', '  ', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', NULL, tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', metadata => '[]', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k', tenant_id => 'key-nowhere');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-pipeline', 'k');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('svc-other', 'k', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE

-- The application role, without a context, cannot create, list or revoke.
\c - key_app
SELECT taskforce.create_api_key('svc-pipeline', 'k', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.list_api_keys(tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.revoke_api_key(:'pipeline_key_id', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE

-- The key establishes its user's context with the key's roles.
BEGIN;
SELECT taskforce.authenticate_api_key(:'pipeline_key');
SELECT taskforce.current_tenant(), taskforce.current_user_id(), taskforce.current_roles(),
       (taskforce.current_context()).auth_method,
       (taskforce.current_context()).permission_scopes;
SELECT taskforce.has_permission('agent:execute') AS executes,
       taskforce.has_permission('agent:create') AS creates;
SELECT * FROM taskforce.effective_roles();
-- A service lists its own keys without any permission; never the key or a hash.
SELECT user_id, name, key_prefix = :'pipeline_prefix' AS same_prefix, roles, scopes,
       expires_at, created_by, revoked_at, status
  FROM taskforce.list_api_keys('svc-pipeline');
SELECT * FROM taskforce.list_api_keys();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT taskforce.current_tenant() IS NULL AS gone_after_rollback;

-- A user manager, logged in by context, makes a key limited to scopes.
\c - key_admin
BEGIN;
SELECT taskforce.act_as('key-acme', 'alice');
SELECT key_id AS reader_key_id, api_key AS reader_key
  FROM taskforce.create_api_key('svc-pipeline', 'Read-only dashboard key',
                                roles => ARRAY['reporter', 'viewer', 'reporter'],
                                scopes => ARRAY['agent:read', 'session:*']) \gset
COMMIT;
\c - key_app
BEGIN;
SELECT taskforce.authenticate_api_key(:'reader_key');
SELECT taskforce.current_roles(), (taskforce.current_context()).permission_scopes;
-- Inside the scopes, what the roles grant; tool:read, which viewer grants,
-- is outside them.
SELECT taskforce.has_permission('agent:read') AS agent_read,
       taskforce.has_permission('session:read') AS session_read,
       taskforce.has_permission('tool:read') AS tool_read_outside_scopes,
       taskforce.has_permission('agent:execute') AS agent_execute;
SELECT allowed, reason FROM taskforce.explain_permission('tool:read');
-- A key-authenticated context cannot set its user's password.
SELECT taskforce.set_password('svc-pipeline', 'Service-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Escalation: an operator-level user manager cannot mint an admin key.
\c - postgres
SELECT role_name FROM taskforce.create_role('key_manager', ARRAY['user:manage', 'agent:read'], tenant_id => 'key-acme');
SELECT role_name FROM taskforce.grant_role('olga', 'key_manager', tenant_id => 'key-acme');
\c - key_admin
SELECT api_key AS olga_key FROM taskforce.create_api_key('olga', 'Olga''s key', tenant_id => 'key-acme') \gset
\c - key_app
BEGIN;
SELECT taskforce.authenticate_api_key(:'olga_key');
SELECT taskforce.create_api_key('svc-pipeline', 'escalated', roles => ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_api_key(:'olga_key');
SELECT left(api_key, 3) AS prefix, length(api_key) AS length
  FROM taskforce.create_api_key('svc-pipeline', 'operator key', roles => ARRAY['operator']);
-- ... nor list or revoke keys of another tenant.
SELECT * FROM taskforce.list_api_keys(tenant_id => 'key-globex');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A key limited to scopes makes only keys limited to scopes it holds:
-- its keys would otherwise carry their user's every granted role.  (For a
-- user holding nothing yet: svc-pipeline now holds operator through a key.)
\c - key_admin
SELECT user_id FROM taskforce.create_user('svc-reports', 'svc-reports', kind => 'service', tenant_id => 'key-acme');
SELECT api_key AS olga_scoped_key
  FROM taskforce.create_api_key('olga', 'Olga''s scoped key', scopes => ARRAY['user:manage', 'agent:read'],
                                tenant_id => 'key-acme') \gset
\c - key_app
BEGIN;
SELECT taskforce.authenticate_api_key(:'olga_scoped_key');
SELECT taskforce.create_api_key('svc-reports', 'unlimited');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_api_key(:'olga_scoped_key');
SELECT taskforce.create_api_key('svc-reports', 'wider', scopes => ARRAY['agent:*']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_api_key(:'olga_scoped_key');
SELECT length(api_key) AS length FROM taskforce.create_api_key('svc-reports', 'narrow', scopes => ARRAY['agent:read']);
ROLLBACK;

-- Malformed and unknown keys.
SELECT taskforce.authenticate_api_key('not-a-key');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_api_key('tf_' || repeat('A', 42));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_api_key('tf_' || repeat('A', 42) || '=');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_api_key('tf_' || repeat('A', 43));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_api_key(upper(:'pipeline_key'));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_api_key(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant() IS NULL AS no_context;

-- Revoked: the key's own user may revoke it; twice is refused.
BEGIN;
SELECT taskforce.authenticate_api_key(:'pipeline_key');
SELECT taskforce.revoke_api_key(:'reader_key_id', 'dashboard retired');
COMMIT;
SELECT taskforce.authenticate_api_key(:'reader_key');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT taskforce.authenticate_api_key(:'pipeline_key');
SELECT taskforce.revoke_api_key(:'reader_key_id');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A key that is not one's own needs user:manage, even to learn it is unknown.
BEGIN;
SELECT taskforce.authenticate_api_key(:'pipeline_key');
SELECT taskforce.revoke_api_key('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\c - key_admin
SELECT taskforce.revoke_api_key('00000000-0000-0000-0000-000000000000', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.revoke_api_key(NULL, tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
-- Another user without user:manage may not revoke someone else's key.
SELECT api_key AS olga_plain_key
  FROM taskforce.create_api_key('olga', 'Olga''s plain key', tenant_id => 'key-acme') \gset
SELECT taskforce.revoke_role('olga', 'key_manager', 'key-acme');
\c - key_app
BEGIN;
SELECT taskforce.authenticate_api_key(:'olga_plain_key');
SELECT taskforce.revoke_api_key(:'pipeline_key_id');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Expired: made to expire by moving its expiry into the past.
\c - key_admin
SELECT key_id AS temp_key_id, api_key AS temp_key
  FROM taskforce.create_api_key('svc-pipeline', 'temporary', expires_at => now() + interval '10 minutes',
                                tenant_id => 'key-acme') \gset
\c - key_app
-- The context never outlives the key.
BEGIN;
SELECT taskforce.authenticate_api_key(:'temp_key');
SELECT expires_at <= now() + interval '10 minutes' AS within_key_lifetime,
       expires_at - established_at < interval '1 hour' AS shorter_than_max_ttl
  FROM taskforce.current_context();
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_api_key(:'temp_key', ttl => '5 minutes');
SELECT expires_at - established_at <= interval '5 minutes' AS requested_ttl_kept
  FROM taskforce.current_context();
ROLLBACK;
\c - postgres
UPDATE taskforce.api_keys SET expires_at = now() - interval '1 second'
 WHERE tenant_id = 'key-acme' AND key_id = :'temp_key_id';
\c - key_app
SELECT taskforce.authenticate_api_key(:'temp_key');
\echo :LAST_ERROR_SQLSTATE

-- Rotation without overlap: the old key stops at once, the new one works
-- with the same user, roles and scopes.
\c - key_admin
SELECT key_id AS rotated_key_id, api_key AS rotated_key
  FROM taskforce.rotate_api_key(:'pipeline_key_id', tenant_id => 'key-acme') \gset
SELECT :'rotated_key' <> :'pipeline_key' AS new_key, length(:'rotated_key') AS length;
SELECT taskforce.rotate_api_key(:'pipeline_key_id', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.rotate_api_key(:'reader_key_id', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.rotate_api_key(:'temp_key_id', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.rotate_api_key(:'rotated_key_id', overlap => '-1 hour', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.rotate_api_key('00000000-0000-0000-0000-000000000000', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
\c - key_app
SELECT taskforce.authenticate_api_key(:'pipeline_key');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT taskforce.authenticate_api_key(:'rotated_key');
SELECT taskforce.current_user_id(), taskforce.current_roles();
COMMIT;

-- Rotation with overlap: both keys work until the overlap ends.
\c - key_admin
SELECT key_id AS overlap_key_id, api_key AS overlap_key
  FROM taskforce.rotate_api_key(:'rotated_key_id', overlap => '1 hour', tenant_id => 'key-acme') \gset
\c - key_app
BEGIN;
SELECT taskforce.authenticate_api_key(:'rotated_key');
SELECT taskforce.current_user_id() AS old_key_still_works;
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_api_key(:'overlap_key');
SELECT taskforce.current_user_id() AS new_key_works;
-- An operator-level key may not rotate (it would mint a key).
SELECT taskforce.rotate_api_key(:'overlap_key_id');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\c - key_admin
SELECT name, status, revoked_at IS NOT NULL AS revoked,
       expires_at IS NOT NULL AND expires_at <= now() + interval '1 hour' AS ends_with_overlap,
       last_used_at IS NOT NULL AS used, roles, scopes
  FROM taskforce.list_api_keys('svc-pipeline', 'key-acme');
-- Both the old key and its replacement point the right way.
\c - postgres
SELECT k.key_id = :'pipeline_key_id' AS first, k.key_id = :'rotated_key_id' AS second,
       k.rotated_to = :'rotated_key_id' AS to_second, k.rotated_to = :'overlap_key_id' AS to_third,
       k.revoked_reason
  FROM taskforce.api_keys AS k
 WHERE k.tenant_id = 'key-acme' AND k.rotated_to IS NOT NULL
 ORDER BY k.created_at;
-- A key that was rotated with overlap is not rotated again.
\c - key_admin
SELECT taskforce.rotate_api_key(:'rotated_key_id', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
-- Only the hash is stored: no column holds the key.
SELECT count(*) AS rows_holding_the_key
  FROM taskforce.api_keys AS k
 WHERE position(:'overlap_key' IN k::text) > 0;
SELECT count(*) AS hash_matches
  FROM taskforce.api_keys
 WHERE key_hash = sha256(convert_to(:'overlap_key', 'UTF8'));

-- A deactivated user's keys stop working; deleting it deletes them.
\c - key_admin
SELECT user_id, status FROM taskforce.deactivate_user('svc-pipeline', tenant_id => 'key-acme');
\c - key_app
SELECT taskforce.authenticate_api_key(:'overlap_key');
\echo :LAST_ERROR_SQLSTATE
\c - key_admin
SELECT taskforce.create_api_key('svc-pipeline', 'k', tenant_id => 'key-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_user('svc-pipeline', 'key-acme');
SELECT count(*) AS keys_left FROM taskforce.list_api_keys('svc-pipeline', 'key-acme');

-- Every event, never a key.  Failures and successes are queued in shared
-- memory and written by the next write (here, an explicit flush); a
-- success only for a key's first use in auth_success_event_interval.
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT tenant_id, user_id, method, event, outcome, reason,
       details ? 'key_id' AS has_key_id, details->'roles' AS roles,
       details->'scopes' AS scopes, details ? 'key_prefix' AS has_prefix
  FROM taskforce.security_events
 WHERE (tenant_id IN ('key-acme', 'key-globex') AND (event LIKE 'api\_key%' OR method = 'api_key'))
    OR (tenant_id IS NULL AND method = 'api_key')
 ORDER BY event_id;
SELECT count(*) AS events_holding_a_key
  FROM taskforce.security_events AS e
 WHERE e.details::text ~ 'tf_[A-Za-z0-9_-]{43}';

-- Authentication with a key writes nothing (it works in a read-only
-- transaction, as on a hot standby), and records only the key's first use
-- in taskforce.auth_success_event_interval (1 hour by default).
\c - key_admin
SELECT key_id AS ro_key_id, api_key AS ro_key
  FROM taskforce.create_api_key('olga', 'Read-only check key', tenant_id => 'key-acme') \gset
\c - key_app
BEGIN READ ONLY;
SELECT taskforce.authenticate_api_key(:'ro_key');
SELECT taskforce.current_user_id() AS read_only_login,
       pg_current_xact_id_if_assigned() IS NULL AS wrote_nothing;
COMMIT;
BEGIN READ ONLY;
SELECT taskforce.authenticate_api_key(:'ro_key');
COMMIT;
-- The interval is for superusers to set.
SET taskforce.auth_success_event_interval = 0;
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT count(*) AS success_events, bool_and(details->>'key_id' = :'ro_key_id') AS this_key
  FROM taskforce.security_events
 WHERE method = 'api_key' AND outcome = 'success' AND details->>'key_id' = :'ro_key_id';
SELECT last_used_at IS NOT NULL AS last_used_recorded
  FROM taskforce.api_keys WHERE key_id = :'ro_key_id';
-- With an interval of 0, every use is recorded.
SET taskforce.auth_success_event_interval = 0;
BEGIN;
SELECT taskforce.authenticate_api_key(:'ro_key');
COMMIT;
BEGIN;
SELECT taskforce.authenticate_api_key(:'ro_key');
COMMIT;
RESET taskforce.auth_success_event_interval;
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT count(*) AS success_events
  FROM taskforce.security_events
 WHERE method = 'api_key' AND outcome = 'success' AND details->>'key_id' = :'ro_key_id';
