-- rbac: the system roles' permission matrix, custom roles and wildcards,
-- the permission catalog, expiring grants, role management through the
-- application role (tenant checks, no escalation), the checks themselves
-- and the cache behind them, tenant isolation of the identity tables, and
-- the security events role and user changes leave.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS rbac_app, rbac_admin;
-- The application connects as rbac_app; trusted middleware as rbac_admin,
-- which establishes a context with act_as and then works as rbac_app.
CREATE ROLE rbac_app LOGIN IN ROLE taskforce_app;
CREATE ROLE rbac_admin LOGIN IN ROLE taskforce_admin;
GRANT rbac_app TO rbac_admin;
SELECT count(*) FROM taskforce.create_tenant('rbac-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('rbac-globex', 'Globex');
RESET client_min_messages;

-- The permission matrix of the five system roles, computed from
-- taskforce.system_roles with permission_matches, rows in the order of
-- seed 001 Appendix A.  It is Appendix A, cell by cell, and the rows
-- taskforce added after it.
CREATE TEMP TABLE appendix_a AS
SELECT * FROM unnest(ARRAY[
    'agent:create', 'agent:read', 'agent:update', 'agent:delete', 'agent:execute',
    'session:create', 'session:read', 'session:delete', 'tool:execute', 'tool:read',
    'memory:read', 'memory:write', 'memory:delete', 'tenant:manage', 'user:manage',
    'role:manage', 'policy:manage', 'audit:read', 'system:config', 'system:metrics',
    -- Added by taskforce after Appendix A: evidence:write (0.5.0, operators);
    -- projects, teams and resource ACL administration (0.6.0, admin only);
    -- agent publishing (0.7.0, designers), workflows and releases (0.7.0,
    -- admin only).
    'evidence:write',
    'project:create', 'project:read', 'project:update', 'project:delete', 'project:manage_members',
    'team:create', 'team:read', 'team:update', 'team:delete', 'team:manage_members',
    'acl:manage', 'agent:publish', 'workflow:manage', 'release:manage'])
    WITH ORDINALITY AS v(permission, ord);
SELECT a.permission,
       max(c.cell) FILTER (WHERE c.role_name = 'admin') AS admin,
       max(c.cell) FILTER (WHERE c.role_name = 'agent_designer') AS agent_designer,
       max(c.cell) FILTER (WHERE c.role_name = 'operator') AS operator,
       max(c.cell) FILTER (WHERE c.role_name = 'auditor') AS auditor,
       max(c.cell) FILTER (WHERE c.role_name = 'viewer') AS viewer
  FROM appendix_a AS a
 CROSS JOIN LATERAL (
        SELECT s.role_name,
               CASE WHEN taskforce.permission_matches(s.permissions, a.permission)
                    THEN 'X' ELSE '' END AS cell
          FROM taskforce.system_roles AS s) AS c
 GROUP BY a.ord, a.permission
 ORDER BY a.ord;
-- The matrix is complete: the catalog's system permissions are exactly its
-- rows, and there are exactly its five system roles.
SELECT coalesce(a.permission, c.permission) AS permission,
       a.permission IS NULL AS missing_from_matrix, c.permission IS NULL AS missing_from_catalog
  FROM appendix_a AS a
  FULL JOIN (SELECT permission FROM taskforce.permissions WHERE is_system) AS c
    ON c.permission = a.permission
 WHERE a.permission IS NULL OR c.permission IS NULL;
SELECT role_name, description FROM taskforce.system_roles ORDER BY role_name;

-- One user of rbac-acme holding each system role, granted by an
-- administrator without a context, naming the tenant.
SELECT u.user_id, g.role_name, g.expires_at
  FROM (SELECT r.role_name FROM taskforce.system_roles AS r
         ORDER BY array_position(ARRAY['admin', 'agent_designer', 'operator', 'auditor', 'viewer'],
                                 r.role_name)) AS s,
       taskforce.create_user('holds-' || s.role_name, 'holds-' || s.role_name,
                             tenant_id => 'rbac-acme') AS u,
       taskforce.grant_role(u.user_id, s.role_name, tenant_id => 'rbac-acme') AS g
 ORDER BY u.user_id;

-- What each holds, as the application sees it: effective_permissions()
-- under the user's context (system permissions only, in its own order).
\c - rbac_admin
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'holds-admin');
SET LOCAL ROLE rbac_app;
SELECT current_user, string_agg(e.p, ' ' ORDER BY e.n) AS effective_permissions
  FROM taskforce.effective_permissions() WITH ORDINALITY AS e(p, n)
 WHERE e.p IN (SELECT permission FROM taskforce.permissions WHERE is_system);
