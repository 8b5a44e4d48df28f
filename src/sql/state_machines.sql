-- src/sql/state_machines.sql: declarative state machines enforced by a C
-- trigger on any table (issue 11; the shared design is spec/LIFE_SPEC.md,
-- section 1).  Definitions are global (not per tenant) and written by
-- administrators only; the trigger (src/lifecycle/machine.c) caches them
-- per backend and drops the cache when these tables change.  taskforce's
-- own machines (agent versions, releases) are defined by the install script,
-- marked installed and left out of the dump, as audit_options does.

CREATE TABLE taskforce.state_machines (
    machine         text        NOT NULL,
    description     text,
    initial_states  text[]      NOT NULL,
    terminal_states text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    installed       boolean     NOT NULL DEFAULT false,
    CONSTRAINT state_machines_pkey PRIMARY KEY (machine),
    CONSTRAINT state_machines_machine_format CHECK (machine ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    CONSTRAINT state_machines_initial_present CHECK (pg_catalog.cardinality(initial_states) >= 1)
);
COMMENT ON TABLE taskforce.state_machines IS
    'state machines: initial and terminal states (global, written by administrators through define_state_machine)';
COMMENT ON COLUMN taskforce.state_machines.installed IS
    'defined by taskforce''s install or upgrade script (not dumped: CREATE EXTENSION makes it again)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.state_machines', 'WHERE NOT installed');

CREATE TABLE taskforce.state_machine_transitions (
    machine             text    NOT NULL,
    from_state          text    NOT NULL,
    to_state            text    NOT NULL,
    required_permission text,
    approval_type       text,
    installed           boolean NOT NULL DEFAULT false,
    CONSTRAINT state_machine_transitions_pkey PRIMARY KEY (machine, from_state, to_state),
    CONSTRAINT state_machine_transitions_machine_fkey FOREIGN KEY (machine)
        REFERENCES taskforce.state_machines (machine) ON DELETE CASCADE,
    CONSTRAINT state_machine_transitions_state_format
        CHECK (from_state ~ '^[a-z][a-z0-9_]{0,62}$' AND to_state ~ '^[a-z][a-z0-9_]{0,62}$')
);
COMMENT ON TABLE taskforce.state_machine_transitions IS
    'allowed transitions of each state machine, each optionally requiring a permission and an approved request';
COMMENT ON COLUMN taskforce.state_machine_transitions.required_permission IS
    'permission the context must hold (null: none)';
COMMENT ON COLUMN taskforce.state_machine_transitions.approval_type IS
    'request type whose approved request is needed when the row''s tenant has an enabled workflow for it (null: none)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.state_machine_transitions', 'WHERE NOT installed');

CREATE TABLE taskforce.state_machine_attachments (
    tbl            regclass NOT NULL,
    column_name    name     NOT NULL,
    machine        text     NOT NULL,
    content_column name,
    installed      boolean  NOT NULL DEFAULT false,
    CONSTRAINT state_machine_attachments_pkey PRIMARY KEY (tbl),
    CONSTRAINT state_machine_attachments_machine_fkey FOREIGN KEY (machine)
        REFERENCES taskforce.state_machines (machine)
);
COMMENT ON TABLE taskforce.state_machine_attachments IS
    'tables whose state column a machine governs (attach_state_machine)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.state_machine_attachments', 'WHERE NOT installed');

REVOKE ALL ON taskforce.state_machines, taskforce.state_machine_transitions,
    taskforce.state_machine_attachments FROM PUBLIC;

-- The trigger's cache (src/lifecycle/machine.c) loads from the first two:
-- a change reaches every session by its next transaction.  ENABLE ALWAYS,
-- as in rbac.sql.
DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['taskforce.state_machines', 'taskforce.state_machine_transitions']::regclass[] LOOP
        EXECUTE format('CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches()', t);
        EXECUTE format('CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches()', t);
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER invalidate_caches, '
                       'ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate', t);
    END LOOP;
