-- test/bench/jwt_verify_run.sql: the measurements of jwt_verify.sh, run as
-- the ordinary role "bench" with psql -v n=ROWS -v m=BASELINE_ROWS
-- -v cold=COLD_ROWS -v reps=REPETITIONS.
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

\echo 'the tokens (HS256, minted by taskforce.mint_jwt; warm: one token, cold: distinct tokens):'
SELECT :token_bytes AS "token bytes", length(:'signing_input') AS "signing input bytes",
       length(:'payload') AS "payload bytes", :'crypto_schema' AS "pgcrypto schema",
       c.tokens AS "cold tokens", c.distinct_tokens AS "distinct", c.min_bytes || ' .. ' || c.max_bytes
       AS "cold token bytes"
  FROM (SELECT count(*) AS tokens, count(DISTINCT token) AS distinct_tokens,
               min(length(token)) AS min_bytes, max(length(token)) AS max_bytes
          FROM bench_jwt_cold) AS c;
SELECT taskforce.verify_jwt(:'token') AS "verify_jwt(token)";
SELECT taskforce.verify_jwt(:'token') = bench_pgjwt_verify(:'token', :'secret')::jsonb AS "same claims (b)",
       taskforce.verify_jwt(:'token') = v.payload::jsonb AND v.valid AS "same claims, valid (b-pgjwt)"
  FROM bench_pgjwt_real_verify(:'token', :'secret') AS v;
SELECT split_part(:'token', '.', 3)
       = translate(encode(:"crypto_schema".hmac(:'signing_input', :'secret', 'sha256'), 'base64'), '+/=', '-_')
       AS "hmac() gives the signature",
       (SELECT bool_and(split_part(c.token, '.', 3)
                        = translate(encode(:"crypto_schema".hmac(c.signing_input, :'secret', 'sha256'),
                                           'base64'), '+/=', '-_'))
          FROM bench_jwt_cold AS c) AS "... for every cold token";

-- The queries.  Warm: every variant sees the one token (or its signing
-- input, or its payload) through the same CASE WHEN g > 0 THEN ... END, so
-- the call runs once per row and cannot become a one-time filter or be
-- constant-folded (hmac() is immutable).  Cold: every variant reads the
-- distinct tokens (or their signing inputs) from bench_jwt_cold, one row
-- each, in the same order every time.  verify_jwt remembers the last 512
-- tokens that verified and forgets them all when a 513th comes, so every
-- token of a pass over more than 512 distinct tokens is a miss: it was
-- last seen a whole pass, at least 512 other tokens, before.  base is the
-- bare query each variant is set against.
CREATE TEMP TABLE queries (pos int, label text, kind text, base int, nrows bigint, sql text);
INSERT INTO queries VALUES
    (1, 'warm bare: count(token)', 'baseline', 1, :n,
        format('SELECT count(CASE WHEN g > 0 THEN %L END) FROM generate_series(1, %s) AS g',
               :'token', :n)),
    (2, '(c) pgcrypto hmac()', 'builtin', 1, :n,
        format('SELECT count(%I.hmac(CASE WHEN g > 0 THEN %L END, %L, ''sha256''))'
               ' FROM generate_series(1, %s) AS g', :'crypto_schema', :'signing_input', :'secret', :n)),
    (3, '(a-warm) verify_jwt', 'taskforce', 1, :n,
        format('SELECT count(taskforce.verify_jwt(CASE WHEN g > 0 THEN %L END))'
               ' FROM generate_series(1, %s) AS g', :'token', :n)),
    (4, '(b) pgjwt-style plpgsql, lean', 'plpgsql', 1, :m,
        format('SELECT count(bench_pgjwt_verify(CASE WHEN g > 0 THEN %L END, %L))'
               ' FROM generate_series(1, %s) AS g', :'token', :'secret', :m)),
    (5, '(b-pgjwt) pgjwt-shaped verify()', 'plpgsql', 1, :m,
        format('SELECT count(v.payload) FROM generate_series(1, %s) AS g,'
               ' bench_pgjwt_real_verify(CASE WHEN g > 0 THEN %L END, %L) AS v WHERE v.valid',
               :m, :'token', :'secret')),
    (6, 'payload::jsonb (inside (a-cold))', 'part', 1, :n,
        format('SELECT count((CASE WHEN g > 0 THEN %L END)::jsonb)'
               ' FROM generate_series(1, %s) AS g', :'payload', :n)),
    (7, 'cold bare: count(token)', 'baseline', 7, :cold,
        'SELECT count(c.token) FROM bench_jwt_cold AS c'),
    (8, '(c-cold) pgcrypto hmac()', 'builtin', 7, :cold,
        format('SELECT count(%I.hmac(c.signing_input, %L, ''sha256'')) FROM bench_jwt_cold AS c',
               :'crypto_schema', :'secret')),
    (9, '(a-cold) verify_jwt', 'taskforce', 7, :cold,
        'SELECT count(taskforce.verify_jwt(c.token)) FROM bench_jwt_cold AS c'),
    (10, '(b-cold) pgjwt-style plpgsql, lean', 'plpgsql', 7, :cold,
        format('SELECT count(bench_pgjwt_verify(c.token, %L)) FROM bench_jwt_cold AS c', :'secret')),
    (11, '(b-pgjwt-cold) pgjwt-shaped verify()', 'plpgsql', 7, :cold,
        format('SELECT count(v.payload) FROM bench_jwt_cold AS c,'
               ' bench_pgjwt_real_verify(c.token, %L) AS v WHERE v.valid', :'secret'));
