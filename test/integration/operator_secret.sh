#!/usr/bin/env bash
# test/integration/operator_secret.sh: with an operator-supplied
# taskforce.context_secret, contexts work in parallel plans, and no error or
# log line ever shows a signed context value.
#
# PostgreSQL restores a parallel worker's settings in name order, so
# taskforce.context arrives before taskforce.context_secret; a worker that
# re-verified the value at that point would refuse it (and PostgreSQL's
# error context would print the value).  Here an application role, under a
# context established by middleware, reads an isolated table through
# parallel plans (workers evaluating the tenant policy), with transaction-
# and session-scoped contexts, and again after the operator rotates the
# secret.  Then the pg_regress suites run against this server, with the
# operator secret and every parallel-safe query forced into a worker.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

here=$(cd "$(dirname "$0")/../.." && pwd)
port=55571
ROWS=20000
dir=$(mktemp -d "${TMPDIR:-/tmp}/tf-secret.XXXXXX")
trap 'tf_stop_instance "$dir"; rm -rf "$dir"' EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$dir/server.log" ] && { echo "--- tail of server.log" >&2; tail -n 20 "$dir/server.log" >&2; }
	exit 1
}

secret() { head -c 48 /dev/urandom | base64 | tr -d '/+=' | head -c 40; }

tf_start_instance "$dir" "$port" \
	"taskforce.context_secret = '$(secret)'" \
	"max_worker_processes = 16" \
	"max_parallel_workers = 8" \
	"max_parallel_workers_per_gather = 2" \
	"force_parallel_mode = regress" \
	"parallel_setup_cost = 0" \
	"parallel_tuple_cost = 0" \
	"min_parallel_table_scan_size = 0" \
	"log_min_messages = info" || fail "could not start PostgreSQL"

tf_psql "$dir" "$port" -d postgres -c "CREATE DATABASE app" >/dev/null
tf_psql "$dir" "$port" -d app >/dev/null <<SQL || fail "setup SQL"
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE os_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('os-a', 'Tenant A');
SELECT count(*) FROM taskforce.create_tenant('os-b', 'Tenant B');
CREATE TABLE items (tenant_id text NOT NULL, n int NOT NULL, PRIMARY KEY (tenant_id, n));
SELECT taskforce.enable_tenant_isolation('items');
GRANT SELECT ON items TO taskforce_app;
BEGIN;
SELECT taskforce.act_as('os-a', 'loader');
INSERT INTO items (n) SELECT g FROM generate_series(1, $ROWS) AS g;
COMMIT;
BEGIN;
SELECT taskforce.act_as('os-b', 'loader');
INSERT INTO items (n) SELECT g FROM generate_series(1, $ROWS / 2) AS g;
COMMIT;
VACUUM ANALYZE items;
SQL

# psql -At, without the empty lines of functions returning void.
q() { tf_psql "$dir" "$port" -d app -At "$@" 2>&1 | sed '/^$/d'; }

# One row: visible rows, rows of another tenant, and the tenant the workers
# saw, from a query whose plan puts the scan and the policy in workers.
read_as_app=$(cat <<'SQL'
SET LOCAL ROLE os_app;
SELECT count(*) || ',' || count(*) FILTER (WHERE tenant_id <> taskforce.current_tenant())
       || ',' || coalesce(min(taskforce.current_tenant()), '<none>')
  FROM items;
SQL
)
plan_as_app=$(cat <<'SQL'
SET LOCAL ROLE os_app;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM items;
SQL
)

echo "== the plan runs in parallel workers"
plan=$(q -c "BEGIN" -c "SELECT taskforce.act_as('os-a', 'alice')" \
	-c "$plan_as_app" -c "COMMIT") || fail "EXPLAIN ANALYZE as os_app: $plan"
grep <<<"$plan" -q "Parallel Seq Scan on items" || fail "no parallel scan in the plan: $plan"
grep <<<"$plan" -Eq "Workers Launched: [1-9]" || fail "no worker launched: $plan"
echo "ok: Parallel Seq Scan with $(echo "$plan" | sed -n 's/.*Workers Launched: \([0-9]*\).*/\1/p' | head -n 1) worker(s) launched"

echo "== transaction-scoped contexts in parallel plans"
got=$(q -c "BEGIN" -c "SELECT taskforce.act_as('os-a', 'alice')" \
	-c "$read_as_app" -c "COMMIT") || fail "parallel read as os_app under os-a: $got"
tf_check "os-a through parallel workers: rows, foreign rows, tenant" "$ROWS,0,os-a" "$got"
got=$(q -c "BEGIN" -c "SELECT taskforce.act_as('os-b', 'bob')" \
	-c "$read_as_app" -c "COMMIT") || fail "parallel read as os_app under os-b: $got"
