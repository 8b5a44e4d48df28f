-- retention: apply_retention() as the application (a context with
-- policy:manage applies its own tenant's policies) and as an administrator
-- without context (one tenant or every tenant): a dry run lists exactly the
-- resources older than their policy's max_retention_days and changes
-- nothing; a real run deletes them, their rows in protected tables and
-- their grants, and nothing else (younger resources, manual-deletion
-- policies, resources without a policy, other tenants); it records the run
-- in retention_runs; every deletion and the run are audit entries; a
-- failure leaves everything as it was.  Old resources are made by moving
-- created_at back as superuser (test setup only).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS ret_app, ret_admin, ret_nobody;
-- The application connects as ret_app; trusted middleware as ret_admin,
-- which establishes a context with act_as and then works as ret_app.
CREATE ROLE ret_app LOGIN IN ROLE taskforce_app;
CREATE ROLE ret_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE ret_nobody LOGIN;
GRANT ret_app TO ret_admin;
SELECT count(*) FROM taskforce.create_tenant('ret-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('ret-globex', 'Globex');
SELECT count(*) FROM taskforce.create_user('boss', 'boss', tenant_id => 'ret-acme');
SELECT count(*) FROM taskforce.grant_role('boss', 'admin', tenant_id => 'ret-acme');
SELECT count(*) FROM taskforce.create_user('olga', 'olga', tenant_id => 'ret-acme');
SELECT count(*) FROM taskforce.grant_role('olga', 'operator', tenant_id => 'ret-acme');
SELECT count(*) FROM taskforce.create_user('gus', 'gus', tenant_id => 'ret-globex');
SELECT count(*) FROM taskforce.grant_role('gus', 'admin', tenant_id => 'ret-globex');
-- Two protected tables of the application: document chunks (audited) and
-- notes, partitioned (retention deletes through the root).
CREATE TABLE public.ret_chunks (
    tenant_id text NOT NULL DEFAULT taskforce.current_tenant(),
    chunk_id integer NOT NULL,
    resource_id text NOT NULL,
    body text,
    PRIMARY KEY (tenant_id, chunk_id));
CREATE TABLE public.ret_notes (
    tenant_id text NOT NULL DEFAULT taskforce.current_tenant(),
    note_id integer NOT NULL,
    doc text NOT NULL,
    body text,
    PRIMARY KEY (tenant_id, note_id)) PARTITION BY LIST (tenant_id);
CREATE TABLE public.ret_notes_acme PARTITION OF public.ret_notes FOR VALUES IN ('ret-acme');
CREATE TABLE public.ret_notes_rest PARTITION OF public.ret_notes DEFAULT;
SELECT FROM taskforce.enable_tenant_isolation('public.ret_chunks');
SELECT FROM taskforce.enable_tenant_isolation('public.ret_notes');
SELECT FROM taskforce.protect_table('public.ret_chunks');
SELECT FROM taskforce.protect_table('public.ret_notes', 'doc');
SELECT FROM taskforce.enable_audit('public.ret_chunks');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ret_chunks, public.ret_notes TO taskforce_app;
RESET client_min_messages;
SELECT table_name, resource_column FROM taskforce.protected_tables
 WHERE table_name::text LIKE 'ret\_%' ORDER BY table_name::text;

-- Policies, by the tenant admin through the application: tenant-scope
-- public and internal resources go after 30 days, confidential ones only
-- by hand (no max_retention_days), private ones after 90 days; nothing
-- covers session scope.  Globex keeps internal resources 30 days.
\c - ret_admin
-- A global resource of globex, made by the administrator: a knowledge base
-- every tenant may read and write (acme's rows name it too), kept 10 days.
SELECT resource_id, scope FROM taskforce.create_acl('kb-global', 'knowledge_base', 'public', 'global',
    default_permissions => '{read,write}', owner_id => 'gus', tenant_id => 'ret-globex');
SELECT policy_id, scope, sensitivity_levels, max_retention_days
  FROM taskforce.create_resource_policy('global-kb', 'global knowledge', 'global', '{public}', 10,
                                        tenant_id => 'ret-globex');
SELECT taskforce.act_as('ret-acme', 'boss', scope => 'session') IS NOT NULL AS acting;
SET ROLE ret_app;
SELECT policy_id, scope, sensitivity_levels, max_retention_days
  FROM taskforce.create_resource_policy('short', 'short-lived', 'tenant', '{public,internal}', 30);
SELECT policy_id, scope, sensitivity_levels, max_retention_days
  FROM taskforce.create_resource_policy('keep', 'manual deletion', 'tenant', '{confidential}');
SELECT policy_id, scope, sensitivity_levels, max_retention_days
  FROM taskforce.create_resource_policy('private', 'private notes', 'private', '{internal,confidential}', 90);
-- Resources of boss and olga, with their rows.
SELECT count(*) FROM (VALUES
    ('doc-old', 'internal'::text, 'tenant'::text, NULL::text),
    ('doc-pub-old', 'public', 'tenant', NULL),
    ('doc-young', 'internal', 'tenant', NULL),
    ('doc-conf-old', 'confidential', 'tenant', NULL),
    ('note-old', 'internal', 'private', NULL),
    ('note-young', 'internal', 'private', NULL),
    ('sess-old', 'internal', 'session', 's-1')) AS v(id, sens, sc, sess),
    taskforce.create_acl(v.id, 'document', v.sens, v.sc, session_id => v.sess) AS a;
SELECT resource_id, principal_id, permissions FROM taskforce.grant_access('doc-old', 'user', 'olga', '{read,write}');
SELECT resource_id, principal_id, permissions FROM taskforce.grant_access('note-old', 'user', 'olga', '{read}');
INSERT INTO public.ret_chunks (chunk_id, resource_id, body) VALUES
    (1, 'doc-old', 'a'), (2, 'doc-old', 'b'), (3, 'doc-pub-old', 'c'), (4, 'doc-young', 'd'),
    (5, 'doc-conf-old', 'e'), (6, 'sess-old', 'f'), (7, 'kb-global', 'k');
INSERT INTO public.ret_notes (note_id, doc, body) VALUES
    (1, 'note-old', 'g'), (2, 'note-young', 'h'), (3, 'doc-young', 'i'), (4, 'doc-old', 'j');
RESET ROLE;
SELECT taskforce.act_as('ret-globex', 'gus', scope => 'session') IS NOT NULL AS acting;
SET ROLE ret_app;
SELECT policy_id, scope, sensitivity_levels, max_retention_days
  FROM taskforce.create_resource_policy('short', 'short-lived', 'tenant', '{internal}', 30);
SELECT resource_id FROM taskforce.create_acl('doc-old', 'document');
INSERT INTO public.ret_chunks (chunk_id, resource_id, body) VALUES (1, 'doc-old', 'globex a'), (2, 'kb-global', 'globex k');
INSERT INTO public.ret_notes (note_id, doc, body) VALUES (1, 'doc-old', 'globex b');
RESET ROLE;
SELECT taskforce.clear_context();

-- Ages (test setup, as superuser): old is past its policy's retention,
-- young is not.
\c - postgres
UPDATE taskforce.resource_acls AS a SET created_at = now() - v.age
  FROM (VALUES ('ret-acme', 'doc-old', interval '40 days'), ('ret-acme', 'doc-pub-old', interval '31 days'),
               ('ret-acme', 'doc-young', interval '29 days'), ('ret-acme', 'doc-conf-old', interval '400 days'),
               ('ret-acme', 'note-old', interval '100 days'), ('ret-acme', 'note-young', interval '80 days'),
               ('ret-acme', 'sess-old', interval '500 days'), ('ret-globex', 'doc-old', interval '45 days'),
               ('ret-globex', 'kb-global', interval '20 days'))
       AS v(tenant, id, age)
 WHERE a.tenant_id = v.tenant AND a.resource_id = v.id;
-- What exists, for comparison after each run.
CREATE VIEW public.ret_state AS
SELECT 'acl' AS kind, tenant_id, resource_id AS id FROM taskforce.resource_acls WHERE tenant_id LIKE 'ret-%'
UNION ALL SELECT 'grant', tenant_id, resource_id || ':' || principal_id FROM taskforce.resource_grants
 WHERE tenant_id LIKE 'ret-%'
UNION ALL SELECT 'chunk', tenant_id, chunk_id || ':' || resource_id FROM public.ret_chunks
UNION ALL SELECT 'note', tenant_id, note_id || ':' || doc FROM public.ret_notes;
SELECT kind, tenant_id, string_agg(id, ' ' ORDER BY id) FROM public.ret_state GROUP BY 1, 2 ORDER BY 1, 2;
CREATE TABLE public.ret_before AS SELECT * FROM public.ret_state;

-- 1. Who may: olga (operator, no policy:manage) may not, nor the
-- application role without a context, nor a role outside taskforce's.
\c - ret_admin
SELECT taskforce.act_as('ret-acme', 'olga', scope => 'session') IS NOT NULL AS acting;
SET ROLE ret_app;
SELECT * FROM taskforce.apply_retention();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.apply_retention(false);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT taskforce.clear_context();
\c - ret_app
SELECT * FROM taskforce.apply_retention();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.apply_retention(false, 'ret-acme');
\echo :LAST_ERROR_SQLSTATE
\c - ret_nobody
SELECT * FROM taskforce.apply_retention();
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT count(*) AS differences FROM ((TABLE public.ret_state EXCEPT TABLE public.ret_before)
                                    UNION ALL (TABLE public.ret_before EXCEPT TABLE public.ret_state)) AS d;

-- 2. Dry run by boss through the application: exactly acme's three
-- expired resources (oldest first), nothing deleted; another tenant cannot
-- be named; bad input.
\c - ret_admin
SELECT taskforce.act_as('ret-acme', 'boss', scope => 'session') IS NOT NULL AS acting;
SET ROLE ret_app;
SELECT tenant_id, resource_id, resource_type, scope, sensitivity, round(extract(epoch FROM now() - created_at) / 86400) AS age_days, policy_id, deleted
  FROM taskforce.apply_retention();
SELECT count(*) FROM taskforce.apply_retention(tenant_id => 'ret-acme');
SELECT * FROM taskforce.apply_retention(tenant_id => 'ret-globex');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.apply_retention(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS runs FROM taskforce.retention_runs;
RESET ROLE;
SELECT taskforce.clear_context();
\c - postgres
SELECT count(*) AS differences FROM ((TABLE public.ret_state EXCEPT TABLE public.ret_before)
                                    UNION ALL (TABLE public.ret_before EXCEPT TABLE public.ret_state)) AS d;

-- 3. Dry run by an administrator without context: every tenant, or one;
-- an unknown tenant is an error.
\c - ret_admin
SELECT tenant_id, resource_id, policy_id, deleted FROM taskforce.apply_retention()
 WHERE tenant_id LIKE 'ret-%';
SELECT tenant_id, resource_id, policy_id, deleted FROM taskforce.apply_retention(true, 'ret-globex');
SELECT * FROM taskforce.apply_retention(true, 'ret-nowhere');
\echo :LAST_ERROR_SQLSTATE

-- 4. The real run by boss: the three go, with their chunks, notes and
-- grants; doc-young (29 days), note-young (80 days), doc-conf-old (manual
-- deletion only), sess-old (no policy) and globex's doc-old stay.
SELECT taskforce.act_as('ret-acme', 'boss', scope => 'session') IS NOT NULL AS acting;
SET ROLE ret_app;
SELECT tenant_id, resource_id, policy_id, deleted FROM taskforce.apply_retention(false);
-- rows_deleted lists every protected table of the database; this suite's are ret_*.
SELECT tenant_id, policy_ids, resources_deleted,
       (SELECT jsonb_object_agg(t.key, t.value) FROM jsonb_each(rows_deleted) AS t
         WHERE t.key LIKE 'public.ret\_%') AS rows_deleted, ran_by, db_role
  FROM taskforce.retention_runs;
-- The rows are gone for the application too.
SELECT chunk_id, resource_id FROM public.ret_chunks ORDER BY 1;
-- Again: nothing is due, nothing is recorded.
SELECT count(*) FROM taskforce.apply_retention(false);
SELECT count(*) AS runs FROM taskforce.retention_runs;
RESET ROLE;
-- Globex's application sees none of acme's runs.
SELECT taskforce.act_as('ret-globex', 'gus', scope => 'session') IS NOT NULL AS acting;
SET ROLE ret_app;
SELECT count(*) AS runs FROM taskforce.retention_runs;
-- The application cannot write or change the runs.
INSERT INTO taskforce.retention_runs (tenant_id, run_id, ran_by, policy_ids, resources_deleted, rows_deleted)
VALUES ('ret-globex', 1, 'gus', '{}', '[]', '{}');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM taskforce.retention_runs;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT taskforce.clear_context();
\c - postgres
SELECT b.kind, b.tenant_id, string_agg(b.id, ' ' ORDER BY b.id) AS deleted
  FROM public.ret_before AS b
 WHERE NOT EXISTS (SELECT FROM public.ret_state AS s WHERE (s.kind, s.tenant_id, s.id) = (b.kind, b.tenant_id, b.id))
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT kind, tenant_id, string_agg(id, ' ' ORDER BY id) AS kept FROM public.ret_state GROUP BY 1, 2 ORDER BY 1, 2;
-- The audit trail: the run's transaction deleted the chunks (audited
-- table), the grants and the ACLs, and inserted the run, attributed to boss.
SELECT e.tenant_id, e.object, e.action, e.row_key, e.user_id, e.db_role
  FROM taskforce.audit_log AS e
 WHERE e.txid = (SELECT r.txid FROM taskforce.audit_log AS r
                  WHERE r.object = 'taskforce.retention_runs' AND r.tenant_id = 'ret-acme')
 ORDER BY e.object, e.row_key;
SELECT new_values->'resources_deleted' AS resources, new_values->'policy_ids' AS policies
  FROM taskforce.audit_log WHERE object = 'taskforce.retention_runs' AND tenant_id = 'ret-acme';

-- 5. A policy given a retention later: doc-conf-old becomes due.
\c - ret_admin
SELECT max_retention_days FROM taskforce.update_resource_policy('keep', 365, tenant_id => 'ret-acme');
SELECT tenant_id, resource_id, policy_id FROM taskforce.apply_retention(true, 'ret-acme');
SELECT max_retention_days FROM taskforce.update_resource_policy('keep', clear_max_retention => true, tenant_id => 'ret-acme');
SELECT count(*) FROM taskforce.apply_retention(true, 'ret-acme');

-- 6. Nothing half-done.  A protected table with a trigger of its own would
-- run it with the rights of taskforce's owner: refused unless a superuser
-- runs it.  A deletion that fails part-way (a foreign key of another
-- table, after the chunks were deleted) leaves everything.
\c - postgres
UPDATE taskforce.resource_acls SET created_at = now() - interval '60 days'
 WHERE tenant_id = 'ret-acme' AND resource_id = 'doc-young';
CREATE FUNCTION public.ret_keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN OLD; END$$;
CREATE TRIGGER ret_keep BEFORE DELETE ON public.ret_notes_acme FOR EACH ROW EXECUTE FUNCTION public.ret_keep();
\c - ret_admin
SELECT * FROM taskforce.apply_retention(false);
\echo :LAST_ERROR_SQLSTATE
-- A superuser may (rolled back here).
\c - postgres
BEGIN;
SELECT tenant_id, resource_id, deleted FROM taskforce.apply_retention(false) WHERE tenant_id LIKE 'ret-%';
ROLLBACK;
-- A protected table taken out of tenant isolation cannot be told apart by
-- tenant: refused, whoever runs it.
BEGIN;
SELECT taskforce.disable_tenant_isolation('public.ret_chunks');
SELECT * FROM taskforce.apply_retention(false);
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER ret_keep ON public.ret_notes_acme;
CREATE TABLE public.ret_note_links (tenant_id text, note_id integer,
    FOREIGN KEY (tenant_id, note_id) REFERENCES public.ret_notes (tenant_id, note_id));
INSERT INTO public.ret_note_links VALUES ('ret-acme', 3);
CREATE TABLE public.ret_before_failure AS SELECT * FROM public.ret_state;
\c - ret_admin
SELECT * FROM taskforce.apply_retention(false);
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT (SELECT count(*) FROM ((TABLE public.ret_state EXCEPT TABLE public.ret_before_failure)
                              UNION ALL (TABLE public.ret_before_failure EXCEPT TABLE public.ret_state)) AS d) AS differences,
       (SELECT count(*) FROM taskforce.retention_runs WHERE tenant_id LIKE 'ret-%') AS runs;
DROP TABLE public.ret_note_links;

-- A context's run leaves global resources alone (they govern other
-- tenants' rows): gus's dry run does not list kb-global, due as it is.
\c - ret_admin
SELECT taskforce.act_as('ret-globex', 'gus', scope => 'session') IS NOT NULL AS acting;
SELECT resource_id, scope FROM taskforce.apply_retention() ORDER BY resource_id;
SELECT taskforce.clear_context() IS NOT NULL AS cleared;

-- 7. The administrator's run over every tenant (as pg_cron runs it): one
-- run id, one row per tenant; the global resource goes with the rows of
-- both tenants that name it, but globex's run counts only globex's rows.
\c - ret_admin
SELECT tenant_id, resource_id, policy_id, deleted FROM taskforce.apply_retention(false)
 WHERE tenant_id LIKE 'ret-%';
\c - postgres
-- rows_deleted lists every protected table of the database; this suite's are ret_*.
SELECT tenant_id, policy_ids, resources_deleted,
       (SELECT jsonb_object_agg(t.key, t.value) FROM jsonb_each(rows_deleted) AS t
         WHERE t.key LIKE 'public.ret\_%') AS rows_deleted, ran_by, db_role
  FROM taskforce.retention_runs WHERE tenant_id LIKE 'ret-%' ORDER BY run_id, tenant_id;
SELECT count(DISTINCT run_id) AS run_ids, string_agg(tenant_id, ' ' ORDER BY tenant_id) AS tenants
  FROM taskforce.retention_runs
 WHERE run_id = (SELECT max(run_id) FROM taskforce.retention_runs WHERE tenant_id LIKE 'ret-%');
SELECT kind, tenant_id, string_agg(id, ' ' ORDER BY id) AS kept FROM public.ret_state GROUP BY 1, 2 ORDER BY 1, 2;
SELECT object, action, count(*), min(user_id) AS user_id, min(db_role) AS db_role
  FROM taskforce.audit_log
 WHERE txid = (SELECT r.txid FROM taskforce.audit_log AS r
                WHERE r.object = 'taskforce.retention_runs' AND r.tenant_id = 'ret-globex')
 GROUP BY 1, 2 ORDER BY 1, 2;

-- 8. Privileges: apply_retention is not PUBLIC's; the runs are dumped.
SELECT has_function_privilege('ret_nobody', 'taskforce.apply_retention(boolean, text)', 'EXECUTE') AS nobody,
       has_function_privilege('taskforce_app', 'taskforce.apply_retention(boolean, text)', 'EXECUTE') AS app,
       has_function_privilege('taskforce_admin', 'taskforce.apply_retention(boolean, text)', 'EXECUTE') AS admin,
       has_function_privilege('taskforce_app', 'taskforce._apply_retention(boolean, text)', 'EXECUTE') AS app_inner,
       has_table_privilege('taskforce_app', 'taskforce.retention_runs', 'SELECT') AS app_reads,
       has_table_privilege('taskforce_app', 'taskforce.retention_runs', 'INSERT') AS app_writes;
SELECT c.relname FROM pg_extension AS e, unnest(e.extconfig) AS x(oid) JOIN pg_class AS c ON c.oid = x.oid
 WHERE e.extname = 'taskforce' AND c.relname LIKE 'retention%' ORDER BY 1;

-- Clean up the application objects (the taskforce rows stay, as other
-- suites leave theirs).
DROP VIEW public.ret_state;
DROP TABLE public.ret_before, public.ret_before_failure;
SELECT taskforce.unprotect_table('public.ret_chunks');
SELECT taskforce.unprotect_table('public.ret_notes');
SELECT taskforce.disable_audit('public.ret_chunks');
DROP TABLE public.ret_chunks, public.ret_notes;
DROP FUNCTION public.ret_keep();
