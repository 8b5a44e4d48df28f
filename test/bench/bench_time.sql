-- test/bench/bench_time.sql: the timing helper every benchmark's setup
-- includes (\ir bench_time.sql).

-- Runs a query returning one bigint, checks it, and returns the elapsed
-- wall-clock time in milliseconds (clock_timestamp() around the EXECUTE,
-- so planning, a few microseconds, is included; no EXPLAIN ANALYZE
-- instrumentation).
CREATE FUNCTION public.bench_time(q text, expect bigint) RETURNS double precision
    LANGUAGE plpgsql
    AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    n bigint;
BEGIN
    t0 := clock_timestamp();
    EXECUTE q INTO n;
    t1 := clock_timestamp();
    IF n IS DISTINCT FROM expect THEN
        RAISE EXCEPTION 'query % returned %, expected %', q, n, expect;
    END IF;
    RETURN extract(epoch FROM t1 - t0) * 1000;
END
$$;
