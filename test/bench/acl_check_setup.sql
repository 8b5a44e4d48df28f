-- test/bench/acl_check_setup.sql: objects for acl_check.sh, run as the
-- bootstrap superuser with psql -v rows=ROWS -v resources=RESOURCES
-- -v baseline_rows=BASELINE_ROWS.
--
-- One tenant, t001, holds everything the timed user, alice, could see:
-- the measured scan covers every row of each table, so each row costs one
-- ACL check (a second tenant, t002, owns a few rows and ACLs the tenant
-- policy must hide).  Two shapes of table, three identical tables each:
--   msg_*  :rows messages of :resources conversations (resource ids
--          conv-NNNNN), in time order: row n belongs to conversation
--          n % :resources, so consecutive rows never share a resource and
--          _acl_allows's memo of the previous row never answers;
--   res_*  :rows rows, each its own resource (res-NNNNNNN): every row's
--          ACL is a different cache entry (the worst case).
-- Per shape: *_acl     enable_tenant_isolation + protect_table (taskforce);
--            *_plpgsql enable_tenant_isolation + a RESTRICTIVE policy
--                      calling bench_acl_allows_plpgsql() (the same rules),
--                      with only the first :baseline_rows rows (it takes
--                      about 100 us a row: 1M rows would take minutes);
--            *_plain   enable_tenant_isolation only.
-- Resources get one of 20 ACL shapes by their number i (i % 20), 13 of
-- them readable by alice (65 %), covering every rule of the decision:
--    0-5  tenant/internal, {read}, owner bob             -> scope
--    6    tenant/public, {read,reference}                -> scope
--    7    tenant/internal, {write} only                  -> not_default
--    8    tenant/confidential, no grant                  -> needs_grant
--    9    tenant/confidential, grant read to alice (half
--         of them expiring tomorrow)                     -> grant
--   10    tenant/restricted, grant read to role analyst;
--         policy: (tenant, restricted) only for analyst
--         or executive                                   -> grant
--   11    tenant/confidential, grant to alice expired    -> needs_grant
--   12    project/internal, one of alice's 8 projects
--         (direct member, through her team, or owner)    -> scope
--   13    project/internal, a project she is not in      -> not_in_scope
--   14    session/internal, a session she takes part in  -> scope
--   15    session/internal, another session              -> not_in_scope
--   16    private, owner alice                           -> owner
--   17    private/restricted, owner alice; policy:
--         (private, restricted) only for executive       -> policy_roles
--   18    private, owner bob, grant admin to alice       -> grant
--   19    private, owner bob, grant read to carol        -> not_in_scope
-- Users, roles, role grants and policies are made through the API; the
-- bulk rows (ACLs, grants, memberships, participants) are inserted
-- directly, with session_replication_role = replica so that 1M ACL rows
-- do not write 1M audit entries (the cache invalidation triggers, ENABLE
-- ALWAYS, still fire).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION taskforce CASCADE;
SELECT count(*) AS group_roles FROM taskforce.setup_roles();
-- bench_admin establishes the context (act_as, scope session) and then
-- SET ROLE bench_app: every query is timed as an ordinary application role.
CREATE ROLE bench_app NOLOGIN NOSUPERUSER NOBYPASSRLS IN ROLE taskforce_app;
CREATE ROLE bench_admin LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE taskforce_admin, bench_app;

SELECT count(taskforce.create_tenant(t, format('bench tenant %s', t))) AS tenants_created
  FROM unnest(ARRAY['t001', 't002']) AS t;
SELECT count(taskforce.create_user(u, u, tenant_id => 't001')) AS users_created
  FROM unnest(ARRAY['alice', 'bob', 'carol', 'dave']) AS u;
SELECT (taskforce.create_user('erin', 'erin', tenant_id => 't002')).user_id AS other_tenant_user;
SELECT count(taskforce.create_role(r, ARRAY['session:read'], tenant_id => 't001')) AS roles_created
  FROM unnest(ARRAY['analyst', 'executive']) AS r;
SELECT (taskforce.grant_role('alice', 'analyst', tenant_id => 't001')).role_name AS alice_role;
SELECT (taskforce.grant_role('dave', 'executive', tenant_id => 't001')).role_name AS dave_role;
SELECT (taskforce.create_resource_policy('restricted-staff', 'restricted: staff only', 'tenant',
                                         '{restricted}', allowed_roles => '{analyst,executive}',
                                         tenant_id => 't001')).policy_id AS policy_1;
