-- test/bench/permission_check_run.sql: the measurements of
-- permission_check.sh, run as the ordinary role "bench" with
-- psql -v n=ROWS -v m=BASELINE_ROWS -v reps=REPETITIONS -v misses=CALLS.
-- Everything runs in one transaction, in the context of user u0001 set by
-- taskforce.act_as(..., scope => 'transaction').
\set ON_ERROR_STOP 1
SET max_parallel_workers_per_gather = 0;
SET jit = off;
SET bench.n = :n;
SET bench.m = :m;
SET bench.reps = :reps;
SET bench.misses = :misses;

BEGIN;
SELECT taskforce.act_as('t001', 'u0001', scope => 'transaction') AS context_established \gset

\echo 'context (transaction scope) as role bench, and what it holds:'
SELECT session_user, tenant_id, user_id, scope, expires_at > now() AS live
  FROM taskforce.current_context();
SELECT role_name, source FROM taskforce.effective_roles();
SELECT allowed, role_name, pattern, reason FROM taskforce.explain_permission('agent:delete');

-- Both checks must agree on every catalog permission before anything is timed.
SELECT count(*) FILTER (WHERE taskforce.has_permission(c.permission)) AS taskforce_grants,
       count(*) FILTER (WHERE bench_has_permission_plpgsql(c.permission)) AS plpgsql_grants,
       count(*) FILTER (WHERE taskforce.has_permission(c.permission)
                        IS DISTINCT FROM bench_has_permission_plpgsql(c.permission)) AS disagreements,
       count(*) AS permissions
  FROM taskforce.permissions AS c \gset
\echo 'of the' :permissions 'catalog permissions, u0001 holds' :taskforce_grants 'by has_permission,' :plpgsql_grants 'by the PL/pgSQL check;' :disagreements 'disagreements'
SELECT :disagreements = 0 AS agree \gset
\if :agree
\else
\echo 'the two checks disagree'
\quit 3
\endif

-- The queries.  Every variant sees its argument through the same
-- CASE WHEN g >= 0 THEN ... END, so the check runs once per row and cannot
-- become a one-time filter or be constant-folded.
CREATE TEMP TABLE queries (pos int, label text, kind text, nrows bigint, expect bigint, sql text);
INSERT INTO queries VALUES
    (1, 'bare: g >= 0', 'baseline', :n, :n,
        format('SELECT count(*) FILTER (WHERE g >= 0) FROM generate_series(1, %s) AS g', :n)),
    (2, '(c) built-in text =', 'builtin', :n, :n,
        format('SELECT count(*) FILTER (WHERE (CASE WHEN g >= 0 THEN ''agent:delete'' END) = ''agent:delete'')'
               ' FROM generate_series(1, %s) AS g', :n)),
    (3, '(a) has_permission', 'taskforce', :n, :n,
        format('SELECT count(*) FILTER (WHERE taskforce.has_permission(CASE WHEN g >= 0 THEN ''agent:delete'' END))'
               ' FROM generate_series(1, %s) AS g', :n)),
    (4, '(a) has_permission, denied', 'taskforce', :n, 0,
        format('SELECT count(*) FILTER (WHERE taskforce.has_permission(CASE WHEN g >= 0 THEN ''audit:read'' END))'
               ' FROM generate_series(1, %s) AS g', :n)),
    (5, '(b) plpgsql', 'plpgsql', :m, :m,
        format('SELECT count(*) FILTER (WHERE bench_has_permission_plpgsql(CASE WHEN g >= 0 THEN ''agent:delete'' END))'
               ' FROM generate_series(1, %s) AS g', :m)),
    (6, '(b) plpgsql, denied', 'plpgsql', :m, 0,
        format('SELECT count(*) FILTER (WHERE bench_has_permission_plpgsql(CASE WHEN g >= 0 THEN ''audit:read'' END))'
               ' FROM generate_series(1, %s) AS g', :m));
CREATE TEMP TABLE timings (rep int, pos int, ms double precision);

-- Warm up once, then :reps rounds; each round runs every query once,
-- starting one query later than the round before.
SELECT count(bench_time(sql, expect)) AS warmed_up FROM queries \gset
DO $$
DECLARE
    reps int := current_setting('bench.reps')::int;
    nq int := (SELECT count(*) FROM queries);
    r int;
    k int;
    q record;
