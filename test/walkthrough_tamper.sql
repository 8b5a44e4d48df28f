-- test/walkthrough_tamper.sql: a superuser rewrites an entry behind the
-- trail's back (run by test/walkthrough.sh, section 18).
\set ON_ERROR_STOP on
\pset footer off
\echo '[connected as postgres (superuser)]'
\echo '-- With triggers off, the superuser changes the model alice set:'
SET session_replication_role = replica;
UPDATE taskforce.audit_log SET new_values = jsonb_set(new_values, '{model}', '"gpt-3.5"')
 WHERE object = 'public.agents' AND action = 'UPDATE';
RESET session_replication_role;
\echo '-- verify_audit() finds it:'
SELECT kind, position, detail FROM taskforce.verify_audit();
