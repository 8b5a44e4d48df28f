-- projects: teams, projects and their members (issue 10, seed 003) as an
-- application uses them: every management function's success and denial,
-- validation errors, visibility (public, team, private) for the owner, a
-- direct member, a team member, another user and a user of another tenant,
-- membership through a team, and the audit trail of a project change.
-- Trusted middleware (proj_admin) establishes each request's context with
-- act_as; the requests run as the application role proj_app.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS proj_app, proj_admin;
CREATE ROLE proj_app LOGIN IN ROLE taskforce_app;
CREATE ROLE proj_admin LOGIN IN ROLE taskforce_admin;
GRANT proj_app TO proj_admin;
SELECT count(*) FROM taskforce.create_tenant('proj-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('proj-globex', 'Globex');
-- The projects a user of a tenant sees as the application role, one
-- request (act_as) per call: the visibility tests' probe.
CREATE FUNCTION public.proj_sees(who text, tenant text DEFAULT 'proj-acme')
    RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text;
BEGIN
    PERFORM taskforce.act_as(tenant, who);
    SET LOCAL ROLE proj_app;
    SELECT coalesce(string_agg(project_id, ' ' ORDER BY project_id), '-') INTO seen FROM taskforce.projects;
    RESET ROLE;
    RETURN seen;
END
$$;
RESET client_min_messages;

-- The catalog: ten permissions, system ones; among the system roles only
-- admin ('*') holds them.
SELECT permission, is_system FROM taskforce.permissions
 WHERE permission ~ '^(project|team):' ORDER BY permission;
SELECT s.role_name, count(*) FILTER (WHERE taskforce.permission_matches(s.permissions, c.permission)) AS holds
  FROM taskforce.system_roles AS s, taskforce.permissions AS c
 WHERE c.permission ~ '^(project|team):'
 GROUP BY s.role_name ORDER BY s.role_name;

-- Users of acme: pat manages projects (custom role pm), tess manages teams
-- (custom role team_admin), ada is an admin; olive, dora, tom and ursula
-- hold no role.  gina is an admin of globex.
\c - proj_admin
SELECT role_name, permissions FROM taskforce.create_role('pm',
    ARRAY['project:create', 'project:update', 'project:delete', 'project:manage_members'],
    tenant_id => 'proj-acme');
SELECT role_name, permissions FROM taskforce.create_role('team_admin', ARRAY['team:*'], tenant_id => 'proj-acme');
SELECT role_name, permissions FROM taskforce.create_role('creator', ARRAY['project:create'], tenant_id => 'proj-acme');
SELECT count(*) FROM unnest(ARRAY['pat', 'tess', 'ada', 'olive', 'dora', 'tom', 'ursula', 'cleo']) AS u,
       taskforce.create_user(u, u, tenant_id => 'proj-acme') AS cu;
SELECT user_id, role_name FROM (VALUES ('pat', 'pm'), ('tess', 'team_admin'), ('ada', 'admin'), ('cleo', 'creator')) AS v(u, r),
       taskforce.grant_role(v.u, v.r, tenant_id => 'proj-acme') ORDER BY 1;
SELECT user_id FROM taskforce.create_user('gina', 'gina', tenant_id => 'proj-globex');
SELECT role_name FROM taskforce.grant_role('gina', 'admin', tenant_id => 'proj-globex');

-- 1. Teams, as tess (team:*).
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tess');
SET LOCAL ROLE proj_app;
SELECT tenant_id, team_id, name, description, department, manager_id
  FROM taskforce.create_team('platform', 'Platform', 'runs the agents', 'Engineering', 'olive');
SELECT tenant_id, team_id, name, description, department, manager_id
  FROM taskforce.create_team('research', 'Research');
SELECT team_id, user_id, team_role, added_by FROM taskforce.add_team_member('platform', 'tom');
SELECT team_id, user_id, team_role, added_by FROM taskforce.add_team_member('platform', 'olive', 'lead');
SELECT team_id, user_id, team_role FROM taskforce.add_team_member('research', 'ursula');
SELECT team_id, name, description, department, manager_id
  FROM taskforce.update_team('research', description => 'reads papers', department => 'Science', manager_id => 'ursula');
-- Nulls leave a field as is; clear sets a nullable field to null.
SELECT team_id, name, description, department, manager_id
  FROM taskforce.update_team('research', name => 'Research Lab', clear => '{manager_id}');
COMMIT;

-- Team errors: bad role (22023, the valid ones in the hint), unknown team
-- or user (42704), duplicates (42710), nulls (22004), bad clear (22023).
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tess');
SET LOCAL ROLE proj_app;
SAVEPOINT s;
SELECT taskforce.add_team_member('platform', 'dora', 'boss');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_team_member('nowhere', 'dora');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_team_member('platform', 'nobody');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_team_member('platform', 'gina');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_team_member('platform', 'tom');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_team('platform', 'Another');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_team('platform2', 'Platform');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_team(NULL, 'Nameless');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_team('blank', '  ');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_team('bad id', 'Bad id');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_team('managed', 'Managed', manager_id => 'nobody');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_team('research', name => 'Platform');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_team('research', clear => '{name}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_team('research', department => 'X', clear => '{department}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_team('nowhere', name => 'X');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.remove_team_member('platform', 'dora');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.delete_team('nowhere');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Team denials: without team:* (pat holds only project permissions).
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SAVEPOINT s;
SELECT taskforce.create_team('ops', 'Ops');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_team('platform', description => 'mine');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.delete_team('platform');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_team_member('platform', 'pat');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.remove_team_member('platform', 'tom');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- Naming another tenant is refused even with the permission.
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tess');
SET LOCAL ROLE proj_app;
SELECT taskforce.create_team('ops', 'Ops', tenant_id => 'proj-globex');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Without a context an application role gets nothing done.
\c - proj_app
SELECT taskforce.create_team('ops', 'Ops', tenant_id => 'proj-acme');
\echo :LAST_ERROR_SQLSTATE
\c - proj_admin

-- Every user of the tenant sees the teams and their members; another
-- tenant's users do not.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'ursula');
SET LOCAL ROLE proj_app;
SELECT team_id, name, department, manager_id FROM taskforce.teams ORDER BY team_id;
SELECT team_id, user_id, team_role FROM taskforce.team_members ORDER BY team_id, user_id;
COMMIT;
BEGIN;
SELECT taskforce.act_as('proj-globex', 'gina');
SET LOCAL ROLE proj_app;
SELECT count(*) AS acme_teams FROM taskforce.teams;
SELECT count(*) AS acme_team_members FROM taskforce.team_members;
COMMIT;

-- 2. Projects, as pat (pm): all seed 003 fields; the owner is the one
-- named, else the creator.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SELECT tenant_id, project_id, name, description, owner_id, team_id, department, business_unit,
       cost_center, status, priority, security_level, data_classification, compliance_requirements,
       visibility, budget, start_date, end_date
  FROM taskforce.create_project('portal', 'Customer Portal',
        description => 'Enterprise customer management system', owner_id => 'olive',
        team_id => 'platform', department => 'Engineering', business_unit => 'Digital Products',
        cost_center => 'ENG-001', status => 'active', priority => 'high',
        security_level => 'confidential', data_classification => '{PII}',
        compliance_requirements => '{GDPR,SOX}', visibility => 'team', budget => 500000.00,
        start_date => '2026-01-01', end_date => '2026-12-31');
SELECT project_id, owner_id, team_id, status, priority, security_level, visibility
  FROM taskforce.create_project('ledger', 'Ledger', owner_id => 'olive', team_id => 'platform',
                                visibility => 'private');
SELECT project_id, owner_id, team_id, status, priority, security_level, visibility, data_classification, budget
  FROM taskforce.create_project('handbook', 'Handbook', visibility => 'public');
SELECT project_id, user_id, project_role, added_by FROM taskforce.add_project_member('portal', 'dora', 'viewer');
SELECT project_id, user_id, project_role FROM taskforce.add_project_member('ledger', 'dora');
SELECT project_id, user_id, project_role FROM taskforce.add_project_member('handbook', 'ursula', 'lead');
-- Nulls leave fields as they are; clear empties nullable ones.
SELECT project_id, name, priority, budget, cost_center, end_date
  FROM taskforce.update_project('handbook', priority => 'low', budget => 1200, cost_center => 'HR-7',
                                end_date => '2027-06-30');
SELECT project_id, name, priority, budget, cost_center, end_date, visibility
  FROM taskforce.update_project('handbook', clear => '{budget,end_date}');
COMMIT;

-- Project errors.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SAVEPOINT s;
SELECT taskforce.create_project('p1', 'P1', status => 'done');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', priority => 'urgent');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', security_level => 'secret');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', visibility => 'hidden');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_project('portal', status => 'Active');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_project_member('portal', 'tom', 'owner');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', team_id => 'nowhere');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', owner_id => 'gina');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_project('nowhere', priority => 'low');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_project_member('portal', 'nobody');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_project_member('nowhere', 'dora');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.remove_project_member('portal', 'tom');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.delete_project('nowhere');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('portal', 'Another portal');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('portal2', 'Customer Portal');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_project('ledger', name => 'Handbook');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_project_member('portal', 'dora');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project(NULL, 'Nameless');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', visibility => NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', data_classification => ARRAY['PII', NULL]);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_project_member('portal', NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_project(NULL, priority => 'low');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', budget => -1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', budget => 1e20);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', 'P1', start_date => '2026-05-01', end_date => '2026-04-01');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- The merged dates count: portal ends 2026-12-31.
SELECT taskforce.update_project('portal', start_date => '2027-01-01');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_project('portal', clear => '{status}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('bad id', 'Bad id');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_project('p1', ' ');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Nothing half-written: after the failures, the tables hold what the
-- successes wrote.
\c - postgres
SELECT (SELECT count(*) FROM taskforce.projects WHERE tenant_id = 'proj-acme') AS projects,
       (SELECT count(*) FROM taskforce.project_members WHERE tenant_id = 'proj-acme') AS members,
       (SELECT count(*) FROM taskforce.teams WHERE tenant_id = 'proj-acme') AS teams,
       (SELECT count(*) FROM taskforce.team_members WHERE tenant_id = 'proj-acme') AS team_members;
\c - proj_admin

-- Project denials: tess holds no project permission; cleo may only create.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tess');
SET LOCAL ROLE proj_app;
SAVEPOINT s;
SELECT taskforce.create_project('ops', 'Ops');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_project('handbook', priority => 'high');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.delete_project('handbook');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_project_member('handbook', 'tess');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.remove_project_member('handbook', 'ursula');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- cleo creates a private project and owns it, but may not change it.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'cleo');
SET LOCAL ROLE proj_app;
SELECT project_id, owner_id, visibility FROM taskforce.create_project('diary', 'Diary', visibility => 'private');
SAVEPOINT s;
SELECT taskforce.update_project('diary', visibility => 'public');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.add_project_member('diary', 'tom');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
COMMIT;

