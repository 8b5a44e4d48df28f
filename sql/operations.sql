-- operations: what an operator does with tenants and sessions
-- (docs/operations.md): a deleted tenant refuses every write; tried as an
-- administrator and as an application role's context, whose keys are
-- carried by \gset, never printed.
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS ops_admin, ops_app, ops_mw;
CREATE ROLE ops_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE ops_app LOGIN IN ROLE taskforce_app;
-- Middleware that is both: it may act_as and take an application's role.
CREATE ROLE ops_mw LOGIN IN ROLE taskforce_admin, ops_app;
RESET client_min_messages;

\c - ops_admin
SELECT count(*) FROM taskforce.create_tenant('ops-gone', 'Gone');
SELECT role_name FROM taskforce.create_role('user_admin', ARRAY['user:manage', 'role:manage'],
                                            tenant_id => 'ops-gone');
SELECT count(*) FROM taskforce.create_user('alice', 'alice', tenant_id => 'ops-gone');
SELECT count(*) FROM taskforce.create_user('bob', 'bob', tenant_id => 'ops-gone');
SELECT count(*) FROM taskforce.grant_role('alice', 'user_admin', tenant_id => 'ops-gone');
SELECT api_key AS alice_key FROM taskforce.create_api_key('alice', 'alice key', tenant_id => 'ops-gone') \gset
SELECT count(*) FROM taskforce.set_password('bob', 'Correct-Horse-9', tenant_id => 'ops-gone');

-- 1. A deleted tenant refuses every write, with 55000 naming the tenant:
-- new users, roles, grants, keys, passwords, policies, updates.
SELECT status FROM taskforce.delete_tenant('ops-gone', 'customer left');
\set VERBOSITY default
SELECT taskforce.create_user('carol', 'carol', tenant_id => 'ops-gone');
\set VERBOSITY sqlstate
SELECT taskforce.create_role('other', ARRAY['agent:read'], tenant_id => 'ops-gone');
SELECT taskforce.update_role('user_admin', permissions => ARRAY['user:manage'], tenant_id => 'ops-gone');
SELECT taskforce.grant_role('bob', 'user_admin', tenant_id => 'ops-gone');
SELECT taskforce.create_api_key('bob', 'bob key', tenant_id => 'ops-gone');
SELECT taskforce.set_password('bob', 'Another-Horse-9', tenant_id => 'ops-gone');
SELECT taskforce.update_user('bob', email => 'bob@example.com', tenant_id => 'ops-gone');
SELECT taskforce.deactivate_user('bob', tenant_id => 'ops-gone');
SELECT taskforce.set_password_policy(min_length => 14, tenant_id => 'ops-gone');
SELECT taskforce.configure_jwt_issuer('https://gone.example', ARRAY['api'], ARRAY['HS256'],
                                      tenant_id => 'ops-gone');
-- Nothing changed.
\c - postgres
SELECT user_id, status, email FROM taskforce.users WHERE tenant_id = 'ops-gone' ORDER BY 1;
SELECT role_name, permissions FROM taskforce.roles WHERE tenant_id = 'ops-gone';
SELECT count(*) AS keys FROM taskforce.api_keys WHERE tenant_id = 'ops-gone';
-- The bookkeeping the event writer and lockout keep is still written (a
-- record queued before the deletion must not fail every later flush).
SELECT taskforce._apply_queued_record(jsonb_build_object(
    'record', 'event', 'event', 'authentication', 'outcome', 'success', 'method', 'password',
    'tenant_id', 'ops-gone', 'user_id', 'bob'));
SELECT taskforce._apply_queued_record(jsonb_build_object(
    'record', 'password_attempts', 'tenant_id', 'ops-gone', 'user_id', 'bob',
    'failed_attempts', 2));
SELECT u.last_login_at IS NOT NULL AS login_recorded, c.failed_attempts
  FROM taskforce.users AS u JOIN taskforce.user_credentials AS c USING (tenant_id, user_id)
 WHERE u.tenant_id = 'ops-gone' AND u.user_id = 'bob';

-- A restore writes the rows back as they were: pg_dump's script sets
-- row_security = off, and only a superuser writes these tables directly.
BEGIN;
SET LOCAL row_security = off;
INSERT INTO taskforce.users (tenant_id, user_id, username) VALUES ('ops-gone', 'restored', 'restored');
ROLLBACK;
-- An administrator setting row_security = off gets no such pass.
\c - ops_admin
SET row_security = off;
SELECT taskforce.create_user('carol', 'carol', tenant_id => 'ops-gone');
RESET row_security;

