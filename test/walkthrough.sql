-- test/walkthrough.sql: a guided tour of what taskforce does, run by
-- test/walkthrough.sh against a throwaway server (as the superuser postgres,
-- through the local socket with trust authentication, so that \c - ROLE can
-- switch between the roles of the story).
--
-- Statements are echoed before their results.  The steps that show a refused
-- action turn ON_ERROR_STOP off around themselves and print the SQLSTATE that
-- psql keeps in LAST_ERROR_SQLSTATE; everything else must succeed.

\set ON_ERROR_STOP on
\pset null '(null)'
\set ECHO queries
-- Refusals show their message, detail and hint, without the PL/pgSQL call stack.
\set VERBOSITY default
\set SHOW_CONTEXT never

\echo
\echo '== 1. Install taskforce and its roles'
\echo '   The extension lives in the schema taskforce. setup_roles() creates four'
\echo '   NOLOGIN group roles; real logins are members of them.'
\echo
CREATE EXTENSION taskforce CASCADE;
SELECT role_name, purpose FROM taskforce.setup_roles();
-- The application connects as "app"; the trusted middleware as "middleware".
CREATE ROLE app LOGIN IN ROLE taskforce_app;
CREATE ROLE middleware LOGIN IN ROLE taskforce_admin;

\echo
\echo '== 2. Two tenants, each with the limits and features of its plan'
\echo
SELECT tenant_id, name, plan FROM taskforce.create_tenant('acme-corp', 'Acme Corporation', 'enterprise');
SELECT tenant_id, name, plan FROM taskforce.create_tenant('globex', 'Globex Inc.', 'basic');
SELECT tenant_id, plan, status,
       limits->'max_agents' AS max_agents,
       limits->'max_workflows' AS max_workflows,
       limits->'storage_gb' AS storage_gb,
       limits->'data_retention_days' AS retention_days
  FROM taskforce.list_tenants();
SELECT tenant_id, array_to_string(features, ', ') AS features
  FROM taskforce.list_tenants();

\echo
\echo '== 3. An application table under tenant isolation'
\echo '   enable_tenant_isolation() turns on (and forces) row-level security,'
\echo '   adds a policy tenant_id = taskforce.current_tenant(), makes that the'
\echo '   column default, and adds a trigger that keeps a row''s tenant fixed.'
\echo
CREATE TABLE agents (
    tenant_id text NOT NULL,
    id        int GENERATED ALWAYS AS IDENTITY,
    name      text NOT NULL,
    model     text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
SELECT taskforce.enable_tenant_isolation('agents') \g /dev/null
GRANT SELECT, INSERT, UPDATE, DELETE ON agents TO taskforce_app, taskforce_admin;
\echo '-- Every change to agents goes to the audit trail (section 15):'
SELECT taskforce.enable_audit('agents');

\echo
\echo '== 4. The middleware fills the table, one tenant at a time'
\echo '   act_as() establishes a signed context for the transaction; the INSERTs'
\echo '   give no tenant_id: the column default takes it from the context.'
\echo
\c - middleware
\echo '[connected as middleware (member of taskforce_admin)]'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'alice@acme.example', ARRAY['admin']) \g /dev/null
INSERT INTO agents (name, model) VALUES
    ('researcher', 'gpt-4o'), ('planner', 'claude-3-opus'), ('reviewer', 'llama-3-70b');
COMMIT;
BEGIN;
SELECT taskforce.act_as('globex', 'bob@globex.example', ARRAY['operator']) \g /dev/null
INSERT INTO agents (name, model) VALUES ('support-bot', 'gpt-4o-mini');
COMMIT;

\echo
\echo '== 5. Each context sees its own tenant''s rows, and nothing else'
\echo
BEGIN;
SELECT taskforce.act_as('acme-corp', 'alice@acme.example', ARRAY['admin']) \g /dev/null
\x on
SELECT * FROM taskforce.current_context();
\x off
SELECT * FROM agents ORDER BY id;
COMMIT;
BEGIN;
SELECT taskforce.act_as('globex', 'bob@globex.example', ARRAY['operator']) \g /dev/null
SELECT tenant_id, user_id, roles, scope FROM taskforce.current_context();
SELECT * FROM agents ORDER BY id;
COMMIT;
\echo '-- After COMMIT the transaction-scoped context is gone: no tenant, no rows (fail closed).'
SELECT taskforce.current_tenant();
SELECT * FROM agents;

\echo
\echo '== 6. The application role sees nothing without a context, and cannot make one'
\echo '   The application logs in as "app"; only the middleware may establish contexts.'
\echo
\c - app
\echo '[connected as app (member of taskforce_app)]'
SELECT taskforce.current_tenant();
SELECT * FROM agents;
\echo '-- Only trusted middleware may call act_as():'
\set ON_ERROR_STOP off
SELECT taskforce.act_as('acme-corp', 'mallory', ARRAY['admin']) \g /dev/null
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\echo
\echo '-- Forging the setting that carries the context:'
SET taskforce.context = 'tenant_id=acme-corp';
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
SELECT set_config('taskforce.context', 'tenant_id=acme-corp', false);
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP on

