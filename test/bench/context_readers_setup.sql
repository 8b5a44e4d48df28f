-- test/bench/context_readers_setup.sql: objects for context_readers.sh, run
-- as the bootstrap superuser: the extension, one tenant, an ordinary LOGIN
-- role "bench" (member of taskforce_admin, so it may call act_as) and a
-- timing helper.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION taskforce CASCADE;
SELECT count(*) AS group_roles FROM taskforce.setup_roles();
CREATE ROLE bench LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE taskforce_admin;
SELECT taskforce.create_tenant('t001', 'bench tenant 1') IS NOT NULL AS tenant_created;

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
