-- test/bench/acl_check_run.sql: the measurements of acl_check.sh, run as
-- the LOGIN role bench_admin with psql -v n=ROWS -v m=BASELINE_ROWS
-- -v reps=REPETITIONS -v worst_reps=REPETITIONS -v list_reps=REPETITIONS.
-- bench_admin establishes alice's context with taskforce.act_as(...,
-- scope => 'session') and then SET ROLE bench_app (taskforce_app): every
-- query below runs as an ordinary application role.
\set ON_ERROR_STOP 1
SELECT taskforce.act_as('t001', 'alice', scope => 'session') AS context_established \gset
SET ROLE bench_app;
-- The ACL functions are parallel unsafe: every variant runs serially.
SET max_parallel_workers_per_gather = 0;
SET jit = off;
SET bench.reps = :reps;
SET bench.worst_reps = :worst_reps;
SET bench.list_reps = :list_reps;

\echo 'context (session scope, established by bench_admin) as role bench_app:'
SELECT current_user, tenant_id, user_id, scope FROM taskforce.current_context();
\echo 'the decision for each of the 20 ACL shapes (resources conv-00000 .. conv-00019):'
SELECT r.resource_id, a.scope, a.sensitivity, a.owner_id, e.allowed, e.rule
  FROM generate_series(0, 19) AS i
 CROSS JOIN LATERAL (SELECT format('conv-%s', lpad(i::text, 5, '0')) AS resource_id) AS r
  JOIN taskforce.resource_acls AS a ON a.resource_id = r.resource_id
 CROSS JOIN LATERAL taskforce.explain_access(r.resource_id, 'read') AS e
 ORDER BY r.resource_id;

-- The three variants must return the same rows.  The oracle counts, on the
-- unprotected table, the rows whose resource number falls on a readable
-- ACL shape (see acl_check_setup.sql).
SELECT (SELECT count(*) FROM msg_acl) AS msg_a,
       (SELECT count(*) FROM msg_plain) AS msg_c,
       (SELECT count(*) FROM msg_plain
         WHERE substr(resource_id, 6)::int % 20 IN (0, 1, 2, 3, 4, 5, 6, 9, 10, 12, 14, 16, 18)) AS msg_oracle,
       (SELECT count(*) FROM msg_acl WHERE message_id <= :m) AS msg_a_m,
       (SELECT count(*) FROM msg_plpgsql) AS msg_b_m,
       (SELECT count(*) FROM msg_plain WHERE message_id <= :m) AS msg_c_m,
       (SELECT count(*) FROM res_plain) AS res_c,
       (SELECT count(*) FROM res_plain
         WHERE substr(resource_id, 5)::int % 20 IN (0, 1, 2, 3, 4, 5, 6, 9, 10, 12, 14, 16, 18)) AS res_oracle,
       (SELECT count(*) FROM res_acl WHERE message_id <= :m) AS res_a_m,
       (SELECT count(*) FROM res_plpgsql) AS res_b_m,
       (SELECT count(*) FROM res_plain WHERE message_id <= :m) AS res_c_m \gset
\echo 'rows visible to alice: msg_acl' :msg_a 'of' :msg_c '(oracle' :msg_oracle '); first' :m 'rows: taskforce' :msg_a_m ', plpgsql' :msg_b_m
\echo '                       res_acl (oracle)' :res_oracle 'of' :res_c '; first' :m 'rows: taskforce' :res_a_m ', plpgsql' :res_b_m
SELECT :msg_a = :msg_oracle AND :msg_c = :n AND :msg_a_m = :msg_b_m AND :res_c = :n
       AND :res_a_m = :res_b_m AND :msg_a < :msg_c AS agree \gset
\if :agree
\echo 'check: taskforce, PL/pgSQL and the oracle agree on the visible rows'
\else
\echo 'check FAILED: the variants disagree'
\quit 3
\endif

-- The queries: a count(*) and sum(tokens) over the whole table, the
-- PL/pgSQL variant over its :m rows.
CREATE TEMP TABLE queries (pos int, shape text, label text, kind text, nrows bigint, expect bigint,
                           reps int, sql text);
INSERT INTO queries VALUES
    (1, 'msg', '(c) msg_plain', 'plain', :n, :n, :reps, ''),
    (2, 'msg', '(a) msg_acl', 'taskforce', :n, :msg_a, :reps, ''),
    (3, 'msg', '(b) msg_plpgsql', 'plpgsql', :m, :msg_b_m, :reps, ''),
    (4, 'res', '(c) res_plain', 'plain', :n, :n, :worst_reps, ''),
    (5, 'res', '(a) res_acl', 'taskforce', :n, :res_oracle, :worst_reps, ''),
    (6, 'res', '(b) res_plpgsql', 'plpgsql', :m, :res_b_m, :worst_reps, '');
UPDATE queries SET sql = format('SELECT n FROM (SELECT count(*) AS n, sum(tokens) AS tokens FROM %s) AS q',
                                split_part(label, ' ', 2));
