-- test/walkthrough_acl.sql: resource access control, with seed 001 §11.2's
-- enterprise knowledge assistant (run by test/walkthrough.sh, section 19).
\set ON_ERROR_STOP on
\pset footer off
\set ECHO queries
\set VERBOSITY default
\set SHOW_CONTEXT never

\echo
\echo '== 19. Resource access control: shared, department and executive-only knowledge'
\echo '   Every knowledge base has an ACL: an owner, a sensitivity, a scope and grants. The'
\echo '   knowledge table is under tenant isolation and protect_table(): each row shows only'
\echo '   if its knowledge base''s ACL allows the reader, checked per row in C.'
\echo
\c - postgres
\echo '[connected as postgres (superuser)]'
CREATE TABLE kb_documents (
    tenant_id   text NOT NULL,
    doc_id      int  NOT NULL,
    resource_id text NOT NULL,
    title       text NOT NULL,
    PRIMARY KEY (tenant_id, doc_id)
);
SELECT taskforce.enable_tenant_isolation('kb_documents') \g /dev/null
SELECT taskforce.protect_table('kb_documents', 'resource_id') \g /dev/null
GRANT SELECT, INSERT, UPDATE, DELETE ON kb_documents TO taskforce_app, taskforce_admin;
SELECT table_name, resource_column FROM taskforce.protected_tables;

\c - middleware
\echo '[connected as middleware (member of taskforce_admin)]'
\echo '-- The people: an engineer, a finance analyst, the CEO, an intern; department roles.'
SELECT count(*) AS users FROM (
    SELECT taskforce.create_user(u, split_part(u, '@', 1), u, tenant_id => 'acme-corp')
      FROM unnest(ARRAY['kb-admin@acme.example', 'eng-lead@acme.example', 'engineer@acme.example',
                        'fin-lead@acme.example', 'analyst@acme.example', 'ceo@acme.example',
                        'intern@acme.example']) AS u) AS made;
SELECT count(*) AS roles FROM (
    SELECT taskforce.create_role(r, '{memory:read}', tenant_id => 'acme-corp')
      FROM unnest(ARRAY['engineering', 'finance_analyst', 'executive']) AS r) AS made;
SELECT user_id, role_name FROM taskforce.grant_role('engineer@acme.example', 'engineering', tenant_id => 'acme-corp');
SELECT user_id, role_name FROM taskforce.grant_role('analyst@acme.example', 'finance_analyst', tenant_id => 'acme-corp');
SELECT user_id, role_name FROM taskforce.grant_role('ceo@acme.example', 'executive', tenant_id => 'acme-corp');
\echo '-- Projects: engineering and finance, each with its lead as owner.'
SELECT project_id, owner_id, visibility
  FROM taskforce.create_project('engineering', 'Engineering knowledge', owner_id => 'eng-lead@acme.example',
                                department => 'Engineering', tenant_id => 'acme-corp');
SELECT project_id, owner_id, visibility
  FROM taskforce.create_project('finance', 'Finance knowledge', owner_id => 'fin-lead@acme.example',
                                department => 'Finance', security_level => 'confidential', tenant_id => 'acme-corp');
\echo '-- Policies (seed 001 §5.3): finance data is audited on every access; executive data only'
\echo '   for the executive role, kept until deleted by hand.'
SELECT policy_id, scope, sensitivity_levels, requires_audit, allowed_roles
  FROM taskforce.create_resource_policy('finance_audit', 'Finance data', 'project', '{confidential}',
                                        requires_audit => true, tenant_id => 'acme-corp');
SELECT policy_id, scope, sensitivity_levels, max_retention_days, allowed_roles
  FROM taskforce.create_resource_policy('executive_only', 'Executive data', 'private', '{restricted}',
                                        requires_audit => true, allowed_roles => '{executive}',
                                        tenant_id => 'acme-corp');
\echo '-- The four knowledge bases, each created by its owner:'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'kb-admin@acme.example') \g /dev/null
SELECT resource_id, sensitivity, scope FROM taskforce.create_acl('shared-policies', 'knowledge_base', 'internal', 'tenant');
INSERT INTO kb_documents VALUES (DEFAULT, 1, 'shared-policies', 'Travel policy'),
                                (DEFAULT, 2, 'shared-policies', 'IT support guide');
COMMIT;
BEGIN;
SELECT taskforce.act_as('acme-corp', 'eng-lead@acme.example') \g /dev/null
SELECT resource_id, sensitivity, scope, project_id
  FROM taskforce.create_acl('engineering-docs', 'knowledge_base', 'internal', 'project', project_id => 'engineering');
