-- src/sql/audit.sql: the audit trail's entry table (issue 9; the shared
-- design is spec/AUDIT_SPEC.md).  Entries are written by the C trigger of
-- src/audit/trigger.c as the extension owner; their leaf hash is the
-- canonical encoding of src/audit/encode.c.

CREATE TABLE taskforce.audit_log (
    tenant_id        text,
    logged_at        timestamptz NOT NULL,
    txid             bigint      NOT NULL,
    entry_seq        integer     NOT NULL,
    statement_id     integer     NOT NULL,
    event_type       text        NOT NULL,
    object           text,
    row_key          text,
    action           text        NOT NULL,
    user_id          text,
    roles            text[],
    auth_method      text,
    db_role          text        NOT NULL,
    old_values       jsonb,
    new_values       jsonb,
    erased           jsonb,
    client_addr      inet,
    application_name text,
    salts            bytea       NOT NULL,
    leaf_hash        bytea       NOT NULL
) PARTITION BY RANGE (logged_at);
COMMENT ON TABLE taskforce.audit_log IS
    'the audit trail: one entry per audited change or event, append-only, partitioned by month of the transaction start';
COMMENT ON COLUMN taskforce.audit_log.tenant_id IS
    'the audited row''s tenant if its table is under tenant isolation, else the context''s tenant';
COMMENT ON COLUMN taskforce.audit_log.logged_at IS
    'start time of the writing transaction (all its entries share it)';
COMMENT ON COLUMN taskforce.audit_log.txid IS 'top-level full transaction id';
COMMENT ON COLUMN taskforce.audit_log.entry_seq IS '1, 2, ... in writing order within the transaction';
COMMENT ON COLUMN taskforce.audit_log.statement_id IS 'command id of the writing statement';
COMMENT ON COLUMN taskforce.audit_log.row_key IS 'jsonb text of {key column: value}; null for TRUNCATE';
COMMENT ON COLUMN taskforce.audit_log.erased IS
    'commitments (hex) of values erased later: {"old": {column: hex}, "new": {...}}';
COMMENT ON COLUMN taskforce.audit_log.salts IS
    '16 random bytes per committed value, in canonical value order (zeroed when erased)';
COMMENT ON COLUMN taskforce.audit_log.leaf_hash IS
    'SHA-256(0x00 || canonical encoding): the entry''s Merkle leaf';

-- The DEFAULT partition belongs to the extension and is config-dumped.
-- Monthly partitions are never created by the install script: objects made
-- there become extension members, which a restore's CREATE EXTENSION would
-- recreate for other months (name clashes, lost rows).  They are created at
-- run time (create_audit_partitions(), by enable_audit and the sealer), are
-- ordinary tables to pg_dump, and dump with their rows.
CREATE TABLE taskforce.audit_log_default PARTITION OF taskforce.audit_log DEFAULT;
COMMENT ON TABLE taskforce.audit_log_default IS
    'audit entries of months without their own partition';
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_log_default', '');

-- Indexes: history of one row; sealing order.  Nothing else: each index
-- costs writers.  They are made per partition, not on the parent: an index
-- of the parent would be an extension member, and on restore ATTACH
-- PARTITION would create the partitions' indexes before pg_dump's own
-- CREATE INDEX for them (name clash).
CREATE INDEX audit_log_default_history ON taskforce.audit_log_default (object, row_key, logged_at);
CREATE INDEX audit_log_default_entry ON taskforce.audit_log_default (txid, entry_seq);

REVOKE ALL ON taskforce.audit_log FROM PUBLIC;
REVOKE ALL ON taskforce.audit_log_default FROM PUBLIC;

-- Whether role "who" is (a member of) a recorded auditor role.  The policy
-- passes current_user: inside this SECURITY DEFINER function current_user
-- is the owner.
CREATE FUNCTION taskforce._is_audit_auditor(who name) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT FROM taskforce.database_roles AS d
                    WHERE d.purpose = 'auditor'
                      AND EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.rolname = d.role_name)
                      AND pg_catalog.pg_has_role(who, d.role_name, 'MEMBER'))
$$;
REVOKE ALL ON FUNCTION taskforce._is_audit_auditor(name) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._is_audit_auditor(name) IS
    'internal: whether the current role belongs to a database role of purpose auditor';

