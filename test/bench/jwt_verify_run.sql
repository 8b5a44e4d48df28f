-- test/bench/jwt_verify_run.sql: the measurements of jwt_verify.sh, run as
-- the ordinary role "bench" with psql -v n=ROWS -v m=BASELINE_ROWS
-- -v reps=REPETITIONS.
\set ON_ERROR_STOP 1
SET max_parallel_workers_per_gather = 0;
SET jit = off;
SET bench.reps = :reps;

-- pgcrypto's hmac() is named with the schema pgcrypto was installed in.
SELECT e.extnamespace::regnamespace AS crypto_schema
  FROM pg_extension AS e WHERE e.extname = 'pgcrypto' \gset
SELECT token, signing_input, secret, length(token) AS token_bytes,
       convert_from(bench_url_decode(split_part(token, '.', 2)), 'UTF8') AS payload
  FROM bench_jwt \gset

\echo 'the token (HS256, minted by taskforce.mint_jwt), as verify_jwt and the pgjwt-style verifier see it:'
SELECT :token_bytes AS "token bytes", length(:'signing_input') AS "signing input bytes",
       length(:'payload') AS "payload bytes", :'crypto_schema' AS "pgcrypto schema";
SELECT taskforce.verify_jwt(:'token') AS "verify_jwt(token)";
SELECT taskforce.verify_jwt(:'token') = bench_pgjwt_verify(:'token', :'secret')::jsonb AS "same claims";
SELECT split_part(:'token', '.', 3)
       = translate(encode(:"crypto_schema".hmac(:'signing_input', :'secret', 'sha256'), 'base64'), '+/=', '-_')
       AS "hmac() gives the signature";

-- The queries.  Every variant sees the token (or its signing input, or its
-- payload) through the same CASE WHEN g > 0 THEN ... END, so the call runs
-- once per row and cannot become a one-time filter or be constant-folded
-- (hmac() is immutable).
CREATE TEMP TABLE queries (pos int, label text, kind text, nrows bigint, sql text);
INSERT INTO queries VALUES
    (1, 'bare: count(token)', 'baseline', :n,
        format('SELECT count(CASE WHEN g > 0 THEN %L END) FROM generate_series(1, %s) AS g',
               :'token', :n)),
    (2, '(c) pgcrypto hmac()', 'builtin', :n,
        format('SELECT count(%I.hmac(CASE WHEN g > 0 THEN %L END, %L, ''sha256''))'
               ' FROM generate_series(1, %s) AS g', :'crypto_schema', :'signing_input', :'secret', :n)),
    (3, '(a) verify_jwt', 'taskforce', :n,
        format('SELECT count(taskforce.verify_jwt(CASE WHEN g > 0 THEN %L END))'
               ' FROM generate_series(1, %s) AS g', :'token', :n)),
    (4, '(b) pgjwt-style plpgsql', 'plpgsql', :m,
        format('SELECT count(bench_pgjwt_verify(CASE WHEN g > 0 THEN %L END, %L))'
               ' FROM generate_series(1, %s) AS g', :'token', :'secret', :m)),
    (5, 'payload::jsonb (inside (a))', 'part', :n,
        format('SELECT count((CASE WHEN g > 0 THEN %L END)::jsonb)'
               ' FROM generate_series(1, %s) AS g', :'payload', :n));
CREATE TEMP TABLE timings (rep int, pos int, ms double precision);

-- Warm up once, then :reps rounds; each round runs every query once,
-- starting one query later than the round before.
SELECT count(bench_time(sql, nrows)) AS warmed_up FROM queries \gset
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
            INSERT INTO timings VALUES (r, q.pos, bench_time(q.sql, q.nrows));
        END LOOP;
    END LOOP;
END
$$;

