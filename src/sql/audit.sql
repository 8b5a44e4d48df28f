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
    object           text COLLATE "C",
    row_key          text COLLATE "C",
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
-- The conditions that do not depend on the row are scalar subqueries, so
-- they are evaluated once per query, not once per entry.
CREATE POLICY audit_log_tenant_read ON taskforce.audit_log FOR SELECT
    USING (tenant_id = (SELECT taskforce.current_tenant())
           AND (SELECT taskforce.has_permission('audit:read')));
CREATE POLICY audit_log_auditor_read ON taskforce.audit_log FOR SELECT
    USING ((SELECT taskforce._is_audit_auditor(current_user)));

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

-- The C trigger of audited tables (src/audit/trigger.c).  Its arguments,
-- set by enable_audit: event_type, changed_only, excluded and redacted
-- columns (text[] literals), the tenant column ('' if none).
CREATE FUNCTION taskforce._audit_trigger() RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_audit_trigger';
REVOKE ALL ON FUNCTION taskforce._audit_trigger() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_trigger() IS
    'internal: writes an audit entry for each audited row change and TRUNCATE (as the extension owner)';

-- Options of audited tables.  Rows of taskforce's own tables are written
-- by the install (and upgrade) script, marked installed, and left out of
-- the dump: CREATE EXTENSION on restore writes them again.
CREATE TABLE taskforce.audit_options (
    relid                regclass NOT NULL,
    exclude_columns      text[]   NOT NULL DEFAULT '{}',
    redact_columns       text[]   NOT NULL DEFAULT '{}',
    changed_columns_only boolean  NOT NULL DEFAULT false,
    event_type           text     NOT NULL DEFAULT 'change',
    installed            boolean  NOT NULL DEFAULT false,
    CONSTRAINT audit_options_pkey PRIMARY KEY (relid)
);
REVOKE ALL ON taskforce.audit_options FROM PUBLIC;
COMMENT ON TABLE taskforce.audit_options IS
    'options of the tables audited by enable_audit (installed: taskforce''s own, made by the install script)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.audit_options', 'WHERE NOT installed');

CREATE FUNCTION taskforce._audit_installing() RETURNS boolean
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'taskforce_audit_installing';
REVOKE ALL ON FUNCTION taskforce._audit_installing() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_installing() IS
    'internal: whether taskforce''s install or upgrade script is running';

CREATE FUNCTION taskforce.enable_audit(tbl regclass, exclude_columns text[] DEFAULT '{}',
                                       redact_columns text[] DEFAULT '{}',
                                       changed_columns_only boolean DEFAULT false,
                                       event_type text DEFAULT 'change')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    kind "char";
    nsp name;
    rel name;
    bad text;
    tenant_column name;
    args text;
    installing boolean := taskforce._audit_installing();
