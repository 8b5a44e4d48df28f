-- state_machines: the engine (issue 11, LIFE_SPEC section 1) as an
-- application uses it: an administrator (sm_admin) defines a machine; the
-- owner of a tenant table attaches it; requests run as the application
-- role sm_app in a context set with act_as.  Inserts must start in an
-- initial state; updates must be allowed transitions (hints list the next
-- states), hold the transition's permission and, where the tenant has a
-- workflow, an approved request for the row's content; every transition is
-- an audit entry with its reason.  Then: a table without tenant_id, system
-- transitions, attach and detach rules, and a changed machine.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS sm_app, sm_admin;
CREATE ROLE sm_app LOGIN IN ROLE taskforce_app;
CREATE ROLE sm_admin LOGIN IN ROLE taskforce_admin;
GRANT sm_app TO sm_admin;
SELECT count(*) FROM taskforce.create_tenant('sm-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('sm-globex', 'Globex');
SELECT FROM taskforce.register_permission('ticket:close', 'close support tickets');
SELECT count(*) FROM taskforce.create_role('closer', ARRAY['ticket:close'], tenant_id => 'sm-acme');
SELECT count(*) FROM unnest(ARRAY['ana', 'ben']) AS u, taskforce.create_user(u, u, tenant_id => 'sm-acme') AS c;
SELECT count(*) FROM taskforce.create_user('gil', 'gil', tenant_id => 'sm-globex');
SELECT count(*) FROM taskforce.grant_role('ana', 'closer', tenant_id => 'sm-acme');
-- A tenant table of the application, written by the application role.
CREATE TABLE public.sm_tickets (
    tenant_id text NOT NULL DEFAULT taskforce.current_tenant(),
    id        integer NOT NULL,
    title     text NOT NULL,
    body      text NOT NULL DEFAULT '',
    status    text NOT NULL DEFAULT 'open',
    PRIMARY KEY (tenant_id, id));
SELECT FROM taskforce.enable_tenant_isolation('public.sm_tickets');
GRANT SELECT, INSERT, UPDATE ON public.sm_tickets TO sm_app;
RESET client_min_messages;

-- 1. Definitions are for administrators: the application role may not.
\c - sm_app
SELECT taskforce.define_state_machine('ticket', '{open}', '{closed}', '[]');
SELECT count(*) AS user_machines_visible_to_app FROM taskforce.state_machines WHERE NOT installed;
\c - sm_admin
-- Bad definitions: each refused with its SQLSTATE, nothing written.
\set VERBOSITY sqlstate
SELECT taskforce.define_state_machine('bad name', '{open}', '{}', '[]');
SELECT taskforce.define_state_machine('m', '{}', '{}', '[]');
SELECT taskforce.define_state_machine('m', '{Open}', '{}', '[]');
SELECT taskforce.define_state_machine('m', '{open}', '{}', '{"from": "open"}');
SELECT taskforce.define_state_machine('m', '{open}', '{done}', '[{"from": "done", "to": "open"}]');
SELECT taskforce.define_state_machine('m', '{open}', '{}', '[{"from": "open", "to": "open"}]');
SELECT taskforce.define_state_machine('m', '{open}', '{}', '[{"from": "open", "to": "done", "permission": "ticket:fly"}]');
SELECT taskforce.define_state_machine('m', '{open}', '{}', '[{"from": "open", "to": "done", "approval": "launch"}]');
SELECT taskforce.define_state_machine('m', '{open}', '{}', '[{"from": "open", "to": "done", "when": "now"}]');
SELECT taskforce.define_state_machine('m', '{open}', '{}', '[{"from": "open", "to": "done"}, {"from": "open", "to": "done"}]');
SELECT taskforce.define_state_machine('m', '{open}', '{}', NULL);
\set VERBOSITY default
SELECT taskforce.define_state_machine('m', '{open}', '{done}', '[{"from": "open", "to": "done", "permission": "ticket:fly"}]');
SELECT taskforce.define_state_machine('m', '{open}', '{done}', '[{"from": "open", "to": "done"}, {"from": "open", "to": "done"}]');
SELECT count(*) AS nothing_written FROM taskforce.state_machines WHERE machine = 'm';
-- The ticket machine: closing needs ticket:close; shipping needs an
-- approved custom:ship request where the tenant has that workflow.
SELECT taskforce.define_state_machine('ticket', '{open}', '{closed,shipped}', '[
    {"from": "open", "to": "in_progress"},
    {"from": "in_progress", "to": "open"},
    {"from": "in_progress", "to": "resolved"},
    {"from": "resolved", "to": "in_progress"},
    {"from": "resolved", "to": "closed", "permission": "ticket:close"},
    {"from": "resolved", "to": "shipped", "approval": "custom:ship"}]', 'support tickets');
SELECT taskforce.define_state_machine('ticket', '{open}', '{}', '[]');
SELECT machine, description, initial_states, terminal_states FROM taskforce.state_machines WHERE machine = 'ticket';
SELECT from_state, to_state, required_permission, approval_type
  FROM taskforce.state_machine_transitions WHERE machine = 'ticket' ORDER BY 1, 2;

-- 2. Attaching needs the TRIGGER privilege on the table (CREATE TRIGGER's
-- rule); errors for what cannot be governed.
\c - sm_app
SELECT taskforce.attach_state_machine('public.sm_tickets', 'status', 'ticket');
\c - postgres
CREATE TABLE public.sm_nopk (id integer, status text);
CREATE TABLE public.sm_intstate (id integer PRIMARY KEY, status integer);
CREATE VIEW public.sm_view AS SELECT * FROM public.sm_tickets;
SELECT taskforce.attach_state_machine('public.sm_nopk', 'status', 'ticket');
SELECT taskforce.attach_state_machine('public.sm_intstate', 'status', 'ticket');
SELECT taskforce.attach_state_machine('public.sm_tickets', 'status', 'no_such_machine');
SELECT taskforce.attach_state_machine('public.sm_tickets', 'state', 'ticket');
SELECT taskforce.attach_state_machine('public.sm_tickets', 'status', 'ticket', content_column => 'checksum');
SELECT taskforce.attach_state_machine('public.sm_view', 'status', 'ticket');
-- Existing rows must be in states of the machine.
INSERT INTO public.sm_tickets (tenant_id, id, title, status) VALUES ('sm-acme', 99, 'legacy', 'triage');
SELECT taskforce.attach_state_machine('public.sm_tickets', 'status', 'ticket', content_column => 'body');
DELETE FROM public.sm_tickets;
SELECT taskforce.attach_state_machine('public.sm_tickets', 'status', 'ticket', content_column => 'body');
SELECT taskforce.attach_state_machine('public.sm_tickets', 'status', 'ticket');
SELECT tbl, column_name, machine, content_column, initial_states, terminal_states, description
  FROM taskforce.state_machine_tables WHERE tbl::text LIKE 'sm\_%' ORDER BY tbl::text;
-- taskforce's own machines are marked installed (pg_dump leaves them out).
SELECT count(*) FILTER (WHERE NOT (a.installed AND m.installed)) AS own_not_marked
  FROM taskforce.state_machine_attachments AS a JOIN taskforce.state_machines AS m ON m.machine = a.machine
 WHERE a.tbl::text LIKE 'taskforce.%';

-- 3. Inserts start in an initial state.
\c - sm_admin
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
INSERT INTO public.sm_tickets (id, title, status) VALUES (1, 'printer', 'resolved');
ROLLBACK;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
INSERT INTO public.sm_tickets (id, title, status) VALUES (1, 'printer', NULL);
ROLLBACK;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
INSERT INTO public.sm_tickets (id, title, body) VALUES (1, 'printer', 'it jams'), (2, 'mouse', 'it squeaks');
SELECT id, status FROM public.sm_tickets ORDER BY id;
COMMIT;

-- Loading rows is not creating them: a superuser's COPY, or an INSERT with
-- row_security off (pg_dump's output, which restores taskforce's own
-- tables after their trigger exists), takes rows in any state and records
-- no transition.  (The application role may not COPY into a table under
-- row security at all; into other tables its COPY is checked, see 9.)
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
COPY public.sm_tickets (id, title, status) FROM stdin;
50	restored	resolved
\.
ROLLBACK;
\c - postgres
COPY public.sm_tickets (tenant_id, id, title, status) FROM stdin;
sm-acme	50	restored	resolved
\.
SET row_security = off;
INSERT INTO public.sm_tickets (tenant_id, id, title, status) VALUES ('sm-acme', 51, 'restored', 'closed');
RESET row_security;
INSERT INTO public.sm_tickets (tenant_id, id, title, status) VALUES ('sm-acme', 52, 'typed', 'closed');
SELECT id, status FROM public.sm_tickets WHERE id >= 50 ORDER BY id;
DELETE FROM public.sm_tickets WHERE id >= 50;
\c - sm_admin

-- 4. Illegal transitions, with the allowed next states as a hint.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'resolved' WHERE id = 1;
ROLLBACK;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'bogus' WHERE id = 1;
ROLLBACK;
-- Legal steps, one with a reason for this transaction.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
SELECT taskforce.set_transition_reason('customer called back');
UPDATE public.sm_tickets SET status = 'in_progress' WHERE id = 1;
UPDATE public.sm_tickets SET status = 'resolved' WHERE id = 1;
COMMIT;
-- The reason does not reach the next transaction.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'in_progress' WHERE id = 2;
COMMIT;
-- A reason set in a rolled-back savepoint is taken back.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
SAVEPOINT s;
SELECT taskforce.set_transition_reason('abandoned');
ROLLBACK TO SAVEPOINT s;
UPDATE public.sm_tickets SET status = 'open' WHERE id = 2;
COMMIT;

-- 5. Permission: ben may not close; ana (closer) may.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'closed' WHERE id = 1;
ROLLBACK;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ana');
SET LOCAL ROLE sm_app;
SELECT taskforce.set_transition_reason('fixed by replacing the roller');
UPDATE public.sm_tickets SET status = 'closed' WHERE id = 1;
COMMIT;
-- A terminal state: no way out, but other columns may still change
-- (the state is unchanged: no check, no entry).
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ana');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'open' WHERE id = 1;
ROLLBACK;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ana');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET title = 'printer (2nd floor)', status = 'closed' WHERE id = 1;
SELECT id, title, status FROM public.sm_tickets ORDER BY id;
COMMIT;

-- 6. System transitions: only the extension owner's functions may turn the
-- permission check off; the application role may not call the switch.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
SELECT taskforce._system_transitions(true);
ROLLBACK;
\c - postgres
CREATE FUNCTION public.sm_close_as_system(ticket integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM taskforce._system_transitions(true);
    UPDATE public.sm_tickets SET status = 'closed' WHERE id = ticket;
END
$$;
REVOKE ALL ON FUNCTION public.sm_close_as_system(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.sm_close_as_system(integer) TO sm_app;
\c - sm_admin
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'in_progress' WHERE id = 2;
UPDATE public.sm_tickets SET status = 'resolved' WHERE id = 2;
SELECT public.sm_close_as_system(2);
SELECT id, status FROM public.sm_tickets WHERE id = 2;
ROLLBACK;
-- The switch ends with its transaction, and with a rolled-back savepoint.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'in_progress' WHERE id = 2;
UPDATE public.sm_tickets SET status = 'resolved' WHERE id = 2;
UPDATE public.sm_tickets SET status = 'closed' WHERE id = 2;
ROLLBACK;
\c - postgres
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SAVEPOINT s;
SELECT taskforce._system_transitions(true);
ROLLBACK TO SAVEPOINT s;
UPDATE public.sm_tickets SET status = 'in_progress' WHERE id = 2;
UPDATE public.sm_tickets SET status = 'resolved' WHERE id = 2;
UPDATE public.sm_tickets SET status = 'closed' WHERE id = 2;
ROLLBACK;

-- 7. Approval: the engine asks approvals.sql's _workflow_exists and
-- _approval_satisfied by name.  Stand-ins for this test only (saved and
-- restored when approvals.sql has defined the real ones): acme has a
-- custom:ship workflow; a request is approved when sm_approved holds its
-- resource and content hash.
CREATE TABLE public.sm_approved (tenant text, request_type text, resource_type text, resource_id text,
                                 content_hash bytea);
CREATE TABLE public.sm_asked (resource_type text, resource_id text, content_hash bytea);
GRANT SELECT ON public.sm_approved TO sm_app;
GRANT INSERT ON public.sm_asked TO sm_app;
DO $$
BEGIN
    IF to_regprocedure('taskforce._workflow_exists(text, text)') IS NOT NULL THEN
        ALTER FUNCTION taskforce._workflow_exists(text, text) RENAME TO _workflow_exists_saved;
    END IF;
    IF to_regprocedure('taskforce._approval_satisfied(text, text, text, text, bytea)') IS NOT NULL THEN
        ALTER FUNCTION taskforce._approval_satisfied(text, text, text, text, bytea) RENAME TO _approval_satisfied_saved;
    END IF;
END
$$;
CREATE FUNCTION taskforce._workflow_exists(tenant text, request_type text) RETURNS boolean
    LANGUAGE sql AS $$ SELECT tenant = 'sm-acme' AND request_type = 'custom:ship' $$;
CREATE FUNCTION taskforce._approval_satisfied(tenant text, request_type text, resource_type text,
                                              resource_id text, content_hash bytea) RETURNS boolean
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.sm_asked VALUES (resource_type, resource_id, content_hash);
    RETURN EXISTS (SELECT FROM public.sm_approved AS a
                    WHERE (a.tenant, a.request_type, a.resource_type, a.resource_id, a.content_hash)
                          = (_approval_satisfied.tenant, _approval_satisfied.request_type,
                             _approval_satisfied.resource_type, _approval_satisfied.resource_id,
                             _approval_satisfied.content_hash));
END
$$;
\c - sm_admin
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'in_progress' WHERE id = 2;
UPDATE public.sm_tickets SET status = 'resolved' WHERE id = 2;
SELECT taskforce.content_hash('public.sm_tickets', '{"id": 2}') = sha256('it squeaks') AS hash_of_body;
COMMIT;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'shipped' WHERE id = 2;
ROLLBACK;
\c - postgres
INSERT INTO public.sm_approved VALUES ('sm-acme', 'custom:ship', 'public.sm_tickets', '{"id": 2}', sha256('it squeaks'));
\c - sm_admin
-- The approval binds the content: changed, it no longer counts.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET body = 'it squeaks loudly', status = 'shipped' WHERE id = 2;
ROLLBACK;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
UPDATE public.sm_tickets SET status = 'shipped' WHERE id = 2;
SELECT id, status FROM public.sm_tickets WHERE id = 2;
COMMIT;
-- What the engine asked: the table, the row key without tenant_id, the hash.
\c - postgres
SELECT resource_type, resource_id, content_hash = sha256('it squeaks') AS hash_of_body FROM public.sm_asked;
\c - sm_admin
-- A tenant without the workflow: the transition needs no request.
BEGIN;
SELECT FROM taskforce.act_as('sm-globex', 'gil');
SET LOCAL ROLE sm_app;
INSERT INTO public.sm_tickets (id, title) VALUES (1, 'globex desk');
UPDATE public.sm_tickets SET status = 'in_progress' WHERE id = 1;
UPDATE public.sm_tickets SET status = 'resolved' WHERE id = 1;
UPDATE public.sm_tickets SET status = 'shipped' WHERE id = 1;
COMMIT;
-- content_hash: errors for what does not name one visible row.
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
SELECT taskforce.content_hash('public.sm_tickets', '{"id": 7}');
ROLLBACK;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ben');
SET LOCAL ROLE sm_app;
SELECT taskforce.content_hash('public.sm_tickets', '{"title": "mouse"}');
ROLLBACK;
\c - postgres
SELECT taskforce.content_hash('public.sm_tickets', '{"id": 1}');
SELECT taskforce.content_hash('public.sm_tickets', '{"id": 1, "tenant_id": "sm-globex"}') = sha256('') AS globex_hash;
SELECT taskforce.content_hash('public.sm_intstate', '{"id": 1}');
DROP FUNCTION taskforce._workflow_exists(text, text);
DROP FUNCTION taskforce._approval_satisfied(text, text, text, text, bytea);
DO $$
BEGIN
    IF to_regprocedure('taskforce._workflow_exists_saved(text, text)') IS NOT NULL THEN
        ALTER FUNCTION taskforce._workflow_exists_saved(text, text) RENAME TO _workflow_exists;
    END IF;
    IF to_regprocedure('taskforce._approval_satisfied_saved(text, text, text, text, bytea)') IS NOT NULL THEN
        ALTER FUNCTION taskforce._approval_satisfied_saved(text, text, text, text, bytea) RENAME TO _approval_satisfied;
    END IF;
END
$$;

-- 8. The audit trail: one entry per transition (inserts as 'create'), who
-- made it and why; none for updates that kept the state.
SELECT tenant_id, action, row_key, user_id, new_values->>'from' AS "from", new_values->>'to' AS "to",
       new_values->>'reason' AS reason, new_values->>'machine' AS machine, new_values->>'column' AS "column"
  FROM taskforce.audit_log
 WHERE event_type = 'transition' AND object = 'public.sm_tickets'
 ORDER BY txid, entry_seq;

-- 9. A table without tenant_id; without a context only an administrator
-- passes a transition's permission.
CREATE TABLE public.sm_docs (id integer PRIMARY KEY, state text NOT NULL);
GRANT SELECT, INSERT, UPDATE ON public.sm_docs TO sm_app;
SELECT taskforce.define_state_machine('doc', '{draft}', '{}',
    '[{"from": "draft", "to": "final", "permission": "ticket:close"}, {"from": "final", "to": "draft"}]');
SELECT taskforce.attach_state_machine('public.sm_docs', 'state', 'doc');
\c - sm_app
COPY public.sm_docs FROM stdin;
1	final
\.
INSERT INTO public.sm_docs VALUES (1, 'draft');
UPDATE public.sm_docs SET state = 'final' WHERE id = 1;
\c - sm_admin
UPDATE public.sm_docs SET state = 'final' WHERE id = 1;
BEGIN;
SELECT FROM taskforce.act_as('sm-acme', 'ana');
SET LOCAL ROLE sm_app;
UPDATE public.sm_docs SET state = 'draft' WHERE id = 1;
UPDATE public.sm_docs SET state = 'final' WHERE id = 1;
COMMIT;
\c - postgres
-- Without a content column, the content hash is config_hash of the row
-- without its state.
SELECT taskforce.content_hash('public.sm_docs', '{"id": 1}') = taskforce.config_hash(to_jsonb(d) - 'state')
       AS hash_of_row_without_state
  FROM public.sm_docs AS d WHERE d.id = 1;
SELECT tenant_id, action, row_key, user_id, db_role, new_values->>'from' AS "from", new_values->>'to' AS "to"
  FROM taskforce.audit_log
 WHERE event_type = 'transition' AND object = 'public.sm_docs'
 ORDER BY txid, entry_seq;

-- 10. Detach and drop: a machine in use cannot be dropped; detaching
-- needs the table's ownership; a changed machine applies from the next
-- transaction; dropping a table forgets its attachment.
\c - sm_admin
SELECT taskforce.drop_state_machine('doc');
SELECT taskforce.detach_state_machine('public.sm_docs');
SELECT taskforce.drop_state_machine('no_such_machine');
\c - postgres
SELECT taskforce.detach_state_machine('public.sm_docs');
SELECT taskforce.detach_state_machine('public.sm_docs');
\c - sm_app
SELECT taskforce.drop_state_machine('doc');
\c - sm_admin
SELECT taskforce.drop_state_machine('doc');
SELECT taskforce.define_state_machine('doc', '{draft}', '{}', '[{"from": "final", "to": "archived"}]');
\c - postgres
SELECT taskforce.attach_state_machine('public.sm_docs', 'state', 'doc');
UPDATE public.sm_docs SET state = 'draft' WHERE id = 1;
UPDATE public.sm_docs SET state = 'archived' WHERE id = 1;
DROP TABLE public.sm_docs;
SELECT tbl FROM taskforce.state_machine_attachments WHERE NOT installed ORDER BY tbl::text;
SELECT taskforce.drop_state_machine('doc');
-- The definitions are audited too.
SELECT action, new_values->>'machine' AS machine, old_values->>'machine' AS dropped
  FROM taskforce.audit_log
 WHERE object = 'taskforce.state_machines' AND coalesce(new_values, old_values)->>'machine' = 'doc'
 ORDER BY txid, entry_seq;

-- A partitioned table: the trigger reaches every partition; transitions
-- name the table attached to, not the partition.
CREATE TABLE public.sm_parts (id integer, region text, status text NOT NULL, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE public.sm_parts_eu PARTITION OF public.sm_parts FOR VALUES IN ('eu');
CREATE TABLE public.sm_parts_us PARTITION OF public.sm_parts FOR VALUES IN ('us');
SELECT taskforce.attach_state_machine('public.sm_parts', 'status', 'ticket');
INSERT INTO public.sm_parts VALUES (1, 'eu', 'open'), (2, 'us', 'open');
INSERT INTO public.sm_parts VALUES (3, 'us', 'closed');
UPDATE public.sm_parts SET status = 'in_progress';
UPDATE public.sm_parts SET status = 'closed' WHERE region = 'eu';
SELECT object, row_key, new_values->>'from' AS "from", new_values->>'to' AS "to"
  FROM taskforce.audit_log WHERE event_type = 'transition' AND object LIKE 'public.sm\_parts%'
 ORDER BY txid, entry_seq;
SELECT encode(taskforce.content_hash('public.sm_parts', '{"id": 2, "region": "us"}'), 'hex')
     = encode(taskforce.config_hash('{"id": 2, "region": "us"}'), 'hex') AS partition_row_hash;

-- 11. Code of the caller never runs as the extension's owner.  An
-- application role without any schema of its own makes temporary objects:
-- a table whose primary key is a domain with a CHECK function, attached
-- and then requested for (the content hash of a request is computed as
-- the owner), and a view with a forged trigger handed to
-- _record_state_machine_attachment (whose check of the existing rows runs
-- as the owner).
-- Either would run pg_temp.sm_evil() as a superuser.
CREATE FUNCTION public.sm_escalated() RETURNS boolean LANGUAGE sql
    AS $$ SELECT rolsuper FROM pg_roles WHERE rolname = 'sm_app' $$;
SELECT taskforce.define_state_machine('sm_gate', '{open}', '{closed}',
    '[{"from": "open", "to": "closed", "approval": "custom:sm_gate"}]');
SELECT count(*) FROM taskforce.create_workflow('sm-gate', 'gate', 'custom:sm_gate', 1, ARRAY['closer'],
                                               tenant_id => 'sm-acme');
\c - sm_admin
SELECT FROM taskforce.act_as('sm-acme', 'ana', scope => 'session');
SET ROLE sm_app;
CREATE FUNCTION pg_temp.sm_evil(text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE sm_app SUPERUSER';
    END IF;
    RETURN true;
END
$$;
CREATE DOMAIN pg_temp.sm_evil_key AS text CHECK (pg_temp.sm_evil(VALUE));
CREATE TEMP TABLE sm_keyed (tenant_id text NOT NULL DEFAULT 'sm-acme', id pg_temp.sm_evil_key,
                            state text NOT NULL DEFAULT 'open', PRIMARY KEY (tenant_id, id));
SELECT taskforce.attach_state_machine('pg_temp.sm_keyed', 'state', 'sm_gate');
INSERT INTO sm_keyed (id) VALUES ('k');
SELECT taskforce.request_approval('custom:sm_gate', taskforce._audit_object('pg_temp.sm_keyed'), '{"id": "k"}',
                                  'close k', content_hash => taskforce.content_hash('pg_temp.sm_keyed', '{"id": "k"}'))
       IS NOT NULL AS requested;
SELECT public.sm_escalated() AS escalated_by_domain_key;
SELECT taskforce.detach_state_machine('pg_temp.sm_keyed');
CREATE TEMP VIEW sm_forged AS SELECT 1 AS id, CASE WHEN pg_temp.sm_evil('x') THEN 'open' END AS state;
CREATE TRIGGER taskforce_state_machine INSTEAD OF INSERT ON sm_forged
    FOR EACH ROW EXECUTE FUNCTION taskforce._state_machine_trigger('sm_gate', 'state', '');
SELECT taskforce._record_state_machine_attachment('pg_temp.sm_forged', 'state', 'sm_gate', NULL);
SELECT public.sm_escalated() AS escalated_by_forged_attachment;
-- A key of an enum type of the caller's: its owner may make a cast from
-- text to it, which the key's cast would run as taskforce's owner.
CREATE TYPE pg_temp.sm_color AS ENUM ('red');
CREATE FUNCTION pg_temp.sm_evil_cast(text) RETURNS pg_temp.sm_color LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.sm_evil($1);
    RETURN 'red';
END
$$;
CREATE CAST (text AS pg_temp.sm_color) WITH FUNCTION pg_temp.sm_evil_cast(text);
CREATE TEMP TABLE sm_colored (tenant_id text NOT NULL DEFAULT 'sm-acme', id pg_temp.sm_color,
                              state text NOT NULL DEFAULT 'open', PRIMARY KEY (tenant_id, id));
SELECT taskforce.attach_state_machine('pg_temp.sm_colored', 'state', 'sm_gate');
INSERT INTO sm_colored (id) VALUES ('red');
SELECT taskforce.request_approval('custom:sm_gate', taskforce._audit_object('pg_temp.sm_colored'), '{"id": "red"}',
                                  'close red', content_hash => (SELECT taskforce.config_hash(to_jsonb(c) - 'state')
                                                                  FROM sm_colored AS c)) IS NOT NULL AS requested;
SELECT public.sm_escalated() AS escalated_by_enum_cast;
SELECT taskforce.detach_state_machine('pg_temp.sm_colored');
-- A key of a composite type is refused (its input would check its fields'
-- domains); a table whose tenant column is outside its primary key gets
-- its requests (the tenant narrows the key).
CREATE TYPE pg_temp.sm_pair AS (a text, b text);
CREATE TEMP TABLE sm_paired (id pg_temp.sm_pair PRIMARY KEY, state text NOT NULL DEFAULT 'open');
SELECT taskforce.attach_state_machine('pg_temp.sm_paired', 'state', 'sm_gate');
INSERT INTO sm_paired (id) VALUES (('x', 'y'));
SELECT taskforce.content_hash('pg_temp.sm_paired', '{"id": "(x,y)"}');
SELECT taskforce.detach_state_machine('pg_temp.sm_paired');
CREATE TEMP TABLE sm_single (tenant_id text NOT NULL DEFAULT 'sm-acme', id integer PRIMARY KEY,
                             state text NOT NULL DEFAULT 'open');
SELECT taskforce.attach_state_machine('pg_temp.sm_single', 'state', 'sm_gate');
INSERT INTO sm_single (id) VALUES (1);
SELECT taskforce.request_approval('pg_temp.sm_single', '{"id": 1}', 'close 1') IS NOT NULL AS requested;
SELECT taskforce.detach_state_machine('pg_temp.sm_single');
RESET ROLE;
\c - postgres
ALTER ROLE sm_app NOSUPERUSER;
SELECT count(*) FROM taskforce.disable_workflow('sm-gate', tenant_id => 'sm-acme');
DELETE FROM taskforce.state_machine_attachments WHERE machine = 'sm_gate';
DROP FUNCTION public.sm_escalated();

DROP TABLE public.sm_parts, public.sm_tickets, public.sm_nopk, public.sm_intstate, public.sm_approved, public.sm_asked CASCADE;
DROP FUNCTION public.sm_close_as_system(integer);
SELECT taskforce.drop_state_machine('ticket');
SELECT taskforce.drop_state_machine('sm_gate');
SELECT count(*) AS machines_left FROM taskforce.state_machines WHERE NOT installed;
