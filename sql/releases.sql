-- releases: environments and releases of projects (issue 11, LIFE_SPEC
-- section 6) as an application uses them: the lifecycle draft -> released
-- -> rolled_back through the `release` state machine, the environment's
-- current release, illegal transitions with their hints, denials without
-- release:manage, SemVer ordering, project visibility, another tenant's
-- rows invisible, the audit trail and events, and offboarding.  Trusted
-- middleware (rel_admin) establishes each request's context with act_as;
-- the requests run as the application role rel_app.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS rel_app, rel_admin;
CREATE ROLE rel_app LOGIN IN ROLE taskforce_app;
CREATE ROLE rel_admin LOGIN IN ROLE taskforce_admin;
GRANT rel_app TO rel_admin;
SELECT count(*) FROM taskforce.create_tenant('rel-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('rel-globex', 'Globex');
RESET client_min_messages;

-- The permission: a system one, held among the system roles by admin only.
SELECT permission, description, is_system FROM taskforce.permissions WHERE permission = 'release:manage';
SELECT s.role_name FROM taskforce.system_roles AS s
 WHERE taskforce.permission_matches(s.permissions, 'release:manage') ORDER BY 1;
-- The machine and its attachment.
SELECT machine, initial_states, terminal_states FROM taskforce.state_machines WHERE machine = 'release';
SELECT from_state, to_state, required_permission, approval_type FROM taskforce.state_machine_transitions
 WHERE machine = 'release' ORDER BY 1, 2;
SELECT tbl, column_name, machine FROM taskforce.state_machine_attachments WHERE machine = 'release';

-- Users of acme: rita manages releases (custom role release_manager), vic
-- holds no role, ada is an admin.  gina is an admin of globex.  Projects:
-- web (public) and vault (private, ada's) in acme, shop in globex.
\c - rel_admin
SELECT role_name, permissions FROM taskforce.create_role('release_manager', ARRAY['release:manage'],
    tenant_id => 'rel-acme');
SELECT count(*) FROM unnest(ARRAY['rita', 'vic', 'ada']) AS u,
       taskforce.create_user(u, u, tenant_id => 'rel-acme') AS cu;
SELECT user_id, role_name FROM (VALUES ('rita', 'release_manager'), ('ada', 'admin')) AS v(u, r),
       taskforce.grant_role(v.u, v.r, tenant_id => 'rel-acme') ORDER BY 1;
SELECT user_id FROM taskforce.create_user('gina', 'gina', tenant_id => 'rel-globex');
SELECT role_name FROM taskforce.grant_role('gina', 'admin', tenant_id => 'rel-globex');
SELECT project_id, visibility FROM taskforce.create_project('web', 'Web', visibility => 'public',
                                                            tenant_id => 'rel-acme');
SELECT project_id, visibility FROM taskforce.create_project('vault', 'Vault', owner_id => 'ada',
                                                            visibility => 'private', tenant_id => 'rel-acme');
SELECT project_id, visibility FROM taskforce.create_project('shop', 'Shop', visibility => 'public',
                                                            tenant_id => 'rel-globex');
-- acme's webhook endpoint for the release events.
SELECT taskforce.create_webhook_endpoint('deploys', 'https://hooks.acme.example/deploys',
    ARRAY['release_released', 'release_rolled_back'], convert_to('a secret of the deploy hook', 'UTF8'),
    tenant_id => 'rel-acme');

-- 1. Environments, as rita.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SELECT tenant_id, project_id, environment_id, name, url, status, current_release_id, deployed_at
  FROM taskforce.create_environment('web', 'staging', 'Staging', 'https://staging.web.example');
SELECT project_id, environment_id, name, url, status
  FROM taskforce.create_environment('web', 'production', 'Production');
SELECT project_id, environment_id, name, url, status
  FROM taskforce.create_environment('web', 'qa', 'QA', status => 'inactive');
SELECT project_id, environment_id, name, url, status
  FROM taskforce.update_environment('web', 'production', url => 'https://web.example');
SELECT project_id, environment_id, name, url, status
  FROM taskforce.update_environment('web', 'staging', name => 'Stage', clear => '{url}');
COMMIT;

-- Environment errors: bad id, url or status (22023, the valid values in
-- the hint), nulls (22004), duplicates (42710), unknown project or
-- environment (42704), another tenant's project (42704, as unknown).
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SAVEPOINT s;
SELECT taskforce.create_environment('web', 'bad id', 'Bad');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('web', 'dev', 'Dev', 'ftp://dev.example');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('web', 'dev', 'Dev', status => 'broken');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('web', 'dev', '  ');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('web', NULL, 'Dev');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment(NULL, 'dev', 'Dev');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('web', 'production', 'Prod 2');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('web', 'prod2', 'Production');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_environment('web', 'qa', name => 'Production');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_environment('web', 'qa', clear => '{name}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_environment('web', 'nowhere', name => 'X');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('nowhere', 'dev', 'Dev');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_environment('shop', 'dev', 'Dev');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 2. Releases: created as drafts; the version is SemVer 2.0.0, unique in
-- the project by precedence.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SELECT tenant_id, project_id, release_id, version, name, notes, status, environment_id, created_by,
       released_at, rolled_back_at
  FROM taskforce.create_release('web', 'r1', '1.0.0', 'First', 'the first one');
SELECT release_id, version, name, status FROM taskforce.create_release('web', 'r2', '1.1.0-rc.1');
SELECT release_id, version, name, status FROM taskforce.create_release('web', 'r3', '1.1.0');
SELECT release_id, version, name, status FROM taskforce.create_release('web', 'r4', '1.2.0+build.7');
SELECT release_id, version, name, status FROM taskforce.create_release('web', 'r5', '1.10.0');
SELECT release_id, version, name, status FROM taskforce.create_release('web', 'r6', '1.1.0-rc.2');
SELECT release_id, version, name, status FROM taskforce.create_release('web', 'r7', '1.1.0-alpha');
COMMIT;
-- Newest first by precedence: 1.10.0 after 1.2.0, a release after its
-- pre-releases, rc.2 after rc.1 after alpha (text order would differ).
BEGIN;
SELECT taskforce.act_as('rel-acme', 'vic');
SET LOCAL ROLE rel_app;
SELECT release_id, version, status FROM taskforce.list_releases('web');
SELECT release_id FROM taskforce.releases ORDER BY version;
COMMIT;

-- Release errors: bad version (22023), equal precedence (42710, the other
-- release named), duplicate id (42710), bad id or name (22023), nulls
-- (22004), unknown project (42704), bad status filter (22023).
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SAVEPOINT s;
SELECT taskforce.create_release('web', 'r8', '01.0.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', 'r8', 'v2.0.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', 'r8', '1.0.0+rebuilt');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', 'r1', '9.0.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', '-r8', '9.0.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', 'r8', '9.0.0', name => ' ');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', 'r8', NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('nowhere', 'r8', '9.0.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT count(*) FROM taskforce.list_releases('web', status => 'shipped');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 3. The lifecycle, as rita.  Releasing sets the environment's current
-- release; a newer release replaces it.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SELECT release_id, status, environment_id, released_by, released_at IS NOT NULL AS released
  FROM taskforce.release_release('web', 'r1', 'production');
SELECT environment_id, current_release_id, deployed_at IS NOT NULL AS deployed
  FROM taskforce.environments WHERE project_id = 'web' ORDER BY 1;
SELECT release_id, status, environment_id FROM taskforce.release_release('web', 'r3', 'production');
SELECT release_id, status, environment_id FROM taskforce.release_release('web', 'r2', 'staging');
SELECT environment_id, current_release_id FROM taskforce.list_environments('web');
COMMIT;

-- Illegal moves, with their hints: a release twice; an older version than
-- the environment runs; an inactive or unknown environment; rolling back
-- a draft (the machine's message); nothing changes.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SAVEPOINT s;
SELECT taskforce.release_release('web', 'r1', 'staging');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.release_release('web', 'r7', 'production');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.release_release('web', 'r5', 'qa');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.release_release('web', 'r5', 'nowhere');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.release_release('web', 'r99', 'production');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.roll_back_release('web', 'r5');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SELECT release_id, status, environment_id FROM taskforce.list_releases('web') WHERE status <> 'draft';
SELECT environment_id, current_release_id FROM taskforce.list_environments('web');
COMMIT;

-- Rolling back the release production runs returns production to its
-- newest release still released (r1); the reason goes to the audit entry.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SELECT release_id, status, environment_id, rolled_back_by, rolled_back_at IS NOT NULL AS rolled_back
  FROM taskforce.roll_back_release('web', 'r3', reason => 'error rate up');
SELECT environment_id, current_release_id, deployed_at IS NOT NULL AS deployed
  FROM taskforce.list_environments('web');
COMMIT;
-- A rolled back release is done: not again, not released again (the
-- machine: a terminal state).  Rolling back the last one leaves none.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SAVEPOINT s;
SELECT taskforce.roll_back_release('web', 'r3');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.release_release('web', 'r3', 'staging');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT release_id, status FROM taskforce.roll_back_release('web', 'r1');
SELECT environment_id, current_release_id, deployed_at FROM taskforce.list_environments('web')
 WHERE environment_id = 'production';
ROLLBACK;

-- The machine guards the table itself: a direct UPDATE (here by a
-- superuser acting as rita) must follow a transition.
\c - postgres
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SAVEPOINT s;
UPDATE taskforce.releases SET status = 'draft', released_at = NULL, environment_id = NULL
 WHERE tenant_id = 'rel-acme' AND release_id = 'r1';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- The machine's permission check: the same UPDATE in vic's context.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'vic');
SAVEPOINT s;
UPDATE taskforce.releases SET status = 'released', environment_id = 'staging', released_at = now()
 WHERE tenant_id = 'rel-acme' AND release_id = 'r5';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\c - rel_admin

-- 4. Denials: vic holds no release:manage (42501); the application role
-- writes the tables only through the functions.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'vic');
SET LOCAL ROLE rel_app;
SAVEPOINT s;
SELECT taskforce.create_environment('web', 'dev', 'Dev');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_environment('web', 'qa', status => 'active');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', 'r9', '2.0.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.release_release('web', 'r5', 'production');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.roll_back_release('web', 'r2');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
UPDATE taskforce.releases SET status = 'released' WHERE release_id = 'r5';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
INSERT INTO taskforce.environments (tenant_id, project_id, environment_id, name)
VALUES ('rel-acme', 'web', 'dev', 'Dev');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- No context: an application role sees nothing and may do nothing.
SET ROLE rel_app;
SELECT count(*) FROM taskforce.releases;
SELECT taskforce.create_release('web', 'r9', '2.0.0', tenant_id => 'rel-acme');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 5. Visibility: vault is ada's private project.  ada (admin) manages its
-- releases; rita (release:manage, not a member) and vic see nothing of it
-- and rita's calls find no such project (42704).
BEGIN;
SELECT taskforce.act_as('rel-acme', 'ada');
SET LOCAL ROLE rel_app;
SELECT project_id, environment_id FROM taskforce.create_environment('vault', 'production', 'Production');
SELECT project_id, release_id, status FROM taskforce.create_release('vault', 'v1', '0.1.0');
SELECT project_id, release_id, status, environment_id FROM taskforce.release_release('vault', 'v1', 'production');
SELECT project_id, count(*) FROM taskforce.releases GROUP BY 1 ORDER BY 1;
COMMIT;
BEGIN;
SELECT taskforce.act_as('rel-acme', 'rita');
SET LOCAL ROLE rel_app;
SELECT project_id, count(*) FROM taskforce.releases GROUP BY 1 ORDER BY 1;
SELECT project_id, count(*) FROM taskforce.environments GROUP BY 1 ORDER BY 1;
SAVEPOINT s;
SELECT taskforce.create_release('vault', 'v2', '0.2.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.roll_back_release('vault', 'v1');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 6. Another tenant: gina (globex's admin) sees none of acme's rows, and
-- acme's project, environments and releases are unknown to her (42704).
\c - rel_admin
BEGIN;
SELECT taskforce.act_as('rel-globex', 'gina');
SET LOCAL ROLE rel_app;
SELECT project_id, environment_id FROM taskforce.create_environment('shop', 'production', 'Production');
SELECT release_id, version FROM taskforce.create_release('shop', 's1', '3.0.0');
-- Rows of globex in every table new in 0.7.0, for the offboarding below:
-- a webhook endpoint (and the delivery of s1's release), a workflow, a
-- request with a comment, an agent with its first version.
SELECT taskforce.create_webhook_endpoint('hook', 'https://hooks.globex.example/releases',
    ARRAY['release_released'], convert_to('globex''s own webhook secret', 'UTF8'));
SELECT workflow_id FROM taskforce.create_workflow('exports', 'Exports', 'data_export', 1, ARRAY['admin']);
SELECT taskforce.request_approval('data_export', 'dataset', 'orders', 'export the orders') AS request_id \gset
SELECT action FROM taskforce.comment_request(:request_id, 'for the auditors');
SELECT agent_id, current_version FROM taskforce.create_agent('bot', 'Bot', initial_definition => '{"model": "small"}');
SELECT release_id, status FROM taskforce.release_release('shop', 's1', 'production');
COMMIT;
BEGIN;
SELECT taskforce.act_as('rel-globex', 'gina');
SET LOCAL ROLE rel_app;
SELECT tenant_id, project_id, release_id FROM taskforce.releases;
SELECT tenant_id, project_id, environment_id FROM taskforce.list_environments();
SAVEPOINT s;
SELECT taskforce.release_release('web', 'r5', 'production');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.roll_back_release('web', 'r1');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_release('web', 'r9', '2.0.0', tenant_id => 'rel-acme');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 7. A project with releases cannot be deleted (2BP01): archive it.
BEGIN;
SELECT taskforce.act_as('rel-acme', 'ada');
SET LOCAL ROLE rel_app;
SELECT taskforce.delete_project('web');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 8. The audit trail: every transition of a release, with its reason.
\c - postgres
SELECT l.row_key::jsonb->>'project_id' AS project_id, l.row_key::jsonb->>'release_id' AS release_id,
       l.new_values->>'machine' AS machine, l.new_values->>'from' AS "from", l.new_values->>'to' AS "to",
       l.new_values->>'reason' AS reason, l.user_id
  FROM taskforce.audit_log AS l
 WHERE l.tenant_id = 'rel-acme' AND l.event_type = 'transition' AND l.object = 'taskforce.releases'
   AND l.row_key::jsonb->>'release_id' IN ('r1', 'r3')
 ORDER BY l.logged_at, l.entry_seq;
-- The events, one delivery each to the tenant's subscribed endpoints:
-- what was released and rolled back, into where.
SELECT d.tenant_id, d.endpoint_id, d.event, d.body::jsonb->'payload' AS payload
  FROM taskforce.webhook_deliveries AS d WHERE d.tenant_id LIKE 'rel-%' ORDER BY d.delivery_id;

-- 9. Offboarding: a deleted tenant's rows go from every table new in
-- 0.7.0 (webhooks, approvals, agents, environments, releases) with its
-- projects and users, in an order the foreign keys accept; the other
-- tenant's stay.
-- An application table of globex under the release machine: its trigger
-- (like isolation's and the audit's) runs no code on DELETE, so an
-- administrator, not only a superuser, may offboard.
CREATE TABLE public.rel_tickets (tenant_id text NOT NULL, id int NOT NULL, status text NOT NULL,
                                 PRIMARY KEY (tenant_id, id));
SET client_min_messages = warning;
SELECT taskforce.enable_tenant_isolation('public.rel_tickets');
RESET client_min_messages;
SELECT taskforce.attach_state_machine('public.rel_tickets', 'status', 'release');
INSERT INTO public.rel_tickets VALUES ('rel-globex', 1, 'draft'), ('rel-acme', 1, 'draft');
\c - rel_admin
SELECT tenant_id, status FROM taskforce.delete_tenant('rel-globex');
SELECT taskforce.create_release('shop', 's2', '3.1.0', tenant_id => 'rel-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.offboard_tenant('rel-globex', dry_run => false) WHERE rows > 0;
\c - postgres
SELECT t.tbl, (xpath('/row/n/text()',
                     query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id = %L', t.tbl, 'rel-globex'),
                                  false, true, '')))[1]::text::int AS globex,
              (xpath('/row/n/text()',
                     query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id = %L', t.tbl, 'rel-acme'),
                                  false, true, '')))[1]::text::int AS acme
  FROM unnest(ARRAY['taskforce.webhook_deliveries', 'taskforce.webhook_endpoints', 'taskforce.approval_actions',
                    'taskforce.approval_requests', 'taskforce.approval_workflows', 'taskforce.agent_versions',
                    'taskforce.agents', 'taskforce.releases', 'taskforce.environments',
                    'taskforce.projects', 'public.rel_tickets']::regclass[]) AS t(tbl);
