#!/usr/bin/env bash
# test/bench/acl_check.sh: per-row cost of resource ACLs in a protected scan
# (taskforce.protect_table, the C decision of src/acl) against the same
# rules in PL/pgSQL and against tenant isolation alone, and the cost of
# taskforce.accessible_resources() on 1M resources.
#
#   bash test/bench/acl_check.sh
#
# Starts a throwaway PostgreSQL 15 instance (taskforce preloaded, port 55605
# on 127.0.0.1, removed on exit; max_parallel_workers_per_gather = 0, as the
# ACL functions are parallel unsafe, and jit = off) and loads
# acl_check_setup.sql: tenant t001 with 10,000 conversation ACLs and
# BENCH_ROWS document ACLs in 20 shapes that exercise every rule of the
# decision (65 % readable by the timed user, alice: owner, grants to her
# and to her role with and without expiry, policies restricted to roles,
# project membership direct, through a team and as owner, session
# participation), and two shapes of table, three identical tables each:
#   msg_*  BENCH_ROWS messages of the 10,000 conversations, in time order
#          (consecutive rows never share a conversation);
#   res_*  BENCH_ROWS rows, each its own resource (the worst case: every
#          row's ACL is a different cache entry, more than the cache keeps);
# (a) *_acl: enable_tenant_isolation + protect_table; (b) *_plpgsql: the
# same rules in a PL/pgSQL function in a RESTRICTIVE policy (its first
# BENCH_BASELINE_ROWS rows only: it is slow); (c) *_plain: tenant isolation
# only.  As the application role bench_app (taskforce_app) after act_as(
# 't001', 'alice', scope => 'session') by bench_admin, it checks that
# (a), (b) and an oracle return the same rows, then times
#   SELECT count(*), sum(tokens) FROM <table>
# in interleaved rounds (acl_check_run.sql) and prints each scan's median
# ms, rows/s, ns and checks/s of the check over the plain scan, and the
# ratios (a)/(c) (target <= 2 on the msg shape), (b)/(a) (target >= 100)
# and (a) in checks/s (target >= 1M).  Then accessible_resources('read')
# on the tenant's ACLs against a count of them and against check_access on
# each, the first msg_acl scan of a new session (cold caches: every ACL
# loaded), and the plan of accessible_resources' query (auto_explain).
#
# Settings (environment): BENCH_ROWS (1000000), BENCH_BASELINE_ROWS (20000),
# BENCH_REPS (5), BENCH_WORST_REPS (1; 0 skips the res shape: each of its
# taskforce scans loads all BENCH_ROWS ACLs, about 20 s for 1M),
# BENCH_LIST_REPS (3), BENCH_PORT (55605).  About 2 minutes with defaults
# (40 s of them loading).  Run as root it re-runs itself as the user
# "postgres" from a temporary copy of test/; otherwise it needs only
# taskforce installed.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

rows=${BENCH_ROWS:-1000000}
baseline_rows=${BENCH_BASELINE_ROWS:-20000}
reps=${BENCH_REPS:-5}
worst_reps=${BENCH_WORST_REPS:-1}
list_reps=${BENCH_LIST_REPS:-3}
port=${BENCH_PORT:-55605}
resources=10000

bench_start_instance acl "$port" "shared_buffers = 1GB"

echo "== loading $resources + $rows ACLs and 2 x $rows + 2 x $baseline_rows rows, VACUUM ANALYZE"
load_start=$SECONDS
tf_psql "$dir" "$port" -d bench -v rows="$rows" -v resources="$resources" \
	-v baseline_rows="$baseline_rows" -f "$bench_dir/acl_check_setup.sql" >/dev/null
echo "   loaded in $((SECONDS - load_start)) s"

echo
echo "== timing as role bench_app ($reps rounds, res shape in $worst_reps; N = $rows, $baseline_rows for PL/pgSQL)"
bench_psql_as bench_admin "$dir" "$port" -d bench -P border=2 \
	-v n="$rows" -v m="$baseline_rows" -v reps="$reps" -v worst_reps="$worst_reps" \
	-v list_reps="$list_reps" -f "$bench_dir/acl_check_run.sql"

# cold_scan: in a new session, the first check (which loads alice's
# identity: roles, 8 projects, 250 sessions and her grants), the first scan
# of msg_acl, which loads each of the 10,000 conversations' ACLs into the
# session's cache, then the second; prints the three in ms.
cold_scan() {
	bench_psql_as bench_admin "$dir" "$port" -d bench -At <<-'EOF'
		SELECT taskforce.act_as('t001', 'alice', scope => 'session') IS NULL AS ok \gset
		SET ROLE bench_app;
		SELECT bench_time('SELECT count(*) FROM (SELECT taskforce.check_access(''conv-00000'', ''read'')) AS c', 1);
		SELECT bench_time('SELECT count(*) FROM msg_acl', count(*)) FROM msg_plain
		 WHERE substr(resource_id, 6)::int % 20 IN (0, 1, 2, 3, 4, 5, 6, 9, 10, 12, 14, 16, 18);
		SELECT bench_time('SELECT count(*) FROM msg_acl', count(*)) FROM msg_plain
		 WHERE substr(resource_id, 6)::int % 20 IN (0, 1, 2, 3, 4, 5, 6, 9, 10, 12, 14, 16, 18);
	EOF
}
echo
echo "== the first msg_acl scan of a new session (cold caches: $resources ACLs loaded), $reps sessions"
declare -a first cold warm
for ((i = 0; i < reps; i++)); do
	mapfile -t t < <(cold_scan)
	first+=("${t[0]}")
	cold+=("${t[1]}")
	warm+=("${t[2]}")
done
printf '   first check_access (loads the identity): median %.1f ms\n' "$(bench_median "${first[@]}")"
printf '   first scan: median %.1f ms (runs: %s); second scan: median %.1f ms\n' \
	"$(bench_median "${cold[@]}")" "$(printf '%.0f ' "${cold[@]}")" "$(bench_median "${warm[@]}")"
awk -v c="$(bench_median "${cold[@]}")" -v w="$(bench_median "${warm[@]}")" -v n="$resources" \
	'BEGIN { printf "   => about %.1f us to load one ACL into the cache\n", (c - w) * 1000 / n }'

echo
echo "== the plan of accessible_resources('read')'s query (auto_explain, as the superuser in alice's"
echo "   context: the function is SECURITY DEFINER, so bench_app gets the same plan)"
# auto_explain notices go to stderr; keep the plan of the query on resource_acls only.
tf_psql "$dir" "$port" -d bench 2>&1 >/dev/null <<-'EOF' |
	SELECT taskforce.act_as('t001', 'alice', scope => 'session') IS NULL AS ok \gset
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_nested_statements = on;
	SET auto_explain.log_analyze = on;
	SET auto_explain.log_timing = off;
	SET auto_explain.log_level = notice;
	SET client_min_messages = notice;
	SELECT count(*) FROM taskforce.accessible_resources('read');
EOF
	awk 'function flush() { if (text ~ /taskforce.resource_acls AS a/ && text ~ /_acl_allows_resource/) printf "%s", plan
			text = ""; plan = ""; q = 0 }
		/^NOTICE:/ { flush(); next }
		/^Query Text:/ { text = $0; next }
		!q && /^[A-Z]/ { q = 1 }
		q { if (length($0) > 150) $0 = substr($0, 1, 150) "..."
			plan = plan "   " $0 "\n"; next }
		{ text = text "\n" $0 }
		END { flush() }'