BEGIN
    IF tbl IS NULL OR exclude_columns IS NULL OR redact_columns IS NULL
       OR changed_columns_only IS NULL OR event_type IS NULL THEN
        RAISE EXCEPTION 'enable_audit arguments must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF event_type = '' THEN
        RAISE EXCEPTION 'event_type must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The verifiers trust these types as taskforce's own (a purge covers the
    -- positions it names): no audited table may write them.
    IF event_type IN ('purge', 'erasure', 'security_event', 'evidence') AND NOT installing THEN
        RAISE EXCEPTION 'event type "%" is reserved for taskforce''s own entries', event_type
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.relkind, n.nspname, c.relname INTO kind, nsp, rel
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF nsp = 'taskforce' AND (rel LIKE 'audit\_%' OR rel IN ('audit_options')) THEN
        RAISE EXCEPTION 'the audit trail''s own table "%" cannot be audited', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_index AS i WHERE i.indrelid = tbl AND i.indisprimary) THEN
        RAISE EXCEPTION 'table "%" has no primary key', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'audit entries name their row by its primary key';
    END IF;
    SELECT string_agg(quote_ident(c), ', ') INTO bad
      FROM unnest(exclude_columns || redact_columns) AS c
     WHERE c IS NULL OR NOT EXISTS (SELECT FROM pg_attribute AS a
                                     WHERE a.attrelid = tbl AND a.attname = c
                                       AND a.attnum > 0 AND NOT a.attisdropped);
    IF bad IS NOT NULL OR array_position(exclude_columns || redact_columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'table "%" has no column %', tbl, coalesce(bad, 'null')
            USING ERRCODE = 'undefined_column';
    END IF;
    IF nsp = 'taskforce' AND NOT installing THEN
        RAISE EXCEPTION 'taskforce''s own table "%" is audited by the extension itself', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF EXISTS (SELECT FROM taskforce.audit_options AS o WHERE o.relid = tbl) THEN
        RAISE NOTICE 'table "%" is already audited; its options are replaced', tbl;
        PERFORM taskforce.disable_audit(tbl);
    END IF;
    -- The entry's tenant: the row's isolation column; taskforce's own
    -- tables name their tenant in tenant_id.
    tenant_column := taskforce._isolation_column(tbl);
    IF tenant_column IS NULL AND nsp = 'taskforce' THEN
        SELECT a.attname INTO tenant_column FROM pg_attribute AS a
         WHERE a.attrelid = tbl AND a.attname = 'tenant_id' AND NOT a.attisdropped;
    END IF;
    args := format('%L, %L, %L, %L, %L', event_type, CASE WHEN changed_columns_only THEN 't' ELSE 'f' END,
                   exclude_columns::text, redact_columns::text, coalesce(tenant_column, ''));
    EXECUTE format('CREATE TRIGGER taskforce_audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION taskforce._audit_trigger(%s)', tbl, args);
    EXECUTE format('CREATE TRIGGER taskforce_audit_truncate AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION taskforce._audit_trigger(%s)', tbl, args);
    INSERT INTO taskforce.audit_options AS o
        (relid, exclude_columns, redact_columns, changed_columns_only, event_type, installed)
    VALUES (tbl, exclude_columns, redact_columns, changed_columns_only, event_type,
            installing AND nsp = 'taskforce');
    IF NOT installing THEN
        PERFORM taskforce.create_audit_partitions();
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce.enable_audit(regclass, text[], text[], boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.enable_audit(regclass, text[], text[], boolean, text) IS
    'audits a table''s INSERT, UPDATE, DELETE and TRUNCATE into taskforce.audit_log (again: replaces the options)';

CREATE FUNCTION taskforce.disable_audit(tbl regclass) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'tbl must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT FROM taskforce.audit_options AS o WHERE o.relid = tbl AND o.installed) THEN
        RAISE EXCEPTION 'taskforce''s own table "%" is audited by the extension itself', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF EXISTS (SELECT FROM pg_trigger AS t WHERE t.tgrelid = tbl AND t.tgname = 'taskforce_audit') THEN
        EXECUTE format('DROP TRIGGER taskforce_audit ON %s', tbl);
    END IF;
    IF EXISTS (SELECT FROM pg_trigger AS t WHERE t.tgrelid = tbl AND t.tgname = 'taskforce_audit_truncate') THEN
        EXECUTE format('DROP TRIGGER taskforce_audit_truncate ON %s', tbl);
    END IF;
    DELETE FROM taskforce.audit_options AS o WHERE o.relid = tbl;
    RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION taskforce.disable_audit(regclass) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.disable_audit(regclass) IS
    'stops auditing a table (its entries stay); returns whether it was audited';

CREATE VIEW taskforce.audited_tables AS
    SELECT o.relid AS table_name, o.exclude_columns, o.redact_columns, o.changed_columns_only,
           o.event_type, taskforce._isolation_column(o.relid) AS tenant_column, o.installed
      FROM taskforce.audit_options AS o;
REVOKE ALL ON taskforce.audited_tables FROM PUBLIC;
COMMENT ON VIEW taskforce.audited_tables IS
    'the audited tables and their options (installed: taskforce''s own tables)';

-- taskforce's own identity tables and security events are audited from
-- install (and upgrade) on.  Their options rows are marked installed and
-- not dumped; their triggers, on extension tables, are not dumped either:
-- a restore's CREATE EXTENSION makes both again.  Secrets are excluded
-- (hashes of keys and passwords, JWT HMAC secrets); columns touched on
-- every login or key use are excluded and only changes recorded, so
-- authentication does not write an entry per request.
SELECT taskforce.enable_audit('taskforce.security_events', event_type => 'security_event');
SELECT taskforce.enable_audit('taskforce.tenants');
SELECT taskforce.enable_audit('taskforce.users', exclude_columns => '{last_login_at}',
                              changed_columns_only => true);
SELECT taskforce.enable_audit('taskforce.roles');
SELECT taskforce.enable_audit('taskforce.role_grants');
SELECT taskforce.enable_audit('taskforce.api_keys', exclude_columns => '{key_hash,last_used_at}',
                              changed_columns_only => true);
SELECT taskforce.enable_audit('taskforce.user_credentials', exclude_columns => '{password_hash}',
                              changed_columns_only => true);
SELECT taskforce.enable_audit('taskforce.password_policies');
SELECT taskforce.enable_audit('taskforce.jwt_issuers');
SELECT taskforce.enable_audit('taskforce.jwt_keys', exclude_columns => '{secret}');

-- Temporal queries.  SECURITY INVOKER: the caller's row security decides
-- what it sees (a context's tenant with audit:read, or an auditor).

-- The text an entry's object column holds for a table.
CREATE FUNCTION taskforce._audit_object(tbl regclass) RETURNS text
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = tbl
$$;
COMMENT ON FUNCTION taskforce._audit_object(regclass) IS
    'internal: schema.table as audit entries name it';

CREATE FUNCTION taskforce.audit_row_history(tbl regclass, row_key jsonb)
    RETURNS SETOF taskforce.audit_log
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF tbl IS NULL OR row_key IS NULL THEN
        RAISE EXCEPTION 'tbl and row_key must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        SELECT a.* FROM taskforce.audit_log AS a
         WHERE a.object = taskforce._audit_object(tbl) AND a.row_key = audit_row_history.row_key::text
         ORDER BY a.logged_at, a.txid, a.entry_seq;
END
$$;
COMMENT ON FUNCTION taskforce.audit_row_history(regclass, jsonb) IS
    'the audit entries of one row ({primary key column: value}), oldest first, as the caller may see them';

CREATE FUNCTION taskforce.audit_changes(from_time timestamptz, to_time timestamptz,
                                        user_id text DEFAULT NULL, tbl regclass DEFAULT NULL)
    RETURNS SETOF taskforce.audit_log
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF from_time IS NULL OR to_time IS NULL THEN
        RAISE EXCEPTION 'from_time and to_time must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        SELECT a.* FROM taskforce.audit_log AS a
         WHERE a.logged_at >= from_time AND a.logged_at < to_time
           AND (audit_changes.user_id IS NULL OR a.user_id = audit_changes.user_id)
           AND (tbl IS NULL OR a.object = taskforce._audit_object(tbl))
         ORDER BY a.logged_at, a.txid, a.entry_seq;
END
$$;
COMMENT ON FUNCTION taskforce.audit_changes(timestamptz, timestamptz, text, regclass) IS
    'the audit entries of transactions started in [from_time, to_time), optionally of one user and one table, as the caller may see them';

-- Writing entries that are not table changes (erasure; purge and
-- evidence use it too), attributed like changes, as the owner.
CREATE FUNCTION taskforce._audit_write_event(event_type text, object text, row_key text, action text,
                                             tenant_id text, new_values jsonb) RETURNS void
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_audit_write_event';
REVOKE ALL ON FUNCTION taskforce._audit_write_event(text, text, text, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_write_event(text, text, text, text, text, jsonb) IS
    'internal: writes an audit entry of an event (tenant null: the context''s), values in new_values';

-- Erasure, the one sanctioned change of an entry: only while
-- erase_audit_values has turned the switch on, in the subtransaction it
-- runs in (src/audit/trigger.c).
CREATE FUNCTION taskforce._audit_erasing() RETURNS boolean
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'taskforce_audit_erasing';
REVOKE ALL ON FUNCTION taskforce._audit_erasing() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_erasing() IS
    'internal: whether erase_audit_values is running in this transaction (the erasure policies'' condition)';
CREATE FUNCTION taskforce._audit_set_erasing(on_ boolean) RETURNS void
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_audit_set_erasing';
REVOKE ALL ON FUNCTION taskforce._audit_set_erasing(boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_set_erasing(boolean) IS
    'internal: turns the erasure switch on or off for this transaction';
CREATE POLICY audit_log_erasure_read ON taskforce.audit_log FOR SELECT
    USING ((SELECT taskforce._audit_erasing()));
CREATE POLICY audit_log_erasure ON taskforce.audit_log FOR UPDATE
    USING ((SELECT taskforce._audit_erasing())) WITH CHECK ((SELECT taskforce._audit_erasing()));

-- F(x) of the canonical encoding.
CREATE FUNCTION taskforce._audit_f(x text) RETURNS bytea
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN x IS NULL THEN '\xffffffff'::bytea
           ELSE int4send(octet_length(convert_to(x, 'UTF8'))) || convert_to(x, 'UTF8') END
$$;
COMMENT ON FUNCTION taskforce._audit_f(text) IS 'internal: F(x) = u32be(length) || x of the audit encoding';

CREATE FUNCTION taskforce.erase_audit_values(tbl regclass, row_key jsonb, columns text[], reason text)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    obj text;
    e record;
    v record;
    oldv jsonb;
    newv jsonb;
    er jsonb;
    s bytea;
    c bytea;
    n_values integer := 0;
    n_entries integer := 0;
    touched boolean;
    tenant text;
    context_tenant text := taskforce.current_tenant();
BEGIN
    IF tbl IS NULL OR row_key IS NULL OR columns IS NULL OR reason IS NULL THEN
        RAISE EXCEPTION 'erase_audit_values arguments must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(columns) = 0 OR array_position(columns, NULL) IS NOT NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'name the columns to erase and the reason'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    obj := taskforce._audit_object(tbl);
    PERFORM taskforce._audit_set_erasing(true);
    FOR e IN SELECT a.txid, a.entry_seq, a.tenant_id, a.old_values, a.new_values, a.erased, a.salts
               FROM taskforce.audit_log AS a
              WHERE a.object = obj AND a.row_key = erase_audit_values.row_key::text
                AND (context_tenant IS NULL OR a.tenant_id = context_tenant)
              ORDER BY a.txid, a.entry_seq FOR UPDATE LOOP
        oldv := e.old_values; newv := e.new_values; er := e.erased; s := e.salts;
        touched := false;
        FOR v IN
            WITH vals AS (
                SELECT 'old'::text AS side, x.k AS col, x.val FROM jsonb_each(e.old_values) AS x(k, val)
                UNION ALL SELECT 'new', x.k, x.val FROM jsonb_each(e.new_values) AS x(k, val)
                UNION ALL SELECT 'old', k, NULL FROM jsonb_object_keys(e.erased->'old') AS k
                UNION ALL SELECT 'new', k, NULL FROM jsonb_object_keys(e.erased->'new') AS k)
            SELECT side, col, val,
                   (row_number() OVER (ORDER BY side COLLATE "C", col COLLATE "C") - 1)::integer AS idx
              FROM vals
        LOOP
            CONTINUE WHEN v.val IS NULL OR NOT (v.col = ANY (columns));
            c := sha256(substring(s FROM v.idx * 16 + 1 FOR 16) || taskforce._audit_f(v.side)
                        || taskforce._audit_f(v.col) || taskforce._audit_f(v.val::text));
            er := jsonb_set(coalesce(er, '{}'), ARRAY[v.side],
                            coalesce(er->v.side, '{}') || jsonb_build_object(v.col, encode(c, 'hex')));
            IF v.side = 'old' THEN oldv := oldv - v.col; ELSE newv := newv - v.col; END IF;
            s := overlay(s PLACING '\x00000000000000000000000000000000'::bytea FROM v.idx * 16 + 1 FOR 16);
            n_values := n_values + 1;
            touched := true;
        END LOOP;
        IF touched THEN
            UPDATE taskforce.audit_log AS a SET old_values = oldv, new_values = newv, erased = er, salts = s
             WHERE a.txid = e.txid AND a.entry_seq = e.entry_seq;
            n_entries := n_entries + 1;
            tenant := coalesce(tenant, e.tenant_id);
        END IF;
    END LOOP;
    PERFORM taskforce._audit_set_erasing(false);
    PERFORM taskforce._audit_write_event('erasure', obj, erase_audit_values.row_key::text, 'ERASE', tenant,
        jsonb_build_object('columns', to_jsonb(columns), 'reason', reason,
                           'entries', n_entries, 'values', n_values));
    RETURN n_values;
END
$$;
REVOKE ALL ON FUNCTION taskforce.erase_audit_values(regclass, jsonb, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.erase_audit_values(regclass, jsonb, text[], text) IS
    'erases the given columns'' values from every audit entry of a row (commitments kept, leaf hashes unchanged, salts zeroed): in a context, the entries of its tenant only; without one, of every tenant; logs an erasure entry; returns the number of values erased';
