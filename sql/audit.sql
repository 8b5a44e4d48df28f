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
SELECT tenant_id FROM taskforce.audit_log WHERE object IS NULL ORDER BY tenant_id;
RESET ROLE;

-- The trigger: an admin (act_as) changes an isolated application table.
RESET TimeZone;
SET client_min_messages = warning;
ALTER TABLE taskforce.audit_log DISABLE ROW LEVEL SECURITY;
DELETE FROM taskforce.audit_log;
ALTER TABLE taskforce.audit_log ENABLE ROW LEVEL SECURITY;
CREATE ROLE audit_writer LOGIN IN ROLE taskforce_admin;
CREATE ROLE audit_reader LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('aud-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('aud-globex', 'Globex');
SELECT user_id FROM taskforce.create_user('ann', 'ann', tenant_id => 'aud-acme');
SELECT user_id FROM taskforce.create_user('gus', 'gus', tenant_id => 'aud-globex');
SELECT role_name FROM taskforce.grant_role('ann', 'admin', tenant_id => 'aud-acme');
SELECT role_name FROM taskforce.grant_role('gus', 'auditor', tenant_id => 'aud-globex');
SELECT user_id FROM taskforce.create_user('vic', 'vic', tenant_id => 'aud-acme');
SELECT role_name FROM taskforce.grant_role('vic', 'viewer', tenant_id => 'aud-acme');
CREATE TABLE public.accounts (id int PRIMARY KEY, tenant_id text NOT NULL DEFAULT taskforce.current_tenant(),
                              owner text, secret text, note text, balance numeric, tags jsonb);
SELECT taskforce.enable_tenant_isolation('public.accounts');
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.accounts TO taskforce_admin, taskforce_app;
CREATE TABLE public.plain (a int, b text);
CREATE VIEW public.accounts_view AS SELECT * FROM public.accounts;
RESET client_min_messages;

-- Bad input.
\set VERBOSITY sqlstate
SELECT taskforce.enable_audit(NULL);
SELECT taskforce.enable_audit('public.accounts', exclude_columns => NULL);
SELECT taskforce.enable_audit('public.accounts', exclude_columns => '{nope}');
SELECT taskforce.enable_audit('public.accounts', redact_columns => ARRAY['owner', NULL]);
SELECT taskforce.enable_audit('public.accounts_view');
SELECT taskforce.enable_audit('taskforce.audit_log');
SELECT taskforce.enable_audit('public.plain');
\set VERBOSITY default
SELECT taskforce.enable_audit('public.accounts', exclude_columns => '{note}');
-- Again: the options are replaced.
SELECT taskforce.enable_audit('public.accounts', exclude_columns => '{note}', redact_columns => '{secret}');
SELECT table_name, exclude_columns, redact_columns, changed_columns_only, event_type, tenant_column
  FROM taskforce.audited_tables WHERE NOT installed;
SELECT count(*) AS audit_triggers FROM pg_trigger WHERE tgrelid = 'public.accounts'::regclass AND tgname LIKE 'taskforce_audit%';

\c - audit_writer
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
INSERT INTO public.accounts (id, owner, secret, note, balance, tags)
VALUES (1, 'ann', 's3cret', 'n1', 10.50, '{"k": [1, 2]}'), (2, 'bob', 's3cret', 'n2', 0, NULL);
UPDATE public.accounts SET balance = 11, note = 'changed' WHERE id = 1;
DELETE FROM public.accounts WHERE id = 2;
COMMIT;
-- A rolled-back transaction and a rolled-back savepoint leave no entry.
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
INSERT INTO public.accounts (id, owner) VALUES (3, 'rolled back');
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
SAVEPOINT s;
INSERT INTO public.accounts (id, owner) VALUES (4, 'savepoint');
ROLLBACK TO SAVEPOINT s;
INSERT INTO public.accounts (id, owner) VALUES (5, 'kept');
COMMIT;
\c - postgres
SET client_min_messages = warning;
SELECT taskforce.enable_audit('public.accounts', changed_columns_only => true);
RESET client_min_messages;
\c - audit_writer
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
UPDATE public.accounts SET owner = 'ann2' WHERE id = 1;
TRUNCATE public.accounts;
COMMIT;
\c - postgres

SET ROLE audit_auditor;
SELECT entry_seq, statement_id, event_type, object, row_key, action, user_id, roles,
       auth_method, db_role, tenant_id,
       regexp_replace(old_values::text, '"hmac-sha256:[0-9a-f]{64}"', '"hmac-sha256:<64 hex>"', 'g') AS old_values,
       regexp_replace(new_values::text, '"hmac-sha256:[0-9a-f]{64}"', '"hmac-sha256:<64 hex>"', 'g') AS new_values,
       erased,
       length(salts) / 16 = (SELECT count(*) FROM jsonb_object_keys(coalesce(old_values, '{}')))
                          + (SELECT count(*) FROM jsonb_object_keys(coalesce(new_values, '{}'))) AS salts_per_value
  FROM taskforce.audit_log WHERE object = 'public.accounts' ORDER BY txid, entry_seq;
SELECT count(DISTINCT txid) AS transactions, count(DISTINCT logged_at) AS start_times,
       bool_and(db_role = 'audit_writer') AS session_user_recorded
  FROM taskforce.audit_log WHERE object = 'public.accounts';
-- Redaction: equal values, equal hashes (ids 1 and 2 share the secret).
SELECT count(DISTINCT new_values->>'secret') AS distinct_redacted,
       bool_and(new_values->>'secret' ~ '^hmac-sha256:[0-9a-f]{64}$') AS redacted_form
  FROM taskforce.audit_log WHERE action = 'INSERT' AND row_key IN ('{"id": 1}', '{"id": 2}');
RESET ROLE;
SELECT bool_and(taskforce._audit_leaf_hash(a) = a.leaf_hash) AS every_leaf_matches,
       count(*) FILTER (WHERE object = 'public.accounts') AS accounts_entries
  FROM taskforce.audit_log AS a;

-- An application context with audit:read sees its tenant's entries only.
\c - audit_reader
BEGIN;
SELECT count(*) AS without_context FROM taskforce.audit_log;
COMMIT;
\c - audit_writer
BEGIN;
SELECT taskforce.act_as('aud-globex', 'gus');
INSERT INTO public.accounts (id, owner) VALUES (10, 'gus');
SELECT DISTINCT tenant_id FROM taskforce.audit_log;
COMMIT;
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
SELECT DISTINCT tenant_id FROM taskforce.audit_log;
COMMIT;
-- Without audit:read (viewer): nothing.
BEGIN;
SELECT taskforce.act_as('aud-acme', 'vic');
SELECT count(*) AS viewer_sees FROM taskforce.audit_log;
COMMIT;
\c - postgres
-- Only the admin purpose may enable auditing.
SET ROLE audit_reader;
\set VERBOSITY sqlstate
SELECT taskforce.enable_audit('public.accounts');
\set VERBOSITY default
RESET ROLE;
SELECT taskforce.disable_audit('public.accounts') AS was_audited, taskforce.disable_audit('public.accounts') AS again;

-- taskforce's own tables are audited from install on, secrets left out.
SELECT table_name, exclude_columns, changed_columns_only, event_type, tenant_column
  FROM taskforce.audited_tables WHERE installed ORDER BY table_name::text;
\set VERBOSITY sqlstate
SELECT taskforce.enable_audit('taskforce.users');
SELECT taskforce.disable_audit('taskforce.users');
\set VERBOSITY default
SELECT object, action, tenant_id, user_id, db_role, new_values->>'role_name' AS role_name
  FROM taskforce.audit_log WHERE object = 'taskforce.role_grants' ORDER BY txid, entry_seq;
\c - audit_writer
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
SELECT user_id FROM taskforce.create_user('wes', 'wes', tenant_id => 'aud-acme');
SELECT count(*) FROM taskforce.set_password('wes', 'Correct-Horse-9-battery', tenant_id => 'aud-acme');
COMMIT;
\c - postgres
SELECT object, action, user_id, auth_method, new_values ? 'password_hash' AS has_hash
  FROM taskforce.audit_log WHERE object IN ('taskforce.users', 'taskforce.user_credentials')
   AND row_key LIKE '%wes%' ORDER BY txid, entry_seq;
SELECT bool_and(taskforce._audit_leaf_hash(a) = a.leaf_hash) AS every_leaf_matches
  FROM taskforce.audit_log AS a;

-- Temporal queries, under the caller's row security.
SELECT taskforce.enable_audit('public.accounts');
\c - audit_writer
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
INSERT INTO public.accounts (id, owner, balance) VALUES (20, 'h1', 1);
UPDATE public.accounts SET balance = 2 WHERE id = 20;
COMMIT;
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
UPDATE public.accounts SET balance = 3 WHERE id = 20;
SELECT action, old_values->>'balance' AS old_balance, new_values->>'balance' AS new_balance
  FROM taskforce.audit_row_history('public.accounts', '{"id": 20}');
SELECT count(*) AS changes_by_ann FROM taskforce.audit_changes(now() - interval '1 hour', now() + interval '1 hour', 'ann', 'public.accounts');
SELECT count(*) AS changes_by_nobody FROM taskforce.audit_changes(now() - interval '1 hour', now() + interval '1 hour', 'nobody');
COMMIT;
-- Another tenant's context sees none of it.
BEGIN;
SELECT taskforce.act_as('aud-globex', 'gus');
SELECT count(*) AS other_tenant FROM taskforce.audit_row_history('public.accounts', '{"id": 20}');
\set VERBOSITY sqlstate
SELECT count(*) FROM taskforce.audit_changes(NULL, now());
\set VERBOSITY default
ROLLBACK;
\c - postgres
-- The history lookup uses the history index (of every partition).
CREATE FUNCTION pg_temp.plan_uses_history() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line text;
    found boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) SELECT * FROM taskforce.audit_log '
                        'WHERE object = ''public.accounts'' AND row_key = ''{"id": 20}''' LOOP
        IF line LIKE '%Seq Scan%' THEN RETURN false; END IF;
        found := found OR line LIKE '%\_history%';
    END LOOP;
    RETURN found;