-- 3. Visibility.  portal: team (team platform: tom, olive; owner olive;
-- direct member dora); ledger: private (same team and owner; direct
-- member dora); handbook: public (owner pat, direct member ursula);
-- diary: private (owner cleo).  Each user lists the projects it sees.
BEGIN;
SELECT who, public.proj_sees(who) AS sees
  FROM unnest(ARRAY['olive', 'dora', 'tom', 'ursula', 'cleo', 'tess', 'pat', 'ada']) AS who;
SELECT public.proj_sees('gina', 'proj-globex') AS gina_in_globex;
COMMIT;
-- The same rows the application sees, with the reasons, for one user each.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tom');
SET LOCAL ROLE proj_app;
-- tom (team member) sees portal (team) and handbook (public), not ledger
-- (private: its team does not count) or diary.
SELECT project_id, visibility, team_id FROM taskforce.projects ORDER BY project_id;
SELECT count(*) AS ledger_rows FROM taskforce.projects WHERE project_id = 'ledger';
COMMIT;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'ursula');
SET LOCAL ROLE proj_app;
-- ursula: public handbook only (her team research has no project).
SELECT project_id, visibility FROM taskforce.projects ORDER BY project_id;
-- Direct members of projects she cannot see are hidden too.
SELECT project_id, user_id FROM taskforce.project_members ORDER BY project_id, user_id;
COMMIT;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'dora');
SET LOCAL ROLE proj_app;
SELECT project_id, user_id, project_role FROM taskforce.project_members ORDER BY project_id, user_id;
COMMIT;
-- A user of another tenant sees none of acme's rows, even as its admin.
BEGIN;
SELECT taskforce.act_as('proj-globex', 'gina');
SET LOCAL ROLE proj_app;
SELECT count(*) AS projects, (SELECT count(*) FROM taskforce.project_members) AS members,
       (SELECT count(*) FROM taskforce.project_membership) AS memberships
  FROM taskforce.projects;