SELECT principal_id, permissions FROM taskforce.grant_access('engineering-docs', 'role', 'engineering', '{read,reference}');
INSERT INTO kb_documents VALUES (DEFAULT, 3, 'engineering-docs', 'Deployment runbook');
COMMIT;
BEGIN;
SELECT taskforce.act_as('acme-corp', 'fin-lead@acme.example') \g /dev/null
SELECT resource_id, sensitivity, scope, project_id
  FROM taskforce.create_acl('finance-reports', 'knowledge_base', 'confidential', 'project', project_id => 'finance');
SELECT principal_id, permissions FROM taskforce.grant_access('finance-reports', 'role', 'finance_analyst', '{read,reference}');
INSERT INTO kb_documents VALUES (DEFAULT, 4, 'finance-reports', 'Q3 forecast');
COMMIT;
BEGIN;
SELECT taskforce.act_as('acme-corp', 'ceo@acme.example', ARRAY['executive']) \g /dev/null
SELECT resource_id, sensitivity, scope FROM taskforce.create_acl('executive-materials', 'knowledge_base', 'restricted', 'private');
INSERT INTO kb_documents VALUES (DEFAULT, 5, 'executive-materials', 'Board deck: acquisition of Initech');
COMMIT;

\echo '-- Each user asks the assistant for everything it may read: the same SELECT, different rows.'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'engineer@acme.example') \g /dev/null
SELECT taskforce.current_user_id() AS reader, doc_id, resource_id, title FROM kb_documents ORDER BY doc_id;
COMMIT;
BEGIN;
SELECT taskforce.act_as('acme-corp', 'analyst@acme.example') \g /dev/null
SELECT taskforce.current_user_id() AS reader, doc_id, resource_id, title FROM kb_documents ORDER BY doc_id;
COMMIT;
BEGIN;
SELECT taskforce.act_as('acme-corp', 'ceo@acme.example') \g /dev/null
SELECT taskforce.current_user_id() AS reader, doc_id, resource_id, title FROM kb_documents ORDER BY doc_id;
COMMIT;
BEGIN;
SELECT taskforce.act_as('acme-corp', 'intern@acme.example') \g /dev/null
SELECT taskforce.current_user_id() AS reader, doc_id, resource_id, title FROM kb_documents ORDER BY doc_id;
\echo '-- Why the intern does not see the finance reports, and which knowledge bases it may read:'
SELECT allowed, rule, detail FROM taskforce.explain_access('finance-reports', 'read');
SELECT resource_id, sensitivity, scope FROM taskforce.accessible_resources('read') ORDER BY resource_id;
\echo '-- Writing into a knowledge base needs write on it:'
\set ON_ERROR_STOP off
INSERT INTO kb_documents VALUES (DEFAULT, 6, 'shared-policies', 'Free pizza every day');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP on
ROLLBACK;
\echo '-- Globex sees none of it, and cannot name Acme''s resources:'
BEGIN;
SELECT taskforce.act_as('globex', 'bob@globex.example') \g /dev/null
SELECT count(*) AS visible_documents FROM kb_documents;
\set ON_ERROR_STOP off
SELECT taskforce.check_access('shared-policies', 'read');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP on
ROLLBACK;

\echo '-- A grant takes effect in every session by its next transaction, and can expire:'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'fin-lead@acme.example') \g /dev/null
SELECT principal_id, permissions, expires_at > now() AS expires_later
  FROM taskforce.grant_access('finance-reports', 'user', 'intern@acme.example', '{read}',
                              expires_at => now() + interval '2 seconds');
COMMIT;
BEGIN;
SELECT taskforce.act_as('acme-corp', 'intern@acme.example') \g /dev/null
SELECT title FROM kb_documents WHERE resource_id = 'finance-reports';
COMMIT;
SELECT pg_sleep(2.5) \g /dev/null
BEGIN;
SELECT taskforce.act_as('acme-corp', 'intern@acme.example') \g /dev/null
SELECT count(*) AS finance_rows_after_expiry FROM kb_documents WHERE resource_id = 'finance-reports';
COMMIT;

\echo '-- The finance and executive policies audit every access, once per statement, as security'
\echo '   events written outside the reader''s transaction (a ROLLBACK does not erase them):'
SELECT taskforce.flush_security_events(interval '0') \g /dev/null
SELECT user_id, outcome, details->>'resource_id' AS resource, details->>'permission' AS permission,
       details->>'rule' AS rule
  FROM taskforce.security_events WHERE event = 'resource_access' ORDER BY event_id;