\echo
\echo '-- Replaying a genuine context: the superuser establishes one and reads its signed value ...'
\c - postgres
\echo '[connected as postgres (superuser)]'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'alice@acme.example', ARRAY['admin']) \g /dev/null
SELECT current_setting('taskforce.context') AS stolen \gset
COMMIT;
\echo '   captured:' :stolen
\echo '-- ... and the application tries to install it in its own session:'
\c - app
\echo '[connected as app (member of taskforce_app)]'
\set ON_ERROR_STOP off
SELECT set_config('taskforce.context', :'stolen', false);
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP on
SELECT taskforce.current_tenant();
SELECT * FROM agents;

\echo
\echo '== 7. Rows cannot cross tenants, even for the middleware'
\echo
\c - middleware
\echo '[connected as middleware (member of taskforce_admin)]'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'alice@acme.example', ARRAY['admin']) \g /dev/null
\echo '-- Writing a row for another tenant:'
\set ON_ERROR_STOP off
SAVEPOINT s;
INSERT INTO agents (tenant_id, name, model) VALUES ('globex', 'trojan', 'gpt-4o');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
\echo '-- Moving an acme-corp row to another tenant:'
UPDATE agents SET tenant_id = 'globex' WHERE name = 'researcher';
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP on
ROLLBACK;

\echo
\echo '== 8. A suspended tenant gets no context'
\echo
SELECT tenant_id, status, status_reason
  FROM taskforce.suspend_tenant('globex', 'invoice overdue');
\set ON_ERROR_STOP off
BEGIN;
SELECT taskforce.act_as('globex', 'bob@globex.example') \g /dev/null
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK;
\set ON_ERROR_STOP on
\echo '-- Reactivated, globex gets contexts again:'
SELECT tenant_id, status FROM taskforce.reactivate_tenant('globex');
BEGIN;
SELECT taskforce.act_as('globex', 'bob@globex.example') \g /dev/null
SELECT * FROM agents;
COMMIT;

\echo
\echo '== 9. The isolation report finds tables that are left unprotected'
\echo '   A new table with a tenant_id column but no isolation, as a migration might leave it:'
\echo
\c - postgres
\echo '[connected as postgres (superuser)]'
CREATE TABLE invoices (
    tenant_id text NOT NULL,
    id        int NOT NULL,
    amount    numeric(12, 2) NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
SELECT * FROM taskforce.isolation_report();
\echo '-- Put it under isolation and the report is clean again:'
SELECT taskforce.enable_tenant_isolation('invoices') \g /dev/null
SELECT * FROM taskforce.isolation_report();

\echo
\echo '== 10. Users, roles and a token issuer'
\echo '   Users belong to a tenant; the five system roles carry seed 001''s'
\echo '   permission matrix; a tenant may add custom roles with wildcards.'
\echo
SELECT user_id, username, status
  FROM taskforce.create_user('alice@acme.example', 'alice', 'alice@acme.example',
                             '{"department": "Engineering"}', tenant_id => 'acme-corp');
SELECT user_id, username, status
  FROM taskforce.create_user('carol@acme.example', 'carol', 'carol@acme.example', tenant_id => 'acme-corp');
SELECT role_name, permissions
  FROM taskforce.create_role('data_analyst', '{agent:read,agent:execute,session:*,memory:read}',
                             'runs analysis agents', tenant_id => 'acme-corp');
SELECT user_id, role_name FROM taskforce.grant_role('alice@acme.example', 'operator', tenant_id => 'acme-corp');
SELECT user_id, role_name FROM taskforce.grant_role('carol@acme.example', 'data_analyst', tenant_id => 'acme-corp');
\echo '-- The identity provider that signs the application''s tokens, and its HS256 key:'
SELECT issuer, audiences, algorithms, tenant_claim
  FROM taskforce.configure_jwt_issuer('https://idp.acme.example', '{taskforce-api}', '{HS256}');
SELECT taskforce.add_jwt_key('acme-2026', 'https://idp.acme.example', 'HS256',
                             secret => gen_random_bytes(32)) \g /dev/null
SELECT kid, issuer, algorithm, not_before IS NOT NULL AS has_window FROM taskforce.jwt_keys;

\echo
\echo '== 11. Who may manage whom: nobody takes over a stronger user'
\echo '   A helpdesk role may manage users, but only users whose permissions it'
\echo '   holds itself: it cannot reset, mint a key for, or remove a stronger user.'
\echo
SELECT role_name, permissions
  FROM taskforce.create_role('helpdesk', '{user:manage}', 'resets passwords', tenant_id => 'acme-corp');
SELECT user_id, username FROM taskforce.create_user('dave@acme.example', 'dave', tenant_id => 'acme-corp');
SELECT user_id, role_name FROM taskforce.grant_role('dave@acme.example', 'helpdesk', tenant_id => 'acme-corp');
SELECT user_id, username FROM taskforce.create_user('erin@acme.example', 'erin', tenant_id => 'acme-corp');
\c - middleware
\echo '[connected as middleware (member of taskforce_admin)]'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'dave@acme.example') \g /dev/null
\echo '-- In dave''s context: erin holds nothing dave lacks, so he may set her password:'
SELECT taskforce.set_password('erin@acme.example', 'Walkthrough-2026!');
\set ON_ERROR_STOP off
SAVEPOINT attempt;
\echo '-- alice holds operator, which dave does not: her password, a key, her status are out of reach:'
SELECT taskforce.set_password('alice@acme.example', 'Taken-Over-2026!');
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO attempt;
SELECT taskforce.create_api_key('alice@acme.example', 'backdoor') \g /dev/null
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO attempt;
SELECT taskforce.deactivate_user('alice@acme.example') \g /dev/null
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK TO attempt;
\set ON_ERROR_STOP on
COMMIT;

