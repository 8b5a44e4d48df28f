-- passwords: password policies, bcrypt hashes, password authentication and
-- lockout after failed attempts, tried as an ordinary application role.
-- Credentials travel in psql variables here; real clients pass them as
-- bind parameters, so that they never appear in the query text or logs.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS pw_admin, pw_app;
CREATE ROLE pw_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE pw_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('pw-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('pw-globex', 'Globex');
RESET client_min_messages;

\set alice_pw 'Alice-Passw0rd!'
\set bob_pw 'Bob-Secret-123!'
\set carol_pw 'Carol#Secret9x'
\set gina_pw 'Gina-Secret-42!'

-- The hashes are readable by no ordinary role.  The application and
-- administrators may read the policies (of their context's tenant only)
-- but change them only through set_password_policy().
SELECT r.role,
       has_table_privilege(r.role, 'taskforce.user_credentials', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE') AS any_on_credentials,
       has_table_privilege(r.role, 'taskforce.password_policies', 'SELECT') AS read_policies,
       has_table_privilege(r.role, 'taskforce.password_policies', 'INSERT, UPDATE, DELETE, TRUNCATE') AS write_policies
  FROM unnest(ARRAY['taskforce_app', 'taskforce_admin', 'taskforce_auditor', 'taskforce_bi']) AS r(role)
 ORDER BY r.role;
-- Both are under tenant isolation.
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
  FROM pg_class AS c
 WHERE c.oid IN ('taskforce.user_credentials'::regclass, 'taskforce.password_policies'::regclass)
 ORDER BY c.relname;

-- bcrypt and the random salts come from pgcrypto, bound when the extension
-- was created: no search_path or look-alike function can redirect them.
SELECT p.proname, d.refobjid::regprocedure AS calls
  FROM pg_depend AS d JOIN pg_proc AS p ON p.oid = d.objid
 WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_proc'::regclass
   AND p.pronamespace = 'taskforce'::regnamespace
   AND p.proname IN ('_bcrypt', '_bcrypt_salt')
 ORDER BY p.proname;

-- An administrator (no context) sets up the tenant.
\c - pw_admin
SELECT user_id FROM taskforce.create_user('alice', 'alice', tenant_id => 'pw-acme');
SELECT user_id FROM taskforce.create_user('bob', 'bob', tenant_id => 'pw-acme');
SELECT user_id FROM taskforce.create_user('carol', 'carol', tenant_id => 'pw-acme');
SELECT user_id FROM taskforce.create_user('dave', 'dave', tenant_id => 'pw-acme');
SELECT user_id FROM taskforce.create_user('gina', 'gina', tenant_id => 'pw-globex');
SELECT role_name FROM taskforce.grant_role('alice', 'admin', tenant_id => 'pw-acme');
SELECT role_name FROM taskforce.grant_role('bob', 'viewer', tenant_id => 'pw-acme');

-- The built-in policy, until the tenant changes it.
SELECT min_length, max_length, require_uppercase, require_lowercase, require_digit,
       require_symbol, max_failed_attempts, lockout_minutes, bcrypt_cost
  FROM taskforce.password_policy('pw-acme');
-- Three failures lock the account; cost 4 keeps the test fast.
SELECT tenant_id, min_length, max_failed_attempts, lockout_minutes, bcrypt_cost
  FROM taskforce.set_password_policy('pw-acme', max_failed_attempts => 3, bcrypt_cost => 4);
SELECT tenant_id, bcrypt_cost
  FROM taskforce.set_password_policy('pw-globex', bcrypt_cost => 4);
-- Null keeps a field.
SELECT min_length, max_failed_attempts, bcrypt_cost
  FROM taskforce.set_password_policy('pw-acme', min_length => 10);
-- Out of range, each refused, the policy unchanged.
SELECT taskforce.set_password_policy('pw-acme', bcrypt_cost => 3);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-acme', bcrypt_cost => 16);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-acme', max_length => 100);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-acme', min_length => 6);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-acme', min_length => 40, max_length => 30);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-acme', max_failed_attempts => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-acme', lockout_minutes => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-nowhere', min_length => 14);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy(min_length => 14);
\echo :LAST_ERROR_SQLSTATE
SELECT min_length, max_length, max_failed_attempts, lockout_minutes, bcrypt_cost
  FROM taskforce.password_policy('pw-acme');

-- Every violation, one row each, in a fixed order.
SELECT * FROM taskforce.password_policy_violations('abc', 'pw-acme');
SELECT * FROM taskforce.password_policy_violations('ALLUPPERCASE', 'pw-acme');
SELECT * FROM taskforce.password_policy_violations(repeat('Aa1!', 19), 'pw-acme');
SELECT count(*) AS violations FROM taskforce.password_policy_violations(:'alice_pw', 'pw-acme');
SELECT taskforce.password_policy_violations(NULL, 'pw-acme');
\echo :LAST_ERROR_SQLSTATE

-- Setting passwords: a weak one is refused with every reason.
SELECT taskforce.set_password('alice', 'alice', 'pw-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password('alice', :'alice_pw', 'pw-acme');
SELECT taskforce.set_password('bob', :'bob_pw', 'pw-acme');
SELECT taskforce.set_password('carol', :'carol_pw', 'pw-acme');
SELECT taskforce.set_password('gina', :'gina_pw', 'pw-globex');
SELECT taskforce.set_password('nobody', :'alice_pw', 'pw-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password('alice', NULL, 'pw-acme');
\echo :LAST_ERROR_SQLSTATE

-- Stored as salted bcrypt hashes at the policy's cost, never the password.
\c - postgres
SELECT user_id, left(password_hash, 7) AS algorithm_and_cost, length(password_hash) AS hash_length,
       password_hash <> :'alice_pw' AS not_plain, failed_attempts, locked_until IS NULL AS unlocked
  FROM taskforce.user_credentials WHERE tenant_id IN ('pw-acme', 'pw-globex') ORDER BY user_id;
SELECT count(DISTINCT substr(password_hash, 8, 22)) AS distinct_salts
  FROM taskforce.user_credentials WHERE tenant_id IN ('pw-acme', 'pw-globex');
-- The built-in policy is the table's defaults.
BEGIN;
INSERT INTO taskforce.password_policies (tenant_id) VALUES ('pw-globex')
    ON CONFLICT (tenant_id) DO UPDATE SET min_length = DEFAULT, max_length = DEFAULT,
       require_uppercase = DEFAULT, require_lowercase = DEFAULT, require_digit = DEFAULT,
       require_symbol = DEFAULT, max_failed_attempts = DEFAULT, lockout_minutes = DEFAULT,
       bcrypt_cost = DEFAULT;
SELECT (p.min_length, p.max_length, p.require_uppercase, p.require_lowercase, p.require_digit,
        p.require_symbol, p.max_failed_attempts, p.lockout_minutes, p.bcrypt_cost)
     = (d.min_length, d.max_length, d.require_uppercase, d.require_lowercase, d.require_digit,
        d.require_symbol, d.max_failed_attempts, d.lockout_minutes, d.bcrypt_cost) AS defaults_agree
  FROM taskforce.password_policies AS p, taskforce._default_password_policy('pw-globex') AS d
 WHERE p.tenant_id = 'pw-globex';
ROLLBACK;

-- The application role, with no context, can neither read a policy nor
-- set a password nor unlock anyone.
\c - pw_app
SELECT taskforce.password_policy('pw-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password('bob', :'bob_pw', 'pw-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.unlock_user('bob', 'pw-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy('pw-acme', min_length => 8);
\echo :LAST_ERROR_SQLSTATE

-- A right password establishes the context.
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'bob', :'bob_pw');
SELECT taskforce.current_tenant(), taskforce.current_user_id(),
       (taskforce.current_context()).auth_method, (taskforce.current_context()).scope;
SELECT taskforce.has_permission('agent:read') AS viewer_reads,
       taskforce.has_permission('user:manage') AS viewer_manages;
-- Any user may read its own tenant's policy, not another's.
SELECT min_length, max_failed_attempts FROM taskforce.password_policy();
SELECT * FROM taskforce.password_policy_violations('short');
SELECT tenant_id, min_length FROM taskforce.password_policies ORDER BY tenant_id;
SELECT taskforce.password_policy('pw-globex');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Without a context the table shows nothing.
SELECT count(*) FROM taskforce.password_policies;
SELECT taskforce.current_tenant() IS NULL AS gone_after_rollback;

-- A session-scoped login survives transactions until cleared.
SELECT taskforce.authenticate_password('pw-acme', 'bob', :'bob_pw', scope => 'session');
SELECT taskforce.current_user_id(), (taskforce.current_context()).scope;
-- A user changes its own password, but not another's.
SELECT taskforce.set_password('alice', 'Stolen-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password('bob', 'weak');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password('bob', 'Bob-Secret-456!', 'pw-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password('bob', 'Bob-Secret-456!');
SELECT taskforce.unlock_user('carol');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.set_password_policy(min_length => 8);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.clear_context();
-- The old password no longer works, the new one does.
SELECT taskforce.authenticate_password('pw-acme', 'bob', :'bob_pw');
\echo :LAST_ERROR_SQLSTATE
\set bob_pw 'Bob-Secret-456!'
SELECT taskforce.authenticate_password('pw-acme', 'bob', :'bob_pw');

-- Failures: all invalid_password "authentication failed", telling nothing
-- about which of tenant, user or password was wrong (the reason is in the
-- security event only).
SELECT taskforce.authenticate_password('pw-acme', 'bob', 'Wrong-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_password('pw-acme', 'nobody', 'Wrong-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_password('pw-acme', 'dave', 'Wrong-Passw0rd!');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_password('pw-nowhere', 'bob', :'bob_pw');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_password('pw-globex', 'bob', :'bob_pw');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_password('pw-acme', 'bob', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant() IS NULL AS no_context;

-- A success clears the count of failures.  The count lives in shared
-- memory; the next write (here an explicit flush) persists it.
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT user_id, failed_attempts FROM taskforce.user_credentials
 WHERE tenant_id = 'pw-acme' AND user_id = 'bob';
\c - pw_app
SELECT taskforce.authenticate_password('pw-acme', 'bob', :'bob_pw');
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT user_id, failed_attempts FROM taskforce.user_credentials
 WHERE tenant_id = 'pw-acme' AND user_id = 'bob';

-- Lockout: each failure raises an error, yet it is counted, even when the
-- caller's transaction rolls back or catches the error.
\c - pw_app
SELECT taskforce.authenticate_password('pw-acme', 'bob', 'Wrong-Passw0rd-1');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'bob', 'Wrong-Passw0rd-2');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT user_id, failed_attempts, locked_until IS NOT NULL AS locked
  FROM taskforce.user_credentials WHERE tenant_id = 'pw-acme' AND user_id = 'bob';
\c - pw_app
DO $$
BEGIN
    PERFORM taskforce.authenticate_password('pw-acme', 'bob', 'Wrong-Passw0rd-3');
EXCEPTION WHEN invalid_password THEN
    RAISE NOTICE 'caught: %', SQLERRM;
END
$$;
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT user_id, failed_attempts, locked_until > now() AS locked,
       locked_until - now() BETWEEN interval '14 minutes' AND interval '15 minutes' AS for_15_minutes
  FROM taskforce.user_credentials WHERE tenant_id = 'pw-acme' AND user_id = 'bob';
-- A locked account refuses even the right password, and stops counting.
\c - pw_app
SELECT taskforce.authenticate_password('pw-acme', 'bob', :'bob_pw');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_password('pw-acme', 'bob', 'Wrong-Passw0rd-4');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT user_id, failed_attempts, locked_until > now() AS locked
  FROM taskforce.user_credentials WHERE tenant_id = 'pw-acme' AND user_id = 'bob';

-- A user manager unlocks it; unlocking again is refused.
\c - pw_app
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'alice', :'alice_pw');
SELECT taskforce.unlock_user('bob');
SELECT taskforce.unlock_user('bob');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'alice', :'alice_pw');
SELECT taskforce.unlock_user('bob');
SELECT taskforce.unlock_user('nobody');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'alice', :'alice_pw');
SELECT taskforce.unlock_user('bob', 'pw-globex');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'alice', :'alice_pw');
SELECT taskforce.unlock_user('bob');
COMMIT;
SELECT taskforce.authenticate_password('pw-acme', 'bob', :'bob_pw');
SELECT taskforce.current_tenant() IS NULL AS statement_scoped;

-- A user manager sets another user's password, which also lifts a lockout.
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'alice', :'alice_pw');
SELECT taskforce.set_password('carol', 'weak');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_password('pw-acme', 'alice', :'alice_pw');
SELECT taskforce.set_password('carol', 'Carol#Secret10x');
COMMIT;
\set carol_pw 'Carol#Secret10x'

-- A deactivated user cannot log in, whatever the password.
\c - pw_admin
SELECT user_id, status FROM taskforce.deactivate_user('carol', 'left the company', 'pw-acme');
\c - pw_app
SELECT taskforce.authenticate_password('pw-acme', 'carol', :'carol_pw');
\echo :LAST_ERROR_SQLSTATE
-- Nor a user of a suspended tenant.
\c - pw_admin
SELECT tenant_id, status FROM taskforce.suspend_tenant('pw-globex');
\c - pw_app
SELECT taskforce.authenticate_password('pw-globex', 'gina', :'gina_pw');
\echo :LAST_ERROR_SQLSTATE

-- Every failure was recorded, with its precise reason, although each
-- aborted its transaction; so was every success, even in a transaction
-- that rolled back.
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT user_id, method, event, outcome, reason,
       details ? 'counts_toward_lockout' AS counted, details->>'username' AS username
  FROM taskforce.security_events
 WHERE tenant_id IN ('pw-acme', 'pw-globex', 'pw-nowhere')
   AND event IN ('authentication', 'lockout', 'password_changed')
 ORDER BY event_id;
SELECT user_id, event, reason, details->'locked_until' IS NOT NULL AS has_locked_until
  FROM taskforce.security_events
 WHERE tenant_id = 'pw-acme' AND event = 'user_unlocked' ORDER BY event_id;
-- Deleting a user deletes its credentials.
SELECT user_id FROM taskforce.user_credentials WHERE tenant_id = 'pw-acme' ORDER BY user_id;
SELECT taskforce.delete_user('carol', 'pw-acme');
SELECT user_id FROM taskforce.user_credentials WHERE tenant_id = 'pw-acme' ORDER BY user_id;
