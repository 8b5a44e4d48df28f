-- src/sql/upgrade/0.4.0--0.5.0.sql: the changes 0.5.0 makes to objects of
-- 0.4.0.  The upgrade script is this file, the files new in 0.5.0 and
-- roles.sql (see the Makefile).

\echo Use "ALTER EXTENSION taskforce UPDATE TO '0.5.0'" to load this file. \quit

-- roles.sql creates its functions again, with this release's grants.
DROP FUNCTION taskforce._grant_database_role_privileges();
DROP FUNCTION taskforce.setup_roles(name, name, name, name);

-- offboard_tenant runs the audit trigger as well as the tenant trigger
-- (the entries it writes record the offboarding).
CREATE OR REPLACE FUNCTION taskforce.offboard_tenant(tenant_id text, dry_run boolean DEFAULT true)
    RETURNS TABLE (table_name regclass, rows bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t taskforce.tenants;
    tables regclass[];
    columns name[];
    pending regclass[];
    ready regclass[];
    i integer;
    n bigint;
    superuser_session boolean := (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r
                                   WHERE r.rolname = session_user);
BEGIN
    IF tenant_id IS NULL OR dry_run IS NULL THEN
        RAISE EXCEPTION 'tenant_id and dry_run must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    t := taskforce._lock_tenant(tenant_id);
    IF t.status <> 'deleted' THEN
        RAISE EXCEPTION 'tenant "%" is %', tenant_id, t.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only a deleted tenant''s rows can be offboarded.',
                  HINT = 'Delete the tenant first with taskforce.delete_tenant().';
    END IF;

    -- Lock every isolated table against new triggers and rules (CREATE
    -- TRIGGER and CREATE RULE conflict with ROW EXCLUSIVE), then check.
    FOR table_name IN SELECT x.table_name FROM taskforce._isolated_tables(false) AS x ORDER BY 1 LOOP
        IF NOT dry_run THEN
            EXECUTE format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', table_name);
        END IF;
        IF NOT dry_run AND NOT superuser_session AND (
               EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                        WHERE g.tgrelid = table_name AND NOT g.tgisinternal
                          AND g.tgfoid NOT IN ('taskforce._tenant_immutable'::pg_catalog.regproc,
                                               'taskforce._audit_trigger'::pg_catalog.regproc)
                          AND g.tgenabled <> 'D')
            OR EXISTS (SELECT FROM pg_catalog.pg_rewrite AS w
                        WHERE w.ev_class = table_name AND w.ev_type = '4')) THEN
            RAISE EXCEPTION 'table "%" has triggers or rules that would run with the rights of taskforce''s owner', table_name
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'A superuser must run the offboarding of this tenant.';
        END IF;
    END LOOP;

    -- Referencing tables before the tables they reference; a cycle is
    -- taken as it is (its foreign keys decide).
    SELECT array_agg(x.table_name ORDER BY x.table_name::text) INTO pending
      FROM taskforce._isolated_tables(true) AS x;
    pending := coalesce(pending, '{}');
    tables := '{}';
    WHILE cardinality(pending) > 0 LOOP
        SELECT array_agg(p ORDER BY p::text) INTO ready
          FROM unnest(pending) AS p
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                            WHERE k.contype = 'f' AND k.confrelid = p AND k.conrelid <> p
                              AND k.conrelid = ANY (pending));
        ready := coalesce(ready, pending);
        tables := tables || ready;
        SELECT coalesce(array_agg(p ORDER BY p::text), '{}') INTO pending
          FROM unnest(pending) AS p WHERE p <> ALL (ready);
    END LOOP;
    SELECT array_agg(x.tenant_column ORDER BY o.n) INTO columns
      FROM unnest(tables) WITH ORDINALITY AS o(tbl, n)
      JOIN taskforce._isolated_tables(true) AS x ON x.table_name = o.tbl;

    FOR i IN 1 .. cardinality(tables) LOOP
        table_name := tables[i];
        IF dry_run THEN
            EXECUTE format('SELECT count(*) FROM %s WHERE %I = $1', table_name, columns[i])
                INTO rows USING tenant_id;
        ELSE
            EXECUTE format('DELETE FROM %s WHERE %I = $1', table_name, columns[i]) USING tenant_id;
            GET DIAGNOSTICS rows = ROW_COUNT;
        END IF;
        RETURN NEXT;
    END LOOP;

    FOR table_name IN SELECT unnest(ARRAY[
            'taskforce.api_keys', 'taskforce.user_credentials', 'taskforce.role_grants',
            'taskforce.users', 'taskforce.roles', 'taskforce.password_policies']::regclass[]) LOOP
        IF dry_run THEN
            EXECUTE format('SELECT count(*) FROM %s AS x WHERE x.tenant_id = $1', table_name)
                INTO rows USING tenant_id;
        ELSE
            EXECUTE format('DELETE FROM %s AS x WHERE x.tenant_id = $1', table_name) USING tenant_id;
            GET DIAGNOSTICS rows = ROW_COUNT;
        END IF;
        RETURN NEXT;
    END LOOP;
    -- Keys of the tenant's own issuers, then the issuers.
    table_name := 'taskforce.jwt_keys';
    IF dry_run THEN
        SELECT count(*) INTO rows FROM taskforce.jwt_keys AS k
         WHERE k.issuer IN (SELECT s.issuer FROM taskforce.jwt_issuers AS s
                             WHERE s.tenant_id = offboard_tenant.tenant_id);
    ELSE
        DELETE FROM taskforce.jwt_keys AS k
         WHERE k.issuer IN (SELECT s.issuer FROM taskforce.jwt_issuers AS s
                             WHERE s.tenant_id = offboard_tenant.tenant_id);
        GET DIAGNOSTICS rows = ROW_COUNT;
    END IF;
    RETURN NEXT;
    table_name := 'taskforce.jwt_issuers';
    IF dry_run THEN
        SELECT count(*) INTO rows FROM taskforce.jwt_issuers AS s
         WHERE s.tenant_id = offboard_tenant.tenant_id;
    ELSE
        DELETE FROM taskforce.jwt_issuers AS s WHERE s.tenant_id = offboard_tenant.tenant_id;
        GET DIAGNOSTICS rows = ROW_COUNT;
    END IF;
    RETURN NEXT;