SELECT (taskforce.create_resource_policy('private-exec', 'private restricted: executives', 'private',
                                         '{restricted}', allowed_roles => '{executive}',
                                         tenant_id => 't001')).policy_id AS policy_2;

SET session_replication_role = replica;

-- Teams and projects: alice is a direct member of proj-01..04, a member
-- of team-a (the team of proj-05..07) and the owner of proj-08; bob owns
-- and staffs proj-09..20.
INSERT INTO taskforce.teams (tenant_id, team_id, name) VALUES
    ('t001', 'team-a', 'Team A'), ('t001', 'team-b', 'Team B');
INSERT INTO taskforce.team_members (tenant_id, team_id, user_id, added_by) VALUES
    ('t001', 'team-a', 'alice', 'bench'), ('t001', 'team-b', 'bob', 'bench');
INSERT INTO taskforce.projects (tenant_id, project_id, name, owner_id, team_id)
SELECT 't001', format('proj-%s', to_char(p, 'FM00')), format('Project %s', p),
       CASE WHEN p = 8 THEN 'alice' ELSE 'bob' END,
       CASE WHEN p BETWEEN 5 AND 7 THEN 'team-a' WHEN p > 8 THEN 'team-b' END
  FROM generate_series(1, 20) AS p;
INSERT INTO taskforce.project_members (tenant_id, project_id, user_id, added_by)
SELECT 't001', format('proj-%s', to_char(p, 'FM00')), 'alice', 'bench' FROM generate_series(1, 4) AS p
UNION ALL
SELECT 't001', format('proj-%s', to_char(p, 'FM00')), 'carol', 'bench' FROM generate_series(9, 20) AS p;

-- Sessions sess-0000..0999; alice takes part in every fourth.
INSERT INTO taskforce.session_participants (tenant_id, session_id, user_id, added_by)
SELECT 't001', format('sess-%s', to_char(s, 'FM0000')), u, 'bench'
  FROM generate_series(0, 999) AS s,
       unnest(CASE WHEN s % 4 = 0 THEN ARRAY['alice', 'bob'] ELSE ARRAY['bob', 'carol'] END) AS u;

-- The ACL of resource number i (see the table above).
CREATE FUNCTION pg_temp.make_acls(prefix text, width int, n int) RETURNS bigint
    LANGUAGE sql
    AS $$
    WITH r AS (
        SELECT prefix || lpad(i::text, width, '0') AS resource_id, i % 20 AS k, i / 20 AS j
          FROM generate_series(0, n - 1) AS i
    ), acl AS (
        INSERT INTO taskforce.resource_acls (tenant_id, resource_id, resource_type, owner_id, sensitivity,
                                             scope, project_id, session_id, default_permissions)
        SELECT 't001', r.resource_id, CASE WHEN prefix = 'conv-' THEN 'conversation' ELSE 'document' END,
               CASE WHEN r.k IN (16, 17) THEN 'alice' ELSE 'bob' END,
               CASE WHEN r.k = 6 THEN 'public'
                    WHEN r.k IN (8, 9, 11) THEN 'confidential'
                    WHEN r.k IN (10, 17) THEN 'restricted'
                    ELSE 'internal' END,
               CASE WHEN r.k <= 11 THEN 'tenant' WHEN r.k <= 13 THEN 'project'
                    WHEN r.k <= 15 THEN 'session' ELSE 'private' END,
               CASE r.k WHEN 12 THEN format('proj-%s', to_char(1 + r.j % 8, 'FM00'))
                        WHEN 13 THEN format('proj-%s', to_char(9 + r.j % 12, 'FM00')) END,
               CASE r.k WHEN 14 THEN format('sess-%s', to_char(4 * (r.j % 250), 'FM0000'))
                        WHEN 15 THEN format('sess-%s', to_char(4 * (r.j % 250) + 1 + r.j % 3, 'FM0000')) END,
               CASE r.k WHEN 6 THEN '{read,reference}'::text[] WHEN 7 THEN '{write}' ELSE '{read}' END
          FROM r
        RETURNING 1
    ), g AS (
        INSERT INTO taskforce.resource_grants (tenant_id, resource_id, principal_type, principal_id,
                                               permissions, granted_by, expires_at)
        SELECT 't001', r.resource_id,
               CASE WHEN r.k = 10 THEN 'role' ELSE 'user' END,
               CASE r.k WHEN 10 THEN 'analyst' WHEN 19 THEN 'carol' ELSE 'alice' END,
               CASE r.k WHEN 18 THEN '{admin}'::text[] ELSE '{read}' END,
               'bob',
               CASE WHEN r.k = 11 THEN now() - interval '1 day'
                    WHEN r.k = 9 AND r.j % 2 = 0 THEN now() + interval '1 day' END
          FROM r WHERE r.k IN (9, 10, 11, 18, 19)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM acl) + (SELECT count(*) FROM g)