CREATE TEMP TABLE timings (rep int, pos int, ms double precision);

-- Warm up once (loads the caches: the msg shape's 10,000 ACLs stay cached;
-- the res shape's 1M do not fit in the 200,000 a session keeps, so every
-- res_acl scan loads them all again and warming it up would only take
-- time), then rounds; each round runs every query once, starting one query
-- later than the round before.  The res shape runs in :worst_reps of them.
SELECT count(bench_time(sql, expect)) AS warmed_up FROM queries
 WHERE reps > 0 AND label <> '(a) res_acl' \gset
DO $$
DECLARE
    reps int := greatest(current_setting('bench.reps')::int, current_setting('bench.worst_reps')::int);
    nq int := (SELECT count(*) FROM queries);
    r int;
    k int;
    q record;
BEGIN
    FOR r IN 1 .. reps LOOP
        FOR k IN 0 .. nq - 1 LOOP
            SELECT * INTO q FROM queries WHERE pos = (r - 1 + k) % nq + 1;
            IF r <= q.reps THEN
                INSERT INTO timings VALUES (r, q.pos, bench_time(q.sql, q.expect));
            END IF;
        END LOOP;
    END LOOP;
END
$$;

\echo
\echo 'queries:'
SELECT label, nrows AS "rows", expect AS "visible", sql FROM queries ORDER BY pos;

\echo
\echo 'ACL-protected scans (interleaved rounds, median wall-clock ms)'
WITH paired AS (
    -- each query against the plain scan of its shape in the same round, per row
    SELECT t.pos, t.rep, t.ms, q.nrows,
           (t.ms / q.nrows - c.ms / cq.nrows) * 1e6 AS ns_over_plain
      FROM timings AS t
      JOIN queries AS q USING (pos)
      JOIN queries AS cq ON cq.shape = q.shape AND cq.kind = 'plain'
      JOIN timings AS c ON c.rep = t.rep AND c.pos = cq.pos
), med AS (
    SELECT q.pos, q.label, q.kind, q.nrows,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.ms) AS ms,
           min(p.ms) AS min_ms,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.ns_over_plain) AS ns_over_plain,
           string_agg(round(p.ms::numeric)::text, ' ' ORDER BY p.rep) AS runs
      FROM queries AS q JOIN paired AS p USING (pos)
     GROUP BY q.pos, q.label, q.kind, q.nrows
)
SELECT m.label AS scan,
       m.nrows AS "rows",
       round(m.ms::numeric, 1) AS "median ms",
       round(m.min_ms::numeric, 1) AS "min ms",
       round((m.nrows / (m.ms / 1000) / 1e6)::numeric, 3) AS "M rows/s",
       round((m.ms * 1e6 / m.nrows)::numeric, 1) AS "ns/row",
       CASE WHEN m.kind <> 'plain' THEN round(m.ns_over_plain::numeric, 1) END AS "ns/check",
       CASE WHEN m.kind <> 'plain' THEN round((1e3 / m.ns_over_plain)::numeric, 2) END AS "M checks/s",
       m.runs AS "runs (ms)"
  FROM med AS m
 ORDER BY m.pos;
\echo 'M rows/s: rows / median seconds of the whole scan (every row is checked once, so this is'
\echo 'also the checks/s of the whole scan); ns/check: median over rounds of (ns/row - ns/row of'
\echo 'the plain scan of the same round): what the ACL check adds to a row; M checks/s = 1000 / ns/check.'
\echo '(b) scans its table''s first' :m 'rows only (same shape and mix); rates are per row.'

