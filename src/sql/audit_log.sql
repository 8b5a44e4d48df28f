-- src/sql/audit_log.sql: the audit trail's Merkle log (issue 9; the shared
-- design is spec/AUDIT_SPEC.md, "The Merkle log").  Sealing appends the
-- entries of finished transactions, in (txid, entry_seq) order, as leaves of
-- an RFC 9162 tree stored in C2SP tlog-tiles; each seal that adds entries
-- signs a C2SP checkpoint with the database's Ed25519 key (src/audit/*.c).
--
-- The one-row tables below get their row on first use, not at install: a row
-- inserted by the install script would clash with the dumped row when a dump
-- is restored (CREATE EXTENSION runs first), and the origin and key must
-- survive dump/restore.

CREATE TABLE taskforce.audit_log_state (
    singleton    boolean NOT NULL DEFAULT true,
    origin       text    NOT NULL,
    xid_boundary bigint  NOT NULL DEFAULT 0,
    tree_size    bigint  NOT NULL DEFAULT 0,
    CONSTRAINT audit_log_state_pkey PRIMARY KEY (singleton),
    CONSTRAINT audit_log_state_singleton CHECK (singleton),
    CONSTRAINT audit_log_state_sizes CHECK (xid_boundary >= 0 AND tree_size >= 0)
);
COMMENT ON TABLE taskforce.audit_log_state IS
    'the Merkle log''s state: its origin (checkpoint and key name), the xid boundary of the last seal and the tree size';
REVOKE ALL ON taskforce.audit_log_state FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_log_state', '');

CREATE TABLE taskforce.audit_tiles (
    level  smallint NOT NULL,
    index  bigint   NOT NULL,
    hashes bytea    NOT NULL,
    CONSTRAINT audit_tiles_pkey PRIMARY KEY (level, index),
    CONSTRAINT audit_tiles_shape CHECK (level >= 0 AND index >= 0
        AND pg_catalog.length(hashes) BETWEEN 32 AND 8192 AND pg_catalog.length(hashes) % 32 = 0)
);
COMMENT ON TABLE taskforce.audit_tiles IS
    'C2SP tlog-tiles: up to 256 consecutive 32-byte hashes of tree height 8*level; level 0 holds the leaves in position order';
REVOKE ALL ON taskforce.audit_tiles FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_tiles', '');

CREATE TABLE taskforce.audit_sealed_transactions (
    txid           bigint      NOT NULL,
    first_position bigint      NOT NULL,
    entry_count    integer     NOT NULL,
    logged_at      timestamptz NOT NULL,
    seal_id        bigint      NOT NULL,
    CONSTRAINT audit_sealed_transactions_pkey PRIMARY KEY (txid),
    CONSTRAINT audit_sealed_transactions_shape CHECK (first_position >= 0 AND entry_count > 0)
);
COMMENT ON TABLE taskforce.audit_sealed_transactions IS
    'one row per sealed transaction: its entries occupy positions first_position .. first_position + entry_count - 1 in entry_seq order; seal_id is the tree size of the checkpoint that sealed it';
REVOKE ALL ON taskforce.audit_sealed_transactions FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_sealed_transactions', '');

CREATE TABLE taskforce.audit_checkpoints (
    tree_size    bigint      NOT NULL,
    root_hash    bytea       NOT NULL,
    signed_note  text        NOT NULL,
    sealed_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    xid_boundary bigint      NOT NULL,
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (tree_size)
);
COMMENT ON TABLE taskforce.audit_checkpoints IS
    'one signed C2SP checkpoint per seal that added entries';
REVOKE ALL ON taskforce.audit_checkpoints FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_checkpoints', '');

CREATE TABLE taskforce.audit_signing_key (
    singleton  boolean     NOT NULL DEFAULT true,
    seed       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT audit_signing_key_pkey PRIMARY KEY (singleton),
    CONSTRAINT audit_signing_key_singleton CHECK (singleton),
    CONSTRAINT audit_signing_key_length CHECK (pg_catalog.length(seed) = 32)
);
COMMENT ON TABLE taskforce.audit_signing_key IS
    'the Ed25519 seed signing audit checkpoints (32 random bytes); owner only; pg_dump keeps it, so a dump holds the key';
REVOKE ALL ON taskforce.audit_signing_key FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_signing_key', '');

