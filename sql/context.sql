-- context: establishing, reading, scoping and expiring the caller's identity,
-- and every way of forging one, tried as an ordinary role.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS ctx_mw, ctx_app;
CREATE ROLE ctx_mw LOGIN IN ROLE taskforce_admin;
CREATE ROLE ctx_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('ctx-a', 'Tenant A');
SELECT count(*) FROM taskforce.create_tenant('ctx-b', 'Tenant B');
RESET client_min_messages;

-- The readers are C, STABLE, PARALLEL SAFE and LEAKPROOF.
SELECT p.proname, l.lanname, p.provolatile, p.proparallel, p.proleakproof
  FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.pronamespace = 'taskforce'::regnamespace
   AND p.proname IN ('current_tenant', 'current_user_id', 'current_roles', 'current_context')
 ORDER BY p.proname;

\c - ctx_mw
-- No context: every reader is null.
SELECT taskforce.current_tenant(), taskforce.current_user_id(), taskforce.current_roles();
SELECT * FROM taskforce.current_context();

-- A transaction-scoped context lasts until the end of the transaction.
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ARRAY['operator', 'viewer']);
SELECT taskforce.current_tenant(), taskforce.current_user_id(), taskforce.current_roles();
SELECT tenant_id, user_id, roles, auth_method, scope, established_by,
       expires_at - established_at AS lifetime
  FROM taskforce.current_context();
COMMIT;
SELECT taskforce.current_tenant() IS NULL AS gone_after_commit;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice');
ROLLBACK;
SELECT taskforce.current_tenant() IS NULL AS gone_after_rollback;

-- Outside a transaction block it ends with the statement, and says so.
SELECT taskforce.act_as('ctx-a', 'alice');
SELECT taskforce.current_tenant() IS NULL AS gone_after_statement;

-- A session-scoped context survives transactions ...
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
SELECT taskforce.current_tenant(), scope FROM taskforce.current_context();
-- ... a transaction-scoped one overrides it until the transaction ends ...
BEGIN;
SELECT taskforce.act_as('ctx-b', 'bob');
SELECT taskforce.current_tenant(), scope FROM taskforce.current_context();
COMMIT;
SELECT taskforce.current_tenant(), scope FROM taskforce.current_context();
-- ... and clear_context(), RESET, RESET ALL and DISCARD ALL each remove it.
SELECT taskforce.clear_context();
SELECT taskforce.current_tenant() IS NULL AS cleared;
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
RESET taskforce.context;
SELECT taskforce.current_tenant() IS NULL AS reset;
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
RESET ALL;
SELECT taskforce.current_tenant() IS NULL AS reset_all;
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
DISCARD ALL;
SELECT taskforce.current_tenant() IS NULL AS discarded;

-- Rolling back undoes establishing, and undoes clearing.
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
ROLLBACK;
SELECT taskforce.current_tenant() IS NULL AS establish_rolled_back;
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
BEGIN;
SELECT taskforce.clear_context();
ROLLBACK;
SELECT taskforce.current_tenant() AS clear_rolled_back;
BEGIN;
SAVEPOINT s;
SELECT taskforce.act_as('ctx-b', 'bob');
ROLLBACK TO SAVEPOINT s;
SELECT taskforce.current_tenant() AS after_savepoint_rollback;
COMMIT;
SELECT taskforce.clear_context();

-- Lifetime: ttl is bounded by taskforce.max_context_ttl, and an expired
-- context reads as none.
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ttl => '5 minutes');
SELECT expires_at - established_at AS lifetime FROM taskforce.current_context();
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ttl => '2 hours');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ttl => '-1 second');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ttl => '0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ttl => '3 seconds');
SELECT taskforce.current_tenant() AS before_expiry;
SELECT pg_sleep(3.2);
SELECT taskforce.current_tenant() IS NULL AS expired,
       (SELECT tenant_id IS NULL FROM taskforce.current_context()) AS context_expired;
ROLLBACK;
-- Only a superuser may change the limit.
SET taskforce.max_context_ttl = '1d';
\echo :LAST_ERROR_SQLSTATE

