-- sql/audit_purge.sql: retention (src/sql/audit_purge.sql): purge_audit
-- drops whole monthly partitions and deletes from the others the sealed
-- entries of the longest log prefix older than `before`; verification
-- accepts the purged positions (their leaves stay in the tiles) and still
-- finds an entry deleted behind its back.  Entries are put by the owner
-- with real transaction ids and chosen (past) times, one transaction each.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) > 0 AS roles FROM taskforce.setup_roles();
CREATE ROLE audit_purge_admin IN ROLE taskforce_admin;
CREATE ROLE audit_purge_auditor IN ROLE taskforce_auditor;
CREATE ROLE audit_purge_app IN ROLE taskforce_app;
-- A log of its own: what earlier suites left is cleared.
SET session_replication_role = replica;
TRUNCATE taskforce.audit_log, taskforce.audit_tiles, taskforce.audit_sealed_transactions,
         taskforce.audit_checkpoints, taskforce.audit_purges;
UPDATE taskforce.audit_log_state SET xid_boundary = 0, tree_size = 0;
RESET session_replication_role;
-- January 2020 has its own partition; February and March live in the default one.
CREATE TABLE taskforce.audit_log_202001 PARTITION OF taskforce.audit_log
    FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00');

CREATE FUNCTION pg_temp.put_at(at timestamptz, n integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    INSERT INTO taskforce.audit_log (tenant_id, logged_at, txid, entry_seq, statement_id, event_type,
            object, row_key, action, db_role, new_values, salts, leaf_hash)
    SELECT 't1', at, pg_current_xact_id()::text::bigint, i, 0, 'change', 'public.t',
           jsonb_build_object('id', i)::text, 'INSERT', current_user, jsonb_build_object('v', i),
           taskforce._random_bytes(16), '\x00'
      FROM generate_series(1, n) AS i;
    UPDATE taskforce.audit_log AS e SET leaf_hash = taskforce._audit_leaf_hash(e)
     WHERE e.txid = pg_current_xact_id()::text::bigint;
END $$;
CREATE FUNCTION pg_temp.counts() RETURNS TABLE (entries bigint, purges bigint, jan_partition boolean)
    LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM taskforce.audit_log), (SELECT count(*) FROM taskforce.audit_purges),
           to_regclass('taskforce.audit_log_202001') IS NOT NULL $$;

SELECT pg_temp.put_at('2020-01-10 12:00+00', 3);
SELECT pg_temp.put_at('2020-02-10 12:00+00', 2);
SELECT pg_temp.put_at('2020-03-10 12:00+00', 2);
SELECT pg_temp.put_at(now(), 1);
SELECT * FROM taskforce.seal_audit();
SELECT tableoid::regclass AS partition, count(*) FROM taskforce.audit_log GROUP BY 1 ORDER BY 1;
SELECT taskforce.audit_checkpoint() AS cp8 \gset

