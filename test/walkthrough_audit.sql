-- test/walkthrough_audit.sql: the audit trail part of the walkthrough, run
-- by test/walkthrough.sh after the application's JWT login (section 14).
\set ON_ERROR_STOP on
\pset footer off

\echo
\echo '== 15. The audit trail: who changed what, sealed into a signed Merkle log'
\echo '   enable_audit(''agents'') (section 3) records every change in taskforce.audit_log, in'
\echo '   the same transaction, attributed to the verified user of the context.'
\echo
\c - postgres
\echo '[connected as postgres (superuser)]'
\echo '-- The change alice made through her JWT login (section 14), as the trail recorded it:'
SELECT user_id, auth_method, roles, db_role, action, object, row_key,
       old_values->>'model' AS old_model, new_values->>'model' AS new_model
  FROM taskforce.audit_log
 WHERE object = 'public.agents' AND action = 'UPDATE';
\echo '-- Security events and changes to users and roles are entries of the same trail:'
SELECT event_type, object, count(*) AS entries
  FROM taskforce.audit_log GROUP BY 1, 2 ORDER BY 1, 2;
\echo '-- Sealing integrates the committed entries into the Merkle log (RFC 9162) and signs a'
\echo '   checkpoint (C2SP format, Ed25519); here seal_audit() does it at once:'
SELECT tree_size > 0 AS sealed FROM taskforce.seal_audit();
\echo '-- The signed checkpoint, and the key that verifies it:'
SELECT taskforce.audit_checkpoint() AS checkpoint, taskforce.audit_public_key() AS public_key \gset
\echo :checkpoint
\echo 'verifier key:' :public_key
\echo '-- Verification recomputes every entry, the tree and the signatures:'
SELECT kind, position, detail FROM taskforce.verify_audit();