END
$$;
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
-- src/sql/audit_export.sql: the export of the sealed audit trail for offline
-- verification (tools/audit-verify; the signed checkpoint it is checked
-- against comes from audit_log.sql). One JSON object per line and per
-- position, in position order, carrying the exact texts the leaf hash
-- commits to (docs/audit.md).

-- The committed values of one entry in canonical value order (side, then
-- column, bytewise), each with its salt or, once erased, its commitment.
CREATE FUNCTION taskforce._audit_export_values(e taskforce.audit_log) RETURNS json
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(json_agg(json_build_array(v.side, v.col, v.value_text,
                    CASE WHEN v.value_text IS NULL THEN NULL
                         ELSE encode(substring(e.salts FROM 16 * (v.ord - 1)::integer + 1 FOR 16), 'hex') END,
                    v.commitment) ORDER BY v.ord), '[]'::json)
    FROM (
        SELECT u.side, u.col, u.value_text, u.commitment,
               row_number() OVER (ORDER BY u.side COLLATE "C", u.col COLLATE "C") AS ord
        FROM (
            SELECT 'old'::text AS side, k AS col, (e.old_values -> k)::text AS value_text, NULL::text AS commitment
            FROM jsonb_object_keys(coalesce(e.old_values, '{}')) AS k
            UNION ALL
            SELECT 'new', k, (e.new_values -> k)::text, NULL
            FROM jsonb_object_keys(coalesce(e.new_values, '{}')) AS k
            UNION ALL
            SELECT s.side, c.key, NULL, c.value #>> '{}'
            FROM (VALUES ('old'), ('new')) AS s(side),
                 jsonb_each(coalesce(e.erased -> s.side, '{}')) AS c
        ) AS u
    ) AS v
$$;
REVOKE ALL ON FUNCTION taskforce._audit_export_values(taskforce.audit_log) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_export_values(taskforce.audit_log) IS
    'internal: the values array of an exported audit entry (side, column, value text, salt hex, commitment hex) in canonical value order';

