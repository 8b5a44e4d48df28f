-- test/bench/context_readers_run.sql: the measurements of context_readers.sh,
-- run as the ordinary role "bench" with psql -v n=ROWS -v reps=REPETITIONS.
\set ON_ERROR_STOP 1
SET max_parallel_workers_per_gather = 0;
SET jit = off;
SET app.tenant = 't001';
SET bench.n = :n;
SET bench.reps = :reps;
SELECT taskforce.act_as('t001', 'bench-user', ARRAY['agent-operator', 'reviewer'],
                        scope => 'session') AS context_established \gset

\echo 'context (session scope) as role bench:'
SELECT session_user, tenant_id, user_id, roles, scope, expires_at > now() AS live
  FROM taskforce.current_context();

-- The queries: each evaluates its expression once per row of
-- generate_series, inside an aggregate so it cannot become a one-time filter.
CREATE TEMP TABLE queries (pos int, label text, kind text, sql text);
INSERT INTO queries VALUES
    (1, 'bare count(*)',        'baseline',
        format('SELECT count(*) FROM generate_series(1, %s)', :n)),
    (2, 'nullif(g, 0)',         'builtin',
        format('SELECT count(nullif(g, 0)) FROM generate_series(1, %s) AS g', :n)),
    (3, 'current_setting()',    'builtin',
        format('SELECT count(current_setting(''app.tenant'')) FROM generate_series(1, %s)', :n)),
    (4, 'current_tenant()',     'reader',
        format('SELECT count(taskforce.current_tenant()) FROM generate_series(1, %s)', :n)),
    (5, 'current_user_id()',    'reader',
        format('SELECT count(taskforce.current_user_id()) FROM generate_series(1, %s)', :n)),
    (6, 'current_roles()',      'reader',
        format('SELECT count(taskforce.current_roles()) FROM generate_series(1, %s)', :n));
CREATE TEMP TABLE timings (rep int, pos int, ms double precision);

-- Warm up once, then :reps rounds; each round runs every query once,
-- starting one query later than the round before.
SELECT count(bench_time(sql, :n)) AS warmed_up FROM queries \gset
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
            INSERT INTO timings
                VALUES (r, q.pos, bench_time(q.sql, current_setting('bench.n')::bigint));
        END LOOP;
    END LOOP;
END
$$;

\echo
\echo 'queries:'
SELECT label, sql FROM queries ORDER BY pos;

\echo
\echo 'Per-row cost of the context readers (N = ':n' rows per query, ':reps' interleaved repetitions, median wall-clock ms)'
WITH paired AS (
    -- each query against the bare query and the built-ins of the same round
    SELECT t.pos, t.rep, t.ms,
           t.ms - b.ms AS over_bare, t.ms / n.ms AS per_nullif
      FROM timings AS t
      JOIN timings AS b ON b.rep = t.rep AND b.pos = 1
      JOIN timings AS n ON n.rep = t.rep AND n.pos = 2
), med AS (
    SELECT q.pos, q.label, q.kind,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.ms) AS ms,
           min(p.ms) AS min_ms,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.over_bare) AS over_bare,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.per_nullif) AS per_nullif,
           string_agg(round(p.ms::numeric)::text, ' ' ORDER BY p.rep) AS runs
      FROM queries AS q JOIN paired AS p USING (pos)
     GROUP BY q.pos, q.label, q.kind
)
SELECT m.label AS query,
       m.kind,
       round(m.ms::numeric, 1) AS "median ms",
       round(m.min_ms::numeric, 1) AS "min ms",
       round((:n / (m.ms / 1000) / 1e6)::numeric, 2) AS "M calls/s",
       CASE WHEN m.kind <> 'baseline'
            THEN round((m.over_bare * 1e6 / :n)::numeric, 1) END AS "ns/call over bare",
       CASE WHEN m.kind = 'reader' THEN round((m.ms / n.ms)::numeric, 3) END AS "/ nullif",
       CASE WHEN m.kind = 'reader' THEN round(m.per_nullif::numeric, 3) END AS "/ nullif, paired",
       CASE WHEN m.kind = 'reader' THEN round((m.ms / s.ms)::numeric, 3) END AS "/ current_setting",
       CASE WHEN m.kind = 'reader'
            THEN CASE WHEN :n / (m.ms / 1000) >= 4e6 THEN 'met' ELSE 'NOT met' END END
            AS ">= 4M calls/s",
       m.runs AS "runs (ms)"
  FROM med AS m
  CROSS JOIN (SELECT ms FROM med WHERE pos = 2) AS n
  CROSS JOIN (SELECT ms FROM med WHERE pos = 3) AS s
 ORDER BY m.pos;
\echo 'M calls/s = N / median seconds of the whole query (generate_series and count included).'
\echo 'ns/call over bare = median over rounds of (query ms - bare ms of the same round) / N:'
\echo '  what one evaluation of the expression adds to a row.'
\echo '/ nullif, / current_setting = reader median / built-in median; "paired" = median over'
\echo '  rounds of reader ms / nullif ms of the same round (less sensitive to load drift).'