CREATE TEMP TABLE timings (rep int, pos int, ms double precision);

-- Warm up once, then :reps rounds; each round runs every query once,
-- starting one query later than the round before.  The warm-up also takes
-- the backend past its first misses, while the memory the remembered
-- tokens take is new to the process: the first two passes over 20,000
-- distinct tokens in a new backend took about three times as long as the
-- later ones when tried by hand.
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
\echo 'Per-call cost of verifying a ':token_bytes'-byte HS256 token, the same one (warm) or ':cold' distinct ones (cold)'
\echo '(':reps' interleaved repetitions, median wall-clock ms)'
WITH paired AS (
    -- each query against its bare query of the same round, per row
    SELECT t.pos, t.rep, t.ms,
           (t.ms / q.nrows - b.ms / bq.nrows) * 1e3 AS us_over_bare
      FROM timings AS t
      JOIN queries AS q USING (pos)
      JOIN timings AS b ON b.rep = t.rep AND b.pos = q.base
      JOIN queries AS bq ON bq.pos = q.base
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
\echo 'calls/s = rows / median seconds of the whole query (generate_series or the scan of'
\echo 'bench_jwt_cold, and count, included); us/row = median ms / rows; us/call over bare = median'
\echo 'over rounds of (us/row - us/row of the bare query of the same round: warm bare for the warm'
\echo 'queries, cold bare for the cold ones).  payload::jsonb is not a variant: it is the jsonb'
\echo 'conversion of the claims that verify_jwt does once per token it has not seen (so on every'
\echo 'cold call, and on no warm one), timed alone.'

\echo
\echo 'Ratios (speed: rate / rate, per row of the whole query; "paired" = median over rounds of the ratio within the round)'
CREATE TEMP TABLE ratios (k int, what text, num int, den int, target text, threshold double precision);
INSERT INTO ratios VALUES
    (1, 'warm: (a-warm) / (c): verify_jwt vs pgcrypto hmac()', 3, 2, '>= 1', 1),
    (2, 'warm: (a-warm) / (b): verify_jwt vs lean pgjwt-style', 3, 4, '>= 14', 14),
    (3, 'warm: (a-warm) / (b-pgjwt): verify_jwt vs pgjwt-shaped', 3, 5, '>= 14', 14),
    (4, 'cold: (a-cold) / (c-cold): verify_jwt vs pgcrypto hmac()', 9, 8, NULL, NULL),
    (5, 'cold: (a-cold) / (b-cold): verify_jwt vs lean pgjwt-style', 9, 10, NULL, NULL),
    (6, 'cold: (a-cold) / (b-pgjwt-cold): verify_jwt vs pgjwt-shaped', 9, 11, NULL, NULL),
    (7, 'cache: (a-warm) / (a-cold): verify_jwt, same vs distinct tokens', 3, 9, NULL, NULL);
WITH rate AS (
    SELECT t.rep, t.pos, q.nrows / (t.ms / 1000) AS per_s
      FROM timings AS t JOIN queries AS q USING (pos)
), med AS (
    SELECT pos, percentile_cont(0.5) WITHIN GROUP (ORDER BY per_s) AS per_s FROM rate GROUP BY pos
), pair AS (
    SELECT r.k, percentile_cont(0.5) WITHIN GROUP (ORDER BY a.per_s / b.per_s) AS ratio
      FROM ratios AS r
      JOIN rate AS a ON a.pos = r.num
      JOIN rate AS b ON b.pos = r.den AND b.rep = a.rep
     GROUP BY r.k
)
SELECT r.what, round((a.per_s / b.per_s)::numeric, 3) AS "from medians", round(p.ratio::numeric, 3) AS paired,
       coalesce(r.target, '') AS target,
       CASE WHEN r.threshold IS NULL THEN ''
            WHEN a.per_s / b.per_s >= r.threshold THEN 'met' ELSE 'NOT met' END AS "target met"
  FROM ratios AS r
  JOIN med AS a ON a.pos = r.num
  JOIN med AS b ON b.pos = r.den
  JOIN pair AS p USING (k)
 ORDER BY r.k;
\echo 'warm: one token on every row, as a pooled backend sees a client reusing its bearer token;'
\echo 'after the first call verify_jwt finds it among the tokens it has verified and checks only'
\echo 'the times (exp, nbf, iat, the key''s validity).  cold: a token verify_jwt has not seen on'
\echo 'every row, so the whole path: parse, HMAC, claims, and remembering the token.  The'
\echo 'targets are for the warm case; the cold ratios have none.'
