-- acl: resource ACLs (issue 10) as an application uses them: seed 001
-- §5.1's worked example, every cell of the decision table, the policy gate,
-- expiring grants, grant delegation limits, bad input, protect_table
-- composed with tenant isolation, "what may I access" against check_access,
-- and the audit of access.  Checks run as an ordinary application role
-- (acl_app) in a context the middleware role (acl_admin) establishes with
-- act_as; administration without a context names the tenant.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS acl_app, acl_admin;
CREATE ROLE acl_app LOGIN IN ROLE taskforce_app;
CREATE ROLE acl_admin LOGIN IN ROLE taskforce_admin;
GRANT acl_app TO acl_admin;
SELECT count(*) FROM taskforce.create_tenant('acl-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('acl-other', 'Other Corp');
SELECT count(*) AS users
  FROM (VALUES ('acl-acme', ARRAY['alice', 'bob', 'charlie', 'david',
                                  'mx-owner', 'mx-granted', 'mx-analyst', 'mx-member', 'mx-outsider',
                                  'mx-teammate', 'mx-lead',
                                  'dl-share', 'dl-admin', 'dl-temp', 'dl-reader', 'dl-strong', 'dl-target',
                                  'dl-manager']),
               ('acl-other', ARRAY['eve', 'mx-stranger'])) AS v(t, users),
       unnest(v.users) AS u, taskforce.create_user(u, u, tenant_id => v.t) AS c;
SELECT count(*) AS roles
  FROM (VALUES ('data_analyst', '{memory:read}'::text[]), ('mx_reader', '{memory:read}'),
               ('acl_manager', '{acl:manage}')) AS v(r, p),
       taskforce.create_role(v.r, v.p, tenant_id => 'acl-acme') AS c;
SELECT count(*) AS role_grants
  FROM (VALUES ('david', 'data_analyst'), ('mx-analyst', 'mx_reader'),
               ('dl-manager', 'acl_manager')) AS v(u, r),
       taskforce.grant_role(v.u, v.r, tenant_id => 'acl-acme') AS g;
-- The decision table's dimensions, and where each relation's cells go.
CREATE TABLE public.acl_scopes (scope, n) AS
    VALUES ('global', 1), ('tenant', 2), ('project', 3), ('session', 4), ('private', 5);
CREATE TABLE public.acl_levels (sensitivity, n) AS
    VALUES ('public', 1), ('internal', 2), ('confidential', 3), ('restricted', 4);
CREATE TABLE public.acl_cells (relation text, scope text, sensitivity text, permission text,
                               cell text, db_role name);
GRANT SELECT ON public.acl_scopes, public.acl_levels TO acl_app, acl_admin;
GRANT SELECT, INSERT ON public.acl_cells TO acl_app, acl_admin;

-- One cell of the decision table for the current context: + or - (allowed
-- or not) and the rule that decided, from check_access and explain_access,
-- which must agree; a resource of another tenant cannot be named (42704).
CREATE FUNCTION public.acl_cell(resource text, permission text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
    e record;
BEGIN
    BEGIN
        ok := taskforce.check_access(resource, permission);
    EXCEPTION WHEN undefined_object THEN
        BEGIN
            PERFORM taskforce.explain_access(resource, permission);
            RETURN 'MISMATCH: check_access 42704, explain_access not';
        EXCEPTION WHEN undefined_object THEN
            RETURN '-42704';
        END;
    END;
    SELECT * INTO e FROM taskforce.explain_access(resource, permission);
    RETURN CASE WHEN ok IS DISTINCT FROM e.allowed THEN 'MISMATCH ' ELSE '' END
           || CASE WHEN ok THEN '+' ELSE '-' END || e.rule;
END
$$;
RESET client_min_messages;

-- 1. Seed 001 §5.1, step by step.  alice, in her context, puts her
-- conversation under an ACL (INTERNAL, TENANT scope).
\c - acl_admin
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT resource_id, resource_type, owner_id, tenant_id, sensitivity, scope, default_permissions
  FROM taskforce.create_acl('memory-conv-12345', 'conversation', 'internal', 'tenant');
-- The owner has every permission.
SELECT current_user, taskforce.check_access('memory-conv-12345', 'read') AS owner_can_read,
       taskforce.check_access('memory-conv-12345', 'admin') AS owner_can_admin,
       taskforce.resource_permissions('memory-conv-12345') AS owner_holds;
-- bob, another user of the tenant, reads it (INTERNAL + TENANT), no more.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.check_access('memory-conv-12345', 'read') AS bob_can_read,
       taskforce.check_access('memory-conv-12345', 'write') AS bob_can_write,
       taskforce.resource_permissions('memory-conv-12345') AS bob_holds;
SELECT * FROM taskforce.explain_access('memory-conv-12345', 'read');
-- alice grants charlie read and write, and the data_analyst role read and
-- reference.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT principal_type, principal_id, permissions, granted_by, expires_at
  FROM taskforce.grant_access('memory-conv-12345', 'user', 'charlie', '{read,write}');
SELECT principal_type, principal_id, permissions, granted_by, expires_at
  FROM taskforce.grant_access('memory-conv-12345', 'role', 'data_analyst', '{read,reference}');
-- charlie writes through his grant.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'charlie', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.check_access('memory-conv-12345', 'write') AS charlie_can_write,
       taskforce.check_access('memory-conv-12345', 'delete') AS charlie_can_delete,
       taskforce.resource_permissions('memory-conv-12345') AS charlie_holds;
SELECT * FROM taskforce.explain_access('memory-conv-12345', 'write');
-- "List all resources a user can access": charlie's, per permission.
SELECT p.permission, r.tenant_id, r.resource_id, r.resource_type, r.owner_id, r.sensitivity, r.scope
  FROM unnest(ARRAY['read', 'write', 'delete', 'reference', 'share', 'admin']) WITH ORDINALITY AS p(permission, n),
       taskforce.accessible_resources(p.permission) AS r
 WHERE r.tenant_id IN ('acl-acme', 'acl-other')
 ORDER BY p.n, r.resource_id;
-- david holds data_analyst (a role grant): he reads through the role's grant.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'david', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.check_access('memory-conv-12345', 'read') AS analyst_can_read,
       taskforce.check_access('memory-conv-12345', 'write') AS analyst_can_write,
       taskforce.resource_permissions('memory-conv-12345') AS analyst_holds;
SELECT * FROM taskforce.explain_access('memory-conv-12345', 'reference');
-- eve, of other-corp, even asserting admin, cannot name the resource: the
-- same 42704 as for a resource that does not exist (no existence leak).
RESET ROLE;
SELECT FROM taskforce.act_as('acl-other', 'eve', ARRAY['admin'], scope => 'session');
SET ROLE acl_app;
SELECT taskforce.check_access('memory-conv-12345', 'read') AS other_tenant_read;
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.check_access('memory-conv-no-such', 'read') AS no_such_resource;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.explain_access('memory-conv-12345', 'read');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS eve_sees_acls FROM taskforce.resource_acls;
SELECT count(*) AS eve_accessible FROM taskforce.accessible_resources('read') WHERE resource_id = 'memory-conv-12345';
-- Without a context nothing is allowed, for the application role.
RESET ROLE;
SELECT taskforce.clear_context();
SET ROLE acl_app;
SELECT taskforce.check_access('memory-conv-12345', 'read') AS without_context,
       taskforce.resource_permissions('memory-conv-12345') AS holds_without_context,
       (SELECT count(*) FROM taskforce.accessible_resources('read')) AS accessible_without_context;
SELECT * FROM taskforce.explain_access('memory-conv-12345', 'read');
-- The administrator asks for a named user, naming the tenant.
RESET ROLE;
SELECT u AS user_id, taskforce.check_access('memory-conv-12345', 'write', u, 'acl-acme') AS can_write,
       e.allowed AS can_reference, e.rule, e.detail
  FROM unnest(ARRAY['alice', 'bob', 'charlie', 'david']) AS u,
       taskforce.explain_access('memory-conv-12345', 'reference', u, 'acl-acme') AS e
 ORDER BY u;

-- 2. The decision table, every cell.  One resource per scope and
-- sensitivity, owned by mx-owner, default permissions {read}; on each, a
-- user grant of write to mx-granted and a role grant of read and reference
-- to mx_reader (held by mx-analyst).  mx-member is a member of project
-- mx-proj and takes part in session mx-sess (the audiences of the project
-- and session resources); mx-outsider is a user of the tenant and nothing
-- more; mx-stranger is a user of another tenant.  read is a default
-- permission, write is not.
\c - postgres
INSERT INTO taskforce.teams (tenant_id, team_id, name) VALUES ('acl-acme', 'mx-team', 'Matrix team');
INSERT INTO taskforce.team_members (tenant_id, team_id, user_id, added_by)
VALUES ('acl-acme', 'mx-team', 'mx-teammate', 'setup');
INSERT INTO taskforce.projects (tenant_id, project_id, name, owner_id, team_id)
VALUES ('acl-acme', 'mx-proj', 'Matrix', 'mx-lead', 'mx-team');
INSERT INTO taskforce.project_members (tenant_id, project_id, user_id, added_by)
VALUES ('acl-acme', 'mx-proj', 'mx-member', 'setup');
\c - acl_admin
SELECT session_id, user_id, added_by FROM taskforce.add_session_participant('mx-sess', 'mx-member', 'acl-acme');
SELECT count(*) AS matrix_resources
  FROM acl_scopes AS s, acl_levels AS l,
       taskforce.create_acl('acl-mx-' || s.scope || '-' || l.sensitivity, 'document', l.sensitivity, s.scope,
                            project_id => CASE s.scope WHEN 'project' THEN 'mx-proj' END,
                            session_id => CASE s.scope WHEN 'session' THEN 'mx-sess' END,
                            owner_id => 'mx-owner', tenant_id => 'acl-acme') AS a;
SELECT count(*) AS matrix_grants
  FROM acl_scopes AS s, acl_levels AS l,
       (VALUES ('user', 'mx-granted', '{write}'::text[]), ('role', 'mx_reader', '{read,reference}')) AS g(t, p, perms),
       taskforce.grant_access('acl-mx-' || s.scope || '-' || l.sensitivity, g.t, g.p, g.perms,
                              tenant_id => 'acl-acme') AS x;
-- Each relation's cells, computed by the application role in that user's
-- context.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES ('owner', 'acl-acme', 'mx-owner'), ('user_grant', 'acl-acme', 'mx-granted'),
                                   ('role_grant', 'acl-acme', 'mx-analyst'), ('member', 'acl-acme', 'mx-member'),
                                   ('outsider', 'acl-acme', 'mx-outsider'),
                                   ('other_tenant', 'acl-other', 'mx-stranger')) AS v(relation, tenant, u) LOOP
        PERFORM taskforce.act_as(r.tenant, r.u, scope => 'session');
        SET ROLE acl_app;
        INSERT INTO public.acl_cells
        SELECT r.relation, s.scope, l.sensitivity, p.permission,
               public.acl_cell('acl-mx-' || s.scope || '-' || l.sensitivity, p.permission), current_user
          FROM acl_scopes AS s, acl_levels AS l, (VALUES ('read'), ('write')) AS p(permission);
        RESET ROLE;
    END LOOP;
    PERFORM taskforce.clear_context();
END
$$;
SELECT DISTINCT db_role FROM public.acl_cells;
SELECT c.scope, c.sensitivity, c.permission,
       max(c.cell) FILTER (WHERE c.relation = 'owner') AS owner,
       max(c.cell) FILTER (WHERE c.relation = 'user_grant') AS user_grant,
       max(c.cell) FILTER (WHERE c.relation = 'role_grant') AS role_grant,
       max(c.cell) FILTER (WHERE c.relation = 'member') AS member,
       max(c.cell) FILTER (WHERE c.relation = 'outsider') AS outsider,
       max(c.cell) FILTER (WHERE c.relation = 'other_tenant') AS other_tenant
  FROM public.acl_cells AS c
  JOIN acl_scopes AS s USING (scope) JOIN acl_levels AS l USING (sensitivity)
 GROUP BY s.n, l.n, c.scope, c.sensitivity, c.permission
 ORDER BY s.n, l.n, c.permission;
-- The named-user check of an administrator agrees with the context's on
-- every cell of the tenant's users.
SELECT count(*) AS cells,
       count(*) FILTER (WHERE taskforce.check_access('acl-mx-' || c.scope || '-' || c.sensitivity, c.permission,
                                                     u.user_id, 'acl-acme')
                        IS DISTINCT FROM (c.cell LIKE '+%')) AS differing
  FROM public.acl_cells AS c
  JOIN (VALUES ('owner', 'mx-owner'), ('user_grant', 'mx-granted'), ('role_grant', 'mx-analyst'),
               ('member', 'mx-member'), ('outsider', 'mx-outsider')) AS u(relation, user_id) USING (relation);
-- Project membership through the project's team, and as its owner, puts a
-- user in the audience as well.
SELECT u AS user_id, e.allowed, e.rule
  FROM unnest(ARRAY['mx-teammate', 'mx-lead', 'mx-outsider']) AS u,
       taskforce.explain_access('acl-mx-project-internal', 'read', u, 'acl-acme') AS e
 ORDER BY u;
-- admin (by grant) implies every permission (the table shows that a grant
-- holding neither the permission nor admin does not).
SELECT principal_id, permissions FROM taskforce.grant_access('acl-mx-private-restricted', 'user', 'mx-outsider',
                                                             '{admin}', tenant_id => 'acl-acme');
SELECT p AS permission, e.allowed, e.rule
  FROM unnest(ARRAY['read', 'write', 'delete', 'reference', 'share', 'admin']) WITH ORDINALITY AS v(p, n),
       taskforce.explain_access('acl-mx-private-restricted', p, 'mx-outsider', 'acl-acme') AS e
 ORDER BY n;
SELECT FROM taskforce.revoke_access('acl-mx-private-restricted', 'user', 'mx-outsider', 'acl-acme');
-- Leaving the session leaves its audience; coming back rejoins it.
SELECT FROM taskforce.remove_session_participant('mx-sess', 'mx-member', 'acl-acme');
SELECT allowed, rule FROM taskforce.explain_access('acl-mx-session-public', 'read', 'mx-member', 'acl-acme');
SELECT session_id, user_id FROM taskforce.add_session_participant('mx-sess', 'mx-member', 'acl-acme');
SELECT allowed, rule FROM taskforce.explain_access('acl-mx-session-public', 'read', 'mx-member', 'acl-acme');
-- The roles an API key asserts do not count for ACLs (a user:manage holder
-- mints keys with any role whose permissions it holds, and a grant to a
-- role takes its name as identity): a service whose key carries mx_reader
-- does not read through that role's grants; granted the role, it does,
-- with either key.  The application connects as acl_app and authenticates
-- the request itself.
SELECT user_id FROM taskforce.create_user('svc-reader', 'svc-reader', kind => 'service', tenant_id => 'acl-acme');
SELECT api_key AS reader_key FROM taskforce.create_api_key('svc-reader', 'with role', roles => ARRAY['mx_reader'],
                                                          tenant_id => 'acl-acme') \gset
SELECT api_key AS plain_key FROM taskforce.create_api_key('svc-reader', 'without role', tenant_id => 'acl-acme') \gset
\c - acl_app
BEGIN;
SELECT FROM taskforce.authenticate_api_key(:'reader_key');
SELECT current_user, taskforce.check_access('acl-mx-private-restricted', 'read') AS with_role,
       taskforce.resource_permissions('acl-mx-private-restricted') AS holds;
COMMIT;
BEGIN;
SELECT FROM taskforce.authenticate_api_key(:'plain_key');
SELECT taskforce.check_access('acl-mx-private-restricted', 'read') AS without_role,
       taskforce.resource_permissions('acl-mx-private-restricted') AS holds;
SELECT allowed, rule FROM taskforce.explain_access('acl-mx-private-restricted', 'read');
COMMIT;
\c - acl_admin
SELECT role_name FROM taskforce.grant_role('svc-reader', 'mx_reader', tenant_id => 'acl-acme');
\c - acl_app
BEGIN;
SELECT FROM taskforce.authenticate_api_key(:'plain_key');
SELECT taskforce.check_access('acl-mx-private-restricted', 'read') AS granted_role;
COMMIT;
\c - acl_admin
SELECT FROM taskforce.revoke_role('svc-reader', 'mx_reader', tenant_id => 'acl-acme');

-- 3. The policy gate.  A policy naming allowed roles shuts out every user
-- holding none of them, owners and grantees included; a policy without
-- allowed roles restricts nothing.  mx-gate: tenant scope, confidential,
-- only mx_reader; mx-open: tenant scope, restricted, no role restriction;
-- mx-global-gate: global scope, internal, only mx_reader (other tenants
-- are shut out too: the roles are acme's).
SELECT policy_id, scope, sensitivity_levels, allowed_roles
  FROM taskforce.create_resource_policy('mx-gate', 'Analysts only', 'tenant', '{confidential}',
                                        allowed_roles => '{mx_reader}', tenant_id => 'acl-acme');
SELECT policy_id, scope, sensitivity_levels, allowed_roles
  FROM taskforce.create_resource_policy('mx-open', 'No role restriction', 'tenant', '{restricted}',
                                        tenant_id => 'acl-acme');
SELECT policy_id, scope, sensitivity_levels, allowed_roles
  FROM taskforce.create_resource_policy('mx-global-gate', 'Global internal data, analysts only', 'global',
                                        '{internal}', allowed_roles => '{mx_reader}', tenant_id => 'acl-acme');
CREATE TEMP TABLE gate_cells (who text, n int, resource text, permission text, cell text);
GRANT INSERT ON gate_cells TO acl_app;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES (1, 'acl-acme', 'mx-owner', '{}'::text[]), (2, 'acl-acme', 'mx-granted', '{}'),
                                   (3, 'acl-acme', 'mx-granted', '{mx_reader}'), (4, 'acl-acme', 'mx-analyst', '{}'),
                                   (5, 'acl-acme', 'mx-outsider', '{}'), (6, 'acl-other', 'mx-stranger', '{}'))
                        AS v(n, tenant, u, roles) LOOP
        PERFORM taskforce.act_as(r.tenant, r.u, r.roles, scope => 'session');
        SET ROLE acl_app;
        INSERT INTO gate_cells
        SELECT r.u || CASE WHEN r.roles = '{}' THEN '' ELSE ' asserting ' || array_to_string(r.roles, ',') END,
               r.n, x.resource, x.permission, public.acl_cell(x.resource, x.permission)
          FROM (VALUES ('acl-mx-tenant-confidential', 'read'), ('acl-mx-tenant-confidential', 'write'),
                       ('acl-mx-tenant-restricted', 'read'), ('acl-mx-tenant-restricted', 'write'),
                       ('acl-mx-global-internal', 'read'), ('acl-mx-tenant-public', 'read')) AS x(resource, permission);
        RESET ROLE;
    END LOOP;
    PERFORM taskforce.clear_context();
END
$$;
SELECT who,
       max(cell) FILTER (WHERE resource = 'acl-mx-tenant-confidential' AND permission = 'read') AS conf_read,
       max(cell) FILTER (WHERE resource = 'acl-mx-tenant-confidential' AND permission = 'write') AS conf_write,
       max(cell) FILTER (WHERE resource = 'acl-mx-tenant-restricted' AND permission = 'read') AS restr_read,
       max(cell) FILTER (WHERE resource = 'acl-mx-tenant-restricted' AND permission = 'write') AS restr_write,
       max(cell) FILTER (WHERE resource = 'acl-mx-global-internal' AND permission = 'read') AS global_int_read,
       max(cell) FILTER (WHERE resource = 'acl-mx-tenant-public' AND permission = 'read') AS public_read
  FROM gate_cells GROUP BY n, who ORDER BY n;
SELECT * FROM taskforce.explain_access('acl-mx-tenant-confidential', 'read', 'mx-owner', 'acl-acme');
-- The owner given an allowed role is the owner again (the role grant
-- reaches the ACL cache at once); taken away, shut out again.
SELECT role_name FROM taskforce.grant_role('mx-owner', 'mx_reader', tenant_id => 'acl-acme');
SELECT allowed, rule FROM taskforce.explain_access('acl-mx-tenant-confidential', 'read', 'mx-owner', 'acl-acme');
SELECT FROM taskforce.revoke_role('mx-owner', 'mx_reader', 'acl-acme');
SELECT allowed, rule FROM taskforce.explain_access('acl-mx-tenant-confidential', 'read', 'mx-owner', 'acl-acme');
-- Lifting the restriction opens the gate.
SELECT policy_id, allowed_roles
  FROM taskforce.update_resource_policy('mx-gate', clear_allowed_roles => true, tenant_id => 'acl-acme');
SELECT allowed, rule FROM taskforce.explain_access('acl-mx-tenant-confidential', 'read', 'mx-owner', 'acl-acme');
SELECT policy_id, allowed_roles
  FROM taskforce.update_resource_policy('mx-gate', allowed_roles => '{mx_reader}', tenant_id => 'acl-acme');

-- 4. Expiring grants.  A grant that has already expired is refused; one
-- that expires soon grants until then, judged by the transaction's start:
-- a transaction begun before the expiry keeps it to its end.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT resource_id, sensitivity, scope FROM taskforce.create_acl('acl-exp-doc', 'document', 'internal', 'private');
SELECT FROM taskforce.grant_access('acl-exp-doc', 'user', 'bob', '{read}', now() - interval '1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('acl-exp-doc', 'user', 'bob', '{read}', now());
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS grants_after_refusals FROM taskforce.resource_grants WHERE resource_id = 'acl-exp-doc';
SELECT principal_id, permissions, expires_at - granted_at AS lifetime
  FROM taskforce.grant_access('acl-exp-doc', 'user', 'bob', '{read}', now() + interval '3 seconds');
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
BEGIN;
SELECT taskforce.check_access('acl-exp-doc', 'read') AS before_expiry;
SELECT pg_sleep_until(expires_at + interval '200 milliseconds') FROM taskforce.resource_grants
 WHERE resource_id = 'acl-exp-doc' AND principal_id = 'bob';
SELECT clock_timestamp() > g.expires_at AS expired_by_now, transaction_timestamp() < g.expires_at AS began_before,
       taskforce.check_access('acl-exp-doc', 'read') AS same_transaction,
       taskforce.resource_permissions('acl-exp-doc') AS holds
  FROM taskforce.resource_grants AS g WHERE g.resource_id = 'acl-exp-doc' AND g.principal_id = 'bob';
COMMIT;
-- The next transaction: the grant is still there and grants nothing.
SELECT taskforce.check_access('acl-exp-doc', 'read') AS next_transaction,
       taskforce.resource_permissions('acl-exp-doc') AS holds,
       (SELECT count(*) FROM taskforce.accessible_resources('read') AS a
         WHERE a.resource_id = 'acl-exp-doc') AS listed,
       (SELECT count(*) FROM taskforce.resource_grants AS g
         WHERE g.resource_id = 'acl-exp-doc' AND g.principal_id = 'bob') AS grant_rows;
SELECT allowed, rule FROM taskforce.explain_access('acl-exp-doc', 'read');
-- A role grant that expires takes the role's resource grants with it: a
-- session that cached them stops using them once the time has passed, with
-- nothing else changed.
RESET ROLE;
SELECT taskforce.clear_context();
SELECT role_name, expires_at - granted_at AS lifetime
  FROM taskforce.grant_role('mx-outsider', 'mx_reader', now() + interval '3 seconds', 'acl-acme');
SELECT FROM taskforce.act_as('acl-acme', 'mx-outsider', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.check_access('acl-mx-private-restricted', 'read') AS before_role_expiry;
RESET ROLE;
SELECT pg_sleep_until(expires_at + interval '200 milliseconds') FROM taskforce.role_grants
 WHERE tenant_id = 'acl-acme' AND user_id = 'mx-outsider' AND role_name = 'mx_reader';
SET ROLE acl_app;
SELECT taskforce.check_access('acl-mx-private-restricted', 'read') AS after_role_expiry;
SELECT allowed, rule FROM taskforce.explain_access('acl-mx-private-restricted', 'read');

-- 5. Delegation limits, on alice's private acl-dl-doc: dl-share holds read
-- and share, dl-admin admin, dl-reader read, dl-temp read and share for an
-- hour, dl-strong read and write; dl-manager holds acl:manage (a role) and
-- nothing on the resource.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT resource_id FROM taskforce.create_acl('acl-dl-doc', 'document', 'internal', 'private');
SELECT count(*) AS owner_grants
  FROM (VALUES ('dl-share', '{read,share}'::text[], NULL::timestamptz), ('dl-admin', '{admin}', NULL),
               ('dl-reader', '{read}', NULL), ('dl-temp', '{share,read}', now() + interval '1 hour'),
               ('dl-strong', '{read,write}', NULL)) AS v(u, p, e),
       taskforce.grant_access('acl-dl-doc', 'user', v.u, v.p, v.e) AS g;
-- A plain reader cannot grant, nor can a user of the tenant holding nothing.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'dl-reader', scope => 'session');
SET ROLE acl_app;
SELECT FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-target', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.revoke_access('acl-dl-doc', 'user', 'dl-strong');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
SELECT FROM taskforce.grant_access('acl-dl-doc', 'user', 'bob', '{read}');
\echo :LAST_ERROR_SQLSTATE
-- A share holder passes on what it holds, share included; not write, not
-- admin; not over a stronger grant.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'dl-share', scope => 'session');
SET ROLE acl_app;
SELECT principal_id, permissions, granted_by FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-target', '{read}');
SELECT FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-target', '{read,write}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-target', '{admin}');
\echo :LAST_ERROR_SQLSTATE
SELECT principal_id, permissions FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-target', '{read,share}');
SELECT FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-strong', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT principal_type, principal_id, permissions
  FROM taskforce.grant_access('acl-dl-doc', 'role', 'data_analyst', '{read}');
-- It revokes what it could have granted, nothing stronger; a grant that
-- does not exist is 42704.
SELECT FROM taskforce.revoke_access('acl-dl-doc', 'role', 'data_analyst');
SELECT FROM taskforce.revoke_access('acl-dl-doc', 'user', 'dl-strong');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.revoke_access('acl-dl-doc', 'user', 'bob');
\echo :LAST_ERROR_SQLSTATE
-- It cannot change the ACL itself (that needs admin).
SELECT FROM taskforce.update_acl('acl-dl-doc', sensitivity => 'confidential');
\echo :LAST_ERROR_SQLSTATE
-- A share right that expires bounds the grants made with it (DETAIL names
-- the time: terse).
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'dl-temp', scope => 'session');
SET ROLE acl_app;
\set VERBOSITY terse
SELECT FROM taskforce.grant_access('acl-dl-doc', 'role', 'data_analyst', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('acl-dl-doc', 'role', 'data_analyst', '{read}', now() + interval '2 hours');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT principal_id, permissions, expires_at - now() AS lifetime
  FROM taskforce.grant_access('acl-dl-doc', 'role', 'data_analyst', '{read}', now() + interval '30 minutes');
-- An admin grant may grant anything (admin too), revoke any grant and
-- change the ACL.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'dl-admin', scope => 'session');
SET ROLE acl_app;
SELECT principal_id, permissions FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-target', '{admin}');
SELECT FROM taskforce.revoke_access('acl-dl-doc', 'user', 'dl-strong');
SELECT resource_id, sensitivity FROM taskforce.update_acl('acl-dl-doc', sensitivity => 'confidential');
-- acl:manage grants and revokes without holding anything on the resource.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'dl-manager', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.check_access('acl-dl-doc', 'read') AS manager_reads;
SELECT principal_id, permissions FROM taskforce.grant_access('acl-dl-doc', 'user', 'dl-strong', '{delete}');
SELECT FROM taskforce.revoke_access('acl-dl-doc', 'user', 'dl-target');
-- ... and may name the owner of a resource it creates; a user without it
-- may not.
SELECT resource_id, owner_id FROM taskforce.create_acl('acl-dl-for-bob', 'document', owner_id => 'bob');
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'dl-share', scope => 'session');
SET ROLE acl_app;
SELECT FROM taskforce.create_acl('acl-dl-for-alice', 'document', owner_id => 'alice');
\echo :LAST_ERROR_SQLSTATE
-- The grants left, and who made them.
SELECT principal_type, principal_id, permissions, granted_by, expires_at IS NOT NULL AS expires
  FROM taskforce.resource_grants WHERE resource_id = 'acl-dl-doc' ORDER BY principal_type, principal_id;

