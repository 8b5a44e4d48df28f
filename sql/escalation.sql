-- escalation: who may manage whom inside a tenant (docs/identity.md).  A
-- context may mint, reset or replace a credential of, change the status or
-- identity of, delete or demote only a user whose every permission it
-- holds itself; a context limited to scopes never obtains a credential
-- wider than its own.  Tried as an ordinary application role with
-- contexts from API keys; keys and ids are carried by \gset, never printed.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS esc_admin, esc_app;
CREATE ROLE esc_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE esc_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('esc-acme', 'Acme');
RESET client_min_messages;

-- An administrator (no context) is not limited by the rule: it sets up
-- the tenant.  boss administers the tenant through a custom role granting
-- *; manager holds only user:manage; rolemgr only role:manage and
-- agent:read; lead is an operator who also manages users; worker is a
-- viewer; intern holds nothing.
\c - esc_admin
SELECT count(*) FROM taskforce.set_password_policy('esc-acme', bcrypt_cost => 4);
SELECT role_name, permissions FROM taskforce.create_role('tenant_admin', ARRAY['*'], tenant_id => 'esc-acme');
SELECT role_name, permissions FROM taskforce.create_role('user_manager', ARRAY['user:manage'], tenant_id => 'esc-acme');
SELECT role_name, permissions FROM taskforce.create_role('role_manager', ARRAY['role:manage', 'agent:read'], tenant_id => 'esc-acme');
SELECT role_name, permissions FROM taskforce.create_role('reporting', ARRAY['agent:read'], tenant_id => 'esc-acme');
SELECT role_name, permissions FROM taskforce.create_role('team', ARRAY['agent:read'], tenant_id => 'esc-acme');
SELECT count(*) FROM (VALUES ('boss'), ('manager'), ('rolemgr'), ('lead'), ('worker'), ('intern')) AS v(u),
       LATERAL taskforce.create_user(v.u, v.u, tenant_id => 'esc-acme');
SELECT user_id, role_name
  FROM (VALUES ('boss', 'tenant_admin'), ('boss', 'reporting'), ('manager', 'user_manager'),
               ('rolemgr', 'role_manager'), ('lead', 'operator'), ('lead', 'user_manager'),
               ('worker', 'viewer'), ('worker', 'reporting'), ('worker', 'team')) AS v(u, r),
       LATERAL taskforce.grant_role(v.u, v.r, tenant_id => 'esc-acme')
 ORDER BY 1, 2;
SELECT key_id AS boss_key_id FROM taskforce.create_api_key('boss', 'boss key', tenant_id => 'esc-acme') \gset
SELECT key_id AS worker_key_id FROM taskforce.create_api_key('worker', 'worker key', tenant_id => 'esc-acme') \gset
SELECT key_id AS intern_key_id FROM taskforce.create_api_key('intern', 'intern key', tenant_id => 'esc-acme') \gset
SELECT api_key AS manager_key FROM taskforce.create_api_key('manager', 'manager key', tenant_id => 'esc-acme') \gset
SELECT api_key AS rolemgr_key FROM taskforce.create_api_key('rolemgr', 'rolemgr key', tenant_id => 'esc-acme') \gset
SELECT key_id AS lead_key_id, api_key AS lead_scoped_key
  FROM taskforce.create_api_key('lead', 'lead key limited to user:manage', scopes => ARRAY['user:manage'],
                                tenant_id => 'esc-acme') \gset