COMMIT;
-- Without a context: nothing.
\c - proj_app
SELECT count(*) AS projects FROM taskforce.projects;
\c - proj_admin
-- Rows change only through the functions, even for a project's owner.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'olive');
SET LOCAL ROLE proj_app;
SAVEPOINT s;
UPDATE taskforce.projects SET visibility = 'public' WHERE project_id = 'ledger';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
INSERT INTO taskforce.project_members (project_id, user_id, added_by) VALUES ('ledger', 'olive', 'olive');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
DELETE FROM taskforce.team_members;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- The visibility policies are restrictive: tenant isolation still holds,
-- and the isolation report finds nothing to say about these tables.
\c - postgres
SELECT polrelid::regclass AS table_name, polname, polpermissive, polcmd
  FROM pg_policy WHERE polrelid IN ('taskforce.projects'::regclass, 'taskforce.project_members'::regclass,
                                    'taskforce.teams'::regclass, 'taskforce.team_members'::regclass)
 ORDER BY table_name::text, polname;
SELECT count(*) AS findings FROM taskforce.isolation_report()
 WHERE table_name::text ~ '^taskforce\.(projects|project_members|teams|team_members)$';
\c - proj_admin
-- Changing visibility changes who sees the project at once.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SELECT project_id, visibility FROM taskforce.update_project('ledger', visibility => 'team');
COMMIT;
BEGIN;
SELECT public.proj_sees('tom') AS tom_sees_after_team;
COMMIT;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SELECT project_id, visibility FROM taskforce.update_project('ledger', visibility => 'private');
COMMIT;
BEGIN;
SELECT public.proj_sees('tom') AS tom_sees_after_private;
COMMIT;

