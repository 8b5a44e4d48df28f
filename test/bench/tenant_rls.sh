#!/usr/bin/env bash
# test/bench/tenant_rls.sh: what taskforce's tenant row-level security costs
# on indexed point lookups, against no RLS and against a hand-written policy.
#
#   bash test/bench/tenant_rls.sh
#
# Starts a throwaway PostgreSQL 15 instance (taskforce preloaded, port 55601
# on 127.0.0.1, removed on exit) and loads three tables with the same
# 1,000,000 rows (100 tenants x 10,000 ids, PRIMARY KEY (tenant_id, id)),
# see tenant_rls_setup.sql.  Then pgbench -M prepared -c 2 -j 2 runs point
# lookups by a random id, as an ordinary LOGIN role (member of
# taskforce_admin, not superuser), each client on one tenant:
#   (i)   t_plain      no RLS;  WHERE tenant_id = :tenant AND id = :id
#   (ii)  t_setting    RLS USING (tenant_id = current_setting('app.tenant'));
#                      WHERE id = :id; app.tenant set once per connection
#   (iii) t_taskforce  taskforce.enable_tenant_isolation(); WHERE id = :id;
#                      taskforce.act_as(tenant, ..., scope => 'session') once
#                      per connection
# (scripts tenant_rls_{plain,setting,taskforce}.pgbench; each sets its
# context once per connection under \if :ctx = 0, with -D ctx=0).
#
# Each of BENCH_REPS repetitions runs the three back to back for
# BENCH_SECONDS each, rotating the order.  So that a burst of load from
# elsewhere on the machine does not land on one variant only, the
# BENCH_SECONDS of each variant are run as BENCH_SLICES interleaved slices
# (plain, setting, taskforce, setting, taskforce, plain, ...) and the
# variant's TPS for the repetition is the mean over its slices.  The table
# shows each repetition's TPS and the ratios (ii)/(i) and (iii)/(i), their
# medians, and the median ratio over all slices run back to back.
# Target: (iii)/(i) >= 0.97.  The plan of each lookup (EXPLAIN as the bench
# role, with its context) is printed first, see tenant_rls_check.sql.
#
# Settings (environment): BENCH_SECONDS (10), BENCH_SLICES (5), BENCH_REPS
# (5), BENCH_CLIENTS (2), BENCH_PORT (55601).  About 3 minutes with defaults.
# Run as root it re-runs itself as the user "postgres" from a temporary
# copy of test/; otherwise it needs only taskforce installed.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

seconds=${BENCH_SECONDS:-10}
reps=${BENCH_REPS:-5}
clients=${BENCH_CLIENTS:-2}
port=${BENCH_PORT:-55601}
slices=${BENCH_SLICES:-5}

bench_start_instance rls "$port" "shared_buffers = 256MB"

echo "== loading 3 x 1,000,000 rows (100 tenants x 10,000 ids), VACUUM ANALYZE"
load_start=$SECONDS
tf_psql "$dir" "$port" -d bench -f "$bench_dir/tenant_rls_setup.sql" >/dev/null
echo "   loaded in $((SECONDS - load_start)) s"

echo
echo "== plans as role bench (generic plans, as pgbench -M prepared uses them; tenant t001)"
bench_psql_as bench "$dir" "$port" -d bench -f "$bench_dir/tenant_rls_check.sql"

# run_variant NAME SECONDS: one pgbench run of tenant_rls_NAME.pgbench; prints its TPS.
run_variant() {
	local name=$1 secs=$2 out
	if ! out=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" -D ctx=0 \
		-h "$dir" -p "$port" -U bench -f "$bench_dir/tenant_rls_$name.pgbench" bench 2>&1); then
		echo "pgbench failed for $name:" >&2
		echo "$out" >&2
		return 1
	fi
	echo "$out" | awk '/^tps = / { print $3; exit }'
}

echo
echo "== warming up (3 s each)"
for v in plain setting taskforce; do
	run_variant "$v" 3 >/dev/null
done