-- The state row and the key, made on first use (see the top of this file).
CREATE FUNCTION taskforce._audit_log_init() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM taskforce.audit_log_state) THEN
        INSERT INTO taskforce.audit_log_state (origin)
        SELECT 'taskforce.local/' || s.system_identifier || '/' || current_database()
          FROM pg_catalog.pg_control_system() AS s
        ON CONFLICT (singleton) DO NOTHING;
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.audit_signing_key) THEN
        INSERT INTO taskforce.audit_signing_key (seed) VALUES (taskforce._random_bytes(32))
        ON CONFLICT (singleton) DO NOTHING;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._audit_log_init() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_log_init() IS
    'internal: creates the log state (origin) and the signing key on first use';

CREATE FUNCTION taskforce.seal_audit(max_entries bigint DEFAULT NULL)
    RETURNS TABLE (tree_size bigint, entries_sealed bigint)
    LANGUAGE C SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'taskforce_seal_audit';
REVOKE ALL ON FUNCTION taskforce.seal_audit(bigint) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.seal_audit(bigint) IS
    'appends the entries of transactions finished since the last seal to the Merkle log, in (txid, entry_seq) order, and signs a checkpoint; max_entries stops after whole transactions; returns the tree size and the entries sealed (0: nothing to seal); runs at read committed';

CREATE FUNCTION taskforce.audit_public_key() RETURNS text
    LANGUAGE C SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'taskforce_audit_public_key';
REVOKE ALL ON FUNCTION taskforce.audit_public_key() FROM PUBLIC;
COMMENT ON FUNCTION taskforce.audit_public_key() IS
    'the signed-note verifier key of the checkpoints: <origin>+<hex key id>+<base64(0x01 || Ed25519 public key)>';

CREATE FUNCTION taskforce.audit_checkpoint(tree_size bigint DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    note text;
BEGIN
    IF tree_size IS NULL THEN
        SELECT c.signed_note INTO note FROM taskforce.audit_checkpoints AS c
         ORDER BY c.tree_size DESC LIMIT 1;
        RETURN note;
    END IF;
    SELECT c.signed_note INTO note FROM taskforce.audit_checkpoints AS c
     WHERE c.tree_size = audit_checkpoint.tree_size;
    IF note IS NULL THEN
        RAISE EXCEPTION 'no audit checkpoint of tree size %', tree_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN note;
END
$$;
REVOKE ALL ON FUNCTION taskforce.audit_checkpoint(bigint) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.audit_checkpoint(bigint) IS
    'the signed C2SP checkpoint note of that tree size (default: the latest; null before the first seal)';

CREATE FUNCTION taskforce.audit_position(txid bigint, entry_seq integer) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT s.first_position + (SELECT count(*) FROM taskforce.audit_log AS e
                                WHERE e.txid = $1 AND e.entry_seq < $2)
      FROM taskforce.audit_sealed_transactions AS s
     WHERE s.txid = $1
       AND EXISTS (SELECT FROM taskforce.audit_log AS e WHERE e.txid = $1 AND e.entry_seq = $2)
$$;
REVOKE ALL ON FUNCTION taskforce.audit_position(bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.audit_position(bigint, integer) IS
    'the Merkle log position (0-based) of the entry (txid, entry_seq); null if it is not sealed or does not exist';

CREATE FUNCTION taskforce.audit_inclusion_proof("position" bigint, tree_size bigint DEFAULT NULL)
    RETURNS text[]
    LANGUAGE C SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'taskforce_audit_inclusion_proof';
REVOKE ALL ON FUNCTION taskforce.audit_inclusion_proof(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.audit_inclusion_proof(bigint, bigint) IS
    'RFC 9162 inclusion proof PATH(position, D[tree_size]) (default: the current tree size) as base64 text of the 32-byte hashes, leaf level first';

CREATE FUNCTION taskforce.audit_consistency_proof(old_size bigint, new_size bigint DEFAULT NULL)
    RETURNS text[]
    LANGUAGE C SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'taskforce_audit_consistency_proof';
REVOKE ALL ON FUNCTION taskforce.audit_consistency_proof(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.audit_consistency_proof(bigint, bigint) IS
    'RFC 9162 consistency proof PROOF(old_size, D[new_size]) (default: the current tree size) as base64 text of the 32-byte hashes';

CREATE FUNCTION taskforce.verify_audit(trusted_checkpoint text DEFAULT NULL, public_key text DEFAULT NULL)
    RETURNS TABLE (kind text, "position" bigint, detail text)
    LANGUAGE C SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'taskforce_verify_audit';
REVOKE ALL ON FUNCTION taskforce.verify_audit(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.verify_audit(text, text) IS
    'recomputes every sealed entry''s leaf, the tiles, the roots and every checkpoint''s signature (with public_key if given, else the database''s key) and checks trusted_checkpoint; one row per finding (kind changed, deleted, inserted, reordered, truncated, bad_signature, wrong_key, inconsistent_checkpoint), or one (''ok'', tree size, ...) row';