-- Bad arguments.
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'forever');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', '');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as(NULL, 'alice');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', repeat('u', 257));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ARRAY['viewer', NULL]);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ARRAY['']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', ARRAY[['a', 'b'], ['c', 'd']]);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', array_fill('r'::text, ARRAY[65]));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A failed act_as leaves no context behind, and keeps an existing one.
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
SELECT taskforce.act_as('ctx-b', 'bob', scope => 'never');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant() AS unchanged;
SELECT taskforce.clear_context();

-- The internal establishing function is not callable by middleware directly.
SELECT taskforce._establish_context('ctx-a', 'alice', '{}', 'jwt', 'transaction', NULL);
\echo :LAST_ERROR_SQLSTATE

-- Forging, as the application role: nothing but taskforce can set the context.
\c - ctx_app
SELECT taskforce.act_as('ctx-a', 'alice');
\echo :LAST_ERROR_SQLSTATE
SET taskforce.context = 'v1.eyJ0ZW5hbnQiOiJjdHgtYSJ9.AAAA';
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SET LOCAL taskforce.context = 'ctx-a';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT set_config('taskforce.context', 'ctx-a', false);
\echo :LAST_ERROR_SQLSTATE
SELECT set_config('taskforce.context', 'ctx-a', true);
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION pg_temp.forged() RETURNS text LANGUAGE sql
    SET taskforce.context = 'ctx-a' AS 'SELECT taskforce.current_tenant()';
\echo :LAST_ERROR_SQLSTATE
ALTER ROLE ctx_app SET taskforce.context = 'ctx-a';
\echo :LAST_ERROR_SQLSTATE
-- Reading the carried value is for superusers only.
SHOW taskforce.context;
\echo :LAST_ERROR_SQLSTATE
SELECT current_setting('taskforce.context');
\echo :LAST_ERROR_SQLSTATE
-- Clearing is always allowed: it can only take rights away.
SET taskforce.context = '';
RESET taskforce.context;
SELECT taskforce.current_tenant() IS NULL AS still_none;

-- Replay: a genuine signed value, captured by a superuser, is refused in a
-- later transaction of the same session and in any other session, even when
-- a superuser replays it or puts it in a function's SET clause.
\c - postgres
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice', scope => 'session');
SELECT current_setting('taskforce.context') AS stolen \gset
SELECT :'stolen' LIKE 'v1.%.%' AS looks_signed;
SELECT set_config('taskforce.context', :'stolen', true);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT set_config('taskforce.context', :'stolen', false);
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT taskforce.act_as('ctx-a', 'alice');
CREATE FUNCTION public.replayed() RETURNS text LANGUAGE sql
    SET taskforce.context FROM CURRENT AS 'SELECT taskforce.current_tenant()';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT taskforce.current_tenant() IS NULL AS no_context_after_rollback;
\c - ctx_app
SELECT set_config('taskforce.context', :'stolen', false);
\echo :LAST_ERROR_SQLSTATE
SET taskforce.context = :'stolen';
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant() IS NULL AS replay_refused;

-- The application role, given a context by trusted code, reads it.
\c - postgres
BEGIN;
SELECT taskforce.act_as('ctx-b', 'bob', ARRAY['viewer']);
SET LOCAL ROLE ctx_app;
SELECT current_user, taskforce.current_tenant(), taskforce.current_user_id(), taskforce.current_roles();
ROLLBACK;

-- The application authenticates itself with an API key of tenant ctx-a.
\c - ctx_mw
SELECT user_id FROM taskforce.create_user('ctx-svc', 'ctx-svc', kind => 'service', tenant_id => 'ctx-a');
SELECT api_key AS svc_key FROM taskforce.create_api_key('ctx-svc', 'context tests', tenant_id => 'ctx-a') \gset