-- 6. Bad input: names outside their lists are 22023 with the valid values
-- in the hint, unknown resources, users, roles and projects 42704,
-- duplicates 42710, nulls 22004.  None of the failed calls leaves anything
-- behind: the ACL tables are the same before and after.
\c - postgres
CREATE VIEW public.acl_state AS
    SELECT (SELECT count(*) FROM taskforce.resource_acls WHERE tenant_id LIKE 'acl-%') AS acls,
           (SELECT count(*) FROM taskforce.resource_grants WHERE tenant_id LIKE 'acl-%') AS grants,
           (SELECT count(*) FROM taskforce.session_participants WHERE tenant_id LIKE 'acl-%') AS participants,
           (SELECT count(*) FROM taskforce.resource_policies WHERE tenant_id LIKE 'acl-%') AS policies,
           (SELECT md5(string_agg(t, '|' ORDER BY t))
              FROM (SELECT a::text FROM taskforce.resource_acls AS a WHERE a.tenant_id LIKE 'acl-%'
                    UNION ALL SELECT g::text FROM taskforce.resource_grants AS g WHERE g.tenant_id LIKE 'acl-%'
                    UNION ALL SELECT s::text FROM taskforce.session_participants AS s WHERE s.tenant_id LIKE 'acl-%'
                    UNION ALL SELECT p::text FROM taskforce.resource_policies AS p WHERE p.tenant_id LIKE 'acl-%')
                   AS x(t)) AS fingerprint;