COMMIT;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'holds-agent_designer');
SET LOCAL ROLE rbac_app;
SELECT string_agg(e.p, ' ' ORDER BY e.n) AS effective_permissions
  FROM taskforce.effective_permissions() WITH ORDINALITY AS e(p, n);
COMMIT;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'holds-operator');
SET LOCAL ROLE rbac_app;
SELECT string_agg(e.p, ' ' ORDER BY e.n) AS effective_permissions
  FROM taskforce.effective_permissions() WITH ORDINALITY AS e(p, n);
COMMIT;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'holds-auditor');
SET LOCAL ROLE rbac_app;
SELECT string_agg(e.p, ' ' ORDER BY e.n) AS effective_permissions
  FROM taskforce.effective_permissions() WITH ORDINALITY AS e(p, n);
COMMIT;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'holds-viewer');
SET LOCAL ROLE rbac_app;
SELECT string_agg(e.p, ' ' ORDER BY e.n) AS effective_permissions
  FROM taskforce.effective_permissions() WITH ORDINALITY AS e(p, n);
SELECT * FROM taskforce.effective_roles();
COMMIT;
-- The same matrix again, from the grants: has_permission(permission,
-- tenant, user), for administrators, differs from it nowhere.
SELECT count(*) AS cells,
       count(*) FILTER (WHERE taskforce.has_permission(c.permission, 'rbac-acme', 'holds-' || s.role_name)
                        IS DISTINCT FROM taskforce.permission_matches(s.permissions, c.permission)) AS differing
  FROM taskforce.permissions AS c, taskforce.system_roles AS s
 WHERE c.is_system;
\c - postgres

-- Patterns: resource:action, resource:*, *:action, *:* and *.
SELECT p AS pattern, taskforce.is_permission_pattern(p) AS valid
  FROM unnest(ARRAY['agent:read', 'agent:*', '*:read', '*:*', '*', 'report_v2:export',
                    'agent', 'Agent:read', 'agent:re ad', '**', 'agent:*:x', '',
                    ':read', 'agent:', '*agent:read', 'agent:read*', '2fa:read',
                    repeat('a', 63) || ':read', repeat('a', 64) || ':read']) AS p;
SELECT pattern, permission, taskforce.permission_matches(ARRAY[pattern], permission) AS matches
  FROM (VALUES ('agent:*', 'agent:execute'), ('agent:*', 'agents:read'),
               ('*:read', 'memory:read'), ('*:read', 'memory:write'),
               ('*:*', 'tool:execute'), ('*', 'system:config'),
               ('agent:read', 'agent:read'), ('agent:read', 'agent:reader'),
               ('agent:rea', 'agent:read')) AS v(pattern, permission);
SELECT taskforce.permission_matches(ARRAY['session:read', 'tool:*'], 'tool:execute') AS any_pattern,
       taskforce.permission_matches('{}', 'tool:execute') AS no_pattern,
       taskforce.permission_matches(ARRAY[NULL, 'tool:*'], 'tool:execute') AS null_skipped;

-- Custom roles with wildcards grant every catalog permission they match.
SELECT role_name, permissions
  FROM taskforce.create_role('agents-all', ARRAY['agent:*'], tenant_id => 'rbac-acme');
SELECT role_name, permissions
  FROM taskforce.create_role('reader', ARRAY['*:read'], tenant_id => 'rbac-acme');
SELECT role_name, permissions
  FROM taskforce.create_role('everything', ARRAY['*'], tenant_id => 'rbac-acme');
