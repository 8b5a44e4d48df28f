#!/usr/bin/env bash
# test/integration/pgbouncer.sh: transaction-scoped contexts behind a real
# pgbouncer in transaction pooling mode.
#
# Many clients run short transactions for two tenants over a pool of two
# server connections, with no reset query between clients.  Every
# transaction must start with no context left over from whichever client
# used the server connection before, and must see exactly its own tenant's
# rows once it has called act_as.  A WITH HOLD cursor cannot carry one
# tenant's rows past its transaction to the next client of the connection.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

PG_PORT=55501
BOUNCER_PORT=55502
BOUNCER=${PGBOUNCER:-/usr/sbin/pgbouncer}
CLIENTS=8
THREADS=2
TX_PER_CLIENT=200
ROWS_PER_TENANT=50
POOL_SIZE=2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tf-pgbouncer.XXXXXX")
bouncer_pid=""
cleanup() {
	if [ -n "$bouncer_pid" ] && kill -0 "$bouncer_pid" 2>/dev/null; then
		kill "$bouncer_pid" 2>/dev/null || true
		wait "$bouncer_pid" 2>/dev/null || true
	fi
	tf_stop_instance "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for log in "$tmp/pgbouncer.log" "$tmp/server.log"; do
		[ -f "$log" ] && { echo "--- tail of $(basename "$log")" >&2; tail -n 20 "$log" >&2; }
	done
	exit 1
}

[ -x "$BOUNCER" ] || fail "pgbouncer not found at $BOUNCER"
command -v pgbench >/dev/null || fail "pgbench not found"

echo "== starting PostgreSQL on 127.0.0.1:$PG_PORT"
tf_start_instance "$tmp" "$PG_PORT" || fail "could not start PostgreSQL"
tf_psql "$tmp" "$PG_PORT" -d postgres -c "CREATE DATABASE app" || fail "createdb"

echo "== setup: extension, roles, two tenants, isolated table items ($ROWS_PER_TENANT rows each)"
tf_psql "$tmp" "$PG_PORT" -d app >/dev/null <<SQL || fail "setup SQL"
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT * FROM taskforce.setup_roles();
CREATE ROLE middleware LOGIN IN ROLE taskforce_admin;
SELECT taskforce.create_tenant('tenant-1', 'Tenant One');
SELECT taskforce.create_tenant('tenant-2', 'Tenant Two', 'professional');

CREATE TABLE items (
    tenant_id text NOT NULL,
    n int NOT NULL,
    PRIMARY KEY (tenant_id, n)
);
SELECT taskforce.enable_tenant_isolation('items');
GRANT SELECT ON items TO taskforce_admin;

-- Which server backend ran each committed transaction (no tenant column,
-- so not under isolation).
CREATE TABLE seen (backend_pid int NOT NULL, tenant text NOT NULL);
GRANT INSERT ON seen TO middleware;

BEGIN;
SELECT taskforce.act_as('tenant-1', 'loader');
INSERT INTO items (n) SELECT g FROM generate_series(1, $ROWS_PER_TENANT) AS g;
COMMIT;
BEGIN;
SELECT taskforce.act_as('tenant-2', 'loader');
INSERT INTO items (n) SELECT g FROM generate_series(1, $ROWS_PER_TENANT) AS g;
COMMIT;
SQL