SELECT acls, grants, participants, policies, fingerprint AS state_before FROM public.acl_state \gset
\c - acl_admin
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT FROM taskforce.create_acl('acl-bad', 'document', 'secret');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', 'internal', 'team');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', default_permissions => '{read,share}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'Document');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl bad', 'document');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', scope => 'project');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', scope => 'tenant', session_id => 's1');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', scope => 'project', project_id => 'no-such-project');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', scope => 'global');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('memory-conv-12345', 'conversation');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl(NULL, 'document');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', sensitivity => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', default_permissions => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.update_acl('memory-conv-12345', sensitivity => 'secret');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.update_acl('memory-conv-12345', scope => 'project', project_id => 'no-such-project');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.update_acl('memory-conv-12345', owner_id => 'nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.update_acl('no-such-resource', sensitivity => 'public');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.drop_acl('no-such-resource');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'group', 'bob', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'user', 'bob', '{read,execute}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'user', 'bob', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'user', 'nobody', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'user', 'eve', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'role', 'no_such_role', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('no-such-resource', 'user', 'bob', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'user', NULL, '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', 'user', 'bob', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access('memory-conv-12345', NULL, 'bob', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.grant_access(NULL, 'user', 'bob', '{read}');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.revoke_access('memory-conv-12345', 'group', 'charlie');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.revoke_access('memory-conv-12345', 'user', 'bob');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.check_access('memory-conv-12345', 'execute');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.explain_access('memory-conv-12345', 'execute');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.accessible_resources('execute');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.check_access('no-such-resource', 'read');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.resource_permissions('no-such-resource');
\echo :LAST_ERROR_SQLSTATE
-- A null resource or permission: check_access and resource_permissions
-- are strict (null in, null out); explain_access refuses it.
SELECT taskforce.check_access(NULL, 'read') IS NULL AS check_null_resource,
       taskforce.check_access('memory-conv-12345', NULL) IS NULL AS check_null_permission,
       taskforce.resource_permissions(NULL) IS NULL AS permissions_null_resource;
SELECT * FROM taskforce.explain_access(NULL, 'read');
\echo :LAST_ERROR_SQLSTATE
-- Naming a user needs acl:manage (alice has none).
SELECT taskforce.check_access('memory-conv-12345', 'read', 'bob');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.explain_access('memory-conv-12345', 'read', 'bob');
\echo :LAST_ERROR_SQLSTATE
-- ... and a user of the tenant (dl-manager holds it).
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'dl-manager', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.check_access('memory-conv-12345', 'write', 'charlie') AS charlie_writes;
SELECT taskforce.check_access('memory-conv-12345', 'read', 'nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.check_access('memory-conv-12345', 'read', 'eve');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.check_access('memory-conv-12345', 'read', NULL);
\echo :LAST_ERROR_SQLSTATE
-- Session participants and policies, by the administrator.
RESET ROLE;
SELECT taskforce.clear_context();
SELECT FROM taskforce.add_session_participant('mx-sess', 'mx-member', 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.add_session_participant('mx-sess', 'nobody', 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.add_session_participant(NULL, 'bob', 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.remove_session_participant('mx-sess', 'bob', 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_resource_policy('mx-gate-2', 'Overlap', 'tenant', '{internal,confidential}',
                                             tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_resource_policy('mx-gate', 'Same id', 'private', '{public}', tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_resource_policy('mx-bad', 'Bad scope', 'team', '{public}', tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_resource_policy('mx-bad', 'Bad level', 'private', '{secret}', tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_resource_policy('mx-bad', 'No levels', 'private', NULL, tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', owner_id => 'nobody', tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_acl('acl-bad', 'document', tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT acls, grants, participants, policies, fingerprint = :'state_before' AS unchanged FROM public.acl_state;

-- 7. protect_table composed with tenant isolation.  alice's notes table
-- holds rows of her resources: acl-note-open (internal, tenant scope,
-- default read), acl-note-shared (default read and write), acl-note-private
-- (private) and acl-note-granted (private, bob granted read, write and
-- delete); a row of the global acl-mx-global-public; rows of the other
-- tenant.
CREATE TABLE public.acl_notes (id int PRIMARY KEY, tenant_id text NOT NULL, resource_id text, body text);
SELECT taskforce.enable_tenant_isolation('public.acl_notes');
SELECT taskforce.protect_table('public.acl_notes');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.acl_notes TO taskforce_app;
SELECT * FROM taskforce.protected_tables ORDER BY table_name::text;
SELECT polname, polpermissive, polcmd FROM pg_policy WHERE polrelid = 'public.acl_notes'::regclass ORDER BY polname;
\c - acl_admin
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT count(*) AS note_resources
  FROM (VALUES ('acl-note-open', 'tenant', '{read}'::text[]), ('acl-note-shared', 'tenant', '{read,write}'),
               ('acl-note-private', 'private', '{read}'), ('acl-note-granted', 'private', '{read}')) AS v(r, s, d),
       taskforce.create_acl(v.r, 'note', 'internal', v.s, default_permissions => v.d) AS a;
SELECT principal_id, permissions
  FROM taskforce.grant_access('acl-note-granted', 'user', 'bob', '{read,write,delete}');
-- The owner writes rows of her resources; not of a resource without an
-- ACL, nor of one she may only read (WITH CHECK: 42501).
INSERT INTO public.acl_notes (id, resource_id, body)
VALUES (1, 'acl-note-open', 'open'), (2, 'acl-note-shared', 'shared'),
       (3, 'acl-note-private', 'private'), (4, 'acl-note-granted', 'granted');
INSERT INTO public.acl_notes (id, resource_id, body) VALUES (5, 'acl-note-no-acl', 'no acl');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO public.acl_notes (id, resource_id, body) VALUES (5, NULL, 'no resource');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO public.acl_notes (id, resource_id, body) VALUES (6, 'acl-mx-global-public', 'global');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
INSERT INTO public.acl_notes (id, tenant_id, resource_id, body)
VALUES (6, 'acl-acme', 'acl-mx-global-public', 'global, acme'),
       (7, 'acl-other', 'acl-mx-global-public', 'global, other'),
       (8, 'acl-other', 'acl-note-open', 'other tenant''s row naming an acme resource'),
       (9, 'acl-other', 'acl-mx-global-restricted', 'global restricted, other');
\c - acl_admin
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT id, resource_id FROM public.acl_notes ORDER BY id;
-- bob reads the open, shared and granted rows and the global one; not
-- alice's private row.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
SELECT id, resource_id, body FROM public.acl_notes ORDER BY id;
-- Insert and update need write, delete needs delete.  A row bob may not
-- write is not updated (USING); moving a row to a resource he may not
-- write is refused (WITH CHECK).
INSERT INTO public.acl_notes (id, resource_id, body) VALUES (10, 'acl-note-open', 'by bob');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO public.acl_notes (id, resource_id, body) VALUES (11, 'acl-note-shared', 'by bob');
UPDATE public.acl_notes SET body = body || ' (bob)' WHERE id IN (1, 3, 6) RETURNING id;
UPDATE public.acl_notes SET body = body || ' (bob)' WHERE id IN (2, 4) RETURNING id, body;
UPDATE public.acl_notes SET resource_id = 'acl-note-open' WHERE id = 2;
\echo :LAST_ERROR_SQLSTATE
UPDATE public.acl_notes SET resource_id = 'acl-note-private' WHERE id = 4;
\echo :LAST_ERROR_SQLSTATE
UPDATE public.acl_notes SET resource_id = 'acl-note-granted' WHERE id = 11 RETURNING id, resource_id;
DELETE FROM public.acl_notes WHERE id IN (1, 2, 3, 6) RETURNING id;
DELETE FROM public.acl_notes WHERE id IN (4, 11) RETURNING id;
-- The other tenant sees its own rows only, and of those only the one whose
-- resource it may read: global public data.  A row naming another
-- tenant's (non-global) resource is hidden.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-other', 'mx-stranger', scope => 'session');
SET ROLE acl_app;
SELECT id, tenant_id, resource_id FROM public.acl_notes ORDER BY id;
UPDATE public.acl_notes SET body = 'changed' WHERE id IN (7, 8, 9) RETURNING id;
-- Without a context: nothing.
RESET ROLE;
SELECT taskforce.clear_context();
SET ROLE acl_app;
SELECT count(*) AS without_context FROM public.acl_notes;
RESET ROLE;
-- What is left, as the owner sees it.
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT id, resource_id, body FROM public.acl_notes ORDER BY id;
RESET ROLE;
SELECT taskforce.clear_context();

-- protect_table's refusals.
\c - postgres
CREATE TABLE public.acl_plain (id int, tenant_id text, resource_id text);
CREATE TABLE public.acl_int_resource (id int, tenant_id text, resource_id int);
SELECT taskforce.enable_tenant_isolation('public.acl_int_resource');
SELECT taskforce.protect_table('public.acl_plain');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.protect_table('public.acl_int_resource');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.protect_table('public.acl_notes', 'document_id');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.protect_table('public.acl_notes');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.protect_table(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.unprotect_table('public.acl_plain');
\echo :LAST_ERROR_SQLSTATE
-- unprotect_table takes the ACL policies away; tenant isolation stays.
SELECT taskforce.unprotect_table('public.acl_notes');
SELECT * FROM taskforce.protected_tables WHERE table_name = 'public.acl_notes'::regclass;
SELECT polname FROM pg_policy WHERE polrelid = 'public.acl_notes'::regclass ORDER BY polname;
\c - acl_admin
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
SELECT id, tenant_id, resource_id FROM public.acl_notes ORDER BY id;
RESET ROLE;
SELECT taskforce.clear_context();
\c - postgres
SELECT taskforce.protect_table('public.acl_notes');
-- A varchar resource column under another name works too.
CREATE TABLE public.acl_docs (tenant_id text NOT NULL, doc varchar(300), body text);
SELECT taskforce.enable_tenant_isolation('public.acl_docs');
SELECT taskforce.protect_table('public.acl_docs', 'doc');

-- Partitions: a query naming a partition passes the same policies, for
-- partitions that existed at protect_table and ones made after it.
CREATE TABLE public.acl_parts (tenant_id text NOT NULL, resource_id text, n int) PARTITION BY LIST (resource_id);
CREATE TABLE public.acl_parts_open PARTITION OF public.acl_parts FOR VALUES IN ('acl-note-open');
CREATE TABLE public.acl_parts_rest PARTITION OF public.acl_parts DEFAULT;
SELECT taskforce.enable_tenant_isolation('public.acl_parts');
SELECT taskforce.protect_table('public.acl_parts');
CREATE TABLE public.acl_parts_private PARTITION OF public.acl_parts FOR VALUES IN ('acl-note-private');
CREATE TABLE public.acl_parts_granted (tenant_id text NOT NULL, resource_id text, n int);
ALTER TABLE public.acl_parts ATTACH PARTITION public.acl_parts_granted FOR VALUES IN ('acl-note-granted');
INSERT INTO public.acl_parts VALUES ('acl-acme', 'acl-note-open', 1), ('acl-acme', 'acl-note-private', 2),
                                    ('acl-acme', 'acl-note-granted', 3), ('acl-acme', 'acl-dl-doc', 4);
GRANT SELECT ON public.acl_parts, public.acl_parts_open, public.acl_parts_rest, public.acl_parts_private,
                public.acl_parts_granted TO taskforce_app;
SELECT * FROM taskforce.protected_tables ORDER BY table_name::text;
\c - acl_admin
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
SELECT 'acl_parts' AS queried, resource_id, n FROM public.acl_parts
UNION ALL SELECT 'acl_parts_open', resource_id, n FROM public.acl_parts_open
UNION ALL SELECT 'acl_parts_rest', resource_id, n FROM public.acl_parts_rest
UNION ALL SELECT 'acl_parts_private', resource_id, n FROM public.acl_parts_private
UNION ALL SELECT 'acl_parts_granted', resource_id, n FROM public.acl_parts_granted
ORDER BY 1, 3;
RESET ROLE;
SELECT taskforce.clear_context();
\c - postgres
SELECT taskforce.unprotect_table('public.acl_parts');
SELECT * FROM taskforce.protected_tables ORDER BY table_name::text;
SELECT taskforce.protect_table('public.acl_parts');
-- A table owner that is neither a superuser nor a taskforce role protects
-- its own table; its later partitions are protected too, and creating
-- partitions of a table that is not protected is left alone.
CREATE ROLE acl_table_owner;
GRANT CREATE ON SCHEMA public TO acl_table_owner;
SET ROLE acl_table_owner;
CREATE TABLE public.acl_owned (tenant_id text NOT NULL, resource_id text, n int) PARTITION BY LIST (tenant_id);
CREATE TABLE public.acl_owned_acme PARTITION OF public.acl_owned FOR VALUES IN ('acl-acme');
SELECT taskforce.enable_tenant_isolation('public.acl_owned');
SELECT taskforce.protect_table('public.acl_owned');
CREATE TABLE public.acl_owned_other PARTITION OF public.acl_owned FOR VALUES IN ('acl-other');
CREATE TABLE public.acl_owned_plain (tenant_id text, n int) PARTITION BY LIST (tenant_id);
CREATE TABLE public.acl_owned_plain_a PARTITION OF public.acl_owned_plain FOR VALUES IN ('a');
SELECT * FROM taskforce.protected_tables WHERE table_name::text LIKE 'acl_owned%' ORDER BY table_name::text;
SELECT taskforce.unprotect_table('public.acl_owned');
SELECT count(*) AS still_protected FROM taskforce.protected_tables WHERE table_name::text LIKE 'acl_owned%';
DROP TABLE public.acl_owned, public.acl_owned_plain;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM acl_table_owner;
DROP ROLE acl_table_owner;

-- 8. "What may I access" is exactly the set of resources check_access
-- allows, for every permission and with and without a type, for users in
-- every relation above (and asserted roles): compared both ways with
-- EXCEPT over every resource of this suite's tenants a user can name (its
-- tenant's and the global ones).
CREATE TABLE public.acl_all_resources AS
    SELECT tenant_id, resource_id, resource_type, scope FROM taskforce.resource_acls WHERE tenant_id LIKE 'acl-%';
CREATE TABLE public.acl_equiv (who text, n int, permission text, of_type text, listed bigint,
                               missing bigint, extra bigint);
GRANT SELECT ON public.acl_all_resources TO acl_app;
GRANT INSERT, SELECT ON public.acl_equiv TO acl_app, acl_admin;
\c - acl_admin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
                (1, 'acl-acme', 'alice', '{}'::text[]), (2, 'acl-acme', 'bob', '{}'), (3, 'acl-acme', 'charlie', '{}'),
                (4, 'acl-acme', 'david', '{}'), (5, 'acl-acme', 'mx-owner', '{}'), (6, 'acl-acme', 'mx-granted', '{}'),
                (7, 'acl-acme', 'mx-granted', '{mx_reader}'), (8, 'acl-acme', 'mx-analyst', '{}'),
                (9, 'acl-acme', 'mx-member', '{}'), (10, 'acl-acme', 'mx-outsider', '{}'),
                (11, 'acl-acme', 'mx-teammate', '{}'), (12, 'acl-acme', 'dl-share', '{}'),
                (13, 'acl-acme', 'dl-temp', '{}'), (14, 'acl-acme', 'dl-manager', '{}'),
                (15, 'acl-other', 'eve', '{admin}'), (16, 'acl-other', 'mx-stranger', '{}')) AS v(n, tenant, u, roles) LOOP
        PERFORM taskforce.act_as(r.tenant, r.u, r.roles, scope => 'session');
        SET ROLE acl_app;
        INSERT INTO public.acl_equiv
        SELECT r.u || CASE WHEN r.roles = '{}' THEN '' ELSE ' asserting ' || array_to_string(r.roles, ',') END,
               r.n, p.permission, t.of_type, c.listed, c.missing, c.extra
          FROM unnest(ARRAY['read', 'write', 'delete', 'reference', 'share', 'admin']) AS p(permission),
               unnest(ARRAY[NULL, 'document', 'note', 'conversation']) AS t(of_type),
               LATERAL (WITH listed AS (
                            SELECT a.tenant_id, a.resource_id
                              FROM taskforce.accessible_resources(p.permission, t.of_type) AS a
                             WHERE a.tenant_id LIKE 'acl-%'),
                        checked AS (
                            SELECT a.tenant_id, a.resource_id FROM public.acl_all_resources AS a
                             WHERE CASE WHEN (a.tenant_id = taskforce.current_tenant() OR a.scope = 'global')
                                             AND (t.of_type IS NULL OR a.resource_type = t.of_type)
                                        THEN taskforce.check_access(a.resource_id, p.permission) END)
                        SELECT (SELECT count(*) FROM listed),
                               (SELECT count(*) FROM (TABLE checked EXCEPT TABLE listed) AS x),
                               (SELECT count(*) FROM (TABLE listed EXCEPT TABLE checked) AS x)) AS c(listed, missing, extra);
        RESET ROLE;
    END LOOP;
    PERFORM taskforce.clear_context();
END
$$;
SELECT DISTINCT of_type IS NULL AS untyped, count(*) OVER (PARTITION BY of_type IS NULL) AS comparisons
  FROM public.acl_equiv ORDER BY 1;
SELECT who,
       max(listed) FILTER (WHERE permission = 'read' AND of_type IS NULL) AS read,
       max(listed) FILTER (WHERE permission = 'write' AND of_type IS NULL) AS write,
       max(listed) FILTER (WHERE permission = 'delete' AND of_type IS NULL) AS delete,
       max(listed) FILTER (WHERE permission = 'reference' AND of_type IS NULL) AS reference,
       max(listed) FILTER (WHERE permission = 'share' AND of_type IS NULL) AS share,
       max(listed) FILTER (WHERE permission = 'admin' AND of_type IS NULL) AS admin,
       max(listed) FILTER (WHERE permission = 'read' AND of_type = 'note') AS read_note,
       sum(missing) AS missing, sum(extra) AS extra
  FROM public.acl_equiv GROUP BY n, who ORDER BY n;

-- 9. Audit of access.  In acl-audit a policy requires audit of tenant-scope
-- internal and confidential resources: aud-doc and aud-doc-2 (internal),
-- aud-secret (confidential); aud-plain (public) is not covered.  Every
-- allowed decision, and every denial by check_access, is one
-- resource_access security event per resource and permission per
-- statement, however many rows or calls; it goes through the event queue
-- and survives the reader's ROLLBACK.  Explaining and listing record
-- nothing, nor do rows the row policies hide.
\c - postgres
SELECT count(*) FROM taskforce.create_tenant('acl-audit', 'Audited');
SELECT count(*) AS users FROM unnest(ARRAY['aud-owner', 'aud-reader']) AS u,
       taskforce.create_user(u, u, tenant_id => 'acl-audit') AS c;
SELECT policy_id, scope, sensitivity_levels, requires_audit
  FROM taskforce.create_resource_policy('audited', 'Audited access', 'tenant', '{internal,confidential}',
                                        requires_audit => true, tenant_id => 'acl-audit');
SELECT count(*) AS resources
  FROM (VALUES ('aud-doc', 'internal'), ('aud-doc-2', 'internal'), ('aud-secret', 'confidential'),
               ('aud-plain', 'public')) AS v(r, s),
       taskforce.create_acl(v.r, 'document', v.s, owner_id => 'aud-owner', tenant_id => 'acl-audit') AS a;
CREATE TABLE public.acl_audit_rows (id int PRIMARY KEY, tenant_id text NOT NULL, resource_id text NOT NULL,
                                    n int NOT NULL DEFAULT 0);
SELECT taskforce.enable_tenant_isolation('public.acl_audit_rows');
SELECT taskforce.protect_table('public.acl_audit_rows');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.acl_audit_rows TO taskforce_app;
INSERT INTO public.acl_audit_rows (id, tenant_id, resource_id)
SELECT i, 'acl-audit', (ARRAY['aud-doc', 'aud-doc-2', 'aud-doc', 'aud-secret', 'aud-plain', 'aud-doc-2', 'aud-doc'])[i]
  FROM generate_series(1, 7) AS i;
SELECT FROM taskforce.flush_security_events(interval '0');
SELECT coalesce(max(event_id), 0) AS events_before FROM taskforce.security_events \gset
\c - acl_admin
SELECT FROM taskforce.act_as('acl-audit', 'aud-reader', scope => 'session');
SET ROLE acl_app;
-- a: two reads and a denied reference in one statement: two events.
SELECT taskforce.check_access('aud-doc', 'read') AS first, taskforce.check_access('aud-doc', 'read') AS again,
       taskforce.check_access('aud-doc', 'reference') AS reference;
-- b: the next statement is recorded again.
SELECT taskforce.check_access('aud-doc', 'read') AS next_statement;
-- c: a scan of the protected table: one event per readable audited
-- resource (aud-doc's three rows, aud-doc-2's two), none for aud-plain
-- (no policy) or for aud-secret's hidden row.
SELECT id, resource_id FROM public.acl_audit_rows ORDER BY id;
-- d: a denial by check_access is recorded as a failure.
SELECT taskforce.check_access('aud-secret', 'read') AS secret;
-- e: explaining and listing record nothing.
SELECT allowed, rule FROM taskforce.explain_access('aud-doc', 'read');
SELECT taskforce.resource_permissions('aud-doc') AS holds;
SELECT resource_id FROM taskforce.accessible_resources('read') ORDER BY 1;
-- f: reads in a transaction rolled back.
BEGIN;
SELECT count(*) AS rolled_back_read FROM public.acl_audit_rows;
ROLLBACK;
-- g: what is recorded is the decisions the row policies made.  A query's
-- cheap leakproof conditions go first: filtering on aud-doc-2 records
-- aud-doc-2 only.  Other conditions come after the row policies (so that
-- they never see a row the user may not read): filtering through upper()
-- records aud-doc too, whose rows were checked.
SELECT id FROM public.acl_audit_rows WHERE resource_id = 'aud-doc-2' ORDER BY id;
SELECT id FROM public.acl_audit_rows WHERE upper(resource_id) = 'AUD-DOC-2' ORDER BY id;
-- h: the owner's update reads and writes every row: one event per
-- resource and permission.
RESET ROLE;
SELECT FROM taskforce.act_as('acl-audit', 'aud-owner', scope => 'session');
SET ROLE acl_app;
UPDATE public.acl_audit_rows SET n = n + 1 RETURNING id, n;
RESET ROLE;
SELECT taskforce.clear_context();
SELECT taskforce.flush_security_events(interval '0') > 0 AS flushed;
\c - postgres
SELECT user_id, method, outcome, reason, details->>'resource_id' AS resource_id,
       details->>'permission' AS permission, details->>'rule' AS rule, details->>'policy_id' AS policy_id,
       details->>'resource_tenant' AS resource_tenant, tenant_id
  FROM taskforce.security_events
 WHERE event_id > :events_before AND event = 'resource_access' ORDER BY event_id;
-- The events are themselves audited (security_events is): one audit
-- entry each.
SELECT count(*) AS events, count(l.row_key) AS audited
  FROM taskforce.security_events AS e
  LEFT JOIN taskforce.audit_log AS l
    ON l.event_type = 'security_event' AND l.object = 'taskforce.security_events'
   AND l.row_key::jsonb = jsonb_build_object('event_id', e.event_id)
 WHERE e.event_id > :events_before AND e.event = 'resource_access';

-- 10. What an attack review of 0.6.0 found, closed.
\c - acl_admin
-- a: an admin grant (expiring) does not become ownership: only the owner,
-- or acl:manage, hands a resource over.
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT resource_id, owner_id FROM taskforce.create_acl('ar-secret', 'document', 'confidential', 'private');
SELECT principal_id, permissions FROM taskforce.grant_access('ar-secret', 'user', 'bob', '{admin}',
                                                             now() + interval '1 hour');
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
SELECT owner_id FROM taskforce.update_acl('ar-secret', owner_id => 'bob');
\echo :LAST_ERROR_SQLSTATE
SELECT sensitivity FROM taskforce.update_acl('ar-secret', sensitivity => 'restricted');
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT owner_id FROM taskforce.update_acl('ar-secret', owner_id => 'bob');
-- b: drop_acl refuses while protected rows name the resource (whoever
-- took the id next would govern them); once they are gone it drops, and
-- the id taken again governs nothing of the old owner's.
SELECT resource_id FROM taskforce.create_acl('ar-old', 'document', 'confidential', 'private');
INSERT INTO public.acl_notes (id, tenant_id, resource_id, body) VALUES (9001, 'acl-acme', 'ar-old', 'old secret');
SELECT taskforce.drop_acl('ar-old');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM public.acl_notes WHERE resource_id = 'ar-old';
SELECT taskforce.drop_acl('ar-old');
RESET ROLE;
SELECT FROM taskforce.act_as('acl-acme', 'bob', scope => 'session');
SET ROLE acl_app;
SELECT owner_id FROM taskforce.create_acl('ar-old', 'document', 'confidential', 'private');
SELECT count(*) AS old_rows_bob_sees FROM public.acl_notes WHERE resource_id = 'ar-old';
SELECT taskforce.drop_acl('ar-old');
RESET ROLE;
SELECT taskforce.clear_context();
-- c: a global resource is dropped by an administrator only.
SELECT resource_id FROM taskforce.create_acl('ar-global', 'knowledge_base', 'public', 'global',
                                             owner_id => 'alice', tenant_id => 'acl-acme');
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.drop_acl('ar-global');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT taskforce.clear_context();
SELECT taskforce.drop_acl('ar-global', tenant_id => 'acl-acme');
-- d: null and unknown inputs of the management functions.
SELECT FROM taskforce.act_as('acl-acme', 'alice', scope => 'session');
SET ROLE acl_app;
SELECT taskforce.revoke_access('ar-secret', 'user', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.remove_session_participant(NULL, 'alice');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT taskforce.clear_context();
SELECT taskforce.drop_resource_policy(NULL, tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT FROM taskforce.create_resource_policy('ar-nobody', 'nobody', 'session', '{restricted}',
                                             allowed_roles => '{}', tenant_id => 'acl-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS policies_made FROM taskforce.resource_policies WHERE policy_id = 'ar-nobody';