declare -A tps
variants=(plain setting taskforce)
declare -A sum cur
declare -a r2 r3 t1 t2 t3 sr2 sr3
slice=$(awk -v s="$seconds" -v n="$slices" 'BEGIN { printf "%d", s / n }')
echo "== $reps repetitions x 3 variants x ${seconds} s (in $slices interleaved slices of $slice s),"
echo "   pgbench -M prepared -c $clients -j $clients"
for ((rep = 1; rep <= reps; rep++)); do
	order=""
	for v in "${variants[@]}"; do sum[$v]=0; done
	for ((s = 0; s < slices; s++)); do
		for ((k = 0; k < 3; k++)); do
			v=${variants[$(((rep - 1 + s + k) % 3))]}
			[ "$s" -gt 0 ] || order="$order $v"
			t=$(run_variant "$v" "$slice")
			cur[$v]=$t
			sum[$v]=$(awk -v a="${sum[$v]}" -v b="$t" 'BEGIN { print a + b }')
		done
		# the three slices just run back to back, under the same conditions
		sr2+=("$(awk -v a="${cur[setting]}" -v b="${cur[plain]}" 'BEGIN { printf "%.4f", a / b }')")
		sr3+=("$(awk -v a="${cur[taskforce]}" -v b="${cur[plain]}" 'BEGIN { printf "%.4f", a / b }')")
	done
	for v in "${variants[@]}"; do
		tps[$rep,$v]=$(awk -v a="${sum[$v]}" -v n="$slices" 'BEGIN { printf "%.1f", a / n }')
	done
	t1+=("${tps[$rep,plain]}")
	t2+=("${tps[$rep,setting]}")
	t3+=("${tps[$rep,taskforce]}")
	r2+=("$(awk -v a="${tps[$rep,setting]}" -v b="${tps[$rep,plain]}" 'BEGIN { printf "%.4f", a / b }')")
	r3+=("$(awk -v a="${tps[$rep,taskforce]}" -v b="${tps[$rep,plain]}" 'BEGIN { printf "%.4f", a / b }')")
	echo "   repetition $rep done (first order:$order)"
done

echo
echo "Tenant RLS point lookups: TPS (pgbench -M prepared, -c $clients -j $clients, ${seconds} s per variant and repetition)"
line="+--------+-------------+----------------+-------------------+----------+-----------+"
echo "$line"
printf '| %-6s | %11s | %14s | %17s | %8s | %9s |\n' \
	"run" "(i) t_plain" "(ii) t_setting" "(iii) t_taskforce" "(ii)/(i)" "(iii)/(i)"
echo "$line"
for ((rep = 1; rep <= reps; rep++)); do
	printf '| %-6s | %11.1f | %14.1f | %17.1f | %8.3f | %9.3f |\n' "rep $rep" \
		"${t1[rep - 1]}" "${t2[rep - 1]}" "${t3[rep - 1]}" "${r2[rep - 1]}" "${r3[rep - 1]}"
done
echo "$line"
m1=$(bench_median "${t1[@]}")
m2=$(bench_median "${t2[@]}")
m3=$(bench_median "${t3[@]}")
mr2=$(bench_median "${r2[@]}")
mr3=$(bench_median "${r3[@]}")
printf '| %-6s | %11.1f | %14.1f | %17.1f | %8.3f | %9.3f |\n' "median" \
	"$m1" "$m2" "$m3" "$mr2" "$mr3"
printf '| %-57s | %8.3f | %9.3f |\n' "median of the ${#sr3[@]} ratios of slices run back to back" \
	"$(bench_median "${sr2[@]}")" "$(bench_median "${sr3[@]}")"
echo "$line"
echo "TPS per repetition: mean of its $slices slices of $slice s; ratio medians: medians of the"
echo "per-repetition ratios, and of the ratios of slices run back to back (robust to load drift)."
if awk -v r="$mr3" 'BEGIN { exit !(r >= 0.97) }'; then
	echo "target (iii)/(i) >= 0.97: met (median $mr3)"
else
	echo "target (iii)/(i) >= 0.97: NOT met (median $mr3)"
fi