END $$;
SET enable_seqscan = off;
SELECT pg_temp.plan_uses_history();
RESET enable_seqscan;

-- Erasure: the values leave every entry of the row, their commitments stay
-- (leaf hashes unchanged), their salts are zeroed; an erasure entry says so.
SELECT encode(leaf_hash, 'hex') AS leaf_before FROM taskforce.audit_log
 WHERE object = 'public.accounts' AND row_key = '{"id": 20}' ORDER BY txid, entry_seq LIMIT 1 \gset
SET ROLE audit_reader;
\set VERBOSITY sqlstate
SELECT taskforce.erase_audit_values('public.accounts', '{"id": 20}', '{owner}', 'gdpr request');
\set VERBOSITY default
RESET ROLE;
\c - audit_writer
\set VERBOSITY sqlstate
SELECT taskforce.erase_audit_values('public.accounts', '{"id": 20}', '{}', 'gdpr request');
SELECT taskforce.erase_audit_values('public.accounts', '{"id": 20}', '{owner}', NULL);
\set VERBOSITY default
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']);
SELECT taskforce.erase_audit_values('public.accounts', '{"id": 20}', '{owner,balance}', 'gdpr request') AS erased_values;
COMMIT;
\c - postgres
SELECT action, old_values, new_values,
       (SELECT array_agg(s || '.' || k ORDER BY s, k) FROM jsonb_object_keys(erased) AS s,
               LATERAL jsonb_object_keys(erased->s) AS k) AS erased_columns,
       taskforce._audit_leaf_hash(a) = leaf_hash AS leaf_matches
  FROM taskforce.audit_log AS a WHERE object = 'public.accounts' AND row_key = '{"id": 20}'
   AND event_type = 'change' ORDER BY txid, entry_seq;