BEGIN
    FOR r IN 1 .. reps LOOP
        FOR k IN 0 .. nq - 1 LOOP
            SELECT * INTO q FROM queries WHERE pos = (r - 1 + k) % nq + 1;
            INSERT INTO timings VALUES (r, q.pos, bench_time(q.sql, q.expect));
        END LOOP;
    END LOOP;
END
$$;

-- Cache misses: single calls, each timed with clock_timestamp(), after a
-- change of context (act_as) so that the per-call memo cannot answer.
--   new identity: the first check of :misses users never checked before
--                 (the per-backend cache loads their patterns with one query)
--   cached:       the same users again (per-backend cache hit)
--   invalidated:  u0001 after a change to taskforce.roles by another
--                 statement of this transaction (update_role as uadmin),
--                 which drops every cache (catalog and patterns reload)
--   plpgsql:      bench_has_permission_plpgsql for the same users
CREATE TEMP TABLE single_calls (kind text, i int, us double precision, granted boolean);
DO $$
DECLARE
    misses int := current_setting('bench.misses')::int;
    i int;
    u text;
    t0 timestamptz;
    ok boolean;
BEGIN
    FOR i IN 1 .. misses LOOP
        u := format('u%s', to_char(2 + (i - 1) % 1000, 'FM0000'));
        PERFORM taskforce.act_as('t001', u, scope => 'transaction');
        t0 := clock_timestamp();
        ok := taskforce.has_permission('agent:read');
        INSERT INTO single_calls VALUES ('new identity', i,
            extract(epoch FROM clock_timestamp() - t0) * 1e6, ok);
    END LOOP;
    FOR i IN 1 .. misses LOOP
        u := format('u%s', to_char(2 + (i - 1) % 1000, 'FM0000'));
        PERFORM taskforce.act_as('t001', u, scope => 'transaction');
        t0 := clock_timestamp();
        ok := taskforce.has_permission('agent:read');
        INSERT INTO single_calls VALUES ('cached', i,
            extract(epoch FROM clock_timestamp() - t0) * 1e6, ok);
    END LOOP;
    FOR i IN 1 .. misses LOOP
        u := format('u%s', to_char(2 + (i - 1) % 1000, 'FM0000'));
        PERFORM taskforce.act_as('t001', u, scope => 'transaction');
        t0 := clock_timestamp();
        ok := bench_has_permission_plpgsql('agent:read');
        INSERT INTO single_calls VALUES ('plpgsql', i,
            extract(epoch FROM clock_timestamp() - t0) * 1e6, ok);
    END LOOP;
    FOR i IN 1 .. misses LOOP
        PERFORM taskforce.act_as('t001', 'uadmin', scope => 'transaction');
        PERFORM taskforce.update_role('metrics', description => format('change %s', i));
        PERFORM taskforce.act_as('t001', 'u0001', scope => 'transaction');
        t0 := clock_timestamp();
        ok := taskforce.has_permission('agent:delete');
        INSERT INTO single_calls VALUES ('invalidated', i,
            extract(epoch FROM clock_timestamp() - t0) * 1e6, ok);
    END LOOP;
END
$$;

\echo
\echo 'queries:'
SELECT label, nrows AS "rows", sql FROM queries ORDER BY pos;

\echo
\echo 'Per-row cost of a permission check (':reps' interleaved repetitions, median wall-clock ms)'
WITH paired AS (
    -- each query against the bare query and the built-in of the same round,
    -- per row
    SELECT t.pos, t.rep, t.ms, q.nrows,
           (t.ms / q.nrows - b.ms / bq.nrows) * 1e6 AS ns_over_bare
      FROM timings AS t
      JOIN queries AS q USING (pos)
      JOIN timings AS b ON b.rep = t.rep AND b.pos = 1
      JOIN queries AS bq ON bq.pos = 1
), med AS (
    SELECT q.pos, q.label, q.kind, q.nrows,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.ms) AS ms,
           min(p.ms) AS min_ms,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.ns_over_bare) AS ns_over_bare,
           string_agg(round(p.ms::numeric)::text, ' ' ORDER BY p.rep) AS runs
      FROM queries AS q JOIN paired AS p USING (pos)
     GROUP BY q.pos, q.label, q.kind, q.nrows
)
SELECT m.label AS query,
       m.nrows AS "rows",
       round(m.ms::numeric, 1) AS "median ms",
       round(m.min_ms::numeric, 1) AS "min ms",
       round((m.nrows / (m.ms / 1000) / 1e6)::numeric, 3) AS "M calls/s",
       round((m.ms * 1e6 / m.nrows)::numeric, 1) AS "ns/row",
       CASE WHEN m.kind <> 'baseline' THEN round(m.ns_over_bare::numeric, 1) END AS "ns/call over bare",
       m.runs AS "runs (ms)"
  FROM med AS m
 ORDER BY m.pos;
