-- src/sql/audit_purge.sql: retention of the audit trail (issue 9; docs in
-- docs/audit.md, "Purging and retention").  purge_audit(before) removes the longest prefix of
-- the Merkle log whose entries are all older than `before` and sealed:
-- whole monthly partitions are dropped, rows of the default partition (and
-- of a partition only partly purged) deleted.  The tiles, the sealed
-- transactions and the checkpoints stay, so the tree and every checkpoint
-- still verify; the purged positions are recorded here and in a purge
-- entry of the trail itself (event_type 'purge'), which verify_audit and
-- tools/audit-verify use to accept the missing entries.

CREATE TABLE taskforce.audit_purges (
    purged_size     bigint      NOT NULL,
    before          timestamptz NOT NULL,
    purged_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    txid            bigint      NOT NULL,
    entries         bigint      NOT NULL,
    partitions      text[]      NOT NULL,
    checkpoint_size bigint      NOT NULL,
    checkpoint_root bytea       NOT NULL,
    user_id         text,
    db_role         name        NOT NULL DEFAULT pg_catalog.session_user(),
    CONSTRAINT audit_purges_pkey PRIMARY KEY (purged_size),
    CONSTRAINT audit_purges_shape CHECK (purged_size > 0 AND entries >= 0
        AND checkpoint_size >= purged_size AND pg_catalog.length(checkpoint_root) = 32)
);
COMMENT ON TABLE taskforce.audit_purges IS
    'one row per purge_audit: positions 0 .. purged_size - 1 of the Merkle log no longer have their entries (their leaves stay in the tiles); txid is the purge entry''s transaction; checkpoint_size/root: the latest checkpoint when purged; user_id and db_role: who purged (kept here when a later purge removes the purge entry itself)';
REVOKE ALL ON taskforce.audit_purges FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_purges', '');

CREATE FUNCTION taskforce.purge_audit(before timestamptz)
    RETURNS TABLE (purged_size bigint, entries_removed bigint, partitions_dropped text[])
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    st record;
    prev_size bigint;
    new_size bigint;
    keep_txid bigint;          -- entries with txid < keep_txid are purged
    cp record;
    part record;
    saved_lock_timeout text;
    dropped text[] := '{}';
    touched text[] := '{}';
    removed bigint := 0;
    n bigint;
    max_txid bigint;
    month_end timestamptz;
