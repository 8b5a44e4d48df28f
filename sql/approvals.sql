-- approvals: approval workflows and requests (issue 11, seed 001 §4.2 and
-- §9.3) as an application uses them: workflow management and its errors,
-- N approvals from allowed roles, M rejections, one vote per person, no
-- self-approval, nothing after a decision, expiry (on action and by
-- expire_requests), the K-distinct-teams rule as a matching (a case where
-- counting the approvers' distinct teams would be wrong), comments,
-- cancelling, pending_for_me, another tenant's requests, the history.
-- Trusted middleware (appr_admin) establishes each request's context with
-- act_as (public.appr_as); the calls run as the application role appr_app.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS appr_app, appr_admin;
CREATE ROLE appr_app LOGIN IN ROLE taskforce_app;
CREATE ROLE appr_admin LOGIN IN ROLE taskforce_admin;
GRANT appr_app TO appr_admin;
SELECT count(*) FROM taskforce.create_tenant('appr-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('appr-globex', 'Globex');
-- One request's context: act_as the user, then the application role for
-- the rest of the transaction.  Called with \gset, so it prints nothing.
CREATE FUNCTION public.appr_as(who text, tenant text DEFAULT 'appr-acme') RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM taskforce.act_as(tenant, who);
    SET LOCAL ROLE appr_app;
END
$$;
-- The titles of the requests pending for a user (pending_for_me), one
-- request (act_as) per call, as the application role.
CREATE FUNCTION public.appr_pending(who text, tenant text DEFAULT 'appr-acme') RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    titles text;
BEGIN
    PERFORM taskforce.act_as(tenant, who);
    SET LOCAL ROLE appr_app;
    SELECT coalesce(string_agg(p.title, ', ' ORDER BY p.request_id), '-') INTO titles
      FROM taskforce.pending_for_me() AS p;
    RESET ROLE;
    RETURN titles;
END
$$;
-- Error messages name request ids: start them at 1000, whatever the
-- suites before made.
ALTER SEQUENCE taskforce.approval_requests_request_id_seq RESTART WITH 1000;
RESET client_min_messages;

-- The permission: a system one that, among the system roles, only admin
-- ('*') holds.
SELECT permission, is_system FROM taskforce.permissions WHERE permission = 'workflow:manage';
SELECT s.role_name FROM taskforce.system_roles AS s
 WHERE taskforce.permission_matches(s.permissions, 'workflow:manage') ORDER BY 1;

-- Users of acme: alice and bob design agents, carol is an admin, dave a
-- viewer, wendy manages workflows (custom role), lena and leo are legal
-- counsel, sam is in security, the reviewers tina, uma and vic review, and
-- the teams red and blue hold some of them.  gina is globex's admin.
\c - appr_admin
SELECT role_name FROM (VALUES ('workflow_admin', ARRAY['workflow:manage']),
                              ('legal_counsel', ARRAY['agent:read']),
                              ('security_admin', ARRAY['agent:read']),
                              ('reviewer', ARRAY['agent:read'])) AS v(r, p),
       taskforce.create_role(v.r, v.p, tenant_id => 'appr-acme') ORDER BY 1;
SELECT count(*) FROM unnest(ARRAY['alice', 'bob', 'carol', 'dave', 'wendy', 'lena', 'leo', 'sam',
                                  'tina', 'uma', 'vic']) AS u,
       taskforce.create_user(u, u, tenant_id => 'appr-acme') AS cu;
SELECT user_id, role_name
  FROM (VALUES ('alice', 'agent_designer'), ('bob', 'agent_designer'), ('carol', 'admin'),
               ('dave', 'viewer'), ('wendy', 'workflow_admin'), ('lena', 'legal_counsel'),
               ('leo', 'legal_counsel'), ('sam', 'security_admin'), ('tina', 'reviewer'),
               ('uma', 'reviewer'), ('vic', 'reviewer')) AS v(u, r),
       taskforce.grant_role(v.u, v.r, tenant_id => 'appr-acme') ORDER BY 1;
SELECT team_id FROM taskforce.create_team('red', 'Red', tenant_id => 'appr-acme');
SELECT team_id FROM taskforce.create_team('blue', 'Blue', tenant_id => 'appr-acme');
SELECT team_id, user_id FROM (VALUES ('red', 'tina'), ('blue', 'tina'), ('red', 'uma')) AS v(t, u),
       taskforce.add_team_member(v.t, v.u, tenant_id => 'appr-acme') ORDER BY 1, 2;
SELECT user_id FROM taskforce.create_user('gina', 'gina', tenant_id => 'appr-globex');
SELECT role_name FROM taskforce.grant_role('gina', 'admin', tenant_id => 'appr-globex');

-- 1. Workflows, as wendy (workflow:manage).  Seed 001 §4.2's strict
-- publishing workflow: two approvals from admin or agent_designer, 48
-- hours; §9.3's data export: legal counsel and security.
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT tenant_id, workflow_id, name, request_type, required_approvals, required_rejections,
       approver_roles, min_distinct_teams, expires_after, allow_self_approval, auto_apply, enabled, created_by
  FROM taskforce.create_workflow('strict-publish', 'Strict Agent Publishing', 'agent_publish', 2,
                                 ARRAY['admin', 'agent_designer'],
                                 description => 'Requires 2 approvers for production agents',
                                 expires_after => '48 hours');
SELECT workflow_id, request_type, required_approvals, approver_roles, expires_after
  FROM taskforce.create_workflow('data-export-approval', 'Data Export Approval', 'data_export', 2,
                                 ARRAY['legal_counsel', 'security_admin'], expires_after => '24 hours');
-- Rejected after two rejections; the requester may approve their own.
SELECT workflow_id, request_type, required_approvals, required_rejections, allow_self_approval
  FROM taskforce.create_workflow('budget', 'Budget changes', 'custom:budget', 1, ARRAY['admin', 'legal_counsel'],
                                 required_rejections => 2, allow_self_approval => true);
-- Two approvers from two distinct teams.
SELECT workflow_id, request_type, required_approvals, min_distinct_teams
  FROM taskforce.create_workflow('cross-team', 'Cross-team review', 'custom:review', 2, ARRAY['reviewer'],
                                 min_distinct_teams => 2);
-- Expires almost at once (the expiry tests below).
SELECT workflow_id, request_type, expires_after
  FROM taskforce.create_workflow('hasty', 'Hasty', 'permission_escalation', 1, ARRAY['admin'],
                                 expires_after => '10 milliseconds');
-- update_workflow: nulls keep a field, clear empties one; disable_workflow.
SELECT workflow_id, description, expires_after
  FROM taskforce.update_workflow('data-export-approval', description => 'legal and security', clear => '{expires_after}');
SELECT workflow_id, name, enabled FROM taskforce.create_workflow('spare', 'Spare', 'custom:spare', 1, ARRAY['admin']);
SELECT workflow_id, enabled FROM taskforce.disable_workflow('spare');
-- A disabled workflow leaves its type free for another.
SELECT workflow_id, enabled FROM taskforce.create_workflow('spare-2', 'Spare 2', 'custom:spare', 1, ARRAY['admin']);
-- A webhook endpoint (events.sql) receives the request events.
SELECT taskforce.create_webhook_endpoint('approvals-hook', 'https://hooks.example/approvals',
    ARRAY['request_created', 'request_approved', 'request_rejected', 'request_expired'],
    convert_to('appr-webhook-secret-0123456789', 'UTF8'));
COMMIT;

-- Workflow errors: bad values (22023, the valid ones in the hint), unknown
-- role (42704), duplicates (42710, also a second enabled workflow of a
-- type), nulls (22004), unknown workflow (42704).
BEGIN;
SELECT public.appr_as('wendy') \gset
SAVEPOINT s;
SELECT taskforce.create_workflow('w1', 'W', 'publish', 1, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'custom:Bad', 1, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w 1', 'W', 'custom:x', 1, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'custom:x', 0, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'custom:x', 1, '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'custom:x', 1, ARRAY['admin', 'wizard', 'elf']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'custom:x', 2, ARRAY['admin'], min_distinct_teams => 3);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'custom:x', 1, ARRAY['admin'], expires_after => '-1 hour');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'data_export', 1, ARRAY['admin'], auto_apply => true);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('budget', 'W', 'custom:x', 1, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow('w1', 'W', 'agent_publish', 1, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_workflow('spare', enabled => true);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_workflow(NULL, 'W', 'custom:x', 1, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_workflow('nowhere', name => 'X');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_workflow('budget', min_distinct_teams => 1, clear => '{min_distinct_teams}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Without workflow:manage (alice designs agents): 42501; the tables are
-- not writable by the application role.
BEGIN;
SELECT public.appr_as('alice') \gset
SAVEPOINT s;
SELECT taskforce.create_workflow('mine', 'Mine', 'custom:mine', 1, ARRAY['admin']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.disable_workflow('strict-publish');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
UPDATE taskforce.approval_workflows SET required_approvals = 1;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
INSERT INTO taskforce.approval_requests (tenant_id, request_type, workflow_id, resource_type, resource_id,
    requester_id, title, required_approvals, required_rejections, approver_roles, allow_self_approval, auto_apply)
VALUES ('appr-acme', 'data_export', 'data-export-approval', 'x', 'y', 'alice', 't', 1, 1, '{admin}', true, false);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 2. A data export request (seed 001 §9.3): dave asks, two of legal
-- counsel and security approve.  Every user of the tenant may ask.
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('data_export', 'dataset', 'customers-q3', 'Export Q3 customer data',
                                  'for the auditors', '{"rows": 1200}') AS export_request \gset
SELECT request_type, workflow_id, resource_type, resource_id, requester_id, title, description, payload,
       content_hash, status, required_approvals, required_rejections, approver_roles, min_distinct_teams,
       allow_self_approval, auto_apply, expires_at IS NULL AS never_expires, decided_at
  FROM taskforce.approval_requests WHERE request_id = :export_request;
COMMIT;
BEGIN;
SELECT public.appr_as('dave') \gset
-- One pending request per resource and type (42710); no workflow of a
-- type: 42704; bad values: 22023, 22004.
SAVEPOINT s;
SELECT taskforce.request_approval('data_export', 'dataset', 'customers-q3', 'Again');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('custom:nothing', 'dataset', 'customers-q3', 'Nothing');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('export', 'dataset', 'customers-q3', 'Bad type');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('data_export', 'dataset', 'customers-q4', '  ');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('data_export', 'dataset', 'customers-q4', 'Payload', payload => '[1]');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('data_export', NULL, 'customers-q4', 'No type');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- What each user may act on: lena, leo and sam (approver roles), not dave
-- (the requester), not alice (no approver role).
BEGIN;
SELECT who, public.appr_pending(who) AS pending
  FROM unnest(ARRAY['lena', 'leo', 'sam', 'dave', 'alice']) AS who ORDER BY who;
COMMIT;

-- Votes.  alice holds no approver role, dave asked (no self-approval):
-- 42501.  lena approves (one of two), then cannot vote again (42710).
BEGIN;
SELECT public.appr_as('alice') \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:export_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT public.appr_as('dave') \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:export_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT public.appr_as('lena') \gset
SELECT status, decided_at FROM taskforce.approve_request(:export_request, 'legal basis checked');
SELECT request_id FROM taskforce.pending_approvals;
COMMIT;
BEGIN;
SELECT public.appr_as('lena') \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:export_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.reject_request(:export_request, 'changed my mind');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- A comment is not a vote: any approver or the requester may add some.
SELECT action, actor_id, actor_roles, actor_teams, comment
  FROM taskforce.comment_request(:export_request, 'the export must be encrypted');
COMMIT;
-- sam's approval is the second: approved.
BEGIN;
SELECT public.appr_as('sam') \gset
SELECT status, decided_at IS NOT NULL AS decided FROM taskforce.approve_request(:export_request, 'ok for security');
COMMIT;
-- Nothing after a decision: a vote or a comment is 55000.
BEGIN;
SELECT public.appr_as('leo') \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:export_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.comment_request(:export_request, 'late');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.cancel_request(:export_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT public.appr_as('dave') \gset
SAVEPOINT s;
SELECT taskforce.cancel_request(:export_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- No self-approval: lena (legal counsel) asks; she may comment on her own
-- request but not vote on it (42501), and it is not pending for her.
BEGIN;
SELECT public.appr_as('lena') \gset
SELECT taskforce.request_approval('data_export', 'dataset', 'contracts', 'Export contracts') AS lena_request \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:lena_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.reject_request(:lena_request, 'never mind');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT action, actor_id FROM taskforce.comment_request(:lena_request, 'urgent');
SELECT count(*) AS pending_for_lena FROM taskforce.pending_for_me() WHERE request_id = :lena_request;
COMMIT;
-- dave holds no approver role: no comment either (42501).
BEGIN;
SELECT public.appr_as('dave') \gset
SAVEPOINT s;
SELECT taskforce.comment_request(:lena_request, 'me too');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 3. Rejections (custom:budget: two reject, the requester may vote).
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('custom:budget', 'budget', 'fy27', 'Raise the FY27 budget') AS budget_request \gset
COMMIT;
BEGIN;
SELECT public.appr_as('lena') \gset
SAVEPOINT s;
-- A rejection gives its reason.
SELECT taskforce.reject_request(:budget_request, NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status FROM taskforce.reject_request(:budget_request, 'too much');
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT status, decided_at IS NOT NULL AS decided FROM taskforce.reject_request(:budget_request, 'no');
COMMIT;
-- Self-approval where the workflow allows it: carol asks and approves.
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT taskforce.request_approval('custom:budget', 'budget', 'fy28', 'FY28 budget') AS self_request \gset
SELECT request_id FROM taskforce.pending_for_me() WHERE request_id = :self_request;
SELECT status, requester_id FROM taskforce.approve_request(:self_request);
COMMIT;

-- 4. Distinct teams (custom:review: two approvals from two teams).  tina
-- is in red and blue, uma in red, vic in no team.  Counting the distinct
-- teams of the approvers is wrong: tina and vic bring {red, blue}, two
-- teams, but one person stands for one team only, so they cover one.
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('custom:review', 'document', 'design-1', 'Review design 1') AS review_1 \gset
SELECT taskforce.request_approval('custom:review', 'document', 'design-2', 'Review design 2') AS review_2 \gset
COMMIT;
BEGIN;
SELECT public.appr_as('tina') \gset
SELECT status FROM taskforce.approve_request(:review_1);
SELECT status FROM taskforce.approve_request(:review_2);
COMMIT;
BEGIN;
SELECT public.appr_as('vic') \gset
SELECT status FROM taskforce.approve_request(:review_1);
COMMIT;
-- Two approvals, two distinct teams among them, still pending:
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT r.request_id = :review_1 AS review_1, r.status,
       (SELECT count(*) FROM taskforce.approval_actions AS a
         WHERE a.request_id = r.request_id AND a.action = 'approve') AS approvals,
       (SELECT count(DISTINCT t) FROM taskforce.approval_actions AS a, unnest(a.actor_teams) AS t
         WHERE a.request_id = r.request_id AND a.action = 'approve') AS naive_distinct_teams
  FROM taskforce.approval_requests AS r WHERE r.request_id = :review_1;
COMMIT;
-- uma (red) makes it: tina stands for blue, uma for red.
BEGIN;
SELECT public.appr_as('uma') \gset
SELECT status FROM taskforce.approve_request(:review_1);
-- On review_2 tina voted first: a greedy count would have given her red
-- and found no team for uma; the matching moves tina to blue.
SELECT status FROM taskforce.approve_request(:review_2);
COMMIT;
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT a.request_id = :review_1 AS review_1, a.actor_id, a.actor_teams
  FROM taskforce.approval_actions AS a
 WHERE a.request_id IN (:review_1, :review_2) AND a.action = 'approve' ORDER BY a.action_id;
COMMIT;
-- The matching itself (internal, as the superuser): an approver in two
-- teams counts once, and a longer augmenting path: a1 {x, y}, a2 {x}, a3
-- {y, z} all match.
\c - postgres
SELECT m.teams, taskforce._approval_team_matching(m.teams) AS matched
  FROM (VALUES ('[]'::jsonb), ('[[]]'), ('[["red", "blue"]]'), ('[["red", "blue"], []]'),
               ('[["red", "blue"], ["red"]]'), ('[["red"], ["red"], ["red"]]'),
               ('[["x", "y"], ["x"], ["y", "z"]]'), ('[["x", "y"], ["x"], ["y"]]'),
               ('[["a", "b", "c"], ["a"], ["b"], ["a", "b"]]')) AS m(teams);
\c - appr_admin

-- 5. Expiry.  The hasty workflow's requests expire after 10 ms: acting on
-- one is 55000, it is not pending for anyone, and expire_requests marks
-- it (workflow:manage for a context: 42501 without).
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('permission_escalation', 'user', 'dave', 'Make dave an admin') AS hasty_request \gset
COMMIT;
SELECT pg_sleep(0.05);
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT count(*) AS pending_for_carol FROM taskforce.pending_for_me() WHERE request_id = :hasty_request;
SAVEPOINT s;
SELECT taskforce.approve_request(:hasty_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT public.appr_as('alice') \gset
SAVEPOINT s;
SELECT taskforce.expire_requests();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT taskforce.expire_requests() AS expired;
SELECT taskforce.expire_requests() AS expired_again;
SELECT status, decided_at IS NOT NULL AS decided FROM taskforce.approval_requests WHERE request_id = :hasty_request;
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:hasty_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- An overdue request does not block a new one for the same resource: it
-- expires when the new one is made.
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('permission_escalation', 'user', 'bob', 'Make bob an admin') AS hasty_2 \gset
COMMIT;
SELECT pg_sleep(0.05);
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('permission_escalation', 'user', 'bob', 'Make bob an admin, again') > :hasty_2 AS newer;
SELECT title, status FROM taskforce.approval_requests WHERE resource_id = 'bob' ORDER BY request_id;
COMMIT;
-- The scheduled job's way: an administrator without context expires every
-- tenant's overdue requests, but leaves a deleted tenant's alone (its rows
-- refuse writes: it must not make the job fail for everyone).
SELECT count(*) FROM taskforce.create_tenant('appr-gone', 'Gone');
SELECT user_id FROM taskforce.create_user('gus', 'gus', tenant_id => 'appr-gone');
SELECT workflow_id FROM taskforce.create_workflow('hasty', 'Hasty', 'permission_escalation', 1, ARRAY['admin'],
                                                  expires_after => '10 milliseconds', tenant_id => 'appr-gone');
BEGIN;
SELECT public.appr_as('gus', 'appr-gone') \gset
SELECT taskforce.request_approval('permission_escalation', 'user', 'gus', 'Make gus an admin') AS gone_request \gset
COMMIT;
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('permission_escalation', 'user', 'eve', 'Make eve an admin') AS hasty_3 \gset
COMMIT;
SELECT status FROM taskforce.delete_tenant('appr-gone', 'test');
SELECT pg_sleep(0.05);
SELECT taskforce.expire_requests() >= 1 AS expired_some;
\c - postgres
SELECT tenant_id, title, status FROM taskforce.approval_requests
 WHERE request_id IN (:gone_request, :hasty_3) ORDER BY request_id;
\c - appr_admin

-- 6. Cancelling: the requester or a holder of workflow:manage; others
-- 42501; a decided request 55000.
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT taskforce.request_approval('data_export', 'dataset', 'leads', 'Export leads') AS cancel_1 \gset
SELECT taskforce.request_approval('custom:review', 'document', 'design-3', 'Review design 3') AS cancel_2 \gset
COMMIT;
BEGIN;
SELECT public.appr_as('lena') \gset
SAVEPOINT s;
SELECT taskforce.cancel_request(:cancel_1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT public.appr_as('dave') \gset
SELECT status FROM taskforce.cancel_request(:cancel_1);
SAVEPOINT s;
SELECT taskforce.cancel_request(:cancel_1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
COMMIT;
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT status FROM taskforce.cancel_request(:cancel_2);
COMMIT;

-- 7. Another tenant: gina (globex's admin) cannot name acme's requests
-- (42704, as for one that does not exist), sees none of them, and none is
-- pending for her.
BEGIN;
SELECT public.appr_as('gina', 'appr-globex') \gset
SELECT count(*) AS requests_seen, (SELECT count(*) FROM taskforce.pending_for_me()) AS pending
  FROM taskforce.approval_requests;
SAVEPOINT s;
SELECT taskforce.approve_request(:review_2);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.cancel_request(:review_2);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.approve_request(999999);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Without a context the application role sees nothing and cannot act.
SET ROLE appr_app;
SELECT count(*) AS requests, (SELECT count(*) FROM taskforce.approval_actions) AS actions,
       (SELECT count(*) FROM taskforce.approval_workflows) AS workflows
  FROM taskforce.approval_requests;
SELECT taskforce.approve_request(:review_2);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.expire_requests();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;


-- 8. Seed 001 §4.2, the complete example, with the agent catalog
-- (catalog.sql): alice (agent_designer) creates the agent and version
-- 1.0.0 and submits it, which opens a request under the strict-publish
-- workflow (two approvals from admin or agent_designer, 48 hours) bound to
-- the version's config hash.
BEGIN;
SELECT public.appr_as('alice') \gset
SELECT agent_id, name, owner_id
  FROM taskforce.create_agent('customer-support-agent', 'Customer Support Agent',
                              'Handles customer inquiries via email and chat', 'support',
                              ARRAY['production', 'nlp', 'customer-facing'],
                              '{"tools": ["semantic_search", "send_email"], "max_iterations": 10, "temperature": 0.7}');
SELECT version, status FROM taskforce.create_version('customer-support-agent', '1.0.0',
    '{"tools": ["semantic_search", "send_email", "create_ticket"], "max_iterations": 15, "temperature": 0.5,
      "rag_config": {"index": "support-docs", "max_results": 5}}',
    'Added ticket creation capability and improved RAG integration');
SELECT taskforce.submit_version('customer-support-agent', '1.0.0') AS publish_request \gset
SELECT r.request_type, r.workflow_id, r.resource_type, r.resource_id, r.requester_id, r.title, r.payload,
       r.status, r.required_approvals, r.approver_roles, r.expires_at - r.created_at AS expires_in,
       r.content_hash = v.config_hash AS binds_config_hash, v.status AS version_status
  FROM taskforce.approval_requests AS r, taskforce.agent_versions AS v
 WHERE r.request_id = :publish_request AND v.agent_id = 'customer-support-agent' AND v.version = '1.0.0';
-- alice may not approve her own request.
SAVEPOINT s;
SELECT taskforce.approve_request(:publish_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
COMMIT;
-- Pending for bob and carol, not for alice or dave (no approver role).
BEGIN;
SELECT who, public.appr_pending(who) AS pending
  FROM unnest(ARRAY['alice', 'bob', 'carol', 'dave']) AS who ORDER BY who;
COMMIT;
-- carol cannot approve the version yet: the request is not approved.
BEGIN;
SELECT public.appr_as('carol') \gset
SAVEPOINT s;
SELECT taskforce.approve_version('customer-support-agent', '1.0.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Step 4: bob's approval, the first of two; step 5: carol's completes it.
BEGIN;
SELECT public.appr_as('bob') \gset
SELECT status FROM taskforce.approve_request(:publish_request, 'Reviewed and tested - looks good!');
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT status FROM taskforce.approve_request(:publish_request, 'LGTM - approved for production');
-- Step 6: the catalog approves and publishes the version.
SELECT version, status, approved_by FROM taskforce.approve_version('customer-support-agent', '1.0.0');
SELECT version, status FROM taskforce.publish_version('customer-support-agent', '1.0.0');
SELECT agent_id, current_version FROM taskforce.agents WHERE agent_id = 'customer-support-agent';
COMMIT;

-- 9. Auto-apply (seed 001 §4.2's on_approved callback): the final
-- approval approves and publishes the version in its own transaction,
-- and the version it replaces is deprecated.
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT workflow_id, auto_apply FROM taskforce.update_workflow('strict-publish', auto_apply => true);
COMMIT;
BEGIN;
SELECT public.appr_as('alice') \gset
SELECT version, status FROM taskforce.create_version('customer-support-agent', '1.1.0',
    '{"tools": ["semantic_search", "send_email", "create_ticket"], "max_iterations": 20}', 'more iterations');
SELECT taskforce.submit_version('customer-support-agent', '1.1.0') AS auto_request \gset
COMMIT;
BEGIN;
SELECT public.appr_as('bob') \gset
SELECT status, auto_apply FROM taskforce.approve_request(:auto_request);
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT status FROM taskforce.approve_request(:auto_request);
SELECT version, status, approved_by, published_at IS NOT NULL AS published
  FROM taskforce.agent_versions WHERE agent_id = 'customer-support-agent' ORDER BY version_key;
SELECT current_version FROM taskforce.agents WHERE agent_id = 'customer-support-agent';
COMMIT;
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT workflow_id, auto_apply FROM taskforce.update_workflow('strict-publish', auto_apply => false);
COMMIT;

-- 10. Rejection returns the version to draft (a system transition: bob
-- holds no right to move it himself).
BEGIN;
SELECT public.appr_as('alice') \gset
SELECT version FROM taskforce.create_version('customer-support-agent', '1.2.0', '{"tools": []}', 'no tools');
SELECT taskforce.submit_version('customer-support-agent', '1.2.0') AS rejected_request \gset
COMMIT;
BEGIN;
SELECT public.appr_as('bob') \gset
SELECT status FROM taskforce.reject_request(:rejected_request, 'an agent without tools cannot help anyone');
SELECT version, status FROM taskforce.agent_versions
 WHERE agent_id = 'customer-support-agent' AND version = '1.2.0';
COMMIT;

-- 11. Bound to the content.  Submitting an unchanged version again while
-- its request is pending gives that request; an approved request binds
-- the config hash it was made for: once the definition changed, the
-- version cannot reach approved on it (42501), only on a request for the
-- new content.
BEGIN;
SELECT public.appr_as('alice') \gset
SELECT version FROM taskforce.create_version('customer-support-agent', '1.3.0', '{"tools": ["a"]}', 'tool a');
SELECT taskforce.submit_version('customer-support-agent', '1.3.0') AS bound_request \gset
SELECT version, status FROM taskforce.withdraw_version('customer-support-agent', '1.3.0');
SELECT taskforce.submit_version('customer-support-agent', '1.3.0') = :bound_request AS same_request;
COMMIT;
BEGIN;
SELECT public.appr_as('bob') \gset
SELECT status FROM taskforce.approve_request(:bound_request);
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT status FROM taskforce.approve_request(:bound_request);
COMMIT;
-- The request is approved; alice withdraws the version, changes it and
-- submits it again: a new request for the new content.
BEGIN;
SELECT public.appr_as('alice') \gset
SELECT version, status FROM taskforce.withdraw_version('customer-support-agent', '1.3.0');
SELECT version FROM taskforce.update_version_definition('customer-support-agent', '1.3.0', '{"tools": ["b"]}');
SELECT taskforce.submit_version('customer-support-agent', '1.3.0') AS rebound_request \gset
SELECT :rebound_request <> :bound_request AS new_request;
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SAVEPOINT s;
SELECT taskforce.approve_version('customer-support-agent', '1.3.0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- The pending request for the new content, once approved, lets it pass.
BEGIN;
SELECT public.appr_as('bob') \gset
SELECT status FROM taskforce.approve_request(:rebound_request);
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT status FROM taskforce.approve_request(:rebound_request);
SELECT version, status FROM taskforce.approve_version('customer-support-agent', '1.3.0');
COMMIT;

-- 12. A user table under a state machine (state_machines.sql): documents
-- go draft -> review -> published, and publishing needs an approved
-- custom:doc_publish request for the document's content (the row without
-- its state).  A change of the content voids an approval: approving is
-- refused (55000), and so is the transition on an earlier approval.
\c - postgres
CREATE TABLE public.appr_docs (
    tenant_id text NOT NULL DEFAULT taskforce.current_tenant(),
    id integer NOT NULL,
    body text NOT NULL,
    state text NOT NULL DEFAULT 'draft',
    PRIMARY KEY (tenant_id, id));
SELECT taskforce.enable_tenant_isolation('public.appr_docs');
GRANT SELECT, INSERT, UPDATE ON public.appr_docs TO appr_app;
SELECT taskforce.define_state_machine('appr_doc', '{draft}', '{published}',
    '[{"from": "draft", "to": "review"}, {"from": "review", "to": "draft"},
      {"from": "review", "to": "published", "approval": "custom:doc_publish"}]');
SELECT taskforce.attach_state_machine('public.appr_docs', 'state', 'appr_doc');
\c - appr_admin
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT workflow_id, request_type FROM taskforce.create_workflow('doc-publish', 'Publishing documents',
    'custom:doc_publish', 1, ARRAY['legal_counsel']);
COMMIT;
BEGIN;
SELECT public.appr_as('alice') \gset
INSERT INTO public.appr_docs (id, body) VALUES (1, 'terms v1'), (2, 'privacy v1');
UPDATE public.appr_docs SET state = 'review';
-- The request names the row by its key; type, resource and content come
-- from the table's machine.
SELECT taskforce.request_approval('public.appr_docs', '{"id": 1}', 'Publish the terms') AS doc_1 \gset
SELECT taskforce.request_approval('public.appr_docs', '{"id": 2}', 'Publish the privacy policy') AS doc_2 \gset
SELECT r.request_type, r.resource_type, r.resource_id, r.title,
       r.content_hash = taskforce.content_hash('public.appr_docs', '{"id": 1}') AS binds_content
  FROM taskforce.approval_requests AS r WHERE r.request_id = :doc_1;
-- Without an approved request, the transition is refused.
SAVEPOINT s;
UPDATE public.appr_docs SET state = 'published' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- Bad requests: no machine on the table (55000), a key that is not the
-- primary key (22023), no such row (42704), a state no approval leads out
-- of (55000).  Asking again for the same content gives the same request.
SELECT taskforce.request_approval('taskforce.teams', '{"team_id": "red"}', 'x');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('public.appr_docs', '{"name": 1}', 'x');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('public.appr_docs', '{"id": 99}', 'x');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
INSERT INTO public.appr_docs (id, body) VALUES (3, 'draft only');
SELECT taskforce.request_approval('public.appr_docs', '{"id": 3}', 'x');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- Naming the row with the other form binds its current content only: a
-- made-up content hash is refused (22023), so nobody can supersede the
-- pending request with a request for other content.
SELECT taskforce.request_approval('custom:doc_publish', 'public.appr_docs', '{"id": 1}', 'sneaky',
                                  content_hash => '\x00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('custom:doc_publish', 'public.appr_docs', '{"id": 1}', 'Publish the terms',
                                  content_hash => taskforce.content_hash('public.appr_docs', '{"id": 1}')) = :doc_1
       AS same_request;
COMMIT;
-- lena approves document 2 now; then alice changes both documents.
BEGIN;
SELECT public.appr_as('lena') \gset
SELECT status FROM taskforce.approve_request(:doc_2);
COMMIT;
BEGIN;
SELECT public.appr_as('alice') \gset
UPDATE public.appr_docs SET body = body || ' (edited)';
COMMIT;
-- Approving document 1's request is refused: its content changed.
BEGIN;
SELECT public.appr_as('lena') \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:doc_1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Document 2's approval was for the old content: the transition is
-- refused (42501), and no row moved.
BEGIN;
SELECT public.appr_as('alice') \gset
SAVEPOINT s;
UPDATE public.appr_docs SET state = 'published' WHERE id = 2;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT id, body, state FROM public.appr_docs ORDER BY id;
-- A request for the current content (the pending one for document 1 is
-- superseded), approved, lets document 1 through.
SELECT taskforce.request_approval('public.appr_docs', '{"id": 1}', 'Publish the edited terms') AS doc_1b \gset
SELECT status FROM taskforce.approval_requests WHERE request_id = :doc_1;
COMMIT;
BEGIN;
SELECT public.appr_as('lena') \gset
SELECT status FROM taskforce.approve_request(:doc_1b);
COMMIT;
BEGIN;
SELECT public.appr_as('alice') \gset
UPDATE public.appr_docs SET state = 'published' WHERE id = 1;
SELECT id, state FROM public.appr_docs ORDER BY id;
COMMIT;
-- gina (globex) cannot name acme's row (42704).
BEGIN;
SELECT public.appr_as('gina', 'appr-globex') \gset
SAVEPOINT s;
SELECT taskforce.request_approval('public.appr_docs', '{"id": 2}', 'mine now');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- 13. History: every request and action stays, decided or not.
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT r.title, r.status, r.requester_id,
       string_agg(a.action || ':' || a.actor_id, ' ' ORDER BY a.action_id) AS actions
  FROM taskforce.approval_requests AS r
  LEFT JOIN taskforce.approval_actions AS a USING (tenant_id, request_id)
 GROUP BY r.request_id, r.title, r.status, r.requester_id ORDER BY r.request_id;
-- Each decision is an event (events.sql): request_approved names the
-- approvers (seed 001 §9.2), request_rejected the rejecters and the reason.
SELECT d.event, d.body::jsonb -> 'payload' -> 'request_id' = to_jsonb(:export_request) AS export_request,
       (d.body::jsonb -> 'payload') - 'request_id'::text AS payload
  FROM taskforce.webhook_deliveries AS d
 WHERE d.event IN ('request_approved', 'request_rejected') ORDER BY d.delivery_id;
SELECT d.event, count(*) FROM taskforce.webhook_deliveries AS d GROUP BY 1 ORDER BY 1;
COMMIT;
-- ... and each change is in the audit trail, attributed to its user.
\c - postgres
SELECT a.object, a.action, a.user_id, count(*)
  FROM taskforce.audit_log AS a
 WHERE a.object IN ('taskforce.approval_requests', 'taskforce.approval_actions') AND a.tenant_id = 'appr-acme'
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- 14. A credential limited to permission scopes acts within them: tina's
-- API key limited to agent:read (a dashboard's, say) does not vote with
-- the reviewer role her user holds (42501); her unlimited key does.
\c - appr_admin
SELECT workflow_id FROM taskforce.create_workflow('scoped-votes', 'Scoped votes', 'custom:scoped_vote', 1,
                                                  ARRAY['reviewer'], tenant_id => 'appr-acme');
SELECT api_key AS tina_read_key FROM taskforce.create_api_key('tina', 'dashboard', scopes => ARRAY['agent:read'],
                                                              tenant_id => 'appr-acme') \gset
SELECT api_key AS tina_full_key FROM taskforce.create_api_key('tina', 'laptop', tenant_id => 'appr-acme') \gset
BEGIN;
SELECT public.appr_as('alice') \gset
SELECT taskforce.request_approval('custom:scoped_vote', 'doc', 'scoped-1', 'scoped') AS scoped_request \gset
COMMIT;
\c - appr_app
BEGIN;
SELECT FROM taskforce.authenticate_api_key(:'tina_read_key');
SAVEPOINT s;
SELECT status FROM taskforce.approve_request(:scoped_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT status FROM taskforce.reject_request(:scoped_request, 'no');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT count(*) AS listed_for_read_key FROM taskforce.pending_for_me() WHERE request_id = :scoped_request;
COMMIT;
BEGIN;
SELECT FROM taskforce.authenticate_api_key(:'tina_full_key');
SELECT status FROM taskforce.approve_request(:scoped_request);
COMMIT;

-- 15. Approver roles are chosen by those who manage workflows: dave, who
-- may manage roles (and holds agent:read, all the reviewer role gives),
-- cannot make himself a reviewer (42501); carol, an admin, can.
\c - appr_admin
SELECT role_name FROM taskforce.create_role('role_keeper', ARRAY['role:manage', 'agent:read'], tenant_id => 'appr-acme');
SELECT role_name FROM taskforce.grant_role('dave', 'role_keeper', tenant_id => 'appr-acme');
BEGIN;
SELECT public.appr_as('dave') \gset
SAVEPOINT s;
SELECT role_name FROM taskforce.grant_role('dave', 'reviewer');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
COMMIT;
BEGIN;
SELECT public.appr_as('carol') \gset
SELECT role_name FROM taskforce.grant_role('dave', 'reviewer');
ROLLBACK;

-- 16. A request for a row is for a transition it can make now: a draft
-- document cannot be asked for ahead (55000) through the form that names
-- the resource, as through the form that names the row.  (Asked ahead by
-- someone else, the request would let the author approve it.)
BEGIN;
SELECT public.appr_as('alice') \gset
INSERT INTO public.appr_docs (id, body) VALUES (4, 'ahead of time');
SAVEPOINT s;
SELECT taskforce.request_approval('custom:doc_publish', 'public.appr_docs', '{"id": 4}', 'ahead',
                                  content_hash => taskforce.content_hash('public.appr_docs', '{"id": 4}'));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
UPDATE public.appr_docs SET state = 'review' WHERE id = 4;
SELECT taskforce.request_approval('custom:doc_publish', 'public.appr_docs', '{"id": 4}', 'in review',
                                  content_hash => taskforce.content_hash('public.appr_docs', '{"id": 4}'))
       IS NOT NULL AS requested_in_review;
ROLLBACK;

-- 17. An agent version's author never approves it, whoever opened the
-- request: alice submits 3.0.0 while no agent_publish workflow is enabled
-- (no request), wendy then enables one, bob asks for approval; alice's
-- vote is refused (42501), carol's counts.
BEGIN;
SELECT public.appr_as('wendy') \gset
SELECT count(*) AS disabled
  FROM taskforce.approval_workflows AS w,
       taskforce.disable_workflow(w.workflow_id) AS d
 WHERE w.request_type = 'agent_publish' AND w.enabled;
RESET ROLE;
SELECT public.appr_as('alice') \gset
SELECT version FROM taskforce.create_version('customer-support-agent', '3.0.0', '{"tools": ["b"]}', 'tool b');
SELECT taskforce.submit_version('customer-support-agent', '3.0.0') IS NULL AS no_request_opened;
RESET ROLE;
SELECT public.appr_as('wendy') \gset
SELECT workflow_id, enabled FROM taskforce.create_workflow('late-publish', 'Late publishing', 'agent_publish', 1,
                                                           ARRAY['admin', 'agent_designer']);
RESET ROLE;
SELECT public.appr_as('bob') \gset
SELECT taskforce.request_approval('taskforce.agent_versions',
                                  '{"agent_id": "customer-support-agent", "version": "3.0.0"}',
                                  'bob asks for 3.0.0') AS late_request \gset
RESET ROLE;
SELECT public.appr_as('alice') \gset
SAVEPOINT s;
SELECT taskforce.approve_request(:late_request);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
RESET ROLE;
SELECT public.appr_as('carol') \gset
SELECT status FROM taskforce.approve_request(:late_request, 'checked');
ROLLBACK;

-- 18. Requests are kept forever and copied into every delivery: a title,
-- description or payload past its limit is refused (54000).
BEGIN;
SELECT public.appr_as('dave') \gset
SAVEPOINT s;
SELECT taskforce.request_approval('data_export', 'dataset', 'big', repeat('t', 1001));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.request_approval('data_export', 'dataset', 'big', 'big payload',
                                  payload => jsonb_build_object('rows', repeat('x', 1000001)));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
ROLLBACK;
