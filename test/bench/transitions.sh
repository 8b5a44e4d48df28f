#!/usr/bin/env bash
# test/bench/transitions.sh: what the state machine trigger costs an UPDATE
# of the state column, against no trigger and a PL/pgSQL equivalent.
#
#   bash test/bench/transitions.sh
#
# Starts a throwaway instance (port BENCH_PORT, default 55613) and makes
# three identical tables of BENCH_ROWS (100,000) rows (transitions_setup.sql):
# t_none (no trigger), t_engine (attach_state_machine: the C trigger of
# src/lifecycle/machine.c) and t_plpgsql (a PL/pgSQL trigger with the same
# checks and the same audit entry through taskforce._audit_write_event).
# The machine is a <-> b, permissionless.  Each run is BENCH_ROWS single-row
# UPDATE statements (a PL/pgSQL loop, one transaction), each a transition
# (state flips a <-> b); BENCH_REPS (3) runs per table in rotating order,
# timed with clock_timestamp().  Prints the median ms, microseconds per
# UPDATE and the ratios to no trigger, then the same for UPDATEs that keep
# the state (SET state = state, payload = payload: the trigger's fast path).
# Runs as the superuser without a taskforce context.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

rows=${BENCH_ROWS:-100000}
reps=${BENCH_REPS:-3}
port=${BENCH_PORT:-55613}

bench_start_instance transitions "$port" "shared_buffers = 256MB" "max_wal_size = 4GB"
tf_psql "$dir" "$port" -d bench -v rows="$rows" -f "$bench_dir/transitions_setup.sql" >/dev/null

variants=(none engine plpgsql)
run() {
	local kind=$1 v=$2
	tf_psql "$dir" "$port" -d bench -At -c "SELECT round(public.bench_time('SELECT public.${kind}_${v}($rows)', $rows)::numeric, 1)"
}

for kind in flip touch; do
	run "$kind" none >/dev/null	# warm-up (caches, the plans of the loops)
	run "$kind" engine >/dev/null
	run "$kind" plpgsql >/dev/null
	declare -A res=()
	for ((r = 0; r < reps; r++)); do
		for ((k = 0; k < 3; k++)); do
			v=${variants[$(((k + r) % 3))]}
			res[$v]="${res[$v]:-} $(run "$kind" "$v")"
		done
	done
	# shellcheck disable=SC2086
	{
		none=$(bench_median ${res[none]})
		eng=$(bench_median ${res[engine]})
		plp=$(bench_median ${res[plpgsql]})
	}
	if [ "$kind" = flip ]; then what="transitions (a <-> b)"; else what="updates keeping the state"; fi
	printf '%d single-row UPDATEs, %s: median ms no trigger %.1f, C engine %.1f, PL/pgSQL %.1f\n' \
		"$rows" "$what" "$none" "$eng" "$plp"
	printf '  us/UPDATE %.2f, %.2f, %.2f; engine/no trigger %.2f, PL/pgSQL/no trigger %.2f, PL/pgSQL/engine %.2f\n' \
		"$(echo "$none * 1000 / $rows" | bc -l)" "$(echo "$eng * 1000 / $rows" | bc -l)" \
		"$(echo "$plp * 1000 / $rows" | bc -l)" "$(echo "$eng / $none" | bc -l)" \
		"$(echo "$plp / $none" | bc -l)" "$(echo "$plp / $eng" | bc -l)"
	unset res
done
tf_psql "$dir" "$port" -d bench -At -c "SELECT 'transition entries written: ' || count(*) FROM taskforce.audit_log WHERE event_type = 'transition'"
