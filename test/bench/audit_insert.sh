#!/usr/bin/env bash
# test/bench/audit_insert.sh: what enable_audit costs writers, against no
# trigger and against a hand-written PL/pgSQL to_jsonb audit trigger.
#
#   bash test/bench/audit_insert.sh
#
# Starts a throwaway instance (port BENCH_PORT, default 55611), makes three
# identical tables (audit_insert_setup.sql): t_none (no trigger), t_plpgsql
# (AFTER ROW trigger inserting to_jsonb(NEW) into a plain table, the usual
# hand-written audit), t_audit (taskforce.enable_audit: entry with salts,
# commitments and leaf hash, written as the extension owner).  Then:
#   - pgbench -M prepared single-row INSERTs, -c 1 and -c 2, BENCH_SECONDS
#     each, BENCH_REPS repetitions in rotating order: median TPS and the
#     ratios to t_none, with durable commits (synchronous_commit = on, the
#     default) and with synchronous_commit = off (commits cost less, so
#     the trigger's share is larger);
#   - INSERT ... SELECT of 20,000, 100,000 and BENCH_ROWS (200,000) rows,
#     BENCH_REPS times per table: median seconds, the ratios to t_none, and
#     microseconds per row at each size (linear: about the same at each).
# Runs as the superuser without a taskforce context (entries have no user).
# Settings: BENCH_SECONDS (5), BENCH_REPS (3), BENCH_ROWS (200000), BENCH_PORT.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

seconds=${BENCH_SECONDS:-5}
reps=${BENCH_REPS:-3}
rows=${BENCH_ROWS:-200000}
port=${BENCH_PORT:-55611}

# fsync on (test instances turn it off): durable commits are what users run.
bench_start_instance audit "$port" "shared_buffers = 256MB" "max_wal_size = 4GB" "fsync = on"
tf_psql "$dir" "$port" -d bench -f "$bench_dir/audit_insert_setup.sql" >/dev/null

variants=(none plpgsql audit)
for v in "${variants[@]}"; do
	printf '\\set n random(1, 1000000)\nINSERT INTO t_%s (tenant_id, n, payload) VALUES (%s, :n, %s);\n' \
		"$v" "'acme'" "'some payload text'" >"$dir/insert_$v.pgbench"
done

run_pgbench() {
	local v=$1 c=$2 sync=$3
	PGOPTIONS="-c synchronous_commit=$sync" \
		pgbench -n -M prepared -c "$c" -j "$c" -T "$seconds" -h "$dir" -p "$port" -U postgres \
		-f "$dir/insert_$v.pgbench" bench 2>&1 | awk '/^tps = / { print $3; exit }'
}

for v in "${variants[@]}"; do run_pgbench "$v" 1 on >/dev/null; done	# warm-up
for sync in on off; do
	for c in 1 2; do
		declare -A res=()
		for ((r = 0; r < reps; r++)); do
			for ((k = 0; k < 3; k++)); do
				v=${variants[$(((k + r) % 3))]}
				res[$v]="${res[$v]:-} $(run_pgbench "$v" "$c" "$sync")"
			done
		done
		# shellcheck disable=SC2086
		{
			none=$(bench_median ${res[none]})
			plp=$(bench_median ${res[plpgsql]})
			aud=$(bench_median ${res[audit]})
		}
		printf 'single-row INSERT, synchronous_commit=%s, pgbench -c %d: median TPS none %.0f, plpgsql %.0f (%.2f), enable_audit %.0f (%.2f)\n' \
			"$sync" "$c" "$none" "$plp" "$(echo "$plp / $none" | bc -l)" "$aud" "$(echo "$aud / $none" | bc -l)"
		unset res
	done
done

bulk() {
	local v=$1 n=$2 start end
	start=$(date +%s.%N)
	tf_psql "$dir" "$port" -d bench -c "INSERT INTO t_$v (tenant_id, n, payload) SELECT 'acme', g, 'some payload text' FROM generate_series(1, $n) AS g" >/dev/null
	end=$(date +%s.%N)
	echo "$end - $start" | bc -l
}
for n in 20000 100000 "$rows"; do
	declare -A bres=()
	for ((r = 0; r < reps; r++)); do
		for v in "${variants[@]}"; do bres[$v]="${bres[$v]:-} $(bulk "$v" "$n")"; done
	done
	# shellcheck disable=SC2086
	{
		none=$(bench_median ${bres[none]})
		plp=$(bench_median ${bres[plpgsql]})
		aud=$(bench_median ${bres[audit]})
	}
	printf 'INSERT ... SELECT %d rows: median s none %.3f, plpgsql %.3f (%.2f), enable_audit %.3f (%.2f); us/row %.2f, %.2f, %.2f\n' \
		"$n" "$none" "$plp" "$(echo "$none / $plp" | bc -l)" "$aud" "$(echo "$none / $aud" | bc -l)" \
		"$(echo "$none * 1000000 / $n" | bc -l)" "$(echo "$plp * 1000000 / $n" | bc -l)" "$(echo "$aud * 1000000 / $n" | bc -l)"
	unset bres
done
tf_psql "$dir" "$port" -d bench -At -c "SELECT 'audit entries written: ' || count(*) FROM taskforce.audit_log"
