#!/usr/bin/env bash
# test/bench/audit_sealer.sh: the background sealer's maximum merge delay
# (the time from an entry's commit to the commit of the checkpoint that
# seals it) under a pgbench load of audited single-row INSERTs, and what
# the sealer costs the writers: TPS with the sealer on against off.
#
#   bash test/bench/audit_sealer.sh
#
# Starts a throwaway instance (port BENCH_PORT, default 55632) with
# track_commit_timestamp on, so that both ends of the delay are commit
# timestamps: pg_xact_commit_timestamp of the entry's txid, and of the xmin
# of the audit_checkpoints row whose tree size is the seal_id of the
# entry's audit_sealed_transactions row (the seal's own commit: when the
# checkpoint becomes visible).  For each interval of BENCH_INTERVALS, in
# BENCH_REPS repetitions, side by side in alternating order:
#   - on:  taskforce.audit_seal_interval = the interval (reload), pgbench
#          -c BENCH_CLIENTS for BENCH_SECONDS; then it waits for the sealer
#          to seal everything and measures each transaction's delay;
#   - off: interval 0, the same pgbench; then seal_audit() catches up
#          (not timed).
# Prints per run the TPS and the median, 99th percentile and maximum delay
# and the longest seal (checkpoint commit - sealed_at); then medians over
# the runs, the maximum over all runs and the TPS ratio on/off (of the
# medians, and the median of each run's on/off ratio).
# Then, for a steadier TPS ratio on a busy machine, one pgbench run per
# interval with the sealer switched on and off every 5 s (BENCH_SLICED_SECONDS,
# default 60), per-second TPS attributed to its phase.
# A last run (BENCH_LONG_MS, default 2000; 0 skips it) adds a client that
# holds a write transaction open for that long, then pauses 1 s, in another
# database: the delay then grows by about that much (the seal boundary is
# the cluster-wide snapshot xmin).
# Settings: BENCH_SECONDS (10), BENCH_REPS (5), BENCH_CLIENTS (2),
# BENCH_INTERVALS ("1000 200", ms), BENCH_LONG_MS (2000), BENCH_PORT.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

seconds=${BENCH_SECONDS:-10}
reps=${BENCH_REPS:-5}
clients=${BENCH_CLIENTS:-2}
intervals=${BENCH_INTERVALS:-1000 200}
long_ms=${BENCH_LONG_MS:-2000}
port=${BENCH_PORT:-55632}

bench_start_instance sealer "$port" "shared_buffers = 256MB" "synchronous_commit = off" \
	"track_commit_timestamp = on"
q() { tf_psql "$dir" "$port" -d bench -At "$@"; }
q -f "$bench_dir/audit_insert_setup.sql" >/dev/null
tf_psql "$dir" "$port" -d postgres -c "CREATE TABLE public.long_writer (n integer)" >/dev/null
printf '\\set n random(1, 1000000)\nINSERT INTO t_audit (tenant_id, n, payload) VALUES (%s, :n, %s);\n' \
	"'acme'" "'some payload text'" >"$dir/insert.pgbench"

set_interval() {
	q -c "ALTER SYSTEM SET taskforce.audit_seal_interval = $1" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.3
}
run_pgbench() {
	pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -h "$dir" -p "$port" -U postgres \
		-f "$dir/insert.pgbench" bench 2>&1 | awk '/^tps = / { print $3; exit }'
}
next_txid() { q -c "SELECT pg_current_xact_id()::text"; }
unsealed_since() {
	q -c "SELECT count(*) FROM taskforce.audit_log AS e WHERE e.txid > $1
	        AND NOT EXISTS (SELECT FROM taskforce.audit_sealed_transactions AS s WHERE s.txid = e.txid)"
}
# delays LO: "median p99 max longest-seal count" in ms, of the transactions after txid LO.
delays() {
	q -F ' ' <<SQL
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 1),
       round(max(d)::numeric, 1),
       round(max(seal)::numeric, 1),
       count(*)
  FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(c.xmin)
                                - pg_xact_commit_timestamp((s.txid % 4294967296)::text::xid)) * 1000 AS d,
               extract(epoch FROM pg_xact_commit_timestamp(c.xmin) - c.sealed_at) * 1000 AS seal
          FROM taskforce.audit_sealed_transactions AS s
          JOIN taskforce.audit_checkpoints AS c ON c.tree_size = s.seal_id
         WHERE s.txid > $1) AS x;
SQL
}

# on INTERVAL: one timed run with the sealer on; prints "tps median p99 max seal count".
run_on() {
	local lo tps start
	set_interval "$1"
	lo=$(next_txid)
	tps=$(run_pgbench)
	start=$SECONDS
	while [ "$(unsealed_since "$lo")" != 0 ]; do
		[ $((SECONDS - start)) -lt 60 ] || { echo "the sealer did not catch up" >&2; exit 1; }
		sleep 0.2
	done
	echo "$tps $(delays "$lo")"
}
run_off() {
	local tps
	set_interval 0
	tps=$(run_pgbench)
	q -c "SELECT count(*) FROM taskforce.seal_audit()" >/dev/null
	echo "$tps"
}

