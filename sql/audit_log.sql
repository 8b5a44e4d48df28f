-- sql/audit_log.sql: the audit Merkle log (src/sql/audit_log.sql,
-- src/audit/{seal,verify,store}.c): sealing, signed checkpoints, proofs,
-- verification and each tampering it finds.  Entries are put by the owner
-- (pg_temp.put) with real transaction ids, one transaction per call.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) > 0 AS roles FROM taskforce.setup_roles();
CREATE ROLE audit_log_admin IN ROLE taskforce_admin;
CREATE ROLE audit_log_auditor IN ROLE taskforce_auditor;
CREATE ROLE audit_log_app IN ROLE taskforce_app;
-- Entries left by sql/audit are not part of this log.
SET session_replication_role = replica;
DELETE FROM taskforce.audit_log;
RESET session_replication_role;

CREATE FUNCTION pg_temp.put(n integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    INSERT INTO taskforce.audit_log (tenant_id, logged_at, txid, entry_seq, statement_id, event_type,
            object, row_key, action, db_role, new_values, salts, leaf_hash)
    SELECT 't1', now(), pg_current_xact_id()::text::bigint, i, 0, 'change', 'public.t',
           jsonb_build_object('id', i)::text, 'INSERT', current_user, jsonb_build_object('v', i),
           taskforce._random_bytes(16), '\x00'
      FROM generate_series(1, n) AS i;
    UPDATE taskforce.audit_log AS e SET leaf_hash = taskforce._audit_leaf_hash(e)
     WHERE e.txid = pg_current_xact_id()::text::bigint;
END $$;
-- RFC 9162 MTH and inclusion verification in SQL, independent of the C code.
CREATE FUNCTION pg_temp.mth(h bytea[]) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE n integer := coalesce(array_length(h, 1), 0); k integer := 1;
BEGIN
    IF n = 0 THEN RETURN sha256(''); END IF;
    IF n = 1 THEN RETURN h[1]; END IF;
    WHILE k * 2 < n LOOP k := k * 2; END LOOP;
    RETURN sha256('\x01'::bytea || pg_temp.mth(h[1:k]) || pg_temp.mth(h[k + 1:n]));
END $$;
CREATE FUNCTION pg_temp.included(m bigint, n bigint, leaf bytea, proof text[], root bytea)
    RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE fn bigint := m; sn bigint := n - 1; r bytea := leaf; p text;
BEGIN
    FOREACH p IN ARRAY proof LOOP
        IF sn = 0 THEN RETURN false; END IF;
        IF (fn & 1) = 1 OR fn = sn THEN
            r := sha256('\x01'::bytea || decode(p, 'base64') || r);
            WHILE (fn & 1) = 0 AND fn <> 0 LOOP fn := fn >> 1; sn := sn >> 1; END LOOP;
        ELSE
            r := sha256('\x01'::bytea || r || decode(p, 'base64'));
        END IF;
        fn := fn >> 1; sn := sn >> 1;
    END LOOP;
    RETURN sn = 0 AND r = root;
END $$;
CREATE FUNCTION pg_temp.leaves() RETURNS bytea[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(leaf_hash ORDER BY txid, entry_seq), '{}') FROM taskforce.audit_log $$;

-- Nothing to seal: a cheap no-op.
SELECT * FROM taskforce.seal_audit();
SELECT taskforce.audit_checkpoint() IS NULL AS no_checkpoint_yet;
SELECT pg_temp.put(3);
SELECT pg_temp.put(2);
SELECT pg_temp.put(1);
SELECT * FROM taskforce.seal_audit();
SELECT * FROM taskforce.seal_audit();
-- max_entries stops after whole transactions: 2 then the rest.
SELECT pg_temp.put(2);
SELECT pg_temp.put(2);
SELECT * FROM taskforce.seal_audit(1);
SELECT * FROM taskforce.seal_audit();
SELECT tree_size, xid_boundary > 0 AS has_boundary FROM taskforce.audit_log_state;
SELECT level, index, length(hashes) / 32 AS hashes FROM taskforce.audit_tiles ORDER BY 1, 2;

-- Positions follow (txid, entry_seq); a transaction's entries are contiguous.
SELECT bool_and(taskforce.audit_position(txid, entry_seq) = p - 1) AS positions_in_order
  FROM (SELECT txid, entry_seq, row_number() OVER (ORDER BY txid, entry_seq) AS p FROM taskforce.audit_log) AS e;
SELECT taskforce.audit_position(0, 1) IS NULL AS unknown_entry_has_no_position;

-- The checkpoint: C2SP note, root = MTH of the leaves, key name = origin.
SELECT taskforce.audit_checkpoint() ~ ('^taskforce\.local/[0-9]+/' || current_database()
        || E'\n10\n[A-Za-z0-9+/]{43}=\n\n— taskforce\.local/[0-9]+/' || current_database()
        || E' [A-Za-z0-9+/]{91}=\n$') AS note_format;
SELECT decode(split_part(taskforce.audit_checkpoint(), E'\n', 3), 'base64') = pg_temp.mth(pg_temp.leaves()) AS root_matches;
SELECT decode(split_part(taskforce.audit_checkpoint(6), E'\n', 3), 'base64') = pg_temp.mth((pg_temp.leaves())[1:6]) AS old_root_matches;
SELECT taskforce.audit_public_key() ~ ('^taskforce\.local/[0-9]+/' || current_database()
        || '\+[0-9a-f]{8}\+A[Q-Za-f][A-Za-z0-9+/]{42}$') AS public_key_format;
SELECT split_part(taskforce.audit_public_key(), '+', 1) = split_part(taskforce.audit_checkpoint(), E'\n', 1) AS key_named_by_origin;

-- Inclusion proofs of every position in every checkpointed size; consistency proofs' lengths.
SELECT bool_and(pg_temp.included(p, c.tree_size, (pg_temp.leaves())[p + 1],
                                 taskforce.audit_inclusion_proof(p, c.tree_size), c.root_hash)) AS all_included
  FROM taskforce.audit_checkpoints AS c, generate_series(0, c.tree_size - 1) AS p;
SELECT cardinality(taskforce.audit_inclusion_proof(0)) AS proof_len_10,
       cardinality(taskforce.audit_inclusion_proof(0, 1)) AS proof_len_1,
       cardinality(taskforce.audit_consistency_proof(6)) AS consistency_6_10,
       cardinality(taskforce.audit_consistency_proof(8, 8)) AS consistency_8_8;

-- Bad input.
\set VERBOSITY terse
SELECT taskforce.audit_inclusion_proof(10);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.audit_inclusion_proof(0, 11);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.audit_inclusion_proof(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.audit_consistency_proof(0);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.audit_checkpoint(7);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.seal_audit(0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.verify_audit('not a note');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.verify_audit(NULL, 'not a key');
\echo :LAST_ERROR_SQLSTATE
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT taskforce.seal_audit();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\set VERBOSITY default

-- An intact log verifies, also against a trusted checkpoint and an explicit key.
SELECT taskforce.audit_checkpoint(6) AS cp6, taskforce.audit_public_key() AS pk \gset
SELECT * FROM taskforce.verify_audit();
SELECT * FROM taskforce.verify_audit(:'cp6', :'pk');

-- Tampering by a superuser (triggers off), each undone after its check.
SET session_replication_role = replica;
SELECT txid AS t1 FROM taskforce.audit_log ORDER BY txid LIMIT 1 \gset
-- a changed value
BEGIN;
UPDATE taskforce.audit_log SET new_values = '{"v": 99}' WHERE txid = :t1 AND entry_seq = 2;
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
-- a changed value with its leaf_hash recomputed: still not the sealed leaf
BEGIN;
UPDATE taskforce.audit_log SET new_values = '{"v": 99}' WHERE txid = :t1 AND entry_seq = 2;
UPDATE taskforce.audit_log AS e SET leaf_hash = taskforce._audit_leaf_hash(e) WHERE txid = :t1 AND entry_seq = 2;
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
-- a deleted entry
BEGIN;
DELETE FROM taskforce.audit_log WHERE txid = :t1 AND entry_seq = 2;
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
-- an inserted entry (in a sealed transaction, and as a transaction of its own)
BEGIN;
INSERT INTO taskforce.audit_log SELECT tenant_id, logged_at, txid, 4, statement_id, event_type, object, row_key,
    action, user_id, roles, auth_method, db_role, old_values, new_values, erased, client_addr, application_name,
    salts, leaf_hash FROM taskforce.audit_log WHERE txid = :t1 AND entry_seq = 3;
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
BEGIN;
INSERT INTO taskforce.audit_log SELECT tenant_id, logged_at, txid - 1, 1, statement_id, event_type, object, row_key,
    action, user_id, roles, auth_method, db_role, old_values, new_values, erased, client_addr, application_name,
    salts, leaf_hash FROM taskforce.audit_log WHERE txid = :t1 AND entry_seq = 1;
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
-- two entries swapped (entry_seq exchanged, leaf hashes recomputed)
BEGIN;
UPDATE taskforce.audit_log SET entry_seq = CASE entry_seq WHEN 1 THEN 2 ELSE 1 END
 WHERE txid = :t1 AND entry_seq IN (1, 2);
UPDATE taskforce.audit_log AS e SET leaf_hash = taskforce._audit_leaf_hash(e) WHERE txid = :t1;
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
-- two leaves swapped in the tree (entries untouched)
BEGIN;
UPDATE taskforce.audit_tiles SET hashes = substring(hashes FROM 33 FOR 32) || substring(hashes FROM 1 FOR 32)
    || substring(hashes FROM 65) WHERE level = 0 AND index = 0;
SELECT kind, position FROM taskforce.verify_audit();
SELECT kind, position FROM taskforce.verify_audit(:'cp6');
ROLLBACK;
-- the newest transaction deleted
BEGIN;
DELETE FROM taskforce.audit_log WHERE txid = (SELECT max(txid) FROM taskforce.audit_log);
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
-- the log cut back to 6 entries (tiles, state and entries)
BEGIN;
DELETE FROM taskforce.audit_log WHERE taskforce.audit_position(txid, entry_seq) >= 6;
DELETE FROM taskforce.audit_sealed_transactions WHERE first_position >= 6;
UPDATE taskforce.audit_tiles SET hashes = substring(hashes FROM 1 FOR 6 * 32) WHERE level = 0;
UPDATE taskforce.audit_log_state SET tree_size = 6;
SELECT * FROM taskforce.verify_audit();
SELECT kind, position FROM taskforce.verify_audit(:'cp6');
ROLLBACK;
-- a changed checkpoint text, and another key
BEGIN;
UPDATE taskforce.audit_checkpoints SET signed_note = replace(signed_note, E'\n10\n', E'\n11\n') WHERE tree_size = 10;
SELECT kind, position FROM taskforce.verify_audit();
ROLLBACK;
SELECT kind, position FROM taskforce.verify_audit(NULL,
    'other+' || encode(substring(sha256(convert_to('other', 'UTF8') || '\x0a01'::bytea
                                        || decode(repeat('00', 32), 'hex')) FOR 4), 'hex')
    || '+' || encode('\x01'::bytea || decode(repeat('00', 32), 'hex'), 'base64'));
-- a trusted checkpoint whose root was changed
SELECT kind, position FROM taskforce.verify_audit(
    regexp_replace(:'cp6', E'\n[^\n]+=\n\n', E'\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n'));
RESET session_replication_role;
SELECT kind, position FROM taskforce.verify_audit();

-- Entries written by the audit trigger seal and verify like any other.
CREATE TABLE public.audit_log_notes (id integer PRIMARY KEY, body text);
SELECT FROM taskforce.enable_audit('public.audit_log_notes');
INSERT INTO public.audit_log_notes VALUES (1, 'first'), (2, 'second');
UPDATE public.audit_log_notes SET body = 'changed' WHERE id = 2;
SELECT entries_sealed >= 3 AS trigger_entries_sealed FROM taskforce.seal_audit();
SELECT action, taskforce.audit_position(txid, entry_seq) >= 10 AS sealed_after_the_rest
  FROM taskforce.audit_log WHERE object = 'public.audit_log_notes' ORDER BY txid, entry_seq;
SELECT kind FROM taskforce.verify_audit(:'cp6');

-- Privileges: the key is the owner's only; the app role has no tree
-- function; the auditor verifies but does not seal; the admin seals.
SET ROLE audit_log_app;
\set VERBOSITY terse
SELECT seed FROM taskforce.audit_signing_key;
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.seal_audit();
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.audit_inclusion_proof(0);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE audit_log_auditor;
SELECT seed FROM taskforce.audit_signing_key;
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.seal_audit();
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT kind, position FROM taskforce.verify_audit();
SELECT cardinality(taskforce.audit_consistency_proof(6)) AS auditor_reads_proofs;
RESET ROLE;
SET ROLE audit_log_admin;
SELECT entries_sealed FROM taskforce.seal_audit();
RESET ROLE;