-- 4. Membership, and how: owner, direct, team (not for private projects).
BEGIN;
SELECT taskforce.act_as('proj-acme', 'ada');
SET LOCAL ROLE proj_app;
SELECT project_id, user_id, membership, role, team_id FROM taskforce.project_membership
 ORDER BY project_id, user_id, membership;
COMMIT;
-- A team member sees the membership of the projects it sees.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tom');
SET LOCAL ROLE proj_app;
SELECT project_id, user_id, membership FROM taskforce.project_membership ORDER BY 1, 2, 3;
COMMIT;
-- The ACL subsystem's view of it (_user_projects, internal: read here as
-- the superuser) agrees with the view, user by user.
\c - postgres
SELECT u.user_id, (SELECT string_agg(p, ' ' ORDER BY p) FROM taskforce._user_projects('proj-acme', u.user_id) AS p) AS projects
  FROM taskforce.users AS u WHERE u.tenant_id = 'proj-acme' ORDER BY u.user_id;
SELECT count(*) AS disagreements FROM (
    (SELECT u.user_id, p FROM taskforce.users AS u, taskforce._user_projects(u.tenant_id, u.user_id) AS p
      WHERE u.tenant_id = 'proj-acme'
     EXCEPT
     SELECT user_id, project_id FROM taskforce.project_membership WHERE tenant_id = 'proj-acme')
    UNION ALL
    (SELECT user_id, project_id FROM taskforce.project_membership WHERE tenant_id = 'proj-acme'
     EXCEPT
     SELECT u.user_id, p FROM taskforce.users AS u, taskforce._user_projects(u.tenant_id, u.user_id) AS p
      WHERE u.tenant_id = 'proj-acme')) AS d;
\c - proj_admin
-- Leaving the team takes away the membership through it, and with it the
-- team project (tom is no direct member).
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tess');
SET LOCAL ROLE proj_app;
SELECT taskforce.remove_team_member('platform', 'tom');
COMMIT;
BEGIN;
SELECT public.proj_sees('tom') AS tom_sees_after_leaving;
COMMIT;
\c - postgres
SELECT count(*) AS tom_memberships FROM taskforce.project_membership WHERE user_id = 'tom';
SELECT count(*) AS tom_projects FROM taskforce._user_projects('proj-acme', 'tom');
\c - proj_admin
-- Joining again gives it back.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tess');
SET LOCAL ROLE proj_app;
SELECT team_id, user_id FROM taskforce.add_team_member('platform', 'tom');
COMMIT;
BEGIN;
SELECT public.proj_sees('tom') AS tom_sees_after_joining;
COMMIT;
-- Removing a direct member: dora loses ledger (private, so its team would
-- not count), and keeps portal, where she is still a direct member.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SELECT taskforce.remove_project_member('ledger', 'dora');
COMMIT;
BEGIN;
SELECT public.proj_sees('dora') AS dora_sees_after_removal;
COMMIT;