SELECT encode(leaf_hash, 'hex') = :'leaf_before' AS first_leaf_unchanged FROM taskforce.audit_log
 WHERE object = 'public.accounts' AND row_key = '{"id": 20}' ORDER BY txid, entry_seq LIMIT 1;
-- The zeroed salts: one per erased value.
SELECT sum((SELECT count(*) FROM generate_series(0, length(salts) / 16 - 1) AS i
             WHERE substring(salts FROM i * 16 + 1 FOR 16) = '\x00000000000000000000000000000000'::bytea))
       AS zeroed_salts
  FROM taskforce.audit_log WHERE object = 'public.accounts' AND row_key = '{"id": 20}' AND event_type = 'change';
SELECT event_type, action, object, row_key, user_id, tenant_id, new_values,
       taskforce._audit_leaf_hash(a) = leaf_hash AS leaf_matches
  FROM taskforce.audit_log AS a WHERE event_type = 'erasure';

-- Row images equal to_jsonb(row) for every kind of column, including a
-- dropped column, a domain and values to_jsonb writes specially (NaN,
-- infinity, nested json, arrays, composites, char(n) padding).
CREATE DOMAIN audit_short_text AS text CHECK (length(VALUE) < 100);
CREATE TYPE audit_pair AS (a integer, b text);
CREATE TABLE public.image_types (
    id bigint PRIMARY KEY, gone integer, s2 smallint, i4 integer, t text, vc varchar(10),
    ch char(4), nm name, b boolean, n numeric, f8 double precision, f4 real,
    d date, ts timestamp, tstz timestamptz, iv interval, j json, jb jsonb,
    arr integer[], tarr text[], pair audit_pair, dom audit_short_text, u uuid, by bytea, ip inet);