got=$(tf_psql "$tmp" "$PG_PORT" -d app -At -c \
	"SELECT string_agg(tenant_id || '=' || c, ',' ORDER BY tenant_id)
	   FROM (SELECT tenant_id, count(*) AS c FROM items GROUP BY tenant_id) AS s") || fail "counting rows as superuser"
tf_check "rows per tenant (as superuser)" "tenant-1=$ROWS_PER_TENANT,tenant-2=$ROWS_PER_TENANT" "$got"

echo "== starting pgbouncer on 127.0.0.1:$BOUNCER_PORT (transaction pooling, pool size $POOL_SIZE)"
echo '"middleware" ""' >"$tmp/userlist.txt"
cat >"$tmp/pgbouncer.ini" <<INI
[databases]
app = host=127.0.0.1 port=$PG_PORT dbname=app
; one server connection, so that consecutive clients share it
app_one = host=127.0.0.1 port=$PG_PORT dbname=app pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir = $tmp
auth_type = trust
auth_file = $tmp/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 50
server_reset_query =
server_reset_query_always = 0
ignore_startup_parameters = extra_float_digits
logfile = $tmp/pgbouncer.log
pidfile = $tmp/pgbouncer.pid
INI
"$BOUNCER" "$tmp/pgbouncer.ini" >>"$tmp/pgbouncer.out" 2>&1 &
bouncer_pid=$!

bpsql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BOUNCER_PORT" -U middleware -d app "$@"; }
ready=no
for _ in $(seq 1 50); do
	kill -0 "$bouncer_pid" 2>/dev/null || break
	if bpsql -At -c "SELECT 1" >/dev/null 2>&1; then
		ready=yes
		break
	fi
	sleep 0.2
done
[ "$ready" = yes ] || { cat "$tmp/pgbouncer.out" >&2 || true; fail "pgbouncer did not accept connections"; }

got=$(bpsql -At -c "SELECT current_user || ',' || coalesce(taskforce.current_tenant(), '<none>') || ',' || (SELECT count(*) FROM items)") ||
	fail "first query through pgbouncer"
tf_check "through pgbouncer as middleware with no context: user, tenant, visible rows" "middleware,<none>,0" "$got"

# Each transaction: no leftover context at BEGIN; act_as a random tenant;
# exactly that tenant's rows visible; then COMMIT (or, one time in four,
# ROLLBACK).  An assertion that fails divides by zero, which makes pgbench
# abort that client and exit non-zero.
cat >"$tmp/commit.sql" <<SQL
\set t random(1, 2)
BEGIN;
SELECT 1 / (taskforce.current_tenant() IS NULL AND taskforce.current_user_id() IS NULL
            AND taskforce.current_roles() IS NULL)::int AS no_leftover_context;
SELECT taskforce.act_as('tenant-' || :t, 'user-' || :client_id, ARRAY['client-' || :client_id]);
SELECT 1 / (taskforce.current_tenant() = 'tenant-' || :t
            AND taskforce.current_user_id() = 'user-' || :client_id)::int AS context_is_ours;
SELECT 1 / (count(*) = $ROWS_PER_TENANT
            AND count(*) FILTER (WHERE tenant_id IS DISTINCT FROM 'tenant-' || :t) = 0
            AND count(DISTINCT n) = $ROWS_PER_TENANT)::int AS only_own_rows
  FROM items;
INSERT INTO seen VALUES (pg_backend_pid(), taskforce.current_tenant());
COMMIT;
SQL
cat >"$tmp/rollback.sql" <<SQL
\set t random(1, 2)
BEGIN;
SELECT 1 / (taskforce.current_tenant() IS NULL)::int AS no_leftover_context;
SELECT taskforce.act_as('tenant-' || :t, 'user-' || :client_id);
SELECT 1 / (count(*) = $ROWS_PER_TENANT
            AND count(*) FILTER (WHERE tenant_id IS DISTINCT FROM 'tenant-' || :t) = 0)::int AS only_own_rows
  FROM items;
ROLLBACK;
SQL

expected=$((CLIENTS * TX_PER_CLIENT))
echo "== pgbench through pgbouncer: $CLIENTS clients x $TX_PER_CLIENT transactions, both tenants interleaved"
set +e
timeout 90 pgbench -n -h 127.0.0.1 -p "$BOUNCER_PORT" -U middleware \
	-c "$CLIENTS" -j "$THREADS" -t "$TX_PER_CLIENT" \
	-l --log-prefix="$tmp/txlog" \
	-f "$tmp/commit.sql@3" -f "$tmp/rollback.sql@1" app >"$tmp/pgbench.out" 2>&1
status=$?
set -e
if [ "$status" != 0 ]; then
	cat "$tmp/pgbench.out" >&2
	fail "pgbench exited with status $status"
fi
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$tmp/pgbench.out")
tf_check "pgbench transactions processed" "$expected" "${processed:-<missing>}"
failed_tx=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$tmp/pgbench.out")
tf_check "pgbench failed transactions" "0" "${failed_tx:-0}"
# Which script each transaction ran, from pgbench's per-transaction logs
# (one file per thread; the fourth field is the script number).  The
# per-script totals pgbench prints are not reliable with several threads.
cat "$tmp"/txlog.* >"$tmp/txlog" 2>/dev/null || fail "pgbench wrote no transaction log"
committed=$(awk '$4 == 0 && $3 ~ /^[0-9]+$/' "$tmp/txlog" | wc -l)
rolled_back=$(awk '$4 == 1 && $3 ~ /^[0-9]+$/' "$tmp/txlog" | wc -l)
tf_check "transactions in pgbench's log" "$expected" "$(wc -l <"$tmp/txlog")"
tf_check "committed + rolled back = processed" "$expected" "$((committed + rolled_back))"
[ "$committed" -gt 0 ] && [ "$rolled_back" -gt 0 ] || fail "expected both scripts to run (commit: $committed, rollback: $rolled_back)"
echo "   ($committed committed, $rolled_back rolled back)"

got=$(tf_psql "$tmp" "$PG_PORT" -d app -At -c "SELECT count(*) FROM seen") || fail "counting seen"
tf_check "committed transactions recorded on the server" "$committed" "$got"
got=$(tf_psql "$tmp" "$PG_PORT" -d app -At -c \
	"SELECT count(DISTINCT tenant) = 2 AND count(DISTINCT backend_pid) BETWEEN 1 AND $POOL_SIZE FROM seen") || fail "reading seen"
tf_check "both tenants served over at most $POOL_SIZE server connections" "t" "$got"
got=$(tf_psql "$tmp" "$PG_PORT" -d app -At -c \
	"SELECT bool_and(tenants = 2) FROM (SELECT count(DISTINCT tenant) AS tenants FROM seen GROUP BY backend_pid) AS s") || fail "reading seen"
tf_check "every server connection served both tenants in turn" "t" "$got"
echo "   ($(tf_psql "$tmp" "$PG_PORT" -d app -At -c \
	"SELECT count(DISTINCT backend_pid) || ' server backend(s); per tenant: '
	        || (SELECT string_agg(tenant || '=' || c, ' ' ORDER BY tenant)
	              FROM (SELECT tenant, count(*) AS c FROM seen GROUP BY tenant) AS s)
	   FROM seen"))"

echo "== after the run: fresh transactions through pgbouncer see no context and no rows"
for i in 1 2 3 4; do
	got=$(bpsql -At -F ',' <<'SQL'
BEGIN;
SELECT coalesce(taskforce.current_tenant(), '<none>'),
       coalesce(taskforce.current_user_id(), '<none>'),
       (SELECT count(*) FROM items);
COMMIT;
SQL
	) || fail "fresh transaction $i through pgbouncer"
	tf_check "fresh transaction $i: tenant, user, visible rows" "<none>,<none>,0" "$got"
done

got=$(tf_psql "$tmp" "$PG_PORT" -d app -At -c \
	"SELECT count(*) FROM pg_stat_activity WHERE usename = 'middleware'") || fail "reading pg_stat_activity"
[ "$got" -le "$POOL_SIZE" ] || fail "server has $got connections from middleware, pool size is $POOL_SIZE"
echo "ok: server connections from middleware <= $POOL_SIZE ($got)"

echo "== a WITH HOLD cursor cannot carry tenant-1's rows to the next client of the connection"
# Client 1 serves a tenant-1 request and tries to leave a held cursor behind,
# declared after act_as or before it; client 2, the next client on the same
# (only) server connection, tries to fetch from it by name.
one() { psql -X -q -h 127.0.0.1 -p "$BOUNCER_PORT" -U middleware -d app_one -v VERBOSITY=verbose "$@" 2>&1; }
for order in after before; do
	if [ "$order" = after ]; then
		steps="SELECT taskforce.act_as('tenant-1', 'user-1');
DECLARE leak CURSOR WITH HOLD FOR SELECT tenant_id, n FROM items;"
	else
		steps="DECLARE leak CURSOR WITH HOLD FOR SELECT tenant_id, n FROM items;
SELECT taskforce.act_as('tenant-1', 'user-1');"
	fi
	out=$(one -At <<SQL
SELECT 'backend:' || pg_backend_pid();
BEGIN;
$steps
COMMIT;
SQL
	)
	out1=$out
	pid1=$(echo "$out" | sed -n 's/^backend://p')
	out=$(one -At <<'SQL'
SELECT 'backend:' || pg_backend_pid();
BEGIN;
SELECT taskforce.act_as('tenant-2', 'user-2');
FETCH ALL FROM leak;
COMMIT;
SQL
	)
	pid2=$(echo "$out" | sed -n 's/^backend://p')
	tf_check "client 2 runs on client 1's server connection" "$pid1" "$pid2"
	grep <<<"$out" -q "tenant-1" && fail "client 2 fetched tenant-1's rows: $out"
	grep <<<"$out" -q 'ERROR:  34000: cursor "leak" does not exist' ||
		fail "client 2: expected cursor \"leak\" not to exist, got: $out"
	echo "ok: client 2 finds no cursor \"leak\" (34000) and no tenant-1 row"
	echo "$out1" | grep -q "ERROR:  0A000: cannot .*WITH HOLD" ||
		fail "client 1 (held cursor declared $order act_as) was not refused with 0A000: $out1"
	echo "ok: client 1 was refused with 0A000 (held cursor declared $order act_as)"
done

echo "PASS: pgbouncer transaction pooling keeps contexts and rows apart"
