#!/usr/bin/env bash
# test/bench/context_readers.sh: per-row cost of taskforce's context readers
# (current_tenant(), current_user_id(), current_roles()) against built-in
# C expressions.
#
#   bash test/bench/context_readers.sh
#
# Starts a throwaway PostgreSQL 15 instance (taskforce preloaded, port 55602
# on 127.0.0.1, removed on exit; max_parallel_workers_per_gather = 0 and
# jit = off for stable numbers).  As an ordinary LOGIN role (member of
# taskforce_admin, not superuser) with a session-scoped context from
# taskforce.act_as(), it times queries such as
#   SELECT count(taskforce.current_tenant()) FROM generate_series(1, N)
# (the reader sits in the aggregate's argument, so it runs once per row; in
# a WHERE clause without a column it would be a one-time filter), against
#   SELECT count(*) FROM generate_series(1, N)                  bare
#   SELECT count(nullif(g, 0)) FROM generate_series(1, N) AS g  built-in comparison
#   SELECT count(current_setting('app.tenant')) FROM ...        built-in text reader
# N = 2,000,000, 7 interleaved repetitions, wall-clock time from
# clock_timestamp() around each query (context_readers_run.sql).  Prints each
# query's median ms, calls/s (N / median seconds), ns per call over the bare
# query and the ratio reader/built-in.  Target: >= 4M calls/s.
#
# Settings (environment): BENCH_ROWS (2000000), BENCH_REPS (7),
# BENCH_PORT (55602).  About 30 seconds with defaults.  Run as root it
# re-runs itself as the user "postgres" from a temporary copy of test/.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

rows=${BENCH_ROWS:-2000000}
reps=${BENCH_REPS:-7}
port=${BENCH_PORT:-55602}

bench_start_instance readers "$port"

tf_psql "$dir" "$port" -d bench -f "$bench_dir/context_readers_setup.sql" >/dev/null

echo "== timing, as role bench ($reps repetitions of each query, N = $rows)"
bench_psql_as bench "$dir" "$port" -d bench -P border=2 \
	-v n="$rows" -v reps="$reps" -f "$bench_dir/context_readers_run.sql"