tf_check "os-b through parallel workers: rows, foreign rows, tenant" "$((ROWS / 2)),0,os-b" "$got"
got=$(q -c "BEGIN" -c "$read_as_app" -c "COMMIT") ||
	fail "parallel read as os_app with no context: $got"
tf_check "no context through parallel workers: rows, foreign rows, tenant" "0,0,<none>" "$got"

echo "== a context from an API key, established by the application role itself"
key=$(q <<'SQL'
SELECT count(*) FROM taskforce.create_user('svc', 'svc', kind => 'service', tenant_id => 'os-b') \g /dev/null
SELECT api_key FROM taskforce.create_api_key('svc', 'parallel reads', tenant_id => 'os-b');
SQL
) || fail "creating an API key: $key"
got=$(echo "BEGIN;
SELECT taskforce.authenticate_api_key(:'key');
$(echo "$read_as_app" | grep -v '^SET LOCAL ROLE')
COMMIT;" | psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U os_app -d app -At -v key="$key" 2>&1 | sed '/^$/d') ||
	fail "parallel read as os_app after authenticate_api_key: $got"
tf_check "os-b by API key through parallel workers: rows, foreign rows, tenant" "$((ROWS / 2)),0,os-b" "$got"

echo "== a session-scoped context, before and after the operator rotates the secret"
new_secret=$(secret)
got=$(q <<SQL
SELECT taskforce.act_as('os-a', 'alice', scope => 'session');
BEGIN;
$read_as_app
COMMIT;
ALTER SYSTEM SET taskforce.context_secret = '$new_secret';
SELECT 'reload:' || pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT 'rotated:' || (current_setting('taskforce.context_secret') = '$new_secret');
BEGIN;
$read_as_app
COMMIT;
BEGIN;
SELECT taskforce.act_as('os-b', 'bob');
$read_as_app
COMMIT;
SQL
) || fail "session context around a secret rotation: $got"
tf_check "session context, rotation, new transaction context" \
	"$ROWS,0,os-a reload:true rotated:true $ROWS,0,os-a $((ROWS / 2)),0,os-b" "$(echo "$got" | tr '\n' ' ' | sed 's/ $//')"
# (PostgreSQL itself logs a reloaded setting's new value, "parameter ...
# changed to ...": docs/context.md tells operators to rotate by restart or
# to protect the log like the configuration.)

echo "== no error or log line shows a signed value"
# A genuine value, read by a superuser, replayed in another session: refused,
# and the error names no value.
value=$(q -c "BEGIN" \
	-c "SELECT taskforce.act_as('os-a', 'alice')" -c "SELECT current_setting('taskforce.context')" -c "COMMIT")
case "$value" in v1.*.*) ;; *) fail "could not read a signed value: $value" ;; esac
grep -qF "$value" "$dir/server.log" && fail "the server log shows a signed value before any replay"
echo "ok: the server log shows no signed value after the parallel reads"
for stmt in "SELECT set_config('taskforce.context', :'v', false)" "SET taskforce.context = :'v'"; do
	set +e
	out=$(echo "$stmt;" | psql -X -h "$dir" -p "$port" -U os_app -d app -v VERBOSITY=verbose \
		-v v="$value" 2>&1)
	set -e
	grep <<<"$out" -q "ERROR:  42501: taskforce.context cannot be set directly" ||
		fail "replay as os_app ($stmt) was not refused with 42501: $out"
	grep <<<"$out" -qF "${value:3:40}" && fail "the error for the replayed value shows it: $out"
	echo "ok: replay as os_app refused with 42501, the error shows no value ($stmt)"
done

echo "== pg_regress suites with the operator secret and force_parallel_mode = regress"
suites=$(sed -n 's/^REGRESS = //p' "$here/Makefile")
pg_regress=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
mkdir -p "$dir/regress"
# A fresh instance of pg_regress's own, since the suites make cluster-wide
# roles; its configuration is the suites' usual one plus the secret and the
# parallel settings of this server.
{
	cat "$here/test/taskforce.conf"
	grep -E "^(taskforce.context_secret|max_parallel_workers_per_gather|force_parallel_mode|parallel_setup_cost|parallel_tuple_cost|min_parallel_table_scan_size) " \
		"$dir/data/postgresql.conf"
} >"$dir/regress.conf"
set +e
env -u PGOPTIONS "$pg_regress" --temp-instance="$dir/regress/instance" --temp-config="$dir/regress.conf" \
	--inputdir="$here" --outputdir="$dir/regress" --dbname=contrib_regression \
	$suites >"$dir/regress/out.log" 2>&1
status=$?
set -e
cat "$dir/regress/out.log"
if [ $status != 0 ]; then
	cat "$dir/regress/regression.diffs" 2>/dev/null || true
	fail "pg_regress suites failed with the operator secret"
fi
echo "PASS: an operator secret works with parallel plans, and no value is shown"