END
$$;

SELECT taskforce.enable_audit(t)
  FROM unnest(ARRAY['taskforce.state_machines', 'taskforce.state_machine_transitions',
                    'taskforce.state_machine_attachments']::regclass[]) AS t;

-- Whether the install or upgrade script is writing (its rows are installed).
CREATE FUNCTION taskforce._state_machine_installing() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT taskforce._audit_installing() $$;
REVOKE ALL ON FUNCTION taskforce._state_machine_installing() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._state_machine_installing() IS
    'internal: whether taskforce''s install or upgrade script is defining a machine';

-- Raises insufficient_privilege unless the caller is an administrator.
CREATE FUNCTION taskforce._require_state_machine_administrator(what text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT taskforce._caller_is_administrator() THEN
        RAISE EXCEPTION 'only an administrator may %', what
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'State machines are global definitions: call as a role that may run taskforce.act_as().';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._require_state_machine_administrator(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._require_state_machine_administrator(text) IS
    'internal: refuses (42501) a caller that is not an administrator';

CREATE FUNCTION taskforce.define_state_machine(machine text, initial_states text[], terminal_states text[],
                                               transitions jsonb, description text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    state_format constant text := '^[a-z][a-z0-9_]{0,62}$';
    t jsonb;
    n integer := 0;
    from_state text;
    to_state text;
    perm text;
    approval text;
    bad text;
    installing boolean := taskforce._state_machine_installing();
BEGIN
    PERFORM taskforce._require_state_machine_administrator('define state machines');
    IF machine IS NULL OR initial_states IS NULL OR terminal_states IS NULL OR transitions IS NULL THEN
        RAISE EXCEPTION 'machine, initial_states, terminal_states and transitions must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF machine !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid state machine name "%"', machine
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A name is 1 to 128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit.';
    END IF;
    IF pg_catalog.cardinality(initial_states) = 0 THEN
        RAISE EXCEPTION 'state machine "%" needs at least one initial state', machine
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(coalesce(pg_catalog.quote_literal(s), 'null'), ', ') INTO bad
      FROM unnest(initial_states || terminal_states) AS s
     WHERE s IS NULL OR s !~ state_format;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invalid state name %', bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A state name is 1 to 63 lower-case letters, digits or "_", starting with a letter.';
    END IF;
    IF pg_catalog.jsonb_typeof(transitions) <> 'array' THEN
        RAISE EXCEPTION 'transitions must be a json array of {"from": ..., "to": ..., "permission": ..., "approval": ...}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM taskforce.state_machines AS m WHERE m.machine = define_state_machine.machine) THEN
        RAISE EXCEPTION 'state machine "%" already exists', machine
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Drop it first with taskforce.drop_state_machine() (detach it from its tables before).';
    END IF;
    -- taskforce's own machines are part of the extension, not audited
    -- changes: a restore's CREATE EXTENSION would write their entries
    -- again next to the restored ones.
    IF installing THEN
        ALTER TABLE taskforce.state_machines DISABLE TRIGGER taskforce_audit;
        ALTER TABLE taskforce.state_machine_transitions DISABLE TRIGGER taskforce_audit;
    END IF;
    INSERT INTO taskforce.state_machines AS m (machine, description, initial_states, terminal_states, installed)
    VALUES (machine, description,
            ARRAY(SELECT DISTINCT s FROM unnest(initial_states) AS s ORDER BY s),
            ARRAY(SELECT DISTINCT s FROM unnest(terminal_states) AS s ORDER BY s),
            installing);
    FOR t IN SELECT e FROM pg_catalog.jsonb_array_elements(transitions) AS e LOOP
        n := n + 1;
        IF pg_catalog.jsonb_typeof(t) <> 'object' THEN
            RAISE EXCEPTION 'transition % is not a json object', n USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT string_agg(k, ', ') INTO bad FROM pg_catalog.jsonb_object_keys(t) AS k
         WHERE k NOT IN ('from', 'to', 'permission', 'approval');
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'transition % has unknown key(s) %', n, bad
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The keys are from, to, permission and approval.';
        END IF;
        IF pg_catalog.jsonb_typeof(t -> 'from') IS DISTINCT FROM 'string'
           OR pg_catalog.jsonb_typeof(t -> 'to') IS DISTINCT FROM 'string'
           OR pg_catalog.jsonb_typeof(t -> 'permission') NOT IN ('string', 'null')
           OR pg_catalog.jsonb_typeof(t -> 'approval') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'transition % needs "from" and "to" strings (and "permission", "approval" strings or null)', n
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        from_state := t ->> 'from';
        to_state := t ->> 'to';
        perm := t ->> 'permission';
        approval := t ->> 'approval';
        IF from_state !~ state_format OR to_state !~ state_format THEN
            RAISE EXCEPTION 'invalid state name in transition %: "%" -> "%"', n, from_state, to_state
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A state name is 1 to 63 lower-case letters, digits or "_", starting with a letter.';
        END IF;
        IF from_state = to_state THEN
            RAISE EXCEPTION 'transition % goes from "%" to itself', n, from_state
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'An update that keeps the state is not a transition and is always allowed.';
        END IF;
        IF from_state = ANY (terminal_states) THEN
            RAISE EXCEPTION 'terminal state "%" cannot have an outgoing transition', from_state
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF perm IS NOT NULL AND NOT EXISTS (SELECT FROM taskforce.permissions AS p WHERE p.permission = perm) THEN
            RAISE EXCEPTION 'unknown permission "%" in transition %', perm, n
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Register it with taskforce.register_permission().';
        END IF;
        IF approval IS NOT NULL
           AND approval !~ '^(agent_publish|data_export|permission_escalation|custom:[a-z][a-z0-9_]{0,62})$' THEN
            RAISE EXCEPTION 'invalid approval request type "%" in transition %', approval, n
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Request types are agent_publish, data_export, permission_escalation and custom:<name>.';
        END IF;
        BEGIN
            INSERT INTO taskforce.state_machine_transitions AS st
                (machine, from_state, to_state, required_permission, approval_type, installed)
            VALUES (machine, from_state, to_state, perm, approval, installing);
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'transition from "%" to "%" is given twice', from_state, to_state
                USING ERRCODE = 'duplicate_object';
        END;
    END LOOP;
    IF installing THEN
        ALTER TABLE taskforce.state_machines ENABLE TRIGGER taskforce_audit;
        ALTER TABLE taskforce.state_machine_transitions ENABLE TRIGGER taskforce_audit;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce.define_state_machine(text, text[], text[], jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.define_state_machine(text, text[], text[], jsonb, text) IS
    'defines a state machine: initial and terminal states and transitions [{"from", "to", "permission"?, "approval"?}] (administrators)';

CREATE FUNCTION taskforce.drop_state_machine(machine text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tables text;
BEGIN
    PERFORM taskforce._require_state_machine_administrator('drop state machines');
    IF machine IS NULL THEN
        RAISE EXCEPTION 'machine must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM FROM taskforce.state_machines AS m WHERE m.machine = drop_state_machine.machine FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'state machine "%" does not exist', machine USING ERRCODE = 'undefined_object';
    END IF;
    SELECT string_agg(a.tbl::text, ', ' ORDER BY a.tbl::text) INTO tables
      FROM taskforce.state_machine_attachments AS a WHERE a.machine = drop_state_machine.machine;
    IF tables IS NOT NULL THEN
        RAISE EXCEPTION 'state machine "%" is attached to %', machine, tables
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Detach it first with taskforce.detach_state_machine().';
    END IF;
    DELETE FROM taskforce.state_machines AS m WHERE m.machine = drop_state_machine.machine;
END
$$;
REVOKE ALL ON FUNCTION taskforce.drop_state_machine(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.drop_state_machine(text) IS
    'drops a state machine that no table is attached to (administrators)';

-- The C trigger (src/lifecycle/machine.c).  Arguments, set by
-- attach_state_machine: machine, state column, content column ('' none).
-- Executable by PUBLIC: CREATE TRIGGER needs it, and a trigger function
-- cannot be called otherwise.
CREATE FUNCTION taskforce._state_machine_trigger() RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_state_machine_trigger';
COMMENT ON FUNCTION taskforce._state_machine_trigger() IS
    'internal: enforces a state machine on a table''s state column and audits each transition';

-- Records an attachment made by attach_state_machine, once the trigger it
-- created is in place: callable by anyone, because the row cannot be forged
-- without that trigger, and creating it needs the TRIGGER privilege.
-- Checks the existing rows as the owner (row security would hide some).
CREATE FUNCTION taskforce._record_state_machine_attachment(tbl regclass, "column" name, machine text,
                                                            content_column name)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    states text[];
    bad text;
    mark_installed boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                    WHERE t.tgrelid = tbl AND t.tgname = 'taskforce_state_machine'
                      AND t.tgfoid = 'taskforce._state_machine_trigger()'::regprocedure
                      AND t.tgargs = convert_to(machine, 'UTF8') || '\x00'::bytea
                                     || convert_to("column", 'UTF8') || '\x00'::bytea
                                     || convert_to(coalesce(content_column, ''), 'UTF8') || '\x00'::bytea) THEN
        RAISE EXCEPTION 'table "%" has no state machine trigger for machine "%"', tbl, machine
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call taskforce.attach_state_machine().';
    END IF;
    -- The check below reads the rows as the owner: only a table (and
    -- tables under it) with a text state column, so that reading it runs
    -- no code of the caller's (a view's functions, a cast of its own type,
    -- a foreign table's wrapper would run as the owner).
    IF EXISTS (WITH RECURSIVE tree(relid) AS (
                   SELECT tbl::oid
                   UNION
                   SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i JOIN tree ON i.inhparent = tree.relid)
               SELECT FROM tree JOIN pg_catalog.pg_class AS c ON c.oid = tree.relid
                WHERE c.relkind NOT IN ('r', 'p'))
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                       JOIN pg_catalog.pg_type AS ty ON ty.oid = a.atttypid
                      WHERE a.attrelid = tbl AND a.attname = "column" AND a.attnum > 0 AND NOT a.attisdropped
                        AND CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
                            IN ('text'::regtype, 'varchar'::regtype)) THEN
        RAISE EXCEPTION '"%" is not a table with a text column "%"', tbl, "column"
            USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT m.initial_states || m.terminal_states
           || ARRAY(SELECT x FROM taskforce.state_machine_transitions AS st,
                                  LATERAL (VALUES (st.from_state), (st.to_state)) AS v(x)
                     WHERE st.machine = m.machine)
      INTO states
      FROM taskforce.state_machines AS m WHERE m.machine = _record_state_machine_attachment.machine;
    EXECUTE format('SELECT string_agg(DISTINCT coalesce(quote_literal(s), ''null''), '', '') '
                   'FROM (SELECT %I::text AS s FROM %s) AS r WHERE s IS NULL OR s <> ALL ($1) ',
                   "column", tbl)
       INTO bad USING states;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'table "%" has rows whose "%" is not a state of machine "%": %', tbl, "column", machine, bad
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('The states are %s.', (SELECT string_agg(DISTINCT s, ', ') FROM unnest(states) AS s));
    END IF;
    mark_installed := taskforce._state_machine_installing()
                 AND (SELECT n.nspname = 'taskforce' FROM pg_catalog.pg_class AS c
                        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = tbl);
    -- Not audited when the extension makes it (see define_state_machine).
    IF mark_installed THEN
        ALTER TABLE taskforce.state_machine_attachments DISABLE TRIGGER taskforce_audit;
    END IF;
    INSERT INTO taskforce.state_machine_attachments AS a (tbl, column_name, machine, content_column, installed)
    VALUES (tbl, "column", machine, content_column, mark_installed);
    IF mark_installed THEN
        ALTER TABLE taskforce.state_machine_attachments ENABLE TRIGGER taskforce_audit;
    END IF;
END
$$;
COMMENT ON FUNCTION taskforce._record_state_machine_attachment(regclass, name, text, name) IS
    'internal: records an attachment whose trigger attach_state_machine has created';

-- Forgets an attachment once its trigger is gone (callable by anyone, as above).
CREATE FUNCTION taskforce._forget_state_machine_attachment(tbl regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                WHERE t.tgrelid = tbl AND t.tgname = 'taskforce_state_machine') THEN
        RAISE EXCEPTION 'table "%" still has its state machine trigger', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call taskforce.detach_state_machine().';
    END IF;
    DELETE FROM taskforce.state_machine_attachments AS a WHERE a.tbl = _forget_state_machine_attachment.tbl;
END
$$;
COMMENT ON FUNCTION taskforce._forget_state_machine_attachment(regclass) IS
    'internal: forgets an attachment whose trigger detach_state_machine has dropped';

-- Runs as the caller: CREATE TRIGGER needs the TRIGGER privilege on the
-- table (DROP TRIGGER, in detach, its ownership).
CREATE FUNCTION taskforce.attach_state_machine(tbl regclass, "column" name, machine text,
                                               content_column name DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    kind "char";
    col_type oid;
BEGIN
    IF tbl IS NULL OR "column" IS NULL OR machine IS NULL THEN
        RAISE EXCEPTION 'tbl, column and machine must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.state_machines AS m WHERE m.machine = attach_state_machine.machine) THEN
        RAISE EXCEPTION 'state machine "%" does not exist', machine
            USING ERRCODE = 'undefined_object',
                  HINT = 'Define it with taskforce.define_state_machine(); taskforce.state_machines lists them.';
    END IF;
    -- The column's type, or a domain's base type.
    SELECT CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END INTO col_type
      FROM pg_catalog.pg_attribute AS a JOIN pg_catalog.pg_type AS ty ON ty.oid = a.atttypid
     WHERE a.attrelid = tbl AND a.attname = "column" AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" has no column "%"', tbl, "column" USING ERRCODE = 'undefined_column';
    END IF;
    IF col_type NOT IN ('text'::regtype, 'varchar'::regtype) THEN
        RAISE EXCEPTION 'state column "%" of table "%" is of type %, not text', "column", tbl, col_type::regtype
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'A state column is text or varchar.';
    END IF;
    IF content_column IS NOT NULL AND NOT EXISTS (
            SELECT FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid = tbl AND a.attname = content_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'table "%" has no column "%"', tbl, content_column USING ERRCODE = 'undefined_column';
    END IF;
    IF content_column = "column" THEN
        RAISE EXCEPTION 'the content column cannot be the state column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_index AS i WHERE i.indrelid = tbl AND i.indisprimary) THEN
        RAISE EXCEPTION 'table "%" has no primary key', tbl
            USING ERRCODE = 'invalid_column_reference',
                  HINT = 'Transitions name their row by its primary key (audit entries, approval requests).';
    END IF;
    IF EXISTS (SELECT FROM taskforce.state_machine_attachments AS a WHERE a.tbl = attach_state_machine.tbl)
       OR EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                   WHERE t.tgrelid = tbl AND t.tgname = 'taskforce_state_machine') THEN
        RAISE EXCEPTION 'table "%" already has a state machine', tbl
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Detach it first with taskforce.detach_state_machine().';
    END IF;
    EXECUTE format('CREATE TRIGGER taskforce_state_machine BEFORE INSERT OR UPDATE OF %I ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION taskforce._state_machine_trigger(%L, %L, %L)',
                   "column", tbl, machine, "column", coalesce(content_column, ''));
    PERFORM taskforce._record_state_machine_attachment(tbl, "column", machine, content_column);
END
$$;
COMMENT ON FUNCTION taskforce.attach_state_machine(regclass, name, text, name) IS
    'enforces a state machine on a table''s text column with a C trigger (needs the TRIGGER privilege; content_column: what approvals bind to)';

CREATE FUNCTION taskforce.detach_state_machine(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'tbl must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.state_machine_attachments AS a WHERE a.tbl = detach_state_machine.tbl) THEN
        RAISE EXCEPTION 'table "%" has no state machine', tbl USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP TRIGGER taskforce_state_machine ON %s', tbl);
    PERFORM taskforce._forget_state_machine_attachment(tbl);
END
$$;
COMMENT ON FUNCTION taskforce.detach_state_machine(regclass) IS
    'removes a table''s state machine trigger (the table''s owner); transitions are no longer checked';

-- A dropped table, or a trigger dropped directly, leaves no attachment
-- behind (its regclass would dangle, and dump as a bare number).
CREATE FUNCTION taskforce._state_machine_drops() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
                WHERE d.object_type IN ('table', 'trigger')) THEN
        DELETE FROM taskforce.state_machine_attachments AS a
         WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                            WHERE t.tgrelid = a.tbl AND t.tgname = 'taskforce_state_machine');
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._state_machine_drops() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._state_machine_drops() IS
    'internal: event trigger that forgets the attachments of dropped tables and triggers';
CREATE EVENT TRIGGER taskforce_state_machine_drops ON sql_drop
    EXECUTE FUNCTION taskforce._state_machine_drops();
COMMENT ON EVENT TRIGGER taskforce_state_machine_drops IS
    'forgets the state machine attachments of dropped tables and triggers';

CREATE VIEW taskforce.state_machine_tables AS
SELECT a.tbl, a.column_name, a.machine, a.content_column, m.initial_states, m.terminal_states,
       m.description
  FROM taskforce.state_machine_attachments AS a
  JOIN taskforce.state_machines AS m ON m.machine = a.machine;
COMMENT ON VIEW taskforce.state_machine_tables IS
    'tables governed by a state machine: the state column, the machine and its content column';

-- The reason recorded with the transitions of the rest of the transaction.
CREATE FUNCTION taskforce.set_transition_reason(reason text) RETURNS void
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_set_transition_reason';
COMMENT ON FUNCTION taskforce.set_transition_reason(text) IS
    'sets the reason audited with the transitions of the rest of the current transaction (null clears it)';

CREATE FUNCTION taskforce._system_transitions("on" boolean) RETURNS void
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_system_transitions';
REVOKE ALL ON FUNCTION taskforce._system_transitions(boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._system_transitions(boolean) IS
    'internal: turns the transitions'' permission check off (on) for the rest of the current (sub)transaction';

-- Computes the content hash of an existing row, as the trigger does: runs
-- as the caller, so row security decides which rows it may name.
CREATE FUNCTION taskforce.content_hash(tbl regclass, row_key jsonb) RETURNS bytea
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'taskforce_content_hash';
COMMENT ON FUNCTION taskforce.content_hash(regclass, jsonb) IS
    'content hash of a row of a table with a state machine (its content column, else SHA-256 of the row without the state column)';

-- The state of an existing row, found as content_hash finds it: for
-- approvals.sql, whose requests for a row are for a transition out of its
-- state.  Runs as the caller (approvals' SECURITY DEFINER functions).
CREATE FUNCTION taskforce._row_state(tbl regclass, row_key jsonb) RETURNS text
    LANGUAGE C STABLE
    AS 'MODULE_PATHNAME', 'taskforce_row_state';
REVOKE ALL ON FUNCTION taskforce._row_state(regclass, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._row_state(regclass, jsonb) IS
    'internal: the state of a row of a table with a state machine, named by its key as for content_hash';