CREATE FUNCTION taskforce.export_audit(from_position bigint DEFAULT 0, to_position bigint DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF from_position IS NULL OR from_position < 0 OR to_position < from_position THEN
        RAISE EXCEPTION 'invalid position range % to %', from_position, to_position
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH pos AS (
        SELECT st.txid, p.position, (p.position - st.first_position + 1) AS rank
        FROM taskforce.audit_sealed_transactions AS st,
             generate_series(greatest(st.first_position, from_position),
                             least(st.first_position + st.entry_count - 1,
                                   coalesce(to_position, st.first_position + st.entry_count - 1))) AS p(position)
        WHERE st.first_position + st.entry_count > from_position
          AND (to_position IS NULL OR st.first_position <= to_position)
    ), ranked AS (
        SELECT e, row_number() OVER (PARTITION BY e.txid ORDER BY e.entry_seq) AS rank
        FROM taskforce.audit_log AS e
        WHERE e.txid IN (SELECT DISTINCT txid FROM pos)
    )
    SELECT CASE WHEN r.e IS NULL THEN
               json_build_object('position', pos.position, 'purged', true,
                   'leaf_hash', encode(substring(t.hashes FROM (pos.position % 256)::integer * 32 + 1 FOR 32), 'hex'))::text
           ELSE json_build_object(
               'position', pos.position,
               'tenant_id', (r.e).tenant_id,
               'logged_at', to_char((r.e).logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'txid', (r.e).txid::text,
               'entry_seq', (r.e).entry_seq,
               'statement_id', (r.e).statement_id,
               'event_type', (r.e).event_type,
               'object', (r.e).object,
               'row_key', (r.e).row_key,
               'action', (r.e).action,
               'user_id', (r.e).user_id,
               'roles', (r.e).roles,
               'auth_method', (r.e).auth_method,
               'db_role', (r.e).db_role,
               'client_addr', (r.e).client_addr,  -- inet_out text (no /32), as hashed
               'application_name', (r.e).application_name,
               'old_values', (r.e).old_values,
               'new_values', (r.e).new_values,
               'values', taskforce._audit_export_values(r.e),
               'leaf_hash', encode((r.e).leaf_hash, 'hex'))::text
           END
    FROM pos
    LEFT JOIN ranked AS r ON r.rank = pos.rank AND (r.e).txid = pos.txid
    LEFT JOIN taskforce.audit_tiles AS t ON t.level = 0 AND t.index = pos.position / 256
    ORDER BY pos.position;
END
$$;
REVOKE ALL ON FUNCTION taskforce.export_audit(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.export_audit(bigint, bigint) IS
    'the sealed audit trail from from_position to to_position (default: the end) as JSON lines in position order, for tools/audit-verify; purged positions give their leaf hash only';
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
-- src/sql/evidence.sql: evidence records (new in 0.5.0; seed 000 section 2).
-- What an agent's decision rested on: tool results, LLM responses, user
-- input, citations and the decisions themselves, per tenant and session.
-- Records are written only through record_evidence(), which stamps the
-- context's tenant and user; applications read their own tenant's records
-- (tenant isolation) and may not change or delete any.  Like security
-- events, a deleted tenant's evidence is kept by offboard_tenant.

CREATE TABLE taskforce.evidence (
    evidence_id   uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     text        NOT NULL,
    session_id    text        NOT NULL,
    evidence_type text        NOT NULL,
    source        text,
    content       jsonb       NOT NULL,
    metadata      jsonb       NOT NULL DEFAULT '{}',
    recorded_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    recorded_by   text,
    CONSTRAINT evidence_pkey PRIMARY KEY (tenant_id, evidence_id),
    CONSTRAINT evidence_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT evidence_type_known CHECK (evidence_type IN (
        'tool_result', 'llm_response', 'user_input', 'citation', 'decision')),
    CONSTRAINT evidence_session_id_nonempty CHECK (session_id <> ''),
    CONSTRAINT evidence_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
CREATE INDEX evidence_session ON taskforce.evidence (tenant_id, session_id, recorded_at);
COMMENT ON TABLE taskforce.evidence IS
    'evidence records: what an agent''s decisions rested on, per tenant and session; written by record_evidence()';
COMMENT ON COLUMN taskforce.evidence.evidence_type IS
    'tool_result, llm_response, user_input, citation or decision';
COMMENT ON COLUMN taskforce.evidence.source IS
    'where the evidence came from: a tool, model or document name';
COMMENT ON COLUMN taskforce.evidence.recorded_by IS
    'the user id of the context that recorded it';
SELECT taskforce.enable_tenant_isolation('taskforce.evidence');
SELECT pg_catalog.pg_extension_config_dump('taskforce.evidence', '');
-- Covered by the audit log: every record is an entry of the trail.
SELECT taskforce.enable_audit('taskforce.evidence', event_type => 'evidence');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.evidence
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.evidence IS
    'refuses inserts and updates of a deleted tenant''s rows';

-- The permission to record evidence: operators (who execute agents and
-- tools) hold it; admin holds every permission.
INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('evidence:write', 'record evidence', true);
UPDATE taskforce.system_roles
   SET permissions = permissions || 'evidence:write'::text
 WHERE role_name = 'operator';

CREATE FUNCTION taskforce.record_evidence(
    session_id text,
    evidence_type text,
    source text,
    content jsonb,
    metadata jsonb DEFAULT '{}')
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    new_id uuid;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'an authenticated context is required'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Authenticate first.';
    END IF;
    PERFORM taskforce.require_permission('evidence:write');
    IF record_evidence.session_id IS NULL OR record_evidence.evidence_type IS NULL
       OR record_evidence.content IS NULL OR record_evidence.metadata IS NULL THEN
        RAISE EXCEPTION 'session_id, evidence_type, content and metadata must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF record_evidence.session_id = '' THEN
        RAISE EXCEPTION 'session_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF record_evidence.evidence_type NOT IN ('tool_result', 'llm_response', 'user_input', 'citation', 'decision') THEN
        RAISE EXCEPTION 'unknown evidence type "%"', record_evidence.evidence_type
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use tool_result, llm_response, user_input, citation or decision.';
    END IF;
    IF jsonb_typeof(record_evidence.metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO taskforce.evidence AS e
           (tenant_id, session_id, evidence_type, source, content, metadata, recorded_by)
    VALUES (tenant, record_evidence.session_id, record_evidence.evidence_type,
            record_evidence.source, record_evidence.content, record_evidence.metadata,
            taskforce.current_user_id())
    RETURNING e.evidence_id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION taskforce.record_evidence(text, text, text, jsonb, jsonb) IS
    'records evidence for the current context''s tenant and user and returns its id; needs evidence:write';
-- src/sql/citations.sql: source citations from semantic-search results
-- (new in 0.5.0; seed 001 section 8.1).  extract_citations() turns a search
-- result into citations; format_citations() marks a text with them, inline
-- ([1] markers and a reference list) or as an appendix.  Both are pure
-- functions of their arguments.

-- A search result is {"success": bool, "results": [{document_id,
-- document_title, content, score, page_number}, ...]}.  An unsuccessful
-- result, or one without results, cites nothing: an empty array.
CREATE FUNCTION taskforce.extract_citations(search_result jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    results jsonb;
    r jsonb;
    i integer := 0;
    citations jsonb := '[]';
BEGIN
    IF search_result IS NULL THEN
        RAISE EXCEPTION 'search_result must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(search_result) <> 'object' THEN
        RAISE EXCEPTION 'search_result must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF search_result ? 'success' AND jsonb_typeof(search_result->'success') <> 'boolean' THEN
        RAISE EXCEPTION 'search_result.success must be a boolean'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    results := search_result->'results';
    IF (search_result->>'success')::boolean IS FALSE
       OR results IS NULL OR jsonb_typeof(results) = 'null' THEN
        RETURN citations;
    END IF;
    IF jsonb_typeof(results) <> 'array' THEN
        RAISE EXCEPTION 'search_result.results must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT e FROM jsonb_array_elements(results) AS e LOOP
        i := i + 1;
        IF jsonb_typeof(r) <> 'object' THEN
            RAISE EXCEPTION 'search result % is not a JSON object', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(r->'document_id') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'search result % has no document_id string', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(r->'document_title'), 'null') NOT IN ('string', 'null')
           OR coalesce(jsonb_typeof(r->'content'), 'null') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'search result %: document_title and content must be strings', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(r->'score'), 'null') NOT IN ('number', 'null') THEN
            RAISE EXCEPTION 'search result %: score must be a number', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(r->'page_number'), 'null') NOT IN ('number', 'null')
           OR (jsonb_typeof(r->'page_number') = 'number'
               AND ((r->>'page_number')::numeric % 1 <> 0 OR (r->>'page_number')::numeric < 1)) THEN
            RAISE EXCEPTION 'search result %: page_number must be a positive integer', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Without a title a citation is named by its document id.
        citations := citations || jsonb_build_array(jsonb_build_object(
            'document_id', r->'document_id',
            'title', coalesce(nullif(r->'document_title', 'null'), r->'document_id'),
            'snippet', coalesce(r->'content', 'null'),
            'score', coalesce(r->'score', 'null'),
            'page_number', coalesce(r->'page_number', 'null')));
    END LOOP;
    RETURN citations;
END
$$;
COMMENT ON FUNCTION taskforce.extract_citations(jsonb) IS
    'the citations ({document_id, title, snippet, score, page_number}) of a semantic-search result, in result order; none for an unsuccessful result';

-- The reference line of one citation: "[n] title p. N (relevance: 0.95)".
CREATE FUNCTION taskforce._citation_reference(n integer, citation jsonb,
                                              include_score boolean, include_page boolean)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT '[' || n::text || '] ' || (citation->>'title')
           || CASE WHEN include_page AND jsonb_typeof(citation->'page_number') = 'number'
                   THEN ' p. ' || (citation->>'page_number') ELSE '' END
           || CASE WHEN include_score AND jsonb_typeof(citation->'score') = 'number'
                   THEN ' (relevance: ' || round((citation->>'score')::numeric, 2)::text || ')'
                   ELSE '' END
$$;
COMMENT ON FUNCTION taskforce._citation_reference(integer, jsonb, boolean, boolean) IS
    'internal: the reference line of the n-th citation';

-- inline: the i-th sentence gets " [i]" before its closing punctuation; a
-- sentence ends at a run of . ! ? followed by white space or the end of
-- the text, and trailing text without one is a last sentence too.  The
-- citations beyond the number of sentences are all marked on the last
-- sentence; sentences beyond the number of citations stay unmarked.
-- appendix: the text unchanged, then a rule and the reference list.
-- Only the first max_citations citations are used.
CREATE FUNCTION taskforce.format_citations(
    body text,
    citations jsonb,
    style text DEFAULT 'inline',
    max_citations integer DEFAULT 10,
    include_score boolean DEFAULT false,
    include_page boolean DEFAULT true)
    RETURNS TABLE (formatted_text text, "references" text[])
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    sentence_end constant text := '[.!?]+(?=\s|$)';
    c jsonb;
    used integer;
    refs text[] := '{}';
    marks integer[] := '{}';  -- where each sentence's marker goes
    trimmed_length integer;
    last_end integer := 0;
    n_marks integer;
    out_text text := '';
    prev integer := 1;
    marker text;
    i integer;
    j integer;
BEGIN
    IF body IS NULL OR citations IS NULL OR style IS NULL OR max_citations IS NULL
       OR include_score IS NULL OR include_page IS NULL THEN
        RAISE EXCEPTION 'arguments must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF style NOT IN ('inline', 'appendix') THEN
        RAISE EXCEPTION 'unknown citation style "%"', style
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use inline or appendix.';
    END IF;
    IF max_citations < 0 THEN
        RAISE EXCEPTION 'max_citations must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(citations) <> 'array' THEN
        RAISE EXCEPTION 'citations must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    used := least(jsonb_array_length(citations), max_citations);
    FOR i IN 1 .. used LOOP
        c := citations->(i - 1);
        IF jsonb_typeof(c) <> 'object' OR jsonb_typeof(c->'title') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'citation % is not a JSON object with a title string', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF coalesce(jsonb_typeof(c->'score'), 'null') NOT IN ('number', 'null')
           OR coalesce(jsonb_typeof(c->'page_number'), 'null') NOT IN ('number', 'null') THEN
            RAISE EXCEPTION 'citation %: score and page_number must be numbers', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        refs := refs || taskforce._citation_reference(i, c, include_score, include_page);
    END LOOP;

    IF style = 'appendix' THEN
        formatted_text := CASE WHEN used = 0 THEN body
                               ELSE body || E'\n\n---\n**References:**\n' || array_to_string(refs, E'\n') END;
        "references" := refs;
        RETURN NEXT;
        RETURN;
    END IF;

    -- inline: find where each sentence's marker goes.
    FOR i IN 1 .. regexp_count(body, sentence_end) LOOP
        marks := marks || regexp_instr(body, sentence_end, 1, i);
        last_end := regexp_instr(body, sentence_end, 1, i, 1);
    END LOOP;
    trimmed_length := length(regexp_replace(body, '\s+$', ''));
    IF trimmed_length >= greatest(last_end, 1) THEN
        marks := marks || (trimmed_length + 1);
    END IF;
    n_marks := least(cardinality(marks), used);
    FOR i IN 1 .. n_marks LOOP
        marker := ' [' || i::text || ']';
        IF i = n_marks THEN
            FOR j IN i + 1 .. used LOOP
                marker := marker || ' [' || j::text || ']';
            END LOOP;
        END IF;
        out_text := out_text || substr(body, prev, marks[i] - prev) || marker;
        prev := marks[i];
    END LOOP;
    formatted_text := out_text || substr(body, prev);
    "references" := refs;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION taskforce.format_citations(text, jsonb, text, integer, boolean, boolean) IS
    'marks a text with citations: inline (sentence i gets [i] before its closing punctuation, extra citations on the last sentence) or appendix (a reference list after the text); returns the text and the reference lines';
-- src/sql/roles.sql: the privileges each database role gets, and the
-- function that makes the roles on request.  The roles setup_roles() set up
-- are recorded in database_roles (database_roles.sql), so that ALTER
-- EXTENSION ... UPDATE grants a release's new objects to them: every install
-- and upgrade script ends with this file (an upgrade script drops its two
-- functions first).

-- Grants every recorded role the privileges of its purpose in this
-- release.  Idempotent; a recorded role that no longer exists is skipped.
CREATE FUNCTION taskforce._grant_database_role_privileges()
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT d.purpose, d.role_name FROM taskforce.database_roles AS d
              WHERE EXISTS (SELECT FROM pg_catalog.pg_roles AS pr WHERE pr.rolname = d.role_name)
              ORDER BY d.purpose, d.role_name
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA taskforce TO %I', r.role_name);
        IF r.purpose IN ('app', 'admin') THEN
            -- Its own tenant's rows (tenant isolation filters them), the
            -- permission catalog and the system roles.
            EXECUTE format('GRANT SELECT ON taskforce.tenants, taskforce.users, taskforce.roles,
                taskforce.role_grants, taskforce.password_policies, taskforce.permissions,
                taskforce.system_roles TO %I', r.role_name);
            -- Who is connected (filtered by caller).
            EXECUTE format('GRANT SELECT ON taskforce.live_contexts, taskforce.live_context_counts TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce._visible_live_contexts() TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.security_events TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('app', 'admin', 'auditor') THEN
            -- Evidence records: read under tenant isolation; written only
            -- by record_evidence(), never changed or deleted.
            EXECUTE format('GRANT SELECT ON taskforce.evidence TO %I', r.role_name);
        END IF;
        -- Audit trail (audit.sql): read through row security only (a
        -- context's tenant with audit:read; auditors all); nobody but the
        -- owner writes it.
        IF r.purpose IN ('app', 'admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.audit_log TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce._is_audit_auditor(name), taskforce._audit_erasing(),
                taskforce.audit_row_history(regclass, jsonb),
                taskforce.audit_changes(timestamptz, timestamptz, text, regclass) TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.audited_tables TO %I', r.role_name);
            -- Audit export (verifier): the sealed trail as JSON lines for
            -- tools/audit-verify.
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.export_audit(bigint, bigint) TO %I', r.role_name);
        END IF;
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.enable_audit(regclass, text[], text[], boolean, text),
                taskforce.disable_audit(regclass),
                taskforce.erase_audit_values(regclass, jsonb, text[], text) TO %I', r.role_name);
        END IF;
        -- Audit Merkle log (audit_log.sql): admins seal; admins and
        -- auditors verify, read proofs, checkpoints and the public key.
        -- App roles get no tree function (positions and proofs span tenants).
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.seal_audit(bigint) TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION
                taskforce.verify_audit(text, text),
                taskforce.audit_inclusion_proof(bigint, bigint),
                taskforce.audit_consistency_proof(bigint, bigint),
                taskforce.audit_position(bigint, integer),
                taskforce.audit_checkpoint(bigint),
                taskforce.audit_public_key() TO %I', r.role_name);
        END IF;
        -- Audit retention (audit_purge.sql): admins purge sealed entries;
        -- admins and auditors read the purge records.
        IF r.purpose = 'admin' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION taskforce.purge_audit(timestamptz) TO %I', r.role_name);
        END IF;
        IF r.purpose IN ('admin', 'auditor') THEN
            EXECUTE format('GRANT SELECT ON taskforce.audit_purges TO %I', r.role_name);
        END IF;
        IF r.purpose = 'admin' THEN
            -- Token issuers and keys, the permission catalog, establishing
            -- contexts and managing tenants.
            EXECUTE format('GRANT SELECT ON taskforce.jwt_issuers, taskforce.jwt_keys TO %I', r.role_name);
            EXECUTE format('GRANT EXECUTE ON FUNCTION
                taskforce.register_permission(text, text),
                taskforce.unregister_permission(text),
                taskforce.has_permission(text, text, text),
                taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean),
                taskforce.drop_jwt_issuer(text),
                taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz),
                taskforce.retire_jwt_key(text, timestamptz),
                taskforce.mint_jwt(jsonb, text, interval),
                taskforce.act_as(text, text, text[], text, interval),
                taskforce.create_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
                taskforce.update_tenant(text, text, text, jsonb, jsonb, text[], jsonb),
                taskforce.suspend_tenant(text, text),
                taskforce.reactivate_tenant(text),
                taskforce.delete_tenant(text, text),
                taskforce.list_tenants(text),
                taskforce.offboard_tenant(text, boolean),
                taskforce.flush_security_events(interval) TO %I', r.role_name);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION taskforce._grant_database_role_privileges() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._grant_database_role_privileges() IS
    'internal: grants each role recorded in database_roles the privileges of its purpose';

CREATE FUNCTION taskforce.setup_roles(
    app_role name DEFAULT 'taskforce_app',
    admin_role name DEFAULT 'taskforce_admin',
    auditor_role name DEFAULT 'taskforce_auditor',
    bi_role name DEFAULT 'taskforce_bi')
    RETURNS TABLE (role_name name, purpose text, created boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r record;
    existing pg_catalog.pg_roles;
    is_new boolean;
BEGIN
    IF app_role IS NULL OR admin_role IS NULL OR auditor_role IS NULL OR bi_role IS NULL THEN
        RAISE EXCEPTION 'role names must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(ARRAY[app_role, admin_role, auditor_role, bi_role]) AS x) <> 4 THEN
        RAISE EXCEPTION 'the four role names must be distinct'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN SELECT * FROM (VALUES
            (app_role, 'app', 'application: subject to tenant isolation, establishes context only with credentials'),
            (admin_role, 'admin', 'trusted middleware and administrators: may act_as, manage tenants, users, roles and token keys'),
            (auditor_role, 'auditor', 'auditors: read-only access to evidence and security events'),
            (bi_role, 'bi', 'BI tools: read-only access to reporting views')) AS v(name, kind, purpose)
    LOOP
        SELECT * INTO existing FROM pg_catalog.pg_roles AS pr WHERE pr.rolname = r.name;
        is_new := NOT FOUND;
        IF NOT is_new AND (existing.rolsuper OR existing.rolbypassrls) THEN
            RAISE EXCEPTION 'role "%" bypasses row-level security', r.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'taskforce roles must be subject to tenant isolation; choose another name.';
        END IF;
        IF is_new THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
        END IF;
        INSERT INTO taskforce.database_roles AS d (purpose, role_name) VALUES (r.kind, r.name)
        ON CONFLICT ON CONSTRAINT database_roles_pkey DO NOTHING;
        role_name := r.name;
        purpose := r.purpose;
        created := is_new;
        RETURN NEXT;
    END LOOP;
    PERFORM taskforce._grant_database_role_privileges();
END
$$;
COMMENT ON FUNCTION taskforce.setup_roles(name, name, name, name) IS
    'creates (if missing) the application, admin, auditor and BI group roles, records them and grants their privileges';

-- After an upgrade, the recorded roles get this release's privileges.
SELECT taskforce._grant_database_role_privileges();