ALTER TABLE taskforce.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE taskforce.audit_log FORCE ROW LEVEL SECURITY;
-- Read only: no INSERT/UPDATE/DELETE policy, so nobody under RLS writes.
CREATE POLICY audit_log_tenant_read ON taskforce.audit_log FOR SELECT
    USING (tenant_id = taskforce.current_tenant() AND taskforce.has_permission('audit:read'));
CREATE POLICY audit_log_auditor_read ON taskforce.audit_log FOR SELECT
    USING (taskforce._is_audit_auditor(current_user));

-- Creates the monthly partitions taskforce.audit_log_YYYYMM from the
-- current month to months_ahead months later, those missing.  A month whose
-- entries already sit in the default partition is skipped (its rows stay
-- there; attaching would fail): the result lists the months created.
CREATE FUNCTION taskforce.create_audit_partitions(months_ahead integer DEFAULT 3)
    RETURNS SETOF regclass
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    m date;
    name text;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0 .. months_ahead LOOP
        m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
        name := 'audit_log_' || to_char(m, 'YYYYMM');
        CONTINUE WHEN to_regclass('taskforce.' || quote_ident(name)) IS NOT NULL;
        CONTINUE WHEN EXISTS (SELECT FROM taskforce.audit_log_default AS d
                               WHERE d.logged_at >= (m::timestamp AT TIME ZONE 'UTC')
                                 AND d.logged_at < ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        EXECUTE format('CREATE TABLE taskforce.%I PARTITION OF taskforce.audit_log '
                       'FOR VALUES FROM (%L) TO (%L)', name,
                       (m::timestamp AT TIME ZONE 'UTC'),
                       ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        EXECUTE format('REVOKE ALL ON taskforce.%I FROM PUBLIC', name);
        EXECUTE format('CREATE INDEX %I ON taskforce.%I (object, row_key, logged_at)', name || '_history', name);
        EXECUTE format('CREATE INDEX %I ON taskforce.%I (txid, entry_seq)', name || '_entry', name);
        RETURN NEXT ('taskforce.' || quote_ident(name))::regclass;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION taskforce.create_audit_partitions(integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.create_audit_partitions(integer) IS
    'creates the missing monthly audit_log partitions from the current month on (UTC months)';

-- The key of redacted values' HMAC: readable by the owner only.
CREATE TABLE taskforce.audit_redaction_key (
    singleton boolean NOT NULL DEFAULT true,
    key       bytea   NOT NULL,
    CONSTRAINT audit_redaction_key_pkey PRIMARY KEY (singleton),
    CONSTRAINT audit_redaction_key_singleton CHECK (singleton),
    CONSTRAINT audit_redaction_key_length CHECK (pg_catalog.length(key) = 32)
);
REVOKE ALL ON taskforce.audit_redaction_key FROM PUBLIC;
COMMENT ON TABLE taskforce.audit_redaction_key IS
    'the HMAC-SHA256 key of redacted audit values (32 random bytes); owner only; pg_dump keeps it';
-- No row at install: a row inserted by the install script would clash with
-- the dumped row on restore (CREATE EXTENSION runs first).  The key is made
-- on first use instead, so a restored database keeps the original key.
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_redaction_key', '');

CREATE FUNCTION taskforce._audit_redaction_key() RETURNS bytea
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k bytea;
BEGIN
    SELECT r.key INTO k FROM taskforce.audit_redaction_key AS r;
    IF k IS NULL THEN
        INSERT INTO taskforce.audit_redaction_key (key) VALUES (taskforce._random_bytes(32))
            ON CONFLICT (singleton) DO NOTHING;
        SELECT r.key INTO k FROM taskforce.audit_redaction_key AS r;
    END IF;
    RETURN k;
END
$$;
REVOKE ALL ON FUNCTION taskforce._audit_redaction_key() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_redaction_key() IS
    'internal: the redaction HMAC key, made on first use';

CREATE FUNCTION taskforce._audit_leaf_hash(entry taskforce.audit_log) RETURNS bytea
    LANGUAGE C STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_audit_leaf_hash';
REVOKE ALL ON FUNCTION taskforce._audit_leaf_hash(taskforce.audit_log) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_leaf_hash(taskforce.audit_log) IS
    'internal: recomputes an entry''s leaf hash from its canonical encoding (values from salts, erased from commitments)';