-- 5. Audit: a project change is in the trail, attributed to the user.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SELECT project_id, status FROM taskforce.update_project('portal', status => 'paused');
COMMIT;
\c - postgres
SELECT action, row_key, user_id, old_values->>'status' AS old_status, new_values->>'status' AS new_status
  FROM taskforce.audit_log
 WHERE object = 'taskforce.projects' AND row_key = '{"tenant_id": "proj-acme", "project_id": "portal"}'
 ORDER BY txid, entry_seq;
SELECT object, action, count(*) FROM taskforce.audit_log
 WHERE tenant_id = 'proj-acme' AND object ~ '^taskforce\.(projects|project_members|teams|team_members)$'
 GROUP BY object, action ORDER BY object, action;
\c - proj_admin

-- 6. Deleting: a team's projects lose their team (and its members the
-- membership through it); a project's direct members go with it.
BEGIN;
SELECT taskforce.act_as('proj-acme', 'tess');
SET LOCAL ROLE proj_app;
SELECT taskforce.delete_team('research');
COMMIT;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'pat');
SET LOCAL ROLE proj_app;
SELECT project_id, status FROM taskforce.update_project('handbook', status => 'archived');
SELECT taskforce.delete_project('handbook');
SELECT project_id FROM taskforce.projects ORDER BY project_id;
SELECT count(*) AS handbook_members FROM taskforce.project_members WHERE project_id = 'handbook';
COMMIT;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'ada');
SET LOCAL ROLE proj_app;
SELECT taskforce.delete_team('platform');
SELECT project_id, team_id FROM taskforce.projects ORDER BY project_id;
COMMIT;
BEGIN;
SELECT public.proj_sees('tom') AS tom_sees_without_team;
COMMIT;

-- 7. Administrators without a context name the tenant.
SELECT team_id, name FROM taskforce.create_team('ops', 'Ops', tenant_id => 'proj-globex');
SELECT project_id, owner_id, team_id FROM taskforce.create_project('runbook', 'Runbook', team_id => 'ops',
                                                                    tenant_id => 'proj-globex');
SELECT project_id, user_id FROM taskforce.add_project_member('runbook', 'gina', tenant_id => 'proj-globex');
SELECT taskforce.create_project('runbook2', 'Runbook 2');
\echo :LAST_ERROR_SQLSTATE
SELECT team_id, user_id FROM taskforce.add_team_member('ops', 'gina', tenant_id => 'proj-globex');

-- 7b. Who is a member depends on the owner, the team and the visibility:
-- changing them is managing members, which project:update alone may not.
\c - proj_admin
SELECT role_name FROM taskforce.create_role('updater', ARRAY['project:update'], tenant_id => 'proj-acme');
SELECT user_id FROM taskforce.create_user('mal', 'mal', tenant_id => 'proj-acme');
SELECT role_name FROM taskforce.grant_role('mal', 'updater', tenant_id => 'proj-acme');
BEGIN;
SELECT taskforce.act_as('proj-acme', 'mal');
SELECT priority FROM taskforce.update_project('ledger', priority => 'critical');
SELECT taskforce.update_project('ledger', owner_id => 'mal');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'mal');
SELECT taskforce.update_project('ledger', visibility => 'public');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('proj-acme', 'mal');
SELECT taskforce.update_project('ledger', clear => '{team_id}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 8. A deleted tenant's projects and teams take no write; offboarding
-- removes them with its users.
SELECT tenant_id, status FROM taskforce.delete_tenant('proj-globex');
SELECT taskforce.update_project('runbook', priority => 'high', tenant_id => 'proj-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_team('ops2', 'Ops 2', tenant_id => 'proj-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.offboard_tenant('proj-globex', dry_run => false) WHERE rows > 0;
\c - postgres
SELECT (SELECT count(*) FROM taskforce.projects WHERE tenant_id = 'proj-globex') AS projects,
       (SELECT count(*) FROM taskforce.project_members WHERE tenant_id = 'proj-globex') AS members,
       (SELECT count(*) FROM taskforce.teams WHERE tenant_id = 'proj-globex') AS teams,
       (SELECT count(*) FROM taskforce.team_members WHERE tenant_id = 'proj-globex') AS team_members;
DROP FUNCTION public.proj_sees(text, text);
