#!/usr/bin/env bash
# test/bench/permission_check.sh: per-row cost of taskforce.has_permission()
# against a hand-written PL/pgSQL check over the same tables and against a
# built-in C comparison.
#
#   bash test/bench/permission_check.sh
#
# Starts a throwaway PostgreSQL 15 instance (taskforce preloaded, port 55603
# on 127.0.0.1, removed on exit; max_parallel_workers_per_gather = 0 and
# jit = off for stable numbers) and loads one tenant with 1,002 users,
# 8 custom roles and about 2,500 role grants (permission_check_setup.sql).
# The timed user, u0001, holds the system role operator and the custom role
# agent_admin ('agent:*', 'session:read'); the checked permission,
# agent:delete, is granted only through the wildcard.  As an ordinary LOGIN
# role (member of taskforce_admin, not superuser), in one transaction with
# the context of u0001 from taskforce.act_as(), it times
#   (a) SELECT count(*) FILTER (WHERE taskforce.has_permission(
#           CASE WHEN g >= 0 THEN 'agent:delete' END))
#         FROM generate_series(1, N) AS g
#   (b) the same with bench_has_permission_plpgsql(), which reads the
#       caller's unexpired grants and their roles' patterns on every call
#       and matches them with split_part() (over BENCH_BASELINE_ROWS rows,
#       it is slow)
#   (c) the same with (CASE WHEN g >= 0 THEN 'agent:delete' END) = 'agent:delete'
# plus a bare count(*) FILTER (WHERE g >= 0) and (a) and (b) for a denied
# permission (audit:read).  The CASE makes every variant evaluate its check
# once per row: with a constant argument the planner would run it once.
# N = 2,000,000, 7 interleaved repetitions, wall-clock time from
# clock_timestamp() around each query (permission_check_run.sql).  Prints
# each query's median ms, calls/s and ns per row, and the ratios (a)/(b)
# (target >= 50), (a)/(c), and (a) in checks/s (target >= 2M).  Then the
# cost of single checks after a change of context: for a user not yet in
# the per-backend cache, for a cached one, after an invalidation, and for
# the PL/pgSQL check (BENCH_MISSES calls each).
#
# Settings (environment): BENCH_ROWS (2000000), BENCH_BASELINE_ROWS (20000),
# BENCH_REPS (7), BENCH_MISSES (1000), BENCH_PORT (55603).  About a minute
# with defaults.  Run as root it re-runs itself as the user "postgres" from
# a temporary copy of test/; otherwise it needs only taskforce installed.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

rows=${BENCH_ROWS:-2000000}
baseline_rows=${BENCH_BASELINE_ROWS:-20000}
reps=${BENCH_REPS:-7}
misses=${BENCH_MISSES:-1000}
port=${BENCH_PORT:-55603}

bench_start_instance permission "$port"

echo "== loading 1,002 users, 8 custom roles and their grants"
tf_psql "$dir" "$port" -d bench -f "$bench_dir/permission_check_setup.sql" >/dev/null

echo "== timing, as role bench ($reps repetitions of each query, N = $rows, $baseline_rows for PL/pgSQL)"
bench_psql_as bench "$dir" "$port" -d bench -P border=2 \
	-v n="$rows" -v m="$baseline_rows" -v reps="$reps" -v misses="$misses" \
	-f "$bench_dir/permission_check_run.sql"