ALTER TABLE public.image_types DROP COLUMN gone;
SELECT taskforce.enable_audit('public.image_types');
SET TIME ZONE 'UTC';
INSERT INTO public.image_types VALUES
    (1, -32768, 2147483647, 'a "quoted" \ text', 'vc', 'ab', 'nm', true, 'NaN', 'Infinity', '-0',
     '2024-02-29', '2024-01-01 12:00:00.5', '2024-01-01 12:00:00+02', '1 day 2 hours',
     '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": [1, 2]}', '{1,NULL,3}', '{"x","y z"}',
     ROW(1, 'p'), 'dom', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff', '10.0.0.1/8'),
    (2, 0, 0, '', NULL, NULL, NULL, false, 1.50, 1e300, 1.5, 'infinity', '-infinity', 'infinity',
     NULL, 'null', '"s"', '{}', NULL, NULL, NULL, NULL, NULL, NULL),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     '[]', '[]', NULL, NULL, ROW(NULL, NULL), NULL, NULL, NULL, NULL);
UPDATE public.image_types SET n = n * 2, jb = jb || '{"c": true}' WHERE id = 1;
SELECT e.action, e.row_key, coalesce(e.new_values, e.old_values)::text = to_jsonb(r)::text AS image_equals_to_jsonb
  FROM taskforce.audit_log AS e JOIN public.image_types AS r ON e.row_key = jsonb_build_object('id', r.id)::text
 WHERE e.object = 'public.image_types' AND e.action IN ('INSERT', 'UPDATE')
   AND (e.action = 'UPDATE' OR r.id <> 1)
 ORDER BY e.txid, e.entry_seq;
RESET TIME ZONE;

-- The erasure switch lives in the subtransaction that turned it on: an
-- erasure that fails inside a savepoint leaves it off for the caller
-- (it would otherwise widen the caller's reads to every tenant's entries).
BEGIN;
SAVEPOINT before_erasure;
SELECT taskforce._audit_set_erasing(true);
SELECT taskforce._audit_erasing() AS switch_in_its_subtransaction;
SAVEPOINT nested;
SELECT taskforce._audit_erasing() AS switch_in_a_nested_subtransaction;
ROLLBACK TO SAVEPOINT before_erasure;
SELECT taskforce._audit_erasing() AS switch_after_rollback_to_savepoint;
COMMIT;

-- An erasure under a tenant's context reaches that tenant's entries only
-- (the same row key was used by another tenant before).
\c - audit_writer
BEGIN;
SELECT taskforce.act_as('aud-globex', 'gus') \g /dev/null
INSERT INTO public.accounts (id, owner) VALUES (30, 'globex owner');
DELETE FROM public.accounts WHERE id = 30;
COMMIT;
BEGIN;
SELECT taskforce.act_as('aud-acme', 'ann', ARRAY['admin']) \g /dev/null
INSERT INTO public.accounts (id, owner) VALUES (30, 'acme owner');
SELECT taskforce.erase_audit_values('public.accounts', '{"id": 30}', '{owner}', 'acme request') AS erased_in_acme;
COMMIT;
\c - postgres
SELECT tenant_id, action, coalesce(new_values, old_values)->>'owner' AS owner, erased IS NOT NULL AS erased
  FROM taskforce.audit_log WHERE object = 'public.accounts' AND row_key = '{"id": 30}' AND event_type = 'change'
 ORDER BY txid, entry_seq;

-- Event types the verifiers trust as taskforce's own are refused to audited tables.
\set VERBOSITY sqlstate
SELECT taskforce.enable_audit('public.image_types', event_type => 'purge');
SELECT taskforce.enable_audit('public.image_types', event_type => 'erasure');
\set VERBOSITY default
-- An event without an object is written with a NULL object.
SELECT taskforce._audit_write_event('note', NULL, NULL, 'NOTE', 'aud-acme', '{"k": 1}');
SELECT event_type, object, action, tenant_id FROM taskforce.audit_log WHERE event_type = 'note';