$$;

SELECT pg_temp.make_acls('conv-', 5, :resources) AS conversation_acls_and_grants;
SELECT pg_temp.make_acls('res-', 7, :rows) AS document_acls_and_grants;
-- Another tenant's ACLs on the same ids: never seen from t001.
INSERT INTO taskforce.resource_acls (tenant_id, resource_id, resource_type, owner_id)
SELECT 't002', format('conv-%s', lpad(i::text, 5, '0')), 'conversation', 'erin'
  FROM generate_series(0, 99) AS i;

-- The tables: (a) taskforce, (b) PL/pgSQL, (c) tenant isolation only.
CREATE TABLE msg_acl (
    tenant_id   text    NOT NULL,
    message_id  bigint  NOT NULL,
    resource_id text    NOT NULL,
    author_id   text    NOT NULL,
    tokens      integer NOT NULL,
    body        text    NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);
INSERT INTO msg_acl
SELECT 't001', n, format('conv-%s', lpad((n % :resources)::text, 5, '0')),
       CASE n % 3 WHEN 0 THEN 'alice' WHEN 1 THEN 'bob' ELSE 'assistant' END,
       (n * 37) % 500, md5(n::text)
  FROM generate_series(1, :rows) AS n;
INSERT INTO msg_acl
SELECT 't002', n, format('conv-%s', lpad((n % 100)::text, 5, '0')), 'erin', 1, md5(n::text)
  FROM generate_series(1, 1000) AS n;
CREATE TABLE msg_plpgsql (LIKE msg_acl INCLUDING ALL);
CREATE TABLE msg_plain (LIKE msg_acl INCLUDING ALL);
INSERT INTO msg_plpgsql SELECT * FROM msg_acl WHERE message_id <= :baseline_rows;
INSERT INTO msg_plain SELECT * FROM msg_acl;

CREATE TABLE res_acl (LIKE msg_acl INCLUDING ALL);
INSERT INTO res_acl
SELECT 't001', n, format('res-%s', lpad((n - 1)::text, 7, '0')),
       CASE n % 3 WHEN 0 THEN 'alice' WHEN 1 THEN 'bob' ELSE 'assistant' END,
       (n * 37) % 500, md5(n::text)
  FROM generate_series(1, :rows) AS n;
INSERT INTO res_acl SELECT 't002', message_id, resource_id, author_id, tokens, body
  FROM msg_acl WHERE tenant_id = 't002';
CREATE TABLE res_plpgsql (LIKE res_acl INCLUDING ALL);
CREATE TABLE res_plain (LIKE res_acl INCLUDING ALL);
INSERT INTO res_plpgsql SELECT * FROM res_acl WHERE message_id <= :baseline_rows;
INSERT INTO res_plain SELECT * FROM res_acl;

RESET session_replication_role;

SELECT count(taskforce.enable_tenant_isolation(t)) AS isolated
  FROM unnest(ARRAY['msg_acl', 'msg_plpgsql', 'msg_plain',
                    'res_acl', 'res_plpgsql', 'res_plain']::regclass[]) AS t;
SELECT count(taskforce.protect_table(t)) AS protected
  FROM unnest(ARRAY['msg_acl', 'res_acl']::regclass[]) AS t;