-- The seed's own example of a custom role (section 3.3).
SELECT role_name, permissions, description, metadata
  FROM taskforce.create_role('custom:data_analyst',
        ARRAY['agent:read', 'agent:execute', 'session:create', 'session:read', 'memory:read'],
        'Can execute data analysis agents and view results',
        '{"created_by": "admin@acme.com", "department": "Analytics"}', 'rbac-acme');
SELECT count(*) FROM (VALUES ('wild-agents', 'agents-all'), ('wild-reader', 'reader'),
                             ('wild-all', 'everything'), ('analyst', 'custom:data_analyst')) AS v(u, r),
       taskforce.create_user(v.u, v.u, tenant_id => 'rbac-acme') AS cu,
       taskforce.grant_role(v.u, v.r, tenant_id => 'rbac-acme') AS g;
\c - rbac_admin
SELECT a.permission,
       CASE WHEN taskforce.has_permission(a.permission, 'rbac-acme', 'wild-agents') THEN 'X' ELSE '' END AS "agent:*",
       CASE WHEN taskforce.has_permission(a.permission, 'rbac-acme', 'wild-reader') THEN 'X' ELSE '' END AS "*:read",
       CASE WHEN taskforce.has_permission(a.permission, 'rbac-acme', 'wild-all') THEN 'X' ELSE '' END AS "*",
       CASE WHEN taskforce.has_permission(a.permission, 'rbac-acme', 'analyst') THEN 'X' ELSE '' END AS data_analyst
  FROM (VALUES
    ('agent:create'), ('agent:read'), ('agent:update'), ('agent:delete'),
    ('agent:execute'), ('session:create'), ('session:read'), ('session:delete'),
    ('tool:execute'), ('tool:read'), ('memory:read'), ('memory:write'),
    ('memory:delete'), ('tenant:manage'), ('user:manage'), ('role:manage'),
    ('policy:manage'), ('audit:read'), ('system:config'), ('system:metrics'))
    AS a(permission);
\c - postgres

