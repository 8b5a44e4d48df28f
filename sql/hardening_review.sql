-- hardening_review: paths found in a security review of the 0.3.0
-- hardening, tried as an ordinary application role with a context from an
-- API key; keys are carried by \gset, never printed.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS rev_admin, rev_app;
CREATE ROLE rev_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE rev_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('rev-acme', 'Acme');
RESET client_min_messages;

-- boss administers the tenant (*) and also holds reporting; rolemgr holds
-- role:manage and agent:read, so it may grant reporting but not manage boss.
\c - rev_admin
SELECT role_name FROM taskforce.create_role('tenant_admin', ARRAY['*'], tenant_id => 'rev-acme');
SELECT role_name FROM taskforce.create_role('role_manager', ARRAY['role:manage', 'agent:read'], tenant_id => 'rev-acme');
SELECT role_name FROM taskforce.create_role('reporting', ARRAY['agent:read'], tenant_id => 'rev-acme');
SELECT role_name FROM taskforce.create_role('user_manager', ARRAY['user:manage'], tenant_id => 'rev-acme');
SELECT role_name FROM taskforce.create_role('pipeline', ARRAY['agent:read'], tenant_id => 'rev-acme');
SELECT count(*) FROM (VALUES ('boss'), ('rolemgr'), ('intern'), ('manager'), ('svc')) AS v(u),
       LATERAL taskforce.create_user(v.u, v.u, tenant_id => 'rev-acme');
SELECT count(*)
  FROM (VALUES ('boss', 'tenant_admin'), ('boss', 'reporting'), ('rolemgr', 'role_manager'),
               ('intern', 'reporting'), ('manager', 'user_manager')) AS v(u, r),
       LATERAL taskforce.grant_role(v.u, v.r, tenant_id => 'rev-acme');
SELECT api_key AS rolemgr_key FROM taskforce.create_api_key('rolemgr', 'rolemgr key', tenant_id => 'rev-acme') \gset
SELECT api_key AS manager_key FROM taskforce.create_api_key('manager', 'manager key', tenant_id => 'rev-acme') \gset
-- svc holds no grant; its key asserts tenant_admin (*) and pipeline.
SELECT key_id AS svc_key_id
  FROM taskforce.create_api_key('svc', 'svc key', roles => ARRAY['tenant_admin', 'pipeline'],
                                tenant_id => 'rev-acme') \gset

-- 1. Granting a role again replaces the grant, expiry included: a grant
-- that ends sooner takes the role away, so it needs what revoke_role
-- needs.  rolemgr may not revoke reporting from boss, nor make boss's
-- grant of it run out in a second.
\c - rev_app
SELECT taskforce.authenticate_api_key(:'rolemgr_key', scope => 'session');
SELECT taskforce.revoke_role('boss', 'reporting');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('boss', 'reporting', expires_at => now() + interval '1 second');
\echo :LAST_ERROR_SQLSTATE
-- A user it may manage, it may: intern's grant now ends in a day, and
-- extending it again takes nothing away.
SELECT user_id, role_name, expires_at IS NOT NULL AS expires
  FROM taskforce.grant_role('intern', 'reporting', expires_at => now() + interval '1 day');
SELECT user_id, role_name, expires_at IS NOT NULL AS expires
  FROM taskforce.grant_role('intern', 'reporting', expires_at => now() + interval '2 days');
SELECT taskforce.clear_context();
\c - postgres
SELECT user_id, role_name, expires_at IS NULL AS permanent FROM taskforce.role_grants
 WHERE tenant_id = 'rev-acme' ORDER BY user_id, role_name;

-- 2. What a user holds includes the roles its live API keys assert: svc's
-- key holds *, so a context holding only user:manage may not take it away
-- (revoke the key, deactivate or delete svc), and a role manager may not
-- empty or delete pipeline, which the key asserts.
\c - rev_app
SELECT taskforce.authenticate_api_key(:'manager_key', scope => 'session');
SELECT taskforce.revoke_api_key(:'svc_key_id');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.deactivate_user('svc');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_user('svc');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.clear_context();
SELECT taskforce.authenticate_api_key(:'rolemgr_key', scope => 'session');
SELECT taskforce.update_role('pipeline', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('pipeline');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.clear_context();
\c - postgres
SELECT u.user_id, u.status, k.name, k.roles, k.revoked_at IS NULL AS live
  FROM taskforce.users AS u JOIN taskforce.api_keys AS k USING (tenant_id, user_id)
 WHERE u.tenant_id = 'rev-acme' AND u.user_id = 'svc';
SELECT role_name, permissions FROM taskforce.roles WHERE tenant_id = 'rev-acme' AND role_name = 'pipeline';