\echo
\echo 'queries (the token, signing input, key and payload are literals in the real queries):'
SELECT label, nrows AS "rows",
       replace(replace(replace(replace(sql, quote_literal(:'token'), '<token>'),
                               quote_literal(:'signing_input'), '<signing input>'),
                       quote_literal(:'secret'), '<key>'),
               quote_literal(:'payload'), '<payload>') AS sql
  FROM queries ORDER BY pos;

\echo
\echo 'Per-call cost of verifying a ':token_bytes'-byte HS256 token (':reps' interleaved repetitions, median wall-clock ms)'
WITH paired AS (
    -- each query against the bare query of the same round, per row
    SELECT t.pos, t.rep, t.ms,
           (t.ms / q.nrows - b.ms / bq.nrows) * 1e3 AS us_over_bare
      FROM timings AS t
      JOIN queries AS q USING (pos)
      JOIN timings AS b ON b.rep = t.rep AND b.pos = 1
      JOIN queries AS bq ON bq.pos = 1
), med AS (
    SELECT q.pos, q.label, q.kind, q.nrows,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.ms) AS ms,
           min(p.ms) AS min_ms,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.us_over_bare) AS us_over_bare,
           string_agg(round(p.ms::numeric)::text, ' ' ORDER BY p.rep) AS runs
      FROM queries AS q JOIN paired AS p USING (pos)
     GROUP BY q.pos, q.label, q.kind, q.nrows
)
SELECT m.label AS query,
       m.nrows AS "rows",
       round(m.ms::numeric, 1) AS "median ms",
       round(m.min_ms::numeric, 1) AS "min ms",
       round((m.nrows / (m.ms / 1000))::numeric) AS "calls/s",
       round((m.ms * 1e3 / m.nrows)::numeric, 3) AS "us/row",
       CASE WHEN m.kind <> 'baseline' THEN round(m.us_over_bare::numeric, 3) END AS "us/call over bare",
       m.runs AS "runs (ms)"
  FROM med AS m
 ORDER BY m.pos;
\echo 'calls/s = rows / median seconds of the whole query (generate_series and count included);'
\echo 'us/row = median ms / rows; us/call over bare = median over rounds of (us/row - bare us/row'
\echo 'of the same round).  payload::jsonb is not a variant: it is the jsonb conversion of the'
\echo 'claims that verify_jwt returns, timed alone.'

\echo
\echo 'Ratios (speed: rate / rate, per row of the whole query; "paired" = median over rounds of the ratio within the round)'
WITH rate AS (
    SELECT t.rep, t.pos, q.nrows / (t.ms / 1000) AS per_s
      FROM timings AS t JOIN queries AS q USING (pos)
), med AS (
    SELECT pos, percentile_cont(0.5) WITHIN GROUP (ORDER BY per_s) AS per_s FROM rate GROUP BY pos
), pair AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a.per_s / c.per_s) AS a_c,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.per_s / b.per_s) AS a_b
      FROM rate AS a
      JOIN rate AS b ON b.rep = a.rep AND b.pos = 4
      JOIN rate AS c ON c.rep = a.rep AND c.pos = 2
     WHERE a.pos = 3
)
SELECT v.what, round(v.median::numeric, 3) AS "from medians", round(v.paired::numeric, 3) AS paired,
       v.target,
       CASE WHEN v.median >= v.threshold THEN 'met' ELSE 'NOT met' END AS "target met"
  FROM (SELECT 1 AS k, '(a) / (c): verify_jwt vs pgcrypto hmac()' AS what,
               a.per_s / c.per_s AS median, pair.a_c AS paired, '>= 1' AS target,
               1::double precision AS threshold
          FROM med AS a, med AS c, pair WHERE a.pos = 3 AND c.pos = 2
        UNION ALL
        SELECT 2, '(a) / (b): verify_jwt vs pgjwt-style plpgsql',
               a.per_s / b.per_s, pair.a_b, '>= 14', 14
          FROM med AS a, med AS b, pair WHERE a.pos = 3 AND b.pos = 4) AS v
 ORDER BY v.k;
