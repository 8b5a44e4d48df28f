#!/usr/bin/env bash
# test/bench/jwt_verify.sh: per-call cost of taskforce.verify_jwt() on a
# ~335-byte HS256 token, warm (the same token on every call) and cold (a
# token it has not seen on every call), against two pgjwt-style verifiers
# and against pgcrypto's hmac() alone.
#
#   bash test/bench/jwt_verify.sh
#
# Starts a throwaway PostgreSQL 15 instance (taskforce preloaded, port 55604
# on 127.0.0.1, removed on exit; max_parallel_workers_per_gather = 0 and
# jit = off for stable numbers), configures an HS256 issuer and key and
# mints with taskforce.mint_jwt() one token and BENCH_COLD_ROWS distinct
# tokens of the same length (claims sub, tenant_id, aud, roles and a
# six-digit jti, plus iss, iat and exp; jwt_verify_setup.sql).  As an
# ordinary LOGIN role (member of taskforce_admin, not superuser) it times
#   (a-warm) SELECT count(taskforce.verify_jwt(CASE WHEN g > 0 THEN <token> END))
#              FROM generate_series(1, N) AS g
#            the same token on every row, as a pooled backend sees a client
#            that reuses its bearer token: verify_jwt remembers tokens that
#            verified (512 at most, per backend) and, for one it has seen,
#            checks only exp, nbf, iat and the key's validity again
#   (a-cold) SELECT count(taskforce.verify_jwt(c.token)) FROM bench_jwt_cold AS c
#            BENCH_COLD_ROWS (> 512) distinct tokens, each once per pass, so
#            every call misses: parse with PostgreSQL's JSON parser, HMAC
#            with OpenSSL, check kid, alg, iss, aud, exp, nbf and iat,
#            convert the claims to jsonb, and remember the token
#   (b)      bench_pgjwt_verify(token, key): a lean version of the steps of
#            pgjwt's verify() in PL/pgSQL and SQL (split, base64url-decode,
#            pgcrypto hmac(), compare, ::json, nbf/exp against now())
#   (b-pgjwt) bench_pgjwt_real_verify(token, key): pgjwt's verify() in its
#            own shape (regexp_split_to_array, url_decode and
#            try_cast_double in PL/pgSQL, algorithm_sign with hmac() and
#            url_encode, tstzrange(to_timestamp(nbf), to_timestamp(exp)) @>
#            now()), called in FROM; both over BENCH_BASELINE_ROWS rows warm
#            and over the distinct tokens cold (neither remembers anything)
#   (c)      pgcrypto's hmac(<signing input>, <key>, 'sha256') alone: the
#            HMAC that any verifier must compute, over the same signing
#            input warm and over the distinct tokens' signing inputs cold
# plus a bare count of the token(s) and, for reference, the payload::jsonb
# conversion that (a-cold) includes.  Warm, every variant gets its argument
# through the same CASE, so it runs once per row.  7 interleaved
# repetitions of all eleven queries, wall-clock time from clock_timestamp()
# around each query (jwt_verify_run.sql).  Prints each query's median,
# calls/s and us per call, and the speed ratios, from the medians and
# paired within rounds: warm (a)/(c) (target >= 1), (a)/(b) and
# (a)/(b-pgjwt) (target >= 14); cold the same three (no target); and
# (a-warm)/(a-cold).
#
# Then (d), per transaction, with pgbench -M prepared -c 1: BEGIN;
# taskforce.authenticate_jwt(token); current_user_id(); COMMIT against the
# same transaction with act_as() instead (jwt_verify_authenticate.pgbench,
# jwt_verify_act_as.pgbench), BENCH_REPS rounds of BENCH_AUTH_SECONDS
# each, alternating; prints the median TPS, the difference in us per
# transaction (what logging in with a token costs) and the ratio of the
# medians (target: authenticate_jwt >= 0.8 x act_as).  BENCH_AUTH_SECONDS=0
# skips (d).
#
# Settings (environment): BENCH_ROWS (200000, warm), BENCH_BASELINE_ROWS
# (20000, warm (b) and (b-pgjwt)), BENCH_COLD_ROWS (20000 distinct tokens,
# at most 999999), BENCH_REPS (7), BENCH_AUTH_SECONDS (3), BENCH_PORT
# (55604), BENCH_SKIP_VERIFY (1 skips the per-call timings (a) to (c) and
# runs only (d)).  About a minute with defaults.  Run as root it re-runs
# itself as the user "postgres" from a temporary copy of test/; otherwise
# it needs only taskforce installed.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