-- 1. A context holding only user:manage cannot take over, or take away,
-- the admin: every path to a credential of boss, or to its removal, is
-- refused.
\c - esc_app
SELECT taskforce.authenticate_api_key(:'manager_key', scope => 'session');
SELECT taskforce.effective_permissions();
SELECT taskforce.set_password('boss', 'Taken-0ver-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('boss', 'takeover');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.rotate_api_key(:'boss_key_id');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.revoke_api_key(:'boss_key_id');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.unlock_user('boss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_user('boss', email => 'attacker@example.com');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_user('boss', username => 'boss2');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.deactivate_user('boss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_user('boss');
\echo :LAST_ERROR_SQLSTATE
-- worker holds the viewer role, which manager does not either.
SELECT taskforce.set_password('worker', 'Taken-0ver-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
-- Nothing was written: boss and worker are as they were, without a
-- password, with only the keys the administrator made.
\c - postgres
SELECT user_id, username, email, status FROM taskforce.users
 WHERE tenant_id = 'esc-acme' AND user_id IN ('boss', 'worker') ORDER BY user_id;
SELECT count(*) AS passwords FROM taskforce.user_credentials WHERE tenant_id = 'esc-acme';
SELECT user_id, name, revoked_at IS NULL AS live FROM taskforce.api_keys
 WHERE tenant_id = 'esc-acme' AND user_id IN ('boss', 'worker') ORDER BY user_id, name;

-- ... while it manages a user holding no more than it does: intern.
\c - esc_app
SELECT taskforce.authenticate_api_key(:'manager_key', scope => 'session');
SELECT taskforce.set_password('intern', 'Intern-Passw0rd!');
SELECT length(api_key) AS length FROM taskforce.create_api_key('intern', 'intern second key');
SELECT length(api_key) AS length FROM taskforce.rotate_api_key(:'intern_key_id');
SELECT user_id, username, email FROM taskforce.update_user('intern', username => 'intern.one', email => 'intern@acme.example');
SELECT user_id, status FROM taskforce.deactivate_user('intern');
SELECT user_id, status FROM taskforce.reactivate_user('intern');
-- Its own user, too: a password carries no more than this context holds.
SELECT taskforce.set_password('manager', 'Manager-Passw0rd!');
-- Reading keys is not managing: it lists boss's, and cannot use them.
SELECT user_id, name, status FROM taskforce.list_api_keys('boss');
SELECT taskforce.clear_context();

-- A deactivated admin stays deactivated: reactivating it would give back
-- what manager does not hold.
\c - esc_admin
SELECT user_id, status FROM taskforce.deactivate_user('boss', tenant_id => 'esc-acme');
\c - esc_app
SELECT taskforce.authenticate_api_key(:'manager_key', scope => 'session');
SELECT taskforce.reactivate_user('boss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_user('boss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_user('intern');
SELECT taskforce.clear_context();
\c - esc_admin
SELECT user_id, status FROM taskforce.reactivate_user('boss', tenant_id => 'esc-acme');

-- A wildcard counts as what it will match later: holding every agent:
-- permission one by one does not make a context the equal of a user
-- holding agent:*.
SELECT role_name FROM taskforce.create_role('agent_all', ARRAY['agent:*'], tenant_id => 'esc-acme');
SELECT role_name FROM taskforce.create_role('agent_each',
    ARRAY['user:manage', 'agent:create', 'agent:read', 'agent:update', 'agent:delete', 'agent:execute'],
    tenant_id => 'esc-acme');
SELECT user_id FROM taskforce.create_user('smith', 'smith', tenant_id => 'esc-acme');
SELECT role_name FROM taskforce.grant_role('smith', 'agent_all', tenant_id => 'esc-acme');
SELECT role_name FROM taskforce.grant_role('manager', 'agent_each', tenant_id => 'esc-acme');
\c - esc_app
SELECT taskforce.authenticate_api_key(:'manager_key', scope => 'session');
SELECT taskforce.set_password('smith', 'Smith-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.clear_context();

-- 2. A context from a key limited to {user:manage} cannot reach past its
-- scopes: not by a password for its own user (who is also an operator) ...
SELECT taskforce.authenticate_api_key(:'lead_scoped_key', scope => 'session');
SELECT taskforce.effective_permissions();
SELECT taskforce.set_password('lead', 'Lead-Passw0rd!1');
\echo :LAST_ERROR_SQLSTATE
-- (nor by lifting a lockout of that password, to go on guessing it) ...
SELECT taskforce.unlock_user('lead');
\echo :LAST_ERROR_SQLSTATE
-- ... nor by a password, key or rotation for a user holding more than
-- its scopes ...
SELECT taskforce.set_password('worker', 'Worker-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('worker', 'scoped like me', scopes => ARRAY['user:manage']);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.rotate_api_key(:'worker_key_id');
\echo :LAST_ERROR_SQLSTATE
-- ... nor by a key for itself that is unscoped or wider than its scopes.
SELECT taskforce.create_api_key('lead', 'unscoped');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_api_key('lead', 'wider', scopes => ARRAY['agent:execute']);
\echo :LAST_ERROR_SQLSTATE
-- Within its scopes it still works: a key for itself as narrow as its
-- own, rotating its own key, and a password for a user holding nothing.
SELECT length(api_key) AS length
  FROM taskforce.create_api_key('lead', 'narrow', scopes => ARRAY['user:manage']);
SELECT length(api_key) AS length FROM taskforce.rotate_api_key(:'lead_key_id', overlap => '1 minute');
SELECT user_id FROM taskforce.create_user('temp', 'temp');
SELECT taskforce.set_password('temp', 'Temp-Passw0rd!1');
SELECT taskforce.clear_context();
-- Of the users with a password, none holds more than its setter: lead,
-- with its full grants, is not among them.
\c - postgres
SELECT user_id FROM taskforce.user_credentials WHERE tenant_id = 'esc-acme' ORDER BY user_id;
\c - esc_app

-- 3. A role manager cannot demote through role edits: not by emptying or
-- deleting the admin's custom role, nor by changing, deleting or revoking
-- a role held by boss, whom it could not manage, even one (reporting)
-- whose permissions it holds.
SELECT taskforce.authenticate_api_key(:'rolemgr_key', scope => 'session');
SELECT taskforce.update_role('tenant_admin', ARRAY['agent:read']);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('tenant_admin');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_role('reporting', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.revoke_role('boss', 'reporting');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('reporting');
\echo :LAST_ERROR_SQLSTATE
-- A role held only by users it may manage changes and goes; a description
-- alone takes nothing away from anyone.
\c - esc_admin
SELECT taskforce.revoke_role('worker', 'viewer', tenant_id => 'esc-acme');
\c - esc_app
SELECT taskforce.authenticate_api_key(:'rolemgr_key', scope => 'session');
SELECT role_name, permissions FROM taskforce.update_role('team', '{}');
SELECT role_name, description FROM taskforce.update_role('reporting', description => 'read agents');
SELECT taskforce.delete_role('team');
SELECT taskforce.clear_context();

-- Every role and grant of boss is intact.
\c - postgres
SELECT role_name, permissions FROM taskforce.roles WHERE tenant_id = 'esc-acme' ORDER BY role_name;
SELECT user_id, role_name FROM taskforce.role_grants WHERE tenant_id = 'esc-acme' ORDER BY user_id, role_name;
