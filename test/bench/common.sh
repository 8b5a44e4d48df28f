# shellcheck shell=bash
# test/bench/common.sh: shared helpers for the benchmarks in test/bench/
# (sourced, not run).  Sources test/lib.sh for tf_start_instance & co.
#
# bench_reexec_unprivileged SCRIPT ARGS...
#   when run as root, copies test/ to a temporary directory owned by the
#   unprivileged user "postgres", runs SCRIPT from there as that user (the
#   server refuses to run as root), removes the copy and exits with the
#   script's status.  Does nothing for any other user.
# bench_median NUMBER...
#   prints the median of the numbers (the mean of the middle two for an
#   even count).
# bench_psql_as ROLE DIR PORT [psql args...]
#   psql against the instance as ROLE, stopping on the first error.
# bench_start_instance NAME PORT [setting...]
#   starts a throwaway instance in a new directory, stored in $dir and
#   removed on exit, with parallel query, JIT and autovacuum off (and any
#   further settings), and creates the database "bench" in it.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib.sh
. "$bench_root/test/lib.sh"

bench_reexec_unprivileged() {
	local script=$1
	shift
	[ "$(id -u)" = 0 ] || return 0
	local status
	bench_copy=$(mktemp -d /tmp/taskforce-bench.XXXXXX)
	trap 'rm -rf "$bench_copy"' EXIT
	cp -a "$bench_root/test" "$bench_copy/"
	chown -R postgres "$bench_copy"
	set +e
	runuser -u postgres -- env PG_CONFIG="$PG_CONFIG" \
		bash "$bench_copy/test/bench/$(basename "$script")" "$@"
	status=$?
	exit $status
}

bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_psql_as() {
	local role=$1 dir=$2 port=$3
	shift 3
	psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$role" "$@"
}

bench_start_instance() {
	local name=$1 port=$2
	shift 2
	dir=$(mktemp -d "/tmp/tf-bench-$name.XXXXXX")
	# shellcheck disable=SC2317  # called by the trap
	bench_cleanup() {
		tf_stop_instance "$dir"
		rm -rf "$dir"
	}
	trap bench_cleanup EXIT
	echo "== starting a throwaway instance on port $port"
	tf_start_instance "$dir" "$port" \
		"max_parallel_workers_per_gather = 0" \
		"jit = off" \
		"autovacuum = off" \
		"$@"
	tf_psql "$dir" "$port" -d postgres -c "CREATE DATABASE bench"
}