-- 2. An application role's context of the tenant is refused (28000) once
-- the tenant is deleted, even within the deleting transaction; a context
-- that stands in a transaction opened before the deletion committed is
-- refused at its next write (test/specs/deleted_tenant_writes.spec).
\c - ops_admin
SELECT count(*) FROM taskforce.create_tenant('ops-late', 'Late');
SELECT role_name FROM taskforce.create_role('user_admin', ARRAY['user:manage'], tenant_id => 'ops-late');
SELECT count(*) FROM taskforce.create_user('alice', 'alice', tenant_id => 'ops-late');
SELECT count(*) FROM taskforce.grant_role('alice', 'user_admin', tenant_id => 'ops-late');
SELECT api_key AS late_key FROM taskforce.create_api_key('alice', 'late key', tenant_id => 'ops-late') \gset
\c - ops_mw
BEGIN;
SET LOCAL ROLE ops_app;
SELECT taskforce.authenticate_api_key(:'late_key');
SELECT user_id FROM taskforce.create_user('dave', 'dave');
RESET ROLE;
SELECT status FROM taskforce.delete_tenant('ops-late');
SET LOCAL ROLE ops_app;
SELECT taskforce.create_user('erin', 'erin');
ROLLBACK;

-- 3. Offboarding: offboard_tenant() removes a deleted tenant's rows from
-- every isolated table and taskforce's tenant tables; a dry run (the
-- default) counts them.  An application table and one referencing it.
\c - postgres
SET client_min_messages = warning;
CREATE TABLE public.ops_notes (tenant_id text NOT NULL, id int NOT NULL, body text,
                               PRIMARY KEY (tenant_id, id));
CREATE TABLE public.ops_note_tags (tenant_id text NOT NULL, note_id int NOT NULL, tag text NOT NULL,
                                   PRIMARY KEY (tenant_id, note_id, tag),
                                   FOREIGN KEY (tenant_id, note_id) REFERENCES public.ops_notes);
SELECT taskforce.enable_tenant_isolation('public.ops_notes');
SELECT taskforce.enable_tenant_isolation('public.ops_note_tags');
RESET client_min_messages;
INSERT INTO public.ops_notes VALUES ('ops-gone', 1, 'gone'), ('ops-gone', 2, 'gone'), ('ops-late', 1, 'kept');
INSERT INTO public.ops_note_tags VALUES ('ops-gone', 1, 'a'), ('ops-late', 1, 'b');
SELECT count(*) FROM taskforce.security_events WHERE tenant_id = 'ops-gone' \gset gone_events_
\c - ops_admin
-- Refused while the tenant is not deleted, and for an unknown tenant.
SELECT * FROM taskforce.offboard_tenant('ops-late');
SELECT * FROM taskforce.offboard_tenant('ops-nobody');
-- The dry run lists, in the order it would delete, and removes nothing
-- (the other suites' isolated tables are left out of the output).
SELECT * FROM taskforce.offboard_tenant('ops-gone')
 WHERE table_name::text ~ '^(ops_|taskforce\.)';
SELECT sum(rows) FROM taskforce.offboard_tenant('ops-gone', dry_run => true);
-- An application role may not call it.
\c - ops_app
SELECT * FROM taskforce.offboard_tenant('ops-gone');
-- A table with a trigger of its own: the trigger would run with the rights
-- of taskforce's owner, so only a superuser may offboard (a dry run runs no
-- trigger and is allowed).
\c - postgres
CREATE FUNCTION public.ops_note_deleted() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RETURN OLD; END $$;
CREATE TRIGGER ops_note_deleted BEFORE DELETE ON public.ops_notes
    FOR EACH ROW EXECUTE FUNCTION public.ops_note_deleted();
\c - ops_admin
\set VERBOSITY default
SELECT * FROM taskforce.offboard_tenant('ops-gone', dry_run => false);
\set VERBOSITY sqlstate
\c - postgres
DROP TRIGGER ops_note_deleted ON public.ops_notes;
-- Isolation's own trigger is told by its function, not its name.
SET client_min_messages = warning;
CREATE TABLE public.ops_spoof (tenant_id text NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT taskforce.enable_tenant_isolation('public.ops_spoof');
RESET client_min_messages;
DROP TRIGGER taskforce_tenant_immutable ON public.ops_spoof;
CREATE TRIGGER taskforce_tenant_immutable BEFORE DELETE ON public.ops_spoof
    FOR EACH ROW EXECUTE FUNCTION public.ops_note_deleted();
-- It is no longer taken for an isolated table: offboarding never runs it.
\c - ops_admin
SELECT count(*) FROM taskforce.offboard_tenant('ops-gone')
 WHERE table_name = 'public.ops_spoof'::regclass;
\c - postgres
DROP TABLE public.ops_spoof;
-- The real run, in one transaction.
\c - ops_admin
SELECT * FROM taskforce.offboard_tenant('ops-gone', dry_run => false)
 WHERE table_name::text ~ '^(ops_|taskforce\.)';
SELECT * FROM taskforce.offboard_tenant('ops-gone') WHERE rows > 0;
\c - postgres
-- The other tenant's rows stay; the tenant's row stays, deleted, and so do
-- its security events.
SELECT tenant_id, id, body FROM public.ops_notes ORDER BY 1, 2;
SELECT tenant_id, tag FROM public.ops_note_tags ORDER BY 1, 2;
SELECT tenant_id, status FROM taskforce.tenants WHERE tenant_id LIKE 'ops-%' ORDER BY 1;
SELECT count(*) = :gone_events_count AS security_events_kept
  FROM taskforce.security_events WHERE tenant_id = 'ops-gone';
DROP TABLE public.ops_note_tags, public.ops_notes;
DROP FUNCTION public.ops_note_deleted();