\echo
\echo 'Ratios (per row, from the medians; "paired" = median over rounds of the ratio within the round)'
WITH rate AS (
    SELECT t.rep, t.pos, q.shape, q.kind, t.ms / q.nrows AS ms_per_row
      FROM timings AS t JOIN queries AS q USING (pos)
), med AS (
    SELECT shape, kind, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_per_row) AS ms_per_row
      FROM rate GROUP BY shape, kind
), pair AS (
    SELECT a.shape,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.ms_per_row / c.ms_per_row) AS a_c,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY b.ms_per_row / a.ms_per_row) AS b_a
      FROM rate AS a
      JOIN rate AS b ON b.rep = a.rep AND b.shape = a.shape AND b.kind = 'plpgsql'
      JOIN rate AS c ON c.rep = a.rep AND c.shape = a.shape AND c.kind = 'plain'
     WHERE a.kind = 'taskforce'
     GROUP BY a.shape
)
SELECT v.what, round(v.median::numeric, 3) AS "from medians", round(v.paired::numeric, 3) AS paired,
       v.target,
       CASE WHEN v.threshold IS NULL THEN ''
            WHEN (v.lower AND v.median <= v.threshold) OR (NOT v.lower AND v.median >= v.threshold) THEN 'met'
            ELSE 'NOT met' END AS "target met"
  FROM (SELECT s.k * 10 + 1 AS k, s.shape || ': (a) M checks/s (whole scan)' AS what,
               1e-3 / a.ms_per_row AS median, NULL::double precision AS paired,
               CASE s.k WHEN 1 THEN '>= 1' ELSE '(worst case)' END AS target,
               CASE s.k WHEN 1 THEN 1::double precision END AS threshold, false AS lower
          FROM (VALUES (1, 'msg'), (2, 'res')) AS s(k, shape)
          JOIN med AS a ON a.shape = s.shape AND a.kind = 'taskforce'
        UNION ALL
        SELECT s.k * 10 + 2, s.shape || ': (a) / (c) scan time', a.ms_per_row / c.ms_per_row, p.a_c,
               CASE s.k WHEN 1 THEN '<= 2' ELSE '(worst case)' END,
               CASE s.k WHEN 1 THEN 2::double precision END, true
          FROM (VALUES (1, 'msg'), (2, 'res')) AS s(k, shape)
          JOIN med AS a ON a.shape = s.shape AND a.kind = 'taskforce'
          JOIN med AS c ON c.shape = s.shape AND c.kind = 'plain'
          JOIN pair AS p ON p.shape = s.shape
        UNION ALL
        SELECT s.k * 10 + 3, s.shape || ': (b) / (a) speed-up over PL/pgSQL', b.ms_per_row / a.ms_per_row, p.b_a,
               CASE s.k WHEN 1 THEN '>= 100' ELSE '(worst case)' END,
               CASE s.k WHEN 1 THEN 100::double precision END, false
          FROM (VALUES (1, 'msg'), (2, 'res')) AS s(k, shape)
          JOIN med AS a ON a.shape = s.shape AND a.kind = 'taskforce'
          JOIN med AS b ON b.shape = s.shape AND b.kind = 'plpgsql'
          JOIN pair AS p ON p.shape = s.shape) AS v
 ORDER BY v.k;

-- "What may I access": accessible_resources() over the tenant's ACLs,
-- against a count of the tenant's ACLs (a scan of resource_acls under
-- tenant isolation) and against deciding every one of them with
-- check_access() (what accessible_resources must not do).
SELECT count(*) AS acls FROM taskforce.resource_acls \gset
SELECT count(*) AS conv_acls FROM taskforce.resource_acls WHERE resource_type = 'conversation' \gset
SELECT (SELECT count(*) FROM taskforce.accessible_resources('read', 'conversation')) AS listed,
       (SELECT count(*) FROM taskforce.resource_acls AS a
         WHERE a.resource_type = 'conversation' AND taskforce.check_access(a.resource_id, 'read')) AS checked \gset
\echo
\echo 'accessible_resources(''read'', ''conversation''):' :listed 'of' :conv_acls 'conversations; check_access on each:' :checked
SELECT :listed = :checked AS agree \gset
\if :agree
\else
\echo 'check FAILED: accessible_resources and check_access disagree'
\quit 3
\endif
CREATE TEMP TABLE lists (pos int, label text, sql text, expect bigint);
INSERT INTO lists VALUES
    (1, 'count(*) of resource_acls (tenant isolation)',
        'SELECT count(*) FROM taskforce.resource_acls', :acls),
    (2, 'accessible_resources(''read'')',
        'SELECT count(*) FROM taskforce.accessible_resources(''read'')', NULL),
    (3, 'accessible_resources(''read'', ''conversation'')',
        'SELECT count(*) FROM taskforce.accessible_resources(''read'', ''conversation'')', :listed),
    (4, 'check_access on each conversation ACL',
        'SELECT count(*) FROM taskforce.resource_acls AS a WHERE a.resource_type = ''conversation'' AND taskforce.check_access(a.resource_id, ''read'')', :listed);
SELECT count(*) AS listed_all FROM taskforce.accessible_resources('read') \gset
UPDATE lists SET expect = :listed_all WHERE pos = 2;
CREATE TEMP TABLE list_timings (rep int, pos int, ms double precision);
DO $$
DECLARE
    reps int := current_setting('bench.list_reps')::int;
    q record;
BEGIN
    FOR r IN 1 .. reps LOOP
        FOR q IN SELECT * FROM lists ORDER BY (pos + r) % 4 LOOP
            INSERT INTO list_timings VALUES (r, q.pos, bench_time(q.sql, q.expect));
        END LOOP;
    END LOOP;
END
$$;
\echo
\echo 'What may I access (':acls' ACLs in the tenant;' :list_reps 'interleaved rounds, median wall-clock ms)'
SELECT l.label AS query, l.expect AS "rows",
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms)::numeric, 1) AS "median ms",
       round(min(t.ms)::numeric, 1) AS "min ms",
       string_agg(round(t.ms::numeric)::text, ' ' ORDER BY t.rep) AS "runs (ms)"
  FROM lists AS l JOIN list_timings AS t USING (pos)
 GROUP BY l.pos, l.label, l.expect
 ORDER BY l.pos;
