-- sql/audit_app.sql: the audit trail as an application uses it (issue 9,
-- "every security guarantee is tested as an ordinary application role").
-- The application logs in as an ordinary role of the app purpose and
-- authenticates each request with an API key or a JWT; sql/audit.sql covers
-- the entry format, act_as by an administrator and the options.  Tokens and
-- keys are carried with \gset (real clients bind them as parameters).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE aapp_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE aapp_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('aapp-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('aapp-globex', 'Globex');
-- A tenant table (a card number redacted) and a table shared by tenants.
CREATE TABLE public.aapp_orders (id int PRIMARY KEY, tenant_id text NOT NULL DEFAULT taskforce.current_tenant(),
                                 item text, qty int, card text);
SELECT FROM taskforce.enable_tenant_isolation('public.aapp_orders');
SELECT FROM taskforce.enable_audit('public.aapp_orders', redact_columns => '{card}');
CREATE TABLE public.aapp_shared (id int PRIMARY KEY, body text);
SELECT FROM taskforce.enable_audit('public.aapp_shared');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.aapp_orders, public.aapp_shared TO taskforce_app;
RESET client_min_messages;

-- The administrator: users, an API key for a service, a JWT issuer whose
-- token roles count, and tokens (minted here for the identity provider).
\c - aapp_admin
SELECT user_id FROM taskforce.create_user('carol', 'carol', tenant_id => 'aapp-acme');
SELECT user_id FROM taskforce.create_user('rita', 'rita', tenant_id => 'aapp-acme');
SELECT user_id FROM taskforce.create_user('svc-billing', 'svc-billing', kind => 'service', tenant_id => 'aapp-acme');
SELECT user_id FROM taskforce.create_user('gil', 'gil', tenant_id => 'aapp-globex');
SELECT role_name FROM taskforce.grant_role('rita', 'auditor', tenant_id => 'aapp-acme');
SELECT api_key AS billing_key FROM taskforce.create_api_key('svc-billing', 'billing', roles => ARRAY['operator'],
                                                           tenant_id => 'aapp-acme') \gset
SELECT issuer FROM taskforce.configure_jwt_issuer('https://idp.aapp.example', '{taskforce-api}', '{HS256}',
                                                  trust_token_roles => true);
SELECT FROM taskforce.add_jwt_key('aapp-hs256', 'https://idp.aapp.example', 'HS256', sha256('aapp jwt key'));
SELECT taskforce.mint_jwt('{"sub": "carol", "tenant_id": "aapp-acme", "aud": "taskforce-api", "roles": ["operator"]}',
                          'aapp-hs256') AS carol_token \gset
SELECT taskforce.mint_jwt('{"sub": "rita", "tenant_id": "aapp-acme", "aud": "taskforce-api"}',
                          'aapp-hs256') AS rita_token \gset
SELECT taskforce.mint_jwt('{"sub": "gil", "tenant_id": "aapp-globex", "aud": "taskforce-api", "roles": ["admin"]}',
                          'aapp-hs256') AS gil_token \gset

-- 1. Changes by authenticated requests name the user, roles and method.
\c - aapp_app
BEGIN;
SELECT FROM taskforce.authenticate_api_key(:'billing_key');
INSERT INTO public.aapp_orders (id, item, qty, card) VALUES (1, 'pencil', 3, '4111-1111');
UPDATE public.aapp_orders SET qty = 4 WHERE id = 1;
COMMIT;
BEGIN;
SELECT FROM taskforce.authenticate_jwt(:'carol_token');
INSERT INTO public.aapp_orders (id, item, qty, card) VALUES (2, 'paper', 1, '4111-1111');
DELETE FROM public.aapp_orders WHERE id = 1;
COMMIT;
BEGIN;
SELECT FROM taskforce.authenticate_jwt(:'gil_token');
INSERT INTO public.aapp_orders (id, item, qty) VALUES (10, 'globe', 1);
COMMIT;
\c - postgres
SELECT tenant_id, action, row_key, user_id, roles, auth_method, db_role,
       new_values->>'qty' AS qty, new_values->>'card' ~ '^hmac-sha256:[0-9a-f]{64}$' AS card_redacted
  FROM taskforce.audit_log WHERE object = 'public.aapp_orders' ORDER BY txid, entry_seq;
-- Equal cards in one tenant give equal redactions.
SELECT count(DISTINCT new_values->>'card') AS distinct_cards
  FROM taskforce.audit_log WHERE object = 'public.aapp_orders' AND action = 'INSERT' AND tenant_id = 'aapp-acme';

-- 2. Reading: with audit:read (rita holds the auditor role) a context sees
-- its tenant's entries only; without it (carol, an operator) none.
\c - aapp_app
BEGIN;
SELECT FROM taskforce.authenticate_jwt(:'rita_token');
SELECT taskforce.has_permission('audit:read') AS rita_reads;
SELECT DISTINCT tenant_id FROM taskforce.audit_log;
SELECT count(*) AS globex_entries FROM taskforce.audit_log WHERE tenant_id = 'aapp-globex';
SELECT count(*) AS globex_history FROM taskforce.audit_row_history('public.aapp_orders', '{"id": 10}');
SELECT DISTINCT tenant_id FROM taskforce.audit_changes(now() - interval '1 hour', now() + interval '1 hour');
SELECT action, user_id FROM taskforce.audit_row_history('public.aapp_orders', '{"id": 1}');
COMMIT;
BEGIN;
SELECT FROM taskforce.authenticate_jwt(:'carol_token');
SELECT taskforce.has_permission('audit:read') AS carol_reads;
SELECT count(*) AS carol_sees FROM taskforce.audit_log;
SELECT count(*) AS carol_history FROM taskforce.audit_row_history('public.aapp_orders', '{"id": 2}');
COMMIT;

-- 3. Even with audit:read the application role writes no entry and reaches
-- no key or tree function: each is refused with 42501.
SELECT FROM taskforce.authenticate_jwt(:'rita_token', scope => 'session');
\set VERBOSITY terse
INSERT INTO taskforce.audit_log (logged_at, txid, entry_seq, statement_id, event_type, action, db_role, salts, leaf_hash)
VALUES (now(), 1, 1, 0, 'change', 'INSERT', 'x', '', '');
\echo :LAST_ERROR_SQLSTATE
UPDATE taskforce.audit_log SET user_id = 'nobody' WHERE tenant_id = 'aapp-acme';
\echo :LAST_ERROR_SQLSTATE
DELETE FROM taskforce.audit_log WHERE tenant_id = 'aapp-acme';
\echo :LAST_ERROR_SQLSTATE
TRUNCATE taskforce.audit_log;
\echo :LAST_ERROR_SQLSTATE
-- The partitions have no row security of their own: no privilege either.
SELECT count(*) FROM taskforce.audit_log_default;
\echo :LAST_ERROR_SQLSTATE
UPDATE taskforce.audit_log_default SET user_id = 'nobody';
\echo :LAST_ERROR_SQLSTATE
DELETE FROM taskforce.audit_log_default;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE taskforce.audit_log_default;
\echo :LAST_ERROR_SQLSTATE
-- A monthly partition (the install month's entries may sit in the default
-- one: its partition is then never made).  Its name is in the messages:
-- SQLSTATE only.
SELECT min(i.inhrelid::regclass::text) AS month_partition FROM pg_inherits AS i
 WHERE i.inhparent = 'taskforce.audit_log'::regclass
   AND i.inhrelid::regclass::text ~ '^taskforce\.audit_log_[0-9]{6}$' \gset
\set VERBOSITY sqlstate
SELECT count(*) FROM :month_partition;
INSERT INTO :month_partition (logged_at, txid, entry_seq, statement_id, event_type, action, db_role, salts, leaf_hash)
VALUES (now(), 1, 1, 0, 'change', 'INSERT', 'x', '', '');
UPDATE :month_partition SET user_id = 'nobody';
DELETE FROM :month_partition;
TRUNCATE :month_partition;
\set VERBOSITY terse
-- Keys, the tree and erasure.
SELECT seed FROM taskforce.audit_signing_key;
\echo :LAST_ERROR_SQLSTATE
SELECT key FROM taskforce.audit_redaction_key;
\echo :LAST_ERROR_SQLSTATE
-- The tree and its state span tenants: no table of the log is readable.
SELECT count(*) FROM taskforce.audit_tiles;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM taskforce.audit_checkpoints;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM taskforce.audit_sealed_transactions;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM taskforce.audit_log_state;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM taskforce.audit_options;
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.audit_position(1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.seal_audit();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.verify_audit();
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.erase_audit_values('public.aapp_orders', '{"id": 2}', '{item}', 'cover tracks');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.audit_checkpoint();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.export_audit();
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_audit_partitions();
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce._audit_write_event('change', 'public.aapp_orders', '{"id": 99}', 'INSERT', NULL, '{}');
\echo :LAST_ERROR_SQLSTATE
-- Nor can it switch the trigger off for its own changes.
ALTER TABLE public.aapp_orders DISABLE TRIGGER taskforce_audit;
\echo :LAST_ERROR_SQLSTATE
SET session_replication_role = replica;
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.disable_audit('public.aapp_orders');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT taskforce.clear_context();

-- 4. A pooled connection: one session serves several requests.  A change
-- after the context ends is never attributed to the user before.
-- A transaction-scoped authentication ends with its transaction:
BEGIN;
SELECT FROM taskforce.authenticate_jwt(:'carol_token');
INSERT INTO public.aapp_shared VALUES (1, 'carol, in her transaction');
COMMIT;
INSERT INTO public.aapp_shared VALUES (2, 'next request, no authentication');
-- A session-scoped one ends with clear_context(), RESET and DISCARD ALL:
SELECT FROM taskforce.authenticate_jwt(:'carol_token', scope => 'session');
UPDATE public.aapp_shared SET body = 'carol, session' WHERE id = 1;
SELECT taskforce.clear_context();
UPDATE public.aapp_shared SET body = 'after clear_context' WHERE id = 1;
SELECT FROM taskforce.authenticate_api_key(:'billing_key', scope => 'session');
UPDATE public.aapp_shared SET body = 'svc-billing, session' WHERE id = 2;
RESET taskforce.context;
UPDATE public.aapp_shared SET body = 'after RESET' WHERE id = 2;
SELECT FROM taskforce.authenticate_jwt(:'gil_token', scope => 'session');
INSERT INTO public.aapp_shared VALUES (3, 'gil, session');
DISCARD ALL;
UPDATE public.aapp_shared SET body = 'after DISCARD ALL' WHERE id = 3;
-- ... and without a context the tenant table refuses the change (fail closed).
\set VERBOSITY terse
INSERT INTO public.aapp_orders (id, item, qty) VALUES (3, 'left over', 1);
\echo :LAST_ERROR_SQLSTATE
WITH u AS (UPDATE public.aapp_orders SET qty = 0 RETURNING id) SELECT count(*) AS orders_changed FROM u;
\set VERBOSITY default
\c - postgres
SELECT action, row_key, new_values->>'body' AS body, user_id, roles, auth_method, tenant_id, db_role
  FROM taskforce.audit_log WHERE object = 'public.aapp_shared' ORDER BY txid, entry_seq;
SELECT count(*) AS orders_entries FROM taskforce.audit_log WHERE object = 'public.aapp_orders';
SELECT bool_and(taskforce._audit_leaf_hash(a) = a.leaf_hash) AS every_leaf_matches
  FROM taskforce.audit_log AS a WHERE object IN ('public.aapp_orders', 'public.aapp_shared');