-- An application role may not purge; neither may an auditor.
\set VERBOSITY terse
SET ROLE audit_purge_app;
SELECT * FROM taskforce.purge_audit('2020-03-01');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE audit_purge_auditor;
SELECT * FROM taskforce.purge_audit('2020-03-01');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Bad input and unmet conditions: a specific SQLSTATE, nothing changed.
SET ROLE audit_purge_admin;
SELECT * FROM taskforce.purge_audit(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.purge_audit(now() + interval '1 day');
\echo :LAST_ERROR_SQLSTATE
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM taskforce.purge_audit('2020-03-01');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET ROLE;
-- An unsealed entry of February: purge only what is sealed.
SELECT pg_temp.put_at('2020-02-20 12:00+00', 1);
SET ROLE audit_purge_admin;
SELECT * FROM taskforce.purge_audit('2020-03-01');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
RESET ROLE;
SELECT * FROM pg_temp.counts();
-- Sealed, it lands after the newer entries (positions follow txid): the
-- purge keeps it, as it keeps everything from the first newer entry on.
SELECT * FROM taskforce.seal_audit();

-- The purge: January's partition dropped, February's rows deleted from
-- the default partition; positions 0..4 purged.
SET ROLE audit_purge_admin;
SELECT * FROM taskforce.purge_audit('2020-03-01');
RESET ROLE;
SELECT * FROM pg_temp.counts();
SELECT logged_at < '2020-03-01' AS old, count(*) FROM taskforce.audit_log
 WHERE event_type = 'change' GROUP BY 1 ORDER BY 1;
SELECT purged_size, before, entries, partitions, checkpoint_size,
       checkpoint_root = (SELECT root_hash FROM taskforce.audit_checkpoints WHERE tree_size = 9) AS root_recorded
  FROM taskforce.audit_purges;
SELECT event_type, object, action, new_values - 'before' - 'checkpoint' AS new_values,
       new_values #>> '{checkpoint,tree_size}' AS checkpoint_size,
       new_values #>> '{checkpoint,root_hash}' = encode(p.checkpoint_root, 'hex') AS root_recorded
  FROM taskforce.audit_log, taskforce.audit_purges AS p WHERE event_type = 'purge';
-- Again with the same boundary: nothing more to purge, nothing written.
SET ROLE audit_purge_admin;
SELECT * FROM taskforce.purge_audit('2020-03-01');
RESET ROLE;
SELECT * FROM pg_temp.counts();

-- Until the purge entry is sealed, the purge record is not trusted (the
-- offline verifier needs the sealed entry too); sealed, the log verifies
-- (the auditor too); the tiles, the sealed transactions and the checkpoints
-- stayed; the checkpoint taken before the purge is still a prefix.
SELECT kind, position, detail FROM taskforce.verify_audit();
SELECT * FROM taskforce.seal_audit();
SET ROLE audit_purge_auditor;
SELECT kind, position, detail FROM taskforce.verify_audit(:'cp8');
RESET ROLE;
SELECT count(*) AS sealed_transactions FROM taskforce.audit_sealed_transactions;
-- The export gives the purged positions as their leaf hashes only.
SELECT line::jsonb ->> 'position' AS position, (line::jsonb ? 'purged') AS purged
  FROM taskforce.export_audit(3, 6) AS line;

-- An entry of the kept range deleted behind the trail's back is found.
SET session_replication_role = replica;
DELETE FROM taskforce.audit_log WHERE logged_at = '2020-03-10 12:00+00' AND entry_seq = 2;
RESET session_replication_role;
SELECT kind, position, regexp_replace(detail, 'transaction [0-9]+', 'transaction N') AS detail
  FROM taskforce.verify_audit();
-- Hiding it by raising the recorded purge boundary is found too: the
-- record no longer matches the purge entry of the trail.
SET session_replication_role = replica;
UPDATE taskforce.audit_purges SET purged_size = 7;
RESET session_replication_role;
SELECT kind, position, regexp_replace(detail, 'transaction [0-9]+', 'transaction N') AS detail
  FROM taskforce.verify_audit();
-- Nor by a purge entry inserted behind the trail's back, which is never
-- sealed: a purge record counts only with its entry sealed above the range.
SET session_replication_role = replica;
UPDATE taskforce.audit_purges SET txid = 4000000000000;
INSERT INTO taskforce.audit_log (tenant_id, logged_at, txid, entry_seq, statement_id, event_type,
        object, row_key, action, db_role, new_values, salts, leaf_hash)
VALUES (NULL, now(), 4000000000000, 1, 0, 'purge', 'taskforce.audit_log', NULL, 'PURGE', 'postgres',
        '{"purged_size": 7}', '\x', '\x00');
RESET session_replication_role;
SELECT kind, position, regexp_replace(detail, 'transaction [0-9]+', 'transaction N') AS detail
  FROM taskforce.verify_audit();