\echo 'M calls/s = rows / median seconds of the whole query (generate_series and count included);'
\echo 'ns/row = median ms / rows; ns/call over bare = median over rounds of (ns/row - bare ns/row'
\echo 'of the same round): what one evaluation of the check adds to a row (within the noise'
\echo 'between rounds it can come out negative: compare min ms, too).'

\echo
\echo 'Ratios (rates per row of the whole query; "paired" = median over rounds of the ratio within the round)'
WITH rate AS (
    SELECT t.rep, t.pos, q.nrows / (t.ms / 1000) AS per_s
      FROM timings AS t JOIN queries AS q USING (pos)
), med AS (
    SELECT pos, percentile_cont(0.5) WITHIN GROUP (ORDER BY per_s) AS per_s FROM rate GROUP BY pos
), pair AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a.per_s / b.per_s) AS a_b,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ad.per_s / bd.per_s) AS a_b_denied,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.per_s / c.per_s) AS a_c
      FROM rate AS a
      JOIN rate AS b ON b.rep = a.rep AND b.pos = 5
      JOIN rate AS c ON c.rep = a.rep AND c.pos = 2
      JOIN rate AS ad ON ad.rep = a.rep AND ad.pos = 4
      JOIN rate AS bd ON bd.rep = a.rep AND bd.pos = 6
     WHERE a.pos = 3
)
SELECT v.what, round(v.median::numeric, 3) AS "from medians", round(v.paired::numeric, 3) AS paired,
       v.target,
       CASE WHEN v.threshold IS NULL THEN ''
            WHEN v.median >= v.threshold THEN 'met' ELSE 'NOT met' END AS "target met"
  FROM (SELECT 1 AS k, '(a) has_permission: M checks/s' AS what,
               a.per_s / 1e6 AS median, NULL::double precision AS paired,
               '>= 2' AS target, 2::double precision AS threshold
          FROM med AS a WHERE a.pos = 3
        UNION ALL
        SELECT 2, '(a) / (b): has_permission vs plpgsql, granted',
               a.per_s / b.per_s, pair.a_b, '>= 50', 50
          FROM med AS a, med AS b, pair WHERE a.pos = 3 AND b.pos = 5
        UNION ALL
        SELECT 3, '(a) / (b): has_permission vs plpgsql, denied',
               a.per_s / b.per_s, pair.a_b_denied, '', NULL
          FROM med AS a, med AS b, pair WHERE a.pos = 4 AND b.pos = 6
        UNION ALL
        SELECT 4, '(a) / (c): has_permission vs built-in text =',
               a.per_s / c.per_s, pair.a_c, '', NULL
          FROM med AS a, med AS c, pair WHERE a.pos = 3 AND c.pos = 2) AS v
 ORDER BY v.k;

\echo
\echo 'Single calls after a change of context (':misses' calls each, microseconds, clock_timestamp() around one call)'
SELECT kind AS "call",
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 1) AS "median us",
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY us)::numeric, 1) AS "p90 us",
       round(min(us)::numeric, 1) AS "min us",
       count(*) FILTER (WHERE granted) AS granted,
       count(*) AS calls
  FROM single_calls
 GROUP BY kind
 ORDER BY min(CASE kind WHEN 'new identity' THEN 1 WHEN 'cached' THEN 2
                        WHEN 'invalidated' THEN 3 ELSE 4 END);
\echo 'new identity: first check for a user (its patterns loaded with one query); cached: the'
\echo 'same users again; invalidated: first check after a change to taskforce.roles (catalog and'
\echo 'patterns reloaded); plpgsql: the hand-written check, which reads the tables on every call.'
COMMIT;
