-- test/bench/permission_check_setup.sql: objects for permission_check.sh,
-- run as the bootstrap superuser: the extension, one tenant with 1,002
-- users, 8 custom roles and about 2,500 role grants, an ordinary LOGIN role
-- "bench" (member of taskforce_admin, so it may call act_as), the
-- hand-written PL/pgSQL check it is compared with, and a timing helper.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION taskforce CASCADE;
SELECT count(*) AS group_roles FROM taskforce.setup_roles();
CREATE ROLE bench LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE taskforce_admin;
SELECT (taskforce.create_tenant('t001', 'bench tenant 1')).tenant_id AS tenant_created;

-- Users u0001 .. u1001, through the API (as an administrator without a
-- context, naming the tenant), and uadmin, who changes a role to
-- invalidate the caches in the cache-miss measurement.
SELECT count(taskforce.create_user(format('u%s', to_char(i, 'FM0000')),
                                   format('user%s', i), tenant_id => 't001'))
       AS users_created
  FROM generate_series(1, 1001) AS i;
SELECT (taskforce.create_user('uadmin', 'bench-admin', tenant_id => 't001')).user_id AS admin_created;
SELECT (taskforce.grant_role('uadmin', 'admin', tenant_id => 't001')).role_name AS admin_granted;

-- Custom roles, most of them with wildcard patterns.
SELECT count(taskforce.create_role(r.name, r.patterns, tenant_id => 't001')) AS roles_created
  FROM (VALUES
        ('agent_admin',    ARRAY['agent:*', 'session:read']),
        ('session_admin',  ARRAY['session:*']),
        ('memory_admin',   ARRAY['memory:*']),
        ('tool_runner',    ARRAY['tool:*', 'agent:read']),
        ('reader',         ARRAY['*:read']),
        ('executor',       ARRAY['*:execute']),
        ('metrics',        ARRAY['system:metrics', 'audit:read']),
        ('support',        ARRAY['user:manage', 'session:read', 'memory:read'])
       ) AS r(name, patterns);

-- Every other user gets two or three roles, system and custom ones mixed,
-- 2,500 grants in all (a tenth of them expiring in a day).  u0001, the user whose
-- checks are timed, holds the system role operator and the custom role
-- agent_admin: the checked permission, agent:delete, is granted only by the
-- wildcard pattern agent:* of agent_admin.
SELECT count(taskforce.grant_role(g.user_id, g.role_name,
                                  CASE WHEN g.expiring THEN now() + interval '1 day' END,
                                  tenant_id => 't001')) AS grants_made
  FROM (SELECT format('u%s', to_char(i, 'FM0000')) AS user_id,
               (ARRAY['operator', 'viewer', 'auditor', 'agent_designer', 'reader',
                      'tool_runner', 'session_admin', 'memory_admin', 'executor',
                      'metrics', 'support'])[1 + (i * 7 + k * 3) % 11] AS role_name,
               i % 10 = 3 AS expiring
          FROM generate_series(2, 1001) AS i, generate_series(0, 1 + i % 2) AS k
        UNION
        SELECT 'u0001', r, false FROM unnest(ARRAY['operator', 'agent_admin']) AS r) AS g;

-- The check one would write without taskforce, as a fair baseline: on
-- every call it reads the same tables (the caller's unexpired grants, the
-- patterns of the system or custom role each names) and matches the
-- patterns with split_part(), with the same meaning as taskforce's
-- patterns (*, resource:*, *:action, resource:action).  It trusts the
-- context readers and checks neither the permission catalog nor the
-- user's status (has_permission does both), so it does less work.
-- SECURITY DEFINER (owned by the superuser, no SET clause) so that it reads
-- the tables directly rather than through tenant row-level security.
CREATE FUNCTION public.bench_has_permission_plpgsql(p text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    AS $$
DECLARE
    want_resource text := split_part(p, ':', 1);
    want_action text := split_part(p, ':', 2);
BEGIN
    RETURN EXISTS (
        SELECT
          FROM taskforce.role_grants AS g
          CROSS JOIN LATERAL (
                SELECT s.permissions FROM taskforce.system_roles AS s
                 WHERE s.role_name = g.role_name
                UNION ALL
                SELECT r.permissions FROM taskforce.roles AS r
                 WHERE r.tenant_id = g.tenant_id AND r.role_name = g.role_name) AS d
          CROSS JOIN LATERAL unnest(d.permissions) AS pat(pattern)
         WHERE g.tenant_id = taskforce.current_tenant()
           AND g.user_id = taskforce.current_user_id()
           AND (g.expires_at IS NULL OR g.expires_at > statement_timestamp())
           AND (pat.pattern = '*'
                OR (split_part(pat.pattern, ':', 1) IN ('*', want_resource)
                    AND split_part(pat.pattern, ':', 2) IN ('*', want_action))));
END
$$;
GRANT EXECUTE ON FUNCTION public.bench_has_permission_plpgsql(text) TO bench;

\ir bench_time.sql

ANALYZE;
