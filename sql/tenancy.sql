-- tenancy: tenants, plans, limits, features and their administration.
-- Denials print their SQLSTATE with \echo :LAST_ERROR_SQLSTATE.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT role_name, created FROM taskforce.setup_roles();
DROP ROLE IF EXISTS tenancy_admin, tenancy_app;
CREATE ROLE tenancy_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE tenancy_app LOGIN IN ROLE taskforce_app;
RESET client_min_messages;

-- The plans and their defaults.
SELECT p.plan, d.limits, d.features
  FROM unnest(ARRAY['basic', 'professional', 'enterprise']) AS p(plan),
       taskforce.plan_defaults(p.plan) AS d;

-- Administration runs as the admin group role, not as superuser.
\c - tenancy_admin
SELECT tenant_id, name, plan, status, limits, features
  FROM taskforce.create_tenant('acme-corp', 'Acme Corporation', 'enterprise',
                               settings => '{"region": "eu"}',
                               metadata => '{"primary_contact": "admin@acme.com"}');
-- Limits override the plan's defaults; features replace them.
SELECT tenant_id, plan, limits->'max_agents' AS max_agents,
       limits->'data_retention_days' AS retention, features
  FROM taskforce.create_tenant('globex', 'Globex', 'basic',
                               limits => '{"max_agents": 7}',
                               features => ARRAY['rag']);
SELECT tenant_id FROM taskforce.create_tenant('initech', 'Initech');

-- Bad input: each refused with a specific SQLSTATE, nothing written.
SELECT taskforce.create_tenant('acme-corp', 'Again');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('Acme_Corp', 'Bad id');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('-acme', 'Bad id');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant(repeat('a', 64), 'Too long');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant(NULL, 'No id');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('empty-name', '  ');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-plan', 'Bad plan', 'platinum');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-limit', 'Bad limit', limits => '{"max_agnets": 3}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-limit', 'Bad limit', limits => '{"max_agents": -1}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-limit', 'Bad limit', limits => '{"max_agents": 2.5}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-limit', 'Bad limit', limits => '{"max_agents": "ten"}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-limit', 'Bad limit', limits => '[1]');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-settings', 'Bad settings', settings => '"x"');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_tenant('bad-feature', 'Bad feature', features => ARRAY['Not A Feature']);
\echo :LAST_ERROR_SQLSTATE
SELECT tenant_id, status FROM taskforce.list_tenants();

-- Updates: null arguments leave fields alone; a new plan brings its defaults.
SELECT tenant_id, name, plan, limits->'max_agents' AS max_agents, features
  FROM taskforce.update_tenant('globex', name => 'Globex Corporation');
SELECT tenant_id, plan, limits->'max_agents' AS max_agents,
       limits->'max_workflows' AS max_workflows, features
  FROM taskforce.update_tenant('globex', plan => 'professional', limits => '{"max_workflows": 60}');
SELECT tenant_id, metadata, settings
  FROM taskforce.update_tenant('globex', metadata => '{"tier": "gold"}', settings => '{"sso": true}');
SELECT taskforce.update_tenant('nobody', name => 'Nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_tenant('globex', plan => 'platinum');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_tenant('globex', name => '');
\echo :LAST_ERROR_SQLSTATE

-- Status changes: active -> suspended -> active -> deleted, and the illegal ones.
SELECT tenant_id, status, status_reason FROM taskforce.suspend_tenant('initech', 'unpaid invoice');
SELECT taskforce.suspend_tenant('initech');
\echo :LAST_ERROR_SQLSTATE
SELECT tenant_id, status, status_reason FROM taskforce.reactivate_tenant('initech');
SELECT taskforce.reactivate_tenant('initech');
\echo :LAST_ERROR_SQLSTATE
SELECT tenant_id, status, status_reason FROM taskforce.delete_tenant('initech', 'customer left');
SELECT taskforce.reactivate_tenant('initech');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.update_tenant('initech', name => 'Back');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.suspend_tenant('nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT tenant_id, status FROM taskforce.list_tenants('deleted');

-- A suspended or deleted tenant's context cannot be established.
SELECT (taskforce.suspend_tenant('globex')).status;
BEGIN;
SELECT taskforce.act_as('globex', 'bob');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('initech', 'carol');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('nobody', 'dave');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT (taskforce.reactivate_tenant('globex')).status;
BEGIN;
SELECT taskforce.act_as('globex', 'bob');
SELECT taskforce.current_tenant();
ROLLBACK;

-- The application role may not administer tenants, and sees only its own
-- tenant's row, and only with a context.
\c - tenancy_app
SELECT taskforce.create_tenant('mine', 'Mine');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.suspend_tenant('acme-corp');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.list_tenants();
\echo :LAST_ERROR_SQLSTATE
SELECT tenant_id FROM taskforce.tenants;
UPDATE taskforce.tenants SET plan = 'enterprise';
\echo :LAST_ERROR_SQLSTATE
\c - postgres
BEGIN;
SELECT taskforce.act_as('globex', 'bob');
SET LOCAL ROLE tenancy_app;
SELECT tenant_id, plan FROM taskforce.tenants;
ROLLBACK;

-- Every tenant key carries tenant_id, and the table is dumped with the database.
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'taskforce.tenants'::regclass AND contype IN ('p', 'u', 'f') ORDER BY conname;
SELECT c::regclass AS dumped FROM pg_extension, unnest(extconfig) AS c WHERE extname = 'taskforce' ORDER BY c::regclass::text;
