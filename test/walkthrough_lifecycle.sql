-- test/walkthrough_lifecycle.sql: governed lifecycle, with seed 001 §4.2's
-- complete approval example (run by test/walkthrough.sh, section 20).
\set ON_ERROR_STOP on
\pset footer off
\set ECHO queries
\set VERBOSITY default
\set SHOW_CONTEXT never

\echo
\echo '== 20. Governed lifecycle: an agent version published after two approvals'
\echo '   Agent versions move draft -> pending_approval -> approved -> published under a state'
\echo '   machine enforced by a C trigger. With an agent_publish workflow, a version reaches'
\echo '   approved only with an approved request for exactly its config hash.'
\echo
\c - postgres
\echo '-- The middleware establishes each user''s context, then works as the application role.'
GRANT app TO middleware;
\c - middleware
\echo '[connected as middleware (member of taskforce_admin), no context: an administrator]'
\echo '-- alice designs agents, bob and carol review them (seed 001 §4.2).'
SELECT user_id FROM taskforce.create_user('bob@acme.example', 'bob', 'bob@acme.example', tenant_id => 'acme-corp');
SELECT count(*) AS granted FROM unnest(ARRAY['alice@acme.example', 'bob@acme.example', 'carol@acme.example']) AS u,
       taskforce.grant_role(u, 'agent_designer', tenant_id => 'acme-corp') AS g;
\echo '-- The strict publishing workflow: two approvals from admin or agent_designer, 48 hours.'
SELECT workflow_id, request_type, required_approvals, approver_roles, expires_after
  FROM taskforce.create_workflow('strict-publish', 'Strict Agent Publishing', 'agent_publish', 2,
                                 ARRAY['admin', 'agent_designer'], expires_after => '48 hours',
                                 tenant_id => 'acme-corp');
\echo '-- A webhook endpoint for the approval events (its secret never comes out again).'
SELECT taskforce.create_webhook_endpoint('releases-bot', 'https://hooks.acme.example/taskforce',
           '{request_created,request_approved,agent_published}',
           convert_to('walkthrough-webhook-secret', 'UTF8'), tenant_id => 'acme-corp');

\echo
\echo '-- Step 1: alice creates the agent and version 1.0.0, and submits it.'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'alice@acme.example') \g /dev/null
SET LOCAL ROLE app;
SELECT agent_id, name, category, tags
  FROM taskforce.create_agent('customer-support', 'Customer Support Agent',
                              'Handles customer inquiries via email and chat', 'support',
                              '{production,nlp,customer-facing}');
SELECT version, status, encode(config_hash, 'hex') AS config_hash
  FROM taskforce.create_version('customer-support', '1.0.0',
           '{"tools": ["semantic_search", "send_email", "create_ticket"], "max_iterations": 15, "temperature": 0.5}',
           'Added ticket creation capability');
\echo '-- Step 2: submitting opens the approval request, bound to the config hash.'
SELECT taskforce.submit_version('customer-support', '1.0.0') AS request \gset
SELECT r.title, r.requester_id, r.status, r.required_approvals, r.content_hash = v.config_hash AS binds_the_version
  FROM taskforce.approval_requests AS r, taskforce.agent_versions AS v
 WHERE r.request_id = :request AND v.agent_id = 'customer-support' AND v.version = '1.0.0';
COMMIT;

\echo
\echo '-- alice may not approve her own request, nor change the submitted definition,'
\echo '-- nor move the version to approved herself.'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'alice@acme.example') \g /dev/null
SET LOCAL ROLE app;
\set ON_ERROR_STOP off
SAVEPOINT s;
SELECT taskforce.approve_request(:request, 'looks good to me');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_version_definition('customer-support', '1.0.0', '{"tools": ["shell"]}');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.approve_version('customer-support', '1.0.0');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set ON_ERROR_STOP on
COMMIT;

\echo
\echo '-- Step 3: bob sees what is pending for him. Step 4: the first approval.'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'bob@acme.example') \g /dev/null
SET LOCAL ROLE app;
SELECT title, requester_id FROM taskforce.pending_for_me();
SELECT status FROM taskforce.approve_request(:request, 'Reviewed and tested - looks good!');
\echo '-- One vote per person.'
\set ON_ERROR_STOP off
SAVEPOINT s;
SELECT taskforce.approve_request(:request, 'really good');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
\set ON_ERROR_STOP on
COMMIT;

\echo
\echo '-- Step 5: carol''s approval completes the request. Step 6: she approves and publishes.'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'carol@acme.example') \g /dev/null
SET LOCAL ROLE app;
SELECT status FROM taskforce.approve_request(:request, 'LGTM - approved for production');
SELECT version, status, approved_by FROM taskforce.approve_version('customer-support', '1.0.0');
SELECT version, status FROM taskforce.publish_version('customer-support', '1.0.0');
SELECT agent_id, current_version FROM taskforce.agents;
COMMIT;

\echo
\echo '-- A direct UPDATE is held to the same machine: published cannot go back to draft.'
\c - postgres
\echo '[connected as postgres (superuser)]'
\set ON_ERROR_STOP off
UPDATE taskforce.agent_versions SET status = 'draft'
 WHERE tenant_id = 'acme-corp' AND agent_id = 'customer-support' AND version = '1.0.0';
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP on

\echo
\echo '-- Every transition is an audit entry: who moved the version, from where to where.'
SELECT user_id, new_values->>'from' AS from_state, new_values->>'to' AS to_state
  FROM taskforce.audit_log
 WHERE event_type = 'transition' AND object = 'taskforce.agent_versions' AND tenant_id = 'acme-corp'
 ORDER BY txid, entry_seq;

\echo
\echo '-- The events wait in the outbox, each body signed with the endpoint''s secret'
\echo '-- (tools/webhook_worker.py delivers them); the signature checks with pgcrypto.'
SELECT event, state,
       signature = 'sha256=' || encode(hmac(convert_to(body, 'UTF8'),
                                            convert_to('walkthrough-webhook-secret', 'UTF8'), 'sha256'), 'hex')
           AS signature_verifies
  FROM taskforce.webhook_deliveries WHERE tenant_id = 'acme-corp' ORDER BY delivery_id;

\echo
\echo '-- The catalog, searched as bob: ranked full-text over name, description and tags.'
\c - middleware
BEGIN;
SELECT taskforce.act_as('acme-corp', 'bob@acme.example') \g /dev/null
SET LOCAL ROLE app;
SELECT agent_id, current_version FROM taskforce.search_agents('customer support');
COMMIT;