\echo
\echo '== 12. Passwords: one answer for every failure, and a lockout no caller can dodge'
\echo '   Each attempt is counted in shared memory before the password is checked,'
\echo '   so rolling back, cancelling or timing out a guess does not undo it.'
\echo
\c - app
\echo '[connected as app (member of taskforce_app)]'
\echo '-- Five wrong guesses for erin, each in a subtransaction that is rolled back:'
DO $$
BEGIN
    FOR i IN 1..5 LOOP
        BEGIN
            PERFORM taskforce.authenticate_password('acme-corp', 'erin', 'guess-' || i);
        EXCEPTION WHEN invalid_password THEN
            RAISE NOTICE 'guess %: SQLSTATE %, %', i, SQLSTATE, SQLERRM;
        END;
    END LOOP;
END
$$;
\echo '-- Now even the right password gets the same answer, and so does an unknown user:'
\set ON_ERROR_STOP off
SELECT taskforce.authenticate_password('acme-corp', 'erin', 'Walkthrough-2026!');
SELECT taskforce.authenticate_password('acme-corp', 'nobody', 'Walkthrough-2026!');
\set ON_ERROR_STOP on
\c - postgres
\echo '[connected as postgres (superuser)]'
\echo '-- The reasons are in the security events only (queued; the event writer writes them within seconds, a flush at once):'
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT user_id, event, outcome, reason
  FROM taskforce.security_events
 WHERE tenant_id = 'acme-corp' AND event IN ('authentication', 'lockout') AND method = 'password'
 ORDER BY event_id;
\echo '-- An administrator unlocks erin, and the right password works again:'
SELECT taskforce.unlock_user('erin@acme.example', tenant_id => 'acme-corp');
\c - app
BEGIN;
SELECT taskforce.authenticate_password('acme-corp', 'erin', 'Walkthrough-2026!');
SELECT tenant_id, user_id, auth_method FROM taskforce.current_context();
COMMIT;

\echo
\echo '== 13. Operations: who is connected, and offboarding a tenant'
\echo
\c - middleware
\echo '[connected as middleware (member of taskforce_admin)]'
\echo '-- A session-scoped context, and what live_contexts shows of it (never the signed value):'
SELECT taskforce.act_as('acme-corp', 'alice@acme.example', scope => 'session') \g /dev/null
SELECT tenant_id, user_id, auth_method, scope FROM taskforce.live_contexts;
SELECT taskforce.clear_context() \g /dev/null
\echo '-- A third tenant with one agent, then deleted: it refuses every write from then on.'
SELECT tenant_id, status FROM taskforce.create_tenant('initech', 'Initech', 'basic');
BEGIN;
SELECT taskforce.act_as('initech', 'peter@initech.example') \g /dev/null
INSERT INTO agents (name, model) VALUES ('tps-reports', 'gpt-4o-mini');
COMMIT;
SELECT tenant_id, status FROM taskforce.delete_tenant('initech', 'contract ended');
\set ON_ERROR_STOP off
SELECT taskforce.create_user('milton@initech.example', 'milton', tenant_id => 'initech') \g /dev/null
\echo '   -> refused, SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP on
\echo '-- offboard_tenant: a dry run lists what would go, then the rows are removed in one transaction:'
SELECT table_name, rows FROM taskforce.offboard_tenant('initech') WHERE rows > 0;
SELECT table_name, rows FROM taskforce.offboard_tenant('initech', dry_run => false) WHERE rows > 0;