rows=${BENCH_ROWS:-200000}
baseline_rows=${BENCH_BASELINE_ROWS:-20000}
cold_rows=${BENCH_COLD_ROWS:-20000}
reps=${BENCH_REPS:-7}
auth_seconds=${BENCH_AUTH_SECONDS:-3}
port=${BENCH_PORT:-55604}

# verify_jwt remembers at most 512 tokens; the jti has six digits.
if [ "$cold_rows" -le 512 ] || [ "$cold_rows" -gt 999999 ]; then
	echo "BENCH_COLD_ROWS must be between 513 and 999999 (every cold call must miss)" >&2
	exit 2
fi

bench_start_instance jwt "$port"

echo "== configuring an HS256 issuer and key, minting a token and $cold_rows distinct ones"
tf_psql "$dir" "$port" -d bench -v cold="$cold_rows" -f "$bench_dir/jwt_verify_setup.sql" >/dev/null

if [ "${BENCH_SKIP_VERIFY:-0}" != 1 ]; then
	echo "== timing, as role bench ($reps repetitions of each query; warm N = $rows, $baseline_rows for PL/pgSQL;"
	echo "   cold $cold_rows distinct tokens for every variant)"
	bench_psql_as bench "$dir" "$port" -d bench -P border=2 \
		-v n="$rows" -v m="$baseline_rows" -v cold="$cold_rows" -v reps="$reps" \
		-f "$bench_dir/jwt_verify_run.sql"
fi

[ "$auth_seconds" -gt 0 ] || exit 0

token=$(bench_psql_as bench "$dir" "$port" -d bench -At -c "SELECT token FROM bench_jwt")

# run_variant NAME SECONDS: one pgbench run of jwt_verify_NAME.pgbench; prints its TPS.
run_variant() {
	local name=$1 secs=$2 out
	if ! out=$(pgbench -n -M prepared -c 1 -j 1 -T "$secs" -D token="$token" \
		-h "$dir" -p "$port" -U bench -f "$bench_dir/jwt_verify_$name.pgbench" bench 2>&1); then
		echo "pgbench failed for $name:" >&2
		echo "$out" >&2
		return 1
	fi
	echo "$out" | awk '/^tps = / { print $3; exit }'
}

echo
echo "== (d) per transaction: authenticate_jwt against act_as, pgbench -M prepared -c 1,"
echo "   $reps rounds of ${auth_seconds} s each, alternating"
run_variant act_as 1 >/dev/null
run_variant authenticate 1 >/dev/null
declare -a ta tj
for ((rep = 1; rep <= reps; rep++)); do
	if ((rep % 2)); then
		ta+=("$(run_variant act_as "$auth_seconds")")
		tj+=("$(run_variant authenticate "$auth_seconds")")
	else
		tj+=("$(run_variant authenticate "$auth_seconds")")
		ta+=("$(run_variant act_as "$auth_seconds")")
	fi
done
ma=$(bench_median "${ta[@]}")
mj=$(bench_median "${tj[@]}")
line="+--------------------------------------------+------------+-----------+-------------------------------------+"
echo "$line"
printf '| %-42s | %10s | %9s | %-35s |\n' "transaction" "median TPS" "us per tx" "runs (TPS)"
echo "$line"
printf '| %-42s | %10.1f | %9.1f | %-35s |\n' "BEGIN; act_as(); current_user_id(); COMMIT" \
	"$ma" "$(awk -v t="$ma" 'BEGIN { print 1e6 / t }')" "$(printf '%.0f ' "${ta[@]}" | sed 's/ $//')"
printf '| %-42s | %10.1f | %9.1f | %-35s |\n' "BEGIN; authenticate_jwt(); ...; COMMIT" \
	"$mj" "$(awk -v t="$mj" 'BEGIN { print 1e6 / t }')" "$(printf '%.0f ' "${tj[@]}" | sed 's/ $//')"
echo "$line"
echo "authenticate_jwt costs $(awk -v a="$ma" -v j="$mj" 'BEGIN { printf "%.1f", 1e6 / j - 1e6 / a }') us per transaction more than act_as (medians)."
echo "authenticate_jwt / act_as TPS: $(awk -v a="$ma" -v j="$mj" 'BEGIN { printf "%.2f", j / a }') (medians; target >= 0.8)."
