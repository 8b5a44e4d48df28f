-- sql/audit.sql: the audit trail's entry table (src/sql/audit.sql) and its
-- canonical encoding (src/audit/encode.c).  The trigger is not there yet:
-- entries here are put directly by the owner with row security off.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE audit_app IN ROLE taskforce_app;
CREATE ROLE audit_auditor IN ROLE taskforce_auditor;

-- F(x) of the spec, in SQL, to check the C encoding independently.
CREATE FUNCTION pg_temp.f(t text) RETURNS bytea LANGUAGE sql AS $$
  SELECT CASE WHEN t IS NULL THEN '\xffffffff'::bytea
         ELSE int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8') END $$;

ALTER TABLE taskforce.audit_log DISABLE ROW LEVEL SECURITY;
SET TimeZone = 'America/New_York';
INSERT INTO taskforce.audit_log (tenant_id, logged_at, txid, entry_seq, statement_id, event_type,
        action, db_role, new_values, roles, salts, leaf_hash)
VALUES ('t1', '2026-01-02 03:04:05.5+00', 7, 1, 0, 'change', 'INSERT', 'x', '{"a": 1}',
        ARRAY['r1'], decode(repeat('11', 16), 'hex'), '\x00'),
       ('t2', '2026-01-02 03:04:05.5+00', 8, 1, 0, 'change', 'INSERT', 'x', NULL,
        NULL, '', '\x00');
ALTER TABLE taskforce.audit_log ENABLE ROW LEVEL SECURITY;

-- The leaf hash is the spec's formula (logged_at in UTC whatever TimeZone).
SELECT taskforce._audit_leaf_hash(a) =
  sha256('\x00'::bytea || pg_temp.f('taskforce.audit.v1') || pg_temp.f('t1')
   || pg_temp.f('2026-01-02T03:04:05.500000Z') || pg_temp.f('7') || pg_temp.f('1') || pg_temp.f('0')
   || pg_temp.f('change') || pg_temp.f(NULL) || pg_temp.f(NULL) || pg_temp.f('INSERT') || pg_temp.f(NULL)
   || int4send(1) || pg_temp.f('r1') || pg_temp.f(NULL) || pg_temp.f('x') || pg_temp.f(NULL) || pg_temp.f(NULL)
   || int4send(1) || pg_temp.f('new') || pg_temp.f('a')
   || sha256(decode(repeat('11', 16), 'hex') || pg_temp.f('new') || pg_temp.f('a') || pg_temp.f('1')))
   AS leaf_matches_spec
  FROM taskforce.audit_log AS a WHERE txid = 7;
SELECT encode(taskforce._audit_leaf_hash(a), 'hex') AS leaf FROM taskforce.audit_log AS a WHERE txid = 7 \gset
-- Erasing the value (commitment into erased, salt zeroed) keeps the leaf.
ALTER TABLE taskforce.audit_log DISABLE TRIGGER ALL;
UPDATE taskforce.audit_log
   SET erased = jsonb_build_object('new', jsonb_build_object('a', encode(sha256(
           decode(repeat('11', 16), 'hex') || pg_temp.f('new') || pg_temp.f('a') || pg_temp.f('1')), 'hex'))),
       new_values = '{}', salts = decode(repeat('00', 16), 'hex')
 WHERE txid = 7;
ALTER TABLE taskforce.audit_log ENABLE TRIGGER ALL;
SELECT encode(taskforce._audit_leaf_hash(a), 'hex') = :'leaf' AS leaf_unchanged_by_erasure
  FROM taskforce.audit_log AS a WHERE txid = 7;
-- A changed value changes the leaf.
ALTER TABLE taskforce.audit_log DISABLE ROW LEVEL SECURITY;
UPDATE taskforce.audit_log SET action = 'DELETE' WHERE txid = 7;
SELECT encode(taskforce._audit_leaf_hash(a), 'hex') <> :'leaf' AS leaf_changed
  FROM taskforce.audit_log AS a WHERE txid = 7;
-- Salts that do not match the values are refused.
\set VERBOSITY terse
SELECT taskforce._audit_leaf_hash(row(a.tenant_id, a.logged_at, a.txid, a.entry_seq, a.statement_id,
    a.event_type, a.object, a.row_key, a.action, a.user_id, a.roles, a.auth_method, a.db_role, a.old_values,
    '{"b": 2}', a.erased, a.client_addr, a.application_name, a.salts, a.leaf_hash)::taskforce.audit_log)
  FROM taskforce.audit_log AS a WHERE txid = 7;
ALTER TABLE taskforce.audit_log ENABLE ROW LEVEL SECURITY;

-- Reading: an application role without a context sees nothing; an auditor
-- sees every tenant; nobody but the owner writes.
SET ROLE audit_app;
RESET client_min_messages;
SELECT count(*) AS app_without_context FROM taskforce.audit_log;
\set VERBOSITY sqlstate
INSERT INTO taskforce.audit_log (logged_at, txid, entry_seq, statement_id, event_type, action, db_role, salts, leaf_hash)
VALUES (now(), 9, 1, 0, 'change', 'INSERT', 'x', '', '');
UPDATE taskforce.audit_log SET action = 'x';
DELETE FROM taskforce.audit_log;
TRUNCATE taskforce.audit_log;
SELECT taskforce._audit_leaf_hash(a) FROM taskforce.audit_log AS a;
\set VERBOSITY default
RESET ROLE;
SET ROLE audit_auditor;
SELECT tenant_id FROM taskforce.audit_log ORDER BY tenant_id;
RESET ROLE;