-- PREPARE TRANSACTION keeps a transaction's setting changes at once, as
-- COMMIT does, so a session context established in a transaction that is
-- prepared would survive ROLLBACK PREPARED.  Such a transaction cannot be
-- prepared; the error aborts it, and the context with it.
\c - ctx_app
BEGIN;
SELECT taskforce.authenticate_api_key(:'svc_key', scope => 'session');
SELECT taskforce.current_tenant() AS during;
PREPARE TRANSACTION 'tf_ctx_session';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK PREPARED 'tf_ctx_session';
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant() IS NULL AS no_context_after_refused_prepare;
-- Clearing a session context, or RESET, in such a transaction: refused too.
SELECT taskforce.authenticate_api_key(:'svc_key', scope => 'session');
BEGIN;
SELECT taskforce.clear_context();
PREPARE TRANSACTION 'tf_ctx_clear';
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant() AS kept_after_refused_prepare;
BEGIN;
RESET taskforce.context;
PREPARE TRANSACTION 'tf_ctx_reset';
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant() AS kept_after_refused_prepare;
SELECT taskforce.clear_context();
-- A session context established in a subtransaction that was rolled back
-- left nothing: the transaction can be prepared.
BEGIN;
SAVEPOINT s;
SELECT taskforce.authenticate_api_key(:'svc_key', scope => 'session');
ROLLBACK TO SAVEPOINT s;
PREPARE TRANSACTION 'tf_ctx_savepoint';
ROLLBACK PREPARED 'tf_ctx_savepoint';
SELECT taskforce.current_tenant() IS NULL AS none_after_rollback_prepared;
-- A transaction-scoped context ends at PREPARE, as at COMMIT.
BEGIN;
SELECT taskforce.authenticate_api_key(:'svc_key');
PREPARE TRANSACTION 'tf_ctx_transaction';
SELECT taskforce.current_tenant() IS NULL AS gone_after_prepare;
ROLLBACK PREPARED 'tf_ctx_transaction';
SELECT taskforce.current_tenant() IS NULL AS none_after_rollback_prepared;

-- A WITH HOLD cursor runs at commit and keeps its rows on the connection
-- after a transaction-scoped context ends; behind a transaction-mode pooler
-- the next client could fetch them by name.  Such cursors are refused while
-- a transaction-scoped context is active, however declared.
BEGIN;
SELECT taskforce.authenticate_api_key(:'svc_key');
DECLARE leak CURSOR WITH HOLD FOR SELECT taskforce.current_tenant() AS tenant;
\echo :LAST_ERROR_SQLSTATE
COMMIT;
FETCH ALL FROM leak;
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT taskforce.authenticate_api_key(:'svc_key');
DO $$ BEGIN EXECUTE 'DECLARE leak CURSOR WITH HOLD FOR SELECT taskforce.current_tenant()'; END $$;
\echo :LAST_ERROR_SQLSTATE
COMMIT;
FETCH ALL FROM leak;
\echo :LAST_ERROR_SQLSTATE
-- Declared first, the cursor would still run under the context at commit:
-- establishing the context is refused while it is open.
BEGIN;
DECLARE leak CURSOR WITH HOLD FOR SELECT taskforce.current_tenant() AS tenant;
SELECT taskforce.authenticate_api_key(:'svc_key');
\echo :LAST_ERROR_SQLSTATE
COMMIT;
FETCH ALL FROM leak;
\echo :LAST_ERROR_SQLSTATE
-- Closed first, it is gone, and the context can be established.
BEGIN;
DECLARE leak CURSOR WITH HOLD FOR SELECT taskforce.current_tenant() AS tenant;
CLOSE leak;
SELECT taskforce.authenticate_api_key(:'svc_key');
SELECT taskforce.current_tenant();
COMMIT;
-- Cursors without WITH HOLD end with the transaction and are allowed.
BEGIN;
SELECT taskforce.authenticate_api_key(:'svc_key');
DECLARE own CURSOR FOR SELECT taskforce.current_tenant() AS tenant;
FETCH ALL FROM own;
COMMIT;
-- WITH HOLD with no context, or under a session context (which outlives
-- the cursor's transaction anyway), is allowed.
DECLARE nothing CURSOR WITH HOLD FOR SELECT taskforce.current_tenant() IS NULL AS no_context;
FETCH ALL FROM nothing;
CLOSE nothing;
SELECT taskforce.authenticate_api_key(:'svc_key', scope => 'session');
BEGIN;
DECLARE mine CURSOR WITH HOLD FOR SELECT taskforce.current_tenant() AS tenant;
COMMIT;
FETCH ALL FROM mine;
CLOSE mine;
SELECT taskforce.clear_context();
