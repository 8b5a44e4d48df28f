-- test/walkthrough_retention.sql: the background sealer and retention (run
-- by test/walkthrough.sh, section 17, before the tampering of section 18).
\set ON_ERROR_STOP on
\pset footer off

\echo
\echo '== 17. The background sealer seals by itself; retention purges old entries, the log still verifies'
\echo
\c - postgres
\echo '[connected as postgres (superuser)]'
\echo '-- The sealer, a background worker, seals every taskforce.audit_seal_interval (1s by default;'
\echo '   this walkthrough''s server starts with it off). On, at 200ms:'
ALTER SYSTEM SET taskforce.audit_seal_interval = '200ms';
SELECT pg_reload_conf() AS reloaded;
\c - middleware
\echo '[connected as middleware (member of taskforce_admin)]'
\echo '-- alice adds an agent; nobody calls seal_audit():'
BEGIN;
SELECT taskforce.act_as('acme-corp', 'alice@acme.example', ARRAY['admin']) \g /dev/null
INSERT INTO agents (name, model) VALUES ('archivist', 'gpt-4o');
COMMIT;
SELECT pg_sleep(1.5) \g /dev/null
\c - postgres
\echo '[connected as postgres (superuser)]'
\echo '-- A moment later its entry has a position in the signed log:'
SELECT user_id, action, new_values->>'name' AS agent,
       taskforce.audit_position(txid, entry_seq) IS NOT NULL AS sealed
  FROM taskforce.audit_log WHERE object = 'public.agents' AND action = 'INSERT'
   AND new_values->>'name' = 'archivist';
ALTER SYSTEM RESET taskforce.audit_seal_interval;
SELECT pg_reload_conf() AS reloaded;
\echo '-- Retention: purge_audit(before) removes the sealed entries older than before (whole monthly'
\echo '   partitions are dropped). Here: everything before alice''s JWT change of section 14.'
SELECT min(logged_at) AS alice_change FROM taskforce.audit_log
 WHERE object = 'public.agents' AND action = 'UPDATE' \gset
SELECT purged_size > 0 AS purged, entries_removed > 0 AS entries_removed
  FROM taskforce.purge_audit(:'alice_change');
\echo '-- The purge is itself an entry of the trail; sealed, the log verifies, and alice''s change is still there:'
SELECT entries_sealed FROM taskforce.seal_audit();
SELECT kind, position, detail FROM taskforce.verify_audit();
SELECT user_id, action, new_values->>'model' AS new_model
  FROM taskforce.audit_log WHERE object = 'public.agents' AND action = 'UPDATE';