BEGIN
    IF before IS NULL THEN
        RAISE EXCEPTION 'before must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF before > pg_catalog.now() THEN
        RAISE EXCEPTION 'before must not be in the future'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'purge_audit removes entries older than a past time';
    END IF;
    -- A partition is dropped only after checking its rows under an exclusive
    -- lock; at repeatable read that check would not see rows committed since
    -- the snapshot.
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'purge_audit runs at read committed only'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    BEGIN
        LOCK TABLE taskforce.audit_purges IN SHARE ROW EXCLUSIVE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'another purge_audit is running'
            USING ERRCODE = 'lock_not_available', HINT = 'retry when it has finished';
    END;
    PERFORM taskforce._audit_log_init();
    -- Serialises with seal_audit and verify_audit (which share-lock the state).
    SELECT s.xid_boundary, s.tree_size INTO st FROM taskforce.audit_log_state AS s FOR UPDATE;
    IF EXISTS (SELECT FROM taskforce.audit_log AS e
                WHERE e.logged_at < before AND e.txid >= st.xid_boundary) THEN
        RAISE EXCEPTION 'audit entries older than % are not sealed yet', before
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'purge_audit removes sealed entries only: run taskforce.seal_audit() first';
    END IF;
    SELECT coalesce(max(p.purged_size), 0) INTO prev_size FROM taskforce.audit_purges AS p;
    -- The longest prefix of the log older than `before`: positions follow
    -- (txid, entry_seq), and a transaction's entries share logged_at.
    SELECT coalesce(min(t.first_position), st.tree_size) INTO new_size
      FROM taskforce.audit_sealed_transactions AS t WHERE t.logged_at >= before;
    IF new_size <= prev_size THEN
        RETURN QUERY SELECT prev_size, 0::bigint, '{}'::text[];
        RETURN;
    END IF;
    SELECT coalesce((SELECT t.txid FROM taskforce.audit_sealed_transactions AS t
                      WHERE t.first_position = new_size), st.xid_boundary) INTO keep_txid;
    SELECT c.tree_size, c.root_hash INTO cp FROM taskforce.audit_checkpoints AS c
     ORDER BY c.tree_size DESC LIMIT 1;
    IF cp.tree_size IS NULL OR cp.tree_size < new_size THEN
        RAISE EXCEPTION 'no checkpoint covers positions 0 to %', new_size - 1
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'run taskforce.seal_audit() first';
    END IF;
    -- Monthly partitions whose whole month is before `before`: dropped when
    -- every row is purged (checked under an exclusive lock, so no writer is
    -- adding one); other partitions lose their purged rows.  Dropping a
    -- partition locks audit_log: take that lock first, not as an upgrade.
    IF EXISTS (SELECT FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'taskforce.audit_log'::regclass AND c.relname ~ '^audit_log_[0-9]{6}$'
                  AND (pg_catalog.to_date(substr(c.relname, 11), 'YYYYMM')::timestamp AT TIME ZONE 'UTC')
                      + interval '1 month' <= before) THEN
        -- Audited writers queue behind this lock request: wait 2 s at most
        -- (a session holding audit_log open would stall them all), then give
        -- up with nothing done.
        saved_lock_timeout := pg_catalog.current_setting('lock_timeout');
        PERFORM pg_catalog.set_config('lock_timeout', '2s', true);
        BEGIN
            LOCK TABLE taskforce.audit_log IN ACCESS EXCLUSIVE MODE;
        EXCEPTION WHEN lock_not_available THEN
            RAISE EXCEPTION 'purge_audit could not lock taskforce.audit_log within 2 s'
                USING ERRCODE = 'lock_not_available',
                      HINT = 'a session holds the audit trail open; retry later';
        END;
        PERFORM pg_catalog.set_config('lock_timeout', saved_lock_timeout, true);
    END IF;
    FOR part IN
        SELECT c.relname::text AS name FROM pg_catalog.pg_inherits AS i
          JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'taskforce.audit_log'::regclass AND c.relkind = 'r'
         ORDER BY c.relname
    LOOP
        month_end := NULL;
        IF part.name ~ '^audit_log_[0-9]{6}$' THEN
            month_end := (pg_catalog.to_date(substr(part.name, 11), 'YYYYMM')::timestamp AT TIME ZONE 'UTC')
                         + interval '1 month';
        END IF;
        IF month_end IS NOT NULL AND month_end <= before THEN
            EXECUTE format('LOCK TABLE taskforce.%I IN ACCESS EXCLUSIVE MODE', part.name);
            EXECUTE format('SELECT max(txid), count(*) FROM taskforce.%I', part.name) INTO max_txid, n;
            IF max_txid IS NULL OR max_txid < keep_txid THEN
                EXECUTE format('DROP TABLE taskforce.%I', part.name);
                dropped := dropped || ('taskforce.' || part.name);
                removed := removed + n;
                CONTINUE;
            END IF;
        END IF;
        EXECUTE format('DELETE FROM taskforce.%I WHERE txid < $1', part.name) USING keep_txid;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            touched := touched || ('taskforce.' || part.name);
            removed := removed + n;
        END IF;
    END LOOP;
    PERFORM taskforce._audit_write_event('purge', 'taskforce.audit_log', NULL, 'PURGE', NULL,
        jsonb_build_object('before', before, 'purged_size', new_size,
                           'positions', jsonb_build_array(prev_size, new_size - 1),
                           'entries', removed, 'partitions_dropped', to_jsonb(dropped),
                           'partitions_deleted_from', to_jsonb(touched),
                           'checkpoint', jsonb_build_object('tree_size', cp.tree_size,
                                                            'root_hash', encode(cp.root_hash, 'hex'))));
    INSERT INTO taskforce.audit_purges (purged_size, before, txid, entries, partitions,
                                        checkpoint_size, checkpoint_root, user_id)
    VALUES (new_size, before, pg_catalog.pg_current_xact_id()::text::bigint, removed,
            dropped || touched, cp.tree_size, cp.root_hash, taskforce.current_user_id());
    RETURN QUERY SELECT new_size, removed, dropped;
END
$$;
REVOKE ALL ON FUNCTION taskforce.purge_audit(timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.purge_audit(timestamptz) IS
    'removes the sealed audit entries of the longest log prefix older than before (drops whole monthly partitions, deletes from the others), keeps tiles, sealed transactions and checkpoints, records the purge in audit_purges and as an audit entry (event_type purge); returns the purged prefix size (positions 0 .. purged_size - 1), the entries removed and the partitions dropped';
