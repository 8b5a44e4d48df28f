-- test/bench/tenant_rls_check.sql: run by tenant_rls.sh as the role "bench"
-- before timing anything.  Shows the plan pgbench -M prepared ends up
-- with for each lookup (a generic plan, so the parameters show as $n) and
-- checks that each lookup sees exactly the tenant's rows.
\set ON_ERROR_STOP 1
SET plan_cache_mode = force_generic_plan;
SELECT set_config('app.tenant', 't001', false) IS NOT NULL AS setting_set \gset
SELECT taskforce.act_as('t001', 'bench-user', scope => 'session') AS context_established \gset

PREPARE q_plain(text, int) AS SELECT payload FROM t_plain WHERE tenant_id = $1 AND id = $2;
PREPARE q_setting(int) AS SELECT payload FROM t_setting WHERE id = $1;
PREPARE q_taskforce(int) AS SELECT payload FROM t_taskforce WHERE id = $1;

\echo '(i) t_plain:     SELECT payload FROM t_plain WHERE tenant_id = :tenant AND id = :id'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q_plain('t001', 4242);
\echo '(ii) t_setting:  SELECT payload FROM t_setting WHERE id = :id   [SET app.tenant = ''t001'']'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q_setting(4242);
\echo '(iii) t_taskforce: SELECT payload FROM t_taskforce WHERE id = :id   [taskforce.act_as(''t001'', ...)]'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q_taskforce(4242);

-- Each lookup must return the same row, and RLS must hide other tenants.
SELECT (SELECT payload FROM t_plain WHERE tenant_id = 't001' AND id = 4242) AS plain,
       (SELECT payload FROM t_setting WHERE id = 4242) AS setting,
       (SELECT payload FROM t_taskforce WHERE id = 4242) AS taskforce,
       (SELECT count(*) FROM t_setting) AS setting_rows,
       (SELECT count(*) FROM t_taskforce) AS taskforce_rows \gset
SELECT :'plain' = :'setting' AND :'plain' = :'taskforce'
       AND :setting_rows = 10000 AND :taskforce_rows = 10000 AS ok \gset
\if :ok
\echo 'check: the three lookups agree; RLS shows 10000 rows of 1000000 in t_setting and t_taskforce'
\else
\echo 'check FAILED: plain=':plain' setting=':setting' taskforce=':taskforce' setting_rows=':setting_rows' taskforce_rows=':taskforce_rows
SELECT 1/0 AS check_failed;
\endif