echo "== $clients pgbench clients, audited single-row INSERTs, ${seconds} s per run, $reps runs per side"
run_off >/dev/null	# warm-up
for interval in $intervals; do
	on_tps=() off_tps=() med=() p99=() max=() seal=() ratios=()
	for ((r = 0; r < reps; r++)); do
		if ((r % 2 == 0)); then
			read -r t m p x s n < <(run_on "$interval")
			off=$(run_off)
		else
			off=$(run_off)
			read -r t m p x s n < <(run_on "$interval")
		fi
		on_tps+=("$t") off_tps+=("$off") med+=("$m") p99+=("$p") max+=("$x") seal+=("$s")
		ratios+=("$(echo "$t / $off" | bc -l)")
		printf 'interval %s ms, run %d: on %.0f TPS (%d transactions: delay median %s ms, p99 %s ms, max %s ms; longest seal %s ms), off %.0f TPS\n' \
			"$interval" "$((r + 1))" "$t" "$n" "$m" "$p" "$x" "$s" "$off"
	done
	on=$(bench_median "${on_tps[@]}")
	offm=$(bench_median "${off_tps[@]}")
	maxall=$(printf '%s\n' "${max[@]}" | sort -g | tail -n 1)
	sealall=$(printf '%s\n' "${seal[@]}" | sort -g | tail -n 1)
	printf 'interval %s ms: merge delay median %s ms (median of runs), p99 %s ms, max %s ms over all runs (bound: interval + longest seal %s ms + longest transaction); TPS on %.0f / off %.0f = %.3f, median of the per-run ratios %.3f\n' \
		"$interval" "$(bench_median "${med[@]}")" "$(bench_median "${p99[@]}")" "$maxall" "$sealall" \
		"$on" "$offm" "$(echo "$on / $offm" | bc -l)" "$(bench_median "${ratios[@]}")"
done

# interleaved INTERVAL: one pgbench run of BENCH_SLICED_SECONDS with the
# sealer switched on and off every 5 s; pgbench's per-second progress
# (epoch timestamps) is attributed to the phase it falls in, skipping each
# phase's first 2 s (the switch, and the seal of what the off phase left).
# Prints "median-TPS-on median-TPS-off seconds-on seconds-off".
interleaved() {
	local interval=$1 total=${BENCH_SLICED_SECONDS:-60} pid i
	: >"$dir/phases"
	pgbench -n -M prepared -c "$clients" -j "$clients" -T "$total" -P 1 --progress-timestamp \
		-h "$dir" -p "$port" -U postgres -f "$dir/insert.pgbench" bench >/dev/null 2>"$dir/progress" &
	pid=$!
	for ((i = 0; i < total / 5; i++)); do
		if ((i % 2 == 0)); then v=$interval; else v=0; fi
		q -c "ALTER SYSTEM SET taskforce.audit_seal_interval = $v" -c "SELECT pg_reload_conf()" >/dev/null
		echo "$(date +%s.%N) $v" >>"$dir/phases"
		sleep 5
	done
	wait "$pid"
	set_interval "$interval"
	awk -v skip=2 '
		NR == FNR { start[NR] = $1; val[NR] = $2; n = NR; next }
		/^progress: / {
			t = $2 + 0; tps = $4 + 0
			for (k = n; k >= 1; k--) if (start[k] <= t - 1) break
			if (k < 1 || t - 1 < start[k] + skip || (k < n && t > start[k + 1])) next
			print (val[k] == 0 ? "off" : "on"), tps
		}' "$dir/phases" "$dir/progress" >"$dir/attributed"
	echo "$(bench_median $(awk '$1 == "on" { print $2 }' "$dir/attributed")) $(bench_median $(awk '$1 == "off" { print $2 }' "$dir/attributed")) $(grep -c '^on' "$dir/attributed") $(grep -c '^off' "$dir/attributed")"
}
for interval in $intervals; do
	read -r on off non noff < <(interleaved "$interval")
	printf 'interval %s ms, interleaved 5 s on / 5 s off in one pgbench run: median TPS on %.0f (%d s), off %.0f (%d s): %.3f\n' \
		"$interval" "$on" "$non" "$off" "$noff" "$(echo "$on / $off" | bc -l)"
done

if [ "$long_ms" != 0 ]; then
	interval=${intervals%% *}
	(
		while :; do
			tf_psql "$dir" "$port" -d postgres -c "BEGIN; INSERT INTO public.long_writer VALUES (1); SELECT pg_sleep($long_ms / 1000.0); COMMIT;" >/dev/null
			sleep 1
		done
	) &
	long_pid=$!
	read -r t m p x s n < <(run_on "$interval")
	kill "$long_pid" 2>/dev/null || true
	wait "$long_pid" 2>/dev/null || true
	printf 'interval %s ms with a %s ms write transaction (then 1 s pause, repeated) in another database: %.0f TPS, delay median %s ms, p99 %s ms, max %s ms (longest seal %s ms)\n' \
		"$interval" "$long_ms" "$t" "$m" "$p" "$x" "$s"
fi
q -c "SELECT 'verify_audit: ' || string_agg(kind || ' ' || detail, '; ') FROM taskforce.verify_audit()"