-- The same decision written in PL/pgSQL, as one would without taskforce:
-- on every call it reads the resource's ACL, the caller's live role grants,
-- the policy covering the resource, the grants on it, and the project or
-- session membership its scope needs, each with one indexed query, and
-- applies the rules of docs/acl.md in the same order.  SECURITY DEFINER
-- (owned by the superuser, no SET clause, names qualified) so that it
-- reads the tables directly rather than through tenant row-level security.
CREATE FUNCTION public.bench_acl_allows_plpgsql(p_resource text, p_permission text)
    RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    me text := taskforce.current_user_id();
    r taskforce.resource_acls;
    roles text[];
    allowed text[];
BEGIN
    IF tenant IS NULL OR p_resource IS NULL THEN
        RETURN false;
    END IF;
    SELECT * INTO r FROM taskforce.resource_acls AS a
     WHERE a.tenant_id = tenant AND a.resource_id = p_resource;
    IF NOT FOUND THEN
        SELECT * INTO r FROM taskforce.resource_acls AS a
         WHERE a.resource_id = p_resource AND a.scope = 'global';
        IF NOT FOUND THEN
            RETURN false;
        END IF;
    END IF;
    IF r.tenant_id <> tenant THEN
        RETURN r.scope = 'global' AND r.sensitivity IN ('public', 'internal')
               AND p_permission = ANY (r.default_permissions);
    END IF;
    roles := ARRAY(SELECT g.role_name FROM taskforce.role_grants AS g
                    WHERE g.tenant_id = tenant AND g.user_id = me
                      AND (g.expires_at IS NULL OR g.expires_at > transaction_timestamp()))
             || coalesce(taskforce.current_roles(), '{}');
    SELECT p.allowed_roles INTO allowed FROM taskforce.resource_policies AS p
     WHERE p.tenant_id = tenant AND p.scope = r.scope AND r.sensitivity = ANY (p.sensitivity_levels);
    IF allowed IS NOT NULL AND NOT (allowed && roles) THEN
        RETURN false;
    END IF;
    IF r.owner_id = me THEN
        RETURN true;
    END IF;
    IF EXISTS (SELECT FROM taskforce.resource_grants AS g
                WHERE g.tenant_id = tenant AND g.resource_id = p_resource
                  AND (g.principal_type = 'user' AND g.principal_id = me
                       OR g.principal_type = 'role' AND g.principal_id = ANY (roles))
                  AND (g.expires_at IS NULL OR g.expires_at > transaction_timestamp())
                  AND (p_permission = ANY (g.permissions) OR 'admin' = ANY (g.permissions))) THEN
        RETURN true;
    END IF;
    IF r.sensitivity IN ('confidential', 'restricted') THEN
        RETURN false;
    END IF;
    RETURN CASE r.scope
               WHEN 'global' THEN true
               WHEN 'tenant' THEN true
               WHEN 'project' THEN EXISTS (SELECT FROM taskforce.project_members AS m
                                            WHERE m.tenant_id = tenant AND m.project_id = r.project_id
                                              AND m.user_id = me)
                                OR EXISTS (SELECT FROM taskforce.projects AS p
                                            WHERE p.tenant_id = tenant AND p.project_id = r.project_id
                                              AND (p.owner_id = me
                                                   OR EXISTS (SELECT FROM taskforce.team_members AS t
                                                               WHERE t.tenant_id = tenant AND t.team_id = p.team_id
                                                                 AND t.user_id = me)))
               WHEN 'session' THEN EXISTS (SELECT FROM taskforce.session_participants AS s
                                            WHERE s.tenant_id = tenant AND s.session_id = r.session_id
                                              AND s.user_id = me)
               ELSE false
           END
           AND p_permission = ANY (r.default_permissions);
END
$$;
CREATE POLICY bench_plpgsql_select ON msg_plpgsql AS RESTRICTIVE FOR SELECT
    USING (bench_acl_allows_plpgsql(resource_id, 'read'));
CREATE POLICY bench_plpgsql_select ON res_plpgsql AS RESTRICTIVE FOR SELECT
    USING (bench_acl_allows_plpgsql(resource_id, 'read'));

GRANT SELECT ON msg_acl, msg_plpgsql, msg_plain, res_acl, res_plpgsql, res_plain TO bench_app;
GRANT EXECUTE ON FUNCTION public.bench_acl_allows_plpgsql(text, text) TO bench_app;

\ir bench_time.sql

VACUUM ANALYZE;