-- A role's patterns are checked: malformed ones and unknown permissions are
-- refused (invalid_parameter_value), and nothing is created.
SELECT taskforce.create_role('bad', ARRAY['agent'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('bad', ARRAY['Agent:read'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('bad', ARRAY['agent:re ad'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('bad', ARRAY['**'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('bad', ARRAY['agent:*:x'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('bad', ARRAY['agent:read', NULL], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('bad', ARRAY['agent:fly'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('bad', NULL, tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT role_name, permissions
  FROM taskforce.update_role('reader', ARRAY['*:read', 'agent:fly'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('Bad', ARRAY['agent:read'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS bad_roles FROM taskforce.roles WHERE lower(role_name) = 'bad';
SELECT permissions AS reader_unchanged FROM taskforce.roles
 WHERE tenant_id = 'rbac-acme' AND role_name = 'reader';

-- Checks take permissions, not patterns, and only catalog permissions:
-- anything else is a mistake in the caller (invalid_parameter_value),
-- with or without a context.  Null in, null out.
\c - rbac_app
SELECT taskforce.has_permission('agent:*');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.has_permission('*');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.has_permission('agent');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.has_permission('agent:fly');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.require_permission('agent:fly');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.require_permission(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.has_permission(NULL) IS NULL AS null_permission;
\c - rbac_admin
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'holds-admin');
SET LOCAL ROLE rbac_app;
SELECT taskforce.has_permission('agent:fly');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'holds-admin');
SET LOCAL ROLE rbac_app;
SELECT * FROM taskforce.explain_permission('agent:*');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT taskforce.has_permission('agent:*', 'rbac-acme', 'holds-admin');
\echo :LAST_ERROR_SQLSTATE

-- The catalog grows by register_permission, for administrators: a new
-- permission can be granted at once, and '*' covers it.
SELECT taskforce.register_permission('report:export', 'export reports');
SELECT permission, description, is_system FROM taskforce.permissions WHERE permission = 'report:export';
SELECT taskforce.register_permission('report:export', 'again');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.register_permission('Report:Export', 'bad');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.register_permission('report:*', 'bad');
\echo :LAST_ERROR_SQLSTATE
SELECT role_name, permissions
  FROM taskforce.create_role('exporter', ARRAY['report:export'], tenant_id => 'rbac-acme');
SELECT user_id, role_name FROM taskforce.grant_role('analyst', 'exporter', tenant_id => 'rbac-acme');
SELECT u AS user_id, taskforce.has_permission('report:export', 'rbac-acme', u) AS report_export
  FROM unnest(ARRAY['analyst', 'wild-all', 'holds-admin', 'wild-reader', 'holds-viewer']) AS u;
-- While a role names it, it stays (dependent_objects_still_exist); system
-- permissions never go (invalid_parameter_value).
SELECT taskforce.unregister_permission('report:export');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.unregister_permission('agent:read');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.unregister_permission('report:print');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('exporter', 'rbac-acme');
SELECT taskforce.unregister_permission('report:export');
SELECT count(*) AS still_registered FROM taskforce.permissions WHERE permission = 'report:export';
SELECT taskforce.has_permission('report:export', 'rbac-acme', 'wild-all');
\echo :LAST_ERROR_SQLSTATE
-- The application cannot change the catalog.
\c - rbac_app
SELECT taskforce.register_permission('report:export', 'export reports');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.unregister_permission('memory:delete');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO taskforce.permissions (permission, description) VALUES ('report:export', 'x');
\echo :LAST_ERROR_SQLSTATE
\c - postgres

-- Custom roles belong to one tenant: the same name means different things
-- in two tenants, and one tenant's role cannot be used in another.
SELECT tenant_id, role_name, permissions
  FROM taskforce.create_role('support', ARRAY['session:read'], tenant_id => 'rbac-acme');
SELECT tenant_id, role_name, permissions
  FROM taskforce.create_role('support', ARRAY['session:read', 'session:delete'], tenant_id => 'rbac-globex');
SELECT tenant_id, role_name, permissions
  FROM taskforce.create_role('globex-only', ARRAY['memory:read'], tenant_id => 'rbac-globex');
SELECT count(*) FROM (VALUES ('rbac-acme', 'sam'), ('rbac-globex', 'gus')) AS v(t, u),
       taskforce.create_user(v.u, v.u, tenant_id => v.t) AS cu,
       taskforce.grant_role(v.u, 'support', tenant_id => v.t) AS g;
\c - rbac_admin
SELECT t AS tenant_id, u AS user_id,
       taskforce.has_permission('session:read', t, u) AS session_read,
       taskforce.has_permission('session:delete', t, u) AS session_delete
  FROM (VALUES ('rbac-acme', 'sam'), ('rbac-globex', 'gus')) AS v(t, u);
SELECT taskforce.grant_role('sam', 'globex-only', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_role('globex-only', ARRAY['agent:read'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('globex-only', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
-- Asserted by a credential for the wrong tenant, it grants nothing either.
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'sam', ARRAY['globex-only', 'no-such-role']);
SET LOCAL ROLE rbac_app;
SELECT taskforce.has_permission('memory:read') AS memory_read;
SELECT * FROM taskforce.effective_roles();
COMMIT;
-- System roles cannot be changed, deleted or shadowed; names are unique
-- within a tenant and well-formed.
SELECT taskforce.update_role('admin', ARRAY['agent:read'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_role('viewer', description => 'mine', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('viewer', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('operator', ARRAY['agent:read'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('support', ARRAY['agent:read'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_role('no-such-role', ARRAY['agent:read'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('sam', 'no-such-role', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('gus', 'viewer', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.revoke_role('sam', 'viewer', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT role_name, permissions FROM taskforce.system_roles WHERE role_name IN ('admin', 'viewer')
 ORDER BY role_name;
-- Without a context an administrator must name the tenant, an existing one.
SELECT taskforce.create_role('x', ARRAY['agent:read']);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('x', ARRAY['agent:read'], tenant_id => 'rbac-nowhere');
\echo :LAST_ERROR_SQLSTATE

-- Grants may expire: an expiry in the past is refused ...
SELECT taskforce.grant_role('sam', 'auditor', now(), 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('sam', 'auditor', now() - interval '1 day', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
-- ... and one in the future ends by itself: the same session, holding the
-- answer in its cache, says no once the time has passed, with nothing else
-- changed in between.
BEGIN;
SELECT user_id, role_name, expires_at - granted_at AS lifetime
  FROM taskforce.grant_role('sam', 'auditor', now() + interval '3 seconds', 'rbac-acme');
COMMIT;
SELECT taskforce.act_as('rbac-acme', 'sam', scope => 'session');
SET ROLE rbac_app;
SELECT taskforce.has_permission('audit:read') AS before_expiry;
SELECT role_name, source, expires_at IS NOT NULL AS expires FROM taskforce.effective_roles();
SELECT pg_sleep_until(expires_at + interval '100 milliseconds') FROM taskforce.role_grants
 WHERE user_id = 'sam' AND role_name = 'auditor';
SELECT taskforce.has_permission('audit:read') AS after_expiry;
SELECT role_name, source, expires_at IS NOT NULL AS expires FROM taskforce.effective_roles();
SELECT allowed, reason FROM taskforce.explain_permission('audit:read');
RESET ROLE;
SELECT taskforce.clear_context();
SELECT taskforce.has_permission('audit:read', 'rbac-acme', 'sam') AS expired_for_admin_check;
-- Granting again without an expiry makes the grant permanent.
SELECT user_id, role_name, expires_at FROM taskforce.grant_role('sam', 'auditor', tenant_id => 'rbac-acme');
SELECT taskforce.has_permission('audit:read', 'rbac-acme', 'sam') AS regranted;
SELECT taskforce.revoke_role('sam', 'auditor', 'rbac-acme');

-- Caches never outlive a rollback: a grant rolled back, wholly or to a
-- savepoint, is gone from this session's answers at once.
BEGIN;
SELECT taskforce.has_permission('audit:read', 'rbac-acme', 'sam') AS before_grant;
SAVEPOINT s;
SELECT role_name FROM taskforce.grant_role('sam', 'auditor', tenant_id => 'rbac-acme');
SELECT taskforce.has_permission('audit:read', 'rbac-acme', 'sam') AS granted;
ROLLBACK TO SAVEPOINT s;
SELECT taskforce.has_permission('audit:read', 'rbac-acme', 'sam') AS after_savepoint_rollback;
SELECT role_name FROM taskforce.grant_role('sam', 'auditor', tenant_id => 'rbac-acme');
SELECT taskforce.has_permission('audit:read', 'rbac-acme', 'sam') AS granted_again;
ROLLBACK;
SELECT taskforce.has_permission('audit:read', 'rbac-acme', 'sam') AS after_rollback;

-- Users for the management tests: an admin, an operator, a role manager
-- who may read agents and nothing else, and a user with no role.
\c - postgres
SELECT role_name, permissions
  FROM taskforce.create_role('role-admin', ARRAY['role:manage', 'agent:read'], tenant_id => 'rbac-acme');
SELECT count(*) FROM (VALUES ('boss', 'admin'), ('oscar', 'operator'), ('rita', 'role-admin')) AS v(u, r),
       taskforce.create_user(v.u, v.u, tenant_id => 'rbac-acme') AS cu,
       taskforce.grant_role(v.u, v.r, tenant_id => 'rbac-acme') AS g;
SELECT user_id FROM taskforce.create_user('nora', 'nora', tenant_id => 'rbac-acme');

-- The application without a context: every management call is refused
-- (insufficient_privilege), as are direct writes and the internals.
\c - rbac_app
SELECT taskforce.has_permission('agent:read') AS without_context;
SELECT taskforce.require_permission('agent:read');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_user('mallory', 'mallory', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_user('mallory', 'mallory');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_user('sam', 'samuel', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.deactivate_user('sam', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.reactivate_user('sam', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_user('sam', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('mine', ARRAY['*'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_role('support', ARRAY['*'], tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('support', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('sam', 'admin', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.revoke_role('sam', 'support', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.explain_permission('agent:read', 'sam', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.has_permission('agent:read', 'rbac-acme', 'sam');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.act_as('rbac-acme', 'boss');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce._permission_sources('rbac-acme', 'boss', NULL);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO taskforce.role_grants (tenant_id, user_id, role_name, granted_by)
VALUES ('rbac-acme', 'sam', 'admin', 'sam');
\echo :LAST_ERROR_SQLSTATE
UPDATE taskforce.roles SET permissions = '{*}' WHERE role_name = 'support';
\echo :LAST_ERROR_SQLSTATE
-- Nothing of any tenant is visible without a context.
SELECT (SELECT count(*) FROM taskforce.users) AS users,
       (SELECT count(*) FROM taskforce.roles) AS roles,
       (SELECT count(*) FROM taskforce.role_grants) AS role_grants;
-- explain_permission says why.
SELECT * FROM taskforce.explain_permission('agent:read');

-- With the context of a tenant admin, the application manages users, roles
-- and grants of its own tenant.  The middleware establishes the context,
-- then hands over to the application role.
\c - rbac_admin
SELECT taskforce.act_as('rbac-acme', 'boss', scope => 'session');
SET ROLE rbac_app;
SELECT current_user, taskforce.current_tenant(), taskforce.current_user_id();
SELECT tenant_id, user_id, username, email, kind, status
  FROM taskforce.create_user('carol', 'carol', 'carol@acme.example');
SELECT tenant_id, user_id, username, kind
  FROM taskforce.create_user('etl-bot', 'etl-bot', kind => 'service');
SELECT tenant_id, role_name, permissions
  FROM taskforce.create_role('helpdesk', ARRAY['session:read', 'session:delete'], 'first line support');
SELECT tenant_id, user_id, role_name, granted_by, expires_at FROM taskforce.grant_role('carol', 'helpdesk');
SELECT * FROM taskforce.explain_permission('session:delete', 'carol');
SELECT user_id, username, email FROM taskforce.update_user('carol', email => 'carol@acme.test');
SELECT role_name, permissions, description FROM taskforce.update_role('helpdesk', ARRAY['session:read']);
SELECT allowed, reason FROM taskforce.explain_permission('session:delete', 'carol');
SELECT taskforce.revoke_role('carol', 'helpdesk');
SELECT taskforce.revoke_role('carol', 'helpdesk');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('helpdesk');
SELECT taskforce.delete_user('etl-bot');
-- Naming another tenant is refused, admin or not; the other tenant's users
-- and roles do not exist here.
SELECT taskforce.create_user('x', 'x', tenant_id => 'rbac-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('gus', 'viewer', tenant_id => 'rbac-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.deactivate_user('gus', tenant_id => 'rbac-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_role('globex-only', 'rbac-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.explain_permission('agent:read', 'gus', 'rbac-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('gus', 'viewer');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('carol', 'globex-only');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_role('admin', ARRAY['agent:read']);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('support', ARRAY['agent:read']);
\echo :LAST_ERROR_SQLSTATE
-- Tenant isolation of the identity tables: only rbac-acme's rows.
SELECT tenant_id, count(*) AS users FROM taskforce.users GROUP BY tenant_id;
SELECT tenant_id, role_name, permissions FROM taskforce.roles ORDER BY role_name;
SELECT tenant_id, count(*) AS role_grants FROM taskforce.role_grants GROUP BY tenant_id;
SELECT count(*) AS gus_visible FROM taskforce.users WHERE user_id = 'gus';
RESET ROLE;
SELECT taskforce.clear_context();
-- And only rbac-globex's in a context of rbac-globex.
BEGIN;
SELECT taskforce.act_as('rbac-globex', 'gus');
SET LOCAL ROLE rbac_app;
SELECT tenant_id, user_id FROM taskforce.users ORDER BY user_id;
SELECT tenant_id, role_name, permissions FROM taskforce.roles ORDER BY role_name;
SELECT tenant_id, user_id, role_name FROM taskforce.role_grants ORDER BY user_id, role_name;
COMMIT;

-- An operator manages nothing: the error names the permission it lacks.
SELECT taskforce.act_as('rbac-acme', 'oscar', scope => 'session');
SET ROLE rbac_app;
SELECT taskforce.has_permission('agent:execute') AS agent_execute,
       taskforce.has_permission('user:manage') AS user_manage;
SELECT taskforce.create_user('mallory', 'mallory');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.deactivate_user('boss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.grant_role('oscar', 'admin');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('mine', ARRAY['agent:read']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.explain_permission('agent:read', 'boss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.require_permission('agent:execute');
SELECT taskforce.require_permission('user:manage');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT taskforce.clear_context();

-- No escalation: a role manager hands out only permissions it holds itself.
SELECT taskforce.act_as('rbac-acme', 'rita', scope => 'session');
SET ROLE rbac_app;
SELECT * FROM taskforce.effective_permissions();
SELECT 'cannot hand out permissions you do not hold: '
       || string_agg(permission, ', ' ORDER BY permission) AS all_rita_lacks
  FROM taskforce.permissions WHERE permission NOT IN ('agent:read', 'role:manage') \gset
-- What it holds, it may give.
SELECT role_name, permissions FROM taskforce.create_role('agent-readers', ARRAY['agent:read']);
SELECT user_id, role_name, granted_by FROM taskforce.grant_role('carol', 'agent-readers');
-- Not more: a system role, a wildcard role, or a wider version of its own role.
SELECT taskforce.grant_role('carol', 'viewer');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('agent-admins', ARRAY['agent:*']);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_role('agent-readers', ARRAY['agent:read', 'memory:read']);
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY sqlstate
SELECT taskforce.grant_role('carol', 'admin');
\set VERBOSITY default
SELECT :'LAST_ERROR_MESSAGE' = :'all_rita_lacks' AS names_all_it_lacks;
\set VERBOSITY sqlstate
SELECT taskforce.grant_role('rita', 'admin');
\set VERBOSITY default
SELECT :'LAST_ERROR_MESSAGE' = :'all_rita_lacks' AS names_all_it_lacks;
\set VERBOSITY sqlstate
SELECT taskforce.create_role('root', ARRAY['*']);
\set VERBOSITY default
SELECT :'LAST_ERROR_MESSAGE' = :'all_rita_lacks' AS names_all_it_lacks;
\set VERBOSITY sqlstate
SELECT taskforce.update_role('role-admin', ARRAY['*']);
\set VERBOSITY default
SELECT :'LAST_ERROR_MESSAGE' = :'all_rita_lacks' AS names_all_it_lacks;
-- Wildcards also grant permissions registered later, so one that matches
-- nothing in the catalog yet is refused unless a held pattern covers it.
SELECT count(*) AS registered FROM taskforce.permissions
 WHERE permission LIKE 'futurething:%' OR permission LIKE '%:futureaction';
SELECT taskforce.create_role('future', ARRAY['futurething:*']);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_role('future', ARRAY['*:futureaction']);
\echo :LAST_ERROR_SQLSTATE
-- Nothing changed.
SELECT role_name, permissions FROM taskforce.roles
 WHERE role_name IN ('role-admin', 'agent-readers') ORDER BY role_name;
SELECT user_id, role_name FROM taskforce.role_grants
 WHERE user_id IN ('carol', 'rita') ORDER BY user_id, role_name;
-- A role manager is no user manager.
SELECT taskforce.create_user('mallory', 'mallory');
\echo :LAST_ERROR_SQLSTATE
-- Nor can it demote someone who holds more than it does; what it could
-- give, it may take away.
\set VERBOSITY sqlstate
SELECT taskforce.revoke_role('boss', 'admin');
\set VERBOSITY default
SELECT :'LAST_ERROR_MESSAGE' = :'all_rita_lacks' AS names_all_it_lacks;
SELECT taskforce.revoke_role('carol', 'agent-readers');
SELECT user_id, role_name FROM taskforce.role_grants
 WHERE user_id IN ('boss', 'carol') ORDER BY user_id, role_name;
RESET ROLE;
SELECT taskforce.clear_context();

-- explain_permission: allowed through a granted role, allowed through a
-- role the credential asserted, denied with roles, denied without any.
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'boss');
SET LOCAL ROLE rbac_app;
SELECT * FROM taskforce.explain_permission('system:config');
COMMIT;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'nora', ARRAY['auditor']);
SET LOCAL ROLE rbac_app;
SELECT * FROM taskforce.explain_permission('audit:read');
SELECT * FROM taskforce.effective_roles();
SELECT * FROM taskforce.explain_permission('memory:write');
COMMIT;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'oscar');
SET LOCAL ROLE rbac_app;
SELECT * FROM taskforce.explain_permission('user:manage');
COMMIT;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'nora');
SET LOCAL ROLE rbac_app;
SELECT * FROM taskforce.explain_permission('agent:read');
SELECT taskforce.require_permission('agent:read');
\echo :LAST_ERROR_SQLSTATE
COMMIT;

-- A deactivated user holds nothing, whatever its grants or its credential
-- asserts; reactivated, it holds its grants again.  The session that
-- checks is the same throughout.
SELECT user_id, status FROM taskforce.deactivate_user('oscar', 'left the company', 'rbac-acme');
SELECT taskforce.deactivate_user('oscar', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.has_permission('agent:read', 'rbac-acme', 'oscar') AS deactivated;
-- No context can be established for it, not even by act_as.
SELECT taskforce.act_as('rbac-acme', 'oscar', ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.explain_permission('agent:read', 'oscar', 'rbac-acme');
SELECT user_id, status FROM taskforce.reactivate_user('oscar', 'rbac-acme');
SELECT taskforce.reactivate_user('oscar', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.has_permission('agent:read', 'rbac-acme', 'oscar') AS reactivated;
BEGIN;
SELECT taskforce.act_as('rbac-acme', 'oscar');
SET LOCAL ROLE rbac_app;
SELECT taskforce.has_permission('agent:read') AS agent_read;
COMMIT;
-- Deleting a user deletes its grants; it cannot be granted anything after.
\c - postgres
SELECT count(*) AS grants_before FROM taskforce.role_grants
 WHERE tenant_id = 'rbac-acme' AND user_id = 'wild-reader';
SELECT taskforce.delete_user('wild-reader', 'rbac-acme');
SELECT count(*) AS grants_after FROM taskforce.role_grants
 WHERE tenant_id = 'rbac-acme' AND user_id = 'wild-reader';
SELECT taskforce.has_permission('agent:read', 'rbac-acme', 'wild-reader') AS deleted;
SELECT taskforce.grant_role('wild-reader', 'viewer', tenant_id => 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_user('wild-reader', 'rbac-acme');
\echo :LAST_ERROR_SQLSTATE

-- No stored configuration crashes a permission check.  The permission
-- arrays the cache reads hold no NULL: the constraints refuse one even to
-- the superuser ...
\c - postgres
\set VERBOSITY terse
UPDATE taskforce.system_roles SET permissions = permissions || NULL::text WHERE role_name = 'viewer';
\echo :LAST_ERROR_SQLSTATE
INSERT INTO taskforce.roles (tenant_id, role_name, permissions) VALUES ('rbac-acme', 'holey', ARRAY[NULL, 'agent:read']);
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
-- ... and with the constraints gone, a NULL pattern grants nothing and
-- breaks nothing: the checks answer (0.2.0 crashed the server here).
BEGIN;
ALTER TABLE taskforce.system_roles DROP CONSTRAINT system_roles_permissions_no_null;
ALTER TABLE taskforce.roles DROP CONSTRAINT roles_permissions_no_null;
UPDATE taskforce.system_roles SET permissions = NULL::text || permissions WHERE role_name = 'viewer';
INSERT INTO taskforce.roles (tenant_id, role_name, permissions) VALUES ('rbac-acme', 'holey', ARRAY[NULL, 'memory:delete', NULL]);
SELECT taskforce.act_as('rbac-acme', 'nora', ARRAY['holey', 'viewer']);
SET LOCAL ROLE rbac_app;
SELECT taskforce.has_permission('memory:delete') AS memory_delete,
       taskforce.has_permission('tool:read') AS tool_read,
       taskforce.has_permission('system:config') AS system_config;
SELECT count(*) > 0 AS has_effective_permissions FROM taskforce.effective_permissions();
ROLLBACK;

-- The security events of these changes, each with the actor: the context's
-- user, or else the database role.
SELECT event, tenant_id, user_id, outcome,
       CASE WHEN actor = session_user THEN '(superuser)' ELSE actor END AS actor,
       details->>'role' AS role, reason
  FROM taskforce.security_events
 WHERE tenant_id LIKE 'rbac-%'
 ORDER BY event_id;

-- No context is left behind.
SELECT taskforce.current_tenant() IS NULL AS no_context;
